/*
 * Partitioning: where a domain runs and which hardware isolation it gets
 * (docs/levels.md). The caller says what it wants (struct
 * al_partition_want, filled from the security level's policy in
 * src/respond/level.c); this file knows no levels.
 *
 * Three steps, split so tests can run each against a fake machine:
 * al_partition_probe() reads what the machine offers (below a root prefix,
 * through a table of calls), al_partition_plan() decides from that alone
 * (pure), al_partition_to_spec() writes the decision into a spec. Whatever a
 * caller wants and the machine lacks is planned as ABSENT with the reason,
 * never an error: what is wanted is a ceiling, the attestation says what holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox_int.h"

#ifndef PR_SPEC_L1D_FLUSH
#define PR_SPEC_L1D_FLUSH 2
#endif

const char *al_partition_state_name(enum al_partition_state s)
{
	return s == AL_PART_ON ? "on" : s == AL_PART_ABSENT ? "absent" : "off";
}

/* ------------------------------------------------------------------ probe -- */

/* A small sysfs file below root, trailing newline removed; NULL if unreadable. */
static char *read_small(const char *root, const char *rel)
{
	char path[4200], *buf = NULL;
	snprintf(path, sizeof path, "%s/%s", root, rel);
	if (al_read_file_at(AT_FDCWD, path, 1 << 16, &buf, NULL) < 0)
		return NULL;
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

/* "L3:0=fffff;1=fffff" -> the domain ids, for the line that starts with res. */
static unsigned schemata_ids(const char *schemata, const char *res, unsigned *ids)
{
	size_t rl = strlen(res);
	unsigned n = 0;
	for (const char *l = schemata; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		while (*l == ' ')
			l++;
		if (strncmp(l, res, rl) || l[rl] != ':')
			continue;
		const char *p = l + rl + 1;
		while (*p && *p != '\n' && n < AL_PARTITION_MAX_DOMAINS) {
			while (*p == ' ' || *p == ';')
				p++;
			char *end;
			unsigned long id = strtoul(p, &end, 10);
			if (end == p || *end != '=')
				break;
			ids[n++] = (unsigned)id;
			p = end + strcspn(end, ";\n");
		}
		break;
	}
	return n;
}

/* The runner's CPUs before al_sandbox_place_self narrowed them. */
static cpu_set_t runner_cpus;
static bool runner_cpus_saved;

/* The CPUs the runner may use, as they were before it placed itself: 0 or -1. */
static int runner_cpus_get(cpu_set_t *out)
{
	if (runner_cpus_saved) {
		*out = runner_cpus;
		return 0;
	}
	return sched_getaffinity(0, sizeof *out, out);
}

static void probe_cpus(const char *root, struct al_partition_caps *c)
{
	char *online = read_small(root, "sys/devices/system/cpu/online");
	if (!online || al_cpu_parse_list(online, &c->online) < 0)
		CPU_ZERO(&c->online);
	free(online);
	/* on the real machine, only what the runner itself may use: as it was
	 * before it placed itself, or the domains would be split within the
	 * runner's own place (with two CPUs: both on the runner's one) */
	if (strcmp(root, "/") == 0) {
		cpu_set_t mine;
		if (runner_cpus_get(&mine) == 0) {
			if (CPU_COUNT(&c->online))
				CPU_AND(&c->online, &c->online, &mine);
			else
				c->online = mine;
		}
	}
	c->n_cpus = CPU_COUNT(&c->online);
	cpu_set_t seen;
	CPU_ZERO(&seen);
	for (int cpu = 0; cpu < CPU_SETSIZE && c->n_cores < (int)AL_ARRAY_LEN(c->core); cpu++) {
		if (!CPU_ISSET(cpu, &c->online) || CPU_ISSET(cpu, &seen))
			continue;
		char rel[96];
		cpu_set_t sib;
		snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", cpu);
		char *s = read_small(root, rel);
		if (!s || al_cpu_parse_list(s, &sib) < 0 || !CPU_ISSET(cpu, &sib)) {
			CPU_ZERO(&sib);
			CPU_SET(cpu, &sib);
		}
		free(s);
		CPU_AND(&sib, &sib, &c->online);
		CPU_OR(&seen, &seen, &sib);
		c->core[c->n_cores++] = sib;
	}
}

static void probe_resctrl(const char *root, struct al_partition_caps *c)
{
	char path[4200];
	struct stat st;
	snprintf(path, sizeof path, "%s/sys/fs/resctrl/info", root);
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	c->resctrl = true;
	char *schemata = read_small(root, "sys/fs/resctrl/schemata");
	char *mask = read_small(root, "sys/fs/resctrl/info/L3/cbm_mask");
	char *minb = read_small(root, "sys/fs/resctrl/info/L3/min_cbm_bits");
	if (schemata && mask) {
		unsigned long long m = strtoull(mask, NULL, 16);
		c->cbm_bits = (unsigned)__builtin_popcountll(m);
		c->min_cbm_bits = minb ? (unsigned)strtoul(minb, NULL, 10) : 1;
		if (c->min_cbm_bits == 0)
			c->min_cbm_bits = 1;
		c->n_l3 = schemata_ids(schemata, "L3", c->l3_ids);
		/* contiguous masks only (hardware rule): the width is the low run */
		c->cat = c->n_l3 > 0 && c->cbm_bits >= 2 && (m & (m + 1)) == 0;
	}
	char *mbmin = read_small(root, "sys/fs/resctrl/info/MB/min_bandwidth");
	char *gran = read_small(root, "sys/fs/resctrl/info/MB/bandwidth_gran");
	if (schemata && mbmin) {
		c->mb_min = (unsigned)strtoul(mbmin, NULL, 10);
		c->mb_gran = gran ? (unsigned)strtoul(gran, NULL, 10) : 10;
		if (c->mb_gran == 0)
			c->mb_gran = 10;
		c->n_mb = schemata_ids(schemata, "MB", c->mb_ids);
		c->mba = c->n_mb > 0 && c->mb_min > 0 && c->mb_min <= 100;
	}
	free(schemata);
	free(mask);
	free(minb);
	free(mbmin);
	free(gran);
}

static bool spec_controllable(const struct al_partition_env *env, unsigned long which)
{
	int rc = env->ops->prctl(PR_GET_SPECULATION_CTRL, which, 0, 0, 0);
	/* the real prctl returns the flag word; recorded ones return it too */
	return rc >= 0 && (rc & PR_SPEC_PRCTL);
}

void al_partition_probe(const struct al_partition_env *env, struct al_partition_caps *c)
{
	memset(c, 0, sizeof *c);
	const char *root = env->root ? env->root : "/";
	probe_cpus(root, c);
	uint64_t cookie = 0;
	int rc = env->ops->prctl(PR_SCHED_CORE, PR_SCHED_CORE_GET, 0, PR_SCHED_CORE_SCOPE_THREAD,
				 (unsigned long)(uintptr_t)&cookie);
	c->core_sched = rc == 0;
	c->core_sched_err = rc < 0 ? -rc : 0;
	probe_resctrl(root, c);
	char *cs = read_small(root, "sys/devices/system/clocksource/clocksource0/current_clocksource");
	al_strlcpy(c->clocksource, cs ? cs : "unknown", sizeof c->clocksource);
	/* These are read by the vDSO with rdtsc: with the TSC disabled every
	 * clock_gettime would fault. Unknown counts as reading it. */
	c->tsc_clock = !cs || !strcmp(cs, "tsc") || !strcmp(cs, "kvm-clock") ||
		       !strncmp(cs, "hyperv_clocksource_tsc", 22);
	free(cs);
	c->spec_ssb = spec_controllable(env, PR_SPEC_STORE_BYPASS);
	c->spec_ib = spec_controllable(env, PR_SPEC_INDIRECT_BRANCH);
	c->spec_l1d = spec_controllable(env, PR_SPEC_L1D_FLUSH);
}

/* ------------------------------------------------------------------- plan -- */

static void set_item(struct al_partition_plan *p, int i, const char *name, enum al_partition_state st,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void set_item(struct al_partition_plan *p, int i, const char *name, enum al_partition_state st,
		     const char *fmt, ...)
{
	p->items[i].name = name;
	p->items[i].state = st;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->items[i].detail, sizeof p->items[i].detail, fmt, ap);
	va_end(ap);
}


/*
 * Core assignment. The protocol domain takes the first quarter of the
 * physical cores (at least one), the AI domain the rest, so the two never
 * share a core, SMT siblings included. The supervisor sits with the protocol
 * domain: both mostly wait, and the AI domain's cores are left to compute.
 * With one core of two SMT threads the threads are split (only core
 * scheduling then keeps them apart); with one CPU there is nothing to split.
 */
static void plan_cpus(const struct al_partition_caps *c, enum al_sandbox_role role, struct al_partition_plan *p)
{
	cpu_set_t proto, ai;
	CPU_ZERO(&proto);
	CPU_ZERO(&ai);
	const char *how;
	if (c->n_cores >= 2) {
		int np = c->n_cores / 4 > 0 ? c->n_cores / 4 : 1;
		for (int i = 0; i < c->n_cores; i++)
			CPU_OR(i < np ? &proto : &ai, i < np ? &proto : &ai, &c->core[i]);
		how = "disjoint cores";
	} else if (c->n_cpus >= 2) {
		bool first = true;
		for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
			if (!CPU_ISSET(cpu, &c->online))
				continue;
			CPU_SET(cpu, first ? &proto : &ai);
			first = false;
		}
		how = "SMT siblings of one core";
	} else {
		set_item(p, AL_PART_CPUS, "cpus", AL_PART_ABSENT, "%d CPU: nothing to split", c->n_cpus);
		return;
	}
	p->has_cpus = true;
	p->cpus = role == AL_SANDBOX_ROLE_AI ? ai : proto;
	char list[64];
	al_cpu_format_list(&p->cpus, list, sizeof list);
	set_item(p, AL_PART_CPUS, "cpus", AL_PART_ON, "%s (%s)", list, how);
}

/* "L3:0=ff0;1=ff0" for every cache domain. */
static void schemata_line(char *buf, size_t len, const char *res, const unsigned *ids, unsigned n,
			  bool hex, unsigned long long val)
{
	size_t off = (size_t)snprintf(buf, len, "%s:", res);
	for (unsigned i = 0; i < n && off < len; i++) {
		char v[32];
		if (hex)
			snprintf(v, sizeof v, "%llx", val);
		else
			snprintf(v, sizeof v, "%llu", val);
		off += (size_t)snprintf(buf + off, len - off, "%s%u=%s", i ? ";" : "", ids[i], v);
	}
}

/*
 * Cache ways: the protocol domain gets the low quarter of the L3 mask (at
 * least the hardware minimum), the AI domain the rest, so neither can evict
 * the other's lines (prime+probe across domains needs shared ways). The
 * default group (supervisor, everything else) keeps the whole mask: shrinking
 * it would change the rest of the machine.
 */
static void plan_cat(const struct al_partition_caps *c, enum al_sandbox_role role, struct al_partition_plan *p)
{
	if (!c->resctrl || !c->cat) {
		set_item(p, AL_PART_CAT, "cat", AL_PART_ABSENT, "%s",
			 c->resctrl ? "resctrl has no L3 allocation" : "resctrl not mounted");
		return;
	}
	if (role == AL_SANDBOX_ROLE_SUPERVISOR) {
		set_item(p, AL_PART_CAT, "cat", AL_PART_OFF, "default group");
		return;
	}
	unsigned w = c->cbm_bits, pb = w / 4 > c->min_cbm_bits ? w / 4 : c->min_cbm_bits;
	if (w > 63 || pb >= w || w - pb < c->min_cbm_bits) {
		set_item(p, AL_PART_CAT, "cat", AL_PART_ABSENT, "L3 mask of %u bits too narrow to split", w);
		return;
	}
	unsigned long long full = (1ULL << w) - 1, pm = (1ULL << pb) - 1;
	unsigned long long mask = role == AL_SANDBOX_ROLE_AI ? full & ~pm : pm;
	schemata_line(p->l3, sizeof p->l3, "L3", c->l3_ids, c->n_l3, true, mask);
	set_item(p, AL_PART_CAT, "cat", AL_PART_ON, "%s", p->l3);
}

/*
 * Bandwidth: the protocol domain at most 20 %, the AI domain the rest, so
 * neither can saturate memory to signal to or starve the other.
 */
static void plan_mba(const struct al_partition_caps *c, enum al_sandbox_role role, struct al_partition_plan *p)
{
	if (!c->resctrl || !c->mba) {
		set_item(p, AL_PART_MBA, "mba", AL_PART_ABSENT, "%s",
			 c->resctrl ? "resctrl has no memory bandwidth allocation" : "resctrl not mounted");
		return;
	}
	if (role == AL_SANDBOX_ROLE_SUPERVISOR) {
		set_item(p, AL_PART_MBA, "mba", AL_PART_OFF, "default group");
		return;
	}
	unsigned g = c->mb_gran, proto = 20 / g * g;
	if (proto < c->mb_min)
		proto = c->mb_min;
	unsigned ai = (100 - proto) / g * g;
	if (ai < c->mb_min) {
		set_item(p, AL_PART_MBA, "mba", AL_PART_ABSENT, "minimum bandwidth %u%% too high to split", c->mb_min);
		return;
	}
	schemata_line(p->mb, sizeof p->mb, "MB", c->mb_ids, c->n_mb, false,
		      role == AL_SANDBOX_ROLE_AI ? ai : proto);
	set_item(p, AL_PART_MBA, "mba", AL_PART_ON, "%s", p->mb);
}

static void plan_spec(struct al_partition_plan *p, int idx, const char *name, bool want, bool offered,
		      unsigned long which, bool *out)
{
	const char *why;
	bool arch = al_arch_spec_offered(which, &why);
	*out = want && offered && arch;
	if (!want)
		set_item(p, idx, name, AL_PART_OFF, "not wanted");
	else if (!arch)
		set_item(p, idx, name, AL_PART_ABSENT, "%s", why);
	else if (offered)
		set_item(p, idx, name, AL_PART_ON, "force-disabled per task");
	else
		set_item(p, idx, name, AL_PART_ABSENT, "not controllable per task on this CPU/kernel");
}

void al_partition_plan(const struct al_partition_caps *c, const struct al_partition_want *w,
		       enum al_sandbox_role role, struct al_partition_plan *p)
{
	memset(p, 0, sizeof *p);
	p->n_cpus = c->n_cpus;

	if (w->cpus)
		plan_cpus(c, role, p);
	else
		set_item(p, AL_PART_CPUS, "cpus", AL_PART_OFF, "not wanted");

	if (!w->core_sched)
		set_item(p, AL_PART_CORE_SCHED, "core_sched", AL_PART_OFF, "not wanted");
	else if (role == AL_SANDBOX_ROLE_SUPERVISOR)
		set_item(p, AL_PART_CORE_SCHED, "core_sched", AL_PART_OFF, "trusted: no cookie");
	else if (c->core_sched) {
		p->core_sched = true;
		set_item(p, AL_PART_CORE_SCHED, "core_sched", AL_PART_ON, "own cookie per domain");
	} else {
		set_item(p, AL_PART_CORE_SCHED, "core_sched", AL_PART_ABSENT, "PR_SCHED_CORE: %s",
			 strerror(c->core_sched_err ? c->core_sched_err : ENODEV));
	}

	if (w->cat)
		plan_cat(c, role, p);
	else
		set_item(p, AL_PART_CAT, "cat", AL_PART_OFF, "not wanted");
	if (w->mba)
		plan_mba(c, role, p);
	else
		set_item(p, AL_PART_MBA, "mba", AL_PART_OFF, "not wanted");

	bool dom = role != AL_SANDBOX_ROLE_SUPERVISOR;
	plan_spec(p, AL_PART_SSB, "store_bypass", w->ssb && dom, c->spec_ssb, PR_SPEC_STORE_BYPASS, &p->ssb);
	plan_spec(p, AL_PART_IB, "indirect_branch", w->ib && dom, c->spec_ib, PR_SPEC_INDIRECT_BRANCH, &p->ib);
	plan_spec(p, AL_PART_L1D, "l1d_flush", w->l1d && dom, c->spec_l1d, PR_SPEC_L1D_FLUSH, &p->l1d);
	if (p->l1d)
		set_item(p, AL_PART_L1D, "l1d_flush", AL_PART_ON, "flush on context switch");

	const char *why;
	if (!w->tsc || !dom) {
		set_item(p, AL_PART_TSC, "tsc", AL_PART_OFF, "not wanted");
	} else if (!al_arch_tsc_offered(&why)) {
		set_item(p, AL_PART_TSC, "tsc", AL_PART_ABSENT, "%s", why);
	} else if (c->tsc_clock) {
		/* rdtsc faulting would kill the domain at its first clock_gettime */
		set_item(p, AL_PART_TSC, "tsc", AL_PART_ABSENT, "clock source %s reads the TSC in the vDSO",
			 c->clocksource);
	} else {
		p->tsc = true;
		set_item(p, AL_PART_TSC, "tsc", AL_PART_ON, "rdtsc faults (clock source %s)", c->clocksource);
	}
}

void al_partition_to_spec(const struct al_partition_plan *p, struct al_spec *spec)
{
	/* a CPU list named by the profile or the configuration wins */
	if (p->has_cpus && !spec->has_cpus) {
		spec->has_cpus = true;
		spec->cpus = p->cpus;
	}
	/*
	 * A CPU bandwidth quota at or above what the domain's CPUs can give (the
	 * pinned ones, else all the machine's) is no limit at all, yet the cpu
	 * cgroup it needs costs a domain that sleeps between requests its share:
	 * the group's weight follows its (low) average load, so on a busy
	 * machine it waits behind every other task each time it wakes
	 * (measured: -60 % tokens/s, airlock bench). It is left out.
	 */
	unsigned can = 100u * (unsigned)(spec->has_cpus ? CPU_COUNT(&spec->cpus) : p->n_cpus);
	if (can && spec->cg_cpu_percent >= can)
		spec->cg_cpu_percent = 0;
	spec->core_sched = p->core_sched;
	al_strlcpy(spec->resctrl_l3, p->l3, sizeof spec->resctrl_l3);
	al_strlcpy(spec->resctrl_mb, p->mb, sizeof spec->resctrl_mb);
	spec->spec_store_bypass = p->ssb;
	spec->spec_indirect_branch = p->ib;
	spec->spec_l1d_flush = p->l1d;
	spec->tsc_sigsegv = p->tsc;
}

int al_sandbox_apply_partition_env(struct al_spec *spec, const struct al_partition_want *want,
				   enum al_sandbox_role role, const struct al_partition_env *env,
				   struct al_partition_plan *out)
{
	if (!want)
		return -EINVAL;
	struct al_partition_caps *caps = malloc(sizeof *caps);
	struct al_partition_plan *plan = out ? out : malloc(sizeof *plan);
	if (!caps || !plan) {
		free(caps);
		if (!out)
			free(plan);
		return -ENOMEM;
	}
	al_partition_probe(env, caps);
	al_partition_plan(caps, want, role, plan);
	al_partition_to_spec(plan, spec);
	for (int i = 0; i < AL_PART_N; i++)
		if (plan->items[i].state == AL_PART_ABSENT)
			al_log_debug("partition: %s absent: %s", plan->items[i].name, plan->items[i].detail);
	free(caps);
	if (!out)
		free(plan);
	return 0;
}

int al_sandbox_apply_partition(struct al_spec *spec, const struct al_partition_want *want,
			       enum al_sandbox_role role)
{
	struct al_partition_env env = { .root = "/", .ops = &al_partition_ops_real };
	return al_sandbox_apply_partition_env(spec, want, role, &env, NULL);
}

int al_sandbox_place_self(const struct al_partition_want *want)
{
	struct al_spec spec;
	memset(&spec, 0, sizeof spec);
	int rc = al_sandbox_apply_partition(&spec, want, AL_SANDBOX_ROLE_SUPERVISOR);
	if (rc < 0 || !spec.has_cpus)
		return rc;
	if (!runner_cpus_saved && runner_cpus_get(&runner_cpus) == 0)
		runner_cpus_saved = true;
	return sched_setaffinity(0, sizeof spec.cpus, &spec.cpus) < 0 ? -errno : 0;
}

void *al_partition_plan_json(const struct al_partition_plan *p)
{
	json_t *a = json_array();
	for (int i = 0; i < AL_PART_N; i++)
		if (p->items[i].name)
			json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "item", p->items[i].name, "state",
							   al_partition_state_name(p->items[i].state), "detail",
							   p->items[i].detail));
	return a;
}
