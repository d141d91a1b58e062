#include "respond/level.h"

#include <stddef.h>

static const struct al_level_policy policies[AL_LEVEL_COUNT] = {
	{AL_LEVEL_MINIMAL, "minimal", AL_SECCOMP_ACTION_ERRNO, false, false, false, false, 60, 0, 1.0, 0.5},
	{AL_LEVEL_STANDARD, "standard", AL_SECCOMP_ACTION_NOTIFY, false, true, false, false, 30, 1, 3.0, 1.0},
	{AL_LEVEL_HIGH, "high", AL_SECCOMP_ACTION_KILL, true, true, true, false, 10, 2, 8.0, 3.0},
	{AL_LEVEL_MAXIMUM, "maximum", AL_SECCOMP_ACTION_KILL, true, true, true, true, 5, 3, 15.0, 8.0},
};

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
	if (st->current <= st->base || now - st->last_event_ns < st->quiet_ns)
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

int al_level_seccomp_rank(enum al_seccomp_action a)
{
	switch (a) {
	case AL_SECCOMP_ACTION_ERRNO: return 0;
	case AL_SECCOMP_ACTION_NOTIFY: return 1;
	default: return 2;
	}
}

bool al_level_needs_respawn(enum al_level from, enum al_level to)
{
	const struct al_level_policy *a = al_level_policy(from), *b = al_level_policy(to);
	return al_level_seccomp_rank(b->seccomp) > al_level_seccomp_rank(a->seccomp) ||
	       (b->tsc_off && !a->tsc_off) || (b->spec_force && !a->spec_force) ||
	       (b->spec_default && !a->spec_default);
}
