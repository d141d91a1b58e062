/*
 * Freezing (src/sandbox/freeze.c) on real processes: by cgroup v2
 * (cgroup.freeze, on a cgroup2 hierarchy mounted for the test), by the v1
 * freezer (the domain's cgroups as al_cgroup_create makes them), by SIGSTOP,
 * and a whole domain through al_domain_freeze. Each checks that every task
 * stops and thaws, and that freezing moves no task out of its cgroup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "sandbox/sandbox_int.h"

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Shared counters: [0] the child, [1] its child, [2] set once the child may fork. */
struct counting {
	volatile _Atomic uint64_t *c;
	pid_t pid, kid;
};

static void counting_start(struct counting *k)
{
	k->c = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(k->c != MAP_FAILED);
	pid_t parent = getpid();
	k->pid = fork();
	assert_true(k->pid >= 0);
	if (k->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		while (!atomic_load(&k->c[2]))
			;
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;)
				atomic_fetch_add(&k->c[1], 1);
		}
		for (;;)
			atomic_fetch_add(&k->c[0], 1);
	}
}

/* Lets the child fork (after it was put in its cgroup: the grandchild is born there). */
static void counting_go(struct counting *k)
{
	atomic_store(&k->c[2], 1);
	while (atomic_load(&k->c[1]) == 0)
		nap_ms(1);
	pid_t kids[4];
	assert_int_equal(al_proc_children(k->pid, kids, 4), 1);
	k->kid = kids[0];
}

/* Both counters move (within 5 s: on a loaded machine a thawed task may wait for a CPU). */
static bool counting(struct counting *k)
{
	uint64_t a = atomic_load(&k->c[0]), b = atomic_load(&k->c[1]);
	for (int i = 0; i < 500; i++) {
		nap_ms(10);
		if (atomic_load(&k->c[0]) != a && atomic_load(&k->c[1]) != b)
			return true;
	}
	return false;
}

static bool stopped(struct counting *k)
{
	uint64_t a = atomic_load(&k->c[0]), b = atomic_load(&k->c[1]);
	nap_ms(30);
	return atomic_load(&k->c[0]) == a && atomic_load(&k->c[1]) == b;
}

static void counting_end(struct counting *k)
{
	if (k->kid > 0)
		kill(k->kid, SIGKILL);
	kill(k->pid, SIGKILL);
	int st;
	assert_int_equal(waitpid(k->pid, &st, 0), k->pid);
	munmap((void *)k->c, 4096);
}

/* /proc/PID/cgroup, whole: every hierarchy's path of the task. */
static char *cgroups_of(pid_t pid)
{
	char path[64];
	char *buf = NULL;
	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
	assert_true(al_read_file_at(AT_FDCWD, path, 65536, &buf, NULL) >= 0);
	return buf;
}

static void print_state(pid_t pid)
{
	char path[64];
	AL_AUTOFREE char *buf = NULL;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (al_read_file_at(AT_FDCWD, path, 65536, &buf, NULL) < 0)
		return;
	char *st = strstr(buf, "\nState:");
	if (st) {
		st[strcspn(st + 1, "\n") + 1] = '\0';
		print_message("pid %d%s\n", (int)pid, st);
	}
}

/* Freeze, check, thaw, check, with the cgroups of both tasks unchanged throughout. */
static void cycle(struct al_cgroup *cg, struct counting *k, enum al_freeze_method m)
{
	AL_AUTOFREE char *before = cgroups_of(k->pid), *kid_before = cgroups_of(k->kid);
	assert_true(counting(k));
	assert_int_equal(al_freeze_tasks(cg, k->pid, m, true), 0);
	assert_true(al_tasks_frozen(cg, k->pid, m));
	assert_true(stopped(k));
	print_state(k->pid);
	print_state(k->kid);
	AL_AUTOFREE char *during = cgroups_of(k->pid), *kid_during = cgroups_of(k->kid);
	assert_string_equal(before, during);
	assert_string_equal(kid_before, kid_during);
	assert_int_equal(al_freeze_tasks(cg, k->pid, m, false), 0);
	assert_true(counting(k));
	AL_AUTOFREE char *after = cgroups_of(k->pid);
	assert_string_equal(before, after);
}

static bool file_has(const char *dir, const char *file, const char *needle)
{
	char p[PATH_MAX + 64];
	AL_AUTOFREE char *buf = NULL;
	snprintf(p, sizeof p, "%s/%s", dir, file);
	return al_read_file_at(AT_FDCWD, p, 4096, &buf, NULL) >= 0 && strstr(buf, needle);
}

/* This process's v2 path ("0::PATH"), "/" on a host whose v2 hierarchy is empty. */
static void own_v2(char *out, size_t len)
{
	AL_AUTOFREE char *buf = cgroups_of(getpid());
	char *l = strstr(buf, "0::");
	al_strlcpy(out, l ? l + 3 : "/", len);
	out[strcspn(out, "\n")] = '\0';
}

/*
 * cgroup v2: the domain's cgroup is its limits cgroup, and cgroup.freeze of
 * that same directory freezes it; the tasks stay in it.
 */
static void test_freeze_v2(void **state)
{
	char mnt[] = "/tmp/al-cg2.XXXXXX";
	assert_non_null(mkdtemp(mnt));
	if (mount("none", mnt, "cgroup2", 0, NULL) < 0) {
		print_message("skipped: mount -t cgroup2 refused: %s\n", strerror(errno));
		rmdir(mnt);
		skip();
	}
	char own[1024];
	own_v2(own, sizeof own);
	struct al_cgroup cg = { .v2 = true, .used = true };
	snprintf(cg.dir[0], sizeof cg.dir[0], "%s%s/airlock-freeze-test-%d", mnt, strcmp(own, "/") ? own : "",
		 (int)getpid());
	bool made = mkdir(cg.dir[0], 0755) == 0;
	struct counting k = { 0 };
	counting_start(&k);
	char pid[24];
	snprintf(pid, sizeof pid, "%d", (int)k.pid);
	int rc = made ? al_cgroup_write(cg.dir[0], "cgroup.procs", pid) : -errno;
	if (rc < 0 || al_cgroup_freeze_method(&cg) != AL_FREEZE_CGROUP_V2) {
		print_message("skipped: no v2 cgroup with cgroup.freeze for the test (%s)\n",
			      rc < 0 ? strerror(-rc) : "no cgroup.freeze");
		atomic_store(&k.c[2], 1);
		counting_end(&k);
		if (made)
			rmdir(cg.dir[0]);
		umount2(mnt, MNT_DETACH);
		rmdir(mnt);
		skip();
	}
	counting_go(&k);
	AL_AUTOFREE char *mine = cgroups_of(k.pid);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof want, "0::%s/airlock-freeze-test-%d\n", strcmp(own, "/") ? own : "", (int)getpid());
	assert_non_null(strstr(mine, want));
	cycle(&cg, &k, AL_FREEZE_CGROUP_V2);
	/* what the kernel says about the cgroup itself */
	assert_int_equal(al_freeze_tasks(&cg, k.pid, AL_FREEZE_CGROUP_V2, true), 0);
	assert_true(file_has(cg.dir[0], "cgroup.events", "frozen 1"));
	assert_true(file_has(cg.dir[0], "cgroup.freeze", "1"));
	AL_AUTOFREE char *frozen = cgroups_of(k.pid);
	assert_non_null(strstr(frozen, want));
	/* a frozen v2 task dies of SIGKILL */
	counting_end(&k);
	for (int i = 0; i < 200 && rmdir(cg.dir[0]) < 0 && errno == EBUSY; i++)
		nap_ms(5);
	assert_int_not_equal(access(cg.dir[0], F_OK), 0);
	assert_int_equal(umount2(mnt, MNT_DETACH), 0);
	rmdir(mnt);
}

/*
 * cgroup v1: the freezer directory comes with the limit ones from
 * al_cgroup_create and is joined by al_cgroup_attach; destroy removes all.
 */
static void test_freeze_v1(void **state)
{
	struct al_spec spec;
	al_spec_init(&spec);
	spec.cg_pids = 64;
	struct al_cgroup cg;
	if (al_cgroup_create(&spec, &cg) < 0 || !cg.used) {
		al_spec_free(&spec);
		print_message("skipped: no writable cgroup for this runner\n");
		skip();
	}
	if (al_cgroup_freeze_method(&cg) != AL_FREEZE_CGROUP_V1) {
		print_message("skipped: the domain's cgroups here freeze by %s\n",
			      al_freeze_method_name(al_cgroup_freeze_method(&cg)));
		al_cgroup_destroy(&cg);
		al_spec_free(&spec);
		skip();
	}
	char freezer[PATH_MAX];
	al_strlcpy(freezer, cg.dir[AL_CG_FREEZER], sizeof freezer);
	struct counting k = { 0 };
	counting_start(&k);
	assert_int_equal(al_cgroup_attach(&cg, k.pid), 0);
	counting_go(&k);
	AL_AUTOFREE char *mine = cgroups_of(k.pid);
	const char *leaf = strrchr(freezer, '/');
	assert_non_null(strstr(mine, leaf)); /* in the freezer and pids cgroups */
	cycle(&cg, &k, AL_FREEZE_CGROUP_V1);
	assert_int_equal(al_freeze_tasks(&cg, k.pid, AL_FREEZE_CGROUP_V1, true), 0);
	assert_true(file_has(freezer, "freezer.state", "FROZEN"));
	/* a v1-frozen task dies only once thawed */
	kill(k.kid, SIGKILL);
	kill(k.pid, SIGKILL);
	assert_int_equal(al_freeze_tasks(&cg, k.pid, AL_FREEZE_CGROUP_V1, false), 0);
	k.kid = 0;
	counting_end(&k);
	assert_int_equal(al_cgroup_destroy(&cg), 0);
	assert_int_not_equal(access(freezer, F_OK), 0);
	al_spec_free(&spec);
}

static void test_freeze_sigstop(void **state)
{
	struct al_cgroup cg;
	memset(&cg, 0, sizeof cg);
	assert_int_equal(al_cgroup_freeze_method(&cg), AL_FREEZE_SIGSTOP);
	struct counting k = { 0 };
	counting_start(&k);
	counting_go(&k);
	cycle(&cg, &k, AL_FREEZE_SIGSTOP);
	counting_end(&k);
}

/* A whole domain: frozen in its own cgroups, killed while frozen, nothing left. */
static void test_domain_freeze(void **state)
{
	const char *probe = getenv("AL_PROBE");
	char *argv[] = { "probe", "pause", NULL };
	struct al_spec s;
	al_spec_init(&s);
	assert_int_equal(al_profile_load(&s, "tool"), 0);
	s.exec_fd = open(probe ? probe : "./al_probe", O_RDONLY | O_CLOEXEC);
	assert_true(s.exec_fd >= 0);
	s.argv = argv;
	s.cg_pids = 16;
	assert_int_equal(al_seccomp_prepare(&s), 0);
	struct al_domain *d = NULL;
	assert_int_equal(al_domain_spawn(&s, &d), 0);
	assert_int_equal(al_domain_start(d), 0);
	pid_t init = al_domain_pid(d), prog[2];
	for (int i = 0; i < 500 && al_proc_children(init, prog, 2) < 1; i++)
		nap_ms(2);
	assert_int_equal(al_proc_children(init, prog, 2), 1);
	AL_AUTOFREE char *before = cgroups_of(prog[0]);
	enum al_freeze_method m = al_domain_freeze_method(d);
	print_message("domain frozen by %s\n", al_freeze_method_name(m));
	assert_int_equal(al_domain_freeze(d), 0);
	assert_true(al_domain_frozen(d));
	assert_int_equal(al_domain_freeze_method(d), m);
	AL_AUTOFREE char *during = cgroups_of(prog[0]);
	assert_string_equal(before, during);
	print_state(prog[0]);
	assert_int_equal(al_domain_thaw(d), 0);
	assert_false(al_domain_frozen(d));
	/* frozen again, then killed: the kill thaws it so that it can die */
	assert_int_equal(al_domain_freeze(d), 0);
	assert_int_equal(al_domain_kill(d, SIGKILL), 0);
	int st;
	assert_int_equal(al_domain_wait(d, &st), 0);
	assert_true(WIFSIGNALED(st) || WEXITSTATUS(st) == 128 + SIGKILL);
	al_domain_free(d);
	close(s.exec_fd);
	al_spec_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_freeze_v2),
		cmocka_unit_test(test_freeze_v1),
		cmocka_unit_test(test_freeze_sigstop),
		cmocka_unit_test(test_domain_freeze),
	};
	if (geteuid() != 0) {
		print_message("freezing needs root for cgroups: SIGSTOP only\n");
		const struct CMUnitTest some[] = { cmocka_unit_test(test_freeze_sigstop) };
		return cmocka_run_group_tests(some, NULL, NULL);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
