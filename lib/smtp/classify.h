/*
 * classify: what a relay's answer means for one recipient, as sendmail's
 * runner decides it (usersmtp.c, savemail.c:smtptodsn()).
 *
 * Contract
 * --------
 * A pure function of where the transaction ended (smtp.h's phase), the
 * status and the reply that applies to the recipient (smtp_txn_outcome),
 * with no I/O and no clock: the table test is the specification.
 * - accepted (2xx at the final reply) -> SENT;
 * - a connection that could not be made, or broke, or timed out -> DEFERRED
 *   (4.4.1 for a connection never made, else 4.4.2), and after the final
 *   "." and before its reply the message may have been delivered: the
 *   result says so (the one place a duplicate is possible);
 * - 4xx anywhere -> DEFERRED; to the greeting or HELO always 4.5.0 (as
 *   sendmail reports it, whatever the reply's enhanced code);
 * - 5xx: to the greeting or HELO -> FAILED (always 5.5.0, "Service unavailable":
 *   sendmail bounces there); to MAIL: 501 and 553 "Data format error"
 *   (5.5.2, 5.1.3), 552 "Service unavailable" (5.3.4) with the body left
 *   out of the bounce, others "Service unavailable" (5.0.0); to RCPT: 550, 551, 553 "User unknown" (5.1.1,
 *   5.1.6, 5.1.3), others "Service unavailable"; to DATA or the final "."
 *   -> FAILED "Service unavailable"; to the RSET before a connection is
 *   reused -> DEFERRED (4.0.0: it says nothing about the message).
 * - STARTTLS and AUTH (the TLS policy, the credentials: this site's,
 *   never the message's) -> DEFERRED whatever the reply, the reply's
 *   enhanced code with its class made 4 (535 5.7.8 -> 4.7.8), 4.7.0 when
 *   there is none (a refusal of this side's, "454 4.7.0 TLS handshake
 *   failed." as sendmail words it); only a connection lost or timed out
 *   there is 4.4.2, as anywhere.
 * The DSN status is the reply's enhanced status code when it has one
 * (smtp.h keeps none from a relay that did not offer
 * ENHANCEDSTATUSCODES, as sendmail reads none), else sendmail's mapping
 * of the reply code.
 */
#ifndef CQ_CLASSIFY_H
#define CQ_CLASSIFY_H

#include <stdbool.h>

#include "smtp/smtp.h"

enum classify_action {
	CLASSIFY_SENT,
	CLASSIFY_DEFERRED,	/* stays queued, tried again later */
	CLASSIFY_FAILED,	/* permanent: a bounce where NOTIFY asks */
};

struct classify_result {
	enum classify_action action;
	char dsn[16];		/* "5.1.1" */
	/* sendmail's stat= for a failure ("User unknown"); for SENT and
	 * DEFERRED the caller writes "Sent (...)" / "Deferred: ...". */
	const char *stat;
	bool no_body;		/* 552 to MAIL: the bounce carries headers only */
	bool maybe_delivered;	/* lost between the final "." and its reply */
};

/* classify: reply may have code 0 (none was read). */
void classify(enum smtp_phase phase, enum smtp_status status,
    const struct smtp_reply *reply, struct classify_result *out);

/* classify_dsn_of_code: sendmail's smtptodsn(): the DSN status of a
 * reply code without an enhanced one (code < 0: no reply at all). */
const char *classify_dsn_of_code(int code);

const char *classify_action_str(enum classify_action a);

#endif
