#include "config.h"

#include <criterion/criterion.h>
#include <string.h>

#include "smtp/verify.h"

Test(verify, addresses_checked_and_stripped)
{
	static const struct {
		const char *in, *want;	/* want NULL: refused */
	} rows[] = {
		{ "ok@example.test", "ok@example.test" },
		{ "<ok@example.test>", "ok@example.test" },
		{ "alice", "alice" },
		{ "x+tag=1@example.test", "x+tag=1@example.test" },
		{ "<<a@b>>", NULL },
		{ "<>", NULL },
		{ "", NULL },
		{ "a@b\r\nRCPT TO:<evil@x>", NULL },
		{ "a@b\nQUIT", NULL },
		{ "a@b\r", NULL },
		{ "a\tb@c", NULL },
		{ "a\x7f@c", NULL },
		{ "a b@c", NULL },
		{ "a@b> NOTIFY=SUCCESS", NULL },
		{ "<a@b", NULL },
		{ "-oQ/tmp", NULL },
		{ "\xc3\xa9t\xc3\xa9@example.test", "\xc3\xa9t\xc3\xa9@example.test" },
	};
	char out[VERIFY_ADDR_MAX + 1];
	struct error why;
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		bool ok = verify_address(rows[i].in, out, sizeof out, &why);

		if (rows[i].want == NULL) {
			cr_expect(!ok, "row %zu must be refused", i);
			cr_expect(why.reason[0] != '\0', "row %zu says why", i);
		} else {
			cr_expect(ok, "row %zu: %s", i, why.reason);
			if (ok)
				cr_expect_str_eq(out, rows[i].want, "row %zu", i);
		}
	}
}

Test(verify, line_breaks_are_named)
{
	char out[VERIFY_ADDR_MAX + 1];
	struct error why;

	cr_assert(!verify_address("a@b\r\nDATA", out, sizeof out, &why));
	cr_assert(strstr(why.reason, "CR or LF") != NULL, "%s", why.reason);
}

Test(verify, length_bound)
{
	char in[VERIFY_ADDR_MAX + 8], out[VERIFY_ADDR_MAX + 1];
	struct error why;

	memset(in, 'a', VERIFY_ADDR_MAX);
	in[VERIFY_ADDR_MAX] = '\0';
	cr_assert(verify_address(in, out, sizeof out, &why), "%s", why.reason);
	in[VERIFY_ADDR_MAX] = 'a';
	in[VERIFY_ADDR_MAX + 1] = '\0';
	cr_assert(!verify_address(in, out, sizeof out, &why));
	cr_assert(strstr(why.reason, "254") != NULL, "%s", why.reason);
	/* The brackets do not count. */
	in[0] = '<';
	in[VERIFY_ADDR_MAX + 1] = '>';
	in[VERIFY_ADDR_MAX + 2] = '\0';
	cr_assert(verify_address(in, out, sizeof out, &why), "%s", why.reason);
	cr_assert_eq(strlen(out), VERIFY_ADDR_MAX);
}

Test(verify, bucket_gives_a_burst_then_one_per_refill)
{
	struct verify_bucket b = { 1000, 0, 0 };
	long long now = 5000;
	int i;

	for (i = 0; i < VERIFY_BURST; i++)
		cr_assert_eq(verify_bucket_take(&b, now), 0, "request %d of the burst", i);
	cr_assert_eq(verify_bucket_take(&b, now), VERIFY_REFILL_MS);
	cr_assert_eq(verify_bucket_take(&b, now + 2000), VERIFY_REFILL_MS - 2000);
	cr_assert_eq(verify_bucket_take(&b, now + VERIFY_REFILL_MS), 0);
	cr_assert(verify_bucket_take(&b, now + VERIFY_REFILL_MS) > 0);
	/* A long pause refills to the burst, no more. */
	now += 100LL * VERIFY_REFILL_MS;
	for (i = 0; i < VERIFY_BURST; i++)
		cr_assert_eq(verify_bucket_take(&b, now), 0);
	cr_assert(verify_bucket_take(&b, now) > 0);
	/* A clock that goes back gives nothing. */
	cr_assert(verify_bucket_take(&b, now - 50000) > 0);
}

Test(verify, outcomes_by_reply_code)
{
	cr_assert_str_eq(verify_outcome_str(verify_outcome_of(250)), "accepted");
	cr_assert_str_eq(verify_outcome_str(verify_outcome_of(251)), "accepted");
	cr_assert_str_eq(verify_outcome_str(verify_outcome_of(550)), "refused");
	cr_assert_str_eq(verify_outcome_str(verify_outcome_of(450)), "deferred");
	cr_assert_str_eq(verify_outcome_str(verify_outcome_of(0)), "deferred");
}
