#include "hw/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

const char *al_hw_state_name(enum al_hw_state s)
{
	switch (s) {
	case AL_HW_PRESENT: return "present";
	case AL_HW_PARTIAL: return "partial";
	case AL_HW_ABSENT: return "absent";
	}
	return "?";
}

const char *al_hw_kind_name(enum al_hw_kind k)
{
	switch (k) {
	case AL_HW_KIND_CPU_FLAG: return "cpu";
	case AL_HW_KIND_VULNERABILITY: return "vulnerability";
	case AL_HW_KIND_KERNEL: return "kernel";
	case AL_HW_KIND_SYSCTL: return "sysctl";
	}
	return "?";
}

struct al_hw_item *hw_item_add(struct al_hw_report *r, const char *id, enum al_hw_kind kind,
			       const char *use, const char *fallback)
{
	if (r->n_items == r->cap_items) {
		size_t ncap = r->cap_items ? r->cap_items * 2 : 64;
		struct al_hw_item *n = realloc(r->items, ncap * sizeof *n);
		if (!n)
			return NULL;
		r->items = n;
		r->cap_items = ncap;
	}
	struct al_hw_item *it = &r->items[r->n_items++];
	memset(it, 0, sizeof *it);
	al_strlcpy(it->id, id, sizeof it->id);
	it->kind = kind;
	it->use = use;
	it->fallback = fallback;
	return it;
}

void hw_item_set(struct al_hw_item *it, enum al_hw_state state, const char *value,
		 const char *evidence_fmt, ...)
{
	if (!it)
		return;
	it->state = state;
	al_strlcpy(it->value, value ? value : "", sizeof it->value);
	va_list ap;
	va_start(ap, evidence_fmt);
	vsnprintf(it->evidence, sizeof it->evidence, evidence_fmt, ap);
	va_end(ap);
}

void hw_path(const struct al_hw_report *r, const char *relpath, char *buf, size_t len)
{
	size_t rl = strlen(r->root);
	bool slash = rl > 0 && r->root[rl - 1] == '/';
	snprintf(buf, len, "%s%s%s", r->root, slash ? "" : "/", relpath);
}

int hw_read(const struct al_hw_report *r, const char *relpath, char **out)
{
	char path[512];
	hw_path(r, relpath, path, sizeof path);
	/* /proc/cpuinfo on a large machine is a few hundred KiB; 4 MiB bounds any file we read. */
	return al_read_file_at(AT_FDCWD, path, 4u << 20, out, NULL);
}

int hw_read_int(const struct al_hw_report *r, const char *relpath, long *out)
{
	char *buf;
	int rc = hw_read(r, relpath, &buf);
	if (rc < 0)
		return rc;
	char *end;
	errno = 0;
	long v = strtol(buf, &end, 10);
	bool ok = end != buf && errno == 0 && (*end == '\n' || *end == '\0');
	free(buf);
	if (!ok)
		return -EINVAL;
	*out = v;
	return 0;
}

static struct al_hw_report *report_new(const char *root)
{
	struct al_hw_report *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	al_strlcpy(r->root, root && *root ? root : "/", sizeof r->root);
	return r;
}

const char *al_hw_arch_name(enum al_hw_arch a)
{
	switch (a) {
	case AL_HW_ARCH_X86_64: return "x86_64";
	case AL_HW_ARCH_AARCH64: return "aarch64";
	}
	return "?";
}

struct al_hw_report *al_hw_probe_arch(const char *root, const struct al_hw_syscalls *sc, enum al_hw_arch arch)
{
	struct al_hw_report *r = report_new(root);
	if (!r)
		return NULL;
	r->arch = arch;
	switch (arch) {
	case AL_HW_ARCH_X86_64:
		hw_probe_cpu_x86(r, sc);
		break;
	case AL_HW_ARCH_AARCH64:
		hw_probe_cpu_arm64(r, sc);
		break;
	}
	hw_probe_kernel(r, sc);
	return r;
}

struct al_hw_report *al_hw_probe_with(const char *root, const struct al_hw_syscalls *sc)
{
	return al_hw_probe_arch(root, sc, al_hw_arch_native);
}

struct al_hw_report *al_hw_probe(const char *root)
{
	struct al_hw_syscalls sc;
	al_hw_probe_syscalls(&sc);
	return al_hw_probe_with(root, &sc);
}

void al_hw_report_free(struct al_hw_report *r)
{
	if (!r)
		return;
	free(r->items);
	free(r);
}

const struct al_hw_item *al_hw_report_find(const struct al_hw_report *r, const char *id)
{
	for (size_t i = 0; i < r->n_items; i++)
		if (strcmp(r->items[i].id, id) == 0)
			return &r->items[i];
	return NULL;
}

int al_hw_report_require(const struct al_hw_report *r, const char *const *required, size_t n, FILE *err)
{
	int missing = 0;
	for (size_t i = 0; i < n; i++) {
		const struct al_hw_item *it = al_hw_report_find(r, required[i]);
		if (!it) {
			if (err)
				fprintf(err, "required feature '%s' is not a known feature\n", required[i]);
			return -EINVAL;
		}
		if (it->state != AL_HW_PRESENT) {
			missing++;
			if (err)
				fprintf(err, "required feature %s is %s: %s (%s)\n", it->id,
					al_hw_state_name(it->state), it->value, it->evidence);
		}
	}
	return missing;
}

/*
 * Without a configuration these must be present: they are the layers a domain
 * cannot be isolated without. Everything else is used when present and
 * reported as absent otherwise.
 */
const char *const al_hw_default_required[] = {
	"kernel.userns",
	"kernel.seccomp_filter",
	"kernel.clone3_pidfd",
	"kernel.cgroup_memory",
	"kernel.cgroup_pids",
	"kernel.memfd_seal",
};
const size_t al_hw_default_required_len = AL_ARRAY_LEN(al_hw_default_required);

json_t *al_hw_report_json(const struct al_hw_report *r)
{
	json_t *items = json_array();
	json_t *counts = json_object();
	size_t n[3] = {0, 0, 0};
	for (size_t i = 0; i < r->n_items; i++) {
		const struct al_hw_item *it = &r->items[i];
		n[it->state]++;
		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
			"id", it->id,
			"kind", al_hw_kind_name(it->kind),
			"state", al_hw_state_name(it->state),
			"value", it->value,
			"evidence", it->evidence,
			"use", it->use ? it->use : "",
			"when_absent", it->fallback ? it->fallback : ""));
	}
	json_object_set_new(counts, "present", json_integer((json_int_t)n[AL_HW_PRESENT]));
	json_object_set_new(counts, "partial", json_integer((json_int_t)n[AL_HW_PARTIAL]));
	json_object_set_new(counts, "absent", json_integer((json_int_t)n[AL_HW_ABSENT]));
	return json_pack("{s:i, s:s, s:s, s:o, s:o}", "schema", 1, "root", r->root,
			 "arch", al_hw_arch_name(r->arch), "counts", counts, "items", items);
}

void al_hw_report_print(const struct al_hw_report *r, FILE *f, bool colour)
{
	static const char *const col[] = {"\033[31m", "\033[33m", "\033[32m"};
	const char *reset = colour ? "\033[0m" : "";
	int last_kind = -1;
	for (size_t i = 0; i < r->n_items; i++) {
		const struct al_hw_item *it = &r->items[i];
		if ((int)it->kind != last_kind) {
			static const char *const title[] = {"CPU flags", "CPU vulnerabilities",
							    "Kernel features", "Kernel hardening settings"};
			fprintf(f, "%s%s\n", last_kind < 0 ? "" : "\n", title[it->kind]);
			last_kind = (int)it->kind;
		}
		fprintf(f, "  %-30s %s%-8s%s %s\n", it->id, colour ? col[it->state] : "",
			al_hw_state_name(it->state), reset, it->value);
		if (it->kind != AL_HW_KIND_VULNERABILITY) {
			fprintf(f, "  %-30s          evidence: %s\n", "", it->evidence);
			if (it->state != AL_HW_PRESENT && it->fallback)
				fprintf(f, "  %-30s          without it: %s\n", "", it->fallback);
		}
	}
}
