/*
 * Running a program outside any domain from a test, to see what it does
 * there (the baseline an attack or probe is compared with):
 *
 *   char out[256];
 *   char *const argv[] = { "probe", "read", "/etc/shadow", NULL };
 *   int st = t_run(path, argv, false, out, sizeof out);   exit status, out = its stdout
 */
#ifndef AL_TEST_RUN_H
#define AL_TEST_RUN_H

#include <stdbool.h>
#include <stddef.h>

/* Reads fd to its end into buf (NUL-terminated, cut at len - 1), then closes it. */
void t_read_all(int fd, char *buf, size_t len);

/* Runs path with argv, its stdout (and stderr too with both) into out; its
 * exit status, 128 + the signal that ended it, or -1 (errno set) when it
 * could not be started. */
int t_run(const char *path, char *const argv[], bool both, char *out, size_t len);

#endif
