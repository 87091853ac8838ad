/*
 * check: the installation checks.  See check.h for the contract.
 *
 * The checks are a table (check_table, at the end): each entry a function
 * that looks at one part of the installation and adds its results, with
 * the scopes and modes it belongs to.  What several checks need (the
 * submit.cf read once, the client queue's path, who the queue belongs to)
 * is kept in struct check_ctx, filled by the checks that come first.
 */
#include "config.h"

#include "check.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "monotime.h"
#include "qid.h"
#include "qlist.h"
#include "strbuf.h"
#include "submitcf.h"
#include "xalloc.h"

/* The MSP's user and group, by sendmail's convention (cf/feature/msp.m4,
 * every packaging). */
#define CK_MSP_NAME "smmsp"
/* Debian's MTA user, which owns its /var/spool/mqueue. */
#define CK_DEBIAN_MTA_USER "smmta"
/* How much of a file the line-oriented checks read (cron, rc.conf, unit
 * files): configuration files are small; a huge one is not read past. */
#define CK_FILE_MAX (1024 * 1024)
/* Names of stray files shown in one result. */
#define CK_SHOW_MAX 5

struct check_report {
	struct check_result *res;
	size_t n, cap;
	struct check_fix *fix;
	size_t nfix, fixcap;
};

struct check_ctx {
	const struct check_config *cfg;
	struct check_report *rep;
	const char *root;		/* "" for the running system */
	char *cf_path;
	struct submitcf *cf;		/* with -O applied; NULL: did not load */
	char *file_qdir, *file_runas;	/* what the file itself says */
	const char *qdir;		/* the effective QueueDirectory, valid */
	char *qpath;			/* the same under the root */
	/* Who the client queue belongs to: RunAsUser, else smmsp. */
	bool have_owner;
	uid_t owner_uid;
	gid_t owner_gid;
	char owner_user[64], owner_group[64];
	/* smmsp itself (the binary's group). */
	bool have_smmsp_user, have_smmsp_group;
	uid_t smmsp_uid;
	gid_t smmsp_gid;
};

/* ------------------------------------------------------------ report */

static char *
ck_dup(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
ck_add(struct check_ctx *c, const char *check, enum check_status st,
    const char *path, const char *found, const char *expected, const char *advice)
{
	struct check_report *r = c->rep;
	struct check_result *res;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 32;
		r->res = xreallocarray(r->res, r->cap, sizeof *r->res);
	}
	res = &r->res[r->n++];
	res->check = check;
	res->status = st;
	res->path = xstrdup(path != NULL ? path : "-");
	res->found = xstrdup(found);
	res->expected = xstrdup(expected);
	res->advice = st != CHECK_OK ? ck_dup(advice) : NULL;
}

static void ck_fix(struct check_ctx *c, const char *check, const char *path, bool done,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
ck_fix(struct check_ctx *c, const char *check, const char *path, bool done,
    const char *fmt, ...)
{
	struct check_report *r = c->rep;
	struct check_fix *f;
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	if (r->nfix == r->fixcap) {
		r->fixcap = r->fixcap ? r->fixcap * 2 : 8;
		r->fix = xreallocarray(r->fix, r->fixcap, sizeof *r->fix);
	}
	f = &r->fix[r->nfix++];
	f->check = check;
	f->path = xstrdup(path);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	f->change = strbuf_detach(&sb, NULL);
	if (f->change == NULL)
		f->change = xstrdup("");
	f->done = done;
}

size_t
check_count(const struct check_report *rep)
{
	return rep->n;
}

const struct check_result *
check_get(const struct check_report *rep, size_t i)
{
	return i < rep->n ? &rep->res[i] : NULL;
}

size_t
check_fix_count(const struct check_report *rep)
{
	return rep->nfix;
}

const struct check_fix *
check_fix_get(const struct check_report *rep, size_t i)
{
	return i < rep->nfix ? &rep->fix[i] : NULL;
}

enum check_status
check_worst(const struct check_report *rep)
{
	enum check_status w = CHECK_OK;
	size_t i;

	for (i = 0; i < rep->n; i++)
		if (rep->res[i].status > w)
			w = rep->res[i].status;
	return w;
}

const char *
check_status_str(enum check_status st)
{
	switch (st) {
	case CHECK_OK:
		return "ok";
	case CHECK_WARNING:
		return "warning";
	case CHECK_ERROR:
		return "error";
	}
	return "?";
}

void
check_report_free(struct check_report *rep)
{
	size_t i;

	if (rep == NULL)
		return;
	for (i = 0; i < rep->n; i++) {
		free(rep->res[i].path);
		free(rep->res[i].found);
		free(rep->res[i].expected);
		free(rep->res[i].advice);
	}
	for (i = 0; i < rep->nfix; i++) {
		free(rep->fix[i].path);
		free(rep->fix[i].change);
	}
	free(rep->res);
	free(rep->fix);
	free(rep);
}

void
check_print_text(const struct check_report *rep, FILE *fp)
{
	size_t i;

	for (i = 0; i < rep->nfix; i++)
		fprintf(fp, "%-7s %s %s: %s\n", rep->fix[i].done ? "fixed" : "unfixed",
		    rep->fix[i].check, rep->fix[i].path, rep->fix[i].change);
	for (i = 0; i < rep->n; i++) {
		const struct check_result *r = &rep->res[i];

		fprintf(fp, "%-7s %s %s: found %s; expected %s%s%s\n",
		    check_status_str(r->status), r->check, r->path, r->found, r->expected,
		    r->advice != NULL ? "; " : "", r->advice != NULL ? r->advice : "");
	}
}

static void
ck_json_field(FILE *fp, const char *key, const char *value, bool first)
{
	fprintf(fp, "%s\"%s\":", first ? "" : ",", key);
	if (value == NULL)
		fputs("null", fp);
	else
		qlist_json_string(fp, value);
}

void
check_print_json(const struct check_report *rep, FILE *fp)
{
	enum check_status w = check_worst(rep);
	size_t i;

	fprintf(fp, "{\"status\":\"%s\",\"exit\":%d,\"fixes\":[", check_status_str(w), (int)w);
	for (i = 0; i < rep->nfix; i++) {
		fputs(i ? ",\n{" : "\n{", fp);
		ck_json_field(fp, "check", rep->fix[i].check, true);
		ck_json_field(fp, "path", rep->fix[i].path, false);
		ck_json_field(fp, "change", rep->fix[i].change, false);
		fprintf(fp, ",\"done\":%s}", rep->fix[i].done ? "true" : "false");
	}
	fputs("],\"checks\":[", fp);
	for (i = 0; i < rep->n; i++) {
		const struct check_result *r = &rep->res[i];

		fputs(i ? ",\n{" : "\n{", fp);
		ck_json_field(fp, "check", r->check, true);
		ck_json_field(fp, "status", check_status_str(r->status), false);
		ck_json_field(fp, "path", r->path, false);
		ck_json_field(fp, "found", r->found, false);
		ck_json_field(fp, "expected", r->expected, false);
		ck_json_field(fp, "advice", r->advice, false);
		fputc('}', fp);
	}
	fputs("]}\n", fp);
}

/* ------------------------------------------------------- pure helpers */

/* "2770" (the permission and set-id bits, octal). */
static void
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

/* ------------------------------------------------------------- paths */

static char *
ck_rooted(const struct check_ctx *c, const char *path)
{
	return xasprintf("%s%s", c->root, path);
}

/* The ':'-separated list given, or the default one under the root. */
static char **
ck_list(const struct check_ctx *c, const char *given, const char *dflt, size_t *n)
{
	char *copy = xstrdup(given != NULL ? given : dflt), *save = NULL, *t, **v = NULL;
	size_t cap = 0;

	*n = 0;
	for (t = strtok_r(copy, ":", &save); t != NULL; t = strtok_r(NULL, ":", &save)) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			v = xreallocarray(v, cap, sizeof *v);
		}
		v[(*n)++] = given != NULL ? xstrdup(t) : ck_rooted(c, t);
	}
	free(copy);
	return v;
}

static void
ck_list_free(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

/* A file's lines, bounded, or NULL (errno set) when it cannot be read. */
static char *
ck_read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "re");
	struct strbuf sb = STRBUF_INIT;
	char buf[8192];
	size_t n;

	if (fp == NULL)
		return NULL;
	while ((n = fread(buf, 1, sizeof buf, fp)) > 0 && sb.len < CK_FILE_MAX)
		strbuf_append(&sb, buf, n);
	fclose(fp);
	strbuf_addstr(&sb, "");
	return strbuf_detach(&sb, len);
}

/* Calls fn for each line of the file at path (NUL-terminated, the
 * newline removed); false (errno set) when it cannot be read. */
static bool
ck_each_line(const char *path, void (*fn)(void *, const char *, unsigned), void *arg)
{
	char *data = ck_read_file(path, NULL), *line;
	unsigned lineno = 0;
	const char *p;

	if (data == NULL)
		return false;
	/* Not strtok: it would skip empty lines and misnumber the rest. */
	for (p = data; *p != '\0';) {
		size_t k = strcspn(p, "\n");

		line = xstrndup(p, k);
		if (k > 0 && line[k - 1] == '\r')
			line[k - 1] = '\0';
		fn(arg, line, ++lineno);
		free(line);
		p += k;
		if (*p == '\n')
			p++;
	}
	free(data);
	return true;
}

/*
 * path, its symbolic links followed one by one (an absolute target inside
 * the root), into *out; chain gets "a -> b -> c".  False (errno set) when
 * something in the chain does not exist, or too many links.
 */
static bool
ck_resolve(const struct check_ctx *c, const char *path, char **out, struct strbuf *chain)
{
	char *cur = xstrdup(path);
	int hops;

	strbuf_addstr(chain, path);
	for (hops = 0; hops < 32; hops++) {
		struct stat st;
		char target[PATH_MAX];
		ssize_t n;
		char *next;

		if (lstat(cur, &st) < 0) {
			free(cur);
			return false;
		}
		if (!S_ISLNK(st.st_mode)) {
			*out = cur;
			return true;
		}
		n = readlink(cur, target, sizeof target - 1);
		if (n < 0) {
			free(cur);
			return false;
		}
		target[n] = '\0';
		if (target[0] == '/') {
			next = ck_rooted(c, target);
		} else {
			const char *slash = strrchr(cur, '/');

			next = slash != NULL ? xasprintf("%.*s/%s", (int)(slash - cur), cur, target)
			    : xstrdup(target);
		}
		free(cur);
		cur = next;
		strbuf_addf(chain, " -> %s", cur);
	}
	free(cur);
	errno = ELOOP;
	return false;
}

/* ---------------------------------------------------------- accounts */

/*
 * A user or group, by name (name != NULL) or by id, from a passwd- or
 * group-style file (fields name:password:id[:gid]) or, without one, from
 * the system.  nameout (unless NULL) gets the name, *id the id, *gid the
 * user's group.
 */
static bool
ck_lookup(const struct check_ctx *c, bool group, const char *name, unsigned long id,
    char *nameout, size_t namesz, unsigned long *idout, unsigned long *gidout)
{
	const char *file = group ? c->cfg->group : c->cfg->passwd;
	char *fpath = NULL, *data, *line, *save = NULL;
	bool found = false;

	if (file == NULL && c->root[0] != '\0')
		file = fpath = ck_rooted(c, group ? "/etc/group" : "/etc/passwd");
	if (file == NULL) {
		if (group) {
			struct group *gr = name != NULL ? getgrnam(name) : getgrgid((gid_t)id);

			if (gr == NULL)
				return false;
			if (nameout != NULL)
				snprintf(nameout, namesz, "%s", gr->gr_name);
			if (idout != NULL)
				*idout = gr->gr_gid;
		} else {
			struct passwd *pw = name != NULL ? getpwnam(name) : getpwuid((uid_t)id);

			if (pw == NULL)
				return false;
			if (nameout != NULL)
				snprintf(nameout, namesz, "%s", pw->pw_name);
			if (idout != NULL)
				*idout = pw->pw_uid;
			if (gidout != NULL)
				*gidout = pw->pw_gid;
		}
		return true;
	}
	data = ck_read_file(file, NULL);
	free(fpath);
	if (data == NULL)
		return false;
	for (line = strtok_r(data, "\n", &save); line != NULL && !found;
	    line = strtok_r(NULL, "\n", &save)) {
		char *f[4] = { NULL, NULL, NULL, NULL }, *s = line, *end;
		unsigned long v, g = 0;
		int k;

		for (k = 0; k < 4 && s != NULL; k++) {
			f[k] = s;
			if ((s = strchr(s, ':')) != NULL)
				*s++ = '\0';
		}
		if (f[2] == NULL)
			continue;
		errno = 0;
		v = strtoul(f[2], &end, 10);
		if (errno != 0 || end == f[2] || *end != '\0')
			continue;
		if (!group && (f[3] == NULL || (g = strtoul(f[3], &end, 10), *end != '\0')))
			continue;
		if (name != NULL ? strcmp(f[0], name) != 0 : v != id)
			continue;
		found = true;
		if (nameout != NULL)
			snprintf(nameout, namesz, "%s", f[0]);
		if (idout != NULL)
			*idout = v;
		if (gidout != NULL)
			*gidout = g;
	}
	free(data);
	return found;
}

static bool
ck_user_by_name(const struct check_ctx *c, const char *name, uid_t *uid, gid_t *gid)
{
	unsigned long u, g = 0;

	if (!ck_lookup(c, false, name, 0, NULL, 0, &u, &g))
		return false;
	*uid = (uid_t)u;
	if (gid != NULL)
		*gid = (gid_t)g;
	return true;
}

static bool
ck_group_by_name(const struct check_ctx *c, const char *name, gid_t *gid)
{
	unsigned long g;

	if (!ck_lookup(c, true, name, 0, NULL, 0, &g, NULL))
		return false;
	*gid = (gid_t)g;
	return true;
}

/* "smmsp:smmsp", or numbers for ids without a name. */
static void
ck_owner_str(const struct check_ctx *c, uid_t uid, gid_t gid, char *buf, size_t size)
{
	char u[64], g[64];

	if (!ck_lookup(c, false, NULL, uid, u, sizeof u, NULL, NULL))
		snprintf(u, sizeof u, "%lu", (unsigned long)uid);
	if (!ck_lookup(c, true, NULL, gid, g, sizeof g, NULL, NULL))
		snprintf(g, sizeof g, "%lu", (unsigned long)gid);
	snprintf(buf, size, "%s:%s", u, g);
}

static void
ck_user_str(const struct check_ctx *c, uid_t uid, char *buf, size_t size)
{
	if (!ck_lookup(c, false, NULL, uid, buf, size, NULL, NULL))
		snprintf(buf, size, "%lu", (unsigned long)uid);
}

/* The accounts of the installation, for submitcf_run_as_value. */
static bool
ck_acc_user(void *arg, const char *name, uid_t id, uid_t *uid, gid_t *gid)
{
	unsigned long u, g = 0;

	if (!ck_lookup(arg, false, name, id, NULL, 0, &u, &g))
		return false;
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return true;
}

static bool
ck_acc_group(void *arg, const char *name, gid_t *gid)
{
	return ck_group_by_name(arg, name, gid);
}

/* RunAsUser's value ("user", "user:group", "uid:gid") as ids, the way
 * sendmail reads it, from the installation's accounts; why says what is
 * wrong otherwise. */
static bool
ck_run_as(const struct check_ctx *c, const char *v, uid_t *uid, gid_t *gid,
    char *why, size_t whysz)
{
	struct submitcf_accounts acc = { ck_acc_user, ck_acc_group, (void *)c };

	return submitcf_run_as_value(v, &acc, uid, gid, why, whysz);
}

/* ----------------------------------------------------------- submit.cf */

static const char CK_CF_BUILD[] =
    "build it from submit.mc with sendmail's cf files (Debian: sendmailconfig; "
    "FreeBSD and NetBSD: make -C /etc/mail install-submit-cf)";

static void
ck_submit_cf(struct check_ctx *c)
{
	const char *name = "submit.cf";
	struct submitcf_error err;
	struct stat st;
	char found[600], mode[8], owner[160];
	size_t i;

	if (c->cfg->suidroot) {
		if (lstat(c->cf_path, &st) < 0 && errno == ENOENT)
			ck_add(c, name, CHECK_OK, c->cf_path, "absent", "absent (sendmail is setuid root: no MSP)", NULL);
		else
			ck_add(c, name, CHECK_ERROR, c->cf_path, "present",
			    "absent (sendmail is setuid root: no MSP)",
			    "with --suidroot, sendmail must not find a submit.cf (it would submit through the MSP); "
			    "remove it, or drop --suidroot to check the MSP layout");
		return;
	}
	if (stat(c->cf_path, &st) < 0) {
		snprintf(found, sizeof found, "%s", strerror(errno));
		ck_add(c, name, CHECK_ERROR, c->cf_path, found, "a readable submit.cf", CK_CF_BUILD);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		ck_add(c, name, CHECK_ERROR, c->cf_path, "not a regular file", "a readable submit.cf", CK_CF_BUILD);
		return;
	}
	if ((c->cf = submitcf_load(c->cf_path, &err)) == NULL) {
		ck_add(c, name, CHECK_ERROR, c->cf_path, err.reason, "a readable submit.cf", CK_CF_BUILD);
		return;
	}
	c->file_qdir = ck_dup(submitcf_option(c->cf, "QueueDirectory"));
	c->file_runas = ck_dup(submitcf_option(c->cf, "RunAsUser"));
	for (i = 0; i < c->cfg->noverrides; i++)
		if (!submitcf_set_option(c->cf, c->cfg->overrides[i], &err)) {
			ck_add(c, name, CHECK_ERROR, c->cf_path, err.reason, "-O Option=value", NULL);
			submitcf_free(c->cf);
			c->cf = NULL;
			return;
		}
	check_mode_str(st.st_mode, mode);
	ck_owner_str(c, st.st_uid, st.st_gid, owner, sizeof owner);
	snprintf(found, sizeof found, "%s %s", owner, mode);
	/* Whoever may write it chooses where every user's mail goes. */
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		ck_add(c, name, CHECK_ERROR, c->cf_path, found,
		    "owner root, not writable by group or others",
		    "whoever can write submit.cf decides where mail goes: chmod go-w it");
	/* The submission program reads it as the user who sends, with
	 * group smmsp. */
	else if (!(st.st_mode & S_IROTH) &&
	    !((st.st_mode & S_IRGRP) && c->have_smmsp_group && st.st_gid == c->smmsp_gid))
		ck_add(c, name, CHECK_ERROR, c->cf_path, found,
		    "readable by others (or by group smmsp)",
		    "the submission program cannot read it: chmod o+r it");
	else if (st.st_uid != 0)
		ck_add(c, name, CHECK_WARNING, c->cf_path, found,
		    "owner root, not writable by group or others",
		    "a file the MSP trusts should belong to root: chown root it");
	else
		ck_add(c, name, CHECK_OK, c->cf_path, found,
		    "owner root, not writable by group or others", NULL);
}

static void
ck_cf_version(struct check_ctx *c)
{
	const char *v;
	char found[300];

	if (c->cf == NULL)
		return;
	v = submitcf_version(c->cf);
	if (v == NULL) {
		ck_add(c, "submit.cf-version", CHECK_ERROR, c->cf_path, "no V line",
		    "V10 (the configuration language of sendmail 8.10 and later)", CK_CF_BUILD);
		return;
	}
	snprintf(found, sizeof found, "V%s", v);
	if (strtol(v, NULL, 10) == 10 && isdigit((unsigned char)v[0]) &&
	    (v[2] == '\0' || v[2] == '/'))
		ck_add(c, "submit.cf-version", CHECK_OK, c->cf_path, found, "V10/...", NULL);
	else
		ck_add(c, "submit.cf-version", CHECK_ERROR, c->cf_path, found,
		    "V10/... (the configuration language of sendmail 8.10 and later)",
		    "rebuild submit.cf from submit.mc with the installed sendmail's cf files");
}

static void
ck_cf_queuedir(struct check_ctx *c)
{
	const char *name = "submit.cf-queuedir";
	struct submitcf_error err;
	const char *q;
	char found[PATH_MAX + 300];

	if (c->cf == NULL)
		return;
	if ((q = submitcf_queue_dir(c->cf, &err)) == NULL) {
		ck_add(c, name, CHECK_ERROR, c->cf_path, err.reason,
		    "O QueueDirectory=<one absolute directory>", CK_CF_BUILD);
		return;
	}
	c->qdir = q;
	c->qpath = ck_rooted(c, q);
	if (c->file_qdir == NULL || strcmp(c->file_qdir, q) != 0) {
		snprintf(found, sizeof found, "QueueDirectory=%s (from -O), submit.cf says %s", q,
		    c->file_qdir != NULL ? c->file_qdir : "nothing");
		ck_add(c, name, CHECK_WARNING, c->cf_path, found,
		    "the queue that submit.cf names (where the submission program writes)",
		    "run the runner without -O QueueDirectory, or change submit.cf");
		return;
	}
	snprintf(found, sizeof found, "QueueDirectory=%s", q);
	ck_add(c, name, CHECK_OK, c->cf_path, found, "one absolute directory", NULL);
}

static void
ck_cf_runasuser(struct check_ctx *c)
{
	const char *name = "submit.cf-runasuser";
	const char *v;
	char why[300], found[600], owner[160];
	uid_t uid;
	gid_t gid;

	if (c->cf == NULL)
		return;
	v = submitcf_option(c->cf, "RunAsUser");
	if (v == NULL || *v == '\0') {
		ck_add(c, name, CHECK_ERROR, c->cf_path, "no RunAsUser",
		    "RunAsUser=smmsp (FEATURE(msp) sets it)", CK_CF_BUILD);
		return;
	}
	if (!ck_run_as(c, v, &uid, &gid, why, sizeof why)) {
		snprintf(found, sizeof found, "RunAsUser=%s: %s", v, why);
		ck_add(c, name, CHECK_ERROR, c->cf_path, found, "RunAsUser=smmsp, an existing user",
		    "create the user, or correct RunAsUser in submit.mc and rebuild submit.cf");
		return;
	}
	ck_owner_str(c, uid, gid, owner, sizeof owner);
	snprintf(found, sizeof found, "RunAsUser=%s (%s, %lu:%lu)", v, owner,
	    (unsigned long)uid, (unsigned long)gid);
	if (uid == 0) {
		ck_add(c, name, CHECK_ERROR, c->cf_path, found, "RunAsUser=smmsp, not root",
		    "the runner would handle hostile queue files as root: set RunAsUser=smmsp");
		return;
	}
	c->have_owner = true;
	c->owner_uid = uid;
	c->owner_gid = gid;
	snprintf(c->owner_user, sizeof c->owner_user, "%.*s", (int)strcspn(owner, ":"), owner);
	snprintf(c->owner_group, sizeof c->owner_group, "%s", strchr(owner, ':') + 1);
	if (c->file_runas == NULL || strcmp(c->file_runas, v) != 0)
		ck_add(c, name, CHECK_WARNING, c->cf_path, found,
		    "submit.cf's own RunAsUser (the user the MSP's files belong to)",
		    "run the runner without -O RunAsUser, or change submit.cf");
	else if (c->have_smmsp_user && uid != c->smmsp_uid)
		ck_add(c, name, CHECK_WARNING, c->cf_path, found, "RunAsUser=smmsp",
		    "the MSP's files and queue belong to smmsp by convention; check that this user is meant");
	else
		ck_add(c, name, CHECK_OK, c->cf_path, found, "RunAsUser=smmsp", NULL);
}

/* ------------------------------------------------------- smmsp itself */

static void
ck_accounts(struct check_ctx *c)
{
	char found[200];

	if (c->have_smmsp_user) {
		snprintf(found, sizeof found, "uid %lu", (unsigned long)c->smmsp_uid);
		ck_add(c, "smmsp-user", CHECK_OK, CK_MSP_NAME, found, "the user smmsp", NULL);
	} else {
		ck_add(c, "smmsp-user", CHECK_ERROR, CK_MSP_NAME, "no such user", "the user smmsp",
		    "create the system user smmsp (group smmsp, no login shell), as sendmail's packages do");
	}
	if (c->have_smmsp_group) {
		snprintf(found, sizeof found, "gid %lu", (unsigned long)c->smmsp_gid);
		ck_add(c, "smmsp-group", CHECK_OK, CK_MSP_NAME, found, "the group smmsp", NULL);
	} else {
		ck_add(c, "smmsp-group", CHECK_ERROR, CK_MSP_NAME, "no such group", "the group smmsp",
		    "create the system group smmsp, as sendmail's packages do");
	}
}

/* ------------------------------------------------------ the binary */

static char *
ck_sendmail_path(const struct check_ctx *c)
{
	const char *path;
	char *copy, *save = NULL, *d;

	if (c->cfg->sendmail != NULL)
		return xstrdup(c->cfg->sendmail);
	if (c->root[0] != '\0')
		return ck_rooted(c, "/usr/sbin/sendmail");
	path = c->cfg->path_env != NULL ? c->cfg->path_env : getenv("PATH");
	copy = xstrdup(path != NULL ? path : "");
	for (d = strtok_r(copy, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
		char *p = xasprintf("%s/sendmail", d);

		if (*d == '/' && access(p, X_OK) == 0) {
			free(copy);
			return p;
		}
		free(p);
	}
	free(copy);
	return xstrdup("/usr/sbin/sendmail");
}

/* The binary's owner and mode against the layout: a status, and the
 * problem (NULL when ok); *good gets the mode it should have. */
static enum check_status
ck_binary_judge(const struct check_ctx *c, const struct stat *sb, const char **problem,
    mode_t *good)
{
	mode_t perm = sb->st_mode & 07777;
	bool suid = c->cfg->suidroot;

	*problem = NULL;
	/* 2555 or 2755 (NetBSD's and Debian's): the owner's write bit as it is. */
	*good = (suid ? 04555 : 02555) | (perm & S_IWUSR);
	if (sb->st_uid != 0)
		*problem = "not owned by root";
	else if (suid && !(perm & S_ISUID))
		*problem = "not setuid";
	else if (!suid && (perm & S_ISUID))
		*problem = "setuid root (the MSP layout has it setgid smmsp)";
	else if (!suid && (!c->have_smmsp_group || sb->st_gid != c->smmsp_gid))
		*problem = "its group is not smmsp";
	else if (!suid && !(perm & S_ISGID))
		*problem = "not setgid";
	else if (perm & (S_IWGRP | S_IWOTH))
		*problem = "writable by group or others";
	if (*problem != NULL)
		return CHECK_ERROR;
	if (perm != *good) {
		*problem = "an unusual mode";
		return CHECK_WARNING;
	}
	return CHECK_OK;
}

/* --fix --fix-binary: owner root (group smmsp in the MSP layout), then
 * the mode (in this order: a change of owner clears the set-id bits). */
static void
ck_binary_fix(struct check_ctx *c, const char *file, struct stat *sb, mode_t good)
{
	const char *name = "sendmail-binary";
	gid_t g = c->cfg->suidroot ? sb->st_gid : c->smmsp_gid;
	char was[160], now[160], m1[8], m2[8];
	mode_t orig = sb->st_mode;	/* as it was: chown may clear set-id bits */
	int fd;
	bool ok = true;

	if (!c->cfg->suidroot && !c->have_smmsp_group) {
		ck_fix(c, name, file, false, "no group smmsp to give it");
		return;
	}
	if ((fd = open(file, O_RDONLY | O_NOFOLLOW | O_NOCTTY)) < 0) {
		ck_fix(c, name, file, false, "cannot open it: %s", strerror(errno));
		return;
	}
	if (sb->st_uid != 0 || sb->st_gid != g) {
		ck_owner_str(c, sb->st_uid, sb->st_gid, was, sizeof was);
		ck_owner_str(c, 0, g, now, sizeof now);
		ok = fchown(fd, 0, g) == 0;
		ck_fix(c, name, file, ok, "owner %s -> %s%s%s", was, now, ok ? "" : ": ",
		    ok ? "" : strerror(errno));
	}
	if (ok && fstat(fd, sb) == 0 && (sb->st_mode & 07777) != good) {
		check_mode_str(orig, m1);
		check_mode_str(good, m2);
		ok = fchmod(fd, good) == 0;
		ck_fix(c, name, file, ok, "mode %s -> %s%s%s", m1, m2, ok ? "" : ": ",
		    ok ? "" : strerror(errno));
	}
	(void)fstat(fd, sb);
	close(fd);
}

static void
ck_binary(struct check_ctx *c)
{
	const char *name = "sendmail-binary", *problem, *expected, *advice;
	struct strbuf chain = STRBUF_INIT;
	char *start = ck_sendmail_path(c), *file = NULL;
	char found[PATH_MAX * 2 + 200], mode[8], owner[160];
	enum check_status st;
	struct stat sb;
	mode_t good;

	if (c->cfg->suidroot) {
		expected = "owner root, 4555 or 4755 (setuid root)";
		advice = "chown root and chmod 4555 the binary "
		    "(clientq-runner --check --suidroot --fix --fix-binary does)";
	} else {
		expected = "root:smmsp, 2555 or 2755 (setgid smmsp, not setuid)";
		advice = "chown root:smmsp and chmod 2555 the binary (clientq-runner --check --fix "
		    "--fix-binary does; Debian keeps its mode with dpkg-statoverride: "
		    "dpkg-statoverride --update --add root smmsp 2755 FILE)";
	}
	if (!ck_resolve(c, start, &file, &chain) || stat(file, &sb) < 0) {
		snprintf(found, sizeof found, "%s: %s", strbuf_str(&chain), strerror(errno));
		ck_add(c, name, CHECK_ERROR, start, found, expected,
		    "install sendmail (Debian: sendmail-bin), or name it with --sendmail");
	} else if (!S_ISREG(sb.st_mode)) {
		ck_add(c, name, CHECK_ERROR, strbuf_str(&chain), "not a regular file", expected, NULL);
	} else {
		st = ck_binary_judge(c, &sb, &problem, &good);
		if (st != CHECK_OK && c->cfg->fix && c->cfg->fix_binary) {
			ck_binary_fix(c, file, &sb, good);
			st = ck_binary_judge(c, &sb, &problem, &good);
		}
		check_mode_str(sb.st_mode, mode);
		ck_owner_str(c, sb.st_uid, sb.st_gid, owner, sizeof owner);
		snprintf(found, sizeof found, "%s %s%s%s", owner, mode, problem ? ", " : "",
		    problem ? problem : "");
		ck_add(c, name, st, strbuf_str(&chain), found, expected, advice);
	}
	strbuf_free(&chain);
	free(start);
	free(file);
}

/* ------------------------------------------------------- client queue */

/* Opens the queue directory for a repair: not through a symbolic link
 * (a link is repaired where it points, by hand). */
static int
ck_open_dir(struct check_ctx *c, const char *check)
{
	int fd = open(c->qpath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY);

	if (fd < 0)
		ck_fix(c, check, c->qpath, false, "cannot open it: %s%s", strerror(errno),
		    errno == ELOOP ? " (a symbolic link: repair the directory it names)" : "");
	return fd;
}

/* What is wrong with a client queue's mode, or NULL: owner and group
 * need rwx (the runner, and users submitting with group smmsp); others
 * nothing (the queue is mail, and any file that can be opened can be
 * locked to hold up the runner); no sticky bit (the runner must remove
 * delivered files that users own). */
static const char *
ck_queue_mode_problem(mode_t perm)
{
	if (perm & S_IRWXO)
		return "others have access";
	if ((perm & S_IRWXG) != S_IRWXG)
		return "group smmsp cannot read, write and search it";
	if ((perm & S_IRWXU) != S_IRWXU)
		return "its owner cannot read, write and search it";
	if (perm & S_ISVTX)
		return "sticky (the runner could not remove users' delivered files)";
	if (perm & S_ISUID)
		return "set-user-ID";
	return NULL;
}

static void
ck_client_queue(struct check_ctx *c)
{
	const char *expected_owner = "RunAsUser, the user smmsp";
	char found[400], want[200], mode[8], owner[160];
	const char *problem;
	struct stat st;

	if (c->qpath == NULL)
		return;
	if (stat(c->qpath, &st) < 0 && errno == ENOENT && c->cfg->fix) {
		int fd;

		/* 0700 until it has its owner, group and mode. */
		if (!c->have_owner)
			ck_fix(c, "client-queue", c->qpath, false,
			    "cannot create it: no RunAsUser or smmsp to own it");
		else if (mkdir(c->qpath, 0700) < 0)
			ck_fix(c, "client-queue", c->qpath, false, "cannot create it: %s",
			    strerror(errno));
		else if ((fd = ck_open_dir(c, "client-queue")) >= 0) {
			bool ok = fchown(fd, c->owner_uid, c->owner_gid) == 0 &&
			    fchmod(fd, 0770) == 0;

			ck_fix(c, "client-queue", c->qpath, ok, "created%s %s:%s 0770%s%s",
			    ok ? "," : ", but could not make it", c->owner_user, c->owner_group,
			    ok ? "" : ": ", ok ? "" : strerror(errno));
			close(fd);
		}
	}
	if (stat(c->qpath, &st) < 0) {
		snprintf(found, sizeof found, "%s", strerror(errno));
		ck_add(c, "client-queue", CHECK_ERROR, c->qpath, found, "a directory",
		    "clientq-runner --check --fix creates it (owner RunAsUser, group smmsp, 0770)");
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		ck_add(c, "client-queue", CHECK_ERROR, c->qpath, "not a directory", "a directory",
		    "move it away and create the directory (clientq-runner --check --fix creates it)");
		return;
	}
	ck_add(c, "client-queue", CHECK_OK, c->qpath, "a directory", "a directory", NULL);
	if (!c->have_owner) {
		ck_add(c, "client-queue-owner", CHECK_ERROR, c->qpath, "cannot tell",
		    expected_owner, "no RunAsUser and no user smmsp to compare with");
		return;
	}

	/* Owner: the runner (RunAsUser) must write it without root. */
	if (st.st_uid != c->owner_uid && c->cfg->fix) {
		int fd = ck_open_dir(c, "client-queue-owner");
		char was[80];

		ck_user_str(c, st.st_uid, was, sizeof was);
		if (fd >= 0) {
			bool ok = fchown(fd, c->owner_uid, (gid_t)-1) == 0;

			ck_fix(c, "client-queue-owner", c->qpath, ok, "owner %s -> %s%s%s", was,
			    c->owner_user, ok ? "" : ": ", ok ? "" : strerror(errno));
			(void)fstat(fd, &st);
			close(fd);
		}
	}
	ck_user_str(c, st.st_uid, owner, sizeof owner);
	snprintf(want, sizeof want, "owner %s (%lu)", c->owner_user, (unsigned long)c->owner_uid);
	snprintf(found, sizeof found, "owner %s (%lu)", owner, (unsigned long)st.st_uid);
	ck_add(c, "client-queue-owner", st.st_uid == c->owner_uid ? CHECK_OK : CHECK_ERROR,
	    c->qpath, found, want, "chown it to RunAsUser (clientq-runner --check --fix does)");

	/* Group: the submission program writes with group smmsp. */
	if (st.st_gid != c->owner_gid && c->cfg->fix) {
		int fd = ck_open_dir(c, "client-queue-group");
		char was[160];

		ck_owner_str(c, st.st_uid, st.st_gid, was, sizeof was);
		if (fd >= 0) {
			bool ok = fchown(fd, (uid_t)-1, c->owner_gid) == 0;

			ck_fix(c, "client-queue-group", c->qpath, ok, "group %s -> %s%s%s",
			    strchr(was, ':') + 1, c->owner_group, ok ? "" : ": ",
			    ok ? "" : strerror(errno));
			(void)fstat(fd, &st);
			close(fd);
		}
	}
	ck_owner_str(c, st.st_uid, st.st_gid, owner, sizeof owner);
	snprintf(want, sizeof want, "group %s (%lu)", c->owner_group, (unsigned long)c->owner_gid);
	snprintf(found, sizeof found, "group %s (%lu)", strchr(owner, ':') + 1,
	    (unsigned long)st.st_gid);
	ck_add(c, "client-queue-group", st.st_gid == c->owner_gid ? CHECK_OK : CHECK_ERROR,
	    c->qpath, found, want, "chgrp it to smmsp (clientq-runner --check --fix does)");

	/* Mode: 0770, or 2770 as Debian makes it. */
	problem = ck_queue_mode_problem(st.st_mode & 07777);
	if (problem != NULL && c->cfg->fix) {
		int fd = ck_open_dir(c, "client-queue-mode");
		mode_t to = (st.st_mode & S_ISGID) | 0770;
		char m1[8], m2[8];

		check_mode_str(st.st_mode, m1);
		check_mode_str(to, m2);
		if (fd >= 0) {
			bool ok = fchmod(fd, to) == 0;

			ck_fix(c, "client-queue-mode", c->qpath, ok, "mode %s -> %s%s%s", m1, m2,
			    ok ? "" : ": ", ok ? "" : strerror(errno));
			(void)fstat(fd, &st);
			close(fd);
		}
		problem = ck_queue_mode_problem(st.st_mode & 07777);
	}
	check_mode_str(st.st_mode, mode);
	snprintf(found, sizeof found, "%s%s%s", mode, problem ? ", " : "", problem ? problem : "");
	ck_add(c, "client-queue-mode", problem ? CHECK_ERROR : CHECK_OK, c->qpath, found,
	    "0770 or 2770 (owner and group rwx, nothing for others)",
	    "chmod 0770 it (clientq-runner --check --fix does)");
}

struct ck_names {
	size_t n;
	struct strbuf shown;
};

static void
ck_names_add(struct ck_names *v, const char *prefix, const char *name)
{
	if (v->n < CK_SHOW_MAX)
		strbuf_addf(&v->shown, "%s%s%s", v->n ? ", " : "", prefix, name);
	v->n++;
}

/* The entries of one queue directory (prefix "qf/" for a subdirectory);
 * false (errno) when it cannot be read. */
static bool
ck_scan_queue(const char *dir, const char *prefix, bool top, size_t *nqueue,
    struct ck_names *stray, struct ck_names *lost)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return false;
	while ((de = readdir(d)) != NULL) {
		enum check_entry kind;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		kind = check_queue_entry(de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;	/* gone meanwhile: delivered */
		if (kind == CHECK_ENTRY_SUBDIR && top && S_ISDIR(st.st_mode))
			continue;	/* scanned by the caller */
		if (kind == CHECK_ENTRY_SENDMAIL && top && S_ISREG(st.st_mode))
			continue;
		if ((kind == CHECK_ENTRY_QUEUE || kind == CHECK_ENTRY_LOST) && !S_ISREG(st.st_mode))
			kind = CHECK_ENTRY_STRAY;	/* a FIFO or link under a queue name */
		if (kind == CHECK_ENTRY_QUEUE)
			(*nqueue)++;
		else if (kind == CHECK_ENTRY_LOST)
			ck_names_add(lost, prefix, de->d_name);
		else
			ck_names_add(stray, prefix, de->d_name);
	}
	closedir(d);
	return true;
}

static void
ck_queue_files(struct check_ctx *c)
{
	static const char *const subs[] = { "qf", "df", "xf" };
	struct ck_names stray = { 0, STRBUF_INIT }, lost = { 0, STRBUF_INIT };
	char found[800];
	size_t nqueue = 0, i;
	struct stat st;

	if (c->qpath == NULL || stat(c->qpath, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	if (!ck_scan_queue(c->qpath, "", true, &nqueue, &stray, &lost)) {
		snprintf(found, sizeof found, "cannot read it: %s", strerror(errno));
		ck_add(c, "client-queue-files", CHECK_WARNING, c->qpath, found, "only queue files",
		    "run the check as root or as a member of group smmsp");
		return;
	}
	for (i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		char *sub = xasprintf("%s/%s", c->qpath, subs[i]), *pre = xasprintf("%s/", subs[i]);

		if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			(void)ck_scan_queue(sub, pre, false, &nqueue, &stray, &lost);
		free(sub);
		free(pre);
	}
	if (stray.n == 0)
		snprintf(found, sizeof found, "%zu queue files, nothing else", nqueue);
	else
		snprintf(found, sizeof found, "%zu other entr%s: %s%s", stray.n,
		    stray.n == 1 ? "y" : "ies", strbuf_str(&stray.shown),
		    stray.n > CK_SHOW_MAX ? ", ..." : "");
	ck_add(c, "client-queue-files", stray.n ? CHECK_WARNING : CHECK_OK, c->qpath, found,
	    "only queue files (qf, df, tf, Tf, xf, hf, Qf + a queue ID; the qf/, df/, xf/ "
	    "subdirectories; sm-client.pid, sm-client.st)",
	    "nothing in the queue should be anything else: look at them and move them out "
	    "(--fix never touches a file in the queue)");
	if (lost.n == 0)
		snprintf(found, sizeof found, "none");
	else
		snprintf(found, sizeof found, "%zu lost control file%s: %s%s", lost.n,
		    lost.n == 1 ? "" : "s", strbuf_str(&lost.shown),
		    lost.n > CK_SHOW_MAX ? ", ..." : "");
	ck_add(c, "client-queue-lost", lost.n ? CHECK_WARNING : CHECK_OK, c->qpath, found,
	    "no Qf files",
	    "sendmail or clientq-runner set these aside as unreadable or undeliverable (the log "
	    "says why): read them, then rename Qf back to qf to try again, or remove them and "
	    "their df yourself (--fix never does)");
	strbuf_free(&stray.shown);
	strbuf_free(&lost.shown);
}

/* ---------------------------------------------------------- MTA queue */

static void
ck_mta_one(struct check_ctx *c, const char *dir, const struct submitcf *mcf)
{
	const char *expected = "owner root (or sendmail.cf's RunAsUser or TrustedUser; Debian: "
	    "smmta), 0700 (Debian: 2750 with group smmsp), never writable by group or others";
	const char *problem = NULL;
	enum check_status st = CHECK_OK;
	char found[600], mode[8], owner[160], ownername[64];
	struct stat sb;
	mode_t perm;
	bool owner_ok;
	uid_t u;

	if (stat(dir, &sb) < 0) {
		snprintf(found, sizeof found, "%s (no local MTA queue)", strerror(errno));
		ck_add(c, "mta-queue", CHECK_OK, dir, found, expected, NULL);
		return;
	}
	if (!S_ISDIR(sb.st_mode)) {
		ck_add(c, "mta-queue", CHECK_ERROR, dir, "not a directory", expected, NULL);
		return;
	}
	perm = sb.st_mode & 07777;
	ck_user_str(c, sb.st_uid, ownername, sizeof ownername);
	owner_ok = sb.st_uid == 0 || strcmp(ownername, CK_DEBIAN_MTA_USER) == 0;
	if (mcf != NULL && !owner_ok) {
		const char *opts[2] = { submitcf_option(mcf, "RunAsUser"),
		    submitcf_option(mcf, "TrustedUser") };
		char why[200];
		gid_t g;
		int k;

		for (k = 0; k < 2 && !owner_ok; k++)
			owner_ok = opts[k] != NULL && ck_run_as(c, opts[k], &u, &g, why, sizeof why) &&
			    u == sb.st_uid;
	}
	/* Whoever can write the MTA's queue makes the MTA, which runs as
	 * root, deliver what they like: gaining group smmsp must not give
	 * that. */
	if (c->have_smmsp_user && sb.st_uid == c->smmsp_uid)
		problem = "owned by smmsp";
	else if (!owner_ok)
		problem = "its owner is not root";
	else if (perm & (S_IWGRP | S_IWOTH))
		problem = "writable by group or others";
	else if (perm & S_IRWXO)
		problem = "others can read it";
	if (problem != NULL)
		st = CHECK_ERROR;
	else if ((perm & S_IRWXG) && !(c->have_smmsp_group && sb.st_gid == c->smmsp_gid)) {
		/* Debian lets group smmsp read it (for mailq); another
		 * group reading the mail is a choice to look at. */
		problem = "a group other than smmsp can read it";
		st = CHECK_WARNING;
	}
	check_mode_str(perm, mode);
	ck_owner_str(c, sb.st_uid, sb.st_gid, owner, sizeof owner);
	snprintf(found, sizeof found, "%s %s%s%s", owner, mode, problem ? ", " : "",
	    problem ? problem : "");
	ck_add(c, "mta-queue", st, dir, found, expected,
	    "chown root and chmod 0700 the MTA's queue (--fix leaves it to the MTA's package)");
}

static void
ck_mta_queue(struct check_ctx *c)
{
	char *cfpath = c->cfg->sendmail_cf ? xstrdup(c->cfg->sendmail_cf)
	    : ck_rooted(c, "/etc/mail/sendmail.cf");
	struct submitcf *mcf = NULL;
	struct submitcf_error err;
	char *dir;

	if (access(cfpath, F_OK) == 0 && (mcf = submitcf_load(cfpath, &err)) == NULL) {
		ck_add(c, "mta-queue", CHECK_WARNING, cfpath, err.reason, "a readable sendmail.cf",
		    "the MTA's queue was not checked");
		free(cfpath);
		return;
	}
	if (c->cfg->mta_queue != NULL) {
		dir = xstrdup(c->cfg->mta_queue);
	} else {
		const char *q = mcf != NULL ? submitcf_option(mcf, "QueueDirectory") : NULL;

		dir = ck_rooted(c, q != NULL && *q == '/' ? q : "/var/spool/mqueue");
	}
	if (strpbrk(dir, "*?[") != NULL) {
		glob_t g;
		size_t i;

		if (glob(dir, 0, NULL, &g) == 0) {
			for (i = 0; i < g.gl_pathc; i++)
				ck_mta_one(c, g.gl_pathv[i], mcf);
			globfree(&g);
		} else {
			ck_add(c, "mta-queue", CHECK_OK, dir, "no directory matches",
			    "owner root, 0700", NULL);
		}
	} else {
		ck_mta_one(c, dir, mcf);
	}
	free(dir);
	free(cfpath);
	submitcf_free(mcf);
}

/* ------------------------------------------------------- other runners */

static const char CK_DEBIAN_OFF[] =
    "set MSP_MODE=\"None\" in /etc/mail/sendmail.conf and run sendmailconfig (or "
    "/usr/share/sendmail/update_conf), then restart sendmail (systemctl restart sendmail, "
    "or invoke-rc.d sendmail restart)";

struct ck_cron {
	struct check_ctx *c;
	const char *file;
	size_t found;
};

static void
ck_cron_line_cb(void *arg, const char *line, unsigned lineno)
{
	struct ck_cron *cc = arg;
	enum check_cron_kind k = check_cron_line(line);
	char found[400];

	if (k == CHECK_CRON_NONE)
		return;
	snprintf(found, sizeof found, "line %u: %.300s", lineno, line + strspn(line, " \t"));
	cc->found++;
	ck_add(cc->c, "other-runner-cron", CHECK_WARNING, cc->file, found,
	    "no cron job running the client queue (clientq-runner does)",
	    k == CHECK_CRON_DEBIAN
	    ? "Debian's sendmail keeps this line while MSP_MODE=Cron (editing it lasts until "
	      "sendmailconfig runs again): set MSP_MODE=\"None\" in /etc/mail/sendmail.conf and run "
	      "sendmailconfig (or /usr/share/sendmail/update_conf), which comments it out"
	    : "remove or comment out the line (a user's crontab: crontab -e -u USER)");
}

/* Whether cron reads a file of this name from a directory: not a dot
 * file, an editor's backup or a package manager's leftover. */
static bool
ck_cron_name(const char *n)
{
	size_t l = strlen(n);

	return n[0] != '.' && l > 0 && n[l - 1] != '~' && strstr(n, ".dpkg-") == NULL &&
	    strstr(n, ".rpmsave") == NULL && strstr(n, ".rpmnew") == NULL &&
	    strstr(n, ".ucf-") == NULL;
}

static void
ck_cron(struct check_ctx *c)
{
	size_t n, i;
	char **paths = ck_list(c, c->cfg->cron_paths, CHECK_CRON_PATHS, &n);
	struct ck_cron cc = { c, NULL, 0 };
	struct strbuf all = STRBUF_INIT, unread = STRBUF_INIT;
	char *found;

	for (i = 0; i < n; i++) {
		struct stat st;

		strbuf_addf(&all, "%s%s", i ? ":" : "", paths[i]);
		if (stat(paths[i], &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			struct dirent **ents = NULL;
			int k, m = scandir(paths[i], &ents, NULL, alphasort);

			if (m < 0) {
				strbuf_addf(&unread, "; %s not read: %s", paths[i], strerror(errno));
				continue;
			}
			for (k = 0; k < m; k++) {
				char *f = xasprintf("%s/%s", paths[i], ents[k]->d_name);
				struct stat fs;

				if (ck_cron_name(ents[k]->d_name) && stat(f, &fs) == 0 &&
				    S_ISREG(fs.st_mode)) {
					cc.file = f;
					if (!ck_each_line(f, ck_cron_line_cb, &cc))
						strbuf_addf(&unread, "; %s not read: %s", f,
						    strerror(errno));
				}
				free(f);
				free(ents[k]);
			}
			free(ents);
		} else if (S_ISREG(st.st_mode)) {
			cc.file = paths[i];
			if (!ck_each_line(paths[i], ck_cron_line_cb, &cc))
				strbuf_addf(&unread, "; %s not read: %s", paths[i], strerror(errno));
		}
	}
	if (cc.found == 0) {
		found = xasprintf("no line running the client queue%s", strbuf_str(&unread));
		ck_add(c, "other-runner-cron", CHECK_OK, strbuf_str(&all), found,
		    "no cron job running the client queue", NULL);
		free(found);
	}
	strbuf_free(&all);
	strbuf_free(&unread);
	ck_list_free(paths, n);
}

struct ck_vars_file {
	struct check_vars *v;
	const char *origin;
};

static void
ck_vars_cb(void *arg, const char *line, unsigned lineno)
{
	struct ck_vars_file *vf = arg;
	char origin[PATH_MAX + 20];

	snprintf(origin, sizeof origin, "%s:%u", vf->origin, lineno);
	(void)check_vars_line(vf->v, line, origin);
}

/* Debian: /etc/mail/sendmail.conf's MSP_MODE, as /etc/init.d/sendmail
 * reads it (its defaults first: every mode Daemon, intervals 10m). */
static void
ck_debian(struct check_ctx *c)
{
	char *path = c->cfg->sendmail_conf ? xstrdup(c->cfg->sendmail_conf)
	    : ck_rooted(c, "/etc/mail/sendmail.conf");
	struct check_vars *v = check_vars_new();
	struct ck_vars_file vf = { v, path };
	const char *msp, *queue, *ival, *where = NULL;
	char found[600];

	check_vars_set(v, "DAEMON_MODE", "Daemon", "the init script's default");
	check_vars_set(v, "QUEUE_MODE", "Daemon", "the init script's default");
	check_vars_set(v, "MSP_MODE", "Daemon", "the init script's default");
	check_vars_set(v, "QUEUE_INTERVAL", "10m", "the init script's default");
	check_vars_set(v, "MSP_INTERVAL", "10m", "the init script's default");
	if (!ck_each_line(path, ck_vars_cb, &vf)) {
		snprintf(found, sizeof found, "%s (not Debian's sendmail)", strerror(errno));
		ck_add(c, "other-runner-debian", CHECK_OK, path, found, "MSP_MODE=None", NULL);
		goto out;
	}
	msp = check_vars_get(v, "MSP_MODE", &where);
	queue = check_vars_get(v, "QUEUE_MODE", NULL);
	ival = check_vars_get(v, "MSP_INTERVAL", NULL);
	if (strcasecmp(msp, "daemon") == 0) {
		snprintf(found, sizeof found, "MSP_MODE=%s (%s): /etc/init.d/sendmail starts sendmail -Ac -q%s",
		    msp, where, ival);
		ck_add(c, "other-runner-debian", CHECK_WARNING, path, found, "MSP_MODE=None", CK_DEBIAN_OFF);
	} else if (strcasecmp(msp, "cron") == 0 && *ival != '\0') {
		snprintf(found, sizeof found,
		    "MSP_MODE=%s (%s), MSP_INTERVAL=%s: sendmailconfig writes a cron-msp line to /etc/cron.d/sendmail",
		    msp, where, ival);
		ck_add(c, "other-runner-debian", CHECK_WARNING, path, found, "MSP_MODE=None", CK_DEBIAN_OFF);
	} else if (strcasecmp(msp, "none") == 0 && strcasecmp(queue, "cron") == 0) {
		snprintf(found, sizeof found,
		    "MSP_MODE=%s with QUEUE_MODE=%s: the cron-mta job runs the client queue too", msp, queue);
		ck_add(c, "other-runner-debian", CHECK_WARNING, path, found,
		    "MSP_MODE=None, QUEUE_MODE not Cron",
		    "set MSP_MODE=\"Cron\" and MSP_INTERVAL=\"\" (neither cron-msp nor cron-mta then runs "
		    "the client queue) in /etc/mail/sendmail.conf and run sendmailconfig");
	} else {
		snprintf(found, sizeof found, "MSP_MODE=%s%s%s", msp,
		    strcasecmp(msp, "cron") == 0 ? ", MSP_INTERVAL=" : "",
		    strcasecmp(msp, "cron") == 0 ? "\"\"" : "");
		ck_add(c, "other-runner-debian", CHECK_OK, path, found, "MSP_MODE=None", NULL);
	}
out:
	check_vars_free(v);
	free(path);
}

struct ck_units {
	struct check_ctx *c;
	const char *file;
	bool wanted;
};

static void
ck_unit_line_cb(void *arg, const char *line, unsigned lineno)
{
	struct ck_units *u = arg;
	const char *p = line + strspn(line, " \t");

	(void)lineno;
	if ((strncmp(p, "Wants=", 6) == 0 || strncmp(p, "Requires=", 9) == 0 ||
	    strncmp(p, "BindsTo=", 8) == 0 || strncmp(p, "Upholds=", 8) == 0) &&
	    strstr(p, "sm-client.service") != NULL)
		u->wanted = true;
}

/* Fedora: sm-client.service enabled (a link in a .wants or .requires
 * directory), or pulled in by another unit (Fedora's sendmail.service
 * has Wants=sm-client.service), unless it is masked. */
static void
ck_systemd(struct check_ctx *c)
{
	static const char ADVICE[] =
	    "systemctl mask --now sm-client.service (Fedora's sendmail.service wants it, so "
	    "disabling it alone does not keep it off); clientq-runner's unit takes its place";
	size_t n, i;
	char **dirs = ck_list(c, c->cfg->systemd_dirs, CHECK_SYSTEMD_DIRS, &n);
	char *unit = NULL, *masked = NULL, found[PATH_MAX + 200];
	struct strbuf all = STRBUF_INIT;
	size_t warned = 0;

	for (i = 0; i < n; i++) {
		char *f = xasprintf("%s/sm-client.service", dirs[i]), target[PATH_MAX];
		ssize_t k;
		struct stat st;

		strbuf_addf(&all, "%s%s", i ? ":" : "", dirs[i]);
		if (lstat(f, &st) == 0) {
			k = S_ISLNK(st.st_mode) ? readlink(f, target, sizeof target - 1) : -1;
			if (k >= 0)
				target[k] = '\0';
			if ((k >= 0 && strcmp(target, "/dev/null") == 0) ||
			    (S_ISCHR(st.st_mode)) || (S_ISREG(st.st_mode) && st.st_size == 0)) {
				if (masked == NULL)
					masked = xstrdup(f);
			} else if (unit == NULL) {
				unit = xstrdup(f);
			}
		}
		free(f);
	}
	if (masked != NULL) {
		ck_add(c, "other-runner-systemd", CHECK_OK, masked, "sm-client.service masked",
		    "sm-client.service masked or absent", NULL);
		goto out;
	}
	for (i = 0; i < n; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;

		if (d == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			size_t l = strlen(de->d_name);
			char *f;
			struct stat st;

			if ((l > 6 && strcmp(de->d_name + l - 6, ".wants") == 0) ||
			    (l > 9 && strcmp(de->d_name + l - 9, ".requires") == 0)) {
				f = xasprintf("%s/%s/sm-client.service", dirs[i], de->d_name);
				if (lstat(f, &st) == 0) {
					ck_add(c, "other-runner-systemd", CHECK_WARNING, f,
					    "sm-client.service enabled", "sm-client.service masked or absent",
					    ADVICE);
					warned++;
				}
				free(f);
			} else if (l > 8 && strcmp(de->d_name + l - 8, ".service") == 0 &&
			    strcmp(de->d_name, "sm-client.service") != 0 && unit != NULL) {
				struct ck_units u = { c, NULL, false };

				f = xasprintf("%s/%s", dirs[i], de->d_name);
				u.file = f;
				if (stat(f, &st) == 0 && S_ISREG(st.st_mode) &&
				    ck_each_line(f, ck_unit_line_cb, &u) && u.wanted) {
					snprintf(found, sizeof found, "%s wants sm-client.service",
					    de->d_name);
					ck_add(c, "other-runner-systemd", CHECK_WARNING, f, found,
					    "sm-client.service masked or absent", ADVICE);
					warned++;
				}
				free(f);
			}
		}
		closedir(d);
	}
	if (warned == 0)
		ck_add(c, "other-runner-systemd", CHECK_OK, unit != NULL ? unit : strbuf_str(&all),
		    unit != NULL ? "sm-client.service installed, not enabled" : "no sm-client.service",
		    "sm-client.service masked or absent", NULL);
out:
	free(unit);
	free(masked);
	strbuf_free(&all);
	ck_list_free(dirs, n);
}

/* FreeBSD (sendmail_msp_queue_enable, YES in /etc/defaults/rc.conf;
 * sendmail_enable=NONE turns it off) and NetBSD (smmsp). */
static void
ck_rc_conf(struct check_ctx *c)
{
	size_t n, i, seen = 0, warned = 0;
	char **files = ck_list(c, c->cfg->rc_conf, CHECK_RC_CONF, &n);
	struct check_vars *v = check_vars_new();
	struct strbuf all = STRBUF_INIT;
	const char *val, *where = "";
	char found[PATH_MAX + 200];

	for (i = 0; i < n; i++) {
		struct ck_vars_file vf = { v, files[i] };

		strbuf_addf(&all, "%s%s", i ? ":" : "", files[i]);
		if (ck_each_line(files[i], ck_vars_cb, &vf))
			seen++;
	}
	val = check_vars_get(v, "sendmail_msp_queue_enable", &where);
	if (check_yesno(val)) {
		const char *se = check_vars_get(v, "sendmail_enable", NULL);

		if (se == NULL || strcasecmp(se, "NONE") != 0) {
			snprintf(found, sizeof found, "sendmail_msp_queue_enable=%s (%s)", val, where);
			ck_add(c, "other-runner-rc.conf", CHECK_WARNING, where, found,
			    "sendmail_msp_queue_enable=NO",
			    "service sendmail stop; sysrc sendmail_msp_queue_enable=NO; service sendmail "
			    "start (FreeBSD's rc.d/sendmail then runs no sm-msp-queue); "
			    "sendmail_clientq_enable=YES starts clientq-runner");
			warned++;
		}
	}
	val = check_vars_get(v, "smmsp", &where);
	if (check_yesno(val)) {
		snprintf(found, sizeof found, "smmsp=%s (%s)", val, where);
		ck_add(c, "other-runner-rc.conf", CHECK_WARNING, where, found, "smmsp=NO",
		    "/etc/rc.d/smmsp stop, then set smmsp=NO in /etc/rc.conf (NetBSD); "
		    "sendmail_clientq=YES starts clientq-runner");
		warned++;
	}
	if (warned == 0)
		ck_add(c, "other-runner-rc.conf", CHECK_OK, strbuf_str(&all),
		    seen ? "no client-queue runner enabled" : "no rc.conf",
		    "sendmail_msp_queue_enable=NO (FreeBSD), smmsp=NO (NetBSD)", NULL);
	check_vars_free(v);
	strbuf_free(&all);
	ck_list_free(files, n);
}

static void
ck_process(struct check_ctx *c)
{
	char *proc = c->cfg->proc ? xstrdup(c->cfg->proc) : ck_rooted(c, "/proc");
	DIR *d = opendir(proc);
	struct dirent *de;
	size_t warned = 0;
	long self = (long)getpid();

	if (d == NULL) {
		char found[300];

		snprintf(found, sizeof found, "%s: processes not looked at", strerror(errno));
		ck_add(c, "other-runner-process", CHECK_OK, proc, found,
		    "no sendmail -Ac -q process", NULL);
		free(proc);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char *path, buf[4096], found[4200], *endp;
		long pid = strtol(de->d_name, &endp, 10);
		ssize_t len;
		int fd;

		if (*endp != '\0' || endp == de->d_name || pid == self)
			continue;
		path = xasprintf("%s/%s/cmdline", proc, de->d_name);
		fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
		free(path);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof buf);
		close(fd);
		if (len <= 0 || !check_cmdline_runner(buf, (size_t)len, c->qdir))
			continue;
		for (ssize_t k = 0; k < len; k++)
			if (buf[k] == '\0')
				buf[k] = ' ';
		while (len > 0 && buf[len - 1] == ' ')
			len--;
		snprintf(found, sizeof found, "process %ld: %.*s", pid, (int)len, buf);
		path = xasprintf("%s/%s", proc, de->d_name);
		ck_add(c, "other-runner-process", CHECK_WARNING, path, found,
		    "no sendmail -Ac -q process",
		    "stop it (kill the process) and turn off what starts it (see the other "
		    "other-runner lines)");
		free(path);
		warned++;
	}
	closedir(d);
	if (warned == 0)
		ck_add(c, "other-runner-process", CHECK_OK, proc, "no sendmail -Ac -q process",
		    "no sendmail -Ac -q process", NULL);
	free(proc);
}

/* -------------------------------------------------------------- relay */

/* Waits for events on fd until the deadline; false on a timeout. */
static bool
ck_wait(int fd, short events, long long deadline)
{
	struct pollfd p = { fd, events, 0 };
	long long left;
	int r;

	while ((left = deadline - monotime_ms()) > 0) {
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return true;
		if (r < 0 && errno != EINTR)
			return false;
	}
	errno = ETIMEDOUT;
	return false;
}

/* One connection attempt: the greeting's last line in greet, or why not
 * in greet; the reply code, 0 without one. */
static int
ck_greeting(const struct addrinfo *ai, long long deadline, char *greet, size_t size)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	char buf[4096];
	size_t have = 0;
	int code = 0, err = 0, fl;
	socklen_t elen = sizeof err;

	if (fd < 0) {
		snprintf(greet, size, "socket: %s", strerror(errno));
		return 0;
	}
	fl = fcntl(fd, F_GETFL);
	(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			snprintf(greet, size, "%s", strerror(errno));
			close(fd);
			return 0;
		}
		if (!ck_wait(fd, POLLOUT, deadline) ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0) {
			snprintf(greet, size, "%s", strerror(err != 0 ? err : errno));
			close(fd);
			return 0;
		}
	}
	/* Lines until one whose code is followed by a blank (the last line
	 * of the reply). */
	for (;;) {
		char *nl;
		ssize_t r;

		buf[have] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			if (nl > buf && nl[-1] == '\r')
				nl[-1] = '\0';
			if (strlen(buf) < 4 || buf[3] != '-') {
				snprintf(greet, size, "%.200s", buf);
				code = (int)strtol(buf, NULL, 10);
				goto done;
			}
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
		}
		if (have >= sizeof buf - 1) {
			snprintf(greet, size, "a greeting line longer than %zu octets", sizeof buf);
			goto done;
		}
		if (!ck_wait(fd, POLLIN, deadline)) {
			snprintf(greet, size, "no greeting: %s", strerror(errno));
			goto done;
		}
		r = read(fd, buf + have, sizeof buf - 1 - have);
		if (r <= 0) {
			snprintf(greet, size, "no greeting: %s",
			    r == 0 ? "the connection was closed" : strerror(errno));
			goto done;
		}
		have += (size_t)r;
	}
done:
	if (code != 0)
		(void)send(fd, "QUIT\r\n", 6, MSG_NOSIGNAL);
	close(fd);
	return code;
}

static void
ck_relay(struct check_ctx *c)
{
	const char *expected = "an SMTP greeting (220)";
	static const char ADVICE[] =
	    "mail waits in the client queue until the relay answers: start the MTA, or point "
	    "submit.cf's relay (FEATURE(msp), D{MTAHost}) at one that runs";
	struct submitcf_mailer m;
	struct submitcf_error err;
	struct addrinfo hints, *ai = NULL, *a;
	char name[300], host[300], where[400], port[16], greet[300], found[700];
	long long deadline;
	int code = 0, timeout = c->cfg->relay_timeout_ms > 0 ? c->cfg->relay_timeout_ms
	    : CHECK_RELAY_TIMEOUT_MS, rc;

	if (c->cf == NULL)
		return;
	submitcf_relay(c->cf, name, sizeof name, host, sizeof host);
	if (!submitcf_mailer(c->cf, "relay", &m, &err)) {
		ck_add(c, "relay", CHECK_WARNING, c->cf_path, err.reason, expected, ADVICE);
		return;
	}
	snprintf(where, sizeof where, "%s:%d", name, m.port);
	snprintf(port, sizeof port, "%d", m.port);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(found, sizeof found, "cannot resolve %s: %s", host, gai_strerror(rc));
		ck_add(c, "relay", CHECK_WARNING, where, found, expected, ADVICE);
		return;
	}
	deadline = monotime_ms() + timeout;
	snprintf(greet, sizeof greet, "no address");
	for (a = ai; a != NULL && code == 0 && monotime_ms() < deadline; a = a->ai_next)
		code = ck_greeting(a, deadline, greet, sizeof greet);
	freeaddrinfo(ai);
	if (code >= 200 && code < 300) {
		ck_add(c, "relay", CHECK_OK, where, greet, expected, NULL);
		return;
	}
	snprintf(found, sizeof found, "%s%s", greet,
	    code >= 400 ? " (it refuses mail)" : "");
	ck_add(c, "relay", CHECK_WARNING, where, found, expected, ADVICE);
}

/* -------------------------------------------------------------- table */

enum {
	CK_MSP = 1,		/* in the MSP layout (the default) */
	CK_SUIDROOT = 2,	/* with --suidroot */
	CK_STARTUP = 4,		/* before the daemon or --once starts */
};

static const struct check_def {
	void (*fn)(struct check_ctx *);
	unsigned flags;
} check_table[] = {
	{ ck_submit_cf, CK_MSP | CK_SUIDROOT | CK_STARTUP },
	{ ck_cf_version, CK_MSP },
	{ ck_cf_queuedir, CK_MSP | CK_STARTUP },
	{ ck_cf_runasuser, CK_MSP | CK_STARTUP },
	{ ck_accounts, CK_MSP },
	{ ck_binary, CK_MSP | CK_SUIDROOT },
	{ ck_client_queue, CK_MSP | CK_STARTUP },
	{ ck_queue_files, CK_MSP },
	{ ck_mta_queue, CK_MSP | CK_SUIDROOT },
	{ ck_cron, CK_MSP },
	{ ck_debian, CK_MSP },
	{ ck_systemd, CK_MSP },
	{ ck_rc_conf, CK_MSP },
	{ ck_process, CK_MSP },
	{ ck_relay, CK_MSP },
};

struct check_report *
check_run(const struct check_config *cfg)
{
	struct check_ctx c;
	unsigned want = cfg->suidroot ? CK_SUIDROOT : CK_MSP;
	size_t i;
	gid_t g;
	char *root = NULL;

	memset(&c, 0, sizeof c);
	c.cfg = cfg;
	c.rep = xcalloc(1, sizeof *c.rep);
	/* The root without a trailing slash: "" for the running system. */
	if (cfg->root != NULL) {
		size_t l = strlen(cfg->root);

		while (l > 0 && cfg->root[l - 1] == '/')
			l--;
		root = xstrndup(cfg->root, l);
	}
	c.root = root != NULL ? root : "";
	c.cf_path = cfg->submit_cf != NULL ? xstrdup(cfg->submit_cf)
	    : ck_rooted(&c, CQ_DEFAULT_SUBMIT_CF);
	c.have_smmsp_user = ck_user_by_name(&c, CK_MSP_NAME, &c.smmsp_uid, &g);
	c.have_smmsp_group = ck_group_by_name(&c, CK_MSP_NAME, &c.smmsp_gid);
	/* Until RunAsUser says otherwise, the queue is smmsp's. */
	if (c.have_smmsp_user && c.have_smmsp_group) {
		c.have_owner = true;
		c.owner_uid = c.smmsp_uid;
		c.owner_gid = c.smmsp_gid;
		snprintf(c.owner_user, sizeof c.owner_user, CK_MSP_NAME);
		snprintf(c.owner_group, sizeof c.owner_group, CK_MSP_NAME);
	}
	for (i = 0; i < sizeof check_table / sizeof check_table[0]; i++) {
		const struct check_def *d = &check_table[i];

		if (!(d->flags & want))
			continue;
		if (cfg->scope == CHECK_SCOPE_STARTUP && !(d->flags & CK_STARTUP))
			continue;
		d->fn(&c);
	}
	submitcf_free(c.cf);
	free(c.file_qdir);
	free(c.file_runas);
	free(c.qpath);
	free(c.cf_path);
	free(root);
	return c.rep;
}
