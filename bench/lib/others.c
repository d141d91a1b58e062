/*
 * The CPU time of the machine's other tasks: every thread outside this
 * process and its descendants (the supervisors it starts and their domains),
 * kernel threads included, from each thread's schedstat, between two
 * snapshots. A latency percentile measured on a shared machine includes the
 * slices these tasks ran on the CPU a client was waiting for; the load section
 * prints their share so that a tail figure can be read against it.
 *
 * A thread that started and ended between the snapshots is not seen.
 */
#include "others.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "sandbox/sandbox.h"

#define MAX_PIDS 8192

struct other {
	pid_t tid;
	char comm[16];
	uint64_t ns;
};

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

static int cmp_tid(const void *a, const void *b)
{
	pid_t x = ((const struct other *)a)->tid, y = ((const struct other *)b)->tid;
	return (x > y) - (x < y);
}

/* Whether pid is in the sorted set. */
static bool in_set(pid_t pid, const pid_t *set, size_t n)
{
	return bsearch(&pid, set, n, sizeof *set, cmp_pid) != NULL;
}

int al_bench_other_parse(const char *schedstat, const char *comm, bool kernel, uint64_t *ns, char name[16])
{
	char num[24];
	size_t len = strcspn(schedstat, " \n");
	if (len == 0 || len >= sizeof num)
		return -EINVAL;
	memcpy(num, schedstat, len);
	num[len] = '\0';
	if (al_parse_u64(num, ns) < 0)
		return -EINVAL;
	/* kernel threads by kind: "kworker/u8:4-events" and "ksoftirqd/1" as "kworker", "ksoftirqd" */
	size_t n = strcspn(comm, kernel ? "/\n" : "\n");
	if (n > 15)
		n = 15;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)comm[i];
		name[i] = c < 0x20 || c > 0x7e ? '?' : (char)c;
	}
	name[n] = '\0';
	return 0;
}

/* Appends every thread of pid with its CPU time so far; kernel: a kernel thread's. */
static int add_threads(struct al_bench_others_snap *s, pid_t pid, bool kernel)
{
	char p[64];
	snprintf(p, sizeof p, "/proc/%d/task", (int)pid);
	DIR *d = opendir(p);
	if (!d)
		return 0; /* ended meanwhile */
	struct dirent *e;
	while ((e = readdir(d))) {
		pid_t tid;
		if (al_parse_pid(e->d_name, &tid) < 0)
			continue;
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 256;
			struct other *t = realloc(s->t, cap * sizeof *t);
			if (!t) {
				closedir(d);
				return -ENOMEM;
			}
			s->t = t;
			s->cap = cap;
		}
		struct other *o = &s->t[s->n];
		AL_AUTOFREE char *stat = NULL, *comm = NULL;
		char f[96];
		snprintf(f, sizeof f, "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
		if (al_read_file_at(AT_FDCWD, f, 256, &stat, NULL) < 0)
			continue;
		snprintf(f, sizeof f, "/proc/%d/task/%d/comm", (int)pid, (int)tid);
		if (al_read_file_at(AT_FDCWD, f, 64, &comm, NULL) < 0)
			continue;
		/* Any process names itself: what is not printable ASCII is shown as
		 * '?', so that no name can drive a terminal or break the JSON. */
		if (al_bench_other_parse(stat, comm, kernel, &o->ns, o->comm) < 0)
			continue;
		o->tid = tid;
		s->n++;
	}
	closedir(d);
	return 0;
}

int al_bench_others_snap(struct al_bench_others_snap *s)
{
	s->n = 0;
	s->at_ns = al_now_ns();
	/* Who is ours comes from /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN):
	 * without it every process would count as another's. */
	char own[64];
	snprintf(own, sizeof own, "/proc/self/task/%d/children", (int)getpid());
	if (access(own, R_OK) < 0)
		return -ENOTSUP;
	/* ours: this process and what it started; the kernel's: kthreadd (2) and its children */
	pid_t *mine = malloc(MAX_PIDS * sizeof *mine), *kernel = malloc(MAX_PIDS * sizeof *kernel);
	DIR *d = opendir("/proc");
	int rc = mine && kernel && d ? 0 : -errno;
	if (rc == 0) {
		size_t nm = al_proc_tree(getpid(), mine, MAX_PIDS), nk = al_proc_children(2, kernel + 1, MAX_PIDS - 1) + 1;
		kernel[0] = 2;
		qsort(mine, nm, sizeof *mine, cmp_pid);
		qsort(kernel, nk, sizeof *kernel, cmp_pid);
		struct dirent *e;
		while (rc == 0 && (e = readdir(d))) {
			pid_t pid;
			if (al_parse_pid(e->d_name, &pid) < 0 || in_set(pid, mine, nm))
				continue;
			rc = add_threads(s, pid, in_set(pid, kernel, nk));
		}
		qsort(s->t, s->n, sizeof *s->t, cmp_tid);
	}
	if (d)
		closedir(d);
	free(mine);
	free(kernel);
	return rc;
}

void al_bench_others_free(struct al_bench_others_snap *s)
{
	free(s->t);
	*s = (struct al_bench_others_snap){ 0 };
}

void al_bench_others_add(struct al_bench_others_use *u, const struct al_bench_others_snap *a,
			 const struct al_bench_others_snap *b)
{
	u->wall_ns += b->at_ns - a->at_ns;
	for (size_t i = 0; i < b->n; i++) {
		const struct other *now = &b->t[i], *then = a->n ? bsearch(now, a->t, a->n, sizeof *a->t, cmp_tid) : NULL;
		/* A kernel worker's name changes with its work: the id is the thread.
		 * One not there before started in between: all its time is. */
		uint64_t ns = !then ? now->ns : then->ns <= now->ns ? now->ns - then->ns : 0;
		if (!ns)
			continue;
		u->total_ns += ns;
		size_t k = 0;
		while (k < u->n && strcmp(u->by[k].comm, now->comm) != 0)
			k++;
		if (k == u->n && u->n < AL_ARRAY_LEN(u->by))
			snprintf(u->by[u->n++].comm, sizeof u->by[k].comm, "%s", now->comm);
		if (k < u->n)
			u->by[k].ns += ns;
	}
}

static int cmp_use(const void *a, const void *b)
{
	uint64_t x = ((const struct al_bench_other_name *)a)->ns, y = ((const struct al_bench_other_name *)b)->ns;
	return (x < y) - (x > y);
}

void al_bench_others_sort(struct al_bench_others_use *u)
{
	qsort(u->by, u->n, sizeof *u->by, cmp_use);
}
