/*
 * Unit tests of the JSON-RPC / MCP layer (no network): a corpus of hostile
 * messages with their expected errors, both protocol generations, and a
 * scripted backend that checks progress and cancellation plumbing, plus
 * the protocol worker's stage-2 seccomp filter in a child process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "al_config.h"
#include "common/util.h"
#include "cpus.h"
#include "emulated.h"
#include "mcp/mcp.h"
#include "workers/proto/proto.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- capture of emitted messages ---- */

#define MAX_MSGS 16
struct capture {
	json_t *msgs[MAX_MSGS];
	bool final[MAX_MSGS];
	size_t n;
};

static void cap_emit(void *ud, json_t *msg, bool final)
{
	struct capture *c = ud;
	if (c->n < MAX_MSGS) {
		c->msgs[c->n] = msg ? json_incref(msg) : NULL;
		c->final[c->n] = final;
		c->n++;
	}
}

static void cap_clear(struct capture *c)
{
	for (size_t i = 0; i < c->n; i++)
		json_decref(c->msgs[i]);
	memset(c, 0, sizeof(*c));
}

/* ---- a scripted backend: the test decides what the generation produces ---- */

struct script {
	struct al_mcp_gen_cb cb;
	struct al_mcp_gen_params p;
	char prompt[64];
	int starts, cancels;
	uint64_t cancelled_handle;
};

static int script_start(void *ctx, const struct al_mcp_gen_params *p, const struct al_mcp_gen_cb *cb,
			uint64_t *handle)
{
	struct script *s = ctx;
	s->cb = *cb;
	s->p = *p;
	al_strlcpy(s->prompt, p->prompt, sizeof(s->prompt));
	*handle = 100 + (uint64_t)++s->starts;
	return 0;
}

static void script_cancel(void *ctx, uint64_t h)
{
	struct script *s = ctx;
	s->cancels++;
	s->cancelled_handle = h;
}

static int script_info(void *ctx, struct al_mcp_model_info *mi)
{
	al_strlcpy(mi->name, "stories260K", sizeof(mi->name));
	mi->vocab_size = 512;
	mi->context_length = 512;
	mi->max_prompt_tokens = 511;
	mi->n_layers = 5;
	mi->dim = 64;
	return 0;
}

struct fixture {
	struct al_mcp_server *srv;
	struct al_mcp_session *sess;
	struct script sc;
	struct capture cap;
};

static int handle(struct fixture *f, const char *msg, struct al_mcp_result *res)
{
	struct al_mcp_input in = { .body = msg, .len = strlen(msg), .transport = AL_MCP_STDIO,
				   .session = f->sess };
	struct al_mcp_output out = { .emit = cap_emit, .ud = &f->cap };
	return al_mcp_handle(f->srv, &in, &out, res);
}

static const char init_msg[] =
	"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
	"\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";

static int setup_with(void **state, const struct al_mcp_backend *be_in)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct al_mcp_config cfg;
	al_mcp_config_default(&cfg);
	struct al_mcp_backend be = *be_in;
	if (!be.ctx)
		be.ctx = &f->sc;
	assert_int_equal(al_mcp_server_new(&cfg, &be, &f->srv), 0);
	f->sess = al_mcp_session_new(f->srv);
	struct al_mcp_result res;
	assert_int_equal(handle(f, init_msg, &res), 0);
	handle(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &res);
	cap_clear(&f->cap);
	*state = f;
	return 0;
}

static int setup_script(void **state)
{
	static const struct al_mcp_backend be = { .start = script_start, .cancel = script_cancel,
						  .model_info = script_info };
	return setup_with(state, &be);
}

static int setup_none(void **state)
{
	return setup_with(state, &al_mcp_backend_none);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	cap_clear(&f->cap);
	al_mcp_session_free(f->srv, f->sess);
	al_mcp_server_free(f->srv);
	free(f);
	return 0;
}

static json_int_t err_code(const json_t *m)
{
	return json_integer_value(json_object_get(json_object_get(m, "error"), "code"));
}

/* ---- tests ---- */

static void test_hostile_corpus(void **state)
{
	struct fixture *f = *state;
	FILE *fp = fopen(AL_SOURCE_ROOT "/tests/mcp/hostile.tsv", "r");
	assert_non_null(fp);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned cases = 0;
	while ((n = getline(&line, &cap, fp)) > 0) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		char *tab = strchr(line, '\t');
		assert_non_null(tab);
		*tab = '\0';
		long want = strtol(line, NULL, 10);
		const char *msg = tab + 1;
		struct al_mcp_result res;
		cap_clear(&f->cap);
		assert_int_equal(handle(f, msg, &res), 0);
		if (want == 1) {
			if (f->cap.n != 0)
				fail_msg("expected no reply for %s", msg);
		} else {
			if (f->cap.n != 1 || !f->cap.final[0] || !f->cap.msgs[0])
				fail_msg("expected one reply for %s", msg);
			json_t *m = f->cap.msgs[0];
			if (want == 0 && !json_object_get(m, "result"))
				fail_msg("expected a result for %s", msg);
			if (want == 2 && !json_is_true(json_object_get(json_object_get(m, "result"), "isError")))
				fail_msg("expected an isError result for %s", msg);
			if (want < 0 && err_code(m) != want)
				fail_msg("expected %ld for %s, got %d", want, msg, (int)err_code(m));
		}
		if (res.call) {
			al_mcp_call_detach(res.call);
			al_mcp_call_put(res.call);
		}
		cases++;
	}
	free(line);
	fclose(fp);
	assert_true(cases >= 60);
	/* None of the hostile calls may have reached the generator. */
	assert_int_equal(f->sc.starts, 0);
}

static void test_depth_prescan(void **state)
{
	assert_int_equal(al_jsonrpc_depth("{\"a\":\"[[[[{{{\"}", 15, 8), 1);
	assert_int_equal(al_jsonrpc_depth("[\"\\\"[[[\"]", 10, 8), 1);
	assert_int_equal(al_jsonrpc_depth("[[[]]]", 6, 8), 3);
	assert_true(al_jsonrpc_depth("[[[[[[[[[[", 10, 4) > 4);
}

static void test_size_limit(void **state)
{
	struct al_jsonrpc_limits lim = { .max_bytes = 16, .max_depth = 4 };
	struct al_jsonrpc_msg m;
	json_t *err;
	const char *msg = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
	assert_int_equal(al_jsonrpc_parse(msg, strlen(msg), &lim, &m, &err), AL_JSONRPC_INVALID_REQUEST);
	assert_non_null(err);
	json_decref(err);
	lim.max_bytes = 1024;
	assert_int_equal(al_jsonrpc_parse(msg, strlen(msg), &lim, &m, &err), 0);
	assert_int_equal(m.kind, AL_JSONRPC_REQUEST);
	assert_string_equal(m.method, "ping");
	al_jsonrpc_msg_clear(&m);
}

static void test_generate_progress_and_result(void **state)
{
	struct fixture *f = *state;
	struct al_mcp_result res;
	assert_int_equal(handle(f, "{\"jsonrpc\":\"2.0\",\"id\":\"g1\",\"method\":\"tools/call\",\"params\":"
				   "{\"name\":\"generate\",\"arguments\":{\"prompt\":\"Once\",\"max_tokens\":5,"
				   "\"temperature\":0,\"top_p\":0.5,\"seed\":7},\"_meta\":{\"progressToken\":3}}}",
			 &res), 0);
	assert_true(res.stream);
	assert_non_null(res.call);
	assert_int_equal(f->sc.starts, 1);
	assert_string_equal(f->sc.prompt, "Once");
	assert_int_equal(f->sc.p.max_tokens, 5);
	assert_true(f->sc.p.temperature == 0.0);
	assert_true(f->sc.p.top_p == 0.5);
	assert_true(f->sc.p.has_seed && f->sc.p.seed == 7);
	assert_int_equal(f->cap.n, 0);

	f->sc.cb.on_text(f->sc.cb.ud, " upon", 5);
	f->sc.cb.on_text(f->sc.cb.ud, " a time", 7);
	assert_int_equal(f->cap.n, 2);
	json_t *p = json_object_get(f->cap.msgs[1], "params");
	assert_string_equal(json_string_value(json_object_get(f->cap.msgs[1], "method")),
			    "notifications/progress");
	assert_int_equal(json_integer_value(json_object_get(p, "progressToken")), 3);
	assert_int_equal(json_integer_value(json_object_get(p, "progress")), 2);
	assert_string_equal(json_string_value(json_object_get(p, "message")), " upon a time");
	assert_false(f->cap.final[1]);

	f->sc.cb.on_done(f->sc.cb.ud, AL_MCP_GEN_DONE, NULL);
	assert_int_equal(f->cap.n, 3);
	assert_true(f->cap.final[2]);
	json_t *r = json_object_get(f->cap.msgs[2], "result");
	assert_string_equal(json_string_value(json_object_get(f->cap.msgs[2], "id")), "g1");
	assert_false(json_is_true(json_object_get(r, "isError")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "content"), 0), "text")),
			    " upon a time");
	al_mcp_call_detach(res.call);
	al_mcp_call_put(res.call);
	assert_int_equal(f->sc.cancels, 0); /* finished calls are not cancelled */
}

/* The generate tool's published schema and model_info, as a client reads them. */
static json_t *list_tools(struct fixture *f)
{
	struct al_mcp_result res;
	cap_clear(&f->cap);
	assert_int_equal(handle(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\"}", &res), 0);
	assert_int_equal(f->cap.n, 1);
	return json_object_get(json_object_get(f->cap.msgs[0], "result"), "tools");
}

static json_t *tool_named(json_t *tools, const char *name)
{
	size_t i;
	json_t *t;
	json_array_foreach(tools, i, t)
		if (!strcmp(json_string_value(json_object_get(t, "name")), name))
			return t;
	fail_msg("no tool %s", name);
	return NULL;
}

static void test_schema_states_token_limit(void **state)
{
	struct fixture *f = *state;
	json_t *gen = tool_named(list_tools(f), "generate");
	json_t *props = json_object_get(json_object_get(gen, "inputSchema"), "properties");
	json_t *prompt = json_object_get(props, "prompt");
	const char *d = json_string_value(json_object_get(prompt, "description"));
	assert_non_null(strstr(d, "at most 511 prompt tokens (its context is 512 tokens)"));
	/* The character cap stays: it keeps a request within what the channel carries. */
	assert_int_equal(json_integer_value(json_object_get(prompt, "maxLength")), 4096);
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(props, "max_tokens"), "description")),
			       "room for 512 - P"));
	json_t *lim = json_object_get(json_object_get(gen, "_meta"), "airlock/limits");
	assert_int_equal(json_integer_value(json_object_get(lim, "context_length")), 512);
	assert_int_equal(json_integer_value(json_object_get(lim, "max_prompt_tokens")), 511);
	json_t *tr = json_object_get(props, "truncate");
	assert_string_equal(json_string_value(json_object_get(tr, "type")), "string");
	assert_string_equal(json_string_value(json_array_get(json_object_get(tr, "enum"), 0)), "none");
	assert_string_equal(json_string_value(json_array_get(json_object_get(tr, "enum"), 1)), "left");
	assert_int_equal(json_array_size(json_object_get(tr, "enum")), 2);
	assert_string_equal(json_string_value(json_object_get(tr, "default")), "none");

	/* model_info states the same figures. */
	struct al_mcp_result res;
	cap_clear(&f->cap);
	handle(f, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/call\",\"params\":{\"name\":\"model_info\"}}", &res);
	json_t *sc = json_object_get(json_object_get(f->cap.msgs[0], "result"), "structuredContent");
	assert_int_equal(json_integer_value(json_object_get(sc, "context_length")), 512);
	assert_int_equal(json_integer_value(json_object_get(sc, "max_prompt_tokens")), 511);
}

/* Without an AI domain, nothing is known: the description says where the figure is. */
static void test_schema_before_model_known(void **state)
{
	struct fixture *f = *state;
	json_t *gen = tool_named(list_tools(f), "generate");
	json_t *prompt = json_object_get(json_object_get(json_object_get(gen, "inputSchema"), "properties"), "prompt");
	const char *d = json_string_value(json_object_get(prompt, "description"));
	assert_non_null(strstr(d, "model_info's max_prompt_tokens"));
	assert_null(strstr(d, "511"));
	assert_null(json_object_get(gen, "_meta"));
}

static void test_truncate_argument(void **state)
{
	struct fixture *f = *state;
	static const struct { const char *arg; bool left; } cases[] = {
		{ "", false }, { ",\"truncate\":\"none\"", false }, { ",\"truncate\":\"left\"", true },
	};
	for (size_t i = 0; i < AL_ARRAY_LEN(cases); i++) {
		char msg[256];
		snprintf(msg, sizeof(msg), "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"tools/call\",\"params\":"
			 "{\"name\":\"generate\",\"arguments\":{\"prompt\":\"Once\"%s}}}", i + 1, cases[i].arg);
		struct al_mcp_result res;
		cap_clear(&f->cap);
		assert_int_equal(handle(f, msg, &res), 0);
		assert_int_equal(f->sc.starts, (int)i + 1);
		assert_int_equal(f->sc.p.truncate_left, cases[i].left);
		f->sc.cb.on_done(f->sc.cb.ud, AL_MCP_GEN_DONE, NULL);
		al_mcp_call_detach(res.call);
		al_mcp_call_put(res.call);
	}
}

/* A prompt cut from the left: the text is the result, the figures are in _meta. */
static void test_usage_in_result_meta(void **state)
{
	struct fixture *f = *state;
	struct al_mcp_result res;
	handle(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":"
		  "{\"name\":\"generate\",\"arguments\":{\"prompt\":\"Once\",\"truncate\":\"left\"}}}", &res);
	assert_non_null(f->sc.cb.on_usage);
	f->sc.cb.on_text(f->sc.cb.ud, " upon", 5);
	struct al_mcp_gen_usage u = { .prompt_tokens = 511, .prompt_dropped = 87, .gen_tokens = 1 };
	f->sc.cb.on_usage(f->sc.cb.ud, &u);
	f->sc.cb.on_done(f->sc.cb.ud, AL_MCP_GEN_DONE, NULL);
	assert_int_equal(f->cap.n, 1);
	json_t *r = json_object_get(f->cap.msgs[0], "result");
	assert_false(json_is_true(json_object_get(r, "isError")));
	assert_int_equal(json_array_size(json_object_get(r, "content")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "content"), 0), "text")),
			    " upon");
	json_t *use = json_object_get(json_object_get(r, "_meta"), "airlock/usage");
	assert_int_equal(json_integer_value(json_object_get(use, "prompt_tokens")), 511);
	assert_int_equal(json_integer_value(json_object_get(use, "prompt_tokens_dropped")), 87);
	assert_int_equal(json_integer_value(json_object_get(use, "generated_tokens")), 1);
	al_mcp_call_detach(res.call);
	al_mcp_call_put(res.call);
}

/* The AI domain's refusal reaches the client as a tool error that says how to get a result. */
static void test_prompt_too_long_error(void **state)
{
	struct fixture *f = *state;
	struct al_mcp_result res;
	handle(f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":"
		  "{\"name\":\"generate\",\"arguments\":{\"prompt\":\"Once\"}}}", &res);
	f->sc.cb.on_done(f->sc.cb.ud, AL_MCP_GEN_TOO_LONG,
			 "the prompt is 598 tokens; this model takes at most 511 prompt tokens");
	json_t *r = json_object_get(f->cap.msgs[0], "result");
	assert_true(json_is_true(json_object_get(r, "isError")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "content"), 0), "text")),
			    "the prompt is 598 tokens; this model takes at most 511 prompt tokens; "
			    "set truncate to \"left\" to keep its newest tokens");
	assert_null(json_object_get(r, "_meta"));
	al_mcp_call_detach(res.call);
	al_mcp_call_put(res.call);
}

static void test_cancel_reaches_backend(void **state)
{
	struct fixture *f = *state;
	struct al_mcp_result res;
	handle(f, "{\"jsonrpc\":\"2.0\",\"id\":41,\"method\":\"tools/call\",\"params\":"
		  "{\"name\":\"generate\",\"arguments\":{\"prompt\":\"x\"}}}", &res);
	assert_non_null(res.call);
	struct al_mcp_result r2;
	/* Another id, then a string "41": neither is this request. */
	handle(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":42}}", &r2);
	handle(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":\"41\"}}", &r2);
	assert_int_equal(f->sc.cancels, 0);
	handle(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":41,\"reason\":\"user\"}}", &r2);
	assert_int_equal(f->sc.cancels, 1);
	assert_int_equal(f->sc.cancelled_handle, 101);
	f->sc.cb.on_done(f->sc.cb.ud, AL_MCP_GEN_CANCELLED, NULL);
	/* A cancelled request gets no response, only the end of its stream. */
	assert_int_equal(f->cap.n, 1);
	assert_null(f->cap.msgs[0]);
	assert_true(f->cap.final[0]);
	al_mcp_call_put(res.call);
}

static void test_other_session_cannot_cancel(void **state)
{
	struct fixture *f = *state;
	struct al_mcp_result res, r2;
	handle(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":"
		  "{\"name\":\"generate\",\"arguments\":{\"prompt\":\"x\"}}}", &res);
	struct al_mcp_session *other = al_mcp_session_new(f->srv);
	struct al_mcp_input in = { .body = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":5}}",
				   .transport = AL_MCP_STDIO, .session = other };
	in.len = strlen(in.body);
	struct al_mcp_output out = { .emit = cap_emit, .ud = &f->cap };
	al_mcp_handle(f->srv, &in, &out, &r2);
	assert_int_equal(f->sc.cancels, 0);
	al_mcp_session_free(f->srv, other);
	/* Detaching (client gone) cancels the generation and silences it. */
	al_mcp_call_detach(res.call);
	assert_int_equal(f->sc.cancels, 1);
	f->sc.cb.on_text(f->sc.cb.ud, "late", 4);
	f->sc.cb.on_done(f->sc.cb.ud, AL_MCP_GEN_CANCELLED, NULL);
	assert_int_equal(f->cap.n, 0);
	al_mcp_call_put(res.call);
}

static void test_deadline_expiry(void **state)
{
	struct fixture *f = *state;
	struct al_mcp_result res;
	handle(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":"
		  "{\"name\":\"generate\",\"arguments\":{\"prompt\":\"x\"}}}", &res);
	al_mcp_call_expire(res.call);
	assert_int_equal(f->sc.cancels, 1);
	assert_int_equal(f->cap.n, 1);
	json_t *r = json_object_get(f->cap.msgs[0], "result");
	assert_true(json_is_true(json_object_get(r, "isError")));
	f->sc.cb.on_done(f->sc.cb.ud, AL_MCP_GEN_DONE, NULL);
	assert_int_equal(f->cap.n, 1); /* nothing after the final message */
	al_mcp_call_detach(res.call);
	al_mcp_call_put(res.call);
}

static void test_modern_results(void **state)
{
	struct fixture *f = *state;
	struct al_mcp_result res;
	handle(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"model_info\","
		  "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
		  "\"io.modelcontextprotocol/clientCapabilities\":{}}}}", &res);
	assert_int_equal(f->cap.n, 1);
	json_t *r = json_object_get(f->cap.msgs[0], "result");
	assert_string_equal(json_string_value(json_object_get(r, "resultType")), "complete");
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "structuredContent"), "name")),
			    "stories260K");
	cap_clear(&f->cap);
	handle(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"server/discover\",\"params\":{"
		  "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
		  "\"io.modelcontextprotocol/clientCapabilities\":{}}}}", &res);
	r = json_object_get(f->cap.msgs[0], "result");
	assert_string_equal(json_string_value(json_array_get(json_object_get(r, "supportedVersions"), 0)), "2026-07-28");
	assert_non_null(json_object_get(json_object_get(r, "capabilities"), "tools"));
}

static void test_http_header_crosscheck(void **state)
{
	struct fixture *f = *state;
	const char *body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{"
			   "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
			   "\"io.modelcontextprotocol/clientCapabilities\":{}}}}";
	struct al_mcp_input in = { .body = body, .len = strlen(body), .transport = AL_MCP_HTTP,
				   .hdr_protocol_version = "2026-07-28", .hdr_method = "tools/call" };
	struct al_mcp_output out = { .emit = cap_emit, .ud = &f->cap };
	struct al_mcp_result res;
	al_mcp_handle(f->srv, &in, &out, &res);
	assert_int_equal(res.http_status, 400);
	assert_int_equal(err_code(f->cap.msgs[0]), AL_MCP_HEADER_MISMATCH);
	cap_clear(&f->cap);
	in.hdr_method = "tools/list";
	al_mcp_handle(f->srv, &in, &out, &res);
	assert_int_equal(res.http_status, 200);
	assert_non_null(json_object_get(json_object_get(f->cap.msgs[0], "result"), "tools"));
	cap_clear(&f->cap);
	/* Legacy HTTP: initialize makes a session; its id then gates every request. */
	in = (struct al_mcp_input){ .body = init_msg, .len = strlen(init_msg), .transport = AL_MCP_HTTP };
	al_mcp_handle(f->srv, &in, &out, &res);
	assert_int_equal(strlen(res.session_id), AL_MCP_SESSION_ID_LEN);
	char sid[AL_MCP_SESSION_ID_LEN + 1];
	memcpy(sid, res.session_id, sizeof(sid));
	assert_int_equal(al_mcp_session_check(f->srv, sid), 0);
	const char *list = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}";
	in = (struct al_mcp_input){ .body = list, .len = strlen(list), .transport = AL_MCP_HTTP,
				    .hdr_session_id = sid };
	cap_clear(&f->cap);
	al_mcp_handle(f->srv, &in, &out, &res);
	assert_int_equal(res.http_status, 200);
	assert_int_equal(al_mcp_session_delete(f->srv, sid), 0);
	cap_clear(&f->cap);
	al_mcp_handle(f->srv, &in, &out, &res);
	assert_int_equal(res.http_status, 404);
}

/* One stateless request over HTTP with its headers: the response's status and error code. */
static int modern_http(struct al_mcp_server *srv, const char *method, const char *hdr_version,
		       const char *params, json_int_t *code)
{
	char body[512];
	snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"%s\",\"params\":%s}",
		 method, params);
	struct capture cap = { 0 };
	struct al_mcp_input in = { .body = body, .len = strlen(body), .transport = AL_MCP_HTTP,
				   .hdr_protocol_version = hdr_version, .hdr_method = method };
	struct al_mcp_output out = { .emit = cap_emit, .ud = &cap };
	struct al_mcp_result res;
	assert_int_equal(al_mcp_handle(srv, &in, &out, &res), 0);
	assert_int_equal(cap.n, 1);
	*code = err_code(cap.msgs[0]);
	assert_int_equal(json_integer_value(json_object_get(cap.msgs[0], "id")), 9);
	cap_clear(&cap);
	return res.http_status;
}

#define MODERN_META                                                                 \
	"{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","    \
	"\"io.modelcontextprotocol/clientCapabilities\":{}}}"

static void test_modern_unknown_method_404(void **state)
{
	struct fixture *f = *state;
	json_int_t code;
	/* 2026-07-28 over HTTP: a method the server does not implement is 404 with -32601,
	 * and that includes the methods the revision removed (ping, logging/setLevel,
	 * the initialize handshake, resource subscriptions). */
	static const char *const gone[] = { "tools/nope", "ping", "logging/setLevel", "initialize",
					    "resources/subscribe" };
	for (size_t i = 0; i < AL_ARRAY_LEN(gone); i++) {
		assert_int_equal(modern_http(f->srv, gone[i], "2026-07-28", MODERN_META, &code), 404);
		assert_int_equal(code, AL_JSONRPC_METHOD_NOT_FOUND);
	}
	/* Known methods still answer 200. */
	assert_int_equal(modern_http(f->srv, "tools/list", "2026-07-28", MODERN_META, &code), 200);
	assert_int_equal(code, 0);
	/* Over stdio the same removed method is -32601 too; the 2025 revisions keep it. */
	struct al_mcp_result res;
	handle(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"logging/setLevel\",\"params\":{"
		  "\"level\":\"info\",\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
		  "\"io.modelcontextprotocol/clientCapabilities\":{}}}}", &res);
	assert_int_equal(err_code(f->cap.msgs[0]), AL_JSONRPC_METHOD_NOT_FOUND);
	cap_clear(&f->cap);
	handle(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"info\"}}",
	       &res);
	assert_true(json_is_object(json_object_get(f->cap.msgs[0], "result")));
	cap_clear(&f->cap);
}

static void test_modern_header_without_meta(void **state)
{
	struct fixture *f = *state;
	json_int_t code;
	/* The header names the stateless revision but the body lacks its required
	 * _meta field: a malformed request, -32602 with 400 (not a header mismatch). */
	assert_int_equal(modern_http(f->srv, "server/discover", "2026-07-28", "{}", &code), 400);
	assert_int_equal(code, AL_JSONRPC_INVALID_PARAMS);
	assert_int_equal(modern_http(f->srv, "server/discover", "2026-07-28",
				     "{\"_meta\":{\"io.modelcontextprotocol/clientCapabilities\":{}}}", &code),
			 400);
	assert_int_equal(code, AL_JSONRPC_INVALID_PARAMS);
}

static void test_backend_none(void **state)
{
	struct fixture *f = *state;
	struct al_mcp_result res;
	handle(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
		  "{\"name\":\"generate\",\"arguments\":{\"prompt\":\"x\"}}}", &res);
	assert_int_equal(f->cap.n, 1);
	json_t *r = json_object_get(f->cap.msgs[0], "result");
	assert_true(json_is_true(json_object_get(r, "isError")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "content"), 0), "text")),
			    "AI domain not connected");
	al_mcp_call_detach(res.call);
	al_mcp_call_put(res.call);
}

static void test_schema_validator(void **state)
{
	json_error_t e;
	json_t *schema = json_loads("{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\",\"maxLength\":3}},"
				    "\"additionalProperties\":false}", 0, &e);
	char why[128];
	json_t *v = json_loads("{\"s\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}", 0, &e); /* 3 characters, 6 bytes */
	assert_int_equal(al_mcp_schema_validate(schema, v, why, sizeof(why)), 0);
	json_decref(v);
	v = json_loads("{\"s\":\"abcd\"}", 0, &e);
	assert_int_equal(al_mcp_schema_validate(schema, v, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "arguments.s: longer than 3 characters");
	json_decref(v);
	json_decref(schema);
	/* enum: one of the listed values, compared as JSON (no case folding, no coercion). */
	schema = json_loads("{\"type\":\"object\",\"properties\":{\"t\":{\"type\":\"string\",\"enum\":[\"none\",\"left\"]}}}", 0, &e);
	v = json_loads("{\"t\":\"left\"}", 0, &e);
	assert_int_equal(al_mcp_schema_validate(schema, v, why, sizeof(why)), 0);
	json_decref(v);
	v = json_loads("{\"t\":\"Left\"}", 0, &e);
	assert_int_equal(al_mcp_schema_validate(schema, v, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "arguments.t: must be one of [\"none\",\"left\"]");
	json_decref(v);
	json_decref(schema);
	/* An enum that is not an array admits nothing. */
	schema = json_loads("{\"type\":\"string\",\"enum\":\"left\"}", 0, &e);
	v = json_string("left");
	assert_int_equal(al_mcp_schema_validate(schema, v, why, sizeof(why)), -EINVAL);
	json_decref(v);
	json_decref(schema);
	/* Arrays and null (third-party tools' schemas, checked by the gate). */
	schema = json_loads("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"items\":{}},"
			    "\"n\":{\"type\":\"null\"}}}", 0, &e);
	v = json_loads("{\"a\":[1,\"x\"],\"n\":null}", 0, &e);
	assert_int_equal(al_mcp_schema_check(schema, v, why, sizeof(why)), 0);
	json_decref(v);
	v = json_loads("{\"a\":{\"0\":1}}", 0, &e);
	assert_int_equal(al_mcp_schema_check(schema, v, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "arguments.a: must be of type array");
	json_decref(v);
	v = json_loads("{\"n\":0}", 0, &e);
	assert_int_equal(al_mcp_schema_check(schema, v, why, sizeof(why)), -EINVAL);
	json_decref(v);
	json_decref(schema);
	/* An unknown keyword fails closed rather than being ignored. */
	schema = json_loads("{\"type\":\"object\",\"pattern\":\"x\"}", 0, &e);
	v = json_object();
	assert_int_equal(al_mcp_schema_validate(schema, v, why, sizeof(why)), -EINVAL);
	json_decref(v);
	json_decref(schema);
}

static void test_origin_host(void **state)
{
	struct al_proto_opts o;
	al_proto_opts_default(&o);
	/* An empty list accepts no browser origin, loopback ones included. */
	assert_false(al_proto_origin_allowed(&o, "http://localhost:8080"));
	assert_false(al_proto_origin_allowed(&o, "http://localhost:1"));
	assert_false(al_proto_origin_allowed(&o, "http://127.0.0.1"));
	assert_false(al_proto_origin_allowed(&o, "https://[::1]:443"));
	assert_false(al_proto_origin_allowed(&o, "http://evil.example"));
	assert_false(al_proto_origin_allowed(&o, "null"));
	assert_false(al_proto_origin_allowed(&o, ""));

	o.origins[o.n_origins++] = "http://127.0.0.1:8377";
	o.origins[o.n_origins++] = "http://localhost:8377";
	o.origins[o.n_origins++] = "https://app.example";
	o.origins[o.n_origins++] = "http://[::1]:80";
	assert_true(al_proto_origin_allowed(&o, "http://127.0.0.1:8377"));
	assert_true(al_proto_origin_allowed(&o, "http://localhost:8377"));
	assert_true(al_proto_origin_allowed(&o, "https://app.example"));
	/* Scheme and host without regard to case, a default port written or not. */
	assert_true(al_proto_origin_allowed(&o, "HTTP://LocalHost:8377"));
	assert_true(al_proto_origin_allowed(&o, "https://APP.example:443"));
	assert_true(al_proto_origin_allowed(&o, "http://[::1]"));
	assert_true(al_proto_origin_allowed(&o, "http://[::1]:080"));
	/* Loopback on another port, another scheme, another host: refused. */
	assert_false(al_proto_origin_allowed(&o, "http://localhost:1"));
	assert_false(al_proto_origin_allowed(&o, "http://localhost"));
	assert_false(al_proto_origin_allowed(&o, "http://127.0.0.1:8378"));
	assert_false(al_proto_origin_allowed(&o, "https://localhost:8377"));
	assert_false(al_proto_origin_allowed(&o, "http://app.example"));
	assert_false(al_proto_origin_allowed(&o, "https://app.example:8443"));
	assert_false(al_proto_origin_allowed(&o, "http://[::1]:8377"));
	/* Not an origin of that form: never equal to a listed one. */
	assert_false(al_proto_origin_allowed(&o, "http://localhost:8377/"));
	assert_false(al_proto_origin_allowed(&o, "http://localhost:8377/x"));
	assert_false(al_proto_origin_allowed(&o, "http://x@localhost:8377"));
	assert_false(al_proto_origin_allowed(&o, "http://localhost:8377@evil.example"));
	assert_false(al_proto_origin_allowed(&o, "http://localhost.evil.example:8377"));
	assert_false(al_proto_origin_allowed(&o, "http://localhost:08377x"));
	assert_false(al_proto_origin_allowed(&o, "http://localhost:"));
	assert_false(al_proto_origin_allowed(&o, "http://localhost:99999999999999999999"));
	assert_false(al_proto_origin_allowed(&o, "http://localhost:8377 "));
	assert_false(al_proto_origin_allowed(&o, "ws://localhost:8377"));
	assert_false(al_proto_origin_allowed(&o, "http://"));
	assert_false(al_proto_origin_allowed(&o, "http://:8377"));
	assert_false(al_proto_origin_allowed(&o, "null"));

	assert_true(al_proto_host_allowed(&o, "127.0.0.1:5555"));
	assert_false(al_proto_host_allowed(&o, "evil.com"));
	assert_false(al_proto_host_allowed(&o, "127.0.0.1:99999999"));
}

/* The child the filter must have killed (SIGSYS), not one that exited. */
static void assert_killed_by_filter(pid_t pid)
{
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFSIGNALED(st))
		fail_msg("child exited with %d instead of being killed", WEXITSTATUS(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

static void test_lockdown_kills_socket(void **state)
{
	if (t_emulated()) {
		print_message("skipped (seccomp filter): %s\n", t_emulated());
		skip();
	}
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (al_proto_lockdown(false) < 0)
			_exit(3);
		/* Allowed calls still work... */
		if (getpid() <= 0)
			_exit(4);
		/* ...and creating a socket kills the process. */
		socket(AF_INET, SOCK_STREAM, 0);
		_exit(6);
	}
	assert_killed_by_filter(pid);
}

/* Anything unlisted kills as well (an errno would hide it from the supervisor). */
static void test_lockdown_kills_unlisted(void **state)
{
	if (t_emulated()) {
		print_message("skipped (seccomp filter): %s\n", t_emulated());
		skip();
	}
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (al_proto_lockdown(false) < 0)
			_exit(3);
		open("/dev/null", O_RDONLY);
		_exit(6);
	}
	assert_killed_by_filter(pid);
}

/* Memory still comes (buffers, thread stacks), never executable: not even the
 * channel's shared file mapped a second time. */
static void test_lockdown_kills_exec_mapping(void **state)
{
	if (t_emulated()) {
		print_message("skipped (seccomp filter): %s\n", t_emulated());
		skip();
	}
	for (int how = 0; how < 2; how++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (al_proto_lockdown(false) < 0)
				_exit(3);
			void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED || mprotect(p, 4096, PROT_READ) < 0)
				_exit(4); /* plain memory works */
			fprintf(stderr, "REACHED: %s with PROT_EXEC\n", how ? "mprotect" : "mmap");
			if (how)
				mprotect(p, 4096, PROT_READ | PROT_EXEC);
			else
				mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			_exit(6);
		}
		assert_killed_by_filter(pid);
	}
}

/* sched_setaffinity is allowed with --follow-client only; without it, it kills. */
static void test_lockdown_affinity_only_when_following(void **state)
{
	if (t_emulated()) {
		print_message("skipped (seccomp filter): %s\n", t_emulated());
		skip();
	}
	for (int follow = 0; follow < 2; follow++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			cpu_set_t own;
			if (al_proto_lockdown(follow) < 0 || sched_getaffinity(0, sizeof own, &own) < 0)
				_exit(3);
			fprintf(stderr, "REACHED: sched_setaffinity (follow %d)\n", follow);
			_exit(sched_setaffinity(0, sizeof own, &own) == 0 ? 0 : 5);
		}
		if (follow) {
			int st;
			assert_int_equal(waitpid(pid, &st, 0), pid);
			assert_true(WIFEXITED(st));
			assert_int_equal(WEXITSTATUS(st), 0);
		} else {
			assert_killed_by_filter(pid);
		}
	}
}

/* A client thread that sends one byte from the CPU it is pinned to, on demand. */
struct pinned_client {
	int fd;
	int cpu;
};

static void *pinned_send(void *arg)
{
	struct pinned_client *pc = arg;
	if (t_pin_self(pc->cpu) < 0 || write(pc->fd, "x", 1) != 1)
		return (void *)1;
	return NULL;
}

/* This thread onto cpu, then free again on its own set: it stays on cpu. */
static void place_on(int cpu, const cpu_set_t *own)
{
	assert_int_equal(t_pin_self(cpu), 0);
	assert_int_equal(sched_setaffinity(0, sizeof *own, own), 0);
}

/* One request sent from client_cpu, answered by this thread from server_cpu:
 * al_follow_answered's result. */
static int follow_request(struct al_follow *f, int cli, int srv, int client_cpu, int server_cpu,
			  const cpu_set_t *own)
{
	struct pinned_client pc = { cli, client_cpu };
	pthread_t th;
	void *bad;
	assert_int_equal(pthread_create(&th, NULL, pinned_send, &pc), 0);
	assert_int_equal(pthread_join(th, &bad), 0);
	assert_null(bad);
	char b;
	assert_int_equal(read(srv, &b, 1), 1);
	place_on(server_cpu, own);
	return al_follow_answered(f, srv);
}

/* The serving thread moves to the CPU the client's packets arrive on; moves that
 * do not hold back off. */
static void test_follow_moves_to_client_cpu(void **state)
{
	if (t_emulated()) {
		print_message("skipped (the emulator's CPUs are not the socket's): %s\n", t_emulated());
		skip();
	}
	cpu_set_t own;
	assert_int_equal(sched_getaffinity(0, sizeof own, &own), 0);
	int a, b;
	if (!t_two_cpus(&a, &b)) {
		print_message("skipped: one CPU here, nothing to follow\n");
		skip();
	}
	int ls = socket(AF_INET, SOCK_STREAM, 0), cli = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	assert_true(ls >= 0 && cli >= 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	assert_int_equal(connect(cli, (struct sockaddr *)&sa, sizeof sa), 0);
	int srv = accept(ls, NULL, NULL);
	assert_true(srv >= 0);

	struct al_follow f;
	al_follow_init(&f);
	assert_int_equal(follow_request(&f, cli, srv, a, b, &own), 1);
	assert_int_equal(sched_getcpu(), a);
	cpu_set_t now;
	assert_int_equal(sched_getaffinity(0, sizeof now, &now), 0);
	assert_true(CPU_EQUAL(&now, &own)); /* back on its own set, not pinned */
	assert_int_equal(follow_request(&f, cli, srv, a, a, &own), 0); /* there already: the move held */

	/* The client moved: followed at once. */
	assert_int_equal(follow_request(&f, cli, srv, b, a, &own), 1);
	assert_int_equal(sched_getcpu(), b);
	/* That move did not hold (the thread is found back on a): one failure is
	 * forgiven, the second in a row skips 8 requests before the next move. */
	assert_int_equal(follow_request(&f, cli, srv, b, a, &own), 1);
	for (int i = 0; i < 8; i++)
		assert_int_equal(follow_request(&f, cli, srv, b, a, &own), 0);
	assert_int_equal(follow_request(&f, cli, srv, b, a, &own), 1);
	/* ...and the next failures skip 16 */
	for (int i = 0; i < 16; i++)
		assert_int_equal(follow_request(&f, cli, srv, b, a, &own), 0);
	assert_int_equal(follow_request(&f, cli, srv, b, a, &own), 1);
	/* a move that holds ends the back-off */
	assert_int_equal(follow_request(&f, cli, srv, b, b, &own), 0);
	assert_int_equal(follow_request(&f, cli, srv, a, b, &own), 1);
	close(srv);
	close(cli);
	close(ls);
}

#if defined(__x86_64__)
static void test_lockdown_kills_ia32(void **state)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (al_proto_lockdown(false) < 0)
			_exit(3);
		long ret;
		/* i386 getpid (20) through the 32-bit entry: must not reach the kernel proper. */
		__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
		_exit(6);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV)
		skip(); /* kernel built without IA32 emulation: no 32-bit entry to test */
	if (!WIFSIGNALED(st))
		fail_msg("child exited with %d instead of being killed", WEXITSTATUS(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}
#endif

/* ---- the HTTP transport's streaming path, with a backend that answers slowly ---- */

struct slow_backend {
	atomic_int cancels, starts, dones;
	unsigned chunks;      /* chunks per generation */
	unsigned delay_ms;    /* between chunks */
};

struct slow_gen {
	struct slow_backend *b;
	struct al_mcp_gen_cb cb;
	atomic_bool cancel;
};

static struct slow_gen *slow_current; /* one generation at a time in these tests */

static void *slow_thread(void *arg)
{
	struct slow_gen *g = arg;
	enum al_mcp_gen_status st = AL_MCP_GEN_DONE;
	for (unsigned i = 0; i < g->b->chunks; i++) {
		if (atomic_load(&g->cancel)) {
			st = AL_MCP_GEN_CANCELLED;
			break;
		}
		g->cb.on_text(g->cb.ud, i ? " w" : "w", i ? 2 : 1);
		usleep(g->b->delay_ms * 1000);
	}
	g->cb.on_done(g->cb.ud, st, NULL);
	atomic_fetch_add(&g->b->dones, 1);
	return NULL;
}

static int slow_start(void *ctx, const struct al_mcp_gen_params *p, const struct al_mcp_gen_cb *cb,
		      uint64_t *handle)
{
	struct slow_backend *b = ctx;
	struct slow_gen *g = calloc(1, sizeof(*g));
	g->b = b;
	g->cb = *cb;
	slow_current = g;
	atomic_fetch_add(&b->starts, 1);
	*handle = 1;
	pthread_t t;
	pthread_create(&t, NULL, slow_thread, g);
	pthread_detach(t);
	return 0;
}

static void slow_cancel(void *ctx, uint64_t h)
{
	struct slow_backend *b = ctx;
	atomic_fetch_add(&b->cancels, 1);
	if (slow_current)
		atomic_store(&slow_current->cancel, true);
}

struct http_server {
	pthread_t th;
	int fd;
	unsigned short port;
	struct al_proto_opts o;
	struct al_mcp_server *srv;
};

static void *http_thread(void *arg)
{
	struct http_server *h = arg;
	al_proto_http_run(h->fd, &h->o, h->srv);
	return NULL;
}

static void http_start(struct http_server *h, struct slow_backend *b, unsigned timeout_s)
{
	struct al_mcp_config cfg;
	al_mcp_config_default(&cfg);
	struct al_mcp_backend be = { .ctx = b, .start = slow_start, .cancel = slow_cancel };
	assert_int_equal(al_mcp_server_new(&cfg, &be, &h->srv), 0);
	al_proto_opts_default(&h->o);
	h->o.request_timeout_s = timeout_s;
	h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(h->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(h->fd, 16), 0);
	getsockname(h->fd, (struct sockaddr *)&sa, &sl);
	h->port = ntohs(sa.sin_port);
	/* The transport waits for SIGTERM with sigwait: keep it blocked everywhere. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_create(&h->th, NULL, http_thread, h);
}

static void http_stop(struct http_server *h)
{
	pthread_kill(h->th, SIGTERM);
	pthread_join(h->th, NULL);
	al_mcp_server_free(h->srv);
	close(h->fd);
}

struct body {
	char buf[1 << 18];
	size_t len;
	size_t abort_after; /* stop reading once this many bytes arrived (0: never) */
};

static size_t body_write(char *p, size_t sz, size_t nm, void *ud)
{
	struct body *b = ud;
	size_t n = sz * nm;
	size_t room = sizeof(b->buf) - 1 - b->len;
	memcpy(b->buf + b->len, p, n < room ? n : room);
	b->len += n < room ? n : room;
	b->buf[b->len] = '\0';
	if (b->abort_after && b->len >= b->abort_after)
		return 0; /* the client goes away mid-stream */
	return n;
}

static long http_generate(unsigned short port, struct body *b)
{
	static const char req[] =
		"{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\",\"params\":{\"name\":\"generate\","
		"\"arguments\":{\"prompt\":\"x\"},\"_meta\":{\"progressToken\":\"tok\","
		"\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
		"\"io.modelcontextprotocol/clientCapabilities\":{}}}}";
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/mcp", port);
	CURL *c = curl_easy_init();
	struct curl_slist *hd = NULL;
	hd = curl_slist_append(hd, "Content-Type: application/json");
	hd = curl_slist_append(hd, "Accept: application/json, text/event-stream");
	hd = curl_slist_append(hd, "MCP-Protocol-Version: 2026-07-28");
	hd = curl_slist_append(hd, "Mcp-Method: tools/call");
	hd = curl_slist_append(hd, "Mcp-Name: generate");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, req);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	long code = 0;
	curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hd);
	curl_easy_cleanup(c);
	return code;
}

/* A POST with the headers given (NULL-terminated); returns the status. */
static long http_post(unsigned short port, const char *const *headers, const char *req, struct body *b)
{
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/mcp", port);
	CURL *c = curl_easy_init();
	struct curl_slist *hd = NULL;
	hd = curl_slist_append(hd, "Content-Type: application/json");
	hd = curl_slist_append(hd, "Accept: application/json, text/event-stream");
	for (const char *const *h = headers; *h; h++)
		hd = curl_slist_append(hd, *h);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, req);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	long code = 0;
	curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hd);
	curl_easy_cleanup(c);
	return code;
}

static void wait_dones(struct slow_backend *b, int n)
{
	/* Bounded wait for the backend thread to finish: a hang fails the test. */
	for (int i = 0; i < 1000 && atomic_load(&b->dones) < n; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&b->dones), n);
}

static void test_http_sse_progress_then_result(void **state)
{
	struct slow_backend b = { .chunks = 4, .delay_ms = 20 };
	struct http_server h;
	http_start(&h, &b, 60);
	struct body *bp = calloc(1, sizeof(*bp));
	assert_int_equal(http_generate(h.port, bp), 200);
	/* Four progress events carrying the text so far, then the result, in order. */
	const char *p1 = strstr(bp->buf, "\"message\":\"w\"");
	const char *p4 = strstr(bp->buf, "\"message\":\"w w w w\"");
	const char *res = strstr(bp->buf, "\"result\"");
	assert_non_null(p1);
	assert_non_null(p4);
	assert_non_null(res);
	assert_true(p1 < p4 && p4 < res);
	assert_non_null(strstr(res, "\"text\":\"w w w w\""));
	assert_non_null(strstr(bp->buf, "event: message\ndata: "));
	wait_dones(&b, 1);
	assert_int_equal(atomic_load(&b.cancels), 0);
	http_stop(&h);
	free(bp);
	free(slow_current);
	slow_current = NULL;
}

static void test_http_client_gone_cancels(void **state)
{
	struct slow_backend b = { .chunks = 500, .delay_ms = 10 };
	struct http_server h;
	http_start(&h, &b, 60);
	struct body *bp = calloc(1, sizeof(*bp));
	bp->abort_after = 1;
	http_generate(h.port, bp);
	free(bp);
	wait_dones(&b, 1);
	/* The generation stopped because the client left, long before its 500 chunks. */
	assert_int_equal(atomic_load(&b.cancels), 1);
	http_stop(&h);
	free(slow_current);
	slow_current = NULL;
}

static void test_http_deadline(void **state)
{
	struct slow_backend b = { .chunks = 1000, .delay_ms = 10 };
	struct http_server h;
	http_start(&h, &b, 1);
	struct body *bp = calloc(1, sizeof(*bp));
	assert_int_equal(http_generate(h.port, bp), 200);
	assert_non_null(strstr(bp->buf, "request deadline exceeded"));
	assert_non_null(strstr(bp->buf, "\"isError\":true"));
	free(bp);
	wait_dones(&b, 1);
	assert_int_equal(atomic_load(&b.cancels), 1);
	http_stop(&h);
	free(slow_current);
	slow_current = NULL;
}

static void test_logging_set_level(void **state)
{
	struct fixture *f = *state;
	struct al_mcp_result res;
	handle(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"warning\"}}",
	       &res);
	assert_int_equal(f->cap.n, 1);
	json_t *r = json_object_get(f->cap.msgs[0], "result");
	assert_true(json_is_object(r));
	assert_int_equal(json_object_size(r), 0);
	cap_clear(&f->cap);
	handle(f, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"loud\"}}",
	       &res);
	assert_int_equal(f->cap.n, 1);
	assert_int_equal(err_code(f->cap.msgs[0]), AL_JSONRPC_INVALID_PARAMS);
	cap_clear(&f->cap);
}

/* An HTTP initialize from peer: the new session's id, or "" when refused. */
static void http_init(struct al_mcp_server *srv, const char *peer, char *sid)
{
	struct capture cap = { 0 };
	struct al_mcp_input in = { .body = init_msg, .len = strlen(init_msg), .transport = AL_MCP_HTTP,
				   .peer = peer };
	struct al_mcp_output out = { .emit = cap_emit, .ud = &cap };
	struct al_mcp_result res;
	assert_int_equal(al_mcp_handle(srv, &in, &out, &res), 0);
	memcpy(sid, res.session_id, sizeof(res.session_id));
	if (!sid[0])
		assert_int_equal(res.http_status, 503);
	cap_clear(&cap);
}

static void test_session_eviction(void **state)
{
	struct al_mcp_config cfg;
	al_mcp_config_default(&cfg);
	cfg.max_sessions = 8;
	cfg.max_sessions_per_client = 4;
	struct al_mcp_server *srv;
	assert_int_equal(al_mcp_server_new(&cfg, &al_mcp_backend_none, &srv), 0);
	char ids[16][AL_MCP_SESSION_ID_LEN + 1];
	/* Client a fills its share; its fifth evicts its own oldest. */
	for (int i = 0; i < 5; i++)
		http_init(srv, "10.0.0.1", ids[i]);
	assert_int_equal(al_mcp_session_count(srv), 4);
	assert_int_equal(al_mcp_session_check(srv, ids[0]), -ENOENT);
	assert_int_equal(al_mcp_session_check(srv, ids[1]), 0);
	/* A session with an open GET stream is never evicted. */
	assert_int_equal(al_mcp_session_stream(srv, ids[1], true), 0);
	for (int i = 5; i < 9; i++)
		http_init(srv, "10.0.0.2", ids[i]);
	assert_int_equal(al_mcp_session_count(srv), 8);
	/* Full table: a third client evicts the least recently used idle session. */
	uint64_t epoch = al_mcp_session_epoch(srv);
	http_init(srv, "10.0.0.3", ids[9]);
	assert_true(ids[9][0]);
	assert_int_equal(al_mcp_session_check(srv, ids[1]), 0);
	assert_int_equal(al_mcp_session_check(srv, ids[2]), -ENOENT);
	assert_true(al_mcp_session_epoch(srv) != epoch);
	/* Every session of a client busy: it is refused. */
	al_mcp_server_free(srv);
	cfg.max_sessions = 2;
	cfg.max_sessions_per_client = 2;
	assert_int_equal(al_mcp_server_new(&cfg, &al_mcp_backend_none, &srv), 0);
	http_init(srv, "10.0.0.1", ids[0]);
	http_init(srv, "10.0.0.1", ids[1]);
	al_mcp_session_stream(srv, ids[0], true);
	al_mcp_session_stream(srv, ids[1], true);
	http_init(srv, "10.0.0.1", ids[2]);
	assert_false(ids[2][0]);
	al_mcp_session_stream(srv, ids[1], false);
	http_init(srv, "10.0.0.1", ids[2]);
	assert_true(ids[2][0]);
	assert_int_equal(al_mcp_session_check(srv, ids[1]), -ENOENT);
	al_mcp_server_free(srv);
}

static void test_stateless_takes_no_session(void **state)
{
	struct al_mcp_config cfg;
	al_mcp_config_default(&cfg);
	struct al_mcp_server *srv;
	assert_int_equal(al_mcp_server_new(&cfg, &al_mcp_backend_none, &srv), 0);
	static const char msg[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
		"\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
		"\"io.modelcontextprotocol/clientCapabilities\":{}}}}";
	for (int i = 0; i < 100; i++) {
		struct capture cap = { 0 };
		struct al_mcp_input in = { .body = msg, .len = strlen(msg), .transport = AL_MCP_HTTP,
					   .peer = "10.0.0.1", .hdr_protocol_version = "2026-07-28",
					   .hdr_method = "tools/list" };
		struct al_mcp_output out = { .emit = cap_emit, .ud = &cap };
		struct al_mcp_result res;
		assert_int_equal(al_mcp_handle(srv, &in, &out, &res), 0);
		assert_int_equal(res.http_status, 200);
		assert_false(res.session_id[0]);
		cap_clear(&cap);
	}
	assert_int_equal(al_mcp_session_count(srv), 0);
	al_mcp_server_free(srv);
}

static void test_http_header_whitespace(void **state)
{
	struct slow_backend b = { .chunks = 1, .delay_ms = 1 };
	struct http_server h;
	http_start(&h, &b, 60);
	struct body *bp = calloc(1, sizeof(*bp));
	/* Whitespace around a field value is not part of it (RFC 9110 section 5.5):
	 * headers that end in spaces or tabs still match the body. */
	static const char list[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":"
				   MODERN_META "}";
	const char *const list_hdrs[] = { "MCP-Protocol-Version: 2026-07-28 ", "Mcp-Method: tools/list\t",
					  NULL };
	assert_int_equal(http_post(h.port, list_hdrs, list, bp), 200);
	assert_non_null(strstr(bp->buf, "\"tools\""));
	static const char call[] =
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"generate\","
		"\"arguments\":{\"prompt\":\"x\"},\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":"
		"\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}";
	const char *const call_hdrs[] = { "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call",
					  "Mcp-Name:   generate  ", NULL };
	memset(bp, 0, sizeof(*bp));
	assert_int_equal(http_post(h.port, call_hdrs, call, bp), 200);
	assert_non_null(strstr(bp->buf, "\"isError\":false"));
	wait_dones(&b, 1);
	/* Whitespace inside a value is part of it: still a mismatch. */
	const char *const inner[] = { "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call",
				      "Mcp-Name: gen erate", NULL };
	memset(bp, 0, sizeof(*bp));
	assert_int_equal(http_post(h.port, inner, call, bp), 400);
	assert_non_null(strstr(bp->buf, "-32020"));
	http_stop(&h);
	free(bp);
	free(slow_current);
	slow_current = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hostile_corpus, setup_script, teardown),
		cmocka_unit_test(test_depth_prescan),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test_setup_teardown(test_generate_progress_and_result, setup_script, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_reaches_backend, setup_script, teardown),
		cmocka_unit_test_setup_teardown(test_other_session_cannot_cancel, setup_script, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_expiry, setup_script, teardown),
		cmocka_unit_test_setup_teardown(test_modern_results, setup_script, teardown),
		cmocka_unit_test_setup_teardown(test_http_header_crosscheck, setup_script, teardown),
		cmocka_unit_test_setup_teardown(test_modern_unknown_method_404, setup_script, teardown),
		cmocka_unit_test_setup_teardown(test_modern_header_without_meta, setup_script, teardown),
		cmocka_unit_test_setup_teardown(test_backend_none, setup_none, teardown),
		cmocka_unit_test_setup_teardown(test_schema_states_token_limit, setup_script, teardown),
		cmocka_unit_test_setup_teardown(test_schema_before_model_known, setup_none, teardown),
		cmocka_unit_test_setup_teardown(test_truncate_argument, setup_script, teardown),
		cmocka_unit_test_setup_teardown(test_usage_in_result_meta, setup_script, teardown),
		cmocka_unit_test_setup_teardown(test_prompt_too_long_error, setup_script, teardown),
		cmocka_unit_test(test_schema_validator),
		cmocka_unit_test_setup_teardown(test_logging_set_level, setup_script, teardown),
		cmocka_unit_test(test_session_eviction),
		cmocka_unit_test(test_stateless_takes_no_session),
		cmocka_unit_test(test_origin_host),
		cmocka_unit_test(test_lockdown_kills_socket),
		cmocka_unit_test(test_lockdown_kills_unlisted),
		cmocka_unit_test(test_lockdown_kills_exec_mapping),
		cmocka_unit_test(test_lockdown_affinity_only_when_following),
		cmocka_unit_test(test_follow_moves_to_client_cpu),
		cmocka_unit_test(test_http_sse_progress_then_result),
		cmocka_unit_test(test_http_client_gone_cancels),
		cmocka_unit_test(test_http_deadline),
		cmocka_unit_test(test_http_header_whitespace),
#if defined(__x86_64__)
		cmocka_unit_test(test_lockdown_kills_ia32),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
