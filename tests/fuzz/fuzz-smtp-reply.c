/*
 * libFuzzer target for the SMTP reply-line parser: every line a relay can
 * send must parse or be refused without a crash or undefined behaviour,
 * and what parses must be consistent (a code of 200-599, an enhanced code
 * of the same class, text within bounds); and the relay's queue ID read
 * from the text (lib/smtp/mtaqid.c), when there is one, is a bounded token of
 * safe characters found in that text.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/mtaqid.h"
#include "smtp/smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[SMTP_LINE_MAX + 1], id[MTAQID_MAX + 1];
	struct smtp_reply r;
	bool last;
	size_t n;

	if (size > SMTP_LINE_MAX)
		size = SMTP_LINE_MAX;
	memcpy(line, data, size);
	line[size] = '\0';
	if (!smtp_parse_reply_line(line, &last, &r))
		return 0;
	if (r.code < 200 || r.code > 599)
		abort();
	if (r.enhanced[0] != '\0' && r.enhanced[0] != line[0])
		abort();
	if (strlen(r.text) >= sizeof r.text || strlen(r.full) >= sizeof r.full)
		abort();
	if (mtaqid_parse(r.text, id, sizeof id)) {
		n = strlen(id);
		if (n == 0 || n > MTAQID_MAX || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789._-") != n || strstr(r.text, id) == NULL)
			abort();
	} else if (id[0] != '\0') {
		abort();
	}
	return 0;
}
