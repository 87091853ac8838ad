/*
 * engine: connection slots against a scripted relay (testutil.h's
 * tu_peer), over a real queue: what goes on the wire (the peer checks
 * every line), what the driver is told and in which order, and what is
 * left on disk -- in both set-up policies.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "delivery/engine.h"
#include "util/evloop.h"
#include "queue/spool.h"
#include "testutil.h"
#include "util/xalloc.h"

#define ID0 "6AOMct2T003760"
#define ID1 "6AOMct2T003761"

static char *dir;
static struct spool *sp;
static struct deliver_config dc;
static struct smtp_timeouts timeouts;

/* A message to alice (and bob), NOTIFY=NEVER: a failure makes no
 * notification, so that what a test sees is the message's own fate. */
static void
queue_message(const char *id, bool bob)
{
	char name[64];
	/* Queued now: not past Timeout.queuereturn. */
	char *qf = xasprintf("V8\nT%lld\nK0\nN0\nP30019\n$_root@localhost\n"
	    "Sroot\nC:alice@example.test\nrRFC822; alice@example.test\n"
	    "RPN:alice@example.test\n%sH?P?Return-Path: <\x81g>\nH??Subject: test\n.\n",
	    (long long)time(NULL), bob ? "RPN:bob@example.test\n" : "");

	snprintf(name, sizeof name, "qf%s", id);
	tu_write(dir, name, qf, strlen(qf), 0660);
	snprintf(name, sizeof name, "df%s", id);
	tu_write(dir, name, "hello\n", 6, 0660);
	free(qf);
}

static void
setup(void)
{
	struct spool_policy pol;
	struct error err;

	dir = tu_tempdir();
	spool_policy_default(&pol);
	sp = spool_open(dir, &pol, &err);
	cr_assert_not_null(sp, "%s", err.reason);
	memset(&dc, 0, sizeof dc);
	dc.sp = sp;
	dc.ropts.domain = "host.test";
	dc.ropts.mailer_flags = "mDFMuXa";	/* the MSP's relay mailer */
	dc.env_opts = dc.ropts;
	dc.relay_host = "[127.0.0.1]";
	dc.relay_ip = "127.0.0.1";
	dc.queuereturn[0] = dc.queuereturn[1] = dc.queuereturn[2] = 5 * 86400;
	dc.postmaster = "postmaster";
	smtp_timeouts_default(&timeouts);
	timeouts.connect = timeouts.initial = timeouts.helo = timeouts.mail = 2;
	timeouts.rcpt = timeouts.datainit = timeouts.datablock = timeouts.datafinal = 2;
	timeouts.quit = 2;
}

static void
teardown(void)
{
	spool_free(sp);
	tu_rmtree(dir);
	free(dir);
}

TestSuite(engine, .init = setup, .fini = teardown, .timeout = 30);

/* A driver: the IDs it gives, what it was told (a trace of letters),
 * and the slots it starts (at most starts_max, one at a time). */
struct drv {
	struct evloop *l;
	struct engine *e;
	const char *ids[4];
	size_t n, i;
	int starts, starts_max;
	struct deliver_job *carry;
	enum deliver_result res[4];
	int ended[4];
	char trace[256];
	struct classify_result cr;
	enum smtp_setup_kind kind;
	bool timed_out;
};

static void
tr(struct drv *d, const char *s)
{
	cr_assert_lt(strlen(d->trace) + strlen(s), sizeof d->trace);
	strcat(d->trace, s);
}

static int
idx(struct drv *d, const char *id)
{
	size_t k;

	for (k = 0; k < d->n; k++)
		if (strcmp(d->ids[k], id) == 0)
			return (int)k;
	cr_assert_fail("unknown id %s", id);
	return -1;
}

static bool queued(const char *id);

/* "n<i> ", or "n<i>* " when the message before is still queued: asked
 * for while the one before was with the relay (read ahead). */
static bool
d_next(void *arg, char id[QID_MAX_LEN + 1])
{
	struct drv *d = arg;
	char t[32];

	if (d->i >= d->n) {
		tr(d, "n- ");
		return false;
	}
	snprintf(t, sizeof t, "n%zu%s ", d->i, d->i > 0 && queued(d->ids[d->i - 1]) ? "*" : "");
	tr(d, t);
	snprintf(id, QID_MAX_LEN + 1, "%s", d->ids[d->i++]);
	return true;
}

static void
d_unopened(void *arg, const char *id, enum deliver_result res)
{
	(void)id;
	(void)res;
	tr(arg, "u ");
}

static void
d_ended(void *arg, struct deliver_job *j)
{
	struct drv *d = arg;
	int k = idx(d, deliver_id(j));
	char t[32];

	snprintf(t, sizeof t, "e%d ", k);
	tr(d, t);
	d->ended[k]++;
	d->res[k] = deliver_finish(j);
}

static void
d_returned(void *arg, struct deliver_job *j)
{
	struct drv *d = arg;
	char t[32];

	snprintf(t, sizeof t, "r%d ", idx(d, deliver_id(j)));
	tr(d, t);
	cr_assert_null(d->carry);
	d->carry = j;
}

static void
d_ready(void *arg, struct engine_slot *s)
{
	(void)s;
	tr(arg, "R ");
}

static void
d_failed(void *arg, struct engine_slot *s, const struct engine_setup_failure *f)
{
	struct drv *d = arg;

	(void)s;
	tr(d, "F ");
	d->cr = *f->cr;
	d->kind = f->kind;
}

static void
d_closed(void *arg, struct engine_slot *s)
{
	(void)s;
	tr(arg, "C ");
}

static void
d_prepare(void *arg)
{
	struct drv *d = arg;
	struct deliver_job *first = d->carry;

	if (engine_count(d->e) > 0)
		return;
	if (d->starts >= d->starts_max) {
		evloop_stop(d->l);
		return;
	}
	d->starts++;
	d->carry = NULL;
	if (engine_start(d->e, first, 0) == NULL && engine_count(d->e) == 0 && d->carry == NULL &&
	    d->i >= d->n)
		evloop_stop(d->l);
}

static void
d_too_long(void *arg)
{
	struct drv *d = arg;

	d->timed_out = true;
	evloop_stop(d->l);
}

/* Run the engine in mode setup over ids against the peer on port. */
static void
drive(struct drv *d, enum engine_setup setup, int port, const char *const *ids, size_t n,
    int starts_max)
{
	struct engine_ops ops;
	struct engine_config ec;
	size_t k;

	memset(d, 0, sizeof *d);
	ops = (struct engine_ops){
		d_next, NULL, d_unopened, d_ended, d_returned, d_ready, d_failed, d_closed, d,
	};
	for (k = 0; k < n; k++)
		d->ids[k] = ids[k];
	d->n = n;
	d->starts_max = starts_max;
	d->l = evloop_new();
	cr_assert_not_null(d->l);
	memset(&ec, 0, sizeof ec);
	ec.loop = d->l;
	ec.dc = &dc;
	ec.relay_ip = "127.0.0.1";
	ec.port = port;
	ec.helo = "host.test";
	ec.timeouts = &timeouts;
	ec.setup = setup;
	ec.idle_ms = 0;
	d->e = engine_new(&ec, &ops);
	evloop_set_prepare(d->l, d_prepare, d);
	evloop_add_timeout(d->l, 20000, d_too_long, d);
	cr_assert_eq(evloop_run(d->l), 0);
	cr_assert_not(d->timed_out, "the run did not end; trace: %s", d->trace);
	cr_assert_eq(engine_count(d->e), 0);
	engine_free(d->e);
	evloop_free(d->l);
	if (d->carry != NULL)
		(void)deliver_abandon(d->carry);
}

static bool
queued(const char *id)
{
	char name[64];

	snprintf(name, sizeof name, "qf%s", id);
	return tu_exists(dir, name);
}

#define GREET_PIPELINING \
	"S:220 relay.test ESMTP", "R:EHLO host.test", "S:250-relay.test", \
	"S:250-PIPELINING", "S:250 ENHANCEDSTATUSCODES"
#define GREET_PLAIN \
	"S:220 relay.test ESMTP", "R:EHLO host.test", "S:250-relay.test", \
	"S:250 ENHANCEDSTATUSCODES"

Test(engine, pipelining_reads_the_next_message_ahead_and_sends_it_at_once)
{
	/* Each transaction one group (RSET on the reused connection, MAIL,
	 * RCPT, DATA), then the body. */
	static const char *const script[] = {
		GREET_PIPELINING,
		"P:MAIL From:<root@host.test>", "R:RCPT To:<alice@example.test>", "R:DATA",
		"S:250 2.1.0 ok", "S:250 2.1.5 ok", "S:354 go", "B", "S:250 2.0.0 one",
		"R:RSET", "P:MAIL From:<root@host.test>", "R:RCPT To:<alice@example.test>",
		"R:DATA", "S:250 2.0.0 reset", "S:250 2.1.0 ok", "S:250 2.1.5 ok", "S:354 go",
		"B", "S:250 2.0.0 two",
		"R:QUIT", "S:221 bye", "E", NULL,
	};
	static const char *const ids[] = { ID0, ID1 };
	struct drv d;
	int port;
	pid_t pid;
	const char *n1, *e0, *e1;

	queue_message(ID0, false);
	queue_message(ID1, false);
	pid = tu_peer(script, &port);
	drive(&d, ENGINE_SETUP_PER_MESSAGE, port, ids, 2, 1);
	cr_assert_eq(tu_child_status(pid), 0, "the relay saw exactly the script; trace %s",
	    d.trace);
	cr_assert_eq(d.res[0], DELIVER_DELIVERED);
	cr_assert_eq(d.res[1], DELIVER_DELIVERED);
	cr_assert_eq(d.ended[0] + d.ended[1], 2, "each ended once");
	cr_assert_not(queued(ID0));
	cr_assert_not(queued(ID1));
	/* Read ahead: the second was asked for (and opened) while the
	 * first was with the relay, not yet committed; the first finished
	 * after that. */
	n1 = strstr(d.trace, "n1* ");
	e0 = strstr(d.trace, "e0 ");
	e1 = strstr(d.trace, "e1 ");
	cr_assert(n1 != NULL && e0 != NULL && e1 != NULL, "trace %s", d.trace);
	cr_assert(n1 < e0 && e0 < e1, "trace %s", d.trace);
	cr_assert(strncmp(d.trace, "n0 R ", 5) == 0, "per message: opened before connecting; trace %s",
	    d.trace);
	cr_assert(strstr(d.trace, "C ") != NULL);
}

Test(engine, partial_acceptance_requeues_the_refused_recipient_only)
{
	static const char *const script[] = {
		GREET_PLAIN,
		"P:MAIL From:<root@host.test>", "S:250 2.1.0 ok",
		/* sendmail's order: the queue file's last first. */
		"R:RCPT To:<bob@example.test>", "S:450 4.2.1 bob is busy",
		"R:RCPT To:<alice@example.test>", "S:250 2.1.5 ok",
		"R:DATA", "S:354 go", "B", "S:250 2.0.0 taken",
		"R:QUIT", "S:221 bye", "E", NULL,
	};
	static const char *const ids[] = { ID0 };
	struct drv d;
	char *qf;
	int port;
	pid_t pid;

	queue_message(ID0, true);
	pid = tu_peer(script, &port);
	drive(&d, ENGINE_SETUP_PER_MESSAGE, port, ids, 1, 1);
	cr_assert_eq(tu_child_status(pid), 0, "the relay saw exactly the script; trace %s",
	    d.trace);
	cr_assert_eq(d.res[0], DELIVER_PARTIAL);
	qf = tu_read2(dir, "qf" ID0, NULL);
	cr_assert_not_null(qf);
	cr_assert_not_null(strstr(qf, "bob@example.test"), "%s", qf);
	cr_assert_null(strstr(qf, "RPN:alice@example.test"), "alice got it: %s", qf);
	cr_assert_not_null(strstr(qf, "\nN1\n"), "one try counted: %s", qf);
	free(qf);
}

Test(engine, a_5xx_greeting_bounces_every_message_per_message)
{
	static const char *const script[] = { "S:554 5.3.2 closed for good", "D", NULL };
	static const char *const ids[] = { ID0, ID1 };
	struct drv d;
	int port;
	pid_t pid;

	queue_message(ID0, false);
	queue_message(ID1, false);
	pid = tu_peer(script, &port);
	drive(&d, ENGINE_SETUP_PER_MESSAGE, port, ids, 2, 1);
	cr_assert_eq(tu_child_status(pid), 0, "trace %s", d.trace);
	cr_assert_eq(d.cr.action, CLASSIFY_FAILED, "sendmail bounces at a 5xx greeting");
	cr_assert_eq(d.kind, SMTP_SETUP_CONNECTION);
	/* Both: the first tried, the second as sendmail's host status cache
	 * has it; neither stays queued (NOTIFY=NEVER: no bounce message). */
	cr_assert_str_eq(d.trace, "n0 F e0 n1 e1 n- C ");
	cr_assert_not(queued(ID0));
	cr_assert_not(queued(ID1));
}

Test(engine, a_5xx_greeting_touches_no_message_behind_the_breaker)
{
	static const char *const script[] = { "S:554 5.3.2 closed for good", "D", NULL };
	static const char *const ids[] = { ID0, ID1 };
	char *before0, *before1, *after0, *after1;
	struct drv d;
	int port;
	pid_t pid;

	queue_message(ID0, false);
	queue_message(ID1, false);
	before0 = tu_read2(dir, "qf" ID0, NULL);
	before1 = tu_read2(dir, "qf" ID1, NULL);
	pid = tu_peer(script, &port);
	drive(&d, ENGINE_SETUP_BREAKER, port, ids, 2, 1);
	cr_assert_eq(tu_child_status(pid), 0, "trace %s", d.trace);
	/* Reported, nothing asked for, opened or ended. */
	cr_assert_str_eq(d.trace, "F C ");
	cr_assert_eq(d.cr.action, CLASSIFY_FAILED);
	after0 = tu_read2(dir, "qf" ID0, NULL);
	after1 = tu_read2(dir, "qf" ID1, NULL);
	cr_assert_not_null(after0);
	cr_assert_not_null(after1);
	cr_assert_str_eq(after0, before0, "the queue file is as it was");
	cr_assert_str_eq(after1, before1, "the queue file is as it was");
	free(before0);
	free(before1);
	free(after0);
	free(after1);
}

Test(engine, a_refused_ehlo_and_helo_is_the_same_choice)
{
	static const char *const script[] = {
		"S:220 relay.test", "R:EHLO host.test", "S:550 no", "R:HELO host.test",
		"S:550 no", "D", NULL,
	};
	static const char *const ids[] = { ID0 };
	struct drv d;
	int port;
	pid_t pid;

	queue_message(ID0, false);
	pid = tu_peer(script, &port);
	drive(&d, ENGINE_SETUP_BREAKER, port, ids, 1, 1);
	cr_assert_eq(tu_child_status(pid), 0, "trace %s", d.trace);
	cr_assert_str_eq(d.trace, "F C ");
	cr_assert(queued(ID0));

	pid = tu_peer(script, &port);
	drive(&d, ENGINE_SETUP_PER_MESSAGE, port, ids, 1, 1);
	cr_assert_eq(tu_child_status(pid), 0, "trace %s", d.trace);
	cr_assert_str_eq(d.trace, "n0 F e0 n- C ");
	cr_assert_not(queued(ID0), "bounced, as sendmail does");
}

/* A connection lost at each phase: the message stays queued, tried
 * once (N1), ended once; before READY it is a failed set-up. */
Test(engine, a_lost_connection_at_each_phase_defers)
{
	static const char *const at_greeting[] = { "C", NULL };
	static const char *const at_ehlo[] = { "S:220 relay.test", "R:EHLO host.test", "C", NULL };
	static const char *const at_mail[] = {
		GREET_PLAIN, "P:MAIL From:", "C", NULL,
	};
	static const char *const at_rcpt[] = {
		GREET_PLAIN, "P:MAIL From:", "S:250 2.1.0 ok", "P:RCPT To:", "C", NULL,
	};
	static const char *const at_data[] = {
		GREET_PLAIN, "P:MAIL From:", "S:250 2.1.0 ok", "P:RCPT To:", "S:250 2.1.5 ok",
		"R:DATA", "C", NULL,
	};
	static const char *const at_body[] = {
		GREET_PLAIN, "P:MAIL From:", "S:250 2.1.0 ok", "P:RCPT To:", "S:250 2.1.5 ok",
		"R:DATA", "S:354 go", "L", "C", NULL,
	};
	static const char *const at_dot[] = {
		GREET_PLAIN, "P:MAIL From:", "S:250 2.1.0 ok", "P:RCPT To:", "S:250 2.1.5 ok",
		"R:DATA", "S:354 go", "B", "C", NULL,
	};
	static const struct {
		const char *name;
		const char *const *script;
		bool setup;
	} cases[] = {
		{ "greeting", at_greeting, true }, { "EHLO", at_ehlo, true },
		{ "MAIL", at_mail, false }, { "RCPT", at_rcpt, false },
		{ "DATA", at_data, false }, { "body", at_body, false },
		{ "final dot", at_dot, false },
	};
	static const char *const ids[] = { ID0 };
	size_t k;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		int m;

		for (m = 0; m < 2; m++) {
			enum engine_setup mode = m == 0 ? ENGINE_SETUP_PER_MESSAGE : ENGINE_SETUP_BREAKER;
			const char *mname = m == 0 ? "per message" : "breaker";
			char *before, *after;
			struct drv d;
			int port;
			pid_t pid;

			unlink(tu_path(dir, "qf" ID0));
			unlink(tu_path(dir, "df" ID0));
			queue_message(ID0, false);
			before = tu_read2(dir, "qf" ID0, NULL);
			pid = tu_peer(cases[k].script, &port);
			drive(&d, mode, port, ids, 1, 1);
			cr_assert_eq(tu_child_status(pid), 0, "%s, %s: trace %s", cases[k].name,
			    mname, d.trace);
			cr_assert(queued(ID0), "%s, %s: still queued (%d files; trace %s)", cases[k].name,
			    mname, tu_count(dir), d.trace);
			after = tu_read2(dir, "qf" ID0, NULL);
			cr_assert_eq(strstr(d.trace, "F ") != NULL, cases[k].setup,
			    "%s, %s: trace %s", cases[k].name, mname, d.trace);
			if (cases[k].setup && mode == ENGINE_SETUP_BREAKER) {
				cr_assert_str_eq(after, before, "%s: untouched", cases[k].name);
				cr_assert_eq(d.ended[0], 0);
			} else {
				cr_assert_eq(d.ended[0], 1, "%s, %s: ended once: %s", cases[k].name,
				    mname, d.trace);
				cr_assert_eq(d.res[0], DELIVER_DEFERRED, "%s, %s", cases[k].name, mname);
				cr_assert_not_null(strstr(after, "\nN1\n"), "%s, %s: one try: %s",
				    cases[k].name, mname, after);
			}
			free(before);
			free(after);
		}
	}
}

/* The message read ahead when the connection is lost after the first
 * one's final "." is given back unsent, and the next connection takes
 * it first. */
Test(engine, a_message_read_ahead_goes_on_the_next_connection)
{
	static const char *const script[] = {
		GREET_PIPELINING,
		"P:MAIL From:", "R:RCPT To:<alice@example.test>", "R:DATA",
		"S:250 2.1.0 ok", "S:250 2.1.5 ok", "S:354 go", "B", "A",
		GREET_PIPELINING,
		"P:MAIL From:", "R:RCPT To:<alice@example.test>", "R:DATA",
		"S:250 2.1.0 ok", "S:250 2.1.5 ok", "S:354 go", "B", "S:250 2.0.0 two",
		"R:QUIT", "S:221 bye", "E", NULL,
	};
	static const char *const ids[] = { ID0, ID1 };
	char *qf;
	struct drv d;
	int port;
	pid_t pid;

	queue_message(ID0, false);
	queue_message(ID1, false);
	pid = tu_peer(script, &port);
	drive(&d, ENGINE_SETUP_PER_MESSAGE, port, ids, 2, 2);
	cr_assert_eq(tu_child_status(pid), 0, "trace %s", d.trace);
	cr_assert_not_null(strstr(d.trace, "r1 "), "given back: %s", d.trace);
	cr_assert_eq(d.ended[0], 1);
	cr_assert_eq(d.ended[1], 1);
	cr_assert_eq(d.res[0], DELIVER_DEFERRED, "lost before the reply to its \".\"");
	cr_assert_eq(d.res[1], DELIVER_DELIVERED);
	cr_assert_not(queued(ID1));
	qf = tu_read2(dir, "qf" ID0, NULL);
	cr_assert_not_null(qf);
	free(qf);
}
