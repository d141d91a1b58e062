/*
 * bench: the overhead of airlock's security on the machine it runs on,
 * measured side by side with the same work done without it (`airlock bench`).
 *
 *   struct al_bench_opts o = { .quick = false, .level = -1, .log = stderr };
 *   json_t *r;
 *   al_bench_run(&o, &r);          // measures; r is the whole result
 *   al_bench_print(r, stdout);     // the table, every figure with its method
 *   al_bench_write_svg(r, "bench.svg");
 *   json_decref(r);
 *
 * What is measured, and against what (README.md beside this file):
 *   AI        airlock-ai in a domain at each level, driven over the channel,
 *             vs the same engine called in this process
 *   protocol  MCP over HTTP to a supervisor started per level, vs the same
 *             HTTP handlers and engine in one unsandboxed process
 *   load      tools/list p50/p99/p99.9 while 0, 1, 2, 4 generations run, the
 *             same endpoints under the same clients
 *   channel   ping/pong with the AI domain vs a cache-line ping-pong
 *   switch    futex ping-pong on one CPU with a peer in a domain vs not
 *   spawn     a domain at each level vs fork+exec of the same program
 *   total     end-to-end MCP generation per level against its budget
 * Repetitions are interleaved (every configuration once per round, the order
 * rotating), figures are medians with their spread, and a row whose effect
 * is smaller than its spread is flagged as noise.
 */
#ifndef AL_BENCH_H
#define AL_BENCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define AL_BENCH_LOAD_ROUNDS_MAX 1000u /* --rounds: 1000 rounds of 4 cells take over an hour per level */

struct al_bench_opts {
	bool quick;   /* a smoke run: few repetitions, well under a minute */
	int level;    /* enum al_level to measure, -1: all four */
	FILE *log;    /* progress lines; NULL for none */
	const char *only;        /* comma-separated section ids; NULL: all (-ENOENT for an unknown id) */
	const char *const *set;  /* SECTION.KEY=VALUE lines for every supervisor's configuration */
	size_t nset;
	const char *model;       /* the AI sections' model and tokenizer; NULL: the configuration's */
	const char *tokenizer;
	bool probe_fifo;         /* protocol under generation: the probe at SCHED_FIFO, not nice -20 */
	unsigned load_rounds;    /* protocol under generation: rounds per cell; 0: the default (6, 1 with quick) */
};

/* 0 and *out (the result, schema in README.md), or -errno. Rows that could
 * not be measured carry an "error" member instead of figures. */
int al_bench_run(const struct al_bench_opts *o, json_t **out);
void al_bench_print(const json_t *r, FILE *f);
int al_bench_write_svg(const json_t *r, const char *path);

/* ---- internal, shared by the files of this module -------------------- */

struct al_bench_stat {
	double median, p25, p75, p99, p999, min, max;
	size_t n;
};

/* Sorts v in place and summarises it; n == 0 leaves s zero. */
void al_bench_stat(double *v, size_t n, struct al_bench_stat *s);
json_t *al_bench_stat_json(const struct al_bench_stat *s);

#endif
