/*
 * CPU flags from /proc/cpuinfo and vulnerability states from
 * /sys/devices/system/cpu/vulnerabilities.
 */
#include "hw/probe.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct cpu_flag {
	const char *id;
	const char *flags[2]; /* any of these names in the flags line */
	const char *use;
	const char *fallback;
};

static const struct cpu_flag cpu_flags[] = {
	{"cpu.smep", {"smep"}, "kernel cannot execute user pages (blunts ret2usr from a domain)",
	 "reported; kernel exploits from a domain are easier"},
	{"cpu.smap", {"smap"}, "kernel cannot read user pages by accident",
	 "reported; kernel exploits from a domain are easier"},
	{"cpu.umip", {"umip"}, "sgdt/sidt/str blocked in user mode (no kernel address leak)",
	 "reported; descriptor-table addresses are readable"},
	{"cpu.pku", {"pku", "ospke"}, "memory protection keys available to the engine",
	 "reported; not used"},
	{"cpu.shstk", {"user_shstk", "shstk"}, "user shadow stacks (return-address integrity)",
	 "reported; binaries run without shadow stacks"},
	{"cpu.ibt", {"ibt"}, "indirect branch tracking (built with -fcf-protection)",
	 "reported; endbr64 markers are inert"},
	{"cpu.ibrs", {"ibrs", "ibrs_enhanced"}, "indirect branch restriction (Spectre v2)",
	 "reported; rely on the kernel's retpolines"},
	{"cpu.ibpb", {"ibpb"}, "branch predictor barrier between domains (Spectre v2)",
	 "reported; indirect-branch isolation is weaker"},
	{"cpu.stibp", {"stibp"}, "no branch prediction sharing between SMT siblings",
	 "reported; pin domains to separate cores"},
	{"cpu.ssbd", {"ssbd", "virt_ssbd"}, "speculative store bypass disable (per-domain prctl)",
	 "reported; store-bypass control unavailable"},
	{"cpu.md_clear", {"md_clear"}, "CPU buffers cleared on context switch (MDS)",
	 "reported; MDS mitigation depends on the kernel"},
	{"cpu.flush_l1d", {"flush_l1d"}, "L1D flush on context switch (L1TF, side channels)",
	 "reported; L1D is not flushed between domains"},
	{"cpu.rdt_a", {"rdt_a"}, "resource director technology (cache/bandwidth groups)",
	 "reported; no cache partitioning"},
	{"cpu.cat_l3", {"cat_l3"}, "L3 cache allocation per domain",
	 "reported; domains share the L3 cache"},
	{"cpu.mba", {"mba"}, "memory bandwidth allocation per domain",
	 "reported; domains share memory bandwidth"},
};

static bool has_word(const char *line, size_t len, const char *word)
{
	size_t wl = strlen(word);
	const char *p = line, *end = line + len;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ':'))
			p++;
		const char *s = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		if ((size_t)(p - s) == wl && memcmp(s, word, wl) == 0)
			return true;
	}
	return false;
}

static void probe_flags(struct al_hw_report *r)
{
	char *info = NULL;
	int rc = hw_read(r, "proc/cpuinfo", &info);
	unsigned n_cpus = 0, have[AL_ARRAY_LEN(cpu_flags)] = {0};
	unsigned first_line = 0, lineno = 0;
	if (rc == 0) {
		for (char *line = info; *line;) {
			char *nl = strchr(line, '\n');
			size_t len = nl ? (size_t)(nl - line) : strlen(line);
			lineno++;
			/* "flags" on x86; the colon follows tabs. */
			if (len > 5 && strncmp(line, "flags", 5) == 0 && (line[5] == '\t' || line[5] == ' ' || line[5] == ':')) {
				n_cpus++;
				if (!first_line)
					first_line = lineno;
				for (size_t i = 0; i < AL_ARRAY_LEN(cpu_flags); i++)
					for (size_t k = 0; k < 2 && cpu_flags[i].flags[k]; k++)
						if (has_word(line + 5, len - 5, cpu_flags[i].flags[k])) {
							have[i]++;
							break;
						}
			}
			if (!nl)
				break;
			line = nl + 1;
		}
	}
	char path[512];
	hw_path(r, "proc/cpuinfo", path, sizeof path);
	for (size_t i = 0; i < AL_ARRAY_LEN(cpu_flags); i++) {
		const struct cpu_flag *cf = &cpu_flags[i];
		struct al_hw_item *it = hw_item_add(r, cf->id, AL_HW_KIND_CPU_FLAG, cf->use, cf->fallback);
		if (rc < 0) {
			hw_item_set(it, AL_HW_ABSENT, "unknown", "%s: unreadable (%s)", path, strerror(-rc));
		} else if (n_cpus == 0) {
			hw_item_set(it, AL_HW_ABSENT, "unknown", "%s: no flags line", path);
		} else if (have[i] == n_cpus) {
			hw_item_set(it, AL_HW_PRESENT, cf->flags[0], "%s line %u (flags) on all %u CPUs",
				    path, first_line, n_cpus);
		} else if (have[i] > 0) {
			char v[64];
			snprintf(v, sizeof v, "on %u of %u CPUs", have[i], n_cpus);
			hw_item_set(it, AL_HW_PARTIAL, v, "%s (flags lines)", path);
		} else {
			hw_item_set(it, AL_HW_ABSENT, "not offered", "%s line %u (flags): no '%s'",
				    path, first_line, cf->flags[0]);
		}
	}
	free(info);
}

/*
 * "Not affected" and a mitigation are protection; "Vulnerable" is not. A
 * mitigation line that still names a vulnerable part ("...; BHI: Vulnerable")
 * is partial.
 */
static void classify_vuln(struct al_hw_item *it, const char *path, char *text)
{
	text[strcspn(text, "\n")] = '\0';
	if (strncmp(text, "Not affected", 12) == 0)
		hw_item_set(it, AL_HW_PRESENT, "not affected", "%s: %s", path, text);
	else if (strncmp(text, "Mitigation: ", 12) == 0)
		hw_item_set(it, strstr(text, "Vulnerable") ? AL_HW_PARTIAL : AL_HW_PRESENT,
			    text + 12, "%s: %s", path, text);
	else if (strncmp(text, "Vulnerable", 10) == 0)
		hw_item_set(it, AL_HW_ABSENT, text, "%s: %s", path, text);
	else
		hw_item_set(it, AL_HW_ABSENT, text[0] ? text : "unknown", "%s: unrecognised state", path);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void probe_vulnerabilities(struct al_hw_report *r)
{
	char dirpath[512];
	hw_path(r, "sys/devices/system/cpu/vulnerabilities", dirpath, sizeof dirpath);
	DIR *d = opendir(dirpath);
	if (!d) {
		struct al_hw_item *it = hw_item_add(r, "vuln.report", AL_HW_KIND_VULNERABILITY,
			"the kernel's own view of CPU vulnerabilities", "reported as unknown");
		hw_item_set(it, AL_HW_ABSENT, "unknown", "%s: %s", dirpath, strerror(errno));
		return;
	}
	char *names[128];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < AL_ARRAY_LEN(names)) {
		if (e->d_name[0] == '.')
			continue;
		if (!(names[n] = strdup(e->d_name)))
			break;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof names[0], name_cmp);
	for (size_t i = 0; i < n; i++) {
		char id[64], rel[256], path[512];
		snprintf(id, sizeof id, "vuln.%s", names[i]);
		snprintf(rel, sizeof rel, "sys/devices/system/cpu/vulnerabilities/%s", names[i]);
		hw_path(r, rel, path, sizeof path);
		struct al_hw_item *it = hw_item_add(r, id, AL_HW_KIND_VULNERABILITY,
			"shown so the operator knows which side channels the CPU leaves open",
			"domains are pinned apart and speculation controls forced");
		char *text = NULL;
		int rc = hw_read(r, rel, &text);
		if (rc < 0)
			hw_item_set(it, AL_HW_ABSENT, "unknown", "%s: %s", path, strerror(-rc));
		else
			classify_vuln(it, path, text);
		free(text);
		free(names[i]);
	}
}

void hw_probe_cpu(struct al_hw_report *r)
{
	probe_flags(r);
	probe_vulnerabilities(r);
}
