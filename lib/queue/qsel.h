/*
 * qsel: which queued messages a command acts on -- the one selector
 * grammar of clientqctl(8) (list, show, flush, hold, release, remove,
 * bounce, requeue).
 *
 * Contract
 * --------
 * A selector is a conjunction: a message is selected when every test that
 * is set holds.  None set selects everything (the caller decides whether
 * "everything" needs --all).  The tests:
 * - older_than / newer_than: the message's age, from its arrival (the
 *   control file's T), in seconds; -1 when not set.  Older than 7d means
 *   queued more than 7 days before now; newer than 30m, less than 30
 *   minutes before now.
 * - sender, recipient: qsel_addr_match (exact, or "@domain").  recipient
 *   holds when any recipient still queued matches.
 * - user (uid, name): the user's messages as qlist_belongs says: the
 *   control file is theirs, or its envelope sender is (a runner's rewrite
 *   makes the file the runner's, so the owner alone would lose them).
 * - reason: a POSIX extended regular expression, case-insensitive,
 *   searched in the last deferral text: the envelope's M line and each
 *   recipient's; a message never deferred has none and does not match.
 * A message whose control file could not be read (no envelope) matches
 * only a selector that tests nothing but its user: anything else is not
 * known of it, and a bulk action must never guess.
 * Nothing here reads a file or asks NSS: the caller gathers the entries
 * and resolves a user name to its uid (off the event loop).
 */
#ifndef CQ_QSEL_H
#define CQ_QSEL_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "queue/qlist.h"
#include "util/error.h"

struct qsel {
	long long older_than;	/* seconds, or -1 */
	long long newer_than;	/* seconds, or -1 */
	const char *sender;	/* or NULL */
	const char *recipient;	/* or NULL */
	bool by_user;
	uid_t uid;
	const char *user;	/* the login name of uid */
	bool by_reason;
	regex_t reason;		/* valid when by_reason */
};

/* qsel_init: a selector that tests nothing. */
void qsel_init(struct qsel *s);

/* qsel_set_reason: compile re into s.  False, with the regex library's
 * words in err, when it is not a valid extended expression. */
bool qsel_set_reason(struct qsel *s, const char *re, struct error *err);

/* qsel_free: what qsel_set_reason compiled. */
void qsel_free(struct qsel *s);

/* qsel_empty: no test is set. */
bool qsel_empty(const struct qsel *s);

/* qsel_match: e (gathered with its envelope) is selected at now (seconds
 * of the epoch) in a queue whose $j is domain. */
bool qsel_match(const struct qsel *s, const struct qlist_entry *e, long long now,
    const char *domain);

/* qsel_addr_match: the address have (as queued: "<a@b>", "a@b" or an
 * unqualified "a") is want.  want "@domain" is any address in that
 * domain; otherwise both are compared whole, angle brackets and case
 * aside, an unqualified one taken as being @domain (the queue's $j). */
bool qsel_addr_match(const char *have, const char *want, const char *domain);

/* qsel_parse_age: "90" or "90s", "30m", "12h", "7d", "2w" into seconds.
 * False for anything else, a negative age, or one that overflows. */
bool qsel_parse_age(const char *s, long long *secs);

#endif
