#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileread.h"
#include "testutil.h"

static char *dir;

static void setup(void) { dir = tu_tempdir(); }
static void teardown(void) { tu_rmtree(dir); free(dir); }

TestSuite(fileread, .init = setup, .fini = teardown);

static const struct fileread_opts plain = { NULL, 1024, false, false, NULL, NULL };

Test(fileread, reads_the_whole_file_with_a_nul_inside)
{
	char *text;
	size_t len;
	struct error err;

	tu_write(dir, "f", "a\0b\n", 4, 0644);
	cr_assert(fileread(tu_path(dir, "f"), &plain, &text, &len, &err), "%s", err.reason);
	cr_expect_eq(len, 4);
	cr_expect_eq(memcmp(text, "a\0b\n", 5), 0, "NUL-terminated after the octets");
	free(text);
}

Test(fileread, a_missing_file_says_enoent_and_the_path_after_what)
{
	const struct fileread_opts o = { "tls.key", 1024, false, true, NULL, NULL };
	char *text = (char *)"x";
	size_t len = 9;
	struct error err;

	cr_assert_not(fileread(tu_path(dir, "none"), &o, &text, &len, &err));
	cr_expect_null(text);
	cr_expect_eq(len, 0);
	cr_expect_eq(err.errnum, ENOENT);
	cr_expect(strncmp(err.reason, "tls.key ", 8) == 0 && strstr(err.reason, "/none: ") != NULL,
	    "%s", err.reason);
}

Test(fileread, a_link_is_refused_with_nofollow_and_followed_without)
{
	const struct fileread_opts o = { NULL, 1024, false, true, NULL, NULL };
	char *text;
	size_t len;
	struct error err;

	tu_write_str(dir, "target", "secret\n");
	cr_assert_eq(symlink(tu_path(dir, "target"), tu_path(dir, "link")), 0);
	cr_assert_not(fileread(tu_path(dir, "link"), &o, &text, &len, &err));
	cr_expect(strstr(err.reason, "link: is a symbolic link; refused") != NULL, "%s", err.reason);
	cr_assert(fileread(tu_path(dir, "link"), &plain, &text, &len, &err), "%s", err.reason);
	cr_expect_str_eq(text, "secret\n");
	free(text);
}

Test(fileread, only_a_regular_file)
{
	char *text;
	size_t len;
	struct error err;

	cr_assert_not(fileread(dir, &plain, &text, &len, &err));
	cr_expect(strstr(err.reason, ": not a regular file") != NULL, "%s", err.reason);
}

Test(fileread, a_file_over_max_is_refused_or_cut)
{
	const struct fileread_opts cut = { NULL, 4, true, false, NULL, NULL };
	const struct fileread_opts small = { "auth.file", 4, false, false, NULL, NULL };
	char *text;
	size_t len;
	struct error err;

	tu_write_str(dir, "big", "0123456789");
	cr_assert_not(fileread(tu_path(dir, "big"), &small, &text, &len, &err));
	cr_expect(strstr(err.reason, "big: larger than 4 octets; refused") != NULL, "%s",
	    err.reason);
	cr_assert(fileread(tu_path(dir, "big"), &cut, &text, &len, &err), "%s", err.reason);
	cr_expect_eq(len, 4);
	cr_expect_str_eq(text, "0123");
	free(text);
}

static bool
refuse_group_readable(const char *path, const struct stat *st, void *arg, struct error *err)
{
	++*(int *)arg;
	if (st->st_mode & S_IRGRP) {
		error_set(err, 0, "%s: group may read it", path);
		return false;
	}
	return true;
}

/* The check sees the open file's stat, and its refusal is the answer. */
Test(fileread, the_check_decides_before_anything_is_read)
{
	int calls = 0;
	const struct fileread_opts o = { NULL, 1024, false, true, refuse_group_readable, &calls };
	char *text;
	size_t len;
	struct error err;

	tu_write(dir, "open", "x", 1, 0640);
	tu_write(dir, "closed", "y", 1, 0600);
	cr_assert_not(fileread(tu_path(dir, "open"), &o, &text, &len, &err));
	cr_expect(strstr(err.reason, "open: group may read it") != NULL, "%s", err.reason);
	cr_expect_null(text);
	cr_assert(fileread(tu_path(dir, "closed"), &o, &text, &len, &err), "%s", err.reason);
	cr_expect_str_eq(text, "y");
	cr_expect_eq(calls, 2);
	free(text);
}
