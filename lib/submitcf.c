#include "config.h"

#include "submitcf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xalloc.h"

struct submitcf_kv {
	char *name;
	char *value;
};

struct submitcf {
	char *path;
	struct submitcf_kv *opts;	/* later entries win */
	size_t nopts, optcap;
	struct submitcf_kv *macros;
	size_t nmacros, macrocap;
};

static void
submitcf_fail(struct submitcf_error *err, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
submitcf_fail(struct submitcf_error *err, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	err->line = line;
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof err->reason, fmt, ap);
	va_end(ap);
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

struct submitcf *
submitcf_load(const char *path, struct submitcf_error *err)
{
	struct submitcf *cf;
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	ssize_t n;
	FILE *fp;

	fp = fopen(path, "re");
	if (fp == NULL) {
		submitcf_fail(err, 0, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
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
		switch (line[0]) {
		case 'O':
			/* "O Name=value"; a single-letter old-style option
			 * ("Oxvalue") is not used by any current submit.cf. */
			if (line[1] != ' ' || !submitcf_parse_option(cf, line + 2)) {
				submitcf_fail(err, lineno, "%s:%u: malformed option line (expected 'O Name=value')",
				    path, lineno);
				goto fail;
			}
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
			/* Rulesets, mailers, classes, headers: read by later
			 * parts of the runner as they need them. */
			break;
		}
	}
	if (ferror(fp)) {
		submitcf_fail(err, 0, "%s: read error: %s", path, strerror(errno));
		goto fail;
	}
	free(line);
	fclose(fp);
	return cf;
fail:
	free(line);
	fclose(fp);
	submitcf_free(cf);
	return NULL;
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
	free(cf->opts);
	free(cf->macros);
	free(cf->path);
	free(cf);
}

const char *
submitcf_path(const struct submitcf *cf)
{
	return cf->path;
}

bool
submitcf_set_option(struct submitcf *cf, const char *arg,
    struct submitcf_error *err)
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
submitcf_macro(const struct submitcf *cf, const char *name)
{
	size_t i;

	for (i = cf->nmacros; i > 0; i--)
		if (strcmp(cf->macros[i - 1].name, name) == 0)
			return cf->macros[i - 1].value;
	return NULL;
}

const char *
submitcf_queue_dir(const struct submitcf *cf, struct submitcf_error *err)
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
