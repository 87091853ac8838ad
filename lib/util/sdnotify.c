#include "config.h"

#include "util/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct {
	struct sockaddr_un addr;
	socklen_t len;		/* 0: no socket */
	int fd;
	long long watchdog_ms;
} sdnotify = { .fd = -1 };

void
sdnotify_init(void)
{
	const char *s = getenv("NOTIFY_SOCKET"), *w = getenv("WATCHDOG_USEC");
	const char *p = getenv("WATCHDOG_PID");
	size_t n;

	sdnotify.len = 0;
	sdnotify.watchdog_ms = 0;
	if (w != NULL && (p == NULL || strtol(p, NULL, 10) == (long)getpid())) {
		long long us = strtoll(w, NULL, 10);

		if (us > 0)
			sdnotify.watchdog_ms = us / 2000 > 0 ? us / 2000 : 1;
	}
	if (s == NULL || (s[0] != '/' && s[0] != '@') ||
	    (n = strlen(s)) >= sizeof sdnotify.addr.sun_path)
		return;
	memset(&sdnotify.addr, 0, sizeof sdnotify.addr);
	sdnotify.addr.sun_family = AF_UNIX;
	memcpy(sdnotify.addr.sun_path, s, n);
	if (s[0] == '@')
		sdnotify.addr.sun_path[0] = '\0';
	sdnotify.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (s[0] == '/' ? 1 : 0));
	sdnotify.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sdnotify.fd < 0)
		sdnotify.len = 0;
}

long long
sdnotify_watchdog_ms(void)
{
	return sdnotify.watchdog_ms;
}

bool
sdnotify_send(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	if (sdnotify.len == 0)
		return true;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return false;
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	return sendto(sdnotify.fd, buf, (size_t)n, MSG_NOSIGNAL,
	    (struct sockaddr *)&sdnotify.addr, sdnotify.len) == n;
}
