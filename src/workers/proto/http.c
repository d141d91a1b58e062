/*
 * Streamable HTTP on /mcp with libmicrohttpd, one thread per connection.
 *
 * Guards run on the first callback of a request, before its body is read,
 * in this order: method and path, Host, Origin, bearer token, Content-Type,
 * Accept, declared length, concurrency. The body is then collected up to the
 * limit and handed to the MCP layer. Replies go out as one JSON body, or as
 * an SSE stream when a call is still pending (progress, then the result).
 */
#include "workers/proto/proto.h"

#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>
#include <time.h>

#define MCP_PATH "/mcp"
#define KEEPALIVE_S 15

struct http_ctx {
	const struct al_proto_opts *o;
	struct al_mcp_server *srv;
	atomic_uint inflight;
	atomic_uint streams;
	atomic_bool stopping;
	pthread_mutex_t ev_lock;  /* sessions deleted / shutdown wake the GET streams */
	pthread_cond_t ev_cond;
	unsigned char token_hash[crypto_generichash_BYTES];
};

/* Messages of one POST waiting to be written; shared by the handler and the SSE reader. */
struct outq_item {
	char *data;
	size_t len;
	bool final;
	struct outq_item *next;
};

struct outq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_int refs;
	struct outq_item *head, *tail;
	size_t n;
	bool final_seen;
	struct al_mcp_call *call;
	struct http_ctx *hc;
	uint64_t deadline_ns;
	size_t pos;           /* bytes of head already written */
};

struct req {
	struct http_ctx *hc;
	bool counted;         /* holds an inflight slot */
	bool stream_slot;     /* holds a GET stream slot */
	bool rejected;
	bool too_large;
	char *body;
	size_t len, cap;
};

struct get_stream {
	struct http_ctx *hc;
	char session[AL_MCP_SESSION_ID_LEN + 1];
	uint64_t next_ping_ns;
	bool hello_sent;
};

void al_proto_opts_default(struct al_proto_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->body_limit = 1024 * 1024;
	o->max_inflight = 64;
	o->max_streams = 64;
	o->max_connections = 256;
	o->idle_timeout_s = 30;
	o->request_timeout_s = 120;
	o->seccomp = true;
}

/* ---- origin and host ---------------------------------------------------- */

/* true when s is "name" or "name:digits" for one of the loopback names. */
static bool loopback_authority(const char *s, size_t len)
{
	static const char *const names[] = { "localhost", "127.0.0.1", "[::1]" };
	for (size_t i = 0; i < AL_ARRAY_LEN(names); i++) {
		size_t n = strlen(names[i]);
		if (len < n || strncasecmp(s, names[i], n) != 0)
			continue;
		if (len == n)
			return true;
		if (s[n] != ':' || len == n + 1 || len > n + 6)
			continue;
		bool digits = true;
		for (size_t k = n + 1; k < len; k++)
			digits &= s[k] >= '0' && s[k] <= '9';
		if (digits)
			return true;
	}
	return false;
}

/* An origin as scheme://host[:port], the parts compared by al_proto_origin_allowed. */
struct origin {
	bool https;
	const char *host;
	size_t host_len;
	unsigned port; /* the scheme's default (80, 443) when none is written */
};

/*
 * Parses "http://host[:port]" or "https://host[:port]" (scheme in any case),
 * nothing before or after: no user, path, query or spaces. host is a name of
 * letters, digits, '-' and '.', or a bracketed IPv6 address. false otherwise.
 */
static bool origin_parse(const char *s, struct origin *o)
{
	if (!strncasecmp(s, "http://", 7)) {
		o->https = false;
		s += 7;
	} else if (!strncasecmp(s, "https://", 8)) {
		o->https = true;
		s += 8;
	} else {
		return false;
	}
	const char *h = s;
	if (*s == '[') {
		s++;
		while ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F') ||
		       *s == ':' || *s == '.')
			s++;
		if (*s++ != ']' || s - h < 4)
			return false;
	} else {
		while ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		       *s == '-' || *s == '.')
			s++;
		if (s == h)
			return false;
	}
	o->host = h;
	o->host_len = (size_t)(s - h);
	o->port = o->https ? 443 : 80;
	if (*s == ':') {
		s++;
		if (!*s)
			return false;
		unsigned long port = 0;
		for (; *s >= '0' && *s <= '9'; s++)
			if ((port = port * 10 + (unsigned long)(*s - '0')) > 65535)
				return false;
		o->port = (unsigned)port;
	}
	return *s == '\0';
}

/*
 * Only the listed origins: a browser page is let in only from an origin the
 * configuration names, so a page of any other site, or of another server on
 * this machine (loopback on another port), cannot drive the model. Compared as
 * origins: scheme and host without regard to case, the default port (80 for
 * http, 443 for https) the same written or not. The Origin header a browser
 * sends is already in that form (lower case, no default port); listed values
 * need not be. Anything that is not such an origin ("null", a path, a user)
 * matches nothing.
 */
bool al_proto_origin_allowed(const struct al_proto_opts *o, const char *origin)
{
	struct origin got;
	if (!origin_parse(origin, &got))
		return false;
	for (size_t i = 0; i < o->n_origins; i++) {
		struct origin want;
		if (origin_parse(o->origins[i], &want) && want.https == got.https && want.port == got.port &&
		    want.host_len == got.host_len && !strncasecmp(want.host, got.host, got.host_len))
			return true;
	}
	return false;
}

bool al_proto_host_allowed(const struct al_proto_opts *o, const char *host)
{
	size_t hl = strlen(host);
	for (size_t i = 0; i < o->n_hosts; i++) {
		size_t n = strlen(o->hosts[i]);
		if (hl >= n && !strncasecmp(host, o->hosts[i], n) && (hl == n || host[n] == ':'))
			return true;
	}
	return loopback_authority(host, hl);
}

/* ---- responses ---------------------------------------------------------- */

static enum MHD_Result send_buf(struct MHD_Connection *conn, unsigned status, const char *ctype,
				const char *buf, size_t len, const char *session)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)buf,
								 MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	if (ctype)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (session)
		MHD_add_response_header(r, "Mcp-Session-Id", session);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, POST, DELETE");
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Transport-level refusals still carry a JSON-RPC error body, so any client can read them. */
static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, int code,
				  const char *message)
{
	json_t *e = al_jsonrpc_error(NULL, code, message, NULL);
	char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
	json_decref(e);
	enum MHD_Result ret = send_buf(conn, status, "application/json", s ? s : "", s ? strlen(s) : 0,
				       NULL);
	free(s);
	return ret;
}

/* ---- output queue -------------------------------------------------------- */

static struct outq *outq_new(struct http_ctx *hc)
{
	struct outq *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&q->refs, 1);
	q->hc = hc;
	return q;
}

static void outq_put(struct outq *q)
{
	if (atomic_fetch_sub(&q->refs, 1) != 1)
		return;
	for (struct outq_item *it = q->head, *nx; it; it = nx) {
		nx = it->next;
		free(it->data);
		free(it);
	}
	if (q->call)
		al_mcp_call_put(q->call);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

static void outq_emit(void *ud, json_t *msg, bool final)
{
	struct outq *q = ud;
	struct outq_item *it = calloc(1, sizeof(*it));
	if (it && msg) {
		it->data = json_dumps(msg, JSON_COMPACT);
		it->len = it->data ? strlen(it->data) : 0;
	}
	pthread_mutex_lock(&q->lock);
	if (final)
		q->final_seen = true;
	if (it && it->data) {
		it->final = final;
		if (q->tail)
			q->tail->next = it;
		else
			q->head = it;
		q->tail = it;
		q->n++;
		it = NULL;
	}
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if (it) {
		free(it->data);
		free(it);
	}
}

/* SSE reader: blocks (its own connection thread) until a message, the end, or the deadline. */
static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct outq *q = cls;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		if (q->head) {
			struct outq_item *it = q->head;
			/* Frame: "event: message\ndata: <json>\n\n" written in pieces as room allows. */
			static const char pre[] = "event: message\ndata: ";
			size_t total = sizeof(pre) - 1 + it->len + 2;
			size_t n = 0;
			while (n < max && q->pos < total) {
				size_t p = q->pos;
				char c;
				if (p < sizeof(pre) - 1)
					c = pre[p];
				else if (p < sizeof(pre) - 1 + it->len)
					c = it->data[p - (sizeof(pre) - 1)];
				else
					c = '\n';
				buf[n++] = c;
				q->pos++;
			}
			if (q->pos == total) {
				q->head = it->next;
				if (!q->head)
					q->tail = NULL;
				q->pos = 0;
				free(it->data);
				free(it);
			}
			pthread_mutex_unlock(&q->lock);
			return (ssize_t)n;
		}
		if (q->final_seen || atomic_load(&q->hc->stopping)) {
			pthread_mutex_unlock(&q->lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		uint64_t now = al_now_ns();
		if (now >= q->deadline_ns) {
			pthread_mutex_unlock(&q->lock);
			al_mcp_call_expire(q->call); /* emits the timeout result into this queue */
			pthread_mutex_lock(&q->lock);
			continue;
		}
		/* Wake at least every second to notice shutdown. */
		uint64_t wait = q->deadline_ns - now;
		if (wait > 1000000000ull)
			wait = 1000000000ull;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(wait / 1000000000ull);
		ts.tv_nsec += (long)(wait % 1000000000ull);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&q->cond, &q->lock, &ts);
	}
}

static void sse_free(void *cls)
{
	struct outq *q = cls;
	/* Client gone or stream complete: the call must never write here again. */
	if (q->call)
		al_mcp_call_detach(q->call);
	outq_put(q);
}

/* ---- GET stream ----------------------------------------------------------- */

static ssize_t get_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct get_stream *g = cls;
	struct http_ctx *hc = g->hc;
	if (!g->hello_sent) {
		/* An SSE comment first, so the client sees the stream open. */
		static const char hello[] = ": stream open\n\n";
		if (max < sizeof(hello) - 1)
			return 0;
		memcpy(buf, hello, sizeof(hello) - 1);
		g->hello_sent = true;
		g->next_ping_ns = al_now_ns() + KEEPALIVE_S * 1000000000ull;
		return (ssize_t)(sizeof(hello) - 1);
	}
	pthread_mutex_lock(&hc->ev_lock);
	for (;;) {
		if (atomic_load(&hc->stopping) || al_mcp_session_check(hc->srv, g->session) < 0) {
			pthread_mutex_unlock(&hc->ev_lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (al_now_ns() >= g->next_ping_ns)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&hc->ev_cond, &hc->ev_lock, &ts);
	}
	pthread_mutex_unlock(&hc->ev_lock);
	/* The server sends nothing unprompted; the keepalive finds dead peers. */
	static const char ping[] = ": keepalive\n\n";
	if (max < sizeof(ping) - 1)
		return 0;
	memcpy(buf, ping, sizeof(ping) - 1);
	g->next_ping_ns = al_now_ns() + KEEPALIVE_S * 1000000000ull;
	return (ssize_t)(sizeof(ping) - 1);
}

static void get_free(void *cls)
{
	struct get_stream *g = cls;
	atomic_fetch_sub(&g->hc->streams, 1);
	free(g);
}

static void wake_streams(struct http_ctx *hc)
{
	pthread_mutex_lock(&hc->ev_lock);
	pthread_cond_broadcast(&hc->ev_cond);
	pthread_mutex_unlock(&hc->ev_lock);
}

/* ---- header checks --------------------------------------------------------- */

/* Does an Accept value allow type ("application/json")? Wildcards count. */
static bool accepts(const char *accept, const char *type)
{
	if (!accept)
		return false;
	size_t tl = strlen(type);
	const char *slash = strchr(type, '/');
	size_t major = slash ? (size_t)(slash - type) : tl;
	const char *p = accept;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *e = p;
		while (*e && *e != ',' && *e != ';')
			e++;
		size_t n = (size_t)(e - p);
		while (n && p[n - 1] == ' ')
			n--;
		if ((n == tl && !strncasecmp(p, type, tl)) || (n == 3 && !strncmp(p, "*/*", 3)) ||
		    (n == major + 2 && !strncasecmp(p, type, major) && !strncmp(p + major, "/*", 2)))
			return true;
		while (*e && *e != ',')
			e++;
		p = e;
	}
	return false;
}

static bool content_type_json(const char *ct)
{
	if (!ct)
		return false;
	static const char j[] = "application/json";
	if (strncasecmp(ct, j, sizeof(j) - 1) != 0)
		return false;
	char c = ct[sizeof(j) - 1];
	return c == '\0' || c == ';' || c == ' ';
}

static bool token_ok(struct http_ctx *hc, const char *auth)
{
	if (!hc->o->token)
		return true;
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	const char *t = auth + 7;
	/* Compare digests in constant time: neither the length nor a prefix leaks. */
	unsigned char h[crypto_generichash_BYTES];
	crypto_generichash(h, sizeof(h), (const unsigned char *)t, strlen(t), NULL, 0);
	return sodium_memcmp(h, hc->token_hash, sizeof(h)) == 0;
}

static const char *hdr(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* First look at a request: 0 to go on, else the guard already queued a refusal. */
static int guard(struct http_ctx *hc, struct MHD_Connection *c, const char *url, const char *method,
		 enum MHD_Result *ret)
{
	const struct al_proto_opts *o = hc->o;
	bool post = !strcmp(method, "POST"), get = !strcmp(method, "GET"),
	     del = !strcmp(method, "DELETE");
	if (strcmp(url, MCP_PATH) != 0) {
		*ret = send_error(c, MHD_HTTP_NOT_FOUND, AL_JSONRPC_SERVER_ERROR, "not found");
		return -1;
	}
	if (!post && !get && !del) {
		*ret = send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, AL_JSONRPC_SERVER_ERROR,
				  "method not allowed");
		return -1;
	}
	const char *host = hdr(c, MHD_HTTP_HEADER_HOST);
	if (!host || !al_proto_host_allowed(o, host)) {
		*ret = send_error(c, MHD_HTTP_FORBIDDEN, AL_JSONRPC_SERVER_ERROR, "host not allowed");
		return -1;
	}
	const char *origin = hdr(c, MHD_HTTP_HEADER_ORIGIN);
	if (origin && !al_proto_origin_allowed(o, origin)) {
		*ret = send_error(c, MHD_HTTP_FORBIDDEN, AL_JSONRPC_SERVER_ERROR, "origin not allowed");
		return -1;
	}
	if (!token_ok(hc, hdr(c, MHD_HTTP_HEADER_AUTHORIZATION))) {
		*ret = send_error(c, MHD_HTTP_UNAUTHORIZED, AL_JSONRPC_SERVER_ERROR, "unauthorized");
		return -1;
	}
	if (post) {
		if (!content_type_json(hdr(c, MHD_HTTP_HEADER_CONTENT_TYPE))) {
			*ret = send_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, AL_JSONRPC_SERVER_ERROR,
					  "Content-Type must be application/json");
			return -1;
		}
		const char *acc = hdr(c, MHD_HTTP_HEADER_ACCEPT);
		if (!accepts(acc, "application/json") || !accepts(acc, "text/event-stream")) {
			*ret = send_error(c, MHD_HTTP_NOT_ACCEPTABLE, AL_JSONRPC_SERVER_ERROR,
					  "Accept must list application/json and text/event-stream");
			return -1;
		}
		const char *cl = hdr(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
		uint64_t n;
		if (cl && al_parse_u64(cl, &n) == 0 && n > o->body_limit) {
			*ret = send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, AL_JSONRPC_SERVER_ERROR,
					  "body too large");
			return -1;
		}
	}
	if (get && !accepts(hdr(c, MHD_HTTP_HEADER_ACCEPT), "text/event-stream")) {
		*ret = send_error(c, MHD_HTTP_NOT_ACCEPTABLE, AL_JSONRPC_SERVER_ERROR,
				  "Accept must list text/event-stream");
		return -1;
	}
	return 0;
}

/* ---- methods ------------------------------------------------------------- */

static enum MHD_Result do_post(struct http_ctx *hc, struct MHD_Connection *c, struct req *r)
{
	struct outq *q = outq_new(hc);
	if (!q)
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, AL_JSONRPC_INTERNAL_ERROR,
				  "out of memory");
	struct al_mcp_input in = {
		.body = r->body ? r->body : "",
		.len = r->len,
		.transport = AL_MCP_HTTP,
		.hdr_session_id = hdr(c, "Mcp-Session-Id"),
		.hdr_protocol_version = hdr(c, "MCP-Protocol-Version"),
		.hdr_method = hdr(c, "Mcp-Method"),
		.hdr_name = hdr(c, "Mcp-Name"),
	};
	struct al_mcp_output out = { .emit = outq_emit, .ud = q };
	struct al_mcp_result res;
	atomic_fetch_add(&q->refs, 1); /* the emitter's reference lives as long as the call */
	if (al_mcp_handle(hc->srv, &in, &out, &res) < 0) {
		outq_put(q);
		outq_put(q);
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, AL_JSONRPC_INTERNAL_ERROR,
				  "out of memory");
	}
	q->call = res.call;
	q->deadline_ns = al_now_ns() + (uint64_t)hc->o->request_timeout_s * 1000000000ull;
	const char *sid = res.session_id[0] ? res.session_id : NULL;

	pthread_mutex_lock(&q->lock);
	bool one_final = q->final_seen && q->n == 1 && q->head && q->head->final;
	bool nothing = q->final_seen && q->n == 0;
	pthread_mutex_unlock(&q->lock);

	enum MHD_Result ret;
	bool streaming = false;
	if (!res.has_response || (nothing && !res.stream)) {
		ret = send_buf(c, res.http_status == 200 ? MHD_HTTP_ACCEPTED : (unsigned)res.http_status,
			       NULL, "", 0, sid);
	} else if (!res.stream && !q->final_seen) {
		/* A response was due now and none was produced (it could not be
		 * encoded): answer an error rather than stream with no call behind it. */
		ret = send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, AL_JSONRPC_INTERNAL_ERROR,
				 "the response could not be produced");
	} else if (one_final) {
		/* Answered already: a plain JSON body is the cheapest reply. */
		ret = send_buf(c, (unsigned)res.http_status, "application/json", q->head->data,
			       q->head->len, sid);
	} else {
		struct MHD_Response *resp =
			MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, q, sse_free);
		if (!resp) {
			ret = MHD_NO;
		} else {
			streaming = true;
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
			if (sid)
				MHD_add_response_header(resp, "Mcp-Session-Id", sid);
			ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
			MHD_destroy_response(resp);
		}
	}
	/*
	 * References to q: the handler's (dropped here) and the emitter's, which the
	 * SSE response inherits (sse_free detaches the call, then drops it); without
	 * a stream no emit can follow, so it is dropped here too.
	 */
	if (!streaming) {
		if (q->call)
			al_mcp_call_detach(q->call);
		outq_put(q);
	}
	outq_put(q);
	return ret;
}

static enum MHD_Result do_get(struct http_ctx *hc, struct MHD_Connection *c, struct req *r)
{
	const char *sid = hdr(c, "Mcp-Session-Id");
	if (!sid)
		/* The stateless revision has no GET stream. */
		return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, AL_JSONRPC_SERVER_ERROR,
				  "GET needs an Mcp-Session-Id");
	if (al_mcp_session_check(hc->srv, sid) < 0)
		return send_error(c, MHD_HTTP_NOT_FOUND, -32001, "session not found");
	if (atomic_fetch_add(&hc->streams, 1) >= hc->o->max_streams) {
		atomic_fetch_sub(&hc->streams, 1);
		return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, AL_JSONRPC_SERVER_ERROR,
				  "too many streams");
	}
	struct get_stream *g = calloc(1, sizeof(*g));
	if (!g) {
		atomic_fetch_sub(&hc->streams, 1);
		return MHD_NO;
	}
	g->hc = hc;
	al_strlcpy(g->session, sid, sizeof(g->session));
	struct MHD_Response *resp =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256, get_read, g, get_free);
	if (!resp) {
		get_free(g);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result do_delete(struct http_ctx *hc, struct MHD_Connection *c)
{
	const char *sid = hdr(c, "Mcp-Session-Id");
	if (!sid)
		return send_error(c, MHD_HTTP_BAD_REQUEST, AL_JSONRPC_SERVER_ERROR,
				  "Mcp-Session-Id header required");
	if (al_mcp_session_delete(hc->srv, sid) < 0)
		return send_error(c, MHD_HTTP_NOT_FOUND, -32001, "session not found");
	wake_streams(hc);
	return send_buf(c, MHD_HTTP_OK, NULL, "", 0, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct http_ctx *hc = cls;
	struct req *r = *con_cls;
	enum MHD_Result ret;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->hc = hc;
		*con_cls = r;
		if (guard(hc, c, url, method, &ret) < 0) {
			r->rejected = true;
			return ret;
		}
		if (!strcmp(method, "POST")) {
			/* Counted from the headers on: a client trickling its body holds a slot. */
			r->counted = true;
			if (atomic_fetch_add(&hc->inflight, 1) >= hc->o->max_inflight) {
				r->rejected = true;
				return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, AL_JSONRPC_SERVER_ERROR,
						  "server busy");
			}
		}
		return MHD_YES;
	}
	if (r->rejected) {
		*upload_size = 0; /* discard the rest of a refused body */
		return MHD_YES;
	}
	if (*upload_size) {
		size_t need;
		if (!r->too_large && al_add_size(r->len, *upload_size, &need) &&
		    need <= hc->o->body_limit) {
			if (need > r->cap) {
				size_t cap = r->cap ? r->cap : 4096;
				while (cap < need)
					cap *= 2;
				char *nb = realloc(r->body, cap);
				if (!nb)
					return MHD_NO;
				r->body = nb;
				r->cap = cap;
			}
			memcpy(r->body + r->len, upload, *upload_size);
			r->len = need;
		} else {
			r->too_large = true; /* chunked bodies have no length to check up front */
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_large)
		return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, AL_JSONRPC_SERVER_ERROR,
				  "body too large");
	if (!strcmp(method, "POST"))
		return do_post(hc, c, r);
	if (!strcmp(method, "GET"))
		return do_get(hc, c, r);
	return do_delete(hc, c);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_ctx *hc = cls;
	struct req *r = *con_cls;
	if (!r)
		return;
	if (r->counted)
		atomic_fetch_sub(&hc->inflight, 1);
	free(r->body);
	free(r);
	*con_cls = NULL;
}

__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	al_log_debug("proto: http: %s", buf);
}

int al_proto_http_run(int listen_fd, const struct al_proto_opts *o, struct al_mcp_server *srv)
{
	static struct http_ctx hc; /* lives until the daemon's threads are gone */
	memset(&hc, 0, sizeof(hc));
	hc.o = o;
	hc.srv = srv;
	pthread_mutex_init(&hc.ev_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&hc.ev_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (o->token)
		crypto_generichash(hc.token_hash, sizeof(hc.token_hash), (const unsigned char *)o->token,
				   strlen(o->token), NULL, 0);

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGPIPE);
	/* Blocked before MHD starts its threads, so they inherit the mask; we sigwait below. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, &hc,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)o->idle_timeout_s,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)o->max_connections,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, &hc,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_END);
	if (!d) {
		al_log_warnx("proto: http: could not start the server");
		return -EIO;
	}
	int sig = 0;
	while (sig != SIGINT && sig != SIGTERM) {
		int e = sigwait(&set, &sig);
		if (e != 0 && e != EINTR) {
			al_log_warnx("proto: http: sigwait: %s", strerror(e));
			break;
		}
	}
	al_log_info("proto: http: signal %d, stopping", sig);
	atomic_store(&hc.stopping, true);
	wake_streams(&hc);
	MHD_stop_daemon(d);
	return 0;
}
