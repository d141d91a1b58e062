/*
 * AI engine: the x86-64 kernels behind quant.h (AVX2 + FMA + F16C, and
 * AVX-512), listed by quant_arch_x86_64.c for quant.c's dispatch. Each
 * gives the bits of the portable version (see quant.h). Built on x86-64 only.
 */
#ifndef AL_AI_QUANT_X86_H
#define AL_AI_QUANT_X86_H

#if defined(__x86_64__)
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CPU features, from CPUID (and whether the OS saves the wider registers). */
struct al_ai_x86_caps {
	bool avx2;   /* AVX2, FMA, F16C */
	bool avx512; /* AVX-512 F, BW, VL */
	bool vnni;   /* AVX-512 VNNI */
	bool amx;    /* AMX-INT8, usable by this process */
};
void al_ai_x86_caps(struct al_ai_x86_caps *c);

void al_ai_f32_batch_avx2(float *out, size_t ostride, const float *x, size_t xstride, int np, const float *w, int n,
			  int d);
void al_ai_f32_batch_avx512(float *out, size_t ostride, const float *x, size_t xstride, int np, const float *w,
			    int n, int d);
void al_ai_f16_batch_avx2(float *out, size_t ostride, const float *x, size_t xstride, int np, const uint8_t *w,
			  int n, int d);
void al_ai_f16_batch_avx512(float *out, size_t ostride, const float *x, size_t xstride, int np, const uint8_t *w,
			    int n, int d);
/* q4: Q4_0 blocks, else Q8_0. */
void al_ai_blocks_batch_avx2(bool q4, float *out, size_t ostride, const int8_t *xq, size_t qstride, const float *xs,
			     size_t sstride, int np, const uint8_t *w, int n, int d);
void al_ai_blocks_batch_vnni(bool q4, float *out, size_t ostride, const int8_t *xq, size_t qstride, const float *xs,
			     size_t sstride, int np, const uint8_t *w, int n, int d);
/* np >= 8 or so: below that the tile work is mostly padding. */
void al_ai_blocks_batch_amx(bool q4, float *out, size_t ostride, const int8_t *xq, size_t qstride, const float *xs,
			    size_t sstride, int np, const uint8_t *w, int n, int d);
/* quant.h's al_ai_exp and al_ai_swiglu. */
void al_ai_exp_avx2(float *y, const float *x, float sub, int n);
void al_ai_exp_avx512(float *y, const float *x, float sub, int n);
void al_ai_swiglu_avx2(float *h, const float *g, int n);
void al_ai_swiglu_avx512(float *h, const float *g, int n);
/* quant.h's al_ai_att_scores and al_ai_att_values. */
void al_ai_att_scores_avx2(float *att, const float *q, const float *kT, size_t seq, int hs, int n);
void al_ai_att_scores_avx512(float *att, const float *q, const float *kT, size_t seq, int hs, int n);
void al_ai_att_values_avx2(float *out, const float *att, const float *v, size_t vstride, int hs, int n);
void al_ai_att_values_avx512(float *out, const float *att, const float *v, size_t vstride, int hs, int n);
void al_ai_sumsq_rows_avx512(float *ss, const float *x, size_t stride, int rows, int n);
/* Whole groups of 16 (gs a multiple of 16). */
void al_ai_quantize_q8_avx2(int8_t *q, float *scales, const float *x, int n, int gs);
void al_ai_quantize_q8_avx512(int8_t *q, float *scales, const float *x, int n, int gs);
#endif

#endif
