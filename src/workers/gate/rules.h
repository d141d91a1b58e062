/*
 * The policy's per-tool rules as the gate domain holds them: rate limits,
 * timeouts and argument rules (docs/gate.md, [tools] and [tools.NAME]).
 * The supervisor resolves the policy (defaults applied) and passes it as one
 * JSON document (--rules); the gate domain decodes it here as it decodes any
 * input: strict shape, bounded counts, every pattern compiled again.
 *
 *   {"default": LIMITS, "tools": [{"name": "read_file", LIMITS..., "args": [ARG...]}]}
 *   LIMITS  "rate": calls per period (0: none), "period_ms": 1000, 60000 or
 *           3600000, "burst": 1 to 100000 (0 without a rate),
 *           "timeout_ms": 0 (none) or 10 to 86400000
 *   ARG     {"path": "paths[]", "prefix": ["/abs", ...], "max_length": N, "pattern": "ERE"}
 *           (path and at least one rule)
 *
 *   struct al_gate_rules *r;
 *   al_gate_rules_parse(json, len, &r, why, sizeof why);
 *   const struct al_gate_toolrule *t = al_gate_rules_find(r, "read_file");
 *   al_gate_rules_check(t, args, &fault);
 *   al_gate_rules_free(r);
 */
#ifndef AL_GATE_RULES_H
#define AL_GATE_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/gate/argrule.h"

struct al_gate_argrule {
	char text[AL_GATE_ARG_PATH];      /* the path as the policy wrote it */
	struct al_gate_argpath path;
	char *prefix[AL_GATE_ARG_PREFIXES]; /* normalised, absolute */
	size_t n_prefix;
	uint32_t max_length;              /* characters; 0: none */
	char *pattern;                    /* as written; NULL: none */
	regex_t re;                       /* compiled when pattern */
};

struct al_gate_toolrule {
	char name[64];
	uint32_t rate, period_ms, burst;  /* rate calls per period_ms, burst at once; rate 0: none */
	uint32_t timeout_ms;              /* 0: none */
	struct al_gate_argrule *args;
	size_t n_args;
};

struct al_gate_rules {
	struct al_gate_toolrule def;      /* a tool without rules of its own (no args) */
	struct al_gate_toolrule *tools;
	size_t n_tools;
};

/* 0, or -EINVAL / -ENOMEM with why. */
int al_gate_rules_parse(const char *json, size_t len, struct al_gate_rules **out, char *why, size_t wl);
void al_gate_rules_free(struct al_gate_rules *r);

/* The tool's rules, else the default's; r may be NULL (then NULL). */
const struct al_gate_toolrule *al_gate_rules_find(const struct al_gate_rules *r, const char *tool);

/* A refused argument: where (as met: "paths[2]"), which rule, and why. */
struct al_gate_arg_fault {
	char arg[160];
	const char *rule;   /* "prefix", "max_length", "pattern", "type" or "nul" */
	char why[300];
};

/* 0 when args satisfy every argument rule of t, else -1 and *f. */
int al_gate_rules_check(const struct al_gate_toolrule *t, json_t *args, struct al_gate_arg_fault *f);

/* "2 calls a second (burst 2)", "30 calls a minute (burst 5)". */
void al_gate_rate_text(const struct al_gate_toolrule *t, char *buf, size_t len);

#endif
