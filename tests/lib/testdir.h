/*
 * Scratch directories for the tests: made under /tmp, removed with all they
 * hold (no shell involved).
 *
 *   char dir[64];
 *   if (t_mkdtemp(dir, sizeof dir, "al_audit") < 0) ...   dir = /tmp/al_audit_XXXXXX
 *   t_put(dir, "airlock.conf", "[airlock]\n", 0644);
 *   t_rmtree(dir);
 */
#ifndef AL_TEST_TESTDIR_H
#define AL_TEST_TESTDIR_H

#include <stddef.h>
#include <sys/types.h>

/* 0, or -1 (errno set). */
int t_mkdtemp(char *dir, size_t len, const char *prefix);

/* Removes dir and everything below it, not following links. 0, or -1. */
int t_rmtree(const char *dir);

/* Writes text to dir/name with mode. 0, or -1. */
int t_put(const char *dir, const char *name, const char *text, mode_t mode);

#endif
