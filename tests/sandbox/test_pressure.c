/*
 * CPU pressure (src/sandbox/pressure.c): the parser of /proc/pressure/cpu
 * against the kernel's text and malformed ones, the reader against a file of
 * the test's own and the kernel's, and when the adaptive class's I/O threads
 * are real-time, fed made-up totals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#define MS 1000000ull

static int parse(const char *text, uint64_t *total)
{
	return al_psi_parse_some(text, strlen(text), total);
}

static void test_parse(void **unused)
{
	uint64_t t = 0;
	assert_int_equal(parse("some avg10=4.02 avg60=7.89 avg300=16.55 total=1486421078\n"
			       "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", &t), 0);
	assert_int_equal(t, 1486421078);
	/* the "full" line comes second, and never counts */
	assert_int_equal(parse("full avg10=0.00 avg60=0.00 avg300=0.00 total=9\n"
			       "some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n", &t), 0);
	assert_int_equal(t, 7);
	assert_int_equal(parse("some avg10=1 total=0", &t), 0); /* no newline at the end */
	assert_int_equal(t, 0);
	assert_int_equal(parse("some avg10=1 total=18446744073709551615\n", &t), 0);
	assert_int_equal(t, UINT64_MAX);
	/* only len bytes are read: the digits past it are not the total's */
	const char *longer = "some avg10=1 total=123456\n";
	assert_int_equal(al_psi_parse_some(longer, strlen("some avg10=1 total=123"), &t), 0);
	assert_int_equal(t, 123);
}

static void test_parse_malformed(void **unused)
{
	const char *bad[] = {
		"",
		"\n\n",
		"some",
		"some \n",
		"sometotal=5\n",
		"full avg10=0.00 avg60=0.00 avg300=0.00 total=5\n",
		"some avg10=4.02 avg60=7.89 avg300=16.55\n",
		"some avg10=1 total=\n",
		"some avg10=1 total= 5\n",
		"some avg10=1 total=12a4\n",
		"some avg10=1 total=-5\n",
		"some avg10=1 total=+5\n",
		"some avg10=1 total=18446744073709551616\n",
		"some avg10=1 total=99999999999999999999999\n",
		"avg10=1 total=5\nsome\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		uint64_t t = 42;
		assert_int_equal(parse(bad[i], &t), -EPROTO);
		assert_int_equal(t, 42); /* untouched */
	}
	/* a NUL inside the text is a byte like any other, not its end */
	const char nul[] = "some avg10=1 tot\0al=5 total=7\n";
	uint64_t t = 0;
	assert_int_equal(al_psi_parse_some(nul, sizeof nul - 1, &t), 0);
	assert_int_equal(t, 7);
}

static void test_read(void **unused)
{
	char path[] = "/tmp/al_test_psi.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "some avg10=0.00 avg60=0.00 avg300=0.00 total=31337\nfull avg10=0.00 total=0\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	uint64_t t = 0;
	al_psi_set_path(path);
	assert_int_equal(al_psi_cpu_read(&t), 0);
	assert_int_equal(t, 31337);
	/* opened once, read again from its start: a new text is seen */
	const char *next = "some avg10=0.00 avg60=0.00 avg300=0.00 total=31338\n";
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, next, strlen(next)), (ssize_t)strlen(next));
	close(fd);
	assert_int_equal(al_psi_cpu_read(&t), 0);
	assert_int_equal(t, 31338);
	unlink(path);
	al_psi_set_path(path); /* starts over: the file is gone */
	assert_int_equal(al_psi_cpu_read(&t), -ENOENT);
	al_psi_set_path(NULL);
	/* the kernel's own: readable, or absent (no CONFIG_PSI, or psi=0) */
	int rc = al_psi_cpu_read(&t);
	if (rc == -ENOENT || rc == -EOPNOTSUPP)
		printf("# skipped: this kernel keeps no CPU pressure (%s)\n", strerror(-rc));
	else
		assert_int_equal(rc, 0);
}

/* Feeds a window of pct % pressure lasting ms; returns the answer. */
static bool window(struct al_contention *c, uint64_t *total, uint64_t *now, double pct, unsigned ms)
{
	*now += ms * MS;
	*total += (uint64_t)(pct / 100.0 * ms * 1000.0);
	return al_contention_feed(c, *total, *now);
}

static void test_contention(void **unused)
{
	struct al_contention c = { 0 };
	uint64_t total = 5000000, now = 1000 * MS;
	assert_false(al_contention_feed(&c, total, now)); /* the first look: calm, nothing to compare */
	assert_false(window(&c, &total, &now, 20, 100));  /* below 25 %: calm */
	assert_true(window(&c, &total, &now, 30, 100));   /* one window at 25 % or more: real-time at once */
	assert_true(c.last_pct > 29.9 && c.last_pct < 30.1);
	assert_int_equal(c.switches, 1);
	/* back to calm only after a second of windows under 10 % */
	for (int i = 0; i < 9; i++)
		assert_true(window(&c, &total, &now, 2, 100));
	assert_true(window(&c, &total, &now, 15, 100)); /* 10-25 %: neither; the calm second starts over */
	for (int i = 0; i < 10; i++)
		assert_true(window(&c, &total, &now, 0, 100));
	assert_false(window(&c, &total, &now, 0, 100));
	assert_int_equal(c.switches, 2);
	/* a total that went backwards, or time that did not move, starts over and keeps the answer */
	total -= 1;
	now += 100 * MS;
	assert_false(al_contention_feed(&c, total, now));
	assert_true(window(&c, &total, &now, 100, 100));
	total -= 1000;
	assert_true(al_contention_feed(&c, total, now + 100 * MS));
	assert_true(al_contention_feed(&c, total, now + 100 * MS));
	assert_int_equal(c.switches, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_contention),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
