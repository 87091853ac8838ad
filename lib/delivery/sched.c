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
 * flush 0.6 s).  The sequence number is 64 bits, in what the id's 19
 * octets leave of the 40: it never wraps, so "set before" is exact.
 *
 * A flush (sched_advance) does not touch the entries: rewriting every
 * due time and building the heap again is O(queue), 12-32 ms on the
 * event loop at a million.  It records (the sequence number, its time)
 * instead, and an entry set before that record and after the one
 * before it is due at min(due, the record's time): its "when".  The
 * heap is ordered by (when, due, seq).  A flush at F maps every when to
 * min(when, F), which keeps that order: two entries it ties at F were
 * either ordered by due already (both unflushed: when == due) or one
 * of them was flushed earlier, at or before F (when <= that flush's
 * time <= F, and a tie at F means both are at F, ordered by due).  So
 * the heap stays a heap, and the flush is O(1).  A record goes when no
 * entry set in its range is left (each counts its entries); past
 * SCHED_FLUSHES of them, a flush is folded into the last record, which
 * makes its entries due at that record's time, also past.  Only a
 * clock that went back (a flush at a time before the last record's)
 * takes the old pass over every entry.
 */
struct sched_entry {
	long long due;
	uint64_t seq;		/* ties: first scheduled first */
	uint32_t slot;		/* its index in slots */
	char id[QID_MAX_LEN + 1];
};

_Static_assert(sizeof(struct sched_entry) <= 40, "the memory budget: 40 octets an entry");

#define SCHED_FLUSHES 8

struct sched_flush {
	uint64_t seq;		/* entries set before this (and after the last) */
	long long at;		/* are due at min(due, at) */
	size_t live;		/* how many such entries are left */
};

struct sched {
	struct sched_entry *heap;
	size_t n, cap;
	/* Open addressing: slot -> heap index + 1 (0: empty, SCHED_TOMB:
	 * deleted). */
	uint32_t *slots;
	size_t nslots, used;
	uint64_t seq;
	struct sched_flush flush[SCHED_FLUSHES];	/* by seq, and by at */
	size_t nflush;
};

#define SCHED_TOMB UINT32_MAX

/* The record an entry was set under: the first set after it; nflush
 * when none was (it is not flushed). */
static size_t
sched_gen(const struct sched *s, const struct sched_entry *e)
{
	size_t k;

	for (k = 0; k < s->nflush; k++)
		if (e->seq < s->flush[k].seq)
			break;
	return k;
}

/* When the entry is due, the flushes counted. */
static long long
sched_when(const struct sched *s, const struct sched_entry *e)
{
	size_t k;

	if (s->nflush == 0)
		return e->due;
	k = sched_gen(s, e);
	if (k < s->nflush && s->flush[k].at < e->due)
		return s->flush[k].at;
	return e->due;
}

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

		if (i >= s->n || sched_when(s, &s->heap[i]) > now)
			continue;
		n++;
		stack[top++] = 2 * i + 1;
		stack[top++] = 2 * i + 2;
	}
	return n;
}

static bool
sched_before(const struct sched *s, const struct sched_entry *a, const struct sched_entry *b)
{
	long long wa = sched_when(s, a), wb = sched_when(s, b);

	if (wa != wb)
		return wa < wb;
	if (a->due != b->due)
		return a->due < b->due;
	return a->seq < b->seq;
}

/* The entry leaves its record (it is removed, or set again). */
static void
sched_unflush(struct sched *s, const struct sched_entry *e)
{
	size_t k = sched_gen(s, e);

	if (k == s->nflush || --s->flush[k].live > 0)
		return;
	/* None of its entries is left: the next record's range takes in
	 * an empty one. */
	memmove(&s->flush[k], &s->flush[k + 1], (s->nflush - k - 1) * sizeof s->flush[0]);
	s->nflush--;
}

/* The heap's room, grown or shrunk (a large array is mapped memory,
 * which realloc moves or cuts without copying). */
static void
sched_resize(struct sched *s, size_t cap)
{
	s->heap = xreallocarray(s->heap, cap, sizeof *s->heap);
	s->cap = cap;
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

	while (i > 0 && sched_before(s, &e, &s->heap[(i - 1) / 2])) {
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
		if (r < s->n && sched_before(s, &s->heap[r], &s->heap[l]))
			m = r;
		if (!sched_before(s, &s->heap[m], &e))
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
		sched_unflush(s, &s->heap[i]);
		s->heap[i].due = due;
		s->heap[i].seq = s->seq++;
		sched_up(s, i);
		sched_down(s, s->slots[k] - 1);
		return;
	}
	if (s->n == s->cap)
		sched_resize(s, s->cap ? s->cap * 2 : 64);
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
	sched_unflush(s, &s->heap[i]);
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
	/* A queue that drained gives its memory back: half, once three
	 * quarters are unused (growing doubles; the gap keeps the two
	 * from taking turns). */
	if (s->cap > 1024 && s->n < s->cap / 4)
		sched_resize(s, s->cap / 2);
	return true;
}

void
sched_trim(struct sched *s)
{
	size_t nslots = 64;

	if (s->cap > 64 && s->cap > s->n)
		sched_resize(s, s->n > 64 ? s->n : 64);
	/* The table too, once it is a sixteenth full: to a quarter full,
	 * O(n) for a sixteenth of what it held, so each entry pays for
	 * its rehash about once. */
	while (nslots < 4 * s->n)
		nslots *= 2;
	if (nslots * 4 <= s->nslots)
		sched_rehash(s, nslots);
}

bool
sched_due(const struct sched *s, const char *id, long long *due)
{
	bool found;
	size_t k = sched_slot(s, id, &found);

	if (found)
		*due = sched_when(s, &s->heap[s->slots[k] - 1]);
	return found;
}

bool
sched_next(const struct sched *s, const char **id, long long *due)
{
	if (s->n == 0)
		return false;
	*id = s->heap[0].id;
	*due = sched_when(s, &s->heap[0]);
	return true;
}

bool
sched_pop(struct sched *s, long long now, char id[QID_MAX_LEN + 1])
{
	if (s->n == 0 || sched_when(s, &s->heap[0]) > now)
		return false;
	memcpy(id, s->heap[0].id, QID_MAX_LEN + 1);
	return sched_remove(s, id);
}

void
sched_advance(struct sched *s, long long now)
{
	size_t i, flushed = 0;

	if (s->nflush > 0 && now < s->flush[s->nflush - 1].at) {
		/* The clock went back: min(when, now) would not keep the
		 * order.  Make every when its due, and min(due, now) ties
		 * what it moves: the sequence numbers order ties, so build
		 * the heap again. */
		for (i = 0; i < s->n; i++) {
			long long w = sched_when(s, &s->heap[i]);

			s->heap[i].due = w < now ? w : now;
		}
		s->nflush = 0;
		for (i = s->n / 2; i-- > 0;)
			sched_down(s, i);
		return;
	}
	for (i = 0; i < s->nflush; i++)
		flushed += s->flush[i].live;
	if (flushed == s->n)
		return;		/* nothing set since the last flush */
	if (s->nflush == SCHED_FLUSHES) {
		/* Folded into the last record: due at its time, which is
		 * no later than now. */
		s->flush[s->nflush - 1].seq = s->seq;
		s->flush[s->nflush - 1].live += s->n - flushed;
		return;
	}
	s->flush[s->nflush].seq = s->seq;
	s->flush[s->nflush].at = now;
	s->flush[s->nflush].live = s->n - flushed;
	s->nflush++;
}
