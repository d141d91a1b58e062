/*
 * The gate over hostile lines in both directions. Each input line's first
 * byte picks the direction ('c': from the client, 't': the clock moves that
 * many milliseconds, anything else: from the server); the gate's answers and
 * forwarded messages must themselves be well-formed JSON-RPC, every record
 * it reports well-formed, and no timeout is left due after a tick. A first
 * line starting with 'r' is the per-tool rules (rules.h), hostile too:
 * decoded or refused; without it, rules of rate, timeout and argument checks
 * on the corpus's tools apply.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp.h"
#include "workers/gate/gate.h"
#include "workers/gate/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t clock_ms;

static void check_line(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	if (memchr(line, '\n', len))
		__builtin_trap(); /* one message per line: never two */
	json_t *v = json_loadb(line, len, 0, NULL);
	if (!json_is_object(v) || !json_is_string(json_object_get(v, "jsonrpc")))
		__builtin_trap();
	json_decref(v);
}

static void check_report(void *ctx, const struct al_gate_record *r, const void *blob, size_t len)
{
	(void)ctx;
	(void)blob;
	if (r->magic != AL_GATE_RECORD_MAGIC || !r->event || r->event >= AL_GATE_EV_MAX || r->reason >= AL_GATE_WHY_MAX ||
	    !memchr(r->name, '\0', sizeof r->name) || !memchr(r->method, '\0', sizeof r->method) ||
	    !memchr(r->arg, '\0', sizeof r->arg) || !memchr(r->rule, '\0', sizeof r->rule) || len != r->blob_len)
		__builtin_trap();
}

static uint64_t now_ms(void *ctx)
{
	(void)ctx;
	return clock_ms;
}

static const char default_rules[] =
	"{\"default\":{\"rate\":50,\"period_ms\":1000,\"burst\":50,\"timeout_ms\":0},\"tools\":["
	"{\"name\":\"echo\",\"rate\":3,\"period_ms\":1000,\"burst\":3,\"timeout_ms\":50,"
	"\"args\":[{\"path\":\"text\",\"max_length\":8,\"pattern\":\"[a-z ]+\"}]},"
	"{\"name\":\"read\",\"rate\":0,\"period_ms\":0,\"burst\":0,\"timeout_ms\":20,"
	"\"args\":[{\"path\":\"path\",\"prefix\":[\"/srv/data\",\"/tmp\"]},"
	"{\"path\":\"paths[]\",\"prefix\":[\"/srv\"]},{\"path\":\"edits[].file\",\"prefix\":[\"/\"],\"max_length\":64}]}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_gate_config cfg = { .max_line = 4096, .max_result = 8192, .notify_rate = 5, .all_tools = true };
	struct al_gate_io io = { .to_client = check_line, .to_server = check_line, .report = check_report,
				 .now_ms = now_ms };
	const char *p = (const char *)data, *end = p + size;
	struct al_gate_rules *rules = NULL;
	char why[256];
	if (size && p[0] == 'r') {
		const char *nl = memchr(p, '\n', size);
		size_t len = nl ? (size_t)(nl - p) : size;
		if (al_gate_rules_parse(p + 1, len - 1, &rules, why, sizeof why) < 0 && rules)
			__builtin_trap(); /* refused: nothing kept */
		p += len + (nl != NULL);
	} else if (al_gate_rules_parse(default_rules, strlen(default_rules), &rules, why, sizeof why) < 0) {
		__builtin_trap();
	}
	cfg.rules = rules;
	struct al_gate *g;
	clock_ms = 0;
	if (al_gate_new(&cfg, &io, &g) < 0) {
		al_gate_rules_free(rules);
		return 0;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		clock_ms += 7;
		if (len > 0) {
			if (p[0] == 'c')
				al_gate_from_client(g, p + 1, len - 1);
			else if (p[0] == 't') {
				uint64_t ms = 0;
				for (size_t i = 1; i < len && i < 7 && p[i] >= '0' && p[i] <= '9'; i++)
					ms = ms * 10 + (uint64_t)(p[i] - '0');
				clock_ms += ms;
			} else
				al_gate_from_server(g, p + 1, len - 1);
		}
		al_gate_tick(g);
		if (al_gate_timeout(g) == 0)
			__builtin_trap(); /* a tick leaves nothing due */
		p += len + 1;
	}
	al_gate_free(g);
	al_gate_rules_free(rules);
	return 0;
}
