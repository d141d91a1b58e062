/*
 * Internal interface between the mechanism files of src/sandbox/. Each file
 * has the same shape: al_<mech>_apply() runs in the child (no malloc, no
 * logging to shared state: it returns -errno and spawn.c names the step);
 * parent-side helpers and al_<mech>_readback() run in the runner.
 */
#ifndef AL_SANDBOX_INT_H
#define AL_SANDBOX_INT_H

#include <linux/filter.h>
#include <limits.h>

#include "sandbox/sandbox.h"

/* The verified executable sits here inside the domain until execveat; the
 * seccomp filter of an exec_once profile allows exactly this fd. It is the
 * highest number the runner's open-files hard limit allows (1023 to 8191),
 * and a profile's NOFILE limit is kept at or below it (spec.c), so the
 * domain cannot re-create it. */
#define AL_SANDBOX_EXEC_FD (al_sandbox_exec_fd())
/* Internal fds of the child are moved here, above the passed ones. */
#define AL_SANDBOX_SYNC_FD (al_sandbox_exec_fd() - 1)

/* What a filter carries besides its allowlist (wx.c). */
#define AL_BPF_WX 1u     /* the W^X rules */
#define AL_BPF_MEMFD 2u  /* no memfd_create */
/* The calls the W^X rules refuse, at most: mmap, mprotect, pkey_mprotect,
 * shmat, memfd_create, memfd_secret. */
#define AL_BPF_MAX_EACCES 6

/* Filter compiled in the runner (libseccomp), installed raw in the child. */
struct al_bpf {
	struct sock_filter *insns;
	unsigned short len;
	unsigned carries;                 /* AL_BPF_* */
	/* calls some of whose uses the W^X rules refuse: in notify mode the
	 * runner answers those EACCES, as errno and kill mode do */
	int eacces_nr[AL_BPF_MAX_EACCES];
	unsigned n_eacces;
};

/* cgroup of one domain: one directory per v1 controller, or one v2 directory.
 * The first AL_CG_LIMITS carry limits; the v1 freezer only freezes (v2 has
 * cgroup.freeze in the domain's one directory). */
enum al_cg_ctrl { AL_CG_MEMORY = 0, AL_CG_PIDS, AL_CG_CPU, AL_CG_LIMITS, AL_CG_FREEZER = AL_CG_LIMITS, AL_CG_N };

struct al_cgroup {
	bool v2;
	bool used;
	char dir[AL_CG_N][PATH_MAX]; /* v2: only dir[0] */
	/* The real-time class's own v1 cpu group, holding its budget and only
	 * the threads given the class (sched.c): the rest of the domain stays
	 * where it was, ungrouped, so a domain that mostly sleeps is not held
	 * back by a group weight that follows its low average load. */
	char rt_dir[PATH_MAX];
	int rt_err;   /* asked for and not made: why (ENOTSUP: no RT group scheduling here) */
};

/* Parent-to-child and child-to-parent records on the sync socket. */
enum al_sync_kind {
	AL_SYNC_GO = 1,      /* parent: maps written, cgroups joined */
	AL_SYNC_FAIL,        /* child: code + err */
	AL_SYNC_NOTIFY_FD,   /* child: the seccomp listener comes with it (SCM_RIGHTS) */
	AL_SYNC_ACK,         /* parent: listener taken */
	AL_SYNC_READY,       /* child: sandboxed, waiting before exec */
	AL_SYNC_EXEC,        /* parent: exec now */
	AL_SYNC_NET_FDS,     /* child: value = how many listeners ride along (SCM_RIGHTS) */
};

struct al_sync_msg {
	uint32_t kind;
	int32_t code;
	int32_t err;
	int32_t value;
	uint32_t ll_applied;
	int32_t ll_abi;
};

/* rlimit.c: the limits a domain gets. Where no cgroup carries the memory and
 * pids limits (an unprivileged runner), RLIMIT_AS and RLIMIT_NPROC carry them. */
struct al_rlimits {
	uint64_t as, cpu, nofile, nproc, fsize, memlock;
	uint64_t rttime;         /* µs; RLIM_INFINITY unless the class is real-time */
	bool as_carries_memory;  /* RLIMIT_AS lowered to the cgroup memory limit */
	bool nproc_carries_pids; /* RLIMIT_NPROC lowered to the cgroup pids limit */
};
struct al_domain {
	pid_t pid;
	int pidfd;
	int sync_fd;
	int notify_fd;
	struct al_cgroup cg;
	int child_err;
	int child_errno;
	unsigned ll_applied;
	int ll_abi;
	bool started;
	bool reaped;
	int status;
	void *notify_req;
	void *notify_resp;
	char attest_failed[64];
	bool cg_joined;      /* cloned straight into its v2 cgroup */
	bool cg_skipped;     /* unprivileged, no cgroup: reported by attestation */
	struct al_rlimits rl; /* what the domain gets (rlimit.c) */
	struct al_resctrl_group rg; /* cache/bandwidth group, when the spec has one */
	enum al_freeze_method frozen_by; /* AL_FREEZE_NONE unless frozen */
	int sched_nice;      /* what the runner set (sched.c) */
	int sched_refused;   /* errno when a raised priority was refused, else 0 */
	int net_fds[AL_SANDBOX_MAX_PORTS]; /* spec->listen's sockets (net.c) */
	size_t n_net_fds;
	struct al_sched sched;  /* the class, kept for its I/O threads (sched.c) */
	int io_err;          /* errno of the last refused I/O thread policy, else 0 */
	bool io_calm;        /* adaptive class: the I/O threads held in the default class */
	/* its filter's AL_BPF_* and EACCES calls, for the attestation and
	 * the notify answers (wx.c) */
	unsigned filter_carries;
	int eacces_nr[AL_BPF_MAX_EACCES];
	unsigned n_eacces;
	unsigned wx_set;     /* what the child set: AL_WX_SET_* (its READY record) */
};

/* What the child set of W^X and the memfd rule, in its READY record's value. */
#define AL_WX_SET_MDWE 1u
#define AL_WX_SET_MEMFD_NOEXEC 2u

/* net.c: in the child, before the capability drop; the listeners go to the
 * runner over the sync socket (and are closed here). */
int al_net_apply(const struct al_spec *spec, int sync_fd);

/* ns.c */
int al_ns_write_maps(pid_t pid, uid_t uid, gid_t gid);
uint64_t al_ns_clone_flags(const struct al_spec *spec);
int al_ns_unshare_cgroup(void);
int al_ns_become_root(void);

/* rlimit.c */
void al_rlimit_effective(const struct al_spec *spec, bool have_cgroup, struct al_rlimits *out);
int al_rlimit_apply(const struct al_rlimits *rl);

/* memfd.c: vm.memfd_noexec = 2, through the runner's /proc (root only): 1
 * when written, 0 when not asked or carried by the filter alone, -errno when
 * nothing carries it */
int al_memfd_apply(const struct al_spec *spec);

/* wx.c: W^X and the memfd rule. The filter's rules for the call nr of a
 * profile's list (ctx is a scmp_filter_ctx), by meta->carries: 1 when nr is
 * one of the calls they govern (rules added, meta's EACCES calls updated), 0
 * when not, or -errno. */
int al_wx_rules(void *ctx, const struct al_spec *spec, int nr, struct al_bpf *meta);
/* What the filter carries for this spec whatever the profile lists (AL_BPF_*). */
unsigned al_wx_filter_carries(const struct al_spec *spec);
/* Whether the kernel has MDWE / whether this runner can set
 * vm.memfd_noexec, as the spec's test knob lets them be seen. */
bool al_wx_kernel_mdwe(const struct al_spec *spec);
bool al_wx_memfd_noexec_settable(const struct al_spec *spec);
/* Child: PR_SET_MDWE where the kernel has it (1 when set); where it has not,
 * only a filter with the W^X rules lets the domain start (0), else -errno. */
int al_wx_mdwe_apply(const struct al_spec *spec);
/* The W^X and memfd items of the attestation: what carries each. */
void al_wx_describe(const struct al_domain *d, const struct al_spec *spec, char *wx, size_t wx_len,
		    char *memfd, size_t memfd_len);
/* Whether a notified call nr is one the W^X rules refuse (answered EACCES). */
bool al_wx_eacces(const struct al_domain *d, int nr);

/* mount.c */
int al_mount_apply(const struct al_spec *spec);
int al_path_check(const char *path, bool *is_dir);

/* cpu.c */
int al_cpu_apply(const struct al_spec *spec);

/* sched.c: in the runner, on the child before GO */
int al_sched_apply(struct al_domain *d, const struct al_spec *spec);
/* cgroup cpu.shares (v1) or cpu.weight (v2) value for a weight */
uint64_t al_sched_v1_shares(uint32_t weight);

/* speculation.c */
int al_speculation_apply(const struct al_spec *spec);

/*
 * arch_<cpu family>.c: what differs between architectures, one file each
 * (meson builds the target's). Nothing else in the sandbox asks which CPU
 * it runs on.
 */
extern const char *const al_arch_name;         /* "x86_64", "aarch64" */
extern const char *const al_arch_foreign_abis; /* the other entries a filter kills */
uint32_t al_arch_seccomp(void);                 /* the filter's one SCMP_ARCH_* */
/* For a call this architecture does not have, the call its C library makes
 * instead (open -> openat on arm64); NULL if none. */
const char *al_arch_syscall_instead(const char *name);
/* Whether this architecture's kernel has a per-task control of this kind
 * (PR_SPEC_*); if not, *why says so and the control is absent, left alone. */
bool al_arch_spec_offered(unsigned long which, const char **why);
/* Whether the cycle counter can be made to fault per task; *why if not. */
bool al_arch_tsc_offered(const char **why);
/* Makes the counter fault for this task: 0 or -errno. */
int al_arch_tsc_trap(void);

/* caps.c */
int al_caps_apply(const struct al_spec *spec);

/* landlock.c: *applied gets AL_LANDLOCK_APPLIED_*, *abi the kernel's version */
int al_landlock_apply(const struct al_spec *spec, unsigned *applied, int *abi);

/* seccomp.c */
int al_seccomp_apply(const struct al_spec *spec, int *listener);
const struct al_bpf *al_seccomp_bpf(const struct al_spec *spec);
void al_seccomp_free(struct al_spec *spec);

/* cgroup.c */
/* Writes val to DIR/FILE (a cgroup control file). 0 or -errno. */
int al_cgroup_write(const char *dir, const char *file, const char *val);
int al_cgroup_create(const struct al_spec *spec, struct al_cgroup *cg);
int al_cgroup_attach(const struct al_cgroup *cg, pid_t pid);
int al_cgroup_destroy(struct al_cgroup *cg);
int al_cgroup_read(const struct al_cgroup *cg, enum al_cg_ctrl c, uint64_t *val);
/* cpu.shares (v1) or cpu.weight (v2), and cpu.idle (-1: the kernel has none). */
int al_cgroup_read_sched(const struct al_cgroup *cg, uint64_t *weight, int *idle);
/* cpu.rt_runtime_us and cpu.rt_period_us of the real-time group; -ENOENT without one. */
int al_cgroup_read_rt(const struct al_cgroup *cg, uint64_t *runtime_us, uint64_t *period_us);
/* Moves one thread (by its id) into the real-time group. 0 or -errno. */
int al_cgroup_rt_join(const struct al_cgroup *cg, pid_t tid);
/* Whether a domain's cgroup can be made below the runner's (v2, or v1 for
 * memory, pids and cpu): root's, or delegated to the runner. */
bool al_cgroup_own_writable(void);
/* The hierarchy, controllers and delegation of cg, for the attestation. */
void al_cgroup_describe(const struct al_cgroup *cg, char *buf, size_t len);

/* delegate.c: the state of the systemd scope step, one line (never empty)
 * for the messages of a runner without a cgroup. */
const char *al_cgroup_scope_note(void);

/* freeze.c: the parts of al_domain_freeze that need no domain, for tests.
 * What a cgroup offers for freezing (v2 cgroup.freeze, the v1 freezer), or
 * AL_FREEZE_SIGSTOP when neither. */
enum al_freeze_method al_cgroup_freeze_method(const struct al_cgroup *cg);
/* Freezes (on) or thaws the tasks of cg by method; pid (and every task below
 * it) is what SIGSTOP stops. Freezing waits, bounded, until frozen. */
int al_freeze_tasks(const struct al_cgroup *cg, pid_t pid, enum al_freeze_method method, bool on);
bool al_tasks_frozen(const struct al_cgroup *cg, pid_t pid, enum al_freeze_method method);

#endif
