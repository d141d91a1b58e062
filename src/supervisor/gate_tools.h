/*
 * A gate policy's per-tool rules (docs/gate.md): [tools] rate, burst and
 * timeout for every tool, and [tools.NAME] sections of one tool's own rate,
 * burst, timeout and argument rules (arg.PATH.prefix, arg.PATH.max_length,
 * arg.PATH.pattern). gate_policy.c reads the file and hands these keys here;
 * the run passes the result to the gate domain as airlock-gate's --rules
 * (workers/gate/rules.h), defaults applied.
 */
#ifndef AL_SUPERVISOR_GATE_TOOLS_H
#define AL_SUPERVISOR_GATE_TOOLS_H

#include <stddef.h>

#include "supervisor/gate_policy.h"

/* [tools] rate, burst or timeout: 0, -ENOENT (not one of them), or -EINVAL with why. */
int al_gate_tools_default_key(struct al_gate_policy *p, const char *key, const char *val, char *why, size_t wl);

/* A key of [tools.TOOL] (its section on line sec_line): 0, or -errno with why. */
int al_gate_tools_section_key(struct al_gate_policy *p, const char *tool, int sec_line, const char *key,
			      const char *val, char *why, size_t wl);

/* After the whole file: each [tools.NAME] names a tool [tools] allow allows,
 * no burst without a rate, the encoding within the gate's bound. 0, or
 * -EINVAL with the section's line (0: none) and why. */
int al_gate_tools_check(const struct al_gate_policy *p, int *line, char *why, size_t wl);

/* The rules as airlock-gate's --rules takes them; NULL when out of memory. */
char *al_gate_tools_encode(const struct al_gate_policy *p);

void al_gate_tools_free(struct al_gate_policy *p);

#endif
