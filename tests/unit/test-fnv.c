#include "config.h"

#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "util/fnv.h"
#include "util/monotime.h"

/* The FNV specification's test vectors. */
Test(fnv, matches_the_published_vectors)
{
	cr_assert_eq(fnv_32a(FNV_32A_INIT, "", 0), UINT32_C(0x811c9dc5));
	cr_assert_eq(fnv_32a(FNV_32A_INIT, "a", 1), UINT32_C(0xe40c292c));
	cr_assert_eq(fnv_32a(FNV_32A_INIT, "foobar", 6), UINT32_C(0xbf9cf968));
	cr_assert_eq(fnv_64a(FNV_64A_INIT, "", 0), UINT64_C(0xcbf29ce484222325));
	cr_assert_eq(fnv_64a(FNV_64A_INIT, "a", 1), UINT64_C(0xaf63dc4c8601ec8c));
	cr_assert_eq(fnv_64a(FNV_64A_INIT, "foobar", 6), UINT64_C(0x85944171f73967e8));
}

/* Hashing in pieces is hashing the whole: the daemon's fingerprints
 * chain a name and an inode that way. */
Test(fnv, continues_from_a_previous_hash)
{
	cr_assert_eq(fnv_32a(fnv_32a(FNV_32A_INIT, "foo", 3), "bar", 3),
	    fnv_32a(FNV_32A_INIT, "foobar", 6));
	cr_assert_eq(fnv_64a(fnv_64a(FNV_64A_INIT, "foo", 3), "bar", 3),
	    fnv_64a(FNV_64A_INIT, "foobar", 6));
}

/* monotime_ms is CLOCK_MONOTONIC in milliseconds: it never goes back, and
 * a 50 ms sleep moves it by at least 50. */
Test(monotime, is_the_monotonic_clock_in_ms)
{
	struct timespec ts, nap = { 0, 50 * 1000000L };
	long long a, b, ref;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ref = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	a = monotime_ms();
	cr_assert_geq(a, ref);
	cr_assert_lt(a - ref, 1000, "the same clock as CLOCK_MONOTONIC");
	while (nanosleep(&nap, &nap) != 0)
		;
	b = monotime_ms();
	cr_assert_geq(b - a, 50);
}
