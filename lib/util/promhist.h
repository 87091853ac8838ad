/*
 * promhist: a snapshot histogram with one label, counted from scratch for
 * one scrape and written in the Prometheus text exposition format
 * (version 0.0.4).
 *
 * `clientqctl stats --prometheus` counts the queued messages' ages and
 * sizes into two of these, labelled by queue ("active", "deferred",
 * "hold", "incoming"), each time it is asked: nothing accumulates across
 * scrapes, as in postfix_exporter's showq histograms, whose buckets are
 * PROMHIST_SHOWQ_AGE_BOUNDS and PROMHIST_SHOWQ_SIZE_BOUNDS.
 *
 * Contract
 * --------
 * - promhist_init copies up to PROMHIST_MAX_BOUNDS upper bounds, which
 *   must ascend strictly, and up to PROMHIST_MAX_SERIES label values (the
 *   strings are not copied: they must outlive h).  Every series starts at
 *   zero and is written even when nothing was observed in it, so that a
 *   series never appears and disappears between scrapes.  Too many bounds
 *   or values, or bounds out of order, return false and leave h empty.
 * - promhist_observe counts v in the series of the label value `value`
 *   (compared with strcmp): in every bucket whose bound is >= v (the le
 *   of Prometheus, "less than or equal"), in +Inf, in _count, and adds v
 *   to _sum.  A value no series has is not counted and returns false.
 *   A NaN is not counted either (returns false).
 * - promhist_print writes # HELP and # TYPE and then, for each series in
 *   the order of init, its cumulative _bucket lines, +Inf last, _sum and
 *   _count; every line begins with `prefix` (the control protocol's "D ")
 *   and ends with "\n".  A bound is written as "%g" writes it, which is
 *   what Prometheus' Go client writes for a bound of up to six
 *   significant digits ("1000", "100000", "1e+06"): a dashboard that
 *   names a bucket by its le keeps working with either.  _sum is written
 *   with up to 17 significant digits.  name, help and label are written
 *   as given: they must already be valid names and a valid help text.
 *   Label values are escaped as the format asks (\\, \", \n).
 * - No allocation; a struct promhist lives wherever its owner puts it.
 */
#ifndef CQ_PROMHIST_H
#define CQ_PROMHIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define PROMHIST_MAX_BOUNDS 16
#define PROMHIST_MAX_SERIES 8

/* postfix_exporter's buckets for postfix_showq_message_age_seconds (10 s
 * to about three years) and postfix_showq_message_size_bytes (1 kB to
 * 1 GB), so that a dashboard made for it reads ours with only the metric
 * names' prefix changed. */
#define PROMHIST_SHOWQ_AGE_BOUNDS { 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8 }
#define PROMHIST_SHOWQ_AGE_NBOUNDS 8
#define PROMHIST_SHOWQ_SIZE_BOUNDS { 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9 }
#define PROMHIST_SHOWQ_SIZE_NBOUNDS 7

struct promhist_series {
	const char *value;				/* the label's value */
	unsigned long long bucket[PROMHIST_MAX_BOUNDS + 1];	/* not cumulative;
							 * the last is +Inf's */
	unsigned long long count;
	double sum;
};

struct promhist {
	const char *name, *help, *label;
	double bound[PROMHIST_MAX_BOUNDS];
	size_t nbounds;
	struct promhist_series series[PROMHIST_MAX_SERIES];
	size_t nseries;
};

bool promhist_init(struct promhist *h, const char *name, const char *help, const char *label,
    const double *bounds, size_t nbounds, const char *const *values, size_t nvalues);
bool promhist_observe(struct promhist *h, const char *value, double v);
void promhist_print(const struct promhist *h, const char *prefix, FILE *fp);

#endif
