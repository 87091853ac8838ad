#include "config.h"

#include <criterion/criterion.h>
#include <string.h>

#include "util/ctl.h"
#include "util/strbuf.h"

static enum ctl_parse
parse(const char *line, struct ctl_request *rq, char *reason)
{
	return ctl_parse_request(line, strlen(line), rq, reason, 200);
}

Test(ctl, round_trip_of_every_octet_but_nul)
{
	struct strbuf sb = STRBUF_INIT;
	struct ctl_request rq;
	char value[256], reason[200];
	int i;

	for (i = 1; i < 256; i++)
		value[i - 1] = (char)i;
	value[255] = '\0';
	ctl_request_start(&sb, "flush");
	ctl_request_add(&sb, "recipient", value);
	ctl_request_add(&sb, "wait", NULL);
	ctl_request_add(&sb, "id", "6AP6QvQA021729");
	ctl_request_end(&sb);
	cr_assert_eq(sb.buf[sb.len - 1], '\n');
	cr_assert_eq(ctl_parse_request(sb.buf, sb.len - 1, &rq, reason, sizeof reason),
	    CTL_PARSE_OK, "%s", reason);
	cr_assert_str_eq(rq.command, "flush");
	cr_assert_eq(rq.nargs, 3);
	cr_assert_str_eq(ctl_get(&rq, "recipient"), value);
	cr_assert_str_eq(ctl_get(&rq, "wait"), "");
	cr_assert_str_eq(ctl_get(&rq, "id"), "6AP6QvQA021729");
	cr_assert_null(ctl_get(&rq, "sender"));
	ctl_request_free(&rq);
	strbuf_free(&sb);
}

Test(ctl, repeated_keys_in_order)
{
	struct ctl_request rq;
	char reason[200];
	size_t pos = 0;

	cr_assert_eq(parse("CLIENTQ/1 flush id=A id=B id=C", &rq, reason), CTL_PARSE_OK);
	cr_assert_str_eq(ctl_get_next(&rq, "id", &pos), "A");
	cr_assert_str_eq(ctl_get_next(&rq, "id", &pos), "B");
	cr_assert_str_eq(ctl_get_next(&rq, "id", &pos), "C");
	cr_assert_null(ctl_get_next(&rq, "id", &pos));
	ctl_request_free(&rq);
}

Test(ctl, another_version_is_told_ours)
{
	struct ctl_request rq;
	char reason[200];

	cr_assert_eq(parse("CLIENTQ/2 status", &rq, reason), CTL_PARSE_VERSION);
	cr_assert_str_eq(reason, "this daemon speaks CLIENTQ/1");
	cr_assert_eq(parse("HELO there", &rq, reason), CTL_PARSE_BAD);
	cr_assert_eq(parse("CLIENTQ/1", &rq, reason), CTL_PARSE_BAD);
	cr_assert_str_eq(reason, "no command");
	cr_assert_eq(parse("CLIENTQ/1x status", &rq, reason), CTL_PARSE_VERSION);
}

Test(ctl, malformed_requests)
{
	static const char *bad[] = {
		"CLIENTQ/1  status",		/* two spaces */
		"CLIENTQ/1 status ",		/* trailing space */
		"CLIENTQ/1 Status",		/* not our spelling */
		"CLIENTQ/1 flush id=a+",	/* short escape */
		"CLIENTQ/1 flush id=a+4",
		"CLIENTQ/1 flush id=a+zz",
		"CLIENTQ/1 flush id=a+00",	/* a NUL */
		"CLIENTQ/1 flush id=a=b",	/* a bare '=' */
		"CLIENTQ/1 flush =x",		/* no key */
		"CLIENTQ/1 flush Id=x",
		"CLIENTQ/1 flush id=\x01",
	};
	struct ctl_request rq;
	char reason[200];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		reason[0] = '\0';
		cr_assert_eq(parse(bad[i], &rq, reason), CTL_PARSE_BAD, "%s", bad[i]);
		cr_assert_neq(reason[0], '\0', "%s: no reason", bad[i]);
		cr_assert_null(rq.storage);
	}
}

Test(ctl, bounds)
{
	struct strbuf sb = STRBUF_INIT;
	struct ctl_request rq;
	char reason[200];
	int i;

	ctl_request_start(&sb, "flush");
	for (i = 0; i < CTL_ARGS_MAX + 1; i++)
		ctl_request_add(&sb, "id", "x");
	cr_assert_eq(ctl_parse_request(sb.buf, sb.len, &rq, reason, sizeof reason),
	    CTL_PARSE_BAD);
	cr_assert(strstr(reason, "more than 128 arguments") != NULL, "%s", reason);
	strbuf_reset(&sb);
	ctl_request_start(&sb, "flush");
	while (sb.len < CTL_REQUEST_MAX)
		strbuf_addstr(&sb, " wait");
	cr_assert_eq(ctl_parse_request(sb.buf, sb.len, &rq, reason, sizeof reason),
	    CTL_PARSE_BAD);
	cr_assert(strstr(reason, "longer than") != NULL, "%s", reason);
	cr_assert_eq(ctl_parse_request("CLIENTQ/1 st\0tus", 16, &rq, reason, sizeof reason),
	    CTL_PARSE_BAD);
	strbuf_free(&sb);
}

Test(ctl, reply_lines_and_exit_codes)
{
	const char *text;
	enum ctl_status st;

	cr_assert_eq(ctl_parse_reply_line("D hello world", &st, &text), CTL_LINE_DATA);
	cr_assert_str_eq(text, "hello world");
	cr_assert_eq(ctl_parse_reply_line("D", &st, &text), CTL_LINE_DATA);
	cr_assert_str_eq(text, "");
	cr_assert_eq(ctl_parse_reply_line("P X delivered 1", &st, &text), CTL_LINE_PROGRESS);
	cr_assert_eq(ctl_parse_reply_line("OK", &st, &text), CTL_LINE_STATUS);
	cr_assert_eq(st, CTL_OK);
	cr_assert_eq(ctl_parse_reply_line("TRY busy", &st, &text), CTL_LINE_STATUS);
	cr_assert_eq(st, CTL_TRY);
	cr_assert_str_eq(text, "busy");
	cr_assert_eq(ctl_parse_reply_line("NOPE", &st, &text), CTL_LINE_BAD);
	cr_assert_eq(ctl_parse_reply_line("DX", &st, &text), CTL_LINE_BAD);
	cr_assert_eq(ctl_status_exit(CTL_OK), 0);
	cr_assert_eq(ctl_status_exit(CTL_NO), 1);
	cr_assert_eq(ctl_status_exit(CTL_BAD), 2);
	cr_assert_eq(ctl_status_exit(CTL_TRY), 75);
}
