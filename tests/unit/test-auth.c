#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "smtp/auth.h"
#include "testutil.h"

static char *dir;

static void setup(void) { dir = tu_tempdir(); }
static void teardown(void) { tu_rmtree(dir); free(dir); }

TestSuite(auth, .init = setup, .fini = teardown);

/* A client for mechanisms s with the credentials text (mode 0600). */
static struct auth_client *
client(const char *mechs, const char *text, struct error *why)
{
	struct auth_config cfg;

	memset(&cfg, 0, sizeof cfg);
	cr_assert(auth_mechs_parse(mechs, cfg.mechs, AUTH_MECHS_MAX, &cfg.nmechs, why),
	    "%s", why->reason);
	if (text != NULL) {
		tu_write(dir, "auth", text, strlen(text), 0600);
		cfg.file = tu_path(dir, "auth");
	}
	return auth_client_new(&cfg, geteuid(), why);
}

Test(auth, plain_is_authzid_user_password_in_base64)
{
	struct strbuf sb = STRBUF_INIT;
	struct auth_client *a;
	struct error why;

	/* RFC 4616's example: "\0tim\0tanstaaftanstaaf". */
	a = client("PLAIN", "user = tim\npassword = tanstaaftanstaaf\n", &why);
	cr_assert_not_null(a, "%s", why.reason);
	auth_start(a, AUTH_MECH_PLAIN, &sb);
	cr_expect_str_eq(strbuf_str(&sb), "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
	strbuf_reset(&sb);
	cr_expect_not(auth_step(a, AUTH_MECH_PLAIN, 1, "", &sb),
	    "the response went with the command: a challenge is out of step");
	auth_client_free(a);
	a = client("PLAIN", "authzid = Ursel\nuser = Kurt\npassword = xipj3plmq\n", &why);
	cr_assert_not_null(a, "%s", why.reason);
	auth_start(a, AUTH_MECH_PLAIN, &sb);
	/* RFC 4616 section 4's second example. */
	cr_expect_str_eq(strbuf_str(&sb), "AUTH PLAIN VXJzZWwAS3VydAB4aXBqM3BsbXE=");
	strbuf_free(&sb);
	auth_client_free(a);
}

Test(auth, login_answers_the_two_challenges)
{
	struct strbuf sb = STRBUF_INIT;
	struct auth_client *a;
	struct error why;

	a = client("LOGIN", "user = alice\npassword = pass word # with a hash\n", &why);
	cr_assert_not_null(a, "%s", why.reason);
	auth_start(a, AUTH_MECH_LOGIN, &sb);
	cr_expect_str_eq(strbuf_str(&sb), "AUTH LOGIN");
	strbuf_reset(&sb);
	cr_assert(auth_step(a, AUTH_MECH_LOGIN, 1, "VXNlcm5hbWU6", &sb));
	cr_expect_str_eq(strbuf_str(&sb), "YWxpY2U=");
	strbuf_reset(&sb);
	cr_assert(auth_step(a, AUTH_MECH_LOGIN, 2, "UGFzc3dvcmQ6", &sb));
	cr_expect_str_eq(strbuf_str(&sb), "cGFzcyB3b3JkICMgd2l0aCBhIGhhc2g=",
	    "the whole value, '#' and blanks within it");
	strbuf_reset(&sb);
	cr_expect_not(auth_step(a, AUTH_MECH_LOGIN, 3, "", &sb));
	strbuf_free(&sb);
	auth_client_free(a);
}

Test(auth, external_needs_no_file)
{
	struct strbuf sb = STRBUF_INIT;
	struct auth_client *a;
	struct error why;

	a = client("EXTERNAL", NULL, &why);
	cr_assert_not_null(a, "%s", why.reason);
	auth_start(a, AUTH_MECH_EXTERNAL, &sb);
	cr_expect_str_eq(strbuf_str(&sb), "AUTH EXTERNAL =", "no authzid: \"=\"");
	strbuf_free(&sb);
	cr_expect_eq(auth_choose(a, "PLAIN EXTERNAL", true), AUTH_MECH_EXTERNAL);
	cr_expect_eq(auth_choose(a, "PLAIN EXTERNAL", false), AUTH_MECH_NONE,
	    "EXTERNAL only with a client certificate");
	auth_client_free(a);
}

Test(auth, the_first_configured_mechanism_the_relay_offers)
{
	struct auth_client *a;
	struct error why;

	a = client("LOGIN PLAIN", "user = u\npassword = p\n", &why);
	cr_assert_not_null(a, "%s", why.reason);
	cr_expect_str_eq(auth_client_mechs(a), "LOGIN PLAIN");
	cr_expect_eq(auth_choose(a, "PLAIN LOGIN", false), AUTH_MECH_LOGIN, "our order");
	cr_expect_eq(auth_choose(a, "CRAM-MD5 plain", false), AUTH_MECH_PLAIN, "any case");
	cr_expect_eq(auth_choose(a, "CRAM-MD5 DIGEST-MD5", false), AUTH_MECH_NONE);
	cr_expect_eq(auth_choose(a, "", false), AUTH_MECH_NONE);
	cr_expect_eq(auth_choose(a, "PLAINX LOGINX", false), AUTH_MECH_NONE, "whole words");
	auth_client_free(a);
}

Test(auth, no_mechanism_no_client)
{
	struct auth_config cfg;
	struct error why;

	memset(&cfg, 0, sizeof cfg);
	cr_expect_null(auth_client_new(&cfg, geteuid(), &why));
	cr_expect_str_eq(why.reason, "");
}

/* What is wrong with the file; and never the secret in the words. */
Test(auth, a_bad_credentials_file_is_named_without_its_secret)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
		{ "user = u\n", "no password in it" },
		{ "password = sEcReT\n", "no user in it" },
		{ "user = u\npassword = sEcReT\npasword = sEcReT\n",
		  ":3: unknown key 'pasword' (user, password, authzid)" },
		{ "user = u\npassword = sEcReT\npassword = sEcReT2\n", ":3: password is given twice" },
		{ "sEcReT\n", ":1: not a \"key = value\" line" },
	};
	size_t k;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct error why;

		cr_expect_null(client("PLAIN", cases[k].text, &why), "%s", cases[k].text);
		cr_expect(strstr(why.reason, cases[k].why) != NULL, "got \"%s\"", why.reason);
		cr_expect(strncmp(why.reason, "auth.file ", 10) == 0, "got \"%s\"", why.reason);
		cr_expect(strstr(why.reason, "sEcReT") == NULL, "the secret is in \"%s\"", why.reason);
	}
}

Test(auth, the_file_must_be_the_runners_alone)
{
	struct auth_config cfg;
	struct auth_client *a;
	struct error why;

	memset(&cfg, 0, sizeof cfg);
	cfg.mechs[0] = AUTH_MECH_PLAIN;
	cfg.nmechs = 1;
	cfg.file = tu_path(dir, "auth");
	tu_write(dir, "auth", "user = u\npassword = p\n", 22, 0644);
	cr_expect_null(auth_client_new(&cfg, geteuid(), &why));
	cr_expect(strstr(why.reason, "mode 0644 lets other users at the credentials; refused (chmod 0600)")
	    != NULL, "%s", why.reason);
	chmod(cfg.file, 0600);
	cr_expect_null(auth_client_new(&cfg, geteuid() + 1, &why), "another owner");
	cr_expect(strstr(why.reason, "not by the runner's user") != NULL, "%s", why.reason);
	a = auth_client_new(&cfg, geteuid(), &why);
	cr_expect_not_null(a, "%s", why.reason);
	auth_client_free(a);
	cfg.file = tu_path(dir, "missing");
	cr_expect_null(auth_client_new(&cfg, geteuid(), &why));
	cr_expect(strstr(why.reason, "missing: No such file or directory") != NULL, "%s", why.reason);
}

Test(auth, mechanism_lists)
{
	enum auth_mech m[AUTH_MECHS_MAX];
	struct error why;
	size_t n;

	cr_assert(auth_mechs_parse("plain,Login EXTERNAL", m, AUTH_MECHS_MAX, &n, &why),
	    "%s", why.reason);
	cr_expect_eq(n, 3);
	cr_expect_eq(m[0], AUTH_MECH_PLAIN);
	cr_expect_eq(m[1], AUTH_MECH_LOGIN);
	cr_expect_eq(m[2], AUTH_MECH_EXTERNAL);
	cr_expect_not(auth_mechs_parse("", m, AUTH_MECHS_MAX, &n, &why));
	cr_expect_str_eq(why.reason, "no mechanism given");
	cr_expect_not(auth_mechs_parse("GSSAPI", m, AUTH_MECHS_MAX, &n, &why));
	cr_expect_str_eq(why.reason, "unknown mechanism \"GSSAPI\" (PLAIN, LOGIN, EXTERNAL)");
}
