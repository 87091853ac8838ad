/*
 * check-private: what the files of the check module share (check.h is
 * its contract; nothing outside lib/check*.c includes this).
 *
 * The module is cut by concern: check.c holds the table of checks and
 * runs it; check-report.c the report the checks fill; check-parse.c the
 * parsers of cron lines, command lines and shell assignments
 * (sendmail.conf); check-sysroot.c paths under --root, bounded file reads
 * and passwd/group lookups; check-sendmail.c the checks of sendmail's own
 * parts (submit.cf, smmsp, the binary, the client and MTA queues);
 * check-runners.c those of the other runners (cron, Debian's
 * sendmail.conf, systemd, rc.conf, running processes); check-relay.c the
 * relay, met as delivery meets it.  A check adds its results with ck_add and its repairs
 * with ck_fix; what several checks need is kept in struct check_ctx,
 * filled by the checks that come first in the table.  The calls go one
 * way: check.c calls the checks, the checks call check-report.c,
 * check-parse.c and check-sysroot.c, and those call no check.
 */
#ifndef CQ_CHECK_PRIVATE_H
#define CQ_CHECK_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "check/check.h"
#include "util/strbuf.h"
#include "config/submitcf.h"

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
	const struct submitcf *cf;	/* with -O applied; NULL: did not load */
	struct submitcf *own_cf;	/* cf, when the checks loaded it */
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

/* Each is described where it is defined.  check-report.c: */
void ck_add(struct check_ctx *c, const char *check, enum check_status st,
    const char *path, const char *found, const char *expected, const char *advice);
char *ck_dup(const char *s);
void ck_fix(struct check_ctx *c, const char *check, const char *path, bool done,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* check-parse.c: */
void check_mode_str(mode_t mode, char buf[8]);

/* check-sysroot.c: */
bool ck_each_line(const char *path, void (*fn)(void *, const char *, unsigned), void *arg);
bool ck_group_by_name(const struct check_ctx *c, const char *name, gid_t *gid);
char **ck_list(const struct check_ctx *c, const char *given, const char *dflt, size_t *n);
void ck_list_free(char **v, size_t n);
void ck_owner_str(const struct check_ctx *c, uid_t uid, gid_t gid, char *buf, size_t size);
bool ck_resolve(const struct check_ctx *c, const char *path, char **out, struct strbuf *chain);
char *ck_rooted(const struct check_ctx *c, const char *path);
bool ck_run_as(const struct check_ctx *c, const char *v, uid_t *uid, gid_t *gid,
    struct error *why);
bool ck_user_by_name(const struct check_ctx *c, const char *name, uid_t *uid, gid_t *gid);
void ck_user_str(const struct check_ctx *c, uid_t uid, char *buf, size_t size);

/* check-sendmail.c, each a check of the table: */
void ck_accounts(struct check_ctx *c);
void ck_binary(struct check_ctx *c);
void ck_cf_queuedir(struct check_ctx *c);
void ck_cf_runasuser(struct check_ctx *c);
void ck_cf_version(struct check_ctx *c);
void ck_client_queue(struct check_ctx *c);
void ck_mta_queue(struct check_ctx *c);
void ck_queue_files(struct check_ctx *c);
void ck_submit_cf(struct check_ctx *c);

/* check-runners.c, each a check of the table: */
void ck_cron(struct check_ctx *c);
void ck_debian(struct check_ctx *c);
void ck_process(struct check_ctx *c);
void ck_rc_conf(struct check_ctx *c);
void ck_systemd(struct check_ctx *c);

/* check-relay.c, a check of the table: */
void ck_relay(struct check_ctx *c);

#endif
