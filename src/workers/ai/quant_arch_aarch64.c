/*
 * aarch64 builds: no versions of their own yet, the portable ones run.
 * Meson picks this file.
 */
#include "workers/ai/quant_arch.h"

int al_ai_arch_kernels(const struct al_ai_kernels *list[AL_AI_ARCH_KERNELS])
{
	(void)list;
	return 0;
}
