/*
 * The queues real sendmail wrote (tests/fixtures/queues, or $CQ_FIXTURES
 * when CI has just regenerated them with the installed sendmail):
 * - every qf round-trips byte for byte through the reader and the writer;
 * - every Qf (a file sendmail itself refused) is refused by the reader too;
 * - the offline listing of each queue equals what `sendmail -Ac -bp`
 *   printed for it (mailq.out, with the directory written as @QUEUEDIR@).
 *   No difference is normalised away.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "queue/qf.h"
#include "queue/qlist.h"
#include "util/strbuf.h"
#include "testutil.h"
#include "util/xalloc.h"

/* The fixture queue names, sorted. */
static size_t
fixture_names(char ***out)
{
	DIR *d = opendir(tu_fixtures());
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, i, j;

	cr_assert_not_null(d, "fixtures at %s", tu_fixtures());
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		v = xreallocarray(v, n + 1, sizeof *v);
		v[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			char *t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	/* Guard against a vacuous pass: the matrix has 21 queues. */
	cr_assert_geq(n, 21, "only %zu fixture queues in %s", n, tu_fixtures());
	*out = v;
	return n;
}

static void
free_names(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

/* Call fn for every file whose name starts with prefix in every fixture
 * queue; returns how many there were. */
static size_t
each_fixture_file(const char *prefix,
    void (*fn)(const char *queue, const char *file, const char *data, size_t len))
{
	char **names;
	size_t n = fixture_names(&names), i, files = 0;

	for (i = 0; i < n; i++) {
		char *qdir = xasprintf("%s/%s", tu_fixtures(), names[i]);
		DIR *d = opendir(qdir);
		struct dirent *de;

		cr_assert_not_null(d, "%s", qdir);
		while ((de = readdir(d)) != NULL) {
			char *data;
			size_t len;

			if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
				continue;
			data = tu_read2(qdir, de->d_name, &len);
			cr_assert_not_null(data);
			fn(names[i], de->d_name, data, len);
			free(data);
			files++;
		}
		closedir(d);
		free(qdir);
	}
	free_names(names, n);
	return files;
}

static void
check_round_trip(const char *queue, const char *file, const char *data, size_t len)
{
	struct strbuf out = STRBUF_INIT;
	struct qf_envelope *env;
	struct error err;
	enum qf_status st = qf_parse(data, len, &env, &err);

	cr_expect_eq(st, QF_OK, "%s/%s: %s: line %u: %s", queue, file,
	    qf_status_str(st), err.line, err.reason);
	if (st != QF_OK)
		return;
	qf_format(env, &out);
	cr_expect(out.len == len && memcmp(out.buf, data, len) == 0,
	    "%s/%s: round trip differs:\n--- file\n%s\n--- written\n%s",
	    queue, file, data, out.buf);
	qf_free(env);
	strbuf_free(&out);
}

/* The `lost` case has an unknown record "Xbogus", which sendmail itself
 * refused ("bad line") by renaming the file to Qf. */
static void
check_refused(const char *queue, const char *file, const char *data, size_t len)
{
	struct qf_envelope *env;
	struct error err;

	cr_expect_eq(qf_parse(data, len, &env, &err), QF_REFUSED, "%s/%s", queue, file);
	cr_expect(strstr(err.reason, "unrecognized line type 'X'") != NULL,
	    "%s/%s: %s", queue, file, err.reason);
}

Test(fixtures, every_control_file_round_trips_byte_for_byte)
{
	size_t files = each_fixture_file("qf", check_round_trip);

	cr_assert_geq(files, 24, "only %zu control files", files);
}

Test(fixtures, files_sendmail_lost_are_refused)
{
	cr_assert_geq(each_fixture_file("Qf", check_refused), 1);
}

Test(fixtures, offline_listing_equals_mailq)
{
	char **names;
	size_t n = fixture_names(&names), i;

	/* mailq.out was printed with TZ=UTC. */
	setenv("TZ", "UTC", 1);
	tzset();
	for (i = 0; i < n; i++) {
		char *src = xasprintf("%s/%s", tu_fixtures(), names[i]);
		char *want = tu_read2(src, "mailq.out", NULL);
		char *qdir = tu_fixture_copy(names[i]);
		struct spool_policy pol;
		struct error err;
		struct spool *sp;
		struct qlist ql;
		char *got = NULL;
		size_t len = 0;
		FILE *fp;

		cr_assert_not_null(want, "%s/mailq.out", src);
		spool_policy_default(&pol);
		sp = spool_open(qdir, &pol, &err);
		cr_assert_not_null(sp, "%s", err.reason);
		cr_assert(qlist_gather(sp, &ql, true, NULL, NULL, &err), "%s", err.reason);
		fp = open_memstream(&got, &len);
		qlist_print_mailq(&ql, NULL, "@QUEUEDIR@", fp);
		fclose(fp);
		cr_expect_str_eq(got, want, "%s: listing differs:\n--- mailq -Ac\n%s--- clientqctl\n%s",
		    names[i], want, got);
		qlist_free(&ql);
		/* The daemon's way: gathered lean, each file read again as
		 * it is printed (as mailq itself does). */
		free(got);
		got = NULL;
		cr_assert(qlist_gather(sp, &ql, false, NULL, NULL, &err), "%s", err.reason);
		fp = open_memstream(&got, &len);
		qlist_print_mailq(&ql, sp, "@QUEUEDIR@", fp);
		fclose(fp);
		cr_expect_str_eq(got, want, "%s: listing read again differs:\n--- mailq -Ac\n%s--- clientqctl\n%s",
		    names[i], want, got);
		qlist_free(&ql);
		spool_free(sp);
		tu_rmtree(qdir);
		free(qdir);
		free(got);
		free(want);
		free(src);
	}
	free_names(names, n);
}
