/*
 * sdnotify: systemd's notification protocol, spoken directly.
 *
 * Contract
 * --------
 * sdnotify_init reads NOTIFY_SOCKET (a path, or "@name" in the abstract
 * namespace), WATCHDOG_USEC and WATCHDOG_PID once; without them every
 * call is a no-op, so the daemon runs the same without systemd.
 * sdnotify_send writes one datagram ("READY=1", "STATUS=...",
 * "WATCHDOG=1", "RELOADING=1\nMONOTONIC_USEC=...", "STOPPING=1"); a send
 * that fails is reported, loudly, by the caller (the result says so).
 * The watchdog interval is honoured only when WATCHDOG_PID is unset or
 * names this process.  (The wire format is systemd's sd_notify(3); it is
 * written here rather than taken from libsystemd so that the tests can
 * bind their own socket on any build.)
 */
#ifndef CQ_SDNOTIFY_H
#define CQ_SDNOTIFY_H

#include <stdbool.h>

void sdnotify_init(void);

/* sdnotify_send: printf-style; false (errno set) when the send failed;
 * true when sent or when there is no socket. */
bool sdnotify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* sdnotify_watchdog_ms: half of WATCHDOG_USEC in ms (the ping interval),
 * or 0 when no watchdog is asked for. */
long long sdnotify_watchdog_ms(void);

#endif
