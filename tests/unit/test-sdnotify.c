/*
 * sdnotify, whichever implementation this build has (libsystemd's, or the
 * built-in one of a build --with-systemd=no): the same behaviour from
 * both, and CI runs this test in both builds.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/sdnotify.h"

static int sink = -1;
static char path[108];

/* A datagram socket bound at a path, as systemd's notify socket is. */
static void
bind_sink(void)
{
	struct sockaddr_un a;
	struct timeval tv = { 2, 0 };

	snprintf(path, sizeof path, "/tmp/cq-sdnotify-%ld", (long)getpid());
	unlink(path);
	sink = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(sink, 0);
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	strcpy(a.sun_path, path);
	cr_assert_eq(bind(sink, (struct sockaddr *)&a, sizeof a), 0);
	setsockopt(sink, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static void
cleanup(void)
{
	if (sink >= 0)
		close(sink);
	unlink(path);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

TestSuite(sdnotify, .fini = cleanup);

Test(sdnotify, sends_each_message_as_one_datagram)
{
	char buf[256];
	ssize_t n;

	bind_sink();
	setenv("NOTIFY_SOCKET", path, 1);
	sdnotify_init();
	cr_assert(sdnotify_send("READY=1"));
	n = recv(sink, buf, sizeof buf - 1, 0);
	cr_assert_gt(n, 0, "%s: nothing arrived", sdnotify_impl());
	buf[n] = '\0';
	cr_expect_str_eq(buf, "READY=1");
	cr_assert(sdnotify_send("STATUS=%zu messages queued", (size_t)3));
	n = recv(sink, buf, sizeof buf - 1, 0);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_expect_str_eq(buf, "STATUS=3 messages queued");
}

/* No socket: nothing to do, and that is no failure. */
Test(sdnotify, without_a_socket_is_a_no_op)
{
	unsetenv("NOTIFY_SOCKET");
	sdnotify_init();
	cr_expect(sdnotify_send("READY=1"));
	cr_expect_eq(sdnotify_watchdog_ms(), 0);
}

/* A socket that is not there: the caller is told (and logs it). */
Test(sdnotify, a_missing_socket_is_a_failure)
{
	setenv("NOTIFY_SOCKET", "/nonexistent/cq-notify.sock", 1);
	sdnotify_init();
	cr_expect_not(sdnotify_send("READY=1"), "%s", sdnotify_impl());
}

/* The watchdog: half the interval, only for the process it names. */
Test(sdnotify, watchdog_interval_for_this_process_only)
{
	char pid[32];

	setenv("WATCHDOG_USEC", "400000", 1);
	unsetenv("WATCHDOG_PID");
	sdnotify_init();
	cr_expect_eq(sdnotify_watchdog_ms(), 200);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	setenv("WATCHDOG_USEC", "400000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	sdnotify_init();
	cr_expect_eq(sdnotify_watchdog_ms(), 200);
	snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_USEC", "400000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	sdnotify_init();
	cr_expect_eq(sdnotify_watchdog_ms(), 0, "another process's watchdog");
}
