#include "config.h"

#include "queue/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
/* CODE_FILE=lib/queue/log.c on every entry would say nothing. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>
#endif

/* sd_journal_sendv succeeds silently when this is missing (libsystemd's
 * choice), so its presence is checked once, at start. */
#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"

#include "queue/qid.h"

/* Where the lines go, as log_init chose. */
enum log_sink {
	LOG_SINK_STDERR,
	LOG_SINK_JOURNAL,
	LOG_SINK_SYSLOG,
};

static char log_tag[64] = "sm-msp-queue";
static enum log_sink log_sink = LOG_SINK_STDERR;

#ifdef HAVE_LIBSYSTEMD
/* Standard error is the journal's stream when JOURNAL_STREAM names its
 * device and inode (systemd.exec(5)). */
static int
log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (e == NULL || sscanf(e, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}
#endif

void
log_init(const char *tag, enum log_dest dest)
{
	if (tag != NULL && *tag != '\0')
		snprintf(log_tag, sizeof log_tag, "%s", tag);
	if (log_sink == LOG_SINK_SYSLOG)
		closelog();
	log_sink = LOG_SINK_STDERR;
	if (dest == LOG_DEST_SYSLOG) {
		/* LOG_NDELAY: the socket is opened now, while /dev/log can
		 * still be reached (before a chroot or a sandbox). */
		openlog(log_tag, LOG_PID | LOG_NDELAY, LOG_MAIL);
		log_sink = LOG_SINK_SYSLOG;
	}
#ifdef HAVE_LIBSYSTEMD
	else if (log_stderr_is_journal() && access(LOG_JOURNAL_SOCKET, F_OK) == 0)
		log_sink = LOG_SINK_JOURNAL;
#endif
}

/* Where syslog(3) sends: <syslog.h> names it on glibc and the BSDs. */
#ifndef _PATH_LOG
#define _PATH_LOG "/dev/log"
#endif

const char *
log_sink_missing(void)
{
	struct stat st;

	if (log_sink != LOG_SINK_SYSLOG)
		return NULL;
	/* stat, not lstat: /dev/log is often a link to the journal's or a
	 * syslogd's socket elsewhere. */
	if (stat(_PATH_LOG, &st) == 0 && S_ISSOCK(st.st_mode))
		return NULL;
	return _PATH_LOG;
}

static void
log_stderr(enum log_level lvl, const char *text)
{
	char line[LOG_LINE_MAX + 100];
	int n;

	n = snprintf(line, sizeof line - 1, "<%d>%s[%ld]: %s", (int)lvl, log_tag,
	    (long)getpid(), text);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	/* One write per line, so lines from concurrent runs never mix (and
	 * no stdio: it would probe the descriptor on every call). */
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

#ifdef HAVE_LIBSYSTEMD
/* The fields of one journal entry, formatted into one area. */
struct log_entry {
	char area[3 * LOG_LINE_MAX];
	size_t used;
	struct iovec iov[LOG_FIELDS_MAX + 6];
	size_t n;
};

static void
log_add(struct log_entry *e, const char *name, const char *value)
{
	size_t room = sizeof e->area - e->used;
	int len;

	if (e->n == sizeof e->iov / sizeof e->iov[0] || room < 2)
		return;
	len = snprintf(e->area + e->used, room, "%s=%s", name, value);
	if (len < 0)
		return;
	if ((size_t)len >= room)
		len = (int)room - 1;	/* cut, as syslog cuts */
	e->iov[e->n].iov_base = e->area + e->used;
	e->iov[e->n++].iov_len = (size_t)len;
	e->used += (size_t)len + 1;
}

/* One journal entry: the standard fields, QUEUE_ID, the caller's,
 * MESSAGE. */
static int
log_journal(enum log_level lvl, const char *text, const struct log_field *f, size_t n)
{
	static struct log_entry e;	/* one thread; keeps 12 KiB off the stack */
	const char *colon = strstr(text, ": ");
	char num[32], qid[QID_MAX_LEN + 1];
	size_t i;

	e.used = e.n = 0;
	snprintf(num, sizeof num, "%d", (int)lvl);
	log_add(&e, "PRIORITY", num);
	log_add(&e, "SYSLOG_IDENTIFIER", log_tag);
	snprintf(num, sizeof num, "%ld", (long)getpid());
	log_add(&e, "SYSLOG_PID", num);
	log_add(&e, "SYSLOG_FACILITY", "2");
	if (colon != NULL && (size_t)(colon - text) <= QID_MAX_LEN) {
		memcpy(qid, text, (size_t)(colon - text));
		qid[colon - text] = '\0';
		if (qid_valid(qid))
			log_add(&e, "QUEUE_ID", qid);
	}
	log_add(&e, "MESSAGE", text);
	for (i = 0; i < n && i < LOG_FIELDS_MAX; i++)
		if (f[i].value != NULL)
			log_add(&e, f[i].name, f[i].value);
	return sd_journal_sendv(e.iov, (int)e.n);
}
#endif

static void
log_emit(enum log_level lvl, const struct log_field *f, size_t n, const char *fmt,
    va_list ap)
{
	char text[LOG_LINE_MAX];
	char *c;

	(void)vsnprintf(text, sizeof text, fmt, ap);
	/* One entry is one line: a control character (a newline or a CR in
	 * a file name the queue holds, or in a relay's reply) would let
	 * whoever wrote it forge lines of their own on stderr and in
	 * syslog, or move a terminal's cursor.  syslogd shows them as #ooo;
	 * here they become '?'. */
	for (c = text; *c != '\0'; c++)
		if ((unsigned char)*c < ' ' || *c == 0x7f)
			*c = '?';
	switch (log_sink) {
	case LOG_SINK_SYSLOG:
		syslog((int)lvl, "%s", text);
		return;
	case LOG_SINK_JOURNAL:
#ifdef HAVE_LIBSYSTEMD
		if (log_journal(lvl, text, f, n) >= 0)
			return;
#endif
		break;	/* the journal refused it: stderr has it */
	case LOG_SINK_STDERR:
		break;
	}
	log_stderr(lvl, text);
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(lvl, NULL, 0, fmt, ap);
	va_end(ap);
}

void
log_fields(enum log_level lvl, const struct log_field *f, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(lvl, f, n, fmt, ap);
	va_end(ap);
}

void
log_interval(long long secs, char *buf, unsigned size)
{
	long long d, h, m, s;

	if (secs < 0)
		secs = 0;
	d = secs / 86400;
	h = secs % 86400 / 3600;
	m = secs % 3600 / 60;
	s = secs % 60;
	if (d > 0)
		snprintf(buf, size, "%lld+%02lld:%02lld:%02lld", d, h, m, s);
	else
		snprintf(buf, size, "%02lld:%02lld:%02lld", h, m, s);
}
