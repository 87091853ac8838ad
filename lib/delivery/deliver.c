#include "config.h"

#include "delivery/deliver-private.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "delivery/dsn.h"
#include "delivery/envelope.h"
#include "delivery/render.h"
#include "queue/log.h"
#include "queue/qf.h"
#include "queue/spool.h"
#include "smtp/classify.h"
#include "smtp/mtaqid.h"
#include "smtp/smtp.h"
#include "util/pwcache.h"
#include "util/strbuf.h"
#include "util/xalloc.h"


const char *
deliver_id(const struct deliver_job *j)
{
	return j->id;
}

const struct qf_envelope *
deliver_envelope(const struct deliver_job *j)
{
	return j->env;
}

uid_t
deliver_owner(const struct deliver_job *j)
{
	return j->owner;
}

void
deliver_outcome(const struct deliver_job *j, struct deliver_outcome *o)
{
	size_t i;

	memset(o, 0, sizeof *o);
	o->ctime = j->env->ctime;
	for (i = 0; i < j->env->nrcpts; i++) {
		const struct deliver_rcpt *r = &j->out[i];

		if (r->state == RS_SENT) {
			o->sent++;
		} else if (r->state == RS_FAILED) {
			o->failed++;
			if (r->text != NULL)
				snprintf(o->status, sizeof o->status, "%.*s",
				    (int)sizeof o->status - 1, r->text);
		} else {
			o->deferred++;
		}
	}
	if (o->failed == 0 && j->status[0] != '\0')
		snprintf(o->status, sizeof o->status, "%.*s", (int)sizeof o->status - 1, j->status);
	snprintf(o->mta_qids, sizeof o->mta_qids, "%s", j->mta_qids);
	o->n_mta_qids = j->n_mta_qids;
}

/* sendmail logs "ctladdr=user (uid/gid)" when the envelope sender is a
 * local user of this system (measured: root, nobody and smmsp get it;
 * remote and unknown senders do not).  The user database is asked
 * through pwcache: a daemon logging a backlog from many local senders
 * asks NSS once per sender and expiry, not once per message. */
static void
deliver_ctladdr(const struct qf_envelope *env, char *buf, size_t size)
{
	const char *s = env->sender ? env->sender : "";
	char user[256];
	uid_t uid;
	gid_t gid;
	size_t n;

	buf[0] = '\0';
	if (*s == '<')
		s++;
	n = strcspn(s, ">");
	if (n == 0 || n >= sizeof user || memchr(s, '@', n) != NULL ||
	    (env->flags & QF_EF_RESPONSE))
		return;
	memcpy(user, s, n);
	user[n] = '\0';
	if (pwcache_ids(user, &uid, &gid, time(NULL)))
		snprintf(buf, size, ", ctladdr=%s (%lu/%lu)", user, (unsigned long)uid,
		    (unsigned long)gid);
}

/* One line as sendmail's markstats/logdelivery writes it. */
static void
deliver_log(struct deliver_job *j, const char *to, const char *dsn,
    const char *stat, const struct smtp_reply *reply, bool connected,
    const char *mta_qid)
{
	const struct deliver_config *cfg = j->cfg;
	char delay[32], xdelay[32], ctladdr[300], relay[400];
	time_t now = time(NULL);
	bool show_reply = reply != NULL && reply->code != 0 && dsn[0] != '2';

	log_interval((long long)now - j->env->ctime, delay, sizeof delay);
	log_interval((long long)now - j->xstart, xdelay, sizeof xdelay);
	deliver_ctladdr(j->env, ctladdr, sizeof ctladdr);
	/* The address part only when this attempt reached the network; a
	 * message deferred from the cached host status names the host. */
	if (connected)
		snprintf(relay, sizeof relay, "%s [%s]", cfg->relay_host, cfg->relay_ip);
	else
		snprintf(relay, sizeof relay, "%s", cfg->relay_host);
	{
		/* The journal's fields (log.h): the same facts, for
		 * journalctl QUEUE_ID=... and friends. */
		const struct log_field f[] = {
			{ "RECIPIENTS", to },
			{ "DELAY", delay },
			{ "XDELAY", xdelay },
			{ "RELAY", relay },
			{ "DSN", dsn },
			{ "STATUS", stat },
			{ "REPLY", show_reply ? reply->full : NULL },
			/* The relay's queue ID, when its reply to the
			 * final dot named it in a form mtaqid knows:
			 * the message's name on the other side.  Not in
			 * the text, which stays sendmail's. */
			{ "MTA_QUEUE_ID", mta_qid != NULL && *mta_qid != '\0' ? mta_qid : NULL },
		};

		log_fields(LOG_LVL_INFO, f, sizeof f / sizeof f[0],
		    "%s: to=%s%s, delay=%s, xdelay=%s, mailer=relay, pri=%lld, relay=%s, dsn=%s%s%s, stat=%s",
		    j->id, to, ctladdr, delay, xdelay, j->env->priority + 90000, relay, dsn,
		    show_reply ? ", reply=" : "", show_reply ? reply->full : "", stat);
	}
}

static void deliver_log_txn(struct deliver_job *j);

/* --------------------------------------------------------- opening */

/* An envelope address goes into an SMTP command as it is (render.c
 * drops white space only outside quotes, and qf.c keeps what the file
 * says, as the listing shows it): a CR there, or another control
 * character but a tab, can only be meant to smuggle a command or a log
 * line past the relay.  sendmail's readqf() does not look; the message
 * is refused (false, and why).  */
static bool
deliver_envelope_clean(const struct qf_envelope *env, char *why, size_t size)
{
	const char *what = "S (sender)", *s = env->sender ? env->sender : "";
	size_t i = 0;

	for (;;) {
		const char *c;

		for (c = s; *c != '\0'; c++)
			if (((unsigned char)*c < ' ' && *c != '\t') || *c == 0x7f) {
				snprintf(why, size, "%s address has the control character \\x%02x",
				    what, (unsigned char)*c);
				return false;
			}
		if (i == env->nrcpts)
			return true;
		what = "R (recipient)";
		s = env->rcpts[i++].addr;
	}
}

/* The one line a quarantine gets: done (with the MESSAGE_ID the journal
 * catalog knows), or why not. */
static void
deliver_quarantine_log(const char *id, enum spool_result qr, const char *why,
    const struct error *qerr)
{
	static const struct log_field f[] = {
		{ "MESSAGE_ID", LOG_MID_QUARANTINED },
	};

	if (qr == SPOOL_OK)
		log_fields(LOG_LVL_ERR, f, 1, "%s: quarantined as Qf%s: %s", id, id, why);
	else
		log_msg(LOG_LVL_ERR, "%s: refused (%s), and cannot quarantine it: %s",
		    id, why, qerr->reason);
}

struct deliver_job *
deliver_open(const struct deliver_config *cfg, const char *id,
    enum deliver_result *res)
{
	struct error serr, serr2;
	struct spool_job *sj;
	struct qf_envelope *env;
	struct error qerr;
	char where[300], why[ERROR_REASON_MAX + 32];
	struct deliver_job *j;
	struct stat st;
	enum spool_result sr;
	enum qf_status qs;
	const char *intent;
	int dfd;

	*res = DELIVER_SKIPPED;
	sr = spool_job_open(cfg->sp, id, &sj, &serr);
	if (sr == SPOOL_UNSAFE && serr.code == SPOOL_UNSAFE_BOGUS) {
		/* readqf()'s "bogus queue file" (an owner, group or mode
		 * the MSP never writes): lost to Qf, as sendmail loses it.
		 * Renamed without its lock, which a file the runner may
		 * not open cannot give; nobody delivers such a file. */
		*res = DELIVER_QUARANTINED;
		deliver_quarantine_log(id, spool_quarantine_name(cfg->sp, id, &serr2),
		    serr.reason, &serr2);
		return NULL;
	}
	if (sr != SPOOL_OK) {
		/* Locked (its submitter or another runner has it), gone or
		 * changed: not ours now.  Not a regular file, linked twice
		 * or unreadable: left as it is, and said once (the daemon
		 * looks again only when the file changes). */
		if (sr == SPOOL_UNSAFE) {
			log_msg(LOG_LVL_WARNING, "%s: skipped, left as it is: %s", id,
			    serr.reason);
			*res = DELIVER_LEFT;
		} else if (sr == SPOOL_ERROR) {
			log_msg(LOG_LVL_WARNING, "%s: skipped: %s", id, serr.reason);
		}
		return NULL;
	}
	qs = spool_job_load(sj, &env, &qerr);
	if (qs == QF_REFUSED) {
		/* What sendmail's readqf() refuses it renames to Qf
		 * ("loseqfile"); so do we, and never delete it. */
		snprintf(why, sizeof why, "line %u: %s", qerr.line, qerr.reason);
		*res = DELIVER_QUARANTINED;
		deliver_quarantine_log(id, spool_job_quarantine(sj, &serr2), why, &serr2);
		return NULL;
	}
	if (qs == QF_INCOMPLETE && qerr.errnum != 0) {
		/* It cannot be read (an I/O error): that says nothing of
		 * what it holds, and the disk may heal; tried again. */
		log_msg(LOG_LVL_WARNING, "%s: skipped: %s", id, qerr.reason);
		spool_job_close(sj);
		*res = DELIVER_UNREADABLE;
		return NULL;
	}
	if (qs == QF_INCOMPLETE) {
		/* Under our lock nobody is writing it (sendmail writes a
		 * control file under its lock, or as a tf it renames): it
		 * was cut short.  sendmail skips it at every run, saying
		 * "incomplete queue file read"; it is left for an admin. */
		log_msg(LOG_LVL_WARNING, "%s: skipped, left as it is: %s", id,
		    qerr.reason);
		spool_job_close(sj);
		*res = DELIVER_LEFT;
		return NULL;
	}
	if (qs == QF_EMPTY) {
		/* A submitter's placeholder, between its open and its lock;
		 * one that old is not that (sendmail's runner unlinks it
		 * after 10 minutes, its data file too). */
		if (fstat(spool_job_fd(sj), &st) == 0 &&
		    (long long)time(NULL) - (long long)st.st_mtime > DELIVER_EMPTY_GRACE) {
			log_msg(LOG_LVL_WARNING,
			    "%s: skipped, left as it is: qf%s is empty and nobody holds it",
			    id, id);
			*res = DELIVER_LEFT;
		}
		spool_job_close(sj);
		return NULL;
	}
	if (!deliver_envelope_clean(env, why, sizeof why)) {
		qf_free(env);
		*res = DELIVER_QUARANTINED;
		deliver_quarantine_log(id, spool_job_quarantine(sj, &serr2), why, &serr2);
		return NULL;
	}
	j = xcalloc(1, sizeof *j);
	j->cfg = cfg;
	j->sj = sj;
	j->env = env;
	j->owner = fstat(spool_job_fd(sj), &st) == 0 ? st.st_uid : (uid_t)-1;
	j->dfd = -1;
	j->xstart = time(NULL);
	snprintf(j->id, sizeof j->id, "%s", id);
	j->order = xcalloc(env->nrcpts + 1, sizeof *j->order);
	j->starts = xcalloc(env->nrcpts + 1, sizeof *j->starts);
	j->out = xcalloc(env->nrcpts + 1, sizeof *j->out);
	j->nbatches = env->nrcpts ? envelope_batches(env, j->order, j->starts) : 0;
	j->starts[j->nbatches] = env->nrcpts;
	if ((intent = qf_macro_get(env, DELIVER_INTENT)) != NULL) {
		/* A notification was under way when the last run stopped:
		 * finish that first; the rest waits for the next pass. */
		j->committed = true;
		*res = deliver_recover(j, intent) ? DELIVER_DEFERRED : DELIVER_SKIPPED;
		if (j->sj == NULL)
			*res = DELIVER_DELIVERED;
		(void)deliver_finish(j);
		return NULL;
	}
	sr = spool_job_open_df(sj, &dfd, &st, &serr);
	if (sr == SPOOL_GONE &&
	    spool_df_elsewhere(cfg->sp, id, where, sizeof where)) {
		/* Not where it belongs, but there: a queue whose qf/ or
		 * df/ came or went under it.  That is a message, not a
		 * removal to finish. */
		snprintf(serr.reason, sizeof serr.reason,
		    "no data file where it belongs, but %.200s exists", where);
		sr = SPOOL_UNSAFE;
	}
	if (sr == SPOOL_UNSAFE) {
		/* sendmail opens the data file without a look at it (a
		 * symbolic link is followed, a FIFO blocks its runner);
		 * nothing of such a message is read: it goes to Qf, its
		 * data file stays as it is. */
		snprintf(why, sizeof why, "data file: %.200s", serr.reason);
		*res = DELIVER_QUARANTINED;
		deliver_quarantine_log(id, spool_job_quarantine(sj, &serr2), why, &serr2);
		/* The job never ran: nothing of it to commit or log, and
		 * spool_job_quarantine closed its spool job. */
		j->sj = NULL;
		j->committed = true;
		(void)deliver_finish(j);
		return NULL;
	}
	if (sr == SPOOL_GONE) {
		/* Every remover (sendmail's dropenvelope, spool_job_remove)
		 * unlinks the data file first, and nothing else ever
		 * removes it: a control file without one is what a crash
		 * left of a message already done.  Finish the removal. */
		log_msg(LOG_LVL_NOTICE,
		    "%s: the data file is gone: finishing the removal of a message already done",
		    id);
		j->committed = true;
		*res = deliver_remove(j) ? DELIVER_DELIVERED : DELIVER_SKIPPED;
		(void)deliver_finish(j);
		return NULL;
	}
	if (sr != SPOOL_OK) {
		log_msg(LOG_LVL_ERR, "%s: skipped: %s", id, serr.reason);
		j->committed = true;
		(void)deliver_finish(j);
		return NULL;
	}
	j->dfd = dfd;
	j->dfsize = (long long)st.st_size;
	j->msgsize = render_message_size(env, (long long)st.st_size);
	return j;
}

/* The body callback: the header block, then the data file, rendered. */
static enum smtp_body
deliver_body(void *arg, struct strbuf *out)
{
	struct deliver_job *j = arg;
	ssize_t n;

	switch (j->stage) {
	case BODY_HEADERS:
		if (render_headers(j->env, &j->cfg->ropts, out) > 0)
			log_msg(LOG_LVL_WARNING,
			    "%s: header line longer than %d octets cut there, as sendmail cuts it",
			    j->id, RENDER_HEADER_LINE_MAX);
		render_body_init(&j->rb, &j->cfg->ropts);
		j->dfoff = 0;
		j->stage = BODY_DATA;
		return SMTP_BODY_MORE;
	case BODY_DATA:
		if (j->rdbuf == NULL)
			j->rdbuf = xmalloc(DELIVER_READ);
		do
			n = pread(j->dfd, j->rdbuf, DELIVER_READ, j->dfoff);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			log_msg(LOG_LVL_ERR, "%s: reading df%s: %s", j->id, j->id, strerror(errno));
			return SMTP_BODY_ERROR;
		}
		if (n > 0) {
			j->dfoff += n;
			render_body_feed(&j->rb, j->rdbuf, (size_t)n, out);
			return SMTP_BODY_MORE;
		}
		if ((long long)j->dfoff != j->dfsize) {
			/* Cut (or grown) while it was being sent: what is
			 * left is not the message, and the relay must not
			 * take it (the connection is dropped before the
			 * "."). */
			log_msg(LOG_LVL_ERR, "%s: df%s changed while it was being sent (%lld octets, %lld when it was opened): not sent",
			    j->id, j->id, (long long)j->dfoff, j->dfsize);
			return SMTP_BODY_ERROR;
		}
		render_body_finish(&j->rb, out);
		j->stage = BODY_DONE;
		return SMTP_BODY_END;
	case BODY_DONE:
		break;
	}
	return SMTP_BODY_END;
}

static void
deliver_txn_free(struct deliver_job *j)
{
	size_t i;

	if (j->cmds != NULL)
		for (i = 0; i < j->txn.nrcpt; i++)
			free(j->cmds[i]);
	free(j->cmds);
	free(j->res);
	j->cmds = NULL;
	j->res = NULL;
	strbuf_free(&j->mail);
	j->running = false;
}

struct smtp_txn *
deliver_next(struct deliver_job *j, unsigned ext)
{
	size_t first, count, i;

	deliver_log_txn(j);
	if (j->running)
		deliver_txn_free(j);
	if (j->batch >= j->nbatches)
		return NULL;
	j->ext = ext;
	first = j->starts[j->batch];
	count = j->starts[j->batch + 1] - first;
	j->cmds = xcalloc(count, sizeof *j->cmds);
	j->res = xcalloc(count, sizeof *j->res);
	for (i = 0; i < count; i++) {
		struct strbuf c = STRBUF_INIT;

		envelope_rcpt(&j->env->rcpts[j->order[first + i]], ext, &j->cfg->env_opts, &c);
		j->cmds[i] = strbuf_detach(&c, NULL);
	}
	envelope_mail(j->env, ext, &j->cfg->ropts, j->cfg->masq_envelope, j->msgsize,
	    &j->mail);
	memset(&j->txn, 0, sizeof j->txn);
	j->txn.mail_cmd = j->mail.buf;
	j->txn.rcpt_cmds = (const char *const *)j->cmds;
	j->txn.nrcpt = count;
	j->txn.size = j->msgsize;
	j->txn.rcpt = j->res;
	j->txn.body = deliver_body;
	j->txn.body_arg = j;
	j->stage = BODY_HEADERS;
	j->running = true;
	return &j->txn;
}

bool
deliver_pending(const struct deliver_job *j)
{
	return j->batch + (j->running ? 1 : 0) < j->nbatches;
}


/* The stat= of a recipient deferred: the reply; for a connection lost
 * sendmail says "Deferred" alone, for a timeout "Connection timed out". */
static void
deliver_deferred(const struct deliver_job *j, const struct smtp_reply *rr,
    char *buf, size_t size)
{
	if (rr->code != 0)
		snprintf(buf, size, "Deferred: %s", rr->full);
	else if (rr->timed_out)
		snprintf(buf, size, "Deferred: Connection timed out with %s",
		    j->cfg->relay_host);
	else
		snprintf(buf, size, "Deferred");
}

/* The command a reply answered, as sendmail's transcript shows it: with
 * PIPELINING the RCPT replies are read after DATA went out. */
static const char *
deliver_command(const struct deliver_job *j, enum smtp_phase phase, size_t i)
{
	switch (phase) {
	case SMTP_PHASE_MAIL:
		return j->mail.buf;
	case SMTP_PHASE_RCPT:
		return (j->ext & SMTP_EXT_PIPELINING) ? "DATA" : j->cmds[i];
	case SMTP_PHASE_DATA:
		return "DATA";
	case SMTP_PHASE_DOT:
		return ".";
	default:
		return NULL;
	}
}

/* The relay's queue ID of the transaction that ended, when it accepted
 * someone and named it, for deliver_outcome. */
static void
deliver_note_mta_qid(struct deliver_job *j)
{
	char id[MTAQID_MAX + 1];
	size_t len = strlen(j->mta_qids);

	if (j->txn.accepted == 0 || j->txn.status != SMTP_OK ||
	    !mtaqid_parse(j->txn.reply.text, id, sizeof id))
		return;
	if (len + 2 + strlen(id) >= sizeof j->mta_qids)
		return;
	snprintf(j->mta_qids + len, sizeof j->mta_qids - len, "%s%s", len ? ", " : "", id);
	j->n_mta_qids++;
}

void
deliver_txn_done(struct deliver_job *j)
{
	size_t first = j->starts[j->batch], i;
	const struct smtp_reply *rr;
	struct classify_result cr;
	char status[700];

	for (i = 0; i < j->txn.nrcpt; i++) {
		size_t k = j->order[first + i];
		enum smtp_status st = smtp_txn_outcome(&j->txn, i, &rr);
		enum smtp_phase ph = smtp_txn_outcome_phase(&j->txn, i);
		const char *reply = rr->code != 0 ? rr->full : NULL;

		classify(ph, st, rr, &cr);
		switch (cr.action) {
		case CLASSIFY_SENT:
			/* The RCPT reply: a return receipt's Diagnostic-Code. */
			deliver_set(&j->out[k], RS_SENT, cr.dsn,
			    j->res[i].reply.code ? j->res[i].reply.full : reply,
			    deliver_command(j, SMTP_PHASE_RCPT, i), NULL, NULL);
			j->naccepted++;
			break;
		case CLASSIFY_DEFERRED:
			/* A recipient's own M line only for its own RCPT
			 * reply, as sendmail's q_message; the envelope's
			 * says the last deferral.  A connection lost is
			 * sendmail's "reply: read error" on the envelope,
			 * and on a recipient whose RCPT it was lost in. */
			deliver_deferred(j, rr, status, sizeof status);
			if (rr->code == 0) {
				char lost[400];

				snprintf(lost, sizeof lost, "reply: read error from %s",
				    j->cfg->relay_host);
				deliver_set(&j->out[k], RS_DEFERRED, cr.dsn, NULL,
				    deliver_command(j, ph, i), NULL,
				    ph != SMTP_PHASE_RCPT ? NULL :
				    rr->timed_out ? status : lost);
				snprintf(j->status, sizeof j->status, "%s", lost);
				break;
			}
			deliver_set(&j->out[k], RS_DEFERRED, cr.dsn, reply,
			    deliver_command(j, ph, i), NULL,
			    ph == SMTP_PHASE_RCPT ? status : NULL);
			snprintf(j->status, sizeof j->status, "%s", status);
			break;
		case CLASSIFY_FAILED:
			deliver_set(&j->out[k], RS_FAILED, cr.dsn, reply,
			    deliver_command(j, ph, i), cr.stat, NULL);
			/* sendmail leaves the body out of the bounce only
			 * when the relay offered SIZE (it took the 552 as
			 * about the size it was told). */
			if (cr.no_body && (j->ext & SMTP_EXT_SIZE))
				j->no_body = true;
			break;
		}
	}
	deliver_note_mta_qid(j);
	deliver_xscript_txn(j);
	j->running = false;
	j->unlogged = true;
	j->batch++;
}

/* The lines of the transaction that ended, as sendmail logs them: one
 * for the accepted recipients together, one per recipient its own RCPT
 * reply refused, one for those the transaction's end (MAIL, DATA, the
 * final dot, a lost connection) decided together. */
static void
deliver_log_txn(struct deliver_job *j)
{
	struct strbuf to = STRBUF_INIT, rest = STRBUF_INIT;
	size_t first, i;
	const struct smtp_reply *rr, *rest_reply = NULL;
	struct classify_result cr, rest_cr;
	bool warned = false;
	char stat[700];

	if (!j->unlogged)
		return;
	first = j->starts[j->batch - 1];
	for (i = 0; i < j->txn.nrcpt; i++)
		if (smtp_txn_outcome(&j->txn, i, &rr) == SMTP_OK)
			strbuf_addf(&to, "%s%s", to.len ? "," : "",
			    j->env->rcpts[j->order[first + i]].addr);
	if (to.len > 0) {
		char mta_qid[MTAQID_MAX + 1];

		classify(j->txn.phase, SMTP_OK, &j->txn.reply, &cr);
		snprintf(stat, sizeof stat, "Sent (%s)", j->txn.reply.text);
		(void)mtaqid_parse(j->txn.reply.text, mta_qid, sizeof mta_qid);
		deliver_log(j, to.buf, cr.dsn, stat, &j->txn.reply, true, mta_qid);
	}
	for (i = 0; i < j->txn.nrcpt; i++) {
		enum smtp_status st = smtp_txn_outcome(&j->txn, i, &rr);

		if (st == SMTP_OK)
			continue;
		classify(smtp_txn_outcome_phase(&j->txn, i), st, rr, &cr);
		if (cr.maybe_delivered && !warned) {
			log_msg(LOG_LVL_WARNING,
			    "%s: connection with %s lost after the final dot, before the reply: the relay may have the message, which stays queued and may arrive twice",
			    j->id, j->cfg->relay_host);
			warned = true;
		}
		if (smtp_txn_outcome_phase(&j->txn, i) != SMTP_PHASE_RCPT) {
			strbuf_addf(&rest, "%s%s", rest.len ? "," : "",
			    j->env->rcpts[j->order[first + i]].addr);
			rest_reply = rr;
			rest_cr = cr;
			continue;
		}
		if (cr.action == CLASSIFY_FAILED)
			snprintf(stat, sizeof stat, "%s", cr.stat);
		else
			deliver_deferred(j, rr, stat, sizeof stat);
		deliver_log(j, j->env->rcpts[j->order[first + i]].addr, cr.dsn, stat,
		    rr, true, NULL);
	}
	if (rest.len > 0) {
		if (rest_cr.action == CLASSIFY_FAILED)
			snprintf(stat, sizeof stat, "%s", rest_cr.stat);
		else
			deliver_deferred(j, rest_reply, stat, sizeof stat);
		deliver_log(j, rest.buf, rest_cr.dsn, stat, rest_reply, true, NULL);
	}
	strbuf_free(&to);
	strbuf_free(&rest);
	j->unlogged = false;
	deliver_txn_free(j);
}

void
deliver_unreachable(struct deliver_job *j, const char *why, bool tried,
    const struct classify_result *cr, const struct smtp_reply *reply)
{
	struct smtp_reply none;
	bool failed = cr != NULL && cr->action == CLASSIFY_FAILED;
	const char *dsn = cr != NULL ? cr->dsn : "4.4.1";
	size_t i;

	deliver_log_txn(j);
	if (j->running)
		deliver_txn_free(j);
	memset(&none, 0, sizeof none);
	if (reply == NULL)
		reply = &none;
	snprintf(j->status, sizeof j->status, "Deferred: %s", why);
	/* One line per transaction, its recipients in sending order, as
	 * sendmail logs a connection failure. */
	for (; j->batch < j->nbatches; j->batch++) {
		struct strbuf to = STRBUF_INIT;

		for (i = j->starts[j->batch]; i < j->starts[j->batch + 1]; i++) {
			struct deliver_rcpt *o = &j->out[j->order[i]];

			strbuf_addf(&to, "%s%s", to.len ? "," : "",
			    j->env->rcpts[j->order[i]].addr);
			if (failed)
				deliver_set(o, RS_FAILED, dsn, reply->code ? reply->full : NULL,
				    NULL, cr->stat, NULL);
			else
				deliver_set(o, RS_DEFERRED, dsn,
				    reply->code ? reply->full : NULL, NULL, why, NULL);
		}
		deliver_log(j, to.buf, dsn, failed ? cr->stat : j->status, reply, tried, NULL);
		strbuf_free(&to);
	}
}

void
deliver_return(struct deliver_job *j, const char *who)
{
	char stat[300];
	size_t i;

	snprintf(stat, sizeof stat, "Returned on request of %s", who);
	j->returned = true;
	j->batch = j->nbatches;		/* nothing goes on the wire */
	for (i = 0; i < j->env->nrcpts; i++) {
		const struct qf_rcpt *r = &j->env->rcpts[i];
		/* The words an expiry would carry: the last deferral's. */
		const char *text = r->status != NULL ? r->status :
		    j->env->status != NULL ? j->env->status : "Deferred";
		/* The relay's last reply for it, when its status kept one
		 * ("Deferred: 451 4.3.0 ..."): the notification's
		 * Diagnostic-Code, as in the expiry of a message last
		 * deferred so.  No session is made up for the transcript. */
		const char *reply = strncmp(text, "Deferred: ", 10) == 0 &&
		    text[10] >= '2' && text[10] <= '5' && isdigit((unsigned char)text[11]) &&
		    isdigit((unsigned char)text[12]) && text[13] == ' ' ? text + 10 : NULL;

		deliver_set(&j->out[i], RS_FAILED, "5.4.7", reply, NULL,
		    strncmp(text, "Deferred: ", 10) == 0 ? text + 10 : text, stat);
		deliver_log(j, r->addr, "5.4.7", stat, NULL, false, NULL);
	}
}

void
deliver_commit(struct deliver_job *j)
{
	if (j->committed || j->running || j->batch < j->nbatches)
		return;
	/* The rewrite changes the envelope the lines are made from: log
	 * them first (once: a commit tried again finds them logged). */
	deliver_log_txn(j);
	deliver_commit_disk(j);
}

bool
deliver_conclude(struct deliver_job *j)
{
	deliver_log_txn(j);
	if (j->running)
		deliver_txn_free(j);
	/* Whatever was not tried stays as it is. */
	j->batch = j->nbatches;
	deliver_commit(j);
	return !deliver_unwritten(j);
}

void
deliver_tally_add(struct deliver_tally *t, enum deliver_result res)
{
	switch (res) {
	case DELIVER_DELIVERED:
		t->delivered++;
		break;
	case DELIVER_PARTIAL:
	case DELIVER_DEFERRED:
		t->deferred++;
		break;
	case DELIVER_SKIPPED:
	case DELIVER_QUARANTINED:
	case DELIVER_LEFT:
	case DELIVER_UNREADABLE:
		break;
	}
}

enum deliver_result
deliver_abandon(struct deliver_job *j)
{
	if (j->running && j->batch == 0 && !j->unlogged) {
		deliver_txn_free(j);
		j->committed = true;	/* nothing to put on disk */
		j->result = DELIVER_SKIPPED;
	}
	return deliver_finish(j);
}

enum deliver_result
deliver_finish(struct deliver_job *j)
{
	enum deliver_result res;
	size_t i;

	if (!deliver_conclude(j))
		log_msg(LOG_LVL_WARNING, "%s: %s", j->id,
		    j->cstage >= COMMIT_DSN ?
		    "the notification is not queued yet; its intent is in the queue file, and the next attempt finishes it" :
		    j->naccepted > 0 ?
		    "given up with the outcome unwritten: the queue file says what it said before this attempt, so the recipients the relay accepted in it will get the message again" :
		    "given up with the outcome unwritten: the queue file is as it was, and this attempt counts for nothing");
	res = j->result;
	if (j->dfd >= 0)
		close(j->dfd);
	if (j->sj != NULL)
		spool_job_close(j->sj);
	for (i = 0; i < j->env->nrcpts; i++)
		deliver_rcpt_clear(&j->out[i]);
	qf_free(j->env);
	free(j->order);
	free(j->starts);
	free(j->out);
	free(j->rdbuf);
	free(j->plan);
	free(j->intent);
	dsn_xscript_free(&j->xscript);
	free(j);
	return res;
}
