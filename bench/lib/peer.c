/*
 * airlock-bench-peer: the far end of two `airlock bench` measurements, run
 * both unsandboxed and inside a domain so that only the sandbox differs.
 *
 *   airlock-bench-peer exit    returns at once (spawn time)
 *   airlock-bench-peer futex   fd 3 is a shared page: futex ping-pong with
 *                              the runner on the same CPU (context switches)
 *
 * The page holds two words: turn (the runner writes odd values, we answer
 * with the next even one) and stop. Static and without libraries, so the
 * compute profile (no filesystem) can run it.
 */
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static void futex_wait(_Atomic uint32_t *w, uint32_t val)
{
	syscall(SYS_futex, w, FUTEX_WAIT, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "exit") == 0)
		return 0;
	if (strcmp(argv[1], "futex") != 0)
		return 2;
	_Atomic uint32_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
	if (page == MAP_FAILED)
		return 3;
	_Atomic uint32_t *turn = page, *stop = page + 16;
	uint32_t expect = 1;
	for (;;) {
		uint32_t v;
		while ((v = atomic_load(turn)) != expect) {
			if (atomic_load(stop))
				return 0;
			futex_wait(turn, v);
		}
		atomic_store(turn, expect + 1);
		futex_wake(turn);
		expect += 2;
	}
}
