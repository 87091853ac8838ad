/*
 * recent: the messages that left the queue lately, so that `clientqctl
 * show` of one just delivered says what became of it instead of "no
 * such message".
 *
 * Contract
 * --------
 * - A ring of RECENT_MAX entries, allocated on the first record: the
 *   oldest is overwritten.  recent_record is O(1) and never allocates
 *   after the first call; nothing here is O(queue).
 * - An entry keeps what show prints (outcome, time, the relay, the
 *   relay's queue IDs, the last status) and what decides who may see it:
 *   the control file's owner and the envelope sender, as qlist_belongs
 *   weighs them.  Strings are cut to their fields; a sender that does
 *   not fit is not kept (only the owner then counts: a cut sender could
 *   match someone it is not).
 * - recent_find gives the newest entry for an ID, or NULL; it scans the
 *   ring (RECENT_MAX steps): for the show child, not the event loop.
 */
#ifndef CQ_RECENT_H
#define CQ_RECENT_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "queue/qid.h"

#define RECENT_MAX 1024

struct recent_entry {
	char id[QID_MAX_LEN + 1];
	char outcome[16];	/* "delivered", "bounced" */
	time_t when;
	uid_t owner;		/* (uid_t)-1: unknown */
	char sender[256];	/* "" when not known or too long */
	char relay[128];
	char mta_qids[200];	/* deliver_outcome's, ", " between them */
	char status[200];
};

struct recent;

struct recent *recent_new(void);
void recent_free(struct recent *r);

/* recent_record: one message left the queue.  NULL strings are kept as
 * "". */
void recent_record(struct recent *r, const char *id, const char *outcome, time_t when,
    uid_t owner, const char *sender, const char *relay, const char *mta_qids,
    const char *status);

const struct recent_entry *recent_find(const struct recent *r, const char *id);

/* recent_at: the k-th newest entry (0 the newest), NULL past the last. */
const struct recent_entry *recent_at(const struct recent *r, size_t k);

#endif
