/*
 * tls: STARTTLS for the SMTP client (OpenSSL 3), by a policy, on a
 * non-blocking socket.
 *
 * Contract
 * --------
 * - A policy says what the client insists on (clientq.conf(5), tls.*):
 *   NONE     never STARTTLS;
 *   MAY      STARTTLS whenever the relay offers it, as sendmail's MSP (its
 *            try_tls ruleset is empty): a refused STARTTLS goes on in
 *            clear, a failed handshake defers; the certificate is checked
 *            only to say so in the log (verify=OK or FAIL), against
 *            tls.cafile/tls.capath (without them: FAIL, as sendmail's MSP
 *            logs it with no CA settings);
 *   ENCRYPT  TLS or nothing (the message waits); the certificate is not
 *            judged;
 *   VERIFY   TLS with a certificate chain that verifies against the CA
 *            file or directory (OpenSSL's default store when neither is
 *            given) and names the relay (tls.name, else the relay's host
 *            name or address; RFC 6125 rules: no partial wildcards);
 *   FINGERPRINT  TLS with a certificate whose SHA-256 digest, or that of
 *            its public key (SubjectPublicKeyInfo), is one of the pins;
 *            chain and names are not looked at.
 *   TLS 1.2 is the floor (tls.min-version may raise it to 1.3).
 * - struct tls_client is the OpenSSL context of one configuration, made
 *   by tls_client_new.  Everything that can be wrong with the
 *   configuration (files, keys, cipher lists) is found there, at start
 *   or at a reload; except that with nothing to load (the default policy
 *   with no tls.* file or cipher setting) the context is made at the
 *   first STARTTLS only, so that a relay that never offers STARTTLS costs
 *   nothing.  OpenSSL's default CA store is read (once) for VERIFY alone.
 * - struct tls_session is one connection's TLS over the caller's
 *   non-blocking descriptor.  Nothing blocks: tls_handshake, tls_read and
 *   tls_write return TLS_WANT_READ or TLS_WANT_WRITE when the socket
 *   must be waited on (poll for POLLIN or POLLOUT and call again); the
 *   caller keeps the deadline (smtp.h's Timeout.starttls).  OpenSSL
 *   writes with write(2): the program ignores SIGPIPE.
 * - The policy's verdict is the handshake's: tls_handshake returns
 *   TLS_FAILED, and why in the caller's struct error, for a chain that does
 *   not verify, a name that does not match ("certificate verify failed:
 *   hostname mismatch (wanted mailhub.example, got mx.example.net)") or a
 *   fingerprint that is not pinned, so that nothing is said over a
 *   connection the policy refuses (not even the client certificate).
 * - tls_session_info: what was negotiated, for sendmail's log line.
 */
#ifndef CQ_TLS_H
#define CQ_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

enum tls_policy {
	TLS_POLICY_NONE,
	TLS_POLICY_MAY,
	TLS_POLICY_ENCRYPT,
	TLS_POLICY_VERIFY,
	TLS_POLICY_FINGERPRINT,
};

#define TLS_PIN_LEN 32		/* SHA-256 */
#define TLS_PINS_MAX 8

struct tls_pin {
	unsigned char sha256[TLS_PIN_LEN];
};

/* The tls.* settings (clientq.conf(5)); strings are the caller's and
 * outlive every client made from them.  NULL: not set. */
struct tls_config {
	enum tls_policy policy;
	const char *cafile, *capath;	/* CAs for verify (and for the log's
					 * verify= under may and encrypt) */
	const char *name;		/* the name to check and to send as
					 * SNI; NULL: the relay's */
	struct tls_pin pins[TLS_PINS_MAX];
	size_t npins;
	const char *ciphers;		/* TLS 1.2, OpenSSL's syntax */
	const char *ciphersuites;	/* TLS 1.3 */
	int min_version;		/* 0: TLS 1.2; else TLS1_2_VERSION or
					 * TLS1_3_VERSION */
	const char *cert, *key;		/* client certificate (PEM, with its
					 * chain) and key (default: cert) */
};

/* tls_config_default: policy may, nothing else. */
void tls_config_default(struct tls_config *cfg);

/* Parsers for the configuration; false for anything else. */
bool tls_policy_parse(const char *s, enum tls_policy *p);
const char *tls_policy_str(enum tls_policy p);
/* "TLSv1.2" or "TLSv1.3" (case-insensitive), as OpenSSL names them. */
bool tls_version_parse(const char *s, int *version);
/* tls_pins_parse: pins separated by blanks or commas, each 64 hex
 * digits, colons between the octets allowed, an optional "sha256:"
 * prefix; false and why (naming the bad one) otherwise. */
bool tls_pins_parse(const char *s, struct tls_pin *pins, size_t max, size_t *n,
    struct error *why);
/* tls_pin_match: is digest one of the pins? */
bool tls_pin_match(const struct tls_pin *pins, size_t n,
    const unsigned char digest[TLS_PIN_LEN]);
/* tls_pin_format: "AB:CD:..." (95 characters and a NUL). */
void tls_pin_format(const unsigned char digest[TLS_PIN_LEN], char out[3 * TLS_PIN_LEN]);

struct tls_client;

/* tls_client_new: the context for cfg (which must outlive it); NULL and
 * why (naming the file or setting) when it cannot be made.  Policy none
 * is not a client: NULL with why cleared (reason ""). */
struct tls_client *tls_client_new(const struct tls_config *cfg, struct error *why);
void tls_client_free(struct tls_client *t);
enum tls_policy tls_client_policy(const struct tls_client *t);
/* tls_client_has_cert: a client certificate is configured (AUTH
 * EXTERNAL can be offered). */
bool tls_client_has_cert(const struct tls_client *t);

enum tls_result {
	TLS_OK,			/* done (for read and write: n octets) */
	TLS_WANT_READ,		/* wait for POLLIN, then call again */
	TLS_WANT_WRITE,		/* wait for POLLOUT, then call again */
	TLS_EOF,		/* the peer closed (read) */
	TLS_FAILED,		/* broken; why says how */
};

struct tls_session;

/* tls_session_new: TLS on fd, the relay being name (a host name or an
 * address: for the certificate check and, a host name only, SNI; the
 * configuration's tls.name wins).  NULL and why when OpenSSL cannot make
 * it. */
struct tls_session *tls_session_new(struct tls_client *t, int fd, const char *name,
    struct error *why);
/* tls_handshake: drive the handshake; TLS_OK once it is done and the
 * policy is met. */
enum tls_result tls_handshake(struct tls_session *s, struct error *why);
/* tls_policy_refused: the last TLS_FAILED of tls_handshake was the
 * policy's verdict on the certificate (not a broken handshake). */
bool tls_policy_refused(const struct tls_session *s);
enum tls_result tls_read(struct tls_session *s, void *buf, size_t len, size_t *n,
    struct error *why);
enum tls_result tls_write(struct tls_session *s, const void *buf, size_t len,
    size_t *n, struct error *why);

/* tls_pending: decrypted octets wait to be read (no poll says so). */
bool tls_pending(const struct tls_session *s);

struct tls_info {
	char version[16];	/* "TLSv1.3" */
	char cipher[64];	/* "TLS_AES_256_GCM_SHA384" */
	int bits, alg_bits;	/* the cipher's secret and algorithm bits */
	const char *verify;	/* sendmail's words: "OK" (the policy's
				 * check, or under may/encrypt the chain and
				 * name, passed), "FAIL", "NO" (no
				 * certificate) */
	char verify_why[300];	/* under may/encrypt with FAIL: why */
	char subject[256];	/* the certificate's subject, one line */
	char fingerprint[3 * TLS_PIN_LEN];	/* its SHA-256, "AB:CD:..." */
};

void tls_session_info(const struct tls_session *s, struct tls_info *info);
/* tls_session_free: close_notify (once, without waiting) when the
 * session is sound, then free; the descriptor stays the caller's. */
void tls_session_free(struct tls_session *s);

#endif
