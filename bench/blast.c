/*
 * blast: a raw pipelined SMTP sender, the reference for what the receiver
 * can take.
 *
 *	blast -p PORT [-a ADDR] -m MESSAGES [-s SIZE] [-c CONNECTIONS]
 *
 * Each connection says EHLO, then per message writes MAIL, RCPT and DATA
 * in one go (RFC 2920 pipelining), waits for their three replies, writes
 * the body and the final "." in one go, waits for the 250, and repeats;
 * at the end it says QUIT.  Messages go to whichever connection is free,
 * so -c 4 -m 10 sends exactly ten.  Nothing is read from disk and nothing
 * is allocated per message: what a runner does beyond this is its own
 * cost.  One thread drives all connections through epoll, leaving the
 * other CPUs to the receiver.
 *
 * Every reply code is checked; anything unexpected (a code, a closed
 * connection, no reply for BLAST_IDLE_MS) ends the run with status 1 and
 * a message naming the connection, the message and the command.  On
 * success it prints
 *
 *	blast: N messages in T s = R msg/s
 *
 * on stdout, T from before the first connect to the last message's 250.
 * Exit status: 0 ok, 1 failed, 2 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* strncasecmp, MSG_NOSIGNAL */
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

enum blast_exit {
	BLAST_EXIT_OK = 0,
	BLAST_EXIT_FAILED = 1,
	BLAST_EXIT_USAGE = 2,
};

#define BLAST_LINE	76		/* text octets per body line, CRLF excluded */
#define BLAST_RBUF	8192		/* longest reply line we accept */
#define BLAST_IDLE_MS	10000		/* no event for this long: fail */
#define BLAST_CONNECT_S	5		/* bound on one connect() */
#define BLAST_CONN_MAX	4096
#define BLAST_SIZE_MAX	(256UL * 1024 * 1024)
#define BLAST_EVENTS	256

static const char blast_ehlo[] = "EHLO blast.example.test\r\n";
static const char blast_txn[] =
    "MAIL FROM:<bench@example.test>\r\n"
    "RCPT TO:<rcpt@example.test>\r\n"
    "DATA\r\n";
static const char blast_quit[] = "QUIT\r\n";

/* The reply each connection waits for next. */
enum blast_step {
	BLAST_GREETING,
	BLAST_EHLO,
	BLAST_MAIL,
	BLAST_RCPT,
	BLAST_DATA,
	BLAST_BODY,		/* still writing the body: no reply is due */
	BLAST_DOT,
	BLAST_QUIT,
	BLAST_DONE,
};

static const struct {
	const char *what;
	int code;
} blast_steps[] = {
	[BLAST_GREETING] = { "greeting", 220 },
	[BLAST_EHLO] = { "EHLO", 250 },
	[BLAST_MAIL] = { "MAIL FROM", 250 },
	[BLAST_RCPT] = { "RCPT TO", 250 },
	[BLAST_DATA] = { "DATA", 354 },
	[BLAST_BODY] = { "DATA body", 0 },
	[BLAST_DOT] = { "end of data", 250 },
	[BLAST_QUIT] = { "QUIT", 221 },
	[BLAST_DONE] = { "close (after QUIT)", 0 },
};

struct blast_conn {
	int fd;
	int id;			/* 1-based, for messages */
	enum blast_step step;
	unsigned long msg;	/* the message in progress, 1-based; 0 none */
	int pipelining;		/* seen in the EHLO reply */
	int cont_code;		/* code of a multi-line reply so far; 0 none */
	uint32_t events;
	const char *out;	/* pending write: a static buffer or the body */
	size_t outlen;
	size_t outpos;
	size_t rlen;
	char rbuf[BLAST_RBUF];
};

static struct {
	int epfd;
	unsigned long messages;	/* -m */
	unsigned long started;	/* messages handed to a connection */
	unsigned long finished;	/* messages answered with 250 */
	int active;		/* connections not yet closed */
	char *body;		/* body and ".\r\n", built once */
	size_t body_len;
	struct timespec t0, t1;
} blast = { .epfd = -1 };

static void blast_fail(const struct blast_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* Reports what went wrong, and where, and ends the run. */
static void
blast_fail(const struct blast_conn *c, const char *fmt, ...)
{
	va_list ap;

	fputs("blast: ", stderr);
	if (c != NULL) {
		fprintf(stderr, "connection %d", c->id);
		if (c->msg != 0)
			fprintf(stderr, ", message %lu", c->msg);
		fputs(": ", stderr);
	}
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(BLAST_EXIT_FAILED);
}

static void blast_usage(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
blast_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("blast: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nusage: blast -p PORT [-a ADDR] -m MESSAGES [-s SIZE] [-c CONNECTIONS]\n"
	    "  -p PORT         receiver's port\n"
	    "  -a ADDR         receiver's IPv4 or IPv6 address (default 127.0.0.1)\n"
	    "  -m MESSAGES     messages to send in all\n"
	    "  -s SIZE         body octets per message (default 1000; 0 or >= 2)\n"
	    "  -c CONNECTIONS  parallel connections (default 1)\n", stderr);
	exit(BLAST_EXIT_USAGE);
}

static unsigned long
blast_parse_number(const char *s, const char *what, unsigned long min,
    unsigned long max)
{
	unsigned long long v;

	if (!bench_parse_number(s, min, max, &v))
		blast_usage("bad %s: %s", what, s);
	return (unsigned long)v;
}

/*
 * SIZE octets of CRLF-terminated lines of BLAST_LINE characters, the last
 * one shorter, then ".\r\n".  No line starts with "." so the body needs no
 * dot-stuffing and its size on the wire is exactly SIZE.  A remainder of
 * one octet cannot be a line of its own, so the line before it gives one
 * up and the message ends with an empty line instead.
 */
static void
blast_build_body(size_t size)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	size_t left = size, line, i, off = 0, n = 0;

	blast.body = malloc(size + 3);
	if (blast.body == NULL)
		blast_fail(NULL, "out of memory for a %zu-octet body", size);
	while (left > 0) {
		line = left - 2 < BLAST_LINE ? left - 2 : BLAST_LINE;
		if (left - (line + 2) == 1)
			line--;
		for (i = 0; i < line; i++)
			blast.body[off + i] = alphabet[(n + i) % (sizeof alphabet - 1)];
		memcpy(blast.body + off + line, "\r\n", 2);
		off += line + 2;
		left -= line + 2;
		n++;
	}
	memcpy(blast.body + off, ".\r\n", 3);
	blast.body_len = size + 3;
}

static void
blast_set_events(struct blast_conn *c, uint32_t want)
{
	struct epoll_event ev = { .events = want, .data.ptr = c };

	if (want == c->events)
		return;
	if (epoll_ctl(blast.epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		blast_fail(c, "epoll_ctl: %s", strerror(errno));
	c->events = want;
}

static void blast_written(struct blast_conn *c);

/* Writes what the socket takes now; EPOLLOUT brings the rest. */
static void
blast_flush(struct blast_conn *c)
{
	ssize_t n;

	while (c->outpos < c->outlen) {
		n = send(c->fd, c->out + c->outpos, c->outlen - c->outpos,
		    MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			blast_set_events(c, EPOLLIN | EPOLLOUT);
			return;
		}
		if (n <= 0)
			blast_fail(c, "write failed (%s): %s",
			    blast_steps[c->step].what,
			    n < 0 ? strerror(errno) : "no progress");
		c->outpos += (size_t)n;
	}
	blast_set_events(c, EPOLLIN);
	blast_written(c);
}

static void
blast_send(struct blast_conn *c, const char *buf, size_t len)
{
	if (c->outpos < c->outlen)
		blast_fail(c, "internal error: write while a write is pending");
	c->out = buf;
	c->outlen = len;
	c->outpos = 0;
	blast_flush(c);
}

/* A write has completed; only the body's completion changes the step. */
static void
blast_written(struct blast_conn *c)
{
	if (c->step == BLAST_BODY)
		c->step = BLAST_DOT;
}

/* The next message on this connection, or QUIT if there is none left. */
static void
blast_next(struct blast_conn *c)
{
	if (blast.started < blast.messages) {
		c->msg = ++blast.started;
		c->step = BLAST_MAIL;
		blast_send(c, blast_txn, sizeof blast_txn - 1);
	} else {
		c->msg = 0;
		c->step = BLAST_QUIT;
		blast_send(c, blast_quit, sizeof blast_quit - 1);
	}
}

/* One complete reply (its last line in text) for the step c waits for. */
static void
blast_reply(struct blast_conn *c, int code, const char *text)
{
	const int want = blast_steps[c->step].code;

	if (want == 0)
		blast_fail(c, "%s: unexpected reply before it was complete: %s",
		    blast_steps[c->step].what, text);
	if (code != want)
		blast_fail(c, "%s: expected %d, got: %s", blast_steps[c->step].what,
		    want, text);
	switch (c->step) {
	case BLAST_GREETING:
		c->step = BLAST_EHLO;
		blast_send(c, blast_ehlo, sizeof blast_ehlo - 1);
		break;
	case BLAST_EHLO:
		/* Pipelining without the extension breaks RFC 2920, and a
		 * receiver that does not offer it may well not cope. */
		if (!c->pipelining)
			blast_fail(c, "the receiver does not advertise PIPELINING");
		blast_next(c);
		break;
	case BLAST_MAIL:
		c->step = BLAST_RCPT;
		break;
	case BLAST_RCPT:
		c->step = BLAST_DATA;
		break;
	case BLAST_DATA:
		c->step = BLAST_BODY;
		blast_send(c, blast.body, blast.body_len);
		break;
	case BLAST_DOT:
		if (++blast.finished == blast.messages)
			clock_gettime(CLOCK_MONOTONIC, &blast.t1);
		blast_next(c);
		break;
	case BLAST_QUIT:
		c->step = BLAST_DONE;
		close(c->fd);	/* also drops it from the epoll set */
		c->fd = -1;
		blast.active--;
		break;
	case BLAST_BODY:
	case BLAST_DONE:
		break;		/* refused above: want == 0 */
	}
}

/*
 * Splits the input into reply lines, joins multi-line replies ("250-"
 * ... "250 ") and hands each complete one to blast_reply().
 */
static void
blast_parse(struct blast_conn *c)
{
	char *line = c->rbuf, *nl;
	size_t len;
	int code, more;

	/* c->fd < 0: QUIT was answered and the connection closed. */
	while (c->fd >= 0 &&
	    (nl = memchr(line, '\n', c->rlen - (size_t)(line - c->rbuf))) != NULL) {
		len = (size_t)(nl - line);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		line[len] = '\0';
		if (len < 3 || line[0] < '2' || line[0] > '5' ||
		    line[1] < '0' || line[1] > '9' || line[2] < '0' ||
		    line[2] > '9' || (len > 3 && line[3] != ' ' && line[3] != '-'))
			blast_fail(c, "malformed reply line while waiting for "
			    "the %s reply: %s", blast_steps[c->step].what, line);
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		if (c->cont_code != 0 && code != c->cont_code)
			blast_fail(c, "multi-line reply changes code: %s", line);
		if (c->step == BLAST_EHLO && len >= 14 &&
		    strncasecmp(line + 4, "PIPELINING", 10) == 0 &&
		    (len == 14 || line[14] == ' '))
			c->pipelining = 1;
		more = len > 3 && line[3] == '-';
		c->cont_code = more ? code : 0;
		if (!more)
			blast_reply(c, code, line);
		line = nl + 1;
	}
	len = c->rlen - (size_t)(line - c->rbuf);
	memmove(c->rbuf, line, len);
	c->rlen = len;
}

static void
blast_readable(struct blast_conn *c)
{
	ssize_t n;

	if (c->rlen == sizeof c->rbuf)
		blast_fail(c, "reply line longer than %d octets", BLAST_RBUF);
	n = recv(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n < 0)
		blast_fail(c, "read while waiting for the %s reply: %s",
		    blast_steps[c->step].what, strerror(errno));
	if (n == 0)
		blast_fail(c, "connection closed by the receiver while waiting "
		    "for the %s reply", blast_steps[c->step].what);
	c->rlen += (size_t)n;
	blast_parse(c);
}

static void
blast_connect(struct blast_conn *c, const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct timeval tv = { .tv_sec = BLAST_CONNECT_S };
	struct epoll_event ev;
	socklen_t sslen;
	int one = 1;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sslen = sizeof *sin;
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sslen = sizeof *sin6;
	} else
		blast_usage("not a numeric IPv4 or IPv6 address: %s", addr);

	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		blast_fail(c, "socket: %s", strerror(errno));
	/* A blocking connect, bounded: on Linux SO_SNDTIMEO limits
	 * connect() too, so a full backlog cannot hang the run. */
	if (setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
		blast_fail(c, "setsockopt: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&ss, sslen) < 0)
		blast_fail(c, "connect to %s port %u: %s", addr, port,
		    strerror(errno));
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0)
		blast_fail(c, "fcntl O_NONBLOCK: %s", strerror(errno));
	c->step = BLAST_GREETING;
	c->events = EPOLLIN;
	ev.events = c->events;
	ev.data.ptr = c;
	if (epoll_ctl(blast.epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		blast_fail(c, "epoll_ctl: %s", strerror(errno));
	blast.active++;
}

int
main(int argc, char **argv)
{
	const char *addr = "127.0.0.1";
	unsigned long port = 0, size = 1000, nconn = 1, i;
	struct epoll_event evs[BLAST_EVENTS];
	struct blast_conn *conns, *c;
	int opt, n, k;
	double t;

	while ((opt = getopt(argc, argv, "p:a:m:s:c:")) != -1) {
		switch (opt) {
		case 'p':
			port = blast_parse_number(optarg, "port", 1, 65535);
			break;
		case 'a':
			addr = optarg;
			break;
		case 'm':
			blast.messages = blast_parse_number(optarg, "message count",
			    1, ULONG_MAX);
			break;
		case 's':
			size = blast_parse_number(optarg, "size", 0, BLAST_SIZE_MAX);
			if (size == 1)
				blast_usage("size 1 cannot end in CRLF: use 0 or >= 2");
			break;
		case 'c':
			nconn = blast_parse_number(optarg, "connection count", 1,
			    BLAST_CONN_MAX);
			break;
		default:
			blast_usage("unknown option");
		}
	}
	if (optind != argc)
		blast_usage("unexpected argument: %s", argv[optind]);
	if (port == 0)
		blast_usage("-p PORT is required");
	if (blast.messages == 0)
		blast_usage("-m MESSAGES is required");

	blast_build_body(size);
	conns = calloc(nconn, sizeof *conns);
	if (conns == NULL)
		blast_fail(NULL, "out of memory for %lu connections", nconn);
	blast.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (blast.epfd < 0)
		blast_fail(NULL, "epoll_create1: %s", strerror(errno));

	clock_gettime(CLOCK_MONOTONIC, &blast.t0);
	for (i = 0; i < nconn; i++) {
		conns[i].id = (int)i + 1;
		blast_connect(&conns[i], addr, (unsigned)port);
	}
	while (blast.active > 0) {
		n = epoll_wait(blast.epfd, evs, BLAST_EVENTS, BLAST_IDLE_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			blast_fail(NULL, "epoll_wait: %s", strerror(errno));
		if (n == 0)
			blast_fail(NULL, "no progress for %d ms (%lu of %lu "
			    "messages done)", BLAST_IDLE_MS, blast.finished,
			    blast.messages);
		for (k = 0; k < n; k++) {
			c = evs[k].data.ptr;
			if (c->fd < 0)
				continue;
			if (evs[k].events & EPOLLOUT)
				blast_flush(c);
			if (c->fd >= 0 && evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				blast_readable(c);
		}
	}

	t = bench_elapsed(&blast.t0, &blast.t1);
	printf("blast: %lu messages in %.3f s = %.0f msg/s\n", blast.messages,
	    t, t > 0 ? (double)blast.messages / t : 0.0);
	free(conns);
	free(blast.body);
	return BLAST_EXIT_OK;
}
