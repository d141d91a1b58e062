/*
 * The bench's count of other tasks' CPU time (bench/lib/others.c), with real
 * processes: one that is not ours (started through a parent that exits, so
 * that it belongs to the machine, not to this test) and one child of ours,
 * each burning CPU between two snapshots. Only the first is counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "others.h"

#define BURN_MS 60

static void burn(const char *name)
{
	(void)prctl(PR_SET_NAME, name, 0, 0, 0);
	struct timespec t0, t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	do
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < BURN_MS);
}

/* A burner's life: waits for a byte on go, burns, says so on ok, and ends when
 * go closes (the test's end, or its failure). writers: the go pipes' write
 * ends, which only the test may hold. */
static void burner(int go, int ok, const int writers[2], const char *name)
{
	char c;
	close(writers[0]);
	close(writers[1]);
	if (read(go, &c, 1) != 1)
		_exit(1);
	burn(name);
	(void)!write(ok, "k", 1);
	(void)!read(go, &c, 1);
	_exit(0);
}

static uint64_t ns_of(const struct al_bench_others_use *u, const char *name)
{
	for (size_t k = 0; k < u->n; k++)
		if (strcmp(u->by[k].comm, name) == 0)
			return u->by[k].ns;
	return 0;
}

static void test_counts_others_not_ours(void **state)
{
	(void)state;
	struct al_bench_others_snap probe = { 0 };
	int prc = al_bench_others_snap(&probe);
	al_bench_others_free(&probe);
	if (prc == -ENOTSUP) {
		printf("# skipped: no /proc/PID/task/TID/children in this kernel: the bench says so and counts nothing\n");
		skip();
	}
	assert_int_equal(prc, 0);
	/* go[]: a byte lets the burners start; ok[]: each says it is done */
	int go_f[2], ok_f[2], go_o[2], ok_o[2], pid_f[2];
	assert_int_equal(pipe(pid_f), 0);
	assert_int_equal(pipe(go_f), 0);
	assert_int_equal(pipe(ok_f), 0);
	assert_int_equal(pipe(go_o), 0);
	assert_int_equal(pipe(ok_o), 0);
	pid_t mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {
		/* the foreign burner: its parent exits at once */
		pid_t g = fork();
		if (g == 0)
			burner(go_f[0], ok_f[1], (int[]){ go_f[1], go_o[1] }, "al-other-burn\x1b[");
		(void)!write(pid_f[1], &g, sizeof g);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(mid, &st, 0), mid);
	pid_t foreign = 0;
	assert_int_equal(read(pid_f[0], &foreign, sizeof foreign), (ssize_t)sizeof foreign);
	assert_true(foreign > 0);
	pid_t own = fork();
	assert_true(own >= 0);
	if (own == 0)
		burner(go_o[0], ok_o[1], (int[]){ go_f[1], go_o[1] }, "al-own-burn");
	usleep(50000); /* both named and waiting */
	struct al_bench_others_snap a = { 0 }, b = { 0 };
	assert_int_equal(al_bench_others_snap(&a), 0);
	assert_true(a.n > 0);
	char c;
	assert_int_equal(write(go_f[1], "g", 1), 1);
	assert_int_equal(write(go_o[1], "g", 1), 1);
	assert_int_equal(read(ok_f[0], &c, 1), 1);
	assert_int_equal(read(ok_o[0], &c, 1), 1);
	assert_int_equal(al_bench_others_snap(&b), 0);
	struct al_bench_others_use u = { 0 };
	al_bench_others_add(&u, &a, &b);
	al_bench_others_sort(&u);
	/* its name carries an escape character: shown as '?' */
	uint64_t other = ns_of(&u, "al-other-burn?["), mine = ns_of(&u, "al-own-burn");
	printf("  other tasks: %.1f ms over %.1f ms; al-other-burn?[ %.1f ms, al-own-burn %.1f ms\n",
	       (double)u.total_ns / 1e6, (double)u.wall_ns / 1e6, (double)other / 1e6, (double)mine / 1e6);
	assert_true(other >= (uint64_t)(BURN_MS - 5) * 1000000u);
	assert_int_equal(mine, 0);
	assert_true(u.total_ns >= other);
	for (size_t k = 1; k < u.n; k++)
		assert_true(u.by[k - 1].ns >= u.by[k].ns);
	al_bench_others_free(&a);
	al_bench_others_free(&b);
	/* Both end when their pipe closes (so they do too if an assertion above
	 * ends this test); the foreign one is reaped by its new parent. */
	close(go_f[1]);
	close(go_o[1]);
	assert_int_equal(waitpid(own, &st, 0), own);
	for (int i = 0; i < 100 && kill(foreign, 0) == 0; i++)
		usleep(10000);
	int fds[] = { go_f[0], ok_f[0], ok_f[1], go_o[0], ok_o[0], ok_o[1], pid_f[0], pid_f[1] };
	for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
		close(fds[i]);
}

/* Hostile and malformed /proc texts: a name cannot carry a control byte or
 * overrun, a CPU time that is not a number is refused. */
static void test_parse_malformed(void **state)
{
	uint64_t ns = 7;
	char name[16];
	assert_int_equal(al_bench_other_parse("123 4 5\n", "bash\n", false, &ns, name), 0);
	assert_true(ns == 123);
	assert_string_equal(name, "bash");
	assert_int_equal(al_bench_other_parse("9", "kworker/u8:4-events\n", true, &ns, name), 0);
	assert_string_equal(name, "kworker");
	/* a process's own name keeps its slash: only kernel threads are grouped */
	assert_int_equal(al_bench_other_parse("9", "a/b\n", false, &ns, name), 0);
	assert_string_equal(name, "a/b");
	assert_int_equal(al_bench_other_parse("9", "\x1b[31mred\x7f\xff", false, &ns, name), 0);
	assert_string_equal(name, "?[31mred??");
	assert_int_equal(al_bench_other_parse("9", "0123456789abcdefghij", false, &ns, name), 0);
	assert_string_equal(name, "0123456789abcde");
	assert_int_equal(al_bench_other_parse("9", "", false, &ns, name), 0);
	assert_string_equal(name, "");
	ns = 7;
	static const char *const bad[] = { "", " 1", "\n", "-1 2 3", "+1", "abc", "1a 2",
					    "18446744073709551616", "123456789012345678901234567890" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (al_bench_other_parse(bad[i], "x", false, &ns, name) != -EINVAL)
			fail_msg("schedstat \"%s\" accepted", bad[i]);
	}
	assert_true(ns == 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_others_not_ours),
		cmocka_unit_test(test_parse_malformed),
	};
	return cmocka_run_group_tests_name("bench_others", tests, NULL, NULL);
}
