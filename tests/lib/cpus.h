/*
 * CPUs for the tests that place threads: the first two this thread may run
 * on, and pinning the calling thread to one.
 */
#ifndef AL_TEST_CPUS_H
#define AL_TEST_CPUS_H

#include <stdbool.h>

/* The first two CPUs of this thread's set; false when it has only one. */
bool t_two_cpus(int *a, int *b);

/* Pins the calling thread to cpu: 0 or -errno. */
int t_pin_self(int cpu);

#endif
