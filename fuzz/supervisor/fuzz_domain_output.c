/*
 * What a domain writes on its fds 1 and 2, as the supervisor's log shows it
 * (src/supervisor/domlog.h). Whatever the bytes, every line out carries the
 * domain's prefix, holds printable ASCII only (no terminal escape, no
 * carriage return, no line of the supervisor's own) and is bounded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/domlog.h"

#define PREFIX "airlock: ai: "

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 60000) /* within one pipe's capacity: the writer never blocks */
		return 0;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	if (!f)
		return 0;
	struct al_domlog l;
	al_domlog_init(&l, "ai", f);
	if (al_domlog_open(&l) < 0) {
		fclose(f);
		free(out);
		return 0;
	}
	if (size && write(l.wfd, data, size) != (ssize_t)size)
		abort();
	al_domlog_drain(&l, 1);
	al_domlog_close(&l);
	fclose(f);
	for (char *line = out, *end; line && *line; line = end + 1) {
		end = strchr(line, '\n');
		if (!end || strncmp(line, PREFIX, strlen(PREFIX)) != 0 ||
		    (size_t)(end - line) > strlen(PREFIX) + AL_DOMLOG_LINE_MAX + strlen(" (cut)") + 64)
			abort();
		for (char *c = line; c < end; c++)
			if (*c < 0x20 || *c > 0x7e)
				abort();
	}
	free(out);
	return 0;
}
