/* Configuration parser over hostile bytes (existence checks of named files off). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_config *cfg = NULL;
	char *errors = NULL;
	int rc = al_config_load_buf((const char *)data, size, "/fuzz/airlock.conf",
				    AL_CONFIG_NO_FILE_CHECKS, &cfg, &errors);
	/* Exactly one of a config or an error text, never both, never neither. */
	if ((rc == 0) != (cfg != NULL) || (rc == 0) == (errors != NULL))
		__builtin_trap();
	if (cfg) {
		/* Whatever loaded must print (every pointer valid) and keep its invariants. */
		char *out = NULL;
		size_t outlen = 0;
		FILE *fp = open_memstream(&out, &outlen);
		if (fp) {
			al_config_print(cfg, fp);
			fclose(fp);
		}
		free(out);
		if (cfg->proto.n_allowed_origins > AL_CONFIG_MAX_ORIGINS || !cfg->audit_log ||
		    cfg->audit_log[0] != '/' || cfg->ai.model[0] != '/')
			__builtin_trap();
		/* A Host name the protocol domain is given holds nothing but these. */
		if (cfg->proto.n_allowed_hosts > AL_CONFIG_MAX_ORIGINS)
			__builtin_trap();
		for (size_t i = 0; i < cfg->proto.n_allowed_hosts; i++) {
			const char *h = cfg->proto.allowed_hosts[i];
			if (!*h || h[strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					   "0123456789-.:[]")])
				__builtin_trap();
		}
		al_config_free(cfg);
	}
	free(errors);
	return 0;
}
