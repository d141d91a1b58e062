/*
 * Small side-effect-free helpers shared by every module: cleanup attributes,
 * overflow-checked arithmetic, bounded string copies. Nothing here knows
 * about domains.
 */
#ifndef AL_COMMON_UTIL_H
#define AL_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define AL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static inline void al_cleanup_free(void *p)
{
	free(*(void **)p);
}

static inline void al_cleanup_close(const int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

/* Freed / closed when the variable goes out of scope; hand ownership out with al_steal_*. */
#define AL_AUTOFREE __attribute__((cleanup(al_cleanup_free)))
#define AL_AUTOCLOSE __attribute__((cleanup(al_cleanup_close)))

static inline void *al_steal_ptr(void *pp)
{
	void **p = pp;
	void *v = *p;
	*p = NULL;
	return v;
}

static inline int al_steal_fd(int *fd)
{
	int v = *fd;
	*fd = -1;
	return v;
}

/* Overflow-checked size arithmetic: false on overflow, *out untouched then. */
static inline bool al_add_size(size_t a, size_t b, size_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

static inline bool al_mul_size(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

/* Copies at most dstlen-1 bytes and always terminates; returns strlen(src). */
size_t al_strlcpy(char *dst, const char *src, size_t dstlen);

/* Reads a whole small file (at most max bytes) relative to dirfd into a NUL-terminated buffer. */
int al_read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *outlen);
/* The same from an open fd, from its start (pread: its offset is left alone). */
int al_read_fd(int fd, size_t max, char **out, size_t *outlen);

/* Writes all of buf, retrying on EINTR and short writes. 0 or -errno. */
int al_write_all(int fd, const void *buf, size_t len);

/* Parses a decimal unsigned 64-bit value; the whole string must be consumed. */
int al_parse_u64(const char *s, uint64_t *out);
/* The same for a process or thread id (a /proc entry, a children list): 1 up
 * to the kernel's limit, 2^22 - 1. 0, or -EINVAL/-ERANGE. */
int al_parse_pid(const char *s, pid_t *out);

/* Parses sizes such as "512M", "2G", "4096", "64k" (binary units). */
int al_parse_size(const char *s, uint64_t *out);

/* A name made of [a-z0-9._-], 1..max bytes (audit events, manifest entries). */
bool al_name_ok(const char *s, size_t len, size_t max);

/* Monotonic clock in nanoseconds. */
uint64_t al_now_ns(void);

#endif
