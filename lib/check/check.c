/*
 * check: the installation checks.  See check.h for the contract, and
 * check-private.h for how the module is cut.
 *
 * This file: the checks' table (check_table) and check_run, which runs
 * it: each entry a function that looks at one part of the installation
 * and adds its results, with the scopes and modes it belongs to.
 */
#include "config.h"

#include "check/check-private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"
#include "util/xalloc.h"

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
