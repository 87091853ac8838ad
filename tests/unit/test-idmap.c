#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "queue/idmap.h"
#include "queue/qid.h"

Test(idmap, set_get_remove)
{
	struct idmap *m = idmap_new();
	long long v = 0;

	cr_assert(idmap_set(m, "u1F1K2am007134", 7));
	cr_assert(idmap_get(m, "u1F1K2am007134", &v));
	cr_expect_eq(v, 7);
	cr_assert(idmap_set(m, "u1F1K2am007134", -3), "a second set changes the value");
	cr_assert(idmap_get(m, "u1F1K2am007134", &v));
	cr_expect_eq(v, -3);
	cr_expect_eq(idmap_count(m), 1);
	cr_expect_not(idmap_get(m, "u1F1K2am007135", NULL));
	cr_expect(idmap_remove(m, "u1F1K2am007134"));
	cr_expect_not(idmap_remove(m, "u1F1K2am007134"), "removed once only");
	cr_expect_not(idmap_get(m, "u1F1K2am007134", NULL));
	cr_expect_eq(idmap_count(m), 0);
	idmap_free(m);
}

/* An ID longer than any queue ID is refused, not cut. */
Test(idmap, refuses_an_overlong_id)
{
	struct idmap *m = idmap_new();
	char id[QID_MAX_LEN + 2];

	memset(id, 'A', sizeof id - 1);
	id[sizeof id - 1] = '\0';
	cr_expect_not(idmap_set(m, id, 1));
	cr_expect_not(idmap_get(m, id, NULL));
	id[QID_MAX_LEN] = '\0';
	cr_expect(idmap_set(m, id, 1), "QID_MAX_LEN fits");
	cr_expect(idmap_get(m, id, NULL));
	idmap_free(m);
}

/* Many IDs in, half out, all the rest found with their values; a walk
 * sees each remaining one once; churn does not fill the table. */
Test(idmap, many_and_a_walk)
{
	struct idmap *m = idmap_new();
	static char seen[20000];
	char id[32];
	const char *k;
	long long v;
	size_t i, cursor = 0, walked = 0;

	for (i = 0; i < 20000; i++) {
		snprintf(id, sizeof id, "q%06zuAB%06zu", i, i * 7);
		cr_assert(idmap_set(m, id, (long long)i));
	}
	for (i = 0; i < 20000; i += 2) {
		snprintf(id, sizeof id, "q%06zuAB%06zu", i, i * 7);
		cr_assert(idmap_remove(m, id));
	}
	cr_expect_eq(idmap_count(m), 10000);
	for (i = 1; i < 20000; i += 2) {
		snprintf(id, sizeof id, "q%06zuAB%06zu", i, i * 7);
		cr_assert(idmap_get(m, id, &v), "%s", id);
		cr_expect_eq(v, (long long)i);
	}
	while (idmap_next(m, &cursor, &k, &v)) {
		cr_assert(v >= 0 && v < 20000 && v % 2 == 1);
		cr_expect_not(seen[v], "each once");
		seen[v] = 1;
		walked++;
	}
	cr_expect_eq(walked, 10000);
	/* Churn: set and remove the same few IDs a million times. */
	for (i = 0; i < 1000000; i++) {
		snprintf(id, sizeof id, "c%zu", i % 8);
		idmap_set(m, id, 1);
		idmap_remove(m, id);
	}
	cr_expect_eq(idmap_count(m), 10000);
	idmap_free(m);
}

/* The entry just returned may be removed during the walk. */
Test(idmap, remove_while_walking)
{
	struct idmap *m = idmap_new();
	const char *k;
	char id[32];
	size_t i, cursor = 0, n = 0;

	for (i = 0; i < 100; i++) {
		snprintf(id, sizeof id, "w%zu", i);
		idmap_set(m, id, 0);
	}
	while (idmap_next(m, &cursor, &k, NULL)) {
		cr_assert(idmap_remove(m, k));
		n++;
	}
	cr_expect_eq(n, 100);
	cr_expect_eq(idmap_count(m), 0);
	idmap_free(m);
}
