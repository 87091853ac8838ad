/*
 * log: the runner's log lines, to the journal, syslog or standard error.
 *
 * Contract
 * --------
 * - One destination, chosen once by log_init:
 *   - the journal, with structured fields, when standard error is the
 *     journal's stream (JOURNAL_STREAM names its device and inode, as
 *     systemd sets it for a service) and the build has libsystemd;
 *   - syslog(3), facility mail, when asked (--syslog; the BSDs, rc.d);
 *   - otherwise standard error, one write per line with a "<N>" priority
 *     prefix (what the journal reads from a service's stderr), tagged like
 *     sendmail's syslog lines: "<6>sm-msp-queue[1234]: 6AOMct2T003760: ...".
 * - The text is the same everywhere: sendmail's format, built by the
 *   caller; in the journal it is MESSAGE, beside PRIORITY,
 *   SYSLOG_IDENTIFIER (the tag, sendmail's -L), SYSLOG_PID,
 *   SYSLOG_FACILITY (2, mail) and the caller's fields.  A line that begins
 *   with a queue ID and ": " gets QUEUE_ID as well.
 * - A line the journal refuses goes to standard error instead, and so does
 *   every line when the journal's socket is missing at start: nothing is
 *   dropped silently.  Lines are cut at LOG_LINE_MAX, as syslog cuts.
 * - One call is one line: a control character in the text (from a file
 *   name in the queue, a queue file's value, a relay's reply) is written
 *   as '?', so that no one can forge a line.
 */
#ifndef CQ_LOG_H
#define CQ_LOG_H

#include <stddef.h>

#define LOG_LINE_MAX 4096
#define LOG_FIELDS_MAX 16

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARNING = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
};

enum log_dest {
	LOG_DEST_AUTO,		/* the journal when stderr is it, else stderr */
	LOG_DEST_SYSLOG,
};

/* A structured field: NAME (upper case, digits, '_') = value. */
struct log_field {
	const char *name;
	const char *value;
};

/* MESSAGE_IDs of the events a catalog explains (journalctl -x). */
#define LOG_MID_RELAY_DOWN "a68690c071c741229991a840b00e2525"
#define LOG_MID_RELAY_BACK "fcc5c8d566724aa0ac214d69be006302"
#define LOG_MID_QUARANTINED "f67862351f7a487f990107d1911dc368"
#define LOG_MID_DSN_QUEUED "82a696dd95194eb1842003aa065b0d98"
/* STARTTLS and AUTH (smtp.c): the session went over to TLS, or could
 * not; AUTH succeeded, or the relay refused it. */
#define LOG_MID_STARTTLS "3850f986ae454b3abfc5607c51d442e4"
#define LOG_MID_STARTTLS_FAILED "8c07192729f14d0eb8eb40e777b5a7b5"
#define LOG_MID_AUTH "60524c79b45c49998d65c2f1c1c6927a"
#define LOG_MID_AUTH_FAILED "859c4c1bf1bf443b9f2f60680c57908a"
/* The daemon's breaker opened because the TLS policy or AUTH refused the
 * relay (it is there, but cannot be used as configured). */
#define LOG_MID_RELAY_TLS "bb59956635a24133bb7e48ab26cc628f"
#define LOG_MID_RELAY_AUTH "c0f1ecd86d094030990ca9a76b91f6dd"

/* log_init: the tag (sendmail's -L; default "sm-msp-queue") and the
 * destination.  May be called again (after daemonizing, say). */
void log_init(const char *tag, enum log_dest dest);

/* log_sink_missing: what the chosen destination lacks at this moment, as
 * a path ("/dev/log" when syslog is chosen and nothing listens there:
 * syslog(3) then drops every line without a word), or NULL when the
 * lines can go where log_init sent them (stderr and the journal always
 * can: a missing journal falls back to stderr).  For a warning at start,
 * while standard error still reaches someone. */
const char *log_sink_missing(void);

void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* log_fields: log_msg with up to LOG_FIELDS_MAX structured fields (only
 * the journal keeps them; a NULL value is left out). */
void log_fields(enum log_level lvl, const struct log_field *f, size_t n,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* log_interval: sendmail's brief interval ("00:00:05", "2+03:04:05"). */
void log_interval(long long secs, char *buf, unsigned size);

#endif
