/*
 * airlock check: what protection this machine can give.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/util.h"
#include "hw/hw.h"
#include "supervisor/config.h"

static const char check_usage[] =
	"usage: airlock check [--json] [--config FILE] [--root DIR]\n"
	"\n"
	"Probes the CPU and the kernel for every protection airlock uses and prints,\n"
	"for each, whether it is present, partial or absent, the evidence (the file\n"
	"and line read, or the call tried and its result), what airlock uses it for\n"
	"and what it does without it.\n"
	"\n"
	"  --json         print the report as JSON (schema in docs/check.md)\n"
	"  --config FILE  take the required features from FILE's [required] section\n"
	"  --root DIR     read /proc and /sys below DIR (for testing with fake trees)\n"
	"\n"
	"Exit status: 0 when every required feature is present, 1 when one is\n"
	"missing (each named on stderr), 2 on a usage error.\n";

static int check_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"config", required_argument, NULL, 'c'},
		{"root", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{0, 0, 0, 0},
	};
	bool json = false;
	const char *config = NULL, *root = "/";
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'c': config = optarg; break;
		case 'r': root = optarg; break;
		case 'h': fputs(check_usage, stdout); return AL_EXIT_OK;
		default:
			return al_cli_usage_error(&al_cmd_check, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return al_cli_usage_error(&al_cmd_check, "unexpected argument '%s'", argv[optind]);

	const char *const *required = al_hw_default_required;
	size_t n_required = al_hw_default_required_len;
	const char *from_config[64];
	if (config) {
		struct al_config *cfg = NULL;
		char *errors = NULL;
		if (al_config_load(config, 0, &cfg, &errors) < 0) {
			fputs(errors ? errors : "airlock check: the configuration could not be loaded\n", stderr);
			free(errors);
			return AL_EXIT_FAIL;
		}
		n_required = al_config_required_items(cfg, from_config, AL_ARRAY_LEN(from_config));
		required = from_config;
		al_config_free(cfg);
	}

	struct al_hw_report *r = al_hw_probe(root);
	if (!r) {
		fprintf(stderr, "airlock check: out of memory\n");
		return AL_EXIT_FAIL;
	}
	if (json) {
		json_t *j = al_hw_report_json(r);
		json_t *req = json_array();
		for (size_t i = 0; i < n_required; i++)
			json_array_append_new(req, json_string(required[i]));
		json_object_set_new(j, "required", req);
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(j);
	} else {
		al_hw_report_print(r, stdout, isatty(STDOUT_FILENO));
		printf("\nRequired: ");
		for (size_t i = 0; i < n_required; i++)
			printf("%s%s", i ? ", " : "", required[i]);
		printf("\n");
	}
	int missing = al_hw_report_require(r, required, n_required, stderr);
	al_hw_report_free(r);
	if (missing != 0) {
		fprintf(stderr, "airlock check: %d required protection%s missing: airlock would refuse to start\n",
			missing < 0 ? 1 : missing, missing == 1 ? " is" : "s are");
		return AL_EXIT_FAIL;
	}
	return AL_EXIT_OK;
}

const struct al_cmd al_cmd_check = {
	.name = "check",
	.summary = "show what protection this machine can give",
	.usage = check_usage,
	.run = check_run,
};
