#include "config.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/promhist.h"

static const char *const queues[] = { "active", "deferred", "hold", "incoming" };

/* What promhist_print writes, as a string the test frees. */
static char *
printed(const struct promhist *h, const char *prefix)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	cr_assert_not_null(fp);
	promhist_print(h, prefix, fp);
	cr_assert_eq(fclose(fp), 0);
	return buf;
}

static struct promhist
age_hist(void)
{
	static const double b[] = PROMHIST_SHOWQ_AGE_BOUNDS;
	struct promhist h;

	cr_assert(promhist_init(&h, "clientq_showq_message_age_seconds", "Age.", "queue", b,
	    PROMHIST_SHOWQ_AGE_NBOUNDS, queues, 4));
	return h;
}

/* postfix_exporter's buckets, as its source declares them: ages 1e1 to
 * 1e8 seconds, sizes 1e3 to 1e9 bytes. */
Test(promhist, the_showq_bounds_are_postfix_exporters)
{
	static const double age[] = PROMHIST_SHOWQ_AGE_BOUNDS;
	static const double size[] = PROMHIST_SHOWQ_SIZE_BOUNDS;
	size_t i;

	cr_assert_eq(sizeof age / sizeof age[0], PROMHIST_SHOWQ_AGE_NBOUNDS);
	cr_assert_eq(sizeof size / sizeof size[0], PROMHIST_SHOWQ_SIZE_NBOUNDS);
	for (i = 0; i < PROMHIST_SHOWQ_AGE_NBOUNDS; i++)
		cr_assert_eq(age[i], pow(10, (double)i + 1));
	for (i = 0; i < PROMHIST_SHOWQ_SIZE_NBOUNDS; i++)
		cr_assert_eq(size[i], pow(10, (double)i + 3));
}

/* A bound holds what equals it (le is "less than or equal"); one above
 * goes to the next bucket; past the last, only +Inf counts it. */
Test(promhist, counts_into_the_first_bound_that_holds_the_value)
{
	struct promhist h = age_hist();
	const struct promhist_series *s = &h.series[1];

	cr_assert(promhist_observe(&h, "deferred", 0));
	cr_assert(promhist_observe(&h, "deferred", 10));
	cr_assert(promhist_observe(&h, "deferred", 11));
	cr_assert(promhist_observe(&h, "deferred", 1e8));
	cr_assert(promhist_observe(&h, "deferred", 1e8 + 1));
	cr_assert_eq(s->bucket[0], 2);
	cr_assert_eq(s->bucket[1], 1);
	cr_assert_eq(s->bucket[7], 1);
	cr_assert_eq(s->bucket[8], 1);
	cr_assert_eq(s->count, 5);
	cr_assert_eq(s->sum, 0 + 10 + 11 + 1e8 + 1e8 + 1);
	/* The other series are untouched. */
	cr_assert_eq(h.series[0].count, 0);
	cr_assert_eq(h.series[3].count, 0);
}

Test(promhist, refuses_an_unknown_label_value_and_nan)
{
	struct promhist h = age_hist();
	size_t i;

	cr_assert_not(promhist_observe(&h, "maildrop", 5));
	cr_assert_not(promhist_observe(&h, "active", NAN));
	for (i = 0; i < h.nseries; i++)
		cr_assert_eq(h.series[i].count, 0);
}

Test(promhist, refuses_bounds_out_of_order_and_too_many)
{
	static const double down[] = { 10, 5 };
	static const double same[] = { 10, 10 };
	double many[PROMHIST_MAX_BOUNDS + 1];
	struct promhist h;
	size_t i;

	for (i = 0; i < PROMHIST_MAX_BOUNDS + 1; i++)
		many[i] = (double)i;
	cr_assert_not(promhist_init(&h, "x", "x", "q", down, 2, queues, 4));
	cr_assert_not(promhist_init(&h, "x", "x", "q", same, 2, queues, 4));
	cr_assert_not(promhist_init(&h, "x", "x", "q", many, PROMHIST_MAX_BOUNDS + 1, queues, 4));
	cr_assert(promhist_init(&h, "x", "x", "q", many, PROMHIST_MAX_BOUNDS, queues, 4));
}

/* The whole text, byte for byte: cumulative buckets, le as the Go client
 * writes it, every series even when empty, the prefix on every line. */
Test(promhist, prints_the_text_format)
{
	static const double b[] = PROMHIST_SHOWQ_SIZE_BOUNDS;
	static const char *const two[] = { "deferred", "hold" };
	struct promhist h;
	char *got;

	cr_assert(promhist_init(&h, "clientq_showq_message_size_bytes", "Size of messages.",
	    "queue", b, PROMHIST_SHOWQ_SIZE_NBOUNDS, two, 2));
	promhist_observe(&h, "deferred", 999);
	promhist_observe(&h, "deferred", 2500);
	promhist_observe(&h, "deferred", 2e9);
	got = printed(&h, "D ");
	cr_assert_str_eq(got,
	    "D # HELP clientq_showq_message_size_bytes Size of messages.\n"
	    "D # TYPE clientq_showq_message_size_bytes histogram\n"
	    "D clientq_showq_message_size_bytes_bucket{queue=\"deferred\",le=\"1000\"} 1\n"
	    "D clientq_showq_message_size_bytes_bucket{queue=\"deferred\",le=\"10000\"} 2\n"
	    "D clientq_showq_message_size_bytes_bucket{queue=\"deferred\",le=\"100000\"} 2\n"
	    "D clientq_showq_message_size_bytes_bucket{queue=\"deferred\",le=\"1e+06\"} 2\n"
	    "D clientq_showq_message_size_bytes_bucket{queue=\"deferred\",le=\"1e+07\"} 2\n"
	    "D clientq_showq_message_size_bytes_bucket{queue=\"deferred\",le=\"1e+08\"} 2\n"
	    "D clientq_showq_message_size_bytes_bucket{queue=\"deferred\",le=\"1e+09\"} 2\n"
	    "D clientq_showq_message_size_bytes_bucket{queue=\"deferred\",le=\"+Inf\"} 3\n"
	    "D clientq_showq_message_size_bytes_sum{queue=\"deferred\"} 2000003499\n"
	    "D clientq_showq_message_size_bytes_count{queue=\"deferred\"} 3\n"
	    "D clientq_showq_message_size_bytes_bucket{queue=\"hold\",le=\"1000\"} 0\n"
	    "D clientq_showq_message_size_bytes_bucket{queue=\"hold\",le=\"10000\"} 0\n"
	    "D clientq_showq_message_size_bytes_bucket{queue=\"hold\",le=\"100000\"} 0\n"
	    "D clientq_showq_message_size_bytes_bucket{queue=\"hold\",le=\"1e+06\"} 0\n"
	    "D clientq_showq_message_size_bytes_bucket{queue=\"hold\",le=\"1e+07\"} 0\n"
	    "D clientq_showq_message_size_bytes_bucket{queue=\"hold\",le=\"1e+08\"} 0\n"
	    "D clientq_showq_message_size_bytes_bucket{queue=\"hold\",le=\"1e+09\"} 0\n"
	    "D clientq_showq_message_size_bytes_bucket{queue=\"hold\",le=\"+Inf\"} 0\n"
	    "D clientq_showq_message_size_bytes_sum{queue=\"hold\"} 0\n"
	    "D clientq_showq_message_size_bytes_count{queue=\"hold\"} 0\n");
	free(got);
}

/* A label value with the format's special characters is escaped. */
Test(promhist, escapes_label_values)
{
	static const double b[] = { 1 };
	static const char *const odd[] = { "a\"b\\c\nd" };
	struct promhist h;
	char *got;

	cr_assert(promhist_init(&h, "m", "h", "l", b, 1, odd, 1));
	got = printed(&h, "");
	cr_assert(strstr(got, "m_count{l=\"a\\\"b\\\\c\\nd\"} 0\n") != NULL, "%s", got);
	free(got);
}
