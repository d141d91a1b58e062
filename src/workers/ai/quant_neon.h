/*
 * AI engine: the 64-bit ARM kernels behind quant.h (Advanced SIMD, and the
 * dot product instructions for the block types), for quant_arch_aarch64.c
 * only. Each gives the bits of the portable version (see quant.h). Built on
 * aarch64 only.
 */
#ifndef AL_AI_QUANT_NEON_H
#define AL_AI_QUANT_NEON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void al_ai_f32_batch_neon(float *out, size_t ostride, const float *x, size_t xstride, int np, const float *w, int n,
			  int d);
void al_ai_f16_batch_neon(float *out, size_t ostride, const float *x, size_t xstride, int np, const uint8_t *w,
			  int n, int d);
/* q4: Q4_0 blocks, else Q8_0. */
void al_ai_blocks_batch_neon(bool q4, float *out, size_t ostride, const int8_t *xq, size_t qstride, const float *xs,
			     size_t sstride, int np, const uint8_t *w, int n, int d);
/* The same with SDOT (FEAT_DotProd: AT_HWCAP's ASIMDDP). */
void al_ai_blocks_batch_dotprod(bool q4, float *out, size_t ostride, const int8_t *xq, size_t qstride,
				const float *xs, size_t sstride, int np, const uint8_t *w, int n, int d);
/* Group sizes that are multiples of 4. */
void al_ai_quantize_q8_neon(int8_t *q, float *scales, const float *x, int n, int gs);

#endif
