/*
 * Streamable HTTP on /mcp with libmicrohttpd's own event loop: a small fixed
 * pool of epoll threads serves every connection, so an open connection costs
 * memory, not a thread, and the connection count is independent of the
 * domain's pids limit.
 *
 * Guards run on the first callback of a request, before its body is read,
 * in this order: connection limits (server and client), method and path,
 * Host, Origin, bearer token, Content-Type, Accept, declared length. The
 * body is then collected up to the limit within a deadline; only a complete
 * body takes a request slot (server and client). Replies go out as one JSON
 * body, or as an SSE stream when a call is still pending (progress, then the
 * result). A stream with nothing to send is suspended (out of the event loop)
 * and resumed by whoever produces its next message: the channel's receiver
 * thread for a generation, the ticker thread for keepalives, deadlines and
 * ended sessions. Overload is always answered: 503, Retry-After and a
 * JSON-RPC error body, never a silent close.
 */
#include "workers/proto/proto.h"

#include "common/log.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
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
#define RETRY_AFTER_S "1"
/* Connections MHD itself admits beyond max_connections, to answer them 503. */
#define CONN_SLACK(max) ((max) / 16 + 16)
#define POOL_THREADS 2
/*
 * Each connection's memory pool in libmicrohttpd: request line and headers,
 * the response's headers, the read buffer. It is the largest cost of an open
 * connection, and all of it is resident once the connection has served a
 * request (MHD zeroes the whole pool between requests): 16 KiB leaves room for
 * about 14 KB of request headers (more is answered 431) at half the memory of
 * 32 KiB (bench/serve: the protocol domain's RSS at 1,000 clients).
 */
#define CONN_POOL_BYTES (16 * 1024)
/* Stopping: how long a pending call has to get its answer (the supervisor
 * shuts the channel first, so the backend fails every call at once) before
 * it is answered with a timeout; a stream never ends without its answer. */
#define STOP_ANSWER_MS 1000
#define PEER_BUCKETS 1024

/* One client address: what it holds now. */
struct peer {
	unsigned char addr[16];
	unsigned conns, inflight;
	struct peer *next;
};

/* Per connection (MHD's socket context), from accept to close. */
struct conn_ctx {
	struct peer *peer;
	char peer_str[AL_MCP_PEER_LEN];
	bool over;            /* beyond max_connections (server or client): answered 503 */
	struct al_follow follow; /* where its client's requests arrive (--follow-client) */
};

/* A suspended-capable stream: linked in the ticker's list while its response lives. */
struct waiter {
	struct waiter *prev, *next;
	bool is_get;
};

struct http_ctx {
	const struct al_proto_opts *o;
	struct al_mcp_server *srv;
	atomic_uint inflight;
	atomic_uint streams;
	atomic_uint conns;
	atomic_bool stopping;
	uint64_t stop_answer_ns;  /* stopping: pending calls still unanswered then are expired */
	pthread_mutex_t ev_lock;  /* guards the waiter list; ev_cond wakes the ticker */
	pthread_cond_t ev_cond;
	struct waiter waiters;    /* list head */
	pthread_mutex_t peer_lock;
	struct peer *peers[PEER_BUCKETS];
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
	struct waiter w;      /* first: the ticker's list links outq and get_stream alike */
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
	struct MHD_Connection *conn; /* NULL once the response is gone */
	bool suspended;
	bool linked;
};

struct req {
	struct http_ctx *hc;
	struct conn_ctx *cc;
	uint64_t body_deadline_ns;
	bool counted;         /* holds an inflight slot */
	bool stream_slot;     /* holds a GET stream slot */
	bool rejected;
	bool too_large;
	bool direct;          /* answered within the handler (no wait for the AI domain) */
	char *body;
	size_t len, cap;
};

struct get_stream {
	struct waiter w;
	pthread_mutex_t lock;
	struct http_ctx *hc;
	char session[AL_MCP_SESSION_ID_LEN + 1];
	uint64_t next_ping_ns;
	uint64_t epoch;       /* session epoch when the session was last seen alive */
	bool hello_sent;
	bool ended;           /* the session is gone or the server stops */
	struct MHD_Connection *conn;
	bool suspended;
};

void al_proto_opts_default(struct al_proto_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->body_limit = 1024 * 1024;
	o->max_inflight = 64;
	o->max_streams = 4096;
	o->max_connections = 4096;
	o->idle_timeout_s = 30;
	o->body_timeout_s = 10;
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
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_S);
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

/* ---- the ticker's list ----------------------------------------------------- */

static void waiter_link(struct http_ctx *hc, struct waiter *w)
{
	pthread_mutex_lock(&hc->ev_lock);
	w->next = hc->waiters.next;
	w->prev = &hc->waiters;
	hc->waiters.next->prev = w;
	hc->waiters.next = w;
	pthread_mutex_unlock(&hc->ev_lock);
}

static void waiter_unlink(struct http_ctx *hc, struct waiter *w)
{
	pthread_mutex_lock(&hc->ev_lock);
	w->prev->next = w->next;
	w->next->prev = w->prev;
	w->prev = w->next = w;
	pthread_mutex_unlock(&hc->ev_lock);
}

static void wake_ticker(struct http_ctx *hc)
{
	pthread_mutex_lock(&hc->ev_lock);
	pthread_cond_broadcast(&hc->ev_cond);
	pthread_mutex_unlock(&hc->ev_lock);
}

/* Beyond the connection limits: 503 and the connection closed after it. */
static enum MHD_Result send_overload(struct MHD_Connection *conn)
{
	json_t *e = al_jsonrpc_error(NULL, AL_JSONRPC_SERVER_ERROR, "too many connections", NULL);
	char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
	json_decref(e);
	struct MHD_Response *r = MHD_create_response_from_buffer(s ? strlen(s) : 0, s ? s : (char *)"",
								 MHD_RESPMEM_MUST_COPY);
	free(s);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_S);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- the ticker's list -------------------------------------------------------- */

static struct outq *outq_new(struct http_ctx *hc, struct MHD_Connection *conn)
{
	struct outq *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	atomic_init(&q->refs, 1);
	q->hc = hc;
	q->conn = conn;
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
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* A suspended stream goes back into the event loop; called with its lock held. */
static void resume_locked(struct MHD_Connection *conn, bool *suspended)
{
	if (*suspended && conn) {
		*suspended = false;
		MHD_resume_connection(conn);
	}
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
	resume_locked(q->conn, &q->suspended);
	pthread_mutex_unlock(&q->lock);
	if (it) {
		free(it->data);
		free(it);
	}
}

/*
 * SSE reader of a pending call: the next message, the end, or (nothing yet)
 * the connection is suspended until outq_emit resumes it. Never blocks: it
 * runs on one of the event loop's few threads.
 */
static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct outq *q = cls;
	pthread_mutex_lock(&q->lock);
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
	/* Stopping or not, the stream ends only after its answer: a stream ended
	 * without one leaves the client waiting for it until its own timeout. */
	if (q->final_seen || (!q->call && atomic_load(&q->hc->stopping))) {
		pthread_mutex_unlock(&q->lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	q->suspended = true;
	MHD_suspend_connection(q->conn);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

static void sse_free(void *cls)
{
	struct outq *q = cls;
	if (q->linked)
		waiter_unlink(q->hc, &q->w);
	pthread_mutex_lock(&q->lock);
	q->conn = NULL; /* the connection is going: nobody resumes it again */
	pthread_mutex_unlock(&q->lock);
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
	static const char hello[] = ": stream open\n\n";
	/* The server sends nothing unprompted; the keepalive finds dead peers. */
	static const char ping[] = ": keepalive\n\n";
	const char *out = NULL;
	size_t len = 0;
	ssize_t ret;
	pthread_mutex_lock(&g->lock);
	if (!g->hello_sent) {
		/* An SSE comment first, so the client sees the stream open. */
		out = hello;
		len = sizeof(hello) - 1;
		g->hello_sent = true;
	} else if (g->ended || atomic_load(&hc->stopping)) {
		pthread_mutex_unlock(&g->lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	} else if (al_now_ns() >= g->next_ping_ns) {
		out = ping;
		len = sizeof(ping) - 1;
	}
	if (out) {
		if (max < len) {
			ret = 0;
		} else {
			memcpy(buf, out, len);
			ret = (ssize_t)len;
			g->next_ping_ns = al_now_ns() + KEEPALIVE_S * 1000000000ull;
		}
	} else {
		/* Idle: out of the event loop until the ticker has something. */
		g->suspended = true;
		MHD_suspend_connection(g->conn);
		ret = 0;
	}
	pthread_mutex_unlock(&g->lock);
	return ret;
}

static void get_free(void *cls)
{
	struct get_stream *g = cls;
	waiter_unlink(g->hc, &g->w);
	pthread_mutex_lock(&g->lock);
	g->conn = NULL;
	pthread_mutex_unlock(&g->lock);
	(void)al_mcp_session_stream(g->hc->srv, g->session, false);
	atomic_fetch_sub(&g->hc->streams, 1);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/*
 * A suspended connection is out of the event loop, so its client going away
 * is not seen there: true when the peer has closed (end of file on a peek).
 */
static bool peer_gone(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD) : NULL;
	if (!ci)
		return false;
	char b;
	ssize_t n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/*
 * Once a second, or when woken: keepalives due, sessions gone, deadlines
 * passed, shutdown. Resumes the streams concerned; their readers do the rest.
 * Runs with ev_lock held (the list cannot change under it).
 */
static void tick_locked(struct http_ctx *hc, uint64_t *epoch_seen)
{
	uint64_t now = al_now_ns();
	bool stopping = atomic_load(&hc->stopping);
	uint64_t epoch = al_mcp_session_epoch(hc->srv);
	bool recheck = epoch != *epoch_seen;
	*epoch_seen = epoch;
	for (struct waiter *w = hc->waiters.next; w != &hc->waiters; w = w->next) {
		if (w->is_get) {
			struct get_stream *g = (struct get_stream *)w;
			pthread_mutex_lock(&g->lock);
			if (recheck && !g->ended && al_mcp_session_check(hc->srv, g->session) < 0)
				g->ended = true;
			if (g->suspended && !g->ended && peer_gone(g->conn))
				g->ended = true;
			if (stopping || g->ended || now >= g->next_ping_ns)
				resume_locked(g->conn, &g->suspended);
			pthread_mutex_unlock(&g->lock);
		} else {
			struct outq *q = (struct outq *)w;
			pthread_mutex_lock(&q->lock);
			bool expire = !q->final_seen && (now >= q->deadline_ns || (stopping && now >= hc->stop_answer_ns));
			bool gone = q->suspended && peer_gone(q->conn);
			if (stopping)
				resume_locked(q->conn, &q->suspended);
			pthread_mutex_unlock(&q->lock);
			if (expire && q->call)
				al_mcp_call_expire(q->call); /* emits the timeout result: resumes */
			else if (gone && q->call)
				al_mcp_call_expire(q->call); /* the write that follows fails: closed */
		}
	}
}

struct ticker {
	struct http_ctx *hc;
	pthread_t th;
	atomic_bool quit;
};

static void *ticker_main(void *arg)
{
	struct ticker *t = arg;
	struct http_ctx *hc = t->hc;
	uint64_t epoch = al_mcp_session_epoch(hc->srv);
	pthread_mutex_lock(&hc->ev_lock);
	while (!atomic_load(&t->quit)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&hc->ev_cond, &hc->ev_lock, &ts);
		tick_locked(hc, &epoch);
	}
	pthread_mutex_unlock(&hc->ev_lock);
	return NULL;
}

/* ---- clients ---------------------------------------------------------------- */

static void addr_key(const struct sockaddr *sa, unsigned char key[16], char *str, size_t strl)
{
	memset(key, 0, 16);
	snprintf(str, strl, "?");
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
		inet_ntop(AF_INET, &in->sin_addr, str, (socklen_t)strl);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		memcpy(key, &in6->sin6_addr, 16);
		inet_ntop(AF_INET6, &in6->sin6_addr, str, (socklen_t)strl);
	}
}

/* The client's entry, created when absent; peer_lock held. NULL when out of memory. */
static struct peer *peer_get_locked(struct http_ctx *hc, const unsigned char key[16])
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	struct peer **pp = &hc->peers[h % PEER_BUCKETS];
	for (struct peer *p = *pp; p; p = p->next)
		if (!memcmp(p->addr, key, 16))
			return p;
	struct peer *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	memcpy(p->addr, key, 16);
	p->next = *pp;
	*pp = p;
	return p;
}

/* Drops the entry of a client that holds nothing any more; peer_lock held. */
static void peer_release_locked(struct http_ctx *hc, struct peer *p)
{
	if (p->conns || p->inflight)
		return;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < 16; i++)
		h = (h ^ p->addr[i]) * 16777619u;
	for (struct peer **pp = &hc->peers[h % PEER_BUCKETS]; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			free(p);
			return;
		}
}

static unsigned client_conn_limit(const struct al_proto_opts *o)
{
	return o->max_client_connections ? o->max_client_connections : o->max_connections;
}

static unsigned client_inflight_limit(const struct al_proto_opts *o)
{
	return o->max_client_inflight ? o->max_client_inflight : o->max_inflight;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http_ctx *hc = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		unsigned n = atomic_fetch_add(&hc->conns, 1) + 1;
		struct conn_ctx *cc = calloc(1, sizeof(*cc));
		*socket_context = cc;
		if (!cc)
			return;
		al_follow_init(&cc->follow);
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		unsigned char key[16];
		addr_key(ci ? ci->client_addr : NULL, key, cc->peer_str, sizeof(cc->peer_str));
		pthread_mutex_lock(&hc->peer_lock);
		cc->peer = peer_get_locked(hc, key);
		if (cc->peer)
			cc->peer->conns++;
		/* Over a limit: still accepted, so the client gets an answer (503), not a reset. */
		cc->over = n > hc->o->max_connections ||
			   (cc->peer && cc->peer->conns > client_conn_limit(hc->o));
		pthread_mutex_unlock(&hc->peer_lock);
	} else {
		struct conn_ctx *cc = *socket_context;
		atomic_fetch_sub(&hc->conns, 1);
		if (!cc)
			return;
		if (cc->peer) {
			pthread_mutex_lock(&hc->peer_lock);
			cc->peer->conns--;
			peer_release_locked(hc, cc->peer);
			pthread_mutex_unlock(&hc->peer_lock);
		}
		free(cc);
		*socket_context = NULL;
	}
}

/* A request slot, server-wide and for the client: true when taken. */
static bool inflight_take(struct http_ctx *hc, struct conn_ctx *cc)
{
	if (atomic_fetch_add(&hc->inflight, 1) >= hc->o->max_inflight) {
		atomic_fetch_sub(&hc->inflight, 1);
		return false;
	}
	if (cc && cc->peer) {
		pthread_mutex_lock(&hc->peer_lock);
		bool ok = cc->peer->inflight < client_inflight_limit(hc->o);
		if (ok)
			cc->peer->inflight++;
		pthread_mutex_unlock(&hc->peer_lock);
		if (!ok) {
			atomic_fetch_sub(&hc->inflight, 1);
			return false;
		}
	}
	return true;
}

static void inflight_release(struct http_ctx *hc, struct conn_ctx *cc)
{
	atomic_fetch_sub(&hc->inflight, 1);
	if (cc && cc->peer) {
		pthread_mutex_lock(&hc->peer_lock);
		cc->peer->inflight--;
		pthread_mutex_unlock(&hc->peer_lock);
	}
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

/*
 * A load balancer's health check (no Host, origin or token check: it says
 * nothing but the state). 200 {"status":"serving"} while every request can be
 * served; 503 naming the state while the instance should get no traffic:
 * "lockdown" (the supervisor stopped the AI domain after an integrity
 * incident: generation fails until `airlock unlock`) or "ai-unavailable"
 * (the AI domain is restarting, or none is connected). No answer at all
 * while the protocol domain itself restarts.
 */
static enum MHD_Result send_health(struct http_ctx *hc, struct MHD_Connection *c)
{
	const struct al_mcp_backend *be = hc->o->backend;
	const char *state = "serving", *detail = NULL;
	unsigned status = MHD_HTTP_OK;
	struct al_mcp_model_info mi;
	if (hc->o->locked) {
		state = "lockdown";
		detail = "integrity lockdown: the AI domain is stopped until `airlock unlock`";
	} else if (be && be->model_info && be->model_info(be->ctx, &mi) == -ENOTCONN) {
		/* -EAGAIN (connected, its hello not read yet) still serves: requests wait for it. */
		state = "ai-unavailable";
		detail = "the AI domain is not connected: it is restarting, or there is none";
	}
	if (detail)
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
	json_t *j = json_pack("{s:s, s:s*}", "status", state, "detail", detail);
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!body)
		return MHD_NO;
	enum MHD_Result ret = send_buf(c, status, "application/json", body, strlen(body), NULL);
	free(body);
	return ret;
}

/* First look at a request: 0 to go on, else the guard already queued a refusal. */
static int guard(struct http_ctx *hc, struct MHD_Connection *c, const char *url, const char *method,
		 enum MHD_Result *ret)
{
	const struct al_proto_opts *o = hc->o;
	bool post = !strcmp(method, "POST"), get = !strcmp(method, "GET"),
	     del = !strcmp(method, "DELETE");
	if (get && !strcmp(url, "/healthz")) {
		*ret = send_health(hc, c);
		return -1;
	}
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

/*
 * The MCP request headers the server compares with the body. A field value
 * excludes the whitespace around it (RFC 9110 section 5.5); libmicrohttpd
 * drops only the leading whitespace, so a value ending in some is copied
 * without it.
 */
struct mcp_hdrs {
	const char *session_id, *protocol_version, *method, *name;
	char *copies[4];
};

static bool ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* The value of header name, or NULL when absent; -ENOMEM when a copy failed. */
static int mcp_hdr(struct MHD_Connection *c, const char *name, char **copy, const char **out)
{
	const char *v = hdr(c, name);
	*out = v;
	if (!v)
		return 0;
	while (ows(*v))
		v++;
	size_t n = strlen(v);
	while (n && ows(v[n - 1]))
		n--;
	if (v[n] == '\0') {
		*out = v;
		return 0;
	}
	*copy = strndup(v, n);
	*out = *copy;
	return *copy ? 0 : -ENOMEM;
}

static void mcp_hdrs_free(struct mcp_hdrs *h)
{
	for (size_t i = 0; i < AL_ARRAY_LEN(h->copies); i++)
		free(h->copies[i]);
}

static int mcp_hdrs_read(struct MHD_Connection *c, struct mcp_hdrs *h)
{
	memset(h, 0, sizeof(*h));
	int e = 0;
	e |= mcp_hdr(c, "Mcp-Session-Id", &h->copies[0], &h->session_id);
	e |= mcp_hdr(c, "MCP-Protocol-Version", &h->copies[1], &h->protocol_version);
	e |= mcp_hdr(c, "Mcp-Method", &h->copies[2], &h->method);
	e |= mcp_hdr(c, "Mcp-Name", &h->copies[3], &h->name);
	return e ? -ENOMEM : 0;
}

/* ---- methods ------------------------------------------------------------- */

static enum MHD_Result post_handle(struct http_ctx *hc, struct MHD_Connection *c, struct req *r,
				   const struct mcp_hdrs *h)
{
	/* The slot is taken only now, with the whole body in hand: a client
	 * trickling its body holds a connection, never a request slot. */
	if (!inflight_take(hc, r->cc))
		return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, AL_JSONRPC_SERVER_ERROR,
				  "server busy");
	r->counted = true;
	struct outq *q = outq_new(hc, c);
	if (!q)
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, AL_JSONRPC_INTERNAL_ERROR,
				  "out of memory");
	struct al_mcp_input in = {
		.body = r->body ? r->body : "",
		.len = r->len,
		.transport = AL_MCP_HTTP,
		.hdr_session_id = h->session_id,
		.hdr_protocol_version = h->protocol_version,
		.hdr_method = h->method,
		.hdr_name = h->name,
		.peer = r->cc ? r->cc->peer_str : NULL,
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
			q->w.is_get = false;
			q->linked = true;
			waiter_link(hc, &q->w); /* the ticker enforces its deadline */
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
	r->direct = !streaming;
	if (!streaming) {
		if (q->call)
			al_mcp_call_detach(q->call);
		outq_put(q);
		/* Answered already: the slot bounds pending calls, not replies on their way out. */
		inflight_release(hc, r->cc);
		r->counted = false;
	}
	outq_put(q);
	return ret;
}

static enum MHD_Result do_post(struct http_ctx *hc, struct MHD_Connection *c, struct req *r)
{
	struct mcp_hdrs h;
	enum MHD_Result ret;
	if (mcp_hdrs_read(c, &h) < 0)
		ret = send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, AL_JSONRPC_INTERNAL_ERROR,
				 "out of memory");
	else
		ret = post_handle(hc, c, r, &h);
	mcp_hdrs_free(&h);
	return ret;
}

static enum MHD_Result do_get(struct http_ctx *hc, struct MHD_Connection *c, struct req *r)
{
	const char *sid = hdr(c, "Mcp-Session-Id");
	if (!sid)
		/* The stateless revision has no GET stream. */
		return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, AL_JSONRPC_SERVER_ERROR,
				  "GET needs an Mcp-Session-Id");
	if (atomic_fetch_add(&hc->streams, 1) >= hc->o->max_streams) {
		atomic_fetch_sub(&hc->streams, 1);
		return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, AL_JSONRPC_SERVER_ERROR,
				  "too many streams");
	}
	/* Counted on the session from here on: a session with a stream is not evicted. */
	if (al_mcp_session_stream(hc->srv, sid, true) < 0) {
		atomic_fetch_sub(&hc->streams, 1);
		return send_error(c, MHD_HTTP_NOT_FOUND, -32001, "session not found");
	}
	struct get_stream *g = calloc(1, sizeof(*g));
	if (!g) {
		(void)al_mcp_session_stream(hc->srv, sid, false);
		atomic_fetch_sub(&hc->streams, 1);
		return MHD_NO;
	}
	pthread_mutex_init(&g->lock, NULL);
	g->w.is_get = true;
	g->w.prev = g->w.next = &g->w;
	g->hc = hc;
	g->conn = c;
	g->next_ping_ns = al_now_ns() + KEEPALIVE_S * 1000000000ull;
	al_strlcpy(g->session, sid, sizeof(g->session));
	struct MHD_Response *resp =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256, get_read, g, get_free);
	if (!resp) {
		get_free(g);
		return MHD_NO;
	}
	waiter_link(hc, &g->w);
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
	wake_ticker(hc); /* its GET streams end now */
	al_log_info("proto: http: a session was deleted by its client");
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
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		r->cc = ci ? ci->socket_context : NULL;
		if (r->cc && r->cc->over) {
			r->rejected = true;
			return send_overload(c);
		}
		if (guard(hc, c, url, method, &ret) < 0) {
			r->rejected = true;
			return ret;
		}
		r->body_deadline_ns = al_now_ns() + (uint64_t)hc->o->body_timeout_s * 1000000000ull;
		return MHD_YES;
	}
	if (r->rejected) {
		*upload_size = 0; /* discard the rest of a refused body */
		return MHD_YES;
	}
	if (*upload_size) {
		if (al_now_ns() > r->body_deadline_ns) {
			/* A body still arriving past its deadline: the connection is dropped
			 * (an answer cannot be queued in the middle of a body). */
			al_log_debug("proto: http: body deadline passed, closing");
			return MHD_NO;
		}
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
	/* After the answer is out, so a move costs the next request nothing. */
	if (hc->o->follow && r->direct && r->cc && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci)
			(void)al_follow_answered(&r->cc->follow, ci->connect_fd);
	}
	if (r->counted)
		inflight_release(hc, r->cc);
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

/* Every stream out of suspension, then wait (bounded) for their responses to end. */
static void drain_streams(struct http_ctx *hc)
{
	uint64_t epoch = 0;
	for (int i = 0; i < 60; i++) {
		pthread_mutex_lock(&hc->ev_lock);
		bool empty = hc->waiters.next == &hc->waiters;
		if (!empty)
			tick_locked(hc, &epoch);
		pthread_mutex_unlock(&hc->ev_lock);
		if (empty)
			return;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

int al_proto_http_run(int listen_fd, const struct al_proto_opts *o, struct al_mcp_server *srv)
{
	static struct http_ctx hc; /* lives until the daemon's threads are gone */
	memset(&hc, 0, sizeof(hc));
	hc.o = o;
	hc.srv = srv;
	hc.waiters.prev = hc.waiters.next = &hc.waiters;
	pthread_mutex_init(&hc.ev_lock, NULL);
	pthread_mutex_init(&hc.peer_lock, NULL);
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
	/* Blocked before any thread starts, so they inherit the mask; we sigwait below. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	static struct ticker tk;
	tk.hc = &hc;
	atomic_init(&tk.quit, false);
	int e = pthread_create(&tk.th, NULL, ticker_main, &tk);
	if (e) {
		al_log_warnx("proto: http: ticker thread: %s", strerror(e));
		return -e;
	}

	/* MHD admits some connections beyond ours so that those are answered
	 * 503 (on_connection marks them) instead of being refused silently. */
	unsigned mhd_limit = o->max_connections + CONN_SLACK(o->max_connections);
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, &hc,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)POOL_THREADS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)o->idle_timeout_s,
		MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_POOL_BYTES,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, &hc,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, &hc,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_END);
	if (!d) {
		al_log_warnx("proto: http: could not start the server");
		atomic_store(&tk.quit, true);
		wake_ticker(&hc);
		pthread_join(tk.th, NULL);
		return -EIO;
	}
	int sig = 0;
	while (sig != SIGINT && sig != SIGTERM) {
		e = sigwait(&set, &sig);
		if (e != 0 && e != EINTR) {
			al_log_warnx("proto: http: sigwait: %s", strerror(e));
			break;
		}
	}
	al_log_info("proto: http: signal %d, stopping", sig);
	hc.stop_answer_ns = al_now_ns() + STOP_ANSWER_MS * 1000000ull;
	atomic_store(&hc.stopping, true);
	/* MHD refuses to stop with a connection suspended: end every stream first. */
	drain_streams(&hc);
	/* The listening socket is the supervisor's, served again by the next
	 * protocol domain: stopping must not shut it down (quiesced, MHD leaves it). */
	(void)MHD_quiesce_daemon(d);
	MHD_stop_daemon(d);
	atomic_store(&tk.quit, true);
	wake_ticker(&hc);
	pthread_join(tk.th, NULL);
	return 0;
}
