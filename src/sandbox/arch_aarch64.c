/*
 * 64-bit ARM: the architecture-specific side of the sandbox (sandbox_int.h,
 * "arch_*.c"); meson builds the one file of the target architecture.
 *
 * seccomp: a filter is compiled for AArch64 alone, so a call through the
 * AArch32 compat ABI (a 32-bit ARM program, another audit arch) meets the
 * bad-arch action and kills. Calls that AArch64 never had (open, stat, fork,
 * poll, readlink, ...) have no number here. The C library makes the call
 * that replaced each (openat, newfstatat, clone, ppoll, readlinkat), so a
 * profile that allows the old name allows that one here: the same service,
 * as the profiles are written with x86-64's names.
 * Speculation: arm64 Linux offers a per-task control for store bypass only
 * (PR_SPEC_STORE_BYPASS, through SSBS or the firmware); branch predictor
 * hardening is the kernel's own, on every context switch, with no per-task
 * switch, and there is no L1D flush control.
 * TSC: the counterpart of rdtsc is the virtual counter (CNTVCT_EL0), which
 * Linux leaves readable by every task (the vDSO's clock reads it) and cannot
 * take away from one task: absent, with that reason.
 */
#include <errno.h>
#include <seccomp.h>
#include <string.h>
#include <sys/prctl.h>

#include "sandbox/sandbox_int.h"

const char *const al_arch_name = "aarch64";
const char *const al_arch_foreign_abis = "AArch32 (arm32 compat)";

uint32_t al_arch_seccomp(void)
{
	return SCMP_ARCH_AARCH64;
}

/* What the C library calls on AArch64 where x86-64 has the older call. */
static const char *const instead[][2] = {
	{ "open", "openat" },         { "creat", "openat" },        { "stat", "newfstatat" },
	{ "lstat", "newfstatat" },    { "access", "faccessat" },    { "readlink", "readlinkat" },
	{ "poll", "ppoll" },          { "select", "pselect6" },     { "pause", "ppoll" },
	{ "dup2", "dup3" },           { "pipe", "pipe2" },          { "epoll_wait", "epoll_pwait" },
	{ "epoll_create", "epoll_create1" }, { "eventfd", "eventfd2" }, { "signalfd", "signalfd4" },
	{ "inotify_init", "inotify_init1" }, { "getdents", "getdents64" }, { "unlink", "unlinkat" },
	{ "rmdir", "unlinkat" },      { "mkdir", "mkdirat" },       { "mknod", "mknodat" },
	{ "rename", "renameat" },     { "link", "linkat" },         { "symlink", "symlinkat" },
	{ "chmod", "fchmodat" },      { "chown", "fchownat" },      { "lchown", "fchownat" },
	{ "utime", "utimensat" },     { "utimes", "utimensat" },    { "futimesat", "utimensat" },
	{ "fork", "clone" },          { "vfork", "clone" },         { "alarm", "setitimer" },
	{ "getpgrp", "getpgid" },
};

const char *al_arch_syscall_instead(const char *name)
{
	for (size_t i = 0; i < sizeof instead / sizeof instead[0]; i++)
		if (strcmp(name, instead[i][0]) == 0)
			return instead[i][1];
	return NULL;
}

bool al_arch_spec_offered(unsigned long which, const char **why)
{
	if (which == PR_SPEC_STORE_BYPASS) {
		*why = NULL;
		return true;
	}
	*why = which == PR_SPEC_INDIRECT_BRANCH
		       ? "arm64 has no per-task control: the kernel hardens branch prediction itself"
		       : "arm64 has no per-task L1D flush";
	return false;
}

bool al_arch_tsc_offered(const char **why)
{
	*why = "arm64 has no tsc trap: the virtual counter (CNTVCT_EL0) stays readable, and Linux cannot "
	       "disable it per task";
	return false;
}

int al_arch_tsc_trap(void)
{
	return -EOPNOTSUPP;
}
