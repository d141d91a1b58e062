/*
 * Progress of long work (hashing a large file) for a person at a terminal:
 *
 *   struct al_progress p;
 *   al_progress_begin(&p, "hashing ai.model", size);
 *   ... al_progress_update(&p, bytes_so_far); ...
 *   al_progress_end(&p, ok);
 *
 * Shown on stderr only when stderr is a terminal and the work covers at
 * least AL_PROGRESS_MIN_BYTES: one line redrawn in place (carriage return)
 * at most every AL_PROGRESS_REDRAW_MS, ended with a newline, so logs and
 * pipes (a service's journal, a domain's log pipe) get nothing at all.
 */
#ifndef AL_INTEGRITY_PROGRESS_H
#define AL_INTEGRITY_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AL_PROGRESS_MIN_BYTES (256ull << 20)
#define AL_PROGRESS_REDRAW_MS 100

struct al_progress {
	int fd;              /* where the line goes; -1: not shown */
	char label[96];
	uint64_t total, done;
	uint64_t t0_ns, last_ns;
	bool drawn;
};

void al_progress_begin(struct al_progress *p, const char *label, uint64_t total);
void al_progress_update(struct al_progress *p, uint64_t done);
/* The last line (done or failed) and its newline; nothing if never shown. */
void al_progress_end(struct al_progress *p, bool ok);

/*
 * The line for done bytes of total after elapsed_ns, without the carriage
 * return: "LABEL  123.4 of 300.0 MiB  41 %  512 MiB/s" (the rate once any
 * time has passed; done is clamped to total). Returns the length written
 * (truncated to len - 1, always terminated).
 */
size_t al_progress_format(char *buf, size_t len, const char *label, uint64_t done, uint64_t total,
			  uint64_t elapsed_ns);

#endif
