/*
 * bench.h: the little the benchmark programs (sink, blast) share.  They
 * stay standalone otherwise: no project library, one .c each.
 */
#ifndef CQ_BENCH_H
#define CQ_BENCH_H

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

/* Seconds from a to b. */
static inline double
bench_elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* A decimal number in [min, max] and nothing else: strtoull alone would
 * take "-1", " 1" and "1x". */
static inline bool
bench_parse_number(const char *s, unsigned long long min,
    unsigned long long max, unsigned long long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0' && *out >= min && *out <= max;
}

#endif
