/*
 * clientq-runner: runs sendmail's client queue.
 *
 * This version has the one-shot mode, `--once`: deliver every message in
 * the client queue to the relay named in submit.cf, exactly as
 * `sendmail -Ac -qf` would put it on the wire, and exit.  The daemon
 * (inotify, backoff, circuit breaker, systemd) is built on the same parts.
 *
 * Per message: lock it as sendmail does, read it, send it (recipients in
 * sendmail's transactions, the message rendered as the relay mailer
 * renders it), then
 * - every recipient accepted: remove df, then qf, under the lock;
 * - some accepted, some not: rewrite the qf with only the others, so that
 *   the next run does not send the accepted ones twice;
 * - none accepted: leave the file as it is.
 * Bounces, delay warnings and expiry belong to the failure handling that
 * comes next; until then nothing is ever bounced or dropped here.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "log.h"
#include "qf.h"
#include "qlist.h"
#include "render.h"
#include "smtp.h"
#include "spool.h"
#include "strbuf.h"
#include "submitcf.h"
#include "xalloc.h"

/* Exit codes (sysexits), documented in clientq-runner(8). */
enum run_exit {
	RUN_EXIT_OK = 0,		/* the queue is empty */
	RUN_EXIT_USAGE = 64,
	RUN_EXIT_SOFTWARE = 70,
	RUN_EXIT_OSERR = 71,
	RUN_EXIT_TEMPFAIL = 75,		/* something is still queued */
	RUN_EXIT_CONFIG = 78,
};

/* What happened to one message. */
enum run_result {
	RUN_DELIVERED,		/* all recipients accepted; files removed */
	RUN_PARTIAL,		/* some accepted; the rest requeued */
	RUN_DEFERRED,		/* nothing accepted; file unchanged */
	RUN_SKIPPED,		/* locked, gone, changed or unsafe */
	RUN_QUARANTINED,	/* refused as sendmail would; renamed to Qf */
};

struct run {
	struct submitcf *cf;
	struct spool *sp;
	struct submitcf_mailer mailer;
	struct render_opts ropts;
	struct smtp_timeouts timeouts;
	char relay_host[256];	/* as named: "[127.0.0.1]" */
	char relay_ip[64];
	char domain[256];	/* $j */
	char hostname[256];	/* gethostname() */
	char canon[256];	/* its canonical name */
	bool masq_envelope;	/* FEATURE(masquerade_envelope) */
	struct render_opts env_opts;	/* the envelope's rewriting */
	struct smtp_conn *conn;
	bool relay_down;	/* a connection failed: defer the rest */
	char relay_down_why[300];
	unsigned delivered, deferred;
};

static void
run_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: clientq-runner --once [-C submit.cf] [-O Option=value]... [-L tag]\n"
	    "       clientq-runner --help | --version\n"
	    "\n"
	    "  --once          deliver every message in the client queue now, then exit\n"
	    "                  (0: the queue is empty, 75: something is still queued)\n"
	    "  -C FILE         the submit.cf to read (default %s)\n"
	    "  -O Option=value override an option of submit.cf, as sendmail's -O\n"
	    "  -L tag          the tag of log lines (default sm-msp-queue)\n",
	    CQ_DEFAULT_SUBMIT_CF);
}

static const char *
run_cf_macro(const char *name, void *arg)
{
	return submitcf_macro(arg, name);
}

/* $j: the submit.cf's Dj, else this host's canonical name. */
static void
run_domain(struct run *r)
{
	const char *j = submitcf_macro(r->cf, "j");
	struct addrinfo hints, *ai = NULL;

	if (gethostname(r->hostname, sizeof r->hostname) < 0)
		snprintf(r->hostname, sizeof r->hostname, "localhost");
	r->hostname[sizeof r->hostname - 1] = '\0';
	memset(&hints, 0, sizeof hints);
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(r->hostname, NULL, &hints, &ai) == 0 && ai != NULL &&
	    ai->ai_canonname != NULL)
		snprintf(r->canon, sizeof r->canon, "%s", ai->ai_canonname);
	else
		snprintf(r->canon, sizeof r->canon, "%s", r->hostname);
	if (ai != NULL)
		freeaddrinfo(ai);
	if (j != NULL && *j != '\0' && strchr(j, '$') == NULL)
		snprintf(r->domain, sizeof r->domain, "%s", j);
	else
		snprintf(r->domain, sizeof r->domain, "%s", r->canon);
}

/* Class w, as sendmail fills it at start-up: localhost, the host's own
 * names, $j, and the cf's Cw words. */
static bool
run_is_local(const char *host, void *arg)
{
	const struct run *r = arg;

	return strcasecmp(host, "localhost") == 0 ||
	    strcasecmp(host, r->domain) == 0 ||
	    strcasecmp(host, r->hostname) == 0 ||
	    strcasecmp(host, r->canon) == 0 ||
	    submitcf_class_has(r->cf, "w", host);
}

/* The relay: D{MTAHost}, "[address]" as FEATURE(msp) writes it, or a host
 * name (resolved by address records; the MSP does no MX lookup for a
 * bracketed name, which is what FEATURE(msp) writes). */
static bool
run_relay(struct run *r)
{
	const char *h = submitcf_macro(r->cf, "{MTAHost}");
	struct addrinfo hints, *ai = NULL;
	size_t n;

	if (h == NULL || *h == '\0')
		h = "[localhost]";
	snprintf(r->relay_host, sizeof r->relay_host, "%s", h);
	n = strlen(h);
	if (h[0] == '[' && n > 2 && h[n - 1] == ']')
		snprintf(r->relay_ip, sizeof r->relay_ip, "%.*s", (int)(n - 2), h + 1);
	else
		snprintf(r->relay_ip, sizeof r->relay_ip, "%s", h);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(r->relay_ip, NULL, &hints, &ai) != 0 || ai == NULL) {
		log_msg(LOG_LVL_ERR, "%s: relay %s: cannot resolve it",
		    submitcf_path(r->cf), h);
		return false;
	}
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, r->relay_ip,
	    sizeof r->relay_ip, NULL, 0, NI_NUMERICHOST) != 0) {
		freeaddrinfo(ai);
		return false;
	}
	freeaddrinfo(ai);
	return true;
}

/* The SMTP phase timeouts: sendmail's Timeout.* options when submit.cf or
 * -O sets them (default unit minutes), RFC 5321's values otherwise. */
static bool
run_timeouts(struct run *r)
{
	static const struct {
		const char *opt;
		size_t off;
	} map[] = {
		{ "Timeout.connect", offsetof(struct smtp_timeouts, connect) },
		{ "Timeout.initial", offsetof(struct smtp_timeouts, initial) },
		{ "Timeout.helo", offsetof(struct smtp_timeouts, helo) },
		{ "Timeout.mail", offsetof(struct smtp_timeouts, mail) },
		{ "Timeout.rcpt", offsetof(struct smtp_timeouts, rcpt) },
		{ "Timeout.datainit", offsetof(struct smtp_timeouts, datainit) },
		{ "Timeout.datablock", offsetof(struct smtp_timeouts, datablock) },
		{ "Timeout.datafinal", offsetof(struct smtp_timeouts, datafinal) },
		{ "Timeout.rset", offsetof(struct smtp_timeouts, rset) },
		{ "Timeout.quit", offsetof(struct smtp_timeouts, quit) },
	};
	size_t i;

	smtp_timeouts_default(&r->timeouts);
	for (i = 0; i < sizeof map / sizeof map[0]; i++) {
		const char *v = submitcf_option(r->cf, map[i].opt);
		long long secs;

		if (v == NULL)
			continue;
		if (!submitcf_interval(v, &secs) || secs > 86400) {
			log_msg(LOG_LVL_ERR, "%s: %s=%s is not a time interval (at most 1d)",
			    submitcf_path(r->cf), map[i].opt, v);
			return false;
		}
		/* 0 means "the system's default" in sendmail: keep ours. */
		if (secs > 0)
			*(int *)((char *)&r->timeouts + map[i].off) = (int)secs;
	}
	return true;
}

/* Started as root: become RunAsUser before touching the spool. */
static bool
run_drop_privileges(struct run *r)
{
	struct submitcf_error err;
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return true;
	if (!submitcf_run_as(r->cf, &uid, &gid, &err)) {
		log_msg(LOG_LVL_ERR, "%s", err.reason);
		return false;
	}
	if (uid == 0)
		return true;
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		log_msg(LOG_LVL_ERR, "cannot become RunAsUser %lu:%lu: %s",
		    (unsigned long)uid, (unsigned long)gid, strerror(errno));
		return false;
	}
	/* Make sure there is no way back (sendmail 8.12.1's lesson). */
	if (setuid(0) == 0) {
		log_msg(LOG_LVL_ERR, "dropping privileges did not stick");
		return false;
	}
	return true;
}

/* sendmail logs "ctladdr=user (uid/gid)" when the envelope sender is a
 * local user of this system (measured: root, nobody and smmsp get it;
 * remote and unknown senders do not). */
static void
run_ctladdr(const struct qf_envelope *env, char *buf, size_t size)
{
	const char *s = env->sender ? env->sender : "";
	char user[256];
	struct passwd *pw;
	size_t n;

	buf[0] = '\0';
	if (*s == '<')
		s++;
	n = strcspn(s, ">");
	if (n == 0 || n >= sizeof user || memchr(s, '@', n) != NULL ||
	    (env->flags & QF_EF_RESPONSE))
		return;
	memcpy(user, s, n);
	user[n] = '\0';
	if ((pw = getpwnam(user)) != NULL)
		snprintf(buf, size, ", ctladdr=%s (%lu/%lu)", user,
		    (unsigned long)pw->pw_uid, (unsigned long)pw->pw_gid);
}

static void
run_log_delivery(struct run *r, const struct qf_envelope *env, const char *id,
    const char *to, time_t xstart, const char *dsn, const char *stat,
    const struct smtp_reply *reply, bool connected)
{
	char delay[32], xdelay[32], ctladdr[300], relay[400];
	time_t now = time(NULL);

	log_interval((long long)now - env->ctime, delay, sizeof delay);
	log_interval((long long)now - xstart, xdelay, sizeof xdelay);
	run_ctladdr(env, ctladdr, sizeof ctladdr);
	/* The address part only when this attempt reached the network; a
	 * message deferred from the cached host status names the host. */
	if (connected)
		snprintf(relay, sizeof relay, "%s [%s]", r->relay_host, r->relay_ip);
	else
		snprintf(relay, sizeof relay, "%s", r->relay_host);
	log_msg(LOG_LVL_INFO,
	    "%s: to=%s%s, delay=%s, xdelay=%s, mailer=relay, pri=%lld, relay=%s, dsn=%s%s%s, stat=%s",
	    id, to, ctladdr, delay, xdelay, env->priority + 90000, relay, dsn, reply && reply->code && dsn[0] != '2' ? ", reply=" : "",
	    reply && reply->code && dsn[0] != '2' ? reply->full : "", stat);
}

/* The relay could not be reached: one line per transaction, its
 * recipients in sending order, as sendmail logs a connection failure
 * (dsn=4.4.1, "Deferred: Connection refused by [127.0.0.1]"). */
static void
run_log_unreachable(struct run *r, const struct qf_envelope *env,
    const char *id, time_t xstart, bool tried)
{
	size_t *order = xcalloc(env->nrcpts, sizeof *order);
	size_t *starts = xcalloc(env->nrcpts + 1, sizeof *starts);
	size_t nb = envelope_batches(env, order, starts), b, i;
	struct smtp_reply none;
	char status[400];

	memset(&none, 0, sizeof none);
	snprintf(status, sizeof status, "Deferred: %s", r->relay_down_why);
	starts[nb] = env->nrcpts;
	for (b = 0; b < nb; b++) {
		struct strbuf to = STRBUF_INIT;

		for (i = starts[b]; i < starts[b + 1]; i++)
			strbuf_addf(&to, "%s%s", to.len ? "," : "",
			    env->rcpts[order[i]].addr);
		run_log_delivery(r, env, id, to.buf, xstart, "4.4.1", status, &none,
		    tried);
		strbuf_free(&to);
	}
	free(order);
	free(starts);
}

/* A status sendmail would write: the enhanced code of the reply, else
 * the class of its code. */
static const char *
run_dsn(const struct smtp_reply *reply, char buf[16])
{
	if (reply->enhanced[0] != '\0')
		return reply->enhanced;
	snprintf(buf, 16, "%d.0.0", reply->code ? reply->code / 100 : 4);
	return buf;
}

/* Keep only the recipients not accepted, count the try (K, N, P as
 * sendmail's requeue does) and commit. */
static bool
run_requeue(struct spool_job *job, struct qf_envelope *env, const bool *done,
    const char *status)
{
	struct strbuf out = STRBUF_INIT;
	struct spool_error err;
	size_t i, k = 0;
	bool ok;

	for (i = 0; i < env->nrcpts; i++) {
		if (done[i]) {
			free(env->rcpts[i].addr);
			free(env->rcpts[i].ctladdr);
			free(env->rcpts[i].orcpt);
			free(env->rcpts[i].final_rcpt);
			free(env->rcpts[i].status);
			continue;
		}
		env->rcpts[k++] = env->rcpts[i];
	}
	env->nrcpts = k;
	env->dtime = time(NULL);
	env->ntries++;
	env->priority += 90000;
	free(env->status);
	env->status = xstrdup(status);
	qf_format(env, &out);
	ok = spool_job_commit(job, out.buf, out.len, &err) == SPOOL_OK;
	if (!ok)
		log_msg(LOG_LVL_ERR, "%s: cannot rewrite the queue file: %s",
		    spool_job_id(job), err.reason);
	strbuf_free(&out);
	return ok;
}

/* Send the rendered message: headers, then the data file streamed. */
static enum smtp_status
run_send_message(struct run *r, const struct qf_envelope *env, int dfd,
    struct smtp_reply *reply)
{
	struct strbuf out = STRBUF_INIT;
	struct render_body rb;
	enum smtp_status st;
	char buf[65536];
	ssize_t n;

	if (render_headers(env, &r->ropts, &out) > 0)
		log_msg(LOG_LVL_WARNING, "header line longer than %d octets cut there, as sendmail cuts it",
		    RENDER_HEADER_LINE_MAX);
	render_body_init(&rb, &r->ropts);
	if (lseek(dfd, 0, SEEK_SET) < 0)
		return SMTP_IOERR;
	while ((n = read(dfd, buf, sizeof buf)) > 0) {
		render_body_feed(&rb, buf, (size_t)n, &out);
		st = smtp_send_data(r->conn, out.buf, out.len);
		strbuf_reset(&out);
		if (st != SMTP_OK) {
			strbuf_free(&out);
			return st;
		}
	}
	if (n < 0) {
		strbuf_free(&out);
		return SMTP_IOERR;
	}
	render_body_finish(&rb, &out);
	st = smtp_send_data(r->conn, out.buf ? out.buf : "", out.len);
	strbuf_free(&out);
	if (st != SMTP_OK)
		return st;
	return smtp_end_data(r->conn, reply);
}

/* Connect (or reuse the connection after RSET, as sendmail probes it). */
static bool
run_connection(struct run *r)
{
	struct smtp_reply reply;
	enum smtp_status st;
	char err[300];

	if (r->relay_down)
		return false;
	if (r->conn != NULL) {
		if (smtp_rset(r->conn, &reply) == SMTP_OK)
			return true;
		smtp_close(r->conn);
		r->conn = NULL;
	}
	r->conn = smtp_connect(r->relay_ip, r->mailer.port, r->domain,
	    &r->timeouts, &st, &reply, err, sizeof err);
	if (r->conn == NULL) {
		/* Like sendmail's host status cache: the rest of this run is
		 * deferred without another connection attempt. */
		r->relay_down = true;
		snprintf(r->relay_down_why, sizeof r->relay_down_why, "%s", err);
		return false;
	}
	return true;
}

static enum run_result
run_deliver(struct run *r, const char *id)
{
	struct spool_error serr;
	struct spool_job *job;
	struct qf_envelope *env;
	struct qf_error qerr;
	struct stat st;
	enum spool_result sr;
	enum qf_status qs;
	size_t *order, *starts, nb, b, i, nacc_total = 0;
	long long msgsize;
	bool *done;
	bool failed = false, cached;
	char status[700] = "";
	time_t xstart = time(NULL);
	int dfd;

	sr = spool_job_open(r->sp, id, &job, &serr);
	if (sr != SPOOL_OK) {
		/* Locked (its submitter or another runner has it), gone or
		 * changed: not ours now.  Unsafe: say so once per run. */
		if (sr == SPOOL_UNSAFE || sr == SPOOL_ERROR)
			log_msg(LOG_LVL_WARNING, "%s: skipped: %s", id, serr.reason);
		return RUN_SKIPPED;
	}
	qs = spool_job_load(job, &env, &qerr);
	if (qs == QF_REFUSED) {
		/* What sendmail's readqf() refuses it renames to Qf
		 * ("loseqfile"); so do we, and never delete it. */
		if (spool_job_quarantine(job, &serr) == SPOOL_OK)
			log_msg(LOG_LVL_ERR, "%s: quarantined as Qf%s: line %u: %s",
			    id, id, qerr.line, qerr.reason);
		else
			log_msg(LOG_LVL_ERR, "%s: refused (line %u: %s), and cannot quarantine it: %s",
			    id, qerr.line, qerr.reason, serr.reason);
		return RUN_QUARANTINED;
	}
	if (qs != QF_OK) {
		spool_job_close(job);
		return RUN_SKIPPED;	/* empty or still being written */
	}
	sr = spool_job_open_df(job, &dfd, &st, &serr);
	if (sr != SPOOL_OK) {
		log_msg(LOG_LVL_ERR, "%s: skipped: %s", id, serr.reason);
		qf_free(env);
		spool_job_close(job);
		return RUN_SKIPPED;
	}
	cached = r->relay_down;
	if (env->nrcpts == 0 || !run_connection(r)) {
		if (env->nrcpts > 0)
			run_log_unreachable(r, env, id, xstart, !cached);
		close(dfd);
		qf_free(env);
		spool_job_close(job);
		return RUN_DEFERRED;
	}
	order = xcalloc(env->nrcpts, sizeof *order);
	starts = xcalloc(env->nrcpts + 1, sizeof *starts);
	done = xcalloc(env->nrcpts, sizeof *done);
	nb = envelope_batches(env, order, starts);
	starts[nb] = env->nrcpts;
	msgsize = render_message_size(env, (long long)st.st_size);
	for (b = 0; b < nb && !failed; b++) {
		size_t first = starts[b], count = starts[b + 1] - starts[b];
		struct smtp_rcpt_result *res = xcalloc(count, sizeof *res);
		char **cmds = xcalloc(count, sizeof *cmds);
		struct strbuf mail = STRBUF_INIT, to = STRBUF_INIT;
		struct smtp_reply reply;
		enum smtp_status ss;
		size_t accepted = 0;
		unsigned ext;
		char dsnbuf[16];

		/* A second transaction of the same message reuses the
		 * connection after RSET, as sendmail does. */
		if (b > 0 && !run_connection(r)) {
			free(res);
			free(cmds);
			failed = true;
			break;
		}
		ext = smtp_extensions(r->conn);
		for (i = 0; i < count; i++) {
			struct strbuf c = STRBUF_INIT;

			envelope_rcpt(&env->rcpts[order[first + i]], ext, &r->env_opts, &c);
			cmds[i] = strbuf_detach(&c, NULL);
		}
		envelope_mail(env, ext, &r->ropts, r->masq_envelope, msgsize, &mail);
		ss = smtp_begin(r->conn, mail.buf, (const char *const *)cmds, count,
		    res, &accepted, &reply);
		if (ss == SMTP_OK && accepted > 0)
			ss = run_send_message(r, env, dfd, &reply);
		for (i = 0; i < count; i++) {
			if (res[i].status == SMTP_OK && ss == SMTP_OK) {
				strbuf_addf(&to, "%s%s", to.len ? "," : "",
				    env->rcpts[order[first + i]].addr);
				done[order[first + i]] = true;
				nacc_total++;
			}
		}
		if (to.len > 0) {
			char stat[600];

			snprintf(stat, sizeof stat, "Sent (%s)", reply.text);
			run_log_delivery(r, env, id, to.buf, xstart,
			    run_dsn(&reply, dsnbuf), stat, &reply, true);
		}
		for (i = 0; i < count; i++) {
			const struct smtp_reply *rr = ss == SMTP_OK &&
			    res[i].status != SMTP_OK ? &res[i].reply : &reply;

			if (done[order[first + i]])
				continue;
			snprintf(status, sizeof status, "Deferred: %s",
			    rr->code ? rr->full : "lost connection with the relay");
			run_log_delivery(r, env, id, env->rcpts[order[first + i]].addr,
			    xstart, run_dsn(rr, dsnbuf), status, rr, true);
		}
		if (ss == SMTP_IOERR) {
			/* The connection is not usable any more. */
			smtp_close(r->conn);
			r->conn = NULL;
			failed = true;
		}
		for (i = 0; i < count; i++)
			free(cmds[i]);
		free(cmds);
		free(res);
		strbuf_free(&mail);
		strbuf_free(&to);
	}
	close(dfd);
	free(order);
	free(starts);
	if (nacc_total == env->nrcpts) {
		free(done);
		qf_free(env);
		if (spool_job_remove(job, &serr) != SPOOL_OK) {
			log_msg(LOG_LVL_ERR, "%s: delivered, but removing it failed: %s",
			    id, serr.reason);
			return RUN_DEFERRED;
		}
		return RUN_DELIVERED;
	}
	if (nacc_total > 0) {
		run_requeue(job, env, done, status[0] ? status : "Deferred");
		free(done);
		qf_free(env);
		spool_job_close(job);
		return RUN_PARTIAL;
	}
	free(done);
	qf_free(env);
	spool_job_close(job);
	return RUN_DEFERRED;
}

static int
run_once(struct run *r)
{
	struct spool_error serr;
	struct spool_scan left;
	struct qlist ql;
	size_t i;

	/* sendmail's default QueueSortOrder: ascending priority, ties in
	 * directory order; qlist reads the queue the same way. */
	if (!qlist_gather(r->sp, &ql, false, &serr)) {
		log_msg(LOG_LVL_ERR, "%s", serr.reason);
		return RUN_EXIT_OSERR;
	}
	for (i = 0; i < ql.scan.nskipped; i++)
		log_msg(LOG_LVL_WARNING, "%s/%s: skipped: %s", spool_path(r->sp),
		    ql.scan.skipped[i].name, ql.scan.skipped[i].reason);
	for (i = 0; i < ql.n; i++) {
		if (ql.v[i].locked)
			continue;	/* its submitter still has it */
		switch (run_deliver(r, ql.v[i].id)) {
		case RUN_DELIVERED:
			r->delivered++;
			break;
		case RUN_PARTIAL:
		case RUN_DEFERRED:
			r->deferred++;
			break;
		case RUN_SKIPPED:
		case RUN_QUARANTINED:
			break;
		}
	}
	qlist_free(&ql);
	if (r->conn != NULL) {
		smtp_close(r->conn);
		r->conn = NULL;
	}
	if (!spool_scan(r->sp, 'q', &left, &serr)) {
		log_msg(LOG_LVL_ERR, "%s", serr.reason);
		return RUN_EXIT_OSERR;
	}
	i = left.nids;
	spool_scan_free(&left);
	return i == 0 ? RUN_EXIT_OK : RUN_EXIT_TEMPFAIL;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "once", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfpath = CQ_DEFAULT_SUBMIT_CF, *tag = NULL, *qdir;
	char **overrides = xcalloc((size_t)argc + 1, sizeof *overrides);
	size_t noverrides = 0, i;
	struct submitcf_error cferr;
	struct spool_policy pol;
	struct spool_error serr;
	struct run r;
	bool once = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "C:O:L:", longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			cfpath = optarg;
			break;
		case 'O':
			overrides[noverrides++] = optarg;
			break;
		case 'L':
			tag = optarg;
			break;
		case 'o':
			once = true;
			break;
		case 'h':
			run_usage(stdout);
			free(overrides);
			return RUN_EXIT_OK;
		case 'V':
			printf("clientq-runner %s\n", PACKAGE_VERSION);
			free(overrides);
			return RUN_EXIT_OK;
		default:
			run_usage(stderr);
			free(overrides);
			return RUN_EXIT_USAGE;
		}
	}
	log_init(tag);
	if (optind != argc || !once) {
		fprintf(stderr, "clientq-runner: %s\n", optind != argc ?
		    "unexpected argument" : "only --once is available in this version");
		run_usage(stderr);
		free(overrides);
		return RUN_EXIT_USAGE;
	}
	memset(&r, 0, sizeof r);
	r.cf = submitcf_load(cfpath, &cferr);
	if (r.cf == NULL) {
		log_msg(LOG_LVL_ERR, "%s", cferr.reason);
		free(overrides);
		return RUN_EXIT_CONFIG;
	}
	for (i = 0; i < noverrides; i++)
		if (!submitcf_set_option(r.cf, overrides[i], &cferr)) {
			log_msg(LOG_LVL_ERR, "%s", cferr.reason);
			submitcf_free(r.cf);
			free(overrides);
			return RUN_EXIT_USAGE;
		}
	free(overrides);
	rc = RUN_EXIT_CONFIG;
	if ((qdir = submitcf_queue_dir(r.cf, &cferr)) == NULL ||
	    !submitcf_mailer(r.cf, "relay", &r.mailer, &cferr)) {
		log_msg(LOG_LVL_ERR, "%s", cferr.reason);
		goto out;
	}
	run_domain(&r);
	if (!run_relay(&r) || !run_timeouts(&r))
		goto out;
	if (!run_drop_privileges(&r)) {
		rc = RUN_EXIT_OSERR;
		goto out;
	}
	r.ropts.mailer_flags = r.mailer.flags;
	r.ropts.linelimit = r.mailer.linelimit;
	r.ropts.domain = r.domain;
	r.ropts.macro = run_cf_macro;
	r.ropts.macro_arg = r.cf;
	/* Masquerading: DM for header senders; the envelope too only with
	 * FEATURE(masquerade_envelope), whose MasqEnv calls MasqHdr. */
	r.ropts.masq = submitcf_macro(r.cf, "M");
	if (r.ropts.masq != NULL && *r.ropts.masq == '\0')
		r.ropts.masq = NULL;
	r.ropts.is_local = run_is_local;
	r.ropts.local_arg = &r;
	r.masq_envelope = r.ropts.masq != NULL &&
	    submitcf_ruleset_calls(r.cf, "MasqEnv", "MasqHdr");
	r.env_opts = r.ropts;
	if (r.masq_envelope)
		r.env_opts.domain = r.ropts.masq;
	spool_policy_default(&pol);
	pol.trusted_uid = geteuid();
	r.sp = spool_open(qdir, &pol, &serr);
	if (r.sp == NULL) {
		log_msg(LOG_LVL_ERR, "%s", serr.reason);
		rc = RUN_EXIT_OSERR;
		goto out;
	}
	rc = run_once(&r);
	if (r.relay_down)
		log_msg(LOG_LVL_NOTICE, "relay %s [%s]:%d unreachable: %s; %u messages deferred",
		    r.relay_host, r.relay_ip, r.mailer.port, r.relay_down_why, r.deferred);
out:
	spool_free(r.sp);
	submitcf_free(r.cf);
	return rc;
}
