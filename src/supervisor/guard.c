/*
 * The guard (sup_int.h): incidents and security levels. What a domain's exit,
 * its report pipe, a seccomp notification or the tick's checks show becomes
 * an incident; the response that touches only the domain's own tasks
 * (freeze, dump) happens here, and what needs the domains ended or started
 * (restart, lockdown, respawn on a new level) is returned to the loop.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "airlock/channel.h"
#include "common/log.h"
#include "common/util.h"
#include "supervisor/evidence.h"
#include "supervisor/sup_int.h"

/*
 * What a domain's own exit says about it, and only about it
 * (supervisor/evidence.h): a peer's misdeeds arrive on the report pipe.
 */
unsigned sup_guard_exit(struct sup *s, struct sup_domain *dom, int status)
{
	struct al_incident inc;
	unsigned act = 0;
	dom->counters.restarts++;
	if (al_evidence_exit(status, &inc) == 1) {
		act = sup_guard_incident(s, dom, &inc);
		al_incident_clear(&inc);
	}
	return act;
}

/*
 * A record on a domain's report pipe. The reporter is certain (its pipe); the
 * subject is its peer, on the reporter's word, and the audit record says so.
 * One report counts per incarnation; anything malformed counts against the
 * domain that wrote it.
 */
unsigned sup_guard_report(struct sup *s, struct sup_domain *dom)
{
	unsigned act = 0;
	unsigned char buf[256];
	ssize_t n;
	do
		n = read(dom->report_r, buf, sizeof buf);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || dom->reported || !dom->d)
		return 0; /* nothing, or after the one report that counts: drained */
	uint64_t code;
	const char *why;
	enum al_report_kind k = al_evidence_report(buf, (size_t)n, &code, &why);
	if (k == AL_REPORT_NONE)
		return 0;
	dom->reported = true;
	struct sup_domain *about = k == AL_REPORT_PEER ? &s->dom[dom->id == AL_DOMAIN_AI ? AL_DOMAIN_PROTO
											 : AL_DOMAIN_AI]
						      : dom;
	sup_event(s, "report", true, json_pack("{s:s, s:s, s:s, s:I, s:s}", "reported_by", sup_dom_names[dom->id],
		  "about", sup_dom_names[about->id], "kind", k == AL_REPORT_PEER ? "peer-violation" : "malformed",
		  "code", (json_int_t)code, "why", why));
	about->counters.chan_violations++;
	struct al_incident inc[AL_DETECT_MAX_INCIDENTS];
	size_t ni = al_detector_counters(&about->det, &about->counters, inc);
	for (size_t i = 0; i < ni; i++) {
		json_object_set_new(inc[i].evidence, "reported_by", json_string(sup_dom_names[dom->id]));
		json_object_set_new(inc[i].evidence, "report", json_string(why));
		if (about->d)
			act |= sup_guard_incident(s, about, &inc[i]);
		al_incident_clear(&inc[i]);
	}
	return act;
}

unsigned sup_guard_incident(struct sup *s, struct sup_domain *dom, struct al_incident *inc)
{
	unsigned act = 0;
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
	json_t *doc = al_incident_json(inc, sup_dom_names[dom->id]);
	if ((steps & AL_STEP_DUMP) && dom->d) {
		pid_t pids[4] = {al_domain_pid(dom->d)};
		size_t np = 1 + al_proc_children(pids[0], pids + 1, 3);
		char *path = NULL;
		int rc = al_respond_dump(s->cfg->respond.dump_dir, sup_dom_names[dom->id], pids, np, doc, &path);
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
	if ((steps & AL_STEP_LOCKDOWN) && !s->locked) {
		snprintf(s->lock_reason, sizeof s->lock_reason, "%s: %s", al_incident_type_name(inc->type),
			 inc->rule ? inc->rule : "?");
		act |= SUP_LOCKDOWN;
	}
	/* The restart comes after the level moves: it happens once, on the new level's spec. */
	if ((steps & AL_STEP_RESTART) && dom->d) {
		dom->restart_wanted = true;
		act |= SUP_RESTART;
	}
	enum al_level from = s->lv.current;
	if (al_level_incident(&s->lv, (steps & AL_STEP_RAISE_LEVEL) ? inc->severity : AL_SEV_LOW, al_now_ns()) ||
	    ((steps & AL_STEP_TIGHTEN) && s->lv.current == from))
		act |= sup_guard_level_changed(s, from, al_incident_type_name(inc->type));
	return act;
}

/*
 * The level in force changed. The audit verbosity follows it; domains built
 * for a weaker level than the new one are respawned clean on the new spec
 * (a filter cannot be tightened from outside a running process).
 */
unsigned sup_guard_level_changed(struct sup *s, enum al_level from, const char *why)
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
	return respawn ? SUP_RESPAWN : 0;
}

unsigned sup_guard_notify(struct sup *s, struct sup_domain *dom)
{
	struct al_violation v;
	unsigned act = 0;
	if (!dom->d || al_domain_notify_handle(dom->d, &v) < 0) {
		/* Hung up: no task holds the domain's filter any more (it is dying).
		 * The fd stays readable until the domain is reaped, and the loop
		 * would spin on it meanwhile, taking the CPU the dying domain needs
		 * to end: it is no longer watched. */
		struct pollfd p = {.fd = dom->d ? al_domain_notify_fd(dom->d) : -1, .events = POLLIN};
		if (p.fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLHUP))
			(void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, p.fd, NULL);
		return 0;
	}
	s->violations++;
	dom->counters.seccomp_violations++;
	/* The response first (it freezes the domain); the record of the call after. */
	struct al_incident inc[AL_DETECT_MAX_INCIDENTS];
	size_t n = al_detector_counters(&dom->det, &dom->counters, inc);
	for (size_t i = 0; i < n; i++) {
		json_object_set_new(inc[i].evidence, "syscall", json_string(v.name));
		json_object_set_new(inc[i].evidence, "nr", json_integer(v.nr));
		json_object_set_new(inc[i].evidence, "pid", json_integer(v.pid));
		act |= sup_guard_incident(s, dom, &inc[i]);
		al_incident_clear(&inc[i]);
	}
	sup_event(s, "seccomp-violation", true, json_pack("{s:s, s:i, s:s, s:i, s:[I,I,I,I,I,I]}",
		  "domain", sup_dom_names[dom->id], "pid", (int)v.pid, "syscall", v.name, "nr", v.nr, "args",
		  (json_int_t)v.args[0], (json_int_t)v.args[1], (json_int_t)v.args[2],
		  (json_int_t)v.args[3], (json_int_t)v.args[4], (json_int_t)v.args[5]));
	return act;
}

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

/* The real-time class's I/O threads, from outside, once they exist (sandbox.h,
 * al_sched); true while some are still missing. */
static bool sched_threads(struct sup *s, struct sup_domain *dom)
{
	unsigned missing = 0;
	int nrt = al_domain_sched_threads(dom->d, &missing);
	if (nrt > 0)
		sup_event(s, "sched", false, json_pack("{s:s, s:i}", "domain", sup_dom_names[dom->id], "io_threads", nrt));
	return missing > 0;
}

bool sup_guard_calm_of(const struct sup_pressure *p)
{
	return !p->err && !p->c.rt;
}

/*
 * The adaptive class (src/sandbox/pressure.c): every SUP_PRESSURE_POLL_MS
 * while such a domain runs, the CPUs' pressure decides whether its I/O
 * threads are real-time. Where the kernel keeps no pressure they stay
 * real-time, as in the realtime class. Returns when to read next (0: no such
 * domain).
 */
static bool adaptive_running(const struct sup_domain *dom)
{
	return dom->d && dom->adaptive && dom->state == DOM_RUNNING && !dom->frozen;
}

static uint64_t pressure_poll(struct sup *s, uint64_t now)
{
	bool any = false;
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		any |= adaptive_running(&s->dom[i]);
	if (!any)
		return 0;
	struct sup_pressure *p = &s->pressure;
	if (now < p->next_ns)
		return p->next_ns;
	p->next_ns = now + SUP_PRESSURE_POLL_MS * 1000000ULL;
	uint64_t total = 0;
	int rc = al_psi_cpu_read(&total);
	if (rc < 0 && p->err != -rc)
		al_log_warnx("supervisor: /proc/pressure/cpu: %s; adaptive I/O threads stay real-time", strerror(-rc));
	p->err = rc < 0 ? -rc : 0;
	bool calm = rc == 0 && !al_contention_feed(&p->c, total, now);
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		if (adaptive_running(&s->dom[i]) && al_domain_sched_io_calm(s->dom[i].d, calm))
			(void)al_domain_sched_threads(s->dom[i].d, NULL);
	return p->next_ns;
}

/*
 * A new domain's I/O threads appear soon after it starts, before its first
 * client, so for its first SUP_SCHED_POLL_FOR_MS they are looked for every
 * SUP_SCHED_POLL_MS rather than on the next tick. Returns when to look next
 * (0: nothing pending).
 */
uint64_t sup_guard_sched_poll(struct sup *s, uint64_t now)
{
	uint64_t next = pressure_poll(s, now);
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		struct sup_domain *dom = &s->dom[i];
		if (!dom->d || dom->frozen || dom->state != DOM_RUNNING ||
		    now - dom->started_ns >= SUP_SCHED_POLL_FOR_MS * 1000000ULL || now < dom->sched_poll_ns)
			continue;
		if (!sched_threads(s, dom)) {
			dom->sched_poll_ns = UINT64_MAX; /* all set: the tick keeps them */
			continue;
		}
		dom->sched_poll_ns = now + SUP_SCHED_POLL_MS * 1000000ULL;
		if (!next || dom->sched_poll_ns < next)
			next = dom->sched_poll_ns;
	}
	return next;
}

/* /proc checks of a domain's init and program: the actions of an incident, or 0. */
static unsigned check_domain(struct sup *s, struct sup_domain *dom, bool *found)
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
		unsigned act = sup_guard_incident(s, dom, &inc);
		al_incident_clear(&inc);
		*found = true;
		return act;
	}
	return 0;
}

unsigned sup_guard_tick(struct sup *s)
{
	unsigned act = 0;
	uint64_t now = al_now_ns(), cpu0 = al_thread_cpu_ns();
	uint64_t dt = s->last_tick_ns ? now - s->last_tick_ns : 0;
	s->last_tick_ns = now;
	bool pass = now - s->last_integrity_ns >= (uint64_t)sup_integrity_interval_s(s) * 1000000000ULL;
	if (pass)
		s->last_integrity_ns = now;
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		struct sup_domain *dom = &s->dom[i];
		if (!dom->d || dom->frozen || dom->state != DOM_RUNNING)
			continue;
		bool found = false;
		if (pass && (act |= check_domain(s, dom, &found), found))
			continue;
		sched_threads(s, dom);
		struct al_metrics m = dom->counters;
		m.cpu_ns = m.rss_kib = m.minflt = m.majflt = m.vcsw = m.nvcsw = 0;
		pid_t kids[4];
		size_t nk = al_proc_children(al_domain_pid(dom->d), kids, AL_ARRAY_LEN(kids));
		if (al_metrics_read(NULL, al_domain_pid(dom->d), &m) < 0)
			continue;
		if (s->chan_fd >= 0)
			(void)al_chan_activity(s->chan_fd, &m.work);
		for (size_t k = 0; k < nk; k++)
			(void)al_metrics_read(NULL, kids[k], &m);
		struct al_incident inc[AL_DETECT_MAX_INCIDENTS];
		size_t n = al_detector_observe(&dom->det, &m, dt, inc);
		if (s->audit_verbosity >= 3 || (s->audit_verbosity >= 2 && dom->det.ticks % 10 == 0))
			sup_event(s, "detector", false, json_pack("{s:s, s:o}", "domain", sup_dom_names[i], "state",
				  al_detector_json(&dom->det)));
		for (size_t k = 0; k < n; k++) {
			act |= sup_guard_incident(s, dom, &inc[k]);
			al_incident_clear(&inc[k]);
		}
	}
	/* Files: a slice every tick within the budget; nothing to watch while locked down. */
	struct al_monitor_finding f;
	if (s->mon && !s->locked &&
	    al_monitor_step(s->mon, (uint64_t)sup_integrity_interval_s(s) * 1000000000ULL, SUP_TICK_MS * 1000000ULL, &f) < 0) {
		struct al_incident inc = {AL_INC_INTEGRITY, AL_SEV_CRITICAL, "file-changed",
					  json_pack("{s:s, s:s, s:s}", "file", f.name, "path", f.path, "why", f.reason)};
		/* Never restart the protocol domain from an executable that no longer verifies. */
		s->lock_all = strcmp(f.name, "proto.exe") == 0;
		act |= sup_guard_incident(s, &s->dom[AL_DOMAIN_AI], &inc);
		al_incident_clear(&inc);
	}
	enum al_level from = s->lv.current;
	/* Now, not the tick's start: an incident above may be later than that. */
	now = al_now_ns();
	/* A lockdown (or one asked for above) is an incident still open: the level holds until unlock. */
	if (s->locked || (act & SUP_LOCKDOWN))
		s->lv.last_event_ns = now;
	else if (al_level_tick(&s->lv, now))
		act |= sup_guard_level_changed(s, from, "quiet period");
	s->guard_cpu_ns += al_thread_cpu_ns() - cpu0;
	return act;
}

