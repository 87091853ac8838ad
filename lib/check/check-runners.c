/*
 * check-runners: the checks of what else runs the client queue: cron
 * lines, Debian's sendmail.conf, systemd units, rc.conf, running
 * processes (check-private.h).
 */
#include "config.h"

#include "check/check-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/qlist.h"
#include "util/xalloc.h"

/* ------------------------------------------------------- other runners */

static const char CK_DEBIAN_OFF[] =
    "set MSP_MODE=\"None\" in /etc/mail/sendmail.conf and run sendmailconfig (or "
    "/usr/share/sendmail/update_conf), then restart sendmail (systemctl restart sendmail, "
    "or invoke-rc.d sendmail restart)";

struct ck_cron {
	struct check_ctx *c;
	const char *file;
	size_t found;
};

static void
ck_cron_line_cb(void *arg, const char *line, unsigned lineno)
{
	struct ck_cron *cc = arg;
	enum check_cron_kind k = check_cron_line(line);
	char found[400];

	if (k == CHECK_CRON_NONE)
		return;
	snprintf(found, sizeof found, "line %u: %.300s", lineno, line + strspn(line, " \t"));
	cc->found++;
	ck_add(cc->c, "other-runner-cron", CHECK_WARNING, cc->file, found,
	    "no cron job running the client queue (clientq-runner does)",
	    k == CHECK_CRON_DEBIAN
	    ? "Debian's sendmail keeps this line while MSP_MODE=Cron (editing it lasts until "
	      "sendmailconfig runs again): set MSP_MODE=\"None\" in /etc/mail/sendmail.conf and run "
	      "sendmailconfig (or /usr/share/sendmail/update_conf), which comments it out"
	    : "remove or comment out the line (a user's crontab: crontab -e -u USER)");
}

/* Whether cron reads a file of this name from a directory: not a dot
 * file, an editor's backup or a package manager's leftover. */
static bool
ck_cron_name(const char *n)
{
	size_t l = strlen(n);

	return n[0] != '.' && l > 0 && n[l - 1] != '~' && strstr(n, ".dpkg-") == NULL &&
	    strstr(n, ".rpmsave") == NULL && strstr(n, ".rpmnew") == NULL &&
	    strstr(n, ".ucf-") == NULL;
}

void
ck_cron(struct check_ctx *c)
{
	size_t n, i;
	char **paths = ck_list(c, c->cfg->cron_paths, CHECK_CRON_PATHS, &n);
	struct ck_cron cc = { c, NULL, 0 };
	struct strbuf all = STRBUF_INIT, unread = STRBUF_INIT;
	char *found;

	for (i = 0; i < n; i++) {
		struct stat st;

		strbuf_addf(&all, "%s%s", i ? ":" : "", paths[i]);
		if (stat(paths[i], &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			struct dirent **ents = NULL;
			int k, m = scandir(paths[i], &ents, NULL, alphasort);

			if (m < 0) {
				strbuf_addf(&unread, "; %s not read: %s", paths[i], strerror(errno));
				continue;
			}
			for (k = 0; k < m; k++) {
				char *f = xasprintf("%s/%s", paths[i], ents[k]->d_name);
				struct stat fs;

				if (ck_cron_name(ents[k]->d_name) && stat(f, &fs) == 0 &&
				    S_ISREG(fs.st_mode)) {
					cc.file = f;
					if (!ck_each_line(f, ck_cron_line_cb, &cc))
						strbuf_addf(&unread, "; %s not read: %s", f,
						    strerror(errno));
				}
				free(f);
				free(ents[k]);
			}
			free(ents);
		} else if (S_ISREG(st.st_mode)) {
			cc.file = paths[i];
			if (!ck_each_line(paths[i], ck_cron_line_cb, &cc))
				strbuf_addf(&unread, "; %s not read: %s", paths[i], strerror(errno));
		}
	}
	if (cc.found == 0) {
		found = xasprintf("no line running the client queue%s", strbuf_str(&unread));
		ck_add(c, "other-runner-cron", CHECK_OK, strbuf_str(&all), found,
		    "no cron job running the client queue", NULL);
		free(found);
	}
	strbuf_free(&all);
	strbuf_free(&unread);
	ck_list_free(paths, n);
}

struct ck_vars_file {
	struct check_vars *v;
	const char *origin;
};

static void
ck_vars_cb(void *arg, const char *line, unsigned lineno)
{
	struct ck_vars_file *vf = arg;
	char origin[PATH_MAX + 20];

	snprintf(origin, sizeof origin, "%s:%u", vf->origin, lineno);
	(void)check_vars_line(vf->v, line, origin);
}

/* Debian: /etc/mail/sendmail.conf's MSP_MODE, as /etc/init.d/sendmail
 * reads it (its defaults first: every mode Daemon, intervals 10m). */
void
ck_debian(struct check_ctx *c)
{
	char *path = c->cfg->sendmail_conf ? xstrdup(c->cfg->sendmail_conf)
	    : ck_rooted(c, "/etc/mail/sendmail.conf");
	struct check_vars *v = check_vars_new();
	struct ck_vars_file vf = { v, path };
	const char *msp, *queue, *ival, *where = NULL;
	char found[600];

	check_vars_set(v, "DAEMON_MODE", "Daemon", "the init script's default");
	check_vars_set(v, "QUEUE_MODE", "Daemon", "the init script's default");
	check_vars_set(v, "MSP_MODE", "Daemon", "the init script's default");
	check_vars_set(v, "QUEUE_INTERVAL", "10m", "the init script's default");
	check_vars_set(v, "MSP_INTERVAL", "10m", "the init script's default");
	if (!ck_each_line(path, ck_vars_cb, &vf)) {
		snprintf(found, sizeof found, "%s (not Debian's sendmail)", strerror(errno));
		ck_add(c, "other-runner-debian", CHECK_OK, path, found, "MSP_MODE=None", NULL);
		goto out;
	}
	msp = check_vars_get(v, "MSP_MODE", &where);
	queue = check_vars_get(v, "QUEUE_MODE", NULL);
	ival = check_vars_get(v, "MSP_INTERVAL", NULL);
	if (strcasecmp(msp, "daemon") == 0) {
		snprintf(found, sizeof found, "MSP_MODE=%s (%s): /etc/init.d/sendmail starts sendmail -Ac -q%s",
		    msp, where, ival);
		ck_add(c, "other-runner-debian", CHECK_WARNING, path, found, "MSP_MODE=None", CK_DEBIAN_OFF);
	} else if (strcasecmp(msp, "cron") == 0 && *ival != '\0') {
		snprintf(found, sizeof found,
		    "MSP_MODE=%s (%s), MSP_INTERVAL=%s: sendmailconfig writes a cron-msp line to /etc/cron.d/sendmail",
		    msp, where, ival);
		ck_add(c, "other-runner-debian", CHECK_WARNING, path, found, "MSP_MODE=None", CK_DEBIAN_OFF);
	} else if (strcasecmp(msp, "none") == 0 && strcasecmp(queue, "cron") == 0) {
		snprintf(found, sizeof found,
		    "MSP_MODE=%s with QUEUE_MODE=%s: the cron-mta job runs the client queue too", msp, queue);
		ck_add(c, "other-runner-debian", CHECK_WARNING, path, found,
		    "MSP_MODE=None, QUEUE_MODE not Cron",
		    "set MSP_MODE=\"Cron\" and MSP_INTERVAL=\"\" (neither cron-msp nor cron-mta then runs "
		    "the client queue) in /etc/mail/sendmail.conf and run sendmailconfig");
	} else {
		snprintf(found, sizeof found, "MSP_MODE=%s%s%s", msp,
		    strcasecmp(msp, "cron") == 0 ? ", MSP_INTERVAL=" : "",
		    strcasecmp(msp, "cron") == 0 ? "\"\"" : "");
		ck_add(c, "other-runner-debian", CHECK_OK, path, found, "MSP_MODE=None", NULL);
	}
out:
	check_vars_free(v);
	free(path);
}

struct ck_units {
	struct check_ctx *c;
	const char *file;
	bool wanted;
};

static void
ck_unit_line_cb(void *arg, const char *line, unsigned lineno)
{
	struct ck_units *u = arg;
	const char *p = line + strspn(line, " \t");

	(void)lineno;
	if ((strncmp(p, "Wants=", 6) == 0 || strncmp(p, "Requires=", 9) == 0 ||
	    strncmp(p, "BindsTo=", 8) == 0 || strncmp(p, "Upholds=", 8) == 0) &&
	    strstr(p, "sm-client.service") != NULL)
		u->wanted = true;
}

/* Fedora: sm-client.service enabled (a link in a .wants or .requires
 * directory), or pulled in by another unit (Fedora's sendmail.service
 * has Wants=sm-client.service), unless it is masked. */
void
ck_systemd(struct check_ctx *c)
{
	static const char ADVICE[] =
	    "systemctl mask --now sm-client.service (Fedora's sendmail.service wants it, so "
	    "disabling it alone does not keep it off); clientq-runner's unit takes its place";
	size_t n, i;
	char **dirs = ck_list(c, c->cfg->systemd_dirs, CHECK_SYSTEMD_DIRS, &n);
	char *unit = NULL, *masked = NULL, found[PATH_MAX + 200];
	struct strbuf all = STRBUF_INIT;
	size_t warned = 0;

	for (i = 0; i < n; i++) {
		char *f = xasprintf("%s/sm-client.service", dirs[i]), target[PATH_MAX];
		ssize_t k;
		struct stat st;

		strbuf_addf(&all, "%s%s", i ? ":" : "", dirs[i]);
		if (lstat(f, &st) == 0) {
			k = S_ISLNK(st.st_mode) ? readlink(f, target, sizeof target - 1) : -1;
			if (k >= 0)
				target[k] = '\0';
			if ((k >= 0 && strcmp(target, "/dev/null") == 0) ||
			    (S_ISCHR(st.st_mode)) || (S_ISREG(st.st_mode) && st.st_size == 0)) {
				if (masked == NULL)
					masked = xstrdup(f);
			} else if (unit == NULL) {
				unit = xstrdup(f);
			}
		}
		free(f);
	}
	if (masked != NULL) {
		ck_add(c, "other-runner-systemd", CHECK_OK, masked, "sm-client.service masked",
		    "sm-client.service masked or absent", NULL);
		goto out;
	}
	for (i = 0; i < n; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;

		if (d == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			size_t l = strlen(de->d_name);
			char *f;
			struct stat st;

			if ((l > 6 && strcmp(de->d_name + l - 6, ".wants") == 0) ||
			    (l > 9 && strcmp(de->d_name + l - 9, ".requires") == 0)) {
				f = xasprintf("%s/%s/sm-client.service", dirs[i], de->d_name);
				if (lstat(f, &st) == 0) {
					ck_add(c, "other-runner-systemd", CHECK_WARNING, f,
					    "sm-client.service enabled", "sm-client.service masked or absent",
					    ADVICE);
					warned++;
				}
				free(f);
			} else if (l > 8 && strcmp(de->d_name + l - 8, ".service") == 0 &&
			    strcmp(de->d_name, "sm-client.service") != 0 && unit != NULL) {
				struct ck_units u = { c, NULL, false };

				f = xasprintf("%s/%s", dirs[i], de->d_name);
				u.file = f;
				if (stat(f, &st) == 0 && S_ISREG(st.st_mode) &&
				    ck_each_line(f, ck_unit_line_cb, &u) && u.wanted) {
					snprintf(found, sizeof found, "%s wants sm-client.service",
					    de->d_name);
					ck_add(c, "other-runner-systemd", CHECK_WARNING, f, found,
					    "sm-client.service masked or absent", ADVICE);
					warned++;
				}
				free(f);
			}
		}
		closedir(d);
	}
	if (warned == 0)
		ck_add(c, "other-runner-systemd", CHECK_OK, unit != NULL ? unit : strbuf_str(&all),
		    unit != NULL ? "sm-client.service installed, not enabled" : "no sm-client.service",
		    "sm-client.service masked or absent", NULL);
out:
	free(unit);
	free(masked);
	strbuf_free(&all);
	ck_list_free(dirs, n);
}

/* FreeBSD (sendmail_msp_queue_enable, YES in /etc/defaults/rc.conf;
 * sendmail_enable=NONE turns it off) and NetBSD (smmsp). */
void
ck_rc_conf(struct check_ctx *c)
{
	size_t n, i, seen = 0, warned = 0;
	char **files = ck_list(c, c->cfg->rc_conf, CHECK_RC_CONF, &n);
	struct check_vars *v = check_vars_new();
	struct strbuf all = STRBUF_INIT;
	const char *val, *where = "";
	char found[PATH_MAX + 200];

	for (i = 0; i < n; i++) {
		struct ck_vars_file vf = { v, files[i] };

		strbuf_addf(&all, "%s%s", i ? ":" : "", files[i]);
		if (ck_each_line(files[i], ck_vars_cb, &vf))
			seen++;
	}
	val = check_vars_get(v, "sendmail_msp_queue_enable", &where);
	if (check_yesno(val)) {
		const char *se = check_vars_get(v, "sendmail_enable", NULL);

		if (se == NULL || strcasecmp(se, "NONE") != 0) {
			snprintf(found, sizeof found, "sendmail_msp_queue_enable=%s (%s)", val, where);
			ck_add(c, "other-runner-rc.conf", CHECK_WARNING, where, found,
			    "sendmail_msp_queue_enable=NO",
			    "service sendmail stop; sysrc sendmail_msp_queue_enable=NO; service sendmail "
			    "start (FreeBSD's rc.d/sendmail then runs no sm-msp-queue); "
			    "sendmail_clientq_enable=YES starts clientq-runner");
			warned++;
		}
	}
	val = check_vars_get(v, "smmsp", &where);
	if (check_yesno(val)) {
		snprintf(found, sizeof found, "smmsp=%s (%s)", val, where);
		ck_add(c, "other-runner-rc.conf", CHECK_WARNING, where, found, "smmsp=NO",
		    "/etc/rc.d/smmsp stop, then set smmsp=NO in /etc/rc.conf (NetBSD); "
		    "sendmail_clientq=YES starts clientq-runner");
		warned++;
	}
	if (warned == 0)
		ck_add(c, "other-runner-rc.conf", CHECK_OK, strbuf_str(&all),
		    seen ? "no client-queue runner enabled" : "no rc.conf",
		    "sendmail_msp_queue_enable=NO (FreeBSD), smmsp=NO (NetBSD)", NULL);
	check_vars_free(v);
	strbuf_free(&all);
	ck_list_free(files, n);
}

void
ck_process(struct check_ctx *c)
{
	char *proc = c->cfg->proc ? xstrdup(c->cfg->proc) : ck_rooted(c, "/proc");
	DIR *d = opendir(proc);
	struct dirent *de;
	size_t warned = 0;
	long self = (long)getpid();

	if (d == NULL) {
		char found[300];

		snprintf(found, sizeof found, "%s: processes not looked at", strerror(errno));
		ck_add(c, "other-runner-process", CHECK_OK, proc, found,
		    "no sendmail -Ac -q process", NULL);
		free(proc);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char *path, buf[4096], found[4200], *endp;
		long pid = strtol(de->d_name, &endp, 10);
		ssize_t len;
		int fd;

		if (*endp != '\0' || endp == de->d_name || pid == self)
			continue;
		path = xasprintf("%s/%s/cmdline", proc, de->d_name);
		fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
		free(path);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof buf);
		close(fd);
		if (len <= 0 || !check_cmdline_runner(buf, (size_t)len, c->qdir))
			continue;
		for (ssize_t k = 0; k < len; k++)
			if (buf[k] == '\0')
				buf[k] = ' ';
		while (len > 0 && buf[len - 1] == ' ')
			len--;
		snprintf(found, sizeof found, "process %ld: %.*s", pid, (int)len, buf);
		path = xasprintf("%s/%s", proc, de->d_name);
		ck_add(c, "other-runner-process", CHECK_WARNING, path, found,
		    "no sendmail -Ac -q process",
		    "stop it (kill the process) and turn off what starts it (see the other "
		    "other-runner lines)");
		free(path);
		warned++;
	}
	closedir(d);
	if (warned == 0)
		ck_add(c, "other-runner-process", CHECK_OK, proc, "no sendmail -Ac -q process",
		    "no sendmail -Ac -q process", NULL);
	free(proc);
}
