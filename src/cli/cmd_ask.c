/*
 * airlock ask: a real MCP client of the running server over Streamable HTTP.
 * It needs libcurl, so it is its own executable, airlock-ask (ask_main.c).
 */
#include "cli/ask.h"
#include "cli/cli.h"

static const char ask_usage[] =
	"usage: airlock ask [OPTIONS] PROMPT\n"
	"\n"
	"Asks the running airlock server to continue PROMPT and prints the text as it\n"
	"is generated. A real MCP client: initialize, then tools/call generate.\n"
	"\n"
	"  --url URL            MCP endpoint (default " AL_ASK_DEFAULT_URL ")\n"
	"  --config FILE        take the endpoint and token file from FILE's [proto]\n"
	"  --max-tokens N       tokens to generate (default 256)\n"
	"  --temperature T      0 = greedy (default), up to 2\n"
	"  --top-p P            nucleus sampling threshold, 0..1 (default 0.9)\n"
	"  --seed S             sampling seed (default 0)\n"
	"  --token-file FILE    send the bearer token in FILE\n"
	"\n"
	"Exit status: 0 when the text was generated, 1 on a server or tool error.\n";

const struct al_cmd al_cmd_ask = {
	.name = "ask",
	.summary = "ask the running server to generate text (an MCP client)",
	.usage = ask_usage,
	.helper = "airlock-ask",
	.helper_build_dir = "src/cli",
};
