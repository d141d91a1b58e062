/*
 * CPU placement: the domain runs only on its listed cores and, where the
 * kernel has core scheduling, with its own cookie. resctrl cache and
 * bandwidth partitioning is not implemented (the development machine has none).
 */
#include <errno.h>
#include <sched.h>
#include <sys/prctl.h>
#include <stdlib.h>

#include "sandbox/sandbox_int.h"

int al_cpu_apply(const struct al_spec *spec)
{
	if (spec->has_cpus && sched_setaffinity(0, sizeof spec->cpus, &spec->cpus) < 0)
		return -errno;
	/* a core-scheduling cookie of its own: no SMT sibling runs another
	 * domain's code at the same time. Kernels without it say ENODEV/EINVAL. */
	if (spec->core_sched &&
	    prctl(PR_SCHED_CORE, PR_SCHED_CORE_CREATE, 0, PR_SCHED_CORE_SCOPE_THREAD_GROUP, 0) < 0 &&
	    errno != ENODEV && errno != EINVAL)
		return -errno;
	return 0;
}

int al_cpu_parse_list(const char *s, cpu_set_t *set)
{
	CPU_ZERO(set);
	if (!*s)
		return -EINVAL;
	while (*s) {
		unsigned long a, b;
		char *end;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		a = strtoul(s, &end, 10);
		b = a;
		if (*end == '-') {
			if (end[1] < '0' || end[1] > '9')
				return -EINVAL;
			b = strtoul(end + 1, &end, 10);
		}
		if (a > b || b >= CPU_SETSIZE)
			return -ERANGE;
		for (unsigned long c = a; c <= b; c++)
			CPU_SET(c, set);
		if (*end == ',' && end[1])
			end++;
		else if (*end)
			return -EINVAL;
		s = end;
	}
	return 0;
}
