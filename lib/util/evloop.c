#include "config.h"

#include "util/evloop.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "util/monotime.h"
#include "util/xalloc.h"

/* Events read per wait; more ready descriptors wait for the next turn
 * (level-triggered: nothing is lost). */
#define EVLOOP_BATCH 64

struct evloop_fd {
	evloop_id id;
	int fd;
	short events;
	evloop_fd_fn fn;
	void *arg;
};

struct evloop_timeout {
	evloop_id id;
	long long at;
	evloop_timeout_fn fn;
	void *arg;
	struct evloop_timeout *next;
};

struct evloop {
	int epfd;
	evloop_id last_id;
	/* Few descriptors (the daemon's: a handful and one per relay
	 * connection): an array, searched by id. */
	struct evloop_fd *fds;
	size_t nfds, capfds;
	/* Few timeouts too: a list sorted by (at, id), as chrony keeps its
	 * own; the earliest is the head. */
	struct evloop_timeout *timeouts;
	void (*prepare)(void *arg);
	void *prepare_arg;
	bool stop;
};

struct evloop *
evloop_new(void)
{
	struct evloop *l;
	int epfd = epoll_create1(EPOLL_CLOEXEC);

	if (epfd < 0)
		return NULL;
	l = xcalloc(1, sizeof *l);
	l->epfd = epfd;
	return l;
}

void
evloop_free(struct evloop *l)
{
	if (l == NULL)
		return;
	while (l->timeouts != NULL) {
		struct evloop_timeout *t = l->timeouts;

		l->timeouts = t->next;
		free(t);
	}
	free(l->fds);
	close(l->epfd);
	free(l);
}

static uint32_t
evloop_epoll_events(short events)
{
	return ((events & POLLIN) ? EPOLLIN : 0) | ((events & POLLOUT) ? EPOLLOUT : 0);
}

static struct evloop_fd *
evloop_find_fd(const struct evloop *l, evloop_id id)
{
	size_t i;

	for (i = 0; i < l->nfds; i++)
		if (l->fds[i].id == id)
			return &l->fds[i];
	return NULL;
}

evloop_id
evloop_add_fd(struct evloop *l, int fd, short events, evloop_fd_fn fn, void *arg)
{
	struct epoll_event ev;
	struct evloop_fd *f;

	memset(&ev, 0, sizeof ev);
	ev.events = evloop_epoll_events(events);
	ev.data.u64 = l->last_id + 1;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return 0;
	if (l->nfds == l->capfds) {
		l->capfds = l->capfds ? l->capfds * 2 : 8;
		l->fds = xreallocarray(l->fds, l->capfds, sizeof *l->fds);
	}
	f = &l->fds[l->nfds++];
	f->id = ++l->last_id;
	f->fd = fd;
	f->events = events;
	f->fn = fn;
	f->arg = arg;
	return f->id;
}

bool
evloop_set_events(struct evloop *l, evloop_id id, short events)
{
	struct evloop_fd *f = evloop_find_fd(l, id);
	struct epoll_event ev;

	if (f == NULL)
		return false;
	if (evloop_epoll_events(f->events) == evloop_epoll_events(events))
		return true;
	memset(&ev, 0, sizeof ev);
	ev.events = evloop_epoll_events(events);
	ev.data.u64 = id;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, f->fd, &ev) < 0)
		return false;
	f->events = events;
	return true;
}

void
evloop_remove_fd(struct evloop *l, evloop_id id)
{
	struct evloop_fd *f = evloop_find_fd(l, id);

	if (f == NULL)
		return;
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, f->fd, NULL);
	/* The events of this wait still name the id: unknown now, so they
	 * are dropped (evloop_dispatch). */
	*f = l->fds[--l->nfds];
}

evloop_id
evloop_add_timeout_at(struct evloop *l, long long at, evloop_timeout_fn fn, void *arg)
{
	struct evloop_timeout *t = xcalloc(1, sizeof *t), **p;

	t->id = ++l->last_id;
	t->at = at;
	t->fn = fn;
	t->arg = arg;
	/* After every one at the same time: ties fire in order of adding. */
	for (p = &l->timeouts; *p != NULL && (*p)->at <= at; p = &(*p)->next)
		;
	t->next = *p;
	*p = t;
	return t->id;
}

evloop_id
evloop_add_timeout(struct evloop *l, long long delay, evloop_timeout_fn fn, void *arg)
{
	return evloop_add_timeout_at(l, monotime_ms() + (delay > 0 ? delay : 0), fn, arg);
}

void
evloop_remove_timeout(struct evloop *l, evloop_id id)
{
	struct evloop_timeout **p;

	if (id == 0)
		return;
	for (p = &l->timeouts; *p != NULL; p = &(*p)->next)
		if ((*p)->id == id) {
			struct evloop_timeout *t = *p;

			*p = t->next;
			free(t);
			return;
		}
}

long long
evloop_timeout_at(const struct evloop *l, evloop_id id)
{
	const struct evloop_timeout *t;

	if (id == 0)
		return -1;
	for (t = l->timeouts; t != NULL; t = t->next)
		if (t->id == id)
			return t->at;
	return -1;
}

void
evloop_set_prepare(struct evloop *l, void (*fn)(void *arg), void *arg)
{
	l->prepare = fn;
	l->prepare_arg = arg;
}

void
evloop_stop(struct evloop *l)
{
	l->stop = true;
}

/* The wait: until the earliest timeout, or for ever when there is none
 * (never a periodic wake-up of the loop's own). */
static int
evloop_wait_ms(const struct evloop *l, long long now)
{
	long long d;

	if (l->timeouts == NULL)
		return -1;
	d = l->timeouts->at - now;
	if (d < 0)
		return 0;
	return d > INT_MAX ? INT_MAX : (int)d;
}

/* The timeouts due at now that were there when the iteration began (id
 * at most last): one at a time, from the head again after each, since a
 * handler may remove or add any of them. */
static void
evloop_fire_timeouts(struct evloop *l, evloop_id last)
{
	for (;;) {
		struct evloop_timeout *t, **p;
		long long now = monotime_ms();
		evloop_timeout_fn fn;
		void *arg;

		for (p = &l->timeouts; (t = *p) != NULL && t->at <= now; p = &t->next)
			if (t->id <= last)
				break;
		if (t == NULL || t->at > now || l->stop)
			return;
		*p = t->next;
		fn = t->fn;
		arg = t->arg;
		free(t);
		fn(arg);
	}
}

int
evloop_run(struct evloop *l)
{
	struct epoll_event evs[EVLOOP_BATCH];

	l->stop = false;
	while (!l->stop) {
		evloop_id last;
		int i, n;

		if (l->prepare != NULL) {
			l->prepare(l->prepare_arg);
			if (l->stop)
				break;
		}
		last = l->last_id;
		n = epoll_wait(l->epfd, evs, EVLOOP_BATCH, evloop_wait_ms(l, monotime_ms()));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (i = 0; i < n && !l->stop; i++) {
			struct evloop_fd *f = evloop_find_fd(l, evs[i].data.u64);
			uint32_t e = evs[i].events;
			short rev;

			if (f == NULL || f->id > last)
				continue;	/* removed (or replaced) meanwhile */
			rev = (short)(((e & (EPOLLIN | EPOLLHUP | EPOLLERR)) ? POLLIN : 0) |
			    ((e & EPOLLOUT) ? POLLOUT : 0) | ((e & EPOLLERR) ? POLLERR : 0) |
			    ((e & EPOLLHUP) ? POLLHUP : 0));
			f->fn(f->arg, f->fd, rev);
		}
		evloop_fire_timeouts(l, last);
	}
	return 0;
}
