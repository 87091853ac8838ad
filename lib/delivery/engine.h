/*
 * engine: the delivery engine: connection slots to the relay, each one
 * non-blocking SMTP connection (smtp.h) and the messages (deliver.h) it
 * carries, from connect to commit, in an event loop (evloop.h).
 *
 * Contract
 * --------
 * Both of the runner's modes drive this one engine: the daemon (many
 * slots, its schedule, its circuit breaker) and `--once` (one slot at a
 * time, over the queue's listing).  So both send, write and log alike;
 * where they differ on purpose, it is an option of the engine's
 * configuration, not a second path.
 *
 * A slot:
 * - is started by engine_start and connects (TLS and AUTH as
 *   cfg->security says); once the relay is ready it asks the driver for
 *   a message (ops->next), opens it (deliver_open; one that cannot be
 *   opened goes to ops->unopened, and the next is asked for), and runs
 *   its transactions one after the other;
 * - works while the relay works: once a message's last transaction is
 *   out, the next message is asked for, opened and its transaction made
 *   (read ahead); when the reply comes, the disk first (deliver_commit,
 *   so that a crash from then on cannot send the message twice), then
 *   the next transaction goes out at once; the message before is
 *   finished (its lines logged, freed: ops->ended) while the relay takes
 *   the next one's body.  So only the commit is on the path of the
 *   round trips;
 * - hands each message back when its attempt is over (ops->ended: the
 *   driver owns it then: deliver_conclude/deliver_finish, or keep it
 *   while its outcome cannot be written), or unsent (ops->returned: a
 *   message read ahead that the connection could not take, opened with
 *   its transaction made but nothing sent; deliver_abandon leaves its
 *   file as it was, or engine_start may take it on the next slot);
 * - an outcome that could not be written (deliver_unwritten) is handed
 *   back at once, before the message read ahead is sent, and
 *   ops->may_start is asked first: a driver that stops new attempts
 *   while an outcome is unwritten (the daemon) gets the read-ahead back;
 * - with nothing more to do, keeps the connection cfg->idle_ms for more
 *   (engine_feed) and then says QUIT; 0: QUIT at once;
 * - ends (ops->closed) on QUIT's reply, on a connection lost (the
 *   message in flight ends deferred as deliver.h says; the one read
 *   ahead is returned), or on a failed set-up.
 *
 * A failed set-up (no connection, a refused greeting or EHLO/HELO, the
 * TLS policy or AUTH: smtp.h's SMTP_EV_FAILED before SMTP_EV_READY) is
 * always reported (ops->setup_failed: kind, why, the reply, and what it
 * means for a message); what it does to the messages is the one named
 * option cfg->setup, ENGINE_SETUP_PER_MESSAGE or ENGINE_SETUP_BREAKER:
 * - ENGINE_SETUP_PER_MESSAGE is sendmail's runner (`sendmail -Ac -qf`),
 *   kept by `--once` for fidelity: the slot opens its first message
 *   before it connects; on a failed set-up that message and every one
 *   the driver still has (ops->next, to the end) are logged and written
 *   as sendmail's host status cache has them (deliver_unreachable: the
 *   first tried, the rest not): deferred with 4.4.1, or as the refusal
 *   says -- a 5xx greeting or a refused EHLO/HELO bounces every message,
 *   as sendmail does.  And a message whose connection broke between
 *   two of its transactions goes on on the next connection, as
 *   sendmail's does (ops->returned, then engine_start).
 * - ENGINE_SETUP_BREAKER is the daemon's: a message is opened only once
 *   the relay is ready, so a failed set-up touches, logs and bounces no
 *   message, not even on a 5xx greeting: the driver's circuit breaker
 *   (retry.h) holds everything and probes until the relay takes mail
 *   again (a site's relay refusing at the greeting is a relay down, not
 *   a verdict on each message).
 *
 * The ops are called from inside the engine's handlers (and from
 * engine_start, engine_abandon and engine_close_all): they may read the
 * engine (engine_find, engine_count, engine_connecting) but must not
 * start, feed or stop slots; a driver does that from the loop's prepare
 * hook (evloop_set_prepare) or its own handlers.
 */
#ifndef CQ_ENGINE_H
#define CQ_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "smtp/classify.h"
#include "delivery/deliver.h"
#include "util/evloop.h"
#include "queue/qid.h"
#include "smtp/smtp.h"

/* What a failed session set-up does to the messages (see above). */
enum engine_setup {
	ENGINE_SETUP_PER_MESSAGE,	/* sendmail's: each logged, deferred or
					 * bounced (--once) */
	ENGINE_SETUP_BREAKER,		/* none touched: the driver's breaker
					 * (the daemon) */
};

struct engine_config {
	struct evloop *loop;
	const struct deliver_config *dc;
	const char *relay_ip;		/* numeric */
	int port;
	const char *helo;		/* $j */
	const struct smtp_timeouts *timeouts;
	const struct smtp_security *security;	/* NULL: none */
	enum engine_setup setup;
	long long idle_ms;		/* an idle connection waits this long
					 * for more; 0: QUIT at once */
};

struct engine_slot;

/* A failed set-up, as ops->setup_failed gets it. */
struct engine_setup_failure {
	enum smtp_setup_kind kind;
	const char *why;		/* sendmail's words ("Connection
					 * refused by [127.0.0.1]") */
	bool no_socket;			/* no socket could even be made */
	const struct smtp_reply *reply;	/* code 0: no reply was read */
	const struct classify_result *cr;	/* what it means for a
						 * message */
};

struct engine_ops {
	/* The next message to try: true with its ID, false for none now. */
	bool (*next)(void *arg, char id[QID_MAX_LEN + 1]);
	/* May a message read ahead start now?  NULL: always. */
	bool (*may_start)(void *arg);
	/* deliver_open gave nothing for id (res says why; logged). */
	void (*unopened)(void *arg, const char *id, enum deliver_result res);
	/* The attempt at j is over (committed, or its write failed:
	 * deliver_unwritten); the driver owns j now. */
	void (*ended)(void *arg, struct deliver_job *j);
	/* j was opened and its transaction made, but nothing of it was
	 * sent (deliver_abandon leaves its file as it was); or, with
	 * ENGINE_SETUP_PER_MESSAGE, its connection broke between two of
	 * its transactions, and sendmail goes on with the rest on the next
	 * connection (engine_start(e, j, ...)).  The driver owns j now. */
	void (*returned)(void *arg, struct deliver_job *j);
	/* The relay greeted and took EHLO (and STARTTLS, AUTH). */
	void (*ready)(void *arg, struct engine_slot *s);
	/* The session could not be set up; the slot closes after this. */
	void (*setup_failed)(void *arg, struct engine_slot *s,
	    const struct engine_setup_failure *f);
	/* The slot is gone (its connection closed). */
	void (*closed)(void *arg, struct engine_slot *s);
	void *arg;
};

struct engine;

/* engine_new: cfg and ops are copied; what they point to must outlive
 * the engine (a driver whose configuration changes makes a new engine,
 * once it has no slot). */
struct engine *engine_new(const struct engine_config *cfg, const struct engine_ops *ops);
/* engine_free: engine_close_all, then free. */
void engine_free(struct engine *e);

/* engine_start: a new slot, tagged (the driver's word, engine_slot_tag).
 * With ENGINE_SETUP_PER_MESSAGE its first message is first when not
 * NULL (one ops->returned gave), else the next the driver gives; NULL
 * when there is none (no connection is made), or when the slot ended
 * already (no socket could be made: ops->setup_failed, ops->closed were
 * called).  With ENGINE_SETUP_BREAKER first must be NULL. */
struct engine_slot *engine_start(struct engine *e, struct deliver_job *first, unsigned tag);
unsigned engine_slot_tag(const struct engine_slot *s);

/* engine_feed: idle slots ask for a message again (the driver's list
 * may have grown). */
void engine_feed(struct engine *e);
/* engine_quit_idle: idle slots say QUIT now (the driver drains). */
void engine_quit_idle(struct engine *e);

/* engine_abandon: stop (SIGTERM).  A transaction whose final "." has
 * not gone out is dropped with its connection, its message left as it
 * was (deliver_abandon; logged); so is every message read ahead; idle
 * connections say QUIT; a transaction past its "." waits for its reply
 * (ops->ended as usual); no transaction starts any more. */
void engine_abandon(struct engine *e);
/* engine_close_all: every slot closed now: messages in flight ended as
 * their transactions stand (ops->ended), read-ahead ones returned. */
void engine_close_all(struct engine *e);

/* Slots open; of them, still being set up. */
int engine_count(const struct engine *e);
int engine_connecting(const struct engine *e);
/* engine_find: the job of id in a slot (in flight, read ahead, or being
 * finished), or NULL. */
const struct deliver_job *engine_find(const struct engine *e, const char *id);

#endif
