/*
 * evloop: the event loop as a registry of descriptors and timeouts.
 *
 * Contract
 * --------
 * - The loop knows no module: each registers its own descriptor (with the
 *   events it waits for and a handler) and its own timeouts, and removes
 *   them when it is done.  The loop sleeps until a registered descriptor
 *   is ready or the earliest registered timeout is due; with nothing
 *   registered but a far timeout, it does not wake before it.
 * - Events are poll(2)'s: POLLIN and POLLOUT to ask for; the handler gets
 *   those that are ready, with POLLERR and POLLHUP when they apply (a
 *   hang-up or an error also sets POLLIN, so that a reader sees it).
 *   Events 0 keeps the registration but waits for nothing.
 * - Timeouts are on CLOCK_MONOTONIC, in milliseconds (monotime.h).  Each
 *   fires once; equal times fire in the order they were added.  Ids (of
 *   descriptors and of timeouts) are never reused, and 0 is no id.
 * - Everything is safe from inside a handler: a descriptor or timeout
 *   removed before its turn in the same iteration does not fire (not
 *   even when its descriptor number was reused meanwhile); one added
 *   inside a handler waits for the next iteration, even if it is due
 *   already, so a handler that re-adds itself at delay 0 cannot starve
 *   the descriptors.  Removing an id that already fired or was removed
 *   is a no-op.
 * - One iteration: wait; the ready descriptors' handlers, in the order
 *   the kernel reports them; then the due timeouts, earliest first.  A
 *   prepare hook (evloop_set_prepare) runs before each wait: the place
 *   for work that depends on what the handlers changed.  It must not
 *   itself be a reason to wake: it runs only because something else did.
 * - evloop_run returns once evloop_stop was called (from a handler), or
 *   when the wait fails (-1, errno).
 */
#ifndef CQ_EVLOOP_H
#define CQ_EVLOOP_H

#include <stdbool.h>

typedef unsigned long long evloop_id;

typedef void (*evloop_fd_fn)(void *arg, int fd, short revents);
typedef void (*evloop_timeout_fn)(void *arg);

struct evloop;

/* evloop_new: NULL (errno) when the kernel's poller cannot be made. */
struct evloop *evloop_new(void);
/* evloop_free: the registrations go too (their descriptors stay open:
 * they are their modules'). */
void evloop_free(struct evloop *l);

/* evloop_add_fd: watch fd for events; 0 (errno) when the kernel refuses
 * it.  One registration per descriptor. */
evloop_id evloop_add_fd(struct evloop *l, int fd, short events, evloop_fd_fn fn, void *arg);
/* evloop_set_events: what to wait for now (cheap when unchanged). */
bool evloop_set_events(struct evloop *l, evloop_id id, short events);
/* evloop_remove_fd: forget it (before its descriptor is closed). */
void evloop_remove_fd(struct evloop *l, evloop_id id);

/* evloop_add_timeout_at: fn(arg) once at the monotonic time at (ms). */
evloop_id evloop_add_timeout_at(struct evloop *l, long long at, evloop_timeout_fn fn,
    void *arg);
/* evloop_add_timeout: the same, delay ms from now. */
evloop_id evloop_add_timeout(struct evloop *l, long long delay, evloop_timeout_fn fn,
    void *arg);
void evloop_remove_timeout(struct evloop *l, evloop_id id);
/* evloop_timeout_at: when id fires; -1 when it is not pending. */
long long evloop_timeout_at(const struct evloop *l, evloop_id id);

/* evloop_set_prepare: fn(arg) before each wait; NULL: none. */
void evloop_set_prepare(struct evloop *l, void (*fn)(void *arg), void *arg);

/* evloop_run: iterate until evloop_stop; 0, or -1 when waiting failed. */
int evloop_run(struct evloop *l);
void evloop_stop(struct evloop *l);

#endif
