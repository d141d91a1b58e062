/*
 * A small static program the sandbox tests run inside (and outside) a domain.
 * argv[1] names one action; it prints "OK" and exits 0 if the action worked,
 * prints "ERR <errno>" and exits 1 if it was refused. Killed by seccomp, it
 * exits by SIGSYS (seen as 128+31 through the domain's init).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

static int result(long r)
{
	if (r < 0) {
		printf("ERR %d\n", errno);
		return 1;
	}
	printf("OK\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *a = argv[1], *arg = argc > 2 ? argv[2] : "";
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(a, "noop"))
		return 0;
	if (!strcmp(a, "exit"))
		return atoi(arg);
	if (!strcmp(a, "pause")) {
		printf("READY\n");
		pause();
		return 0;
	}
	if (!strcmp(a, "read")) {
		int fd = open(arg, O_RDONLY);
		return result(fd);
	}
	if (!strcmp(a, "write")) {
		int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0 && write(fd, "x", 1) != 1)
			fd = -1;
		return result(fd);
	}
	if (!strcmp(a, "fd")) { /* writes OK to the passed fd number */
		int fd = atoi(arg);
		return result(write(fd, "OK\n", 3) == 3 ? 0 : -1);
	}
	if (!strcmp(a, "fdlist")) { /* the open fds, "0,1,2\n", written to fd arg */
		char buf[512];
		size_t o = 0;
		for (int fd = 0; fd < 1024 && o < sizeof buf - 8; fd++)
			if (fcntl(fd, F_GETFD) >= 0)
				o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%d", o ? "," : "", fd);
		buf[o++] = '\n';
		return write(atoi(arg), buf, o) == (ssize_t)o ? 0 : 1;
	}
	if (!strcmp(a, "accept")) { /* one connection on the passed listener: says hi */
		int c = accept4(atoi(arg), NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0 && write(c, "hi", 2) != 2)
			c = -1;
		return result(c);
	}
	if (!strcmp(a, "bind")) { /* a new socket on the passed listener's address */
		struct sockaddr_in sin;
		socklen_t len = sizeof sin;
		getsockname(atoi(arg), (struct sockaddr *)&sin, &len);
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			return result(s);
		return result(bind(s, (struct sockaddr *)&sin, len));
	}
	if (!strcmp(a, "memfd-exec")) { /* a copy of itself, exec'd from memory */
		int m = memfd_create("payload", MFD_CLOEXEC);
		if (m < 0)
			return result(m);
		int self = open("/proc/self/exe", O_RDONLY);
		char buf[65536];
		ssize_t n;
		while (self >= 0 && (n = read(self, buf, sizeof buf)) > 0)
			if (write(m, buf, (size_t)n) != n)
				return result(-1);
		char *args[] = { "probe", "noop", NULL };
		return result(syscall(SYS_execveat, m, "", args, environ, AT_EMPTY_PATH));
	}
	if (!strcmp(a, "copy-exec")) { /* a copy of itself written to arg, then exec'd */
		int self = open("/proc/self/exe", O_RDONLY);
		int out = open(arg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
		char buf[65536];
		ssize_t n;
		if (self < 0 || out < 0)
			return result(-1);
		while ((n = read(self, buf, sizeof buf)) > 0)
			if (write(out, buf, (size_t)n) != n)
				return result(-1);
		close(out);
		char *args[] = { "probe", "noop", NULL };
		execv(arg, args);
		return result(-1);
	}
	if (!strcmp(a, "fork-many")) { /* children that wait, until fork is refused */
		for (int n = 0; n < 4096; n++) {
			pid_t p = fork();
			if (p == 0) {
				pause();
				_exit(0);
			}
			if (p < 0) {
				printf("ERR %d after %d\n", errno, n);
				return 1;
			}
		}
		return result(0);
	}
	if (!strcmp(a, "hog")) { /* touches arg MiB of memory */
		size_t mb = (size_t)atol(arg);
		char *m = mmap(NULL, mb << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return result(-1);
		for (size_t i = 0; i < mb << 20; i += 4096)
			m[i] = 1;
		return result(0);
	}
	if (!strcmp(a, "fds")) { /* opens until refused */
		for (int n = 0; n < 100000; n++)
			if (fcntl(1, F_DUPFD, 0) < 0) {
				printf("ERR %d after %d\n", errno, n);
				return 1;
			}
		return result(0);
	}
	if (!strcmp(a, "mount"))
		return result(mount("none", "/tmp", "tmpfs", 0, NULL));
	if (!strcmp(a, "ptrace")) /* the domain's pid 1 */
		return result(ptrace(PTRACE_ATTACH, 1, NULL, NULL));
	if (!strcmp(a, "connect")) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			return result(s);
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(22),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		return result(connect(s, (struct sockaddr *)&sin, sizeof sin));
	}
	if (!strcmp(a, "unshare"))
		return result(unshare(CLONE_NEWUSER));
	if (!strcmp(a, "clone-ns"))
		return result(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
	if (!strcmp(a, "tiocsti")) {
		char c = 'x';
		return result(ioctl(0, TIOCSTI, &c));
	}
	if (!strcmp(a, "tiocsti-high")) {
		char c = 'x';
		return result(syscall(SYS_ioctl, 0, 0x100000000UL | TIOCSTI, &c));
	}
	if (!strcmp(a, "ioctl-ok")) /* FIONREAD on a pipe: an ordinary ioctl */
	{
		int p[2], n;
		if (pipe(p) < 0)
			return result(-1);
		return result(ioctl(p[0], FIONREAD, &n));
	}
	if (!strcmp(a, "x32"))
		return result(syscall(0x40000000L | 39)); /* getpid through x32 */
	if (!strcmp(a, "int80")) {
#if defined(__x86_64__)
		long r;
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory"); /* i386 getpid */
		errno = r < 0 ? (int)-r : 0;
		return result(r < 0 ? -1 : 0);
#else
		errno = ENOSYS; /* an x86 entry: no such instruction here */
		return result(-1);
#endif
	}
	if (!strcmp(a, "exec")) {
		char *args[] = { (char *)arg, NULL };
		execv(arg, args);
		return result(-1);
	}
	if (!strcmp(a, "mprotect-x")) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return result(-1);
		return result(mprotect(p, 4096, PROT_READ | PROT_EXEC));
	}
	if (!strcmp(a, "spec-enable"))
		return result(prctl(PR_SET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, PR_SPEC_ENABLE,
				    0, 0));
	/* a domain trying to raise its own scheduling priority */
	if (!strcmp(a, "raise-nice"))
		return result(setpriority(PRIO_PROCESS, 0, -10));
	if (!strcmp(a, "raise-rt")) {
		struct sched_param sp = { .sched_priority = 1 };
		return result(sched_setscheduler(0, SCHED_FIFO, &sp));
	}
	/* a 0.1 ms EEVDF slice: on a kernel with per-task slices, an earlier
	 * deadline than every task at the default one */
	if (!strcmp(a, "shorten-slice")) {
		struct { /* the kernel's struct sched_attr, first version */
			uint32_t size, sched_policy;
			uint64_t sched_flags;
			int32_t sched_nice;
			uint32_t sched_priority;
			uint64_t sched_runtime, sched_deadline, sched_period;
		} sa = { .size = sizeof sa, .sched_policy = SCHED_OTHER, .sched_nice = getpriority(PRIO_PROCESS, 0),
			 .sched_runtime = 100000 };
		return result((int)syscall(SYS_sched_setattr, 0, &sa, 0));
	}
	/* back from SCHED_BATCH/IDLE to SCHED_OTHER at the same nice value */
	if (!strcmp(a, "unbatch")) {
		struct sched_param sp = { 0 };
		return result(sched_setscheduler(0, SCHED_OTHER, &sp));
	}
	if (!strcmp(a, "fork")) {
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		if (p > 0)
			waitpid(p, NULL, 0);
		return result(p);
	}
	return 2;
}
