#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "smtp/tls.h"
#include "testutil.h"

static char *dir;

static void setup(void) { dir = tu_tempdir(); }
static void teardown(void) { tu_rmtree(dir); free(dir); }

TestSuite(tls, .init = setup, .fini = teardown);

Test(tls, policies)
{
	static const char *const names[] = { "none", "may", "encrypt", "verify", "fingerprint" };
	enum tls_policy p;
	size_t i;

	for (i = 0; i < 5; i++) {
		cr_assert(tls_policy_parse(names[i], &p), "%s", names[i]);
		cr_expect_eq((int)p, (int)i);
		cr_expect_str_eq(tls_policy_str(p), names[i], "round trip");
	}
	cr_expect(tls_policy_parse("VERIFY", &p), "any case");
	cr_expect_eq(p, TLS_POLICY_VERIFY);
	cr_expect_not(tls_policy_parse("dane", &p));
	cr_expect_not(tls_policy_parse("", &p));
	cr_expect_not(tls_policy_parse("mayb", &p));
}

Test(tls, versions)
{
	int v = 0;

	cr_expect(tls_version_parse("TLSv1.2", &v));
	cr_expect_eq(v, 0x0303);
	cr_expect(tls_version_parse("tlsv1.3", &v));
	cr_expect_eq(v, 0x0304);
	cr_expect_not(tls_version_parse("TLSv1.1", &v), "the floor is TLS 1.2");
	cr_expect_not(tls_version_parse("SSLv3", &v));
	cr_expect_not(tls_version_parse("1.3", &v));
}

#define HEX64 "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789ABCDEF"

Test(tls, fingerprints_parse_in_the_forms_openssl_prints)
{
	struct tls_pin pins[TLS_PINS_MAX];
	struct error why;
	char colons[200];
	size_t n, i;

	/* openssl x509 -fingerprint -sha256 prints "AB:CD:..."; openssl
	 * dgst prints bare hex; Postfix-style "sha256:" prefixes too. */
	for (i = 0; i < 32; i++)
		snprintf(colons + 3 * i, 4, "%.2s%s", HEX64 + 2 * i, i < 31 ? ":" : "");
	cr_assert(tls_pins_parse(HEX64, pins, TLS_PINS_MAX, &n, &why), "%s", why.reason);
	cr_expect_eq(n, 1);
	cr_expect_eq(pins[0].sha256[0], 0x01);
	cr_expect_eq(pins[0].sha256[31], 0xEF);
	cr_assert(tls_pins_parse(colons, pins + 1, 1, &n, &why), "%s", why.reason);
	cr_expect_eq(memcmp(pins[0].sha256, pins[1].sha256, TLS_PIN_LEN), 0, "colons are sugar");
	cr_assert(tls_pins_parse("sha256:" HEX64 ", SHA256:" HEX64 "\t" HEX64, pins, TLS_PINS_MAX,
	    &n, &why), "%s", why.reason);
	cr_expect_eq(n, 3, "a list, blanks or commas between");
}

Test(tls, bad_fingerprints_are_named)
{
	static const char *const bad[] = {
		"abcd",				/* too short */
		HEX64 "00",			/* too long */
		"0g23456789abcdef0123456789ABCDEF0123456789abcdef0123456789ABCDEF",
		"0:123456789abcdef0123456789ABCDEF0123456789abcdef0123456789ABCDEF",
		HEX64 ":",
		"md5:" HEX64,
		"",
		" , ",
	};
	struct tls_pin pins[TLS_PINS_MAX];
	struct error why;
	size_t n, i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_expect_not(tls_pins_parse(bad[i], pins, TLS_PINS_MAX, &n, &why),
		    "accepted \"%s\"", bad[i]);
	cr_expect_not(tls_pins_parse("abcd " HEX64, pins, TLS_PINS_MAX, &n, &why));
	cr_expect_str_eq(why.reason, "\"abcd\" is not a SHA-256 fingerprint (64 hex digits, colons allowed)");
	cr_expect_not(tls_pins_parse(HEX64 " " HEX64 " " HEX64, pins, 2, &n, &why));
	cr_expect_str_eq(why.reason, "more than 2 fingerprints");
	cr_expect_not(tls_pins_parse("", pins, 2, &n, &why));
	cr_expect_str_eq(why.reason, "no fingerprint given");
}

Test(tls, fingerprint_comparison)
{
	struct tls_pin pins[2];
	unsigned char d[TLS_PIN_LEN];
	struct error why;
	char text[3 * TLS_PIN_LEN];
	size_t n;

	cr_assert(tls_pins_parse(HEX64 " ff23456789abcdef0123456789ABCDEF0123456789abcdef0123456789ABCDEF",
	    pins, 2, &n, &why), "%s", why.reason);
	memcpy(d, pins[1].sha256, TLS_PIN_LEN);
	cr_expect(tls_pin_match(pins, 2, d), "the second pin matches");
	cr_expect_not(tls_pin_match(pins, 1, d), "not when only the first is pinned");
	d[TLS_PIN_LEN - 1] ^= 1;
	cr_expect_not(tls_pin_match(pins, 2, d), "one bit differs: no match");
	cr_expect_not(tls_pin_match(pins, 0, pins[0].sha256), "no pins, no match");
	/* The printed form parses back to the same digest. */
	tls_pin_format(pins[0].sha256, text);
	cr_expect_eq(strlen(text), 95);
	cr_expect_str_eq(text, "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:"
	    "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF");
	cr_assert(tls_pins_parse(text, pins + 1, 1, &n, &why), "%s", why.reason);
	cr_expect_eq(memcmp(pins[0].sha256, pins[1].sha256, TLS_PIN_LEN), 0);
}

/* A key and certificate made with the openssl command. */
static bool
make_cert(const char *name)
{
	char cmd[1024];

	snprintf(cmd, sizeof cmd,
	    "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout %s.key -out %s.pem -days 30 -subj /CN=%s >/dev/null 2>&1 && chmod 0600 %s.key",
	    dir, name, name, name, name);
	return system(cmd) == 0;
}

Test(tls, a_context_that_cannot_be_made_says_why)
{
	struct tls_config cfg;
	struct tls_client *t;
	struct error why;
	char cert[300], key[300], other[300];

	if (!make_cert("c") || !make_cert("d"))
		cr_skip_test("no openssl command");
	snprintf(cert, sizeof cert, "%s", tu_path(dir, "c.pem"));
	snprintf(key, sizeof key, "%s", tu_path(dir, "c.key"));
	snprintf(other, sizeof other, "%s", tu_path(dir, "d.key"));

	tls_config_default(&cfg);
	cfg.policy = TLS_POLICY_NONE;
	cr_expect_null(tls_client_new(&cfg, &why), "policy none: no context");
	cr_expect_str_eq(why.reason, "");

	tls_config_default(&cfg);
	t = tls_client_new(&cfg, &why);
	cr_assert_not_null(t, "%s", why.reason);
	cr_expect_eq(tls_client_policy(t), TLS_POLICY_MAY);
	cr_expect_not(tls_client_has_cert(t));
	tls_client_free(t);

	cfg.cafile = "/nonexistent/ca.pem";
	cr_expect_null(tls_client_new(&cfg, &why));
	cr_expect_str_eq(why.reason, "tls.cafile /nonexistent/ca.pem: No such file or directory");
	cfg.cafile = NULL;
	cfg.capath = cert;
	cr_expect_null(tls_client_new(&cfg, &why));
	cr_expect(strstr(why.reason, "c.pem: not a directory") != NULL, "%s", why.reason);
	cfg.capath = NULL;
	cfg.cafile = key;	/* a key, not a certificate */
	cr_expect_null(tls_client_new(&cfg, &why));
	cr_expect(strstr(why.reason, "c.key: no CA certificate could be loaded") != NULL, "%s", why.reason);
	cfg.cafile = NULL;

	cfg.ciphers = "NO-SUCH-CIPHER";
	cr_expect_null(tls_client_new(&cfg, &why));
	cr_expect(strncmp(why.reason, "tls.ciphers \"NO-SUCH-CIPHER\": ", 30) == 0, "%s", why.reason);
	cfg.ciphers = NULL;

	cfg.cert = cert;
	cfg.key = key;
	t = tls_client_new(&cfg, &why);
	cr_assert_not_null(t, "%s", why.reason);
	cr_expect(tls_client_has_cert(t));
	tls_client_free(t);
	cfg.key = other;
	cr_expect_null(tls_client_new(&cfg, &why), "another key");
	cr_expect(strstr(why.reason, "d.key does not go with tls.cert") != NULL, "%s", why.reason);
	chmod(key, 0604);
	cfg.key = key;
	cr_expect_null(tls_client_new(&cfg, &why));
	cr_expect(strstr(why.reason, "c.key: mode 0604 lets other users read or change the key; refused")
	    != NULL, "%s", why.reason);
	chmod(key, 0640);
	t = tls_client_new(&cfg, &why);
	cr_expect_not_null(t, "its group may read it: %s", why.reason);
	tls_client_free(t);
	cr_assert_eq(symlink(key, tu_path(dir, "link.key")), 0);
	cfg.key = tu_path(dir, "link.key");
	cr_expect_null(tls_client_new(&cfg, &why));
	cr_expect(strstr(why.reason, "link.key: is a symbolic link") != NULL, "%s", why.reason);
	cfg.key = NULL;		/* the key in the certificate's file: none */
	chmod(cert, 0600);
	cr_expect_null(tls_client_new(&cfg, &why));
	cr_expect(strstr(why.reason, "c.pem: no private key in it") != NULL, "%s", why.reason);
}

Test(tls, a_key_with_a_passphrase_is_refused_without_a_prompt)
{
	struct tls_config cfg;
	char cmd[1024];
	struct error why;

	snprintf(cmd, sizeof cmd,
	    "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-passout pass:secret -keyout p.key -out p.pem -days 30 -subj /CN=p </dev/null "
	    ">/dev/null 2>&1 && chmod 0600 p.key", dir);
	if (system(cmd) != 0)
		cr_skip_test("no openssl command");
	tls_config_default(&cfg);
	cfg.cert = tu_path(dir, "p.pem");
	cfg.key = tu_path(dir, "p.key");
	cr_expect_null(tls_client_new(&cfg, &why));
	cr_expect(strstr(why.reason, "a key with a passphrase cannot be used") != NULL, "%s", why.reason);
}
