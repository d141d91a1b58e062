/*
 * AI engine: matrix-vector kernels for the GGUF tensor types (F16, Q8_0,
 * Q4_0), each in a portable scalar version and an AVX2 (+FMA, F16C) version
 * chosen at run time from CPUID (on aarch64, an Advanced SIMD version in
 * quant_neon.c instead). out(d) = W(d, n) x(n), W row-major in ggml
 * blocks; for Q8_0 and Q4_0 the activations come already quantised to Q8_0
 * (xq int8, one fp32 scale per 32 values in xs), and n is a multiple of 32.
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
/* Tests: selects "scalar", "avx2", "avx512" or "neon" if this CPU runs it (true), else the best. */
bool al_ai_quant_use(const char *kernels);
const char *al_ai_quant_kernels(void); /* "avx512", "avx2", "neon" or "scalar" */

/* Bytes one row of n values takes in a matrix of this type. */
size_t al_ai_row_bytes(enum al_ai_wtype type, int n);

/* F32: the same bits from every version (see quant.c). The batched form
 * computes out[p * ostride + i] = W x_p for the np vectors x_p = x + p * xstride,
 * each exactly as the single product would. */
void al_ai_matmul_f32(float *out, const float *x, const float *w, int n, int d);
void al_ai_matmul_f32_batch(float *out, size_t ostride, const float *x, size_t xstride, int np, const float *w,
			    int n, int d);
void al_ai_matmul_f16(float *out, const float *x, const uint8_t *w, int n, int d);
void al_ai_matmul_q8_0(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d);
void al_ai_matmul_q4_0(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d);

/* Batched forms (the same bits as the single products, vector by vector):
 * out[p * ostride + i] for the np vectors x + p * xstride (F16), or the
 * quantised activations xq + p * qstride with scales xs + p * sstride
 * (type AL_AI_W_Q8_0 or AL_AI_W_Q4_0). */
void al_ai_matmul_f16_batch(float *out, size_t ostride, const float *x, size_t xstride, int np, const uint8_t *w,
			    int n, int d);
void al_ai_matmul_blocks_batch(enum al_ai_wtype type, float *out, size_t ostride, const int8_t *xq, size_t qstride,
			       const float *xs, size_t sstride, int np, const uint8_t *w, int n, int d);

/* Row `row` of a block matrix (n values per row) as fp32: the embedding lookup. */
void al_ai_dequant_row(enum al_ai_wtype type, const uint8_t *w, size_t row, int n, float *out);

#endif
