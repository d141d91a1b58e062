/*
 * Fuzz target for the profile parser (INI through inih, then every value
 * checked): any input must either load or be refused, never crash or leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "sandbox/sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once++)
		al_log_init("fuzz_profile", AL_LOG_ERROR);
	al_log_set_level(AL_LOG_ERROR);
	struct al_spec spec;
	al_spec_init(&spec);
	(void)al_profile_load_mem(&spec, (const char *)data, size, "fuzz");
	al_spec_free(&spec);
	return 0;
}
