#include "config.h"

#include "delivery/envelope.h"

#include <string.h>

#include "delivery/render.h"
#include "smtp/smtp.h"

void
envelope_mail(const struct qf_envelope *env, unsigned ext,
    const struct render_opts *o, bool masquerade, long long msgsize,
    struct strbuf *out)
{
	strbuf_addstr(out, "MAIL From:<");
	if (!(env->flags & QF_EF_RESPONSE)) {
		if (masquerade)
			render_address_masq(env->sender ? env->sender : "", o, out);
		else
			render_address(env->sender ? env->sender : "", o, out);
	}
	strbuf_addch(out, '>');
	/* smtpmailfrom()'s order and conditions. */
	if ((ext & SMTP_EXT_SIZE) && msgsize > 0)
		strbuf_addf(out, " SIZE=%lld", msgsize);
	if ((env->flags & QF_EF_SMTPUTF8) && (ext & SMTP_EXT_SMTPUTF8))
		strbuf_addstr(out, " SMTPUTF8");
	/* BODY= only repeats what was given at submission (the relay
	 * mailer has flag 8, so sendmail never adds BODY=8BITMIME). */
	if ((ext & SMTP_EXT_8BITMIME) && env->bodytype != NULL)
		strbuf_addf(out, " BODY=%s", env->bodytype);
	if (ext & SMTP_EXT_DSN) {
		if (env->envid != NULL)
			strbuf_addf(out, " ENVID=%s", env->envid);
		if (env->flags & QF_EF_RET_PARAM)
			strbuf_addf(out, " RET=%s",
			    env->flags & QF_EF_NO_BODY_RETN ? "HDRS" : "FULL");
	}
	if ((ext & SMTP_EXT_AUTH) && env->auth != NULL)
		strbuf_addf(out, " AUTH=%s", env->auth);
}

void
envelope_rcpt(const struct qf_rcpt *r, unsigned ext,
    const struct render_opts *o, struct strbuf *out)
{
	strbuf_addstr(out, "RCPT To:<");
	/* A recipient at a local name is local: ruleset 0 hands it to the
	 * relay as user@$j (o->domain: $M with masquerade_envelope). */
	render_address(r->addr, o, out);
	strbuf_addch(out, '>');
	if (!(ext & SMTP_EXT_DSN))
		return;
	if ((r->flags & QF_RF_HASNOTIFY) && (r->flags & QF_RF_PRIMARY)) {
		const char *sep = "";

		strbuf_addstr(out, " NOTIFY=");
		if (r->flags & QF_RF_SUCCESS) {
			strbuf_addstr(out, "SUCCESS");
			sep = ",";
		}
		if (r->flags & QF_RF_FAILURE) {
			strbuf_addf(out, "%sFAILURE", sep);
			sep = ",";
		}
		if (r->flags & QF_RF_DELAY) {
			strbuf_addf(out, "%sDELAY", sep);
			sep = ",";
		}
		if (*sep == '\0')
			strbuf_addstr(out, "NEVER");
	}
	if (r->orcpt != NULL)
		strbuf_addf(out, " ORCPT=%s", r->orcpt);
}

size_t
envelope_batches(const struct qf_envelope *env, size_t *order, size_t *starts)
{
	size_t n = 0, pos = 0, first, last, i;

	for (first = 0; first < env->nrcpts; first += ENVELOPE_MAX_RCPT) {
		last = first + ENVELOPE_MAX_RCPT;
		if (last > env->nrcpts)
			last = env->nrcpts;
		starts[n++] = pos;
		for (i = last; i > first; i--)
			order[pos++] = i - 1;
	}
	return n;
}
