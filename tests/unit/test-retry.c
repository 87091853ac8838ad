#include "config.h"

#include <criterion/criterion.h>

#include "delivery/retry.h"

Test(retry, backoff_doubles_from_min_to_max)
{
	struct retry_policy p = { 60, 3600, 0 };
	static const struct {
		long n;
		long long want;
	} rows[] = {
		{ 1, 60 }, { 2, 120 }, { 3, 240 }, { 4, 480 }, { 5, 960 }, { 6, 1920 },
		{ 7, 3600 }, { 8, 3600 }, { 100, 3600 }, { 100000, 3600 },
	};
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++)
		cr_expect_eq(retry_delay(&p, rows[i].n, "6AP1bfLb018434"), rows[i].want,
		    "N=%ld: %lld", rows[i].n, retry_delay(&p, rows[i].n, "6AP1bfLb018434"));
	cr_expect_eq(retry_due(&p, 0, 0, "x"), 0, "never tried: due at once");
	cr_expect_eq(retry_due(&p, 1000, 0, "x"), 0);
	cr_expect_eq(retry_due(&p, 1000, 3, "x"), 1240, "K + the delay: survives a restart");
}

Test(retry, jitter_is_bounded_stable_and_spread)
{
	struct retry_policy p = { 60, 3600, 0.1 };
	char id[] = "6AP1bfLb018400";
	long long lo = 1000000, hi = 0, first = retry_delay(&p, 1, id);
	int i, distinct = 0;
	long long seen[10] = { 0 };

	cr_expect_eq(retry_delay(&p, 1, id), first, "the same ID, the same delay");
	for (i = 0; i < 10; i++) {
		long long d;
		int k;

		id[13] = (char)('0' + i);
		d = retry_delay(&p, 1, id);
		cr_expect(d >= 54 && d <= 66, "60 s +- 10%%: %lld", d);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		for (k = 0; k < distinct && seen[k] != d; k++)
			;
		if (k == distinct)
			seen[distinct++] = d;
	}
	cr_expect(distinct >= 3, "ten messages deferred together do not all come due at once");
}

Test(retry, breaker_one_probe_on_a_doubling_interval)
{
	struct retry_breaker b;
	long long t = 10000;

	retry_breaker_init(&b, 60000);
	cr_expect(retry_breaker_allow(&b, t));
	cr_expect_eq(retry_breaker_failure(&b, t), RETRY_WENT_DOWN, "one line: down");
	cr_expect(!retry_breaker_allow(&b, t + 999));
	cr_expect_eq(retry_breaker_wait(&b, t + 500), 500);
	cr_expect(retry_breaker_allow(&b, t + 1000), "the probe after 1 s");
	cr_expect(!retry_breaker_allow(&b, t + 1000), "one probe at a time");
	cr_expect_eq(retry_breaker_wait(&b, t + 1000), -1);
	cr_expect_eq(retry_breaker_failure(&b, t + 1000), RETRY_NONE, "no line per failed probe");
	cr_expect(!retry_breaker_allow(&b, t + 2999));
	cr_expect(retry_breaker_allow(&b, t + 3000), "then after 2 s");
	cr_expect_eq(retry_breaker_failure(&b, t + 3000), RETRY_NONE);
	cr_expect_eq(b.interval, 4000);
	/* Up to the cap. */
	t += 3000;
	for (int i = 0; i < 10; i++) {
		t = b.next_probe;
		cr_expect(retry_breaker_allow(&b, t));
		retry_breaker_failure(&b, t);
	}
	cr_expect_eq(b.interval, 60000, "capped");
	/* A flush lets a probe go at once; success closes it. */
	retry_breaker_flush(&b, t + 1);
	cr_expect(retry_breaker_allow(&b, t + 1));
	cr_expect_eq(retry_breaker_success(&b, t + 2), RETRY_CAME_BACK, "one line: back");
	cr_expect_eq(b.down_since, 10000, "down since the first failure");
	cr_expect(retry_breaker_allow(&b, t + 2));
	cr_expect_eq(retry_breaker_success(&b, t + 3), RETRY_NONE);
}
