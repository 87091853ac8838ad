/*
 * sched-flush: what a whole-queue flush costs the schedule the daemon
 * keeps (lib/delivery/sched), which runs on its event loop.
 *
 *     bench/sched-flush [ENTRIES [RUNS]]        (1000000 and 5)
 *
 * Per run: ENTRIES queue IDs scheduled at random times over the next
 * day, then sched_advance (SIGUSR1, or root's clientqctl flush), then
 * every entry taken in order (the drain), each timed; and the same
 * drain from a schedule that was not flushed, for what a flush leaves
 * behind.  Printed: the medians, in milliseconds and entries a second.
 * Unlike sink and blast it links the project library: it measures it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"
#include "delivery/sched.h"

static int
bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, bench_cmp);
	return v[n / 2];
}

static struct sched *
bench_fill(size_t n, long long now, double *secs)
{
	struct sched *s = sched_new();
	char id[QID_MAX_LEN + 1];
	struct timespec a, b;
	size_t i;

	srand(1);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof id, "6B5J5b%02zu%06zu", i / 1000000 % 100, i % 1000000);
		sched_set(s, id, now + 1 + rand() % 86400000);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	*secs = bench_elapsed(&a, &b);
	return s;
}

/* Takes every entry due at until; its seconds. */
static double
bench_drain(struct sched *s, long long until)
{
	char id[QID_MAX_LEN + 1];
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	while (sched_pop(s, until, id))
		;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return bench_elapsed(&a, &b);
}

int
main(int argc, char **argv)
{
	unsigned long long n = 1000000, runs = 5;
	const long long now = 1733400000000LL;
	double fill[64], flush[64], drain[64], plain[64];
	unsigned long long r;

	if ((argc > 1 && !bench_parse_number(argv[1], 1, 50000000, &n)) ||
	    (argc > 2 && !bench_parse_number(argv[2], 1, 63, &runs)) || argc > 3) {
		fprintf(stderr, "usage: sched-flush [ENTRIES (1-50000000) [RUNS (1-63)]]\n");
		return 2;
	}
	for (r = 0; r < runs; r++) {
		struct sched *s = bench_fill((size_t)n, now, &fill[r]);
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		sched_advance(s, now);
		clock_gettime(CLOCK_MONOTONIC, &b);
		flush[r] = bench_elapsed(&a, &b);
		drain[r] = bench_drain(s, now);
		if (sched_count(s) != 0) {
			fprintf(stderr, "sched-flush: %zu entries not due after the flush\n", sched_count(s));
			return 1;
		}
		sched_free(s);
		s = bench_fill((size_t)n, now, &fill[r]);
		plain[r] = bench_drain(s, now + 86400001);
		sched_free(s);
	}
	printf("entries %llu, runs %llu (medians)\n", n, runs);
	printf("  schedule them:          %9.1f ms\n", 1e3 * bench_median(fill, runs));
	printf("  flush (sched_advance):  %9.4f ms\n", 1e3 * bench_median(flush, runs));
	printf("  drain after the flush:  %9.1f ms, %.0f entries/s\n", 1e3 * bench_median(drain, runs),
	    (double)n / bench_median(drain, runs));
	printf("  drain, not flushed:     %9.1f ms, %.0f entries/s\n", 1e3 * bench_median(plain, runs),
	    (double)n / bench_median(plain, runs));
	return 0;
}
