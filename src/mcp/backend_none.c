/*
 * The backend of a protocol domain with no AI domain behind it: generation
 * fails with a tool error the client can show, model_info reports that no
 * model is reachable. It never invents text.
 */
#include "mcp/mcp.h"

#include <errno.h>

static int none_start(void *ctx, const struct al_mcp_gen_params *p, const struct al_mcp_gen_cb *cb,
		      uint64_t *handle)
{
	*handle = 0;
	cb->on_done(cb->ud, AL_MCP_GEN_FAILED, "AI domain not connected");
	return 0;
}

static void none_cancel(void *ctx, uint64_t handle)
{
}

static int none_model_info(void *ctx, struct al_mcp_model_info *out)
{
	return -ENOTCONN;
}

const struct al_mcp_backend al_mcp_backend_none = {
	.ctx = NULL,
	.start = none_start,
	.cancel = none_cancel,
	.model_info = none_model_info,
};
