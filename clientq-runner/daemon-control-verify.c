/*
 * daemon-control-verify.c: clientqctl verify, the control command that
 * asks the relay whether it would take recipients from the calling user
 * (daemon-control.c says where each command runs).
 */
#include "config.h"

#include "daemon-control-private.h"
#include "daemon-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/render.h"
#include "queue/log.h"
#include "smtp/smtp.h"
#include "smtp/verify.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

/*
 * verify: ask the relay whether it would take these recipients from the
 * calling user, as delivery would send them (the sender qualified and
 * masqueraded as delivery does it, each recipient qualified with the
 * envelope's domain), and never send a message: EHLO (STARTTLS, AUTH as
 * delivery does them), MAIL, one RCPT each, RSET, QUIT.
 *
 * Where it runs: in a child (control_spawn), as list and show do.  The
 * session waits on the relay for up to its Timeout.* values per phase
 * (minutes, with TLS and AUTH), and on NSS for the caller's name; the
 * loop must wait on neither.  Driving the session on the loop instead
 * would need a second connection registry beside the engine's for a
 * request that is rare; a child costs a fork and keeps the loop's code
 * as it is.  The child writes its answer to the client itself, so a
 * client that stops reading holds only its child (killed after
 * CONTROL_CHILD_SECONDS), never the loop; the children an ordinary user
 * may have at once are bounded (CONTROL_MAX_CHILDREN_PER_UID), and each
 * user has a token bucket (verify.h: a burst of VERIFY_BURST, then one
 * every VERIFY_REFILL_MS).  Root and the runner's user are not
 * rate-limited (as for flush): they may as well run the relay's own
 * tools.
 *
 * The addresses are checked on the loop (verify_address: no CR, LF or
 * other control character, no space or angle bracket, at most 254
 * octets, at most VERIFY_MAX_ADDRS of them) before anything is forked,
 * so that nothing a user types can become a command line of its own.
 *
 * When the relay's circuit breaker is open the answer is "relay
 * unavailable" at once, without a connection: the daemon knows already,
 * and a user must not be able to make it knock on a relay that is down.
 * A session that cannot be set up in the child says the same; it is
 * not fed to the breaker (the child has no way back to it, and the next
 * delivery finds out on its own).
 */

/* The marker before a "relay unavailable" status line, so that
 * clientqctl can tell it from any other TRY (clientqctl(8): exit 69). */
#define DAEMON_VERIFY_UNAVAILABLE "- relay-unavailable"

static struct verify_bucket *
daemon_verify_bucket(struct daemon *d, uid_t uid)
{
	struct verify_bucket *b, *oldest = &d->verifiers[0];
	int i;

	for (i = 0; i < DAEMON_FLUSH_USERS; i++) {
		b = &d->verifiers[i];
		if (b->last != 0 && b->uid == uid)
			return b;
		if (b->last < oldest->last)
			oldest = b;
	}
	memset(oldest, 0, sizeof *oldest);
	oldest->uid = uid;
	return oldest;
}

static void
daemon_child_verify(void *arg, FILE *out)
{
	const struct daemon_reader *r = arg;
	struct daemon *d = r->d;
	const struct deliver_config *dc = d->cfg->dc;
	struct smtp_conn *c;
	struct smtp_txn t;
	struct smtp_rcpt_result *res;
	struct strbuf mail = STRBUF_INIT, addr = STRBUF_INIT;
	char **cmds, name[256];
	struct error err;
	const char *a;
	struct daemon_peer peer = *r->peer;
	size_t n = 0, i, pos = 0;
	enum smtp_event ev;

	if (!daemon_peer_named(&peer)) {
		control_fprint_end(out, CTL_NO, "verify: uid %lu has no user name to send from",
		    (unsigned long)r->peer->uid);
		return;
	}
	snprintf(name, sizeof name, "%s", peer.name);
	/* The sender as delivery qualifies it: @$j, or masqueraded when
	 * submit.cf masquerades the envelope. */
	strbuf_addstr(&mail, "MAIL From:<");
	if (dc->masq_envelope)
		render_address_masq(name, &dc->ropts, &mail);
	else
		render_address(name, &dc->ropts, &mail);
	strbuf_addch(&mail, '>');
	while (ctl_get_next(r->rq, "address", &pos) != NULL)
		n++;
	cmds = xcalloc(n, sizeof *cmds);
	res = xcalloc(n, sizeof *res);
	pos = 0;
	for (i = 0; i < n && (a = ctl_get_next(r->rq, "address", &pos)) != NULL; i++) {
		struct strbuf cmd = STRBUF_INIT;

		strbuf_addstr(&cmd, "RCPT To:<");
		render_address(a, &dc->env_opts, &cmd);
		strbuf_addch(&cmd, '>');
		cmds[i] = strbuf_detach(&cmd, NULL);
	}
	c = smtp_open(d->cfg->relay_ip, d->cfg->port, d->cfg->helo, d->cfg->timeouts, &err);
	if (c == NULL) {
		fprintf(out, "D %s\n", DAEMON_VERIFY_UNAVAILABLE);
		control_fprint_end(out, CTL_TRY, "relay unavailable: %s", err.reason);
		goto out;
	}
	if (d->cfg->security != NULL)
		smtp_secure(c, d->cfg->security);
	ev = smtp_wait(c);
	if (ev != SMTP_EV_READY) {
		fprintf(out, "D %s\n", DAEMON_VERIFY_UNAVAILABLE);
		control_fprint_end(out, CTL_TRY, "relay unavailable: %s; nothing was sent",
		    smtp_error(c));
		smtp_free(c);
		goto out;
	}
	memset(&t, 0, sizeof t);
	t.mail_cmd = mail.buf;
	t.rcpt_cmds = (const char *const *)cmds;
	t.nrcpt = n;
	t.rcpt = res;
	t.no_data = true;
	if (!smtp_submit(c, &t) || smtp_wait(c) != SMTP_EV_TXN_DONE) {
		control_fprint_end(out, CTL_TRY, "the relay's session broke: %s", smtp_error(c));
		smtp_free(c);
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct smtp_reply *rp = &res[i].reply;
		const char *text;

		/* A refused MAIL (or RSET) decided for everyone: its reply. */
		if (t.status != SMTP_OK && (t.phase == SMTP_PHASE_MAIL ||
		    t.phase == SMTP_PHASE_RSET))
			rp = &t.reply;
		strbuf_reset(&addr);
		/* The address as it went out: between the brackets. */
		a = strchr(cmds[i], '<');
		strbuf_append(&addr, a + 1, strlen(a + 1) - 1);
		text = rp->code != 0 ? rp->text : smtp_error(c);
		fprintf(out, "D %s %s %d %s %s\n", addr.buf,
		    verify_outcome_str(verify_outcome_of(rp->code)), rp->code,
		    rp->enhanced[0] != '\0' ? rp->enhanced : "-",
		    text != NULL && *text != '\0' ? text : "(no reply)");
	}
	if (t.status != SMTP_OK && t.phase == SMTP_PHASE_MAIL)
		control_fprint_end(out, CTL_OK, "the relay refused the sender %s", mail.buf + 10);
	else
		control_fprint_end(out, CTL_OK, "%s", "");
	fflush(out);
	/* QUIT after the RSET (at once when the connection broke). */
	smtp_quit(c);
	(void)smtp_wait(c);
	smtp_free(c);
out:
	for (i = 0; i < n; i++)
		free(cmds[i]);
	free(cmds);
	free(res);
	strbuf_free(&mail);
	strbuf_free(&addr);
}

void
daemon_cmd_verify(struct daemon *d, control_token t, const struct daemon_peer *p,
    const struct ctl_request *rq)
{
	struct daemon_reader r = { d, p, rq };
	char out[VERIFY_ADDR_MAX + 1], who[200], relay[200];
	struct error why;
	const char *a;
	size_t n = 0, pos = 0;
	long long left;

	if (d->stopping) {
		control_end(d->ctl, t, CTL_TRY, "the daemon is stopping");
		return;
	}
	while ((a = ctl_get_next(rq, "address", &pos)) != NULL) {
		if (!verify_address(a, out, sizeof out, &why)) {
			control_end(d->ctl, t, CTL_BAD, "verify: address %zu refused: %s; nothing was sent",
			    n + 1, why.reason);
			return;
		}
		/* What goes out is the stripped form: the child reads it
		 * back from the request, so it must be the same text. */
		if (strcmp(a, out) != 0) {
			control_end(d->ctl, t, CTL_BAD,
			    "verify: address %zu must be sent without angle brackets", n + 1);
			return;
		}
		n++;
	}
	if (n == 0) {
		control_end(d->ctl, t, CTL_BAD, "verify: at least one address is needed");
		return;
	}
	if (n > VERIFY_MAX_ADDRS) {
		control_end(d->ctl, t, CTL_BAD, "verify: at most %d addresses per request (%zu given)",
		    VERIFY_MAX_ADDRS, n);
		return;
	}
	if (!p->admin &&
	    (left = verify_bucket_take(daemon_verify_bucket(d, p->uid), daemon_now_ms())) > 0) {
		control_end(d->ctl, t, CTL_TRY,
		    "verify refused: %d requests per user, then one every %d s; try again in %lld s",
		    VERIFY_BURST, VERIFY_REFILL_MS / 1000, (left + 999) / 1000);
		return;
	}
	daemon_who(p, who, sizeof who);
	log_msg(LOG_LVL_INFO, "verify: %zu address%s (requested by %s)", n, n == 1 ? "" : "es",
	    who);
	if (d->breaker.state != RETRY_UP) {
		daemon_relay_name(d, relay, sizeof relay);
		control_line(d->ctl, t, 'D', "%s", DAEMON_VERIFY_UNAVAILABLE);
		control_end(d->ctl, t, CTL_TRY,
		    "relay unavailable: %s is down (the daemon's circuit breaker is open); nothing was sent",
		    relay);
		return;
	}
	if (!control_spawn(d->ctl, t, daemon_child_verify, &r))
		control_end(d->ctl, t, CTL_TRY, "busy: too many requests under way; try again");
}
