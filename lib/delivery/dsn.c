#include "config.h"

#include "delivery/dsn.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/xalloc.h"
#include "queue/xtext.h"

/* sendmail's METAQUOTE'd macro reference in Return-Path: <$g>. */
#define DSN_MACRO_G "\201g"

void
dsn_arpadate(time_t t, char *buf, size_t size)
{
	struct tm lt;
	char day[8], rest[32], zone[32];
	long off;

	localtime_r(&t, &lt);
	strftime(day, sizeof day, "%a", &lt);
	strftime(rest, sizeof rest, "%b %Y %H:%M:%S", &lt);
	off = (long)(lt.tm_gmtoff / 60);
	if (off == 0)
		snprintf(zone, sizeof zone, "GMT");
	else
		snprintf(zone, sizeof zone, "%c%02ld%02ld%s%s%s", off < 0 ? '-' : '+',
		    labs(off) / 60, labs(off) % 60,
		    lt.tm_zone != NULL && *lt.tm_zone ? " (" : "",
		    lt.tm_zone != NULL ? lt.tm_zone : "",
		    lt.tm_zone != NULL && *lt.tm_zone ? ")" : "");
	/* The day of the month without a leading zero, as ctime's. */
	snprintf(buf, size, "%s, %d %s %s", day, lt.tm_mday, rest, zone);
}

void
dsn_interval(long long secs, char *buf, size_t size)
{
	static const struct {
		const char *unit;
		long long len;
	} units[] = {
		{ "week", 7 * 86400 }, { "day", 86400 }, { "hour", 3600 },
		{ "minute", 60 }, { "second", 1 },
	};
	size_t i, n = 0;

	buf[0] = '\0';
	if (secs <= 0) {
		snprintf(buf, size, "zero seconds");
		return;
	}
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		long long k = secs / units[i].len;

		secs %= units[i].len;
		if (k == 0 || n >= size)
			continue;
		snprintf(buf + n, size - n, "%s%lld %s%s", n ? ", " : "", k,
		    units[i].unit, k == 1 ? "" : "s");
		n = strlen(buf);
	}
}

bool
dsn_wants_failure(const struct qf_rcpt *r)
{
	return !(r->flags & QF_RF_HASNOTIFY) || (r->flags & QF_RF_FAILURE);
}

bool
dsn_wants_delay(const struct qf_rcpt *r)
{
	/* Without NOTIFY= the submission program writes F and D itself
	 * (RPFD); a file without them is taken as written. */
	return (r->flags & QF_RF_DELAY) != 0;
}

bool
dsn_wants_success(const struct qf_rcpt *r)
{
	return (r->flags & QF_RF_SUCCESS) != 0;
}

/* The Precedence: header's word. */
static const char *
dsn_precedence(const struct qf_envelope *env)
{
	size_t i;

	for (i = 0; i < env->nheaders; i++)
		if (strcasecmp(env->headers[i].name, "Precedence") == 0)
			return env->headers[i].value;
	return NULL;
}

/* The class submit.cf's P lines give the Precedence: word: -1, 0, 1. */
static int
dsn_class(const struct qf_envelope *env)
{
	static const struct {
		const char *word;
		int sign;
	} cls[] = {
		{ "special-delivery", 1 }, { "first-class", 0 }, { "list", -1 },
		{ "bulk", -1 }, { "junk", -1 },
	};
	const char *p = dsn_precedence(env);
	size_t i, n;

	if (p == NULL)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	for (n = 0; p[n] != '\0' && !isspace((unsigned char)p[n]); n++)
		;
	for (i = 0; i < sizeof cls / sizeof cls[0]; i++)
		if (strlen(cls[i].word) == n && strncasecmp(p, cls[i].word, n) == 0)
			return cls[i].sign;
	return 0;
}

/* A Precedence: of list, bulk or junk (submit.cf's P lines give them
 * negative classes): no warnings, no body returned. */
static bool
dsn_class_negative(const struct qf_envelope *env)
{
	return dsn_class(env) < 0;
}

const char *
dsn_timeout_class(const struct qf_envelope *env)
{
	int c = dsn_class(env);

	return c > 0 ? "urgent" : c < 0 ? "non-urgent" : "normal";
}

bool
dsn_may_warn(const struct qf_envelope *env)
{
	const char *s = env->sender != NULL ? env->sender : "";
	size_t n = strlen(s);

	if (env->flags & (QF_EF_WARNING | QF_EF_RESPONSE))
		return false;
	/* sendmail's tests, on the sender as written: "owner-" at the
	 * start, "-request" at the end. */
	if (strcmp(s, "<>") == 0 || *s == '\0' || strncasecmp(s, "owner-", 6) == 0)
		return false;
	if (n > 8 && strcasecmp(s + n - 8, "-request") == 0)
		return false;
	return !dsn_class_negative(env);
}

/* The alias a C line names: "C:addr" or "Cuser:uid:gid:addr". */
static const char *
dsn_expanded_from(const struct qf_rcpt *r)
{
	const char *p = r->ctladdr;
	int colons = 0;

	if (p == NULL)
		return NULL;
	if (*p == ':')
		return p[1] ? p + 1 : NULL;
	for (; *p != '\0'; p++)
		if (*p == ':' && ++colons == 3)
			return p[1] ? p + 1 : NULL;
	return NULL;
}

static void
dsn_macro_add(struct qf_envelope *env, const char *name, const char *value)
{
	env->macros = xreallocarray(env->macros, env->nmacros + 1, sizeof *env->macros);
	env->macros[env->nmacros].name = xstrdup(name);
	env->macros[env->nmacros].value = xstrdup(value);
	env->nmacros++;
}

static void
dsn_header_add(struct qf_envelope *env, const char *cond, const char *name,
    const char *value)
{
	env->headers = xreallocarray(env->headers, env->nheaders + 1, sizeof *env->headers);
	env->headers[env->nheaders].cond = xstrdup(cond);
	env->headers[env->nheaders].name = xstrdup(name);
	env->headers[env->nheaders].value = xstrdup(value);
	env->nheaders++;
}

/* sendmail's built-in file mailer's F= flags: a notification's data file
 * is written through it (queueup), so they decide which of the returned
 * headers are written (P: Return-Path:, D, F, M; not x: Full-Name:). */
#define DSN_FILE_MAILER_FLAGS "lsDFMPEouq9"

/* The returned header block as queued: the parent's headers as the file
 * mailer writes them, with no address qualified or masqueraded (no
 * rulesets of the relay mailer's apply), LF line ends. */
static void
dsn_returned_headers(const struct dsn_config *cfg, const struct qf_envelope *parent,
    struct strbuf *out)
{
	struct render_opts o = *cfg->ropts;
	struct strbuf crlf = STRBUF_INIT;
	size_t i;

	o.mailer_flags = DSN_FILE_MAILER_FLAGS;
	o.domain = NULL;
	o.masq = NULL;
	o.is_local = NULL;
	(void)render_headers(parent, &o, &crlf);
	/* Without the empty line that ends the block. */
	if (crlf.len >= 2)
		crlf.len -= 2;
	for (i = 0; i < crlf.len; i++)
		if (!(crlf.buf[i] == '\r' && i + 1 < crlf.len && crlf.buf[i + 1] == '\n'))
			strbuf_addch(out, crlf.buf[i]);
	strbuf_free(&crlf);
}

static const char *
dsn_action_str(enum dsn_action a)
{
	switch (a) {
	case DSN_ACT_FAILED:
		return "failed";
	case DSN_ACT_DELAYED:
		return "delayed";
	case DSN_ACT_RELAYED:
		return "relayed (to non-DSN-aware mailer)";
	}
	return "failed";
}

/* The address sendmail calls q_user: the recipient as the relay got it. */
static void
dsn_actual(const struct dsn_config *cfg, const struct qf_rcpt *r, struct strbuf *out)
{
	render_address(r->addr, cfg->env_opts, out);
	if (strchr(strbuf_str(out), '@') == NULL)
		strbuf_addf(out, "@%s", cfg->hostname);
}

/* The human-readable lists: permanent errors, transient errors,
 * successes; each with its header line, only when not empty. */
static void
dsn_lists(const struct dsn_rcpt *r, size_t n, struct strbuf *b)
{
	static const struct {
		enum dsn_action action;
		const char *title;
	} lists[] = {
		/* sendmail lists delayed recipients ("transient
		 * non-fatal errors") only for Deliver-By notices. */
		{ DSN_ACT_FAILED, "permanent fatal errors" },
		{ DSN_ACT_RELAYED, "successful delivery notifications" },
	};
	size_t l, i;

	for (l = 0; l < sizeof lists / sizeof lists[0]; l++) {
		bool any = false;

		for (i = 0; i < n; i++) {
			const char *alias = dsn_expanded_from(r[i].rcpt);

			if (r[i].action != lists[l].action)
				continue;
			if (!any)
				strbuf_addf(b, "   ----- The following addresses had %s -----\n",
				    lists[l].title);
			any = true;
			if (r[i].action == DSN_ACT_RELAYED)
				strbuf_addf(b, "%s  (relayed to non-DSN-aware mailer)\n",
				    r[i].rcpt->addr);
			else
				strbuf_addf(b, "%s\n", r[i].rcpt->addr);
			if (r[i].action == DSN_ACT_FAILED && r[i].reply != NULL)
				strbuf_addf(b, "    (reason: %s)\n", r[i].reply);
			if (alias != NULL)
				strbuf_addf(b, "    (expanded from: %s)\n", alias);
		}
		if (any)
			strbuf_addch(b, '\n');
	}
}

void
dsn_xscript_sent(struct dsn_xscript *x, const char *command)
{
	free(x->pending);
	x->pending = command != NULL ? xstrdup(command) : NULL;
}

void
dsn_xscript_reply(struct dsn_xscript *x, const char *relay, const char *reply)
{
	if (!x->intro)
		strbuf_addf(&x->text, "... while talking to %s:\n", relay);
	x->intro = true;
	if (x->pending != NULL)
		strbuf_addf(&x->text, ">>> %s\n", x->pending);
	dsn_xscript_sent(x, NULL);
	strbuf_addf(&x->text, "<<< %s\n", reply);
}

void
dsn_xscript_line(struct dsn_xscript *x, const char *line)
{
	strbuf_addf(&x->text, "%s\n", line);
}

void
dsn_xscript_free(struct dsn_xscript *x)
{
	strbuf_free(&x->text);
	free(x->pending);
	memset(x, 0, sizeof *x);
}

/* The command a reply answered as sendmail's transcript names it: the
 * final dot is not a command it records, so its reply follows DATA. */
static const char *
dsn_xscript_command(const char *command)
{
	return strcmp(command, ".") == 0 ? "DATA" : command;
}

/* A transcript made from the reported recipients alone (dsn_config's
 * transcript is NULL): what sendmail's would say of them, in their
 * order. */
static void
dsn_transcript_made(const struct dsn_config *cfg, const struct dsn_rcpt *r, size_t n,
    struct strbuf *b)
{
	struct dsn_xscript x = { STRBUF_INIT, false, NULL };
	bool whole = false;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *a = r[i].rcpt->addr;
		/* Its own RCPT's refusal ("DATA" with PIPELINING: a
		 * recipient unknown), or the whole transaction's. */
		bool deferred = r[i].action == DSN_ACT_DELAYED || r[i].status[0] == '4' ||
		    strcmp(r[i].status + 1, ".4.7") == 0;	/* X.4.7: deferred until expiry */
		bool own = r[i].command != NULL && (strncmp(r[i].command, "RCPT", 4) == 0 ||
		    (strcmp(r[i].command, "DATA") == 0 && r[i].text != NULL &&
		    strcmp(r[i].text, "User unknown") == 0) || deferred);
		char line[1200];

		if (r[i].action == DSN_ACT_RELAYED)
			continue;
		/* A refusal of the whole transaction (MAIL, DATA, the dot)
		 * is said once. */
		if (r[i].reply != NULL && r[i].command != NULL && (own || !whole)) {
			dsn_xscript_sent(&x, dsn_xscript_command(r[i].command));
			dsn_xscript_reply(&x, cfg->relay_host, r[i].reply);
		}
		if (deferred) {
			/* Delayed, or failed by expiry after a deferral. */
			snprintf(line, sizeof line, "%s... Deferred: %s", a,
			    r[i].reply != NULL ? r[i].reply : r[i].text != NULL ? r[i].text : "");
			dsn_xscript_line(&x, line);
		} else if (!own && r[i].command != NULL) {
			if (!whole)
				dsn_xscript_line(&x, r[i].text != NULL &&
				    strcmp(r[i].text, "Data format error") == 0 ?
				    "501 5.6.0 Data format error" : "554 5.0.0 Service unavailable");
			whole = true;
		} else if (r[i].reply != NULL && strlen(r[i].reply) >= 3) {
			snprintf(line, sizeof line, "%.3s %s %s... %s", r[i].reply, r[i].status,
			    a, r[i].text != NULL ? r[i].text : r[i].reply);
			dsn_xscript_line(&x, line);
		} else {
			snprintf(line, sizeof line, "%s... %s", a, r[i].text != NULL ? r[i].text : "");
			dsn_xscript_line(&x, line);
		}
	}
	/* "relayed" in the order the recipients were sent: sendmail sends
	 * a queue file's recipients last first. */
	for (i = n; i-- > 0;)
		if (r[i].action == DSN_ACT_RELAYED)
			strbuf_addf(&x.text, "%s... relayed; expect no further notifications\n",
			    r[i].rcpt->addr);
	strbuf_append(b, x.text.buf, x.text.len);
	dsn_xscript_free(&x);
}

/* The transcript: the session's, or one made from the replies, then
 * sendmail's words for an expiry or a delay warning. */
static void
dsn_transcript(const struct dsn_config *cfg, const struct dsn_rcpt *r, size_t n,
    enum dsn_kind kind, bool expired, struct strbuf *b)
{
	char warn[64], ret[64];

	strbuf_addstr(b, "   ----- Transcript of session follows -----\n");
	if (cfg->transcript != NULL)
		strbuf_addstr(b, cfg->transcript);
	else
		dsn_transcript_made(cfg, r, n, b);
	dsn_interval(cfg->warn_after, warn, sizeof warn);
	dsn_interval(cfg->return_after, ret, sizeof ret);
	if (expired)
		strbuf_addf(b, "Message could not be delivered for %s\n"
		    "Message will be deleted from queue\n", ret);
	else if (kind == DSN_WARNING)
		strbuf_addf(b, "Warning: message still undelivered after %s\n"
		    "Will keep trying until message is %s old\n", warn, ret);
}

/* The message/delivery-status part. */
static void
dsn_status_part(const struct dsn_config *cfg, const struct qf_envelope *parent,
    const struct dsn_rcpt *r, size_t n, const char *boundary, struct strbuf *b)
{
	char date[64];
	size_t i;

	strbuf_addf(b, "\n--%s\nContent-Type: message/delivery-status\n\n", boundary);
	if (parent->envid != NULL) {
		strbuf_addstr(b, "Original-Envelope-Id: ");
		xtext_decode(parent->envid, b);
		strbuf_addch(b, '\n');
	}
	strbuf_addf(b, "Reporting-MTA: dns; %s\n", cfg->hostname);
	dsn_arpadate((time_t)parent->ctime, date, sizeof date);
	strbuf_addf(b, "Arrival-Date: %s\n", date);
	for (i = 0; i < n; i++) {
		const struct qf_rcpt *q = r[i].rcpt;
		struct strbuf actual = STRBUF_INIT, fin = STRBUF_INIT;
		const char *semi;

		strbuf_addch(b, '\n');
		if (q->orcpt != NULL && (semi = strchr(q->orcpt, ';')) != NULL) {
			strbuf_addf(b, "Original-Recipient: %.*s;", (int)(semi - q->orcpt),
			    q->orcpt);
			xtext_decode(semi + 1, b);
			strbuf_addch(b, '\n');
		}
		strbuf_addstr(&actual, "rfc822; ");
		dsn_actual(cfg, q, &actual);
		if (q->final_rcpt != NULL) {
			strbuf_addstr(&fin, q->final_rcpt);
		} else {
			strbuf_addf(&fin, "%s; ", cfg->addrtype);
			dsn_actual(cfg, q, &fin);
		}
		strbuf_addf(b, "Final-Recipient: %s\n", fin.buf);
		if (strcmp(actual.buf, fin.buf) != 0)
			strbuf_addf(b, "X-Actual-Recipient: %s\n", actual.buf);
		strbuf_addf(b, "Action: %s\nStatus: %s\n", dsn_action_str(r[i].action),
		    r[i].status);
		if (r[i].remote_mta)
			strbuf_addf(b, "Remote-MTA: %s; %s\n", cfg->mtatype, cfg->relay_host);
		if (r[i].reply != NULL)
			strbuf_addf(b, "Diagnostic-Code: %s; %s\n", cfg->diagtype, r[i].reply);
		dsn_arpadate(r[i].when, date, sizeof date);
		strbuf_addf(b, "Last-Attempt-Date: %s\n", date);
		strbuf_free(&actual);
		strbuf_free(&fin);
	}
}

void
dsn_make(const struct dsn_config *cfg, const struct qf_envelope *parent,
    const char *parent_id, const struct dsn_rcpt *r, size_t n,
    enum dsn_kind kind, bool expired, const char *to, bool postmaster_copy,
    const char *newid, time_t now, bool parent_ends_nl, struct dsn_message *out)
{
	struct qf_envelope *env = xcalloc(1, sizeof *env);
	struct strbuf v = STRBUF_INIT, *b = &out->head;
	const char *from_host = qf_macro_get(parent, "_");
	const char *df = qf_macro_get(parent, "{daemon_flags}");
	bool eight = (parent->flags & QF_EF_HAS8BIT) != 0;
	bool hdrs_only;
	char date[64], boundary[200], subject[200], stamp[32], warn[64], ret[64];
	char expmsg[96];
	const char *msg = NULL, *auto_sub;
	bool pm_notify = postmaster_copy || (parent->flags & QF_EF_RESPONSE);
	struct tm lt;
	size_t i;

	memset(out, 0, sizeof *out);
	out->env = env;
	dsn_interval(cfg->warn_after, warn, sizeof warn);
	dsn_interval(cfg->return_after, ret, sizeof ret);
	switch (kind) {
	case DSN_WARNING:
		snprintf(subject, sizeof subject, "Warning: could not send message for past %s", warn);
		auto_sub = "warning-timeout";
		msg = subject;
		break;
	case DSN_RECEIPT:
		snprintf(subject, sizeof subject, "Return receipt");
		auto_sub = "return-receipt";
		msg = subject;
		break;
	case DSN_FAILURE:
	default:
		/* To the postmaster about a message whose sender cannot be
		 * told (a notification, the null sender): sendmail's
		 * RTSF_PM_BOUNCE words. */
		snprintf(subject, sizeof subject, "%s: see transcript for details",
		    pm_notify ? "Postmaster notify" : "Returned mail");
		auto_sub = pm_notify ? "postmaster-notification" : "failure";
		break;
	}
	if (kind == DSN_FAILURE) {
		/* sendmail's e_message: the last error's words. */
		for (i = 0; i < n; i++)
			if (r[i].action == DSN_ACT_FAILED && r[i].text != NULL)
				msg = r[i].text;
		if (expired) {
			snprintf(expmsg, sizeof expmsg, "Cannot send message for %s", ret);
			msg = expmsg;
		}
		if (msg == NULL)
			msg = "Unable to deliver mail";
	}
	snprintf(out->summary, sizeof out->summary, "%s: %s",
	    (parent->flags & QF_EF_RESPONSE) ? "return to sender" :
	    kind == DSN_WARNING ? "sender notify" :
	    postmaster_copy ? "postmaster notify" : "DSN", msg);

	/* The envelope, as returntosender() queues it. */
	env->version = 8;
	env->ctime = now;
	/* sendmail writes "Frs" for every notification it queues. */
	env->flags = QF_EF_RESPONSE | QF_EF_SPLIT | (eight ? QF_EF_HAS8BIT : 0);
	dsn_macro_add(env, "_", "localhost");
	dsn_macro_add(env, "r", "");
	dsn_macro_add(env, "s", "localhost");
	if (df != NULL)
		dsn_macro_add(env, "{daemon_flags}", df);
	env->sender = xstrdup("MAILER-DAEMON");
	env->rcpts = xcalloc(1, sizeof *env->rcpts);
	env->nrcpts = 1;
	env->rcpts[0].addr = xstrdup(to);
	env->rcpts[0].flags = QF_RF_PRIMARY | QF_RF_FAILURE;
	strbuf_addf(&v, ":%s", to);
	env->rcpts[0].ctladdr = strbuf_detach(&v, NULL);
	{
		struct qf_rcpt tmp = { .addr = (char *)to };

		strbuf_addf(&v, "%s; ", cfg->addrtype);
		dsn_actual(cfg, &tmp, &v);
		env->rcpts[0].final_rcpt = strbuf_detach(&v, NULL);
	}

	dsn_arpadate(now, date, sizeof date);
	localtime_r(&now, &lt);
	strftime(stamp, sizeof stamp, "%Y%m%d%H%M", &lt);
	snprintf(boundary, sizeof boundary, "%s.%lld/%s", newid, (long long)now, cfg->hostname);
	dsn_header_add(env, "P", "Return-Path", " <" DSN_MACRO_G ">");
	strbuf_addf(&v, " from localhost (localhost)\n\tby %s (%s) id %s;\n\t%s",
	    cfg->hostname, cfg->program, newid, date);
	dsn_header_add(env, "", "Received", strbuf_str(&v));
	strbuf_reset(&v);
	strbuf_addf(&v, " %s", date);
	dsn_header_add(env, "D", "Date", v.buf);
	strbuf_reset(&v);
	dsn_header_add(env, "F", "From", " Mail Delivery Subsystem <MAILER-DAEMON>");
	dsn_header_add(env, "x", "Full-Name", " Mail Delivery Subsystem");
	strbuf_addf(&v, " <%s.%s@%s>", stamp, newid, cfg->hostname);
	dsn_header_add(env, "M", "Message-Id", v.buf);
	strbuf_reset(&v);
	strbuf_addf(&v, " %s", to);
	dsn_header_add(env, "", "To", v.buf);
	strbuf_reset(&v);
	dsn_header_add(env, "", "MIME-Version", " 1.0");
	strbuf_addf(&v, " multipart/report; report-type=delivery-status;\n\tboundary=\"%s\"",
	    boundary);
	dsn_header_add(env, "", "Content-Type", v.buf);
	strbuf_reset(&v);
	if (eight)
		dsn_header_add(env, "", "Content-Transfer-Encoding", " 8bit");
	strbuf_addf(&v, " %s", subject);
	dsn_header_add(env, "", "Subject", v.buf);
	strbuf_reset(&v);
	strbuf_addf(&v, " auto-generated (%s)", auto_sub);
	dsn_header_add(env, "", "Auto-Submitted", v.buf);
	strbuf_free(&v);

	/* The human-readable part. */
	strbuf_addf(b, "This is a MIME-encapsulated message\n\n--%s\n\n", boundary);
	if (kind == DSN_WARNING)
		strbuf_addstr(b,
		    "    **********************************************\n"
		    "    **      THIS IS A WARNING MESSAGE ONLY      **\n"
		    "    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **\n"
		    "    **********************************************\n\n");
	dsn_arpadate((time_t)parent->ctime, date, sizeof date);
	strbuf_addf(b, "The original message was received at %s\nfrom %s\n",
	    date, from_host != NULL ? from_host : "");
	if (pm_notify)
		strbuf_addf(b, "with id %s\n", parent_id);
	strbuf_addch(b, '\n');
	dsn_lists(r, n, b);
	dsn_transcript(cfg, r, n, kind, expired, b);
	dsn_status_part(cfg, parent, r, n, boundary, b);

	/* The original: all of it, or its headers (RET=HDRS, a
	 * notification about a notification's... or a receipt). */
	hdrs_only = kind == DSN_RECEIPT || (parent->flags & QF_EF_NO_BODY_RETN) ||
	    dsn_class_negative(parent);
	strbuf_addf(b, "\n--%s\nContent-Type: %s\n", boundary,
	    hdrs_only ? "text/rfc822-headers" : "message/rfc822");
	if (eight)
		strbuf_addstr(b, "Content-Transfer-Encoding: 8bit\n");
	strbuf_addch(b, '\n');
	dsn_returned_headers(cfg, parent, b);
	out->with_body = !hdrs_only;
	if (hdrs_only)
		env->flags |= QF_EF_NO_BODY_RETN;	/* sendmail's "Frns" */
	if (out->with_body) {
		strbuf_addch(b, '\n');
		if (!parent_ends_nl)
			strbuf_addch(&out->tail, '\n');
	}
	strbuf_addf(&out->tail, "\n--%s--\n\n", boundary);
	env->priority = 30000;	/* the size is added by the caller */
}

void
dsn_message_free(struct dsn_message *m)
{
	qf_free(m->env);
	strbuf_free(&m->head);
	strbuf_free(&m->tail);
	m->env = NULL;
}
