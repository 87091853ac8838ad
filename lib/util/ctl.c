#include "config.h"

#include "util/ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

static void
ctl_reason(char *reason, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
ctl_reason(char *reason, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (size == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(reason, size, fmt, ap);
	va_end(ap);
}

/* Commands and keys: lower-case letters, digits and '-', as clientqctl
 * spells them; anything else is not ours. */
static bool
ctl_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 32)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-'))
			return false;
	return true;
}

static int
ctl_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode the xtext s[0..n) in place into out (never longer than the
 * input); false on a malformed escape, a bare '=' or a decoded NUL. */
static bool
ctl_unxtext(const char *s, size_t n, char *out)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < '!' || c > '~' || c == '=')
			return false;
		if (c == '+') {
			int h, l;

			if (i + 2 >= n)
				return false;
			h = ctl_hex((unsigned char)s[i + 1]);
			l = ctl_hex((unsigned char)s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return false;
			c = (unsigned char)(h * 16 + l);
			i += 2;
		}
		out[k++] = (char)c;
	}
	out[k] = '\0';
	return true;
}

enum ctl_parse
ctl_parse_request(const char *line, size_t len, struct ctl_request *rq,
    char *reason, size_t reason_size)
{
	const char *p = line, *end = line + len;
	char *out;
	size_t vlen = strlen(CTL_VERSION);
	bool first = true;

	memset(rq, 0, sizeof *rq);
	if (len >= CTL_REQUEST_MAX) {
		ctl_reason(reason, reason_size, "request longer than %d octets", CTL_REQUEST_MAX - 1);
		return CTL_PARSE_BAD;
	}
	if (memchr(line, '\0', len) != NULL || memchr(line, '\n', len) != NULL) {
		ctl_reason(reason, reason_size, "%s", "request contains a NUL or a line feed");
		return CTL_PARSE_BAD;
	}
	if (len > 0 && line[len - 1] == '\r')
		len--, end--;	/* tolerated, as from a terminal via socat */
	if (len < vlen || memcmp(line, CTL_VERSION, vlen) != 0 ||
	    (len > vlen && line[vlen] != ' ')) {
		ctl_reason(reason, reason_size, "this daemon speaks %s", CTL_VERSION);
		return len >= 8 && memcmp(line, "CLIENTQ/", 8) == 0 ?
		    CTL_PARSE_VERSION : CTL_PARSE_BAD;
	}
	p += vlen;
	if (p == end) {
		ctl_reason(reason, reason_size, "%s", "no command");
		return CTL_PARSE_BAD;
	}
	/* Each word costs at most its octets and two NULs (a bare key's own
	 * and its empty value's), one more than the space before it. */
	rq->storage = out = xmalloc(2 * len + 2);
	while (p < end) {
		const char *w, *we, *eq;

		if (*p != ' ' || p + 1 >= end || p[1] == ' ') {
			ctl_reason(reason, reason_size, "%s", "words must be separated by one space");
			goto bad;
		}
		w = ++p;
		while (p < end && *p != ' ')
			p++;
		we = p;
		if (first) {
			if (!ctl_name_ok(w, (size_t)(we - w))) {
				ctl_reason(reason, reason_size, "%s", "malformed command name");
				goto bad;
			}
			memcpy(out, w, (size_t)(we - w));
			out[we - w] = '\0';
			rq->command = out;
			out += we - w + 1;
			first = false;
			continue;
		}
		if (rq->nargs == CTL_ARGS_MAX) {
			ctl_reason(reason, reason_size, "more than %d arguments", CTL_ARGS_MAX);
			goto bad;
		}
		eq = memchr(w, '=', (size_t)(we - w));
		if (!ctl_name_ok(w, (size_t)((eq ? eq : we) - w))) {
			ctl_reason(reason, reason_size, "malformed argument name in '%.40s'", w);
			goto bad;
		}
		memcpy(out, w, (size_t)((eq ? eq : we) - w));
		out[(eq ? eq : we) - w] = '\0';
		rq->args[rq->nargs].key = out;
		out += (eq ? eq : we) - w + 1;
		if (eq == NULL) {
			*out = '\0';
		} else if (!ctl_unxtext(eq + 1, (size_t)(we - eq - 1), out)) {
			ctl_reason(reason, reason_size, "argument '%s' is not valid xtext",
			    rq->args[rq->nargs].key);
			goto bad;
		}
		rq->args[rq->nargs].value = out;
		out += strlen(out) + 1;
		rq->nargs++;
	}
	return CTL_PARSE_OK;
bad:
	ctl_request_free(rq);
	return CTL_PARSE_BAD;
}

void
ctl_request_free(struct ctl_request *rq)
{
	free(rq->storage);
	memset(rq, 0, sizeof *rq);
}

const char *
ctl_get_next(const struct ctl_request *rq, const char *key, size_t *pos)
{
	while (*pos < rq->nargs) {
		const struct ctl_arg *a = &rq->args[(*pos)++];

		if (strcmp(a->key, key) == 0)
			return a->value;
	}
	return NULL;
}

const char *
ctl_get(const struct ctl_request *rq, const char *key)
{
	size_t pos = 0;

	return ctl_get_next(rq, key, &pos);
}

void
ctl_request_start(struct strbuf *sb, const char *command)
{
	strbuf_addf(sb, "%s %s", CTL_VERSION, command);
}

void
ctl_request_add(struct strbuf *sb, const char *key, const char *value)
{
	const unsigned char *p;

	strbuf_addf(sb, " %s", key);
	if (value == NULL)
		return;
	strbuf_addch(sb, '=');
	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if (*p < '!' || *p > '~' || *p == '+' || *p == '=')
			strbuf_addf(sb, "+%02X", *p);
		else
			strbuf_addch(sb, *p);
	}
}

void
ctl_request_end(struct strbuf *sb)
{
	strbuf_addch(sb, '\n');
}

const char *
ctl_status_word(enum ctl_status st)
{
	switch (st) {
	case CTL_OK:
		return "OK";
	case CTL_NO:
		return "NO";
	case CTL_BAD:
		return "BAD";
	case CTL_TRY:
		return "TRY";
	}
	return "BAD";
}

int
ctl_status_exit(enum ctl_status st)
{
	switch (st) {
	case CTL_OK:
		return 0;
	case CTL_NO:
		return 1;
	case CTL_BAD:
		return 2;
	case CTL_TRY:
		return 75;
	}
	return 2;
}

enum ctl_line
ctl_parse_reply_line(const char *line, enum ctl_status *st, const char **text)
{
	static const struct {
		const char *word;
		enum ctl_line kind;
		enum ctl_status st;
	} words[] = {
		{ "D", CTL_LINE_DATA, CTL_OK },
		{ "P", CTL_LINE_PROGRESS, CTL_OK },
		{ "OK", CTL_LINE_STATUS, CTL_OK },
		{ "NO", CTL_LINE_STATUS, CTL_NO },
		{ "BAD", CTL_LINE_STATUS, CTL_BAD },
		{ "TRY", CTL_LINE_STATUS, CTL_TRY },
	};
	size_t i;

	for (i = 0; i < sizeof words / sizeof words[0]; i++) {
		size_t n = strlen(words[i].word);

		if (strncmp(line, words[i].word, n) == 0 &&
		    (line[n] == ' ' || line[n] == '\0')) {
			*st = words[i].st;
			*text = line[n] == ' ' ? line + n + 1 : line + n;
			return words[i].kind;
		}
	}
	*text = line;
	return CTL_LINE_BAD;
}
