/*
 * promhist: snapshot histograms in Prometheus' text format (promhist.h).
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "util/promhist.h"

bool
promhist_init(struct promhist *h, const char *name, const char *help, const char *label,
    const double *bounds, size_t nbounds, const char *const *values, size_t nvalues)
{
	size_t i;

	memset(h, 0, sizeof *h);
	if (nbounds > PROMHIST_MAX_BOUNDS || nvalues > PROMHIST_MAX_SERIES)
		return false;
	for (i = 0; i < nbounds; i++)
		if (isnan(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
			return false;
	h->name = name;
	h->help = help;
	h->label = label;
	memcpy(h->bound, bounds, nbounds * sizeof *bounds);
	h->nbounds = nbounds;
	for (i = 0; i < nvalues; i++)
		h->series[i].value = values[i];
	h->nseries = nvalues;
	return true;
}

bool
promhist_observe(struct promhist *h, const char *value, double v)
{
	struct promhist_series *s = NULL;
	size_t i, b;

	if (isnan(v))
		return false;
	for (i = 0; i < h->nseries && s == NULL; i++)
		if (strcmp(h->series[i].value, value) == 0)
			s = &h->series[i];
	if (s == NULL)
		return false;
	/* The first bound that holds v; the cumulation is the printer's. */
	for (b = 0; b < h->nbounds && v > h->bound[b]; b++)
		;
	s->bucket[b]++;
	s->count++;
	s->sum += v;
	return true;
}

/* A label value as the text format wants it: \, " and newline escaped. */
static void
promhist_value(const char *s, FILE *fp)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(fp, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", fp);
		else
			putc(*s, fp);
	}
}

static void
promhist_labels(const struct promhist *h, const struct promhist_series *s, FILE *fp)
{
	fprintf(fp, "%s=\"", h->label);
	promhist_value(s->value, fp);
	putc('"', fp);
}

void
promhist_print(const struct promhist *h, const char *prefix, FILE *fp)
{
	size_t i, b;

	fprintf(fp, "%s# HELP %s %s\n%s# TYPE %s histogram\n", prefix, h->name, h->help,
	    prefix, h->name);
	for (i = 0; i < h->nseries; i++) {
		const struct promhist_series *s = &h->series[i];
		unsigned long long cum = 0;

		for (b = 0; b <= h->nbounds; b++) {
			cum += s->bucket[b];
			fprintf(fp, "%s%s_bucket{", prefix, h->name);
			promhist_labels(h, s, fp);
			if (b < h->nbounds)
				fprintf(fp, ",le=\"%g\"} %llu\n", h->bound[b], cum);
			else
				fprintf(fp, ",le=\"+Inf\"} %llu\n", cum);
		}
		fprintf(fp, "%s%s_sum{", prefix, h->name);
		promhist_labels(h, s, fp);
		fprintf(fp, "} %.17g\n", s->sum);
		fprintf(fp, "%s%s_count{", prefix, h->name);
		promhist_labels(h, s, fp);
		fprintf(fp, "} %llu\n", s->count);
	}
}
