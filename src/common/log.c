#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Process-wide by nature: a program has one stderr and one name. */
static const char *log_prog = "airlock";
static enum al_log_level log_level = AL_LOG_WARN;

void al_log_init(const char *progname, enum al_log_level level)
{
	if (progname)
		log_prog = progname;
	log_level = level;
}

void al_log_set_level(enum al_log_level level)
{
	log_level = level;
}

enum al_log_level al_log_get_level(void)
{
	return log_level;
}

__attribute__((format(printf, 3, 0)))
static void log_emit(enum al_log_level level, int errnum, const char *fmt, va_list ap)
{
	if (level > log_level)
		return;
	/* One fprintf-sized buffer so concurrent writers do not interleave lines. */
	char line[1024];
	int n = vsnprintf(line, sizeof line, fmt, ap);
	if (n < 0)
		return;
	if (errnum)
		fprintf(stderr, "%s: %s: %s\n", log_prog, line, strerror(errnum));
	else
		fprintf(stderr, "%s: %s\n", log_prog, line);
}

void al_log_warn(const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;
	va_start(ap, fmt);
	log_emit(AL_LOG_WARN, errnum, fmt, ap);
	va_end(ap);
	errno = errnum;
}

void al_log_warnx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(AL_LOG_WARN, 0, fmt, ap);
	va_end(ap);
}

void al_log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(AL_LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void al_log_debug(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(AL_LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void al_fatal(int status, const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;
	va_start(ap, fmt);
	log_emit(AL_LOG_ERROR, errnum, fmt, ap);
	va_end(ap);
	exit(status);
}

void al_fatalx(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(AL_LOG_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(status);
}
