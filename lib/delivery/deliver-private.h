/*
 * deliver-private: what the three files of the deliver module share
 * (deliver.h is its contract; nothing outside lib/delivery/deliver*.c
 * includes this).
 *
 * deliver.c runs a message through the relay: opening and reading it,
 * sendmail's transactions, the body, the log lines.  deliver-commit.c
 * puts the outcome on disk, as the commit/notification machine deliver.h
 * describes (requeue, intent, notification, final rewrite), resumable
 * after a failed write or a crash.  deliver-rcpt.c holds a recipient's
 * outcome and its mark.  The job, below, is theirs.
 */
#ifndef CQ_DELIVER_PRIVATE_H
#define CQ_DELIVER_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "delivery/deliver.h"
#include "delivery/dsn.h"
#include "delivery/render.h"
#include "queue/qf.h"
#include "queue/qid.h"
#include "smtp/smtp.h"
#include "util/strbuf.h"

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
	uid_t owner;			/* the control file's, at open */
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
	bool returned;			/* deliver_return: back to the sender
					 * now, as if expired */
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

/* The calls go one way: deliver.c calls deliver-commit.c, and both call
 * deliver-rcpt.c, which calls neither.  Each is described where it is
 * defined.  deliver-rcpt.c: */
void deliver_rcpt_clear(struct deliver_rcpt *o);
void deliver_set(struct deliver_rcpt *o, enum deliver_state st, const char *dsn,
    const char *reply, const char *command, const char *text, const char *status);
char *deliver_mark(const struct deliver_rcpt *o);
bool deliver_unmark(const char *m, struct deliver_rcpt *o);

/* deliver-commit.c: */
void deliver_commit_disk(struct deliver_job *j);
bool deliver_recover(struct deliver_job *j, const char *intent);
bool deliver_remove(struct deliver_job *j);
void deliver_xscript_txn(struct deliver_job *j);

#endif
