/*
 * control: the daemon's end of the control socket (protocol: ctl.h).
 *
 * Contract
 * --------
 * - control_listen() makes the socket (mode 0666: anyone may connect;
 *   what they may do is decided per request from the peer's
 *   credentials) or control_inherited() takes it from systemd
 *   (LISTEN_PID/LISTEN_FDS).
 * - Everything is non-blocking and runs in the daemon's loop (evloop.h)
 *   through one descriptor (an epoll set of its own) and one timeout,
 *   which control_new registers: a client that sends
 *   nothing is dropped after CONTROL_REQUEST_MS, one that sends more than
 *   CTL_REQUEST_MAX octets without a line end gets BAD and is dropped, one
 *   that does not read its reply is dropped once CONTROL_OUT_MAX octets
 *   wait for it.  At most CONTROL_MAX_CONN connections, and
 *   CONTROL_MAX_PER_UID per user (root excepted); over the limit a client
 *   gets TRY and is closed.
 * - Each complete request goes to the handler with the peer's uid, gid
 *   and pid (SO_PEERCRED, getpeereid on the BSDs) and a token; the
 *   handler answers with control_line/control_end now or later (flush
 *   --wait), or hands the connection to a child with control_spawn (a
 *   listing of a large queue is written by a forked process, so neither
 *   its reading nor a slow reader holds the loop), or asks a child to
 *   select messages for it with control_query and answers from the
 *   results (flush by sender or recipient).  A token outlives its
 *   connection safely: control_line on a closed one returns false, and
 *   the closed callback says it went.
 */
#ifndef CQ_CONTROL_H
#define CQ_CONTROL_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "util/ctl.h"
#include "util/error.h"
#include "util/evloop.h"

#define CONTROL_MAX_CONN 256
#define CONTROL_MAX_PER_UID 8
#define CONTROL_MAX_CHILDREN 4
/* An ordinary user's requests in children at once. */
#define CONTROL_MAX_CHILDREN_PER_UID 2
/* Children run this much nicer than the daemon. */
#define CONTROL_CHILD_NICE 10
#define CONTROL_REQUEST_MS 10000
#define CONTROL_OUT_MAX (4u << 20)
/* A child writing a reply is killed after this long: time to read a
 * million control files on a busy disk (sendmail -bp -Ac took 39 s on
 * an idle one). */
#define CONTROL_CHILD_SECONDS 600

struct control_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;		/* 0 where the platform does not say */
};

typedef unsigned long long control_token;

struct control_ops {
	void (*request)(void *arg, control_token t, const struct control_peer *peer,
	    const struct ctl_request *rq);
	/* The connection of t went away before control_end. */
	void (*closed)(void *arg, control_token t);
	void *arg;
	/* control_query's results: each line the child wrote (without its
	 * line feed), then the end of them.  t may be closed by then (the
	 * closed callback said so): the results still come. */
	void (*query_line)(void *arg, control_token t, const char *line);
	void (*query_done)(void *arg, control_token t);
};

struct control;

/* control_listen: a new socket at path (a stale socket nobody answers
 * on is replaced; a live one is an error), owned by owner:group; -1 and
 * err on failure. */
int control_listen(const char *path, uid_t owner, gid_t group, struct error *err);
/* control_inherited: the listening socket systemd passed, or -1.
 * Unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES. */
int control_inherited(void);

/* control_new: the server on listen_fd, registered with the daemon's
 * loop (its descriptor, and a timeout for its clients' deadlines): it
 * runs from there, the daemon does not call it. */
struct control *control_new(struct evloop *loop, int listen_fd, const struct control_ops *ops);
/* control_free: closes every connection (without a reply) and the
 * listening socket; children are left to finish. */
void control_free(struct control *ctl);

/* control_io: accept, read, write, time out; mono is the loop's clock. */
void control_io(struct control *ctl, long long mono);
/* control_deadline: the earliest timeout (mono ms), or -1. */
long long control_deadline(const struct control *ctl);

/* control_line: one "D" or "P" line (kind 'D' or 'P'); false when the
 * connection is gone. */
bool control_line(struct control *ctl, control_token t, char kind,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* control_end: the status line; the connection closes once it is out. */
bool control_end(struct control *ctl, control_token t, enum ctl_status st,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* control_spawn: fork; the child gets the connection as a blocking
 * FILE * (write whole reply lines with control_fprint_*, then return: it
 * exits), the parent forgets the connection.  false (nothing forked) when
 * CONTROL_MAX_CHILDREN are busy or fork fails; the caller answers TRY. */
bool control_spawn(struct control *ctl, control_token t,
    void (*fn)(void *arg, FILE *out), void *arg);
/* control_query: fork; the child runs fn with a pipe back to the daemon
 * as out and writes result lines to it; the parent keeps the connection
 * (it answers with control_line/control_end once it has the results)
 * and gets the lines through ops.query_line as they come, a slice per
 * control_io, then ops.query_done.  So a request whose selection reads
 * every queue file (flush --sender) costs the loop only the handling of
 * its results.  false (nothing forked) as for control_spawn. */
bool control_query(struct control *ctl, control_token t,
    void (*fn)(void *arg, FILE *out), void *arg);
/* control_keep_fds: descriptors a child keeps besides its connection
 * (the queue directory's); every other one it closes, so that it holds
 * no relay connection and no queue file's lock. */
void control_keep_fds(struct control *ctl, const int *fds, size_t n);
/* control_reap: collect ended children (the daemon calls it on SIGCHLD). */
void control_reap(struct control *ctl);

/* For a child's FILE *: text (any number of lines) as "D" lines; the
 * status line. */
void control_fprint_data(FILE *out, const char *text, size_t len);
/* control_data_open: a stream whose lines go to out as "D" lines as
 * they are written, so that a listing of a million messages is never
 * held whole in memory; a last line without its newline goes at fclose.
 * A write error on out is the stream's error.  NULL when out of memory. */
FILE *control_data_open(FILE *out);
void control_fprint_end(FILE *out, enum ctl_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
