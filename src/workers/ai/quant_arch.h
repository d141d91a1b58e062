/*
 * AI engine: how an architecture's kernels plug into quant.c's dispatch.
 * Meson builds one quant_arch_<arch>.c (x86_64, aarch64) with that
 * architecture's kernel files; it lists the versions this CPU runs, and
 * quant.c calls the chosen one through this table. Each version gives the
 * bits of the portable one (quant.h); arguments as in quant.h.
 */
#ifndef AL_AI_QUANT_ARCH_H
#define AL_AI_QUANT_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct al_ai_kernels {
	const char *name; /* for al_ai_quant_use() and al_ai_quant_kernels() */
	void (*f32_batch)(float *out, size_t ostride, const float *x, size_t xstride, int np, const float *w, int n,
			  int d);
	void (*f16_batch)(float *out, size_t ostride, const float *x, size_t xstride, int np, const uint8_t *w,
			  int n, int d);
	/* q4: Q4_0 blocks, else Q8_0. */
	void (*blocks_batch)(bool q4, float *out, size_t ostride, const int8_t *xq, size_t qstride, const float *xs,
			     size_t sstride, int np, const uint8_t *w, int n, int d);
	/* For group sizes that are multiples of quantize_gs; the portable loop takes the others. */
	void (*quantize_q8)(int8_t *q, float *scales, const float *x, int n, int gs);
	int quantize_gs;
	/* The other vectorised steps (quant.h); NULL: the portable loop. */
	void (*exp)(float *y, const float *x, float sub, int n);
	void (*swiglu)(float *h, const float *g, int n);
	void (*att_scores)(float *att, const float *q, const float *kT, size_t seq, int hs, int n);
	void (*att_values)(float *out, const float *att, const float *v, size_t vstride, int hs, int n);
	/* rows a multiple of 16 (the portable loop takes the rest) */
	void (*sumsq_rows)(float *ss, const float *x, size_t stride, int rows, int n);
};

/* Most versions an architecture lists. */
#define AL_AI_ARCH_KERNELS 4

/*
 * The versions this CPU runs, best last, into list (at most
 * AL_AI_ARCH_KERNELS; the portable one is not among them); returns their
 * count. quant.c calls it once, during setup: it may make system calls
 * (x86 asks Linux for AMX) that the worker's filter forbids afterwards.
 */
int al_ai_arch_kernels(const struct al_ai_kernels *list[AL_AI_ARCH_KERNELS]);

#endif
