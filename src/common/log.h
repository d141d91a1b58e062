/*
 * Logging for every airlock program and library.
 *
 *   al_log_warn(fmt, ...)   message plus strerror(errno)
 *   al_log_warnx(fmt, ...)  message only
 *   al_log_info / al_log_debug  progress, shown by verbosity
 *   al_fatal / al_fatalx    noreturn: only in a main(), in a spawned child
 *                           before exec, or in a worker whose peer broke protocol
 *
 * Libraries return 0 or -errno and log; they never exit.
 * Output goes to stderr, prefixed with the program name set by al_log_init().
 */
#ifndef AL_COMMON_LOG_H
#define AL_COMMON_LOG_H

#include <stdarg.h>

enum al_log_level {
	AL_LOG_ERROR = 0,
	AL_LOG_WARN = 1,
	AL_LOG_INFO = 2,
	AL_LOG_DEBUG = 3,
};

void al_log_init(const char *progname, enum al_log_level level);
void al_log_set_level(enum al_log_level level);
enum al_log_level al_log_get_level(void);

void al_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void al_log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void al_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void al_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void al_fatal(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void al_fatalx(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
