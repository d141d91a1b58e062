#include "model_writer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mw_free(struct mw_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void put(struct mw_buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void put_i32(struct mw_buf *b, int32_t v)
{
	put(b, &v, 4);
}

static void put_zero(struct mw_buf *b, size_t n)
{
	static const uint8_t z[256];
	while (n) {
		size_t k = n < sizeof(z) ? n : sizeof(z);
		put(b, z, k);
		n -= k;
	}
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

static void put_random(struct mw_buf *b, size_t n, float center, float spread, uint64_t *rng)
{
	for (size_t i = 0; i < n; i++) {
		float u = (float)(rng_next(rng) >> 40) / 16777216.0f; /* [0, 1) */
		float v = center + (u - 0.5f) * 2.0f * spread;
		put(b, &v, 4);
	}
}

void mw_random_legacy(struct mw_buf *b, const struct mw_shape *s, bool shared, uint64_t seed)
{
	size_t L = (size_t)s->n_layers, dim = (size_t)s->dim, hid = (size_t)s->hidden_dim;
	size_t hs = dim / (size_t)s->n_heads, kv = hs * (size_t)s->n_kv_heads, V = (size_t)s->vocab_size;
	float ws = 1.0f / sqrtf((float)dim);
	uint64_t rng = seed | 1;

	put_i32(b, s->dim);
	put_i32(b, s->hidden_dim);
	put_i32(b, s->n_layers);
	put_i32(b, s->n_heads);
	put_i32(b, s->n_kv_heads);
	put_i32(b, shared ? s->vocab_size : -s->vocab_size);
	put_i32(b, s->seq_len);
	put_random(b, V * dim, 0.0f, 1.0f, &rng);        /* token_embedding */
	put_random(b, L * dim, 1.0f, 0.1f, &rng);        /* rms_att */
	put_random(b, L * dim * dim, 0.0f, ws, &rng);    /* wq */
	put_random(b, L * kv * dim, 0.0f, ws, &rng);     /* wk */
	put_random(b, L * kv * dim, 0.0f, ws, &rng);     /* wv */
	put_random(b, L * dim * dim, 0.0f, ws, &rng);    /* wo */
	put_random(b, L * dim, 1.0f, 0.1f, &rng);        /* rms_ffn */
	put_random(b, L * hid * dim, 0.0f, ws, &rng);    /* w1 */
	put_random(b, L * dim * hid, 0.0f, 1.0f / sqrtf((float)hid), &rng); /* w2 */
	put_random(b, L * hid * dim, 0.0f, ws, &rng);    /* w3 */
	put_random(b, dim, 1.0f, 0.1f, &rng);            /* rms_final */
	put_zero(b, 2 * (size_t)s->seq_len * (hs / 2) * 4); /* freq_cis_real, freq_cis_imag */
	if (!shared) {
		/* wcls, with a zero row for BOS: greedy decoding of random weights
		 * would otherwise often pick BOS first and stop at once. */
		put_random(b, V * dim, 0.0f, ws, &rng);
		memset(b->p + b->len - (V - 1) * dim * 4, 0, dim * 4);
	}
}

/* One matrix, fp32 or Q8_0 (int8 values, then one scale per group). */
static void put_mat(struct mw_buf *b, const float *w, size_t n, bool q8, int gs)
{
	if (!q8) {
		put(b, w, n * 4);
		return;
	}
	size_t groups = n / (size_t)gs;
	float *scales = malloc(groups * sizeof(float));
	for (size_t g = 0; g < groups; g++) {
		float wmax = 0.0f;
		for (int i = 0; i < gs; i++)
			wmax = fmaxf(wmax, fabsf(w[g * (size_t)gs + (size_t)i]));
		float scale = wmax / 127.0f;
		scales[g] = scale;
		for (int i = 0; i < gs; i++) {
			int8_t q = scale == 0.0f ? 0 : (int8_t)roundf(w[g * (size_t)gs + (size_t)i] / scale);
			put(b, &q, 1);
		}
	}
	put(b, scales, groups * 4);
	free(scales);
}

void mw_export(struct mw_buf *b, const struct al_ai_model *src, enum al_ai_format fmt, bool shared, int gs)
{
	const struct al_ai_config *c = &src->cfg;
	const struct al_ai_weights *w = &src->w;
	size_t L = (size_t)c->n_layers, dim = (size_t)c->dim, hid = (size_t)c->hidden_dim;
	size_t kv = (size_t)c->kv_dim, V = (size_t)c->vocab_size;
	bool q8 = fmt == AL_AI_FORMAT_Q8;

	if (fmt == AL_AI_FORMAT_LEGACY) {
		put_i32(b, c->dim);
		put_i32(b, c->hidden_dim);
		put_i32(b, c->n_layers);
		put_i32(b, c->n_heads);
		put_i32(b, c->n_kv_heads);
		put_i32(b, shared ? c->vocab_size : -c->vocab_size);
		put_i32(b, c->seq_len);
		put_mat(b, w->tokens.f, V * dim, false, 0);
		for (size_t l = 0; l < L; l++)
			put(b, w->layers[l].rms_att, dim * 4);
#define MATS(field, n)                                           \
	for (size_t l = 0; l < L; l++)                           \
		put_mat(b, w->layers[l].field.f, (n), q8, gs)
		MATS(wq, dim * dim);
		MATS(wk, kv * dim);
		MATS(wv, kv * dim);
		MATS(wo, dim * dim);
		for (size_t l = 0; l < L; l++)
			put(b, w->layers[l].rms_ffn, dim * 4);
		MATS(w1, hid * dim);
		MATS(w2, dim * hid);
		MATS(w3, hid * dim);
		put(b, w->rms_final, dim * 4);
		put_zero(b, 2 * (size_t)c->seq_len * (size_t)(c->head_size / 2) * 4);
	} else {
		uint8_t flag = shared;
		put_i32(b, (int32_t)AL_AI_MAGIC);
		put_i32(b, q8 ? 2 : 1);
		put_i32(b, c->dim);
		put_i32(b, c->hidden_dim);
		put_i32(b, c->n_layers);
		put_i32(b, c->n_heads);
		put_i32(b, c->n_kv_heads);
		put_i32(b, c->vocab_size);
		put_i32(b, c->seq_len);
		put(b, &flag, 1);
		if (q8)
			put_i32(b, gs);
		put_zero(b, AL_AI_V1_HEADER - b->len);
		for (size_t l = 0; l < L; l++)
			put(b, w->layers[l].rms_att, dim * 4);
		for (size_t l = 0; l < L; l++)
			put(b, w->layers[l].rms_ffn, dim * 4);
		put(b, w->rms_final, dim * 4);
		put_mat(b, w->tokens.f, V * dim, q8, gs);
		MATS(wq, dim * dim);
		MATS(wk, kv * dim);
		MATS(wv, kv * dim);
		MATS(wo, dim * dim);
		MATS(w1, hid * dim);
		MATS(w2, dim * hid);
		MATS(w3, hid * dim);
#undef MATS
	}
	if (!shared)
		put_mat(b, w->wcls.f, V * dim, q8, gs);
}

void mw_tokenizer(struct mw_buf *b, int vocab_size)
{
	char s[32];
	put_i32(b, 16);
	for (int i = 0; i < vocab_size; i++) {
		float score = i < 259 ? 0.0f : -(float)(i - 259);
		int n;
		if (i == 0)
			n = snprintf(s, sizeof(s), "<unk>");
		else if (i == 1)
			n = snprintf(s, sizeof(s), "\n<s>\n");
		else if (i == 2)
			n = snprintf(s, sizeof(s), "\n</s>\n");
		else if (i < 259)
			n = snprintf(s, sizeof(s), "<0x%02X>", i - 3);
		else
			n = snprintf(s, sizeof(s), " w%d", i - 259); /* distinct printable pieces */
		put(b, &score, 4);
		put_i32(b, n);
		put(b, s, (size_t)n);
	}
}
