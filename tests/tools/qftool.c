/*
 * qftool: a test helper that drives the library from shell tests.
 *
 *   qftool lock DIR ID      lock qfID as the runner does, print "acquired",
 *                           hold the lock until standard input closes
 *   qftool open DIR ID      try to open and lock qfID; print the result
 *   qftool parse FILE       parse a control file; print the status/reason
 *   qftool roundtrip FILE   exit 0 when write(parse(FILE)) == FILE
 *   qftool render DIR ID DOMAIN
 *                           print DATA as the relay mailer (F=mDFMuXa8k,
 *                           L=2040) sends it, without the final dot; and
 *                           SIZE= on stderr
 *   qftool clone DIR ID N   make N copies of the message ID in DIR under new
 *                           valid IDs (its date digits kept, sequence digits
 *                           and a process number of 900000 and up), each
 *                           control file written by the library's writer
 *                           (qf_format) with the ID replaced in its headers
 *                           (Message-Id, Received), owner, group and mode as
 *                           the original's: a backlog for the scale tests.
 *                           Names already in DIR (another original's clones
 *                           from the same second) are passed over.
 *                           No fsync (a test's scratch queue).
 *   qftool age DIR ID SECONDS
 *                           make the message ID SECONDS older: its control
 *                           file's T (creation time) moved back, the file
 *                           written by the library's writer (qf_format),
 *                           tf then rename, owner, group and mode kept: a
 *                           queue past Timeout.queuewarn or queuereturn
 *                           without waiting
 *   qftool probe DIR        try an exclusive flock and an fcntl write lock on
 *                           every regular file in DIR (released at once);
 *                           print each one someone holds; exit 1 if any
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/qf.h"
#include "delivery/render.h"
#include "queue/spool.h"
#include "util/strbuf.h"

static struct spool *
open_dir(const char *dir)
{
	struct spool_policy pol;
	struct error err;
	struct spool *sp;

	spool_policy_default(&pol);
	sp = spool_open(dir, &pol, &err);
	if (sp == NULL) {
		fprintf(stderr, "qftool: %s\n", err.reason);
		exit(2);
	}
	return sp;
}

static char *
slurp(const char *path, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;
	char buf[65536];
	size_t n;
	FILE *fp = fopen(path, "rb");

	if (fp == NULL) {
		perror(path);
		exit(2);
	}
	while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
		strbuf_append(&sb, buf, n);
	fclose(fp);
	return strbuf_detach(&sb, len);
}

/* s with every occurrence of from replaced by to (a new string). */
static char *
replace_all(const char *s, const char *from, const char *to)
{
	struct strbuf sb = STRBUF_INIT;
	size_t n = strlen(from);
	const char *p;

	while ((p = strstr(s, from)) != NULL) {
		strbuf_append(&sb, s, (size_t)(p - s));
		strbuf_addstr(&sb, to);
		s = p + n;
	}
	strbuf_addstr(&sb, s);
	return strbuf_detach(&sb, NULL);
}

static void
write_new(const char *path, const void *data, size_t len, const struct stat *like)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0660);

	if (fd < 0 || !spool_write_all(fd, data, len) ||
	    fchown(fd, like->st_uid, like->st_gid) < 0 ||
	    fchmod(fd, like->st_mode & 07777) < 0 || close(fd) < 0) {
		perror(path);
		exit(1);
	}
}

/* Whether any file of the message NID is already in DIR: two originals
 * queued in the same second share the date digits, so the clones of the
 * second would otherwise meet the first's (O_EXCL then fails). */
static int
taken(const char *dir, const char *nid)
{
	static const char *const kinds[] = { "qf", "df", "hf", "Qf", "tf", "xf" };
	char path[4096];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		snprintf(path, sizeof path, "%s/%s%s", dir, kinds[i], nid);
		if (lstat(path, &st) == 0)
			return 1;
	}
	return 0;
}

static int
clone_message(const char *dir, const char *id, long n)
{
	char path[4096], nid[QID_MAX_LEN + 1];
	struct qf_envelope *env;
	struct error qerr;
	struct strbuf out = STRBUF_INIT;
	struct stat st;
	size_t qlen, dlen, i;
	char *qf, *df, **saved;
	long made = 0, k;

	snprintf(path, sizeof path, "%s/qf%s", dir, id);
	if (stat(path, &st) < 0) {
		perror(path);
		return 1;
	}
	qf = slurp(path, &qlen);
	snprintf(path, sizeof path, "%s/df%s", dir, id);
	df = slurp(path, &dlen);
	if (qf_parse(qf, qlen, &env, &qerr) != QF_OK) {
		fprintf(stderr, "qftool: %s/qf%s: line %u: %s\n", dir, id, qerr.line, qerr.reason);
		return 1;
	}
	saved = calloc(env->nheaders + 1, sizeof *saved);
	for (i = 0; i < env->nheaders; i++)
		saved[i] = env->headers[i].value;
	for (k = 0; made < n && k < 3600L * 99999; k++) {
		char base[QID_MAX_LEN + 1];

		/* the date digits and two sequence digits, then the number */
		snprintf(base, sizeof base, "%.8s%06ld", id, 900000 + k / 3600);
		qid_with_seq(nid, base, (unsigned)(k % 3600));
		if (strcmp(nid, id) == 0 || !qid_valid(nid) || taken(dir, nid))
			continue;
		for (i = 0; i < env->nheaders; i++)
			env->headers[i].value = replace_all(saved[i], id, nid);
		strbuf_reset(&out);
		qf_format(env, &out);
		for (i = 0; i < env->nheaders; i++)
			free(env->headers[i].value);
		/* df first, as sendmail commits it before the qf */
		snprintf(path, sizeof path, "%s/df%s", dir, nid);
		write_new(path, df, dlen, &st);
		snprintf(path, sizeof path, "%s/qf%s", dir, nid);
		write_new(path, out.buf, out.len, &st);
		made++;
	}
	for (i = 0; i < env->nheaders; i++)
		env->headers[i].value = saved[i];
	free(saved);
	qf_free(env);
	strbuf_free(&out);
	free(qf);
	free(df);
	printf("%ld copies of %s\n", made, id);
	return made == n ? 0 : 1;
}

static int
age_message(const char *dir, const char *id, long long secs)
{
	char path[4096], tmp[4096];
	struct qf_envelope *env;
	struct error qerr;
	struct strbuf out = STRBUF_INIT;
	struct stat st;
	size_t len;
	char *qf;

	snprintf(path, sizeof path, "%s/qf%s", dir, id);
	snprintf(tmp, sizeof tmp, "%s/tf%s", dir, id);
	if (stat(path, &st) < 0) {
		perror(path);
		return 1;
	}
	qf = slurp(path, &len);
	if (qf_parse(qf, len, &env, &qerr) != QF_OK) {
		fprintf(stderr, "qftool: %s: line %u: %s\n", path, qerr.line, qerr.reason);
		free(qf);
		return 1;
	}
	env->ctime -= secs;
	qf_format(env, &out);
	write_new(tmp, out.buf, out.len, &st);
	if (rename(tmp, path) < 0) {
		perror(tmp);
		return 1;
	}
	qf_free(env);
	strbuf_free(&out);
	free(qf);
	return 0;
}

static int
probe_locks(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned long files = 0, locked = 0;

	if (d == NULL) {
		perror(dir);
		return 2;
	}
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		struct flock fl;
		struct stat st;
		const char *how = NULL;
		int fd;

		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			continue;
		}
		files++;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0)
			how = errno == EWOULDBLOCK ? "flock" : "flock error";
		memset(&fl, 0, sizeof fl);
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		/* Who holds a classic POSIX or an OFD lock: F_OFD_GETLK sees
		 * both. */
		if (how == NULL && fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
			how = "fcntl";
		if (how != NULL) {
			printf("locked (%s): %s\n", how, de->d_name);
			locked++;
		}
		close(fd);	/* releases the probe's own flock */
	}
	closedir(d);
	printf("%lu files, %lu locked\n", files, locked);
	return locked == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct error err;
	struct spool_job *job;
	struct spool *sp;
	enum spool_result r;

	if (argc == 4 && (strcmp(argv[1], "lock") == 0 || strcmp(argv[1], "open") == 0)) {
		sp = open_dir(argv[2]);
		r = spool_job_open(sp, argv[3], &job, &err);
		if (r != SPOOL_OK) {
			printf("%s: %s\n", spool_result_str(r), err.reason);
			spool_free(sp);
			return r == SPOOL_LOCKED ? 3 : 1;
		}
		printf("acquired\n");
		fflush(stdout);
		if (strcmp(argv[1], "lock") == 0) {
			char c;

			while (read(0, &c, 1) > 0)
				;
		}
		spool_job_close(job);
		spool_free(sp);
		return 0;
	}
	if (argc == 3 && (strcmp(argv[1], "parse") == 0 || strcmp(argv[1], "roundtrip") == 0)) {
		struct strbuf out = STRBUF_INIT;
		struct qf_envelope *env;
		struct error qerr;
		enum qf_status st;
		size_t len;
		char *data = slurp(argv[2], &len);
		int rc = 0;

		st = qf_parse(data, len, &env, &qerr);
		if (st != QF_OK) {
			printf("%s: line %u: %s\n", qf_status_str(st), qerr.line, qerr.reason);
			free(data);
			return 2;
		}
		if (strcmp(argv[1], "roundtrip") == 0) {
			qf_format(env, &out);
			rc = out.len == len && memcmp(out.buf, data, len) == 0 ? 0 : 1;
			printf("%s\n", rc == 0 ? "identical" : "differs");
		} else {
			printf("ok: %zu recipients, %zu headers\n", env->nrcpts, env->nheaders);
		}
		strbuf_free(&out);
		qf_free(env);
		free(data);
		return rc;
	}
	if (argc == 5 && strcmp(argv[1], "render") == 0) {
		struct render_opts o = { "mDFMuXa8k", 2040, argv[4], NULL, NULL, NULL, NULL, NULL };
		struct strbuf out = STRBUF_INIT;
		struct qf_envelope *env;
		struct error qerr;
		struct render_body rb;
		struct stat st;
		char buf[65536];
		ssize_t n;
		int dfd;

		sp = open_dir(argv[2]);
		if (spool_job_open(sp, argv[3], &job, &err) != SPOOL_OK ||
		    spool_job_load(job, &env, &qerr) != QF_OK ||
		    spool_job_open_df(job, &dfd, &st, &err) != SPOOL_OK) {
			fprintf(stderr, "qftool: cannot load %s\n", argv[3]);
			return 1;
		}
		render_headers(env, &o, &out);
		render_body_init(&rb, &o);
		while ((n = read(dfd, buf, sizeof buf)) > 0)
			render_body_feed(&rb, buf, (size_t)n, &out);
		render_body_finish(&rb, &out);
		fwrite(out.buf, 1, out.len, stdout);
		fprintf(stderr, "SIZE=%lld\n", render_message_size(env, (long long)st.st_size));
		close(dfd);
		strbuf_free(&out);
		qf_free(env);
		spool_job_close(job);
		spool_free(sp);
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "clone") == 0)
		return clone_message(argv[2], argv[3], strtol(argv[4], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "probe") == 0)
		return probe_locks(argv[2]);
	if (argc == 5 && strcmp(argv[1], "age") == 0)
		return age_message(argv[2], argv[3], strtoll(argv[4], NULL, 10));
	fprintf(stderr, "usage: qftool lock|open DIR ID | parse|roundtrip FILE | render DIR ID DOMAIN\n"
	    "       qftool clone DIR ID N | probe DIR | age DIR ID SECONDS\n");
	return 2;
}
