/*
 * libFuzzer target for the JSON-RPC / MCP layer. The first input byte picks
 * the path (stdio session after a handshake, HTTP with or without matching
 * headers); the rest is one message. Every reply must be a JSON-RPC object
 * with exactly one of result and error. The backend knows a model (so
 * tools/list states its token limits) and refuses every generation at once,
 * as the AI domain refuses a prompt that does not fit.
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

static int fz_start(void *ctx, const struct al_mcp_gen_params *p, const struct al_mcp_gen_cb *cb,
		    uint64_t *handle)
{
	(void)ctx;
	*handle = 0;
	if (p->truncate_left) {
		struct al_mcp_gen_usage u = { .prompt_tokens = 511, .prompt_dropped = 1, .gen_tokens = 0 };
		cb->on_usage(cb->ud, &u);
		cb->on_done(cb->ud, AL_MCP_GEN_DONE, NULL);
	} else {
		cb->on_done(cb->ud, AL_MCP_GEN_TOO_LONG,
			    "the prompt is 512 tokens; this model takes at most 511 prompt tokens");
	}
	return 0;
}

static void fz_cancel(void *ctx, uint64_t handle)
{
	(void)ctx;
	(void)handle;
}

static int fz_model_info(void *ctx, struct al_mcp_model_info *mi)
{
	(void)ctx;
	mi->context_length = 512;
	mi->max_prompt_tokens = 511;
	mi->vocab_size = 512;
	mi->n_layers = 5;
	mi->dim = 64;
	return 0;
}

static const struct al_mcp_backend fz_backend = { .start = fz_start, .cancel = fz_cancel,
						  .model_info = fz_model_info };

static struct al_mcp_server *srv;
static struct al_mcp_session *sess;

static void init_once(void)
{
	if (srv)
		return;
	struct al_mcp_config cfg;
	al_mcp_config_default(&cfg);
	cfg.limits.max_bytes = 64 * 1024;
	if (al_mcp_server_new(&cfg, &fz_backend, &srv) < 0)
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
		/* At most one final reply per message (the backend finishes at once). */
		if (s.n > 1)
			abort();
	}
	return 0;
}
