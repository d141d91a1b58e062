/*
 * Stage-2 seccomp for the protocol domain. Installed once the listener is
 * held and before any thread starts or any client byte is read, so the code
 * that parses untrusted input can never open a new network path or exec.
 */
#include "workers/proto/proto.h"

#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <seccomp.h>
#include <string.h>

/* What serving needs: I/O on fds we hold, threads, memory, time, randomness. */
static const char *const allowed[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "close", "fstat", "newfstatat",
	"lseek", "mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "rt_sigaction",
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

int al_proto_lockdown(void)
{
	/* Anything unlisted kills the process. An errno default would also hide the
	 * call from the supervisor: the kernel ranks ERRNO above the stage-1
	 * filter's USER_NOTIF, so no violation would ever be reported. A death by
	 * SIGSYS is seen, audited and answered with a clean restart. The calls
	 * that would reopen what the sandbox closed (socket, socketpair, bind,
	 * listen, connect, execve, execveat, ptrace, process_vm_*) are among them.
	 * (libseccomp refuses rules whose action equals the default, so they are
	 * not listed again.) */
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	/* Every thread, including any the libraries started, gets the same filter. */
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	/* x32 and 32-bit entry points are not the native ABI: refuse them outright. */
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; rc == 0 && i < AL_ARRAY_LEN(allowed); i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0)
		al_log_warnx("proto: seccomp stage 2: %s", strerror(-rc));
	return rc;
}
