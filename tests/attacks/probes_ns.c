/* Privilege: namespaces, mounts, uid 0 and capabilities. */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NS_FLAGS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC)

int atk_userns(int argc, char **argv)
{
	atk_reached("unshare");
	if (unshare(CLONE_NEWUSER) < 0)
		return atk_failed(errno, "unshare(CLONE_NEWUSER)");
	return atk_escaped("unshare(CLONE_NEWUSER) made a nested user namespace");
}

static int reap_ns_child(long pid, const char *call)
{
	int st;

	if (pid < 0)
		return atk_failed(errno, call);
	if (pid == 0)
		syscall(SYS_exit_group, 0); /* child: leave at once */
	waitpid((pid_t)pid, &st, 0);
	return atk_escaped("%s with namespace flags made child %ld", call, pid);
}

int atk_clone3_ns(int argc, char **argv)
{
	struct clone_args a;

	memset(&a, 0, sizeof(a));
	a.flags = NS_FLAGS;
	a.exit_signal = SIGCHLD;
	atk_reached("clone3");
	return reap_ns_child(syscall(__NR_clone3, &a, sizeof(a)), "clone3");
}

int atk_clone_ns(int argc, char **argv)
{
	/* x86-64 order: flags, stack, parent_tid, child_tid, tls. */
	atk_reached("clone");
	return reap_ns_child(syscall(SYS_clone, NS_FLAGS | SIGCHLD, 0, 0, 0, 0), "clone");
}

int atk_setns(int argc, char **argv)
{
	long pid = atk_arg_long(argc, argv, 1, (long)getpid());
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/ns/uts", pid);
	atk_reached("openat");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return atk_failed(errno, path);
	atk_reached("setns");
	if (setns(fd, CLONE_NEWUTS) < 0)
		return atk_failed(errno, "setns");
	close(fd);
	return atk_escaped("setns joined the uts namespace of pid %ld", pid);
}

int atk_mount(int argc, char **argv)
{
	char dir[] = "/tmp/airlock-attack-XXXXXX";
	/* A given directory (the runner's work dir) needs no mkdir first, a
	 * call a filter may refuse before the attack. */
	const char *target = argc > 1 ? argv[1] : mkdtemp(dir);
	int made = argc <= 1 && target != NULL;

	if (!target)
		target = ".";
	atk_reached("mount");
	if (mount("airlock-attack", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k") < 0) {
		int e = errno;
		if (made)
			rmdir(dir);
		return atk_failed(e, "mount tmpfs");
	}
	umount2(target, MNT_DETACH);
	if (made)
		rmdir(dir);
	return atk_escaped("mounted (and unmounted) a tmpfs on %s", target);
}

static int caps_effective(uint32_t *eff0)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	*eff0 = d[0].effective;
	return 0;
}

#define CAP_BIT(c) (UINT32_C(1) << (c))
#define WANTED_CAPS (CAP_BIT(CAP_SYS_ADMIN) | CAP_BIT(CAP_SYS_PTRACE) | CAP_BIT(CAP_NET_ADMIN) | CAP_BIT(CAP_DAC_OVERRIDE))

/* uid 0 alone is no escape (it is also what a user namespace shows); the
 * attack succeeds when it brings CAP_SYS_ADMIN with it. */
int atk_setuid(int argc, char **argv)
{
	uint32_t eff = 0;

	atk_reached("setresuid");
	if (setresuid(0, 0, 0) < 0) {
		if (errno == EINVAL)
			return atk_blocked(EINVAL, "setresuid(0,0,0): uid 0 does not exist in this user namespace");
		return atk_failed(errno, "setresuid(0,0,0)");
	}
	if (caps_effective(&eff) < 0)
		return atk_failed(errno, "capget");
	if (eff & CAP_BIT(CAP_SYS_ADMIN))
		return atk_escaped("uid 0 with CAP_SYS_ADMIN (effective caps 0x%08x)", eff);
	return atk_blocked_as("NOCAPS", "setresuid(0) worked but effective caps are 0x%08x", eff);
}

int atk_capset(int argc, char **argv)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	uint32_t eff = 0;

	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = d[0].inheritable = WANTED_CAPS;
	atk_reached("capset");
	if (syscall(SYS_capset, &h, d) < 0)
		return atk_failed(errno, "capset");
	if (caps_effective(&eff) < 0)
		return atk_failed(errno, "capget");
	if (eff & CAP_BIT(CAP_SYS_ADMIN))
		return atk_escaped("capset raised CAP_SYS_ADMIN (effective caps 0x%08x)", eff);
	return atk_blocked_as("NOCAPS", "capset returned 0 but effective caps are 0x%08x", eff);
}
