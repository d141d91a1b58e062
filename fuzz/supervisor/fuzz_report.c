/*
 * Bytes read from a domain's report pipe (src/supervisor/evidence.h). Only a
 * whole record of a known code is a report about the peer; anything else is
 * held against its writer, never read as evidence about another domain.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/channel.h"
#include "airlock/worker.h"
#include "supervisor/evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t code;
	const char *why;
	enum al_report_kind k = al_evidence_report(data, size, &code, &why);
	if (!why)
		abort();
	if (k == AL_REPORT_NONE && size != 0)
		abort();
	if (k == AL_REPORT_PEER) {
		al_worker_report r;
		if (size < sizeof r)
			abort();
		memcpy(&r, data, sizeof r);
		if (r != code || !(r == AL_WORKER_REPORT_ATTACH || (r > AL_CHAN_E_BASE && r < AL_CHAN_E_END)))
			abort();
	}
	return 0;
}
