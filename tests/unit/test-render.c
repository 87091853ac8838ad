#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <criterion/criterion.h>

#include "queue/qf.h"
#include "delivery/render.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

static const struct render_opts relay = { "mDFMuXa8k", 2040, "host.test", NULL, NULL, NULL, NULL, NULL };

/* The body as the relay mailer sends it. */
static char *
body(const char *df, size_t len, size_t piece)
{
	struct strbuf out = STRBUF_INIT;
	struct render_body rb;
	size_t i;

	render_body_init(&rb, &relay);
	for (i = 0; i < len; i += piece)
		render_body_feed(&rb, df + i, len - i < piece ? len - i : piece, &out);
	render_body_finish(&rb, &out);
	return strbuf_detach(&out, NULL);
}

static char *
repeat(char c, size_t n)
{
	char *s = xmalloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

Test(render, line_ends_and_dots)
{
	static const char df[] = ".a\n..b\nc\r\nd\re\nlast";
	size_t piece;

	/* The same result whatever the read sizes. */
	for (piece = 1; piece <= sizeof df; piece++) {
		char *got = body(df, sizeof df - 1, piece);

		cr_assert_str_eq(got, "..a\r\n...b\r\nc\r\nd\re\r\nlast\r\n", "piece %zu", piece);
		free(got);
	}
}

Test(render, empty_body_and_empty_lines)
{
	char *got = body("", 0, 1);

	cr_assert_str_eq(got, "");
	free(got);
	got = body("\n\n", 2, 1);
	cr_assert_str_eq(got, "\r\n\r\n");
	free(got);
}

/* Long lines split where sendmail 8.17 splits them (measured): 2039
 * octets then "!", continuations of a space and 2047; a line that ends
 * right after the limit is not split. */
Test(render, long_lines_split_like_sendmail)
{
	static const struct {
		size_t n;
		const char *shape;
	} cases[] = {
		{ 2039, "2039" }, { 2040, "2040" }, { 2041, "2039! 2" },
		{ 4086, "2039! 2047" }, { 4087, "2039! 2048" }, { 4088, "2039! 2047! 2" },
	};
	size_t k;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		char *line = repeat('x', cases[k].n), *df = xasprintf("%s\n", line);
		char *got = body(df, strlen(df), 4096);
		struct strbuf shape = STRBUF_INIT;
		char *p = got, *e;

		while ((e = strstr(p, "\r\n")) != NULL) {
			size_t len = (size_t)(e - p);
			bool bang = len > 0 && p[len - 1] == '!';

			if (p != got)
				cr_assert_eq(p[0], ' ', "continuation starts with a space");
			strbuf_addf(&shape, "%s%zu%s", p == got ? "" : " ",
			    len - bang - (p != got), bang ? "!" : "");
			p = e + 2;
		}
		cr_assert_str_eq(strbuf_str(&shape), cases[k].shape, "%zu octets: %s", cases[k].n, strbuf_str(&shape));
		strbuf_free(&shape);
		free(line);
		free(df);
		free(got);
	}
}

Test(render, a_leading_dot_is_not_counted)
{
	char *line = repeat('x', 4099), *df = xasprintf(".%s\n", line);
	char *got = body(df, strlen(df), 7);

	cr_assert(strncmp(got, "..x", 3) == 0);
	cr_assert_eq(strstr(got, "!\r\n ") - got, 2040, "2039 octets after the doubled dot");
	free(line);
	free(df);
	free(got);
}

Test(render, a_last_dot_line_without_newline_is_stuffed)
{
	/* sendmail sends this one unstuffed, which would end DATA early;
	 * the one deliberate difference. */
	char *got = body("a\n.", 3, 1);

	cr_assert_str_eq(got, "a\r\n..\r\n");
	free(got);
}

static char *
headers(const char *qf)
{
	struct qf_envelope *env;
	struct error err;
	struct strbuf out = STRBUF_INIT;

	cr_assert_eq(qf_parse(qf, strlen(qf), &env, &err), QF_OK, "%s", err.reason);
	render_headers(env, &relay, &out);
	qf_free(env);
	return strbuf_detach(&out, NULL);
}

Test(render, header_selection)
{
	char *got = headers("V8\nT1\nSroot\nRPFD:a@b\n"
	    "H?P?Return-Path: <\x81g>\nH??Received: x\nH?D?Date: d\nH?x?Full-Name: Root\n"
	    "H??Content-Length: 5\nH?Q?X-Unknown-Flag: no\nH?${nosuch}?X-Macro: no\n"
	    "H?$_?X-Macro-Set: yes\n$_root@localhost\nH??Bcc: secret@example.test\n.\n");

	cr_assert_str_eq(got, "Received: x\r\nDate: d\r\nX-Macro-Set: yes\r\nBcc:\r\n\r\n");
	free(got);
	got = headers("V8\nT1\nFb\nSroot\nRPFD:a@b\nH??Bcc: secret\nH??Subject: s\n.\n");
	cr_assert_str_eq(got, "Subject: s\r\n\r\n", "F flag b deletes Bcc:");
	free(got);
}

Test(render, address_headers)
{
	char *got = headers("V8\nT1\nSroot\nRPFD:a@b\n"
	    "H??From: joe (Joe in a comment)\n"
	    "H??Sender: Joe Q. User <joe>\n"
	    "H??Reply-To: \"Reply Box\" <replies>, other\n"
	    "H??To: bob, \"Carol C\" <carol>, dave@example.test\n"
	    "H??Cc: team: erin, frank;, grace\n"
	    "H??Subject: not an address: bob\n.\n");

	cr_assert_str_eq(got,
	    "From: joe@host.test (Joe in a comment)\r\n"
	    "Sender: \"Joe Q. User\" <joe@host.test>\r\n"
	    "Reply-To: \"Reply Box\" <replies@host.test>, other@host.test\r\n"
	    "To: bob@host.test, \"Carol C\" <carol@host.test>, dave@example.test\r\n"
	    "Cc: team: erin@host.test, frank@host.test;, grace@host.test\r\n"
	    "Subject: not an address: bob\r\n\r\n");
	free(got);
}

Test(render, address_lists_fold_at_78)
{
	char *got = headers("V8\nT1\nSroot\nRPFD:a@b\n"
	    "H??To: user1@example.test, user2@example.test, user3@example.test, user4@example.test\n.\n");

	cr_assert_str_eq(got,
	    "To: user1@example.test, user2@example.test, user3@example.test,\r\n"
	    "        user4@example.test\r\n\r\n");
	free(got);
}

Test(render, metaquote_and_folding)
{
	char *got = headers("V8\nT1\nSroot\nRPFD:a@b\n"
	    "H??Subject: a\xff\x80" "b\xff\xff\n\tcontinued\n.\n");

	cr_assert_str_eq(got, "Subject: a\x80" "b\xff\r\n\tcontinued\r\n\r\n");
	free(got);
}

Test(render, long_header_is_cut_where_sendmail_cuts_it)
{
	char *v = repeat('y', 3000), *qf = xasprintf("V8\nT1\nSroot\nRPFD:a@b\nH??X-Long: %s\n.\n", v);
	struct qf_envelope *env;
	struct error err;
	struct strbuf out = STRBUF_INIT;

	cr_assert_eq(qf_parse(qf, strlen(qf), &env, &err), QF_OK);
	cr_assert_eq(render_headers(env, &relay, &out), 1, "one line cut");
	/* 2303 octets in all: 2039 + "!" CRLF, then " " + 264. */
	cr_assert_eq(strstr(out.buf, "!\r\n ") - out.buf, 2039);
	cr_assert_eq(out.len, 2040 + 2 + 1 + 264 + 2 + 2);
	qf_free(env);
	strbuf_free(&out);
	free(v);
	free(qf);
}

Test(render, envelope_addresses)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "bob", "bob@host.test" }, { "alice@example.test", "alice@example.test" },
		{ "\"Carol C\" <carol>", "carol@host.test" }, { "team: erin", "erin@host.test" },
		{ "frank;", "frank@host.test" }, { "joe (comment)", "joe@host.test" },
		{ "<>", "" }, { "", "" }, { "@a,@b:u@c", "@a,@b:u@c" },
		{ "\"john doe\"@x", "\"john doe\"@x" },
	};
	size_t k;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct strbuf out = STRBUF_INIT;

		render_address(cases[k].in, &relay, &out);
		cr_expect_str_eq(strbuf_str(&out), cases[k].out, "'%s'", cases[k].in);
		strbuf_free(&out);
	}
}

Test(render, message_size_estimate)
{
	struct qf_envelope *env;
	struct error err;
	static const char qf[] = "V8\nT1\nSroot\nRPFD:a@b\nH??Subject: s\nH?D?Date: d\n\tx\n.\n";

	cr_assert_eq(qf_parse(qf, strlen(qf), &env, &err), QF_OK);
	/* readqf(): strlen of each logical H line, less 3. */
	cr_assert_eq(render_message_size(env, 100),
	    100 + (long long)strlen("H??Subject: s") - 3 + (long long)strlen("H?D?Date: d\n\tx") - 3);
	qf_free(env);
}

static bool
local_names(const char *host, void *arg)
{
	(void)arg;
	return strcasecmp(host, "localhost") == 0 || strcasecmp(host, "host.test") == 0;
}

Test(render, local_names_and_masquerading)
{
	static const char qf[] = "V8\nT1\nSroot\nRPFD:a@b\n"
	    "H??From: Root User <root@localhost>\nH??Sender: daemon@host.test\n"
	    "H??To: bob@localhost, carol, dave@example.test\n.\n";
	struct render_opts o = relay;
	struct qf_envelope *env;
	struct error err;
	struct strbuf out = STRBUF_INIT;

	o.is_local = local_names;
	cr_assert_eq(qf_parse(qf, strlen(qf), &env, &err), QF_OK);
	/* Local names become $j in every address header. */
	render_headers(env, &o, &out);
	cr_assert_str_eq(out.buf, "From: Root User <root@host.test>\r\nSender: daemon@host.test\r\n"
	    "To: bob@host.test, carol@host.test, dave@example.test\r\n\r\n");
	/* MASQUERADE_AS: senders take the masquerade domain, recipients
	 * keep $j. */
	strbuf_reset(&out);
	o.masq = "masq.example";
	render_headers(env, &o, &out);
	cr_assert_str_eq(out.buf, "From: Root User <root@masq.example>\r\nSender: daemon@masq.example\r\n"
	    "To: bob@host.test, carol@host.test, dave@example.test\r\n\r\n");
	strbuf_reset(&out);
	render_address_masq("joe", &o, &out);
	cr_assert_str_eq(out.buf, "joe@masq.example");
	strbuf_reset(&out);
	render_address("joe@localhost", &o, &out);
	cr_assert_str_eq(out.buf, "joe@host.test");
	strbuf_free(&out);
	qf_free(env);
}
