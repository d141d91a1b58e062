/*
 * airlock unlock: ends an integrity lockdown once every file verifies again.
 */
#include <errno.h>
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
	char control[256];
	int rc = al_cli_control_opts(&al_cmd_unlock, argc, argv, NULL, NULL, control, sizeof control);
	if (rc)
		return rc;
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
