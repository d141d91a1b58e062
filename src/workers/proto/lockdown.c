/*
 * Stage-2 seccomp for the protocol domain. Installed once the listener is
 * held and before any thread starts or any client byte is read, so the code
 * that parses untrusted input can never open a new network path or exec.
 */
#include "workers/proto/proto.h"

#include "common/log.h"
#include "common/util.h"
#include "workers/stage2/stage2.h"

#include <errno.h>
#include <sys/mman.h>

/* What serving needs: I/O on fds we hold, threads, memory, time, randomness. */
static const char *const allowed[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "close", "fstat", "newfstatat",
	"lseek", "munmap", "mremap", "madvise", "brk", "rt_sigaction",
	"rt_sigprocmask", "rt_sigreturn", "sigaltstack", "futex", "set_robust_list",
	"get_robust_list", "rseq", "clone", "clone3", "exit", "exit_group", "gettid", "getpid",
	"tgkill", "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres",
	"gettimeofday", "poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl",
	"epoll_wait", "epoll_pwait", "eventfd2", "pipe2", "fcntl", "ioctl", "accept4", "accept",
	"recvfrom", "recvmsg", "sendto", "sendmsg", "shutdown", "getsockopt", "setsockopt",
	"getsockname", "getpeername", "sched_yield", "getrandom", "prctl", "sched_getaffinity",
	"membarrier", "restart_syscall", "rt_sigtimedwait", "rt_sigpending", "prlimit64", "getrlimit", "sendfile", "dup",
	/* the AI domain's next channel, put at the number the first one had */
	"dup3",
};

int al_proto_lockdown(bool follow)
{
	/* The calls that would reopen what the sandbox closed (socket,
	 * socketpair, bind, listen, connect, execve, execveat, ptrace,
	 * process_vm_*) are not listed: they kill. Every thread, including any
	 * the libraries started, gets the filter. */
	scmp_filter_ctx ctx = al_stage2_new(true);
	if (!ctx)
		return -ENOMEM;
	int rc = al_stage2_allow(ctx, allowed, AL_ARRAY_LEN(allowed));
	/* Only when the supervisor asked for it (--follow-client), which it does
	 * only at levels that leave the domains on every CPU: the call could
	 * widen a thread back to CPUs a pinning level took away. */
	if (rc == 0 && follow)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sched_setaffinity), 0);
	/* Memory for buffers and thread stacks, never executable: the libraries
	 * are mapped already, and no mapping made from here on (the channel's
	 * shared file included) may be run. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	return al_stage2_load(ctx, rc, "proto");
}
