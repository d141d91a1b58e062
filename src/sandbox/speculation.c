/*
 * Speculation controls. FORCE_DISABLE cannot be undone by the domain and
 * survives execve, unlike plain DISABLE. L1D flush on context switch is only
 * offered when the kernel was booted with l1d_flush=on (PR_SPEC_PRCTL set).
 */
#include <errno.h>
#include <sys/prctl.h>

#include "sandbox/sandbox_int.h"

#ifndef PR_SPEC_L1D_FLUSH
#define PR_SPEC_L1D_FLUSH 2
#endif

static int force_disable(unsigned long which)
{
	int cur = prctl(PR_GET_SPECULATION_CTRL, which, 0, 0, 0);
	if (cur < 0)
		return -errno;
	if (!(cur & PR_SPEC_PRCTL))
		return 0; /* not controllable per task: either always on or not affected */
	if (prctl(PR_SET_SPECULATION_CTRL, which, PR_SPEC_FORCE_DISABLE, 0, 0) < 0)
		return -errno;
	return 0;
}

int al_speculation_apply(const struct al_spec *spec)
{
	int rc;
	if (spec->spec_store_bypass && (rc = force_disable(PR_SPEC_STORE_BYPASS)) < 0)
		return rc;
	if (spec->spec_indirect_branch && (rc = force_disable(PR_SPEC_INDIRECT_BRANCH)) < 0)
		return rc;
	if (spec->spec_l1d_flush) {
		int cur = prctl(PR_GET_SPECULATION_CTRL, PR_SPEC_L1D_FLUSH, 0, 0, 0);
		if (cur >= 0 && (cur & PR_SPEC_PRCTL) &&
		    prctl(PR_SET_SPECULATION_CTRL, PR_SPEC_L1D_FLUSH, PR_SPEC_ENABLE, 0, 0) < 0)
			return -errno;
	}
	if (spec->tsc_sigsegv && prctl(PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

/* Whether this CPU lets a task control the feature at all (attestation). */
bool al_speculation_controllable(unsigned long which);
bool al_speculation_controllable(unsigned long which)
{
	int cur = prctl(PR_GET_SPECULATION_CTRL, which, 0, 0, 0);
	return cur >= 0 && (cur & PR_SPEC_PRCTL);
}
