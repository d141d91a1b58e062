/*
 * MCP over JSON-RPC: the two protocol generations on one endpoint.
 *
 * A message is classified body-first: a request whose params._meta carries
 * io.modelcontextprotocol/protocolVersion belongs to the stateless
 * 2026-07-28 revision; anything else to the stateful 2025 revisions, which
 * need the initialize handshake and, on HTTP, an Mcp-Session-Id. HTTP
 * headers only ever cross-check the body; they never choose the path.
 *
 * Locking: srv_lock guards the session table, the call list and the
 * counters; each call's c_lock serialises its emits, so a progress
 * notification can never follow the final response of the same call.
 */
#include "mcp/mcp.h"

#include "al_config.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define META_PROTOCOL_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_CLIENT_CAPS "io.modelcontextprotocol/clientCapabilities"
#define META_SERVER_INFO "io.modelcontextprotocol/serverInfo"

/* Preference order: what initialize answers when the client asks for something else. */
static const char *const legacy_versions[] = { "2025-11-25", "2025-06-18", "2025-03-26" };
static const char *const modern_versions[] = { AL_MCP_MODERN_VERSION };

#define PROGRESS_TEXT_MAX 8192
#define DONE_MESSAGE_MAX 1024 /* of a backend's failure message, kept in a tool error */

enum sess_state {
	SESS_NEW = 0,
	SESS_INITIALIZING, /* initialize answered, notifications/initialized pending */
	SESS_READY,
};

struct al_mcp_session {
	uint64_t ss_key;   /* identifies the session's calls without dereferencing it */
	char ss_id[AL_MCP_SESSION_ID_LEN + 1]; /* empty for stdio */
	enum sess_state ss_state;
	char ss_version[16];
	char ss_peer[AL_MCP_PEER_LEN]; /* the client's address, for the per-client cap */
	uint64_t ss_last_ns;
	unsigned ss_streams; /* open GET streams */
	struct al_mcp_session *ss_hnext; /* bucket chain */
};

struct al_mcp_call {
	struct al_mcp_server *c_srv;
	pthread_mutex_t c_lock;
	atomic_int c_refs;
	uint64_t c_session_key; /* 0: stateless request */
	json_t *c_id;           /* private copy of the request id */
	json_t *c_progress;     /* private copy of the progress token, or NULL */
	bool c_modern;
	bool c_done;            /* the final message has been decided */
	bool c_detached;        /* the transport no longer listens */
	bool c_client_cancel;   /* notifications/cancelled: send no response */
	bool c_started;
	uint64_t c_handle;
	uint64_t c_chunks;
	char *c_text;
	size_t c_len, c_cap;
	bool c_truncated;
	bool c_has_usage;
	struct al_mcp_gen_usage c_usage;
	struct al_mcp_output c_out;
	struct al_mcp_call *c_next;
};

struct al_mcp_server {
	struct al_mcp_config srv_cfg;
	struct al_mcp_backend srv_be;
	pthread_mutex_t srv_lock;
	pthread_cond_t srv_idle;   /* signalled when the call list empties */
	struct al_mcp_session **srv_buckets; /* sessions by id, chained */
	size_t srv_nbuckets;                 /* a power of two */
	size_t srv_nsessions;
	atomic_uint_fast64_t srv_epoch; /* bumped whenever a session goes away */
	uint64_t srv_next_key;
	struct al_mcp_call *srv_calls;
	struct al_mcp_stats srv_stats;
	json_t *srv_tools;         /* the tool list without the model's figures, built once */
	json_t *srv_generate_schema, *srv_info_schema; /* borrowed from srv_tools: what is enforced */
	/* What tools/list publishes: srv_tools, or once the model is known a copy
	 * stating its limits (the last ones known, kept across AI-domain restarts). */
	json_t *srv_published;
	uint32_t srv_pub_context, srv_pub_max_prompt; /* the figures it states; 0: none yet */
};

void al_mcp_config_default(struct al_mcp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->limits.max_bytes = AL_JSONRPC_DEFAULT_MAX_BYTES;
	cfg->limits.max_depth = AL_JSONRPC_DEFAULT_MAX_DEPTH;
	cfg->max_prompt_chars = 4096;
	cfg->max_tokens_limit = 1024;
	cfg->max_sessions = 4096;
	cfg->max_sessions_per_client = 1024;
	cfg->max_output_bytes = 256 * 1024;
	cfg->server_name = "airlock";
	cfg->server_version = AL_VERSION;
}

/*
 * The tool list. JSON Schema counts characters, not tokens, so the prompt's
 * maxLength is only a cap that keeps a request within what the channel
 * carries; the limit that matters is the model's, in tokens, which only the
 * AI domain can count. mi, once the AI domain has announced its model, puts
 * that figure into the descriptions and the tool's _meta; NULL says where to
 * find it instead.
 */
static json_t *build_tools(const struct al_mcp_config *cfg, const struct al_mcp_model_info *mi)
{
	char prompt_desc[512], max_desc[256];
	if (mi) {
		snprintf(prompt_desc, sizeof(prompt_desc),
			 "Text the model continues. The loaded model takes at most %" PRIu32
			 " prompt tokens (its context is %" PRIu32 " tokens); maxLength only caps the "
			 "characters. A longer prompt is refused with an error naming both figures, "
			 "unless truncate is \"left\".",
			 mi->max_prompt_tokens, mi->context_length);
		snprintf(max_desc, sizeof(max_desc),
			 "Upper bound on generated tokens. The context bounds them too: a prompt of P "
			 "tokens leaves room for %" PRIu32 " - P.",
			 mi->context_length);
	} else {
		snprintf(prompt_desc, sizeof(prompt_desc),
			 "Text the model continues. The model's limit in tokens is model_info's "
			 "max_prompt_tokens; maxLength only caps the characters. A longer prompt is "
			 "refused with an error naming both figures, unless truncate is \"left\".");
		snprintf(max_desc, sizeof(max_desc),
			 "Upper bound on generated tokens. The context bounds them too: a prompt of P "
			 "tokens leaves room for model_info's context_length - P.");
	}
	json_t *gen_schema = json_pack(
		"{s:s,s:{s:{s:s,s:I,s:I,s:s},s:{s:s,s:I,s:I,s:s},s:{s:s,s:f,s:f,s:s},"
		"s:{s:s,s:f,s:f,s:s},s:{s:s,s:I,s:I,s:s},s:{s:s,s:[s,s],s:s,s:s}},s:[s],s:b}",
		"type", "object", "properties",
		"prompt", "type", "string", "minLength", (json_int_t)1, "maxLength",
		(json_int_t)cfg->max_prompt_chars, "description", prompt_desc,
		"max_tokens", "type", "integer", "minimum", (json_int_t)1, "maximum",
		(json_int_t)cfg->max_tokens_limit, "description", max_desc,
		"temperature", "type", "number", "minimum", 0.0, "maximum", 2.0, "description",
		"Sampling temperature; 0 picks the most likely token.",
		"top_p", "type", "number", "minimum", 0.0, "maximum", 1.0, "description",
		"Nucleus sampling threshold.",
		"seed", "type", "integer", "minimum", (json_int_t)0, "maximum",
		(json_int_t)9007199254740991, "description", "Sampler seed for reproducible output.",
		"truncate", "type", "string", "enum", "none", "left", "default", "none", "description",
		"What to do with a prompt longer than the model takes: \"none\" refuses it, "
		"\"left\" drops its oldest tokens and keeps the newest (the result's "
		"_meta[\"airlock/usage\"] says how many were dropped).",
		"required", "prompt", "additionalProperties", 0);
	json_t *info_schema = json_pack("{s:s,s:{},s:b}", "type", "object", "properties",
					"additionalProperties", 0);
	json_t *gen_meta = mi ? json_pack("{s:{s:I,s:I}}", "airlock/limits", "context_length",
					  (json_int_t)mi->context_length, "max_prompt_tokens",
					  (json_int_t)mi->max_prompt_tokens)
			      : NULL;
	if (!gen_schema || !info_schema || (mi && !gen_meta)) {
		json_decref(gen_schema);
		json_decref(info_schema);
		json_decref(gen_meta);
		return NULL;
	}
	return json_pack("[{s:s,s:s,s:s,s:o,s:{s:b,s:b,s:b},s:o*},{s:s,s:s,s:s,s:o,s:{s:b,s:b}}]",
			 "name", "generate", "title", "Generate text", "description",
			 "Generates a continuation of the prompt with the local language model.",
			 "inputSchema", gen_schema, "annotations", "readOnlyHint", 1,
			 "destructiveHint", 0, "openWorldHint", 0, "_meta", gen_meta,
			 "name", "model_info", "title", "Model information", "description",
			 "Describes the language model loaded in the AI domain, with its context "
			 "and prompt limits in tokens.", "inputSchema",
			 info_schema, "annotations", "readOnlyHint", 1, "openWorldHint", 0);
}

int al_mcp_server_new(const struct al_mcp_config *cfg, const struct al_mcp_backend *be,
		      struct al_mcp_server **out)
{
	struct al_mcp_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->srv_cfg = *cfg;
	s->srv_be = *be;
	s->srv_next_key = 1;
	s->srv_nbuckets = 64;
	while (s->srv_nbuckets < cfg->max_sessions && s->srv_nbuckets < (1u << 20))
		s->srv_nbuckets *= 2;
	s->srv_buckets = calloc(s->srv_nbuckets, sizeof(*s->srv_buckets));
	s->srv_tools = build_tools(cfg, NULL);
	if (!s->srv_buckets || !s->srv_tools) {
		free(s->srv_buckets);
		json_decref(s->srv_tools);
		free(s);
		return -ENOMEM;
	}
	s->srv_generate_schema = json_object_get(json_array_get(s->srv_tools, 0), "inputSchema");
	s->srv_info_schema = json_object_get(json_array_get(s->srv_tools, 1), "inputSchema");
	s->srv_published = json_incref(s->srv_tools);
	pthread_mutex_init(&s->srv_lock, NULL);
	pthread_cond_init(&s->srv_idle, NULL);
	*out = s;
	return 0;
}

static void call_cancel_backend(struct al_mcp_call *c);

void al_mcp_server_free(struct al_mcp_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->srv_lock);
	for (struct al_mcp_call *c = s->srv_calls; c; c = c->c_next) {
		pthread_mutex_lock(&c->c_lock);
		c->c_detached = true;
		pthread_mutex_unlock(&c->c_lock);
		call_cancel_backend(c);
	}
	/* The backend owes every started call an on_done; wait for them. */
	while (s->srv_calls)
		pthread_cond_wait(&s->srv_idle, &s->srv_lock);
	pthread_mutex_unlock(&s->srv_lock);
	for (size_t i = 0; i < s->srv_nbuckets; i++)
		for (struct al_mcp_session *x = s->srv_buckets[i], *nx; x; x = nx) {
			nx = x->ss_hnext;
			free(x);
		}
	free(s->srv_buckets);
	json_decref(s->srv_tools);
	json_decref(s->srv_published);
	pthread_cond_destroy(&s->srv_idle);
	pthread_mutex_destroy(&s->srv_lock);
	free(s);
}

void al_mcp_server_stats(struct al_mcp_server *s, struct al_mcp_stats *out)
{
	pthread_mutex_lock(&s->srv_lock);
	*out = s->srv_stats;
	pthread_mutex_unlock(&s->srv_lock);
}

/* ---- sessions ---------------------------------------------------------- */

struct al_mcp_session *al_mcp_session_new(struct al_mcp_server *s)
{
	struct al_mcp_session *sess = calloc(1, sizeof(*sess));
	if (!sess)
		return NULL;
	pthread_mutex_lock(&s->srv_lock);
	sess->ss_key = s->srv_next_key++;
	pthread_mutex_unlock(&s->srv_lock);
	return sess;
}

static void cancel_session_calls_locked(struct al_mcp_server *s, uint64_t key)
{
	for (struct al_mcp_call *c = s->srv_calls; c; c = c->c_next) {
		if (c->c_session_key != key)
			continue;
		pthread_mutex_lock(&c->c_lock);
		c->c_client_cancel = true;
		pthread_mutex_unlock(&c->c_lock);
		call_cancel_backend(c);
	}
}

void al_mcp_session_free(struct al_mcp_server *s, struct al_mcp_session *sess)
{
	if (!sess)
		return;
	pthread_mutex_lock(&s->srv_lock);
	cancel_session_calls_locked(s, sess->ss_key);
	pthread_mutex_unlock(&s->srv_lock);
	free(sess);
}

static bool session_id_wellformed(const char *id)
{
	if (!id || strlen(id) != AL_MCP_SESSION_ID_LEN)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* The id is random hex: its first 16 characters are hash enough. */
static size_t session_bucket(const struct al_mcp_server *s, const char *id)
{
	uint64_t h = 0;
	for (size_t i = 0; i < 16; i++)
		h = h << 4 | (uint64_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'a' + 10);
	return (size_t)(h & (s->srv_nbuckets - 1));
}

static struct al_mcp_session **session_slot_locked(struct al_mcp_server *s, const char *id)
{
	if (!session_id_wellformed(id))
		return NULL;
	for (struct al_mcp_session **pp = &s->srv_buckets[session_bucket(s, id)]; *pp;
	     pp = &(*pp)->ss_hnext)
		if (!strcmp((*pp)->ss_id, id))
			return pp;
	return NULL;
}

static struct al_mcp_session *session_find_locked(struct al_mcp_server *s, const char *id)
{
	struct al_mcp_session **pp = session_slot_locked(s, id);
	return pp ? *pp : NULL;
}

/* Unlinks the session at *pp, cancels its calls and frees it. */
static void session_remove_locked(struct al_mcp_server *s, struct al_mcp_session **pp)
{
	struct al_mcp_session *sess = *pp;
	*pp = sess->ss_hnext;
	s->srv_nsessions--;
	atomic_fetch_add(&s->srv_epoch, 1);
	cancel_session_calls_locked(s, sess->ss_key);
	free(sess);
}

int al_mcp_session_check(struct al_mcp_server *s, const char *id)
{
	pthread_mutex_lock(&s->srv_lock);
	struct al_mcp_session *x = session_find_locked(s, id);
	pthread_mutex_unlock(&s->srv_lock);
	return x ? 0 : -ENOENT;
}

int al_mcp_session_delete(struct al_mcp_server *s, const char *id)
{
	pthread_mutex_lock(&s->srv_lock);
	struct al_mcp_session **pp = session_slot_locked(s, id);
	if (pp)
		session_remove_locked(s, pp);
	pthread_mutex_unlock(&s->srv_lock);
	return pp ? 0 : -ENOENT;
}

int al_mcp_session_stream(struct al_mcp_server *s, const char *id, bool open)
{
	pthread_mutex_lock(&s->srv_lock);
	struct al_mcp_session *x = session_find_locked(s, id);
	if (x) {
		if (open)
			x->ss_streams++;
		else if (x->ss_streams)
			x->ss_streams--;
		x->ss_last_ns = al_now_ns();
	}
	pthread_mutex_unlock(&s->srv_lock);
	return x ? 0 : -ENOENT;
}

uint64_t al_mcp_session_epoch(struct al_mcp_server *s)
{
	return atomic_load(&s->srv_epoch);
}

size_t al_mcp_session_count(struct al_mcp_server *s)
{
	pthread_mutex_lock(&s->srv_lock);
	size_t n = s->srv_nsessions;
	pthread_mutex_unlock(&s->srv_lock);
	return n;
}

static bool session_busy_locked(struct al_mcp_server *s, uint64_t key)
{
	for (struct al_mcp_call *c = s->srv_calls; c; c = c->c_next)
		if (c->c_session_key == key)
			return true;
	return false;
}

/*
 * The least recently used idle session (no GET stream open, no call pending),
 * of one client when peer is set: its bucket link, or NULL. Also counts that
 * client's sessions into *n_peer.
 */
static struct al_mcp_session **session_lru_idle_locked(struct al_mcp_server *s, const char *peer,
							size_t *n_peer)
{
	struct al_mcp_session **best = NULL;
	*n_peer = 0;
	for (size_t i = 0; i < s->srv_nbuckets; i++)
		for (struct al_mcp_session **pp = &s->srv_buckets[i]; *pp; pp = &(*pp)->ss_hnext) {
			struct al_mcp_session *x = *pp;
			if (peer && strcmp(x->ss_peer, peer) != 0)
				continue;
			(*n_peer)++;
			if (x->ss_streams || (best && x->ss_last_ns >= (*best)->ss_last_ns) ||
			    session_busy_locked(s, x->ss_key))
				continue;
			best = pp;
		}
	return best;
}

/*
 * A new HTTP session in the table; its id is copied out. When the table, or
 * the client's share of it, is full, the least recently used idle session
 * (of that client first) makes room: a client holding every session it has
 * busy is refused (-EBUSY), and one client's initialize flood only recycles
 * its own sessions.
 */
static int session_create(struct al_mcp_server *s, const char *version, const char *peer,
			  char *id_out)
{
	unsigned char rnd[AL_MCP_SESSION_ID_LEN / 2];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	struct al_mcp_session *sess = calloc(1, sizeof(*sess));
	if (!sess)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(sess->ss_id + 2 * i, 3, "%02x", rnd[i]);
	sess->ss_state = SESS_INITIALIZING;
	al_strlcpy(sess->ss_version, version, sizeof(sess->ss_version));
	al_strlcpy(sess->ss_peer, peer ? peer : "", sizeof(sess->ss_peer));
	sess->ss_last_ns = al_now_ns();

	pthread_mutex_lock(&s->srv_lock);
	size_t max = s->srv_cfg.max_sessions ? s->srv_cfg.max_sessions : 1;
	size_t per = s->srv_cfg.max_sessions_per_client;
	size_t n_peer = 0;
	bool ok = true;
	if (per && peer && *peer) {
		struct al_mcp_session **own = session_lru_idle_locked(s, peer, &n_peer);
		if (n_peer >= per || (s->srv_nsessions >= max && own)) {
			if (own)
				session_remove_locked(s, own);
			else
				ok = false;
		}
	}
	if (ok && s->srv_nsessions >= max) {
		struct al_mcp_session **any = session_lru_idle_locked(s, NULL, &n_peer);
		if (any)
			session_remove_locked(s, any);
		else
			ok = false;
	}
	if (!ok) {
		pthread_mutex_unlock(&s->srv_lock);
		free(sess);
		return -EBUSY;
	}
	sess->ss_key = s->srv_next_key++;
	struct al_mcp_session **head = &s->srv_buckets[session_bucket(s, sess->ss_id)];
	sess->ss_hnext = *head;
	*head = sess;
	s->srv_nsessions++;
	s->srv_stats.sessions++;
	memcpy(id_out, sess->ss_id, sizeof(sess->ss_id));
	pthread_mutex_unlock(&s->srv_lock);
	return 0;
}

/* ---- replies ----------------------------------------------------------- */

static void reply(const struct al_mcp_output *out, struct al_mcp_result *res, json_t *msg)
{
	res->has_response = true;
	if (msg)
		out->emit(out->ud, msg, true);
	json_decref(msg);
}

static void reply_error(struct al_mcp_server *s, const struct al_mcp_output *out,
			struct al_mcp_result *res, json_t *id, int code, const char *message,
			json_t *data, int http_status)
{
	pthread_mutex_lock(&s->srv_lock);
	s->srv_stats.errors++;
	pthread_mutex_unlock(&s->srv_lock);
	res->http_status = http_status;
	reply(out, res, al_jsonrpc_error(id, code, message, data));
}

static json_t *text_content(const char *text, size_t len)
{
	return json_pack("[{s:s,s:s%}]", "type", "text", "text", text, len);
}

static json_t *tool_error(const char *message)
{
	return json_pack("{s:o,s:b}", "content", text_content(message, strlen(message)), "isError", 1);
}

static json_t *finish_result(json_t *result, bool modern)
{
	/* 2026-07-28 results carry a discriminator; "complete" is the only kind we produce. */
	if (result && modern)
		json_object_set_new(result, "resultType", json_string("complete"));
	return result;
}

/* ---- calls (one pending generation) ----------------------------------- */

static void call_cancel_backend(struct al_mcp_call *c)
{
	bool started;
	uint64_t h;
	pthread_mutex_lock(&c->c_lock);
	started = c->c_started;
	h = c->c_handle;
	pthread_mutex_unlock(&c->c_lock);
	if (started && c->c_srv->srv_be.cancel)
		c->c_srv->srv_be.cancel(c->c_srv->srv_be.ctx, h);
}

void al_mcp_call_put(struct al_mcp_call *c)
{
	if (!c || atomic_fetch_sub(&c->c_refs, 1) != 1)
		return;
	json_decref(c->c_id);
	json_decref(c->c_progress);
	free(c->c_text);
	pthread_mutex_destroy(&c->c_lock);
	free(c);
}

static void call_unlink(struct al_mcp_call *c)
{
	struct al_mcp_server *s = c->c_srv;
	pthread_mutex_lock(&s->srv_lock);
	for (struct al_mcp_call **pp = &s->srv_calls; *pp; pp = &(*pp)->c_next) {
		if (*pp == c) {
			*pp = c->c_next;
			break;
		}
	}
	if (!s->srv_calls)
		pthread_cond_broadcast(&s->srv_idle);
	pthread_mutex_unlock(&s->srv_lock);
}

static void call_on_text(void *ud, const char *text, size_t len)
{
	struct al_mcp_call *c = ud;
	pthread_mutex_lock(&c->c_lock);
	if (c->c_done) {
		pthread_mutex_unlock(&c->c_lock);
		return;
	}
	size_t room = c->c_srv->srv_cfg.max_output_bytes - c->c_len;
	if (len > room) {
		len = room;
		c->c_truncated = true;
	}
	size_t need;
	if (len && al_add_size(c->c_len, len, &need)) {
		if (need > c->c_cap) {
			size_t cap = c->c_cap ? c->c_cap : 256;
			while (cap < need)
				cap *= 2;
			char *nt = realloc(c->c_text, cap + 1);
			if (nt) {
				c->c_text = nt;
				c->c_cap = cap;
			}
		}
		if (need <= c->c_cap) {
			memcpy(c->c_text + c->c_len, text, len);
			c->c_len = need;
			c->c_text[need] = '\0';
		}
	}
	c->c_chunks++;
	if (c->c_progress && !c->c_detached) {
		/* Progress carries the text so far (its tail when long): clients show it live. */
		size_t off = c->c_len > PROGRESS_TEXT_MAX ? c->c_len - PROGRESS_TEXT_MAX : 0;
		while (off < c->c_len && ((unsigned char)c->c_text[off] & 0xC0) == 0x80)
			off++;
		json_t *n = al_jsonrpc_notification(
			"notifications/progress",
			json_pack("{s:O,s:I,s:s%}", "progressToken", c->c_progress, "progress",
				  (json_int_t)c->c_chunks, "message", c->c_text ? c->c_text + off : "",
				  c->c_len - off));
		if (n)
			c->c_out.emit(c->c_out.ud, n, false);
		json_decref(n);
	}
	pthread_mutex_unlock(&c->c_lock);
}

static void call_on_usage(void *ud, const struct al_mcp_gen_usage *u)
{
	struct al_mcp_call *c = ud;
	pthread_mutex_lock(&c->c_lock);
	c->c_usage = *u;
	c->c_has_usage = true;
	pthread_mutex_unlock(&c->c_lock);
}

static void call_finish_locked(struct al_mcp_call *c, json_t *result)
{
	c->c_done = true;
	if (c->c_detached) {
		json_decref(result);
		return;
	}
	json_t *msg = NULL;
	/* A request the client cancelled gets no response (MCP cancellation). */
	if (!c->c_client_cancel)
		msg = al_jsonrpc_result(c->c_id, finish_result(result, c->c_modern));
	else
		json_decref(result);
	c->c_out.emit(c->c_out.ud, msg, true);
	json_decref(msg);
}

static void call_on_done(void *ud, enum al_mcp_gen_status st, const char *message)
{
	struct al_mcp_call *c = ud;
	pthread_mutex_lock(&c->c_lock);
	if (!c->c_done) {
		json_t *result;
		if (st == AL_MCP_GEN_DONE) {
			result = json_pack("{s:o,s:b}", "content",
					   text_content(c->c_text ? c->c_text : "", c->c_len), "isError", 0);
			/* Token figures for the client's application (and how much of a
			 * prompt left truncation dropped); the content stays the text alone. */
			if (result && c->c_has_usage)
				json_object_set_new(result, "_meta",
						    json_pack("{s:{s:I,s:I,s:I}}", "airlock/usage", "prompt_tokens",
							      (json_int_t)c->c_usage.prompt_tokens,
							      "prompt_tokens_dropped",
							      (json_int_t)c->c_usage.prompt_dropped,
							      "generated_tokens", (json_int_t)c->c_usage.gen_tokens));
		} else if (st == AL_MCP_GEN_CANCELLED) {
			result = tool_error("generation cancelled");
		} else if (st == AL_MCP_GEN_TOO_LONG) {
			/* The AI domain counted; say how to get a result anyway. */
			char msg[DONE_MESSAGE_MAX + 96];
			snprintf(msg, sizeof(msg), "%.*s; set truncate to \"left\" to keep its newest tokens",
				 DONE_MESSAGE_MAX, message && *message ? message : "the prompt is too long");
			result = tool_error(msg);
		} else {
			result = tool_error(message && *message ? message : "generation failed");
		}
		call_finish_locked(c, result);
	}
	pthread_mutex_unlock(&c->c_lock);
	call_unlink(c);
	al_mcp_call_put(c); /* the backend's reference */
}

void al_mcp_call_detach(struct al_mcp_call *c)
{
	pthread_mutex_lock(&c->c_lock);
	c->c_detached = true;
	bool done = c->c_done;
	pthread_mutex_unlock(&c->c_lock);
	if (!done)
		call_cancel_backend(c);
}

void al_mcp_call_expire(struct al_mcp_call *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->c_lock);
	bool was_done = c->c_done;
	if (!was_done)
		call_finish_locked(c, tool_error("request deadline exceeded"));
	pthread_mutex_unlock(&c->c_lock);
	if (!was_done)
		call_cancel_backend(c);
}

static void cancel_request(struct al_mcp_server *s, uint64_t session_key, const json_t *params)
{
	json_t *rid = json_object_get(params, "requestId");
	if (!json_is_string(rid) && !json_is_integer(rid))
		return;
	pthread_mutex_lock(&s->srv_lock);
	for (struct al_mcp_call *c = s->srv_calls; c; c = c->c_next) {
		/* Only the session that sent a request may cancel it. */
		if (c->c_session_key != session_key || !json_equal(c->c_id, rid))
			continue;
		pthread_mutex_lock(&c->c_lock);
		c->c_client_cancel = true;
		pthread_mutex_unlock(&c->c_lock);
		s->srv_stats.cancels++;
		call_cancel_backend(c);
	}
	pthread_mutex_unlock(&s->srv_lock);
}

/* ---- tools ------------------------------------------------------------- */

static int tool_generate(struct al_mcp_server *s, json_t *id, json_t *args, json_t *meta,
			 uint64_t session_key, uint64_t client, bool modern, const struct al_mcp_output *out,
			 struct al_mcp_result *res)
{
	struct al_mcp_gen_params p = {
		.prompt = json_string_value(json_object_get(args, "prompt")),
		.max_tokens = 256,
		.temperature = 1.0,
		.top_p = 0.9,
		.client = client,
	};
	json_t *v;
	if ((v = json_object_get(args, "max_tokens")))
		p.max_tokens = (uint32_t)json_integer_value(v);
	if ((v = json_object_get(args, "temperature")))
		p.temperature = json_number_value(v);
	if ((v = json_object_get(args, "top_p")))
		p.top_p = json_number_value(v);
	if ((v = json_object_get(args, "seed"))) {
		p.seed = (uint64_t)json_integer_value(v);
		p.has_seed = true;
	}
	if ((v = json_object_get(args, "truncate")))
		p.truncate_left = !strcmp(json_string_value(v), "left"); /* the schema allowed none and left */
	if (p.max_tokens > s->srv_cfg.max_tokens_limit)
		p.max_tokens = s->srv_cfg.max_tokens_limit;

	struct al_mcp_call *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->c_lock, NULL);
	c->c_srv = s;
	c->c_session_key = session_key;
	c->c_modern = modern;
	c->c_id = json_deep_copy(id);
	json_t *tok = json_object_get(meta, "progressToken");
	if (json_is_string(tok) || json_is_integer(tok))
		c->c_progress = json_deep_copy(tok);
	c->c_out = *out;
	atomic_init(&c->c_refs, 2); /* backend + transport */
	if (!c->c_id) {
		atomic_store(&c->c_refs, 1);
		al_mcp_call_put(c);
		return -ENOMEM;
	}

	pthread_mutex_lock(&s->srv_lock);
	c->c_next = s->srv_calls;
	s->srv_calls = c;
	pthread_mutex_unlock(&s->srv_lock);

	res->has_response = true;
	res->stream = true;
	res->call = c;

	struct al_mcp_gen_cb cb = { .on_text = call_on_text, .on_usage = call_on_usage,
				    .on_done = call_on_done, .ud = c };
	uint64_t handle = 0;
	int rc = s->srv_be.start(s->srv_be.ctx, &p, &cb, &handle);
	if (rc < 0) {
		/* No callback will come: finish here and drop the backend's reference. */
		char msg[96];
		snprintf(msg, sizeof(msg), "generation could not start: %s", strerror(-rc));
		call_on_done(c, AL_MCP_GEN_FAILED, msg);
		return 0;
	}
	pthread_mutex_lock(&c->c_lock);
	c->c_handle = handle;
	c->c_started = !c->c_done;
	bool cancel_now = c->c_started && (c->c_client_cancel || c->c_detached);
	pthread_mutex_unlock(&c->c_lock);
	if (cancel_now) /* a cancel raced with start() */
		call_cancel_backend(c);
	return 0;
}

static json_t *tool_model_info(struct al_mcp_server *s)
{
	struct al_mcp_model_info mi;
	memset(&mi, 0, sizeof(mi));
	int rc = s->srv_be.model_info ? s->srv_be.model_info(s->srv_be.ctx, &mi) : -ENOTCONN;
	if (rc == -ENOTCONN)
		return tool_error("AI domain not connected");
	if (rc < 0)
		return tool_error("model information unavailable");
	mi.name[sizeof(mi.name) - 1] = '\0';
	json_t *info = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "name", mi.name, "vocab_size",
				 (json_int_t)mi.vocab_size, "context_length",
				 (json_int_t)mi.context_length, "max_prompt_tokens",
				 (json_int_t)mi.max_prompt_tokens, "n_layers", (json_int_t)mi.n_layers,
				 "dim", (json_int_t)mi.dim);
	if (!info)
		return NULL;
	char *txt = json_dumps(info, JSON_COMPACT);
	json_t *r = json_pack("{s:o,s:o,s:b}", "content", text_content(txt ? txt : "", txt ? strlen(txt) : 0),
			      "structuredContent", info, "isError", 0);
	free(txt);
	return r;
}

static int tools_call(struct al_mcp_server *s, json_t *id, json_t *params, uint64_t session_key,
		      uint64_t client, bool modern, const struct al_mcp_output *out, struct al_mcp_result *res)
{
	json_t *name = json_object_get(params, "name");
	json_t *args = json_object_get(params, "arguments");
	if (!json_is_string(name)) {
		reply_error(s, out, res, id, AL_JSONRPC_INVALID_PARAMS, "params.name must be a string",
			    NULL, 200);
		return 0;
	}
	if (args && !json_is_object(args)) {
		reply_error(s, out, res, id, AL_JSONRPC_INVALID_PARAMS,
			    "params.arguments must be an object", NULL, 200);
		return 0;
	}
	json_t *empty = json_object();
	if (!args)
		args = empty;
	const char *tn = json_string_value(name);
	json_t *schema = !strcmp(tn, "generate") ? s->srv_generate_schema :
			 !strcmp(tn, "model_info") ? s->srv_info_schema : NULL;
	if (!schema) {
		json_decref(empty);
		reply_error(s, out, res, id, AL_JSONRPC_INVALID_PARAMS, "unknown tool",
			    json_pack("{s:s%}", "name", tn, strnlen(tn, 64)), 200);
		return 0;
	}
	char why[256];
	if (al_mcp_schema_validate(schema, args, why, sizeof(why)) < 0) {
		/* Argument errors are tool execution errors the model can read and fix (2025-11-25). */
		char msg[300];
		snprintf(msg, sizeof(msg), "invalid arguments: %s", why);
		json_decref(empty);
		reply(out, res, al_jsonrpc_result(id, finish_result(tool_error(msg), modern)));
		return 0;
	}
	int rc = 0;
	if (schema == s->srv_generate_schema)
		rc = tool_generate(s, id, args, json_object_get(params, "_meta"), session_key, client, modern,
				   out, res);
	else
		reply(out, res, al_jsonrpc_result(id, finish_result(tool_model_info(s), modern)));
	json_decref(empty);
	return rc;
}

static json_t *server_info(struct al_mcp_server *s)
{
	return json_pack("{s:s,s:s}", "name", s->srv_cfg.server_name, "version",
			 s->srv_cfg.server_version);
}

static json_t *capabilities(void)
{
	return json_pack("{s:{s:b},s:{}}", "tools", "listChanged", 0, "logging");
}

/*
 * The tool list to publish now: a new reference. The AI domain announces its
 * model on the channel when it attaches (the protocol domain never reads the
 * model file), so the first list may come before the figures do; from then
 * on they are stated, and kept while the AI domain restarts.
 */
static json_t *published_tools(struct al_mcp_server *s)
{
	struct al_mcp_model_info mi;
	memset(&mi, 0, sizeof(mi));
	/* Asked before srv_lock: the backend's lock and ours never nest. */
	bool known = s->srv_be.model_info && s->srv_be.model_info(s->srv_be.ctx, &mi) == 0 &&
		     mi.context_length > 0 && mi.max_prompt_tokens < mi.context_length;
	pthread_mutex_lock(&s->srv_lock);
	if (known && (mi.context_length != s->srv_pub_context ||
		      mi.max_prompt_tokens != s->srv_pub_max_prompt)) {
		json_t *t = build_tools(&s->srv_cfg, &mi);
		if (t) {
			json_decref(s->srv_published);
			s->srv_published = t;
			s->srv_pub_context = mi.context_length;
			s->srv_pub_max_prompt = mi.max_prompt_tokens;
		}
	}
	json_t *t = json_incref(s->srv_published);
	pthread_mutex_unlock(&s->srv_lock);
	return t;
}

static json_t *tools_list_result(struct al_mcp_server *s, bool modern)
{
	json_t *r = json_pack("{s:o}", "tools", published_tools(s));
	if (r && modern) {
		/* Per deployment, and its descriptions gain the model's figures once known. */
		json_object_set_new(r, "ttlMs", json_integer(0));
		json_object_set_new(r, "cacheScope", json_string("private"));
	}
	return finish_result(r, modern);
}

/* Methods both generations share. Returns false when the method is unknown. */
static bool dispatch_common(struct al_mcp_server *s, const struct al_jsonrpc_msg *m,
			    uint64_t session_key, uint64_t client, bool modern, const struct al_mcp_output *out,
			    struct al_mcp_result *res, int *rc)
{
	json_t *params = m->params ? m->params : NULL;
	/* ping left the method registry in 2026-07-28: stateless clients have nothing to keep alive. */
	if (!modern && !strcmp(m->method, "ping")) {
		reply(out, res, al_jsonrpc_result(m->id, finish_result(json_object(), modern)));
	} else if (!strcmp(m->method, "tools/list")) {
		json_t *cursor = json_object_get(params, "cursor");
		if (cursor && !json_is_string(cursor))
			reply_error(s, out, res, m->id, AL_JSONRPC_INVALID_PARAMS,
				    "params.cursor must be a string", NULL, 200);
		else if (cursor)
			/* One page only: any cursor is one we never issued. */
			reply_error(s, out, res, m->id, AL_JSONRPC_INVALID_PARAMS, "invalid cursor",
				    NULL, 200);
		else
			reply(out, res, al_jsonrpc_result(m->id, tools_list_result(s, modern)));
	} else if (!modern && !strcmp(m->method, "logging/setLevel")) {
		/* Accepted and answered; the server emits no log notifications to filter.
		 * 2026-07-28 removed the method: a request names its level in _meta. */
		static const char *const levels[] = { "debug", "info", "notice", "warning",
						      "error", "critical", "alert", "emergency" };
		const char *lv = json_string_value(json_object_get(params, "level"));
		bool known = false;
		for (size_t i = 0; lv && i < AL_ARRAY_LEN(levels); i++)
			known |= !strcmp(lv, levels[i]);
		if (!known)
			reply_error(s, out, res, m->id, AL_JSONRPC_INVALID_PARAMS,
				    "params.level must be an MCP log level", NULL, 200);
		else
			reply(out, res, al_jsonrpc_result(m->id, finish_result(json_object(), modern)));
	} else if (!strcmp(m->method, "tools/call")) {
		if (!params) {
			reply_error(s, out, res, m->id, AL_JSONRPC_INVALID_PARAMS, "params required",
				    NULL, 200);
			return true;
		}
		*rc = tools_call(s, m->id, params, session_key, client, modern, out, res);
	} else {
		return false;
	}
	return true;
}

/* ---- the two generations ----------------------------------------------- */

static bool version_in(const char *v, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v, list[i]))
			return true;
	return false;
}

static json_t *supported_versions(void)
{
	json_t *a = json_array();
	for (size_t i = 0; i < AL_ARRAY_LEN(modern_versions); i++)
		json_array_append_new(a, json_string(modern_versions[i]));
	for (size_t i = 0; i < AL_ARRAY_LEN(legacy_versions); i++)
		json_array_append_new(a, json_string(legacy_versions[i]));
	return a;
}

/* A stateless request's client, for the generation queue's fair share: its
 * peer address (FNV-1a), or 0 when there is none (stdio has one client). */
static uint64_t peer_key(const char *peer)
{
	uint64_t h = 0xcbf29ce484222325ull;
	if (!peer || !*peer)
		return 0;
	for (const unsigned char *c = (const unsigned char *)peer; *c; c++)
		h = (h ^ *c) * 0x100000001b3ull;
	return h ? h : 1;
}

static int handle_modern(struct al_mcp_server *s, const struct al_mcp_input *in,
			 const struct al_jsonrpc_msg *m, json_t *meta, const struct al_mcp_output *out,
			 struct al_mcp_result *res)
{
	bool req = m->kind == AL_JSONRPC_REQUEST;
	json_t *pv = json_object_get(meta, META_PROTOCOL_VERSION);
	const char *ver = json_string_value(pv);
	int rc = 0;

	if (!req) {
		/* Notifications need no standard headers; cancelled is the only one we act on.
		 * Over HTTP, stateless requests share no session, so a cancel could name
		 * another client's id: there a request ends when its client closes the
		 * connection (the transport detaches it). stdio has one client. */
		res->http_status = 202;
		if (!strcmp(m->method, "notifications/cancelled") && in->transport == AL_MCP_STDIO)
			cancel_request(s, 0, m->params);
		return 0;
	}
	if (!ver) {
		reply_error(s, out, res, m->id, AL_JSONRPC_INVALID_PARAMS,
			    "_meta." META_PROTOCOL_VERSION " must be a string", NULL, 400);
		return 0;
	}
	if (in->transport == AL_MCP_HTTP) {
		/* Headers let intermediaries route without parsing; they must say what the body says. */
		const char *why = NULL;
		if (!in->hdr_protocol_version)
			why = "MCP-Protocol-Version header missing";
		else if (strcmp(in->hdr_protocol_version, ver) != 0)
			why = "MCP-Protocol-Version header does not match the body";
		else if (!in->hdr_method)
			why = "Mcp-Method header missing";
		else if (strcmp(in->hdr_method, m->method) != 0)
			why = "Mcp-Method header does not match the body";
		else if (!strcmp(m->method, "tools/call")) {
			const char *name = json_string_value(json_object_get(m->params, "name"));
			if (name && !in->hdr_name)
				why = "Mcp-Name header missing";
			else if (name && strcmp(in->hdr_name, name) != 0)
				why = "Mcp-Name header does not match the body";
		}
		if (why) {
			reply_error(s, out, res, m->id, AL_MCP_HEADER_MISMATCH, why, NULL, 400);
			return 0;
		}
	}
	if (!version_in(ver, modern_versions, AL_ARRAY_LEN(modern_versions))) {
		reply_error(s, out, res, m->id, AL_MCP_UNSUPPORTED_VERSION, "unsupported protocol version",
			    json_pack("{s:o,s:s%}", "supported", supported_versions(), "requested",
				      ver, strnlen(ver, 64)),
			    400);
		return 0;
	}
	if (!json_is_object(json_object_get(meta, META_CLIENT_CAPS))) {
		reply_error(s, out, res, m->id, AL_JSONRPC_INVALID_PARAMS,
			    "_meta." META_CLIENT_CAPS " must be an object", NULL, 400);
		return 0;
	}
	if (!strcmp(m->method, "server/discover")) {
		json_t *r = json_pack("{s:o,s:o,s:o,s:i,s:s,s:{s:o}}", "supportedVersions",
				      supported_versions(), "capabilities", capabilities(), "serverInfo",
				      server_info(s), "ttlMs", 0, "cacheScope", "private", "_meta",
				      META_SERVER_INFO, server_info(s));
		reply(out, res, al_jsonrpc_result(m->id, finish_result(r, true)));
	} else if (!dispatch_common(s, m, 0, peer_key(in->peer), true, out, res, &rc)) {
		/* Over HTTP the status says it too, so a gateway need not parse the body. */
		reply_error(s, out, res, m->id, AL_JSONRPC_METHOD_NOT_FOUND, "method not found", NULL,
			    in->transport == AL_MCP_HTTP ? 404 : 200);
	}
	return rc;
}

static int handle_legacy(struct al_mcp_server *s, const struct al_mcp_input *in,
			 const struct al_jsonrpc_msg *m, const struct al_mcp_output *out,
			 struct al_mcp_result *res)
{
	bool req = m->kind == AL_JSONRPC_REQUEST;
	bool http = in->transport == AL_MCP_HTTP;
	const char *hv = in->hdr_protocol_version;
	int rc = 0;

	if (http && hv && version_in(hv, modern_versions, AL_ARRAY_LEN(modern_versions))) {
		/* A stateless request without its required _meta field is malformed: invalid params. */
		reply_error(s, out, res, req ? m->id : NULL, AL_JSONRPC_INVALID_PARAMS,
			    "MCP-Protocol-Version names the stateless revision but params._meta has no "
			    META_PROTOCOL_VERSION,
			    NULL, 400);
		return 0;
	}
	if (http && hv && !version_in(hv, legacy_versions, AL_ARRAY_LEN(legacy_versions))) {
		reply_error(s, out, res, req ? m->id : NULL, AL_JSONRPC_SERVER_ERROR,
			    "unsupported MCP-Protocol-Version", NULL, 400);
		return 0;
	}

	if (req && !strcmp(m->method, "initialize")) {
		json_t *pv = json_object_get(m->params, "protocolVersion");
		if (!json_is_string(pv) || !json_is_object(json_object_get(m->params, "capabilities")) ||
		    !json_is_object(json_object_get(m->params, "clientInfo"))) {
			reply_error(s, out, res, m->id, AL_JSONRPC_INVALID_PARAMS,
				    "initialize needs protocolVersion, capabilities and clientInfo", NULL,
				    http ? 400 : 200);
			return 0;
		}
		const char *want = json_string_value(pv);
		/* Negotiation: echo a version we speak, else offer our latest. */
		const char *ver = version_in(want, legacy_versions, AL_ARRAY_LEN(legacy_versions)) ?
					  want : legacy_versions[0];
		if (http) {
			if (in->hdr_session_id) {
				reply_error(s, out, res, m->id, AL_JSONRPC_INVALID_REQUEST,
					    "initialize must not carry a session id", NULL, 400);
				return 0;
			}
			int e = session_create(s, ver, in->peer, res->session_id);
			if (e < 0) {
				reply_error(s, out, res, m->id, AL_JSONRPC_SERVER_ERROR,
					    e == -EBUSY ? "too many sessions" : "session creation failed",
					    NULL, 503);
				return 0;
			}
		} else {
			struct al_mcp_session *sess = in->session;
			if (!sess || sess->ss_state != SESS_NEW) {
				reply_error(s, out, res, m->id, AL_JSONRPC_INVALID_REQUEST,
					    "already initialized", NULL, 200);
				return 0;
			}
			pthread_mutex_lock(&s->srv_lock);
			sess->ss_state = SESS_INITIALIZING;
			al_strlcpy(sess->ss_version, ver, sizeof(sess->ss_version));
			pthread_mutex_unlock(&s->srv_lock);
		}
		json_t *r = json_pack("{s:s,s:o,s:o,s:s}", "protocolVersion", ver, "capabilities",
				      capabilities(), "serverInfo", server_info(s), "instructions",
				      "Call generate to continue a prompt with the local model.");
		reply(out, res, al_jsonrpc_result(m->id, r));
		return 0;
	}

	/* Everything else belongs to an initialised session. */
	uint64_t key = 0;
	enum sess_state st = SESS_NEW;
	if (http) {
		if (!in->hdr_session_id) {
			reply_error(s, out, res, req ? m->id : NULL, AL_JSONRPC_SERVER_ERROR,
				    "Mcp-Session-Id header required", NULL, 400);
			return 0;
		}
		pthread_mutex_lock(&s->srv_lock);
		struct al_mcp_session *sess = session_find_locked(s, in->hdr_session_id);
		if (sess) {
			sess->ss_last_ns = al_now_ns();
			if (!req && !strcmp(m->method, "notifications/initialized") &&
			    sess->ss_state == SESS_INITIALIZING)
				sess->ss_state = SESS_READY;
			key = sess->ss_key;
			st = sess->ss_state;
		}
		pthread_mutex_unlock(&s->srv_lock);
		if (!sess) {
			reply_error(s, out, res, req ? m->id : NULL, -32001, "session not found", NULL, 404);
			return 0;
		}
	} else {
		struct al_mcp_session *sess = in->session;
		if (sess) {
			pthread_mutex_lock(&s->srv_lock);
			if (!req && !strcmp(m->method, "notifications/initialized") &&
			    sess->ss_state == SESS_INITIALIZING)
				sess->ss_state = SESS_READY;
			key = sess->ss_key;
			st = sess->ss_state;
			pthread_mutex_unlock(&s->srv_lock);
		}
	}

	if (!req) {
		res->http_status = 202;
		if (!strcmp(m->method, "notifications/cancelled"))
			cancel_request(s, key, m->params);
		return 0;
	}
	if (st == SESS_NEW && strcmp(m->method, "ping") != 0) {
		reply_error(s, out, res, m->id, AL_JSONRPC_INVALID_REQUEST, "not initialized", NULL,
			    http ? 400 : 200);
		return 0;
	}
	if (!dispatch_common(s, m, key, key, false, out, res, &rc))
		reply_error(s, out, res, m->id, AL_JSONRPC_METHOD_NOT_FOUND, "method not found", NULL, 200);
	return rc;
}

int al_mcp_handle(struct al_mcp_server *s, const struct al_mcp_input *in,
		  const struct al_mcp_output *out, struct al_mcp_result *res)
{
	memset(res, 0, sizeof(*res));
	res->http_status = 200;
	struct al_jsonrpc_msg m;
	json_t *err = NULL;
	int code = al_jsonrpc_parse(in->body, in->len, &s->srv_cfg.limits, &m, &err);
	if (code < 0) {
		pthread_mutex_lock(&s->srv_lock);
		s->srv_stats.errors++;
		pthread_mutex_unlock(&s->srv_lock);
		res->http_status = 400;
		if (!err)
			return -ENOMEM;
		reply(out, res, err);
		return 0;
	}
	pthread_mutex_lock(&s->srv_lock);
	if (m.kind == AL_JSONRPC_REQUEST)
		s->srv_stats.requests++;
	else
		s->srv_stats.notifications++;
	pthread_mutex_unlock(&s->srv_lock);

	int rc = 0;
	if (m.kind == AL_JSONRPC_RESPONSE) {
		/* We never send requests to clients, so a response answers nothing: drop it. */
		res->http_status = 202;
	} else {
		json_t *meta = json_object_get(m.params, "_meta");
		if (meta && !json_is_object(meta)) {
			if (m.kind == AL_JSONRPC_REQUEST)
				reply_error(s, out, res, m.id, AL_JSONRPC_INVALID_PARAMS,
					    "params._meta must be an object", NULL, 400);
			else
				res->http_status = 400;
		} else if (json_object_get(meta, META_PROTOCOL_VERSION)) {
			rc = handle_modern(s, in, &m, meta, out, res);
		} else {
			rc = handle_legacy(s, in, &m, out, res);
		}
	}
	al_jsonrpc_msg_clear(&m);
	return rc;
}
