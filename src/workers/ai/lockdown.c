/*
 * Stage-2 seccomp filter of the AI worker. By the time it is installed the
 * model is mapped and every buffer is allocated, so generation needs only
 * memory management for malloc, writes of its output, the channel fd, futex
 * and the clock. Everything else, including open, socket, execve, ptrace and
 * any PROT_EXEC mapping, kills the whole process.
 */
#include "workers/ai/worker.h"

#include <errno.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "workers/stage2/stage2.h"

#define ALLOW(name, ...)                                                                      \
	do {                                                                                  \
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(name), __VA_ARGS__)) < 0) \
			goto out;                                                             \
	} while (0)

int al_ai_lockdown(int channel_fd, int report_fd)
{
	scmp_filter_ctx ctx;
	int rc;

	/* seccomp without privileges requires no_new_privs; the supervisor set
	 * it already, standalone runs set it here. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		rc = -errno;
		al_log_warn("ai: no_new_privs");
		return rc;
	}
	/* Memory-deny-write-execute (Linux 6.3+), best effort: the filter below
	 * already refuses PROT_EXEC, this also refuses it for mappings the
	 * filter allows, e.g. an mprotect of a file-backed mapping. */
#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif
	if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) < 0 && errno != EINVAL)
		al_log_warn("ai: PR_SET_MDWE");
	/* The engine's threads were started during setup: the filter must cover
	 * every thread at once, or loading fails. */
	ctx = al_stage2_new(true);
	if (!ctx)
		return -ENOMEM;

	/* Output: stdout and stderr, and the report pipe. The channel is shared
	 * memory: a plain read or write of its fd would only bypass the rings. */
	(void)channel_fd;
	ALLOW(write, 1, SCMP_A0(SCMP_CMP_EQ, STDOUT_FILENO));
	ALLOW(write, 1, SCMP_A0(SCMP_CMP_EQ, STDERR_FILENO));
	ALLOW(writev, 1, SCMP_A0(SCMP_CMP_EQ, STDERR_FILENO));
	if (report_fd >= 0)
		ALLOW(write, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)report_fd));
	/* malloc: data and anonymous memory, never executable. */
	ALLOW(brk, 0);
	ALLOW(mmap, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	ALLOW(mprotect, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	ALLOW(munmap, 0);
	ALLOW(mremap, 0);
	ALLOW(madvise, 0);
	/* Waiting on the channel's futex word, timing requests. */
	ALLOW(futex, 0);
	ALLOW(clock_gettime, 0);
	ALLOW(clock_nanosleep, 0);
	ALLOW(sched_yield, 0);
	ALLOW(rt_sigreturn, 0);
	/* A thread's exit in glibc: block signals, unregister its rseq area. */
	ALLOW(rt_sigprocmask, 0);
	ALLOW(rseq, 0);
#if defined(__SANITIZE_ADDRESS__)
	/* Sanitizer builds only: ASan removes each thread's alternate signal stack as it exits. */
	ALLOW(sigaltstack, 0);
#endif
	ALLOW(exit, 0);
	ALLOW(exit_group, 0);

out:
	return al_stage2_load(ctx, rc, "ai");
}
