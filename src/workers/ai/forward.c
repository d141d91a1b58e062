/*
 * Llama-2 forward pass: RMSNorm, grouped-query attention with RoPE and a kv
 * cache, SwiGLU feed-forward, shared or separate classifier.
 *
 * Everything except the matrix products sums in the same order as the
 * llama2.c reference, so greedy text matches it byte for byte (tested). The
 * fp32 products keep 16 independent partial sums per row (quant.c: AVX-512,
 * AVX2 or portable, chosen from CPUID, all giving the same bits). So do
 * quant.c's other kernels used here: attention's score and value sums,
 * RMSNorm's sums of squares, the exponentials (glibc's expf) and SwiGLU.
 * The rest of attention and RMSNorm stays portable: with GCC it is cloned
 * for x86-64-v4 (AVX-512), v3 (AVX2) and the baseline, and the loader picks
 * one at start (ifunc, resolved before any sandboxing). ISO C17 mode keeps
 * fp-contract off, so every clone computes the same bits.
 */
#include "workers/ai/forward.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/util.h"
#include "workers/ai/quant.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define AL_AI_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AL_AI_CLONES
#endif

static size_t round_up(size_t n)
{
	return (n + 15) & ~(size_t)15; /* 64-byte aligned sub-arrays for floats */
}

/* The state's arrays, in floats, in arena order (see state_layout); the caches last, mapped apart. */
enum {
	P_X, P_XB, P_XB2, P_HB, P_HB2, P_Q, P_K, P_ATT, P_LOGITS, P_ROPE, P_XS,
	P_BX, P_BXB, P_BQ, P_BK, P_BV, P_BHB, P_BHB2, P_BROPE, P_BXS, P_BLOGITS, P_CACHES,
	P_COUNT
};

/* Sizes of every part for this many slots, with the one-slot cache size in
 * *cache and the quantised activations' bytes in *nq; false on overflow. */
static bool state_layout(const struct al_ai_config *c, int slots, size_t parts[P_COUNT], size_t *cache, size_t *nq)
{
	size_t dim = (size_t)c->dim, hid = (size_t)c->hidden_dim, seq = (size_t)c->seq_len;
	size_t kv = (size_t)c->kv_dim, hs = (size_t)c->head_size, S = (size_t)slots;
	size_t B = S > AL_AI_BATCH ? S : AL_AI_BATCH;
	size_t maxd = dim > hid ? dim : hid, att, logits;
	size_t ngs = c->group_size ? maxd / (size_t)c->group_size : 0;

	if (slots < 1 || slots > AL_AI_MAX_SLOTS || !al_mul_size((size_t)c->n_layers * seq, kv, cache) ||
	    !al_mul_size((size_t)c->n_heads, seq, &att) || maxd > SIZE_MAX / 64 / B || kv > maxd * 2 || hs > maxd ||
	    !al_mul_size(S, (size_t)c->vocab_size, &logits) || *cache > SIZE_MAX / 2 / 16 / S)
		return false;
	size_t p[P_COUNT] = {
		[P_X] = dim, [P_XB] = dim, [P_XB2] = dim, [P_HB] = hid, [P_HB2] = hid, [P_Q] = dim, [P_K] = kv,
		[P_ATT] = att, [P_LOGITS] = (size_t)c->vocab_size, [P_ROPE] = hs, [P_XS] = ngs,
		[P_BX] = B * dim, [P_BXB] = B * dim, [P_BQ] = B * dim, [P_BK] = B * kv, [P_BV] = B * kv,
		[P_BHB] = B * hid, [P_BHB2] = B * hid, [P_BROPE] = B * hs, [P_BXS] = B * ngs, [P_BLOGITS] = logits,
		/* Each slot: keys then values, each 64-byte aligned. */
		[P_CACHES] = 2 * S * round_up(*cache),
	};
	memcpy(parts, p, sizeof p);
	*nq = c->group_size ? round_up(maxd) * (1 + B) : 0;
	return true;
}

/* Total bytes, or SIZE_MAX beyond AL_AI_MAX_STATE or on overflow. */
static size_t layout_bytes(const size_t parts[P_COUNT], size_t nq)
{
	size_t total = 0;
	for (size_t i = 0; i < P_COUNT; i++)
		if (!al_add_size(total, round_up(parts[i]), &total))
			return SIZE_MAX;
	if (total > AL_AI_MAX_STATE / sizeof(float) || total * sizeof(float) + nq > AL_AI_MAX_STATE)
		return SIZE_MAX;
	/* aligned_alloc wants a size that is a multiple of the alignment. */
	return (total * sizeof(float) + nq + 63) & ~(size_t)63;
}

size_t al_ai_state_bytes(const struct al_ai_config *c, int slots)
{
	size_t parts[P_COUNT], cache, nq;
	if (!state_layout(c, slots, parts, &cache, &nq))
		return SIZE_MAX;
	return layout_bytes(parts, nq);
}

int al_ai_slots_fit(const struct al_ai_config *c, size_t budget, int max)
{
	int n = 0;
	if (max > AL_AI_MAX_SLOTS)
		max = AL_AI_MAX_SLOTS;
	/* The size grows with the count: the first that does not fit ends it. */
	for (; n < max; n++) {
		size_t b = al_ai_state_bytes(c, n + 1);
		if (b == SIZE_MAX || b > budget)
			break;
	}
	return n;
}

int al_ai_state_build(struct al_ai_state *s, const struct al_ai_config *c)
{
	return al_ai_state_build_slots(s, c, 1);
}

int al_ai_state_build_slots(struct al_ai_state *s, const struct al_ai_config *c, int slots)
{
	size_t parts[P_COUNT], cache, nq;
	float *f;

	memset(s, 0, sizeof(*s));
	if (!state_layout(c, slots, parts, &cache, &nq))
		return -EINVAL;
	if (layout_bytes(parts, nq) == SIZE_MAX)
		return -EINVAL;
	/* The working arrays: small, touched now. */
	size_t floats = 0;
	for (size_t i = 0; i < P_CACHES; i++)
		floats += round_up(parts[i]);
	size_t bytes = (floats * sizeof(float) + nq + 63) & ~(size_t)63;
	s->arena = aligned_alloc(64, bytes);
	if (!s->arena)
		return -ENOMEM;
	memset(s->arena, 0, bytes);
	/* The caches: zero pages, taken as sequences fill them, so that a state of
	 * many slots costs no time at start (a restarted domain serves at once).
	 * Their size is bounded by the slot count the budget allows. */
	s->cache_bytes = parts[P_CACHES] * sizeof(float);
	s->caches = mmap(NULL, s->cache_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->caches == MAP_FAILED) {
		free(s->arena);
		memset(s, 0, sizeof(*s));
		return -ENOMEM;
	}
	f = s->arena;
	float **dst[P_CACHES] = {
		[P_X] = &s->x, [P_XB] = &s->xb, [P_XB2] = &s->xb2, [P_HB] = &s->hb, [P_HB2] = &s->hb2, [P_Q] = &s->q,
		[P_K] = &s->k, [P_ATT] = &s->att, [P_LOGITS] = &s->logits, [P_ROPE] = &s->rope, [P_XS] = &s->xs,
		[P_BX] = &s->bx, [P_BXB] = &s->bxb, [P_BQ] = &s->bq, [P_BK] = &s->bk, [P_BV] = &s->bv,
		[P_BHB] = &s->bhb, [P_BHB2] = &s->bhb2, [P_BROPE] = &s->brope, [P_BXS] = &s->bxs,
		[P_BLOGITS] = &s->blogits,
	};
	for (size_t i = 0; i < P_CACHES; i++) {
		*dst[i] = f;
		f += round_up(parts[i]);
	}
	size_t maxd = (size_t)(c->dim > c->hidden_dim ? c->dim : c->hidden_dim);
	s->xq = c->group_size ? (int8_t *)f : NULL;
	s->bxq = c->group_size ? (int8_t *)f + round_up(maxd) : NULL;
	s->slots = slots;
	s->rows = slots > AL_AI_BATCH ? slots : AL_AI_BATCH;
	s->cache_floats = round_up(cache);
	al_ai_state_select(s, 0);
	s->parallel_min = AL_AI_PARALLEL_MIN;
	/* CPUID only: chosen here, during setup, for the GGUF kernels. */
	al_ai_quant_init(false);
	if (!c->group_size)
		s->xs = s->bxs = NULL;
	return 0;
}

static float *slot_keys(const struct al_ai_state *s, int slot)
{
	return s->caches + (size_t)slot * 2 * s->cache_floats;
}

static float *slot_values(const struct al_ai_state *s, int slot)
{
	return slot_keys(s, slot) + s->cache_floats;
}

void al_ai_state_select(struct al_ai_state *s, int slot)
{
	s->key_cache = slot_keys(s, slot);
	s->value_cache = slot_values(s, slot);
}

void al_ai_state_free(struct al_ai_state *s)
{
	free(s->arena);
	if (s->caches)
		munmap(s->caches, s->cache_bytes);
	memset(s, 0, sizeof(*s));
}

/* o = x normalised by ss, the sum of x's squares, and weighted by w. */
AL_AI_CLONES
static void rms_scale(float *o, const float *x, const float *w, int n, float eps, float ss)
{
	ss /= (float)n;
	ss += eps;
	ss = 1.0f / sqrtf(ss);
	for (int j = 0; j < n; j++)
		o[j] = w[j] * (ss * x[j]);
}

static void rmsnorm(float *o, const float *x, const float *w, int n, float eps)
{
	float ss = 0.0f;
	for (int j = 0; j < n; j++)
		ss += x[j] * x[j];
	rms_scale(o, x, w, n, eps, ss);
}

/* rmsnorm of np rows n apart: each row's sum in the same order, the rows'
 * side by side (quant.h; one row's is a chain of dependent additions). */
static void rmsnorm_rows(float *o, const float *x, const float *w, int np, int n, float eps)
{
	for (int p0 = 0; p0 < np; p0 += 16) {
		int k = np - p0 < 16 ? np - p0 : 16;
		float ss[16];
		al_ai_sumsq_rows(ss, x + (size_t)p0 * (size_t)n, (size_t)n, k, n);
		for (int r = 0; r < k; r++)
			rms_scale(o + (size_t)(p0 + r) * (size_t)n, x + (size_t)(p0 + r) * (size_t)n, w, n, eps, ss[r]);
	}
}

/* Q8_0 symmetric quantisation of n activations in groups of gs (quant.c). */
static void quantize(int8_t *q, float *scales, const float *x, int n, int gs)
{
	al_ai_quantize_q8(q, scales, x, n, gs);
}

/* out(d) = W(d, n) x(n) with both sides Q8_0; integer dot per group. */
AL_AI_CLONES
static void matmul_q8(float *restrict out, const int8_t *restrict xq, const float *restrict xs,
		      const int8_t *restrict wq, const float *restrict ws, int n, int d, int gs)
{
	int groups = n / gs;
	for (int i = 0; i < d; i++) {
		const int8_t *row = wq + (size_t)i * (size_t)n;
		const float *rs = ws + (size_t)i * (size_t)groups;
		float val = 0.0f;
		for (int g = 0; g < groups; g++) {
			int32_t ival = 0;
			const int8_t *a = row + g * gs, *b = xq + g * gs;
			for (int k = 0; k < gs; k++)
				ival += (int32_t)a[k] * (int32_t)b[k];
			val += (float)ival * rs[g] * xs[g];
		}
		out[i] = val;
	}
}

/* One product of a job: out_p = W x_p, written at out + p * ostride. */
struct mm_out {
	float *out;
	size_t ostride;
	const struct al_ai_mat *w;
	int d;
};

/*
 * Up to three products of the same activations (q, k, v; w1, w3), whose
 * rows are split between the threads as one range: one wakeup for all of
 * them. Batched: np vectors, x_p = x + p * xstride (xq + p * qstride, xs +
 * p * sstride when quantised).
 */
struct mm_job {
	struct mm_out o[3];
	int no;
	const float *x;
	const int8_t *xq;
	const float *xs;
	int n, gs, np;
	size_t xstride, qstride, sstride;
};

/* Rows [r0, r1) of product o with vector p of the job. */
static void mm_rows(const struct mm_job *j, const struct mm_out *o, int p, int r0, int r1)
{
	size_t off = (size_t)r0 * (size_t)j->n;
	float *out = o->out + (size_t)p * o->ostride + r0;
	const float *x = j->x + (size_t)p * j->xstride;
	const int8_t *xq = j->xq ? j->xq + (size_t)p * j->qstride : NULL;
	const float *xs = j->xs ? j->xs + (size_t)p * j->sstride : NULL;
	const uint8_t *b = o->w->b ? o->w->b + (size_t)r0 * al_ai_row_bytes(o->w->type, j->n) : NULL;
	switch (o->w->type) {
	case AL_AI_W_F32:
		al_ai_matmul_f32(out, x, o->w->f + off, j->n, r1 - r0);
		break;
	case AL_AI_W_Q8G:
		matmul_q8(out, xq, xs, o->w->q + off, o->w->s + off / (size_t)j->gs, j->n, r1 - r0, j->gs);
		break;
	case AL_AI_W_F16:
		al_ai_matmul_f16(out, x, b, j->n, r1 - r0);
		break;
	case AL_AI_W_Q8_0:
		al_ai_matmul_q8_0(out, xq, xs, b, j->n, r1 - r0);
		break;
	case AL_AI_W_Q4_0:
		al_ai_matmul_q4_0(out, xq, xs, b, j->n, r1 - r0);
		break;
	}
}

/* Rows [r0, r1) of product o with every vector of the job. */
static void mm_range(const struct mm_job *j, const struct mm_out *o, int r0, int r1)
{
	if (j->np <= 1) {
		mm_rows(j, o, 0, r0, r1);
		return;
	}
	size_t rb = al_ai_row_bytes(o->w->type, j->n);
	switch (o->w->type) {
	case AL_AI_W_F32:
		al_ai_matmul_f32_batch(o->out + r0, o->ostride, j->x, j->xstride, j->np,
				       o->w->f + (size_t)r0 * (size_t)j->n, j->n, r1 - r0);
		return;
	case AL_AI_W_F16:
		al_ai_matmul_f16_batch(o->out + r0, o->ostride, j->x, j->xstride, j->np, o->w->b + (size_t)r0 * rb,
				       j->n, r1 - r0);
		return;
	case AL_AI_W_Q8_0:
	case AL_AI_W_Q4_0:
		al_ai_matmul_blocks_batch(o->w->type, o->out + r0, o->ostride, j->xq, j->qstride, j->xs, j->sstride,
					  j->np, o->w->b + (size_t)r0 * rb, j->n, r1 - r0);
		return;
	default:
		break;
	}
	/* Version-2 Q8: a slice of rows small enough to stay in L1/L2 is
	 * multiplied by every vector before the next slice is read. */
	int chunk = rb >= (32u << 10) ? 1 : (int)((32u << 10) / rb);
	for (int c0 = r0; c0 < r1; c0 += chunk) {
		int c1 = r1 - c0 > chunk ? c0 + chunk : r1;
		for (int p = 0; p < j->np; p++)
			mm_rows(j, o, p, c0, c1);
	}
}

/* Rows [D * part0 / nparts, D * part1 / nparts) of the job's products
 * taken end to end (D rows in all): each row is summed the same way
 * whatever the split, so any thread count gives the same bits. */
static void mm_part(void *ctx, int part0, int part1, int nparts)
{
	const struct mm_job *j = ctx;
	int64_t total = 0;
	for (int k = 0; k < j->no; k++)
		total += j->o[k].d;
	int64_t r0 = total * part0 / nparts, r1 = total * part1 / nparts, base = 0;
	for (int k = 0; k < j->no && base < r1; k++) {
		int64_t lo = r0 > base ? r0 : base, hi = r1 < base + j->o[k].d ? r1 : base + j->o[k].d;
		if (lo < hi)
			mm_range(j, &j->o[k], (int)(lo - base), (int)(hi - base));
		base += j->o[k].d;
	}
}

static bool quantised(const struct al_ai_mat *w)
{
	return w->type == AL_AI_W_Q8G || w->type == AL_AI_W_Q8_0 || w->type == AL_AI_W_Q4_0;
}

/*
 * The job of products o[0..no) of the np vectors x (np, n), all sharing x
 * and n; returns the multiply-adds. Integer kernels: the activations are
 * quantised here, once per job (Q8_0 in groups of group_size, 32 for
 * GGUF), into rows of xq and xs (the state's, maxd values apart).
 */
static size_t job_build(struct mm_job *j, const struct al_ai_config *c, const float *x, int np, int n,
			const struct mm_out *o, int no, int8_t *xq, float *xs)
{
	bool q = false;
	size_t rows = 0;
	*j = (struct mm_job){ .no = no, .x = x, .n = n, .gs = c->group_size, .np = np, .xstride = (size_t)n };
	for (int k = 0; k < no; k++) {
		j->o[k] = o[k];
		q |= quantised(o[k].w);
		rows += (size_t)o[k].d;
	}
	if (q) {
		size_t maxd = (size_t)(c->dim > c->hidden_dim ? c->dim : c->hidden_dim);
		j->qstride = maxd;
		j->sstride = maxd / (size_t)j->gs;
		for (int p = 0; p < np; p++)
			quantize(xq + (size_t)p * j->qstride, xs + (size_t)p * j->sstride, x + (size_t)p * (size_t)n, n,
				 j->gs);
		j->xq = xq;
		j->xs = xs;
	}
	return (size_t)n * rows * (size_t)np;
}

/*
 * out_p = W x_p for each product of o[0..no) and the np vectors x (np, n),
 * rows split between the threads; np == 1 is the one-position pass, whose
 * activations are quantised into s->xq, the batch's into s->bxq.
 */
static void products(const struct al_ai_model *m, struct al_ai_state *s, const float *x, int np, int n,
		     const struct mm_out *o, int no)
{
	struct mm_job j;
	size_t work = job_build(&j, &m->cfg, x, np, n, o, no, np > 1 ? s->bxq : s->xq, np > 1 ? s->bxs : s->xs);
	if (s->pool && work >= s->parallel_min)
		al_ai_pool_run(s->pool, mm_part, &j);
	else
		mm_part(&j, 0, 1, 1);
}

/* The same on this thread for np rows of a prefill block, from row r of
 * it: the activations quantised into rows r.. of s->bxq. */
static void products_here(const struct al_ai_model *m, struct al_ai_state *s, const float *x, int np, int n,
			  const struct mm_out *o, int no, int r)
{
	struct mm_job j;
	size_t maxd = (size_t)(m->cfg.dim > m->cfg.hidden_dim ? m->cfg.dim : m->cfg.hidden_dim);
	size_t ngs = m->cfg.group_size ? maxd / (size_t)m->cfg.group_size : 0;
	job_build(&j, &m->cfg, x, np, n, o, no, s->bxq ? s->bxq + (size_t)r * maxd : NULL,
		  s->bxs ? s->bxs + (size_t)r * ngs : NULL);
	mm_part(&j, 0, 1, 1);
}

static void matmul(const struct al_ai_model *m, struct al_ai_state *s, float *out, const float *x,
		   const struct al_ai_mat *w, int n, int d)
{
	struct mm_out o = { .out = out, .w = w, .d = d };
	products(m, s, x, 1, n, &o, 1);
}

static void embed(const struct al_ai_model *m, float *x, int token)
{
	const struct al_ai_config *c = &m->cfg;
	size_t off = (size_t)token * (size_t)c->dim;
	const struct al_ai_mat *t = &m->w.tokens;
	if (t->f) {
		memcpy(x, t->f + off, (size_t)c->dim * sizeof(float));
		return;
	}
	if (t->b) {
		al_ai_dequant_row(t->type, t->b, (size_t)token, c->dim, x);
		return;
	}
	for (int i = 0; i < c->dim; i++)
		x[i] = (float)t->q[off + (size_t)i] * t->s[(off + (size_t)i) / (size_t)c->group_size];
}

/* Rotates each (even, odd) pair of every head of v (n values) by the position's angles. */
static void rope(float *v, int n, const float *cs, int head_size)
{
	for (int h = 0; h < n; h += head_size)
		for (int i = 0; i < head_size; i += 2) {
			float fcr = cs[i], fci = cs[i + 1];
			float v0 = v[h + i], v1 = v[h + i + 1];
			v[h + i] = v0 * fcr - v1 * fci;
			v[h + i + 1] = v0 * fci + v1 * fcr;
		}
}

/*
 * One head's attention over positions 0..n-1, in three steps so that the
 * softmax sums of several heads run side by side (head_sums). Each score
 * is summed over the head's values in the reference order (i = 0, 1, ...),
 * but 16 positions at a time from the transposed key cache, so the lanes
 * are independent and the result is bit-identical to a scalar loop; the
 * sums in registers (quant.h's attention kernels). The softmax is
 * al_ai_softmax's (sampler.c), the exponentials from the kernels (the bits
 * of libm's expf).
 */

/* The scores, scaled, less their maximum, exponentiated. */
AL_AI_CLONES
static void head_exp(float *restrict att, const float *restrict q, const float *restrict kT, int hs, int seq, int n)
{
	float scale = sqrtf((float)hs), lane[16], max;
	int nb = n - n % 16;

	al_ai_att_scores(att, q, kT, (size_t)seq, hs, n);
	for (int t = 0; t < n; t++)
		att[t] /= scale;
	for (int k = 0; k < 16; k++)
		lane[k] = att[0];
	for (int i = 0; i < nb; i += 16)
		for (int k = 0; k < 16; k++)
			lane[k] = att[i + k] > lane[k] ? att[i + k] : lane[k];
	max = lane[0];
	for (int k = 1; k < 16; k++)
		max = lane[k] > max ? lane[k] : max;
	for (int i = nb; i < n; i++)
		max = att[i] > max ? att[i] : max;
	al_ai_exp(att, att, max, n);
}

/* The softmax sums of up to HEAD_SUMS heads' rows: each in its order, the
 * heads side by side (one sum is a chain of dependent additions). */
enum { HEAD_SUMS = 8 };

static void head_sums(float sum[HEAD_SUMS], float *const att[HEAD_SUMS], int n)
{
	for (int k = 0; k < HEAD_SUMS; k++)
		sum[k] = 0.0f;
	for (int t = 0; t < n; t++)
		for (int k = 0; k < HEAD_SUMS; k++)
			sum[k] += att[k][t];
}

/* The weights (each exponential over the sum), then the weighted values. */
AL_AI_CLONES
static void head_out(float *restrict xb, float *restrict att, const float *restrict vc, int hs, size_t kv_dim, int n,
		     float sum)
{
	for (int t = 0; t < n; t++)
		att[t] /= sum;
	al_ai_att_values(xb, att, vc, kv_dim, hs, n);
}

/* Attention of np rows (their q and xb rows stride apart): positions pos0..
 * in the selected cache (prefill, one position), or row p at pos[p] in slot
 * slot[p]'s cache (a decode step of several sequences). */
struct att_job {
	const struct al_ai_config *c;
	struct al_ai_state *s;
	float *xb;
	const float *q;
	size_t stride, loff;
	int pos0, np;
	const int *pos, *slot; /* NULL, or per row */
};

/* Heads [n_heads * part0 / nparts, n_heads * part1 / nparts) for every
 * row: a head's score row is used by one thread at a time, and each head is
 * computed the same way on any thread. */
static void att_part(void *ctx, int part0, int part1, int nparts)
{
	const struct att_job *j = ctx;
	const struct al_ai_config *c = j->c;
	int hs = c->head_size, kv_mul = c->n_heads / c->n_kv_heads;
	int h0 = c->n_heads * part0 / nparts, h1 = c->n_heads * part1 / nparts;
	size_t seq = (size_t)c->seq_len;

	for (int p = 0; p < j->np; p++) {
		int pos = j->pos ? j->pos[p] : j->pos0 + p;
		const float *kc = j->slot ? slot_keys(j->s, j->slot[p]) : j->s->key_cache;
		const float *vc = j->slot ? slot_values(j->s, j->slot[p]) : j->s->value_cache;
		for (int g = h0; g < h1; g += HEAD_SUMS) {
			int g1 = h1 - g < HEAD_SUMS ? h1 : g + HEAD_SUMS;
			float *att[HEAD_SUMS], sum[HEAD_SUMS];
			for (int h = g; h < g1; h++) {
				size_t kvh = (size_t)(h / kv_mul);
				head_exp(j->s->att + (size_t)h * seq, j->q + (size_t)p * j->stride + (size_t)(h * hs),
					 kc + j->loff + kvh * (size_t)hs * seq, hs, c->seq_len, pos + 1);
			}
			/* Fewer heads than HEAD_SUMS: the first again, its extra sums unused. */
			for (int k = 0; k < HEAD_SUMS; k++)
				att[k] = j->s->att + (size_t)(g + k < g1 ? g + k : g) * seq;
			head_sums(sum, att, pos + 1);
			for (int h = g; h < g1; h++) {
				size_t kvh = (size_t)(h / kv_mul);
				head_out(j->xb + (size_t)p * j->stride + (size_t)(h * hs), att[h - g],
					 vc + j->loff + kvh * (size_t)hs, hs, (size_t)c->kv_dim, pos + 1, sum[h - g]);
			}
		}
	}
}

static void attention(const struct al_ai_config *c, struct al_ai_state *s, struct att_job *j)
{
	j->c = c;
	j->s = s;
	/* Multiply-adds: scores and weighted values over the positions seen. */
	size_t seen = 0;
	for (int p = 0; p < j->np; p++)
		seen += (size_t)(j->pos ? j->pos[p] : j->pos0 + p) + 1;
	size_t work = seen * (size_t)c->dim * 2;
	if (s->pool && c->n_heads > 1 && work >= s->parallel_min)
		al_ai_pool_run(s->pool, att_part, j);
	else
		att_part(j, 0, 1, 1);
}

/* The angles depend only on the position and the index within a head. */
static void rope_angles(const struct al_ai_config *c, float *cs, int pos)
{
	int hs = c->head_size;
	for (int i = 0; i < hs; i += 2) {
		float freq = 1.0f / powf(c->rope_base, (float)i / (float)hs);
		float val = (float)pos * freq;
		cs[i] = cosf(val);
		cs[i + 1] = sinf(val);
	}
}

static void swiglu(float *hb, const float *hb2, int hid)
{
	/* SwiGLU: silu(w1 x) * (w3 x), llama2.c's steps (quant.c, vectorised). */
	al_ai_swiglu(hb, hb2, hid);
}

float *al_ai_forward(const struct al_ai_model *m, struct al_ai_state *s, int token, int pos)
{
	const struct al_ai_config *c = &m->cfg;
	int dim = c->dim, hid = c->hidden_dim, hs = c->head_size;
	float *x = s->x;

	embed(m, x, token);
	rope_angles(c, s->rope, pos);
	for (int l = 0; l < c->n_layers; l++) {
		const struct al_ai_layer *L = &m->w.layers[l];
		size_t loff = (size_t)l * (size_t)c->seq_len * (size_t)c->kv_dim;
		/* v goes straight into this position's cache row; k is scattered
		 * into the transposed key cache after RoPE. */
		float *k = s->k;
		float *v = s->value_cache + loff + (size_t)pos * (size_t)c->kv_dim;

		rmsnorm(s->xb, x, L->rms_att, dim, c->rms_eps);
		struct mm_out qkv[] = { { s->q, 0, &L->wq, dim }, { k, 0, &L->wk, c->kv_dim }, { v, 0, &L->wv, c->kv_dim } };
		products(m, s, s->xb, 1, dim, qkv, 3);
		rope(s->q, dim, s->rope, hs);
		rope(k, c->kv_dim, s->rope, hs);
		for (int i = 0; i < c->kv_dim; i++)
			s->key_cache[loff + (size_t)i * (size_t)c->seq_len + (size_t)pos] = k[i];
		struct att_job aj = { .xb = s->xb, .q = s->q, .loff = loff, .pos0 = pos, .np = 1 };
		attention(c, s, &aj);
		matmul(m, s, s->xb2, s->xb, &L->wo, dim, dim);
		for (int i = 0; i < dim; i++)
			x[i] += s->xb2[i];

		rmsnorm(s->xb, x, L->rms_ffn, dim, c->rms_eps);
		struct mm_out up[] = { { s->hb, 0, &L->w1, hid }, { s->hb2, 0, &L->w3, hid } };
		products(m, s, s->xb, 1, dim, up, 2);
		swiglu(s->hb, s->hb2, hid);
		matmul(m, s, s->xb, s->hb, &L->w2, hid, dim);
		for (int i = 0; i < dim; i++)
			x[i] += s->xb[i];
	}
	rmsnorm(x, x, m->w.rms_final, dim, c->rms_eps);
	matmul(m, s, s->logits, x, &m->w.wcls, dim, c->vocab_size);
	return s->logits;
}

/*
 * A prefill block's steps of each position apart from attention, for
 * positions [p0, p0 + np) of the block at pos0: the end of layer l - 1
 * (output projection, residual, feed-forward; from l = 1) and the start of
 * layer l (RMSNorm, q, k and v, RoPE, the key and value cached; below
 * n_layers). Each is al_ai_forward()'s step for each position, so the
 * positions may go to different threads; only attention reads other
 * positions' rows (the cache), between two such jobs.
 */
struct pos_job {
	const struct al_ai_model *m;
	struct al_ai_state *s;
	int l, pos0, np;
};

static void layer_end(const struct al_ai_model *m, struct al_ai_state *s, int l, int p0, int np)
{
	const struct al_ai_config *c = &m->cfg;
	const struct al_ai_layer *L = &m->w.layers[l];
	size_t dim = (size_t)c->dim, hid = (size_t)c->hidden_dim, off = (size_t)p0 * dim;
	float *bx = s->bx + off, *xb = s->bxb + off, *bq = s->bq + off;
	float *hb = s->bhb + (size_t)p0 * hid, *hb2 = s->bhb2 + (size_t)p0 * hid;

	/* The queries are spent: their rows take the output projection of attention's rows (xb). */
	struct mm_out o = { bq, dim, &L->wo, c->dim };
	products_here(m, s, xb, np, c->dim, &o, 1, p0);
	for (size_t i = 0; i < (size_t)np * dim; i++)
		bx[i] += bq[i];
	rmsnorm_rows(xb, bx, L->rms_ffn, np, c->dim, c->rms_eps);
	struct mm_out up[] = { { hb, hid, &L->w1, c->hidden_dim }, { hb2, hid, &L->w3, c->hidden_dim } };
	products_here(m, s, xb, np, c->dim, up, 2, p0);
	for (int p = 0; p < np; p++)
		swiglu(hb + (size_t)p * hid, hb2 + (size_t)p * hid, c->hidden_dim);
	struct mm_out down = { xb, dim, &L->w2, c->dim };
	products_here(m, s, hb, np, c->hidden_dim, &down, 1, p0);
	for (size_t i = 0; i < (size_t)np * dim; i++)
		bx[i] += xb[i];
}

static void layer_start(const struct al_ai_model *m, struct al_ai_state *s, int l, int pos0, int p0, int np)
{
	const struct al_ai_config *c = &m->cfg;
	const struct al_ai_layer *L = &m->w.layers[l];
	size_t dim = (size_t)c->dim, kv = (size_t)c->kv_dim, hs = (size_t)c->head_size, seq = (size_t)c->seq_len;
	size_t loff = (size_t)l * seq * kv, pos = (size_t)(pos0 + p0);
	float *xb = s->bxb + (size_t)p0 * dim, *bq = s->bq + (size_t)p0 * dim, *bk = s->bk + (size_t)p0 * kv;
	const float *rope_cs = s->brope + (size_t)p0 * hs;

	rmsnorm_rows(xb, s->bx + (size_t)p0 * dim, L->rms_att, np, c->dim, c->rms_eps);
	/* v straight into the cache rows of these positions. */
	struct mm_out qkv[] = { { bq, dim, &L->wq, c->dim },
				{ bk, kv, &L->wk, c->kv_dim },
				{ s->value_cache + loff + pos * kv, kv, &L->wv, c->kv_dim } };
	products_here(m, s, xb, np, c->dim, qkv, 3, p0);
	for (int p = 0; p < np; p++) {
		rope(bq + (size_t)p * dim, c->dim, rope_cs + (size_t)p * hs, c->head_size);
		rope(bk + (size_t)p * kv, c->kv_dim, rope_cs + (size_t)p * hs, c->head_size);
	}
	/* Into the transposed key cache a row at a time: the positions are adjacent there. */
	for (size_t i = 0; i < kv; i++)
		for (int p = 0; p < np; p++)
			s->key_cache[loff + i * seq + pos + (size_t)p] = bk[(size_t)p * kv + i];
}

/* Positions in one part per thread (al_ai_pool_run_even), in whole tiles
 * of 16 (the AMX products take 16 vectors to a tile): each part's products
 * read every weight once for all its positions. */
static void pos_part(void *ctx, int part0, int part1, int nparts)
{
	const struct pos_job *j = ctx;
	int per = (j->np + nparts - 1) / nparts;
	per = (per + 15) / 16 * 16;
	int p0 = part0 * per, p1 = part1 * per < j->np ? part1 * per : j->np;
	if (p0 >= p1)
		return;
	if (j->l > 0)
		layer_end(j->m, j->s, j->l - 1, p0, p1 - p0);
	if (j->l < j->m->cfg.n_layers)
		layer_start(j->m, j->s, j->l, j->pos0, p0, p1 - p0);
}

/* Positions pos0..pos0 + np - 1 (np <= AL_AI_BATCH) through every layer;
 * the classifier only for the last one, and only if logits is set. Each
 * step is al_ai_forward()'s for each position, in the same order per
 * position: the keys and values of the whole block are cached before its
 * attention, which for position t reads positions 0..t only. With threads,
 * the positions are split between them (pos_part), and attention by heads:
 * two hand-overs a layer. */
static void forward_block(const struct al_ai_model *m, struct al_ai_state *s, const int *tokens, int pos0, int np,
			  bool logits)
{
	const struct al_ai_config *c = &m->cfg;
	size_t dim = (size_t)c->dim, kv = (size_t)c->kv_dim, hs = (size_t)c->head_size;
	size_t seq = (size_t)c->seq_len;
	/* Multiply-adds of a layer's products. */
	size_t work = (size_t)np * dim * (dim * 2 + kv * 2 + (size_t)c->hidden_dim * 3);

	for (int p = 0; p < np; p++) {
		embed(m, s->bx + (size_t)p * dim, tokens[p]);
		rope_angles(c, s->brope + (size_t)p * hs, pos0 + p);
	}
	for (int l = 0; l <= c->n_layers; l++) {
		struct pos_job pj = { .m = m, .s = s, .l = l, .pos0 = pos0, .np = np };
		if (s->pool && work >= s->parallel_min)
			al_ai_pool_run_even(s->pool, pos_part, &pj);
		else
			pos_part(&pj, 0, 1, 1);
		if (l == c->n_layers)
			break;
		struct att_job aj = { .xb = s->bxb, .q = s->bq, .stride = dim, .loff = (size_t)l * seq * kv,
				      .pos0 = pos0, .np = np };
		attention(c, s, &aj);
	}
	if (logits) {
		float *x = s->bx + (size_t)(np - 1) * dim;
		rmsnorm(s->x, x, m->w.rms_final, c->dim, c->rms_eps);
		matmul(m, s, s->logits, s->x, &m->w.wcls, c->dim, c->vocab_size);
	}
}

float *al_ai_prefill(const struct al_ai_model *m, struct al_ai_state *s, const int *tokens, int n, int pos0)
{
	for (int b = 0; b < n; b += AL_AI_BATCH) {
		int np = n - b < AL_AI_BATCH ? n - b : AL_AI_BATCH;
		forward_block(m, s, tokens + b, pos0 + b, np, b + np == n);
	}
	return s->logits;
}

float *al_ai_forward_batch(const struct al_ai_model *m, struct al_ai_state *s, const int *slots, const int *tokens,
			   const int *pos, int n)
{
	const struct al_ai_config *c = &m->cfg;
	size_t dim = (size_t)c->dim, hid = (size_t)c->hidden_dim, kv = (size_t)c->kv_dim, hs = (size_t)c->head_size;
	size_t seq = (size_t)c->seq_len, V = (size_t)c->vocab_size;

	/* Each step below is al_ai_forward()'s, row by row, in the same order. */
	for (int p = 0; p < n; p++) {
		embed(m, s->bx + (size_t)p * dim, tokens[p]);
		rope_angles(c, s->brope + (size_t)p * hs, pos[p]);
	}
	for (int l = 0; l < c->n_layers; l++) {
		const struct al_ai_layer *L = &m->w.layers[l];
		size_t loff = (size_t)l * seq * kv;

		for (int p = 0; p < n; p++)
			rmsnorm(s->bxb + (size_t)p * dim, s->bx + (size_t)p * dim, L->rms_att, c->dim, c->rms_eps);
		struct mm_out qkv[] = { { s->bq, dim, &L->wq, c->dim },
					{ s->bk, kv, &L->wk, c->kv_dim },
					{ s->bv, kv, &L->wv, c->kv_dim } };
		products(m, s, s->bxb, n, c->dim, qkv, 3);
		for (int p = 0; p < n; p++) {
			/* Each sequence's key and value go to its own cache, at its position. */
			float *k = s->bk + (size_t)p * kv, *keys = slot_keys(s, slots[p]) + loff;
			rope(s->bq + (size_t)p * dim, c->dim, s->brope + (size_t)p * hs, c->head_size);
			rope(k, c->kv_dim, s->brope + (size_t)p * hs, c->head_size);
			for (size_t i = 0; i < kv; i++)
				keys[i * seq + (size_t)pos[p]] = k[i];
			memcpy(slot_values(s, slots[p]) + loff + (size_t)pos[p] * kv, s->bv + (size_t)p * kv,
			       kv * sizeof(float));
		}
		struct att_job aj = { .xb = s->bxb, .q = s->bq, .stride = dim, .loff = loff, .np = n, .pos = pos,
				      .slot = slots };
		attention(c, s, &aj);
		struct mm_out o = { s->bq, dim, &L->wo, c->dim };
		products(m, s, s->bxb, n, c->dim, &o, 1);
		for (size_t i = 0; i < (size_t)n * dim; i++)
			s->bx[i] += s->bq[i];

		for (int p = 0; p < n; p++)
			rmsnorm(s->bxb + (size_t)p * dim, s->bx + (size_t)p * dim, L->rms_ffn, c->dim, c->rms_eps);
		struct mm_out up[] = { { s->bhb, hid, &L->w1, c->hidden_dim }, { s->bhb2, hid, &L->w3, c->hidden_dim } };
		products(m, s, s->bxb, n, c->dim, up, 2);
		for (int p = 0; p < n; p++)
			swiglu(s->bhb + (size_t)p * hid, s->bhb2 + (size_t)p * hid, c->hidden_dim);
		struct mm_out down = { s->bxb, dim, &L->w2, c->dim };
		products(m, s, s->bhb, n, c->hidden_dim, &down, 1);
		for (size_t i = 0; i < (size_t)n * dim; i++)
			s->bx[i] += s->bxb[i];
	}
	for (int p = 0; p < n; p++)
		rmsnorm(s->bxb + (size_t)p * dim, s->bx + (size_t)p * dim, m->w.rms_final, c->dim, c->rms_eps);
	struct mm_out cls = { s->blogits, V, &m->w.wcls, c->vocab_size };
	products(m, s, s->bxb, n, c->dim, &cls, 1);
	return s->blogits;
}
