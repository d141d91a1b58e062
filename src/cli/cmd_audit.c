/*
 * airlock audit verify: checks the chain of an audit log with its initial key.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "common/util.h"
#include "supervisor/config.h"

static int run(int argc, char **argv);
static int verify(const char *path, const char *keypath, const char *statepath, bool no_state);
const char *al_cli_default_config(void);

const struct al_cmd al_cmd_audit = {
	.name = "audit",
	.summary = "verify the tamper-evident audit log",
	.usage =
		"usage: airlock audit verify [FILE] [--key KEYFILE] [--state STATEFILE | --no-state]\n"
		"                            [--config CONFIG]\n"
		"\n"
		"Walks the MAC chain of FILE from its initial key (default FILE.key; keep the\n"
		"real one offline) and names the first record that was edited, removed,\n"
		"reordered, inserted or forged. With the state file (default FILE.state; its\n"
		"absence is a failure) a tail cut off after the last flush is found too; with\n"
		"--no-state only a missing seal record hints at one. Exit 0 if the log\n"
		"verifies, 1 otherwise.\n"
		"FILE defaults to the audit_log of CONFIG (default: the installed config).\n",
	.run = run,
};

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "state", required_argument, NULL, 's' },
		{ "no-state", no_argument, NULL, 'n' },
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *keypath = NULL, *statepath = NULL, *cpath = NULL;
	struct al_config *cfg = NULL;
	bool no_state = false;
	int c;
	if (argc < 2 || strcmp(argv[1], "verify") != 0)
		return al_cli_usage_error(&al_cmd_audit, "expected 'verify'");
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:s:n", opts, NULL)) != -1) {
		switch (c) {
		case 'k': keypath = optarg; break;
		case 's': statepath = optarg; break;
		case 'n': no_state = true; break;
		case 'c': cpath = optarg; break;
		default: return al_cli_usage_error(&al_cmd_audit, "bad option");
		}
	}
	if (optind < argc - 1)
		return al_cli_usage_error(&al_cmd_audit, "expected at most one FILE");
	const char *path = optind < argc ? argv[optind] : NULL;
	if (!path) {
		char *errors = NULL;
		if (al_config_load(cpath ? cpath : al_cli_default_config(), 0, &cfg, &errors) < 0) {
			fputs(errors ? errors : "airlock audit: out of memory\n", stderr);
			free(errors);
			return AL_EXIT_FAIL;
		}
		path = cfg->audit_log;
	}
	int status = verify(path, keypath, statepath, no_state);
	al_config_free(cfg);
	return status;
}

static int verify(const char *path, const char *keypath, const char *statepath, bool no_state)
{
	char defkey[4096], defstate[4096];
	if (!keypath) {
		if ((size_t)snprintf(defkey, sizeof defkey, "%s.key", path) >= sizeof defkey)
			return al_cli_usage_error(&al_cmd_audit, "path too long");
		keypath = defkey;
	}
	if (!statepath && !no_state) {
		if ((size_t)snprintf(defstate, sizeof defstate, "%s.state", path) >= sizeof defstate)
			return al_cli_usage_error(&al_cmd_audit, "path too long");
		/* Without the state a cut-off tail looks like a shorter, valid log:
		 * a missing state is a failure unless the caller accepts that. */
		if (access(defstate, F_OK) != 0) {
			printf("%s: FAILED: the state file %s is missing, so records cut off the end "
			       "cannot be ruled out (use --no-state to check the chain alone)\n", path, defstate);
			return AL_EXIT_FAIL;
		}
		statepath = defstate;
	}
	if (no_state)
		statepath = NULL;

	struct al_audit_result res;
	int rc = al_audit_verify_file(path, keypath, statepath, &res);
	if (rc == 0) {
		printf("%s: ok, %" PRIu64 " records, %s; %s\n", path, res.records,
		       res.sealed ? "sealed" : "not sealed (still open, crashed, or cut after a record)",
		       res.state_checked ? "state matches" : "no state checked");
		return AL_EXIT_OK;
	}
	if (rc == -EBADMSG && res.bad_line)
		printf("%s: FAILED at line %" PRIu64 " (seq %" PRIu64 "): %s: %s\n", path,
		       res.bad_line, res.bad_seq, al_audit_verdict_name(res.verdict), res.reason);
	else if (rc == -EBADMSG)
		printf("%s: FAILED: %s: %s\n", path, al_audit_verdict_name(res.verdict), res.reason);
	else
		printf("%s: FAILED: %s\n", path, res.reason[0] ? res.reason : strerror(-rc));
	return AL_EXIT_FAIL;
}
