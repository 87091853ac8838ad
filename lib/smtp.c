#include "config.h"

#include "smtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xalloc.h"

/* Body bytes are written once this much is buffered: big writes, few
 * system calls, constant memory. */
#define SMTP_WBUF_FLUSH (64 * 1024)

struct smtp_conn {
	int fd;
	bool broken;		/* I/O failed: no QUIT, just close */
	unsigned ext;
	long long size_limit;
	struct smtp_timeouts t;
	char rbuf[SMTP_LINE_MAX + 2];
	size_t rlen;
	struct strbuf wbuf;
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

static long long
smtp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline (ms, monotonic). */
static bool
smtp_wait(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd p = { fd, events, 0 };
		long long left = deadline - smtp_now_ms();
		int r;

		if (left <= 0)
			return false;
		r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return true;
		if (r < 0 && errno != EINTR)
			return false;
	}
}

static bool
smtp_write_all(struct smtp_conn *c, const char *p, size_t n, int timeout)
{
	long long deadline = smtp_now_ms() + (long long)timeout * 1000;

	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			/* Progress restarts the clock: the timeout is per
			 * block, as sendmail's Timeout.datablock. */
			deadline = smtp_now_ms() + (long long)timeout * 1000;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    smtp_wait(c->fd, POLLOUT, deadline))
			continue;
		c->broken = true;
		return false;
	}
	return true;
}

static bool
smtp_flush(struct smtp_conn *c, int timeout)
{
	bool ok = smtp_write_all(c, c->wbuf.buf ? c->wbuf.buf : "", c->wbuf.len, timeout);

	strbuf_reset(&c->wbuf);
	return ok;
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

/* Read one line (without CRLF) into line. */
static enum smtp_status
smtp_read_line(struct smtp_conn *c, char *line, long long deadline)
{
	for (;;) {
		char *nl = memchr(c->rbuf, '\n', c->rlen);
		ssize_t n;

		if (nl != NULL) {
			size_t len = (size_t)(nl - c->rbuf);

			memcpy(line, c->rbuf, len);
			if (len > 0 && line[len - 1] == '\r')
				len--;
			line[len] = '\0';
			c->rlen -= (size_t)(nl - c->rbuf) + 1;
			memmove(c->rbuf, nl + 1, c->rlen);
			return SMTP_OK;
		}
		if (c->rlen >= SMTP_LINE_MAX) {
			c->broken = true;
			return SMTP_IOERR;	/* a line without end */
		}
		n = recv(c->fd, c->rbuf + c->rlen, SMTP_LINE_MAX - c->rlen, 0);
		if (n > 0) {
			c->rlen += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    smtp_wait(c->fd, POLLIN, deadline))
			continue;
		c->broken = true;
		return SMTP_IOERR;
	}
}

/* Read a whole (multi-line) reply; each line goes to on_line if set. */
static enum smtp_status
smtp_read_reply(struct smtp_conn *c, int timeout, struct smtp_reply *reply,
    void (*on_line)(struct smtp_conn *, const char *))
{
	long long deadline = smtp_now_ms() + (long long)timeout * 1000;
	char line[SMTP_LINE_MAX + 1];
	int lines = 0, first = 0;
	bool last = false;

	memset(reply, 0, sizeof *reply);
	while (!last) {
		if (smtp_read_line(c, line, deadline) != SMTP_OK)
			return SMTP_IOERR;
		if (!smtp_parse_reply_line(line, &last, reply) ||
		    (first != 0 && reply->code != first) ||
		    ++lines > SMTP_REPLY_LINES) {
			c->broken = true;
			snprintf(reply->full, sizeof reply->full, "%.200s", line);
			reply->code = 0;
			return SMTP_IOERR;
		}
		first = reply->code;
		if (on_line != NULL)
			on_line(c, line);
	}
	if (reply->code < 400)
		return SMTP_OK;
	return reply->code < 500 ? SMTP_TEMPFAIL : SMTP_PERMFAIL;
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

static enum smtp_status
smtp_command(struct smtp_conn *c, const char *cmd, int timeout,
    struct smtp_reply *reply, void (*on_line)(struct smtp_conn *, const char *))
{
	strbuf_addstr(&c->wbuf, cmd);
	strbuf_addstr(&c->wbuf, "\r\n");
	if (!smtp_flush(c, timeout)) {
		memset(reply, 0, sizeof *reply);
		return SMTP_IOERR;
	}
	return smtp_read_reply(c, timeout, reply, on_line);
}

struct smtp_conn *
smtp_connect(const char *ip, int port, const char *helo_name,
    const struct smtp_timeouts *t, enum smtp_status *st,
    struct smtp_reply *reply, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct smtp_conn *c;
	int one = 1, fd, soerr = 0;
	socklen_t elen = sizeof soerr;
	char cmd[600];

	memset(reply, 0, sizeof *reply);
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
		*st = SMTP_TEMPFAIL;
		return NULL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		*st = SMTP_TEMPFAIL;
		return NULL;
	}
	/* The final dot and each pipelined group go out at once. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&ss, sslen) < 0) {
		if (errno != EINPROGRESS ||
		    !smtp_wait(fd, POLLOUT, smtp_now_ms() + (long long)t->connect * 1000) ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0 || soerr != 0) {
			int e = soerr ? soerr : errno ? errno : ETIMEDOUT;

			/* sendmail's wording: "Connection refused by [ip]" */
			if (e == ECONNREFUSED)
				snprintf(err, errlen, "Connection refused by [%s]", ip);
			else
				snprintf(err, errlen, "%s with [%s]",
				    e == EINPROGRESS ? "Connection timed out" : strerror(e), ip);
			close(fd);
			*st = SMTP_TEMPFAIL;
			return NULL;
		}
	}
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->t = *t;
	*st = smtp_read_reply(c, t->initial, reply, NULL);
	if (*st == SMTP_OK && reply->code != 220)
		*st = reply->code >= 500 ? SMTP_PERMFAIL : SMTP_TEMPFAIL;
	if (*st != SMTP_OK) {
		snprintf(err, errlen, "%s", reply->code ? reply->full :
		    "connection lost before the greeting");
		smtp_close(c);
		return NULL;
	}
	snprintf(cmd, sizeof cmd, "EHLO %s", helo_name);
	*st = smtp_command(c, cmd, t->helo, reply, smtp_ehlo_line);
	if (*st == SMTP_PERMFAIL) {
		/* sendmail falls back to HELO when EHLO is refused. */
		c->ext = 0;
		snprintf(cmd, sizeof cmd, "HELO %s", helo_name);
		*st = smtp_command(c, cmd, t->helo, reply, NULL);
	}
	if (*st != SMTP_OK) {
		snprintf(err, errlen, "%s", reply->code ? reply->full :
		    "connection lost during EHLO");
		smtp_close(c);
		return NULL;
	}
	return c;
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

enum smtp_status
smtp_begin(struct smtp_conn *c, const char *mail_cmd,
    const char *const *rcpt_cmds, size_t nrcpt,
    struct smtp_rcpt_result *res, size_t *accepted, struct smtp_reply *reply)
{
	enum smtp_status st;
	size_t i;

	*accepted = 0;
	/* MAIL is never pipelined: sendmail waits for its reply. */
	st = smtp_command(c, mail_cmd, c->t.mail, reply, NULL);
	if (st != SMTP_OK)
		return st;
	if (c->ext & SMTP_EXT_PIPELINING) {
		for (i = 0; i < nrcpt; i++) {
			strbuf_addstr(&c->wbuf, rcpt_cmds[i]);
			strbuf_addstr(&c->wbuf, "\r\n");
		}
		strbuf_addstr(&c->wbuf, "DATA\r\n");
		if (!smtp_flush(c, c->t.rcpt))
			return SMTP_IOERR;
		for (i = 0; i < nrcpt; i++) {
			res[i].status = smtp_read_reply(c, c->t.rcpt, &res[i].reply, NULL);
			if (res[i].status == SMTP_IOERR)
				return SMTP_IOERR;
			if (res[i].status == SMTP_OK)
				(*accepted)++;
		}
		st = smtp_read_reply(c, c->t.datainit, reply, NULL);
	} else {
		for (i = 0; i < nrcpt; i++) {
			res[i].status = smtp_command(c, rcpt_cmds[i], c->t.rcpt,
			    &res[i].reply, NULL);
			if (res[i].status == SMTP_IOERR)
				return SMTP_IOERR;
			if (res[i].status == SMTP_OK)
				(*accepted)++;
		}
		if (*accepted == 0)
			return SMTP_OK;
		st = smtp_command(c, "DATA", c->t.datainit, reply, NULL);
	}
	if (st == SMTP_OK && reply->code != 354)
		st = SMTP_IOERR;
	if (*accepted == 0 && st == SMTP_OK) {
		/* Pipelined DATA was accepted with no recipient: end the
		 * empty message as RFC 2920 says, and let it fail. */
		strbuf_addstr(&c->wbuf, ".\r\n");
		if (!smtp_flush(c, c->t.datafinal))
			return SMTP_IOERR;
		(void)smtp_read_reply(c, c->t.datafinal, reply, NULL);
		return SMTP_OK;
	}
	if (*accepted == 0)
		return SMTP_OK;
	return st;
}

enum smtp_status
smtp_send_data(struct smtp_conn *c, const char *p, size_t n)
{
	strbuf_append(&c->wbuf, p, n);
	if (c->wbuf.len >= SMTP_WBUF_FLUSH && !smtp_flush(c, c->t.datablock))
		return SMTP_IOERR;
	return SMTP_OK;
}

enum smtp_status
smtp_end_data(struct smtp_conn *c, struct smtp_reply *reply)
{
	strbuf_addstr(&c->wbuf, ".\r\n");
	if (!smtp_flush(c, c->t.datablock)) {
		memset(reply, 0, sizeof *reply);
		return SMTP_IOERR;
	}
	return smtp_read_reply(c, c->t.datafinal, reply, NULL);
}

enum smtp_status
smtp_rset(struct smtp_conn *c, struct smtp_reply *reply)
{
	return smtp_command(c, "RSET", c->t.rset, reply, NULL);
}

void
smtp_close(struct smtp_conn *c)
{
	struct smtp_reply r;

	if (c == NULL)
		return;
	if (!c->broken)
		(void)smtp_command(c, "QUIT", c->t.quit, &r, NULL);
	close(c->fd);
	strbuf_free(&c->wbuf);
	free(c);
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
