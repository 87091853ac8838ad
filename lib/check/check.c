/*
 * check: the installation checks.  See check.h for the contract, and
 * check-private.h for how the module is cut.
 *
 * This file: the report (results, repairs, the text and JSON printers)
 * and the checks' table (check_table, at the end): each entry a function
 * that looks at one part of the installation and adds its results, with
 * the scopes and modes it belongs to.
 */
#include "config.h"

#include "check/check-private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"
#include "util/xalloc.h"

/* ------------------------------------------------------------ report */

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
	submitcf_free(c.own_cf);
	free(c.file_qdir);
	free(c.file_runas);
	free(c.qpath);
	free(c.cf_path);
	free(root);
	return c.rep;
}
