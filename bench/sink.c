/*
 * sink: a fast SMTP receiver for the benchmarks.
 *
 * The benchmarks measure senders (clientq-runner against sendmail's own
 * client-queue runner); the receiver must not be what limits them.  So
 * this is one thread, one epoll set, non-blocking sockets, a fixed
 * buffer pair per connection and no per-message allocation.  It accepts
 * every well-ordered transaction, discards the body, and counts.
 *
 *	sink -p PORT [-a ADDR] [-e EXTLIST|none] [-n COUNT] [-q]
 *	     [-l RECORD] [-t PERCENT]
 *
 * -p 0 binds an ephemeral port and prints it on stdout once listening, so
 * a script need neither guess a free port nor probe for readiness.  With
 * -n COUNT sink closes its listening socket once COUNT messages are in
 * (connections still in the backlog are reset), lets the open ones finish
 * (up to SINK_LINGER_MS, so a client still gets the reply to its QUIT),
 * then exits.  Either way, and on SIGINT or SIGTERM, it prints
 *
 *	accepted N messages, B bytes, T seconds
 *
 * on stderr (not with -q): B counts body octets as sent (dot-stuffed,
 * without the final ".\r\n"), T runs from the first MAIL command accepted
 * to the last message accepted, so neither start-up, nor a script's
 * connect-and-close readiness probe, nor the linger counts.
 *
 * For the crash tests, -l RECORD appends one line per event to the file
 * RECORD (line-buffered, so it is complete whenever sink is looked at):
 *
 *	A CONN MSGID RCPT	message accepted: the reply to its final dot
 *				(250) made on connection CONN; MSGID is its
 *				Message-Id header's value ("-" if none), RCPT
 *				the first recipient's address
 *	U CONN MSGID RCPT	connection CONN ended (the client gone, no
 *				QUIT) when the last thing on it was that
 *				reply: the client may not have read it, so the
 *				message may come again
 *	X CONN			connection CONN ended inside a message's data
 *
 * and -t PERCENT answers "451 4.3.0 try again later" to the first RCPT of
 * about PERCENT % of the addresses (chosen by a hash of the address; an
 * address seen once is accepted from then on), so that a crash test sees
 * messages requeued.  A U line is the only case where a sender that
 * never delivers a message twice on purpose may still do so: the crash
 * tests count duplicates against it.
 *
 * Exit status: 0 done (or interrupted without -n), 1 system error,
 * 2 usage, 3 interrupted before COUNT messages arrived.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* accept4, signalfd, strncasecmp */
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

enum sink_exit {
	SINK_EXIT_OK = 0,
	SINK_EXIT_FAILED = 1,
	SINK_EXIT_USAGE = 2,
	SINK_EXIT_SHORT = 3,	/* signalled before -n COUNT was reached */
};

#define SINK_LINE_MAX	4096	/* longest command line, CRLF excluded */
/*
 * The input buffer holds one pending partial command line (at most
 * SINK_LINE_MAX + 1 octets, the +1 a CR waiting for its LF) plus room for
 * reads large enough that a body costs few system calls.
 */
#define SINK_IBUF	16384
#define SINK_OBUF	4096
#define SINK_EHLO_MAX	1024	/* the whole EHLO reply, bounding -e */
/*
 * No reply is longer than this; a command is only taken from the input
 * when this much output space is free, which is what keeps the output
 * buffer fixed-size however deep a client pipelines.
 */
#define SINK_REPLY_MAX	(SINK_EHLO_MAX + 64)
_Static_assert(SINK_OBUF >= 2 * SINK_REPLY_MAX, "output buffer too small");
_Static_assert(SINK_IBUF >= 2 * (SINK_LINE_MAX + 2), "input buffer too small");
#define SINK_EVENTS	256
#define SINK_ACCEPTS	64	/* per wake-up, so connections cannot starve the rest */
#define SINK_READS	8	/* per wake-up and connection, likewise */
#define SINK_LINGER_MS	2000
#define SINK_BACKLOG	4096

/* -l: what is kept of a Message-Id and a recipient, and of a header line
 * while looking for the Message-Id. */
#define SINK_ID_MAX	160
#define SINK_HLINE	(SINK_ID_MAX + 16)
/* -t: addresses already deferred once, as bits of a hash. */
#define SINK_SEEN_BITS	(1u << 20)

#define SINK_DEFAULT_EXT \
	"PIPELINING,SIZE,8BITMIME,DSN,SMTPUTF8,ENHANCEDSTATUSCODES"

/* Where the matcher for the end of DATA stands; see sink_conn_data(). */
enum sink_dot {
	SINK_DOT_MID,		/* inside a line */
	SINK_DOT_CR,		/* after CR */
	SINK_DOT_BOL,		/* after CRLF: at the start of a line */
	SINK_DOT_DOT,		/* after CRLF "." */
	SINK_DOT_DOTCR,		/* after CRLF "." CR */
};

enum sink_txn {
	SINK_TXN_NONE,		/* no MAIL yet */
	SINK_TXN_MAIL,		/* MAIL accepted, no RCPT yet */
	SINK_TXN_RCPT,		/* at least one RCPT accepted */
};

struct sink_conn {
	struct sink_conn *prev, *next;	/* all open connections, for exit */
	int fd;
	uint32_t events;	/* the epoll interest now registered */
	int in_data;		/* between 354 and the final "." */
	enum sink_dot dot;
	enum sink_txn txn;
	int overlong;		/* discarding the rest of a too-long line */
	int eof;		/* the client closed its side: read no more */
	int quit;		/* QUIT answered: read no more */
	int dead;		/* a socket error: close without flushing */
	/* -l: */
	int after_dot;		/* the last thing: the reply to a final dot */
	int in_hdr;		/* in the header block of the message */
	unsigned long long no;	/* connection number, from 1 */
	size_t hlen;
	char hline[SINK_HLINE];
	char msgid[SINK_ID_MAX];
	char rcpt[SINK_ID_MAX];
	unsigned long long body;	/* octets of the current message so far */
	size_t ilen;
	size_t olen;
	char ibuf[SINK_IBUF];
	char obuf[SINK_OBUF];
};

static struct {
	int epfd;
	int lfd;
	int sigfd;
	int quiet;
	int enhanced;		/* ENHANCEDSTATUSCODES is advertised */
	char ehlo[SINK_EHLO_MAX];
	size_t ehlo_len;
	unsigned long long limit;	/* -n; 0 = none */
	unsigned long long accepted;
	unsigned long long bytes;
	struct sink_conn *conns;
	unsigned long nconns;
	int accept_paused;	/* out of descriptors; see sink_accept() */
	int accept_warned;
	int done;		/* -n reached: lingering */
	int interrupted;
	int started;
	struct timespec first;	/* first MAIL accepted */
	struct timespec last;	/* last message accepted */
	struct timespec linger_end;
	FILE *rec;		/* -l */
	unsigned long long nconn_total;
	unsigned tempfail;	/* -t, percent */
	unsigned char seen[SINK_SEEN_BITS / 8];
} sink = { .epfd = -1, .lfd = -1, .sigfd = -1 };

/*
 * epoll carries a pointer per descriptor; these two stand for the
 * listening socket and the signalfd, every other pointer is a connection.
 */
static char sink_tag_listen, sink_tag_signal;

static void sink_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
sink_fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	fputs("sink: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(saved));
	exit(SINK_EXIT_FAILED);
}

static void sink_usage(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
sink_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("sink: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nusage: sink -p PORT [-a ADDR] [-e EXTLIST|none] [-n COUNT] [-q]\n"
	    "            [-l RECORD] [-t PERCENT]\n"
	    "  -p PORT     port to listen on (0: any free port, printed on stdout)\n"
	    "  -a ADDR     IPv4 or IPv6 address to listen on (default 127.0.0.1)\n"
	    "  -e EXTLIST  comma-separated EHLO extensions, or none (default\n"
	    "              " SINK_DEFAULT_EXT ")\n"
	    "  -n COUNT    exit after COUNT messages have been accepted\n"
	    "  -q          do not print the summary line\n"
	    "  -l RECORD   append a line per message accepted (A), per connection\n"
	    "              lost right after a reply to a final dot (U) or inside\n"
	    "              a message (X) to RECORD\n"
	    "  -t PERCENT  answer 451 to the first RCPT of about PERCENT %% of the\n"
	    "              addresses\n", stderr);
	exit(SINK_EXIT_USAGE);
}

static unsigned long long
sink_parse_number(const char *s, const char *what, unsigned long long min,
    unsigned long long max)
{
	unsigned long long v;

	if (!bench_parse_number(s, min, max, &v))
		sink_usage("bad %s: %s", what, s);
	return (unsigned long long)v;
}

/*
 * Builds the EHLO reply once, so answering EHLO is a copy.  Items may
 * carry parameters ("SIZE 10485760") but no control characters, which
 * would let -e inject reply lines.
 */
static void
sink_build_ehlo(const char *list)
{
	const char *p, *comma;
	size_t n, len;

	len = (size_t)snprintf(sink.ehlo, sizeof sink.ehlo, "250%csink\r\n",
	    strcasecmp(list, "none") == 0 ? ' ' : '-');
	if (strcasecmp(list, "none") == 0) {
		sink.ehlo_len = len;
		return;
	}
	if (*list == '\0')
		sink_usage("empty extension list (use -e none for none)");
	for (p = list; ; p = comma + 1) {
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (n == 0)
			sink_usage("empty item in extension list: %s", list);
		for (size_t i = 0; i < n; i++)
			if (p[i] < 0x20 || p[i] > 0x7e)
				sink_usage("bad character in extension list");
		if (len + 4 + n + 2 >= sizeof sink.ehlo)	/* and the NUL */
			sink_usage("extension list too long (the EHLO reply is "
			    "limited to %d octets)", SINK_EHLO_MAX);
		len += (size_t)sprintf(sink.ehlo + len, "250%c%.*s\r\n",
		    comma != NULL ? '-' : ' ', (int)n, p);
		if (n == strlen("ENHANCEDSTATUSCODES") &&
		    strncasecmp(p, "ENHANCEDSTATUSCODES", n) == 0)
			sink.enhanced = 1;
		if (comma == NULL)
			break;
	}
	sink.ehlo_len = len;
}

static void
sink_listen(const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
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
		sink_usage("not a numeric IPv4 or IPv6 address: %s", addr);

	sink.lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sink.lfd < 0)
		sink_fatal("socket");
	/* A benchmark restarts sink on the same port while the last run's
	 * connections sit in TIME_WAIT. */
	if (setsockopt(sink.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		sink_fatal("setsockopt SO_REUSEADDR");
	if (bind(sink.lfd, (struct sockaddr *)&ss, sslen) < 0)
		sink_fatal("bind %s port %u", addr, port);
	if (listen(sink.lfd, SINK_BACKLOG) < 0)
		sink_fatal("listen");
	if (port == 0) {
		sslen = sizeof ss;
		if (getsockname(sink.lfd, (struct sockaddr *)&ss, &sslen) < 0)
			sink_fatal("getsockname");
		printf("%u\n", ntohs(ss.ss_family == AF_INET ? sin->sin_port :
		    sin6->sin6_port));
		fflush(stdout);
	}
}

static void
sink_epoll_add(int fd, void *ptr, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	if (epoll_ctl(sink.epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		sink_fatal("epoll_ctl add");
}

/*
 * Appends one reply.  The texts carry their enhanced status code ("250
 * 2.1.0 Ok"); RFC 2034 allows it only once ENHANCEDSTATUSCODES has been
 * advertised, so with -e lists that lack it the code is cut out here
 * rather than keeping two sets of texts.
 */
static void
sink_conn_reply(struct sink_conn *c, const char *text)
{
	size_t n = strlen(text);

	if (!sink.enhanced && n > 4 && text[4] >= '2' && text[4] <= '5') {
		const char *rest = strchr(text + 4, ' ');

		memcpy(c->obuf + c->olen, text, 4);
		c->olen += 4;
		text = rest != NULL ? rest + 1 : text + n;
		n = strlen(text);
	}
	if (c->olen + n + 2 > SINK_OBUF) {
		/* sink_conn_process() keeps SINK_REPLY_MAX free: a bug. */
		fprintf(stderr, "sink: reply buffer overflow\n");
		abort();
	}
	memcpy(c->obuf + c->olen, text, n);
	memcpy(c->obuf + c->olen + n, "\r\n", 2);
	c->olen += n + 2;
}

/* Sends what it can; the rest waits for EPOLLOUT. */
static void
sink_conn_flush(struct sink_conn *c)
{
	size_t off = 0;
	ssize_t n;

	while (off < c->olen && !c->dead) {
		n = send(c->fd, c->obuf + off, c->olen - off, MSG_NOSIGNAL);
		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		else
			c->dead = 1;	/* the client is gone; nothing to report */
	}
	if (c->dead)
		off = c->olen;
	memmove(c->obuf, c->obuf + off, c->olen - off);
	c->olen -= off;
}

static void
sink_message_accepted(struct sink_conn *c)
{
	char reply[64];

	sink.accepted++;
	sink.bytes += c->body - 3;	/* the matcher consumed ".\r\n" too */
	clock_gettime(CLOCK_MONOTONIC, &sink.last);
	snprintf(reply, sizeof reply, "250 2.0.0 Ok: queued as %llu",
	    sink.accepted);
	sink_conn_reply(c, reply);
	if (sink.rec != NULL) {
		fprintf(sink.rec, "A %llu %s %s\n", c->no,
		    c->msgid[0] ? c->msgid : "-", c->rcpt[0] ? c->rcpt : "-");
		c->after_dot = 1;
	}
	c->in_data = 0;
	c->txn = SINK_TXN_NONE;
	if (sink.limit != 0 && sink.accepted == sink.limit && !sink.done) {
		/* Refuse further connections (closing the socket drops it
		 * from the epoll set) and give the open ones a moment. */
		sink.done = 1;
		close(sink.lfd);
		sink.lfd = -1;
		clock_gettime(CLOCK_MONOTONIC, &sink.linger_end);
		sink.linger_end.tv_sec += SINK_LINGER_MS / 1000;
		sink.linger_end.tv_nsec += (SINK_LINGER_MS % 1000) * 1000000L;
		if (sink.linger_end.tv_nsec >= 1000000000L) {
			sink.linger_end.tv_sec++;
			sink.linger_end.tv_nsec -= 1000000000L;
		}
	}
}

/*
 * Consumes message data up to and including the terminating CRLF "."
 * CRLF, which may be split across any number of reads: the matcher's
 * state lives in the connection.  It starts at SINK_DOT_BOL because the
 * CRLF of the DATA line counts, so an empty message is just ".\r\n".
 * Inside a line only CR matters, so memchr skips ahead to the next one.
 * Returns the octets consumed and sets *end if they finished the message.
 */
static size_t
sink_conn_data(struct sink_conn *c, const char *buf, size_t len, int *end)
{
	const char *p = buf, *e = buf + len;
	enum sink_dot st = c->dot;
	char ch;

	*end = 0;
	while (p < e) {
		if (st == SINK_DOT_MID) {
			p = memchr(p, '\r', (size_t)(e - p));
			if (p == NULL) {
				p = e;
				break;
			}
			p++;
			st = SINK_DOT_CR;
			continue;
		}
		ch = *p++;
		switch (st) {
		case SINK_DOT_CR:
			st = ch == '\n' ? SINK_DOT_BOL :
			    ch == '\r' ? SINK_DOT_CR : SINK_DOT_MID;
			break;
		case SINK_DOT_BOL:
			st = ch == '.' ? SINK_DOT_DOT :
			    ch == '\r' ? SINK_DOT_CR : SINK_DOT_MID;
			break;
		case SINK_DOT_DOT:
			/* ".." and the like: a dot-stuffed line, not the end */
			st = ch == '\r' ? SINK_DOT_DOTCR : SINK_DOT_MID;
			break;
		case SINK_DOT_DOTCR:
			if (ch == '\n') {
				*end = 1;
				c->dot = SINK_DOT_BOL;
				return (size_t)(p - buf);
			}
			st = ch == '\r' ? SINK_DOT_CR : SINK_DOT_MID;
			break;
		case SINK_DOT_MID:
			break;	/* handled above */
		}
	}
	c->dot = st;
	return (size_t)(p - buf);
}

/*
 * -l: follows the header block of the message being received, octets
 * buf[0..len), for its Message-Id (the value, without the blanks around
 * it; a folded one is cut at the fold).  Lines longer than SINK_HLINE are
 * looked at by their start only.
 */
static void
sink_conn_headers(struct sink_conn *c, const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len && c->in_hdr; i++) {
		char ch = buf[i];
		const char *v;
		size_t n;

		if (ch != '\n') {
			if (c->hlen < sizeof c->hline - 1)
				c->hline[c->hlen++] = ch;
			continue;
		}
		n = c->hlen;
		if (n > 0 && c->hline[n - 1] == '\r')
			n--;
		c->hlen = 0;
		if (n == 0) {
			c->in_hdr = 0;	/* the blank line: the body follows */
			break;
		}
		if (n <= 11 || strncasecmp(c->hline, "Message-Id:", 11) != 0)
			continue;
		for (v = c->hline + 11; v < c->hline + n && (*v == ' ' || *v == '\t'); v++)
			;
		n -= (size_t)(v - c->hline);
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n >= sizeof c->msgid)
			n = sizeof c->msgid - 1;
		memcpy(c->msgid, v, n);
		c->msgid[n] = '\0';
	}
}

/* -t: whether to defer this RCPT line's address (its first time only). */
static int
sink_tempfail(const char *line, size_t len)
{
	uint32_t h = 2166136261u;	/* FNV-1a of the address */
	size_t i;

	for (i = 8; i < len && line[i] != '>' && line[i] != ' '; i++)
		h = (h ^ (unsigned char)line[i]) * 16777619u;
	if (h % 100 >= sink.tempfail)
		return 0;
	h = (h >> 7) % SINK_SEEN_BITS;
	if (sink.seen[h / 8] & (1u << (h % 8)))
		return 0;
	sink.seen[h / 8] |= (unsigned char)(1u << (h % 8));
	return 1;
}

/* Does line (len octets, no CRLF, not NUL-terminated) start with verb? */
static int
sink_verb(const char *line, size_t len, const char *verb)
{
	size_t n = strlen(verb);

	return len >= n && strncasecmp(line, verb, n) == 0 &&
	    (len == n || line[n] == ' ');
}

/* Does the argument after "VERB " start with key ("FROM:", "TO:")? */
static int
sink_arg(const char *line, size_t len, const char *key)
{
	size_t n = strlen(key);

	return len >= 5 + n && strncasecmp(line + 5, key, n) == 0;
}

/*
 * Answers one command.  The ordering checks (MAIL before RCPT before
 * DATA) are the only policy: a sink that took anything would hide a
 * sender that skips a step, and these are the mistakes worth catching.
 */
static void
sink_conn_command(struct sink_conn *c, const char *line, size_t len)
{
	c->after_dot = 0;	/* the client read the reply before this */
	if (sink_verb(line, len, "EHLO") || sink_verb(line, len, "HELO")) {
		if (len < 6) {
			sink_conn_reply(c, "501 5.5.4 Syntax: EHLO hostname");
			return;
		}
		c->txn = SINK_TXN_NONE;	/* RFC 5321 4.1.4: EHLO resets */
		if (line[0] == 'E' || line[0] == 'e') {
			memcpy(c->obuf + c->olen, sink.ehlo, sink.ehlo_len);
			c->olen += sink.ehlo_len;
		} else
			sink_conn_reply(c, "250 sink");
	} else if (sink_verb(line, len, "MAIL")) {
		if (!sink_arg(line, len, "FROM:"))
			sink_conn_reply(c, "501 5.5.4 Syntax: MAIL FROM:<address>");
		else if (c->txn != SINK_TXN_NONE)
			sink_conn_reply(c, "503 5.5.1 Error: nested MAIL command");
		else {
			if (!sink.started) {
				sink.started = 1;
				clock_gettime(CLOCK_MONOTONIC, &sink.first);
			}
			c->txn = SINK_TXN_MAIL;
			sink_conn_reply(c, "250 2.1.0 Ok");
		}
	} else if (sink_verb(line, len, "RCPT")) {
		if (!sink_arg(line, len, "TO:"))
			sink_conn_reply(c, "501 5.5.4 Syntax: RCPT TO:<address>");
		else if (c->txn == SINK_TXN_NONE)
			sink_conn_reply(c, "503 5.5.1 Error: need MAIL command");
		else if (sink.tempfail > 0 && sink_tempfail(line, len))
			sink_conn_reply(c, "451 4.3.0 try again later");
		else {
			if (sink.rec != NULL && c->txn != SINK_TXN_RCPT) {
				/* the address between "<" and ">" */
				const char *a = memchr(line, '<', len), *e;
				size_t n = 0;

				if (a != NULL && (e = memchr(a, '>', len - (size_t)(a - line))) != NULL)
					n = (size_t)(e - a - 1);
				if (n >= sizeof c->rcpt)
					n = sizeof c->rcpt - 1;
				memcpy(c->rcpt, a != NULL ? a + 1 : "", n);
				c->rcpt[n] = '\0';
			}
			c->txn = SINK_TXN_RCPT;
			sink_conn_reply(c, "250 2.1.5 Ok");
		}
	} else if (sink_verb(line, len, "DATA")) {
		if (len != 4)
			sink_conn_reply(c, "501 5.5.4 Syntax: DATA");
		else if (c->txn != SINK_TXN_RCPT)
			sink_conn_reply(c, c->txn == SINK_TXN_NONE ?
			    "503 5.5.1 Error: need MAIL command" :
			    "503 5.5.1 Error: need RCPT command");
		else {
			c->in_data = 1;
			c->dot = SINK_DOT_BOL;
			c->body = 0;
			c->in_hdr = sink.rec != NULL;
			c->hlen = 0;
			c->msgid[0] = '\0';
			sink_conn_reply(c, "354 End data with <CR><LF>.<CR><LF>");
		}
	} else if (sink_verb(line, len, "RSET")) {
		c->txn = SINK_TXN_NONE;
		sink_conn_reply(c, "250 2.0.0 Ok");
	} else if (sink_verb(line, len, "NOOP")) {
		sink_conn_reply(c, "250 2.0.0 Ok");
	} else if (sink_verb(line, len, "QUIT")) {
		sink_conn_reply(c, "221 2.0.0 Bye");
		c->quit = 1;
	} else
		sink_conn_reply(c, "500 5.5.2 Error: command not recognized");
}

/*
 * Works through the buffered input in order: commands, message data,
 * more commands, however a client pipelined them.  Replies accumulate in
 * the output buffer so that one send() carries a whole batch.  Stops
 * early only when the output buffer cannot take another reply (the client
 * is not reading), leaving the input where it is.
 */
static void
sink_conn_process(struct sink_conn *c)
{
	size_t pos = 0, len;
	const char *line, *nl;
	int end;

	while (pos < c->ilen && !c->quit && !c->dead) {
		if (SINK_OBUF - c->olen < SINK_REPLY_MAX) {
			sink_conn_flush(c);
			if (SINK_OBUF - c->olen < SINK_REPLY_MAX)
				break;
		}
		if (c->in_data) {
			len = sink_conn_data(c, c->ibuf + pos, c->ilen - pos, &end);
			if (c->in_hdr)
				sink_conn_headers(c, c->ibuf + pos, len);
			pos += len;
			c->body += len;
			if (end)
				sink_message_accepted(c);
			continue;
		}
		nl = memchr(c->ibuf + pos, '\n', c->ilen - pos);
		if (c->overlong) {
			/* One reply for the whole line, sent when it ends, so
			 * replies stay in step with commands. */
			if (nl == NULL) {
				pos = c->ilen;
				break;
			}
			pos = (size_t)(nl - c->ibuf) + 1;
			c->overlong = 0;
			sink_conn_reply(c, "500 5.5.2 line too long");
			continue;
		}
		if (nl == NULL) {
			if (c->ilen - pos > SINK_LINE_MAX + 1) {
				c->overlong = 1;
				pos = c->ilen;
			}
			break;
		}
		line = c->ibuf + pos;
		len = (size_t)(nl - line);
		pos += len + 1;
		/* A bare LF ends a command line too: lenient where it costs
		 * nothing, unlike in DATA, where only CRLF "." CRLF ends. */
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len > SINK_LINE_MAX)
			sink_conn_reply(c, "500 5.5.2 line too long");
		else
			sink_conn_command(c, line, len);
	}
	if (c->quit)
		pos = c->ilen;	/* anything after QUIT is ignored */
	memmove(c->ibuf, c->ibuf + pos, c->ilen - pos);
	c->ilen -= pos;
}

/*
 * Processes and sends until neither makes progress.  Input may have
 * waited for output space that the last send freed; without this a
 * client that pipelines, half-closes and then reads would lose the
 * commands after the point where its replies filled the buffer.  Ends
 * because every round that goes on has consumed input.
 */
static void
sink_conn_pump(struct sink_conn *c)
{
	size_t before;

	do {
		before = c->ilen;
		sink_conn_process(c);
		sink_conn_flush(c);
	} while (c->ilen > 0 && c->ilen < before && c->olen == 0 && !c->dead);
}

static void
sink_conn_close(struct sink_conn *c)
{
	if (sink.rec != NULL && c->after_dot && !c->quit)
		fprintf(sink.rec, "U %llu %s %s\n", c->no,
		    c->msgid[0] ? c->msgid : "-", c->rcpt[0] ? c->rcpt : "-");
	else if (sink.rec != NULL && c->in_data)
		fprintf(sink.rec, "X %llu\n", c->no);
	close(c->fd);		/* also drops it from the epoll set */
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		sink.conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
	sink.nconns--;
	if (sink.accept_paused && !sink.done && !sink.interrupted) {
		sink.accept_paused = 0;
		sink_epoll_add(sink.lfd, &sink_tag_listen, EPOLLIN);
	}
}

/*
 * After every event: close the connection if it is finished, otherwise
 * register interest in what it now waits for.  Reading stops while the
 * output buffer is short of room, so a client that pipelines without
 * reading its replies is held back by TCP flow control, not by memory.
 */
static void
sink_conn_settle(struct sink_conn *c)
{
	struct epoll_event ev;
	uint32_t want = 0;

	if (c->dead || ((c->eof || c->quit) && c->olen == 0)) {
		sink_conn_close(c);
		return;
	}
	if (!c->eof && !c->quit && c->ilen < SINK_IBUF &&
	    SINK_OBUF - c->olen >= SINK_REPLY_MAX)
		want |= EPOLLIN;
	if (c->olen > 0)
		want |= EPOLLOUT;
	if (want != c->events) {
		ev.events = want;
		ev.data.ptr = c;
		if (epoll_ctl(sink.epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
			sink_fatal("epoll_ctl mod");
		c->events = want;
	}
}

static void
sink_conn_readable(struct sink_conn *c)
{
	size_t room;
	ssize_t n;
	int i;

	for (i = 0; i < SINK_READS && !c->eof && !c->quit && !c->dead; i++) {
		room = SINK_IBUF - c->ilen;
		if (room == 0)
			break;
		n = recv(c->fd, c->ibuf + c->ilen, room, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = 1;
			break;
		}
		if (n == 0) {
			c->eof = 1;
			break;
		}
		c->ilen += (size_t)n;
		sink_conn_process(c);
		/* A short read has most likely emptied the socket; asking
		 * again would mostly cost an EAGAIN. */
		if ((size_t)n < room)
			break;
	}
	sink_conn_pump(c);
	sink_conn_settle(c);
}

static void
sink_conn_writable(struct sink_conn *c)
{
	sink_conn_flush(c);
	sink_conn_pump(c);
	sink_conn_settle(c);
}

static void
sink_accept(void)
{
	struct sink_conn *c;
	int fd, one = 1, i;

	for (i = 0; i < SINK_ACCEPTS && sink.lfd >= 0; i++) {
		fd = accept4(sink.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* The pending connection stays readable, so a
				 * level-triggered listener would spin: stop
				 * listening until a connection closes. */
				if (!sink.accept_warned)
					fprintf(stderr, "sink: accept: %s (pausing "
					    "until a connection closes; said once)\n",
					    strerror(errno));
				sink.accept_warned = 1;
				if (epoll_ctl(sink.epfd, EPOLL_CTL_DEL, sink.lfd,
				    NULL) < 0)
					sink_fatal("epoll_ctl del");
				sink.accept_paused = 1;
				return;
			}
			sink_fatal("accept");
		}
		/* Replies are small and a pipelining client waits for them:
		 * Nagle would hold each batch back for an ACK. */
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
			/* One client's socket, not the sink, is in trouble. */
			fprintf(stderr, "sink: setsockopt TCP_NODELAY: %s "
			    "(connection dropped)\n", strerror(errno));
			close(fd);
			continue;
		}
		c = malloc(sizeof *c);
		if (c == NULL) {
			fprintf(stderr, "sink: out of memory (connection dropped)\n");
			close(fd);
			continue;
		}
		memset(c, 0, offsetof(struct sink_conn, ibuf));
		c->fd = fd;
		c->no = ++sink.nconn_total;
		c->events = EPOLLIN;
		sink_epoll_add(fd, c, c->events);
		c->next = sink.conns;
		if (c->next != NULL)
			c->next->prev = c;
		sink.conns = c;
		sink.nconns++;
		sink_conn_reply(c, "220 sink ESMTP");
		sink_conn_flush(c);
		sink_conn_settle(c);
	}
}

static void
sink_signals(void)
{
	sigset_t set;

	/* Replies to a vanished client fail with EPIPE, never a signal. */
	signal(SIGPIPE, SIG_IGN);
	/* A signalfd in the epoll set, not a handler: no race between
	 * checking a flag and going to sleep in epoll_wait(). */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		sink_fatal("sigprocmask");
	sink.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sink.sigfd < 0)
		sink_fatal("signalfd");
	sink_epoll_add(sink.sigfd, &sink_tag_signal, EPOLLIN);
}

/* Milliseconds to wait in epoll_wait: forever, or what is left of the linger. */
static int
sink_timeout(void)
{
	struct timespec now;
	double left;

	if (!sink.done)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left = bench_elapsed(&now, &sink.linger_end);
	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

static void
sink_run(void)
{
	struct epoll_event evs[SINK_EVENTS];
	struct sink_conn *c;
	int i, n, timeout;

	for (;;) {
		if (sink.done && sink.nconns == 0)
			return;
		timeout = sink_timeout();
		if (timeout == 0)
			return;	/* linger over; the rest are dropped */
		n = epoll_wait(sink.epfd, evs, SINK_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			sink_fatal("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == &sink_tag_signal) {
				sink.interrupted = 1;
				continue;
			}
			if (evs[i].data.ptr == &sink_tag_listen) {
				sink_accept();
				continue;
			}
			c = evs[i].data.ptr;
			/* Read first even on a hang-up: the data before it
			 * may finish a message. */
			if (evs[i].events & EPOLLIN)
				sink_conn_readable(c);
			else if (evs[i].events & EPOLLOUT)
				sink_conn_writable(c);
			else if (evs[i].events & (EPOLLERR | EPOLLHUP))
				sink_conn_close(c);
		}
		if (sink.interrupted)
			return;
	}
}

int
main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *ext = SINK_DEFAULT_EXT;
	long port = -1;
	int opt;

	while ((opt = getopt(argc, argv, "p:a:e:n:ql:t:")) != -1) {
		switch (opt) {
		case 'p':
			port = (long)sink_parse_number(optarg, "port", 0, 65535);
			break;
		case 'a':
			addr = optarg;
			break;
		case 'e':
			ext = optarg;
			break;
		case 'n':
			sink.limit = sink_parse_number(optarg, "count", 1,
			    ULLONG_MAX);
			break;
		case 'q':
			sink.quiet = 1;
			break;
		case 'l':
			sink.rec = fopen(optarg, "a");
			if (sink.rec == NULL)
				sink_fatal("%s", optarg);
			setvbuf(sink.rec, NULL, _IOLBF, 0);
			break;
		case 't':
			sink.tempfail = (unsigned)sink_parse_number(optarg, "percentage", 0, 100);
			break;
		default:
			sink_usage("unknown option");
		}
	}
	if (optind != argc)
		sink_usage("unexpected argument: %s", argv[optind]);
	if (port < 0)
		sink_usage("-p PORT is required");
	sink_build_ehlo(ext);

	sink.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sink.epfd < 0)
		sink_fatal("epoll_create1");
	sink_signals();
	sink_listen(addr, (unsigned)port);
	sink_epoll_add(sink.lfd, &sink_tag_listen, EPOLLIN);

	sink_run();
	/* Connections still open after the linger or a signal are dropped
	 * without a word, like a receiver that goes down. */
	while (sink.conns != NULL)
		sink_conn_close(sink.conns);

	if (!sink.quiet)
		fprintf(stderr, "accepted %llu messages, %llu bytes, %.3f seconds\n",
		    sink.accepted, sink.bytes, sink.accepted == 0 ? 0.0 :
		    bench_elapsed(&sink.first, &sink.last));
	if (sink.limit != 0 && sink.accepted < sink.limit)
		return SINK_EXIT_SHORT;
	return SINK_EXIT_OK;
}
