/*
 * idmap.c: open addressing with linear probing and tombstones, keyed by
 * qid_hash (idmap.h).
 */
#include "config.h"

#include "queue/idmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/qid.h"
#include "util/xalloc.h"

enum idmap_state {
	IDMAP_EMPTY,
	IDMAP_USED,
	IDMAP_TOMB,		/* removed: probes go on past it */
};

struct idmap_slot {
	long long value;
	unsigned char state;
	char id[QID_MAX_LEN + 1];
};

struct idmap {
	struct idmap_slot *slots;
	size_t nslots;		/* a power of two */
	size_t n;		/* used */
	size_t tombs;
};

#define IDMAP_MIN 16

static void
idmap_resize(struct idmap *m, size_t nslots)
{
	struct idmap_slot *old = m->slots;
	size_t oldn = m->nslots, i;

	m->slots = xcalloc(nslots, sizeof *m->slots);
	m->nslots = nslots;
	m->n = m->tombs = 0;
	for (i = 0; i < oldn; i++)
		if (old[i].state == IDMAP_USED)
			(void)idmap_set(m, old[i].id, old[i].value);
	free(old);
}

struct idmap *
idmap_new(void)
{
	struct idmap *m = xcalloc(1, sizeof *m);

	idmap_resize(m, IDMAP_MIN);
	return m;
}

void
idmap_free(struct idmap *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	free(m);
}

/* The slot holding id, or (found false) the first free one on its probe
 * path.  The table always has an empty slot (the load stays under 3/4),
 * so the walk ends. */
static size_t
idmap_find(const struct idmap *m, const char *id, bool *found)
{
	size_t i = qid_hash(id) & (m->nslots - 1), tomb = SIZE_MAX;

	for (;;) {
		const struct idmap_slot *s = &m->slots[i];

		if (s->state == IDMAP_EMPTY) {
			*found = false;
			return tomb != SIZE_MAX ? tomb : i;
		}
		if (s->state == IDMAP_TOMB) {
			if (tomb == SIZE_MAX)
				tomb = i;
		} else if (strcmp(s->id, id) == 0) {
			*found = true;
			return i;
		}
		i = (i + 1) & (m->nslots - 1);
	}
}

bool
idmap_set(struct idmap *m, const char *id, long long value)
{
	size_t len = strlen(id), i;
	bool found;

	if (len > QID_MAX_LEN)
		return false;
	i = idmap_find(m, id, &found);
	if (!found) {
		if (m->slots[i].state == IDMAP_TOMB)
			m->tombs--;
		memcpy(m->slots[i].id, id, len + 1);
		m->slots[i].state = IDMAP_USED;
		m->n++;
	}
	m->slots[i].value = value;
	/* Tombstones count as load: a map that churns must not fill up. */
	if ((m->n + m->tombs) * 4 >= m->nslots * 3)
		idmap_resize(m, m->n * 2 * 4 >= m->nslots * 3 ? m->nslots * 2 : m->nslots);
	return true;
}

bool
idmap_get(const struct idmap *m, const char *id, long long *value)
{
	bool found;
	size_t i;

	if (strlen(id) > QID_MAX_LEN)
		return false;
	i = idmap_find(m, id, &found);
	if (found && value != NULL)
		*value = m->slots[i].value;
	return found;
}

bool
idmap_remove(struct idmap *m, const char *id)
{
	bool found;
	size_t i;

	if (strlen(id) > QID_MAX_LEN)
		return false;
	i = idmap_find(m, id, &found);
	if (!found)
		return false;
	m->slots[i].state = IDMAP_TOMB;
	m->n--;
	m->tombs++;
	/* Emptied: the memory of a burst (a flush of 100,000) goes back. */
	if (m->n == 0 && m->nslots > IDMAP_MIN) {
		free(m->slots);
		m->slots = xcalloc(IDMAP_MIN, sizeof *m->slots);
		m->nslots = IDMAP_MIN;
		m->tombs = 0;
	}
	return true;
}

size_t
idmap_count(const struct idmap *m)
{
	return m->n;
}

bool
idmap_next(const struct idmap *m, size_t *cursor, const char **id, long long *value)
{
	for (; *cursor < m->nslots; (*cursor)++) {
		const struct idmap_slot *s = &m->slots[*cursor];

		if (s->state != IDMAP_USED)
			continue;
		*id = s->id;
		if (value != NULL)
			*value = s->value;
		(*cursor)++;
		return true;
	}
	return false;
}
