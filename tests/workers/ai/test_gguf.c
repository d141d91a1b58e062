/*
 * GGUF tests: the embedded model exported by tools/gguf_export.py in F32,
 * F16, Q8_0 and Q4_0 (at build time) against the llama2.c checkpoint's
 * reference text; the embedded tokenizer; the kernels (every version against
 * the portable one, and that against a dequantised reference); and hostile files, one group per
 * class of known GGUF loader flaw, each refused with the field named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "al_config.h"
#include "common/util.h"
#include "model_writer.h"
#include "ai_check.h"
#include "workers/ai/generate.h"
#include "workers/ai/gguf.h"
#include "workers/ai/quant.h"

#define MODEL AL_SOURCE_ROOT "/models/stories260K.bin"
#define TOKENIZER AL_SOURCE_ROOT "/models/tok512.bin"
#define DATA AL_SOURCE_ROOT "/tests/workers/ai/"

static char *slurp(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	if (al_read_file_at(AT_FDCWD, path, 64u << 20, &buf, &n))
		fail_msg("cannot read %s", path);
	if (len)
		*len = n;
	return buf;
}

struct text {
	char buf[1 << 16];
	size_t len;
};

static int collect(void *ctx, const char *piece, size_t len, int token)
{
	struct text *t = ctx;
	assert_true(t->len + len < sizeof(t->buf));
	memcpy(t->buf + t->len, piece, len);
	t->len += len;
	return 0;
}

struct loaded {
	struct al_ai_model m;
	struct al_ai_tokenizer t;
	struct al_ai_engine e;
};

static void load_gguf(struct loaded *l, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", GGUF_DIR, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	if (al_ai_model_build_fd(&l->m, fd))
		fail_msg("%s: %s", name, l->m.err);
	close(fd);
	if (al_ai_tokenizer_build_gguf(&l->t, &l->m))
		fail_msg("%s: %s", name, l->t.err);
	assert_int_equal(al_ai_engine_build(&l->e, &l->m, &l->t), 0);
}

static void unload(struct loaded *l)
{
	al_ai_engine_free(&l->e);
	al_ai_tokenizer_free(&l->t);
	al_ai_model_free(&l->m);
}

static void greedy(struct loaded *l, const char *prompt, struct text *out)
{
	struct al_ai_sampler smp;
	struct al_ai_gen_stats st;
	memset(out, 0, sizeof(*out));
	assert_int_equal(al_ai_sampler_build(&smp, l->m.cfg.vocab_size, 0.0f, 0.9f, 1), 0);
	assert_int_equal(al_ai_generate(&l->e, &smp, prompt, 256, collect, out, &st), 0);
	al_ai_sampler_free(&smp);
	out->buf[out->len++] = '\n';
}

static size_t common_prefix(const struct text *a, const char *ref, size_t len)
{
	size_t n = 0;
	while (n < a->len && n < len && a->buf[n] == ref[n])
		n++;
	return n;
}

/* ---- the embedded model in each type ---- */

static void test_config(void **state)
{
	struct loaded l;
	load_gguf(&l, "s260k_q8_0.gguf");
	const struct al_ai_config *c = &l.m.cfg;
	assert_int_equal(c->format, AL_AI_FORMAT_GGUF);
	assert_int_equal(l.m.gguf->version, 3);
	assert_int_equal(c->dim, 64);
	assert_int_equal(c->hidden_dim, 172);
	assert_int_equal(c->n_layers, 5);
	assert_int_equal(c->n_heads, 8);
	assert_int_equal(c->n_kv_heads, 4);
	assert_int_equal(c->vocab_size, 512);
	assert_int_equal(c->seq_len, 512);
	assert_true(c->rms_eps == 1e-5f);
	assert_true(c->rope_base == 10000.0f);
	assert_true(c->shared_classifier);
	assert_ptr_equal(l.m.w.wcls.b, l.m.w.tokens.b);
	/* Rows of 64 are Q8_0 blocks; ffn_down's rows of 172 stay F32. */
	assert_int_equal(l.m.w.layers[0].wq.type, AL_AI_W_Q8_0);
	assert_int_equal(l.m.w.layers[0].w2.type, AL_AI_W_F32);
	assert_int_equal(c->group_size, 32);
	unload(&l);
}

static void test_f32_f16_exact(void **state)
{
	static struct text out;
	size_t len;
	char *ref = slurp(DATA "greedy_t0.txt", &len);
	const char *files[] = { "s260k_f32.gguf", "s260k_f16.gguf", "s260k_f32_v2.gguf" };
	for (size_t i = 0; i < AL_ARRAY_LEN(files); i++) {
		struct loaded l;
		load_gguf(&l, files[i]);
		greedy(&l, "", &out);
		/* F32 holds the very weights; F16 rounds them, and on this model
		 * the 256 greedy tokens still come out the same. */
		if (out.len != len || memcmp(out.buf, ref, len))
			fail_msg("%s: text differs from the llama2.c reference after %zu bytes", files[i],
				 common_prefix(&out, ref, len));
		unload(&l);
	}
	free(ref);
	/* And with a prompt, through the embedded tokenizer. */
	ref = slurp(DATA "greedy_once_upon_a_time.txt", &len);
	struct loaded l;
	load_gguf(&l, "s260k_f32.gguf");
	greedy(&l, "Once upon a time", &out);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.buf, ref, len);
	unload(&l);
	free(ref);
}

/* Greedy text from the quantised types keeps the reference's opening, and
 * on the reference's own tokens (teacher forcing) the logits stay within a
 * stated fraction of their range with mostly the same argmax. */
static void check_quantised(const char *file, size_t min_prefix, float max_rel, int min_agree_pct)
{
	static struct text out;
	size_t len;
	char *ref = slurp(DATA "greedy_t0.txt", &len);
	struct loaded q, f;
	load_gguf(&q, file);
	load_gguf(&f, "s260k_f32.gguf");
	greedy(&q, "", &out);
	size_t common = common_prefix(&out, ref, len);
	if (common < min_prefix)
		fail_msg("%s: text diverges after %zu bytes (want >= %zu): %.80s", file, common, min_prefix, out.buf);

	enum { STEPS = 128 };
	int token = 1, agree = 0;
	float maxabs = 0.0f, maxdiff = 0.0f;
	int V = f.m.cfg.vocab_size;
	float *lf = malloc((size_t)V * 4);
	for (int pos = 0; pos < STEPS; pos++) {
		memcpy(lf, al_ai_forward(&f.m, &f.e.state, token, pos), (size_t)V * 4);
		const float *lq = al_ai_forward(&q.m, &q.e.state, token, pos);
		int bf = 0, bq = 0;
		for (int i = 0; i < V; i++) {
			maxabs = fmaxf(maxabs, fabsf(lf[i]));
			maxdiff = fmaxf(maxdiff, fabsf(lf[i] - lq[i]));
			bf = lf[i] > lf[bf] ? i : bf;
			bq = lq[i] > lq[bq] ? i : bq;
		}
		agree += bf == bq;
		token = bf; /* follow the f32 path */
	}
	print_message("%s: %zu bytes of text in common, logits within %.2f%% of max |logit| %.2f, argmax agrees at %d/%d\n",
		      file, common, 100.0 * maxdiff / maxabs, maxabs, agree, STEPS);
	if (!(maxdiff <= max_rel * maxabs))
		fail_msg("%s: logits differ by %g, more than %.0f%% of %g", file, maxdiff, 100.0 * max_rel, maxabs);
	assert_true(maxdiff > 0.0f); /* really the quantised path */
	if (agree * 100 < min_agree_pct * STEPS)
		fail_msg("%s: argmax agrees at only %d of %d positions", file, agree, STEPS);
	free(lf);
	unload(&q);
	unload(&f);
	free(ref);
}

static void test_q8_0(void **state)
{
	check_quantised("s260k_q8_0.gguf", 200, 0.05f, 90);
}

static void test_q4_0(void **state)
{
	/* 4 bits per weight in a model this small: a quarter of the logits range moves. */
	check_quantised("s260k_q4_0.gguf", 60, 0.5f, 75);
}

static void test_threads_same_bits(void **state)
{
	static struct text a, b;
	struct loaded l;
	load_gguf(&l, "s260k_q4_0.gguf");
	greedy(&l, "", &a);
	assert_int_equal(al_ai_engine_set_threads(&l.e, 2), 0);
	l.e.state.parallel_min = 0;
	greedy(&l, "", &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.buf, b.buf, a.len);
	/* The portable kernels (what a CPU without AVX2 runs) give the same bits. */
	al_ai_quant_init(true);
	greedy(&l, "", &b);
	al_ai_quant_init(false);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.buf, b.buf, a.len);
	unload(&l);
}

/* A second, independent writer (model_writer.c, used by the benchmark)
 * agrees with the exporter: its F32 file gives the reference text too. */
static void test_c_writer(void **state)
{
	static struct text out;
	size_t len, tlen;
	char *ref = slurp(DATA "greedy_t0.txt", &len), *tb = slurp(TOKENIZER, &tlen);
	struct al_ai_model src;
	struct al_ai_tokenizer tok;
	struct loaded l;
	struct mw_buf b = { 0 };
	int fd = open(MODEL, O_RDONLY | O_CLOEXEC);
	assert_int_equal(al_ai_model_build_fd(&src, fd), 0);
	close(fd);
	assert_int_equal(al_ai_tokenizer_build_mem(&tok, tb, tlen, 512), 0);
	mw_export_gguf(&b, &src, &tok, AL_GGML_F32);
	if (al_ai_model_build_mem(&l.m, b.p, b.len))
		fail_msg("%s", l.m.err);
	assert_int_equal(al_ai_tokenizer_build_gguf(&l.t, &l.m), 0);
	assert_int_equal(al_ai_engine_build(&l.e, &l.m, &l.t), 0);
	greedy(&l, "", &out);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.buf, ref, len);
	unload(&l);
	mw_free(&b);
	al_ai_tokenizer_free(&tok);
	al_ai_model_free(&src);
	free(ref);
	free(tb);
}

/* ---- the embedded tokenizer ---- */

static void test_tokenizer(void **state)
{
	struct loaded l;
	struct al_ai_tokenizer ref;
	size_t len, n;
	char *tb = slurp(TOKENIZER, &len);
	int ids[64];
	const int want[] = { 1, 403, 407, 261, 378 };
	load_gguf(&l, "s260k_f16.gguf");
	assert_int_equal(al_ai_tokenizer_build_mem(&ref, tb, len, 512), 0);
	assert_int_equal(l.t.vocab_size, 512);
	assert_int_equal(l.t.bos, 1);
	assert_int_equal(l.t.eos, 2);
	assert_int_equal(al_ai_tokenizer_encode(&l.t, "Once upon a time", true, false, ids, 64, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(ids, want, sizeof(want));
	/* Byte fallback through the <0xHH> tokens. */
	assert_int_equal(al_ai_tokenizer_encode(&l.t, "\xd0\xb6", false, false, ids, 64, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ids[1], 0xd0 + 3);
	assert_int_equal(l.t.byte_id['\n'], 13);
	/* The SentencePiece space (U+2581) reads as ' ': every ordinary piece
	 * equals tokenizer.bin's (BOS and EOS differ: llama2.c wraps them in newlines). */
	for (int i = 3; i < 512; i++) {
		assert_int_equal(l.t.vocab[i].len, ref.vocab[i].len);
		assert_memory_equal(l.t.vocab[i].str, ref.vocab[i].str, ref.vocab[i].len);
		assert_true(l.t.scores[i] == ref.scores[i]);
	}
	/* A checkpoint has no embedded vocabulary. */
	struct al_ai_model m;
	struct al_ai_tokenizer t;
	int fd = open(MODEL, O_RDONLY | O_CLOEXEC);
	assert_int_equal(al_ai_model_build_fd(&m, fd), 0);
	close(fd);
	assert_int_equal(al_ai_tokenizer_build_gguf(&t, &m), -EINVAL);
	assert_non_null(strstr(t.err, "not GGUF"));
	al_ai_model_free(&m);
	al_ai_tokenizer_free(&ref);
	unload(&l);
	free(tb);
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Against llama.cpp: tok512's vocabulary as GGUF, with and without its
 * standalone space piece, encodes each text of tokenizer_llama_cpp.txt to
 * llama.cpp's ids. That file is llama.cpp's own output, generated by
 * bench/ai/gen-tokenizer-cases (llama.cpp itself is no test dependency).
 * Without the space piece, SentencePiece still puts a space before the
 * text and merges it into the pieces that begin with one; a space left
 * alone is the bytes of U+2581.
 */
static void test_tokenizer_llama_cpp(void **state)
{
	size_t len;
	char *data = slurp(DATA "tokenizer_llama_cpp.txt", &len);
	int cases = 0;
	for (int with = 0; with < 2; with++) {
		struct mw_buf b = { 0 };
		struct al_ai_model m;
		struct al_ai_tokenizer t;
		const char *name = with ? "space" : "nospace";
		assert_int_equal(mw_vocab_gguf(&b, MODEL, TOKENIZER, with), 0);
		if (al_ai_model_build_mem(&m, b.p, b.len))
			fail_msg("%s", m.err);
		if (al_ai_tokenizer_build_gguf(&t, &m))
			fail_msg("%s", t.err);
		assert_int_equal(al_ai_tokenizer_lookup(&t, " ", 1) >= 0, with);
		for (char *line = data, *next; line < data + len; line = next) {
			char *end = memchr(line, '\n', (size_t)(data + len - line)), text[256], *p;
			int want[512], got[512], nw = 0;
			size_t nt = 0, ng;
			next = end ? end + 1 : data + len;
			size_t nl = strlen(name);
			if (line[0] == '#' || (size_t)(next - line) <= nl || memcmp(line, name, nl) || line[nl] != ' ')
				continue;
			p = line + nl + 1;
			for (; hexval(p[0]) >= 0 && hexval(p[1]) >= 0 && nt + 1 < sizeof(text); p += 2)
				text[nt++] = (char)(hexval(p[0]) * 16 + hexval(p[1]));
			text[nt] = '\0';
			if (*p == '-')
				p++;
			while (p < next && nw < 512) {
				char *e;
				long v = strtol(p, &e, 10);
				if (e == p)
					break;
				want[nw++] = (int)v;
				p = e;
			}
			assert_true(nw >= 1 && strlen(text) == nt);
			assert_int_equal(al_ai_tokenizer_encode(&t, text, true, false, got, 512, &ng), 0);
			if (ng != (size_t)nw || memcmp(got, want, ng * sizeof(int))) {
				char g[512] = "", w[512] = "";
				for (size_t i = 0; i < ng; i++)
					snprintf(g + strlen(g), sizeof(g) - strlen(g), " %d", got[i]);
				for (int i = 0; i < nw; i++)
					snprintf(w + strlen(w), sizeof(w) - strlen(w), " %d", want[i]);
				fail_msg("%s vocabulary, text \"%s\": ids%s, llama.cpp's%s", name, text, g, w);
			}
			cases++;
		}
		al_ai_tokenizer_free(&t);
		al_ai_model_free(&m);
		mw_free(&b);
	}
	print_message("%d texts tokenized as llama.cpp does\n", cases);
	assert_true(cases >= 40);
	free(data);
}

/* ---- kernels ---- */

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 32);
}

static uint16_t to_half(float f)
{
	/* Test data only: values in [2^-10, 1), normal halves, truncated mantissa. */
	uint32_t b;
	memcpy(&b, &f, 4);
	return (uint16_t)(((b >> 16) & 0x8000) | ((((b >> 23) & 0xff) - 112) << 10) | ((b >> 13) & 0x3ff));
}

/* The fp32 product: every version gives the same bits, single or batched,
 * on a length with a tail (n % 16 != 0) and ones without (which the batched
 * AVX-512 form packs 8 vectors for, long ones in parts), odd row counts,
 * and vector counts across its groupings (4, 8). */
static void check_f32_kernels(int N, int D, int NP)
{
	float *w = malloc(sizeof(float) * (size_t)(D * N)), *x = malloc(sizeof(float) * (size_t)(NP * N));
	float *ref = malloc(sizeof(float) * (size_t)(NP * D)), *o = malloc(sizeof(float) * (size_t)(NP * D));
	float *o1 = malloc(sizeof(float) * (size_t)D);
	size_t row = sizeof(float) * (size_t)D;
	assert_true(w && x && ref && o && o1);
	for (int i = 0; i < D * N; i++)
		w[i] = (float)(int)(rnd() % 20001 - 10000) / 7777.0f;
	for (int i = 0; i < NP * N; i++)
		x[i] = (float)(int)(rnd() % 20001 - 10000) / 3333.0f;
	const char *names[] = { "scalar", "avx2", "avx512", "amx", "neon", "dotprod" };
	for (size_t k = 0; k < AL_ARRAY_LEN(names); k++) {
		if (!al_ai_quant_use(names[k])) {
			print_message("f32 kernels: %s not available here\n", names[k]);
			continue;
		}
		for (int np = 1; np <= NP; np++) {
			al_ai_matmul_f32_batch(o, (size_t)D, x, (size_t)N, np, w, N, D);
			for (int p = 0; p < np; p++) {
				al_ai_matmul_f32(o1, x + p * N, w, N, D);
				if (k == 0 && np == NP)
					memcpy(ref + p * D, o1, row);
				if (memcmp(o1, o + p * D, row))
					fail_msg("n %d, %s: batched product of %d differs from the single one at vector %d", N,
						 names[k], np, p);
				if (k > 0 && memcmp(o1, ref + p * D, row))
					fail_msg("n %d, %s: differs from the portable kernel at vector %d", N, names[k], p);
			}
		}
		/* And against a double-precision sum, to catch a wrong product. */
		for (int r = 0; r < D; r++) {
			double acc = 0.0;
			for (int i = 0; i < N; i++)
				acc += (double)w[r * N + i] * x[i];
			if (fabs(acc - ref[r]) > 1e-3 * (1.0 + fabs(acc)))
				fail_msg("row %d: %.8g, reference %.8g", r, ref[r], acc);
		}
	}
	al_ai_quant_init(false);
	free(w);
	free(x);
	free(ref);
	free(o);
	free(o1);
}

static void test_f32_kernels(void **state)
{
	check_f32_kernels(300, 39, 7);
	check_f32_kernels(320, 37, 19);
	check_f32_kernels(1040, 23, 9); /* long rows: packed once, 256 values at a time */
}

/* Prefill (the prompt's positions together) gives the bits of running them
 * one at a time: logits of the last position and the whole kv cache, for
 * every tensor type, across block boundaries, from a later position, and
 * with the positions split over two threads. The portable kernels (slow
 * under the sanitizers) run one thread and 40 positions, which stay in
 * the second block. */
static void check_prefill(const char *what, const struct al_ai_model *m, const char *kernels)
{
	enum { NMAX = AL_AI_BATCH + 13, K = 5 }; /* blocks [0, 5), [5, 5 + AL_AI_BATCH), [5 + AL_AI_BATCH, N) */
	bool portable = !strcmp(kernels, "scalar");
	int tokens[NMAX], N = portable ? 40 : NMAX;
	const struct al_ai_config *c = &m->cfg;
	size_t cache = (size_t)c->n_layers * (size_t)c->seq_len * (size_t)c->kv_dim * sizeof(float);
	size_t V = (size_t)c->vocab_size * sizeof(float);
	struct al_ai_pool *pool;
	assert_int_equal(al_ai_pool_new(&pool, 2), 0);
	for (int i = 0; i < N; i++)
		tokens[i] = i ? (int)(rnd() % (uint32_t)c->vocab_size) : 1;
	for (int threads = 1; threads <= (portable ? 1 : 2); threads++) {
		struct al_ai_state a, b;
		const float *la = NULL;
		assert_int_equal(al_ai_state_build(&a, c), 0);
		assert_int_equal(al_ai_state_build(&b, c), 0);
		al_ai_quant_use(kernels); /* after the builds, which pick the best */
		if (threads == 2) {
			a.pool = b.pool = pool;
			a.parallel_min = b.parallel_min = 0;
		}
		for (int pos = 0; pos < N; pos++)
			la = al_ai_forward(m, &a, tokens[pos], pos);
		al_ai_prefill(m, &b, tokens, K, 0);
		const float *lb = al_ai_prefill(m, &b, tokens + K, N - K, K);
		if (memcmp(la, lb, V))
			fail_msg("%s, %d threads: prefill logits differ from one position at a time", what, threads);
		if (memcmp(a.key_cache, b.key_cache, cache) || memcmp(a.value_cache, b.value_cache, cache))
			fail_msg("%s, %d threads: prefill kv cache differs", what, threads);
		al_ai_state_free(&a);
		al_ai_state_free(&b);
	}
	al_ai_pool_free(pool);
}

static void test_prefill(void **state)
{
	const char *files[] = { "s260k_f32.gguf", "s260k_f16.gguf", "s260k_q8_0.gguf", "s260k_q4_0.gguf" };
	al_ai_quant_init(false);
	const char *best = al_ai_quant_kernels();
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < AL_ARRAY_LEN(files); i++) {
			struct loaded l;
			load_gguf(&l, files[i]);
			/* The best kernels this CPU has, then the portable ones. */
			check_prefill(files[i], &l.m, pass ? "scalar" : best);
			unload(&l);
		}
	al_ai_quant_init(false);
	/* The checkpoint itself, and its version-2 (Q8, group 4) export. */
	struct al_ai_model m, q;
	struct mw_buf b = { 0 };
	int fd = open(MODEL, O_RDONLY | O_CLOEXEC);
	assert_int_equal(al_ai_model_build_fd(&m, fd), 0);
	close(fd);
	check_prefill("stories260K.bin", &m, best);
	mw_export(&b, &m, AL_AI_FORMAT_Q8, m.cfg.shared_classifier, 4);
	if (al_ai_model_build_mem(&q, b.p, b.len))
		fail_msg("v2: %s", q.err);
	check_prefill("stories260K v2 Q8", &q, best);
	al_ai_model_free(&q);
	mw_free(&b);
	al_ai_model_free(&m);
}

/*
 * A decode step of several sequences (continuous batching) gives each the
 * bits it gets alone: the logits of every step and the whole cache, for
 * sequences at different positions, in slots taken out of row order, some
 * joining later, in slots another sequence used before; for every tensor
 * type, and with the products split over two threads.
 */
static void check_batch(const char *what, const struct al_ai_model *m, const char *kernels)
{
	enum { S = 5, STEPS = 4, MAXP = 32 };
	/* Prompt lengths (the first step's positions): one crosses a prefill block. */
	static const int start[S] = { 1, 7, 25, 3, 12 };
	static const int slot_of[S] = { 3, 0, 4, 1, 2 }; /* rows in another order than the slots */
	static const int join[S] = { 0, 0, 1, 0, 2 };    /* the step at which each joins */
	const struct al_ai_config *c = &m->cfg;
	size_t V = (size_t)c->vocab_size, seq = (size_t)c->seq_len, kv = (size_t)c->kv_dim;
	size_t cache = (size_t)c->n_layers * seq * kv;
	int tokens[S][MAXP], junk[MAXP];
	float *want = malloc(S * STEPS * V * sizeof(float));
	float *wk = malloc(S * cache * sizeof(float)), *wv = malloc(S * cache * sizeof(float));
	struct al_ai_pool *pool;
	assert_true(want && wk && wv);
	assert_int_equal(al_ai_pool_new(&pool, 2), 0);
	for (int i = 0; i < S; i++)
		for (int t = 0; t < MAXP; t++)
			tokens[i][t] = t ? (int)(rnd() % (uint32_t)c->vocab_size) : 1;
	for (int t = 0; t < MAXP; t++)
		junk[t] = (int)(rnd() % (uint32_t)c->vocab_size);
	/* The portable kernels (slow under the sanitizers): one thread, three sequences. */
	bool portable = !strcmp(kernels, "scalar");
	int nseq = portable ? 3 : S;
	for (int threads = 1; threads <= (portable ? 1 : 2); threads++) {
		struct al_ai_state a, b;
		assert_int_equal(al_ai_state_build(&a, c), 0);
		assert_int_equal(al_ai_state_build_slots(&b, c, S), 0);
		al_ai_quant_use(kernels); /* after the builds, which pick the best */
		if (threads == 2) {
			a.pool = b.pool = pool;
			a.parallel_min = b.parallel_min = 0;
		}
		/* Alone: each sequence from position 0, one position at a time. */
		for (int i = 0; i < nseq; i++) {
			for (int pos = 0; pos < start[i] + STEPS; pos++) {
				const float *la = al_ai_forward(m, &a, tokens[i][pos], pos);
				if (pos >= start[i])
					memcpy(want + ((size_t)i * STEPS + (size_t)(pos - start[i])) * V, la, V * sizeof(float));
			}
			memcpy(wk + (size_t)i * cache, a.key_cache, cache * sizeof(float));
			memcpy(wv + (size_t)i * cache, a.value_cache, cache * sizeof(float));
		}
		/* Together: every slot first holds another sequence, longer than the
		 * one that takes it; then each prompt is prefilled into its slot. */
		for (int i = 0; i < nseq; i++) {
			al_ai_state_select(&b, slot_of[i]);
			al_ai_prefill(m, &b, junk, start[i] + STEPS + 2, 0);
		}
		for (int i = 0; i < nseq; i++) {
			al_ai_state_select(&b, slot_of[i]);
			al_ai_prefill(m, &b, tokens[i], start[i], 0);
		}
		al_ai_state_select(&b, 0);
		int done[S] = { 0 };
		for (int step = 0; step < STEPS + 2; step++) {
			int sl[S], tk[S], ps[S], who[S], n = 0;
			for (int i = 0; i < nseq; i++)
				if (step >= join[i] && done[i] < STEPS) {
					who[n] = i;
					sl[n] = slot_of[i];
					ps[n] = start[i] + done[i];
					tk[n] = tokens[i][ps[n]];
					n++;
				}
			if (!n)
				break;
			const float *rows = al_ai_forward_batch(m, &b, sl, tk, ps, n);
			for (int r = 0; r < n; r++) {
				int i = who[r];
				if (memcmp(rows + (size_t)r * V, want + ((size_t)i * STEPS + (size_t)done[i]) * V,
					   V * sizeof(float)))
					fail_msg("%s, %d threads: sequence %d at position %d (row %d of %d): logits differ "
						 "from the sequence alone", what, threads, i, ps[r], r, n);
				done[i]++;
			}
		}
		for (int i = 0; i < nseq; i++) {
			size_t P = (size_t)(start[i] + STEPS);
			assert_int_equal(done[i], STEPS);
			al_ai_state_select(&b, slot_of[i]);
			for (size_t l = 0; l < (size_t)c->n_layers; l++) {
				size_t off = l * seq * kv;
				if (memcmp(b.value_cache + off, wv + (size_t)i * cache + off, P * kv * sizeof(float)))
					fail_msg("%s, %d threads: sequence %d: value cache of layer %zu differs", what,
						 threads, i, l);
				for (size_t e = 0; e < kv; e++)
					if (memcmp(b.key_cache + off + e * seq, wk + (size_t)i * cache + off + e * seq,
						   P * sizeof(float)))
						fail_msg("%s, %d threads: sequence %d: key cache of layer %zu differs", what,
							 threads, i, l);
			}
		}
		al_ai_state_free(&a);
		al_ai_state_free(&b);
	}
	al_ai_pool_free(pool);
	free(want);
	free(wk);
	free(wv);
}

static void test_batch_decode(void **state)
{
	const char *files[] = { "s260k_f32.gguf", "s260k_f16.gguf", "s260k_q8_0.gguf", "s260k_q4_0.gguf" };
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < AL_ARRAY_LEN(files); i++) {
			struct loaded l;
			load_gguf(&l, files[i]);
			check_batch(files[i], &l.m, pass ? "scalar" : "avx512");
			unload(&l);
		}
	al_ai_quant_init(false);
	struct al_ai_model m, q;
	struct mw_buf b = { 0 };
	int fd = open(MODEL, O_RDONLY | O_CLOEXEC);
	assert_int_equal(al_ai_model_build_fd(&m, fd), 0);
	close(fd);
	check_batch("stories260K.bin", &m, "avx512");
	mw_export(&b, &m, AL_AI_FORMAT_Q8, m.cfg.shared_classifier, 4);
	if (al_ai_model_build_mem(&q, b.p, b.len))
		fail_msg("v2: %s", q.err);
	check_batch("stories260K v2 Q8", &q, "avx512");
	al_ai_model_free(&q);
	mw_free(&b);
	al_ai_model_free(&m);
}

/* Slots: the state's size grows with them, the budget bounds them, and a
 * count beyond AL_AI_MAX_STATE is refused with -EINVAL, not half built. */
static void test_slots_budget(void **state)
{
	struct al_ai_model m;
	int fd = open(MODEL, O_RDONLY | O_CLOEXEC);
	assert_int_equal(al_ai_model_build_fd(&m, fd), 0);
	close(fd);
	size_t one = al_ai_state_bytes(&m.cfg, 1), eight = al_ai_state_bytes(&m.cfg, 8);
	assert_true(one < eight && eight != SIZE_MAX);
	assert_int_equal(al_ai_slots_fit(&m.cfg, eight, 64), 8);
	assert_int_equal(al_ai_slots_fit(&m.cfg, eight - 1, 64), 7);
	assert_int_equal(al_ai_slots_fit(&m.cfg, one - 1, 64), 0);
	assert_int_equal(al_ai_slots_fit(&m.cfg, SIZE_MAX, 1000), AL_AI_MAX_SLOTS);
	assert_int_equal(al_ai_state_bytes(&m.cfg, 0), SIZE_MAX);
	assert_int_equal(al_ai_state_bytes(&m.cfg, AL_AI_MAX_SLOTS + 1), SIZE_MAX);
	struct al_ai_state s;
	assert_int_equal(al_ai_state_build_slots(&s, &m.cfg, 0), -EINVAL);
	/* A context long enough that a few slots pass the state limit. */
	struct al_ai_config big = m.cfg;
	big.seq_len = 32768;
	big.n_layers = 64;
	size_t per = al_ai_state_bytes(&big, 1);
	assert_true(per != SIZE_MAX);
	int fit = al_ai_slots_fit(&big, SIZE_MAX, AL_AI_MAX_SLOTS);
	assert_true(fit >= 1 && fit < AL_AI_MAX_SLOTS);
	assert_int_equal(al_ai_state_bytes(&big, fit + 1), SIZE_MAX);
	assert_int_equal(al_ai_state_build_slots(&s, &big, fit + 1), -EINVAL);
	al_ai_model_free(&m);
}


/* One product of type t (0 Q8_0, 1 Q4_0, 2 F16) of np vectors, batched or one by one. */
struct kdata {
	int n, d, np;
	uint8_t *w[3];
	int8_t *xq;
	float *xs, *x;
};

static void kproduct(const struct kdata *k, int t, int np, bool batched, float *o)
{
	int n = k->n, d = k->d, nb = n / 32;
	static const enum al_ai_wtype types[] = { AL_AI_W_Q8_0, AL_AI_W_Q4_0, AL_AI_W_F16 };
	if (batched) {
		if (t == 2)
			al_ai_matmul_f16_batch(o, (size_t)d, k->x, (size_t)n, np, k->w[t], n, d);
		else
			al_ai_matmul_blocks_batch(types[t], o, (size_t)d, k->xq, (size_t)n, k->xs, (size_t)nb, np, k->w[t],
						  n, d);
		return;
	}
	for (int p = 0; p < np; p++) {
		float *op = o + (size_t)p * (size_t)d;
		if (t == 0)
			al_ai_matmul_q8_0(op, k->xq + (size_t)p * n, k->xs + (size_t)p * nb, k->w[t], n, d);
		else if (t == 1)
			al_ai_matmul_q4_0(op, k->xq + (size_t)p * n, k->xs + (size_t)p * nb, k->w[t], n, d);
		else
			al_ai_matmul_f16(op, k->x + (size_t)p * n, k->w[t], n, d);
	}
}

/*
 * The GGUF kernels. Every version this CPU runs (portable, AVX2, AVX-512,
 * AMX; Advanced SIMD, and with SDOT) gives the same bits, single or
 * batched, for vector counts across each version's groupings (4 and 8 a
 * pass, AMX from 8 vectors and 32 a pass), row counts with a remainder
 * (VNNI and AVX2: in bands, one tile, less than one), and lengths across their
 * chunks (AMX 32 blocks, VNNI 256); Q8_0 weights
 * include -128. The portable version agrees with a dequantised
 * double-precision reference.
 */
static void test_kernels(void **state)
{
	/* Rows: VNNI's bands of 16 with rows left over (37, 45, 35), one tile
	 * (19), under a tile (9). */
	static const int shapes[][3] = { { 256, 37, 7 }, { 1088, 19, 40 }, { 8224, 9, 9 }, { 2048, 45, 3 },
					 { 8224, 35, 2 } };
	static const int nps[] = { 1, 2, 5, 7, 8, 9, 17, 32, 33, 40 };
	const char *names[] = { "scalar", "avx2", "avx512", "amx", "neon", "dotprod" };
	for (size_t s = 0; s < AL_ARRAY_LEN(shapes); s++) {
		struct kdata k = { .n = shapes[s][0], .d = shapes[s][1], .np = shapes[s][2] };
		int n = k.n, d = k.d, nb = n / 32;
		size_t outs = (size_t)k.np * (size_t)d;
		k.w[0] = malloc((size_t)d * (size_t)nb * 34);
		k.w[1] = malloc((size_t)d * (size_t)nb * 18);
		k.w[2] = malloc((size_t)d * (size_t)n * 2);
		k.xq = malloc((size_t)k.np * (size_t)n);
		k.xs = malloc((size_t)k.np * (size_t)nb * sizeof(float));
		k.x = malloc((size_t)k.np * (size_t)n * sizeof(float));
		float *ref = malloc(3 * outs * sizeof(float)), *o = malloc(outs * sizeof(float)),
		      *o1 = malloc(outs * sizeof(float)), *row = malloc((size_t)n * sizeof(float));
		assert_non_null(k.w[0] && k.w[1] && k.w[2] && k.xq && k.xs && k.x && ref && o && o1 && row);
		for (int i = 0; i < k.np * n; i++) {
			k.xq[i] = (int8_t)(rnd() % 255 - 127);
			k.x[i] = (float)(int)(rnd() % 2001 - 1000) / 1000.0f;
		}
		for (int i = 0; i < k.np * nb; i++)
			k.xs[i] = (float)(rnd() % 1000 + 1) / 50000.0f;
		for (int r = 0; r < d; r++)
			for (int b = 0; b < nb; b++) {
				uint16_t h = to_half((float)(rnd() % 1000 + 24) / 1024.0f / 64.0f);
				uint8_t *p8 = k.w[0] + ((size_t)r * (size_t)nb + (size_t)b) * 34;
				uint8_t *p4 = k.w[1] + ((size_t)r * (size_t)nb + (size_t)b) * 18;
				memcpy(p8, &h, 2);
				memcpy(p4, &h, 2);
				for (int j = 0; j < 32; j++)
					p8[2 + j] = (uint8_t)rnd(); /* includes -128 */
				for (int j = 0; j < 16; j++)
					p4[2 + j] = (uint8_t)rnd();
			}
		for (int i = 0; i < d * n; i++) {
			uint16_t h = to_half((float)(rnd() % 1000 + 24) / 1024.0f);
			h |= (uint16_t)((rnd() & 1) << 15);
			memcpy(k.w[2] + (size_t)i * 2, &h, 2);
		}
		for (size_t v = 0; v < AL_ARRAY_LEN(names); v++) {
			if (!al_ai_quant_use(names[v])) {
				print_message("kernels: %s not available here\n", names[v]);
				continue;
			}
			for (int t = 0; t < 3; t++) {
				float *rt = ref + (size_t)t * outs;
				kproduct(&k, t, k.np, false, o1);
				if (v == 0)
					memcpy(rt, o1, outs * sizeof(float));
				else if (memcmp(o1, rt, outs * sizeof(float)))
					fail_msg("n %d type %d: %s differs from the portable kernel", n, t, names[v]);
				for (size_t j = 0; j < AL_ARRAY_LEN(nps) && nps[j] <= k.np; j++) {
					kproduct(&k, t, nps[j], true, o);
					if (memcmp(o, o1, (size_t)nps[j] * (size_t)d * sizeof(float)))
						fail_msg("n %d type %d, %s: %d vectors batched differ from one by one", n, t,
							 names[v], nps[j]);
				}
			}
		}
		/* The portable results against dequantised rows in double precision. */
		for (int t = 0; t < 3; t++) {
			static const enum al_ai_wtype types[] = { AL_AI_W_Q8_0, AL_AI_W_Q4_0, AL_AI_W_F16 };
			for (int r = 0; r < d; r++) {
				al_ai_dequant_row(types[t], k.w[t], (size_t)r, n, row);
				for (int p = 0; p < k.np; p += k.np - 1) {
					double acc = 0.0;
					for (int i = 0; i < n; i++)
						acc += (double)row[i] * (t == 2 ? k.x[p * n + i]
										: (double)k.xq[p * n + i] * k.xs[p * nb + i / 32]);
					float got = ref[(size_t)t * outs + (size_t)p * (size_t)d + (size_t)r];
					if (fabs(got - acc) > 1e-4 * (1.0 + fabs(acc)))
						fail_msg("n %d type %d row %d vector %d: %.8g, reference %.8g", n, t, r, p,
							 got, acc);
				}
			}
		}
		for (int i = 0; i < 3; i++)
			free(k.w[i]);
		free(k.xq);
		free(k.xs);
		free(k.x);
		free(ref);
		free(o);
		free(o1);
		free(row);
	}
	al_ai_quant_init(false);
	print_message("kernels in use: %s\n", al_ai_quant_kernels());
	/* Halves: exact conversion of the special values. */
	assert_true(al_gguf_half(0x3c00) == 1.0f);
	assert_true(al_gguf_half(0xc000) == -2.0f);
	assert_true(al_gguf_half(0x0001) == ldexpf(1.0f, -24));
	assert_true(isinf(al_gguf_half(0x7c00)));
	assert_true(isnan(al_gguf_half(0x7e00)));
}

/* The activations' Q8_0 quantisation: every version the same bits, with
 * ties (x.5), NaN, infinities, an all-zero group, and group sizes the
 * vector versions take (x86: multiples of 16; Advanced SIMD: of 4, in 16s
 * then 4s) and ones they leave to the portable loop. */
static void test_quantize(void **state)
{
	enum { N = 1184 }; /* 37 groups of 32: AVX-512 takes 16 at a time, then 5 */
	static float x[N], s0[N], s1[N];
	static int8_t q0[N], q1[N];
	const char *names[] = { "avx2", "avx512", "neon", "dotprod" };
	for (int i = 0; i < N; i++)
		x[i] = (float)(int)(rnd() % 200001 - 100000) / 777.0f;
	for (int i = 32; i < 64; i++)
		x[i] = (float)(int)(rnd() % 253 - 126) + 0.5f; /* ties, at scale 1 */
	x[32] = 127.0f;
	for (int i = 64; i < 96; i++)
		x[i] = 0.0f;
	for (int i = 1056; i < 1088; i++)
		x[i] = 0.0f;
	x[100] = NAN;
	x[140] = INFINITY;
	x[170] = -INFINITY;
	x[600] = NAN;
	x[1100] = NAN;
	x[1130] = -INFINITY;
	for (int i = 608; i < 640; i++)
		x[i] = (float)(int)(rnd() % 253 - 126) + 0.5f;
	x[615] = -127.0f;
	const int gss[] = { 32, 16, 64, 4, 24, 2 };
	for (size_t g = 0; g < AL_ARRAY_LEN(gss); g++) {
		al_ai_quant_use("scalar");
		al_ai_quantize_q8(q0, s0, x, N, gss[g]);
		assert_int_equal(q0[32], 127);
		assert_true(q0[100] == 0);
		for (size_t v = 0; v < AL_ARRAY_LEN(names); v++) {
			if (!al_ai_quant_use(names[v]))
				continue;
			al_ai_quantize_q8(q1, s1, x, N, gss[g]);
			if (memcmp(q0, q1, N) || memcmp(s0, s1, (size_t)(N / gss[g]) * sizeof(float)))
				fail_msg("group %d: %s quantises differently from the portable loop", gss[g], names[v]);
		}
	}
	/* Ties round away from zero, as roundf. */
	al_ai_quant_use("scalar");
	al_ai_quantize_q8(q0, s0, x, N, 32);
	for (int i = 32; i < 64; i++)
		assert_int_equal(q0[i], (int8_t)roundf(x[i]));
	al_ai_quant_init(false);
}

/*
 * The exponentials (attention's softmax) and SwiGLU: every version gives
 * the bits of the portable one, which calls libm's expf. The inputs: a
 * stride through every float (NaN, infinities, subnormals included), every
 * float within 3000 ulps of each bound of glibc's special cases, with and
 * without a value subtracted first, at lengths with tails.
 */
static void test_exp_swiglu(void **state)
{
	enum { STRIDE = 4093 };
	static const float edges[] = { 0.0f, 88.0f, -88.0f, 0x1.62e42ep6f, -0x1.9d1d9ep6f, -0x1.9fe368p6f, 1.0f };
	size_t cap = ((size_t)1 << 32) / STRIDE + 1 + AL_ARRAY_LEN(edges) * 6000;
	float *x = malloc(cap * sizeof(float)), *y0 = malloc(cap * sizeof(float)), *y1 = malloc(cap * sizeof(float));
	float *g = malloc(cap * sizeof(float)), *h0 = malloc(cap * sizeof(float)), *h1 = malloc(cap * sizeof(float));
	assert_true(x && y0 && y1 && g && h0 && h1);
	size_t n = 0;
	for (uint64_t u = 0; u < ((uint64_t)1 << 32); u += STRIDE) {
		uint32_t b = (uint32_t)u;
		memcpy(&x[n++], &b, 4);
	}
	for (size_t e = 0; e < AL_ARRAY_LEN(edges); e++) {
		uint32_t b;
		memcpy(&b, &edges[e], 4);
		for (int d = -3000; d < 3000; d++) {
			uint32_t v = b + (uint32_t)d; /* across 0 too: both signs' smallest values */
			memcpy(&x[n++], &v, 4);
		}
	}
	const char *names[] = { "avx2", "avx512" };
	const float subs[] = { 0.0f, 1.5f };
	for (size_t k = 0; k < AL_ARRAY_LEN(subs); k++) {
		al_ai_quant_use("scalar");
		al_ai_exp(y0, x, subs[k], (int)n);
		for (size_t v = 0; v < AL_ARRAY_LEN(names); v++) {
			if (!al_ai_quant_use(names[v])) {
				print_message("exp: %s not available here\n", names[v]);
				continue;
			}
			/* In pieces of odd lengths, for the tails. */
			for (size_t i = 0; i < n; i += 37)
				al_ai_exp(y1 + i, x + i, subs[k], n - i < 37 ? (int)(n - i) : 37);
			for (size_t i = 0; i < n; i++)
				if (memcmp(&y0[i], &y1[i], 4))
					fail_msg("%s: expf(%a - %a) is %a, libm %a", names[v], (double)x[i], (double)subs[k],
						 (double)y1[i], (double)y0[i]);
		}
	}
	/* SwiGLU of finite values (NaN's sign is not kept), from the smallest to 3e38. */
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (isfinite(x[i])) {
			x[m] = x[i];
			g[m] = (float)(int)(rnd() % 2001 - 1000) / 300.0f;
			m++;
		}
	al_ai_quant_use("scalar");
	memcpy(h0, x, m * sizeof(float));
	al_ai_swiglu(h0, g, (int)m);
	for (size_t v = 0; v < AL_ARRAY_LEN(names); v++) {
		if (!al_ai_quant_use(names[v]))
			continue;
		memcpy(h1, x, m * sizeof(float));
		for (size_t i = 0; i < m; i += 29)
			al_ai_swiglu(h1 + i, g + i, m - i < 29 ? (int)(m - i) : 29);
		for (size_t i = 0; i < m; i++)
			if (memcmp(&h0[i], &h1[i], 4))
				fail_msg("%s: swiglu(%a, %a) is %a, the portable loop %a", names[v], (double)x[i], (double)g[i],
					 (double)h1[i], (double)h0[i]);
	}
	al_ai_quant_init(false);
	free(x);
	free(y0);
	free(y1);
	free(g);
	free(h0);
	free(h1);
}

/*
 * Attention's score and value sums: every version gives the portable
 * loops' bits, for head sizes below, at and past a register's lanes and
 * past the 8 registers a pass keeps (more than one pass), position counts
 * likewise, and a key row stride other than the count.
 */
static void test_attention_kernels(void **state)
{
	enum { SEQ = 300 };
	static const int hss[] = { 2, 6, 17, 48, 64, 130 };
	static const int ns[] = { 1, 7, 16, 33, 64, 100, 128, 129, 257, 300 };
	float *kT = malloc(sizeof(float) * 130 * SEQ), *v = malloc(sizeof(float) * SEQ * 131);
	float q[130], a0[SEQ], a1[SEQ], o0[130], o1[130];
	assert_true(kT && v);
	for (int i = 0; i < 130 * SEQ; i++)
		kT[i] = (float)(int)(rnd() % 20001 - 10000) / 3001.0f;
	for (int i = 0; i < SEQ * 131; i++)
		v[i] = (float)(int)(rnd() % 20001 - 10000) / 7001.0f;
	for (int i = 0; i < 130; i++)
		q[i] = (float)(int)(rnd() % 20001 - 10000) / 5003.0f;
	const char *names[] = { "avx2", "avx512" };
	for (size_t h = 0; h < AL_ARRAY_LEN(hss); h++)
		for (size_t k = 0; k < AL_ARRAY_LEN(ns); k++) {
			int hs = hss[h], n = ns[k];
			al_ai_quant_use("scalar");
			al_ai_att_scores(a0, q, kT, SEQ, hs, n);
			for (int t = 0; t < n; t++)
				a0[t] /= 50.0f; /* weights of a useful size */
			al_ai_att_values(o0, a0, v, 131, hs, n);
			for (size_t w = 0; w < AL_ARRAY_LEN(names); w++) {
				if (!al_ai_quant_use(names[w]))
					continue;
				memset(a1, 0xff, sizeof(a1));
				memset(o1, 0xff, sizeof(o1));
				al_ai_att_scores(a1, q, kT, SEQ, hs, n);
				for (int t = 0; t < n; t++)
					a1[t] /= 50.0f;
				if (memcmp(a0, a1, (size_t)n * sizeof(float)))
					fail_msg("%s: scores of head size %d over %d positions differ", names[w], hs, n);
				al_ai_att_values(o1, a0, v, 131, hs, n);
				if (memcmp(o0, o1, (size_t)hs * sizeof(float)))
					fail_msg("%s: values of head size %d over %d positions differ", names[w], hs, n);
				/* Nothing written past the outputs. */
				uint32_t b1, b2;
				memcpy(&b1, &a1[n < SEQ ? n : 0], 4);
				memcpy(&b2, &o1[hs < 130 ? hs : 0], 4);
				if ((n < SEQ && b1 != 0xffffffffu) || (hs < 130 && b2 != 0xffffffffu))
					fail_msg("%s: head size %d, %d positions: written past the end", names[w], hs, n);
			}
		}
	al_ai_quant_init(false);
	free(kT);
	free(v);
}

/* RMSNorm's sums of squares: every version the portable loop's bits, for
 * row counts across the AVX-512 version's 16 and lengths with tails. */
static void test_sumsq(void **state)
{
	enum { R = 37, N = 300 };
	static float x[R * N], s0[R], s1[R];
	static const int ns[] = { 1, 5, 16, 17, 288, 300 };
	for (int i = 0; i < R * N; i++)
		x[i] = (float)(int)(rnd() % 20001 - 10000) / 1301.0f;
	for (size_t k = 0; k < AL_ARRAY_LEN(ns); k++)
		for (int rows = 1; rows <= R; rows += 6) {
			al_ai_quant_use("scalar");
			al_ai_sumsq_rows(s0, x, N, rows, ns[k]);
			if (!al_ai_quant_use("avx512"))
				continue;
			al_ai_sumsq_rows(s1, x, N, rows, ns[k]);
			if (memcmp(s0, s1, (size_t)rows * sizeof(float)))
				fail_msg("avx512: sums of squares of %d rows of %d differ", rows, ns[k]);
		}
	al_ai_quant_init(false);
}

/* ---- hostile files ---- */

/* A tiny llama GGUF written field by field, remembering where the fields
 * that the attacks below corrupt are. */
struct gb {
	uint8_t *p;
	size_t len, cap;
	size_t version, n_tensors, n_kv, arch_key_len, arch_val_len, tok_arr_type, tok_arr_n, tok0_len,
		score_arr_n, align_val, blk_count_key;
	size_t t_ndims[16], t_ne0[16], t_type[16], t_off[16];
	int nt;
};

static void put(struct gb *b, const void *v, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, v, n);
	b->len += n;
}

static size_t put_u32(struct gb *b, uint32_t v)
{
	size_t at = b->len;
	put(b, &v, 4);
	return at;
}

static size_t put_u64(struct gb *b, uint64_t v)
{
	size_t at = b->len;
	put(b, &v, 8);
	return at;
}

static size_t put_str(struct gb *b, const char *s)
{
	size_t at = put_u64(b, strlen(s));
	put(b, s, strlen(s));
	return at;
}

static void kv_u32(struct gb *b, const char *k, uint32_t v, size_t *key_at, size_t *val_at)
{
	size_t ka = put_str(b, k);
	put_u32(b, AL_GGUF_U32);
	size_t va = put_u32(b, v);
	if (key_at)
		*key_at = ka;
	if (val_at)
		*val_at = va;
}

struct tiny_opts {
	int n_tokens;      /* tokenizer.ggml.tokens entries (vocab is 8) */
	int nested_depth;  /* an extra kv: arrays nested this deep, 0 = none */
	uint32_t mtype;    /* type of the matrices: F32 or Q8_0 */
};

static void build_tiny(struct gb *b, const struct tiny_opts *o)
{
	enum { DIM = 32, HID = 64, KV = 16, VOCAB = 8 };
	const char *toks[] = { "<unk>", "<s>", "</s>", "\xe2\x96\x81" "a", "b", "c", "<0x0A>", "\xe2\x96\x81" };
	memset(b, 0, sizeof(*b));
	put(b, "GGUF", 4);
	b->version = put_u32(b, 3);
	b->n_tensors = put_u64(b, 0);
	b->n_kv = put_u64(b, 0);
	uint64_t nkv = 0;
	b->arch_key_len = put_str(b, "general.architecture");
	put_u32(b, AL_GGUF_STRING);
	b->arch_val_len = put_str(b, "llama");
	nkv++;
	kv_u32(b, "general.alignment", 32, NULL, &b->align_val);
	kv_u32(b, "llama.embedding_length", DIM, NULL, NULL);
	kv_u32(b, "llama.feed_forward_length", HID, NULL, NULL);
	kv_u32(b, "llama.block_count", 1, &b->blk_count_key, NULL);
	kv_u32(b, "llama.attention.head_count", 4, NULL, NULL);
	kv_u32(b, "llama.attention.head_count_kv", 2, NULL, NULL);
	kv_u32(b, "llama.context_length", 16, NULL, NULL);
	nkv += 7;
	put_str(b, "tokenizer.ggml.model");
	put_u32(b, AL_GGUF_STRING);
	put_str(b, "llama");
	put_str(b, "tokenizer.ggml.tokens");
	put_u32(b, AL_GGUF_ARRAY);
	b->tok_arr_type = put_u32(b, AL_GGUF_STRING);
	b->tok_arr_n = put_u64(b, (uint64_t)o->n_tokens);
	for (int i = 0; i < o->n_tokens; i++) {
		size_t at = put_str(b, toks[i % 8]);
		if (i == 0)
			b->tok0_len = at;
	}
	put_str(b, "tokenizer.ggml.scores");
	put_u32(b, AL_GGUF_ARRAY);
	put_u32(b, AL_GGUF_F32);
	b->score_arr_n = put_u64(b, VOCAB);
	for (int i = 0; i < VOCAB; i++) {
		float f = -(float)i;
		put(b, &f, 4);
	}
	nkv += 3;
	if (o->nested_depth) {
		put_str(b, "test.nested");
		put_u32(b, AL_GGUF_ARRAY);
		for (int d = 1; d < o->nested_depth; d++) {
			put_u32(b, AL_GGUF_ARRAY);
			put_u64(b, 1);
		}
		put_u32(b, AL_GGUF_U8);
		put_u64(b, 1);
		put(b, "\1", 1);
		nkv++;
	}
	memcpy(b->p + b->n_kv, &nkv, 8);

	struct {
		const char *name;
		uint64_t ne0, ne1;
		bool mat;
	} ts[] = {
		{ "token_embd.weight", DIM, VOCAB, true },      { "blk.0.attn_norm.weight", DIM, 0, false },
		{ "blk.0.attn_q.weight", DIM, DIM, true },      { "blk.0.attn_k.weight", DIM, KV, true },
		{ "blk.0.attn_v.weight", DIM, KV, true },       { "blk.0.attn_output.weight", DIM, DIM, true },
		{ "blk.0.ffn_norm.weight", DIM, 0, false },     { "blk.0.ffn_gate.weight", DIM, HID, true },
		{ "blk.0.ffn_down.weight", HID, DIM, true },    { "blk.0.ffn_up.weight", DIM, HID, true },
		{ "output_norm.weight", DIM, 0, false },
	};
	uint64_t off = 0;
	size_t sizes[16];
	b->nt = (int)AL_ARRAY_LEN(ts);
	for (int i = 0; i < b->nt; i++) {
		uint32_t type = ts[i].mat ? o->mtype : AL_GGML_F32;
		uint64_t numel = ts[i].ne0 * (ts[i].ne1 ? ts[i].ne1 : 1);
		bool ok;
		sizes[i] = al_gguf_type_size(type, numel, &ok);
		put_str(b, ts[i].name);
		b->t_ndims[i] = put_u32(b, ts[i].ne1 ? 2 : 1);
		b->t_ne0[i] = put_u64(b, ts[i].ne0);
		if (ts[i].ne1)
			put_u64(b, ts[i].ne1);
		b->t_type[i] = put_u32(b, type);
		b->t_off[i] = put_u64(b, off);
		off += (sizes[i] + 31) / 32 * 32;
	}
	uint64_t n = (uint64_t)b->nt;
	memcpy(b->p + b->n_tensors, &n, 8);
	while (b->len % 32)
		put(b, "\0", 1);
	for (int i = 0; i < b->nt; i++) {
		size_t start = b->len;
		for (size_t k = 0; k < sizes[i]; k += 4) {
			float f = (float)((int)(rnd() % 200) - 100) / 1000.0f;
			if (o->mtype == AL_GGML_Q8_0 && ts[i].mat && k % 34 == 0) {
				uint16_t h = 0x2000; /* scale 2^-7 */
				put(b, &h, 2);
				k -= 2;
				continue;
			}
			put(b, &f, sizes[i] - k < 4 ? sizes[i] - k : 4);
		}
		while ((b->len - start) % 32)
			put(b, "\0", 1);
	}
}

static void patch_reject(const struct gb *b, size_t at, const void *v, size_t n, const char *what)
{
	uint8_t *c = malloc(b->len);
	memcpy(c, b->p, b->len);
	memcpy(c + at, v, n);
	expect_model_refused(c, b->len, what);
	free(c);
}

static void patch64(const struct gb *b, size_t at, uint64_t v, const char *what)
{
	patch_reject(b, at, &v, 8, what);
}

static void patch32(const struct gb *b, size_t at, uint32_t v, const char *what)
{
	patch_reject(b, at, &v, 4, what);
}

static struct gb tiny;

static int tiny_up(void **state)
{
	struct tiny_opts o = { .n_tokens = 8, .mtype = AL_GGML_F32 };
	build_tiny(&tiny, &o);
	return 0;
}

static int tiny_down(void **state)
{
	free(tiny.p);
	return 0;
}

static void test_tiny_valid(void **state)
{
	struct al_ai_model m;
	struct al_ai_tokenizer t;
	struct al_ai_state s;
	if (al_ai_model_build_mem(&m, tiny.p, tiny.len))
		fail_msg("%s", m.err);
	assert_int_equal(m.cfg.vocab_size, 8);
	assert_int_equal(m.cfg.kv_dim, 16);
	assert_true(m.cfg.shared_classifier);
	if (al_ai_tokenizer_build_gguf(&t, &m))
		fail_msg("%s", t.err);
	assert_int_equal(t.byte_id['\n'], 6);
	assert_int_equal(t.byte_id['x'], 0); /* no <0x78>: unknown */
	assert_int_equal(al_ai_state_build(&s, &m.cfg), 0);
	al_ai_forward(&m, &s, 3, 0);
	al_ai_state_free(&s);
	al_ai_tokenizer_free(&t);
	al_ai_model_free(&m);
	/* Q8_0 matrices, too. */
	struct gb q;
	struct tiny_opts o = { .n_tokens = 8, .mtype = AL_GGML_Q8_0 };
	build_tiny(&q, &o);
	if (al_ai_model_build_mem(&m, q.p, q.len))
		fail_msg("%s", m.err);
	assert_int_equal(m.w.layers[0].w2.type, AL_AI_W_Q8_0);
	al_ai_model_free(&m);
	free(q.p);
}

/* CVE-2024-21802 class: string lengths near 2^64 (length + 1 wrapped to a tiny allocation). */
static void test_string_length_overflow(void **state)
{
	patch64(&tiny, tiny.arch_val_len, UINT64_MAX, "general.architecture length 18446744073709551615 exceeds");
	patch64(&tiny, tiny.arch_val_len, UINT64_MAX - 7, "exceeds the limit");
	patch64(&tiny, tiny.arch_val_len, 100000, "general.architecture length 100000 runs past the end");
	patch64(&tiny, tiny.arch_key_len, UINT64_MAX, "key length 18446744073709551615 exceeds");
	patch64(&tiny, tiny.arch_key_len, 0, "key 0 is empty");
	patch64(&tiny, tiny.tok0_len, UINT64_MAX, "array string length");
}

/* CVE-2024-23605 / CVE-2024-23496 class: counts whose product with the element size wraps. */
static void test_array_length_overflow(void **state)
{
	patch64(&tiny, tiny.tok_arr_n, UINT64_MAX, "tokenizer.ggml.tokens: array length 18446744073709551615 exceeds");
	patch64(&tiny, tiny.tok_arr_n, 1u << 20, "runs past the end");
	patch64(&tiny, tiny.score_arr_n, (1ull << 62) + 1, "array length");
	patch64(&tiny, tiny.score_arr_n, 1u << 22, "runs past the end of the file");
	patch32(&tiny, tiny.tok_arr_type, 13, "array element type 13 out of range");
	patch32(&tiny, tiny.tok_arr_type, UINT32_MAX, "out of range");
	patch64(&tiny, tiny.n_kv, UINT64_MAX, "kv_count 18446744073709551615 exceeds");
	patch64(&tiny, tiny.n_kv, 1u << 30, "kv_count");
	patch64(&tiny, tiny.n_tensors, UINT64_MAX, "tensor_count 18446744073709551615 exceeds");
	patch64(&tiny, tiny.n_tensors, 12, "tensor"); /* one more than written */
	/* Nesting is limited: an array of arrays is read, one level deeper is refused. */
	struct gb n;
	struct al_ai_model m;
	struct tiny_opts o = { .n_tokens = 8, .nested_depth = 2, .mtype = AL_GGML_F32 };
	build_tiny(&n, &o);
	if (al_ai_model_build_mem(&m, n.p, n.len))
		fail_msg("%s", m.err);
	al_ai_model_free(&m);
	free(n.p);
	o.nested_depth = 3;
	build_tiny(&n, &o);
	expect_model_refused(n.p, n.len, "test.nested: arrays nested deeper than 2");
	free(n.p);
}

/* CVE-2025-53630 class: tensor offset + size wrapping past 2^64, or past the data. */
static void test_tensor_offset_overflow(void **state)
{
	patch64(&tiny, tiny.t_off[1], UINT64_MAX - 31, "tensor blk.0.attn_norm.weight (128 bytes at data offset 18446744073709551584) runs past the end");
	patch64(&tiny, tiny.t_off[10], 1ull << 40, "tensor output_norm.weight");
	/* Dimensions whose product wraps, or too large. */
	patch64(&tiny, tiny.t_ne0[0], 1ull << 40, "element count overflows");
	patch64(&tiny, tiny.t_ne0[0], UINT64_MAX, "dimension 0 is 18446744073709551615");
	patch64(&tiny, tiny.t_ne0[0], 0, "dimension 0 is 0");
	/* Right count, wrong shape for llama. */
	patch64(&tiny, tiny.t_ne0[3], 16, "tensor blk.0.attn_k.weight has shape [16, 16");
	/* A truncated data section. */
	expect_model_refused(tiny.p, tiny.len - 1, "runs past the end of the");
}

static void test_type_out_of_range(void **state)
{
	patch32(&tiny, tiny.t_type[2], 40, "tensor blk.0.attn_q.weight: type 40 out of range");
	patch32(&tiny, tiny.t_type[2], UINT32_MAX, "type 4294967295 out of range");
	patch32(&tiny, tiny.t_type[2], 3, "type 3 unsupported");
	/* A smaller type than written leaves the sizes valid: refused by shape rules. */
	patch32(&tiny, tiny.t_type[1], AL_GGML_F16, "norms must be F32");
	/* Metadata value type. */
	uint32_t bad = 13;
	patch_reject(&tiny, tiny.arch_key_len + 8 + 20, &bad, 4, "general.architecture: value type 13 out of range");
}

/* CVE-2024-21802 (tensor info) class: n_dims beyond the ne[] array. */
static void test_ndims(void **state)
{
	patch32(&tiny, tiny.t_ndims[0], 5, "tensor token_embd.weight: n_dims 5 out of range [1, 4]");
	patch32(&tiny, tiny.t_ndims[0], UINT32_MAX, "n_dims 4294967295 out of range");
	patch32(&tiny, tiny.t_ndims[0], 0, "n_dims 0 out of range");
	patch32(&tiny, tiny.t_ndims[1], 2, "tensor"); /* shifts the stream: some field breaks */
}

static void test_vocab_mismatch(void **state)
{
	struct gb b;
	struct al_ai_model m;
	struct al_ai_tokenizer t;
	struct tiny_opts o = { .n_tokens = 7, .mtype = AL_GGML_F32 };
	build_tiny(&b, &o);
	assert_int_equal(al_ai_model_build_mem(&m, b.p, b.len), 0);
	assert_int_equal(al_ai_tokenizer_build_gguf(&t, &m), -EINVAL);
	if (!strstr(t.err, "tokenizer.ggml.tokens has 7 entries, vocab_size (token_embd.weight) is 8"))
		fail_msg("%s", t.err);
	al_ai_model_free(&m);
	free(b.p);
	o.n_tokens = 9;
	build_tiny(&b, &o);
	assert_int_equal(al_ai_model_build_mem(&m, b.p, b.len), 0);
	assert_int_equal(al_ai_tokenizer_build_gguf(&t, &m), -EINVAL);
	assert_non_null(strstr(t.err, "has 9 entries"));
	al_ai_model_free(&m);
	free(b.p);
}

static void test_overlap(void **state)
{
	uint64_t off0;
	memcpy(&off0, tiny.p + tiny.t_off[2], 8);
	patch64(&tiny, tiny.t_off[3], off0, "tensors blk.0.attn_q.weight and blk.0.attn_k.weight overlap");
	patch64(&tiny, tiny.t_off[3], off0 + 32, "overlap");
	/* The same name twice. */
	uint8_t *c = malloc(tiny.len);
	memcpy(c, tiny.p, tiny.len);
	memcpy(c + tiny.t_ndims[3] - 8, "q", 1); /* blk.0.attn_k.weight -> attn_q */
	expect_model_refused(c, tiny.len, "tensor blk.0.attn_q.weight appears twice");
	free(c);
}

static void test_misaligned(void **state)
{
	uint64_t off;
	memcpy(&off, tiny.p + tiny.t_off[2], 8);
	patch64(&tiny, tiny.t_off[2], off + 4, "offset");
	patch64(&tiny, tiny.t_off[2], off + 4, "is not a multiple of the alignment 32");
	patch32(&tiny, tiny.align_val, 0, "general.alignment 0 is not a power of two");
	patch32(&tiny, tiny.align_val, 48, "general.alignment 48");
	patch32(&tiny, tiny.align_val, 1u << 20, "general.alignment 1048576");
	/* Alignment 1 is legal, but then an F32 tensor must still be 4-byte aligned. */
	uint8_t *c = malloc(tiny.len);
	uint32_t one = 1;
	uint64_t o3 = off + 1;
	memcpy(c, tiny.p, tiny.len);
	memcpy(c + tiny.align_val, &one, 4);
	memcpy(c + tiny.t_off[2], &o3, 8);
	expect_model_refused(c, tiny.len, "is not 4-byte aligned");
	free(c);
}

static void test_header_and_keys(void **state)
{
	patch32(&tiny, tiny.version, 1, "version 1 (32-bit counts) unsupported");
	patch32(&tiny, tiny.version, 4, "version 4 unsupported");
	patch32(&tiny, tiny.version, 0x03000000, "big-endian");
	patch_reject(&tiny, tiny.arch_val_len + 8, "gpt2x", 5, "general.architecture is not \"llama\"");
	patch_reject(&tiny, tiny.blk_count_key + 8 + 6, "X", 1, "key llama.block_count missing");
	patch_reject(&tiny, tiny.blk_count_key + 8, "general.alignment", 17, "general.alignment appears twice");
	uint32_t zero = 0;
	patch_reject(&tiny, tiny.blk_count_key + 8 + 17 + 4, &zero, 4, "llama.block_count 0 out of range");
	expect_model_refused(tiny.p, 3, "shorter than"); /* too short to be told from a checkpoint */
	/* Every truncation of the file is refused, none crashes (ASan in make sanitize). */
	for (size_t n = 4; n < tiny.len; n += n < 2048 ? 1 : 61) {
		struct al_ai_model m;
		if (al_ai_model_build_mem(&m, tiny.p, n) == 0)
			fail_msg("truncated to %zu of %zu bytes: accepted", n, tiny.len);
	}
}

/* ---- the worker ---- */

static void test_worker_gguf(void **state)
{
	static char out[1 << 16];
	size_t len, outlen;
	int status;
	char *ref = slurp(DATA "greedy_t0.txt", &len);
	/* No --tokenizer: the embedded vocabulary, under the stage-2 filter. */
	char *argv[] = { AI_WORKER, "--model", GGUF_DIR "/s260k_f32.gguf", "--temperature", "0", NULL };
	run_worker(argv, out, sizeof(out), &outlen, &status);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(outlen, len);
	assert_memory_equal(out, ref, len);
	/* A checkpoint still needs one: usage error. */
	char *argv2[] = { AI_WORKER, "--model", MODEL, NULL };
	run_worker(argv2, out, sizeof(out), &outlen, &status);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);
	free(ref);
}

int main(int argc, char **argv)
{
	/* `test_gguf kernels`: every kernel version against the portable one,
	 * alone: seconds under emulation, where the model runs take minutes. */
	const struct CMUnitTest kernels[] = {
		cmocka_unit_test(test_kernels),
		cmocka_unit_test(test_quantize),
		cmocka_unit_test(test_f32_kernels),
	};
	if (argc > 1 && strcmp(argv[1], "kernels") == 0)
		return cmocka_run_group_tests_name("gguf: kernels", kernels, NULL, NULL);
	const struct CMUnitTest exported[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_f32_f16_exact),
		cmocka_unit_test(test_q8_0),
		cmocka_unit_test(test_q4_0),
		cmocka_unit_test(test_threads_same_bits),
		cmocka_unit_test(test_c_writer),
		cmocka_unit_test(test_tokenizer),
		cmocka_unit_test(test_tokenizer_llama_cpp),
		cmocka_unit_test(test_kernels),
		cmocka_unit_test(test_quantize),
		cmocka_unit_test(test_exp_swiglu),
		cmocka_unit_test(test_attention_kernels),
		cmocka_unit_test(test_sumsq),
		cmocka_unit_test(test_f32_kernels),
		cmocka_unit_test(test_prefill),
		cmocka_unit_test(test_batch_decode),
		cmocka_unit_test(test_slots_budget),
		cmocka_unit_test(test_worker_gguf),
	};
	const struct CMUnitTest hostile[] = {
		cmocka_unit_test(test_tiny_valid),
		cmocka_unit_test(test_string_length_overflow),
		cmocka_unit_test(test_array_length_overflow),
		cmocka_unit_test(test_tensor_offset_overflow),
		cmocka_unit_test(test_type_out_of_range),
		cmocka_unit_test(test_ndims),
		cmocka_unit_test(test_vocab_mismatch),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_misaligned),
		cmocka_unit_test(test_header_and_keys),
	};
	int rc = cmocka_run_group_tests_name("gguf: exported stories260K", exported, NULL, NULL);
	return rc | cmocka_run_group_tests_name("gguf: hostile files", hostile, tiny_up, tiny_down);
}
