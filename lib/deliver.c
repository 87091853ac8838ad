#include "config.h"

#include "deliver.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "classify.h"
#include "envelope.h"
#include "log.h"
#include "qf.h"
#include "strbuf.h"
#include "xalloc.h"

/* The data file is read in pieces of this size. */
#define DELIVER_READ (64 * 1024)

enum deliver_body_stage {
	BODY_HEADERS,
	BODY_DATA,
	BODY_DONE,
};

struct deliver_job {
	const struct deliver_config *cfg;
	struct spool_job *sj;
	struct qf_envelope *env;
	char id[64];
	int dfd;
	off_t dfoff;			/* read so far */
	long long msgsize;
	time_t xstart;

	/* sendmail's transactions: order[starts[b] .. starts[b+1]). */
	size_t *order, *starts, nbatches, batch;
	bool *done;			/* recipient accepted */
	size_t naccepted;
	char status[700];		/* the last deferral, for M */

	/* The transaction being run. */
	struct smtp_txn txn;
	char **cmds;
	struct smtp_rcpt_result *res;
	struct strbuf mail;
	bool running;			/* submitted, not yet done */
	bool unlogged;			/* done, its lines not yet logged */
	bool committed;			/* the disk has the outcome */
	enum deliver_result result;

	/* The body, rendered on demand. */
	enum deliver_body_stage stage;
	struct render_body rb;
	char *rdbuf;
};

const char *
deliver_id(const struct deliver_job *j)
{
	return j->id;
}

/* sendmail logs "ctladdr=user (uid/gid)" when the envelope sender is a
 * local user of this system (measured: root, nobody and smmsp get it;
 * remote and unknown senders do not).  The last answer is kept for a
 * minute: a queue is mostly one sender's mail, and getpwnam reads the
 * user database each time. */
static struct {
	char user[256];
	char text[300];
	time_t when;
} deliver_ctladdr_cache;

static void
deliver_ctladdr(const struct qf_envelope *env, char *buf, size_t size)
{
	const char *s = env->sender ? env->sender : "";
	char user[256];
	struct passwd *pw;
	time_t now = time(NULL);
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
	if (strcmp(user, deliver_ctladdr_cache.user) != 0 ||
	    now - deliver_ctladdr_cache.when > 60 || now < deliver_ctladdr_cache.when) {
		deliver_ctladdr_cache.text[0] = '\0';
		if ((pw = getpwnam(user)) != NULL)
			snprintf(deliver_ctladdr_cache.text, sizeof deliver_ctladdr_cache.text,
			    ", ctladdr=%s (%lu/%lu)", user, (unsigned long)pw->pw_uid,
			    (unsigned long)pw->pw_gid);
		snprintf(deliver_ctladdr_cache.user, sizeof deliver_ctladdr_cache.user, "%s", user);
		deliver_ctladdr_cache.when = now;
	}
	snprintf(buf, size, "%s", deliver_ctladdr_cache.text);
}

/* One line as sendmail's markstats/logdelivery writes it. */
static void
deliver_log(struct deliver_job *j, const char *to, const char *dsn,
    const char *stat, const struct smtp_reply *reply, bool connected)
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
	log_msg(LOG_LVL_INFO,
	    "%s: to=%s%s, delay=%s, xdelay=%s, mailer=relay, pri=%lld, relay=%s, dsn=%s%s%s, stat=%s",
	    j->id, to, ctladdr, delay, xdelay, j->env->priority + 90000, relay, dsn,
	    show_reply ? ", reply=" : "", show_reply ? reply->full : "", stat);
}

struct deliver_job *
deliver_open(const struct deliver_config *cfg, const char *id,
    enum deliver_result *res)
{
	struct spool_error serr;
	struct spool_job *sj;
	struct qf_envelope *env;
	struct qf_error qerr;
	struct deliver_job *j;
	struct stat st;
	enum spool_result sr;
	enum qf_status qs;
	int dfd;

	*res = DELIVER_SKIPPED;
	sr = spool_job_open(cfg->sp, id, &sj, &serr);
	if (sr != SPOOL_OK) {
		/* Locked (its submitter or another runner has it), gone or
		 * changed: not ours now.  Unsafe: say so. */
		if (sr == SPOOL_UNSAFE || sr == SPOOL_ERROR)
			log_msg(LOG_LVL_WARNING, "%s: skipped: %s", id, serr.reason);
		return NULL;
	}
	qs = spool_job_load(sj, &env, &qerr);
	if (qs == QF_REFUSED) {
		/* What sendmail's readqf() refuses it renames to Qf
		 * ("loseqfile"); so do we, and never delete it. */
		if (spool_job_quarantine(sj, &serr) == SPOOL_OK)
			log_msg(LOG_LVL_ERR, "%s: quarantined as Qf%s: line %u: %s",
			    id, id, qerr.line, qerr.reason);
		else
			log_msg(LOG_LVL_ERR, "%s: refused (line %u: %s), and cannot quarantine it: %s",
			    id, qerr.line, qerr.reason, serr.reason);
		*res = DELIVER_QUARANTINED;
		return NULL;
	}
	if (qs != QF_OK) {
		spool_job_close(sj);
		return NULL;	/* empty or still being written */
	}
	sr = spool_job_open_df(sj, &dfd, &st, &serr);
	if (sr != SPOOL_OK) {
		log_msg(LOG_LVL_ERR, "%s: skipped: %s", id, serr.reason);
		qf_free(env);
		spool_job_close(sj);
		return NULL;
	}
	j = xcalloc(1, sizeof *j);
	j->cfg = cfg;
	j->sj = sj;
	j->env = env;
	j->dfd = dfd;
	j->xstart = time(NULL);
	snprintf(j->id, sizeof j->id, "%s", id);
	j->order = xcalloc(env->nrcpts + 1, sizeof *j->order);
	j->starts = xcalloc(env->nrcpts + 1, sizeof *j->starts);
	j->done = xcalloc(env->nrcpts + 1, sizeof *j->done);
	j->nbatches = env->nrcpts ? envelope_batches(env, j->order, j->starts) : 0;
	j->starts[j->nbatches] = env->nrcpts;
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

static void deliver_log_txn(struct deliver_job *j);

struct smtp_txn *
deliver_next(struct deliver_job *j, unsigned ext)
{
	size_t first, count, i;

	deliver_log_txn(j);
	if (j->running)
		deliver_txn_free(j);
	if (j->batch >= j->nbatches)
		return NULL;
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

/* The status of a recipient not accepted, for stat= and the M line. */
static void
deliver_deferred(const struct smtp_reply *rr, char *buf, size_t size)
{
	snprintf(buf, size, "Deferred: %s",
	    rr->full[0] ? rr->full : "lost connection with the relay");
}

void
deliver_txn_done(struct deliver_job *j)
{
	size_t first = j->starts[j->batch], i;
	const struct smtp_reply *rr;

	for (i = 0; i < j->txn.nrcpt; i++) {
		size_t k = j->order[first + i];

		if (smtp_txn_outcome(&j->txn, i, &rr) == SMTP_OK) {
			j->done[k] = true;
			j->naccepted++;
		} else {
			deliver_deferred(rr, j->status, sizeof j->status);
		}
	}
	j->running = false;
	j->unlogged = true;
	j->batch++;
}

/* The lines of the transaction that ended: one for the accepted
 * recipients together, one per recipient not accepted. */
static void
deliver_log_txn(struct deliver_job *j)
{
	struct strbuf to = STRBUF_INIT;
	size_t first, i;
	const struct smtp_reply *rr;
	struct classify_result cr;
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
		classify(j->txn.phase, SMTP_OK, &j->txn.reply, &cr);
		snprintf(stat, sizeof stat, "Sent (%s)", j->txn.reply.text);
		deliver_log(j, to.buf, cr.dsn, stat, &j->txn.reply, true);
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
		/* A permanent refusal stays queued too until bounces are
		 * made; so it is logged as what is done with it. */
		deliver_deferred(rr, stat, sizeof stat);
		deliver_log(j, j->env->rcpts[j->order[first + i]].addr, cr.dsn, stat,
		    rr, true);
	}
	strbuf_free(&to);
	j->unlogged = false;
	deliver_txn_free(j);
}

void
deliver_unreachable(struct deliver_job *j, const char *why, bool tried)
{
	struct smtp_reply none;
	size_t i;

	deliver_log_txn(j);
	if (j->running)
		deliver_txn_free(j);
	memset(&none, 0, sizeof none);
	snprintf(j->status, sizeof j->status, "Deferred: %s", why);
	/* One line per transaction, its recipients in sending order, as
	 * sendmail logs a connection failure. */
	for (; j->batch < j->nbatches; j->batch++) {
		struct strbuf to = STRBUF_INIT;

		for (i = j->starts[j->batch]; i < j->starts[j->batch + 1]; i++)
			strbuf_addf(&to, "%s%s", to.len ? "," : "",
			    j->env->rcpts[j->order[i]].addr);
		deliver_log(j, to.buf, "4.4.1", j->status, &none, tried);
		strbuf_free(&to);
	}
}

/* Keep only the recipients not accepted, count the try (K, N, P as
 * sendmail's requeue does) and commit. */
static bool
deliver_requeue(struct deliver_job *j)
{
	struct qf_envelope *env = j->env;
	struct strbuf out = STRBUF_INIT;
	struct spool_error err;
	size_t i, k = 0;
	bool ok;

	for (i = 0; i < env->nrcpts; i++) {
		if (j->done[i]) {
			free(env->rcpts[i].addr);
			free(env->rcpts[i].ctladdr);
			free(env->rcpts[i].orcpt);
			free(env->rcpts[i].final_rcpt);
			free(env->rcpts[i].status);
			continue;
		}
		env->rcpts[k++] = env->rcpts[i];
	}
	env->nrcpts = k;
	env->dtime = time(NULL);
	env->ntries++;
	env->priority += 90000;
	free(env->status);
	env->status = xstrdup(j->status[0] ? j->status : "Deferred");
	qf_format(env, &out);
	ok = spool_job_commit(j->sj, out.buf, out.len, &err) == SPOOL_OK;
	if (!ok)
		log_msg(LOG_LVL_ERR, "%s: cannot rewrite the queue file: %s",
		    j->id, err.reason);
	strbuf_free(&out);
	return ok;
}

void
deliver_commit(struct deliver_job *j)
{
	struct spool_error serr;

	if (j->committed || j->running || j->batch < j->nbatches)
		return;
	j->committed = true;
	j->result = DELIVER_DEFERRED;
	if (j->env->nrcpts > 0 && j->naccepted == j->env->nrcpts) {
		if (spool_job_remove(j->sj, &serr) == SPOOL_OK)
			j->result = DELIVER_DELIVERED;
		else
			log_msg(LOG_LVL_ERR, "%s: delivered, but removing it failed: %s",
			    j->id, serr.reason);
		j->sj = NULL;
	} else if (j->naccepted > 0) {
		/* The rewrite changes the envelope the lines are made
		 * from: log them first (removal leaves it as it is). */
		deliver_log_txn(j);
		(void)deliver_requeue(j);
		j->result = DELIVER_PARTIAL;
	}
}

enum deliver_result
deliver_finish(struct deliver_job *j)
{
	enum deliver_result res;

	deliver_log_txn(j);
	if (j->running)
		deliver_txn_free(j);
	/* Whatever was not tried stays as it is. */
	j->batch = j->nbatches;
	deliver_commit(j);
	res = j->result;
	close(j->dfd);
	if (j->sj != NULL)
		spool_job_close(j->sj);
	qf_free(j->env);
	free(j->order);
	free(j->starts);
	free(j->done);
	free(j->rdbuf);
	free(j);
	return res;
}
