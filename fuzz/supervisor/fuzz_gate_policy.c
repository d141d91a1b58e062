/* Gate policies over hostile bytes: loaded or refused, never anything else;
 * what loaded keeps its invariants, and its per-tool rules are what the gate
 * domain accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/gate_policy.h"
#include "supervisor/gate_tools.h"
#include "workers/gate/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_gate_policy p;
	al_gate_policy_init(&p, "fuzz");
	if (al_gate_policy_load_mem(&p, (const char *)data, size, "/fuzz/policy.ini") == 0) {
		/* what loaded keeps its invariants */
		if (p.n_ro > AL_GATE_POLICY_MAX || p.n_tools > AL_GATE_POLICY_MAX || !p.name[0] ||
		    strchr(p.name, '/') || p.max_line < 1024 || p.notify_rate == 0)
			__builtin_trap();
		for (size_t i = 0; i < p.n_ro; i++)
			if (p.ro[i][0] != '/')
				__builtin_trap();
		if (p.n_tool_rules > AL_GATE_RULES_TOOLS)
			__builtin_trap();
		for (size_t i = 0; i < p.n_tool_rules; i++)
			for (size_t k = 0; k < p.tool_rules[i]->n_args; k++)
				for (size_t j = 0; j < p.tool_rules[i]->args[k].n_prefix; j++)
					if (p.tool_rules[i]->args[k].prefix[j][0] != '/' ||
					    strstr(p.tool_rules[i]->args[k].prefix[j], "//"))
						__builtin_trap();
		char *rules = al_gate_tools_encode(&p);
		struct al_gate_rules *r = NULL;
		char why[256];
		if (rules && al_gate_rules_parse(rules, strlen(rules), &r, why, sizeof why) < 0)
			__builtin_trap();
		al_gate_rules_free(r);
		free(rules);
	}
	al_gate_policy_free(&p);
	return 0;
}
