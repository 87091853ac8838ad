/*
 * conf: clientq-runner's own configuration file (clientq.conf(5), by
 * default /etc/mail/clientq.conf), for what submit.cf cannot say: the
 * daemon's tunables, the TLS policy, AUTH, read with kv.h's "key = value"
 * reader, as AUTH's credentials file is.
 *
 * Contract
 * --------
 * - The format: one "key = value" a line; blanks around key and value
 *   are dropped; a line whose first non-blank is '#' is a comment, as is
 *   a blank line ('#' elsewhere is part of the value: passwords).  Keys
 *   compare without regard to case.  Anything else -- a line without
 *   '=', an unknown key, a key given twice, a bad value, settings that
 *   contradict each other -- is an error naming the file and the line
 *   ("/etc/mail/clientq.conf:7: unknown key 'tls.polcy'"): nothing is
 *   guessed.
 * - Keys are grouped by their prefix: daemon.*, tls.*, auth.*.  The same
 *   keys may be given on the command line as -O key=value
 *   (conf_is_key tells them from submit.cf's options, which have none of
 *   these prefixes); those override the file.  The daemon's own command
 *   line options (--connections, ...) override both: that is the
 *   caller's.
 * - The file is optional unless named (--config): a missing default
 *   file is an empty one.  It must be a regular file that other users
 *   cannot write.
 * - conf_finish checks the settings together, once the file and the -O
 *   options are in; only a finished conf is used.
 */
#ifndef CQ_CONF_H
#define CQ_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "smtp/auth.h"
#include "smtp/tls.h"
#include "util/error.h"

#define CONF_NKEYS 18		/* the keys of clientq.conf(5) */

/* Errors (util/error.h): reason "FILE:LINE: problem". */

/* conf_seconds: "90" (seconds), or a sendmail interval with units
 * ("90s", "5m", "1h30m", "2d"); false for anything else. */
bool conf_seconds(const char *s, long long *secs);

/* ------------------------------------------------ clientq.conf */

/* The ranges of the daemon's tunables, for clientq.conf's daemon.* and
 * the command line's --connections, --retry-min, ... alike: connections
 * to the relay (the daemon's slots), and the intervals in seconds (one
 * day). */
#define CONF_CONNECTIONS_MAX 64
#define CONF_INTERVAL_MAX 86400

struct conf {
	char *path;		/* the file read, NULL when none was */
	/* daemon.*: 0 or NULL when not set (the command line or the
	 * built-in default decides) */
	long long connections, retry_min, retry_max, probe_max;
	char *control;
	/* tls.*, auth.*: their modules' settings; the strings are the
	 * conf's */
	struct tls_config tls;
	struct auth_config auth;
	/* private, per key: its string value, the line it was set on (0:
	 * -O or unset), whether it was set */
	char *strs[CONF_NKEYS];
	unsigned where[CONF_NKEYS];
	bool set[CONF_NKEYS];
};

void conf_init(struct conf *c);
void conf_free(struct conf *c);

/* conf_is_key: name (from -O) has one of clientq.conf's prefixes. */
bool conf_is_key(const char *name);

/* conf_load: path; required: the file was named (a missing one is an
 * error). */
bool conf_load(struct conf *c, const char *path, bool required, struct error *err);
/* conf_set: a -O "key=value". */
bool conf_set(struct conf *c, const char *arg, struct error *err);
/* conf_finish: the settings checked together. */
bool conf_finish(struct conf *c, struct error *err);
/* conf_read: clientq.conf as the runner takes it, for the daemon, --once
 * and --check alike: c made anew (conf_init), the file at path (NULL:
 * none; required: it was named, so a missing one is an error), then each
 * of the -O args that is a key of its own (conf_is_key; the others are
 * submit.cf's, left to the caller), then conf_finish.  False and why,
 * with *by_arg (when by_arg is not NULL) true when one of args was at
 * fault (a usage error) and false when the file or the settings together
 * were.  conf_free c either way. */
bool conf_read(struct conf *c, const char *path, bool required, char *const *args,
    size_t nargs, bool *by_arg, struct error *err);
/* conf_secure: the TLS client and the AUTH client c's settings make
 * (tls_client_new, auth_client_new: the credentials file must belong to
 * owner), each NULL when not configured.  False, both NULL, and why (not
 * naming clientq.conf: the caller says where c came from) when one
 * cannot be made.  Delivery and --check's relay probe both make theirs
 * here, so the probe meets the relay as delivery will. */
bool conf_secure(const struct conf *c, uid_t owner, struct tls_client **tls,
    struct auth_client **auth, struct error *err);

#endif
