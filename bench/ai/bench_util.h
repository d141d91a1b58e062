/*
 * bench_ai's helpers: series of measurements (median and spread), running
 * and compiling the peers, the machine's memory read bandwidth, the load
 * average.
 */
#ifndef AL_BENCH_AI_UTIL_H
#define AL_BENCH_AI_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#define SERIES_MAX 64

/* Measurements of one figure, one per round. */
struct series {
	double v[SERIES_MAX];
	int n;
};

void series_add(struct series *s, double v);
double series_median(const struct series *s);
double series_min(const struct series *s);
double series_max(const struct series *s);
/* "median (min-max)" into buf. */
const char *series_fmt(const struct series *s, char *buf, size_t len);

/* Runs argv; stdout to outfile (NULL: /dev/null), stderr to errfile; env
 * entries ("NAME=VALUE", NULL-terminated) added to the environment. 0 on
 * exit status 0, -ETIMEDOUT (killed) after timeout_s seconds (0: none). */
int run_cmd(char *const argv[], const char *const env[], const char *outfile, const char *errfile, int timeout_s);

/*
 * Compiles src into AL_BENCH_AI_BUILD_DIR/peers/out with cc and the flags
 * given (NULL-terminated), printing the command; extra_libs after the
 * source (NULL-terminated). The binary's path in bin; 0, or -1 with the
 * reason printed.
 */
int build_peer(const char *label, const char *src, const char *out, const char *const flags[],
	       const char *const libs[], const char *scratch, char *bin, size_t binlen);

/* The 1, 5 and 15 minute load averages as /proc/loadavg gives them. */
const char *load_average(char *buf, size_t len);

/* Memory read bandwidth (GB/s), best of reps passes over bytes, with
 * threads threads each reading its share. 0 if the buffer cannot be had. */
double read_bandwidth(size_t bytes, int threads, int reps);

int write_file(const char *path, const void *p, size_t len);

#endif
