/*
 * The CPU time the machine's other tasks ran during a measurement (others.c):
 * take a snapshot before and after, add the difference to a use.
 */
#ifndef AL_BENCH_OTHERS_H
#define AL_BENCH_OTHERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct other;

/* Every thread outside this process and its descendants, with its CPU time so far. */
struct al_bench_others_snap {
	struct other *t; /* by thread id */
	size_t n, cap;
	uint64_t at_ns;
};

struct al_bench_other_name {
	char comm[16];
	uint64_t ns;
};

/* What other tasks ran over one or more intervals, by thread name. */
struct al_bench_others_use {
	uint64_t total_ns, wall_ns;
	size_t n;
	struct al_bench_other_name by[32]; /* names past the 32nd count in total_ns only */
};

/*
 * One thread as a snapshot keeps it, from the texts of its /proc schedstat
 * and comm (hostile: any process names itself): its CPU time so far (the
 * first field), and its name, kernel threads by kind ("kworker/u8:4" as
 * "kworker"), anything not printable ASCII as '?', at most 15 bytes.
 * 0, or -EINVAL when schedstat does not start with a number.
 */
int al_bench_other_parse(const char *schedstat, const char *comm, bool kernel, uint64_t *ns, char name[16]);

/* 0, or -errno when /proc cannot be read. */
int al_bench_others_snap(struct al_bench_others_snap *s);
void al_bench_others_free(struct al_bench_others_snap *s);
/* Adds what ran between a and b (b taken later). */
void al_bench_others_add(struct al_bench_others_use *u, const struct al_bench_others_snap *a,
			 const struct al_bench_others_snap *b);
/* Most CPU time first. */
void al_bench_others_sort(struct al_bench_others_use *u);

#endif
