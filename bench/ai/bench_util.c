#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#ifndef AL_BENCH_AI_BUILD_DIR
#define AL_BENCH_AI_BUILD_DIR "."
#endif
/* The compiler the peers are built with (their Makefiles' CC ?= cc). */
#define PEER_CC "cc"

void series_add(struct series *s, double v)
{
	if (s->n < SERIES_MAX)
		s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double series_median(const struct series *s)
{
	double v[SERIES_MAX];
	if (!s->n)
		return 0.0;
	memcpy(v, s->v, (size_t)s->n * sizeof(double));
	qsort(v, (size_t)s->n, sizeof(double), cmp_double);
	return s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2.0;
}

double series_min(const struct series *s)
{
	double m = s->n ? s->v[0] : 0.0;
	for (int i = 1; i < s->n; i++)
		m = s->v[i] < m ? s->v[i] : m;
	return m;
}

double series_max(const struct series *s)
{
	double m = s->n ? s->v[0] : 0.0;
	for (int i = 1; i < s->n; i++)
		m = s->v[i] > m ? s->v[i] : m;
	return m;
}

const char *series_fmt(const struct series *s, char *buf, size_t len)
{
	if (!s->n)
		snprintf(buf, len, "-");
	else if (series_max(s) < 100.0)
		snprintf(buf, len, "%.1f (%.1f-%.1f)", series_median(s), series_min(s), series_max(s));
	else
		snprintf(buf, len, "%.0f (%.0f-%.0f)", series_median(s), series_min(s), series_max(s));
	return buf;
}

int run_cmd(char *const argv[], const char *const env[], const char *outfile, const char *errfile, int timeout_s)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;
	extern char **environ;
	char **envp = environ;
	size_t ne = 0, nx = 0;
	while (environ[ne])
		ne++;
	while (env && env[nx])
		nx++;
	char **merged = NULL;
	if (nx) {
		merged = calloc(ne + nx + 1, sizeof(char *));
		if (!merged)
			return -ENOMEM;
		memcpy(merged, environ, ne * sizeof(char *));
		memcpy(merged + ne, env, nx * sizeof(char *));
		envp = merged;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, outfile ? outfile : "/dev/null",
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(merged);
	if (rc)
		return -rc;
	uint64_t t0 = al_now_ns();
	for (;;) {
		pid_t w = waitpid(pid, &status, timeout_s ? WNOHANG : 0);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -1;
		if (timeout_s && al_now_ns() - t0 > (uint64_t)timeout_s * 1000000000ull) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -ETIMEDOUT;
		}
		if (w == 0)
			usleep(10000);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return 0;
}

int build_peer(const char *label, const char *src, const char *out, const char *const flags[],
	       const char *const libs[], const char *scratch, char *bin, size_t binlen)
{
	char errf[600], outdir[600];
	char *argv[24];
	int n = 0;
	snprintf(outdir, sizeof(outdir), "%s/peers", AL_BENCH_AI_BUILD_DIR);
	snprintf(bin, binlen, "%s/peers/%s", AL_BENCH_AI_BUILD_DIR, out);
	snprintf(errf, sizeof(errf), "%s/cc.err", scratch);
	if (access(src, R_OK) != 0) {
		printf("peer %s: %s: %s; not compared\n", label, src, strerror(errno));
		return -1;
	}
	if (mkdir(outdir, 0755) < 0 && errno != EEXIST) {
		printf("peer %s: cannot create %s: %s; not compared\n", label, outdir, strerror(errno));
		return -1;
	}
	argv[n++] = PEER_CC;
	for (size_t i = 0; flags[i] && n < 14; i++)
		argv[n++] = (char *)flags[i];
	argv[n++] = "-o";
	argv[n++] = bin;
	argv[n++] = (char *)src;
	for (size_t i = 0; libs && libs[i] && n < 22; i++)
		argv[n++] = (char *)libs[i];
	argv[n] = NULL;
	printf("peer %s:", label);
	for (int i = 0; i < n; i++)
		printf(" %s", argv[i]);
	printf("\n");
	if (run_cmd(argv, NULL, NULL, errf, 0)) {
		char *txt = NULL;
		size_t len = 0;
		al_read_file_at(AT_FDCWD, errf, 4096, &txt, &len);
		printf("peer %s: did not compile; not compared\n%.*s", label, (int)len, txt ? txt : "");
		free(txt);
		return -1;
	}
	return 0;
}

const char *load_average(char *buf, size_t len)
{
	char *txt = NULL;
	size_t n = 0;
	snprintf(buf, len, "?");
	if (al_read_file_at(AT_FDCWD, "/proc/loadavg", 256, &txt, &n) == 0) {
		/* "0.40 0.68 0.86 1/234 5678": the first three fields */
		size_t k = 0;
		for (int sp = 0; k < n && txt[k] != '\n' && (txt[k] != ' ' || ++sp < 3); k++)
			;
		snprintf(buf, len, "%.*s", (int)k, txt);
	}
	free(txt);
	return buf;
}

struct bw_part {
	const uint8_t *p;
	size_t n;
	uint64_t sum;
};

/* Sums the buffer 64 bytes at a time, four independent chains (reads only). */
#if defined(__x86_64__)
__attribute__((target("avx2"))) static uint64_t sum_avx2(const uint8_t *p, size_t n)
{
	__m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
	for (size_t i = 0; i + 128 <= n; i += 128) {
		a = _mm256_add_epi64(a, _mm256_load_si256((const __m256i *)(p + i)));
		b = _mm256_add_epi64(b, _mm256_load_si256((const __m256i *)(p + i + 32)));
		c = _mm256_add_epi64(c, _mm256_load_si256((const __m256i *)(p + i + 64)));
		d = _mm256_add_epi64(d, _mm256_load_si256((const __m256i *)(p + i + 96)));
	}
	a = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
	uint64_t v[4];
	_mm256_storeu_si256((__m256i *)v, a);
	return v[0] + v[1] + v[2] + v[3];
}
#endif

static uint64_t sum_plain(const uint8_t *p, size_t n)
{
	uint64_t s[4] = { 0 };
	for (size_t i = 0; i + 32 <= n; i += 32)
		for (int k = 0; k < 4; k++) {
			uint64_t v;
			memcpy(&v, p + i + 8 * (size_t)k, 8);
			s[k] += v;
		}
	return s[0] + s[1] + s[2] + s[3];
}

static void *bw_thread(void *arg)
{
	struct bw_part *b = arg;
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2")) {
		b->sum = sum_avx2(b->p, b->n);
		return NULL;
	}
#endif
	b->sum = sum_plain(b->p, b->n);
	return NULL;
}

static volatile uint64_t bw_sink;

double read_bandwidth(size_t bytes, int threads, int reps)
{
	uint8_t *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 0.0;
	madvise(p, bytes, MADV_HUGEPAGE); /* as the model files' page cache may be: fewer TLB misses */
	memset(p, 1, bytes);              /* real pages, not the shared zero page */
	struct bw_part parts[64];
	pthread_t th[64];
	double best = 0.0;
	if (threads > 64)
		threads = 64;
	for (int r = 0; r < reps; r++) {
		size_t share = bytes / (size_t)threads / 128 * 128;
		uint64_t t0 = al_now_ns();
		for (int t = 0; t < threads; t++) {
			parts[t] = (struct bw_part){ .p = p + (size_t)t * share, .n = share };
			if (t && pthread_create(&th[t], NULL, bw_thread, &parts[t]))
				threads = t;
		}
		bw_thread(&parts[0]);
		for (int t = 1; t < threads; t++)
			pthread_join(th[t], NULL);
		double gbs = (double)(share * (size_t)threads) / (double)(al_now_ns() - t0);
		for (int t = 0; t < threads; t++)
			bw_sink += parts[t].sum;
		best = gbs > best ? gbs : best;
	}
	munmap(p, bytes);
	return best;
}

int write_file(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = al_write_all(fd, p, len);
	close(fd);
	return rc;
}
