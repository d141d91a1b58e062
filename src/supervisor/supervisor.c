#include "supervisor/supervisor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "airlock/channel.h"
#include "al_config.h"
#include "audit/audit.h"
#include "common/log.h"
#include "common/util.h"
#include "hw/hw.h"
#include "integrity/manifest.h"
#include "sandbox/sandbox.h"
#include "supervisor/control.h"

/* Fixed fd numbers inside the domains (documented in docs/supervisor.md). */
#define AI_FD_CHANNEL 3
#define AI_FD_MODEL 4
#define AI_FD_TOKENIZER 5
#define PROTO_FD_LISTEN 3
#define PROTO_FD_CHANNEL 4
#define PROTO_FD_TOKEN 5

#define TICK_MS 1000
#define STOP_GRACE_MS 3000
/* A peer left alone on a closed channel ends by itself within this (proto: 0.5 s). */
#define PEER_GRACE_MS 1000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
/* More restarts than this within CRASH_WINDOW_NS is a crash loop: restarts stop. */
#define CRASH_LOOP_RESTARTS 5
#define CRASH_WINDOW_NS (60ULL * 1000000000ULL)

enum dom_state { DOM_STOPPED, DOM_RUNNING, DOM_BACKOFF, DOM_FAILED };

static const char *const dom_state_names[] = {"stopped", "running", "restarting", "failed (crash loop)"};
static const char *const dom_names[] = {"ai", "proto"};
static const char *const dom_profiles[] = {"compute", "service"};

struct sup_domain {
	enum al_domain_id id;
	int exe_fd;                 /* verified executable, exec'd by fd */
	struct al_domain *d;        /* the sandboxed process while running */
	enum dom_state state;
	unsigned restarts;
	unsigned recent_restarts;   /* within the crash window */
	uint64_t window_start_ns;
	uint64_t started_ns;
	int last_status;            /* waitpid status of the last exit, -1 none */
	json_t *attestation;
};

struct sup {
	const struct al_config *cfg;
	bool verbose;
	struct al_audit *audit;
	int epfd, sigfd, timerfd, ctlfd, listenfd;
	int model_fd, tok_fd;
	int token_fd;               /* bearer token file, read by the protocol domain through this fd */
	int chan_fd;                /* current channel; replaced on every restart */
	struct sup_domain dom[AL_DOMAIN_COUNT];
	unsigned backoff_ms;
	uint64_t restart_at_ns;     /* when both domains are respawned, 0 = not pending */
	uint64_t started_ns;
	uint64_t violations;
	bool stopping;
};

/* epoll tags: the low byte names the source, the next the domain. */
enum { TAG_SIGNAL = 1, TAG_TIMER, TAG_CONTROL, TAG_PIDFD, TAG_NOTIFY };
#define TAG(kind, dom) ((uint32_t)(kind) | ((uint32_t)(dom) << 8))

/* ---- audit ------------------------------------------------------------ */

static void sup_event(struct sup *s, const char *event, bool urgent, json_t *fields)
{
	if (s->verbose) {
		char *t = json_dumps(fields, JSON_COMPACT);
		fprintf(stderr, "airlock: %s %s\n", event, t ? t : "{}");
		free(t);
	}
	if (s->audit && al_audit_append(s->audit, event, fields, urgent) < 0)
		al_log_warnx("audit: could not append '%s'", event);
	json_decref(fields);
}

/* ---- files and sockets ------------------------------------------------ */

/* Opened once: the same fd is verified, then passed on or executed. */
static int open_verified(const char *what, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		al_log_warn("%s: %s", what, path);
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		al_log_warnx("%s: %s is not a regular file", what, path);
		close(fd);
		return -1;
	}
	return fd;
}

static int listen_tcp(const char *host, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		al_log_warnx("listen: '%s' is not an IPv4 address", host);
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0) {
		al_log_warn("listen: %s:%u", host, port);
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- domains ------------------------------------------------------------ */

/* The configuration's seccomp action for a domain, in the sandbox's terms. */
static enum al_seccomp_mode seccomp_mode(const struct al_config *cfg, enum al_domain_id id)
{
	enum al_seccomp_action a = cfg->domain[id].seccomp;
	if (a == AL_SECCOMP_ACTION_LEVEL)
		a = al_seccomp_action_for_level(cfg->level);
	switch (a) {
	case AL_SECCOMP_ACTION_ERRNO: return AL_SECCOMP_ERRNO;
	case AL_SECCOMP_ACTION_NOTIFY: return AL_SECCOMP_NOTIFY;
	default: return AL_SECCOMP_KILL;
	}
}

/*
 * Builds the domain's spec: the profile, the level's choices, the
 * configuration's limits, and the fds it gets at fixed numbers.
 */
static int build_spec(struct sup *s, struct sup_domain *dom, struct al_spec *spec, char **argv, char **envp)
{
	const struct al_domain_config *dc = &s->cfg->domain[dom->id];
	int rc;
	al_spec_init(spec);
	if ((rc = al_profile_load(spec, dom_profiles[dom->id])) < 0) {
		al_log_warnx("%s: profile '%s' could not be loaded", dom_names[dom->id], dom_profiles[dom->id]);
		return rc;
	}
	if (dc->memory)
		spec->cg_memory = dc->memory;
	if (dc->pids)
		spec->cg_pids = dc->pids;
	if (dc->cpu_milli)
		spec->cg_cpu_percent = (dc->cpu_milli + 9) / 10;
	if (dc->cpus_set) {
		spec->cpus = dc->cpus;
		spec->has_cpus = true;
	}
	spec->seccomp_mode = seccomp_mode(s->cfg, dom->id);
	/* partitioning and speculation controls of the level (docs/levels.md); after cpus above, which win */
	if ((rc = al_sandbox_apply_level(spec, (enum al_sandbox_level)s->cfg->level,
					 dom->id == AL_DOMAIN_AI ? AL_SANDBOX_ROLE_AI : AL_SANDBOX_ROLE_PROTO)) < 0)
		return rc;
	spec->exec_fd = dom->exe_fd;
	spec->argv = argv;
	spec->envp = envp;
	if (dom->id == AL_DOMAIN_AI) {
		if ((rc = al_spec_add_fd(spec, s->chan_fd, AI_FD_CHANNEL)) < 0 ||
		    (rc = al_spec_add_fd(spec, s->model_fd, AI_FD_MODEL)) < 0 ||
		    (s->tok_fd >= 0 && (rc = al_spec_add_fd(spec, s->tok_fd, AI_FD_TOKENIZER)) < 0))
			return rc;
	} else {
		if (s->cfg->proto.stdio)
			spec->keep_stdio = true;
		else if ((rc = al_spec_add_fd(spec, s->listenfd, PROTO_FD_LISTEN)) < 0)
			return rc;
		if ((rc = al_spec_add_fd(spec, s->chan_fd, PROTO_FD_CHANNEL)) < 0)
			return rc;
		/* An fd, not a path: the token file is private to root (mode 0600),
		 * which the domain's unprivileged user could not open. */
		if (s->token_fd >= 0 && (rc = al_spec_add_fd(spec, s->token_fd, PROTO_FD_TOKEN)) < 0)
			return rc;
	}
	return al_seccomp_prepare(spec);
}

static int epoll_add(struct sup *s, int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};
	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Spawns one domain, attests it, then lets it exec. 0 or -errno (all undone). */
static int domain_start(struct sup *s, struct sup_domain *dom)
{
	char threads[16], max_tokens[16], body[32], conc[16], fd_listen[8], fd_chan[8], fd_token[8];
	const struct al_config *cfg = s->cfg;
	snprintf(threads, sizeof threads, "%u", cfg->ai.threads);
	snprintf(max_tokens, sizeof max_tokens, "%u", cfg->ai.max_tokens);
	snprintf(body, sizeof body, "%llu", (unsigned long long)cfg->proto.body_limit);
	snprintf(conc, sizeof conc, "%u", cfg->proto.concurrency);
	snprintf(fd_listen, sizeof fd_listen, "%d", PROTO_FD_LISTEN);
	snprintf(fd_chan, sizeof fd_chan, "%d", PROTO_FD_CHANNEL);
	snprintf(fd_token, sizeof fd_token, "%d", PROTO_FD_TOKEN);
	char *ai_argv[] = {"airlock-ai", "--threads", threads, NULL};
	char *proto_argv[48] = {"airlock-proto"};
	int n = 1;
	if (cfg->proto.stdio) {
		proto_argv[n++] = "--stdio";
	} else {
		proto_argv[n++] = "--listen-fd";
		proto_argv[n++] = fd_listen;
	}
	proto_argv[n++] = "--channel-fd";
	proto_argv[n++] = fd_chan;
	proto_argv[n++] = "--body-limit";
	proto_argv[n++] = body;
	proto_argv[n++] = "--max-inflight";
	proto_argv[n++] = conc;
	proto_argv[n++] = "--max-tokens";
	proto_argv[n++] = max_tokens;
	if (s->token_fd >= 0) {
		proto_argv[n++] = "--token-fd";
		proto_argv[n++] = fd_token;
	}
	for (size_t i = 0; i < cfg->proto.n_allowed_origins && n < 44; i++) {
		proto_argv[n++] = "--allow-origin";
		proto_argv[n++] = cfg->proto.allowed_origins[i];
	}
	proto_argv[n] = NULL;
	char *envp[] = {"PATH=/nonexistent", NULL};

	struct al_spec spec;
	int rc = build_spec(s, dom, &spec, dom->id == AL_DOMAIN_AI ? ai_argv : proto_argv, envp);
	if (rc < 0) {
		al_spec_free(&spec);
		return rc;
	}
	struct al_domain *d = NULL;
	const char *failed = NULL;
	void *report = NULL;
	if ((rc = al_domain_spawn(&spec, &d)) < 0) {
		al_log_warnx("%s: spawn failed: %s", dom_names[dom->id], strerror(-rc));
		goto fail;
	}
	/* Attest before a single byte of the worker runs: a mismatch kills it. */
	if ((rc = al_domain_attest(d, &spec, &report, &failed)) < 0) {
		sup_event(s, "attest-mismatch", true, json_pack("{s:s, s:s}", "domain", dom_names[dom->id],
			  "item", failed ? failed : "?"));
		goto fail;
	}
	if ((rc = al_domain_start(d)) < 0) {
		al_log_warnx("%s: start failed: %s", dom_names[dom->id], strerror(-rc));
		goto fail;
	}
	dom->d = d;
	dom->state = DOM_RUNNING;
	dom->started_ns = al_now_ns();
	json_decref(dom->attestation);
	dom->attestation = report;
	epoll_add(s, al_domain_pidfd(d), TAG(TAG_PIDFD, dom->id));
	if (al_domain_notify_fd(d) >= 0)
		epoll_add(s, al_domain_notify_fd(d), TAG(TAG_NOTIFY, dom->id));
	sup_event(s, "spawn", false, json_pack("{s:s, s:i, s:s, s:O}", "domain", dom_names[dom->id],
		  "pid", (int)al_domain_pid(d), "profile", dom_profiles[dom->id],
		  "attested", report ? (json_t *)report : json_null()));
	al_spec_free(&spec);
	return 0;
fail:
	json_decref(report);
	if (d)
		al_domain_free(d);
	al_spec_free(&spec);
	return rc < 0 ? rc : -EIO;
}

static void domain_reap(struct sup *s, struct sup_domain *dom, bool expected)
{
	if (!dom->d)
		return;
	int status = 0;
	int pidfd = al_domain_pidfd(dom->d);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, pidfd, NULL);
	if (al_domain_notify_fd(dom->d) >= 0)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, al_domain_notify_fd(dom->d), NULL);
	if (!expected || al_domain_wait(dom->d, &status) < 0) {
		al_domain_kill(dom->d, SIGKILL);
		al_domain_wait(dom->d, &status);
	}
	dom->last_status = status;
	sup_event(s, "exit", !expected, json_pack("{s:s, s:i, s:b, s:i, s:i}", "domain", dom_names[dom->id],
		  "pid", (int)al_domain_pid(dom->d), "expected", expected,
		  "exit_code", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		  "signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0));
	al_domain_free(dom->d);
	dom->d = NULL;
	dom->state = DOM_STOPPED;
}

/* Ends a domain: SIGTERM, a grace period on its pidfd (readable once it exits), then SIGKILL. */
static void domain_stop(struct sup *s, struct sup_domain *dom)
{
	if (!dom->d)
		return;
	al_domain_kill(dom->d, SIGTERM);
	struct pollfd pfd = {.fd = al_domain_pidfd(dom->d), .events = POLLIN};
	int rc;
	do
		rc = poll(&pfd, 1, STOP_GRACE_MS);
	while (rc < 0 && errno == EINTR);
	domain_reap(s, dom, rc == 1);
}

/*
 * Starts both domains on a fresh channel. A channel that a dead or
 * misbehaving peer has touched is never reused, so a restart of either
 * domain restarts both.
 */
static int domains_start(struct sup *s)
{
	if (s->chan_fd >= 0) {
		al_chan_shutdown(s->chan_fd);
		close(s->chan_fd);
		s->chan_fd = -1;
	}
	int rc = al_chan_create(NULL, &s->chan_fd);
	if (rc < 0) {
		al_log_warnx("channel: %s", al_chan_strerror(rc));
		return rc;
	}
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		if ((rc = domain_start(s, &s->dom[i])) < 0) {
			for (int k = 0; k < i; k++)
				domain_reap(s, &s->dom[k], false);
			return rc;
		}
	}
	return 0;
}

static void domains_stop(struct sup *s)
{
	if (s->chan_fd >= 0)
		al_chan_shutdown(s->chan_fd); /* both sides see the channel closed */
	for (int i = AL_DOMAIN_COUNT - 1; i >= 0; i--)
		domain_stop(s, &s->dom[i]);
}

/* A domain ended on its own: record it, end its peer, schedule a clean restart. */
static void domain_died(struct sup *s, struct sup_domain *dom)
{
	domain_reap(s, dom, false);
	/* Over stdio the protocol domain ends cleanly when its client closes
	 * stdin: the session is over, a restart would only read EOF again. */
	if (s->cfg->proto.stdio && dom->id == AL_DOMAIN_PROTO && !s->stopping && WIFEXITED(dom->last_status) &&
	    WEXITSTATUS(dom->last_status) == 0) {
		s->stopping = true;
		sup_event(s, "stop-requested", true, json_pack("{s:s}", "by", "end of input"));
	}
	/* Tell the survivor at once that its channel is gone: the protocol domain
	 * then answers the requests in flight with a clear error and ends by
	 * itself, as does the AI domain; SIGTERM only after a grace period. */
	if (s->chan_fd >= 0)
		al_chan_shutdown(s->chan_fd);
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		if (&s->dom[i] != dom && s->dom[i].d) {
			struct pollfd pfd = {.fd = al_domain_pidfd(s->dom[i].d), .events = POLLIN};
			while (poll(&pfd, 1, PEER_GRACE_MS) < 0 && errno == EINTR)
				;
			domain_stop(s, &s->dom[i]);
		}
	if (s->stopping)
		return;
	uint64_t now = al_now_ns();
	if (now - dom->window_start_ns > CRASH_WINDOW_NS) {
		dom->window_start_ns = now;
		dom->recent_restarts = 0;
	}
	if (++dom->recent_restarts > CRASH_LOOP_RESTARTS) {
		dom->state = DOM_FAILED;
		sup_event(s, "crash-loop", true, json_pack("{s:s, s:i}", "domain", dom_names[dom->id],
			  "restarts", (int)dom->recent_restarts - 1));
		return;
	}
	dom->restarts++;
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
	s->restart_at_ns = now + (uint64_t)s->backoff_ms * 1000000ULL;
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		if (s->dom[i].state != DOM_FAILED)
			s->dom[i].state = DOM_BACKOFF;
}

static void restart_if_due(struct sup *s)
{
	if (!s->restart_at_ns || al_now_ns() < s->restart_at_ns || s->stopping)
		return;
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		if (s->dom[i].state == DOM_FAILED)
			return;
	s->restart_at_ns = 0;
	int rc = domains_start(s);
	sup_event(s, "restart", rc < 0, json_pack("{s:i, s:s}", "backoff_ms", (int)s->backoff_ms,
		  "result", rc < 0 ? strerror(-rc) : "ok"));
	if (rc < 0)
		domain_died(s, &s->dom[AL_DOMAIN_AI]);
}

/* ---- status ------------------------------------------------------------- */

/* Resident memory and CPU time of a running domain, from its /proc files. */
static json_t *domain_usage(pid_t pid)
{
	char path[64], *buf = NULL;
	long long rss_kb = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (al_read_file_at(AT_FDCWD, path, 1 << 16, &buf, NULL) == 0) {
		char *l = strstr(buf, "\nVmRSS:");
		if (l)
			rss_kb = strtoll(l + 7, NULL, 10);
		free(buf);
	}
	double cpu_s = -1;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (al_read_file_at(AT_FDCWD, path, 1 << 16, &buf, NULL) == 0) {
		/* Fields after the last ')' (the name may hold spaces): utime is the 12th, stime the 13th. */
		char *p = strrchr(buf, ')');
		unsigned long long ut = 0, st = 0;
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
			cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
		free(buf);
	}
	return json_pack("{s:I, s:f}", "rss_kib", (json_int_t)rss_kb, "cpu_seconds", cpu_s);
}

static json_t *sup_status(struct sup *s)
{
	json_t *doms = json_array();
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		struct sup_domain *d = &s->dom[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:i}", "name", dom_names[i], "profile", dom_profiles[i],
				      "state", dom_state_names[d->state], "restarts", (int)d->restarts,
				      "pid", d->d ? (int)al_domain_pid(d->d) : 0);
		if (d->d) {
			json_object_set_new(o, "uptime_s", json_real((double)(al_now_ns() - d->started_ns) / 1e9));
			json_object_set_new(o, "usage", domain_usage(al_domain_pid(d->d)));
		}
		json_object_set(o, "attested", d->attestation ? d->attestation : json_null());
		json_array_append_new(doms, o);
	}
	return json_pack("{s:b, s:s, s:f, s:s, s:s, s:I, s:o}", "ok", 1, "version", AL_VERSION,
			 "uptime_s", (double)(al_now_ns() - s->started_ns) / 1e9, "level", al_level_name(s->cfg->level),
			 "listen", s->cfg->proto.stdio ? "stdio" : s->cfg->proto.host,
			 "seccomp_violations", (json_int_t)s->violations, "domains", doms);
}

static void on_control(struct sup *s)
{
	int cfd = al_control_accept(s->ctlfd);
	if (cfd < 0)
		return;
	struct al_control_req req;
	int rc = al_control_read_request(cfd, &req);
	json_t *reply;
	if (rc < 0) {
		reply = json_pack("{s:b, s:s}", "ok", 0, "error", "malformed request");
	} else if (req.op == AL_CONTROL_STATUS) {
		reply = sup_status(s);
	} else if (req.op == AL_CONTROL_STOP) {
		s->stopping = true;
		sup_event(s, "stop-requested", true, json_pack("{s:s}", "by", "control socket"));
		reply = json_pack("{s:b, s:s}", "ok", 1, "message", "stopping");
	} else {
		reply = json_pack("{s:b, s:s}", "ok", 0, "error", "not supported by this supervisor");
	}
	al_control_reply(cfd, reply);
	json_decref(reply);
	close(cfd);
}

static void on_notify(struct sup *s, struct sup_domain *dom)
{
	struct al_violation v;
	if (!dom->d || al_domain_notify_handle(dom->d, &v) < 0)
		return;
	s->violations++;
	sup_event(s, "seccomp-violation", true, json_pack("{s:s, s:i, s:s, s:i, s:[I,I,I,I,I,I]}",
		  "domain", dom_names[dom->id], "pid", (int)v.pid, "syscall", v.name, "nr", v.nr, "args",
		  (json_int_t)v.args[0], (json_int_t)v.args[1], (json_int_t)v.args[2],
		  (json_int_t)v.args[3], (json_int_t)v.args[4], (json_int_t)v.args[5]));
}

/* sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	if (len >= sizeof sa.sun_path)
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sa,
	       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

/* ---- the supervisor ----------------------------------------------------- */

static int sup_loop(struct sup *s)
{
	while (!s->stopping) {
		struct epoll_event evs[16];
		int n = epoll_wait(s->epfd, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			al_log_warn("epoll_wait");
			return -1;
		}
		for (int i = 0; i < n && !s->stopping; i++) {
			uint32_t kind = evs[i].data.u32 & 0xff, d = evs[i].data.u32 >> 8;
			switch (kind) {
			case TAG_SIGNAL: {
				struct signalfd_siginfo si;
				if (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si &&
				    (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)) {
					s->stopping = true;
					sup_event(s, "stop-requested", true, json_pack("{s:s}", "by",
						  si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT"));
				}
				break;
			}
			case TAG_TIMER: {
				uint64_t ticks;
				(void)!read(s->timerfd, &ticks, sizeof ticks);
				if (s->audit)
					al_audit_tick(s->audit);
				restart_if_due(s);
				break;
			}
			case TAG_CONTROL:
				on_control(s);
				break;
			case TAG_PIDFD:
				if (d < AL_DOMAIN_COUNT && s->dom[d].d)
					domain_died(s, &s->dom[d]);
				break;
			case TAG_NOTIFY:
				if (d < AL_DOMAIN_COUNT)
					on_notify(s, &s->dom[d]);
				break;
			default:
				break;
			}
		}
	}
	return 0;
}

static int mkdir_private(const char *dir)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		al_log_warn("state directory %s", dir);
		return -1;
	}
	return 0;
}

/* Fail closed: every protection the configuration requires must be present. */
static int require_protections(struct sup *s)
{
	const char *req[3 * AL_FEAT_COUNT];
	size_t n = al_config_required_items(s->cfg, req, AL_ARRAY_LEN(req));
	struct al_hw_report *hw = al_hw_probe("/");
	if (!hw)
		return -1;
	int missing = al_hw_report_require(hw, req, n, stderr);
	json_t *names = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(names, json_string(req[i]));
	al_hw_report_free(hw);
	sup_event(s, "protections-required", true, json_pack("{s:o, s:i}", "required", names, "missing", missing));
	if (missing != 0) {
		al_log_warnx("refusing to start: %d required protection(s) missing (see airlock check)",
			     missing < 0 ? 1 : missing);
		return -1;
	}
	return 0;
}

/*
 * Opens every file a domain needs once and checks it against the manifest;
 * these very fds are what the domains receive or execute. Without a manifest
 * (first run) one is made from them and recorded in the audit log.
 */
static int open_and_verify_files(struct sup *s)
{
	struct al_config_file files[AL_CONFIG_MAX_FILES];
	size_t n = al_config_files(s->cfg, files);
	int fds[AL_CONFIG_MAX_FILES];
	for (size_t i = 0; i < n; i++)
		fds[i] = -1;
	struct al_manifest_key key;
	struct al_manifest *m = NULL;
	char mpath[512];
	snprintf(mpath, sizeof mpath, "%s/%s", s->cfg->state_dir, AL_MANIFEST_FILE);
	int rc = al_manifest_key_load(s->cfg->state_dir, true, &key);
	if (rc < 0) {
		al_log_warnx("manifest key in %s: %s", s->cfg->state_dir, strerror(-rc));
		return -1;
	}
	bool first_run = access(mpath, F_OK) < 0 && errno == ENOENT;
	if (first_run)
		m = al_manifest_new(&key);
	else if ((rc = al_manifest_load(mpath, &key, &m)) < 0) {
		sup_event(s, "integrity-violation", true, json_pack("{s:s, s:s}", "file", mpath, "reason", strerror(-rc)));
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		if ((fds[i] = open_verified(files[i].name, files[i].path)) < 0)
			goto fail;
		rc = first_run ? al_manifest_add_fd(m, files[i].name, files[i].path, fds[i])
			       : al_manifest_verify_fd(m, files[i].name, fds[i]);
		if (rc < 0) {
			sup_event(s, "integrity-violation", true, json_pack("{s:s, s:s, s:s}", "name", files[i].name,
				  "path", files[i].path, "reason", rc == -EBADMSG ? "digest mismatch" :
				  rc == -ENOENT ? "not in the manifest" : strerror(-rc)));
			al_log_warnx("refusing to start: %s (%s) %s", files[i].name, files[i].path,
				     rc == -EBADMSG ? "does not match the manifest" : "could not be verified");
			goto fail;
		}
	}
	if (first_run) {
		if ((rc = al_manifest_save(m, mpath)) < 0) {
			al_log_warnx("manifest %s: %s", mpath, strerror(-rc));
			goto fail;
		}
		sup_event(s, "manifest-created", true, json_pack("{s:s, s:i}", "path", mpath, "files", (int)n));
	} else {
		sup_event(s, "files-verified", false, json_pack("{s:s, s:i}", "manifest", mpath, "files", (int)n));
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = files[i].name;
		int *slot = !strcmp(name, "ai.model") ? &s->model_fd : !strcmp(name, "ai.tokenizer") ? &s->tok_fd :
			    !strcmp(name, "ai.exe") ? &s->dom[AL_DOMAIN_AI].exe_fd :
			    !strcmp(name, "proto.exe") ? &s->dom[AL_DOMAIN_PROTO].exe_fd : NULL;
		if (slot) {
			*slot = fds[i];
			fds[i] = -1;
		} else {
			close(fds[i]);
		}
	}
	al_manifest_free(m);
	sodium_memzero(&key, sizeof key);
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	al_manifest_free(m);
	sodium_memzero(&key, sizeof key);
	return -1;
}

static int loop_setup(struct sup *s)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec its = {.it_interval = {TICK_MS / 1000, (TICK_MS % 1000) * 1000000L},
				.it_value = {TICK_MS / 1000, (TICK_MS % 1000) * 1000000L}};
	if (s->sigfd < 0 || s->epfd < 0 || s->timerfd < 0 || timerfd_settime(s->timerfd, 0, &its, NULL) < 0 ||
	    epoll_add(s, s->sigfd, TAG_SIGNAL) < 0 || epoll_add(s, s->timerfd, TAG_TIMER) < 0 ||
	    epoll_add(s, s->ctlfd, TAG_CONTROL) < 0) {
		al_log_warn("event loop setup");
		return -1;
	}
	return 0;
}

/*
 * The start sequence, top to bottom: audit, required protections, verified
 * files, control socket, listener, channel and domains (spawned, attested),
 * ready; then the loop; then a clean stop that leaves nothing behind.
 */
int al_sup_run(const struct al_config *cfg, bool verbose)
{
	struct sup s = {.cfg = cfg, .verbose = verbose, .epfd = -1, .sigfd = -1, .timerfd = -1, .ctlfd = -1,
			.listenfd = -1, .model_fd = -1, .tok_fd = -1, .token_fd = -1, .chan_fd = -1, .started_ns = al_now_ns()};
	int status = 1;
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		s.dom[i].id = (enum al_domain_id)i;
		s.dom[i].exe_fd = -1;
		s.dom[i].last_status = -1;
	}
	const char *listen = cfg->proto.stdio ? "stdio" : cfg->proto.host;

	if (mkdir_private(cfg->state_dir) < 0)
		return 1;
	char keypath[600], statepath[600];
	snprintf(keypath, sizeof keypath, "%s.key", cfg->audit_log);
	snprintf(statepath, sizeof statepath, "%s.state", cfg->audit_log);
	if (al_audit_open(&s.audit, cfg->audit_log, keypath, statepath) < 0) {
		al_log_warnx("audit log %s could not be opened", cfg->audit_log);
		return 1;
	}
	sup_event(&s, "start", true, json_pack("{s:s, s:i, s:s, s:s, s:s?}", "version", AL_VERSION,
		  "pid", (int)getpid(), "level", al_level_name(cfg->level), "listen", listen, "config", cfg->path));

	if (require_protections(&s) < 0 || open_and_verify_files(&s) < 0)
		goto out;
	if (cfg->proto.token_file && (s.token_fd = open_verified("proto.token_file", cfg->proto.token_file)) < 0)
		goto out;
	if ((s.ctlfd = al_control_listen(cfg->control_socket)) < 0) {
		errno = -s.ctlfd;
		s.ctlfd = -1;
		al_log_warn("control socket %s", cfg->control_socket);
		goto out;
	}
	if (!cfg->proto.stdio && (s.listenfd = listen_tcp(cfg->proto.host, cfg->proto.port)) < 0)
		goto out;
	if (loop_setup(&s) < 0)
		goto out;
	if (domains_start(&s) < 0) {
		al_log_warnx("refusing to run: the domains could not be started and attested");
		goto out;
	}
	sup_event(&s, "ready", true, json_pack("{s:s, s:i}", "listen", listen, "port", (int)cfg->proto.port));
	notify_ready();
	if (!cfg->proto.stdio)
		fprintf(stderr, "airlock: ready on http://%s:%u/mcp (control socket %s)\n", cfg->proto.host,
			cfg->proto.port, cfg->control_socket);

	status = sup_loop(&s) < 0 ? 1 : 0;
out:
	s.stopping = true;
	domains_stop(&s);
	sup_event(&s, "stop", true, json_pack("{s:i}", "status", status));
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		json_decref(s.dom[i].attestation);
		if (s.dom[i].exe_fd >= 0)
			close(s.dom[i].exe_fd);
	}
	int fds[] = {s.chan_fd, s.model_fd, s.tok_fd, s.token_fd, s.listenfd, s.sigfd, s.timerfd, s.epfd};
	for (size_t i = 0; i < AL_ARRAY_LEN(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (s.ctlfd >= 0) {
		close(s.ctlfd);
		unlink(cfg->control_socket);
	}
	if (s.audit)
		al_audit_close(s.audit);
	return status;
}
