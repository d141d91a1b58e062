/*
 * Protocol under generation: how long an MCP tools/list takes while the AI
 * domain generates for other clients, at each level, next to the same
 * unsandboxed stack (the bench's peer endpoint) under the same load.
 *
 * A cell is one endpoint with N concurrent generations (0, 1, 2, 4): N
 * threads each keep one greedy generate of load_tokens running back to back
 * on a keep-alive connection of their own, while a probe thread sends a
 * tools/list every load_period_us on another and times each answer. Both
 * endpoints see exactly the same clients, so plain CPU contention is in
 * both columns, and the ratio shows what airlock's domains, channel and
 * scheduling policy add or remove. The probe thread is a client the way a
 * local one runs, in the default class, at nice -20 where this process may
 * set it, so its own wait for a CPU stays small (--probe default). With
 * --probe fifo it runs at SCHED_FIFO instead, which leaves its wait out
 * altogether, but no real client runs so: a real-time client can never share
 * a CPU with the real-time I/O threads (docs/levels.md), so every request
 * crosses CPUs twice. Both endpoints get the same probe.
 *
 * Rounds visit the loads in a rotating order and, for each load, both
 * endpoints one after the other (the order alternating), so drift touches
 * all cells alike. Percentiles are over all samples of a cell; the
 * per-round ratios only decide whether a difference is noise.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_int.h"
#include "others.h"
#include "common/log.h"
#include "common/util.h"

#define NLOADS 4
static const unsigned loads[NLOADS] = { 0, 1, 2, 4 };
#define GOAL_LOAD 2       /* the goals are stated for two concurrent generations */
#define MAX_GEN 4
#define PROBE_PRIO 2      /* SCHED_FIFO priority of the probe thread (--probe fifo) */
#define PROBE_NICE (-20)  /* its nice value in the default class (--probe default) */
#define NSTAT 3
static const char *const stat_names[NSTAT] = { "median", "p99", "p999" };
static const char *const stat_labels[NSTAT] = { "p50", "p99", "p99.9" };

struct al_bench_load {
	double tokens_per_gen;                       /* what one greedy generate yields */
	struct al_bench_samples lat[NLOADS][NSTAT];  /* µs, every request; one set per row */
	struct al_bench_samples tps[NLOADS];         /* tokens/s, one per cell */
	bool probe_set;                              /* the probe ran at the class asked for */
	int probe_err;                               /* else why not */
	json_t *sched;                               /* per level: each domain's scheduling, read back */
	struct al_bench_others_use others[NLOADS];   /* the machine's other tasks during the cells */
	int others_err;                              /* why they could not be read; 0 */
};

struct gen {
	struct al_bench_http c;
	pthread_t th;
	_Atomic bool *stop;
	unsigned tokens;
	uint64_t *done_ns;   /* when each generation ended */
	size_t n, cap;
	int rc;
};

struct probe {
	struct al_bench_http c;
	bool fifo;           /* else the default class at PROBE_NICE */
	int nice_err;        /* setting PROBE_NICE failed with this errno */
	double seconds;
	unsigned period_us;
	double *lat;
	size_t n, cap;
	uint64_t t0, t1;     /* the measured window */
	int rc;
};

static void *gen_main(void *arg)
{
	struct gen *g = arg;
	uint64_t ns;
	while (!atomic_load(g->stop)) {
		if ((g->rc = al_bench_http_request(&g->c, g->tokens, &ns)) < 0)
			break;
		if (g->n == g->cap) {
			size_t nc = g->cap ? g->cap * 2 : 256;
			uint64_t *nv = realloc(g->done_ns, nc * sizeof *nv);
			if (!nv) {
				g->rc = -ENOMEM;
				break;
			}
			g->done_ns = nv;
			g->cap = nc;
		}
		g->done_ns[g->n++] = al_now_ns();
	}
	return NULL;
}

static void *probe_main(void *arg)
{
	struct probe *p = arg;
	uint64_t ns;
	pthread_setname_np(pthread_self(), "al-probe"); /* found by name in a scheduler trace */
	if (!p->fifo && setpriority(PRIO_PROCESS, (id_t)gettid(), PROBE_NICE) < 0)
		p->nice_err = errno; /* as it is, and said so */
	for (int w = 0; w < 20 && p->rc == 0; w++) /* the connection, the caches */
		p->rc = al_bench_http_request(&p->c, 0, &ns);
	size_t want = (size_t)(p->seconds * 1e6 / p->period_us) + 16;
	if (p->rc == 0 && !(p->lat = malloc(want * sizeof *p->lat)))
		p->rc = -ENOMEM;
	p->cap = want;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	p->t0 = al_now_ns();
	uint64_t end = p->t0 + (uint64_t)(p->seconds * 1e9);
	while (p->rc == 0 && p->n < p->cap) {
		next.tv_nsec += (long)p->period_us * 1000;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		if (al_now_ns() >= end)
			break;
		/* a slot already past (the last answer took longer) is sent at once */
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		if ((p->rc = al_bench_http_request(&p->c, 0, &ns)) == 0)
			p->lat[p->n++] = (double)ns / 1e3;
	}
	p->t1 = al_now_ns();
	return NULL;
}

/* One cell: n generations on h while the probe measures. */
static int cell(struct al_bench_load *l, const struct al_bench_plan *pl, struct al_bench_http *h, unsigned n,
		struct probe *pr, double *tps)
{
	struct gen g[MAX_GEN];
	_Atomic bool stop = false;
	unsigned started = 0;
	int rc = 0;
	memset(g, 0, sizeof g);
	memset(pr, 0, sizeof *pr);
	pr->seconds = pl->load_seconds;
	pr->period_us = pl->load_period_us;
	for (; started < n; started++) {
		g[started].stop = &stop;
		g[started].tokens = pl->load_tokens;
		if ((rc = al_bench_http_client(h, &g[started].c)) < 0)
			break;
		if ((rc = -pthread_create(&g[started].th, NULL, gen_main, &g[started])) < 0) {
			al_bench_http_stop(&g[started].c);
			break;
		}
	}
	if (rc == 0 && n)
		usleep(pl->quick ? 50000 : 300000); /* the generations under way */
	if (rc == 0 && (rc = al_bench_http_client(h, &pr->c)) == 0) {
		pr->fifo = pl->load_probe_fifo;
		pthread_attr_t a;
		pthread_attr_init(&a);
		struct sched_param sp = { .sched_priority = PROBE_PRIO };
		if (pr->fifo) {
			pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
			pthread_attr_setschedpolicy(&a, SCHED_FIFO);
			pthread_attr_setschedparam(&a, &sp);
		}
		pthread_t th;
		int e = pthread_create(&th, &a, probe_main, pr);
		if (e && pr->fifo) {
			/* not permitted here: the same probe at this thread's own class */
			l->probe_err = e;
			e = pthread_create(&th, NULL, probe_main, pr);
		} else if (e == 0) {
			l->probe_set = true;
		}
		pthread_attr_destroy(&a);
		if (e)
			rc = -e;
		else
			pthread_join(th, NULL);
		if (!e && pr->nice_err) {
			l->probe_set = false;
			l->probe_err = pr->nice_err;
		}
		if (rc == 0)
			rc = pr->rc;
	}
	atomic_store(&stop, true);
	size_t done = 0;
	for (unsigned i = 0; i < started; i++) {
		pthread_join(g[i].th, NULL);
		for (size_t k = 0; k < g[i].n; k++)
			done += g[i].done_ns[k] > pr->t0 && g[i].done_ns[k] <= pr->t1;
		if (rc == 0 && g[i].rc < 0)
			rc = g[i].rc;
		free(g[i].done_ns);
		al_bench_http_stop(&g[i].c);
	}
	al_bench_http_stop(&pr->c);
	*tps = pr->t1 > pr->t0 ? (double)done * l->tokens_per_gen * 1e9 / (double)(pr->t1 - pr->t0) : NAN;
	return rc;
}

int al_bench_load_new(struct al_bench_env *e, const struct al_bench_plan *p, struct al_bench_load **out)
{
	struct al_bench_load *l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	/* greedy decoding is deterministic: every generate of the run yields these tokens */
	struct al_bench_engine g;
	uint64_t ns;
	uint32_t toks = 0;
	int rc = al_bench_engine_build(&e->dflt, &g);
	if (rc == 0)
		rc = al_bench_engine_request(&g, p->load_tokens, &ns, &toks);
	al_bench_engine_free(&g);
	if (rc < 0 || toks == 0) {
		free(l);
		return rc < 0 ? rc : -EIO;
	}
	l->tokens_per_gen = toks;
	l->sched = json_object();
	*out = l;
	return 0;
}

void al_bench_load_free(struct al_bench_load *l)
{
	if (!l)
		return;
	for (int i = 0; i < NLOADS; i++) {
		for (int s = 0; s < NSTAT; s++)
			al_bench_samples_free(&l->lat[i][s]);
		al_bench_samples_free(&l->tps[i]);
	}
	json_decref(l->sched);
	free(l);
}

static struct al_bench_rowdef lat_row(int li, int s)
{
	static char ids[NLOADS][NSTAT][48], labels[NLOADS][NSTAT][64];
	snprintf(ids[li][s], sizeof ids[li][s], "load.%u.tools_list_%s", loads[li], stat_names[s]);
	snprintf(labels[li][s], sizeof labels[li][s], "tools/list %s, %u gen", stat_labels[s], loads[li]);
	struct al_bench_rowdef d = { .id = ids[li][s], .label = labels[li][s], .unit = "us", .stat = stat_names[s],
				     .cost_unit = "x" };
	if (loads[li] == GOAL_LOAD && s == 1)
		d.claims[0] = (struct al_bench_claim){ "goal", "p99 at most 1.0x the unsandboxed stack under the same load",
						       1.0, AL_BENCH_ALL };
	return d;
}

static struct al_bench_rowdef tps_row(int li)
{
	static char ids[NLOADS][48], labels[NLOADS][64];
	snprintf(ids[li], sizeof ids[li], "load.%u.tokens_per_s", loads[li]);
	snprintf(labels[li], sizeof labels[li], "generation tok/s, %u gen", loads[li]);
	return (struct al_bench_rowdef){ .id = ids[li], .label = labels[li], .unit = "tok/s", .stat = "median",
					 .higher_better = true, .pct = true, .cost_unit = "% loss" };
}

static void per_round(struct al_bench_samples *s, const struct al_bench_rowdef *d, int cfg, double *base, size_t nb,
		      double *v, size_t nv)
{
	struct al_bench_stat b, x;
	al_bench_stat(base, nb, &b);
	al_bench_stat(v, nv, &x);
	if (nb && nv)
		al_bench_pair(s, d, cfg, al_bench_pick(&b, d->stat), al_bench_pick(&x, d->stat));
}

/* Whether every domain's real-time I/O threads hold their class, as the
 * supervisor reads them back (true where a class has none). */
static bool io_threads_set(struct al_bench_http *sup)
{
	json_t *st = al_bench_http_status(sup), *dom;
	size_t i;
	bool set = st != NULL;
	json_array_foreach(json_object_get(st, "domains"), i, dom) {
		json_t *io = json_object_get(json_object_get(dom, "sched"), "io_threads");
		/* an adaptive class's threads in the default class while calm are set too */
		if (io && !json_is_true(json_object_get(io, "calm")) &&
		    json_integer_value(json_object_get(io, "set")) < json_integer_value(json_object_get(io, "max")))
			set = false;
	}
	json_decref(st);
	return set;
}

int al_bench_load_level(struct al_bench_env *e, const struct al_bench_plan *p, struct al_bench_load *l, int cfg,
			struct al_bench_http *peer, struct al_bench_http *sup)
{
	struct al_bench_http *h[2] = { peer, sup };
	int rc = 0;
	/* the supervisor sets a new domain's real-time I/O threads within
	 * milliseconds of their start: wait for them, at most a tick (1 s) */
	for (int tries = 0; tries < 120 && !io_threads_set(sup); tries++)
		usleep(10000);
	/* One snapshot of the other tasks between cells: each cell's end is the
	 * next one's start. */
	struct al_bench_others_snap snap[2] = { 0 };
	int oe = al_bench_others_snap(&snap[0]);
	for (unsigned r = 0; r < p->load_rounds && rc == 0; r++)
		for (int k = 0; k < NLOADS && rc == 0; k++) {
			int li = (int)((r + (unsigned)k) % NLOADS);
			struct probe pr[2];
			double tps[2] = { NAN, NAN };
			memset(pr, 0, sizeof pr);
			for (int j = 0; j < 2 && rc == 0; j++) {
				int c = (int)((r + (unsigned)k + (unsigned)j) % 2);
				rc = cell(l, p, h[c], loads[li], &pr[c], &tps[c]);
				if (oe == 0 && (oe = al_bench_others_snap(&snap[1])) == 0) {
					al_bench_others_add(&l->others[li], &snap[0], &snap[1]);
					struct al_bench_others_snap t = snap[0];
					snap[0] = snap[1];
					snap[1] = t;
				}
				for (size_t i = 0; i < pr[c].n && rc == 0; i++)
					for (int s = 0; s < NSTAT; s++) {
						if (c)
							al_bench_push(&l->lat[li][s], cfg, pr[c].lat[i]);
						else
							al_bench_push_paired(&l->lat[li][s], cfg, pr[c].lat[i]);
					}
				if (rc == 0 && loads[li]) {
					if (c)
						al_bench_push(&l->tps[li], cfg, tps[c]);
					else
						al_bench_push_paired(&l->tps[li], cfg, tps[c]);
				}
			}
			if (rc == 0) {
				for (int s = 0; s < NSTAT; s++) {
					struct al_bench_rowdef d = lat_row(li, s);
					per_round(&l->lat[li][s], &d, cfg, pr[0].lat, pr[0].n, pr[1].lat, pr[1].n);
				}
				if (loads[li]) {
					struct al_bench_rowdef d = tps_row(li);
					al_bench_pair(&l->tps[li], &d, cfg, tps[0], tps[1]);
				}
				al_bench_log(e, "  %u gen: tools/list p99 %.0f us unsandboxed, %.0f us airlock", loads[li],
					     pr[0].n ? pr[0].lat[(size_t)(0.99 * (double)(pr[0].n - 1))] : NAN,
					     pr[1].n ? pr[1].lat[(size_t)(0.99 * (double)(pr[1].n - 1))] : NAN);
			}
			free(pr[0].lat);
			free(pr[1].lat);
		}
	if (oe < 0)
		l->others_err = -oe;
	al_bench_others_free(&snap[0]);
	al_bench_others_free(&snap[1]);
	/* what was in force: the supervisor's own read-back of every thread */
	json_t *st = al_bench_http_status(sup), *dom, *mine = json_object();
	size_t i;
	json_array_foreach(json_object_get(st, "domains"), i, dom)
		if (json_object_get(dom, "sched"))
			json_object_set(mine, json_string_value(json_object_get(dom, "name")), json_object_get(dom, "sched"));
	json_decref(st);
	json_object_set_new(l->sched, al_level_name(p->lev[cfg - 1]), mine);
	return rc;
}

/* ---- the section and its goals -------------------------------------------- */

static double stat_of(struct al_bench_samples *s, int cfg, const char *stat)
{
	struct al_bench_stat st;
	al_bench_stat(s->v[cfg], s->n[cfg], &st);
	return st.n ? al_bench_pick(&st, stat) : NAN;
}

/* The baseline of level cfg's own interval, else all of it. */
static double base_of(struct al_bench_samples *s, int cfg, const char *stat)
{
	struct al_bench_stat st;
	if (s->bn[cfg])
		al_bench_stat(s->b[cfg], s->bn[cfg], &st);
	else
		al_bench_stat(s->v[0], s->n[0], &st);
	return st.n ? al_bench_pick(&st, stat) : NAN;
}

struct goal {
	const char *id, *text, *unit;
	double limit;
	unsigned levels;
};

static json_t *num_or_null(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

/*
 * The goals of the section, each a figure per endpoint: the p99 and p99.9
 * that two generations add to the idle figure (the seed's +50 µs budget and
 * ours), and, for each level, the p99 against the unsandboxed stack under
 * the same load and the generation throughput against it.
 */
static json_t *goals(const struct al_bench_plan *p, struct al_bench_load *l)
{
	static const struct goal gs[] = {
		{ "p99_added", "tools/list p99 with 2 generations at most idle p99 + 50 us", "us added", 50,
		  AL_BENCH_LVL(AL_LEVEL_STANDARD) },
		{ "p999_added", "tools/list p99.9 with 2 generations at most idle p99.9 + 200 us", "us added", 200,
		  AL_BENCH_LVL(AL_LEVEL_STANDARD) },
		{ "p99_ratio", "tools/list p99 with 2 generations at most 1.0x the unsandboxed stack", "x", 1.0,
		  AL_BENCH_ALL },
		{ "tps_loss", "generation tok/s with 2 generations at most 5 % below the unsandboxed stack's", "% loss", 5,
		  AL_BENCH_LVL(AL_LEVEL_STANDARD) },
	};
	int g2 = -1, g0 = -1;
	for (int i = 0; i < NLOADS; i++) {
		if (loads[i] == GOAL_LOAD)
			g2 = i;
		if (loads[i] == 0)
			g0 = i;
	}
	json_t *out = json_array();
	for (size_t k = 0; k < AL_ARRAY_LEN(gs); k++) {
		json_t *values = json_object(), *verdict = json_object(), *lv = json_array();
		for (int lvl = 0; lvl < AL_LEVEL_COUNT; lvl++)
			if (gs[k].levels & AL_BENCH_LVL(lvl))
				json_array_append_new(lv, json_string(al_level_name(lvl)));
		for (int c = 0; c <= p->nlev; c++) {
			double v = NAN;
			if (k == 0 || k == 1) {
				const char *st = k == 0 ? "p99" : "p999";
				v = stat_of(&l->lat[g2][k + 1], c, st) - stat_of(&l->lat[g0][k + 1], c, st);
			} else if (c == 0) {
				continue; /* against itself */
			} else if (k == 2) {
				v = stat_of(&l->lat[g2][1], c, "p99") / base_of(&l->lat[g2][1], c, "p99");
			} else {
				double b = base_of(&l->tps[g2], c, "median");
				v = (b - stat_of(&l->tps[g2], c, "median")) / b * 100.0;
			}
			const char *name = c ? al_level_name(p->lev[c - 1]) : "baseline";
			json_object_set_new(values, name, num_or_null(v));
			if (c && (gs[k].levels & AL_BENCH_LVL(p->lev[c - 1])) && !isnan(v))
				json_object_set_new(verdict, name, json_string(v <= gs[k].limit ? "pass" : "fail"));
		}
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:f, s:o, s:o, s:o}", "id", gs[k].id, "text",
						     gs[k].text, "unit", gs[k].unit, "limit", gs[k].limit, "levels", lv,
						     "values", values, "verdict", verdict));
	}
	return out;
}

/* The machine's other tasks during each load's cells: their share of one CPU,
 * and the names that ran most. */
static json_t *others_json(struct al_bench_load *l)
{
	if (l->others_err)
		return json_pack("{s:s}", "error", strerror(l->others_err));
	json_t *a = json_array();
	for (int li = 0; li < NLOADS; li++) {
		struct al_bench_others_use *u = &l->others[li];
		if (!u->wall_ns)
			continue;
		al_bench_others_sort(u);
		json_t *top = json_array();
		for (size_t k = 0; k < u->n && k < 4; k++)
			json_array_append_new(top, json_pack("{s:s, s:f}", "name", u->by[k].comm, "cpu_pct",
							     100.0 * (double)u->by[k].ns / (double)u->wall_ns));
		json_array_append_new(a, json_pack("{s:i, s:f, s:o}", "generations", (int)loads[li], "cpu_pct",
						   100.0 * (double)u->total_ns / (double)u->wall_ns, "top", top));
	}
	return json_pack("{s:o}", "loads", a);
}

json_t *al_bench_load_section(const struct al_bench_plan *p, struct al_bench_load *l, int rc, json_t *warnings)
{
	char method[1200], probe[128];
	if (p->load_probe_fifo && l && l->probe_set)
		snprintf(probe, sizeof probe, "SCHED_FIFO %d (its own wait for a CPU left out)", PROBE_PRIO);
	else if (p->load_probe_fifo)
		snprintf(probe, sizeof probe, "the default class (SCHED_FIFO: %s)",
			 l ? strerror(l->probe_err) : "not tried");
	else if (l && l->probe_set)
		snprintf(probe, sizeof probe, "the default class at nice %d", PROBE_NICE);
	else
		snprintf(probe, sizeof probe, "the default class (nice %d: %s)", PROBE_NICE,
			 l ? strerror(l->probe_err) : "not tried");
	snprintf(method, sizeof method,
		 "MCP tools/list over HTTP keep-alive (libcurl), one every %u us for %.1f s per cell, timed by a "
		 "probe thread at %s, while 0, 1, 2 or 4 other connections each keep one greedy generate of %u "
		 "tokens (%.0f generated) running back to back; airlock: a supervisor per level (both domains "
		 "sandboxed, the level's scheduling policy), one level at a time; baseline: the same HTTP handlers, "
		 "channel and engine as threads of one unsandboxed process under the same clients, interleaved "
		 "with each level; %u rounds, loads in rotating order; percentiles over all samples of a cell, "
		 "cost = airlock's figure / the baseline's (noise: the per-round ratios disagree on the side of 1); "
		 "tok/s = completed generations in the window x tokens each / window",
		 p->load_period_us, p->load_seconds, probe, p->load_tokens, l ? l->tokens_per_gen : NAN, p->load_rounds);
	json_t *sec = al_bench_section("load", "Protocol under generation", method, "one unsandboxed process");
	if (rc < 0 || !l) {
		struct al_bench_rowdef d = lat_row(0, 0);
		al_bench_add_row(sec, al_bench_row_error(&d, "generation load", rc < 0 ? rc : -ENOMEM));
		return sec;
	}
	for (int li = 0; li < NLOADS; li++) {
		for (int s = 0; s < NSTAT; s++) {
			struct al_bench_rowdef d = lat_row(li, s);
			al_bench_add_row(sec, al_bench_row_json(p, &d, &l->lat[li][s], "baseline", warnings));
		}
		if (loads[li]) {
			struct al_bench_rowdef d = tps_row(li);
			al_bench_add_row(sec, al_bench_row_json(p, &d, &l->tps[li], "baseline", warnings));
		}
	}
	json_object_set_new(sec, "goals", goals(p, l));
	json_object_set_new(sec, "others", others_json(l));
	json_object_set(sec, "sched", l->sched);
	json_object_set_new(sec, "probe_sched", json_string(!l->probe_set ? "default"
							   : p->load_probe_fifo ? "SCHED_FIFO" : "nice -20"));
	json_object_set_new(sec, "rounds", json_integer(p->load_rounds));
	return sec;
}
