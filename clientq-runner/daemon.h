/*
 * daemon: clientq-runner's long-running mode.
 *
 * Contract
 * --------
 * One thread, one epoll loop over inotify (the queue directory), a
 * signalfd and the relay connections; its timeout is the earliest of the
 * next due message, the connections' deadlines, the breaker's next probe,
 * the watchdog and the safety-net sweep, so an idle daemon does not wake.
 * - The directory is the truth: every message is scheduled from its own
 *   file (K and N through retry_due; a file held by its submitter, or
 *   still empty, a couple of seconds later), at start, on IN_MOVED_TO or
 *   IN_CLOSE_WRITE of a qf, after each attempt, and by a rescan on
 *   IN_Q_OVERFLOW, SIGHUP and every five minutes.
 * - Up to cfg->connections connections; each takes the next due message
 *   and runs its transactions (deliver.h), then the next, and closes once
 *   nothing is due.
 * - The relay's circuit breaker (retry.h): after a failed connection
 *   nothing is tried but one probe on a growing interval; one log line
 *   when the relay goes away, one when it is back.
 * - SIGUSR1 is a flush: the breaker lets a probe go at once and every
 *   message is due now.  SIGHUP rescans.  SIGTERM/SIGINT: nothing new
 *   starts; running transactions end (within their timeouts, at most
 *   ten seconds), then exit 0.
 * - systemd: READY=1 once the queue is indexed and watched, STATUS= kept
 *   current, WATCHDOG=1 from the loop, RELOADING=1, STOPPING=1
 *   (sdnotify.h).
 */
#ifndef CQ_DAEMON_H
#define CQ_DAEMON_H

#include "deliver.h"
#include "retry.h"
#include "smtp.h"

struct daemon_config {
	struct deliver_config *dc;	/* its queued callback is the daemon's */
	const char *relay_ip;
	int port;
	const char *helo;		/* $j */
	const struct smtp_timeouts *timeouts;
	struct retry_policy policy;
	int connections;		/* at least 1 */
	long long probe_cap_ms;		/* the breaker's largest interval */
};

/* daemon_run: until SIGTERM; the exit status (0, or 71 when the queue
 * cannot be watched). */
int daemon_run(struct daemon_config *cfg);

#endif
