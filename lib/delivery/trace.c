#include "config.h"

#include "delivery/trace.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
#endif

#include "util/xalloc.h"

void
trace_init(struct trace *t, const char *qid)
{
	memset(t, 0, sizeof *t);
	snprintf(t->qid, sizeof t->qid, "%s", qid);
}

void
trace_free(struct trace *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->lines[i].tag);
		free(t->lines[i].text);
	}
	free(t->lines);
	t->lines = NULL;
	t->n = t->cap = 0;
}

/* ------------------------------------------------------------ parsing */

static int
trace_digits(const char **pp, int n)
{
	const char *p = *pp;
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*pp = p + n;
	return v;
}

/* ".123456": the fraction, in microseconds; none leaves *fine false. */
static long long
trace_fraction(const char **pp, bool *fine)
{
	const char *p = *pp;
	long long us = 0;
	int k = 0;

	*fine = false;
	if (*p != '.' || !isdigit((unsigned char)p[1]))
		return 0;
	for (p++; isdigit((unsigned char)*p); p++, k++)
		if (k < 6)
			us = us * 10 + (*p - '0');
	for (; k < 6; k++)
		us *= 10;
	*fine = true;
	*pp = p;
	return us;
}

/* "2026-12-05T11:35:52.123456+01:00" */
static bool
trace_rfc3339(const char **pp, long long *usec, bool *fine)
{
	const char *p = *pp;
	struct tm tm;
	long long frac, off = 0;
	int v[6], i;
	time_t t;

	memset(&tm, 0, sizeof tm);
	for (i = 0; i < 6; i++) {
		if ((v[i] = trace_digits(&p, i == 0 ? 4 : 2)) < 0)
			return false;
		if (i < 5 && *p++ != "--T::"[i])
			return false;
	}
	frac = trace_fraction(&p, fine);
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, h, m;

		if ((h = trace_digits(&p, 2)) < 0 || *p++ != ':' || (m = trace_digits(&p, 2)) < 0)
			return false;
		off = sign * (h * 3600 + m * 60);
	} else {
		return false;
	}
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	if ((t = timegm(&tm)) == (time_t)-1)
		return false;
	*usec = ((long long)t - off) * 1000000 + frac;
	*pp = p;
	return true;
}

/* "Dec  5 11:35:52[.123456]": no year, local time; the year that puts
 * it nearest before now (a day's slack for clocks and time zones). */
static bool
trace_bsd(const char **pp, time_t now, long long *usec, bool *fine)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *p = *pp, *m;
	struct tm tm, nowtm;
	long long frac;
	time_t t;
	int day, h, mi, s;

	for (m = months; *m != '\0'; m += 3)
		if (strncmp(p, m, 3) == 0)
			break;
	if (*m == '\0' || p[3] != ' ')
		return false;
	p += 4;
	if (*p == ' ')
		p++;
	if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]))
		day = trace_digits(&p, 2);
	else
		day = trace_digits(&p, 1);
	if (day < 1 || *p++ != ' ' || (h = trace_digits(&p, 2)) < 0 || *p++ != ':' ||
	    (mi = trace_digits(&p, 2)) < 0 || *p++ != ':' || (s = trace_digits(&p, 2)) < 0)
		return false;
	frac = trace_fraction(&p, fine);
	if (localtime_r(&now, &nowtm) == NULL)
		return false;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = nowtm.tm_year;
	tm.tm_mon = (int)((m - months) / 3);
	tm.tm_mday = day;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	tm.tm_isdst = -1;
	if ((t = mktime(&tm)) == (time_t)-1)
		return false;
	if (t > now + 86400) {
		tm.tm_year--;
		tm.tm_isdst = -1;
		tm.tm_mon = (int)((m - months) / 3);
		tm.tm_mday = day;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = s;
		if ((t = mktime(&tm)) == (time_t)-1)
			return false;
	}
	*usec = (long long)t * 1000000 + frac;
	*pp = p;
	return true;
}

bool
trace_syslog_parse(const char *line, time_t now, struct trace_syslog *out)
{
	const char *p = line, *w1, *e1, *w2, *e2;

	memset(out, 0, sizeof *out);
	if (*p == '<') {
		for (p++; isdigit((unsigned char)*p); p++)
			;
		if (*p++ != '>')
			return false;
	}
	if (!trace_rfc3339(&p, &out->usec, &out->fine) &&
	    !trace_bsd(&p, now, &out->usec, &out->fine))
		return false;
	if (*p++ != ' ')
		return false;
	/* "tag[pid]: text" or "host tag[pid]: text" */
	w1 = p;
	e1 = strchr(w1, ' ');
	if (e1 == NULL || e1 == w1)
		return false;
	if (e1[-1] == ':') {
		out->tag = w1;
		out->taglen = (size_t)(e1 - 1 - w1);
		out->text = e1 + 1;
		return out->taglen > 0;
	}
	w2 = e1 + 1;
	e2 = strchr(w2, ' ');
	if (e2 == NULL || e2 == w2 || e2[-1] != ':')
		return false;
	out->tag = w2;
	out->taglen = (size_t)(e2 - 1 - w2);
	out->text = e2 + 1;
	return out->taglen > 0;
}

/* ------------------------------------------------------------ the lines */

/* text begins with id and then ": " (or, for Exim, a space). */
static bool
trace_starts(const char *text, const char *id, bool space_too)
{
	size_t n = strlen(id);

	if (n == 0 || strncmp(text, id, n) != 0)
		return false;
	return (text[n] == ':' && text[n + 1] == ' ') || (space_too && text[n] == ' ');
}

int
trace_side_of(const struct trace *t, const char *text, int pass)
{
	size_t i;

	if (pass == 1)
		return trace_starts(text, t->qid, false) ? TRACE_CLIENT : -1;
	for (i = 0; i < t->n_mta_ids; i++)
		if (trace_starts(text, t->mta_ids[i], true))
			return TRACE_MTA;
	return -1;
}

static bool
trace_keep_id(struct trace *t, const char *id)
{
	size_t i;

	if (*id == '\0' || strcmp(id, t->qid) == 0)
		return false;
	for (i = 0; i < t->n_mta_ids; i++)
		if (strcmp(t->mta_ids[i], id) == 0)
			return false;
	if (t->n_mta_ids == TRACE_MTA_IDS)
		return false;
	snprintf(t->mta_ids[t->n_mta_ids++], sizeof t->mta_ids[0], "%s", id);
	return true;
}

bool
trace_learn(struct trace *t, const char *text, const char *mta_field)
{
	char reply[TRACE_LINE_MAX], id[MTAQID_MAX + 1];
	const char *s, *end;
	bool any = false;

	if (mta_field != NULL) {
		char one[MTAQID_MAX + 1];
		const char *p = mta_field;

		/* The field holds one ID, or several separated by ", "
		 * (a message sent in more than one transaction). */
		while (*p != '\0') {
			size_t n = strcspn(p, ", ");

			if (n > 0 && n <= MTAQID_MAX) {
				memcpy(one, p, n);
				one[n] = '\0';
				any |= trace_keep_id(t, one);
			}
			p += n;
			p += strspn(p, ", ");
		}
		if (any)
			return true;
	}
	/* sendmail's text: "..., stat=Sent (Ok: queued as 3F2A1B4C5D)" */
	if ((s = strstr(text, "stat=Sent (")) == NULL)
		return any;
	s += strlen("stat=Sent (");
	if ((end = strrchr(s, ')')) == NULL || (size_t)(end - s) >= sizeof reply)
		return any;
	memcpy(reply, s, (size_t)(end - s));
	reply[end - s] = '\0';
	if (mtaqid_parse(reply, id, sizeof id))
		any |= trace_keep_id(t, id);
	return any;
}

static char *
trace_clean(const char *s, size_t n)
{
	char *c, *out;

	if (n > TRACE_LINE_MAX)
		n = TRACE_LINE_MAX;
	out = xmalloc(n + 1);
	memcpy(out, s, n);
	out[n] = '\0';
	for (c = out; *c != '\0'; c++)
		if ((unsigned char)*c < ' ' || *c == 0x7f)
			*c = '?';
	return out;
}

void
trace_add(struct trace *t, long long usec, bool fine, enum trace_side side, const char *tag,
    size_t taglen, const char *text)
{
	struct trace_line *l;

	if (t->n == TRACE_MAX_LINES) {
		t->dropped++;
		return;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 32;
		t->lines = xreallocarray(t->lines, t->cap, sizeof *t->lines);
	}
	l = &t->lines[t->n];
	l->usec = usec;
	l->fine = fine;
	l->side = side;
	l->seq = t->n;
	l->tag = trace_clean(tag, taglen);
	l->text = trace_clean(text, strlen(text));
	t->n++;
	if (side == TRACE_CLIENT)
		t->n_client++;
	else
		t->n_mta++;
}

static int
trace_cmp(const void *a, const void *b)
{
	const struct trace_line *x = a, *y = b;

	if (x->usec != y->usec)
		return x->usec < y->usec ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void
trace_sort(struct trace *t)
{
	if (t->n > 1)
		qsort(t->lines, t->n, sizeof *t->lines, trace_cmp);
}

void
trace_format_time(long long usec, bool fine, char *buf, size_t size)
{
	time_t s = (time_t)(usec / 1000000);
	struct tm tm;
	size_t n;

	if (localtime_r(&s, &tm) == NULL || (n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm)) == 0) {
		snprintf(buf, size, "%lld", usec / 1000000);
		return;
	}
	if (fine)
		snprintf(buf + n, size - n, ".%06lld", usec % 1000000);
}

/* ------------------------------------------------------------ files */

bool
trace_read_file(struct trace *t, const char *path, unsigned fileno, int pass, time_t now,
    struct error *err)
{
	unsigned long long lineno = 0;
	size_t before;
	FILE *fp = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	bool bad;

	if (fp == NULL) {
		error_set(err, errno, "%s: %s", path, strerror(errno));
		return false;
	}
	while ((len = getline(&line, &cap, fp)) > 0) {
		struct trace_syslog s;
		int side;

		lineno++;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (!trace_syslog_parse(line, now, &s))
			continue;
		if ((side = trace_side_of(t, s.text, pass)) < 0)
			continue;
		if (pass == 1)
			(void)trace_learn(t, s.text, NULL);
		before = t->n;
		trace_add(t, s.usec, s.fine, (enum trace_side)side, s.tag, s.taglen, s.text);
		/* ties in time: the file's own order, whichever pass */
		if (t->n > before)
			t->lines[before].seq = (unsigned long long)fileno << 40 | lineno;
	}
	bad = ferror(fp);
	free(line);
	fclose(fp);
	if (bad) {
		error_set(err, EIO, "%s: read error", path);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------ journal */

#ifdef HAVE_LIBSYSTEMD
/* A field's value as a string in buf ("" when the entry has none). */
static const char *
trace_field(sd_journal *j, const char *name, char *buf, size_t size)
{
	const void *data;
	size_t len, n = strlen(name);

	buf[0] = '\0';
	if (sd_journal_get_data(j, name, &data, &len) < 0 || len <= n ||
	    ((const char *)data)[n] != '=')
		return buf;
	len -= n + 1;
	if (len >= size)
		len = size - 1;
	memcpy(buf, (const char *)data + n + 1, len);
	buf[len] = '\0';
	return buf;
}

static void
trace_journal_add(struct trace *t, sd_journal *j, enum trace_side side, const char *text)
{
	char ident[256], pid[32], tag[300];
	uint64_t usec = 0;

	(void)sd_journal_get_realtime_usec(j, &usec);
	trace_field(j, "SYSLOG_IDENTIFIER", ident, sizeof ident);
	if (ident[0] == '\0')
		trace_field(j, "_COMM", ident, sizeof ident);
	trace_field(j, "SYSLOG_PID", pid, sizeof pid);
	if (pid[0] == '\0')
		trace_field(j, "_PID", pid, sizeof pid);
	if (pid[0] != '\0')
		snprintf(tag, sizeof tag, "%s[%s]", ident[0] ? ident : "-", pid);
	else
		snprintf(tag, sizeof tag, "%s", ident[0] ? ident : "-");
	trace_add(t, (long long)usec, true, side, tag, strlen(tag), text);
}
#endif

bool
trace_read_journal(struct trace *t, bool *none, struct error *why)
{
#ifdef HAVE_LIBSYSTEMD
	static char text[TRACE_LINE_MAX + 1];
	char match[64], field[512];
	struct qid_info info;
	sd_journal *j;
	long long start = -1;
	time_t now = time(NULL);
	int r;

	*none = false;
	if ((r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY)) < 0) {
		error_set(why, 0, "cannot open the journal: %s", strerror(-r));
		return false;
	}
	if (sd_journal_has_runtime_files(j) <= 0 && sd_journal_has_persistent_files(j) <= 0) {
		*none = true;
		sd_journal_close(j);
		error_set(why, 0, "no journal files that you may read");
		return false;
	}
	(void)sd_journal_set_data_threshold(j, TRACE_LINE_MAX);
	/* Pass 1: the client queue's entries, by their field (indexed). */
	snprintf(match, sizeof match, "QUEUE_ID=%s", t->qid);
	if ((r = sd_journal_add_match(j, match, 0)) < 0) {
		sd_journal_close(j);
		error_set(why, 0, "journal match: %s", strerror(-r));
		return false;
	}
	while (sd_journal_next(j) > 0) {
		uint64_t usec;

		trace_field(j, "MESSAGE", text, sizeof text);
		(void)trace_learn(t, text, trace_field(j, "MTA_QUEUE_ID", field, sizeof field)[0] ?
		    field : NULL);
		trace_journal_add(t, j, TRACE_CLIENT, text);
		if (sd_journal_get_realtime_usec(j, &usec) >= 0 &&
		    (start < 0 || (long long)usec < start))
			start = (long long)usec;
	}
	/* Pass 2: the mail facility's entries from a minute before the
	 * message was queued (its ID says when), by their text: the MTA's
	 * lines, and the submission's and sendmail's own runner's lines for
	 * the ID (syslog lines carry no QUEUE_ID field). */
	if (qid_decode(t->qid, &info) == QID_OK) {
		long long born = (long long)qid_time(&info, now) * 1000000;

		if (start < 0 || born < start)
			start = born;
	}
	sd_journal_flush_matches(j);
	if ((r = sd_journal_add_match(j, "SYSLOG_FACILITY=2", 0)) < 0) {
		sd_journal_close(j);
		error_set(why, 0, "journal match: %s", strerror(-r));
		return false;
	}
	if (start > 60000000)
		r = sd_journal_seek_realtime_usec(j, (uint64_t)(start - 60000000));
	else
		r = sd_journal_seek_head(j);
	while (r >= 0 && sd_journal_next(j) > 0) {
		int side;

		/* pass 1 took these */
		if (strcmp(trace_field(j, "QUEUE_ID", field, sizeof field), t->qid) == 0)
			continue;
		trace_field(j, "MESSAGE", text, sizeof text);
		if ((side = trace_side_of(t, text, 1)) < 0 && (side = trace_side_of(t, text, 2)) < 0)
			continue;
		if (side == TRACE_CLIENT && trace_learn(t, text, NULL)) {
			/* An ID learnt this late (sendmail's own runner, no
			 * field): its earlier lines were passed by; look
			 * again from the start. */
			trace_free(t);
			t->n_client = t->n_mta = t->dropped = 0;
			sd_journal_close(j);
			return trace_read_journal(t, none, why);
		}
		trace_journal_add(t, j, (enum trace_side)side, text);
	}
	sd_journal_close(j);
	return true;
#else
	(void)t;
	*none = true;
	error_set(why, 0, "built without libsystemd: no journal");
	return false;
#endif
}
