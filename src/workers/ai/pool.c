#include "workers/ai/pool.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/util.h"

/* How long a thread spins for the next job before it sleeps: longer than
 * the gap between two tokens of a sequence (sampling, the next token's
 * first steps), short enough not to steal the core from other work
 * between requests. A futex wakeup costs the caller a system call and the
 * thread 20 µs or more before it starts. Counted in time, not pauses: a
 * pause takes 10 ns on some CPUs and 140 on others. */
#define SPIN_NS 200000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void futex_wait(_Atomic uint32_t *w, uint32_t val)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/*
 * Claims and runs parts until no claim is left. A claim below claims
 * belongs to a job that cannot finish before it is counted done, so the
 * job's fields read after it are that job's: the caller publishes the next
 * job only once every claim of this one is counted in done. A claim of
 * claims or more (a job already given out) runs nothing. Claim c of a job
 * cut fine: c < n, parts [c H, (c + 1) H) with H a thread's share less
 * AL_AI_POOL_TAIL parts; then one part each. Of an even job: c < n, part c; the
 * rest nothing.
 */
static void run_parts(struct al_ai_pool *p)
{
	for (;;) {
		uint32_t c = atomic_fetch_add_explicit(&p->next, 1, memory_order_acq_rel);
		if (c >= (uint32_t)p->claims)
			return;
		int n = p->n, big = AL_AI_POOL_CHUNKS - AL_AI_POOL_TAIL;
		if (p->even) {
			if ((int)c < n)
				p->fn(p->ctx, (int)c, (int)c + 1, n);
		} else if ((int)c < n) {
			p->fn(p->ctx, (int)c * big, ((int)c + 1) * big, n * AL_AI_POOL_CHUNKS);
		} else {
			int part = n * big + (int)c - n;
			p->fn(p->ctx, part, part + 1, n * AL_AI_POOL_CHUNKS);
		}
		atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
	}
}

static void *thread_main(void *a)
{
	struct al_ai_pool *p = ((struct al_ai_pool_arg *)a)->p;
	uint32_t seen = atomic_load_explicit(&p->gen, memory_order_acquire);

	atomic_fetch_add(&p->started, 1);
	for (;;) {
		uint32_t g;
		unsigned spins = 0;
		uint64_t since = al_now_ns();
		while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen) {
			if (++spins % 64 || al_now_ns() - since < SPIN_NS) {
				cpu_relax();
				continue;
			}
			atomic_fetch_add(&p->sleepers, 1);
			futex_wait(&p->gen, seen);
			atomic_fetch_sub(&p->sleepers, 1);
			since = al_now_ns();
		}
		seen = g;
		if (atomic_load_explicit(&p->stop, memory_order_acquire))
			return NULL;
		run_parts(p);
	}
}

int al_ai_pool_new(struct al_ai_pool **out, int n)
{
	struct al_ai_pool *p;
	*out = NULL;
	if (n < 1 || n > AL_AI_MAX_THREADS)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->n = 1;
	p->claims = n + n * AL_AI_POOL_TAIL;
	atomic_store(&p->next, (uint32_t)p->claims);
	for (int i = 1; i < n; i++) {
		p->arg[i] = (struct al_ai_pool_arg){ .p = p, .part = i };
		int rc = pthread_create(&p->th[i], NULL, thread_main, &p->arg[i]);
		if (rc) {
			al_ai_pool_free(p);
			return -rc;
		}
		p->n = i + 1;
	}
	/* A new thread makes system calls of its own before it runs our code
	 * (set_robust_list, rseq): wait for all of them, so that the filter
	 * installed after setup never meets a thread still starting. */
	while (atomic_load(&p->started) != p->n - 1)
		sched_yield();
	*out = p;
	return 0;
}

static void pool_run(struct al_ai_pool *p, al_ai_job_fn fn, void *ctx, bool even)
{
	if (p->n <= 1) {
		fn(ctx, 0, 1, 1);
		return;
	}
	p->fn = fn;
	p->ctx = ctx;
	p->even = even;
	atomic_store_explicit(&p->done, 0, memory_order_relaxed);
	/* Opens the claims: the release orders fn, ctx and done before them. */
	atomic_store_explicit(&p->next, 0, memory_order_release);
	atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
	if (atomic_load(&p->sleepers))
		futex_wake(&p->gen);
	run_parts(p);
	/* Only parts already claimed remain, and they are short: spin,
	 * yielding now and then in case their thread was preempted. */
	for (unsigned spins = 0; atomic_load_explicit(&p->done, memory_order_acquire) != (uint32_t)p->claims;
	     spins++) {
		if (spins % 4096 == 4095)
			sched_yield();
		else
			cpu_relax();
	}
}

void al_ai_pool_run(struct al_ai_pool *p, al_ai_job_fn fn, void *ctx)
{
	pool_run(p, fn, ctx, false);
}

void al_ai_pool_run_even(struct al_ai_pool *p, al_ai_job_fn fn, void *ctx)
{
	pool_run(p, fn, ctx, true);
}

void al_ai_pool_free(struct al_ai_pool *p)
{
	if (!p)
		return;
	if (p->n > 1) {
		atomic_store(&p->stop, 1);
		atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
		futex_wake(&p->gen);
		for (int i = 1; i < p->n; i++)
			pthread_join(p->th[i], NULL);
	}
	free(p);
}
