/* Internal interface of the bench module: what a measurement runs against. */
#ifndef AL_BENCH_INT_H
#define AL_BENCH_INT_H

#include <curl/curl.h>
#include <sched.h>
#include <stdint.h>
#include <sys/types.h>

#include "airlock/channel.h"
#include "bench.h"
#include "respond/level.h"
#include "sandbox/sandbox.h"
#include "workers/ai/generate.h"

struct al_config;

#define AL_BENCH_PROMPT "Once upon a time"

/* A model and its tokenizer. */
struct al_bench_model {
	const char *model, *tokenizer;
	char name[96];                /* for the methods: "the embedded model" or the file's name */
};

/* Paths and scratch space shared by every measurement. */
struct al_bench_env {
	struct al_config *cfg;        /* built-in defaults: model, tokenizer, worker paths */
	char tmp[64];                 /* scratch directory, removed at the end */
	char peer_exe[4096];          /* airlock-bench-peer */
	cpu_set_t affinity;           /* ours at the start, restored after pinning */
	FILE *log;
	char conf_extra[2048];        /* --set: lines added to every supervisor's configuration */
	struct al_bench_model dflt;   /* the configuration's: the protocol and load sections */
	struct al_bench_model ai;     /* the AI sections' (--model, --tokenizer; else dflt) */
};

int al_bench_env_init(struct al_bench_env *e, FILE *log);
void al_bench_env_free(struct al_bench_env *e);
void al_bench_log(const struct al_bench_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int al_bench_pin(int cpu);
void al_bench_unpin(const struct al_bench_env *e);

/* The AI worker, in a domain at a level (level >= 0) or as a plain process
 * (level -1), with the channel's protocol side here. */
struct al_bench_ai {
	struct al_domain *d;
	pid_t pid;                    /* the plain process */
	struct al_chan *ch;
	uint64_t next_id;
};
int al_bench_ai_start(struct al_bench_env *e, const struct al_bench_model *files, int level, struct al_bench_ai *a);
void al_bench_ai_stop(struct al_bench_ai *a);
/* One greedy generation of max_tokens; *ns wall time, *tokens generated. */
int al_bench_ai_request(struct al_bench_ai *a, uint32_t max_tokens, uint64_t *ns, uint32_t *tokens);
/* n ping/pong round trips; *ns per round trip. */
int al_bench_ai_ping(struct al_bench_ai *a, unsigned n, double *ns);

/* The same engine, in this process. */
struct al_bench_engine {
	struct al_ai_model model;
	struct al_ai_tokenizer tok;
	struct al_ai_engine engine;
	struct al_ai_sampler smp;
	bool built;
};
int al_bench_engine_build(const struct al_bench_model *m, struct al_bench_engine *g);
void al_bench_engine_free(struct al_bench_engine *g);
int al_bench_engine_request(struct al_bench_engine *g, uint32_t max_tokens, uint64_t *ns, uint32_t *tokens);

/* An MCP endpoint over HTTP: a supervisor at a level (level >= 0), or the
 * same handlers and engine in one unsandboxed process (level -1). */
struct al_bench_http {
	pid_t pid;
	int port;
	char url[64];
	char control[160];            /* a supervisor's control socket, else empty */
	CURL *curl;
	struct curl_slist *hdr_list, *hdr_gen;
	char log[128];
};
int al_bench_http_start(struct al_bench_env *e, int level, struct al_bench_http *h);
/* Stops the endpoint (a client made by al_bench_http_client: frees it only). */
void al_bench_http_stop(struct al_bench_http *h);
/* A supervisor's status document (airlock status --json), or NULL. */
json_t *al_bench_http_status(const struct al_bench_http *h);
/* Another client of h's endpoint, on a connection of its own (one per thread). */
int al_bench_http_client(const struct al_bench_http *h, struct al_bench_http *c);
/* One request; tools/list when max_tokens is 0, else generate. *ns wall time. */
int al_bench_http_request(struct al_bench_http *h, unsigned max_tokens, uint64_t *ns);

/* Requests a configuration of at most this many calls in flight, so that four
 * generations and the tools/list probe are all served (the default is 4). */
#define AL_BENCH_CONCURRENCY 8

/* ---- protocol under generation (load.c) -------------------------------- */

struct al_bench_load;
struct al_bench_plan;
int al_bench_load_new(struct al_bench_env *e, const struct al_bench_plan *p, struct al_bench_load **out);
/* Every cell of level cfg (1 + its index in the plan), its supervisor sup
 * and the unsandboxed peer both up, interleaved. 0 or -errno. */
int al_bench_load_level(struct al_bench_env *e, const struct al_bench_plan *p, struct al_bench_load *l, int cfg,
			struct al_bench_http *peer, struct al_bench_http *sup);
/* The section; rc < 0: why it was not measured. */
json_t *al_bench_load_section(const struct al_bench_plan *p, struct al_bench_load *l, int rc, json_t *warnings);
void al_bench_load_free(struct al_bench_load *l);

/* The futex peer on cpu, in a domain at a level or plain (level -1). */
struct al_bench_futex {
	struct al_domain *d;
	pid_t pid;
	int memfd;
	_Atomic uint32_t *turn, *stop;
	uint32_t seq;
};
int al_bench_futex_start(struct al_bench_env *e, int level, int cpu, struct al_bench_futex *f);
void al_bench_futex_stop(struct al_bench_futex *f);
/* n round trips (two context switches each); *ns per round trip. */
int al_bench_futex_rt(struct al_bench_futex *f, unsigned n, double *ns);

/* Starts the peer's exit mode and reaps it: in a domain at a level, or fork+exec. */
int al_bench_spawn_once(struct al_bench_env *e, int level, uint64_t *ns);

/* A domain spec of the compute profile at a level, running exec_fd with argv. */
int al_bench_spec(struct al_spec *s, enum al_level level, int exec_fd, char *const *argv);

/* ---- rows (rows.c): every section's rows have one shape ----------------- */

#define AL_BENCH_NCFG 5 /* baseline + four levels */

struct al_bench_plan {
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
	bool want_http, want_load;         /* protocol and total; protocol under generation */
	/* protocol under generation (load.c) */
	unsigned load_rounds, load_tokens, load_period_us;
	double load_seconds;
	bool load_probe_fifo;              /* the probe at SCHED_FIFO, else nice -20 */
};

/* Samples of one row: [0] the baseline, [1 + i] level lev[i]. When the
 * levels were measured one at a time, each against the baseline in the same
 * interval, b[1 + i] holds that level's own baseline samples. */
struct al_bench_samples {
	double *v[AL_BENCH_NCFG], *b[AL_BENCH_NCFG];
	size_t n[AL_BENCH_NCFG], cap[AL_BENCH_NCFG], bn[AL_BENCH_NCFG], bcap[AL_BENCH_NCFG];
	/* paired costs: each level's sample against the baseline of its round */
	double *d[AL_BENCH_NCFG];
	size_t dn[AL_BENCH_NCFG], dcap[AL_BENCH_NCFG];
};

/* A claim a row is judged against: cost <= limit at the listed levels. */
struct al_bench_claim {
	const char *who;     /* "seed" or "goal" */
	const char *text;
	double limit;        /* in the row's cost unit */
	unsigned levels;     /* bit per level; 0 = none */
};

#define AL_BENCH_ALL 0xfu
#define AL_BENCH_LVL(l) (1u << (l))

struct al_bench_rowdef {
	const char *id, *label, *unit;
	const char *stat;     /* "median", "p99" or "p999" */
	bool higher_better;   /* tokens/s: the cost is a loss in % */
	bool pct;             /* the cost in % of the baseline, else in unit */
	/* "x": the cost is the level's figure / the baseline's, taken from all
	 * samples together (a tail needs them all), the paired rounds deciding
	 * only whether it is noise */
	const char *cost_unit;
	struct al_bench_claim claims[2];
};

void al_bench_push(struct al_bench_samples *s, int cfg, double x);
/* A baseline sample taken while level cfg was measured. */
void al_bench_push_paired(struct al_bench_samples *s, int cfg, double x);
/* The cost of one round: a level's sample against the baseline's of the same round. */
void al_bench_pair(struct al_bench_samples *s, const struct al_bench_rowdef *d, int cfg, double base, double v);
void al_bench_samples_free(struct al_bench_samples *s);
/* The statistic a row reports: "median", "p99" or "p999" of s. */
double al_bench_pick(const struct al_bench_stat *s, const char *stat);
json_t *al_bench_row_json(const struct al_bench_plan *p, const struct al_bench_rowdef *d, struct al_bench_samples *s,
			  const char *base_name, json_t *warnings);
json_t *al_bench_row_error(const struct al_bench_rowdef *d, const char *what, int rc);
json_t *al_bench_section(const char *id, const char *title, const char *method, const char *baseline);
void al_bench_add_row(json_t *sec, json_t *row);

#endif
