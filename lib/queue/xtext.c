#include "config.h"

#include "queue/xtext.h"

#include "util/strbuf.h"

static bool
xtext_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

bool
xtext_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		if (*p == '+') {
			if (!xtext_hex(p[1]) || !xtext_hex(p[2]))
				return false;
			p += 3;
			continue;
		}
		if (*p < '!' || *p > '~' || *p == '=')
			return false;
		p++;
	}
	return true;
}

static int
xtext_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

void
xtext_decode(const char *s, struct strbuf *out)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		if (*p == '+' && xtext_hex(p[1]) && xtext_hex(p[2])) {
			strbuf_addch(out, xtext_val(p[1]) * 16 + xtext_val(p[2]));
			p += 3;
		} else {
			strbuf_addch(out, *p++);
		}
	}
}
