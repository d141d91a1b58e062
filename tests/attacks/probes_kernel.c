/* Probes of kernel interfaces a domain must never reach: other syscall
 * entries, io_uring, perf, userfaultfd, bpf, keys, file handles,
 * personality, kcmp. */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/kcmp.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/* x32 entry: getpid with the x32 bit set (x32 getpid is 39, as on x86-64). */
int atk_x32(int argc, char **argv)
{
	atk_reached("x32_getpid");
	long r = syscall(__X32_SYSCALL_BIT | 39);

	if (r == getpid())
		return atk_escaped("x32 getpid returned our pid %ld", r);
	if (r < 0 && errno == ENOSYS)
		return atk_unavailable(ENOSYS, "x32 syscall entry refused with ENOSYS (x32 ABI absent, or a filter answering ENOSYS)");
	if (r < 0)
		return atk_failed(errno, "x32 getpid");
	return atk_unexpected(0, "x32 getpid returned %ld, pid is %d", r, (int)getpid());
}

static sigjmp_buf int80_jmp;

static void int80_segv(int sig)
{
	siglongjmp(int80_jmp, sig);
}

/* 32-bit entry from 64-bit code: int $0x80 with the i386 getpid (20). */
int atk_int80(int argc, char **argv)
{
	volatile long r = 0;

	signal(SIGSEGV, int80_segv);
	if (sigsetjmp(int80_jmp, 1))
		return atk_unavailable(0, "int $0x80 raised SIGSEGV: 32-bit entry disabled in this kernel");
#if defined(__x86_64__)
	atk_reached("int80_getpid");
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory", "cc", "r8", "r9", "r10", "r11");
#else
	signal(SIGSEGV, SIG_DFL);
	return atk_unavailable(ENOSYS, "int $0x80 is an x86 instruction: no i386 entry on this architecture");
#endif
	signal(SIGSEGV, SIG_DFL);
	if (r == getpid())
		return atk_escaped("int $0x80 getpid returned our pid %ld", (long)r);
	if (r < 0 && r > -4096)
		return atk_failed((int)-r, "int $0x80 getpid");
	return atk_unexpected(0, "int $0x80 getpid returned %ld", (long)r);
}

int atk_io_uring(int argc, char **argv)
{
	struct io_uring_params p;
	long fd;

	memset(&p, 0, sizeof(p));
	atk_reached("io_uring_setup");
	fd = syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0)
		return atk_failed(errno, "io_uring_setup");
	close((int)fd);
	return atk_escaped("io_uring_setup gave fd %ld (sq %u entries)", fd, p.sq_entries);
}

int atk_perf_event_open(int argc, char **argv)
{
	struct perf_event_attr a;
	long fd;

	/* User-space-only self monitoring: the least privileged form, which
	 * perf_event_paranoid=2 still allows. */
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	atk_reached("perf_event_open");
	fd = syscall(__NR_perf_event_open, &a, 0, -1, -1, 0);
	if (fd < 0)
		return atk_failed(errno, "perf_event_open");
	close((int)fd);
	return atk_escaped("perf_event_open gave fd %ld", fd);
}

int atk_userfaultfd(int argc, char **argv)
{
	/* User-mode-only first: that is what an unprivileged process may ask. */
	atk_reached("userfaultfd");
	long fd = syscall(__NR_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);

	if (fd < 0 && errno == EINVAL)
		fd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (fd < 0)
		return atk_failed(errno, "userfaultfd");
	close((int)fd);
	return atk_escaped("userfaultfd gave fd %ld", fd);
}

int atk_bpf(int argc, char **argv)
{
	union bpf_attr a;
	long fd;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 1;
	atk_reached("bpf");
	fd = syscall(__NR_bpf, BPF_MAP_CREATE, &a, sizeof(a));
	if (fd < 0)
		return atk_failed(errno, "bpf(BPF_MAP_CREATE)");
	close((int)fd);
	return atk_escaped("bpf map created, fd %ld", fd);
}

int atk_keyctl(int argc, char **argv)
{
	/* The process keyring dies with this process: nothing is left behind. */
	atk_reached("add_key");
	long key = syscall(__NR_add_key, "user", "airlock-attack", "x", 1, KEY_SPEC_PROCESS_KEYRING);

	if (key < 0)
		return atk_failed(errno, "add_key");
	long r = syscall(__NR_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0);
	if (r < 0)
		return atk_escaped("add_key made key %ld (keyctl then failed: %s)", key, strerror(errno));
	return atk_escaped("add_key made key %ld; user keyring id %ld", key, r);
}

int atk_open_by_handle_at(int argc, char **argv)
{
	struct {
		struct file_handle fh;
		unsigned char buf[MAX_HANDLE_SZ];
	} h;
	int mount_id, mfd, fd;

	memset(&h, 0, sizeof(h));
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	atk_reached("name_to_handle_at");
	if (name_to_handle_at(AT_FDCWD, "/", &h.fh, &mount_id, 0) < 0) {
		/* Forge a handle as "shocker" did: the permission check comes
		 * before the handle is looked at. */
		atk_note("name_to_handle_at: %s; forging a handle", strerror(errno));
		h.fh.handle_bytes = 8;
		h.fh.handle_type = 1; /* FILEID_INO32_GEN */
		uint32_t ino_gen[2] = { 2, 0 };
		memcpy(h.fh.f_handle, ino_gen, sizeof(ino_gen));
	}
	mfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return atk_failed(errno, "open /");
	atk_reached("open_by_handle_at");
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		close(mfd);
		if (e == ESTALE || e == EINVAL)
			return atk_unexpected(e, "open_by_handle_at passed the permission check but the handle was refused: %s", strerror(e));
		return atk_failed(e, "open_by_handle_at");
	}
	close(fd);
	close(mfd);
	return atk_escaped("open_by_handle_at opened the root by handle");
}

int atk_personality(int argc, char **argv)
{
	atk_reached("personality");
	int old = personality(0xffffffff);

	if (old < 0)
		return atk_failed(errno, "personality(query)");
	if (personality((unsigned long)old | READ_IMPLIES_EXEC | ADDR_NO_RANDOMIZE) < 0)
		return atk_failed(errno, "personality(READ_IMPLIES_EXEC|ADDR_NO_RANDOMIZE)");
	int now = personality(0xffffffff);
	if (now >= 0 && (now & READ_IMPLIES_EXEC) && (now & ADDR_NO_RANDOMIZE))
		return atk_escaped("personality now 0x%x (READ_IMPLIES_EXEC|ADDR_NO_RANDOMIZE)", now);
	return atk_blocked_as("NOCHANGE", "personality call succeeded but reads back 0x%x", now);
}

int atk_kcmp(int argc, char **argv)
{
	long pid = argc > 1 ? atk_arg_long(argc, argv, 1, 0) : (long)getppid();

	if (pid <= 0)
		return atk_blocked_as("NOTARGET", "no outside pid to compare with (parent pid is 0)");
	atk_reached("kcmp");
	long r = syscall(__NR_kcmp, getpid(), (pid_t)pid, KCMP_VM, 0, 0);
	if (r < 0)
		return atk_failed(errno, "kcmp");
	return atk_escaped("kcmp(self, %ld, KCMP_VM) = %ld", pid, r);
}
