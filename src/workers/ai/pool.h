/*
 * AI engine: worker threads for the matrix products. A job is cut into
 * parts, which the caller and the n - 1 threads claim from a shared counter:
 * a thread that is late (woken late, or preempted on a busy machine) leaves
 * its parts to the others instead of holding the job up. The first n
 * claims take 7/8 of the job, a run of 14 of each thread's 16 parts, and
 * the rest goes one part a claim, so that the threads end together within
 * a small part, with few claims (each a cache line moved between cores);
 * or, for jobs
 * whose parts cost more the more there are (prefill: each part reads every
 * weight), one part per thread. Between jobs the threads spin (a wakeup on
 * the other core costs ~20 µs here), then sleep on a futex. With n == 1
 * there are no threads and jobs run inline.
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
#define AL_AI_POOL_CHUNKS 16 /* parts per thread in a job cut fine */
#define AL_AI_POOL_TAIL 2    /* of which claimed one at a time */

/* Runs parts [part0, part1) of nparts, in one call (adjacent parts are one
 * run of the job's work). */
typedef void (*al_ai_job_fn)(void *ctx, int part0, int part1, int nparts);

struct al_ai_pool;

struct al_ai_pool_arg {
	struct al_ai_pool *p;
	int part;
};

/* Heap-allocated: the threads hold pointers into it. */
struct al_ai_pool {
	int n;                     /* threads + caller */
	int claims;                /* claims per job, fixed: n + n * AL_AI_POOL_TAIL */
	int even;                  /* this job: one part per thread (else n * AL_AI_POOL_CHUNKS) */
	pthread_t th[AL_AI_MAX_THREADS];
	struct al_ai_pool_arg arg[AL_AI_MAX_THREADS];
	_Atomic uint32_t gen;      /* bumped per job; futex word */
	_Atomic uint32_t done;     /* claims finished in this job */
	_Atomic uint32_t next;     /* next claim; >= claims when all are taken */
	_Atomic uint32_t sleepers; /* threads in futex wait */
	_Atomic int stop;
	_Atomic int started;       /* threads past their libc start-up */
	al_ai_job_fn fn;
	void *ctx;
};

/* n in [1, AL_AI_MAX_THREADS]. 0 or -errno. */
int al_ai_pool_new(struct al_ai_pool **out, int n);
/* Runs fn over every part of [0, nparts), each once, on any of the threads;
 * returns when all are done. nparts is n * AL_AI_POOL_CHUNKS, 1 with one
 * thread. */
void al_ai_pool_run(struct al_ai_pool *p, al_ai_job_fn fn, void *ctx);
/* The same with nparts = n, one part per thread (if none is late). */
void al_ai_pool_run_even(struct al_ai_pool *p, al_ai_job_fn fn, void *ctx);
/* Stops and joins the threads, frees p (NULL is fine). */
void al_ai_pool_free(struct al_ai_pool *p);

#endif
