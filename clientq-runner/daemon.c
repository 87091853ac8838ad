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
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "classify.h"
#include "log.h"
#include "qf.h"
#include "sched.h"
#include "sdnotify.h"
#include "spool.h"
#include "xalloc.h"

/* epoll keys: 1 inotify, 2 signals, 3 + i connection slot i. */
#define DAEMON_KEY_CONTROL 0x10000u

/* The loop's clock is the SMTP deadlines' own. */
static long long
daemon_mono_ms(void)
{
	return smtp_clock_ms();
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
	size_t k;
	int i;

	for (i = 0; i < d->nslots; i++)
		if (d->slot[i].j != NULL && strcmp(deliver_id(d->slot[i].j), id) == 0)
			return d->slot[i].j;
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
		d->observers[k].outcome(d->observers[k].arg, id, outcome, text);
}

/* FNV-1a over bytes, continuing from h (DAEMON_FNV_BASIS to begin). */
#define DAEMON_FNV_BASIS 14695981039346656037ULL

static unsigned long long
daemon_fnv(unsigned long long h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0) {
		h ^= *b++;
		h *= 1099511628211ULL;
	}
	return h;
}

/* What a file's state is, in one number: any change to its name's
 * target (replaced, written, renamed over, chmod, chown, linked)
 * changes it. */
static long long
daemon_fingerprint(const struct stat *st)
{
	unsigned long long h = DAEMON_FNV_BASIS;
	const long long v[] = {
		(long long)st->st_dev, (long long)st->st_ino, (long long)st->st_mode,
		(long long)st->st_nlink, (long long)st->st_uid, (long long)st->st_gid,
		(long long)st->st_size, (long long)st->st_mtim.tv_sec,
		(long long)st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec,
		(long long)st->st_ctim.tv_nsec,
	};

	return (long long)daemon_fnv(h, v, sizeof v);
}

/* deliver_open left id as it is (and said why): not scheduled again
 * until its file changes. */
static void
daemon_park(struct daemon *d, const char *id)
{
	struct stat st;

	sched_remove(d->sched, id);
	if (spool_lstat(d->sp, 'q', id, &st))
		sched_set(d->parked, id, daemon_fingerprint(&st));
}

/* A parked id whose file is as it was is left alone; one that changed
 * (or went) is unparked. */
static bool
daemon_still_parked(struct daemon *d, const char *id)
{
	struct stat st;
	long long fp;

	if (!sched_due(d->parked, id, &fp))
		return false;
	if (spool_lstat(d->sp, 'q', id, &st) && daemon_fingerprint(&st) == fp)
		return true;
	sched_remove(d->parked, id);
	return false;
}

/* Schedule id from its file: the file is the truth. */
void
daemon_schedule(struct daemon *d, const char *id)
{
	struct spool_error err;
	struct qf_envelope *env;
	enum spool_result r;
	enum qf_status qs;
	long long now = daemon_now_ms(), due;
	bool locked;
	char *data;
	size_t len;

	if (daemon_active(d, id))
		return;		/* rescheduled when its attempt ends */
	if (daemon_still_parked(d, id))
		return;		/* as it was when it was left: said once */
	r = spool_peek(d->sp, 'q', id, &locked, &data, &len, NULL, &err);
	if (r == SPOOL_ERROR && sched_due(d->unreadable, id, &due)) {
		/* Still unreadable: its next try stands (daemon_verify
		 * took it out: then in the interval it had). */
		long long when;

		if (!sched_due(d->sched, id, &when))
			sched_set(d->sched, id, now + due);
		return;
	}
	sched_remove(d->unreadable, id);
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

/* An ID a scan found, whose file is read now: scheduled from it (or
 * dropped, parked, quarantined later, as daemon_schedule decides). */
static void
daemon_verify(struct daemon *d, const char *id)
{
	char copy[QID_MAX_LEN + 1];

	snprintf(copy, sizeof copy, "%s", id);	/* id may be the heap's */
	sched_remove(d->sched, copy);
	daemon_schedule(d, copy);
}

/* The scan's IDs not read yet are the earliest entries: read
 * some, DAEMON_VERIFY_MS of work at most, so that the loop answers in
 * between; true while some are left. */
static bool
daemon_verify_some(struct daemon *d)
{
	long long start = daemon_mono_ms();
	const char *id;
	long long due;
	unsigned k;

	for (k = 0; sched_next(d->sched, &id, &due) && due == DAEMON_UNVERIFIED; k++) {
		if ((k & 15) == 15 && daemon_mono_ms() - start >= DAEMON_VERIFY_MS)
			return true;
		daemon_verify(d, id);
	}
	return false;
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
		unsigned long long h = DAEMON_FNV_BASIS;
		unsigned long long ino = (unsigned long long)k->ino;

		h = daemon_fnv(h, k->name, strlen(k->name) + 1);
		now[i] = daemon_fnv(h, &ino, sizeof ino);
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
	struct spool_error err;

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
	struct spool_error err;
	size_t i;

	if (d->cursor == NULL)
		return false;
	r = spool_cursor_next(d->cursor, DAEMON_RESCAN_SLICE, found, &err);
	for (i = 0; i < found->nids; i++) {
		long long due;

		/* Read later (daemon_verify): a million files are not
		 * read before READY=1, nor on the loop in one go. */
		if (!sched_due(d->sched, found->ids[i], &due) && !daemon_active(d, found->ids[i]))
			sched_set(d->sched, found->ids[i], DAEMON_UNVERIFIED);
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
	    sched_count(d->sched), up ? "up" : "down", d->paused ? ", delivery paused" : "",
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

static void
daemon_slot_free(struct daemon *d, struct daemon_slot *s)
{
	if (s->c != NULL && s->registered)
		(void)epoll_ctl(d->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	smtp_free(s->c);
	memset(s, 0, sizeof *s);
	s->fd = -1;
}

/* The counters and any flush --wait: what came of one attempt. */
static void
daemon_count(struct daemon *d, const char *id, const struct deliver_outcome *o)
{
	static const long long bounds[DAEMON_LAT_N] = DAEMON_LAT_BOUNDS;
	const char *what;
	char text[400];

	if (o->failed > 0) {
		d->stats.bounced++;
		what = "bounced";
		snprintf(text, sizeof text, "%zu recipient%s failed%s: %s", o->failed,
		    o->failed == 1 ? "" : "s", o->sent ? " (the others delivered)" : "",
		    o->status[0] ? o->status : "returned to the sender");
	} else if (o->deferred > 0) {
		d->stats.deferred++;
		what = "deferred";
		snprintf(text, sizeof text, "%s%s", o->sent ? "partly delivered; " : "",
		    o->status[0] ? o->status : "Deferred");
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
		snprintf(text, sizeof text, "%zu recipient%s", o->sent, o->sent == 1 ? "" : "s");
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

	snprintf(id, sizeof id, "%s", deliver_id(j));
	deliver_outcome(j, &o);
	res = deliver_finish(j);
	deliver_tally_add(&d->tally, res);
	if (res != DELIVER_SKIPPED && res != DELIVER_QUARANTINED && res != DELIVER_LEFT)
		daemon_count(d, id, &o);
	daemon_schedule(d, id);
}

/* The attempt on slot s is over: its outcome to disk, or held until it
 * can be written (daemon.h). */
static void
daemon_job_done(struct daemon *d, struct daemon_slot *s)
{
	struct deliver_job *j = s->j;

	s->j = NULL;
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
}

/* The next message due, its file read first if a scan only found it;
 * false when none is due (or reading them took DAEMON_VERIFY_MS: the
 * loop goes on, and comes back). */
static bool
daemon_pop_due(struct daemon *d, char id[QID_MAX_LEN + 1])
{
	long long start = daemon_mono_ms(), now = daemon_now_ms(), due;
	const char *next;
	unsigned k;

	for (k = 0; sched_next(d->sched, &next, &due) && due == DAEMON_UNVERIFIED; k++) {
		if ((k & 15) == 15 && daemon_mono_ms() - start >= DAEMON_VERIFY_MS)
			return false;
		daemon_verify(d, next);
	}
	return sched_pop(d->sched, now, id);
}

/* Give an idle, usable connection its next message. */
static void
daemon_feed(struct daemon *d, struct daemon_slot *s, long long mono)
{
	char id[QID_MAX_LEN + 1];

	while (!daemon_draining(d) && daemon_pop_due(d, id)) {
		enum deliver_result res;
		struct smtp_txn *t;

		if (daemon_active(d, id))
			continue;
		s->j = deliver_open(d->cfg->dc, id, &res);
		if (s->j == NULL) {
			long long due, soonest = daemon_now_ms() + DAEMON_SKIPPED_RETRY_MS;

			/* Locked by its submitter: shortly again; left as it
			 * is: when it changes; quarantined: never. */
			switch (res) {
			case DELIVER_LEFT:
				daemon_park(d, id);
				daemon_tell_outcome(d, id, "skipped",
				    "left as it is, unread (see the log)");
				break;
			case DELIVER_QUARANTINED:
				daemon_tell_outcome(d, id, "quarantined",
				    "refused as sendmail would refuse it (see the log)");
				break;
			case DELIVER_UNREADABLE: {
				/* Again after 2 s, 4 s, ... up to the longest
				 * retry delay (our own close of it, an inotify
				 * event, does not bring it back sooner:
				 * daemon_schedule). */
				long long iv = DAEMON_SKIPPED_RETRY_MS, max =
				    d->cfg->policy.max_delay * 1000;

				if (sched_due(d->unreadable, id, &iv))
					iv = iv * 2 > max ? (max > iv ? max : iv) : iv * 2;
				sched_set(d->unreadable, id, iv);
				sched_set(d->sched, id, daemon_now_ms() + iv);
				daemon_tell_outcome(d, id, "skipped",
				    "its control file cannot be read (see the log)");
				break;
			}
			default:
				/* Never due at once again: what deliver_open
				 * just skipped, the file would say again, and
				 * this loop would spin on it. */
				daemon_schedule(d, id);
				if (sched_due(d->sched, id, &due) && due < soonest)
					sched_set(d->sched, id, soonest);
				break;
			}
			continue;
		}
		t = deliver_next(s->j, smtp_extensions(s->c));
		if (t == NULL) {
			daemon_job_done(d, s);
			continue;
		}
		if (!smtp_submit(s->c, t)) {
			log_msg(LOG_LVL_ERR, "%s: the connection could not take the transaction", id);
			daemon_job_done(d, s);
			return;
		}
		return;
	}
	if (s->idle_since == 0)
		s->idle_since = mono;
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

static void
daemon_went_down(struct daemon *d, struct daemon_slot *s, long long mono)
{
	const char *why = smtp_error(s->c);
	size_t n = sched_count(d->sched);
	/* The TLS policy or AUTH: the relay is there but refused as
	 * configured; for the breaker the same as away (daemon.h). */
	enum smtp_setup_kind kind = smtp_setup_kind(s->c);
	const char *what = smtp_setup_kind_str(kind);
	char name[400];

	/* Only the first failure and the probes count: a second connection
	 * opened beside the first is no probe, and must not double the
	 * interval. */
	if (!s->probe && d->breaker.state != RETRY_UP)
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

		snprintf(text, sizeof text, "relay %s: %s", what, why);
		for (int k = 0; k < d->nobservers; k++)
			d->observers[k].relay_down(d->observers[k].arg, "deferred", text);
	}
}

static void
daemon_event(struct daemon *d, struct daemon_slot *s, enum smtp_event ev, long long mono)
{
	switch (ev) {
	case SMTP_EV_NONE:
		return;
	case SMTP_EV_READY:
		s->connecting = false;
		if (retry_breaker_success(&d->breaker, mono) == RETRY_CAME_BACK) {
			char took[32], name[400];
			size_t n = sched_count(d->sched);

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
		s->probe = false;
		daemon_feed(d, s, mono);
		return;
	case SMTP_EV_TXN_DONE:
		/* The disk first, before anything else goes out. */
		deliver_txn_done(s->j);
		deliver_commit(s->j);
		if (!d->stopping && deliver_pending(s->j) && smtp_usable(s->c)) {
			struct smtp_txn *t = deliver_next(s->j, smtp_extensions(s->c));

			if (t != NULL && smtp_submit(s->c, t))
				return;
		}
		daemon_job_done(d, s);
		if (smtp_usable(s->c)) {
			s->idle_since = 0;
			daemon_feed(d, s, mono);
		} else if (!s->quitting) {
			/* Lost, timed out, garbled or closed by the relay in
			 * the middle of the transaction: nothing more will
			 * come from it, and the slot is needed. */
			daemon_slot_free(d, s);
		}
		return;
	case SMTP_EV_FAILED:
		if (s->connecting)
			daemon_went_down(d, s, mono);
		if (s->j != NULL)
			daemon_job_done(d, s);
		daemon_slot_free(d, s);
		return;
	case SMTP_EV_CLOSED:
		daemon_slot_free(d, s);
		return;
	}
}

static bool
daemon_unverified(const struct daemon *d)
{
	const char *id;
	long long due;

	return sched_next(d->sched, &id, &due) && due == DAEMON_UNVERIFIED;
}

/* Open connections for the messages that are due, as the breaker lets. */
static void
daemon_dispatch(struct daemon *d, long long mono)
{
	long long now = daemon_now_ms();
	int i, busy = 0, connecting = 0;
	char err[300];

	for (i = 0; i < d->nslots; i++) {
		struct daemon_slot *s = &d->slot[i];

		if (s->c == NULL)
			continue;
		busy++;
		if (s->connecting)
			connecting++;
		if (!s->connecting && !s->quitting && s->j == NULL && smtp_usable(s->c)) {
			daemon_feed(d, s, mono);
			if (s->j == NULL && (daemon_draining(d) ||
			    mono - s->idle_since >= DAEMON_IDLE_MS)) {
				smtp_quit(s->c);
				s->quitting = true;
			}
		}
	}
	if (daemon_draining(d))
		return;
	for (i = 0; i < d->nslots && busy < d->nslots; i++) {
		struct daemon_slot *s = &d->slot[i];

		if (s->c != NULL)
			continue;
		/* A connection for each message due that no connection being
		 * set up will take (the idle ones took theirs above). */
		if (sched_count_due(d->sched, now, (size_t)connecting + 1) <= (size_t)connecting)
			return;
		/* IDs not read yet count as due; until they are read, one
		 * connection takes what is (daemon_pop_due reads them). */
		if (busy > 0 && daemon_unverified(d))
			return;
		if (!retry_breaker_allow(&d->breaker, mono))
			return;
		s->c = smtp_open(d->cfg->relay_ip, d->cfg->port, d->cfg->helo,
		    d->cfg->timeouts, err, sizeof err);
		if (s->c == NULL) {
			log_msg(LOG_LVL_ERR, "cannot make a socket: %s", err);
			(void)retry_breaker_failure(&d->breaker, mono);
			return;
		}
		if (d->cfg->security != NULL)
			smtp_secure(s->c, d->cfg->security);
		s->connecting = true;
		s->probe = d->breaker.state == RETRY_PROBING;
		s->fd = smtp_fd(s->c);
		s->idle_since = 0;
		busy++;
		connecting++;
		if (s->probe)
			return;	/* one probe at a time */
	}
}

/* ------------------------------------------------------------ events */

static void
daemon_inotify(struct daemon *d)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(d->ifd, buf, sizeof buf)) > 0) {
		char *p;

		for (p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->mask & IN_Q_OVERFLOW)
				d->rescan = true;
			else if (ev->len > 0 && ev->name[0] == 'q' && ev->name[1] == 'f' &&
			    qid_valid(ev->name + 2))
				daemon_schedule(d, ev->name + 2);
			p += sizeof *ev + ev->len;
		}
	}
}

/* SIGTERM: every transaction still before its final "." is dropped
 * (its message as it was: deliver_abandon), idle connections get QUIT;
 * the ones past the "." wait for their reply. */
static void
daemon_abandon(struct daemon *d)
{
	int i;

	for (i = 0; i < d->nslots; i++) {
		struct daemon_slot *s = &d->slot[i];
		enum smtp_abandon a;

		if (s->c == NULL || (a = smtp_abandon(s->c)) == SMTP_ABANDON_WAIT)
			continue;
		if (s->j != NULL) {
			log_msg(LOG_LVL_INFO, "%s: stopping: transaction abandoned before its final \".\"; the message stays queued as it was",
			    deliver_id(s->j));
			(void)deliver_abandon(s->j);
			s->j = NULL;
		}
		if (a == SMTP_ABANDON_QUITTING)
			s->quitting = true;
		else
			daemon_slot_free(d, s);
	}
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
		if (d->ctl != NULL)
			control_keep_fds(d->ctl, d->keepfds, spool_dirfds(d->sp, d->keepfds));
		/* Perhaps another relay: what was known of the old one
		 * does not hold. */
		retry_breaker_init(&d->breaker, d->cfg->probe_cap_ms);
	}
	(void)daemon_rescan_start(d);	/* a slice per turn, from here */
	d->next_sweep = mono + DAEMON_SWEEP_MS;
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
	if (d->nheld > 0)
		d->held_next = mono;	/* the disk may have room again */
}

static void
daemon_signal(struct daemon *d, long long mono)
{
	struct signalfd_siginfo si;

	while (read(d->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (!d->stopping) {
				log_msg(LOG_LVL_NOTICE, "stopping (signal %u)", si.ssi_signo);
				daemon_notify("STOPPING=1");
				d->stopping = true;
				d->stop_deadline = mono + DAEMON_STOP_MS;
				daemon_abandon(d);
			}
			break;
		case SIGHUP:
			daemon_request_reload(d);
			break;
		case SIGCHLD:
			if (d->ctl != NULL)
				control_reap(d->ctl);
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

/* Register each connection's descriptor for what it waits for now. */
static void
daemon_interest(struct daemon *d)
{
	int i;

	for (i = 0; i < d->nslots; i++) {
		struct daemon_slot *s = &d->slot[i];
		struct epoll_event ev;
		short pe;
		uint32_t want;

		if (s->c == NULL)
			continue;
		pe = smtp_poll_events(s->c);
		want = ((pe & POLLIN) ? EPOLLIN : 0) | ((pe & POLLOUT) ? EPOLLOUT : 0);
		if (want == s->registered)
			continue;
		memset(&ev, 0, sizeof ev);
		ev.events = want;
		ev.data.u32 = 3 + (uint32_t)i;
		if (s->registered == 0 && want != 0)
			(void)epoll_ctl(d->epfd, EPOLL_CTL_ADD, s->fd, &ev);
		else if (want == 0)
			(void)epoll_ctl(d->epfd, EPOLL_CTL_DEL, s->fd, NULL);
		else
			(void)epoll_ctl(d->epfd, EPOLL_CTL_MOD, s->fd, &ev);
		s->registered = want;
	}
}

/* How long the loop may sleep: the earliest thing it must do. */
static int
daemon_timeout(struct daemon *d, long long mono)
{
	long long t = d->next_sweep - mono, x;
	const char *id;
	long long due;
	int i;

	if (d->next_ping > 0 && d->next_ping - mono < t)
		t = d->next_ping - mono;
	if (d->status_pending && d->status_sent + 1000 - mono < t)
		t = d->status_sent + 1000 - mono;
	if (d->stopping && d->stop_deadline - mono < t)
		t = d->stop_deadline - mono;
	if (d->nheld > 0 && !d->stopping && d->held_next - mono < t)
		t = d->held_next - mono;
	if (d->ctl != NULL && (x = control_deadline(d->ctl)) >= 0 && x - mono < t)
		t = x - mono;
	for (i = 0; i < d->nslots; i++) {
		const struct daemon_slot *s = &d->slot[i];

		if (s->c == NULL)
			continue;
		if ((x = smtp_deadline(s->c)) >= 0 && x - mono < t)
			t = x - mono;
		if (!s->connecting && s->j == NULL && !s->quitting && s->idle_since > 0 &&
		    s->idle_since + DAEMON_IDLE_MS - mono < t)
			t = s->idle_since + DAEMON_IDLE_MS - mono;
	}
	if (!d->stopping && sched_next(d->sched, &id, &due)) {
		x = due - daemon_now_ms();
		/* While the relay is down, the next probe decides. */
		if (d->breaker.state != RETRY_UP) {
			long long w = retry_breaker_wait(&d->breaker, mono);

			if (w >= 0 && w > x)
				x = w;
			else if (w < 0)
				x = t;	/* a probe is out: its connection wakes us */
		}
		if (x < t)
			t = x;
	}
	if (t < 0 || d->verifying)
		t = 0;
	return t > 3600000 ? 3600000 : (int)t;
}

static bool
daemon_setup(struct daemon *d)
{
	struct epoll_event ev;
	sigset_t set;
	int qfd;
	char path[4096];

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
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
	if (d->epfd < 0 || d->ifd < 0 || d->sfd < 0) {
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
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.u32 = 1;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->ifd, &ev);
	ev.data.u32 = 2;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sfd, &ev);
	if (d->cfg->control_fd >= 0) {
		const struct control_ops ops = {
			daemon_control_request, daemon_control_closed, d,
			daemon_control_query_line, daemon_control_query_done,
		};

		d->ctl = control_new(d->cfg->control_fd, &ops);
		if (d->ctl == NULL) {
			log_msg(LOG_LVL_ERR, "cannot set up the control socket: %s", strerror(errno));
			return false;
		}
		control_keep_fds(d->ctl, d->keepfds, spool_dirfds(d->sp, d->keepfds));
		daemon_control_observe(d);
		ev.data.u32 = DAEMON_KEY_CONTROL;
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, control_fd(d->ctl), &ev);
	}
	return true;
}

int
daemon_run(struct daemon_config *cfg)
{
	struct daemon *d = xcalloc(1, sizeof *d);
	struct epoll_event evs[DAEMON_MAX_CONN + 3];
	long long mono;
	int i, n, rc = 0;

	d->cfg = cfg;
	d->sched = sched_new();
	d->parked = sched_new();
	d->unreadable = sched_new();
	/* All of them: a reload may raise the number in use. */
	for (i = 0; i < DAEMON_MAX_CONN; i++)
		d->slot[i].fd = -1;
	daemon_take_config(d);
	retry_breaker_init(&d->breaker, cfg->probe_cap_ms);
	d->status_up = true;
	d->status_sent = -1000000;
	d->stall_hook = getenv("CLIENTQ_TEST_STALL") != NULL;
	d->stats.started = d->stats.relay_changed = daemon_now_ms() / 1000;
	sdnotify_init();
	if (!daemon_setup(d)) {
		rc = 71;
		goto out;
	}
	/* The watch is armed before the scan: nothing falls between. */
	daemon_rescan(d);
	mono = daemon_mono_ms();
	d->next_sweep = mono + DAEMON_SWEEP_MS;
	if (sdnotify_watchdog_ms() > 0)
		d->next_ping = mono;
	{
		char name[400];

		daemon_relay_name(d, name, sizeof name);
		log_msg(LOG_LVL_INFO, "watching %s: %zu messages queued; relay %s, %d connections",
		    spool_path(d->sp), sched_count(d->sched), name, d->nslots);
	}
	daemon_notify("READY=1");
	if (cfg->ready_fd >= 0) {
		(void)!write(cfg->ready_fd, "", 1);
		close(cfg->ready_fd);
		cfg->ready_fd = -1;
	}
	for (;;) {
		bool busy = false;

		mono = daemon_mono_ms();
		if (d->nheld > 0 && mono >= d->held_next && !d->stopping)
			daemon_retry_held(d, mono);
		if (d->rescan || mono >= d->next_sweep) {
			(void)daemon_rescan_start(d);
			d->next_sweep = mono + DAEMON_SWEEP_MS;
		}
		d->verifying = daemon_rescan_step(d);
		d->verifying = daemon_verify_some(d) || d->verifying;
		daemon_dispatch(d, mono);
		for (i = 0; i < d->nslots; i++)
			busy = busy || d->slot[i].c != NULL;
		if (d->stopping && (!busy || mono >= d->stop_deadline))
			break;
		/* A held outcome belongs to the configuration it was made
		 * with: a reload waits for it too. */
		if (d->reload_pending && !busy && d->nheld == 0) {
			daemon_reload(d, mono);
			daemon_dispatch(d, mono);
		}
		daemon_status(d, mono);
		if (d->next_ping > 0 && mono >= d->next_ping) {
			daemon_notify("WATCHDOG=1");
			d->next_ping = mono + sdnotify_watchdog_ms();
		}
		daemon_interest(d);
		n = epoll_wait(d->epfd, evs, DAEMON_MAX_CONN + 3, daemon_timeout(d, mono));
		if (n < 0 && errno != EINTR) {
			log_msg(LOG_LVL_ERR, "epoll_wait: %s", strerror(errno));
			rc = 71;
			break;
		}
		mono = daemon_mono_ms();
		for (i = 0; i < n; i++) {
			uint32_t k = evs[i].data.u32;

			if (k == 1)
				daemon_inotify(d);
			else if (k == 2)
				daemon_signal(d, mono);
		}
		/* The control socket: its events, and its clients' time
		 * limits (cheap: a zero-timeout epoll_wait of its own). */
		if (d->ctl != NULL)
			control_io(d->ctl, mono);
		/* Every connection that is ready or past its deadline. */
		for (i = 0; i < d->nslots; i++) {
			struct daemon_slot *s = &d->slot[i];
			short rev = 0;
			int k;
			long long dl;

			if (s->c == NULL)
				continue;
			for (k = 0; k < n; k++)
				if (evs[k].data.u32 == 3 + (uint32_t)i)
					rev = (short)(((evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) ? POLLIN : 0) |
					    ((evs[k].events & EPOLLOUT) ? POLLOUT : 0) |
					    ((evs[k].events & EPOLLERR) ? POLLERR : 0) |
					    ((evs[k].events & EPOLLHUP) ? POLLHUP : 0));
			dl = smtp_deadline(s->c);
			if (rev == 0 && (dl < 0 || dl > mono))
				continue;
			for (;;) {
				enum smtp_event ev = smtp_io(s->c, rev);

				daemon_event(d, s, ev, mono);
				if (ev == SMTP_EV_NONE || s->c == NULL)
					break;
				rev = 0;
			}
		}
	}
	/* Whatever did not end in time stays queued as it is; an outcome
	 * still unwritten is given up (deliver_finish says what that
	 * leaves). */
	for (i = 0; i < d->nslots; i++) {
		if (d->slot[i].j != NULL)
			daemon_job_done(d, &d->slot[i]);
		if (d->slot[i].c != NULL)
			daemon_slot_free(d, &d->slot[i]);
	}
	while (d->nheld > 0)
		(void)deliver_finish(d->held[--d->nheld]);
	free(d->held);
	log_msg(LOG_LVL_INFO, "stopped: %lu delivered, %lu deferred", d->tally.delivered,
	    d->tally.deferred);
out:
	for (i = 0; i < d->nobservers; i++)
		d->observers[i].stop(d->observers[i].arg);
	control_free(d->ctl);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->ifd >= 0)
		close(d->ifd);
	if (d->sfd >= 0)
		close(d->sfd);
	sched_free(d->sched);
	spool_cursor_close(d->cursor);
	spool_scan_free(&d->rescan_found);
	sched_free(d->parked);
	sched_free(d->unreadable);
	free(d->skipped);
	free(d);
	return rc;
}
