/* The egress domain's report records over hostile bytes, as the supervisor reads them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/gate_egress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(void *ctx, const struct al_egress_record *r)
{
	size_t *seen = ctx;
	if (r->verdict == 0 || r->verdict >= AL_EGRESS_VERDICT_MAX || r->reason >= AL_EGRESS_WHY_MAX ||
	    !memchr(r->host, '\0', sizeof r->host) || !memchr(r->addr, '\0', sizeof r->addr))
		__builtin_trap();
	*seen += sizeof *r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool lied;
	size_t seen = 0;
	size_t used = al_gate_egress_scan(data, size, &lied, check, &seen);
	if (used != seen || used > size || (!lied && size - used >= sizeof(struct al_egress_record)))
		__builtin_trap();
	return 0;
}
