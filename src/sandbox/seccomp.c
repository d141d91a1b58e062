/*
 * seccomp: compiled in the runner with libseccomp (al_seccomp_prepare, before
 * clone3), installed raw in the child as the last step before exec
 * (al_seccomp_apply), so the child allocates nothing and every earlier step
 * runs unfiltered.
 *
 * The filter is an allowlist by name from the profile. Whatever is not on it
 * meets the mode's action: kill (SIGSYS), errno (EPERM) or notify (the runner
 * is asked). Some calls are refused for every domain whatever a profile says
 * (deny_always below); a few are allowed only with safe arguments:
 *   ioctl   unless the command is TIOCSTI or TIOCLINUX. The kernel reads the
 *           command as 32 bits, so the rules look at exactly those bits of
 *           the 64-bit register: 0x100005412 is refused as TIOCSTI.
 *   socket  only AF_UNIX (netlink, packet, vsock, inet never; the network
 *           namespace is empty anyway, and Landlock scopes abstract sockets),
 *           and AF_INET/AF_INET6 for a spec with inet (sandbox.h, network).
 *   clone   without any namespace flag.
 *   prctl   only options that read state or narrow it (allowed_prctl below):
 *           never PR_SET_TSC (re-enabling the TSC), PR_SET_SPECULATION_CTRL,
 *           PR_SET_MM, PR_SET_PTRACER, PR_SET_SECUREBITS, PR_CAP_AMBIENT,
 *           PR_SCHED_CORE; PR_SET_DUMPABLE only back to 0.
 *   clone3  never: its flags live in memory a filter cannot read. It fails
 *           with ENOSYS so that libc falls back to clone.
 *   execveat, in exec_once profiles, only of the verified fd with
 *           AT_EMPTY_PATH; execve not at all.
 *   sendmsg in notify mode, on the sync socket's number, whatever the
 *           profile: the child hands the listener to the runner with it,
 *           after the filter is in force.
 *   mmap, mprotect, pkey_mprotect, shmat, memfd_create, memfd_secret: in a
 *           W^X profile (mdwe = true) never to make executable memory that
 *           can be written; memfd_create never where the domain could exec a
 *           memfd. Refused with EACCES (wx.c, which says why and what).
 * The filter is compiled for this build's architecture alone
 * (al_arch_seccomp): every other entry the CPU has kills the process
 * (bad-arch action): i386 and x32 on x86-64, AArch32 on arm64. Names are
 * resolved by libseccomp for that architecture. A call it never had (open or
 * fork on arm64) stands for the call its C library makes instead
 * (al_arch_syscall_instead: openat, clone), allowed with that call's checks;
 * one with no counterpart is left out.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox_int.h"

static const char *const deny_always[] = {
	"io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "perf_event_open",
	"userfaultfd", "keyctl", "add_key", "request_key", "ptrace", "process_vm_readv",
	"process_vm_writev", "kcmp", "personality", "mount", "umount2", "pivot_root",
	"unshare", "setns", "open_by_handle_at", "name_to_handle_at", "fsopen", "fsconfig",
	"fsmount", "fspick", "move_mount", "open_tree", "mount_setattr", "kexec_load",
	"kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
	"swapon", "swapoff", "acct", "quotactl", "lookup_dcookie", "vhangup", "uselib",
	"chroot", "iopl", "ioperm", "syslog", "settimeofday", "clock_settime", "adjtimex",
	"clock_adjtime", "nfsservctl", "sysfs", "_sysctl", "pidfd_getfd", "clone3",
	/* a domain's scheduling class is the runner's to set (sched.c) */
	"setpriority", "sched_setattr", "sched_setscheduler", "sched_setparam",
};
/* seccomp and landlock_* are not on it: with NO_NEW_PRIVS they can only narrow
 * a domain further, which is how a worker installs its stage-2 filter. */

/* What the sandbox itself needs between the filter and exec, and the domain's
 * pid 1 afterwards: always allowed (clone and execveat with checks). */
static const char *const runtime_needs[] = {
	"read", "write", "close", "exit", "exit_group", "rt_sigreturn", "rt_sigaction",
	"rt_sigprocmask", "wait4", "kill",
};

#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | \
		  CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

bool al_seccomp_always_denied(const char *name)
{
	for (size_t i = 0; i < AL_ARRAY_LEN(deny_always); i++)
		if (strcmp(name, deny_always[i]) == 0)
			return true;
	return false;
}

static const char *const mode_names[AL_SECCOMP_MODE_COUNT] = { "kill", "errno", "notify" };

const char *al_seccomp_mode_name(enum al_seccomp_mode m)
{
	return (unsigned)m < AL_SECCOMP_MODE_COUNT ? mode_names[m] : "?";
}

int al_seccomp_mode_parse(const char *s, enum al_seccomp_mode *out)
{
	for (size_t i = 0; i < AL_ARRAY_LEN(mode_names); i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*out = (enum al_seccomp_mode)i;
			return 0;
		}
	return -EINVAL;
}

static uint32_t mode_action(enum al_seccomp_mode m)
{
	switch (m) {
	case AL_SECCOMP_ERRNO:
		return SCMP_ACT_ERRNO(EPERM);
	case AL_SECCOMP_NOTIFY:
		return SCMP_ACT_NOTIFY;
	case AL_SECCOMP_KILL:
	default:
		return SCMP_ACT_KILL_PROCESS;
	}
}

/*
 * ioctl unless its command (the low 32 bits of the argument, as the kernel
 * reads it) is TIOCSTI or TIOCLINUX. libseccomp compares an argument once per
 * rule and rules are OR'ed, so the complement is spelled out: a command
 * passes if it differs from both in a bit where they agree (one rule per such
 * bit), or if it agrees there and is one of the other values of the bits where
 * they differ (one rule each).
 */
/*
 * prctl options a domain may use: reading its own state, naming threads,
 * narrowing itself further. Anything else meets the mode's action. Values are
 * the kernel's (include/uapi/linux/prctl.h), listed here so the rule does not
 * depend on how new the build host's headers are.
 */
static const uint32_t allowed_prctl[] = {
	1,  /* PR_SET_PDEATHSIG */
	2,  /* PR_GET_PDEATHSIG */
	3,  /* PR_GET_DUMPABLE */
	7,  /* PR_GET_KEEPCAPS */
	15, /* PR_SET_NAME */
	16, /* PR_GET_NAME */
	21, /* PR_GET_SECCOMP */
	22, /* PR_SET_SECCOMP: a filter can only narrow */
	23, /* PR_CAPBSET_READ */
	25, /* PR_GET_TSC */
	27, /* PR_GET_SECUREBITS */
	29, /* PR_SET_TIMERSLACK */
	30, /* PR_GET_TIMERSLACK */
	36, /* PR_SET_CHILD_SUBREAPER */
	37, /* PR_GET_CHILD_SUBREAPER */
	38, /* PR_SET_NO_NEW_PRIVS */
	39, /* PR_GET_NO_NEW_PRIVS */
	40, /* PR_GET_TID_ADDRESS */
	41, /* PR_SET_THP_DISABLE */
	42, /* PR_GET_THP_DISABLE */
	52, /* PR_GET_SPECULATION_CTRL */
	65, /* PR_SET_MDWE: the kernel refuses to clear it */
	66, /* PR_GET_MDWE */
	0x41555856, /* PR_GET_AUXV */
	0x53564d41, /* PR_SET_VMA (naming anonymous memory) */
};

static int allow_prctl(scmp_filter_ctx ctx, int nr)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < sizeof allowed_prctl / sizeof allowed_prctl[0]; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				      SCMP_A0(SCMP_CMP_EQ, (uint64_t)allowed_prctl[i], 0));
	/* PR_SET_DUMPABLE (4) only to 0: a domain may hide itself, not expose itself. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 2, SCMP_A0(SCMP_CMP_EQ, 4, 0),
				      SCMP_A1(SCMP_CMP_EQ, 0, 0));
	return rc;
}

static int allow_ioctl(scmp_filter_ctx ctx, int nr)
{
	const uint32_t a = (uint32_t)TIOCSTI, b = (uint32_t)TIOCLINUX, diff = a ^ b;
	int rc = 0;
	for (unsigned k = 0; k < 32 && rc == 0; k++) {
		uint32_t bit = 1u << k;
		if (diff & bit)
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				      SCMP_A1(SCMP_CMP_MASKED_EQ, bit, (~a) & bit));
	}
	/* every subset of the differing bits, over the common ones */
	for (uint32_t sub = diff;; sub = (sub - 1) & diff) {
		uint32_t v = (a & ~diff) | sub;
		if (rc == 0 && v != a && v != b)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					      SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL, v));
		if (sub == 0)
			break;
	}
	return rc;
}

static int allow(scmp_filter_ctx ctx, const struct al_spec *spec, const char *name, struct al_bpf *meta)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR) {
		al_log_warnx("seccomp: unknown syscall '%s' in profile %s", name,
			     spec->name ? spec->name : "?");
		return -EINVAL;
	}
	if (al_seccomp_always_denied(name))
		return 0; /* refused at profile load; never allowed here either */
	if (nr < 0) { /* libseccomp's number for a call of other architectures only */
		const char *alt = al_arch_syscall_instead(name);
		return alt ? allow(ctx, spec, alt, meta) : 0;
	}
	int rc = al_wx_rules(ctx, spec, nr, meta);
	if (rc != 0) {
		if (rc < 0)
			al_log_warnx("seccomp: W^X rules for %s: %s", name, strerror(-rc));
		return rc < 0 ? rc : 0;
	}
	if (nr == SCMP_SYS(ioctl)) {
		rc = allow_ioctl(ctx, nr);
	} else if (nr == SCMP_SYS(prctl)) {
		rc = allow_prctl(ctx, nr);
	} else if (nr == SCMP_SYS(socket)) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				      SCMP_A0(SCMP_CMP_EQ, (uint64_t)AF_UNIX, 0));
		/* a spec with inet: IPv4 and IPv6 too (its network namespace and
		 * Landlock's port rules say where they may go) */
		if (rc == 0 && spec->inet)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					      SCMP_A0(SCMP_CMP_EQ, (uint64_t)AF_INET, 0));
		if (rc == 0 && spec->inet)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					      SCMP_A0(SCMP_CMP_EQ, (uint64_t)AF_INET6, 0));
	} else if (nr == SCMP_SYS(clone)) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, (uint64_t)NS_FLAGS, 0));
	} else if (nr == SCMP_SYS(execveat) && spec->exec_once) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 2,
				      SCMP_A0(SCMP_CMP_EQ, (uint64_t)AL_SANDBOX_EXEC_FD, 0),
				      SCMP_A4(SCMP_CMP_EQ, (uint64_t)AT_EMPTY_PATH, 0));
	} else if (nr == SCMP_SYS(execve) && spec->exec_once) {
		rc = 0;
	} else {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	if (rc == -EEXIST)
		rc = 0;
	if (rc < 0)
		al_log_warnx("seccomp: rule for %s: %s", name, strerror(-rc));
	return rc;
}

int al_seccomp_prepare(struct al_spec *spec)
{
	al_seccomp_free(spec);
	if (!spec->seccomp)
		return 0;
	scmp_filter_ctx ctx = seccomp_init(mode_action(spec->seccomp_mode));
	if (!ctx)
		return -ENOMEM;
	int rc = 0, mfd = -1;
	struct al_bpf *bpf = NULL;
	/* what the filter carries, decided once: wx.c's rules consult it */
	struct al_bpf meta = { .carries = al_wx_filter_carries(spec) };
	/* one architecture, this build's; the others the CPU offers are not in the filter */
	if (seccomp_arch_exist(ctx, al_arch_seccomp()) != 0) {
		al_log_warnx("seccomp: libseccomp's native architecture is not %s", al_arch_name);
		rc = -EINVAL;
		goto out;
	}
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0)
		goto out;
	/* a binary tree of syscall numbers: O(log n) per call, not a linear scan */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0)
		goto out;
	/* NO_NEW_PRIVS is the spawn sequence's own step */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0)
		goto out;
	for (size_t i = 0; i < AL_ARRAY_LEN(runtime_needs) && rc == 0; i++)
		rc = allow(ctx, spec, runtime_needs[i], &meta);
	if (rc == 0)
		rc = allow(ctx, spec, "clone", &meta);
	if (rc == 0)
		rc = allow(ctx, spec, "execveat", &meta);
	for (size_t i = 0; i < spec->n_allow && rc == 0; i++)
		rc = allow(ctx, spec, spec->allow[i], &meta);
	if (rc == 0 && spec->seccomp_mode == AL_SECCOMP_NOTIFY) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendmsg), 1,
				      SCMP_A0(SCMP_CMP_EQ, (uint64_t)AL_SANDBOX_SYNC_FD, 0));
		if (rc == -EEXIST)
			rc = 0;
	}
	/* libc tries clone3 first and falls back to clone only on ENOSYS */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc < 0)
		goto out;

	/* libseccomp 2.5 exports only to an fd: through a memfd into memory */
	mfd = memfd_create("al-seccomp", MFD_CLOEXEC);
	if (mfd < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = seccomp_export_bpf(ctx, mfd)) < 0)
		goto out;
	off_t len = lseek(mfd, 0, SEEK_END);
	if (len <= 0 || len % (off_t)sizeof(struct sock_filter) ||
	    len / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS) {
		rc = -E2BIG;
		goto out;
	}
	bpf = calloc(1, sizeof *bpf);
	if (bpf)
		*bpf = meta;
	if (!bpf || !(bpf->insns = malloc((size_t)len))) {
		rc = -ENOMEM;
		goto out;
	}
	if (pread(mfd, bpf->insns, (size_t)len, 0) != len) {
		rc = -EIO;
		goto out;
	}
	bpf->len = (unsigned short)(len / (off_t)sizeof(struct sock_filter));
	spec->seccomp_ctx = al_steal_ptr(&bpf);
out:
	if (bpf)
		free(bpf->insns);
	free(bpf);
	if (mfd >= 0)
		close(mfd);
	seccomp_release(ctx);
	if (rc < 0)
		al_log_warnx("seccomp: cannot build the filter: %s", strerror(-rc));
	return rc;
}

const struct al_bpf *al_seccomp_bpf(const struct al_spec *spec)
{
	return spec->seccomp_ctx;
}

void al_seccomp_free(struct al_spec *spec)
{
	struct al_bpf *b = spec->seccomp_ctx;
	if (b) {
		free(b->insns);
		free(b);
	}
	spec->seccomp_ctx = NULL;
}

/* Child side: installs the compiled program. Notify mode returns the listener. */
int al_seccomp_apply(const struct al_spec *spec, int *listener)
{
	*listener = -1;
	const struct al_bpf *b = al_seccomp_bpf(spec);
	if (!spec->seccomp)
		return 0;
	if (!b)
		return -EINVAL;
	struct sock_fprog prog = { .len = b->len, .filter = b->insns };
	unsigned flags = 0;
	if (spec->seccomp_mode == AL_SECCOMP_NOTIFY)
		flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (r < 0)
		return -errno;
	if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)
		*listener = (int)r;
	return 0;
}
