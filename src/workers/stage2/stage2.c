/* Stage 2 of a domain's seccomp (stage2.h). */
#include "workers/stage2/stage2.h"

#include <string.h>

#include "common/log.h"

scmp_filter_ctx al_stage2_new(bool tsync)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return NULL;
	/* a binary tree of syscall numbers, as in stage 1: every call of the
	 * domain runs both filters, and a linear scan costs the late entries most */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0 ||
	    (tsync && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0)) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

int al_stage2_allow(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int al_stage2_load(scmp_filter_ctx ctx, int rc, const char *who)
{
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0)
		al_log_warnx("%s: seccomp stage 2: %s", who, strerror(-rc));
	return rc;
}
