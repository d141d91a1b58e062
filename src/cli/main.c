/*
 * airlock: the command-line front end. Dispatches to one subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "al_config.h"
#include "cli/cli.h"
#include "common/log.h"

/* Listed in the order `airlock --help` shows them. */
static const struct al_cmd *const commands[] = {
	&al_cmd_run,
	&al_cmd_status,
	&al_cmd_metrics,
	&al_cmd_stop,
	&al_cmd_ask,
	&al_cmd_check,
	&al_cmd_exec,
	&al_cmd_gate,
	&al_cmd_config,
	&al_cmd_manifest,
	&al_cmd_audit,
	&al_cmd_level,
	&al_cmd_unlock,
	&al_cmd_bench,
	NULL, /* keeps the table valid while it is being filled; skipped below */
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_usage(FILE *f)
{
	fprintf(f,
		"usage: airlock [--help] [--version] COMMAND [ARGS...]\n"
		"\n"
		"Runs an MCP protocol service and a local language model as two sandboxed\n"
		"domains under one small supervisor.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (commands[i])
			fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "  %-10s %s\n", "help", "show the usage of a command");
	fprintf(f, "\nRun 'airlock help COMMAND' for the options of one command.\n");
}

static const struct al_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (commands[i] && strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

char **al_cli_argv;

int main(int argc, char **argv)
{
	al_cli_argv = argv;
	al_log_init("airlock", AL_LOG_WARN);
	if (argc < 2) {
		print_usage(stderr);
		return AL_EXIT_USAGE;
	}
	const char *arg = argv[1];
	if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
		print_usage(stdout);
		return AL_EXIT_OK;
	}
	if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0) {
		printf("airlock %s\n", AL_VERSION);
		return AL_EXIT_OK;
	}
	if (strcmp(arg, "help") == 0) {
		if (argc == 2) {
			print_usage(stdout);
			return AL_EXIT_OK;
		}
		const struct al_cmd *cmd = find_command(argv[2]);
		if (!cmd) {
			fprintf(stderr, "airlock: unknown command '%s'\n", argv[2]);
			print_usage(stderr);
			return AL_EXIT_USAGE;
		}
		fputs(cmd->usage, stdout);
		return AL_EXIT_OK;
	}
	if (arg[0] == '-') {
		fprintf(stderr, "airlock: unknown option '%s'\n", arg);
		print_usage(stderr);
		return AL_EXIT_USAGE;
	}
	const struct al_cmd *cmd = find_command(arg);
	if (!cmd) {
		fprintf(stderr, "airlock: unknown command '%s'\n", arg);
		print_usage(stderr);
		return AL_EXIT_USAGE;
	}
	if (al_cli_wants_help(argc - 1, argv + 1)) {
		fputs(cmd->usage, stdout);
		return AL_EXIT_OK;
	}
	if (cmd->helper)
		return al_cli_exec_helper(cmd, argc - 1, argv + 1);
	return cmd->run(argc - 1, argv + 1);
}
