#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "delivery/dsn.h"
#include "queue/xtext.h"

/* A message as real sendmail queues it (tests/fixtures, orcpt case). */
static const char PARENT[] =
    "V8\nT1795570632\nK0\nN0\nP30038\nFs\n$_root@localhost\n${daemon_flags}c u\n"
    "S<s@example.test>\nZabc\nAroot@host.test\n"
    "C:bad@example.test\nQrfc822;orig+40example.test\nrRFC822; bad@example.test\n"
    "RPNF:bad@example.test\n"
    "C:r@example.test\nrRFC822; r@example.test\nRPNS:r@example.test\n"
    "H?P?Return-Path: <\201g>\nH?D?Date: Wed, 25 Nov 2026 01:37:12 GMT\n"
    "H?F?From: s@example.test\nH??Subject: test\n.\n";

static struct qf_envelope *parent;
static struct render_opts ro = { "mDFMuXa8k", 2040, "host.test", NULL, NULL, NULL, NULL, NULL };
static struct dsn_config cfg;

static void
setup(void)
{
	struct error err;

	setenv("TZ", "UTC", 1);
	tzset();
	cr_assert_eq(qf_parse(PARENT, sizeof PARENT - 1, &parent, &err), QF_OK, "%s", err.reason);
	cfg.hostname = "host.test";
	cfg.program = "clientq-runner test";
	cfg.relay_host = "[127.0.0.1]";
	cfg.mtatype = "DNS";
	cfg.addrtype = "RFC822";
	cfg.diagtype = "SMTP";
	cfg.warn_after = 4 * 3600;
	cfg.return_after = 5 * 86400;
	cfg.ropts = &ro;
	cfg.env_opts = &ro;
}

static void
teardown(void)
{
	qf_free(parent);
}

TestSuite(dsn, .init = setup, .fini = teardown);

static const char *
contains(const struct strbuf *sb, const char *what)
{
	return strstr(strbuf_str(sb), what);
}

Test(dsn, bounce_envelope_is_sendmails)
{
	struct dsn_rcpt r = { &parent->rcpts[0], DSN_ACT_FAILED, "5.1.1",
		"550 5.1.1 User unknown", "DATA", "User unknown", true, 1795570700 };
	struct dsn_message m;
	struct qf_envelope *e;

	dsn_make(&cfg, parent, "6AP1bCbG011690", &r, 1, DSN_FAILURE, false,
	    parent->sender, false, "6AP1bCbH011690", 1795570700, true, &m);
	e = m.env;
	cr_expect_eq(e->flags, QF_EF_RESPONSE | QF_EF_SPLIT, "F rs");
	cr_expect_str_eq(e->sender, "MAILER-DAEMON");
	cr_assert_eq(e->nrcpts, 1);
	cr_expect_str_eq(e->rcpts[0].addr, "<s@example.test>");
	cr_expect_eq(e->rcpts[0].flags, QF_RF_PRIMARY | QF_RF_FAILURE, "R PF");
	cr_expect_str_eq(e->rcpts[0].ctladdr, ":<s@example.test>");
	cr_expect_str_eq(e->rcpts[0].final_rcpt, "RFC822; s@example.test");
	cr_expect_str_eq(m.summary, "DSN: User unknown");
	cr_expect(m.with_body, "the whole original goes back");
	cr_expect_not_null(contains(&m.head, "This is a MIME-encapsulated message\n\n--6AP1bCbH011690.1795570700/host.test\n\n"
	    "The original message was received at Wed, 25 Nov 2026 01:37:12 GMT\nfrom root@localhost\n\n"
	    "   ----- The following addresses had permanent fatal errors -----\n"
	    "bad@example.test\n    (reason: 550 5.1.1 User unknown)\n    (expanded from: bad@example.test)\n\n"
	    "   ----- Transcript of session follows -----\n"
	    "... while talking to [127.0.0.1]:\n>>> DATA\n<<< 550 5.1.1 User unknown\n"
	    "550 5.1.1 bad@example.test... User unknown\n"), "%s", strbuf_str(&m.head));
	cr_expect_not_null(contains(&m.head, "Content-Type: message/delivery-status\n\n"
	    "Original-Envelope-Id: abc\nReporting-MTA: dns; host.test\n"
	    "Arrival-Date: Wed, 25 Nov 2026 01:37:12 GMT\n\n"
	    "Original-Recipient: rfc822;orig@example.test\n"
	    "Final-Recipient: RFC822; bad@example.test\n"
	    "X-Actual-Recipient: rfc822; bad@example.test\n"
	    "Action: failed\nStatus: 5.1.1\nRemote-MTA: DNS; [127.0.0.1]\n"
	    "Diagnostic-Code: SMTP; 550 5.1.1 User unknown\n"
	    "Last-Attempt-Date: Wed, 25 Nov 2026 01:38:20 GMT\n"), "%s", strbuf_str(&m.head));
	cr_expect_not_null(contains(&m.head, "Content-Type: message/rfc822\n\n"
	    "Return-Path: <s@example.test>\nDate: Wed, 25 Nov 2026 01:37:12 GMT\n"
	    "From: s@example.test\nSubject: test\n\n"), "%s", strbuf_str(&m.head));
	cr_expect_str_eq(strbuf_str(&m.tail), "\n--6AP1bCbH011690.1795570700/host.test--\n\n");
	dsn_message_free(&m);
}

Test(dsn, receipt_returns_headers_only)
{
	struct dsn_rcpt r = { &parent->rcpts[1], DSN_ACT_RELAYED, "2.0.0",
		"250 2.1.5 Ok", "RCPT To:<r@example.test>", NULL, true, 1795570700 };
	struct dsn_message m;
	size_t i;
	bool subject = false;

	dsn_make(&cfg, parent, "6AP1bCbG011690", &r, 1, DSN_RECEIPT, false,
	    parent->sender, false, "6AP1bCbH011690", 1795570700, true, &m);
	cr_expect(!m.with_body);
	cr_expect(m.env->flags & QF_EF_NO_BODY_RETN, "F n, as sendmail's Frns");
	for (i = 0; i < m.env->nheaders; i++)
		if (strcmp(m.env->headers[i].name, "Subject") == 0)
			subject = strcmp(m.env->headers[i].value, " Return receipt") == 0;
	cr_expect(subject);
	cr_expect_not_null(contains(&m.head, "r@example.test  (relayed to non-DSN-aware mailer)\n"));
	cr_expect_not_null(contains(&m.head, "r@example.test... relayed; expect no further notifications\n\n"));
	cr_expect_null(contains(&m.head, ">>> RCPT"), "no exchange for a recipient relayed");
	cr_expect_not_null(contains(&m.head, "Action: relayed (to non-DSN-aware mailer)\nStatus: 2.0.0\n"));
	cr_expect_not_null(contains(&m.head, "Content-Type: text/rfc822-headers\n\n"));
	dsn_message_free(&m);
}

Test(dsn, warning_and_expiry_words)
{
	struct dsn_rcpt r = { &parent->rcpts[0], DSN_ACT_DELAYED, "4.3.0",
		"451 4.3.0 later", "DATA", NULL, true, 1795570700 };
	struct dsn_message m;

	dsn_make(&cfg, parent, "6AP1bCbG011690", &r, 1, DSN_WARNING, false,
	    parent->sender, false, "6AP1bCbH011690", 1795570700, true, &m);
	cr_expect_str_eq(m.summary, "sender notify: Warning: could not send message for past 4 hours");
	cr_expect_not_null(contains(&m.head, "**      THIS IS A WARNING MESSAGE ONLY      **"));
	cr_expect_not_null(contains(&m.head, "Warning: message still undelivered after 4 hours\n"
	    "Will keep trying until message is 5 days old\n"));
	cr_expect_not_null(contains(&m.head, "Action: delayed\nStatus: 4.3.0\n"));
	/* sendmail writes it only for a recipient queued untried
	 * (QS_QUEUEUP), never after an attempt as here. */
	cr_expect_null(contains(&m.head, "Will-Retry-Until:"));
	dsn_message_free(&m);

	r.action = DSN_ACT_FAILED;
	r.status = "4.4.7";
	dsn_make(&cfg, parent, "6AP1bCbG011690", &r, 1, DSN_FAILURE, true,
	    parent->sender, false, "6AP1bCbH011690", 1795570700, false, &m);
	cr_expect_str_eq(m.summary, "DSN: Cannot send message for 5 days");
	cr_expect_not_null(contains(&m.head, ">>> DATA\n<<< 451 4.3.0 later\n"
	    "bad@example.test... Deferred: 451 4.3.0 later\n"
	    "Message could not be delivered for 5 days\n"
	    "Message will be deleted from queue\n"), "%s", strbuf_str(&m.head));
	cr_expect_str_eq(strbuf_str(&m.tail), "\n\n--6AP1bCbH011690.1795570700/host.test--\n\n",
	    "a newline after a body that has none");
	dsn_message_free(&m);
}

Test(dsn, the_sessions_transcript_and_the_headers_as_queued)
{
	static const char Q[] =
	    "V8\nT1795570632\nK0\nN0\nP30038\nFs\n$_root@localhost\nSroot\n"
	    "RPFD:a@example.test\nRPFD:b@example.test\n"
	    "H?P?Return-Path: <\201g>\nH?F?From: Root <root>\nH??To: a, b@example.test\n"
	    "H??Subject: test\n.\n";
	struct qf_envelope *q;
	struct error err;
	struct dsn_rcpt r[2] = {
		{ NULL, DSN_ACT_FAILED, "5.0.0", "550 5.7.1 sender refused",
		  "MAIL From:<root@host.test>", "Service unavailable", false, 1795570700 },
		{ NULL, DSN_ACT_FAILED, "5.0.0", "550 5.7.1 sender refused",
		  "MAIL From:<root@host.test>", "Service unavailable", false, 1795570700 },
	};
	struct dsn_message m;

	cr_assert_eq(qf_parse(Q, sizeof Q - 1, &q, &err), QF_OK, "%s", err.reason);
	r[0].rcpt = &q->rcpts[0];
	r[1].rcpt = &q->rcpts[1];
	/* Made from the replies: a refused MAIL is said once, as
	 * sendmail's giveresponse() says it. */
	dsn_make(&cfg, q, "6AP1bCbG011690", r, 2, DSN_FAILURE, false, q->sender, false,
	    "6AP1bCbH011690", 1795570700, true, &m);
	cr_expect_not_null(contains(&m.head, "   ----- Transcript of session follows -----\n"
	    "... while talking to [127.0.0.1]:\n>>> MAIL From:<root@host.test>\n"
	    "<<< 550 5.7.1 sender refused\n554 5.0.0 Service unavailable\n\n--"),
	    "%s", strbuf_str(&m.head));
	/* The returned headers as queued: no address qualified. */
	cr_expect_not_null(contains(&m.head, "Return-Path: <root>\nFrom: Root <root>\n"
	    "To: a, b@example.test\nSubject: test\n"), "%s", strbuf_str(&m.head));
	dsn_message_free(&m);

	/* The session's own transcript, when the run kept one. */
	cfg.transcript = "... while talking to [127.0.0.1]:\n>>> DATA\n<<< 554 no\n";
	dsn_make(&cfg, q, "6AP1bCbG011690", r, 2, DSN_FAILURE, false, q->sender, false,
	    "6AP1bCbH011690", 1795570700, true, &m);
	cr_expect_not_null(contains(&m.head, "   ----- Transcript of session follows -----\n"
	    "... while talking to [127.0.0.1]:\n>>> DATA\n<<< 554 no\n\n--"),
	    "%s", strbuf_str(&m.head));
	cfg.transcript = NULL;
	dsn_message_free(&m);

	/* A notification that failed goes to the postmaster as sendmail's
	 * "Postmaster notify", naming the notification's ID. */
	q->flags |= QF_EF_RESPONSE;
	dsn_make(&cfg, q, "6AP1bCbG011690", r, 1, DSN_FAILURE, false, "postmaster", false,
	    "6AP1bCbH011690", 1795570700, true, &m);
	cr_expect_not_null(contains(&m.head, "from root@localhost\nwith id 6AP1bCbG011690\n"));
	{
		size_t i;
		int seen = 0;

		for (i = 0; i < m.env->nheaders; i++) {
			const struct qf_header *h = &m.env->headers[i];

			if (strcmp(h->name, "Subject") == 0 &&
			    strcmp(h->value, " Postmaster notify: see transcript for details") == 0)
				seen++;
			if (strcmp(h->name, "Auto-Submitted") == 0 &&
			    strcmp(h->value, " auto-generated (postmaster-notification)") == 0)
				seen++;
		}
		cr_expect_eq(seen, 2, "Subject and Auto-Submitted of a postmaster notify");
	}
	dsn_message_free(&m);
	qf_free(q);
}

Test(dsn, intervals_as_sendmail_writes_them)
{
	char b[64];

	dsn_interval(4 * 3600, b, sizeof b);
	cr_expect_str_eq(b, "4 hours");
	dsn_interval(5 * 86400, b, sizeof b);
	cr_expect_str_eq(b, "5 days");
	dsn_interval(9 * 86400 + 3600 + 61, b, sizeof b);
	cr_expect_str_eq(b, "1 week, 2 days, 1 hour, 1 minute, 1 second");
	dsn_interval(0, b, sizeof b);
	cr_expect_str_eq(b, "zero seconds");
	dsn_arpadate(1795570632, b, sizeof b);
	cr_expect_str_eq(b, "Wed, 25 Nov 2026 01:37:12 GMT");
	dsn_arpadate(1794528000, b, sizeof b);
	cr_expect_str_eq(b, "Fri, 13 Nov 2026 00:00:00 GMT");
}

Test(dsn, who_gets_warnings)
{
	cr_expect(dsn_may_warn(parent));
	parent->flags |= QF_EF_WARNING;
	cr_expect(!dsn_may_warn(parent), "once: F w");
	parent->flags &= ~QF_EF_WARNING;
	free(parent->sender);
	parent->sender = strdup("owner-list@example.test");
	cr_expect(!dsn_may_warn(parent));
	free(parent->sender);
	parent->sender = strdup("list-request");
	cr_expect(!dsn_may_warn(parent));
	free(parent->sender);
	parent->sender = strdup("list-request@example.test");
	cr_expect(dsn_may_warn(parent), "sendmail looks at the end of the whole address");
	free(parent->sender);
	parent->sender = strdup("<>");
	cr_expect(!dsn_may_warn(parent));
	cr_expect(dsn_wants_failure(&parent->rcpts[0]));
	cr_expect(!dsn_wants_failure(&parent->rcpts[1]), "NOTIFY=SUCCESS only");
	cr_expect(dsn_wants_success(&parent->rcpts[1]));
	cr_expect_str_eq(dsn_timeout_class(parent), "normal");
}

Test(dsn, xtext_decodes)
{
	struct strbuf sb = STRBUF_INIT;

	xtext_decode("a+2Bb+3dc+zz", &sb);
	cr_expect_str_eq(strbuf_str(&sb), "a+b=c+zz");
	strbuf_free(&sb);
}
