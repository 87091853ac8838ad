#include "config.h"

#include "smtp/verify.h"

#include <stdio.h>
#include <string.h>

static bool
verify_fail(struct error *why, const char *text)
{
	error_set(why, 0, "%s", text);
	return false;
}

bool
verify_address(const char *in, char *out, size_t outsize, struct error *why)
{
	size_t len = strlen(in), i;
	const unsigned char *p;

	if (len >= 2 && in[0] == '<' && in[len - 1] == '>') {
		in++;
		len -= 2;
	}
	if (len == 0)
		return verify_fail(why, "empty address (the null sender is not a recipient)");
	if (len > VERIFY_ADDR_MAX) {
		error_set(why, 0, "address longer than %d octets", VERIFY_ADDR_MAX);
		return false;
	}
	if (len >= outsize)
		return verify_fail(why, "address too long");
	if (in[0] == '-')
		return verify_fail(why, "address starts with '-'");
	p = (const unsigned char *)in;
	for (i = 0; i < len; i++) {
		if (p[i] == '\r' || p[i] == '\n')
			return verify_fail(why, "address contains a line break (CR or LF)");
		if (p[i] < 0x20 || p[i] == 0x7f)
			return verify_fail(why, "address contains a control character");
		if (p[i] == ' ')
			return verify_fail(why, "address contains a space");
		if (p[i] == '<' || p[i] == '>')
			return verify_fail(why, "address contains '<' or '>'");
	}
	memcpy(out, in, len);
	out[len] = '\0';
	return true;
}

long long
verify_bucket_take(struct verify_bucket *b, long long now_ms)
{
	const long long full = (long long)VERIFY_BURST * VERIFY_REFILL_MS;

	if (b->last == 0) {
		b->last = now_ms;
		b->tokens_ms = full;
	} else if (now_ms > b->last) {
		b->tokens_ms += now_ms - b->last;
		if (b->tokens_ms > full)
			b->tokens_ms = full;
		b->last = now_ms;
	}
	if (b->tokens_ms < VERIFY_REFILL_MS)
		return VERIFY_REFILL_MS - b->tokens_ms;
	b->tokens_ms -= VERIFY_REFILL_MS;
	return 0;
}

enum verify_outcome
verify_outcome_of(int code)
{
	if (code >= 200 && code < 300)
		return VERIFY_ACCEPTED;
	if (code >= 500 && code < 600)
		return VERIFY_REFUSED;
	return VERIFY_DEFERRED;
}

const char *
verify_outcome_str(enum verify_outcome o)
{
	switch (o) {
	case VERIFY_ACCEPTED:
		return "accepted";
	case VERIFY_REFUSED:
		return "refused";
	case VERIFY_DEFERRED:
		break;
	}
	return "deferred";
}
