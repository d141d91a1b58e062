/*
 * x86-64 builds: the AVX2, AVX-512 and AMX versions (quant_x86.c), chosen
 * from CPUID. Meson picks this file.
 */
#include "workers/ai/quant_arch.h"

#include "workers/ai/quant_x86.h"

/* Vectors from which a block product goes to AMX. */
#define AMX_MIN_VECTORS 8

static void blocks_amx(bool q4, float *out, size_t ostride, const int8_t *xq, size_t qstride, const float *xs,
		       size_t sstride, int np, const uint8_t *w, int n, int d)
{
	(np >= AMX_MIN_VECTORS ? al_ai_blocks_batch_amx : al_ai_blocks_batch_vnni)(q4, out, ostride, xq, qstride, xs,
										     sstride, np, w, n, d);
}

#define X86_STEPS_AVX2                                                                        \
	.exp = al_ai_exp_avx2, .swiglu = al_ai_swiglu_avx2, .att_scores = al_ai_att_scores_avx2, \
	.att_values = al_ai_att_values_avx2
#define X86_STEPS_AVX512                                                                            \
	.exp = al_ai_exp_avx512, .swiglu = al_ai_swiglu_avx512, .att_scores = al_ai_att_scores_avx512, \
	.att_values = al_ai_att_values_avx512, .sumsq_rows = al_ai_sumsq_rows_avx512

static const struct al_ai_kernels avx2 = {
	.name = "avx2", .f32_batch = al_ai_f32_batch_avx2, .f16_batch = al_ai_f16_batch_avx2,
	.blocks_batch = al_ai_blocks_batch_avx2, .quantize_q8 = al_ai_quantize_q8_avx2, .quantize_gs = 16,
	X86_STEPS_AVX2,
};
/* AVX-512 with VNNI for the block types where the CPU has it, else AVX2's. */
static const struct al_ai_kernels avx512 = {
	.name = "avx512", .f32_batch = al_ai_f32_batch_avx512, .f16_batch = al_ai_f16_batch_avx512,
	.blocks_batch = al_ai_blocks_batch_avx2, .quantize_q8 = al_ai_quantize_q8_avx512, .quantize_gs = 16,
	X86_STEPS_AVX512,
};
static const struct al_ai_kernels avx512_vnni = {
	.name = "avx512", .f32_batch = al_ai_f32_batch_avx512, .f16_batch = al_ai_f16_batch_avx512,
	.blocks_batch = al_ai_blocks_batch_vnni, .quantize_q8 = al_ai_quantize_q8_avx512, .quantize_gs = 16,
	X86_STEPS_AVX512,
};
/* AVX-512, with AMX for the block types' batched products (VNNI below AMX_MIN_VECTORS). */
static const struct al_ai_kernels amx = {
	.name = "amx", .f32_batch = al_ai_f32_batch_avx512, .f16_batch = al_ai_f16_batch_avx512,
	.blocks_batch = blocks_amx, .quantize_q8 = al_ai_quantize_q8_avx512, .quantize_gs = 16, X86_STEPS_AVX512,
};

int al_ai_arch_kernels(const struct al_ai_kernels *list[AL_AI_ARCH_KERNELS])
{
	struct al_ai_x86_caps c;
	int k = 0;
	al_ai_x86_caps(&c);
	if (!c.avx2)
		return 0;
	list[k++] = &avx2;
	if (c.avx512)
		list[k++] = c.vnni ? &avx512_vnni : &avx512;
	if (c.amx)
		list[k++] = &amx;
	return k;
}
