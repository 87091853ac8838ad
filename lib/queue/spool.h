/*
 * spool: safe access to a sendmail client queue directory.
 *
 * The queue is group-writable by smmsp, so anyone who gains that group can
 * put anything in it: every name, file type, owner, mode and byte is
 * checked before use, and nothing is ever deleted except the files of a
 * message that the relay accepted or an admin removed (spool_job_remove).
 *
 * Contract
 * --------
 * - spool_open() opens the directory once; every later access is relative
 *   to that descriptor (openat with O_NOFOLLOW|O_NONBLOCK), so a symlink or
 *   a FIFO planted under a queue-file name is never followed or blocked on.
 *   A name is looked at (lstat) before it is opened, so that nothing but a
 *   regular file is ever opened: opening a device can do things (a tape
 *   rewinds, a line hangs up), and a FIFO with a writer would connect.
 *   The optional qf/, df/ and xf/ subdirectories are used when they exist,
 *   as sendmail does.
 * - A queue file is accepted only if it is a regular file with one link,
 *   not world-writable, without set-id or sticky bits, whose group is the
 *   queue's group and whose owner is the trusted user (RunAsUser, smmsp),
 *   the caller's effective user, or, when the directory is group-writable,
 *   any user (the MSP writes a user's own submissions as that user).
 * - Locks are taken as sendmail takes them: flock(LOCK_EX|LOCK_NB), plus an
 *   fcntl-family write lock where the sendmail build uses fcntl (open file
 *   description locks where the kernel has them, so that closing another
 *   descriptor of the file cannot drop the lock).  A file held by anyone
 *   else is SPOOL_LOCKED: retried later, never waited on, never an error.
 * - After locking, the directory entry is compared with the open file
 *   (device, inode, links, owner, group, size), as readqf() does; a file
 *   replaced in between is SPOOL_CHANGED.
 * - spool_job_commit() replaces a control file: tf created O_EXCL (a stale
 *   tf nobody holds is an uncommitted write of ours and is removed), locked,
 *   written, fsync'd, renamed over qf, directory fsync'd; the job then holds
 *   the lock on the new file.  A crash at any point leaves either the old or
 *   the new file under the qf name.
 * - spool_job_quarantine() renames qf to Qf (never over an existing file)
 *   and leaves the data file where it is: nothing is deleted, and an admin
 *   can rename it back.
 */
#ifndef CQ_SPOOL_H
#define CQ_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "queue/qf.h"
#include "queue/qid.h"
#include "util/error.h"

/* How sendmail locks queue files: flock (Debian, Fedora and the BSDs build
 * with HASFLOCK) or fcntl (upstream's Linux default).  On Linux the two do
 * not see each other, so the default there takes both. */
enum spool_lockmode {
	SPOOL_LOCK_FLOCK = 1,
	SPOOL_LOCK_FCNTL = 2,
	SPOOL_LOCK_BOTH = 3,
};

struct spool_policy {
	uid_t trusted_uid;	/* RunAsUser; (uid_t)-1: the directory's owner */
	gid_t queue_gid;	/* (gid_t)-1: the directory's group */
	enum spool_lockmode lockmode;
	mode_t file_mode;	/* of the files we write: submit.cf's
				 * QueueFileMode (default 0660); never
				 * world-writable */
};

enum spool_result {
	SPOOL_OK = 0,
	SPOOL_LOCKED,	/* someone else holds the lock: try again shortly */
	SPOOL_GONE,	/* the file is no longer there (delivered, renamed) */
	SPOOL_CHANGED,	/* replaced between open and lock: try again */
	SPOOL_UNSAFE,	/* type, links, owner, group or mode are not what the
			 * MSP writes: quarantine or skip, never read */
	SPOOL_ERROR,	/* a system call failed; see the reason */
};

/* Why a file is SPOOL_UNSAFE; the caller decides from it what becomes of
 * the file (deliver.h): */
enum spool_unsafe {
	SPOOL_UNSAFE_NONE = 0,	/* the result is not SPOOL_UNSAFE */
	SPOOL_UNSAFE_TYPE,	/* not a regular file (symbolic link, FIFO,
				 * socket, device, directory): never opened */
	SPOOL_UNSAFE_LINKS,	/* more than one link */
	SPOOL_UNSAFE_ACCESS,	/* the runner may not open it (EACCES, EPERM) */
	SPOOL_UNSAFE_BOGUS,	/* owner, group or mode is not what the MSP
				 * writes: what readqf() calls a "bogus queue
				 * file" and loses to Qf */
};

/* Errors (util/error.h): reason names the file and the problem, errnum
 * the failing call's errno; code is an enum spool_unsafe, why, when the
 * result is SPOOL_UNSAFE (SPOOL_UNSAFE_NONE otherwise). */

struct spool;
struct spool_job;

/* spool_policy_default: the directory's owner and group, the lock mode of
 * this platform. */
void spool_policy_default(struct spool_policy *pol);

/* spool_open: open the queue directory at path.  NULL (and err) on failure. */
struct spool *spool_open(const char *path, const struct spool_policy *pol,
    struct error *err);
void spool_free(struct spool *sp);
const char *spool_path(const struct spool *sp);
/* spool_dirfds: the directory descriptors the spool reads through (the
 * queue and its qf/, df/, xf/ when they exist), for a child process that
 * must keep them and close everything else; returns how many. */
size_t spool_dirfds(const struct spool *sp, int fds[4]);

/* ------------------------------------------------------------ scanning */

struct spool_skip {
	char *name;
	char *reason;
	ino_t ino;	/* the entry's inode: a name replaced is new */
};

struct spool_scan {
	char (*ids)[QID_MAX_LEN + 1];	/* queue IDs, in directory order */
	size_t nids;
	struct spool_skip *skipped;	/* entries with the prefix that are not
					 * usable queue files, with why */
	size_t nskipped;
};

/* spool_scan: list the files whose names start with prefix followed by 'f'
 * ('q' control files, 'h' quarantined, 'Q' lost).  Names that are too long
 * or not a valid queue ID, and entries that are not regular files, go to
 * skipped instead.  Returns false (and err) if the directory cannot be
 * read. */
bool spool_scan(struct spool *sp, char prefix, struct spool_scan *out,
    struct error *err);
void spool_scan_free(struct spool_scan *scan);

/* The same scan a slice at a time (a daemon rescanning a large queue
 * between other work; Postfix's scan_dir): spool_cursor_next adds at most
 * max more directory entries' worth to out (ids and skipped, as
 * spool_scan would; the caller may empty out between slices with
 * spool_scan_free).  Entries added or removed meanwhile may or may not
 * be seen, as with readdir. */
struct spool_cursor;
enum spool_cursor_result {
	SPOOL_CURSOR_MORE,
	SPOOL_CURSOR_DONE,
	SPOOL_CURSOR_ERROR,	/* err says why */
};
struct spool_cursor *spool_cursor_open(struct spool *sp, char prefix,
    struct error *err);
enum spool_cursor_result spool_cursor_next(struct spool_cursor *c, size_t max,
    struct spool_scan *out, struct error *err);
void spool_cursor_close(struct spool_cursor *c);

/* ------------------------------------------------------------- peeking */

/* spool_peek: read a control file without taking its lock, for listings:
 * the same open and policy checks, then a shared-lock probe (*locked is
 * true when someone holds it, as mailq's '*').  On SPOOL_OK *data (len
 * bytes, NUL-terminated, at most QF_FILE_MAX + 1) belongs to the caller,
 * and *owner (unless NULL) is the file's owner.
 * Must not be used by a process that holds a job lock on the same file. */
enum spool_result spool_peek(struct spool *sp, char prefix, const char *id,
    bool *locked, char **data, size_t *len, uid_t *owner,
    struct error *err);

/* spool_df_size: the size of the data file of id (lstat-style, without
 * opening it), or -1 if there is none. */
long long spool_df_size(struct spool *sp, const char *id);

/* spool_lstat: lstat prefix+'f'+id where such files live (qf/ for the
 * control files, df/ for data files, when they exist), without following
 * it: the state a caller compares later to see whether the file changed.
 * False (errno set) when it cannot be looked at. */
bool spool_lstat(struct spool *sp, char prefix, const char *id, struct stat *st);

/* spool_df_elsewhere: whether a data file of id is in a directory of the
 * queue other than the one it belongs in (the queue itself, qf/ or df/):
 * where, when where is not NULL. */
bool spool_df_elsewhere(struct spool *sp, const char *id, char *where,
    size_t size);

/* ---------------------------------------------------------------- jobs */

/* spool_job_open: open and exclusively lock qf<id>.  SPOOL_OK gives a job;
 * any other result gives none (and says why in err). */
enum spool_result spool_job_open(struct spool *sp, const char *id,
    struct spool_job **out, struct error *err);

int spool_job_fd(const struct spool_job *job);

/* spool_job_load: read and parse the locked control file (a read that
 * fails is QF_INCOMPLETE with err->errnum set).  Besides the
 * reader's own checks, a d line naming any directory but this queue's is
 * refused (the client queue has one directory; a d line could point the
 * data file at another one). */
enum qf_status spool_job_load(struct spool_job *job, struct qf_envelope **env,
    struct error *err);

/* spool_job_open_df: open the job's data file read-only with the same
 * checks as a control file.  SPOOL_GONE when it does not exist. */
enum spool_result spool_job_open_df(struct spool_job *job, int *fd,
    struct stat *st, struct error *err);

/* spool_job_commit: replace the control file with len bytes at data (see
 * the contract above).  On failure the old file is untouched and still
 * locked. */
enum spool_result spool_job_commit(struct spool_job *job, const void *data,
    size_t len, struct error *err);

/* spool_job_remove: after the relay accepted every recipient (or an admin
 * asked: clientqctl remove): unlink the data file, then the control file
 * (qf, or hf for a held job), then any transcript and any tf of the ID
 * that nobody holds (a rewrite a crash cut short), under the lock; then
 * close the job.  The job is freed whatever the result. */
enum spool_result spool_job_remove(struct spool_job *job,
    struct error *err);

/* spool_job_open_held: the same for hf<id>, a message held (sendmail's
 * quarantine: `sendmail -Q`), for release or removal. */
enum spool_result spool_job_open_held(struct spool *sp, const char *id,
    struct spool_job **out, struct error *err);

/* spool_job_move: hold or release: len bytes at data (the control file
 * with its q line added or dropped) written as tf, renamed to
 * <to>f<id> (never over an existing file), then the job's own name
 * removed and the directory synced, as sendmail's quarantine_queue_item()
 * does.  The job is closed whatever the result; on failure the old file
 * is as it was. */
enum spool_result spool_job_move(struct spool_job *job, char to,
    const void *data, size_t len, struct error *err);

/* spool_job_quarantine: rename qf<id> to Qf<id> (refusing to replace an
 * existing Qf) and close the job.  The job is freed whatever the result. */
enum spool_result spool_job_quarantine(struct spool_job *job,
    struct error *err);

/* spool_quarantine_name: the same for a queue file that could not be
 * opened as a job (wrong owner, links, mode): renames the directory entry
 * itself, without following it. */
enum spool_result spool_quarantine_name(struct spool *sp, const char *id,
    struct error *err);

/* ------------------------------------------------------ new messages */

/* A new message (a delivery status notification) is created in three
 * steps, each durable before the next, so that whoever records the
 * intent in between can always tell how far it got:
 * 1. spool_reserve: claim the ID by creating its data file, empty
 *    (O_EXCL; SPOOL_CHANGED when a qf, Qf, hf or df of that ID exists:
 *    choose another ID).  An empty data file of this user that nobody
 *    holds and no qf names is an earlier reservation left by a crash,
 *    and is claimed again (so a caller that derives the ID from what it
 *    reports on never leaves one behind).
 * 2. spool_open_reserved: open that data file (it must still be the one
 *    this process's user made) truncated, to write the body.
 * 3. spool_create_qf: fsync the data file, write the control file as tf
 *    (fsync'd) and rename it to qf without replacing anything, then fsync
 *    the directory.  The new message is then any runner's.
 * The caller closes the data file descriptor. */
enum spool_result spool_reserve(struct spool *sp, const char *id,
    struct error *err);
enum spool_result spool_open_reserved(struct spool *sp, const char *id,
    int *fd, struct error *err);
enum spool_result spool_create_qf(struct spool *sp, const char *id, int dffd,
    const void *data, size_t len, struct error *err);

/* spool_write_all: write len bytes to fd (a new message's data file),
 * through short writes and EINTR; false (errno set) on failure. */
bool spool_write_all(int fd, const void *data, size_t len);

/* spool_exists: whether prefix+'f'+id exists (qf, df, Qf, ...); an
 * error other than ENOENT counts as existing. */
bool spool_exists(struct spool *sp, char prefix, const char *id);

/* spool_job_close: release the lock and free the job. */
void spool_job_close(struct spool_job *job);

const char *spool_result_str(enum spool_result r);

#endif
