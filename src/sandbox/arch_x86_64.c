/*
 * x86-64: the architecture-specific side of the sandbox (sandbox_int.h,
 * "arch_*.c"); meson builds the one file of the target architecture.
 *
 * seccomp: a filter is compiled for x86-64 alone, and libseccomp sends every
 * other entry to the bad-arch action, which kills: i386 through int 0x80
 * (another audit arch) and x32 (syscall numbers with bit 30 set).
 * Speculation: the kernel offers all three per-task controls here.
 * TSC: PR_SET_TSC makes rdtsc and rdtscp fault.
 */
#include <errno.h>
#include <seccomp.h>
#include <sys/prctl.h>

#include "sandbox/sandbox_int.h"

const char *const al_arch_name = "x86_64";
const char *const al_arch_foreign_abis = "i386 (int 0x80) and x32";

uint32_t al_arch_seccomp(void)
{
	return SCMP_ARCH_X86_64;
}

const char *al_arch_syscall_instead(const char *name)
{
	(void)name; /* every call a profile names exists here */
	return NULL;
}

bool al_arch_spec_offered(unsigned long which, const char **why)
{
	(void)which;
	*why = NULL;
	return true;
}

bool al_arch_tsc_offered(const char **why)
{
	*why = NULL;
	return true;
}

int al_arch_tsc_trap(void)
{
	return prctl(PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0) < 0 ? -errno : 0;
}
