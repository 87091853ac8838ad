/*
 * verify: what `clientqctl verify` asks of the relay, the parts that are
 * pure functions (the daemon's control code runs the session).
 *
 * Contract
 * --------
 * - verify_address: a user's address, checked before it goes near an
 *   SMTP command line.  One pair of angle brackets around it is
 *   stripped; what is left must be 1 to VERIFY_ADDR_MAX octets of
 *   printable ASCII or UTF-8 without space, '<', '>' or any control
 *   character (CR and LF above all: a hostile user must not add an SMTP
 *   command of their own), and must not start with '-' (it would read
 *   as an option somewhere) nor be the null address.  Quoted local
 *   parts with spaces are refused: an honest address rarely has one,
 *   and refusing is safe.
 * - verify_bucket_take: a token bucket per user, VERIFY_BURST requests
 *   at once, one more every VERIFY_REFILL_MS; 0 when one is taken, else
 *   the wait in ms until one is there.  Pure: the caller passes the
 *   clock (monotonic ms) and keeps the buckets.
 * - verify_outcome_str: the word a recipient's reply gives: accepted
 *   (2xx), refused (5xx), deferred (4xx, or no reply).
 */
#ifndef CQ_VERIFY_H
#define CQ_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/* Addresses per request (also the relay mailer's recipients per
 * transaction, ENVELOPE_MAX_RCPT: one transaction answers them all). */
#define VERIFY_MAX_ADDRS 100
/* RFC 5321 section 4.5.3.1.3: a path is at most 256 octets with its
 * brackets. */
#define VERIFY_ADDR_MAX 254
/* Requests per user: a burst of this many, then one per refill. */
#define VERIFY_BURST 5
#define VERIFY_REFILL_MS 12000

/* verify_address: in (NUL-terminated) checked and stripped into out
 * (at least VERIFY_ADDR_MAX + 1 octets); false and why otherwise. */
bool verify_address(const char *in, char *out, size_t outsize, struct error *why);

struct verify_bucket {
	uid_t uid;
	long long last;		/* mono ms of the last refill; 0: unused */
	long long tokens_ms;	/* tokens in units of VERIFY_REFILL_MS */
};

/* verify_bucket_take: b is this user's bucket (last 0: a new one). */
long long verify_bucket_take(struct verify_bucket *b, long long now_ms);

enum verify_outcome {
	VERIFY_ACCEPTED,
	VERIFY_REFUSED,
	VERIFY_DEFERRED,
};

enum verify_outcome verify_outcome_of(int code);
const char *verify_outcome_str(enum verify_outcome o);

#endif
