/*
 * airlock level [set NAME]: the security level of the running supervisor.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/util.h"
#include "supervisor/config.h"
#include "supervisor/control.h"

static const char level_usage[] =
	"usage: airlock level [--json] [--config FILE | --control PATH] [set NAME]\n"
	"\n"
	"Shows the security level in force, the level configured or set (base), the\n"
	"threat the last incident implied, and the mechanisms of the level.\n"
	"Incidents raise the level at once; it steps back down one level per quiet\n"
	"period ([respond] quiet_period) without incidents, never below the base.\n"
	"\n"
	"  set NAME        make NAME (minimal, standard, high, maximum) the level and\n"
	"                  its base; domains built for a weaker level are restarted\n"
	"                  on the stricter filter\n"
	"  --json          print the supervisor's answer as JSON\n"
	"  --config FILE   find the control socket in FILE\n"
	"  --control PATH  control socket\n";

static int level_run(int argc, char **argv)
{
	bool json = false;
	char control[256];
	int first;
	int rc = al_cli_control_opts(&al_cmd_level, argc, argv, &json, &first, control, sizeof control);
	if (rc)
		return rc;
	enum al_control_op op = AL_CONTROL_LEVEL_GET;
	enum al_level level = AL_LEVEL_STANDARD;
	if (first < argc) {
		if (strcmp(argv[first], "set") != 0 || first + 2 != argc)
			return al_cli_usage_error(&al_cmd_level, "expected: set NAME");
		if (al_level_parse(argv[first + 1], &level) < 0)
			return al_cli_usage_error(&al_cmd_level, "'%s' is not minimal, standard, high or maximum",
						  argv[first + 1]);
		op = AL_CONTROL_LEVEL_SET;
	}
	json_t *r = NULL;
	if ((rc = al_cli_control_call(control, op, (uint32_t)level, "supervisor", &r)))
		return rc;
	if (json) {
		json_dumpf(r, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		json_t *m = json_object_get(r, "mechanisms");
		printf("level %s (base %s, threat %s)%s\n", json_string_value(json_object_get(r, "level")),
		       json_string_value(json_object_get(r, "base")), json_string_value(json_object_get(r, "threat")),
		       json_is_true(json_object_get(r, "locked")) ? "  LOCKED DOWN" : "");
		if (json_is_true(json_object_get(r, "locked")))
			printf("  lockdown: %s (airlock unlock re-verifies and restarts)\n",
			       json_string_value(json_object_get(r, "lock_reason")) ?: "?");
		printf("  seccomp %s, speculation forced %s, partitioned %s, tsc off %s,\n"
		       "  integrity every %lld s, audit verbosity %lld, budget %.0f %% (goal %.0f %%)\n"
		       "  quiet period %lld s, %.0f s since the last incident or change\n",
		       json_string_value(json_object_get(m, "seccomp")),
		       json_is_true(json_object_get(m, "speculation_forced")) ? "yes" : "no",
		       json_is_true(json_object_get(m, "partitioned")) ? "yes" : "no",
		       json_is_true(json_object_get(m, "tsc_off")) ? "yes" : "no",
		       (long long)json_integer_value(json_object_get(m, "integrity_interval_s")),
		       (long long)json_integer_value(json_object_get(r, "audit_verbosity")),
		       json_real_value(json_object_get(m, "budget_claim_pct")),
		       json_real_value(json_object_get(m, "budget_goal_pct")),
		       (long long)json_integer_value(json_object_get(r, "quiet_period_s")),
		       json_real_value(json_object_get(r, "since_last_event_s")));
	}
	json_decref(r);
	return AL_EXIT_OK;
}

const struct al_cmd al_cmd_level = {
	.name = "level",
	.summary = "show or set the running supervisor's security level",
	.usage = level_usage,
	.run = level_run,
};
