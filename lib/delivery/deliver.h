/*
 * deliver: one queued message through the relay, from lock to disk.
 *
 * Contract
 * --------
 * A job is one message.  deliver_open locks and reads it as sendmail does
 * (and quarantines what sendmail's readqf would refuse); then, for each of
 * sendmail's transactions (at most 100 recipients, in its order),
 * deliver_next builds the smtp transaction for the extensions the
 * connection offers, the caller runs it on a connection (smtp.h; any
 * event loop), and deliver_txn_done notes its result; its lines are
 * logged in sendmail's format (one line per group of recipients with one
 * outcome) by the next deliver_next or by deliver_finish.  When the relay
 * cannot be reached, deliver_unreachable logs the rest as sendmail logs a
 * connection failure.  deliver_commit does what the outcome asks of the
 * disk, under the lock, as soon as the last transaction is done (so that
 * a crash after it cannot send the message twice); deliver_finish logs
 * what is left to log, commits if that was not done, and frees:
 * - nothing left to try (every recipient accepted, or refused for good):
 *   df, then qf, removed;
 * - otherwise the qf rewritten with only the recipients still to try, as
 *   sendmail's requeue writes it: K = now, N + 1, P + 90000, the
 *   envelope M line and each recipient's own (tf + fsync + rename +
 *   directory fsync).
 * Recipients refused for good, recipients past Timeout.queuereturn
 * (4.4.7), delay warnings (Timeout.queuewarn, once: F w) and return
 * receipts (NOTIFY=SUCCESS, relay without DSN) get a notification as
 * sendmail's dropenvelope() makes them (dsn.h), queued in the client
 * queue as a new message before the recipients it reports on leave the
 * original.  A notification that fails goes to the postmaster
 * (DoubleBounceAddress); one to the postmaster that fails is quarantined
 * (Qf), never deleted.
 *
 * Crash safety of a notification: three steps, each durable before the
 * next.  (A) the new ID is reserved (its empty df) and the original is
 * rewritten with the intent: the macro ${clientq_dsn} naming the new ID,
 * and the reported recipients kept with their outcome in their M lines;
 * (B) the notification is written (df, then tf renamed to qf); (C) the
 * original is rewritten without the reported recipients (or removed).
 * deliver_open finishes an interrupted (B)/(C) before anything else, from
 * what is on disk: the notification's qf exists -> C; its df only -> B,
 * C; neither -> it was delivered already -> C.  So a failure is reported
 * once, whatever the moment of a crash.
 * Nothing here deletes mail the relay has not accepted or a notification
 * has not taken over.
 *
 * A write that fails (a full disk, an I/O error) leaves the file as it
 * was, or in the intent state, which the crash recovery above finishes:
 * never half-changed.  deliver_unwritten then says the outcome is known
 * but not on disk; a caller that keeps the job (the daemon, whose
 * deliver_config says retry_writes) calls deliver_conclude again later,
 * which goes on from the step that failed without sending anything
 * again, so that recipients the relay accepted do not get the message
 * twice while the disk is full.  Only the first failure of a job is
 * logged (an error), and the write that finally works (a notice).
 *
 * The body is rendered (render.h) from the data file on demand, through
 * a fixed buffer: memory per job does not grow with the message.
 */
#ifndef CQ_DELIVER_H
#define CQ_DELIVER_H

#include <stdbool.h>

#include "smtp/classify.h"
#include "delivery/dsn.h"
#include "delivery/render.h"
#include "smtp/smtp.h"
#include "queue/spool.h"

/* What the program decided once, from submit.cf. */
struct deliver_config {
	struct spool *sp;
	struct render_opts ropts;	/* headers and body; sender headers
					 * masqueraded */
	struct render_opts env_opts;	/* envelope recipients (the
					 * masquerade domain with
					 * masquerade_envelope) */
	bool masq_envelope;		/* the envelope sender too */
	const char *relay_host;		/* as submit.cf names it */
	const char *relay_ip;		/* the address connected to */
	/* Notifications: dsn.warn_after and dsn.return_after are set per
	 * message from these, by precedence class (normal, urgent,
	 * non-urgent; Timeout.queuewarn 0 = never). */
	struct dsn_config dsn;
	long long queuewarn[3], queuereturn[3];
	const char *postmaster;		/* DoubleBounceAddress */
	/* Called with the ID of each notification queued, so that the
	 * caller delivers it too (sendmail sends it at once). */
	void (*queued)(void *arg, const char *id);
	void *queued_arg;
	/* The caller tries an unwritten outcome again (deliver_conclude)
	 * rather than giving it up: said in the first failure's line. */
	bool retry_writes;
};

enum deliver_result {
	DELIVER_DELIVERED,	/* nothing left to try; files removed */
	DELIVER_PARTIAL,	/* some done; the rest requeued */
	DELIVER_DEFERRED,	/* nothing done; requeued (K, N, P, M) */
	DELIVER_SKIPPED,	/* not now: locked, gone, changed, still
				 * empty, or a system error (logged) */
	DELIVER_QUARANTINED,	/* refused as sendmail would; renamed to Qf */
	DELIVER_LEFT,		/* a control file the runner will not read
				 * as it is (not a regular file, more than
				 * one link, not readable, cut short, empty
				 * and held by nobody): logged, left as it
				 * is; worth another look only once the file
				 * has changed */
	DELIVER_UNREADABLE,	/* the control file's read failed (an I/O
				 * error): logged; worth another try later,
				 * the file as it is */
};

/* Messages counted by what came of them, for a run's summary and the
 * daemon's STATUS=: delivered (nothing left), deferred (something
 * requeued); skipped and quarantined ones are not counted. */
struct deliver_tally {
	unsigned long delivered, deferred;
};

void deliver_tally_add(struct deliver_tally *t, enum deliver_result res);

struct deliver_job;

/* deliver_open: lock and read the message.  NULL with *res SKIPPED,
 * QUARANTINED or LEFT when there is nothing to send (logged where
 * sendmail would log it, and where it would not notice: every refusal is
 * logged once per call).  What is quarantined (renamed to Qf, nothing
 * rewritten, the data file where it was): what sendmail's readqf()
 * loses (a control file it refuses, one of the wrong owner, group or
 * mode), and, more strictly than sendmail, which reads its data file
 * without looking, a message whose data file is not a regular file of
 * one link and the queue's group and mode, or cannot be opened, or is
 * not where it belongs but elsewhere in the queue.  A control file
 * whose data file is nowhere is what a crash left of a removal: the
 * removal is finished. */
struct deliver_job *deliver_open(const struct deliver_config *cfg,
    const char *id, enum deliver_result *res);

const char *deliver_id(const struct deliver_job *j);
/* deliver_envelope: the message as it was read (for listings of a
 * message being delivered). */
const struct qf_envelope *deliver_envelope(const struct deliver_job *j);
/* deliver_owner: the control file's owner when the job opened it (who
 * may see the message's outcome); (uid_t)-1 when it could not be told. */
uid_t deliver_owner(const struct deliver_job *j);

/* deliver_next: the next transaction, its commands made for the
 * extensions ext; NULL when every transaction has been run.  The
 * transaction belongs to the job. */
struct smtp_txn *deliver_next(struct deliver_job *j, unsigned ext);

/* deliver_pending: transactions remain beyond the one running. */
bool deliver_pending(const struct deliver_job *j);

/* deliver_txn_done: the transaction deliver_next gave ended (smtp's
 * SMTP_EV_TXN_DONE): note who was accepted.  Cheap: no I/O. */
void deliver_txn_done(struct deliver_job *j);

/* deliver_commit: once no transaction is pending, put the outcome on
 * disk now (remove, or rewrite with the others); a no-op before that
 * and after the first call. */
void deliver_commit(struct deliver_job *j);

/* deliver_unreachable: no connection: why (sendmail's wording, e.g.
 * "Connection refused by [127.0.0.1]"); the remaining transactions are
 * logged deferred with dsn=4.4.1, or as cr says when the relay refused
 * the session for good (a 5xx greeting: reply).  tried: this attempt
 * reached for the network (else it was skipped on a relay already known
 * to be down). */
void deliver_unreachable(struct deliver_job *j, const char *why, bool tried,
    const struct classify_result *cr, const struct smtp_reply *reply);

/* What became of the message's recipients in this attempt (those not
 * tried count as deferred), for the daemon's counters and flush --wait;
 * status is the last deferral's or failure's words, "" when there is
 * none; mta_qids the relay's queue IDs of the transactions it accepted
 * (mtaqid.h; n_mta_qids of them, ", " between two), "" when it named
 * none in a form known.  Call before deliver_finish. */
struct deliver_outcome {
	size_t sent, failed, deferred;
	long long ctime;	/* T: when the message was queued */
	char status[300];
	char mta_qids[200];
	size_t n_mta_qids;
};

void deliver_outcome(const struct deliver_job *j, struct deliver_outcome *o);

/* deliver_return: instead of any transaction, return the message to its
 * sender now, with the notification sendmail makes for a message past
 * Timeout.queuereturn, but for status 5.4.7 (a decision, not a timeout
 * that might have been transient) and the time it really waited.  Each
 * recipient still queued is logged as sendmail's lines are, stat=
 * "Returned on request of <who>".  Call on a job just opened, then
 * deliver_finish; the commit is the usual one (deliver.h above), so a
 * crash mid-way neither loses the message nor returns it twice. */
void deliver_return(struct deliver_job *j, const char *who);

/* deliver_conclude: log what is not logged yet and commit, the
 * transactions not run counting as not accepted; true when the disk has
 * the outcome.  False: a write failed (deliver_unwritten); call it again
 * later to go on from that step, or deliver_finish to give up. */
bool deliver_conclude(struct deliver_job *j);

/* deliver_unwritten: the outcome is decided but a write of it failed. */
bool deliver_unwritten(const struct deliver_job *j);

/* deliver_finish: deliver_conclude (once more), then free the job; an
 * outcome still unwritten is given up, with a warning that says what
 * the file still says. */
enum deliver_result deliver_finish(struct deliver_job *j);
/* deliver_abandon: the running transaction was dropped before its final
 * "." (shutdown: smtp_abandon), so it counts as never tried: when no
 * transaction of the message ended before it, the file is left exactly
 * as it was (no try counted, nothing logged); otherwise as
 * deliver_finish.  Frees the job. */
enum deliver_result deliver_abandon(struct deliver_job *j);

#endif
