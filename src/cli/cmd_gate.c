/*
 * airlock gate: runs a third-party stdio MCP server behind a validating gate
 * (src/supervisor/gate_run.h). Parses argv and the policy; nothing else.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/log.h"
#include "sandbox/sandbox.h"
#include "supervisor/gate_install.h"
#include "supervisor/gate_policy.h"
#include "supervisor/gate_run.h"

static int run(int argc, char **argv);

const struct al_cmd al_cmd_gate = {
	.name = "gate",
	.summary = "run a third-party stdio MCP server behind a validating gate",
	.usage =
		"usage: airlock gate [--policy FILE] [--name NAME] [--state-dir DIR] [--learn] -- CMD [ARGS...]\n"
		"       airlock gate --policy FILE [--cache-dir DIR] ... [-- ARGS...]   (an installed package)\n"
		"       airlock gate install --policy FILE [--name NAME] [--state-dir DIR] [--cache-dir DIR]\n"
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
		"methods and tools, arguments against the tool's schema and the policy's\n"
		"per-tool rules (path prefixes, lengths, patterns), per-tool rate limits and\n"
		"timeouts (a call unanswered in time is answered with an error and cancelled),\n"
		"cancellations and answers only of questions asked, sampling and elicitation as\n"
		"the policy says, notifications rate-limited, secret-looking values redacted\n"
		"from results. The first tools/list is pinned (SHA-256 of the whole list); a\n"
		"different list later quarantines the server until `airlock gate approve`\n"
		"shows the change and it is accepted.\n"
		"\n"
		"`airlock gate install` installs the policy's [install] npm package: npm runs in\n"
		"a domain whose only way out is an egress domain that reaches the registry\n"
		"alone, with no install scripts, into a content-hashed cache; the tree's SHA-256\n"
		"is pinned. A policy with [install] then runs the package's program (node, no\n"
		"network) from that tree only, after checking it against the pin; ARGS after --\n"
		"are the program's.\n"
		"\n"
		"  --policy FILE    the server's policy (docs/gate.md); default: built-in defaults\n"
		"  --name NAME      pins and audit log kept under this name (default: the\n"
		"                   policy's [gate] name, else the package's or CMD's name)\n"
		"  --state-dir DIR  where pins and audit logs live (default: /var/lib/airlock/gate\n"
		"                   as root, else ~/.local/state/airlock/gate)\n"
		"  --learn          record what is refused and, when the session ends, print the\n"
		"                   policy keys that would allow it (a patch; never applied)\n"
		"  --cache-dir DIR  where installed trees live (default: /var/cache/airlock/gate\n"
		"                   as root, else ~/.cache/airlock/gate)\n"
		"  --yes            approve: accept without asking\n"
		"\n"
		"Exit status: 0 when the client closed the session, 1 if the domains could not\n"
		"be built, 6 if the gate domain broke its contract.\n",
	.run = run,
};

static int approve(int argc, char **argv);
static int install(int argc, char **argv);

struct gate_opts {
	const char *policy, *name, *state_dir, *cache_dir;
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
		{ "cache-dir", required_argument, NULL, 'c' },
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
		case 'c':
			o->cache_dir = optarg;
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
	if (!o->name && !p->named && p->npm) {
		/* an installed package's name, without its scope or version */
		const char *at = strrchr(p->npm, '@'), *sl = memchr(p->npm, '/', (size_t)(at - p->npm));
		const char *from = sl ? sl + 1 : p->npm;
		snprintf(p->name, sizeof p->name, "%.*s", (int)(at - from), from);
	}
	if (o->name) {
		if (!*o->name || o->name[0] == '.' || strchr(o->name, '/') || strlen(o->name) >= sizeof p->name)
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

static int cache_dir(const struct gate_opts *o, char *buf, size_t len)
{
	if (o->cache_dir) {
		snprintf(buf, len, "%s", o->cache_dir);
		return 0;
	}
	if (al_gate_cache_dir(buf, len) < 0) {
		fprintf(stderr, "airlock gate: no cache directory: set HOME or use --cache-dir\n");
		return AL_EXIT_FAIL;
	}
	return 0;
}

/* An installed package: node, its program from the checked tree, then ARGS;
 * the tree joins the policy's read-only paths. *cmd is freed by the caller. */
static int installed_cmd(const struct gate_opts *o, const char *dir, struct al_gate_policy *p, int nargs,
			 char **args, char ***cmd)
{
	static char tree[PATH_MAX], prog[PATH_MAX];
	char cache[PATH_MAX];
	int rc;
	if ((rc = cache_dir(o, cache, sizeof cache)) != 0)
		return rc;
	if (al_gate_installed(p, dir, cache, tree, sizeof tree, prog, sizeof prog) < 0)
		return AL_EXIT_FAIL;
	if (p->n_ro == AL_GATE_POLICY_MAX || !(p->ro[p->n_ro] = strdup(tree)) ||
	    !(*cmd = calloc((size_t)nargs + 3, sizeof **cmd)))
		return AL_EXIT_FAIL;
	p->n_ro++;
	(*cmd)[0] = "node";
	(*cmd)[1] = prog;
	for (int i = 0; i < nargs; i++)
		(*cmd)[2 + i] = args[i];
	return 0;
}

static int run(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "approve"))
		return approve(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "install"))
		return install(argc - 1, argv + 1);
	struct gate_opts o = { 0 };
	int first, rc;
	if ((rc = parse(argc, argv, &o, false, &first)) != 0)
		return rc;
	struct al_gate_policy p;
	char dir[PATH_MAX], worker[PATH_MAX];
	char **cmd = NULL;
	/* a policy with [install] runs its package; otherwise CMD is required */
	if ((rc = load(&o, first < argc ? argv[first] : NULL, &p)) != 0)
		return rc;
	if (!p.npm && first >= argc) {
		al_gate_policy_free(&p);
		return al_cli_usage_error(&al_cmd_gate, "no command given (airlock gate [options] -- CMD ARGS...)");
	}
	/* an ordinary user without a delegated cgroup: a systemd scope (delegate.c) */
	(void)al_cgroup_scope_enter(al_cli_argv);
	if ((rc = state_dir(&o, dir, sizeof dir)) != 0 ||
	    (rc = al_cli_helper_path("src/workers/gate", "airlock-gate", worker, sizeof worker) < 0 ? AL_EXIT_FAIL : 0) ||
	    (p.npm && (rc = installed_cmd(&o, dir, &p, argc - first, argv + first, &cmd)) != 0)) {
		al_gate_policy_free(&p);
		free(cmd);
		return rc;
	}
	rc = al_gate_run(&p, cmd ? cmd : argv + first, dir, worker);
	al_gate_policy_free(&p);
	free(cmd);
	return rc;
}

static int install(int argc, char **argv)
{
	struct gate_opts o = { 0 };
	int first, rc;
	if ((rc = parse(argc, argv, &o, false, &first)) != 0)
		return rc;
	if (first < argc)
		return al_cli_usage_error(&al_cmd_gate, "install takes no command (the policy's [install] names it)");
	if (!o.policy)
		return al_cli_usage_error(&al_cmd_gate, "install: which package? (--policy FILE with [install] npm = ...)");
	(void)al_cgroup_scope_enter(al_cli_argv);
	struct al_gate_policy p;
	char dir[PATH_MAX], cache[PATH_MAX], worker[PATH_MAX];
	if ((rc = load(&o, NULL, &p)) != 0)
		return rc;
	if ((rc = state_dir(&o, dir, sizeof dir)) == 0 && (rc = cache_dir(&o, cache, sizeof cache)) == 0 &&
	    (rc = al_cli_helper_path("src/workers/gate", "airlock-gate", worker, sizeof worker) < 0 ? AL_EXIT_FAIL : 0) == 0)
		rc = al_gate_install(&p, dir, cache, worker);
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
