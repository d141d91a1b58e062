/*
 * The gate's decisions (see gate.h). Every message is parsed with the
 * protocol domain's JSON-RPC parser (src/mcp) before anything else looks at
 * it; what is forwarded is re-serialised from the parsed value, never the
 * peer's bytes, so a message cannot smuggle a second line or bytes jansson
 * did not understand.
 */
#include "workers/gate/gate.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp.h"

enum req_kind { REQ_OTHER = 0, REQ_TOOLS_LIST, REQ_TOOLS_CALL };

struct pending {
	char *id;          /* the id, serialised: a key that tells 1 from "1" */
	enum req_kind kind;
	char tool[64];     /* tools/call: which tool (its outputSchema applies) */
	uint64_t deadline; /* tools/call under a timeout: when it is due (ms); 0: none */
	uint32_t timeout_ms;
};

/* Ids of requests timed out or cancelled: an answer to one is late, and the
 * id may not be used again (its late answer would pass for the new one's). */
struct retired {
	char *id[AL_GATE_MAX_INFLIGHT];
	char tool[AL_GATE_MAX_INFLIGHT][64]; /* a tools/call's tool, for the record of a late answer */
	size_t next;
};

/* A tool's rate: a token bucket, in units of 1/period_ms of a call, so that
 * rates per minute and per hour stay exact in integers. */
struct bucket {
	char tool[64];
	uint64_t units, ms;
};

struct pinned_tool {
	char *name;
	json_t *input;     /* inputSchema, or NULL */
	json_t *output;    /* outputSchema, or NULL */
};

struct al_gate {
	struct al_gate_config cfg;
	struct al_gate_io io;
	struct pending client_req[AL_GATE_MAX_INFLIGHT]; /* asked of the server */
	struct pending server_req[AL_GATE_MAX_INFLIGHT]; /* asked of the client */
	struct retired client_retired, server_retired;
	struct bucket buckets[AL_GATE_MAX_TOOLS];
	size_t n_buckets;
	struct pinned_tool tools[AL_GATE_MAX_TOOLS];
	size_t n_tools;
	bool have_tools;   /* a tools/list was approved in this run */
	bool quarantined;
	/* tools/list pages, chained: h = SHA-256(h_prev || canonical page) */
	uint8_t chain[32];
	size_t pages;
	/* server notifications: a token bucket, tokens in thousandths */
	uint64_t bucket, bucket_ms;
	bool flood_reported;
};

/* Methods a client may ask of a server (MCP 2025-06-18 and 2026-07-28). */
static const char *const client_methods[] = {
	"initialize", "ping", "tools/list", "tools/call", "resources/list", "resources/read",
	"resources/templates/list", "resources/subscribe", "resources/unsubscribe", "prompts/list",
	"prompts/get", "completion/complete", "logging/setLevel", "server/discover",
};
static const char *const client_notifications[] = {
	"notifications/initialized", "notifications/cancelled", "notifications/progress",
	"notifications/roots/list_changed",
};
static const char *const server_notifications[] = {
	"notifications/message", "notifications/progress", "notifications/cancelled",
	"notifications/tools/list_changed", "notifications/resources/list_changed",
	"notifications/resources/updated", "notifications/prompts/list_changed",
};

static bool listed(const char *m, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(m, set[i]))
			return true;
	return false;
}

static void copy_printable(char *dst, size_t cap, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < cap; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

/* One decision of a tools/call rule: which argument (or none) and which rule. */
static void report_rule(struct al_gate *g, enum al_gate_event ev, enum al_gate_reason why, bool from_client,
			const char *method, const char *name, const uint8_t *hash, const char *arg, const char *rule)
{
	struct al_gate_record r = { .magic = AL_GATE_RECORD_MAGIC, .event = (uint16_t)ev,
				    .reason = (uint16_t)why, .from_client = from_client };
	copy_printable(r.method, sizeof r.method, method);
	copy_printable(r.name, sizeof r.name, name);
	copy_printable(r.arg, sizeof r.arg, arg);
	copy_printable(r.rule, sizeof r.rule, rule);
	if (hash)
		memcpy(r.hash, hash, sizeof r.hash);
	g->io.report(g->io.ctx, &r, NULL, 0);
}

static void report(struct al_gate *g, enum al_gate_event ev, enum al_gate_reason why, bool from_client,
		   const char *method, const char *name, const uint8_t *hash, const void *blob, size_t len)
{
	struct al_gate_record r = { .magic = AL_GATE_RECORD_MAGIC, .event = (uint16_t)ev,
				    .reason = (uint16_t)why, .blob_len = (uint32_t)len,
				    .from_client = from_client };
	copy_printable(r.method, sizeof r.method, method);
	copy_printable(r.name, sizeof r.name, name);
	if (hash)
		memcpy(r.hash, hash, sizeof r.hash);
	g->io.report(g->io.ctx, &r, blob, len);
}

static void send_json(struct al_gate *g, bool to_client, json_t *msg)
{
	char *s = msg ? json_dumps(msg, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	if (s) {
		(to_client ? g->io.to_client : g->io.to_server)(g->io.ctx, s, strlen(s));
		free(s);
	}
	json_decref(msg);
}

/* An error answer to whoever sent request id (NULL id: nobody to answer). */
static void answer_error(struct al_gate *g, bool to_client, json_t *id, int code, const char *message)
{
	if (id)
		send_json(g, to_client, al_jsonrpc_error(id, code, message, NULL));
}

static char *id_key(json_t *id)
{
	return json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* The retired entry of key (its tool, "" for another request), or NULL. */
static const char *retired_has(const struct retired *r, const char *key)
{
	for (size_t i = 0; key && i < AL_GATE_MAX_INFLIGHT; i++)
		if (r->id[i] && !strcmp(r->id[i], key))
			return r->tool[i];
	return NULL;
}

/* Keeps p's id (taken from it) among the retired ids, the oldest making room. */
static void retire(struct retired *r, struct pending *p)
{
	free(r->id[r->next]);
	r->id[r->next] = p->id;
	memcpy(r->tool[r->next], p->tool, sizeof p->tool);
	r->next = (r->next + 1) % AL_GATE_MAX_INFLIGHT;
	p->id = NULL;
}

static struct pending *pending_add(struct pending *tab, const struct retired *ret, json_t *id, enum req_kind kind,
				   const char *tool)
{
	char *key = id_key(id);
	if (!key)
		return NULL;
	if (retired_has(ret, key)) {
		free(key); /* an id reused after it timed out or was cancelled */
		return NULL;
	}
	struct pending *free_slot = NULL;
	for (size_t i = 0; i < AL_GATE_MAX_INFLIGHT; i++) {
		if (tab[i].id && !strcmp(tab[i].id, key)) {
			free(key); /* a reused id while the first is outstanding */
			return NULL;
		}
		if (!tab[i].id && !free_slot)
			free_slot = &tab[i];
	}
	if (!free_slot) {
		free(key);
		return NULL;
	}
	*free_slot = (struct pending){ .id = key, .kind = kind };
	copy_printable(free_slot->tool, sizeof free_slot->tool, tool);
	return free_slot;
}

/* Takes the entry for id out of tab (copied to *out); false if none. */
static bool pending_take(struct pending *tab, json_t *id, struct pending *out)
{
	char *key = id ? id_key(id) : NULL;
	if (!key)
		return false;
	for (size_t i = 0; i < AL_GATE_MAX_INFLIGHT; i++)
		if (tab[i].id && !strcmp(tab[i].id, key)) {
			*out = tab[i];
			free(out->id);
			out->id = NULL;
			tab[i].id = NULL;
			free(key);
			return true;
		}
	free(key);
	return false;
}

static void tools_clear(struct al_gate *g)
{
	for (size_t i = 0; i < g->n_tools; i++) {
		free(g->tools[i].name);
		json_decref(g->tools[i].input);
		json_decref(g->tools[i].output);
	}
	g->n_tools = 0;
}

static const struct pinned_tool *tool_find(const struct al_gate *g, const char *name)
{
	for (size_t i = 0; i < g->n_tools; i++)
		if (!strcmp(g->tools[i].name, name))
			return &g->tools[i];
	return NULL;
}

static bool tool_allowed(const struct al_gate *g, const char *name)
{
	if (g->cfg.all_tools)
		return true;
	return listed(name, g->cfg.tools, g->cfg.n_tools);
}

int al_gate_new(const struct al_gate_config *cfg, const struct al_gate_io *io, struct al_gate **out)
{
	if (sodium_init() < 0)
		return -ENOMEM;
	json_object_seed(0); /* reads its seed now, before a lockdown closes /dev/urandom */
	struct al_gate *g = calloc(1, sizeof *g);
	if (!g)
		return -ENOMEM;
	g->cfg = *cfg;
	g->io = *io;
	g->bucket = 4000ull * cfg->notify_rate;
	g->bucket_ms = io->now_ms(io->ctx);
	*out = g;
	return 0;
}

void al_gate_free(struct al_gate *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < AL_GATE_MAX_INFLIGHT; i++) {
		free(g->client_req[i].id);
		free(g->server_req[i].id);
		free(g->client_retired.id[i]);
		free(g->server_retired.id[i]);
	}
	tools_clear(g);
	free(g);
}

bool al_gate_quarantined(const struct al_gate *g)
{
	return g->quarantined;
}

/* ---- client to server ---- */

/* The bucket of tool (full at first), refilled to now; NULL when none is
 * left (more tools than a pinned list holds: refused, not unlimited). A call
 * within the rate is one period_ms of its units. */
static struct bucket *rate_bucket(struct al_gate *g, const struct al_gate_toolrule *t, const char *tool)
{
	struct bucket *b = NULL;
	uint64_t now = g->io.now_ms(g->io.ctx), cost = t->period_ms, cap = (uint64_t)t->burst * cost;
	for (size_t i = 0; !b && i < g->n_buckets; i++)
		if (!strcmp(g->buckets[i].tool, tool))
			b = &g->buckets[i];
	if (!b) {
		if (g->n_buckets == AL_GATE_MAX_TOOLS)
			return NULL;
		b = &g->buckets[g->n_buckets++];
		snprintf(b->tool, sizeof b->tool, "%s", tool);
		b->units = cap;
		b->ms = now;
	}
	if (now > b->ms) {
		uint64_t dt = now - b->ms < cap ? now - b->ms : cap; /* rate >= 1: dt >= cap fills it */
		b->units = b->units + dt * t->rate > cap ? cap : b->units + dt * t->rate;
		b->ms = now;
	}
	return b->units >= cost ? b : NULL;
}

static void client_tools_call(struct al_gate *g, struct al_jsonrpc_msg *m)
{
	const char *name = json_string_value(json_object_get(m->params, "name"));
	json_t *args = json_object_get(m->params, "arguments");
	char why[400]; /* the longest: "tool %.64s: argument %.64s: " and a 200-byte detail */
	if (!name) {
		answer_error(g, true, m->id, AL_JSONRPC_INVALID_PARAMS, "tools/call: params.name must be a string");
		report(g, AL_GATE_EV_REFUSED, AL_GATE_WHY_MALFORMED, true, m->method, NULL, NULL, NULL, 0);
		return;
	}
	if (g->quarantined) {
		answer_error(g, true, m->id, AL_JSONRPC_SERVER_ERROR,
			     "the server's tools changed since they were approved; it is quarantined until "
			     "`airlock gate approve` accepts the change");
		report(g, AL_GATE_EV_REFUSED, AL_GATE_WHY_QUARANTINE, true, m->method, name, NULL, NULL, 0);
		return;
	}
	if (!tool_allowed(g, name)) {
		snprintf(why, sizeof why, "tool '%.64s' is not allowed by the gate's policy", name);
		answer_error(g, true, m->id, AL_JSONRPC_INVALID_PARAMS, why);
		report(g, AL_GATE_EV_REFUSED, AL_GATE_WHY_TOOL, true, m->method, name, NULL, NULL, 0);
		return;
	}
	const struct pinned_tool *t = g->have_tools ? tool_find(g, name) : NULL;
	if (!t) {
		snprintf(why, sizeof why,
			 "tool '%.64s' is not in the server's approved tools/list (list the tools first)", name);
		answer_error(g, true, m->id, AL_JSONRPC_INVALID_PARAMS, why);
		report(g, AL_GATE_EV_REFUSED, AL_GATE_WHY_UNPINNED, true, m->method, name, NULL, NULL, 0);
		return;
	}
	json_t *empty = NULL;
	if (!args)
		args = empty = json_object();
	char detail[200] = "";
	int rc = t->input ? al_mcp_schema_check(t->input, args, detail, sizeof detail) : 0;
	/* then the policy's own rules: prefixes, lengths, patterns */
	const struct al_gate_toolrule *rule = al_gate_rules_find(g->cfg.rules, name);
	struct al_gate_arg_fault f;
	int bad_arg = rc == 0 && rule ? al_gate_rules_check(rule, args, &f) : 0;
	uint8_t h[32] = { 0 };
	char *canon = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (canon)
		crypto_hash_sha256(h, (const unsigned char *)canon, strlen(canon));
	free(canon);
	json_decref(empty);
	if (rc < 0) {
		snprintf(why, sizeof why, "tool '%.64s': invalid arguments: %.150s", name, detail);
		answer_error(g, true, m->id, AL_JSONRPC_INVALID_PARAMS, why);
		report(g, AL_GATE_EV_REFUSED, AL_GATE_WHY_ARGUMENTS, true, m->method, name, h, NULL, 0);
		return;
	}
	if (bad_arg < 0) {
		snprintf(why, sizeof why, "tool '%.64s': argument '%.64s': %.200s (the gate's %s rule)", name, f.arg, f.why,
			 f.rule);
		answer_error(g, true, m->id, AL_JSONRPC_INVALID_PARAMS, why);
		report_rule(g, AL_GATE_EV_REFUSED, AL_GATE_WHY_CONSTRAINT, true, m->method, name, h, f.arg, f.rule);
		return;
	}
	struct bucket *b = rule && rule->rate ? rate_bucket(g, rule, name) : NULL;
	if (rule && rule->rate && !b) {
		char lim[96], rec[48];
		al_gate_rate_text(rule, lim, sizeof lim);
		snprintf(why, sizeof why, "tool '%.64s': over its rate limit of %s at the gate; try again later", name, lim);
		snprintf(rec, sizeof rec, "rate %u/%s burst %u", rule->rate,
			 rule->period_ms == 1000 ? "s" : rule->period_ms == 60000 ? "min" : "h", rule->burst);
		answer_error(g, true, m->id, AL_JSONRPC_SERVER_ERROR, why);
		report_rule(g, AL_GATE_EV_REFUSED, AL_GATE_WHY_RATE, true, m->method, name, h, NULL, rec);
		return;
	}
	struct pending *p = pending_add(g->client_req, &g->client_retired, m->id, REQ_TOOLS_CALL, name);
	if (!p) {
		answer_error(g, true, m->id, AL_JSONRPC_INVALID_REQUEST, "too many requests in flight, or a reused id");
		report(g, AL_GATE_EV_REFUSED, AL_GATE_WHY_BUSY, true, m->method, name, NULL, NULL, 0);
		return;
	}
	if (b)
		b->units -= rule->period_ms; /* spent only by a call that is forwarded */
	if (rule && rule->timeout_ms) {
		p->timeout_ms = rule->timeout_ms;
		p->deadline = g->io.now_ms(g->io.ctx) + rule->timeout_ms;
	}
	report(g, AL_GATE_EV_FORWARDED, AL_GATE_WHY_NONE, true, m->method, name, h, NULL, 0);
	send_json(g, false, json_incref(m->root));
}

static void client_request(struct al_gate *g, struct al_jsonrpc_msg *m)
{
	if (!listed(m->method, client_methods, sizeof client_methods / sizeof *client_methods)) {
		answer_error(g, true, m->id, AL_JSONRPC_METHOD_NOT_FOUND, "method not allowed by the gate");
		report(g, AL_GATE_EV_REFUSED, AL_GATE_WHY_METHOD, true, m->method, NULL, NULL, NULL, 0);
		return;
	}
	if (!strcmp(m->method, "tools/call")) {
		client_tools_call(g, m);
		return;
	}
	enum req_kind kind = REQ_OTHER;
	if (!strcmp(m->method, "tools/list")) {
		kind = REQ_TOOLS_LIST;
		if (!json_object_get(m->params, "cursor")) {
			memset(g->chain, 0, sizeof g->chain); /* a new listing starts the chain */
			g->pages = 0;
		}
	}
	if (!pending_add(g->client_req, &g->client_retired, m->id, kind, NULL)) {
		answer_error(g, true, m->id, AL_JSONRPC_INVALID_REQUEST, "too many requests in flight, or a reused id");
		report(g, AL_GATE_EV_REFUSED, AL_GATE_WHY_BUSY, true, m->method, NULL, NULL, NULL, 0);
		return;
	}
	send_json(g, false, json_incref(m->root));
}

/*
 * notifications/cancelled from either side names a request that side made
 * and the other has not answered: forwarded, and the id retired (an answer
 * that comes anyway is late, and dropped). Any other is dropped.
 */
static void cancelled(struct al_gate *g, struct al_jsonrpc_msg *m, bool from_client)
{
	struct pending *tab = from_client ? g->client_req : g->server_req;
	struct retired *ret = from_client ? &g->client_retired : &g->server_retired;
	json_t *rid = json_object_get(m->params, "requestId");
	if (!json_is_string(rid) && !json_is_integer(rid)) {
		report(g, AL_GATE_EV_DROPPED, AL_GATE_WHY_MALFORMED, from_client, m->method, NULL, NULL, NULL, 0);
		return;
	}
	char *key = id_key(rid);
	struct pending *p = NULL;
	for (size_t i = 0; key && !p && i < AL_GATE_MAX_INFLIGHT; i++)
		if (tab[i].id && !strcmp(tab[i].id, key))
			p = &tab[i];
	free(key);
	if (!p) {
		report(g, AL_GATE_EV_DROPPED, AL_GATE_WHY_UNKNOWN_ID, from_client, m->method, NULL, NULL, NULL, 0);
		return;
	}
	report(g, AL_GATE_EV_CANCELLED, AL_GATE_WHY_NONE, from_client, m->method, p->tool, NULL, NULL, 0);
	retire(ret, p);
	send_json(g, !from_client, json_incref(m->root));
}

void al_gate_from_client(struct al_gate *g, const char *line, size_t len)
{
	struct al_jsonrpc_limits lim = { .max_bytes = g->cfg.max_line, .max_depth = AL_JSONRPC_DEFAULT_MAX_DEPTH };
	struct al_jsonrpc_msg m;
	json_t *err = NULL;
	if (al_jsonrpc_parse(line, len, &lim, &m, &err) < 0) {
		send_json(g, true, err);
		report(g, AL_GATE_EV_REFUSED, len > g->cfg.max_line ? AL_GATE_WHY_OVERSIZED : AL_GATE_WHY_MALFORMED,
		       true, NULL, NULL, NULL, NULL, 0);
		return;
	}
	switch (m.kind) {
	case AL_JSONRPC_REQUEST:
		client_request(g, &m);
		break;
	case AL_JSONRPC_NOTIFICATION:
		if (!strcmp(m.method, "notifications/cancelled"))
			cancelled(g, &m, true);
		else if (listed(m.method, client_notifications, sizeof client_notifications / sizeof *client_notifications))
			send_json(g, false, json_incref(m.root));
		else
			report(g, AL_GATE_EV_DROPPED, AL_GATE_WHY_METHOD, true, m.method, NULL, NULL, NULL, 0);
		break;
	case AL_JSONRPC_RESPONSE: {
		struct pending p;
		json_t *id = json_object_get(m.root, "id");
		char *key = NULL;
		if (pending_take(g->server_req, id, &p))
			send_json(g, false, json_incref(m.root));
		else if (id && (key = id_key(id)) && retired_has(&g->server_retired, key))
			report(g, AL_GATE_EV_DROPPED, AL_GATE_WHY_LATE, true, NULL, NULL, NULL, NULL, 0);
		else
			report(g, AL_GATE_EV_DROPPED, AL_GATE_WHY_UNSOLICITED, true, NULL, NULL, NULL, NULL, 0);
		free(key);
		break;
	}
	}
	al_jsonrpc_msg_clear(&m);
}

/* ---- server to client ---- */

/* Pins the tools of one tools/list page (result), or quarantines. */
static bool server_tools_list(struct al_gate *g, json_t *result)
{
	json_t *tools = json_object_get(result, "tools");
	if (!json_is_array(tools))
		return false;
	char *canon = json_dumps(result, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	if (!canon)
		return false;
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, g->chain, sizeof g->chain);
	crypto_hash_sha256_update(&st, (const unsigned char *)canon, strlen(canon));
	crypto_hash_sha256_final(&st, g->chain);
	if (g->pages++ == 0)
		tools_clear(g);
	size_t i;
	json_t *t;
	json_array_foreach(tools, i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));
		if (!name || g->n_tools == AL_GATE_MAX_TOOLS || tool_find(g, name))
			continue;
		struct pinned_tool *p = &g->tools[g->n_tools];
		if (!(p->name = strdup(name)))
			continue;
		p->input = json_incref(json_object_get(t, "inputSchema"));
		p->output = json_incref(json_object_get(t, "outputSchema"));
		g->n_tools++;
	}
	bool last = !json_object_get(result, "nextCursor");
	if (last) {
		/* the text the hash covers, for the user to review (pretty, sorted) */
		char *pretty = json_dumps(result, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
		size_t plen = pretty ? strlen(pretty) : 0;
		if (!g->cfg.has_pin) {
			report(g, AL_GATE_EV_PIN_NEW, AL_GATE_WHY_NONE, false, "tools/list", NULL, g->chain, NULL, 0);
			memcpy(g->cfg.pin, g->chain, sizeof g->chain);
			g->cfg.has_pin = true;
		} else if (memcmp(g->cfg.pin, g->chain, sizeof g->chain) != 0) {
			g->quarantined = true;
			report(g, AL_GATE_EV_QUARANTINED, AL_GATE_WHY_QUARANTINE, false, "tools/list", NULL, g->chain,
			       NULL, 0);
		}
		if (pretty && plen <= AL_GATE_MAX_BLOB)
			report(g, AL_GATE_EV_TOOLS, AL_GATE_WHY_NONE, false, "tools/list", NULL, g->chain, pretty, plen);
		free(pretty);
		g->have_tools = !g->quarantined;
	}
	free(canon);
	return true;
}

/* Redacts every string in v (recursively); returns how many runs. */
static unsigned redact_json(json_t *v)
{
	unsigned n = 0;
	if (json_is_string(v)) {
		size_t len = json_string_length(v);
		char *s = malloc(len + 1);
		if (!s)
			return 0;
		memcpy(s, json_string_value(v), len + 1);
		if ((n = al_gate_redact(s, len)) > 0)
			json_string_setn(v, s, len);
		free(s);
	} else if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x)
			n += redact_json(x);
	} else if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
			n += redact_json(x);
	}
	return n;
}

static void server_response(struct al_gate *g, struct al_jsonrpc_msg *m, size_t len)
{
	json_t *id = json_object_get(m->root, "id");
	struct pending p;
	if (!pending_take(g->client_req, id, &p)) {
		char *key = id ? id_key(id) : NULL;
		const char *late = retired_has(&g->client_retired, key);
		report(g, AL_GATE_EV_DROPPED, late ? AL_GATE_WHY_LATE : AL_GATE_WHY_UNSOLICITED, false, NULL, late, NULL,
		       NULL, 0);
		free(key);
		return;
	}
	if (len > g->cfg.max_result) {
		answer_error(g, true, id, AL_JSONRPC_INTERNAL_ERROR, "the server's answer is over the gate's size limit");
		report(g, AL_GATE_EV_REFUSED, AL_GATE_WHY_OVERSIZED, false, NULL, p.tool, NULL, NULL, 0);
		return;
	}
	json_t *result = json_object_get(m->root, "result");
	if (result && p.kind == REQ_TOOLS_LIST) {
		if (!server_tools_list(g, result)) {
			answer_error(g, true, id, AL_JSONRPC_INTERNAL_ERROR, "the server's tools/list is malformed");
			report(g, AL_GATE_EV_REFUSED, AL_GATE_WHY_MALFORMED, false, "tools/list", NULL, NULL, NULL, 0);
			return;
		}
		if (g->quarantined) {
			answer_error(g, true, id, AL_JSONRPC_SERVER_ERROR,
				     "the server's tools changed since they were approved; it is quarantined until "
				     "`airlock gate approve` accepts the change");
			return;
		}
	}
	if (result && p.kind == REQ_TOOLS_CALL) {
		const struct pinned_tool *t = tool_find(g, p.tool);
		json_t *sc = json_object_get(result, "structuredContent");
		char detail[200] = "";
		if (t && t->output && sc && al_mcp_schema_check(t->output, sc, detail, sizeof detail) < 0) {
			char why[300];
			snprintf(why, sizeof why, "the tool's result does not match its outputSchema: %s", detail);
			answer_error(g, true, id, AL_JSONRPC_INTERNAL_ERROR, why);
			report(g, AL_GATE_EV_REFUSED, AL_GATE_WHY_OUTPUT, false, "tools/call", p.tool, NULL, NULL, 0);
			return;
		}
	}
	if (result && redact_json(result) > 0)
		report(g, AL_GATE_EV_REDACTED, AL_GATE_WHY_NONE, false, NULL, p.tool, NULL, NULL, 0);
	send_json(g, true, json_incref(m->root));
}

static bool notify_allowed(struct al_gate *g)
{
	uint64_t now = g->io.now_ms(g->io.ctx), cap = 4000ull * g->cfg.notify_rate;
	g->bucket += (now - g->bucket_ms) * g->cfg.notify_rate;
	g->bucket_ms = now;
	if (g->bucket > cap)
		g->bucket = cap;
	if (g->bucket < 1000) {
		if (!g->flood_reported)
			report(g, AL_GATE_EV_DROPPED, AL_GATE_WHY_FLOOD, false, NULL, NULL, NULL, NULL, 0);
		g->flood_reported = true;
		return false;
	}
	g->bucket -= 1000;
	g->flood_reported = false;
	return true;
}

static void server_request(struct al_gate *g, struct al_jsonrpc_msg *m)
{
	enum al_gate_server_req pol = AL_GATE_DENY;
	if (!strcmp(m->method, "ping"))
		pol = AL_GATE_PASS;
	else if (!strcmp(m->method, "sampling/createMessage"))
		pol = g->cfg.sampling;
	else if (!strcmp(m->method, "elicitation/create"))
		pol = g->cfg.elicitation;
	else if (!strcmp(m->method, "roots/list"))
		pol = g->cfg.roots;
	if (pol == AL_GATE_DENY) {
		answer_error(g, false, m->id, AL_JSONRPC_METHOD_NOT_FOUND, "denied by the gate's policy");
		report(g, AL_GATE_EV_REFUSED, AL_GATE_WHY_SERVER_REQUEST, false, m->method, NULL, NULL, NULL, 0);
		return;
	}
	if (!pending_add(g->server_req, &g->server_retired, m->id, REQ_OTHER, NULL)) {
		answer_error(g, false, m->id, AL_JSONRPC_INVALID_REQUEST, "too many requests in flight, or a reused id");
		report(g, AL_GATE_EV_REFUSED, AL_GATE_WHY_BUSY, false, m->method, NULL, NULL, NULL, 0);
		return;
	}
	send_json(g, true, json_incref(m->root));
}

void al_gate_from_server(struct al_gate *g, const char *line, size_t len)
{
	/* responses may be as large as the result cap; everything else the line cap */
	size_t cap = g->cfg.max_result > g->cfg.max_line ? g->cfg.max_result : g->cfg.max_line;
	struct al_jsonrpc_limits lim = { .max_bytes = cap, .max_depth = AL_JSONRPC_DEFAULT_MAX_DEPTH };
	struct al_jsonrpc_msg m;
	json_t *err = NULL;
	if (al_jsonrpc_parse(line, len, &lim, &m, &err) < 0) {
		json_decref(err); /* nothing is answered to a server's garbage */
		report(g, AL_GATE_EV_DROPPED, len > cap ? AL_GATE_WHY_OVERSIZED : AL_GATE_WHY_MALFORMED, false, NULL,
		       NULL, NULL, NULL, 0);
		return;
	}
	switch (m.kind) {
	case AL_JSONRPC_RESPONSE:
		server_response(g, &m, len);
		break;
	case AL_JSONRPC_REQUEST:
		server_request(g, &m);
		break;
	case AL_JSONRPC_NOTIFICATION:
		if (!listed(m.method, server_notifications, sizeof server_notifications / sizeof *server_notifications))
			report(g, AL_GATE_EV_DROPPED, AL_GATE_WHY_METHOD, false, m.method, NULL, NULL, NULL, 0);
		else if (!strcmp(m.method, "notifications/cancelled"))
			cancelled(g, &m, false);
		else if (len > g->cfg.max_line)
			report(g, AL_GATE_EV_DROPPED, AL_GATE_WHY_OVERSIZED, false, m.method, NULL, NULL, NULL, 0);
		else if (notify_allowed(g)) {
			if (!strcmp(m.method, "notifications/tools/list_changed"))
				g->have_tools = false; /* list again: the new list is checked against the pin */
			send_json(g, true, json_incref(m.root));
		}
		break;
	}
	al_jsonrpc_msg_clear(&m);
}

/* ---- timeouts ---- */

int al_gate_timeout(struct al_gate *g)
{
	uint64_t now = g->io.now_ms(g->io.ctx), next = UINT64_MAX;
	for (size_t i = 0; i < AL_GATE_MAX_INFLIGHT; i++)
		if (g->client_req[i].id && g->client_req[i].deadline && g->client_req[i].deadline < next)
			next = g->client_req[i].deadline;
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : next - now > INT32_MAX ? INT32_MAX : (int)(next - now);
}

/*
 * A tools/call past its deadline: the client is answered (-32001, the MCP
 * SDKs' request timeout), the server told to stop (notifications/cancelled),
 * and the id retired, so that the server's answer, when it comes, is late.
 */
void al_gate_tick(struct al_gate *g)
{
	uint64_t now = g->io.now_ms(g->io.ctx);
	for (size_t i = 0; i < AL_GATE_MAX_INFLIGHT; i++) {
		struct pending *p = &g->client_req[i];
		if (!p->id || !p->deadline || p->deadline > now)
			continue;
		json_t *id = json_loads(p->id, JSON_DECODE_ANY, NULL);
		char why[200], rec[48];
		snprintf(why, sizeof why, "tool '%.64s': no answer within %u ms (the gate's timeout for it); the request "
			 "was cancelled", p->tool, p->timeout_ms);
		answer_error(g, true, id, -32001, why);
		snprintf(rec, sizeof rec, "timeout %u ms", p->timeout_ms);
		snprintf(why, sizeof why, "the gate's timeout of %u ms for this tool", p->timeout_ms);
		if (id)
			send_json(g, false, json_pack("{s:s, s:s, s:{s:O, s:s}}", "jsonrpc", "2.0", "method",
						      "notifications/cancelled", "params", "requestId", id, "reason", why));
		report_rule(g, AL_GATE_EV_TIMEOUT, AL_GATE_WHY_TIMEOUT, false, "tools/call", p->tool, NULL, NULL, rec);
		json_decref(id);
		retire(&g->client_retired, p);
	}
}

/* ---- redaction ---- */

static bool is_key_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/*
 * Well-known token shapes: a prefix, then at least min characters of the
 * token alphabet. Private key blocks are cut from their BEGIN line to their
 * END line.
 */
unsigned al_gate_redact(char *s, size_t len)
{
	static const struct {
		const char *prefix;
		size_t min;
	} shapes[] = {
		{ "sk-", 20 }, { "ghp_", 30 }, { "gho_", 30 }, { "ghs_", 30 }, { "github_pat_", 30 },
		{ "xoxb-", 20 }, { "xoxp-", 20 }, { "AKIA", 16 }, { "AIza", 30 }, { "glpat-", 20 },
	};
	unsigned n = 0;
	for (size_t i = 0; i < len; i++) {
		if (i > 0 && is_key_char(s[i - 1]))
			continue; /* a token starts at a word boundary */
		if (!strncmp(s + i, "-----BEGIN ", 11) && len - i > 11) {
			const char *end = strstr(s + i, "-----END ");
			const char *stop = end ? strstr(end + 9, "-----") : NULL;
			if (stop && strstr(s + i, "PRIVATE KEY") && strstr(s + i, "PRIVATE KEY") < stop) {
				size_t j = (size_t)(stop + 5 - s);
				memset(s + i, '*', j - i);
				i = j;
				n++;
				continue;
			}
		}
		for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
			size_t pl = strlen(shapes[k].prefix);
			if (len - i < pl || strncmp(s + i, shapes[k].prefix, pl) != 0)
				continue;
			size_t j = i + pl;
			while (j < len && is_key_char(s[j]))
				j++;
			if (j - i - pl >= shapes[k].min) {
				memset(s + i, '*', j - i);
				i = j;
				n++;
				break;
			}
		}
	}
	return n;
}
