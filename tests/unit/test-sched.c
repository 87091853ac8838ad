#include "config.h"

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
