/*
 * AI engine: matrix-vector kernels for the tensor types (F32, F16, Q8_0,
 * Q4_0), each in a portable scalar version and the architecture's (x86-64:
 * AVX2 with FMA and F16C, AVX-512, from CPUID; aarch64: Advanced SIMD, from
 * AT_HWCAP) chosen at run time (quant_arch.h). out(d) = W(d, n) x(n), W
 * row-major (ggml blocks for the block types); for Q8_0 and Q4_0 the
 * activations come already quantised to Q8_0 (xq int8 in [-127, 127], one
 * fp32 scale per 32 values in xs; al_ai_quantize_q8()), and n is a multiple
 * of 32.
 *
 * Every version gives the same bits, single or batched, one vector or
 * many, whatever the split of rows between threads:
 *  - F32 and F16: lane k (of 16) of a row sums w[j + k] x[j + k] over the
 *    multiples j of 16 in order, one fused multiply-add a step; the lanes
 *    are folded pairwise (8, 4, 2, 1), then the n % 16 tail is fused in in
 *    order. F16 weights convert to fp32 exactly.
 *  - Q8_0 and Q4_0: the integer dot product s_b of each 32-value block is
 *    exact; a row's value is v = fmaf((float)s_b, d_b * xs_b, v) over its
 *    blocks in order from v = 0, d_b the block's half scale as fp32.
 */
#ifndef AL_AI_QUANT_H
#define AL_AI_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/ai/model.h"

#define AL_AI_Q8_0_BLOCK 34 /* half d, int8 q[32] */
#define AL_AI_Q4_0_BLOCK 18 /* half d, uint8 q[16] */

/* Picks the kernels for this CPU (once, during setup); force_scalar for tests. */
void al_ai_quant_init(bool force_scalar);
/* Tests: selects "scalar", "avx2", "avx512", "amx" (x86-64), "neon" or
 * "dotprod" (aarch64) if this CPU runs it (true), else the best. */
bool al_ai_quant_use(const char *kernels);
const char *al_ai_quant_kernels(void); /* one of those names */

/* Bytes one row of n values takes in a matrix of this type. */
size_t al_ai_row_bytes(enum al_ai_wtype type, int n);

/*
 * Q8_0 symmetric quantisation of n activations in groups of gs: scale =
 * max |x| / 127 per group, q = roundf(x / scale) clamped to [-127, 127]
 * (NaN to 0). Every version gives the same bits.
 */
void al_ai_quantize_q8(int8_t *q, float *scales, const float *x, int n, int gs);

/* Single products (one vector). */
void al_ai_matmul_f32(float *out, const float *x, const float *w, int n, int d);
void al_ai_matmul_f16(float *out, const float *x, const uint8_t *w, int n, int d);
void al_ai_matmul_q8_0(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d);
void al_ai_matmul_q4_0(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d);

/* Batched forms, each weight row read once for several vectors:
 * out[p * ostride + i] = W x_p for the np vectors x + p * xstride (F32,
 * F16), or the quantised activations xq + p * qstride with scales xs + p *
 * sstride (type AL_AI_W_Q8_0 or AL_AI_W_Q4_0). */
void al_ai_matmul_f32_batch(float *out, size_t ostride, const float *x, size_t xstride, int np, const float *w,
			    int n, int d);
void al_ai_matmul_f16_batch(float *out, size_t ostride, const float *x, size_t xstride, int np, const uint8_t *w,
			    int n, int d);
void al_ai_matmul_blocks_batch(enum al_ai_wtype type, float *out, size_t ostride, const int8_t *xq, size_t qstride,
			       const float *xs, size_t sstride, int np, const uint8_t *w, int n, int d);

/*
 * y[i] = expf(x[i] - sub) for i < n (y may be x): the bits of glibc's expf
 * (2.28 and later; its FMA variant, the one glibc runs on every CPU the
 * vector versions run on), which the portable version calls. So attention
 * keeps the bits of llama2.c's softmax.
 */
void al_ai_exp(float *y, const float *x, float sub, int n);
/* SwiGLU in place, llama2.c's steps: v = h[i]; v *= 1 / (1 + expf(-v));
 * h[i] = v * g[i]. The same bits in every version (NaN stays NaN). */
void al_ai_swiglu(float *h, const float *g, int n);

/*
 * Attention of one query and head, the reference's sums in its order:
 * att[t] = sum over i < hs of q[i] * kT[i * seq + t] for t < n (kT: the
 * head's keys transposed, seq apart; each product rounded, then added, from
 * 0), and out[i] = sum over t < n of att[t] * v[t * vstride + i] for i < hs
 * (likewise). The same bits in every version.
 */
void al_ai_att_scores(float *att, const float *q, const float *kT, size_t seq, int hs, int n);
void al_ai_att_values(float *out, const float *att, const float *v, size_t vstride, int hs, int n);

/* ss[r] = the sum over j < n of x[r * stride + j]^2 for r < rows (RMSNorm's;
 * each square rounded, then added, in order j from 0). The same bits in
 * every version. */
void al_ai_sumsq_rows(float *ss, const float *x, size_t stride, int rows, int n);

/* Row `row` of a block matrix (n values per row) as fp32: the embedding lookup. */
void al_ai_dequant_row(enum al_ai_wtype type, const uint8_t *w, size_t row, int n, float *out);

#endif
