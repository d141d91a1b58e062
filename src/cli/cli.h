/*
 * The airlock command: one file per subcommand (cmd_<name>.c), each exporting
 * a struct al_cmd. main.c only dispatches. A subcommand parses its argv and
 * calls the libraries; it has no mechanism of its own.
 *
 * A subcommand that needs the code of the untrusted-input parsers (HTTP,
 * MCP, libcurl, the AI engine) is its own executable, so that the process of
 * `airlock run` maps none of it: its cmd_<name>.c holds only the texts and the
 * helper's name; `airlock NAME` executes the helper with the arguments
 * unchanged, and the helper's main() calls al_cli_helper_main().
 *
 * Exit statuses: 0 success, 1 failure (the reason printed), 2 usage error.
 */
#ifndef AL_CLI_H
#define AL_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "supervisor/control.h"

enum al_exit {
	AL_EXIT_OK = 0,
	AL_EXIT_FAIL = 1,
	AL_EXIT_USAGE = 2,
};

struct al_cmd {
	const char *name;
	const char *summary; /* one line for `airlock --help` */
	const char *usage;   /* full text for `airlock help NAME` and NAME --help */
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
	/* Or the executable that runs it: build_dir/helper in the build tree,
	 * AL_LIBEXECDIR/helper when installed. */
	const char *helper;
	const char *helper_build_dir; /* relative to the build root */
};

/* main()'s argv, for a command that executes itself again (the systemd
 * scope of `exec` and `gate`: al_cgroup_scope_enter). */
extern char **al_cli_argv;

/* Prints "airlock NAME: MSG" and the usage to stderr; returns AL_EXIT_USAGE. */
int al_cli_usage_error(const struct al_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The control socket: explicit (--control), else the one config (or the
 * built-in configuration) names. 0, or AL_EXIT_FAIL with the reason printed. */
int al_cli_control_path(const char *config, const char *explicit, char *out, size_t len);

/*
 * The options of a command that talks to the supervisor: --config FILE,
 * --control PATH, and --json when json is not NULL; then the control socket
 * (al_cli_control_path) into control. Arguments after the options are a
 * usage error, unless rest is not NULL: then *rest is the first one's index.
 * 0, or AL_EXIT_USAGE / AL_EXIT_FAIL with the reason printed.
 */
int al_cli_control_opts(const struct al_cmd *cmd, int argc, char **argv, bool *json, int *rest,
			char *control, size_t len);

/*
 * Sends one request to the supervisor. 0 with *reply (caller frees), or
 * AL_EXIT_FAIL with the reason printed: the socket's error, or the
 * supervisor's refusal prefixed by `refused` ("supervisor", "unlock refused").
 */
int al_cli_control_call(const char *control, enum al_control_op op, uint32_t arg, const char *refused,
			json_t **reply);

/* True if argv holds -h or --help before any "--". */
int al_cli_wants_help(int argc, char **argv);

/*
 * Runs a helper command: executes cmd->helper with argv (argv[0], the
 * subcommand name, becomes the helper's name). Returns only on failure:
 * AL_EXIT_FAIL, with the path it tried printed.
 */
int al_cli_exec_helper(const struct al_cmd *cmd, int argc, char **argv);

/* Where the executable name of build_dir (relative to the build root) is: the
 * build tree's when `airlock` runs from it, else the installed one. 0 or
 * -ENAMETOOLONG. */
int al_cli_helper_path(const char *build_dir, const char *name, char *path, size_t len);

/*
 * The main() of a helper executable: the same logging, --help and argv as
 * when the command ran inside `airlock` (argv[0] becomes cmd->name), then run.
 */
int al_cli_helper_main(const struct al_cmd *cmd, int (*run)(int argc, char **argv), int argc,
		       char **argv);

extern const struct al_cmd al_cmd_run;
extern const struct al_cmd al_cmd_status;
extern const struct al_cmd al_cmd_metrics;
extern const struct al_cmd al_cmd_stop;
extern const struct al_cmd al_cmd_ask;
extern const struct al_cmd al_cmd_exec;
extern const struct al_cmd al_cmd_gate;
extern const struct al_cmd al_cmd_check;
extern const struct al_cmd al_cmd_config;
extern const struct al_cmd al_cmd_manifest;
extern const struct al_cmd al_cmd_audit;
extern const struct al_cmd al_cmd_bench;
extern const struct al_cmd al_cmd_level, al_cmd_unlock;

#endif
