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

/* Configuration visited at position k of round r: the order rotates. */
static int visit(const struct al_bench_plan *p, unsigned r, int k)
{
	return (int)((r + (unsigned)k) % (unsigned)(p->nlev + 1));
}

static int level_of(const struct al_bench_plan *p, int cfg)
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
static json_t *measure_ai(struct al_bench_env *e, const struct al_bench_plan *p, json_t *warnings, bool plain)
{
	char method[640];
	snprintf(method, sizeof method,
		 "greedy generation of %u tokens from \"%s\" on %s, one thread; airlock: airlock-ai "
		 "spawned through the sandbox library (compute profile + the level), driven over the channel as "
		 "the protocol domain does, timed from the request to its done record; baseline: %s; %u "
		 "interleaved rounds",
		 p->ai_tokens, AL_BENCH_PROMPT, e->ai.name,
		 plain ? "the same worker started as a plain process (fork + exec, no sandbox) over the same channel"
		       : "the same engine called in this process",
		 p->ai_rounds);
	json_t *sec = plain ? al_bench_section("ai_sandbox", "AI domain, the sandbox alone", method, "plain worker process")
			    : al_bench_section("ai", "AI domain", method, "in-process engine");
	static const struct al_bench_rowdef tps = { "ai.tokens_per_s", "tokens/s", "tok/s", "median", true, true, "% loss",
					   { { "goal", "tokens/s loss <= 1 % at standard", 1.0, AL_BENCH_LVL(AL_LEVEL_STANDARD) } } };
	static const struct al_bench_rowdef lat = { "ai.request_ms", "request latency", "ms", "median", false, false, "ms added",
					   { { "seed", "AI inference +2 ms", 2.0, AL_BENCH_ALL } } };
	struct al_bench_engine g = { .built = false };
	struct al_bench_ai ai[AL_BENCH_NCFG];
	int rc = 0, up = plain ? 0 : 1;
	if (!plain && (rc = al_bench_engine_build(&e->ai, &g)) < 0) {
		al_bench_add_row(sec, al_bench_row_error(&tps, "engine", rc));
		return sec;
	}
	int first = up;
	for (; up <= p->nlev; up++)
		if ((rc = al_bench_ai_start(e, &e->ai, level_of(p, up), &ai[up])) < 0)
			break;
	if (rc < 0) {
		al_bench_add_row(sec, al_bench_row_error(&tps, up ? "AI domain" : "plain worker", rc));
		goto out;
	}
	struct al_bench_samples st = { 0 }, sl = { 0 };
	uint64_t ns;
	uint32_t toks;
	/* warm-up: page in the model, settle the spin budgets */
	for (int c = 0; c <= p->nlev; c++)
		for (int w = 0; w < 3; w++)
			rc = c || plain ? al_bench_ai_request(&ai[c], p->ai_tokens, &ns, &toks)
					: al_bench_engine_request(&g, p->ai_tokens, &ns, &toks);
	for (unsigned r = 0; r < p->ai_rounds && rc == 0; r++) {
		double vt[AL_BENCH_NCFG], vl[AL_BENCH_NCFG];
		for (int c = 0; c < AL_BENCH_NCFG; c++)
			vt[c] = vl[c] = NAN;
		for (int k = 0; k <= p->nlev && rc == 0; k++) {
			int c = visit(p, r, k);
			rc = c || plain ? al_bench_ai_request(&ai[c], p->ai_tokens, &ns, &toks)
					: al_bench_engine_request(&g, p->ai_tokens, &ns, &toks);
			if (rc == 0 && toks > 0) {
				al_bench_push(&st, c, vt[c] = (double)toks * 1e9 / (double)ns);
				al_bench_push(&sl, c, vl[c] = (double)ns / 1e6);
			}
		}
		for (int c = 1; c <= p->nlev; c++) {
			al_bench_pair(&st, &tps, c, vt[0], vt[c]);
			al_bench_pair(&sl, &lat, c, vl[0], vl[c]);
		}
	}
	if (rc < 0) {
		al_bench_add_row(sec, al_bench_row_error(&tps, "request", rc));
	} else {
		al_bench_add_row(sec, al_bench_row_json(p, &tps, &st, "baseline", warnings));
		al_bench_add_row(sec, al_bench_row_json(p, &lat, &sl, "baseline", warnings));
	}
	al_bench_samples_free(&st);
	al_bench_samples_free(&sl);
out:
	for (int i = first; i < up; i++)
		al_bench_ai_stop(&ai[i]);
	al_bench_engine_free(&g);
	return sec;
}

/* ---- protocol and total --------------------------------------------------- */

/*
 * The protocol and total sections (want_http), and the protocol under
 * generation (want_load, load.c), on the same endpoints.
 */
static json_t *measure_http(struct al_bench_env *e, const struct al_bench_plan *p, json_t *warnings, json_t **total_out,
			    json_t **load_out)
{
	char method[640];
	snprintf(method, sizeof method,
		 "MCP over HTTP/1.1 keep-alive (libcurl, one connection, concurrency 1), stateless 2026-07-28 "
		 "requests; airlock: a supervisor per level (airlock run: both domains sandboxed and attested, "
		 "channel between them), one level at a time; baseline: the same HTTP handlers, channel and engine "
		 "as threads of one unsandboxed process, interleaved with each level (each level's cost is against "
		 "the baseline of its own interval); %u rounds of %u requests of each kind per endpoint and level",
		 p->http_rounds, p->http_batch);
	json_t *sec = al_bench_section("protocol", "Protocol domain", method, "one unsandboxed process");
	static const struct al_bench_rowdef rows[] = {
		{ "proto.tools_list_p50", "tools/list p50", "us", "median", false, false, "us added",
		  { { "seed", "protocol +50 us", 50, AL_BENCH_ALL } } },
		{ "proto.tools_list_p99", "tools/list p99", "us", "p99", false, false, "us added",
		  { { "seed", "protocol +50 us", 50, AL_BENCH_ALL }, { "goal", "p99 added <= 20 us", 20, AL_BENCH_ALL } } },
		{ "proto.generate1_p50", "generate max_tokens=1 p50", "us", "median", false, false, "us added",
		  { { "seed", "protocol +50 us", 50, AL_BENCH_ALL } } },
		{ "proto.generate1_p99", "generate max_tokens=1 p99", "us", "p99", false, false, "us added",
		  { { "seed", "protocol +50 us", 50, AL_BENCH_ALL }, { "goal", "p99 added <= 20 us", 20, AL_BENCH_ALL } } },
	};
	static const struct al_bench_rowdef total = { "total.generate", "end-to-end generate", "ms", "median", false, true,
					     "% overhead", { { NULL } } };
	char tmethod[512];
	snprintf(tmethod, sizeof tmethod,
		 "the whole path a client sees: MCP generate of %u tokens (greedy) over HTTP, airlock at each level "
		 "vs the same handlers and engine in one unsandboxed process, one level at a time interleaved with "
		 "the baseline; %u rounds per level; overhead = median / median of the baseline in the same interval - 1",
		 p->total_tokens, p->total_rounds);
	json_t *tsec = al_bench_section("total", "Total overhead", tmethod, "one unsandboxed process");
	*total_out = tsec;

	/*
	 * The baseline runs throughout; each level's supervisor runs only while
	 * that level is measured, interleaved with the baseline, and its cost is
	 * taken against the baseline samples of that same interval: idle
	 * supervisors would otherwise crowd a small machine.
	 */
	struct al_bench_http peer, sup;
	struct al_bench_samples s[4] = { 0 }, t = { 0 };
	struct al_bench_load *load = NULL;
	int rc, lrc = 0;
	uint64_t ns;
	/* before any endpoint: the load counts its tokens with the engine here */
	if (p->want_load && (lrc = al_bench_load_new(e, p, &load)) < 0)
		al_bench_log(e, "protocol under generation: %s", strerror(-lrc));
	al_bench_log(e, "starting the unsandboxed endpoint");
	if ((rc = al_bench_http_start(e, -1, &peer)) < 0) {
		al_bench_add_row(sec, al_bench_row_error(&rows[0], "unsandboxed peer", rc));
		al_bench_add_row(tsec, al_bench_row_error(&total, "endpoints", rc));
		if (p->want_load)
			*load_out = al_bench_load_section(p, NULL, rc, warnings);
		al_bench_load_free(load);
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
		for (unsigned r = 0; r < p->http_rounds && p->want_http && rc == 0; r++)
			for (int k = 0; k < 2 && rc == 0; k++) {
				int c = (int)((r + (unsigned)k) % 2);
				for (unsigned b = 0; b < p->http_batch && rc == 0; b++) {
					for (int kind = 0; kind < 2 && rc == 0; kind++) {
						if ((rc = al_bench_http_request(h[c], (unsigned)kind, &ns)) < 0)
							break;
						for (int q = 2 * kind; q < 2 * kind + 2; q++) {
							if (c)
								al_bench_push(&s[q], cfg, (double)ns / 1e3);
							else
								al_bench_push_paired(&s[q], cfg, (double)ns / 1e3);
						}
					}
				}
			}
		for (unsigned r = 0; r < p->total_rounds && p->want_http && rc == 0; r++) {
			double v[2] = { NAN, NAN };
			for (int k = 0; k < 2 && rc == 0; k++) {
				int c = (int)((r + (unsigned)k) % 2);
				if ((rc = al_bench_http_request(h[c], p->total_tokens, &ns)) == 0) {
					v[c] = (double)ns / 1e6;
					if (c)
						al_bench_push(&t, cfg, v[c]);
					else
						al_bench_push_paired(&t, cfg, v[c]);
				}
			}
			al_bench_pair(&t, &total, cfg, v[0], v[1]);
		}
		if (load && rc == 0 && lrc == 0) {
			al_bench_log(e, "protocol under generation at %s", al_level_name(p->lev[i]));
			lrc = al_bench_load_level(e, p, load, cfg, &peer, &sup);
		}
		al_bench_http_stop(&sup);
	}
	al_bench_http_stop(&peer);
	if (p->want_load)
		*load_out = al_bench_load_section(p, load, rc < 0 ? rc : lrc, warnings);
	al_bench_load_free(load);
	if (rc < 0) {
		al_bench_add_row(sec, al_bench_row_error(&rows[0], "supervisor or request", rc));
		al_bench_add_row(tsec, al_bench_row_error(&total, "generate", rc));
	} else {
		for (int i = 0; i < 4; i++)
			al_bench_add_row(sec, al_bench_row_json(p, &rows[i], &s[i], "baseline", warnings));
		al_bench_add_row(tsec, al_bench_row_json(p, &total, &t, "baseline", warnings));
	}
	for (int i = 0; i < 4; i++)
		al_bench_samples_free(&s[i]);
	al_bench_samples_free(&t);
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

static json_t *measure_channel(struct al_bench_env *e, const struct al_bench_plan *p, json_t *warnings)
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
	json_t *sec = al_bench_section("channel", "Channel", method, "plain process");
	json_object_set_new(sec, "core_to_core_ns", isnan(limit) ? json_null() : json_real(limit));
	static const struct al_bench_rowdef rt = { "channel.round_trip", "channel round trip", "ns", "median", false, false,
					  "ns added", { { NULL } } };
	struct al_bench_ai ai[AL_BENCH_NCFG];
	int rc = 0, up = 0;
	for (; up <= p->nlev; up++)
		if ((rc = al_bench_ai_start(e, &e->dflt, level_of(p, up), &ai[up])) < 0)
			break;
	if (rc < 0) {
		al_bench_add_row(sec, al_bench_row_error(&rt, "AI worker", rc));
		goto out;
	}
	if (a >= 0)
		al_bench_pin(a);
	struct al_bench_samples s = { 0 };
	double ns;
	for (int c = 0; c <= p->nlev && rc == 0; c++)
		rc = al_bench_ai_ping(&ai[c], 200, &ns);
	for (unsigned r = 0; r < p->chan_rounds && rc == 0; r++) {
		double v[AL_BENCH_NCFG];
		for (int c = 0; c < AL_BENCH_NCFG; c++)
			v[c] = NAN;
		for (int k = 0; k <= p->nlev && rc == 0; k++) {
			int c = visit(p, r, k);
			if ((rc = al_bench_ai_ping(&ai[c], p->chan_batch, &ns)) == 0)
				al_bench_push(&s, c, v[c] = ns);
		}
		for (int c = 1; c <= p->nlev; c++)
			al_bench_pair(&s, &rt, c, v[0], v[c]);
	}
	al_bench_unpin(e);
	if (rc < 0) {
		al_bench_add_row(sec, al_bench_row_error(&rt, "ping", rc));
	} else {
		json_t *row = al_bench_row_json(p, &rt, &s, "baseline", warnings);
		struct al_bench_stat st;
		al_bench_stat(s.v[0], s.n[0], &st);
		json_object_set_new(row, "ratio_to_limit", isnan(limit) || limit <= 0 ? json_null() : json_real(st.median / limit));
		al_bench_add_row(sec, row);
	}
	al_bench_samples_free(&s);
out:
	for (int i = 0; i < up; i++)
		al_bench_ai_stop(&ai[i]);
	return sec;
}

/* ---- context switch ---------------------------------------------------------- */

static json_t *measure_switch(struct al_bench_env *e, const struct al_bench_plan *p, json_t *warnings)
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
	json_t *sec = al_bench_section("switch", "Context switch", method, "plain process");
	static const struct al_bench_rowdef cs = { "switch.futex", "context switch", "us", "median", false, false, "us added",
					  { { "seed", "context switch +10 us", 10, AL_BENCH_ALL } } };
	struct al_bench_futex f[AL_BENCH_NCFG];
	int rc = 0, up = 0;
	for (; up <= p->nlev; up++)
		if ((rc = al_bench_futex_start(e, level_of(p, up), cpu, &f[up])) < 0)
			break;
	if (rc < 0) {
		al_bench_add_row(sec, al_bench_row_error(&cs, "peer", rc));
		goto out;
	}
	al_bench_pin(cpu);
	struct al_bench_samples s = { 0 };
	double ns;
	for (int c = 0; c <= p->nlev && rc == 0; c++)
		rc = al_bench_futex_rt(&f[c], 100, &ns);
	for (unsigned r = 0; r < p->cs_rounds && rc == 0; r++) {
		double v[AL_BENCH_NCFG];
		for (int c = 0; c < AL_BENCH_NCFG; c++)
			v[c] = NAN;
		for (int k = 0; k <= p->nlev && rc == 0; k++) {
			int c = visit(p, r, k);
			if ((rc = al_bench_futex_rt(&f[c], p->cs_batch, &ns)) == 0)
				al_bench_push(&s, c, v[c] = ns / 2 / 1e3);
		}
		for (int c = 1; c <= p->nlev; c++)
			al_bench_pair(&s, &cs, c, v[0], v[c]);
	}
	al_bench_unpin(e);
	al_bench_add_row(sec, rc < 0 ? al_bench_row_error(&cs, "ping-pong", rc) : al_bench_row_json(p, &cs, &s, "baseline", warnings));
	al_bench_samples_free(&s);
out:
	for (int i = 0; i < up; i++)
		al_bench_futex_stop(&f[i]);
	return sec;
}

/* ---- spawn ----------------------------------------------------------------------- */

static json_t *measure_spawn(struct al_bench_env *e, const struct al_bench_plan *p, json_t *warnings)
{
	char method[512];
	snprintf(method, sizeof method,
		 "start and reap a static program that exits at once; airlock: al_domain_spawn + attest + start + "
		 "wait, compute profile at the level (namespaces, cgroups, rlimits, tmpfs root, Landlock, seccomp; "
		 "filter compiled beforehand, as a supervisor does); baseline: fork + execveat; %u interleaved rounds",
		 p->spawn_rounds);
	json_t *sec = al_bench_section("spawn", "Spawn", method, "fork+exec");
	static const struct al_bench_rowdef sp = { "spawn.domain", "spawn", "ms", "median", false, false, "ms added", { { NULL } } };
	struct al_bench_samples s = { 0 };
	uint64_t ns;
	int rc = 0;
	for (unsigned r = 0; r < p->spawn_rounds && rc == 0; r++) {
		double v[AL_BENCH_NCFG];
		for (int c = 0; c < AL_BENCH_NCFG; c++)
			v[c] = NAN;
		for (int k = 0; k <= p->nlev && rc == 0; k++) {
			int c = visit(p, r, k);
			if ((rc = al_bench_spawn_once(e, level_of(p, c), &ns)) == 0)
				al_bench_push(&s, c, v[c] = (double)ns / 1e6);
		}
		for (int c = 1; c <= p->nlev; c++)
			al_bench_pair(&s, &sp, c, v[0], v[c]);
	}
	al_bench_add_row(sec, rc < 0 ? al_bench_row_error(&sp, "spawn", rc) : al_bench_row_json(p, &sp, &s, "baseline", warnings));
	al_bench_samples_free(&s);
	return sec;
}

/* ---- budgets ------------------------------------------------------------------------ */

/* Ours 1/3/8 % at standard/high/maximum; the seed's 3/8/15 %. Minimal has none. */
static const double budget_ours[] = { NAN, 1, 3, 8 };
static const double budget_seed[] = { NAN, 3, 8, 15 };

static json_t *budgets(const struct al_bench_plan *p, json_t *total)
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

static json_t *partitioning(const struct al_bench_plan *p)
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

/* Whether --only names section id (a comma-separated list; none: every section). */
static bool wanted(const char *only, const char *id)
{
	if (!only || !*only)
		return true;
	size_t n = strlen(id);
	for (const char *p = only; *p;) {
		size_t k = strcspn(p, ",");
		if (k == n && strncmp(p, id, n) == 0)
			return true;
		p += k;
		if (*p)
			p++;
	}
	return false;
}

static const char *const section_ids[] = { "ai", "ai_sandbox", "protocol", "load", "channel", "switch", "spawn", "total" };

/* --set SECTION.KEY=VALUE as configuration lines for every supervisor; -EINVAL when malformed. */
static int conf_extra(struct al_bench_env *e, const struct al_bench_opts *o)
{
	size_t off = 0;
	for (size_t i = 0; i < o->nset; i++) {
		const char *a = o->set[i], *eq = strchr(a, '='), *dot = eq ? memrchr(a, '.', (size_t)(eq - a)) : NULL;
		if (!dot || dot == a || dot + 1 == eq || strchr(a, '\n') || strchr(a, '[')) {
			al_log_warnx("bench: --set %s: expected SECTION.KEY=VALUE", a);
			return -EINVAL;
		}
		int n = snprintf(e->conf_extra + off, sizeof e->conf_extra - off, "[%.*s]\n%.*s = %s\n", (int)(dot - a), a,
				 (int)(eq - dot - 1), dot + 1, eq + 1);
		if (n < 0 || (size_t)n >= sizeof e->conf_extra - off)
			return -E2BIG;
		off += (size_t)n;
	}
	return 0;
}

int al_bench_run(const struct al_bench_opts *o, json_t **out)
{
	struct al_bench_plan p = { .quick = o->quick };
	if (o->level >= AL_LEVEL_COUNT)
		return -EINVAL;
	if (o->only) {
		/* every name must be a section */
		for (const char *q = o->only; *q;) {
			size_t k = strcspn(q, ","), i;
			for (i = 0; i < AL_ARRAY_LEN(section_ids); i++)
				if (strlen(section_ids[i]) == k && strncmp(q, section_ids[i], k) == 0)
					break;
			if (i == AL_ARRAY_LEN(section_ids))
				return -ENOENT;
			q += k;
			if (*q)
				q++;
		}
	}
	if (o->level >= 0)
		p.lev[p.nlev++] = o->level;
	else
		for (int l = 0; l < AL_LEVEL_COUNT; l++)
			p.lev[p.nlev++] = l;
	p.want_http = wanted(o->only, "protocol") || wanted(o->only, "total");
	p.want_load = wanted(o->only, "load");
	p.load_period_us = 2000, p.load_tokens = 200;
	p.load_probe_fifo = o->probe_fifo;
	if (o->quick) {
		p.ai_rounds = 6, p.ai_tokens = 32;
		p.http_rounds = 5, p.http_batch = 10;
		p.total_rounds = 4, p.total_tokens = 32;
		p.chan_rounds = 5, p.chan_batch = 200;
		p.cs_rounds = 5, p.cs_batch = 200;
		p.spawn_rounds = 3;
		p.load_rounds = 1, p.load_seconds = 0.2, p.load_tokens = 32;
	} else {
		p.ai_rounds = 80, p.ai_tokens = 128;
		p.http_rounds = 60, p.http_batch = 50;
		p.total_rounds = 120, p.total_tokens = 128;
		p.chan_rounds = 40, p.chan_batch = 2000;
		p.cs_rounds = 40, p.cs_batch = 2000;
		p.spawn_rounds = 30;
		p.load_rounds = 6, p.load_seconds = 1;
	}
	if (o->load_rounds)
		p.load_rounds = o->load_rounds;
	struct al_bench_env e;
	int rc = al_bench_env_init(&e, o->log);
	if (rc < 0 || (rc = conf_extra(&e, o)) < 0) {
		al_bench_env_free(&e);
		return rc;
	}
	if (o->model) {
		const char *base = strrchr(o->model, '/');
		e.ai = (struct al_bench_model){ o->model, o->tokenizer, "" }; /* tokenizer NULL: GGUF's own */
		snprintf(e.ai.name, sizeof e.ai.name, "the model %s", base ? base + 1 : o->model);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	uint64_t t0 = al_now_ns();
	json_t *r = json_object(), *warnings = json_array(), *sections = json_array(), *levels = json_array();
	json_t *total = NULL, *proto = NULL, *load = NULL;
	json_object_set_new(r, "schema", json_integer(1));
	json_object_set_new(r, "version", json_string(AL_VERSION));
	json_object_set_new(r, "quick", json_boolean(o->quick));
	json_object_set_new(r, "machine", machine(&e));
	for (int i = 0; i < p.nlev; i++)
		json_array_append_new(levels, json_string(al_level_name(p.lev[i])));
	json_object_set_new(r, "levels", levels);
	json_object_set_new(r, "partitioning", partitioning(&p));
	if (e.conf_extra[0])
		json_object_set_new(r, "config_extra", json_string(e.conf_extra));

	/* endpoints first: they fork, and this process has no threads yet (the
	 * load's client threads are joined before the next endpoint forks) */
	if (p.want_http || p.want_load) {
		al_bench_log(&e, "protocol and end-to-end (MCP over HTTP)");
		proto = measure_http(&e, &p, warnings, &total, &load);
	}
	if (wanted(o->only, "ai")) {
		al_bench_log(&e, "AI domain");
		json_array_append_new(sections, measure_ai(&e, &p, warnings, false));
	}
	if (wanted(o->only, "ai_sandbox"))
		json_array_append_new(sections, measure_ai(&e, &p, warnings, true));
	if (proto && wanted(o->only, "protocol"))
		json_array_append_new(sections, json_incref(proto));
	if (load)
		json_array_append_new(sections, json_incref(load));
	if (wanted(o->only, "channel")) {
		al_bench_log(&e, "channel");
		json_array_append_new(sections, measure_channel(&e, &p, warnings));
	}
	if (wanted(o->only, "switch")) {
		al_bench_log(&e, "context switch");
		json_array_append_new(sections, measure_switch(&e, &p, warnings));
	}
	if (wanted(o->only, "spawn")) {
		al_bench_log(&e, "spawn");
		json_array_append_new(sections, measure_spawn(&e, &p, warnings));
	}
	if (total && wanted(o->only, "total"))
		json_array_append_new(sections, json_incref(total));
	json_object_set_new(r, "sections", sections);
	json_object_set_new(r, "budgets", budgets(&p, wanted(o->only, "total") ? total : NULL));
	json_object_set_new(r, "warnings", warnings);
	json_object_set_new(r, "duration_s", json_real((double)(al_now_ns() - t0) / 1e9));
	json_decref(proto);
	json_decref(load);
	json_decref(total);
	curl_global_cleanup();
	al_bench_env_free(&e);
	*out = r;
	return 0;
}
