/*
 * sdnotify: systemd's notification protocol (sd_notify(3)) and its
 * watchdog.
 *
 * Contract
 * --------
 * sdnotify_init reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once;
 * without them every call is a no-op, so the daemon runs the same without
 * systemd.  sdnotify_send sends one datagram ("READY=1", "STATUS=...",
 * "WATCHDOG=1", "RELOADING=1\nMONOTONIC_USEC=...", "STOPPING=1"); a send
 * that fails is reported, loudly, by the caller (the result says so).
 * The watchdog interval is honoured only when WATCHDOG_PID is unset or
 * names this process.
 *
 * Built with libsystemd (HAVE_LIBSYSTEMD), it is sd_notify(3) and
 * sd_watchdog_enabled(3), which know every socket systemd may name
 * (a path, "@abstract", "vsock:CID:PORT").  Without it (the BSDs,
 * --with-systemd=no) the same protocol is written here, for a path or an
 * abstract socket: what a service manager there can offer.
 * sdnotify_impl says which one this build has.
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

/* sdnotify_impl: "libsystemd" or "built-in". */
const char *sdnotify_impl(void);

#endif
