/*
 * stdio transport: one JSON-RPC message per line on stdin, replies one per
 * line on stdout, logs on stderr only (stdout belongs to the protocol).
 * Generation runs on the backend's threads, so the reader keeps reading and
 * a notifications/cancelled can reach a pending call.
 */
#include "workers/proto/proto.h"

#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>

struct stdio_ctx {
	int out_fd;
	pthread_mutex_t out_lock; /* whole lines: emits come from several threads */
	bool broken;
};

struct pending {
	struct al_mcp_call *call;
	uint64_t deadline_ns;
	struct pending *next;
};

static void stdio_emit(void *ud, json_t *msg, bool final)
{
	struct stdio_ctx *sc = ud;
	if (!msg)
		return;
	char *s = json_dumps(msg, JSON_COMPACT);
	if (!s)
		return;
	pthread_mutex_lock(&sc->out_lock);
	/* JSON_COMPACT never emits a raw newline: strings escape it. */
	if (!sc->broken && (al_write_all(sc->out_fd, s, strlen(s)) < 0 ||
			    al_write_all(sc->out_fd, "\n", 1) < 0))
		sc->broken = true;
	pthread_mutex_unlock(&sc->out_lock);
	free(s);
}

static void handle_line(struct al_mcp_server *srv, struct al_mcp_session *sess,
			const struct al_mcp_output *out, const char *line, size_t len,
			const struct al_proto_opts *o, struct pending **pend)
{
	while (len && (line[len - 1] == '\r'))
		len--;
	if (!len)
		return;
	struct al_mcp_input in = { .body = line, .len = len, .transport = AL_MCP_STDIO, .session = sess };
	struct al_mcp_result res;
	if (al_mcp_handle(srv, &in, out, &res) < 0)
		return;
	if (!res.call)
		return;
	struct pending *p = malloc(sizeof(*p));
	if (!p) {
		al_mcp_call_detach(res.call);
		al_mcp_call_put(res.call);
		return;
	}
	p->call = res.call;
	p->deadline_ns = al_now_ns() + (uint64_t)o->request_timeout_s * 1000000000ull;
	p->next = *pend;
	*pend = p;
}

/* Expires overdue calls and forgets finished ones; returns ms until the next deadline. */
static int sweep(struct pending **pend, bool all)
{
	uint64_t now = al_now_ns(), next = UINT64_MAX;
	for (struct pending **pp = pend; *pp;) {
		struct pending *p = *pp;
		if (all || now >= p->deadline_ns) {
			if (!all)
				al_mcp_call_expire(p->call);
			al_mcp_call_detach(p->call);
			al_mcp_call_put(p->call);
			*pp = p->next;
			free(p);
			continue;
		}
		if (p->deadline_ns < next)
			next = p->deadline_ns;
		pp = &p->next;
	}
	if (next == UINT64_MAX)
		return 1000;
	uint64_t ms = (next - now) / 1000000ull + 1;
	return ms > 1000 ? 1000 : (int)ms;
}

int al_proto_stdio_run(int in_fd, int out_fd, const struct al_proto_opts *o,
		       struct al_mcp_server *srv)
{
	struct stdio_ctx sc = { .out_fd = out_fd };
	pthread_mutex_init(&sc.out_lock, NULL);
	struct al_mcp_output out = { .emit = stdio_emit, .ud = &sc };
	struct al_mcp_session *sess = al_mcp_session_new(srv);
	size_t max = o->body_limit;
	char *buf = malloc(max + 1);
	if (!sess || !buf) {
		free(buf);
		al_mcp_session_free(srv, sess);
		return -ENOMEM;
	}
	size_t len = 0;
	bool discarding = false; /* inside a line longer than the limit */
	struct pending *pend = NULL;
	int rc = 0;
	for (;;) {
		struct pollfd pfd = { .fd = in_fd, .events = POLLIN };
		int timeout = sweep(&pend, false);
		int n = poll(&pfd, 1, timeout);
		if (n < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		if (n <= 0)
			continue;
		ssize_t got = read(in_fd, buf + len, max + 1 - len);
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			rc = -errno;
			break;
		}
		if (got == 0)
			break;
		len += (size_t)got;
		size_t start = 0;
		for (size_t i = len - (size_t)got; i < len; i++) {
			if (buf[i] != '\n')
				continue;
			if (!discarding)
				handle_line(srv, sess, &out, buf + start, i - start, o, &pend);
			discarding = false;
			start = i + 1;
		}
		memmove(buf, buf + start, len - start);
		len -= start;
		if (len > max) {
			/* Over the limit without a newline: refuse it once, skip to its end. */
			if (!discarding) {
				json_t *e = al_jsonrpc_error(NULL, AL_JSONRPC_INVALID_REQUEST,
							     "message too large", NULL);
				if (e)
					stdio_emit(&sc, e, true);
				json_decref(e);
			}
			discarding = true;
			len = 0;
		}
	}
	sweep(&pend, true);
	al_mcp_session_free(srv, sess);
	free(buf);
	return rc;
}
