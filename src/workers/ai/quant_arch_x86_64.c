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

static const struct al_ai_kernels avx2 = {
	"avx2", al_ai_f32_batch_avx2, al_ai_f16_batch_avx2, al_ai_blocks_batch_avx2, al_ai_quantize_q8_avx2, 16,
};
/* AVX-512 with VNNI for the block types where the CPU has it, else AVX2's. */
static const struct al_ai_kernels avx512 = {
	"avx512", al_ai_f32_batch_avx512, al_ai_f16_batch_avx512, al_ai_blocks_batch_avx2, al_ai_quantize_q8_avx512,
	16,
};
static const struct al_ai_kernels avx512_vnni = {
	"avx512", al_ai_f32_batch_avx512, al_ai_f16_batch_avx512, al_ai_blocks_batch_vnni, al_ai_quantize_q8_avx512,
	16,
};
/* AVX-512, with AMX for the block types' batched products (VNNI below AMX_MIN_VECTORS). */
static const struct al_ai_kernels amx = {
	"amx", al_ai_f32_batch_avx512, al_ai_f16_batch_avx512, blocks_amx, al_ai_quantize_q8_avx512, 16,
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
