/*
 * The gate over hostile lines in both directions. Each input line's first
 * byte picks the direction ('c': from the client, anything else: from the
 * server); the gate's answers and forwarded messages must themselves be
 * well-formed JSON-RPC, and every record it reports well-formed.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp.h"
#include "workers/gate/gate.h"

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
	    !memchr(r->name, '\0', sizeof r->name) || !memchr(r->method, '\0', sizeof r->method) || len != r->blob_len)
		__builtin_trap();
}

static uint64_t now_ms(void *ctx)
{
	(void)ctx;
	return clock_ms += 7;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_gate_config cfg = { .max_line = 4096, .max_result = 8192, .notify_rate = 5, .all_tools = true };
	struct al_gate_io io = { .to_client = check_line, .to_server = check_line, .report = check_report,
				 .now_ms = now_ms };
	struct al_gate *g;
	if (al_gate_new(&cfg, &io, &g) < 0)
		return 0;
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (len > 0) {
			if (p[0] == 'c')
				al_gate_from_client(g, p + 1, len - 1);
			else
				al_gate_from_server(g, p + 1, len - 1);
		}
		p += len + 1;
	}
	al_gate_free(g);
	return 0;
}
