/*
 * The CPU probe's mechanisms, the same on every architecture: feature names
 * in the per-CPU lines of /proc/cpuinfo (with the kernel's hwcap bits where
 * the architecture has them), and the vulnerability states in
 * /sys/devices/system/cpu/vulnerabilities. Which features are looked for is
 * each architecture's own file (cpu_x86.c, cpu_arm64.c).
 */
#include "hw/probe.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

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

/* Whether the kernel's hwcap words carry this flag's bit; false where it has none. */
static bool hwcap_has(const struct hw_cpu_flag *cf, const struct al_hw_syscalls *sc)
{
	return cf->hwcap && ((cf->hwcap == 2 ? sc->hwcap2 : sc->hwcap) & cf->bit) != 0;
}

/*
 * The cpuinfo lines say what each CPU has; the hwcap bit, where the
 * architecture has one, says whether the kernel enabled it for user space.
 * Both are needed for present. A flag on some CPUs only, or listed but not
 * enabled (or the reverse), is partial.
 */
static void flag_item(struct al_hw_item *it, const struct hw_cpu_flag *cf, const struct al_hw_syscalls *sc,
		      const char *path, const char *line, int rc, unsigned n_cpus, unsigned have,
		      unsigned first_line)
{
	const char *hn = cf->hwcap == 2 ? "AT_HWCAP2" : "AT_HWCAP";
	bool hw = hwcap_has(cf, sc);
	if (rc < 0 || n_cpus == 0) {
		char why[96];
		if (rc < 0)
			snprintf(why, sizeof why, "unreadable (%s)", strerror(-rc));
		else
			snprintf(why, sizeof why, "no %s line", line);
		if (hw)
			hw_item_set(it, AL_HW_PRESENT, cf->flags[0], "getauxval(%s): bit set; %s: %s", hn, path, why);
		else if (cf->hwcap)
			hw_item_set(it, AL_HW_ABSENT, "not offered", "getauxval(%s): bit clear; %s: %s", hn, path, why);
		else
			hw_item_set(it, AL_HW_ABSENT, "unknown", "%s: %s", path, why);
	} else if (have == n_cpus && (!cf->hwcap || hw)) {
		hw_item_set(it, AL_HW_PRESENT, cf->flags[0], "%s line %u (%s) on all %u CPUs%s%s%s", path, first_line,
			    line, n_cpus, cf->hwcap ? "; getauxval(" : "", cf->hwcap ? hn : "",
			    cf->hwcap ? ") has it" : "");
	} else if (have == n_cpus) {
		hw_item_set(it, AL_HW_PARTIAL, "not enabled for user space",
			    "%s line %u (%s) on all %u CPUs; getauxval(%s): bit clear", path, first_line, line, n_cpus,
			    hn);
	} else if (have > 0 || hw) {
		char v[64];
		snprintf(v, sizeof v, "on %u of %u CPUs", have, n_cpus);
		hw_item_set(it, AL_HW_PARTIAL, v, "%s (%s lines)%s%s%s", path, line, cf->hwcap ? "; getauxval(" : "",
			    cf->hwcap ? hn : "", cf->hwcap ? (hw ? "): bit set" : "): bit clear") : "");
	} else {
		hw_item_set(it, AL_HW_ABSENT, "not offered", "%s line %u (%s): no '%s'", path, first_line, line,
			    cf->flags[0]);
	}
}

void hw_probe_flag_lines(struct al_hw_report *r, const char *line_name, const struct hw_cpu_flag *cpu_flags,
			 size_t n_flags, const struct al_hw_syscalls *sc)
{
	char *info = NULL;
	int rc = hw_read(r, "proc/cpuinfo", &info);
	unsigned n_cpus = 0, have[32] = {0};
	unsigned first_line = 0, lineno = 0;
	size_t nl_name = strlen(line_name);
	if (n_flags > AL_ARRAY_LEN(have))
		n_flags = AL_ARRAY_LEN(have);
	if (rc == 0) {
		for (char *line = info; *line;) {
			char *nl = strchr(line, '\n');
			size_t len = nl ? (size_t)(nl - line) : strlen(line);
			lineno++;
			/* "flags" on x86, "Features" on arm64; the colon follows tabs. */
			if (len > nl_name && strncmp(line, line_name, nl_name) == 0 &&
			    (line[nl_name] == '\t' || line[nl_name] == ' ' || line[nl_name] == ':')) {
				n_cpus++;
				if (!first_line)
					first_line = lineno;
				for (size_t i = 0; i < n_flags; i++)
					for (size_t k = 0; k < 2 && cpu_flags[i].flags[k]; k++)
						if (has_word(line + nl_name, len - nl_name, cpu_flags[i].flags[k])) {
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
	for (size_t i = 0; i < n_flags; i++) {
		const struct hw_cpu_flag *cf = &cpu_flags[i];
		struct al_hw_item *it = hw_item_add(r, cf->id, AL_HW_KIND_CPU_FLAG, cf->use, cf->fallback);
		if (it)
			flag_item(it, cf, sc, path, line_name, rc, n_cpus, have[i], first_line);
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

void hw_probe_vulnerabilities(struct al_hw_report *r)
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
