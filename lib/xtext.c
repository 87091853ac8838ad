#include "config.h"

#include "xtext.h"

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
