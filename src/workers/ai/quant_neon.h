/*
 * AI engine: the 64-bit ARM (Advanced SIMD) kernels, quant_neon.c. quant.c's
 * functions dispatch to them on aarch64 (meson defines AL_AI_HAVE_NEON_CODE
 * and builds the file there only); arguments as in quant.h.
 */
#ifndef AL_AI_QUANT_NEON_H
#define AL_AI_QUANT_NEON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/ai/quant.h"

/* Whether the CPU runs them (AT_HWCAP's ASIMD: every AArch64 Linux CPU). */
bool al_ai_neon_usable(void);

void al_ai_neon_f32_batch(float *out, size_t ostride, const float *x, size_t xstride, int np, const float *w,
			  int n, int d);
void al_ai_neon_f16(float *out, const float *x, const uint8_t *w, int n, int d);
void al_ai_neon_f16_batch(float *out, size_t ostride, const float *x, size_t xstride, int np, const uint8_t *w,
			  int n, int d);
void al_ai_neon_q8_0(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d);
void al_ai_neon_q4_0(float *out, const int8_t *xq, const float *xs, const uint8_t *w, int n, int d);
void al_ai_neon_blocks_batch(float *out, size_t ostride, const int8_t *xq, size_t qstride, const float *xs,
			     size_t sstride, int np, const uint8_t *w, int n, int d, bool q4);

#endif
