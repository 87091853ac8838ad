/*
 * libFuzzer target for the control protocol (ctl.h): any line a local
 * user can send the daemon must parse or be refused without a crash,
 * a leak or undefined behaviour; what parses must re-encode to a request
 * that parses to the same command and arguments; and any line the
 * daemon sends must classify without harm on the client's side.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/ctl.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request rq, again;
	struct strbuf sb = STRBUF_INIT;
	char reason[200], *line;
	const char *text;
	enum ctl_status st;
	size_t i;

	line = malloc(size + 1);
	memcpy(line, data, size);
	line[size] = '\0';
	/* The client's side: a reply line. */
	(void)ctl_parse_reply_line(line, &st, &text);
	if (text < line || text > line + size)
		abort();
	if (ctl_parse_request(line, size, &rq, reason, sizeof reason) != CTL_PARSE_OK) {
		if (reason[0] == '\0')
			abort();
		free(line);
		return 0;
	}
	if (rq.command == NULL || rq.nargs > CTL_ARGS_MAX)
		abort();
	ctl_request_start(&sb, rq.command);
	for (i = 0; i < rq.nargs; i++)
		ctl_request_add(&sb, rq.args[i].key, rq.args[i].value[0] ? rq.args[i].value : NULL);
	/* A bare key and "key=" parse the same; the re-encoding may be
	 * longer than the limit only when the input was near it. */
	if (ctl_parse_request(sb.buf, sb.len, &again, reason, sizeof reason) == CTL_PARSE_OK) {
		if (strcmp(again.command, rq.command) != 0 || again.nargs != rq.nargs)
			abort();
		for (i = 0; i < rq.nargs; i++)
			if (strcmp(again.args[i].key, rq.args[i].key) != 0 ||
			    strcmp(again.args[i].value, rq.args[i].value) != 0)
				abort();
		ctl_request_free(&again);
	} else if (sb.len < CTL_REQUEST_MAX) {
		abort();
	}
	strbuf_free(&sb);
	ctl_request_free(&rq);
	free(line);
	return 0;
}
