/* Gate policies over hostile bytes: loaded or refused, never anything else. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/gate_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_gate_policy p;
	al_gate_policy_init(&p, "fuzz");
	if (al_gate_policy_load_mem(&p, (const char *)data, size, "/fuzz/policy.ini") == 0) {
		/* what loaded keeps its invariants */
		if (p.n_ro > AL_GATE_POLICY_MAX || p.n_tools > AL_GATE_POLICY_MAX || !p.name[0] ||
		    strchr(p.name, '/') || p.max_line < 1024 || p.notify_rate == 0)
			__builtin_trap();
		for (size_t i = 0; i < p.n_ro; i++)
			if (p.ro[i][0] != '/')
				__builtin_trap();
	}
	al_gate_policy_free(&p);
	return 0;
}
