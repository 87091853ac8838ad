#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "delivery/trace.h"

#define QID "6B5C01aB000123"

static void
utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

/* 2026-12-05 13:00:00 UTC */
#define NOW ((time_t)1796475600)

Test(trace, syslog_shapes, .init = utc)
{
	struct trace_syslog s;

	/* rsyslog's RFC 3339 stamp, a host */
	cr_assert(trace_syslog_parse("2026-12-05T12:00:00.100000+01:00 host sendmail[9]: "
	    QID ": from=root", NOW, &s));
	cr_assert_eq(s.usec, (1796475600LL - 7200) * 1000000 + 100000);
	cr_assert(s.fine);
	cr_assert_eq(s.taglen, strlen("sendmail[9]"));
	cr_assert_eq(strncmp(s.tag, "sendmail[9]", s.taglen), 0);
	cr_assert_str_eq(s.text, QID ": from=root");
	/* Postfix's maillog_file: microseconds, a host */
	cr_assert(trace_syslog_parse("Dec  5 12:00:00.5 host postfix/smtpd[77]: X: y", NOW, &s));
	cr_assert_eq(s.usec, (1796475600LL - 3600) * 1000000 + 500000);
	cr_assert_str_eq(s.text, "X: y");
	/* a raw datagram from syslog(3): priority, no host, whole seconds */
	cr_assert(trace_syslog_parse("<22>Dec  5 12:00:01 sm-msp-queue[1]: " QID ": x", NOW, &s));
	cr_assert_eq(s.usec, (1796475600LL - 3599) * 1000000);
	cr_assert(!s.fine);
	cr_assert_eq(strncmp(s.tag, "sm-msp-queue[1]", s.taglen), 0);
	/* a traditional stamp later than now (plus a day) is last year's */
	cr_assert(trace_syslog_parse("Dec 31 23:00:00 h t: x", NOW, &s));
	cr_assert_lt(s.usec, (long long)NOW * 1000000);
	cr_assert_gt(s.usec, ((long long)NOW - 366 * 86400) * 1000000);
	/* not syslog lines */
	cr_assert(!trace_syslog_parse("", NOW, &s));
	cr_assert(!trace_syslog_parse("hello world: x", NOW, &s));
	cr_assert(!trace_syslog_parse("Dec  5 12:00:01", NOW, &s));
	cr_assert(!trace_syslog_parse("Dec  5 12:00:01 host no colon here", NOW, &s));
	cr_assert(!trace_syslog_parse("2026-12-05T12:00:00 host t: x", NOW, &s));	/* no zone */
	cr_assert(!trace_syslog_parse("<22 Dec  5 12:00:01 t: x", NOW, &s));
}

Test(trace, learn_and_sides)
{
	struct trace t;

	trace_init(&t, QID);
	cr_assert_eq(trace_side_of(&t, QID ": to=a", 1), TRACE_CLIENT);
	cr_assert_eq(trace_side_of(&t, QID "x: to=a", 1), -1);
	cr_assert_eq(trace_side_of(&t, "4Xyz: client=", 2), -1);	/* nothing learnt */
	/* from the Sent text, as sendmail writes it */
	cr_assert(trace_learn(&t, QID ": to=a, dsn=2.0.0, stat=Sent (Ok: queued as 4Xyz)", NULL));
	cr_assert(!trace_learn(&t, QID ": to=b, stat=Sent (Ok: queued as 4Xyz)", NULL));
	cr_assert_eq(t.n_mta_ids, 1);
	cr_assert_str_eq(t.mta_ids[0], "4Xyz");
	cr_assert_eq(trace_side_of(&t, "4Xyz: client=localhost", 2), TRACE_MTA);
	cr_assert_eq(trace_side_of(&t, "4Xyz1: client=localhost", 2), -1);
	cr_assert_eq(trace_side_of(&t, "4Xyz <= a@b", 2), TRACE_MTA);	/* Exim */
	/* the journal's field, one or several */
	cr_assert(trace_learn(&t, "anything", "AB12, CD34"));
	cr_assert_eq(t.n_mta_ids, 3);
	cr_assert_str_eq(t.mta_ids[2], "CD34");
	/* an unknown reply teaches nothing; nor a deferral */
	cr_assert(!trace_learn(&t, QID ": stat=Sent (Message queued, thank you)", NULL));
	cr_assert(!trace_learn(&t, QID ": stat=Deferred: Connection refused", NULL));
	cr_assert_eq(t.n_mta_ids, 3);
	trace_free(&t);
}

Test(trace, sort_is_by_time_and_stable)
{
	struct trace t;

	trace_init(&t, QID);
	trace_add(&t, 300, true, TRACE_MTA, "b", 1, "third");
	trace_add(&t, 100, false, TRACE_CLIENT, "a", 1, "first");
	trace_add(&t, 300, true, TRACE_CLIENT, "c", 1, "fourth\nforged");
	trace_add(&t, 200, true, TRACE_MTA, "d", 1, "second");
	trace_sort(&t);
	cr_assert_eq(t.n, 4);
	cr_assert_str_eq(t.lines[0].text, "first");
	cr_assert_str_eq(t.lines[1].text, "second");
	cr_assert_str_eq(t.lines[2].text, "third");
	cr_assert_str_eq(t.lines[3].text, "fourth?forged");
	cr_assert_eq(t.n_client, 2);
	cr_assert_eq(t.n_mta, 2);
	trace_free(&t);
}

Test(trace, file_two_passes, .init = utc)
{
	char path[] = "/tmp/test-trace-XXXXXX";
	int fd = mkstemp(path);
	struct error err;
	FILE *fp;
	struct trace t;
	char when[64];
	int pass;

	cr_assert_geq(fd, 0);
	fp = fdopen(fd, "w");
	/* the MTA's first lines come before the Sent line that names it */
	fputs("Dec  5 12:00:00.500000 h postfix/smtpd[7]: 4Xyz: client=localhost\n"
	    "Dec  5 12:00:00.600000 h postfix/smtpd[7]: 5Other: client=localhost\n"
	    "not a syslog line at all\n"
	    "Dec  5 12:00:01 h postfix/cleanup[6]: 4Xyz: message-id=<m>\n"
	    "<22>Dec  5 12:00:01 sm-msp-queue[1]: " QID ": to=a, stat=Sent (Ok: queued as 4Xyz)\n"
	    "Dec  5 12:00:01 h postfix/qmgr[5]: 4Xyz: from=<a>\n"
	    "2026-12-05T12:00:00.100000Z h sendmail[9]: " QID ": from=root\n"
	    "Dec  5 12:00:02.000001 h postfix/local[8]: 4Xyz: to=<a>, status=sent\n", fp);
	fclose(fp);
	trace_init(&t, QID);
	for (pass = 1; pass <= 2; pass++)
		cr_assert(trace_read_file(&t, path, 0, pass, NOW, &err), "%s", err.reason);
	trace_sort(&t);
	cr_assert_eq(t.n, 6);
	cr_assert_eq(t.n_client, 2);
	cr_assert_eq(t.n_mta, 4);
	cr_assert_str_eq(t.lines[0].tag, "sendmail[9]");
	cr_assert_str_eq(t.lines[1].text, "4Xyz: client=localhost");
	/* one second: the file's order, though the passes found them
	 * the other way round */
	cr_assert_str_eq(t.lines[2].tag, "postfix/cleanup[6]");
	cr_assert_str_eq(t.lines[3].tag, "sm-msp-queue[1]");
	cr_assert_str_eq(t.lines[4].tag, "postfix/qmgr[5]");
	cr_assert_str_eq(t.lines[5].text, "4Xyz: to=<a>, status=sent");
	trace_format_time(t.lines[0].usec, t.lines[0].fine, when, sizeof when);
	cr_assert_str_eq(when, "2026-12-05 12:00:00.100000");
	trace_format_time(t.lines[3].usec, t.lines[3].fine, when, sizeof when);
	cr_assert_str_eq(when, "2026-12-05 12:00:01");
	trace_free(&t);
	unlink(path);
	trace_init(&t, QID);
	cr_assert(!trace_read_file(&t, path, 0, 1, NOW, &err));
	cr_assert_eq(err.errnum, ENOENT);
	cr_assert(strstr(err.reason, path) != NULL, "%s", err.reason);
	trace_free(&t);
}
