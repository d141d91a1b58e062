#include "workers/ai/pool.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Pause iterations before sleeping, about 100 µs: longer than the gap
 * between two products of one token, short enough not to steal the core
 * from other work between requests. */
#define SPIN 2000

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
 * Claims and runs parts until none is left. A claim below parts belongs to
 * a job that cannot finish before that part is done, so fn and ctx read
 * after it are that job's: the caller publishes the next job only once
 * every part of this one is counted in done. A claim of parts or more
 * (a job already given out) runs nothing.
 */
static void run_parts(struct al_ai_pool *p)
{
	for (;;) {
		uint32_t i = atomic_fetch_add_explicit(&p->next, 1, memory_order_acq_rel);
		if (i >= (uint32_t)p->parts)
			return;
		p->fn(p->ctx, (int)i, p->parts);
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
		int spins = 0;
		while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen) {
			if (++spins < SPIN) {
				cpu_relax();
				continue;
			}
			atomic_fetch_add(&p->sleepers, 1);
			futex_wait(&p->gen, seen);
			atomic_fetch_sub(&p->sleepers, 1);
			spins = 0;
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
	p->parts = n * AL_AI_POOL_CHUNKS;
	atomic_store(&p->next, (uint32_t)p->parts);
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

void al_ai_pool_run(struct al_ai_pool *p, al_ai_job_fn fn, void *ctx)
{
	if (p->n <= 1) {
		fn(ctx, 0, 1);
		return;
	}
	p->fn = fn;
	p->ctx = ctx;
	atomic_store_explicit(&p->done, 0, memory_order_relaxed);
	/* Opens the claims: the release orders fn, ctx and done before them. */
	atomic_store_explicit(&p->next, 0, memory_order_release);
	atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
	if (atomic_load(&p->sleepers))
		futex_wake(&p->gen);
	run_parts(p);
	/* Only parts already claimed remain, and they are short: spin,
	 * yielding now and then in case their thread was preempted. */
	for (unsigned spins = 0; atomic_load_explicit(&p->done, memory_order_acquire) != (uint32_t)p->parts;
	     spins++) {
		if (spins % 4096 == 4095)
			sched_yield();
		else
			cpu_relax();
	}
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
