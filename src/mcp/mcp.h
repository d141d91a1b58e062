/*
 * JSON-RPC 2.0 and MCP message handling, with no I/O of its own: transports
 * (Streamable HTTP, stdio), unit tests and fuzzers feed it bytes and receive
 * JSON messages through a callback.
 *
 * Recipe:
 *   struct al_mcp_server *s;
 *   al_mcp_server_new(&cfg, &backend, &s);      // backend: generation engine
 *   struct al_mcp_session *sess = al_mcp_session_new(s);   // stdio: one per stream
 *   al_mcp_handle(s, &in, &out, &res);          // one message; replies via out.emit
 *   ...
 *   al_mcp_server_free(s);
 *
 * Both protocol generations share one server: the stateful 2025 revisions
 * (initialize handshake, sessions) and the stateless 2026-07-28 revision
 * (every request carries its protocol version and client capabilities in
 * params._meta; server/discover).
 *
 * Thread safety: al_mcp_handle() may run concurrently from several threads;
 * the server locks its session and call tables internally. emit() callbacks
 * for a pending call may run on a backend thread.
 */
#ifndef AL_MCP_MCP_H
#define AL_MCP_MCP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- JSON-RPC 2.0 ---------------------------------------------------- */

enum {
	AL_JSONRPC_PARSE_ERROR = -32700,
	AL_JSONRPC_INVALID_REQUEST = -32600,
	AL_JSONRPC_METHOD_NOT_FOUND = -32601,
	AL_JSONRPC_INVALID_PARAMS = -32602,
	AL_JSONRPC_INTERNAL_ERROR = -32603,
	/* Implementation-defined server errors (-32000..-32099). */
	AL_JSONRPC_SERVER_ERROR = -32000,
	AL_MCP_HEADER_MISMATCH = -32020,
	AL_MCP_UNSUPPORTED_VERSION = -32022,
};

#define AL_JSONRPC_DEFAULT_MAX_BYTES (1024u * 1024u)
#define AL_JSONRPC_DEFAULT_MAX_DEPTH 32u

struct al_jsonrpc_limits {
	size_t max_bytes;   /* whole message, bytes */
	unsigned max_depth; /* nesting of objects and arrays */
};

enum al_jsonrpc_kind {
	AL_JSONRPC_REQUEST = 1,
	AL_JSONRPC_NOTIFICATION,
	AL_JSONRPC_RESPONSE, /* a result or error sent to us: we never ask, so it is dropped */
};

struct al_jsonrpc_msg {
	enum al_jsonrpc_kind kind;
	json_t *root;        /* owns everything below */
	json_t *id;          /* borrowed; string or integer for requests, NULL otherwise */
	const char *method;  /* borrowed from root */
	json_t *params;      /* borrowed; object, or NULL when absent */
};

/*
 * Parses one JSON-RPC message from hostile bytes. Checks size and nesting
 * depth on the raw bytes before jansson sees them, rejects duplicate keys,
 * batches (removed from MCP in 2025-06-18) and every shape the spec forbids.
 * On failure returns a negative JSON-RPC code and sets *err to a complete
 * error response (id null or the request's id when it could be read).
 */
int al_jsonrpc_parse(const char *buf, size_t len, const struct al_jsonrpc_limits *lim,
		     struct al_jsonrpc_msg *msg, json_t **err);
void al_jsonrpc_msg_clear(struct al_jsonrpc_msg *msg);

/* Depth of the deepest object/array nesting, counted outside strings; stops past limit. */
unsigned al_jsonrpc_depth(const char *buf, size_t len, unsigned limit);

/* Builders; each returns a new reference (NULL only on allocation failure). */
json_t *al_jsonrpc_error(json_t *id, int code, const char *message, json_t *data_steal);
json_t *al_jsonrpc_result(json_t *id, json_t *result_steal);
json_t *al_jsonrpc_notification(const char *method, json_t *params_steal);

/* ---- generation backend --------------------------------------------- */

struct al_mcp_gen_params {
	const char *prompt;  /* UTF-8, validated, NUL-free */
	uint32_t max_tokens;
	double temperature;  /* 0..2; 0 is greedy */
	double top_p;        /* 0..1 */
	uint64_t seed;
	bool has_seed;
	bool truncate_left;  /* a prompt over the model's limit loses its oldest tokens */
	uint64_t client;     /* who asks: the session, else the peer address (0: not known) */
};

enum al_mcp_gen_status {
	AL_MCP_GEN_DONE = 0,      /* stop token or max_tokens reached */
	AL_MCP_GEN_CANCELLED,
	AL_MCP_GEN_FAILED,        /* message says why; becomes an isError tool result */
	AL_MCP_GEN_TOO_LONG,      /* the prompt does not fit the model: message names both figures */
};

/* What one finished generation took, in tokens; BOS is not a prompt token. */
struct al_mcp_gen_usage {
	uint32_t prompt_tokens;  /* prompt tokens the model ran */
	uint32_t prompt_dropped; /* oldest prompt tokens dropped (truncate_left) */
	uint32_t gen_tokens;     /* tokens generated */
};

/*
 * Called by the backend, from any thread, for one generation: on_text zero
 * or more times with the next piece of text, on_usage at most once when the
 * backend knows the figures, then on_done exactly once.
 * After on_done the backend never touches cb->ud again.
 */
struct al_mcp_gen_cb {
	void (*on_text)(void *ud, const char *text, size_t len);
	void (*on_usage)(void *ud, const struct al_mcp_gen_usage *usage);
	void (*on_done)(void *ud, enum al_mcp_gen_status status, const char *message);
	void *ud;
};

struct al_mcp_model_info {
	char name[64];
	uint32_t vocab_size;
	uint32_t context_length;    /* positions, in tokens */
	uint32_t max_prompt_tokens; /* the longest prompt it takes: context_length less BOS */
	uint32_t n_layers;
	uint32_t dim;
};

/*
 * What the protocol domain needs from whoever generates text (the channel to
 * the AI domain in the real worker). start() may call on_done before it
 * returns (for instance when the AI domain is unreachable).
 */
struct al_mcp_backend {
	void *ctx;
	/* 0 and *handle set, or -errno (then no callback is ever made). */
	int (*start)(void *ctx, const struct al_mcp_gen_params *p, const struct al_mcp_gen_cb *cb,
		     uint64_t *handle);
	/*
	 * Asks the generation to stop; on_done(CANCELLED) follows unless it already
	 * finished. Never calls on_done itself (the server holds its locks here);
	 * an unknown or finished handle is ignored.
	 */
	void (*cancel)(void *ctx, uint64_t handle);
	/*
	 * 0 or -errno (-ENOTCONN: no AI domain). Cheap (no round trip): tools/list
	 * asks it too, to state the prompt limit in tokens once it is known.
	 */
	int (*model_info)(void *ctx, struct al_mcp_model_info *out);
};

/* The only backend without an AI domain: every generation fails "AI domain not connected". */
extern const struct al_mcp_backend al_mcp_backend_none;

/* ---- MCP server ----------------------------------------------------- */

#define AL_MCP_SESSION_ID_LEN 32 /* hex characters */
#define AL_MCP_MODERN_VERSION "2026-07-28"
#define AL_MCP_LATEST_LEGACY_VERSION "2025-11-25"

struct al_mcp_config {
	struct al_jsonrpc_limits limits;
	size_t max_prompt_chars;    /* generate.prompt maxLength */
	uint32_t max_tokens_limit;  /* generate.max_tokens maximum */
	size_t max_sessions;        /* stateful sessions kept at once */
	size_t max_sessions_per_client; /* of them, per client address (0: no cap) */
	size_t max_output_bytes;    /* text kept for one generation's result */
	const char *server_name;
	const char *server_version;
};

void al_mcp_config_default(struct al_mcp_config *cfg);

struct al_mcp_server;
struct al_mcp_session;
struct al_mcp_call;

enum al_mcp_transport {
	AL_MCP_STDIO = 1,
	AL_MCP_HTTP,
};

#define AL_MCP_PEER_LEN 48 /* a numeric IPv4 or IPv6 address and its NUL */

/* What the transport hands in with one message. */
struct al_mcp_input {
	const char *body;
	size_t len;
	enum al_mcp_transport transport;
	struct al_mcp_session *session; /* stdio: the stream's session; HTTP: NULL */
	const char *peer;               /* HTTP: the client's address, for per-client caps */
	/* HTTP request headers (NULL when absent or on stdio). */
	const char *hdr_session_id;
	const char *hdr_protocol_version;
	const char *hdr_method;
	const char *hdr_name;
};

/*
 * Receives every message for one input: notifications (progress) and the
 * final response. msg is borrowed; final is true for the response, after
 * which emit is never called again for this input.
 */
struct al_mcp_output {
	void (*emit)(void *ud, json_t *msg, bool final);
	void *ud;
};

struct al_mcp_result {
	int http_status;        /* 200, 202 or the error status for HTTP */
	bool has_response;      /* emit(final) was or will be called */
	bool stream;            /* a call is pending: progress may come before the response */
	struct al_mcp_call *call; /* when stream: a reference, release with al_mcp_call_put() */
	char session_id[AL_MCP_SESSION_ID_LEN + 1]; /* set when initialize created a session */
};

int al_mcp_server_new(const struct al_mcp_config *cfg, const struct al_mcp_backend *be,
		      struct al_mcp_server **out);
/* Cancels pending calls and frees everything; no emit runs after it returns. */
void al_mcp_server_free(struct al_mcp_server *s);

/* A stateful session without an id, for stdio (one per stream). */
struct al_mcp_session *al_mcp_session_new(struct al_mcp_server *s);
void al_mcp_session_free(struct al_mcp_server *s, struct al_mcp_session *sess);

/*
 * HTTP session lookup for the GET stream and DELETE: 0, -ENOENT when the id
 * is unknown. al_mcp_session_delete() also cancels the session's calls.
 */
int al_mcp_session_check(struct al_mcp_server *s, const char *id);
int al_mcp_session_delete(struct al_mcp_server *s, const char *id);
/*
 * A GET stream of session id opened (open) or closed: a session with a stream
 * open is never evicted. 0, or -ENOENT when the id is unknown.
 */
int al_mcp_session_stream(struct al_mcp_server *s, const char *id, bool open);
/* Changes whenever a session is deleted or evicted (streams recheck theirs then). */
uint64_t al_mcp_session_epoch(struct al_mcp_server *s);
size_t al_mcp_session_count(struct al_mcp_server *s);

/*
 * Stateful HTTP sessions live in a table of cfg->max_sessions; when it is
 * full, the least recently used idle session (no GET stream, no pending
 * call) is evicted; a client address holding max_sessions_per_client
 * recycles its own. Stateless (2026-07-28) requests take no entry.
 *
 * Handles one message. Always fills *res; returns 0, or -ENOMEM. A request
 * gets exactly one emit(final), either before al_mcp_handle() returns or,
 * when res->stream, later from the backend's thread.
 */
int al_mcp_handle(struct al_mcp_server *s, const struct al_mcp_input *in,
		  const struct al_mcp_output *out, struct al_mcp_result *res);

/*
 * The transport gave up on a pending call (client gone, deadline): the
 * backend is asked to cancel and no emit runs for it after this returns.
 */
void al_mcp_call_detach(struct al_mcp_call *c);
/* Deadline passed: emits an isError result now, cancels the generation. */
void al_mcp_call_expire(struct al_mcp_call *c);
void al_mcp_call_put(struct al_mcp_call *c);

/* Counters for the transports' logs and tests. */
struct al_mcp_stats {
	uint64_t requests, notifications, errors, cancels, sessions;
};
void al_mcp_server_stats(struct al_mcp_server *s, struct al_mcp_stats *out);

/* Validates a tool's arguments against its input schema; exposed for tests. */
int al_mcp_schema_validate(const json_t *schema, const json_t *value, char *why, size_t whylen);
/* The same for a schema written by someone else (a third-party tool's
 * inputSchema): the keywords above are enforced, any other is ignored. */
int al_mcp_schema_check(const json_t *schema, const json_t *value, char *why, size_t whylen);

#endif
