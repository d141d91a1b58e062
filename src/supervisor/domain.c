/*
 * A domain's lifecycle (sup_int.h): its spec, spawn and attestation, its
 * end (SIGTERM, then SIGKILL at a deadline the loop's timer keeps) and its
 * reaping. Nothing here waits: the loop calls back when a pidfd is readable
 * or a deadline is due.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "airlock/channel.h"
#include "airlock/worker.h"
#include "al_config.h"
#include "common/log.h"
#include "common/util.h"
#include "supervisor/sup_int.h"

/* The configuration's seccomp action for a domain, in the sandbox's terms. */
static enum al_seccomp_mode seccomp_mode(const struct al_config *cfg, enum al_level level, enum al_domain_id id)
{
	return cfg->domain[id].seccomp_from_level ? al_level_policy(level)->seccomp : cfg->domain[id].seccomp;
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
		al_log_warnx("%s: profile '%s' not found (etc/profiles/%s.conf)", sup_dom_names[dom->id],
			     al_config_profile(dom->id), al_config_profile(dom->id));
		return -ENOENT;
	}
	if ((rc = al_profile_load_mem(spec, s->files.profile[dom->id], s->files.profile_len[dom->id],
				      s->cfg->domain[dom->id].profile)) < 0) {
		al_log_warnx("%s: profile '%s' could not be loaded", sup_dom_names[dom->id], al_config_profile(dom->id));
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
	/* set by the runner before the domain runs (sandbox.h, al_sched) */
	enum al_sched_class cls = dc->sched;
	if (cls == AL_CONFIG_SCHED_LEVEL)
		cls = dom->id == AL_DOMAIN_AI ? al_level_policy(s->lv.current)->sched_ai
					      : al_level_policy(s->lv.current)->sched_proto;
	spec->sched = al_sched_of_class(cls);
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
	if (dom->id == AL_DOMAIN_PROTO && s->handoff_child >= 0 &&
	    (rc = al_spec_add_fd(spec, s->handoff_child, AL_PROTO_FD_HANDOFF)) < 0)
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

/* Spawns one domain, attests it, then lets it exec. 0 or -errno (all undone). */
static int dom_start(struct sup *s, struct sup_domain *dom)
{
	char threads[16], max_tokens[16], body[32], conc[16], fd_listen[8], fd_chan[8], fd_token[8], fd_report[8],
		fd_handoff[8], conns[24];
	const struct al_config *cfg = s->cfg;
	snprintf(threads, sizeof threads, "%u", cfg->ai.threads);
	snprintf(max_tokens, sizeof max_tokens, "%u", cfg->ai.max_tokens);
	snprintf(body, sizeof body, "%llu", (unsigned long long)cfg->proto.body_limit);
	snprintf(conc, sizeof conc, "%u", cfg->proto.concurrency);
	snprintf(fd_listen, sizeof fd_listen, "%d", AL_PROTO_FD_LISTEN);
	snprintf(fd_chan, sizeof fd_chan, "%d", AL_PROTO_FD_CHANNEL);
	snprintf(fd_token, sizeof fd_token, "%d", AL_PROTO_FD_TOKEN);
	snprintf(fd_report, sizeof fd_report, "%d", AL_WORKER_FD_REPORT);
	snprintf(fd_handoff, sizeof fd_handoff, "%d", AL_PROTO_FD_HANDOFF);
	/* The model's file name, without its extension, names it to clients
	 * (the supervisor reads no model file, only its path). */
	char model_name[64];
	const char *base = strrchr(cfg->ai.model, '/');
	al_strlcpy(model_name, base ? base + 1 : cfg->ai.model, sizeof model_name);
	char *dot = strrchr(model_name, '.');
	if (dot && dot != model_name)
		*dot = '\0';
	/* The AI domain's slots: as configured, else as many as half of its
	 * memory left after the model (whose mapping counts there too) holds. */
	char slots[16], budget[24];
	struct stat mst;
	uint64_t mem = cfg->domain[AL_DOMAIN_AI].memory, model = 0;
	if (s->model_fd >= 0 && fstat(s->model_fd, &mst) == 0)
		model = (uint64_t)mst.st_size;
	snprintf(slots, sizeof slots, "%u", cfg->ai.slots);
	snprintf(budget, sizeof budget, "%llu", (unsigned long long)(mem > model ? (mem - model) / 2 : 0));
	char *ai_argv[] = {"airlock-ai", "--threads", threads, "--name", model_name, "--slots", slots,
			   "--state-budget", budget, NULL};
	/* The options below take at most PROTO_ARGV_FIXED words (20 today), then
	 * two per listed origin and host, then the NULL. */
	enum { PROTO_ARGV_FIXED = 24 };
	char *proto_argv[PROTO_ARGV_FIXED + 2 * 2 * AL_CONFIG_MAX_ORIGINS + 1] = {"airlock-proto"};
	int n = 1;
	if (cfg->proto.stdio) {
		proto_argv[n++] = "--stdio";
	} else {
		proto_argv[n++] = "--listen-fd";
		proto_argv[n++] = fd_listen;
	}
	/* In lockdown the protocol domain runs without a channel: clients get its
	 * "AI domain not connected" tool error instead of a hung request. */
	if (s->locked) {
		proto_argv[n++] = "--locked"; /* GET /healthz says so: 503 "lockdown" */
	} else {
		proto_argv[n++] = "--channel-fd";
		proto_argv[n++] = fd_chan;
		proto_argv[n++] = "--report-fd";
		proto_argv[n++] = fd_report;
		proto_argv[n++] = "--handoff-fd";
		proto_argv[n++] = fd_handoff;
	}
	proto_argv[n++] = "--body-limit";
	proto_argv[n++] = body;
	proto_argv[n++] = "--max-inflight";
	proto_argv[n++] = conc;
	snprintf(conns, sizeof conns, "%u", cfg->proto.max_connections);
	proto_argv[n++] = "--max-connections";
	proto_argv[n++] = conns;
	proto_argv[n++] = "--max-tokens";
	proto_argv[n++] = max_tokens;
	if (s->token_fd >= 0) {
		proto_argv[n++] = "--token-fd";
		proto_argv[n++] = fd_token;
	}
	if (n > PROTO_ARGV_FIXED) { /* a new option above: raise PROTO_ARGV_FIXED */
		al_log_warnx("%s: internal: %d fixed options", sup_dom_names[dom->id], n);
		return -E2BIG;
	}
	for (size_t i = 0; i < cfg->proto.n_allowed_origins; i++) {
		proto_argv[n++] = "--allow-origin";
		proto_argv[n++] = cfg->proto.allowed_origins[i];
	}
	for (size_t i = 0; i < cfg->proto.n_allowed_hosts; i++) {
		proto_argv[n++] = "--allow-host";
		proto_argv[n++] = cfg->proto.allowed_hosts[i];
	}
	proto_argv[n] = NULL;
	char *envp[] = {"PATH=/nonexistent", NULL};

	/* The protocol domain's handoff socket: the AI domain can then be
	 * restarted alone, the protocol domain taking the new channel from it. */
	int hp[2] = {-1, -1};
	if (dom->id == AL_DOMAIN_PROTO && !s->locked && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, hp) < 0)
		return -errno;
	s->handoff_child = hp[1];
	struct al_spec spec;
	int rc = build_spec(s, dom, &spec, dom->id == AL_DOMAIN_AI ? ai_argv : proto_argv, envp);
	if (rc < 0) {
		al_spec_free(&spec);
		goto fail_handoff;
	}
	/* Real-time I/O threads follow their clients' CPUs (src/workers/proto/
	 * follow.c), only where the domain is not pinned: the call that moves a
	 * thread could also undo a pin. There is room: the fixed options are
	 * fewer than PROTO_ARGV_FIXED. */
	dom->follow = dom->id == AL_DOMAIN_PROTO && !cfg->proto.stdio && spec.sched.io_policy != SCHED_OTHER &&
		      !spec.has_cpus;
	if (dom->follow) {
		proto_argv[n++] = "--follow-client";
		proto_argv[n] = NULL;
	}
	struct al_domain *d = NULL;
	const char *failed = NULL;
	void *report = NULL;
	if ((rc = al_domain_spawn(&spec, &d)) < 0) {
		al_log_warnx("%s: spawn failed: %s", sup_dom_names[dom->id], strerror(-rc));
		goto fail;
	}
	/* Attest before a single byte of the worker runs: a mismatch kills it. */
	if ((rc = al_domain_attest(d, &spec, &report, &failed)) < 0) {
		sup_event(s, "attest-mismatch", true, json_pack("{s:s, s:s}", "domain", sup_dom_names[dom->id],
			  "item", failed ? failed : "?"));
		goto fail;
	}
	if ((rc = al_domain_start(d)) < 0) {
		al_log_warnx("%s: start failed: %s", sup_dom_names[dom->id], strerror(-rc));
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
	dom->restart_wanted = false;
	dom->term_at_ns = dom->kill_at_ns = 0;
	dom->sched_poll_ns = 0;
	/* adaptive: its I/O threads start as the CPUs were at the last reading */
	dom->adaptive = spec.sched.io_adaptive;
	(void)al_domain_sched_io_calm(d, sup_guard_calm_of(&s->pressure));
	dom->pb_init.have = dom->pb_worker.have = false;
	al_detector_reset_counters(&dom->det);
	json_decref(dom->attestation);
	dom->attestation = report;
	sup_epoll_add(s, al_domain_pidfd(d), TAG(TAG_PIDFD, dom->id));
	if (al_domain_notify_fd(d) >= 0)
		sup_epoll_add(s, al_domain_notify_fd(d), TAG(TAG_NOTIFY, dom->id));
	sup_event(s, "spawn", false, json_pack("{s:s, s:i, s:s, s:O}", "domain", sup_dom_names[dom->id],
		  "pid", (int)al_domain_pid(d), "profile", al_config_profile(dom->id),
		  "attested", report ? (json_t *)report : json_null()));
	al_spec_free(&spec);
	if (hp[1] >= 0) {
		close(hp[1]); /* the domain holds its end */
		if (s->handoff_fd >= 0)
			close(s->handoff_fd);
		s->handoff_fd = hp[0];
	}
	s->handoff_child = -1;
	return 0;
fail:
	json_decref(report);
	if (d)
		al_domain_free(d);
	al_spec_free(&spec);
	if (rc >= 0)
		rc = -EIO;
fail_handoff:
	if (hp[0] >= 0) {
		close(hp[0]);
		close(hp[1]);
	}
	s->handoff_child = -1;
	return rc;
}

/* A fresh channel in place of the current one, which is shut first: never reused. */
static int new_channel(struct sup *s)
{
	if (s->chan_fd >= 0) {
		al_chan_shutdown(s->chan_fd);
		close(s->chan_fd);
		s->chan_fd = -1;
	}
	int rc = al_chan_create(NULL, &s->chan_fd);
	if (rc < 0)
		al_log_warnx("channel: %s", al_chan_strerror(rc));
	return rc;
}

/*
 * The AI domain again, alone, on a fresh channel that the running protocol
 * domain takes from its handoff socket: its connections and sessions stay.
 * 0 or -errno (then the pair is to be restarted).
 */
int sup_dom_restart_ai(struct sup *s)
{
	if (s->handoff_fd < 0 || !s->dom[AL_DOMAIN_PROTO].d)
		return -ENOTCONN;
	int rc = new_channel(s);
	if (rc < 0)
		return rc;
	if ((rc = dom_start(s, &s->dom[AL_DOMAIN_AI])) < 0)
		return rc;
	char byte = 0;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &s->chan_fd, sizeof(int));
	if (sendmsg(s->handoff_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
		rc = -errno;
		al_log_warn("proto: handing over the channel");
		return rc;
	}
	s->dom[AL_DOMAIN_PROTO].reported = false; /* a new channel: a new report counts */
	return 0;
}


/* Its output and report pipes, kept for the supervisor's lifetime (its restarts share them). */
int sup_dom_pipes(struct sup *s, struct sup_domain *dom)
{
	int p[2];
	if (al_domlog_open(&dom->log) < 0 || pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	dom->report_r = p[0];
	dom->report_w = p[1];
	int rc = sup_epoll_add(s, dom->log.rfd, TAG(TAG_LOG, dom->id));
	return rc < 0 ? rc : sup_epoll_add(s, dom->report_r, TAG(TAG_REPORT, dom->id));
}

/*
 * Starts both domains on a fresh channel. A channel that a dead or
 * misbehaving peer has touched is never reused, so a restart of either
 * domain restarts both. On a failure, what was started is ended (the loop
 * reaps it).
 */
int sup_dom_start_pair(struct sup *s)
{
	/* The protocol domain first: clients are served again (connections,
	 * sessions, tools/list) while the AI domain is being started, and calls
	 * for it wait in the channel meanwhile. */
	static const enum al_domain_id order[] = {AL_DOMAIN_PROTO, AL_DOMAIN_AI};
	int rc = new_channel(s);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < AL_ARRAY_LEN(order); i++) {
		struct sup_domain *dom = &s->dom[order[i]];
		if (s->locked && (dom->id == AL_DOMAIN_AI || s->lock_all)) {
			dom->state = DOM_LOCKED;
			continue;
		}
		if ((rc = dom_start(s, dom)) < 0) {
			for (size_t k = 0; k < i; k++)
				sup_dom_end(s, &s->dom[order[k]], 0);
			return rc;
		}
	}
	return 0;
}

/*
 * Ends a domain: SIGTERM after term_after_ms (0: now), SIGKILL
 * SUP_STOP_GRACE_MS later; a frozen one is killed at once (its tasks thaw
 * only to die). Its exit, whenever it comes, is then an expected one.
 */
void sup_dom_end(struct sup *s, struct sup_domain *dom, uint64_t term_after_ms)
{
	if (!dom->d || dom->state == DOM_STOPPING)
		return;
	uint64_t now = al_now_ns();
	dom->state = DOM_STOPPING;
	if (dom->frozen) {
		al_domain_kill(dom->d, SIGKILL);
		al_domain_thaw(dom->d);
		dom->term_at_ns = dom->kill_at_ns = 0;
		return;
	}
	dom->term_at_ns = now + term_after_ms * 1000000ULL;
	dom->kill_at_ns = dom->term_at_ns + SUP_STOP_GRACE_MS * 1000000ULL;
	if (!term_after_ms) {
		al_domain_kill(dom->d, SIGTERM);
		dom->term_at_ns = 0;
	}
}

/* Signals that are due, and a look for new domains' I/O threads; the next
 * deadline (0: none). */
uint64_t sup_dom_deadlines(struct sup *s, uint64_t now)
{
	uint64_t next = s->stopping ? 0 : sup_guard_sched_poll(s, now);
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		struct sup_domain *dom = &s->dom[i];
		if (!dom->d || dom->state != DOM_STOPPING)
			continue;
		if (dom->frozen && (dom->term_at_ns || dom->kill_at_ns)) {
			/* Frozen while it was being ended: nothing left to wait for. */
			al_domain_kill(dom->d, SIGKILL);
			al_domain_thaw(dom->d);
			dom->term_at_ns = dom->kill_at_ns = 0;
			continue;
		}
		if (dom->term_at_ns && now >= dom->term_at_ns) {
			al_domain_kill(dom->d, SIGTERM);
			dom->term_at_ns = 0;
		}
		if (dom->kill_at_ns && now >= dom->kill_at_ns) {
			al_domain_kill(dom->d, SIGKILL);
			if (dom->frozen)
				al_domain_thaw(dom->d); /* its tasks thaw only to die */
			dom->kill_at_ns = 0;
		}
		uint64_t t = dom->term_at_ns ? dom->term_at_ns : dom->kill_at_ns;
		if (t && (!next || t < next))
			next = t;
	}
	return next;
}

/*
 * The domain's init has exited (its pidfd is readable): collect the status,
 * write the exit record. Expected when we ended it.
 */
void sup_dom_reap(struct sup *s, struct sup_domain *dom)
{
	if (!dom->d)
		return;
	bool expected = dom->state == DOM_STOPPING && !dom->frozen && !dom->culprit;
	int status = 0;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, al_domain_pidfd(dom->d), NULL);
	if (al_domain_notify_fd(dom->d) >= 0)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, al_domain_notify_fd(dom->d), NULL);
	if (dom->frozen) {
		al_domain_kill(dom->d, SIGKILL);
		al_domain_thaw(dom->d);
	}
	if (al_domain_wait(dom->d, &status) < 0) {
		al_domain_kill(dom->d, SIGKILL);
		al_domain_wait(dom->d, &status);
	}
	dom->frozen = false;
	dom->last_status = status;
	al_domlog_drain(&dom->log, al_now_ns());
	al_domlog_flush(&dom->log);
	/* A crash's record is synced once its restart has begun (sup_event_sync). */
	s->audit_sync_due |= !expected;
	sup_event(s, "exit", false, json_pack("{s:s, s:i, s:b, s:b, s:i, s:i}", "domain", sup_dom_names[dom->id],
		  "pid", (int)al_domain_pid(dom->d), "expected", expected, "reported", dom->reported,
		  "exit_code", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		  "signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0));
	al_domain_free(dom->d);
	dom->d = NULL;
	dom->state = DOM_STOPPED;
	if (dom->id == AL_DOMAIN_PROTO && s->handoff_fd >= 0) {
		close(s->handoff_fd);
		s->handoff_fd = -1;
	}
	dom->worker = 0;
	dom->culprit = false;
	dom->term_at_ns = dom->kill_at_ns = 0;
}

bool sup_dom_any(const struct sup *s)
{
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		if (s->dom[i].d)
			return true;
	return false;
}

/* What each domain that is gone waits for, as status shows it. A crash loop shows once the pair is down. */
void sup_dom_settle(struct sup *s)
{
	bool any = sup_dom_any(s);
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		struct sup_domain *d = &s->dom[i];
		if (d->d)
			continue;
		if (d->crash_loop)
			d->state = any ? DOM_STOPPING : DOM_FAILED;
		else if (s->locked && (d->id == AL_DOMAIN_AI || s->lock_all))
			d->state = DOM_LOCKED;
		else if (s->restart_at_ns)
			d->state = DOM_BACKOFF;
		else
			d->state = DOM_STOPPED;
	}
}
