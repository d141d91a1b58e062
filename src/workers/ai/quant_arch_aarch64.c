/*
 * aarch64 builds: the Advanced SIMD versions (quant_neon.c), the block
 * types' also with SDOT where the kernel reports it (AT_HWCAP). Meson picks
 * this file.
 */
#include "workers/ai/quant_arch.h"

#include <sys/auxv.h>

#include "workers/ai/quant_neon.h"

/* arch/arm64/include/uapi/asm/hwcap.h */
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1UL << 1)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif

/* The other vectorised steps (exponentials, attention's sums, RMSNorm's) take the portable loops. */
static const struct al_ai_kernels neon = {
	.name = "neon", .f32_batch = al_ai_f32_batch_neon, .f16_batch = al_ai_f16_batch_neon,
	.blocks_batch = al_ai_blocks_batch_neon, .quantize_q8 = al_ai_quantize_q8_neon, .quantize_gs = 4,
};
static const struct al_ai_kernels dotprod = {
	.name = "dotprod", .f32_batch = al_ai_f32_batch_neon, .f16_batch = al_ai_f16_batch_neon,
	.blocks_batch = al_ai_blocks_batch_dotprod, .quantize_q8 = al_ai_quantize_q8_neon, .quantize_gs = 4,
};

int al_ai_arch_kernels(const struct al_ai_kernels *list[AL_AI_ARCH_KERNELS])
{
	/* Advanced SIMD is part of every AArch64 CPU Linux runs on; the
	 * kernel still says so, and a CPU that says otherwise gets the portable code. */
	unsigned long hw = getauxval(AT_HWCAP);
	int k = 0;
	if (!(hw & HWCAP_ASIMD))
		return 0;
	list[k++] = &neon;
	if (hw & HWCAP_ASIMDDP)
		list[k++] = &dotprod;
	return k;
}
