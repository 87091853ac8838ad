/*
 * trace: one message's story, gathered from the logs: the client queue's
 * lines for its queue ID and the MTA's lines for the queue ID the MTA
 * gave it (`clientqctl trace`).
 *
 * Contract
 * --------
 * - A trace is built for one client-queue ID (qid.h's form) and read in
 *   two passes, because the MTA's first lines (Postfix's smtpd and
 *   cleanup, sendmail's daemon) come before the runner's Sent line that
 *   names the MTA's ID:
 *     1. the client queue's lines: a journal entry with QUEUE_ID=QID (the
 *        field log.h writes), or any line whose text begins with "QID: "
 *        (sendmail's submission and its own runner log so, without
 *        fields).  A Sent line teaches the MTA's queue ID: its
 *        MTA_QUEUE_ID field, else mtaqid_parse of the text in
 *        "stat=Sent (...)".  At most TRACE_MTA_IDS of them are kept;
 *     2. the MTA's lines: those whose text begins with one of those IDs
 *        and ": " (Postfix, sendmail and OpenSMTPD all log so; Exim's
 *        "ID <= ..." form, ID and a space, is taken too).
 * - Sources: syslog files (trace_read_file; rsyslog's RFC 3339 stamps,
 *   the traditional "Mmm dd hh:mm:ss[.frac]" with or without a host
 *   name, an optional "<PRI>" prefix as a raw datagram has it), and the
 *   journal through sd-journal where the build has libsystemd
 *   (trace_read_journal).  A traditional stamp has no year: the one that
 *   puts it nearest before `now` (plus a day) is taken, in local time.
 * - Lines are kept in full (cut at TRACE_LINE_MAX), control characters
 *   shown as '?', and given back by trace_sort in time order; lines of
 *   the same time keep the order of their source: a file's lines its own
 *   order (a syslog file is written in the order lines come), files in
 *   the order given, the journal's entries as it gives them (by time);
 *   both sides of one file keep their places among each other, whichever
 *   pass found them.  Most syslog files stamp whole seconds: lines of one
 *   second from two files come out file by file, not in their true
 *   order (one file holding both logs, or the journal, gives it).
 * - Bounded: at most TRACE_MAX_LINES lines are kept (the rest counted in
 *   dropped).  Errors go to why; nothing is logged; no state outside the
 *   struct.
 */
#ifndef CQ_TRACE_H
#define CQ_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "queue/qid.h"
#include "smtp/mtaqid.h"
#include "util/error.h"

#define TRACE_MTA_IDS 8
#define TRACE_MAX_LINES 100000
#define TRACE_LINE_MAX 8192

enum trace_side { TRACE_CLIENT, TRACE_MTA };

struct trace_line {
	long long usec;		/* since the epoch */
	bool fine;		/* the stamp had a fraction of a second */
	enum trace_side side;
	unsigned long long seq;	/* where it was read, for ties */
	char *tag;		/* "sm-msp-queue[1234]", "postfix/smtpd[7]" */
	char *text;
};

struct trace {
	char qid[QID_MAX_LEN + 1];
	char mta_ids[TRACE_MTA_IDS][MTAQID_MAX + 1];
	size_t n_mta_ids;
	struct trace_line *lines;
	size_t n, cap, dropped;
	size_t n_client, n_mta;	/* lines of each side */
};

/* One line of a syslog file, split; pointers into the line given. */
struct trace_syslog {
	long long usec;
	bool fine;
	const char *tag;
	size_t taglen;
	const char *text;
};

/* trace_init: an empty trace for qid (valid: qid_valid). */
void trace_init(struct trace *t, const char *qid);
void trace_free(struct trace *t);

/* trace_syslog_parse: line (no newline) as a syslog line, its traditional
 * stamp's year resolved near now; false for a line of another shape. */
bool trace_syslog_parse(const char *line, time_t now, struct trace_syslog *out);

/* trace_learn: text (and mta_field, the entry's MTA_QUEUE_ID or NULL),
 * a client-queue line, may name the MTA's queue ID: keep it.  Returns
 * whether a new ID was learnt. */
bool trace_learn(struct trace *t, const char *text, const char *mta_field);

/* trace_side_of: whose line text is, for pass 1 (client only) or pass 2
 * (MTA only, by the IDs learnt); -1 for neither. */
int trace_side_of(const struct trace *t, const char *text, int pass);

/* trace_add: keep one line. */
void trace_add(struct trace *t, long long usec, bool fine, enum trace_side side,
    const char *tag, size_t taglen, const char *text);

/* trace_sort: the lines in time order (stable). */
void trace_sort(struct trace *t);

/* trace_read_file: one pass (1 or 2) over the syslog file path, the
 * fileno'th given (for the order of ties).  False, and why in err (its
 * errnum EACCES for a file the caller may not read), when it cannot be
 * read. */
bool trace_read_file(struct trace *t, const char *path, unsigned fileno, int pass, time_t now,
    struct error *err);

/* trace_read_journal: both passes over the journal (local entries, what
 * the caller may read).  False and why when the build has no libsystemd
 * or the journal cannot be opened; *none set when it has no files the
 * caller can read at all. */
bool trace_read_journal(struct trace *t, bool *none, struct error *why);

/* trace_format_time: "2026-12-05 11:35:52.123456" (local time; the
 * fraction only for a fine stamp). */
void trace_format_time(long long usec, bool fine, char *buf, size_t size);

#endif
