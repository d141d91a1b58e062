/*
 * arm64 CPU items. Their x86 counterparts: PAN is SMAP (the kernel cannot
 * touch user memory by accident) and PXN is SMEP (it cannot execute it); BTI
 * and PAC are what CET's IBT and shadow stacks are (landing pads for
 * indirect branches, signed return addresses; both from
 * -mbranch-protection=standard). MTE tags memory; SSBS is the store-bypass
 * control the per-domain PR_SPEC_STORE_BYPASS uses.
 *
 * BTI, PAC, MTE, SSBS and SB are named in the "Features" lines of
 * /proc/cpuinfo and, once the kernel enables them for user space, in the
 * hwcap words (getauxval). PAN and PXN are not shown to user space at all:
 * PXN is part of every AArch64 CPU (the "CPU architecture" lines say which
 * one this is), and whether the kernel uses PAN is in its build
 * configuration (/boot/config-RELEASE), since the CPU's field is hidden.
 * The vulnerability files are read as on x86.
 */
#include "hw/probe.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* The kernel's bit numbers (arch/arm64/include/uapi/asm/hwcap.h), so this
 * file builds and is tested on any architecture. */
#define A64_HWCAP_SSBS (1UL << 28)
#define A64_HWCAP_SB (1UL << 29)
#define A64_HWCAP_PACA (1UL << 30)
#define A64_HWCAP2_BTI (1UL << 17)
#define A64_HWCAP2_MTE (1UL << 18)

static const struct hw_cpu_flag arm64_flags[] = {
	{"cpu.bti", {"bti"}, "branch target identification: indirect branches land only on marked "
	 "instructions (built with -mbranch-protection=standard; the counterpart of IBT)",
	 "reported; the landing pads are inert", 2, A64_HWCAP2_BTI},
	{"cpu.pac", {"paca"}, "pointer authentication: signed return addresses "
	 "(-mbranch-protection=standard; the counterpart of shadow stacks)",
	 "reported; the signing instructions run as no-ops", 1, A64_HWCAP_PACA},
	{"cpu.mte", {"mte"}, "memory tagging available to the engine", "reported; not used", 2, A64_HWCAP2_MTE},
	{"cpu.ssbs", {"ssbs"}, "speculative store bypass safe: the per-domain store-bypass control in one "
	 "instruction", "reported; the kernel controls store bypass through the firmware, or not at all", 1,
	 A64_HWCAP_SSBS},
	{"cpu.sb", {"sb"}, "speculation barrier instruction", "reported; the kernel uses dsb/isb instead", 1,
	 A64_HWCAP_SB},
};

/* The "CPU architecture: N" lines: how many CPUs, and how many say 8 or later (AArch64). */
static void cpu_architecture(const char *info, unsigned *n, unsigned *v8, unsigned *first)
{
	unsigned lineno = 0;
	*n = *v8 = *first = 0;
	for (const char *line = info; line && *line;) {
		const char *nl = strchr(line, '\n');
		lineno++;
		if (strncmp(line, "CPU architecture", 16) == 0) {
			const char *c = strchr(line, ':');
			if (c && (!nl || c < nl)) {
				(*n)++;
				if (!*first)
					*first = lineno;
				if (strtol(c + 1, NULL, 10) >= 8)
					(*v8)++;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
}

static void probe_pxn(struct al_hw_report *r)
{
	struct al_hw_item *it = hw_item_add(r, "cpu.pxn", AL_HW_KIND_CPU_FLAG,
		"kernel cannot execute user pages (blunts ret2usr from a domain; the counterpart of SMEP)",
		"reported; kernel exploits from a domain are easier");
	char path[512], *info = NULL;
	hw_path(r, "proc/cpuinfo", path, sizeof path);
	int rc = hw_read(r, "proc/cpuinfo", &info);
	unsigned n, v8, first;
	cpu_architecture(rc == 0 ? info : NULL, &n, &v8, &first);
	free(info);
	if (rc < 0)
		hw_item_set(it, AL_HW_ABSENT, "unknown", "%s: unreadable (%s)", path, strerror(-rc));
	else if (n == 0)
		hw_item_set(it, AL_HW_ABSENT, "unknown", "%s: no CPU architecture line", path);
	else if (v8 == n)
		hw_item_set(it, AL_HW_PRESENT, "ARMv8-A",
			    "%s line %u (CPU architecture) on all %u CPUs: every AArch64 CPU has PXN, and Linux "
			    "maps user memory PXN", path, first, n);
	else
		hw_item_set(it, AL_HW_ABSENT, "not an AArch64 CPU", "%s line %u (CPU architecture): %u of %u CPUs "
			    "say 8 or later", path, first, v8, n);
}

/* Whether `name=y` is a line of the configuration text. */
static bool config_y(const char *cfg, const char *name)
{
	size_t l = strlen(name);
	for (const char *p = cfg; (p = strstr(p, name)); p += l)
		if ((p == cfg || p[-1] == '\n') && strncmp(p + l, "=y", 2) == 0 &&
		    (p[l + 2] == '\n' || p[l + 2] == '\0'))
			return true;
	return false;
}

/*
 * PAN: the emulated form (CONFIG_ARM64_SW_TTBR0_PAN: user page tables
 * switched off while in the kernel) works on every CPU: present. Hardware
 * PAN alone is used where the CPU has it (ARMv8.1 and later), which user
 * space cannot see: partial.
 */
static void probe_pan(struct al_hw_report *r)
{
	struct al_hw_item *it = hw_item_add(r, "cpu.pan", AL_HW_KIND_CPU_FLAG,
		"kernel cannot read or write user memory by accident (the counterpart of SMAP)",
		"reported; kernel exploits from a domain are easier");
	char *rel = NULL, rel_cfg[160], path[512];
	int rc = hw_read(r, "proc/sys/kernel/osrelease", &rel);
	if (rc < 0) {
		hw_path(r, "proc/sys/kernel/osrelease", path, sizeof path);
		hw_item_set(it, AL_HW_ABSENT, "unknown", "%s: %s", path, strerror(-rc));
		return;
	}
	rel[strcspn(rel, "\n")] = '\0';
	snprintf(rel_cfg, sizeof rel_cfg, "boot/config-%s", rel);
	free(rel);
	hw_path(r, rel_cfg, path, sizeof path);
	char *cfg = NULL;
	rc = hw_read(r, rel_cfg, &cfg);
	if (rc < 0) {
		hw_item_set(it, AL_HW_ABSENT, "unknown",
			    "%s: %s (the kernel's configuration says whether it uses PAN; the CPU's field is "
			    "hidden from user space)", path, strerror(-rc));
		return;
	}
	bool sw = config_y(cfg, "CONFIG_ARM64_SW_TTBR0_PAN"), hw = config_y(cfg, "CONFIG_ARM64_PAN");
	free(cfg);
	if (sw)
		hw_item_set(it, AL_HW_PRESENT, "emulated on every CPU",
			    "%s: CONFIG_ARM64_SW_TTBR0_PAN=y%s", path, hw ? ", CONFIG_ARM64_PAN=y" : "");
	else if (hw)
		hw_item_set(it, AL_HW_PARTIAL, "where the CPU has it (ARMv8.1 and later)",
			    "%s: CONFIG_ARM64_PAN=y, no CONFIG_ARM64_SW_TTBR0_PAN; the CPU's PAN field is hidden "
			    "from user space", path);
	else
		hw_item_set(it, AL_HW_ABSENT, "not built in", "%s: neither CONFIG_ARM64_PAN nor "
			    "CONFIG_ARM64_SW_TTBR0_PAN", path);
}

void hw_probe_cpu_arm64(struct al_hw_report *r, const struct al_hw_syscalls *sc)
{
	probe_pan(r);
	probe_pxn(r);
	hw_probe_flag_lines(r, "Features", arm64_flags, AL_ARRAY_LEN(arm64_flags), sc);
	hw_probe_vulnerabilities(r);
}
