/*
 * libFuzzer target for the JSON-RPC / MCP layer. The first input byte picks
 * the path (stdio session after a handshake, HTTP with or without matching
 * headers); the rest is one message. Every reply must be a JSON-RPC object
 * with exactly one of result and error.
 */
#include "mcp/mcp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sink {
	unsigned n;
};

static void check_emit(void *ud, json_t *msg, bool final)
{
	struct sink *s = ud;
	s->n++;
	if (!msg)
		return;
	if (!json_is_object(msg) || !json_is_string(json_object_get(msg, "jsonrpc")))
		abort();
	if (final && !json_object_get(msg, "result") == !json_object_get(msg, "error"))
		abort();
}

static struct al_mcp_server *srv;
static struct al_mcp_session *sess;

static void init_once(void)
{
	if (srv)
		return;
	struct al_mcp_config cfg;
	al_mcp_config_default(&cfg);
	cfg.limits.max_bytes = 64 * 1024;
	if (al_mcp_server_new(&cfg, &al_mcp_backend_none, &srv) < 0)
		abort();
	sess = al_mcp_session_new(srv);
	static const char init[] =
		"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
		"\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"f\",\"version\":\"1\"}}}";
	struct sink s = { 0 };
	struct al_mcp_input in = { .body = init, .len = sizeof(init) - 1, .transport = AL_MCP_STDIO,
				   .session = sess };
	struct al_mcp_output out = { .emit = check_emit, .ud = &s };
	struct al_mcp_result res;
	al_mcp_handle(srv, &in, &out, &res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	struct sink s = { 0 };
	struct al_mcp_input in = { .body = (const char *)data + 1, .len = size - 1 };
	if (mode & 1) {
		in.transport = AL_MCP_HTTP;
		if (mode & 2) {
			in.hdr_protocol_version = "2026-07-28";
			in.hdr_method = (mode & 4) ? "tools/call" : "tools/list";
			in.hdr_name = "generate";
		}
		if (mode & 8)
			in.hdr_session_id = "00000000000000000000000000000000";
	} else {
		in.transport = AL_MCP_STDIO;
		in.session = sess;
	}
	struct al_mcp_output out = { .emit = check_emit, .ud = &s };
	struct al_mcp_result res;
	if (al_mcp_handle(srv, &in, &out, &res) == 0) {
		if (res.call) {
			al_mcp_call_detach(res.call);
			al_mcp_call_put(res.call);
		}
		/* At most one final reply per message (backend_none finishes at once). */
		if (s.n > 1)
			abort();
	}
	return 0;
}
