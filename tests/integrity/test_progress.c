/*
 * The progress line of long work (src/integrity/progress.h): its text, and
 * that nothing at all is written when stderr is not a terminal. The
 * terminal itself is tested with a pty (progress_tty.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "integrity/progress.h"

#define MIB (1024ull * 1024)

static void test_format(void **state)
{
	char b[200];
	size_t n = al_progress_format(b, sizeof b, "hashing ai.model", 0, 300 * MIB, 0);
	assert_string_equal(b, "hashing ai.model  0.0 of 300.0 MiB  0 %");
	assert_int_equal(n, strlen(b));
	al_progress_format(b, sizeof b, "hashing ai.model", 150 * MIB, 300 * MIB, 1000000000ull);
	assert_string_equal(b, "hashing ai.model  150.0 of 300.0 MiB  50 %  150 MiB/s");
	al_progress_format(b, sizeof b, "x", 300 * MIB - 1, 300 * MIB, 500000000ull);
	assert_string_equal(b, "x  300.0 of 300.0 MiB  99 %  600 MiB/s"); /* 99 % until it is all done */
	al_progress_format(b, sizeof b, "x", 400 * MIB, 300 * MIB, 0);
	assert_string_equal(b, "x  300.0 of 300.0 MiB  100 %");               /* clamped */
	al_progress_format(b, sizeof b, "x", 0, 0, 0);
	assert_string_equal(b, "x  0.0 of 0.0 MiB  100 %");
	/* Cut to the buffer, always terminated. */
	n = al_progress_format(b, 10, "hashing ai.model", 1, 2, 3);
	assert_int_equal(n, 9);
	assert_string_equal(b, "hashing a");
	assert_int_equal(al_progress_format(b, 0, "x", 1, 2, 3), 0);
}

/* Runs a whole 300 MiB of progress with stderr on a pipe: nothing is written to it. */
static void test_silent_without_terminal(void **state)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	struct al_progress pr;
	al_progress_begin(&pr, "hashing ai.model", 300 * MIB);
	int fd = pr.fd;
	for (uint64_t d = 0; d <= 300 * MIB; d += 64 * MIB)
		al_progress_update(&pr, d);
	al_progress_end(&pr, true);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	close(p[1]);
	char buf[64];
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	assert_true(read(p[0], buf, sizeof buf) <= 0);
	close(p[0]);
	assert_int_equal(fd, -1);
}

/* Below the threshold there is no progress even on a terminal. */
static void test_small_work_is_never_shown(void **state)
{
	struct al_progress pr;
	al_progress_begin(&pr, "hashing ai.tokenizer", AL_PROGRESS_MIN_BYTES - 1);
	assert_int_equal(pr.fd, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_silent_without_terminal),
		cmocka_unit_test(test_small_work_is_never_shown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
