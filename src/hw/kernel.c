/*
 * Kernel features: tried for real in throwaway children where no file can
 * tell (al_hw_probe_syscalls), then interpreted together with the files that
 * can (cgroups, resctrl, LSM list, hardening sysctls).
 */
#include "hw/probe.h"

#include <sys/auxv.h>

#include <errno.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif
#ifndef PR_SPEC_L1D_FLUSH
#define PR_SPEC_L1D_FLUSH 2
#endif
#ifndef PR_SCHED_CORE
#define PR_SCHED_CORE 62
#define PR_SCHED_CORE_GET 0
#endif
#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

/* ---- trying the calls ------------------------------------------------ */

static int allow_all_filter(unsigned flags)
{
	struct sock_filter insn = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = {.len = 1, .filter = &insn};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	return rc < 0 ? -errno : 0;
}

static int try_userns(void) { return unshare(CLONE_NEWUSER) < 0 ? -errno : 0; }

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = al_write_all(fd, s, strlen(s));
	close(fd);
	return rc;
}

/* The second namespace needs our ids mapped in the first, as a domain's would be. */
static int try_userns_nested(void)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (unshare(CLONE_NEWUSER) < 0)
		return -errno;
	int rc;
	snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
	if ((rc = write_str("/proc/self/uid_map", map)) < 0)
		return rc;
	if ((rc = write_str("/proc/self/setgroups", "deny")) < 0)
		return rc;
	snprintf(map, sizeof map, "0 %u 1\n", (unsigned)gid);
	if ((rc = write_str("/proc/self/gid_map", map)) < 0)
		return rc;
	return unshare(CLONE_NEWUSER) < 0 ? -errno : 0;
}

static int try_seccomp_filter(void) { return allow_all_filter(0); }
static int try_seccomp_notify(void) { return allow_all_filter(SECCOMP_FILTER_FLAG_NEW_LISTENER) < 0 ? -errno : 0; }
static int try_seccomp_tsync(void) { return allow_all_filter(SECCOMP_FILTER_FLAG_TSYNC); }

static int try_landlock(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return abi < 0 ? -errno : (int)abi;
}

static int try_clone3_pidfd(void)
{
	int pidfd = -1;
	struct clone_args args = {
		.flags = CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)&pidfd,
		.exit_signal = SIGCHLD,
	};
	long pid = syscall(SYS_clone3, &args, sizeof args);
	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(0);
	waitpid((pid_t)pid, NULL, 0);
	if (pidfd < 0)
		return -EBADF;
	close(pidfd);
	return 0;
}

static int try_mdwe(void)
{
	return prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) < 0 ? -errno : 0;
}

static int spec_get(unsigned long which)
{
	int rc = prctl(PR_GET_SPECULATION_CTRL, which, 0, 0, 0);
	return rc < 0 ? -errno : rc;
}

static int try_spec_ssb(void) { return spec_get(PR_SPEC_STORE_BYPASS); }
static int try_spec_ib(void) { return spec_get(PR_SPEC_INDIRECT_BRANCH); }
static int try_spec_l1d(void) { return spec_get(PR_SPEC_L1D_FLUSH); }

static int try_memfd_secret(void)
{
	long fd = syscall(SYS_memfd_secret, 0);
	if (fd < 0)
		return -errno;
	close((int)fd);
	return 0;
}

static int try_memfd_seal(void)
{
	int fd = memfd_create("al-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	int rc = fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ? -errno : 0;
	if (rc == 0 && fcntl(fd, F_GET_SEALS) != (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		rc = -EINVAL;
	close(fd);
	return rc;
}

static int try_sched_core(void)
{
	unsigned long cookie = 0;
	/* PIDTYPE_PID is 0 */
	return prctl(PR_SCHED_CORE, PR_SCHED_CORE_GET, 0, 0, &cookie) < 0 ? -errno : 0;
}

/*
 * Runs fn in a fresh child so whatever it changes (namespaces, filters, MDWE)
 * dies with the child. The result crosses back through a pipe; a child that
 * dies without answering reports -ECHILD.
 */
static int in_child(int (*fn)(void))
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(p[0]);
		close(p[1]);
		return e;
	}
	if (pid == 0) {
		close(p[0]);
		int rc = fn();
		ssize_t w = write(p[1], &rc, sizeof rc);
		_exit(w == (ssize_t)sizeof rc ? 0 : 1);
	}
	close(p[1]);
	int rc = -ECHILD;
	ssize_t n;
	do
		n = read(p[0], &rc, sizeof rc);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof rc)
		rc = -ECHILD;
	close(p[0]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return rc;
}

void al_hw_probe_syscalls(struct al_hw_syscalls *sc)
{
	sc->userns = in_child(try_userns);
	sc->userns_nested = in_child(try_userns_nested);
	sc->seccomp_filter = in_child(try_seccomp_filter);
	sc->seccomp_notify = in_child(try_seccomp_notify);
	sc->seccomp_tsync = in_child(try_seccomp_tsync);
	sc->landlock_abi = in_child(try_landlock);
	sc->clone3_pidfd = in_child(try_clone3_pidfd);
	sc->mdwe = in_child(try_mdwe);
	sc->spec_store_bypass = in_child(try_spec_ssb);
	sc->spec_indirect_branch = in_child(try_spec_ib);
	sc->spec_l1d_flush = in_child(try_spec_l1d);
	sc->memfd_secret = in_child(try_memfd_secret);
	sc->memfd_seal = in_child(try_memfd_seal);
	sc->sched_core = in_child(try_sched_core);
	sc->hwcap = getauxval(AT_HWCAP);
	sc->hwcap2 = getauxval(AT_HWCAP2);
}

/* ---- interpreting ----------------------------------------------------- */

static const char *rc_text(int rc, char *buf, size_t len)
{
	if (rc >= 0)
		snprintf(buf, len, "%d", rc);
	else
		snprintf(buf, len, "-1 %s (%s)", strerrorname_np(-rc) ? strerrorname_np(-rc) : "?", strerror(-rc));
	return buf;
}

static void call_item(struct al_hw_report *r, const char *id, const char *call, int rc,
		      const char *use, const char *fallback)
{
	char b[128];
	struct al_hw_item *it = hw_item_add(r, id, AL_HW_KIND_KERNEL, use, fallback);
	hw_item_set(it, rc >= 0 ? AL_HW_PRESENT : AL_HW_ABSENT, rc >= 0 ? "works" : "refused",
		    "%s = %s", call, rc_text(rc, b, sizeof b));
}

static void probe_userns(struct al_hw_report *r, const struct al_hw_syscalls *sc)
{
	char b[128];
	long max = -1;
	int mrc = hw_read_int(r, "proc/sys/user/max_user_namespaces", &max);
	struct al_hw_item *it = hw_item_add(r, "kernel.userns", AL_HW_KIND_KERNEL,
		"each domain in its own user namespace: root inside, unprivileged outside",
		"refuse to start (required)");
	if (sc->userns >= 0)
		hw_item_set(it, AL_HW_PRESENT, "works", "unshare(CLONE_NEWUSER) = 0 in a child; max_user_namespaces %s",
			    mrc == 0 ? (snprintf(b, sizeof b, "%ld", max), b) : "unreadable");
	else
		hw_item_set(it, AL_HW_ABSENT, max == 0 ? "disabled (max_user_namespaces 0)" : "refused",
			    "unshare(CLONE_NEWUSER) = %s", rc_text(sc->userns, b, sizeof b));
	call_item(r, "kernel.userns_nested", "unshare(CLONE_NEWUSER) twice", sc->userns_nested,
		  "detects whether a domain could nest namespaces (seccomp forbids it)",
		  "nothing to do: nesting is denied by seccomp either way");
}

static void probe_seccomp(struct al_hw_report *r, const struct al_hw_syscalls *sc)
{
	char *actions = NULL;
	bool notif_listed = false;
	if (hw_read(r, "proc/sys/kernel/seccomp/actions_avail", &actions) == 0) {
		notif_listed = strstr(actions, "user_notif") != NULL;
		actions[strcspn(actions, "\n")] = '\0';
	}
	call_item(r, "kernel.seccomp_filter", "seccomp(SET_MODE_FILTER, allow-all)", sc->seccomp_filter,
		  "syscall allowlist per domain (stage 1 before exec, stage 2 in the worker)",
		  "refuse to start (required)");
	call_item(r, "kernel.seccomp_notify", "seccomp(SET_MODE_FILTER, NEW_LISTENER)", sc->seccomp_notify,
		  "forbidden syscalls reported to the supervisor at the notify level",
		  "the notify action falls back to kill");
	struct al_hw_item *n = &r->items[r->n_items - 1];
	if (actions) {
		size_t l = strlen(n->evidence);
		snprintf(n->evidence + l, sizeof n->evidence - l, "; actions_avail: %s%s", actions,
			 notif_listed ? "" : " (no user_notif)");
	}
	call_item(r, "kernel.seccomp_tsync", "seccomp(SET_MODE_FILTER, TSYNC)", sc->seccomp_tsync,
		  "stage-2 filter applied to every thread of a worker at once",
		  "workers install their filter before starting threads");
	free(actions);
}

static void probe_landlock(struct al_hw_report *r, const struct al_hw_syscalls *sc)
{
	char b[128], v[128];
	struct al_hw_item *it = hw_item_add(r, "kernel.landlock", AL_HW_KIND_KERNEL,
		"filesystem rules (ABI 1+), network deny-all (ABI 4+), socket and signal scoping (ABI 6+)",
		"filesystem confinement relies on the mount namespace and seccomp alone");
	int abi = sc->landlock_abi;
	if (abi >= 4)
		snprintf(v, sizeof v, "ABI %d: fs, net%s", abi, abi >= 6 ? ", scoping" : "");
	else if (abi >= 1)
		snprintf(v, sizeof v, "ABI %d: fs only", abi);
	else
		snprintf(v, sizeof v, "unavailable");
	enum al_hw_state st = abi >= 4 ? AL_HW_PRESENT : abi >= 1 ? AL_HW_PARTIAL : AL_HW_ABSENT;
	hw_item_set(it, st, v, "landlock_create_ruleset(VERSION) = %s", rc_text(abi, b, sizeof b));

	/* The LSM list, where securityfs is mounted, must agree with the probe. */
	char *lsm = NULL;
	struct al_hw_item *li = hw_item_add(r, "kernel.lsm", AL_HW_KIND_KERNEL,
		"shows which security modules are active (Landlock must be among them)",
		"the Landlock probe above is the evidence instead");
	char path[512];
	hw_path(r, "sys/kernel/security/lsm", path, sizeof path);
	int rc = hw_read(r, "sys/kernel/security/lsm", &lsm);
	if (rc == 0) {
		lsm[strcspn(lsm, "\n")] = '\0';
		bool listed = strstr(lsm, "landlock") != NULL;
		hw_item_set(li, listed == (abi >= 1) ? AL_HW_PRESENT : AL_HW_PARTIAL, lsm,
			    "%s%s", path, listed == (abi >= 1) ? "" : " disagrees with the Landlock probe");
	} else {
		hw_item_set(li, AL_HW_ABSENT, "securityfs not mounted", "%s: %s", path, strerror(-rc));
	}
	free(lsm);
}

static void probe_speculation(struct al_hw_report *r, const struct al_hw_syscalls *sc)
{
	static const struct {
		const char *id, *name;
		const char *use, *fallback;
		size_t off;
	} kinds[] = {
		{"kernel.spec_store_bypass", "PR_SPEC_STORE_BYPASS",
		 "store bypass force-disabled for each domain", "reported; the CPU state is shown above",
		 offsetof(struct al_hw_syscalls, spec_store_bypass)},
		{"kernel.spec_indirect_branch", "PR_SPEC_INDIRECT_BRANCH",
		 "indirect branch speculation force-disabled for each domain", "reported; domains pinned apart",
		 offsetof(struct al_hw_syscalls, spec_indirect_branch)},
		{"kernel.spec_l1d_flush", "PR_SPEC_L1D_FLUSH",
		 "L1D flushed when a domain is switched out (needs l1d_flush=on)", "reported; domains pinned apart",
		 offsetof(struct al_hw_syscalls, spec_l1d_flush)},
	};
	for (size_t i = 0; i < AL_ARRAY_LEN(kinds); i++) {
		int flags = *(const int *)((const char *)sc + kinds[i].off);
		struct al_hw_item *it = hw_item_add(r, kinds[i].id, AL_HW_KIND_KERNEL, kinds[i].use, kinds[i].fallback);
		char b[128];
		enum al_hw_state st;
		const char *v;
		if (flags < 0) {
			st = AL_HW_ABSENT;
			v = "not supported by the kernel";
		} else if (flags & PR_SPEC_PRCTL) {
			st = AL_HW_PRESENT;
			v = "per-task control";
		} else if (flags == PR_SPEC_NOT_AFFECTED) {
			st = AL_HW_PRESENT;
			v = "CPU not affected";
		} else if (flags & (PR_SPEC_DISABLE | PR_SPEC_FORCE_DISABLE)) {
			/* For L1D flush, FORCE_DISABLE means the flush is not offered at all. */
			st = i == 2 ? AL_HW_ABSENT : AL_HW_PRESENT;
			v = i == 2 ? "not offered (boot without l1d_flush=on)" : "disabled system-wide";
		} else {
			st = AL_HW_ABSENT;
			v = "enabled, not controllable";
		}
		hw_item_set(it, st, v, "prctl(PR_GET_SPECULATION_CTRL, %s) = %s", kinds[i].name,
			    rc_text(flags, b, sizeof b));
	}
}

/* Finds the mount point of a cgroup hierarchy in mountinfo: v2 (ctrl NULL) or the v1 one carrying ctrl. */
static bool cgroup_mount(const char *mountinfo, const char *ctrl, char *mnt, size_t len)
{
	const char *line = mountinfo;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t ll = nl ? (size_t)(nl - line) : strlen(line);
		char buf[1024];
		if (ll < sizeof buf) {
			memcpy(buf, line, ll);
			buf[ll] = '\0';
			/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
			char *sep = strstr(buf, " - ");
			char f_root[256], f_mnt[256], fstype[64], source[128], superopts[512];
			if (sep && sscanf(buf, "%*s %*s %*s %255s %255s", f_root, f_mnt) == 2 &&
			    sscanf(sep + 3, "%63s %127s %511s", fstype, source, superopts) == 3) {
				bool match = false;
				if (!ctrl)
					match = strcmp(fstype, "cgroup2") == 0;
				else if (strcmp(fstype, "cgroup") == 0) {
					for (char *tok = strtok(superopts, ","); tok; tok = strtok(NULL, ","))
						if (strcmp(tok, ctrl) == 0)
							match = true;
				}
				if (match) {
					al_strlcpy(mnt, f_mnt, len);
					return true;
				}
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

/* Our own cgroup path in the hierarchy carrying ctrl (v1) or the unified one (ctrl NULL). */
static bool own_cgroup(const char *selfcg, const char *ctrl, char *path, size_t len)
{
	const char *line = selfcg;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t ll = nl ? (size_t)(nl - line) : strlen(line);
		char buf[512];
		if (ll < sizeof buf) {
			memcpy(buf, line, ll);
			buf[ll] = '\0';
			char *c1 = strchr(buf, ':');
			char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
			if (c2) {
				*c2 = '\0';
				const char *ctrls = c1 + 1;
				bool match = false;
				if (!ctrl)
					match = ctrls[0] == '\0' && strncmp(buf, "0", 1) == 0;
				else
					for (char *tok = strtok(c1 + 1, ","); tok; tok = strtok(NULL, ","))
						if (strcmp(tok, ctrl) == 0)
							match = true;
				if (match) {
					al_strlcpy(path, c2 + 1, len);
					return true;
				}
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

static void probe_cgroups(struct al_hw_report *r)
{
	char *mountinfo = NULL, *selfcg = NULL;
	hw_read(r, "proc/self/mountinfo", &mountinfo);
	hw_read(r, "proc/self/cgroup", &selfcg);

	/* cgroup v2: which controllers our own cgroup's children can use. */
	char v2mnt[256] = "", v2own[256] = "/", v2ctrls[512] = "";
	bool have_v2 = mountinfo && cgroup_mount(mountinfo, NULL, v2mnt, sizeof v2mnt);
	if (have_v2 && selfcg)
		own_cgroup(selfcg, NULL, v2own, sizeof v2own);
	if (strcmp(v2own, "/") == 0)
		v2own[0] = '\0';
	char rel[600], path[700];
	if (have_v2) {
		snprintf(rel, sizeof rel, "%s%s/cgroup.controllers", v2mnt + 1, v2own);
		char *c = NULL;
		if (hw_read(r, rel, &c) == 0) {
			c[strcspn(c, "\n")] = '\0';
			al_strlcpy(v2ctrls, c, sizeof v2ctrls);
			free(c);
		}
	}
	struct al_hw_item *v2 = hw_item_add(r, "kernel.cgroup_v2", AL_HW_KIND_KERNEL,
		"memory, pids and cpu limits and the freezer per domain",
		"cgroup v1 controllers below our own cgroup");
	if (!have_v2)
		hw_item_set(v2, AL_HW_ABSENT, "not mounted", "proc/self/mountinfo: no cgroup2 mount");
	else {
		hw_path(r, rel, path, sizeof path);
		bool full = strstr(v2ctrls, "memory") && strstr(v2ctrls, "pids");
		hw_item_set(v2, full ? AL_HW_PRESENT : v2ctrls[0] ? AL_HW_PARTIAL : AL_HW_ABSENT,
			    v2ctrls[0] ? v2ctrls : "no controllers", "%s", path);
	}

	static const struct {
		const char *id, *v1, *use;
	} ctrls[] = {
		{"kernel.cgroup_memory", "memory", "memory limit per domain (OOM inside the domain only)"},
		{"kernel.cgroup_pids", "pids", "process count limit per domain (fork bombs stop)"},
		{"kernel.cgroup_cpu", "cpu", "CPU share and quota per domain"},
		{"kernel.cgroup_freezer", "freezer", "freeze a misbehaving domain at once"},
	};
	for (size_t i = 0; i < AL_ARRAY_LEN(ctrls); i++) {
		struct al_hw_item *it = hw_item_add(r, ctrls[i].id, AL_HW_KIND_KERNEL, ctrls[i].use,
			i == 3 ? "SIGSTOP instead of the freezer" : i == 2 ? "rlimit CPU time only" :
			i == 1 ? "RLIMIT_NPROC only" : "RLIMIT_AS only");
		/* v2 first: cgroup.freeze needs no controller, the rest must be listed. */
		char v2dir[600], v2full[700];
		snprintf(v2dir, sizeof v2dir, "%s%s", v2mnt + 1, v2own);
		hw_path(r, v2dir, v2full, sizeof v2full);
		bool v2_writable = have_v2 && access(v2full, W_OK) == 0;
		if (v2_writable && (i == 3 || strstr(v2ctrls, ctrls[i].v1))) {
			if (i == 3)
				hw_item_set(it, AL_HW_PRESENT, "cgroup v2", "%s writable (cgroup.freeze needs no controller)", v2full);
			else
				hw_item_set(it, AL_HW_PRESENT, "cgroup v2", "%s lists '%s'", path, ctrls[i].v1);
			continue;
		}
		char mnt[256], own[256] = "/", dir[600], full[700];
		if (mountinfo && cgroup_mount(mountinfo, ctrls[i].v1, mnt, sizeof mnt)) {
			if (selfcg)
				own_cgroup(selfcg, ctrls[i].v1, own, sizeof own);
			if (strcmp(own, "/") == 0)
				own[0] = '\0';
			snprintf(dir, sizeof dir, "%s%s", mnt + 1, own);
			hw_path(r, dir, full, sizeof full);
			bool writable = access(full, W_OK) == 0;
			hw_item_set(it, writable ? AL_HW_PRESENT : AL_HW_PARTIAL,
				    writable ? "cgroup v1, below our own cgroup" : "cgroup v1, not writable",
				    "%s (%s)", full, writable ? "writable" : strerror(errno));
		} else {
			hw_item_set(it, AL_HW_ABSENT, "no controller", "neither the v2 controllers nor a v1 '%s' mount",
				    ctrls[i].v1);
		}
	}

	struct al_hw_item *rc = hw_item_add(r, "kernel.resctrl", AL_HW_KIND_KERNEL,
		"cache (CAT) and memory-bandwidth (MBA) groups per domain",
		"domains share cache and bandwidth; pinned to separate cores instead");
	char mnt[256];
	bool mounted = false;
	if (mountinfo) {
		/* resctrl has its own fstype; reuse the parser with a fake ctrl-less scan. */
		for (const char *p = strstr(mountinfo, " - resctrl "); p && !mounted; p = NULL) {
			const char *ls = p;
			while (ls > mountinfo && ls[-1] != '\n')
				ls--;
			if (sscanf(ls, "%*s %*s %*s %*s %255s", mnt) == 1)
				mounted = true;
		}
	}
	if (!mounted)
		hw_item_set(rc, AL_HW_ABSENT, "not mounted", "proc/self/mountinfo: no resctrl mount");
	else {
		hw_path(r, mnt + 1, path, sizeof path);
		bool w = access(path, W_OK) == 0;
		hw_item_set(rc, w ? AL_HW_PRESENT : AL_HW_PARTIAL, w ? "mounted, writable" : "mounted, read-only",
			    "%s", path);
	}
	free(mountinfo);
	free(selfcg);
}

struct sysctl_rule {
	const char *id, *rel;
	long present_min, partial_min; /* value >= present_min: present; >= partial_min: partial */
	const char *use, *fallback;
};

static const struct sysctl_rule sysctls[] = {
	{"sysctl.io_uring_disabled", "proc/sys/kernel/io_uring_disabled", 2, 1,
	 "io_uring off for everyone (a large kernel attack surface)",
	 "io_uring is denied by every seccomp profile anyway"},
	{"sysctl.unprivileged_bpf_disabled", "proc/sys/kernel/unprivileged_bpf_disabled", 1, 1,
	 "no unprivileged BPF programs", "bpf() is denied by every seccomp profile anyway"},
	{"sysctl.perf_event_paranoid", "proc/sys/kernel/perf_event_paranoid", 2, 1,
	 "no kernel profiling by unprivileged users", "perf_event_open is denied by seccomp anyway"},
	{"sysctl.kptr_restrict", "proc/sys/kernel/kptr_restrict", 1, 1,
	 "kernel pointers hidden from /proc", "domains get no /sys and a hidepid /proc"},
	{"sysctl.dmesg_restrict", "proc/sys/kernel/dmesg_restrict", 1, 1,
	 "kernel log hidden from unprivileged users", "syslog is denied by seccomp anyway"},
	{"sysctl.yama_ptrace_scope", "proc/sys/kernel/yama/ptrace_scope", 1, 1,
	 "ptrace limited to descendants", "ptrace is denied by seccomp and pid namespaces anyway"},
};

static void probe_sysctls(struct al_hw_report *r)
{
	for (size_t i = 0; i < AL_ARRAY_LEN(sysctls); i++) {
		const struct sysctl_rule *s = &sysctls[i];
		struct al_hw_item *it = hw_item_add(r, s->id, AL_HW_KIND_SYSCTL, s->use, s->fallback);
		char path[512], v[32];
		hw_path(r, s->rel, path, sizeof path);
		long val;
		int rc = hw_read_int(r, s->rel, &val);
		if (rc < 0) {
			hw_item_set(it, AL_HW_ABSENT, rc == -ENOENT ? "no such setting" : "unreadable",
				    "%s: %s", path, strerror(-rc));
			continue;
		}
		snprintf(v, sizeof v, "%ld", val);
		hw_item_set(it, val >= s->present_min ? AL_HW_PRESENT : val >= s->partial_min ? AL_HW_PARTIAL : AL_HW_ABSENT,
			    v, "%s line 1: %ld", path, val);
	}
}

void hw_probe_kernel(struct al_hw_report *r, const struct al_hw_syscalls *sc)
{
	probe_userns(r, sc);
	probe_seccomp(r, sc);
	probe_landlock(r, sc);
	call_item(r, "kernel.clone3_pidfd", "clone3(CLONE_PIDFD)", sc->clone3_pidfd,
		  "domains spawned with a pidfd: no pid reuse race when watching or signalling",
		  "refuse to start (required)");
	call_item(r, "kernel.mdwe", "prctl(PR_SET_MDWE, REFUSE_EXEC_GAIN)", sc->mdwe,
		  "no memory in a domain can become executable after start",
		  "seccomp refuses PROT_EXEC on mmap/mprotect instead");
	probe_speculation(r, sc);
	call_item(r, "kernel.memfd_secret", "memfd_secret(0)", sc->memfd_secret,
		  "keys held in memory removed from the kernel's direct map",
		  "keys held in ordinary locked memory");
	call_item(r, "kernel.memfd_seal", "memfd_create(ALLOW_SEALING) + F_ADD_SEALS", sc->memfd_seal,
		  "the channel's shared memory sealed: a peer cannot shrink or grow it",
		  "refuse to start: the channel needs sealed memory");
	call_item(r, "kernel.sched_core", "prctl(PR_SCHED_CORE, GET)", sc->sched_core,
		  "core scheduling cookie: domains never share an SMT core",
		  "domains pinned to separate cores where there are enough");
	probe_cgroups(r);
	probe_sysctls(r);
}
