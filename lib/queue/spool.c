#include "config.h"

#include "queue/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "util/crashpoint.h"
#include "util/xalloc.h"

/* Longest name gatherq() accepts: MAXQFNAME (21) minus one. */
#define SPOOL_NAME_MAX 20

struct spool {
	char *path;
	int dirfd;		/* the queue directory */
	int qfdirfd;		/* qf/ if it exists, else dirfd */
	int dfdirfd;		/* df/ if it exists, else dirfd */
	int xfdirfd;		/* xf/ if it exists, else dirfd */
	bool dir_group_writable;
	uid_t trusted_uid;
	gid_t queue_gid;
	enum spool_lockmode lockmode;
	mode_t file_mode;
};

/* Test seam: when set (only by tests/unit/test-spool-race.c, which includes
 * this file), called between the open and the lock of a control file, to
 * replace the file at exactly the moment the race check exists for. */
static void (*spool_race_hook)(int dirfd, const char *name);

struct spool_job {
	struct spool *sp;
	char id[QID_MAX_LEN + 1];
	int fd;			/* the locked control file, O_RDWR */
	char prefix;		/* 'q', or 'h' for a held message */
};

static void
spool_fail(struct error *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
spool_fail(struct error *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	error_setv(err, errnum, fmt, ap);
	va_end(ap);
	err->code = SPOOL_UNSAFE_NONE;
}

/* SPOOL_UNSAFE of the given kind (after spool_fail said why). */
static enum spool_result
spool_unsafe(struct error *err, enum spool_unsafe kind)
{
	if (err != NULL)
		err->code = kind;
	return SPOOL_UNSAFE;
}

void
spool_policy_default(struct spool_policy *pol)
{
	pol->trusted_uid = (uid_t)-1;
	pol->queue_gid = (gid_t)-1;
#ifdef __linux__
	pol->lockmode = SPOOL_LOCK_BOTH;
#else
	pol->lockmode = SPOOL_LOCK_FLOCK;
#endif
	pol->file_mode = 0660;
}

static int
spool_subdir(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode))
		return dirfd;
	return openat(dirfd, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

struct spool *
spool_open(const char *path, const struct spool_policy *pol,
    struct error *err)
{
	struct spool *sp;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		spool_fail(err, errno, "%s: cannot open queue directory: %s",
		    path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		spool_fail(err, errno, "%s: cannot stat queue directory: %s",
		    path, strerror(errno));
		close(fd);
		return NULL;
	}
	sp = xcalloc(1, sizeof *sp);
	sp->path = xstrdup(path);
	sp->dirfd = fd;
	sp->trusted_uid = pol->trusted_uid == (uid_t)-1 ? st.st_uid : pol->trusted_uid;
	sp->queue_gid = pol->queue_gid == (gid_t)-1 ? st.st_gid : pol->queue_gid;
	sp->lockmode = pol->lockmode;
	/* Never a file others may write, nor a set-id one: our own reader
	 * would refuse it. */
	sp->file_mode = pol->file_mode & 0775;
	sp->dir_group_writable = (st.st_mode & S_IWGRP) && st.st_gid == sp->queue_gid;
	sp->qfdirfd = spool_subdir(fd, "qf");
	sp->dfdirfd = spool_subdir(fd, "df");
	sp->xfdirfd = spool_subdir(fd, "xf");
	if (sp->qfdirfd < 0 || sp->dfdirfd < 0 || sp->xfdirfd < 0) {
		spool_fail(err, errno, "%s: cannot open a qf/, df/ or xf/ subdirectory: %s",
		    path, strerror(errno));
		spool_free(sp);
		return NULL;
	}
	return sp;
}

void
spool_free(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->qfdirfd >= 0 && sp->qfdirfd != sp->dirfd)
		close(sp->qfdirfd);
	if (sp->dfdirfd >= 0 && sp->dfdirfd != sp->dirfd)
		close(sp->dfdirfd);
	if (sp->xfdirfd >= 0 && sp->xfdirfd != sp->dirfd)
		close(sp->xfdirfd);
	close(sp->dirfd);
	free(sp->path);
	free(sp);
}

const char *
spool_path(const struct spool *sp)
{
	return sp->path;
}

size_t
spool_dirfds(const struct spool *sp, int fds[4])
{
	size_t n = 0;

	fds[n++] = sp->dirfd;
	if (sp->qfdirfd != sp->dirfd)
		fds[n++] = sp->qfdirfd;
	if (sp->dfdirfd != sp->dirfd)
		fds[n++] = sp->dfdirfd;
	if (sp->xfdirfd != sp->dirfd)
		fds[n++] = sp->xfdirfd;
	return n;
}

static const char *
spool_ftype(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	return "not a regular file";
}

/* Apply the file policy to st (from fstat of an open queue or data file,
 * or lstat of its name).  SPOOL_OK or SPOOL_UNSAFE with a reason and its
 * kind. */
static enum spool_result
spool_check_stat(const struct spool *sp, const struct stat *st,
    const char *name, struct error *err)
{
	const char *p = sp->path;

	if (!S_ISREG(st->st_mode)) {
		spool_fail(err, 0, "%s/%s: is %s", p, name, spool_ftype(st->st_mode));
		return spool_unsafe(err, SPOOL_UNSAFE_TYPE);
	}
	if (st->st_nlink != 1) {
		/* A second link could be anywhere on the file system: a
		 * hard link to another user's file, or a way to make us
		 * rewrite or unlink something that is not ours. */
		spool_fail(err, 0, "%s/%s: has %lu links, expected 1", p, name,
		    (unsigned long)st->st_nlink);
		return spool_unsafe(err, SPOOL_UNSAFE_LINKS);
	}
	if (st->st_mode & S_IWOTH) {
		spool_fail(err, 0, "%s/%s: is world-writable (mode %04o)", p,
		    name, (unsigned)(st->st_mode & 07777));
		return spool_unsafe(err, SPOOL_UNSAFE_BOGUS);
	}
	if (st->st_mode & (S_ISUID | S_ISGID | S_ISVTX)) {
		spool_fail(err, 0, "%s/%s: has set-id or sticky bits (mode %04o)",
		    p, name, (unsigned)(st->st_mode & 07777));
		return spool_unsafe(err, SPOOL_UNSAFE_BOGUS);
	}
	if (st->st_gid != sp->queue_gid) {
		spool_fail(err, 0, "%s/%s: group %lu is not the queue's group %lu",
		    p, name, (unsigned long)st->st_gid,
		    (unsigned long)sp->queue_gid);
		return spool_unsafe(err, SPOOL_UNSAFE_BOGUS);
	}
	/* Owner: the trusted user, ourselves, or (the MSP case: a user's
	 * own submission through the setgid binary) anyone, provided the
	 * directory is group-writable for the queue's group. */
	if (st->st_uid != sp->trusted_uid && st->st_uid != geteuid() &&
	    !sp->dir_group_writable) {
		spool_fail(err, 0, "%s/%s: owner %lu is neither the queue's user %lu nor us, and the directory is not group-writable",
		    p, name, (unsigned long)st->st_uid,
		    (unsigned long)sp->trusted_uid);
		return spool_unsafe(err, SPOOL_UNSAFE_BOGUS);
	}
	if ((st->st_mode & S_IWGRP) && !sp->dir_group_writable) {
		spool_fail(err, 0, "%s/%s: is group-writable (mode %04o) in a directory that is not",
		    p, name, (unsigned)(st->st_mode & 07777));
		return spool_unsafe(err, SPOOL_UNSAFE_BOGUS);
	}
	return SPOOL_OK;
}

/* --------------------------------------------------------------- locking */

/* spool_lock: lock fd as sendmail does; shared or exclusive, never
 * blocking.  Returns SPOOL_OK, SPOOL_LOCKED or SPOOL_ERROR. */
static enum spool_result
spool_lock(const struct spool *sp, int fd, bool exclusive, const char *name,
    struct error *err)
{
	if (sp->lockmode & SPOOL_LOCK_FLOCK) {
		while (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EWOULDBLOCK)
				return SPOOL_LOCKED;
			spool_fail(err, errno, "%s/%s: cannot flock: %s",
			    sp->path, name, strerror(errno));
			return SPOOL_ERROR;
		}
	}
	if (sp->lockmode & SPOOL_LOCK_FCNTL) {
		struct flock fl;
		int r;

		memset(&fl, 0, sizeof fl);
		fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
		fl.l_whence = SEEK_SET;
		/* Open file description locks conflict with classic POSIX
		 * locks (what an fcntl-built sendmail takes) but belong to
		 * this descriptor, not the process: closing some other
		 * descriptor of the same file cannot drop them. */
#ifdef F_OFD_SETLK
		r = fcntl(fd, F_OFD_SETLK, &fl);
		if (r < 0 && errno == EINVAL)
#endif
			r = fcntl(fd, F_SETLK, &fl);
		if (r < 0) {
			if (errno == EAGAIN || errno == EACCES)
				return SPOOL_LOCKED;
			spool_fail(err, errno, "%s/%s: cannot lock with fcntl: %s",
			    sp->path, name, strerror(errno));
			return SPOOL_ERROR;
		}
	}
	return SPOOL_OK;
}

/* spool_open_checked: open dirfd/name without following links or blocking,
 * and apply the file policy. */
static enum spool_result
spool_open_checked(struct spool *sp, int dirfd, const char *name, int flags,
    int *fdp, struct stat *st, struct error *err)
{
	struct stat lst;
	int fd;
	enum spool_result r;

	/* The name first: only a regular file that passes the policy is
	 * opened at all (a device's open can act on the device, a FIFO's
	 * can meet a writer), and a file of the wrong group or mode is
	 * called bogus even when it cannot be opened.  The open below
	 * still refuses to follow or block, and its fstat is checked
	 * again: the name can change in between. */
	if (fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0) {
		int e = errno;

		if (e == ENOENT) {
			spool_fail(err, e, "%s/%s: does not exist", sp->path, name);
			return SPOOL_GONE;
		}
		spool_fail(err, e, "%s/%s: cannot stat: %s", sp->path, name,
		    strerror(e));
		return e == EACCES || e == EPERM ?
		    spool_unsafe(err, SPOOL_UNSAFE_ACCESS) : SPOOL_ERROR;
	}
	r = spool_check_stat(sp, &lst, name, err);
	if (r != SPOOL_OK)
		return r;
	fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;

		if (e == ENOENT) {
			spool_fail(err, e, "%s/%s: does not exist", sp->path, name);
			return SPOOL_GONE;
		}
		if (e == ELOOP || e == EISDIR || e == ENXIO || e == ENODEV) {
			/* Replaced since the lstat above. */
			if (fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) == 0)
				spool_fail(err, e, "%s/%s: is %s", sp->path, name,
				    spool_ftype(lst.st_mode));
			else
				spool_fail(err, e, "%s/%s: cannot open: %s",
				    sp->path, name, strerror(e));
			return spool_unsafe(err, SPOOL_UNSAFE_TYPE);
		}
		spool_fail(err, e, "%s/%s: cannot open: %s", sp->path, name,
		    strerror(e));
		return e == EACCES || e == EPERM ?
		    spool_unsafe(err, SPOOL_UNSAFE_ACCESS) : SPOOL_ERROR;
	}
	if (fstat(fd, st) < 0) {
		spool_fail(err, errno, "%s/%s: cannot fstat: %s", sp->path,
		    name, strerror(errno));
		close(fd);
		return SPOOL_ERROR;
	}
	if (st->st_nlink == 0) {
		/* Unlinked between readdir and open: delivered by someone. */
		spool_fail(err, 0, "%s/%s: was removed", sp->path, name);
		close(fd);
		return SPOOL_GONE;
	}
	r = spool_check_stat(sp, st, name, err);
	if (r != SPOOL_OK) {
		close(fd);
		return r;
	}
	*fdp = fd;
	return SPOOL_OK;
}

/* Read the whole file, at most limit + 1 bytes (so that the parser can see
 * that it is too long), NUL-terminated. */
static bool
spool_read_all(int fd, size_t limit, char **data, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;
	char buf[65536];
	off_t off = 0;

	for (;;) {
		size_t want = sizeof buf;
		ssize_t n;

		if (sb.len + want > limit + 1)
			want = limit + 1 - sb.len;
		if (want == 0)
			break;
		n = pread(fd, buf, want, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			strbuf_free(&sb);
			return false;
		}
		if (n == 0)
			break;
		strbuf_append(&sb, buf, (size_t)n);
		off += n;
		/* A regular file gives less than asked only at its end (and
		 * it is locked): no second call to learn that. */
		if ((size_t)n < want)
			break;
	}
	*data = strbuf_detach(&sb, len);
	return true;
}

static bool
spool_name(char *buf, size_t size, char prefix, const char *id)
{
	if (!qid_valid(id))
		return false;
	snprintf(buf, size, "%cf%s", prefix, id);
	return true;
}

/* ------------------------------------------------------------- scanning */

struct spool_cursor {
	struct spool *sp;
	char prefix;
	DIR *dir;
	size_t cap, skipcap;	/* of the spool_scan being filled */
};

struct spool_cursor *
spool_cursor_open(struct spool *sp, char prefix, struct error *err)
{
	struct spool_cursor *c;
	DIR *d;
	int fd;

	/* fdopendir takes ownership of (and closes) its descriptor. */
	fd = openat(sp->qfdirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		spool_fail(err, errno, "%s: cannot read queue directory: %s",
		    sp->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->sp = sp;
	c->prefix = prefix;
	c->dir = d;
	return c;
}

enum spool_cursor_result
spool_cursor_next(struct spool_cursor *c, size_t max, struct spool_scan *out,
    struct error *err)
{
	struct spool *sp = c->sp;
	struct dirent *de;
	size_t seen = 0;

	/* out may have been emptied by its caller since the last slice. */
	if (out->ids == NULL)
		c->cap = 0;
	if (out->skipped == NULL)
		c->skipcap = 0;
	while (seen < max && (errno = 0, de = readdir(c->dir)) != NULL) {
		const char *name = de->d_name;
		const char *why = NULL;
		unsigned char type = de->d_type;

		seen++;
		if (name[0] != c->prefix || name[1] != 'f')
			continue;
		if (type == DT_UNKNOWN) {
			struct stat st;

			if (fstatat(sp->qfdirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;	/* gone meanwhile */
			type = S_ISREG(st.st_mode) ? DT_REG : DT_DIR;
		}
		if (strlen(name) > SPOOL_NAME_MAX)
			why = "name too long for a queue file";
		else if (!qid_valid(name + 2))
			why = "name is not a queue file name (bad queue ID)";
		else if (type != DT_REG)
			why = "not a regular file";
		if (why != NULL) {
			if (out->nskipped == c->skipcap) {
				c->skipcap = c->skipcap ? c->skipcap * 2 : 8;
				out->skipped = xreallocarray(out->skipped,
				    c->skipcap, sizeof *out->skipped);
			}
			out->skipped[out->nskipped].name = xstrdup(name);
			out->skipped[out->nskipped].reason = xstrdup(why);
			out->skipped[out->nskipped].ino = de->d_ino;
			out->nskipped++;
			continue;
		}
		if (out->nids == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 64;
			out->ids = xreallocarray(out->ids, c->cap, sizeof *out->ids);
		}
		snprintf(out->ids[out->nids++], sizeof out->ids[0], "%s", name + 2);
	}
	if (seen == max)
		return SPOOL_CURSOR_MORE;
	if (errno != 0) {
		spool_fail(err, errno, "%s: error reading the directory: %s",
		    sp->path, strerror(errno));
		return SPOOL_CURSOR_ERROR;
	}
	return SPOOL_CURSOR_DONE;
}

void
spool_cursor_close(struct spool_cursor *c)
{
	if (c == NULL)
		return;
	closedir(c->dir);
	free(c);
}

bool
spool_scan(struct spool *sp, char prefix, struct spool_scan *out,
    struct error *err)
{
	struct spool_cursor *c;
	enum spool_cursor_result r;

	memset(out, 0, sizeof *out);
	if ((c = spool_cursor_open(sp, prefix, err)) == NULL)
		return false;
	r = spool_cursor_next(c, SIZE_MAX, out, err);
	spool_cursor_close(c);
	if (r == SPOOL_CURSOR_ERROR) {
		spool_scan_free(out);
		return false;
	}
	return true;
}

void
spool_scan_free(struct spool_scan *scan)
{
	size_t i;

	for (i = 0; i < scan->nskipped; i++) {
		free(scan->skipped[i].name);
		free(scan->skipped[i].reason);
	}
	free(scan->skipped);
	free(scan->ids);
	memset(scan, 0, sizeof *scan);
}

/* --------------------------------------------------------------- peeking */

enum spool_result
spool_peek(struct spool *sp, char prefix, const char *id, bool *locked,
    char **data, size_t *len, uid_t *owner, struct error *err)
{
	char name[SPOOL_NAME_MAX + 8];
	struct stat st;
	enum spool_result r;
	int fd;

	*data = NULL;
	*len = 0;
	*locked = false;
	if (!spool_name(name, sizeof name, prefix, id)) {
		spool_fail(err, 0, "%s: bad queue ID '%.40s'", sp->path, id);
		return SPOOL_UNSAFE;
	}
	r = spool_open_checked(sp, sp->qfdirfd, name, O_RDONLY, &fd, &st, err);
	if (r != SPOOL_OK)
		return r;
	if (owner != NULL)
		*owner = st.st_uid;
	/* gatherq()'s hint: a shared lock that fails means that a delivery
	 * (or the submitter) holds the file. */
	r = spool_lock(sp, fd, false, name, err);
	if (r == SPOOL_ERROR) {
		close(fd);
		return r;
	}
	*locked = (r == SPOOL_LOCKED);
	if (!spool_read_all(fd, QF_FILE_MAX, data, len)) {
		spool_fail(err, errno, "%s/%s: read error: %s", sp->path, name,
		    strerror(errno));
		close(fd);
		return SPOOL_ERROR;
	}
	close(fd);
	return SPOOL_OK;
}

long long
spool_df_size(struct spool *sp, const char *id)
{
	char name[SPOOL_NAME_MAX + 8];
	struct stat st;

	if (!spool_name(name, sizeof name, 'd', id))
		return -1;
	if (fstatat(sp->dfdirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return -1;
	return (long long)st.st_size;
}

bool
spool_lstat(struct spool *sp, char prefix, const char *id, struct stat *st)
{
	char name[SPOOL_NAME_MAX + 8];

	if (!spool_name(name, sizeof name, prefix, id)) {
		errno = EINVAL;
		return false;
	}
	return fstatat(prefix == 'd' ? sp->dfdirfd : sp->qfdirfd, name, st,
	    AT_SYMLINK_NOFOLLOW) == 0;
}

bool
spool_df_elsewhere(struct spool *sp, const char *id, char *where, size_t size)
{
	const struct {
		int fd;
		const char *dir;
	} dirs[] = {
		{ sp->dirfd, "" }, { sp->qfdirfd, "qf/" }, { sp->dfdirfd, "df/" },
	};
	char name[SPOOL_NAME_MAX + 8];
	struct stat st;
	size_t i;

	if (!spool_name(name, sizeof name, 'd', id))
		return false;
	for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		if (dirs[i].fd == sp->dfdirfd ||
		    (i > 0 && dirs[i].fd == sp->dirfd))
			continue;	/* where it belongs, or the queue again */
		if (fstatat(dirs[i].fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
		    errno != ENOENT) {
			if (where != NULL)
				snprintf(where, size, "%s/%s%s", sp->path,
				    dirs[i].dir, name);
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------------ jobs */

static enum spool_result
spool_job_open_as(struct spool *sp, char prefix, const char *id,
    struct spool_job **out, struct error *err)
{
	char name[SPOOL_NAME_MAX + 8];
	struct stat st, lst;
	struct spool_job *job;
	enum spool_result r;
	int fd;

	*out = NULL;
	if (!spool_name(name, sizeof name, prefix, id)) {
		spool_fail(err, 0, "%s: bad queue ID '%.40s'", sp->path, id);
		return SPOOL_UNSAFE;
	}
	/* O_RDWR: an fcntl write lock needs a writable descriptor, and it is
	 * what readqf() opens. */
	r = spool_open_checked(sp, sp->qfdirfd, name, O_RDWR, &fd, &st, err);
	if (r != SPOOL_OK)
		return r;
	if (spool_race_hook != NULL)
		spool_race_hook(sp->qfdirfd, name);
	r = spool_lock(sp, fd, true, name, err);
	if (r != SPOOL_OK) {
		if (r == SPOOL_LOCKED)
			spool_fail(err, 0, "%s/%s: locked by another process",
			    sp->path, name);
		close(fd);
		return r;
	}
	/* readqf()'s race check: the name must still lead to the file we
	 * locked, unchanged (a rename() over it between our open and our lock
	 * would otherwise go unnoticed). */
	if (fstatat(sp->qfdirfd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0) {
		int e = errno;

		close(fd);
		spool_fail(err, e, "%s/%s: vanished while being locked", sp->path, name);
		return e == ENOENT ? SPOOL_GONE : SPOOL_ERROR;
	}
	if (fstat(fd, &st) < 0 || st.st_dev != lst.st_dev ||
	    st.st_ino != lst.st_ino || st.st_nlink != lst.st_nlink ||
	    st.st_uid != lst.st_uid || st.st_gid != lst.st_gid ||
	    st.st_size != lst.st_size) {
		close(fd);
		spool_fail(err, 0, "%s/%s: changed while being locked", sp->path, name);
		return SPOOL_CHANGED;
	}
	job = xcalloc(1, sizeof *job);
	job->sp = sp;
	job->fd = fd;
	job->prefix = prefix;
	snprintf(job->id, sizeof job->id, "%s", id);
	*out = job;
	return SPOOL_OK;
}

enum spool_result
spool_job_open(struct spool *sp, const char *id, struct spool_job **out,
    struct error *err)
{
	return spool_job_open_as(sp, 'q', id, out, err);
}

enum spool_result
spool_job_open_held(struct spool *sp, const char *id, struct spool_job **out,
    struct error *err)
{
	return spool_job_open_as(sp, 'h', id, out, err);
}

int
spool_job_fd(const struct spool_job *job)
{
	return job->fd;
}

enum qf_status
spool_job_load(struct spool_job *job, struct qf_envelope **env,
    struct error *err)
{
	enum qf_status st;
	char *data;
	size_t len;

	*env = NULL;
	if (!spool_read_all(job->fd, QF_FILE_MAX, &data, &len)) {
		/* An I/O error says nothing about the file's contents:
		 * report it as incomplete, with errnum, so it is retried,
		 * not lost, nor taken for a file cut short. */
		if (err != NULL) {
			err->errnum = errno;
			err->line = 0;
			snprintf(err->reason, sizeof err->reason,
			    "%s/qf%s: read error: %s", job->sp->path, job->id, strerror(errno));
		}
		return QF_INCOMPLETE;
	}
	st = qf_parse(data, len, env, err);
	free(data);
	if (st == QF_OK && (*env)->df_dir != NULL &&
	    strcmp((*env)->df_dir, job->sp->path) != 0) {
		if (err != NULL) {
			err->line = 0;
			snprintf(err->reason, sizeof err->reason,
			    "d line points the data file at another directory (%.120s)",
			    (*env)->df_dir);
		}
		qf_free(*env);
		*env = NULL;
		return QF_REFUSED;
	}
	return st;
}

enum spool_result
spool_job_open_df(struct spool_job *job, int *fd, struct stat *st,
    struct error *err)
{
	char name[SPOOL_NAME_MAX + 8];

	*fd = -1;
	spool_name(name, sizeof name, 'd', job->id);
	return spool_open_checked(job->sp, job->sp->dfdirfd, name, O_RDONLY,
	    fd, st, err);
}

/* Rename dirfd/from to dirfd/to, never replacing an existing file. */
static int
spool_rename_noreplace(int dirfd, const char *from, const char *to)
{
#if defined(HAVE_RENAMEAT2) && defined(RENAME_NOREPLACE)
	if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
#endif
	/* Portable fallback: link() never replaces; then drop the old name. */
	if (linkat(dirfd, from, dirfd, to, 0) < 0)
		return -1;
	if (unlinkat(dirfd, from, 0) < 0) {
		int e = errno;

		(void)unlinkat(dirfd, to, 0);
		errno = e;
		return -1;
	}
	return 0;
}

/* A tf left by a crash blocks O_EXCL.  If nobody holds it, it is an
 * uncommitted write of the file we are about to write ourselves: of a qf
 * we hold locked and have read (a rewrite), or of an ID we reserved (a
 * new message); the new tf replaces it, so it is removed.  (sendmail
 * moves such a file aside to Tf; that leaves debris for every crash.) */
static enum spool_result
spool_remove_stale_tf(struct spool *sp, const char *tf, struct error *err)
{
	enum spool_result r;
	int fd;

	fd = openat(sp->qfdirfd, tf, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0) {
		r = spool_lock(sp, fd, true, tf, err);
		if (r != SPOOL_OK) {
			close(fd);
			if (r == SPOOL_LOCKED)
				spool_fail(err, 0, "%s/%s: temporary file is held by another process",
				    sp->path, tf);
			return r;
		}
	}
	if (unlinkat(sp->qfdirfd, tf, 0) < 0 && errno != ENOENT) {
		spool_fail(err, errno, "%s/%s: cannot remove the stale temporary file: %s",
		    sp->path, tf, strerror(errno));
		if (fd >= 0)
			close(fd);
		return SPOOL_ERROR;
	}
	crashpoint("stale-tf-removed");
	if (fd >= 0)
		close(fd);
	return SPOOL_OK;
}

bool
spool_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += n;
		len -= (size_t)n;
		crashpoint("write");
	}
	return true;
}

/* A file we create: QueueFileMode whatever our umask, and the queue's
 * group (the directory may not be setgid). */
static bool
spool_set_mode(struct spool *sp, int fd, const char *name, struct error *err)
{
	struct stat st;

	if (fchmod(fd, sp->file_mode) < 0 || fstat(fd, &st) < 0 ||
	    (st.st_gid != sp->queue_gid && fchown(fd, (uid_t)-1, sp->queue_gid) < 0)) {
		spool_fail(err, errno, "%s/%s: cannot set mode %04o and group %lu: %s",
		    sp->path, name, (unsigned)sp->file_mode, (unsigned long)sp->queue_gid,
		    strerror(errno));
		return false;
	}
	return true;
}

/* Create tf<id> (O_EXCL; a stale one removed), give it QueueFileMode
 * and the queue's group, lock it, write data and fsync it.  *fdp then
 * holds it locked; on failure nothing of it is left. */
static enum spool_result
spool_write_tf(struct spool *sp, const char *id, const void *data, size_t len,
    int *fdp, struct error *err)
{
	char tf[SPOOL_NAME_MAX + 8];
	enum spool_result r;
	int fd, tries;

	snprintf(tf, sizeof tf, "tf%s", id);
	for (tries = 0;; tries++) {
		fd = openat(sp->qfdirfd, tf,
		    O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0660);
		if (fd >= 0) {
			crashpoint("tf-created");
			break;
		}
		if (errno != EEXIST || tries > 0) {
			spool_fail(err, errno, "%s/%s: cannot create: %s",
			    sp->path, tf, strerror(errno));
			return SPOOL_ERROR;
		}
		r = spool_remove_stale_tf(sp, tf, err);
		if (r != SPOOL_OK)
			return r;
	}
	/* QueueFileMode whatever our umask, and the group must be the
	 * queue's (the directory may not be setgid). */
	if (!spool_set_mode(sp, fd, tf, err))
		goto fail;
	crashpoint("tf-mode");
	r = spool_lock(sp, fd, true, tf, err);
	if (r != SPOOL_OK) {
		if (r == SPOOL_LOCKED)
			spool_fail(err, 0, "%s/%s: new temporary file is locked by another process",
			    sp->path, tf);
		goto fail_r;
	}
	if (!spool_write_all(fd, data, len)) {
		spool_fail(err, errno, "%s/%s: write failed: %s", sp->path, tf,
		    strerror(errno));
		goto fail;
	}
	/* SuperSafe: the data must be on disk before the name says so. */
	if (fsync(fd) < 0) {
		spool_fail(err, errno, "%s/%s: fsync failed: %s", sp->path, tf,
		    strerror(errno));
		goto fail;
	}
	crashpoint("tf-written");
	*fdp = fd;
	return SPOOL_OK;

fail:
	r = SPOOL_ERROR;
fail_r:
	/* Only our own new tf is removed; the qf is untouched. */
	(void)unlinkat(sp->qfdirfd, tf, 0);
	close(fd);
	return r;
}

/* fsync a queue directory: a rename or a new file must survive a crash
 * (Linux needs this; sendmail's REQUIRES_DIR_FSYNC). */
static bool
spool_sync_dir(struct spool *sp, int dirfd, struct error *err)
{
	if (fsync(dirfd) < 0 && errno != EINVAL) {
		spool_fail(err, errno, "%s: fsync of the directory failed: %s",
		    sp->path, strerror(errno));
		return false;
	}
	return true;
}

enum spool_result
spool_job_commit(struct spool_job *job, const void *data, size_t len,
    struct error *err)
{
	struct spool *sp = job->sp;
	char tf[SPOOL_NAME_MAX + 8], qf[SPOOL_NAME_MAX + 8];
	enum spool_result r;
	int fd;

	snprintf(tf, sizeof tf, "tf%s", job->id);
	snprintf(qf, sizeof qf, "qf%s", job->id);
	r = spool_write_tf(sp, job->id, data, len, &fd, err);
	if (r != SPOOL_OK)
		return r;
	if (renameat(sp->qfdirfd, tf, sp->qfdirfd, qf) < 0) {
		spool_fail(err, errno, "%s: cannot rename %s to %s: %s",
		    sp->path, tf, qf, strerror(errno));
		(void)unlinkat(sp->qfdirfd, tf, 0);
		close(fd);
		return SPOOL_ERROR;
	}
	crashpoint("renamed");
	/* Closing the old descriptor drops the lock on the old (now
	 * unlinked) inode; the new file stays locked through fd. */
	close(job->fd);
	job->fd = fd;
	/* If this fails the new file is in place; only its durability is
	 * in doubt.  Keep it and report, as sendmail's sync_dir() logs. */
	if (!spool_sync_dir(sp, sp->qfdirfd, err))
		return SPOOL_ERROR;
	crashpoint("dir-synced");
	return SPOOL_OK;
}

bool
spool_exists(struct spool *sp, char prefix, const char *id)
{
	char name[SPOOL_NAME_MAX + 8];
	struct stat st;

	if (!qid_valid(id) || !spool_name(name, sizeof name, prefix, id))
		return false;
	return fstatat(prefix == 'd' ? sp->dfdirfd : sp->qfdirfd, name, &st,
	    AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

/* An existing data file that is an earlier reservation of ours, left by
 * a crash: empty, a regular file of this user with one link, no control
 * file beside it (checked by the caller), held by nobody. */
static bool
spool_reclaim(struct spool *sp, const char *name)
{
	struct error err;
	struct stat st;
	bool ours;
	int fd;

	/* Read-write: the fcntl-family lock needs it. */
	fd = openat(sp->dfdirfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return false;
	ours = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 &&
	    st.st_nlink == 1 && st.st_uid == geteuid() &&
	    spool_lock(sp, fd, true, name, &err) == SPOOL_OK;
	close(fd);
	return ours;
}

enum spool_result
spool_reserve(struct spool *sp, const char *id, struct error *err)
{
	char name[SPOOL_NAME_MAX + 8];
	int fd;

	if (!qid_valid(id) || !spool_name(name, sizeof name, 'd', id)) {
		spool_fail(err, 0, "%s: bad queue ID", id);
		return SPOOL_ERROR;
	}
	if (spool_exists(sp, 'q', id) || spool_exists(sp, 'Q', id) ||
	    spool_exists(sp, 'h', id)) {
		spool_fail(err, EEXIST, "%s/qf%s: exists", sp->path, id);
		return SPOOL_CHANGED;
	}
	fd = openat(sp->dfdirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY, 0660);
	if (fd < 0 && errno == EEXIST) {
		if (spool_reclaim(sp, name))
			return SPOOL_OK;
		errno = EEXIST;
	}
	if (fd < 0) {
		spool_fail(err, errno, "%s/%s: cannot create: %s", sp->path, name,
		    strerror(errno));
		return errno == EEXIST ? SPOOL_CHANGED : SPOOL_ERROR;
	}
	crashpoint("df-created");
	if (!spool_set_mode(sp, fd, name, err)) {
		(void)unlinkat(sp->dfdirfd, name, 0);
		close(fd);
		return SPOOL_ERROR;
	}
	crashpoint("df-mode");
	close(fd);
	if (!spool_sync_dir(sp, sp->dfdirfd, err))
		return SPOOL_ERROR;
	crashpoint("df-reserved");
	return SPOOL_OK;
}

enum spool_result
spool_open_reserved(struct spool *sp, const char *id, int *fdp,
    struct error *err)
{
	char name[SPOOL_NAME_MAX + 8];
	struct stat st;
	int fd;

	*fdp = -1;
	if (!qid_valid(id) || !spool_name(name, sizeof name, 'd', id)) {
		spool_fail(err, 0, "%s: bad queue ID", id);
		return SPOOL_ERROR;
	}
	fd = openat(sp->dfdirfd, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		spool_fail(err, errno, "%s/%s: cannot open: %s", sp->path, name,
		    strerror(errno));
		return errno == ENOENT ? SPOOL_GONE : SPOOL_ERROR;
	}
	/* Ours, as spool_reserve made it: anything else is not written
	 * to. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    st.st_uid != geteuid()) {
		spool_fail(err, 0, "%s/%s: not the data file this runner reserved",
		    sp->path, name);
		close(fd);
		return SPOOL_UNSAFE;
	}
	if (ftruncate(fd, 0) < 0) {
		spool_fail(err, errno, "%s/%s: cannot truncate: %s", sp->path, name,
		    strerror(errno));
		close(fd);
		return SPOOL_ERROR;
	}
	crashpoint("df-truncated");
	*fdp = fd;
	return SPOOL_OK;
}

enum spool_result
spool_create_qf(struct spool *sp, const char *id, int dffd, const void *data,
    size_t len, struct error *err)
{
	char tf[SPOOL_NAME_MAX + 8], qf[SPOOL_NAME_MAX + 8];
	enum spool_result r;
	int fd;

	if (fsync(dffd) < 0) {
		spool_fail(err, errno, "%s/df%s: fsync failed: %s", sp->path, id,
		    strerror(errno));
		return SPOOL_ERROR;
	}
	crashpoint("new-df-written");
	snprintf(tf, sizeof tf, "tf%s", id);
	snprintf(qf, sizeof qf, "qf%s", id);
	r = spool_write_tf(sp, id, data, len, &fd, err);
	if (r != SPOOL_OK)
		return r;
	if (spool_rename_noreplace(sp->qfdirfd, tf, qf) < 0) {
		int e = errno;

		spool_fail(err, e, "%s: cannot rename %s to %s: %s", sp->path, tf, qf,
		    strerror(e));
		(void)unlinkat(sp->qfdirfd, tf, 0);
		close(fd);
		return e == EEXIST ? SPOOL_CHANGED : SPOOL_ERROR;
	}
	crashpoint("new-renamed");
	r = spool_sync_dir(sp, sp->qfdirfd, err) ? SPOOL_OK : SPOOL_ERROR;
	crashpoint("new-dir-synced");
	/* Unlocked now: the new message is any runner's. */
	close(fd);
	return r;
}

enum spool_result
spool_job_move(struct spool_job *job, char to, const void *data, size_t len,
    struct error *err)
{
	struct spool *sp = job->sp;
	char tf[SPOOL_NAME_MAX + 8], from[SPOOL_NAME_MAX + 8], dest[SPOOL_NAME_MAX + 8];
	enum spool_result r;
	int fd;

	snprintf(tf, sizeof tf, "tf%s", job->id);
	snprintf(from, sizeof from, "%cf%s", job->prefix, job->id);
	snprintf(dest, sizeof dest, "%cf%s", to, job->id);
	r = spool_write_tf(sp, job->id, data, len, &fd, err);
	if (r != SPOOL_OK)
		goto out;
	/* Never over another file: an hf beside a qf of the same ID is a
	 * crash's leftover an admin must look at. */
	if (spool_rename_noreplace(sp->qfdirfd, tf, dest) < 0) {
		int e = errno;

		spool_fail(err, e, "%s: cannot rename %s to %s: %s", sp->path, tf, dest,
		    e == EEXIST ? "it exists already" : strerror(e));
		(void)unlinkat(sp->qfdirfd, tf, 0);
		close(fd);
		r = SPOOL_ERROR;
		goto out;
	}
	crashpoint("moved");
	/* Both names exist until this unlink; the old one is the message
	 * as it was, so a crash here holds or releases nothing. */
	if (unlinkat(sp->qfdirfd, from, 0) < 0 && errno != ENOENT) {
		spool_fail(err, errno, "%s/%s: cannot remove: %s", sp->path, from,
		    strerror(errno));
		close(fd);
		r = SPOOL_ERROR;
		goto out;
	}
	crashpoint("move-unlinked");
	close(fd);
	r = spool_sync_dir(sp, sp->qfdirfd, err) ? SPOOL_OK : SPOOL_ERROR;
out:
	spool_job_close(job);
	return r;
}

enum spool_result
spool_job_remove(struct spool_job *job, struct error *err)
{
	struct spool *sp = job->sp;
	char name[SPOOL_NAME_MAX + 8];
	enum spool_result r = SPOOL_OK;

	/* dropenvelope()'s order: df first, then qf (still locked), then the
	 * transcript.  A crash after the df is gone leaves a qf whose
	 * delivery is complete, never a df without its qf; the next run
	 * sees the df missing and finishes the removal (deliver.c). */
	snprintf(name, sizeof name, "df%s", job->id);
	if (unlinkat(sp->dfdirfd, name, 0) < 0 && errno != ENOENT) {
		spool_fail(err, errno, "%s/%s: cannot remove: %s", sp->path,
		    name, strerror(errno));
		r = SPOOL_ERROR;
	}
	crashpoint("df-removed");
	snprintf(name, sizeof name, "%cf%s", job->prefix, job->id);
	if (r == SPOOL_OK && unlinkat(sp->qfdirfd, name, 0) < 0 && errno != ENOENT) {
		spool_fail(err, errno, "%s/%s: cannot remove: %s", sp->path,
		    name, strerror(errno));
		r = SPOOL_ERROR;
	}
	crashpoint("qf-removed");
	snprintf(name, sizeof name, "xf%s", job->id);
	if (r == SPOOL_OK)
		(void)unlinkat(sp->xfdirfd, name, 0);
	/* A tf of this ID that nobody holds is a rewrite a crash cut short
	 * (we hold the qf: nobody else may be rewriting it); with the
	 * message gone nothing would ever remove it.  One held by another
	 * process is left alone. */
	snprintf(name, sizeof name, "tf%s", job->id);
	if (r == SPOOL_OK && faccessat(sp->qfdirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		struct error terr;

		(void)spool_remove_stale_tf(sp, name, &terr);
	}
	spool_job_close(job);
	return r;
}

static enum spool_result
spool_quarantine_in(struct spool *sp, const char *id, struct error *err)
{
	char qf[SPOOL_NAME_MAX + 8], Qf[SPOOL_NAME_MAX + 8];

	if (!spool_name(qf, sizeof qf, 'q', id)) {
		spool_fail(err, 0, "%s: bad queue ID '%.40s'", sp->path, id);
		return SPOOL_UNSAFE;
	}
	spool_name(Qf, sizeof Qf, 'Q', id);
	if (spool_rename_noreplace(sp->qfdirfd, qf, Qf) < 0) {
		int e = errno;

		spool_fail(err, e, "%s: cannot rename %s to %s: %s", sp->path,
		    qf, Qf, strerror(e));
		return e == ENOENT ? SPOOL_GONE : SPOOL_ERROR;
	}
	crashpoint("quarantined");
	(void)fsync(sp->qfdirfd);
	return SPOOL_OK;
}

enum spool_result
spool_job_quarantine(struct spool_job *job, struct error *err)
{
	enum spool_result r = spool_quarantine_in(job->sp, job->id, err);

	spool_job_close(job);
	return r;
}

enum spool_result
spool_quarantine_name(struct spool *sp, const char *id, struct error *err)
{
	return spool_quarantine_in(sp, id, err);
}

void
spool_job_close(struct spool_job *job)
{
	if (job == NULL)
		return;
	close(job->fd);
	free(job);
}

const char *
spool_result_str(enum spool_result r)
{
	switch (r) {
	case SPOOL_OK:
		return "ok";
	case SPOOL_LOCKED:
		return "locked";
	case SPOOL_GONE:
		return "gone";
	case SPOOL_CHANGED:
		return "changed";
	case SPOOL_UNSAFE:
		return "unsafe";
	case SPOOL_ERROR:
		return "error";
	}
	return "unknown";
}
