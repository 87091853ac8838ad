#include "config.h"

#include "smtp.h"

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

#include "xalloc.h"

/* Where the connection is. */
enum smtp_state {
	ST_CONNECTING,		/* non-blocking connect under way */
	ST_SETUP,		/* greeting, EHLO/HELO */
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
	X_RSET,
	X_MAIL,
	X_RCPT,
	X_DATA,
	X_DOT,
	X_DOT_DISCARD,		/* ends a DATA the relay took without
				 * recipients (RFC 2920 section 3.1) */
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
	char helo_name[256];
	char ip[64];

	/* The reply being read. */
	struct smtp_reply cur;
	int cur_lines;

	/* Setup failure. */
	enum smtp_status setup_status;
	struct smtp_reply setup_reply;
	char err[400];

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
	t->datablock = 180;
	t->datafinal = 600;
	t->rset = 300;
	t->quit = 120;
}

long long
smtp_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
smtp_arm(struct smtp_conn *c, int seconds)
{
	c->deadline = smtp_clock_ms() + (long long)seconds * 1000;
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
	case X_RSET:
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
	case X_RSET:
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
	c->deadline = smtp_clock_ms();
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

static enum smtp_event
smtp_timed_out(struct smtp_conn *c)
{
	if (c->state == ST_CONNECTING)
		return smtp_die_why(c, SMTP_TEMPFAIL, true, "Connection timed out with [%s]", c->ip);
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

/* Write what is queued: 1 all written, 0 some left (the socket is full),
 * -1 broken. */
static int
smtp_write(struct smtp_conn *c)
{
	while (c->woff < c->wbuf.len) {
		ssize_t w = send(c->fd, c->wbuf.buf + c->woff, c->wbuf.len - c->woff,
		    MSG_NOSIGNAL);

		if (w > 0) {
			c->woff += (size_t)w;
			/* In the body, progress restarts the clock: the
			 * timeout is per block, as Timeout.datablock. */
			if (c->state == ST_BODY)
				smtp_arm(c, c->t.datablock);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
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
		if (r->code != 220) {
			c->setup_reply = *r;
			return smtp_die(c, st == SMTP_OK ? SMTP_TEMPFAIL : st, "%s", r->full);
		}
		{
			char cmd[300];

			snprintf(cmd, sizeof cmd, "EHLO %s", c->helo_name);
			smtp_put(c, cmd);
		}
		smtp_await(c, X_EHLO);
		return SMTP_EV_NONE;
	case X_EHLO:
		if (st == SMTP_PERMFAIL) {
			/* sendmail falls back to HELO when EHLO is refused. */
			char cmd[300];

			c->ext = 0;
			c->size_limit = 0;
			snprintf(cmd, sizeof cmd, "HELO %s", c->helo_name);
			smtp_put(c, cmd);
			smtp_await(c, X_HELO);
			return SMTP_EV_NONE;
		}
		/* FALLTHROUGH */
	case X_HELO:
		if (st != SMTP_OK) {
			c->setup_reply = *r;
			return smtp_die(c, st, "%s", r->full);
		}
		c->state = ST_IDLE;
		c->deadline = -1;
		return SMTP_EV_READY;
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
				smtp_await(c, X_DATA);
			return SMTP_EV_NONE;
		}
		return smtp_next_command(c);
	case X_DATA:
		if (c->txn_decided || t->accepted == 0) {
			if (!c->txn_decided)
				t->phase = SMTP_PHASE_RCPT;
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
		ev = smtp_dispatch(c, &r);
		if (ev != SMTP_EV_NONE)
			return ev;
		/* A reply in a pipelined group restarts the clock for the
		 * next; what was queued goes out now. */
		if (c->wbuf.len > c->woff && smtp_write(c) < 0)
			return smtp_die(c, SMTP_IOERR, "connection with [%s] lost during %s: %s",
			    c->ip, smtp_phase_str(smtp_expect_phase(c)), strerror(errno));
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
			    c->ip, strerror(errno));
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
			if (c->deadline >= 0 && smtp_clock_ms() >= c->deadline)
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
	if (c->wbuf.len > c->woff && (revents & (POLLOUT | POLLERR | POLLHUP))) {
		if (c->state == ST_BODY) {
			if ((ev = smtp_body_pump(c)) != SMTP_EV_NONE)
				return ev;
		} else if (smtp_write(c) < 0) {
			return smtp_die(c, SMTP_IOERR, "connection with [%s] lost during %s: %s",
			    c->ip, smtp_phase_str(smtp_expect_phase(c)), strerror(errno));
		}
	}
	if (revents & (POLLIN | POLLERR | POLLHUP)) {
		for (;;) {
			ssize_t n = recv(c->fd, c->rbuf + c->rlen, SMTP_LINE_MAX - c->rlen, 0);

			if (n > 0) {
				c->rlen += (size_t)n;
				if ((ev = smtp_parse_input(c)) != SMTP_EV_NONE)
					return ev;
				if (c->state == ST_DEAD)
					return SMTP_EV_NONE;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (n == 0 && c->state == ST_IDLE)
				return smtp_die(c, SMTP_TEMPFAIL, "[%s] closed the connection", c->ip);
			return smtp_die(c, SMTP_IOERR, "connection with [%s] lost during %s%s%s",
			    c->ip, smtp_phase_str(smtp_expect_phase(c)),
			    n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
		}
	}
	if (c->deadline >= 0 && smtp_clock_ms() >= c->deadline)
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
    const struct smtp_timeouts *t, char *err, size_t errlen)
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
		snprintf(err, errlen, "relay address '%s' is not numeric", ip);
		return NULL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	/* The final dot and each pipelined group go out at once. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->t = *t;
	c->deadline = -1;
	snprintf(c->helo_name, sizeof c->helo_name, "%s", helo_name);
	snprintf(c->ip, sizeof c->ip, "%s", ip);
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
	default:
		/* Idle too: a relay that closes or says 421 is noticed. */
		ev = POLLIN;
		break;
	}
	if (c->wbuf.len > c->woff)
		ev |= POLLOUT;
	return ev;
}

long long
smtp_deadline(const struct smtp_conn *c)
{
	return c->deadline;
}

int
smtp_poll_timeout(const struct smtp_conn *c)
{
	long long left;

	if (c->deadline < 0)
		return -1;
	left = c->deadline - smtp_clock_ms();
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
		smtp_put(c, "DATA");
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
		    strerror(errno));
		smtp_report_later(c, SMTP_EV_TXN_DONE);
		return true;
	}
	/* While the group is on its way, render the start of the message,
	 * so that it can follow the 354 at once.  Thrown away if the
	 * relay refuses. */
	if (c->pipelining)
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

const char *
smtp_status_str(enum smtp_status s)
{
	switch (s) {
	case SMTP_OK:
		return "ok";
	case SMTP_TEMPFAIL:
		return "tempfail";
	case SMTP_PERMFAIL:
		return "permfail";
	case SMTP_IOERR:
		return "I/O error";
	}
	return "unknown";
}
