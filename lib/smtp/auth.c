#include "config.h"

#include "smtp/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util/kv.h"
#include "util/xalloc.h"

#define AUTH_FIELD_MAX 512	/* user, password, authzid */

struct auth_client {
	enum auth_mech mechs[AUTH_MECHS_MAX];
	size_t nmechs;
	bool cleartext;
	char names[64];		/* "PLAIN LOGIN" */
	/* The secrets (see auth.h). */
	char user[AUTH_FIELD_MAX], password[AUTH_FIELD_MAX], authzid[AUTH_FIELD_MAX];
	bool have_user, have_password;
};

static const char *const auth_names[] = {
	[AUTH_MECH_NONE] = "none",
	[AUTH_MECH_PLAIN] = "PLAIN",
	[AUTH_MECH_LOGIN] = "LOGIN",
	[AUTH_MECH_EXTERNAL] = "EXTERNAL",
};

const char *
auth_mech_str(enum auth_mech m)
{
	if ((size_t)m < sizeof auth_names / sizeof auth_names[0])
		return auth_names[m];
	return "unknown";
}

bool
auth_needs_secret(enum auth_mech m)
{
	return m == AUTH_MECH_PLAIN || m == AUTH_MECH_LOGIN;
}

bool
auth_mechs_parse(const char *s, enum auth_mech *mechs, size_t max, size_t *n,
    struct error *why)
{
	*n = 0;
	for (;;) {
		size_t len, i, k;
		enum auth_mech m = AUTH_MECH_NONE;

		s += strspn(s, " \t,");
		if (*s == '\0')
			break;
		len = strcspn(s, " \t,");
		for (i = AUTH_MECH_PLAIN; i <= AUTH_MECH_EXTERNAL; i++)
			if (strlen(auth_names[i]) == len && strncasecmp(s, auth_names[i], len) == 0)
				m = (enum auth_mech)i;
		if (m == AUTH_MECH_NONE) {
			error_set(why, 0, "unknown mechanism \"%.*s\" (PLAIN, LOGIN, EXTERNAL)",
			    (int)(len > 64 ? 64 : len), s);
			return false;
		}
		for (k = 0; k < *n; k++)
			if (mechs[k] == m) {
				error_set(why, 0, "%s is named twice", auth_names[m]);
				return false;
			}
		if (*n == max) {
			error_set(why, 0, "more than %zu mechanisms", max);
			return false;
		}
		mechs[(*n)++] = m;
		s += len;
	}
	if (*n == 0) {
		error_set(why, 0, "no mechanism given");
		return false;
	}
	return true;
}

/* The credentials file's lines. */
static bool
auth_file_line(void *arg, const char *key, const char *value, unsigned line, struct error *why)
{
	struct auth_client *a = arg;
	char *field;
	bool *have = NULL;

	if (strcasecmp(key, "user") == 0) {
		field = a->user;
		have = &a->have_user;
	} else if (strcasecmp(key, "password") == 0) {
		field = a->password;
		have = &a->have_password;
	} else if (strcasecmp(key, "authzid") == 0) {
		field = a->authzid;
	} else {
		/* The key only: the line may hold a secret. */
		error_set(why, 0, "unknown key '%.64s' (user, password, authzid)", key);
		return false;
	}
	if (strlen(value) >= AUTH_FIELD_MAX) {
		error_set(why, 0, "%s is longer than %d octets", key, AUTH_FIELD_MAX - 1);
		return false;
	}
	if (field[0] != '\0') {
		error_set(why, 0, "%s is given twice", key);
		return false;
	}
	snprintf(field, AUTH_FIELD_MAX, "%s", value);
	if (have != NULL)
		*have = true;
	return true;
}

struct auth_client *
auth_client_new(const struct auth_config *cfg, uid_t owner, struct error *why)
{
	struct auth_client *a;
	struct error err;
	bool secret = false, ok;
	size_t i, len;
	char *text;

	error_clear(why);
	if (cfg->nmechs == 0)
		return NULL;
	a = xcalloc(1, sizeof *a);
	a->nmechs = cfg->nmechs > AUTH_MECHS_MAX ? AUTH_MECHS_MAX : cfg->nmechs;
	memcpy(a->mechs, cfg->mechs, a->nmechs * sizeof a->mechs[0]);
	a->cleartext = cfg->cleartext;
	for (i = 0; i < a->nmechs; i++) {
		snprintf(a->names + strlen(a->names), sizeof a->names - strlen(a->names), "%s%s",
		    i ? " " : "", auth_names[a->mechs[i]]);
		secret = secret || auth_needs_secret(a->mechs[i]);
	}
	if (!secret)
		return a;
	if (cfg->file == NULL) {
		error_set(why, 0, "AUTH %s needs auth.file", a->names);
		goto fail;
	}
	if (!kv_read(cfg->file, owner, &text, &len, NULL, &err)) {
		error_set(why, err.errnum, "auth.file %s", err.reason);
		goto fail;
	}
	ok = kv_parse(text, len, cfg->file, auth_file_line, a, &err);
	if (!ok)
		error_set(why, 0, "auth.file %s", err.reason);
	else if (!a->have_user || !a->have_password)
		error_set(why, 0, "auth.file %s: no %s in it", cfg->file,
		    a->have_user ? "password" : "user");
	OPENSSL_cleanse(text, len);
	free(text);
	if (ok && a->have_user && a->have_password)
		return a;
fail:
	auth_client_free(a);
	return NULL;
}

void
auth_client_free(struct auth_client *a)
{
	if (a == NULL)
		return;
	OPENSSL_cleanse(a, sizeof *a);
	free(a);
}

bool
auth_client_cleartext(const struct auth_client *a)
{
	return a->cleartext;
}

const char *
auth_client_mechs(const struct auth_client *a)
{
	return a->names;
}

enum auth_mech
auth_choose(const struct auth_client *a, const char *offered, bool have_cert)
{
	size_t i;

	for (i = 0; i < a->nmechs; i++) {
		const char *name = auth_names[a->mechs[i]], *p = offered;
		size_t n = strlen(name);

		if (a->mechs[i] == AUTH_MECH_EXTERNAL && !have_cert)
			continue;
		for (;;) {
			size_t len;

			p += strspn(p, " \t");
			if (*p == '\0')
				break;
			len = strcspn(p, " \t");
			if (len == n && strncasecmp(p, name, n) == 0)
				return a->mechs[i];
			p += len;
		}
	}
	return AUTH_MECH_NONE;
}

/* Append base64 of data to out (no line breaks). */
static void
auth_b64(struct strbuf *out, const unsigned char *data, size_t len)
{
	size_t room = 4 * ((len + 2) / 3) + 1;
	unsigned char *b = xmalloc(room);
	int n = EVP_EncodeBlock(b, data, (int)len);

	strbuf_append(out, b, n > 0 ? (size_t)n : 0);
	OPENSSL_cleanse(b, room);
	free(b);
}

void
auth_start(const struct auth_client *a, enum auth_mech m, struct strbuf *out)
{
	strbuf_addf(out, "AUTH %s", auth_mech_str(m));
	if (m == AUTH_MECH_PLAIN) {
		/* authzid NUL authcid NUL passwd (RFC 4616), sent at once
		 * (RFC 4954's initial response). */
		size_t lz = strlen(a->authzid), lu = strlen(a->user), lp = strlen(a->password);
		unsigned char *msg = xmalloc(lz + lu + lp + 2);

		memcpy(msg, a->authzid, lz);
		msg[lz] = '\0';
		memcpy(msg + lz + 1, a->user, lu);
		msg[lz + 1 + lu] = '\0';
		memcpy(msg + lz + lu + 2, a->password, lp);
		strbuf_addch(out, ' ');
		auth_b64(out, msg, lz + lu + lp + 2);
		OPENSSL_cleanse(msg, lz + lu + lp + 2);
		free(msg);
	} else if (m == AUTH_MECH_EXTERNAL) {
		/* The identity is the certificate's; an authzid asks to act
		 * for someone, "=" for none (RFC 4954 section 4). */
		strbuf_addch(out, ' ');
		if (a->authzid[0] != '\0')
			auth_b64(out, (const unsigned char *)a->authzid, strlen(a->authzid));
		else
			strbuf_addch(out, '=');
	}
}

bool
auth_step(const struct auth_client *a, enum auth_mech m, int step, const char *challenge,
    struct strbuf *out)
{
	/* LOGIN asks for the user, then the password (the challenges'
	 * words vary between servers; their order does not). */
	if (m != AUTH_MECH_LOGIN || step < 1 || step > 2)
		return false;
	if (step == 1)
		auth_b64(out, (const unsigned char *)a->user, strlen(a->user));
	else
		auth_b64(out, (const unsigned char *)a->password, strlen(a->password));
	return true;
}
