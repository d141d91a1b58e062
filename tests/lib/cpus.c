#include "cpus.h"

#include <errno.h>
#include <sched.h>

bool t_two_cpus(int *a, int *b)
{
	cpu_set_t own;
	*a = *b = -1;
	if (sched_getaffinity(0, sizeof own, &own) < 0)
		return false;
	for (int i = 0; i < CPU_SETSIZE && *b < 0; i++)
		if (CPU_ISSET(i, &own))
			*(*a < 0 ? a : b) = i;
	return *b >= 0;
}

int t_pin_self(int cpu)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return sched_setaffinity(0, sizeof one, &one) < 0 ? -errno : 0;
}
