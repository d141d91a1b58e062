/*
 * The 64-bit ARM kernels (Advanced SIMD, which every AArch64 CPU has; SDOT
 * for the block types where the CPU has it), each giving the bits of
 * quant.c's portable version (quant.h).
 *
 * F32 and F16 keep each row's 16 lanes in four 4-lane registers, one fused
 * multiply-add (vfmaq: fmaf per lane) a step, and fold them as the
 * portable version does: registers 0 + 2 and 1 + 3 (lane k plus k + 8),
 * their sum (k + 4), its halves (k + 2), then lane 0 plus lane 1; the tail
 * is fused in in order. Tiles of rows by vectors share every load, and an
 * F16 row is converted (exactly) once for all the vectors of its tile.
 *
 * Q8_0 and Q4_0: the four lanes of a vector are four rows. Each row's
 * block product is computed exactly in integers (widening byte products,
 * two to a 16-bit lane: |q| <= 128 times |y| <= 127 twice is at most 32512;
 * or SDOT's four to a 32-bit lane), the four rows' sums are added across
 * lanes into one vector, converted to fp32 (round to nearest, as the
 * portable version's cast), and fused into the four rows' values with the
 * scales d_b * xs_b, block after block from 0. The rows' decoded weights
 * serve up to 4 vectors.
 */
#include "workers/ai/quant_neon.h"

#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "workers/ai/gguf.h"
#include "workers/ai/quant.h"

#define INLINE static inline __attribute__((always_inline))

/* ---- F32 and F16 ---- */

INLINE const void *row_at(const void *w, bool half, size_t i, int n)
{
	return (const uint8_t *)w + i * (size_t)n * (half ? 2 : 4);
}

/* Element j of a row of floats or halves, as fp32 (exact). */
INLINE float elem(const void *w, bool half, size_t j)
{
	if (!half)
		return ((const float *)w)[j];
	uint16_t h;
	memcpy(&h, (const uint8_t *)w + j * 2, 2);
	return al_gguf_half(h);
}

/* The n % 16 tail of one row and vector, fused into the folded lanes in order. */
INLINE float fp_tail(float s, const void *row, bool half, const float *x, int nb, int n)
{
	for (int j = nb; j < n; j++)
		s = fmaf(elem(row, half, (size_t)j), x[j], s);
	return s;
}

/* Values j..j+15 of a row as four 4-lane registers. */
INLINE void ld16(float32x4_t v[4], const void *row, bool half, int j)
{
	if (half) {
		const uint8_t *p = (const uint8_t *)row + (size_t)j * 2;
		float16x8_t h0 = vreinterpretq_f16_u8(vld1q_u8(p)), h1 = vreinterpretq_f16_u8(vld1q_u8(p + 16));
		v[0] = vcvt_f32_f16(vget_low_f16(h0));
		v[1] = vcvt_high_f32_f16(h0);
		v[2] = vcvt_f32_f16(vget_low_f16(h1));
		v[3] = vcvt_high_f32_f16(h1);
		return;
	}
	const float *p = (const float *)row + j;
	for (int q = 0; q < 4; q++)
		v[q] = vld1q_f32(p + 4 * q);
}

/* The 16 lanes folded 8, 4, 2, 1, as the portable version. */
INLINE float fold16(const float32x4_t a[4])
{
	float32x4_t s = vaddq_f32(vaddq_f32(a[0], a[2]), vaddq_f32(a[1], a[3]));
	float32x2_t t = vadd_f32(vget_low_f32(s), vget_high_f32(s));
	return vget_lane_f32(t, 0) + vget_lane_f32(t, 1);
}

/*
 * R rows by P vectors: 16 lanes (four registers) for each. R and P are
 * constants at every call, so the accumulators stay in registers (4 x 1
 * and 2 x 2 take 16 of the 32).
 */
INLINE void fp_tile(float *out, size_t ostride, const float *x, size_t xstride, const void *w, bool half, int n,
		    int R, int P)
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
				xv[p][q] = vld1q_f32(x + (size_t)p * xstride + (size_t)j + 4 * (size_t)q);
		for (int r = 0; r < R; r++) {
			float32x4_t wv[4];
			ld16(wv, row_at(w, half, (size_t)r, n), half, j);
			for (int p = 0; p < P; p++)
				for (int q = 0; q < 4; q++)
					a[r][p][q] = vfmaq_f32(a[r][p][q], wv[q], xv[p][q]);
		}
	}
	for (int r = 0; r < R; r++)
		for (int p = 0; p < P; p++)
			out[(size_t)p * ostride + (size_t)r] = fp_tail(fold16(a[r][p]), row_at(w, half, (size_t)r, n),
								       half, x + (size_t)p * xstride, nb, n);
}

INLINE void fp_batch(float *out, size_t ostride, const float *x, size_t xstride, int np, const void *w, bool half,
		     int n, int d)
{
	int i = 0;
	/* One vector: four rows share each load of x. Several: two rows by two
	 * vectors, each weight load (and conversion) serving both vectors. */
	if (np == 1) {
		for (; i + 4 <= d; i += 4)
			fp_tile(out + i, ostride, x, xstride, row_at(w, half, (size_t)i, n), half, n, 4, 1);
		for (; i < d; i++)
			fp_tile(out + i, ostride, x, xstride, row_at(w, half, (size_t)i, n), half, n, 1, 1);
		return;
	}
	for (; i < d; i += 2) {
		const void *wr = row_at(w, half, (size_t)i, n);
		int p = 0;
		if (i + 2 <= d) {
			for (; p + 2 <= np; p += 2)
				fp_tile(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, wr, half,
					n, 2, 2);
			for (; p < np; p++)
				fp_tile(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, wr, half,
					n, 2, 1);
		} else {
			for (; p < np; p++)
				fp_tile(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, wr, half,
					n, 1, 1);
		}
	}
}

void al_ai_f32_batch_neon(float *out, size_t ostride, const float *x, size_t xstride, int np, const float *w, int n,
			  int d)
{
	fp_batch(out, ostride, x, xstride, np, w, false, n, d);
}

void al_ai_f16_batch_neon(float *out, size_t ostride, const float *x, size_t xstride, int np, const uint8_t *w,
			  int n, int d)
{
	fp_batch(out, ostride, x, xstride, np, w, true, n, d);
}

/* ---- Q8_0 and Q4_0 ---- */

/* A block's 32 weights as signed bytes: lo values 0..15, hi 16..31 (Q4_0:
 * low nibbles, then high nibbles, minus 8). */
INLINE void block_weights(const uint8_t *blk, bool q4, int8x16_t *lo, int8x16_t *hi)
{
	if (q4) {
		uint8x16_t raw = vld1q_u8(blk + 2);
		const int8x16_t eight = vdupq_n_s8(8);
		*lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(15))), eight);
		*hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), eight);
	} else {
		*lo = vld1q_s8((const int8_t *)(blk + 2));
		*hi = vld1q_s8((const int8_t *)(blk + 18));
	}
}

/* A block's exact product as four partial sums (Advanced SIMD). */
INLINE int32x4_t dot32(int8x16_t wl, int8x16_t wh, int8x16_t yl, int8x16_t yh)
{
	int16x8_t a = vmlal_high_s8(vmull_s8(vget_low_s8(wl), vget_low_s8(yl)), wl, yl);
	int16x8_t b = vmlal_high_s8(vmull_s8(vget_low_s8(wh), vget_low_s8(yh)), wh, yh);
	return vpadalq_s16(vpaddlq_s16(a), b);
}

/*
 * The same with SDOT (FEAT_DotProd, optional from Armv8.2-A). Not
 * always_inline: the shared code below calls it, and a function without the
 * instruction cannot take it inline. al_ai_blocks_batch_dotprod, which has
 * the instruction and which quant_arch_aarch64.c picks only where the CPU
 * has it, takes it inline; in al_ai_blocks_batch_neon the call is never made.
 */
#define DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
DOTPROD static inline int32x4_t dot32_sdot(int8x16_t wl, int8x16_t wh, int8x16_t yl, int8x16_t yh)
{
	return vdotq_s32(vdotq_s32(vdupq_n_s32(0), wl, yl), wh, yh);
}

/*
 * Four rows (rp[r], nb blocks each) by P (<= 4, a constant) vectors, lane r
 * of a vector's accumulator for row r; the first `rows` of the four are
 * stored. sdot: the block products by dot32_sdot.
 */
INLINE void blocks_tile(bool q4, bool sdot, int P, float *out, size_t ostride, const int8_t *xq, size_t qstride,
			const float *xs, size_t sstride, const uint8_t *const rp[4], int rows, int nb)
{
	const size_t bs = q4 ? AL_AI_Q4_0_BLOCK : AL_AI_Q8_0_BLOCK;
	float32x4_t acc[4];
	for (int p = 0; p < P; p++)
		acc[p] = vdupq_n_f32(0.0f);
	for (int b = 0; b < nb; b++) {
		size_t o = (size_t)b * bs;
		int8x16_t wl[4], wh[4];
		uint16_t h[4];
		for (int r = 0; r < 4; r++) {
			block_weights(rp[r] + o, q4, &wl[r], &wh[r]);
			memcpy(&h[r], rp[r] + o, 2);
		}
		/* The four rows' d_b, exactly as fp32. */
		float32x4_t dw = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
		for (int p = 0; p < P; p++) {
			const int8_t *y = xq + (size_t)p * qstride + (size_t)b * 32;
			int8x16_t yl = vld1q_s8(y), yh = vld1q_s8(y + 16);
			int32x4_t dr[4];
			for (int r = 0; r < 4; r++)
				dr[r] = sdot ? dot32_sdot(wl[r], wh[r], yl, yh) : dot32(wl[r], wh[r], yl, yh);
			/* Lane r: the sum of dr[r]'s lanes. Integers: exact in any order. */
			int32x4_t s = vpaddq_s32(vpaddq_s32(dr[0], dr[1]), vpaddq_s32(dr[2], dr[3]));
			float32x4_t sc = vmulq_n_f32(dw, xs[(size_t)p * sstride + (size_t)b]);
			acc[p] = vfmaq_f32(acc[p], vcvtq_f32_s32(s), sc);
		}
	}
	for (int p = 0; p < P; p++) {
		float *o = out + (size_t)p * ostride;
		if (rows == 4) {
			vst1q_f32(o, acc[p]);
		} else {
			float v[4];
			vst1q_f32(v, acc[p]);
			memcpy(o, v, (size_t)rows * sizeof(float));
		}
	}
}

/* Rows four at a time (past the end: the last row again, not stored), each
 * group through every vector, four at a time. */
INLINE void blocks_batch(bool q4, bool sdot, float *out, size_t ostride, const int8_t *xq, size_t qstride,
			 const float *xs, size_t sstride, int np, const uint8_t *w, int n, int d)
{
	int nb = n / 32;
	size_t rb = (size_t)nb * (q4 ? AL_AI_Q4_0_BLOCK : AL_AI_Q8_0_BLOCK);
	for (int i = 0; i < d; i += 4) {
		int rows = d - i < 4 ? d - i : 4;
		const uint8_t *rp[4];
		for (int r = 0; r < 4; r++)
			rp[r] = w + (size_t)(i + (r < rows ? r : rows - 1)) * rb;
		for (int p = 0; p < np; p += 4) {
			float *o = out + (size_t)p * ostride + i;
			const int8_t *y = xq + (size_t)p * qstride;
			const float *ys = xs + (size_t)p * sstride;
			switch (np - p < 4 ? np - p : 4) {
			case 1:
				blocks_tile(q4, sdot, 1, o, ostride, y, qstride, ys, sstride, rp, rows, nb);
				break;
			case 2:
				blocks_tile(q4, sdot, 2, o, ostride, y, qstride, ys, sstride, rp, rows, nb);
				break;
			case 3:
				blocks_tile(q4, sdot, 3, o, ostride, y, qstride, ys, sstride, rp, rows, nb);
				break;
			default:
				blocks_tile(q4, sdot, 4, o, ostride, y, qstride, ys, sstride, rp, rows, nb);
				break;
			}
		}
	}
}

void al_ai_blocks_batch_neon(bool q4, float *out, size_t ostride, const int8_t *xq, size_t qstride, const float *xs,
			     size_t sstride, int np, const uint8_t *w, int n, int d)
{
	blocks_batch(q4, false, out, ostride, xq, qstride, xs, sstride, np, w, n, d);
}

DOTPROD __attribute__((flatten)) void al_ai_blocks_batch_dotprod(bool q4, float *out, size_t ostride, const int8_t *xq, size_t qstride,
					const float *xs, size_t sstride, int np, const uint8_t *w, int n, int d)
{
	blocks_batch(q4, true, out, ostride, xq, qstride, xs, sstride, np, w, n, d);
}

/* ---- the activations' Q8_0 quantisation ---- */

/* Four values times inv, rounded as roundf (FCVTAS: to nearest, ties away
 * from zero; NaN to 0, out of range saturated), clamped to [-127, 127]: the
 * portable loop's result. */
INLINE int32x4_t quant4(const float *x, float32x4_t inv)
{
	int32x4_t r = vcvtaq_s32_f32(vmulq_f32(vld1q_f32(x), inv));
	return vminq_s32(vmaxq_s32(r, vdupq_n_s32(-127)), vdupq_n_s32(127));
}

void al_ai_quantize_q8_neon(int8_t *q, float *scales, const float *x, int n, int gs)
{
	for (int g = 0; g < n / gs; g++) {
		const float *xg = x + (size_t)g * (size_t)gs;
		int8_t *qg = q + (size_t)g * (size_t)gs;
		/* The largest |x|: a lane takes a value only if greater, so NaN
		 * never (the portable loop skips it). */
		float32x4_t m = vdupq_n_f32(0.0f);
		for (int i = 0; i < gs; i += 4) {
			float32x4_t a = vabsq_f32(vld1q_f32(xg + i));
			m = vbslq_f32(vcgtq_f32(a, m), a, m);
		}
		float scale = vmaxvq_f32(m) / 127.0f;
		scales[g] = scale;
		float32x4_t inv = vdupq_n_f32(scale != 0.0f ? 1.0f / scale : 0.0f);
		int i = 0;
		for (; i + 16 <= gs; i += 16) {
			int16x8_t lo = vcombine_s16(vmovn_s32(quant4(xg + i, inv)), vmovn_s32(quant4(xg + i + 4, inv)));
			int16x8_t hi = vcombine_s16(vmovn_s32(quant4(xg + i + 8, inv)), vmovn_s32(quant4(xg + i + 12, inv)));
			vst1q_s8(qg + i, vcombine_s8(vmovn_s16(lo), vmovn_s16(hi)));
		}
		for (; i < gs; i += 4) {
			int8x8_t b = vmovn_s16(vcombine_s16(vmovn_s32(quant4(xg + i, inv)), vdup_n_s16(0)));
			int32_t four = vget_lane_s32(vreinterpret_s32_s8(b), 0);
			memcpy(qg + i, &four, 4);
		}
	}
}
