/*
 * sandbox: turns a domain specification into a running, attested process.
 *
 * Recipe:
 *   struct al_spec spec;
 *   al_spec_init(&spec);                        defaults: every layer on
 *   al_profile_load(&spec, "tool");             a built-in name or a file path
 *   al_spec_add_path(&spec, "/srv/data", false); read-only bind (true: read-write)
 *   al_spec_add_fd(&spec, listen_fd, 3);        passed at a fixed number
 *   spec.exec_fd = fd; spec.argv = argv;        the verified executable
 *   al_seccomp_prepare(&spec);                  compiles the filter, before clone3
 *
 *   struct al_domain *d;
 *   al_domain_spawn(&spec, &d);    the child waits, fully sandboxed, just before exec
 *   al_domain_attest(d, &spec, NULL); reads back what is in force; -EPERM on mismatch
 *   al_domain_start(d);            the program is exec'd; error if exec failed
 *   ... poll al_domain_pidfd(d) (and al_domain_notify_fd(d) in notify mode) ...
 *   al_domain_wait(d, &status);    al_domain_kill(d, SIGKILL) to end it early
 *   al_domain_free(d);             kills if alive, reaps, removes its cgroups
 *   al_spec_free(&spec);
 *
 * The spec is plain data decided before anything happens (bubblewrap's SetupOp
 * list); spawn.c carries it out in one function, in DESIGN.md's order.
 * Functions return 0 or -errno and log; they never exit.
 *
 * Inside, the domain's pid 1 is a small reaper that forwards signals to the
 * program and exits with its status (128+signal when it was killed). It dies
 * with the thread that called al_domain_spawn (PR_SET_PDEATHSIG), taking the
 * whole domain with it: spawn from a thread that lives as long as the domain.
 * execve resets PR_SET_DUMPABLE for a readable program: a worker sets it again.
 */
#ifndef AL_SANDBOX_H
#define AL_SANDBOX_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AL_SANDBOX_MAX_PATHS 64
#define AL_SANDBOX_MAX_FDS 32
#define AL_SANDBOX_MAX_SYSCALLS 512
/* Passed fds may use numbers 0 .. AL_SANDBOX_MAX_FD_NUM. */
#define AL_SANDBOX_MAX_FD_NUM 255
#define AL_SANDBOX_NOBODY 65534
#define AL_RESCTRL_LINE 256

/* Why a spawned child gave up before exec: its exit status, and the step the
 * parent names. Values start at 200 so they do not look like a shell's. */
enum al_sandbox_err {
	AL_SANDBOX_OK = 0,
	AL_SANDBOX_ERR_SYNC = 200,     /* parent vanished or sent nothing */
	AL_SANDBOX_ERR_PDEATHSIG,
	AL_SANDBOX_ERR_IDS,            /* taking the mapped uid/gid */
	AL_SANDBOX_ERR_FDS,            /* placing the passed fds */
	AL_SANDBOX_ERR_CGROUPNS,
	AL_SANDBOX_ERR_RLIMIT,
	AL_SANDBOX_ERR_MEMFD,
	AL_SANDBOX_ERR_MOUNT,
	AL_SANDBOX_ERR_HOSTNAME,
	AL_SANDBOX_ERR_CPU,
	AL_SANDBOX_ERR_SPECULATION,
	AL_SANDBOX_ERR_CAPS,
	AL_SANDBOX_ERR_NO_NEW_PRIVS,
	AL_SANDBOX_ERR_DUMPABLE,
	AL_SANDBOX_ERR_MDWE,
	AL_SANDBOX_ERR_LANDLOCK,
	AL_SANDBOX_ERR_CLOSE_FDS,
	AL_SANDBOX_ERR_SECCOMP,
	AL_SANDBOX_ERR_NOTIFY,
	AL_SANDBOX_ERR_INIT,           /* the domain's pid 1 could not fork */
	AL_SANDBOX_ERR_EXEC,
	AL_SANDBOX_ERR_NET,            /* loopback, routes and listeners (net.c) */
	AL_SANDBOX_ERR_MAX,
};

const char *al_sandbox_strerror(int code);

/* What the filter does with a refused system call. */
enum al_seccomp_mode {
	AL_SECCOMP_KILL = 0,  /* the process dies of SIGSYS */
	AL_SECCOMP_ERRNO,     /* the call fails with EPERM */
	AL_SECCOMP_NOTIFY,    /* the runner is told and answers EPERM */
	AL_SECCOMP_MODE_COUNT,
};

/* "kill", "errno", "notify"; "?" for anything else. */
const char *al_seccomp_mode_name(enum al_seccomp_mode m);
/* The inverse: 0, or -EINVAL for a name that is none of them. */
int al_seccomp_mode_parse(const char *s, enum al_seccomp_mode *out);

enum al_landlock_want {
	AL_LANDLOCK_OFF = 0,
	AL_LANDLOCK_BEST_EFFORT, /* apply what the kernel's ABI offers, report the rest */
	AL_LANDLOCK_REQUIRED,    /* fail unless fs, net and scoping all apply */
};

/*
 * Scheduling class of a domain, set by the runner from outside (sched.c): the
 * policy and nice value on the domain's first task before it runs (its init,
 * the program and every thread inherit them), the weight, idle flag and
 * real-time budget on its cpu cgroup, and, for the real-time class, the
 * policy of its I/O threads once the program has started them. A domain
 * cannot change any of it: the sched_set* calls and setpriority are refused
 * by every filter, and RLIMIT_NICE/RLIMIT_RTPRIO are 0.
 *   default  as the runner's children are: SCHED_OTHER, nice 0, cgroup weight untouched
 *   batch    throughput work: SCHED_BATCH (no wakeup preemption), nice 10, weight untouched
 *   idle     runs only when nothing else wants the CPU: SCHED_IDLE, cgroup cpu.idle
 *            (the group then has the kernel's least weight)
 *   latency  SCHED_OTHER at nice -5, weight 400 (falls back to nice 0 for a
 *            runner that may not raise a priority, and says so in attestation),
 *            and a 100 us slice
 *   realtime the domain itself as default; its I/O threads (named
 *            AL_WORKER_IO_THREAD, include/airlock/worker.h; at most io_max) at
 *            SCHED_RR priority 1, reset on fork, set by the runner
 *            (al_domain_sched_threads) once they exist. Bounded twice: by
 *            RLIMIT_RTTIME (a real-time thread that runs rttime_us without
 *            sleeping is killed) and by a real-time budget: the threads are
 *            moved into a cpu cgroup of their own (cgroup v1 with RT group
 *            scheduling: rt_runtime_us per rt_period_us on each CPU), the
 *            rest of the domain left ungrouped; where there is no such
 *            hierarchy, the kernel's global sched_rt_runtime_us, and the
 *            attestation says so. Where the budget cannot be given (the
 *            parent's is taken), the threads stay SCHED_OTHER, reported.
 *   adaptive as realtime while tasks wait for a CPU (CPU pressure, pressure.c),
 *            and the I/O threads back in the default class while the CPUs
 *            are calm (the runner decides, al_domain_sched_io_calm): a
 *            real-time thread wakes on the CPU it last ran on, which on an
 *            idle machine costs each request two wake-ups across CPUs.
 * The slice is the EEVDF request size (sched_attr's sched_runtime, kernel 6.12
 * and later; an older kernel ignores it and the attestation reports it
 * absent). A task that wakes with a shorter slice than the running task's
 * preempts it; one with a longer slice waits for its turn.
 */
enum al_sched_class { AL_SCHED_DEFAULT = 0, AL_SCHED_BATCH, AL_SCHED_IDLE, AL_SCHED_LATENCY, AL_SCHED_REALTIME,
		      AL_SCHED_ADAPTIVE, AL_SCHED_COUNT };

struct al_sched {
	enum al_sched_class cls;
	int policy;                     /* SCHED_OTHER, SCHED_BATCH or SCHED_IDLE */
	int nice;                       /* -20..19 */
	uint32_t cpu_weight;            /* cgroup weight, v2 scale (100 = default; v1
					 * cpu.shares = weight * 1024 / 100); 0 = untouched */
	bool cpu_idle;                  /* cgroup cpu.idle = 1 (an idle group entity) */
	uint32_t slice_us;              /* EEVDF slice (100..100000); 0: the kernel's default */
	/* real-time I/O threads; io_policy 0 (SCHED_OTHER): none */
	int io_policy;                  /* SCHED_RR */
	int io_prio;                    /* 1..99 */
	unsigned io_max;                /* threads given it at most */
	const char *io_comm;            /* their name */
	uint32_t rt_period_us, rt_runtime_us; /* the I/O threads' cpu group's budget (v1) */
	uint64_t rttime_us;             /* RLIMIT_RTTIME; 0: inherited */
	bool io_adaptive;               /* io_policy only while the CPUs are contended
					 * (pressure.c); SCHED_OTHER while calm */
};

/* "default", "batch", "idle", "latency", "realtime", "adaptive"; "?" for anything else. */
const char *al_sched_class_name(enum al_sched_class c);
/* The inverse: 0, or -EINVAL. */
int al_sched_class_parse(const char *s, enum al_sched_class *out);
/* The class's policy, nice value and weight. */
struct al_sched al_sched_of_class(enum al_sched_class c);
/* "SCHED_OTHER", "SCHED_BATCH", ... for a policy number. */
const char *al_sched_policy_name(int policy);
/* Sets a fair-class policy (SCHED_OTHER, SCHED_BATCH, SCHED_IDLE), nice
 * value and slice in us (0: the kernel's default; kernels before 6.12 ignore
 * it) of pid (0: the caller) with sched_setattr: 0 or -errno. */
int al_sched_set_fair(pid_t pid, int policy, int nice, uint32_t slice_us);
/* The EEVDF slice of a fair-class task (tid 0: the caller), in us, read back
 * with sched_getattr: 0, -ENOTSUP where the kernel keeps no per-task slice
 * (before 6.12 it reports none), or -errno. */
int al_sched_slice_read(pid_t tid, uint32_t *us);
/* The one place the slice is read from: sched_getattr's sched_runtime in ns
 * for tid (0 where the kernel reports none), or -errno. Tests set a fake
 * (NULL restores the real call) to run the other kernel's path; production
 * never does. */
typedef int (*al_sched_runtime_fn)(pid_t tid, uint64_t *ns);
void al_sched_set_probe(al_sched_runtime_fn fn);

/*
 * CPU pressure (pressure.c): the "some" total of /proc/pressure/cpu, the
 * microseconds during which at least one task waited for a CPU.
 * al_psi_parse_some: from the file's text (untrusted length, no NUL needed):
 * 0, or -EPROTO when there is no well-formed "some ... total=N" line.
 * al_psi_cpu_read: the same from the file, opened at the first call and read
 * again from its start at each (the supervisor reads it ten times a second):
 * 0 or -errno (-ENOENT or -EOPNOTSUPP where the kernel keeps no pressure).
 * Tests point it at a file of their own with al_psi_set_path (NULL: the
 * kernel's again), which also closes the one held.
 */
int al_psi_parse_some(const char *text, size_t len, uint64_t *total_us);
int al_psi_cpu_read(uint64_t *total_us);
void al_psi_set_path(const char *path);
/*
 * Whether the adaptive class's I/O threads should be real-time: fed one
 * reading of the total per look, it answers true from the first window in
 * which tasks waited 25 % of the time, and false again after 1 s of windows
 * under 10 %. Starts calm (zero the struct); a reading that went backwards
 * starts it over.
 */
struct al_contention {
	bool have, rt;
	uint64_t total_us, at_ns, calm_since_ns;
	double last_pct;        /* the last window's pressure, % */
	unsigned switches;      /* changes of rt so far */
};
bool al_contention_feed(struct al_contention *c, uint64_t total_us, uint64_t now_ns);

struct al_path {
	char *path;   /* absolute, normalised, no symlink in any component */
	bool rw;      /* read-write bind; read-only otherwise */
	bool is_dir;
	char *link;   /* set: recreate a system symlink (e.g. /bin -> usr/bin) instead */
};

struct al_passfd {
	int src;      /* in the runner */
	int dst;      /* number in the domain */
};

/*
 * Network (net.c). A domain's network namespace is, by net:
 *   none      empty (the default): not even loopback is up;
 *   loopback  its own, with lo up and every address local (AnyIP: a local
 *             route for 0.0.0.0/0 and ::/0), so a connection to any address
 *             reaches a listener of the namespace on that port, and nothing
 *             leaves it. The child makes the listeners of `listen` before it
 *             drops its capabilities (a port below 1024 is then allowed) and
 *             hands them to the runner (al_domain_net_fd); the domain keeps
 *             none of them;
 *   host      the runner's own (no new network namespace; attested so).
 * inet lets socket() make AF_INET and AF_INET6 sockets (otherwise AF_UNIX
 * only). Landlock (ABI >= 4) then allows TCP connect to the tcp_connect
 * ports only, and TCP bind to none, in every mode.
 */
#define AL_SANDBOX_MAX_PORTS 64
enum al_net_mode { AL_NET_NONE = 0, AL_NET_LOOPBACK, AL_NET_HOST };

struct al_net_listen {
	uint16_t port;
	bool udp;     /* a datagram socket; else a TCP listener (backlog 64) */
};

struct al_spec {
	char *name;                     /* profile name, for logs */

	/* identity: when the runner is root, uid/gid 0 inside map to these outside */
	uid_t outside_uid;
	gid_t outside_gid;

	/* filesystem: a read-only tmpfs root holding only these */
	struct al_path paths[AL_SANDBOX_MAX_PATHS];
	size_t n_paths;
	bool proc;                      /* fresh /proc, hidepid=invisible, subset=pid */
	bool dev;                       /* /dev with null, zero, urandom, full */
	bool tmp;                       /* a private writable tmpfs on /tmp */

	/* rlimits; RLIM_INFINITY leaves one unset. CORE is always 0. */
	uint64_t rl_as, rl_cpu, rl_nofile, rl_nproc, rl_fsize, rl_memlock;

	/* cgroup limits; 0 = no limit for that controller */
	uint64_t cg_memory;             /* bytes */
	uint64_t cg_pids;
	uint32_t cg_cpu_percent;        /* of one CPU; 0 = unlimited */
	bool cg_required;               /* else run without limits when no cgroup is
					 * writable (default: only when not root) */
	bool accept_unenforced;         /* without a cgroup, run although the CPU
					 * share cannot be enforced (memory and pids
					 * are then carried by rlimits) */

	/* cpu */
	bool has_cpus;
	cpu_set_t cpus;
	bool core_sched;                /* own core-scheduling cookie, where offered */
	struct al_sched sched;          /* scheduling class (default: untouched) */

	/* resctrl: the domain's own group, made by the runner (resctrl.c).
	 * Each is one schemata line such as "L3:0=ff0;1=ff0"; empty: none. */
	char resctrl_l3[AL_RESCTRL_LINE];
	char resctrl_mb[AL_RESCTRL_LINE];
	const char *resctrl_root;       /* NULL: "/"; tests use a fake tree */

	/* speculation and memory protections */
	bool spec_store_bypass;         /* force-disable */
	bool spec_indirect_branch;      /* force-disable */
	bool spec_l1d_flush;            /* where the kernel offers it */
	bool tsc_sigsegv;               /* rdtsc traps: the strictest level */
	bool mdwe;                      /* W^X: the filter's W^X rules, and PR_SET_MDWE
					 * refuse-exec-gain where the kernel has it (wx.c) */
	bool memfd_noexec;              /* no executable memfd: vm.memfd_noexec = 2 in the
					 * pid namespace, or the filter refuses memfd_create */

	/* privileges; false only to build deliberately weakened specs in tests */
	bool drop_caps;
	bool no_new_privs;

	/* landlock */
	enum al_landlock_want landlock;

	/* network: see enum al_net_mode */
	enum al_net_mode net;
	bool inet;
	uint16_t tcp_connect[AL_SANDBOX_MAX_PORTS];
	size_t n_tcp_connect;
	struct al_net_listen listen[AL_SANDBOX_MAX_PORTS]; /* AL_NET_LOOPBACK only */
	size_t n_listen;

	/* seccomp: names resolved through libseccomp; the deny list always wins */
	enum al_seccomp_mode seccomp_mode;
	bool seccomp;
	char *allow[AL_SANDBOX_MAX_SYSCALLS];
	size_t n_allow;
	bool exec_once;                 /* only the initial execveat of exec_fd */
	void *seccomp_ctx;              /* compiled by al_seccomp_prepare() */

	/* fds passed at fixed numbers; stdio (0-2) are passed when keep_stdio */
	struct al_passfd fds[AL_SANDBOX_MAX_FDS];
	size_t n_fds;
	bool keep_stdio;

	/* what runs: execveat(exec_fd, "", argv, envp, AT_EMPTY_PATH) */
	int exec_fd;
	char *const *argv;
	char *const *envp;              /* NULL: a minimal PATH/HOME/TERM */

	/* tests only: the child's step AL_SANDBOX_ERR_<step> fails (ECANCELED)
	 * as if its call had; 0 (al_spec_init) never */
	int fail_at_step;
	/* tests only: the domain is built as on a kernel without these
	 * (AL_TEST_NO_*: the child does not set them, the filter and the
	 * attestation take them for absent); 0 (al_spec_init) never. No profile
	 * key, option or variable sets it. */
	unsigned test_kernel_lacks;
};

#define AL_TEST_NO_MDWE 1u          /* PR_SET_MDWE (Linux 6.3) */
#define AL_TEST_NO_MEMFD_NOEXEC 2u  /* vm.memfd_noexec (Linux 6.3) */

/* Defaults: all namespaces, every layer on, kill mode, no paths, no syscalls. */
void al_spec_init(struct al_spec *spec);
void al_spec_free(struct al_spec *spec);

/*
 * Adds a path to bind into the domain at the same place. Refused (-ELOOP) when
 * any component is a symlink, -EINVAL when not absolute or not normalised
 * ("..", ".", "//"), -EEXIST when already listed.
 */
int al_spec_add_path(struct al_spec *spec, const char *path, bool rw);
/*
 * A system path such as /bin: bound read-only when a directory, recreated as
 * the same symlink when the host's is one (merged /usr). Only a symlink in the
 * root directory is accepted, and its target must be relative and normalised.
 */
int al_spec_add_system_path(struct al_spec *spec, const char *path);
int al_spec_add_fd(struct al_spec *spec, int src, int dst);
int al_spec_allow_syscall(struct al_spec *spec, const char *name);

/*
 * Loads a profile: NAME finds NAME.conf in the source tree's etc/profiles when
 * run from the build tree, else in AL_SYSCONFDIR/profiles; anything with a '/'
 * is a file path. The format is in etc/profiles/README.md.
 */
int al_profile_load(struct al_spec *spec, const char *name_or_path);
/* Opens the program cmd for exec_fd (O_RDONLY, close-on-exec), looked up in
 * PATH when it has no slash, as a shell does; where receives the file's path.
 * An fd, or -1 with errno. */
int al_command_open(const char *cmd, char *where, size_t len);
int al_profile_path(const char *name, char *buf, size_t len);
/* The same from memory (fuzzing, tests); origin names it in errors. */
int al_profile_load_mem(struct al_spec *spec, const char *buf, size_t len, const char *origin);

/* Parses a CPU list such as "0-1,3" (at most CPU_SETSIZE). */
int al_cpu_parse_list(const char *s, cpu_set_t *set);
/* The inverse: "0-1,3", as the kernel prints Cpus_allowed_list (cut to len). */
void al_cpu_format_list(const cpu_set_t *set, char *buf, size_t len);

/* Compiles the seccomp filter into spec->seccomp_ctx (call before spawn). */
int al_seccomp_prepare(struct al_spec *spec);
/* True if the kernel would refuse this syscall name for every domain. */
bool al_seccomp_always_denied(const char *name);

struct al_domain;

int al_domain_spawn(const struct al_spec *spec, struct al_domain **out);
int al_domain_start(struct al_domain *d);
int al_domain_pidfd(const struct al_domain *d);
pid_t al_domain_pid(const struct al_domain *d);
/* The seccomp listener in notify mode, else -1. */
int al_domain_notify_fd(const struct al_domain *d);
/* The i-th socket of spec->listen (AL_NET_LOOPBACK), made in the domain's
 * network namespace and owned by d (pass it on, do not close it); -1 if none.
 * Each is dual-stack (v4-mapped addresses) where IPv6 is present. */
int al_domain_net_fd(const struct al_domain *d, size_t i);
int al_domain_kill(struct al_domain *d, int sig);
/* Reaps the domain; *status as from waitpid. Removes its cgroups. */
int al_domain_wait(struct al_domain *d, int *status);
void al_domain_free(struct al_domain *d);
/* Which sandbox step failed in the child, or AL_SANDBOX_OK. */
int al_domain_child_error(const struct al_domain *d);
/* Which child step made the calling thread's last al_domain_spawn fail
 * (the domain is gone by then), or AL_SANDBOX_OK. */
int al_sandbox_last_step(void);
/* What Landlock applied, as a bitmask of AL_LANDLOCK_APPLIED_*. */
#define AL_LANDLOCK_APPLIED_FS 1u
#define AL_LANDLOCK_APPLIED_NET 2u
#define AL_LANDLOCK_APPLIED_SCOPE 4u
unsigned al_domain_landlock_applied(const struct al_domain *d);
int al_domain_landlock_abi(const struct al_domain *d);
/* The nice value the runner managed to set (the spec's, or 0 when raising the
 * priority was refused to it) and the errno of that refusal (0: none). */
int al_domain_sched_nice(const struct al_domain *d, int *refused);
/*
 * The real-time class's I/O threads (sandbox.h, al_sched), from outside: every
 * thread of the domain's program named io_comm, up to io_max, gets io_policy
 * at io_prio (reset on fork). Cheap (a /proc listing): the supervisor calls it
 * on every tick, so a thread started or restarted later gets it too, and more
 * often while a new domain's threads are missing. Returns how many threads it
 * set now (0: nothing to do), or -errno; *missing (if not NULL): how many of
 * io_max still lack the policy (0 where none is wanted or none can be given).
 */
int al_domain_sched_threads(struct al_domain *d, unsigned *missing);
/* The adaptive class (io_adaptive): calm puts the I/O threads back in the
 * default class at the next al_domain_sched_threads, !calm makes them
 * real-time again. True when that changed what it holds; a no-op (false)
 * for any other class. */
bool al_domain_sched_io_calm(struct al_domain *d, bool calm);
/*
 * The domain's scheduling read back now, as a jansson json_t *: the class,
 * each thread of its program (tid, name, policy, priority, nice), how many I/O
 * threads hold the real-time policy, the cgroup's real-time budget and
 * RLIMIT_RTTIME (or why absent). NULL on allocation failure.
 */
void *al_domain_sched_report(const struct al_domain *d);

/*
 * Freezing (freeze.c): every task of the domain stopped where it stands,
 * without leaving its cgroup. By the domain's v2 cgroup (cgroup.freeze), its
 * v1 freezer cgroup, or, where it has neither, SIGSTOP to each task.
 *
 *   al_domain_freeze(d);           0 once the kernel reports every task frozen
 *   al_freeze_method_name(al_domain_freeze_method(d))   for the record
 *   al_domain_kill(d, SIGKILL);    a killed frozen domain is thawed to die
 *   al_domain_thaw(d);
 */
enum al_freeze_method { AL_FREEZE_NONE, AL_FREEZE_CGROUP_V1, AL_FREEZE_CGROUP_V2, AL_FREEZE_SIGSTOP };
/* "cgroup-v1-freezer", "cgroup-v2-freeze", "sigstop", "none". */
const char *al_freeze_method_name(enum al_freeze_method m);
/* The method al_domain_freeze uses (or used, while frozen). */
enum al_freeze_method al_domain_freeze_method(const struct al_domain *d);
/* Freezes and waits (bounded, 100 ms) until the kernel reports it frozen. 0 or -errno;
 * even on error the domain counts as frozen until thawed or killed. */
int al_domain_freeze(struct al_domain *d);
/* The same by a given method (benchmarks compare them): -ENOTSUP if the domain
 * has no cgroup for it; SIGSTOP is always available. */
int al_domain_freeze_by(struct al_domain *d, enum al_freeze_method method);
int al_domain_thaw(struct al_domain *d);
/* True while frozen and the kernel reports it so (SIGSTOP: every task stopped). */
bool al_domain_frozen(const struct al_domain *d);
/* Children of pid, from /proc/PID/task/.../children. Returns how many (<= max). */
size_t al_proc_children(pid_t pid, pid_t *out, size_t max);
/* pid and every process below it, parents before their children. Returns how many (<= max). */
size_t al_proc_tree(pid_t pid, pid_t *out, size_t max);

/* One seccomp violation received in notify mode. */
struct al_violation {
	pid_t pid;        /* as seen by the runner */
	int nr;
	char name[32];
	uint64_t args[6];
	uint64_t ip;
};
/* Receives one notification, answers EPERM, fills *v. */
int al_domain_notify_handle(struct al_domain *d, struct al_violation *v);

/*
 * Read-back attestation: compares what /proc shows for the domain with spec.
 * On mismatch returns -EPERM, logs the item and stores its name in *failed
 * (if given). *report (if given) receives a jansson json_t * with every item.
 */
int al_domain_attest(struct al_domain *d, const struct al_spec *spec, void **report,
		     const char **failed);

/*
 * Per-task speculation control: PR_GET_SPECULATION_CTRL's flag word for
 * which (PR_SPEC_STORE_BYPASS, ...), or -errno. The one switch the partition
 * probe, the child's apply and the attestation consult: a control without
 * PR_SPEC_PRCTL is absent everywhere (left alone, reported absent); one
 * offered but refused by the kernel stops the spawn. Tests set a fake probe
 * (NULL restores the real prctl); production never does.
 */
typedef int (*al_speculation_get_fn)(unsigned long which);
void al_speculation_set_probe(al_speculation_get_fn fn);
int al_speculation_get(unsigned long which);
bool al_speculation_controllable(unsigned long which);

/* Removes cgroups left by runners that died without cleaning up. */
void al_cgroup_sweep(void);

/*
 * For a runner that is an ordinary user (delegate.c): where no cgroup below
 * its own can be made, and a systemd user manager is reachable, executes
 * argv again (argv[0] aside: this executable) through `systemd-run --user
 * --scope -p Delegate=yes`, so that it continues in a delegated cgroup; does
 * not return then. Returns (0) where the cgroup is writable already, where
 * this is the second run (AIRLOCK_CGROUP_SCOPE=inside, which it removes from
 * the environment), where AIRLOCK_CGROUP_SCOPE=off, and where there is no
 * user manager; -errno where systemd-run could not be executed. What was
 * found is recorded for the messages and attestation of a domain without a
 * cgroup. Call it before anything with an effect: it may restart the process.
 */
#define AL_CGROUP_SCOPE_ENV "AIRLOCK_CGROUP_SCOPE"
int al_cgroup_scope_enter(char *const argv[]);

/*
 * Partitioning (partition.c, docs/levels.md): where a domain runs and which
 * hardware isolation it gets. The sandbox has no notion of a security level:
 * the caller decides what it wants (the level policy, src/respond/level.c)
 * and passes it as a struct al_partition_want.
 *
 *   al_spec_init(&spec); al_profile_load(&spec, "compute");
 *   struct al_partition_want w = { .core_sched = true, .ssb = true, .ib = true };
 *   al_sandbox_apply_partition(&spec, &w, AL_SANDBOX_ROLE_AI);
 *
 * sets the CPU placement (unless the spec already names CPUs), the core
 * scheduling cookie, the resctrl cache and bandwidth lines, and the
 * speculation controls. What the machine lacks is left off and reported
 * (al_partition_plan_json), never an error.
 */
struct al_partition_want {
	bool cpus;        /* the domains on disjoint CPU sets (no shared core) */
	bool core_sched;  /* an own core-scheduling cookie per domain */
	bool cat;         /* resctrl: the L3 cache ways split between the domains */
	bool mba;         /* resctrl: the memory bandwidth split between the domains */
	bool ssb;         /* store-bypass speculation force-disabled */
	bool ib;          /* indirect-branch speculation force-disabled */
	bool l1d;         /* L1D flush on context switch */
	bool tsc;         /* rdtsc traps (PR_SET_TSC) */
};

enum al_sandbox_role {
	AL_SANDBOX_ROLE_AI,
	AL_SANDBOX_ROLE_PROTO,
	AL_SANDBOX_ROLE_SUPERVISOR,
};

/* The system calls partitioning makes, so tests can record them. */
struct al_partition_ops {
	int (*prctl)(int op, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);
};
extern const struct al_partition_ops al_partition_ops_real;

/* Where to look: root prefix for /sys (a fake tree in tests) and the calls. */
struct al_partition_env {
	const char *root;                       /* "/" on a real host */
	const struct al_partition_ops *ops;
};

#define AL_PARTITION_MAX_DOMAINS 16

/* What this machine offers for partitioning (al_partition_probe). */
struct al_partition_caps {
	cpu_set_t online;                   /* CPUs the runner may use */
	int n_cpus;
	int n_cores;                        /* physical cores among them (SMT siblings merged) */
	cpu_set_t core[CPU_SETSIZE / 8];    /* each core's CPUs, in order */
	bool core_sched;                    /* PR_SCHED_CORE answers */
	int core_sched_err;                 /* its errno when not */
	bool resctrl;                       /* /sys/fs/resctrl mounted (info/ present) */
	bool cat;                           /* L3 allocation */
	unsigned cbm_bits, min_cbm_bits;    /* width of the L3 mask, fewest bits allowed */
	unsigned n_l3, l3_ids[AL_PARTITION_MAX_DOMAINS];
	bool mba;                           /* memory bandwidth allocation */
	unsigned mb_min, mb_gran;
	unsigned n_mb, mb_ids[AL_PARTITION_MAX_DOMAINS];
	bool tsc_clock;                     /* the clock source reads the TSC (vDSO) */
	char clocksource[32];
	bool spec_ssb, spec_ib, spec_l1d;   /* PR_SET_SPECULATION_CTRL offered per task */
};

/* One mechanism of a plan: on, off at this level, or wanted but absent. */
enum al_partition_state { AL_PART_OFF, AL_PART_ON, AL_PART_ABSENT };
struct al_partition_item {
	const char *name;                   /* "cpus", "core_sched", "cat", ... */
	enum al_partition_state state;
	char detail[96];
};
enum { AL_PART_CPUS, AL_PART_CORE_SCHED, AL_PART_CAT, AL_PART_MBA, AL_PART_SSB, AL_PART_IB,
       AL_PART_L1D, AL_PART_TSC, AL_PART_N };

struct al_partition_plan {
	int n_cpus;                         /* CPUs of the machine the runner may use */
	bool has_cpus;
	cpu_set_t cpus;
	bool core_sched;
	char l3[AL_RESCTRL_LINE], mb[AL_RESCTRL_LINE];
	bool ssb, ib, l1d, tsc;
	struct al_partition_item items[AL_PART_N];
};

/* Reads the machine below env->root; never fails (absent facilities are false). */
void al_partition_probe(const struct al_partition_env *env, struct al_partition_caps *caps);
/* Pure: what of want role gets on a machine with caps. */
void al_partition_plan(const struct al_partition_caps *caps, const struct al_partition_want *want,
		       enum al_sandbox_role role, struct al_partition_plan *plan);
/* Writes a plan into a spec; an explicit CPU list already in the spec wins. */
void al_partition_to_spec(const struct al_partition_plan *plan, struct al_spec *spec);
/* probe + plan + to_spec on this machine; plan (if given) receives the plan. */
int al_sandbox_apply_partition(struct al_spec *spec, const struct al_partition_want *want,
			       enum al_sandbox_role role);
int al_sandbox_apply_partition_env(struct al_spec *spec, const struct al_partition_want *want,
				   enum al_sandbox_role role, const struct al_partition_env *env,
				   struct al_partition_plan *plan);
/* Places the calling thread (the supervisor) where it disturbs the domains least. */
int al_sandbox_place_self(const struct al_partition_want *want);
const char *al_partition_state_name(enum al_partition_state s);
/* The plan as JSON: [{"item":..., "state":..., "detail":...}] (a json_t *). */
void *al_partition_plan_json(const struct al_partition_plan *plan);

/* Core scheduling: a cookie of the calling process's own. 0, -ENODEV when
 * the kernel has none (no SMT, not built in), else -errno. */
int al_cpu_core_cookie(const struct al_partition_ops *ops);

/* A domain's resctrl group (made in the runner, before the domain runs). */
struct al_resctrl_group {
	bool used;
	char dir[4096];
};
/* Makes ROOT/sys/fs/resctrl/NAME and writes the spec's schemata lines. */
int al_resctrl_create(const struct al_spec *spec, const char *name, struct al_resctrl_group *g);
/* Adds a task (its future threads and children follow it). */
int al_resctrl_attach(const struct al_resctrl_group *g, pid_t pid);
/* Removes the group: its tasks fall back to the default group. */
int al_resctrl_destroy(struct al_resctrl_group *g);

/* The fd number the verified executable has inside a domain until exec (its
 * internal sync socket is the one below): the highest the open-files hard
 * limit allows, 1023 to 8191. A profile's nofile is kept below it. */
int al_sandbox_exec_fd(void);

#endif
