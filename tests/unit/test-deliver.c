/*
 * deliver_open on hostile queue files: what is quarantined (renamed to
 * Qf, byte for byte, the data file where it was), what is left as it is
 * (DELIVER_LEFT: the daemon looks again only when the file changes, so
 * it is logged once), what is skipped for now, and that nothing is ever
 * deleted but the control file of a finished removal.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "delivery/deliver.h"
#include "queue/spool.h"
#include "testutil.h"
#include "util/xalloc.h"

#define ID "6AOMct2T003760"

static char *dir;
static struct spool *sp;
static struct deliver_config cfg;

static void
open_queue(void)
{
	struct spool_policy pol;
	struct error err;

	spool_policy_default(&pol);
	sp = spool_open(dir, &pol, &err);
	cr_assert_not_null(sp, "%s", err.reason);
	memset(&cfg, 0, sizeof cfg);
	cfg.sp = sp;
	cfg.ropts.domain = "host.test";
	cfg.env_opts.domain = "host.test";
}

static void
setup(void)
{
	char *qf = tu_simple_qf("root", "alice@example.test");

	dir = tu_tempdir();
	tu_write_str(dir, "qf" ID, qf);
	tu_write_str(dir, "df" ID, "hello\n");
	free(qf);
	open_queue();
}

static void
teardown(void)
{
	spool_free(sp);
	tu_rmtree(dir);
	free(dir);
}

TestSuite(deliver, .init = setup, .fini = teardown);

static enum deliver_result
open_it(void)
{
	enum deliver_result res;
	struct deliver_job *j = deliver_open(&cfg, ID, &res);

	if (j != NULL) {
		/* A transaction made and dropped before its "." (as at a
		 * stop): the file stays exactly as it was. */
		cr_assert_not_null(deliver_next(j, 0));
		(void)deliver_abandon(j);
		return DELIVER_DEFERRED;
	}
	return res;
}

/* qf ID became Qf ID with the same bytes; the data file (name) is as it
 * was. */
static void
expect_quarantined(const char *qf_before)
{
	char *now;

	cr_assert_not(tu_exists(dir, "qf" ID));
	now = tu_read2(dir, "Qf" ID, NULL);
	cr_assert_not_null(now);
	cr_assert_str_eq(now, qf_before, "quarantined byte for byte");
	free(now);
}

Test(deliver, a_good_message_opens)
{
	cr_assert_eq(open_it(), DELIVER_DEFERRED);
	cr_assert(tu_exists(dir, "qf" ID));
}

Test(deliver, a_bogus_mode_is_quarantined_as_readqf_does)
{
	char *qf = tu_read2(dir, "qf" ID, NULL);

	cr_assert_eq(chmod(tu_path(dir, "qf" ID), 0666), 0);
	cr_assert_eq(open_it(), DELIVER_QUARANTINED);
	expect_quarantined(qf);
	cr_assert(tu_exists(dir, "df" ID));
	free(qf);
}

Test(deliver, a_hard_link_is_left_as_it_is)
{
	cr_assert_eq(link(tu_path(dir, "qf" ID), tu_path(dir, "elsewhere")), 0);
	cr_assert_eq(open_it(), DELIVER_LEFT);
	cr_assert(tu_exists(dir, "qf" ID));
	cr_assert(tu_exists(dir, "df" ID));
	cr_assert_eq(tu_count(dir), 3);
}

Test(deliver, a_symlinked_qf_is_left_and_never_followed)
{
	cr_assert_eq(unlink(tu_path(dir, "qf" ID)), 0);
	cr_assert_eq(symlink("/etc/passwd", tu_path(dir, "qf" ID)), 0);
	cr_assert_eq(open_it(), DELIVER_LEFT);
	cr_assert_eq(tu_count(dir), 2);
}

Test(deliver, a_cut_short_file_is_left_not_quarantined)
{
	tu_write_str(dir, "qf" ID, "V8\nT1\nK0\nN0\nP1\nSroot\nRPFD:a@b\n");
	cr_assert_eq(open_it(), DELIVER_LEFT);
	cr_assert(tu_exists(dir, "qf" ID));
}

Test(deliver, an_empty_file_is_skipped_then_left_once_it_is_old)
{
	struct timespec old[2] = { { time(NULL) - 3600, 0 }, { time(NULL) - 3600, 0 } };

	tu_write_str(dir, "qf" ID, "");
	cr_assert_eq(open_it(), DELIVER_SKIPPED, "a submitter's placeholder");
	cr_assert_eq(utimensat(AT_FDCWD, tu_path(dir, "qf" ID), old, 0), 0);
	cr_assert_eq(open_it(), DELIVER_LEFT, "nobody's, an hour old");
	cr_assert(tu_exists(dir, "qf" ID));
	cr_assert(tu_exists(dir, "df" ID));
}

Test(deliver, a_refused_record_is_quarantined)
{
	const char *bad = "V9\nT1\nK0\nN0\nP1\nSroot\nRPFD:a@b\n.\n";

	tu_write_str(dir, "qf" ID, bad);
	cr_assert_eq(open_it(), DELIVER_QUARANTINED);
	expect_quarantined(bad);
}

Test(deliver, a_control_character_in_an_address_is_quarantined)
{
	const char *bad = "V8\nT1\nK0\nN0\nP1\nSroot\n"
	    "RPFD:\"x\rRCPT To:<evil@example.test>\"@example.test\n.\n";
	const char *bad_sender = "V8\nT1\nK0\nN0\nP1\nSroot\x7f\nRPFD:a@b\n.\n";

	tu_write_str(dir, "qf" ID, bad);
	cr_assert_eq(open_it(), DELIVER_QUARANTINED);
	expect_quarantined(bad);
	cr_assert_eq(unlink(tu_path(dir, "Qf" ID)), 0);
	tu_write_str(dir, "qf" ID, bad_sender);
	cr_assert_eq(open_it(), DELIVER_QUARANTINED);
	expect_quarantined(bad_sender);
}

Test(deliver, an_unsafe_data_file_quarantines_its_message)
{
	static const char *const kinds[] = { "symlink", "fifo", "dir", "link", "mode" };
	char *qf = tu_read2(dir, "qf" ID, NULL);
	size_t i;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		const char *k = kinds[i];
		const char *df = tu_path(dir, "df" ID);

		if (strcmp(k, "symlink") == 0) {
			cr_assert_eq(unlink(df), 0);
			cr_assert_eq(symlink("/etc/passwd", df), 0);
		} else if (strcmp(k, "fifo") == 0) {
			cr_assert_eq(unlink(df), 0);
			cr_assert_eq(mkfifo(df, 0660), 0);
		} else if (strcmp(k, "dir") == 0) {
			cr_assert_eq(unlink(df), 0);
			cr_assert_eq(mkdir(df, 0770), 0);
		} else if (strcmp(k, "link") == 0) {
			cr_assert_eq(unlink(df), 0);
			tu_write_str(dir, "secret", "secret\n");
			cr_assert_eq(link(tu_path(dir, "secret"), df), 0);
		} else {
			tu_write(dir, "df" ID, "body\n", 5, 0666);
		}
		cr_assert_eq(open_it(), DELIVER_QUARANTINED, "data file: %s", k);
		expect_quarantined(qf);
		cr_assert(tu_exists(dir, "df" ID), "the data file (%s) stays", k);
		/* Put things back for the next kind. */
		cr_assert_eq(rename(tu_path(dir, "Qf" ID), tu_path(dir, "qf" ID)), 0);
		if (strcmp(k, "dir") == 0)
			cr_assert_eq(rmdir(df), 0);
		else
			cr_assert_eq(unlink(df), 0);
		if (strcmp(k, "link") == 0)
			cr_assert_eq(unlink(tu_path(dir, "secret")), 0);
		tu_write_str(dir, "df" ID, "hello\n");
	}
	free(qf);
}

Test(deliver, a_data_file_is_never_opened_unless_regular)
{
	char buf[4096];
	ssize_t n;
	int in;

	/* An open of the FIFO (which would meet a writer) is what inotify
	 * reports as IN_OPEN; there must be none. */
	cr_assert_eq(unlink(tu_path(dir, "df" ID)), 0);
	cr_assert_eq(mkfifo(tu_path(dir, "df" ID), 0660), 0);
	in = inotify_init1(IN_NONBLOCK);
	cr_assert(in >= 0);
	cr_assert(inotify_add_watch(in, tu_path(dir, "df" ID), IN_OPEN) >= 0);
	cr_assert_eq(open_it(), DELIVER_QUARANTINED);
	n = read(in, buf, sizeof buf);
	cr_assert(n < 0 && errno == EAGAIN, "the FIFO was opened");
	close(in);
}

Test(deliver, a_data_file_in_the_wrong_directory_is_not_a_finished_removal)
{
	char *qf = tu_read2(dir, "qf" ID, NULL);

	/* A df/ subdirectory appears; the data file stays in the queue. */
	spool_free(sp);
	cr_assert_eq(mkdir(tu_path(dir, "df"), 0770), 0);
	open_queue();
	cr_assert_eq(open_it(), DELIVER_QUARANTINED);
	expect_quarantined(qf);
	cr_assert(tu_exists(dir, "df" ID), "the data file is kept");
	free(qf);
}

Test(deliver, a_data_file_nowhere_finishes_the_removal)
{
	cr_assert_eq(unlink(tu_path(dir, "df" ID)), 0);
	cr_assert_eq(open_it(), DELIVER_DELIVERED);
	cr_assert_eq(tu_count(dir), 0);
}
