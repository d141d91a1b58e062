/* Manifest loader over hostile bytes, under a fixed key. */
#include <stdint.h>

#include "integrity/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct al_manifest_key key = { { 1, 2, 3, 4 } };
	struct al_manifest *m = NULL;
	if (al_manifest_load_buf((const char *)data, size, "fuzz", &key, &m) == 0) {
		for (size_t i = 0; i < al_manifest_count(m); i++)
			if (!al_manifest_entry_at(m, i)->path || al_manifest_entry_at(m, i)->path[0] != '/')
				__builtin_trap();
		al_manifest_free(m);
	}
	return 0;
}
