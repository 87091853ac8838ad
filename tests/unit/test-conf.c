#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config/conf.h"
#include "testutil.h"

static char *dir;

static void setup(void) { dir = tu_tempdir(); }
static void teardown(void) { tu_rmtree(dir); free(dir); }

TestSuite(conf, .init = setup, .fini = teardown);

/* clientq.conf with text, loaded (and finished when that worked). */
static bool
load(struct conf *c, const char *text, struct error *err)
{
	tu_write(dir, "clientq.conf", text, strlen(text), 0644);
	conf_init(c);
	return conf_load(c, tu_path(dir, "clientq.conf"), true, err) && conf_finish(c, err);
}

Test(conf, every_key)
{
	struct conf c;
	struct error err;
	bool ok = load(&c,
	    "# the runner's own settings\n"
	    "\n"
	    "daemon.connections = 4\n"
	    "  Daemon.Retry-Min=90s\n"
	    "daemon.retry-max = 2h\n"
	    "daemon.probe-max = 30\n"
	    "daemon.control = /run/cq/control\n"
	    "tls.policy = verify\r\n"
	    "tls.cafile = /etc/ssl/ca.pem\n"
	    "tls.capath = /etc/ssl/certs\n"
	    "tls.name = mailhub.example\n"
	    "tls.ciphers = ECDHE+AESGCM\n"
	    "tls.ciphersuites = TLS_AES_256_GCM_SHA384\n"
	    "tls.min-version = TLSv1.3\n"
	    "tls.cert = /etc/mail/client.pem\n"
	    "tls.key = /etc/mail/client.key\n"
	    "auth.file = /etc/mail/clientq-auth\n"
	    "auth.mechanisms = login, PLAIN\n"
	    "auth.cleartext = no\n", &err);

	cr_assert(ok, "%s", err.reason);
	cr_expect_eq(c.connections, 4);
	cr_expect_eq(c.retry_min, 90);
	cr_expect_eq(c.retry_max, 7200);
	cr_expect_eq(c.probe_max, 30, "a bare number is seconds");
	cr_expect_str_eq(c.control, "/run/cq/control");
	cr_expect_eq(c.tls.policy, TLS_POLICY_VERIFY);
	cr_expect_str_eq(c.tls.cafile, "/etc/ssl/ca.pem");
	cr_expect_str_eq(c.tls.capath, "/etc/ssl/certs");
	cr_expect_str_eq(c.tls.name, "mailhub.example");
	cr_expect_str_eq(c.tls.ciphers, "ECDHE+AESGCM");
	cr_expect_str_eq(c.tls.ciphersuites, "TLS_AES_256_GCM_SHA384");
	cr_expect_eq(c.tls.min_version, 0x0304);
	cr_expect_str_eq(c.tls.cert, "/etc/mail/client.pem");
	cr_expect_str_eq(c.tls.key, "/etc/mail/client.key");
	cr_expect_str_eq(c.auth.file, "/etc/mail/clientq-auth");
	cr_expect_eq(c.auth.nmechs, 2);
	cr_expect_eq(c.auth.mechs[0], AUTH_MECH_LOGIN, "in the order given");
	cr_expect_eq(c.auth.mechs[1], AUTH_MECH_PLAIN);
	cr_expect_not(c.auth.cleartext);
	conf_free(&c);
}

Test(conf, defaults_and_a_missing_default_file)
{
	struct conf c;
	struct error err;

	conf_init(&c);
	cr_assert(conf_load(&c, tu_path(dir, "none.conf"), false, &err),
	    "a missing file that was not named is an empty one");
	cr_assert(conf_finish(&c, &err), "%s", err.reason);
	cr_expect_null(c.path);
	cr_expect_eq(c.tls.policy, TLS_POLICY_MAY, "sendmail's MSP: STARTTLS when offered");
	cr_expect_eq(c.connections, 0, "not set: the command line or the default decides");
	cr_expect_eq(c.auth.nmechs, 0, "no AUTH");
	conf_free(&c);
	conf_init(&c);
	cr_assert_not(conf_load(&c, tu_path(dir, "none.conf"), true, &err));
	cr_expect(strstr(err.reason, "none.conf: No such file or directory") != NULL, "%s",
	    err.reason);
	conf_free(&c);
}

/* Each bad file: its message, naming the file and the line. */
Test(conf, errors_name_the_file_and_line)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
		{ "tls.polcy = may\n", ":1: unknown key 'tls.polcy'" },
		{ "\n# c\njust words\n", ":3: not a \"key = value\" line" },
		{ "tls policy = may\n", ":1: not a \"key = value\" line" },
		{ "= may\n", ":1: not a \"key = value\" line" },
		{ "tls.policy =\n", ":1: no value for 'tls.policy'" },
		{ "tls.policy = may\ntls.policy = none\n",
		  ":2: 'tls.policy' is given twice (first on line 1)" },
		{ "tls.policy = sometimes\n",
		  ":1: tls.policy = sometimes: not a policy (none, may, encrypt, verify, fingerprint)" },
		{ "daemon.connections = 0\n", ":1: daemon.connections = 0: not a number from 1 to 64" },
		{ "daemon.connections = 65\n", ":1: daemon.connections = 65: not a number from 1 to 64" },
		{ "daemon.connections = 2x\n", ":1: daemon.connections = 2x: not a number from 1 to 64" },
		{ "daemon.retry-min = soon\n", ":1: daemon.retry-min = soon: not a time from 1 s to 1 day" },
		{ "daemon.retry-max = 2d\n", ":1: daemon.retry-max = 2d: not a time from 1 s to 1 day" },
		{ "daemon.control = run/sock\n", ":1: 'run/sock' is not an absolute path" },
		{ "tls.cafile = ca.pem\n", ":1: 'ca.pem' is not an absolute path" },
		{ "tls.min-version = TLSv1.1\n",
		  ":1: tls.min-version = TLSv1.1: TLSv1.2 or TLSv1.3 (TLS 1.2 is the floor)" },
		{ "tls.name = [192.0.2.1]\n", ":1: tls.name = [192.0.2.1]: not a host name or address" },
		{ "tls.fingerprint = abcd\n", ":1: tls.fingerprint: \"abcd\" is not a SHA-256 fingerprint" },
		{ "auth.mechanisms = PLAIN CRAM-MD5\n",
		  ":1: auth.mechanisms: unknown mechanism \"CRAM-MD5\" (PLAIN, LOGIN, EXTERNAL)" },
		{ "auth.mechanisms = PLAIN plain\n", ":1: auth.mechanisms: PLAIN is named twice" },
		{ "auth.cleartext = maybe\n", ":1: auth.cleartext = maybe: yes or no" },
		/* Settings that contradict each other: the line of the one
		 * that asks for what is missing. */
		{ "daemon.retry-min = 2h\ndaemon.retry-max = 1h\n",
		  ":1: daemon.retry-min (7200 s) is larger than daemon.retry-max (3600 s)" },
		{ "\ntls.policy = fingerprint\n", ":2: tls.policy = fingerprint needs tls.fingerprint" },
		{ "tls.fingerprint = "
		  "0000000000000000000000000000000000000000000000000000000000000000\n",
		  ":1: tls.fingerprint is used only with tls.policy = fingerprint (the policy is may)" },
		{ "tls.key = /k.pem\n", ":1: tls.key without tls.cert" },
		{ "auth.mechanisms = LOGIN\n",
		  ":1: auth.mechanisms LOGIN needs auth.file (the user and password)" },
		{ "auth.mechanisms = EXTERNAL\n",
		  ":1: auth.mechanisms EXTERNAL needs tls.cert (the client certificate)" },
		{ "tls.policy = none\nauth.file = /a\n",
		  ":2: AUTH would never be used: tls.policy = none, and auth.cleartext is no" },
	};
	size_t k;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct conf c;
		struct error err;
		char want[400];

		snprintf(want, sizeof want, "%s%s", tu_path(dir, "clientq.conf"), cases[k].why);
		cr_expect_not(load(&c, cases[k].text, &err), "accepted: %s", cases[k].text);
		cr_expect(strncmp(err.reason, want, strlen(want)) == 0, "got \"%s\", wanted \"%s\"",
		    err.reason, want);
		conf_free(&c);
	}
}

Test(conf, command_line_overrides_the_file)
{
	struct conf c;
	struct error err;

	cr_assert(load(&c, "tls.policy = verify\ndaemon.connections = 3\n", &err), "%s",
	    err.reason);
	cr_expect(conf_is_key("TLS.policy=x"));
	cr_expect(conf_is_key("auth.file=x"));
	cr_expect(conf_is_key("daemon.connections=1"));
	cr_expect_not(conf_is_key("Timeout.starttls=5m"), "sendmail's own options stay sendmail's");
	cr_expect_not(conf_is_key("QueueDirectory=/q"));
	cr_assert(conf_set(&c, "TLS.Policy=encrypt", &err), "%s", err.reason);
	cr_assert(conf_set(&c, "daemon.connections=5", &err), "%s", err.reason);
	cr_assert(conf_finish(&c, &err), "%s", err.reason);
	cr_expect_eq(c.tls.policy, TLS_POLICY_ENCRYPT);
	cr_expect_eq(c.connections, 5);
	cr_assert_not(conf_set(&c, "tls.policy=sometimes", &err));
	cr_expect_str_eq(err.reason,
	    "-O tls.policy=sometimes: tls.policy = sometimes: not a policy (none, may, encrypt, verify, fingerprint)");
	cr_assert_not(conf_set(&c, "tls.bogus=1", &err));
	cr_expect_str_eq(err.reason, "-O tls.bogus=1: unknown key 'tls.bogus' (see clientq.conf(5))");
	cr_assert_not(conf_set(&c, "tls.policy", &err));
	cr_expect_str_eq(err.reason, "-O tls.policy: not key=value");
	conf_free(&c);
	/* A contradiction made on the command line is named there. */
	cr_assert(load(&c, "", &err), "%s", err.reason);
	cr_assert(conf_set(&c, "tls.policy=fingerprint", &err));
	cr_assert_not(conf_finish(&c, &err));
	cr_expect_str_eq(err.reason, "-O tls.policy: tls.policy = fingerprint needs tls.fingerprint");
	conf_free(&c);
}

/* conf_read, as the daemon and --check read clientq.conf: the file, its
 * keys among the -O options (submit.cf's passed over), then the whole;
 * by_arg tells a bad -O from a bad file. */
Test(conf, read_takes_the_file_then_its_own_options)
{
	char *args[] = { "Timeout.connect=5s", "tls.policy=encrypt", "QueueDirectory=/q" };
	char *bad[] = { "tls.policy=sometimes" };
	const char *text = "tls.policy = verify\ndaemon.connections = 3\n";
	struct conf c;
	struct error err;
	bool by_arg;

	tu_write(dir, "clientq.conf", text, strlen(text), 0644);
	cr_assert(conf_read(&c, tu_path(dir, "clientq.conf"), true, args, 3, &by_arg, &err),
	    "%s", err.reason);
	cr_expect_eq(c.tls.policy, TLS_POLICY_ENCRYPT);
	cr_expect_eq(c.connections, 3);
	conf_free(&c);
	cr_assert_not(conf_read(&c, tu_path(dir, "clientq.conf"), true, bad, 1, &by_arg, &err));
	cr_expect(by_arg);
	conf_free(&c);
	cr_assert_not(conf_read(&c, tu_path(dir, "absent.conf"), true, args, 3, &by_arg, &err));
	cr_expect_not(by_arg, "a named file that is missing is the file's fault");
	conf_free(&c);
	cr_assert(conf_read(&c, tu_path(dir, "absent.conf"), false, NULL, 0, NULL, &err));
	cr_expect_null(c.path, "a default file that is missing is an empty one");
	conf_free(&c);
	cr_assert(conf_read(&c, NULL, false, args, 3, NULL, &err), "%s", err.reason);
	cr_expect_eq(c.tls.policy, TLS_POLICY_ENCRYPT, "no file: the options alone");
	conf_free(&c);
}

Test(conf, auth_file_alone_means_plain_and_login)
{
	struct conf c;
	struct error err;

	cr_assert(load(&c, "auth.file = /etc/mail/clientq-auth\n", &err), "%s", err.reason);
	cr_expect_eq(c.auth.nmechs, 2);
	cr_expect_eq(c.auth.mechs[0], AUTH_MECH_PLAIN);
	cr_expect_eq(c.auth.mechs[1], AUTH_MECH_LOGIN);
	conf_free(&c);
}

Test(conf, hash_is_a_comment_only_at_the_start)
{
	struct conf c;
	struct error err;

	cr_assert(load(&c, "   # an indented comment\ntls.ciphers = HIGH:#x\n", &err), "%s",
	    err.reason);
	cr_expect_str_eq(c.tls.ciphers, "HIGH:#x");
	conf_free(&c);
}

Test(conf, a_file_others_may_change_is_refused)
{
	struct conf c;
	struct error err;

	tu_write(dir, "clientq.conf", "tls.policy = none\n", 18, 0646);
	conf_init(&c);
	cr_assert_not(conf_load(&c, tu_path(dir, "clientq.conf"), true, &err));
	cr_expect(strstr(err.reason, "mode 0646 lets any user change it; refused") != NULL, "%s",
	    err.reason);
	conf_free(&c);
	cr_assert_eq(symlink(tu_path(dir, "clientq.conf"), tu_path(dir, "link.conf")), 0);
	conf_init(&c);
	cr_assert_not(conf_load(&c, tu_path(dir, "link.conf"), true, &err));
	cr_expect(strstr(err.reason, "link.conf: is a symbolic link; refused") != NULL, "%s",
	    err.reason);
	conf_free(&c);
	conf_init(&c);
	cr_assert_not(conf_load(&c, dir, true, &err), "a directory");
	cr_expect(strstr(err.reason, "not a regular file") != NULL, "%s", err.reason);
	conf_free(&c);
}

Test(conf, seconds)
{
	static const struct {
		const char *s;
		bool ok;
		long long v;
	} cases[] = {
		{ "90", true, 90 }, { "90s", true, 90 }, { "5m", true, 300 }, { "1h30m", true, 5400 },
		{ "2d", true, 172800 }, { "", false, 0 }, { "m", false, 0 }, { "5x", false, 0 },
		{ "-5", false, 0 }, { "1234567890123", false, 0 },
	};
	size_t k;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		long long v = -1;

		cr_expect_eq(conf_seconds(cases[k].s, &v), cases[k].ok, "%s", cases[k].s);
		if (cases[k].ok)
			cr_expect_eq(v, cases[k].v, "%s", cases[k].s);
	}
}
