#include "config.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "util/pwcache.h"

/* A uid no system gives out (below 2^31, above any real range). */
#define NOBODY_UID ((uid_t)1999999999)

TestSuite(pwcache, .init = pwcache_flush);

Test(pwcache, root_by_uid_and_by_name)
{
	char name[64];
	uid_t uid = 1;
	gid_t gid = 1;

	cr_assert(pwcache_name(0, name, sizeof name, 1000));
	cr_assert_str_eq(name, "root");
	cr_assert(pwcache_ids("root", &uid, &gid, 1000));
	cr_assert_eq(uid, 0);
	cr_assert_eq(gid, 0);
}

Test(pwcache, unknown_user_is_a_number_and_false)
{
	char name[64];
	uid_t uid;
	gid_t gid;

	cr_assert_not(pwcache_name(NOBODY_UID, name, sizeof name, 1000));
	cr_assert_str_eq(name, "#1999999999");
	cr_assert_not(pwcache_ids("no-such-user-cq", &uid, &gid, 1000));
}

/* NSS is asked once per user until the answer expires, however often
 * the loop asks; a "no such user" expires sooner. */
Test(pwcache, asks_nss_once_per_user_and_expiry)
{
	char name[64];
	uid_t uid;
	gid_t gid;
	unsigned long before = pwcache_lookups();
	int i;

	for (i = 0; i < 100; i++)
		(void)pwcache_name(0, name, sizeof name, 1000 + i);
	cr_assert_eq(pwcache_lookups() - before, 1);
	(void)pwcache_name(0, name, sizeof name, 1000 + PWCACHE_TTL_S);
	cr_assert_eq(pwcache_lookups() - before, 2, "a fresh answer after the expiry");

	before = pwcache_lookups();
	for (i = 0; i < 10; i++)
		(void)pwcache_ids("no-such-user-cq", &uid, &gid, 5000 + i);
	cr_assert_eq(pwcache_lookups() - before, 1);
	(void)pwcache_ids("no-such-user-cq", &uid, &gid, 5000 + PWCACHE_NEG_TTL_S);
	cr_assert_eq(pwcache_lookups() - before, 2);
	/* A clock that went back does not keep an old answer. */
	(void)pwcache_ids("no-such-user-cq", &uid, &gid, 100);
	cr_assert_eq(pwcache_lookups() - before, 3);
}

/* Bounded: more users than entries evict the oldest, never grow. */
Test(pwcache, bounded_by_its_size)
{
	char name[64];
	unsigned long before;
	uid_t u;

	for (u = 0; u < 4 * PWCACHE_SIZE; u++)
		(void)pwcache_name(NOBODY_UID - u, name, sizeof name, 1000);
	before = pwcache_lookups();
	for (u = 0; u < 4 * PWCACHE_SIZE; u++)
		(void)pwcache_name(NOBODY_UID - u, name, sizeof name, 1001);
	/* At most PWCACHE_SIZE of them could still be there. */
	cr_assert_geq(pwcache_lookups() - before, 3 * PWCACHE_SIZE);
	cr_assert(pwcache_name(0, name, sizeof name, 1002));
	cr_assert_str_eq(name, "root");
}
