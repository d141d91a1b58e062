/*
 * The prober against fake /proc and /sys trees (present and absent paths of
 * every item, with recorded syscall outcomes), and once against this machine
 * for internal consistency.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "hw/hw.h"
#include "emulated.h"
#include "testdir.h"

static char present_root[64], absent_root[64], arm_present_root[64], arm_absent_root[64];

static void put(const char *root, const char *rel, const char *content)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	/* mkdir -p of the parent */
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	if (content) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(al_write_all(fd, content, strlen(content)), 0);
		close(fd);
	} else {
		mkdir(path, 0755);
	}
}

static const char *all_flags =
	"fpu vme de pse smep smap umip pku ospke user_shstk ibt ibrs ibpb stibp ssbd md_clear flush_l1d rdt_a cat_l3 mba";

/* The x86 files: its cpuinfo flags lines and vulnerability files. */
static void put_x86_files(const char *r, bool present, const char *cpuinfo)
{
	if (present) {
		put(r, "proc/cpuinfo", cpuinfo);
		put(r, "sys/devices/system/cpu/vulnerabilities/meltdown", "Not affected\n");
		put(r, "sys/devices/system/cpu/vulnerabilities/spectre_v2", "Mitigation: Enhanced / Automatic IBRS; IBPB: conditional\n");
		put(r, "sys/devices/system/cpu/vulnerabilities/mds", "Mitigation: Clear CPU buffers; SMT disabled\n");
		return;
	}
	put(r, "proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu vme de pse\n\nprocessor\t: 1\nflags\t\t: fpu vme de pse smep\n\n");
	put(r, "sys/devices/system/cpu/vulnerabilities/meltdown", "Vulnerable\n");
	put(r, "sys/devices/system/cpu/vulnerabilities/spectre_v2", "Mitigation: Retpolines; BHI: Vulnerable\n");
	put(r, "sys/devices/system/cpu/vulnerabilities/mds", "Vulnerable: Clear CPU buffers attempted, no microcode\n");
}

/*
 * The arm64 files: cpuinfo Features and CPU architecture lines, the kernel's
 * release and build configuration (PAN), and arm64's vulnerability files.
 */
static void put_arm64_files(const char *r, bool present)
{
	if (present) {
		put(r, "proc/cpuinfo",
		    "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 "
		    "atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs sb paca pacg dcpodp flagm2 frint bti "
		    "mte mte3\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\n"
		    "CPU part\t: 0xd4f\nCPU revision\t: 0\n\n"
		    "processor\t: 1\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 "
		    "atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs sb paca pacg dcpodp flagm2 frint bti "
		    "mte mte3\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\n"
		    "CPU part\t: 0xd4f\nCPU revision\t: 0\n\n");
		put(r, "proc/sys/kernel/osrelease", "6.1.0-99-arm64\n");
		put(r, "boot/config-6.1.0-99-arm64",
		    "CONFIG_ARM64=y\nCONFIG_ARM64_PAN=y\nCONFIG_ARM64_SW_TTBR0_PAN=y\nCONFIG_ARM64_BTI=y\n");
		put(r, "sys/devices/system/cpu/vulnerabilities/meltdown", "Not affected\n");
		put(r, "sys/devices/system/cpu/vulnerabilities/spectre_v1", "Mitigation: __user pointer sanitization\n");
		put(r, "sys/devices/system/cpu/vulnerabilities/spectre_v2", "Mitigation: CSV2, BHB\n");
		put(r, "sys/devices/system/cpu/vulnerabilities/spec_store_bypass",
		    "Mitigation: Speculative Store Bypass disabled via prctl\n");
		return;
	}
	/* A Cortex-A72 kind of machine: no BTI, PAC, MTE, SSBS or SB; here
	 * CPU 0 claims BTI alone, and PAC is listed but not enabled. */
	put(r, "proc/cpuinfo",
	    "processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid bti paca\nCPU architecture: 7\n\n"
	    "processor\t: 1\nFeatures\t: fp asimd evtstrm crc32 cpuid paca\nCPU architecture: 8\n\n");
	put(r, "proc/sys/kernel/osrelease", "6.1.0-99-arm64\n");
	put(r, "boot/config-6.1.0-99-arm64", "CONFIG_ARM64=y\n# CONFIG_ARM64_PAN is not set\n");
	put(r, "sys/devices/system/cpu/vulnerabilities/meltdown", "Not affected\n");
	put(r, "sys/devices/system/cpu/vulnerabilities/spectre_v2", "Vulnerable\n");
	put(r, "sys/devices/system/cpu/vulnerabilities/spec_store_bypass", "Vulnerable\n");
}

/* The kernel's files, the same on every architecture. */
static void put_kernel_files(const char *r, bool present)
{
	if (present) {
		put(r, "proc/sys/user/max_user_namespaces", "1000\n");
		put(r, "proc/sys/kernel/seccomp/actions_avail", "kill_process kill_thread trap errno user_notif trace log allow\n");
		put(r, "sys/kernel/security/lsm", "lockdown,capability,landlock,yama\n");
		put(r, "proc/self/mountinfo",
		    "30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
		    "40 1 0:40 / /sys/fs/resctrl rw,relatime - resctrl resctrl rw\n");
		put(r, "proc/self/cgroup", "0::/user.slice\n");
		put(r, "sys/fs/cgroup/user.slice/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
		put(r, "sys/fs/resctrl/info", NULL);
		put(r, "proc/sys/kernel/io_uring_disabled", "2\n");
		put(r, "proc/sys/kernel/unprivileged_bpf_disabled", "1\n");
		put(r, "proc/sys/kernel/perf_event_paranoid", "3\n");
		put(r, "proc/sys/kernel/kptr_restrict", "2\n");
		put(r, "proc/sys/kernel/dmesg_restrict", "1\n");
		put(r, "proc/sys/kernel/yama/ptrace_scope", "1\n");
		return;
	}
	put(r, "proc/sys/user/max_user_namespaces", "0\n");
	put(r, "sys/kernel/security/lsm", "lockdown,capability,landlock\n");
	put(r, "proc/self/mountinfo", "22 1 0:21 / /proc rw - proc proc rw\n");
	put(r, "proc/self/cgroup", "0::/\n");
	put(r, "proc/sys/kernel/io_uring_disabled", "0\n");
	put(r, "proc/sys/kernel/unprivileged_bpf_disabled", "0\n");
	put(r, "proc/sys/kernel/perf_event_paranoid", "-1\n");
	put(r, "proc/sys/kernel/kptr_restrict", "0\n");
	put(r, "proc/sys/kernel/dmesg_restrict", "0\n");
}

static int make_trees(void **state)
{
	(void)state;
	strcpy(present_root, "/tmp/al_hw_present_XXXXXX");
	strcpy(absent_root, "/tmp/al_hw_absent_XXXXXX");
	assert_non_null(mkdtemp(present_root));
	assert_non_null(mkdtemp(absent_root));
	strcpy(arm_present_root, "/tmp/al_hw_arm_present_XXXXXX");
	strcpy(arm_absent_root, "/tmp/al_hw_arm_absent_XXXXXX");
	assert_non_null(mkdtemp(arm_present_root));
	assert_non_null(mkdtemp(arm_absent_root));
	char cpuinfo[2048];
	snprintf(cpuinfo, sizeof cpuinfo,
		 "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: %s\n\n"
		 "processor\t: 1\nvendor_id\t: GenuineIntel\nflags\t\t: %s\n\n", all_flags, all_flags);
	put_x86_files(present_root, true, cpuinfo);
	put_kernel_files(present_root, true);
	put_x86_files(absent_root, false, NULL);
	put_kernel_files(absent_root, false);
	put_arm64_files(arm_present_root, true);
	put_kernel_files(arm_present_root, true);
	put_arm64_files(arm_absent_root, false);
	put_kernel_files(arm_absent_root, false);
	return 0;
}

static int remove_trees(void **state)
{
	(void)state;
	return t_rmtree(present_root) == 0 && t_rmtree(absent_root) == 0 && t_rmtree(arm_present_root) == 0 &&
			       t_rmtree(arm_absent_root) == 0
		       ? 0
		       : -1;
}

static const struct al_hw_syscalls sc_present = {
	.userns = 0, .userns_nested = 0, .seccomp_filter = 0, .seccomp_notify = 0,
	.seccomp_tsync = 0, .landlock_abi = 6, .clone3_pidfd = 0, .mdwe = 0,
	.spec_store_bypass = PR_SPEC_PRCTL | PR_SPEC_ENABLE,
	.spec_indirect_branch = PR_SPEC_PRCTL | PR_SPEC_ENABLE,
	.spec_l1d_flush = PR_SPEC_PRCTL | PR_SPEC_ENABLE,
	.memfd_secret = 0, .memfd_seal = 0, .sched_core = 0,
};

static const struct al_hw_syscalls sc_absent = {
	.userns = -EPERM, .userns_nested = -EPERM, .seccomp_filter = -EINVAL, .seccomp_notify = -EINVAL,
	.seccomp_tsync = -EINVAL, .landlock_abi = -EOPNOTSUPP, .clone3_pidfd = -ENOSYS, .mdwe = -EINVAL,
	.spec_store_bypass = PR_SPEC_ENABLE, .spec_indirect_branch = -EINVAL,
	.spec_l1d_flush = PR_SPEC_FORCE_DISABLE, .memfd_secret = -ENOSYS, .memfd_seal = -EINVAL, .sched_core = -EINVAL,
};

static enum al_hw_state state_of(const struct al_hw_report *r, const char *id)
{
	const struct al_hw_item *it = al_hw_report_find(r, id);
	if (!it)
		fail_msg("item %s missing from the report", id);
	return it->state;
}

/* Every item the prober knows, except vulnerabilities (one per file). */
static const char *const all_ids[] = {
	"cpu.smep", "cpu.smap", "cpu.umip", "cpu.pku", "cpu.shstk", "cpu.ibt", "cpu.ibrs", "cpu.ibpb",
	"cpu.stibp", "cpu.ssbd", "cpu.md_clear", "cpu.flush_l1d", "cpu.rdt_a", "cpu.cat_l3", "cpu.mba",
	"kernel.userns", "kernel.userns_nested", "kernel.seccomp_filter", "kernel.seccomp_notify",
	"kernel.seccomp_tsync", "kernel.landlock", "kernel.lsm", "kernel.clone3_pidfd", "kernel.mdwe",
	"kernel.spec_store_bypass", "kernel.spec_indirect_branch", "kernel.spec_l1d_flush",
	"kernel.memfd_secret", "kernel.memfd_seal", "kernel.sched_core", "kernel.cgroup_v2", "kernel.cgroup_memory",
	"kernel.cgroup_pids", "kernel.cgroup_cpu", "kernel.cgroup_freezer", "kernel.resctrl",
	"sysctl.io_uring_disabled", "sysctl.unprivileged_bpf_disabled", "sysctl.perf_event_paranoid",
	"sysctl.kptr_restrict", "sysctl.dmesg_restrict", "sysctl.yama_ptrace_scope",
};

static void test_present_tree(void **state)
{
	(void)state;
	struct al_hw_report *r = al_hw_probe_arch(present_root, &sc_present, AL_HW_ARCH_X86_64);
	assert_non_null(r);
	for (size_t i = 0; i < AL_ARRAY_LEN(all_ids); i++) {
		enum al_hw_state s = state_of(r, all_ids[i]);
		if (s != AL_HW_PRESENT)
			fail_msg("%s should be present, is %s: %s", all_ids[i], al_hw_state_name(s),
				 al_hw_report_find(r, all_ids[i])->evidence);
	}
	assert_int_equal(state_of(r, "vuln.meltdown"), AL_HW_PRESENT);
	assert_int_equal(state_of(r, "vuln.spectre_v2"), AL_HW_PRESENT);
	assert_string_equal(al_hw_report_find(r, "vuln.spectre_v2")->value,
			    "Enhanced / Automatic IBRS; IBPB: conditional");
	assert_string_equal(al_hw_report_find(r, "kernel.landlock")->value, "ABI 6: fs, net, scoping");
	assert_int_equal(al_hw_report_require(r, al_hw_default_required, al_hw_default_required_len, NULL), 0);
	al_hw_report_free(r);
}

static void test_absent_tree(void **state)
{
	(void)state;
	struct al_hw_report *r = al_hw_probe_arch(absent_root, &sc_absent, AL_HW_ARCH_X86_64);
	assert_non_null(r);
	for (size_t i = 0; i < AL_ARRAY_LEN(all_ids); i++) {
		enum al_hw_state s = state_of(r, all_ids[i]);
		/* smep is on one CPU of two: partial. The LSM list disagrees with the probe: partial. */
		enum al_hw_state want = strcmp(all_ids[i], "cpu.smep") == 0 || strcmp(all_ids[i], "kernel.lsm") == 0
						? AL_HW_PARTIAL : AL_HW_ABSENT;
		if (s != want)
			fail_msg("%s should be %s, is %s: %s", all_ids[i], al_hw_state_name(want),
				 al_hw_state_name(s), al_hw_report_find(r, all_ids[i])->evidence);
	}
	assert_int_equal(state_of(r, "vuln.meltdown"), AL_HW_ABSENT);
	assert_int_equal(state_of(r, "vuln.spectre_v2"), AL_HW_PARTIAL);
	assert_int_equal(state_of(r, "vuln.mds"), AL_HW_ABSENT);
	assert_string_equal(al_hw_report_find(r, "kernel.userns")->value, "disabled (max_user_namespaces 0)");
	assert_non_null(strstr(al_hw_report_find(r, "kernel.clone3_pidfd")->evidence, "ENOSYS"));
	assert_non_null(strstr(al_hw_report_find(r, "sysctl.yama_ptrace_scope")->evidence, "No such file"));
	/* Every default requirement is missing and named. */
	char *buf = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&buf, &len);
	int missing = al_hw_report_require(r, al_hw_default_required, al_hw_default_required_len, err);
	fclose(err);
	assert_int_equal(missing, (int)al_hw_default_required_len);
	for (size_t i = 0; i < al_hw_default_required_len; i++)
		assert_non_null(strstr(buf, al_hw_default_required[i]));
	free(buf);
	al_hw_report_free(r);
}

static void test_partial_states(void **state)
{
	(void)state;
	struct al_hw_syscalls sc = sc_present;
	sc.landlock_abi = 3;
	sc.spec_store_bypass = PR_SPEC_NOT_AFFECTED;
	struct al_hw_report *r = al_hw_probe_arch(present_root, &sc, AL_HW_ARCH_X86_64);
	assert_int_equal(state_of(r, "kernel.landlock"), AL_HW_PARTIAL);
	assert_int_equal(state_of(r, "kernel.spec_store_bypass"), AL_HW_PRESENT);
	assert_string_equal(al_hw_report_find(r, "kernel.spec_store_bypass")->value, "CPU not affected");
	al_hw_report_free(r);
}

static void test_missing_root(void **state)
{
	(void)state;
	/* A root with nothing in it: every file item absent, nothing crashes. */
	struct al_hw_report *r = al_hw_probe_arch("/nonexistent-airlock-root", &sc_present, AL_HW_ARCH_X86_64);
	assert_int_equal(state_of(r, "cpu.smep"), AL_HW_ABSENT);
	assert_int_equal(state_of(r, "vuln.report"), AL_HW_ABSENT);
	assert_int_equal(state_of(r, "kernel.cgroup_memory"), AL_HW_ABSENT);
	assert_int_equal(state_of(r, "sysctl.kptr_restrict"), AL_HW_ABSENT);
	al_hw_report_free(r);
}

static void test_unknown_required(void **state)
{
	(void)state;
	struct al_hw_report *r = al_hw_probe_arch(present_root, &sc_present, AL_HW_ARCH_X86_64);
	const char *req[] = {"kernel.userns", "kernel.no_such_thing"};
	assert_int_equal(al_hw_report_require(r, req, 2, NULL), -EINVAL);
	al_hw_report_free(r);
}

static const char *const arm64_cpu_ids[] = {
	"cpu.pan", "cpu.pxn", "cpu.bti", "cpu.pac", "cpu.mte", "cpu.ssbs", "cpu.sb",
};

/* hwcap bits (arch/arm64/include/uapi/asm/hwcap.h) */
#define T_HWCAP_SSBS (1UL << 28)
#define T_HWCAP_SB (1UL << 29)
#define T_HWCAP_PACA (1UL << 30)
#define T_HWCAP2_BTI (1UL << 17)
#define T_HWCAP2_MTE (1UL << 18)

/* The arm64 probe on an arm64 machine's files: the CPU items are arm64's, the
 * kernel items are the same as x86's, and so is the fail-closed required set. */
static void test_arm64_present_tree(void **state)
{
	(void)state;
	struct al_hw_syscalls sc = sc_present;
	sc.hwcap = T_HWCAP_SSBS | T_HWCAP_SB | T_HWCAP_PACA;
	sc.hwcap2 = T_HWCAP2_BTI | T_HWCAP2_MTE;
	struct al_hw_report *r = al_hw_probe_arch(arm_present_root, &sc, AL_HW_ARCH_AARCH64);
	assert_non_null(r);
	for (size_t i = 0; i < AL_ARRAY_LEN(arm64_cpu_ids); i++) {
		enum al_hw_state st = state_of(r, arm64_cpu_ids[i]);
		if (st != AL_HW_PRESENT)
			fail_msg("%s should be present, is %s: %s", arm64_cpu_ids[i], al_hw_state_name(st),
				 al_hw_report_find(r, arm64_cpu_ids[i])->evidence);
	}
	for (size_t i = 0; i < AL_ARRAY_LEN(all_ids); i++) {
		if (strncmp(all_ids[i], "cpu.", 4) == 0)
			assert_null(al_hw_report_find(r, all_ids[i])); /* no x86 item on arm64 */
		else if (state_of(r, all_ids[i]) != AL_HW_PRESENT)
			fail_msg("%s should be present", all_ids[i]);
	}
	assert_non_null(strstr(al_hw_report_find(r, "cpu.bti")->evidence, "(Features) on all 2 CPUs"));
	assert_non_null(strstr(al_hw_report_find(r, "cpu.bti")->evidence, "AT_HWCAP2"));
	assert_non_null(strstr(al_hw_report_find(r, "cpu.pan")->evidence, "CONFIG_ARM64_SW_TTBR0_PAN=y"));
	assert_int_equal(state_of(r, "vuln.spectre_v2"), AL_HW_PRESENT);
	assert_string_equal(al_hw_report_find(r, "vuln.spectre_v2")->value, "CSV2, BHB");
	assert_int_equal(state_of(r, "vuln.spec_store_bypass"), AL_HW_PRESENT);
	assert_int_equal(al_hw_report_require(r, al_hw_default_required, al_hw_default_required_len, NULL), 0);
	/* An x86 protection required of an arm64 machine: unknown there, refused. */
	const char *req[] = { "kernel.userns", "cpu.smep" };
	assert_int_equal(al_hw_report_require(r, req, 2, NULL), -EINVAL);
	json_t *j = al_hw_report_json(r);
	assert_string_equal(json_string_value(json_object_get(j, "arch")), "aarch64");
	json_decref(j);
	al_hw_report_free(r);
}

static void test_arm64_absent_tree(void **state)
{
	(void)state;
	struct al_hw_syscalls sc = sc_absent;
	sc.hwcap = T_HWCAP_SSBS; /* enabled, yet named on no CPU's line: partial */
	sc.hwcap2 = 0;
	struct al_hw_report *r = al_hw_probe_arch(arm_absent_root, &sc, AL_HW_ARCH_AARCH64);
	assert_non_null(r);
	static const struct {
		const char *id;
		enum al_hw_state want;
		const char *evidence;
	} want[] = {
		{ "cpu.pan", AL_HW_ABSENT, "neither CONFIG_ARM64_PAN" },
		{ "cpu.pxn", AL_HW_ABSENT, "1 of 2 CPUs say 8" },
		{ "cpu.bti", AL_HW_PARTIAL, "AT_HWCAP2): bit clear" },     /* CPU 0 only */
		{ "cpu.pac", AL_HW_PARTIAL, "on all 2 CPUs; getauxval(AT_HWCAP): bit clear" },
		{ "cpu.mte", AL_HW_ABSENT, "no 'mte'" },
		{ "cpu.ssbs", AL_HW_PARTIAL, "AT_HWCAP): bit set" },
		{ "cpu.sb", AL_HW_ABSENT, "no 'sb'" },
	};
	for (size_t i = 0; i < AL_ARRAY_LEN(want); i++) {
		const struct al_hw_item *it = al_hw_report_find(r, want[i].id);
		assert_non_null(it);
		if (it->state != want[i].want || !strstr(it->evidence, want[i].evidence))
			fail_msg("%s: %s (%s), want %s with '%s'", want[i].id, al_hw_state_name(it->state), it->evidence,
				 al_hw_state_name(want[i].want), want[i].evidence);
	}
	assert_string_equal(al_hw_report_find(r, "cpu.bti")->value, "on 1 of 2 CPUs");
	assert_string_equal(al_hw_report_find(r, "cpu.pac")->value, "not enabled for user space");
	assert_int_equal(state_of(r, "vuln.spectre_v2"), AL_HW_ABSENT);
	/* Every default requirement is missing, as on x86. */
	assert_int_equal(al_hw_report_require(r, al_hw_default_required, al_hw_default_required_len, NULL),
			 (int)al_hw_default_required_len);
	al_hw_report_free(r);
}

/* PAN in hardware only (partial), no configuration to read (absent, unknown),
 * and no cpuinfo at all: the hwcap bits alone are the evidence. */
static void test_arm64_other_evidence(void **state)
{
	(void)state;
	char root[64];
	strcpy(root, "/tmp/al_hw_arm_pan_XXXXXX");
	assert_non_null(mkdtemp(root));
	put(root, "proc/sys/kernel/osrelease", "6.6.0-rpi\n");
	put(root, "boot/config-6.6.0-rpi", "CONFIG_ARM64_PAN=y\nCONFIG_ARM64_SW_TTBR0_PAN_X=y\n");
	struct al_hw_syscalls sc = sc_present;
	sc.hwcap2 = T_HWCAP2_BTI;
	struct al_hw_report *r = al_hw_probe_arch(root, &sc, AL_HW_ARCH_AARCH64);
	assert_int_equal(state_of(r, "cpu.pan"), AL_HW_PARTIAL);
	assert_int_equal(state_of(r, "cpu.bti"), AL_HW_PRESENT);
	assert_non_null(strstr(al_hw_report_find(r, "cpu.bti")->evidence, "getauxval(AT_HWCAP2): bit set"));
	assert_int_equal(state_of(r, "cpu.mte"), AL_HW_ABSENT);
	assert_int_equal(state_of(r, "cpu.pxn"), AL_HW_ABSENT);
	al_hw_report_free(r);
	put(root, "proc/sys/kernel/osrelease", "6.6.1\n");
	r = al_hw_probe_arch(root, &sc, AL_HW_ARCH_AARCH64);
	assert_int_equal(state_of(r, "cpu.pan"), AL_HW_ABSENT);
	assert_string_equal(al_hw_report_find(r, "cpu.pan")->value, "unknown");
	assert_non_null(strstr(al_hw_report_find(r, "cpu.pan")->evidence, "config-6.6.1"));
	al_hw_report_free(r);
	assert_int_equal(t_rmtree(root), 0);
}

/* The real machine: the report must agree with itself and with what we can see directly. */
static void test_real_machine_consistent(void **state)
{
	(void)state;
	if (t_emulated()) {
		print_message("skipped: %s\n", t_emulated());
		skip();
	}
	struct al_hw_report *r = al_hw_probe("/");
	assert_non_null(r);
	/* The CPU items are this build's architecture's. */
	assert_int_equal(r->arch, al_hw_arch_native);
	assert_non_null(al_hw_report_find(r, al_hw_arch_native == AL_HW_ARCH_AARCH64 ? "cpu.pxn" : "cpu.smep"));
	const struct al_hw_item *ll = al_hw_report_find(r, "kernel.landlock");
	const struct al_hw_item *lsm = al_hw_report_find(r, "kernel.lsm");
	if (lsm->state != AL_HW_ABSENT) {
		bool listed = strstr(lsm->value, "landlock") != NULL;
		assert_int_equal(listed, ll->state != AL_HW_ABSENT);
	}
	/* Notify implies filters; nested user namespaces imply user namespaces. */
	if (state_of(r, "kernel.seccomp_notify") == AL_HW_PRESENT)
		assert_int_equal(state_of(r, "kernel.seccomp_filter"), AL_HW_PRESENT);
	if (state_of(r, "kernel.userns_nested") == AL_HW_PRESENT)
		assert_int_equal(state_of(r, "kernel.userns"), AL_HW_PRESENT);
	/* The seccomp file, where present, must list user_notif iff the notify probe worked. */
	char *actions = NULL;
	if (al_read_file_at(AT_FDCWD, "/proc/sys/kernel/seccomp/actions_avail", 4096, &actions, NULL) == 0) {
		assert_int_equal(strstr(actions, "user_notif") != NULL,
				 state_of(r, "kernel.seccomp_notify") == AL_HW_PRESENT);
		free(actions);
	}
	/* Every vulnerability file is in the report. */
	size_t vulns = 0;
	for (size_t i = 0; i < r->n_items; i++)
		vulns += r->items[i].kind == AL_HW_KIND_VULNERABILITY;
	assert_true(vulns > 0);
	/* JSON counts add up. */
	json_t *j = al_hw_report_json(r);
	json_int_t total = json_integer_value(json_object_get(json_object_get(j, "counts"), "present")) +
			   json_integer_value(json_object_get(json_object_get(j, "counts"), "partial")) +
			   json_integer_value(json_object_get(json_object_get(j, "counts"), "absent"));
	assert_int_equal(total, (json_int_t)r->n_items);
	assert_int_equal(json_array_size(json_object_get(j, "items")), r->n_items);
	json_decref(j);
	al_hw_report_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_present_tree),
		cmocka_unit_test(test_absent_tree),
		cmocka_unit_test(test_partial_states),
		cmocka_unit_test(test_missing_root),
		cmocka_unit_test(test_unknown_required),
		cmocka_unit_test(test_arm64_present_tree),
		cmocka_unit_test(test_arm64_absent_tree),
		cmocka_unit_test(test_arm64_other_evidence),
		cmocka_unit_test(test_real_machine_consistent),
	};
	return cmocka_run_group_tests(tests, make_trees, remove_trees);
}
