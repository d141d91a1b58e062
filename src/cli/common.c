/*
 * What `airlock` and its helper executables (airlock-ask, airlock-bench)
 * share: usage errors, --help, and the helpers' main().
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"

int al_cli_usage_error(const struct al_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "airlock %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", cmd->usage);
	return AL_EXIT_USAGE;
}

int al_cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

int al_cli_helper_main(const struct al_cmd *cmd, int (*run)(int argc, char **argv), int argc,
		       char **argv)
{
	al_log_init("airlock", AL_LOG_WARN);
	/* Executed with an empty argv: argv[1] would be the environment. */
	char *none[] = { NULL, NULL };
	if (argc < 1) {
		argc = 1;
		argv = none;
	}
	/* getopt's messages name argv[0], which was the subcommand's name. */
	argv[0] = (char *)cmd->name;
	if (al_cli_wants_help(argc, argv)) {
		fputs(cmd->usage, stdout);
		return AL_EXIT_OK;
	}
	return run(argc, argv);
}
