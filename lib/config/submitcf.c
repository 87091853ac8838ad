#include "config.h"

#include "config/submitcf.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/xalloc.h"

struct submitcf_kv {
	char *name;
	char *value;
	unsigned line;		/* where it was defined (mailers) */
};

struct submitcf {
	char *path;
	char *version;			/* the V line's value, or NULL */
	struct submitcf_kv *opts;	/* later entries win */
	size_t nopts, optcap;
	size_t nfile_opts;		/* the first nfile_opts are the file's:
					 * those after, -O overrides */
	struct submitcf_kv *macros;
	size_t nmacros, macrocap;
	struct submitcf_kv *mailers;	/* name -> the definition, continuation
					 * lines joined with a space */
	size_t nmailers, mailercap;
	struct submitcf_kv *classes;	/* name -> one word */
	size_t nclasses, classcap;
	struct submitcf_kv *rules;	/* ruleset name -> one R line */
	size_t nrules, rulecap;
};

static void
submitcf_fail(struct error *err, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
submitcf_fail(struct error *err, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	error_setv(err, 0, fmt, ap);
	va_end(ap);
	err->line = line;
}

static void
submitcf_add(struct submitcf_kv **v, size_t *n, size_t *cap, const char *name,
    size_t namelen, const char *value)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 32;
		*v = xreallocarray(*v, *cap, sizeof **v);
	}
	(*v)[*n].name = xstrndup(name, namelen);
	(*v)[*n].value = xstrdup(value);
	(*v)[*n].line = 0;
	(*n)++;
}

/* "Name=value" (spaces around '=' allowed, as sendmail allows).  A name
 * alone means "True" for a boolean option. */
static bool
submitcf_parse_option(struct submitcf *cf, const char *s)
{
	const char *name, *end, *eq;
	size_t namelen;

	while (*s == ' ' || *s == '\t')
		s++;
	name = s;
	eq = strchr(s, '=');
	end = eq ? eq : s + strlen(s);
	while (end > name && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	namelen = (size_t)(end - name);
	if (namelen == 0)
		return false;
	if (eq != NULL) {
		eq++;
		while (*eq == ' ' || *eq == '\t')
			eq++;
	}
	submitcf_add(&cf->opts, &cf->nopts, &cf->optcap, name, namelen,
	    eq ? eq : "True");
	return true;
}

/* The file's lines, read from fp (closed here); path names it. */
static struct submitcf *
submitcf_read(FILE *fp, const char *path, struct error *err)
{
	struct submitcf *cf;
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	bool in_mailer = false;
	char *ruleset = NULL;	/* the S line in force, for R lines */
	ssize_t n;

	cf = xcalloc(1, sizeof *cf);
	cf->path = xstrdup(path);
	while ((n = getline(&line, &cap, fp)) >= 0) {
		lineno++;
		if (n > SUBMITCF_LINE_MAX) {
			submitcf_fail(err, lineno, "%s:%u: line longer than %d octets",
			    path, lineno, SUBMITCF_LINE_MAX);
			goto fail;
		}
		if (memchr(line, '\0', (size_t)n) != NULL) {
			submitcf_fail(err, lineno, "%s:%u: NUL byte in the line",
			    path, lineno);
			goto fail;
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if ((line[0] == ' ' || line[0] == '\t') && in_mailer) {
			/* Continuation of a mailer definition. */
			struct submitcf_kv *mk = &cf->mailers[cf->nmailers - 1];
			char *joined = xasprintf("%s %s", mk->value, line);

			free(mk->value);
			mk->value = joined;
			continue;
		}
		in_mailer = false;
		switch (line[0]) {
		case 'C': {
			const char *w = line + 2, *close;
			size_t nlen = 1;

			if (line[1] == '{') {
				close = strchr(line + 2, '}');
				if (close == NULL)
					break;
				nlen = (size_t)(close - line);
				w = close + 1;
			} else if (line[1] == '\0') {
				break;
			}
			while (*w != '\0') {
				size_t k;

				w += strspn(w, " \t");
				k = strcspn(w, " \t");
				if (k > 0) {
					char *word = xstrndup(w, k);

					submitcf_add(&cf->classes, &cf->nclasses,
					    &cf->classcap, line + 1, nlen, word);
					free(word);
				}
				w += k;
			}
			break;
		}
		case 'S': {
			size_t k = strcspn(line + 1, "= \t");

			free(ruleset);
			ruleset = xstrndup(line + 1, k);
			break;
		}
		case 'R':
			if (ruleset != NULL)
				submitcf_add(&cf->rules, &cf->nrules, &cf->rulecap,
				    ruleset, strlen(ruleset), line + 1);
			break;
		case 'M': {
			const char *comma = strchr(line + 1, ',');

			if (comma == NULL || comma == line + 1) {
				submitcf_fail(err, lineno, "%s:%u: malformed mailer definition (expected 'Mname, ...')",
				    path, lineno);
				goto fail;
			}
			submitcf_add(&cf->mailers, &cf->nmailers, &cf->mailercap,
			    line + 1, (size_t)(comma - line - 1), comma + 1);
			cf->mailers[cf->nmailers - 1].line = lineno;
			in_mailer = true;
			break;
		}
		case 'O':
			/* "O Name=value"; a single-letter old-style option
			 * ("Oxvalue") is not used by any current submit.cf. */
			if (line[1] != ' ' || !submitcf_parse_option(cf, line + 2)) {
				submitcf_fail(err, lineno, "%s:%u: malformed option line (expected 'O Name=value')",
				    path, lineno);
				goto fail;
			}
			break;
		case 'V':
			free(cf->version);
			cf->version = xstrdup(line + 1);
			break;
		case 'D':
			if (line[1] == '{') {
				const char *close = strchr(line + 2, '}');

				if (close == NULL || close == line + 2) {
					submitcf_fail(err, lineno, "%s:%u: malformed macro definition (unbalanced or empty {name})",
					    path, lineno);
					goto fail;
				}
				submitcf_add(&cf->macros, &cf->nmacros,
				    &cf->macrocap, line + 1,
				    (size_t)(close - line), close + 1);
			} else if (line[1] > ' ' && line[1] < 0x7f) {
				submitcf_add(&cf->macros, &cf->nmacros,
				    &cf->macrocap, line + 1, 1, line + 2);
			} else {
				submitcf_fail(err, lineno, "%s:%u: malformed macro definition (no name)",
				    path, lineno);
				goto fail;
			}
			break;
		default:
			/* Rulesets, classes, headers, comments: not needed. */
			break;
		}
	}
	if (ferror(fp)) {
		submitcf_fail(err, 0, "%s: read error: %s", path, strerror(errno));
		goto fail;
	}
	free(line);
	free(ruleset);
	fclose(fp);
	cf->nfile_opts = cf->nopts;
	return cf;
fail:
	free(line);
	free(ruleset);
	fclose(fp);
	submitcf_free(cf);
	return NULL;
}

struct submitcf *
submitcf_load(const char *path, struct error *err)
{
	FILE *fp = fopen(path, "re");

	if (fp == NULL) {
		submitcf_fail(err, 0, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	return submitcf_read(fp, path, err);
}

struct submitcf *
submitcf_parse(const char *data, size_t len, const char *name,
    struct error *err)
{
	struct submitcf *cf;
	FILE *fp;

	if (len == 0) {
		/* What an empty file gives (fmemopen may refuse size 0). */
		cf = xcalloc(1, sizeof *cf);
		cf->path = xstrdup(name);
		return cf;
	}
	/* The same reader, over the bytes: what the file would give. */
	fp = fmemopen((void *)data, len, "r");
	if (fp == NULL) {
		submitcf_fail(err, 0, "%s: cannot read: %s", name, strerror(errno));
		return NULL;
	}
	return submitcf_read(fp, name, err);
}

void
submitcf_free(struct submitcf *cf)
{
	size_t i;

	if (cf == NULL)
		return;
	for (i = 0; i < cf->nopts; i++) {
		free(cf->opts[i].name);
		free(cf->opts[i].value);
	}
	for (i = 0; i < cf->nmacros; i++) {
		free(cf->macros[i].name);
		free(cf->macros[i].value);
	}
	for (i = 0; i < cf->nmailers; i++) {
		free(cf->mailers[i].name);
		free(cf->mailers[i].value);
	}
	for (i = 0; i < cf->nclasses; i++) {
		free(cf->classes[i].name);
		free(cf->classes[i].value);
	}
	for (i = 0; i < cf->nrules; i++) {
		free(cf->rules[i].name);
		free(cf->rules[i].value);
	}
	free(cf->classes);
	free(cf->rules);
	free(cf->opts);
	free(cf->macros);
	free(cf->mailers);
	free(cf->version);
	free(cf->path);
	free(cf);
}

const char *
submitcf_path(const struct submitcf *cf)
{
	return cf->path;
}

const char *
submitcf_version(const struct submitcf *cf)
{
	return cf->version;
}

void
submitcf_relay(const struct submitcf *cf, char *name, size_t namesz, char *host,
    size_t hostsz)
{
	const char *h = submitcf_macro(cf, "{MTAHost}");
	size_t n;

	if (h == NULL || *h == '\0')
		h = "[localhost]";
	snprintf(name, namesz, "%s", h);
	n = strlen(h);
	if (h[0] == '[' && n > 2 && h[n - 1] == ']')
		snprintf(host, hostsz, "%.*s", (int)(n - 2), h + 1);
	else
		snprintf(host, hostsz, "%s", h);
}

bool
submitcf_set_option(struct submitcf *cf, const char *arg,
    struct error *err)
{
	if (strchr(arg, '=') == NULL || !submitcf_parse_option(cf, arg)) {
		submitcf_fail(err, 0, "-O %s: expected Option=value", arg);
		return false;
	}
	return true;
}

const char *
submitcf_option(const struct submitcf *cf, const char *name)
{
	size_t i;

	for (i = cf->nopts; i > 0; i--)
		if (strcasecmp(cf->opts[i - 1].name, name) == 0)
			return cf->opts[i - 1].value;
	return NULL;
}

const char *
submitcf_file_option(const struct submitcf *cf, const char *name)
{
	size_t i;

	for (i = cf->nfile_opts; i > 0; i--)
		if (strcasecmp(cf->opts[i - 1].name, name) == 0)
			return cf->opts[i - 1].value;
	return NULL;
}

const char *
submitcf_macro(const struct submitcf *cf, const char *name)
{
	size_t i;

	for (i = cf->nmacros; i > 0; i--)
		if (strcmp(cf->macros[i - 1].name, name) == 0)
			return cf->macros[i - 1].value;
	return NULL;
}

const char *
submitcf_queue_dir(const struct submitcf *cf, struct error *err)
{
	const char *q = submitcf_option(cf, "QueueDirectory");

	if (q == NULL || *q == '\0') {
		submitcf_fail(err, 0, "%s: no QueueDirectory option", cf->path);
		return NULL;
	}
	if (q[0] != '/') {
		submitcf_fail(err, 0, "%s: QueueDirectory '%s' is not an absolute path",
		    cf->path, q);
		return NULL;
	}
	if (strpbrk(q, "*?[") != NULL) {
		submitcf_fail(err, 0, "%s: QueueDirectory '%s' is a wildcard; several client queues are not supported",
		    cf->path, q);
		return NULL;
	}
	return q;
}

static bool
submitcf_number(const char *s, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/* T=mta/addr/diag ("DNS/RFC822/SMTP"): the DSN type names. */
/* submitcf_number for the len octets at s (a field inside a line). */
static bool
submitcf_number_n(const char *s, size_t len, unsigned long *out)
{
	char buf[32];

	if (len == 0 || len >= sizeof buf)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return submitcf_number(buf, out);
}

static void
submitcf_mailer_types(struct submitcf_mailer *m, const char *v, size_t len)
{
	char buf[sizeof m->mtatype * 3], *save = NULL, *t[3] = { NULL, NULL, NULL }, *w;
	size_t n = 0;

	snprintf(buf, sizeof buf, "%.*s", (int)len, v);
	for (w = strtok_r(buf, "/", &save); w != NULL && n < 3; w = strtok_r(NULL, "/", &save))
		t[n++] = w;
	if (t[0] != NULL)
		snprintf(m->mtatype, sizeof m->mtatype, "%s", t[0]);
	if (t[1] != NULL)
		snprintf(m->addrtype, sizeof m->addrtype, "%s", t[1]);
	if (t[2] != NULL)
		snprintf(m->diagtype, sizeof m->diagtype, "%s", t[2]);
}

bool
submitcf_mailer(const struct submitcf *cf, const char *name,
    struct submitcf_mailer *m, struct error *err)
{
	const char *def = NULL, *p;
	unsigned line = 0;
	unsigned long lim;
	size_t i;

	memset(m, 0, sizeof *m);
	m->port = 25;
	snprintf(m->mtatype, sizeof m->mtatype, "dns");
	snprintf(m->addrtype, sizeof m->addrtype, "rfc822");
	snprintf(m->diagtype, sizeof m->diagtype, "smtp");
	for (i = cf->nmailers; i > 0; i--)
		if (strcmp(cf->mailers[i - 1].name, name) == 0) {
			def = cf->mailers[i - 1].value;
			line = cf->mailers[i - 1].line;
			break;
		}
	if (def == NULL) {
		submitcf_fail(err, 0, "%s: no mailer '%s' is defined", cf->path, name);
		return false;
	}
	/* Fields are "X=value" separated by commas; none of the values this
	 * runner reads (F, L, A) contains a comma. */
	for (p = def; *p != '\0';) {
		const char *end = strchr(p, ','), *v;
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		if (end == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len >= 2 && p[1] == '=') {
			v = p + 2;
			len -= 2;
			switch (p[0]) {
			case 'F':
				snprintf(m->flags, sizeof m->flags, "%.*s", (int)len, v);
				break;
			case 'L':
				/* Rendering splits a longer line into pieces of
				 * L - 2 octets after the first: L=1 or L=2 would
				 * make pieces of nothing (render.c would loop),
				 * and strtol() took "-5" or "9x" as they came. */
				if (!submitcf_number_n(v, len, &lim) ||
				    (lim > 0 && lim < 3) || lim > SUBMITCF_LINELIMIT_MAX) {
					submitcf_fail(err, line, "%s:%u: mailer '%s' has L=%.*s; expected a line length of 3 to %d octets (or 0, no limit)",
					    cf->path, line, name, (int)len, v, SUBMITCF_LINELIMIT_MAX);
					return false;
				}
				m->linelimit = (long)lim;
				break;
			case 'A':
				snprintf(m->argv, sizeof m->argv, "%.*s", (int)len, v);
				break;
			case 'T':
				submitcf_mailer_types(m, v, len);
				break;
			default:
				break;
			}
		}
		p = *end ? end + 1 : end;
	}
	/* A=TCP $h [port]: exactly these tokens. */
	{
		char copy[sizeof m->argv], *save = NULL, *tok[4];
		unsigned long port = 25;
		int k = 0;

		snprintf(copy, sizeof copy, "%s", m->argv);
		for (char *t = strtok_r(copy, " \t", &save); t != NULL && k < 4;
		    t = strtok_r(NULL, " \t", &save))
			tok[k++] = t;
		if (k < 2 || k > 3 || strcmp(tok[0], "TCP") != 0 ||
		    strcmp(tok[1], "$h") != 0 ||
		    (k == 3 && (!submitcf_number(tok[2], &port) || port < 1 || port > 65535))) {
			submitcf_fail(err, line, "%s:%u: mailer '%s' has A=%s; expected 'TCP $h [port]'",
			    cf->path, line, name, m->argv);
			return false;
		}
		m->port = (int)port;
	}
	return true;
}

bool
submitcf_interval(const char *s, long long *secs)
{
	long long total = 0;

	if (*s == '\0')
		return false;
	while (*s != '\0') {
		long long t = 0, mult;

		if (*s < '0' || *s > '9')
			return false;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (t > LLONG_MAX / 100000000)
				return false;
			t = t * 10 + (*s - '0');
		}
		switch (*s) {
		case 'w':
			mult = 7 * 24 * 3600;
			break;
		case 'd':
			mult = 24 * 3600;
			break;
		case 'h':
			mult = 3600;
			break;
		case '\0':
		case 'm':
			mult = 60;
			break;
		case 's':
			mult = 1;
			break;
		default:
			return false;
		}
		if (*s != '\0')
			s++;
		/* Many terms could add up past what a long long holds. */
		if (t > (LLONG_MAX - total) / mult)
			return false;
		total += t * mult;
	}
	*secs = total;
	return true;
}

bool
submitcf_timeout(const struct submitcf *cf, const char *kind, const char *cls,
    long long *secs, struct error *err)
{
	char base[64], star[64], one[96];
	const char *val = NULL;
	size_t i;

	snprintf(base, sizeof base, "Timeout.%s", kind);
	snprintf(star, sizeof star, "Timeout.%s.*", kind);
	snprintf(one, sizeof one, "Timeout.%s.%s", kind, cls);
	for (i = 0; i < cf->nopts; i++) {
		const char *n = cf->opts[i].name;

		if (strcasecmp(n, base) == 0 || strcasecmp(n, star) == 0 ||
		    strcasecmp(n, one) == 0)
			val = cf->opts[i].value;
	}
	if (val == NULL) {
		if (err != NULL)
			err->reason[0] = '\0';
		return false;
	}
	if (!submitcf_interval(val, secs)) {
		submitcf_fail(err, 0, "%s: %s=%s is not a time interval", cf->path,
		    one, val);
		return false;
	}
	return true;
}

/* The system's accounts (getpwnam, getgrnam), for submitcf_run_as. */
static bool
submitcf_sys_user(void *arg, const char *name, uid_t id, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = name != NULL ? getpwnam(name) : getpwuid(id);

	(void)arg;
	if (pw == NULL)
		return false;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return true;
}

static bool
submitcf_sys_group(void *arg, const char *name, gid_t *gid)
{
	struct group *gr = getgrnam(name);

	(void)arg;
	if (gr == NULL)
		return false;
	*gid = gr->gr_gid;
	return true;
}

bool
submitcf_run_as_value(const char *v, const struct submitcf_accounts *acc,
    uid_t *uid, gid_t *gid, struct error *why)
{
	static const struct submitcf_accounts sys = { submitcf_sys_user,
	    submitcf_sys_group, NULL };
	char user[256];
	const char *group = NULL, *colon;
	unsigned long n;
	uid_t u;

	if (acc == NULL)
		acc = &sys;
	colon = strchr(v, ':');
	snprintf(user, sizeof user, "%.*s", (int)(colon ? colon - v : (int)strlen(v)), v);
	if (colon != NULL)
		group = colon + 1;
	if (submitcf_number(user, &n)) {
		*uid = (uid_t)n;
		if (!acc->user(acc->arg, NULL, *uid, &u, gid))
			*gid = (gid_t)-1;
	} else if (!acc->user(acc->arg, user, 0, uid, gid)) {
		error_set(why, 0, "no such user");
		return false;
	}
	if (group != NULL && *group != '\0') {
		if (submitcf_number(group, &n))
			*gid = (gid_t)n;
		else if (!acc->group(acc->arg, group, gid)) {
			error_set(why, 0, "no such group");
			return false;
		}
	}
	if (*gid == (gid_t)-1) {
		error_set(why, 0, "no group for that uid");
		return false;
	}
	return true;
}

bool
submitcf_run_as(const struct submitcf *cf, uid_t *uid, gid_t *gid,
    struct error *err)
{
	const char *v = submitcf_option(cf, "RunAsUser");
	struct error why;

	if (v == NULL || *v == '\0') {
		submitcf_fail(err, 0, "%s: no RunAsUser option", cf->path);
		return false;
	}
	if (!submitcf_run_as_value(v, NULL, uid, gid, &why)) {
		submitcf_fail(err, 0, "%s: RunAsUser=%s: %s", cf->path, v, why.reason);
		return false;
	}
	return true;
}

bool
submitcf_class_has(const struct submitcf *cf, const char *name, const char *word)
{
	size_t i;

	for (i = 0; i < cf->nclasses; i++)
		if (strcmp(cf->classes[i].name, name) == 0 &&
		    strcasecmp(cf->classes[i].value, word) == 0)
			return true;
	return false;
}

bool
submitcf_ruleset_calls(const struct submitcf *cf, const char *rs,
    const char *callee)
{
	char needle[128];
	size_t i;

	snprintf(needle, sizeof needle, "$>%s", callee);
	for (i = 0; i < cf->nrules; i++)
		if (strcmp(cf->rules[i].name, rs) == 0 &&
		    strstr(cf->rules[i].value, needle) != NULL)
			return true;
	return false;
}
