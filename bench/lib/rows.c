/*
 * The rows of the result: samples per configuration (the baseline and each
 * level), their statistics, each level's cost against the baseline, whether
 * that cost is within the spread (noise), and the verdict against each claim.
 * Every section builds its rows here, so every row has the same shape
 * (README.md beside this file).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_int.h"

static void append(double **v, size_t *n, size_t *cap, double x)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		double *nv = realloc(*v, nc * sizeof *nv);
		if (!nv)
			return;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = x;
}

void al_bench_push(struct al_bench_samples *s, int cfg, double x)
{
	append(&s->v[cfg], &s->n[cfg], &s->cap[cfg], x);
}

void al_bench_push_paired(struct al_bench_samples *s, int cfg, double x)
{
	al_bench_push(s, 0, x);
	append(&s->b[cfg], &s->bn[cfg], &s->bcap[cfg], x);
}

void al_bench_samples_free(struct al_bench_samples *s)
{
	for (int i = 0; i < AL_BENCH_NCFG; i++) {
		free(s->v[i]);
		free(s->b[i]);
		free(s->d[i]);
	}
	memset(s, 0, sizeof *s);
}

double al_bench_pick(const struct al_bench_stat *s, const char *stat)
{
	if (strcmp(stat, "p999") == 0)
		return s->p999;
	return strcmp(stat, "p99") == 0 ? s->p99 : s->median;
}

static bool is_ratio(const struct al_bench_rowdef *d)
{
	return strcmp(d->cost_unit, "x") == 0;
}

/* cost > 0 (ratio > 1): airlock's configuration is worse than the baseline */
static double cost_of(const struct al_bench_rowdef *d, double base, double v)
{
	if (is_ratio(d))
		return base > 0 ? v / base : NAN;
	if (d->higher_better)
		return base > 0 ? (base - v) / base * 100.0 : NAN;
	if (d->pct)
		return base > 0 ? (v - base) / base * 100.0 : NAN;
	return v - base;
}

/* Where a cost means "no difference": 1 for a ratio, else 0. */
static double neutral(const struct al_bench_rowdef *d)
{
	return is_ratio(d) ? 1.0 : 0.0;
}

void al_bench_pair(struct al_bench_samples *s, const struct al_bench_rowdef *d, int cfg, double base, double v)
{
	if (!isnan(base) && !isnan(v))
		append(&s->d[cfg], &s->dn[cfg], &s->dcap[cfg], cost_of(d, base, v));
}

/* The spread in cost units: the wider interquartile range of the two. */
static double spread_of(const struct al_bench_rowdef *d, const struct al_bench_stat *b, const struct al_bench_stat *l)
{
	double w = fmax(b->p75 - b->p25, l->p75 - l->p25);
	if (is_ratio(d))
		return b->median > 0 ? w / b->median : NAN;
	if (d->higher_better || d->pct)
		return b->median > 0 ? w / b->median * 100.0 : NAN;
	return w;
}

json_t *al_bench_row_json(const struct al_bench_plan *p, const struct al_bench_rowdef *d, struct al_bench_samples *s,
			  const char *base_name, json_t *warnings)
{
	json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", d->id, "label", d->label, "unit", d->unit,
				"stat", d->stat, "better", d->higher_better ? "higher" : "lower", "cost_unit",
				d->cost_unit);
	json_t *values = json_object(), *cost = json_object(), *verdict = json_object(), *claims = json_array();
	struct al_bench_stat base;
	al_bench_stat(s->v[0], s->n[0], &base);
	json_object_set_new(values, base_name, al_bench_stat_json(&base));
	for (int c = 0; c < 2; c++) {
		if (!d->claims[c].who)
			continue;
		json_t *lv = json_array();
		for (int l = 0; l < AL_LEVEL_COUNT; l++)
			if (d->claims[c].levels & AL_BENCH_LVL(l))
				json_array_append_new(lv, json_string(al_level_name(l)));
		json_array_append_new(claims, json_pack("{s:s, s:s, s:f, s:o}", "who", d->claims[c].who, "text",
							d->claims[c].text, "limit", d->claims[c].limit, "levels", lv));
	}
	double zero = neutral(d);
	for (int i = 0; i < p->nlev; i++) {
		const char *name = al_level_name(p->lev[i]);
		struct al_bench_stat st;
		if (s->n[1 + i] == 0 || base.n == 0)
			continue;
		al_bench_stat(s->v[1 + i], s->n[1 + i], &st);
		json_object_set_new(values, name, al_bench_stat_json(&st));
		struct al_bench_stat pb = base;
		if (s->bn[1 + i])
			al_bench_stat(s->b[1 + i], s->bn[1 + i], &pb);
		double c = cost_of(d, al_bench_pick(&pb, d->stat), al_bench_pick(&st, d->stat));
		double sp = spread_of(d, &pb, &st);
		bool noisy = fabs(c - zero) < sp;
		struct al_bench_stat ds = { 0 };
		if (s->dn[1 + i]) {
			/* paired rounds: the median of the per-round costs, which a
			 * drifting load shifts on both sides alike; noise when the
			 * middle half of the rounds does not agree on its sign. A
			 * pooled row keeps the cost of all samples together (a tail
			 * needs them all) and takes only the noise from the rounds. */
			al_bench_stat(s->d[1 + i], s->dn[1 + i], &ds);
			if (!is_ratio(d))
				c = ds.median;
			sp = ds.p75 - ds.p25;
			noisy = ds.p25 <= zero && ds.p75 >= zero;
		}
		const char *method = !s->dn[1 + i] ? (is_ratio(d) ? "ratio of the statistics" : "difference of medians")
				     : is_ratio(d) ? "statistics of all samples; noise from paired rounds"
						 : "median of paired rounds";
		json_t *co = json_pack("{s:f, s:f, s:b, s:s}", "value", c, "spread", sp, "noisy", noisy, "method", method);
		if (s->dn[1 + i])
			json_object_set_new(co, "paired", al_bench_stat_json(&ds));
		if (s->bn[1 + i])
			json_object_set_new(co, "paired_baseline", al_bench_stat_json(&pb));
		json_object_set_new(cost, name, co);
		if (noisy && c > zero) {
			char w[200];
			snprintf(w, sizeof w, "%s at %s: cost %.3g %s is within the spread %.3g%s (noise)", d->label, name, c,
				 d->cost_unit, sp, s->dn[1 + i] ? " of the paired rounds" : "");
			json_array_append_new(warnings, json_string(w));
		}
		json_t *vo = json_object();
		for (int k = 0; k < 2; k++)
			if (d->claims[k].who && (d->claims[k].levels & AL_BENCH_LVL(p->lev[i])))
				json_object_set_new(vo, d->claims[k].who, json_string(c <= d->claims[k].limit ? "pass" : "fail"));
		json_object_set_new(verdict, name, vo);
	}
	json_object_set_new(row, "values", values);
	json_object_set_new(row, "cost", cost);
	json_object_set_new(row, "claims", claims);
	json_object_set_new(row, "verdict", verdict);
	return row;
}

json_t *al_bench_row_error(const struct al_bench_rowdef *d, const char *what, int rc)
{
	char e[160];
	snprintf(e, sizeof e, "%s: %s", what, rc < -1000 ? al_chan_strerror(rc) : strerror(-rc));
	return json_pack("{s:s, s:s, s:s, s:s}", "id", d->id, "label", d->label, "unit", d->unit, "error", e);
}

json_t *al_bench_section(const char *id, const char *title, const char *method, const char *baseline)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:[]}", "id", id, "title", title, "method", method, "baseline",
			 baseline, "rows");
}

void al_bench_add_row(json_t *sec, json_t *row)
{
	json_array_append_new(json_object_get(sec, "rows"), row);
}
