/*
 * Tokens per second of the airlock engine (one and two threads) against
 * llama2.c's run.c (one thread), greedy, same steps, on stories260K and on a
 * random-weights model of the stories15M shape (dim 288, 6 layers, 6 heads,
 * vocab 32000, separate classifier) that this benchmark writes, with a
 * generated tokenizer, to a scratch directory.
 *
 * The peers are llama2.c's run.c and runq.c from the shared folder
 * (--peer-dir DIR; default <source root>/../shared/peers/llama2.c), compiled
 * at run time into the build directory the way their authors build them for
 * speed: run.c as their Makefile's `runfast` (-Ofast) with -march=native for
 * one thread, and as their `runomp` (-Ofast -fopenmp -march=native), run with
 * OMP_NUM_THREADS equal to our thread count, for two. The exact compiler
 * commands are printed. Without the shared folder only our figures are
 * printed. Both sides are timed the way run.c times itself: from the end of
 * the first forward pass to the last token.
 *
 * Then the GGUF tensor types: both models re-exported as GGUF in F32, Q8_0
 * and Q4_0 (airlock, one thread) against the F32 path, and Q8_0 against
 * llama2.c's runq.c (-Ofast -march=native, one thread)
 * on a version-2 checkpoint of the same weights, with the largest group size
 * runq can use on that shape (4 for stories260K, whose hidden_dim is 172; 32
 * for the 15M shape). runq quantises every matrix including ffn_down; the
 * GGUF files keep rows that do not divide into 32-value blocks in F32.
 *
 * Usage: bench_ai [--peer-dir DIR] [RUNS] [STEPS]   (defaults 7 and 256)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "al_config.h"
#include "common/util.h"
#include "model_writer.h"
#include "workers/ai/generate.h"
#include "workers/ai/gguf.h"
#include "workers/ai/quant.h"

#define DEFAULT_PEER_DIR AL_SOURCE_ROOT "/../shared/peers/llama2.c"
#ifndef AL_BENCH_AI_BUILD_DIR
#define AL_BENCH_AI_BUILD_DIR "."
#endif
/* The compiler the peers are built with (their Makefile's CC ?= cc). */
#define PEER_CC "cc"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct stat_s {
	double median, p99, min;
};

static struct stat_s summarize(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	/* p99 of a handful of runs is the slowest run (lowest tok/s). */
	return (struct stat_s){ .median = v[n / 2], .p99 = v[0], .min = v[0] };
}

static int write_file(const char *path, const struct mw_buf *b)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = al_write_all(fd, b->p, b->len);
	close(fd);
	return rc;
}

/* Our engine: greedy from BOS, steps positions; tok/s over positions 1.. */
static int ours_ids(const char *model_path, const char *tok_path, int steps, int runs, int threads, double *out,
		    int *ids)
{
	struct al_ai_model m;
	struct al_ai_tokenizer t;
	struct al_ai_engine e;
	int fd = open(model_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || al_ai_model_build_fd(&m, fd)) {
		fprintf(stderr, "bench_ai: %s: %s\n", model_path, fd < 0 ? strerror(errno) : m.err);
		return -1;
	}
	close(fd);
	if (!tok_path) {
		/* GGUF: the embedded vocabulary. */
		if (al_ai_tokenizer_build_gguf(&t, &m)) {
			fprintf(stderr, "bench_ai: %s: %s\n", model_path, t.err);
			return -1;
		}
	} else {
		fd = open(tok_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || al_ai_tokenizer_build_fd(&t, fd, m.cfg.vocab_size)) {
			fprintf(stderr, "bench_ai: %s: %s\n", tok_path, fd < 0 ? strerror(errno) : t.err);
			return -1;
		}
		close(fd);
	}
	if (al_ai_engine_build(&e, &m, &t) || al_ai_engine_set_threads(&e, threads))
		return -1;
	if (steps > m.cfg.seq_len)
		steps = m.cfg.seq_len;
	for (int r = 0; r < runs; r++) {
		struct al_ai_sampler s;
		al_ai_sampler_build(&s, m.cfg.vocab_size, 0.0f, 0.9f, 1);
		int token = AL_AI_TOK_BOS;
		uint64_t t0 = 0;
		for (int pos = 0; pos < steps; pos++) {
			float *logits = al_ai_forward(&m, &e.state, token, pos);
			token = al_ai_sample(&s, logits);
			if (ids && pos + 1 < steps)
				ids[pos] = token;
			if (pos == 0)
				t0 = al_now_ns();
		}
		out[r] = (double)(steps - 1) * 1e9 / (double)(al_now_ns() - t0);
		al_ai_sampler_free(&s);
	}
	al_ai_engine_free(&e);
	al_ai_tokenizer_free(&t);
	al_ai_model_free(&m);
	return 0;
}

/*
 * Prefill: a prompt of plen tokens (BOS, then arbitrary ids) run together by
 * al_ai_prefill(), against the same tokens one position at a time; tok/s
 * over the whole prompt, logits of the last position only in the first
 * (single NULL: prefill only).
 */
static int prefill(const char *model_path, const char *tok_path, int plen, int runs, int threads, double *batched,
		   double *single)
{
	struct al_ai_model m;
	int fd = open(model_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || al_ai_model_build_fd(&m, fd)) {
		fprintf(stderr, "bench_ai: %s: %s\n", model_path, fd < 0 ? strerror(errno) : m.err);
		return -1;
	}
	close(fd);
	(void)tok_path;
	struct al_ai_state st;
	struct al_ai_pool *pool = NULL;
	if (al_ai_state_build(&st, &m.cfg) || (threads > 1 && al_ai_pool_new(&pool, threads)))
		return -1;
	st.pool = pool;
	if (plen > m.cfg.seq_len)
		plen = m.cfg.seq_len;
	int *tokens = calloc((size_t)plen, sizeof(int));
	for (int i = 0; i < plen; i++)
		tokens[i] = i ? (int)((i * 7919u) % (unsigned)m.cfg.vocab_size) : AL_AI_TOK_BOS;
	for (int r = 0; r < runs; r++) {
		uint64_t t0 = al_now_ns();
		al_ai_prefill(&m, &st, tokens, plen, 0);
		batched[r] = (double)plen * 1e9 / (double)(al_now_ns() - t0);
		if (!single)
			continue;
		t0 = al_now_ns();
		for (int pos = 0; pos < plen; pos++)
			al_ai_forward(&m, &st, tokens[pos], pos);
		single[r] = (double)plen * 1e9 / (double)(al_now_ns() - t0);
	}
	free(tokens);
	al_ai_pool_free(pool);
	al_ai_state_free(&st);
	al_ai_model_free(&m);
	return 0;
}

/*
 * The matrix-vector kernels alone, one thread, on the classifier's shape of
 * the 15M model (32000 x 288; 37 MB in F32, more than L2): weight bytes read
 * per second, from the median of reps products.
 */
static void kernels_section(int reps)
{
	enum { N = 288, D = 32000 };
	size_t nw = (size_t)N * D;
	float *w = aligned_alloc(64, nw * 4), *x = aligned_alloc(64, N * 4), *o = aligned_alloc(64, D * 4);
	uint8_t *b = aligned_alloc(64, nw * 2);
	int8_t xq[N];
	float xs[N / 32];
	double *t = calloc((size_t)reps, sizeof(double));
	if (!w || !x || !o || !b || !t)
		return;
	for (size_t i = 0; i < nw; i++)
		w[i] = (float)(int)(i * 7919u % 2001u - 1000u) / 1000.0f;
	for (size_t i = 0; i < nw * 2; i++)
		b[i] = (uint8_t)(i * 31u % 251u) & 0x3b; /* finite halves; blocks' scales too */
	for (int i = 0; i < N; i++) {
		x[i] = (float)i / N - 0.5f;
		xq[i] = (int8_t)(i % 255 - 127);
	}
	for (int i = 0; i < N / 32; i++)
		xs[i] = 0.01f;
	al_ai_quant_init(false);
	printf("\nkernels alone, one thread (%s), W %d x %d: weight GB/s (median of %d)\n", al_ai_quant_kernels(), D,
	       N, reps);
	const struct {
		const char *name;
		enum al_ai_wtype type;
	} k[] = { { "f32", AL_AI_W_F32 }, { "f16", AL_AI_W_F16 }, { "q8_0", AL_AI_W_Q8_0 }, { "q4_0", AL_AI_W_Q4_0 } };
	for (size_t i = 0; i < AL_ARRAY_LEN(k); i++) {
		size_t bytes = k[i].type == AL_AI_W_F32 ? nw * 4 : al_ai_row_bytes(k[i].type, N) * D;
		for (int r = 0; r < reps; r++) {
			uint64_t t0 = al_now_ns();
			if (k[i].type == AL_AI_W_F32)
				al_ai_matmul_f32(o, x, w, N, D);
			else if (k[i].type == AL_AI_W_F16)
				al_ai_matmul_f16(o, x, b, N, D);
			else if (k[i].type == AL_AI_W_Q8_0)
				al_ai_matmul_q8_0(o, xq, xs, b, N, D);
			else
				al_ai_matmul_q4_0(o, xq, xs, b, N, D);
			t[r] = (double)bytes / (double)(al_now_ns() - t0);
		}
		struct stat_s a = summarize(t, reps);
		printf("  matmul %-5s %6.1f GB/s (slowest %.1f)\n", k[i].name, a.median, a.p99);
	}
	free(t);
	free(w);
	free(x);
	free(o);
	free(b);
}

static int ours(const char *model_path, const char *tok_path, int steps, int runs, int threads, double *out)
{
	return ours_ids(model_path, tok_path, steps, runs, threads, out, NULL);
}

/* Runs argv; stdout to outfile (NULL: /dev/null), stderr to errfile. 0 on exit status 0. */
static int run_cmd(char *const argv[], const char *outfile, const char *errfile)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;
	extern char **environ;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, outfile ? outfile : "/dev/null",
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		return -rc;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return 0;
}

/*
 * Compiles peer_dir/src into AL_BENCH_AI_BUILD_DIR/peers/out with the flags
 * given (NULL-terminated), printing the command. The binary's path in bin;
 * 0, or -1 with the reason printed.
 */
static int build_peer(const char *label, const char *peer_dir, const char *src, const char *out,
		      const char *const flags[], const char *scratch, char *bin, size_t binlen)
{
	char srcpath[600], errf[600], outdir[600];
	char *argv[16];
	int n = 0;
	snprintf(srcpath, sizeof(srcpath), "%s/%s", peer_dir, src);
	snprintf(outdir, sizeof(outdir), "%s/peers", AL_BENCH_AI_BUILD_DIR);
	snprintf(bin, binlen, "%s/peers/%s", AL_BENCH_AI_BUILD_DIR, out);
	snprintf(errf, sizeof(errf), "%s/cc.err", scratch);
	if (access(srcpath, R_OK) != 0) {
		printf("peer %s: %s: %s; not compared\n", label, srcpath, strerror(errno));
		return -1;
	}
	if (mkdir(outdir, 0755) < 0 && errno != EEXIST) {
		printf("peer %s: cannot create %s: %s; not compared\n", label, outdir, strerror(errno));
		return -1;
	}
	argv[n++] = PEER_CC;
	for (size_t i = 0; flags[i] && n < 10; i++)
		argv[n++] = (char *)flags[i];
	argv[n++] = "-o";
	argv[n++] = bin;
	argv[n++] = srcpath;
	argv[n++] = "-lm";
	argv[n] = NULL;
	printf("peer %s:", label);
	for (int i = 0; i < n; i++)
		printf(" %s", argv[i]);
	printf("\n");
	if (run_cmd(argv, NULL, errf)) {
		char *txt = NULL;
		size_t len = 0;
		al_read_file_at(AT_FDCWD, errf, 4096, &txt, &len);
		printf("peer %s: did not compile; not compared\n%.*s", label, (int)len, txt ? txt : "");
		free(txt);
		return -1;
	}
	return 0;
}

/* The peer prints "achieved tok/s: X" on stderr, timed from after its first token. */
/* threads > 0: run with OMP_NUM_THREADS=threads (the OpenMP build); 0: unset. */
static int peer(const char *bin, const char *model, const char *tok, int steps, int runs, int threads,
		const char *dir, double *out)
{
	char steps_s[16], errfile[512], nt[16];
	if (threads > 0) {
		snprintf(nt, sizeof(nt), "%d", threads);
		setenv("OMP_NUM_THREADS", nt, 1);
	} else {
		unsetenv("OMP_NUM_THREADS");
	}
	snprintf(steps_s, sizeof(steps_s), "%d", steps);
	snprintf(errfile, sizeof(errfile), "%s/peer.err", dir);
	char *argv[] = { (char *)bin, (char *)model, "-z", (char *)tok, "-t", "0", "-n", steps_s, NULL };
	for (int r = 0; r < runs; r++) {
		char *txt = NULL;
		size_t len;
		if (run_cmd(argv, NULL, errfile) || al_read_file_at(AT_FDCWD, errfile, 1 << 16, &txt, &len))
			return -1;
		char *p = strstr(txt, "achieved tok/s:");
		out[r] = p ? strtod(p + 15, NULL) : 0.0;
		free(txt);
		if (out[r] <= 0.0)
			return -1;
	}
	return 0;
}

static void row(const char *name, double *ours_v, double *peer_v, int runs, bool have_peer)
{
	struct stat_s a = summarize(ours_v, runs);
	if (!have_peer) {
		printf("%-26s %12.0f %12.0f %12s %12s %8s\n", name, a.median, a.p99, "-", "-", "-");
		return;
	}
	struct stat_s b = summarize(peer_v, runs);
	printf("%-26s %12.0f %12.0f %12.0f %12.0f %7.2fx\n", name, a.median, a.p99, b.median, b.p99,
	       a.median / b.median);
}

static int load_plain(const char *model, const char *tok, struct al_ai_model *m, struct al_ai_tokenizer *t)
{
	int fd = open(model, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || al_ai_model_build_fd(m, fd))
		return -1;
	close(fd);
	fd = open(tok, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || al_ai_tokenizer_build_fd(t, fd, m->cfg.vocab_size))
		return -1;
	close(fd);
	return 0;
}

/* One model: GGUF F32 / Q8_0 / Q4_0 against GGUF F32, and Q8_0 against runq on v2 (group gs). */
static int gguf_model(const char *label, const char *model, const char *tok, int gs, const char *dir,
		      const char *runq, int steps, int runs, double *o, double *p)
{
	struct al_ai_model m;
	struct al_ai_tokenizer t;
	char path[600];
	double base = 0.0, q8 = 0.0;
	if (load_plain(model, tok, &m, &t))
		return 1;
	const struct {
		const char *name;
		uint32_t type;
	} types[] = { { "f32", AL_GGML_F32 }, { "q8_0", AL_GGML_Q8_0 }, { "q4_0", AL_GGML_Q4_0 } };
	for (size_t i = 0; i < AL_ARRAY_LEN(types); i++) {
		struct mw_buf b = { 0 };
		mw_export_gguf(&b, &m, &t, types[i].type);
		snprintf(path, sizeof(path), "%s/g_%s.gguf", dir, types[i].name);
		write_file(path, &b);
		mw_free(&b);
		if (ours(path, NULL, steps, runs, 1, o))
			return 1;
		struct stat_s a = summarize(o, runs);
		if (i == 0)
			base = a.median;
		if (types[i].type == AL_GGML_Q8_0)
			q8 = a.median;
		char name[64];
		snprintf(name, sizeof(name), "%s GGUF %s", label, types[i].name);
		printf("%-30s %12.0f %12.0f %12.0f %8.2fx\n", name, a.median, a.p99, base, a.median / base);
	}
	if (runq) {
		struct mw_buf b = { 0 };
		mw_export(&b, &m, AL_AI_FORMAT_Q8, m.cfg.shared_classifier, gs);
		snprintf(path, sizeof(path), "%s/v2.bin", dir);
		write_file(path, &b);
		mw_free(&b);
		if (peer(runq, path, tok, steps, runs, 0, dir, p) == 0) {
			struct stat_s r = summarize(p, runs);
			char name[64];
			snprintf(name, sizeof(name), "%s runq.c v2 gs %d", label, gs);
			printf("%-30s %12.0f %12.0f %12s %8s   airlock Q8_0 / runq: %.2fx\n", name, r.median, r.p99, "-",
			       "-", q8 / r.median);
		} else {
			printf("%s: runq did not run\n", label);
		}
	}
	al_ai_tokenizer_free(&t);
	al_ai_model_free(&m);
	return 0;
}

static int gguf_section(const char *m260, const char *t260, int gs260, const char *m15, const char *t15, int gs15,
			const char *dir, const char *peer_dir, int steps, int runs, double *o, double *p)
{
	static const char *const fast[] = { "-Ofast", "-march=native", NULL };
	char bin[600];
	const char *runq = NULL;
	if (peer_dir && build_peer("runq.c 1T", peer_dir, "runq.c", "runq-fast", fast, dir, bin, sizeof(bin)) == 0)
		runq = bin;
	al_ai_quant_init(false);
	printf("\nGGUF tensor types, airlock 1 thread (%s kernels); runq.c one thread%s\n", al_ai_quant_kernels(),
	       runq ? "" : " (absent: not compared)");
	printf("%-30s %12s %12s %12s %9s\n", "model", "tok/s med", "tok/s p99", "f32 med", "vs f32");
	return gguf_model("stories260K", m260, t260, gs260, dir, runq, steps, runs, o, p) |
	       gguf_model("random 15M shape", m15, t15, gs15, dir, runq, steps, runs, o, p);
}

/*
 * llama.cpp (bench/ai/get-llama-cpp lays out lldir): llama_peer.c compiled
 * against its headers, run on GGUF exports of the 15M-shape model in F32,
 * F16, Q8_0 and Q4_0; decode and prefill tok/s against ours, and how many
 * of the greedy ids agree.
 */
static int llama_section(const char *lldir, const char *m15, const char *t15, const char *dir, int steps, int runs,
			 double *o, double *p)
{
	char bin[600], inc[600], lib[600], path[600], verf[600], *ver = NULL;
	size_t vlen = 0;
	snprintf(verf, sizeof(verf), "%s/VERSION", lldir);
	if (al_read_file_at(AT_FDCWD, verf, 4096, &ver, &vlen)) {
		printf("\npeer llama.cpp: %s is missing; bench/ai/get-llama-cpp %s fetches it (npm); not compared\n",
		       verf, lldir);
		return 0;
	}
	printf("\npeer llama.cpp: %.*s\n", (int)strcspn(ver, "\n"), ver);
	free(ver);
	snprintf(inc, sizeof(inc), "-I%s/include", lldir);
	snprintf(lib, sizeof(lib), "%s/lib", lldir);
	const char *flags[] = { "-O2", inc, NULL };
	if (build_peer("llama.cpp", AL_SOURCE_ROOT "/bench/ai", "llama_peer.c", "llama-peer", flags, dir, bin,
		       sizeof(bin)))
		return 0;
	struct al_ai_model m;
	struct al_ai_tokenizer t;
	if (load_plain(m15, t15, &m, &t))
		return 1;
	int plen = steps / 2, *ids_a = calloc((size_t)steps, sizeof(int));
	double *pa = calloc((size_t)runs, sizeof(double)), *pb = calloc((size_t)runs, sizeof(double));
	printf("random 15M shape as GGUF; decode: greedy %d steps from BOS; prefill: %d tokens; tok/s medians of %d\n",
	       steps, plen, runs);
	printf("%-10s %4s %11s %11s %7s %11s %11s %7s %9s\n", "type", "thr", "airlock dec", "llama dec", "ratio",
	       "airlock pre", "llama pre", "ratio", "same ids");
	const struct {
		const char *name;
		uint32_t type;
	} types[] = { { "f32", AL_GGML_F32 }, { "f16", AL_GGML_F16 }, { "q8_0", AL_GGML_Q8_0 }, { "q4_0", AL_GGML_Q4_0 } };
	int rc = 0;
	for (size_t i = 0; i < AL_ARRAY_LEN(types); i++) {
		struct mw_buf b = { 0 };
		mw_export_gguf(&b, &m, &t, types[i].type);
		snprintf(path, sizeof(path), "%s/l_%s.gguf", dir, types[i].name);
		write_file(path, &b);
		mw_free(&b);
		for (int threads = 1; threads <= 2; threads++) {
			char outf[600], errf[600], pl[16], st[16], th[16], rn[16], *txt = NULL;
			size_t len = 0;
			snprintf(outf, sizeof(outf), "%s/llama.out", dir);
			snprintf(errf, sizeof(errf), "%s/llama.err", dir);
			snprintf(pl, sizeof(pl), "%d", plen);
			snprintf(st, sizeof(st), "%d", steps);
			snprintf(th, sizeof(th), "%d", threads);
			snprintf(rn, sizeof(rn), "%d", runs);
			char *argv[] = { bin, lib, path, pl, st, th, rn, NULL };
			if (run_cmd(argv, outf, errf) || al_read_file_at(AT_FDCWD, outf, 1 << 20, &txt, &len)) {
				printf("%-10s %4d llama.cpp did not run (see %s)\n", types[i].name, threads, errf);
				free(txt);
				continue;
			}
			int nr = 0, same = 0;
			for (char *q = txt; (q = strstr(q, "run ")) && nr < runs; nr++) {
				pb[nr] = strtod(q + 4, &q);
				p[nr] = strtod(q, &q);
			}
			char *tk = strstr(txt, "tokens");
			if (ours_ids(path, NULL, steps, runs, threads, o, ids_a) ||
			    prefill(path, NULL, plen, runs, threads, pa, NULL) || nr != runs || !tk) {
				rc = 1;
				free(txt);
				continue;
			}
			tk += 6;
			for (int k = 0; k + 1 < steps; k++) {
				char *e;
				long v = strtol(tk, &e, 10);
				if (e == tk || v != ids_a[k])
					break;
				tk = e;
				same++;
			}
			free(txt);
			struct stat_s od = summarize(o, runs), ld = summarize(p, runs), op = summarize(pa, runs),
				      lp = summarize(pb, runs);
			printf("%-10s %4d %11.0f %11.0f %6.2fx %11.0f %11.0f %6.2fx %5d/%d\n", types[i].name, threads,
			       od.median, ld.median, od.median / ld.median, op.median, lp.median, op.median / lp.median,
			       same, steps - 1);
		}
		unlink(path);
	}
	free(ids_a);
	free(pa);
	free(pb);
	al_ai_tokenizer_free(&t);
	al_ai_model_free(&m);
	return rc;
}

/*
 * --ids: no timing and no peer, the greedy ids alone (STEPS positions from
 * BOS, one thread) of both models in each GGUF type, for comparing builds
 * whose speed means nothing, e.g. an arm64 build under qemu against the
 * x86 build (docs/arm64.md).
 */
static int ids_section(const char *m260, const char *t260, const char *m15, const char *t15, const char *dir,
		       int steps)
{
	const struct {
		const char *name, *model, *tok;
	} models[] = { { "stories260K", m260, t260 }, { "random15M", m15, t15 } };
	const struct {
		const char *name;
		uint32_t type;
	} types[] = { { "f32", AL_GGML_F32 }, { "f16", AL_GGML_F16 }, { "q8_0", AL_GGML_Q8_0 }, { "q4_0", AL_GGML_Q4_0 } };
	int *ids = calloc((size_t)steps, sizeof(int)), rc = 0;
	double t;
	al_ai_quant_init(false);
	printf("greedy ids, %d positions from BOS, 1 thread, %s kernels\n", steps, al_ai_quant_kernels());
	for (size_t i = 0; i < AL_ARRAY_LEN(models); i++) {
		struct al_ai_model m;
		struct al_ai_tokenizer tk;
		if (load_plain(models[i].model, models[i].tok, &m, &tk))
			return 1;
		for (size_t k = 0; k < AL_ARRAY_LEN(types); k++) {
			char path[600];
			struct mw_buf b = { 0 };
			mw_export_gguf(&b, &m, &tk, types[k].type);
			snprintf(path, sizeof(path), "%s/ids.gguf", dir);
			write_file(path, &b);
			mw_free(&b);
			int n = steps < m.cfg.seq_len ? steps : m.cfg.seq_len;
			if (ours_ids(path, NULL, n, 1, 1, &t, ids)) {
				rc = 1;
				continue;
			}
			printf("%s %s:", models[i].name, types[k].name);
			for (int j = 0; j + 1 < n; j++)
				printf(" %d", ids[j]);
			printf("\n");
			unlink(path);
		}
		al_ai_tokenizer_free(&tk);
		al_ai_model_free(&m);
	}
	free(ids);
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_ai [--peer-dir DIR] [--llama-cpp DIR] [--ids] [RUNS] [STEPS]   (defaults 7 and 256)\n"
			"  --peer-dir DIR   llama2.c's run.c and runq.c (default %s)\n"
			"  --ids            print the greedy ids of each model and type instead of timing\n"
			"  --llama-cpp DIR  llama.cpp as bench/ai/get-llama-cpp lays it out (default %s)\n",
		DEFAULT_PEER_DIR, AL_BENCH_AI_BUILD_DIR "/peers/llama.cpp");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "peer-dir", required_argument, NULL, 'p' },
					       { "llama-cpp", required_argument, NULL, 'l' },
					       { "ids", no_argument, NULL, 'i' },
					       { "help", no_argument, NULL, 'h' },
					       { NULL, 0, NULL, 0 } };
	const char *peer_dir = DEFAULT_PEER_DIR, *lldir = AL_BENCH_AI_BUILD_DIR "/peers/llama.cpp";
	bool ids_only = false;
	for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
		if (c == 'i') {
			ids_only = true;
		} else if (c == 'p') {
			peer_dir = optarg;
		} else if (c == 'l') {
			lldir = optarg;
		} else {
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	int runs = optind < argc ? atoi(argv[optind]) : 7, steps = optind + 1 < argc ? atoi(argv[optind + 1]) : 256;
	char dir[] = "/tmp/bench_ai.XXXXXX", bin1[600], binomp[600], m15[600], t15[600];
	bool have1 = false, haveomp = false;

	if (runs < 1 || runs > 1000 || steps < 2 || optind + 2 < argc) {
		usage();
		return 2;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(m15, sizeof(m15), "%s/random15M.bin", dir);
	snprintf(t15, sizeof(t15), "%s/tok32000.bin", dir);
	struct stat st;
	errno = 0;
	if (ids_only) {
		peer_dir = NULL;
	} else if (stat(peer_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		printf("peer: the shared folder of llama2.c is missing: tried %s (%s); printing airlock only "
		       "(--peer-dir DIR names another)\n",
		       peer_dir, errno ? strerror(errno) : "not a directory");
		peer_dir = NULL;
	} else {
		char verf[600], errf[600], *ver = NULL;
		size_t vlen = 0;
		char *vargv[] = { PEER_CC, "--version", NULL };
		snprintf(verf, sizeof(verf), "%s/cc.out", dir);
		snprintf(errf, sizeof(errf), "%s/cc.err", dir);
		if (run_cmd(vargv, verf, errf) == 0 && al_read_file_at(AT_FDCWD, verf, 4096, &ver, &vlen) == 0)
			printf("peer compiler: %.*s\n", (int)strcspn(ver, "\n"), ver);
		free(ver);
		/* Their Makefile: runfast is -Ofast, runomp -Ofast -fopenmp -march=native. */
		static const char *const fast[] = { "-Ofast", "-march=native", NULL };
		static const char *const omp[] = { "-Ofast", "-fopenmp", "-march=native", NULL };
		have1 = build_peer("run.c 1T", peer_dir, "run.c", "run-fast", fast, dir, bin1, sizeof(bin1)) == 0;
		haveomp = build_peer("run.c OpenMP", peer_dir, "run.c", "run-omp", omp, dir, binomp, sizeof(binomp)) == 0;
	}

	/* stories15M shape, random weights, generated 32000-token vocabulary. */
	struct mw_shape s15 = { .dim = 288, .hidden_dim = 768, .n_layers = 6, .n_heads = 6,
				.n_kv_heads = 6, .vocab_size = 32000, .seq_len = 256 };
	struct mw_buf b = { 0 };
	mw_random_legacy(&b, &s15, false, 15);
	write_file(m15, &b);
	mw_free(&b);
	mw_tokenizer(&b, 32000);
	write_file(t15, &b);
	mw_free(&b);

	int rc = 0;
	if (ids_only) {
		rc = ids_section(AL_SOURCE_ROOT "/models/stories260K.bin", AL_SOURCE_ROOT "/models/tok512.bin", m15, t15,
				 dir, steps);
		goto out;
	}
	double *o = calloc((size_t)runs, sizeof(double)), *p = calloc((size_t)runs, sizeof(double));
	printf("greedy, %d steps, %d runs; airlock nT against run.c nT (1T: run-fast; 2T: run-omp with "
	       "OMP_NUM_THREADS=2); tokens/s (p99 = slowest run)\n",
	       steps, runs);
	printf("%-26s %12s %12s %12s %12s %8s\n", "model", "airlock med", "airlock p99", "run.c med",
	       "run.c p99", "ratio");
	const struct {
		const char *name, *model, *tok;
	} cases[] = {
		{ "stories260K", AL_SOURCE_ROOT "/models/stories260K.bin", AL_SOURCE_ROOT "/models/tok512.bin" },
		{ "random 15M shape", m15, t15 },
	};
	for (size_t i = 0; i < AL_ARRAY_LEN(cases); i++) {
		char name[64];
		for (int threads = 1; threads <= 2; threads++) {
			/* The peer with the same number of threads: its OpenMP build for more than one. */
			bool hp = threads == 1 ? have1 : haveomp;
			hp = hp && peer(threads == 1 ? bin1 : binomp, cases[i].model, cases[i].tok, steps, runs,
					threads == 1 ? 0 : threads, dir, p) == 0;
			if (ours(cases[i].model, cases[i].tok, steps, runs, threads, o)) {
				rc = 1;
				continue;
			}
			snprintf(name, sizeof(name), "%s, %dT", cases[i].name, threads);
			row(name, o, p, runs, hp);
		}
	}
	printf("\nprefill: a %d-token prompt run together (al_ai_prefill) against one position at a time; "
	       "tokens/s\n", steps / 2);
	printf("%-26s %12s %12s %12s %8s\n", "model", "prefill med", "prefill p99", "1-by-1 med", "ratio");
	for (size_t i = 0; i < AL_ARRAY_LEN(cases); i++)
		for (int threads = 1; threads <= 2; threads++) {
			char name[64];
			if (prefill(cases[i].model, cases[i].tok, steps / 2, runs, threads, o, p)) {
				rc = 1;
				continue;
			}
			struct stat_s a = summarize(o, runs), b1 = summarize(p, runs);
			snprintf(name, sizeof(name), "%s, %dT", cases[i].name, threads);
			printf("%-26s %12.0f %12.0f %12.0f %7.2fx\n", name, a.median, a.p99, b1.median,
			       a.median / b1.median);
		}
	kernels_section(runs * 5);
	rc |= gguf_section(cases[0].model, cases[0].tok, 4, m15, t15, 32, dir, peer_dir, steps, runs, o, p);
	rc |= llama_section(lldir, m15, t15, dir, steps, runs, o, p);
	free(o);
	free(p);
out:;
	const char *scratch[] = { "random15M.bin", "tok32000.bin", "peer.err", "cc.err", "cc.out",
				  "g_f32.gguf", "g_q8_0.gguf", "g_q4_0.gguf", "v2.bin", "llama.out", "llama.err" };
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; dfd >= 0 && i < AL_ARRAY_LEN(scratch); i++)
		unlinkat(dfd, scratch[i], 0);
	if (dfd >= 0)
		close(dfd);
	if (rmdir(dir) < 0)
		rc = 1;
	return rc;
}
