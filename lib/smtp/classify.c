#include "config.h"

#include "smtp/classify.h"

#include <stdio.h>
#include <string.h>

const char *
classify_dsn_of_code(int code)
{
	switch (code) {
	case 450:
		return "4.2.0";
	case 451:
		return "4.3.0";
	case 452:
		return "4.3.1";
	case 500:
		return "5.5.2";
	case 501:
		return "5.5.4";
	case 502:
	case 503:
		return "5.5.1";
	case 504:
		return "5.5.4";
	case 550:
		return "5.2.0";
	case 551:
		return "5.1.6";
	case 552:
		return "5.2.2";
	case 553:
		return "5.1.0";
	case 554:
		return "5.0.0";
	default:
		break;
	}
	if (code < 0)
		return "4.4.2";
	switch (code / 100) {
	case 2:
		return "2.0.0";
	case 4:
		return "4.0.0";
	case 5:
		return "5.0.0";
	default:
		return "4.5.0";	/* not an SMTP reply: a protocol error */
	}
}

const char *
classify_action_str(enum classify_action a)
{
	switch (a) {
	case CLASSIFY_SENT:
		return "sent";
	case CLASSIFY_DEFERRED:
		return "deferred";
	case CLASSIFY_FAILED:
		return "failed";
	}
	return "unknown";
}

/* The reply's enhanced code wins over any default (sendmail's ENHSCN). */
static void
classify_set_dsn(struct classify_result *out, const struct smtp_reply *reply,
    const char *dflt)
{
	snprintf(out->dsn, sizeof out->dsn, "%s",
	    reply != NULL && reply->enhanced[0] != '\0' ? reply->enhanced : dflt);
}

void
classify(enum smtp_phase phase, enum smtp_status status,
    const struct smtp_reply *reply, struct classify_result *out)
{
	int code = reply != NULL ? reply->code : 0;

	memset(out, 0, sizeof *out);
	if (status == SMTP_OK) {
		out->action = CLASSIFY_SENT;
		classify_set_dsn(out, reply, "2.0.0");
		return;
	}
	out->action = CLASSIFY_DEFERRED;
	out->stat = "Deferred";
	if (status != SMTP_IOERR && (phase == SMTP_PHASE_STARTTLS || phase == SMTP_PHASE_AUTH)) {
		/* The TLS policy or AUTH refused the session: the site's
		 * configuration or credentials, never the message, so it
		 * waits, whatever the class of the relay's reply (the
		 * reply's subject and detail kept: 535 5.7.8 -> 4.7.8). */
		if (reply != NULL && reply->enhanced[0] != '\0')
			snprintf(out->dsn, sizeof out->dsn, "4%s", reply->enhanced + 1);
		else
			snprintf(out->dsn, sizeof out->dsn, "4.7.0");
		return;
	}
	if (status == SMTP_IOERR || code == 0) {
		/* No reply that decides: never made, lost, timed out or
		 * garbled.  sendmail's 4.4.1 for a connection it could not
		 * make, smtptodsn(-1) = 4.4.2 for one that broke. */
		snprintf(out->dsn, sizeof out->dsn, "%s",
		    phase == SMTP_PHASE_CONNECT ? "4.4.1" : "4.4.2");
		out->maybe_delivered = phase == SMTP_PHASE_DOT;
		return;
	}
	if (code / 100 != 5) {
		/* sendmail takes a 4xx to the greeting or EHLO as 4.5.0,
		 * whatever enhanced code it carries (usersmtp.c, and
		 * measured). */
		if (phase == SMTP_PHASE_GREETING || phase == SMTP_PHASE_CONNECT ||
		    phase == SMTP_PHASE_HELO)
			snprintf(out->dsn, sizeof out->dsn, "4.5.0");
		else
			classify_set_dsn(out, reply, classify_dsn_of_code(code));
		return;
	}
	out->action = CLASSIFY_FAILED;
	out->stat = "Service unavailable";
	switch (phase) {
	case SMTP_PHASE_CONNECT:
	case SMTP_PHASE_GREETING:
	case SMTP_PHASE_HELO:
	case SMTP_PHASE_STARTTLS:	/* not reached: deferred above */
	case SMTP_PHASE_AUTH:
		/* Always 5.5.0, whatever the reply says. */
		snprintf(out->dsn, sizeof out->dsn, "5.5.0");
		return;
	case SMTP_PHASE_MAIL:
		/* smtpmailfrom()'s own defaults, not smtptodsn()'s: 501
		 * 5.5.2, 553 5.1.3, 552 5.3.4, any other 5xx 5.0.0. */
		if (code == 501 || code == 553)
			out->stat = "Data format error";
		else if (code == 552)
			out->no_body = true;
		classify_set_dsn(out, reply, code == 501 ? "5.5.2" : code == 553 ? "5.1.3" :
		    code == 552 ? "5.3.4" : "5.0.0");
		return;
	case SMTP_PHASE_RCPT:
		if (code == 550 || code == 551 || code == 553) {
			out->stat = "User unknown";
			classify_set_dsn(out, reply, code == 550 ? "5.1.1" :
			    code == 551 ? "5.1.6" : "5.1.3");
			return;
		}
		break;
	case SMTP_PHASE_RSET:
		/* The reset before reuse failed: that says nothing about
		 * the message, which waits for another connection. */
		out->action = CLASSIFY_DEFERRED;
		out->stat = "Deferred";
		snprintf(out->dsn, sizeof out->dsn, "4.0.0");
		return;
	case SMTP_PHASE_DATA:
	case SMTP_PHASE_BODY:
	case SMTP_PHASE_DOT:
	case SMTP_PHASE_QUIT:
		break;
	}
	classify_set_dsn(out, reply, classify_dsn_of_code(code));
}
