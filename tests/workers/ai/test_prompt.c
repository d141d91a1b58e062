/*
 * The prompt against the model's context: the BPE encoder gives llama2.c's
 * tokens (checked against the quadratic reference scan, ties included), a
 * prompt is counted exactly and refused past the limit with both figures
 * named, and left truncation keeps BOS and the newest tokens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "al_config.h"
#include "workers/ai/generate.h"

#define MODEL AL_SOURCE_ROOT "/models/stories260K.bin"
#define TOKENIZER AL_SOURCE_ROOT "/models/tok512.bin"

/* ---- the reference: llama2.c's encoder, a full rescan after each merge ---- */

static void ref_encode(struct al_ai_tokenizer *t, const char *text, int *tokens, size_t *n_out)
{
	size_t tlen = strlen(text), n = 0, cp_len = 0;
	char cp[8];
	tokens[n++] = t->bos;
	if (tlen) {
		int sp = al_ai_tokenizer_lookup(t, " ", 1);
		if (sp >= 0)
			tokens[n++] = sp;
	}
	for (size_t i = 0; i < tlen; i++) {
		unsigned char c = (unsigned char)text[i];
		if ((c & 0xC0) != 0x80)
			cp_len = 0;
		cp[cp_len++] = (char)c;
		if (i + 1 < tlen && ((unsigned char)text[i + 1] & 0xC0) == 0x80 && cp_len < 4)
			continue;
		int id = al_ai_tokenizer_lookup(t, cp, cp_len);
		if (id >= 0) {
			tokens[n++] = id;
		} else {
			for (size_t k = 0; k < cp_len; k++)
				tokens[n++] = t->byte_id[(unsigned char)cp[k]];
		}
		cp_len = 0;
	}
	for (;;) {
		float best = -1e10f;
		int best_id = -1;
		size_t best_i = 0;
		for (size_t i = 0; i + 1 < n; i++) {
			if (tokens[i] >= t->vocab_size || tokens[i + 1] >= t->vocab_size)
				continue;
			const struct al_ai_token *a = &t->vocab[tokens[i]], *b = &t->vocab[tokens[i + 1]];
			if (a->len + b->len > t->max_token_length)
				continue;
			char buf[2 * AL_AI_TOK_MAX_LEN];
			memcpy(buf, a->str, a->len);
			memcpy(buf + a->len, b->str, b->len);
			int id = al_ai_tokenizer_lookup(t, buf, a->len + b->len);
			if (id >= 0 && t->scores[id] > best) {
				best = t->scores[id];
				best_id = id;
				best_i = i;
			}
		}
		if (best_id < 0)
			break;
		tokens[best_i] = best_id;
		memmove(&tokens[best_i + 1], &tokens[best_i + 2], (n - best_i - 2) * sizeof(int));
		n--;
	}
	*n_out = n;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 33) % n;
}

static void same_as_reference(struct al_ai_tokenizer *t, const char *text)
{
	size_t cap = al_ai_tokenizer_max_tokens(strlen(text));
	int *got = malloc(cap * sizeof(int)), *want = malloc(cap * sizeof(int));
	size_t ng = 0, nw = 0;
	assert_non_null(got);
	assert_non_null(want);
	assert_int_equal(al_ai_tokenizer_encode(t, text, true, false, got, cap, &ng), 0);
	ref_encode(t, text, want, &nw);
	if (ng != nw || memcmp(got, want, ng * sizeof(int)) != 0)
		fail_msg("tokens differ from the reference scan for \"%s\" (%zu vs %zu)", text, ng, nw);
	free(got);
	free(want);
}

/* A vocabulary of a, b and their runs, most scores equal: which of two
 * equally good merges goes first decides the result. */
static void build_ab(struct al_ai_tokenizer *t, bool distinct)
{
	static const char *const pieces[] = { "<unk>", "<s>", "</s>", " ", "a", "b", "aa", "ab", "ba", "bb",
					      "aaa", "aba", "bab", "abab", " a", " b", " ab", "bba", "aab", "baba" };
	enum { NV = sizeof(pieces) / sizeof(pieces[0]) };
	uint8_t buf[4 + NV * (8 + 8)];
	size_t off = 4;
	int32_t maxlen = 5;
	memcpy(buf, &maxlen, 4);
	for (int i = 0; i < NV; i++) {
		float score = distinct ? (float)rnd(4) : 0.0f;
		int32_t len = (int32_t)strlen(pieces[i]);
		memcpy(buf + off, &score, 4);
		memcpy(buf + off + 4, &len, 4);
		memcpy(buf + off + 8, pieces[i], (size_t)len);
		off += 8 + (size_t)len;
	}
	assert_int_equal(al_ai_tokenizer_build_mem(t, buf, off, NV), 0);
}

static void test_encoder_ties(void **state)
{
	(void)state;
	for (int round = 0; round < 8; round++) {
		struct al_ai_tokenizer t;
		build_ab(&t, round > 0); /* all scores equal, then few distinct values */
		for (int k = 0; k < 300; k++) {
			char s[201];
			size_t n = 1 + rnd(200);
			for (size_t i = 0; i < n; i++)
				s[i] = "aab b"[rnd(5)];
			s[n] = '\0';
			same_as_reference(&t, s);
		}
		al_ai_tokenizer_free(&t);
	}
}

static void test_encoder_real_vocabulary(void **state)
{
	(void)state;
	int fd = open(TOKENIZER, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct al_ai_tokenizer t;
	assert_int_equal(al_ai_tokenizer_build_fd(&t, fd, 512), 0);
	close(fd);
	static const char *const words[] = { "Once", " upon", " a", " time", ",", " there", " was", " Lily",
					     ".", "\n", " the", " big", " dog", "é", "日本", "🙂", " ", "aaa",
					     "\t", "zzq", "!" };
	for (int k = 0; k < 200; k++) {
		char s[2048];
		size_t n = 0;
		for (int w = 1 + (int)rnd(120); w > 0; w--) {
			const char *x = words[rnd(sizeof(words) / sizeof(words[0]))];
			size_t l = strlen(x);
			if (n + l >= sizeof(s))
				break;
			memcpy(s + n, x, l);
			n += l;
		}
		s[n] = '\0';
		same_as_reference(&t, s);
	}
	same_as_reference(&t, "");
	same_as_reference(&t, "Once upon a time");
	al_ai_tokenizer_free(&t);
}

/* ---- fitting a prompt into stories260K's 512-token context ---- */

struct eng {
	struct al_ai_model model;
	struct al_ai_tokenizer tok;
	struct al_ai_engine e;
};

static int eng_up(void **state)
{
	struct eng *g = calloc(1, sizeof(*g));
	int mfd = open(MODEL, O_RDONLY | O_CLOEXEC), tfd = open(TOKENIZER, O_RDONLY | O_CLOEXEC);
	assert_true(mfd >= 0 && tfd >= 0);
	assert_int_equal(al_ai_model_build_fd(&g->model, mfd), 0);
	assert_int_equal(al_ai_tokenizer_build_fd(&g->tok, tfd, g->model.cfg.vocab_size), 0);
	close(mfd);
	close(tfd);
	assert_int_equal(al_ai_engine_build(&g->e, &g->model, &g->tok), 0);
	*state = g;
	return 0;
}

static int eng_down(void **state)
{
	struct eng *g = *state;
	al_ai_engine_free(&g->e);
	al_ai_tokenizer_free(&g->tok);
	al_ai_model_free(&g->model);
	free(g);
	return 0;
}

/* Text tokens of s (BOS not counted), by the encoder alone. */
static size_t count(struct eng *g, const char *s, int **out)
{
	size_t cap = al_ai_tokenizer_max_tokens(strlen(s)), n = 0;
	int *tok = malloc(cap * sizeof(int));
	assert_non_null(tok);
	assert_int_equal(al_ai_tokenizer_encode(&g->tok, s, true, false, tok, cap, &n), 0);
	if (out)
		*out = tok;
	else
		free(tok);
	return n - 1;
}

static const char story[] = "Once upon a time, there was a little girl named Lily. She loved to play "
			    "outside in the park. One day, she saw a big, red ball. ";

/* A prefix of the story repeated that encodes to exactly want tokens. */
static char *text_of(struct eng *g, size_t want)
{
	size_t cap = 8 * want + 64;
	char *s = malloc(cap + 1);
	assert_non_null(s);
	for (size_t i = 0; i < cap; i++)
		s[i] = story[i % (sizeof(story) - 1)];
	/* Token counts grow with the prefix (almost monotonically): bisect, then
	 * look around the point found. */
	size_t lo = 0, hi = cap;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		char c = s[mid];
		s[mid] = '\0';
		size_t n = count(g, s, NULL);
		s[mid] = c;
		if (n < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t len = lo > 64 ? lo - 64 : 0; len <= cap && len <= lo + 64; len++) {
		char c = s[len];
		s[len] = '\0';
		if (count(g, s, NULL) == want)
			return s;
		s[len] = c;
	}
	fail_msg("no prefix of %zu tokens", want);
	return NULL;
}

static void test_limit_is_context_less_bos(void **state)
{
	struct eng *g = *state;
	assert_int_equal(g->model.cfg.seq_len, 512);
	assert_int_equal(al_ai_max_prompt_tokens(&g->model.cfg), 511);
	struct al_ai_config c = { .seq_len = 1 };
	assert_int_equal(al_ai_max_prompt_tokens(&c), 0);
}

static void test_fit_at_the_limit(void **state)
{
	struct eng *g = *state;
	int *tok = calloc(515, sizeof(int));
	size_t n = 0;
	struct al_ai_prompt_fit fit;
	char *s = text_of(g, 511);
	assert_int_equal(al_ai_prompt_fit(&g->e, s, false, tok, &n, &fit), 0);
	assert_int_equal(n, 512); /* BOS and 511: the whole context */
	assert_int_equal(tok[0], g->tok.bos);
	assert_int_equal(fit.text_tokens, 511);
	assert_int_equal(fit.max_tokens, 511);
	assert_int_equal(fit.dropped, 0);
	free(s);

	/* One more is refused, counted, with both figures in the message. */
	s = text_of(g, 512);
	assert_int_equal(al_ai_prompt_fit(&g->e, s, false, tok, &n, &fit), -E2BIG);
	assert_int_equal(fit.text_tokens, 512);
	assert_int_equal(fit.max_tokens, 511);
	char msg[128];
	al_ai_prompt_fit_message(&fit, msg, sizeof(msg));
	assert_string_equal(msg, "the prompt is 512 tokens; this model takes at most 511 prompt tokens");
	free(s);

	/* The empty prompt is BOS alone. */
	assert_int_equal(al_ai_prompt_fit(&g->e, "", false, tok, &n, &fit), 0);
	assert_int_equal(n, 1);
	assert_int_equal(fit.text_tokens, 0);
	free(tok);
}

/* A 598-character story is 167 tokens: it fits (bytes are not tokens). */
static void test_characters_are_not_tokens(void **state)
{
	struct eng *g = *state;
	char s[599];
	for (size_t i = 0; i < 598; i++)
		s[i] = story[i % (sizeof(story) - 1)];
	s[598] = '\0';
	int tok[515];
	size_t n = 0;
	struct al_ai_prompt_fit fit;
	assert_int_equal(al_ai_prompt_fit(&g->e, s, false, tok, &n, &fit), 0);
	assert_true(fit.text_tokens < 511);
	assert_int_equal(n, fit.text_tokens + 1);
}

static void test_truncate_left(void **state)
{
	struct eng *g = *state;
	int *full = NULL, tok[515];
	char *s = text_of(g, 700);
	assert_int_equal(count(g, s, &full), 700);
	size_t n = 0;
	struct al_ai_prompt_fit fit;
	assert_int_equal(al_ai_prompt_fit(&g->e, s, false, tok, &n, &fit), -E2BIG);
	assert_int_equal(fit.text_tokens, 700);
	char msg[128];
	al_ai_prompt_fit_message(&fit, msg, sizeof(msg));
	assert_string_equal(msg, "the prompt is 700 tokens; this model takes at most 511 prompt tokens");

	assert_int_equal(al_ai_prompt_fit(&g->e, s, true, tok, &n, &fit), 0);
	assert_int_equal(fit.text_tokens, 700);
	assert_int_equal(fit.dropped, 189);
	assert_int_equal(n, 512);
	/* BOS stays first; then exactly the newest 511 tokens of the whole encoding. */
	assert_int_equal(tok[0], g->tok.bos);
	assert_memory_equal(tok + 1, full + 1 + 189, 511 * sizeof(int));
	free(full);
	free(s);

	/* Under the limit, truncation changes nothing. */
	assert_int_equal(al_ai_prompt_fit(&g->e, "Once upon a time", true, tok, &n, &fit), 0);
	assert_int_equal(fit.dropped, 0);
	assert_int_equal(n, 5);
}

/* The largest prompt the channel carries, 64 KiB of it, one token per byte at
 * worst: counted and cut (the encoder is O(n log n), not a rescan per merge). */
static void test_largest_prompt(void **state)
{
	struct eng *g = *state;
	size_t len = 65536;
	char *s = malloc(len + 1);
	assert_non_null(s);
	for (size_t i = 0; i < len; i++)
		s[i] = (char)('!' + rnd(94)); /* printable ASCII, few merges */
	s[len] = '\0';
	int tok[515];
	size_t n = 0;
	struct al_ai_prompt_fit fit;
	assert_int_equal(al_ai_prompt_fit(&g->e, s, false, tok, &n, &fit), -E2BIG);
	assert_true(fit.text_tokens > 20000);
	assert_int_equal(al_ai_prompt_fit(&g->e, s, true, tok, &n, &fit), 0);
	assert_int_equal(n, 512);
	assert_int_equal(fit.dropped, fit.text_tokens - 511);
	free(s);
}

/* Generation from a truncated prompt: the last position gives exactly one token. */
static int count_sampled(void *ctx, const char *piece, size_t len, int token)
{
	(void)piece;
	(void)len;
	(void)token;
	(*(int *)ctx)++;
	return 0;
}

static void test_generate_truncated(void **state)
{
	struct eng *g = *state;
	char *s = text_of(g, 600);
	struct al_ai_sampler smp;
	assert_int_equal(al_ai_sampler_build(&smp, g->model.cfg.vocab_size, 0.0f, 0.9f, 1), 0);
	struct al_ai_gen_stats st;
	int pieces = 0;
	g->e.truncate_left = false;
	assert_int_equal(al_ai_generate(&g->e, &smp, s, 0, count_sampled, &pieces, &st), -E2BIG);
	assert_int_equal(st.fit.text_tokens, 600);
	g->e.truncate_left = true;
	assert_int_equal(al_ai_generate(&g->e, &smp, s, 0, count_sampled, &pieces, &st), 0);
	assert_int_equal(st.fit.dropped, 89);
	assert_int_equal(st.prompt_tokens, 512);
	assert_int_equal(st.tokens, 1);
	g->e.truncate_left = false;
	al_ai_sampler_free(&smp);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encoder_ties),
		cmocka_unit_test(test_encoder_real_vocabulary),
		cmocka_unit_test_setup_teardown(test_limit_is_context_less_bos, eng_up, eng_down),
		cmocka_unit_test_setup_teardown(test_fit_at_the_limit, eng_up, eng_down),
		cmocka_unit_test_setup_teardown(test_characters_are_not_tokens, eng_up, eng_down),
		cmocka_unit_test_setup_teardown(test_truncate_left, eng_up, eng_down),
		cmocka_unit_test_setup_teardown(test_largest_prompt, eng_up, eng_down),
		cmocka_unit_test_setup_teardown(test_generate_truncated, eng_up, eng_down),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
