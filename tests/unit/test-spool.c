#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "queue/spool.h"
#include "testutil.h"
#include "util/xalloc.h"

#define ID "6AOMct2T003760"

static char *dir;
static struct spool *sp;

static struct spool *
open_spool(enum spool_lockmode mode)
{
	struct spool_policy pol;
	struct error err;
	struct spool *s;

	spool_policy_default(&pol);
	pol.lockmode = mode;
	s = spool_open(dir, &pol, &err);
	cr_assert_not_null(s, "%s", err.reason);
	return s;
}

static void
setup(void)
{
	char *qf = tu_simple_qf("root", "alice@example.test");

	dir = tu_tempdir();
	tu_write_str(dir, "qf" ID, qf);
	tu_write_str(dir, "df" ID, "hello\n");
	free(qf);
	sp = open_spool(SPOOL_LOCK_BOTH);
}

static void
teardown(void)
{
	spool_free(sp);
	tu_rmtree(dir);
	free(dir);
}

/* A child process that locks dir/name the way sendmail does and holds the
 * lock until killed.  kind: 'f' flock, 'p' classic POSIX fcntl lock. */
static pid_t
hold_lock(const char *name, char kind)
{
	int ready[2];
	pid_t pid;
	char c;

	cr_assert_eq(pipe(ready), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		char *p = xasprintf("%s/%s", dir, name);
		int fd = open(p, O_RDWR);
		struct flock fl;

		if (fd < 0)
			_exit(1);
		if (kind == 'f') {
			if (flock(fd, LOCK_EX | LOCK_NB) < 0)
				_exit(2);
		} else {
			memset(&fl, 0, sizeof fl);
			fl.l_type = F_WRLCK;
			fl.l_whence = SEEK_SET;
			if (fcntl(fd, F_SETLK, &fl) < 0)
				_exit(3);
		}
		(void)!write(ready[1], "x", 1);
		for (;;)
			pause();
	}
	close(ready[1]);
	cr_assert_eq(read(ready[0], &c, 1), 1, "lock holder failed");
	close(ready[0]);
	return pid;
}

static void
release_lock(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Does another process see dir/name as locked (flock)? */
static bool
locked_elsewhere(const char *name)
{
	pid_t pid = fork();
	int status;

	cr_assert(pid >= 0);
	if (pid == 0) {
		char *p = xasprintf("%s/%s", dir, name);
		int fd = open(p, O_RDWR);

		_exit(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 &&
		    errno == EWOULDBLOCK ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void
expect_unsafe_kind(const char *reason_part, enum spool_unsafe kind)
{
	struct spool_job *job = NULL;
	struct error err;
	int before = tu_count(dir);

	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_UNSAFE,
	    "got: %s", err.reason);
	cr_assert_eq(err.code, kind, "kind %d, not %d: %s", (int)err.code,
	    (int)kind, err.reason);
	cr_assert_null(job);
	cr_assert(strstr(err.reason, reason_part) != NULL, "reason '%s' lacks '%s'",
	    err.reason, reason_part);
	cr_assert(strstr(err.reason, "qf" ID) != NULL, "reason names the file: %s",
	    err.reason);
	cr_assert_eq(tu_count(dir), before, "nothing deleted");
}

/* Owner, group and mode: what readqf() calls a bogus queue file. */
static void
expect_unsafe(const char *reason_part)
{
	expect_unsafe_kind(reason_part, SPOOL_UNSAFE_BOGUS);
}

/* The spool again, as a runner whose queue group is another one. */
static void
reopen_for_another_group(void)
{
	struct spool_policy pol;
	struct error err;

	spool_free(sp);
	spool_policy_default(&pol);
	pol.queue_gid = getegid() + 1;
	sp = spool_open(dir, &pol, &err);
	cr_assert_not_null(sp);
}

TestSuite(spool, .init = setup, .fini = teardown);

Test(spool, opens_locks_and_loads_a_good_file)
{
	struct spool_job *job;
	struct error err;
	struct qf_envelope *env;
	struct error qerr;
	struct stat st;
	int dfd;

	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK, "%s", err.reason);
	cr_assert(locked_elsewhere("qf" ID), "the job holds the flock");
	cr_assert_eq(spool_job_load(job, &env, &qerr), QF_OK, "%s", qerr.reason);
	cr_assert_str_eq(env->rcpts[0].addr, "alice@example.test");
	qf_free(env);
	cr_assert_eq(spool_job_open_df(job, &dfd, &st, &err), SPOOL_OK, "%s", err.reason);
	cr_assert_eq(st.st_size, 6);
	close(dfd);
	spool_job_close(job);
	cr_assert_not(locked_elsewhere("qf" ID), "closing releases the lock");
}

Test(spool, symlink_is_unsafe_and_not_followed)
{
	char *target = xstrdup(tu_path(dir, "target"));

	tu_write_str(dir, "target", "V8\nT1\nSroot\n.\n");
	cr_assert_eq(unlink(tu_path(dir, "qf" ID)), 0);
	cr_assert_eq(symlink(target, tu_path(dir, "qf" ID)), 0);
	expect_unsafe_kind("is a symbolic link", SPOOL_UNSAFE_TYPE);
	cr_assert(tu_exists(dir, "target"));
	free(target);
}

Test(spool, symlinked_df_is_unsafe)
{
	struct spool_job *job;
	struct error err;
	struct stat st;
	int dfd;

	cr_assert_eq(unlink(tu_path(dir, "df" ID)), 0);
	cr_assert_eq(symlink("/etc/passwd", tu_path(dir, "df" ID)), 0);
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK, "%s", err.reason);
	cr_assert_eq(spool_job_open_df(job, &dfd, &st, &err), SPOOL_UNSAFE);
	cr_assert(strstr(err.reason, "df" ID ": is a symbolic link") != NULL, "%s", err.reason);
	cr_assert_eq(err.code, SPOOL_UNSAFE_TYPE);
	cr_assert_eq(dfd, -1);
	spool_job_close(job);
}

Test(spool, hard_link_is_unsafe)
{
	cr_assert_eq(link(tu_path(dir, "qf" ID), tu_path(dir, "other")), 0);
	expect_unsafe_kind("has 2 links, expected 1", SPOOL_UNSAFE_LINKS);
}

Test(spool, fifo_is_unsafe_and_does_not_block)
{
	cr_assert_eq(unlink(tu_path(dir, "qf" ID)), 0);
	cr_assert_eq(mkfifo(tu_path(dir, "qf" ID), 0660), 0);
	expect_unsafe_kind("is a FIFO", SPOOL_UNSAFE_TYPE);
}

Test(spool, directory_is_unsafe)
{
	cr_assert_eq(unlink(tu_path(dir, "qf" ID)), 0);
	cr_assert_eq(mkdir(tu_path(dir, "qf" ID), 0770), 0);
	expect_unsafe_kind("is a directory", SPOOL_UNSAFE_TYPE);
}

Test(spool, world_writable_is_unsafe)
{
	cr_assert_eq(chmod(tu_path(dir, "qf" ID), 0662), 0);
	expect_unsafe("is world-writable (mode 0662)");
}

Test(spool, setid_bits_are_unsafe)
{
	cr_assert_eq(chmod(tu_path(dir, "qf" ID), 02660), 0);
	expect_unsafe("set-id or sticky bits");
}

Test(spool, wrong_group_is_unsafe)
{
	reopen_for_another_group();
	expect_unsafe("is not the queue's group");
}

Test(spool, foreign_owner_needs_a_group_writable_directory)
{
	struct spool_policy pol;
	struct error err;
	struct spool_job *job;
	struct stat st;

	if (geteuid() != 0)
		cr_skip_test("needs root to chown");
	cr_assert_eq(chown(tu_path(dir, "qf" ID), 65534, (gid_t)-1), 0);
	spool_free(sp);
	spool_policy_default(&pol);
	pol.trusted_uid = 1;	/* neither the owner nor us */
	/* A group-writable queue (0770): a user's own submission is fine. */
	sp = spool_open(dir, &pol, &err);
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK, "%s", err.reason);
	spool_job_close(job);
	/* Not group-writable: only the trusted user or we may own files. */
	spool_free(sp);
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(chmod(dir, 0750), 0);
	sp = spool_open(dir, &pol, &err);
	cr_assert_eq(seteuid(1), 0);
	expect_unsafe("owner 65534 is neither");
	cr_assert_eq(seteuid(0), 0);
}

Test(spool, missing_df_is_gone_not_deleted)
{
	struct spool_job *job;
	struct error err;
	struct stat st;
	int dfd;

	cr_assert_eq(unlink(tu_path(dir, "df" ID)), 0);
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK);
	cr_assert_eq(spool_job_open_df(job, &dfd, &st, &err), SPOOL_GONE);
	cr_assert(strstr(err.reason, "df" ID ": does not exist") != NULL, "%s", err.reason);
	spool_job_close(job);
	cr_assert(tu_exists(dir, "qf" ID));
}

static void
expect_load(const char *text, size_t len, enum qf_status want, const char *reason_part)
{
	struct spool_job *job;
	struct error err;
	struct qf_envelope *env;
	struct error qerr;

	tu_write(dir, "qf" ID, text, len, 0660);
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK, "%s", err.reason);
	cr_assert_eq(spool_job_load(job, &env, &qerr), want, "%s", qerr.reason);
	cr_assert_null(env);
	cr_assert(strstr(qerr.reason, reason_part) != NULL, "'%s' lacks '%s'",
	    qerr.reason, reason_part);
	spool_job_close(job);
	cr_assert(tu_exists(dir, "qf" ID) && tu_exists(dir, "df" ID), "nothing deleted");
}

Test(spool, load_refusals_delete_nothing)
{
	static const char nul[] = "V8\nT1\nS\0root\n.\n";
	struct strbuf big = STRBUF_INIT;
	size_t i;

	expect_load(nul, sizeof nul - 1, QF_REFUSED, "NUL byte");
	expect_load("V8\nT1\nSroot\nRPF", 15, QF_INCOMPLETE, "no final '.'");
	expect_load("", 0, QF_EMPTY, "empty control file");
	expect_load("V8\nT1\nd/etc\nSroot\nRPF:a@b\n.\n", 28, QF_REFUSED,
	    "d line points the data file at another directory (/etc)");
	strbuf_addstr(&big, "V8\nT1\nSroot\nH??X: ");
	for (i = 0; i < QF_LINE_MAX + 10; i++)
		strbuf_addch(&big, 'x');
	strbuf_addstr(&big, "\n.\n");
	expect_load(big.buf, big.len, QF_REFUSED, "line longer than");
	strbuf_free(&big);
}

Test(spool, flock_held_by_another_process_is_locked)
{
	struct spool_job *job;
	struct error err;
	pid_t holder = hold_lock("qf" ID, 'f');

	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_LOCKED);
	cr_assert_null(job);
	cr_assert(strstr(err.reason, "locked by another process") != NULL);
	release_lock(holder);
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK);
	spool_job_close(job);
}

Test(spool, fcntl_lock_is_seen_unless_flock_only)
{
	struct spool_job *job;
	struct error err;
	pid_t holder = hold_lock("qf" ID, 'p');
	struct spool *flock_only;

	/* An fcntl-built sendmail holds it: the default (both) sees that. */
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_LOCKED);
#ifdef __linux__
	/* On Linux flock and fcntl locks are independent: flock alone
	 * would not see it, which is why the default takes both. */
	flock_only = open_spool(SPOOL_LOCK_FLOCK);
	cr_assert_eq(spool_job_open(flock_only, ID, &job, &err), SPOOL_OK);
	spool_job_close(job);
	spool_free(flock_only);
#else
	(void)flock_only;
#endif
	release_lock(holder);
}

Test(spool, peek_reports_the_lock_as_mailq_star)
{
	struct error err;
	bool locked;
	char *data;
	size_t len;
	pid_t holder;

	cr_assert_eq(spool_peek(sp, 'q', ID, &locked, &data, &len, NULL, &err), SPOOL_OK);
	cr_assert_not(locked);
	cr_assert(len > 0 && memcmp(data, "V8\n", 3) == 0);
	free(data);
	holder = hold_lock("qf" ID, 'f');
	cr_assert_eq(spool_peek(sp, 'q', ID, &locked, &data, &len, NULL, &err), SPOOL_OK);
	cr_assert(locked);
	free(data);
	release_lock(holder);
}

Test(spool, commit_replaces_under_the_lock)
{
	static const char next[] = "V8\nT1\nK2\nN1\nP90001\nSroot\nRPFD:a@b\n.\n";
	struct spool_job *job;
	struct error err;
	struct stat st;
	char *got;
	size_t len;

	mode_t old = umask(077);

	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK);
	cr_assert_eq(spool_job_commit(job, next, sizeof next - 1, &err), SPOOL_OK, "%s", err.reason);
	umask(old);
	got = tu_read2(dir, "qf" ID, &len);
	cr_assert_str_eq(got, next);
	free(got);
	cr_assert_not(tu_exists(dir, "tf" ID), "no tf left");
	cr_assert_eq(stat(tu_path(dir, "qf" ID), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0660, "mode 0660 whatever the umask");
	cr_assert(locked_elsewhere("qf" ID), "the new file is locked");
	/* The job reads what it wrote. */
	{
		struct qf_envelope *env;
		struct error qerr;

		cr_assert_eq(spool_job_load(job, &env, &qerr), QF_OK);
		cr_assert_eq(env->ntries, 1);
		qf_free(env);
	}
	spool_job_close(job);
	cr_assert_not(locked_elsewhere("qf" ID));
	cr_assert(tu_exists(dir, "df" ID));
}

Test(spool, commit_writes_queue_file_mode)
{
	static const char next[] = "V8\nT1\nK2\nN1\nP90001\nSroot\nRPFD:a@b\n.\n";
	struct spool_policy pol;
	struct spool_job *job;
	struct error err;
	struct spool *s;
	struct stat st;

	/* QueueFileMode=0640, and one that would let others write, which
	 * is cut down to what our reader accepts. */
	spool_policy_default(&pol);
	pol.file_mode = 0640;
	s = spool_open(dir, &pol, &err);
	cr_assert_not_null(s, "%s", err.reason);
	cr_assert_eq(spool_job_open(s, ID, &job, &err), SPOOL_OK);
	cr_assert_eq(spool_job_commit(job, next, sizeof next - 1, &err), SPOOL_OK, "%s", err.reason);
	spool_job_close(job);
	cr_assert_eq(stat(tu_path(dir, "qf" ID), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0640);
	spool_free(s);
	pol.file_mode = 04666;
	s = spool_open(dir, &pol, &err);
	cr_assert_not_null(s, "%s", err.reason);
	cr_assert_eq(spool_job_open(s, ID, &job, &err), SPOOL_OK, "%s", err.reason);
	cr_assert_eq(spool_job_commit(job, next, sizeof next - 1, &err), SPOOL_OK, "%s", err.reason);
	spool_job_close(job);
	cr_assert_eq(stat(tu_path(dir, "qf" ID), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0664);
	spool_free(s);
}

Test(spool, commit_replaces_a_stale_tf)
{
	static const char next[] = "V8\nT1\nSroot\n.\n";
	struct spool_job *job;
	struct error err;
	struct stat st;
	char *got;

	tu_write_str(dir, "tf" ID, "half-written");
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK);
	cr_assert_eq(spool_job_commit(job, next, sizeof next - 1, &err), SPOOL_OK, "%s", err.reason);
	spool_job_close(job);
	cr_assert_neq(stat(tu_path(dir, "tf" ID), &st), 0, "no tf is left");
	cr_assert_neq(stat(tu_path(dir, "Tf" ID), &st), 0, "no Tf either");
	got = tu_read2(dir, "qf" ID, NULL);
	cr_assert_str_eq(got, next);
	free(got);
}

Test(spool, commit_with_a_held_tf_changes_nothing)
{
	static const char next[] = "V8\nT1\nSroot\n.\n";
	struct spool_job *job;
	struct error err;
	char *before = tu_read2(dir, "qf" ID, NULL), *after;
	pid_t holder;

	tu_write_str(dir, "tf" ID, "being written");
	holder = hold_lock("tf" ID, 'f');
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK);
	cr_assert_eq(spool_job_commit(job, next, sizeof next - 1, &err), SPOOL_LOCKED);
	after = tu_read2(dir, "qf" ID, NULL);
	cr_assert_str_eq(after, before);
	cr_assert(tu_exists(dir, "tf" ID));
	spool_job_close(job);
	release_lock(holder);
	free(before);
	free(after);
}

Test(spool, remove_deletes_df_qf_and_xf_only)
{
	struct spool_job *job;
	struct error err;

	tu_write_str(dir, "xf" ID, "transcript");
	tu_write_str(dir, "qf6AOMct2T003761", "V8\n");
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK);
	cr_assert_eq(spool_job_remove(job, &err), SPOOL_OK, "%s", err.reason);
	cr_assert_not(tu_exists(dir, "qf" ID));
	cr_assert_not(tu_exists(dir, "df" ID));
	cr_assert_not(tu_exists(dir, "xf" ID));
	cr_assert(tu_exists(dir, "qf6AOMct2T003761"));
}

Test(spool, remove_takes_a_stale_tf_with_it)
{
	struct spool_job *job;
	struct error err;

	/* A rewrite killed before its rename, then the message delivered:
	 * nothing else would ever remove the tf. */
	tu_write_str(dir, "tf" ID, "half-written");
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK);
	cr_assert_eq(spool_job_remove(job, &err), SPOOL_OK, "%s", err.reason);
	cr_assert_not(tu_exists(dir, "qf" ID));
	cr_assert_not(tu_exists(dir, "tf" ID), "the stale tf went with the message");
	cr_assert_eq(tu_count(dir), 0);
}

Test(spool, remove_leaves_a_held_tf)
{
	struct spool_job *job;
	struct error err;
	pid_t holder;

	tu_write_str(dir, "tf" ID, "being written");
	holder = hold_lock("tf" ID, 'f');
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK);
	cr_assert_eq(spool_job_remove(job, &err), SPOOL_OK, "%s", err.reason);
	cr_assert_not(tu_exists(dir, "qf" ID));
	cr_assert(tu_exists(dir, "tf" ID), "a tf someone holds is not ours to remove");
	release_lock(holder);
}

Test(spool, quarantine_renames_and_never_replaces)
{
	struct spool_job *job;
	struct error err;
	char *got;

	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK);
	cr_assert_eq(spool_job_quarantine(job, &err), SPOOL_OK, "%s", err.reason);
	cr_assert_not(tu_exists(dir, "qf" ID));
	cr_assert(tu_exists(dir, "Qf" ID));
	cr_assert(tu_exists(dir, "df" ID), "the data file stays");

	/* A second qf with the same ID must not overwrite the lost one. */
	tu_write_str(dir, "qf" ID, "second");
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK);
	cr_assert_eq(spool_job_quarantine(job, &err), SPOOL_ERROR);
	cr_assert(strstr(err.reason, "cannot rename qf" ID " to Qf" ID) != NULL, "%s", err.reason);
	got = tu_read2(dir, "qf" ID, NULL);
	cr_assert_str_eq(got, "second");
	free(got);
	cr_assert_eq(tu_count(dir), 3);
}

Test(spool, quarantine_by_name_moves_a_symlink_itself)
{
	struct error err;
	struct stat st;

	tu_write_str(dir, "secret", "x");
	cr_assert_eq(unlink(tu_path(dir, "qf" ID)), 0);
	cr_assert_eq(symlink("secret", tu_path(dir, "qf" ID)), 0);
	cr_assert_eq(spool_quarantine_name(sp, ID, &err), SPOOL_OK, "%s", err.reason);
	cr_assert_eq(lstat(tu_path(dir, "Qf" ID), &st), 0);
	cr_assert(S_ISLNK(st.st_mode));
	cr_assert(tu_exists(dir, "secret"));
}

Test(spool, scan_lists_queue_files_and_skips_the_rest)
{
	struct spool_scan scan;
	struct error err;
	size_t i;
	bool saw_long = false, saw_bad = false, saw_dir = false, saw_link = false;

	tu_write_str(dir, "qf6AOMct2T003761", "V8\n");
	tu_write_str(dir, "qf6AOMct2T00376100000", "V8\n");	/* 21 chars */
	tu_write_str(dir, "qf..6AOMct2T0037", "V8\n");
	tu_write_str(dir, "qfshort", "V8\n");
	tu_write_str(dir, "Qf6AOMct2T003762", "V8\n");
	tu_write_str(dir, "sm-client.pid", "1\n");
	cr_assert_eq(mkdir(tu_path(dir, "qf6AOMct2T003763"), 0770), 0);
	cr_assert_eq(symlink("/etc/shadow", tu_path(dir, "qf6AOMct2T003764")), 0);
	cr_assert(spool_scan(sp, 'q', &scan, &err), "%s", err.reason);
	cr_assert_eq(scan.nids, 2);
	for (i = 0; i < scan.nids; i++)
		cr_assert(!strcmp(scan.ids[i], ID) || !strcmp(scan.ids[i], "6AOMct2T003761"));
	cr_assert_eq(scan.nskipped, 5);
	for (i = 0; i < scan.nskipped; i++) {
		const char *n = scan.skipped[i].name, *r = scan.skipped[i].reason;

		if (!strcmp(n, "qf6AOMct2T00376100000"))
			saw_long = strstr(r, "too long") != NULL;
		else if (!strcmp(n, "qf..6AOMct2T0037") || !strcmp(n, "qfshort"))
			saw_bad = strstr(r, "bad queue ID") != NULL;
		else if (!strcmp(n, "qf6AOMct2T003763"))
			saw_dir = strstr(r, "not a regular file") != NULL;
		else if (!strcmp(n, "qf6AOMct2T003764"))
			saw_link = strstr(r, "not a regular file") != NULL;
	}
	cr_assert(saw_long && saw_bad && saw_dir && saw_link);
	spool_scan_free(&scan);
	cr_assert(spool_scan(sp, 'Q', &scan, &err));
	cr_assert_eq(scan.nids, 1);
	cr_assert_str_eq(scan.ids[0], "6AOMct2T003762");
	spool_scan_free(&scan);
}

/* The cursor gives what spool_scan gives, a slice at a time: every ID
 * once, the skipped names, and MORE until the directory is read. */
Test(spool, cursor_reads_in_slices_what_scan_reads_whole)
{
	struct spool_scan whole, part;
	struct spool_cursor *c;
	struct error err;
	enum spool_cursor_result r;
	size_t i, k, nids = 0, slices = 0;
	char name[32], (*seen)[QID_MAX_LEN + 1];

	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof name, "qf6AOMct2T%06zu", 100000 + i);
		tu_write_str(dir, name, "V8\n");
	}
	tu_write_str(dir, "qfshort", "V8\n");
	cr_assert(spool_scan(sp, 'q', &whole, &err), "%s", err.reason);
	cr_assert_eq(whole.nids, 51);	/* the setup's ID and the 50 */
	seen = xcalloc(whole.nids, sizeof *seen);
	memset(&part, 0, sizeof part);
	cr_assert_not_null(c = spool_cursor_open(sp, 'q', &err));
	do {
		r = spool_cursor_next(c, 7, &part, &err);
		cr_assert_neq(r, SPOOL_CURSOR_ERROR, "%s", err.reason);
		cr_assert_leq(part.nids, 7);
		for (i = 0; i < part.nids; i++)
			snprintf(seen[nids++], sizeof seen[0], "%s", part.ids[i]);
		/* Emptied between slices, as the daemon does. */
		free(part.ids);
		part.ids = NULL;
		part.nids = 0;
		slices++;
	} while (r == SPOOL_CURSOR_MORE);
	spool_cursor_close(c);
	cr_assert_eq(nids, whole.nids);
	cr_assert_geq(slices, 8);
	for (i = 0; i < whole.nids; i++) {
		size_t hits = 0;

		for (k = 0; k < nids; k++)
			hits += strcmp(whole.ids[i], seen[k]) == 0;
		cr_assert_eq(hits, 1, "%s seen %zu times", whole.ids[i], hits);
	}
	cr_assert_eq(part.nskipped, 1);
	cr_assert_str_eq(part.skipped[0].name, "qfshort");
	spool_scan_free(&part);
	spool_scan_free(&whole);
	free(seen);
}

Test(spool, subdirectories_qf_df_xf)
{
	struct spool_scan scan;
	struct error err;
	struct spool_job *job;
	struct stat st;
	char *qfdir = xstrdup(tu_path(dir, "qf")), *dfdir = xstrdup(tu_path(dir, "df"));
	int dfd;

	cr_assert_eq(mkdir(qfdir, 0770), 0);
	cr_assert_eq(mkdir(dfdir, 0770), 0);
	cr_assert_eq(mkdir(tu_path(dir, "xf"), 0770), 0);
	cr_assert_eq(rename(tu_path(dir, "qf" ID), tu_path(qfdir, "qf" ID)), 0);
	cr_assert_eq(rename(tu_path(dir, "df" ID), tu_path(dfdir, "df" ID)), 0);
	spool_free(sp);
	sp = open_spool(SPOOL_LOCK_BOTH);
	cr_assert(spool_scan(sp, 'q', &scan, &err));
	cr_assert_eq(scan.nids, 1);
	cr_assert_str_eq(scan.ids[0], ID);
	spool_scan_free(&scan);
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK, "%s", err.reason);
	cr_assert_eq(spool_job_open_df(job, &dfd, &st, &err), SPOOL_OK, "%s", err.reason);
	close(dfd);
	cr_assert_eq(spool_job_quarantine(job, &err), SPOOL_OK);
	cr_assert(tu_exists(qfdir, "Qf" ID));
	cr_assert(tu_exists(dfdir, "df" ID));
	free(qfdir);
	free(dfdir);
}

Test(spool, bad_ids_are_never_paths)
{
	struct spool_job *job;
	struct error err;

	cr_assert_eq(spool_job_open(sp, "../../etc/pass", &job, &err), SPOOL_UNSAFE);
	cr_assert(strstr(err.reason, "bad queue ID") != NULL);
	cr_assert_eq(spool_quarantine_name(sp, "../x/yyyyyyyyyy", &err), SPOOL_UNSAFE);
}

Test(spool, unreadable_is_access_but_wrong_group_is_bogus_first)
{
	if (geteuid() == 0)
		cr_skip_test("root opens a file of mode 0000");
	cr_assert_eq(chmod(tu_path(dir, "qf" ID), 0000), 0);
	expect_unsafe_kind("cannot open", SPOOL_UNSAFE_ACCESS);
	/* Of the wrong group too: the name says so before any open. */
	reopen_for_another_group();
	expect_unsafe("is not the queue's group");
}

Test(spool, lstat_sees_the_name_not_its_target)
{
	struct stat st;

	cr_assert(spool_lstat(sp, 'q', ID, &st));
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(unlink(tu_path(dir, "df" ID)), 0);
	cr_assert_eq(symlink("/etc/passwd", tu_path(dir, "df" ID)), 0);
	cr_assert(spool_lstat(sp, 'd', ID, &st));
	cr_assert(S_ISLNK(st.st_mode));
	cr_assert_not(spool_lstat(sp, 'Q', ID, &st));
	cr_assert_eq(errno, ENOENT);
	cr_assert_not(spool_lstat(sp, 'q', "../etc/passwd1", &st));
}

Test(spool, df_elsewhere_looks_in_the_other_directories)
{
	char where[300];

	cr_assert_not(spool_df_elsewhere(sp, ID, where, sizeof where),
	    "flat queue: the data file is where it belongs");
	spool_free(sp);
	cr_assert_eq(mkdir(tu_path(dir, "qf"), 0770), 0);
	cr_assert_eq(mkdir(tu_path(dir, "df"), 0770), 0);
	sp = open_spool(SPOOL_LOCK_BOTH);
	cr_assert(spool_df_elsewhere(sp, ID, where, sizeof where));
	cr_assert_str_eq(where, tu_path(dir, "df" ID));
	cr_assert_eq(rename(tu_path(dir, "df" ID), tu_path(dir, "qf/df" ID)), 0);
	cr_assert(spool_df_elsewhere(sp, ID, where, sizeof where));
	cr_assert(strstr(where, "/qf/df" ID) != NULL, "%s", where);
	cr_assert_eq(rename(tu_path(dir, "qf/df" ID), tu_path(dir, "df/df" ID)), 0);
	cr_assert_not(spool_df_elsewhere(sp, ID, where, sizeof where), "in df/: where it belongs");
}
