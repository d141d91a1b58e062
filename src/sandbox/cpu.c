/*
 * CPU placement: the domain runs only on its listed cores and, where the
 * kernel has core scheduling, with its own cookie. Which cores a level gives
 * each domain is decided in partition.c; resctrl groups are made by the runner
 * (resctrl.c).
 */
#include <errno.h>
#include <stdio.h>
#include <sched.h>
#include <sys/prctl.h>
#include <stdlib.h>

#include "sandbox/sandbox_int.h"

static int real_prctl(int op, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
	if (op == PR_GET_SPECULATION_CTRL)
		return al_speculation_get(a2); /* the switch spawn and attestation use */
	int r = prctl(op, a2, a3, a4, a5);
	return r < 0 ? -errno : r; /* some answer a flag word */
}

const struct al_partition_ops al_partition_ops_real = { .prctl = real_prctl };

/*
 * A core-scheduling cookie of its own for the whole thread group: no SMT
 * sibling then runs another domain's code at the same time. pid 0 is the
 * caller. Kernels without core scheduling (or machines without SMT) answer
 * ENODEV, older ones EINVAL: both mean absent.
 */
int al_cpu_core_cookie(const struct al_partition_ops *ops)
{
	int rc = ops->prctl(PR_SCHED_CORE, PR_SCHED_CORE_CREATE, 0, PR_SCHED_CORE_SCOPE_THREAD_GROUP, 0);
	if (rc == -ENODEV || rc == -EINVAL)
		return -ENODEV;
	return rc;
}

int al_cpu_apply(const struct al_spec *spec)
{
	if (spec->has_cpus && sched_setaffinity(0, sizeof spec->cpus, &spec->cpus) < 0)
		return -errno;
	int rc;
	if (spec->core_sched && (rc = al_cpu_core_cookie(&al_partition_ops_real)) < 0 && rc != -ENODEV)
		return rc;
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

/* "0-1,3", as the kernel prints Cpus_allowed_list */
void al_cpu_format_list(const cpu_set_t *set, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, set))
			continue;
		int e = c;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
			e++;
		int n = e > c ? snprintf(buf + off, len - off, "%s%d-%d", off ? "," : "", c, e)
			      : snprintf(buf + off, len - off, "%s%d", off ? "," : "", c);
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += (size_t)n;
		c = e;
	}
}
