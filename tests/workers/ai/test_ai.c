/*
 * AI engine tests: byte-exact text against the reference implementation,
 * tokenizer, sampler determinism, the three checkpoint formats, malformed
 * models and tokenizers (each with the field its error must name), and the
 * airlock-ai worker with its seccomp filter on.
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
#include <stdatomic.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "al_config.h"
#include "common/util.h"
#include "model_writer.h"
#include "ai_check.h"
#include "workers/ai/generate.h"

#define MODEL AL_SOURCE_ROOT "/models/stories260K.bin"
#define TOKENIZER AL_SOURCE_ROOT "/models/tok512.bin"
#define DATA AL_SOURCE_ROOT "/tests/workers/ai/"

extern char **environ;

static char *slurp(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(al_read_file_at(AT_FDCWD, path, 64u << 20, &buf, &n), 0);
	close(fd);
	if (len)
		*len = n;
	return buf;
}

struct text {
	char buf[1 << 16];
	size_t len;
	int tokens[1024];
	size_t n;
};

static int collect(void *ctx, const char *piece, size_t len, int token)
{
	struct text *t = ctx;
	assert_true(t->len + len < sizeof(t->buf));
	memcpy(t->buf + t->len, piece, len);
	t->len += len;
	t->buf[t->len] = '\0';
	if (t->n < AL_ARRAY_LEN(t->tokens))
		t->tokens[t->n++] = token;
	return 0;
}

struct fixture {
	struct al_ai_model model;
	struct al_ai_tokenizer tok;
	struct al_ai_engine engine;
};

static int fixture_up(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int fd = open(MODEL, O_RDONLY | O_CLOEXEC);
	if (!f || fd < 0)
		return -1;
	if (al_ai_model_build_fd(&f->model, fd)) {
		fprintf(stderr, "%s\n", f->model.err);
		return -1;
	}
	close(fd);
	fd = open(TOKENIZER, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || al_ai_tokenizer_build_fd(&f->tok, fd, f->model.cfg.vocab_size))
		return -1;
	close(fd);
	if (al_ai_engine_build(&f->engine, &f->model, &f->tok))
		return -1;
	*state = f;
	return 0;
}

static int fixture_down(void **state)
{
	struct fixture *f = *state;
	al_ai_engine_free(&f->engine);
	al_ai_tokenizer_free(&f->tok);
	al_ai_model_free(&f->model);
	free(f);
	return 0;
}

static void run_text(struct fixture *f, const char *prompt, float temp, float topp, uint64_t seed,
		     int steps, struct text *out)
{
	struct al_ai_sampler smp;
	struct al_ai_gen_stats st;
	memset(out, 0, sizeof(*out));
	assert_int_equal(al_ai_sampler_build(&smp, f->model.cfg.vocab_size, temp, topp, seed), 0);
	assert_int_equal(al_ai_generate(&f->engine, &smp, prompt, steps, collect, out, &st), 0);
	al_ai_sampler_free(&smp);
	/* The reference prints a newline after the text. */
	out->buf[out->len++] = '\n';
	out->buf[out->len] = '\0';
}

/* ---- the embedded model against the reference implementation's output ---- */

static void test_config_260k(void **state)
{
	struct fixture *f = *state;
	const struct al_ai_config *c = &f->model.cfg;
	assert_int_equal(c->format, AL_AI_FORMAT_LEGACY);
	assert_int_equal(c->dim, 64);
	assert_int_equal(c->hidden_dim, 172);
	assert_int_equal(c->n_layers, 5);
	assert_int_equal(c->n_heads, 8);
	assert_int_equal(c->n_kv_heads, 4);
	assert_int_equal(c->vocab_size, 512);
	assert_int_equal(c->seq_len, 512);
	assert_true(c->shared_classifier);
	assert_ptr_equal(f->model.w.wcls.f, f->model.w.tokens.f);
}

static void test_greedy_reference(void **state)
{
	struct fixture *f = *state;
	static struct text out;
	size_t len;
	char *ref = slurp(DATA "greedy_t0.txt", &len);
	run_text(f, "", 0.0f, 0.9f, 1, 256, &out);
	assert_true(out.n >= 200);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.buf, ref, len);
	assert_true(strncmp(out.buf, "Once upon a time, there was a little girl named Lily.", 53) == 0);
	free(ref);
}

static void test_greedy_prompt_reference(void **state)
{
	struct fixture *f = *state;
	static struct text out;
	size_t len;
	char *ref = slurp(DATA "greedy_once_upon_a_time.txt", &len);
	run_text(f, "Once upon a time", 0.0f, 0.9f, 1, 256, &out);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.buf, ref, len);
	free(ref);
}

static void test_topp_reference(void **state)
{
	struct fixture *f = *state;
	static struct text a, b, c;
	size_t len;
	char *ref = slurp(DATA "sample_t1_p09_s133742.txt", &len);
	run_text(f, "", 1.0f, 0.9f, 133742, 256, &a);
	assert_int_equal(a.len, len);
	assert_memory_equal(a.buf, ref, len);
	assert_true(strstr(a.buf, "little boy named Timmy") != NULL);
	/* Deterministic for a seed, different for another one. */
	run_text(f, "", 1.0f, 0.9f, 133742, 256, &b);
	assert_int_equal(b.len, a.len);
	assert_memory_equal(b.buf, a.buf, a.len);
	run_text(f, "", 1.0f, 0.9f, 42, 256, &c);
	assert_false(c.len == a.len && memcmp(c.buf, a.buf, a.len) == 0);
	/* Plain temperature sampling (top-p off) is deterministic too. */
	run_text(f, "", 0.8f, 0.0f, 7, 64, &b);
	run_text(f, "", 0.8f, 0.0f, 7, 64, &c);
	assert_int_equal(b.len, c.len);
	assert_memory_equal(b.buf, c.buf, b.len);
	free(ref);
}

static int stop_after_3(void *ctx, const char *p, size_t l, int t)
{
	int *calls = ctx;
	return ++*calls == 3 ? 99 : 0;
}

static void test_threads_260k(void **state)
{
	struct fixture *f = *state;
	static struct text out;
	size_t len;
	char *ref = slurp(DATA "greedy_t0.txt", &len);
	assert_int_equal(al_ai_engine_set_threads(&f->engine, 2), 0);
	f->engine.state.parallel_min = 0; /* split every product, however small */
	run_text(f, "", 0.0f, 0.9f, 1, 256, &out);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.buf, ref, len);
	assert_int_equal(al_ai_engine_set_threads(&f->engine, 1), 0);
	assert_null(f->engine.state.pool);
	f->engine.state.parallel_min = AL_AI_PARALLEL_MIN;
	assert_int_equal(al_ai_engine_set_threads(&f->engine, 0), -EINVAL);
	free(ref);
}

/* The pool runs every part of every job exactly once, whichever thread
 * claims it, and returns only when all are done; jobs follow each other
 * with no gap, so a late thread meets the next job's parts. Jobs cut fine
 * and even jobs alternate, each with its own count of parts. */
struct pool_count {
	_Atomic int hits[2][64];
	int nparts[2];
};

static void count_fine(void *ctx, int part0, int part1, int nparts)
{
	struct pool_count *c = ctx;
	c->nparts[0] = nparts;
	for (int i = part0; i < part1; i++)
		atomic_fetch_add(&c->hits[0][i], 1);
}

static void count_even(void *ctx, int part0, int part1, int nparts)
{
	struct pool_count *c = ctx;
	c->nparts[1] = nparts;
	for (int i = part0; i < part1; i++)
		atomic_fetch_add(&c->hits[1][i], 1);
}

static void test_pool_parts(void **state)
{
	enum { JOBS = 20000 };
	for (int n = 1; n <= 3; n++) {
		struct al_ai_pool *pool;
		static struct pool_count c;
		assert_int_equal(al_ai_pool_new(&pool, n), 0);
		memset(&c, 0, sizeof(c));
		for (int j = 0; j < JOBS; j++) {
			int e = j % 3 == 2; /* every third job even */
			(e ? al_ai_pool_run_even : al_ai_pool_run)(pool, e ? count_even : count_fine, &c);
			int want = e ? (j + 1) / 3 : j + 1 - (j + 1) / 3;
			for (int i = 0; i < c.nparts[e]; i++)
				if (atomic_load(&c.hits[e][i]) != want)
					fail_msg("%d threads, job %d: part %d ran %d times in all", n, j, i,
						 atomic_load(&c.hits[e][i]));
		}
		assert_int_equal(c.nparts[0], n == 1 ? 1 : n * AL_AI_POOL_CHUNKS);
		assert_int_equal(c.nparts[1], n);
		al_ai_pool_free(pool);
	}
}

static void test_cancel(void **state)
{
	struct fixture *f = *state;
	struct al_ai_sampler smp;
	struct al_ai_gen_stats st;
	int calls = 0;
	assert_int_equal(al_ai_sampler_build(&smp, 512, 0.0f, 0.9f, 1), 0);
	/* A callback's non-zero value stops generation between tokens and is returned. */
	assert_int_equal(al_ai_generate(&f->engine, &smp, "", 256, stop_after_3, &calls, &st), 99);
	assert_int_equal(calls, 3);
	assert_int_equal(st.tokens, 3);
	/* The time limit is checked between tokens: 1 ns runs out after the first. */
	static struct text out;
	memset(&out, 0, sizeof(out));
	f->engine.max_ns = 1;
	assert_int_equal(al_ai_generate(&f->engine, &smp, "", 256, collect, &out, &st), -ETIMEDOUT);
	f->engine.max_ns = 0;
	assert_int_equal(st.tokens, 1);
	assert_int_equal(out.n, 1);
	al_ai_sampler_free(&smp);
}


/* ---- tokenizer ---- */

static void test_encode(void **state)
{
	struct fixture *f = *state;
	int ids[64];
	size_t n;
	const int want[] = { 1, 403, 407, 261, 378 };
	assert_int_equal(al_ai_tokenizer_encode(&f->tok, "Once upon a time", true, false, ids, 64, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(ids, want, sizeof(want));
	/* Empty text: BOS only, no dummy prefix; eos appends 2. */
	assert_int_equal(al_ai_tokenizer_encode(&f->tok, "", true, true, ids, 64, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 2);
	/* A code point not in the vocabulary falls back to its UTF-8 bytes (+3). */
	assert_int_equal(al_ai_tokenizer_encode(&f->tok, "\xd0\xb6", false, false, ids, 64, &n), 0); /* U+0436 */
	assert_int_equal(n, 3); /* dummy prefix, then two bytes */
	assert_int_equal(ids[1], 0xd0 + 3);
	assert_int_equal(ids[2], 0xb6 + 3);
	/* A too-small output array is refused, not overrun; one just large enough is filled. */
	ids[4] = -7;
	assert_int_equal(al_ai_tokenizer_encode(&f->tok, "Once upon a time", true, false, ids, 4, &n), -EINVAL);
	assert_int_equal(ids[4], -7);
	assert_int_equal(al_ai_tokenizer_encode(&f->tok, "Once upon a time", true, false, ids, 5, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(ids, want, sizeof(want));
}

static void test_decode(void **state)
{
	struct fixture *f = *state;
	const char *p;
	size_t l;
	al_ai_tokenizer_decode(&f->tok, 1, 403, &p, &l); /* " Once" after BOS: space dropped */
	assert_int_equal(l, 4);
	assert_memory_equal(p, "Once", 4);
	al_ai_tokenizer_decode(&f->tok, 403, 407, &p, &l);
	assert_int_equal(p[0], ' ');
	al_ai_tokenizer_decode(&f->tok, 5, 3 + '\n', &p, &l); /* <0x0A> */
	assert_int_equal(l, 1);
	assert_int_equal(p[0], '\n');
	al_ai_tokenizer_decode(&f->tok, 5, 512, &p, &l); /* out of range: nothing */
	assert_int_equal(l, 0);
	assert_false(al_ai_piece_printable("\x07", 1));
	assert_true(al_ai_piece_printable("\n", 1));
}

static void put_i32_at(uint8_t *p, size_t off, int32_t v)
{
	memcpy(p + off, &v, 4);
}

static void expect_tok_error(const uint8_t *buf, size_t len, int vocab, const char *what)
{
	struct al_ai_tokenizer t;
	int rc = al_ai_tokenizer_build_mem(&t, buf, len, vocab);
	if (rc == 0)
		al_ai_tokenizer_free(&t);
	assert_int_equal(rc, -EINVAL);
	if (!strstr(t.err, what))
		fail_msg("tokenizer error \"%s\" does not name \"%s\"", t.err, what);
}

static void test_tokenizer_malformed(void **state)
{
	size_t len;
	uint8_t *tok = (uint8_t *)slurp(TOKENIZER, &len);
	uint8_t *copy = malloc(len + 8);
	struct al_ai_tokenizer t;

	assert_int_equal(al_ai_tokenizer_build_mem(&t, tok, len, 512), 0);
	al_ai_tokenizer_free(&t);
	/* Count must equal the model's vocab_size, both ways. */
	expect_tok_error(tok, len, 513, "record 512 header truncated");
	expect_tok_error(tok, len, 511, "trailing bytes");
	/* Truncated in the last record's bytes, and an empty file. */
	expect_tok_error(tok, len - 1, 512, "record 511 bytes truncated");
	expect_tok_error(tok, 2, 512, "max_token_length");
	/* max_token_length out of range. */
	memcpy(copy, tok, len);
	put_i32_at(copy, 0, 0);
	expect_tok_error(copy, len, 512, "max_token_length 0 out of range");
	put_i32_at(copy, 0, 1 << 30);
	expect_tok_error(copy, len, 512, "max_token_length");
	/* First record (score at 4, len at 8): overlong, negative, huge. */
	memcpy(copy, tok, len);
	put_i32_at(copy, 8, 8);
	expect_tok_error(copy, len, 512, "record 0 length 8 out of range");
	put_i32_at(copy, 8, -1);
	expect_tok_error(copy, len, 512, "record 0 length -1");
	put_i32_at(copy, 8, INT32_MAX);
	expect_tok_error(copy, len, 512, "record 0 length");
	/* Trailing garbage. */
	memcpy(copy, tok, len);
	memset(copy + len, 'x', 8);
	expect_tok_error(copy, len + 8, 512, "trailing bytes");
	/* Nonsense vocabulary sizes from a bad model header. */
	expect_tok_error(tok, len, 0, "vocab_size");
	expect_tok_error(tok, len, -5, "vocab_size");
	free(copy);
	free(tok);
}

/* ---- formats: the same weights as legacy, v1 and v2 ---- */

static struct mw_shape tiny = { .dim = 32, .hidden_dim = 64, .n_layers = 2, .n_heads = 4,
				 .n_kv_heads = 2, .vocab_size = 64, .seq_len = 32 };

static void load(struct al_ai_model *m, const struct mw_buf *b)
{
	if (al_ai_model_build_mem(m, b->p, b->len))
		fail_msg("model: %s", m->err);
}

/* Greedy tokens from BOS for steps positions, and all logits seen; with a
 * pool, every product is split across its threads. */
static void greedy_tokens_pool(const struct al_ai_model *m, int steps, int *out, float *logits_out,
			       struct al_ai_pool *pool)
{
	struct al_ai_state s;
	int token = 1;
	assert_int_equal(al_ai_state_build(&s, &m->cfg), 0);
	s.pool = pool;
	if (pool)
		s.parallel_min = 0;
	for (int pos = 0; pos < steps; pos++) {
		float *lg = al_ai_forward(m, &s, token, pos);
		int best = 0;
		for (int i = 1; i < m->cfg.vocab_size; i++)
			if (lg[i] > lg[best])
				best = i;
		if (logits_out)
			memcpy(logits_out + (size_t)pos * (size_t)m->cfg.vocab_size, lg,
			       (size_t)m->cfg.vocab_size * sizeof(float));
		out[pos] = token = best;
	}
	al_ai_state_free(&s);
}

static void greedy_tokens(const struct al_ai_model *m, int steps, int *out, float *logits_out)
{
	greedy_tokens_pool(m, steps, out, logits_out, NULL);
}

/* Logits for a forced token sequence (teacher forcing), so formats compare position by position. */
static void forced_logits(const struct al_ai_model *m, const int *tokens, int steps, float *out)
{
	struct al_ai_state s;
	assert_int_equal(al_ai_state_build(&s, &m->cfg), 0);
	for (int pos = 0; pos < steps; pos++) {
		float *lg = al_ai_forward(m, &s, pos ? tokens[pos - 1] : 1, pos);
		memcpy(out + (size_t)pos * (size_t)m->cfg.vocab_size, lg, (size_t)m->cfg.vocab_size * sizeof(float));
	}
	al_ai_state_free(&s);
}

static void check_formats(bool shared)
{
	enum { STEPS = 24 };
	struct mw_buf leg = { 0 }, leg2 = { 0 }, v1 = { 0 }, v2 = { 0 };
	struct al_ai_model ml, m1, m2;
	int tl[STEPS], t1[STEPS], t2[STEPS];
	size_t nl = (size_t)STEPS * (size_t)tiny.vocab_size;
	float *ll = malloc(nl * 4), *l1 = malloc(nl * 4), *l2 = malloc(nl * 4);

	mw_random_legacy(&leg, &tiny, shared, 12345);
	load(&ml, &leg);
	assert_int_equal(ml.cfg.shared_classifier, shared);
	/* Re-exporting as legacy gives the same bytes: the writer and reader agree. */
	mw_export(&leg2, &ml, AL_AI_FORMAT_LEGACY, shared, 0);
	assert_int_equal(leg2.len, leg.len);
	assert_memory_equal(leg2.p, leg.p, leg.len);
	mw_export(&v1, &ml, AL_AI_FORMAT_V1, shared, 0);
	mw_export(&v2, &ml, AL_AI_FORMAT_Q8, shared, 16);
	load(&m1, &v1);
	load(&m2, &v2);
	assert_int_equal(m1.cfg.format, AL_AI_FORMAT_V1);
	assert_int_equal(m2.cfg.format, AL_AI_FORMAT_Q8);
	assert_int_equal(m2.cfg.group_size, 16);
	assert_int_equal(m2.cfg.shared_classifier, shared);

	/* fp32 formats: the very same tokens and bit-identical logits. */
	greedy_tokens(&ml, STEPS, tl, ll);
	greedy_tokens(&m1, STEPS, t1, l1);
	assert_memory_equal(tl, t1, sizeof(tl));
	assert_memory_equal(ll, l1, nl * 4);

	/* int8: on the same forced tokens, logits within the quantisation error
	 * (relative to the logits' spread) and mostly the same argmax. */
	forced_logits(&m2, tl, STEPS, l2);
	float maxabs = 0.0f, maxdiff = 0.0f;
	int agree = 0;
	for (int pos = 0; pos < STEPS; pos++) {
		const float *a = ll + (size_t)pos * (size_t)tiny.vocab_size, *b = l2 + (size_t)pos * (size_t)tiny.vocab_size;
		int ba = 0, bb = 0;
		for (int i = 0; i < tiny.vocab_size; i++) {
			maxabs = fmaxf(maxabs, fabsf(a[i]));
			maxdiff = fmaxf(maxdiff, fabsf(a[i] - b[i]));
			if (a[i] > a[ba])
				ba = i;
			if (b[i] > b[bb])
				bb = i;
		}
		agree += ba == bb;
	}
	if (!(maxdiff < 0.05f * maxabs))
		fail_msg("int8 logits differ by %g (max |logit| %g)", maxdiff, maxabs);
	assert_true(maxdiff > 0.0f); /* it really is a different (quantised) path */
	if (agree < STEPS * 9 / 10)
		fail_msg("int8 argmax agrees at %d of %d positions", agree, STEPS);
	greedy_tokens(&m2, STEPS, t2, NULL);
	assert_int_equal(t2[0], tl[0]);

	/* Rows split over threads: the same bits as one thread, fp32 and int8. */
	struct al_ai_pool *pool;
	int tp[STEPS];
	float *lp = malloc(nl * 4);
	assert_int_equal(al_ai_pool_new(&pool, 3), 0);
	greedy_tokens_pool(&ml, STEPS, tp, lp, pool);
	assert_memory_equal(tp, tl, sizeof(tl));
	assert_memory_equal(lp, ll, nl * 4);
	greedy_tokens(&m2, STEPS, t2, l2);
	greedy_tokens_pool(&m2, STEPS, tp, lp, pool);
	assert_memory_equal(tp, t2, sizeof(t2));
	assert_memory_equal(lp, l2, nl * 4);
	al_ai_pool_free(pool);
	free(lp);

	al_ai_model_free(&ml);
	al_ai_model_free(&m1);
	al_ai_model_free(&m2);
	mw_free(&leg);
	mw_free(&leg2);
	mw_free(&v1);
	mw_free(&v2);
	free(ll);
	free(l1);
	free(l2);
}

static void test_formats_shared(void **state)
{
	check_formats(true);
}

static void test_formats_unshared(void **state)
{
	check_formats(false);
}

/* The embedded model re-exported as v1 and v2 and loaded through a file descriptor. */
static int memfd_of(const struct mw_buf *b)
{
	int fd = memfd_create("model", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(al_write_all(fd, b->p, b->len), 0);
	return fd;
}

static void test_formats_260k(void **state)
{
	struct fixture *f = *state;
	struct mw_buf v1 = { 0 }, v2 = { 0 };
	struct al_ai_model m1, m2;
	struct al_ai_engine e1, e2;
	struct fixture f1, f2;
	static struct text ref, a, b;
	size_t common = 0;

	mw_export(&v1, &f->model, AL_AI_FORMAT_V1, true, 0);
	/* hidden_dim 172: the largest group dividing both widths is 4. */
	mw_export(&v2, &f->model, AL_AI_FORMAT_Q8, true, 4);
	int fd1 = memfd_of(&v1), fd2 = memfd_of(&v2);
	assert_int_equal(al_ai_model_build_fd(&m1, fd1), 0);
	assert_int_equal(al_ai_model_build_fd(&m2, fd2), 0);
	close(fd1);
	close(fd2);
	assert_int_equal(al_ai_engine_build(&e1, &m1, &f->tok), 0);
	assert_int_equal(al_ai_engine_build(&e2, &m2, &f->tok), 0);
	f1 = (struct fixture){ .engine = e1, .model = m1 };
	f2 = (struct fixture){ .engine = e2, .model = m2 };
	run_text(f, "", 0.0f, 0.9f, 1, 256, &ref);
	run_text(&f1, "", 0.0f, 0.9f, 1, 256, &a);
	run_text(&f2, "", 0.0f, 0.9f, 1, 256, &b);
	/* v1 fp32: byte for byte. */
	assert_int_equal(a.len, ref.len);
	assert_memory_equal(a.buf, ref.buf, ref.len);
	/* v2 int8: the same story opening; quantisation may change a later word. */
	while (common < b.len && common < ref.len && b.buf[common] == ref.buf[common])
		common++;
	if (common < 40)
		fail_msg("int8 text diverges after %zu bytes: %.80s", common, b.buf);
	al_ai_engine_free(&f1.engine);
	al_ai_engine_free(&f2.engine);
	al_ai_model_free(&f1.model);
	al_ai_model_free(&f2.model);
	mw_free(&v1);
	mw_free(&v2);
}

/* ---- malformed models: each refused with the field named ---- */

struct mutation {
	size_t off; /* header field offset */
	int32_t val;
	const char *what;
};

static void mutate_all(const struct mw_buf *b, size_t hdr, const struct mutation *mt, size_t n)
{
	uint8_t *copy = malloc(b->len);
	for (size_t i = 0; i < n; i++) {
		memcpy(copy, b->p, b->len);
		put_i32_at(copy, hdr + mt[i].off, mt[i].val);
		expect_model_refused(copy, b->len, mt[i].what);
	}
	free(copy);
}

static const struct mutation header_cases[] = {
	{ 0, 0, "dim 0 out of range" },
	{ 0, -64, "dim -64 out of range" },
	{ 0, 1 << 30, "dim 1073741824 out of range" },
	{ 4, 0, "hidden_dim 0" },
	{ 4, INT32_MAX, "hidden_dim" },
	{ 8, 0, "n_layers 0" },
	{ 8, 100000, "n_layers 100000" },
	{ 12, 0, "n_heads 0" },
	{ 12, 3, "dim 32 not divisible by n_heads 3" },
	{ 12, 32, "head_size 1 (dim / n_heads) is odd" },
	{ 16, 3, "n_kv_heads 3 does not divide n_heads 4" },
	{ 16, 8, "n_kv_heads 8 does not divide n_heads 4" },
	{ 16, -1, "n_kv_heads -1" },
	{ 24, 0, "seq_len 0" },
	{ 24, -1, "seq_len -1" },
	{ 24, 1 << 20, "seq_len 1048576" },
	/* Within the limits but the file does not hold them. */
	{ 4, 65536, "runs past the end" },
	{ 8, 256, "runs past the end" },
	/* Fewer layers than stored: the file has bytes left over. */
	{ 8, 1, "trailing bytes" },
};

static void test_malformed_legacy(void **state)
{
	struct mw_buf b = { 0 };
	mw_random_legacy(&b, &tiny, true, 7);
	mutate_all(&b, 0, header_cases, AL_ARRAY_LEN(header_cases));
	const struct mutation vocab_cases[] = {
		{ 20, 0, "vocab_size 0" },
		{ 20, INT32_MIN, "vocab_size" },
		{ 20, 1 << 24, "vocab_size 16777216" },
		/* Negative: an unshared classifier the file does not hold. */
		{ 20, -64, "tensor wcls" },
		/* The legacy RoPE tables grow with seq_len. */
		{ 24, 32768, "tensor freq_cis_real" },
	};
	mutate_all(&b, 0, vocab_cases, AL_ARRAY_LEN(vocab_cases));
	expect_model_refused(b.p, b.len - 1, "runs past the end");
	expect_model_refused(b.p, 27, "shorter than the 28-byte header");
	expect_model_refused(b.p, 0, "shorter than");
	expect_model_refused(b.p, 28, "tensor token_embedding");
	/* One tensor in the middle cut off names that tensor and its layer. */
	size_t emb = 28 + 64 * 32 * 4 + 2 * 32 * 4 + 2 * 32 * 32 * 4;
	expect_model_refused(b.p, emb + 100, "tensor wk of layer 0");
	uint8_t *big = calloc(1, b.len + 4);
	memcpy(big, b.p, b.len);
	expect_model_refused(big, b.len + 4, "trailing bytes");
	free(big);
	mw_free(&b);
}

static void test_malformed_v1_v2(void **state)
{
	struct mw_buf leg = { 0 }, v1 = { 0 }, v2 = { 0 };
	struct al_ai_model m;
	mw_random_legacy(&leg, &tiny, false, 9);
	load(&m, &leg);
	mw_export(&v1, &m, AL_AI_FORMAT_V1, false, 0);
	mw_export(&v2, &m, AL_AI_FORMAT_Q8, false, 16);
	al_ai_model_free(&m);

	mutate_all(&v1, 8, header_cases, AL_ARRAY_LEN(header_cases));
	mutate_all(&v2, 8, header_cases, AL_ARRAY_LEN(header_cases));
	const struct mutation v_cases[] = {
		{ 4, 3, "version 3 unsupported" },
		{ 4, 0, "version 0" },
		{ 28, -64, "vocab_size -64" }, /* v1 has an explicit flag: negative is simply invalid */
		{ 28, 65, "runs past the end" },
	};
	mutate_all(&v1, 0, v_cases, AL_ARRAY_LEN(v_cases));
	const struct mutation q_cases[] = {
		{ 37, 0, "group_size 0 out of range" },
		{ 37, -16, "group_size -16" },
		{ 37, 24, "group_size 24 does not divide dim 32" },
		{ 37, 1 << 20, "group_size 1048576" },
		{ 37, 32, "trailing bytes" },    /* fewer scales than written: sizes no longer add up */
		{ 37, 2, "runs past the end" },  /* more scales than written */
	};
	mutate_all(&v2, 0, q_cases, AL_ARRAY_LEN(q_cases));
	/* Flag byte must be 0 or 1; a shared flag on an unshared file leaves bytes over. */
	uint8_t *copy = malloc(v1.len);
	memcpy(copy, v1.p, v1.len);
	copy[36] = 2;
	expect_model_refused(copy, v1.len, "shared_classifier 2");
	copy[36] = 1;
	expect_model_refused(copy, v1.len, "trailing bytes");
	free(copy);
	expect_model_refused(v1.p, 255, "shorter than the 256-byte header");
	expect_model_refused(v2.p, v2.len - 1, "tensor wcls");

	/* 3 x 2 int8 embedding values put the scales after them at an offset
	 * that is not a multiple of 4: refused instead of read unaligned. */
	struct mw_shape odd = { .dim = 2, .hidden_dim = 2, .n_layers = 1, .n_heads = 1,
				.n_kv_heads = 1, .vocab_size = 3, .seq_len = 4 };
	struct mw_buf ol = { 0 }, oq = { 0 };
	mw_random_legacy(&ol, &odd, true, 3);
	load(&m, &ol);
	mw_export(&oq, &m, AL_AI_FORMAT_Q8, true, 2);
	al_ai_model_free(&m);
	expect_model_refused(oq.p, oq.len, "tensor token_embedding at offset 286 is not 4-byte aligned");
	mw_free(&ol);
	mw_free(&oq);
	mw_free(&leg);
	mw_free(&v1);
	mw_free(&v2);
}

static void test_model_fd(void **state)
{
	struct al_ai_model m;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(al_ai_model_build_fd(&m, fd), -EINVAL);
	assert_non_null(strstr(m.err, "regular file"));
	close(fd);
	fd = memfd_create("empty", MFD_CLOEXEC);
	assert_int_equal(al_ai_model_build_fd(&m, fd), -EINVAL);
	close(fd);
	assert_int_equal(al_ai_model_build_fd(&m, -1), -EBADF);
}

static void test_sampler_args(void **state)
{
	struct al_ai_sampler s;
	assert_int_equal(al_ai_sampler_build(&s, 10, -1.0f, 0.9f, 1), -EINVAL);
	assert_int_equal(al_ai_sampler_build(&s, 10, NAN, 0.9f, 1), -EINVAL);
	assert_int_equal(al_ai_sampler_build(&s, 10, 1.0f, 1.5f, 1), -EINVAL);
	assert_int_equal(al_ai_sampler_build(&s, 10, 1.0f, 0.9f, 0), -EINVAL);
	assert_int_equal(al_ai_sampler_build(&s, 10, 1.0f, 0.9f, 5), 0);
	float logits[10] = { 0, 0, 0, 9, 0, 0, 0, 0, 0, 0 };
	int n3 = 0;
	for (int i = 0; i < 100; i++) {
		float l[10];
		memcpy(l, logits, sizeof(l));
		int t = al_ai_sample(&s, l);
		assert_in_range(t, 0, 9);
		n3 += t == 3;
	}
	assert_true(n3 > 90); /* top-p 0.9 keeps only the dominant token */
	al_ai_sampler_free(&s);
}

/* ---- the worker executable, with its seccomp filter on ---- */

static void test_worker_reference(void **state)
{
	static char out[1 << 16];
	size_t len, outlen;
	int status;
	char *ref = slurp(DATA "greedy_t0.txt", &len);
	char *argv[] = { AI_WORKER, "--model", MODEL, "--tokenizer", TOKENIZER, "--temperature", "0",
			 "--steps", "256", NULL };
	run_worker(argv, out, sizeof(out), &outlen, &status);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(outlen, len);
	assert_memory_equal(out, ref, len);
	free(ref);
}

static void test_worker_threads(void **state)
{
	static char out[1 << 16];
	size_t len, outlen;
	int status;
	char *ref = slurp(DATA "greedy_t0.txt", &len);
	/* Threads started before the lockdown, then covered by it (TSYNC), and
	 * their exit allowed: a clean exit and the reference text. */
	char *argv[] = { AI_WORKER, "--model", MODEL, "--tokenizer", TOKENIZER, "--temperature", "0",
			 "--threads", "2", NULL };
	run_worker(argv, out, sizeof(out), &outlen, &status);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(outlen, len);
	assert_memory_equal(out, ref, len);
	free(ref);
}

static void test_worker_sampled(void **state)
{
	static char out[1 << 16];
	size_t len, outlen;
	int status;
	char *ref = slurp(DATA "sample_t1_p09_s133742.txt", &len);
	char *argv[] = { AI_WORKER, "--model", MODEL, "--tokenizer", TOKENIZER, "--temperature", "1.0",
			 "--topp", "0.9", "--seed", "133742", NULL };
	run_worker(argv, out, sizeof(out), &outlen, &status);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(outlen, len);
	assert_memory_equal(out, ref, len);
	free(ref);
}

static void test_worker_filter_kills(void **state)
{
	static char out[4096];
	size_t outlen;
	int status;
	/* After the lockdown the worker attempts each of these; the filter must kill it. */
	const char *probes[] = { "open", "socket", "exec", "execmem", "mprotect-exec", "write-fd", "read-stdin" };
	for (size_t i = 0; i < AL_ARRAY_LEN(probes); i++) {
		char *argv[] = { AI_WORKER, "--model", MODEL, "--tokenizer", TOKENIZER, "--probe-sandbox",
				 (char *)probes[i], NULL };
		run_worker(argv, out, sizeof(out), &outlen, &status);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
			fail_msg("probe %s: worker not killed by SIGSYS (status 0x%x)", probes[i], status);
		assert_int_equal(outlen, 0);
	}
}

static void test_worker_bad_model(void **state)
{
	static char out[4096];
	size_t outlen;
	int status;
	/* The tokenizer is not a model: refused with a clear exit code, no crash. */
	char *argv[] = { AI_WORKER, "--model", TOKENIZER, "--tokenizer", TOKENIZER, NULL };
	run_worker(argv, out, sizeof(out), &outlen, &status);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	char *argv2[] = { AI_WORKER, "--model", MODEL, "--tokenizer", TOKENIZER, "--topp", "2", NULL };
	run_worker(argv2, out, sizeof(out), &outlen, &status);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);
}

int main(void)
{
	const struct CMUnitTest with_model[] = {
		cmocka_unit_test(test_config_260k),
		cmocka_unit_test(test_greedy_reference),
		cmocka_unit_test(test_greedy_prompt_reference),
		cmocka_unit_test(test_topp_reference),
		cmocka_unit_test(test_threads_260k),
		cmocka_unit_test(test_pool_parts),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_formats_260k),
	};
	const struct CMUnitTest standalone[] = {
		cmocka_unit_test(test_tokenizer_malformed),
		cmocka_unit_test(test_formats_shared),
		cmocka_unit_test(test_formats_unshared),
		cmocka_unit_test(test_malformed_legacy),
		cmocka_unit_test(test_malformed_v1_v2),
		cmocka_unit_test(test_model_fd),
		cmocka_unit_test(test_sampler_args),
		cmocka_unit_test(test_worker_reference),
		cmocka_unit_test(test_worker_sampled),
		cmocka_unit_test(test_worker_threads),
		cmocka_unit_test(test_worker_filter_kills),
		cmocka_unit_test(test_worker_bad_model),
	};
	int rc = cmocka_run_group_tests_name("ai engine (stories260K)", with_model, fixture_up, fixture_down);
	return rc | cmocka_run_group_tests_name("ai formats, malformed input, worker", standalone, NULL, NULL);
}
