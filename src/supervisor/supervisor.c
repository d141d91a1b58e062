/*
 * airlock run: the start sequence and the event loop (sup_int.h says how the
 * work is divided). This is the one file that calls across the others: they
 * return what should happen next, and the loop carries it out.
 */
#include "supervisor/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "airlock/channel.h"
#include "al_config.h"
#include "common/log.h"
#include "common/util.h"
#include "supervisor/control.h"
#include "supervisor/sup_int.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
/* A domain that ran this long before it failed was not crash-looping: it is
 * restarted at once, and its count of quick failures starts again. */
#define STABLE_NS (2ULL * 1000000000ULL)
/* More quick failures than this within CRASH_WINDOW_NS is a crash loop: restarts stop. */
#define CRASH_LOOP_RESTARTS 5
#define CRASH_WINDOW_NS (60ULL * 1000000000ULL)

/* ---- carrying out what the parts ask ------------------------------------ */

/* The deadline timer fires at the earliest of the pending restart and the domains' deadlines. */
static void arm_deadline(struct sup *s)
{
	uint64_t now = al_now_ns(), next = sup_dom_deadlines(s, now);
	/* A restart that is due but waits for a domain to end is retried on that
	 * domain's exit: a past time here would fire at once, again and again. */
	if (s->restart_at_ns > now && (!next || s->restart_at_ns < next))
		next = s->restart_at_ns;
	struct itimerspec its = {0};
	if (next) {
		its.it_value.tv_sec = (time_t)(next / 1000000000ULL);
		its.it_value.tv_nsec = (long)(next % 1000000000ULL);
	}
	(void)timerfd_settime(s->deadlinefd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Both domains start again at `at`, once both are gone. */
static void schedule_restart(struct sup *s, uint64_t at, const char *why)
{
	s->restart_at_ns = at ? at : 1;
	s->restart_why = why;
	s->restart_ai_only = false;
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		if (!s->dom[i].d && s->dom[i].state == DOM_STOPPED)
			s->dom[i].state = DOM_BACKOFF;
}

/*
 * Ends the pair: the channel is shut, and the protocol domain, which sees it
 * closed and may still answer calls in flight, gets SIGTERM only after
 * proto_grace_ms; the AI domain holds nothing a client waits for and gets it
 * at once, so a restart of the pair never waits for it to notice.
 */
static void end_pair(struct sup *s, uint64_t proto_grace_ms)
{
	if (s->chan_fd >= 0)
		al_chan_shutdown(s->chan_fd);
	sup_dom_end(s, &s->dom[AL_DOMAIN_AI], 0);
	sup_dom_end(s, &s->dom[AL_DOMAIN_PROTO], proto_grace_ms);
}

/*
 * A domain failed (it exited unexpectedly, or an incident's response ends
 * it): count it, stop restarting in a crash loop, else restart the pair,
 * at once unless failures are recent.
 */
static void failed(struct sup *s, struct sup_domain *dom)
{
	uint64_t now = al_now_ns();
	bool stable = now - dom->started_ns >= STABLE_NS;
	if (stable || now - dom->window_start_ns > CRASH_WINDOW_NS) {
		dom->window_start_ns = now;
		dom->recent_restarts = 0;
	}
	if (++dom->recent_restarts > CRASH_LOOP_RESTARTS) {
		dom->crash_loop = true;
		sup_event(s, "crash-loop", true, json_pack("{s:s, s:i}", "domain", sup_dom_names[dom->id],
			  "restarts", (int)dom->recent_restarts - 1));
		/* Nobody will serve the listener again: close it, so clients are
		 * refused at once instead of waiting in its backlog. */
		if (s->listenfd >= 0) {
			close(s->listenfd);
			s->listenfd = -1;
		}
		s->restart_at_ns = 0;
		s->restart_ai_only = false;
		end_pair(s, 0);
		return;
	}
	dom->restarts++;
	if (stable)
		s->backoff_ms = 0;
	else
		s->backoff_ms = s->backoff_ms ? (s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2)
					      : BACKOFF_MIN_MS;
	schedule_restart(s, now + (uint64_t)s->backoff_ms * 1000000ULL, "failure");
}

static void begin_stop(struct sup *s, const char *by)
{
	if (s->stopping)
		return;
	s->stopping = true;
	s->restart_at_ns = 0;
	if (by)
		sup_event(s, "stop-requested", true, json_pack("{s:s}", "by", by));
	end_pair(s, 0);
}

static void carry_out(struct sup *s, unsigned act)
{
	if (act & SUP_STOP)
		begin_stop(s, NULL);
	if (s->stopping)
		return;
	if (act & SUP_LOCKDOWN) {
		s->locked = true;
		sup_event(s, "lockdown", true, json_pack("{s:s, s:s}", "reason", s->lock_reason, "until",
			  "airlock unlock"));
		/* Both end (they shared a channel); the protocol domain comes back alone. */
		for (int i = 0; i < AL_DOMAIN_COUNT; i++)
			s->dom[i].restart_wanted = false;
		end_pair(s, 0);
		sup_listen_follow(s);
		schedule_restart(s, al_now_ns(), "lockdown");
		return;
	}
	if (act & SUP_RESTART) {
		bool any = false;
		/* The AI domain alone failed and the protocol domain is well: it
		 * stays, with its connections and sessions, and takes the AI
		 * domain's next channel from its handoff socket. */
		struct sup_domain *proto = &s->dom[AL_DOMAIN_PROTO];
		bool ai_only = !proto->restart_wanted && proto->d && proto->state == DOM_RUNNING && !proto->frozen &&
			       s->handoff_fd >= 0 && (!s->restart_at_ns || s->restart_ai_only);
		for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
			struct sup_domain *dom = &s->dom[i];
			if (!dom->restart_wanted)
				continue;
			dom->restart_wanted = false;
			any = true;
			/* The culprit, if still there, goes at once (frozen or not). */
			if (dom->d && dom->state != DOM_STOPPING) {
				dom->culprit = true;
				if (!dom->frozen)
					al_domain_kill(dom->d, SIGKILL);
				sup_dom_end(s, dom, 0);
			}
			failed(s, dom);
		}
		if (any && ai_only && s->restart_at_ns) {
			s->restart_ai_only = true;
			/* The protocol domain fails its calls in flight at once. */
			if (s->chan_fd >= 0)
				al_chan_shutdown(s->chan_fd);
		} else if (any) {
			s->restart_ai_only = false;
			end_pair(s, SUP_PEER_GRACE_MS);
		}
	}
	/* A restart already pending builds the new spec anyway. */
	if ((act & SUP_RESPAWN) && !s->restart_at_ns) {
		end_pair(s, 0);
		schedule_restart(s, al_now_ns(), "level");
	}
}

/* A reply the control socket owes until the restart it asked for is done. */
static void reply_pending(struct sup *s, int rc)
{
	if (s->pending_ctl_fd < 0)
		return;
	json_t *reply;
	if (s->pending_op == AL_CONTROL_UNLOCK)
		reply = rc < 0 ? json_pack("{s:b, s:s}", "ok", 0, "error", "verified, but the domains could not be restarted")
			       : json_pack("{s:b, s:s}", "ok", 1, "message", "verified; domains restarted");
	else
		reply = sup_level_json(s);
	al_control_reply(s->pending_ctl_fd, reply);
	json_decref(reply);
	close(s->pending_ctl_fd);
	s->pending_ctl_fd = -1;
}

/* Both domains start again once the restart is due and both are gone. */
static void restart_if_due(struct sup *s)
{
	bool ai_only = s->restart_ai_only;
	if (!s->restart_at_ns || s->stopping || al_now_ns() < s->restart_at_ns ||
	    (ai_only ? s->dom[AL_DOMAIN_AI].d != NULL : sup_dom_any(s)))
		return;
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		if (s->dom[i].crash_loop)
			return;
	const char *why = s->restart_why;
	s->restart_at_ns = 0;
	s->restart_ai_only = false;
	int rc = ai_only ? sup_dom_restart_ai(s) : sup_dom_start_pair(s);
	const char *result = rc < 0 ? strerror(-rc) : "ok";
	if (!strcmp(why, "level"))
		sup_event(s, "respawn", rc < 0, json_pack("{s:s, s:s}", "level", al_level_name(s->lv.current),
			  "result", result));
	else if (!strcmp(why, "failure"))
		sup_event(s, "restart", rc < 0, json_pack("{s:i, s:s, s:s}", "backoff_ms", (int)s->backoff_ms,
			  "domains", ai_only ? "ai" : "both", "result", result));
	else
		sup_event(s, "restart", rc < 0, json_pack("{s:s, s:s}", "after", why, "result", result));
	reply_pending(s, rc);
	if (rc < 0) {
		/* As a failure of the AI domain: counted, backed off, a loop stops. */
		end_pair(s, 0);
		failed(s, &s->dom[AL_DOMAIN_AI]);
	}
}

/* A domain's init exited: what it said before, what its exit says, and the pair's restart. */
static void on_exit_of(struct sup *s, struct sup_domain *dom)
{
	/* Ended by us (stopped, or killed as an incident's response): already handled. */
	bool ours = dom->state == DOM_STOPPING;
	unsigned act = 0;
	/* A report it made before it ended is read before its exit is judged. */
	if (!ours)
		act |= sup_guard_report(s, dom);
	sup_dom_reap(s, dom);
	if (!ours && !s->stopping) {
		int st = dom->last_status;
		/* Over stdio the protocol domain ends cleanly when its client closes
		 * stdin: the session is over, a restart would only read EOF again. */
		if (s->cfg->proto.stdio && dom->id == AL_DOMAIN_PROTO && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			begin_stop(s, "end of input");
		} else {
			act |= sup_guard_exit(s, dom, st);
			/* A domain that reported its peer ended because of it: the
			 * peer's restart is the pair's, not a failure of the reporter. */
			if (!dom->reported || !(act & SUP_RESTART)) {
				dom->restart_wanted = true;
				act |= SUP_RESTART;
			}
		}
	}
	carry_out(s, act);
}

/* ---- the control socket --------------------------------------------------- */

/*
 * airlock unlock: everything is verified again from the paths (a file fixed
 * on disk is a new file), and only then do the domains come back, from the
 * newly verified fds. The reply waits for the restart.
 */
static json_t *unlock(struct sup *s, int cfd)
{
	if (!s->locked)
		return json_pack("{s:b, s:s}", "ok", 1, "message", "not locked");
	struct sup_files nf = {0};
	char why[512];
	if (sup_files_verify(s, false, &nf, why, sizeof why) < 0) {
		sup_event(s, "unlock-refused", true, json_pack("{s:s}", "reason", why));
		return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", "verification failed: still locked", "reason", why);
	}
	end_pair(s, 0);
	sup_files_install(s, &nf);
	s->locked = s->lock_all = false;
	sup_listen_follow(s);
	sup_event(s, "unlock", true, json_pack("{s:s, s:i}", "was", s->lock_reason, "files", (int)s->files.n));
	s->lock_reason[0] = '\0';
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		s->dom[i].recent_restarts = 0;
		s->dom[i].crash_loop = false;
		if (!s->dom[i].d)
			s->dom[i].state = DOM_STOPPED;
	}
	schedule_restart(s, al_now_ns(), "unlock");
	s->pending_ctl_fd = cfd;
	s->pending_op = AL_CONTROL_UNLOCK;
	return NULL;
}

static json_t *set_level(struct sup *s, uint32_t arg, int cfd)
{
	if (arg > AL_LEVEL_MAXIMUM)
		return json_pack("{s:b, s:s}", "ok", 0, "error", "no such level");
	enum al_level from = s->lv.current;
	al_level_set(&s->lv, (enum al_level)arg, al_now_ns());
	if (s->lv.current < from)
		s->tighten = false; /* the operator lowers it knowingly */
	unsigned act = sup_guard_level_changed(s, from, "airlock level set");
	carry_out(s, act);
	if (!(act & SUP_RESPAWN) || !s->restart_at_ns)
		return sup_level_json(s);
	s->pending_ctl_fd = cfd;
	s->pending_op = AL_CONTROL_LEVEL_SET;
	return NULL;
}

static void on_control(struct sup *s)
{
	int cfd = al_control_accept(s->ctlfd);
	if (cfd < 0)
		return;
	struct al_control_req req;
	int rc = al_control_read_request(cfd, &req);
	json_t *reply;
	bool changes = rc == 0 && (req.op == AL_CONTROL_UNLOCK || req.op == AL_CONTROL_LEVEL_SET);
	if (rc < 0)
		reply = json_pack("{s:b, s:s}", "ok", 0, "error", "malformed request");
	else if (changes && s->pending_ctl_fd >= 0)
		reply = json_pack("{s:b, s:s}", "ok", 0, "error", "busy: a restart is under way, try again");
	else if (req.op == AL_CONTROL_STATUS)
		reply = sup_status(s);
	else if (req.op == AL_CONTROL_LEVEL_GET)
		reply = sup_level_json(s);
	else if (req.op == AL_CONTROL_METRICS)
		reply = sup_metrics(s);
	else if (req.op == AL_CONTROL_LEVEL_SET)
		reply = set_level(s, req.arg, cfd);
	else if (req.op == AL_CONTROL_UNLOCK)
		reply = unlock(s, cfd);
	else if (req.op == AL_CONTROL_STOP) {
		begin_stop(s, "control socket");
		reply = json_pack("{s:b, s:s}", "ok", 1, "message", "stopping");
	} else
		reply = json_pack("{s:b, s:s}", "ok", 0, "error", "not supported by this supervisor");
	if (!reply)
		return; /* owed: reply_pending() answers once the restart is done */
	al_control_reply(cfd, reply);
	json_decref(reply);
	close(cfd);
}

/* ---- the loop --------------------------------------------------------------- */

/* SIGHUP: the configuration and its files verified again (sup_reload), then the pair restarted on them. */
static void reload(struct sup *s)
{
	char why[512] = "";
	if (s->stopping || s->locked || s->restart_at_ns || s->pending_ctl_fd >= 0)
		snprintf(why, sizeof why, "%s", s->locked ? "locked down: airlock unlock verifies and restarts"
						   : "a stop or restart is under way");
	if (why[0] || sup_reload(s, why, sizeof why) < 0) {
		al_log_warnx("reload refused: %s", why);
		sup_event(s, "reload-refused", true, json_pack("{s:s}", "reason", why));
		return;
	}
	sup_event(s, "reload", true, json_pack("{s:s?, s:i}", "config", s->cfg->path, "files", (int)s->files.n));
	end_pair(s, 0);
	schedule_restart(s, al_now_ns(), "reload");
}

static void on_signal(struct sup *s)
{
	struct signalfd_siginfo si;
	if (read(s->sigfd, &si, sizeof si) != (ssize_t)sizeof si)
		return;
	if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
		begin_stop(s, si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
	else if (si.ssi_signo == SIGHUP)
		reload(s);
}

static void on_event(struct sup *s, uint32_t tag)
{
	uint32_t kind = tag & 0xff, d = tag >> 8;
	struct sup_domain *dom = d < AL_DOMAIN_COUNT ? &s->dom[d] : NULL;
	uint64_t ticks;
	switch (kind) {
	case TAG_SIGNAL:
		on_signal(s);
		break;
	case TAG_TIMER:
		(void)!read(s->timerfd, &ticks, sizeof ticks);
		if (!s->stopping)
			carry_out(s, sup_guard_tick(s));
		if (s->audit)
			al_audit_tick(s->audit);
		break;
	case TAG_DEADLINE:
		(void)!read(s->deadlinefd, &ticks, sizeof ticks);
		break;
	case TAG_CONTROL:
		on_control(s);
		break;
	case TAG_PIDFD:
		if (dom && dom->d)
			on_exit_of(s, dom);
		break;
	case TAG_NOTIFY:
		if (dom)
			carry_out(s, sup_guard_notify(s, dom));
		break;
	case TAG_LOG:
		if (dom)
			al_domlog_drain(&dom->log, al_now_ns());
		break;
	case TAG_REPORT:
		if (dom)
			carry_out(s, sup_guard_report(s, dom));
		break;
	default:
		break;
	}
}

/* Runs until a stop was asked for and both domains are gone. */
static int sup_loop(struct sup *s)
{
	while (!s->stopping || sup_dom_any(s)) {
		restart_if_due(s);
		sup_event_sync(s); /* a crash's exit record: after the restart it caused */
		sup_dom_settle(s);
		arm_deadline(s);
		struct epoll_event evs[16];
		int n = epoll_wait(s->epfd, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			al_log_warn("epoll_wait");
			return -1;
		}
		for (int i = 0; i < n; i++)
			on_event(s, evs[i].data.u32);
	}
	return 0;
}

static int loop_setup(struct sup *s)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGPIPE);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	s->deadlinefd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec its = {.it_interval = {SUP_TICK_MS / 1000, (SUP_TICK_MS % 1000) * 1000000L},
				.it_value = {SUP_TICK_MS / 1000, (SUP_TICK_MS % 1000) * 1000000L}};
	if (s->sigfd < 0 || s->epfd < 0 || s->timerfd < 0 || s->deadlinefd < 0 ||
	    timerfd_settime(s->timerfd, 0, &its, NULL) < 0 || sup_epoll_add(s, s->sigfd, TAG_SIGNAL) < 0 ||
	    sup_epoll_add(s, s->timerfd, TAG_TIMER) < 0 || sup_epoll_add(s, s->deadlinefd, TAG_DEADLINE) < 0 ||
	    sup_epoll_add(s, s->ctlfd, TAG_CONTROL) < 0) {
		al_log_warn("event loop setup");
		return -1;
	}
	/* Each domain's output and report pipes, kept across its restarts. */
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		if (sup_dom_pipes(s, &s->dom[i]) < 0) {
			al_log_warn("%s: pipes", sup_dom_names[i]);
			return -1;
		}
	return 0;
}

/*
 * What is still running when the loop is not (a failed start, a failed
 * loop) is killed and reaped here: nothing outlives airlock run.
 */
static void stop_now(struct sup *s)
{
	s->stopping = true;
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		struct sup_domain *dom = &s->dom[i];
		if (!dom->d)
			continue;
		dom->state = DOM_STOPPING;
		al_domain_kill(dom->d, SIGKILL);
		sup_dom_reap(s, dom);
	}
}

/*
 * The start sequence, top to bottom: audit, required protections, verified
 * files, control socket, listener, channel and domains (spawned, attested),
 * ready; then the loop; then a clean stop that leaves nothing behind.
 */
int al_sup_run(const struct al_config *cfg, bool verbose)
{
	struct sup s = {.cfg = cfg, .verbose = verbose, .epfd = -1, .sigfd = -1, .timerfd = -1, .deadlinefd = -1,
			.ctlfd = -1, .listenfd = -1, .model_fd = -1, .tok_fd = -1, .token_fd = -1, .chan_fd = -1,
			.handoff_fd = -1, .handoff_child = -1, .pending_ctl_fd = -1, .started_ns = al_now_ns(), .tsc_trap_safe = sup_tsc_trap_safe()};
	int status = 1;
	al_level_state_init(&s.lv, cfg->level, (uint64_t)cfg->respond.quiet_period_s * 1000000000ULL);
	s.lv.last_event_ns = s.started_ns;
	s.audit_verbosity = al_level_policy(cfg->level)->audit_verbosity;
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		s.dom[i].id = (enum al_domain_id)i;
		s.dom[i].exe_fd = -1;
		s.dom[i].last_status = -1;
		s.dom[i].report_r = s.dom[i].report_w = -1;
		al_domlog_init(&s.dom[i].log, sup_dom_names[i], stderr);
		al_detector_init(&s.dom[i].det, i == AL_DOMAIN_AI ? AL_DETECT_ROLE_COMPUTE : AL_DETECT_ROLE_SERVICE, NULL);
	}
	const char *listen = cfg->proto.stdio ? "stdio" : cfg->proto.systemd ? "systemd" : cfg->proto.host;

	if (sup_mkdir_private(cfg->state_dir) < 0)
		return 1;
	int lockfd = sup_instance_files(&s);
	if (lockfd < 0)
		return 1;
	char keypath[600], statepath[600];
	snprintf(keypath, sizeof keypath, "%s.key", s.audit_log);
	snprintf(statepath, sizeof statepath, "%s.state", s.audit_log);
	if (al_audit_open(&s.audit, s.audit_log, keypath, statepath) < 0) {
		al_log_warnx("audit log %s could not be opened", s.audit_log);
		close(lockfd);
		return 1;
	}
	/* Records before ours mean an earlier run: its manifest must still be there. */
	s.earlier_runs = al_audit_next_seq(s.audit) > 0;
	sup_event(&s, "start", true, json_pack("{s:s, s:i, s:s, s:s, s:s?}", "version", AL_VERSION,
		  "pid", (int)getpid(), "level", al_level_name(cfg->level), "listen", listen, "config", cfg->path));

	if (sup_require_protections(&s) < 0 || sup_files_open(&s) < 0)
		goto out;
	if (cfg->proto.token_file && (s.token_fd = sup_open_verified("proto.token_file", cfg->proto.token_file)) < 0)
		goto out;
	if ((s.ctlfd = al_control_listen(s.control_socket)) < 0) {
		errno = -s.ctlfd;
		s.ctlfd = -1;
		al_log_warn("control socket %s", s.control_socket);
		goto out;
	}
	if (!cfg->proto.stdio && (s.listenfd = cfg->proto.systemd ? sup_listen_systemd()
								  : sup_listen_tcp(cfg->proto.host, cfg->proto.port)) < 0)
		goto out;
	if (loop_setup(&s) < 0)
		goto out;
	/* The supervisor itself goes where the level says it disturbs the domains least. */
	(void)al_sandbox_place_self(&al_level_policy(s.lv.current)->part);
	if (sup_dom_start_pair(&s) < 0) {
		al_log_warnx("refusing to run: the domains could not be started and attested");
		goto out;
	}
	sup_event(&s, "ready", true, json_pack("{s:s, s:i}", "listen", listen, "port", (int)cfg->proto.port));
	sup_notify_ready();
	if (!cfg->proto.stdio) {
		char host[64];
		unsigned port;
		sup_listen_name(s.listenfd, host, sizeof host, &port);
		fprintf(stderr, "airlock: ready on http://%s:%u/mcp (control socket %s)\n", host, port,
			s.control_socket);
	}

	status = sup_loop(&s) < 0 ? 1 : 0;
out:
	stop_now(&s);
	if (s.pending_ctl_fd >= 0)
		close(s.pending_ctl_fd);
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
	sup_files_close(&s.files); /* model, tokenizer and executables among them */
	al_monitor_free(s.mon);
	sodium_memzero(&s.key, sizeof s.key);
	int fds[] = {s.chan_fd, s.handoff_fd, s.token_fd, s.listenfd, s.sigfd, s.timerfd, s.deadlinefd, s.epfd};
	for (size_t i = 0; i < AL_ARRAY_LEN(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (s.ctlfd >= 0) {
		close(s.ctlfd);
		unlink(s.control_socket);
	}
	if (s.audit)
		al_audit_close(s.audit);
	al_config_free(s.cfg_owned);
	close(lockfd); /* last: nothing of ours is written after this */
	return status;
}
