#include "model_writer.h"

#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void mw_free(struct mw_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Streamed buffers (fd > 0) hold at most this much before writing it out. */
#define MW_FLUSH ((size_t)64 << 20)

int mw_flush(struct mw_buf *b)
{
	if (b->fd > 0 && b->len) {
		if (!b->failed && al_write_all(b->fd, b->p, b->len))
			b->failed = true;
		b->flushed += b->len;
		b->len = 0;
	}
	return b->failed ? -1 : 0;
}

static size_t pos(const struct mw_buf *b)
{
	return b->flushed + b->len;
}

static void put(struct mw_buf *b, const void *d, size_t n)
{
	if (b->fd > 0 && b->len + n > MW_FLUSH) {
		mw_flush(b);
		if (n > MW_FLUSH) {
			if (!b->failed && al_write_all(b->fd, d, n))
				b->failed = true;
			b->flushed += n;
			return;
		}
	}
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
		put_random(b, dim, 0.0f, ws, &rng);
		struct mw_buf skip = { 0 };
		put_random(&skip, dim, 0.0f, ws, &rng); /* drawn, not written: the same stream */
		mw_free(&skip);
		put_zero(b, dim * 4);
		put_random(b, (V - 2) * dim, 0.0f, ws, &rng);
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
		put_zero(b, AL_AI_V1_HEADER - pos(b));
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

void mw_tokenizer_from(struct mw_buf *b, const struct al_ai_tokenizer *t, int replace, const char *with)
{
	size_t wl = strlen(with);
	put_i32(b, (int32_t)(replace >= 0 && wl > t->max_token_length ? wl : t->max_token_length));
	for (int i = 0; i < t->vocab_size; i++) {
		const char *str = i == replace ? with : t->vocab[i].str;
		int32_t n = i == replace ? (int32_t)wl : (int32_t)t->vocab[i].len;
		put(b, &t->scores[i], 4);
		put_i32(b, n);
		put(b, str, (size_t)n);
	}
}

/* ---- GGUF ---- */

static void put_u32(struct mw_buf *b, uint32_t v)
{
	put(b, &v, 4);
}

static void put_u64(struct mw_buf *b, uint64_t v)
{
	put(b, &v, 8);
}

static void put_gstr(struct mw_buf *b, const char *s, size_t n)
{
	put_u64(b, n);
	put(b, s, n);
}

static void kv_key(struct mw_buf *b, const char *k, uint32_t type)
{
	put_gstr(b, k, strlen(k));
	put_u32(b, type);
}

static void kv_u32(struct mw_buf *b, const char *k, uint32_t v)
{
	kv_key(b, k, 4);
	put_u32(b, v);
}

static void kv_f32(struct mw_buf *b, const char *k, float v)
{
	kv_key(b, k, 6);
	put(b, &v, 4);
}

/* float -> IEEE half, round to nearest even (normal range; tiny values flush to zero). */
static uint16_t half_of(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	uint32_t sign = (x >> 16) & 0x8000;
	int32_t e = (int32_t)((x >> 23) & 0xff) - 127 + 15;
	uint32_t m = x & 0x7fffff;
	if (e >= 31)
		return (uint16_t)(sign | 0x7c00);
	if (e <= 0)
		return (uint16_t)sign;
	uint32_t h = ((uint32_t)e << 10) | (m >> 13), rest = m & 0x1fff;
	if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
		h++; /* may carry into the exponent: still correct */
	return (uint16_t)(sign | h);
}

static void put_blocks(struct mw_buf *b, const float *w, size_t n, uint32_t type)
{
	for (size_t g = 0; g < n; g += 32) {
		const float *x = w + g;
		if (type == 8) {
			float amax = 0.0f;
			for (int i = 0; i < 32; i++)
				amax = fmaxf(amax, fabsf(x[i]));
			float d = amax / 127.0f, inv = d != 0.0f ? 1.0f / d : 0.0f;
			uint16_t h = half_of(d);
			put(b, &h, 2);
			for (int i = 0; i < 32; i++) {
				int8_t q = (int8_t)roundf(x[i] * inv);
				put(b, &q, 1);
			}
		} else {
			float amax = 0.0f, mx = 0.0f;
			for (int i = 0; i < 32; i++)
				if (fabsf(x[i]) > amax) {
					amax = fabsf(x[i]);
					mx = x[i];
				}
			float d = mx / -8.0f, inv = d != 0.0f ? 1.0f / d : 0.0f;
			uint16_t h = half_of(d);
			put(b, &h, 2);
			for (int i = 0; i < 16; i++) {
				int lo = (int)(x[i] * inv + 8.5f), hi = (int)(x[i + 16] * inv + 8.5f);
				lo = lo < 0 ? 0 : lo > 15 ? 15 : lo;
				hi = hi < 0 ? 0 : hi > 15 ? 15 : hi;
				uint8_t q = (uint8_t)(lo | hi << 4);
				put(b, &q, 1);
			}
		}
	}
}

struct gt {
	char name[64];
	uint64_t ne0, ne1; /* ne1 0: a vector */
	uint32_t type;
	const float *w;
};

void mw_export_gguf(struct mw_buf *b, const struct al_ai_model *src, const struct al_ai_tokenizer *tok,
		    uint32_t type)
{
	const struct al_ai_config *c = &src->cfg;
	uint64_t dim = (uint64_t)c->dim, hid = (uint64_t)c->hidden_dim, kv = (uint64_t)c->kv_dim;
	uint64_t vocab = (uint64_t)c->vocab_size;
	size_t nt = 0, cap = 3 + 9 * (size_t)c->n_layers;
	struct gt *t = calloc(cap, sizeof(*t));
#define MAT(nm, a, b_, wp) t[nt++] = (struct gt){ .ne0 = (a), .ne1 = (b_), .w = (wp),                  \
			.type = (type <= 1 || (a) % 32 == 0) ? type : 0 }, snprintf(t[nt - 1].name, 64, "%s", nm)
#define VEC(nm, a, wp) t[nt++] = (struct gt){ .ne0 = (a), .w = (wp) }, snprintf(t[nt - 1].name, 64, "%s", nm)
	char n[64];
	MAT("token_embd.weight", dim, vocab, src->w.tokens.f);
	for (int l = 0; l < c->n_layers; l++) {
		const struct al_ai_layer *L = &src->w.layers[l];
#define LN(s) (snprintf(n, sizeof(n), "blk.%d.%s.weight", l, s), n)
		VEC(LN("attn_norm"), dim, L->rms_att);
		MAT(LN("attn_q"), dim, dim, L->wq.f);
		MAT(LN("attn_k"), dim, kv, L->wk.f);
		MAT(LN("attn_v"), dim, kv, L->wv.f);
		MAT(LN("attn_output"), dim, dim, L->wo.f);
		VEC(LN("ffn_norm"), dim, L->rms_ffn);
		MAT(LN("ffn_gate"), dim, hid, L->w1.f);
		MAT(LN("ffn_down"), hid, dim, L->w2.f);
		MAT(LN("ffn_up"), dim, hid, L->w3.f);
#undef LN
	}
	VEC("output_norm.weight", dim, src->w.rms_final);
	if (!c->shared_classifier)
		MAT("output.weight", dim, vocab, src->w.wcls.f);
#undef MAT
#undef VEC

	put(b, "GGUF", 4);
	put_u32(b, 3);
	put_u64(b, nt);
	put_u64(b, 16); /* the keys below */
	kv_key(b, "general.architecture", 8);
	put_gstr(b, "llama", 5);
	kv_u32(b, "general.alignment", 32);
	kv_u32(b, "llama.context_length", (uint32_t)c->seq_len);
	kv_u32(b, "llama.embedding_length", (uint32_t)c->dim);
	kv_u32(b, "llama.block_count", (uint32_t)c->n_layers);
	kv_u32(b, "llama.feed_forward_length", (uint32_t)c->hidden_dim);
	kv_u32(b, "llama.attention.head_count", (uint32_t)c->n_heads);
	kv_u32(b, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads);
	/* Required by llama.cpp, which has no default for the first. */
	kv_f32(b, "llama.attention.layer_norm_rms_epsilon", c->rms_eps);
	kv_f32(b, "llama.rope.freq_base", c->rope_base);
	kv_key(b, "tokenizer.ggml.model", 8);
	put_gstr(b, "llama", 5);
	kv_key(b, "tokenizer.ggml.tokens", 9);
	put_u32(b, 8);
	put_u64(b, vocab);
	for (int i = 0; i < tok->vocab_size; i++) {
		/* ' ' -> U+2581, the SentencePiece space */
		const struct al_ai_token *tk = &tok->vocab[i];
		size_t len = 0;
		for (uint32_t k = 0; k < tk->len; k++)
			len += tk->str[k] == ' ' ? 3 : 1;
		put_u64(b, len);
		for (uint32_t k = 0; k < tk->len; k++)
			put(b, tk->str[k] == ' ' ? "\xe2\x96\x81" : &tk->str[k], tk->str[k] == ' ' ? 3 : 1);
	}
	kv_key(b, "tokenizer.ggml.scores", 9);
	put_u32(b, 6);
	put_u64(b, vocab);
	put(b, tok->scores, vocab * 4);
	kv_u32(b, "tokenizer.ggml.bos_token_id", (uint32_t)tok->bos);
	kv_u32(b, "tokenizer.ggml.eos_token_id", (uint32_t)tok->eos);
	kv_u32(b, "general.file_type", type);

	uint64_t off = 0;
	size_t *sizes = calloc(nt, sizeof(size_t));
	for (size_t i = 0; i < nt; i++) {
		uint64_t numel = t[i].ne0 * (t[i].ne1 ? t[i].ne1 : 1);
		sizes[i] = t[i].type == 0 ? numel * 4 : t[i].type == 1 ? numel * 2
			 : t[i].type == 8 ? numel / 32 * 34 : numel / 32 * 18;
		put_gstr(b, t[i].name, strlen(t[i].name));
		put_u32(b, t[i].ne1 ? 2 : 1);
		put_u64(b, t[i].ne0);
		if (t[i].ne1)
			put_u64(b, t[i].ne1);
		put_u32(b, t[i].type);
		put_u64(b, off);
		off += (sizes[i] + 31) / 32 * 32;
	}
	put_zero(b, (32 - pos(b) % 32) % 32);
	for (size_t i = 0; i < nt; i++) {
		uint64_t numel = t[i].ne0 * (t[i].ne1 ? t[i].ne1 : 1);
		size_t start = pos(b);
		if (t[i].type == 0)
			put(b, t[i].w, numel * 4);
		else if (t[i].type == 1)
			for (uint64_t k = 0; k < numel; k++) {
				uint16_t h = half_of(t[i].w[k]);
				put(b, &h, 2);
			}
		else
			put_blocks(b, t[i].w, numel, t[i].type);
		put_zero(b, (32 - (pos(b) - start) % 32) % 32);
	}
	free(sizes);
	free(t);
}

int mw_vocab_gguf(struct mw_buf *b, const char *model, const char *tokenizer, bool with_space)
{
	struct al_ai_model m;
	struct al_ai_tokenizer t, u;
	struct mw_buf tb = { 0 };
	int fd = open(model, O_RDONLY | O_CLOEXEC), rc = -1;
	if (fd < 0 || al_ai_model_build_fd(&m, fd)) {
		fprintf(stderr, "%s: %s\n", model, fd < 0 ? strerror(errno) : m.err);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	fd = open(tokenizer, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || al_ai_tokenizer_build_fd(&t, fd, m.cfg.vocab_size)) {
		fprintf(stderr, "%s: %s\n", tokenizer, fd < 0 ? strerror(errno) : t.err);
		if (fd >= 0)
			close(fd);
		al_ai_model_free(&m);
		return -1;
	}
	close(fd);
	mw_tokenizer_from(&tb, &t, with_space ? -1 : al_ai_tokenizer_lookup(&t, " ", 1), "<unused>");
	if (al_ai_tokenizer_build_mem(&u, tb.p, tb.len, m.cfg.vocab_size) == 0) {
		mw_export_gguf(b, &m, &u, 0);
		al_ai_tokenizer_free(&u);
		rc = 0;
	} else {
		fprintf(stderr, "tokenizer: %s\n", u.err);
	}
	mw_free(&tb);
	al_ai_tokenizer_free(&t);
	al_ai_model_free(&m);
	return rc;
}
