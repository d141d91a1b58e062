/*
 * airlock unlock: ends an integrity lockdown once every file verifies again.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/util.h"
#include "supervisor/config.h"
#include "supervisor/control.h"

static const char unlock_usage[] =
	"usage: airlock unlock [--config FILE | --control PATH]\n"
	"\n"
	"After an integrity violation the supervisor keeps the AI domain stopped\n"
	"(clients get an error) until this command. The supervisor first verifies\n"
	"every file against the manifest again, from its path; if one still differs\n"
	"the lockdown stays and the file is named. Otherwise both domains restart\n"
	"from the newly verified files.\n"
	"\n"
	"  --config FILE   find the control socket in FILE\n"
	"  --control PATH  control socket\n";

static int unlock_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"control", required_argument, NULL, 'c'},
		{"config", required_argument, NULL, 'f'},
		{0, 0, 0, 0},
	};
	const char *config = NULL, *explicit = NULL;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'c': explicit = optarg; break;
		case 'f': config = optarg; break;
		default:
			return al_cli_usage_error(&al_cmd_unlock, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return al_cli_usage_error(&al_cmd_unlock, "unexpected argument '%s'", argv[optind]);
	char control[256];
	if (al_cli_control_path(config, explicit, control, sizeof control))
		return AL_EXIT_FAIL;
	json_t *r = NULL;
	if (al_cli_control_call(control, AL_CONTROL_UNLOCK, 0, "unlock refused", &r))
		return AL_EXIT_FAIL;
	printf("airlock: %s\n", json_string_value(json_object_get(r, "message")) ?: "unlocked");
	json_decref(r);
	return AL_EXIT_OK;
}

const struct al_cmd al_cmd_unlock = {
	.name = "unlock",
	.summary = "end an integrity lockdown after re-verifying every file",
	.usage = unlock_usage,
	.run = unlock_run,
};
