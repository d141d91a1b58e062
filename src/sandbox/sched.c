/*
 * Scheduling classes: set by the runner on the domain's first task after it
 * is in its cgroups and before it is told to go on (spawn.c), so not one
 * instruction of the domain runs under another class, and everything it
 * later forks or starts as a thread inherits it. The domain itself never
 * gets to change it: setpriority and the sched_set* calls are on the
 * always-denied list of every filter, and its RLIMIT_NICE and RLIMIT_RTPRIO
 * are 0, so even without a filter the kernel refuses any raise.
 */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "sandbox/sandbox_int.h"

static const char *const class_names[AL_SCHED_COUNT] = { "default", "batch", "idle", "latency" };

const char *al_sched_class_name(enum al_sched_class c)
{
	return (unsigned)c < AL_SCHED_COUNT ? class_names[c] : "?";
}

int al_sched_class_parse(const char *s, enum al_sched_class *out)
{
	for (int i = 0; i < AL_SCHED_COUNT; i++)
		if (strcmp(s, class_names[i]) == 0) {
			*out = (enum al_sched_class)i;
			return 0;
		}
	return -EINVAL;
}

struct al_sched al_sched_of_class(enum al_sched_class c)
{
	switch (c) {
	case AL_SCHED_BATCH:
		/* the group's weight is left alone: a lower one starves the domain on
		 * a busy host, and the detector reads a sustained spin from its share */
		return (struct al_sched){ .cls = c, .policy = SCHED_BATCH, .nice = 10 };
	case AL_SCHED_IDLE:
		/* the kernel ignores (and does not keep) a nice value for SCHED_IDLE;
		 * an idle group has its least weight (shares 3) whatever is set */
		return (struct al_sched){ .cls = c, .policy = SCHED_IDLE, .cpu_idle = true };
	case AL_SCHED_LATENCY:
		return (struct al_sched){ .cls = c, .policy = SCHED_OTHER, .nice = -5, .cpu_weight = 400 };
	default:
		return (struct al_sched){ .cls = AL_SCHED_DEFAULT, .policy = SCHED_OTHER };
	}
}

const char *al_sched_policy_name(int policy)
{
	switch (policy) {
	case SCHED_OTHER: return "SCHED_OTHER";
	case SCHED_FIFO: return "SCHED_FIFO";
	case SCHED_RR: return "SCHED_RR";
	case SCHED_BATCH: return "SCHED_BATCH";
	case SCHED_IDLE: return "SCHED_IDLE";
	case 6: return "SCHED_DEADLINE";
	default: return "?";
	}
}

uint64_t al_sched_v1_shares(uint32_t weight)
{
	uint64_t s = (uint64_t)weight * 1024 / 100;
	return s < 2 ? 2 : s; /* the kernel's least */
}

/* The kernel's struct sched_attr (sched_setattr(2)), spelled out so no libc
 * header version decides whether it exists. */
struct al_sched_attr {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
};

static int set_attr(pid_t pid, int policy, int nice)
{
	struct al_sched_attr a = { .size = sizeof a, .sched_policy = (uint32_t)policy, .sched_nice = nice };
	return syscall(SYS_sched_setattr, pid, &a, 0) < 0 ? -errno : 0;
}

int al_sched_apply(struct al_domain *d, const struct al_spec *spec)
{
	const struct al_sched *s = &spec->sched;
	d->sched_nice = 0;
	d->sched_refused = 0;
	if (s->cls == AL_SCHED_DEFAULT && s->policy == SCHED_OTHER && s->nice == 0)
		return 0;
	int rc = set_attr(d->pid, s->policy, s->nice);
	if (rc == 0) {
		d->sched_nice = s->nice;
		return 0;
	}
	/* raising needs CAP_SYS_NICE in the initial namespace: an unprivileged
	 * runner keeps the policy at nice 0 and the attestation says so */
	if ((rc == -EPERM || rc == -EACCES) && s->nice < 0 && (rc = set_attr(d->pid, s->policy, 0)) == 0) {
		d->sched_refused = EPERM;
		al_log_warnx("sandbox: nice %d refused to this runner; the domain runs at nice 0", s->nice);
		return 0;
	}
	al_log_warnx("sandbox: setting %s nice %d: %s", al_sched_policy_name(s->policy), s->nice, strerror(-rc));
	return rc;
}

int al_domain_sched_nice(const struct al_domain *d, int *refused)
{
	if (refused)
		*refused = d->sched_refused;
	return d->sched_nice;
}
