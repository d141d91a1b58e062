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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FORKS 2000

int atk_fork_bomb(int argc, char **argv)
{
	long bound = atk_arg_long(argc, argv, 1, MAX_FORKS);
	pid_t *kids;
	int gate[2];
	long n = 0;
	int err = 0;

	if (bound <= 0 || bound > MAX_FORKS)
		bound = MAX_FORKS;
	kids = calloc((size_t)bound, sizeof(*kids));
	if (!kids || pipe2(gate, O_CLOEXEC) < 0)
		return atk_unexpected(errno, "setup: %s", strerror(errno));
	/* Children wait on the pipe and leave when it closes, or when we die. */
	for (; n < bound; n++) {
		pid_t p = fork();
		if (p < 0) {
			err = errno;
			break;
		}
		if (p == 0) {
			char c;
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(gate[1]);
			if (getppid() == 1)
				_exit(0);
			while (read(gate[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
		kids[n] = p;
	}
	close(gate[1]);
	close(gate[0]);
	for (long i = 0; i < n; i++)
		waitpid(kids[i], NULL, 0);
	free(kids);
	if (n >= bound)
		return atk_escaped("forked %ld processes (the bound) with no limit in the way", n);
	atk_note("fork refused after %ld children", n);
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
	long bound = atk_arg_long(argc, argv, 1, 4096);
	long avail = mem_available_mib();
	volatile long *progress;
	int st;

	if (bound <= 0 || bound > 4096)
		bound = 4096;
	if (avail > 0 && bound > avail / 2)
		bound = avail / 2;
	/* The hog is a child, so that an OOM kill is seen and reported here. */
	progress = mmap(NULL, 2 * sizeof(long), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (progress == MAP_FAILED)
		return atk_unexpected(errno, "mmap shared: %s", strerror(errno));
	pid_t p = fork();
	if (p < 0)
		return atk_failed(errno, "fork");
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
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
	int base[2];
	long n = 0;

	if (bound <= 0 || bound > 65536)
		bound = 65536;
	/* Raise the soft limit to the hard one (anyone may), and the hard one
	 * too where privilege allows: the limit that holds is the hard one. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		struct rlimit want = { (rlim_t)bound + 16, (rlim_t)bound + 16 };
		if (setrlimit(RLIMIT_NOFILE, &want) < 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	if (pipe2(base, O_CLOEXEC) < 0)
		return atk_failed(errno, "pipe");
	for (; n < bound; n++) {
		if (fcntl(base[0], F_DUPFD_CLOEXEC, 0) < 0) {
			int e = errno;
			atk_note("descriptor %ld refused", n);
			return atk_failed(e, "dup");
		}
	}
	return atk_escaped("opened %ld descriptors (the bound) with no limit in the way", n);
}
