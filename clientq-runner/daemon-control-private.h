/*
 * daemon-control-private: what the files of the control commands share;
 * nothing else includes it.  The calls between them go one way:
 * daemon-control.c (dispatch, status, flush, list, show) calls
 * daemon-control-act.c (hold, release, remove, bounce, requeue) and
 * daemon-control-verify.c (verify); all three call daemon-control-sel.c
 * (who asked, a message as a selection sees it, the selectors), which
 * calls none of them.
 */
#ifndef CQ_DAEMON_CONTROL_PRIVATE_H
#define CQ_DAEMON_CONTROL_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "control.h"
#include "queue/qid.h"
#include "queue/qlist.h"
#include "queue/qsel.h"
#include "util/ctl.h"

struct daemon;
struct daemon_waiter;
struct idmap;

/* Who sent a request, from its socket's credentials. */
struct daemon_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool admin;		/* root or the runner's user */
	char name[64];
};

/* What a child that reads the queue is given. */
struct daemon_reader {
	struct daemon *d;
	const struct daemon_peer *peer;
	const struct ctl_request *rq;
};

/* The request keys of the selector grammar (clientqctl's --older-than,
 * --newer-than, --sender, --recipient, --user, --reason, --held, --all). */
#define DAEMON_SEL_KEYS "older newer sender recipient user reason held all"

/* What a request that takes messages does with them. */
enum daemon_act {
	DAEMON_ACT_FLUSH,	/* due now (daemon-control.c) */
	DAEMON_ACT_HOLD,	/* the rest: daemon-control-act.c */
	DAEMON_ACT_RELEASE,
	DAEMON_ACT_REMOVE,
	DAEMON_ACT_BOUNCE,
	DAEMON_ACT_REQUEUE,
};

/* A request whose messages a child selects (control_query): the child
 * writes "N name" (the peer's, NSS off the loop), an "I id" per message
 * it selected (flush) or acted on (the rest), an "S id why" per message
 * it left (the rest), and "E status text" last. */
struct daemon_flushq {
	control_token token;
	struct daemon_peer peer;	/* name: the child's */
	enum daemon_act act;
	bool wait, select;
	struct idmap *set;		/* flush: the IDs made due */
	struct daemon_waiter *w;	/* flush --wait: reports as outcomes come */
	size_t nacted, nskipped;	/* the rest */
	char skipped[300];		/* the first "id: why" left */
	char what[300];			/* the selection, for the log; ""
					 * when queue IDs were named */
	char last[QID_MAX_LEN + 1];	/* the last acted on */
	bool ended;			/* the child's last line came */
	enum ctl_status st;
	char text[300];
	struct daemon_flushq *next;
};

/* A queued message as a selection sees it: its file's owner and
 * envelope (from the file, or from the job delivering it). */
struct daemon_msg {
	struct qlist_entry e;
	struct qf_envelope *own;	/* env when we parsed it */
};

/* ---------------------------------------------- daemon-control-sel.c */

/* daemon_peer_named: in a child, the peer's name from NSS (the loop's
 * came from the bounded cache, or is the uid); false, the name left as
 * it was, when NSS has none that fits. */
bool daemon_peer_named(struct daemon_peer *p);

/* daemon_who: "uid 1000 (alice), pid 4242": who asked, for the log. */
void daemon_who(const struct daemon_peer *p, char *buf, size_t size);

/* daemon_msg_load: id's control file (prefix 'q', or 'h' for a held
 * one) read into m; false when it is not there or cannot be opened.
 * Free with daemon_msg_free either way. */
bool daemon_msg_load(struct daemon *d, const char *id, char prefix, struct daemon_msg *m);
void daemon_msg_free(struct daemon_msg *m);

/* daemon_mine: the peer may act on e (root and the runner's user on
 * everything; others as qlist_belongs). */
bool daemon_mine(const struct daemon *d, const struct daemon_peer *p,
    const struct qlist_entry *e);

/* daemon_select: in a child, every message of prefix ('q' queued, 'h'
 * held) that the peer may see and s picks, in directory order: fn(arg, m)
 * for each, until it returns false.  False, and why in err, when the
 * queue cannot be read. */
bool daemon_select(struct daemon *d, const struct daemon_peer *p, char prefix,
    const struct qsel *s, bool (*fn)(void *arg, const struct daemon_msg *m), void *arg,
    struct error *err);

/* daemon_sel_check: on the loop, without NSS or a regex: the request's
 * selectors are well formed (false, and why in err), and what they say
 * for the log in what.  daemon_sel_make: in a child, the selector they
 * make (the user's name resolved, the expression compiled); false, and
 * why, when that fails.  Free with qsel_free. */
bool daemon_sel_check(const struct ctl_request *rq, char *what, size_t whatsize,
    struct error *err);
bool daemon_sel_make(const struct ctl_request *rq, struct qsel *s, struct error *err);

/* daemon_flushq_new: a request whose child is to be started, in the
 * daemon's list (daemon_flushq_free takes it out). */
struct daemon_flushq *daemon_flushq_new(struct daemon *d, control_token t,
    const struct daemon_peer *p, enum daemon_act act);
void daemon_flushq_free(struct daemon *d, struct daemon_flushq *q);

/* ---------------------------------------------- the commands' files */

/* daemon_cmd_act: hold, release, remove, bounce, requeue
 * (daemon-control-act.c). */
void daemon_cmd_act(struct daemon *d, control_token t, const struct daemon_peer *p,
    const struct ctl_request *rq);
/* daemon_act_line: an "I" or "S" line of an action's child, on the
 * loop; daemon_act_answer: its end, answered. */
void daemon_act_line(struct daemon *d, struct daemon_flushq *q, char kind, const char *rest);
void daemon_act_answer(struct daemon *d, struct daemon_flushq *q);

/* daemon_cmd_verify: the verify command (daemon-control-verify.c). */
void daemon_cmd_verify(struct daemon *d, control_token t, const struct daemon_peer *p,
    const struct ctl_request *rq);

#endif
