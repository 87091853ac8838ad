#include "config.h"

#include "delivery/engine.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/log.h"
#include "util/xalloc.h"

struct engine_slot {
	struct engine *e;
	struct engine_slot *next_slot;
	struct smtp_conn *c;
	unsigned tag;
	evloop_id fd_id, deadline_id, idle_id;
	long long deadline_at;		/* of deadline_id; -1: none */
	bool connecting;		/* not READY yet */
	bool quitting;
	bool inflight;			/* cur's transaction is out */
	bool dead;			/* closed; freed once no handler of
					 * its runs */
	int busy;			/* its handlers on the stack */
	struct deliver_job *cur;	/* the message on the connection */
	struct deliver_job *ahead;	/* read ahead, with ahead_t made */
	struct smtp_txn *ahead_t;
	struct deliver_job *done;	/* committed; finished while the next
					 * one's body goes */
};

struct engine {
	struct engine_config cfg;
	struct engine_ops ops;
	struct engine_slot *slots;
	bool stopping;			/* engine_abandon: nothing starts */
};

static void engine_slot_io(void *arg, int fd, short revents);
static void engine_slot_run(struct engine_slot *s);

struct engine *
engine_new(const struct engine_config *cfg, const struct engine_ops *ops)
{
	struct engine *e = xcalloc(1, sizeof *e);

	e->cfg = *cfg;
	e->ops = *ops;
	return e;
}

void
engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	engine_close_all(e);
	free(e);
}

unsigned
engine_slot_tag(const struct engine_slot *s)
{
	return s->tag;
}

int
engine_count(const struct engine *e)
{
	const struct engine_slot *s;
	int n = 0;

	for (s = e->slots; s != NULL; s = s->next_slot)
		n += !s->dead;
	return n;
}

int
engine_connecting(const struct engine *e)
{
	const struct engine_slot *s;
	int n = 0;

	for (s = e->slots; s != NULL; s = s->next_slot)
		n += !s->dead && s->connecting;
	return n;
}

const struct deliver_job *
engine_find(const struct engine *e, const char *id)
{
	const struct engine_slot *s;

	for (s = e->slots; s != NULL; s = s->next_slot) {
		const struct deliver_job *const js[] = { s->cur, s->ahead, s->done };
		size_t k;

		for (k = 0; k < 3; k++)
			if (js[k] != NULL && strcmp(deliver_id(js[k]), id) == 0)
				return js[k];
	}
	return NULL;
}

/* ------------------------------------------------------------ jobs */

/* The next message the driver gives that opens; NULL when none. */
static struct deliver_job *
engine_open_next(struct engine *e)
{
	char id[QID_MAX_LEN + 1];

	while (!e->stopping && e->ops.next(e->ops.arg, id)) {
		enum deliver_result res;
		struct deliver_job *j = deliver_open(e->cfg.dc, id, &res);

		if (j != NULL)
			return j;
		e->ops.unopened(e->ops.arg, id, res);
	}
	return NULL;
}

static void
engine_end(struct engine *e, struct deliver_job **j)
{
	struct deliver_job *x = *j;

	*j = NULL;
	if (x != NULL)
		e->ops.ended(e->ops.arg, x);
}

static void
engine_return(struct engine *e, struct engine_slot *s)
{
	struct deliver_job *x = s->ahead;

	s->ahead = NULL;
	s->ahead_t = NULL;
	if (x != NULL)
		e->ops.returned(e->ops.arg, x);
}

/* ------------------------------------------------------------ slots */

/* Register what the connection waits for now: its events, its deadline. */
static void engine_slot_deadline(void *arg);

static void
engine_slot_arm(struct engine_slot *s)
{
	struct evloop *l = s->e->cfg.loop;
	long long dl;

	if (s->dead)
		return;
	(void)evloop_set_events(l, s->fd_id, smtp_poll_events(s->c));
	dl = smtp_deadline(s->c);
	if (dl == s->deadline_at && (dl < 0 || s->deadline_id != 0))
		return;
	evloop_remove_timeout(l, s->deadline_id);
	s->deadline_id = dl >= 0 ? evloop_add_timeout_at(l, dl, engine_slot_deadline, s) : 0;
	s->deadline_at = dl;
}

static void
engine_slot_free(struct engine_slot *s)
{
	struct engine_slot **p;

	for (p = &s->e->slots; *p != NULL; p = &(*p)->next_slot)
		if (*p == s) {
			*p = s->next_slot;
			break;
		}
	free(s);
}

/* The connection is gone: the slot too (freed now, or when its handler
 * returns).  Every job must have been handed back. */
static void
engine_slot_close(struct engine_slot *s)
{
	struct engine *e = s->e;
	struct evloop *l = e->cfg.loop;

	if (s->dead)
		return;
	s->dead = true;
	evloop_remove_fd(l, s->fd_id);
	evloop_remove_timeout(l, s->deadline_id);
	evloop_remove_timeout(l, s->idle_id);
	s->fd_id = s->deadline_id = s->idle_id = 0;
	smtp_free(s->c);
	s->c = NULL;
	e->ops.closed(e->ops.arg, s);
	if (s->busy == 0)
		engine_slot_free(s);
}

/* QUIT; SMTP_EV_CLOSED follows, or the connection is closed already
 * (it was not fit to say QUIT: nothing more will come of it, so the
 * slot closes now).  The slot may be dead after this. */
static void
engine_slot_quit(struct engine_slot *s)
{
	evloop_remove_timeout(s->e->cfg.loop, s->idle_id);
	s->idle_id = 0;
	if (s->quitting)
		return;
	smtp_quit(s->c);
	s->quitting = true;
	if (smtp_poll_events(s->c) == 0 && smtp_deadline(s->c) < 0)
		engine_slot_close(s);
}

static void
engine_slot_idle_timeout(void *arg)
{
	struct engine_slot *s = arg;

	s->idle_id = 0;
	s->busy++;
	engine_slot_run(s);	/* last call: more may have come */
	if (!s->dead && !s->inflight && !s->quitting)
		engine_slot_quit(s);
	engine_slot_arm(s);
	if (--s->busy == 0 && s->dead)
		engine_slot_free(s);
}

/* While a transaction is out and it is the message's last: the next
 * message is read and its transaction made, so that it goes out as soon
 * as the reply is in. */
static void
engine_read_ahead(struct engine_slot *s)
{
	struct engine *e = s->e;

	if (s->ahead != NULL || s->cur == NULL || deliver_pending(s->cur))
		return;
	s->ahead = engine_open_next(e);
	if (s->ahead != NULL)
		s->ahead_t = deliver_next(s->ahead, smtp_extensions(s->c));
}

static void
engine_submit(struct engine_slot *s, struct smtp_txn *t)
{
	struct engine *e = s->e;

	if (!smtp_submit(s->c, t)) {
		log_msg(LOG_LVL_ERR, "%s: the connection could not take the transaction",
		    deliver_id(s->cur));
		engine_end(e, &s->done);
		engine_end(e, &s->cur);
		return;
	}
	s->inflight = true;
	engine_read_ahead(s);
}

/* A usable connection with nothing out: the current message's next
 * transaction, else the next message's first; idle when there is none. */
static void
engine_slot_run(struct engine_slot *s)
{
	struct engine *e = s->e;

	while (!s->inflight && smtp_usable(s->c)) {
		struct smtp_txn *t;

		if (s->cur == NULL) {
			if (e->stopping)
				break;
			if (s->ahead != NULL) {
				s->cur = s->ahead;
				s->ahead = NULL;
				s->ahead_t = NULL;
			} else if ((s->cur = engine_open_next(e)) == NULL) {
				break;
			}
		}
		if ((t = deliver_next(s->cur, smtp_extensions(s->c))) == NULL) {
			engine_end(e, &s->done);
			engine_end(e, &s->cur);
			continue;
		}
		evloop_remove_timeout(e->cfg.loop, s->idle_id);
		s->idle_id = 0;
		engine_submit(s, t);
		if (!s->inflight)
			return;	/* not taken: the connection is not fit */
	}
	if (s->inflight)
		return;
	/* Nothing to do: idle. */
	engine_end(e, &s->done);
	if (s->quitting)
		return;
	if (e->cfg.idle_ms <= 0 || e->stopping || !smtp_usable(s->c))
		engine_slot_quit(s);
	else if (s->idle_id == 0)
		s->idle_id = evloop_add_timeout(e->cfg.loop, e->cfg.idle_ms,
		    engine_slot_idle_timeout, s);
}

/*
 * The session could not be set up (or no socket made: why is then the
 * error).  The one place of the policy (engine.h): per message, as
 * sendmail, or nothing but the report, for the driver's breaker.
 */
static void
engine_setup_failed(struct engine_slot *s, const char *nosock_why)
{
	struct engine *e = s->e;
	struct engine_setup_failure f;
	struct classify_result cr;
	struct smtp_reply none;
	struct deliver_job *j;
	bool tried = true;

	memset(&none, 0, sizeof none);
	memset(&f, 0, sizeof f);
	f.kind = s->c != NULL ? smtp_setup_kind(s->c) : SMTP_SETUP_CONNECTION;
	f.why = s->c != NULL ? smtp_error(s->c) : nosock_why;
	f.no_socket = s->c == NULL;
	f.reply = &none;
	/* A refusal at the greeting or EHLO: 4xx defers, 5xx fails (sendmail
	 * bounces there); no connection, or no word from the relay, is
	 * sendmail's 4.4.1; the TLS policy or AUTH defers, whatever the
	 * relay said (classify.h). */
	if (s->c != NULL) {
		const struct smtp_reply *reply;
		enum smtp_status st = smtp_setup_status(s->c, &reply);

		f.reply = reply;
		if (reply->code != 0 || f.kind != SMTP_SETUP_CONNECTION)
			classify(smtp_awaiting(s->c), st, reply, &cr);
		else
			classify(SMTP_PHASE_CONNECT, SMTP_IOERR, reply, &cr);
	} else {
		classify(SMTP_PHASE_CONNECT, SMTP_IOERR, &none, &cr);
	}
	f.cr = &cr;
	s->connecting = false;
	e->ops.setup_failed(e->ops.arg, s, &f);
	if (e->cfg.setup == ENGINE_SETUP_PER_MESSAGE) {
		/* sendmail's host status cache: the first message tried,
		 * every other one logged without a try, to the end. */
		j = s->cur;
		s->cur = NULL;
		while (j != NULL) {
			deliver_unreachable(j, f.why, tried, &cr, f.reply);
			e->ops.ended(e->ops.arg, j);
			tried = false;
			j = engine_open_next(e);
		}
	} else if (s->cur != NULL) {
		/* Not the breaker's way (nothing is opened before READY),
		 * but never lost. */
		engine_end(e, &s->cur);
	}
	engine_slot_close(s);
}

/* The transaction on s ended: the disk first, then the next one out. */
static void
engine_txn_done(struct engine_slot *s)
{
	struct engine *e = s->e;
	struct deliver_job *fin;
	bool usable;

	/* The message before first: its lines before this one's. */
	engine_end(e, &s->done);
	s->inflight = false;
	deliver_txn_done(s->cur);
	deliver_commit(s->cur);
	usable = smtp_usable(s->c);
	if (deliver_pending(s->cur) && !e->stopping) {
		if (usable) {
			engine_slot_run(s);
			return;
		}
		if (e->cfg.setup == ENGINE_SETUP_PER_MESSAGE) {
			/* sendmail's way: the rest of the message on the
			 * next connection (the driver's next slot). */
			fin = s->cur;
			s->cur = NULL;
			e->ops.returned(e->ops.arg, fin);
			engine_slot_close(s);
			return;
		}
	}
	fin = s->cur;
	s->cur = NULL;
	/* Finished while the next one's body goes, unless there is no next
	 * one on this connection, or its outcome is not on disk: a driver
	 * that holds it must know before anything new goes out. */
	if (!usable || deliver_unwritten(fin))
		e->ops.ended(e->ops.arg, fin);
	else
		s->done = fin;
	if (!usable) {
		/* Lost, timed out, garbled or closed by the relay in the
		 * middle of the transaction: nothing more will come. */
		engine_return(e, s);
		engine_slot_close(s);
		return;
	}
	if (s->ahead != NULL) {
		if (e->stopping || (e->ops.may_start != NULL && !e->ops.may_start(e->ops.arg))) {
			engine_return(e, s);
		} else if (s->ahead_t != NULL) {
			s->cur = s->ahead;
			s->ahead = NULL;
			engine_submit(s, s->ahead_t);
			s->ahead_t = NULL;
			/* engine_submit read the one after ahead. */
			return;
		}
	}
	engine_slot_run(s);
}

static void
engine_slot_event(struct engine_slot *s, enum smtp_event ev)
{
	struct engine *e = s->e;

	switch (ev) {
	case SMTP_EV_NONE:
		return;
	case SMTP_EV_READY:
		s->connecting = false;
		e->ops.ready(e->ops.arg, s);
		engine_slot_run(s);
		return;
	case SMTP_EV_TXN_DONE:
		engine_txn_done(s);
		return;
	case SMTP_EV_FAILED:
		if (s->connecting) {
			engine_setup_failed(s, NULL);
			return;
		}
		/* Broke while idle. */
		engine_end(e, &s->done);
		engine_end(e, &s->cur);
		engine_return(e, s);
		engine_slot_close(s);
		return;
	case SMTP_EV_CLOSED:
		engine_end(e, &s->done);
		engine_end(e, &s->cur);
		engine_return(e, s);
		engine_slot_close(s);
		return;
	}
}

/* The connection is ready, or its deadline passed: advance it. */
static void
engine_slot_io(void *arg, int fd, short revents)
{
	struct engine_slot *s = arg;

	(void)fd;
	s->busy++;
	for (;;) {
		enum smtp_event ev = smtp_io(s->c, revents);

		engine_slot_event(s, ev);
		if (ev == SMTP_EV_NONE || s->dead)
			break;
		revents = 0;
	}
	/* The body is out and the relay works on it: finish the message
	 * before meanwhile. */
	if (!s->dead && s->done != NULL && s->inflight && smtp_awaiting(s->c) == SMTP_PHASE_DOT)
		engine_end(s->e, &s->done);
	engine_slot_arm(s);
	if (--s->busy == 0 && s->dead)
		engine_slot_free(s);
}

static void
engine_slot_deadline(void *arg)
{
	struct engine_slot *s = arg;

	s->deadline_id = 0;
	s->deadline_at = -1;
	engine_slot_io(s, -1, 0);
}

struct engine_slot *
engine_start(struct engine *e, struct deliver_job *first, unsigned tag)
{
	struct engine_slot *s;
	struct error err;

	if (e->stopping) {
		if (first != NULL)
			e->ops.returned(e->ops.arg, first);
		return NULL;
	}
	s = xcalloc(1, sizeof *s);
	s->e = e;
	s->tag = tag;
	s->deadline_at = -1;
	if (e->cfg.setup == ENGINE_SETUP_PER_MESSAGE) {
		/* sendmail's order: the message first, then the
		 * connection; no message, no connection. */
		s->cur = first != NULL ? first : engine_open_next(e);
		if (s->cur == NULL) {
			free(s);
			return NULL;
		}
	} else if (first != NULL) {
		e->ops.returned(e->ops.arg, first);
	}
	s->next_slot = e->slots;
	e->slots = s;
	s->connecting = true;
	s->busy++;
	s->c = smtp_open(e->cfg.relay_ip, e->cfg.port, e->cfg.helo, e->cfg.timeouts, &err);
	if (s->c == NULL) {
		engine_setup_failed(s, err.reason);
	} else {
		if (e->cfg.security != NULL)
			smtp_secure(s->c, e->cfg.security);
		s->fd_id = evloop_add_fd(e->cfg.loop, smtp_fd(s->c), smtp_poll_events(s->c),
		    engine_slot_io, s);
		if (s->fd_id == 0) {
			/* Cannot be watched: as a connection that failed. */
			smtp_free(s->c);
			s->c = NULL;
			engine_setup_failed(s, "cannot watch the connection");
		} else {
			engine_slot_arm(s);
		}
	}
	if (--s->busy == 0 && s->dead) {
		engine_slot_free(s);
		return NULL;
	}
	return s;
}

/* fn on every idle slot (connected, nothing in flight, not quitting),
 * each kept alive through it (busy) and its interest set again after. */
static void
engine_each_idle(struct engine *e, void (*fn)(struct engine_slot *s))
{
	struct engine_slot *s, *next;

	for (s = e->slots; s != NULL; s = next) {
		next = s->next_slot;
		if (s->dead || s->connecting || s->quitting || s->inflight || s->busy)
			continue;
		s->busy++;
		fn(s);
		engine_slot_arm(s);
		if (--s->busy == 0 && s->dead)
			engine_slot_free(s);
	}
}

/* An idle slot says QUIT, the message it finished logged first. */
static void
engine_slot_quit_idle(struct engine_slot *s)
{
	engine_end(s->e, &s->done);
	engine_slot_quit(s);
}

void
engine_feed(struct engine *e)
{
	engine_each_idle(e, engine_slot_run);
}

void
engine_quit_idle(struct engine *e)
{
	engine_each_idle(e, engine_slot_quit_idle);
}

void
engine_abandon(struct engine *e)
{
	struct engine_slot *s, *next;

	e->stopping = true;
	for (s = e->slots; s != NULL; s = next) {
		enum smtp_abandon a;

		next = s->next_slot;
		if (s->dead)
			continue;
		/* Read ahead: nothing of it went out. */
		if (s->ahead != NULL) {
			(void)deliver_abandon(s->ahead);
			s->ahead = NULL;
			s->ahead_t = NULL;
		}
		if ((a = smtp_abandon(s->c)) == SMTP_ABANDON_WAIT)
			continue;
		engine_end(e, &s->done);
		if (s->cur != NULL) {
			log_msg(LOG_LVL_INFO, "%s: stopping: transaction abandoned before its final \".\"; the message stays queued as it was",
			    deliver_id(s->cur));
			(void)deliver_abandon(s->cur);
			s->cur = NULL;
			s->inflight = false;
		}
		evloop_remove_timeout(e->cfg.loop, s->idle_id);
		s->idle_id = 0;
		if (a == SMTP_ABANDON_QUITTING) {
			s->quitting = true;
			engine_slot_arm(s);
		} else {
			s->busy++;
			engine_slot_close(s);
			if (--s->busy == 0)
				engine_slot_free(s);
		}
	}
}

void
engine_close_all(struct engine *e)
{
	struct engine_slot *s, *next;

	for (s = e->slots; s != NULL; s = next) {
		next = s->next_slot;
		if (s->dead)
			continue;
		s->busy++;
		engine_end(e, &s->done);
		engine_end(e, &s->cur);
		engine_return(e, s);
		engine_slot_close(s);
		if (--s->busy == 0)
			engine_slot_free(s);
	}
}
