/*
 * Responses and levels: the level state machine, the incident -> response
 * plan, forensic dumps, the alert hook; and
 * the integrity monitor whose findings trigger them.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "integrity/monitor.h"
#include "respond/level.h"
#include "respond/respond.h"
#include "testdir.h"

#define S 1000000000ULL

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- levels ---- */

static void test_level_up_at_once_down_slowly(void **state)
{
	struct al_level_state st;
	al_level_state_init(&st, AL_LEVEL_STANDARD, 10 * S);
	assert_false(al_level_incident(&st, AL_SEV_LOW, 1 * S));    /* recorded, no change */
	assert_int_equal(st.current, AL_LEVEL_STANDARD);
	assert_true(al_level_incident(&st, AL_SEV_HIGH, 2 * S));
	assert_int_equal(st.current, AL_LEVEL_HIGH);
	assert_true(al_level_incident(&st, AL_SEV_CRITICAL, 3 * S));
	assert_int_equal(st.current, AL_LEVEL_MAXIMUM);
	assert_false(al_level_incident(&st, AL_SEV_MEDIUM, 4 * S)); /* never lowers, restarts the quiet period */
	assert_false(al_level_tick(&st, 13 * S));
	assert_true(al_level_tick(&st, 14 * S));                    /* one step per quiet period */
	assert_int_equal(st.current, AL_LEVEL_HIGH);
	assert_false(al_level_tick(&st, 20 * S));
	assert_true(al_level_tick(&st, 24 * S));
	assert_int_equal(st.current, AL_LEVEL_STANDARD);
	assert_false(al_level_tick(&st, 100 * S));                  /* never below the base */
	assert_int_equal(st.threat, AL_LEVEL_MINIMAL);
	al_level_set(&st, AL_LEVEL_MINIMAL, 101 * S);
	assert_int_equal(st.base, AL_LEVEL_MINIMAL);
	assert_int_equal(st.current, AL_LEVEL_MINIMAL);
	assert_int_equal(st.incidents, 4);
	/* A tick whose time was taken before the incident it follows holds the level. */
	assert_true(al_level_incident(&st, AL_SEV_HIGH, 200 * S));
	assert_false(al_level_tick(&st, 199 * S));
	assert_int_equal(st.current, AL_LEVEL_HIGH);
}

static void test_level_policies(void **state)
{
	for (enum al_level l = AL_LEVEL_MINIMAL; l < AL_LEVEL_COUNT; l++) {
		const struct al_level_policy *p = al_level_policy(l);
		assert_int_equal(p->level, l);
		/* stricter levels never weaken a mechanism nor check less often */
		if (l > AL_LEVEL_MINIMAL) {
			const struct al_level_policy *q = al_level_policy(l - 1);
			const struct al_partition_want *a = &p->part, *b = &q->part;
			assert_true(a->cpus >= b->cpus && a->core_sched >= b->core_sched && a->cat >= b->cat &&
				    a->mba >= b->mba && a->ssb >= b->ssb && a->ib >= b->ib && a->l1d >= b->l1d &&
				    a->tsc >= b->tsc);
			assert_true(al_level_seccomp_rank(p->seccomp) >= al_level_seccomp_rank(q->seccomp));
			assert_true(p->integrity_interval_s <= q->integrity_interval_s);
			assert_true(p->budget_goal_pct >= q->budget_goal_pct);
			assert_true(p->audit_verbosity >= q->audit_verbosity);
		}
		/* the seed's claims are above our goals */
		assert_true(p->budget_claim_pct >= p->budget_goal_pct);
	}
	assert_int_equal(al_level_policy(AL_LEVEL_STANDARD)->seccomp, AL_SECCOMP_NOTIFY);
	assert_int_equal(al_level_policy(AL_LEVEL_HIGH)->seccomp, AL_SECCOMP_KILL);
	assert_true(al_level_policy(AL_LEVEL_MAXIMUM)->part.tsc);
	/* STANDARD: the protocol domain's I/O threads real-time while the CPUs
	 * are contended; from HIGH up (pinned) always; the AI domain stays in the
	 * default class; MINIMAL imposes nothing */
	assert_int_equal(al_level_policy(AL_LEVEL_MINIMAL)->sched_proto, AL_SCHED_DEFAULT);
	assert_int_equal(al_level_policy(AL_LEVEL_MINIMAL)->sched_ai, AL_SCHED_DEFAULT);
	assert_int_equal(al_level_policy(AL_LEVEL_STANDARD)->sched_proto, AL_SCHED_ADAPTIVE);
	for (enum al_level l = AL_LEVEL_STANDARD; l < AL_LEVEL_COUNT; l++) {
		if (l > AL_LEVEL_STANDARD)
			assert_int_equal(al_level_policy(l)->sched_proto, AL_SCHED_REALTIME);
		assert_int_equal(al_level_policy(l)->sched_ai, AL_SCHED_DEFAULT);
	}
	assert_int_equal(al_level_policy((enum al_level)99)->level, AL_LEVEL_MAXIMUM); /* fails strict */
	assert_true(al_level_needs_respawn(AL_LEVEL_STANDARD, AL_LEVEL_HIGH));
	assert_true(al_level_needs_respawn(AL_LEVEL_HIGH, AL_LEVEL_MAXIMUM));
	assert_true(al_level_needs_respawn(AL_LEVEL_MINIMAL, AL_LEVEL_STANDARD));
	assert_false(al_level_needs_respawn(AL_LEVEL_HIGH, AL_LEVEL_STANDARD));
	assert_false(al_level_needs_respawn(AL_LEVEL_HIGH, AL_LEVEL_HIGH));
	/* the one name table: names round-trip, the policy's name is the level's */
	for (enum al_level l = AL_LEVEL_MINIMAL; l < AL_LEVEL_COUNT; l++) {
		enum al_level back;
		assert_string_equal(al_level_name(l), al_level_policy(l)->name);
		assert_int_equal(al_level_parse(al_level_name(l), &back), 0);
		assert_int_equal(back, l);
	}
	enum al_level none;
	assert_int_equal(al_level_parse("extreme", &none), -EINVAL);
	assert_string_equal(al_level_name(AL_LEVEL_COUNT), "?");
}

static void test_plans(void **state)
{
	assert_int_equal(al_respond_plan(AL_INC_PRIV_ESCALATION), AL_STEP_FREEZE | AL_STEP_RESTART | AL_STEP_RAISE_LEVEL);
	assert_true(al_respond_plan(AL_INC_MEMORY_CORRUPTION) & AL_STEP_DUMP);
	assert_true(al_respond_plan(AL_INC_MEMORY_CORRUPTION) & AL_STEP_RESTART);
	assert_true(al_respond_plan(AL_INC_SIDE_CHANNEL) & AL_STEP_TIGHTEN);
	assert_false(al_respond_plan(AL_INC_SIDE_CHANNEL) & AL_STEP_RESTART);
	assert_true(al_respond_plan(AL_INC_INTEGRITY) & AL_STEP_LOCKDOWN);
	assert_int_equal(al_respond_plan(AL_INC_PROTOCOL_ABUSE), AL_STEP_AUDIT_UP);
	json_t *a = al_respond_steps_json(AL_STEP_FREEZE | AL_STEP_LOCKDOWN);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_array_get(a, 0)), "freeze");
	assert_string_equal(json_string_value(json_array_get(a, 1)), "lockdown");
	json_decref(a);
}

/* ---- dump and alert ---- */

static void test_dump(void **state)
{
	char dir[] = "/tmp/al-dump.XXXXXX";
	assert_non_null(mkdtemp(dir));
	pid_t pid = fork();
	if (pid == 0)
		for (;;)
			pause();
	json_t *inc = json_pack("{s:s}", "type", "memory-corruption");
	char *path = NULL;
	pid_t pids[] = {pid};
	assert_int_equal(al_respond_dump(dir, "ai", pids, 1, inc, &path), 0);
	char f[512];
	struct stat st;
	snprintf(f, sizeof f, "%s/%d.maps", path, (int)pid);
	assert_int_equal(stat(f, &st), 0);
	assert_true(st.st_size > 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(f, sizeof f, "%s/incident.json", path);
	json_t *back = json_load_file(f, 0, NULL);
	assert_non_null(back);
	assert_string_equal(json_string_value(json_object_get(back, "type")), "memory-corruption");
	json_decref(back);
	/* a second dump in the same second gets its own directory */
	char *path2 = NULL;
	assert_int_equal(al_respond_dump(dir, "ai", pids, 1, NULL, &path2), 0);
	assert_string_not_equal(path, path2);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	free(path);
	free(path2);
	json_decref(inc);
	t_rmtree(dir);
}

static void test_alert_hook(void **state)
{
	char dir[] = "/tmp/al-alert.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char script[256], out[256];
	snprintf(script, sizeof script, "%s/hook", dir);
	snprintf(out, sizeof out, "%s/got.json", dir);
	FILE *f = fopen(script, "w");
	fprintf(f, "#!/bin/sh\ncat > '%s.tmp' && mv '%s.tmp' '%s'\n", out, out, out);
	fclose(f);
	chmod(script, 0700);
	json_t *doc = json_pack("{s:s, s:s}", "type", "privilege-escalation", "domain", "ai");
	assert_int_equal(al_respond_alert(script, doc), 0);
	json_t *got = NULL;
	for (int i = 0; i < 500 && !(got = json_load_file(out, 0, NULL)); i++)
		nap_ms(10);
	assert_non_null(got);
	assert_true(json_equal(got, doc));
	json_decref(got);
	json_decref(doc);
	t_rmtree(dir);
}

/* ---- the integrity monitor ---- */

struct mon_fixture {
	char dir[32];
	char path[64];
	int fd;
	struct al_manifest_key key;
	unsigned char digest[AL_MANIFEST_DIGEST_LEN];
};

static void mon_setup(struct mon_fixture *fx, size_t size)
{
	strcpy(fx->dir, "/tmp/al-mon.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof fx->path, "%s/model.bin", fx->dir);
	int fd = open(fx->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	unsigned char *buf = malloc(size);
	randombytes_buf(buf, size);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	close(fd);
	free(buf);
	fx->fd = open(fx->path, O_RDONLY);
	randombytes_buf(fx->key.bytes, sizeof fx->key.bytes);
	assert_int_equal(al_manifest_hash_fd(&fx->key, fx->fd, fx->digest), 0);
}

static void mon_teardown(struct mon_fixture *fx)
{
	close(fx->fd);
	t_rmtree(fx->dir);
}

/* A large file is hashed in slices across ticks; a whole pass verifies. */
static void test_monitor_passes_in_slices(void **state)
{
	assert_true(sodium_init() >= 0);
	struct mon_fixture fx;
	mon_setup(&fx, 24u << 20);
	struct al_monitor *m = al_monitor_new(&fx.key, 1.0);
	assert_int_equal(al_monitor_add(m, "ai.model", fx.path, fx.fd, fx.digest), 0);
	struct al_monitor_finding f;
	struct al_monitor_stats st;
	int steps = 0;
	do {
		assert_int_equal(al_monitor_step(m, 0, S, &f), 0);
		al_monitor_stats(m, &st);
	} while (st.passes == 0 && ++steps < 1000);
	assert_int_equal(st.passes, 1);
	assert_true(steps > 1); /* 24 MiB is more than one tick's share of 1 % */
	assert_true(st.bytes >= (24u << 20));
	al_monitor_free(m);
	mon_teardown(&fx);
}

/* Content written in place: found at once, ahead of the schedule. */
static void test_monitor_in_place_write(void **state)
{
	struct mon_fixture fx;
	mon_setup(&fx, 1u << 20);
	struct al_monitor *m = al_monitor_new(&fx.key, 1.0);
	assert_int_equal(al_monitor_add(m, "ai.model", fx.path, fx.fd, fx.digest), 0);
	struct al_monitor_finding f;
	/* one full pass, then a long interval: nothing scheduled */
	for (int i = 0; i < 4; i++)
		assert_int_equal(al_monitor_step(m, 3600 * S, S, &f), 0);
	nap_ms(20); /* a distinct mtime */
	int w = open(fx.path, O_WRONLY);
	assert_int_equal(pwrite(w, "X", 1, 12345), 1);
	close(w);
	int rc = 0;
	for (int i = 0; i < 10 && rc == 0; i++)
		rc = al_monitor_step(m, 3600 * S, S, &f);
	assert_int_equal(rc, -EBADMSG);
	assert_string_equal(f.name, "ai.model");
	assert_string_equal(f.reason, "digest mismatch");
	al_monitor_free(m);
	mon_teardown(&fx);
}

/* Replaced by rename: the fd still verifies, the path is another file. */
static void test_monitor_replaced(void **state)
{
	struct mon_fixture fx;
	mon_setup(&fx, 4096);
	struct al_monitor *m = al_monitor_new(&fx.key, 1.0);
	assert_int_equal(al_monitor_add(m, "ai.model", fx.path, fx.fd, fx.digest), 0);
	struct al_monitor_finding f;
	assert_int_equal(al_monitor_step(m, 3600 * S, S, &f), 0);
	char tmp[96], cmd[512];
	snprintf(tmp, sizeof tmp, "%s/new", fx.dir);
	snprintf(cmd, sizeof cmd, "cp '%s' '%s' && mv '%s' '%s'", fx.path, tmp, tmp, fx.path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(al_monitor_step(m, 3600 * S, S, &f), -EBADMSG);
	assert_string_equal(f.reason, "replaced on disk");
	al_monitor_free(m);
	mon_teardown(&fx);
}

/* A running process checked as a domain is: this test itself is not confined. */
static void test_check_proc(void **state)
{
	struct al_proc_baseline b = {0};
	char why[256];
	enum al_proc_finding f = al_monitor_check_proc(getpid(), -1, &b, why, sizeof why);
	assert_int_equal(f, AL_PROC_UNCONFINED);
	assert_true(strlen(why) > 0);
	assert_int_equal(al_monitor_check_proc(0x3fffff, -1, &b, why, sizeof why), AL_PROC_GONE);
	assert_string_equal(al_proc_finding_name(AL_PROC_EXE), "exe-changed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_up_at_once_down_slowly),
		cmocka_unit_test(test_level_policies),
		cmocka_unit_test(test_plans),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_alert_hook),
		cmocka_unit_test(test_monitor_passes_in_slices),
		cmocka_unit_test(test_monitor_in_place_write),
		cmocka_unit_test(test_monitor_replaced),
		cmocka_unit_test(test_check_proc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
