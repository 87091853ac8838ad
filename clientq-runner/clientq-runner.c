/*
 * clientq-runner: runs sendmail's client queue.
 *
 * Two modes on the same parts: the daemon (daemon.h: inotify, backoff, the
 * relay's circuit breaker, systemd), and `--once`: deliver every message
 * in the client queue to the relay named in submit.cf, exactly as
 * `sendmail -Ac -qf` would put it on the wire, and exit.  This file reads
 * the configuration -- submit.cf, and clientq.conf (conf.h) for what
 * submit.cf cannot say -- again on SIGHUP, drops privileges, reads what
 * only the runner's user may read (the TLS key, AUTH's credentials),
 * detaches for rc.d, and runs the one-shot pass.
 *
 * What becomes of each message (sent, requeued with sendmail's updates,
 * bounced, warned about, expired) is deliver.h's; the connections that
 * carry them are engine.h's, the same for both modes.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_MALLOC_H
#include <malloc.h>
#endif

#include "delivery/deliver.h"
#include "queue/log.h"
#include "queue/qf.h"
#include "queue/qlist.h"
#include "smtp/auth.h"
#include "check-cmd.h"
#include "smtp/classify.h"
#include "config/conf.h"
#include "config/relay.h"
#include "control.h"
#include "daemon.h"
#include "daemon-control.h"
#include "delivery/engine.h"
#include "util/evloop.h"
#include "delivery/render.h"
#include "smtp/smtp.h"
#include "queue/spool.h"
#include "util/strbuf.h"
#include "config/submitcf.h"
#include "smtp/tls.h"
#include "util/xalloc.h"

/* Exit codes (sysexits), documented in clientq-runner(8). */
enum run_exit {
	RUN_EXIT_OK = 0,		/* the queue is empty */
	RUN_EXIT_USAGE = 64,
	RUN_EXIT_SOFTWARE = 70,
	RUN_EXIT_OSERR = 71,
	RUN_EXIT_TEMPFAIL = 75,		/* something is still queued */
	RUN_EXIT_CONFIG = 78,
};

struct run {
	struct submitcf *cf;
	struct conf conf;	/* clientq.conf and its -O keys */
	/* The daemon's tunables: the command line's, else clientq.conf's,
	 * else the defaults. */
	long long connections, retry_min, retry_max, probe_max;
	const char *control;
	bool control_explicit;	/* named, not the default: must work */
	/* STARTTLS and AUTH, made by run_secure as the runner's user. */
	struct tls_client *tls;
	struct auth_client *auth;
	struct smtp_security sec;
	struct spool *sp;
	const char *qdir;	/* QueueDirectory, in cf */
	mode_t file_mode;	/* QueueFileMode */
	struct submitcf_mailer mailer;
	struct smtp_timeouts timeouts;
	struct relay_target relay;	/* D{MTAHost}, resolved */
	struct relay_local local;	/* this host's names: $j, ... */
	struct deliver_config dc;
	bool relay_down;	/* a connection failed: the rest deferred */
	enum smtp_setup_kind relay_down_kind;
	char relay_down_why[400];
	struct deliver_tally tally;
	/* Notifications queued during the run, delivered after the
	 * listing (sendmail sends them at once). */
	char (*queued)[QID_MAX_LEN + 1];
	size_t nqueued, next_queued;
};

static void
run_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: clientq-runner [-C submit.cf] [--config FILE] [-O Option=value]... [-L tag]\n"
	    "                      [--syslog] [--background [--pidfile FILE]] [--connections N]\n"
	    "                      [--retry-min S] [--retry-max S] [--probe-max S]\n"
	    "                      [--control PATH | --control none]\n"
	    "       clientq-runner --once [-C submit.cf] [--config FILE] [-O Option=value]...\n"
	    "                      [-L tag] [--syslog]\n"
	    "       clientq-runner --check [--fix [--fix-binary]] [--suidroot] [--json] [-C submit.cf]\n"
	    "                      [paths: see clientq-runner --check --help]\n"
	    "       clientq-runner --help | --version\n"
	    "\n"
	    "  (no --once)     run as a daemon: watch the client queue and deliver each message\n"
	    "                  as soon as it arrives or is due again (SIGHUP: re-read submit.cf\n"
	    "                  and clientq.conf)\n"
	    "  --background    detach once ready (the exit status says whether it started);\n"
	    "                  implies --syslog\n"
	    "  --pidfile FILE  with --background: write the daemon's PID to FILE\n"
	    "  --syslog        log to syslog (facility mail) instead of standard error or the\n"
	    "                  journal\n"
	    "  --once          deliver every message in the client queue now, then exit\n"
	    "                  (0: the queue is empty, 75: something is still queued)\n"
	    "  --check         verify the installation (0 ok, 1 warnings, 2 errors); the\n"
	    "                  daemon and --once refuse to start when submit.cf, RunAsUser\n"
	    "                  or the client queue's owner, group or mode are wrong (78)\n"
	    "  --connections N connections to the relay at most (daemon; default 2)\n"
	    "  --retry-min S, --retry-max S\n"
	    "                  a deferred message is tried again after S seconds, doubling\n"
	    "                  per try (daemon; defaults 60 and 3600)\n"
	    "  --probe-max S   while the relay is down, probe it at most every S seconds\n"
	    "                  (daemon; default 60)\n"
	    "                  (these four and --control win over clientq.conf's daemon.*)\n"
	    "  --control PATH  the control socket clientqctl talks to (daemon; default\n"
	    "                  $CLIENTQ_SOCKET, else clientq.conf's daemon.control, else\n"
	    "                  %s; none: no socket); one passed by systemd\n"
	    "                  (LISTEN_FDS) is used instead\n"
	    "  -C FILE         the submit.cf to read (default %s)\n"
	    "  --config FILE   the runner's own settings: TLS, AUTH, the daemon's tunables\n"
	    "                  (default %s, if it exists; see clientq.conf(5))\n"
	    "  -O Option=value override an option of submit.cf, as sendmail's -O; or, for a\n"
	    "                  key of clientq.conf (daemon.*, tls.*, auth.*), of that file\n"
	    "  -L tag          the tag of log lines (default sm-msp-queue)\n",
	    CTL_DEFAULT_SOCKET, CQ_DEFAULT_SUBMIT_CF, CQ_DEFAULT_CONFIG);
}

static const char *
run_cf_macro(const char *name, void *arg)
{
	return submitcf_macro(arg, name);
}

/* Class w, as sendmail fills it at start-up: localhost, the host's own
 * names, $j, and the cf's Cw words. */
static bool
run_is_local(const char *host, void *arg)
{
	const struct run *r = arg;

	return strcasecmp(host, "localhost") == 0 ||
	    strcasecmp(host, r->local.domain) == 0 ||
	    strcasecmp(host, r->local.hostname) == 0 ||
	    strcasecmp(host, r->local.canon) == 0 ||
	    submitcf_class_has(r->cf, "w", host);
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
		{ "Timeout.starttls", offsetof(struct smtp_timeouts, starttls) },
		{ "Timeout.auth", offsetof(struct smtp_timeouts, auth) },
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

static void run_queued(void *arg, const char *id);

/* A positive whole number for an option (at most a day, or 64
 * connections). */
static bool
run_number(const char *opt, const char *arg, long long *out)
{
	int max = strcmp(opt, "--connections") == 0 ? CONF_CONNECTIONS_MAX : CONF_INTERVAL_MAX;
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < 1 || v > max) {
		fprintf(stderr, "clientq-runner: %s %s: not a number from 1 to %d\n", opt, arg,
		    max);
		return false;
	}
	*out = v;
	return true;
}

/* Notifications: Timeout.queuewarn and Timeout.queuereturn per
 * precedence class (sendmail's defaults: no warning, 5 days),
 * DoubleBounceAddress, and the relay mailer's T= type names. */
static bool
run_dsn_config(struct run *r)
{
	static const char *const cls[3] = { "normal", "urgent", "non-urgent" };
	struct error err;
	struct deliver_config *dc = &r->dc;
	const char *pm = submitcf_option(r->cf, "DoubleBounceAddress");
	size_t i;

	for (i = 0; i < 3; i++) {
		dc->queuewarn[i] = 0;
		dc->queuereturn[i] = 5 * 86400;
		err.reason[0] = '\0';
		if (!submitcf_timeout(r->cf, "queuewarn", cls[i], &dc->queuewarn[i], &err) &&
		    err.reason[0] != '\0') {
			log_msg(LOG_LVL_ERR, "%s", err.reason);
			return false;
		}
		err.reason[0] = '\0';
		if (!submitcf_timeout(r->cf, "queuereturn", cls[i], &dc->queuereturn[i], &err) &&
		    err.reason[0] != '\0') {
			log_msg(LOG_LVL_ERR, "%s", err.reason);
			return false;
		}
	}
	dc->postmaster = pm != NULL && *pm != '\0' ? pm : "postmaster";
	dc->dsn.hostname = r->local.domain;
	dc->dsn.program = "clientq-runner " PACKAGE_VERSION;
	dc->dsn.relay_host = r->relay.name;
	dc->dsn.mtatype = r->mailer.mtatype;
	dc->dsn.addrtype = r->mailer.addrtype;
	dc->dsn.diagtype = r->mailer.diagtype;
	dc->dsn.ropts = &dc->ropts;
	dc->dsn.env_opts = &dc->env_opts;
	dc->queued = run_queued;
	dc->queued_arg = r;
	return true;
}

/* QueueFileMode: the mode of the files we write (sendmail's octal
 * option).  A mode that lets other users write queued mail is refused. */
static bool
run_file_mode(struct run *r, mode_t *mode)
{
	const char *v = submitcf_option(r->cf, "QueueFileMode");
	unsigned long m;
	char *end;

	if (v == NULL)
		return true;	/* the library's default, 0660 */
	errno = 0;
	m = strtoul(v, &end, 8);
	if (errno != 0 || end == v || *end != '\0' || m > 0777) {
		log_msg(LOG_LVL_ERR, "%s: QueueFileMode=%s is not an octal file mode",
		    submitcf_path(r->cf), v);
		return false;
	}
	if (m & S_IWOTH) {
		log_msg(LOG_LVL_ERR, "%s: QueueFileMode=%s would let any user change queued mail; refused",
		    submitcf_path(r->cf), v);
		return false;
	}
	*mode = (mode_t)m;
	return true;
}

/*
 * The control socket: the one systemd passed, else one made at path
 * (its directory too, for the runner's user), before privileges go.  A
 * failure is fatal when the path was asked for, a warning for the
 * default one (delivery does not need the socket).
 */
static int
run_control(struct run *r, const char *path, bool explicit, int *fd, uid_t *runner,
    bool *made)
{
	struct error cerr;
	struct error err;
	char dir[4096], *slash;
	uid_t uid = geteuid();
	gid_t gid = getegid();

	if (geteuid() == 0 && !submitcf_run_as(r->cf, &uid, &gid, &cerr))
		uid = 0, gid = 0;
	*runner = uid;
	if ((*fd = control_inherited()) >= 0) {
		log_msg(LOG_LVL_INFO, "control socket passed by the service manager");
		return RUN_EXIT_OK;
	}
	if (strcmp(path, "none") == 0)
		return RUN_EXIT_OK;
	snprintf(dir, sizeof dir, "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == 0 && geteuid() == 0)
			(void)!chown(dir, uid, gid);
	}
	*fd = control_listen(path, uid, gid, &err);
	if (*fd >= 0) {
		*made = true;
		return RUN_EXIT_OK;
	}
	if (explicit) {
		log_msg(LOG_LVL_ERR, "control socket: %s", err.reason);
		return RUN_EXIT_OSERR;
	}
	log_msg(LOG_LVL_WARNING, "control socket: %s; clientqctl cannot reach this daemon",
	    err.reason);
	return RUN_EXIT_OK;
}

/* Started as root: become RunAsUser before touching the spool. */
static bool
run_drop_privileges(struct run *r)
{
	struct error err;
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

/* deliver's callback: a notification was queued. */
static void
run_queued(void *arg, const char *id)
{
	struct run *r = arg;

	r->queued = xreallocarray(r->queued, r->nqueued + 1, sizeof *r->queued);
	snprintf(r->queued[r->nqueued++], sizeof r->queued[0], "%s", id);
}

/*
 * --once drives the daemon's delivery engine (engine.h) with one slot
 * at a time over the queue's listing, in its order, then over the
 * notifications the run queued (sendmail sends them at once).  The
 * engine reads the next message while the relay works on one, and
 * finishes the one before while the body goes; with
 * ENGINE_SETUP_PER_MESSAGE a failed set-up is sendmail's: every message
 * left is logged, deferred or bounced as the refusal says.
 */
struct run_once {
	struct run *r;
	struct engine *e;
	struct evloop *loop;
	const struct qlist *ql;
	size_t i;		/* the listing's next entry */
	/* A message the engine gave back unsent (its connection broke
	 * before it went out): the next connection takes it first. */
	struct deliver_job *carry;
};

/* The next message of the listing (one its submitter still holds is
 * skipped), then the notifications the run queued. */
static bool
run_next(void *arg, char id[QID_MAX_LEN + 1])
{
	struct run_once *o = arg;
	struct run *r = o->r;

	while (o->i < o->ql->n) {
		const struct qlist_entry *e = &o->ql->v[o->i++];

		if (e->locked)
			continue;	/* its submitter still has it */
		snprintf(id, QID_MAX_LEN + 1, "%s", e->id);
		return true;
	}
	if (r->next_queued < r->nqueued) {
		snprintf(id, QID_MAX_LEN + 1, "%s", r->queued[r->next_queued++]);
		return true;
	}
	return false;
}

static void
run_unopened(void *arg, const char *id, enum deliver_result res)
{
	struct run_once *o = arg;

	(void)id;
	deliver_tally_add(&o->r->tally, res);
}

static void
run_ended(void *arg, struct deliver_job *j)
{
	struct run_once *o = arg;

	deliver_tally_add(&o->r->tally, deliver_finish(j));
}

static void
run_returned(void *arg, struct deliver_job *j)
{
	struct run_once *o = arg;

	if (o->carry != NULL)	/* the engine gives one back at a time */
		deliver_tally_add(&o->r->tally, deliver_finish(o->carry));
	o->carry = j;
}

static void
run_ready(void *arg, struct engine_slot *s)
{
	(void)arg;
	(void)s;
}

/* The relay is down for the rest of the run, as sendmail's host status
 * cache has it (the engine has logged every message left). */
static void
run_setup_failed(void *arg, struct engine_slot *s, const struct engine_setup_failure *f)
{
	struct run_once *o = arg;
	struct run *r = o->r;

	(void)s;
	r->relay_down = true;
	r->relay_down_kind = f->kind;
	snprintf(r->relay_down_why, sizeof r->relay_down_why, "%s", f->why);
}

static void
run_closed(void *arg, struct engine_slot *s)
{
	(void)arg;
	(void)s;
}

/* Before each wait: a connection when there is none and something is
 * left; the end when nothing is. */
static void
run_prepare(void *arg)
{
	struct run_once *o = arg;
	struct deliver_job *first = o->carry;

	if (engine_count(o->e) > 0)
		return;
	o->carry = NULL;
	if (o->r->relay_down) {
		if (first != NULL)
			deliver_tally_add(&o->r->tally, deliver_finish(first));
		evloop_stop(o->loop);
		return;
	}
	if (engine_start(o->e, first, 0) == NULL && engine_count(o->e) == 0 &&
	    o->carry == NULL)
		evloop_stop(o->loop);
}

static bool
run_all(struct run *r, const struct qlist *ql)
{
	const struct engine_ops ops = {
		run_next, NULL, run_unopened, run_ended, run_returned, run_ready,
		run_setup_failed, run_closed, NULL,
	};
	struct engine_config ec;
	struct run_once o;
	struct engine_ops oo = ops;
	int rc;

	memset(&o, 0, sizeof o);
	o.r = r;
	o.ql = ql;
	if ((o.loop = evloop_new()) == NULL) {
		log_msg(LOG_LVL_ERR, "cannot set up the event loop: %s", strerror(errno));
		return false;
	}
	memset(&ec, 0, sizeof ec);
	ec.loop = o.loop;
	ec.dc = &r->dc;
	ec.relay_ip = r->relay.ip;
	ec.port = r->mailer.port;
	ec.helo = r->local.domain;
	ec.timeouts = &r->timeouts;
	ec.security = &r->sec;
	ec.setup = ENGINE_SETUP_PER_MESSAGE;
	ec.idle_ms = 0;
	oo.arg = &o;
	o.e = engine_new(&ec, &oo);
	evloop_set_prepare(o.loop, run_prepare, &o);
	rc = evloop_run(o.loop);
	if (rc < 0)
		log_msg(LOG_LVL_ERR, "epoll_wait: %s", strerror(errno));
	engine_free(o.e);
	if (o.carry != NULL)
		deliver_tally_add(&r->tally, deliver_finish(o.carry));
	evloop_free(o.loop);
	return rc == 0;
}

static int
run_once(struct run *r)
{
	struct error serr;
	struct spool_scan left;
	struct qlist ql;
	size_t i;

	/* sendmail's default QueueSortOrder: ascending priority, ties in
	 * directory order; qlist reads the queue the same way. */
	if (!qlist_gather(r->sp, &ql, false, NULL, NULL, &serr)) {
		log_msg(LOG_LVL_ERR, "%s", serr.reason);
		return RUN_EXIT_OSERR;
	}
	for (i = 0; i < ql.scan.nskipped; i++)
		log_msg(LOG_LVL_WARNING, "%s/%s: skipped: %s", spool_path(r->sp),
		    ql.scan.skipped[i].name, ql.scan.skipped[i].reason);
	if (!run_all(r, &ql)) {
		qlist_free(&ql);
		return RUN_EXIT_OSERR;
	}
	qlist_free(&ql);
	if (!spool_scan(r->sp, 'q', &left, &serr)) {
		log_msg(LOG_LVL_ERR, "%s", serr.reason);
		return RUN_EXIT_OSERR;
	}
	i = left.nids;
	spool_scan_free(&left);
	return i == 0 ? RUN_EXIT_OK : RUN_EXIT_TEMPFAIL;
}

/* What the command line says, kept for a reload. */
struct run_opts {
	const char *cfpath;
	const char *confpath;	/* clientq.conf */
	bool conf_named;	/* --config: the file must exist */
	char **overrides;
	size_t noverrides;
	/* The daemon's tunables, when the command line gives them (0,
	 * NULL: it does not); they win over clientq.conf. */
	long long connections, retry_min, retry_max, probe_max;
	const char *control;
};

static void
run_free(struct run *r)
{
	if (r == NULL)
		return;
	free(r->queued);
	tls_client_free(r->tls);
	auth_client_free(r->auth);
	conf_free(&r->conf);
	submitcf_free(r->cf);
	free(r);
}

/* Where clientq.conf's settings came from, for an error about them: the
 * file, or -O alone when there is none. */
static const char *
run_conf_source(const struct conf *c)
{
	return c->path != NULL ? c->path : "-O";
}

/* The daemon's tunables: the command line, else clientq.conf, else the
 * defaults. */
static bool
run_tunables(struct run *r, const struct run_opts *o, int *rc)
{
	const struct conf *c = &r->conf;
	const char *env;

	r->connections = o->connections ? o->connections : c->connections ? c->connections : 2;
	r->retry_min = o->retry_min ? o->retry_min : c->retry_min ? c->retry_min : 60;
	r->retry_max = o->retry_max ? o->retry_max : c->retry_max ? c->retry_max : 3600;
	r->probe_max = o->probe_max ? o->probe_max : c->probe_max ? c->probe_max : 60;
	/* The control socket: --control, else CLIENTQ_SOCKET (the variable
	 * clientqctl reads too, so one setting serves both: the tests give
	 * each daemon a socket of its own that way), else clientq.conf, else
	 * the built-in path.  Any but the last must work. */
	env = getenv("CLIENTQ_SOCKET");
	if (env != NULL && *env == '\0')
		env = NULL;
	r->control = o->control ? o->control : env ? env : c->control ? c->control :
	    CTL_DEFAULT_SOCKET;
	r->control_explicit = o->control != NULL || env != NULL || c->control != NULL;
	if (r->retry_min <= r->retry_max)
		return true;
	if (!c->retry_min && !c->retry_max) {
		fprintf(stderr, "clientq-runner: --retry-min is larger than --retry-max\n");
		*rc = RUN_EXIT_USAGE;
	} else {
		log_msg(LOG_LVL_ERR, "%s: the retry interval's minimum (%lld s) is larger than its maximum (%lld s)",
		    run_conf_source(c), r->retry_min, r->retry_max);
	}
	return false;
}

/* clientq.conf and the -O options that are its keys (conf_read, as
 * --check reads them too), then the other -O options, submit.cf's. */
static bool
run_conf(struct run *r, const struct run_opts *o, int *rc)
{
	struct error cferr;
	struct error err;
	bool by_arg;
	size_t i;

	if (!conf_read(&r->conf, o->confpath, o->conf_named, o->overrides, o->noverrides,
	    &by_arg, &err)) {
		log_msg(LOG_LVL_ERR, "%s", err.reason);
		if (by_arg)
			*rc = RUN_EXIT_USAGE;
		return false;
	}
	for (i = 0; i < o->noverrides; i++)
		if (!conf_is_key(o->overrides[i]) &&
		    !submitcf_set_option(r->cf, o->overrides[i], &cferr)) {
			log_msg(LOG_LVL_ERR, "%s", cferr.reason);
			*rc = RUN_EXIT_USAGE;
			return false;
		}
	return run_tunables(r, o, rc);
}

/*
 * What only the runner's user may read, read as that user (after the
 * privileges went, at start and at a reload): the TLS context with the
 * client key, AUTH's credentials (which it must own).
 */
static bool
run_secure(struct run *r)
{
	struct error why;

	if (!conf_secure(&r->conf, geteuid(), &r->tls, &r->auth, &why)) {
		log_msg(LOG_LVL_ERR, "%s: %s", run_conf_source(&r->conf), why.reason);
		return false;
	}
	relay_security(&r->relay, r->tls, r->auth, &r->sec);
	return true;
}

/*
 * Everything submit.cf and clientq.conf (and -O) decide, in a new struct
 * run: the queue directory's path, the relay and its mailer, $j, the
 * timeouts, the rendering and notification settings, the daemon's
 * tunables, the TLS and AUTH settings (made into a context by
 * run_secure).  Not the spool, not the privileges: those are the
 * process's, set once.  NULL (said why in the
 * log, *rc the exit status) when something is wrong.
 */
static struct run *
run_configure(const struct run_opts *o, int *rc)
{
	struct run *r = xcalloc(1, sizeof *r);
	struct error cferr;

	*rc = RUN_EXIT_CONFIG;
	r->cf = submitcf_load(o->cfpath, &cferr);
	if (r->cf == NULL) {
		log_msg(LOG_LVL_ERR, "%s", cferr.reason);
		goto fail;
	}
	if (!run_conf(r, o, rc))
		goto fail;
	if ((r->qdir = submitcf_queue_dir(r->cf, &cferr)) == NULL ||
	    !submitcf_mailer(r->cf, "relay", &r->mailer, &cferr)) {
		log_msg(LOG_LVL_ERR, "%s", cferr.reason);
		goto fail;
	}
	relay_local(r->cf, &r->local);
	if (!relay_resolve(r->cf, &r->relay, &cferr)) {
		log_msg(LOG_LVL_ERR, "%s: %s", submitcf_path(r->cf), cferr.reason);
		goto fail;
	}
	if (!run_timeouts(r))
		goto fail;
	r->dc.ropts.mailer_flags = r->mailer.flags;
	r->dc.ropts.linelimit = r->mailer.linelimit;
	r->dc.ropts.domain = r->local.domain;
	r->dc.ropts.macro = run_cf_macro;
	r->dc.ropts.macro_arg = r->cf;
	/* Masquerading: DM for header senders; the envelope too only with
	 * FEATURE(masquerade_envelope), whose MasqEnv calls MasqHdr. */
	r->dc.ropts.masq = submitcf_macro(r->cf, "M");
	if (r->dc.ropts.masq != NULL && *r->dc.ropts.masq == '\0')
		r->dc.ropts.masq = NULL;
	r->dc.ropts.is_local = run_is_local;
	r->dc.ropts.local_arg = r;
	r->dc.masq_envelope = r->dc.ropts.masq != NULL &&
	    submitcf_ruleset_calls(r->cf, "MasqEnv", "MasqHdr");
	r->dc.env_opts = r->dc.ropts;
	if (r->dc.masq_envelope)
		r->dc.env_opts.domain = r->dc.ropts.masq;
	r->dc.relay_host = r->relay.name;
	r->dc.relay_ip = r->relay.ip;
	if (!run_dsn_config(r))
		goto fail;
	r->file_mode = 0660;	/* the spool's default */
	if (!run_file_mode(r, &r->file_mode))
		goto fail;
	*rc = RUN_EXIT_OK;
	return r;
fail:
	run_free(r);
	return NULL;
}

/* The daemon's relay settings from a configuration. */
static void
run_daemon_relay(struct run *r, struct daemon_config *dcfg)
{
	dcfg->dc = &r->dc;
	dcfg->relay_ip = r->relay.ip;
	dcfg->port = r->mailer.port;
	dcfg->helo = r->local.domain;
	dcfg->timeouts = &r->timeouts;
	dcfg->security = &r->sec;
	dcfg->policy.min_delay = r->retry_min;
	dcfg->policy.max_delay = r->retry_max;
	dcfg->policy.jitter = 0.1;
	dcfg->connections = (int)r->connections;
	dcfg->probe_cap_ms = r->probe_max * 1000;
}

/* The daemon's state that outlives a reload. */
struct run_daemon {
	struct run *cur;
	const struct run_opts *opts;
};

/*
 * SIGHUP (daemon.h: called with no message in flight): submit.cf and -O
 * again.  A configuration that does not load keeps the old one; one that
 * names another queue directory, file mode or RunAsUser is refused as
 * well (the spool and the process's identity are set once: restart for
 * those).
 */
static bool
run_reload(void *arg, struct daemon_config *dcfg)
{
	struct run_daemon *rd = arg;
	struct run *old = rd->cur, *r;
	uid_t uid, nuid;
	gid_t gid, ngid;
	struct error err;
	int rc;

	if ((r = run_configure(rd->opts, &rc)) == NULL) {
		bool conf = access(rd->opts->confpath, F_OK) == 0;

		log_msg(LOG_LVL_ERR, "reload: %s%s%s has errors (above); the running configuration stays",
		    rd->opts->cfpath, conf ? " or " : "", conf ? rd->opts->confpath : "");
		return false;
	}
	if (strcmp(r->qdir, old->qdir) != 0 || r->file_mode != old->file_mode ||
	    !submitcf_run_as(r->cf, &nuid, &ngid, &err) ||
	    !submitcf_run_as(old->cf, &uid, &gid, &err) || uid != nuid || gid != ngid) {
		log_msg(LOG_LVL_ERR,
		    "reload: %s changes QueueDirectory, QueueFileMode or RunAsUser; restart the runner for that; the running configuration stays",
		    rd->opts->cfpath);
		run_free(r);
		return false;
	}
	if (strcmp(r->control, old->control) != 0) {
		log_msg(LOG_LVL_ERR,
		    "reload: daemon.control changes (%s, was %s); restart the runner for that; the running configuration stays",
		    r->control, old->control);
		run_free(r);
		return false;
	}
	/* As the runner's user, as at start: the key and the
	 * credentials must still be its own. */
	if (!run_secure(r)) {
		log_msg(LOG_LVL_ERR, "reload: the TLS or AUTH settings cannot be used (above); the running configuration stays");
		run_free(r);
		return false;
	}
	r->sp = old->sp;
	r->dc.sp = old->sp;
	rd->cur = r;
	run_free(old);
	run_daemon_relay(r, dcfg);
	log_msg(LOG_LVL_INFO, "reloaded %s%s%s: relay %s [%s]:%d, tls.policy %s, %d connections",
	    rd->opts->cfpath, r->conf.path != NULL ? " and " : "",
	    r->conf.path != NULL ? r->conf.path : "", r->relay.name, r->relay.ip, r->mailer.port,
	    tls_policy_str(r->conf.tls.policy), (int)r->connections);
	return true;
}

/*
 * --background: the parent returns once the child is ready (0) or has
 * failed (its status), so that an rc.d script knows; the child is a
 * session leader with no terminal, its standard streams /dev/null, and
 * its PID in the pidfile.
 */
static int
run_background(const char *pidfile, int *ready_fd, bool *parent)
{
	int fds[2], devnull;
	pid_t pid;
	char c;

	if (pipe(fds) < 0) {
		log_msg(LOG_LVL_ERR, "--background: pipe: %s", strerror(errno));
		return RUN_EXIT_OSERR;
	}
	pid = fork();
	if (pid < 0) {
		log_msg(LOG_LVL_ERR, "--background: fork: %s", strerror(errno));
		return RUN_EXIT_OSERR;
	}
	if (pid > 0) {
		int status;
		ssize_t n;

		/* The parent returns its exit status to main, which frees
		 * what it holds and returns it. */
		*parent = true;
		close(fds[1]);
		while ((n = read(fds[0], &c, 1)) < 0 && errno == EINTR)
			;
		close(fds[0]);
		if (n == 1)
			return RUN_EXIT_OK;
		/* The child died before it was ready: its status. */
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
			return WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : RUN_EXIT_SOFTWARE;
		return RUN_EXIT_SOFTWARE;
	}
	close(fds[0]);
	(void)setsid();
	if ((devnull = open("/dev/null", O_RDWR)) >= 0) {
		(void)dup2(devnull, STDIN_FILENO);
		(void)dup2(devnull, STDOUT_FILENO);
		(void)dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	if (pidfile != NULL) {
		FILE *fp = fopen(pidfile, "w");

		if (fp == NULL || fprintf(fp, "%ld\n", (long)getpid()) < 0 || fclose(fp) != 0) {
			log_msg(LOG_LVL_ERR, "%s: cannot write the pidfile: %s", pidfile,
			    strerror(errno));
			return RUN_EXIT_OSERR;
		}
	}
	*ready_fd = fds[1];
	return RUN_EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "once", no_argument, NULL, 'o' },
		{ "connections", required_argument, NULL, 'n' },
		{ "retry-min", required_argument, NULL, 'm' },
		{ "retry-max", required_argument, NULL, 'M' },
		{ "probe-max", required_argument, NULL, 'p' },
		{ "syslog", no_argument, NULL, 's' },
		{ "background", no_argument, NULL, 'b' },
		{ "pidfile", required_argument, NULL, 'P' },
		{ "control", required_argument, NULL, 'S' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts opts;
	const char *tag = NULL, *pidfile = NULL;
	char *control = NULL;
	bool control_made = false;
	uid_t runner_uid = 0;
	struct spool_policy pol;
	struct error serr;
	struct run *r = NULL;
	bool once = false, use_syslog = false, background = false, parent = false, retry_bad;
	int c, rc, ready_fd = -1, control_fd = -1;

	if (runner_check_wanted(argc, argv))
		return runner_check_main(argc, argv);
	/* OpenSSL writes to the socket with write(2): a relay gone must be
	 * an EPIPE, not the end of the runner. */
	signal(SIGPIPE, SIG_IGN);
#if defined(HAVE_MALLOPT) && defined(M_MMAP_THRESHOLD)
	/* The schedule's arrays (some 50 octets a queued message) grow and
	 * shrink with the queue.  glibc raises its mmap threshold to the
	 * size of each mapped block freed (up to 32 MB), and from then on
	 * such arrays come from the heap, where growing one leaves the old
	 * block resident: 65 octets a message at 300,000 queued instead of
	 * 55 (bench/README.md).  Pinned at its default, every large array
	 * stays mapped: realloc moves it without a copy, and what is freed
	 * goes back to the system. */
	(void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
	memset(&opts, 0, sizeof opts);
	opts.cfpath = CQ_DEFAULT_SUBMIT_CF;
	opts.confpath = CQ_DEFAULT_CONFIG;

	opts.overrides = xcalloc((size_t)argc + 1, sizeof *opts.overrides);
	while ((c = getopt_long(argc, argv, "C:O:L:", longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			opts.cfpath = optarg;
			break;
		case 'O':
			opts.overrides[opts.noverrides++] = optarg;
			break;
		case 'L':
			tag = optarg;
			break;
		case 'o':
			once = true;
			break;
		case 's':
			use_syslog = true;
			break;
		case 'b':
			background = true;
			break;
		case 'P':
			pidfile = optarg;
			break;
		case 'S':
			opts.control = optarg;
			break;
		case 'c':
			opts.confpath = optarg;
			opts.conf_named = true;
			break;
		case 'n':
		case 'm':
		case 'M':
		case 'p':
			if (!run_number(c == 'n' ? "--connections" : c == 'm' ? "--retry-min" :
			    c == 'M' ? "--retry-max" : "--probe-max", optarg,
			    c == 'n' ? &opts.connections : c == 'm' ? &opts.retry_min :
			    c == 'M' ? &opts.retry_max : &opts.probe_max)) {
				free(opts.overrides);
				return RUN_EXIT_USAGE;
			}
			break;
		case 'h':
			run_usage(stdout);
			free(opts.overrides);
			return RUN_EXIT_OK;
		case 'V':
			printf("clientq-runner %s\n", PACKAGE_VERSION);
			free(opts.overrides);
			return RUN_EXIT_OK;
		default:
			run_usage(stderr);
			free(opts.overrides);
			return RUN_EXIT_USAGE;
		}
	}
	retry_bad = opts.retry_min && opts.retry_max && opts.retry_min > opts.retry_max;
	if (optind != argc || retry_bad || (once && (background || pidfile)) ||
	    (pidfile != NULL && !background)) {
		fprintf(stderr, "clientq-runner: %s\n", optind != argc ? "unexpected argument" :
		    retry_bad ? "--retry-min is larger than --retry-max" :
		    once ? "--once runs in the foreground: no --background or --pidfile" :
		    "--pidfile goes with --background");
		run_usage(stderr);
		free(opts.overrides);
		return RUN_EXIT_USAGE;
	}
	/* In the background nothing reads standard error: syslog. */
	log_init(tag, use_syslog || background ? LOG_DEST_SYSLOG : LOG_DEST_AUTO);
	/* No silent logs: with no syslog daemon, syslog(3) drops every line,
	 * and the detached daemon's stderr is /dev/null.  Said now, while a
	 * terminal reads it; the daemon still starts (the mail goes out, and
	 * syslog(3) reaches a syslog daemon started later). */
	if (log_sink_missing() != NULL)
		fprintf(stderr, "clientq-runner: warning: nothing listens on %s (no syslog daemon):"
		    " %s's log lines will be lost; for a log, run it in the foreground without"
		    " --syslog (standard error), or under systemd (the journal:"
		    " systemctl start sendmail-clientq)\n",
		    log_sink_missing(), background ? "--background" : "--syslog");
	if ((r = run_configure(&opts, &rc)) == NULL)
		goto out;
	/* The socket's path outlives the configuration (a reload may not
	 * change it). */
	control = xstrdup(r->control);
	/* Before anything is started or dropped: the installation as the
	 * runner needs it (clientq-runner(8), CHECKS). */
	if (!runner_startup_check(r->cf, opts.cfpath, opts.overrides, opts.noverrides)) {
		rc = RUN_EXIT_CONFIG;
		goto out;
	}
	/* Detached before privileges go, so that the pidfile can be
	 * written where rc.d keeps them. */
	if (background && ((rc = run_background(pidfile, &ready_fd, &parent)) != RUN_EXIT_OK ||
	    parent))
		goto out;
	if (!once && (rc = run_control(r, control, r->control_explicit, &control_fd,
	    &runner_uid, &control_made)) != RUN_EXIT_OK)
		goto out;
	if (!run_drop_privileges(r)) {
		rc = RUN_EXIT_OSERR;
		goto out;
	}
	if (!run_secure(r)) {
		rc = RUN_EXIT_CONFIG;
		goto out;
	}
	spool_policy_default(&pol);
	pol.trusted_uid = geteuid();
	pol.file_mode = r->file_mode;
	r->sp = spool_open(r->qdir, &pol, &serr);
	if (r->sp == NULL) {
		log_msg(LOG_LVL_ERR, "%s", serr.reason);
		rc = RUN_EXIT_OSERR;
		goto out;
	}
	r->dc.sp = r->sp;
	if (once) {
		rc = run_once(r);
		if (r->relay_down)
			log_msg(LOG_LVL_NOTICE, "relay %s [%s]:%d %s: %s; %lu messages deferred",
			    r->relay.name, r->relay.ip, r->mailer.port,
			    smtp_setup_kind_str(r->relay_down_kind),
			    r->relay_down_why, r->tally.deferred);
	} else {
		struct daemon_config dcfg;
		struct run_daemon rd = { r, &opts };

		memset(&dcfg, 0, sizeof dcfg);
		run_daemon_relay(r, &dcfg);
		dcfg.reload = run_reload;
		dcfg.reload_arg = &rd;
		dcfg.ready_fd = ready_fd;
		dcfg.control_fd = control_fd;
		dcfg.runner_uid = runner_uid;
		dcfg.attach = daemon_control_attach;
		rc = daemon_run(&dcfg);
		if (control_made)
			(void)unlink(control);	/* where the runner's user may */
		r = rd.cur;
		if (pidfile != NULL)
			(void)unlink(pidfile);	/* fails once privileges are dropped: rc.d copes */
	}
out:
	if (r != NULL)
		spool_free(r->sp);
	run_free(r);
	free(control);
	free(opts.overrides);
	return rc;
}
