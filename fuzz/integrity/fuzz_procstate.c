/*
 * /proc status and maps parsers: the kernel writes these files, but a domain
 * picks its comm and mapping names. Input: status text, NUL, maps text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "integrity/procstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct al_procstate ps;
	char why[256];
	memset(&ps, 0, sizeof ps);
	al_procstate_parse_status(text, &ps);
	size_t sl = strlen(text);
	al_procstate_parse_maps(sl < size ? text + sl + 1 : "", &ps);
	al_procstate_confined(&ps, why, sizeof why);
	free(text);
	return 0;
}
