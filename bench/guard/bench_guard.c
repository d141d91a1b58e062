/*
 * bench_guard: what the runtime guard costs and how fast it reacts.
 *
 * 1. Forbidden system call -> domain frozen. A compute-profile domain in
 *    notify mode runs misbehave (MODE_BENCH): it writes CLOCK_MONOTONIC to a
 *    shared page, then calls socket(). The runner does what the supervisor
 *    does: wakes on the notify fd, answers, freezes the domain, and stops the
 *    clock once the kernel reports it frozen. Peers side by side: the domain's
 *    own cgroup (the v1 freezer or the v2 freeze file, whichever the host
 *    gives it) and SIGSTOP to each task (the fallback).
 * 2. CPU of integrity checking and detection: the supervisor's per-tick work
 *    (metrics of two processes per domain, the detector, /proc checks, file
 *    re-hashing in slices within 1 % of a core) for real 1 s ticks, measured
 *    with CLOCK_THREAD_CPUTIME_ID, at the STANDARD interval (30 s) and the
 *    worst one (every second).
 *
 * usage: bench_guard [TRIALS] [SECONDS]   (defaults 100, 20)
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "al_config.h"
#include "common/util.h"
#include "detect/detect.h"
#include "integrity/monitor.h"
#include "respond/respond.h"
#include "sandbox/sandbox.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static double pct(uint64_t *v, size_t n, double p)
{
	qsort(v, n, sizeof *v, cmp_u64);
	size_t i = (size_t)ceil(p * (double)n) - 1;
	return (double)v[i < n ? i : n - 1] / 1e3;
}

struct dom {
	struct al_spec spec;
	struct al_domain *d;
	volatile _Atomic uint64_t *page;
	int memfd;
};

static int dom_start(struct dom *b)
{
	static char *argv[] = {"misbehave", NULL};
	int rc;
	b->memfd = memfd_create("bench", MFD_CLOEXEC);
	if (b->memfd < 0 || ftruncate(b->memfd, 4096) < 0)
		return -errno;
	b->page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, b->memfd, 0);
	if (b->page == MAP_FAILED)
		return -errno;
	al_spec_init(&b->spec);
	if ((rc = al_profile_load(&b->spec, "compute")) < 0)
		return rc;
	b->spec.seccomp_mode = AL_SECCOMP_NOTIFY;
	b->spec.exec_fd = open(AL_BENCH_MISBEHAVE, O_RDONLY | O_CLOEXEC);
	b->spec.argv = argv;
	if (b->spec.exec_fd < 0 || (rc = al_spec_add_fd(&b->spec, b->memfd, 3)) < 0 ||
	    (rc = al_seccomp_prepare(&b->spec)) < 0 || (rc = al_domain_spawn(&b->spec, &b->d)) < 0)
		return rc < 0 ? rc : -errno;
	return 0;
}

static void dom_end(struct dom *b)
{
	al_domain_kill(b->d, SIGKILL);
	int st;
	al_domain_wait(b->d, &st);
	al_domain_free(b->d);
	close(b->spec.exec_fd);
	al_spec_free(&b->spec);
	munmap((void *)b->page, 4096);
	close(b->memfd);
}

/* trials of call -> frozen with the given freezer; fills us[] (ns). 0 or -errno. */
static int freeze_latency(enum al_freeze_method kind, int trials, uint64_t *ns)
{
	struct dom b;
	int rc = dom_start(&b);
	if (rc < 0) {
		fprintf(stderr, "bench_guard: domain: %s\n", strerror(-rc));
		return rc;
	}
	/* the v1 and v2 files only where the domain's own cgroup offers them */
	if (kind != AL_FREEZE_SIGSTOP && kind != al_domain_freeze_method(b.d)) {
		dom_end(&b);
		return -ENOTSUP;
	}
	if ((rc = al_domain_start(b.d)) < 0) {
		dom_end(&b);
		return rc;
	}
	struct pollfd p = {.fd = al_domain_notify_fd(b.d), .events = POLLIN};
	for (int t = 0; t < trials; t++) {
		atomic_store(&b.page[0], (uint64_t)t + 1);
		if (poll(&p, 1, 5000) != 1) {
			rc = -ETIMEDOUT;
			break;
		}
		struct al_violation v;
		if ((rc = al_domain_notify_handle(b.d, &v)) < 0)
			break;
		if ((rc = al_domain_freeze_by(b.d, kind)) < 0) {
			char cmd[160];
			snprintf(cmd, sizeof cmd, "ps -o pid,stat,wchan:20,comm --ppid %d -p %d", (int)al_domain_pid(b.d),
				 (int)al_domain_pid(b.d));
			(void)!system(cmd);
			break;
		}
		uint64_t t1 = al_now_ns();
		ns[t] = t1 - atomic_load(&b.page[1]);
		al_domain_thaw(b.d);
	}
	al_domain_kill(b.d, SIGKILL);
	dom_end(&b);
	return rc < 0 ? rc : 0;
}

/* ---- CPU cost ---- */

static double guard_cpu(unsigned interval_s, int seconds, double *integrity_pct)
{
	struct al_manifest_key key;
	randombytes_buf(key.bytes, sizeof key.bytes);
	struct al_monitor *mon = al_monitor_new(&key, 1.0);
	const char *files[] = {AL_SOURCE_ROOT "/models/stories260K.bin", AL_SOURCE_ROOT "/models/tok512.bin",
			       AL_BUILD_ROOT "/src/workers/ai/airlock-ai", AL_BUILD_ROOT "/src/workers/proto/airlock-proto",
			       AL_SOURCE_ROOT "/etc/airlock.conf"};
	int fds[5];
	for (int i = 0; i < 5; i++) {
		unsigned char d[AL_MANIFEST_DIGEST_LEN];
		char name[16];
		fds[i] = open(files[i], O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0 || al_manifest_hash_fd(&key, fds[i], d) < 0) {
			fprintf(stderr, "bench_guard: %s missing (build first)\n", files[i]);
			return -1;
		}
		snprintf(name, sizeof name, "f%d", i);
		al_monitor_add(mon, name, files[i], fds[i], d);
	}
	/* two live domains, as the supervisor watches */
	struct dom doms[2];
	for (int i = 0; i < 2; i++)
		if (dom_start(&doms[i]) < 0 || al_domain_start(doms[i].d) < 0)
			return -1;
	struct al_detector det[2];
	struct al_proc_baseline bl[2][2] = {0};
	for (int i = 0; i < 2; i++)
		al_detector_init(&det[i], i ? AL_DETECT_ROLE_SERVICE : AL_DETECT_ROLE_COMPUTE, NULL);
	uint64_t cpu = 0, t0 = al_now_ns();
	for (int s = 0; s < seconds; s++) {
		uint64_t c0 = al_thread_cpu_ns();
		for (int i = 0; i < 2; i++) {
			pid_t init = al_domain_pid(doms[i].d), kids[2];
			size_t nk = al_proc_children(init, kids, 2);
			struct al_metrics m = {0};
			al_metrics_read(NULL, init, &m);
			for (size_t k = 0; k < nk; k++)
				al_metrics_read(NULL, kids[k], &m);
			struct al_incident inc[AL_DETECT_MAX_INCIDENTS];
			size_t n = al_detector_observe(&det[i], &m, 1000000000ULL, inc);
			for (size_t k = 0; k < n; k++)
				al_incident_clear(&inc[k]);
			if (s % interval_s == 0) {
				char why[256];
				al_monitor_check_proc(init, -1, &bl[i][0], why, sizeof why);
				if (nk)
					al_monitor_check_proc(kids[0], doms[i].spec.exec_fd, &bl[i][1], why, sizeof why);
			}
		}
		struct al_monitor_finding f;
		al_monitor_step(mon, (uint64_t)interval_s * 1000000000ULL, 1000000000ULL, &f);
		cpu += al_thread_cpu_ns() - c0;
		struct timespec ts = {1, 0};
		nanosleep(&ts, NULL);
	}
	double wall = (double)(al_now_ns() - t0);
	struct al_monitor_stats st;
	al_monitor_stats(mon, &st);
	*integrity_pct = (double)st.cpu_ns / wall * 100;
	for (int i = 0; i < 2; i++)
		dom_end(&doms[i]);
	for (int i = 0; i < 5; i++)
		close(fds[i]);
	al_monitor_free(mon);
	return (double)cpu / wall * 100;
}

int main(int argc, char **argv)
{
	int trials = argc > 1 ? atoi(argv[1]) : 100;
	int seconds = argc > 2 ? atoi(argv[2]) : 20;
	if (trials < 1 || trials > 100000 || seconds < 1 || sodium_init() < 0)
		return 2;
	uint64_t *ns = calloc((size_t)trials, sizeof *ns);
	printf("forbidden syscall -> domain frozen, %d trials (goal <= 5 ms)\n", trials);
	printf("%-22s %10s %10s %10s %10s\n", "freezer", "p50 us", "p99 us", "max us", "vs v1");
	struct {
		enum al_freeze_method kind;
		const char *name;
	} peers[] = {{AL_FREEZE_CGROUP_V1, "cgroup v1 freezer"}, {AL_FREEZE_CGROUP_V2, "cgroup v2 freeze"},
		     {AL_FREEZE_SIGSTOP, "SIGSTOP each task"}};
	double base = 0;
	for (size_t i = 0; i < AL_ARRAY_LEN(peers); i++) {
		int rc = freeze_latency(peers[i].kind, trials, ns);
		if (rc < 0) {
			printf("%-22s %s\n", peers[i].name, rc == -ENOTSUP ? "not available here" : strerror(-rc));
			continue;
		}
		double p50 = pct(ns, (size_t)trials, 0.5), p99 = pct(ns, (size_t)trials, 0.99);
		double mx = pct(ns, (size_t)trials, 1.0);
		if (base == 0)
			base = p50;
		printf("%-22s %10.1f %10.1f %10.1f %9.2fx\n", peers[i].name, p50, p99, mx, p50 / base);
	}
	free(ns);
	printf("\nguard CPU per 1 s tick over %d s, two live domains (goal <= 1 %% of a core)\n", seconds);
	printf("%-34s %12s %14s\n", "integrity interval", "total %core", "of it hashing");
	unsigned intervals[] = {30, 1};
	for (size_t i = 0; i < AL_ARRAY_LEN(intervals); i++) {
		double hash = 0, total = guard_cpu(intervals[i], seconds, &hash);
		printf("%-34s %12.3f %14.3f\n", intervals[i] == 30 ? "30 s (standard)" : "1 s (every tick, worst)", total,
		       hash);
	}
	return 0;
}
