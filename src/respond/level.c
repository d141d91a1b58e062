#include "respond/level.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/*
 * MINIMAL refuses with an errno (compatibility), STANDARD reports to the
 * supervisor, which then responds; HIGH and MAXIMUM kill at once.
 *
 * Pinning comes at HIGH, not STANDARD: a pinned domain cannot move off a CPU
 * that other work keeps busy, which on a shared machine costs far more than
 * the standard budget (docs/levels.md, measured with airlock bench).
 *
 * Scheduling classes (README, "Protocol under generation"; measured with
 * airlock bench and bench/sched on the shared 2-vCPU VM). The protocol
 * domain's I/O threads are real-time (SCHED_RR 1, bounded by RLIMIT_RTTIME
 * and their own cgroup's budget) from HIGH up, and at STANDARD while tasks
 * wait for a CPU (adaptive: CPU pressure read every 100 ms). Under load they
 * took tools/list p99 with generations running from 4-9 ms to about 0.2 ms,
 * 0.02-0.1x the unsandboxed stack's; on an idle machine a real-time thread
 * wakes on the CPU it last ran on, away from its client, and a back-to-back
 * client's median was 1.5x the unsandboxed stack's, where the adaptive class
 * measured 1.0-1.16x. The latency class (nice -5, four times the weight, a
 * 100 us slice) let p99.9 reach 4 ms with six busy processes beside two
 * generations and cost generation 23 % of its tokens/s there. HIGH and
 * MAXIMUM pin the domains, so their threads cannot be beside a client that
 * moves anyway, and keep real-time throughout. The AI domain stays in the
 * default class: batch (nice 10) and idle cost generation most of its
 * throughput on a busy host (idle: none at all) and bought no latency the
 * real-time threads had not already, and a long slice made a waking task's
 * tail longer beside two compute threads (src/sandbox/sched.c). MINIMAL
 * imposes nothing.
 */
static const struct al_level_policy policies[AL_LEVEL_COUNT] = {
	{AL_LEVEL_MINIMAL, "minimal", AL_SECCOMP_ERRNO,
	 {.cpus = false},
	 60, 0, 1.0, 0.5, AL_SCHED_DEFAULT, AL_SCHED_DEFAULT},
	{AL_LEVEL_STANDARD, "standard", AL_SECCOMP_NOTIFY,
	 {.core_sched = true, .ssb = true, .ib = true},
	 30, 1, 3.0, 1.0, AL_SCHED_ADAPTIVE, AL_SCHED_DEFAULT},
	{AL_LEVEL_HIGH, "high", AL_SECCOMP_KILL,
	 {.cpus = true, .core_sched = true, .cat = true, .ssb = true, .ib = true, .l1d = true},
	 10, 2, 8.0, 3.0, AL_SCHED_REALTIME, AL_SCHED_DEFAULT},
	{AL_LEVEL_MAXIMUM, "maximum", AL_SECCOMP_KILL,
	 {.cpus = true, .core_sched = true, .cat = true, .mba = true, .ssb = true, .ib = true, .l1d = true,
	  .tsc = true},
	 5, 3, 15.0, 8.0, AL_SCHED_REALTIME, AL_SCHED_DEFAULT},
};

const char *al_level_name(enum al_level level)
{
	return (unsigned)level < AL_LEVEL_COUNT ? policies[level].name : "?";
}

int al_level_parse(const char *s, enum al_level *out)
{
	for (size_t i = 0; i < AL_LEVEL_COUNT; i++)
		if (strcmp(s, policies[i].name) == 0) {
			*out = policies[i].level;
			return 0;
		}
	return -EINVAL;
}

const struct al_level_policy *al_level_policy(enum al_level level)
{
	if ((unsigned)level >= AL_LEVEL_COUNT)
		level = AL_LEVEL_MAXIMUM; /* an impossible value fails strict */
	return &policies[level];
}

void al_level_state_init(struct al_level_state *st, enum al_level base, uint64_t quiet_ns)
{
	*st = (struct al_level_state){.base = base, .current = base, .threat = AL_LEVEL_MINIMAL,
				      .quiet_ns = quiet_ns};
}

enum al_level al_level_for_severity(enum al_severity sev)
{
	switch (sev) {
	case AL_SEV_CRITICAL: return AL_LEVEL_MAXIMUM;
	case AL_SEV_HIGH:
	case AL_SEV_MEDIUM: return AL_LEVEL_HIGH;
	default: return AL_LEVEL_MINIMAL;
	}
}

bool al_level_incident(struct al_level_state *st, enum al_severity sev, uint64_t now)
{
	enum al_level want = al_level_for_severity(sev);
	st->incidents++;
	st->threat = want;
	st->last_event_ns = now; /* every incident restarts the quiet period */
	if (want <= st->current)
		return false;
	st->current = want;
	return true;
}

bool al_level_tick(struct al_level_state *st, uint64_t now)
{
	/* An event later than now (its time taken after the caller's) is not quiet time. */
	if (st->current <= st->base || now < st->last_event_ns || now - st->last_event_ns < st->quiet_ns)
		return false;
	/* One step per quiet period: a renewed attack finds the level still raised. */
	st->current = (enum al_level)(st->current - 1);
	st->last_event_ns = now;
	if (st->current == st->base)
		st->threat = AL_LEVEL_MINIMAL;
	return true;
}

void al_level_set(struct al_level_state *st, enum al_level level, uint64_t now)
{
	st->base = st->current = level;
	st->last_event_ns = now;
}

int al_level_seccomp_rank(enum al_seccomp_mode m)
{
	switch (m) {
	case AL_SECCOMP_ERRNO: return 0;
	case AL_SECCOMP_NOTIFY: return 1;
	default: return 2;
	}
}

bool al_level_needs_respawn(enum al_level from, enum al_level to)
{
	const struct al_level_policy *a = al_level_policy(from), *b = al_level_policy(to);
	/* cpus too: pins are set at spawn, and a domain spawned unpinned may
	 * move its own threads (--follow-client) */
	return al_level_seccomp_rank(b->seccomp) > al_level_seccomp_rank(a->seccomp) || (b->part.cpus && !a->part.cpus) ||
	       (b->part.tsc && !a->part.tsc) || (b->part.ssb && !a->part.ssb) || (b->part.ib && !a->part.ib) ||
	       (b->part.l1d && !a->part.l1d);
}
