/*
 * STARTTLS and AUTH in the SMTP engine (smtp.h) against a scripted peer
 * that speaks TLS with OpenSSL: the policies' verdicts, the second EHLO,
 * a stalled handshake, response injection, a reply longer than the read
 * buffer and a message larger than the socket over TLS, AUTH PLAIN and
 * LOGIN.  The certificates are made with the openssl command.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <criterion/criterion.h>

#include "smtp/auth.h"
#include "smtp/smtp.h"
#include "smtp/tls.h"
#include "testutil.h"

static char *dir;
static char ca[300], srvcert[300], srvkey[300];

/* A CA, and a server certificate for mx.test signed by it. */
static void
setup(void)
{
	char cmd[2048];

	signal(SIGPIPE, SIG_IGN);	/* as the runner does (tls.h) */
	dir = tu_tempdir();
	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	snprintf(srvcert, sizeof srvcert, "%s/srv.pem", dir);
	snprintf(srvkey, sizeof srvkey, "%s/srv.key", dir);
	snprintf(cmd, sizeof cmd,
	    "cd '%s' && exec >/dev/null 2>&1 && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
	    "-out ca.pem -days 30 -subj '/CN=Test CA' && "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key "
	    "-out srv.csr -subj /CN=mx.test && "
	    "printf 'subjectAltName=DNS:mx.test\\n' >ext && "
	    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 "
	    "-extfile ext -out srv.pem", dir);
	if (system(cmd) != 0)
		cr_skip_test("no openssl command");
}

static void
teardown(void)
{
	tu_rmtree(dir);
	free(dir);
}

TestSuite(smtp_tls, .init = setup, .fini = teardown, .timeout = 30);

/* ------------------------------------------------------------ the peer */

/*
 * A child that accepts one connection and plays a script: "S:" sends a
 * line (CRLF added), "R:" reads one and checks it, "T" does the server's
 * handshake (exit 6 if it fails), "t" tries it (a client that refuses
 * the certificate), "W" waits 3 s, "D" reads the message to its ".",
 * "E" expects the client to close.  Lines go over TLS after T.  Its exit
 * status says where it disagreed.
 */
static int peer_port;
static pid_t peer_pid;

struct pconn {
	int fd;
	SSL *ssl;
	char buf[16384];
	size_t len;
};

static ssize_t
p_read(struct pconn *p, void *b, size_t n)
{
	return p->ssl != NULL ? SSL_read(p->ssl, b, (int)n) : read(p->fd, b, n);
}

static void
p_write(struct pconn *p, const char *s, size_t n)
{
	if (p->ssl != NULL)
		(void)SSL_write(p->ssl, s, (int)n);
	else
		(void)!write(p->fd, s, n);
}

static bool
p_line(struct pconn *p, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(p->buf, '\n', p->len);
		ssize_t n;

		if (nl != NULL) {
			size_t l = (size_t)(nl - p->buf);

			snprintf(line, size, "%.*s", (int)(l > 0 && nl[-1] == '\r' ? l - 1 : l), p->buf);
			p->len -= l + 1;
			memmove(p->buf, nl + 1, p->len);
			return true;
		}
		if (p->len == sizeof p->buf)
			p->len = 0;	/* a long line: its start is dropped */
		n = p_read(p, p->buf + p->len, sizeof p->buf - p->len);
		if (n <= 0)
			return false;
		p->len += (size_t)n;
	}
}

static void
peer(const char *const *script)
{
	int ls = tu_listen_loopback(&peer_port);

	peer_pid = fork();
	cr_assert(peer_pid >= 0);
	if (peer_pid == 0) {
		static struct pconn p;
		char line[16384];
		SSL_CTX *ctx;

		p.fd = accept(ls, NULL, NULL);
		for (; *script != NULL; script++) {
			const char *s = *script;

			if (s[0] == 'S') {
				char out[8192];
				int n = snprintf(out, sizeof out, "%s\r\n", s + 2);

				p_write(&p, out, (size_t)n);
			} else if (s[0] == 'R') {
				if (!p_line(&p, line, sizeof line))
					_exit(2);
				if (strcmp(line, s + 2) != 0)
					_exit(3);
			} else if (s[0] == 'T' || s[0] == 't') {
				ctx = SSL_CTX_new(TLS_server_method());
				if (SSL_CTX_use_certificate_chain_file(ctx, srvcert) != 1 ||
				    SSL_CTX_use_PrivateKey_file(ctx, srvkey, SSL_FILETYPE_PEM) != 1)
					_exit(7);
				p.ssl = SSL_new(ctx);
				SSL_set_fd(p.ssl, p.fd);
				if (SSL_accept(p.ssl) != 1) {
					if (s[0] == 't')
						_exit(0);
					_exit(6);
				}
				if (s[0] == 't')
					_exit(8);	/* it should have refused */
			} else if (s[0] == 'W') {
				sleep(3);
			} else if (s[0] == 'D') {
				for (;;) {
					if (!p_line(&p, line, sizeof line))
						_exit(5);
					if (strcmp(line, ".") == 0)
						break;
				}
			} else if (s[0] == 'E') {
				if (p_line(&p, line, sizeof line))
					_exit(4);
			}
		}
		_exit(0);
	}
	close(ls);
}

static int
peer_status(void)
{
	return tu_child_status(peer_pid);
}

/* ------------------------------------------------------------ the client */

static struct tls_config tcfg;
static struct tls_client *tcl;
static struct auth_client *acl;
static struct smtp_security sec;

static void
policy(enum tls_policy p, const char *name)
{
	struct error why;

	tls_config_default(&tcfg);
	tcfg.policy = p;
	if (p == TLS_POLICY_VERIFY || p == TLS_POLICY_MAY)
		tcfg.cafile = ca;
	tcl = tls_client_new(&tcfg, &why);
	cr_assert(tcl != NULL || p == TLS_POLICY_NONE, "%s", why.reason);
	memset(&sec, 0, sizeof sec);
	sec.tls = tcl;
	sec.tls_name = name;
	sec.relay = "[mx.test]";
}

/* AUTH with the credentials u / p. */
static void
with_auth(const char *mechs, bool cleartext)
{
	struct auth_config cfg;
	struct error why;

	memset(&cfg, 0, sizeof cfg);
	cr_assert(auth_mechs_parse(mechs, cfg.mechs, AUTH_MECHS_MAX, &cfg.nmechs, &why));
	cfg.cleartext = cleartext;
	tu_write(dir, "auth", "user = u\npassword = p\n", 22, 0600);
	cfg.file = tu_path(dir, "auth");
	acl = auth_client_new(&cfg, geteuid(), &why);
	cr_assert_not_null(acl, "%s", why.reason);
	sec.auth = acl;
}

static struct smtp_conn *
start(const char *const *script, enum smtp_event *ev, int starttls_timeout)
{
	struct smtp_timeouts t;
	struct smtp_conn *c;
	struct error err;

	peer(script);
	smtp_timeouts_default(&t);
	t.initial = t.helo = t.mail = t.rcpt = t.datainit = t.datafinal = t.auth = 5;
	t.starttls = starttls_timeout;
	c = smtp_open("127.0.0.1", peer_port, "host.test", &t, &err);
	cr_assert_not_null(c, "%s", err.reason);
	smtp_secure(c, &sec);
	*ev = smtp_wait(c);
	return c;
}

static void
done(struct smtp_conn *c)
{
	smtp_free(c);
	tls_client_free(tcl);
	auth_client_free(acl);
	tcl = NULL;
	acl = NULL;
}

#define GREET_TLS \
	"S:220 mx.test ESMTP", "R:EHLO host.test", "S:250-mx.test", "S:250-PIPELINING", \
	"S:250 STARTTLS", "R:STARTTLS", "S:220 2.0.0 go ahead"
#define EHLO_AGAIN \
	"R:EHLO host.test", "S:250-mx.test", "S:250-PIPELINING", "S:250 SIZE 100000000"

struct body {
	size_t left;
};

static enum smtp_body
big_body(void *arg, struct strbuf *out)
{
	struct body *b = arg;
	static const char line[] = "0123456789012345678901234567890123456789012345678901234567890123456789\r\n";

	if (b->left == 0)
		return SMTP_BODY_END;
	strbuf_addstr(out, line);
	b->left--;
	return SMTP_BODY_MORE;
}

Test(smtp_tls, starttls_then_ehlo_again_then_the_message_over_tls)
{
	static const char *const script[] = {
		GREET_TLS, "T", EHLO_AGAIN,
		"R:MAIL FROM:<a@b>", "R:RCPT TO:<c@d>", "R:DATA",
		"S:250 ok", "S:250 ok", "S:354 go", "D", "S:250 2.0.0 queued",
		"R:QUIT", "S:221 bye", NULL };
	const char *rcpts[] = { "RCPT TO:<c@d>" };
	struct smtp_rcpt_result res[1];
	struct body b = { 30000 };	/* 2 MB: more than the socket takes */
	struct smtp_txn t;
	struct tls_info in;
	enum smtp_event ev;
	struct smtp_conn *c;

	policy(TLS_POLICY_VERIFY, "mx.test");
	c = start(script, &ev, 5);
	cr_assert_eq(ev, SMTP_EV_READY, "%s", smtp_error(c));
	cr_expect(smtp_tls_active(c));
	cr_assert(smtp_tls_info(c, &in));
	cr_expect_str_eq(in.verify, "OK");
	cr_expect(strncmp(in.version, "TLSv1.", 6) == 0, "%s", in.version);
	cr_expect_null(smtp_authenticated(c), "no AUTH configured");
	cr_expect_eq(smtp_extensions(c) & SMTP_EXT_STARTTLS, 0, "what it said in clear is forgotten");
	cr_expect_eq(smtp_size_limit(c), 100000000, "the second EHLO's");
	memset(&t, 0, sizeof t);
	t.mail_cmd = "MAIL FROM:<a@b>";
	t.rcpt_cmds = rcpts;
	t.nrcpt = 1;
	t.rcpt = res;
	t.body = big_body;
	t.body_arg = &b;
	cr_assert(smtp_submit(c, &t));
	cr_assert_eq(smtp_wait(c), SMTP_EV_TXN_DONE);
	cr_expect_eq(t.status, SMTP_OK, "%s", t.reply.full);
	cr_expect_str_eq(t.reply.full, "250 2.0.0 queued");
	smtp_quit(c);
	cr_expect_eq(smtp_wait(c), SMTP_EV_CLOSED);
	done(c);
	cr_expect_eq(peer_status(), 0);
}

Test(smtp_tls, may_goes_on_in_clear_when_starttls_is_refused)
{
	static const char *const script[] = {
		"S:220 mx.test ESMTP", "R:EHLO host.test", "S:250-mx.test", "S:250 STARTTLS",
		"R:STARTTLS", "S:454 4.7.0 TLS not available", "R:QUIT", "S:221 bye", NULL };
	struct tls_info in;
	enum smtp_event ev;
	struct smtp_conn *c;

	policy(TLS_POLICY_MAY, "mx.test");
	c = start(script, &ev, 5);
	cr_assert_eq(ev, SMTP_EV_READY, "%s", smtp_error(c));
	cr_expect_not(smtp_tls_active(c));
	cr_expect_not(smtp_tls_info(c, &in));
	smtp_quit(c);
	cr_expect_eq(smtp_wait(c), SMTP_EV_CLOSED);
	done(c);
	cr_expect_eq(peer_status(), 0, "no second EHLO: the session goes on as it was");
}

Test(smtp_tls, none_never_says_starttls)
{
	static const char *const script[] = {
		"S:220 mx.test ESMTP", "R:EHLO host.test", "S:250-mx.test", "S:250 STARTTLS",
		"R:QUIT", "S:221 bye", NULL };
	enum smtp_event ev;
	struct smtp_conn *c;

	policy(TLS_POLICY_NONE, "mx.test");
	cr_assert_null(tcl);
	c = start(script, &ev, 5);
	cr_assert_eq(ev, SMTP_EV_READY, "%s", smtp_error(c));
	smtp_quit(c);
	cr_expect_eq(smtp_wait(c), SMTP_EV_CLOSED);
	done(c);
	cr_expect_eq(peer_status(), 0);
}

/* What a refusal by the policy looks like to the caller. */
static void
expect_refused(struct smtp_conn *c, enum smtp_event ev, enum smtp_setup_kind kind,
    const char *why)
{
	const struct smtp_reply *r;

	cr_assert_eq(ev, SMTP_EV_FAILED);
	cr_expect_eq(smtp_setup_kind(c), kind);
	cr_expect_eq(smtp_setup_status(c, &r), SMTP_TEMPFAIL, "never a bounce");
	cr_expect_eq(smtp_awaiting(c), kind == SMTP_SETUP_TLS ? SMTP_PHASE_STARTTLS :
	    SMTP_PHASE_AUTH);
	cr_expect_str_eq(smtp_error(c), why);
}

Test(smtp_tls, encrypt_defers_when_starttls_is_not_offered)
{
	static const char *const script[] = {
		"S:220 mx.test ESMTP", "R:EHLO host.test", "S:250-mx.test", "S:250 PIPELINING",
		"R:QUIT", NULL };
	enum smtp_event ev;
	struct smtp_conn *c;

	policy(TLS_POLICY_ENCRYPT, "mx.test");
	c = start(script, &ev, 5);
	expect_refused(c, ev, SMTP_SETUP_TLS,
	    "TLS required (tls.policy = encrypt), but [mx.test] does not offer STARTTLS");
	done(c);
	cr_expect_eq(peer_status(), 0, "QUIT went out");
}

Test(smtp_tls, verify_refuses_a_certificate_for_another_name)
{
	static const char *const script[] = { GREET_TLS, "t", NULL };
	enum smtp_event ev;
	struct smtp_conn *c;

	policy(TLS_POLICY_VERIFY, "mailhub.example");
	c = start(script, &ev, 5);
	expect_refused(c, ev, SMTP_SETUP_TLS,
	    "certificate verify failed: hostname mismatch (wanted mailhub.example, got mx.test)");
	done(c);
	cr_expect_eq(peer_status(), 0, "the handshake was refused");
}

Test(smtp_tls, verify_refuses_a_chain_it_cannot_verify)
{
	static const char *const script[] = { GREET_TLS, "t", NULL };
	enum smtp_event ev;
	struct smtp_conn *c;
	struct error why;

	tls_config_default(&tcfg);
	tcfg.policy = TLS_POLICY_VERIFY;
	tcfg.cafile = srvcert;	/* not the CA */
	tcl = tls_client_new(&tcfg, &why);
	cr_assert_not_null(tcl, "%s", why.reason);
	memset(&sec, 0, sizeof sec);
	sec.tls = tcl;
	sec.tls_name = "mx.test";
	c = start(script, &ev, 5);
	expect_refused(c, ev, SMTP_SETUP_TLS,
	    "certificate verify failed: unable to get local issuer certificate (issuer CN=Test CA)");
	done(c);
	cr_expect_eq(peer_status(), 0);
}

/* The server certificate's digest, or its public key's. */
static void
digest(bool key, unsigned char d[TLS_PIN_LEN])
{
	FILE *fp = fopen(srvcert, "r");
	X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
	unsigned int n;

	cr_assert_not_null(x);
	if (key) {
		unsigned char *der = NULL;
		int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);

		EVP_Digest(der, (size_t)len, d, &n, EVP_sha256(), NULL);
		OPENSSL_free(der);
	} else {
		X509_digest(x, EVP_sha256(), d, &n);
	}
	X509_free(x);
	fclose(fp);
}

static void
pinned(bool key, bool right)
{
	struct error why;

	tls_config_default(&tcfg);
	tcfg.policy = TLS_POLICY_FINGERPRINT;
	digest(key, tcfg.pins[0].sha256);
	if (!right)
		tcfg.pins[0].sha256[5] ^= 0x40;
	tcfg.npins = 1;
	tcl = tls_client_new(&tcfg, &why);
	cr_assert_not_null(tcl, "%s", why.reason);
	memset(&sec, 0, sizeof sec);
	sec.tls = tcl;
	sec.tls_name = "anything.example";	/* names are not looked at */
}

Test(smtp_tls, fingerprint_of_the_certificate_or_of_its_key)
{
	static const char *const script[] = { GREET_TLS, "T", EHLO_AGAIN, "R:QUIT", NULL };
	enum smtp_event ev;
	struct smtp_conn *c;
	int k;

	for (k = 0; k < 2; k++) {
		pinned(k == 1, true);
		c = start(script, &ev, 5);
		cr_assert_eq(ev, SMTP_EV_READY, "%s pin: %s", k ? "key" : "certificate",
		    smtp_error(c));
		cr_expect(smtp_tls_active(c));
		smtp_quit(c);
		(void)smtp_wait(c);
		done(c);
		cr_expect_eq(peer_status(), 0);
	}
}

Test(smtp_tls, a_fingerprint_that_is_not_pinned_is_refused)
{
	static const char *const script[] = { GREET_TLS, "t", NULL };
	unsigned char d[TLS_PIN_LEN], k[TLS_PIN_LEN];
	char want[400], dc[3 * TLS_PIN_LEN], kc[3 * TLS_PIN_LEN];
	enum smtp_event ev;
	struct smtp_conn *c;

	pinned(false, false);
	digest(false, d);
	digest(true, k);
	tls_pin_format(d, dc);
	tls_pin_format(k, kc);
	snprintf(want, sizeof want,
	    "certificate fingerprint mismatch (certificate %s, public key %s; neither is pinned)",
	    dc, kc);
	c = start(script, &ev, 5);
	expect_refused(c, ev, SMTP_SETUP_TLS, want);
	done(c);
	cr_expect_eq(peer_status(), 0);
}

Test(smtp_tls, a_handshake_that_stalls_times_out_as_sendmail_says_it)
{
	static const char *const script[] = { GREET_TLS, "W", NULL };
	struct timespec t0, t1;
	enum smtp_event ev;
	struct smtp_conn *c;
	double took;

	policy(TLS_POLICY_MAY, "mx.test");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	c = start(script, &ev, 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	expect_refused(c, ev, SMTP_SETUP_TLS, "454 4.7.0 TLS handshake failed.");
	cr_expect(took >= 0.9 && took < 2.5, "Timeout.starttls of 1 s: took %.2f s", took);
	done(c);
	kill(peer_pid, SIGKILL);
	peer_status();
}

Test(smtp_tls, what_comes_with_the_220_is_refused)
{
	/* A man in the middle's injection: a reply sent in clear with the
	 * 220, to be read as if it came over TLS. */
	static const char *const script[] = {
		"S:220 mx.test ESMTP", "R:EHLO host.test", "S:250-mx.test", "S:250 STARTTLS",
		"R:STARTTLS", "S:220 go\r\n250-mx.test\r\n250 AUTH PLAIN", "W", NULL };
	enum smtp_event ev;
	struct smtp_conn *c;

	policy(TLS_POLICY_MAY, "mx.test");
	c = start(script, &ev, 5);
	expect_refused(c, ev, SMTP_SETUP_TLS, "454 4.7.0 STARTTLS failed.");
	done(c);
	kill(peer_pid, SIGKILL);
	peer_status();
}

Test(smtp_tls, a_reply_longer_than_the_read_buffer_over_tls)
{
	/* One TLS record with more than SMTP_LINE_MAX octets of reply: what
	 * OpenSSL holds decrypted must be read without a poll saying so. */
	static char big[9000];
	static const char *script[] = { GREET_TLS, "T", "R:EHLO host.test", big, "R:QUIT", NULL };
	enum smtp_event ev;
	struct smtp_conn *c;
	size_t n = 0;
	int i;

	n += (size_t)snprintf(big + n, sizeof big - n, "S:250-mx.test");
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(big + n, sizeof big - n,
		    "\r\n250-X-FILLER-%03d-abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz", i);
	snprintf(big + n, sizeof big - n, "\r\n250 SIZE 12345");
	policy(TLS_POLICY_MAY, "mx.test");
	c = start(script, &ev, 5);
	cr_assert_eq(ev, SMTP_EV_READY, "%s", smtp_error(c));
	cr_expect_eq(smtp_size_limit(c), 12345);
	smtp_quit(c);
	(void)smtp_wait(c);
	done(c);
	cr_expect_eq(peer_status(), 0);
}

Test(smtp_tls, auth_plain_over_tls)
{
	static const char *const script[] = {
		GREET_TLS, "T", "R:EHLO host.test", "S:250-mx.test", "S:250 AUTH LOGIN PLAIN",
		"R:AUTH PLAIN AHUAcA==", "S:235 2.7.0 ok", "R:QUIT", NULL };
	enum smtp_event ev;
	struct smtp_conn *c;

	policy(TLS_POLICY_MAY, "mx.test");
	with_auth("PLAIN LOGIN", false);
	c = start(script, &ev, 5);
	cr_assert_eq(ev, SMTP_EV_READY, "%s", smtp_error(c));
	cr_expect_str_eq(smtp_authenticated(c), "PLAIN");
	smtp_quit(c);
	(void)smtp_wait(c);
	done(c);
	cr_expect_eq(peer_status(), 0);
}

Test(smtp_tls, auth_refused_is_a_tempfail_with_the_relays_reply)
{
	static const char *const script[] = {
		GREET_TLS, "T", "R:EHLO host.test", "S:250-mx.test", "S:250 AUTH LOGIN",
		"R:AUTH LOGIN", "S:334 VXNlcm5hbWU6", "R:dQ==", "S:334 UGFzc3dvcmQ6", "R:cA==",
		"S:535 5.7.8 Authentication credentials invalid", "R:QUIT", NULL };
	const struct smtp_reply *r;
	enum smtp_event ev;
	struct smtp_conn *c;

	policy(TLS_POLICY_MAY, "mx.test");
	with_auth("PLAIN LOGIN", false);
	c = start(script, &ev, 5);
	expect_refused(c, ev, SMTP_SETUP_AUTH, "535 5.7.8 Authentication credentials invalid");
	smtp_setup_status(c, &r);
	cr_expect_eq(r->code, 535);
	done(c);
	cr_expect_eq(peer_status(), 0);
}

Test(smtp_tls, auth_is_not_sent_in_clear_unless_allowed)
{
	static const char *const no[] = {
		"S:220 mx.test ESMTP", "R:EHLO host.test", "S:250-mx.test", "S:250 AUTH PLAIN",
		"R:QUIT", NULL };
	static const char *const yes[] = {
		"S:220 mx.test ESMTP", "R:EHLO host.test", "S:250-mx.test", "S:250 AUTH PLAIN",
		"R:AUTH PLAIN AHUAcA==", "S:235 ok", "R:QUIT", NULL };
	enum smtp_event ev;
	struct smtp_conn *c;

	policy(TLS_POLICY_NONE, NULL);
	with_auth("PLAIN", false);
	c = start(no, &ev, 5);
	expect_refused(c, ev, SMTP_SETUP_AUTH,
	    "AUTH not sent: the connection to [mx.test] is not encrypted (auth.cleartext = no)");
	done(c);
	cr_expect_eq(peer_status(), 0);

	policy(TLS_POLICY_NONE, NULL);
	with_auth("PLAIN", true);
	c = start(yes, &ev, 5);
	cr_assert_eq(ev, SMTP_EV_READY, "%s", smtp_error(c));
	smtp_quit(c);
	(void)smtp_wait(c);
	done(c);
	cr_expect_eq(peer_status(), 0);
}

Test(smtp_tls, no_mechanism_in_common)
{
	static const char *const script[] = {
		GREET_TLS, "T", "R:EHLO host.test", "S:250-mx.test", "S:250 AUTH CRAM-MD5",
		"R:QUIT", NULL };
	enum smtp_event ev;
	struct smtp_conn *c;

	policy(TLS_POLICY_MAY, "mx.test");
	with_auth("PLAIN LOGIN", false);
	c = start(script, &ev, 5);
	expect_refused(c, ev, SMTP_SETUP_AUTH,
	    "no AUTH mechanism in common with [mx.test] (it offers CRAM-MD5; auth.mechanisms = PLAIN LOGIN)");
	done(c);
	cr_expect_eq(peer_status(), 0);
}
