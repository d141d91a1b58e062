/*
 * Probe of the protections this machine can give: CPU flags, CPU
 * vulnerability states, kernel features and hardening sysctls.
 *
 * Recipe:
 *   struct al_hw_report *r = al_hw_probe("/");      // "/" on a real host; a fake tree in tests
 *   al_hw_report_print(r, stdout, isatty(1));        // or al_hw_report_json(r)
 *   int missing = al_hw_report_require(r, ids, n, stderr);
 *   al_hw_report_free(r);
 *
 * Evidence comes from two places. Files under /proc and /sys are read below
 * a root prefix, so tests can run the prober against fake trees. Kernel
 * features that no file describes are tried for real in throwaway child
 * processes (al_hw_probe_syscalls); their raw outcomes are collected in
 * struct al_hw_syscalls, which tests can fill with recorded values and hand
 * to al_hw_probe_with() to exercise both the present and absent paths.
 */
#ifndef AL_HW_H
#define AL_HW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum al_hw_state {
	AL_HW_ABSENT = 0,
	AL_HW_PARTIAL = 1,
	AL_HW_PRESENT = 2,
};

/* The CPU family whose protections are probed: the build's own (al_hw_arch_native), or another one's
 * against a fake tree in tests. The kernel items are the same on every architecture. */
enum al_hw_arch {
	AL_HW_ARCH_X86_64,
	AL_HW_ARCH_AARCH64,
};
extern const enum al_hw_arch al_hw_arch_native; /* native_<cpu family>.c, picked by meson */
const char *al_hw_arch_name(enum al_hw_arch a);   /* "x86_64", "aarch64" */

enum al_hw_kind {
	AL_HW_KIND_CPU_FLAG,
	AL_HW_KIND_VULNERABILITY,
	AL_HW_KIND_KERNEL,
	AL_HW_KIND_SYSCTL,
};

#define AL_HW_TEXT 256

struct al_hw_item {
	char id[64];              /* stable name, e.g. "cpu.smep", "kernel.landlock" */
	enum al_hw_kind kind;
	enum al_hw_state state;
	char value[AL_HW_TEXT];   /* short finding: "ABI 7", "mitigated: ...", "2" */
	char evidence[AL_HW_TEXT];/* file and line, or the call and its result */
	const char *use;          /* what airlock uses it for */
	const char *fallback;     /* what airlock does when it is absent */
};

/*
 * Raw outcomes of the kernel features that must be tried. Each field is
 * >= 0 on success (a version or flag word where the call returns one) or
 * -errno of the failing call.
 */
struct al_hw_syscalls {
	int userns;          /* unshare(CLONE_NEWUSER) */
	int userns_nested;   /* a second unshare(CLONE_NEWUSER) inside the first */
	int seccomp_filter;  /* seccomp(SECCOMP_SET_MODE_FILTER) of an allow-all filter */
	int seccomp_notify;  /* same with SECCOMP_FILTER_FLAG_NEW_LISTENER */
	int seccomp_tsync;   /* same with SECCOMP_FILTER_FLAG_TSYNC */
	int landlock_abi;    /* landlock_create_ruleset(VERSION) */
	int clone3_pidfd;    /* clone3 with CLONE_PIDFD */
	int mdwe;            /* prctl(PR_SET_MDWE, REFUSE_EXEC_GAIN) */
	int spec_store_bypass; /* prctl(PR_GET_SPECULATION_CTRL, ...) flag word */
	int spec_indirect_branch;
	int spec_l1d_flush;
	int memfd_secret;    /* memfd_secret(0) */
	int memfd_seal;      /* memfd_create(ALLOW_SEALING) + F_ADD_SEALS grow/shrink/seal */
	int sched_core;      /* prctl(PR_SCHED_CORE, PR_SCHED_CORE_GET) */
	/* getauxval(AT_HWCAP), (AT_HWCAP2): the CPU features the kernel enabled for
	 * user space (arm64 reads BTI, PAC, MTE, SSBS from them; x86 reads none) */
	unsigned long hwcap, hwcap2;
};

struct al_hw_report {
	struct al_hw_item *items;
	size_t n_items, cap_items;
	char root[256];
	enum al_hw_arch arch;
};

/* Tries every kernel feature in throwaway children. Never fails: a probe that cannot run reports its errno. */
void al_hw_probe_syscalls(struct al_hw_syscalls *out);

/* Full probe of the machine below root ("/" for the real one). NULL only on allocation failure. */
struct al_hw_report *al_hw_probe(const char *root);

/* Same, with recorded syscall outcomes instead of trying them. */
struct al_hw_report *al_hw_probe_with(const char *root, const struct al_hw_syscalls *sc);

/* Same, for another architecture's CPU items (a fake tree of that architecture's files). */
struct al_hw_report *al_hw_probe_arch(const char *root, const struct al_hw_syscalls *sc, enum al_hw_arch arch);

void al_hw_report_free(struct al_hw_report *r);

const struct al_hw_item *al_hw_report_find(const struct al_hw_report *r, const char *id);

/* Renders the report as a table; colour only when asked (a TTY). */
void al_hw_report_print(const struct al_hw_report *r, FILE *f, bool colour);

/* The report as JSON (schema in docs/check.md); caller owns the reference. */
json_t *al_hw_report_json(const struct al_hw_report *r);

/*
 * Checks that every id in required[] is present (PARTIAL counts as missing).
 * Names each missing one on err (if not NULL). Returns the number missing,
 * or -EINVAL if an id is unknown (also named on err).
 */
int al_hw_report_require(const struct al_hw_report *r, const char *const *required, size_t n, FILE *err);

/* The built-in list of required features used when no configuration says otherwise. */
extern const char *const al_hw_default_required[];
extern const size_t al_hw_default_required_len;

const char *al_hw_state_name(enum al_hw_state s);
const char *al_hw_kind_name(enum al_hw_kind k);

#endif
