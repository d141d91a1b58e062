/*
 * The protocol domain (airlock-proto): MCP over Streamable HTTP or stdio.
 *
 * Command line:
 *   airlock-proto [--stdio | --listen 127.0.0.1:PORT | --listen-fd N] [options]
 * The supervisor passes the listening socket with --listen-fd 3 (its fds are
 * include/airlock/worker.h's). Standalone, --listen binds one; with none of
 * the three, a socket-activated listener is taken (LISTEN_FDS=1,
 * LISTEN_PID=<our pid>, fd 3), which the supervisor does not use: in the
 * domain's pid namespace the pid is not one it could know in advance.
 *
 * Order (pledge pattern): take the listener (or stdio), install the stage-2
 * seccomp filter on every thread (TSYNC), only then start the HTTP threads
 * and read the first client byte.
 */
#ifndef AL_WORKERS_PROTO_H
#define AL_WORKERS_PROTO_H

#include "airlock/worker.h"
#include "mcp/mcp.h"

#include <stdbool.h>
#include <stddef.h>

#define AL_PROTO_MAX_ORIGINS 16

struct al_proto_opts {
	size_t body_limit;          /* bytes; larger POST bodies get 413 */
	unsigned max_inflight;      /* concurrent POST requests; more get 503 */
	unsigned max_streams;       /* concurrent GET streams */
	unsigned max_connections;   /* open connections; more are answered 503 and closed */
	unsigned max_client_connections; /* per client address (0: max_connections) */
	unsigned max_client_inflight;    /* per client address (0: max_inflight) */
	unsigned body_timeout_s;    /* a request body must arrive within this */
	unsigned idle_timeout_s;    /* slow or silent clients are dropped after this */
	unsigned request_timeout_s; /* deadline for one request, generation included */
	const char *origins[AL_PROTO_MAX_ORIGINS]; /* the only Origin values allowed */
	size_t n_origins;
	const char *hosts[AL_PROTO_MAX_ORIGINS];   /* extra allowed Host names */
	size_t n_hosts;
	char *token;                /* bearer token, NULL when auth is off */
	bool seccomp;               /* stage-2 filter; off only for debugging */
	bool locked;                /* integrity lockdown: no AI domain until `airlock unlock` */
	bool follow;                /* I/O threads follow their clients' CPUs (follow.c) */
	/* What GET /healthz asks whether the AI domain is reachable (NULL: none). */
	const struct al_mcp_backend *backend;
};

void al_proto_opts_default(struct al_proto_opts *o);

/* Serves HTTP on the listening socket until SIGINT/SIGTERM. 0 or -errno. */
int al_proto_http_run(int listen_fd, const struct al_proto_opts *o, struct al_mcp_server *srv);

/* Serves newline-delimited JSON-RPC on stdin/stdout until EOF. 0 or -errno. */
int al_proto_stdio_run(int in_fd, int out_fd, const struct al_proto_opts *o,
		       struct al_mcp_server *srv);

/*
 * Stage-2 seccomp filter on all threads: an allowlist for serving (accept4,
 * I/O, threads, memory); socket, socketpair, bind, listen, connect, exec and
 * ptrace kill the process, and so does anything else unlisted. 0 or -errno.
 */
int al_proto_lockdown(bool follow);

/*
 * Following a client's CPU (follow.c), one record per connection. After a
 * request on fd was answered at once, al_follow_answered() may move the
 * calling thread to the CPU the connection's packets arrive on. Returns 1 if
 * it moved the thread, else 0. Needs sched_setaffinity, which the stage-2
 * filter allows only with follow set.
 */
struct al_follow {
	int moved_to;       /* the CPU the last move went to, until the next request checks it */
	unsigned failed;    /* moves in a row that did not hold */
	unsigned backoff;   /* requests skipped after the last run of failed moves */
	unsigned skip;      /* requests still skipped */
};

void al_follow_init(struct al_follow *f);
int al_follow_answered(struct al_follow *f, int fd);

/*
 * The backend that reaches the AI domain through the channel on fd. new()
 * attaches it (before the lockdown); run() starts its receiver thread
 * (after). max_tokens caps every request (0: the channel's own limit).
 */
int al_proto_backend_chan_new(int fd, uint32_t max_tokens, struct al_mcp_backend *out);
int al_proto_backend_chan_run(struct al_mcp_backend *be);
/* A peer that breaks a channel rule is reported on fd (worker.h), before the
 * worker exits with AL_WORKER_EXIT_PEER. */
void al_proto_backend_chan_report_to(struct al_mcp_backend *be, int fd);
/* With a handoff socket (worker.h: AL_PROTO_FD_HANDOFF), a broken channel no
 * longer ends the worker: in-flight calls fail, and the next channel is
 * taken from fd. */
void al_proto_backend_chan_handoff(struct al_mcp_backend *be, int fd);

/*
 * An Origin header value: allowed only when it is one of o->origins (scheme
 * and host compared without regard to case, a default port written or not).
 * A Host header value: loopback names, or one of o->hosts.
 */
bool al_proto_origin_allowed(const struct al_proto_opts *o, const char *origin);
bool al_proto_host_allowed(const struct al_proto_opts *o, const char *host);

#endif
