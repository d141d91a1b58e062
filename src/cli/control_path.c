/*
 * Where the running supervisor's control socket is: --control PATH, else the
 * one --config FILE (or the built-in configuration) names. Shared by the
 * commands that talk to the supervisor (status, stop, level, unlock).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/util.h"
#include "supervisor/config.h"
#include "supervisor/control.h"

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

int al_cli_control_opts(const struct al_cmd *cmd, int argc, char **argv, bool *json, int *rest,
			char *control, size_t len)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"control", required_argument, NULL, 'c'},
		{"config", required_argument, NULL, 'f'},
		{0, 0, 0, 0},
	};
	const char *config = NULL, *explicit = NULL;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			if (!json)
				return al_cli_usage_error(cmd, "--json is not an option of this command");
			*json = true;
			break;
		case 'c': explicit = optarg; break;
		case 'f': config = optarg; break;
		default:
			return al_cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (rest)
		*rest = optind;
	else if (optind < argc)
		return al_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	return al_cli_control_path(config, explicit, control, len);
}

int al_cli_control_call(const char *control, enum al_control_op op, uint32_t arg, const char *refused,
			json_t **reply)
{
	int rc = al_control_call(control, op, arg, reply);
	if (rc < 0) {
		fprintf(stderr, "airlock: control socket %s: %s%s\n", control, strerror(-rc),
			rc == -ENOENT || rc == -ECONNREFUSED ? " (is `airlock run` running?)" : "");
		return AL_EXIT_FAIL;
	}
	if (!json_is_true(json_object_get(*reply, "ok"))) {
		const char *reason = json_string_value(json_object_get(*reply, "reason"));
		fprintf(stderr, "airlock: %s: %s%s%s\n", refused,
			json_string_value(json_object_get(*reply, "error")) ?: "error", reason ? ": " : "",
			reason ? reason : "");
		json_decref(*reply);
		*reply = NULL;
		return AL_EXIT_FAIL;
	}
	return 0;
}
