#include "config.h"

#include "delivery/retry.h"

#include "queue/qid.h"

long long
retry_delay(const struct retry_policy *p, long ntries, const char *id)
{
	long long d = p->min_delay > 0 ? p->min_delay : 1;
	double j = p->jitter < 0 ? 0 : p->jitter > 0.5 ? 0.5 : p->jitter;
	long n;
	double spread;

	for (n = 1; n < ntries && d < p->max_delay; n++)
		d *= 2;
	if (d > p->max_delay && p->max_delay > 0)
		d = p->max_delay;
	/* -j .. +j of the delay, by the ID's hash. */
	spread = ((double)(qid_hash(id) % 2001u) / 1000.0 - 1.0) * j;
	d += (long long)((double)d * spread);
	return d > 0 ? d : 1;
}

long long
retry_due(const struct retry_policy *p, long long last_try, long ntries, const char *id)
{
	if (ntries <= 0 || last_try <= 0)
		return 0;
	return last_try + retry_delay(p, ntries, id);
}

void
retry_breaker_init(struct retry_breaker *b, long long cap_ms)
{
	b->state = RETRY_UP;
	b->down_since = 0;
	b->next_probe = 0;
	b->interval = 1000;
	b->cap = cap_ms >= 1000 ? cap_ms : 1000;
}

bool
retry_breaker_allow(struct retry_breaker *b, long long now_ms)
{
	switch (b->state) {
	case RETRY_UP:
		return true;
	case RETRY_DOWN:
		if (now_ms < b->next_probe)
			return false;
		b->state = RETRY_PROBING;
		return true;
	case RETRY_PROBING:
		return false;
	}
	return false;
}

long long
retry_breaker_wait(const struct retry_breaker *b, long long now_ms)
{
	switch (b->state) {
	case RETRY_UP:
		return 0;
	case RETRY_DOWN:
		return b->next_probe > now_ms ? b->next_probe - now_ms : 0;
	case RETRY_PROBING:
		return -1;
	}
	return -1;
}

enum retry_transition
retry_breaker_success(struct retry_breaker *b, long long now_ms)
{
	(void)now_ms;
	if (b->state == RETRY_UP)
		return RETRY_NONE;
	b->state = RETRY_UP;
	b->interval = 1000;
	return RETRY_CAME_BACK;
}

enum retry_transition
retry_breaker_failure(struct retry_breaker *b, long long now_ms)
{
	switch (b->state) {
	case RETRY_UP:
		b->state = RETRY_DOWN;
		b->down_since = now_ms;
		b->interval = 1000;
		b->next_probe = now_ms + b->interval;
		return RETRY_WENT_DOWN;
	case RETRY_PROBING:
	case RETRY_DOWN:
		b->state = RETRY_DOWN;
		b->interval = b->interval * 2 > b->cap ? b->cap : b->interval * 2;
		b->next_probe = now_ms + b->interval;
		return RETRY_NONE;
	}
	return RETRY_NONE;
}

void
retry_breaker_flush(struct retry_breaker *b, long long now_ms)
{
	if (b->state == RETRY_DOWN) {
		b->interval = 1000;
		b->next_probe = now_ms;
	}
}
