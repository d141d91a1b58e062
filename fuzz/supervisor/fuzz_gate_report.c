/* The gate domain's report records over hostile bytes, as the supervisor reads them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/gate_run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(void *ctx, const struct al_gate_record *r, const unsigned char *blob)
{
	size_t *seen = ctx;
	if (!r->event || r->event >= AL_GATE_EV_MAX || !memchr(r->name, '\0', sizeof r->name))
		__builtin_trap();
	if (r->blob_len && !blob)
		__builtin_trap();
	*seen += sizeof *r + r->blob_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool lied;
	size_t seen = 0;
	size_t used = al_gate_report_scan(data, size, &lied, check, &seen);
	if (used != seen || used > size)
		__builtin_trap();
	return 0;
}
