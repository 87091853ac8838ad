#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "queue/qf.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

/* A file as sendmail 8.17.1.9 wrote it here (DSN options, a deferral). */
static const char qf_dsn[] =
    "V8\n"
    "T1795559935\n"
    "K1795559935\n"
    "N1\n"
    "P30019\n"
    "I254/0/10954356\n"
    "MDeferred: Connection refused by [127.0.0.1]\n"
    "Fdns\n"
    "$_root@localhost\n"
    "${daemon_flags}c u\n"
    "Ssender@example.test\n"
    "Zenvid123\n"
    "Asender@example.test\n"
    "C:dave@example.test\n"
    "rRFC822; dave@example.test\n"
    "RPNSF:dave@example.test\n"
    "H?P?Return-Path: <\x81g>\n"
    "H??Received: (from root@localhost)\n"
    "\tby host.test (8.17.1.9/8.17.1.9/Submit) id 6AOMct2T003760\n"
    "\tfor dave@example.test; Tue, 24 Nov 2026 22:38:55 GMT\n"
    "H?D?Date: Tue, 24 Nov 2026 22:38:55 GMT\n"
    "H?F?From: sender@example.test\n"
    "H?M?Message-Id: <202611242238.6AOMct2T003760@host.test>\n"
    "H??Subject: two\n"
    ".\n";

static struct qf_envelope *
parse_ok(const char *s)
{
	struct qf_envelope *env;
	struct error err;
	enum qf_status st = qf_parse(s, strlen(s), &env, &err);

	cr_assert_eq(st, QF_OK, "parse: %s (line %u: %s)", qf_status_str(st),
	    err.line, err.reason);
	return env;
}

static void
expect_status(const char *s, enum qf_status want, unsigned line,
    const char *reason_part)
{
	struct qf_envelope *env = (struct qf_envelope *)1;
	struct error err;
	enum qf_status st = qf_parse(s, strlen(s), &env, &err);

	cr_expect_eq(st, want, "status %s, want %s (%s)", qf_status_str(st),
	    qf_status_str(want), err.reason);
	cr_expect_null(env, "no envelope on failure");
	cr_expect_eq(err.line, line, "line %u, want %u (%s)", err.line, line,
	    err.reason);
	cr_expect(strstr(err.reason, reason_part) != NULL,
	    "reason '%s' lacks '%s'", err.reason, reason_part);
}

Test(qf, parses_every_record)
{
	struct qf_envelope *env = parse_ok(qf_dsn);
	const struct qf_rcpt *r;

	cr_assert_eq(env->version, 8);
	cr_assert_eq(env->ctime, 1795559935);
	cr_assert_eq(env->dtime, 1795559935);
	cr_assert_eq(env->ntries, 1);
	cr_assert_eq(env->priority, 30019);
	cr_assert_str_eq(env->df_inode, "254/0/10954356");
	cr_assert_str_eq(env->status, "Deferred: Connection refused by [127.0.0.1]");
	cr_assert_eq(env->flags, QF_EF_RET_PARAM | QF_EF_NO_BODY_RETN | QF_EF_SPLIT);
	cr_assert_eq(env->nmacros, 2);
	cr_assert_str_eq(qf_macro_get(env, "_"), "root@localhost");
	cr_assert_str_eq(qf_macro_get(env, "{daemon_flags}"), "c u");
	cr_assert_str_eq(env->sender, "sender@example.test");
	cr_assert_str_eq(env->envid, "envid123");
	cr_assert_str_eq(env->auth, "sender@example.test");
	cr_assert_eq(env->nrcpts, 1);
	r = &env->rcpts[0];
	cr_assert_str_eq(r->addr, "dave@example.test");
	cr_assert_eq(r->flags, QF_RF_PRIMARY | QF_RF_HASNOTIFY | QF_RF_SUCCESS | QF_RF_FAILURE);
	cr_assert_str_eq(r->ctladdr, ":dave@example.test");
	cr_assert_str_eq(r->final_rcpt, "RFC822; dave@example.test");
	cr_assert_null(r->orcpt);
	cr_assert_null(r->status);
	cr_assert_eq(env->nheaders, 6);
	cr_assert_str_eq(env->headers[0].cond, "P");
	cr_assert_str_eq(env->headers[0].name, "Return-Path");
	cr_assert_str_eq(env->headers[0].value, " <\x81g>");
	cr_assert_str_eq(env->headers[1].cond, "");
	cr_assert_str_eq(env->headers[1].name, "Received");
	cr_assert_str_eq(env->headers[1].value,
	    " (from root@localhost)\n\tby host.test (8.17.1.9/8.17.1.9/Submit) id 6AOMct2T003760\n"
	    "\tfor dave@example.test; Tue, 24 Nov 2026 22:38:55 GMT");
	cr_assert_str_eq(env->headers[5].name, "Subject");
	qf_free(env);
}

Test(qf, round_trip_is_byte_identical)
{
	struct qf_envelope *env = parse_ok(qf_dsn);
	struct strbuf out = STRBUF_INIT;

	qf_format(env, &out);
	cr_assert_eq(out.len, strlen(qf_dsn));
	cr_assert_eq(memcmp(out.buf, qf_dsn, out.len), 0, "got:\n%s", out.buf);
	strbuf_free(&out);
	qf_free(env);
}

Test(qf, per_recipient_records_and_ctladdr_changes)
{
	static const char s[] =
	    "V8\nT1\nK0\nN0\nP1\nSroot\n"
	    "MDeferred: 451 4.3.0 try later\n"
	    "C:alice@example.test\nQrfc822;orig+2Bx@example.test\nrRFC822; alice@example.test\nRPFD:alice@example.test\n"
	    "RPFD:alice2@example.test\n"
	    "C\nRPFD:nobody@example.test\n"
	    "Cbob:1000:1000:bob\nRPFDA:bob\n"
	    "H??To: x\n.\n";
	struct qf_envelope *env = parse_ok(s);
	struct strbuf out = STRBUF_INIT;

	cr_assert_eq(env->nrcpts, 4);
	cr_assert_str_eq(env->rcpts[0].status, "Deferred: 451 4.3.0 try later");
	cr_assert_null(env->status, "an M after S belongs to the next recipient");
	cr_assert_str_eq(env->rcpts[0].orcpt, "rfc822;orig+2Bx@example.test");
	cr_assert_str_eq(env->rcpts[1].ctladdr, ":alice@example.test", "C stays in force");
	cr_assert_null(env->rcpts[1].orcpt, "Q applies to one R only");
	cr_assert_null(env->rcpts[1].final_rcpt, "r applies to one R only");
	cr_assert_null(env->rcpts[2].ctladdr, "bare C clears");
	cr_assert_str_eq(env->rcpts[3].ctladdr, "bob:1000:1000:bob");
	cr_assert_eq(env->rcpts[3].flags & QF_RF_ALIAS, QF_RF_ALIAS);
	qf_format(env, &out);
	cr_assert_str_eq(out.buf, s);
	strbuf_free(&out);
	qf_free(env);
}

Test(qf, version_6_and_deliver_by_and_quarantine)
{
	static const char s[] =
	    "V6\nT1\nK0\nN0\nP-149919\nd/var/spool/clientmqueue\nB8BITMIME\nqheld by admin\nF8\n"
	    "S<>\n!\x01 3600\nRPF:a@b\n.\n";
	struct qf_envelope *env = parse_ok(s);
	struct strbuf out = STRBUF_INIT;

	cr_assert_eq(env->version, 6);
	cr_assert_eq(env->priority, -149919);
	cr_assert_str_eq(env->df_dir, "/var/spool/clientmqueue");
	cr_assert_str_eq(env->bodytype, "8BITMIME");
	cr_assert_str_eq(env->quarantine, "held by admin");
	cr_assert(env->has_deliver_by);
	cr_assert_eq(env->deliver_by_flag, 0x01);
	cr_assert_eq(env->deliver_by, 3600);
	qf_format(env, &out);
	cr_assert_str_eq(out.buf, s);
	strbuf_free(&out);
	qf_free(env);
}

Test(qf, crlf_and_obsolete_records_are_accepted)
{
	static const char s[] =
	    "V8\r\nT1\r\nK0\r\nN0\r\nP1\r\nDdfold\r\nEerr\r\nLsolaris\r\nSroot\r\nRPFD:a@b\r\n.";
	struct qf_envelope *env = parse_ok(s);

	cr_assert_eq(env->nrcpts, 1);
	cr_assert_str_eq(env->rcpts[0].addr, "a@b");
	qf_free(env);
}

Test(qf, writer_removes_newlines_like_denlstring)
{
	struct qf_envelope *env = parse_ok("V8\nT1\nK0\nN0\nP1\nSroot\nRPFD:a@b\nH??X: a\n\tb\n.\n");
	struct strbuf out = STRBUF_INIT;

	free(env->sender);
	env->sender = xstrdup("evil\nRPFD:attacker@example");
	free(env->headers[0].value);
	env->headers[0].value = xstrdup(" a\n\tfolded\nHinjected: x\n");
	qf_format(env, &out);
	cr_assert(strstr(out.buf, "Sevil RPFD:attacker@example\n") != NULL, "%s", out.buf);
	cr_assert(strstr(out.buf, "H??X: a\n\tfolded Hinjected: x \n") != NULL, "%s", out.buf);
	strbuf_free(&out);
	qf_free(env);
}

Test(qf, empty_and_incomplete_are_not_refusals)
{
	expect_status("", QF_EMPTY, 0, "empty");
	expect_status("V8\nT1\nK0\nN0\nP1\nSroot\nRPFD:a@b\n", QF_INCOMPLETE, 0, "no final '.'");
	/* A last line still being written is not judged. */
	expect_status("V8\nT1\nK0\nN0\nP1\nSroot\nRPFD:a@b\nH??Subj", QF_INCOMPLETE, 0, "no final '.'");
	expect_status("V8\nT1\nK0\nN0\nP1\nSroot\nRPFD:a@b\nH??Subject: x\nX", QF_INCOMPLETE, 0, "no final '.'");
}

/* One test per refusal reason: the status, the line and the reason. */
Test(qf, refusals)
{
	static const struct {
		const char *text;
		unsigned line;
		const char *reason;
	} cases[] = {
		{ "V9\nT1\nSroot\n.\n", 1, "unsupported queue file version 9" },
		{ "V5\nT1\nSroot\n.\n", 1, "predates the client queue" },
		{ "Vx\nSroot\n.\n", 1, "bad version number" },
		{ "T1\nV8\nSroot\n.\n", 1, "first line is not a V" },
		{ "V8\nV8\nSroot\n.\n", 2, "second V" },
		{ "V8\nT1\nSroot\nXbogus\n.\n", 4, "unrecognized line type 'X'" },
		{ "V8\nT1\nSroot\nGdelay\n.\n", 4, "unrecognized line type 'G'" },
		{ "V8\nT1\nSroot\n\x01x\n.\n", 4, "unrecognized line type '\\x01'" },
		{ "V8\nT1\nSroot\n.\nRPFD:x@y\n", 5, "extra data after the final '.'" },
		{ "V8\nT1\nSroot\n.\n\n", 5, "extra data after the final '.'" },
		{ "V8\nT1\nSroot\n.\nX", 5, "extra data after the final '.'" },
		{ "V8\nT1\nSroot\n.x\n", 4, "trailing data" },
		{ "V8\nT1\nFrom root Tue Nov 24\nSroot\n.\n", 3, "begins with 'From '" },
		{ "V8\nT1\nSroot\nAbad value\n.\n", 4, "A (AUTH) value is not xtext" },
		{ "V8\nT1\nSroot\nZa=b\n.\n", 4, "Z (ENVID) value is not xtext" },
		{ "V8\nT1\nSroot\nQrfc822;a b\nRPF:a\n.\n", 4, "Q (ORCPT) value is not xtext" },
		{ "V8\nT1\nB8BIT\nSroot\n.\n", 3, "bad body type" },
		{ "V8\nTabc\nSroot\n.\n", 2, "bad number in T line" },
		{ "V8\nT1\nK-1\nSroot\n.\n", 3, "bad number in K line" },
		{ "V8\nT1\nN99999999999\nSroot\n.\n", 3, "implausible attempt count" },
		{ "V8\nT1\nP12a\nSroot\n.\n", 3, "bad number in P line" },
		{ "V8\nT1\nP99999999999999999999\nSroot\n.\n", 3, "bad number in P line" },
		{ "V8\nT1\nSroot\nRPFD\n.\n", 4, "no ':'" },
		{ "V8\nT1\nSroot\nRPFD:\n.\n", 4, "empty address" },
		{ "V8\nT1\nSroot\nH?P\n.\n", 4, "unterminated ?condition?" },
		{ "V8\nT1\nSroot\nH??NoColon\n.\n", 4, "no field name" },
		{ "V8\nT1\nSroot\nH??: empty name\n.\n", 4, "no field name" },
		{ "V8\nT1\nSroot\nH??Bad Name: x\n.\n", 4, "field name has the byte" },
		{ "V8\nT1\nSroot\n\tcontinued\n.\n", 4, "continuation line after a line that is not a header" },
		{ "V8\nT1\nSroot\n${unbalanced\n.\n", 4, "unbalanced or empty {name}" },
		{ "V8\nT1\nSroot\n$\n.\n", 4, "no macro name" },
		{ "V8\nT1\nSroot\n!x\n.\n", 4, "malformed ! (deliver-by)" },
		{ "V8\nT1\nSroot\nd\n.\n", 4, "empty d" },
		{ "V8\nT1\nSroot\n\n.\n", 4, "empty line" },
		{ "V8\nT1\nRPFD:a@b\n.\n", 0, "no S (sender) line" },
	};
	size_t k;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++)
		expect_status(cases[k].text, QF_REFUSED, cases[k].line, cases[k].reason);
}

Test(qf, nul_bytes_are_refused)
{
	static const char s[] = "V8\nT1\nSro\0ot\nRPFD:a@b\n.\n";
	struct qf_envelope *env;
	struct error err;

	cr_assert_eq(qf_parse(s, sizeof s - 1, &env, &err), QF_REFUSED);
	cr_assert_eq(err.line, 3);
	cr_assert_str_eq(err.reason, "NUL byte in the line");
}

Test(qf, size_limits)
{
	struct strbuf sb = STRBUF_INIT;
	struct qf_envelope *env;
	struct error err;
	size_t i;

	/* One header line just over the limit. */
	strbuf_addstr(&sb, "V8\nT1\nSroot\nH??X: ");
	for (i = 0; i < QF_LINE_MAX; i++)
		strbuf_addch(&sb, 'a');
	strbuf_addstr(&sb, "\n.\n");
	cr_assert_eq(qf_parse(sb.buf, sb.len, &env, &err), QF_REFUSED);
	cr_assert(strstr(err.reason, "line longer than") != NULL, "%s", err.reason);
	cr_assert_eq(err.line, 4);

	/* The same length made of continuation lines. */
	strbuf_reset(&sb);
	strbuf_addstr(&sb, "V8\nT1\nSroot\nH??X: a\n");
	for (i = 0; i < QF_LINE_MAX / 8; i++)
		strbuf_addstr(&sb, "\taaaaaa\n");
	strbuf_addstr(&sb, ".\n");
	cr_assert_eq(qf_parse(sb.buf, sb.len, &env, &err), QF_REFUSED);
	cr_assert(strstr(err.reason, "line longer than") != NULL, "%s", err.reason);

	/* Too many recipients. */
	strbuf_reset(&sb);
	strbuf_addstr(&sb, "V8\nT1\nSroot\n");
	for (i = 0; i <= QF_RCPT_MAX; i++)
		strbuf_addstr(&sb, "RPFD:a@b\n");
	strbuf_addstr(&sb, ".\n");
	cr_assert_eq(qf_parse(sb.buf, sb.len, &env, &err), QF_REFUSED);
	cr_assert(strstr(err.reason, "more than 100000 recipients") != NULL, "%s", err.reason);

	strbuf_free(&sb);

	/* The whole file. */
	{
		char *big = xcalloc((size_t)QF_FILE_MAX + 1, 1);

		cr_assert_eq(qf_parse(big, (size_t)QF_FILE_MAX + 1, &env, &err), QF_REFUSED);
		cr_assert(strstr(err.reason, "larger than") != NULL, "%s", err.reason);
		free(big);
	}
}

Test(qf, unquote_metaquote)
{
	struct strbuf sb = STRBUF_INIT;

	/* 0xFF marks the next byte as data; a bare 0x81 is a meta byte. */
	cr_assert_eq(qf_unquote("a\xff\x80" "b\xff\xff" "c\x81g", &sb), 1);
	cr_assert_eq(sb.len, 7);
	cr_assert_eq(memcmp(sb.buf, "a\x80" "b\xff" "c\x81g", 7), 0);
	strbuf_free(&sb);
}
