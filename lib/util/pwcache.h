/*
 * pwcache: the user database, remembered for a while.
 *
 * getpwuid and getpwnam go through NSS, which may ask LDAP or sssd and
 * wait on the network for seconds.  The daemon's loop must not do that
 * per control request or per logged delivery, so each answer (found or
 * not) is kept: a bounded table, PWCACHE_SIZE entries per direction, an
 * answer trusted for PWCACHE_TTL_S (a "no such user" for
 * PWCACHE_NEG_TTL_S), the oldest entry of a full bucket replaced.  The
 * loop then asks NSS at most once per user per expiry, however many
 * requests or messages come; and the daemon looks up the users it always
 * needs (root, its own) at start, before the loop runs.
 *
 * Contract
 * --------
 * - pwcache_name(uid, buf, size): the user's name, or "#<uid>" when NSS
 *   knows no such user; true when NSS knew it.
 * - pwcache_ids(name, &uid, &gid): the user's uid and primary gid; false
 *   when there is no such user.
 * - now is the caller's clock in seconds (time(NULL) in production; any
 *   monotone clock in the tests); a clock that goes back expires every
 *   entry it passes.
 * - pwcache_flush() forgets everything (a reload: the database may have
 *   changed).
 * Not thread-safe: the daemon has one thread.
 */
#ifndef CQ_PWCACHE_H
#define CQ_PWCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define PWCACHE_SIZE 256
#define PWCACHE_TTL_S 600
#define PWCACHE_NEG_TTL_S 60

bool pwcache_name(uid_t uid, char *buf, size_t size, time_t now);
bool pwcache_ids(const char *name, uid_t *uid, gid_t *gid, time_t now);
void pwcache_flush(void);

/* For the tests: how many times NSS was asked since the start. */
unsigned long pwcache_lookups(void);

#endif
