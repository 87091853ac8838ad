#include "config.h"

#include "util/pwcache.h"

#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/fnv.h"

/* Four entries a bucket: a user whose hash collides with a busy one's
 * does not push it out at every call. */
#define PWCACHE_WAYS 4
#define PWCACHE_BUCKETS (PWCACHE_SIZE / PWCACHE_WAYS)
/* Longer names are looked up each time, never cached. */
#define PWCACHE_NAME_MAX 64

struct pwcache_entry {
	bool used, found;
	time_t when;
	uid_t uid;
	gid_t gid;
	char name[PWCACHE_NAME_MAX];
};

static struct pwcache_entry pwcache_by_uid[PWCACHE_BUCKETS][PWCACHE_WAYS];
static struct pwcache_entry pwcache_by_name[PWCACHE_BUCKETS][PWCACHE_WAYS];
static unsigned long pwcache_asked;

static bool
pwcache_fresh(const struct pwcache_entry *e, time_t now)
{
	time_t ttl = e->found ? PWCACHE_TTL_S : PWCACHE_NEG_TTL_S;

	return e->used && now >= e->when && now - e->when < ttl;
}

/* The entry to fill in a bucket: an unused one, else the oldest. */
static struct pwcache_entry *
pwcache_victim(struct pwcache_entry *bucket)
{
	struct pwcache_entry *v = &bucket[0];
	int k;

	for (k = 0; k < PWCACHE_WAYS; k++) {
		if (!bucket[k].used)
			return &bucket[k];
		if (bucket[k].when < v->when)
			v = &bucket[k];
	}
	return v;
}

/* NSS, once: fills e from the answer. */
static void
pwcache_fill(struct pwcache_entry *e, const struct passwd *pw, time_t now)
{
	e->used = true;
	e->when = now;
	e->found = pw != NULL;
	if (pw != NULL) {
		e->uid = pw->pw_uid;
		e->gid = pw->pw_gid;
		snprintf(e->name, sizeof e->name, "%s", pw->pw_name);
	}
}

bool
pwcache_name(uid_t uid, char *buf, size_t size, time_t now)
{
	struct pwcache_entry *bucket =
	    pwcache_by_uid[fnv_32a(FNV_32A_INIT, &uid, sizeof uid) % PWCACHE_BUCKETS];
	struct pwcache_entry *e = NULL;
	struct passwd pw, *res = NULL;
	char tmp[4096];
	int k;

	for (k = 0; k < PWCACHE_WAYS && e == NULL; k++)
		if (bucket[k].used && bucket[k].uid == uid && pwcache_fresh(&bucket[k], now))
			e = &bucket[k];
	if (e == NULL) {
		pwcache_asked++;
		if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &res) != 0)
			res = NULL;
		if (res != NULL && strlen(res->pw_name) >= PWCACHE_NAME_MAX) {
			snprintf(buf, size, "%s", res->pw_name);
			return true;
		}
		e = pwcache_victim(bucket);
		pwcache_fill(e, res, now);
		e->uid = uid;
	}
	if (!e->found) {
		snprintf(buf, size, "#%lu", (unsigned long)uid);
		return false;
	}
	snprintf(buf, size, "%s", e->name);
	return true;
}

bool
pwcache_ids(const char *name, uid_t *uid, gid_t *gid, time_t now)
{
	size_t n = strlen(name);
	struct pwcache_entry *bucket =
	    pwcache_by_name[fnv_32a(FNV_32A_INIT, name, n) % PWCACHE_BUCKETS];
	struct pwcache_entry *e = NULL;
	struct passwd pw, *res = NULL;
	char tmp[4096];
	int k;

	for (k = 0; k < PWCACHE_WAYS && e == NULL; k++)
		if (bucket[k].used && strcmp(bucket[k].name, name) == 0 &&
		    pwcache_fresh(&bucket[k], now))
			e = &bucket[k];
	if (e == NULL) {
		pwcache_asked++;
		if (getpwnam_r(name, &pw, tmp, sizeof tmp, &res) != 0)
			res = NULL;
		if (n >= PWCACHE_NAME_MAX) {
			if (res == NULL)
				return false;
			*uid = res->pw_uid;
			*gid = res->pw_gid;
			return true;
		}
		e = pwcache_victim(bucket);
		pwcache_fill(e, res, now);
		/* The key is the name asked for (a miss has no pw_name). */
		snprintf(e->name, sizeof e->name, "%s", name);
	}
	if (!e->found)
		return false;
	*uid = e->uid;
	*gid = e->gid;
	return true;
}

void
pwcache_flush(void)
{
	memset(pwcache_by_uid, 0, sizeof pwcache_by_uid);
	memset(pwcache_by_name, 0, sizeof pwcache_by_name);
}

unsigned long
pwcache_lookups(void)
{
	return pwcache_asked;
}
