/*
 * Security levels: the one definition of the levels, their names, what each
 * turns on and may cost, and the threat-driven state machine that moves the
 * level (up at once, down one step per quiet period).
 *
 *   struct al_level_state st;
 *   al_level_state_init(&st, cfg->level, quiet_ns);
 *   al_level_incident(&st, AL_SEV_HIGH, now);   -> true if the level went up
 *   al_level_tick(&st, now);                    -> true if it stepped down
 *   al_level_policy(st.current)->seccomp ...    what build_spec applies
 *   al_level_policy(st.current)->part           the sandbox's partitioning inputs
 *   al_level_needs_respawn(old, new)            stricter filter: restart the domains
 *
 * The levels (budget: overhead the seed claims / our goal, CPU share of the
 * request path against no sandbox; measured by bench/overhead):
 *
 *   MINIMAL   seccomp errno; speculation controls left to the kernel default;
 *             no partitioning; integrity every 60 s; audit: lifecycle and incidents;
 *             both domains in the default scheduling class.
 *   STANDARD  seccomp notify (every refused call reported); store-bypass and
 *             indirect-branch speculation disabled (the profiles' default), a
 *             core-scheduling cookie per domain; integrity every 30 s; audit
 *             adds each seccomp report. From STANDARD up the protocol
 *             domain's I/O threads are real-time (the realtime class,
 *             sandbox.h al_sched); the AI domain stays in the default
 *             class (README figures).                                3 % / 1 %
 *   HIGH      seccomp kill; SSB, IB and L1D flush forced on; the domains pinned
 *             to separate cores, the L3 cache ways split (resctrl); integrity
 *             every 10 s; audit adds per-tick anomaly scores.        8 % / 3 %
 *   MAXIMUM   HIGH plus rdtsc trapping (PR_SET_TSC: no cycle counter for timing
 *             attacks) and the memory bandwidth split; integrity every 5 s;
 *             audit everything.                                     15 % / 8 %
 *             (rdtsc trapping is applied only where the clocksource is not
 *             "tsc": there the vDSO's clock_gettime itself reads the TSC and
 *             every program would fault; `airlock level` shows whether it is on.)
 */
#ifndef AL_RESPOND_LEVEL_H
#define AL_RESPOND_LEVEL_H

#include <stdbool.h>
#include <stdint.h>

#include "detect/detect.h"      /* enum al_severity */
#include "sandbox/sandbox.h"     /* enum al_seccomp_mode, struct al_partition_want */

enum al_level {
	AL_LEVEL_MINIMAL,
	AL_LEVEL_STANDARD,
	AL_LEVEL_HIGH,
	AL_LEVEL_MAXIMUM,
	AL_LEVEL_COUNT,
};

/* "minimal" .. "maximum" (the policy table's names); "?" for anything else. */
const char *al_level_name(enum al_level level);
/* The inverse: 0, or -EINVAL for an unknown name. */
int al_level_parse(const char *s, enum al_level *out);

struct al_level_policy {
	enum al_level level;
	const char *name;
	enum al_seccomp_mode seccomp;     /* for domains whose seccomp = level */
	/* Partitioning and speculation controls, handed to the sandbox as they
	 * are: l1d with ssb and ib is "speculation forced", cpus "partitioned". */
	struct al_partition_want part;
	uint32_t integrity_interval_s;
	int audit_verbosity;              /* 0 lifecycle+incidents .. 3 everything */
	double budget_claim_pct;          /* the seed's figure */
	double budget_goal_pct;           /* ours */
	/* Scheduling classes for domains whose sched = level: the protocol
	 * domain answers requests, the AI domain is throughput work. */
	enum al_sched_class sched_proto, sched_ai;
};

const struct al_level_policy *al_level_policy(enum al_level level);

struct al_level_state {
	enum al_level base;       /* set by the configuration or `airlock level set` */
	enum al_level current;    /* in force */
	enum al_level threat;     /* what the last incident asked for */
	uint64_t quiet_ns;        /* incident-free time before one step down */
	uint64_t last_event_ns;   /* last incident or level change */
	uint64_t incidents;
};

void al_level_state_init(struct al_level_state *st, enum al_level base, uint64_t quiet_ns);

/* The level an incident of this severity requires. */
enum al_level al_level_for_severity(enum al_severity sev);

/* An incident at now: raises current at once if it requires more. True if raised. */
bool al_level_incident(struct al_level_state *st, enum al_severity sev, uint64_t now);

/* One step down (never below base) once quiet_ns passed without an incident. True if lowered. */
bool al_level_tick(struct al_level_state *st, uint64_t now);

/* Operator's choice: becomes both base and current. */
void al_level_set(struct al_level_state *st, enum al_level level, uint64_t now);

/* Strictness of a seccomp action: errno < notify < kill. */
int al_level_seccomp_rank(enum al_seccomp_mode m);

/*
 * True if running domains spawned under from must be respawned to be what to
 * requires: a stricter seccomp action, TSC trapping or forced speculation
 * controls cannot be added to a running process. Loosening never respawns.
 */
bool al_level_needs_respawn(enum al_level from, enum al_level to);

#endif
