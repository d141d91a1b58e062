/*
 * AI engine: worker threads for the matrix products. The caller runs part 0
 * of each job itself; n - 1 threads run the others. Between jobs the threads
 * spin briefly (a wakeup on the other core costs ~20 µs here), then sleep on
 * a futex. With n == 1 there are no threads and jobs run inline.
 *
 * Threads are started by al_ai_pool_new(), during setup: the worker's
 * seccomp filter is then installed with TSYNC so it covers them too, and no
 * clone is needed once it is in force.
 */
#ifndef AL_AI_POOL_H
#define AL_AI_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define AL_AI_MAX_THREADS 16

typedef void (*al_ai_job_fn)(void *ctx, int part, int nparts);

struct al_ai_pool;

struct al_ai_pool_arg {
	struct al_ai_pool *p;
	int part;
};

/* Heap-allocated: the threads hold pointers into it. */
struct al_ai_pool {
	int n;                     /* parts per job, threads + caller */
	pthread_t th[AL_AI_MAX_THREADS];
	struct al_ai_pool_arg arg[AL_AI_MAX_THREADS];
	_Atomic uint32_t gen;      /* bumped per job; futex word */
	_Atomic uint32_t done;     /* parts finished in this job */
	_Atomic uint32_t sleepers; /* threads in futex wait */
	_Atomic int stop;
	_Atomic int started;       /* threads past their libc start-up */
	al_ai_job_fn fn;
	void *ctx;
};

/* n in [1, AL_AI_MAX_THREADS]. 0 or -errno. */
int al_ai_pool_new(struct al_ai_pool **out, int n);
/* Runs fn(ctx, part, n) for every part, returns when all are done. */
void al_ai_pool_run(struct al_ai_pool *p, al_ai_job_fn fn, void *ctx);
/* Stops and joins the threads, frees p (NULL is fine). */
void al_ai_pool_free(struct al_ai_pool *p);

#endif
