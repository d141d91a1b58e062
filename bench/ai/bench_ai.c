/*
 * Tokens per second of the airlock engine (one and two threads) against
 * llama2.c's run.c (one thread), greedy, same steps, on stories260K and on a
 * random-weights model of the stories15M shape (dim 288, 6 layers, 6 heads,
 * vocab 32000, separate classifier) that this benchmark writes, with a
 * generated tokenizer, to a scratch directory.
 *
 * The peer is compiled at run time from AL_PEER_LLAMA2C (default
 * /work/shared/peers/llama2.c/run.c) with `cc -O3`; when it is absent only
 * our figures are printed. Both sides are timed the way run.c times itself:
 * from the end of the first forward pass to the last token.
 *
 * Then the GGUF tensor types: both models re-exported as GGUF in F32, Q8_0
 * and Q4_0 (airlock, one thread) against the F32 path, and Q8_0 against
 * llama2.c's runq.c (compiled from the same directory as run.c, one thread)
 * on a version-2 checkpoint of the same weights, with the largest group size
 * runq can use on that shape (4 for stories260K, whose hidden_dim is 172; 32
 * for the 15M shape). runq quantises every matrix including ffn_down; the
 * GGUF files keep rows that do not divide into 32-value blocks in F32.
 *
 * Usage: bench_ai [RUNS] [STEPS]   (defaults 7 and 256)
 */
#include <errno.h>
#include <fcntl.h>
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

#define DEFAULT_PEER "/work/shared/peers/llama2.c/run.c"

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
static int ours(const char *model_path, const char *tok_path, int steps, int runs, int threads, double *out)
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

static int run_cmd(char *const argv[], const char *errfile)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;
	extern char **environ;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		return -rc;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return 0;
}

/* The peer prints "achieved tok/s: X" on stderr, timed from after its first token. */
static int peer(const char *bin, const char *model, const char *tok, int steps, int runs, const char *dir, double *out)
{
	char steps_s[16], errfile[512];
	snprintf(steps_s, sizeof(steps_s), "%d", steps);
	snprintf(errfile, sizeof(errfile), "%s/peer.err", dir);
	char *argv[] = { (char *)bin, (char *)model, "-z", (char *)tok, "-t", "0", "-n", steps_s, NULL };
	for (int r = 0; r < runs; r++) {
		char *txt = NULL;
		size_t len;
		if (run_cmd(argv, errfile) || al_read_file_at(AT_FDCWD, errfile, 1 << 16, &txt, &len))
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
		if (peer(runq, path, tok, steps, runs, dir, p) == 0) {
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
			const char *dir, const char *peer_src, int steps, int runs, double *o, double *p)
{
	char src[600], bin[600], errf[600];
	const char *runq = NULL;
	/* runq.c sits beside run.c in llama2.c. */
	snprintf(src, sizeof(src), "%.*s/runq.c", (int)(strrchr(peer_src, '/') ? strrchr(peer_src, '/') - peer_src : 1),
		 strrchr(peer_src, '/') ? peer_src : ".");
	snprintf(bin, sizeof(bin), "%s/runq", dir);
	snprintf(errf, sizeof(errf), "%s/cc.err", dir);
	if (access(src, R_OK) == 0) {
		char *cc[] = { "cc", "-O3", "-o", bin, src, "-lm", NULL };
		if (run_cmd(cc, errf) == 0)
			runq = bin;
	}
	al_ai_quant_init(false);
	printf("\nGGUF tensor types, airlock 1 thread (%s kernels); runq.c one thread%s\n", al_ai_quant_kernels(),
	       runq ? "" : " (absent: not compared)");
	printf("%-30s %12s %12s %12s %9s\n", "model", "tok/s med", "tok/s p99", "f32 med", "vs f32");
	return gguf_model("stories260K", m260, t260, gs260, dir, runq, steps, runs, o, p) |
	       gguf_model("random 15M shape", m15, t15, gs15, dir, runq, steps, runs, o, p);
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 7, steps = argc > 2 ? atoi(argv[2]) : 256;
	const char *peer_src = getenv("AL_PEER_LLAMA2C") ? getenv("AL_PEER_LLAMA2C") : DEFAULT_PEER;
	char dir[] = "/tmp/bench_ai.XXXXXX", bin[600], m15[600], t15[600];
	bool have_peer = false;

	if (runs < 1 || runs > 1000 || steps < 2)
		return 2;
	if (!mkdtemp(dir))
		return 1;
	snprintf(bin, sizeof(bin), "%s/run", dir);
	snprintf(m15, sizeof(m15), "%s/random15M.bin", dir);
	snprintf(t15, sizeof(t15), "%s/tok32000.bin", dir);
	if (access(peer_src, R_OK) == 0) {
		char *cc[] = { "cc", "-O3", "-o", bin, (char *)peer_src, "-lm", NULL };
		char errf[600];
		snprintf(errf, sizeof(errf), "%s/cc.err", dir);
		have_peer = run_cmd(cc, errf) == 0;
		if (!have_peer)
			printf("peer: %s did not compile; printing airlock only\n", peer_src);
	} else {
		printf("peer: llama2.c run.c absent (%s); printing airlock only\n", peer_src);
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

	double *o = calloc((size_t)runs, sizeof(double)), *p = calloc((size_t)runs, sizeof(double));
	printf("greedy, %d steps, %d runs; run.c one thread, airlock 1T and 2T; tokens/s (p99 = slowest run)\n",
	       steps, runs);
	printf("%-26s %12s %12s %12s %12s %8s\n", "model", "airlock med", "airlock p99", "run.c med",
	       "run.c p99", "ratio");
	const struct {
		const char *name, *model, *tok;
	} cases[] = {
		{ "stories260K", AL_SOURCE_ROOT "/models/stories260K.bin", AL_SOURCE_ROOT "/models/tok512.bin" },
		{ "random 15M shape", m15, t15 },
	};
	int rc = 0;
	for (size_t i = 0; i < AL_ARRAY_LEN(cases); i++) {
		char name[64];
		bool hp = have_peer && peer(bin, cases[i].model, cases[i].tok, steps, runs, dir, p) == 0;
		/* Our two threads against the peer's one: what the worker can use here. */
		for (int threads = 1; threads <= 2; threads++) {
			if (ours(cases[i].model, cases[i].tok, steps, runs, threads, o)) {
				rc = 1;
				continue;
			}
			snprintf(name, sizeof(name), "%s, %dT", cases[i].name, threads);
			double copy[1000];
			memcpy(copy, p, (size_t)runs * sizeof(double));
			row(name, o, copy, runs, hp);
		}
	}
	rc |= gguf_section(cases[0].model, cases[0].tok, 4, m15, t15, 32, dir, peer_src, steps, runs, o, p);
	free(o);
	free(p);
	const char *scratch[] = { "run", "random15M.bin", "tok32000.bin", "peer.err", "cc.err", "runq",
				  "g_f32.gguf", "g_q8_0.gguf", "g_q4_0.gguf", "v2.bin" };
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; dfd >= 0 && i < AL_ARRAY_LEN(scratch); i++)
		unlinkat(dfd, scratch[i], 0);
	if (dfd >= 0)
		close(dfd);
	if (rmdir(dir) < 0)
		rc = 1;
	return rc;
}
