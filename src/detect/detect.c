#include "detect/detect.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

static const char *const type_names[AL_INC_COUNT] = {"privilege-escalation", "memory-corruption",
						     "side-channel", "integrity-violation", "protocol-abuse"};

const char *al_incident_type_name(enum al_incident_type t)
{
	return (unsigned)t < AL_INC_COUNT ? type_names[t] : "unknown";
}

const char *al_severity_name(enum al_severity s)
{
	switch (s) {
	case AL_SEV_LOW: return "low";
	case AL_SEV_MEDIUM: return "medium";
	case AL_SEV_HIGH: return "high";
	case AL_SEV_CRITICAL: return "critical";
	default: return "unknown";
	}
}

void al_incident_clear(struct al_incident *inc)
{
	json_decref(inc->evidence);
	inc->evidence = NULL;
}

json_t *al_incident_json(const struct al_incident *inc, const char *domain)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:O}", "type", al_incident_type_name(inc->type), "severity",
			 al_severity_name(inc->severity), "rule", inc->rule ? inc->rule : "?", "domain",
			 domain ? domain : "?", "evidence", inc->evidence ? inc->evidence : json_null());
}

/* ---- metrics from /proc ---- */

/* "Key:\t123 kB" at the start of a line of a status text. */
static int status_u64(const char *text, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(p + klen + 1, &end, 10);
			if (errno || end == p + klen + 1)
				return -EBADMSG;
			*out = v;
			return 0;
		}
	}
	return -ENOENT;
}

int al_metrics_parse(const char *stat, const char *status, long clk_tck, struct al_metrics *m)
{
	/* The comm field may hold spaces and parentheses: fields resume after the last ')'. */
	const char *p = strrchr(stat, ')');
	unsigned long long minflt, majflt, ut, st;
	if (!p || clk_tck <= 0 ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %llu %*u %llu %*u %llu %llu", &minflt, &majflt, &ut,
		   &st) != 4)
		return -EBADMSG;
	uint64_t rss = 0, vcsw = 0, nvcsw = 0;
	/* A zombie or a kernel thread has no VmRSS: counts as 0. */
	if (status_u64(status, "VmRSS", &rss) == -EBADMSG ||
	    status_u64(status, "voluntary_ctxt_switches", &vcsw) < 0 ||
	    status_u64(status, "nonvoluntary_ctxt_switches", &nvcsw) < 0)
		return -EBADMSG;
	m->minflt += minflt;
	m->majflt += majflt;
	/* Saturating: these are the kernel's counters, but never trust arithmetic on text. */
	uint64_t ticks, ns;
	if (__builtin_add_overflow(ut, st, &ticks) ||
	    __builtin_mul_overflow(ticks, (uint64_t)(1000000000 / clk_tck), &ns))
		ns = UINT64_MAX;
	m->cpu_ns = __builtin_add_overflow(m->cpu_ns, ns, &m->cpu_ns) ? UINT64_MAX : m->cpu_ns;
	m->rss_kib += rss;
	m->vcsw += vcsw;
	m->nvcsw += nvcsw;
	return 0;
}

int al_metrics_read(const char *root, pid_t pid, struct al_metrics *m)
{
	char path[128];
	AL_AUTOFREE char *stat = NULL;
	AL_AUTOFREE char *status = NULL;
	int rc;
	snprintf(path, sizeof path, "%s/proc/%d/stat", root ? root : "", (int)pid);
	if ((rc = al_read_file_at(AT_FDCWD, path, 4096, &stat, NULL)) < 0)
		return rc;
	snprintf(path, sizeof path, "%s/proc/%d/status", root ? root : "", (int)pid);
	if ((rc = al_read_file_at(AT_FDCWD, path, 65536, &status, NULL)) < 0)
		return rc;
	struct al_metrics one = {0};
	if ((rc = al_metrics_parse(stat, status, sysconf(_SC_CLK_TCK), &one)) < 0)
		return rc;
	/* stat's times and faults cover every thread; status's context switches only
	 * the main one: the threads' are summed from their own status files. */
	snprintf(path, sizeof path, "%s/proc/%d/task", root ? root : "", (int)pid);
	DIR *d = opendir(path);
	if (d) {
		uint64_t v = 0, nv = 0;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char tpath[192];
			AL_AUTOFREE char *ts = NULL;
			uint64_t a, b;
			snprintf(tpath, sizeof tpath, "%s/%.20s/status", path, e->d_name);
			if (al_read_file_at(AT_FDCWD, tpath, 65536, &ts, NULL) == 0 &&
			    status_u64(ts, "voluntary_ctxt_switches", &a) == 0 &&
			    status_u64(ts, "nonvoluntary_ctxt_switches", &b) == 0) {
				v += a;
				nv += b;
			}
		}
		closedir(d);
		if (v + nv >= one.vcsw + one.nvcsw) {
			one.vcsw = v;
			one.nvcsw = nv;
		}
	}
	m->cpu_ns += one.cpu_ns;
	m->rss_kib += one.rss_kib;
	m->minflt += one.minflt;
	m->majflt += one.majflt;
	m->vcsw += one.vcsw;
	m->nvcsw += one.nvcsw;
	return 0;
}

/* ---- baselines ---- */

void al_baseline_add(struct al_baseline *b, double x, double alpha)
{
	if (b->n == 0) {
		b->ewma = x;
		b->ewvar = 0;
	} else {
		/* West's incremental EWMA variance. */
		double d = x - b->ewma;
		b->ewma += alpha * d;
		b->ewvar = (1 - alpha) * (b->ewvar + alpha * d * d);
	}
	b->win[b->pos] = x;
	b->pos = (b->pos + 1) % AL_DETECT_WINDOW;
	if (b->n < AL_DETECT_WINDOW)
		b->n++;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median_of(double *v, unsigned n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double al_baseline_median(const struct al_baseline *b, double *mad)
{
	double v[AL_DETECT_WINDOW];
	if (b->n == 0) {
		if (mad)
			*mad = 0;
		return 0;
	}
	memcpy(v, b->win, b->n * sizeof v[0]);
	double med = median_of(v, b->n);
	if (mad) {
		for (unsigned i = 0; i < b->n; i++)
			v[i] = fabs(b->win[i] - med);
		*mad = median_of(v, b->n);
	}
	return med;
}

bool al_baseline_anomalous(const struct al_baseline *b, double x, double k, double floor)
{
	double mad;
	double med = al_baseline_median(b, &mad);
	/* The EWMA's variance swells with the first samples of a ramp, which the
	 * median ignores: it gets half the margin. */
	return x > floor && x > med + k * 1.4826 * mad && x > b->ewma + k / 2 * sqrt(b->ewvar);
}

/* ---- the detector ---- */

void al_detect_params_default(struct al_detect_params *p, enum al_detect_role role)
{
	/* Floors from recorded series (tests/detect/data): an AI domain serving
	 * requests with the embedded model stays under 0.06 core per second; a
	 * spinning one gets 0.25 core even on a 2-vCPU machine at load 8. The
	 * protocol domain serving normal traffic stays under 0.03 core and 100
	 * faults per second; a flood of requests faults 800+ times a second even
	 * when the machine is too loaded to give it much CPU. The floors only
	 * keep a flat baseline (MAD 0) from calling noise an attack; above them
	 * the baselines decide. */
	*p = (struct al_detect_params){
		.warmup = 10,
		.k = 6,
		.alpha = 0.1,
		.fire_after = 3,
		.clear_after = 5,
		.cpu_floor = 0.1,
		.fault_floor = role == AL_DETECT_ROLE_COMPUTE ? 20000 : 400,
		.csw_floor = role == AL_DETECT_ROLE_COMPUTE ? 2000 : 1500,
		.rss_floor_kib = 64 * 1024,
	};
}

void al_detector_init(struct al_detector *d, enum al_detect_role role, const struct al_detect_params *p)
{
	memset(d, 0, sizeof *d);
	d->role = role;
	if (p)
		d->p = *p;
	else
		al_detect_params_default(&d->p, role);
}

void al_detector_reset_counters(struct al_detector *d)
{
	d->have_prev = false;
}

static const char *const rule_names[AL_RULE_COUNT] = {"cpu-sustained", "fault-storm", "switch-storm",
						      "memory-growth"};

/* Counters can only grow; a smaller one means a new process: no rate this tick. */
static double rate(uint64_t now, uint64_t before, double dt_s)
{
	return now >= before ? (double)(now - before) / dt_s : 0;
}

static void add(struct al_incident *out, size_t *n, enum al_incident_type t, enum al_severity s,
		const char *rule, json_t *evidence)
{
	if (*n >= AL_DETECT_MAX_INCIDENTS) {
		json_decref(evidence);
		return;
	}
	out[(*n)++] = (struct al_incident){.type = t, .severity = s, .rule = rule, .evidence = evidence};
}

/* What a sustained anomaly of each metric means in each role. */
static void classify(enum al_detect_role role, int rule, enum al_incident_type *t, enum al_severity *s)
{
	switch (rule) {
	case AL_RULE_CPU:
		/* A compute domain's work is bounded bursts; minutes of spinning is a timing loop.
		 * The service domain spinning is serving a flood. */
		*t = role == AL_DETECT_ROLE_COMPUTE ? AL_INC_SIDE_CHANNEL : AL_INC_PROTOCOL_ABUSE;
		*s = AL_SEV_MEDIUM;
		return;
	case AL_RULE_FAULTS:
		/* A compute domain that faults far above its pattern is walking eviction
		 * sets; a service domain does so when its input makes it. */
		*t = role == AL_DETECT_ROLE_COMPUTE ? AL_INC_SIDE_CHANNEL : AL_INC_PROTOCOL_ABUSE;
		*s = AL_SEV_MEDIUM;
		return;
	case AL_RULE_CSW:
		*t = role == AL_DETECT_ROLE_SERVICE ? AL_INC_PROTOCOL_ABUSE : AL_INC_SIDE_CHANNEL;
		*s = AL_SEV_LOW;
		return;
	default:
		*t = AL_INC_MEMORY_CORRUPTION;
		*s = AL_SEV_MEDIUM;
		return;
	}
}

/* Counter rules: no baseline, no warm-up. One refused call is already an attempt. */
static void counter_rules(struct al_detector *d, const struct al_metrics *m, struct al_incident *out, size_t *np)
{
	const struct al_metrics *p = &d->prev;
	if (m->seccomp_violations > p->seccomp_violations)
		add(out, np, AL_INC_PRIV_ESCALATION, AL_SEV_HIGH, "seccomp-violation",
		    json_pack("{s:I, s:I}", "new", (json_int_t)(m->seccomp_violations - p->seccomp_violations),
			      "total", (json_int_t)m->seccomp_violations));
	if (m->chan_violations > p->chan_violations)
		add(out, np, d->role == AL_DETECT_ROLE_COMPUTE ? AL_INC_MEMORY_CORRUPTION : AL_INC_PROTOCOL_ABUSE,
		    AL_SEV_HIGH, "channel-violation",
		    json_pack("{s:I, s:I}", "new", (json_int_t)(m->chan_violations - p->chan_violations),
			      "total", (json_int_t)m->chan_violations));

	d->prev.seccomp_violations = m->seccomp_violations;
	d->prev.chan_violations = m->chan_violations;
}

size_t al_detector_counters(struct al_detector *d, const struct al_metrics *m,
			    struct al_incident out[AL_DETECT_MAX_INCIDENTS])
{
	size_t n = 0;
	if (!d->have_prev) {
		d->prev = *m;
		d->have_prev = true;
		/* A first sample that already holds violations is judged, not absorbed. */
		d->prev.seccomp_violations = d->prev.chan_violations = 0;
	}
	counter_rules(d, m, out, &n);
	return n;
}

size_t al_detector_observe(struct al_detector *d, const struct al_metrics *m, uint64_t dt_ns,
			   struct al_incident out[AL_DETECT_MAX_INCIDENTS])
{
	size_t n = 0;
	if (!d->have_prev || dt_ns == 0) {
		d->prev = *m;
		d->have_prev = true;
		return 0;
	}
	counter_rules(d, m, out, &n);
	const struct al_metrics *p = &d->prev;
	double dt = (double)dt_ns / 1e9;
	double x[AL_RULE_COUNT], floor[AL_RULE_COUNT];
	x[AL_RULE_CPU] = rate(m->cpu_ns, p->cpu_ns, dt) / 1e9;
	x[AL_RULE_FAULTS] = rate(m->minflt + m->majflt, p->minflt + p->majflt, dt);
	x[AL_RULE_CSW] = rate(m->vcsw + m->nvcsw, p->vcsw + p->nvcsw, dt);
	x[AL_RULE_RSS] = (double)m->rss_kib;
	double rss_med = al_baseline_median(&d->base[AL_RULE_RSS], NULL);
	/* Requests being served: a domain's load while the channel moves is its
	 * work (generation in the compute domain, the clients' calls that carry it
	 * in the service domain); load that gives the AI domain nothing, a flood
	 * of malformed requests say, is still judged. The idle baseline stays the
	 * idle one, and an anomaly needs idle ticks in a row. */
	bool working = m->work != p->work;
	floor[AL_RULE_CPU] = d->p.cpu_floor;
	floor[AL_RULE_FAULTS] = d->p.fault_floor;
	floor[AL_RULE_CSW] = d->p.csw_floor;
	floor[AL_RULE_RSS] = rss_med + d->p.rss_floor_kib;
	d->prev = *m;
	d->ticks++;
	for (int r = 0; r < AL_RULE_COUNT; r++) {
		d->last[r] = x[r];
		if (working && r != AL_RULE_RSS) {
			d->over[r] = 0;
			continue;
		}
		bool warm = d->ticks > d->p.warmup;
		bool bad = warm && al_baseline_anomalous(&d->base[r], x[r], d->p.k, floor[r]);
		if (!bad) {
			al_baseline_add(&d->base[r], x[r], d->p.alpha);
			d->over[r] = 0;
			if (d->fired[r] && ++d->under[r] >= d->p.clear_after) {
				d->fired[r] = false;
				d->under[r] = 0;
			}
			continue;
		}
		d->under[r] = 0;
		if (++d->over[r] < d->p.fire_after || d->fired[r])
			continue;
		d->fired[r] = true;
		double mad;
		double med = al_baseline_median(&d->base[r], &mad);
		enum al_incident_type t;
		enum al_severity s;
		classify(d->role, r, &t, &s);
		add(out, &n, t, s, rule_names[r],
		    json_pack("{s:f, s:f, s:f, s:f, s:i}", "value", x[r], "median", med, "mad", mad, "ewma",
			      d->base[r].ewma, "ticks", (int)d->over[r]));
	}
	return n;
}

json_t *al_detector_json(const struct al_detector *d)
{
	json_t *o = json_object();
	json_object_set_new(o, "ticks", json_integer((json_int_t)d->ticks));
	json_object_set_new(o, "warm", json_boolean(d->ticks > d->p.warmup));
	for (int r = 0; r < AL_RULE_COUNT; r++) {
		double mad, med = al_baseline_median(&d->base[r], &mad);
		json_object_set_new(o, rule_names[r], json_pack("{s:f, s:f, s:f, s:b}", "last", d->last[r],
								"median", med, "mad", mad, "fired", d->fired[r]));
	}
	return o;
}
