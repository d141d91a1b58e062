/*
 * airlock-proto: the protocol domain's entry. Set up (options, listener),
 * lock down (stage-2 seccomp), then serve. No client byte is read before
 * the filter is in place.
 *
 * fds: under the supervisor, the listening socket, the channel, the token
 * and the report pipe are named by --listen-fd, --channel-fd, --token-fd and
 * --report-fd (include/airlock/worker.h). Standalone, --listen ADDR:PORT
 * binds a socket itself, and without --listen or --listen-fd a
 * socket-activated one is taken (LISTEN_FDS=1, LISTEN_PID=<pid>, fd 3).
 * --stdio serves fd 0/1. Logs always go to fd 2.
 */
#include "workers/proto/proto.h"

#include "al_config.h"
#include "common/log.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <malloc.h>
#include <sys/socket.h>

#include "airlock/channel.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: airlock-proto [--stdio | --listen ADDR:PORT | --listen-fd N] [options]\n"
		"  (none of them: listening socket on fd 3, LISTEN_FDS=1 LISTEN_PID=$$)\n"
		"  --body-limit SIZE        largest POST body (default 1M)\n"
		"  --max-inflight N         concurrent POST requests (default 64)\n"
		"  --max-connections N      open connections; more are answered 503 (default 4096)\n"
		"  --max-client-connections N  of them per client address (default: all)\n"
		"  --max-client-inflight N  concurrent POST requests per client address (default: all)\n"
		"  --max-sessions N         stateful sessions kept (default 4096)\n"
		"  --max-client-sessions N  of them per client address (default 1024)\n"
		"  --body-timeout SECONDS   deadline for a request body (default 10)\n"
		"  --idle-timeout SECONDS   drop silent or slow clients (default 30)\n"
		"  --request-timeout SECONDS  deadline of one request (default 120)\n"
		"  --allow-origin ORIGIN    allowed browser Origin (repeatable; none: no browser)\n"
		"  --allow-host NAME        extra allowed Host (repeatable)\n"
		"  --token-file PATH        require Authorization: Bearer <file contents>\n"
		"  --token-fd N             the same, the token read from descriptor N\n"
		"  --max-prompt CHARS       generate.prompt maxLength (default 4096)\n"
		"  --max-tokens N           generate.max_tokens maximum\n"
		"  --listen-fd N            the listening socket is fd N (passed by the supervisor)\n"
		"  --channel-fd N           the channel to the AI domain is fd N; without it,\n"
		"                           generation fails with 'AI domain not connected'\n"
		"  --report-fd N            report a channel violation by the AI domain on fd N\n"
		"  --follow-client          each I/O thread moves to the CPU its client's requests\n"
		"                           arrive on (for real-time I/O threads; the stage-2 filter\n"
		"                           then allows sched_setaffinity)\n"
		"  --locked                 the supervisor holds an integrity lockdown: GET /healthz\n"
		"                           answers 503 \"lockdown\" (no --channel-fd then)\n"
		"  --handoff-fd N           take the next channel from socket N when the AI\n"
		"                           domain is restarted (connections stay open)\n"
		"  --no-seccomp             skip the stage-2 filter (debugging only)\n"
		"  -v                       more logging\n");
}

static int listen_inherited(void)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	uint64_t n, p;
	if (!fds || !pid || al_parse_u64(fds, &n) < 0 || al_parse_u64(pid, &p) < 0)
		return -ENOENT;
	if (p != (uint64_t)getpid() || n != 1)
		return -EINVAL;
	int acc = 0;
	socklen_t sl = sizeof(acc);
	if (getsockopt(AL_PROTO_FD_LISTEN, SOL_SOCKET, SO_ACCEPTCONN, &acc, &sl) < 0 || !acc)
		return -ENOTSOCK;
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	return AL_PROTO_FD_LISTEN;
}

/* A listening socket the supervisor passed at a fixed number (pids differ in its namespace). */
static int listen_passed(int fd)
{
	int acc = 0;
	socklen_t sl = sizeof(acc);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &sl) < 0 || !acc)
		return -ENOTSOCK;
	return fd;
}

static int listen_on(const char *spec)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	uint64_t port;
	if (!colon || (size_t)(colon - spec) >= sizeof(host) || al_parse_u64(colon + 1, &port) < 0 ||
	    port > 65535)
		return -EINVAL;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* Descriptors kept aside from connections: stdio, listener, channel, report,
 * epoll and event fds of the event loop's threads, the C library's. */
#define FD_RESERVE 32

/*
 * Every connection is a descriptor, and so is each one answered 503 beyond
 * the limit (the HTTP layer's slack of max/16 + 16): the soft descriptor
 * limit is raised to the hard one, and the connection limit is lowered to fit
 * under it when needed (the sandbox's profile sets the hard limit).
 */
static void fit_connections(struct al_proto_opts *o)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1u << 20)
		return;
	uint64_t avail = rl.rlim_cur > FD_RESERVE + 64 ? rl.rlim_cur - FD_RESERVE : 64;
	uint64_t want = (uint64_t)o->max_connections + o->max_connections / 16 + 16;
	if (want <= avail)
		return;
	/* max + max/16 + 16 <= avail */
	uint64_t fit = (avail - 16) * 16 / 17;
	if (fit < 8)
		fit = 8;
	al_log_info("proto: %llu descriptors allow %llu connections, not %u",
		     (unsigned long long)rl.rlim_cur, (unsigned long long)fit, o->max_connections);
	o->max_connections = (unsigned)fit;
}

static void announce(int fd)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char a[INET_ADDRSTRLEN] = "?";
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0 && sa.sin_family == AF_INET)
		inet_ntop(AF_INET, &sa.sin_addr, a, sizeof(a));
	/* Tests and operators read the bound port from this line (port 0 picks one). */
	fprintf(stderr, "airlock-proto: listening on http://%s:%u/mcp\n", a, ntohs(sa.sin_port));
}

/* From the start of fd each time: a restarted domain gets the same open file. */
static char *read_token_fd(int fd, const char *path)
{
	char *buf = malloc(4097);
	size_t len = 0;
	if (!buf)
		al_fatalx(AL_WORKER_EXIT_FAIL, "out of memory");
	for (;;) {
		ssize_t n = pread(fd, buf + len, 4097 - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			al_fatalx(AL_WORKER_EXIT_USAGE, "token file %s: %s", path, strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > 4096)
			al_fatalx(AL_WORKER_EXIT_USAGE, "token file %s: larger than 4096 bytes", path);
	}
	buf[len] = '\0';
	if (strlen(buf) != len)
		al_fatalx(AL_WORKER_EXIT_USAGE, "token file %s: holds a NUL byte", path);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	if (len < 16)
		al_fatalx(AL_WORKER_EXIT_USAGE, "token file %s: token shorter than 16 characters", path);
	return buf;
}

static char *read_token(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		al_fatalx(AL_WORKER_EXIT_USAGE, "token file %s: %s", path, strerror(errno));
	char *t = read_token_fd(fd, path);
	close(fd);
	return t;
}

int main(int argc, char **argv)
{
	enum { O_STDIO = 256, O_LISTEN, O_BODY, O_INFL, O_CONN, O_IDLE, O_REQ, O_ORIGIN, O_HOST,
	       O_TOKEN, O_TOKENFD, O_PROMPT, O_NOSECCOMP, O_MAXTOK, O_LISTENFD, O_CHANFD, O_REPORTFD,
	       O_HANDOFFFD, O_CCONN, O_CINFL, O_SESS, O_CSESS, O_BODYTO, O_LOCKED, O_FOLLOW };
	static const struct option lo[] = {
		{ "stdio", no_argument, NULL, O_STDIO },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "body-limit", required_argument, NULL, O_BODY },
		{ "max-inflight", required_argument, NULL, O_INFL },
		{ "max-connections", required_argument, NULL, O_CONN },
		{ "idle-timeout", required_argument, NULL, O_IDLE },
		{ "request-timeout", required_argument, NULL, O_REQ },
		{ "allow-origin", required_argument, NULL, O_ORIGIN },
		{ "allow-host", required_argument, NULL, O_HOST },
		{ "token-file", required_argument, NULL, O_TOKEN },
		{ "token-fd", required_argument, NULL, O_TOKENFD },
		{ "max-prompt", required_argument, NULL, O_PROMPT },
		{ "no-seccomp", no_argument, NULL, O_NOSECCOMP },
		{ "max-tokens", required_argument, NULL, O_MAXTOK },
		{ "listen-fd", required_argument, NULL, O_LISTENFD },
		{ "channel-fd", required_argument, NULL, O_CHANFD },
		{ "report-fd", required_argument, NULL, O_REPORTFD },
		{ "handoff-fd", required_argument, NULL, O_HANDOFFFD },
		{ "max-client-connections", required_argument, NULL, O_CCONN },
		{ "max-client-inflight", required_argument, NULL, O_CINFL },
		{ "max-sessions", required_argument, NULL, O_SESS },
		{ "max-client-sessions", required_argument, NULL, O_CSESS },
		{ "body-timeout", required_argument, NULL, O_BODYTO },
		{ "locked", no_argument, NULL, O_LOCKED },
		{ "follow-client", no_argument, NULL, O_FOLLOW },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct al_proto_opts o;
	struct al_mcp_config cfg;
	al_proto_opts_default(&o);
	al_mcp_config_default(&cfg);
	al_log_init("airlock-proto", AL_LOG_WARN);
	bool use_stdio = false;
	const char *listen_spec = NULL;
	int verbose = 0, c, listen_fd_arg = -1, channel_fd = -1, report_fd = -1, handoff_fd = -1;
	uint64_t v;
	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case O_STDIO: use_stdio = true; break;
		case O_LISTEN: listen_spec = optarg; break;
		case O_BODY:
			if (al_parse_size(optarg, &v) < 0 || v < 1024 || v > (64u << 20))
				al_fatalx(AL_WORKER_EXIT_USAGE, "--body-limit: 1K..64M");
			o.body_limit = (size_t)v;
			break;
		case O_INFL:
		case O_CONN:
		case O_IDLE:
		case O_REQ:
		case O_PROMPT:
		case O_CCONN:
		case O_CINFL:
		case O_SESS:
		case O_CSESS:
		case O_BODYTO:
			if (al_parse_u64(optarg, &v) < 0 || v == 0 || v > 1000000)
				al_fatalx(AL_WORKER_EXIT_USAGE, "%s: expected 1..1000000", argv[optind - 1]);
			if (c == O_INFL) o.max_inflight = (unsigned)v;
			if (c == O_CONN) o.max_connections = (unsigned)v;
			if (c == O_IDLE) o.idle_timeout_s = (unsigned)v;
			if (c == O_REQ) o.request_timeout_s = (unsigned)v;
			if (c == O_PROMPT) cfg.max_prompt_chars = (size_t)v;
			if (c == O_CCONN) o.max_client_connections = (unsigned)v;
			if (c == O_CINFL) o.max_client_inflight = (unsigned)v;
			if (c == O_SESS) cfg.max_sessions = (size_t)v;
			if (c == O_CSESS) cfg.max_sessions_per_client = (size_t)v;
			if (c == O_BODYTO) o.body_timeout_s = (unsigned)v;
			break;
		case O_ORIGIN:
			if (o.n_origins == AL_PROTO_MAX_ORIGINS)
				al_fatalx(AL_WORKER_EXIT_USAGE, "too many --allow-origin");
			o.origins[o.n_origins++] = optarg;
			break;
		case O_HOST:
			if (o.n_hosts == AL_PROTO_MAX_ORIGINS)
				al_fatalx(AL_WORKER_EXIT_USAGE, "too many --allow-host");
			o.hosts[o.n_hosts++] = optarg;
			break;
		case O_TOKEN: o.token = read_token(optarg); break;
		case O_NOSECCOMP: o.seccomp = false; break;
		case O_LOCKED: o.locked = true; break;
		case O_FOLLOW: o.follow = true; break;
		case O_MAXTOK:
			if (al_parse_u64(optarg, &v) < 0 || v == 0 || v > AL_MSG_MAX_TOKENS)
				al_fatalx(AL_WORKER_EXIT_USAGE, "--max-tokens: 1..%u", AL_MSG_MAX_TOKENS);
			cfg.max_tokens_limit = (uint32_t)v;
			break;
		case O_LISTENFD:
		case O_CHANFD:
		case O_REPORTFD:
		case O_HANDOFFFD:
		case O_TOKENFD:
			if (al_parse_u64(optarg, &v) < 0 || v < 3 || v > 1023)
				al_fatalx(AL_WORKER_EXIT_USAGE, "%s: a descriptor number 3..1023", argv[optind - 1]);
			if (c == O_TOKENFD) {
				o.token = read_token_fd((int)v, "on the token descriptor");
				close((int)v);
			} else {
				*(c == O_LISTENFD ? &listen_fd_arg : c == O_CHANFD ? &channel_fd
				  : c == O_REPORTFD ? &report_fd : &handoff_fd) = (int)v;
			}
			break;
		case 'v': verbose++; break;
		case 'h': usage(stdout); return AL_WORKER_EXIT_OK;
		default: usage(stderr); return AL_WORKER_EXIT_USAGE;
		}
	}
	if (optind != argc || (use_stdio && listen_spec)) {
		usage(stderr);
		return AL_WORKER_EXIT_USAGE;
	}
	al_log_set_level(verbose >= 2 ? AL_LOG_DEBUG : verbose ? AL_LOG_INFO : AL_LOG_WARN);
	/* The message limit and the HTTP body limit are one setting. */
	cfg.limits.max_bytes = o.body_limit;
	signal(SIGPIPE, SIG_IGN);

	int lfd = -1;
	if (!use_stdio) {
		fit_connections(&o);
		lfd = listen_spec ? listen_on(listen_spec) : listen_fd_arg >= 0 ? listen_passed(listen_fd_arg)
											: listen_inherited();
		if (lfd < 0)
			al_fatalx(AL_WORKER_EXIT_FAIL, "no listener: %s (use --listen ADDR:PORT, --listen-fd N, --stdio or LISTEN_FDS)",
				  strerror(-lfd));
		announce(lfd);
	}

	struct al_mcp_backend backend = al_mcp_backend_none;
	if (channel_fd >= 0) {
		int rc = al_proto_backend_chan_new(channel_fd, cfg.max_tokens_limit, &backend);
		/* A header that does not check out was written by the only other
		 * holder of the channel: reported as the peer's, not as our failure. */
		if (rc == -EPROTO && report_fd >= 0) {
			al_worker_report r = AL_WORKER_REPORT_ATTACH;
			(void)!write(report_fd, &r, sizeof r);
			al_fatalx(AL_WORKER_EXIT_PEER, "the channel to the AI domain was unusable at attach");
		}
		if (rc < 0)
			al_fatalx(AL_WORKER_EXIT_FAIL, "the channel to the AI domain could not be attached");
		if (report_fd >= 0)
			al_proto_backend_chan_report_to(&backend, report_fd);
		if (handoff_fd >= 0)
			al_proto_backend_chan_handoff(&backend, handoff_fd);
	}
	o.backend = &backend;
	struct al_mcp_server *srv;
	if (al_mcp_server_new(&cfg, &backend, &srv) < 0)
		al_fatalx(AL_WORKER_EXIT_FAIL, "out of memory");
	/* execve reset it; a dumpable worker could be read by a peer with ptrace rights. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	/* Time zone now, from the environment: after the lockdown the C library
	 * could not open /etc/localtime (HTTP dates and logs format times). */
	setenv("TZ", "UTC", 1);
	tzset();
	/* One malloc arena: glibc shrinks a thread arena's heap only after reading
	 * /proc/sys/vm/overcommit_memory, an open the filter forbids. */
	mallopt(M_ARENA_MAX, 1);

	/* Stage 2: after the listener is held, before any thread or client byte. */
	if (o.seccomp && al_proto_lockdown(o.follow) < 0)
		al_fatalx(AL_WORKER_EXIT_LOCKDOWN, "stage-2 seccomp filter failed");
	if (channel_fd >= 0 && al_proto_backend_chan_run(&backend) < 0)
		al_fatalx(AL_WORKER_EXIT_FAIL, "the channel receiver could not start");

	int rc = use_stdio ? al_proto_stdio_run(0, 1, &o, srv) : al_proto_http_run(lfd, &o, srv);
	al_mcp_server_free(srv);
	free(o.token);
	return rc < 0 ? AL_WORKER_EXIT_FAIL : AL_WORKER_EXIT_OK;
}
