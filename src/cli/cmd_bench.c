/*
 * airlock bench: measures airlock's overhead on this machine against the
 * same work without it (src/bench/), prints the table, saves the JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "sandbox/sandbox.h"
#include "supervisor/config.h"

static int run(int argc, char **argv);

const struct al_cmd al_cmd_bench = {
	.name = "bench",
	.summary = "measure the overhead of each security level on this machine",
	.usage =
		"usage: airlock bench [--json] [--level LEVEL] [--quick] [--out FILE] [--svg FILE] [--quiet]\n"
		"\n"
		"Measures, side by side in one run, the work airlock does with its security on\n"
		"and the same work without it: AI tokens/s and request latency (the AI domain\n"
		"at each level vs the engine in-process), MCP tools/list and generate latency\n"
		"p50/p99 over HTTP (a supervisor per level vs the same handlers in one\n"
		"unsandboxed process), the channel round trip against the core-to-core limit,\n"
		"the context-switch cost, spawn time, and the total overhead per level against\n"
		"its budget. Repetitions are interleaved; medians with their spread; every\n"
		"figure is printed with its method. About a minute (--quick: a few seconds).\n"
		"\n"
		"  --json         print the result as JSON instead of the table\n"
		"  --level LEVEL  measure one level only: minimal, standard, high or maximum\n"
		"  --quick        few repetitions: a smoke run, figures only indicative\n"
		"  --out FILE     save the JSON here (default: airlock-bench.json)\n"
		"  --svg FILE     also draw the total overhead per level against the budgets\n"
		"  --quiet        no progress lines on stderr\n",
	.run = run,
};

static int run(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "level", required_argument, NULL, 'l' },
		{ "quick", no_argument, NULL, 'q' },
		{ "out", required_argument, NULL, 'o' },
		{ "svg", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'Q' },
		{ NULL, 0, NULL, 0 },
	};
	struct al_bench_opts o = { .level = -1, .log = stderr };
	bool json = false;
	const char *out = "airlock-bench.json", *svg = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'q': o.quick = true; break;
		case 'o': out = optarg; break;
		case 's': svg = optarg; break;
		case 'Q': o.log = NULL; break;
		case 'l': {
			enum al_level l;
			if (al_level_parse(optarg, &l) < 0)
				return al_cli_usage_error(&al_cmd_bench, "unknown level '%s'", optarg);
			o.level = (int)l;
			break;
		}
		default:
			return al_cli_usage_error(&al_cmd_bench, "unknown option");
		}
	}
	if (optind != argc)
		return al_cli_usage_error(&al_cmd_bench, "unexpected argument '%s'", argv[optind]);
	json_t *r = NULL;
	int rc = al_bench_run(&o, &r);
	if (rc < 0) {
		fprintf(stderr, "airlock bench: %s\n", strerror(-rc));
		return AL_EXIT_FAIL;
	}
	if (json_dump_file(r, out, JSON_INDENT(1)) < 0)
		fprintf(stderr, "airlock bench: could not write %s\n", out);
	else if (o.log)
		fprintf(o.log, "airlock bench: result saved to %s\n", out);
	if (svg && (rc = al_bench_write_svg(r, svg)) < 0)
		fprintf(stderr, "airlock bench: %s: %s\n", svg, strerror(-rc));
	if (json) {
		json_dumpf(r, stdout, JSON_INDENT(1));
		fputc('\n', stdout);
	} else {
		al_bench_print(r, stdout);
	}
	json_decref(r);
	return AL_EXIT_OK;
}
