/*
 * Resource limits. Applied early, while the child is still privileged in its
 * user namespace, so a hard limit can be set but never raised again later.
 * NICE and RTPRIO are always 0: no priority above the one the runner gave.
 * RTTIME bounds a real-time thread the runner may give the domain (sched.c).
 */
#include <errno.h>
#include <sys/resource.h>

#include "sandbox/sandbox_int.h"

static int set1(int res, uint64_t v)
{
	if (v == UINT64_MAX)
		return 0;
	struct rlimit rl = { .rlim_cur = v, .rlim_max = v };
	return setrlimit(res, &rl) < 0 ? -errno : 0;
}

int al_rlimit_apply(const struct al_spec *spec)
{
	int rc;
	if ((rc = set1(RLIMIT_CORE, 0)) < 0 || (rc = set1(RLIMIT_NICE, 0)) < 0 ||
	    (rc = set1(RLIMIT_RTPRIO, 0)) < 0 || (rc = set1(RLIMIT_AS, spec->rl_as)) < 0 ||
	    (rc = set1(RLIMIT_CPU, spec->rl_cpu)) < 0 ||
	    (rc = set1(RLIMIT_NOFILE, spec->rl_nofile)) < 0 ||
	    (rc = set1(RLIMIT_NPROC, spec->rl_nproc)) < 0 ||
	    (rc = set1(RLIMIT_FSIZE, spec->rl_fsize)) < 0 ||
	    (rc = set1(RLIMIT_MEMLOCK, spec->rl_memlock)) < 0 ||
	    (rc = set1(RLIMIT_RTTIME, spec->sched.rttime_us ? spec->sched.rttime_us : UINT64_MAX)) < 0)
		return rc;
	return 0;
}
