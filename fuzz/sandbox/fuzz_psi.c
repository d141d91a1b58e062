/*
 * Fuzz target for the CPU pressure parser (/proc/pressure/cpu's text): any
 * input must give a total or -EPROTO, never read past its length, crash or
 * leak.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes: ASan sees any read past the end */
	char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	uint64_t total = 0;
	int rc = al_psi_parse_some(copy, size, &total);
	if (rc != 0 && rc != -EPROTO)
		abort();
	free(copy);
	return 0;
}
