/*
 * qsel: the selector grammar's tests (qsel.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "queue/qsel.h"

void
qsel_init(struct qsel *s)
{
	memset(s, 0, sizeof *s);
	s->older_than = -1;
	s->newer_than = -1;
}

bool
qsel_set_reason(struct qsel *s, const char *re, struct error *err)
{
	int rc;

	if (s->by_reason) {
		regfree(&s->reason);
		s->by_reason = false;
	}
	rc = regcomp(&s->reason, re, REG_EXTENDED | REG_ICASE | REG_NOSUB);
	if (rc != 0) {
		char words[200];

		regerror(rc, &s->reason, words, sizeof words);
		error_set(err, 0, "%s", words);
		return false;
	}
	s->by_reason = true;
	return true;
}

void
qsel_free(struct qsel *s)
{
	if (s->by_reason)
		regfree(&s->reason);
	s->by_reason = false;
}

bool
qsel_empty(const struct qsel *s)
{
	return s->older_than < 0 && s->newer_than < 0 && s->sender == NULL &&
	    s->recipient == NULL && !s->by_user && !s->by_reason;
}

/* s without its angle brackets into buf, qualified with domain when it
 * has no '@'. */
static void
qsel_canon(const char *s, const char *domain, char *buf, size_t size)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '<' && s[n - 1] == '>')
		s++, n -= 2;
	if (n == 0)
		snprintf(buf, size, "%s", "");		/* <>: the null sender */
	else if (memchr(s, '@', n) != NULL)
		snprintf(buf, size, "%.*s", (int)n, s);
	else
		snprintf(buf, size, "%.*s@%s", (int)n, s, domain);
}

bool
qsel_addr_match(const char *have, const char *want, const char *domain)
{
	char a[1024], b[1024];
	const char *at;

	qsel_canon(have, domain, a, sizeof a);
	if (want[0] == '@') {
		at = strrchr(a, '@');
		return at != NULL && want[1] != '\0' && strcasecmp(at + 1, want + 1) == 0;
	}
	qsel_canon(want, domain, b, sizeof b);
	return strcasecmp(a, b) == 0;
}

static bool
qsel_reason_in(const struct qsel *s, const char *text)
{
	return text != NULL && regexec(&s->reason, text, 0, NULL, 0) == 0;
}

bool
qsel_match(const struct qsel *s, const struct qlist_entry *e, long long now,
    const char *domain)
{
	const struct qf_envelope *env = e->env;
	long long age;
	size_t i;
	bool found;

	if (s->by_user && !qlist_belongs(e, s->uid, s->user, domain))
		return false;
	if (s->older_than < 0 && s->newer_than < 0 && s->sender == NULL &&
	    s->recipient == NULL && !s->by_reason)
		return true;
	if (env == NULL)
		return false;
	age = now - env->ctime;
	if (s->older_than >= 0 && !(age > s->older_than))
		return false;
	if (s->newer_than >= 0 && !(age < s->newer_than))
		return false;
	if (s->sender != NULL && (env->sender == NULL ||
	    !qsel_addr_match(env->sender, s->sender, domain)))
		return false;
	if (s->recipient != NULL) {
		for (found = false, i = 0; !found && i < env->nrcpts; i++)
			found = qsel_addr_match(env->rcpts[i].addr, s->recipient, domain);
		if (!found)
			return false;
	}
	if (s->by_reason) {
		found = qsel_reason_in(s, env->status);
		for (i = 0; !found && i < env->nrcpts; i++)
			found = qsel_reason_in(s, env->rcpts[i].status);
		if (!found)
			return false;
	}
	return true;
}

bool
qsel_parse_age(const char *s, long long *secs)
{
	long long n, unit = 1;
	char *end;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || n < 0)
		return false;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	case 'w':
		unit = 7 * 86400;
		break;
	default:
		return false;
	}
	if (*end != '\0' && end[1] != '\0')
		return false;
	if (n > LLONG_MAX / unit)
		return false;
	*secs = n * unit;
	return true;
}
