/*
 * Speculation controls. FORCE_DISABLE cannot be undone by the domain and
 * survives execve, unlike plain DISABLE. L1D flush on context switch is only
 * offered when the kernel was booted with l1d_flush=on (PR_SPEC_PRCTL set).
 *
 * Whether a control is offered per task is asked in one place,
 * al_speculation_get(): the partition probe (partition.c through the real ops),
 * the child's apply and the attestation all use it, so a control the CPU
 * lacks is absent in the plan, left alone in the child and reported absent
 * by the attestation alike. A control the probe offers but the kernel then
 * refuses stops the spawn. Tests replace the probe to drive both paths.
 * A kind of control that the architecture does not have at all (arch_*.c:
 * indirect branch and L1D flush on arm64) is absent the same way, and so is
 * the TSC trap where the architecture cannot give one.
 */
#include <errno.h>
#include <sys/prctl.h>

#include "sandbox/sandbox_int.h"

#ifndef PR_SPEC_L1D_FLUSH
#define PR_SPEC_L1D_FLUSH 2
#endif

static int real_get(unsigned long which)
{
	int r = prctl(PR_GET_SPECULATION_CTRL, which, 0, 0, 0);
	return r < 0 ? -errno : r;
}

static al_speculation_get_fn probe = real_get;

void al_speculation_set_probe(al_speculation_get_fn fn)
{
	probe = fn ? fn : real_get;
}

int al_speculation_get(unsigned long which)
{
	return probe(which);
}

bool al_speculation_controllable(unsigned long which)
{
	const char *why;
	if (!al_arch_spec_offered(which, &why))
		return false;
	int cur = probe(which);
	return cur >= 0 && (cur & PR_SPEC_PRCTL);
}

static int force_disable(unsigned long which)
{
	const char *why;
	if (!al_arch_spec_offered(which, &why))
		return 0; /* no such control on this architecture: absent */
	int cur = probe(which);
	if (cur < 0)
		return cur;
	if (!(cur & PR_SPEC_PRCTL))
		return 0; /* not controllable per task: absent, as attestation reports */
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
	if (spec->spec_l1d_flush && al_speculation_controllable(PR_SPEC_L1D_FLUSH) &&
	    prctl(PR_SET_SPECULATION_CTRL, PR_SPEC_L1D_FLUSH, PR_SPEC_ENABLE, 0, 0) < 0)
		return -errno;
	/* asked for and impossible here: refused, not silently left off */
	if (spec->tsc_sigsegv && (rc = al_arch_tsc_trap()) < 0)
		return rc;
	return 0;
}
