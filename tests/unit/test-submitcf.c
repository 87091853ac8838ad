#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "submitcf.h"
#include "testutil.h"

static char *dir;

static void setup(void) { dir = tu_tempdir(); }
static void teardown(void) { tu_rmtree(dir); free(dir); }

TestSuite(submitcf, .init = setup, .fini = teardown);

static struct submitcf *
load(const char *text, struct submitcf_error *err)
{
	tu_write_str(dir, "submit.cf", text);
	return submitcf_load(tu_path(dir, "submit.cf"), err);
}

Test(submitcf, reads_options_and_macros)
{
	struct submitcf_error err;
	struct submitcf *cf = load(
	    "# comment\nV10/Berkeley\nDjhost.test\nD{MTAHost}[127.0.0.1]\n"
	    "O QueueDirectory=/var/spool/mqueue-client\nO RunAsUser=smmsp\n"
	    "O Timeout.queuewarn = 4h\nO UseMSP\n"
	    "Mrelay,\t\tP=[IPC], F=mDFMuXa8k, S=EnvFromSMTP/HdrFromSMTP, R=MasqSMTP, E=\\r\\n, L=2040,\n"
	    "\t\tT=DNS/RFC822/SMTP,\n", &err);

	cr_assert_not_null(cf, "%s", err.reason);
	cr_assert_str_eq(submitcf_option(cf, "QueueDirectory"), "/var/spool/mqueue-client");
	cr_assert_str_eq(submitcf_option(cf, "queuedirectory"), "/var/spool/mqueue-client",
	    "option names ignore case");
	cr_assert_str_eq(submitcf_option(cf, "Timeout.queuewarn"), "4h");
	cr_assert_str_eq(submitcf_option(cf, "UseMSP"), "True");
	cr_assert_null(submitcf_option(cf, "MinQueueAge"));
	cr_assert_str_eq(submitcf_macro(cf, "j"), "host.test");
	cr_assert_str_eq(submitcf_macro(cf, "{MTAHost}"), "[127.0.0.1]");
	cr_assert_str_eq(submitcf_queue_dir(cf, &err), "/var/spool/mqueue-client");
	submitcf_free(cf);
}

Test(submitcf, command_line_overrides)
{
	struct submitcf_error err;
	struct submitcf *cf = load("O QueueDirectory=/a\n", &err);

	cr_assert(submitcf_set_option(cf, "QueueDirectory=/b", &err));
	cr_assert_str_eq(submitcf_option(cf, "QueueDirectory"), "/b");
	cr_assert_not(submitcf_set_option(cf, "QueueDirectory", &err));
	cr_assert_str_eq(err.reason, "-O QueueDirectory: expected Option=value");
	cr_assert_not(submitcf_set_option(cf, "=x", &err));
	submitcf_free(cf);
}

Test(submitcf, errors_name_the_file_and_line)
{
	struct submitcf_error err;
	char *want;

	cr_assert_null(load("V10\nO QueueDirectory=/a\nOX\n", &err));
	want = strdup(tu_path(dir, "submit.cf:3: malformed option line"));
	cr_assert(strncmp(err.reason, want, strlen(want)) == 0, "%s", err.reason);
	cr_assert_eq(err.line, 3);
	free(want);
	cr_assert_null(load("D{MTAHost\n", &err));
	cr_assert(strstr(err.reason, "submit.cf:1: malformed macro definition") != NULL, "%s", err.reason);
	cr_assert_null(submitcf_load(tu_path(dir, "nonexistent.cf"), &err));
	cr_assert(strstr(err.reason, "nonexistent.cf: cannot open: No such file or directory") != NULL,
	    "%s", err.reason);
}

Test(submitcf, queue_directory_checks)
{
	struct submitcf_error err;
	struct submitcf *cf;

	cf = load("V10\n", &err);
	cr_assert_null(submitcf_queue_dir(cf, &err));
	cr_assert(strstr(err.reason, "no QueueDirectory option") != NULL);
	submitcf_free(cf);
	cf = load("O QueueDirectory=/var/spool/clientmqueue/q*\n", &err);
	cr_assert_null(submitcf_queue_dir(cf, &err));
	cr_assert(strstr(err.reason, "is a wildcard") != NULL, "%s", err.reason);
	submitcf_free(cf);
	cf = load("O QueueDirectory=spool\n", &err);
	cr_assert_null(submitcf_queue_dir(cf, &err));
	cr_assert(strstr(err.reason, "not an absolute path") != NULL);
	submitcf_free(cf);
}

Test(submitcf, reads_the_system_submit_cf_when_present)
{
	struct submitcf_error err;
	struct submitcf *cf = submitcf_load("/etc/mail/submit.cf", &err);

	if (cf == NULL)
		cr_skip_test("no /etc/mail/submit.cf here");
	cr_assert_not_null(submitcf_queue_dir(cf, &err), "%s", err.reason);
	cr_assert_not_null(submitcf_option(cf, "RunAsUser"));
	submitcf_free(cf);
}
