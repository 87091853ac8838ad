#include "config.h"

#include "smtp/smtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "queue/log.h"
#include "util/monotime.h"
#include "util/xalloc.h"

/* Where the connection is. */
enum smtp_state {
	ST_CONNECTING,		/* non-blocking connect under way */
	ST_SETUP,		/* greeting, EHLO/HELO, STARTTLS, AUTH */
	ST_HANDSHAKE,		/* the TLS handshake after STARTTLS's 220 */
	ST_IDLE,		/* may take a transaction */
	ST_TXN,			/* commands out, replies awaited */
	ST_BODY,		/* pulling and writing the message */
	ST_QUITTING,
	ST_DEAD,		/* broken: only smtp_free */
	ST_CLOSED,
};

/* The reply awaited next. */
enum smtp_expect {
	X_GREETING,
	X_EHLO,
	X_HELO,
	X_STARTTLS,		/* its reply, then the handshake */
	X_AUTH,			/* each reply of the AUTH exchange */
	X_RSET,
	X_MAIL,
	X_RCPT,
	X_DATA,
	X_DOT,
	X_DOT_DISCARD,		/* ends a DATA the relay took without
				 * recipients (RFC 2920 section 3.1) */
	X_RSET_VERIFY,		/* a transaction without DATA (smtp_txn's
				 * no_data) ends with RSET */
	X_QUIT,
};

struct smtp_conn {
	int fd;
	enum smtp_state state;
	enum smtp_expect expect;
	size_t ri;			/* X_RCPT: which recipient */
	bool pipelining;		/* this transaction's commands went
					 * out as one group */
	bool rset_due;			/* used before: RSET first */
	bool txn_decided;		/* RSET or MAIL refused: the status
					 * is set, the rest is draining */
	bool body_ended;		/* the callback said SMTP_BODY_END */
	bool body_failed;		/* ... or SMTP_BODY_ERROR */
	bool dot_queued;
	struct strbuf pbuf;		/* body pulled ahead, before the 354 */
	bool no_reuse;			/* RSET refused: close after this */
	enum smtp_event pending;	/* an end reached outside smtp_io (a
					 * connect refused at once, a
					 * transaction refused or broken in
					 * smtp_submit): the next smtp_io()
					 * reports it */
	struct smtp_txn *txn;
	unsigned ext;
	long long size_limit;
	struct smtp_timeouts t;
	long long deadline;		/* -1: none */
	long long end;			/* the session's bound (total_ms);
					 * -1: none */
	bool cut;			/* deadline is end, before the
					 * phase's own */
	char helo_name[256];
	char ip[64];
	char ip_br[80];			/* "[ip]" */

	/* The reply being read. */
	struct smtp_reply cur;
	int cur_lines;

	/* Setup failure. */
	enum smtp_status setup_status;
	struct smtp_reply setup_reply;
	enum smtp_setup_kind kind;
	char err[400];
	struct error io_err;		/* the last read or write error */

	/* STARTTLS and AUTH (smtp_secure). */
	struct smtp_security sec;
	struct tls_session *tls;	/* from STARTTLS's 220 on */
	bool tls_up;			/* the handshake is done: I/O is TLS */
	bool tls_declined;		/* refused under may: in clear */
	short tls_want;			/* POLLIN/POLLOUT OpenSSL waits for
					 * (the handshake, or a read that
					 * must write first) */
	char auth_offered[256];		/* the EHLO AUTH line's mechanisms */
	enum auth_mech auth_mech;
	int auth_step;
	bool auth_done;
	struct smtp_reply greeting;	/* code 0 until it came */
	struct error tls_err;		/* the last TLS failure; reason "" */

	char rbuf[SMTP_LINE_MAX + 2];
	size_t rlen;
	struct strbuf wbuf;
	size_t woff;			/* written part of wbuf */
};

void
smtp_timeouts_default(struct smtp_timeouts *t)
{
	/* RFC 5321 4.5.3.2, and sendmail's defaults where it has its own
	 * (connect: the kernel's; we bound it). */
	t->connect = 60;
	t->initial = 300;
	t->helo = 300;
	t->mail = 300;
	t->rcpt = 300;
	t->datainit = 120;
	/* The body: no write may wait longer than this.  RFC 5321 says
	 * 3 minutes; sendmail's client waits 5 (DATA_PROGRESS_TIMEOUT,
	 * whatever Timeout.datablock says: that one is its server's), and
	 * a relay that sendmail's runner would have waited for must not
	 * get a message deferred here. */
	t->datablock = 300;
	t->datafinal = 600;
	t->rset = 300;
	t->quit = 120;
	/* sendmail's Timeout.starttls is 1h, for a handshake that takes
	 * milliseconds: a relay that stalls in it would hold a connection
	 * that long.  Postfix's smtp_starttls_timeout, 300 s, like the
	 * command phases; AUTH the same (sendmail: 10m). */
	t->starttls = 300;
	t->auth = 300;
	t->total_ms = 0;
}

/* The next wait's deadline: its phase's timeout, cut to the session's
 * bound (total_ms) when that comes first. */
static void
smtp_arm(struct smtp_conn *c, int seconds)
{
	c->deadline = monotime_ms() + (long long)seconds * 1000;
	c->cut = c->end >= 0 && c->end < c->deadline;
	if (c->cut)
		c->deadline = c->end;
}

const char *
smtp_phase_str(enum smtp_phase p)
{
	/* sendmail's names for the phases ("client MAIL"), used in its
	 * timeout messages. */
	switch (p) {
	case SMTP_PHASE_CONNECT:
		return "client connect";
	case SMTP_PHASE_GREETING:
		return "client greeting";
	case SMTP_PHASE_HELO:
		return "client EHLO";
	case SMTP_PHASE_STARTTLS:
		return "client STARTTLS";
	case SMTP_PHASE_AUTH:
		return "client AUTH";
	case SMTP_PHASE_RSET:
		return "client RSET";
	case SMTP_PHASE_MAIL:
		return "client MAIL";
	case SMTP_PHASE_RCPT:
		return "client RCPT";
	case SMTP_PHASE_DATA:
		return "client DATA 354";
	case SMTP_PHASE_BODY:
		return "client DATA";
	case SMTP_PHASE_DOT:
		return "client DATA status";
	case SMTP_PHASE_QUIT:
		return "client QUIT";
	}
	return "client";
}

static enum smtp_phase
smtp_expect_phase(const struct smtp_conn *c)
{
	if (c->state == ST_BODY)
		return SMTP_PHASE_BODY;
	switch (c->expect) {
	case X_GREETING:
		return SMTP_PHASE_GREETING;
	case X_EHLO:
	case X_HELO:
		return SMTP_PHASE_HELO;
	case X_STARTTLS:
		return SMTP_PHASE_STARTTLS;
	case X_AUTH:
		return SMTP_PHASE_AUTH;
	case X_RSET:
	case X_RSET_VERIFY:
		return SMTP_PHASE_RSET;
	case X_MAIL:
		return SMTP_PHASE_MAIL;
	case X_RCPT:
		return SMTP_PHASE_RCPT;
	case X_DATA:
		return SMTP_PHASE_DATA;
	case X_DOT:
	case X_DOT_DISCARD:
		return SMTP_PHASE_DOT;
	case X_QUIT:
		return SMTP_PHASE_QUIT;
	}
	return SMTP_PHASE_CONNECT;
}

static int
smtp_expect_timeout(const struct smtp_conn *c, enum smtp_expect x)
{
	switch (x) {
	case X_GREETING:
		return c->t.initial;
	case X_EHLO:
	case X_HELO:
		return c->t.helo;
	case X_STARTTLS:
		return c->t.starttls;
	case X_AUTH:
		return c->t.auth;
	case X_RSET:
	case X_RSET_VERIFY:
		return c->t.rset;
	case X_MAIL:
		return c->t.mail;
	case X_RCPT:
		return c->t.rcpt;
	case X_DATA:
		return c->t.datainit;
	case X_DOT:
	case X_DOT_DISCARD:
		return c->t.datafinal;
	case X_QUIT:
		return c->t.quit;
	}
	return c->t.initial;
}

/* An end reached outside smtp_io(): due at once. */
static void
smtp_report_later(struct smtp_conn *c, enum smtp_event ev)
{
	c->pending = ev;
	c->deadline = monotime_ms();
}

/* Await x next, with its timeout. */
static void
smtp_await(struct smtp_conn *c, enum smtp_expect x)
{
	c->expect = x;
	smtp_arm(c, smtp_expect_timeout(c, x));
}

bool
smtp_parse_reply_line(const char *line, bool *last, struct smtp_reply *reply)
{
	const char *p = line + 3;
	int code;

	if (line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9' ||
	    (line[3] != '\0' && line[3] != ' ' && line[3] != '-'))
		return false;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	*last = line[3] != '-';
	reply->code = code;
	snprintf(reply->full, sizeof reply->full, "%s", line);
	reply->enhanced[0] = '\0';
	if (*p != '\0')
		p++;
	/* An enhanced status code: class.subject.detail, its class the
	 * reply's first digit (RFC 3463). */
	if (p[0] == line[0] && p[1] == '.') {
		const char *q = p + 2;
		int dots = 1;

		while ((*q >= '0' && *q <= '9') || (*q == '.' && dots++ < 2))
			q++;
		if (dots == 2 && q[-1] != '.' && (*q == ' ' || *q == '\0') &&
		    (size_t)(q - p) < sizeof reply->enhanced) {
			memcpy(reply->enhanced, p, (size_t)(q - p));
			reply->enhanced[q - p] = '\0';
			p = *q ? q + 1 : q;
		}
	}
	snprintf(reply->text, sizeof reply->text, "%s", p);
	return true;
}

static enum smtp_status
smtp_reply_status(const struct smtp_reply *r)
{
	if (r->code == 0)
		return SMTP_IOERR;
	if (r->code < 400)
		return SMTP_OK;
	return r->code < 500 ? SMTP_TEMPFAIL : SMTP_PERMFAIL;
}

/*
 * The connection is broken (I/O error, timeout, protocol error).  A
 * running transaction ends with st at the phase it was in; otherwise the
 * setup (or the idle connection) failed.
 */
static enum smtp_event smtp_die_why(struct smtp_conn *c, enum smtp_status st,
    bool timed_out, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define smtp_die(c, st, ...) smtp_die_why((c), (st), false, __VA_ARGS__)

static enum smtp_event
smtp_die_why(struct smtp_conn *c, enum smtp_status st, bool timed_out, const char *fmt, ...)
{
	enum smtp_state was = c->state;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	c->state = ST_DEAD;
	c->deadline = -1;
	if (was == ST_QUITTING) {
		c->state = ST_CLOSED;
		return SMTP_EV_CLOSED;
	}
	if (c->txn != NULL && (was == ST_TXN || was == ST_BODY)) {
		struct smtp_txn *t = c->txn;

		if (!c->txn_decided) {
			t->phase = was == ST_BODY ? SMTP_PHASE_BODY :
			    smtp_expect_phase(c);
			t->status = st;
			memset(&t->reply, 0, sizeof t->reply);
			snprintf(t->reply.full, sizeof t->reply.full, "%s", c->err);
			t->reply.timed_out = timed_out;
		}
		c->txn = NULL;
		return SMTP_EV_TXN_DONE;
	}
	c->setup_status = st;
	return SMTP_EV_FAILED;
}

/* sendmail's words for a handshake that failed (its tls_server
 * ruleset's, in submit.cf): the queue file's M line says this. */
#define SMTP_TLS_FAILED "454 4.7.0 TLS handshake failed."
/* ... and for a STARTTLS answered neither 220 nor 4xx/5xx. */
#define SMTP_STARTTLS_FAILED "454 4.7.0 STARTTLS failed."

static const char *
smtp_relay(const struct smtp_conn *c)
{
	return c->sec.relay != NULL ? c->sec.relay : c->ip_br;
}

/* A STARTTLS that did not work, in one line beside sendmail's (its
 * "STARTTLS=client, error: connect failed=..."). */
static void smtp_log_tls_error(struct smtp_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
smtp_log_tls_error(struct smtp_conn *c, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	error_set(&c->tls_err, 0, "%s", why);
	{
		const struct log_field f[] = {
			{ "MESSAGE_ID", LOG_MID_STARTTLS_FAILED },
			{ "RELAY", smtp_relay(c) },
			{ "TLS_POLICY", tls_policy_str(tls_client_policy(c->sec.tls)) },
			{ "REASON", why },
		};

		log_fields(LOG_LVL_WARNING, f, sizeof f / sizeof f[0],
		    "STARTTLS=client, relay=%s, error: %s", smtp_relay(c), why);
	}
}

static void smtp_put(struct smtp_conn *c, const char *cmd);
static int smtp_write(struct smtp_conn *c);
static int smtp_poll_timeout(const struct smtp_conn *c);

/* A session given up while the dialogue is still in step: QUIT goes
 * out (not waited for), as sendmail's smtpquit after a refusal of its
 * tls_server ruleset or a temporary AUTH failure. */
static void
smtp_say_quit(struct smtp_conn *c)
{
	smtp_put(c, "QUIT");
	(void)smtp_write(c);
}

/*
 * The session ends because STARTTLS or AUTH cannot be had as the
 * configuration wants them: a tempfail (the message is not at fault),
 * of kind k, why in smtp_error; the phase is STARTTLS's or AUTH's.
 */
static enum smtp_event smtp_refuse(struct smtp_conn *c, enum smtp_setup_kind k,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum smtp_event
smtp_refuse(struct smtp_conn *c, enum smtp_setup_kind k, const char *fmt, ...)
{
	char why[sizeof c->err];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	c->kind = k;
	c->expect = k == SMTP_SETUP_AUTH ? X_AUTH : X_STARTTLS;
	if (c->state == ST_HANDSHAKE)
		c->state = ST_SETUP;
	return smtp_die(c, SMTP_TEMPFAIL, "%s", why);
}

static enum smtp_event
smtp_timed_out(struct smtp_conn *c)
{
	if (c->state == ST_CONNECTING)
		return smtp_die_why(c, SMTP_TEMPFAIL, true, "Connection timed out with [%s]", c->ip);
	if (c->state == ST_HANDSHAKE) {
		/* A relay that took STARTTLS and then said nothing. */
		if (c->cut)
			smtp_log_tls_error(c, "TLS handshake failed: no progress before the "
			    "session's end (%d ms after it began)", c->t.total_ms);
		else
			smtp_log_tls_error(c, "TLS handshake failed: no progress in %d s "
			    "(Timeout.starttls)", c->t.starttls);
		return smtp_refuse(c, SMTP_SETUP_TLS, "%s", SMTP_TLS_FAILED);
	}
	return smtp_die_why(c, SMTP_IOERR, true, "timeout waiting for input from [%s] during %s",
	    c->ip, smtp_phase_str(smtp_expect_phase(c)));
}

/* Queue a command line. */
static void
smtp_put(struct smtp_conn *c, const char *cmd)
{
	strbuf_addstr(&c->wbuf, cmd);
	strbuf_addstr(&c->wbuf, "\r\n");
}

/* One write, through TLS once it is up: octets written, 0 when the
 * socket takes nothing now, -1 broken (io_err says why). */
static ssize_t
smtp_send(struct smtp_conn *c, const char *buf, size_t len)
{
	if (c->tls_up) {
		size_t n;

		switch (tls_write(c->tls, buf, len, &n, &c->io_err)) {
		case TLS_OK:
			return (ssize_t)n;
		case TLS_WANT_READ:	/* POLLIN is always asked for */
		case TLS_WANT_WRITE:
			return 0;
		case TLS_EOF:
		case TLS_FAILED:
			break;
		}
		return -1;
	}
	for (;;) {
		ssize_t w = send(c->fd, buf, len, MSG_NOSIGNAL);

		if (w >= 0)
			return w;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		error_set(&c->io_err, errno, "%s", strerror(errno));
		return -1;
	}
}

/* One read into rbuf, through TLS once it is up: octets, 0 at the end,
 * -1 nothing now, -2 broken (io_err says why). */
static ssize_t
smtp_recv(struct smtp_conn *c)
{
	size_t room = SMTP_LINE_MAX - c->rlen;

	if (c->tls_up) {
		size_t n;

		switch (tls_read(c->tls, c->rbuf + c->rlen, room, &n, &c->io_err)) {
		case TLS_OK:
			c->tls_want = 0;
			return (ssize_t)n;
		case TLS_WANT_READ:
			c->tls_want = 0;
			return -1;
		case TLS_WANT_WRITE:
			c->tls_want = POLLOUT;
			return -1;
		case TLS_EOF:
			return 0;
		case TLS_FAILED:
			break;
		}
		return -2;
	}
	for (;;) {
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, room, 0);

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -1;
		error_set(&c->io_err, errno, "%s", strerror(errno));
		return -2;
	}
}

/* Write what is queued: 1 all written, 0 some left (the socket is full),
 * -1 broken (io_err). */
static int
smtp_write(struct smtp_conn *c)
{
	while (c->woff < c->wbuf.len) {
		ssize_t w = smtp_send(c, c->wbuf.buf + c->woff, c->wbuf.len - c->woff);

		if (w > 0) {
			c->woff += (size_t)w;
			/* In the body, progress restarts the clock: the
			 * timeout is per block, as Timeout.datablock. */
			if (c->state == ST_BODY)
				smtp_arm(c, c->t.datablock);
			continue;
		}
		return w == 0 ? 0 : -1;
	}
	strbuf_reset(&c->wbuf);
	c->woff = 0;
	return 1;
}

/* The transaction ends here with the status it has. */
static enum smtp_event
smtp_txn_end(struct smtp_conn *c)
{
	c->txn = NULL;
	c->state = ST_IDLE;
	c->deadline = -1;
	c->rset_due = true;
	/* A reply nobody asked for is a relay out of step: do not reuse. */
	if (c->no_reuse) {
		c->state = ST_DEAD;
	} else if (c->rlen > 0) {
		snprintf(c->err, sizeof c->err, "[%s] sent more than was asked for", c->ip);
		c->state = ST_DEAD;
	}
	return SMTP_EV_TXN_DONE;
}

/* Decide the transaction's status from a refusal (RSET, MAIL, DATA). */
static void
smtp_decide(struct smtp_conn *c, enum smtp_phase p, const struct smtp_reply *r,
    enum smtp_status st)
{
	c->txn->phase = p;
	c->txn->status = st;
	c->txn->reply = *r;
	c->txn_decided = true;
}

static enum smtp_event smtp_body_pump(struct smtp_conn *c);

/* EHLO, or HELO (x: X_EHLO, X_HELO), the extensions of any earlier one
 * forgotten: the reply says them anew (HELO's: none). */
static void
smtp_hello(struct smtp_conn *c, enum smtp_expect x)
{
	char cmd[300];

	c->ext = 0;
	c->size_limit = 0;
	c->auth_offered[0] = '\0';
	snprintf(cmd, sizeof cmd, "%s %s", x == X_HELO ? "HELO" : "EHLO", c->helo_name);
	smtp_put(c, cmd);
	smtp_await(c, x);
}

static enum smtp_event smtp_auth_begin(struct smtp_conn *c);

/*
 * EHLO (or HELO) is answered: STARTTLS next if the policy wants it and
 * the relay offers it (sendmail's MSP: whenever it is offered), else AUTH
 * if configured and offered, else the session is ready.
 */
static enum smtp_event
smtp_hello_done(struct smtp_conn *c)
{
	enum tls_policy pol = tls_client_policy(c->sec.tls);

	if (c->tls == NULL && pol != TLS_POLICY_NONE && !c->tls_declined) {
		if (c->ext & SMTP_EXT_STARTTLS) {
			smtp_put(c, "STARTTLS");
			smtp_await(c, X_STARTTLS);
			return SMTP_EV_NONE;
		}
		if (pol != TLS_POLICY_MAY) {
			smtp_say_quit(c);
			return smtp_refuse(c, SMTP_SETUP_TLS,
			    "TLS required (tls.policy = %s), but %s does not offer STARTTLS",
			    tls_policy_str(pol), smtp_relay(c));
		}
	}
	/* A relay that does not offer AUTH does not ask for it: on
	 * without, as sendmail and Postfix go. */
	if (c->sec.auth != NULL && !c->auth_done && (c->ext & SMTP_EXT_AUTH))
		return smtp_auth_begin(c);
	c->state = ST_IDLE;
	c->deadline = -1;
	return SMTP_EV_READY;
}

/* sendmail's line for a session that went over to TLS. */
static void
smtp_log_tls(struct smtp_conn *c)
{
	struct tls_info in;
	char bits[32];

	tls_session_info(c->tls, &in);
	snprintf(bits, sizeof bits, "%d/%d", in.alg_bits, in.bits);
	{
		const struct log_field f[] = {
			{ "MESSAGE_ID", LOG_MID_STARTTLS },
			{ "RELAY", smtp_relay(c) },
			{ "TLS_VERSION", in.version },
			{ "TLS_CIPHER", in.cipher },
			{ "TLS_BITS", bits },
			{ "TLS_VERIFY", in.verify },
			{ "TLS_VERIFY_ERROR", in.verify_why[0] ? in.verify_why : NULL },
			{ "TLS_PEER", in.subject[0] ? in.subject : NULL },
			{ "TLS_PEER_SHA256", in.fingerprint[0] ? in.fingerprint : NULL },
			{ "TLS_POLICY", tls_policy_str(tls_client_policy(c->sec.tls)) },
		};

		log_fields(LOG_LVL_INFO, f, sizeof f / sizeof f[0],
		    "STARTTLS=client, relay=%s, version=%s, verify=%s, cipher=%s, bits=%s",
		    smtp_relay(c), in.version, in.verify, in.cipher, bits);
	}
}

/* Drive the handshake as far as the socket lets it. */
static enum smtp_event
smtp_handshake(struct smtp_conn *c)
{
	struct error why;

	switch (tls_handshake(c->tls, &why)) {
	case TLS_OK:
		break;
	case TLS_WANT_READ:
		c->tls_want = POLLIN;
		return SMTP_EV_NONE;
	case TLS_WANT_WRITE:
		c->tls_want = POLLOUT;
		return SMTP_EV_NONE;
	case TLS_EOF:
	case TLS_FAILED:
	default:
		if (tls_policy_refused(c->tls))
			return smtp_refuse(c, SMTP_SETUP_TLS, "%s", why.reason);
		smtp_log_tls_error(c, "TLS handshake failed: %s", why.reason);
		return smtp_refuse(c, SMTP_SETUP_TLS, "%s", SMTP_TLS_FAILED);
	}
	c->tls_up = true;
	c->tls_want = 0;
	c->state = ST_SETUP;
	smtp_log_tls(c);
	/* RFC 3207 section 4.2: nothing the relay said in clear holds;
	 * EHLO again. */
	smtp_hello(c, X_EHLO);
	if (smtp_write(c) < 0)
		return smtp_die(c, SMTP_IOERR, "connection with [%s] lost during client EHLO: %s",
		    c->ip, c->io_err.reason);
	return SMTP_EV_NONE;
}

/* The reply to STARTTLS. */
static enum smtp_event
smtp_starttls_reply(struct smtp_conn *c, const struct smtp_reply *r, enum smtp_status st)
{
	enum tls_policy pol = tls_client_policy(c->sec.tls);
	struct error why;

	if (r->code == 220) {
		/* Whatever came with the 220 came in clear, and would be
		 * taken for what the relay says over TLS (a man in the
		 * middle's STARTTLS response injection): refused. */
		if (c->rlen > 0) {
			smtp_log_tls_error(c, "%s sent more after its 220 to STARTTLS", smtp_relay(c));
			return smtp_refuse(c, SMTP_SETUP_TLS, "%s", SMTP_STARTTLS_FAILED);
		}
		c->tls = tls_session_new(c->sec.tls, c->fd,
		    c->sec.tls_name != NULL ? c->sec.tls_name : c->ip, &why);
		if (c->tls == NULL) {
			smtp_log_tls_error(c, "%s", why.reason);
			return smtp_refuse(c, SMTP_SETUP_TLS, "%s", SMTP_TLS_FAILED);
		}
		c->state = ST_HANDSHAKE;
		smtp_arm(c, c->t.starttls);
		return smtp_handshake(c);
	}
	if (st == SMTP_TEMPFAIL || st == SMTP_PERMFAIL) {
		/* sendmail: 4xx "TEMP", 5xx "NONE", neither refused by
		 * its tls_server ruleset: on in clear, on this connection. */
		if (pol == TLS_POLICY_MAY) {
			c->tls_declined = true;
			return smtp_hello_done(c);
		}
		c->setup_reply = *r;
		smtp_say_quit(c);
		return smtp_refuse(c, SMTP_SETUP_TLS,
		    "TLS required (tls.policy = %s), but %s refused STARTTLS: %s",
		    tls_policy_str(pol), smtp_relay(c), r->full);
	}
	smtp_log_tls_error(c, "%s answered STARTTLS with \"%s\"", smtp_relay(c), r->full);
	smtp_say_quit(c);
	return smtp_refuse(c, SMTP_SETUP_TLS, "%s", SMTP_STARTTLS_FAILED);
}

/* AUTH: the mechanism, and the first line. */
static enum smtp_event
smtp_auth_begin(struct smtp_conn *c)
{
	const struct auth_client *a = c->sec.auth;

	if (!c->tls_up && !auth_client_cleartext(a)) {
		smtp_say_quit(c);
		return smtp_refuse(c, SMTP_SETUP_AUTH,
		    "AUTH not sent: the connection to %s is not encrypted (auth.cleartext = no)",
		    smtp_relay(c));
	}
	c->auth_mech = auth_choose(a, c->auth_offered, c->tls_up && tls_client_has_cert(c->sec.tls));
	if (c->auth_mech == AUTH_MECH_NONE) {
		smtp_say_quit(c);
		return smtp_refuse(c, SMTP_SETUP_AUTH,
		    "no AUTH mechanism in common with %s (it offers %s; auth.mechanisms = %s)",
		    smtp_relay(c), c->auth_offered[0] ? c->auth_offered : "none",
		    auth_client_mechs(a));
	}
	c->auth_step = 0;
	/* The line holds the secret: into the write buffer only. */
	auth_start(a, c->auth_mech, &c->wbuf);
	strbuf_addstr(&c->wbuf, "\r\n");
	smtp_await(c, X_AUTH);
	return SMTP_EV_NONE;
}

/* Each reply of the AUTH exchange. */
static enum smtp_event
smtp_auth_reply(struct smtp_conn *c, const struct smtp_reply *r)
{
	const char *mech = auth_mech_str(c->auth_mech);

	if (r->code == 235) {
		const struct log_field f[] = {
			{ "MESSAGE_ID", LOG_MID_AUTH },
			{ "RELAY", smtp_relay(c) },
			{ "AUTH_MECH", mech },
		};

		c->auth_done = true;
		/* sendmail's line; bits: no SASL security layer. */
		log_fields(LOG_LVL_INFO, f, 3, "AUTH=client, relay=%s, mech=%s, bits=0",
		    smtp_relay(c), mech);
		return smtp_hello_done(c);
	}
	if (r->code == 334) {
		if (!auth_step(c->sec.auth, c->auth_mech, ++c->auth_step, r->text, &c->wbuf)) {
			/* Out of step: cancel (RFC 4954 section 4), then
			 * give up on the session. */
			smtp_put(c, "*");
			smtp_say_quit(c);
			return smtp_refuse(c, SMTP_SETUP_AUTH,
			    "AUTH %s with %s: challenge %d was not expected", mech, smtp_relay(c),
			    c->auth_step);
		}
		strbuf_addstr(&c->wbuf, "\r\n");
		smtp_await(c, X_AUTH);
		return SMTP_EV_NONE;
	}
	{
		const struct log_field f[] = {
			{ "MESSAGE_ID", LOG_MID_AUTH_FAILED },
			{ "RELAY", smtp_relay(c) },
			{ "AUTH_MECH", mech },
			{ "REPLY", r->full },
		};

		log_fields(LOG_LVL_WARNING, f, 4,
		    "AUTH=client, relay=%s, mech=%s, error: authentication failed: %s",
		    smtp_relay(c), mech, r->full);
	}
	c->setup_reply = *r;
	c->kind = SMTP_SETUP_AUTH;
	smtp_say_quit(c);
	/* Never a bounce: the credentials are this site's, not the
	 * message's fault. */
	return smtp_die(c, SMTP_TEMPFAIL, "%s", r->full);
}

/* Without PIPELINING: the next command after a reply, or the end. */
static enum smtp_event
smtp_next_command(struct smtp_conn *c)
{
	struct smtp_txn *t = c->txn;

	switch (c->expect) {
	case X_RSET:
		smtp_put(c, t->mail_cmd);
		smtp_await(c, X_MAIL);
		break;
	case X_MAIL:
		c->ri = 0;
		smtp_put(c, t->rcpt_cmds[0]);
		smtp_await(c, X_RCPT);
		break;
	case X_RCPT:
		if (++c->ri < t->nrcpt) {
			smtp_put(c, t->rcpt_cmds[c->ri]);
			smtp_await(c, X_RCPT);
			break;
		}
		if (t->no_data) {
			smtp_put(c, "RSET");
			smtp_await(c, X_RSET_VERIFY);
			break;
		}
		/* sendmail sends DATA only when someone was accepted. */
		if (t->accepted == 0) {
			t->phase = SMTP_PHASE_RCPT;
			return smtp_txn_end(c);
		}
		smtp_put(c, "DATA");
		smtp_await(c, X_DATA);
		break;
	default:
		break;
	}
	return SMTP_EV_NONE;
}

/* A whole reply has arrived for c->expect. */
static enum smtp_event
smtp_dispatch(struct smtp_conn *c, const struct smtp_reply *r)
{
	struct smtp_txn *t = c->txn;
	enum smtp_status st = smtp_reply_status(r);

	switch (c->expect) {
	case X_GREETING:
		c->greeting = *r;
		if (r->code != 220) {
			c->setup_reply = *r;
			return smtp_die(c, st == SMTP_OK ? SMTP_TEMPFAIL : st, "%s", r->full);
		}
		smtp_hello(c, X_EHLO);
		return SMTP_EV_NONE;
	case X_EHLO:
		if (st == SMTP_PERMFAIL) {
			/* sendmail falls back to HELO when EHLO is refused. */
			smtp_hello(c, X_HELO);
			return SMTP_EV_NONE;
		}
		/* FALLTHROUGH */
	case X_HELO:
		if (st != SMTP_OK) {
			c->setup_reply = *r;
			return smtp_die(c, st, "%s", r->full);
		}
		return smtp_hello_done(c);
	case X_STARTTLS:
		return smtp_starttls_reply(c, r, st);
	case X_AUTH:
		return smtp_auth_reply(c, r);
	case X_RSET:
		if (st != SMTP_OK) {
			/* A relay that cannot reset is not reused. */
			smtp_decide(c, SMTP_PHASE_RSET, r, st);
			c->no_reuse = true;
			if (!c->pipelining)
				return smtp_die(c, SMTP_TEMPFAIL, "%s", r->full);
		}
		if (c->pipelining) {
			smtp_await(c, X_MAIL);
			return SMTP_EV_NONE;
		}
		return smtp_next_command(c);
	case X_MAIL:
		if (st != SMTP_OK && !c->txn_decided)
			smtp_decide(c, SMTP_PHASE_MAIL, r, st);
		if (c->pipelining) {
			c->ri = 0;
			smtp_await(c, X_RCPT);
			return SMTP_EV_NONE;
		}
		if (c->txn_decided)
			return smtp_txn_end(c);
		return smtp_next_command(c);
	case X_RCPT:
		/* After a refused MAIL the RCPT replies (503) say nothing
		 * about the recipients: they keep the MAIL reply. */
		if (!c->txn_decided) {
			t->rcpt[c->ri].reply = *r;
			t->rcpt[c->ri].status = st;
			if (st == SMTP_OK)
				t->accepted++;
		}
		if (c->pipelining) {
			if (++c->ri < t->nrcpt)
				smtp_await(c, X_RCPT);
			else
				smtp_await(c, t->no_data ? X_RSET_VERIFY : X_DATA);
			return SMTP_EV_NONE;
		}
		return smtp_next_command(c);
	case X_DATA:
		if (c->txn_decided || t->accepted == 0) {
			if (!c->txn_decided) {
				t->phase = SMTP_PHASE_RCPT;
				t->data_reply = *r;
			}
			if (r->code == 354) {
				/* The relay took DATA without a recipient:
				 * end the empty message, as RFC 2920 says. */
				smtp_put(c, ".");
				smtp_await(c, X_DOT_DISCARD);
				return SMTP_EV_NONE;
			}
			return smtp_txn_end(c);
		}
		if (r->code != 354) {
			smtp_decide(c, SMTP_PHASE_DATA, r, st == SMTP_OK ? SMTP_TEMPFAIL : st);
			return smtp_txn_end(c);
		}
		c->state = ST_BODY;
		smtp_arm(c, c->t.datablock);
		/* What was pulled ahead goes first. */
		if (c->pbuf.len > 0) {
			strbuf_append(&c->wbuf, c->pbuf.buf, c->pbuf.len);
			strbuf_reset(&c->pbuf);
		}
		return smtp_body_pump(c);
	case X_DOT:
		t->phase = SMTP_PHASE_DOT;
		t->status = st;
		t->reply = *r;
		return smtp_txn_end(c);
	case X_DOT_DISCARD:
		return smtp_txn_end(c);
	case X_RSET_VERIFY:
		/* The recipients' replies are the result; a relay that
		 * cannot reset is not reused. */
		if (!c->txn_decided)
			t->phase = SMTP_PHASE_RCPT;
		if (st != SMTP_OK)
			c->no_reuse = true;
		(void)smtp_txn_end(c);
		c->rset_due = st != SMTP_OK;
		return SMTP_EV_TXN_DONE;
	case X_QUIT:
		c->state = ST_CLOSED;
		c->deadline = -1;
		return SMTP_EV_CLOSED;
	}
	return SMTP_EV_NONE;
}

/* An EHLO reply line names an extension (the first names the server, and
 * matches none). */
static void
smtp_ehlo_line(struct smtp_conn *c, const char *line)
{
	static const struct {
		const char *kw;
		unsigned bit;
	} kws[] = {
		{ "PIPELINING", SMTP_EXT_PIPELINING }, { "SIZE", SMTP_EXT_SIZE },
		{ "8BITMIME", SMTP_EXT_8BITMIME }, { "DSN", SMTP_EXT_DSN },
		{ "SMTPUTF8", SMTP_EXT_SMTPUTF8 },
		{ "ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCED },
		{ "AUTH", SMTP_EXT_AUTH }, { "DELIVERBY", SMTP_EXT_DELIVERBY },
		{ "STARTTLS", SMTP_EXT_STARTTLS },
	};
	const char *kw = line + 4;
	size_t i, n;

	if (strlen(line) < 4)
		return;
	n = strcspn(kw, " =");
	for (i = 0; i < sizeof kws / sizeof kws[0]; i++)
		if (strlen(kws[i].kw) == n && strncasecmp(kw, kws[i].kw, n) == 0) {
			c->ext |= kws[i].bit;
			if (kws[i].bit == SMTP_EXT_SIZE && kw[n] != '\0')
				c->size_limit = strtoll(kw + n + 1, NULL, 10);
			/* "AUTH PLAIN LOGIN" (and the old "AUTH=PLAIN"):
			 * the mechanisms, for auth_choose. */
			if (kws[i].bit == SMTP_EXT_AUTH && kw[n] != '\0') {
				size_t used = strlen(c->auth_offered);

				snprintf(c->auth_offered + used, sizeof c->auth_offered - used,
				    "%s%s", used ? " " : "", kw + n + 1);
			}
		}
}

/* Take the complete lines out of rbuf; dispatch each complete reply.
 * Stops at the first event. */
static enum smtp_event
smtp_parse_input(struct smtp_conn *c)
{
	char line[SMTP_LINE_MAX + 1];

	for (;;) {
		char *nl = memchr(c->rbuf, '\n', c->rlen);
		struct smtp_reply r;
		enum smtp_event ev;
		size_t len;
		bool last;

		if (nl == NULL) {
			if (c->rlen >= SMTP_LINE_MAX)
				return smtp_die(c, SMTP_IOERR,
				    "[%s] sent a reply line over %d octets", c->ip, SMTP_LINE_MAX);
			return SMTP_EV_NONE;
		}
		len = (size_t)(nl - c->rbuf);
		memcpy(line, c->rbuf, len);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		line[len] = '\0';
		c->rlen -= (size_t)(nl - c->rbuf) + 1;
		memmove(c->rbuf, nl + 1, c->rlen);
		if (c->state == ST_BODY)
			return smtp_die(c, SMTP_IOERR, "[%s] replied before the end of DATA: %.200s",
			    c->ip, line);
		if (c->state != ST_SETUP && c->state != ST_TXN && c->state != ST_QUITTING)
			return smtp_die(c, SMTP_IOERR, "[%s] said \"%.200s\" unasked", c->ip, line);
		memset(&r, 0, sizeof r);
		if (!smtp_parse_reply_line(line, &last, &r) ||
		    (c->cur_lines > 0 && r.code != c->cur.code) ||
		    c->cur_lines >= SMTP_REPLY_LINES)
			return smtp_die(c, SMTP_IOERR, "[%s] sent a malformed reply: %.200s",
			    c->ip, line);
		c->cur = r;
		c->cur_lines++;
		if (c->expect == X_EHLO && c->cur_lines > 1)
			smtp_ehlo_line(c, line);
		if (!last)
			continue;
		c->cur_lines = 0;
		r = c->cur;
		/* sendmail reads a reply's enhanced status code only from
		 * a relay that offered ENHANCEDSTATUSCODES (its reply()):
		 * from any other, "552 5.3.4 ..." is a 552 and its status
		 * the reply code's (5.2.2). */
		if (!(c->ext & SMTP_EXT_ENHANCED) && r.enhanced[0] != '\0') {
			r.enhanced[0] = '\0';
			snprintf(r.text, sizeof r.text, "%.*s", (int)sizeof r.text - 1,
			    r.full[3] != '\0' ? r.full + 4 : "");
		}
		ev = smtp_dispatch(c, &r);
		if (ev != SMTP_EV_NONE)
			return ev;
		/* A reply in a pipelined group restarts the clock for the
		 * next; what was queued goes out now. */
		if (c->wbuf.len > c->woff && smtp_write(c) < 0)
			return smtp_die(c, SMTP_IOERR, "connection with [%s] lost during %s: %s",
			    c->ip, smtp_phase_str(smtp_expect_phase(c)), c->io_err.reason);
	}
}

/* One call of the body callback. */
static void
smtp_pull(struct smtp_conn *c, struct strbuf *out)
{
	enum smtp_body b = c->txn->body(c->txn->body_arg, out);

	if (b == SMTP_BODY_ERROR)
		c->body_failed = true;
	else if (b == SMTP_BODY_END)
		c->body_ended = true;
}

/* Pull body bytes while the socket takes them; at the end the ".". */
static enum smtp_event
smtp_body_pump(struct smtp_conn *c)
{
	for (;;) {
		int w;

		/* Keep the buffer from creeping forward over partial
		 * writes: what is unwritten moves to the front. */
		if (c->woff > 0) {
			strbuf_consume(&c->wbuf, c->woff);
			c->woff = 0;
		}
		while (!c->body_ended && !c->body_failed &&
		    c->wbuf.len - c->woff < SMTP_WBUF_FLUSH)
			smtp_pull(c, &c->wbuf);
		if (c->body_failed)
			return smtp_die(c, SMTP_IOERR,
			    "the message could not be read; connection with [%s] dropped before the end of DATA",
			    c->ip);
		if (c->body_ended && !c->dot_queued) {
			smtp_put(c, ".");
			c->dot_queued = true;
		}
		w = smtp_write(c);
		if (w < 0)
			return smtp_die(c, SMTP_IOERR, "connection with [%s] lost during client DATA: %s",
			    c->ip, c->io_err.reason);
		if (w == 0)
			return SMTP_EV_NONE;	/* wait for POLLOUT */
		if (c->dot_queued) {
			c->state = ST_TXN;
			smtp_await(c, X_DOT);
			return SMTP_EV_NONE;
		}
	}
}

enum smtp_event
smtp_io(struct smtp_conn *c, short revents)
{
	enum smtp_event ev;

	if (c->pending != SMTP_EV_NONE) {
		ev = c->pending;
		c->pending = SMTP_EV_NONE;
		c->deadline = -1;
		if (ev == SMTP_EV_TXN_DONE) {
			c->txn = NULL;
			if (c->state == ST_TXN)
				c->state = ST_IDLE;
		}
		return ev;
	}
	if (c->state == ST_DEAD || c->state == ST_CLOSED)
		return SMTP_EV_NONE;
	if (c->state == ST_CONNECTING) {
		int soerr = 0;
		socklen_t elen = sizeof soerr;

		if (!(revents & (POLLOUT | POLLERR | POLLHUP))) {
			if (c->deadline >= 0 && monotime_ms() >= c->deadline)
				return smtp_timed_out(c);
			return SMTP_EV_NONE;
		}
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0)
			soerr = errno;
		if (soerr != 0) {
			/* sendmail's wording: "Connection refused by [ip]" */
			if (soerr == ECONNREFUSED)
				return smtp_die(c, SMTP_TEMPFAIL, "Connection refused by [%s]", c->ip);
			return smtp_die(c, SMTP_TEMPFAIL, "%s with [%s]", strerror(soerr), c->ip);
		}
		c->state = ST_SETUP;
		smtp_await(c, X_GREETING);
		return SMTP_EV_NONE;
	}
	if (c->state == ST_HANDSHAKE) {
		if (revents != 0 && (ev = smtp_handshake(c)) != SMTP_EV_NONE)
			return ev;
		if (c->state == ST_HANDSHAKE && c->deadline >= 0 &&
		    monotime_ms() >= c->deadline)
			return smtp_timed_out(c);
		return SMTP_EV_NONE;
	}
	/* Over TLS a write may wait for a read, and a read for a write:
	 * either readiness retries both. */
	if (c->wbuf.len > c->woff && ((revents & (POLLOUT | POLLERR | POLLHUP)) ||
	    (c->tls_up && (revents & POLLIN)))) {
		if (c->state == ST_BODY) {
			if ((ev = smtp_body_pump(c)) != SMTP_EV_NONE)
				return ev;
		} else if (smtp_write(c) < 0) {
			return smtp_die(c, SMTP_IOERR, "connection with [%s] lost during %s: %s",
			    c->ip, smtp_phase_str(smtp_expect_phase(c)), c->io_err.reason);
		}
	}
	/* TLS may hold decrypted octets that no poll announces (a reply
	 * longer than rbuf, or read ahead of an event): read them too. */
	if ((revents & (POLLIN | POLLERR | POLLHUP)) ||
	    (c->tls_up && (revents != 0 || tls_pending(c->tls)))) {
		for (;;) {
			ssize_t n = smtp_recv(c);

			if (n > 0) {
				c->rlen += (size_t)n;
				if ((ev = smtp_parse_input(c)) != SMTP_EV_NONE)
					return ev;
				if (c->state == ST_DEAD)
					return SMTP_EV_NONE;
				/* STARTTLS's 220: the socket is OpenSSL's. */
				if (c->state == ST_HANDSHAKE)
					return SMTP_EV_NONE;
				continue;
			}
			if (n == -1)
				break;
			if (n == 0 && c->state == ST_IDLE)
				return smtp_die(c, SMTP_TEMPFAIL, "[%s] closed the connection", c->ip);
			return smtp_die(c, SMTP_IOERR, "connection with [%s] lost during %s%s%s",
			    c->ip, smtp_phase_str(smtp_expect_phase(c)),
			    n < 0 ? ": " : "", n < 0 ? c->io_err.reason : "");
		}
	}
	if (c->deadline >= 0 && monotime_ms() >= c->deadline)
		return smtp_timed_out(c);
	return SMTP_EV_NONE;
}

enum smtp_event
smtp_wait(struct smtp_conn *c)
{
	return smtp_wait_with(c, NULL, NULL);
}

enum smtp_event
smtp_wait_with(struct smtp_conn *c, void (*before_poll)(void *arg,
    const struct smtp_conn *c), void *arg)
{
	for (;;) {
		struct pollfd p = { c->fd, 0, 0 };
		enum smtp_event ev;
		int r;

		if (before_poll != NULL)
			before_poll(arg, c);
		p.events = smtp_poll_events(c);
		if (c->pending != SMTP_EV_NONE)
			return smtp_io(c, 0);
		if (c->state == ST_DEAD)
			return SMTP_EV_FAILED;
		if (c->state == ST_CLOSED)
			return SMTP_EV_CLOSED;
		r = poll(&p, 1, smtp_poll_timeout(c));
		if (r < 0 && errno != EINTR)
			return smtp_die(c, SMTP_IOERR, "poll: %s", strerror(errno));
		ev = smtp_io(c, r > 0 ? p.revents : 0);
		if (ev != SMTP_EV_NONE)
			return ev;
	}
}

struct smtp_conn *
smtp_open(const char *ip, int port, const char *helo_name,
    const struct smtp_timeouts *t, struct error *err)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct smtp_conn *c;
	int one = 1, fd;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((unsigned short)port);
		sslen = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((unsigned short)port);
		sslen = sizeof(struct sockaddr_in6);
	} else {
		error_set(err, 0, "relay address '%s' is not numeric", ip);
		return NULL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		error_set(err, errno, "socket: %s", strerror(errno));
		return NULL;
	}
	/* The final dot and each pipelined group go out at once. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->t = *t;
	c->deadline = -1;
	c->end = t->total_ms > 0 ? monotime_ms() + t->total_ms : -1;
	snprintf(c->helo_name, sizeof c->helo_name, "%s", helo_name);
	snprintf(c->ip, sizeof c->ip, "%s", ip);
	snprintf(c->ip_br, sizeof c->ip_br, "[%s]", ip);
	c->state = ST_CONNECTING;
	smtp_arm(c, t->connect);
	if (connect(fd, (struct sockaddr *)&ss, sslen) == 0) {
		/* Loopback may connect at once. */
		c->state = ST_SETUP;
		smtp_await(c, X_GREETING);
	} else if (errno != EINPROGRESS) {
		int e = errno;

		if (e == ECONNREFUSED)
			(void)smtp_die(c, SMTP_TEMPFAIL, "Connection refused by [%s]", ip);
		else
			(void)smtp_die(c, SMTP_TEMPFAIL, "%s with [%s]", strerror(e), ip);
		/* Reported by the first smtp_io(), as any other failure. */
		smtp_report_later(c, SMTP_EV_FAILED);
	}
	return c;
}

void
smtp_secure(struct smtp_conn *c, const struct smtp_security *s)
{
	c->sec = *s;
}

enum smtp_setup_kind
smtp_setup_kind(const struct smtp_conn *c)
{
	return c->kind;
}

const char *
smtp_setup_kind_str(enum smtp_setup_kind k)
{
	switch (k) {
	case SMTP_SETUP_TLS:
		return "without TLS as tls.policy wants it";
	case SMTP_SETUP_AUTH:
		return "without AUTH";
	case SMTP_SETUP_CONNECTION:
		break;
	}
	return "unreachable";
}

bool
smtp_tls_active(const struct smtp_conn *c)
{
	return c->tls_up;
}

const char *
smtp_tls_error(const struct smtp_conn *c)
{
	return c->tls_err.reason;
}

bool
smtp_tls_info(const struct smtp_conn *c, struct tls_info *info)
{
	if (!c->tls_up)
		return false;
	tls_session_info(c->tls, info);
	return true;
}

const char *
smtp_authenticated(const struct smtp_conn *c)
{
	return c->auth_done ? auth_mech_str(c->auth_mech) : NULL;
}

const struct smtp_reply *
smtp_greeting(const struct smtp_conn *c)
{
	return &c->greeting;
}

int
smtp_fd(const struct smtp_conn *c)
{
	return c->fd;
}

short
smtp_poll_events(const struct smtp_conn *c)
{
	short ev = 0;

	switch (c->state) {
	case ST_CONNECTING:
		return POLLOUT;
	case ST_DEAD:
	case ST_CLOSED:
		return 0;
	case ST_HANDSHAKE:
		return c->tls_want != 0 ? c->tls_want : POLLIN;
	default:
		/* Idle too: a relay that closes or says 421 is noticed. */
		ev = POLLIN;
		break;
	}
	if (c->wbuf.len > c->woff || c->tls_want == POLLOUT)
		ev |= POLLOUT;
	return ev;
}

long long
smtp_deadline(const struct smtp_conn *c)
{
	/* Decrypted octets waiting: due now (see smtp_io). */
	if (c->tls_up && c->state != ST_DEAD && c->state != ST_CLOSED && tls_pending(c->tls))
		return monotime_ms();
	return c->deadline;
}

/* The deadline as a poll() timeout: milliseconds from now (at most a
 * minute), -1 for none. */
static int
smtp_poll_timeout(const struct smtp_conn *c)
{
	long long left, dl = smtp_deadline(c);

	if (dl < 0)
		return -1;
	left = dl - monotime_ms();
	return left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

bool
smtp_submit(struct smtp_conn *c, struct smtp_txn *t)
{
	size_t i;

	if (c->state != ST_IDLE || t->nrcpt == 0)
		return false;
	c->txn = t;
	c->txn_decided = false;
	t->status = SMTP_OK;
	t->phase = SMTP_PHASE_MAIL;
	t->accepted = 0;
	memset(&t->reply, 0, sizeof t->reply);
	memset(&t->data_reply, 0, sizeof t->data_reply);
	for (i = 0; i < t->nrcpt; i++)
		memset(&t->rcpt[i], 0, sizeof t->rcpt[i]);
	if (c->size_limit > 0 && t->size > c->size_limit) {
		/* Not worth the relay's time: refused here, reported by the
		 * next smtp_io() as any other end. */
		char line[128];
		bool last;

		t->status = SMTP_PERMFAIL;
		snprintf(line, sizeof line, "552 5.2.3 Message is too large; %lld bytes max",
		    c->size_limit);
		(void)smtp_parse_reply_line(line, &last, &t->reply);
		c->txn = t;
		c->state = ST_TXN;
		smtp_report_later(c, SMTP_EV_TXN_DONE);
		return true;
	}
	c->state = ST_TXN;
	c->pipelining = (c->ext & SMTP_EXT_PIPELINING) != 0;
	if (c->rset_due)
		smtp_put(c, "RSET");
	if (c->pipelining) {
		smtp_put(c, t->mail_cmd);
		for (i = 0; i < t->nrcpt; i++)
			smtp_put(c, t->rcpt_cmds[i]);
		smtp_put(c, t->no_data ? "RSET" : "DATA");
	} else if (!c->rset_due) {
		smtp_put(c, t->mail_cmd);
	}
	smtp_await(c, c->rset_due ? X_RSET : X_MAIL);
	c->rset_due = false;
	c->body_ended = c->body_failed = c->dot_queued = false;
	strbuf_reset(&c->pbuf);
	/* Out at once: the reply is what we wait for, not POLLOUT. */
	if (smtp_write(c) < 0) {
		/* The transaction has ended; the next smtp_io() says so. */
		(void)smtp_die(c, SMTP_IOERR, "connection with [%s] lost: %s", c->ip,
		    c->io_err.reason);
		smtp_report_later(c, SMTP_EV_TXN_DONE);
		return true;
	}
	/* While the group is on its way, render the start of the message,
	 * so that it can follow the 354 at once.  Thrown away if the
	 * relay refuses. */
	if (c->pipelining && !t->no_data)
		while (!c->body_ended && !c->body_failed && c->pbuf.len < SMTP_WBUF_FLUSH)
			smtp_pull(c, &c->pbuf);
	return true;
}

void
smtp_quit(struct smtp_conn *c)
{
	if (c->state != ST_IDLE) {
		c->state = ST_CLOSED;
		c->deadline = -1;
		return;
	}
	c->state = ST_QUITTING;
	smtp_put(c, "QUIT");
	smtp_await(c, X_QUIT);
	if (smtp_write(c) < 0) {
		c->state = ST_CLOSED;
		c->deadline = -1;
	}
}

enum smtp_abandon
smtp_abandon(struct smtp_conn *c)
{
	if ((c->state == ST_TXN || c->state == ST_BODY) && c->dot_queued)
		return SMTP_ABANDON_WAIT;	/* the relay may have it: its reply */
	if (c->state == ST_QUITTING)
		return SMTP_ABANDON_QUITTING;
	if (c->state == ST_IDLE) {
		smtp_quit(c);
		return c->state == ST_QUITTING ? SMTP_ABANDON_QUITTING : SMTP_ABANDON_CLOSED;
	}
	/* Mid-transaction, before the ".": closing is the one thing that
	 * ends it in every state (in the body no command can be sent), and
	 * a relay never delivers a message whose "." it did not get. */
	(void)shutdown(c->fd, SHUT_RDWR);
	c->txn = NULL;
	c->state = ST_CLOSED;
	c->deadline = -1;
	return SMTP_ABANDON_CLOSED;
}

void
smtp_free(struct smtp_conn *c)
{
	if (c == NULL)
		return;
	tls_session_free(c->tls);
	close(c->fd);
	strbuf_free(&c->wbuf);
	strbuf_free(&c->pbuf);
	free(c);
}

bool
smtp_usable(const struct smtp_conn *c)
{
	return c->state == ST_IDLE;
}

enum smtp_phase
smtp_awaiting(const struct smtp_conn *c)
{
	if (c->state == ST_CONNECTING)
		return SMTP_PHASE_CONNECT;
	return smtp_expect_phase(c);
}

unsigned
smtp_extensions(const struct smtp_conn *c)
{
	return c->ext;
}

long long
smtp_size_limit(const struct smtp_conn *c)
{
	return c->size_limit;
}

const char *
smtp_error(const struct smtp_conn *c)
{
	return c->err;
}

enum smtp_status
smtp_setup_status(const struct smtp_conn *c, const struct smtp_reply **reply)
{
	if (reply != NULL)
		*reply = &c->setup_reply;
	return c->setup_status;
}

enum smtp_status
smtp_txn_outcome(const struct smtp_txn *t, size_t i,
    const struct smtp_reply **reply)
{
	const struct smtp_rcpt_result *r = &t->rcpt[i];

	/* Refused on its own RCPT: that reply, whatever came after. */
	if (r->reply.code != 0 && r->status != SMTP_OK) {
		*reply = &r->reply;
		return r->status;
	}
	*reply = &t->reply;
	if (t->status != SMTP_OK)
		return t->status;
	/* Accepted and the final "." was: delivered.  Accepted, but the
	 * transaction ended before a final reply (nothing accepted in all,
	 * so no DATA): cannot happen for an accepted one. */
	if (r->reply.code != 0 && t->phase == SMTP_PHASE_DOT)
		return SMTP_OK;
	return SMTP_IOERR;
}

enum smtp_phase
smtp_txn_outcome_phase(const struct smtp_txn *t, size_t i)
{
	const struct smtp_rcpt_result *r = &t->rcpt[i];

	if (r->reply.code != 0 && r->status != SMTP_OK)
		return SMTP_PHASE_RCPT;
	return t->phase;
}
