/*
 * mtaqid.c: the relay's queue ID from its reply to the final "."
 * (mtaqid.h).
 *
 * Strict on purpose: the ID goes into the journal (MTA_QUEUE_ID) and to
 * clientqctl's users, and the reply comes from a relay that may be
 * anything.  Each form is matched whole, as the MTA writes it; a relay
 * that says something else gets no ID, which costs only a field.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "smtp/mtaqid.h"

static bool
mtaqid_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
mtaqid_alnum(char c)
{
	return mtaqid_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* The length of the token at p: [A-Za-z0-9._-]*, its first alphanumeric
 * (0 otherwise).  Stops at MTAQID_MAX + 1: longer is too long anyway. */
static size_t
mtaqid_token(const char *p)
{
	size_t n = 0;

	if (!mtaqid_alnum(p[0]))
		return 0;
	while (n <= MTAQID_MAX &&
	    (mtaqid_alnum(p[n]) || p[n] == '.' || p[n] == '_' || p[n] == '-'))
		n++;
	return n;
}

/* 1 to 3 digits at *p; *p moves past them. */
static bool
mtaqid_digits(const char **p)
{
	size_t n = 0;

	while (n < 3 && mtaqid_digit((*p)[n]))
		n++;
	if (n == 0 || mtaqid_digit((*p)[n]))
		return false;
	*p += n;
	return true;
}

/* A leading enhanced status code of class 2 (RFC 3463: 2.subject.detail)
 * and its separator, " " or ": ": what follows it, or p itself. */
static const char *
mtaqid_skip_enhanced(const char *p)
{
	const char *q = p;

	if (q[0] != '2' || q[1] != '.')
		return p;
	q += 2;
	if (!mtaqid_digits(&q) || *q++ != '.' || !mtaqid_digits(&q))
		return p;
	if (q[0] == ' ')
		return q + 1;
	if (q[0] == ':' && q[1] == ' ')
		return q + 2;
	return p;
}

/* The token at p, followed by exactly rest (case aside), into out. */
static bool
mtaqid_take(const char *p, const char *rest, char *out, size_t size)
{
	size_t n = mtaqid_token(p);

	if (n == 0 || n > MTAQID_MAX || n >= size || strcasecmp(p + n, rest) != 0)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

bool
mtaqid_parse(const char *text, char *out, size_t size)
{
	static const char postfix[] = "Ok: queued as ", exim[] = "OK id=";
	const char *p;

	if (out == NULL || size == 0)
		return false;
	out[0] = '\0';
	if (text == NULL)
		return false;
	p = mtaqid_skip_enhanced(text);
	if (strncasecmp(p, postfix, sizeof postfix - 1) == 0)
		return mtaqid_take(p + sizeof postfix - 1, "", out, size);
	if (strncasecmp(p, exim, sizeof exim - 1) == 0)
		return mtaqid_take(p + sizeof exim - 1, "", out, size);
	/* sendmail's and OpenSMTPD's. */
	return mtaqid_take(p, " Message accepted for delivery", out, size);
}
