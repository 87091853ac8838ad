/*
 * auth: SMTP AUTH for the client (RFC 4954): PLAIN (RFC 4616), LOGIN,
 * and EXTERNAL (RFC 4422 appendix A: the TLS client certificate).
 *
 * Contract
 * --------
 * - The credentials come from a file (auth.file in clientq.conf(5)) of
 *   "key = value" lines: user, password, and optionally authzid (whom
 *   to act for; default: the user).  auth_client_new reads it as the
 *   runner's user: opened without following a symbolic link, it must be
 *   a regular file owned by that user and neither readable nor writable
 *   by anyone else (0600 or 0400); otherwise it is refused, and the
 *   message says which rule it broke.
 * - The secrets live in this module's memory only: they are put on the
 *   wire (auth_start, auth_step: base64, into the caller's buffer) and
 *   nowhere else; nothing here logs, and nothing returned for a log or
 *   a message contains them.  auth_client_free wipes them.  (A core dump
 *   of the process would hold them, as it would hold the messages.)
 * - auth_choose picks the first configured mechanism the relay offers;
 *   EXTERNAL only when a client certificate is configured.  Whether AUTH
 *   may go over a connection without TLS (auth.cleartext) is the
 *   caller's decision (smtp.c), from auth_client_cleartext.
 */
#ifndef CQ_AUTH_H
#define CQ_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"
#include "util/strbuf.h"

enum auth_mech {
	AUTH_MECH_NONE,
	AUTH_MECH_PLAIN,
	AUTH_MECH_LOGIN,
	AUTH_MECH_EXTERNAL,
};

#define AUTH_MECHS_MAX 3

/* The auth.* settings; strings are the caller's. */
struct auth_config {
	const char *file;		/* NULL: no credentials */
	enum auth_mech mechs[AUTH_MECHS_MAX];	/* in order of preference;
						 * none: no AUTH */
	size_t nmechs;
	bool cleartext;			/* AUTH without TLS allowed */
};

/* auth_mechs_parse: "PLAIN LOGIN" (blanks or commas, any case, each at
 * most once); false and why otherwise. */
bool auth_mechs_parse(const char *s, enum auth_mech *mechs, size_t max, size_t *n,
    struct error *why);
const char *auth_mech_str(enum auth_mech m);
/* auth_needs_secret: PLAIN and LOGIN need a user and a password. */
bool auth_needs_secret(enum auth_mech m);

struct auth_client;

/* auth_client_new: cfg with no mechanism is no client (NULL, why
 * cleared: reason "").
 * A mechanism that needs a secret reads cfg->file, which must belong to
 * owner (see above). */
struct auth_client *auth_client_new(const struct auth_config *cfg, uid_t owner,
    struct error *why);
void auth_client_free(struct auth_client *a);
bool auth_client_cleartext(const struct auth_client *a);
/* auth_client_mechs: "PLAIN LOGIN", for messages. */
const char *auth_client_mechs(const struct auth_client *a);

/* auth_choose: the mechanism to use with a relay whose EHLO offered the
 * words offered ("LOGIN PLAIN CRAM-MD5"); AUTH_MECH_NONE when there is
 * none in common. */
enum auth_mech auth_choose(const struct auth_client *a, const char *offered,
    bool have_cert);

/* auth_start: the AUTH command line (no CRLF), with the initial
 * response of PLAIN and EXTERNAL. */
void auth_start(const struct auth_client *a, enum auth_mech m, struct strbuf *out);
/* auth_step: the answer (a base64 line) to the relay's step-th 334
 * challenge (step 1 first; challenge is the base64 text after "334 ");
 * false when the mechanism has nothing more to say. */
bool auth_step(const struct auth_client *a, enum auth_mech m, int step,
    const char *challenge, struct strbuf *out);

#endif
