/*
 * kv.c: the "key = value" file reader (kv.h).
 */
#include "config.h"

#include "util/kv.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileread.h"
#include "util/xalloc.h"

static void
kv_fail(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
kv_fail(struct error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_setv(err, 0, fmt, ap);
	va_end(ap);
}

static bool
kv_blank(int c)
{
	return c == ' ' || c == '\t';
}

bool
kv_parse(const char *text, size_t len, const char *path, kv_line_fn fn, void *arg,
    struct error *err)
{
	const char *p = text, *end = text + len;
	unsigned line = 0;

	if (memchr(text, '\0', len) != NULL) {
		kv_fail(err, "%s: a NUL byte in it; not a configuration file", path);
		return false;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl != NULL ? nl : end, *k, *ke, *v, *ve, *eq;
		char key[KV_LINE_MAX], val[KV_LINE_MAX];
		struct error why;

		line++;
		if ((size_t)(e - p) >= KV_LINE_MAX) {
			kv_fail(err, "%s:%u: line longer than %d octets", path, line,
			    KV_LINE_MAX - 1);
			return false;
		}
		if (e > p && e[-1] == '\r')
			e--;
		for (k = p; k < e && kv_blank(*k); k++)
			;
		p = nl != NULL ? nl + 1 : end;
		if (k == e || *k == '#')
			continue;
		eq = memchr(k, '=', (size_t)(e - k));
		if (eq == NULL) {
			kv_fail(err, "%s:%u: not a \"key = value\" line", path, line);
			return false;
		}
		for (ke = eq; ke > k && kv_blank(ke[-1]); ke--)
			;
		for (v = eq + 1; v < e && kv_blank(*v); v++)
			;
		for (ve = e; ve > v && kv_blank(ve[-1]); ve--)
			;
		if (ke == k || memchr(k, ' ', (size_t)(ke - k)) || memchr(k, '\t', (size_t)(ke - k))) {
			kv_fail(err, "%s:%u: not a \"key = value\" line", path, line);
			return false;
		}
		memcpy(key, k, (size_t)(ke - k));
		key[ke - k] = '\0';
		if (ve == v) {
			kv_fail(err, "%s:%u: no value for '%s'", path, line, key);
			return false;
		}
		memcpy(val, v, (size_t)(ve - v));
		val[ve - v] = '\0';
		if (!fn(arg, key, val, line, &why)) {
			kv_fail(err, "%s:%u: %s", path, line, why.reason);
			err->line = line;
			return false;
		}
	}
	return true;
}

/* The name of a user, for a message. */
static const char *
kv_user(uid_t uid, char *buf, size_t size)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		snprintf(buf, size, "%s (uid %lu)", pw->pw_name, (unsigned long)uid);
	else
		snprintf(buf, size, "uid %lu", (unsigned long)uid);
	return buf;
}

/* fileread's check: a file of secrets belongs to the runner's user and
 * is closed to everyone else; any other is not writable by others. */
static bool
kv_check(const char *path, const struct stat *st, void *arg, struct error *err)
{
	uid_t secret_owner = *(const uid_t *)arg;
	char a[300], b[300];

	if (secret_owner != (uid_t)-1) {
		if (st->st_uid != secret_owner) {
			kv_fail(err, "%s: owned by %s, not by the runner's user %s; refused",
			    path, kv_user(st->st_uid, a, sizeof a), kv_user(secret_owner, b, sizeof b));
			return false;
		}
		if (st->st_mode & (S_IRWXG | S_IRWXO)) {
			kv_fail(err,
			    "%s: mode %04o lets other users at the credentials; refused (chmod 0600)",
			    path, (unsigned)(st->st_mode & 07777));
			return false;
		}
	} else if (st->st_mode & S_IWOTH) {
		kv_fail(err, "%s: mode %04o lets any user change it; refused", path,
		    (unsigned)(st->st_mode & 07777));
		return false;
	}
	return true;
}

bool
kv_read(const char *path, uid_t secret_owner, char **text, size_t *len, bool *missing,
    struct error *err)
{
	const struct fileread_opts o = { NULL, KV_FILE_MAX, false, true, kv_check, &secret_owner };
	struct stat st;
	char a[300], b[300];

	if (missing != NULL)
		*missing = false;
	if (fileread(path, &o, text, len, err))
		return true;
	if (err->errnum == ENOENT && missing != NULL)
		*missing = true;
	/* A secret the runner cannot even open is most likely someone
	 * else's: say whose. */
	if (secret_owner != (uid_t)-1 && err->errnum == EACCES && lstat(path, &st) == 0 &&
	    st.st_uid != secret_owner)
		error_set(err, EACCES, "%s: owned by %s, not by the runner's user %s; refused",
		    path, kv_user(st.st_uid, a, sizeof a), kv_user(secret_owner, b, sizeof b));
	return false;
}
