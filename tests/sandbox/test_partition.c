/*
 * Partitioning (src/sandbox/partition.c, resctrl.c, cpu.c), per security
 * level: each level's wants come from its policy (src/respond/level.c).
 *
 * The present path runs against fake machines: a /sys tree in a scratch
 * directory (CPU topology, a resctrl mount with L3 and MB, the clock source)
 * and a recorded prctl table that answers as a kernel with core scheduling
 * and per-task speculation control would, and keeps every call it got. The
 * absent path runs against fake trees without those and against this
 * machine. On this machine, a domain spawned at STANDARD must show the
 * planned CPU list in /proc/PID/status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox.h"
#include "sandbox/sandbox_int.h"
#include "respond/level.h"
#include "testdir.h"

#ifndef PR_SPEC_L1D_FLUSH
#define PR_SPEC_L1D_FLUSH 2
#endif

/* What a level asks of the sandbox, as the supervisor hands it over. */
#define WANT(level) (&al_level_policy(level)->part)

/* ---- a recorded prctl ------------------------------------------------- */

struct call {
	int op;
	unsigned long a2, a3, a4, a5;
};
static struct call calls[64];
static size_t n_calls;
static bool fake_core_sched; /* the kernel has core scheduling */
static bool fake_spec;       /* speculation is controllable per task */

static int fake_prctl(int op, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
	if (n_calls < AL_ARRAY_LEN(calls))
		calls[n_calls++] = (struct call){ op, a2, a3, a4, a5 };
	if (op == PR_SCHED_CORE) {
		if (!fake_core_sched)
			return -ENODEV;
		if (a2 == PR_SCHED_CORE_GET && a5)
			*(uint64_t *)(uintptr_t)a5 = 0;
		return 0;
	}
	if (op == PR_GET_SPECULATION_CTRL)
		return fake_spec ? PR_SPEC_PRCTL | PR_SPEC_ENABLE : PR_SPEC_NOT_AFFECTED;
	return -EINVAL;
}

static const struct al_partition_ops fake_ops = { .prctl = fake_prctl };

/* ---- fake /sys trees --------------------------------------------------- */

static char tree[64];

static void put(const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", tree, rel);
	/* make the parents */
	for (char *p = path + strlen(tree) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(al_write_all(fd, text, strlen(text)), 0);
	close(fd);
}

static char *get(const char *rel)
{
	char path[512], *buf = NULL;
	snprintf(path, sizeof path, "%s/%s", tree, rel);
	if (al_read_file_at(AT_FDCWD, path, 1 << 16, &buf, NULL) < 0)
		return NULL;
	return buf;
}

static int rm_tree(const char *dir)
{
	return t_rmtree(dir);
}

static void new_tree(void)
{
	snprintf(tree, sizeof tree, "/tmp/al_partition.XXXXXX");
	assert_non_null(mkdtemp(tree));
	n_calls = 0;
}

/* 8 CPUs on 4 cores (siblings n and n+4), resctrl with L3 (20 ways, two
 * cache domains) and MB, an HPET clock. */
static void big_machine(void)
{
	new_tree();
	put("sys/devices/system/cpu/online", "0-7\n");
	for (int c = 0; c < 8; c++) {
		char rel[96], sib[16];
		snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", c);
		snprintf(sib, sizeof sib, "%d,%d\n", c % 4, c % 4 + 4);
		put(rel, sib);
	}
	put("sys/fs/resctrl/info/L3/cbm_mask", "fffff\n");
	put("sys/fs/resctrl/info/L3/min_cbm_bits", "1\n");
	put("sys/fs/resctrl/info/MB/min_bandwidth", "10\n");
	put("sys/fs/resctrl/info/MB/bandwidth_gran", "10\n");
	put("sys/fs/resctrl/schemata", "    L3:0=fffff;1=fffff\n    MB:0=100;1=100\n");
	put("sys/devices/system/clocksource/clocksource0/current_clocksource", "hpet\n");
	fake_core_sched = fake_spec = true;
}

/* 2 CPUs, no SMT, nothing else: this VM's shape. */
static void small_machine(void)
{
	new_tree();
	put("sys/devices/system/cpu/online", "0-1\n");
	put("sys/devices/system/cpu/cpu0/topology/thread_siblings_list", "0\n");
	put("sys/devices/system/cpu/cpu1/topology/thread_siblings_list", "1\n");
	put("sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc\n");
	fake_core_sched = fake_spec = false;
}

static struct al_partition_env env(void)
{
	return (struct al_partition_env){ .root = tree, .ops = &fake_ops };
}

static enum al_partition_state state(const struct al_partition_plan *p, int i)
{
	return p->items[i].state;
}

/* ---- present ----------------------------------------------------------- */

static void test_probe_present(void **unused)
{
	big_machine();
	struct al_partition_env e = env();
	struct al_partition_caps c;
	al_partition_probe(&e, &c);
	assert_int_equal(c.n_cpus, 8);
	assert_int_equal(c.n_cores, 4);
	assert_true(CPU_ISSET(4, &c.core[0]) && CPU_ISSET(0, &c.core[0]) && CPU_COUNT(&c.core[0]) == 2);
	assert_true(c.core_sched);
	assert_true(c.resctrl && c.cat && c.mba);
	assert_int_equal(c.cbm_bits, 20);
	assert_int_equal(c.n_l3, 2);
	assert_int_equal(c.l3_ids[1], 1);
	assert_int_equal(c.n_mb, 2);
	assert_int_equal(c.mb_min, 10);
	assert_false(c.tsc_clock);
	assert_true(c.spec_ssb && c.spec_ib && c.spec_l1d);
	rm_tree(tree);
}

/* What this architecture can control per task at all (arch_*.c): on arm64,
 * neither indirect branch speculation, nor L1D flush, nor the cycle counter. */
static bool arch_has(int item)
{
	const char *why;
	switch (item) {
	case AL_PART_IB:
		return al_arch_spec_offered(PR_SPEC_INDIRECT_BRANCH, &why);
	case AL_PART_L1D:
		return al_arch_spec_offered(PR_SPEC_L1D_FLUSH, &why);
	case AL_PART_TSC:
		return al_arch_tsc_offered(&why);
	default:
		return true;
	}
}

static void test_plan_maximum_present(void **unused)
{
	big_machine();
	struct al_partition_env e = env();
	struct al_spec ai, proto;
	struct al_partition_plan pa, pp;
	al_spec_init(&ai);
	al_spec_init(&proto);
	assert_int_equal(al_sandbox_apply_partition_env(&ai, WANT(AL_LEVEL_MAXIMUM), AL_SANDBOX_ROLE_AI, &e, &pa), 0);
	assert_int_equal(al_sandbox_apply_partition_env(&proto, WANT(AL_LEVEL_MAXIMUM), AL_SANDBOX_ROLE_PROTO, &e, &pp), 0);
	for (int i = 0; i < AL_PART_N; i++) {
		assert_int_equal(state(&pa, i), arch_has(i) ? AL_PART_ON : AL_PART_ABSENT);
		assert_int_equal(state(&pp, i), arch_has(i) ? AL_PART_ON : AL_PART_ABSENT);
	}
	/* one core (both siblings) for the protocol domain, three for the AI domain */
	cpu_set_t both;
	CPU_AND(&both, &ai.cpus, &proto.cpus);
	assert_int_equal(CPU_COUNT(&both), 0);
	assert_true(CPU_ISSET(0, &proto.cpus) && CPU_ISSET(4, &proto.cpus));
	assert_int_equal(CPU_COUNT(&proto.cpus), 2);
	assert_int_equal(CPU_COUNT(&ai.cpus), 6);
	assert_true(ai.core_sched && proto.core_sched);
	/* disjoint L3 ways in every cache domain; bandwidth 80/20 */
	assert_string_equal(proto.resctrl_l3, "L3:0=1f;1=1f");
	assert_string_equal(ai.resctrl_l3, "L3:0=fffe0;1=fffe0");
	assert_string_equal(proto.resctrl_mb, "MB:0=20;1=20");
	assert_string_equal(ai.resctrl_mb, "MB:0=80;1=80");
	assert_true(ai.spec_store_bypass);
	assert_true(ai.spec_indirect_branch == arch_has(AL_PART_IB) && ai.spec_l1d_flush == arch_has(AL_PART_L1D) &&
		    ai.tsc_sigsegv == arch_has(AL_PART_TSC));
	/* the supervisor sits with the protocol domain, in the default group */
	struct al_partition_plan ps;
	struct al_spec sup;
	memset(&sup, 0, sizeof sup);
	assert_int_equal(al_sandbox_apply_partition_env(&sup, WANT(AL_LEVEL_MAXIMUM), AL_SANDBOX_ROLE_SUPERVISOR, &e, &ps), 0);
	assert_true(CPU_EQUAL(&sup.cpus, &proto.cpus));
	assert_string_equal(sup.resctrl_l3, "");
	assert_false(sup.core_sched);
	al_spec_free(&ai);
	al_spec_free(&proto);
	rm_tree(tree);
}

static void test_levels_ordered(void **unused)
{
	big_machine();
	struct al_partition_env e = env();
	int on[AL_LEVEL_COUNT] = { 0 };
	for (enum al_level l = AL_LEVEL_MINIMAL; l < AL_LEVEL_COUNT; l++) {
		struct al_spec s;
		struct al_partition_plan p;
		al_spec_init(&s);
		assert_int_equal(al_sandbox_apply_partition_env(&s, WANT(l), AL_SANDBOX_ROLE_AI, &e, &p), 0);
		for (int i = 0; i < AL_PART_N; i++)
			on[l] += state(&p, i) == AL_PART_ON;
		if (l == AL_LEVEL_MINIMAL) {
			assert_false(s.has_cpus || s.core_sched || s.spec_store_bypass || s.spec_indirect_branch ||
				     s.spec_l1d_flush || s.tsc_sigsegv || s.resctrl_l3[0] || s.resctrl_mb[0]);
		}
		if (l == AL_LEVEL_STANDARD) {
			assert_true(s.core_sched && s.spec_store_bypass && s.spec_indirect_branch == arch_has(AL_PART_IB));
			assert_false(s.has_cpus || s.spec_l1d_flush || s.tsc_sigsegv || s.resctrl_l3[0]);
		}
		if (l == AL_LEVEL_HIGH) {
			assert_true(s.has_cpus && s.spec_l1d_flush == arch_has(AL_PART_L1D) && s.resctrl_l3[0]);
			assert_false(s.tsc_sigsegv || s.resctrl_mb[0]);
		}
		al_spec_free(&s);
	}
	/* less what the architecture has no control for (arm64: indirect branch
	 * from standard on, L1D flush from high, the TSC trap at maximum) */
	int ib = !arch_has(AL_PART_IB), l1d = !arch_has(AL_PART_L1D), tsc = !arch_has(AL_PART_TSC);
	assert_int_equal(on[0], 0);
	assert_int_equal(on[1], 3 - ib);
	assert_int_equal(on[2], 6 - ib - l1d);
	assert_int_equal(on[3], AL_PART_N - ib - l1d - tsc);
	rm_tree(tree);
}

/* An explicit CPU list (profile or configuration) is kept. */
static void test_explicit_cpus_win(void **unused)
{
	big_machine();
	struct al_partition_env e = env();
	struct al_spec s;
	al_spec_init(&s);
	assert_int_equal(al_cpu_parse_list("7", &s.cpus), 0);
	s.has_cpus = true;
	assert_int_equal(al_sandbox_apply_partition_env(&s, WANT(AL_LEVEL_HIGH), AL_SANDBOX_ROLE_AI, &e, NULL), 0);
	assert_int_equal(CPU_COUNT(&s.cpus), 1);
	assert_true(CPU_ISSET(7, &s.cpus));
	al_spec_free(&s);
	rm_tree(tree);
}

static void test_core_cookie_recorded(void **unused)
{
	n_calls = 0;
	fake_core_sched = true;
	assert_int_equal(al_cpu_core_cookie(&fake_ops), 0);
	assert_int_equal(n_calls, 1);
	assert_int_equal(calls[0].op, PR_SCHED_CORE);
	assert_int_equal(calls[0].a2, PR_SCHED_CORE_CREATE);
	assert_int_equal(calls[0].a3, 0);  /* this process */
	assert_int_equal(calls[0].a4, PR_SCHED_CORE_SCOPE_THREAD_GROUP);
	fake_core_sched = false;
	assert_int_equal(al_cpu_core_cookie(&fake_ops), -ENODEV);
}

/* The group is made, its schemata written, the task added, the group removed. */
static void test_resctrl_group_fake(void **unused)
{
	big_machine();
	struct al_partition_env e = env();
	struct al_spec s;
	al_spec_init(&s);
	assert_int_equal(al_sandbox_apply_partition_env(&s, WANT(AL_LEVEL_MAXIMUM), AL_SANDBOX_ROLE_PROTO, &e, NULL), 0);
	s.resctrl_root = tree;
	struct al_resctrl_group g;
	assert_int_equal(al_resctrl_create(&s, "airlock-test", &g), 0);
	char *t = get("sys/fs/resctrl/airlock-test/schemata");
	assert_non_null(t);
	assert_string_equal(t, "L3:0=1f;1=1f\nMB:0=20;1=20\n");
	free(t);
	assert_int_equal(al_resctrl_attach(&g, 4242), 0);
	t = get("sys/fs/resctrl/airlock-test/tasks");
	assert_string_equal(t, "4242\n");
	free(t);
	/* a second group of the same name is refused, not merged */
	struct al_resctrl_group g2;
	assert_int_equal(al_resctrl_create(&s, "airlock-test", &g2), -EEXIST);
	assert_int_equal(al_resctrl_create(&s, "../escape", &g2), -EINVAL);
	assert_int_equal(al_resctrl_destroy(&g), 0);
	char path[256];
	snprintf(path, sizeof path, "%s/sys/fs/resctrl/airlock-test", tree);
	assert_int_equal(access(path, F_OK), -1);
	/* no lines: no group at all */
	s.resctrl_l3[0] = s.resctrl_mb[0] = '\0';
	assert_int_equal(al_resctrl_create(&s, "airlock-none", &g), 0);
	assert_false(g.used);
	al_spec_free(&s);
	rm_tree(tree);
}

static const char *probe_path(void)
{
	const char *p = getenv("AL_PROBE");
	return p ? p : "./al_probe";
}

/* Why this machine cannot build a domain at all (no user namespaces for
 * this runner), or NULL when it should. */
static const char *domains_absent(void)
{
	char buf[32] = "";
	FILE *f = fopen("/proc/sys/user/max_user_namespaces", "r");
	bool none = f && fgets(buf, sizeof buf, f) && atoi(buf) == 0;
	if (f)
		fclose(f);
	if (none)
		return "user namespaces are disabled (user.max_user_namespaces = 0)";
	if (geteuid() == 0)
		return NULL;
	f = fopen("/proc/sys/kernel/unprivileged_userns_clone", "r");
	none = f && fgets(buf, sizeof buf, f) && atoi(buf) == 0;
	if (f)
		fclose(f);
	return none ? "unprivileged user namespaces are disabled "
		      "(kernel.unprivileged_userns_clone = 0)" : NULL;
}

/* al_domain_spawn makes the group and puts the child in it before it runs. */
static void test_spawn_joins_fake_group(void **unused)
{
	big_machine();
	struct al_partition_env e = env();
	struct al_spec s;
	char *argv[] = { "al_probe", "exit", NULL };
	al_spec_init(&s);
	assert_int_equal(al_profile_load(&s, "compute"), 0);
	assert_int_equal(al_sandbox_apply_partition_env(&s, WANT(AL_LEVEL_HIGH), AL_SANDBOX_ROLE_AI, &e, NULL), 0);
	/* the fake machine's CPUs and cookie are not this one's */
	s.has_cpus = false;
	s.core_sched = false;
	s.spec_store_bypass = s.spec_indirect_branch = s.spec_l1d_flush = false;
	s.resctrl_root = tree;
	s.exec_fd = open(probe_path(), O_RDONLY | O_CLOEXEC);
	assert_true(s.exec_fd >= 0);
	s.argv = argv;
	assert_int_equal(al_seccomp_prepare(&s), 0);
	struct al_domain *d = NULL;
	int rc = al_domain_spawn(&s, &d);
	if (rc < 0) {
		close(s.exec_fd);
		al_spec_free(&s);
		rm_tree(tree);
		const char *why = domains_absent();
		if (!why)
			fail_msg("spawn failed: %s (step: %s)", strerror(-rc),
				 al_sandbox_strerror(al_sandbox_last_step()));
		fprintf(stderr, "test_spawn_joins_fake_group: skipped, %s\n", why);
		skip();
	}
	char rel[128], want[32];
	snprintf(rel, sizeof rel, "sys/fs/resctrl/airlock-compute-%d-1/tasks", (int)getpid());
	char *t = get(rel);
	assert_non_null(t);
	snprintf(want, sizeof want, "%d\n", (int)al_domain_pid(d));
	assert_string_equal(t, want);
	free(t);
	al_domain_free(d);
	snprintf(rel, sizeof rel, "%s/sys/fs/resctrl/airlock-compute-%d-1", tree, (int)getpid());
	assert_int_equal(access(rel, F_OK), -1);
	close(s.exec_fd);
	al_spec_free(&s);
	rm_tree(tree);
}

/* A CPU quota no smaller than the domain's CPUs can give is left out; a real one stays. */
static void test_quota_that_limits_nothing(void **unused)
{
	small_machine();
	struct al_partition_env e = env();
	struct al_spec s;
	al_spec_init(&s);
	s.cg_cpu_percent = 200; /* both CPUs of two: no limit */
	assert_int_equal(al_sandbox_apply_partition_env(&s, WANT(AL_LEVEL_MINIMAL), AL_SANDBOX_ROLE_AI, &e, NULL), 0);
	assert_int_equal(s.cg_cpu_percent, 0);
	s.cg_cpu_percent = 100; /* one of two, unpinned: a limit */
	assert_int_equal(al_sandbox_apply_partition_env(&s, WANT(AL_LEVEL_STANDARD), AL_SANDBOX_ROLE_PROTO, &e, NULL), 0);
	assert_int_equal(s.cg_cpu_percent, 100);
	s.cg_cpu_percent = 50;  /* pinned to one CPU, half of it: a limit */
	assert_int_equal(al_sandbox_apply_partition_env(&s, WANT(AL_LEVEL_HIGH), AL_SANDBOX_ROLE_PROTO, &e, NULL), 0);
	assert_int_equal(s.cg_cpu_percent, 50);
	s.cg_cpu_percent = 100; /* pinned to one CPU, all of it: the pinning is the limit */
	assert_int_equal(al_sandbox_apply_partition_env(&s, WANT(AL_LEVEL_HIGH), AL_SANDBOX_ROLE_PROTO, &e, NULL), 0);
	assert_int_equal(s.cg_cpu_percent, 0);
	al_spec_free(&s);
	rm_tree(tree);
}

/* ---- absent ------------------------------------------------------------ */

static void test_absent_fake(void **unused)
{
	small_machine();
	struct al_partition_env e = env();
	struct al_spec ai, proto;
	struct al_partition_plan pa;
	al_spec_init(&ai);
	al_spec_init(&proto);
	assert_int_equal(al_sandbox_apply_partition_env(&ai, WANT(AL_LEVEL_MAXIMUM), AL_SANDBOX_ROLE_AI, &e, &pa), 0);
	assert_int_equal(al_sandbox_apply_partition_env(&proto, WANT(AL_LEVEL_MAXIMUM), AL_SANDBOX_ROLE_PROTO, &e, NULL), 0);
	/* two CPUs: one each */
	assert_int_equal(state(&pa, AL_PART_CPUS), AL_PART_ON);
	assert_true(CPU_ISSET(1, &ai.cpus) && CPU_COUNT(&ai.cpus) == 1);
	assert_true(CPU_ISSET(0, &proto.cpus) && CPU_COUNT(&proto.cpus) == 1);
	for (int i = AL_PART_CORE_SCHED; i < AL_PART_N; i++)
		assert_int_equal(state(&pa, i), AL_PART_ABSENT);
	assert_non_null(strstr(pa.items[AL_PART_CAT].detail, "not mounted"));
	assert_non_null(strstr(pa.items[AL_PART_TSC].detail, "tsc"));
	assert_false(ai.core_sched || ai.tsc_sigsegv || ai.spec_store_bypass);
	assert_string_equal(ai.resctrl_l3, "");
	assert_string_equal(ai.resctrl_mb, "");
	al_spec_free(&ai);
	al_spec_free(&proto);
	rm_tree(tree);

	/* one CPU: nothing to split */
	new_tree();
	put("sys/devices/system/cpu/online", "0\n");
	struct al_partition_plan p1;
	struct al_spec s;
	al_spec_init(&s);
	assert_int_equal(al_sandbox_apply_partition_env(&s, WANT(AL_LEVEL_HIGH), AL_SANDBOX_ROLE_AI, &e, &p1), 0);
	assert_int_equal(state(&p1, AL_PART_CPUS), AL_PART_ABSENT);
	assert_false(s.has_cpus);
	al_spec_free(&s);
	/* resctrl mounted without L3 or MB: absent with that reason */
	put("sys/fs/resctrl/info/last_cmd_status", "ok\n");
	put("sys/fs/resctrl/schemata", "\n");
	al_spec_init(&s);
	assert_int_equal(al_sandbox_apply_partition_env(&s, WANT(AL_LEVEL_MAXIMUM), AL_SANDBOX_ROLE_AI, &e, &p1), 0);
	assert_int_equal(state(&p1, AL_PART_CAT), AL_PART_ABSENT);
	assert_non_null(strstr(p1.items[AL_PART_CAT].detail, "no L3"));
	assert_int_equal(state(&p1, AL_PART_MBA), AL_PART_ABSENT);
	al_spec_free(&s);
	rm_tree(tree);
}

/* This machine, as it is: what it lacks is planned absent, nothing fails. */
static void test_this_machine(void **unused)
{
	struct al_partition_env e = { .root = "/", .ops = &al_partition_ops_real };
	struct al_partition_caps c;
	al_partition_probe(&e, &c);
	struct al_partition_plan p;
	al_partition_plan(&c, WANT(AL_LEVEL_MAXIMUM), AL_SANDBOX_ROLE_AI, &p);
	bool resctrl = access("/sys/fs/resctrl/info", F_OK) == 0;
	assert_int_equal(c.resctrl, resctrl);
	if (!resctrl) {
		assert_int_equal(state(&p, AL_PART_CAT), AL_PART_ABSENT);
		assert_int_equal(state(&p, AL_PART_MBA), AL_PART_ABSENT);
	}
	uint64_t cookie;
	bool core_sched = prctl(PR_SCHED_CORE, PR_SCHED_CORE_GET, 0, PR_SCHED_CORE_SCOPE_THREAD,
				(unsigned long)&cookie) == 0;
	assert_int_equal(c.core_sched, core_sched);
	assert_int_equal(state(&p, AL_PART_CORE_SCHED), core_sched ? AL_PART_ON : AL_PART_ABSENT);
	cpu_set_t mine;
	assert_int_equal(sched_getaffinity(0, sizeof mine, &mine), 0);
	assert_int_equal(c.n_cpus, CPU_COUNT(&mine));
	json_t *json = al_partition_plan_json(&p);
	assert_int_equal(json_array_size(json), AL_PART_N);
	json_decref(json);
}

/* A domain spawned at HIGH runs on the planned CPUs, read back from /proc. */
static void test_pinning_read_back(void **unused)
{
	cpu_set_t mine;
	assert_int_equal(sched_getaffinity(0, sizeof mine, &mine), 0);
	if (CPU_COUNT(&mine) < 2) {
		fprintf(stderr, "test_pinning_read_back: skipped, the runner may use %d CPU "
			"(two needed to tell placements apart)\n", CPU_COUNT(&mine));
		skip();
	}
	for (int role = AL_SANDBOX_ROLE_AI; role <= AL_SANDBOX_ROLE_PROTO; role++) {
		struct al_spec s;
		struct al_partition_plan plan;
		char *argv[] = { "al_probe", "exit", NULL };
		al_spec_init(&s);
		assert_int_equal(al_profile_load(&s, "compute"), 0);
		struct al_partition_env e = { .root = "/", .ops = &al_partition_ops_real };
		assert_int_equal(al_sandbox_apply_partition_env(&s, WANT(AL_LEVEL_HIGH), (enum al_sandbox_role)role,
							    &e, &plan), 0);
		assert_int_equal(state(&plan, AL_PART_CPUS), AL_PART_ON);
		s.exec_fd = open(probe_path(), O_RDONLY | O_CLOEXEC);
		assert_true(s.exec_fd >= 0);
		s.argv = argv;
		assert_int_equal(al_seccomp_prepare(&s), 0);
		struct al_domain *d = NULL;
		assert_int_equal(al_domain_spawn(&s, &d), 0);
		char path[64], *status = NULL;
		snprintf(path, sizeof path, "/proc/%d/status", (int)al_domain_pid(d));
		assert_int_equal(al_read_file_at(AT_FDCWD, path, 1 << 16, &status, NULL), 0);
		char *l = strstr(status, "Cpus_allowed_list:");
		assert_non_null(l);
		l += strlen("Cpus_allowed_list:");
		while (*l == ' ' || *l == '\t')
			l++;
		l[strcspn(l, "\n")] = '\0';
		cpu_set_t got;
		assert_int_equal(al_cpu_parse_list(l, &got), 0);
		assert_true(CPU_EQUAL(&got, &plan.cpus));
		free(status);
		/* and the attestation agrees */
		assert_int_equal(al_domain_attest(d, &s, NULL, NULL), 0);
		al_domain_free(d);
		close(s.exec_fd);
		al_spec_free(&s);
	}
	/* the two roles never overlap */
	struct al_partition_env e = { .root = "/", .ops = &al_partition_ops_real };
	struct al_partition_caps c;
	struct al_partition_plan pa, pp;
	al_partition_probe(&e, &c);
	al_partition_plan(&c, WANT(AL_LEVEL_HIGH), AL_SANDBOX_ROLE_AI, &pa);
	al_partition_plan(&c, WANT(AL_LEVEL_HIGH), AL_SANDBOX_ROLE_PROTO, &pp);
	cpu_set_t both;
	CPU_AND(&both, &pa.cpus, &pp.cpus);
	assert_int_equal(CPU_COUNT(&both), 0);
}

int main(void)
{
	al_log_init("test_partition", AL_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_present),
		cmocka_unit_test(test_plan_maximum_present),
		cmocka_unit_test(test_levels_ordered),
		cmocka_unit_test(test_explicit_cpus_win),
		cmocka_unit_test(test_core_cookie_recorded),
		cmocka_unit_test(test_resctrl_group_fake),
		cmocka_unit_test(test_spawn_joins_fake_group),
		cmocka_unit_test(test_quota_that_limits_nothing),
		cmocka_unit_test(test_absent_fake),
		cmocka_unit_test(test_this_machine),
		cmocka_unit_test(test_pinning_read_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
