/*
 * The race check of spool_job_open(): a control file replaced (renamed
 * over) or removed between our open and our lock must not be delivered
 * from the stale descriptor.  The module's .c is included to reach its
 * test seam, which runs exactly between the open and the lock.
 */
#include "../../lib/queue/spool.c"

#include <criterion/criterion.h>

#include "testutil.h"

#define ID "6AOMct2T003760"

static char *dir;
static struct spool *sp;
static int hook_calls;

static void
setup(void)
{
	struct spool_policy pol;
	struct error err;
	char *qf = tu_simple_qf("root", "alice@example.test");

	dir = tu_tempdir();
	tu_write_str(dir, "qf" ID, qf);
	tu_write_str(dir, "df" ID, "body\n");
	free(qf);
	spool_policy_default(&pol);
	sp = spool_open(dir, &pol, &err);
	cr_assert_not_null(sp);
	hook_calls = 0;
}

static void
teardown(void)
{
	spool_race_hook = NULL;
	spool_free(sp);
	tu_rmtree(dir);
	free(dir);
}

/* What sendmail's queueup() does to a qf: write a tf, rename it over. */
static void
replace_by_rename(int dirfd, const char *name)
{
	hook_calls++;
	tu_write_str(dir, "tf" ID, "V8\nT1\nK1\nN1\nP1\nSroot\nRPFD:a@b\n.\n");
	cr_assert_eq(renameat(dirfd, "tf" ID, dirfd, name), 0);
}

static void
remove_it(int dirfd, const char *name)
{
	hook_calls++;
	cr_assert_eq(unlinkat(dirfd, name, 0), 0);
}

static void
append_to_it(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_WRONLY | O_APPEND);

	hook_calls++;
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "X\n", 2), 2);
	close(fd);
}

TestSuite(race, .init = setup, .fini = teardown);

Test(race, replaced_between_open_and_lock_is_changed)
{
	struct spool_job *job;
	struct error err;
	char *now;

	spool_race_hook = replace_by_rename;
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_CHANGED, "%s", err.reason);
	cr_assert_eq(hook_calls, 1);
	cr_assert_null(job);
	cr_assert(strstr(err.reason, "qf" ID ": changed while being locked") != NULL, "%s", err.reason);
	/* The new file is left for the next attempt, which succeeds. */
	now = tu_read2(dir, "qf" ID, NULL);
	cr_assert(strstr(now, "K1\nN1\n") != NULL);
	free(now);
	spool_race_hook = NULL;
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK, "%s", err.reason);
	spool_job_close(job);
}

Test(race, removed_between_open_and_lock_is_gone)
{
	struct spool_job *job;
	struct error err;

	spool_race_hook = remove_it;
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_GONE, "%s", err.reason);
	cr_assert(tu_exists(dir, "df" ID), "the data file is not touched");
}

Test(race, grown_between_open_and_lock_still_matches)
{
	struct spool_job *job;
	struct error err;

	/* The same inode, written to: both stats see the new size, so this
	 * is not a replacement (sendmail's check compares the two stats
	 * taken after the lock, as this one does). */
	spool_race_hook = append_to_it;
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_OK, "%s", err.reason);
	spool_job_close(job);
}

/* A hostile swap: the name made a symbolic link to a file outside the
 * queue (or a FIFO) after the open.  The lock is taken on the file that
 * was opened, the name no longer leads to it: changed, and the link's
 * target is never opened. */
static void
replace_by_symlink(int dirfd, const char *name)
{
	hook_calls++;
	tu_write_str(dir, "secret", "V8\nT1\nK0\nN0\nP1\nSsecret\nRPFD:secret@b\n.\n");
	cr_assert_eq(symlinkat(tu_path(dir, "secret"), dirfd, "tf" ID), 0);
	cr_assert_eq(renameat(dirfd, "tf" ID, dirfd, name), 0);
}

static void
replace_by_fifo(int dirfd, const char *name)
{
	hook_calls++;
	cr_assert_eq(mkfifoat(dirfd, "tf" ID, 0660), 0);
	cr_assert_eq(renameat(dirfd, "tf" ID, dirfd, name), 0);
}

Test(race, replaced_by_a_symlink_between_open_and_lock_is_changed)
{
	struct spool_job *job;
	struct error err;

	spool_race_hook = replace_by_symlink;
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_CHANGED, "%s", err.reason);
	cr_assert_null(job);
	spool_race_hook = NULL;
	/* Next time the name is looked at first: a link, never opened. */
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_UNSAFE, "%s", err.reason);
	cr_assert_eq(err.code, SPOOL_UNSAFE_TYPE);
	cr_assert(tu_exists(dir, "df" ID));
}

Test(race, replaced_by_a_fifo_between_open_and_lock_is_changed)
{
	struct spool_job *job;
	struct error err;

	spool_race_hook = replace_by_fifo;
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_CHANGED, "%s", err.reason);
	spool_race_hook = NULL;
	cr_assert_eq(spool_job_open(sp, ID, &job, &err), SPOOL_UNSAFE, "%s", err.reason);
	cr_assert(strstr(err.reason, "is a FIFO") != NULL, "%s", err.reason);
}
