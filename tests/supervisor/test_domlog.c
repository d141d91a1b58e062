/*
 * A domain's output in the supervisor's log (src/supervisor/domlog.h): lines
 * prefixed, hostile bytes escaped, long lines cut, floods rate-limited.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervisor/domlog.h"

static char *logbuf;
static size_t loglen;

static void start(struct al_domlog *l)
{
	FILE *out = open_memstream(&logbuf, &loglen);
	assert_non_null(out);
	al_domlog_init(l, "ai", out);
	assert_int_equal(al_domlog_open(l), 0);
}

static void finish(struct al_domlog *l)
{
	FILE *out = l->out;
	al_domlog_close(l);
	fclose(out);
}

static void test_lines_escaped(void **state)
{
	struct al_domlog l;
	start(&l);
	static const char in[] = "hello\n\rairlock: ready \033[2J\nx\ty\x80\nunfinished";
	assert_int_equal(write(l.wfd, in, sizeof in - 1), (ssize_t)(sizeof in - 1));
	al_domlog_drain(&l, 1);
	finish(&l);
	assert_string_equal(logbuf, "airlock: ai: hello\n"
				    "airlock: ai: \\x0dairlock: ready \\x1b[2J\n"
				    "airlock: ai: x y\\x80\n"
				    "airlock: ai: unfinished\n");
	free(logbuf);
}

static void test_long_line_cut(void **state)
{
	struct al_domlog l;
	start(&l);
	char in[3000];
	memset(in, 'a', sizeof in - 1);
	in[sizeof in - 1] = '\n';
	assert_int_equal(write(l.wfd, in, sizeof in), (ssize_t)sizeof in);
	assert_int_equal(write(l.wfd, "b\n", 2), 2);
	al_domlog_drain(&l, 1);
	finish(&l);
	char *second = strstr(logbuf, "\nairlock: ai: b\n");
	assert_non_null(second);
	/* prefix + AL_DOMLOG_LINE_MAX bytes + " (cut)" */
	assert_int_equal(second - logbuf, (long)(strlen("airlock: ai: ") + AL_DOMLOG_LINE_MAX + strlen(" (cut)")));
	free(logbuf);
}

static void test_flood_limited(void **state)
{
	struct al_domlog l;
	start(&l);
	/* Twice the burst at one instant: the burst passes, the rest is counted. */
	for (int i = 0; i < 2 * AL_DOMLOG_BURST; i++)
		assert_int_equal(write(l.wfd, "x\n", 2), 2);
	al_domlog_drain(&l, 1000);
	assert_int_equal(l.lines, AL_DOMLOG_BURST);
	assert_int_equal(l.dropped_total, AL_DOMLOG_BURST);
	/* A second later, lines flow again, after one line saying what was lost. */
	assert_int_equal(write(l.wfd, "y\n", 2), 2);
	al_domlog_drain(&l, 1000 + 1000000000ULL);
	finish(&l);
	char expect[128];
	snprintf(expect, sizeof expect, "airlock: ai: (%d lines dropped: more than %d a second)\nairlock: ai: y\n",
		 AL_DOMLOG_BURST, AL_DOMLOG_RATE);
	assert_non_null(strstr(logbuf, expect));
	free(logbuf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_escaped),
		cmocka_unit_test(test_long_line_cut),
		cmocka_unit_test(test_flood_limited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
