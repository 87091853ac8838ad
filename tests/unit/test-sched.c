#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "delivery/sched.h"

static void
id_of(int i, char out[QID_MAX_LEN + 1])
{
	snprintf(out, QID_MAX_LEN + 1, "6AP1bfLb%06d", i);
}

Test(sched, earliest_first_ties_in_order)
{
	struct sched *s = sched_new();
	char id[QID_MAX_LEN + 1];
	const char *p;
	long long due;

	sched_set(s, "6AP1bfLb000003", 30);
	sched_set(s, "6AP1bfLb000001", 10);
	sched_set(s, "6AP1bfLb000002", 10);
	cr_assert(sched_next(s, &p, &due));
	cr_expect_str_eq(p, "6AP1bfLb000001");
	cr_expect(!sched_pop(s, 9, id), "nothing due before 10");
	cr_expect(sched_pop(s, 10, id));
	cr_expect_str_eq(id, "6AP1bfLb000001");
	cr_expect(sched_pop(s, 10, id));
	cr_expect_str_eq(id, "6AP1bfLb000002", "equal times keep their order");
	cr_expect(!sched_pop(s, 29, id));
	sched_set(s, "6AP1bfLb000003", 5);
	cr_expect(sched_pop(s, 5, id), "moved earlier");
	cr_expect_eq(sched_count(s), 0);
	sched_free(s);
}

Test(sched, counts_the_due_ones_up_to_a_limit)
{
	struct sched *s = sched_new();
	char id[QID_MAX_LEN + 1];
	int i, due = 0, due0 = 0;

	srand(7);
	cr_expect_eq(sched_count_due(s, 100, 5), 0);
	for (i = 0; i < 5000; i++) {
		long long t = rand() % 100;

		id_of(i, id);
		sched_set(s, id, t);
		due += t <= 10;
		due0 += t == 0;
	}
	cr_assert_gt(due, SCHED_COUNT_DUE_MAX);
	cr_expect_eq(sched_count_due(s, 10, 1000), SCHED_COUNT_DUE_MAX, "the limit is capped");
	cr_expect_eq(sched_count_due(s, 10, 3), 3);
	cr_assert_lt(due0, SCHED_COUNT_DUE_MAX);
	cr_expect_eq(sched_count_due(s, 0, SCHED_COUNT_DUE_MAX), (size_t)due0,
	    "all of them, when fewer than the limit are due");
	cr_expect_eq(sched_count_due(s, -1, 10), 0);
	sched_free(s);
	s = sched_new();
	sched_set(s, "6AP1bfLb000001", 5);
	sched_set(s, "6AP1bfLb000002", 50);
	cr_expect_eq(sched_count_due(s, 10, 2), 1, "one due, one later");
	sched_free(s);
}

Test(sched, matches_a_sorted_model_through_random_changes)
{
	struct sched *s = sched_new();
	static long long model[5000];	/* -1: absent */
	char id[QID_MAX_LEN + 1];
	size_t n = 0;
	int i, step;

	srand(42);
	for (i = 0; i < 5000; i++)
		model[i] = -1;
	for (step = 0; step < 200000; step++) {
		int k = rand() % 5000, op = rand() % 4;
		long long due;

		id_of(k, id);
		if (op < 2) {
			due = rand() % 100000;
			if (model[k] < 0)
				n++;
			model[k] = due;
			sched_set(s, id, due);
		} else if (op == 2) {
			cr_assert_eq(sched_remove(s, id), model[k] >= 0);
			if (model[k] >= 0)
				n--;
			model[k] = -1;
		} else {
			bool in = sched_due(s, id, &due);

			cr_assert_eq(in, model[k] >= 0);
			if (in)
				cr_assert_eq(due, model[k]);
		}
		cr_assert_eq(sched_count(s), n);
	}
	/* Drain: non-decreasing, every entry once. */
	{
		long long last = -1, due;
		const char *p;

		while (sched_next(s, &p, &due)) {
			int k = atoi(p + 8);

			cr_assert_eq(model[k], due, "%s", p);
			cr_assert(due >= last);
			last = due;
			strcpy(id, p);
			cr_assert(sched_pop(s, due, id));
			model[k] = -1;
			n--;
		}
		cr_assert_eq(n, 0);
	}
	sched_free(s);
}

Test(sched, a_flush_makes_what_was_set_before_it_due_and_keeps_its_order)
{
	struct sched *s = sched_new();
	char id[QID_MAX_LEN + 1];
	long long due;

	sched_set(s, "6AP1bfLb000001", 500);
	sched_set(s, "6AP1bfLb000002", 300);
	sched_set(s, "6AP1bfLb000003", 50);	/* due before the flush */
	sched_advance(s, 100);
	cr_expect(sched_due(s, "6AP1bfLb000001", &due) && due == 100);
	cr_expect(sched_due(s, "6AP1bfLb000003", &due) && due == 50, "an earlier due time stays");
	sched_set(s, "6AP1bfLb000004", 200);	/* after the flush */
	sched_set(s, "6AP1bfLb000005", 100);
	cr_expect(sched_due(s, "6AP1bfLb000004", &due) && due == 200, "set after a flush: not flushed");
	cr_expect_eq(sched_count_due(s, 100, 10), 4);
	cr_expect(sched_pop(s, 100, id));
	cr_expect_str_eq(id, "6AP1bfLb000003");
	/* Equal times: the earlier due first, flushed or not. */
	cr_expect(sched_pop(s, 100, id));
	cr_expect_str_eq(id, "6AP1bfLb000005", "due at 100, set after the flush");
	cr_expect(sched_pop(s, 100, id));
	cr_expect_str_eq(id, "6AP1bfLb000002", "flushed: due 300 before due 500");
	cr_expect(sched_pop(s, 100, id));
	cr_expect_str_eq(id, "6AP1bfLb000001");
	cr_expect(!sched_pop(s, 199, id));
	sched_advance(s, 150);
	cr_expect(sched_pop(s, 150, id));
	cr_expect_str_eq(id, "6AP1bfLb000004");
	cr_expect_eq(sched_count(s), 0);
	sched_free(s);
}

Test(sched, set_again_after_a_flush_takes_its_new_time)
{
	struct sched *s = sched_new();
	long long due;

	sched_set(s, "6AP1bfLb000001", 500);
	sched_advance(s, 100);
	sched_set(s, "6AP1bfLb000001", 900);	/* tried, and failed again */
	cr_expect(sched_due(s, "6AP1bfLb000001", &due) && due == 900);
	sched_advance(s, 120);
	cr_expect(sched_due(s, "6AP1bfLb000001", &due) && due == 120);
	sched_free(s);
}

/*
 * A model: each entry's due, its "when" (what the flushes made it) and
 * the order it was set in; the heap must give (when, due, order).  While
 * at most 8 flushes have been made, and the clock only went forward,
 * the model is exact.  Past that, a flush may make an entry due at an
 * earlier flush's time, and a clock that went back reorders ties, so
 * the checks are: when is no later than the model's and no earlier than
 * the earliest flush (or its due), sched_count_due agrees with the
 * whens, and sched_pop takes an entry whose when is the least.
 */
struct sched_model {
	long long due, when;
	unsigned long long order;
	bool in;
};

static void
sched_check_model(struct sched *s, const struct sched_model *m, int nid, bool exact,
    long long now, long long lowest_flush)
{
	char id[QID_MAX_LEN + 1];
	int k, due_now = 0;
	size_t n = 0;

	for (k = 0; k < nid; k++) {
		long long due;
		bool in;

		id_of(k, id);
		in = sched_due(s, id, &due);
		cr_assert_eq(in, m[k].in, "%s", id);
		if (!in)
			continue;
		n++;
		if (exact)
			cr_assert_eq(due, m[k].when, "%s", id);
		else
			cr_assert(due <= m[k].when &&
				due >= (m[k].due < lowest_flush ? m[k].due : lowest_flush),
			    "%s: %lld, model %lld", id, due, m[k].when);
		due_now += due <= now;
	}
	cr_assert_eq(sched_count(s), n);
	cr_assert_eq(sched_count_due(s, now, SCHED_COUNT_DUE_MAX),
	    (size_t)(due_now < SCHED_COUNT_DUE_MAX ? due_now : SCHED_COUNT_DUE_MAX));
}

/* The entry the model says sched_pop takes at now, or -1. */
static int
sched_model_first(const struct sched_model *m, int nid, long long now)
{
	int best = -1;

	for (int j = 0; j < nid; j++) {
		if (!m[j].in || m[j].when > now)
			continue;
		if (best < 0 || m[j].when < m[best].when ||
		    (m[j].when == m[best].when &&
			(m[j].due < m[best].due ||
			    (m[j].due == m[best].due && m[j].order < m[best].order))))
			best = j;
	}
	return best;
}

static void
sched_run_model(unsigned seed, int flush_per_mille, bool backwards, int steps)
{
	enum { NID = 2000 };
	static struct sched_model m[NID];
	struct sched *s = sched_new();
	char id[QID_MAX_LEN + 1];
	unsigned long long order = 0;
	long long now = 1000, lowest_flush = LLONG_MAX, highest_flush = LLONG_MIN;
	int step, flushes = 0;
	bool exact = true;

	srand(seed);
	memset(m, 0, sizeof m);
	for (step = 0; step < steps; step++) {
		int k = rand() % NID, op = rand() % 1000;

		id_of(k, id);
		now += rand() % 3;
		if (op < flush_per_mille) {
			long long at = now;

			if (backwards && rand() % 4 == 0)
				at = now - 1 - rand() % 50;
			sched_advance(s, at);
			if (++flushes > 8 || at < highest_flush)
				exact = false;
			if (at < lowest_flush)
				lowest_flush = at;
			if (at > highest_flush)
				highest_flush = at;
			for (int j = 0; j < NID; j++)
				if (m[j].in && m[j].when > at)
					m[j].when = at;
		} else if (op < 600) {
			long long due = now + rand() % 5000 - 100;

			sched_set(s, id, due);
			m[k] = (struct sched_model){ due, due, order++, true };
		} else if (op < 800) {
			cr_assert_eq(sched_remove(s, id), m[k].in);
			m[k].in = false;
		} else {
			char got[QID_MAX_LEN + 1];
			const char *p;
			long long least = 0;
			bool next = sched_next(s, &p, &least), popped = sched_pop(s, now, got);
			int best = sched_model_first(m, NID, now);

			if (exact) {
				cr_assert_eq(popped, best >= 0, "step %d", step);
				if (popped) {
					id_of(best, id);
					cr_assert_str_eq(got, id, "step %d", step);
				}
			} else {
				cr_assert_eq(popped, next && least <= now, "step %d", step);
			}
			if (popped) {
				int j = atoi(got + 8);

				cr_assert(m[j].in);
				m[j].in = false;
				if (!exact && step % 10 == 0)
					for (int i = 0; i < NID; i++) {
						long long due;

						id_of(i, id);
						if (sched_due(s, id, &due))
							cr_assert(due >= least, "step %d: the least went first", step);
					}
			}
		}
		if (step % 97 == 0)
			sched_check_model(s, m, NID, exact, now, lowest_flush);
	}
	sched_check_model(s, m, NID, exact, now, lowest_flush);
	sched_free(s);
}

Test(sched, flushes_match_the_model_exactly_while_few)
{
	/* About 6 flushes in 60,000 steps. */
	for (unsigned seed = 1; seed < 6; seed++)
		sched_run_model(seed, 0, false, 60000);
	/* One in 1,000 steps: 8 flushes within about 8,000. */
	for (unsigned seed = 6; seed < 12; seed++)
		sched_run_model(seed, 1, false, 7000);
}

Test(sched, many_flushes_keep_a_heap)
{
	char id[QID_MAX_LEN + 1];
	struct sched *s = sched_new();
	long long now = 0, last = LLONG_MIN, due;
	int i, step;

	/* Entries that stay scheduled across more flushes than there are
	 * records: the heap must still give them in order of their when. */
	srand(11);
	for (i = 0; i < 3000; i++) {
		id_of(i, id);
		sched_set(s, id, 100000 + rand() % 100000);
	}
	for (step = 0; step < 40; step++) {
		now += 10;
		for (i = 0; i < 50; i++) {
			id_of(3000 + step * 50 + i, id);
			sched_set(s, id, now + rand() % 100000);
		}
		sched_advance(s, now);
	}
	cr_expect_eq(sched_count(s), 5000);
	cr_expect_eq(sched_count_due(s, now, 10), 10, "every one is due");
	for (i = 0; i < 5000; i++) {
		const char *p;

		cr_assert(sched_next(s, &p, &due));
		cr_assert(due <= now && due >= 10, "%lld", due);
		cr_assert(due >= last, "non-decreasing: %lld after %lld", due, last);
		last = due;
		cr_assert(sched_pop(s, now, id));
	}
	cr_expect_eq(sched_count(s), 0);
	sched_free(s);
}

Test(sched, a_clock_that_went_back_is_one_pass_and_still_a_heap)
{
	for (unsigned seed = 20; seed < 24; seed++)
		sched_run_model(seed, 3, true, 30000);
}

Test(sched, many_random_flushes_keep_a_heap)
{
	for (unsigned seed = 30; seed < 34; seed++)
		sched_run_model(seed, 5, false, 30000);
}

Test(sched, gives_its_room_back)
{
	struct sched *s = sched_new();
	char id[QID_MAX_LEN + 1];
	int i;

	for (i = 0; i < 10000; i++) {
		id_of(i, id);
		sched_set(s, id, i);
	}
	cr_expect_geq(sched_capacity(s), 10000);
	for (i = 0; i < 9000; i++) {
		id_of(i, id);
		cr_assert(sched_remove(s, id));
	}
	cr_expect_leq(sched_capacity(s), 4000, "halved once three quarters were unused: %zu",
	    sched_capacity(s));
	sched_trim(s);
	cr_expect_eq(sched_capacity(s), 1000);
	for (i = 9000; i < 10000; i++) {
		const char *p;
		long long due;

		cr_assert(sched_next(s, &p, &due));
		id_of(i, id);
		cr_assert_str_eq(p, id, "the order survives");
		cr_assert(sched_pop(s, due, id));
	}
	sched_trim(s);
	cr_expect_eq(sched_capacity(s), 64);
	sched_set(s, "6AP1bfLb000001", 1);
	cr_expect_eq(sched_count(s), 1);
	cr_expect(sched_remove(s, "6AP1bfLb000001"));
	/* Filled and emptied again: the table is rebuilt small, and every
	 * entry is still found. */
	for (i = 0; i < 20000; i++) {
		id_of(i, id);
		sched_set(s, id, i);
	}
	for (i = 0; i < 19990; i++) {
		id_of(i, id);
		cr_assert(sched_remove(s, id));
	}
	sched_trim(s);
	for (i = 0; i < 20000; i++) {
		long long due;

		id_of(i, id);
		cr_assert_eq(sched_due(s, id, &due), i >= 19990, "%s", id);
	}
	sched_free(s);
}
