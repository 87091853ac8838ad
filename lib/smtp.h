/*
 * smtp: the ESMTP client side, as sendmail's relay mailer speaks it.
 *
 * Contract
 * --------
 * - One connection object per relay connection.  The socket is
 *   non-blocking; every wait is a poll() bounded by the timeout of its
 *   phase (RFC 5321 section 4.5.3.2 defaults, configurable), so a silent
 *   or slow relay costs at most that long and never hangs the runner.
 * - The dialogue is sendmail's: EHLO (HELO when EHLO gets a 5xx), MAIL
 *   alone, then with PIPELINING every RCPT and DATA in one write, the
 *   replies read in order, the body, and the final "." in the same write as
 *   the end of the body (TCP_NODELAY: the dot never waits on Nagle); RSET
 *   before a connection is reused; QUIT.
 * - Replies are bounded: a line over SMTP_LINE_MAX or a reply of more than
 *   SMTP_REPLY_LINES lines is a protocol error, not a memory hazard.
 * - Results are named (enum smtp_status); the caller decides what they
 *   mean for the queue file.
 */
#ifndef CQ_SMTP_H
#define CQ_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include "strbuf.h"

#define SMTP_LINE_MAX 4096
#define SMTP_REPLY_LINES 1000

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

/* Per-phase timeouts in seconds (sendmail's Timeout.* options). */
struct smtp_timeouts {
	int connect, initial, helo, mail, rcpt, datainit, datablock, datafinal,
	    rset, quit;
};

void smtp_timeouts_default(struct smtp_timeouts *t);

enum smtp_status {
	SMTP_OK = 0,
	SMTP_TEMPFAIL,		/* 4xx, or the connection failed: defer */
	SMTP_PERMFAIL,		/* 5xx */
	SMTP_IOERR,		/* lost, timed out or garbled: defer */
};

struct smtp_reply {
	int code;		/* 0 when no reply was read */
	char enhanced[16];	/* "2.0.0", or "" when the relay sent none */
	char text[512];		/* the last line after code and enhanced
				 * code, for "stat=Sent (...)" */
	char full[600];		/* the whole last line, for reply= */
};

struct smtp_conn;

/* smtp_connect: connect to ip:port (numeric) and read the greeting, then
 * EHLO/HELO as helo_name.  NULL and *st/reply/err on failure. */
struct smtp_conn *smtp_connect(const char *ip, int port, const char *helo_name,
    const struct smtp_timeouts *t, enum smtp_status *st,
    struct smtp_reply *reply, char *err, size_t errlen);

unsigned smtp_extensions(const struct smtp_conn *c);
long long smtp_size_limit(const struct smtp_conn *c);	/* 0: none given */

/* A transaction: MAIL, the RCPTs (each with its own reply), DATA. */
struct smtp_rcpt_result {
	enum smtp_status status;
	struct smtp_reply reply;
};

/* smtp_begin: send MAIL (and wait), then every RCPT and DATA (pipelined
 * when offered).  On SMTP_OK, rcpt_results[i] holds each recipient's
 * outcome and *accepted how many were accepted; when accepted > 0 the
 * relay is waiting for the body (354 was received).  mail_args and
 * rcpt_args are the full command lines without CRLF. */
enum smtp_status smtp_begin(struct smtp_conn *c, const char *mail_cmd,
    const char *const *rcpt_cmds, size_t nrcpt,
    struct smtp_rcpt_result *rcpt_results, size_t *accepted,
    struct smtp_reply *reply);

/* smtp_send_data: write rendered body bytes (already dot-stuffed CRLF
 * text); buffered, written when large enough. */
enum smtp_status smtp_send_data(struct smtp_conn *c, const char *p, size_t n);

/* smtp_end_data: write what is buffered plus ".\r\n" and read the final
 * reply. */
enum smtp_status smtp_end_data(struct smtp_conn *c, struct smtp_reply *reply);

/* smtp_abort: after smtp_begin without accepted recipients: RSET. */
enum smtp_status smtp_rset(struct smtp_conn *c, struct smtp_reply *reply);

/* smtp_close: QUIT (when the connection is usable) and free. */
void smtp_close(struct smtp_conn *c);

const char *smtp_status_str(enum smtp_status s);

/* smtp_parse_reply_line: parse one reply line ("250-text", "250 2.0.0
 * text"); the code, whether it is the last line, and fill reply.  False
 * for a line that is not a reply.  Exposed for tests and fuzzing. */
bool smtp_parse_reply_line(const char *line, bool *last,
    struct smtp_reply *reply);

#endif
