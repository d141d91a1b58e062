/*
 * airlock gate: runs a third-party stdio MCP server behind a validating gate
 * (src/supervisor/gate_run.h). Parses argv and the policy; nothing else.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/log.h"
#include "supervisor/gate_policy.h"
#include "supervisor/gate_run.h"

static int run(int argc, char **argv);

const struct al_cmd al_cmd_gate = {
	.name = "gate",
	.summary = "run a third-party stdio MCP server behind a validating gate",
	.usage =
		"usage: airlock gate [--policy FILE] [--name NAME] [--state-dir DIR] [--learn] -- CMD [ARGS...]\n"
		"       airlock gate approve [--policy FILE] [--name NAME] [--state-dir DIR] [--yes]\n"
		"\n"
		"An MCP client launches `airlock gate ... -- CMD` in place of CMD. CMD runs in the\n"
		"tool domain: its own namespaces, the policy's paths only (never ~/.ssh, ~/.gnupg\n"
		"or other files of yours unless named), a private HOME and caches on /tmp, an\n"
		"environment of named variables and secrets only, no network (or, with an\n"
		"[egress] allowlist, only the allowed host:port through an egress domain that\n"
		"resolves names and audits every connection), seccomp with refused calls\n"
		"logged and audited. The gate domain holds the client's stdin and\n"
		"stdout and checks every message both ways: JSON-RPC shape and size, allowed\n"
		"methods and tools, arguments against the tool's schema, answers only to\n"
		"questions asked, sampling and elicitation as the policy says, notifications\n"
		"rate-limited, secret-looking values redacted from results. The first tools/list\n"
		"is pinned (SHA-256 of the whole list); a different list later quarantines the\n"
		"server until `airlock gate approve` shows the change and it is accepted.\n"
		"\n"
		"  --policy FILE    the server's policy (docs/gate.md); default: built-in defaults\n"
		"  --name NAME      pins and audit log kept under this name (default: the\n"
		"                   policy's [gate] name, else CMD's file name)\n"
		"  --state-dir DIR  where pins and audit logs live (default: /var/lib/airlock/gate\n"
		"                   as root, else ~/.local/state/airlock/gate)\n"
		"  --learn          record what is refused and, when the session ends, print the\n"
		"                   policy keys that would allow it (a patch; never applied)\n"
		"  --yes            approve: accept without asking\n"
		"\n"
		"Exit status: 0 when the client closed the session, 1 if the domains could not\n"
		"be built, 6 if the gate domain broke its contract.\n",
	.run = run,
};

static int approve(int argc, char **argv);

struct gate_opts {
	const char *policy, *name, *state_dir;
	bool yes, learn;
};

/* Options of both forms; the index of the first argument after them. */
static int parse(int argc, char **argv, struct gate_opts *o, bool approving, int *first)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "yes", no_argument, NULL, 'y' },
		{ "learn", no_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->policy = optarg;
			break;
		case 'n':
			o->name = optarg;
			break;
		case 's':
			o->state_dir = optarg;
			break;
		case 'y':
			if (!approving)
				return al_cli_usage_error(&al_cmd_gate, "--yes belongs to `airlock gate approve`");
			o->yes = true;
			break;
		case 'l':
			if (approving)
				return al_cli_usage_error(&al_cmd_gate, "--learn belongs to a run, not to approve");
			o->learn = true;
			break;
		default:
			return al_cli_usage_error(&al_cmd_gate, "unknown option");
		}
	}
	*first = optind;
	return 0;
}

/* The policy (defaults, then the file), named by --name, [gate] name or CMD. */
static int load(const struct gate_opts *o, const char *cmd, struct al_gate_policy *p)
{
	const char *base = cmd ? strrchr(cmd, '/') : NULL;
	al_gate_policy_init(p, base ? base + 1 : cmd);
	if (o->policy && al_gate_policy_load(p, o->policy) < 0) {
		fprintf(stderr, "airlock gate: the policy %s was refused (see above)\n", o->policy);
		return AL_EXIT_FAIL;
	}
	if (o->name) {
		if (!*o->name || strchr(o->name, '/') || strlen(o->name) >= sizeof p->name)
			return al_cli_usage_error(&al_cmd_gate, "bad --name '%s'", o->name);
		snprintf(p->name, sizeof p->name, "%s", o->name);
	}
	p->learn |= o->learn;
	return 0;
}

static int state_dir(const struct gate_opts *o, char *buf, size_t len)
{
	if (o->state_dir) {
		snprintf(buf, len, "%s", o->state_dir);
		return 0;
	}
	if (al_gate_state_dir(buf, len) < 0) {
		fprintf(stderr, "airlock gate: no state directory: set HOME or use --state-dir\n");
		return AL_EXIT_FAIL;
	}
	return 0;
}

static int run(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "approve"))
		return approve(argc - 1, argv + 1);
	struct gate_opts o = { 0 };
	int first, rc;
	if ((rc = parse(argc, argv, &o, false, &first)) != 0)
		return rc;
	if (first >= argc)
		return al_cli_usage_error(&al_cmd_gate, "no command given (airlock gate [options] -- CMD ARGS...)");
	struct al_gate_policy p;
	char dir[PATH_MAX], worker[PATH_MAX];
	if ((rc = load(&o, argv[first], &p)) != 0)
		return rc;
	if ((rc = state_dir(&o, dir, sizeof dir)) != 0 ||
	    (rc = al_cli_helper_path("src/workers/gate", "airlock-gate", worker, sizeof worker) < 0 ? AL_EXIT_FAIL : 0)) {
		al_gate_policy_free(&p);
		return rc;
	}
	rc = al_gate_run(&p, argv + first, dir, worker);
	al_gate_policy_free(&p);
	return rc;
}

static int approve(int argc, char **argv)
{
	struct gate_opts o = { 0 };
	int first, rc;
	if ((rc = parse(argc, argv, &o, true, &first)) != 0)
		return rc;
	if (first < argc)
		return al_cli_usage_error(&al_cmd_gate, "approve takes no command");
	if (!o.policy && !o.name)
		return al_cli_usage_error(&al_cmd_gate, "approve: which server? (--policy FILE or --name NAME)");
	struct al_gate_policy p;
	char dir[PATH_MAX];
	if ((rc = load(&o, NULL, &p)) != 0)
		return rc;
	if ((rc = state_dir(&o, dir, sizeof dir)) == 0)
		rc = al_gate_approve(&p, dir, o.yes);
	al_gate_policy_free(&p);
	return rc;
}
