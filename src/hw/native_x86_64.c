/* This build runs on x86-64: the CPU items are x86's (cpu_x86.c). Meson picks this file. */
#include "hw/probe.h"

const enum al_hw_arch al_hw_arch_native = AL_HW_ARCH_X86_64;
