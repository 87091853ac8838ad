#include "config.h"

#include "smtp/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/fileread.h"
#include "util/xalloc.h"

/* A private key larger than this is not a key. */
#define TLS_KEY_MAX (256 * 1024)

struct tls_client {
	const struct tls_config *cfg;
	SSL_CTX *ctx;		/* NULL until the first session (see tls.h) */
	bool store_loaded;	/* the CAs the chain is checked against */
};

struct tls_session {
	struct tls_client *t;
	SSL *ssl;
	bool done;		/* the handshake completed */
	bool broken;		/* a fatal error: no close_notify */
	bool refused;		/* the policy refused the certificate */
	char name[256];		/* checked against the certificate */
	/* The first complaint of the chain's verification. */
	int verr, vdepth;
	char vwhy[300];
	/* FINGERPRINT: what the relay's certificate had, when refused. */
	bool pin_mismatch;
	char got_cert[3 * TLS_PIN_LEN], got_key[3 * TLS_PIN_LEN];
};

void
tls_config_default(struct tls_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->policy = TLS_POLICY_MAY;
}

static const char *const tls_policy_names[] = {
	[TLS_POLICY_NONE] = "none",
	[TLS_POLICY_MAY] = "may",
	[TLS_POLICY_ENCRYPT] = "encrypt",
	[TLS_POLICY_VERIFY] = "verify",
	[TLS_POLICY_FINGERPRINT] = "fingerprint",
};

bool
tls_policy_parse(const char *s, enum tls_policy *p)
{
	size_t i;

	for (i = 0; i < sizeof tls_policy_names / sizeof tls_policy_names[0]; i++)
		if (strcasecmp(s, tls_policy_names[i]) == 0) {
			*p = (enum tls_policy)i;
			return true;
		}
	return false;
}

const char *
tls_policy_str(enum tls_policy p)
{
	if ((size_t)p < sizeof tls_policy_names / sizeof tls_policy_names[0])
		return tls_policy_names[p];
	return "unknown";
}

bool
tls_version_parse(const char *s, int *version)
{
	if (strcasecmp(s, "TLSv1.2") == 0)
		*version = TLS1_2_VERSION;
	else if (strcasecmp(s, "TLSv1.3") == 0)
		*version = TLS1_3_VERSION;
	else
		return false;
	return true;
}

static int
tls_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One pin: 64 hex digits, a colon allowed after each pair. */
static bool
tls_pin_parse1(const char *s, size_t len, struct tls_pin *pin)
{
	size_t i = 0, k = 0;

	if (len > 7 && strncasecmp(s, "sha256:", 7) == 0) {
		s += 7;
		len -= 7;
	}
	while (i < len) {
		int hi, lo;

		if (k == TLS_PIN_LEN || i + 1 >= len ||
		    (hi = tls_hexval((unsigned char)s[i])) < 0 ||
		    (lo = tls_hexval((unsigned char)s[i + 1])) < 0)
			return false;
		pin->sha256[k++] = (unsigned char)(hi << 4 | lo);
		i += 2;
		if (i < len && s[i] == ':') {
			if (i + 1 == len)
				return false;
			i++;
		}
	}
	return k == TLS_PIN_LEN;
}

bool
tls_pins_parse(const char *s, struct tls_pin *pins, size_t max, size_t *n,
    struct error *why)
{
	*n = 0;
	for (;;) {
		size_t len;

		s += strspn(s, " \t,");
		if (*s == '\0')
			break;
		len = strcspn(s, " \t,");
		if (*n == max) {
			error_set(why, 0, "more than %zu fingerprints", max);
			return false;
		}
		if (!tls_pin_parse1(s, len, &pins[*n])) {
			error_set(why, 0,
			    "\"%.*s\" is not a SHA-256 fingerprint (64 hex digits, colons allowed)",
			    (int)(len > 120 ? 120 : len), s);
			return false;
		}
		(*n)++;
		s += len;
	}
	if (*n == 0) {
		error_set(why, 0, "no fingerprint given");
		return false;
	}
	return true;
}

bool
tls_pin_match(const struct tls_pin *pins, size_t n, const unsigned char digest[TLS_PIN_LEN])
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(pins[i].sha256, digest, TLS_PIN_LEN) == 0)
			return true;
	return false;
}

void
tls_pin_format(const unsigned char digest[TLS_PIN_LEN], char out[3 * TLS_PIN_LEN])
{
	size_t i;

	for (i = 0; i < TLS_PIN_LEN; i++)
		snprintf(out + 3 * i, 4, "%02X%s", digest[i], i + 1 < TLS_PIN_LEN ? ":" : "");
}

/* ------------------------------------------------------- OpenSSL's words */

/* The reason of OpenSSL's latest error ("wrong version number"), and the
 * queue emptied: it is per thread, shared by every connection. */
static const char *
tls_ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r != NULL ? r : "unknown error";
}

/* A certificate name in RFC 2253 form ("CN=mx.example,O=Example"). */
static void
tls_name_str(const X509_NAME *nm, char *buf, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	buf[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, nm, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(b, buf, (int)size - 1)) > 0)
		buf[n] = '\0';
	BIO_free(b);
}

static void
tls_time_str(const ASN1_TIME *t, char *buf, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	snprintf(buf, size, "?");
	if (b == NULL)
		return;
	if (ASN1_TIME_print(b, t) && (n = BIO_read(b, buf, (int)size - 1)) > 0)
		buf[n] = '\0';
	BIO_free(b);
}

/* The names a certificate is for: its DNS and IP subjectAltNames, else
 * its subject's common name, comma-separated. */
static void
tls_cert_names(X509 *cert, char *buf, size_t size)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	size_t used = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char one[300];
		int n;

		if (g->type == GEN_DNS) {
			const ASN1_IA5STRING *s = g->d.dNSName;

			snprintf(one, sizeof one, "%.*s", ASN1_STRING_length(s) > 255 ? 255 :
			    ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
		} else if (g->type == GEN_IPADD) {
			const ASN1_OCTET_STRING *s = g->d.iPAddress;
			int len = ASN1_STRING_length(s);

			if (len == 4)
				inet_ntop(AF_INET, ASN1_STRING_get0_data(s), one, sizeof one);
			else if (len == 16)
				inet_ntop(AF_INET6, ASN1_STRING_get0_data(s), one, sizeof one);
			else
				continue;
		} else {
			continue;
		}
		n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", one);
		if (n < 0 || (size_t)n >= size - used) {
			if (size > 4)
				snprintf(buf + size - 4, 4, "...");
			break;
		}
		used += (size_t)n;
	}
	GENERAL_NAMES_free(gens);
	if (used == 0) {
		char cn[256];

		if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName,
		    cn, sizeof cn) > 0)
			snprintf(buf, size, "%s", cn);
		else
			snprintf(buf, size, "no name");
	}
}

/* ------------------------------------------------------ verification */

/*
 * Called for each step of the chain's verification: the first failure
 * is kept, in words that say what was wrong with which certificate, for
 * the policy's refusal or the log's verify=FAIL.  Under verify the
 * failure ends the handshake (SSL_VERIFY_PEER); under may and encrypt it
 * is only noted (SSL_VERIFY_NONE).
 */
static int
tls_verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_session *s = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	X509 *cert = X509_STORE_CTX_get_current_cert(xs);
	char a[300], b[100];
	int err;

	if (ok || s == NULL || s->verr != 0)
		return ok;
	err = X509_STORE_CTX_get_error(xs);
	s->verr = err;
	s->vdepth = X509_STORE_CTX_get_error_depth(xs);
	a[0] = '\0';
	switch (err) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		if (cert != NULL)
			tls_cert_names(cert, a, sizeof a);
		snprintf(s->vwhy, sizeof s->vwhy, "%s (wanted %s, got %s)",
		    X509_verify_cert_error_string(err), s->name, a);
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		if (cert != NULL) {
			tls_cert_names(cert, a, sizeof a);
			tls_time_str(err == X509_V_ERR_CERT_HAS_EXPIRED ? X509_get0_notAfter(cert) :
			    X509_get0_notBefore(cert), b, sizeof b);
		}
		snprintf(s->vwhy, sizeof s->vwhy, "%s (%s, %s %s)",
		    X509_verify_cert_error_string(err), a,
		    err == X509_V_ERR_CERT_HAS_EXPIRED ? "notAfter" : "notBefore",
		    cert != NULL ? b : "?");
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		if (cert != NULL)
			tls_name_str(X509_get_issuer_name(cert), a, sizeof a);
		snprintf(s->vwhy, sizeof s->vwhy, "%s (issuer %s)",
		    X509_verify_cert_error_string(err), a[0] ? a : "unknown");
		break;
	default:
		if (cert != NULL)
			tls_name_str(X509_get_subject_name(cert), a, sizeof a);
		snprintf(s->vwhy, sizeof s->vwhy, "%s (depth %d, %s)",
		    X509_verify_cert_error_string(err), s->vdepth, a);
		break;
	}
	return ok;
}

/* The SHA-256 of the certificate (DER) and of its public key: the whole
 * SubjectPublicKeyInfo, algorithm included, as HPKP, DANE's SPKI(1)
 * SHA-256(1) and Postfix's public-key fingerprints hash it (and as
 * "openssl x509 -pubkey | openssl pkey -pubin -outform DER | openssl
 * dgst -sha256" prints it) -- not X509_pubkey_digest's bit string. */
static bool
tls_digests(X509 *cert, unsigned char c[TLS_PIN_LEN], unsigned char k[TLS_PIN_LEN])
{
	unsigned int n1 = 0, n2 = 0;
	unsigned char *der = NULL;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	bool ok = len > 0 && X509_digest(cert, EVP_sha256(), c, &n1) == 1 && n1 == TLS_PIN_LEN &&
	    EVP_Digest(der, (size_t)len, k, &n2, EVP_sha256(), NULL) == 1 && n2 == TLS_PIN_LEN;

	OPENSSL_free(der);
	return ok;
}

/*
 * FINGERPRINT: instead of the chain's verification, the relay's own
 * certificate against the pins (its digest, or its public key's, so that
 * a pin of the key survives a renewal with the same key).
 */
static int
tls_pin_cb(X509_STORE_CTX *xs, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_session *s = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	const struct tls_config *cfg = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	unsigned char c[TLS_PIN_LEN], k[TLS_PIN_LEN];

	if (s != NULL && leaf != NULL && tls_digests(leaf, c, k)) {
		if (tls_pin_match(cfg->pins, cfg->npins, c) ||
		    tls_pin_match(cfg->pins, cfg->npins, k)) {
			X509_STORE_CTX_set_error(xs, X509_V_OK);
			return 1;
		}
		s->pin_mismatch = true;
		tls_pin_format(c, s->got_cert);
		tls_pin_format(k, s->got_key);
	}
	X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
	return 0;
}

/* ------------------------------------------------------------ context */

static int
tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;	/* never a prompt on a terminal */
}

/* fileread's check of the key: not open to other users (its group may
 * read it: root:smmsp 0640 is how such keys are kept). */
static bool
tls_key_check(const char *path, const struct stat *st, void *arg, struct error *why)
{
	(void)arg;
	if (st->st_mode & (S_IRWXO | S_IWGRP)) {
		error_set(why, 0,
		    "tls.key %s: mode %04o lets other users read or change the key; refused (0600 or 0640)",
		    path, (unsigned)(st->st_mode & 07777));
		return false;
	}
	return true;
}

/*
 * The client key: opened without following a symbolic link, a regular
 * file that passes tls_key_check, read as the runner's user, wiped once
 * OpenSSL has it.
 */
static EVP_PKEY *
tls_load_key(const char *path, struct error *why)
{
	const struct fileread_opts o = { "tls.key", TLS_KEY_MAX, false, true, tls_key_check,
	    NULL };
	EVP_PKEY *pk = NULL;
	BIO *b = NULL;
	char *buf;
	size_t len;

	if (!fileread(path, &o, &buf, &len, why))
		return NULL;
	if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL ||
	    (pk = PEM_read_bio_PrivateKey(b, NULL, tls_no_passphrase, NULL)) == NULL)
		error_set(why, 0,
		    "tls.key %s: no private key in it (PEM; a key with a passphrase cannot be used): %s",
		    path, tls_ossl_reason());
	BIO_free(b);
	OPENSSL_cleanse(buf, len + 1);
	free(buf);
	return pk;
}

/* A path for OpenSSL: say "No such file" ourselves, in our words. */
static bool
tls_path_ok(const char *what, const char *path, bool dir, struct error *why)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		error_set(why, errno, "%s %s: %s", what, path, strerror(errno));
		return false;
	}
	if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
		error_set(why, 0, "%s %s: not a %s", what, path, dir ? "directory" : "file");
		return false;
	}
	return true;
}

static bool
tls_ctx_make(struct tls_client *t, struct error *why)
{
	const struct tls_config *cfg = t->cfg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		error_set(why, 0, "cannot make a TLS context: %s", tls_ossl_reason());
		return false;
	}
	t->ctx = ctx;
	if (!SSL_CTX_set_min_proto_version(ctx, cfg->min_version ? cfg->min_version :
	    TLS1_2_VERSION)) {
		error_set(why, 0, "tls.min-version: %s", tls_ossl_reason());
		return false;
	}
	/* SMTP frames itself (replies are lines, the message ends with a
	 * dot): an EOF without close_notify is only an EOF. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	    | SSL_OP_IGNORE_UNEXPECTED_EOF
#endif
	    );
	/* The write buffer is smtp's, which moves and grows between two
	 * calls; a write may end after some records. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (cfg->ciphers != NULL && SSL_CTX_set_cipher_list(ctx, cfg->ciphers) != 1) {
		error_set(why, 0, "tls.ciphers \"%s\": %s", cfg->ciphers, tls_ossl_reason());
		return false;
	}
	if (cfg->ciphersuites != NULL && SSL_CTX_set_ciphersuites(ctx, cfg->ciphersuites) != 1) {
		error_set(why, 0, "tls.ciphersuites \"%s\": %s", cfg->ciphersuites,
		    tls_ossl_reason());
		return false;
	}
	if (cfg->cert != NULL) {
		const char *kp = cfg->key != NULL ? cfg->key : cfg->cert;
		EVP_PKEY *pk;

		if (!tls_path_ok("tls.cert", cfg->cert, false, why))
			return false;
		if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1) {
			error_set(why, 0, "tls.cert %s: %s", cfg->cert, tls_ossl_reason());
			return false;
		}
		if ((pk = tls_load_key(kp, why)) == NULL)
			return false;
		if (SSL_CTX_use_PrivateKey(ctx, pk) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
			EVP_PKEY_free(pk);
			error_set(why, 0, "tls.key %s does not go with tls.cert %s: %s", kp,
			    cfg->cert, tls_ossl_reason());
			return false;
		}
		EVP_PKEY_free(pk);
	}
	if (cfg->cafile != NULL || cfg->capath != NULL) {
		if ((cfg->cafile != NULL &&
		    !tls_path_ok("tls.cafile", cfg->cafile, false, why)) ||
		    (cfg->capath != NULL &&
		    !tls_path_ok("tls.capath", cfg->capath, true, why)))
			return false;
		if (SSL_CTX_load_verify_locations(ctx, cfg->cafile, cfg->capath) != 1) {
			error_set(why, 0, "%s %s: no CA certificate could be loaded: %s",
			    cfg->cafile != NULL ? "tls.cafile" : "tls.capath",
			    cfg->cafile != NULL ? cfg->cafile : cfg->capath, tls_ossl_reason());
			return false;
		}
		t->store_loaded = true;
	}
	switch (cfg->policy) {
	case TLS_POLICY_VERIFY:
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_verify_cb);
		break;
	case TLS_POLICY_FINGERPRINT:
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_cert_verify_callback(ctx, tls_pin_cb, (void *)cfg);
		t->store_loaded = true;	/* no chain is looked at */
		break;
	default:
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, tls_verify_cb);
		break;
	}
	return true;
}

struct tls_client *
tls_client_new(const struct tls_config *cfg, struct error *why)
{
	struct tls_client *t;

	error_clear(why);
	if (cfg->policy == TLS_POLICY_NONE)
		return NULL;
	t = xcalloc(1, sizeof *t);
	t->cfg = cfg;
	/* Anything to load or check now?  (Else at the first STARTTLS:
	 * see tls.h.) */
	if ((cfg->cafile || cfg->capath || cfg->ciphers || cfg->ciphersuites || cfg->cert ||
	    cfg->key || cfg->min_version || cfg->policy != TLS_POLICY_MAY) &&
	    !tls_ctx_make(t, why)) {
		tls_client_free(t);
		return NULL;
	}
	return t;
}

void
tls_client_free(struct tls_client *t)
{
	if (t == NULL)
		return;
	/* Not a call into OpenSSL when it was never used: even clearing
	 * its error queue loads its error strings (a relay that never
	 * offered STARTTLS costs nothing, tls.h). */
	if (t->ctx != NULL) {
		SSL_CTX_free(t->ctx);
		ERR_clear_error();
	}
	free(t);
}

enum tls_policy
tls_client_policy(const struct tls_client *t)
{
	return t != NULL ? t->cfg->policy : TLS_POLICY_NONE;
}

bool
tls_client_has_cert(const struct tls_client *t)
{
	return t != NULL && t->cfg->cert != NULL;
}

/* ------------------------------------------------------------ sessions */

static bool
tls_is_address(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

struct tls_session *
tls_session_new(struct tls_client *t, int fd, const char *name, struct error *why)
{
	const struct tls_config *cfg = t->cfg;
	struct tls_session *s;

	if (t->ctx == NULL && !tls_ctx_make(t, why)) {
		SSL_CTX_free(t->ctx);
		t->ctx = NULL;
		return NULL;
	}
	if (!t->store_loaded && cfg->policy == TLS_POLICY_VERIFY) {
		/* verify without tls.cafile or tls.capath: OpenSSL's default
		 * CAs (some 40 ms to read, and 4 MB), once.  Not for may or
		 * encrypt, which only log the chain's verdict: without CAs of
		 * its own that is verify=FAIL, what sendmail's MSP logs with
		 * none configured, and the daemon stays small. */
		if (SSL_CTX_set_default_verify_paths(t->ctx) != 1)
			ERR_clear_error();	/* then every chain FAILs */
		t->store_loaded = true;
	}
	s = xcalloc(1, sizeof *s);
	s->t = t;
	snprintf(s->name, sizeof s->name, "%s", cfg->name != NULL ? cfg->name : name);
	ERR_clear_error();
	if ((s->ssl = SSL_new(t->ctx)) == NULL || SSL_set_fd(s->ssl, fd) != 1) {
		error_set(why, 0, "cannot start TLS: %s", tls_ossl_reason());
		tls_session_free(s);
		return NULL;
	}
	SSL_set_app_data(s->ssl, s);
	/* SNI names a host, never an address (RFC 6066 section 3). */
	if (!tls_is_address(s->name) && s->name[0] != '\0' &&
	    SSL_set_tlsext_host_name(s->ssl, s->name) != 1) {
		error_set(why, 0, "cannot send the name %s: %s", s->name, tls_ossl_reason());
		tls_session_free(s);
		return NULL;
	}
	if (cfg->policy != TLS_POLICY_FINGERPRINT) {
		bool ok;

		if (tls_is_address(s->name)) {
			ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), s->name) == 1;
		} else {
			SSL_set_hostflags(s->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			ok = SSL_set1_host(s->ssl, s->name) == 1;
		}
		if (!ok) {
			error_set(why, 0, "cannot check the name %s: %s", s->name,
			    tls_ossl_reason());
			tls_session_free(s);
			return NULL;
		}
	}
	SSL_set_connect_state(s->ssl);
	return s;
}

/* A broken session: why, in words (e from SSL_get_error, saved the
 * errno right after the call). */
static enum tls_result
tls_broken(struct tls_session *s, int ret, int e, int saved, struct error *why)
{
	s->broken = true;
	if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		error_set(why, 0, "%s", ret == 0 || saved == 0 ? "connection closed" :
		    strerror(saved));
	else if (e == SSL_ERROR_ZERO_RETURN)
		error_set(why, 0, "connection closed");
	else
		error_set(why, 0, "%s", tls_ossl_reason());
	ERR_clear_error();
	return TLS_FAILED;
}

enum tls_result
tls_handshake(struct tls_session *s, struct error *why)
{
	const struct tls_config *cfg = s->t->cfg;
	int r, e, saved;

	if (s->done)
		return TLS_OK;
	ERR_clear_error();
	errno = 0;
	r = SSL_connect(s->ssl);
	saved = errno;
	if (r == 1) {
		s->done = true;
		return TLS_OK;
	}
	e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		return TLS_WANT_READ;
	if (e == SSL_ERROR_WANT_WRITE)
		return TLS_WANT_WRITE;
	if (cfg->policy == TLS_POLICY_FINGERPRINT && s->pin_mismatch) {
		s->refused = s->broken = true;
		ERR_clear_error();
		error_set(why, 0,
		    "certificate fingerprint mismatch (certificate %s, public key %s; neither is pinned)",
		    s->got_cert, s->got_key);
		return TLS_FAILED;
	}
	if (cfg->policy == TLS_POLICY_VERIFY && s->verr != 0) {
		s->refused = s->broken = true;
		ERR_clear_error();
		error_set(why, 0, "certificate verify failed: %s", s->vwhy);
		return TLS_FAILED;
	}
	return tls_broken(s, r, e, saved, why);
}

bool
tls_policy_refused(const struct tls_session *s)
{
	return s->refused;
}

/* One SSL_read (into rbuf) or SSL_write (of wbuf), in tls.h's words. */
static enum tls_result
tls_rw(struct tls_session *s, void *rbuf, const void *wbuf, size_t len, size_t *n, struct error *why)
{
	int want = len > 1 << 30 ? 1 << 30 : (int)len, r, e, saved;

	*n = 0;
	ERR_clear_error();
	errno = 0;
	r = rbuf != NULL ? SSL_read(s->ssl, rbuf, want) : SSL_write(s->ssl, wbuf, want);
	saved = errno;
	if (r > 0) {
		*n = (size_t)r;
		return TLS_OK;
	}
	e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		return TLS_WANT_READ;
	if (e == SSL_ERROR_WANT_WRITE)
		return TLS_WANT_WRITE;
	if (rbuf != NULL && (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && r == 0 &&
	    ERR_peek_error() == 0))) {
		s->broken = true;	/* no close_notify back either */
		return TLS_EOF;
	}
	return tls_broken(s, r, e, saved, why);
}

enum tls_result
tls_read(struct tls_session *s, void *buf, size_t len, size_t *n, struct error *why)
{
	return tls_rw(s, buf, NULL, len, n, why);
}

enum tls_result
tls_write(struct tls_session *s, const void *buf, size_t len, size_t *n, struct error *why)
{
	return tls_rw(s, NULL, buf, len, n, why);
}

bool
tls_pending(const struct tls_session *s)
{
	return SSL_pending(s->ssl) > 0;
}

void
tls_session_info(const struct tls_session *s, struct tls_info *info)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(s->ssl);
	const char *v = SSL_get_version(s->ssl);
	long vr = SSL_get_verify_result(s->ssl);
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	X509 *cert = SSL_get0_peer_certificate(s->ssl);
#else
	X509 *cert = SSL_get_peer_certificate(s->ssl);
#endif

	memset(info, 0, sizeof *info);
	snprintf(info->version, sizeof info->version, "%s", v != NULL ? v : "UNKNOWN");
	if (c != NULL) {
		snprintf(info->cipher, sizeof info->cipher, "%s", SSL_CIPHER_get_name(c));
		info->bits = SSL_CIPHER_get_bits(c, &info->alg_bits);
	}
	if (cert == NULL) {
		info->verify = "NO";
	} else {
		unsigned char d[TLS_PIN_LEN], k[TLS_PIN_LEN];

		info->verify = vr == X509_V_OK ? "OK" : "FAIL";
		if (vr != X509_V_OK)
			snprintf(info->verify_why, sizeof info->verify_why, "%s",
			    s->vwhy[0] ? s->vwhy : X509_verify_cert_error_string(vr));
		tls_name_str(X509_get_subject_name(cert), info->subject, sizeof info->subject);
		if (tls_digests(cert, d, k))
			tls_pin_format(d, info->fingerprint);
	}
#if OPENSSL_VERSION_NUMBER < 0x30000000L
	X509_free(cert);
#endif
	ERR_clear_error();
}

void
tls_session_free(struct tls_session *s)
{
	if (s == NULL)
		return;
	if (s->ssl != NULL) {
		if (s->done && !s->broken) {
			/* close_notify, once: the socket is non-blocking
			 * and closes next, whatever the relay says. */
			ERR_clear_error();
			(void)SSL_shutdown(s->ssl);
		}
		SSL_free(s->ssl);
	}
	ERR_clear_error();
	free(s);
}
