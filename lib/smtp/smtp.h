/*
 * smtp: the ESMTP client side, as sendmail's relay mailer speaks it, as a
 * non-blocking state machine an event loop drives.
 *
 * Contract
 * --------
 * - One connection object per relay connection.  Nothing here blocks: the
 *   caller polls smtp_fd() for smtp_poll_events(), calls smtp_io() when the
 *   descriptor is ready or smtp_deadline() has passed, and acts on the
 *   event smtp_io() returns.  smtp_wait() is that loop for a caller with
 *   one connection and nothing else to watch.
 * - Every wait has a deadline: the RFC 5321 section 4.5.3.2 timeout of its
 *   phase (configurable as sendmail's Timeout.* options), restarted by each
 *   reply and by each block of the body written, so a silent or slow relay
 *   costs at most that long.  A session may also have a bound of its own
 *   (struct smtp_timeouts' total_ms, for a probe that must end soon): no
 *   wait then lasts past it, and a wait it cuts short ends as that
 *   phase's timeout would, in the same words.
 * - The commands are sendmail's, in sendmail's order: EHLO (HELO when EHLO
 *   gets a 5xx), RSET before a connection is reused, MAIL, every RCPT,
 *   DATA, the body, ".", QUIT.  With PIPELINING, RSET, MAIL, the RCPTs and
 *   DATA go out as one group (RFC 2920), and the body ends with the "." in
 *   the same write (TCP_NODELAY: the dot never waits on Nagle).  sendmail
 *   waits for the MAIL reply before the RCPTs; the command lines and their
 *   order are the same either way, and when MAIL is refused the relay
 *   answers the RCPTs 503 and decides nothing by them.  Without PIPELINING
 *   each command waits for its reply, and DATA is sent only when a
 *   recipient was accepted.
 * - Replies are bounded: a line over SMTP_LINE_MAX or a reply of more than
 *   SMTP_REPLY_LINES lines ends the connection as a protocol error, never
 *   costs memory.
 * - The body is pulled from the caller (struct smtp_txn's body callback)
 *   only while the socket takes it: memory is bounded by twice
 *   SMTP_WBUF_FLUSH plus one callback's output, whatever the message size.
 *   With PIPELINING the first SMTP_WBUF_FLUSH octets are pulled while the
 *   group is on its way, so that they follow the 354 at once; they are
 *   thrown away (never sent) when the relay refuses.
 * - Results are named (enum smtp_status, enum smtp_phase); what they mean
 *   for the queue file is the caller's business.
 * - STARTTLS (RFC 3207) and AUTH (RFC 4954), when smtp_secure gave them:
 *   after EHLO, STARTTLS if the relay offers it and the TLS policy
 *   (tls.h) wants it; the handshake runs in the same loop (POLLIN or
 *   POLLOUT as OpenSSL asks) under Timeout.starttls; once it is done the
 *   result is logged as sendmail logs it ("STARTTLS=client, relay=...,
 *   version=TLSv1.3, verify=OK, cipher=..., bits=256/256"), everything
 *   the relay said before is forgotten and EHLO goes again; then AUTH
 *   (auth.h) under Timeout.auth, never over a connection without TLS
 *   unless auth.cleartext says so.  What sendmail's MSP does is what the
 *   policy may does: a STARTTLS answered 4xx or 5xx goes on in clear, a
 *   failed handshake ends the session as "454 4.7.0 TLS handshake
 *   failed." (sendmail's words, and its tls_server ruleset's).  Every
 *   refusal by the policy or by AUTH ends the session with
 *   SMTP_EV_FAILED, smtp_setup_kind() SMTP_SETUP_TLS or SMTP_SETUP_AUTH,
 *   status SMTP_TEMPFAIL (never a bounce: the message is not at fault),
 *   and smtp_error() saying why in one line.  Plain connections take the
 *   same path as before, at the cost of one test per read and write.
 */
#ifndef CQ_SMTP_H
#define CQ_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include "smtp/auth.h"
#include "smtp/tls.h"
#include "util/error.h"
#include "util/strbuf.h"

#define SMTP_LINE_MAX 4096
#define SMTP_REPLY_LINES 1000
/* Body bytes are pulled until this much waits to be written. */
#define SMTP_WBUF_FLUSH (64 * 1024)

/* Extensions the relay offered in its EHLO reply. */
enum smtp_ext {
	SMTP_EXT_PIPELINING = 1u << 0,
	SMTP_EXT_SIZE = 1u << 1,
	SMTP_EXT_8BITMIME = 1u << 2,
	SMTP_EXT_DSN = 1u << 3,
	SMTP_EXT_SMTPUTF8 = 1u << 4,
	SMTP_EXT_ENHANCED = 1u << 5,
	SMTP_EXT_AUTH = 1u << 6,
	SMTP_EXT_DELIVERBY = 1u << 7,
	SMTP_EXT_STARTTLS = 1u << 8,
};

/* Per-phase timeouts in seconds (sendmail's Timeout.* options;
 * starttls covers the reply to STARTTLS and the handshake, auth each
 * reply of the AUTH exchange); total_ms bounds the whole session, from
 * smtp_open on, in milliseconds (0: no bound but the phases'). */
struct smtp_timeouts {
	int connect, initial, helo, mail, rcpt, datainit, datablock, datafinal,
	    rset, quit, starttls, auth;
	int total_ms;
};

/* smtp_timeouts_default: RFC 5321's (and sendmail's) values; no total. */
void smtp_timeouts_default(struct smtp_timeouts *t);

enum smtp_status {
	SMTP_OK = 0,
	SMTP_TEMPFAIL,		/* 4xx, or the connection failed: defer */
	SMTP_PERMFAIL,		/* 5xx */
	SMTP_IOERR,		/* lost, timed out or garbled: defer */
};

/* Where a session or transaction stood when it ended. */
enum smtp_phase {
	SMTP_PHASE_CONNECT,
	SMTP_PHASE_GREETING,
	SMTP_PHASE_HELO,
	SMTP_PHASE_STARTTLS,	/* the reply to STARTTLS, the handshake */
	SMTP_PHASE_AUTH,
	SMTP_PHASE_RSET,
	SMTP_PHASE_MAIL,
	SMTP_PHASE_RCPT,
	SMTP_PHASE_DATA,	/* the reply to DATA */
	SMTP_PHASE_BODY,	/* writing the message */
	SMTP_PHASE_DOT,		/* the reply to the final "." */
	SMTP_PHASE_QUIT,
};

const char *smtp_phase_str(enum smtp_phase p);

struct smtp_reply {
	int code;		/* 0 when no reply was read */
	char enhanced[16];	/* "2.0.0", or "" when the relay sent none */
	char text[512];		/* the last line after code and enhanced
				 * code, for "stat=Sent (...)" */
	char full[600];		/* the whole last line, for reply= */
	bool timed_out;		/* code 0: the wait for it timed out (full
				 * says so in sendmail's words) */
};

struct smtp_rcpt_result {
	enum smtp_status status;
	struct smtp_reply reply;	/* code 0: no reply was read */
};

/* What the body callback says. */
enum smtp_body {
	SMTP_BODY_MORE,		/* appended some; call again */
	SMTP_BODY_END,		/* appended the last of it (maybe nothing) */
	SMTP_BODY_ERROR,	/* cannot go on: the connection is dropped
				 * without the ".", so no truncated message
				 * is ever delivered */
};

/*
 * A transaction: MAIL, the RCPTs, DATA, the body.  The caller owns it and
 * keeps it (and what it points to) alive until SMTP_EV_TXN_DONE.
 */
struct smtp_txn {
	/* In. */
	const char *mail_cmd;		/* command lines without CRLF */
	const char *const *rcpt_cmds;
	size_t nrcpt;
	long long size;			/* the SIZE= estimate; over the
					 * relay's SIZE limit the
					 * transaction ends at once, nothing
					 * sent, as "552 5.2.3 Message is
					 * too large; N bytes max" (as
					 * sendmail's smtpmailfrom) */
	/* Append rendered (CRLF, dot-stuffed) body bytes to out, starting
	 * with the header block; the "." is smtp's. */
	enum smtp_body (*body)(void *arg, struct strbuf *out);
	void *body_arg;
	struct smtp_rcpt_result *rcpt;	/* nrcpt of them, filled in */
	/* No DATA, ever (clientqctl verify): MAIL, the RCPTs, then RSET in
	 * its place (in the same group with PIPELINING); the recipients'
	 * replies are the result, body and size are not used, and status
	 * and reply say only whether MAIL (or RSET before it) was refused.
	 * The connection is idle afterwards (not reused when the closing
	 * RSET was refused). */
	bool no_data;

	/* Out. */
	enum smtp_status status;	/* SMTP_OK: the final "." was accepted
					 * for the accepted recipients, or no
					 * recipient was accepted */
	enum smtp_phase phase;		/* where it ended */
	struct smtp_reply reply;	/* the reply that ended it: the final
					 * one, or the refusal */
	size_t accepted;		/* recipients the relay accepted */
	struct smtp_reply data_reply;	/* with PIPELINING and no recipient
					 * accepted: the reply to the DATA
					 * that went out with them (code 0:
					 * none) */
};

/* smtp_txn_outcome: what happened to recipient i: its own refusal, else
 * the transaction's result.  *reply points into t. */
enum smtp_status smtp_txn_outcome(const struct smtp_txn *t, size_t i,
    const struct smtp_reply **reply);
/* smtp_txn_outcome_phase: the phase that reply answered (RCPT for a
 * recipient's own refusal, else where the transaction ended). */
enum smtp_phase smtp_txn_outcome_phase(const struct smtp_txn *t, size_t i);

/* What smtp_io() reports. */
enum smtp_event {
	SMTP_EV_NONE,		/* nothing for the caller yet */
	SMTP_EV_READY,		/* greeted and EHLO done: submit a transaction */
	SMTP_EV_TXN_DONE,	/* the transaction ended: read its results;
				 * then smtp_usable() says whether the
				 * connection takes another */
	SMTP_EV_FAILED,		/* no transaction running, and the
				 * connection could not be set up or broke;
				 * smtp_error(), smtp_setup_status() */
	SMTP_EV_CLOSED,		/* QUIT answered (or it did not matter) */
};

struct smtp_conn;

/* smtp_open: start connecting to ip:port (numeric address).  NULL only
 * when no socket could be made (err says why); connection failures are
 * reported by smtp_io() as SMTP_EV_FAILED. */
struct smtp_conn *smtp_open(const char *ip, int port, const char *helo_name,
    const struct smtp_timeouts *t, struct error *err);

/*
 * smtp_secure: STARTTLS and AUTH for this connection, before the first
 * smtp_io.  What s points to must outlive the connection; s itself is
 * copied.
 */
struct smtp_security {
	struct tls_client *tls;		/* NULL: no STARTTLS (policy none) */
	const char *tls_name;		/* the relay's name for the
					 * certificate check and SNI (no
					 * brackets); NULL: its address */
	const struct auth_client *auth;	/* NULL: no AUTH */
	const char *relay;		/* for the log lines ("[127.0.0.1]",
					 * "mailhub.example"); NULL: "[ip]" */
};

void smtp_secure(struct smtp_conn *c, const struct smtp_security *s);

/* Why a session could not be set up (SMTP_EV_FAILED). */
enum smtp_setup_kind {
	SMTP_SETUP_CONNECTION,	/* no connection, lost, timed out, or a
				 * refusal of the greeting or EHLO */
	SMTP_SETUP_TLS,		/* STARTTLS or the TLS policy: the relay is
				 * there, but not as the policy wants it */
	SMTP_SETUP_AUTH,	/* AUTH refused, or impossible */
};

enum smtp_setup_kind smtp_setup_kind(const struct smtp_conn *c);
/* What the kind means for the relay, as the relay-down log lines say it
 * ("relay [127.0.0.1]:25 unreachable: ..."): "unreachable", "without TLS
 * as tls.policy wants it", "without AUTH". */
const char *smtp_setup_kind_str(enum smtp_setup_kind k);
/* smtp_tls_active: the session runs over TLS now. */
bool smtp_tls_active(const struct smtp_conn *c);
/* smtp_tls_error: the last TLS failure in words, as it was logged
 * ("certificate verify failed: ..."); "" when there was none. */
const char *smtp_tls_error(const struct smtp_conn *c);
/* smtp_tls_info: what the handshake gave (tls.h: version, cipher,
 * verify=...), as the STARTTLS=client line logs it; false, info
 * untouched, when the session is not over TLS. */
bool smtp_tls_info(const struct smtp_conn *c, struct tls_info *info);
/* smtp_authenticated: the mechanism AUTH succeeded with on this session
 * ("PLAIN"); NULL when it did not (not configured, not offered, or not
 * yet). */
const char *smtp_authenticated(const struct smtp_conn *c);
/* smtp_greeting: the relay's greeting, its last line (code 0 before it
 * came). */
const struct smtp_reply *smtp_greeting(const struct smtp_conn *c);

int smtp_fd(const struct smtp_conn *c);
/* POLLIN and/or POLLOUT as the connection needs them now. */
short smtp_poll_events(const struct smtp_conn *c);
/* When smtp_io() must be called even without an event (monotime_ms's
 * clock); -1 for none. */
long long smtp_deadline(const struct smtp_conn *c);
/* Advance: read, write, check the deadline.  revents may be 0. */
enum smtp_event smtp_io(struct smtp_conn *c, short revents);
/* Poll this one connection until smtp_io() reports an event. */
enum smtp_event smtp_wait(struct smtp_conn *c);
/* The same, calling before_poll (when not NULL) before each wait: work
 * of the caller's that can run while the relay works. */
enum smtp_event smtp_wait_with(struct smtp_conn *c,
    void (*before_poll)(void *arg, const struct smtp_conn *c), void *arg);

/* smtp_submit: start a transaction on an idle (READY) connection;
 * false (nothing started) otherwise. */
bool smtp_submit(struct smtp_conn *c, struct smtp_txn *t);
/* smtp_quit: send QUIT from idle; SMTP_EV_CLOSED follows.  On a
 * connection that is not usable, CLOSED follows at once. */
void smtp_quit(struct smtp_conn *c);
/* smtp_free: close the socket and free; NULL is fine. */
/* smtp_abandon: stop now (shutdown).  A transaction whose final "." has
 * not been queued, or a session still being set up, is dropped by closing
 * the connection (CLOSED: only smtp_free remains; the transaction's
 * results are not to be read, the caller forgets it); an idle connection
 * gets QUIT (QUITTING: SMTP_EV_CLOSED follows).  WAIT: the "." is out, so
 * the relay may already have the message: the caller waits for the reply
 * (SMTP_EV_TXN_DONE) as usual. */
enum smtp_abandon {
	SMTP_ABANDON_CLOSED,
	SMTP_ABANDON_QUITTING,
	SMTP_ABANDON_WAIT,
};
enum smtp_abandon smtp_abandon(struct smtp_conn *c);
void smtp_free(struct smtp_conn *c);

bool smtp_usable(const struct smtp_conn *c);	/* idle, may take a txn */
/* The phase whose reply (or write) the connection waits for now; for a
 * caller that schedules its own work around the relay's. */
enum smtp_phase smtp_awaiting(const struct smtp_conn *c);
unsigned smtp_extensions(const struct smtp_conn *c);
long long smtp_size_limit(const struct smtp_conn *c);	/* 0: none given */
/* Why the connection failed (sendmail's wording where it has one:
 * "Connection refused by [127.0.0.1]"), and the status and reply then
 * (reply->code 0 when none was read). */
const char *smtp_error(const struct smtp_conn *c);
enum smtp_status smtp_setup_status(const struct smtp_conn *c,
    const struct smtp_reply **reply);

/* smtp_parse_reply_line: parse one reply line ("250-text", "250 2.0.0
 * text"); the code, whether it is the last line, and fill reply.  False
 * for a line that is not a reply.  Exposed for tests and fuzzing. */
bool smtp_parse_reply_line(const char *line, bool *last,
    struct smtp_reply *reply);

#endif
