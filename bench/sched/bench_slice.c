/*
 * bench_slice: how late a task that sleeps and wakes gets its CPU back from
 * CPU-bound tasks, by the EEVDF slice each side asks for (sched_setattr's
 * sched_runtime, Linux 6.12 and later). The reason the protocol domain's
 * threads ask for the least slice (src/sandbox/sched.c), and why the AI
 * domain does not ask for a long one.
 *
 *   bench_slice [--seconds S] [--period US]
 *
 * A sleeper wakes every period (default 2000 us, a client's pace) on an
 * absolute CLOCK_MONOTONIC timer; its lateness is the time from the timer's
 * expiry to the sleeper running again. It shares one CPU with one or two
 * CPU-bound tasks. Each cell (sleeper's slice x the busy tasks' slice x
 * their number) runs S seconds in all (default 6), as 3 interleaved rounds,
 * so a slow phase of the machine touches every cell alike. Percentiles are
 * over all wake-ups of a cell. Everything runs at nice 0, SCHED_OTHER.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#define ROUNDS 3
#define SHORT_US 100u   /* the protocol domain's (sched.c) */
#define LONG_US 10000u  /* a long slice for compute, tried and dropped */

struct cell {
	uint32_t sleeper_us, busy_us; /* 0: the kernel's default */
	int busy;                     /* CPU-bound tasks beside the sleeper */
	long *lat;                    /* ns, every wake-up of every round */
	size_t n;
};

static void pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof s, &s) < 0) {
		perror("bench_slice: sched_setaffinity");
		exit(1);
	}
}

static void set_slice(uint32_t us)
{
	int rc = al_sched_set_fair(0, SCHED_OTHER, 0, us);
	if (rc < 0) {
		fprintf(stderr, "bench_slice: sched_setattr: %s\n", strerror(-rc));
		exit(1);
	}
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

/* One round of a cell: busy tasks started, n wake-ups timed, tasks killed. */
static void run_round(struct cell *c, int cpu, long period_ns, size_t n)
{
	pid_t kids[2];
	for (int i = 0; i < c->busy; i++) {
		if ((kids[i] = fork()) < 0) {
			perror("bench_slice: fork");
			exit(1);
		}
		if (kids[i] == 0) {
			pin(cpu);
			set_slice(c->busy_us);
			for (;;)
				__asm__ volatile("" ::: "memory");
		}
	}
	set_slice(c->sleeper_us);
	struct timespec t, now;
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (size_t i = 0; i < n; i++) {
		t.tv_nsec += period_ns;
		while (t.tv_nsec >= 1000000000L) {
			t.tv_nsec -= 1000000000L;
			t.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
			;
		clock_gettime(CLOCK_MONOTONIC, &now);
		c->lat[c->n++] = (now.tv_sec - t.tv_sec) * 1000000000L + (now.tv_nsec - t.tv_nsec);
	}
	set_slice(0);
	for (int i = 0; i < c->busy; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
}

static const char *slice_name(uint32_t us, uint32_t dflt, char *buf, size_t len)
{
	if (us)
		snprintf(buf, len, "%u us", us);
	else
		snprintf(buf, len, "default (%u us)", dflt);
	return buf;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_slice [--seconds S] [--period US]\n"
		   "How late a sleeper that wakes every period gets its CPU back from one or two\n"
		   "CPU-bound tasks on the same CPU, by the EEVDF slice each asks for.\n");
}

int main(int argc, char **argv)
{
	double seconds = 6;
	long period_us = 2000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--period") && i + 1 < argc)
			period_us = atol(argv[++i]);
		else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (seconds <= 0 || seconds > 3600 || period_us < 100 || period_us > 1000000) {
		fprintf(stderr, "bench_slice: --seconds in (0, 3600], --period in [100, 1000000] us\n");
		return 2;
	}
	uint32_t dflt;
	int rc = al_sched_slice_read(0, &dflt);
	if (rc == -ENOTSUP) {
		printf("bench_slice: skipped: this kernel keeps no per-task slice (Linux 6.12 and later do)\n");
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "bench_slice: sched_getattr: %s\n", strerror(-rc));
		return 1;
	}
	int cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;
	pin(cpu);
	struct cell cells[] = {
		{ .busy = 1 }, { .sleeper_us = SHORT_US, .busy = 1 }, { .busy_us = LONG_US, .busy = 1 },
		{ .busy = 2 }, { .sleeper_us = SHORT_US, .busy = 2 }, { .busy_us = LONG_US, .busy = 2 },
	};
	size_t ncell = sizeof cells / sizeof cells[0];
	size_t per_round = (size_t)(seconds * 1e6 / (double)period_us / ROUNDS);
	if (per_round == 0)
		per_round = 1;
	for (size_t i = 0; i < ncell; i++) {
		cells[i].lat = calloc(per_round * ROUNDS, sizeof(long));
		if (!cells[i].lat) {
			perror("bench_slice");
			return 1;
		}
	}
	printf("bench_slice: CPU %d, period %ld us, %zu wake-ups per cell in %d interleaved rounds; "
	       "the kernel's default slice here: %u us\n",
	       cpu, period_us, per_round * ROUNDS, ROUNDS, dflt);
	for (int r = 0; r < ROUNDS; r++)
		for (size_t k = 0; k < ncell; k++)
			run_round(&cells[(k + (size_t)r) % ncell], cpu, period_us * 1000, per_round);
	printf("%-20s %-20s %5s %8s %8s %8s %8s  (lateness, us)\n", "sleeper's slice", "busy tasks' slice", "busy",
	       "p50", "p99", "p99.9", "max");
	for (size_t i = 0; i < ncell; i++) {
		struct cell *c = &cells[i];
		char a[32], b[32];
		qsort(c->lat, c->n, sizeof(long), cmp_long);
		printf("%-20s %-20s %5d %8.0f %8.0f %8.0f %8.0f\n", slice_name(c->sleeper_us, dflt, a, sizeof a),
		       slice_name(c->busy_us, dflt, b, sizeof b), c->busy, c->lat[c->n / 2] / 1e3,
		       c->lat[c->n * 99 / 100] / 1e3, c->lat[c->n * 999 / 1000] / 1e3, c->lat[c->n - 1] / 1e3);
		free(c->lat);
	}
	return 0;
}
