/*
 * check-sysroot: paths under --root (a system image), bounded reads of
 * its files, and its users and groups from its own passwd and group
 * files (check-private.h).
 */
#include "config.h"

#include "check/check-private.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/qlist.h"
#include "util/fileread.h"
#include "util/xalloc.h"

/* ------------------------------------------------------------- paths */

char *
ck_rooted(const struct check_ctx *c, const char *path)
{
	return xasprintf("%s%s", c->root, path);
}

/* The ':'-separated list given, or the default one under the root. */
char **
ck_list(const struct check_ctx *c, const char *given, const char *dflt, size_t *n)
{
	char *copy = xstrdup(given != NULL ? given : dflt), *save = NULL, *t, **v = NULL;
	size_t cap = 0;

	*n = 0;
	for (t = strtok_r(copy, ":", &save); t != NULL; t = strtok_r(NULL, ":", &save)) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			v = xreallocarray(v, cap, sizeof *v);
		}
		v[(*n)++] = given != NULL ? xstrdup(t) : ck_rooted(c, t);
	}
	free(copy);
	return v;
}

void
ck_list_free(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

/* A file's lines, its first CK_FILE_MAX octets, or NULL (errno set) when
 * it cannot be read. */
static char *
ck_read_file(const char *path, size_t *len)
{
	const struct fileread_opts o = { NULL, CK_FILE_MAX, true, false, NULL, NULL };
	struct error err;
	size_t n;
	char *text;

	if (!fileread(path, &o, &text, &n, &err)) {
		errno = err.errnum != 0 ? err.errnum : EINVAL;
		return NULL;
	}
	if (len != NULL)
		*len = n;
	return text;
}

/* Calls fn for each line of the file at path (NUL-terminated, the
 * newline removed); false (errno set) when it cannot be read. */
bool
ck_each_line(const char *path, void (*fn)(void *, const char *, unsigned), void *arg)
{
	char *data = ck_read_file(path, NULL), *line;
	unsigned lineno = 0;
	const char *p;

	if (data == NULL)
		return false;
	/* Not strtok: it would skip empty lines and misnumber the rest. */
	for (p = data; *p != '\0';) {
		size_t k = strcspn(p, "\n");

		line = xstrndup(p, k);
		if (k > 0 && line[k - 1] == '\r')
			line[k - 1] = '\0';
		fn(arg, line, ++lineno);
		free(line);
		p += k;
		if (*p == '\n')
			p++;
	}
	free(data);
	return true;
}

/*
 * path, its symbolic links followed one by one (an absolute target inside
 * the root), into *out; chain gets "a -> b -> c".  False (errno set) when
 * something in the chain does not exist, or too many links.
 */
bool
ck_resolve(const struct check_ctx *c, const char *path, char **out, struct strbuf *chain)
{
	char *cur = xstrdup(path);
	int hops;

	strbuf_addstr(chain, path);
	for (hops = 0; hops < 32; hops++) {
		struct stat st;
		char target[PATH_MAX];
		ssize_t n;
		char *next;

		if (lstat(cur, &st) < 0) {
			free(cur);
			return false;
		}
		if (!S_ISLNK(st.st_mode)) {
			*out = cur;
			return true;
		}
		n = readlink(cur, target, sizeof target - 1);
		if (n < 0) {
			free(cur);
			return false;
		}
		target[n] = '\0';
		if (target[0] == '/') {
			next = ck_rooted(c, target);
		} else {
			const char *slash = strrchr(cur, '/');

			next = slash != NULL ? xasprintf("%.*s/%s", (int)(slash - cur), cur, target)
			    : xstrdup(target);
		}
		free(cur);
		cur = next;
		strbuf_addf(chain, " -> %s", cur);
	}
	free(cur);
	errno = ELOOP;
	return false;
}

/* ---------------------------------------------------------- accounts */

/*
 * A user or group, by name (name != NULL) or by id, from a passwd- or
 * group-style file (fields name:password:id[:gid]) or, without one, from
 * the system.  nameout (unless NULL) gets the name, *id the id, *gid the
 * user's group.
 */
static bool
ck_lookup(const struct check_ctx *c, bool group, const char *name, unsigned long id,
    char *nameout, size_t namesz, unsigned long *idout, unsigned long *gidout)
{
	const char *file = group ? c->cfg->group : c->cfg->passwd;
	char *fpath = NULL, *data, *line, *save = NULL;
	bool found = false;

	if (file == NULL && c->root[0] != '\0')
		file = fpath = ck_rooted(c, group ? "/etc/group" : "/etc/passwd");
	if (file == NULL) {
		if (group) {
			struct group *gr = name != NULL ? getgrnam(name) : getgrgid((gid_t)id);

			if (gr == NULL)
				return false;
			if (nameout != NULL)
				snprintf(nameout, namesz, "%s", gr->gr_name);
			if (idout != NULL)
				*idout = gr->gr_gid;
		} else {
			struct passwd *pw = name != NULL ? getpwnam(name) : getpwuid((uid_t)id);

			if (pw == NULL)
				return false;
			if (nameout != NULL)
				snprintf(nameout, namesz, "%s", pw->pw_name);
			if (idout != NULL)
				*idout = pw->pw_uid;
			if (gidout != NULL)
				*gidout = pw->pw_gid;
		}
		return true;
	}
	data = ck_read_file(file, NULL);
	free(fpath);
	if (data == NULL)
		return false;
	for (line = strtok_r(data, "\n", &save); line != NULL && !found;
	    line = strtok_r(NULL, "\n", &save)) {
		char *f[4] = { NULL, NULL, NULL, NULL }, *s = line, *end;
		unsigned long v, g = 0;
		int k;

		for (k = 0; k < 4 && s != NULL; k++) {
			f[k] = s;
			if ((s = strchr(s, ':')) != NULL)
				*s++ = '\0';
		}
		if (f[2] == NULL)
			continue;
		errno = 0;
		v = strtoul(f[2], &end, 10);
		if (errno != 0 || end == f[2] || *end != '\0')
			continue;
		if (!group && (f[3] == NULL || (g = strtoul(f[3], &end, 10), *end != '\0')))
			continue;
		if (name != NULL ? strcmp(f[0], name) != 0 : v != id)
			continue;
		found = true;
		if (nameout != NULL)
			snprintf(nameout, namesz, "%s", f[0]);
		if (idout != NULL)
			*idout = v;
		if (gidout != NULL)
			*gidout = g;
	}
	free(data);
	return found;
}

bool
ck_user_by_name(const struct check_ctx *c, const char *name, uid_t *uid, gid_t *gid)
{
	unsigned long u, g = 0;

	if (!ck_lookup(c, false, name, 0, NULL, 0, &u, &g))
		return false;
	*uid = (uid_t)u;
	if (gid != NULL)
		*gid = (gid_t)g;
	return true;
}

bool
ck_group_by_name(const struct check_ctx *c, const char *name, gid_t *gid)
{
	unsigned long g;

	if (!ck_lookup(c, true, name, 0, NULL, 0, &g, NULL))
		return false;
	*gid = (gid_t)g;
	return true;
}

/* "smmsp:smmsp", or numbers for ids without a name. */
void
ck_owner_str(const struct check_ctx *c, uid_t uid, gid_t gid, char *buf, size_t size)
{
	char u[64], g[64];

	if (!ck_lookup(c, false, NULL, uid, u, sizeof u, NULL, NULL))
		snprintf(u, sizeof u, "%lu", (unsigned long)uid);
	if (!ck_lookup(c, true, NULL, gid, g, sizeof g, NULL, NULL))
		snprintf(g, sizeof g, "%lu", (unsigned long)gid);
	snprintf(buf, size, "%s:%s", u, g);
}

void
ck_user_str(const struct check_ctx *c, uid_t uid, char *buf, size_t size)
{
	if (!ck_lookup(c, false, NULL, uid, buf, size, NULL, NULL))
		snprintf(buf, size, "%lu", (unsigned long)uid);
}

/* The accounts of the installation, for submitcf_run_as_value. */
static bool
ck_acc_user(void *arg, const char *name, uid_t id, uid_t *uid, gid_t *gid)
{
	unsigned long u, g = 0;

	if (!ck_lookup(arg, false, name, id, NULL, 0, &u, &g))
		return false;
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return true;
}

static bool
ck_acc_group(void *arg, const char *name, gid_t *gid)
{
	return ck_group_by_name(arg, name, gid);
}

/* RunAsUser's value ("user", "user:group", "uid:gid") as ids, the way
 * sendmail reads it, from the installation's accounts; why says what is
 * wrong otherwise. */
bool
ck_run_as(const struct check_ctx *c, const char *v, uid_t *uid, gid_t *gid,
    struct error *why)
{
	struct submitcf_accounts acc = { ck_acc_user, ck_acc_group, (void *)c };

	return submitcf_run_as_value(v, &acc, uid, gid, why);
}
