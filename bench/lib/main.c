/*
 * airlock-bench: `airlock bench` (src/cli/cmd_bench.c has its usage), run
 * by `airlock` with the same arguments. Measures airlock's overhead on this
 * machine against the same work without it, prints the table, saves the JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "cli/cli.h"
#include "common/util.h"
#include "respond/level.h"
#include "sandbox/sandbox.h"
#include "workers/ai/gguf.h"

/* A GGUF file carries its vocabulary; anything else is taken for a llama2.c checkpoint. */
static bool is_gguf(const char *path)
{
	char magic[4];
	FILE *f = fopen(path, "rbe");
	bool yes = f && al_gguf_is(magic, fread(magic, 1, sizeof magic, f));
	if (f)
		fclose(f);
	return yes;
}

static int bench_run(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "level", required_argument, NULL, 'l' },
		{ "quick", no_argument, NULL, 'q' },
		{ "out", required_argument, NULL, 'o' },
		{ "svg", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'Q' },
		{ "from", required_argument, NULL, 'f' },
		{ "only", required_argument, NULL, 'O' },
		{ "set", required_argument, NULL, 'S' },
		{ "model", required_argument, NULL, 'm' },
		{ "tokenizer", required_argument, NULL, 't' },
		{ "probe", required_argument, NULL, 'p' },
		{ "rounds", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct al_bench_opts o = { .level = -1, .log = stderr };
	const char *set[32];
	bool json = false;
	const char *out = "airlock-bench.json", *svg = NULL, *from = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'q': o.quick = true; break;
		case 'o': out = optarg; break;
		case 's': svg = optarg; break;
		case 'Q': o.log = NULL; break;
		case 'f': from = optarg; break;
		case 'O': o.only = optarg; break;
		case 'm': o.model = optarg; break;
		case 't': o.tokenizer = optarg; break;
		case 'p':
			if (strcmp(optarg, "fifo") && strcmp(optarg, "default"))
				return al_cli_usage_error(&al_cmd_bench, "--probe: expected default or fifo");
			o.probe_fifo = !strcmp(optarg, "fifo");
			break;
		case 'r': {
			uint64_t n;
			if (al_parse_u64(optarg, &n) < 0 || n < 1 || n > AL_BENCH_LOAD_ROUNDS_MAX)
				return al_cli_usage_error(&al_cmd_bench, "--rounds: expected a whole number from 1 to %u, "
							  "not '%s'", AL_BENCH_LOAD_ROUNDS_MAX, optarg);
			o.load_rounds = (unsigned)n;
			break;
		}
		case 'S':
			if (o.nset == sizeof set / sizeof *set)
				return al_cli_usage_error(&al_cmd_bench, "too many --set options");
			set[o.nset++] = optarg;
			o.set = set;
			break;
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
	if (o.tokenizer && !o.model)
		return al_cli_usage_error(&al_cmd_bench, "--tokenizer needs --model");
	for (const char *f = o.model; f; f = f == o.model ? o.tokenizer : NULL)
		if (access(f, R_OK) < 0) {
			fprintf(stderr, "airlock bench: %s: %s\n", f, strerror(errno));
			return AL_EXIT_FAIL;
		}
	if (o.model && !o.tokenizer && !is_gguf(o.model))
		return al_cli_usage_error(&al_cmd_bench, "%s is not a GGUF file: a llama2.c checkpoint needs --tokenizer",
					  o.model);
	json_t *r = NULL;
	int rc;
	if (from) {
		/* A saved result printed and drawn again: nothing is measured or saved. */
		json_error_t err;
		if (!(r = json_load_file(from, 0, &err))) {
			fprintf(stderr, "airlock bench: %s:%d: %s\n", from, err.line, err.text);
			return AL_EXIT_FAIL;
		}
		if (json_integer_value(json_object_get(r, "schema")) != 1 ||
		    !json_is_array(json_object_get(r, "levels")) || !json_is_array(json_object_get(r, "budgets")) ||
		    !json_is_array(json_object_get(r, "sections"))) {
			fprintf(stderr, "airlock bench: %s: not a result of airlock bench (schema 1: levels, sections, "
				"budgets)\n", from);
			json_decref(r);
			return AL_EXIT_FAIL;
		}
	} else if ((rc = al_bench_run(&o, &r)) < 0) {
		if (rc == -ENOENT && o.only)
			return al_cli_usage_error(&al_cmd_bench, "--only: unknown section in '%s'", o.only);
		if (rc == -EINVAL && o.nset)
			return al_cli_usage_error(&al_cmd_bench, "--set: expected SECTION.KEY=VALUE");
		fprintf(stderr, "airlock bench: %s\n", strerror(-rc));
		return AL_EXIT_FAIL;
	}
	if (!from) {
		if (json_dump_file(r, out, JSON_INDENT(1)) < 0)
			fprintf(stderr, "airlock bench: could not write %s\n", out);
		else if (o.log)
			fprintf(o.log, "airlock bench: result saved to %s\n", out);
	}
	if (svg && (rc = al_bench_write_svg(r, svg)) < 0) {
		fprintf(stderr, "airlock bench: %s: %s\n", svg, strerror(-rc));
		if (from) {
			json_decref(r);
			return AL_EXIT_FAIL;
		}
	}
	if (json) {
		json_dumpf(r, stdout, JSON_INDENT(1));
		fputc('\n', stdout);
	} else {
		al_bench_print(r, stdout);
	}
	json_decref(r);
	return AL_EXIT_OK;
}

int main(int argc, char **argv)
{
	return al_cli_helper_main(&al_cmd_bench, bench_run, argc, argv);
}
