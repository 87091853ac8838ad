/*
 * ctl: the control protocol between clientqctl and clientq-runner.
 *
 * Contract
 * --------
 * One request per connection, then the reply, then the daemon closes.
 *
 *   request = "CLIENTQ/1" 1*(SP word) LF       at most CTL_REQUEST_MAX
 *                                               octets, LF included
 *   word    = the command, then key=value arguments; each word is
 *             xtext (RFC 3461: octets outside '!'..'~', and '+' and '=',
 *             as "+XX"), except the one '=' between key and value
 *   reply   = *(("D" / "P") SP text LF) status SP text LF
 *   status  = "OK" / "NO" / "BAD" / "TRY"
 *
 * "D" lines are the output (a listing, statistics), "P" lines progress
 * (flush --wait: "P <queue ID> <outcome> <text>").  The status line ends
 * the reply: OK done, NO refused (not allowed, or no such message), BAD
 * a malformed or unknown request, TRY try again later (busy, rate
 * limited); clientqctl exits 0, 1, 2 or 75 for them.  A request whose
 * first word is not CLIENTQ/1 is answered "BAD" naming the version the
 * daemon speaks, so a newer client can tell.
 *
 * Parsing is pure (no I/O) and bounded: hostile input gets CTL_PARSE_BAD
 * and a reason, never more than CTL_REQUEST_MAX octets of memory.
 */
#ifndef CQ_CTL_H
#define CQ_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "util/strbuf.h"

#define CTL_VERSION "CLIENTQ/1"
/* Sized for the largest request, a verify of VERIFY_MAX_ADDRS (100)
 * addresses of up to 254 octets each: 32 KiB per connection at most,
 * 8 MiB for CONTROL_MAX_CONN connections. */
#define CTL_REQUEST_MAX 32768
#define CTL_ARGS_MAX 128
/* The default socket; configure's --with-control-socket changes it. */
#ifndef CTL_DEFAULT_SOCKET
#define CTL_DEFAULT_SOCKET "/run/sendmail-clientq/control"
#endif

enum ctl_status {
	CTL_OK,
	CTL_NO,		/* refused */
	CTL_BAD,	/* malformed or unknown */
	CTL_TRY,	/* temporary */
};

struct ctl_arg {
	char *key;
	char *value;	/* "" for a bare key */
};

struct ctl_request {
	char *command;
	struct ctl_arg args[CTL_ARGS_MAX];
	size_t nargs;
	char *storage;	/* everything above points into it */
};

enum ctl_parse {
	CTL_PARSE_OK,
	CTL_PARSE_BAD,		/* see reason */
	CTL_PARSE_VERSION,	/* another protocol version */
};

/* ctl_parse_request: line is len octets without the LF (and must not
 * contain one).  On CTL_PARSE_OK *rq is filled (ctl_request_free). */
enum ctl_parse ctl_parse_request(const char *line, size_t len,
    struct ctl_request *rq, char *reason, size_t reason_size);
void ctl_request_free(struct ctl_request *rq);

/* ctl_get: the value of key, or NULL.  ctl_get_next: the next one after
 * position *pos (start with 0), for keys given more than once. */
const char *ctl_get(const struct ctl_request *rq, const char *key);
const char *ctl_get_next(const struct ctl_request *rq, const char *key,
    size_t *pos);

/* Building a request: ctl_request_start, then ctl_request_add per
 * argument (value NULL: a bare key), then ctl_request_end (the LF). */
void ctl_request_start(struct strbuf *sb, const char *command);
void ctl_request_add(struct strbuf *sb, const char *key, const char *value);
void ctl_request_end(struct strbuf *sb);

/* Status words and what clientqctl exits with for each. */
const char *ctl_status_word(enum ctl_status st);
int ctl_status_exit(enum ctl_status st);

enum ctl_line {
	CTL_LINE_DATA,		/* "D" */
	CTL_LINE_PROGRESS,	/* "P" */
	CTL_LINE_STATUS,	/* the last line; *st says which */
	CTL_LINE_BAD,
};

/* ctl_parse_reply_line: classify one reply line (without its LF); *text
 * points into line, after the word and its space. */
enum ctl_line ctl_parse_reply_line(const char *line, enum ctl_status *st,
    const char **text);

#endif
