/*
 * daemon-control.c: the control socket's commands (clientqctl(8)), a part
 * above the daemon's core (daemon-control.h).
 *
 * Who may do what is decided here, per request, from the peer's
 * credentials: everyone may flush and verify (both rate-limited), see
 * status, stats and check (numbers of the whole queue, no addresses),
 * and list and show their own messages (qlist_belongs); root and
 * the runner's user may do everything, and what they change is logged
 * with who asked.
 *
 * Where each command runs.  The loop does nothing per queued message and
 * waits on nobody: not on NSS (a peer's name comes from pwcache, bounded
 * and expiring), not on a client, not on the disk beyond one file.
 * - status, pause, resume, reload: O(1) on the loop, from the index.
 * - hold, release, remove: one file, under its lock, on the loop.
 * - flush of everything, or by queue ID for root and the runner's user:
 *   on the loop, from the index (O(IDs named); everything is one pass
 *   over the index's memory, no file).
 * - flush by sender or recipient, an ordinary user's flush of IDs or of
 *   their own messages, and the set flush --wait reports on: a child
 *   (control_query) reads the files and sends the IDs back; the loop
 *   makes each due as it comes.
 * - list, show, stats, check: a child (control_spawn) reads the files and
 *   answers the client itself, on a snapshot of the daemon's state.
 * - verify: the addresses checked on the loop, then a child (control_
 *   spawn) talks to the relay and answers the client itself (see
 *   daemon_cmd_verify).
 * Why children and not the index: what these select on (senders,
 * recipients, owners, sizes, reasons) is in the files, and keeping it in
 * the index would cost tens of octets per queued message against a
 * budget of 64 (bench/README.md); a child costs the loop a fork, and the
 * machine a read of the queue, which is what sendmail -bp costs too.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon-control.h"
#include "daemon-control-private.h"
#include "daemon-private.h"
#include "queue/idmap.h"
#include "queue/log.h"
#include "queue/qf.h"
#include "queue/qlist.h"
#include "util/json.h"
#include "util/monotime.h"
#include "util/promhist.h"
#include "util/pwcache.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

struct daemon_cmd {
	const char *name;
	bool admin;		/* root and the runner's user only */
	const char *keys;	/* the arguments it takes, space-separated */
	void (*fn)(struct daemon *d, control_token t, const struct daemon_peer *p,
	    const struct ctl_request *rq);
};

/* A user's name.  On the loop through pwcache (bounded, expiring: NSS
 * is asked once per user and expiry, never per request); a child, which
 * may wait, asks NSS itself. */
static void
daemon_user_name(uid_t uid, char *buf, size_t size)
{
	(void)pwcache_name(uid, buf, size, time(NULL));
}


/* ------------------------------------------------------------ waiters */

static void daemon_flushq_forget_waiter(struct daemon *d, const struct daemon_waiter *w);
static void daemon_flushqs_stop(struct daemon *d);

static void
daemon_waiter_free(struct daemon *d, struct daemon_waiter *w)
{
	struct daemon_waiter **pp;

	for (pp = &d->waiters; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	daemon_flushq_forget_waiter(d, w);
	idmap_free(w->pending);
	free(w);
}

/* The last message of w is reported: its summary. */
static void
daemon_waiter_end(struct daemon *d, struct daemon_waiter *w)
{
	char other[64] = "";

	if (w->other > 0)
		snprintf(other, sizeof other, ", %lu otherwise", w->other);
	control_end(d->ctl, w->token, w->deferred > 0 ? CTL_TRY : CTL_OK,
	    "%lu delivered, %lu deferred, %lu bounced%s", w->delivered, w->deferred,
	    w->bounced, other);
	daemon_waiter_free(d, w);
}

/* One message of w reported; false when that ended w (its last, or the
 * client went away). */
static bool
daemon_waiter_report(struct daemon *d, struct daemon_waiter *w, const char *id,
    const char *outcome, const char *text)
{
	if (strcmp(outcome, "delivered") == 0)
		w->delivered++;
	else if (strcmp(outcome, "deferred") == 0)
		w->deferred++;
	else if (strcmp(outcome, "bounced") == 0)
		w->bounced++;
	else
		w->other++;
	if (!control_line(d->ctl, w->token, 'P', "%s %s %s", id, outcome, text)) {
		daemon_waiter_free(d, w);
		return false;
	}
	if (idmap_count(w->pending) == 0 && !w->gathering) {
		daemon_waiter_end(d, w);
		return false;
	}
	return true;
}

static void
daemon_waiters_resolve(void *arg, const char *id, const char *outcome, const char *text)
{
	struct daemon *d = arg;
	struct daemon_waiter *w, *next;

	for (w = d->waiters; w != NULL; w = next) {
		next = w->next;
		if (idmap_remove(w->pending, id))
			daemon_waiter_report(d, w, id, outcome, text);
	}
}

static void
daemon_waiters_all(void *arg, const char *outcome, const char *text)
{
	struct daemon *d = arg;
	struct daemon_waiter *w, *next;

	for (w = d->waiters; w != NULL; w = next) {
		size_t n = idmap_count(w->pending), k = 0, i, cursor = 0;
		char (*ids)[QID_MAX_LEN + 1] = xcalloc(n ? n : 1, sizeof *ids);
		const char *id;

		next = w->next;
		/* Every pending one but those being delivered on another
		 * connection, which a refused connection does not touch; copied
		 * first, as a report may end w. */
		while (k < n && idmap_next(w->pending, &cursor, &id, NULL))
			snprintf(ids[k++], sizeof ids[0], "%s", id);
		for (i = 0; i < k; i++)
			if (!daemon_active(d, ids[i]) && idmap_remove(w->pending, ids[i]) &&
			    !daemon_waiter_report(d, w, ids[i], outcome, text))
				break;	/* w ended */
		free(ids);
	}
}

static void
daemon_waiters_stop(void *arg)
{
	struct daemon *d = arg;

	daemon_flushqs_stop(d);
	while (d->waiters != NULL) {
		control_end(d->ctl, d->waiters->token, CTL_TRY,
		    "the daemon stopped before every message was tried");
		daemon_waiter_free(d, d->waiters);
	}
}

static void
daemon_control_closed(void *arg, control_token t)
{
	struct daemon *d = arg;
	struct daemon_waiter *w;

	for (w = d->waiters; w != NULL; w = w->next)
		if (w->token == t) {
			daemon_waiter_free(d, w);
			return;
		}
}

/* ------------------------------------------------------------ commands */

static void
daemon_cmd_status(struct daemon *d, control_token t, const struct daemon_peer *p,
    const struct ctl_request *rq)
{
	char relay[400], since[32];
	const char *state = d->stopping ? "stopping" : d->reload_pending ? "reloading" :
	    d->nheld > 0 ? "held (queue files cannot be written)" :
	    d->paused ? "paused" : "running";

	(void)p;
	(void)rq;
	daemon_relay_name(d, relay, sizeof relay);
	daemon_interval((daemon_now_ms() / 1000 - d->stats.relay_changed) * 1000, since,
	    sizeof since);
	control_end(d->ctl, t, CTL_OK,
	    "%s: %zu queued; relay %s %s for %s; %lu delivered, %lu deferred, %lu bounced",
	    state, daemon_count_queued(d), relay,
	    d->breaker.state == RETRY_UP ? "up" : "down", since, d->stats.delivered,
	    d->stats.deferred, d->stats.bounced);
}

static void
daemon_cmd_pause(struct daemon *d, control_token t, const struct daemon_peer *p,
    const struct ctl_request *rq)
{
	char who[200];

	(void)rq;
	if (d->paused) {
		control_end(d->ctl, t, CTL_OK, "delivery was paused already");
		return;
	}
	d->paused = true;
	daemon_who(p, who, sizeof who);
	log_msg(LOG_LVL_NOTICE, "delivery paused by %s", who);
	control_end(d->ctl, t, CTL_OK,
	    "delivery paused (attempts under way finish); %zu queued; the queue is still watched",
	    daemon_count_queued(d));
}

static void
daemon_cmd_resume(struct daemon *d, control_token t, const struct daemon_peer *p,
    const struct ctl_request *rq)
{
	char who[200];

	(void)rq;
	if (!d->paused) {
		control_end(d->ctl, t, CTL_OK, "delivery was not paused");
		return;
	}
	d->paused = false;
	daemon_who(p, who, sizeof who);
	log_msg(LOG_LVL_NOTICE, "delivery resumed by %s", who);
	control_end(d->ctl, t, CTL_OK, "delivery resumed; %zu queued", daemon_count_queued(d));
}

static void
daemon_cmd_reload(struct daemon *d, control_token t, const struct daemon_peer *p,
    const struct ctl_request *rq)
{
	char who[200];

	(void)rq;
	if (d->stopping) {
		control_end(d->ctl, t, CTL_TRY, "the daemon is stopping");
		return;
	}
	daemon_who(p, who, sizeof who);
	log_msg(LOG_LVL_NOTICE, "reload requested by %s", who);
	daemon_request_reload(d);
	control_end(d->ctl, t, CTL_OK,
	    "reloading once the attempts under way end; the log says how it went");
}

/* One flush per user per DAEMON_FLUSH_INTERVAL_MS, root and the
 * runner's user aside; the wait left, or 0. */
static long long
daemon_flush_wait_left(struct daemon *d, const struct daemon_peer *p)
{
	long long now = daemon_now_ms();
	struct daemon_flusher *f, *oldest = &d->flushers[0];
	int i;

	if (p->admin)
		return 0;
	for (i = 0; i < DAEMON_FLUSH_USERS; i++) {
		f = &d->flushers[i];
		if (f->last != 0 && f->uid == p->uid) {
			if (now - f->last < DAEMON_FLUSH_INTERVAL_MS)
				return DAEMON_FLUSH_INTERVAL_MS - (now - f->last);
			f->last = now;
			return 0;
		}
		if (f->last < oldest->last)
			oldest = f;
	}
	oldest->uid = p->uid;
	oldest->last = now;
	return 0;
}

/*
 * flush.  What the loop itself does is O(1) or O(IDs named): the checks,
 * the rate limit, and for root and the runner's user a flush by queue ID
 * or of everything.  A selection that needs the files (by sender or
 * recipient, an ordinary user's own messages, the set a --wait reports
 * on) is made by a child (control_query) reading the queue on a snapshot
 * of the index; the loop gets the chosen IDs as lines, a slice per
 * iteration, and makes each due as it comes.  So a flush --sender over a
 * million messages costs the loop what the million IDs cost in the
 * schedule, never the million reads and parses; sending them all through
 * the child instead of keeping senders and recipients in the index keeps
 * the index at its few dozen bytes per message.
 */

static void
daemon_flushq_forget_waiter(struct daemon *d, const struct daemon_waiter *w)
{
	struct daemon_flushq *q;

	for (q = d->flushqs; q != NULL; q = q->next)
		if (q->w == w)
			q->w = NULL;
}

static struct daemon_flushq *
daemon_flushq_find(struct daemon *d, control_token t)
{
	struct daemon_flushq *q;

	for (q = d->flushqs; q != NULL; q = q->next)
		if (q->token == t)
			return q;
	return NULL;
}

/* Stopping: every flush whose selection is still coming is answered. */
static void
daemon_flushqs_stop(struct daemon *d)
{
	while (d->flushqs != NULL) {
		control_end(d->ctl, d->flushqs->token, CTL_TRY, "%s",
		    d->flushqs->act == DAEMON_ACT_FLUSH ?
		    "the daemon stopped before the flush was made" :
		    "the daemon stopped before the results came; the log says what was done");
		daemon_flushq_free(d, d->flushqs);
	}
}

/* Indexed: scheduled, or being delivered. */
static bool
daemon_indexed(const struct daemon *d, const char *id)
{
	long long due;

	return sched_due(d->sched, id, &due) || sched_due(d->unread, id, &due) ||
	    daemon_active(d, id);
}

/* id is in a flush: due now (unless under way), and in its set. */
static void
daemon_flush_one(struct daemon *d, struct idmap *set, struct daemon_waiter *w,
    const char *id)
{
	long long due;

	if (sched_due(d->unread, id, &due)) {
		sched_set(d->unread, id, DAEMON_UNREAD_FLUSHED);	/* due once read */
	} else if (sched_due(d->sched, id, &due)) {
		if (due > daemon_now_ms())
			sched_set(d->sched, id, daemon_now_ms());
	} else if (!daemon_active(d, id)) {
		return;		/* gone since the child looked */
	}
	(void)idmap_set(set, id, 0);
	if (w != NULL)
		(void)idmap_set(w->pending, id, 0);
}

/* The flush's set is known: say so, or begin reporting (--wait). */
static void
daemon_flush_answer(struct daemon *d, control_token t, const struct daemon_peer *p,
    bool wait, bool select, struct idmap *set, struct daemon_waiter *w)
{
	size_t n = idmap_count(set);
	char who[200];

	daemon_who(p, who, sizeof who);
	if (n == 0 && (select || !wait)) {
		if (w != NULL)
			daemon_waiter_free(d, w);
		control_end(d->ctl, t, CTL_NO, "no queued message matches");
		return;
	}
	if (n > 0) {
		retry_breaker_flush(&d->breaker, monotime_ms());
		log_msg(LOG_LVL_INFO, "flush of %zu message%s requested by %s", n,
		    n == 1 ? "" : "s", who);
	}
	if (!wait) {
		control_end(d->ctl, t, CTL_OK, "%zu message%s due now%s", n, n == 1 ? "" : "s",
		    d->paused ? "; delivery is paused (clientqctl resume)" : "");
		return;
	}
	if (n == 0) {
		daemon_waiter_free(d, w);
		control_end(d->ctl, t, CTL_OK, "nothing queued");
		return;
	}
	w->gathering = false;
	if (!control_line(d->ctl, t, 'P', "- waiting %zu", n)) {
		daemon_waiter_free(d, w);
		return;
	}
	if (idmap_count(w->pending) == 0)
		daemon_waiter_end(d, w);	/* all of them reported already */
}

static struct daemon_waiter *
daemon_waiter_new(struct daemon *d, control_token t)
{
	struct daemon_waiter *w = xcalloc(1, sizeof *w);

	w->token = t;
	w->pending = idmap_new();
	w->gathering = true;
	w->next = d->waiters;
	d->waiters = w;
	return w;
}

/* In the child: its result lines ("N name", "I id" each, "E status
 * text" last). */
static void
daemon_child_select(void *arg, FILE *out)
{
	const struct daemon_reader *r = arg;
	struct daemon *d = r->d;
	struct daemon_peer p = *r->peer;
	struct spool_scan scan;
	struct error err;
	struct qsel sel;
	struct error why;
	const char *id;
	long long now = (long long)time(NULL);
	size_t pos = 0, i;
	int pass;
	bool select;

	(void)daemon_peer_named(&p);
	fprintf(out, "N %s\n", p.name);
	if (ctl_get(r->rq, "id") != NULL) {
		/* All of them checked before any is flushed. */
		for (pass = 0; pass < 2; pass++) {
			pos = 0;
			while ((id = ctl_get_next(r->rq, "id", &pos)) != NULL) {
				struct daemon_msg m;
				bool mine;

				if (pass == 1) {
					fprintf(out, "I %s\n", id);
					continue;
				}
				mine = daemon_indexed(d, id) && daemon_msg_load(d, id, 'q', &m) &&
				    daemon_mine(d, &p, &m.e);
				daemon_msg_free(&m);
				if (!mine) {
					/* Not told apart for someone who may
					 * not see it. */
					fprintf(out, "E %d %s: %s\n", CTL_NO, id, p.admin ?
					    "not in the queue" :
					    "no message of yours has this queue ID");
					return;
				}
			}
		}
		fprintf(out, "E %d\n", CTL_OK);
		return;
	}
	if (!daemon_sel_make(r->rq, &sel, &why)) {
		fprintf(out, "E %d flush: %s\n", CTL_BAD, why.reason);
		return;
	}
	select = !qsel_empty(&sel);
	if (!spool_scan(d->sp, 'q', &scan, &err)) {
		fprintf(out, "E %d %s\n", CTL_TRY, err.reason);
		qsel_free(&sel);
		return;
	}
	for (i = 0; i < scan.nids; i++) {
		struct daemon_msg m;

		if (!daemon_indexed(d, scan.ids[i]))
			continue;	/* quarantined, or not indexed yet */
		if (p.admin && !select) {
			fprintf(out, "I %s\n", scan.ids[i]);
			continue;
		}
		if (daemon_msg_load(d, scan.ids[i], 'q', &m) && daemon_mine(d, &p, &m.e) &&
		    qsel_match(&sel, &m.e, now, d->cfg->helo))
			fprintf(out, "I %s\n", scan.ids[i]);
		daemon_msg_free(&m);
	}
	spool_scan_free(&scan);
	qsel_free(&sel);
	fprintf(out, "E %d\n", CTL_OK);
}

static void
daemon_control_query_line(void *arg, control_token t, const char *line)
{
	struct daemon *d = arg;
	struct daemon_flushq *q = daemon_flushq_find(d, t);
	char *end;
	long st;

	if (q == NULL || q->ended || line[0] == '\0' || line[1] != ' ')
		return;
	switch (line[0]) {
	case 'N':
		snprintf(q->peer.name, sizeof q->peer.name, "%s", line + 2);
		break;
	case 'I':
		if (q->act != DAEMON_ACT_FLUSH)
			daemon_act_line(d, q, 'I', line + 2);
		else if (qid_valid(line + 2) && !d->stopping)
			daemon_flush_one(d, q->set, q->w, line + 2);
		break;
	case 'S':
		if (q->act != DAEMON_ACT_FLUSH)
			daemon_act_line(d, q, 'S', line + 2);
		break;
	case 'E':
		st = strtol(line + 2, &end, 10);
		if (end == line + 2 || st < CTL_OK || st > CTL_TRY)
			break;
		q->ended = true;
		q->st = (enum ctl_status)st;
		snprintf(q->text, sizeof q->text, "%s", *end == ' ' ? end + 1 : "");
		break;
	default:
		break;
	}
}

static void
daemon_control_query_done(void *arg, control_token t)
{
	struct daemon *d = arg;
	struct daemon_flushq *q = daemon_flushq_find(d, t);

	if (q == NULL)
		return;
	if (!q->ended) {
		q->st = CTL_TRY;
		snprintf(q->text, sizeof q->text,
		    "%s: the selection broke off (see the log); try again", q->act ==
		    DAEMON_ACT_FLUSH ? "flush" : "the action");
		log_msg(LOG_LVL_ERR, "the child selecting a request's messages ended without an answer");
	}
	if (q->act != DAEMON_ACT_FLUSH) {
		daemon_act_answer(d, q);
	} else if (q->st != CTL_OK) {
		if (q->w != NULL)
			daemon_waiter_free(d, q->w);
		control_end(d->ctl, t, q->st, "%s", q->text);
	} else {
		daemon_flush_answer(d, t, &q->peer, q->wait, q->select, q->set, q->w);
	}
	daemon_flushq_free(d, q);
}

static void
daemon_cmd_flush(struct daemon *d, control_token t, const struct daemon_peer *p,
    const struct ctl_request *rq)
{
	bool wait = ctl_get(rq, "wait") != NULL, select;
	bool named = ctl_get(rq, "id") != NULL;
	struct daemon_reader r = { d, p, rq };
	struct daemon_flushq *q;
	long long left;
	const char *id;
	size_t pos = 0;
	struct error err;
	char who[200], what[300];

	if (d->stopping) {
		control_end(d->ctl, t, CTL_TRY, "the daemon is stopping");
		return;
	}
	if (!daemon_sel_check(rq, what, sizeof what, &err)) {
		control_end(d->ctl, t, CTL_BAD, "flush: %s", err.reason);
		return;
	}
	select = what[0] != '\0';
	if (named && select) {
		control_end(d->ctl, t, CTL_BAD, "flush: queue IDs or selectors, not both");
		return;
	}
	if (wait && d->paused) {
		control_end(d->ctl, t, CTL_NO,
		    "delivery is paused, so nothing would be tried (clientqctl resume)");
		return;
	}
	while ((id = ctl_get_next(rq, "id", &pos)) != NULL)
		if (!qid_valid(id)) {
			control_end(d->ctl, t, CTL_BAD, "flush: '%.60s' is not a queue ID", id);
			return;
		}
	if ((left = daemon_flush_wait_left(d, p)) > 0) {
		control_end(d->ctl, t, CTL_TRY,
		    "flush refused: one flush every %d s per user; try again in %lld s",
		    DAEMON_FLUSH_INTERVAL_MS / 1000, (left + 999) / 1000);
		return;
	}
	if (!named && !select && !wait) {
		/* Everything: no selection to make. */
		daemon_who(p, who, sizeof who);
		log_msg(LOG_LVL_INFO, "flush: every message is due now (requested by %s)", who);
		daemon_flush_all(d, monotime_ms());
		control_end(d->ctl, t, CTL_OK, "%zu message%s due now%s", daemon_count_queued(d),
		    daemon_count_queued(d) == 1 ? "" : "s",
		    d->paused ? "; delivery is paused (clientqctl resume)" : "");
		return;
	}
	if (named && p->admin) {
		/* Root and the runner's user: no file to read. */
		struct idmap *set = idmap_new();
		struct daemon_waiter *w = wait ? daemon_waiter_new(d, t) : NULL;

		pos = 0;
		while ((id = ctl_get_next(rq, "id", &pos)) != NULL)
			if (!daemon_indexed(d, id)) {
				if (w != NULL)
					daemon_waiter_free(d, w);
				control_end(d->ctl, t, CTL_NO, "%s: not in the queue", id);
				idmap_free(set);
				return;
			}
		pos = 0;
		while ((id = ctl_get_next(rq, "id", &pos)) != NULL)
			daemon_flush_one(d, set, w, id);
		daemon_flush_answer(d, t, p, wait, select, set, w);
		idmap_free(set);
		return;
	}
	if (!select && wait)
		daemon_flush_all(d, monotime_ms());	/* the set follows */
	q = daemon_flushq_new(d, t, p, DAEMON_ACT_FLUSH);
	q->wait = wait;
	q->select = select || named;
	q->set = idmap_new();
	q->w = wait ? daemon_waiter_new(d, t) : NULL;
	if (!control_query(d->ctl, t, daemon_child_select, &r)) {
		if (q->w != NULL)
			daemon_waiter_free(d, q->w);
		daemon_flushq_free(d, q);
		control_end(d->ctl, t, CTL_TRY, "busy: too many requests under way; try again");
	}
}

/* ------------------------------------------------------------ readers */

/* What a listing keeps: what the peer may see, and matches the
 * selectors (with held, only held messages). */
struct daemon_want {
	const struct daemon_reader *r;
	const struct qsel *sel;
	bool held;
	long long now;
};

static bool
daemon_want(void *arg, const struct qlist_entry *e)
{
	const struct daemon_want *w = arg;

	return daemon_mine(w->r->d, w->r->peer, e) && (!w->held || e->held) &&
	    qsel_match(w->sel, e, w->now, w->r->d->cfg->helo);
}

/* In a child: the listing, ordered, without the envelopes (each file is
 * read again as it is printed, so a listing of a million costs about
 * 100 octets a message, not the envelopes'); the held messages too with
 * with_held. */
static bool
daemon_gather(const struct daemon_reader *r, FILE *out, struct qlist *ql,
    struct daemon_want *w, bool with_held)
{
	struct error err;

	if (!qlist_gather(r->d->sp, ql, false, daemon_want, w, &err)) {
		control_fprint_end(out, CTL_TRY, "%s", err.reason);
		return false;
	}
	if (with_held && !qlist_gather_held(r->d->sp, ql, false, daemon_want, w, &err)) {
		control_fprint_end(out, CTL_TRY, "%s", err.reason);
		qlist_free(ql);
		return false;
	}
	return true;
}

enum daemon_format { DAEMON_MAILQ, DAEMON_JSON, DAEMON_JSONL };

/* The listing as the client reads it, a line at a time. */
static void
daemon_print(const struct daemon_reader *r, FILE *out, enum daemon_format fmt,
    const struct qlist *ql)
{
	FILE *data = control_data_open(out);

	if (data == NULL) {
		control_fprint_end(out, CTL_TRY, "out of memory");
		return;
	}
	if (fmt == DAEMON_JSONL) {
		qlist_print_jsonl(ql, r->d->sp, data);
	} else if (fmt == DAEMON_JSON) {
		qlist_print_json(ql, r->d->sp, data);
		putc('\n', data);
	} else {
		qlist_print_mailq(ql, r->d->sp, spool_path(r->d->sp), data);
	}
	if (fclose(data) != 0)
		return;		/* the client went */
	control_fprint_end(out, CTL_OK, "%s", "");
}

static void daemon_ctime(long long t, char *buf, size_t size);

/* The peer may see re: as for a queued message, by the owner and the
 * sender kept with it. */
static bool
daemon_recent_mine(const struct daemon_reader *r, const struct recent_entry *re)
{
	struct qf_envelope env;
	struct qlist_entry e;

	memset(&env, 0, sizeof env);
	memset(&e, 0, sizeof e);
	env.sender = (char *)re->sender;
	e.env = &env;
	e.sres = re->owner != (uid_t)-1 ? SPOOL_OK : SPOOL_GONE;
	e.owner = re->owner;
	return daemon_mine(r->d, r->peer, &e);
}


/* list --recent: the messages that left the queue lately (recent.h),
 * newest first, those the peer may see: a line each, or with --json one
 * JSON object a line with our own member names (Postfix's queue has no
 * such list: none of postqueue -j's names would fit). */
static void
daemon_child_recent(const struct daemon_reader *r, FILE *out, bool json)
{
	const struct recent_entry *re;
	char *buf = NULL, when[64];
	size_t len = 0, k, n = 0;
	FILE *mem = open_memstream(&buf, &len);

	if (mem == NULL) {
		control_fprint_end(out, CTL_TRY, "out of memory");
		return;
	}
	for (k = 0; (re = recent_at(r->d->recent, k)) != NULL; k++) {
		if (!daemon_recent_mine(r, re))
			continue;
		n++;
		if (!json) {
			daemon_ctime((long long)re->when, when, sizeof when);
			fprintf(mem, "%s  %s  %s  %s%s%s%s%s\n", re->id, when, re->outcome,
			    re->sender, re->relay[0] ? "  relay " : "", re->relay,
			    re->mta_qids[0] ? "  MTA queue ID " : "", re->mta_qids);
			continue;
		}
		fputs("{\"clientq_queue_id\": ", mem);
		json_string(mem, re->id);
		fprintf(mem, ", \"clientq_left_at\": %lld, \"clientq_outcome\": ", (long long)re->when);
		json_string(mem, re->outcome);
		fputs(", \"clientq_sender\": ", mem);
		json_string(mem, re->sender);
		fputs(", \"clientq_relay\": ", mem);
		json_string(mem, re->relay);
		fputs(", \"clientq_mta_queue_ids\": [", mem);
		{
			/* ", " between them (deliver_outcome's). */
			const char *p = re->mta_qids;
			bool first = true;

			while (*p != '\0') {
				size_t m = strcspn(p, ", ");
				char one[200];

				if (m > 0) {
					snprintf(one, sizeof one, "%.*s", (int)m, p);
					fputs(first ? "" : ", ", mem);
					json_string(mem, one);
					first = false;
				}
				p += m;
				p += strspn(p, ", ");
			}
		}
		fputs("], \"clientq_status\": ", mem);
		json_string(mem, re->status);
		fputs("}\n", mem);
	}
	fclose(mem);
	control_fprint_data(out, buf, len);
	free(buf);
	control_fprint_end(out, CTL_OK, "%s", json ? "" : n == 0 ? "nothing left the queue lately" : "");
}

/* list: format mailq (the default), jsonl (postqueue -j's JSON Lines,
 * held messages included, and what is being delivered is "active"), or
 * json (the old array, for one release). */
static void
daemon_child_list(void *arg, FILE *out)
{
	const struct daemon_reader *r = arg;
	const char *fmt = ctl_get(r->rq, "format");
	bool jsonl = fmt != NULL && strcmp(fmt, "jsonl") == 0;
	bool held = ctl_get(r->rq, "held") != NULL;
	struct daemon_want w = { r, NULL, held, (long long)time(NULL) };
	struct error why;
	struct qsel sel;
	struct qlist ql;
	size_t i;

	if (ctl_get(r->rq, "recent") != NULL) {
		daemon_child_recent(r, out, jsonl);
		return;
	}
	if (!daemon_sel_make(r->rq, &sel, &why)) {
		control_fprint_end(out, CTL_BAD, "list: %s", why.reason);
		return;
	}
	w.sel = &sel;
	if (!daemon_gather(r, out, &ql, &w, jsonl || held)) {
		qsel_free(&sel);
		return;
	}
	qsel_free(&sel);
	/* The child's snapshot of the jobs under way is the parent's at
	 * the fork: close enough for a listing, as mailq's '*' is. */
	for (i = 0; jsonl && i < ql.n; i++)
		ql.v[i].active = !ql.v[i].held && daemon_active(r->d, ql.v[i].id);
	daemon_print(r, out, jsonl ? DAEMON_JSONL : fmt != NULL && strcmp(fmt, "json") == 0 ?
	    DAEMON_JSON : DAEMON_MAILQ, &ql);
	qlist_free(&ql);
}

static void
daemon_ctime(long long t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || localtime_r(&tt, &tm) == NULL)
		snprintf(buf, size, "-");
	else
		strftime(buf, size, "%Y-%m-%d %H:%M:%S %z", &tm);
}

/* show of a message no longer in the queue: what the daemon saw become
 * of it lately (recent.h), to those who could see it while queued. */
static void
daemon_show_recent(const struct daemon_reader *r, const char *id, FILE *out)
{
	const struct recent_entry *re = recent_find(r->d->recent, id);
	char when[64];

	if (re == NULL) {
		control_fprint_end(out, CTL_NO, r->peer->admin ? "%s: no such message" :
		    "%s: no message of yours has this queue ID", id);
		return;
	}
	if (!daemon_recent_mine(r, re)) {
		/* as for a queued message not theirs: not even whether it
		 * exists */
		control_fprint_end(out, CTL_NO, "%s: no message of yours has this queue ID", id);
		return;
	}
	daemon_ctime((long long)re->when, when, sizeof when);
	fprintf(out, "D Queue ID:    %s (no longer in the queue)\n", id);
	fprintf(out, "D Sender:      %s\n", re->sender);
	fprintf(out, "D Outcome:     %s at %s%s%s%s%s\n", re->outcome, when,
	    re->relay[0] ? " to relay " : "", re->relay,
	    re->mta_qids[0] ? ", MTA queue ID " : "", re->mta_qids);
	if (re->status[0] != '\0')
		fprintf(out, "D Last status: %s\n", re->status);
	control_fprint_end(out, CTL_OK, "%s", "");
}

/* One message shown, its status line last (NO when it is not there, or
 * not the peer's). */
static void
daemon_show_one(const struct daemon_reader *r, const char *id, FILE *out)
{
	struct daemon *d = r->d;
	struct qlist_entry e;
	struct error err;
	struct error qerr;
	char *data, when[64], ago[32], owner[64];
	char prefix = 'q';
	long long due, now = daemon_now_ms();
	size_t len, i;

	memset(&e, 0, sizeof e);
	e.sres = spool_peek(d->sp, 'q', id, &e.locked, &data, &len, &e.owner, &err);
	if (e.sres == SPOOL_GONE) {
		prefix = 'h';
		e.sres = spool_peek(d->sp, 'h', id, &e.locked, &data, &len, &e.owner, &err);
	}
	if (e.sres == SPOOL_GONE) {
		daemon_show_recent(r, id, out);
		return;
	}
	if (e.sres != SPOOL_OK) {
		control_fprint_end(out, CTL_NO, "%s", err.reason);
		return;
	}
	if (qf_parse(data, len, &e.env, &qerr) != QF_OK) {
		free(data);
		if (!r->peer->admin) {
			control_fprint_end(out, CTL_NO, "%s: no message of yours has this queue ID", id);
			return;
		}
		control_fprint_end(out, CTL_NO, "%s: unreadable: %s", id, qerr.reason);
		return;
	}
	free(data);
	if (!daemon_mine(d, r->peer, &e)) {
		/* Told as of one that does not exist. */
		control_fprint_end(out, CTL_NO, "%s: no message of yours has this queue ID", id);
		qf_free(e.env);
		return;
	}
	daemon_user_name(e.owner, owner, sizeof owner);
	fprintf(out, "D Queue ID:    %s%s\n", id, prefix == 'h' ? " (held)" : "");
	fprintf(out, "D File owner:  %s\n", owner);
	fprintf(out, "D Sender:      %s\n", e.env->sender ? e.env->sender : "");
	daemon_ctime(e.env->ctime, when, sizeof when);
	daemon_interval((now / 1000 - e.env->ctime) * 1000, ago, sizeof ago);
	fprintf(out, "D Queued:      %s (%s ago)\n", when, ago);
	fprintf(out, "D Size:        %lld bytes\n", spool_df_size(d->sp, id));
	fprintf(out, "D Priority:    %lld\n", e.env->priority);
	daemon_ctime(e.env->dtime, when, sizeof when);
	fprintf(out, "D Tries:       %ld%s%s\n", e.env->ntries, e.env->ntries ? ", the last at " : "",
	    e.env->ntries ? when : "");
	if (e.env->status != NULL)
		fprintf(out, "D Last status: %s\n", e.env->status);
	if (prefix == 'h')
		fprintf(out, "D Held:        %s\n", e.env->quarantine ? e.env->quarantine : "");
	if (prefix == 'h')
		fprintf(out, "D Next try:    none while held (clientqctl release)\n");
	else if (daemon_active(d, id) || e.locked)
		fprintf(out, "D Next try:    now (%s)\n", daemon_active(d, id) ?
		    "being delivered" : "locked by another process");
	else if (d->paused)
		fprintf(out, "D Next try:    when delivery resumes (paused)\n");
	else if (sched_due(d->sched, id, &due) || sched_due(d->unread, id, &due)) {
		/* Not read by the daemon yet: its file, just read, says. */
		if (due == DAEMON_UNREAD_FLUSHED || (due == DAEMON_UNREAD && d->flushed_unread))
			due = now;
		else if (due == DAEMON_UNREAD)
			due = retry_due(&d->cfg->policy, e.env->dtime, e.env->ntries, id) * 1000;
		if (d->breaker.state != RETRY_UP) {
			long long w = retry_breaker_wait(&d->breaker, monotime_ms());

			if (w > 0 && now + w > due)
				due = now + w;
		}
		daemon_ctime(due / 1000, when, sizeof when);
		if (due <= now)
			fprintf(out, "D Next try:    now\n");
		else {
			daemon_interval(due - now + 999, ago, sizeof ago);
			fprintf(out, "D Next try:    %s (in %s%s)\n", when, ago,
			    d->breaker.state != RETRY_UP ? "; the relay is down" : "");
		}
	} else
		fprintf(out, "D Next try:    not scheduled (see the log)\n");
	fprintf(out, "D Recipients:  %zu\n", e.env->nrcpts);
	for (i = 0; i < e.env->nrcpts; i++)
		fprintf(out, "D   %s%s%s\n", e.env->rcpts[i].addr,
		    e.env->rcpts[i].status ? "  " : "",
		    e.env->rcpts[i].status ? e.env->rcpts[i].status : "");
	control_fprint_end(out, CTL_OK, "%s", "");
	qf_free(e.env);
}

/* show with selectors: each message picked, as show shows one. */
struct daemon_show_scan {
	const struct daemon_reader *r;
	FILE *out;
	size_t n;
};

static bool
daemon_show_picked(void *arg, const struct daemon_msg *m)
{
	struct daemon_show_scan *sc = arg;
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);

	if (mem == NULL)
		return false;
	daemon_show_one(sc->r, m->e.id, mem);
	fclose(mem);
	/* Its D lines; a message gone since it was picked has none. */
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "D ", 2) != 0)
			continue;
		if (line == buf && sc->n++ > 0)
			fputs("D \n", sc->out);
		fprintf(sc->out, "%s\n", line);
	}
	free(buf);
	return true;
}

static void
daemon_child_show(void *arg, FILE *out)
{
	const struct daemon_reader *r = arg;
	const char *id = ctl_get(r->rq, "id");
	struct daemon_show_scan sc = { r, out, 0 };
	struct daemon_peer p = *r->peer;
	struct qsel sel;
	struct error err;

	if (id != NULL) {
		daemon_show_one(r, id, out);
		return;
	}
	(void)daemon_peer_named(&p);
	if (!daemon_sel_make(r->rq, &sel, &err)) {
		control_fprint_end(out, CTL_BAD, "show: %s", err.reason);
		return;
	}
	if (!daemon_select(r->d, &p, ctl_get(r->rq, "held") != NULL ? 'h' : 'q', &sel,
	    daemon_show_picked, &sc, &err))
		control_fprint_end(out, CTL_TRY, "%s", err.reason);
	else if (sc.n == 0)
		control_fprint_end(out, CTL_NO, "no queued message matches");
	else
		control_fprint_end(out, CTL_OK, "%zu message%s", sc.n, sc.n == 1 ? "" : "s");
	qsel_free(&sel);
}

/* The queue's numbers, from the child's reading of it, a file at a
 * time (qlist_walk: a million files cost one file's memory). */
struct daemon_qstats {
	size_t queued, deferred, older;
	long long oldest;	/* age in s, 0 when empty */
	const struct daemon *d;
	long long now, age;	/* age: -1, none asked */
	struct promhist *age_h, *size_h;	/* NULL: not asked */
};

/* qlist_walk's callback: the gauges count the queue the runner works
 * on; the histograms (postfix_exporter's showq ones, by queue_name as
 * list --json names it) count the held messages too, as hold.  A file
 * without an envelope has no age: it is in the gauges only. */
static void
daemon_qstats_one(void *arg, const struct qlist_entry *e)
{
	struct daemon_qstats *q = arg;
	const struct qf_envelope *env = e->env;
	long long a;

	if (!e->held)
		q->queued++;
	if (env == NULL)
		return;
	a = q->now - env->ctime;
	if (a < 0)
		a = 0;
	if (!e->held) {
		q->deferred += env->ntries > 0;
		q->older += q->age >= 0 && a >= q->age;
		if (a > q->oldest)
			q->oldest = a;
	}
	if (q->age_h != NULL) {
		struct qlist_entry c = *e;

		c.active = !e->held && daemon_active(q->d, e->id);
		promhist_observe(q->age_h, qlist_queue_name(&c), (double)a);
		promhist_observe(q->size_h, qlist_queue_name(&c), (double)qlist_message_size(&c));
	}
}

/* The numbers, held messages too when there are histograms; false when
 * the queue cannot be read (answered). */
static bool
daemon_qstats(const struct daemon_reader *r, FILE *out, struct daemon_qstats *q)
{
	struct error err;

	q->d = r->d;
	q->now = daemon_now_ms() / 1000;
	if (!qlist_walk(r->d->sp, 'q', daemon_qstats_one, q, &err) ||
	    (q->age_h != NULL && !qlist_walk(r->d->sp, 'h', daemon_qstats_one, q, &err))) {
		control_fprint_end(out, CTL_TRY, "%s", err.reason);
		return false;
	}
	return true;
}

static void
daemon_child_check(void *arg, FILE *out)
{
	const struct daemon_reader *r = arg;
	const char *a = ctl_get(r->rq, "age");
	struct daemon_qstats q = { .age = a != NULL ? strtoll(a, NULL, 10) : -1 };

	if (!daemon_qstats(r, out, &q))
		return;
	fprintf(out, "D queued=%zu older=%zu oldest=%lld relay=%s paused=%d\n", q.queued,
	    q.age >= 0 ? q.older : q.queued, q.oldest,
	    r->d->breaker.state == RETRY_UP ? "up" : "down", r->d->paused);
	control_fprint_end(out, CTL_OK, "%s", "");
}

static void
daemon_child_stats(void *arg, FILE *out)
{
	static const long long bounds[DAEMON_LAT_N] = DAEMON_LAT_BOUNDS;
	const struct daemon_reader *r = arg;
	const struct daemon *d = r->d;
	const struct daemon_stats *s = &d->stats;
	const char *fmt = ctl_get(r->rq, "format");
	static const double age_bounds[] = PROMHIST_SHOWQ_AGE_BOUNDS;
	static const double size_bounds[] = PROMHIST_SHOWQ_SIZE_BOUNDS;
	static const char *const queues[] = { "active", "deferred", "hold", "incoming" };
	struct promhist age_h, size_h;
	struct daemon_qstats q = { .age = -1 };
	unsigned long cum = 0;
	int b;
	bool up = d->breaker.state == RETRY_UP;
	bool prom = fmt != NULL && strcmp(fmt, "prometheus") == 0;

	promhist_init(&age_h, "clientq_showq_message_age_seconds",
	    "Age of the messages in the client queue, in seconds.", "queue", age_bounds,
	    PROMHIST_SHOWQ_AGE_NBOUNDS, queues, 4);
	promhist_init(&size_h, "clientq_showq_message_size_bytes",
	    "Size of the messages in the client queue, in bytes.", "queue", size_bounds,
	    PROMHIST_SHOWQ_SIZE_NBOUNDS, queues, 4);
	if (prom) {
		q.age_h = &age_h;
		q.size_h = &size_h;
	}
	if (!daemon_qstats(r, out, &q))
		return;
	if (prom) {
		fprintf(out, "D # HELP clientq_queued_messages Messages in the client queue.\n"
		    "D # TYPE clientq_queued_messages gauge\n"
		    "D clientq_queued_messages %zu\n", q.queued);
		fprintf(out, "D # HELP clientq_deferred_messages Queued messages tried at least once.\n"
		    "D # TYPE clientq_deferred_messages gauge\n"
		    "D clientq_deferred_messages %zu\n", q.deferred);
		fprintf(out, "D # HELP clientq_oldest_message_age_seconds Age of the oldest queued message.\n"
		    "D # TYPE clientq_oldest_message_age_seconds gauge\n"
		    "D clientq_oldest_message_age_seconds %lld\n", q.oldest);
		fprintf(out, "D # HELP clientq_messages_total Delivery attempts by outcome since the daemon started.\n"
		    "D # TYPE clientq_messages_total counter\n"
		    "D clientq_messages_total{outcome=\"delivered\"} %lu\n"
		    "D clientq_messages_total{outcome=\"deferred\"} %lu\n"
		    "D clientq_messages_total{outcome=\"bounced\"} %lu\n",
		    s->delivered, s->deferred, s->bounced);
		fprintf(out, "D # HELP clientq_relay_up Whether the relay answers (1) or is down (0).\n"
		    "D # TYPE clientq_relay_up gauge\n"
		    "D clientq_relay_up %d\n", up);
		fprintf(out, "D # HELP clientq_relay_last_change_timestamp_seconds When the relay last went up or down (the daemon's start if never).\n"
		    "D # TYPE clientq_relay_last_change_timestamp_seconds gauge\n"
		    "D clientq_relay_last_change_timestamp_seconds %lld\n", s->relay_changed);
		fprintf(out, "D # HELP clientq_paused Whether delivery is paused.\n"
		    "D # TYPE clientq_paused gauge\n"
		    "D clientq_paused %d\n", d->paused);
		fprintf(out, "D # HELP clientq_delivery_latency_seconds Time from queueing to delivery.\n"
		    "D # TYPE clientq_delivery_latency_seconds histogram\n");
		for (b = 0; b < DAEMON_LAT_N; b++) {
			cum += s->lat[b];
			fprintf(out, "D clientq_delivery_latency_seconds_bucket{le=\"%lld\"} %lu\n",
			    bounds[b], cum);
		}
		cum += s->lat[DAEMON_LAT_N];
		fprintf(out, "D clientq_delivery_latency_seconds_bucket{le=\"+Inf\"} %lu\n"
		    "D clientq_delivery_latency_seconds_sum %.0f\n"
		    "D clientq_delivery_latency_seconds_count %lu\n", cum, s->lat_sum,
		    s->lat_count);
		fprintf(out, "D # HELP clientq_start_time_seconds When the daemon started.\n"
		    "D # TYPE clientq_start_time_seconds gauge\n"
		    "D clientq_start_time_seconds %lld\n", s->started);
		promhist_print(&age_h, "D ", out);
		promhist_print(&size_h, "D ", out);
	} else if (fmt != NULL && strcmp(fmt, "json") == 0) {
		fprintf(out, "D {\"queued\":%zu,\"deferred\":%zu,\"oldest_age\":%lld,"
		    "\"delivered_total\":%lu,\"deferred_total\":%lu,\"bounced_total\":%lu,"
		    "\"relay_up\":%s,\"relay_last_change\":%lld,\"paused\":%s,"
		    "\"started\":%lld,\"latency\":{\"buckets\":[", q.queued, q.deferred, q.oldest,
		    s->delivered, s->deferred, s->bounced, up ? "true" : "false",
		    s->relay_changed, d->paused ? "true" : "false", s->started);
		for (b = 0; b <= DAEMON_LAT_N; b++) {
			if (b < DAEMON_LAT_N)
				fprintf(out, "%s{\"le\":%lld,\"count\":%lu}", b ? "," : "", bounds[b], s->lat[b]);
			else
				fprintf(out, ",{\"le\":null,\"count\":%lu}", s->lat[b]);
		}
		fprintf(out, "],\"sum\":%.0f,\"count\":%lu}}\n", s->lat_sum, s->lat_count);
	} else {
		char when[64], relay[400];

		daemon_relay_name(d, relay, sizeof relay);
		fprintf(out, "D queued:          %zu (%zu tried before)\n", q.queued, q.deferred);
		fprintf(out, "D oldest:          %lld s\n", q.oldest);
		fprintf(out, "D delivered:       %lu\n", s->delivered);
		fprintf(out, "D deferred:        %lu\n", s->deferred);
		fprintf(out, "D bounced:         %lu\n", s->bounced);
		daemon_ctime(s->relay_changed, when, sizeof when);
		fprintf(out, "D relay:           %s %s since %s\n", relay, up ? "up" : "down", when);
		fprintf(out, "D delivery:        %s\n", d->paused ? "paused" : "running");
		daemon_ctime(s->started, when, sizeof when);
		fprintf(out, "D started:         %s\n", when);
		fprintf(out, "D latency:        ");
		for (b = 0; b <= DAEMON_LAT_N; b++) {
			if (b < DAEMON_LAT_N)
				fprintf(out, " <=%llds:%lu", bounds[b], s->lat[b]);
			else
				fprintf(out, " more:%lu", s->lat[b]);
		}
		putc('\n', out);
	}
	control_fprint_end(out, CTL_OK, "%s", "");
}

static void
daemon_spawn(struct daemon *d, control_token t, const struct daemon_peer *p,
    const struct ctl_request *rq, void (*fn)(void *, FILE *))
{
	struct daemon_reader r = { d, p, rq };

	if (!control_spawn(d->ctl, t, fn, &r))
		control_end(d->ctl, t, CTL_TRY, "busy: too many listings under way; try again");
}

static void
daemon_cmd_list(struct daemon *d, control_token t, const struct daemon_peer *p,
    const struct ctl_request *rq)
{
	const char *fmt = ctl_get(rq, "format");
	struct error err;
	char what[300];

	if (!daemon_sel_check(rq, what, sizeof what, &err)) {
		control_end(d->ctl, t, CTL_BAD, "list: %s", err.reason);
		return;
	}
	if (ctl_get(rq, "all") != NULL && !p->admin) {
		control_end(d->ctl, t, CTL_NO,
		    "list --all: only root and the runner's user see every message; you see your own");
		return;
	}
	if (fmt != NULL && strcmp(fmt, "json") != 0 && strcmp(fmt, "jsonl") != 0 &&
	    strcmp(fmt, "mailq") != 0) {
		control_end(d->ctl, t, CTL_BAD, "list: unknown format '%.40s'", fmt);
		return;
	}
	daemon_spawn(d, t, p, rq, daemon_child_list);
}

static void
daemon_cmd_show(struct daemon *d, control_token t, const struct daemon_peer *p,
    const struct ctl_request *rq)
{
	const char *id = ctl_get(rq, "id");
	struct error err;
	char what[300];

	if (!daemon_sel_check(rq, what, sizeof what, &err)) {
		control_end(d->ctl, t, CTL_BAD, "show: %s", err.reason);
		return;
	}
	if (id != NULL ? !qid_valid(id) || what[0] != '\0' : what[0] == '\0') {
		control_end(d->ctl, t, CTL_BAD, "show: a queue ID, or selectors");
		return;
	}
	daemon_spawn(d, t, p, rq, daemon_child_show);
}

static void
daemon_cmd_stats(struct daemon *d, control_token t, const struct daemon_peer *p,
    const struct ctl_request *rq)
{
	const char *fmt = ctl_get(rq, "format");

	if (fmt != NULL && strcmp(fmt, "json") != 0 && strcmp(fmt, "prometheus") != 0 &&
	    strcmp(fmt, "text") != 0) {
		control_end(d->ctl, t, CTL_BAD, "stats: unknown format '%.40s'", fmt);
		return;
	}
	daemon_spawn(d, t, p, rq, daemon_child_stats);
}

static void
daemon_cmd_check(struct daemon *d, control_token t, const struct daemon_peer *p,
    const struct ctl_request *rq)
{
	const char *a = ctl_get(rq, "age");
	char *end;

	if (a != NULL && (strtoll(a, &end, 10) < 0 || *end != '\0' || end == a)) {
		control_end(d->ctl, t, CTL_BAD, "check: age must be a number of seconds");
		return;
	}
	daemon_spawn(d, t, p, rq, daemon_child_check);
}

static const struct daemon_cmd daemon_cmds[] = {
	{ "status", false, "", daemon_cmd_status },
	{ "flush", false, "id " DAEMON_SEL_KEYS " wait", daemon_cmd_flush },
	{ "list", false, "all recent format " DAEMON_SEL_KEYS, daemon_cmd_list },
	{ "show", false, "id " DAEMON_SEL_KEYS, daemon_cmd_show },
	{ "stats", false, "format", daemon_cmd_stats },
	{ "check", false, "age", daemon_cmd_check },
	{ "verify", false, "address", daemon_cmd_verify },
	{ "pause", true, "", daemon_cmd_pause },
	{ "resume", true, "", daemon_cmd_resume },
	{ "reload", true, "", daemon_cmd_reload },
	/* Others act on their own messages (daemon-control-act.c). */
	{ "hold", false, "id comment dryrun " DAEMON_SEL_KEYS, daemon_cmd_act },
	{ "release", false, "id dryrun " DAEMON_SEL_KEYS, daemon_cmd_act },
	{ "remove", false, "id dryrun " DAEMON_SEL_KEYS, daemon_cmd_act },
	{ "bounce", false, "id dryrun " DAEMON_SEL_KEYS, daemon_cmd_act },
	{ "requeue", true, "id dryrun " DAEMON_SEL_KEYS, daemon_cmd_act },
};

static bool
daemon_key_ok(const char *keys, const char *key)
{
	size_t n = strlen(key);
	const char *p = keys;

	while ((p = strstr(p, key)) != NULL) {
		if ((p == keys || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

static void
daemon_control_request(void *arg, control_token t, const struct control_peer *cp,
    const struct ctl_request *rq)
{
	struct daemon *d = arg;
	struct daemon_peer p;
	size_t i, k;

	p.uid = cp->uid;
	p.gid = cp->gid;
	p.pid = cp->pid;
	p.admin = cp->uid == 0 || cp->uid == d->cfg->runner_uid;
	daemon_user_name(cp->uid, p.name, sizeof p.name);
	for (i = 0; i < sizeof daemon_cmds / sizeof daemon_cmds[0]; i++) {
		const struct daemon_cmd *c = &daemon_cmds[i];

		if (strcmp(c->name, rq->command) != 0)
			continue;
		for (k = 0; k < rq->nargs; k++)
			if (!daemon_key_ok(c->keys, rq->args[k].key)) {
				control_end(d->ctl, t, CTL_BAD, "%s: unknown argument '%s'",
				    c->name, rq->args[k].key);
				return;
			}
		if (c->admin && !p.admin) {
			char runner[64];

			daemon_user_name(d->cfg->runner_uid, runner, sizeof runner);
			control_end(d->ctl, t, CTL_NO, "%s: only root and %s may do that (you are %s)",
			    c->name, runner, p.name);
			return;
		}
		c->fn(d, t, &p, rq);
		return;
	}
	control_end(d->ctl, t, CTL_BAD, "unknown command '%s'", rq->command);
}

/* ------------------------------------------------------------ attach */

static void
daemon_control_reloaded(void *arg)
{
	struct daemon *d = arg;

	control_keep_fds(d->ctl, d->keepfds, spool_dirfds(d->sp, d->keepfds));
}

static void
daemon_control_child(void *arg)
{
	struct daemon *d = arg;

	control_reap(d->ctl);
}

/* The daemon stops: every waiter and pending flush is answered, then the
 * socket and its clients go. */
static void
daemon_control_stop(void *arg)
{
	struct daemon *d = arg;

	daemon_waiters_stop(d);
	control_free(d->ctl);
	d->ctl = NULL;
}

bool
daemon_control_attach(struct daemon *d, void *arg)
{
	const struct control_ops ops = {
		daemon_control_request, daemon_control_closed, d,
		daemon_control_query_line, daemon_control_query_done,
	};
	const struct daemon_observer o = {
		daemon_waiters_resolve, daemon_waiters_all, daemon_control_stop,
		daemon_control_reloaded, daemon_control_child, d,
	};

	(void)arg;
	if (d->cfg->control_fd < 0)
		return true;
	d->ctl = control_new(d->loop, d->cfg->control_fd, &ops);
	if (d->ctl == NULL) {
		log_msg(LOG_LVL_ERR, "cannot set up the control socket: %s", strerror(errno));
		return false;
	}
	control_keep_fds(d->ctl, d->keepfds, spool_dirfds(d->sp, d->keepfds));
	return daemon_observe(d, &o);
}
