/*
 * check: the installation checks (clientq-runner --check, and the
 * daemon's start).
 *
 * sendmail 8.12's submission program is set-group-ID smmsp and writes a
 * group-writable client queue; that layout is safe only when every part
 * of it is as the MSP expects (submit.cf, the smmsp user and group, the
 * binary's owner and mode, the queue's owner and mode, an MTA queue that
 * group smmsp cannot write), and clientq-runner does its job alone only
 * when no other client-queue runner is still scheduled.  This module
 * looks at all of it and says what it found.
 *
 * Contract
 * --------
 * - check_run() runs the table of checks (check.c) in order; each check is
 *   a function that adds one or more named results ("client-queue-mode")
 *   with a status (ok, warning, error), the path it looked at, what it
 *   found, what is expected, and, for a problem, how to deal with it.
 *   Every check in scope adds at least one result, also when there is
 *   nothing to look at ("found: absent").
 * - Every system path comes from struct check_config: a root directory
 *   that prefixes every default path and every path read from the
 *   configuration files (the installation whose / is root, as
 *   `dpkg --root` or `systemctl --root` look at one), plus one override
 *   per path, used as given.  With a root, users and groups come from
 *   root/etc/passwd and root/etc/group; without one, from the system
 *   (getpwnam).  An absolute symbolic link is followed inside the root.
 *   So a test builds a whole installation in a temporary directory.
 * - Nothing is changed unless fix is set, and then only what is listed
 *   in check_fix_*: the client queue directory created, its owner, group
 *   and mode set; with fix_binary the sendmail binary's owner and mode.
 *   A file in the queue is never deleted, moved, opened for writing or
 *   rewritten; submit.cf, the MTA's queue, cron and rc.conf are only read.
 *   Each change is recorded (what, and whether it worked); the results
 *   then describe the state after the changes.
 * - The relay check meets the relay named in submit.cf as delivery will:
 *   at the address and with the EHLO name delivery uses (relay.h),
 *   through the runner's own SMTP client (smtp.h), it reads the greeting,
 *   says EHLO, and goes through STARTTLS and AUTH as conf asks
 *   (tls.policy, auth.mechanisms, with the TLS and AUTH clients
 *   conf_secure makes for delivery); then QUIT.  It never sends MAIL.
 *   The whole session is bounded by relay_timeout_ms (the relay's name
 *   looked up in DNS aside).  Ok says what TLS gave and whether AUTH was
 *   accepted; a warning names the failure in the words delivery would log
 *   (smtp_error): no answer, a greeting that refuses mail, or STARTTLS or
 *   AUTH not as the policy demands.  The start-up scope does not run it.
 * - Everything the report holds belongs to it: check_report_free.
 */
#ifndef CQ_CHECK_H
#define CQ_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct conf;

enum check_status {
	CHECK_OK = 0,
	CHECK_WARNING = 1,
	CHECK_ERROR = 2,
};

/* Which checks: all of them (--check), or only those about the runner's
 * own ability to run safely (submit.cf, its QueueDirectory and RunAsUser,
 * the client queue's existence, owner, group and mode): what the daemon
 * and --once run before they start. */
enum check_scope {
	CHECK_SCOPE_ALL,
	CHECK_SCOPE_STARTUP,
};

struct submitcf;

struct check_config {
	const char *root;		/* NULL, "" or "/": the running system */
	const char *submit_cf;		/* -C; NULL: configure's submit.cf
					 * (/etc/mail/submit.cf) under root */
	char *const *overrides;		/* -O Option=value, as the runner gets them */
	size_t noverrides;
	/* The runner's own submit.cf, loaded from submit_cf with the -O
	 * options applied: when set, the checks look at this object (and at
	 * the file's mode and owner) rather than reading the file again, so
	 * that what the start-up check passed is what the run uses.  The
	 * caller keeps it. */
	const struct submitcf *loaded_cf;
	const char *sendmail;		/* NULL: the first sendmail on PATH, else
					 * /usr/sbin/sendmail (with a root:
					 * root/usr/sbin/sendmail) */
	const char *sendmail_cf;	/* NULL: root/etc/mail/sendmail.cf */
	const char *mta_queue;		/* NULL: sendmail.cf's QueueDirectory,
					 * else root/var/spool/mqueue */
	const char *cron_paths;		/* ':'-separated files and directories;
					 * NULL: CHECK_CRON_PATHS under root */
	const char *systemd_dirs;	/* ':'-separated; NULL: CHECK_SYSTEMD_DIRS */
	const char *rc_conf;		/* ':'-separated, in the order they are
					 * read; NULL: CHECK_RC_CONF */
	const char *sendmail_conf;	/* Debian's; NULL: root/etc/mail/sendmail.conf */
	const char *proc;		/* NULL: root/proc */
	const char *passwd, *group;	/* NULL: root/etc/passwd and root/etc/group
					 * with a root, else the system's */
	const char *path_env;		/* where to look for sendmail without a
					 * root; NULL: $PATH */
	bool suidroot;			/* sendmail is setuid root, no MSP */
	bool fix, fix_binary;
	int relay_timeout_ms;		/* the relay check's whole session;
					 * 0: CHECK_RELAY_TIMEOUT_MS */
	/* clientq.conf as the runner reads it (conf_read): the relay check
	 * goes through STARTTLS and AUTH as its TLS and AUTH settings say
	 * (the credentials must belong to RunAsUser, as the runner reads
	 * them as that user).  NULL: plain SMTP, no STARTTLS, no AUTH. */
	const struct conf *conf;
	enum check_scope scope;
};

#define CHECK_CRON_PATHS \
	"/etc/crontab:/etc/cron.d:/var/spool/cron/crontabs:/var/spool/cron:/var/cron/tabs"
#define CHECK_SYSTEMD_DIRS \
	"/etc/systemd/system:/run/systemd/system:/usr/lib/systemd/system:/lib/systemd/system"
#define CHECK_RC_CONF \
	"/etc/defaults/rc.conf:/etc/rc.conf:/etc/rc.conf.local:/etc/rc.conf.d/sendmail"
#define CHECK_RELAY_TIMEOUT_MS 3000

struct check_result {
	const char *check;	/* the check's name, e.g. "client-queue-mode" */
	enum check_status status;
	char *path;
	char *found;
	char *expected;
	char *advice;		/* how to repair or turn it off; NULL when ok */
};

struct check_fix {
	const char *check;	/* the result it repairs */
	char *path;
	char *change;		/* "mode 0775 -> 0770" */
	bool done;		/* false: tried and failed (change says why) */
};

struct check_report;

struct check_report *check_run(const struct check_config *cfg);
void check_report_free(struct check_report *rep);

size_t check_count(const struct check_report *rep);
const struct check_result *check_get(const struct check_report *rep, size_t i);
size_t check_fix_count(const struct check_report *rep);
const struct check_fix *check_fix_get(const struct check_report *rep, size_t i);

/* check_worst: the worst status in the report (CHECK_OK when empty). */
enum check_status check_worst(const struct check_report *rep);

const char *check_status_str(enum check_status st);

/* One line per change ("fixed|not fixed CHECK PATH: CHANGE"), then one
 * line per result: "STATUS CHECK PATH: found FOUND; expected EXPECTED",
 * with "; ADVICE" for a problem. */
void check_print_text(const struct check_report *rep, FILE *fp);
/* {"status":..., "fixes":[...], "checks":[{"check","status","path",
 * "found","expected","advice"}...]} */
void check_print_json(const struct check_report *rep, FILE *fp);

/* ---------------------------------------------------------------------
 * The pure parts, exported for their tests.
 */

/* check_cron_line: whether a crontab line (an /etc/cron.d or a user's
 * crontab line) runs sendmail's client queue: Debian's "cron-msp", or a
 * sendmail command with -Ac and -q.  Comments and assignments never do. */
enum check_cron_kind {
	CHECK_CRON_NONE,
	CHECK_CRON_DEBIAN,	/* /usr/share/sendmail/sendmail cron-msp */
	CHECK_CRON_SENDMAIL,	/* sendmail ... -Ac ... -q... */
};
enum check_cron_kind check_cron_line(const char *line);

/* check_cmdline_runner: whether a process's command line (/proc/PID/
 * cmdline: len bytes, arguments separated by NULs) is sendmail's runner
 * of the client queue qdir: "sendmail ... -Ac ... -q...", or the title
 * sendmail gives itself ("sendmail: Queue runner@00:30:00 for QDIR").
 * qdir may be NULL (then only the first form is recognised). */
bool check_cmdline_runner(const char *cmdline, size_t len, const char *qdir);

/* check_queue_entry: what a name in the client queue directory is. */
enum check_entry {
	CHECK_ENTRY_QUEUE,	/* qf, df, tf, Tf, xf, hf + a queue ID */
	CHECK_ENTRY_LOST,	/* Qf + a queue ID */
	CHECK_ENTRY_SUBDIR,	/* qf, df, xf (sendmail's subdirectories) */
	CHECK_ENTRY_SENDMAIL,	/* sm-client.pid, sm-client.st */
	CHECK_ENTRY_STRAY,	/* anything else */
};
enum check_entry check_queue_entry(const char *name);

/* Shell-style assignments (Debian's sendmail.conf, the BSDs' rc.conf):
 * NAME=value, NAME="value" (with $NAME and ${NAME} of earlier
 * assignments expanded), NAME='value', an optional ';' and a comment
 * after it.  Later assignments win; origin says which file set a value. */
struct check_vars;
struct check_vars *check_vars_new(void);
void check_vars_free(struct check_vars *v);
/* check_vars_line: apply one line; false when it is not an assignment. */
bool check_vars_line(struct check_vars *v, const char *line, const char *origin);
void check_vars_set(struct check_vars *v, const char *name, const char *value,
    const char *origin);
/* The value (NULL when unset) and the origin of the last assignment. */
const char *check_vars_get(const struct check_vars *v, const char *name,
    const char **origin);

/* check_yesno: rc.subr's checkyesno: YES, TRUE, ON, 1 in any case. */
bool check_yesno(const char *value);

#endif
