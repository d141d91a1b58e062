/*
 * A gate policy: one INI file per third-party MCP server (docs/gate.md).
 *
 *   struct al_gate_policy p;
 *   al_gate_policy_init(&p, "server-name");   // the defaults
 *   al_gate_policy_load(&p, "policy.ini");    // or _load_mem (fuzzing)
 *   ...
 *   al_gate_policy_free(&p);
 *
 * Errors name the file, line and key; an unknown section or key is an error.
 */
#ifndef AL_SUPERVISOR_GATE_POLICY_H
#define AL_SUPERVISOR_GATE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/gate/argrule.h"

#define AL_GATE_POLICY_MAX 64 /* paths, env names, tools each */

/* A rate and a timeout, each set in its section or not (then [tools]'s). */
struct al_gate_limits {
	bool has_rate, has_burst, has_timeout;
	uint32_t rate, period_ms;  /* rate calls per period_ms; rate 0: none */
	uint32_t burst;            /* calls at once; 0: the rate */
	uint32_t timeout_ms;       /* 0: none */
};

/* [tools.NAME] arg.PATH.RULE: the rules of one argument (workers/gate/argrule.h). */
struct al_gate_arg_policy {
	char path[AL_GATE_ARG_PATH];
	char *prefix[AL_GATE_ARG_PREFIXES]; /* normalised */
	size_t n_prefix;
	uint32_t max_length;       /* 0: none */
	char *pattern;             /* NULL: none */
};

/* [tools.NAME] (gate_tools.h) */
struct al_gate_tool_policy {
	char name[64];
	int line;                  /* of its section's first key, for messages */
	struct al_gate_limits lim;
	struct al_gate_arg_policy args[AL_GATE_ARG_RULES];
	size_t n_args;
};

struct al_gate_policy {
	char name[64];            /* pins, pending changes and audit log are kept under it */
	bool named;               /* by [gate] name (else the command's or package's name) */
	/* [gate] */
	uint64_t max_line, max_result;
	uint32_t notify_rate;
	/* [tool] */
	char *profile;            /* runtime, tool, or a profile file */
	char *ro[AL_GATE_POLICY_MAX], *rw[AL_GATE_POLICY_MAX];
	size_t n_ro, n_rw;
	char *env[AL_GATE_POLICY_MAX]; /* passed through from the environment, by name */
	size_t n_env;
	char *secret_name[AL_GATE_POLICY_MAX], *secret_file[AL_GATE_POLICY_MAX];
	size_t n_secrets;         /* NAME = file: the file's content becomes $NAME */
	uint64_t memory, pids;    /* 0: the profile's */
	bool exec;                /* the server may start programs (npx, shells) */
	bool accept_unenforced;   /* run where no cgroup can hold the CPU share */
	/* [tools] */
	bool all_tools;
	char *tools[AL_GATE_POLICY_MAX];
	size_t n_tools;
	struct al_gate_limits tools_limits;   /* [tools] rate, burst, timeout: every tool's */
	struct al_gate_tool_policy *tool_rules[AL_GATE_RULES_TOOLS]; /* [tools.NAME] */
	size_t n_tool_rules;
	/* [server_requests]: false = deny, true = pass to the client */
	bool sampling, elicitation, roots;
	/* [egress]: host:port the tool domain may reach through the egress
	 * domain (docs/gate.md); none: no network at all */
	char *egress[AL_GATE_POLICY_MAX];
	size_t n_egress;
	/* [gate] learn, or --learn: record denials, propose a policy diff */
	bool learn;
	char *file;               /* the policy file read (al_gate_policy_load), or NULL */
	/* [install] (gate_install.h): the npm package, exact version */
	char *npm;                /* "name@1.2.3" or "@scope/name@1.2.3"; NULL: none */
	char *bin;                /* the package's program (node_modules/.bin); NULL: its only one */
	char *registry;           /* https://host[:port]/...; NULL: registry.npmjs.org */
};

void al_gate_policy_init(struct al_gate_policy *p, const char *name);
void al_gate_policy_free(struct al_gate_policy *p);
/* 0, or -errno with the reason printed (file:line: key: why). */
int al_gate_policy_load(struct al_gate_policy *p, const char *path);
int al_gate_policy_load_mem(struct al_gate_policy *p, const char *buf, size_t len, const char *origin);

#endif
