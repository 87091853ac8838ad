/*
 * check-relay: the check that the relay named in submit.cf answers with
 * a greeting (check-private.h).
 */
#include "config.h"

#include "check/check-private.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/monotime.h"

/* -------------------------------------------------------------- relay */

/* Waits for events on fd until the deadline; false on a timeout. */
static bool
ck_wait(int fd, short events, long long deadline)
{
	struct pollfd p = { fd, events, 0 };
	long long left;
	int r;

	while ((left = deadline - monotime_ms()) > 0) {
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return true;
		if (r < 0 && errno != EINTR)
			return false;
	}
	errno = ETIMEDOUT;
	return false;
}

/* One connection attempt: the greeting's last line in greet, or why not
 * in greet; the reply code, 0 without one. */
static int
ck_greeting(const struct addrinfo *ai, long long deadline, char *greet, size_t size)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	char buf[4096];
	size_t have = 0;
	int code = 0, err = 0, fl;
	socklen_t elen = sizeof err;

	if (fd < 0) {
		snprintf(greet, size, "socket: %s", strerror(errno));
		return 0;
	}
	fl = fcntl(fd, F_GETFL);
	(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			snprintf(greet, size, "%s", strerror(errno));
			close(fd);
			return 0;
		}
		if (!ck_wait(fd, POLLOUT, deadline) ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0) {
			snprintf(greet, size, "%s", strerror(err != 0 ? err : errno));
			close(fd);
			return 0;
		}
	}
	/* Lines until one whose code is followed by a blank (the last line
	 * of the reply). */
	for (;;) {
		char *nl;
		ssize_t r;

		buf[have] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			if (nl > buf && nl[-1] == '\r')
				nl[-1] = '\0';
			if (strlen(buf) < 4 || buf[3] != '-') {
				snprintf(greet, size, "%.200s", buf);
				code = (int)strtol(buf, NULL, 10);
				goto done;
			}
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
		}
		if (have >= sizeof buf - 1) {
			snprintf(greet, size, "a greeting line longer than %zu octets", sizeof buf);
			goto done;
		}
		if (!ck_wait(fd, POLLIN, deadline)) {
			snprintf(greet, size, "no greeting: %s", strerror(errno));
			goto done;
		}
		r = read(fd, buf + have, sizeof buf - 1 - have);
		if (r <= 0) {
			snprintf(greet, size, "no greeting: %s",
			    r == 0 ? "the connection was closed" : strerror(errno));
			goto done;
		}
		have += (size_t)r;
	}
done:
	if (code != 0)
		(void)send(fd, "QUIT\r\n", 6, MSG_NOSIGNAL);
	close(fd);
	return code;
}

void
ck_relay(struct check_ctx *c)
{
	const char *expected = "an SMTP greeting (220)";
	static const char ADVICE[] =
	    "mail waits in the client queue until the relay answers: start the MTA, or point "
	    "submit.cf's relay (FEATURE(msp), D{MTAHost}) at one that runs";
	struct submitcf_mailer m;
	struct error err;
	struct addrinfo hints, *ai = NULL, *a;
	char name[300], host[300], where[400], port[16], greet[300], found[700];
	long long deadline;
	int code = 0, timeout = c->cfg->relay_timeout_ms > 0 ? c->cfg->relay_timeout_ms
	    : CHECK_RELAY_TIMEOUT_MS, rc;

	if (c->cf == NULL)
		return;
	submitcf_relay(c->cf, name, sizeof name, host, sizeof host);
	if (!submitcf_mailer(c->cf, "relay", &m, &err)) {
		ck_add(c, "relay", CHECK_WARNING, c->cf_path, err.reason, expected, ADVICE);
		return;
	}
	snprintf(where, sizeof where, "%s:%d", name, m.port);
	snprintf(port, sizeof port, "%d", m.port);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(found, sizeof found, "cannot resolve %s: %s", host, gai_strerror(rc));
		ck_add(c, "relay", CHECK_WARNING, where, found, expected, ADVICE);
		return;
	}
	deadline = monotime_ms() + timeout;
	snprintf(greet, sizeof greet, "no address");
	for (a = ai; a != NULL && code == 0 && monotime_ms() < deadline; a = a->ai_next)
		code = ck_greeting(a, deadline, greet, sizeof greet);
	freeaddrinfo(ai);
	if (code >= 200 && code < 300) {
		ck_add(c, "relay", CHECK_OK, where, greet, expected, NULL);
		return;
	}
	snprintf(found, sizeof found, "%s%s", greet,
	    code >= 400 ? " (it refuses mail)" : "");
	ck_add(c, "relay", CHECK_WARNING, where, found, expected, ADVICE);
}
