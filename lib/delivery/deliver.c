#include "config.h"

#include "delivery/deliver.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "smtp/classify.h"
#include "util/crashpoint.h"
#include "delivery/envelope.h"
#include "queue/log.h"
#include "smtp/mtaqid.h"
#include "util/pwcache.h"
#include "queue/qf.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

/* The data file is read in pieces of this size. */
#define DELIVER_READ (64 * 1024)

/* The macro that records a notification in progress (see deliver.h) and
 * the M-line prefix of a recipient it reports on. */
#define DELIVER_INTENT "{clientq_dsn}"
#define DELIVER_MARK "DSN\t"
/* An empty control file is the placeholder a submitting sendmail holds
 * locked (its open and its lock are two calls); one that nobody holds
 * for this long is not a submission in progress. */
#define DELIVER_EMPTY_GRACE 60

enum deliver_body_stage {
	BODY_HEADERS,
	BODY_DATA,
	BODY_DONE,
};

/* How far deliver_commit got with the disk (deliver.h: a step that
 * cannot be written is tried again from where it stopped). */
enum deliver_commit_stage {
	COMMIT_NONE,		/* nothing decided yet */
	COMMIT_SETTLE,		/* remove, or rewrite with the rest */
	COMMIT_FALLBACK,	/* no notification possible: rewrite, the
				 * failures kept to be tried again */
	COMMIT_INTENT,		/* (A) */
	COMMIT_DSN,		/* (B) */
	COMMIT_FINAL,		/* (C) */
	COMMIT_DONE,
};

/* What became of one recipient in this attempt. */
enum deliver_state {
	RS_UNTRIED,
	RS_SENT,
	RS_DEFERRED,
	RS_FAILED,
};

struct deliver_rcpt {
	enum deliver_state state;
	char dsn[16];
	char *reply;		/* the relay's reply line, or NULL */
	char *command;		/* the command it answered, or NULL */
	char *text;		/* sendmail's words for a failure */
	char *status;		/* "Deferred: ...", for M and stat= */
	bool report;		/* in the notification */
	enum dsn_action action;
};

struct deliver_plan;

struct deliver_job {
	const struct deliver_config *cfg;
	struct spool_job *sj;
	struct qf_envelope *env;
	char id[64];
	int dfd;
	off_t dfoff;			/* read so far */
	long long msgsize;
	time_t xstart;

	long long dfsize;
	unsigned ext;			/* the relay's extensions */

	/* sendmail's transactions: order[starts[b] .. starts[b+1]). */
	size_t *order, *starts, nbatches, batch;
	struct deliver_rcpt *out;	/* per recipient, file order */
	size_t naccepted;
	bool no_body;			/* 552 to MAIL: return headers only */
	char status[700];		/* the last deferral, for M */
	/* The relay's queue IDs of this attempt's accepted transactions
	 * (mtaqid.h), ", " between them, for the outcome; those that do
	 * not fit are left out. */
	char mta_qids[200];
	size_t n_mta_qids;

	/* The transaction being run. */
	struct smtp_txn txn;
	char **cmds;
	struct smtp_rcpt_result *res;
	struct strbuf mail;
	bool running;			/* submitted, not yet done */
	bool unlogged;			/* done, its lines not yet logged */
	bool committed;			/* the disk has the outcome */
	enum deliver_result result;
	/* The commit, resumable: its stage, what it will report once done,
	 * the notification's ID and intent, and the failed writes so far
	 * (the first is logged as an error, the others not: a full disk
	 * says so once). */
	enum deliver_commit_stage cstage;
	enum deliver_result cresult;
	struct deliver_plan *plan;
	char newid[QID_MAX_LEN + 1];
	char *intent;
	unsigned write_failures;
	struct dsn_xscript xscript;	/* this attempt's session, for a
					 * notification's transcript */

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

const struct qf_envelope *
deliver_envelope(const struct deliver_job *j)
{
	return j->env;
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

static void
deliver_rcpt_clear(struct deliver_rcpt *o)
{
	free(o->reply);
	free(o->command);
	free(o->text);
	free(o->status);
	memset(o, 0, sizeof *o);
}

static char *
deliver_dup(const char *s)
{
	return s != NULL && *s != '\0' ? xstrdup(s) : NULL;
}

static void
deliver_set(struct deliver_rcpt *o, enum deliver_state st, const char *dsn,
    const char *reply, const char *command, const char *text, const char *status)
{
	deliver_rcpt_clear(o);
	o->state = st;
	snprintf(o->dsn, sizeof o->dsn, "%s", dsn != NULL ? dsn : "");
	o->reply = deliver_dup(reply);
	o->command = deliver_dup(command);
	o->text = deliver_dup(text);
	o->status = deliver_dup(status);
}

/* --------------------------------------------- the intent in the qf */

static const char *const deliver_action_names[] = { "failed", "delayed", "relayed" };

/* A field of a mark: tabs would split it, newlines the line. */
static void
deliver_mark_field(struct strbuf *sb, const char *s)
{
	strbuf_addch(sb, '\t');
	for (; s != NULL && *s != '\0'; s++)
		strbuf_addch(sb, *s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s);
}

/* The M line of a reported recipient: "DSN", action, status, command,
 * text, reply, tab-separated.  sendmail ignores M lines on reading. */
static char *
deliver_mark(const struct deliver_rcpt *o)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "DSN");
	deliver_mark_field(&sb, deliver_action_names[o->action]);
	deliver_mark_field(&sb, o->dsn);
	deliver_mark_field(&sb, o->command);
	deliver_mark_field(&sb, o->text);
	deliver_mark_field(&sb, o->reply);
	return strbuf_detach(&sb, NULL);
}

static bool
deliver_unmark(const char *m, struct deliver_rcpt *o)
{
	char *copy, *f[6], *p;
	size_t n = 0, a;

	if (m == NULL || strncmp(m, DELIVER_MARK, strlen(DELIVER_MARK)) != 0)
		return false;
	copy = xstrdup(m);
	for (p = copy; n < 6; n++) {
		f[n] = p;
		if (n == 5)
			break;
		if ((p = strchr(p, '\t')) == NULL)
			break;
		*p++ = '\0';
	}
	if (n != 5) {
		free(copy);
		return false;
	}
	for (a = 0; a < 3 && strcmp(f[1], deliver_action_names[a]) != 0; a++)
		;
	if (a == 3) {
		free(copy);
		return false;
	}
	deliver_set(o, a == DSN_ACT_RELAYED ? RS_SENT : a == DSN_ACT_DELAYED ?
	    RS_DEFERRED : RS_FAILED, f[2], f[5], f[3], f[4], NULL);
	o->report = true;
	o->action = (enum dsn_action)a;
	if (o->state == RS_DEFERRED) {
		struct strbuf st = STRBUF_INIT;

		strbuf_addf(&st, "Deferred: %s", o->reply != NULL ? o->reply :
		    o->text != NULL ? o->text : "");
		o->status = strbuf_detach(&st, NULL);
	}
	free(copy);
	return true;
}

/* --------------------------------------------------------- opening */

static bool deliver_recover(struct deliver_job *j, const char *intent);
static bool deliver_remove(struct deliver_job *j);

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
    const struct spool_error *qerr)
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
	struct spool_error serr, serr2;
	struct spool_job *sj;
	struct qf_envelope *env;
	struct qf_error qerr;
	char where[300], why[300];
	struct deliver_job *j;
	struct stat st;
	enum spool_result sr;
	enum qf_status qs;
	const char *intent;
	int dfd;

	*res = DELIVER_SKIPPED;
	sr = spool_job_open(cfg->sp, id, &sj, &serr);
	if (sr == SPOOL_UNSAFE && serr.unsafe == SPOOL_UNSAFE_BOGUS) {
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

static void deliver_log_txn(struct deliver_job *j);
static void deliver_xscript_txn(struct deliver_job *j);

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
	struct spool_error err;
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
static bool
deliver_remove(struct deliver_job *j)
{
	struct spool_error serr;
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
	p->expired = now >= env->ctime + ret;
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
	struct spool_error err;
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
static void
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
	struct spool_error err;
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

/* The intent macro's value: "<newid> <kind> <expired> <pmcopy> <to>". */
static char *
deliver_intent(const char *newid, const struct deliver_plan *p)
{
	return xasprintf("%s %d %d %d %s", newid, (int)p->kind, p->expired ? 1 : 0,
	    p->pmcopy ? 1 : 0, p->to);
}

/* Finish a notification an earlier run began (see deliver.h). */
static bool
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
	struct spool_error serr;
	time_t now;

	j->plan = p;
	/* The rewrite changes the envelope the lines are made from: log
	 * them first. */
	deliver_log_txn(j);
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

void
deliver_commit(struct deliver_job *j)
{
	if (j->committed || j->running || j->batch < j->nbatches)
		return;
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
