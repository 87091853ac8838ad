#include "config.h"

#include "delivery/sched.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/*
 * 40 octets an entry, and 8 to 16 in the hash table: the budget is the
 * daemon's RSS per queued message (at a million, every octet here is a
 * megabyte).  Each entry knows its own hash slot, so that moving it in
 * the heap costs no hashing: a swap is two stores, not two look-ups
 * (which, at a million entries, made building the index 15 s and a
 * flush 0.6 s).  The sequence number that orders ties is 32 bits and
 * compared modulo 2^32: only entries scheduled over two billion changes
 * apart could tie out of order, and only among equal due times.
 */
struct sched_entry {
	long long due;
	uint32_t seq;		/* ties: first scheduled first */
	uint32_t slot;		/* its index in slots */
	char id[QID_MAX_LEN + 1];
};

struct sched {
	struct sched_entry *heap;
	size_t n, cap;
	/* Open addressing: slot -> heap index + 1 (0: empty, SCHED_TOMB:
	 * deleted). */
	uint32_t *slots;
	size_t nslots, used;
	uint32_t seq;
};

#define SCHED_TOMB UINT32_MAX

/* The slot holding id, or the first free one on its probe path. */
static size_t
sched_slot(const struct sched *s, const char *id, bool *found)
{
	size_t i = qid_hash(id) & (s->nslots - 1), tomb = SIZE_MAX;

	for (;;) {
		uint32_t v = s->slots[i];

		if (v == 0) {
			*found = false;
			return tomb != SIZE_MAX ? tomb : i;
		}
		if (v == SCHED_TOMB) {
			if (tomb == SIZE_MAX)
				tomb = i;
		} else if (strcmp(s->heap[v - 1].id, id) == 0) {
			*found = true;
			return i;
		}
		i = (i + 1) & (s->nslots - 1);
	}
}

static void
sched_rehash(struct sched *s, size_t nslots)
{
	size_t i;

	free(s->slots);
	s->nslots = nslots;
	s->slots = xcalloc(nslots, sizeof *s->slots);
	s->used = s->n;
	for (i = 0; i < s->n; i++) {
		bool found;
		size_t k = sched_slot(s, s->heap[i].id, &found);

		s->slots[k] = (uint32_t)(i + 1);
		s->heap[i].slot = (uint32_t)k;
	}
}

struct sched *
sched_new(void)
{
	struct sched *s = xcalloc(1, sizeof *s);

	sched_rehash(s, 64);
	return s;
}

void
sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	free(s->heap);
	free(s->slots);
	free(s);
}

size_t
sched_count(const struct sched *s)
{
	return s->n;
}

size_t
sched_capacity(const struct sched *s)
{
	return s->cap;
}

size_t
sched_count_due(const struct sched *s, long long now, size_t limit)
{
	/* A walk down the heap that stops at every entry not due: none
	 * below it is due either.  Each entry counted adds at most one to
	 * the stack of those to look at. */
	size_t stack[2 * SCHED_COUNT_DUE_MAX + 2], top = 0, n = 0;

	if (limit > SCHED_COUNT_DUE_MAX)
		limit = SCHED_COUNT_DUE_MAX;
	if (s->n > 0)
		stack[top++] = 0;
	while (top > 0 && n < limit) {
		size_t i = stack[--top];

		if (i >= s->n || s->heap[i].due > now)
			continue;
		n++;
		stack[top++] = 2 * i + 1;
		stack[top++] = 2 * i + 2;
	}
	return n;
}

static bool
sched_before(const struct sched_entry *a, const struct sched_entry *b)
{
	return a->due < b->due || (a->due == b->due && (int32_t)(a->seq - b->seq) < 0);
}

/* Entry i is placed (moved or new): its slot points at it. */
static void
sched_place(struct sched *s, size_t i)
{
	s->slots[s->heap[i].slot] = (uint32_t)(i + 1);
}

static void
sched_up(struct sched *s, size_t i)
{
	struct sched_entry e = s->heap[i];

	while (i > 0 && sched_before(&e, &s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		sched_place(s, i);
		i = (i - 1) / 2;
	}
	s->heap[i] = e;
	sched_place(s, i);
}

static void
sched_down(struct sched *s, size_t i)
{
	struct sched_entry e = s->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = l;

		if (l >= s->n)
			break;
		if (r < s->n && sched_before(&s->heap[r], &s->heap[l]))
			m = r;
		if (!sched_before(&s->heap[m], &e))
			break;
		s->heap[i] = s->heap[m];
		sched_place(s, i);
		i = m;
	}
	s->heap[i] = e;
	sched_place(s, i);
}

void
sched_set(struct sched *s, const char *id, long long due)
{
	bool found;
	size_t k = sched_slot(s, id, &found), i;

	if (found) {
		i = s->slots[k] - 1;
		s->heap[i].due = due;
		s->heap[i].seq = s->seq++;
		sched_up(s, i);
		sched_down(s, s->slots[k] - 1);
		return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->heap = xreallocarray(s->heap, s->cap, sizeof *s->heap);
	}
	i = s->n++;
	snprintf(s->heap[i].id, sizeof s->heap[i].id, "%s", id);
	s->heap[i].due = due;
	s->heap[i].seq = s->seq++;
	s->heap[i].slot = (uint32_t)k;
	if (s->slots[k] == 0)
		s->used++;
	sched_up(s, i);
	/* Keep the table at most half full, tombstones included. */
	if (2 * s->used > s->nslots)
		sched_rehash(s, s->n * 4 > s->nslots ? s->nslots * 2 : s->nslots);
}

bool
sched_remove(struct sched *s, const char *id)
{
	bool found;
	size_t k = sched_slot(s, id, &found), i, last;

	if (!found)
		return false;
	i = s->slots[k] - 1;
	s->slots[k] = SCHED_TOMB;
	last = --s->n;
	if (i != last) {
		s->heap[i] = s->heap[last];
		/* Up if it is earlier than its new parent; else down.
		 * (When it went up, what came down to i is no later than
		 * anything below it.) */
		sched_up(s, i);
		sched_down(s, i);
	}
	return true;
}

bool
sched_due(const struct sched *s, const char *id, long long *due)
{
	bool found;
	size_t k = sched_slot(s, id, &found);

	if (found)
		*due = s->heap[s->slots[k] - 1].due;
	return found;
}

bool
sched_next(const struct sched *s, const char **id, long long *due)
{
	if (s->n == 0)
		return false;
	*id = s->heap[0].id;
	*due = s->heap[0].due;
	return true;
}

bool
sched_pop(struct sched *s, long long now, char id[QID_MAX_LEN + 1])
{
	if (s->n == 0 || s->heap[0].due > now)
		return false;
	memcpy(id, s->heap[0].id, QID_MAX_LEN + 1);
	return sched_remove(s, id);
}

void
sched_advance(struct sched *s, long long now)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->heap[i].due > now)
			s->heap[i].due = now;
	/* min(due, now) keeps the order of the times but ties them; the
	 * sequence numbers order ties, so heapify again. */
	for (i = s->n / 2; i-- > 0;)
		sched_down(s, i);
}
