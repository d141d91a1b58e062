/*
 * GGUF kernels: the portable versions, which define the bits every version
 * gives (quant.h), and the choice of version for this CPU among those the
 * architecture's file lists (quant_arch.h: AVX2, AVX-512 and AMX in
 * quant_x86.c, Advanced SIMD in quant_neon.c).
 */
#include "workers/ai/quant.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "workers/ai/gguf.h"
#include "workers/ai/quant_arch.h"

static inline float half_at(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return al_gguf_half(h);
}

size_t al_ai_row_bytes(enum al_ai_wtype type, int n)
{
	switch (type) {
	case AL_AI_W_F16:
		return (size_t)n * 2;
	case AL_AI_W_Q8_0:
		return (size_t)(n / 32) * AL_AI_Q8_0_BLOCK;
	case AL_AI_W_Q4_0:
		return (size_t)(n / 32) * AL_AI_Q4_0_BLOCK;
	default:
		return (size_t)n * 4;
	}
}

/* ---- portable ---- */

/*
 * F32 and F16 (half true: w holds halves): 16 lanes, one fmaf a step,
 * folded 8, 4, 2, 1, then the tail fused in in order. (Where the CPU has
 * no FMA, fmaf is slow but exact; x86-64 CPUs with AVX2 have FMA.)
 */
static float fp_row_scalar(const void *w, bool half, const float *x, int n)
{
	const float *wf = w;
	const uint8_t *wh = w;
	int nb = n - n % 16;
	float a[16] = { 0 };
	for (int j = 0; j < nb; j += 16)
		for (int k = 0; k < 16; k++)
			a[k] = fmaf(half ? half_at(wh + (size_t)(j + k) * 2) : wf[j + k], x[j + k], a[k]);
	for (int h = 8; h > 0; h /= 2)
		for (int k = 0; k < h; k++)
			a[k] += a[k + h];
	for (int j = nb; j < n; j++)
		a[0] = fmaf(half ? half_at(wh + (size_t)j * 2) : wf[j], x[j], a[0]);
	return a[0];
}

static void fp_batch_scalar(float *out, size_t ostride, const float *x, size_t xstride, int np, const void *w,
			    bool half, int n, int d)
{
	size_t rb = (size_t)n * (half ? 2 : 4);
	for (int i = 0; i < d; i++)
		for (int p = 0; p < np; p++)
			out[(size_t)p * ostride + (size_t)i] =
				fp_row_scalar((const uint8_t *)w + (size_t)i * rb, half, x + (size_t)p * xstride, n);
}

/* Exact integer dot product of one block with 32 activations. */
static int32_t block_dot(const uint8_t *blk, const int8_t *y, bool q4)
{
	int32_t s = 0;
	if (q4) {
		const uint8_t *q = blk + 2;
		for (int k = 0; k < 16; k++)
			s += ((int32_t)(q[k] & 15) - 8) * y[k] + ((int32_t)(q[k] >> 4) - 8) * y[k + 16];
	} else {
		const int8_t *q = (const int8_t *)(blk + 2);
		for (int k = 0; k < 32; k++)
			s += (int32_t)q[k] * (int32_t)y[k];
	}
	return s;
}

static void blocks_batch_scalar(bool q4, float *out, size_t ostride, const int8_t *xq, size_t qstride,
				const float *xs, size_t sstride, int np, const uint8_t *w, int n, int d)
{
	int nb = n / 32;
	size_t bs = q4 ? AL_AI_Q4_0_BLOCK : AL_AI_Q8_0_BLOCK;
	for (int i = 0; i < d; i++) {
		const uint8_t *row = w + (size_t)i * (size_t)nb * bs;
		for (int p = 0; p < np; p++) {
			const int8_t *y = xq + (size_t)p * qstride;
			const float *ys = xs + (size_t)p * sstride;
			float v = 0.0f;
			for (int b = 0; b < nb; b++) {
				const uint8_t *blk = row + (size_t)b * bs;
				v = fmaf((float)block_dot(blk, y + b * 32, q4), half_at(blk) * ys[b], v);
			}
			out[(size_t)p * ostride + (size_t)i] = v;
		}
	}
}

static void quantize_scalar(int8_t *q, float *scales, const float *x, int n, int gs)
{
	for (int g = 0; g < n / gs; g++) {
		const float *xg = x + g * gs;
		float wmax = 0.0f;
		for (int i = 0; i < gs; i++) {
			float a = fabsf(xg[i]);
			if (a > wmax)
				wmax = a;
		}
		float scale = wmax / 127.0f;
		scales[g] = scale;
		float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
		for (int i = 0; i < gs; i++) {
			/* Clamped, and NaN (from inf or NaN weights) to 0: never an out-of-range cast. */
			float r = roundf(xg[i] * inv);
			q[g * gs + i] = r >= 127.0f ? 127 : r <= -127.0f ? -127 : r == r ? (int8_t)r : 0;
		}
	}
}

/* ---- the choice ---- */

static void f32_batch_portable(float *out, size_t ostride, const float *x, size_t xstride, int np, const float *w,
			       int n, int d)
{
	fp_batch_scalar(out, ostride, x, xstride, np, w, false, n, d);
}

static void f16_batch_portable(float *out, size_t ostride, const float *x, size_t xstride, int np,
			       const uint8_t *w, int n, int d)
{
	fp_batch_scalar(out, ostride, x, xstride, np, w, true, n, d);
}

static const struct al_ai_kernels portable = {
	.name = "scalar", .f32_batch = f32_batch_portable, .f16_batch = f16_batch_portable,
	.blocks_batch = blocks_batch_scalar, .quantize_q8 = quantize_scalar, .quantize_gs = 1,
};

/* versions[0] is the portable one, then the architecture's, best last;
 * the one in use is versions[level]. */
static const struct al_ai_kernels *versions[1 + AL_AI_ARCH_KERNELS] = { &portable };
static int nversions = 1, level;

static void probe(void)
{
	nversions = 1 + al_ai_arch_kernels(versions + 1);
}

void al_ai_quant_init(bool force_scalar)
{
	/* Probed once, at the first call, during setup: the architecture's
	 * probe may make system calls, which the worker's filter forbids afterwards. */
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, probe);
	level = force_scalar ? 0 : nversions - 1;
}

bool al_ai_quant_use(const char *kernels)
{
	al_ai_quant_init(false);
	for (int l = 0; l < level; l++)
		if (strcmp(kernels, versions[l]->name) == 0) {
			level = l;
			return true;
		}
	return strcmp(kernels, versions[level]->name) == 0;
}

const char *al_ai_quant_kernels(void)
{
	return versions[level]->name;
}

void al_ai_quantize_q8(int8_t *q, float *scales, const float *x, int n, int gs)
{
	const struct al_ai_kernels *k = versions[level];
	(gs % k->quantize_gs == 0 ? k->quantize_q8 : quantize_scalar)(q, scales, x, n, gs);
}

void al_ai_matmul_f32(float *out, const float *x, const float *w, int n, int d)
{
	al_ai_matmul_f32_batch(out, 0, x, 0, 1, w, n, d);
}

void al_ai_matmul_f32_batch(float *out, size_t ostride, const float *x, size_t xstride, int np, const float *w,
			    int n, int d)
{
	versions[level]->f32_batch(out, ostride, x, xstride, np, w, n, d);
}

void al_ai_matmul_f16(float *out, const float *x, const uint8_t *w, int n, int d)
{
	al_ai_matmul_f16_batch(out, 0, x, 0, 1, w, n, d);
}

void al_ai_matmul_f16_batch(float *out, size_t ostride, const float *x, size_t xstride, int np, const uint8_t *w,
			    int n, int d)
{
	versions[level]->f16_batch(out, ostride, x, xstride, np, w, n, d);
}

void al_ai_matmul_q8_0(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d)
{
	al_ai_matmul_blocks_batch(AL_AI_W_Q8_0, out, 0, xq, 0, xs, 0, 1, w, n, d);
}

void al_ai_matmul_q4_0(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d)
{
	al_ai_matmul_blocks_batch(AL_AI_W_Q4_0, out, 0, xq, 0, xs, 0, 1, w, n, d);
}

void al_ai_matmul_blocks_batch(enum al_ai_wtype type, float *out, size_t ostride, const int8_t *xq, size_t qstride,
			       const float *xs, size_t sstride, int np, const uint8_t *w, int n, int d)
{
	versions[level]->blocks_batch(type == AL_AI_W_Q4_0, out, ostride, xq, qstride, xs, sstride, np, w, n, d);
}

void al_ai_exp(float *y, const float *x, float sub, int n)
{
	if (versions[level]->exp) {
		versions[level]->exp(y, x, sub, n);
		return;
	}
	for (int i = 0; i < n; i++)
		y[i] = expf(x[i] - sub);
}

void al_ai_swiglu(float *h, const float *g, int n)
{
	if (versions[level]->swiglu) {
		versions[level]->swiglu(h, g, n);
		return;
	}
	for (int i = 0; i < n; i++) {
		float v = h[i];
		v *= 1.0f / (1.0f + expf(-v));
		h[i] = v * g[i];
	}
}

void al_ai_att_scores(float *att, const float *q, const float *kT, size_t seq, int hs, int n)
{
	if (versions[level]->att_scores) {
		versions[level]->att_scores(att, q, kT, seq, hs, n);
		return;
	}
	for (int t = 0; t < n; t++)
		att[t] = 0.0f;
	for (int i = 0; i < hs; i++) {
		const float *row = kT + (size_t)i * seq;
		float qi = q[i];
		for (int t = 0; t < n; t++)
			att[t] += qi * row[t];
	}
}

void al_ai_att_values(float *out, const float *att, const float *v, size_t vstride, int hs, int n)
{
	if (versions[level]->att_values) {
		versions[level]->att_values(out, att, v, vstride, hs, n);
		return;
	}
	for (int i = 0; i < hs; i++)
		out[i] = 0.0f;
	for (int t = 0; t < n; t++) {
		const float *vt = v + (size_t)t * vstride;
		float a = att[t];
		for (int i = 0; i < hs; i++)
			out[i] += a * vt[i];
	}
}

void al_ai_sumsq_rows(float *ss, const float *x, size_t stride, int rows, int n)
{
	int r = 0;
	if (versions[level]->sumsq_rows) {
		r = rows - rows % 16;
		versions[level]->sumsq_rows(ss, x, stride, r, n);
	}
	for (; r < rows; r++) {
		const float *xr = x + (size_t)r * stride;
		float s = 0.0f;
		for (int j = 0; j < n; j++)
			s += xr[j] * xr[j];
		ss[r] = s;
	}
}

void al_ai_dequant_row(enum al_ai_wtype type, const uint8_t *w, size_t row, int n, float *out)
{
	const uint8_t *r = w + row * al_ai_row_bytes(type, n);
	switch (type) {
	case AL_AI_W_F16:
		for (int i = 0; i < n; i++)
			out[i] = half_at(r + (size_t)i * 2);
		break;
	case AL_AI_W_Q8_0:
		for (int b = 0; b < n / 32; b++) {
			const uint8_t *blk = r + (size_t)b * AL_AI_Q8_0_BLOCK;
			float dd = half_at(blk);
			for (int k = 0; k < 32; k++)
				out[b * 32 + k] = (float)(int8_t)blk[2 + k] * dd;
		}
		break;
	case AL_AI_W_Q4_0:
		for (int b = 0; b < n / 32; b++) {
			const uint8_t *blk = r + (size_t)b * AL_AI_Q4_0_BLOCK;
			float dd = half_at(blk);
			for (int k = 0; k < 16; k++) {
				out[b * 32 + k] = (float)((blk[2 + k] & 15) - 8) * dd;
				out[b * 32 + k + 16] = (float)((blk[2 + k] >> 4) - 8) * dd;
			}
		}
		break;
	default:
		break;
	}
}
