/*
 * submitcf: settings from a compiled sendmail configuration (submit.cf).
 *
 * clientq-runner has no configuration of its own for what submit.cf
 * already says: it reads the same file the submission program reads.
 * This module reads option lines ("O Name=value") and macro definitions
 * ("Dxvalue", "D{name}value"); options given on the command line with
 * -O Name=value override the file, as with sendmail.
 *
 * Contract: submitcf_load() either returns a complete settings object or
 * NULL with an error naming the file and line.  Option names compare
 * without regard to case, as sendmail's do.  A missing option is NULL;
 * callers apply sendmail's defaults.
 */
#ifndef CQ_SUBMITCF_H
#define CQ_SUBMITCF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

#define SUBMITCF_LINE_MAX 8192
/* The longest L= a mailer may have (sendmail's own relay has 2040). */
#define SUBMITCF_LINELIMIT_MAX 1000000

struct submitcf;

/* Errors (util/error.h): reason "FILE:LINE: problem" or "FILE:
 * problem", line 0 when not about a line. */

struct submitcf *submitcf_load(const char *path, struct error *err);
/* submitcf_parse: the same from len bytes at data (the file's contents;
 * name stands for its path in errors and submitcf_path), for tests and
 * the fuzzer. */
struct submitcf *submitcf_parse(const char *data, size_t len, const char *name,
    struct error *err);
void submitcf_free(struct submitcf *cf);
const char *submitcf_path(const struct submitcf *cf);

/* submitcf_version: the V line's value ("10/Berkeley": the configuration
 * language version, then the vendor), the last one when there are
 * several; NULL when the file has none. */
const char *submitcf_version(const struct submitcf *cf);

/* submitcf_relay: the relay, as D{MTAHost} names it ("[127.0.0.1]"; when
 * unset, FEATURE(msp)'s default "[localhost]") in name, and what to
 * resolve or connect to (without the brackets) in host. */
void submitcf_relay(const struct submitcf *cf, char *name, size_t namesz,
    char *host, size_t hostsz);

/* submitcf_set_option: apply a -O "Name=value" override.  False (and err)
 * when the argument has no '=' or no name. */
bool submitcf_set_option(struct submitcf *cf, const char *arg,
    struct error *err);

/* submitcf_option: the value of an option, or NULL when not set. */
const char *submitcf_option(const struct submitcf *cf, const char *name);
/* submitcf_file_option: the value the file itself gives, whatever -O
 * said after (submitcf_set_option), or NULL. */
const char *submitcf_file_option(const struct submitcf *cf, const char *name);

/* submitcf_macro: the value of a D macro ("j", "{MTAHost}"), or NULL. */
const char *submitcf_macro(const struct submitcf *cf, const char *name);

/* submitcf_queue_dir: O QueueDirectory, checked: absolute, and not a
 * wildcard (several client queues are not supported, as sendmail's own
 * cf/README says of the MSP).  NULL and err otherwise. */
const char *submitcf_queue_dir(const struct submitcf *cf,
    struct error *err);

/* submitcf_class_has: whether word is in class name ("w", "{VirtHost}")
 * as the cf's C lines define it (case-insensitive, as sendmail's classes;
 * F lines, which read files, are not followed). */
bool submitcf_class_has(const struct submitcf *cf, const char *name,
    const char *word);

/* submitcf_ruleset_calls: whether ruleset rs (by name, "MasqEnv") has a
 * rule that calls ruleset callee ("$>MasqHdr") -- how FEATURE(
 * masquerade_envelope) shows in a compiled cf. */
bool submitcf_ruleset_calls(const struct submitcf *cf, const char *rs,
    const char *callee);

/* A mailer definition ("Mrelay, P=[IPC], F=mDFMuXa8k, ..., A=TCP $h"). */
struct submitcf_mailer {
	char flags[128];	/* F= letters; "" when absent */
	long linelimit;		/* L=, 0 when absent (sendmail: no limit) */
	int port;		/* from A=TCP $h [port]; 25 when absent */
	char argv[256];		/* A= as written */
	/* T=: the type names of DSN fields; sendmail's defaults (those of
	 * the relay mailer) when absent. */
	char mtatype[32];	/* Remote-MTA: "DNS" */
	char addrtype[32];	/* Final-Recipient: "RFC822" */
	char diagtype[32];	/* Diagnostic-Code: "SMTP" */
};

/* submitcf_mailer: the mailer named name ("relay").  False and err when it
 * is not defined, its L= is not 0 or 3 to SUBMITCF_LINELIMIT_MAX, or its
 * A= is not "TCP $h [port]" (the client queue only ever talks SMTP over
 * TCP). */
bool submitcf_mailer(const struct submitcf *cf, const char *name,
    struct submitcf_mailer *m, struct error *err);

/* submitcf_interval: a sendmail time interval ("4h", "5d", "1h30m", "90";
 * the default unit is minutes, as for every Timeout option) in seconds.
 * False on anything else (sendmail warns and guesses; we refuse). */
bool submitcf_interval(const char *s, long long *secs);

/* submitcf_timeout: Timeout.<kind> for the precedence class cls ("normal",
 * "urgent", "non-urgent"): the last of Timeout.<kind>, Timeout.<kind>.*
 * and Timeout.<kind>.<cls> in file order, then -O overrides.  False when
 * none is set (the caller applies sendmail's default); false with err set
 * when the value is not an interval. */
bool submitcf_timeout(const struct submitcf *cf, const char *kind,
    const char *cls, long long *secs, struct error *err);

/* submitcf_run_as: O RunAsUser ("user", "user:group", "uid:gid") resolved
 * to ids.  False and err when unset or unknown. */
bool submitcf_run_as(const struct submitcf *cf, uid_t *uid, gid_t *gid,
    struct error *err);

/* Where submitcf_run_as_value looks users and groups up: user by name
 * (name != NULL) or by id, giving its uid and group; group by name. */
struct submitcf_accounts {
	bool (*user)(void *arg, const char *name, uid_t id, uid_t *uid, gid_t *gid);
	bool (*group)(void *arg, const char *name, gid_t *gid);
	void *arg;
};

/* submitcf_run_as_value: a RunAsUser value resolved as submitcf_run_as
 * does, through acc (NULL: the system's accounts); false with why ("no
 * such user", "no such group", "no group for that uid") otherwise. */
bool submitcf_run_as_value(const char *v, const struct submitcf_accounts *acc,
    uid_t *uid, gid_t *gid, struct error *why);

#endif
