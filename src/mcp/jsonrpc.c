/*
 * JSON-RPC 2.0 framing over hostile bytes. Everything here runs before any
 * MCP logic: limits first (size, then nesting depth on the raw bytes, so
 * jansson's recursive parser never descends further than we allow), then
 * jansson with duplicate keys rejected, then the message shape.
 */
#include "mcp/mcp.h"

#include <string.h>

unsigned al_jsonrpc_depth(const char *buf, size_t len, unsigned limit)
{
	unsigned depth = 0, max = 0;
	bool in_str = false, esc = false;
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		switch (c) {
		case '"':
			in_str = true;
			break;
		case '[':
		case '{':
			if (++depth > max) {
				max = depth;
				if (max > limit)
					return max;
			}
			break;
		case ']':
		case '}':
			if (depth)
				depth--;
			break;
		default:
			break;
		}
	}
	return max;
}

json_t *al_jsonrpc_error(json_t *id, int code, const char *message, json_t *data_steal)
{
	json_t *err = json_pack("{s:i,s:s}", "code", code, "message", message);
	if (!err) {
		json_decref(data_steal);
		return NULL;
	}
	if (data_steal)
		json_object_set_new(err, "data", data_steal);
	return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", err);
}

json_t *al_jsonrpc_result(json_t *id, json_t *result_steal)
{
	if (!result_steal)
		return NULL;
	return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", result_steal);
}

json_t *al_jsonrpc_notification(const char *method, json_t *params_steal)
{
	if (!params_steal)
		return NULL;
	return json_pack("{s:s,s:s,s:o}", "jsonrpc", "2.0", "method", method, "params", params_steal);
}

void al_jsonrpc_msg_clear(struct al_jsonrpc_msg *msg)
{
	json_decref(msg->root);
	memset(msg, 0, sizeof(*msg));
}

static bool id_valid(const json_t *id)
{
	/* MCP narrows JSON-RPC: request ids are strings or integers, never null. */
	return json_is_string(id) || json_is_integer(id);
}

static int fail(json_t **err, json_t *id, int code, const char *message)
{
	*err = al_jsonrpc_error(id, code, message, NULL);
	return code;
}

int al_jsonrpc_parse(const char *buf, size_t len, const struct al_jsonrpc_limits *lim,
		     struct al_jsonrpc_msg *msg, json_t **err)
{
	memset(msg, 0, sizeof(*msg));
	*err = NULL;
	if (len > lim->max_bytes)
		return fail(err, NULL, AL_JSONRPC_INVALID_REQUEST, "message too large");
	if (al_jsonrpc_depth(buf, len, lim->max_depth) > lim->max_depth)
		return fail(err, NULL, AL_JSONRPC_INVALID_REQUEST, "message nested too deeply");

	json_error_t jerr;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root)
		return fail(err, NULL, AL_JSONRPC_PARSE_ERROR, "parse error");
	if (json_is_array(root)) {
		json_decref(root);
		return fail(err, NULL, AL_JSONRPC_INVALID_REQUEST,
			    "batch requests are not supported");
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return fail(err, NULL, AL_JSONRPC_INVALID_REQUEST, "message is not an object");
	}

	json_t *id = json_object_get(root, "id");
	json_t *safe_id = id && id_valid(id) ? id : NULL;
	int code = AL_JSONRPC_INVALID_REQUEST;
	const char *why = NULL;

	json_t *ver = json_object_get(root, "jsonrpc");
	json_t *method = json_object_get(root, "method");
	json_t *params = json_object_get(root, "params");
	bool is_response = !method && (json_object_get(root, "result") || json_object_get(root, "error"));

	if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0)
		why = "jsonrpc must be \"2.0\"";
	else if (is_response) {
		if (!id)
			why = "response without id";
		else if (json_object_get(root, "result") && json_object_get(root, "error"))
			why = "response with both result and error";
	} else if (!json_is_string(method))
		why = "method must be a string";
	else if (json_string_length(method) == 0 || json_string_length(method) > 128)
		why = "method length out of range";
	else if (id && !id_valid(id))
		why = "id must be a string or an integer";
	else if (id && json_is_string(id) && json_string_length(id) > 256)
		why = "id too long";
	else if (params && !json_is_object(params))
		why = "params must be an object";

	if (why) {
		/* The id is echoed only when it was itself valid and the message a request. */
		*err = al_jsonrpc_error(is_response ? NULL : safe_id, code, why, NULL);
		json_decref(root);
		return code;
	}

	msg->root = root;
	if (is_response) {
		msg->kind = AL_JSONRPC_RESPONSE;
		return 0;
	}
	msg->method = json_string_value(method);
	msg->params = params;
	if (id) {
		msg->kind = AL_JSONRPC_REQUEST;
		msg->id = id;
	} else {
		msg->kind = AL_JSONRPC_NOTIFICATION;
	}
	return 0;
}
