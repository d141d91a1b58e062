/*
 * Anomaly detector: per-domain metrics sampled each supervisor tick, online
 * baselines, named rules that turn observations into incidents.
 *
 *   struct al_detector det;
 *   al_detector_init(&det, AL_DETECT_ROLE_COMPUTE, NULL);     default parameters
 *   every tick:
 *     struct al_metrics m;  al_metrics_read(NULL, pid, &m);   once per process, summed
 *     m.seccomp_violations = ...; m.chan_violations = ...;    counters the supervisor keeps
 *     struct al_incident inc[AL_DETECT_MAX_INCIDENTS];
 *     size_t n = al_detector_observe(&det, &m, dt_ns, inc);
 *     ... respond to each, then al_incident_clear(&inc[i]) ...
 *
 * Metrics are cumulative counters (CPU time, faults, context switches,
 * violations) turned into rates per second, and one gauge (RSS). Each rate has
 * a baseline: an EWMA (mean and variance) and the median and MAD of the last
 * AL_DETECT_WINDOW samples. A sample is anomalous when it is above every one
 * of: the rule's absolute floor, median + k * 1.4826 * MAD, EWMA mean + k/2 * sd.
 * Nothing is judged during warm-up; anomalous samples do not feed the baseline
 * (an attack must not teach the detector that it is normal). Hysteresis: a
 * rule fires after fire_after consecutive anomalous ticks, once, and re-arms
 * only after clear_after normal ticks. Counter rules (seccomp and channel
 * violations) need no baseline: any increase fires at once.
 *
 * No global state; not thread-safe (the supervisor's loop owns it).
 */
#ifndef AL_DETECT_H
#define AL_DETECT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


/* Incident severity; also the threat it implies (see respond/level.h). */
enum al_severity {
	AL_SEV_LOW = 1,      /* recorded, no level change */
	AL_SEV_MEDIUM,       /* at least HIGH */
	AL_SEV_HIGH,         /* at least HIGH */
	AL_SEV_CRITICAL,     /* MAXIMUM */
};

enum al_incident_type {
	AL_INC_PRIV_ESCALATION,
	AL_INC_MEMORY_CORRUPTION,
	AL_INC_SIDE_CHANNEL,
	AL_INC_INTEGRITY,
	AL_INC_PROTOCOL_ABUSE,
	AL_INC_COUNT,
};

/* "privilege-escalation", "memory-corruption", "side-channel", "integrity-violation", "protocol-abuse" */
const char *al_incident_type_name(enum al_incident_type t);
const char *al_severity_name(enum al_severity s);

struct al_incident {
	enum al_incident_type type;
	enum al_severity severity;
	const char *rule;      /* static name of the rule that fired */
	json_t *evidence;      /* owned: the values that made it fire */
};

void al_incident_clear(struct al_incident *inc);
/* {"type", "severity", "rule", "domain", "evidence"} (evidence borrowed). */
json_t *al_incident_json(const struct al_incident *inc, const char *domain);

struct al_metrics {
	uint64_t cpu_ns;              /* user + system, cumulative */
	uint64_t rss_kib;             /* gauge */
	uint64_t minflt, majflt;      /* cumulative */
	uint64_t vcsw, nvcsw;         /* voluntary / involuntary context switches, cumulative */
	uint64_t seccomp_violations;  /* cumulative, from the notify fd */
	uint64_t chan_violations;     /* cumulative, channel rule breaks reported */
	uint64_t restarts;            /* cumulative */
	/* Work the domain was given, any counter that moves when it is (the
	 * channel's record indices: al_chan_activity); 0 when not known. A
	 * domain's CPU, faults and switches while it moves are its work (not a
	 * timing loop, not a flood): those ticks are neither judged nor learnt. */
	uint64_t work;
};

/*
 * Adds pid's values from /proc/PID/stat and /proc/PID/status to *m (so the
 * caller sums a domain's processes). root: NULL for the real /proc. 0 or -errno.
 */
int al_metrics_read(const char *root, pid_t pid, struct al_metrics *m);

/* Parses the texts of a stat and a status file into *m (added). 0 or -EBADMSG. */
int al_metrics_parse(const char *stat, const char *status, long clk_tck, struct al_metrics *m);

#define AL_DETECT_WINDOW 32
#define AL_DETECT_MAX_INCIDENTS 8

struct al_baseline {
	double ewma, ewvar;
	double win[AL_DETECT_WINDOW];
	unsigned n;       /* samples taken, saturating at the window */
	unsigned pos;
};

void al_baseline_add(struct al_baseline *b, double x, double alpha);
double al_baseline_median(const struct al_baseline *b, double *mad);
/* True if x is above floor, median + k*1.4826*MAD and mean + k/2*sd. */
bool al_baseline_anomalous(const struct al_baseline *b, double x, double k, double floor);

/* What runs in the domain decides what an anomaly means. */
enum al_detect_role {
	AL_DETECT_ROLE_COMPUTE,   /* AI: no untrusted bytes of its own; sustained CPU = timing loop */
	AL_DETECT_ROLE_SERVICE,   /* protocol: faces clients; bursts = request floods */
};

struct al_detect_params {
	unsigned warmup;          /* ticks before rate rules judge */
	double k;                 /* deviations above the baseline */
	double alpha;             /* EWMA weight of a new sample */
	unsigned fire_after;      /* consecutive anomalous ticks */
	unsigned clear_after;     /* consecutive normal ticks to re-arm */
	double cpu_floor;         /* cores (1.0 = one core busy) */
	double fault_floor;       /* minor faults per second */
	double csw_floor;         /* context switches per second */
	double rss_floor_kib;     /* growth above the baseline median, KiB */
};

enum { AL_RULE_CPU, AL_RULE_FAULTS, AL_RULE_CSW, AL_RULE_RSS, AL_RULE_COUNT };

struct al_detector {
	enum al_detect_role role;
	struct al_detect_params p;
	struct al_metrics prev;
	bool have_prev;
	unsigned ticks;
	struct al_baseline base[AL_RULE_COUNT];
	unsigned over[AL_RULE_COUNT];   /* consecutive anomalous ticks */
	unsigned under[AL_RULE_COUNT];  /* consecutive normal ticks while fired */
	bool fired[AL_RULE_COUNT];
	double last[AL_RULE_COUNT];     /* last sample of each rate, for reports */
};

void al_detect_params_default(struct al_detect_params *p, enum al_detect_role role);
void al_detector_init(struct al_detector *d, enum al_detect_role role, const struct al_detect_params *p);
/* Forgets the previous sample (a restarted domain's counters start again at 0); keeps the baselines. */
void al_detector_reset_counters(struct al_detector *d);

/* One tick's sample, dt_ns after the previous one. Returns incidents written to out. */
size_t al_detector_observe(struct al_detector *d, const struct al_metrics *m, uint64_t dt_ns,
			   struct al_incident out[AL_DETECT_MAX_INCIDENTS]);

/*
 * The counter rules alone, at once (the supervisor calls it the moment a
 * violation is reported rather than at the next tick). Only the violation
 * counters of m are used; the next observe does not report them again.
 */
size_t al_detector_counters(struct al_detector *d, const struct al_metrics *m,
			    struct al_incident out[AL_DETECT_MAX_INCIDENTS]);

/* The detector's view for status and the audit: last rates and baselines. */
json_t *al_detector_json(const struct al_detector *d);

#endif
