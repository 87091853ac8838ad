#include "config.h"

#include "util/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#else
#include <sys/socket.h>
#include <sys/un.h>
#endif

static long long sdnotify_wd_ms;

static void
sdnotify_set_watchdog(unsigned long long usec)
{
	sdnotify_wd_ms = usec == 0 ? 0 : usec / 2000 > 0 ? (long long)(usec / 2000) : 1;
}

#ifdef HAVE_LIBSYSTEMD

void
sdnotify_init(void)
{
	uint64_t usec = 0;

	sdnotify_set_watchdog(sd_watchdog_enabled(0, &usec) > 0 ? usec : 0);
}

static bool
sdnotify_write(const char *msg)
{
	int r = sd_notify(0, msg);

	if (r < 0) {
		errno = -r;
		return false;
	}
	return true;
}

const char *
sdnotify_impl(void)
{
	return "libsystemd";
}

#else

static struct {
	struct sockaddr_un addr;
	socklen_t len;		/* 0: no socket */
	int fd;
} sdnotify = { .fd = -1 };

void
sdnotify_init(void)
{
	const char *s = getenv("NOTIFY_SOCKET"), *w = getenv("WATCHDOG_USEC");
	const char *p = getenv("WATCHDOG_PID");
	size_t n;

	sdnotify.len = 0;
	sdnotify_set_watchdog(0);
	if (w != NULL && (p == NULL || strtol(p, NULL, 10) == (long)getpid())) {
		long long us = strtoll(w, NULL, 10);

		if (us > 0)
			sdnotify_set_watchdog((unsigned long long)us);
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
	if (sdnotify.fd < 0)
		sdnotify.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sdnotify.fd < 0)
		sdnotify.len = 0;
}

static bool
sdnotify_write(const char *msg)
{
	size_t n = strlen(msg);

	if (sdnotify.len == 0)
		return true;
	return sendto(sdnotify.fd, msg, n, MSG_NOSIGNAL,
	    (struct sockaddr *)&sdnotify.addr, sdnotify.len) == (ssize_t)n;
}

const char *
sdnotify_impl(void)
{
	return "built-in";
}

#endif

long long
sdnotify_watchdog_ms(void)
{
	return sdnotify_wd_ms;
}

bool
sdnotify_send(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return false;
	return sdnotify_write(buf);
}
