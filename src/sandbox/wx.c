/*
 * W^X for the profiles that ask for it (mdwe = true): no memory of the domain
 * is both written and run, so the only code it runs is what it mapped from a
 * file of its read-only paths (every writable mount of a domain is noexec).
 * Two mechanisms carry it:
 *
 *   the filter's W^X rules, in every such filter, on every kernel:
 *     mprotect, pkey_mprotect  never with PROT_EXEC
 *     mmap                     never PROT_EXEC with PROT_WRITE, never PROT_EXEC
 *                              on MAP_ANONYMOUS memory
 *     shmat                    never with SHM_EXEC
 *     memfd_create, memfd_secret  never
 *   each refused with EACCES, the errno MDWE gives, in kill and errno mode
 *   alike (a program that tries for executable memory and falls back, as
 *   libffi does, must meet what it meets under MDWE, not die); in notify
 *   mode the runner is asked, and answers EACCES (al_domain_notify_handle);
 *
 *   MDWE (PR_SET_MDWE, Linux 6.3), set by the child where the kernel has it.
 *
 * Why the rules on every kernel, not only where MDWE is absent (Debian 12's
 * 6.1): MDWE alone does not hold W^X. It judges each call by the mapping it
 * changes, and two ways around it use no call it refuses: a shared anonymous
 * mapping made R+X, a second view of it made by mremap (old size 0) and
 * turned RW by mprotect, code written through the one and run through the
 * other; and a memfd written and then mapped R+X (its internal mount is
 * never noexec, and vm.memfd_noexec only governs exec of it). The filter has
 * to refuse those on 6.18 too. With them on every kernel, the rest follow:
 * a domain meets the same rules on 6.1 as on 6.18, and every run of the test
 * suites exercises them, not only a run on an old kernel. Seccomp decides at
 * the system call's entry, before MDWE looks, so where both exist MDWE sees
 * none of these calls; it stays set for what no filter sees, the mappings
 * the kernel makes itself (the segments of an exec'd program).
 *
 * The cost: a filter sees the call, not the mapping's history, so mprotect
 * adding PROT_EXEC to memory that is executable already is refused too (MDWE
 * lets it pass). The dynamic loader calls mprotect with PROT_READ (RELRO) and
 * PROT_NONE only, and maps libraries from their files (R+X, never written:
 * allowed). glibc on arm64 turns BTI on for a library by mapping it again
 * with PROT_BTI (an mmap of the file, allowed) and, since 2.33, ignores a
 * refused mprotect for the programs the kernel mapped, which then run
 * without BTI where the kernel did not set it (Debian 12's arm64 libraries
 * carry no BTI marking).
 *
 * The memfd rule. On a kernel before 6.3 a memfd is always executable
 * (MFD_NOEXEC_SEAL does not exist), and its exec, by execveat(AT_EMPTY_PATH)
 * or execve of /proc/self/fd/N, looks to a filter like any other exec: the
 * one rule that holds is to refuse memfd_create. A W^X filter always does
 * (the mapping above); a profile with memfd_noexec and without W^X (runtime)
 * has it only where vm.memfd_noexec cannot be set: a kernel before 6.3, or
 * a runner that is not root (the file is root's).
 *
 * What the rules do not cover: a writable shared file the runner passes in
 * (the workers' channel memfd) can be mapped R+X and written through its
 * other mapping; a filter sees only an fd number, which the domain can dup.
 * The AI worker's stage-2 filter refuses every PROT_EXEC mapping. /dev/zero,
 * the other way to shared anonymous memory, is on the domain's noexec /dev.
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sandbox/sandbox_int.h"

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif
#define AL_SHM_EXEC 0100000 /* SHM_EXEC, <linux/shm.h> */

bool al_wx_kernel_mdwe(const struct al_spec *spec)
{
	if (spec->test_kernel_lacks & AL_TEST_NO_MDWE)
		return false;
	return prctl(PR_GET_MDWE, 0, 0, 0, 0) >= 0;
}

bool al_wx_memfd_noexec_settable(const struct al_spec *spec)
{
	if (spec->test_kernel_lacks & AL_TEST_NO_MEMFD_NOEXEC)
		return false;
	/* the child writes it with these very ids, through this /proc */
	return faccessat(AT_FDCWD, "/proc/sys/vm/memfd_noexec", W_OK, AT_EACCESS) == 0;
}

unsigned al_wx_filter_carries(const struct al_spec *spec)
{
	unsigned c = 0;
	if (!spec->seccomp)
		return 0;
	if (spec->mdwe)
		c |= AL_BPF_WX | AL_BPF_MEMFD;
	if (spec->memfd_noexec && !al_wx_memfd_noexec_settable(spec))
		c |= AL_BPF_MEMFD;
	return c;
}

static int add(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned n, const struct scmp_arg_cmp *cmp)
{
	/* notify mode's refusals are its default action, which libseccomp
	 * takes for no rule at all: whatever no allow rule matches meets it */
	if (action == SCMP_ACT_NOTIFY)
		return 0;
	int rc = seccomp_rule_add_array(ctx, action, nr, n, cmp);
	return rc == -EEXIST ? 0 : rc;
}

int al_wx_rules(void *vctx, const struct al_spec *spec, int nr, struct al_bpf *meta)
{
	scmp_filter_ctx ctx = vctx;
	unsigned carries = meta->carries;
	bool wx = carries & AL_BPF_WX;
	uint32_t refuse = spec->seccomp_mode == AL_SECCOMP_NOTIFY ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(EACCES);
	const uint64_t x = PROT_EXEC, xw = PROT_EXEC | PROT_WRITE, anon = MAP_ANONYMOUS;
	int rc;
	if ((carries & AL_BPF_MEMFD) && nr == SCMP_SYS(memfd_create)) {
		rc = add(ctx, refuse, nr, 0, NULL);
	} else if (wx && nr == SCMP_SYS(memfd_secret)) {
		rc = add(ctx, refuse, nr, 0, NULL);
	} else if (wx && (nr == SCMP_SYS(mprotect) || nr == SCMP_SYS(pkey_mprotect))) {
		/* the two halves of every value: without PROT_EXEC, with it */
		const struct scmp_arg_cmp no[] = { SCMP_A2(SCMP_CMP_MASKED_EQ, x, 0) };
		const struct scmp_arg_cmp yes[] = { SCMP_A2(SCMP_CMP_MASKED_EQ, x, x) };
		if ((rc = add(ctx, SCMP_ACT_ALLOW, nr, 1, no)) == 0)
			rc = add(ctx, refuse, nr, 1, yes);
	} else if (wx && nr == SCMP_SYS(mmap)) {
		/* a partition: no PROT_EXEC; R+X of a file; W+X; R+X anonymous */
		const struct scmp_arg_cmp no[] = { SCMP_A2(SCMP_CMP_MASKED_EQ, x, 0) };
		const struct scmp_arg_cmp file[] = { SCMP_A2(SCMP_CMP_MASKED_EQ, xw, x),
						     SCMP_A3(SCMP_CMP_MASKED_EQ, anon, 0) };
		const struct scmp_arg_cmp wx_both[] = { SCMP_A2(SCMP_CMP_MASKED_EQ, xw, xw) };
		const struct scmp_arg_cmp x_anon[] = { SCMP_A2(SCMP_CMP_MASKED_EQ, xw, x),
						       SCMP_A3(SCMP_CMP_MASKED_EQ, anon, anon) };
		if ((rc = add(ctx, SCMP_ACT_ALLOW, nr, 1, no)) == 0 &&
		    (rc = add(ctx, SCMP_ACT_ALLOW, nr, 2, file)) == 0 &&
		    (rc = add(ctx, refuse, nr, 1, wx_both)) == 0)
			rc = add(ctx, refuse, nr, 2, x_anon);
	} else if (wx && nr == SCMP_SYS(shmat)) {
		const struct scmp_arg_cmp no[] = { SCMP_A2(SCMP_CMP_MASKED_EQ, AL_SHM_EXEC, 0) };
		const struct scmp_arg_cmp yes[] = { SCMP_A2(SCMP_CMP_MASKED_EQ, AL_SHM_EXEC, AL_SHM_EXEC) };
		if ((rc = add(ctx, SCMP_ACT_ALLOW, nr, 1, no)) == 0)
			rc = add(ctx, refuse, nr, 1, yes);
	} else {
		return 0;
	}
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < meta->n_eacces; i++)
		if (meta->eacces_nr[i] == nr)
			return 1;
	if (meta->n_eacces == AL_BPF_MAX_EACCES)
		return -E2BIG;
	meta->eacces_nr[meta->n_eacces++] = nr;
	return 1;
}

int al_wx_mdwe_apply(const struct al_spec *spec)
{
	if (!spec->mdwe)
		return 0;
	const struct al_bpf *b = spec->seccomp ? spec->seccomp_ctx : NULL;
	bool filter = b && (b->carries & AL_BPF_WX);
	/* inherited across fork and exec: no mapping of ours ever becomes executable */
	if (!(spec->test_kernel_lacks & AL_TEST_NO_MDWE) &&
	    prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) == 0)
		return 1;
	if (spec->test_kernel_lacks & AL_TEST_NO_MDWE)
		errno = EINVAL; /* as a kernel before 6.3 answers */
	return errno == EINVAL && filter ? 0 : -errno;
}

bool al_wx_eacces(const struct al_domain *d, int nr)
{
	for (unsigned i = 0; i < d->n_eacces; i++)
		if (d->eacces_nr[i] == nr)
			return true;
	return false;
}

void al_wx_describe(const struct al_domain *d, const struct al_spec *spec, char *wx, size_t wx_len,
		    char *memfd, size_t memfd_len)
{
	bool rules = d->filter_carries & AL_BPF_WX, mdwe = d->wx_set & AL_WX_SET_MDWE;
	const char *why = spec->test_kernel_lacks & AL_TEST_NO_MDWE ? "left unset for a test"
			  : al_wx_kernel_mdwe(spec)		     ? "not set"
								     : "not in this kernel";
	if (!spec->mdwe)
		snprintf(wx, wx_len, "off");
	else if (rules && mdwe)
		snprintf(wx, wx_len, "on: the filter's W^X rules and PR_SET_MDWE");
	else if (rules)
		snprintf(wx, wx_len, "on: the filter's W^X rules (PR_SET_MDWE %s)", why);
	else if (mdwe)
		snprintf(wx, wx_len, "on: PR_SET_MDWE alone (no filter)");
	else
		snprintf(wx, wx_len, "off: neither the filter's W^X rules nor PR_SET_MDWE (%s)", why);

	bool refused = d->filter_carries & AL_BPF_MEMFD, sysctl = d->wx_set & AL_WX_SET_MEMFD_NOEXEC;
	why = spec->test_kernel_lacks & AL_TEST_NO_MEMFD_NOEXEC ? "left unset for a test"
	      : access("/proc/sys/vm/memfd_noexec", F_OK) < 0	 ? "not in this kernel"
								 : "not settable by this runner";
	if (!spec->memfd_noexec)
		snprintf(memfd, memfd_len, "off");
	else if (refused && sysctl)
		snprintf(memfd, memfd_len, "on: the filter refuses memfd_create, and vm.memfd_noexec = 2");
	else if (refused)
		snprintf(memfd, memfd_len, "on: the filter refuses memfd_create (vm.memfd_noexec %s)", why);
	else if (sysctl)
		snprintf(memfd, memfd_len, "on: vm.memfd_noexec = 2 in the domain's pid namespace");
	else
		snprintf(memfd, memfd_len, "off: memfd_create allowed, vm.memfd_noexec %s", why);
}
