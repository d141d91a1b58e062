/* This build runs on 64-bit ARM: the CPU items are arm64's (cpu_arm64.c). Meson picks this file. */
#include "hw/probe.h"

const enum al_hw_arch al_hw_arch_native = AL_HW_ARCH_AARCH64;
