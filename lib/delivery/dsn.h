/*
 * dsn: delivery status notifications (RFC 3464) as sendmail's MSP makes
 * them: a bounce, a delay warning, a return receipt, a postmaster notice.
 *
 * Contract
 * --------
 * dsn_make is a pure function: from the message that could not be (or
 * was) delivered, the report on some of its recipients and a new queue
 * ID, it builds the new message as sendmail's returntosender() and
 * errbody() build it, split so that the caller can write it as a queue
 * entry without holding the original body in memory:
 * - env: the control file of the new message (F r, sender MAILER-DAEMON,
 *   one recipient, sendmail's header lines), ready for qf_format;
 * - the data file is head, then the original's data file (only when
 *   with_body), then tail.
 * The layout, wording and field order are sendmail's (savemail.c): the
 * human-readable part with its address lists and transcript, the
 * message/delivery-status part (Original-Envelope-Id, Reporting-MTA,
 * Arrival-Date; per recipient Original-Recipient, Final-Recipient,
 * X-Actual-Recipient, Action, Status, Remote-MTA, Diagnostic-Code,
 * Last-Attempt-Date; no Will-Retry-Until, which sendmail writes only for
 * a recipient never tried), and the original as message/rfc822 or
 * text/rfc822-headers.  The returned header block is the original's
 * headers as queued, written as sendmail's file mailer writes them into
 * the notification's data file (render.h with no domain: the headers its
 * flags select, no address qualified or masqueraded), with LF line ends
 * as in any data file.  The transcript is the session's (dsn_xscript)
 * when the caller kept it, else made from the reported recipients'
 * replies.  A failure reported to the postmaster because its sender
 * cannot be told (a notification, the null sender) is sendmail's
 * "Postmaster notify", naming the message's queue ID.
 *
 * Nothing here does I/O or reads the clock; dates come in as arguments.
 */
#ifndef CQ_DSN_H
#define CQ_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "queue/qf.h"
#include "delivery/render.h"
#include "util/strbuf.h"

enum dsn_kind {
	DSN_FAILURE,	/* "Returned mail: see transcript for details" */
	DSN_WARNING,	/* "Warning: could not send message for past ..." */
	DSN_RECEIPT,	/* "Return receipt" (NOTIFY=SUCCESS, relay without
			 * DSN) */
};

enum dsn_action {
	DSN_ACT_FAILED,
	DSN_ACT_DELAYED,
	DSN_ACT_RELAYED,	/* relayed (to non-DSN-aware mailer) */
};

/* One recipient of the report. */
struct dsn_rcpt {
	const struct qf_rcpt *rcpt;	/* in the parent */
	enum dsn_action action;
	const char *status;		/* "5.1.1" */
	const char *reply;		/* the relay's reply line, or NULL (no
					 * reply: connection failures) */
	const char *command;		/* the command it answered ("DATA" when
					 * pipelined), or NULL */
	const char *text;		/* sendmail's words for it: "User
					 * unknown", "Service unavailable", ...;
					 * NULL: none */
	bool remote_mta;		/* name the relay (Remote-MTA:) */
	time_t when;			/* Last-Attempt-Date */
};

struct dsn_config {
	const char *hostname;		/* $j */
	/* The session transcript of this run (dsn_xscript), or NULL: then
	 * one is made from the reported recipients' replies (a notification
	 * finished after a crash, whose run's session is gone). */
	const char *transcript;
	const char *program;		/* "clientq-runner 0.1", in Received: */
	const char *relay_host;		/* Remote-MTA ("[127.0.0.1]") */
	const char *mtatype;		/* the relay mailer's T= parts: "DNS" */
	const char *addrtype;		/* "RFC822" */
	const char *diagtype;		/* "SMTP" */
	long long warn_after;		/* Timeout.queuewarn, seconds */
	long long return_after;		/* Timeout.queuereturn, seconds */
	const struct render_opts *ropts;	/* the returned headers */
	const struct render_opts *env_opts;	/* recipient addresses */
};

struct dsn_message {
	struct qf_envelope *env;	/* the new control file */
	struct strbuf head;		/* the data file, before the body */
	bool with_body;			/* then the original's data file */
	struct strbuf tail;		/* then this */
	char summary[300];		/* for "<qid>: <newqid>: DSN: ..." */
};

/*
 * dsn_make: the notification about parent (queue ID parent_id) for the
 * n recipients r, to the address to (the parent's envelope sender; or
 * the postmaster for a failed notification: postmaster_copy), new queue
 * ID newid, made at now.  expired: the failure is Timeout.queuereturn's.
 * parent_ends_nl: the parent's data file ends with a newline (else one is
 * added after it, as sendmail's putbody does).
 */
void dsn_make(const struct dsn_config *cfg, const struct qf_envelope *parent,
    const char *parent_id, const struct dsn_rcpt *r, size_t n,
    enum dsn_kind kind, bool expired, const char *to, bool postmaster_copy,
    const char *newid, time_t now, bool parent_ends_nl, struct dsn_message *out);

void dsn_message_free(struct dsn_message *m);

/*
 * dsn_xscript: the transcript sendmail keeps of a delivery attempt (its
 * xscript) for a notification's "Transcript of session follows": every
 * error reply the relay gave, after "... while talking to <relay>:" (once)
 * and ">>> <command>" (the last command sent, once until another is sent:
 * with PIPELINING the RCPT replies are read after DATA went out, so they
 * follow ">>> DATA"), and the runner's own line for each outcome.
 */
struct dsn_xscript {
	struct strbuf text;
	bool intro;			/* "... while talking to" written */
	char *pending;			/* the last command sent, not written */
};

void dsn_xscript_sent(struct dsn_xscript *x, const char *command);
void dsn_xscript_reply(struct dsn_xscript *x, const char *relay, const char *reply);
void dsn_xscript_line(struct dsn_xscript *x, const char *line);
void dsn_xscript_free(struct dsn_xscript *x);

/* dsn_arpadate: sendmail's date format ("Wed, 5 Nov 2026 01:37:41 GMT",
 * or "... -0800 (PST)"), in the local time zone. */
void dsn_arpadate(time_t t, char *buf, size_t size);

/* dsn_interval: sendmail's long form of an interval ("4 hours", "5 days",
 * "1 week, 2 days"). */
void dsn_interval(long long secs, char *buf, size_t size);

/* dsn_wants_failure / dsn_wants_delay / dsn_wants_success: whether the
 * recipient asked for that notification (its NOTIFY= flags; without
 * NOTIFY=, FAILURE and DELAY). */
bool dsn_wants_failure(const struct qf_rcpt *r);
bool dsn_wants_delay(const struct qf_rcpt *r);
bool dsn_wants_success(const struct qf_rcpt *r);

/* dsn_may_warn: whether delay warnings may go to this envelope's sender
 * at all: not a notification itself, not already warned, a sender that
 * is not <>, owner-* or *-request, and a precedence class >= 0 (no
 * Precedence: list, bulk or junk). */
bool dsn_may_warn(const struct qf_envelope *env);

/* dsn_timeout_class: the precedence class's Timeout suffix, from the
 * Precedence: header as submit.cf's P lines rank it: "urgent"
 * (special-delivery), "non-urgent" (list, bulk, junk) or "normal". */
const char *dsn_timeout_class(const struct qf_envelope *env);

#endif
