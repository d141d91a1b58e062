/*
 * The supervisor's one reader of peer bytes besides its own configuration:
 * a control-socket request record. Anything accepted must be a well-formed
 * request of a known operation.
 */
#include <stdint.h>
#include <stdlib.h>

#include "supervisor/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_control_req req;
	if (al_control_parse_request(data, size, &req) == 0 &&
	    (size != sizeof req || req.magic != AL_CONTROL_MAGIC || req.version != AL_CONTROL_VERSION ||
	     req.op < AL_CONTROL_STATUS || req.op > AL_CONTROL_METRICS))
		abort();
	return 0;
}
