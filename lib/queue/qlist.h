/*
 * qlist: the queue listing that `mailq -Ac` prints, and the same as JSON.
 *
 * qlist_gather() reads every control file of a queue the way sendmail's
 * gatherq() does for a listing (a shared-lock probe for the '*' mark; no
 * exclusive lock, so a listing never delays a delivery) and orders it as
 * sendmail's default QueueSortOrder does: by ascending priority, ties kept
 * in directory order.  qlist_print_mailq() reproduces print_single_queue()'s
 * layout byte for byte for every file sendmail would list.  Files it cannot
 * read get one line with the reason (see clientqctl(8) for how these differ
 * from mailq).
 */
#ifndef CQ_QLIST_H
#define CQ_QLIST_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "queue/qf.h"
#include "queue/qid.h"
#include "queue/spool.h"

struct qlist_entry {
	char id[QID_MAX_LEN + 1];
	bool locked;			/* someone holds the lock ('*') */
	long long df_size;		/* -1: no data file (or not asked:
					 * only with keep_env) */
	struct qf_envelope *env;	/* NULL unless the file was read and
					 * the caller asked to keep it */
	long long priority;		/* P, for the order */
	enum spool_result sres;		/* how opening it went */
	enum qf_status qst;		/* how parsing it went */
	char *problem;			/* why env is NULL, or NULL */
	size_t seq;			/* directory order, for a stable sort */
	uid_t owner;			/* the control file's owner (when
					 * sres is SPOOL_OK) */
	bool held;			/* an hf file (qlist_gather_held) */
	bool active;			/* being delivered: set by a caller
					 * that knows (the daemon), for the
					 * JSON Lines' queue_name */
};

struct qlist {
	struct qlist_entry *v;
	size_t n;
	struct spool_scan scan;		/* .skipped: names that are not queue files */
};

/* qlist_want_fn: whether qlist_gather keeps an entry.  It sees the entry
 * as read, with its envelope when the file could be parsed (env NULL
 * otherwise); the envelope is dropped after unless keep_env. */
typedef bool qlist_want_fn(void *arg, const struct qlist_entry *e);

/* qlist_gather: read and order the queue (ascending priority, ties in
 * directory order; O(n log n)); with want, only the entries it keeps.
 * With keep_env false only what ordering needs is kept, about 100
 * octets an entry (the runner's case, and a listing's: the printers
 * below read each file again as they print it, as sendmail's mailq
 * does, so memory stays small whatever the size of the backlog); with
 * keep_env, the envelopes and data file sizes too. */
bool qlist_gather(struct spool *sp, struct qlist *out, bool keep_env, qlist_want_fn *want,
    void *arg, struct error *err);
void qlist_free(struct qlist *ql);

/* qlist_gather_held: append the held messages (hf files, sendmail's
 * quarantine, which mailq leaves out) to ql, in directory order, as
 * qlist_gather keeps them; each has .held set.  Names that are not hf
 * files are not reported. */
bool qlist_gather_held(struct spool *sp, struct qlist *ql, bool keep_env, qlist_want_fn *want,
    void *arg, struct error *err);

/* qlist_walk: each file of the queue (prefix 'q'; 'h' for the held ones)
 * read as qlist_gather reads it, with its envelope and data file size,
 * given to fn and freed when fn returns: one file's memory whatever the
 * size of the queue.  Directory order. */
bool qlist_walk(struct spool *sp, char prefix, void (*fn)(void *arg, const struct qlist_entry *e),
    void *arg, struct error *err);

/* qlist_belongs: the entry is the message of the user uid (login name
 * user) in a queue whose $j is domain: the control file is theirs
 * (uid), or its envelope sender is theirs, unqualified ("user") or
 * qualified with domain ("user@domain", the domain in any case).  The
 * sender counts because a runner's rewrite makes the file the runner's;
 * the owner, because the sender can be any address the submitter chose
 * with -f.  Without an envelope, only the owner. */
bool qlist_belongs(const struct qlist_entry *e, uid_t uid, const char *user,
    const char *domain);

/* The printers.  An entry gathered without its envelope is read again
 * from sp as it is printed (sp NULL: printed as it is); one whose file
 * went meanwhile is printed as mailq prints it, "(job completed)", and
 * in JSON with the state "completed".  They stop at a write error on
 * fp (a reader that went away). */

/* qlist_print_mailq: the listing as `mailq -Ac` prints it for queue_dir. */
void qlist_print_mailq(const struct qlist *ql, struct spool *sp, const char *queue_dir, FILE *fp);

/* qlist_print_json: a JSON array with one object per entry (the listing
 * of `list --json-array`; to go after one release). */
void qlist_print_json(const struct qlist *ql, struct spool *sp, FILE *fp);

/* qlist_print_jsonl: JSON Lines as Postfix's `postqueue -j` writes them:
 * one object per entry and line, with postqueue's members, names and JSON
 * types (queue_name, queue_id, arrival_time, message_size, forced_expire,
 * sender, recipients[] of address and delay_reason), in its order and
 * spacing, then ours, prefixed clientq_ (clientqctl(8) lists them).
 * queue_name is qlist_queue_name()'s; message_size qlist_message_size()'s;
 * forced_expire is always false (nothing here forces expiry); addresses
 * lose sendmail's angle brackets ("<>" is ""); a recipient of a message
 * tried before (N > 0) has a delay_reason, its M line or the envelope's,
 * when there is one.  An entry without an envelope (unreadable, being
 * written) gets arrival_time 0, sender "", no recipients and a
 * clientq_problem.  Strings as json_string() (util/json.h) writes them. */
void qlist_print_jsonl(const struct qlist *ql, struct spool *sp, FILE *fp);

/* qlist_queue_name: "hold" (held), "active" (e->active: being delivered),
 * "deferred" (tried before: N > 0) or "incoming" (never tried, or no
 * envelope). */
const char *qlist_queue_name(const struct qlist_entry *e);

/* qlist_message_size: octets of header and body, as Postfix counts them:
 * the data file's size and the headers as queued in the control file
 * (macros unexpanded, conditional headers counted, LF line ends: an
 * approximation, as Postfix says of its own).  A missing data file counts
 * 0; without an envelope, so do the headers. */
long long qlist_message_size(const struct qlist_entry *e);

#endif
