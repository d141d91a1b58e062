/*
 * bench_spawn: start and reap a static no-op program N times (default 1000)
 * through each peer, in one run:
 *   airlock          the library directly, every layer on (compute profile:
 *                    all namespaces, cgroups, rlimits, tmpfs root, speculation,
 *                    caps, NNP, MDWE, Landlock, seccomp), spawn + start + reap
 *   airlock+attest   the same with the read-back attestation, as `airlock exec`
 *   airlock-no-cg    every layer but the cgroup limits: on a cgroup v1 host
 *                    the first move into a new cgroup waits for an RCU grace
 *                    period, which dominates the spawn
 *   bwrap            bwrap --unshare-all --ro-bind NOOP NOOP NOOP
 *   unshare          unshare -Urpmn --fork NOOP
 *   fork+exec        plain
 * The seccomp filter is compiled once, as a supervisor does for a profile.
 * A peer that is not installed is skipped with a note.
 *
 * usage: bench_spawn [N] [NOOP]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox.h"

static const char *noop = AL_BENCH_NOOP;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int run_argv(char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -ECHILD;
}

static int run_airlock(struct al_spec *spec, bool attest)
{
	struct al_domain *d;
	int rc = al_domain_spawn(spec, &d);
	if (rc < 0)
		return rc;
	if (attest && (rc = al_domain_attest(d, spec, NULL, NULL)) < 0)
		goto out;
	if ((rc = al_domain_start(d)) < 0)
		goto out;
	int st;
	if ((rc = al_domain_wait(d, &st)) == 0 && st != 0)
		rc = -ECHILD;
out:
	al_domain_free(d);
	return rc;
}

struct peer {
	const char *name;
	char *argv[8];
	int kind; /* 0 argv, 1 airlock, 2 airlock+attest, 3 airlock without cgroups */
	double median_ms;
};

int main(int argc, char **argv)
{
	al_log_init("bench_spawn", AL_LOG_WARN);
	uint64_t n = 1000;
	if (argc > 1 && (al_parse_u64(argv[1], &n) < 0 || n == 0 || n > 1000000)) {
		fprintf(stderr, "usage: bench_spawn [N] [NOOP]\n");
		return 2;
	}
	if (argc > 2)
		noop = argv[2];

	/* [0] every layer; [1] the same without cgroup limits, to show their cost */
	struct al_spec spec[2];
	char *nargv[] = { (char *)noop, NULL };
	for (int i = 0; i < 2; i++) {
		al_spec_init(&spec[i]);
		if (al_profile_load(&spec[i], "compute") < 0)
			return 1;
		spec[i].exec_fd = open(noop, O_RDONLY | O_CLOEXEC);
		spec[i].argv = nargv;
		if (i == 1)
			spec[i].cg_memory = spec[i].cg_pids = spec[i].cg_cpu_percent = 0;
		if (spec[i].exec_fd < 0 || al_seccomp_prepare(&spec[i]) < 0) {
			fprintf(stderr, "bench_spawn: cannot set up %s\n", noop);
			return 1;
		}
	}

	struct peer peers[] = {
		{ "airlock", { NULL }, 1, 0 },
		{ "airlock+attest", { NULL }, 2, 0 },
		{ "airlock-no-cg", { NULL }, 3, 0 },
		{ "bwrap", { "/usr/bin/bwrap", "--unshare-all", "--ro-bind", (char *)noop,
			     (char *)noop, (char *)noop, NULL }, 0, 0 },
		{ "unshare", { "/usr/bin/unshare", "-Urpmn", "--fork", (char *)noop, NULL }, 0, 0 },
		{ "fork+exec", { (char *)noop, NULL }, 0, 0 },
	};
	uint64_t *t = calloc(n, sizeof *t);
	if (!t)
		return 1;
	printf("spawn and reap a static no-op, N=%llu\n", (unsigned long long)n);
	printf("%-16s %10s %10s %10s\n", "peer", "median ms", "p99 ms", "vs bwrap");
	double bwrap = 0;
	for (size_t p = 0; p < AL_ARRAY_LEN(peers); p++) {
		struct peer *pe = &peers[p];
		if (pe->kind == 0 && access(pe->argv[0], X_OK) < 0) {
			printf("%-16s skipped: %s not installed\n", pe->name, pe->argv[0]);
			continue;
		}
		int rc = 0;
		for (uint64_t i = 0; i < n && rc == 0; i++) {
			uint64_t t0 = al_now_ns();
			rc = pe->kind == 0 ? run_argv(pe->argv)
					   : run_airlock(&spec[pe->kind == 3], pe->kind == 2);
			t[i] = al_now_ns() - t0;
		}
		if (rc < 0) {
			printf("%-16s skipped: failed (%s)\n", pe->name, strerror(-rc));
			continue;
		}
		qsort(t, n, sizeof *t, cmp_u64);
		pe->median_ms = (double)t[n / 2] / 1e6;
		double p99 = (double)t[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1e6;
		if (!strcmp(pe->name, "bwrap"))
			bwrap = pe->median_ms;
		printf("%-16s %10.3f %10.3f", pe->name, pe->median_ms, p99);
		if (p >= 3 && bwrap > 0)
			printf(" %9.2fx", pe->median_ms / bwrap);
		printf("\n");
	}
	if (bwrap > 0)
		for (size_t p = 0; p < 3; p++)
			if (peers[p].median_ms > 0)
				printf("%-16s median %.2fx bwrap's\n", peers[p].name,
				       peers[p].median_ms / bwrap);
	free(t);
	for (int i = 0; i < 2; i++) {
		close(spec[i].exec_fd);
		al_spec_free(&spec[i]);
	}
	return 0;
}
