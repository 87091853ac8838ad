/*
 * daemon-control: the control socket's commands (clientqctl(8)), a part
 * of the daemon above its core.
 *
 * Contract
 * --------
 * - daemon_control_attach is the daemon's attach hook (daemon.h): with a
 *   control socket in the configuration (control_fd >= 0) it serves it on
 *   the daemon's loop from then on, and follows the daemon (outcomes for
 *   flush --wait, reloads, children, the stop) as an observer; without
 *   one it does nothing.  false when the socket cannot be served (said).
 * - Who may do what, and what runs where (on the loop, or in a child
 *   that reads the queue), is said in daemon-control.c.
 */
#ifndef CQ_DAEMON_CONTROL_H
#define CQ_DAEMON_CONTROL_H

#include <stdbool.h>

struct daemon;

bool daemon_control_attach(struct daemon *d, void *arg);

#endif
