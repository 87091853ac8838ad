/*
 * daemon-control-act: the control commands that change messages -- hold,
 * release, remove, bounce, requeue -- by queue ID or by selector (the
 * grammar is daemon-control-sel.c's; clientqctl(8), SELECTING MESSAGES).
 *
 * Where it runs.  An action may touch every queued file (remove
 * --older-than 7d on a flooded queue), so none of it runs on the loop: a
 * child (control_query) selects, takes each file's lock, acts, logs the
 * message's line, and writes "I id" (done) or "S id why" (left: locked,
 * being delivered) back; the loop only takes each ID out of its index
 * (hold, remove, bounce), makes it due (requeue), or lets inotify bring
 * it back (release), and answers with the count.  --dry-run is a child
 * (control_spawn) that answers the client itself and changes nothing.
 * A file's lock is the arbiter: a message the loop is delivering is
 * locked, so the child leaves it and says so; one the child holds is
 * skipped by delivery until the child is done with it.
 *
 * Who may.  Root and the runner's user: anything.  Others: hold,
 * release, remove and bounce of their own messages (daemon_mine), never
 * requeue.  A queue ID that is not theirs is answered exactly as one that
 * does not exist, so the answer does not tell whether it does.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon-control-private.h"
#include "daemon-private.h"
#include "delivery/deliver.h"
#include "queue/idmap.h"
#include "queue/log.h"
#include "queue/qf.h"
#include "queue/qsel.h"
#include "util/monotime.h"
#include "util/strbuf.h"
#include "util/xalloc.h"


static const char *const daemon_act_names[] = {
	"flush", "hold", "release", "remove", "bounce", "requeue",
};
static const char *const daemon_act_done_words[] = {
	"made due", "held", "released", "removed", "returned to the sender", "requeued",
};

/* ------------------------------------------------------------ the child */

struct daemon_actor {
	struct daemon *d;
	struct daemon_peer peer;
	const struct ctl_request *rq;
	enum daemon_act act;
	char who[200];
	FILE *out;
};

/* A one-line hold comment: control characters as spaces. */
static char *
daemon_comment(const char *s)
{
	char *r = xstrdup(s != NULL && *s != '\0' ? s : "held by clientqctl");
	char *p;

	for (p = r; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = ' ';
	return r;
}

/* The lock, or why not (in why). */
static struct spool_job *
daemon_act_lock(struct daemon *d, const char *id, char prefix, struct error *why)
{
	struct spool_job *job = NULL;
	enum spool_result r;

	r = prefix == 'h' ? spool_job_open_held(d->sp, id, &job, why) :
	    spool_job_open(d->sp, id, &job, why);
	switch (r) {
	case SPOOL_OK:
		return job;
	case SPOOL_GONE:
		error_set(why, 0, "gone meanwhile");
		return NULL;
	case SPOOL_LOCKED:
		error_set(why, 0, "locked: being delivered, or by its submitter or sendmail; try again");
		return NULL;
	default:
		return NULL;	/* why: the spool's words */
	}
}

/* Rewrite a locked control file as fn makes it, then move it to prefix
 * to (hold, release) or put it back (requeue). */
static bool
daemon_act_rewrite(struct daemon_actor *a, const char *id, char from, char to,
    struct error *why)
{
	struct spool_job *job = daemon_act_lock(a->d, id, from, why);
	struct qf_envelope *env;
	struct error qerr;
	struct strbuf sb = STRBUF_INIT;
	enum spool_result r;

	if (job == NULL)
		return false;
	if (spool_job_load(job, &env, &qerr) != QF_OK) {
		error_set(why, 0, "cannot read it: %s", qerr.reason);
		spool_job_close(job);
		return false;
	}
	switch (a->act) {
	case DAEMON_ACT_HOLD:
		free(env->quarantine);
		env->quarantine = daemon_comment(ctl_get(a->rq, "comment"));
		break;
	case DAEMON_ACT_RELEASE:
		free(env->quarantine);
		env->quarantine = NULL;
		break;
	default:
		/* requeue: as never tried, so the backoff starts again. */
		env->ntries = 0;
		env->dtime = 0;
		break;
	}
	qf_format(env, &sb);
	if (from == to) {
		r = spool_job_commit(job, sb.buf, sb.len, why);
		spool_job_close(job);
	} else {
		r = spool_job_move(job, to, sb.buf, sb.len, why);
	}
	/* Not done: why has the spool's words. */
	if (r != SPOOL_OK)
		goto out;
	if (a->act == DAEMON_ACT_HOLD)
		log_msg(LOG_LVL_NOTICE, "%s: held (hf%s) by %s: %s", id, id, a->who,
		    env->quarantine);
	else if (a->act == DAEMON_ACT_RELEASE)
		log_msg(LOG_LVL_NOTICE, "%s: released by %s", id, a->who);
	else
		log_msg(LOG_LVL_NOTICE, "%s: requeued by %s: tried again now, its backoff begun anew",
		    id, a->who);
out:
	strbuf_free(&sb);
	qf_free(env);
	return r == SPOOL_OK;
}

/* Act on one message (its file is prefix<f>id); false and why when it
 * was left. */
static bool
daemon_act_one(struct daemon_actor *a, const char *id, char prefix, struct error *why)
{
	struct spool_job *job;
	enum deliver_result res;
	struct deliver_job *j;

	switch (a->act) {
	case DAEMON_ACT_HOLD:
		return daemon_act_rewrite(a, id, 'q', 'h', why);
	case DAEMON_ACT_RELEASE:
		return daemon_act_rewrite(a, id, 'h', 'q', why);
	case DAEMON_ACT_REQUEUE:
		return daemon_act_rewrite(a, id, 'q', 'q', why);
	case DAEMON_ACT_REMOVE:
		if ((job = daemon_act_lock(a->d, id, prefix, why)) == NULL)
			return false;
		if (spool_job_remove(job, why) != SPOOL_OK)
			return false;
		/* The one deletion no relay asked for: the log keeps who. */
		log_msg(LOG_LVL_NOTICE, "%s: removed%s by %s", id, prefix == 'h' ? " (held)" : "",
		    a->who);
		return true;
	case DAEMON_ACT_BOUNCE:
		if (prefix == 'h') {
			error_set(why, 0, "held: release it first");
			return false;
		}
		if (daemon_active(a->d, id)) {
			error_set(why, 0, "being delivered now; try again when this attempt ends");
			return false;
		}
		j = deliver_open(a->d->cfg->dc, id, &res);
		if (j == NULL) {
			error_set(why, 0, "%s", res == DELIVER_SKIPPED ?
			    "locked: being delivered, or by its submitter or sendmail; try again" :
			    "cannot be read as a message (see the log)");
			return false;
		}
		deliver_return(j, a->who);
		res = deliver_finish(j);
		if (res != DELIVER_DELIVERED && res != DELIVER_PARTIAL) {
			error_set(why, 0, "the notification could not be queued (see the log)");
			return false;
		}
		return true;
	case DAEMON_ACT_FLUSH:
		break;
	}
	error_set(why, 0, "nothing to do");
	return false;
}

/* One message's result, to the loop: "I id owner sender" (what decides
 * who may see it in the daemon's list of recent ones), or "S id why"; one
 * left is logged here with why (the answer names only the first). */
static void
daemon_act_report(struct daemon_actor *a, const struct daemon_msg *m, bool done,
    const char *why)
{
	const char *sender = m->e.env != NULL && m->e.env->sender != NULL ? m->e.env->sender : "";

	if (done) {
		fprintf(a->out, "I %s %ld %s\n", m->e.id,
		    m->e.sres == SPOOL_OK ? (long)m->e.owner : -1L,
		    strpbrk(sender, "\r\n") == NULL ? sender : "");
		return;
	}
	log_msg(LOG_LVL_INFO, "%s: not %s (%s asked): %s", m->e.id, daemon_act_done_words[a->act],
	    a->who, why);
	fprintf(a->out, "S %s %s\n", m->e.id, why);
}

/* The dry run's line for a message. */
static void
daemon_act_describe(FILE *out, const struct daemon_msg *m, long long now)
{
	const struct qf_envelope *env = m->e.env;
	char age[32];

	if (env == NULL) {
		fprintf(out, "D %s%s  (unreadable: %s)\n", m->e.id, m->e.held ? " (held)" : "",
		    m->e.problem != NULL ? m->e.problem : "see the log");
		return;
	}
	daemon_interval((now - env->ctime) * 1000, age, sizeof age);
	fprintf(out, "D %s%s  %s old  from %s  to %s%s\n", m->e.id, m->e.held ? " (held)" : "",
	    age, env->sender != NULL ? env->sender : "", env->nrcpts ? env->rcpts[0].addr : "",
	    env->nrcpts > 1 ? " and more" : "");
}

/* What a pass over the queue IDs named does with them. */
enum daemon_named_pass {
	DAEMON_NAMED_CHECK,	/* each exists and is the peer's */
	DAEMON_NAMED_ACT,	/* acted on, each result to the loop */
	DAEMON_NAMED_DESCRIBE,	/* the dry run's line for each */
};

/* The messages named, one pass: the check comes first, so the request
 * fails before anything is done (false, and the refusal in err) unless
 * every one exists and is the peer's.  *n counts those described. */
static bool
daemon_act_named(struct daemon_actor *a, enum daemon_named_pass pass, size_t *n,
    struct error *err)
{
	long long now = (long long)time(NULL);
	const char *id;
	size_t pos = 0;
	struct error why;

	while ((id = ctl_get_next(a->rq, "id", &pos)) != NULL) {
		struct daemon_msg m;
		char prefix = a->act == DAEMON_ACT_RELEASE ? 'h' : 'q';
		bool there;

		there = daemon_msg_load(a->d, id, prefix, &m);
		if (!there && a->act == DAEMON_ACT_REMOVE) {
			daemon_msg_free(&m);
			prefix = 'h';
			there = daemon_msg_load(a->d, id, prefix, &m);
		}
		if (pass == DAEMON_NAMED_CHECK && !(there && daemon_mine(a->d, &a->peer, &m.e))) {
			daemon_msg_free(&m);
			/* Not told apart for someone who may not see it. */
			if (!a->peer.admin)
				error_set(err, 0, "%s: no message of yours has this queue ID", id);
			else
				error_set(err, 0, "%s: no such %smessage", id,
				    a->act == DAEMON_ACT_RELEASE ? "held " : "");
			return false;
		}
		if (pass == DAEMON_NAMED_ACT)
			daemon_act_report(a, &m, daemon_act_one(a, id, prefix, &why), why.reason);
		else if (pass == DAEMON_NAMED_DESCRIBE) {
			daemon_act_describe(a->out, &m, now);
			(*n)++;
		}
		daemon_msg_free(&m);
	}
	return true;
}

/* daemon_select's callback for an action: acted on, or (dry) shown. */
struct daemon_act_scan {
	struct daemon_actor *a;
	char prefix;
	bool dry;
	size_t n;
};

static bool
daemon_act_picked(void *arg, const struct daemon_msg *m)
{
	struct daemon_act_scan *sc = arg;
	struct error why;

	sc->n++;
	if (sc->dry)
		daemon_act_describe(sc->a->out, m, (long long)time(NULL));
	else
		daemon_act_report(sc->a, m, daemon_act_one(sc->a, m->e.id, sc->prefix, &why),
		    why.reason);
	return true;
}

/* Every message of prefix the selector picks: acted on, or (dry) shown. */
static bool
daemon_act_scan(struct daemon_actor *a, char prefix, const struct qsel *s, bool dry,
    size_t *n)
{
	struct daemon_act_scan sc = { a, prefix, dry, 0 };
	struct error err;
	bool ok = daemon_select(a->d, &a->peer, prefix, s, daemon_act_picked, &sc, &err);

	if (!ok)
		fprintf(a->out, "E %d %s\n", CTL_TRY, err.reason);
	*n += sc.n;
	return ok;
}

/* Which files a selection looks at: held ones for release and --held,
 * queued ones otherwise. */
static char
daemon_act_prefix(const struct daemon_actor *a)
{
	return a->act == DAEMON_ACT_RELEASE || ctl_get(a->rq, "held") != NULL ? 'h' : 'q';
}

static void
daemon_act_start(struct daemon_actor *a, const struct daemon_reader *r, FILE *out)
{
	memset(a, 0, sizeof *a);
	a->d = r->d;
	a->peer = *r->peer;
	a->rq = r->rq;
	a->out = out;
	a->act = DAEMON_ACT_FLUSH;
	for (size_t k = 0; k < sizeof daemon_act_names / sizeof daemon_act_names[0]; k++)
		if (strcmp(r->rq->command, daemon_act_names[k]) == 0)
			a->act = (enum daemon_act)k;
	(void)daemon_peer_named(&a->peer);
	daemon_who(&a->peer, a->who, sizeof a->who);
}

/* The action's child (control_query): results to the loop. */
static void
daemon_child_act(void *arg, FILE *out)
{
	struct daemon_actor a;
	struct qsel s;
	struct error err;
	size_t n = 0;

	daemon_act_start(&a, arg, out);
	fprintf(out, "N %s\n", a.peer.name);
	if (ctl_get(a.rq, "id") != NULL) {
		if (!daemon_act_named(&a, DAEMON_NAMED_CHECK, &n, &err))
			fprintf(out, "E %d %s\n", CTL_NO, err.reason);
		else if (daemon_act_named(&a, DAEMON_NAMED_ACT, &n, &err))
			fprintf(out, "E %d\n", CTL_OK);
		return;
	}
	if (!daemon_sel_make(a.rq, &s, &err)) {
		fprintf(out, "E %d %s\n", CTL_BAD, err.reason);
		return;
	}
	if (daemon_act_scan(&a, daemon_act_prefix(&a), &s, false, &n))
		fprintf(out, "E %d\n", CTL_OK);
	qsel_free(&s);
}

/* --dry-run's child (control_spawn): what would be acted on, to the
 * client; nothing changes. */
static void
daemon_child_dry(void *arg, FILE *out)
{
	struct daemon_actor a;
	struct qsel s;
	struct error err;
	size_t n = 0;

	daemon_act_start(&a, arg, out);
	if (ctl_get(a.rq, "id") != NULL) {
		if (!daemon_act_named(&a, DAEMON_NAMED_CHECK, &n, &err) ||
		    !daemon_act_named(&a, DAEMON_NAMED_DESCRIBE, &n, &err)) {
			control_fprint_end(out, CTL_NO, "%s", err.reason);
			return;
		}
	} else {
		if (!daemon_sel_make(a.rq, &s, &err)) {
			control_fprint_end(out, CTL_BAD, "%s", err.reason);
			return;
		}
		if (!daemon_act_scan(&a, daemon_act_prefix(&a), &s, true, &n)) {
			qsel_free(&s);
			return;	/* its E line said why */
		}
		qsel_free(&s);
	}
	control_fprint_end(out, CTL_OK, "dry run: %zu message%s would be %s; nothing was changed",
	    n, n == 1 ? "" : "s", daemon_act_done_words[a.act]);
}

/* ------------------------------------------------------------ the loop */

void
daemon_cmd_act(struct daemon *d, control_token t, const struct daemon_peer *p,
    const struct ctl_request *rq)
{
	struct daemon_reader r = { d, p, rq };
	struct daemon_flushq *q;
	enum daemon_act act = DAEMON_ACT_HOLD;
	struct error err;
	char what[300];
	const char *id;
	size_t pos = 0, k;
	bool named = ctl_get(rq, "id") != NULL;

	for (k = 1; k < sizeof daemon_act_names / sizeof daemon_act_names[0]; k++)
		if (strcmp(rq->command, daemon_act_names[k]) == 0)
			act = (enum daemon_act)k;
	if (d->stopping) {
		control_end(d->ctl, t, CTL_TRY, "the daemon is stopping");
		return;
	}
	while ((id = ctl_get_next(rq, "id", &pos)) != NULL)
		if (!qid_valid(id)) {
			control_end(d->ctl, t, CTL_BAD, "%s: '%.60s' is not a queue ID", rq->command, id);
			return;
		}
	if (!daemon_sel_check(rq, what, sizeof what, &err)) {
		control_end(d->ctl, t, CTL_BAD, "%s: %s", rq->command, err.reason);
		return;
	}
	if (named && what[0] != '\0') {
		control_end(d->ctl, t, CTL_BAD,
		    "%s: queue IDs or selectors, not both (--dry-run shows what selectors pick)",
		    rq->command);
		return;
	}
	if (!named && what[0] == '\0') {
		control_end(d->ctl, t, CTL_BAD,
		    "%s: which messages? Name queue IDs, or select (--older-than, --newer-than, --sender, --recipient, --user, --reason, --held), or --all",
		    rq->command);
		return;
	}
	if (act == DAEMON_ACT_BOUNCE && ctl_get(rq, "held") != NULL) {
		control_end(d->ctl, t, CTL_BAD, "bounce: held messages are not returned; release them first");
		return;
	}
	if (ctl_get(rq, "dryrun") != NULL) {
		if (!control_spawn(d->ctl, t, daemon_child_dry, &r))
			control_end(d->ctl, t, CTL_TRY, "busy: too many requests under way; try again");
		return;
	}
	q = daemon_flushq_new(d, t, p, act);
	snprintf(q->what, sizeof q->what, "%s", named ? "" : what);
	if (!control_query(d->ctl, t, daemon_child_act, &r)) {
		daemon_flushq_free(d, q);
		control_end(d->ctl, t, CTL_TRY, "busy: too many requests under way; try again");
	}
}

void
daemon_act_line(struct daemon *d, struct daemon_flushq *q, char kind, const char *rest)
{
	char id[QID_MAX_LEN + 1];
	const char *sp = strchr(rest, ' ');
	size_t n = sp != NULL ? (size_t)(sp - rest) : strlen(rest);
	long long due;

	if (n == 0 || n > QID_MAX_LEN)
		return;
	memcpy(id, rest, n);
	id[n] = '\0';
	if (!qid_valid(id))
		return;
	if (kind == 'S') {
		if (q->nskipped++ == 0)
			snprintf(q->skipped, sizeof q->skipped, "%s: %s", id, sp != NULL ? sp + 1 : "");
		return;
	}
	q->nacted++;
	snprintf(q->last, sizeof q->last, "%s", id);
	if (q->act == DAEMON_ACT_REMOVE || q->act == DAEMON_ACT_BOUNCE) {
		/* show of it says what became of it, and who asked. */
		char *end;
		long owner = sp != NULL ? strtol(sp + 1, &end, 10) : -1;
		const char *sender = sp != NULL && *end == ' ' ? end + 1 : "";
		char status[200];

		snprintf(status, sizeof status, "%s by uid %lu (%s)",
		    q->act == DAEMON_ACT_REMOVE ? "removed" : "returned to the sender",
		    (unsigned long)q->peer.uid, q->peer.name);
		recent_record(d->recent, id, q->act == DAEMON_ACT_REMOVE ? "removed" : "bounced",
		    time(NULL), owner >= 0 ? (uid_t)owner : (uid_t)-1, sender, NULL, NULL, status);
	}
	switch (q->act) {
	case DAEMON_ACT_HOLD:
	case DAEMON_ACT_REMOVE:
	case DAEMON_ACT_BOUNCE:
		daemon_unschedule(d, id);
		daemon_tell_outcome(d, id, q->act == DAEMON_ACT_HOLD ? "held" :
		    q->act == DAEMON_ACT_REMOVE ? "removed" : "bounced", q->peer.name);
		break;
	case DAEMON_ACT_REQUEUE:
		/* Due now; the rewrite's inotify event has it read again
		 * (its tries now 0), due at once all the same. */
		if (sched_due(d->sched, id, &due) && due > daemon_now_ms())
			sched_set(d->sched, id, daemon_now_ms());
		break;
	case DAEMON_ACT_RELEASE:
		/* Its qf appears: inotify brings it in. */
	case DAEMON_ACT_FLUSH:
		break;
	}
}

void
daemon_act_answer(struct daemon *d, struct daemon_flushq *q)
{
	const char *name = daemon_act_names[q->act], *done = daemon_act_done_words[q->act];
	char who[200];

	if (q->st != CTL_OK) {
		control_end(d->ctl, q->token, q->st, "%s", q->text);
		return;
	}
	daemon_who(&q->peer, who, sizeof who);
	if (q->nacted + q->nskipped > 0)
		log_msg(LOG_LVL_NOTICE, "%s of %zu message%s requested by %s%s%s: %zu done, %zu left",
		    name, q->nacted + q->nskipped, q->nacted + q->nskipped == 1 ? "" : "s", who,
		    q->what[0] ? "; selected by " : "", q->what, q->nacted, q->nskipped);
	if (q->act == DAEMON_ACT_REQUEUE && q->nacted > 0)
		retry_breaker_flush(&d->breaker, monotime_ms());
	if (q->what[0] == '\0' && q->nacted + q->nskipped == 1) {
		/* One message named: said of it. */
		if (q->nskipped > 0)
			control_end(d->ctl, q->token, CTL_TRY, "%s", q->skipped);
		else if (q->act == DAEMON_ACT_HOLD)
			control_end(d->ctl, q->token, CTL_OK,
			    "%s: held; 'clientqctl release %s' lets it go", q->last, q->last);
		else
			control_end(d->ctl, q->token, CTL_OK, "%s: %s", q->last, done);
	} else if (q->nacted == 0 && q->nskipped == 0) {
		control_end(d->ctl, q->token, CTL_NO, "no queued message matches");
	} else if (q->nskipped == 0) {
		control_end(d->ctl, q->token, CTL_OK, "%zu message%s %s", q->nacted,
		    q->nacted == 1 ? "" : "s", done);
	} else {
		control_end(d->ctl, q->token, q->nacted > 0 ? CTL_OK : CTL_TRY,
		    "%zu message%s %s; %zu left as %s (%s%s)", q->nacted,
		    q->nacted == 1 ? "" : "s", done, q->nskipped,
		    q->nskipped == 1 ? "it was" : "they were", q->skipped,
		    q->nskipped > 1 ? ", and others: see the log" : "");
	}
}
