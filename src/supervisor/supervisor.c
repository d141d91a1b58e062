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
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "airlock/channel.h"
#include "airlock/worker.h"
#include "al_config.h"
#include "audit/audit.h"
#include "common/log.h"
#include "common/util.h"
#include "hw/hw.h"
#include "detect/detect.h"
#include "integrity/manifest.h"
#include "integrity/monitor.h"
#include "respond/level.h"
#include "respond/respond.h"
#include "sandbox/sandbox.h"
#include "supervisor/control.h"
#include "supervisor/domlog.h"
#include "supervisor/evidence.h"

#define TICK_MS 1000
#define STOP_GRACE_MS 3000
/* A peer left alone on a closed channel ends by itself within this (proto: 0.5 s). */
#define PEER_GRACE_MS 1000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
/* More restarts than this within CRASH_WINDOW_NS is a crash loop: restarts stop. */
#define CRASH_LOOP_RESTARTS 5
#define CRASH_WINDOW_NS (60ULL * 1000000000ULL)

enum dom_state { DOM_STOPPED, DOM_RUNNING, DOM_BACKOFF, DOM_FAILED, DOM_LOCKED };

static const char *const dom_state_names[] = {"stopped", "running", "restarting", "failed (crash loop)",
					      "locked down (airlock unlock)"};
static const char *const dom_names[] = {"ai", "proto"};

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
	enum al_level spawned_level; /* the level its spec was built for */
	bool spawned_tight;         /* built with the side-channel tightening */
	bool frozen;
	struct al_detector det;
	struct al_metrics counters; /* violations and restarts the supervisor counts */
	struct al_proc_baseline pb_init, pb_worker;
	pid_t worker;               /* the program: the child of the domain's init */
	uint64_t incidents;
	struct al_domlog log;       /* its fds 1 and 2, drained into our log */
	int report_r, report_w;     /* its report pipe (worker.h): read end ours */
	bool reported;              /* this incarnation has reported (once counts) */
};

/* The files the domains were started from: open, verified, watched. */
struct sup_files {
	size_t n;
	const char *name[AL_CONFIG_MAX_FILES];
	const char *path[AL_CONFIG_MAX_FILES];
	int fd[AL_CONFIG_MAX_FILES];
	unsigned char digest[AL_CONFIG_MAX_FILES][AL_MANIFEST_DIGEST_LEN];
	/* Each domain's profile, read once from its verified fd: every spawn and
	 * restart is built from these bytes, never from the disk again. */
	char *profile[AL_DOMAIN_COUNT];
	size_t profile_len[AL_DOMAIN_COUNT];
};

struct sup {
	const struct al_config *cfg;
	bool verbose;
	struct al_audit *audit;
	bool earlier_runs;          /* the audit log had records before this start */
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
	/* guard: levels, integrity, detection, response */
	struct al_level_state lv;
	struct sup_files files;
	struct al_monitor *mon;
	struct al_manifest_key key;
	bool locked;                /* integrity lockdown: the AI domain stays stopped */
	bool lock_all;              /* the protocol domain's own executable failed: it stays stopped too */
	char lock_reason[256];
	bool tighten;               /* side-channel response in force until the level is back at base */
	int audit_verbosity;        /* the level's, raised by protocol abuse */
	uint64_t last_tick_ns;
	uint64_t last_integrity_ns;
	uint64_t guard_cpu_ns;      /* thread CPU spent in detection and /proc checks */
	uint64_t incidents;
	json_t *last_incident;
	bool in_died;               /* domain_died is handling an exit: it restarts */
};

static void handle_incident(struct sup *s, struct sup_domain *dom, struct al_incident *inc);
static void level_changed(struct sup *s, enum al_level from, const char *why);
static json_t *sup_unlock(struct sup *s);
static void guard_tick(struct sup *s);

/* epoll tags: the low byte names the source, the next the domain. */
enum { TAG_SIGNAL = 1, TAG_TIMER, TAG_CONTROL, TAG_PIDFD, TAG_NOTIFY, TAG_LOG, TAG_REPORT };
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
static enum al_seccomp_mode seccomp_mode(const struct al_config *cfg, enum al_level level, enum al_domain_id id)
{
	return cfg->domain[id].seccomp_from_level ? al_level_policy(level)->seccomp : cfg->domain[id].seccomp;
}

/*
 * PR_SET_TSC traps rdtsc, and the vDSO's clock_gettime reads the TSC when the
 * clocksource is "tsc": every program would die of SIGSEGV on its first
 * clock read. Trapping is applied only where the clocksource is something else.
 */
static bool tsc_trap_safe(void)
{
	AL_AUTOFREE char *cs = NULL;
	if (al_read_file_at(AT_FDCWD, "/sys/devices/system/clocksource/clocksource0/current_clocksource", 256, &cs,
			    NULL) < 0)
		return false;
	return strncmp(cs, "tsc", 3) != 0;
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
	if (!s->files.profile[dom->id]) {
		al_log_warnx("%s: profile '%s' not found (etc/profiles/%s.conf)", dom_names[dom->id],
			     al_config_profile(dom->id), al_config_profile(dom->id));
		return -ENOENT;
	}
	if ((rc = al_profile_load_mem(spec, s->files.profile[dom->id], s->files.profile_len[dom->id],
				      s->cfg->domain[dom->id].profile)) < 0) {
		al_log_warnx("%s: profile '%s' could not be loaded", dom_names[dom->id], al_config_profile(dom->id));
		return rc;
	}
	if (dc->memory)
		spec->cg_memory = dc->memory;
	if (dc->pids)
		spec->cg_pids = dc->pids;
	/* cpu = max (0) means no quota at all, not the profile's. */
	spec->cg_cpu_percent = dc->cpu_milli ? (dc->cpu_milli + 9) / 10 : 0;
	if (dc->cpus_set) {
		spec->cpus = dc->cpus;
		spec->has_cpus = true;
	}
	spec->seccomp_mode = seccomp_mode(s->cfg, s->lv.current, dom->id);
	/* The level's partitioning and speculation controls (docs/levels.md). A
	 * side-channel incident ("tighten") applies at least HIGH's. After the
	 * configured cpus above, which win. */
	enum al_level lvl = s->lv.current;
	if (s->tighten && lvl < AL_LEVEL_HIGH)
		lvl = AL_LEVEL_HIGH;
	if ((rc = al_sandbox_apply_partition(spec, &al_level_policy(lvl)->part,
					 dom->id == AL_DOMAIN_AI ? AL_SANDBOX_ROLE_AI : AL_SANDBOX_ROLE_PROTO)) < 0)
		return rc;
	spec->exec_fd = dom->exe_fd;
	spec->argv = argv;
	spec->envp = envp;
	/* Exactly the fds of the worker contract (include/airlock/worker.h), and
	 * the attestation checks that nothing else is open. Our own stdio is not
	 * passed: output goes to a pipe we drain; only the protocol domain, under
	 * --stdio, holds the client's streams. */
	spec->keep_stdio = false;
	bool stdio = dom->id == AL_DOMAIN_PROTO && s->cfg->proto.stdio;
	if ((stdio ? (rc = al_spec_add_fd(spec, STDIN_FILENO, STDIN_FILENO)) < 0 ||
			     (rc = al_spec_add_fd(spec, STDOUT_FILENO, STDOUT_FILENO)) < 0
		   : (rc = al_spec_add_fd(spec, dom->log.wfd, AL_WORKER_FD_LOG_OUT)) < 0) ||
	    (rc = al_spec_add_fd(spec, dom->log.wfd, AL_WORKER_FD_LOG_ERR)) < 0)
		return rc;
	bool chan = dom->id == AL_DOMAIN_AI || !s->locked;
	if (chan && (rc = al_spec_add_fd(spec, dom->report_w, AL_WORKER_FD_REPORT)) < 0)
		return rc;
	if (dom->id == AL_DOMAIN_AI) {
		if ((rc = al_spec_add_fd(spec, s->chan_fd, AL_AI_FD_CHANNEL)) < 0 ||
		    (rc = al_spec_add_fd(spec, s->model_fd, AL_AI_FD_MODEL)) < 0 ||
		    (s->tok_fd >= 0 && (rc = al_spec_add_fd(spec, s->tok_fd, AL_AI_FD_TOKENIZER)) < 0))
			return rc;
	} else {
		if (!stdio && (rc = al_spec_add_fd(spec, s->listenfd, AL_PROTO_FD_LISTEN)) < 0)
			return rc;
		if (chan && (rc = al_spec_add_fd(spec, s->chan_fd, AL_PROTO_FD_CHANNEL)) < 0)
			return rc;
		/* An fd, not a path: the token file is private to root (mode 0600),
		 * which the domain's unprivileged user could not open. */
		if (s->token_fd >= 0 && (rc = al_spec_add_fd(spec, s->token_fd, AL_PROTO_FD_TOKEN)) < 0)
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
	char threads[16], max_tokens[16], body[32], conc[16], fd_listen[8], fd_chan[8], fd_token[8], fd_report[8],
		conns[24];
	const struct al_config *cfg = s->cfg;
	snprintf(threads, sizeof threads, "%u", cfg->ai.threads);
	snprintf(max_tokens, sizeof max_tokens, "%u", cfg->ai.max_tokens);
	snprintf(body, sizeof body, "%llu", (unsigned long long)cfg->proto.body_limit);
	snprintf(conc, sizeof conc, "%u", cfg->proto.concurrency);
	snprintf(fd_listen, sizeof fd_listen, "%d", AL_PROTO_FD_LISTEN);
	snprintf(fd_chan, sizeof fd_chan, "%d", AL_PROTO_FD_CHANNEL);
	snprintf(fd_token, sizeof fd_token, "%d", AL_PROTO_FD_TOKEN);
	snprintf(fd_report, sizeof fd_report, "%d", AL_WORKER_FD_REPORT);
	/* The model's file name, without its extension, names it to clients
	 * (the supervisor reads no model file, only its path). */
	char model_name[64];
	const char *base = strrchr(cfg->ai.model, '/');
	al_strlcpy(model_name, base ? base + 1 : cfg->ai.model, sizeof model_name);
	char *dot = strrchr(model_name, '.');
	if (dot && dot != model_name)
		*dot = '\0';
	char *ai_argv[] = {"airlock-ai", "--threads", threads, "--name", model_name, NULL};
	char *proto_argv[48] = {"airlock-proto"};
	int n = 1;
	if (cfg->proto.stdio) {
		proto_argv[n++] = "--stdio";
	} else {
		proto_argv[n++] = "--listen-fd";
		proto_argv[n++] = fd_listen;
	}
	/* In lockdown the protocol domain runs without a channel: clients get its
	 * "AI domain not connected" tool error instead of a hung request. */
	if (!s->locked) {
		proto_argv[n++] = "--channel-fd";
		proto_argv[n++] = fd_chan;
		proto_argv[n++] = "--report-fd";
		proto_argv[n++] = fd_report;
	}
	proto_argv[n++] = "--body-limit";
	proto_argv[n++] = body;
	proto_argv[n++] = "--max-inflight";
	proto_argv[n++] = conc;
	/* One thread per connection: keep them below the domain's pids limit, so
	 * an extra client is refused by the server rather than by a failed clone. */
	uint64_t pids = cfg->domain[AL_DOMAIN_PROTO].pids;
	uint64_t max_conns = pids > 24 ? pids - 16 : 8;
	snprintf(conns, sizeof conns, "%llu", (unsigned long long)(max_conns > 4096 ? 4096 : max_conns));
	proto_argv[n++] = "--max-connections";
	proto_argv[n++] = conns;
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
	dom->spawned_level = s->lv.current;
	dom->spawned_tight = s->tighten;
	dom->frozen = false;
	dom->worker = 0;
	dom->reported = false;
	dom->pb_init.have = dom->pb_worker.have = false;
	al_detector_reset_counters(&dom->det);
	json_decref(dom->attestation);
	dom->attestation = report;
	epoll_add(s, al_domain_pidfd(d), TAG(TAG_PIDFD, dom->id));
	if (al_domain_notify_fd(d) >= 0)
		epoll_add(s, al_domain_notify_fd(d), TAG(TAG_NOTIFY, dom->id));
	sup_event(s, "spawn", false, json_pack("{s:s, s:i, s:s, s:O}", "domain", dom_names[dom->id],
		  "pid", (int)al_domain_pid(d), "profile", al_config_profile(dom->id),
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
	if (dom->frozen) {
		/* SIGKILL first: the tasks thaw only to die. */
		al_domain_kill(dom->d, SIGKILL);
		al_domain_thaw(dom->d);
		expected = false;
	}
	if (!expected || al_domain_wait(dom->d, &status) < 0) {
		al_domain_kill(dom->d, SIGKILL);
		al_domain_wait(dom->d, &status);
	}
	dom->frozen = false;
	dom->last_status = status;
	al_domlog_drain(&dom->log, al_now_ns());
	al_domlog_flush(&dom->log);
	sup_event(s, "exit", !expected, json_pack("{s:s, s:i, s:b, s:b, s:i, s:i}", "domain", dom_names[dom->id],
		  "pid", (int)al_domain_pid(dom->d), "expected", expected, "reported", dom->reported,
		  "exit_code", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		  "signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0));
	al_domain_free(dom->d);
	dom->d = NULL;
	dom->state = DOM_STOPPED;
	dom->worker = 0;
}

/* Ends a domain: SIGTERM, a grace period on its pidfd (readable once it exits), then SIGKILL. */
static void domain_stop(struct sup *s, struct sup_domain *dom)
{
	if (!dom->d)
		return;
	if (dom->frozen) {
		domain_reap(s, dom, false);
		return;
	}
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
		if (s->locked && (i == AL_DOMAIN_AI || s->lock_all)) {
			s->dom[i].state = DOM_LOCKED;
			continue;
		}
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

/*
 * What a domain's own exit says about it, and only about it
 * (supervisor/evidence.h): a peer's misdeeds arrive on the report pipe.
 */
static void exit_incident(struct sup *s, struct sup_domain *dom, int status)
{
	struct al_incident inc;
	if (al_evidence_exit(status, &inc) == 1) {
		handle_incident(s, dom, &inc);
		al_incident_clear(&inc);
	}
}

/*
 * A record on a domain's report pipe. The reporter is certain (its pipe); the
 * subject is its peer, on the reporter's word, and the audit record says so.
 * One report counts per incarnation; anything malformed counts against the
 * domain that wrote it.
 */
static void on_report(struct sup *s, struct sup_domain *dom)
{
	unsigned char buf[256];
	ssize_t n;
	do
		n = read(dom->report_r, buf, sizeof buf);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || dom->reported || !dom->d)
		return; /* nothing, or after the one report that counts: drained */
	uint64_t code;
	const char *why;
	enum al_report_kind k = al_evidence_report(buf, (size_t)n, &code, &why);
	if (k == AL_REPORT_NONE)
		return;
	dom->reported = true;
	struct sup_domain *about = k == AL_REPORT_PEER ? &s->dom[dom->id == AL_DOMAIN_AI ? AL_DOMAIN_PROTO
											 : AL_DOMAIN_AI]
						      : dom;
	sup_event(s, "report", true, json_pack("{s:s, s:s, s:s, s:I, s:s}", "reported_by", dom_names[dom->id],
		  "about", dom_names[about->id], "kind", k == AL_REPORT_PEER ? "peer-violation" : "malformed",
		  "code", (json_int_t)code, "why", why));
	about->counters.chan_violations++;
	struct al_incident inc[AL_DETECT_MAX_INCIDENTS];
	size_t ni = al_detector_counters(&about->det, &about->counters, inc);
	for (size_t i = 0; i < ni; i++) {
		json_object_set_new(inc[i].evidence, "reported_by", json_string(dom_names[dom->id]));
		json_object_set_new(inc[i].evidence, "report", json_string(why));
		if (about->d)
			handle_incident(s, about, &inc[i]);
		al_incident_clear(&inc[i]);
	}
}

static void domain_died(struct sup *s, struct sup_domain *dom)
{
	bool exited = dom->d != NULL; /* else a failed start: no exit status to judge */
	/* A report it made before it ended is read before its exit is judged. */
	if (exited)
		on_report(s, dom);
	if (!dom->d)
		return; /* the report's response already ended it, and restarts */
	domain_reap(s, dom, false);
	/* Over stdio the protocol domain ends cleanly when its client closes
	 * stdin: the session is over, a restart would only read EOF again. */
	if (s->cfg->proto.stdio && dom->id == AL_DOMAIN_PROTO && !s->stopping && WIFEXITED(dom->last_status) &&
	    WEXITSTATUS(dom->last_status) == 0) {
		s->stopping = true;
		sup_event(s, "stop-requested", true, json_pack("{s:s}", "by", "end of input"));
	}
	if (!s->stopping && exited) {
		dom->counters.restarts++;
		/* Before the peer is stopped: an incident that is the peer's (it broke
		 * the channel) freezes and dumps it while it is still there. The
		 * restart below is the one for both. */
		s->in_died = true;
		exit_incident(s, dom, dom->last_status);
		s->in_died = false;
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
	if (s->locked && dom->id == AL_DOMAIN_AI)
		return; /* a lockdown began meanwhile: nothing to restart */
	uint64_t now = al_now_ns();
	if (now - dom->window_start_ns > CRASH_WINDOW_NS) {
		dom->window_start_ns = now;
		dom->recent_restarts = 0;
	}
	if (++dom->recent_restarts > CRASH_LOOP_RESTARTS) {
		dom->state = DOM_FAILED;
		sup_event(s, "crash-loop", true, json_pack("{s:s, s:i}", "domain", dom_names[dom->id],
			  "restarts", (int)dom->recent_restarts - 1));
		/* Nobody will serve the listener again: close it, so clients are
		 * refused at once instead of waiting in its backlog. */
		if (s->listenfd >= 0) {
			close(s->listenfd);
			s->listenfd = -1;
		}
		return;
	}
	dom->restarts++;
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
	s->restart_at_ns = now + (uint64_t)s->backoff_ms * 1000000ULL;
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		if (s->dom[i].state != DOM_FAILED && s->dom[i].state != DOM_LOCKED)
			s->dom[i].state = DOM_BACKOFF;
}

/* ---- incidents and responses ------------------------------------------- */

static void lockdown(struct sup *s, const char *reason)
{
	if (s->locked)
		return;
	s->locked = true;
	al_strlcpy(s->lock_reason, reason, sizeof s->lock_reason);
	sup_event(s, "lockdown", true, json_pack("{s:s, s:s}", "reason", reason, "until", "airlock unlock"));
	/* Both end (they shared a channel); the protocol domain comes back alone. */
	domains_stop(s);
	s->restart_at_ns = 0;
	if (!s->stopping && domains_start(s) < 0)
		al_log_warnx("lockdown: the protocol domain could not be restarted");
}

static void handle_incident(struct sup *s, struct sup_domain *dom, struct al_incident *inc)
{
	uint64_t t0 = al_now_ns();
	unsigned steps = al_respond_plan(inc->type);
	json_t *done = json_object();
	/* Freeze first: nothing else of the response is as urgent as stopping it. */
	if ((steps & AL_STEP_FREEZE) && dom->d && !dom->frozen) {
		int rc = al_domain_freeze(dom->d);
		dom->frozen = true; /* even a failed freeze is followed by a kill */
		json_object_set_new(done, "freeze", json_pack("{s:s, s:s, s:f}", "method",
				    al_freeze_method_name(al_domain_freeze_method(dom->d)), "result", rc < 0 ? strerror(-rc) : "frozen",
				    "ms", (double)(al_now_ns() - t0) / 1e6));
	}
	json_t *doc = al_incident_json(inc, dom_names[dom->id]);
	if ((steps & AL_STEP_DUMP) && dom->d) {
		pid_t pids[4] = {al_domain_pid(dom->d)};
		size_t np = 1 + al_proc_children(pids[0], pids + 1, 3);
		char *path = NULL;
		int rc = al_respond_dump(s->cfg->respond.dump_dir, dom_names[dom->id], pids, np, doc, &path);
		json_object_set_new(done, "dump", rc < 0 ? json_string(strerror(-rc)) : json_string(path));
		free(path);
	}
	if (steps & AL_STEP_AUDIT_UP) {
		if (s->audit_verbosity < 3)
			s->audit_verbosity++;
		json_object_set_new(done, "audit_verbosity", json_integer(s->audit_verbosity));
	}
	if (steps & AL_STEP_TIGHTEN) {
		/* Applied by build_spec: the level change below respawns the domains on it. */
		s->tighten = true;
		json_object_set_new(done, "tighten", json_string("pin apart, speculation mitigations, TSC off"));
	}
	s->incidents++;
	dom->incidents++;
	json_object_set_new(doc, "steps", al_respond_steps_json(steps));
	json_object_set_new(doc, "done", done);
	json_object_set_new(doc, "level", json_string(al_level_name(s->lv.current)));
	json_decref(s->last_incident);
	s->last_incident = json_incref(doc);
	sup_event(s, "incident", true, json_incref(doc));
	if (s->cfg->respond.alert_command) {
		int rc = al_respond_alert(s->cfg->respond.alert_command, doc);
		if (rc < 0)
			al_log_warnx("alert hook %s: %s", s->cfg->respond.alert_command, strerror(-rc));
	}
	json_decref(doc);
	if (steps & AL_STEP_LOCKDOWN) {
		char why[256];
		snprintf(why, sizeof why, "%s: %s", al_incident_type_name(inc->type), inc->rule ? inc->rule : "?");
		lockdown(s, why);
	}
	/* Restart before the level moves: the respawn then happens once, on the new level's spec. */
	if ((steps & AL_STEP_RESTART) && dom->d && !s->in_died)
		domain_died(s, dom);
	enum al_level from = s->lv.current;
	if (al_level_incident(&s->lv, (steps & AL_STEP_RAISE_LEVEL) ? inc->severity : AL_SEV_LOW, al_now_ns()) ||
	    ((steps & AL_STEP_TIGHTEN) && s->lv.current == from))
		level_changed(s, from, al_incident_type_name(inc->type));
}

/*
 * The level in force changed. The audit verbosity follows it; domains built
 * for a weaker level than the new one are respawned clean on the new spec
 * (a filter cannot be tightened from outside a running process).
 */
static void level_changed(struct sup *s, enum al_level from, const char *why)
{
	const struct al_level_policy *pol = al_level_policy(s->lv.current);
	s->audit_verbosity = pol->audit_verbosity;
	if (s->lv.current <= s->lv.base && s->lv.current < from)
		s->tighten = false; /* the threat is over */
	bool respawn = false;
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		struct sup_domain *d = &s->dom[i];
		if (d->d && !d->frozen && (al_level_needs_respawn(d->spawned_level, s->lv.current) ||
					   (s->tighten && !d->spawned_tight)))
			respawn = true;
	}
	/* A restart already pending builds the new spec anyway. */
	if (s->restart_at_ns || s->stopping)
		respawn = false;
	sup_event(s, "level-change", true, json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "from", al_level_name(from),
		  "to", pol->name, "base", al_level_name(s->lv.base), "why", why, "respawn", respawn,
		  "tighten", s->tighten));
	if (!respawn)
		return;
	domains_stop(s);
	int rc = domains_start(s);
	sup_event(s, "respawn", rc < 0, json_pack("{s:s, s:s}", "level", pol->name, "result",
		  rc < 0 ? strerror(-rc) : "ok"));
	if (rc < 0)
		domain_died(s, &s->dom[AL_DOMAIN_AI]);
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

static uint32_t integrity_interval_s(const struct sup *s)
{
	return s->cfg->respond.integrity_interval_s ? s->cfg->respond.integrity_interval_s
						    : al_level_policy(s->lv.current)->integrity_interval_s;
}

static json_t *level_json(struct sup *s)
{
	const struct al_level_policy *p = al_level_policy(s->lv.current);
	uint64_t since = al_now_ns() - s->lv.last_event_ns;
	return json_pack("{s:b, s:s, s:s, s:s, s:I, s:f, s:b, s:s?, s:b, s:i, s:{s:s, s:b, s:b, s:b, s:i, s:i, s:f, s:f}}",
			 "ok", 1, "level", p->name, "base", al_level_name(s->lv.base), "threat",
			 al_level_name(s->lv.threat), "quiet_period_s", (json_int_t)(s->lv.quiet_ns / 1000000000ULL),
			 "since_last_event_s", (double)since / 1e9, "locked", s->locked,
			 "lock_reason", s->locked ? s->lock_reason : NULL, "tightened", s->tighten,
			 "audit_verbosity", s->audit_verbosity, "mechanisms", "seccomp",
			 al_seccomp_mode_name(p->seccomp), "speculation_forced", p->part.l1d || s->tighten,
			 "partitioned", p->part.cpus || s->tighten, "tsc_off",
			 (p->part.tsc || s->tighten) && tsc_trap_safe(), "integrity_interval_s",
			 (int)integrity_interval_s(s), "audit_verbosity", p->audit_verbosity,
			 "budget_claim_pct", p->budget_claim_pct, "budget_goal_pct", p->budget_goal_pct);
}

static json_t *guard_status(struct sup *s)
{
	struct al_monitor_stats ms = {0};
	if (s->mon)
		al_monitor_stats(s->mon, &ms);
	double up = (double)(al_now_ns() - s->started_ns) / 1e9;
	json_t *det = json_object();
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		json_object_set_new(det, dom_names[i], al_detector_json(&s->dom[i].det));
	return json_pack("{s:o, s:I, s:O?, s:{s:I, s:I, s:I, s:f}, s:f, s:f, s:o}", "level", level_json(s),
			 "incidents", (json_int_t)s->incidents, "last_incident", s->last_incident,
			 "integrity", "passes", (json_int_t)ms.passes, "bytes", (json_int_t)ms.bytes,
			 "slice", (json_int_t)ms.slice, "cpu_ms", (double)ms.cpu_ns / 1e6,
			 "guard_cpu_ms", (double)s->guard_cpu_ns / 1e6, "guard_cpu_pct",
			 up > 0 ? (double)s->guard_cpu_ns / 1e9 / up * 100 : 0.0, "detector", det);
}

static json_t *sup_status(struct sup *s)
{
	json_t *doms = json_array();
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		struct sup_domain *d = &s->dom[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:i}", "name", dom_names[i], "profile", al_config_profile((enum al_domain_id)i),
				      "state", dom_state_names[d->state], "restarts", (int)d->restarts,
				      "pid", d->d ? (int)al_domain_pid(d->d) : 0);
		if (d->d) {
			json_object_set_new(o, "uptime_s", json_real((double)(al_now_ns() - d->started_ns) / 1e9));
			json_object_set_new(o, "usage", domain_usage(al_domain_pid(d->d)));
		}
		json_object_set(o, "attested", d->attestation ? d->attestation : json_null());
		json_array_append_new(doms, o);
	}
	return json_pack("{s:b, s:s, s:f, s:s, s:s, s:I, s:o, s:o}", "ok", 1, "version", AL_VERSION,
			 "uptime_s", (double)(al_now_ns() - s->started_ns) / 1e9, "level",
			 al_level_name(s->lv.current), "listen", s->cfg->proto.stdio ? "stdio" : s->cfg->proto.host,
			 "seccomp_violations", (json_int_t)s->violations, "domains", doms, "guard", guard_status(s));
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
	} else if (req.op == AL_CONTROL_LEVEL_GET) {
		reply = level_json(s);
	} else if (req.op == AL_CONTROL_LEVEL_SET) {
		if (req.arg > AL_LEVEL_MAXIMUM) {
			reply = json_pack("{s:b, s:s}", "ok", 0, "error", "no such level");
		} else {
			enum al_level from = s->lv.current;
			al_level_set(&s->lv, (enum al_level)req.arg, al_now_ns());
			if (s->lv.current < from)
				s->tighten = false; /* the operator lowers it knowingly */
			level_changed(s, from, "airlock level set");
			reply = level_json(s);
		}
	} else if (req.op == AL_CONTROL_UNLOCK) {
		reply = sup_unlock(s);
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
	dom->counters.seccomp_violations++;
	/* The response first (it freezes the domain); the record of the call after. */
	struct al_incident inc[AL_DETECT_MAX_INCIDENTS];
	size_t n = al_detector_counters(&dom->det, &dom->counters, inc);
	for (size_t i = 0; i < n; i++) {
		json_object_set_new(inc[i].evidence, "syscall", json_string(v.name));
		json_object_set_new(inc[i].evidence, "nr", json_integer(v.nr));
		json_object_set_new(inc[i].evidence, "pid", json_integer(v.pid));
		handle_incident(s, dom, &inc[i]);
		al_incident_clear(&inc[i]);
	}
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
				guard_tick(s);
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
			case TAG_LOG:
				if (d < AL_DOMAIN_COUNT)
					al_domlog_drain(&s->dom[d].log, al_now_ns());
				break;
			case TAG_REPORT:
				if (d < AL_DOMAIN_COUNT)
					on_report(s, &s->dom[d]);
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

/*
 * One writer per state directory: an exclusive lock on DIR/airlock.lock,
 * taken before anything is written there (audit log, manifest, socket). The
 * file holds the owner's pid, for the refusal's message. The lock goes with
 * the process, however it ends. The fd, or -1 with the reason printed.
 */
static int state_lock(const char *dir)
{
	char path[600];
	snprintf(path, sizeof path, "%s/airlock.lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		al_log_warn("lock %s", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		char pid[24] = "";
		ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (e == EWOULDBLOCK)
			al_log_warnx("already running (pid %s) on state directory %s", pid[0] ? pid : "?", dir);
		else
			al_log_warnx("lock %s: %s", path, strerror(e));
		close(fd);
		return -1;
	}
	char line[24];
	int len = snprintf(line, sizeof line, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)len, 0) != len)
		al_log_warn("lock %s: writing the pid", path);
	return fd;
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

static void files_close(struct sup_files *f)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->fd[i] >= 0)
			close(f->fd[i]);
	f->n = 0;
	for (int d = 0; d < AL_DOMAIN_COUNT; d++) {
		free(f->profile[d]);
		f->profile[d] = NULL;
	}
}

/*
 * Opens every file a domain needs once and checks it against the manifest;
 * these very fds are what the domains receive or execute, and what the
 * integrity monitor re-hashes later. Without a manifest (first run, and only
 * when allowed) one is made from them and recorded in the audit log. On a
 * refusal, why names the file and the reason.
 */
static int files_open_verify(struct sup *s, bool may_create, struct sup_files *out, char *why, size_t wl)
{
	struct al_config_file files[AL_CONFIG_MAX_FILES];
	size_t n = al_config_files(s->cfg, files);
	struct al_manifest *m = NULL;
	char mpath[512];
	snprintf(mpath, sizeof mpath, "%s/%s", s->cfg->state_dir, AL_MANIFEST_FILE);
	out->n = 0;
	int rc;
	bool first_run = may_create && access(mpath, F_OK) < 0 && errno == ENOENT;
	if (first_run && s->earlier_runs) {
		/* A manifest that vanished after earlier runs is not a first run:
		 * trusting whatever is on disk now would bless a swapped file. */
		snprintf(why, wl, "manifest %.300s is missing although the audit log records earlier runs; "
			 "recreate it deliberately with `airlock manifest create`", mpath);
		sup_event(s, "integrity-violation", true, json_pack("{s:s, s:s}", "file", mpath, "reason", "missing"));
		return -1;
	}
	if (first_run)
		m = al_manifest_new(&s->key);
	else if ((rc = al_manifest_load(mpath, &s->key, &m)) < 0) {
		snprintf(why, wl, "manifest %.300s: %s", mpath, strerror(-rc));
		sup_event(s, "integrity-violation", true, json_pack("{s:s, s:s}", "file", mpath, "reason", strerror(-rc)));
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		out->name[i] = files[i].name;
		out->path[i] = files[i].path;
		out->n = i + 1;
		if ((out->fd[i] = open_verified(files[i].name, files[i].path)) < 0) {
			snprintf(why, wl, "%s (%s) cannot be opened", files[i].name, files[i].path);
			goto fail;
		}
		rc = first_run ? al_manifest_add_fd(m, files[i].name, files[i].path, out->fd[i])
			       : al_manifest_verify_fd(m, files[i].name, out->fd[i]);
		if (rc < 0) {
			const char *reason = rc == -EBADMSG ? "digest mismatch" :
					     rc == -ENOENT ? "not in the manifest" : strerror(-rc);
			sup_event(s, "integrity-violation", true, json_pack("{s:s, s:s, s:s}", "name", files[i].name,
				  "path", files[i].path, "reason", reason));
			snprintf(why, wl, "%s (%s): %s", files[i].name, files[i].path,
				 rc == -EBADMSG ? "does not match the manifest"
				 : rc == -ENOENT ? "is not in the manifest (made by an earlier version?); review the "
						   "file, then accept it with `airlock manifest create`"
						 : "could not be verified");
			goto fail;
		}
		memcpy(out->digest[i], al_manifest_find(m, files[i].name)->digest, AL_MANIFEST_DIGEST_LEN);
		/* A profile's bytes are taken from the very fd just verified. */
		int d = !strcmp(files[i].name, "ai.profile") ? AL_DOMAIN_AI
			: !strcmp(files[i].name, "proto.profile") ? AL_DOMAIN_PROTO : -1;
		if (d >= 0 && (rc = al_read_fd(out->fd[i], 1 << 20, &out->profile[d], &out->profile_len[d])) < 0) {
			snprintf(why, wl, "%s (%s): %s", files[i].name, files[i].path, strerror(-rc));
			goto fail;
		}
	}
	if (first_run) {
		if ((rc = al_manifest_save(m, mpath)) < 0) {
			snprintf(why, wl, "manifest %.300s: %s", mpath, strerror(-rc));
			goto fail;
		}
		sup_event(s, "manifest-created", true, json_pack("{s:s, s:i}", "path", mpath, "files", (int)n));
	} else {
		sup_event(s, "files-verified", false, json_pack("{s:s, s:i}", "manifest", mpath, "files", (int)n));
	}
	al_manifest_free(m);
	return 0;
fail:
	files_close(out);
	al_manifest_free(m);
	return -1;
}

/* Makes verified files the ones in use: slots for the domains, the monitor's list. */
static void files_install(struct sup *s, struct sup_files *nf)
{
	files_close(&s->files);
	s->files = *nf;
	nf->n = 0;
	for (int d = 0; d < AL_DOMAIN_COUNT; d++)
		nf->profile[d] = NULL; /* moved */
	s->model_fd = s->tok_fd = s->dom[AL_DOMAIN_AI].exe_fd = s->dom[AL_DOMAIN_PROTO].exe_fd = -1;
	al_monitor_free(s->mon);
	s->mon = al_monitor_new(&s->key, (double)s->cfg->respond.integrity_budget_pct);
	for (size_t i = 0; i < s->files.n; i++) {
		const char *name = s->files.name[i];
		int *slot = !strcmp(name, "ai.model") ? &s->model_fd : !strcmp(name, "ai.tokenizer") ? &s->tok_fd :
			    !strcmp(name, "ai.exe") ? &s->dom[AL_DOMAIN_AI].exe_fd :
			    !strcmp(name, "proto.exe") ? &s->dom[AL_DOMAIN_PROTO].exe_fd : NULL;
		if (slot)
			*slot = s->files.fd[i]; /* borrowed: s->files owns it */
		if (s->mon && al_monitor_add(s->mon, name, s->files.path[i], s->files.fd[i], s->files.digest[i]) < 0)
			al_log_warnx("integrity: %s not monitored", name);
	}
}

static int open_and_verify_files(struct sup *s)
{
	int rc = al_manifest_key_load(s->cfg->state_dir, true, &s->key);
	if (rc < 0) {
		al_log_warnx("manifest key in %s: %s", s->cfg->state_dir, strerror(-rc));
		return -1;
	}
	struct sup_files nf = {0};
	char why[512];
	if (files_open_verify(s, true, &nf, why, sizeof why) < 0) {
		al_log_warnx("refusing to start: %s", why);
		return -1;
	}
	files_install(s, &nf);
	return 0;
}

/*
 * airlock unlock: everything is verified again from the paths (a file fixed
 * on disk is a new file), and only then do the domains come back, from the
 * newly verified fds.
 */
static json_t *sup_unlock(struct sup *s)
{
	if (!s->locked)
		return json_pack("{s:b, s:s}", "ok", 1, "message", "not locked");
	struct sup_files nf = {0};
	char why[512];
	if (files_open_verify(s, false, &nf, why, sizeof why) < 0) {
		sup_event(s, "unlock-refused", true, json_pack("{s:s}", "reason", why));
		return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", "verification failed: still locked", "reason", why);
	}
	domains_stop(s);
	files_install(s, &nf);
	s->locked = s->lock_all = false;
	sup_event(s, "unlock", true, json_pack("{s:s, s:i}", "was", s->lock_reason, "files", (int)s->files.n));
	s->lock_reason[0] = '\0';
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		s->dom[i].state = DOM_STOPPED;
		s->dom[i].recent_restarts = 0;
	}
	s->restart_at_ns = 0;
	int rc = domains_start(s);
	sup_event(s, "restart", rc < 0, json_pack("{s:s, s:s}", "after", "unlock", "result", rc < 0 ? strerror(-rc) : "ok"));
	if (rc < 0) {
		domain_died(s, &s->dom[AL_DOMAIN_AI]);
		return json_pack("{s:b, s:s}", "ok", 0, "error", "verified, but the domains could not be restarted");
	}
	return json_pack("{s:b, s:s}", "ok", 1, "message", "verified; domains restarted");
}

/* ---- the guard's tick: detection, integrity, level ------------------------ */

static const struct {
	enum al_incident_type type;
	enum al_severity sev;
} proc_incident[] = {
	[AL_PROC_UNCONFINED] = {AL_INC_PRIV_ESCALATION, AL_SEV_CRITICAL},
	[AL_PROC_EXEC_MAPPING] = {AL_INC_MEMORY_CORRUPTION, AL_SEV_HIGH},
	[AL_PROC_EXE] = {AL_INC_INTEGRITY, AL_SEV_CRITICAL},
	[AL_PROC_NAMESPACE] = {AL_INC_PRIV_ESCALATION, AL_SEV_CRITICAL},
	[AL_PROC_SPECULATION] = {AL_INC_SIDE_CHANNEL, AL_SEV_MEDIUM},
};

/* /proc checks of a domain's init and program. True if an incident was handled. */
static bool check_domain(struct sup *s, struct sup_domain *dom)
{
	pid_t init = al_domain_pid(dom->d);
	if (!dom->worker) {
		pid_t kids[2];
		if (al_proc_children(init, kids, 2) >= 1)
			dom->worker = kids[0];
	}
	char why[256];
	pid_t pids[2] = {init, dom->worker};
	struct al_proc_baseline *bl[2] = {&dom->pb_init, &dom->pb_worker};
	for (int k = 0; k < 2; k++) {
		if (!pids[k])
			continue;
		/* The init runs the supervisor's own image (it is a clone, never exec'd). */
		enum al_proc_finding f = al_monitor_check_proc(pids[k], k ? dom->exe_fd : -1, bl[k], why, sizeof why);
		if (f == AL_PROC_OK || f == AL_PROC_GONE)
			continue;
		struct al_incident inc = {proc_incident[f].type, proc_incident[f].sev, al_proc_finding_name(f),
					  json_pack("{s:i, s:s, s:s}", "pid", (int)pids[k], "process",
						    k ? "program" : "init", "why", why)};
		handle_incident(s, dom, &inc);
		al_incident_clear(&inc);
		return true;
	}
	return false;
}

static void guard_tick(struct sup *s)
{
	uint64_t now = al_now_ns(), cpu0 = al_thread_cpu_ns();
	uint64_t dt = s->last_tick_ns ? now - s->last_tick_ns : 0;
	s->last_tick_ns = now;
	bool pass = now - s->last_integrity_ns >= (uint64_t)integrity_interval_s(s) * 1000000000ULL;
	if (pass)
		s->last_integrity_ns = now;
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		struct sup_domain *dom = &s->dom[i];
		if (!dom->d || dom->frozen || dom->state != DOM_RUNNING)
			continue;
		if (pass && check_domain(s, dom))
			continue;
		if (!dom->d)
			continue;
		struct al_metrics m = dom->counters;
		m.cpu_ns = m.rss_kib = m.minflt = m.majflt = m.vcsw = m.nvcsw = 0;
		pid_t kids[4];
		size_t nk = al_proc_children(al_domain_pid(dom->d), kids, AL_ARRAY_LEN(kids));
		if (al_metrics_read(NULL, al_domain_pid(dom->d), &m) < 0)
			continue;
		for (size_t k = 0; k < nk; k++)
			(void)al_metrics_read(NULL, kids[k], &m);
		struct al_incident inc[AL_DETECT_MAX_INCIDENTS];
		size_t n = al_detector_observe(&dom->det, &m, dt, inc);
		if (s->audit_verbosity >= 3 || (s->audit_verbosity >= 2 && dom->det.ticks % 10 == 0))
			sup_event(s, "detector", false, json_pack("{s:s, s:o}", "domain", dom_names[i], "state",
				  al_detector_json(&dom->det)));
		for (size_t k = 0; k < n; k++) {
			handle_incident(s, dom, &inc[k]);
			al_incident_clear(&inc[k]);
		}
	}
	/* Files: a slice every tick within the budget; nothing to watch while locked down. */
	struct al_monitor_finding f;
	if (s->mon && !s->locked &&
	    al_monitor_step(s->mon, (uint64_t)integrity_interval_s(s) * 1000000000ULL, TICK_MS * 1000000ULL, &f) < 0) {
		struct al_incident inc = {AL_INC_INTEGRITY, AL_SEV_CRITICAL, "file-changed",
					  json_pack("{s:s, s:s, s:s}", "file", f.name, "path", f.path, "why", f.reason)};
		/* Never restart the protocol domain from an executable that no longer verifies. */
		s->lock_all = strcmp(f.name, "proto.exe") == 0;
		handle_incident(s, &s->dom[AL_DOMAIN_AI], &inc);
		al_incident_clear(&inc);
	}
	enum al_level from = s->lv.current;
	/* A lockdown is an incident still open: the level holds until unlock. */
	if (s->locked)
		s->lv.last_event_ns = now;
	else if (al_level_tick(&s->lv, now))
		level_changed(s, from, "quiet period");
	s->guard_cpu_ns += al_thread_cpu_ns() - cpu0;
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
	/* Each domain's output and report pipes, kept across its restarts. */
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		struct sup_domain *dom = &s->dom[i];
		int p[2];
		if (al_domlog_open(&dom->log) < 0 || pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
			al_log_warn("%s: pipes", dom_names[i]);
			return -1;
		}
		dom->report_r = p[0];
		dom->report_w = p[1];
		if (epoll_add(s, dom->log.rfd, TAG(TAG_LOG, i)) < 0 || epoll_add(s, dom->report_r, TAG(TAG_REPORT, i)) < 0) {
			al_log_warn("event loop setup");
			return -1;
		}
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
	al_level_state_init(&s.lv, cfg->level, (uint64_t)cfg->respond.quiet_period_s * 1000000000ULL);
	s.lv.last_event_ns = s.started_ns;
	s.audit_verbosity = al_level_policy(cfg->level)->audit_verbosity;
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		s.dom[i].id = (enum al_domain_id)i;
		s.dom[i].exe_fd = -1;
		s.dom[i].last_status = -1;
		s.dom[i].report_r = s.dom[i].report_w = -1;
		al_domlog_init(&s.dom[i].log, dom_names[i], stderr);
		al_detector_init(&s.dom[i].det, i == AL_DOMAIN_AI ? AL_DETECT_ROLE_COMPUTE : AL_DETECT_ROLE_SERVICE, NULL);
	}
	const char *listen = cfg->proto.stdio ? "stdio" : cfg->proto.host;

	if (mkdir_private(cfg->state_dir) < 0)
		return 1;
	int lockfd = state_lock(cfg->state_dir);
	if (lockfd < 0)
		return 1;
	char keypath[600], statepath[600];
	snprintf(keypath, sizeof keypath, "%s.key", cfg->audit_log);
	snprintf(statepath, sizeof statepath, "%s.state", cfg->audit_log);
	if (al_audit_open(&s.audit, cfg->audit_log, keypath, statepath) < 0) {
		al_log_warnx("audit log %s could not be opened", cfg->audit_log);
		close(lockfd);
		return 1;
	}
	/* Records before ours mean an earlier run: its manifest must still be there. */
	s.earlier_runs = al_audit_next_seq(s.audit) > 0;
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
	/* The supervisor itself goes where the level says it disturbs the domains least. */
	(void)al_sandbox_place_self(&al_level_policy(s.lv.current)->part);
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
		al_domlog_close(&s.dom[i].log);
		if (s.dom[i].report_r >= 0)
			close(s.dom[i].report_r);
		if (s.dom[i].report_w >= 0)
			close(s.dom[i].report_w);
	}
	json_decref(s.last_incident);
	files_close(&s.files); /* model, tokenizer and executables among them */
	al_monitor_free(s.mon);
	sodium_memzero(&s.key, sizeof s.key);
	int fds[] = {s.chan_fd, s.token_fd, s.listenfd, s.sigfd, s.timerfd, s.epfd};
	for (size_t i = 0; i < AL_ARRAY_LEN(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (s.ctlfd >= 0) {
		close(s.ctlfd);
		unlink(cfg->control_socket);
	}
	if (s.audit)
		al_audit_close(s.audit);
	close(lockfd); /* last: nothing of ours is written after this */
	return status;
}
