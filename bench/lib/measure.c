/*
 * The measurements of `airlock bench`, in the order they are printed. Each
 * compares a baseline (the same work without airlock's security) with the
 * same work at each selected level, repetitions interleaved: every round
 * visits every configuration once, in an order that rotates from round to
 * round, so drift in the machine's load spreads over all of them alike.
 *
 * Every row records its samples' median, quartiles and p99, its cost against
 * the baseline (positive: airlock is slower), whether that cost is smaller
 * than the spread (noise), and its verdict against the seed's claim and our
 * goal where one applies.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "al_config.h"
#include "bench_int.h"
#include "common/log.h"
#include "common/util.h"

#define NCFG 5 /* baseline + four levels */

struct plan {
	bool quick;
	int nlev;
	enum al_level lev[AL_LEVEL_COUNT]; /* levels measured, in order */
	/* repetitions */
	unsigned ai_rounds, ai_tokens;
	unsigned http_rounds, http_batch;
	unsigned total_rounds, total_tokens;
	unsigned chan_rounds, chan_batch;
	unsigned cs_rounds, cs_batch;
	unsigned spawn_rounds;
};

/* Samples of one row: [0] the baseline, [1 + i] level lev[i]. When the
 * levels were measured one at a time, each against the baseline in the same
 * interval, b[1 + i] holds that level's own baseline samples. */
struct samples {
	double *v[NCFG], *b[NCFG];
	size_t n[NCFG], cap[NCFG], bn[NCFG], bcap[NCFG];
	/* paired costs: each level's sample against the baseline of its round */
	double *d[NCFG];
	size_t dn[NCFG], dcap[NCFG];
};

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

static void push(struct samples *s, int cfg, double x)
{
	append(&s->v[cfg], &s->n[cfg], &s->cap[cfg], x);
}

/* A baseline sample taken while level cfg was measured. */
static void push_paired(struct samples *s, int cfg, double x)
{
	push(s, 0, x);
	append(&s->b[cfg], &s->bn[cfg], &s->bcap[cfg], x);
}

static void samples_free(struct samples *s)
{
	for (int i = 0; i < NCFG; i++) {
		free(s->v[i]);
		free(s->b[i]);
		free(s->d[i]);
	}
	memset(s, 0, sizeof *s);
}

/* A claim a row is judged against: cost <= limit at the listed levels. */
struct claim {
	const char *who;     /* "seed" or "goal" */
	const char *text;
	double limit;        /* in the row's cost unit */
	unsigned levels;     /* bit per level; 0 = none */
};

#define ALL_LEVELS 0xfu
#define LVL(l) (1u << (l))

struct rowdef {
	const char *id, *label, *unit;
	const char *stat;     /* "median" or "p99" */
	bool higher_better;   /* tokens/s: the cost is a loss in % */
	bool pct;             /* the cost in % of the baseline, else in unit */
	const char *cost_unit;
	struct claim claims[2];
};

static double pick(const struct al_bench_stat *s, const char *stat)
{
	return strcmp(stat, "p99") == 0 ? s->p99 : s->median;
}

/* cost > 0: airlock's configuration is worse than the baseline */
static double cost_of(const struct rowdef *d, double base, double v)
{
	if (d->higher_better)
		return base > 0 ? (base - v) / base * 100.0 : NAN;
	if (d->pct)
		return base > 0 ? (v - base) / base * 100.0 : NAN;
	return v - base;
}

/* The cost of one round: a level's sample against the baseline's of the same round. */
static void pair(struct samples *s, const struct rowdef *d, int cfg, double base, double v)
{
	if (!isnan(base) && !isnan(v))
		append(&s->d[cfg], &s->dn[cfg], &s->dcap[cfg], cost_of(d, base, v));
}

/* The spread in cost units: the wider interquartile range of the two. */
static double spread_of(const struct rowdef *d, const struct al_bench_stat *b, const struct al_bench_stat *l)
{
	double w = fmax(b->p75 - b->p25, l->p75 - l->p25);
	if (d->higher_better || d->pct)
		return b->median > 0 ? w / b->median * 100.0 : NAN;
	return w;
}

static json_t *row_json(const struct plan *p, const struct rowdef *d, struct samples *s, const char *base_name,
			json_t *warnings)
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
			if (d->claims[c].levels & LVL(l))
				json_array_append_new(lv, json_string(al_level_name(l)));
		json_array_append_new(claims, json_pack("{s:s, s:s, s:f, s:o}", "who", d->claims[c].who, "text",
							d->claims[c].text, "limit", d->claims[c].limit, "levels", lv));
	}
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
		double c = cost_of(d, pick(&pb, d->stat), pick(&st, d->stat));
		double sp = spread_of(d, &pb, &st);
		bool noisy = fabs(c) < sp;
		struct al_bench_stat ds = { 0 };
		if (s->dn[1 + i]) {
			/* paired rounds: the median of the per-round costs, which a
			 * drifting load shifts on both sides alike; noise when the
			 * middle half of the rounds does not agree on its sign */
			al_bench_stat(s->d[1 + i], s->dn[1 + i], &ds);
			c = ds.median;
			sp = ds.p75 - ds.p25;
			noisy = ds.p25 <= 0 && ds.p75 >= 0;
		}
		json_t *co = json_pack("{s:f, s:f, s:b, s:s}", "value", c, "spread", sp, "noisy", noisy, "method",
				       s->dn[1 + i] ? "median of paired rounds" : "difference of medians");
		if (s->dn[1 + i])
			json_object_set_new(co, "paired", al_bench_stat_json(&ds));
		if (s->bn[1 + i])
			json_object_set_new(co, "paired_baseline", al_bench_stat_json(&pb));
		json_object_set_new(cost, name, co);
		if (noisy && c > 0) {
			char w[200];
			snprintf(w, sizeof w, "%s at %s: cost %.3g %s is within the spread %.3g%s (noise)", d->label, name, c,
				 d->cost_unit, sp, s->dn[1 + i] ? " of the paired rounds" : "");
			json_array_append_new(warnings, json_string(w));
		}
		json_t *vo = json_object();
		for (int k = 0; k < 2; k++)
			if (d->claims[k].who && (d->claims[k].levels & LVL(p->lev[i])))
				json_object_set_new(vo, d->claims[k].who, json_string(c <= d->claims[k].limit ? "pass" : "fail"));
		json_object_set_new(verdict, name, vo);
	}
	json_object_set_new(row, "values", values);
	json_object_set_new(row, "cost", cost);
	json_object_set_new(row, "claims", claims);
	json_object_set_new(row, "verdict", verdict);
	return row;
}

static json_t *row_error(const struct rowdef *d, const char *what, int rc)
{
	char e[160];
	snprintf(e, sizeof e, "%s: %s", what, rc < -1000 ? al_chan_strerror(rc) : strerror(-rc));
	return json_pack("{s:s, s:s, s:s, s:s}", "id", d->id, "label", d->label, "unit", d->unit, "error", e);
}

static json_t *section(const char *id, const char *title, const char *method, const char *baseline)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:[]}", "id", id, "title", title, "method", method, "baseline",
			 baseline, "rows");
}

static void add_row(json_t *sec, json_t *row)
{
	json_array_append_new(json_object_get(sec, "rows"), row);
}

/* Configuration visited at position k of round r: the order rotates. */
static int visit(const struct plan *p, unsigned r, int k)
{
	return (int)((r + (unsigned)k) % (unsigned)(p->nlev + 1));
}

static int level_of(const struct plan *p, int cfg)
{
	if (cfg == 0)
		return -1;
	return p->lev[cfg - 1];
}

/* ---- AI ------------------------------------------------------------------ */

/*
 * plain = false: baseline is the engine in this process (the whole cost of
 * the boundary: process, channel, sandbox). plain = true: baseline is the
 * same worker as a plain process over the same channel (the sandbox alone).
 */
static json_t *measure_ai(struct al_bench_env *e, const struct plan *p, json_t *warnings, bool plain)
{
	char method[640];
	snprintf(method, sizeof method,
		 "greedy generation of %u tokens from \"%s\" on the embedded model, one thread; airlock: airlock-ai "
		 "spawned through the sandbox library (compute profile + the level), driven over the channel as "
		 "the protocol domain does, timed from the request to its done record; baseline: %s; %u "
		 "interleaved rounds",
		 p->ai_tokens, AL_BENCH_PROMPT,
		 plain ? "the same worker started as a plain process (fork + exec, no sandbox) over the same channel"
		       : "the same engine called in this process",
		 p->ai_rounds);
	json_t *sec = plain ? section("ai_sandbox", "AI domain, the sandbox alone", method, "plain worker process")
			    : section("ai", "AI domain", method, "in-process engine");
	static const struct rowdef tps = { "ai.tokens_per_s", "tokens/s", "tok/s", "median", true, true, "% loss",
					   { { "goal", "tokens/s loss <= 1 % at standard", 1.0, LVL(AL_LEVEL_STANDARD) } } };
	static const struct rowdef lat = { "ai.request_ms", "request latency", "ms", "median", false, false, "ms added",
					   { { "seed", "AI inference +2 ms", 2.0, ALL_LEVELS } } };
	struct al_bench_engine g = { .built = false };
	struct al_bench_ai ai[NCFG];
	int rc = 0, up = plain ? 0 : 1;
	if (!plain && (rc = al_bench_engine_build(e, &g)) < 0) {
		add_row(sec, row_error(&tps, "engine", rc));
		return sec;
	}
	int first = up;
	for (; up <= p->nlev; up++)
		if ((rc = al_bench_ai_start(e, level_of(p, up), &ai[up])) < 0)
			break;
	if (rc < 0) {
		add_row(sec, row_error(&tps, up ? "AI domain" : "plain worker", rc));
		goto out;
	}
	struct samples st = { 0 }, sl = { 0 };
	uint64_t ns;
	uint32_t toks;
	/* warm-up: page in the model, settle the spin budgets */
	for (int c = 0; c <= p->nlev; c++)
		for (int w = 0; w < 3; w++)
			rc = c || plain ? al_bench_ai_request(&ai[c], p->ai_tokens, &ns, &toks)
					: al_bench_engine_request(&g, p->ai_tokens, &ns, &toks);
	for (unsigned r = 0; r < p->ai_rounds && rc == 0; r++) {
		double vt[NCFG], vl[NCFG];
		for (int c = 0; c < NCFG; c++)
			vt[c] = vl[c] = NAN;
		for (int k = 0; k <= p->nlev && rc == 0; k++) {
			int c = visit(p, r, k);
			rc = c || plain ? al_bench_ai_request(&ai[c], p->ai_tokens, &ns, &toks)
					: al_bench_engine_request(&g, p->ai_tokens, &ns, &toks);
			if (rc == 0 && toks > 0) {
				push(&st, c, vt[c] = (double)toks * 1e9 / (double)ns);
				push(&sl, c, vl[c] = (double)ns / 1e6);
			}
		}
		for (int c = 1; c <= p->nlev; c++) {
			pair(&st, &tps, c, vt[0], vt[c]);
			pair(&sl, &lat, c, vl[0], vl[c]);
		}
	}
	if (rc < 0) {
		add_row(sec, row_error(&tps, "request", rc));
	} else {
		add_row(sec, row_json(p, &tps, &st, "baseline", warnings));
		add_row(sec, row_json(p, &lat, &sl, "baseline", warnings));
	}
	samples_free(&st);
	samples_free(&sl);
out:
	for (int i = first; i < up; i++)
		al_bench_ai_stop(&ai[i]);
	al_bench_engine_free(&g);
	return sec;
}

/* ---- protocol and total --------------------------------------------------- */

static json_t *measure_http(struct al_bench_env *e, const struct plan *p, json_t *warnings, json_t **total_out)
{
	char method[640];
	snprintf(method, sizeof method,
		 "MCP over HTTP/1.1 keep-alive (libcurl, one connection, concurrency 1), stateless 2026-07-28 "
		 "requests; airlock: a supervisor per level (airlock run: both domains sandboxed and attested, "
		 "channel between them), one level at a time; baseline: the same HTTP handlers, channel and engine "
		 "as threads of one unsandboxed process, interleaved with each level (each level's cost is against "
		 "the baseline of its own interval); %u rounds of %u requests of each kind per endpoint and level",
		 p->http_rounds, p->http_batch);
	json_t *sec = section("protocol", "Protocol domain", method, "one unsandboxed process");
	static const struct rowdef rows[] = {
		{ "proto.tools_list_p50", "tools/list p50", "us", "median", false, false, "us added",
		  { { "seed", "protocol +50 us", 50, ALL_LEVELS } } },
		{ "proto.tools_list_p99", "tools/list p99", "us", "p99", false, false, "us added",
		  { { "seed", "protocol +50 us", 50, ALL_LEVELS }, { "goal", "p99 added <= 20 us", 20, ALL_LEVELS } } },
		{ "proto.generate1_p50", "generate max_tokens=1 p50", "us", "median", false, false, "us added",
		  { { "seed", "protocol +50 us", 50, ALL_LEVELS } } },
		{ "proto.generate1_p99", "generate max_tokens=1 p99", "us", "p99", false, false, "us added",
		  { { "seed", "protocol +50 us", 50, ALL_LEVELS }, { "goal", "p99 added <= 20 us", 20, ALL_LEVELS } } },
	};
	static const struct rowdef total = { "total.generate", "end-to-end generate", "ms", "median", false, true,
					     "% overhead", { { NULL } } };
	char tmethod[512];
	snprintf(tmethod, sizeof tmethod,
		 "the whole path a client sees: MCP generate of %u tokens (greedy) over HTTP, airlock at each level "
		 "vs the same handlers and engine in one unsandboxed process, one level at a time interleaved with "
		 "the baseline; %u rounds per level; overhead = median / median of the baseline in the same interval - 1",
		 p->total_tokens, p->total_rounds);
	json_t *tsec = section("total", "Total overhead", tmethod, "one unsandboxed process");
	*total_out = tsec;

	/*
	 * The baseline runs throughout; each level's supervisor runs only while
	 * that level is measured, interleaved with the baseline, and its cost is
	 * taken against the baseline samples of that same interval: idle
	 * supervisors would otherwise crowd a small machine.
	 */
	struct al_bench_http peer, sup;
	struct samples s[4] = { 0 }, t = { 0 };
	int rc;
	uint64_t ns;
	al_bench_log(e, "starting the unsandboxed endpoint");
	if ((rc = al_bench_http_start(e, -1, &peer)) < 0) {
		add_row(sec, row_error(&rows[0], "unsandboxed peer", rc));
		add_row(tsec, row_error(&total, "endpoints", rc));
		return sec;
	}
	for (int i = 0; i < p->nlev && rc == 0; i++) {
		int cfg = 1 + i;
		al_bench_log(e, "starting the %s supervisor", al_level_name(p->lev[i]));
		if ((rc = al_bench_http_start(e, p->lev[i], &sup)) < 0)
			break;
		struct al_bench_http *h[2] = { &peer, &sup };
		for (int c = 0; c < 2; c++)
			for (int w = 0; w < 20 && rc == 0; w++)
				rc = al_bench_http_request(h[c], w & 1, &ns);
		for (unsigned r = 0; r < p->http_rounds && rc == 0; r++)
			for (int k = 0; k < 2 && rc == 0; k++) {
				int c = (int)((r + (unsigned)k) % 2);
				for (unsigned b = 0; b < p->http_batch && rc == 0; b++) {
					for (int kind = 0; kind < 2 && rc == 0; kind++) {
						if ((rc = al_bench_http_request(h[c], (unsigned)kind, &ns)) < 0)
							break;
						for (int q = 2 * kind; q < 2 * kind + 2; q++) {
							if (c)
								push(&s[q], cfg, (double)ns / 1e3);
							else
								push_paired(&s[q], cfg, (double)ns / 1e3);
						}
					}
				}
			}
		for (unsigned r = 0; r < p->total_rounds && rc == 0; r++) {
			double v[2] = { NAN, NAN };
			for (int k = 0; k < 2 && rc == 0; k++) {
				int c = (int)((r + (unsigned)k) % 2);
				if ((rc = al_bench_http_request(h[c], p->total_tokens, &ns)) == 0) {
					v[c] = (double)ns / 1e6;
					if (c)
						push(&t, cfg, v[c]);
					else
						push_paired(&t, cfg, v[c]);
				}
			}
			pair(&t, &total, cfg, v[0], v[1]);
		}
		al_bench_http_stop(&sup);
	}
	al_bench_http_stop(&peer);
	if (rc < 0) {
		add_row(sec, row_error(&rows[0], "supervisor or request", rc));
		add_row(tsec, row_error(&total, "generate", rc));
	} else {
		for (int i = 0; i < 4; i++)
			add_row(sec, row_json(p, &rows[i], &s[i], "baseline", warnings));
		add_row(tsec, row_json(p, &total, &t, "baseline", warnings));
	}
	for (int i = 0; i < 4; i++)
		samples_free(&s[i]);
	samples_free(&t);
	return sec;
}

/* ---- channel --------------------------------------------------------------- */

#if defined(__x86_64__) || defined(__i386__)
#define RELAX() __builtin_ia32_pause()
#else
#define RELAX() do {} while (0)
#endif

/* Cache-line ping-pong between this process (CPU a) and a child (CPU b). */
static double c2c_limit(unsigned n, int a, int b)
{
	_Atomic uint64_t *line = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (line == MAP_FAILED)
		return NAN;
	pid_t pid = fork();
	if (pid == 0) {
		al_bench_pin(b);
		for (uint64_t expect = 1;; expect += 2) {
			while (atomic_load_explicit(line, memory_order_acquire) != expect)
				RELAX();
			atomic_store_explicit(line, expect + 1, memory_order_release);
		}
	}
	al_bench_pin(a);
	double best = NAN;
	uint64_t v = 0;
	for (int rep = 0; rep < 20 && pid > 0; rep++) {
		uint64_t t0 = al_now_ns();
		for (unsigned k = 0; k < n; k++) {
			atomic_store_explicit(line, v + 1, memory_order_release);
			uint64_t spins = 0;
			while (atomic_load_explicit(line, memory_order_acquire) != v + 2 && ++spins < 100000000)
				RELAX();
			v += 2;
		}
		double x = (double)(al_now_ns() - t0) / n;
		if (isnan(best) || x < best)
			best = x;
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	munmap((void *)line, 4096);
	return best;
}

static json_t *measure_channel(struct al_bench_env *e, const struct plan *p, json_t *warnings)
{
	int ncpu = CPU_COUNT(&e->affinity), a = -1, b = -1;
	for (int c = 0; c < CPU_SETSIZE && b < 0; c++)
		if (CPU_ISSET(c, &e->affinity)) {
			if (a < 0)
				a = c;
			else
				b = c;
		}
	double limit = ncpu >= 2 ? c2c_limit(20000, a, b) : NAN;
	al_bench_unpin(e);
	char method[600];
	snprintf(method, sizeof method,
		 "ping/pong over the channel (two 32-byte records, each copied once and validated), this process "
		 "pinned to CPU %d as the protocol side; airlock: airlock-ai in a domain at the level (standard and "
		 "above pin it to its own CPU); baseline: the same worker as a plain process; %u rounds of %u round "
		 "trips; core-to-core limit (cache-line ping-pong, CPU %d <-> %d, best of 20): %.0f ns",
		 a, p->chan_rounds, p->chan_batch, a, b, limit);
	json_t *sec = section("channel", "Channel", method, "plain process");
	json_object_set_new(sec, "core_to_core_ns", isnan(limit) ? json_null() : json_real(limit));
	static const struct rowdef rt = { "channel.round_trip", "channel round trip", "ns", "median", false, false,
					  "ns added", { { NULL } } };
	struct al_bench_ai ai[NCFG];
	int rc = 0, up = 0;
	for (; up <= p->nlev; up++)
		if ((rc = al_bench_ai_start(e, level_of(p, up), &ai[up])) < 0)
			break;
	if (rc < 0) {
		add_row(sec, row_error(&rt, "AI worker", rc));
		goto out;
	}
	if (a >= 0)
		al_bench_pin(a);
	struct samples s = { 0 };
	double ns;
	for (int c = 0; c <= p->nlev && rc == 0; c++)
		rc = al_bench_ai_ping(&ai[c], 200, &ns);
	for (unsigned r = 0; r < p->chan_rounds && rc == 0; r++) {
		double v[NCFG];
		for (int c = 0; c < NCFG; c++)
			v[c] = NAN;
		for (int k = 0; k <= p->nlev && rc == 0; k++) {
			int c = visit(p, r, k);
			if ((rc = al_bench_ai_ping(&ai[c], p->chan_batch, &ns)) == 0)
				push(&s, c, v[c] = ns);
		}
		for (int c = 1; c <= p->nlev; c++)
			pair(&s, &rt, c, v[0], v[c]);
	}
	al_bench_unpin(e);
	if (rc < 0) {
		add_row(sec, row_error(&rt, "ping", rc));
	} else {
		json_t *row = row_json(p, &rt, &s, "baseline", warnings);
		struct al_bench_stat st;
		al_bench_stat(s.v[0], s.n[0], &st);
		json_object_set_new(row, "ratio_to_limit", isnan(limit) || limit <= 0 ? json_null() : json_real(st.median / limit));
		add_row(sec, row);
	}
	samples_free(&s);
out:
	for (int i = 0; i < up; i++)
		al_bench_ai_stop(&ai[i]);
	return sec;
}

/* ---- context switch ---------------------------------------------------------- */

static json_t *measure_switch(struct al_bench_env *e, const struct plan *p, json_t *warnings)
{
	int cpu = -1;
	for (int c = 0; c < CPU_SETSIZE && cpu < 0; c++)
		if (CPU_ISSET(c, &e->affinity))
			cpu = c;
	char method[512];
	snprintf(method, sizeof method,
		 "futex ping-pong between this process and airlock-bench-peer, both pinned to CPU %d, so every "
		 "hand-over is a context switch (two per round trip; figure = round trip / 2); airlock: the peer "
		 "in a domain at the level (its speculation controls, seccomp filter and namespaces; the level's CPU "
		 "placement set aside); baseline: the same peer as a plain process; %u rounds of %u round trips",
		 cpu, p->cs_rounds, p->cs_batch);
	json_t *sec = section("switch", "Context switch", method, "plain process");
	static const struct rowdef cs = { "switch.futex", "context switch", "us", "median", false, false, "us added",
					  { { "seed", "context switch +10 us", 10, ALL_LEVELS } } };
	struct al_bench_futex f[NCFG];
	int rc = 0, up = 0;
	for (; up <= p->nlev; up++)
		if ((rc = al_bench_futex_start(e, level_of(p, up), cpu, &f[up])) < 0)
			break;
	if (rc < 0) {
		add_row(sec, row_error(&cs, "peer", rc));
		goto out;
	}
	al_bench_pin(cpu);
	struct samples s = { 0 };
	double ns;
	for (int c = 0; c <= p->nlev && rc == 0; c++)
		rc = al_bench_futex_rt(&f[c], 100, &ns);
	for (unsigned r = 0; r < p->cs_rounds && rc == 0; r++) {
		double v[NCFG];
		for (int c = 0; c < NCFG; c++)
			v[c] = NAN;
		for (int k = 0; k <= p->nlev && rc == 0; k++) {
			int c = visit(p, r, k);
			if ((rc = al_bench_futex_rt(&f[c], p->cs_batch, &ns)) == 0)
				push(&s, c, v[c] = ns / 2 / 1e3);
		}
		for (int c = 1; c <= p->nlev; c++)
			pair(&s, &cs, c, v[0], v[c]);
	}
	al_bench_unpin(e);
	add_row(sec, rc < 0 ? row_error(&cs, "ping-pong", rc) : row_json(p, &cs, &s, "baseline", warnings));
	samples_free(&s);
out:
	for (int i = 0; i < up; i++)
		al_bench_futex_stop(&f[i]);
	return sec;
}

/* ---- spawn ----------------------------------------------------------------------- */

static json_t *measure_spawn(struct al_bench_env *e, const struct plan *p, json_t *warnings)
{
	char method[512];
	snprintf(method, sizeof method,
		 "start and reap a static program that exits at once; airlock: al_domain_spawn + attest + start + "
		 "wait, compute profile at the level (namespaces, cgroups, rlimits, tmpfs root, Landlock, seccomp; "
		 "filter compiled beforehand, as a supervisor does); baseline: fork + execveat; %u interleaved rounds",
		 p->spawn_rounds);
	json_t *sec = section("spawn", "Spawn", method, "fork+exec");
	static const struct rowdef sp = { "spawn.domain", "spawn", "ms", "median", false, false, "ms added", { { NULL } } };
	struct samples s = { 0 };
	uint64_t ns;
	int rc = 0;
	for (unsigned r = 0; r < p->spawn_rounds && rc == 0; r++) {
		double v[NCFG];
		for (int c = 0; c < NCFG; c++)
			v[c] = NAN;
		for (int k = 0; k <= p->nlev && rc == 0; k++) {
			int c = visit(p, r, k);
			if ((rc = al_bench_spawn_once(e, level_of(p, c), &ns)) == 0)
				push(&s, c, v[c] = (double)ns / 1e6);
		}
		for (int c = 1; c <= p->nlev; c++)
			pair(&s, &sp, c, v[0], v[c]);
	}
	add_row(sec, rc < 0 ? row_error(&sp, "spawn", rc) : row_json(p, &sp, &s, "baseline", warnings));
	samples_free(&s);
	return sec;
}

/* ---- budgets ------------------------------------------------------------------------ */

/* Ours 1/3/8 % at standard/high/maximum; the seed's 3/8/15 %. Minimal has none. */
static const double budget_ours[] = { NAN, 1, 3, 8 };
static const double budget_seed[] = { NAN, 3, 8, 15 };

static json_t *budgets(const struct plan *p, json_t *total)
{
	json_t *out = json_array();
	json_t *row = json_array_get(json_object_get(total, "rows"), 0);
	json_t *cost = row ? json_object_get(row, "cost") : NULL;
	for (int i = 0; i < p->nlev; i++) {
		int l = p->lev[i];
		const char *name = al_level_name(l);
		json_t *c = cost ? json_object_get(cost, name) : NULL;
		json_t *b = json_pack("{s:s}", "level", name);
		if (c) {
			double v = json_real_value(json_object_get(c, "value"));
			json_object_set_new(b, "overhead_pct", json_real(v));
			json_object_set(b, "spread_pct", json_object_get(c, "spread"));
			json_object_set(b, "noisy", json_object_get(c, "noisy"));
			if (!isnan(budget_ours[l])) {
				json_object_set_new(b, "budget_pct", json_real(budget_ours[l]));
				json_object_set_new(b, "pass", json_boolean(v <= budget_ours[l]));
				json_object_set_new(b, "seed_budget_pct", json_real(budget_seed[l]));
				json_object_set_new(b, "seed_pass", json_boolean(v <= budget_seed[l]));
			}
			json_object_set_new(b, "seed_total_pass", json_boolean(v < 5.0));
		} else {
			json_object_set_new(b, "error", json_string("not measured"));
		}
		json_array_append_new(out, b);
	}
	return out;
}

/* ---- the whole run -------------------------------------------------------------------- */

static json_t *machine(const struct al_bench_env *e)
{
	struct utsname u;
	uname(&u);
	double load[3] = { 0 };
	getloadavg(load, 3);
	struct al_partition_env pe = { .root = "/", .ops = &al_partition_ops_real };
	struct al_partition_caps *caps = calloc(1, sizeof *caps);
	if (caps)
		al_partition_probe(&pe, caps);
	json_t *m = json_pack("{s:i, s:s, s:s, s:s, s:[f,f,f]}", "cpus", CPU_COUNT(&e->affinity), "kernel", u.release,
			      "machine", u.machine, "clocksource", caps ? caps->clocksource : "?", "loadavg", load[0],
			      load[1], load[2]);
	free(caps);
	return m;
}

static json_t *partitioning(const struct plan *p)
{
	json_t *o = json_object();
	struct al_partition_env pe = { .root = "/", .ops = &al_partition_ops_real };
	struct al_partition_caps *caps = malloc(sizeof *caps);
	struct al_partition_plan *pl = malloc(sizeof *pl);
	if (!caps || !pl)
		goto out;
	al_partition_probe(&pe, caps);
	for (int i = 0; i < p->nlev; i++) {
		json_t *lv = json_object();
		al_partition_plan(caps, &al_level_policy(p->lev[i])->part, AL_SANDBOX_ROLE_AI, pl);
		json_object_set_new(lv, "ai", al_partition_plan_json(pl));
		al_partition_plan(caps, &al_level_policy(p->lev[i])->part, AL_SANDBOX_ROLE_PROTO, pl);
		json_object_set_new(lv, "proto", al_partition_plan_json(pl));
		json_object_set_new(o, al_level_name(p->lev[i]), lv);
	}
out:
	free(caps);
	free(pl);
	return o;
}

int al_bench_run(const struct al_bench_opts *o, json_t **out)
{
	struct plan p = { .quick = o->quick };
	if (o->level >= AL_LEVEL_COUNT)
		return -EINVAL;
	if (o->level >= 0)
		p.lev[p.nlev++] = o->level;
	else
		for (int l = 0; l < AL_LEVEL_COUNT; l++)
			p.lev[p.nlev++] = l;
	if (o->quick) {
		p.ai_rounds = 6, p.ai_tokens = 32;
		p.http_rounds = 5, p.http_batch = 10;
		p.total_rounds = 4, p.total_tokens = 32;
		p.chan_rounds = 5, p.chan_batch = 200;
		p.cs_rounds = 5, p.cs_batch = 200;
		p.spawn_rounds = 3;
	} else {
		p.ai_rounds = 80, p.ai_tokens = 128;
		p.http_rounds = 60, p.http_batch = 50;
		p.total_rounds = 120, p.total_tokens = 128;
		p.chan_rounds = 40, p.chan_batch = 2000;
		p.cs_rounds = 40, p.cs_batch = 2000;
		p.spawn_rounds = 30;
	}
	struct al_bench_env e;
	int rc = al_bench_env_init(&e, o->log);
	if (rc < 0) {
		al_bench_env_free(&e);
		return rc;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	uint64_t t0 = al_now_ns();
	json_t *r = json_object(), *warnings = json_array(), *sections = json_array(), *levels = json_array(), *total = NULL;
	json_object_set_new(r, "schema", json_integer(1));
	json_object_set_new(r, "version", json_string(AL_VERSION));
	json_object_set_new(r, "quick", json_boolean(o->quick));
	json_object_set_new(r, "machine", machine(&e));
	for (int i = 0; i < p.nlev; i++)
		json_array_append_new(levels, json_string(al_level_name(p.lev[i])));
	json_object_set_new(r, "levels", levels);
	json_object_set_new(r, "partitioning", partitioning(&p));

	/* endpoints first: they fork, and this process has no threads yet */
	al_bench_log(&e, "protocol and end-to-end (MCP over HTTP)");
	json_t *proto = measure_http(&e, &p, warnings, &total);
	al_bench_log(&e, "AI domain");
	json_array_append_new(sections, measure_ai(&e, &p, warnings, false));
	json_array_append_new(sections, measure_ai(&e, &p, warnings, true));
	json_array_append_new(sections, proto);
	al_bench_log(&e, "channel");
	json_array_append_new(sections, measure_channel(&e, &p, warnings));
	al_bench_log(&e, "context switch");
	json_array_append_new(sections, measure_switch(&e, &p, warnings));
	al_bench_log(&e, "spawn");
	json_array_append_new(sections, measure_spawn(&e, &p, warnings));
	json_array_append_new(sections, total);
	json_object_set_new(r, "sections", sections);
	json_object_set_new(r, "budgets", budgets(&p, total));
	json_object_set_new(r, "warnings", warnings);
	json_object_set_new(r, "duration_s", json_real((double)(al_now_ns() - t0) / 1e9));
	curl_global_cleanup();
	al_bench_env_free(&e);
	*out = r;
	return 0;
}
