/*
 * daemon-private.h: the daemon's state, shared by its two files only:
 * daemon.c (the loop and delivery) and daemon-control.c (the control
 * socket's commands), which is layered above it: daemon-control.c calls
 * daemon.c's functions below; daemon.c calls nothing of it but through
 * the observers it registers (struct daemon_observer).  Nothing else
 * includes it.
 */
#ifndef CQ_DAEMON_PRIVATE_H
#define CQ_DAEMON_PRIVATE_H

#include <stdbool.h>
#include <sys/types.h>

#include "config/conf.h"
#include "control.h"
#include "daemon.h"
#include "recent.h"
#include "delivery/deliver.h"
#include "delivery/engine.h"
#include "util/evloop.h"
#include "queue/idmap.h"
#include "queue/qid.h"
#include "delivery/retry.h"
#include "delivery/sched.h"
#include "queue/spool.h"
#include "smtp/verify.h"

/* A message held by its submitter (or still empty) is looked at again
 * after this long, unless its close is seen first. */
#define DAEMON_LOCKED_RETRY_MS 2000
/* A message skipped for a passing reason (a system error) is looked at
 * again after this long at the soonest. */
#define DAEMON_SKIPPED_RETRY_MS 2000
/* IDs a scan found, or an inotify event named, that nobody has read
 * yet wait in d->unread, apart from the schedule (whose due times come
 * from the files): with one of these values, the second when a flush
 * named them meanwhile (due at once once read, whatever the file says
 * of its backoff). */
#define DAEMON_UNREAD (-1LL)
#define DAEMON_UNREAD_FLUSHED (-2LL)
/* Reading those takes at most this long per turn of the loop. */
#define DAEMON_VERIFY_MS 5
/* A rescan reads this many directory entries per turn of the loop. */
#define DAEMON_RESCAN_SLICE 4096
/* A connection with nothing to do is closed after this long. */
#define DAEMON_IDLE_MS 1000
/* SIGTERM: running transactions get this long to end. */
#define DAEMON_STOP_MS 10000
/* An outcome that could not be written is tried again after this long,
 * doubling up to the cap. */
#define DAEMON_HELD_RETRY_MS 1000
#define DAEMON_HELD_RETRY_MAX_MS 30000

/* Connections to the relay at most (--connections, daemon.connections). */
#define DAEMON_MAX_CONN CONF_CONNECTIONS_MAX

/* The latency histogram's upper bounds, in seconds (queued to
 * delivered); one more bucket for everything above. */
#define DAEMON_LAT_BOUNDS { 1, 5, 30, 60, 300, 1800, 3600, 14400, 86400 }
#define DAEMON_LAT_N 9

/* Flushes by users other than root and the runner's: one per user in
 * this long. */
#define DAEMON_FLUSH_INTERVAL_MS 10000
#define DAEMON_FLUSH_USERS 64

/* Counters since the start, for `clientqctl stats`. */
struct daemon_stats {
	unsigned long delivered, deferred, bounced;	/* messages */
	unsigned long lat[DAEMON_LAT_N + 1];	/* delivered, by latency */
	double lat_sum;				/* seconds */
	unsigned long lat_count;
	long long started;			/* epoch s */
	long long relay_changed;		/* epoch s; the start until a
						 * transition */
};

/* A `flush --wait`: the messages still to report on. */
struct daemon_waiter {
	control_token token;
	struct idmap *pending;	/* the IDs not reported yet */
	unsigned long delivered, deferred, bounced, other;
	/* Its selection is still coming (daemon_flushq): an empty pending
	 * set does not end it yet. */
	bool gathering;
	struct daemon_waiter *next;
};

struct daemon_flushq;

/* A part above the daemon's core (daemon-control.c: the control
 * socket's commands, flush --wait) follows it through these: daemon.c
 * calls every observer's and knows no part by name.  Any may be NULL. */
struct daemon_observer {
	/* id's attempt ended, or it left the queue another way: outcome is
	 * delivered, deferred, bounced, removed, held, gone, quarantined or
	 * skipped; text says more. */
	void (*outcome)(void *arg, const char *id, const char *outcome, const char *text);
	/* The relay cannot be reached: every message not under way is
	 * deferred (outcome, text) for now. */
	void (*relay_down)(void *arg, const char *outcome, const char *text);
	/* The daemon stops: the part lets go of what it holds. */
	void (*stop)(void *arg);
	/* A reload took a new configuration (the spool's descriptors may
	 * be new). */
	void (*reloaded)(void *arg);
	/* SIGCHLD: a child of the daemon's ended. */
	void (*child)(void *arg);
	void *arg;
};
#define DAEMON_MAX_OBSERVERS 4

struct daemon_flusher {
	uid_t uid;
	long long last;		/* mono ms */
};

struct daemon {
	struct daemon_config *cfg;
	struct spool *sp;
	struct sched *sched;
	/* IDs to read before they are scheduled (DAEMON_UNREAD): a set,
	 * first found first read. */
	struct sched *unread;
	/* Control files deliver_open left as they are (DELIVER_LEFT), each
	 * with a fingerprint of its state then (a map, not a schedule): looked at again only when
	 * it changed, so that each is logged once, not at every rescan. */
	struct idmap *parked;
	/* The messages that left the queue lately (recent.h), for show. */
	struct recent *recent;
	/* Control files whose read failed (DELIVER_UNREADABLE), each with
	 * the interval to its next try: doubling, so that a disk that
	 * stays bad is tried (and logged) ever more rarely. */
	struct idmap *unreadable;
	/* The names the last rescan skipped (not queue files), as sorted
	 * fingerprints of name and inode: each is logged when it first
	 * appears. */
	unsigned long long *skipped;
	size_t nskipped;
	struct retry_breaker breaker;
	/* The loop (evloop.h): inotify, the signals, the control server,
	 * the engine's connections and the daemon's timeouts each register
	 * their own. */
	struct evloop *loop;
	/* The delivery engine (engine.h): up to nslots connections. */
	struct engine *engine;
	int nslots;
	int ifd, sfd;
	evloop_id ifd_id, sfd_id;
	/* The daemon's timeouts: the next due message (when a connection
	 * could take it), the held outcomes' next write, STATUS='s rate
	 * limit, the watchdog, the stop's end. */
	evloop_id due_id, held_id, status_id, ping_id, stop_id;
	/* The background work (daemon_work): a rescan's slices, then
	 * reading the IDs it found. */
	evloop_id work_id;
	/* A flush of everything came while some IDs were not read yet:
	 * each is due at once when read (until none is left unread). */
	bool flushed_unread;
	long long due_at;
	bool stopping, rescan;
	struct spool_cursor *cursor;	/* the rescan under way, or NULL */
	struct spool_scan rescan_found;	/* its skipped names so far */
	bool rescan_again;	/* asked for again meanwhile */
	bool reload_pending;	/* SIGHUP: reload once nothing is in flight */
	bool paused;		/* clientqctl pause: nothing new starts */
	bool stall_hook;	/* CLIENTQ_TEST_STALL: SIGUSR2 blocks the loop */
	struct deliver_tally tally;
	struct daemon_stats stats;
	char status[200];
	long long status_sent;
	bool status_up, status_pending;
	struct control *ctl;
	int keepfds[4];
	struct daemon_waiter *waiters;
	struct daemon_observer observers[DAEMON_MAX_OBSERVERS];
	int nobservers;
	/* Flushes whose selection a child is making (daemon-control.c). */
	struct daemon_flushq *flushqs;
	struct daemon_flusher flushers[DAEMON_FLUSH_USERS];
	/* clientqctl verify's rate limit: a token bucket per user (the
	 * least recently used one is reused for a new user). */
	struct verify_bucket verifiers[DAEMON_FLUSH_USERS];
	/* Attempts whose outcome could not be written (deliver_unwritten:
	 * a full disk): kept, each holding its lock, and written when it
	 * can be; meanwhile nothing new starts. */
	struct deliver_job **held;
	size_t nheld, heldcap;
	long long held_next, held_interval;	/* mono ms */
};

/* daemon.c */
long long daemon_now_ms(void);
bool daemon_active(const struct daemon *d, const char *id);
/* Messages queued: scheduled, and found but not read yet. */
size_t daemon_count_queued(const struct daemon *d);
const struct deliver_job *daemon_active_job(const struct daemon *d, const char *id);
void daemon_schedule(struct daemon *d, const char *id);
/* daemon_unschedule: id is out of the queue (held, removed). */
void daemon_unschedule(struct daemon *d, const char *id);
void daemon_request_reload(struct daemon *d);
void daemon_flush_all(struct daemon *d, long long mono);
void daemon_relay_name(const struct daemon *d, char *buf, size_t size);
void daemon_interval(long long ms, char *buf, size_t size);
/* daemon_observe: o is told from now on (copied); false when
 * DAEMON_MAX_OBSERVERS are there already. */
bool daemon_observe(struct daemon *d, const struct daemon_observer *o);
/* daemon_tell_outcome: every observer learns what became of id. */
void daemon_tell_outcome(struct daemon *d, const char *id, const char *outcome,
    const char *text);

#endif
