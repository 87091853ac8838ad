/*
 * check-relay: the check that the relay named in submit.cf takes mail the
 * way delivery will reach it (check-private.h, check.h).  Everything that
 * decides how delivery meets the relay is delivery's own: the address
 * and the EHLO name (relay.h), the TLS and AUTH clients clientq.conf
 * makes (conf_secure), the SMTP client (smtp.h); so a certificate that
 * does not verify, a relay without STARTTLS under tls.policy=verify, or
 * credentials the relay refuses are found here, in the words delivery
 * would log, not by the first message.  Only the timeouts are the
 * check's: the whole session is bounded, so that --check answers soon.
 */
#include "config.h"

#include "check/check-private.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config/conf.h"
#include "config/relay.h"
#include "smtp/auth.h"
#include "smtp/smtp.h"
#include "smtp/tls.h"

static const char CK_RELAY_ADVICE[] =
    "mail waits in the client queue until the relay answers: start the MTA, or point "
    "submit.cf's relay (FEATURE(msp), D{MTAHost}) at one that runs";
static const char CK_RELAY_TLS_ADVICE[] =
    "the relay must offer what clientq.conf's tls.* and auth.* settings ask "
    "(clientq.conf(5)); the runner's log says the same for each attempt";

/* What a session that got as far as delivery needs said about STARTTLS
 * and AUTH, after the greeting. */
static void
ck_ready(struct smtp_conn *s, const struct smtp_security *sec, char *found, size_t size)
{
	const struct smtp_reply *r = smtp_greeting(s);
	struct tls_info in;
	const char *mech = smtp_authenticated(s);
	size_t n;

	n = (size_t)snprintf(found, size, "%s", r->full);
	if (n < size && smtp_tls_info(s, &in))
		n += (size_t)snprintf(found + n, size - n,
		    "; over TLS: version=%s, verify=%s%s%s%s", in.version, in.verify,
		    in.verify_why[0] ? " (" : "", in.verify_why, in.verify_why[0] ? ")" : "");
	else if (n < size && sec->tls != NULL)
		/* Policy may: delivery goes on in clear, as sendmail's MSP. */
		n += (size_t)snprintf(found + n, size - n, "; in clear: %s",
		    (smtp_extensions(s) & SMTP_EXT_STARTTLS) ? "STARTTLS refused" :
		    "the relay offers no STARTTLS");
	if (n < size && mech != NULL)
		(void)snprintf(found + n, size - n, "; AUTH %s accepted", mech);
	else if (n < size && sec->auth != NULL)
		(void)snprintf(found + n, size - n, "; no AUTH: the relay offers none");
}

/* Why the session ended before it was ready, as delivery logs it: its
 * "relay ... without TLS as tls.policy wants it: ..." line (smtp_error,
 * with the STARTTLS=client error line's reason when that says more). */
static void
ck_failed(struct smtp_conn *s, enum smtp_setup_kind kind, char *found, size_t size)
{
	const char *tls_why = smtp_tls_error(s);

	if (kind == SMTP_SETUP_CONNECTION)
		snprintf(found, size, "%s%s", smtp_error(s),
		    smtp_greeting(s)->code >= 400 ? " (it refuses mail)" : "");
	else if (kind == SMTP_SETUP_TLS && tls_why[0] != '\0' &&
	    strcmp(tls_why, smtp_error(s)) != 0)
		snprintf(found, size, "%s: %s (%s)", smtp_setup_kind_str(kind), smtp_error(s),
		    tls_why);
	else
		snprintf(found, size, "%s: %s", smtp_setup_kind_str(kind), smtp_error(s));
}

/* One session with the relay's address, up to where delivery would send
 * MAIL (greeting, EHLO, STARTTLS and AUTH as sec asks), then QUIT.  True
 * when it got that far; what was found either way in found, and in
 * *kind what failed. */
static bool
ck_session(const struct relay_target *rt, int port, const char *helo,
    const struct smtp_timeouts *t, const struct smtp_security *sec, char *found, size_t size,
    enum smtp_setup_kind *kind)
{
	struct smtp_conn *s;
	struct error err;
	bool ok;

	*kind = SMTP_SETUP_CONNECTION;
	if ((s = smtp_open(rt->ip, port, helo, t, &err)) == NULL) {
		snprintf(found, size, "%s", err.reason);
		return false;
	}
	smtp_secure(s, sec);
	ok = smtp_wait(s) == SMTP_EV_READY;
	if (ok) {
		ck_ready(s, sec, found, size);
		smtp_quit(s);
		(void)smtp_wait(s);
	} else {
		*kind = smtp_setup_kind(s);
		ck_failed(s, *kind, found, size);
	}
	smtp_free(s);
	return ok;
}

void
ck_relay(struct check_ctx *c)
{
	struct submitcf_mailer m;
	struct relay_target rt;
	struct relay_local local;
	struct error err, rerr;
	struct smtp_security sec;
	struct smtp_timeouts t;
	struct tls_client *tls = NULL;
	struct auth_client *auth = NULL;
	enum smtp_setup_kind kind = SMTP_SETUP_CONNECTION;
	char where[400], found[1200], expected[300];
	int timeout = c->cfg->relay_timeout_ms > 0 ? c->cfg->relay_timeout_ms
	    : CHECK_RELAY_TIMEOUT_MS, secs;
	bool resolved, ok;
	size_t n;

	if (c->cf == NULL)
		return;
	resolved = relay_resolve(c->cf, &rt, &rerr);
	if (!submitcf_mailer(c->cf, "relay", &m, &err)) {
		ck_add(c, "relay", CHECK_WARNING, c->cf_path, err.reason,
		    "an SMTP greeting (220) and EHLO", CK_RELAY_ADVICE);
		return;
	}
	snprintf(where, sizeof where, "%s:%d", rt.name, m.port);
	/* As the runner's user makes them: AUTH's credentials must be
	 * RunAsUser's. */
	if (c->cfg->conf != NULL && !conf_secure(c->cfg->conf, c->have_owner ? c->owner_uid :
	    geteuid(), &tls, &auth, &err)) {
		ck_add(c, "relay", CHECK_WARNING, where, err.reason,
		    "TLS and AUTH as clientq.conf sets them", CK_RELAY_TLS_ADVICE);
		return;
	}
	if (tls == NULL)
		n = (size_t)snprintf(expected, sizeof expected, "an SMTP greeting (220) and EHLO");
	else if (tls_client_policy(tls) == TLS_POLICY_MAY)
		n = (size_t)snprintf(expected, sizeof expected,
		    "an SMTP greeting (220) and EHLO (STARTTLS when offered)");
	else
		n = (size_t)snprintf(expected, sizeof expected,
		    "an SMTP greeting (220), EHLO and STARTTLS as tls.policy=%s asks",
		    tls_policy_str(tls_client_policy(tls)));
	if (auth != NULL && n < sizeof expected)
		(void)snprintf(expected + n, sizeof expected - n, ", then AUTH (%s) when offered",
		    auth_client_mechs(auth));
	if (!resolved) {
		ck_add(c, "relay", CHECK_WARNING, where, rerr.reason, expected, CK_RELAY_ADVICE);
		goto out;
	}
	relay_local(c->cf, &local);
	relay_security(&rt, tls, auth, &sec);
	/* The check's bound on the whole session; each step's own timeout
	 * (whole seconds) no shorter, so that the bound is what ends it. */
	secs = (timeout + 999) / 1000;
	smtp_timeouts_default(&t);
	t.connect = t.initial = t.helo = t.starttls = t.auth = t.quit = secs;
	t.total_ms = timeout;
	ok = ck_session(&rt, m.port, local.domain, &t, &sec, found, sizeof found, &kind);
	if (ok)
		ck_add(c, "relay", CHECK_OK, where, found, expected, NULL);
	else
		ck_add(c, "relay", CHECK_WARNING, where, found, expected,
		    kind == SMTP_SETUP_CONNECTION ? CK_RELAY_ADVICE : CK_RELAY_TLS_ADVICE);
out:
	tls_client_free(tls);
	auth_client_free(auth);
}
