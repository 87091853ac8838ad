#include "config.h"

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "smtp/classify.h"

/* The table is the specification: sendmail's runner (usersmtp.c,
 * savemail.c:smtptodsn()) decides the same for each row. */
Test(classify, table)
{
	static const struct {
		enum smtp_phase phase;
		enum smtp_status st;
		const char *reply;	/* NULL: no reply was read */
		enum classify_action action;
		const char *dsn;
		const char *stat;	/* NULL: not checked (SENT) */
		bool no_body, maybe_delivered;
	} rows[] = {
		/* Connection and greeting. */
		{ SMTP_PHASE_CONNECT, SMTP_TEMPFAIL, NULL, CLASSIFY_DEFERRED, "4.4.1", "Deferred", false, false },
		{ SMTP_PHASE_GREETING, SMTP_IOERR, NULL, CLASSIFY_DEFERRED, "4.4.2", "Deferred", false, false },
		{ SMTP_PHASE_GREETING, SMTP_TEMPFAIL, "421 4.3.2 busy", CLASSIFY_DEFERRED, "4.5.0", "Deferred", false, false },
		{ SMTP_PHASE_GREETING, SMTP_TEMPFAIL, "421 busy", CLASSIFY_DEFERRED, "4.5.0", "Deferred", false, false },
		{ SMTP_PHASE_GREETING, SMTP_PERMFAIL, "554 go away", CLASSIFY_FAILED, "5.5.0", "Service unavailable", false, false },
		{ SMTP_PHASE_GREETING, SMTP_PERMFAIL, "554 5.7.1 no", CLASSIFY_FAILED, "5.5.0", "Service unavailable", false, false },
		{ SMTP_PHASE_HELO, SMTP_PERMFAIL, "501 bad name", CLASSIFY_FAILED, "5.5.0", "Service unavailable", false, false },
		{ SMTP_PHASE_HELO, SMTP_TEMPFAIL, "451 later", CLASSIFY_DEFERRED, "4.5.0", "Deferred", false, false },
		{ SMTP_PHASE_HELO, SMTP_TEMPFAIL, "421 4.3.2 closing", CLASSIFY_DEFERRED, "4.5.0", "Deferred", false, false },
		{ SMTP_PHASE_RSET, SMTP_PERMFAIL, "500 what", CLASSIFY_DEFERRED, "4.0.0", "Deferred", false, false },
		/* STARTTLS and AUTH: the site's policy or credentials, never
		 * the message's: deferred, whatever the class. */
		{ SMTP_PHASE_STARTTLS, SMTP_TEMPFAIL, NULL, CLASSIFY_DEFERRED, "4.7.0", "Deferred", false, false },
		{ SMTP_PHASE_STARTTLS, SMTP_TEMPFAIL, "454 4.7.0 TLS not available", CLASSIFY_DEFERRED, "4.7.0", "Deferred", false, false },
		{ SMTP_PHASE_STARTTLS, SMTP_IOERR, NULL, CLASSIFY_DEFERRED, "4.4.2", "Deferred", false, false },
		{ SMTP_PHASE_AUTH, SMTP_TEMPFAIL, "535 5.7.8 Authentication credentials invalid", CLASSIFY_DEFERRED, "4.7.8", "Deferred", false, false },
		{ SMTP_PHASE_AUTH, SMTP_PERMFAIL, "530 authentication required", CLASSIFY_DEFERRED, "4.7.0", "Deferred", false, false },
		{ SMTP_PHASE_AUTH, SMTP_TEMPFAIL, "454 4.7.0 try later", CLASSIFY_DEFERRED, "4.7.0", "Deferred", false, false },
		/* MAIL. */
		{ SMTP_PHASE_MAIL, SMTP_TEMPFAIL, "451 4.3.0 later", CLASSIFY_DEFERRED, "4.3.0", "Deferred", false, false },
		{ SMTP_PHASE_MAIL, SMTP_TEMPFAIL, "452 full", CLASSIFY_DEFERRED, "4.3.1", "Deferred", false, false },
		{ SMTP_PHASE_MAIL, SMTP_PERMFAIL, "501 syntax", CLASSIFY_FAILED, "5.5.2", "Data format error", false, false },
		{ SMTP_PHASE_MAIL, SMTP_PERMFAIL, "553 5.1.8 bad sender", CLASSIFY_FAILED, "5.1.8", "Data format error", false, false },
		{ SMTP_PHASE_MAIL, SMTP_PERMFAIL, "552 too big", CLASSIFY_FAILED, "5.3.4", "Service unavailable", true, false },
		{ SMTP_PHASE_MAIL, SMTP_PERMFAIL, "550 no", CLASSIFY_FAILED, "5.0.0", "Service unavailable", false, false },
		{ SMTP_PHASE_MAIL, SMTP_IOERR, NULL, CLASSIFY_DEFERRED, "4.4.2", "Deferred", false, false },
		/* RCPT. */
		{ SMTP_PHASE_RCPT, SMTP_OK, "250 2.1.5 ok", CLASSIFY_SENT, "2.1.5", NULL, false, false },
		{ SMTP_PHASE_RCPT, SMTP_TEMPFAIL, "450 busy", CLASSIFY_DEFERRED, "4.2.0", "Deferred", false, false },
		{ SMTP_PHASE_RCPT, SMTP_TEMPFAIL, "451 4.7.1 greylisted", CLASSIFY_DEFERRED, "4.7.1", "Deferred", false, false },
		{ SMTP_PHASE_RCPT, SMTP_PERMFAIL, "550 no such user", CLASSIFY_FAILED, "5.1.1", "User unknown", false, false },
		{ SMTP_PHASE_RCPT, SMTP_PERMFAIL, "550 5.7.1 relaying denied", CLASSIFY_FAILED, "5.7.1", "User unknown", false, false },
		{ SMTP_PHASE_RCPT, SMTP_PERMFAIL, "551 try elsewhere", CLASSIFY_FAILED, "5.1.6", "User unknown", false, false },
		{ SMTP_PHASE_RCPT, SMTP_PERMFAIL, "553 bad address", CLASSIFY_FAILED, "5.1.3", "User unknown", false, false },
		{ SMTP_PHASE_RCPT, SMTP_PERMFAIL, "554 no", CLASSIFY_FAILED, "5.0.0", "Service unavailable", false, false },
		{ SMTP_PHASE_RCPT, SMTP_PERMFAIL, "552 5.2.2 over quota", CLASSIFY_FAILED, "5.2.2", "Service unavailable", false, false },
		{ SMTP_PHASE_RCPT, SMTP_IOERR, NULL, CLASSIFY_DEFERRED, "4.4.2", "Deferred", false, false },
		/* DATA, body, the final dot. */
		{ SMTP_PHASE_DATA, SMTP_TEMPFAIL, "451 later", CLASSIFY_DEFERRED, "4.3.0", "Deferred", false, false },
		{ SMTP_PHASE_DATA, SMTP_PERMFAIL, "554 no", CLASSIFY_FAILED, "5.0.0", "Service unavailable", false, false },
		{ SMTP_PHASE_BODY, SMTP_IOERR, NULL, CLASSIFY_DEFERRED, "4.4.2", "Deferred", false, false },
		{ SMTP_PHASE_DOT, SMTP_OK, "250 2.0.0 Ok: queued as X", CLASSIFY_SENT, "2.0.0", NULL, false, false },
		{ SMTP_PHASE_DOT, SMTP_OK, "250 queued", CLASSIFY_SENT, "2.0.0", NULL, false, false },
		{ SMTP_PHASE_DOT, SMTP_TEMPFAIL, "452 4.3.1 full", CLASSIFY_DEFERRED, "4.3.1", "Deferred", false, false },
		{ SMTP_PHASE_DOT, SMTP_PERMFAIL, "554 5.6.0 content rejected", CLASSIFY_FAILED, "5.6.0", "Service unavailable", false, false },
		{ SMTP_PHASE_DOT, SMTP_IOERR, NULL, CLASSIFY_DEFERRED, "4.4.2", "Deferred", false, true },
	};
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct smtp_reply r;
		struct classify_result out;
		bool last;

		memset(&r, 0, sizeof r);
		if (rows[i].reply != NULL)
			cr_assert(smtp_parse_reply_line(rows[i].reply, &last, &r));
		classify(rows[i].phase, rows[i].st, &r, &out);
		cr_expect_eq(out.action, rows[i].action, "row %zu (%s, %s): %s", i,
		    smtp_phase_str(rows[i].phase), rows[i].reply ? rows[i].reply : "no reply",
		    classify_action_str(out.action));
		cr_expect_str_eq(out.dsn, rows[i].dsn, "row %zu: dsn %s", i, out.dsn);
		if (rows[i].stat != NULL)
			cr_expect_str_eq(out.stat, rows[i].stat, "row %zu: stat %s", i, out.stat);
		cr_expect_eq(out.no_body, rows[i].no_body, "row %zu: no_body", i);
		cr_expect_eq(out.maybe_delivered, rows[i].maybe_delivered, "row %zu: maybe_delivered", i);
	}
}

Test(classify, dsn_of_code)
{
	cr_expect_str_eq(classify_dsn_of_code(-1), "4.4.2");
	cr_expect_str_eq(classify_dsn_of_code(250), "2.0.0");
	cr_expect_str_eq(classify_dsn_of_code(421), "4.0.0");
	cr_expect_str_eq(classify_dsn_of_code(553), "5.1.0");
	cr_expect_str_eq(classify_dsn_of_code(555), "5.0.0");
}
