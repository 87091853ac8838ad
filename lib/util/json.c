/*
 * json.c: JSON strings (json.h).
 */
#include "config.h"

#include "util/json.h"

#include <stddef.h>
#include <stdio.h>

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t
json_utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return n;
}

void
json_chars(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		size_t n;

		if (*p == '"' || *p == '\\') {
			putc('\\', fp);
			putc(*p++, fp);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(fp, "\\u%04x", *p++);
		} else if ((n = json_utf8_len(p)) > 0) {
			fwrite(p, 1, n, fp);
			p += n;
		} else {
			fprintf(fp, "\\u%04x", *p++);
		}
	}
}

void
json_string(FILE *fp, const char *s)
{
	putc('"', fp);
	json_chars(fp, s);
	putc('"', fp);
}
