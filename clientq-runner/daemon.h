/*
 * daemon: clientq-runner's long-running mode.
 *
 * Contract
 * --------
 * One thread, one event loop (evloop.h), where each part registers its
 * own descriptors and timeouts: inotify (the queue directory), a
 * signalfd, the control server, each relay connection (engine.h), and
 * the daemon's few timeouts (the next due message when a connection
 * could take it, the breaker's next probe, a held outcome's next write,
 * STATUS='s rate limit, the watchdog).  So an idle daemon -- an empty
 * queue, the relay up -- is woken by nothing but the watchdog.
 * - The directory is the truth: every message is scheduled from its own
 *   file (K and N through retry_due; a file held by its submitter, or
 *   still empty, a couple of seconds later), at start, on IN_MOVED_TO or
 *   IN_CLOSE_WRITE of a qf, after each attempt, and by a rescan on
 *   IN_Q_OVERFLOW and SIGHUP.  There is no periodic rescan: what
 *   inotify could miss, its overflow event says; a flush (SIGUSR1,
 *   clientqctl flush, the timer unit) makes everything due.
 * - Up to cfg->connections connections, driven by the delivery engine
 *   that --once drives too (engine.h); each takes the next due message
 *   once the relay is ready, runs its transactions (deliver.h), reads
 *   the next one while the relay works, and closes a second after
 *   nothing is due.  A failed session set-up, a 5xx greeting or a
 *   refused EHLO/HELO included, is the breaker's
 *   (ENGINE_SETUP_BREAKER), where --once bounces as sendmail does.
 * - The relay's circuit breaker (retry.h): after a failed connection
 *   nothing is tried but one probe on a growing interval; one log line
 *   when the relay goes away, one when it is back.  A session that the
 *   TLS policy or AUTH refuses (smtp.h's SMTP_SETUP_TLS, _AUTH) opens the
 *   breaker the same way, with its own line: the relay is there, but no
 *   message can go until the certificate, the policy or the credentials
 *   change, and that is true of every message alike -- so nothing is
 *   tried (or rewritten, or logged) per message, and the fix is found by
 *   the next probe, at once after a reload or a flush, instead of after
 *   each message's own backoff.
 * - SIGUSR1 is a flush: the breaker lets a probe go at once and every
 *   message is due now.
 * - An attempt whose outcome cannot be written (a full disk: deliver.h)
 *   keeps it in memory, with the message's lock, and writes it once it
 *   can (tried after 1 s, doubling to 30 s, and at a flush); meanwhile
 *   no new attempt starts, so nothing is sent that could not be
 *   recorded.  One line says so, one says when it is over.
 * - The control socket (cfg->control_fd; control.h, clientqctl(8)):
 *   flush, list, show, stats, check, status for everyone (each user sees
 *   their own messages), pause, resume, reload, hold, release, remove for
 *   root and the runner's user (daemon-control.c).  Pause stops new
 *   attempts, as a reload's drain does, until resume; the queue is still
 *   watched and indexed.
 * - SIGHUP: RELOADING=1; nothing new starts, running transactions end,
 *   connections close; then cfg->reload (submit.cf again) and a rescan;
 *   READY=1.  A reload that fails keeps the running configuration.
 * - SIGTERM/SIGINT: STOPPING=1; nothing new starts; a transaction whose
 *   final "." has not gone out is abandoned (the connection closed
 *   without it, so the relay drops it; the file stays as it is); one past
 *   its "." waits for the reply, within its timeout; exit 0 within ten
 *   seconds.
 * - systemd: READY=1 once the queue is indexed and watched, STATUS= kept
 *   current, WATCHDOG=1 from the loop, RELOADING=1, STOPPING=1
 *   (sdnotify.h).  In a build with test hooks (--enable-test-hooks),
 *   CLIENTQ_TEST_STALL=1 in the environment makes SIGUSR2 block the loop
 *   for 10 s: a test's stuck loop, whose pings stop.
 */
#ifndef CQ_DAEMON_H
#define CQ_DAEMON_H

#include <sys/types.h>

#include "delivery/deliver.h"
#include "delivery/retry.h"
#include "smtp/smtp.h"

struct daemon;

struct daemon_config {
	struct deliver_config *dc;	/* its queued callback is the daemon's */
	const char *relay_ip;
	int port;
	const char *helo;		/* $j */
	const struct smtp_timeouts *timeouts;
	const struct smtp_security *security;	/* STARTTLS, AUTH; NULL: none */
	struct retry_policy policy;
	int connections;		/* at least 1 */
	long long probe_cap_ms;		/* the breaker's largest interval */
	/* SIGHUP: called once no message is in flight and every connection
	 * is closed; on success it has set dc, relay_ip, port, helo,
	 * timeouts, security, policy, connections and probe_cap_ms anew
	 * (and the old ones may be gone).  NULL: a rescan. */
	bool (*reload)(void *arg, struct daemon_config *cfg);
	void *reload_arg;
	/* The control socket, listening (control.h), or -1. */
	int control_fd;
	/* The runner's user: like root, it may do everything. */
	uid_t runner_uid;
	/* Written one byte and closed once READY (--background's parent
	 * waits on it); -1: none. */
	int ready_fd;
	/* A part above the daemon's core, attached once its loop is set up
	 * (the control socket's commands: daemon-control.h); false stops
	 * the start.  NULL: none. */
	bool (*attach)(struct daemon *d, void *arg);
	void *attach_arg;
};

/* daemon_run's result, the process's exit status (sysexits, as the
 * runner's own codes in clientq-runner(8)). */
enum daemon_exit {
	DAEMON_EXIT_OK = 0,
	DAEMON_EXIT_OSERR = 71,		/* the queue cannot be watched */
};

/* daemon_run: until SIGTERM. */
enum daemon_exit daemon_run(struct daemon_config *cfg);

#endif
