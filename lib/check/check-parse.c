/*
 * check-parse: the check module's parsers of what other programs wrote:
 * crontab lines, a process's command line, queue-file names and the
 * shell assignments of Debian's sendmail.conf (check.h, check-private.h).
 */
#include "config.h"

#include "check/check-private.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "queue/qid.h"
#include "queue/qlist.h"
#include "util/xalloc.h"

/* ------------------------------------------------------- pure helpers */

/* "2770" (the permission and set-id bits, octal). */
void
check_mode_str(mode_t mode, char buf[8])
{
	snprintf(buf, 8, "%04o", (unsigned)(mode & 07777));
}

bool
check_yesno(const char *v)
{
	return v != NULL && (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
	    strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0);
}

static const char *
ck_basename(const char *p)
{
	const char *s = strrchr(p, '/');

	return s != NULL ? s + 1 : p;
}

/* A command word that names sendmail: sendmail, sendmail-msp (Debian's
 * MSP), sendmail.sendmail (the alternatives' name), by any path. */
static bool
ck_is_sendmail(const char *word)
{
	return strncmp(ck_basename(word), "sendmail", 8) == 0;
}

/* Words of a command: sendmail followed, anywhere after it, by -Ac and by
 * a -q option (-q, -q30m, -qf, -qp...). */
static bool
ck_words_run_client_queue(char **w, size_t n)
{
	bool seen = false, ac = false, q = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!seen) {
			seen = ck_is_sendmail(w[i]);
			continue;
		}
		if (strcmp(w[i], "-Ac") == 0)
			ac = true;
		else if (strncmp(w[i], "-q", 2) == 0)
			q = true;
	}
	return ac && q;
}

enum check_cron_kind
check_cron_line(const char *line)
{
	char *copy, *save = NULL, *t, **w = NULL;
	size_t n = 0, cap = 0;
	enum check_cron_kind kind = CHECK_CRON_NONE;
	const char *p = line;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '#' || *p == '\0')
		return CHECK_CRON_NONE;
	/* An environment setting: NAME=value before any blank. */
	{
		size_t k = strcspn(p, " \t=");

		if (p[k] == '=' && k > 0)
			return CHECK_CRON_NONE;
	}
	copy = xstrdup(p);
	for (t = strtok_r(copy, " \t\r\n;&|()", &save); t != NULL;
	    t = strtok_r(NULL, " \t\r\n;&|()", &save)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			w = xreallocarray(w, cap, sizeof *w);
		}
		w[n++] = t;
		/* Debian's wrapper: "/usr/share/sendmail/sendmail cron-msp". */
		if (strcmp(t, "cron-msp") == 0)
			kind = CHECK_CRON_DEBIAN;
	}
	if (kind == CHECK_CRON_NONE && ck_words_run_client_queue(w, n))
		kind = CHECK_CRON_SENDMAIL;
	free(w);
	free(copy);
	return kind;
}

bool
check_cmdline_runner(const char *cmdline, size_t len, const char *qdir)
{
	char *buf, **w = NULL;
	size_t n = 0, cap = 0, i;
	bool match = false;

	if (len == 0)
		return false;
	buf = xmalloc(len + 1);
	memcpy(buf, cmdline, len);
	buf[len] = '\0';
	for (i = 0; i < len;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			w = xreallocarray(w, cap, sizeof *w);
		}
		w[n++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	match = ck_words_run_client_queue(w, n);
	/* sendmail overwrites its arguments with a title (Linux: in
	 * /proc/PID/cmdline too): "sendmail: Queue runner@00:30:00 for
	 * /var/spool/clientmqueue", the NULs after it turned to blanks or
	 * padding. */
	if (!match && qdir != NULL) {
		char *title = buf, *s;
		size_t tl, ql = strlen(qdir);

		for (i = 0; i < len; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		tl = strlen(title);
		while (tl > 0 && title[tl - 1] == ' ')
			title[--tl] = '\0';
		if ((s = strstr(title, "Queue runner")) != NULL && tl > ql + 5 &&
		    strcmp(title + tl - ql, qdir) == 0 &&
		    strncmp(title + tl - ql - 5, " for ", 5) == 0 && s < title + tl - ql)
			match = true;
	}
	free(w);
	free(buf);
	return match;
}

enum check_entry
check_queue_entry(const char *name)
{
	if (strcmp(name, "qf") == 0 || strcmp(name, "df") == 0 || strcmp(name, "xf") == 0)
		return CHECK_ENTRY_SUBDIR;
	if (strcmp(name, "sm-client.pid") == 0 || strcmp(name, "sm-client.st") == 0)
		return CHECK_ENTRY_SENDMAIL;
	if (strlen(name) > 2 && name[1] == 'f' && qid_valid(name + 2)) {
		if (name[0] == 'Q')
			return CHECK_ENTRY_LOST;
		if (strchr("qdtTxh", name[0]) != NULL)
			return CHECK_ENTRY_QUEUE;
	}
	return CHECK_ENTRY_STRAY;
}

/* ---------------------------------------------------- shell variables */

struct check_var {
	char *name, *value, *origin;
};

struct check_vars {
	struct check_var *v;
	size_t n, cap;
};

struct check_vars *
check_vars_new(void)
{
	return xcalloc(1, sizeof(struct check_vars));
}

void
check_vars_free(struct check_vars *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n; i++) {
		free(v->v[i].name);
		free(v->v[i].value);
		free(v->v[i].origin);
	}
	free(v->v);
	free(v);
}

void
check_vars_set(struct check_vars *v, const char *name, const char *value,
    const char *origin)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->v[i].name, name) == 0)
			break;
	if (i == v->n) {
		if (v->n == v->cap) {
			v->cap = v->cap ? v->cap * 2 : 16;
			v->v = xreallocarray(v->v, v->cap, sizeof *v->v);
		}
		v->v[v->n].name = xstrdup(name);
		v->v[v->n].value = NULL;
		v->v[v->n].origin = NULL;
		v->n++;
	}
	free(v->v[i].value);
	free(v->v[i].origin);
	v->v[i].value = xstrdup(value);
	v->v[i].origin = xstrdup(origin != NULL ? origin : "");
}

const char *
check_vars_get(const struct check_vars *v, const char *name, const char **origin)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->v[i].name, name) == 0) {
			if (origin != NULL)
				*origin = v->v[i].origin;
			return v->v[i].value;
		}
	return NULL;
}

static bool
ck_name_char(int ch, bool first)
{
	return ch == '_' || isalpha(ch) || (!first && isdigit(ch));
}

/* $NAME or ${NAME} at *pp (just past the '$'): its value appended. */
static void
ck_vars_expand(const struct check_vars *v, const char **pp, struct strbuf *out)
{
	const char *p = *pp, *start, *val;
	char name[128];
	bool braced = *p == '{';

	if (braced)
		p++;
	start = p;
	while (ck_name_char((unsigned char)*p, p == start))
		p++;
	if (p == start || (braced && *p != '}')) {
		strbuf_addch(out, '$');
		return;		/* not a reference: the '$' stays */
	}
	snprintf(name, sizeof name, "%.*s", (int)(p - start), start);
	if (braced)
		p++;
	if ((val = check_vars_get(v, name, NULL)) != NULL)
		strbuf_addstr(out, val);
	*pp = p;
}

bool
check_vars_line(struct check_vars *v, const char *line, const char *origin)
{
	const char *p = line, *start;
	struct strbuf val = STRBUF_INIT;
	char name[128];

	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "export ", 7) == 0)
		p += 7;
	start = p;
	while (ck_name_char((unsigned char)*p, p == start))
		p++;
	if (p == start || *p != '=' || (size_t)(p - start) >= sizeof name)
		return false;
	snprintf(name, sizeof name, "%.*s", (int)(p - start), start);
	p++;
	/* Words until a blank, ';' or '#' outside quotes. */
	while (*p != '\0' && *p != ' ' && *p != '\t' && *p != ';' && *p != '#' &&
	    *p != '\n' && *p != '\r') {
		if (*p == '\'') {
			const char *e = strchr(p + 1, '\'');

			if (e == NULL)
				e = p + strlen(p);
			strbuf_append(&val, p + 1, (size_t)(e - p - 1));
			p = *e ? e + 1 : e;
		} else if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					strbuf_addch(&val, *++p);
				else if (*p == '$') {
					p++;
					ck_vars_expand(v, &p, &val);
					p--;
				} else
					strbuf_addch(&val, *p);
			}
			if (*p == '"')
				p++;
		} else if (*p == '$') {
			p++;
			ck_vars_expand(v, &p, &val);
		} else {
			strbuf_addch(&val, *p++);
		}
	}
	check_vars_set(v, name, strbuf_str(&val), origin);
	strbuf_free(&val);
	return true;
}
