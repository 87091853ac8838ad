#include "config.h"

#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "util/monotime.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

/* A reply that makes no progress for this long is dropped. */
#define CONTROL_WRITE_MS 60000

struct control_conn {
	int fd;
	control_token token;
	struct control_peer peer;
	char in[CTL_REQUEST_MAX];
	size_t inlen;
	bool requested;		/* the request went to the handler */
	bool ending;		/* the status line is queued */
	struct strbuf out;
	size_t outoff;		/* written from out */
	long long deadline;	/* mono ms */
	uint32_t registered;
};

struct control_child {
	pid_t pid;		/* 0 once reaped */
	uid_t uid;
	/* A query's (control_query): the read end of its result pipe (-1
	 * for a child that answers its client itself, and once the pipe
	 * is drained), the request it answers, a partial line. */
	int rfd;
	control_token token;
	struct strbuf in;
};

/* epoll keys: 0 the listening socket, 1 + i connection i,
 * CONTROL_KEY_QUERY + k the result pipe of child k. */
#define CONTROL_KEY_QUERY 0x10000u
/* A query's results are read this much per control_io at most: a
 * million lines go through the loop in slices. */
#define CONTROL_QUERY_CHUNK 65536

struct control {
	int epfd, lfd;
	/* The daemon's loop: the epoll set above is one descriptor of it,
	 * and the earliest client deadline one timeout. */
	struct evloop *loop;
	evloop_id fd_id, timer_id;
	long long timer_at;
	struct control_ops ops;
	struct control_conn *conn[CONTROL_MAX_CONN];
	struct control_child child[CONTROL_MAX_CHILDREN];
	control_token next_token;
	const int *keep;
	size_t nkeep;
};

/* ------------------------------------------------------------ the socket */

int
control_listen(const char *path, uid_t owner, gid_t group, struct error *err)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path) {
		error_set(err, 0, "%s: path too long for a socket", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		error_set(err, errno, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		/* Someone answering there is another daemon; a socket nobody
		 * answers on was left by one that died. */
		int e = errno, probe;
		struct stat st;

		if (e != EADDRINUSE) {
			error_set(err, 0, "%s: cannot bind: %s", path, strerror(e));
			close(fd);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
			close(probe);
			close(fd);
			error_set(err, 0, "%s: another clientq-runner answers there", path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			close(fd);
			error_set(err, 0, "%s: exists and is not a socket", path);
			return -1;
		}
		(void)unlink(path);
		if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			error_set(err, errno, "%s: cannot bind: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
	}
	/* Anyone may connect: each request is authorized by the peer's
	 * credentials (clientqctl(8)). */
	if (chmod(path, 0666) < 0 || (geteuid() == 0 && chown(path, owner, group) < 0) ||
	    listen(fd, 64) < 0) {
		error_set(err, errno, "%s: %s", path, strerror(errno));
		close(fd);
		(void)unlink(path);
		return -1;
	}
	return fd;
}

#ifdef HAVE_LIBSYSTEMD
int
control_inherited(void)
{
	/* sd_listen_fds(1) unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES
	 * and marks the descriptors close-on-exec. */
	int n = sd_listen_fds(1);

	if (n < 1 || sd_is_socket(SD_LISTEN_FDS_START, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
		return -1;
	(void)fcntl(SD_LISTEN_FDS_START, F_SETFL,
	    fcntl(SD_LISTEN_FDS_START, F_GETFL) | O_NONBLOCK);
	return SD_LISTEN_FDS_START;
}
#else
/* Without libsystemd: the same protocol (sd_listen_fds(3)), read here. */
int
control_inherited(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int type = 0, listening = 0;
	socklen_t len = sizeof type;
	bool ours = pid != NULL && fds != NULL && strtol(pid, NULL, 10) == (long)getpid() &&
	    strtol(fds, NULL, 10) >= 1;

	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (!ours)
		return -1;
	/* SD_LISTEN_FDS_START: the first passed descriptor is 3. */
	if (getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
		return -1;
	len = sizeof listening;
#ifdef SO_ACCEPTCONN
	if (getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && !listening)
		return -1;
#endif
	(void)fcntl(3, F_SETFD, FD_CLOEXEC);
	(void)fcntl(3, F_SETFL, fcntl(3, F_GETFL) | O_NONBLOCK);
	return 3;
}
#endif

/* ------------------------------------------------------------ connections */

static void control_ready(void *arg, int fd, short revents);

struct control *
control_new(struct evloop *loop, int listen_fd, const struct control_ops *ops)
{
	struct control *ctl = xcalloc(1, sizeof *ctl);
	struct epoll_event ev;

	ctl->lfd = listen_fd;
	ctl->ops = *ops;
	ctl->next_token = 1;
	for (int k = 0; k < CONTROL_MAX_CHILDREN; k++)
		ctl->child[k].rfd = -1;
	ctl->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ctl->epfd < 0) {
		free(ctl);
		return NULL;
	}
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.u32 = 0;
	if (epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, listen_fd, &ev) < 0 ||
	    (ctl->fd_id = evloop_add_fd(loop, ctl->epfd, POLLIN, control_ready, ctl)) == 0) {
		close(ctl->epfd);
		free(ctl);
		return NULL;
	}
	ctl->loop = loop;
	ctl->timer_at = -1;
	return ctl;
}

static void
control_timeout(void *arg)
{
	struct control *ctl = arg;

	ctl->timer_id = 0;
	ctl->timer_at = -1;
	control_io(ctl, monotime_ms());
}

/* The loop's timeout for the earliest client deadline, as it is now. */
static void
control_arm(struct control *ctl)
{
	long long at = control_deadline(ctl);

	if (at == ctl->timer_at)
		return;
	evloop_remove_timeout(ctl->loop, ctl->timer_id);
	ctl->timer_id = at >= 0 ? evloop_add_timeout_at(ctl->loop, at, control_timeout, ctl) : 0;
	ctl->timer_at = at;
}

static void
control_ready(void *arg, int fd, short revents)
{
	(void)fd;
	(void)revents;
	control_io(arg, monotime_ms());
}

static void
control_close(struct control *ctl, int i, bool tell)
{
	struct control_conn *c = ctl->conn[i];

	if (c == NULL)
		return;
	ctl->conn[i] = NULL;
	(void)epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (tell && c->requested && !c->ending && ctl->ops.closed != NULL)
		ctl->ops.closed(ctl->ops.arg, c->token);
	strbuf_free(&c->out);
	free(c);
}

void
control_free(struct control *ctl)
{
	int i;

	if (ctl == NULL)
		return;
	for (i = 0; i < CONTROL_MAX_CONN; i++)
		control_close(ctl, i, false);
	for (i = 0; i < CONTROL_MAX_CHILDREN; i++) {
		if (ctl->child[i].rfd >= 0)
			close(ctl->child[i].rfd);
		strbuf_free(&ctl->child[i].in);
	}
	evloop_remove_fd(ctl->loop, ctl->fd_id);
	evloop_remove_timeout(ctl->loop, ctl->timer_id);
	close(ctl->epfd);
	close(ctl->lfd);
	free(ctl);
}

static int
control_find(const struct control *ctl, control_token t)
{
	int i;

	for (i = 0; i < CONTROL_MAX_CONN; i++)
		if (ctl->conn[i] != NULL && ctl->conn[i]->token == t)
			return i;
	return -1;
}

static bool
control_peer_of(int fd, struct control_peer *p)
{
	memset(p, 0, sizeof *p);
#ifdef SO_PEERCRED
	{
		struct ucred uc;
		socklen_t len = sizeof uc;

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
			return false;
		p->uid = uc.uid;
		p->gid = uc.gid;
		p->pid = uc.pid;
		return true;
	}
#else
	return getpeereid(fd, &p->uid, &p->gid) == 0;
#endif
}

/* Connections and children of uid. */
static int
control_count(const struct control *ctl, uid_t uid)
{
	int i, n = 0;

	for (i = 0; i < CONTROL_MAX_CONN; i++)
		n += ctl->conn[i] != NULL && ctl->conn[i]->peer.uid == uid;
	for (i = 0; i < CONTROL_MAX_CHILDREN; i++)
		n += ctl->child[i].pid > 0 && ctl->child[i].uid == uid;
	return n;
}

/* Register what c waits for: input always (a request, or the client
 * going away), output while some is queued. */
static void
control_interest(struct control *ctl, int i)
{
	struct control_conn *c = ctl->conn[i];
	struct epoll_event ev;
	uint32_t want = EPOLLIN | EPOLLRDHUP;

	if (c->out.len > c->outoff)
		want |= EPOLLOUT;
	if (want == c->registered)
		return;
	memset(&ev, 0, sizeof ev);
	ev.events = want;
	ev.data.u32 = (uint32_t)i + 1;
	(void)epoll_ctl(ctl->epfd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev);
	c->registered = want;
}

/* Refuse a connection over a limit: one line, best effort, closed. */
static void
control_refuse(int fd, const char *why)
{
	char line[200];
	int n = snprintf(line, sizeof line, "TRY %s\n", why);

	(void)!write(fd, line, (size_t)n);
	close(fd);
}

static void
control_accept(struct control *ctl, long long mono)
{
	int k;

	for (k = 0; k < 64; k++) {
		struct control_peer peer;
		struct control_conn *c;
		int fd, i;

		fd = accept4(ctl->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (!control_peer_of(fd, &peer)) {
			control_refuse(fd, "cannot tell who is asking");
			continue;
		}
		if (peer.uid != 0 && control_count(ctl, peer.uid) >= CONTROL_MAX_PER_UID) {
			control_refuse(fd, "too many connections from this user; try again");
			continue;
		}
		for (i = 0; i < CONTROL_MAX_CONN && ctl->conn[i] != NULL; i++)
			;
		if (i == CONTROL_MAX_CONN) {
			control_refuse(fd, "too many connections; try again");
			continue;
		}
		c = xcalloc(1, sizeof *c);
		c->fd = fd;
		c->peer = peer;
		c->token = ctl->next_token++;
		c->deadline = mono + CONTROL_REQUEST_MS;
		ctl->conn[i] = c;
		control_interest(ctl, i);
	}
}

/* Write what is queued; false when the connection was closed. */
static bool
control_flush_out(struct control *ctl, int i, long long mono)
{
	struct control_conn *c = ctl->conn[i];

	while (c->out.len > c->outoff) {
		ssize_t n = send(c->fd, c->out.buf + c->outoff, c->out.len - c->outoff,
		    MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			control_close(ctl, i, true);
			return false;
		}
		c->outoff += (size_t)n;
		c->deadline = mono + CONTROL_WRITE_MS;
	}
	if (c->outoff == c->out.len) {
		strbuf_reset(&c->out);
		c->outoff = 0;
		if (c->ending) {
			control_close(ctl, i, false);
			return false;
		}
		if (c->requested)
			c->deadline = -1;	/* waiting on the daemon (flush --wait) */
	}
	control_interest(ctl, i);
	return true;
}

static void
control_read(struct control *ctl, int i, long long mono)
{
	struct control_conn *c = ctl->conn[i];

	for (;;) {
		char discard[512], *nl;
		ssize_t n;

		if (c->requested) {
			/* Anything after the request is ignored; reading
			 * still tells when the client goes away. */
			n = read(c->fd, discard, sizeof discard);
			if (n > 0)
				continue;
		} else {
			n = read(c->fd, c->in + c->inlen, sizeof c->in - c->inlen);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			control_close(ctl, i, true);
			return;
		}
		c->inlen += (size_t)n;
		nl = memchr(c->in, '\n', c->inlen);
		if (nl != NULL) {
			struct ctl_request rq;
			char reason[200];
			enum ctl_parse pr;
			control_token t = c->token;

			c->requested = true;
			c->deadline = -1;
			pr = ctl_parse_request(c->in, (size_t)(nl - c->in), &rq, reason, sizeof reason);
			if (pr != CTL_PARSE_OK) {
				control_end(ctl, t, CTL_BAD, "%s", reason);
				return;
			}
			ctl->ops.request(ctl->ops.arg, t, &c->peer, &rq);
			ctl_request_free(&rq);
			return;	/* c may be gone */
		}
		if (c->inlen == sizeof c->in) {
			control_end(ctl, c->token, CTL_BAD,
			    "request longer than %d octets", CTL_REQUEST_MAX - 1);
			return;
		}
		(void)mono;
	}
}

static void control_query_read(struct control *ctl, int slot);

void
control_io(struct control *ctl, long long mono)
{
	struct epoll_event evs[64];
	int n, k, i;

	n = epoll_wait(ctl->epfd, evs, 64, 0);
	for (k = 0; k < n; k++) {
		uint32_t key = evs[k].data.u32;

		if (key == 0) {
			control_accept(ctl, mono);
			continue;
		}
		if (key >= CONTROL_KEY_QUERY) {
			control_query_read(ctl, (int)(key - CONTROL_KEY_QUERY));
			continue;
		}
		i = (int)key - 1;
		if (i >= CONTROL_MAX_CONN || ctl->conn[i] == NULL)
			continue;
		if ((evs[k].events & EPOLLOUT) && !control_flush_out(ctl, i, mono))
			continue;
		if (evs[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			control_read(ctl, i, mono);
	}
	for (i = 0; i < CONTROL_MAX_CONN; i++) {
		struct control_conn *c = ctl->conn[i];

		if (c != NULL && c->deadline >= 0 && mono >= c->deadline) {
			if (!c->requested && c->out.len == 0) {
				control_end(ctl, c->token, CTL_BAD, "no request within %d s",
				    CONTROL_REQUEST_MS / 1000);
				/* If even that cannot go out, the next
				 * deadline drops it. */
				if (ctl->conn[i] != NULL) {
					ctl->conn[i]->requested = true;
					ctl->conn[i]->deadline = mono + CONTROL_WRITE_MS;
				}
			} else {
				control_close(ctl, i, true);
			}
		}
	}
	control_arm(ctl);
}

long long
control_deadline(const struct control *ctl)
{
	long long t = -1;
	int i;

	for (i = 0; i < CONTROL_MAX_CONN; i++) {
		const struct control_conn *c = ctl->conn[i];

		if (c != NULL && c->deadline >= 0 && (t < 0 || c->deadline < t))
			t = c->deadline;
	}
	return t;
}

static bool
control_vqueue(struct control *ctl, control_token t, const char *word, bool end,
    const char *fmt, va_list ap)
{
	int i = control_find(ctl, t);
	struct control_conn *c;
	size_t start;
	bool ok;

	if (i < 0 || ctl->conn[i]->ending)
		return false;
	c = ctl->conn[i];
	start = c->out.len;
	strbuf_addf(&c->out, "%s ", word);
	strbuf_vaddf(&c->out, fmt, ap);
	/* One line: a line feed in the text would end it early. */
	for (size_t k = start; k < c->out.len; k++)
		if (c->out.buf[k] == '\n' || c->out.buf[k] == '\r')
			c->out.buf[k] = ' ';
	strbuf_addch(&c->out, '\n');
	if (c->out.len - c->outoff > CONTROL_OUT_MAX) {
		/* The client does not read: it goes. */
		control_close(ctl, i, true);
		return false;
	}
	c->ending = end;
	ok = control_flush_out(ctl, i, monotime_ms()) || end;
	control_arm(ctl);
	return ok;
}

bool
control_line(struct control *ctl, control_token t, char kind, const char *fmt, ...)
{
	va_list ap;
	bool ok;
	char word[2] = { kind, '\0' };

	va_start(ap, fmt);
	ok = control_vqueue(ctl, t, word, false, fmt, ap);
	va_end(ap);
	return ok;
}

bool
control_end(struct control *ctl, control_token t, enum ctl_status st, const char *fmt, ...)
{
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = control_vqueue(ctl, t, ctl_status_word(st), true, fmt, ap);
	va_end(ap);
	return ok;
}

/* ------------------------------------------------------------ children */

void
control_keep_fds(struct control *ctl, const int *fds, size_t n)
{
	ctl->keep = fds;
	ctl->nkeep = n;
}

/* In a child: every descriptor but 0-2, fd and the ones the daemon
 * named (the queue directory's) is closed.  A child holding a relay
 * connection or a queue file's lock would keep it past the daemon's own
 * close: the relay would not see the end of the session, nor sendmail a
 * lock released. */
static void
control_close_others(const struct control *ctl, int fd)
{
	struct rlimit rl;
	int max = 1024, k;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = rl.rlim_cur > 65536 ? 65536 : (int)rl.rlim_cur;
	for (k = 3; k < max; k++) {
		bool keep = k == fd;
		size_t x;

		for (x = 0; x < ctl->nkeep && !keep; x++)
			keep = ctl->keep[x] == k;
		if (!keep)
			(void)close(k);
	}
}

/* A child slot nobody uses (no process, no pipe still being read), or
 * -1; -1 too when uid (not root) has CONTROL_MAX_CHILDREN_PER_UID
 * already, so that one user's requests cannot take every slot. */
static int
control_child_slot(const struct control *ctl, uid_t uid)
{
	int k, free_slot = -1, mine = 0;

	for (k = 0; k < CONTROL_MAX_CHILDREN; k++) {
		const struct control_child *ch = &ctl->child[k];

		if (ch->pid <= 0 && ch->rfd < 0) {
			if (free_slot < 0)
				free_slot = k;
		} else if (ch->uid == uid) {
			mine++;
		}
	}
	if (uid != 0 && mine >= CONTROL_MAX_CHILDREN_PER_UID)
		return -1;
	return free_slot;
}

/* fork, for control_spawn and control_query: in the child (0 returned)
 * signals as a plain process has them, a time limit, and only fd and the
 * kept descriptors open. */
static pid_t
control_fork(const struct control *ctl, int fd)
{
	sigset_t none;
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	alarm(CONTROL_CHILD_SECONDS);
	/* Below the loop: on a busy machine the scheduler serves the
	 * deliveries and the watchdog first. */
	(void)setpriority(PRIO_PROCESS, 0, CONTROL_CHILD_NICE);
	control_close_others(ctl, fd);
	return 0;
}

bool
control_spawn(struct control *ctl, control_token t, void (*fn)(void *arg, FILE *out),
    void *arg)
{
	int i = control_find(ctl, t), slot;
	struct control_conn *c;
	pid_t pid;

	if (i < 0 || (slot = control_child_slot(ctl, ctl->conn[i]->peer.uid)) < 0)
		return false;
	c = ctl->conn[i];
	pid = control_fork(ctl, c->fd);
	if (pid < 0)
		return false;
	if (pid == 0) {
		FILE *out;

		(void)fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK);
		out = fdopen(c->fd, "w");
		if (out == NULL)
			_exit(1);
		/* What the daemon had queued (nothing, as a rule) first. */
		if (c->out.len > c->outoff)
			(void)fwrite(c->out.buf + c->outoff, 1, c->out.len - c->outoff, out);
		fn(arg, out);
		(void)fflush(out);
		/* No exit handlers, no sanitizer leak report for the
		 * daemon's memory, which this copy does not own. */
		_exit(0);
	}
	ctl->child[slot].pid = pid;
	ctl->child[slot].uid = c->peer.uid;
	c->requested = true;
	c->ending = true;	/* the child answers; no "closed" callback */
	control_close(ctl, i, false);
	return true;
}

bool
control_query(struct control *ctl, control_token t, void (*fn)(void *arg, FILE *out),
    void *arg)
{
	int i = control_find(ctl, t), slot;
	struct control_child *ch;
	struct epoll_event ev;
	int p[2];
	pid_t pid;

	if (i < 0 || (slot = control_child_slot(ctl, ctl->conn[i]->peer.uid)) < 0 ||
	    pipe2(p, O_CLOEXEC) < 0)
		return false;
	pid = control_fork(ctl, p[1]);
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (pid == 0) {
		FILE *out = fdopen(p[1], "w");

		if (out == NULL)
			_exit(1);
		fn(arg, out);
		_exit(fflush(out) == 0 ? 0 : 1);
	}
	close(p[1]);
	(void)fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	ch = &ctl->child[slot];
	ch->pid = pid;
	ch->uid = ctl->conn[i]->peer.uid;
	ch->rfd = p[0];
	ch->token = t;
	strbuf_reset(&ch->in);
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.u32 = CONTROL_KEY_QUERY + (uint32_t)slot;
	(void)epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, p[0], &ev);
	return true;
}

/* A query's results: whole lines to the handler, CONTROL_QUERY_CHUNK
 * octets at most per call; at the end of the pipe, query_done. */
static void
control_query_read(struct control *ctl, int slot)
{
	struct control_child *ch;
	char buf[8192];
	size_t got = 0;

	if (slot < 0 || slot >= CONTROL_MAX_CHILDREN || ctl->child[slot].rfd < 0)
		return;
	ch = &ctl->child[slot];
	while (got < CONTROL_QUERY_CHUNK) {
		ssize_t n = read(ch->rfd, buf, sizeof buf);
		size_t start = 0, k;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* The child is done (or died: a partial line is
			 * no result). */
			(void)epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, ch->rfd, NULL);
			close(ch->rfd);
			ch->rfd = -1;
			strbuf_reset(&ch->in);
			if (ctl->ops.query_done != NULL)
				ctl->ops.query_done(ctl->ops.arg, ch->token);
			return;
		}
		got += (size_t)n;
		for (k = 0; k < (size_t)n; k++) {
			if (buf[k] != '\n')
				continue;
			strbuf_append(&ch->in, buf + start, k - start);
			if (ctl->ops.query_line != NULL)
				ctl->ops.query_line(ctl->ops.arg, ch->token,
				    ch->in.buf != NULL ? ch->in.buf : "");
			strbuf_reset(&ch->in);
			start = k + 1;
		}
		/* A line longer than any result is garbage: dropped. */
		if (ch->in.len + ((size_t)n - start) <= CTL_REQUEST_MAX)
			strbuf_append(&ch->in, buf + start, (size_t)n - start);
		else
			strbuf_reset(&ch->in);
	}
}

void
control_reap(struct control *ctl)
{
	pid_t pid;
	int st, i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		for (i = 0; i < CONTROL_MAX_CHILDREN; i++)
			if (ctl->child[i].pid == pid)
				ctl->child[i].pid = 0;
}

void
control_fprint_data(FILE *out, const char *text, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;

		fputs("D ", out);
		fwrite(text + i, 1, n, out);
		putc('\n', out);
		i += n + (nl != NULL);
	}
}

/* control_data_open's stream: the line so far. */
struct control_data {
	FILE *out;
	struct strbuf line;
};

static ssize_t
control_data_write(void *cookie, const char *buf, size_t size)
{
	struct control_data *c = cookie;
	size_t i = 0;

	while (i < size) {
		const char *nl = memchr(buf + i, '\n', size - i);
		size_t n = nl ? (size_t)(nl - (buf + i)) : size - i;

		strbuf_append(&c->line, buf + i, n);
		i += n;
		if (nl == NULL)
			break;
		i++;
		control_fprint_data(c->out, c->line.buf, c->line.len);
		if (c->line.len == 0)
			fputs("D \n", c->out);	/* an empty line is a line */
		strbuf_reset(&c->line);
	}
	return ferror(c->out) ? -1 : (ssize_t)size;
}

static int
control_data_close(void *cookie)
{
	struct control_data *c = cookie;
	int r;

	if (c->line.len > 0)
		control_fprint_data(c->out, c->line.buf, c->line.len);
	r = ferror(c->out) ? EOF : 0;
	strbuf_free(&c->line);
	free(c);
	return r;
}

FILE *
control_data_open(FILE *out)
{
	static const cookie_io_functions_t io = {
		.write = control_data_write,
		.close = control_data_close,
	};
	struct control_data *c = xcalloc(1, sizeof *c);
	FILE *fp;

	c->out = out;
	if ((fp = fopencookie(c, "w", io)) == NULL)
		free(c);
	return fp;
}

void
control_fprint_end(FILE *out, enum ctl_status st, const char *fmt, ...)
{
	va_list ap;

	fprintf(out, "%s ", ctl_status_word(st));
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	putc('\n', out);
}
