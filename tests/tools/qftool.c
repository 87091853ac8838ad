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
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qf.h"
#include "render.h"
#include "spool.h"
#include "strbuf.h"

static struct spool *
open_dir(const char *dir)
{
	struct spool_policy pol;
	struct spool_error err;
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

int
main(int argc, char **argv)
{
	struct spool_error err;
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
		struct qf_error qerr;
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
		struct qf_error qerr;
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
	fprintf(stderr, "usage: qftool lock|open DIR ID | parse|roundtrip FILE | render DIR ID DOMAIN\n");
	return 2;
}
