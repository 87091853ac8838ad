/*
 * check-relay: the check that the relay named in submit.cf takes mail the
 * way delivery will reach it (check-private.h, check.h).  The session is
 * the runner's own SMTP client's (smtp.h), with the TLS and AUTH clients
 * clientq.conf makes (conf_secure), so a certificate that does not
 * verify, a relay without STARTTLS under tls.policy=verify, or
 * credentials the relay refuses are found here, not by the first
 * message.
 */
#include "config.h"

#include "check/check-private.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/conf.h"
#include "smtp/auth.h"
#include "smtp/smtp.h"
#include "smtp/tls.h"

static const char CK_RELAY_ADVICE[] =
    "mail waits in the client queue until the relay answers: start the MTA, or point "
    "submit.cf's relay (FEATURE(msp), D{MTAHost}) at one that runs";
static const char CK_RELAY_TLS_ADVICE[] =
    "the relay must offer what clientq.conf's tls.* and auth.* settings ask "
    "(clientq.conf(5)); the runner's log says the same for each attempt";

/* The name delivery says EHLO with: $j, else the host's name (not
 * resolved: that may wait on DNS). */
static void
ck_helo(const struct check_ctx *c, char *buf, size_t size)
{
	const char *j = submitcf_macro(c->cf, "j");

	if (j != NULL && *j != '\0' && strchr(j, '$') == NULL) {
		snprintf(buf, size, "%s", j);
		return;
	}
	if (gethostname(buf, size) < 0 || buf[0] == '\0')
		snprintf(buf, size, "localhost");
	buf[size - 1] = '\0';
}

/* One session with ip, up to EHLO done (and STARTTLS and AUTH as sec
 * asks), then QUIT.  true when it got that far; what was found either
 * way in found, and in *kind what failed. */
static bool
ck_session(const char *ip, int port, const char *helo, const struct smtp_timeouts *t,
    const struct smtp_security *sec, char *found, size_t size, enum smtp_setup_kind *kind)
{
	struct smtp_conn *s;
	struct error err;
	const struct smtp_reply *r;
	bool ok;

	*kind = SMTP_SETUP_CONNECTION;
	if ((s = smtp_open(ip, port, helo, t, &err)) == NULL) {
		snprintf(found, size, "%s", err.reason);
		return false;
	}
	smtp_secure(s, sec);
	ok = smtp_wait(s) == SMTP_EV_READY;
	r = smtp_greeting(s);
	if (ok) {
		snprintf(found, size, "%s%s%s", r->full, smtp_tls_active(s) ? "; over TLS" : "",
		    smtp_authenticated(s) ? "; AUTH accepted" : "");
		smtp_quit(s);
		(void)smtp_wait(s);
	} else {
		*kind = smtp_setup_kind(s);
		if (*kind == SMTP_SETUP_TLS && smtp_tls_error(s)[0] != '\0')
			snprintf(found, size, "%s: %s", smtp_setup_kind_str(*kind),
			    smtp_tls_error(s));
		else if (*kind != SMTP_SETUP_CONNECTION)
			snprintf(found, size, "%s: %s", smtp_setup_kind_str(*kind), smtp_error(s));
		else
			snprintf(found, size, "%s%s", smtp_error(s),
			    r->code >= 400 ? " (it refuses mail)" : "");
	}
	smtp_free(s);
	return ok;
}

void
ck_relay(struct check_ctx *c)
{
	const char *expected = "an SMTP greeting (220) and EHLO";
	struct submitcf_mailer m;
	struct error err;
	struct smtp_security sec;
	struct smtp_timeouts t;
	struct tls_client *tls = NULL;
	struct auth_client *auth = NULL;
	struct addrinfo hints, *ai = NULL, *a;
	enum smtp_setup_kind kind = SMTP_SETUP_CONNECTION;
	char name[300], host[300], where[400], port[16], ip[64], helo[256], found[900];
	char want[200];
	int timeout = c->cfg->relay_timeout_ms > 0 ? c->cfg->relay_timeout_ms
	    : CHECK_RELAY_TIMEOUT_MS, rc;
	bool ok = false;

	if (c->cf == NULL)
		return;
	submitcf_relay(c->cf, name, sizeof name, host, sizeof host);
	if (!submitcf_mailer(c->cf, "relay", &m, &err)) {
		ck_add(c, "relay", CHECK_WARNING, c->cf_path, err.reason, expected, CK_RELAY_ADVICE);
		return;
	}
	snprintf(where, sizeof where, "%s:%d", name, m.port);
	if (c->cfg->conf != NULL && !conf_secure(c->cfg->conf, c->have_owner ? c->owner_uid :
	    geteuid(), &tls, &auth, &err)) {
		ck_add(c, "relay", CHECK_WARNING, where, err.reason,
		    "TLS and AUTH as clientq.conf sets them", CK_RELAY_TLS_ADVICE);
		return;
	}
	if (tls != NULL && tls_client_policy(tls) == TLS_POLICY_MAY)
		expected = "an SMTP greeting (220) and EHLO (STARTTLS when offered)";
	else if (tls != NULL)
		snprintf(want, sizeof want, "an SMTP greeting (220), EHLO and STARTTLS as "
		    "tls.policy=%s asks", tls_policy_str(tls_client_policy(tls)));
	if (tls != NULL && tls_client_policy(tls) != TLS_POLICY_MAY)
		expected = want;
	memset(&sec, 0, sizeof sec);
	sec.tls = tls;
	sec.tls_name = host;
	sec.auth = auth;
	sec.relay = name;
	/* Each step's timeout, in whole seconds, at least one. */
	smtp_timeouts_default(&t);
	t.connect = t.initial = t.helo = t.starttls = t.auth = t.quit =
	    timeout < 1000 ? 1 : timeout / 1000;
	ck_helo(c, helo, sizeof helo);
	snprintf(port, sizeof port, "%d", m.port);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(found, sizeof found, "cannot resolve %s: %s", host, gai_strerror(rc));
		ck_add(c, "relay", CHECK_WARNING, where, found, expected, CK_RELAY_ADVICE);
		goto out;
	}
	snprintf(found, sizeof found, "no address");
	/* Each address in turn, as delivery would, until one takes mail. */
	for (a = ai; a != NULL && !ok; a = a->ai_next)
		if (getnameinfo(a->ai_addr, a->ai_addrlen, ip, sizeof ip, NULL, 0,
		    NI_NUMERICHOST) == 0)
			ok = ck_session(ip, m.port, helo, &t, &sec, found, sizeof found, &kind);
	freeaddrinfo(ai);
	if (ok)
		ck_add(c, "relay", CHECK_OK, where, found, expected, NULL);
	else
		ck_add(c, "relay", CHECK_WARNING, where, found, expected,
		    kind == SMTP_SETUP_CONNECTION ? CK_RELAY_ADVICE : CK_RELAY_TLS_ADVICE);
out:
	tls_client_free(tls);
	auth_client_free(auth);
}
