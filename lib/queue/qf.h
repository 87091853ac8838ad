/*
 * qf: sendmail's queue control files ("qf" files), version 6 (8.12) to 8
 * (8.13-8.18): an envelope model, a reader and a writer.
 *
 * Contract
 * --------
 * - qf_parse() takes the bytes of a control file and either builds a
 *   struct qf_envelope (QF_OK) or says why not: QF_EMPTY (a zero-length
 *   file: the placeholder a submitting sendmail holds locked),
 *   QF_INCOMPLETE (no final "." line: still being written, or cut short;
 *   skipped, never quarantined), or QF_REFUSED (the file is not something
 *   sendmail wrote: quarantine it).  Every non-OK result carries a reason
 *   and the line number in struct error.
 * - A control file is hostile input.  The reader refuses everything
 *   sendmail's readqf() refuses (a version above 8, an unknown record,
 *   data after ".", an F line beginning "From ", AUTH that is not xtext,
 *   a bad body type) and, being stricter, also: a version below 6 (older
 *   than the client queue), a missing V or S line, non-numeric T/K/N/P
 *   values, bad xtext in Z or Q, an R line with no ':' or no address,
 *   continuation lines after anything but an H line, a header line with no
 *   field name, NUL bytes, and anything over the size limits below.
 *   No input can make it read out of bounds or allocate more than a small
 *   multiple of QF_FILE_MAX.
 * - qf_format() writes a model in the record order of sendmail's
 *   queueup(), with sendmail's denlstring() treatment of newlines.  For any
 *   file real sendmail wrote, qf_format(qf_parse(file)) is byte-identical
 *   to the file (the test suite checks this on every fixture).
 *
 * The model is a plain struct because the render, DSN and requeue code
 * read and edit it directly; all its memory belongs to the envelope and is
 * released by qf_free().  Strings hold the record text exactly as in the
 * file (no decoding): header values keep their leading space, folded
 * continuation lines ("\n\t...") and sendmail's METAQUOTE bytes.
 */
#ifndef CQ_QF_H
#define CQ_QF_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"
#include "util/strbuf.h"

/* Limits.  sendmail writes header text of at most MaxHeadersLength (32 KiB
 * by default) and addresses of at most MAXNAME (256), so real files are far
 * below these; they exist so that a hostile file cannot exhaust memory. */
#define QF_LINE_MAX	(1024 * 1024)		/* one logical (folded) line */
#define QF_FILE_MAX	(32 * 1024 * 1024)	/* the whole control file */
#define QF_RCPT_MAX	100000
#define QF_HEADER_MAX	20000
#define QF_MACRO_MAX	1000

#define QF_VERSION_MIN	6	/* 8.12, which introduced the client queue */
#define QF_VERSION_MAX	8	/* 8.13 to 8.18 */

/* Envelope flags: the F line.  qf_format() writes them in queueup()'s order
 * (w r 8 b d n s e); unknown letters are dropped, as sendmail drops them. */
enum qf_eflag {
	QF_EF_WARNING = 1u << 0,	/* w: delay warning sent */
	QF_EF_RESPONSE = 1u << 1,	/* r: this is a DSN; MAIL FROM:<> */
	QF_EF_HAS8BIT = 1u << 2,	/* 8: body has 8-bit data */
	QF_EF_DELETE_BCC = 1u << 3,	/* b: delete Bcc: */
	QF_EF_RET_PARAM = 1u << 4,	/* d: RET= was given */
	QF_EF_NO_BODY_RETN = 1u << 5,	/* n: RET=HDRS */
	QF_EF_SPLIT = 1u << 6,		/* s: envelope was split */
	QF_EF_SMTPUTF8 = 1u << 7,	/* e: needs SMTPUTF8 */
};

/* Recipient flags: the letters between R and ':', written in queueup()'s
 * order (P N S F D B X A Y). */
enum qf_rflag {
	QF_RF_PRIMARY = 1u << 0,	/* P */
	QF_RF_HASNOTIFY = 1u << 1,	/* N: NOTIFY= was given */
	QF_RF_SUCCESS = 1u << 2,	/* S */
	QF_RF_FAILURE = 1u << 3,	/* F */
	QF_RF_DELAY = 1u << 4,		/* D */
	QF_RF_INTBCC = 1u << 5,		/* B: internal Bcc */
	QF_RF_MXSECURE = 1u << 6,	/* X (8.18) */
	QF_RF_ALIAS = 1u << 7,		/* A */
	QF_RF_DYNMAILER = 1u << 8,	/* Y */
};

struct qf_macro {
	char *name;	/* "r", or a long name with its braces: "{daemon_flags}" */
	char *value;
};

struct qf_rcpt {
	char *addr;		/* R line text after ':' */
	unsigned flags;		/* enum qf_rflag */
	char *ctladdr;		/* controlling user (C line text after 'C') in
				 * force for this recipient, or NULL */
	char *orcpt;		/* Q line before it, or NULL */
	char *final_rcpt;	/* r line before it, or NULL */
	char *status;		/* M line before it, or NULL */
};

struct qf_header {
	char *cond;	/* text between the ?s ("", "P", "$x", "${name}"), or
			 * NULL if the line had no ?...? part */
	char *name;	/* field name, without the colon */
	char *value;	/* everything after the colon, raw */
};

struct qf_envelope {
	int version;			/* V */
	long long ctime;		/* T: creation time */
	long long dtime;		/* K: last delivery attempt, 0 = never */
	long ntries;			/* N */
	long long priority;		/* P: lower runs first */
	char *df_dir;			/* d, or NULL */
	char *df_inode;			/* I, raw ("dev/dev/ino"), or NULL */
	char *bodytype;			/* B, or NULL */
	char *quarantine;		/* q, or NULL */
	char *status;			/* envelope M, or NULL */
	unsigned flags;			/* F: enum qf_eflag */
	struct qf_macro *macros;	/* $ lines, in file order */
	size_t nmacros;
	char *sender;			/* S, exactly as submitted */
	char *envid;			/* Z (xtext), or NULL */
	char *auth;			/* A (xtext), or NULL */
	bool has_deliver_by;		/* ! line present */
	unsigned char deliver_by_flag;	/* raw flag byte of the ! line */
	long long deliver_by;		/* seconds */
	struct qf_rcpt *rcpts;		/* undelivered recipients, in order */
	size_t nrcpts;
	struct qf_header *headers;	/* in message order */
	size_t nheaders;
};

enum qf_status {
	QF_OK = 0,
	QF_EMPTY,	/* zero bytes: a placeholder still held by its submitter */
	QF_INCOMPLETE,	/* no final "." line: skip and retry later */
	QF_REFUSED,	/* not a file sendmail would accept: quarantine */
};

/* Errors (util/error.h): line the 1-based physical line (0 if not about
 * a line), reason English on one line for the log, errnum the errno of
 * a read that failed (the file could not be read: spool_job_load). */

/* qf_parse: parse len bytes at data.  On QF_OK *out is a new envelope
 * (free with qf_free); otherwise *out is NULL and err says why.
 * err may be NULL. */
enum qf_status qf_parse(const char *data, size_t len,
    struct qf_envelope **out, struct error *err);

/* qf_format: append the control file for env to out, in sendmail's record
 * order.  Newlines in envelope values become spaces; in header values a
 * newline not followed by a space or tab becomes a space (denlstring()). */
void qf_format(const struct qf_envelope *env, struct strbuf *out);

void qf_free(struct qf_envelope *env);

/* qf_status_str: "ok", "empty", "incomplete", "refused". */
const char *qf_status_str(enum qf_status s);

/* qf_macro_get: the value of a saved macro ("r", "{daemon_flags}"), or
 * NULL. */
const char *qf_macro_get(const struct qf_envelope *env, const char *name);

/* qf_unquote: append the header text s with sendmail's METAQUOTE escaping
 * removed (0xFF before a byte in 0x80-0x9F or 0xFF marks it as data).
 * Bytes 0x80-0x9F that are not escaped are sendmail meta-characters (e.g.
 * the macro-expansion byte of Return-Path); they are copied unchanged and
 * counted in the return value so a caller can decide what to do. */
size_t qf_unquote(const char *s, struct strbuf *out);

#endif
