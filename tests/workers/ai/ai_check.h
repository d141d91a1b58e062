/*
 * Checks shared by the AI tests (cmocka: a failed check fails the test).
 *
 * run_worker: runs the AI worker executable, argv[0] being its path; its
 * stdout is collected into out (NUL-terminated, at most cap - 1 bytes), its
 * wait status into *status.
 *
 * expect_model_refused: the model loader refuses buf with -EINVAL and an
 * error that names `what` (the field or rule at fault).
 */
#ifndef AL_TEST_AI_CHECK_H
#define AL_TEST_AI_CHECK_H

#include <stddef.h>
#include <stdint.h>

void run_worker(char *const argv[], char *out, size_t cap, size_t *outlen, int *status);
void expect_model_refused(const uint8_t *buf, size_t len, const char *what);

#endif
