#include "config.h"

#include "daemon.h"
#include "daemon-private.h"

#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "util/fnv.h"
#include "queue/idmap.h"
#include "queue/log.h"
#include "util/monotime.h"
#include "util/pwcache.h"
#include "queue/qf.h"
#include "delivery/sched.h"
#include "util/sdnotify.h"
#include "queue/spool.h"
#include "util/xalloc.h"

/* The loop's clock is the SMTP deadlines' own. */
static long long
daemon_mono_ms(void)
{
	return monotime_ms();
}

/* The schedule's clock: the epoch, in ms (K is epoch seconds). */
long long
daemon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const struct deliver_job *
daemon_active_job(const struct daemon *d, const char *id)
{
	const struct deliver_job *j;
	size_t k;

	if (d->engine != NULL && (j = engine_find(d->engine, id)) != NULL)
		return j;
	for (k = 0; k < d->nheld; k++)
		if (strcmp(deliver_id(d->held[k]), id) == 0)
			return d->held[k];
	return NULL;
}

bool
daemon_active(const struct daemon *d, const char *id)
{
	return daemon_active_job(d, id) != NULL;
}

void
daemon_unschedule(struct daemon *d, const char *id)
{
	sched_remove(d->sched, id);
	sched_remove(d->unread, id);
}

size_t
daemon_count_queued(const struct daemon *d)
{
	return sched_count(d->sched) + sched_count(d->unread);
}

bool
daemon_observe(struct daemon *d, const struct daemon_observer *o)
{
	if (d->nobservers == DAEMON_MAX_OBSERVERS)
		return false;
	d->observers[d->nobservers++] = *o;
	return true;
}

void
daemon_tell_outcome(struct daemon *d, const char *id, const char *outcome, const char *text)
{
	int k;

	for (k = 0; k < d->nobservers; k++)
		if (d->observers[k].outcome != NULL)
			d->observers[k].outcome(d->observers[k].arg, id, outcome, text);
}

/* What a file's state is, in one number: any change to its name's
 * target (replaced, written, renamed over, chmod, chown, linked)
 * changes it. */
static long long
daemon_fingerprint(const struct stat *st)
{
	unsigned long long h = FNV_64A_INIT;
	const long long v[] = {
		(long long)st->st_dev, (long long)st->st_ino, (long long)st->st_mode,
		(long long)st->st_nlink, (long long)st->st_uid, (long long)st->st_gid,
		(long long)st->st_size, (long long)st->st_mtim.tv_sec,
		(long long)st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec,
		(long long)st->st_ctim.tv_nsec,
	};

	return (long long)fnv_64a(h, v, sizeof v);
}

/* deliver_open left id as it is (and said why): not scheduled again
 * until its file changes. */
static void
daemon_park(struct daemon *d, const char *id)
{
	struct stat st;

	sched_remove(d->sched, id);
	if (spool_lstat(d->sp, 'q', id, &st))
		(void)idmap_set(d->parked, id, daemon_fingerprint(&st));
}

/* A parked id whose file is as it was is left alone; one that changed
 * (or went) is unparked. */
static bool
daemon_still_parked(struct daemon *d, const char *id)
{
	struct stat st;
	long long fp;

	if (!idmap_get(d->parked, id, &fp))
		return false;
	if (spool_lstat(d->sp, 'q', id, &st) && daemon_fingerprint(&st) == fp)
		return true;
	idmap_remove(d->parked, id);
	return false;
}

/* Schedule id from its file: the file is the truth. */
void
daemon_schedule(struct daemon *d, const char *id)
{
	struct error err;
	struct qf_envelope *env;
	enum spool_result r;
	enum qf_status qs;
	long long now = daemon_now_ms(), due;
	bool locked;
	char *data;
	size_t len;

	if (daemon_active(d, id))
		return;		/* rescheduled when its attempt ends */
	sched_remove(d->unread, id);	/* read now: one place at a time */
	if (daemon_still_parked(d, id))
		return;		/* as it was when it was left: said once */
	r = spool_peek(d->sp, 'q', id, &locked, &data, &len, NULL, &err);
	if (r == SPOOL_ERROR && idmap_get(d->unreadable, id, &due)) {
		/* Still unreadable: its next try stands (daemon_verify
		 * took it out: then in the interval it had). */
		long long when;

		if (!sched_due(d->sched, id, &when))
			sched_set(d->sched, id, now + due);
		return;
	}
	idmap_remove(d->unreadable, id);
	if (r == SPOOL_GONE) {
		sched_remove(d->sched, id);
		daemon_tell_outcome(d, id, "gone", "no longer in the queue");
		return;
	}
	if (r == SPOOL_LOCKED || (r == SPOOL_OK && locked)) {
		if (r == SPOOL_OK)
			free(data);
		sched_set(d->sched, id, now + DAEMON_LOCKED_RETRY_MS);
		return;
	}
	if (r != SPOOL_OK) {
		/* Unsafe or unreadable: deliver_open says why (and
		 * quarantines what must be); then it is not scheduled
		 * again until something changes. */
		sched_set(d->sched, id, now);
		return;
	}
	qs = qf_parse(data, len, &env, NULL);
	free(data);
	if (qs == QF_EMPTY || qs == QF_INCOMPLETE) {
		sched_set(d->sched, id, now + DAEMON_LOCKED_RETRY_MS);
		return;
	}
	if (qs != QF_OK) {
		sched_set(d->sched, id, now);	/* deliver_open quarantines it */
		return;
	}
	due = retry_due(&d->cfg->policy, env->dtime, env->ntries, id) * 1000;
	qf_free(env);
	sched_set(d->sched, id, due);
}

static int
daemon_ullcmp(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a;
	unsigned long long y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

/* The entries a scan skipped (names that are not queue files, entries
 * that are not regular files): each logged once, when a scan first
 * sees it (a name replaced by another inode is seen anew). */
static void
daemon_report_skipped(struct daemon *d, const struct spool_scan *scan)
{
	unsigned long long *now;
	size_t i;

	now = xcalloc(scan->nskipped + 1, sizeof *now);
	for (i = 0; i < scan->nskipped; i++) {
		const struct spool_skip *k = &scan->skipped[i];
		unsigned long long h = FNV_64A_INIT;
		unsigned long long ino = (unsigned long long)k->ino;

		h = fnv_64a(h, k->name, strlen(k->name) + 1);
		now[i] = fnv_64a(h, &ino, sizeof ino);
		if (d->nskipped == 0 || bsearch(&now[i], d->skipped, d->nskipped,
		    sizeof *d->skipped, daemon_ullcmp) == NULL)
			log_msg(LOG_LVL_WARNING, "%s/%s: skipped: %s", spool_path(d->sp),
			    k->name, k->reason);
	}
	qsort(now, scan->nskipped, sizeof *now, daemon_ullcmp);
	free(d->skipped);
	d->skipped = now;
	d->nskipped = scan->nskipped;
}

/* An ID a scan found (or an inotify event named), whose file is read
 * now: scheduled from it (or dropped, parked, quarantined later, as
 * daemon_schedule decides); due at once when a flush named it meanwhile
 * (DAEMON_UNREAD_FLUSHED) or flushed everything. */
static void
daemon_verify(struct daemon *d, const char *id, long long mark)
{
	char copy[QID_MAX_LEN + 1];
	bool flushed = mark == DAEMON_UNREAD_FLUSHED || d->flushed_unread;
	long long now, due;

	snprintf(copy, sizeof copy, "%s", id);	/* id may be the set's */
	sched_remove(d->unread, copy);
	daemon_schedule(d, copy);
	if (flushed && sched_due(d->sched, copy, &due) && due > (now = daemon_now_ms()))
		sched_set(d->sched, copy, now);
}

/* id is to be read before it is scheduled: out of the schedule, into
 * unread.  One due already (a flush made it so, or its time came) stays
 * due once read. */
static void
daemon_mark_unread(struct daemon *d, const char *id)
{
	long long due, mark = DAEMON_UNREAD;

	if (sched_due(d->unread, id, &due))
		return;		/* its mark stands */
	if (sched_due(d->sched, id, &due)) {
		if (due <= daemon_now_ms())
			mark = DAEMON_UNREAD_FLUSHED;
		sched_remove(d->sched, id);
	}
	sched_set(d->unread, id, mark);
}

/* Read some of the unread IDs, DAEMON_VERIFY_MS of work at most; true
 * while some are left. */
static bool
daemon_verify_some(struct daemon *d)
{
	long long start = daemon_mono_ms();
	const char *id;
	long long mark;
	unsigned k;

	for (k = 0; sched_next(d->unread, &id, &mark); k++) {
		if ((k & 15) == 15 && daemon_mono_ms() - start >= DAEMON_VERIFY_MS) {
			/* What was read is in the schedule now: the set
			 * gives its room back as it goes, so that the two
			 * together stay the size of the queue (at a
			 * million, not 100 MB at the peak). */
			sched_trim(d->unread);
			return true;
		}
		daemon_verify(d, id, mark);
	}
	d->flushed_unread = false;	/* none is left to cover */
	/* Its arrays were sized for the whole queue at start: given back,
	 * or the index would cost twice its size from then on. */
	sched_trim(d->unread);
	return false;
}

/* The whole directory again, DAEMON_RESCAN_SLICE entries per turn of
 * the loop (a million names are not read in one go): new IDs scheduled
 * (to be read: daemon_verify); IDs whose file went fall out when they
 * come due (deliver_open finds nothing).  A rescan asked for while one
 * runs starts again once it ends: what was missed (an inotify overflow)
 * may lie behind its cursor.  false when the directory cannot be read
 * (said). */
static bool
daemon_rescan_start(struct daemon *d)
{
	struct error err;

	d->rescan = false;
	if (d->cursor != NULL) {
		d->rescan_again = true;
		return true;
	}
	if ((d->cursor = spool_cursor_open(d->sp, 'q', &err)) == NULL) {
		log_msg(LOG_LVL_ERR, "%s", err.reason);
		return false;
	}
	memset(&d->rescan_found, 0, sizeof d->rescan_found);
	return true;
}

/* One slice of the rescan; true while it has more to read. */
static bool
daemon_rescan_step(struct daemon *d)
{
	struct spool_scan *found = &d->rescan_found;
	enum spool_cursor_result r;
	struct error err;
	size_t i;

	if (d->cursor == NULL)
		return false;
	r = spool_cursor_next(d->cursor, DAEMON_RESCAN_SLICE, found, &err);
	for (i = 0; i < found->nids; i++) {
		long long due;

		/* Read later (daemon_verify): a million files are not
		 * read before READY=1, nor on the loop in one go. */
		if (!sched_due(d->sched, found->ids[i], &due) && !daemon_active(d, found->ids[i]))
			daemon_mark_unread(d, found->ids[i]);
	}
	/* The IDs are done with; the skipped names are reported at the
	 * end, against the last whole scan's. */
	free(found->ids);
	found->ids = NULL;
	found->nids = 0;
	if (r == SPOOL_CURSOR_MORE)
		return true;
	if (r == SPOOL_CURSOR_ERROR)
		log_msg(LOG_LVL_ERR, "%s", err.reason);
	else
		daemon_report_skipped(d, found);
	spool_scan_free(found);
	spool_cursor_close(d->cursor);
	d->cursor = NULL;
	if (d->rescan_again) {
		d->rescan_again = false;
		return daemon_rescan_start(d) && d->cursor != NULL;
	}
	return false;
}

/* The whole rescan now (start-up: the count READY=1 reports is the
 * queue's). */
static void
daemon_rescan(struct daemon *d)
{
	if (daemon_rescan_start(d))
		while (daemon_rescan_step(d))
			;
}

/* The background work, a slice per turn of the loop (a timeout at 0,
 * which waits for the next turn: the descriptors are served between
 * slices): the rescan under way, then reading what it found. */
static void
daemon_work(void *arg)
{
	struct daemon *d = arg;
	bool more;

	d->work_id = 0;
	more = daemon_rescan_step(d);
	if (daemon_verify_some(d) || more)
		d->work_id = evloop_add_timeout(d->loop, 0, daemon_work, d);
}

static void
daemon_arm_work(struct daemon *d)
{
	if (d->work_id == 0 && (d->cursor != NULL || sched_count(d->unread) > 0))
		d->work_id = evloop_add_timeout(d->loop, 0, daemon_work, d);
}

/* deliver's callback: a notification was queued. */
static void
daemon_queued(void *arg, const char *id)
{
	struct daemon *d = arg;

	sched_set(d->sched, id, daemon_now_ms());
}

/* Tell the service manager (sdnotify.h), saying so loudly when
 * NOTIFY_SOCKET is set and the message cannot be sent. */
static void daemon_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
daemon_notify(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (!sdnotify_send("%s", buf))
		log_msg(LOG_LVL_ERR, "cannot notify the service manager: %s", strerror(errno));
}

/* Nothing new starts: stopping, a reload waiting for the connections
 * to end, or delivery paused (clientqctl pause). */
static bool
daemon_draining(const struct daemon *d)
{
	return d->stopping || d->reload_pending || d->paused || d->nheld > 0;
}

/* STATUS=: when it changed, at most once a second (a backlog going out
 * changes it per message) unless the relay's state changed. */
static void
daemon_status(struct daemon *d, long long mono)
{
	char buf[200];
	bool up = d->breaker.state == RETRY_UP;

	snprintf(buf, sizeof buf, "%zu queued, relay %s%s%s; %lu delivered, %lu deferred",
	    daemon_count_queued(d), up ? "up" : "down", d->paused ? ", delivery paused" : "",
	    d->nheld > 0 ? ", queue files cannot be written" : "",
	    d->tally.delivered, d->tally.deferred);
	d->status_pending = false;
	if (strcmp(buf, d->status) != 0 && mono - d->status_sent < 1000 &&
	    up == d->status_up) {
		d->status_pending = true;	/* the loop wakes for it */
		return;
	}
	if (strcmp(buf, d->status) != 0) {
		d->status_sent = mono;
		d->status_up = up;
		snprintf(d->status, sizeof d->status, "%s", buf);
		daemon_notify("STATUS=%s", buf);
	}
}

void
daemon_interval(long long ms, char *buf, size_t size)
{
	long long s = ms / 1000;

	if (s >= 3600)
		snprintf(buf, size, "%lldh%02lldm%02llds", s / 3600, s / 60 % 60, s % 60);
	else if (s >= 60)
		snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(buf, size, "%llds", s);
}

/* ------------------------------------------------------------ slots */

/* The counters and any flush --wait: what came of one attempt. */
static void
daemon_count(struct daemon *d, const char *id, const struct deliver_outcome *o)
{
	static const long long bounds[DAEMON_LAT_N] = DAEMON_LAT_BOUNDS;
	const char *what;
	char text[700], qids[240] = "", part[260] = "";

	/* The relay's name for what it took, when its reply gave one
	 * (deliver_outcome): "MTA queue ID 3F2A1B4C5D". */
	if (o->n_mta_qids > 0)
		snprintf(qids, sizeof qids, "MTA queue ID%s %s", o->n_mta_qids > 1 ? "s" : "",
		    o->mta_qids);
	if (o->failed > 0) {
		d->stats.bounced++;
		what = "bounced";
		if (o->sent)
			snprintf(part, sizeof part, " (the others delivered%s%s)",
			    qids[0] ? ", " : "", qids);
		snprintf(text, sizeof text, "%zu recipient%s failed%s: %s", o->failed,
		    o->failed == 1 ? "" : "s", part,
		    o->status[0] ? o->status : "returned to the sender");
	} else if (o->deferred > 0) {
		d->stats.deferred++;
		what = "deferred";
		if (o->sent)
			snprintf(part, sizeof part, "partly delivered%s%s%s; ",
			    qids[0] ? " (" : "", qids, qids[0] ? ")" : "");
		snprintf(text, sizeof text, "%s%s", part, o->status[0] ? o->status : "Deferred");
	} else {
		long long lat = daemon_now_ms() / 1000 - o->ctime;
		int b;

		d->stats.delivered++;
		if (lat < 0)
			lat = 0;
		for (b = 0; b < DAEMON_LAT_N && lat > bounds[b]; b++)
			;
		d->stats.lat[b]++;
		d->stats.lat_sum += (double)lat;
		d->stats.lat_count++;
		what = "delivered";
		snprintf(text, sizeof text, "%zu recipient%s%s%s%s", o->sent,
		    o->sent == 1 ? "" : "s", qids[0] ? " (" : "", qids, qids[0] ? ")" : "");
	}
	daemon_tell_outcome(d, id, what, text);
}

/* The attempt at a message is over and on disk: count it, schedule what
 * is left. */
static void
daemon_job_end(struct daemon *d, struct deliver_job *j)
{
	char id[QID_MAX_LEN + 1];
	struct deliver_outcome o;
	enum deliver_result res;
	const struct qf_envelope *env;
	char sender[300], relay[160];
	uid_t owner;

	snprintf(id, sizeof id, "%s", deliver_id(j));
	deliver_outcome(j, &o);
	env = deliver_envelope(j);
	snprintf(sender, sizeof sender, "%s", env != NULL && env->sender ? env->sender : "");
	owner = deliver_owner(j);
	res = deliver_finish(j);
	deliver_tally_add(&d->tally, res);
	if (res != DELIVER_SKIPPED && res != DELIVER_QUARANTINED && res != DELIVER_LEFT)
		daemon_count(d, id, &o);
	/* It left the queue (sent, or returned to its sender): show can
	 * still tell what became of it. */
	if (res == DELIVER_DELIVERED && (o.sent > 0 || o.failed > 0)) {
		daemon_relay_name(d, relay, sizeof relay);
		recent_record(d->recent, id, o.failed > 0 ? "bounced" : "delivered", time(NULL),
		    owner, sender, relay, o.mta_qids, o.status);
	}
	daemon_schedule(d, id);
}

static void daemon_held_timeout(void *arg);

/* The attempt at j is over (the engine's ended): its outcome to disk, or
 * held until it can be written (daemon.h). */
static void
daemon_job_done(void *arg, struct deliver_job *j)
{
	struct daemon *d = arg;

	if (d->stopping || deliver_conclude(j)) {
		daemon_job_end(d, j);
		return;
	}
	if (d->nheld == d->heldcap) {
		d->heldcap = d->heldcap ? d->heldcap * 2 : 4;
		d->held = xreallocarray(d->held, d->heldcap, sizeof *d->held);
	}
	d->held[d->nheld++] = j;
	if (d->nheld == 1) {
		d->held_interval = DAEMON_HELD_RETRY_MS;
		d->held_next = daemon_mono_ms() + d->held_interval;
		evloop_remove_timeout(d->loop, d->held_id);
		d->held_id = evloop_add_timeout_at(d->loop, d->held_next, daemon_held_timeout, d);
		log_msg(LOG_LVL_WARNING,
		    "queue files cannot be written (%s, above): no new attempt starts until they can; its outcome is kept and written then",
		    deliver_id(j));
	}
}

/* Try the held outcomes again; resume once all are written. */
static void
daemon_retry_held(struct daemon *d, long long mono)
{
	size_t k = 0;

	while (k < d->nheld) {
		struct deliver_job *j = d->held[k];

		if (!deliver_conclude(j)) {
			k++;
			continue;
		}
		d->held[k] = d->held[--d->nheld];
		daemon_job_end(d, j);
	}
	if (d->nheld == 0) {
		log_msg(LOG_LVL_NOTICE, "queue files can be written again: delivery resumes");
		return;
	}
	d->held_interval = d->held_interval * 2 > DAEMON_HELD_RETRY_MAX_MS ?
	    DAEMON_HELD_RETRY_MAX_MS : d->held_interval * 2;
	d->held_next = mono + d->held_interval;
	d->held_id = evloop_add_timeout_at(d->loop, d->held_next, daemon_held_timeout, d);
}

static void
daemon_held_timeout(void *arg)
{
	struct daemon *d = arg;

	d->held_id = 0;
	if (d->nheld > 0 && !d->stopping)
		daemon_retry_held(d, daemon_mono_ms());
}

/* The engine's next: the next due message, unless nothing new may
 * start. */
static bool
daemon_next(void *arg, char id[QID_MAX_LEN + 1])
{
	struct daemon *d = arg;

	while (!daemon_draining(d) && sched_pop(d->sched, daemon_now_ms(), id))
		if (!daemon_active(d, id))
			return true;
	return false;
}

static bool
daemon_may_start(void *arg)
{
	return !daemon_draining(arg);
}

/* The engine's unopened: deliver_open gave nothing for id. */
static void
daemon_unopened(void *arg, const char *id, enum deliver_result res)
{
	struct daemon *d = arg;
	long long due, soonest = daemon_now_ms() + DAEMON_SKIPPED_RETRY_MS;

	/* Locked by its submitter: shortly again; left as it is: when it
	 * changes; quarantined: never. */
	switch (res) {
	case DELIVER_LEFT:
		daemon_park(d, id);
		daemon_tell_outcome(d, id, "skipped", "left as it is, unread (see the log)");
		break;
	case DELIVER_QUARANTINED:
		daemon_tell_outcome(d, id, "quarantined",
		    "refused as sendmail would refuse it (see the log)");
		break;
	case DELIVER_UNREADABLE: {
		/* Again after 2 s, 4 s, ... up to the longest retry delay
		 * (our own close of it, an inotify event, does not bring it
		 * back sooner: daemon_schedule). */
		long long iv = DAEMON_SKIPPED_RETRY_MS, max = d->cfg->policy.max_delay * 1000;

		if (idmap_get(d->unreadable, id, &iv))
			iv = iv * 2 > max ? (max > iv ? max : iv) : iv * 2;
		(void)idmap_set(d->unreadable, id, iv);
		sched_set(d->sched, id, daemon_now_ms() + iv);
		daemon_tell_outcome(d, id, "skipped",
		    "its control file cannot be read (see the log)");
		break;
	}
	default:
		/* Never due at once again: what deliver_open just skipped,
		 * the file would say again, and the engine would spin on
		 * it. */
		daemon_schedule(d, id);
		if (sched_due(d->sched, id, &due) && due < soonest)
			sched_set(d->sched, id, soonest);
		break;
	}
}

/* The engine's returned: a message read ahead that did not go out; as
 * it was (deliver_abandon), due again as its file says. */
static void
daemon_returned(void *arg, struct deliver_job *j)
{
	struct daemon *d = arg;
	char id[QID_MAX_LEN + 1];

	snprintf(id, sizeof id, "%s", deliver_id(j));
	(void)deliver_abandon(j);
	if (!d->stopping)
		daemon_schedule(d, id);
}

/* "[127.0.0.1]:25", or "mailhub.example [192.0.2.1]:587". */
void
daemon_relay_name(const struct daemon *d, char *buf, size_t size)
{
	const char *h = d->cfg->dc->relay_host;

	if (h[0] == '[')
		snprintf(buf, size, "%s:%d", h, d->cfg->port);
	else
		snprintf(buf, size, "%s [%s]:%d", h, d->cfg->relay_ip, d->cfg->port);
}

/* A slot's tag: the breaker's probe, or not. */
#define DAEMON_TAG_PROBE 1u

/* The engine's setup_failed: the relay is down for the breaker
 * (ENGINE_SETUP_BREAKER: no message was touched). */
static void
daemon_went_down(void *arg, struct engine_slot *s, const struct engine_setup_failure *sf)
{
	struct daemon *d = arg;
	long long mono = daemon_mono_ms();
	const char *why = sf->why;
	size_t n = daemon_count_queued(d);
	/* The TLS policy or AUTH: the relay is there but refused as
	 * configured; for the breaker the same as away (daemon.h). */
	enum smtp_setup_kind kind = sf->kind;
	const char *what = smtp_setup_kind_str(kind);
	char name[400];

	if (sf->no_socket) {
		log_msg(LOG_LVL_ERR, "cannot make a socket: %s", why);
		(void)retry_breaker_failure(&d->breaker, mono);
		return;
	}
	/* Only the first failure and the probes count: a second connection
	 * opened beside the first is no probe, and must not double the
	 * interval. */
	if (!(engine_slot_tag(s) & DAEMON_TAG_PROBE) && d->breaker.state != RETRY_UP)
		return;

	if (retry_breaker_failure(&d->breaker, mono) == RETRY_WENT_DOWN) {
		char waiting[32];

		d->stats.relay_changed = daemon_now_ms() / 1000;

		daemon_relay_name(d, name, sizeof name);
		snprintf(waiting, sizeof waiting, "%zu", n);
		{
			const struct log_field f[] = {
				{ "MESSAGE_ID", kind == SMTP_SETUP_TLS ? LOG_MID_RELAY_TLS :
				    kind == SMTP_SETUP_AUTH ? LOG_MID_RELAY_AUTH : LOG_MID_RELAY_DOWN },
				{ "RELAY", name },
				{ "REASON", why },
				{ "WAITING", waiting },
			};

			log_fields(LOG_LVL_WARNING, f, 4,
			    "relay %s %s: %s; %zu message%s waiting",
			    name, what, why, n, n == 1 ? "" : "s");
		}
	}
	/* A flush --wait learns now that nothing of it can go. */
	{
		char text[500];
		int k;

		snprintf(text, sizeof text, "relay %s: %s", what, why);
		for (k = 0; k < d->nobservers; k++)
			if (d->observers[k].relay_down != NULL)
				d->observers[k].relay_down(d->observers[k].arg, "deferred", text);
	}
}

/* The engine's ready: the relay took the session; the breaker closes. */
static void
daemon_ready(void *arg, struct engine_slot *s)
{
	struct daemon *d = arg;
	long long mono = daemon_mono_ms();

	(void)s;
	if (retry_breaker_success(&d->breaker, mono) == RETRY_CAME_BACK) {
		char took[32], name[400];
		size_t n = daemon_count_queued(d);

		char waiting[32];
		const struct log_field f[] = {
			{ "MESSAGE_ID", LOG_MID_RELAY_BACK },
			{ "RELAY", name },
			{ "DOWNTIME", took },
			{ "WAITING", waiting },
		};

		d->stats.relay_changed = daemon_now_ms() / 1000;
		daemon_interval(mono - d->breaker.down_since, took, sizeof took);
		daemon_relay_name(d, name, sizeof name);
		snprintf(waiting, sizeof waiting, "%zu", n);
		log_fields(LOG_LVL_NOTICE, f, 4,
		    "relay %s back after %s; delivering %zu message%s",
		    name, took, n, n == 1 ? "" : "s");
	}
}

static void
daemon_closed(void *arg, struct engine_slot *s)
{
	(void)arg;
	(void)s;
}

/* Feed the idle connections; open connections for the messages that are
 * due, as the breaker lets. */
static void
daemon_dispatch(struct daemon *d, long long mono)
{
	long long now = daemon_now_ms();
	int busy, connecting;

	if (daemon_draining(d)) {
		engine_quit_idle(d->engine);
		return;
	}
	engine_feed(d->engine);
	while ((busy = engine_count(d->engine)) < d->nslots) {
		bool probe;

		connecting = engine_connecting(d->engine);
		/* A connection for each message due that no connection being
		 * set up will take (the idle ones took theirs above). */
		if (sched_count_due(d->sched, now, (size_t)connecting + 1) <= (size_t)connecting)
			return;
		if (!retry_breaker_allow(&d->breaker, mono))
			return;
		probe = d->breaker.state == RETRY_PROBING;
		if (engine_start(d->engine, NULL, probe ? DAEMON_TAG_PROBE : 0) == NULL ||
		    probe)
			return;	/* no socket (the breaker knows), or one probe at a time */
	}
}

/* ------------------------------------------------------------ events */

static void
daemon_inotify(void *arg, int fd, short revents)
{
	struct daemon *d = arg;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	char *p;

	(void)fd;
	(void)revents;
	/* One buffer a turn (the loop comes back while there is more): a
	 * burst of sixteen thousand submissions is not taken in one go.
	 * Each file is read later (daemon_verify), a slice a turn. */
	if ((n = read(d->ifd, buf, sizeof buf)) <= 0)
		return;
	for (p = buf; p < buf + n;) {
		const struct inotify_event *ev = (const struct inotify_event *)p;

		if (ev->mask & IN_Q_OVERFLOW)
			d->rescan = true;
		else if (ev->len > 0 && ev->name[0] == 'q' && ev->name[1] == 'f' &&
		    qid_valid(ev->name + 2) && !daemon_active(d, ev->name + 2))
			daemon_mark_unread(d, ev->name + 2);
		p += sizeof *ev + ev->len;
	}
}

/* The delivery engine for d->cfg (made anew after a reload: it keeps
 * pointers into the configuration), with the daemon's policy: nothing
 * opened before the relay is ready, a failed set-up the breaker's
 * (engine.h, ENGINE_SETUP_BREAKER). */
static void
daemon_engine(struct daemon *d)
{
	const struct daemon_config *cfg = d->cfg;
	const struct engine_ops ops = {
		daemon_next, daemon_may_start, daemon_unopened, daemon_job_done,
		daemon_returned, daemon_ready, daemon_went_down, daemon_closed, d,
	};
	struct engine_config ec;

	memset(&ec, 0, sizeof ec);
	ec.loop = d->loop;
	ec.dc = cfg->dc;
	ec.relay_ip = cfg->relay_ip;
	ec.port = cfg->port;
	ec.helo = cfg->helo;
	ec.timeouts = cfg->timeouts;
	ec.security = cfg->security;
	ec.setup = ENGINE_SETUP_BREAKER;
	ec.idle_ms = DAEMON_IDLE_MS;
	engine_free(d->engine);
	d->engine = engine_new(&ec, &ops);
}

/* What the daemon takes from d->cfg, at start and after a reload: the
 * number of connections (1 to DAEMON_MAX_CONN), the spool, and its hooks
 * in the delivery configuration (a new one after a reload). */
static void
daemon_take_config(struct daemon *d)
{
	const struct daemon_config *cfg = d->cfg;

	d->nslots = cfg->connections < 1 ? 1 : cfg->connections > DAEMON_MAX_CONN ?
	    DAEMON_MAX_CONN : cfg->connections;
	d->sp = cfg->dc->sp;
	cfg->dc->queued = daemon_queued;
	cfg->dc->queued_arg = d;
	cfg->dc->retry_writes = true;
	daemon_engine(d);
}

/* SIGHUP, once nothing is in flight: the configuration again, then a
 * rescan (what is due may have changed with it). */
static void
daemon_reload(struct daemon *d, long long mono)
{
	d->reload_pending = false;
	if (d->cfg->reload != NULL && d->cfg->reload(d->cfg->reload_arg, d->cfg)) {
		/* Every slot is empty now: the number may change. */
		daemon_take_config(d);
		for (int k = 0; k < d->nobservers; k++)
			if (d->observers[k].reloaded != NULL)
				d->observers[k].reloaded(d->observers[k].arg);
		/* Perhaps another relay: what was known of the old one
		 * does not hold. */
		retry_breaker_init(&d->breaker, d->cfg->probe_cap_ms);
	}
	/* A reload is how an admin says the system changed: users added,
	 * renamed or removed are asked of NSS again, not served from the
	 * cache for up to PWCACHE_TTL_S. */
	pwcache_flush();
	(void)mono;
	(void)daemon_rescan_start(d);	/* a slice per turn, from here */
	daemon_arm_work(d);
	daemon_notify("READY=1");
}

/* SIGHUP or clientqctl reload: RELOADING=1; the loop finishes it once
 * nothing is in flight. */
void
daemon_request_reload(struct daemon *d)
{
	struct timespec ts;

	if (d->reload_pending || d->stopping)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	daemon_notify("RELOADING=1\nMONOTONIC_USEC=%lld",
	    (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	d->reload_pending = true;
}

/* SIGUSR1 or clientqctl flush: the breaker lets a probe go at once and
 * every message is due now. */
void
daemon_flush_all(struct daemon *d, long long mono)
{
	retry_breaker_flush(&d->breaker, mono);
	sched_advance(d->sched, daemon_now_ms());
	d->flushed_unread = sched_count(d->unread) > 0;
	if (d->nheld > 0 && !d->stopping) {
		/* The disk may have room again. */
		d->held_next = mono;
		evloop_remove_timeout(d->loop, d->held_id);
		d->held_id = evloop_add_timeout_at(d->loop, mono, daemon_held_timeout, d);
	}
}

static void
daemon_stop_timeout(void *arg)
{
	struct daemon *d = arg;

	/* Whatever did not end in time stays queued as it is. */
	d->stop_id = 0;
	evloop_stop(d->loop);
}

static void
daemon_signal(void *arg, int fd, short revents)
{
	struct daemon *d = arg;
	long long mono = daemon_mono_ms();
	struct signalfd_siginfo si;

	(void)fd;
	(void)revents;
	while (read(d->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (!d->stopping) {
				log_msg(LOG_LVL_NOTICE, "stopping (signal %u)", si.ssi_signo);
				daemon_notify("STOPPING=1");
				d->stopping = true;
				d->stop_id = evloop_add_timeout(d->loop, DAEMON_STOP_MS,
				    daemon_stop_timeout, d);
				evloop_remove_timeout(d->loop, d->held_id);
				d->held_id = 0;
				engine_abandon(d->engine);
			}
			break;
		case SIGHUP:
			daemon_request_reload(d);
			break;
		case SIGCHLD:
			for (int k = 0; k < d->nobservers; k++)
				if (d->observers[k].child != NULL)
					d->observers[k].child(d->observers[k].arg);
			break;
		case SIGUSR2:
			if (d->stall_hook) {
				/* The test's stuck loop (daemon.h). */
				struct timespec t = { 10, 0 };

				log_msg(LOG_LVL_NOTICE, "CLIENTQ_TEST_STALL: the loop stalls for 10 s");
				while (nanosleep(&t, &t) < 0 && errno == EINTR)
					;
			}
			break;
		case SIGUSR1:
			log_msg(LOG_LVL_INFO, "flush: every message is due now");
			daemon_flush_all(d, mono);
			break;
		default:
			break;
		}
	}
}

static void
daemon_wake(void *arg)
{
	struct daemon *d = arg;

	/* Nothing to do here: the loop's prepare hook (daemon_prepare) acts
	 * on what came due. */
	d->due_id = 0;
	d->due_at = -1;
}

/*
 * The next due message's timeout, when a connection could take it: none
 * while nothing new may start, every connection is busy (their own
 * events wake the loop), or a probe is out; while the relay is down, the
 * next probe's time.  A message due already that dispatch left waits for
 * a connection being set up, whose events wake the loop.
 */
static void
daemon_arm_due(struct daemon *d, long long mono)
{
	const char *id;
	long long due, at = -1;

	if (!daemon_draining(d) && engine_count(d->engine) < d->nslots &&
	    sched_next(d->sched, &id, &due)) {
		long long x = due - daemon_now_ms();

		if (d->breaker.state != RETRY_UP) {
			long long w = retry_breaker_wait(&d->breaker, mono);

			x = w < 0 ? -1 : w > x ? w : x;
		}
		if (x > 0)
			at = mono + x;
	}
	if (at == d->due_at && (at < 0 || d->due_id != 0))
		return;
	evloop_remove_timeout(d->loop, d->due_id);
	d->due_id = at >= 0 ? evloop_add_timeout_at(d->loop, at, daemon_wake, d) : 0;
	d->due_at = at;
}

static void
daemon_status_timeout(void *arg)
{
	struct daemon *d = arg;

	d->status_id = 0;
	daemon_status(d, daemon_mono_ms());
}

static void
daemon_ping(void *arg)
{
	struct daemon *d = arg;

	daemon_notify("WATCHDOG=1");
	d->ping_id = evloop_add_timeout(d->loop, sdnotify_watchdog_ms(), daemon_ping, d);
}

/*
 * Before each wait: what the handlers changed, acted on.  Runs only
 * because something woke the loop, so an idle daemon stays asleep.
 */
static void
daemon_prepare(void *arg)
{
	struct daemon *d = arg;
	long long mono = daemon_mono_ms();

	if (d->rescan)
		(void)daemon_rescan_start(d);
	daemon_arm_work(d);
	daemon_dispatch(d, mono);
	if (d->stopping && engine_count(d->engine) == 0) {
		evloop_stop(d->loop);
		return;
	}
	/* A held outcome belongs to the configuration it was made with: a
	 * reload waits for it too. */
	if (d->reload_pending && engine_count(d->engine) == 0 && d->nheld == 0) {
		daemon_reload(d, mono);
		daemon_dispatch(d, mono);
	}
	daemon_status(d, mono);
	if (d->status_pending && d->status_id == 0)
		d->status_id = evloop_add_timeout_at(d->loop, d->status_sent + 1000,
		    daemon_status_timeout, d);
	daemon_arm_due(d, mono);
}

static bool
daemon_setup(struct daemon *d)
{
	sigset_t set;
	int qfd;
	char path[4096];

	d->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->loop == NULL || d->ifd < 0 || d->sfd < 0) {
		log_msg(LOG_LVL_ERR, "cannot set up the event loop: %s", strerror(errno));
		return false;
	}
	/* The qf/ subdirectory when there is one, as the spool reads it. */
	snprintf(path, sizeof path, "%s/qf", spool_path(d->sp));
	qfd = inotify_add_watch(d->ifd, path, IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR);
	if (qfd < 0)
		qfd = inotify_add_watch(d->ifd, spool_path(d->sp),
		    IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR);
	if (qfd < 0) {
		log_msg(LOG_LVL_ERR, "%s: cannot watch the queue: %s", spool_path(d->sp),
		    strerror(errno));
		return false;
	}
	d->ifd_id = evloop_add_fd(d->loop, d->ifd, POLLIN, daemon_inotify, d);
	d->sfd_id = evloop_add_fd(d->loop, d->sfd, POLLIN, daemon_signal, d);
	if (d->ifd_id == 0 || d->sfd_id == 0) {
		log_msg(LOG_LVL_ERR, "cannot set up the event loop: %s", strerror(errno));
		return false;
	}
	if (d->cfg->attach != NULL && !d->cfg->attach(d, d->cfg->attach_arg))
		return false;
	return true;
}

enum daemon_exit
daemon_run(struct daemon_config *cfg)
{
	struct daemon *d = xcalloc(1, sizeof *d);
	enum daemon_exit rc = DAEMON_EXIT_OK;

	d->cfg = cfg;
	d->sched = sched_new();
	d->unread = sched_new();
	d->parked = idmap_new();
	d->recent = recent_new();
	d->unreadable = idmap_new();
	d->ifd = d->sfd = -1;
	d->due_at = -1;
	d->loop = evloop_new();
	if (d->loop != NULL)
		daemon_take_config(d);
	retry_breaker_init(&d->breaker, cfg->probe_cap_ms);
	d->status_up = true;
	d->status_sent = -1000000;
#ifdef CQ_TEST_HOOKS
	d->stall_hook = getenv("CLIENTQ_TEST_STALL") != NULL;
#endif
	d->stats.started = d->stats.relay_changed = daemon_now_ms() / 1000;
	sdnotify_init();
	if (!daemon_setup(d)) {
		rc = DAEMON_EXIT_OSERR;
		goto out;
	}
	/* The watch is armed before the scan: nothing falls between. */
	daemon_rescan(d);
	{
		char name[400];

		daemon_relay_name(d, name, sizeof name);
		log_msg(LOG_LVL_INFO, "watching %s: %zu messages queued; relay %s, %d connections",
		    spool_path(d->sp), daemon_count_queued(d), name, d->nslots);
	}
	daemon_notify("READY=1");
	if (cfg->ready_fd >= 0) {
		(void)!write(cfg->ready_fd, "", 1);
		close(cfg->ready_fd);
		cfg->ready_fd = -1;
	}
	/* The watchdog: the only thing that wakes an idle daemon. */
	if (sdnotify_watchdog_ms() > 0)
		daemon_ping(d);
	evloop_set_prepare(d->loop, daemon_prepare, d);
	if (evloop_run(d->loop) < 0) {
		log_msg(LOG_LVL_ERR, "epoll_wait: %s", strerror(errno));
		rc = DAEMON_EXIT_OSERR;
	}
	/* Whatever did not end in time stays queued as it is; an outcome
	 * still unwritten is given up (deliver_finish says what that
	 * leaves). */
	d->stopping = true;
	engine_close_all(d->engine);
	while (d->nheld > 0)
		(void)deliver_finish(d->held[--d->nheld]);
	free(d->held);
	log_msg(LOG_LVL_INFO, "stopped: %lu delivered, %lu deferred", d->tally.delivered,
	    d->tally.deferred);
out:
	for (int k = 0; k < d->nobservers; k++)
		if (d->observers[k].stop != NULL)
			d->observers[k].stop(d->observers[k].arg);
	engine_free(d->engine);
	if (d->ifd >= 0)
		close(d->ifd);
	if (d->sfd >= 0)
		close(d->sfd);
	evloop_free(d->loop);
	sched_free(d->sched);
	sched_free(d->unread);
	spool_cursor_close(d->cursor);
	spool_scan_free(&d->rescan_found);
	idmap_free(d->parked);
	recent_free(d->recent);
	idmap_free(d->unreadable);
	free(d->skipped);
	free(d);
	return rc;
}
