#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config/submitcf.h"
#include "testutil.h"
#include "util/xalloc.h"

static char *dir;

static void setup(void) { dir = tu_tempdir(); }
static void teardown(void) { tu_rmtree(dir); free(dir); }

TestSuite(submitcf, .init = setup, .fini = teardown);

static struct submitcf *
load(const char *text, struct error *err)
{
	tu_write_str(dir, "submit.cf", text);
	return submitcf_load(tu_path(dir, "submit.cf"), err);
}

Test(submitcf, reads_options_and_macros)
{
	struct error err;
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
	struct error err;
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
	struct error err;
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
	struct error err;
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
	struct error err;
	struct submitcf *cf = submitcf_load("/etc/mail/submit.cf", &err);

	if (cf == NULL)
		cr_skip_test("no /etc/mail/submit.cf here");
	cr_assert_not_null(submitcf_queue_dir(cf, &err), "%s", err.reason);
	cr_assert_not_null(submitcf_option(cf, "RunAsUser"));
	submitcf_free(cf);
}

Test(submitcf, relay_mailer)
{
	struct error err;
	struct submitcf_mailer m;
	struct submitcf *cf = load(
	    "Mrelay,\t\tP=[IPC], F=mDFMuXa8k, S=EnvFromSMTP/HdrFromSMTP, R=MasqSMTP, E=\\r\\n, L=2040,\n"
	    "\t\tT=DNS/RFC822/SMTP,\n"
	    "\t\tA=TCP $h 2526\n"
	    "Mbad,\t\tP=[IPC], A=TCP $h abc\n"
	    "Mprog,\t\tP=/bin/sh, F=lsDFMoqeu9, S=EnvFromL/HdrFromL, R=EnvToL/HdrToL, D=$z:/,\n"
	    "\t\tT=X-Unix/X-Unix/X-Unix,\n\t\tA=sh -c $u\n", &err);

	cr_assert_not_null(cf, "%s", err.reason);
	cr_assert(submitcf_mailer(cf, "relay", &m, &err), "%s", err.reason);
	cr_assert_str_eq(m.flags, "mDFMuXa8k");
	cr_assert_eq(m.linelimit, 2040);
	cr_assert_str_eq(m.argv, "TCP $h 2526");
	cr_assert_eq(m.port, 2526);
	cr_assert_not(submitcf_mailer(cf, "bad", &m, &err));
	cr_assert(strstr(err.reason, ":4: mailer 'bad' has A=TCP $h abc; expected 'TCP $h [port]'"),
	    "the error names the line: %s", err.reason);
	cr_assert_eq(err.line, 4);
	cr_assert_not(submitcf_mailer(cf, "prog", &m, &err));
	cr_assert_not(submitcf_mailer(cf, "esmtp", &m, &err));
	cr_assert(strstr(err.reason, "no mailer 'esmtp' is defined"), "%s", err.reason);
	submitcf_free(cf);
	cf = load("Mrelay, P=[IPC], F=mDFMuXa8k, A=TCP $h\n", &err);
	cr_assert(submitcf_mailer(cf, "relay", &m, &err));
	cr_assert_eq(m.port, 25, "no port means 25");
	submitcf_free(cf);
}

Test(submitcf, intervals)
{
	static const struct {
		const char *s;
		long long secs;
	} good[] = {
		{ "4h", 4 * 3600 }, { "5d", 5 * 86400 }, { "1w", 7 * 86400 },
		{ "1h30m", 5400 }, { "90", 90 * 60 }, { "45s", 45 }, { "0", 0 },
	};
	static const char *bad[] = { "", "h", "4x", "-1h", "4h 30m", "99999999999999999999" };
	long long v;
	size_t i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		cr_assert(submitcf_interval(good[i].s, &v), "%s", good[i].s);
		cr_assert_eq(v, good[i].secs, "%s: %lld", good[i].s, v);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_not(submitcf_interval(bad[i], &v), "'%s' accepted", bad[i]);
}

Test(submitcf, queue_timeouts_by_precedence)
{
	struct error err;
	long long v;
	struct submitcf *cf = load(
	    "O Timeout.queuereturn=5d\nO Timeout.queuewarn=4h\n"
	    "O Timeout.queuewarn.urgent=1h\nO Timeout.queuereturn.non-urgent=7d\n", &err);

	cr_assert(submitcf_timeout(cf, "queuewarn", "normal", &v, &err));
	cr_assert_eq(v, 4 * 3600);
	cr_assert(submitcf_timeout(cf, "queuewarn", "urgent", &v, &err));
	cr_assert_eq(v, 3600, "the class-specific option wins when later");
	cr_assert(submitcf_timeout(cf, "queuereturn", "non-urgent", &v, &err));
	cr_assert_eq(v, 7 * 86400);
	cr_assert(submitcf_timeout(cf, "queuereturn", "normal", &v, &err));
	cr_assert_eq(v, 5 * 86400);
	/* A later un-suffixed option sets every class again (readcf.c). */
	cr_assert(submitcf_set_option(cf, "Timeout.queuewarn=2h", &err));
	cr_assert(submitcf_timeout(cf, "queuewarn", "urgent", &v, &err));
	cr_assert_eq(v, 2 * 3600);
	cr_assert_not(submitcf_timeout(cf, "initial", "normal", &v, &err));
	cr_assert_str_eq(err.reason, "", "unset is not an error");
	cr_assert(submitcf_set_option(cf, "Timeout.queuewarn=4x", &err));
	cr_assert_not(submitcf_timeout(cf, "queuewarn", "normal", &v, &err));
	cr_assert(strstr(err.reason, "Timeout.queuewarn.normal=4x is not a time interval"), "%s", err.reason);
	submitcf_free(cf);
}

Test(submitcf, run_as_user)
{
	struct error err;
	struct submitcf *cf;
	uid_t uid;
	gid_t gid;

	cf = load("O RunAsUser=root\n", &err);
	cr_assert(submitcf_run_as(cf, &uid, &gid, &err), "%s", err.reason);
	cr_assert_eq(uid, 0);
	cr_assert_eq(gid, 0);
	cr_assert(submitcf_set_option(cf, "RunAsUser=0:12345", &err));
	cr_assert(submitcf_run_as(cf, &uid, &gid, &err), "%s", err.reason);
	cr_assert_eq(gid, 12345);
	cr_assert(submitcf_set_option(cf, "RunAsUser=no-such-user-here", &err));
	cr_assert_not(submitcf_run_as(cf, &uid, &gid, &err));
	cr_assert(strstr(err.reason, "RunAsUser=no-such-user-here: no such user"), "%s", err.reason);
	cr_assert(submitcf_set_option(cf, "RunAsUser=root:no-such-group-here", &err));
	cr_assert_not(submitcf_run_as(cf, &uid, &gid, &err));
	cr_assert(strstr(err.reason, "no such group"), "%s", err.reason);
	submitcf_free(cf);
}

Test(submitcf, the_debian_submit_cf)
{
	struct error err;
	struct submitcf_mailer m;
	struct submitcf *cf = submitcf_load("/etc/mail/submit.cf", &err);
	long long v;

	if (cf == NULL)
		cr_skip_test("no /etc/mail/submit.cf here");
	cr_assert(submitcf_mailer(cf, "relay", &m, &err), "%s", err.reason);
	/* Only what every FEATURE(msp) submit.cf has: the values are the
	 * site's own. */
	cr_assert(strchr(m.flags, 'X') != NULL, "relay dot-stuffs: %s", m.flags);
	cr_assert_gt(m.linelimit, 0);
	cr_assert_not_null(submitcf_macro(cf, "{MTAHost}"));
	cr_assert(submitcf_timeout(cf, "queuereturn", "normal", &v, &err) || err.reason[0] == '\0',
	    "%s", err.reason);
	cr_assert(submitcf_timeout(cf, "queuewarn", "normal", &v, &err) || err.reason[0] == '\0',
	    "%s", err.reason);
	submitcf_free(cf);
}

/* What submitcf_parse makes of a file's bytes is what submitcf_load makes
 * of the file: for every committed seed of the fuzz target, and for the
 * system's own submit.cf where there is one (sendmail's output is not
 * committed: tests/fuzz/gen-submitcf-seeds.sh makes those seeds). */
Test(submitcf, parse_from_memory_is_load)
{
	static const char *const seeds[] = {
		"crlf-minimal.cf", "classes-rulesets.cf", "malformed.cf", "odd-mailers.cf",
		"empty.cf", "/etc/mail/submit.cf",
	};
	size_t i;

	for (i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		char *path = seeds[i][0] == '/' ? xstrdup(seeds[i]) :
		    xasprintf("%s/tests/fuzz/seeds-submitcf/%s", CQ_SRCDIR, seeds[i]);
		struct error e1, e2;
		struct submitcf_mailer m1, m2;
		struct submitcf *a, *b;
		size_t len;
		char *data;
		long long s1 = -1, s2 = -1;

		if (seeds[i][0] == '/' && access(path, R_OK) != 0) {
			free(path);	/* no sendmail here */
			continue;
		}
		data = tu_read(path, &len);
		cr_assert_not_null(data, "%s", path);
		memset(&e1, 0, sizeof e1);
		memset(&e2, 0, sizeof e2);
		a = submitcf_load(path, &e1);
		b = submitcf_parse(data, len, path, &e2);
		cr_assert_eq(a == NULL, b == NULL, "%s: %s / %s", seeds[i], e1.reason, e2.reason);
		cr_assert_str_eq(e1.reason, e2.reason, "%s", seeds[i]);
		if (a != NULL) {
			const char *q1 = submitcf_option(a, "QueueDirectory");
			const char *q2 = submitcf_option(b, "QueueDirectory");
			bool r1 = submitcf_mailer(a, "relay", &m1, &e1);

			cr_assert_eq(q1 == NULL, q2 == NULL);
			if (q1 != NULL)
				cr_assert_str_eq(q1, q2);
			cr_assert_eq(r1, submitcf_mailer(b, "relay", &m2, &e2), "%s", seeds[i]);
			if (r1)
				cr_assert_eq(memcmp(&m1, &m2, sizeof m1), 0, "%s", seeds[i]);
			cr_assert_eq(submitcf_timeout(a, "queuewarn", "normal", &s1, &e1),
			    submitcf_timeout(b, "queuewarn", "normal", &s2, &e2));
			cr_assert_eq(s1, s2);
			cr_assert_eq(submitcf_class_has(a, "w", "host.test"),
			    submitcf_class_has(b, "w", "host.test"));
			cr_assert_eq(submitcf_ruleset_calls(a, "MasqEnv", "$>MasqHdr"),
			    submitcf_ruleset_calls(b, "MasqEnv", "$>MasqHdr"));
			cr_assert_str_eq(submitcf_path(b), path);
		}
		submitcf_free(a);
		submitcf_free(b);
		free(data);
		free(path);
	}
}

/* L=1 and L=2 would split a line into pieces of nothing (render.c looped
 * on L=2 and read out of bounds on L=1); "L=-5" and "L=9x" were taken as
 * they came.  Found reading the reader for fuzz-submitcf. */
Test(submitcf, relay_line_limit_is_checked)
{
	static const char *const bad[] = { "1", "2", "-5", "9x", "", "99999999999999999999" };
	struct error err;
	struct submitcf_mailer m;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *text = xasprintf("Mrelay, P=[IPC], L=%s, A=TCP $h\n", bad[i]);
		struct submitcf *cf = submitcf_parse(text, strlen(text), "t.cf", &err);

		cr_assert_not_null(cf);
		cr_assert_not(submitcf_mailer(cf, "relay", &m, &err), "L=%s accepted", bad[i]);
		cr_assert(strstr(err.reason, "expected a line length") != NULL, "%s", err.reason);
		submitcf_free(cf);
		free(text);
	}
	for (i = 0; i < 3; i++) {
		static const char *const good[] = { "0", "3", "2040" };
		char *text = xasprintf("Mrelay, P=[IPC], L=%s, A=TCP $h\n", good[i]);
		struct submitcf *cf = submitcf_parse(text, strlen(text), "t.cf", &err);

		cr_assert(submitcf_mailer(cf, "relay", &m, &err), "%s", err.reason);
		cr_assert_eq(m.linelimit, atol(good[i]));
		submitcf_free(cf);
		free(text);
	}
}

/* Many terms of an interval could add up past a long long (undefined
 * behaviour); found reading the reader for fuzz-submitcf. */
Test(submitcf, interval_sums_do_not_overflow)
{
	char s[200 * 12 + 1] = "";
	long long v;
	int i;

	/* Each term fits (9e10 weeks: 5.4e16 s); 200 of them do not. */
	for (i = 0; i < 200; i++)
		strcat(s, "90000000000w");
	cr_assert_not(submitcf_interval(s, &v));
	cr_assert(submitcf_interval("1h30m", &v));
	cr_assert_eq(v, 5400);
}
