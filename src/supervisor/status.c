/*
 * The control socket's documents (sup_int.h): status and level. A domain's
 * figures are its program's, read from /proc; its init's when the program
 * is not known yet.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "al_config.h"
#include "common/util.h"
#include "supervisor/sup_int.h"


/* Resident memory and CPU time of a running domain, from its /proc files. */
static void read_usage(pid_t pid, long long *rss_kib, double *cpu_seconds)
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
	*rss_kib = rss_kb;
	*cpu_seconds = cpu_s;
}

static json_t *domain_usage(pid_t pid)
{
	long long rss_kb;
	double cpu_s;
	read_usage(pid, &rss_kb, &cpu_s);
	return json_pack("{s:I, s:f}", "rss_kib", (json_int_t)rss_kb, "cpu_seconds", cpu_s);
}

/* The program a running domain serves with: its init's only child, else the init. */
static pid_t domain_program(struct sup_domain *d)
{
	pid_t init = al_domain_pid(d->d), w = d->worker;
	if (!w && al_proc_children(init, &w, 1) < 1)
		w = 0;
	return w ? w : init;
}

json_t *sup_level_json(struct sup *s)
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
			 (p->part.tsc || s->tighten) && s->tsc_trap_safe, "integrity_interval_s",
			 (int)sup_integrity_interval_s(s), "audit_verbosity", p->audit_verbosity,
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
		json_object_set_new(det, sup_dom_names[i], al_detector_json(&s->dom[i].det));
	return json_pack("{s:o, s:I, s:O?, s:{s:I, s:I, s:I, s:f}, s:f, s:f, s:o}", "level", sup_level_json(s),
			 "incidents", (json_int_t)s->incidents, "last_incident", s->last_incident,
			 "integrity", "passes", (json_int_t)ms.passes, "bytes", (json_int_t)ms.bytes,
			 "slice", (json_int_t)ms.slice, "cpu_ms", (double)ms.cpu_ns / 1e6,
			 "guard_cpu_ms", (double)s->guard_cpu_ns / 1e6, "guard_cpu_pct",
			 up > 0 ? (double)s->guard_cpu_ns / 1e9 / up * 100 : 0.0, "detector", det);
}

/* The adaptive class's reading of the CPUs (guard.c, pressure_poll). */
static json_t *pressure_status(const struct sup_pressure *p)
{
	return json_pack("{s:b, s:f, s:i, s:s?}", "contended", !sup_guard_calm_of(p), "pct", p->c.last_pct,
			 "switches", (int)p->c.switches, "error", p->err ? strerror(p->err) : NULL);
}

json_t *sup_status(struct sup *s)
{
	json_t *doms = json_array();
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		struct sup_domain *d = &s->dom[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:i}", "name", sup_dom_names[i], "profile", al_config_profile((enum al_domain_id)i),
				      "state", sup_dom_state_names[d->state], "restarts", (int)d->restarts,
				      "pid", d->d ? (int)al_domain_pid(d->d) : 0);
		if (d->d) {
			json_object_set_new(o, "uptime_s", json_real((double)(al_now_ns() - d->started_ns) / 1e9));
			/* The program's own figures: the init only forks and reaps. */
			pid_t init = al_domain_pid(d->d), w = d->worker;
			if (!w && al_proc_children(init, &w, 1) < 1)
				w = 0;
			json_object_set_new(o, "worker_pid", json_integer(w));
			json_object_set_new(o, "usage", domain_usage(w ? w : init));
			/* read back now: the I/O threads of the real-time class are set after start */
			json_t *sched = al_domain_sched_report(d->d);
			if (sched) {
				json_object_set_new(sched, "follow_client", json_boolean(d->follow));
				if (d->adaptive)
					json_object_set_new(sched, "pressure", pressure_status(&s->pressure));
				json_object_set_new(o, "sched", sched);
			}
		}
		json_object_set(o, "attested", d->attestation ? d->attestation : json_null());
		json_array_append_new(doms, o);
	}
	return json_pack("{s:b, s:s, s:f, s:s, s:s, s:I, s:o, s:o}", "ok", 1, "version", AL_VERSION,
			 "uptime_s", (double)(al_now_ns() - s->started_ns) / 1e9, "level",
			 al_level_name(s->lv.current), "listen",
			 s->cfg->proto.stdio ? "stdio" : s->cfg->proto.systemd ? "systemd" : s->cfg->proto.host,
			 "seccomp_violations", (json_int_t)s->violations, "domains", doms, "guard", guard_status(s));
}


/* ---- metrics ---------------------------------------------------------------- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * The Prometheus text exposition format (version 0.0.4) of what the
 * supervisor knows: it sees no request, so there are no request figures
 * (docs/metrics.md). Names carry the airlock_ prefix and base units.
 */
json_t *sup_metrics(struct sup *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return json_pack("{s:b, s:s}", "ok", 0, "error", "out of memory");
	family(f, "airlock_uptime_seconds", "gauge", "Seconds since airlock run started.");
	fprintf(f, "airlock_uptime_seconds %.3f\n", (double)(al_now_ns() - s->started_ns) / 1e9);
	family(f, "airlock_build_info", "gauge", "The version of the supervisor; always 1.");
	fprintf(f, "airlock_build_info{version=\"%s\"} 1\n", AL_VERSION);

	family(f, "airlock_domain_up", "gauge", "1 while the domain runs, else 0.");
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		fprintf(f, "airlock_domain_up{domain=\"%s\"} %d\n", sup_dom_names[i], s->dom[i].d ? 1 : 0);
	family(f, "airlock_domain_restarts_total", "counter", "Restarts of the domain after a failure or an incident.");
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		fprintf(f, "airlock_domain_restarts_total{domain=\"%s\"} %u\n", sup_dom_names[i], s->dom[i].restarts);
	long long rss[AL_DOMAIN_COUNT];
	double cpu[AL_DOMAIN_COUNT];
	for (int i = 0; i < AL_DOMAIN_COUNT; i++) {
		rss[i] = -1;
		cpu[i] = -1;
		if (s->dom[i].d)
			read_usage(domain_program(&s->dom[i]), &rss[i], &cpu[i]);
	}
	family(f, "airlock_domain_resident_memory_bytes", "gauge",
	       "Resident memory of the program the running domain serves with.");
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		if (rss[i] >= 0)
			fprintf(f, "airlock_domain_resident_memory_bytes{domain=\"%s\"} %lld\n", sup_dom_names[i],
				rss[i] * 1024);
	family(f, "airlock_domain_cpu_seconds_total", "counter",
	       "CPU time (user and system) of the program the running domain serves with; starts again at 0 on "
	       "a restart.");
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		if (cpu[i] >= 0)
			fprintf(f, "airlock_domain_cpu_seconds_total{domain=\"%s\"} %.2f\n", sup_dom_names[i], cpu[i]);

	family(f, "airlock_level", "gauge", "The security level in force; 1 for the current one.");
	for (int l = 0; l <= AL_LEVEL_MAXIMUM; l++)
		fprintf(f, "airlock_level{level=\"%s\"} %d\n", al_level_name((enum al_level)l),
			(int)s->lv.current == l ? 1 : 0);
	family(f, "airlock_level_number", "gauge", "The security level in force as a number, 0 for the lowest.");
	fprintf(f, "airlock_level_number %d\n", (int)s->lv.current);
	family(f, "airlock_locked", "gauge", "1 while an integrity lockdown keeps the AI domain stopped.");
	fprintf(f, "airlock_locked %d\n", s->locked ? 1 : 0);

	family(f, "airlock_incidents_total", "counter", "Incidents, by type and by the domain they concern.");
	for (int t = 0; t < AL_INC_COUNT; t++)
		for (int i = 0; i < AL_DOMAIN_COUNT; i++)
			fprintf(f, "airlock_incidents_total{type=\"%s\",domain=\"%s\"} %llu\n",
				al_incident_type_name((enum al_incident_type)t), sup_dom_names[i],
				(unsigned long long)s->incidents_by[t][i]);
	family(f, "airlock_seccomp_violations_total", "counter",
	       "Forbidden system calls the seccomp notifications reported, by domain.");
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		fprintf(f, "airlock_seccomp_violations_total{domain=\"%s\"} %llu\n", sup_dom_names[i],
			(unsigned long long)s->dom[i].counters.seccomp_violations);
	family(f, "airlock_channel_violations_total", "counter",
	       "Channel rule breaks a domain reported about the other, by the domain reported about.");
	for (int i = 0; i < AL_DOMAIN_COUNT; i++)
		fprintf(f, "airlock_channel_violations_total{domain=\"%s\"} %llu\n", sup_dom_names[i],
			(unsigned long long)s->dom[i].counters.chan_violations);

	struct al_monitor_stats ms = {0};
	if (s->mon)
		al_monitor_stats(s->mon, &ms);
	family(f, "airlock_integrity_passes_total", "counter", "Complete passes of the integrity monitor over every file.");
	fprintf(f, "airlock_integrity_passes_total %llu\n", (unsigned long long)(ms.passes + s->integrity_before.passes));
	family(f, "airlock_integrity_hashed_bytes_total", "counter", "Bytes the integrity monitor hashed.");
	fprintf(f, "airlock_integrity_hashed_bytes_total %llu\n", (unsigned long long)(ms.bytes + s->integrity_before.bytes));
	family(f, "airlock_integrity_cpu_seconds_total", "counter", "CPU time the integrity monitor spent hashing.");
	fprintf(f, "airlock_integrity_cpu_seconds_total %.6f\n", (double)(ms.cpu_ns + s->integrity_before.cpu_ns) / 1e9);
	family(f, "airlock_guard_cpu_seconds_total", "counter",
	       "CPU time the supervisor spent in detection and /proc checks.");
	fprintf(f, "airlock_guard_cpu_seconds_total %.6f\n", (double)s->guard_cpu_ns / 1e9);
	if (fclose(f) != 0) {
		free(text);
		return json_pack("{s:b, s:s}", "ok", 0, "error", "out of memory");
	}
	json_t *r = json_pack("{s:b, s:s#}", "ok", 1, "text", text, len);
	free(text);
	return r;
}
