/* Reaching another process: ptrace, process_vm_readv, kill. The target is
 * the pid given as first argument (the runner passes an `attacks victim`
 * outside the sandbox), else the parent. */
#include "probe.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long target_pid(int argc, char **argv)
{
	/* getppid only without an argument: a filter may refuse it before the attack */
	long pid = argc > 1 ? atk_arg_long(argc, argv, 1, 0) : (long)getppid();

	if (pid == getpid())
		return -1;
	return pid;
}

#define NO_TARGET() atk_blocked_as("NOTARGET", "no outside pid to aim at (parent pid is 0 and none given)")

int atk_ptrace(int argc, char **argv)
{
	long pid = target_pid(argc, argv);
	int st;

	if (pid <= 0)
		return NO_TARGET();
	atk_reached("ptrace");
	if (ptrace(PTRACE_ATTACH, (pid_t)pid, 0, 0) < 0)
		return atk_failed(errno, "ptrace(PTRACE_ATTACH)");
	/* Wait (at most 2 s) for the attach stop, peek, and let it go. */
	for (int i = 0; i < 200; i++) {
		if (waitpid((pid_t)pid, &st, __WALL | WNOHANG) == (pid_t)pid)
			break;
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	errno = 0;
	long word = ptrace(PTRACE_PEEKDATA, (pid_t)pid, atk_victim_secret, 0);
	int peek_err = errno;
	ptrace(PTRACE_DETACH, (pid_t)pid, 0, 0);
	if (peek_err == 0 && memcmp(&word, ATK_VICTIM_SECRET, sizeof(word)) == 0)
		return atk_escaped("attached to pid %ld and read its secret", pid);
	return atk_escaped("attached to pid %ld", pid);
}

int atk_process_vm_readv(int argc, char **argv)
{
	long pid = target_pid(argc, argv);
	char buf[sizeof(atk_victim_secret)];
	struct iovec local = { buf, sizeof(buf) };
	struct iovec remote = { atk_victim_secret, sizeof(buf) };

	if (pid <= 0)
		return NO_TARGET();
	memset(buf, 0, sizeof(buf));
	atk_reached("process_vm_readv");
	ssize_t n = process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0);
	if (n < 0 && errno == EFAULT)
		return atk_escaped("access to pid %ld granted (the address is not mapped there)", pid);
	if (n < 0)
		return atk_failed(errno, "process_vm_readv");
	buf[sizeof(buf) - 1] = 0;
	if (strcmp(buf, ATK_VICTIM_SECRET) == 0)
		return atk_escaped("read %zd bytes of pid %ld: its secret \"%s\"", n, pid, buf);
	return atk_escaped("read %zd bytes of pid %ld", n, pid);
}

int atk_kill(int argc, char **argv)
{
	long pid = target_pid(argc, argv);

	if (pid <= 0)
		return NO_TARGET();
	/* Signal 0 runs the whole permission check and delivers nothing. */
	atk_reached("kill");
	if (kill((pid_t)pid, 0) < 0)
		return atk_failed(errno, "kill");
	return atk_escaped("allowed to signal pid %ld", pid);
}
