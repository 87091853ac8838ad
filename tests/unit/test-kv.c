#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "util/kv.h"
#include "testutil.h"

static char *dir;

static void setup(void) { dir = tu_tempdir(); }
static void teardown(void) { tu_rmtree(dir); free(dir); }

TestSuite(kv, .init = setup, .fini = teardown);

/* What the callback saw, "key=value@line;" each. */
static bool
collect(void *arg, const char *key, const char *value, unsigned line, struct error *why)
{
	char *out = arg;

	if (strcmp(key, "refused") == 0) {
		error_set(why, 0, "'%s' is not wanted here", value);
		return false;
	}
	snprintf(out + strlen(out), 512 - strlen(out), "%s=%s@%u;", key, value, line);
	return true;
}

static bool
parse(const char *text, char *out, struct error *err)
{
	out[0] = '\0';
	return kv_parse(text, strlen(text), "/etc/x.conf", collect, out, err);
}

/* Blanks around key and value go, comments and blank lines are skipped,
 * a CR before the newline goes, '#' inside a value stays. */
Test(kv, parses_key_value_lines)
{
	struct error err;
	char out[512];

	cr_assert(parse("# comment\n\n  a = 1 \r\nb=two words\n\tpass = x#y\nlast=z", out, &err),
	    "%s", err.reason);
	cr_expect_str_eq(out, "a=1@3;b=two words@4;pass=x#y@5;last=z@6;");
}

/* Each refusal names the file and the line. */
Test(kv, refuses_with_the_file_and_line)
{
	static const struct {
		const char *text, *reason;
	} cases[] = {
		{ "a = 1\nno equals sign\n", "/etc/x.conf:2: not a \"key = value\" line" },
		{ "two words = 1\n", "/etc/x.conf:1: not a \"key = value\" line" },
		{ " = 1\n", "/etc/x.conf:1: not a \"key = value\" line" },
		{ "a =   \n", "/etc/x.conf:1: no value for 'a'" },
		{ "a = 1\nrefused = v\n", "/etc/x.conf:2: 'v' is not wanted here" },
	};
	struct error err;
	char out[512];
	size_t k;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		cr_expect_not(parse(cases[k].text, out, &err), "%s", cases[k].text);
		cr_expect_str_eq(err.reason, cases[k].reason);
	}
}

/* A NUL, or a line of KV_LINE_MAX octets: not a configuration file. */
Test(kv, refuses_a_nul_and_a_line_too_long)
{
	struct error err;
	char out[512];
	char *big = malloc(KV_LINE_MAX + 8);

	cr_expect_not(kv_parse("a = 1\0b = 2\n", 12, "/etc/x.conf", collect, out, &err));
	cr_expect(strstr(err.reason, "a NUL byte") != NULL, "%s", err.reason);
	memset(big, 'x', KV_LINE_MAX + 4);
	memcpy(big, "k = ", 4);
	big[KV_LINE_MAX + 4] = '\0';
	cr_expect_not(parse(big, out, &err));
	cr_expect(strstr(err.reason, "/etc/x.conf:1: line longer than") != NULL, "%s", err.reason);
	free(big);
}

/* An ordinary file: missing is said apart; other users may not write it. */
Test(kv, reads_an_ordinary_file)
{
	struct error err;
	char *text;
	size_t len;
	bool missing;

	cr_assert_not(kv_read(tu_path(dir, "none"), (uid_t)-1, &text, &len, &missing, &err));
	cr_expect(missing);
	tu_write(dir, "c", "a = 1\n", 6, 0644);
	cr_assert(kv_read(tu_path(dir, "c"), (uid_t)-1, &text, &len, &missing, &err), "%s",
	    err.reason);
	cr_expect_not(missing);
	cr_expect_eq(len, 6);
	cr_expect_str_eq(text, "a = 1\n");
	free(text);
	chmod(tu_path(dir, "c"), 0646);
	cr_assert_not(kv_read(tu_path(dir, "c"), (uid_t)-1, &text, &len, NULL, &err));
	cr_expect(strstr(err.reason, "lets any user change it; refused") != NULL, "%s", err.reason);
}

/* The secrets' file: its owner, its mode, no symbolic link. */
Test(kv, a_secret_file_must_be_the_owners_alone)
{
	struct error err;
	char *text;
	size_t len;

	tu_write(dir, "auth", "user = u\n", 9, 0600);
	cr_assert(kv_read(tu_path(dir, "auth"), geteuid(), &text, &len, NULL, &err), "%s",
	    err.reason);
	cr_expect_eq(len, 9);
	free(text);
	cr_assert_not(kv_read(tu_path(dir, "auth"), geteuid() + 1, &text, &len, NULL, &err));
	cr_expect(strstr(err.reason, ", not by the runner's user ") != NULL, "%s", err.reason);
	cr_expect(strstr(err.reason, "; refused") != NULL, "%s", err.reason);
	chmod(tu_path(dir, "auth"), 0640);
	cr_assert_not(kv_read(tu_path(dir, "auth"), geteuid(), &text, &len, NULL, &err));
	cr_expect(strstr(err.reason,
	    "auth: mode 0640 lets other users at the credentials; refused (chmod 0600)") != NULL,
	    "%s", err.reason);
	chmod(tu_path(dir, "auth"), 0604);
	cr_assert_not(kv_read(tu_path(dir, "auth"), geteuid(), &text, &len, NULL, &err));
	chmod(tu_path(dir, "auth"), 0400);
	cr_assert(kv_read(tu_path(dir, "auth"), geteuid(), &text, &len, NULL, &err), "%s",
	    err.reason);
	free(text);
	cr_assert_eq(symlink(tu_path(dir, "auth"), tu_path(dir, "auth-link")), 0);
	cr_assert_not(kv_read(tu_path(dir, "auth-link"), geteuid(), &text, &len, NULL, &err));
	cr_expect(strstr(err.reason, "is a symbolic link; refused") != NULL, "%s", err.reason);
}
