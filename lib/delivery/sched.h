/*
 * sched: the index of queued messages and when each is due.
 *
 * Contract
 * --------
 * A set of queue IDs, each with a due time (any integer clock), kept as
 * a binary min-heap with a hash index beside it: inserting, moving,
 * removing and taking the earliest are O(log n), finding an ID O(1).  No
 * per-message timer exists anywhere: the daemon arms one timer for
 * sched_next's time.  Ties go in insertion order (a sequence number), so
 * equal due times keep the order they were scheduled in.
 * IDs are copied; anything that qid_valid() accepts fits.
 */
#ifndef CQ_SCHED_H
#define CQ_SCHED_H

#include <stdbool.h>
#include <stddef.h>

#include "queue/qid.h"

struct sched;

struct sched *sched_new(void);
void sched_free(struct sched *s);

/* sched_set: schedule id at due (insert, or move if present). */
void sched_set(struct sched *s, const char *id, long long due);

/* sched_remove: false if id was not scheduled. */
bool sched_remove(struct sched *s, const char *id);

/* sched_due: id's due time; false if it is not scheduled. */
bool sched_due(const struct sched *s, const char *id, long long *due);

/* sched_next: the earliest entry (without removing it); false when
 * empty. */
bool sched_next(const struct sched *s, const char **id, long long *due);

/* sched_pop: remove and return the earliest entry if it is due at now. */
bool sched_pop(struct sched *s, long long now, char id[QID_MAX_LEN + 1]);

size_t sched_count(const struct sched *s);
/* sched_capacity: entries it has room for without growing (its memory:
 * about 48 octets each).  It doubles when full, and halves when three
 * quarters are unused. */
size_t sched_capacity(const struct sched *s);
/* sched_trim: no more room than its entries use (one that is emptied
 * in steps, such as the daemon's set of files still to read, gives its
 * memory back as it goes, not at the end).  The heap is cut in O(1);
 * the hash table is built again, O(entries), once it is a sixteenth
 * full, so that each entry pays for that about once. */
void sched_trim(struct sched *s);

/* sched_count_due: how many are due at now, counted up to limit (at
 * most SCHED_COUNT_DUE_MAX): O(limit), whatever the size. */
#define SCHED_COUNT_DUE_MAX 64
size_t sched_count_due(const struct sched *s, long long now, size_t limit);

/* sched_advance: everything scheduled before this call and due later
 * than now is due now (a flush); entries set after it are not.  The
 * order among them is kept (earlier due first).  O(1): no entry is
 * touched (sched.c says how), unless the clock went back since the last
 * flush, which takes one pass over all of them.  After more than 8
 * flushes whose entries are all still scheduled, one may make its
 * entries due at an earlier flush's time (also past) rather than now. */
void sched_advance(struct sched *s, long long now);

#endif
