/*
 * check-report: the report the checks fill (ck_add, ck_fix), read
 * (check_count, check_get, ...) and printed as text or JSON.  Below
 * every other file of the module: the checks call it, and it calls none
 * of them.  See check.h for the contract.
 */
#include "config.h"

#include "check/check-private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"
#include "util/xalloc.h"

char *
ck_dup(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

void
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

void
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
		json_string(fp, value);
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
