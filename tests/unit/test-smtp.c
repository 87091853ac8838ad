#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "smtp/smtp.h"
#include "testutil.h"
#include "util/monotime.h"

Test(smtp, reply_lines)
{
	static const struct {
		const char *line;
		bool ok, last;
		int code;
		const char *enh, *text;
	} cases[] = {
		{ "250 2.0.0 Ok: queued as X", true, true, 250, "2.0.0", "Ok: queued as X" },
		{ "250-PIPELINING", true, false, 250, "", "PIPELINING" },
		{ "451 4.3.0 try later", true, true, 451, "4.3.0", "try later" },
		{ "550 User unknown", true, true, 550, "", "User unknown" },
		{ "550 4.1.1 class mismatch", true, true, 550, "", "4.1.1 class mismatch" },
		{ "250 2.1.5", true, true, 250, "2.1.5", "" },
		{ "250", true, true, 250, "", "" },
		{ "220 mail.example ESMTP", true, true, 220, "", "mail.example ESMTP" },
		{ "25", false, false, 0, "", "" },
		{ "abc", false, false, 0, "", "" },
		{ "650 no", false, false, 0, "", "" },
		{ "250x", false, false, 0, "", "" },
	};
	size_t k;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct smtp_reply r;
		bool last = false;

		memset(&r, 0, sizeof r);
		cr_expect_eq(smtp_parse_reply_line(cases[k].line, &last, &r), cases[k].ok,
		    "%s", cases[k].line);
		if (!cases[k].ok)
			continue;
		cr_expect_eq(last, cases[k].last, "%s", cases[k].line);
		cr_expect_eq(r.code, cases[k].code, "%s", cases[k].line);
		cr_expect_str_eq(r.enhanced, cases[k].enh, "%s", cases[k].line);
		cr_expect_str_eq(r.text, cases[k].text, "%s", cases[k].line);
	}
}

/* A scripted peer (testutil.h's tu_peer, whose script language the
 * tests below speak); its exit status says where it disagreed. */
static int peer_port;
static pid_t peer_pid;

static void
peer(const char *const *script)
{
	peer_pid = tu_peer(script, &peer_port);
}

static int
peer_status(void)
{
	return tu_child_status(peer_pid);
}

/* Open a connection to the peer and drive it to its first event. */
static struct smtp_conn *
connect_peer(enum smtp_event *ev)
{
	struct smtp_timeouts t;
	struct smtp_conn *c;
	struct error err;

	smtp_timeouts_default(&t);
	t.initial = t.helo = t.mail = t.rcpt = t.datainit = t.datafinal = 1;
	c = smtp_open("127.0.0.1", peer_port, "host.test", &t, &err);
	cr_assert_not_null(c, "%s", err.reason);
	*ev = smtp_wait(c);
	return c;
}

static void
quit_and_free(struct smtp_conn *c)
{
	smtp_quit(c);
	cr_expect_eq(smtp_wait(c), SMTP_EV_CLOSED);
	smtp_free(c);
}

/* A body source: the strings in turn, then the end (or an error). */
struct body {
	const char *const *parts;
	bool fail;
	int calls;
};

static enum smtp_body
body_cb(void *arg, struct strbuf *out)
{
	struct body *b = arg;

	b->calls++;
	if (b->parts != NULL && *b->parts != NULL) {
		strbuf_addstr(out, *b->parts++);
		return SMTP_BODY_MORE;
	}
	return b->fail ? SMTP_BODY_ERROR : SMTP_BODY_END;
}

static void
txn_init(struct smtp_txn *t, const char *mail, const char *const *rcpts,
    size_t n, struct smtp_rcpt_result *res, struct body *b)
{
	memset(t, 0, sizeof *t);
	t->mail_cmd = mail;
	t->rcpt_cmds = rcpts;
	t->nrcpt = n;
	t->rcpt = res;
	t->body = body_cb;
	t->body_arg = b;
}

/* Play the script and connect to it, greeted and past EHLO. */
static struct smtp_conn *
ready_peer(const char *const *script)
{
	enum smtp_event ev;
	struct smtp_conn *c;

	peer(script);
	c = connect_peer(&ev);
	cr_assert_eq(ev, SMTP_EV_READY, "%s", smtp_error(c));
	return c;
}

/* Play the script, connect, and run one transaction to its end. */
static struct smtp_conn *
run_one(const char *const *script, struct smtp_txn *t, const char *mail,
    const char *const *rcpts, size_t n, struct smtp_rcpt_result *res,
    struct body *b)
{
	struct smtp_conn *c = ready_peer(script);

	txn_init(t, mail, rcpts, n, res, b);
	cr_assert(smtp_submit(c, t));
	cr_assert_eq(smtp_wait(c), SMTP_EV_TXN_DONE);
	return c;
}

#define EHLO_PIPELINING \
	"S:220 hi", "R:EHLO host.test", "S:250-hi", "S:250-PIPELINING", \
	"S:250-SIZE 1000", "S:250 ENHANCEDSTATUSCODES"

Test(smtp, greeting_4xx_is_a_tempfail_and_5xx_a_permfail)
{
	static const char *const s421[] = { "S:421 4.3.2 busy", NULL };
	static const char *const s554[] = { "S:554 go away", NULL };
	const struct smtp_reply *r;
	enum smtp_event ev;
	struct smtp_conn *c;

	peer(s421);
	c = connect_peer(&ev);
	cr_assert_eq(ev, SMTP_EV_FAILED);
	cr_assert_eq(smtp_setup_status(c, &r), SMTP_TEMPFAIL);
	cr_assert_eq(r->code, 421);
	cr_assert_str_eq(smtp_error(c), "421 4.3.2 busy");
	smtp_free(c);
	peer_status();
	peer(s554);
	c = connect_peer(&ev);
	cr_assert_eq(ev, SMTP_EV_FAILED);
	cr_assert_eq(smtp_setup_status(c, NULL), SMTP_PERMFAIL);
	smtp_free(c);
	peer_status();
}

Test(smtp, connection_refused_in_sendmails_words)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	enum smtp_event ev;
	struct smtp_conn *c;

	/* A port that was just free: bound, never listened on, closed. */
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(s, (struct sockaddr *)&sin, sizeof sin), 0);
	getsockname(s, (struct sockaddr *)&sin, &len);
	peer_port = ntohs(sin.sin_port);
	close(s);
	c = connect_peer(&ev);
	cr_assert_eq(ev, SMTP_EV_FAILED);
	cr_assert_eq(smtp_setup_status(c, NULL), SMTP_TEMPFAIL);
	cr_assert_str_eq(smtp_error(c), "Connection refused by [127.0.0.1]");
	smtp_free(c);
}

Test(smtp, ehlo_refused_falls_back_to_helo)
{
	static const char *const script[] = {
		"S:220 hi", "R:EHLO host.test", "S:502 no", "R:HELO host.test",
		"S:250 ok", "R:QUIT", "S:221 bye", NULL };
	struct smtp_conn *c;

	c = ready_peer(script);
	cr_assert_eq(smtp_extensions(c), 0);
	quit_and_free(c);
	cr_assert_eq(peer_status(), 0);
}

Test(smtp, silence_times_out)
{
	static const char *const script[] = { "W", NULL };
	enum smtp_event ev;
	struct smtp_conn *c;
	time_t t0 = time(NULL);

	peer(script);
	c = connect_peer(&ev);
	cr_assert_eq(ev, SMTP_EV_FAILED);
	cr_assert_eq(smtp_setup_status(c, NULL), SMTP_IOERR);
	cr_assert_str_eq(smtp_error(c),
	    "timeout waiting for input from [127.0.0.1] during client greeting");
	cr_assert_leq(time(NULL) - t0, 2, "Timeout.initial of 1 s was kept");
	smtp_free(c);
	kill(peer_pid, SIGKILL);
	peer_status();
}

/* total_ms bounds the session, whatever the phases' own timeouts: EHLO's
 * 5 s are cut to what is left of 700 ms, and the timeout reads as
 * EHLO's own. */
Test(smtp, the_session_bound_cuts_a_phase_short)
{
	static const char *const script[] = { "S:220 hi", "R:EHLO host.test", "W", NULL };
	struct smtp_timeouts t;
	struct smtp_conn *c;
	struct error err;
	long long t0;

	peer(script);
	smtp_timeouts_default(&t);
	t.initial = t.helo = 5;
	t.total_ms = 700;
	t0 = monotime_ms();
	c = smtp_open("127.0.0.1", peer_port, "host.test", &t, &err);
	cr_assert_not_null(c, "%s", err.reason);
	cr_assert_eq(smtp_wait(c), SMTP_EV_FAILED);
	cr_expect_str_eq(smtp_error(c),
	    "timeout waiting for input from [127.0.0.1] during client EHLO");
	cr_expect_geq(monotime_ms() - t0, 650);
	cr_expect_lt(monotime_ms() - t0, 1500, "the bound, not Timeout.helo's 5 s");
	smtp_free(c);
	kill(peer_pid, SIGKILL);
	peer_status();
}
Test(smtp, an_endless_reply_line_is_a_protocol_error)
{
	static const char *const script[] = { "S:220 hi", "R:EHLO host.test", "X", "W", NULL };
	enum smtp_event ev;
	struct smtp_conn *c;

	peer(script);
	c = connect_peer(&ev);
	cr_assert_eq(ev, SMTP_EV_FAILED);
	cr_assert_eq(smtp_setup_status(c, NULL), SMTP_IOERR);
	smtp_free(c);
	kill(peer_pid, SIGKILL);
	peer_status();
}

Test(smtp, pipelined_transaction_with_one_recipient_refused)
{
	static const char *const script[] = {
		EHLO_PIPELINING,
		"R:MAIL From:<a@b> SIZE=5", "R:RCPT To:<x@y>", "R:RCPT To:<bad@y>",
		"R:DATA", "S:250 2.1.0 ok",
		"S:250 2.1.5 ok", "S:550 5.1.1 User unknown", "S:354 go",
		"R:body", "R:.", "S:250 2.0.0 Ok: queued as Q1",
		"R:QUIT", "S:221 bye", NULL };
	static const char *const parts[] = { "body\r\n", NULL };
	const char *rcpts[] = { "RCPT To:<x@y>", "RCPT To:<bad@y>" };
	struct body b = { parts, false, 0 };
	struct smtp_rcpt_result res[2];
	const struct smtp_reply *r;
	struct smtp_txn t;
	struct smtp_conn *c;

	c = ready_peer(script);
	cr_assert_eq(smtp_extensions(c), SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_ENHANCED);
	cr_assert_eq(smtp_size_limit(c), 1000);
	txn_init(&t, "MAIL From:<a@b> SIZE=5", rcpts, 2, res, &b);
	cr_assert(smtp_submit(c, &t));
	cr_assert(!smtp_submit(c, &t), "one transaction at a time");
	cr_assert_eq(smtp_wait(c), SMTP_EV_TXN_DONE);
	cr_assert_eq(t.status, SMTP_OK);
	cr_assert_eq(t.phase, SMTP_PHASE_DOT);
	cr_assert_eq(t.accepted, 1);
	cr_assert_str_eq(t.reply.text, "Ok: queued as Q1");
	cr_assert_eq(smtp_txn_outcome(&t, 0, &r), SMTP_OK);
	cr_assert_eq(smtp_txn_outcome(&t, 1, &r), SMTP_PERMFAIL);
	cr_assert_str_eq(r->enhanced, "5.1.1");
	cr_assert_str_eq(r->text, "User unknown");
	cr_assert(smtp_usable(c));
	quit_and_free(c);
	cr_assert_eq(peer_status(), 0, "the peer saw exactly the script");
}

Test(smtp, a_reused_connection_sends_rset_in_the_group)
{
	static const char *const script[] = {
		EHLO_PIPELINING,
		"R:MAIL From:<a@b>", "R:RCPT To:<x@y>", "R:DATA",
		"S:250 ok", "S:250 ok", "S:354 go", "R:one", "R:.", "S:250 ok 1",
		"R:RSET", "R:MAIL From:<c@d>", "R:RCPT To:<x@y>", "R:DATA",
		"S:250 reset", "S:250 ok", "S:250 ok", "S:354 go",
		"R:..two", "R:.", "S:250 ok 2", "R:QUIT", "S:221 bye", NULL };
	static const char *const p1[] = { "one\r\n", NULL };
	static const char *const p2[] = { "..", "two\r\n", NULL };
	const char *rcpts[] = { "RCPT To:<x@y>" };
	struct body b1 = { p1, false, 0 }, b2 = { p2, false, 0 };
	struct smtp_rcpt_result res[1];
	struct smtp_txn t;
	struct smtp_conn *c;

	c = ready_peer(script);
	txn_init(&t, "MAIL From:<a@b>", rcpts, 1, res, &b1);
	cr_assert(smtp_submit(c, &t));
	cr_assert_eq(smtp_wait(c), SMTP_EV_TXN_DONE);
	cr_assert_str_eq(t.reply.text, "ok 1");
	txn_init(&t, "MAIL From:<c@d>", rcpts, 1, res, &b2);
	cr_assert(smtp_submit(c, &t));
	cr_assert_eq(smtp_wait(c), SMTP_EV_TXN_DONE);
	cr_assert_eq(t.status, SMTP_OK);
	cr_assert_str_eq(t.reply.text, "ok 2");
	quit_and_free(c);
	cr_assert_eq(peer_status(), 0, "the peer saw exactly the script");
}

Test(smtp, a_refused_mail_decides_for_every_recipient)
{
	static const char *const script[] = {
		EHLO_PIPELINING,
		"R:MAIL From:<a@b>", "R:RCPT To:<x@y>", "R:DATA",
		"S:553 5.1.8 sender rejected", "S:503 5.5.1 need MAIL",
		"S:503 5.5.1 need RCPT", "R:QUIT", "S:221 bye", NULL };
	const char *rcpts[] = { "RCPT To:<x@y>" };
	struct body b = { NULL, false, 0 };
	struct smtp_rcpt_result res[1];
	const struct smtp_reply *r;
	struct smtp_txn t;
	struct smtp_conn *c;

	c = run_one(script, &t, "MAIL From:<a@b>", rcpts, 1, res, &b);
	cr_assert_eq(t.status, SMTP_PERMFAIL);
	cr_assert_eq(t.phase, SMTP_PHASE_MAIL);
	cr_assert_eq(t.accepted, 0);
	cr_assert_eq(smtp_txn_outcome(&t, 0, &r), SMTP_PERMFAIL);
	cr_assert_eq(r->code, 553, "the MAIL reply, not the 503");
	quit_and_free(c);
	cr_assert_eq(peer_status(), 0, "the peer saw exactly the script");
}

Test(smtp, without_pipelining_no_data_when_every_recipient_is_refused)
{
	static const char *const script[] = {
		"S:220 hi", "R:EHLO host.test", "S:250 hi",
		"R:MAIL From:<a@b>", "S:250 ok",
		"R:RCPT To:<x@y>", "S:550 no", "R:RCPT To:<z@y>", "S:451 later",
		"R:QUIT", "S:221 bye", NULL };
	const char *rcpts[] = { "RCPT To:<x@y>", "RCPT To:<z@y>" };
	struct body b = { NULL, false, 0 };
	struct smtp_rcpt_result res[2];
	const struct smtp_reply *r;
	struct smtp_txn t;
	struct smtp_conn *c;

	c = run_one(script, &t, "MAIL From:<a@b>", rcpts, 2, res, &b);
	cr_assert_eq(t.accepted, 0);
	cr_assert_eq(t.phase, SMTP_PHASE_RCPT);
	cr_assert_eq(smtp_txn_outcome(&t, 0, &r), SMTP_PERMFAIL);
	cr_assert_eq(smtp_txn_outcome(&t, 1, &r), SMTP_TEMPFAIL);
	cr_assert_eq(r->code, 451);
	quit_and_free(c);
	cr_assert_eq(peer_status(), 0, "the peer saw exactly the script");
}

Test(smtp, pipelined_and_nobody_accepted_the_data_reply_is_kept)
{
	static const char *const script[] = {
		EHLO_PIPELINING,
		"R:MAIL From:<a@b>", "R:RCPT To:<x@y>", "R:DATA",
		"S:250 2.1.0 ok", "S:550 5.1.1 User unknown",
		"S:554 5.5.1 Error: no valid recipients",
		"R:QUIT", "S:221 bye", NULL };
	const char *rcpts[] = { "RCPT To:<x@y>" };
	struct body b = { NULL, false, 0 };
	struct smtp_rcpt_result res[1];
	struct smtp_txn t;
	struct smtp_conn *c;

	c = run_one(script, &t, "MAIL From:<a@b>", rcpts, 1, res, &b);
	cr_assert_eq(t.accepted, 0);
	cr_assert_eq(t.phase, SMTP_PHASE_RCPT);
	cr_assert_str_eq(t.data_reply.full, "554 5.5.1 Error: no valid recipients",
	    "for the notification's transcript, as sendmail records it");
	quit_and_free(c);
	cr_assert_eq(peer_status(), 0, "the peer saw exactly the script");
}

Test(smtp, no_enhanced_codes_from_a_relay_that_did_not_offer_them)
{
	static const char *const script[] = {
		"S:220 hi", "R:EHLO host.test", "S:250 hi",
		"R:MAIL From:<a@b>", "S:250 2.1.0 ok",
		"R:RCPT To:<x@y>", "S:250 2.1.5 ok", "R:DATA", "S:354 go",
		"R:body", "R:.", "S:552 5.3.4 too big",
		"R:QUIT", "S:221 bye", NULL };
	static const char *const parts[] = { "body\r\n", NULL };
	const char *rcpts[] = { "RCPT To:<x@y>" };
	struct body b = { parts, false, 0 };
	struct smtp_rcpt_result res[1];
	struct smtp_txn t;
	struct smtp_conn *c;

	c = run_one(script, &t, "MAIL From:<a@b>", rcpts, 1, res, &b);
	cr_assert_eq(t.phase, SMTP_PHASE_DOT);
	cr_assert_eq(t.status, SMTP_PERMFAIL);
	/* sendmail's reply() reads an enhanced code only with
	 * ENHANCEDSTATUSCODES: this is a 552 (5.2.2), its text whole. */
	cr_assert_str_eq(t.reply.enhanced, "");
	cr_assert_str_eq(t.reply.text, "5.3.4 too big");
	cr_assert_str_eq(t.reply.full, "552 5.3.4 too big");
	quit_and_free(c);
	cr_assert_eq(peer_status(), 0, "the peer saw exactly the script");
}

Test(smtp, a_connection_lost_after_the_dot_is_an_ioerr_at_the_dot)
{
	static const char *const script[] = {
		EHLO_PIPELINING,
		"R:MAIL From:<a@b>", "R:RCPT To:<x@y>", "R:DATA",
		"S:250 ok", "S:250 ok", "S:354 go", "R:one", "R:.", "C", NULL };
	static const char *const parts[] = { "one\r\n", NULL };
	const char *rcpts[] = { "RCPT To:<x@y>" };
	struct body b = { parts, false, 0 };
	struct smtp_rcpt_result res[1];
	const struct smtp_reply *r;
	struct smtp_txn t;
	struct smtp_conn *c;

	c = run_one(script, &t, "MAIL From:<a@b>", rcpts, 1, res, &b);
	cr_assert_eq(t.status, SMTP_IOERR);
	cr_assert_eq(t.phase, SMTP_PHASE_DOT);
	cr_assert_eq(smtp_txn_outcome(&t, 0, &r), SMTP_IOERR);
	cr_assert(!smtp_usable(c));
	smtp_free(c);
	cr_assert_eq(peer_status(), 0, "the peer saw exactly the script");
}

Test(smtp, an_unreadable_body_never_ends_the_data)
{
	static const char *const script[] = {
		EHLO_PIPELINING,
		"R:MAIL From:<a@b>", "R:RCPT To:<x@y>", "R:DATA",
		"S:250 ok", "S:250 ok", "S:354 go", "D", NULL };
	const char *parts[] = { NULL, NULL };
	const char *rcpts[] = { "RCPT To:<x@y>" };
	struct body b = { parts, true, 0 };
	struct smtp_rcpt_result res[1];
	struct strbuf big = STRBUF_INIT;
	struct smtp_txn t;
	struct smtp_conn *c;
	int i;

	/* More than one buffer's worth, so part of it is written before
	 * the data file fails. */
	for (i = 0; i < 2000; i++)
		strbuf_addstr(&big, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n");
	parts[0] = big.buf;
	c = run_one(script, &t, "MAIL From:<a@b>", rcpts, 1, res, &b);
	cr_assert_eq(t.status, SMTP_IOERR);
	cr_assert_eq(t.phase, SMTP_PHASE_BODY);
	cr_assert(!smtp_usable(c));
	smtp_free(c);
	strbuf_free(&big);
	cr_assert_eq(peer_status(), 0, "the relay saw no final dot, only the close");
}

Test(smtp, a_relay_that_goes_away_while_idle_is_noticed)
{
	static const char *const script[] = {
		EHLO_PIPELINING, "S:421 4.4.2 idle timeout", "C", NULL };
	struct smtp_conn *c;

	c = ready_peer(script);
	cr_assert_eq(smtp_wait(c), SMTP_EV_FAILED);
	cr_assert(!smtp_usable(c));
	smtp_free(c);
	cr_assert_eq(peer_status(), 0);
}

Test(smtp, a_message_over_the_size_limit_is_refused_without_a_word)
{
	static const char *const script[] = {
		EHLO_PIPELINING, "R:QUIT", "S:221 bye", NULL };
	const char *rcpts[] = { "RCPT To:<x@y>" };
	struct body b = { NULL, false, 0 };
	struct smtp_rcpt_result res[1];
	const struct smtp_reply *r;
	struct smtp_txn t;
	struct smtp_conn *c;

	c = ready_peer(script);
	txn_init(&t, "MAIL From:<a@b> SIZE=1001", rcpts, 1, res, &b);
	t.size = 1001;		/* the relay said SIZE 1000 */
	cr_assert(smtp_submit(c, &t));
	cr_assert_eq(smtp_wait(c), SMTP_EV_TXN_DONE);
	cr_assert_eq(t.status, SMTP_PERMFAIL);
	cr_assert_eq(t.phase, SMTP_PHASE_MAIL);
	cr_assert_eq(smtp_txn_outcome(&t, 0, &r), SMTP_PERMFAIL);
	cr_assert_str_eq(r->full, "552 5.2.3 Message is too large; 1000 bytes max");
	cr_assert_str_eq(r->enhanced, "5.2.3");
	cr_assert(smtp_usable(c));
	quit_and_free(c);
	cr_assert_eq(peer_status(), 0, "the relay saw no MAIL, only QUIT");
}

/* clientqctl verify: MAIL, the RCPTs, RSET in DATA's place; never DATA. */
Test(smtp, no_data_pipelined_sends_rset_instead_of_data)
{
	static const char *const script[] = {
		EHLO_PIPELINING,
		"R:MAIL From:<u@h>", "R:RCPT To:<ok@y>", "R:RCPT To:<bad@y>", "R:RSET",
		"S:250 2.1.0 ok", "S:250 2.1.5 ok", "S:550 5.1.1 User unknown", "S:250 2.0.0 reset",
		"R:QUIT", "S:221 bye", NULL };
	const char *rcpts[] = { "RCPT To:<ok@y>", "RCPT To:<bad@y>" };
	struct body b = { NULL, false, 0 };
	struct smtp_rcpt_result res[2];
	struct smtp_txn t;
	struct smtp_conn *c;

	c = ready_peer(script);
	txn_init(&t, "MAIL From:<u@h>", rcpts, 2, res, &b);
	t.no_data = true;
	cr_assert(smtp_submit(c, &t));
	cr_assert_eq(smtp_wait(c), SMTP_EV_TXN_DONE);
	cr_assert_eq(t.status, SMTP_OK);
	cr_assert_eq(t.phase, SMTP_PHASE_RCPT);
	cr_assert_eq(t.accepted, 1);
	cr_assert_eq(res[0].reply.code, 250);
	cr_assert_eq(res[1].status, SMTP_PERMFAIL);
	cr_assert_str_eq(res[1].reply.enhanced, "5.1.1");
	cr_assert(smtp_usable(c));
	quit_and_free(c);
	cr_assert_eq(peer_status(), 0, "the peer saw exactly the script");
}

Test(smtp, no_data_without_pipelining_waits_for_each_reply)
{
	static const char *const script[] = {
		"S:220 hi", "R:EHLO host.test", "S:250 hi",
		"R:MAIL From:<u@h>", "S:250 ok",
		"R:RCPT To:<ok@y>", "S:250 ok", "R:RCPT To:<z@y>", "S:451 4.3.0 later",
		"R:RSET", "S:250 reset", "R:QUIT", "S:221 bye", NULL };
	const char *rcpts[] = { "RCPT To:<ok@y>", "RCPT To:<z@y>" };
	struct body b = { NULL, false, 0 };
	struct smtp_rcpt_result res[2];
	struct smtp_txn t;
	struct smtp_conn *c;

	c = ready_peer(script);
	txn_init(&t, "MAIL From:<u@h>", rcpts, 2, res, &b);
	t.no_data = true;
	cr_assert(smtp_submit(c, &t));
	cr_assert_eq(smtp_wait(c), SMTP_EV_TXN_DONE);
	cr_assert_eq(t.accepted, 1);
	cr_assert_eq(res[1].status, SMTP_TEMPFAIL);
	cr_assert_eq(res[1].reply.code, 451);
	quit_and_free(c);
	cr_assert_eq(peer_status(), 0, "the peer saw exactly the script");
}
