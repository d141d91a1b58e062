/*
 * airlock bench: measures airlock's overhead on this machine against the
 * same work without it (bench/lib/), prints the table, saves the JSON.
 * It runs the MCP server, the HTTP front end and the AI engine in-process,
 * so it is its own executable, airlock-bench (bench/lib/main.c).
 */
#include "cli/cli.h"

const struct al_cmd al_cmd_bench = {
	.name = "bench",
	.summary = "measure the overhead of each security level on this machine",
	.usage =
		"usage: airlock bench [--json] [--level LEVEL] [--quick] [--only SECTIONS] [--set S.KEY=VALUE]...\n"
		"                     [--model FILE [--tokenizer FILE]] [--probe default|fifo] [--rounds N]\n"
		"                     [--out FILE] [--svg FILE] [--quiet]\n"
		"       airlock bench --from FILE [--json] [--svg FILE]\n"
		"\n"
		"Measures, side by side in one run, the work airlock does with its security on\n"
		"and the same work without it: AI tokens/s and request latency (the AI domain\n"
		"at each level vs the engine in-process), MCP tools/list and generate latency\n"
		"p50/p99 over HTTP (a supervisor per level vs the same handlers in one\n"
		"unsandboxed process), the channel round trip against the core-to-core limit,\n"
		"the context-switch cost, spawn time, and the total overhead per level against\n"
		"its budget; and the protocol under generation: tools/list p50/p99/p99.9 while\n"
		"0, 1, 2 and 4 generations run, each level next to the unsandboxed stack under\n"
		"the same load. Repetitions are interleaved; medians with their spread; every\n"
		"figure is printed with its method. About five minutes (--quick: seconds).\n"
		"\n"
		"  --json         print the result as JSON instead of the table\n"
		"  --level LEVEL  measure one level only: minimal, standard, high or maximum\n"
		"  --quick        few repetitions: a smoke run, figures only indicative\n"
		"  --only SECTIONS  only these, comma-separated: ai, ai_sandbox, protocol,\n"
		"                 load, channel, switch, spawn, total\n"
		"  --set S.KEY=VALUE  add KEY = VALUE in [S] to every supervisor's\n"
		"                 configuration (e.g. domain.proto.sched=realtime)\n"
		"  --model FILE   the AI sections' model (a llama2.c checkpoint, which needs\n"
		"                 --tokenizer FILE, or a GGUF file) instead of the embedded\n"
		"                 one: the sandbox's cost on a model of the size you run\n"
		"  --probe CLASS  the protocol-under-generation probe's class: default (the\n"
		"                 default class at nice -20, as a local client runs; the\n"
		"                 default) or fifo (SCHED_FIFO 2: its own wait for a CPU left\n"
		"                 out, but a real-time client never shares a CPU with the\n"
		"                 real-time I/O threads, so each request crosses CPUs)\n"
		"  --rounds N     the protocol under generation's rounds of 1 s per cell and\n"
		"                 endpoint (default 6, --quick 1; 1 to 1000): more rounds\n"
		"                 narrow the tail percentiles' spread, at about 10 s per round\n"
		"                 and level\n"
		"  --out FILE     save the JSON here (default: airlock-bench.json)\n"
		"  --svg FILE     also draw the total overhead per level: a bar per level from\n"
		"                 zero (below it for a gain), the middle half of its paired\n"
		"                 rounds as an error bar, the budgets as lines\n"
		"  --quiet        no progress lines on stderr\n"
		"  --from FILE    measure nothing: print (and with --svg draw) a saved result\n",
	.helper = "airlock-bench",
	.helper_build_dir = "bench/lib",
};
