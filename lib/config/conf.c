#include "config.h"

#include "config/conf.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/kv.h"
#include "config/submitcf.h"
#include "util/xalloc.h"

static void
conf_fail(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
conf_fail(struct error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_setv(err, 0, fmt, ap);
	va_end(ap);
}

bool
conf_seconds(const char *s, long long *secs)
{
	const char *p;

	for (p = s; *p >= '0' && *p <= '9'; p++)
		;
	if (p == s)
		return false;
	if (*p == '\0') {
		if (p - s > 12)
			return false;
		*secs = strtoll(s, NULL, 10);
		return true;
	}
	/* With units: sendmail's interval syntax (its bare number is
	 * minutes, ours seconds: a bare number never gets there). */
	return submitcf_interval(s, secs);
}

/* yes/no, true/false, on/off, 1/0. */
static bool
conf_bool(const char *s, bool *b)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*b = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*b = false;
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------ clientq.conf */

enum conf_key {
	K_CONNECTIONS,
	K_RETRY_MIN,
	K_RETRY_MAX,
	K_PROBE_MAX,
	K_CONTROL,
	K_TLS_POLICY,
	K_TLS_CAFILE,
	K_TLS_CAPATH,
	K_TLS_NAME,
	K_TLS_FINGERPRINT,
	K_TLS_CIPHERS,
	K_TLS_CIPHERSUITES,
	K_TLS_MIN_VERSION,
	K_TLS_CERT,
	K_TLS_KEY,
	K_AUTH_FILE,
	K_AUTH_MECHANISMS,
	K_AUTH_CLEARTEXT,
	K_N
};

static const char *const conf_names[K_N] = {
	[K_CONNECTIONS] = "daemon.connections",
	[K_RETRY_MIN] = "daemon.retry-min",
	[K_RETRY_MAX] = "daemon.retry-max",
	[K_PROBE_MAX] = "daemon.probe-max",
	[K_CONTROL] = "daemon.control",
	[K_TLS_POLICY] = "tls.policy",
	[K_TLS_CAFILE] = "tls.cafile",
	[K_TLS_CAPATH] = "tls.capath",
	[K_TLS_NAME] = "tls.name",
	[K_TLS_FINGERPRINT] = "tls.fingerprint",
	[K_TLS_CIPHERS] = "tls.ciphers",
	[K_TLS_CIPHERSUITES] = "tls.ciphersuites",
	[K_TLS_MIN_VERSION] = "tls.min-version",
	[K_TLS_CERT] = "tls.cert",
	[K_TLS_KEY] = "tls.key",
	[K_AUTH_FILE] = "auth.file",
	[K_AUTH_MECHANISMS] = "auth.mechanisms",
	[K_AUTH_CLEARTEXT] = "auth.cleartext",
};

_Static_assert(K_N == CONF_NKEYS, "CONF_NKEYS is the number of keys");

void
conf_init(struct conf *c)
{
	memset(c, 0, sizeof *c);
	tls_config_default(&c->tls);
}

void
conf_free(struct conf *c)
{
	size_t i;

	for (i = 0; i < sizeof c->strs / sizeof c->strs[0]; i++)
		free(c->strs[i]);
	free(c->path);
	free(c->control);
	memset(c, 0, sizeof *c);
}

bool
conf_is_key(const char *name)
{
	return strncasecmp(name, "daemon.", 7) == 0 || strncasecmp(name, "tls.", 4) == 0 ||
	    strncasecmp(name, "auth.", 5) == 0;
}

/* A string setting: kept in the conf; *slot points to it. */
static void
conf_str(struct conf *c, size_t i, const char **slot, const char *v)
{
	free(c->strs[i]);
	c->strs[i] = xstrdup(v);
	*slot = c->strs[i];
}

static bool
conf_path(const char *v, struct error *why)
{
	if (v[0] != '/') {
		error_set(why, 0, "'%s' is not an absolute path", v);
		return false;
	}
	return true;
}

static bool
conf_interval(const char *key, const char *v, long long *out, struct error *why)
{
	long long s;

	if (!conf_seconds(v, &s) || s < 1 || s > CONF_INTERVAL_MAX) {
		error_set(why, 0,
		    "%s = %s: not a time from 1 s to 1 day (seconds, or with units: 90s, 5m, 1h)",
		    key, v);
		return false;
	}
	*out = s;
	return true;
}

/* One key's value, checked and stored. */
static bool
conf_apply(struct conf *c, enum conf_key k, const char *v, struct error *why)
{
	const char *name = conf_names[k];
	struct tls_config *t = &c->tls;
	char *end;
	long long n;

	switch (k) {
	case K_CONNECTIONS:
		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || n < 1 || n > CONF_CONNECTIONS_MAX) {
			error_set(why, 0, "%s = %s: not a number from 1 to %d", name, v,
			    CONF_CONNECTIONS_MAX);
			return false;
		}
		c->connections = n;
		return true;
	case K_RETRY_MIN:
		return conf_interval(name, v, &c->retry_min, why);
	case K_RETRY_MAX:
		return conf_interval(name, v, &c->retry_max, why);
	case K_PROBE_MAX:
		return conf_interval(name, v, &c->probe_max, why);
	case K_CONTROL:
		if (strcmp(v, "none") != 0 && !conf_path(v, why))
			return false;
		free(c->control);
		c->control = xstrdup(v);
		return true;
	case K_TLS_POLICY:
		if (!tls_policy_parse(v, &t->policy)) {
			error_set(why, 0,
			    "%s = %s: not a policy (none, may, encrypt, verify, fingerprint)", name, v);
			return false;
		}
		return true;
	case K_TLS_CAFILE:
		if (!conf_path(v, why))
			return false;
		conf_str(c, k, &t->cafile, v);
		return true;
	case K_TLS_CAPATH:
		if (!conf_path(v, why))
			return false;
		conf_str(c, k, &t->capath, v);
		return true;
	case K_TLS_CERT:
		if (!conf_path(v, why))
			return false;
		conf_str(c, k, &t->cert, v);
		return true;
	case K_TLS_KEY:
		if (!conf_path(v, why))
			return false;
		conf_str(c, k, &t->key, v);
		return true;
	case K_TLS_NAME:
		if (strpbrk(v, " \t[]/") != NULL) {
			error_set(why, 0, "%s = %s: not a host name or address", name, v);
			return false;
		}
		conf_str(c, k, &t->name, v);
		return true;
	case K_TLS_FINGERPRINT: {
		struct error w;

		if (!tls_pins_parse(v, t->pins, TLS_PINS_MAX, &t->npins, &w)) {
			error_set(why, 0, "%s: %s", name, w.reason);
			return false;
		}
		return true;
	}
	case K_TLS_CIPHERS:
		conf_str(c, k, &t->ciphers, v);
		return true;
	case K_TLS_CIPHERSUITES:
		conf_str(c, k, &t->ciphersuites, v);
		return true;
	case K_TLS_MIN_VERSION:
		if (!tls_version_parse(v, &t->min_version)) {
			error_set(why, 0, "%s = %s: TLSv1.2 or TLSv1.3 (TLS 1.2 is the floor)",
			    name, v);
			return false;
		}
		return true;
	case K_AUTH_FILE:
		if (!conf_path(v, why))
			return false;
		conf_str(c, k, &c->auth.file, v);
		return true;
	case K_AUTH_MECHANISMS: {
		struct error w;

		if (!auth_mechs_parse(v, c->auth.mechs, AUTH_MECHS_MAX, &c->auth.nmechs, &w)) {
			error_set(why, 0, "%s: %s", name, w.reason);
			return false;
		}
		return true;
	}
	case K_AUTH_CLEARTEXT:
		if (!conf_bool(v, &c->auth.cleartext)) {
			error_set(why, 0, "%s = %s: yes or no", name, v);
			return false;
		}
		return true;
	case K_N:
		break;
	}
	return false;
}

static bool
conf_lookup(const char *key, enum conf_key *k)
{
	size_t i;

	for (i = 0; i < K_N; i++)
		if (strcasecmp(key, conf_names[i]) == 0) {
			*k = (enum conf_key)i;
			return true;
		}
	return false;
}

static bool
conf_file_line(void *arg, const char *key, const char *value, unsigned line, struct error *why)
{
	struct conf *c = arg;
	enum conf_key k;

	if (!conf_lookup(key, &k)) {
		error_set(why, 0, "unknown key '%s'", key);
		return false;
	}
	if (c->set[k]) {
		error_set(why, 0, "'%s' is given twice (first on line %u)", conf_names[k],
		    c->where[k]);
		return false;
	}
	if (!conf_apply(c, k, value, why))
		return false;
	c->set[k] = true;
	c->where[k] = line;
	return true;
}

bool
conf_load(struct conf *c, const char *path, bool required, struct error *err)
{
	char *text;
	size_t len;
	bool missing, ok;

	if (!kv_read(path, (uid_t)-1, &text, &len, &missing, err))
		return missing && !required;
	free(c->path);
	c->path = xstrdup(path);
	ok = kv_parse(text, len, path, conf_file_line, c, err);
	free(text);
	return ok;
}

bool
conf_set(struct conf *c, const char *arg, struct error *err)
{
	const char *eq = strchr(arg, '=');
	char key[200];
	struct error why;
	enum conf_key k;

	if (eq == NULL || eq == arg || (size_t)(eq - arg) >= sizeof key) {
		conf_fail(err, "-O %s: not key=value", arg);
		return false;
	}
	memcpy(key, arg, (size_t)(eq - arg));
	key[eq - arg] = '\0';
	if (!conf_lookup(key, &k)) {
		conf_fail(err, "-O %s: unknown key '%s' (see clientq.conf(5))", arg, key);
		return false;
	}
	if (eq[1] == '\0') {
		conf_fail(err, "-O %s: no value", arg);
		return false;
	}
	if (!conf_apply(c, k, eq + 1, &why)) {
		conf_fail(err, "-O %s: %s", arg, why.reason);
		return false;
	}
	c->set[k] = true;
	c->where[k] = 0;
	return true;
}

/* Where key k was set: "FILE:LINE" or "-O key". */
static void
conf_where(const struct conf *c, enum conf_key k, char *buf, size_t size)
{
	if (c->where[k] > 0 && c->path != NULL)
		snprintf(buf, size, "%s:%u", c->path, c->where[k]);
	else
		snprintf(buf, size, "-O %s", conf_names[k]);
}

static bool
conf_contradiction(struct conf *c, enum conf_key k, struct error *err, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static bool
conf_contradiction(struct conf *c, enum conf_key k, struct error *err, const char *fmt,
    ...)
{
	char where[400], what[400];
	va_list ap;

	conf_where(c, k, where, sizeof where);
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	conf_fail(err, "%s: %s", where, what);
	return false;
}

bool
conf_finish(struct conf *c, struct error *err)
{
	struct tls_config *t = &c->tls;
	struct auth_config *a = &c->auth;
	size_t i;

	if (c->retry_min > 0 && c->retry_max > 0 && c->retry_min > c->retry_max)
		return conf_contradiction(c, K_RETRY_MIN, err,
		    "daemon.retry-min (%lld s) is larger than daemon.retry-max (%lld s)",
		    c->retry_min, c->retry_max);
	if (t->policy == TLS_POLICY_FINGERPRINT && t->npins == 0)
		return conf_contradiction(c, K_TLS_POLICY, err,
		    "tls.policy = fingerprint needs tls.fingerprint");
	if (t->npins > 0 && t->policy != TLS_POLICY_FINGERPRINT)
		return conf_contradiction(c, K_TLS_FINGERPRINT, err,
		    "tls.fingerprint is used only with tls.policy = fingerprint (the policy is %s)",
		    tls_policy_str(t->policy));
	if (t->key != NULL && t->cert == NULL)
		return conf_contradiction(c, K_TLS_KEY, err, "tls.key without tls.cert");
	if (a->file != NULL && a->nmechs == 0) {
		/* A file of credentials alone: the usual two. */
		a->mechs[0] = AUTH_MECH_PLAIN;
		a->mechs[1] = AUTH_MECH_LOGIN;
		a->nmechs = 2;
	}
	for (i = 0; i < a->nmechs; i++) {
		if (auth_needs_secret(a->mechs[i]) && a->file == NULL)
			return conf_contradiction(c, K_AUTH_MECHANISMS, err,
			    "auth.mechanisms %s needs auth.file (the user and password)",
			    auth_mech_str(a->mechs[i]));
		if (a->mechs[i] == AUTH_MECH_EXTERNAL && t->cert == NULL)
			return conf_contradiction(c, K_AUTH_MECHANISMS, err,
			    "auth.mechanisms EXTERNAL needs tls.cert (the client certificate)");
	}
	if (a->nmechs > 0 && t->policy == TLS_POLICY_NONE && !a->cleartext)
		return conf_contradiction(c, c->set[K_AUTH_FILE] ? K_AUTH_FILE : K_AUTH_MECHANISMS,
		    err, "AUTH would never be used: tls.policy = none, and auth.cleartext is no");
	return true;
}

bool
conf_read(struct conf *c, const char *path, bool required, char *const *args,
    size_t nargs, bool *by_arg, struct error *err)
{
	size_t i;

	if (by_arg != NULL)
		*by_arg = false;
	conf_init(c);
	if (path != NULL && !conf_load(c, path, required, err))
		return false;
	/* The command line after the file: -O overrides it. */
	for (i = 0; i < nargs; i++)
		if (conf_is_key(args[i]) && !conf_set(c, args[i], err)) {
			if (by_arg != NULL)
				*by_arg = true;
			return false;
		}
	return conf_finish(c, err);
}

bool
conf_secure(const struct conf *c, uid_t owner, struct tls_client **tls,
    struct auth_client **auth, struct error *err)
{
	/* NULL with no reason: no TLS, or no AUTH, is configured. */
	*auth = NULL;
	*tls = tls_client_new(&c->tls, err);
	if (*tls == NULL && err->reason[0] != '\0')
		return false;
	*auth = auth_client_new(&c->auth, owner, err);
	if (*auth == NULL && err->reason[0] != '\0') {
		tls_client_free(*tls);
		*tls = NULL;
		return false;
	}
	return true;
}
