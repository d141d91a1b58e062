/* Attack probes: shared reporting protocol.
 *
 * Every probe tries exactly one attack and ends with one line on stdout
 *   AL-ATTACK name=<probe> verdict=<VERDICT> errno=<NAME|-> detail=<text>
 * and the matching exit status (see README.md):
 *   0  ESCAPED      the attack worked
 *   10 BLOCKED      the attack was refused; errno= names how
 *   11 UNEXPECTED   the attempt failed in a way that says nothing about a policy
 *   12 UNAVAILABLE  this kernel or machine lacks the feature attacked
 *   2  usage error
 * A probe killed by seccomp dies of SIGSYS; the runner sees the signal. */
#ifndef AL_ATTACK_PROBE_H
#define AL_ATTACK_PROBE_H

#include <stdnoreturn.h>

enum {
	ATK_ESCAPED = 0,
	ATK_USAGE = 2,
	ATK_BLOCKED = 10,
	ATK_UNEXPECTED = 11,
	ATK_UNAVAILABLE = 12,
};

struct atk_probe {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the probe name */
};

/* Name of the running probe, for the result line. */
extern const char *atk_name;

/* A global whose run-time value differs from its static initialiser: the
 * binary is static and not position independent, so it sits at the same
 * address in every process of this binary, and a reader that finds the
 * run-time value in another process has read that process's memory. */
extern char atk_victim_secret[32];
#define ATK_VICTIM_SECRET "airlock-victim-secret"

int atk_escaped(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Refused with errno err (or a pseudo errno name, see atk_blocked_as). */
int atk_blocked(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int atk_blocked_as(const char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int atk_unexpected(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int atk_unavailable(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Classifies a failed call: errnos a security layer produces are BLOCKED,
 * anything else is UNEXPECTED. */
int atk_failed(int err, const char *what);
/* Says on stderr, just before the attack's system call, that the probe got
 * that far: "AL-REACHED name=<probe> call=<syscall>". call is the kernel's
 * name for the call (openat, not open), the name a seccomp notification
 * gives, so the runner can match the two. Written with write(2) alone. */
void atk_reached(const char *call);
/* Progress note on stderr (never parsed). */
void atk_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a positive bound or pid argument; 0 when absent or malformed. */
long atk_arg_long(int argc, char **argv, int idx, long dflt);

#define ATK_PROBES(X)                                                        \
	X(x32) X(int80) X(io_uring) X(tiocsti) X(tiocsti_high) X(tioclinux)  \
	X(tioclinux_high) X(ptrace) X(process_vm_readv) X(kill) X(kcmp)     \
	X(userns) X(clone3_ns) X(clone_ns) X(setns) X(mount) X(setuid)       \
	X(capset) X(spec_ssb) X(spec_ib) X(mdwe_clear) X(mprotect_exec)     \
	X(mmap_exec) X(memfd_mmap_exec) X(shared_alias_exec) X(memfd_exec)  \
	X(exec_sh) X(personality)                                           \
	X(tcp_loopback) X(tcp_linklocal) X(udp_loopback) X(netlink) X(packet) X(vsock)      \
	X(abstract_bind) X(abstract_connect) X(read_shadow)                 \
	X(write_sysdir) X(chroot) X(write_self_exe) X(write_proc_exe) X(openat_dotdot) X(kallsyms)    \
	X(sysfs) X(perf_event_open) X(userfaultfd) X(bpf) X(keyctl)         \
	X(open_by_handle_at) X(fork_bomb) X(memory_hog) X(fd_exhaust)

#define ATK_DECLARE(n) int atk_##n(int argc, char **argv);
ATK_PROBES(ATK_DECLARE)
#undef ATK_DECLARE

#endif
