/*
 * check-sendmail: the checks of sendmail's own parts: submit.cf, the smmsp
 * account, the submission binary, the client queue and its files, the
 * MTA's queue (check-private.h).
 */
#include "config.h"

#include "check/check-private.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/qlist.h"
#include "util/xalloc.h"

/* ----------------------------------------------------------- submit.cf */

static const char CK_CF_BUILD[] =
    "build it from submit.mc with sendmail's cf files (Debian: sendmailconfig; "
    "FreeBSD and NetBSD: make -C /etc/mail install-submit-cf)";

void
ck_submit_cf(struct check_ctx *c)
{
	const char *name = "submit.cf";
	struct error err;
	struct stat st;
	char found[600], mode[8], owner[160];
	size_t i;

	if (c->cfg->suidroot) {
		if (lstat(c->cf_path, &st) < 0 && errno == ENOENT)
			ck_add(c, name, CHECK_OK, c->cf_path, "absent", "absent (sendmail is setuid root: no MSP)", NULL);
		else
			ck_add(c, name, CHECK_ERROR, c->cf_path, "present",
			    "absent (sendmail is setuid root: no MSP)",
			    "with --suidroot, sendmail must not find a submit.cf (it would submit through the MSP); "
			    "remove it, or drop --suidroot to check the MSP layout");
		return;
	}
	if (stat(c->cf_path, &st) < 0) {
		snprintf(found, sizeof found, "%s", strerror(errno));
		ck_add(c, name, CHECK_ERROR, c->cf_path, found, "a readable submit.cf", CK_CF_BUILD);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		ck_add(c, name, CHECK_ERROR, c->cf_path, "not a regular file", "a readable submit.cf", CK_CF_BUILD);
		return;
	}
	if (c->cfg->loaded_cf != NULL) {
		/* The runner's own, -O applied: what is checked is what runs. */
		c->cf = c->cfg->loaded_cf;
	} else {
		if ((c->own_cf = submitcf_load(c->cf_path, &err)) == NULL) {
			ck_add(c, name, CHECK_ERROR, c->cf_path, err.reason, "a readable submit.cf",
			    CK_CF_BUILD);
			return;
		}
		for (i = 0; i < c->cfg->noverrides; i++)
			if (!submitcf_set_option(c->own_cf, c->cfg->overrides[i], &err)) {
				ck_add(c, name, CHECK_ERROR, c->cf_path, err.reason, "-O Option=value",
				    NULL);
				submitcf_free(c->own_cf);
				c->own_cf = NULL;
				return;
			}
		c->cf = c->own_cf;
	}
	c->file_qdir = ck_dup(submitcf_file_option(c->cf, "QueueDirectory"));
	c->file_runas = ck_dup(submitcf_file_option(c->cf, "RunAsUser"));
	check_mode_str(st.st_mode, mode);
	ck_owner_str(c, st.st_uid, st.st_gid, owner, sizeof owner);
	snprintf(found, sizeof found, "%s %s", owner, mode);
	/* Whoever may write it chooses where every user's mail goes. */
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		ck_add(c, name, CHECK_ERROR, c->cf_path, found,
		    "owner root, not writable by group or others",
		    "whoever can write submit.cf decides where mail goes: chmod go-w it");
	/* The submission program reads it as the user who sends, with
	 * group smmsp. */
	else if (!(st.st_mode & S_IROTH) &&
	    !((st.st_mode & S_IRGRP) && c->have_smmsp_group && st.st_gid == c->smmsp_gid))
		ck_add(c, name, CHECK_ERROR, c->cf_path, found,
		    "readable by others (or by group smmsp)",
		    "the submission program cannot read it: chmod o+r it");
	else if (st.st_uid != 0)
		ck_add(c, name, CHECK_WARNING, c->cf_path, found,
		    "owner root, not writable by group or others",
		    "a file the MSP trusts should belong to root: chown root it");
	else
		ck_add(c, name, CHECK_OK, c->cf_path, found,
		    "owner root, not writable by group or others", NULL);
}

void
ck_cf_version(struct check_ctx *c)
{
	const char *v;
	char found[300];

	if (c->cf == NULL)
		return;
	v = submitcf_version(c->cf);
	if (v == NULL) {
		ck_add(c, "submit.cf-version", CHECK_ERROR, c->cf_path, "no V line",
		    "V10 (the configuration language of sendmail 8.10 and later)", CK_CF_BUILD);
		return;
	}
	snprintf(found, sizeof found, "V%s", v);
	if (strtol(v, NULL, 10) == 10 && isdigit((unsigned char)v[0]) &&
	    (v[2] == '\0' || v[2] == '/'))
		ck_add(c, "submit.cf-version", CHECK_OK, c->cf_path, found, "V10/...", NULL);
	else
		ck_add(c, "submit.cf-version", CHECK_ERROR, c->cf_path, found,
		    "V10/... (the configuration language of sendmail 8.10 and later)",
		    "rebuild submit.cf from submit.mc with the installed sendmail's cf files");
}

void
ck_cf_queuedir(struct check_ctx *c)
{
	const char *name = "submit.cf-queuedir";
	struct error err;
	const char *q;
	char found[PATH_MAX + 300];

	if (c->cf == NULL)
		return;
	if ((q = submitcf_queue_dir(c->cf, &err)) == NULL) {
		ck_add(c, name, CHECK_ERROR, c->cf_path, err.reason,
		    "O QueueDirectory=<one absolute directory>", CK_CF_BUILD);
		return;
	}
	c->qdir = q;
	c->qpath = ck_rooted(c, q);
	if (c->file_qdir == NULL || strcmp(c->file_qdir, q) != 0) {
		snprintf(found, sizeof found, "QueueDirectory=%s (from -O), submit.cf says %s", q,
		    c->file_qdir != NULL ? c->file_qdir : "nothing");
		ck_add(c, name, CHECK_WARNING, c->cf_path, found,
		    "the queue that submit.cf names (where the submission program writes)",
		    "run the runner without -O QueueDirectory, or change submit.cf");
		return;
	}
	snprintf(found, sizeof found, "QueueDirectory=%s", q);
	ck_add(c, name, CHECK_OK, c->cf_path, found, "one absolute directory", NULL);
}

void
ck_cf_runasuser(struct check_ctx *c)
{
	const char *name = "submit.cf-runasuser";
	const char *v;
	struct error why;
	char found[700], owner[160];
	uid_t uid;
	gid_t gid;

	if (c->cf == NULL)
		return;
	v = submitcf_option(c->cf, "RunAsUser");
	if (v == NULL || *v == '\0') {
		ck_add(c, name, CHECK_ERROR, c->cf_path, "no RunAsUser",
		    "RunAsUser=smmsp (FEATURE(msp) sets it)", CK_CF_BUILD);
		return;
	}
	if (!ck_run_as(c, v, &uid, &gid, &why)) {
		snprintf(found, sizeof found, "RunAsUser=%s: %s", v, why.reason);
		ck_add(c, name, CHECK_ERROR, c->cf_path, found, "RunAsUser=smmsp, an existing user",
		    "create the user, or correct RunAsUser in submit.mc and rebuild submit.cf");
		return;
	}
	ck_owner_str(c, uid, gid, owner, sizeof owner);
	snprintf(found, sizeof found, "RunAsUser=%s (%s, %lu:%lu)", v, owner,
	    (unsigned long)uid, (unsigned long)gid);
	if (uid == 0) {
		ck_add(c, name, CHECK_ERROR, c->cf_path, found, "RunAsUser=smmsp, not root",
		    "the runner would handle hostile queue files as root: set RunAsUser=smmsp");
		return;
	}
	c->have_owner = true;
	c->owner_uid = uid;
	c->owner_gid = gid;
	snprintf(c->owner_user, sizeof c->owner_user, "%.*s", (int)strcspn(owner, ":"), owner);
	snprintf(c->owner_group, sizeof c->owner_group, "%s", strchr(owner, ':') + 1);
	if (c->file_runas == NULL || strcmp(c->file_runas, v) != 0)
		ck_add(c, name, CHECK_WARNING, c->cf_path, found,
		    "submit.cf's own RunAsUser (the user the MSP's files belong to)",
		    "run the runner without -O RunAsUser, or change submit.cf");
	else if (c->have_smmsp_user && uid != c->smmsp_uid)
		ck_add(c, name, CHECK_WARNING, c->cf_path, found, "RunAsUser=smmsp",
		    "the MSP's files and queue belong to smmsp by convention; check that this user is meant");
	else
		ck_add(c, name, CHECK_OK, c->cf_path, found, "RunAsUser=smmsp", NULL);
}

/* ------------------------------------------------------- smmsp itself */

void
ck_accounts(struct check_ctx *c)
{
	char found[200];

	if (c->have_smmsp_user) {
		snprintf(found, sizeof found, "uid %lu", (unsigned long)c->smmsp_uid);
		ck_add(c, "smmsp-user", CHECK_OK, CK_MSP_NAME, found, "the user smmsp", NULL);
	} else {
		ck_add(c, "smmsp-user", CHECK_ERROR, CK_MSP_NAME, "no such user", "the user smmsp",
		    "create the system user smmsp (group smmsp, no login shell), as sendmail's packages do");
	}
	if (c->have_smmsp_group) {
		snprintf(found, sizeof found, "gid %lu", (unsigned long)c->smmsp_gid);
		ck_add(c, "smmsp-group", CHECK_OK, CK_MSP_NAME, found, "the group smmsp", NULL);
	} else {
		ck_add(c, "smmsp-group", CHECK_ERROR, CK_MSP_NAME, "no such group", "the group smmsp",
		    "create the system group smmsp, as sendmail's packages do");
	}
}

/* ------------------------------------------------------ the binary */

static char *
ck_sendmail_path(const struct check_ctx *c)
{
	const char *path;
	char *copy, *save = NULL, *d;

	if (c->cfg->sendmail != NULL)
		return xstrdup(c->cfg->sendmail);
	if (c->root[0] != '\0')
		return ck_rooted(c, "/usr/sbin/sendmail");
	path = c->cfg->path_env != NULL ? c->cfg->path_env : getenv("PATH");
	copy = xstrdup(path != NULL ? path : "");
	for (d = strtok_r(copy, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
		char *p = xasprintf("%s/sendmail", d);

		if (*d == '/' && access(p, X_OK) == 0) {
			free(copy);
			return p;
		}
		free(p);
	}
	free(copy);
	return xstrdup("/usr/sbin/sendmail");
}

/* The binary's owner and mode against the layout: a status, and the
 * problem (NULL when ok); *good gets the mode it should have. */
static enum check_status
ck_binary_judge(const struct check_ctx *c, const struct stat *sb, const char **problem,
    mode_t *good)
{
	mode_t perm = sb->st_mode & 07777;
	bool suid = c->cfg->suidroot;

	*problem = NULL;
	/* 2555 or 2755 (NetBSD's and Debian's): the owner's write bit as it is. */
	*good = (suid ? 04555 : 02555) | (perm & S_IWUSR);
	if (sb->st_uid != 0)
		*problem = "not owned by root";
	else if (suid && !(perm & S_ISUID))
		*problem = "not setuid";
	else if (!suid && (perm & S_ISUID))
		*problem = "setuid root (the MSP layout has it setgid smmsp)";
	else if (!suid && (!c->have_smmsp_group || sb->st_gid != c->smmsp_gid))
		*problem = "its group is not smmsp";
	else if (!suid && !(perm & S_ISGID))
		*problem = "not setgid";
	else if (perm & (S_IWGRP | S_IWOTH))
		*problem = "writable by group or others";
	if (*problem != NULL)
		return CHECK_ERROR;
	if (perm != *good) {
		*problem = "an unusual mode";
		return CHECK_WARNING;
	}
	return CHECK_OK;
}

/* --fix --fix-binary: owner root (group smmsp in the MSP layout), then
 * the mode (in this order: a change of owner clears the set-id bits). */
static void
ck_binary_fix(struct check_ctx *c, const char *file, struct stat *sb, mode_t good)
{
	const char *name = "sendmail-binary";
	gid_t g = c->cfg->suidroot ? sb->st_gid : c->smmsp_gid;
	char was[160], now[160], m1[8], m2[8];
	mode_t orig = sb->st_mode;	/* as it was: chown may clear set-id bits */
	int fd;
	bool ok = true;

	if (!c->cfg->suidroot && !c->have_smmsp_group) {
		ck_fix(c, name, file, false, "no group smmsp to give it");
		return;
	}
	if ((fd = open(file, O_RDONLY | O_NOFOLLOW | O_NOCTTY)) < 0) {
		ck_fix(c, name, file, false, "cannot open it: %s", strerror(errno));
		return;
	}
	if (sb->st_uid != 0 || sb->st_gid != g) {
		ck_owner_str(c, sb->st_uid, sb->st_gid, was, sizeof was);
		ck_owner_str(c, 0, g, now, sizeof now);
		ok = fchown(fd, 0, g) == 0;
		ck_fix(c, name, file, ok, "owner %s -> %s%s%s", was, now, ok ? "" : ": ",
		    ok ? "" : strerror(errno));
	}
	if (ok && fstat(fd, sb) == 0 && (sb->st_mode & 07777) != good) {
		check_mode_str(orig, m1);
		check_mode_str(good, m2);
		ok = fchmod(fd, good) == 0;
		ck_fix(c, name, file, ok, "mode %s -> %s%s%s", m1, m2, ok ? "" : ": ",
		    ok ? "" : strerror(errno));
	}
	(void)fstat(fd, sb);
	close(fd);
}

void
ck_binary(struct check_ctx *c)
{
	const char *name = "sendmail-binary", *problem, *expected, *advice;
	struct strbuf chain = STRBUF_INIT;
	char *start = ck_sendmail_path(c), *file = NULL;
	char found[PATH_MAX * 2 + 200], mode[8], owner[160];
	enum check_status st;
	struct stat sb;
	mode_t good;

	if (c->cfg->suidroot) {
		expected = "owner root, 4555 or 4755 (setuid root)";
		advice = "chown root and chmod 4555 the binary "
		    "(clientq-runner --check --suidroot --fix --fix-binary does)";
	} else {
		expected = "root:smmsp, 2555 or 2755 (setgid smmsp, not setuid)";
		advice = "chown root:smmsp and chmod 2555 the binary (clientq-runner --check --fix "
		    "--fix-binary does; Debian keeps its mode with dpkg-statoverride: "
		    "dpkg-statoverride --update --add root smmsp 2755 FILE)";
	}
	if (!ck_resolve(c, start, &file, &chain) || stat(file, &sb) < 0) {
		snprintf(found, sizeof found, "%s: %s", strbuf_str(&chain), strerror(errno));
		ck_add(c, name, CHECK_ERROR, start, found, expected,
		    "install sendmail (Debian: sendmail-bin), or name it with --sendmail");
	} else if (!S_ISREG(sb.st_mode)) {
		ck_add(c, name, CHECK_ERROR, strbuf_str(&chain), "not a regular file", expected, NULL);
	} else {
		st = ck_binary_judge(c, &sb, &problem, &good);
		if (st != CHECK_OK && c->cfg->fix && c->cfg->fix_binary) {
			ck_binary_fix(c, file, &sb, good);
			st = ck_binary_judge(c, &sb, &problem, &good);
		}
		check_mode_str(sb.st_mode, mode);
		ck_owner_str(c, sb.st_uid, sb.st_gid, owner, sizeof owner);
		snprintf(found, sizeof found, "%s %s%s%s", owner, mode, problem ? ", " : "",
		    problem ? problem : "");
		ck_add(c, name, st, strbuf_str(&chain), found, expected, advice);
	}
	strbuf_free(&chain);
	free(start);
	free(file);
}

/* ------------------------------------------------------- client queue */

/* Opens the queue directory for a repair: not through a symbolic link
 * (a link is repaired where it points, by hand). */
static int
ck_open_dir(struct check_ctx *c, const char *check)
{
	int fd = open(c->qpath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY);

	if (fd < 0)
		ck_fix(c, check, c->qpath, false, "cannot open it: %s%s", strerror(errno),
		    errno == ELOOP ? " (a symbolic link: repair the directory it names)" : "");
	return fd;
}

/* What is wrong with a client queue's mode, or NULL: owner and group
 * need rwx (the runner, and users submitting with group smmsp); others
 * nothing (the queue is mail, and any file that can be opened can be
 * locked to hold up the runner); no sticky bit (the runner must remove
 * delivered files that users own). */
static const char *
ck_queue_mode_problem(mode_t perm)
{
	if (perm & S_IRWXO)
		return "others have access";
	if ((perm & S_IRWXG) != S_IRWXG)
		return "group smmsp cannot read, write and search it";
	if ((perm & S_IRWXU) != S_IRWXU)
		return "its owner cannot read, write and search it";
	if (perm & S_ISVTX)
		return "sticky (the runner could not remove users' delivered files)";
	if (perm & S_ISUID)
		return "set-user-ID";
	return NULL;
}

void
ck_client_queue(struct check_ctx *c)
{
	const char *expected_owner = "RunAsUser, the user smmsp";
	char found[400], want[200], mode[8], owner[160];
	const char *problem;
	struct stat st;

	if (c->qpath == NULL)
		return;
	if (stat(c->qpath, &st) < 0 && errno == ENOENT && c->cfg->fix) {
		int fd;

		/* 0700 until it has its owner, group and mode. */
		if (!c->have_owner)
			ck_fix(c, "client-queue", c->qpath, false,
			    "cannot create it: no RunAsUser or smmsp to own it");
		else if (mkdir(c->qpath, 0700) < 0)
			ck_fix(c, "client-queue", c->qpath, false, "cannot create it: %s",
			    strerror(errno));
		else if ((fd = ck_open_dir(c, "client-queue")) >= 0) {
			bool ok = fchown(fd, c->owner_uid, c->owner_gid) == 0 &&
			    fchmod(fd, 0770) == 0;

			ck_fix(c, "client-queue", c->qpath, ok, "created%s %s:%s 0770%s%s",
			    ok ? "," : ", but could not make it", c->owner_user, c->owner_group,
			    ok ? "" : ": ", ok ? "" : strerror(errno));
			close(fd);
		}
	}
	if (stat(c->qpath, &st) < 0) {
		snprintf(found, sizeof found, "%s", strerror(errno));
		ck_add(c, "client-queue", CHECK_ERROR, c->qpath, found, "a directory",
		    "clientq-runner --check --fix creates it (owner RunAsUser, group smmsp, 0770)");
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		ck_add(c, "client-queue", CHECK_ERROR, c->qpath, "not a directory", "a directory",
		    "move it away and create the directory (clientq-runner --check --fix creates it)");
		return;
	}
	ck_add(c, "client-queue", CHECK_OK, c->qpath, "a directory", "a directory", NULL);
	if (!c->have_owner) {
		ck_add(c, "client-queue-owner", CHECK_ERROR, c->qpath, "cannot tell",
		    expected_owner, "no RunAsUser and no user smmsp to compare with");
		return;
	}

	/* Owner: the runner (RunAsUser) must write it without root. */
	if (st.st_uid != c->owner_uid && c->cfg->fix) {
		int fd = ck_open_dir(c, "client-queue-owner");
		char was[80];

		ck_user_str(c, st.st_uid, was, sizeof was);
		if (fd >= 0) {
			bool ok = fchown(fd, c->owner_uid, (gid_t)-1) == 0;

			ck_fix(c, "client-queue-owner", c->qpath, ok, "owner %s -> %s%s%s", was,
			    c->owner_user, ok ? "" : ": ", ok ? "" : strerror(errno));
			(void)fstat(fd, &st);
			close(fd);
		}
	}
	ck_user_str(c, st.st_uid, owner, sizeof owner);
	snprintf(want, sizeof want, "owner %s (%lu)", c->owner_user, (unsigned long)c->owner_uid);
	snprintf(found, sizeof found, "owner %s (%lu)", owner, (unsigned long)st.st_uid);
	ck_add(c, "client-queue-owner", st.st_uid == c->owner_uid ? CHECK_OK : CHECK_ERROR,
	    c->qpath, found, want, "chown it to RunAsUser (clientq-runner --check --fix does)");

	/* Group: the submission program writes with group smmsp. */
	if (st.st_gid != c->owner_gid && c->cfg->fix) {
		int fd = ck_open_dir(c, "client-queue-group");
		char was[160];

		ck_owner_str(c, st.st_uid, st.st_gid, was, sizeof was);
		if (fd >= 0) {
			bool ok = fchown(fd, (uid_t)-1, c->owner_gid) == 0;

			ck_fix(c, "client-queue-group", c->qpath, ok, "group %s -> %s%s%s",
			    strchr(was, ':') + 1, c->owner_group, ok ? "" : ": ",
			    ok ? "" : strerror(errno));
			(void)fstat(fd, &st);
			close(fd);
		}
	}
	ck_owner_str(c, st.st_uid, st.st_gid, owner, sizeof owner);
	snprintf(want, sizeof want, "group %s (%lu)", c->owner_group, (unsigned long)c->owner_gid);
	snprintf(found, sizeof found, "group %s (%lu)", strchr(owner, ':') + 1,
	    (unsigned long)st.st_gid);
	ck_add(c, "client-queue-group", st.st_gid == c->owner_gid ? CHECK_OK : CHECK_ERROR,
	    c->qpath, found, want, "chgrp it to smmsp (clientq-runner --check --fix does)");

	/* Mode: 0770, or 2770 as Debian makes it. */
	problem = ck_queue_mode_problem(st.st_mode & 07777);
	if (problem != NULL && c->cfg->fix) {
		int fd = ck_open_dir(c, "client-queue-mode");
		mode_t to = (st.st_mode & S_ISGID) | 0770;
		char m1[8], m2[8];

		check_mode_str(st.st_mode, m1);
		check_mode_str(to, m2);
		if (fd >= 0) {
			bool ok = fchmod(fd, to) == 0;

			ck_fix(c, "client-queue-mode", c->qpath, ok, "mode %s -> %s%s%s", m1, m2,
			    ok ? "" : ": ", ok ? "" : strerror(errno));
			(void)fstat(fd, &st);
			close(fd);
		}
		problem = ck_queue_mode_problem(st.st_mode & 07777);
	}
	check_mode_str(st.st_mode, mode);
	snprintf(found, sizeof found, "%s%s%s", mode, problem ? ", " : "", problem ? problem : "");
	ck_add(c, "client-queue-mode", problem ? CHECK_ERROR : CHECK_OK, c->qpath, found,
	    "0770 or 2770 (owner and group rwx, nothing for others)",
	    "chmod 0770 it (clientq-runner --check --fix does)");
}

struct ck_names {
	size_t n;
	struct strbuf shown;
};

static void
ck_names_add(struct ck_names *v, const char *prefix, const char *name)
{
	if (v->n < CK_SHOW_MAX)
		strbuf_addf(&v->shown, "%s%s%s", v->n ? ", " : "", prefix, name);
	v->n++;
}

/* The entries of one queue directory (prefix "qf/" for a subdirectory);
 * false (errno) when it cannot be read. */
static bool
ck_scan_queue(const char *dir, const char *prefix, bool top, size_t *nqueue,
    struct ck_names *stray, struct ck_names *lost)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return false;
	while ((de = readdir(d)) != NULL) {
		enum check_entry kind;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		kind = check_queue_entry(de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;	/* gone meanwhile: delivered */
		if (kind == CHECK_ENTRY_SUBDIR && top && S_ISDIR(st.st_mode))
			continue;	/* scanned by the caller */
		if (kind == CHECK_ENTRY_SENDMAIL && top && S_ISREG(st.st_mode))
			continue;
		if ((kind == CHECK_ENTRY_QUEUE || kind == CHECK_ENTRY_LOST) && !S_ISREG(st.st_mode))
			kind = CHECK_ENTRY_STRAY;	/* a FIFO or link under a queue name */
		if (kind == CHECK_ENTRY_QUEUE)
			(*nqueue)++;
		else if (kind == CHECK_ENTRY_LOST)
			ck_names_add(lost, prefix, de->d_name);
		else
			ck_names_add(stray, prefix, de->d_name);
	}
	closedir(d);
	return true;
}

void
ck_queue_files(struct check_ctx *c)
{
	static const char *const subs[] = { "qf", "df", "xf" };
	struct ck_names stray = { 0, STRBUF_INIT }, lost = { 0, STRBUF_INIT };
	char found[800];
	size_t nqueue = 0, i;
	struct stat st;

	if (c->qpath == NULL || stat(c->qpath, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	if (!ck_scan_queue(c->qpath, "", true, &nqueue, &stray, &lost)) {
		snprintf(found, sizeof found, "cannot read it: %s", strerror(errno));
		ck_add(c, "client-queue-files", CHECK_WARNING, c->qpath, found, "only queue files",
		    "run the check as root or as a member of group smmsp");
		return;
	}
	for (i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		char *sub = xasprintf("%s/%s", c->qpath, subs[i]), *pre = xasprintf("%s/", subs[i]);

		if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			(void)ck_scan_queue(sub, pre, false, &nqueue, &stray, &lost);
		free(sub);
		free(pre);
	}
	if (stray.n == 0)
		snprintf(found, sizeof found, "%zu queue files, nothing else", nqueue);
	else
		snprintf(found, sizeof found, "%zu other entr%s: %s%s", stray.n,
		    stray.n == 1 ? "y" : "ies", strbuf_str(&stray.shown),
		    stray.n > CK_SHOW_MAX ? ", ..." : "");
	ck_add(c, "client-queue-files", stray.n ? CHECK_WARNING : CHECK_OK, c->qpath, found,
	    "only queue files (qf, df, tf, Tf, xf, hf, Qf + a queue ID; the qf/, df/, xf/ "
	    "subdirectories; sm-client.pid, sm-client.st)",
	    "nothing in the queue should be anything else: look at them and move them out "
	    "(--fix never touches a file in the queue)");
	if (lost.n == 0)
		snprintf(found, sizeof found, "none");
	else
		snprintf(found, sizeof found, "%zu lost control file%s: %s%s", lost.n,
		    lost.n == 1 ? "" : "s", strbuf_str(&lost.shown),
		    lost.n > CK_SHOW_MAX ? ", ..." : "");
	ck_add(c, "client-queue-lost", lost.n ? CHECK_WARNING : CHECK_OK, c->qpath, found,
	    "no Qf files",
	    "sendmail or clientq-runner set these aside as unreadable or undeliverable (the log "
	    "says why): read them, then rename Qf back to qf to try again, or remove them and "
	    "their df yourself (--fix never does)");
	strbuf_free(&stray.shown);
	strbuf_free(&lost.shown);
}

/* ---------------------------------------------------------- MTA queue */

static void
ck_mta_one(struct check_ctx *c, const char *dir, const struct submitcf *mcf)
{
	const char *expected = "owner root (or sendmail.cf's RunAsUser or TrustedUser; Debian: "
	    "smmta), 0700 (Debian: 2750 with group smmsp), never writable by group or others";
	const char *problem = NULL;
	enum check_status st = CHECK_OK;
	char found[600], mode[8], owner[160], ownername[64];
	struct stat sb;
	mode_t perm;
	bool owner_ok;
	uid_t u;

	if (stat(dir, &sb) < 0) {
		snprintf(found, sizeof found, "%s (no local MTA queue)", strerror(errno));
		ck_add(c, "mta-queue", CHECK_OK, dir, found, expected, NULL);
		return;
	}
	if (!S_ISDIR(sb.st_mode)) {
		ck_add(c, "mta-queue", CHECK_ERROR, dir, "not a directory", expected, NULL);
		return;
	}
	perm = sb.st_mode & 07777;
	ck_user_str(c, sb.st_uid, ownername, sizeof ownername);
	owner_ok = sb.st_uid == 0 || strcmp(ownername, CK_DEBIAN_MTA_USER) == 0;
	if (mcf != NULL && !owner_ok) {
		const char *opts[2] = { submitcf_option(mcf, "RunAsUser"),
		    submitcf_option(mcf, "TrustedUser") };
		struct error why;
		gid_t g;
		int k;

		for (k = 0; k < 2 && !owner_ok; k++)
			owner_ok = opts[k] != NULL && ck_run_as(c, opts[k], &u, &g, &why) &&
			    u == sb.st_uid;
	}
	/* Whoever can write the MTA's queue makes the MTA, which runs as
	 * root, deliver what they like: gaining group smmsp must not give
	 * that. */
	if (c->have_smmsp_user && sb.st_uid == c->smmsp_uid)
		problem = "owned by smmsp";
	else if (!owner_ok)
		problem = "its owner is not root";
	else if (perm & (S_IWGRP | S_IWOTH))
		problem = "writable by group or others";
	else if (perm & S_IRWXO)
		problem = "others can read it";
	if (problem != NULL)
		st = CHECK_ERROR;
	else if ((perm & S_IRWXG) && !(c->have_smmsp_group && sb.st_gid == c->smmsp_gid)) {
		/* Debian lets group smmsp read it (for mailq); another
		 * group reading the mail is a choice to look at. */
		problem = "a group other than smmsp can read it";
		st = CHECK_WARNING;
	}
	check_mode_str(perm, mode);
	ck_owner_str(c, sb.st_uid, sb.st_gid, owner, sizeof owner);
	snprintf(found, sizeof found, "%s %s%s%s", owner, mode, problem ? ", " : "",
	    problem ? problem : "");
	ck_add(c, "mta-queue", st, dir, found, expected,
	    "chown root and chmod 0700 the MTA's queue (--fix leaves it to the MTA's package)");
}

void
ck_mta_queue(struct check_ctx *c)
{
	char *cfpath = c->cfg->sendmail_cf ? xstrdup(c->cfg->sendmail_cf)
	    : ck_rooted(c, "/etc/mail/sendmail.cf");
	struct submitcf *mcf = NULL;
	struct error err;
	char *dir;

	if (access(cfpath, F_OK) == 0 && (mcf = submitcf_load(cfpath, &err)) == NULL) {
		ck_add(c, "mta-queue", CHECK_WARNING, cfpath, err.reason, "a readable sendmail.cf",
		    "the MTA's queue was not checked");
		free(cfpath);
		return;
	}
	if (c->cfg->mta_queue != NULL) {
		dir = xstrdup(c->cfg->mta_queue);
	} else {
		const char *q = mcf != NULL ? submitcf_option(mcf, "QueueDirectory") : NULL;

		dir = ck_rooted(c, q != NULL && *q == '/' ? q : "/var/spool/mqueue");
	}
	if (strpbrk(dir, "*?[") != NULL) {
		glob_t g;
		size_t i;

		if (glob(dir, 0, NULL, &g) == 0) {
			for (i = 0; i < g.gl_pathc; i++)
				ck_mta_one(c, g.gl_pathv[i], mcf);
			globfree(&g);
		} else {
			ck_add(c, "mta-queue", CHECK_OK, dir, "no directory matches",
			    "owner root, 0700", NULL);
		}
	} else {
		ck_mta_one(c, dir, mcf);
	}
	free(dir);
	free(cfpath);
	submitcf_free(mcf);
}
