/*
 * idmap: a map from queue ID to a number, for the sets the daemon keeps
 * beside its schedule (parked files and their fingerprints, unreadable
 * ones and their backoff, the messages a flush waits for).
 *
 * Contract
 * --------
 * - Keys are queue IDs as qid_valid() accepts them (longer keys are not
 *   stored: idmap_set returns false); they are copied.
 * - set, get and remove are O(1) on average; the table grows (and
 *   shrinks back when emptied) by itself.
 * - idmap_next walks the entries in no particular order: begin with
 *   *cursor = 0.  Removing the entry just returned is allowed while
 *   walking; setting a new key is not (it may move everything).
 * - Unlike sched.h it keeps no order and no due time: a set is a set.
 */
#ifndef CQ_IDMAP_H
#define CQ_IDMAP_H

#include <stdbool.h>
#include <stddef.h>

struct idmap;

struct idmap *idmap_new(void);
void idmap_free(struct idmap *m);

/* idmap_set: id maps to value now (added, or changed); false only for an
 * id too long to be a queue ID. */
bool idmap_set(struct idmap *m, const char *id, long long value);
/* idmap_get: id's value (value may be NULL); false when it is absent. */
bool idmap_get(const struct idmap *m, const char *id, long long *value);
/* idmap_remove: false when id was absent. */
bool idmap_remove(struct idmap *m, const char *id);
size_t idmap_count(const struct idmap *m);
/* idmap_next: the entry at or after *cursor (*id valid until the entry is
 * removed or the map changes size), *cursor moved past it; false at the
 * end. */
bool idmap_next(const struct idmap *m, size_t *cursor, const char **id, long long *value);

#endif
