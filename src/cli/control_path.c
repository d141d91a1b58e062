/*
 * Where the running supervisor's control socket is: --control PATH, else the
 * one --config FILE (or the built-in configuration) names. Shared by the
 * commands that talk to the supervisor (status, stop, level, unlock).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "common/util.h"
#include "supervisor/config.h"

int al_cli_control_path(const char *config, const char *explicit, char *out, size_t len)
{
	if (explicit) {
		al_strlcpy(out, explicit, len);
		return 0;
	}
	struct al_config *cfg = NULL;
	char *errors = NULL;
	if ((config ? al_config_load(config, AL_CONFIG_NO_FILE_CHECKS, &cfg, &errors) : al_config_default(&cfg)) < 0) {
		fputs(errors ? errors : "airlock: the configuration could not be loaded\n", stderr);
		free(errors);
		return AL_EXIT_FAIL;
	}
	al_strlcpy(out, cfg->control_socket, len);
	al_config_free(cfg);
	return 0;
}
