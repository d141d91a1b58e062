/*
 * GGUF kernels. The integer dot product of each 32-value block is exact in
 * both versions; they differ only in how the fp32 block results are summed
 * (the AVX2 version keeps 8 lanes and uses FMA), so their outputs agree to
 * rounding (tested). Each row is computed the same way whatever the thread
 * split, so any thread count gives the same bits on one machine.
 */
#include "workers/ai/quant.h"

#include <math.h>
#include <string.h>

#include "workers/ai/gguf.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define AL_AI_HAVE_AVX2_CODE 1
#endif
#ifdef AL_AI_HAVE_NEON_CODE
#include "workers/ai/quant_neon.h"
#endif

static bool use_avx2, use_avx512, use_neon;

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

/* ---- scalar ---- */

/*
 * F32, every version: lane k (of 16) of a row sums w[j + k] x[j + k] over the
 * multiples j of 16 in order, each step one fused multiply-add (fmaf: one
 * rounding); the lanes are folded pairwise (8, 4, 2, 1), then the n % 16
 * tail is fused in in order. The AVX-512, AVX2 and portable versions
 * therefore give the same bits, and so does the batched product for each
 * of its vectors. (Where the CPU has no FMA, the portable fmaf is slow but
 * exact; x86-64 CPUs with AVX2 have FMA.)
 */
static float f32_row_scalar(const float *row, const float *x, int n)
{
	int nb = n - n % 16;
	float a[16] = { 0 };
	for (int j = 0; j < nb; j += 16)
		for (int k = 0; k < 16; k++)
			a[k] = fmaf(row[j + k], x[j + k], a[k]);
	for (int h = 8; h > 0; h /= 2)
		for (int k = 0; k < h; k++)
			a[k] += a[k + h];
	for (int j = nb; j < n; j++)
		a[0] = fmaf(row[j], x[j], a[0]);
	return a[0];
}

static void f32_batch_scalar(float *out, size_t ostride, const float *x, size_t xstride, int np, const float *w,
			     int n, int d)
{
	for (int i = 0; i < d; i++)
		for (int p = 0; p < np; p++)
			out[(size_t)p * ostride + (size_t)i] =
				f32_row_scalar(w + (size_t)i * (size_t)n, x + (size_t)p * xstride, n);
}

static void f16_scalar(float *out, const float *x, const uint8_t *w, int n, int d)
{
	for (int i = 0; i < d; i++) {
		const uint8_t *row = w + (size_t)i * (size_t)n * 2;
		float acc[8] = { 0 };
		int j = 0;
		for (; j + 8 <= n; j += 8)
			for (int k = 0; k < 8; k++)
				acc[k] += half_at(row + (size_t)(j + k) * 2) * x[j + k];
		for (; j < n; j++)
			acc[0] += half_at(row + (size_t)j * 2) * x[j];
		out[i] = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
	}
}

static void q8_0_scalar(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d)
{
	int nb = n / 32;
	for (int i = 0; i < d; i++) {
		const uint8_t *row = w + (size_t)i * (size_t)nb * AL_AI_Q8_0_BLOCK;
		float val = 0.0f;
		for (int b = 0; b < nb; b++) {
			const uint8_t *blk = row + (size_t)b * AL_AI_Q8_0_BLOCK;
			const int8_t *q = (const int8_t *)(blk + 2), *y = xq + b * 32;
			int32_t s = 0;
			for (int k = 0; k < 32; k++)
				s += (int32_t)q[k] * (int32_t)y[k];
			val += (float)s * (half_at(blk) * xs[b]);
		}
		out[i] = val;
	}
}

static void q4_0_scalar(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d)
{
	int nb = n / 32;
	for (int i = 0; i < d; i++) {
		const uint8_t *row = w + (size_t)i * (size_t)nb * AL_AI_Q4_0_BLOCK;
		float val = 0.0f;
		for (int b = 0; b < nb; b++) {
			const uint8_t *blk = row + (size_t)b * AL_AI_Q4_0_BLOCK, *q = blk + 2;
			const int8_t *y = xq + b * 32;
			int32_t s = 0;
			for (int k = 0; k < 16; k++)
				s += ((int32_t)(q[k] & 15) - 8) * y[k] + ((int32_t)(q[k] >> 4) - 8) * y[k + 16];
			val += (float)s * (half_at(blk) * xs[b]);
		}
		out[i] = val;
	}
}

/* ---- AVX2 ---- */

#ifdef AL_AI_HAVE_AVX2_CODE
#define AVX2 __attribute__((target("avx2,fma,f16c")))

/* F16C: one instruction, where the scalar path calls al_gguf_half(). */
AVX2 static inline float half_f16c(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return _cvtsh_ss(h);
}

AVX2 static inline float hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

AVX2 static void f16_avx2(float *out, const float *x, const uint8_t *w, int n, int d)
{
	for (int i = 0; i < d; i++) {
		const uint8_t *row = w + (size_t)i * (size_t)n * 2;
		__m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
		int j = 0;
		for (; j + 16 <= n; j += 16) {
			__m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + (size_t)j * 2)));
			__m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + (size_t)j * 2 + 16)));
			a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + j), a0);
			a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + j + 8), a1);
		}
		float s = hsum8(_mm256_add_ps(a0, a1));
		for (; j < n; j++)
			s += half_at(row + (size_t)j * 2) * x[j];
		out[i] = s;
	}
}

/* Sum of the 32 int8 products of a and b, as 8 int32 lanes converted to float. */
AVX2 static inline __m256 dot32(__m256i a, __m256i b)
{
	/* maddubs wants unsigned x signed: move a's sign onto b. |a| <= 128 and
	 * |b| <= 127, so a pair sums to at most 32512: no 16-bit saturation. */
	__m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
	return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

/*
 * Q4_0 without moving signs: the nibbles q (0..15) are unsigned already, so
 * maddubs takes them as they are and sum((q - 8) y) = sum(q y) - 8 sum(y),
 * with the second term computed once per block for all rows. Both sums are
 * exact in int32 (no 16-bit saturation: 2 * 15 * 127), so each lane equals
 * the signed product's lane bit for bit.
 */
AVX2 static inline __m256i q4_0_nibbles(const uint8_t *qs)
{
	__m128i raw = _mm_loadu_si128((const __m128i *)qs);
	__m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(raw), _mm_srli_epi16(raw, 4), 1);
	return _mm256_and_si256(q, _mm256_set1_epi8(15));
}

AVX2 static inline __m256i madd_u8s8(__m256i u, __m256i s)
{
	return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* One block of a row: exact integer lanes (c is 8 * sum(y) per lane for Q4_0), as float. */
AVX2 static inline __m256 block_dot(const uint8_t *blk, __m256i y, __m256i c, bool q4)
{
	if (q4)
		return _mm256_cvtepi32_ps(_mm256_sub_epi32(madd_u8s8(q4_0_nibbles(blk + 2), y), c));
	return dot32(_mm256_loadu_si256((const __m256i *)(blk + 2)), y);
}

/*
 * Four rows at a time share each load of the activations, and their four
 * FMA chains run side by side. Every row is summed the same way in both
 * loops (one accumulator, blocks in order), so the split of rows between
 * threads never changes a bit.
 */
AVX2 static inline void blocks_avx2(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d,
				    size_t bs, bool q4)
{
	int nb = n / 32, i = 0;
	size_t rb = (size_t)nb * bs;
	const __m256i eight = _mm256_set1_epi8(8);
	for (; i + 4 <= d; i += 4) {
		const uint8_t *r0 = w + (size_t)i * rb, *r1 = r0 + rb, *r2 = r1 + rb, *r3 = r2 + rb;
		__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
		for (int b = 0; b < nb; b++) {
			size_t o = (size_t)b * bs;
			__m256i y = _mm256_loadu_si256((const __m256i *)(xq + b * 32));
			__m256i c = q4 ? madd_u8s8(eight, y) : y;
			float s = xs[b];
			a0 = _mm256_fmadd_ps(_mm256_set1_ps(half_f16c(r0 + o) * s), block_dot(r0 + o, y, c, q4), a0);
			a1 = _mm256_fmadd_ps(_mm256_set1_ps(half_f16c(r1 + o) * s), block_dot(r1 + o, y, c, q4), a1);
			a2 = _mm256_fmadd_ps(_mm256_set1_ps(half_f16c(r2 + o) * s), block_dot(r2 + o, y, c, q4), a2);
			a3 = _mm256_fmadd_ps(_mm256_set1_ps(half_f16c(r3 + o) * s), block_dot(r3 + o, y, c, q4), a3);
		}
		out[i] = hsum8(a0);
		out[i + 1] = hsum8(a1);
		out[i + 2] = hsum8(a2);
		out[i + 3] = hsum8(a3);
	}
	for (; i < d; i++) {
		const uint8_t *r = w + (size_t)i * rb;
		__m256 a = _mm256_setzero_ps();
		for (int b = 0; b < nb; b++) {
			size_t o = (size_t)b * bs;
			__m256i y = _mm256_loadu_si256((const __m256i *)(xq + b * 32));
			__m256i c = q4 ? madd_u8s8(eight, y) : y;
			a = _mm256_fmadd_ps(_mm256_set1_ps(half_f16c(r + o) * xs[b]), block_dot(r + o, y, c, q4), a);
		}
		out[i] = hsum8(a);
	}
}

AVX2 static void q8_0_avx2(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d)
{
	blocks_avx2(out, xq, xs, w, n, d, AL_AI_Q8_0_BLOCK, false);
}

AVX2 static void q4_0_avx2(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d)
{
	blocks_avx2(out, xq, xs, w, n, d, AL_AI_Q4_0_BLOCK, true);
}

/*
 * Batched forms: one row with P (<= 4, a constant at each call) vectors,
 * the row's conversion (F16) or block decoding (Q8_0 signs, Q4_0 nibbles)
 * done once for all of them. Each vector's result is computed by exactly
 * the single kernel's operations, so it has the same bits.
 */
AVX2 static inline __attribute__((always_inline)) void f16_row_batch(float *out, size_t ostride, const float *x,
								      size_t xstride, const uint8_t *row, int n,
								      int P)
{
	__m256 a0[4], a1[4];
	int j = 0;
	for (int p = 0; p < P; p++)
		a0[p] = a1[p] = _mm256_setzero_ps();
	for (; j + 16 <= n; j += 16) {
		__m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + (size_t)j * 2)));
		__m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + (size_t)j * 2 + 16)));
		for (int p = 0; p < P; p++) {
			a0[p] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + (size_t)p * xstride + j), a0[p]);
			a1[p] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + (size_t)p * xstride + j + 8), a1[p]);
		}
	}
	for (int p = 0; p < P; p++) {
		const float *xp = x + (size_t)p * xstride;
		float s = hsum8(_mm256_add_ps(a0[p], a1[p]));
		for (int k = j; k < n; k++)
			s += half_at(row + (size_t)k * 2) * xp[k];
		out[(size_t)p * ostride] = s;
	}
}

AVX2 static void f16_batch_avx2(float *out, size_t ostride, const float *x, size_t xstride, int np,
				const uint8_t *w, int n, int d)
{
	for (int i = 0; i < d; i++) {
		const uint8_t *row = w + (size_t)i * (size_t)n * 2;
		int p = 0;
		for (; p + 4 <= np; p += 4)
			f16_row_batch(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, row, n, 4);
		for (; p < np; p++)
			f16_row_batch(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, row, n, 1);
	}
}

AVX2 static inline __attribute__((always_inline)) void blocks_row_batch(float *out, size_t ostride,
									 const int8_t *xq, size_t qstride,
									 const float *xs, size_t sstride,
									 const uint8_t *row, int nb, size_t bs,
									 bool q4, int P)
{
	const __m256i eight = _mm256_set1_epi8(8);
	__m256 a[4];
	for (int p = 0; p < P; p++)
		a[p] = _mm256_setzero_ps();
	for (int b = 0; b < nb; b++) {
		const uint8_t *blk = row + (size_t)b * bs;
		float dd = half_f16c(blk);
		__m256i wq = q4 ? q4_0_nibbles(blk + 2) : _mm256_loadu_si256((const __m256i *)(blk + 2));
		__m256i ua = q4 ? wq : _mm256_sign_epi8(wq, wq);
		for (int p = 0; p < P; p++) {
			__m256i y = _mm256_loadu_si256((const __m256i *)(xq + (size_t)p * qstride + (size_t)b * 32));
			__m256 dot;
			if (q4)
				dot = _mm256_cvtepi32_ps(_mm256_sub_epi32(madd_u8s8(ua, y), madd_u8s8(eight, y)));
			else
				dot = _mm256_cvtepi32_ps(
					_mm256_madd_epi16(_mm256_maddubs_epi16(ua, _mm256_sign_epi8(y, wq)),
							  _mm256_set1_epi16(1)));
			a[p] = _mm256_fmadd_ps(_mm256_set1_ps(dd * xs[(size_t)p * sstride + (size_t)b]), dot, a[p]);
		}
	}
	for (int p = 0; p < P; p++)
		out[(size_t)p * ostride] = hsum8(a[p]);
}

AVX2 static void blocks_batch_avx2(float *out, size_t ostride, const int8_t *xq, size_t qstride, const float *xs,
				   size_t sstride, int np, const uint8_t *w, int n, int d, bool q4)
{
	size_t bs = q4 ? AL_AI_Q4_0_BLOCK : AL_AI_Q8_0_BLOCK, rb = (size_t)(n / 32) * bs;
	for (int i = 0; i < d; i++) {
		const uint8_t *row = w + (size_t)i * rb;
		int p = 0;
		for (; p + 4 <= np; p += 4)
			blocks_row_batch(out + (size_t)p * ostride + i, ostride, xq + (size_t)p * qstride, qstride,
					 xs + (size_t)p * sstride, sstride, row, n / 32, bs, q4, 4);
		for (; p < np; p++)
			blocks_row_batch(out + (size_t)p * ostride + i, ostride, xq + (size_t)p * qstride, qstride,
					 xs + (size_t)p * sstride, sstride, row, n / 32, bs, q4, 1);
	}
}

/* The n % 16 tail of one row and vector, fused into the folded lanes in order. */
AVX2 static inline float f32_tail(float s, const float *row, const float *x, int nb, int n)
{
	for (int j = nb; j < n; j++)
		s = fmaf(row[j], x[j], s);
	return s;
}

/* Lanes 0..7 folded 4, 2, 1: the last three steps of the F32 fold. */
AVX2 static inline float fold8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/*
 * R rows by P vectors, AVX2: two 8-lane halves per 16-lane accumulator. R and
 * P are constants at every call, so the accumulators stay in registers.
 */
AVX2 static inline __attribute__((always_inline)) void f32_tile_avx2(float *out, size_t ostride, const float *x,
								      size_t xstride, const float *w, int n, int R,
								      int P)
{
	__m256 lo[4][4], hi[4][4];
	int nb = n - n % 16;
	for (int r = 0; r < R; r++)
		for (int p = 0; p < P; p++)
			lo[r][p] = hi[r][p] = _mm256_setzero_ps();
	for (int j = 0; j < nb; j += 16) {
		__m256 xl[4], xh[4];
		for (int p = 0; p < P; p++) {
			xl[p] = _mm256_loadu_ps(x + (size_t)p * xstride + j);
			xh[p] = _mm256_loadu_ps(x + (size_t)p * xstride + j + 8);
		}
		for (int r = 0; r < R; r++) {
			__m256 wl = _mm256_loadu_ps(w + (size_t)r * (size_t)n + j);
			__m256 wh = _mm256_loadu_ps(w + (size_t)r * (size_t)n + j + 8);
			for (int p = 0; p < P; p++) {
				lo[r][p] = _mm256_fmadd_ps(wl, xl[p], lo[r][p]);
				hi[r][p] = _mm256_fmadd_ps(wh, xh[p], hi[r][p]);
			}
		}
	}
	for (int r = 0; r < R; r++)
		for (int p = 0; p < P; p++)
			out[(size_t)p * ostride + (size_t)r] =
				f32_tail(fold8(_mm256_add_ps(lo[r][p], hi[r][p])), w + (size_t)r * (size_t)n,
					 x + (size_t)p * xstride, nb, n);
}

AVX2 static void f32_batch_avx2(float *out, size_t ostride, const float *x, size_t xstride, int np, const float *w,
				int n, int d)
{
	int i = 0;
	/* One vector: four rows share each load of x. Several: two rows by two
	 * vectors, each weight load serving both vectors. */
	if (np == 1) {
		for (; i + 4 <= d; i += 4)
			f32_tile_avx2(out + i, ostride, x, xstride, w + (size_t)i * (size_t)n, n, 4, 1);
		for (; i < d; i++)
			f32_tile_avx2(out + i, ostride, x, xstride, w + (size_t)i * (size_t)n, n, 1, 1);
		return;
	}
	for (; i < d; i += 2) {
		const float *wr = w + (size_t)i * (size_t)n;
		int p = 0;
		if (i + 2 <= d) {
			for (; p + 2 <= np; p += 2)
				f32_tile_avx2(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, wr,
					      n, 2, 2);
			for (; p < np; p++)
				f32_tile_avx2(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, wr,
					      n, 2, 1);
		} else {
			for (; p < np; p++)
				f32_tile_avx2(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, wr,
					      n, 1, 1);
		}
	}
}

#define AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))

/* R rows by P vectors, AVX-512: one 16-lane accumulator each. */
AVX512 static inline __attribute__((always_inline)) void f32_tile_avx512(float *out, size_t ostride, const float *x,
									  size_t xstride, const float *w, int n,
									  int R, int P)
{
	__m512 a[4][4];
	int nb = n - n % 16;
	for (int r = 0; r < R; r++)
		for (int p = 0; p < P; p++)
			a[r][p] = _mm512_setzero_ps();
	for (int j = 0; j < nb; j += 16) {
		__m512 xv[4];
		for (int p = 0; p < P; p++)
			xv[p] = _mm512_loadu_ps(x + (size_t)p * xstride + j);
		for (int r = 0; r < R; r++) {
			__m512 wv = _mm512_loadu_ps(w + (size_t)r * (size_t)n + j);
			for (int p = 0; p < P; p++)
				a[r][p] = _mm512_fmadd_ps(wv, xv[p], a[r][p]);
		}
	}
	for (int r = 0; r < R; r++)
		for (int p = 0; p < P; p++) {
			__m256 v = _mm256_add_ps(_mm512_castps512_ps256(a[r][p]),
						 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a[r][p]), 1)));
			out[(size_t)p * ostride + (size_t)r] =
				f32_tail(fold8(v), w + (size_t)r * (size_t)n, x + (size_t)p * xstride, nb, n);
		}
}

/* One vector: four rows per pass. Several: four rows by four vectors, the
 * four rows (in L1) reused for every group of vectors. */
AVX512 static void f32_batch_avx512(float *out, size_t ostride, const float *x, size_t xstride, int np,
				    const float *w, int n, int d)
{
	int i = 0;
	for (; i + 4 <= d; i += 4) {
		const float *wr = w + (size_t)i * (size_t)n;
		int p = 0;
		for (; p + 4 <= np; p += 4)
			f32_tile_avx512(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, wr, n,
					4, 4);
		for (; p < np; p++)
			f32_tile_avx512(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, wr, n,
					4, 1);
	}
	for (; i < d; i++)
		for (int p = 0; p < np; p++)
			f32_tile_avx512(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride,
					w + (size_t)i * (size_t)n, n, 1, 1);
}
#endif

void al_ai_quant_init(bool force_scalar)
{
	use_avx2 = false;
	use_avx512 = false;
	use_neon = false;
#ifdef AL_AI_HAVE_NEON_CODE
	use_neon = !force_scalar && al_ai_neon_usable();
#endif
#ifdef AL_AI_HAVE_AVX2_CODE
	unsigned a, b, c, d;
	__builtin_cpu_init();
	/* F16C from CPUID leaf 1 (not every compiler's builtin knows the name);
	 * avx2 from the builtin, which also checks that the OS saves YMM state. */
	bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
	use_avx2 = !force_scalar && f16c && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	use_avx512 = use_avx2 && __builtin_cpu_supports("avx512f");
#else
	(void)force_scalar;
#endif
}

bool al_ai_quant_use(const char *kernels)
{
	al_ai_quant_init(false);
	if (strcmp(kernels, "scalar") == 0) {
		use_avx2 = use_avx512 = use_neon = false;
		return true;
	}
	if (strcmp(kernels, "avx2") == 0 && use_avx2) {
		use_avx512 = false;
		return true;
	}
	return strcmp(kernels, al_ai_quant_kernels()) == 0;
}

const char *al_ai_quant_kernels(void)
{
	return use_avx512 ? "avx512" : use_avx2 ? "avx2" : use_neon ? "neon" : "scalar";
}

void al_ai_matmul_f32(float *out, const float *x, const float *w, int n, int d)
{
	al_ai_matmul_f32_batch(out, 0, x, 0, 1, w, n, d);
}

void al_ai_matmul_f32_batch(float *out, size_t ostride, const float *x, size_t xstride, int np, const float *w,
			    int n, int d)
{
#ifdef AL_AI_HAVE_AVX2_CODE
	if (use_avx512) {
		f32_batch_avx512(out, ostride, x, xstride, np, w, n, d);
		return;
	}
	if (use_avx2) {
		f32_batch_avx2(out, ostride, x, xstride, np, w, n, d);
		return;
	}
#endif
#ifdef AL_AI_HAVE_NEON_CODE
	if (use_neon) {
		al_ai_neon_f32_batch(out, ostride, x, xstride, np, w, n, d);
		return;
	}
#endif
	f32_batch_scalar(out, ostride, x, xstride, np, w, n, d);
}

void al_ai_matmul_f16(float *out, const float *x, const uint8_t *w, int n, int d)
{
#ifdef AL_AI_HAVE_AVX2_CODE
	if (use_avx2) {
		f16_avx2(out, x, w, n, d);
		return;
	}
#endif
#ifdef AL_AI_HAVE_NEON_CODE
	if (use_neon) {
		al_ai_neon_f16(out, x, w, n, d);
		return;
	}
#endif
	f16_scalar(out, x, w, n, d);
}

void al_ai_matmul_q8_0(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d)
{
#ifdef AL_AI_HAVE_AVX2_CODE
	if (use_avx2) {
		q8_0_avx2(out, xq, xs, w, n, d);
		return;
	}
#endif
#ifdef AL_AI_HAVE_NEON_CODE
	if (use_neon) {
		al_ai_neon_q8_0(out, xq, xs, w, n, d);
		return;
	}
#endif
	q8_0_scalar(out, xq, xs, w, n, d);
}

void al_ai_matmul_q4_0(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d)
{
#ifdef AL_AI_HAVE_AVX2_CODE
	if (use_avx2) {
		q4_0_avx2(out, xq, xs, w, n, d);
		return;
	}
#endif
#ifdef AL_AI_HAVE_NEON_CODE
	if (use_neon) {
		al_ai_neon_q4_0(out, xq, xs, w, n, d);
		return;
	}
#endif
	q4_0_scalar(out, xq, xs, w, n, d);
}

void al_ai_matmul_f16_batch(float *out, size_t ostride, const float *x, size_t xstride, int np, const uint8_t *w,
			    int n, int d)
{
#ifdef AL_AI_HAVE_AVX2_CODE
	if (use_avx2) {
		f16_batch_avx2(out, ostride, x, xstride, np, w, n, d);
		return;
	}
#endif
#ifdef AL_AI_HAVE_NEON_CODE
	if (use_neon) {
		al_ai_neon_f16_batch(out, ostride, x, xstride, np, w, n, d);
		return;
	}
#endif
	/* One row at a time (in L1) for every vector. */
	for (int i = 0; i < d; i++)
		for (int p = 0; p < np; p++)
			f16_scalar(out + (size_t)p * ostride + i, x + (size_t)p * xstride, w + (size_t)i * (size_t)n * 2,
				   n, 1);
}

void al_ai_matmul_blocks_batch(enum al_ai_wtype type, float *out, size_t ostride, const int8_t *xq, size_t qstride,
			       const float *xs, size_t sstride, int np, const uint8_t *w, int n, int d)
{
	bool q4 = type == AL_AI_W_Q4_0;
#ifdef AL_AI_HAVE_AVX2_CODE
	if (use_avx2) {
		blocks_batch_avx2(out, ostride, xq, qstride, xs, sstride, np, w, n, d, q4);
		return;
	}
#endif
#ifdef AL_AI_HAVE_NEON_CODE
	if (use_neon) {
		al_ai_neon_blocks_batch(out, ostride, xq, qstride, xs, sstride, np, w, n, d, q4);
		return;
	}
#endif
	size_t rb = al_ai_row_bytes(type, n);
	for (int i = 0; i < d; i++)
		for (int p = 0; p < np; p++) {
			float *o = out + (size_t)p * ostride + i;
			const int8_t *y = xq + (size_t)p * qstride;
			const float *ys = xs + (size_t)p * sstride;
			if (q4)
				q4_0_scalar(o, y, ys, w + (size_t)i * rb, n, 1);
			else
				q8_0_scalar(o, y, ys, w + (size_t)i * rb, n, 1);
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
