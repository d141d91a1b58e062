/*
 * The x86-64 kernels (AVX2 + FMA + F16C; AVX-512 F/BW/VL, with VNNI for the
 * block types), each giving the bits of quant.c's portable version.
 *
 * F32 and F16 keep each row's 16 lanes as one 16-lane accumulator (two
 * 8-lane halves in AVX2) and fold them as the portable version does; tiles
 * of rows by vectors share every load.
 *
 * Q8_0 and Q4_0 need each block's exact integer dot product, scaled and
 * fused into the row's value block after block. With AVX-512 VNNI the 16
 * lanes of a vector are 16 rows: a tile of 16 rows' blocks is transposed in
 * registers so that lane r of t[g] holds bytes 4g..4g+3 of row r's block,
 * and one vpdpbusd per 4 values multiplies it with 4 activations broadcast
 * to every lane. vpdpbusd takes unsigned bytes times signed: the Q8_0
 * weights go in as q + 128 and the Q4_0 nibbles as they are, and the
 * excess (128 or 8 times the activations' block sum, computed once per
 * call) is subtracted. No step rounds, so each lane ends with the exact
 * dot product, then converted and fused in as the portable version does.
 * The transposed tile serves up to 8 vectors; the 16 rows of a tile are
 * taken from 16 bands of the matrix, so each lane reads one run of memory
 * (blocks_pass_vnni). AVX2 (no VNNI) computes a
 * block for 8 rows with maddubs (signs moved onto the activations, so no
 * 16-bit sum saturates) and adds each row's lanes up across 8 rows at once.
 */
#include "workers/ai/quant_x86.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workers/ai/quant.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define AMX __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline))

/*
 * AMX-TILE and AMX-INT8 (CPUID 7.0 EDX bits 24, 25), the tile state enabled
 * by the OS (XCR0 bits 17, 18), and this process allowed to use it: Linux
 * asks for that once (arch_prctl ARCH_REQ_XCOMP_PERM), here, during setup,
 * before the worker's seccomp filter forbids the call.
 */
static bool amx_usable(void)
{
	unsigned a, b, c, d, lo, hi;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return false;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 25)))
		return false;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((lo & (3u << 17)) != (3u << 17))
		return false;
	/* ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA (arch/x86/include/uapi/asm/prctl.h) */
	return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
}

void al_ai_x86_caps(struct al_ai_x86_caps *c)
{
	unsigned a, b, cx, dx;
	__builtin_cpu_init();
	/* F16C from CPUID leaf 1 (not every compiler's builtin knows the name);
	 * the rest from the builtin, which also checks that the OS saves the
	 * YMM and ZMM state. */
	bool f16c = __get_cpuid(1, &a, &b, &cx, &dx) && (cx & bit_F16C);
	c->avx2 = f16c && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	c->avx512 = c->avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		    __builtin_cpu_supports("avx512vl");
	c->vnni = c->avx512 && __builtin_cpu_supports("avx512vnni");
	c->amx = c->vnni && amx_usable();
}

/* ---- F32 and F16 ---- */

/* Element j of a row of floats or halves, as fp32 (F16C: exact). */
AVX2 INLINE float elem(const void *w, bool half, size_t j)
{
	if (!half)
		return ((const float *)w)[j];
	uint16_t h;
	memcpy(&h, (const uint8_t *)w + j * 2, 2);
	return _cvtsh_ss(h);
}

AVX2 INLINE const void *row_at(const void *w, bool half, size_t i, int n)
{
	return (const uint8_t *)w + i * (size_t)n * (half ? 2 : 4);
}

/* The n % 16 tail of one row and vector, fused into the folded lanes in order. */
AVX2 INLINE float fp_tail(float s, const void *row, bool half, const float *x, int nb, int n)
{
	for (int j = nb; j < n; j++)
		s = fmaf(elem(row, half, (size_t)j), x[j], s);
	return s;
}

/* Lanes 0..7 folded 4, 2, 1: the last three steps of the fold. */
AVX2 INLINE float fold8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

AVX2 INLINE __m256 ld8(const void *row, bool half, int j)
{
	if (half)
		return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint8_t *)row + (size_t)j * 2)));
	return _mm256_loadu_ps((const float *)row + j);
}

/*
 * R rows by P vectors, AVX2: two 8-lane halves per 16-lane accumulator. R and
 * P are constants at every call, so the accumulators stay in registers.
 */
AVX2 INLINE void fp_tile_avx2(float *out, size_t ostride, const float *x, size_t xstride, const void *w, bool half,
			      int n, int R, int P)
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
			const void *row = row_at(w, half, (size_t)r, n);
			__m256 wl = ld8(row, half, j), wh = ld8(row, half, j + 8);
			for (int p = 0; p < P; p++) {
				lo[r][p] = _mm256_fmadd_ps(wl, xl[p], lo[r][p]);
				hi[r][p] = _mm256_fmadd_ps(wh, xh[p], hi[r][p]);
			}
		}
	}
	for (int r = 0; r < R; r++)
		for (int p = 0; p < P; p++)
			out[(size_t)p * ostride + (size_t)r] =
				fp_tail(fold8(_mm256_add_ps(lo[r][p], hi[r][p])), row_at(w, half, (size_t)r, n), half,
					x + (size_t)p * xstride, nb, n);
}

AVX2 INLINE void fp_batch_avx2(float *out, size_t ostride, const float *x, size_t xstride, int np, const void *w,
			       bool half, int n, int d)
{
	int i = 0;
	/* One vector: four rows share each load of x. Several: two rows by two
	 * vectors, each weight load serving both vectors. */
	if (np == 1) {
		for (; i + 4 <= d; i += 4)
			fp_tile_avx2(out + i, ostride, x, xstride, row_at(w, half, (size_t)i, n), half, n, 4, 1);
		for (; i < d; i++)
			fp_tile_avx2(out + i, ostride, x, xstride, row_at(w, half, (size_t)i, n), half, n, 1, 1);
		return;
	}
	for (; i < d; i += 2) {
		const void *wr = row_at(w, half, (size_t)i, n);
		int p = 0;
		if (i + 2 <= d) {
			for (; p + 2 <= np; p += 2)
				fp_tile_avx2(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, wr,
					     half, n, 2, 2);
			for (; p < np; p++)
				fp_tile_avx2(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, wr,
					     half, n, 2, 1);
		} else {
			for (; p < np; p++)
				fp_tile_avx2(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, wr,
					     half, n, 1, 1);
		}
	}
}

AVX2 void al_ai_f32_batch_avx2(float *out, size_t ostride, const float *x, size_t xstride, int np, const float *w,
			       int n, int d)
{
	fp_batch_avx2(out, ostride, x, xstride, np, w, false, n, d);
}

AVX2 void al_ai_f16_batch_avx2(float *out, size_t ostride, const float *x, size_t xstride, int np,
			       const uint8_t *w, int n, int d)
{
	fp_batch_avx2(out, ostride, x, xstride, np, w, true, n, d);
}

AVX512 INLINE __m512 ld16(const void *row, bool half, int j)
{
	if (half)
		return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint8_t *)row + (size_t)j * 2)));
	return _mm512_loadu_ps((const float *)row + j);
}

/*
 * The 16 accumulators of a 4 x 4 tile (v[4r + p]) folded 8, 4, 2, 1 all at
 * once: lane 4p + r of the result is v[4r + p] folded, each addition the
 * one a single fold makes (lane k plus lane k + 8, then k + 4, k + 2, k + 1).
 */
AVX512 INLINE __m512 fold16x16(const __m512 v[16])
{
	__m512 u[8], q[4];
	for (int a = 0; a < 8; a++) /* halves of 256 bits: v[2a] into lanes 0-7, v[2a + 1] into 8-15 */
		u[a] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * a], v[2 * a + 1], 0x44),
				     _mm512_shuffle_f32x4(v[2 * a], v[2 * a + 1], 0xee));
	for (int b = 0; b < 4; b++) /* 128-bit lane L: v[4b + L] */
		q[b] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2 * b], u[2 * b + 1], 0x88),
				     _mm512_shuffle_f32x4(u[2 * b], u[2 * b + 1], 0xdd));
	__m512 x0 = _mm512_add_ps(_mm512_shuffle_ps(q[0], q[1], 0x44), _mm512_shuffle_ps(q[0], q[1], 0xee));
	__m512 x1 = _mm512_add_ps(_mm512_shuffle_ps(q[2], q[3], 0x44), _mm512_shuffle_ps(q[2], q[3], 0xee));
	return _mm512_add_ps(_mm512_shuffle_ps(x0, x1, 0x88), _mm512_shuffle_ps(x0, x1, 0xdd));
}

#define FP_AHEAD 2048 /* bytes */

/* R rows by P vectors, AVX-512: one 16-lane accumulator each. Row r (and
 * its outputs) rs rows on from row r - 1. */
AVX512 INLINE void fp_tile_avx512(float *out, size_t ostride, const float *x, size_t xstride, const void *w,
				  bool half, int n, int R, int P, size_t rs)
{
	__m512 a[4][4];
	int nb = n - n % 16;
	for (int r = 0; r < R; r++)
		for (int p = 0; p < P; p++)
			a[r][p] = _mm512_setzero_ps();
	for (int j = 0; j < nb; j += 16) {
		__m512 xv[4];
		/* One vector: the rows read from memory, each fetched FP_AHEAD
		 * bytes ahead, a line at a time (see fp_batch_avx512). */
		if (P == 1 && (!half || j % 32 == 0))
			for (int r = 0; r < R; r++)
				_mm_prefetch((const char *)row_at(w, half, (size_t)r * rs, n) + (size_t)j * (half ? 2 : 4) +
						     FP_AHEAD,
					     _MM_HINT_T0);
		for (int p = 0; p < P; p++)
			xv[p] = _mm512_loadu_ps(x + (size_t)p * xstride + j);
		for (int r = 0; r < R; r++) {
			__m512 wv = ld16(row_at(w, half, (size_t)r * rs, n), half, j);
			for (int p = 0; p < P; p++)
				a[r][p] = _mm512_fmadd_ps(wv, xv[p], a[r][p]);
		}
	}
	if (R == 4 && P == 4 && rs == 1) {
		/* The 16 folds together, then each output's tail (if any). */
		__m512 v[16];
		for (int r = 0; r < 4; r++)
			for (int p = 0; p < 4; p++)
				v[4 * r + p] = a[r][p];
		__m512 f = fold16x16(v);
		if (nb == n) {
			_mm_storeu_ps(out, _mm512_castps512_ps128(f));
			_mm_storeu_ps(out + ostride, _mm512_extractf32x4_ps(f, 1));
			_mm_storeu_ps(out + 2 * ostride, _mm512_extractf32x4_ps(f, 2));
			_mm_storeu_ps(out + 3 * ostride, _mm512_extractf32x4_ps(f, 3));
			return;
		}
		float s[16];
		_mm512_storeu_ps(s, f);
		for (int r = 0; r < 4; r++)
			for (int p = 0; p < 4; p++)
				out[(size_t)p * ostride + (size_t)r * rs] = fp_tail(s[4 * p + r], row_at(w, half, (size_t)r * rs, n),
									     half, x + (size_t)p * xstride, nb, n);
		return;
	}
	for (int r = 0; r < R; r++)
		for (int p = 0; p < P; p++) {
			__m256 v = _mm256_add_ps(_mm512_castps512_ps256(a[r][p]),
						 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a[r][p]), 1)));
			out[(size_t)p * ostride + (size_t)r * rs] =
				fp_tail(fold8(v), row_at(w, half, (size_t)r * rs, n), half, x + (size_t)p * xstride, nb, n);
		}
}

/*
 * Two rows by eight vectors, the vectors packed (xp: for each 16 values,
 * the 8 vectors' 16 one after another, so one pointer reaches them all):
 * half the weight loads a product of the 4 x 4 tile. Values [k0, k1) of n
 * (multiples of 16): the 16 accumulators start from acc (zero at k0 = 0)
 * and, before k1 = n, go back there unfolded, the same bits as one pass.
 */
AVX512 INLINE void fp_tile2x8_avx512(float *out, size_t ostride, const float *xp, const void *w, bool half, int n,
				     int k0, int k1, __m512 *acc, bool fetch)
{
	__m512 a[2][8];
	for (int r = 0; r < 2; r++)
		for (int p = 0; p < 8; p++)
			a[r][p] = k0 ? acc[8 * r + p] : _mm512_setzero_ps();
	const void *w1 = row_at(w, half, 1, n);
	/* The same values of the rows four pairs on, fetched while these are
	 * used: rows taken a part at a time are no stream the prefetchers follow. */
	const char *f0 = (const char *)row_at(w, half, 8, n), *f1 = (const char *)row_at(w, half, 9, n);
	size_t es = half ? 2 : 4;
	xp += (size_t)k0 * 8;
	for (int j = k0; j < k1; j += 16, xp += 128) {
		if (fetch) {
			_mm_prefetch(f0 + (size_t)j * es, _MM_HINT_T0);
			_mm_prefetch(f1 + (size_t)j * es, _MM_HINT_T0);
		}
		__m512 w0v = ld16(w, half, j), w1v = ld16(w1, half, j);
		for (int p = 0; p < 8; p++) {
			__m512 xv = _mm512_load_ps(xp + 16 * p);
			a[0][p] = _mm512_fmadd_ps(w0v, xv, a[0][p]);
			a[1][p] = _mm512_fmadd_ps(w1v, xv, a[1][p]);
		}
	}
	if (k1 < n) {
		for (int r = 0; r < 2; r++)
			for (int p = 0; p < 8; p++)
				acc[8 * r + p] = a[r][p];
		return;
	}
	/* v[8 (p % 2) + 4r + p / 2] lands in lane 2p + r: each vector's two rows side by side. */
	__m512 v[16];
	for (int r = 0; r < 2; r++)
		for (int p = 0; p < 8; p++)
			v[8 * (p % 2) + 4 * r + p / 2] = a[r][p];
	__m512 f = fold16x16(v);
	__m128 c[4] = { _mm512_castps512_ps128(f), _mm512_extractf32x4_ps(f, 1), _mm512_extractf32x4_ps(f, 2),
			_mm512_extractf32x4_ps(f, 3) };
	for (int k = 0; k < 4; k++) {
		_mm_storel_pi((__m64 *)(void *)(out + (size_t)(2 * k) * ostride), c[k]);
		_mm_storeh_pi((__m64 *)(void *)(out + (size_t)(2 * k + 1) * ostride), c[k]);
	}
}

/* Packed vectors of up to this length stay in L1 (8 x 1024 floats on the
 * stack); longer ones are packed once per call on the heap and taken FK
 * values at a time. */
#define PACK_L1 1024
#define FK 256

/* 8 vectors from x into xp (see fp_tile2x8_avx512). */
AVX512 INLINE void pack8(float *xp, const float *x, size_t xstride, int n)
{
	for (int j = 0; j < n; j += 16)
		for (int p = 0; p < 8; p++)
			_mm512_store_ps(xp + (size_t)j * 8 + 16 * p, _mm512_loadu_ps(x + (size_t)p * xstride + j));
}

/* Rows [i0, i1) by vectors [p0, p1): four rows by four vectors, then the
 * rows or vectors left over one by one. */
AVX512 INLINE void fp_block_avx512(float *out, size_t ostride, const float *x, size_t xstride, const void *w,
				   bool half, int n, int i0, int i1, int p0, int p1)
{
	int i = i0;
	for (; i + 4 <= i1; i += 4) {
		const void *wr = row_at(w, half, (size_t)i, n);
		int p = p0;
		for (; p + 4 <= p1; p += 4)
			fp_tile_avx512(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, wr,
				       half, n, 4, 4, 1);
		for (; p < p1; p++)
			fp_tile_avx512(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride, wr,
				       half, n, 4, 1, 1);
	}
	for (; i < i1; i++)
		for (int p = p0; p < p1; p++)
			fp_tile_avx512(out + (size_t)p * ostride + i, ostride, x + (size_t)p * xstride, xstride,
				       row_at(w, half, (size_t)i, n), half, n, 1, 1, 1);
}

/*
 * Blocked for the caches: the rows go a slice (small enough for L2) at a
 * time, each slice through every group of 8 vectors, packed, two rows by
 * the eight (in L1: up to FK values of them at a time for long rows, the
 * accumulators kept between); the rest four by four. Each output is one
 * tile's, whatever the blocking.
 */
AVX512 INLINE void fp_batch_avx512(float *out, size_t ostride, const float *x, size_t xstride, int np,
				   const void *w, bool half, int n, int d)
{
	if (np == 1) {
		/* Four rows at a time from four bands of the matrix: each row of
		 * the tile continues where the last one ended, four runs of memory
		 * the prefetchers follow from page to page (see blocks_pass_vnni). */
		int B = d / 4, i = 0;
		for (; B >= 2 && i < B; i++)
			fp_tile_avx512(out + i, 0, x, 0, row_at(w, half, (size_t)i, n), half, n, 4, 1, (size_t)B);
		for (i = B >= 2 ? 4 * B : 0; i < d; i++)
			fp_tile_avx512(out + i, 0, x, 0, row_at(w, half, (size_t)i, n), half, n, 1, 1, 1);
		return;
	}
	size_t rb = (size_t)n * (half ? 2 : 4);
	int slice = (int)(((size_t)512 << 10) / rb) & ~3;
	if (slice < 4)
		slice = 4;
	_Alignas(64) float stackbuf[8 * PACK_L1];
	int groups = np / 8;
	bool pack = groups > 0 && n % 16 == 0, whole = n <= PACK_L1;
	float *heap = NULL;
	__m512 *acc = NULL;
	if (pack && !whole) {
		size_t xs = (size_t)groups * 8 * (size_t)n, as = (size_t)(slice / 2) * 16;
		heap = aligned_alloc(64, (xs + as * 16) * sizeof(float));
		pack = heap != NULL; /* without memory, unpacked */
		for (int g = 0; pack && g < groups; g++)
			pack8(heap + (size_t)g * 8 * (size_t)n, x + (size_t)g * 8 * xstride, xstride, n);
		acc = pack ? (__m512 *)(void *)(heap + xs) : NULL;
	}
	for (int i0 = 0; i0 < d; i0 += slice) {
		int i1 = d - i0 < slice ? d : i0 + slice;
		for (int p0 = 0; p0 < np; p0 += 8) {
			int p1 = np - p0 < 8 ? np : p0 + 8, i = i0;
			if (pack && p1 - p0 == 8) {
				const float *xp = whole ? stackbuf : heap + (size_t)p0 * (size_t)n;
				if (whole)
					pack8(stackbuf, x + (size_t)p0 * xstride, xstride, n);
				int fk = whole ? n : FK;
				for (int k0 = 0; k0 < n; k0 += fk)
					for (i = i0; i + 2 <= i1; i += 2)
						fp_tile2x8_avx512(out + (size_t)p0 * ostride + i, ostride, xp,
								  row_at(w, half, (size_t)i, n), half, n, k0,
								  n - k0 < fk ? n : k0 + fk,
								  acc ? acc + (size_t)(i - i0) * 8 : NULL, !whole && i + 10 <= d);
			}
			fp_block_avx512(out, ostride, x, xstride, w, half, n, i, i1, p0, p1);
		}
	}
	free(heap);
}

AVX512 void al_ai_f32_batch_avx512(float *out, size_t ostride, const float *x, size_t xstride, int np,
				   const float *w, int n, int d)
{
	fp_batch_avx512(out, ostride, x, xstride, np, w, false, n, d);
}

AVX512 void al_ai_f16_batch_avx512(float *out, size_t ostride, const float *x, size_t xstride, int np,
				   const uint8_t *w, int n, int d)
{
	fp_batch_avx512(out, ostride, x, xstride, np, w, true, n, d);
}

/* ---- Q8_0 and Q4_0, AVX2 ---- */

#define AHEAD_BYTES 1024 /* how far ahead each lane's run of a block product is fetched */

/* The 8 rows' half scales of a block (row r at base + off[r]) as fp32. */
AVX2 INLINE __m256 scales8(const uint8_t *base, __m256i off)
{
	/* 4 bytes at each block's start (its d and one more block byte). */
	__m256i g = _mm256_i32gather_epi32((const int *)(const void *)base, off, 1);
	const __m256i pick = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5, 8,
					      9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1);
	g = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(g, pick), 0x08);
	return _mm256_cvtph_ps(_mm256_castsi256_si128(g));
}

/* Q4_0: the 16 bytes of nibbles as 32 values 0..15, in order (low nibbles first). */
AVX2 INLINE __m256i nibbles(const uint8_t *qs)
{
	__m128i raw = _mm_loadu_si128((const __m128i *)qs);
	__m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(raw), _mm_srli_epi16(raw, 4), 1);
	return _mm256_and_si256(q, _mm256_set1_epi8(15));
}

/* Lane r of the result: the sum of the 8 lanes of d[r]. Integer, so exact in any order. */
AVX2 INLINE __m256i sum_lanes8(const __m256i d[8])
{
	__m256i h01 = _mm256_hadd_epi32(d[0], d[1]), h23 = _mm256_hadd_epi32(d[2], d[3]);
	__m256i h45 = _mm256_hadd_epi32(d[4], d[5]), h67 = _mm256_hadd_epi32(d[6], d[7]);
	__m256i a = _mm256_hadd_epi32(h01, h23), b = _mm256_hadd_epi32(h45, h67);
	return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

/*
 * Rows [0, d) by P (<= 4, a constant) vectors, 8 rows per pass, in bands
 * as blocks_pass_vnni's 16: row r of pass j is row r B + j (B = d / 8),
 * each lane one run of memory, fetched 1 KiB ahead; the rows left over
 * (and all of them when d < 16) in passes of adjacent rows.
 */
AVX2 INLINE void blocks_pass_avx2(bool q4, int P, float *out, size_t ostride, const int8_t *xq, size_t qstride,
				  const float *xs, size_t sstride, const uint8_t *w, size_t rb, int nb, int d)
{
	const size_t bs = q4 ? AL_AI_Q4_0_BLOCK : AL_AI_Q8_0_BLOCK;
	const __m256i one16 = _mm256_set1_epi16(1), eight = _mm256_set1_epi8(8);
	int B = d / 8;
	bool band = B >= 2 && (size_t)B * 7 * rb <= INT32_MAX;
	int passes = band ? B + (d - 8 * B + 7) / 8 : (d + 7) / 8;
	for (int k = 0; k < passes; k++) {
		/* Pass k: rows r * step + first, r < rows; outputs there too. */
		int first = band && k < B ? k : (band ? 8 * B : 0) + 8 * (k - (band ? B : 0));
		int step = band && k < B ? B : 1, rows = step > 1 ? 8 : (d - first < 8 ? d - first : 8);
		const uint8_t *rp[8];
		int32_t off[8];
		for (int r = 0; r < 8; r++) {
			int rr = r < rows ? r : rows - 1; /* past the end: the last row again, not stored */
			rp[r] = w + (size_t)(first + rr * step) * rb;
			off[r] = (int32_t)((size_t)(rr * step) * rb);
		}
		__m256i roff = _mm256_loadu_si256((const __m256i *)off);
		__m256 acc[4];
		for (int p = 0; p < P; p++)
			acc[p] = _mm256_setzero_ps();
		for (int b = 0; b < nb; b++) {
			size_t o = (size_t)b * bs;
			if (b % (q4 ? 3 : 2) == 0)
				for (int r = 0; r < 8; r++)
					_mm_prefetch((const char *)(rp[r] + o) + AHEAD_BYTES, _MM_HINT_T0);
			__m256 s = scales8(rp[0] + o, roff);
			for (int p = 0; p < P; p++) {
				__m256i y = _mm256_loadu_si256((const __m256i *)(xq + (size_t)p * qstride + (size_t)b * 32));
				__m256i c = q4 ? _mm256_madd_epi16(_mm256_maddubs_epi16(eight, y), one16) : y;
				__m256i dr[8];
				for (int r = 0; r < 8; r++) {
					if (q4) {
						/* sum((q - 8) y) = sum(q y) - 8 sum(y): nibbles are unsigned. */
						__m256i m = _mm256_maddubs_epi16(nibbles(rp[r] + o + 2), y);
						dr[r] = _mm256_sub_epi32(_mm256_madd_epi16(m, one16), c);
					} else {
						/* |q| <= 128 times |y| <= 127: a pair sums to at most 32512. */
						__m256i q = _mm256_loadu_si256((const __m256i *)(rp[r] + o + 2));
						__m256i m = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q));
						dr[r] = _mm256_madd_epi16(m, one16);
					}
				}
				__m256 sc = _mm256_mul_ps(s, _mm256_set1_ps(xs[(size_t)p * sstride + (size_t)b]));
				acc[p] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum_lanes8(dr)), sc, acc[p]);
			}
		}
		for (int p = 0; p < P; p++) {
			_Alignas(32) float v[8];
			_mm256_store_ps(v, acc[p]);
			for (int r = 0; r < rows; r++)
				out[(size_t)p * ostride + (size_t)(first + r * step)] = v[r];
		}
	}
}

AVX2 void al_ai_blocks_batch_avx2(bool q4, float *out, size_t ostride, const int8_t *xq, size_t qstride,
				  const float *xs, size_t sstride, int np, const uint8_t *w, int n, int d)
{
	int nb = n / 32;
	size_t rb = (size_t)nb * (q4 ? AL_AI_Q4_0_BLOCK : AL_AI_Q8_0_BLOCK);
	for (int p = 0; p < np; p += 4) {
		float *o = out + (size_t)p * ostride;
		const int8_t *y = xq + (size_t)p * qstride;
		const float *ys = xs + (size_t)p * sstride;
		switch (np - p < 4 ? np - p : 4) {
		case 1:
			blocks_pass_avx2(q4, 1, o, ostride, y, qstride, ys, sstride, w, rb, nb, d);
			break;
		case 2:
			blocks_pass_avx2(q4, 2, o, ostride, y, qstride, ys, sstride, w, rb, nb, d);
			break;
		case 3:
			blocks_pass_avx2(q4, 3, o, ostride, y, qstride, ys, sstride, w, rb, nb, d);
			break;
		default:
			blocks_pass_avx2(q4, 4, o, ostride, y, qstride, ys, sstride, w, rb, nb, d);
			break;
		}
	}
}

/* ---- Q8_0 and Q4_0, AVX-512 VNNI ---- */

enum { VP = 8, KC = 256 }; /* vectors per pass; blocks per chunk of the activations' sums */

/*
 * 32 bytes at p[r] + o for r = 0..15, transposed by 32-bit words: lane r
 * of t[g] = bytes 4g..4g+3 of row r. The rows go in pairs (r, r + 8) to
 * the two halves of a register, 4 x 4 transposes run within each 128-bit
 * lane, then the lanes are regrouped.
 */
VNNI INLINE void transpose32(const uint8_t *const p[16], size_t o, __m512i t[8])
{
	__m512i r[8], u[8];
	for (int j = 0; j < 8; j++)
		r[j] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(p[j] + o))),
					  _mm256_loadu_si256((const __m256i *)(p[j + 8] + o)), 1);
	for (int h = 0; h < 8; h += 4) {
		__m512i t0 = _mm512_unpacklo_epi32(r[h], r[h + 1]), t1 = _mm512_unpackhi_epi32(r[h], r[h + 1]);
		__m512i t2 = _mm512_unpacklo_epi32(r[h + 2], r[h + 3]), t3 = _mm512_unpackhi_epi32(r[h + 2], r[h + 3]);
		u[h] = _mm512_unpacklo_epi64(t0, t2);
		u[h + 1] = _mm512_unpackhi_epi64(t0, t2);
		u[h + 2] = _mm512_unpacklo_epi64(t1, t3);
		u[h + 3] = _mm512_unpackhi_epi64(t1, t3);
	}
	/* u[k] (rows 0-3 | 8-11) and u[k + 4] (rows 4-7 | 12-15): 128-bit lanes 0
	 * and 2 hold word k, lanes 1 and 3 word k + 4. */
	const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
	const __m512i second = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
	for (int k = 0; k < 4; k++) {
		t[k] = _mm512_permutex2var_epi64(u[k], first, u[k + 4]);
		t[k + 4] = _mm512_permutex2var_epi64(u[k], second, u[k + 4]);
	}
}

/*
 * The tile of 16 rows (row r at rp[r]) at block offset o: t[g] lane r =
 * bytes 4g..4g+3 of row r's 32 values as unsigned bytes (Q8_0: q + 128;
 * Q4_0: the nibbles), s = the rows' scales (gathered at base + off[r] + o).
 */
VNNI INLINE void tile16(bool q4, const uint8_t *const rp[16], __m512i off, size_t o, __m512i t[8], __m512 *s)
{
	__m512i g = _mm512_i32gather_epi32(off, (const void *)(rp[0] + o), 1);
	*s = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g));
	if (q4) {
		/* z[j]'s four 128-bit lanes: rows j, j + 4, j + 8, j + 12; then a
		 * 4 x 4 transpose of 32-bit words within each lane. */
		__m512i z[4];
		for (int j = 0; j < 4; j++) {
			__m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(rp[j] + o + 2)));
			v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(rp[j + 4] + o + 2)), 1);
			v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(rp[j + 8] + o + 2)), 2);
			z[j] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(rp[j + 12] + o + 2)), 3);
		}
		__m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
		__m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
		__m512i v[4] = { _mm512_unpacklo_epi64(t0, t2), _mm512_unpackhi_epi64(t0, t2),
				 _mm512_unpacklo_epi64(t1, t3), _mm512_unpackhi_epi64(t1, t3) };
		const __m512i lo4 = _mm512_set1_epi8(15);
		for (int k = 0; k < 4; k++) {
			t[k] = _mm512_and_si512(v[k], lo4);                          /* values 4k.. */
			t[k + 4] = _mm512_and_si512(_mm512_srli_epi16(v[k], 4), lo4); /* values 16 + 4k.. */
		}
		return;
	}
	transpose32(rp, o + 2, t);
	const __m512i bias = _mm512_set1_epi8((char)0x80);
	for (int k = 0; k < 8; k++)
		t[k] = _mm512_xor_si512(t[k], bias);
}

static inline int32_t ld32(const int8_t *p)
{
	int32_t v;
	memcpy(&v, p, 4);
	return v;
}

/*
 * One tile of 16 rows by P (<= VP, a constant) vectors over blocks [b0, b0 +
 * kb): corr[p * KC + b] is the excess of block b0 + b for vector p. Row r
 * of the tile starts at w + r * S (S a row's bytes, or a band's: see
 * blocks_pass_vnni); the outputs of lane r are at out + oi[r] (+ p *
 * ostride), lanes m only: first, start from 0, else from the values already
 * there (the earlier blocks). side: the lanes' outputs lie side by side at
 * out + oi[0] (one load and store), else apart (a gather and a scatter).
 */
VNNI INLINE void tile_pass_vnni(bool q4, int P, float *out, size_t ostride, __m512i oi, bool side, __mmask16 m,
				const uint8_t *w, size_t S, const int8_t *xq, size_t qstride, const float *xs,
				size_t sstride, const int32_t *corr, int b0, int kb, bool first)
{
	const size_t bs = q4 ? AL_AI_Q4_0_BLOCK : AL_AI_Q8_0_BLOCK;
	const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	/* The scales gathered at 32-bit offsets from row 0 (the caller checks 15 S fits). */
	__m512i roff = _mm512_mullo_epi32(lanes, _mm512_set1_epi32((int)S));
	int o0 = _mm_cvtsi128_si32(_mm512_castsi512_si128(oi));
	/* Rows j, j + 4, j + 8, j + 12 from one base each (c[j], stepped a
	 * block at a time) and two offsets: 16 row pointers would not fit in
	 * registers. */
	const uint8_t *c[4];
	size_t s4 = 4 * S, s12 = 12 * S;
	for (int j = 0; j < 4; j++)
		c[j] = w + (size_t)j * S + (size_t)b0 * bs;
	__m512 acc[VP];
	for (int p = 0; p < P; p++) {
		float *op = out + (size_t)p * ostride;
		acc[p] = first ? _mm512_setzero_ps()
			 : side ? _mm512_maskz_loadu_ps(m, op + o0)
				: _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, oi, op, 4);
	}
	for (int b = 0; b < kb; b++) {
		const uint8_t *rp[16];
		for (int r = 0; r < 16; r++)
			rp[r] = c[r & 3] + (r < 4 ? 0 : r < 8 ? s4 : r < 12 ? 2 * s4 : s12);
		__m512i t[8];
		__m512 s;
		/* Each lane's run fetched 1 KiB ahead, a line per lane every 54
		 * (Q4_0) or 68 bytes (Q8_0): the prefetchers alone stay closer. */
		if (b % (q4 ? 3 : 2) == 0)
			for (int r = 0; r < 16; r++)
				_mm_prefetch((const char *)rp[r] + AHEAD_BYTES, _MM_HINT_T0);
		tile16(q4, rp, roff, 0, t, &s);
		for (int j = 0; j < 4; j++)
			c[j] += bs;
		for (int p = 0; p < P; p++) {
			const int8_t *y = xq + (size_t)p * qstride + (size_t)(b0 + b) * 32;
			__m512i d0 = _mm512_set1_epi32(-corr[p * KC + b]), d1 = _mm512_setzero_si512();
			for (int g = 0; g < 8; g += 2) {
				d0 = _mm512_dpbusd_epi32(d0, t[g], _mm512_set1_epi32(ld32(y + 4 * g)));
				d1 = _mm512_dpbusd_epi32(d1, t[g + 1], _mm512_set1_epi32(ld32(y + 4 * g + 4)));
			}
			__m512 sc = _mm512_mul_ps(s, _mm512_set1_ps(xs[(size_t)p * sstride + (size_t)(b0 + b)]));
			acc[p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(d0, d1)), sc, acc[p]);
		}
	}
	for (int p = 0; p < P; p++) {
		float *op = out + (size_t)p * ostride;
		if (side)
			_mm512_mask_storeu_ps(op + o0, m, acc[p]);
		else
			_mm512_mask_i32scatter_ps(op, m, oi, acc[p], 4);
	}
}

/*
 * Rows [0, d) (d >= 16) by P vectors over blocks [b0, b0 + kb) (see
 * tile_pass_vnni), 16 rows to a tile, in bands: lane r takes rows r * B,
 * r * B + 1, ... (B = d / 16), so that each lane reads one run of memory
 * from start to end. Sixteen adjacent rows read side by side are 16
 * streams within the same few pages, which the hardware prefetchers do not
 * follow (they keep one stream per page): a matrix read from memory came
 * at 45 % (rows of 576 bytes) to 75 % (1152 and more) of the speed of the
 * bands, whose 16 runs in pages of their own they follow. From cache both
 * go as fast. The rows left over (d % 16) take one more tile of adjacent
 * rows, the last 16, of which those not yet done are stored.
 */
VNNI INLINE void blocks_pass_vnni(bool q4, int P, float *out, size_t ostride, const int8_t *xq, size_t qstride,
				  const float *xs, size_t sstride, const int32_t *corr, const uint8_t *w, size_t rb,
				  int b0, int kb, int d, bool first)
{
	const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	int i = 0, B = d / 16;
	if (B >= 2 && (size_t)B * 15 * rb <= INT32_MAX) {
		__m512i oi = _mm512_mullo_epi32(lanes, _mm512_set1_epi32(B));
		for (int j = 0; j < B; j++)
			tile_pass_vnni(q4, P, out, ostride, _mm512_add_epi32(oi, _mm512_set1_epi32(j)), false,
				       (__mmask16)0xffff, w + (size_t)j * rb, (size_t)B * rb, xq, qstride, xs, sstride,
				       corr, b0, kb, first);
		i = 16 * B;
	}
	for (; i + 16 <= d; i += 16)
		tile_pass_vnni(q4, P, out, ostride, _mm512_add_epi32(lanes, _mm512_set1_epi32(i)), true,
			       (__mmask16)0xffff, w + (size_t)i * rb, rb, xq, qstride, xs, sstride, corr, b0, kb, first);
	if (i < d) /* rows d - 16 .. d - 1, the first 16 - (d - i) of them done already */
		tile_pass_vnni(q4, P, out, ostride, _mm512_add_epi32(lanes, _mm512_set1_epi32(d - 16)), true,
			       (__mmask16)(0xffffu << (16 - (d - i))), w + (size_t)(d - 16) * rb, rb, xq, qstride, xs,
			       sstride, corr, b0, kb, first);
}

/* Sum of 32 int8. */
AVX2 INLINE int32_t sum32(const int8_t *y)
{
	__m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), _mm256_loadu_si256((const __m256i *)y)),
				      _mm256_set1_epi16(1));
	__m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
	h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
	h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
	return _mm_cvtsi128_si32(h);
}

VNNI void al_ai_blocks_batch_vnni(bool q4, float *out, size_t ostride, const int8_t *xq, size_t qstride,
				  const float *xs, size_t sstride, int np, const uint8_t *w, int n, int d)
{
	int nb = n / 32;
	size_t rb = (size_t)nb * (q4 ? AL_AI_Q4_0_BLOCK : AL_AI_Q8_0_BLOCK);
	int32_t corr[VP * KC];
	/* Q8_0 in as q + 128: 128 sum(y) too many; Q4_0 nibbles q for q - 8: 8 sum(y). */
	int32_t c = q4 ? 8 : 128;
	if (d < 16) { /* less than a tile: AVX2's eight rows at a time, the same bits */
		al_ai_blocks_batch_avx2(q4, out, ostride, xq, qstride, xs, sstride, np, w, n, d);
		return;
	}
	for (int p0 = 0; p0 < np; p0 += VP) {
		int P = np - p0 < VP ? np - p0 : VP;
		float *o = out + (size_t)p0 * ostride;
		const int8_t *y = xq + (size_t)p0 * qstride;
		const float *ys = xs + (size_t)p0 * sstride;
		for (int b0 = 0; b0 < nb; b0 += KC) {
			int kb = nb - b0 < KC ? nb - b0 : KC;
			bool first = b0 == 0;
			for (int p = 0; p < P; p++)
				for (int b = 0; b < kb; b++)
					corr[p * KC + b] = c * sum32(y + (size_t)p * qstride + (size_t)(b0 + b) * 32);
			/* q4 and P constants in each version of the pass. */
#define PASS(k)                                                                                               \
	case k:                                                                                               \
		if (q4)                                                                                       \
			blocks_pass_vnni(true, k, o, ostride, y, qstride, ys, sstride, corr, w, rb, b0, kb, d, first); \
		else                                                                                          \
			blocks_pass_vnni(false, k, o, ostride, y, qstride, ys, sstride, corr, w, rb, b0, kb, d, first); \
		break
			switch (P) {
				PASS(1);
				PASS(2);
				PASS(3);
				PASS(4);
				PASS(5);
				PASS(6);
				PASS(7);
				PASS(VP);
			}
#undef PASS
		}
	}
}

/* ---- Q8_0 and Q4_0, AMX ---- */

/*
 * AMX multiplies tiles of int8: C (16 x 16 int32) = A (16 rows x 32 bytes)
 * times B (8 rows x 64 bytes, each 4 bytes of a column in a row), exactly.
 * A is one block of 16 weight rows, loaded straight from the matrix (Q8_0)
 * or from the nibbles unpacked to q - 8 (Q4_0, four rows to a register); B
 * is one block of 16 vectors, transposed by words once per call. Each C is
 * the 16 x 16 exact block dot products, scaled and fused in per row as the
 * portable version does, 16 vectors to a register (lanes: vectors), and
 * transposed once at the end so each vector's rows are stored together.
 *
 * The tile unit works beside the vector units: the steps of 16 rows (every
 * vector group, every block) form one stream, a step's product issued AHEAD
 * steps before its sums (its A and B in the other of two pairs of tile
 * registers than the step before) and its C stored two steps later, so the
 * two overlap.
 */
enum { AK = 32, AHEAD = 3 }; /* blocks per chunk of B; steps of tile work ahead of the sums */

struct tilecfg {
	uint8_t palette, start_row, reserved[14];
	uint16_t colsb[16];
	uint8_t rows[16];
};

/* Tiles: A in 0 and 1 (16 x 32 bytes), B in 2 and 7 (8 x 64), C in 3 to 6 (16 x 64). */
AMX INLINE void amx_config(void)
{
	struct tilecfg c;
	memset(&c, 0, sizeof(c));
	c.palette = 1;
	for (int t = 0; t < 8; t++) {
		bool a = t < 2, bt = t == 2 || t == 7;
		c.rows[t] = bt ? 8 : 16;
		c.colsb[t] = a ? 32 : 64;
	}
	_tile_loadconfig(&c);
}

/* v[j] lane k becomes v[k] lane j (16 x 16 floats). */
AVX512 INLINE void transpose16(__m512 v[16])
{
	__m512 t[16];
	for (int i = 0; i < 16; i += 2) {
		t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
		t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
	}
	for (int i = 0; i < 16; i += 4) {
		__m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
		__m512d c = _mm512_castps_pd(t[i + 2]), e = _mm512_castps_pd(t[i + 3]);
		v[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
		v[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
		v[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, e));
		v[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, e));
	}
	/* v[4q + c], 128-bit lane L: element 4L + c of rows 4q..4q+3. */
	__m512 o[16];
	for (int c = 0; c < 4; c++) {
		__m512 a = _mm512_shuffle_f32x4(v[c], v[4 + c], 0x88), b = _mm512_shuffle_f32x4(v[c], v[4 + c], 0xdd);
		__m512 e = _mm512_shuffle_f32x4(v[8 + c], v[12 + c], 0x88);
		__m512 f = _mm512_shuffle_f32x4(v[8 + c], v[12 + c], 0xdd);
		o[c] = _mm512_shuffle_f32x4(a, e, 0x88);
		o[4 + c] = _mm512_shuffle_f32x4(b, f, 0x88);
		o[8 + c] = _mm512_shuffle_f32x4(a, e, 0xdd);
		o[12 + c] = _mm512_shuffle_f32x4(b, f, 0xdd);
	}
	for (int k = 0; k < 16; k++)
		v[k] = o[k];
}

/* Scratch of one call: B and the vectors' scales for 32 vectors, A when
 * unpacked or copied, the rows' scales, the C of the steps in flight. */
struct amx_scratch {
	_Alignas(64) int8_t b[2][AK][512];
	_Alignas(64) float xs[2][AK][16];
	_Alignas(64) int8_t a[AK][16][32];
	_Alignas(64) float ws[16][AK];
	_Alignas(64) int32_t c[AHEAD + 1][16][16];
};

/* Block B of the 16 rows times vector group G into C tile CT (A in tile TA,
 * B in TB). */
#define AMX_PRODUCT(CT, TA, TB, SC, DIRECT, WR, BS, RB, G, B)                    \
	do {                                                                     \
		if (DIRECT)                                                      \
			_tile_loadd(TA, (WR) + (size_t)(B) * (BS) + 2, (long)(RB)); \
		else                                                             \
			_tile_loadd(TA, (SC)->a[B], 32);                         \
		_tile_loadd(TB, (SC)->b[G][B], 64);                              \
		_tile_zero(CT);                                                  \
		_tile_dpbssd(CT, TA, TB);                                        \
	} while (0)

/* The product of step s (tile numbers are immediates: C by s % 4, A and B by s % 2). */
AMX INLINE void amx_product(int s, int g, int b, struct amx_scratch *sc, bool direct, const uint8_t *wr, size_t bs,
			    size_t rb)
{
	switch (s & 3) {
	case 0:
		AMX_PRODUCT(3, 0, 2, sc, direct, wr, bs, rb, g, b);
		break;
	case 1:
		AMX_PRODUCT(4, 1, 7, sc, direct, wr, bs, rb, g, b);
		break;
	case 2:
		AMX_PRODUCT(5, 0, 2, sc, direct, wr, bs, rb, g, b);
		break;
	default:
		AMX_PRODUCT(6, 1, 7, sc, direct, wr, bs, rb, g, b);
		break;
	}
}

/* C of step s to c[s % 4]: issued two steps after its product, whose result
 * a store right after it would wait for, holding up what follows. */
AMX INLINE void amx_store(int s, struct amx_scratch *sc)
{
	switch (s & 3) {
	case 0:
		_tile_stored(3, sc->c[0], 64);
		break;
	case 1:
		_tile_stored(4, sc->c[1], 64);
		break;
	case 2:
		_tile_stored(5, sc->c[2], 64);
		break;
	default:
		_tile_stored(6, sc->c[3], 64);
		break;
	}
}

static const uint8_t zero_block[32];

/* B: vectors [p0, p0 + P) of blocks [b0, b0 + kb) in groups of 16, each
 * block transposed by words; the missing vectors are zeros. */
AMX INLINE void amx_pack_b(struct amx_scratch *sc, const int8_t *xq, size_t qstride, const float *xs,
			   size_t sstride, int p0, int P, int b0, int kb)
{
	for (int g = 0; g < (P + 15) / 16; g++) {
		const uint8_t *vp[16];
		for (int j = 0; j < 16; j++) {
			int p = g * 16 + j;
			vp[j] = p < P ? (const uint8_t *)(xq + (size_t)(p0 + p) * qstride + (size_t)b0 * 32) : zero_block;
			for (int b = 0; b < kb; b++)
				sc->xs[g][b][j] = p < P ? xs[(size_t)(p0 + p) * sstride + (size_t)(b0 + b)] : 0.0f;
		}
		for (int b = 0; b < kb; b++) {
			__m512i t[8];
			transpose32(vp, 0, t);
			for (int k = 0; k < 8; k++)
				_mm512_store_si512(sc->b[g][b] + 64 * k, t[k]);
			for (int j = 0; j < 16; j++)
				if (vp[j] != zero_block)
					vp[j] += 32;
		}
	}
}

/* The 16 rows' scales (rows past the last: the last again), 16 blocks of
 * one row at a time: a row's blocks are one run of memory, which this first
 * touch of it brings in for the tile loads. */
AMX INLINE void amx_row_scales(struct amx_scratch *sc, const uint8_t *wr, size_t bs, size_t rb, int rows, int kb)
{
	const __m512i boff = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
						_mm512_set1_epi32((int)bs));
	for (int r = 0; r < 16; r++)
		for (int b = 0; b < kb; b += 16) {
			const uint8_t *rw = wr + (size_t)(r < rows ? r : rows - 1) * rb + (size_t)b * bs;
			__mmask16 bm = (__mmask16)(kb - b >= 16 ? 0xffff : (1u << (kb - b)) - 1);
			__m512i gw = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), bm, boff, (const void *)rw, 1);
			_mm512_store_ps(sc->ws[r] + b, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(gw)));
		}
}

/* A for the tile loads when it is not the matrix itself: Q4_0 nibbles as
 * q - 8, four rows to a register (low nibbles then high nibbles of each
 * row, as the values go); Q8_0 rows copied (fewer than 16 rows left).
 * Rows past the last repeat it (their outputs are not stored). */
AMX INLINE void amx_unpack_a(struct amx_scratch *sc, bool q4, const uint8_t *wr, size_t bs, size_t rb, int rows,
			     int kb)
{
	const __m512i lo4 = _mm512_set1_epi8(15), eight = _mm512_set1_epi8(8);
	const __m512i rows01 = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
	const __m512i rows23 = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
	const uint8_t *rp[16];
	for (int r = 0; r < 16; r++)
		rp[r] = wr + (size_t)(r < rows ? r : rows - 1) * rb + 2;
	for (int b = 0; b < kb; b++) {
		size_t o = (size_t)b * bs;
		if (!q4) {
			for (int r = 0; r < 16; r++)
				_mm256_store_si256((__m256i *)(void *)sc->a[b][r],
						   _mm256_loadu_si256((const __m256i *)(const void *)(rp[r] + o)));
			continue;
		}
		for (int r = 0; r < 16; r += 4) {
			__m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(const void *)(rp[r] + o)));
			v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)(rp[r + 1] + o)), 1);
			v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)(rp[r + 2] + o)), 2);
			v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)(rp[r + 3] + o)), 3);
			__m512i lo = _mm512_sub_epi8(_mm512_and_si512(v, lo4), eight);
			__m512i hi = _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(v, 4), lo4), eight);
			_mm512_store_si512(sc->a[b][r], _mm512_permutex2var_epi64(lo, rows01, hi));
			_mm512_store_si512(sc->a[b][r + 2], _mm512_permutex2var_epi64(lo, rows23, hi));
		}
	}
}

AMX void al_ai_blocks_batch_amx(bool q4, float *out, size_t ostride, const int8_t *xq, size_t qstride,
				const float *xs, size_t sstride, int np, const uint8_t *w, int n, int d)
{
	const int nb = n / 32;
	const size_t bs = q4 ? AL_AI_Q4_0_BLOCK : AL_AI_Q8_0_BLOCK, rb = (size_t)nb * bs;
	struct amx_scratch scratch, *sc = &scratch;
	amx_config();
	for (int p0 = 0; p0 < np; p0 += 32) {
		int P = np - p0 < 32 ? np - p0 : 32, ng = (P + 15) / 16;
		for (int b0 = 0; b0 < nb; b0 += AK) {
			int kb = nb - b0 < AK ? nb - b0 : AK, steps = ng * kb;
			amx_pack_b(sc, xq, qstride, xs, sstride, p0, P, b0, kb);
			for (int i = 0; i < d; i += 16) {
				int rows = d - i < 16 ? d - i : 16;
				const uint8_t *wr = w + (size_t)i * rb + (size_t)b0 * bs;
				amx_row_scales(sc, wr, bs, rb, rows, kb);
				bool direct = !q4 && rows == 16; /* A from the matrix itself */
				if (!direct)
					amx_unpack_a(sc, q4, wr, bs, rb, rows, kb);
				/* The next 16 rows' part of this chunk is fetched a few lines
				 * per step of the first group while these are computed (all
				 * at once, the fetches would wait on each other): read side
				 * by side, 16 long rows are more streams than the hardware
				 * follows ahead. */
				const uint8_t *next = wr + 16 * rb;
				int prows = d - i - 16 < 16 ? d - i - 16 : 16, pr = 0;
				size_t nl = ((size_t)kb * bs + 63) / 64 + 1, pl = 0;
				size_t per = prows > 0 ? ((size_t)prows * nl + (size_t)kb - 1) / (size_t)kb : 0;
				__mmask16 rmask = (__mmask16)((1u << rows) - 1);
				/* Products run AHEAD steps before the sums, (ig, ib) the next;
				 * step s's C is stored at the sums of step s - 1. */
				int ig = 0, ib = 0;
				for (int s = 0; s < AHEAD && s < steps; s++) {
					amx_product(s, ig, ib, sc, direct, wr, bs, rb);
					if (++ib == kb) {
						ib = 0;
						ig++;
					}
				}
				amx_store(0, sc);
				for (int g = 0, s = 0; g < ng; g++) {
					int pn = P - g * 16 < 16 ? P - g * 16 : 16;
					float *og = out + (size_t)(p0 + g * 16) * ostride + (size_t)i;
					__m512 acc[16];
					if (b0 == 0) {
						for (int r = 0; r < 16; r++)
							acc[r] = _mm512_setzero_ps();
					} else {
						/* The earlier blocks' values, stored by vector: back to lanes = vectors. */
						for (int j = 0; j < 16; j++)
							acc[j] = j < pn ? _mm512_maskz_loadu_ps(rmask, og + (size_t)j * ostride)
									: _mm512_setzero_ps();
						transpose16(acc);
					}
					for (int b = 0; b < kb; b++, s++) {
						if (s + AHEAD < steps) {
							amx_product(s + AHEAD, ig, ib, sc, direct, wr, bs, rb);
							if (++ib == kb) {
								ib = 0;
								ig++;
							}
						}
						if (s + 1 < steps)
							amx_store(s + 1, sc);
						for (size_t k = 0; g == 0 && k < per && pr < prows; k++) {
							_mm_prefetch((const char *)(next + (size_t)pr * rb + pl * 64), _MM_HINT_T0);
							if (++pl == nl) {
								pl = 0;
								pr++;
							}
						}
						__m512 xv = _mm512_load_ps(sc->xs[g][b]);
						for (int r = 0; r < 16; r++) {
							__m512 dot = _mm512_cvtepi32_ps(_mm512_load_si512(sc->c[s & 3][r]));
							__m512 sv = _mm512_mul_ps(_mm512_set1_ps(sc->ws[r][b]), xv);
							acc[r] = _mm512_fmadd_ps(dot, sv, acc[r]);
						}
					}
					transpose16(acc);
					/* (Constant indices: acc stays in registers.) */
					for (int j = 0; j < 16; j++)
						if (j < pn)
							_mm512_mask_storeu_ps(og + (size_t)j * ostride, rmask, acc[j]);
				}
			}
		}
	}
	_tile_release();
}

/* ---- attention ---- */

/*
 * Each output's sum stays in a register from its first term to its last
 * (the portable loops keep it in memory), K registers side by side: K
 * chains of dependent additions at once. Lanes past n (or hs) are loaded
 * as zeros and not stored.
 */
#define ATT_CASES(F)                                                                                      \
	switch (k) {                                                                                      \
	case 1:                                                                                           \
		F(1);                                                                                     \
		break;                                                                                    \
	case 2:                                                                                           \
		F(2);                                                                                     \
		break;                                                                                    \
	case 3:                                                                                           \
		F(3);                                                                                     \
		break;                                                                                    \
	case 4:                                                                                           \
		F(4);                                                                                     \
		break;                                                                                    \
	case 5:                                                                                           \
		F(5);                                                                                     \
		break;                                                                                    \
	case 6:                                                                                           \
		F(6);                                                                                     \
		break;                                                                                    \
	case 7:                                                                                           \
		F(7);                                                                                     \
		break;                                                                                    \
	default:                                                                                          \
		F(8);                                                                                     \
		break;                                                                                    \
	}

/* Lanes [0, left) of a 16-lane register (all from 16 on). */
AVX512 INLINE __mmask16 lanes16(int left)
{
	return left >= 16 ? (__mmask16)0xffff : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
}

/* Positions [t0, t0 + 16K) of the scores. */
AVX512 INLINE void scores_avx512(float *att, const float *q, const float *kT, size_t seq, int hs, int n, int t0,
				 int K)
{
	__m512 a[8];
	__mmask16 m[8];
	for (int k = 0; k < K; k++) {
		a[k] = _mm512_setzero_ps();
		m[k] = lanes16(n - t0 - 16 * k);
	}
	for (int i = 0; i < hs; i++) {
		const float *row = kT + (size_t)i * seq + t0;
		__m512 qi = _mm512_set1_ps(q[i]);
		for (int k = 0; k < K; k++)
			a[k] = _mm512_add_ps(a[k], _mm512_mul_ps(qi, _mm512_maskz_loadu_ps(m[k], row + 16 * k)));
	}
	for (int k = 0; k < K; k++)
		_mm512_mask_storeu_ps(att + t0 + 16 * k, m[k], a[k]);
}

AVX512 void al_ai_att_scores_avx512(float *att, const float *q, const float *kT, size_t seq, int hs, int n)
{
	for (int t0 = 0; t0 < n; t0 += 128) {
		int k = (n - t0 + 15) / 16;
#define SCORES(K) scores_avx512(att, q, kT, seq, hs, n, t0, K)
		ATT_CASES(SCORES)
#undef SCORES
	}
}

/* Values [i0, i0 + 16K) of the head. */
AVX512 INLINE void values_avx512(float *out, const float *att, const float *v, size_t vstride, int hs, int n,
				 int i0, int K)
{
	__m512 a[8];
	__mmask16 m[8];
	for (int k = 0; k < K; k++) {
		a[k] = _mm512_setzero_ps();
		m[k] = lanes16(hs - i0 - 16 * k);
	}
	for (int t = 0; t < n; t++) {
		const float *vt = v + (size_t)t * vstride + i0;
		__m512 at = _mm512_set1_ps(att[t]);
		for (int k = 0; k < K; k++)
			a[k] = _mm512_add_ps(a[k], _mm512_mul_ps(at, _mm512_maskz_loadu_ps(m[k], vt + 16 * k)));
	}
	for (int k = 0; k < K; k++)
		_mm512_mask_storeu_ps(out + i0 + 16 * k, m[k], a[k]);
}

AVX512 void al_ai_att_values_avx512(float *out, const float *att, const float *v, size_t vstride, int hs, int n)
{
	for (int i0 = 0; i0 < hs; i0 += 128) {
		int k = (hs - i0 + 15) / 16;
#define VALUES(K) values_avx512(out, att, v, vstride, hs, n, i0, K)
		ATT_CASES(VALUES)
#undef VALUES
	}
}

/* Lanes [0, left) of an 8-lane register, as maskload wants them. */
AVX2 INLINE __m256i lanes8(int left)
{
	const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), idx);
}

AVX2 INLINE void scores_avx2(float *att, const float *q, const float *kT, size_t seq, int hs, int n, int t0, int K)
{
	__m256 a[8];
	__m256i m[8];
	for (int k = 0; k < K; k++) {
		a[k] = _mm256_setzero_ps();
		m[k] = lanes8(n - t0 - 8 * k);
	}
	for (int i = 0; i < hs; i++) {
		const float *row = kT + (size_t)i * seq + t0;
		__m256 qi = _mm256_set1_ps(q[i]);
		for (int k = 0; k < K; k++)
			a[k] = _mm256_add_ps(a[k], _mm256_mul_ps(qi, _mm256_maskload_ps(row + 8 * k, m[k])));
	}
	for (int k = 0; k < K; k++)
		_mm256_maskstore_ps(att + t0 + 8 * k, m[k], a[k]);
}

AVX2 void al_ai_att_scores_avx2(float *att, const float *q, const float *kT, size_t seq, int hs, int n)
{
	for (int t0 = 0; t0 < n; t0 += 64) {
		int k = (n - t0 + 7) / 8;
#define SCORES(K) scores_avx2(att, q, kT, seq, hs, n, t0, K)
		ATT_CASES(SCORES)
#undef SCORES
	}
}

AVX2 INLINE void values_avx2(float *out, const float *att, const float *v, size_t vstride, int hs, int n, int i0,
			     int K)
{
	__m256 a[8];
	__m256i m[8];
	for (int k = 0; k < K; k++) {
		a[k] = _mm256_setzero_ps();
		m[k] = lanes8(hs - i0 - 8 * k);
	}
	for (int t = 0; t < n; t++) {
		const float *vt = v + (size_t)t * vstride + i0;
		__m256 at = _mm256_set1_ps(att[t]);
		for (int k = 0; k < K; k++)
			a[k] = _mm256_add_ps(a[k], _mm256_mul_ps(at, _mm256_maskload_ps(vt + 8 * k, m[k])));
	}
	for (int k = 0; k < K; k++)
		_mm256_maskstore_ps(out + i0 + 8 * k, m[k], a[k]);
}

AVX2 void al_ai_att_values_avx2(float *out, const float *att, const float *v, size_t vstride, int hs, int n)
{
	for (int i0 = 0; i0 < hs; i0 += 64) {
		int k = (hs - i0 + 7) / 8;
#define VALUES(K) values_avx2(out, att, v, vstride, hs, n, i0, K)
		ATT_CASES(VALUES)
#undef VALUES
	}
}

/* ---- RMSNorm's sums of squares ---- */

/* Rows in groups of 16 (rows a multiple of 16): 16 columns of 16 rows
 * transposed, so that lane r sums row r's squares, one register for all 16
 * rows' chains. */
AVX512 void al_ai_sumsq_rows_avx512(float *ss, const float *x, size_t stride, int rows, int n)
{
	for (int r0 = 0; r0 < rows; r0 += 16) {
		const float *xr = x + (size_t)r0 * stride;
		__m512 acc = _mm512_setzero_ps();
		for (int j0 = 0; j0 < n; j0 += 16) {
			__mmask16 m = n - j0 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j0)) - 1);
			__m512 v[16];
			for (int r = 0; r < 16; r++)
				v[r] = _mm512_maskz_loadu_ps(m, xr + (size_t)r * stride + j0);
			transpose16(v); /* v[j] lane r: row r's value j0 + j */
			for (int j = 0; j < 16 && j0 + j < n; j++)
				acc = _mm512_add_ps(acc, _mm512_mul_ps(v[j], v[j]));
		}
		_mm512_storeu_ps(ss + r0, acc);
	}
}

/* ---- exp and SwiGLU ---- */

/*
 * expf as glibc computes it (sysdeps/ieee754/flt-32/e_expf.c, from Arm's
 * optimized-routines; the variant built for FMA, which glibc's ifunc picks
 * wherever these versions run): in double precision, x * 32 / ln 2 = k + r
 * rounded to nearest by adding 1.5 * 2^52, 2^(k/32) from a table of 32
 * entries with k / 32 added to the exponent, a cubic in r, one rounding to
 * float at the end. |x| >= 88 and NaN go through glibc's special cases.
 * Tested against libm's expf for every float.
 */
_Alignas(64) static const uint64_t exp_tab[32] = { /* bits of 2^(i/32) less i << 47 */
	0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51, 0x3fef72b83c7d517b,
	0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1, 0x3fef06fe0a31b715, 0x3feef1a7373aa9cb,
	0x3feedea64c123422, 0x3feece086061892d, 0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429,
	0x3feea47eb03a5585, 0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
	0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d, 0x3feee89f995ad3ad,
	0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069, 0x3fef5818dcfba487, 0x3fef7c97337b9b5f,
	0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
};
#define EXP_INVLN2N 0x1.71547652b82fep+5 /* 32 / ln 2 */
#define EXP_SHIFT 0x1.8p52
#define EXP_C0 0x1.c6af84b912394p-20
#define EXP_C1 0x1.ebfce50fac4f3p-13
#define EXP_C2 0x1.62e42ff0c52d6p-6
#define EXP_BIG 0x42b00000     /* |x| from 88 on (and NaN): the special cases */
#define EXP_OFLOW 0x1.62e42ep6f /* above: +inf */
#define EXP_MAYUF -0x1.9d1d9ep6f /* below: 2^-149 (glibc's __math_may_uflowf) */
#define EXP_UFLOW -0x1.9fe368p6f /* below: 0 */

AVX2 INLINE __m128 exp4_avx2(__m128 x)
{
	const __m256d inv = _mm256_set1_pd(EXP_INVLN2N), shift = _mm256_set1_pd(EXP_SHIFT);
	__m256d xd = _mm256_cvtps_pd(x);
	__m256d kds = _mm256_fmadd_pd(inv, xd, shift);
	__m256d r = _mm256_fmsub_pd(inv, xd, _mm256_sub_pd(kds, shift));
	__m256i ki = _mm256_castpd_si256(kds);
	__m256i t = _mm256_i64gather_epi64((const long long *)(const void *)exp_tab,
					   _mm256_and_si256(ki, _mm256_set1_epi64x(31)), 8);
	__m256d sc = _mm256_castsi256_pd(_mm256_add_epi64(t, _mm256_slli_epi64(ki, 47)));
	__m256d z = _mm256_fmadd_pd(_mm256_set1_pd(EXP_C0), r, _mm256_set1_pd(EXP_C1));
	__m256d y = _mm256_fmadd_pd(_mm256_set1_pd(EXP_C2), r, _mm256_set1_pd(1.0));
	y = _mm256_fmadd_pd(z, _mm256_mul_pd(r, r), y);
	return _mm256_cvtpd_ps(_mm256_mul_pd(y, sc));
}

AVX2 INLINE __m256 exp8_avx2(__m256 x)
{
	__m256 y = _mm256_insertf128_ps(_mm256_castps128_ps256(exp4_avx2(_mm256_castps256_ps128(x))),
					exp4_avx2(_mm256_extractf128_ps(x, 1)), 1);
	__m256i ax = _mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7fffffff));
	if (_mm256_movemask_epi8(_mm256_cmpgt_epi32(ax, _mm256_set1_epi32(EXP_BIG - 1)))) {
		y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(EXP_OFLOW), _CMP_GT_OQ));
		y = _mm256_blendv_ps(y, _mm256_set1_ps(0x1p-149f), _mm256_cmp_ps(x, _mm256_set1_ps(EXP_MAYUF), _CMP_LT_OQ));
		y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(EXP_UFLOW), _CMP_LT_OQ));
		y = _mm256_blendv_ps(y, _mm256_add_ps(x, x), _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
	}
	return y;
}

AVX512 INLINE __m256 exp8_avx512(__m256 x, const __m512d tab[4])
{
	const __m512d inv = _mm512_set1_pd(EXP_INVLN2N), shift = _mm512_set1_pd(EXP_SHIFT);
	__m512d xd = _mm512_cvtps_pd(x);
	__m512d kds = _mm512_fmadd_pd(inv, xd, shift);
	__m512d r = _mm512_fmsub_pd(inv, xd, _mm512_sub_pd(kds, shift));
	__m512i ki = _mm512_castpd_si512(kds);
	/* Entry ki % 32: bits 0-3 pick from a pair of registers, bit 4 the pair. */
	__m512d lo = _mm512_permutex2var_pd(tab[0], ki, tab[1]), hi = _mm512_permutex2var_pd(tab[2], ki, tab[3]);
	__m512d t = _mm512_mask_blend_pd(_mm512_test_epi64_mask(ki, _mm512_set1_epi64(16)), lo, hi);
	__m512d sc = _mm512_castsi512_pd(_mm512_add_epi64(_mm512_castpd_si512(t), _mm512_slli_epi64(ki, 47)));
	__m512d z = _mm512_fmadd_pd(_mm512_set1_pd(EXP_C0), r, _mm512_set1_pd(EXP_C1));
	__m512d y = _mm512_fmadd_pd(_mm512_set1_pd(EXP_C2), r, _mm512_set1_pd(1.0));
	y = _mm512_fmadd_pd(z, _mm512_mul_pd(r, r), y);
	return _mm512_cvtpd_ps(_mm512_mul_pd(y, sc));
}

AVX512 INLINE __m512 exp16_avx512(__m512 x, const __m512d tab[4])
{
	__m256 lo = exp8_avx512(_mm512_castps512_ps256(x), tab);
	__m256 hi = exp8_avx512(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)), tab);
	__m512 y = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
	__m512i ax = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff));
	if (_mm512_cmpge_epu32_mask(ax, _mm512_set1_epi32(EXP_BIG))) {
		y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(EXP_OFLOW), _CMP_GT_OQ),
				       _mm512_set1_ps(INFINITY));
		y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(EXP_MAYUF), _CMP_LT_OQ),
				       _mm512_set1_ps(0x1p-149f));
		y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(EXP_UFLOW), _CMP_LT_OQ), _mm512_setzero_ps());
		y = _mm512_mask_add_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x, x);
	}
	return y;
}

AVX512 INLINE void exp_table(__m512d tab[4])
{
	for (int i = 0; i < 4; i++)
		tab[i] = _mm512_load_pd((const double *)(const void *)exp_tab + 8 * i);
}

AVX2 void al_ai_exp_avx2(float *y, const float *x, float sub, int n)
{
	int i = 0;
	__m256 s = _mm256_set1_ps(sub);
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, exp8_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), s)));
	for (; i < n; i++)
		y[i] = expf(x[i] - sub);
}

AVX512 void al_ai_exp_avx512(float *y, const float *x, float sub, int n)
{
	__m512d tab[4];
	exp_table(tab);
	__m512 s = _mm512_set1_ps(sub);
	for (int i = 0; i < n; i += 16) {
		__mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
		_mm512_mask_storeu_ps(y + i, m, exp16_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s), tab));
	}
}

AVX2 void al_ai_swiglu_avx2(float *h, const float *g, int n)
{
	int i = 0;
	const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_loadu_ps(h + i);
		__m256 e = exp8_avx2(_mm256_xor_ps(v, sign));
		v = _mm256_mul_ps(v, _mm256_div_ps(one, _mm256_add_ps(one, e)));
		_mm256_storeu_ps(h + i, _mm256_mul_ps(v, _mm256_loadu_ps(g + i)));
	}
	for (; i < n; i++) {
		float v = h[i];
		v *= 1.0f / (1.0f + expf(-v));
		h[i] = v * g[i];
	}
}

AVX512 void al_ai_swiglu_avx512(float *h, const float *g, int n)
{
	__m512d tab[4];
	exp_table(tab);
	const __m512 one = _mm512_set1_ps(1.0f);
	const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
	for (int i = 0; i < n; i += 16) {
		__mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
		__m512 v = _mm512_maskz_loadu_ps(m, h + i);
		__m512 e = exp16_avx512(_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(v), sign)), tab);
		v = _mm512_mul_ps(v, _mm512_div_ps(one, _mm512_add_ps(one, e)));
		_mm512_mask_storeu_ps(h + i, m, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, g + i)));
	}
}

/* ---- quantisation of the activations ---- */

AVX2 void al_ai_quantize_q8_avx2(int8_t *q, float *scales, const float *x, int n, int gs)
{
	const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
	const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
	const __m256 hi = _mm256_set1_ps(127.0f), lo = _mm256_set1_ps(-127.0f);
	for (int g = 0; g < n / gs; g++) {
		const float *xg = x + (size_t)g * (size_t)gs;
		/* max(a, m) keeps m where a is NaN, as the portable loop skips it. */
		__m256 m = _mm256_setzero_ps();
		for (int i = 0; i < gs; i += 8)
			m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(xg + i), absmask), m);
		__m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
		m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
		m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
		float scale = _mm_cvtss_f32(m4) / 127.0f;
		scales[g] = scale;
		__m256 inv = _mm256_set1_ps(scale != 0.0f ? 1.0f / scale : 0.0f);
		for (int i = 0; i < gs; i += 16) {
			__m256i v32[2];
			for (int h = 0; h < 2; h++) {
				/* roundf: truncate, then away from zero when the part cut off is at least one half. */
				__m256 v = _mm256_mul_ps(_mm256_loadu_ps(xg + i + 8 * h), inv);
				__m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
				__m256 up = _mm256_cmp_ps(_mm256_and_ps(_mm256_sub_ps(v, t), absmask), half, _CMP_GE_OQ);
				t = _mm256_add_ps(t, _mm256_and_ps(up, _mm256_or_ps(_mm256_and_ps(v, sign), one)));
				__m256 ord = _mm256_cmp_ps(t, t, _CMP_ORD_Q);
				t = _mm256_and_ps(_mm256_min_ps(_mm256_max_ps(t, lo), hi), ord);
				v32[h] = _mm256_cvttps_epi32(t);
			}
			__m256i p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(v32[0], v32[1]), 0xd8);
			__m128i p8 = _mm_packs_epi16(_mm256_castsi256_si128(p16), _mm256_extracti128_si256(p16, 1));
			_mm_storeu_si128((__m128i *)(q + (size_t)g * (size_t)gs + i), p8);
		}
	}
}

/* 16 values times inv rounded as roundf (truncated, then away from zero
 * when the part cut off is at least one half), clamped to [-127, 127], NaN
 * to 0. */
AVX512 INLINE __m128i quant16(const float *x, __m512 inv)
{
	const __m512i absmask = _mm512_set1_epi32(0x7fffffff), sign = _mm512_set1_epi32((int)0x80000000u);
	const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
	const __m512 hi = _mm512_set1_ps(127.0f), lo = _mm512_set1_ps(-127.0f);
	__m512 v = _mm512_mul_ps(_mm512_loadu_ps(x), inv);
	__m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
	__m512i fr = _mm512_and_si512(_mm512_castps_si512(_mm512_sub_ps(v, t)), absmask);
	__mmask16 up = _mm512_cmp_ps_mask(_mm512_castsi512_ps(fr), half, _CMP_GE_OQ);
	__m512 away =
		_mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(v), sign), _mm512_castps_si512(one)));
	t = _mm512_mask_add_ps(t, up, t, away);
	__mmask16 ord = _mm512_cmp_ps_mask(t, t, _CMP_ORD_Q);
	t = _mm512_maskz_mov_ps(ord, _mm512_min_ps(_mm512_max_ps(t, lo), hi));
	return _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(t));
}

/* max(|x|, m) lane by lane: NaN leaves m, as the portable loop skips it. */
AVX512 INLINE __m512 absmax(const float *x, __m512 m)
{
	const __m512i absmask = _mm512_set1_epi32(0x7fffffff);
	return _mm512_max_ps(_mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(x)), absmask)), m);
}

AVX512 void al_ai_quantize_q8_avx512(int8_t *q, float *scales, const float *x, int n, int gs)
{
	int g = 0, groups = n / gs;
	/* Groups of 32 (GGUF's) 16 at a time: their maxima side by side in one
	 * register (a transpose, then maxima across), so that the scales and
	 * their inverses take one division each for all 16, off the chain of
	 * each group's maximum, scale and inverse one after another. */
	for (; gs == 32 && g + 16 <= groups; g += 16) {
		const float *xg = x + (size_t)g * 32;
		__m512 m[16];
		for (int k = 0; k < 16; k++)
			m[k] = absmax(xg + 32 * k + 16, absmax(xg + 32 * k, _mm512_setzero_ps()));
		transpose16(m);
		__m512 mx = m[0];
		for (int k = 1; k < 16; k++)
			mx = _mm512_max_ps(m[k], mx);
		__m512 sc = _mm512_div_ps(mx, _mm512_set1_ps(127.0f));
		_mm512_storeu_ps(scales + g, sc);
		_Alignas(64) float inv[16];
		_mm512_store_ps(inv, _mm512_maskz_div_ps(_mm512_cmp_ps_mask(sc, _mm512_setzero_ps(), _CMP_NEQ_OQ),
							 _mm512_set1_ps(1.0f), sc));
		for (int k = 0; k < 16; k++) {
			__m512 iv = _mm512_set1_ps(inv[k]);
			_mm_storeu_si128((__m128i *)(void *)(q + (size_t)(g + k) * 32), quant16(xg + 32 * k, iv));
			_mm_storeu_si128((__m128i *)(void *)(q + (size_t)(g + k) * 32 + 16), quant16(xg + 32 * k + 16, iv));
		}
	}
	for (; g < groups; g++) {
		const float *xg = x + (size_t)g * (size_t)gs;
		__m512 m = _mm512_setzero_ps();
		for (int i = 0; i < gs; i += 16)
			m = absmax(xg + i, m);
		__m256 m8 = _mm256_max_ps(_mm512_castps512_ps256(m),
					  _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(m), 1)));
		__m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
		m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
		m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
		float scale = _mm_cvtss_f32(m4) / 127.0f;
		scales[g] = scale;
		__m512 inv = _mm512_set1_ps(scale != 0.0f ? 1.0f / scale : 0.0f);
		for (int i = 0; i < gs; i += 16)
			_mm_storeu_si128((__m128i *)(void *)(q + (size_t)g * (size_t)gs + i), quant16(xg + i, inv));
	}
}
#endif
