/* Order statistics of a sample set. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Linear interpolation between the closest ranks. */
static double quantile(const double *v, size_t n, double q)
{
	double pos = q * (double)(n - 1);
	size_t i = (size_t)pos;
	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + (pos - (double)i) * (v[i + 1] - v[i]);
}

void al_bench_stat(double *v, size_t n, struct al_bench_stat *s)
{
	memset(s, 0, sizeof *s);
	if (n == 0)
		return;
	qsort(v, n, sizeof *v, cmp_double);
	s->n = n;
	s->min = v[0];
	s->max = v[n - 1];
	s->median = quantile(v, n, 0.5);
	s->p25 = quantile(v, n, 0.25);
	s->p75 = quantile(v, n, 0.75);
	s->p99 = quantile(v, n, 0.99);
	s->p999 = quantile(v, n, 0.999);
}

json_t *al_bench_stat_json(const struct al_bench_stat *s)
{
	return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I}", "median", s->median, "p25", s->p25, "p75",
			 s->p75, "p99", s->p99, "p999", s->p999, "min", s->min, "max", s->max, "n", (json_int_t)s->n);
}
