/*
 * retry: when to try again -- per message (backoff) and per relay (a
 * circuit breaker).
 *
 * Contract
 * --------
 * Pure functions of their arguments; the caller passes the clock, so the
 * tests drive them with any times they like.
 * - retry_due: a message is due again at its last try (the qf's K) plus
 *   an exponential delay in its number of tries (N): min_delay * 2^(N-1),
 *   capped at max_delay, spread by +- jitter of it.  The spread is a hash
 *   of the queue ID, not a random number, so the due time is the same
 *   after a restart (it is derived from the file alone) while messages
 *   deferred together do not all come due in the same second.  A message
 *   never tried (N = 0 or K = 0) is due at once.
 * - The breaker: after a failed connection the relay is "down": nothing
 *   is tried but one probe, allowed on a growing interval (1 s doubling to
 *   the cap).  A probe that connects closes it ("back"); retry_breaker_
 *   flush lets a probe go at once (a flush request, the MTA restarting).
 *   Transitions are returned, so the caller logs exactly two lines per
 *   outage: one when it goes down, one when it is back.
 * Times: retry_due in seconds of the epoch (K is one); the breaker in
 * milliseconds of any monotonic clock.
 */
#ifndef CQ_RETRY_H
#define CQ_RETRY_H

#include <stdbool.h>

struct retry_policy {
	long long min_delay;	/* seconds; default 60 */
	long long max_delay;	/* seconds; default 3600 */
	double jitter;		/* fraction of the delay, 0 to 0.5; default 0.1 */
};

#define RETRY_POLICY_DEFAULT { 60, 3600, 0.1 }

long long retry_delay(const struct retry_policy *p, long ntries, const char *id);
long long retry_due(const struct retry_policy *p, long long last_try, long ntries,
    const char *id);

enum retry_state {
	RETRY_UP,		/* closed: everything goes */
	RETRY_DOWN,		/* open: nothing goes until the next probe */
	RETRY_PROBING,		/* one probe out */
};

enum retry_transition {
	RETRY_NONE,
	RETRY_WENT_DOWN,	/* log "unreachable" */
	RETRY_CAME_BACK,	/* log "back after ..." */
};

struct retry_breaker {
	enum retry_state state;
	long long down_since;	/* ms, when it went down */
	long long next_probe;	/* ms */
	long long interval;	/* ms, the current probe interval */
	long long cap;		/* ms, the largest interval */
};

void retry_breaker_init(struct retry_breaker *b, long long cap_ms);

/* retry_breaker_allow: may a connection be tried now?  When down and
 * the probe is due, this one is the probe (state PROBING). */
bool retry_breaker_allow(struct retry_breaker *b, long long now_ms);

/* retry_breaker_wait: ms until a connection may be tried (0: now; -1:
 * a probe is out, wait for it). */
long long retry_breaker_wait(const struct retry_breaker *b, long long now_ms);

enum retry_transition retry_breaker_success(struct retry_breaker *b, long long now_ms);
enum retry_transition retry_breaker_failure(struct retry_breaker *b, long long now_ms);

/* retry_breaker_flush: let a probe go at once (and restart the interval
 * at 1 s). */
void retry_breaker_flush(struct retry_breaker *b, long long now_ms);

#endif
