/*
 * daemon-control-private: what the files of the control commands share
 * (daemon-control.c, daemon-control-verify.c); nothing else includes it.
 */
#ifndef CQ_DAEMON_CONTROL_PRIVATE_H
#define CQ_DAEMON_CONTROL_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "control.h"
#include "util/ctl.h"

struct daemon;

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

/* daemon_who: "uid 1000 (alice), pid 4242": who asked, for the log. */
void daemon_who(const struct daemon_peer *p, char *buf, size_t size);

/* daemon_cmd_verify: the verify command (daemon-control-verify.c). */
void daemon_cmd_verify(struct daemon *d, control_token t, const struct daemon_peer *p,
    const struct ctl_request *rq);

#endif
