/*
 * AI engine: the matrix-vector kernels for 64-bit ARM (Advanced SIMD, which
 * every AArch64 CPU has), dispatched from quant.c. Built on aarch64 only.
 *
 * Each one computes, lane for lane, what the x86 build computes:
 *   F32         the portable kernel's order (quant.c): 16 lanes as four
 *               4-lane registers, one fused multiply-add per step (vfmaq is
 *               fmaf), folded 8, 4, 2, 1, the tail fused in in order. Same
 *               bits as the scalar and AVX versions.
 *   F16         the AVX2 kernel's order: two 8-lane FMA accumulators over 16
 *               values a step, added, folded 4, 2, 1, the tail added unfused.
 *   Q8_0, Q4_0  the AVX2 kernels' order: each block's exact integer products
 *               summed in groups of 4 bytes into 8 int32 lanes, converted,
 *               fused into 8 fp32 lanes with the block's scale, folded 4, 2, 1.
 * So the NEON build's products have the AVX2 build's bits, and the scalar
 * ones' to rounding (the same comparison the tests make on x86).
 */
#include "workers/ai/quant_neon.h"

#include <arm_neon.h>
#include <math.h>
#include <string.h>
#include <sys/auxv.h>

#include "workers/ai/gguf.h"

#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1UL << 1)
#endif

bool al_ai_neon_usable(void)
{
	return (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
}

static inline float half_at(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return al_gguf_half(h);
}

/* Four halves to fp32 (exact, as al_gguf_half). */
static inline float32x4_t halves4(const uint8_t *p)
{
	return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)(const void *)p)));
}

/* 8 lanes held as lo (0..3) and hi (4..7), folded as the AVX2 hsum8: 4, 2, 1. */
static inline float fold8(float32x4_t lo, float32x4_t hi)
{
	float32x4_t s = vaddq_f32(lo, hi);
	float32x2_t t = vadd_f32(vget_low_f32(s), vget_high_f32(s));
	return vget_lane_f32(t, 0) + vget_lane_f32(t, 1);
}

/* ---- F32 ---- */

/* The n % 16 tail of one row and vector, fused into the folded lanes in order. */
static inline float f32_tail(float s, const float *row, const float *x, int nb, int n)
{
	for (int j = nb; j < n; j++)
		s = fmaf(row[j], x[j], s);
	return s;
}

/* R rows by P vectors; four 4-lane accumulators make one 16-lane one. */
static inline __attribute__((always_inline)) void f32_tile(float *out, size_t ostride, const float *x,
							     size_t xstride, const float *w, int n, int R, int P)
{
	float32x4_t a[4][2][4];
	int nb = n - n % 16;
	for (int r = 0; r < R; r++)
		for (int p = 0; p < P; p++)
			for (int q = 0; q < 4; q++)
				a[r][p][q] = vdupq_n_f32(0.0f);
	for (int j = 0; j < nb; j += 16) {
		float32x4_t xv[2][4];
		for (int p = 0; p < P; p++)
			for (int q = 0; q < 4; q++)
				xv[p][q] = vld1q_f32(x + (size_t)p * xstride + j + 4 * q);
		for (int r = 0; r < R; r++)
			for (int q = 0; q < 4; q++) {
				float32x4_t wv = vld1q_f32(w + (size_t)r * (size_t)n + j + 4 * q);
				for (int p = 0; p < P; p++)
					a[r][p][q] = vfmaq_f32(a[r][p][q], wv, xv[p][q]);
			}
	}
	for (int r = 0; r < R; r++)
		for (int p = 0; p < P; p++) {
			/* lanes k += k + 8, then the 8-lane fold */
			float s = fold8(vaddq_f32(a[r][p][0], a[r][p][2]), vaddq_f32(a[r][p][1], a[r][p][3]));
			out[(size_t)p * ostride + (size_t)r] =
				f32_tail(s, w + (size_t)r * (size_t)n, x + (size_t)p * xstride, nb, n);
		}
}

void al_ai_neon_f32_batch(float *out, size_t ostride, const float *x, size_t xstride, int np, const float *w,
			  int n, int d)
{
	int i = 0;
	/* One vector: four rows share each load of x. Several: two rows by two
	 * vectors, each weight load serving both vectors. */
	if (np == 1) {
		for (; i + 4 <= d; i += 4)
			f32_tile(out + i, ostride, x, xstride, w + (size_t)i * (size_t)n, n, 4, 1);
		for (; i < d; i++)
			f32_tile(out + i, ostride, x, xstride, w + (size_t)i * (size_t)n, n, 1, 1);
		return;
	}
	for (; i < d; i += 2) {
		const float *wr = w + (size_t)i * (size_t)n;
		int R = i + 2 <= d ? 2 : 1, p = 0;
		if (R == 2) {
			for (; p + 2 <= np; p += 2)
				f32_tile(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, wr, n,
					 2, 2);
			for (; p < np; p++)
				f32_tile(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, wr, n,
					 2, 1);
		} else {
			for (; p < np; p++)
				f32_tile(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, wr, n,
					 1, 1);
		}
	}
}

/* ---- F16 ---- */

/* One row with P (<= 4) vectors, the row's conversion done once for all. */
static inline __attribute__((always_inline)) void f16_row(float *out, size_t ostride, const float *x,
							    size_t xstride, const uint8_t *row, int n, int P)
{
	float32x4_t a[4][4];
	int j = 0;
	for (int p = 0; p < P; p++)
		for (int q = 0; q < 4; q++)
			a[p][q] = vdupq_n_f32(0.0f);
	for (; j + 16 <= n; j += 16) {
		float32x4_t wv[4];
		for (int q = 0; q < 4; q++)
			wv[q] = halves4(row + (size_t)(j + 4 * q) * 2);
		for (int p = 0; p < P; p++)
			for (int q = 0; q < 4; q++)
				a[p][q] = vfmaq_f32(a[p][q], wv[q], vld1q_f32(x + (size_t)p * xstride + j + 4 * q));
	}
	for (int p = 0; p < P; p++) {
		const float *xp = x + (size_t)p * xstride;
		/* the AVX2 a0 (lanes 0..7) plus a1 (8..15), then its fold */
		float s = fold8(vaddq_f32(a[p][0], a[p][2]), vaddq_f32(a[p][1], a[p][3]));
		for (int k = j; k < n; k++)
			s += half_at(row + (size_t)k * 2) * xp[k];
		out[(size_t)p * ostride] = s;
	}
}

void al_ai_neon_f16(float *out, const float *x, const uint8_t *w, int n, int d)
{
	for (int i = 0; i < d; i++)
		f16_row(out + i, 0, x, 0, w + (size_t)i * (size_t)n * 2, n, 1);
}

void al_ai_neon_f16_batch(float *out, size_t ostride, const float *x, size_t xstride, int np, const uint8_t *w,
			  int n, int d)
{
	for (int i = 0; i < d; i++) {
		const uint8_t *row = w + (size_t)i * (size_t)n * 2;
		int p = 0;
		for (; p + 4 <= np; p += 4)
			f16_row(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, row, n, 4);
		for (; p < np; p++)
			f16_row(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, row, n, 1);
	}
}

/* ---- Q8_0 and Q4_0 ---- */

/* The block's 32 signed weights: Q8_0 as stored, Q4_0's nibbles minus 8
 * (low nibbles are values 0..15, high ones 16..31). */
static inline void block_weights(const uint8_t *blk, bool q4, int8x16_t *lo, int8x16_t *hi)
{
	if (q4) {
		uint8x16_t raw = vld1q_u8(blk + 2);
		int8x16_t eight = vdupq_n_s8(8);
		*lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(15))), eight);
		*hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), eight);
	} else {
		*lo = vld1q_s8((const int8_t *)(blk + 2));
		*hi = vld1q_s8((const int8_t *)(blk + 18));
	}
}

/* Sums of 16 byte products in groups of 4 (bytes 4i..4i+3 into lane i), exact. */
static inline int32x4_t dot16(int8x16_t a, int8x16_t b)
{
	int32x4_t l = vpaddlq_s16(vmull_s8(vget_low_s8(a), vget_low_s8(b)));
	int32x4_t h = vpaddlq_s16(vmull_s8(vget_high_s8(a), vget_high_s8(b)));
	return vpaddq_s32(l, h);
}

/* One block of one row and vector: fused into the 8 lanes (lo, hi) with its scale. */
static inline void block_fma(float32x4_t *acc_lo, float32x4_t *acc_hi, int8x16_t wlo, int8x16_t whi,
			     const int8_t *y, float scale)
{
	float32x4_t s = vdupq_n_f32(scale);
	*acc_lo = vfmaq_f32(*acc_lo, s, vcvtq_f32_s32(dot16(wlo, vld1q_s8(y))));
	*acc_hi = vfmaq_f32(*acc_hi, s, vcvtq_f32_s32(dot16(whi, vld1q_s8(y + 16))));
}

/* One row with P (<= 4) vectors, each block's weights decoded once for all. */
static inline __attribute__((always_inline)) void blocks_row(float *out, size_t ostride, const int8_t *xq,
							       size_t qstride, const float *xs, size_t sstride,
							       const uint8_t *row, int nb, size_t bs, bool q4,
							       int P)
{
	float32x4_t lo[4], hi[4];
	for (int p = 0; p < P; p++)
		lo[p] = hi[p] = vdupq_n_f32(0.0f);
	for (int b = 0; b < nb; b++) {
		const uint8_t *blk = row + (size_t)b * bs;
		float dd = half_at(blk);
		int8x16_t wlo, whi;
		block_weights(blk, q4, &wlo, &whi);
		for (int p = 0; p < P; p++)
			block_fma(&lo[p], &hi[p], wlo, whi, xq + (size_t)p * qstride + (size_t)b * 32,
				  dd * xs[(size_t)p * sstride + (size_t)b]);
	}
	for (int p = 0; p < P; p++)
		out[(size_t)p * ostride] = fold8(lo[p], hi[p]);
}

void al_ai_neon_blocks_batch(float *out, size_t ostride, const int8_t *xq, size_t qstride, const float *xs,
			     size_t sstride, int np, const uint8_t *w, int n, int d, bool q4)
{
	size_t bs = q4 ? AL_AI_Q4_0_BLOCK : AL_AI_Q8_0_BLOCK, rb = (size_t)(n / 32) * bs;
	for (int i = 0; i < d; i++) {
		const uint8_t *row = w + (size_t)i * rb;
		int p = 0;
		for (; p + 4 <= np; p += 4)
			blocks_row(out + (size_t)p * ostride + i, ostride, xq + (size_t)p * qstride, qstride,
				   xs + (size_t)p * sstride, sstride, row, n / 32, bs, q4, 4);
		for (; p < np; p++)
			blocks_row(out + (size_t)p * ostride + i, ostride, xq + (size_t)p * qstride, qstride,
				   xs + (size_t)p * sstride, sstride, row, n / 32, bs, q4, 1);
	}
}

void al_ai_neon_q8_0(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d)
{
	al_ai_neon_blocks_batch(out, 0, xq, 0, xs, 0, 1, w, n, d, false);
}

void al_ai_neon_q4_0(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d)
{
	al_ai_neon_blocks_batch(out, 0, xq, 0, xs, 0, 1, w, n, d, true);
}
