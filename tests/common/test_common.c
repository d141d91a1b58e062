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

#include "common/util.h"

static void test_parse_size(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(al_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(al_parse_size("64k", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(al_parse_size("512M", &v), 0);
	assert_int_equal(v, 512ULL << 20);
	assert_int_equal(al_parse_size("2G", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(al_parse_size("", &v), -EINVAL);
	assert_int_equal(al_parse_size("M", &v), -EINVAL);
	assert_int_equal(al_parse_size("-1", &v), -EINVAL);
	assert_int_equal(al_parse_size("1.5G", &v), -EINVAL);
	assert_int_equal(al_parse_size("99999999999999999999", &v), -ERANGE);
	assert_int_equal(al_parse_size("17179869184G", &v), -ERANGE);
}

static void test_parse_u64(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(al_parse_u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(al_parse_u64("18446744073709551616", &v), -ERANGE);
	assert_int_equal(al_parse_u64("12a", &v), -EINVAL);
	assert_int_equal(al_parse_u64(" 1", &v), -EINVAL);
	/* ids as /proc lists them: 1 up to the kernel's limit */
	pid_t p = -1;
	assert_int_equal(al_parse_pid("4194303", &p), 0);
	assert_int_equal(p, 4194303);
	assert_int_equal(al_parse_pid("4194304", &p), -ERANGE);
	assert_int_equal(al_parse_pid("0", &p), -ERANGE);
	assert_int_equal(al_parse_pid(".", &p), -EINVAL);
	assert_int_equal(al_parse_pid("self", &p), -EINVAL);
	assert_int_equal(al_parse_pid("", &p), -EINVAL);
	assert_int_equal(p, 4194303); /* untouched on failure */
}

static void test_strlcpy(void **state)
{
	(void)state;
	char b[4];
	assert_int_equal(al_strlcpy(b, "abcdef", sizeof b), 6);
	assert_string_equal(b, "abc");
}

static void test_read_file_limit(void **state)
{
	(void)state;
	char path[] = "/tmp/al_test_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	char data[10000];
	memset(data, 'x', sizeof data);
	assert_int_equal(al_write_all(fd, data, sizeof data), 0);
	close(fd);
	char *buf;
	size_t len;
	assert_int_equal(al_read_file_at(AT_FDCWD, path, 100, &buf, &len), -EFBIG);
	assert_int_equal(al_read_file_at(AT_FDCWD, path, 20000, &buf, &len), 0);
	assert_int_equal(len, sizeof data);
	assert_int_equal(buf[len], '\0');
	free(buf);
	unlink(path);
	assert_int_equal(al_read_file_at(AT_FDCWD, path, 100, &buf, &len), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_strlcpy),
		cmocka_unit_test(test_read_file_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
