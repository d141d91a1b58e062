/*
 * airlock run: starts the supervisor with a configuration.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "supervisor/config.h"
#include "supervisor/supervisor.h"

static const char run_usage[] =
	"usage: airlock run [--config FILE] [--stdio] [--verbose]\n"
	"\n"
	"Starts the supervisor: checks the required protections (fail closed),\n"
	"verifies every file against the manifest, creates the channel, spawns and\n"
	"attests the AI and protocol domains, then serves MCP until SIGTERM, SIGINT\n"
	"or `airlock stop`.\n"
	"SIGHUP verifies the configuration and its files again and restarts the\n"
	"domains on them, keeping the listening socket (docs/deploy.md).\n"
	"\n"
	"  --config FILE  configuration (default: the built-in defaults, as in\n"
	"                 etc/airlock.conf)\n"
	"  --stdio        serve MCP on this process's stdin/stdout instead of HTTP,\n"
	"                 for MCP clients that launch a server as a command\n"
	"  --verbose      mirror audit events on stderr\n"
	"\n"
	"Exit status: 0 after a clean stop, 1 when the start was refused (the reason\n"
	"is printed), 2 on a usage error.\n";

static int run_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"stdio", no_argument, NULL, 's'},
		{"verbose", no_argument, NULL, 'v'},
		{0, 0, 0, 0},
	};
	const char *path = NULL;
	bool stdio = false, verbose = false;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 's': stdio = true; break;
		case 'v': verbose = true; break;
		default:
			return al_cli_usage_error(&al_cmd_run, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return al_cli_usage_error(&al_cmd_run, "unexpected argument '%s'", argv[optind]);

	struct al_config *cfg = NULL;
	char *errors = NULL;
	int rc = path ? al_config_load(path, 0, &cfg, &errors) : al_config_default(&cfg);
	if (rc < 0) {
		if (errors)
			fputs(errors, stderr);
		else
			fprintf(stderr, "airlock run: the configuration could not be loaded\n");
		free(errors);
		return AL_EXIT_FAIL;
	}
	if (stdio) {
		cfg->proto.stdio = true;
		cfg->proto.systemd = false;
	}
	rc = al_sup_run(cfg, verbose);
	al_config_free(cfg);
	return rc == 0 ? AL_EXIT_OK : AL_EXIT_FAIL;
}

const struct al_cmd al_cmd_run = {
	.name = "run",
	.summary = "start the supervisor and both domains",
	.usage = run_usage,
	.run = run_run,
};
