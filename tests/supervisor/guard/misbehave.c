/*
 * A domain program that misbehaves on purpose, for the guard's integration
 * tests and benchmark. Static (the compute profile has no filesystem), built
 * once per mode (-DMODE_...), started in the AI domain's place through
 * [domain.ai] command; it receives the AI domain's fds (3 channel, 4 model,
 * 5 tokenizer) and ignores them.
 *
 *   MODE_IDLE     sleeps: a well-behaved domain (integrity tests)
 *   MODE_SYSCALL  makes one forbidden call (socket) shortly after start, but
 *                 only while it is not pinned to one CPU: an attacker that
 *                 lies low once the level is raised (HIGH pins the domains
 *                 apart), so the level can be seen coming back down
 *   MODE_BENCH    the freeze benchmark: loops { write CLOCK_MONOTONIC to the
 *                 shared page at fd 3, forbidden call } so the runner can time
 *                 call -> frozen
 *   MODE_SPIN     idles 15 s (long enough to look normal), then a timing
 *                 loop that never sleeps (side channel)
 *   MODE_LEAK     idles 15 s, then touches 32 MiB more memory each second
 *   MODE_HOSTILE  a compromised AI domain reaching across: writes a forged
 *                 JSON-RPC response to fd 1 and a forged supervisor line to
 *                 fd 2, reads fd 0, lists its own fds (each step announced
 *                 on fd 2 first), then does what the model file (fd 4)
 *                 says: "exit N", "signal N" or "idle"
 *   MODE_SCRIBBLE after 0.5 s, writes a producer index into the channel that
 *                 claims more bytes than the ring holds, and wakes the
 *                 protocol domain to read it (a corrupted AI domain)
 *   MODE_RAISE    after 1 s, tries to raise its own priority (SCHED_FIFO 50,
 *                 then nice -10), says on fd 2 what each attempt returned,
 *                 then idles
 *   MODE_SPINIO   in the protocol domain's place: two threads named as the
 *                 worker contract names I/O threads (AL_WORKER_IO_THREAD),
 *                 so the real-time class gives them SCHED_RR, spinning
 *                 without ever sleeping (a compromised protocol domain)
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef MODE_HOSTILE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#endif
#if defined(MODE_RAISE)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#endif
#if defined(MODE_SPINIO)
#include <pthread.h>
#include <sys/prctl.h>
#include "airlock/worker.h"
#endif
#ifdef MODE_SCRIBBLE
#include <linux/futex.h>
#include <sys/syscall.h>
#include "channel/channel_int.h"
#endif

static __attribute__((unused)) void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static __attribute__((unused)) int ncpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) < 0)
		return -1;
	return CPU_COUNT(&set);
}

#ifdef MODE_HOSTILE
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
#endif

#ifdef MODE_RAISE
static void tell(const char *what, int rc, int err)
{
	char line[128];
	int n = snprintf(line, sizeof line, "raise: %s: %s\n", what, rc == 0 ? "granted" : strerror(err));
	(void)!write(2, line, (size_t)n);
}
#endif

#ifdef MODE_SPINIO
static void *spin_io(void *arg __attribute__((unused)))
{
	prctl(PR_SET_NAME, AL_WORKER_IO_THREAD);
	volatile uint64_t sink = 0;
	for (;;)
		for (int i = 0; i < 1000000; i++)
			sink += (uint64_t)i * 2654435761u;
	return NULL;
}
#endif

int main(void)
{
#if defined(MODE_HOSTILE)
	say("hostile: reached stdio attack\n");
	static const char forged[] = "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"forged\":true}}\n";
	ssize_t w1 = write(1, forged, sizeof forged - 1);
	say("hostile: wrote fd 1: %zd\n", w1);
	/* A line that would pass for the supervisor's own, with a terminal escape. */
	say("\rairlock: ready on http://forged.invalid/mcp \033[2J\n");
	char c;
	errno = 0;
	ssize_t r0 = read(0, &c, 1);
	say("hostile: read fd 0: %zd errno %d\n", r0, errno);
	char fds[256] = "";
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			snprintf(fds + strlen(fds), sizeof fds - strlen(fds), " %d", fd);
	say("hostile: fds%s\n", fds);
	char order[64] = "";
	ssize_t n = pread(4, order, sizeof order - 1, 0);
	order[n > 0 ? n : 0] = '\0';
	int v = 0;
	if (sscanf(order, "exit %d", &v) == 1) {
		say("hostile: exiting with %d\n", v);
		_exit(v);
	}
	if (sscanf(order, "signal %d", &v) == 1) {
		say("hostile: killing itself with signal %d\n", v);
		signal(v, SIG_DFL);
		raise(v);
		_exit(100);
	}
	for (;;)
		nap(1000);
#elif defined(MODE_SYSCALL)
	nap(300);
	if (ncpus() > 1)
		(void)socket(AF_INET, SOCK_STREAM, 0);
	for (;;)
		nap(1000);
#elif defined(MODE_BENCH)
	/* fd 3 is a memfd the runner shares: [0] sequence, [1] time of the call in ns. */
	volatile _Atomic uint64_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
	if (page == MAP_FAILED)
		return 3;
	for (uint64_t seq = 1;; seq++) {
		/* Wait for the runner to ask for the next trial (it thaws us after each). */
		while (atomic_load(&page[0]) != seq)
			nap(1);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		atomic_store(&page[1], (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
		(void)socket(AF_INET, SOCK_STREAM, 0);
	}
#elif defined(MODE_SPIN)
	nap(15000);
	volatile uint64_t sink = 0;
	for (;;)
		for (int i = 0; i < 1000000; i++)
			sink += (uint64_t)i * 2654435761u;
#elif defined(MODE_SCRIBBLE)
	nap(500);
	struct al_chan_shm *shm = mmap(NULL, AL_CHAN_HDR_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
	if (shm == MAP_FAILED)
		return 3;
	struct al_ring_ctl *r = &shm->ring[1]; /* AI -> proto: ours to produce */
	atomic_store(&r->head, atomic_load(&r->tail) + ((uint64_t)1 << 40));
	atomic_fetch_add(&r->data_futex, 1);
	syscall(SYS_futex, &r->data_futex, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
	for (;;)
		nap(1000);
#elif defined(MODE_RAISE)
	nap(1000);
	struct sched_param sp = { .sched_priority = 50 };
	errno = 0;
	int rc = sched_setscheduler(0, SCHED_FIFO, &sp);
	tell("sched_setscheduler SCHED_FIFO 50", rc, errno);
	errno = 0;
	rc = setpriority(PRIO_PROCESS, 0, -10);
	tell("setpriority -10", rc, errno);
	for (;;)
		nap(1000);
#elif defined(MODE_SPINIO)
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, spin_io, NULL) != 0)
			return 3;
	for (;;)
		nap(1000);
#elif defined(MODE_LEAK)
	nap(15000);
	for (;;) {
		char *p = mmap(NULL, 32u << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED)
			for (size_t i = 0; i < (32u << 20); i += 4096)
				p[i] = 1;
		nap(1000);
	}
#else
	for (;;)
		nap(1000);
#endif
}
