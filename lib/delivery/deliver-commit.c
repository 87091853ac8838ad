/*
 * deliver-commit: the outcome of an attempt put on disk (deliver.h, the
 * commit): the requeue with sendmail's updates, the notifications
 * (bounce, delay warning, return receipt, postmaster copy) and the
 * intent that makes a crash between them safe (deliver-private.h).
 */
#include "config.h"

#include "delivery/deliver-private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "delivery/dsn.h"
#include "delivery/render.h"
#include "queue/log.h"
#include "queue/qf.h"
#include "queue/qid.h"
#include "queue/spool.h"
#include "util/crashpoint.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

/* ---------------------------------------------------- the requeue */

/* A write of the commit failed: an error the first time, nothing after
 * (the daemon tries again until it works; see deliver.h). */
static void deliver_write_error(struct deliver_job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
deliver_write_error(struct deliver_job *j, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (j->write_failures > 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	log_msg(LOG_LVL_ERR, "%s: %s%s", j->id, buf, j->cfg->retry_writes ?
	    "; nothing is sent again meanwhile: the outcome is kept and written once it can be" : "");
}

static size_t
deliver_remaining(const struct deliver_job *j)
{
	size_t i, n = 0;

	for (i = 0; i < j->env->nrcpts; i++)
		n += j->out[i].state == RS_DEFERRED;
	return n;
}

/*
 * Write the control file with the recipients still to try (and, with
 * intent, the reported ones marked, and the intent macro), through the
 * spool's tf + fsync + rename.  Everything else as it was read.
 */
static bool
deliver_write(struct deliver_job *j, const char *intent)
{
	struct qf_envelope tmp = *j->env;
	struct qf_rcpt *rc = xcalloc(j->env->nrcpts + 1, sizeof *rc);
	struct qf_macro *mc = xcalloc(j->env->nmacros + 1, sizeof *mc);
	char **marks = xcalloc(j->env->nrcpts + 1, sizeof *marks);
	struct strbuf out = STRBUF_INIT;
	struct error err;
	size_t i, k = 0, m = 0;
	bool ok;

	for (i = 0; i < j->env->nrcpts; i++) {
		const struct deliver_rcpt *o = &j->out[i];

		if (intent != NULL && o->report) {
			rc[k] = j->env->rcpts[i];
			rc[k++].status = marks[i] = deliver_mark(o);
		} else if (o->state == RS_DEFERRED) {
			rc[k] = j->env->rcpts[i];
			rc[k++].status = o->status;
		}
	}
	for (i = 0; i < j->env->nmacros; i++)
		if (strcmp(j->env->macros[i].name, DELIVER_INTENT) != 0)
			mc[m++] = j->env->macros[i];
	if (intent != NULL) {
		mc[m].name = (char *)DELIVER_INTENT;
		mc[m++].value = (char *)intent;
	}
	tmp.rcpts = rc;
	tmp.nrcpts = k;
	tmp.macros = mc;
	tmp.nmacros = m;
	qf_format(&tmp, &out);
	ok = spool_job_commit(j->sj, out.buf, out.len, &err) == SPOOL_OK;
	if (!ok)
		deliver_write_error(j, "cannot rewrite the queue file: %s", err.reason);
	strbuf_free(&out);
	for (i = 0; i < j->env->nrcpts; i++)
		free(marks[i]);
	free(marks);
	free(rc);
	free(mc);
	return ok;
}

/* Remove the message's files: nothing is left to try. */
bool
deliver_remove(struct deliver_job *j)
{
	struct error serr;
	bool ok = spool_job_remove(j->sj, &serr) == SPOOL_OK;

	if (!ok)
		log_msg(LOG_LVL_ERR, "%s: done with it, but removing it failed: %s",
		    j->id, serr.reason);
	j->sj = NULL;
	return ok;
}

/* The last step: the recipients still to try, or nothing. */
static bool
deliver_settle(struct deliver_job *j)
{
	if (deliver_remaining(j) == 0)
		return deliver_remove(j);
	return deliver_write(j, NULL);
}

/* ---------------------------------------------- notifications */

struct deliver_plan {
	bool dsn;
	enum dsn_kind kind;
	bool expired;
	bool returned;		/* deliver_return's: expired on request */
	bool warned;		/* a delay warning: F w */
	bool panic;		/* a notification to the postmaster failed */
	const char *to;
	bool pmcopy;
};

static int
deliver_class_index(const struct qf_envelope *env)
{
	const char *c = dsn_timeout_class(env);

	return strcmp(c, "urgent") == 0 ? 1 : strcmp(c, "non-urgent") == 0 ? 2 : 0;
}

static bool
deliver_is_postmaster(const struct deliver_job *j, const char *addr)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	bool same;

	render_address(addr, &j->cfg->env_opts, &a);
	render_address(j->cfg->postmaster, &j->cfg->env_opts, &b);
	same = strcasecmp(strbuf_str(&a), strbuf_str(&b)) == 0;
	strbuf_free(&a);
	strbuf_free(&b);
	return same;
}

/* What this attempt's outcome asks for, as dropenvelope() decides it. */
static void
deliver_plan(struct deliver_job *j, time_t now, struct deliver_plan *p)
{
	const struct qf_envelope *env = j->env;
	int c = deliver_class_index(env);
	long long warn = j->cfg->queuewarn[c], ret = j->cfg->queuereturn[c];
	bool response = (env->flags & QF_EF_RESPONSE) != 0;
	bool null_sender = env->sender == NULL || strcmp(env->sender, "<>") == 0;
	bool failures = false, delays = false, receipts = false;
	size_t i;

	memset(p, 0, sizeof *p);
	p->expired = now >= env->ctime + ret || j->returned;
	p->returned = j->returned;
	for (i = 0; i < env->nrcpts; i++) {
		struct deliver_rcpt *o = &j->out[i];

		if (o->state == RS_UNTRIED)
			deliver_set(o, RS_DEFERRED, "4.0.0", NULL, NULL, NULL, NULL);
		if (o->state == RS_DEFERRED && p->expired) {
			/* Timeout.queuereturn: failed, 4.4.7. */
			snprintf(o->dsn, sizeof o->dsn, "4.4.7");
			o->state = RS_FAILED;
			if (o->text == NULL)
				o->text = xstrdup("Deferred");
		}
		if (o->state == RS_FAILED && (response || dsn_wants_failure(&env->rcpts[i]))) {
			o->report = true;
			o->action = DSN_ACT_FAILED;
			failures = true;
		}
	}
	if (!p->expired && warn > 0 && now >= env->ctime + warn && dsn_may_warn(env))
		for (i = 0; i < env->nrcpts; i++)
			if (j->out[i].state == RS_DEFERRED && dsn_wants_delay(&env->rcpts[i])) {
				j->out[i].report = true;
				j->out[i].action = DSN_ACT_DELAYED;
				delays = true;
			}
	p->warned = delays;
	/* A return receipt only when nothing else is said and nothing is
	 * left, for a relay that does not pass NOTIFY= on. */
	if (!failures && !delays && deliver_remaining(j) == 0 && !response &&
	    !null_sender && !(j->ext & SMTP_EXT_DSN))
		for (i = 0; i < env->nrcpts; i++)
			if (j->out[i].state == RS_SENT && dsn_wants_success(&env->rcpts[i])) {
				j->out[i].report = true;
				j->out[i].action = DSN_ACT_RELAYED;
				receipts = true;
			}
	p->dsn = failures || delays || receipts;
	p->kind = failures ? DSN_FAILURE : delays ? DSN_WARNING : DSN_RECEIPT;
	p->to = env->sender;
	if (failures && (response || null_sender)) {
		/* A notification is never answered with another to its
		 * sender: the postmaster hears of it; if it was the
		 * postmaster's, nobody is left to tell. */
		p->to = j->cfg->postmaster;
		p->pmcopy = !response;
		for (i = 0; i < env->nrcpts; i++)
			if (j->out[i].report && deliver_is_postmaster(j, env->rcpts[i].addr))
				p->panic = true;
	}
}

/*
 * Claim a new queue ID (its empty data file).  The ID is derived from the
 * original's and its try count: the original's date digits and process
 * number, and a sequence number far from the original's own.  So a run
 * that died before its intent reached the disk makes the same ID again
 * and claims the empty data file it left (spool_reserve), instead of
 * leaving it behind; an ID someone else holds is skipped.
 */
static bool
deliver_new_id(struct deliver_job *j, char id[QID_MAX_LEN + 1])
{
	struct qid_info qi;
	struct error err;
	unsigned base;
	int k;

	snprintf(err.reason, sizeof err.reason, "no free queue ID");
	if (qid_decode(j->id, &qi) != QID_OK)
		return false;
	base = (unsigned)qi.seq + 1800u + 7u * (unsigned)(j->env->ntries % 500);
	for (k = 0; k < 100; k++) {
		unsigned seq = (base + (unsigned)k * 37u) % 3600u;
		enum spool_result r;

		qid_with_seq(id, j->id, seq);
		if (strcmp(id, j->id) == 0)
			continue;
		r = spool_reserve(j->cfg->sp, id, &err);
		if (r == SPOOL_OK)
			return true;
		if (r != SPOOL_CHANGED)
			break;
	}
	log_msg(LOG_LVL_ERR, "%s: cannot queue a delivery status notification: %s",
	    j->id, err.reason);
	return false;
}

/* The original's data file after the notification's head; on failure
 * false, with *why saying what failed (errno set, or 0). */
static bool
deliver_copy_df(struct deliver_job *j, int out, long long *size, const char **why)
{
	char *buf = xmalloc(DELIVER_READ);
	off_t off = 0;
	bool ok = true;

	for (;;) {
		ssize_t n = pread(j->dfd, buf, DELIVER_READ, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*why = "reading the original's data file";
			ok = false;
			break;
		}
		if (n == 0)
			break;
		if (!spool_write_all(out, buf, (size_t)n)) {
			ok = false;
			break;
		}
		off += n;
	}
	if (ok && (long long)off != j->dfsize) {
		/* The copy must be the message the report is about. */
		*why = "the original's data file changed while it was copied";
		errno = 0;
		ok = false;
	}
	*size += off;
	free(buf);
	return ok;
}

/*
 * The transaction that just ended, in the session transcript as sendmail
 * records it (dsn.h): its error replies under the command they answered,
 * and sendmail's line for each outcome.  sendmail waits for MAIL's reply
 * before anything else; with PIPELINING it reads the RCPT replies after
 * DATA went out, and the reply to that DATA when nobody was accepted.
 * The final dot is no command of the transcript's: its reply follows
 * DATA.
 */
void
deliver_xscript_txn(struct deliver_job *j)
{
	const struct smtp_txn *t = &j->txn;
	struct dsn_xscript *x = &j->xscript;
	const char *relay = j->cfg->relay_host;
	bool pipe = (j->ext & SMTP_EXT_PIPELINING) != 0;
	size_t first = j->starts[j->batch], i;
	char line[1400];

	dsn_xscript_sent(x, j->mail.buf);
	if (t->phase == SMTP_PHASE_MAIL && t->status != SMTP_OK) {
		if (t->reply.code == 0)
			return;
		dsn_xscript_reply(x, relay, t->reply.full);
		if (t->status == SMTP_PERMFAIL)
			dsn_xscript_line(x, t->reply.code == 501 || t->reply.code == 553 ?
			    "501 5.6.0 Data format error" : "554 5.0.0 Service unavailable");
		return;
	}
	if (pipe)
		dsn_xscript_sent(x, "DATA");
	for (i = 0; i < t->nrcpt; i++) {
		const struct smtp_rcpt_result *r = &t->rcpt[i];
		const struct deliver_rcpt *o = &j->out[j->order[first + i]];
		const char *addr = j->env->rcpts[j->order[first + i]].addr;

		if (!pipe)
			dsn_xscript_sent(x, j->cmds[i]);
		if (r->reply.code == 0 || r->status == SMTP_OK)
			continue;
		dsn_xscript_reply(x, relay, r->reply.full);
		if (o->state == RS_FAILED)
			snprintf(line, sizeof line, "%.3s %s %s... %s", r->reply.full, o->dsn,
			    addr, o->text != NULL ? o->text : "");
		else
			snprintf(line, sizeof line, "%s... Deferred: %.1000s", addr, r->reply.full);
		dsn_xscript_line(x, line);
	}
	if (t->accepted == 0) {
		if (pipe && t->data_reply.code >= 400)
			dsn_xscript_reply(x, relay, t->data_reply.full);
		return;
	}
	if (!pipe)
		dsn_xscript_sent(x, "DATA");
	if ((t->phase == SMTP_PHASE_DATA || t->phase == SMTP_PHASE_DOT) &&
	    t->status != SMTP_OK && t->reply.code != 0) {
		dsn_xscript_reply(x, relay, t->reply.full);
		if (t->status == SMTP_PERMFAIL)
			dsn_xscript_line(x, "554 5.0.0 Service unavailable");
		return;
	}
	/* Delivered: a recipient that asked for success and whose relay
	 * will not say it is told here, in the order they were sent. */
	if (t->status != SMTP_OK || (j->ext & SMTP_EXT_DSN) ||
	    (j->env->flags & QF_EF_RESPONSE))
		return;
	for (i = 0; i < t->nrcpt; i++) {
		size_t k = j->order[first + i];

		if (j->out[k].state == RS_SENT && dsn_wants_success(&j->env->rcpts[k])) {
			snprintf(line, sizeof line, "%s... relayed; expect no further notifications",
			    j->env->rcpts[k].addr);
			dsn_xscript_line(x, line);
		}
	}
}

/*
 * (B): the notification newid about the reported recipients, written as
 * a queue entry: its reserved data file, then its control file.
 */
static bool
deliver_make_dsn(struct deliver_job *j, const char *newid, const struct deliver_plan *p)
{
	const struct qf_envelope *env = j->env;
	struct dsn_config dc = j->cfg->dsn;
	struct dsn_rcpt *r = xcalloc(env->nrcpts + 1, sizeof *r);
	struct dsn_message m;
	struct strbuf qf = STRBUF_INIT;
	struct error err;
	struct stat st;
	const char *why = "write failed";
	unsigned saved_flags = j->env->flags;
	bool ends_nl = true, ok = false;
	long long size = 0;
	size_t i, n = 0;
	int c = deliver_class_index(env), fd = -1;
	char last;

	if (j->dfd < 0) {
		if (spool_job_open_df(j->sj, &j->dfd, &st, &err) != SPOOL_OK) {
			log_msg(LOG_LVL_ERR, "%s: cannot make the notification: %s",
			    j->id, err.reason);
			free(r);
			return false;
		}
		j->dfsize = (long long)st.st_size;
	}
	if (j->dfsize > 0 && pread(j->dfd, &last, 1, (off_t)(j->dfsize - 1)) == 1)
		ends_nl = last == '\n';
	dc.warn_after = j->cfg->queuewarn[c];
	dc.return_after = j->cfg->queuereturn[c];
	/* Returned on request: sendmail's words for an expired message, with
	 * the time it really waited (its Timeout.queuereturn would be
	 * untrue). */
	if (p->returned)
		dc.return_after = (long long)time(NULL) - env->ctime > 0 ?
		    (long long)time(NULL) - env->ctime : 1;
	/* This attempt's session when there was one (not when finishing
	 * what a crash interrupted, nor for a relay never reached). */
	dc.transcript = j->xscript.text.len > 0 ? strbuf_str(&j->xscript.text) : NULL;
	/* The recipients in queue-file order, as sendmail lists them. */
	for (i = 0; i < env->nrcpts; i++) {
		const struct deliver_rcpt *o = &j->out[i];

		if (!o->report)
			continue;
		r[n].rcpt = &env->rcpts[i];
		r[n].action = o->action;
		r[n].status = o->dsn[0] ? o->dsn : o->action == DSN_ACT_FAILED ? "5.0.0" :
		    o->action == DSN_ACT_DELAYED ? "4.0.0" : "2.0.0";
		r[n].reply = o->reply;
		r[n].command = o->command;
		r[n].text = o->text;
		/* sendmail names the relay except for a refused MAIL. */
		r[n].remote_mta = o->reply != NULL &&
		    (o->command == NULL || strncmp(o->command, "MAIL", 4) != 0);
		r[n].when = (time_t)(env->dtime ? env->dtime : time(NULL));
		n++;
	}
	if (j->no_body)
		j->env->flags |= QF_EF_NO_BODY_RETN;
	dsn_make(&dc, env, j->id, r, n, p->kind, p->expired, p->to, p->pmcopy, newid,
	    time(NULL), ends_nl, &m);
	j->env->flags = saved_flags;
	if (spool_open_reserved(j->cfg->sp, newid, &fd, &err) != SPOOL_OK)
		goto out;
	size = (long long)m.head.len + (long long)m.tail.len;
	if (!spool_write_all(fd, m.head.buf, m.head.len) ||
	    (m.with_body && !deliver_copy_df(j, fd, &size, &why)) ||
	    !spool_write_all(fd, m.tail.buf, m.tail.len)) {
		snprintf(err.reason, sizeof err.reason, "%s/df%s: %s%s%s",
		    spool_path(j->cfg->sp), newid, why, errno ? ": " : "",
		    errno ? strerror(errno) : "");
		goto out;
	}
	m.env->priority += size;
	qf_format(m.env, &qf);
	if (spool_create_qf(j->cfg->sp, newid, fd, qf.buf, qf.len, &err) != SPOOL_OK)
		goto out;
	ok = true;
	{
		const struct log_field f[] = {
			{ "MESSAGE_ID", LOG_MID_DSN_QUEUED },
			{ "DSN_QUEUE_ID", newid },
		};

		log_fields(LOG_LVL_INFO, f, 2, "%s: %s: %s", j->id, newid, m.summary);
	}
	if (j->cfg->queued != NULL)
		j->cfg->queued(j->cfg->queued_arg, newid);
out:
	if (!ok)
		deliver_write_error(j, "cannot queue the delivery status notification %s: %s",
		    newid, err.reason);
	if (fd >= 0)
		close(fd);
	strbuf_free(&qf);
	dsn_message_free(&m);
	free(r);
	return ok;
}

/* The intent macro's value: "<newid> <kind> <expired> <pmcopy> <to>";
 * expired is 2 when the message was returned on request. */
static char *
deliver_intent(const char *newid, const struct deliver_plan *p)
{
	return xasprintf("%s %d %d %d %s", newid, (int)p->kind,
	    p->returned ? 2 : p->expired ? 1 : 0,
	    p->pmcopy ? 1 : 0, p->to);
}

/* Finish a notification an earlier run began (see deliver.h). */
bool
deliver_recover(struct deliver_job *j, const char *intent)
{
	struct deliver_plan p;
	char newid[QID_MAX_LEN + 2];
	int kind, expired, pmcopy, off = 0;
	size_t i;

	memset(&p, 0, sizeof p);
	if (sscanf(intent, "%19s %d %d %d %n", newid, &kind, &expired, &pmcopy, &off) != 4 ||
	    off == 0 || !qid_valid(newid) || kind < DSN_FAILURE || kind > DSN_RECEIPT) {
		log_msg(LOG_LVL_ERR, "%s: unreadable %s macro \"%s\": left as it is",
		    j->id, DELIVER_INTENT, intent);
		return false;
	}
	p.kind = (enum dsn_kind)kind;
	p.expired = expired != 0;
	p.returned = expired == 2;
	p.pmcopy = pmcopy != 0;
	p.to = intent + off;
	for (i = 0; i < j->env->nrcpts; i++)
		if (!deliver_unmark(j->env->rcpts[i].status, &j->out[i]))
			deliver_set(&j->out[i], RS_DEFERRED, NULL, NULL, NULL, NULL,
			    j->env->rcpts[i].status);
	if (!spool_exists(j->cfg->sp, 'q', newid)) {
		if (spool_exists(j->cfg->sp, 'd', newid)) {
			log_msg(LOG_LVL_NOTICE, "%s: finishing the notification %s an earlier run began",
			    j->id, newid);
			if (!deliver_make_dsn(j, newid, &p))
				return false;
		} else {
			log_msg(LOG_LVL_NOTICE, "%s: the notification %s was queued and delivered; finishing the requeue",
			    j->id, newid);
		}
	}
	crashpoint("dsn-queued");
	return deliver_settle(j);
}

/* The commit's steps from where the last try stopped; false when a write
 * failed (the stage says where to go on). */
static bool
deliver_commit_steps(struct deliver_job *j)
{
	for (;;) {
		switch (j->cstage) {
		case COMMIT_NONE:
		case COMMIT_DONE:
			return true;
		case COMMIT_SETTLE:
		case COMMIT_FINAL:
			/* A removal that fails has freed the job: nothing to
			 * try again (the next run finishes it, deliver_open). */
			if (!deliver_settle(j) && j->sj != NULL)
				return false;
			j->cstage = COMMIT_DONE;
			break;
		case COMMIT_FALLBACK:
			if (!deliver_write(j, NULL))
				return false;
			j->cstage = COMMIT_DONE;
			break;
		case COMMIT_INTENT:
			if (!deliver_write(j, j->intent))	/* (A) */
				return false;
			crashpoint("dsn-intent");
			j->cstage = COMMIT_DSN;
			break;
		case COMMIT_DSN:
			/* (B); a try that renamed the control file into place
			 * but failed after it is not made again. */
			if (!spool_exists(j->cfg->sp, 'q', j->newid) &&
			    !deliver_make_dsn(j, j->newid, j->plan))
				return false;
			crashpoint("dsn-queued");
			j->cstage = COMMIT_FINAL;	/* (C) */
			break;
		}
	}
}

/* The first call: decide what the outcome asks of the disk, once (the
 * envelope's try, priority and status change here, not again on a
 * retry). */
static void
deliver_commit_plan(struct deliver_job *j)
{
	struct deliver_plan *p = xcalloc(1, sizeof *p);
	struct error serr;
	time_t now;

	j->plan = p;
	now = time(NULL);
	deliver_plan(j, now, p);
	j->cresult = deliver_remaining(j) == 0 ? DELIVER_DELIVERED :
	    j->naccepted > 0 ? DELIVER_PARTIAL : DELIVER_DEFERRED;
	j->result = j->cresult;
	j->cstage = COMMIT_DONE;
	if (p->panic) {
		/* sendmail's "savemail panic": keep it, out of the way. */
		static const struct log_field f[] = {
			{ "MESSAGE_ID", LOG_MID_QUARANTINED },
		};

		if (spool_job_quarantine(j->sj, &serr) == SPOOL_OK)
			log_fields(LOG_LVL_ERR, f, 1,
			    "%s: a notification to the postmaster cannot be delivered: quarantined as Qf%s",
			    j->id, j->id);
		else
			log_msg(LOG_LVL_ERR,
			    "%s: a notification to the postmaster cannot be delivered, and cannot be quarantined: %s",
			    j->id, serr.reason);
		j->sj = NULL;
		j->result = j->cresult = DELIVER_QUARANTINED;
		return;
	}
	/* The try counts whatever came of it (sendmail's requeue). */
	j->env->dtime = now;
	j->env->ntries++;
	j->env->priority += 90000;
	free(j->env->status);
	j->env->status = xstrdup(j->status[0] ? j->status : "Deferred");
	if (p->warned) {
		/* sendmail's e_message then: the warning's words. */
		char w[64];

		dsn_interval(j->cfg->queuewarn[deliver_class_index(j->env)], w, sizeof w);
		free(j->env->status);
		j->env->status = xasprintf("Warning: could not send message for past %s", w);
		j->env->flags |= QF_EF_WARNING;
	}
	if (!p->dsn) {
		j->cstage = COMMIT_SETTLE;
		return;
	}
	if (!deliver_new_id(j, j->newid)) {
		/* No notification possible now: nothing reported leaves;
		 * the failures are tried (and reported) again later. */
		size_t i;

		for (i = 0; i < j->env->nrcpts; i++)
			if (j->out[i].report && j->out[i].state == RS_FAILED)
				j->out[i].state = RS_DEFERRED;
		j->cresult = DELIVER_DEFERRED;
		j->cstage = COMMIT_FALLBACK;
		return;
	}
	crashpoint("dsn-reserved");
	j->intent = deliver_intent(j->newid, p);
	j->cstage = COMMIT_INTENT;
}

/* deliver_commit (deliver.c) once the job is done and its lines are
 * logged. */
void
deliver_commit_disk(struct deliver_job *j)
{
	if (j->cstage == COMMIT_NONE)
		deliver_commit_plan(j);
	if (deliver_commit_steps(j)) {
		if (j->write_failures > 0)
			log_msg(LOG_LVL_NOTICE, "%s: the queue files are written now, after %u failed tries",
			    j->id, j->write_failures);
		j->committed = true;
		j->result = j->cresult;
		return;
	}
	/* Not on disk: the file says what it said before (or the intent,
	 * whose recovery deliver_open knows).  Counted deferred until a
	 * try works. */
	j->write_failures++;
	j->result = DELIVER_DEFERRED;
}

bool
deliver_unwritten(const struct deliver_job *j)
{
	return !j->committed && j->cstage != COMMIT_NONE && j->cstage != COMMIT_DONE;
}
