/*
 * daemon-control-sel: what the control commands share below them --
 * who asked, a queued message read as a selection sees it, whether the
 * peer may act on it, the selector grammar (clientqctl(8), SELECTING
 * MESSAGES) and the walk of the queue it drives, and the list of requests
 * whose child is selecting.  daemon-control.c (dispatch, flush, list,
 * show) and daemon-control-act.c (the actions) both call it; it calls
 * neither, so the calls between the control files go one way.
 *
 * Where each runs.  daemon_sel_check, daemon_who, daemon_mine and the
 * request list run on the loop and cost O(1) or O(request).  The rest
 * reads the queue or asks NSS, and is called in children only
 * (control_query, control_spawn), where waiting holds nobody up.
 */
#include "config.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon-control-private.h"
#include "daemon-private.h"
#include "delivery/deliver.h"
#include "queue/idmap.h"
#include "queue/qf.h"
#include "queue/qsel.h"
#include "queue/spool.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

/* The longest --sender, --recipient, --user and --reason taken. */
#define DAEMON_SEL_MAX 256

/* ------------------------------------------------------------ who asked */

/* "uid 1000 (alice), pid 4242": who asked, for the log. */
void
daemon_who(const struct daemon_peer *p, char *buf, size_t size)
{
	if (p->pid > 0)
		snprintf(buf, size, "uid %lu (%s), pid %ld", (unsigned long)p->uid, p->name,
		    (long)p->pid);
	else
		snprintf(buf, size, "uid %lu (%s)", (unsigned long)p->uid, p->name);
}

bool
daemon_peer_named(struct daemon_peer *p)
{
	struct passwd pw, *res = NULL;
	char tmp[4096];

	if (getpwuid_r(p->uid, &pw, tmp, sizeof tmp, &res) != 0 || res == NULL ||
	    strlen(res->pw_name) >= sizeof p->name)
		return false;
	snprintf(p->name, sizeof p->name, "%s", res->pw_name);
	return true;
}

/* ------------------------------------------------------------ messages */

bool
daemon_msg_load(struct daemon *d, const char *id, char prefix, struct daemon_msg *m)
{
	const struct deliver_job *j = prefix == 'q' ? daemon_active_job(d, id) : NULL;
	struct error err;
	bool locked;
	char *data;
	size_t len;

	memset(m, 0, sizeof *m);
	snprintf(m->e.id, sizeof m->e.id, "%s", id);
	m->e.held = prefix == 'h';
	if (j != NULL) {
		/* Its owner is not known without another descriptor of a
		 * locked file (which an fcntl lock would not survive): the
		 * sender alone decides. */
		m->e.sres = SPOOL_LOCKED;
		m->e.env = (struct qf_envelope *)deliver_envelope(j);
		return true;
	}
	m->e.sres = spool_peek(d->sp, prefix, id, &locked, &data, &len, &m->e.owner, &err);
	if (m->e.sres != SPOOL_OK)
		return false;
	if (qf_parse(data, len, &m->own, NULL) != QF_OK)
		m->own = NULL;
	free(data);
	m->e.env = m->own;
	return true;
}

void
daemon_msg_free(struct daemon_msg *m)
{
	qf_free(m->own);
	m->own = NULL;
}

bool
daemon_mine(const struct daemon *d, const struct daemon_peer *p, const struct qlist_entry *e)
{
	return p->admin || qlist_belongs(e, p->uid, p->name, d->cfg->helo);
}

/* ------------------------------------------------------------ selectors */

static bool
daemon_sel_age(const char *v)
{
	char *end;

	return v == NULL || (v[0] >= '0' && v[0] <= '9' && strtoll(v, &end, 10) >= 0 &&
	    *end == '\0');
}

bool
daemon_sel_check(const struct ctl_request *rq, char *what, size_t whatsize,
    struct error *err)
{
	static const char *const strs[] = { "sender", "recipient", "user", "reason" };
	struct strbuf sb = STRBUF_INIT;
	size_t i;

	if (!daemon_sel_age(ctl_get(rq, "older")) || !daemon_sel_age(ctl_get(rq, "newer"))) {
		error_set(err, 0, "an age must be a number of seconds");
		return false;
	}
	for (i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		const char *v = ctl_get(rq, strs[i]);

		if (v != NULL && (v[0] == '\0' || strlen(v) > DAEMON_SEL_MAX)) {
			error_set(err, 0, "--%s: empty, or longer than %d characters",
			    strs[i], DAEMON_SEL_MAX);
			return false;
		}
	}
	/* The selection as clientqctl's options say it, for the log. */
	for (i = 0; i < rq->nargs; i++) {
		const struct ctl_arg *a = &rq->args[i];
		const char *v = a->value != NULL ? a->value : "";
		const char *sep = sb.len ? " " : "";

		if (strcmp(a->key, "older") == 0 || strcmp(a->key, "newer") == 0)
			strbuf_addf(&sb, "%s--%s-than %ss", sep, a->key, v);
		else if (strcmp(a->key, "held") == 0 || strcmp(a->key, "all") == 0)
			strbuf_addf(&sb, "%s--%s", sep, a->key);
		else if (strcmp(a->key, "sender") == 0 || strcmp(a->key, "recipient") == 0 ||
		    strcmp(a->key, "user") == 0 || strcmp(a->key, "reason") == 0)
			strbuf_addf(&sb, "%s--%s '%s'", sep, a->key, v);
	}
	snprintf(what, whatsize, "%s", sb.len ? strbuf_str(&sb) : "");
	strbuf_free(&sb);
	return true;
}

bool
daemon_sel_make(const struct ctl_request *rq, struct qsel *s, struct error *err)
{
	const char *v;

	qsel_init(s);
	if ((v = ctl_get(rq, "older")) != NULL)
		s->older_than = strtoll(v, NULL, 10);
	if ((v = ctl_get(rq, "newer")) != NULL)
		s->newer_than = strtoll(v, NULL, 10);
	s->sender = ctl_get(rq, "sender");
	s->recipient = ctl_get(rq, "recipient");
	if ((v = ctl_get(rq, "user")) != NULL) {
		struct passwd pw, *res = NULL;
		char tmp[4096];

		/* NSS here, in the child, where waiting holds nobody up. */
		if (getpwnam_r(v, &pw, tmp, sizeof tmp, &res) != 0 || res == NULL) {
			error_set(err, 0, "--user: no such user '%.64s'", v);
			return false;
		}
		s->by_user = true;
		s->uid = pw.pw_uid;
		s->user = v;
	}
	if ((v = ctl_get(rq, "reason")) != NULL) {
		struct error why;

		if (!qsel_set_reason(s, v, &why)) {
			error_set(err, 0, "--reason: not a regular expression: %s", why.reason);
			return false;
		}
	}
	return true;
}

bool
daemon_select(struct daemon *d, const struct daemon_peer *p, char prefix, const struct qsel *s,
    bool (*fn)(void *arg, const struct daemon_msg *m), void *arg, struct error *err)
{
	struct spool_scan scan;
	long long now = (long long)time(NULL);
	bool go = true;
	size_t i;

	if (!spool_scan(d->sp, prefix, &scan, err))
		return false;
	for (i = 0; go && i < scan.nids; i++) {
		struct daemon_msg m;

		if (daemon_msg_load(d, scan.ids[i], prefix, &m) && daemon_mine(d, p, &m.e) &&
		    qsel_match(s, &m.e, now, d->cfg->helo))
			go = fn(arg, &m);
		daemon_msg_free(&m);
	}
	spool_scan_free(&scan);
	return true;
}

/* ------------------------------------------------- requests with a child */

struct daemon_flushq *
daemon_flushq_new(struct daemon *d, control_token t, const struct daemon_peer *p,
    enum daemon_act act)
{
	struct daemon_flushq *q = xcalloc(1, sizeof *q);

	q->token = t;
	q->peer = *p;
	q->act = act;
	q->next = d->flushqs;
	d->flushqs = q;
	return q;
}

void
daemon_flushq_free(struct daemon *d, struct daemon_flushq *q)
{
	struct daemon_flushq **pp;

	for (pp = &d->flushqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	idmap_free(q->set);
	free(q);
}
