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

/* Paths and scratch space shared by every measurement. */
struct al_bench_env {
	struct al_config *cfg;        /* built-in defaults: model, tokenizer, worker paths */
	char tmp[64];                 /* scratch directory, removed at the end */
	char peer_exe[4096];          /* airlock-bench-peer */
	cpu_set_t affinity;           /* ours at the start, restored after pinning */
	FILE *log;
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
int al_bench_ai_start(struct al_bench_env *e, int level, struct al_bench_ai *a);
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
int al_bench_engine_build(struct al_bench_env *e, struct al_bench_engine *g);
void al_bench_engine_free(struct al_bench_engine *g);
int al_bench_engine_request(struct al_bench_engine *g, uint32_t max_tokens, uint64_t *ns, uint32_t *tokens);

/* An MCP endpoint over HTTP: a supervisor at a level (level >= 0), or the
 * same handlers and engine in one unsandboxed process (level -1). */
struct al_bench_http {
	pid_t pid;
	int port;
	char url[64];
	CURL *curl;
	struct curl_slist *hdr_list, *hdr_gen;
	char log[128];
};
int al_bench_http_start(struct al_bench_env *e, int level, struct al_bench_http *h);
void al_bench_http_stop(struct al_bench_http *h);
/* One request; tools/list when max_tokens is 0, else generate. *ns wall time. */
int al_bench_http_request(struct al_bench_http *h, unsigned max_tokens, uint64_t *ns);

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

#endif
