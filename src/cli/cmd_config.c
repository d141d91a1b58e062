/*
 * airlock config check: loads a configuration and prints the effective one, or its errors.
 * airlock config reference: prints the reference of every key (docs/config.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "al_config.h"
#include "cli/cli.h"
#include "supervisor/config.h"

static int run(int argc, char **argv);

const struct al_cmd al_cmd_config = {
	.name = "config",
	.summary = "check a configuration file and print the effective configuration",
	.usage = "usage: airlock config check [FILE]\n"
		 "       airlock config reference\n"
		 "\n"
		 "Reads FILE (default " AL_SYSCONFDIR "/airlock.conf, else the source tree's\n"
		 "etc/airlock.conf) and prints the effective configuration, every default\n"
		 "filled in and every path absolute; or prints each error as FILE:LINE: reason\n"
		 "and exits 1.\n"
		 "\n"
		 "reference prints every section and key with its values, default and\n"
		 "meaning, as Markdown (docs/config.md is its output).\n",
	.run = run,
};

/* The installed config if there is one, else the source tree's (running from a build). */
const char *al_cli_default_config(void);
const char *al_cli_default_config(void)
{
	static const char installed[] = AL_SYSCONFDIR "/airlock.conf";
	return access(installed, F_OK) == 0 ? installed : AL_SOURCE_ROOT "/etc/airlock.conf";
}

static int run(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "reference") == 0) {
		if (argc > 2)
			return al_cli_usage_error(&al_cmd_config, "too many arguments");
		al_config_reference(stdout);
		return fflush(stdout) == 0 ? AL_EXIT_OK : AL_EXIT_FAIL;
	}
	if (argc < 2 || strcmp(argv[1], "check") != 0)
		return al_cli_usage_error(&al_cmd_config, "expected 'check' or 'reference'");
	if (argc > 3)
		return al_cli_usage_error(&al_cmd_config, "too many arguments");
	const char *path = argc == 3 ? argv[2] : al_cli_default_config();
	struct al_config *cfg;
	char *errors = NULL;
	if (al_config_load(path, 0, &cfg, &errors) < 0) {
		fputs(errors ? errors : "airlock config: out of memory\n", stderr);
		free(errors);
		return AL_EXIT_FAIL;
	}
	al_config_print(cfg, stdout);
	al_config_free(cfg);
	return AL_EXIT_OK;
}
