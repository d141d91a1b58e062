/* Resource exhaustion, bounded so that an unsandboxed run cannot hurt the
 * machine: the fork bomb stops at N processes (default 2000) and reaps them,
 * the memory hog at N MiB (default 4096, and never above half of the
 * available memory), fd exhaustion at N descriptors (default 65536).
 * ESCAPED = the bound was reached with no limit in the way. */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FORKS 2000

/* Children sleep on a shared futex word (no pipe: the compute profile has
 * no pipe2) and leave when it changes, after 60 s, or when we die. */
int atk_fork_bomb(int argc, char **argv)
{
	long bound = atk_arg_long(argc, argv, 1, MAX_FORKS);
	pid_t *kids;
	uint32_t *gate;
	long n = 0;
	int err = 0;

	if (bound <= 0 || bound > MAX_FORKS)
		bound = MAX_FORKS;
	kids = calloc((size_t)bound, sizeof(*kids));
	gate = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!kids || gate == MAP_FAILED)
		return atk_unexpected(errno, "setup: %s", strerror(errno));
	atk_reached("clone");
	for (; n < bound; n++) {
		pid_t p = fork();
		if (p < 0) {
			err = errno;
			break;
		}
		if (p == 0) {
			struct timespec t = { 60, 0 };
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(0);
			while (__atomic_load_n(gate, __ATOMIC_ACQUIRE) == 0 &&
			       (syscall(SYS_futex, gate, FUTEX_WAIT, 0, &t, NULL, 0) == 0 || errno == EINTR))
				;
			_exit(0);
		}
		kids[n] = p;
	}
	__atomic_store_n(gate, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, gate, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
	for (long i = 0; i < n; i++)
		waitpid(kids[i], NULL, 0);
	free(kids);
	munmap(gate, 4096);
	if (n >= bound)
		return atk_escaped("forked %ld processes (the bound) with no limit in the way", n);
	atk_note("fork refused after %ld children", n);
	if (err == EAGAIN)
		return atk_blocked(err, "fork refused with EAGAIN after %ld children (bound %ld)", n, bound);
	return atk_failed(err, "fork");
}

static long mem_available_mib(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib < 0 ? -1 : kib / 1024;
}

#define CHUNK_MIB 16

int atk_memory_hog(int argc, char **argv)
{
	long bound = atk_arg_long(argc, argv, 1, 0);
	volatile long *progress;
	int st;

	/* An explicit bound is the caller's choice (at most 8 GiB), taken as is
	 * so that no file needs to be read (compute has none); without one,
	 * 4 GiB and never more than half of the available memory. */
	if (bound <= 0 || bound > 8192) {
		long avail = mem_available_mib();
		bound = 4096;
		if (avail > 0 && bound > avail / 2)
			bound = avail / 2;
	}
	/* The hog is a child, so that an OOM kill is seen and reported here. */
	progress = mmap(NULL, 2 * sizeof(long), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (progress == MAP_FAILED)
		return atk_unexpected(errno, "mmap shared: %s", strerror(errno));
	atk_reached("clone");
	pid_t p = fork();
	if (p < 0)
		return atk_failed(errno, "fork");
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		atk_reached("mmap");
		for (long got = 0; got < bound; got += CHUNK_MIB) {
			char *m = mmap(NULL, CHUNK_MIB << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m == MAP_FAILED) {
				progress[1] = errno;
				_exit(1);
			}
			for (long off = 0; off < (CHUNK_MIB << 20); off += 4096)
				m[off] = 1;
			progress[0] = got + CHUNK_MIB;
		}
		_exit(0);
	}
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	long got = progress[0];
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return atk_escaped("allocated and touched %ld MiB (the bound) with no limit in the way", got);
	if (WIFEXITED(st)) {
		atk_note("mmap refused after %ld MiB", got);
		return atk_failed((int)progress[1], "mmap");
	}
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		return atk_blocked_as("OOMKILL", "hog killed by SIGKILL after %ld MiB", got);
	return atk_unexpected(0, "hog died of signal %d after %ld MiB", WIFSIGNALED(st) ? WTERMSIG(st) : 0, got);
}

int atk_fd_exhaust(int argc, char **argv)
{
	long bound = atk_arg_long(argc, argv, 1, 65536);
	struct rlimit rl;
	int base = 2;
	long n = 0;

	if (bound <= 0 || bound > 65536)
		bound = 65536;
	/* Raise the soft limit towards the hard one, as anyone may; the hard
	 * limit is never raised, so it is the limit that holds. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rlim_t want = (rlim_t)bound + 16;
		rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Duplicate stderr (no pipe: compute has no pipe2). */
	if (fcntl(base, F_GETFD) < 0)
		return atk_unexpected(errno, "stderr is not open: %s", strerror(errno));
	atk_reached("fcntl");
	for (; n < bound; n++) {
		if (fcntl(base, F_DUPFD_CLOEXEC, 0) < 0) {
			int e = errno;
			atk_note("descriptor %ld refused", n);
			if (e != EMFILE && e != ENFILE)
				return atk_failed(e, "dup");
			return atk_blocked(e, "dup refused after %ld descriptors (bound %ld): %s", n, bound, strerror(e));
		}
	}
	return atk_escaped("opened %ld descriptors (the bound) with no limit in the way", n);
}
