/*
 * Runs the AI worker executable for the tests: argv[0] is its path; its
 * stdout is collected into out (NUL-terminated, at most cap - 1 bytes), its
 * wait status into *status. Fails the test if it cannot be started.
 */
#ifndef AL_TEST_RUN_WORKER_H
#define AL_TEST_RUN_WORKER_H

#include <stddef.h>

void run_worker(char *const argv[], char *out, size_t cap, size_t *outlen, int *status);

#endif
