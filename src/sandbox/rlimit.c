/*
 * Resource limits. Applied early, while the child is still privileged in its
 * user namespace, so a hard limit can be set but never raised again later.
 * NICE and RTPRIO are always 0: no priority above the one the runner gave.
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

/*
 * Without a cgroup the memory limit still holds: the address space can never
 * be smaller than what is resident, so RLIMIT_AS at the memory limit is the
 * stricter of the two. The pids limit likewise becomes RLIMIT_NPROC (the
 * domain is the only user of its user namespace's root, so the count is the
 * domain's own). The CPU share has no rlimit counterpart (spawn.c decides).
 */
void al_rlimit_effective(const struct al_spec *spec, bool have_cgroup, struct al_rlimits *out)
{
	*out = (struct al_rlimits){ .as = spec->rl_as, .cpu = spec->rl_cpu, .nofile = spec->rl_nofile,
				    .nproc = spec->rl_nproc, .fsize = spec->rl_fsize, .memlock = spec->rl_memlock };
	if (have_cgroup)
		return;
	if (spec->cg_memory && spec->cg_memory < out->as) {
		out->as = spec->cg_memory;
		out->as_carries_memory = true;
	}
	if (spec->cg_pids && spec->cg_pids < out->nproc) {
		out->nproc = spec->cg_pids;
		out->nproc_carries_pids = true;
	}
}

int al_rlimit_apply(const struct al_rlimits *rl)
{
	int rc;
	if ((rc = set1(RLIMIT_CORE, 0)) < 0 || (rc = set1(RLIMIT_NICE, 0)) < 0 ||
	    (rc = set1(RLIMIT_RTPRIO, 0)) < 0 || (rc = set1(RLIMIT_AS, rl->as)) < 0 ||
	    (rc = set1(RLIMIT_CPU, rl->cpu)) < 0 ||
	    (rc = set1(RLIMIT_NOFILE, rl->nofile)) < 0 ||
	    (rc = set1(RLIMIT_NPROC, rl->nproc)) < 0 ||
	    (rc = set1(RLIMIT_FSIZE, rl->fsize)) < 0 ||
	    (rc = set1(RLIMIT_MEMLOCK, rl->memlock)) < 0)
		return rc;
	return 0;
}
