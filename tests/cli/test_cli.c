/*
 * The airlock command as a user meets it: help, version, usage errors, and
 * `airlock check` (JSON that parses, exit status from the requirements).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>

struct run {
	int status;
	char out[1 << 16];
	char err[1 << 14];
};

static void drain(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;
	while ((n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
}

/* Runs airlock with argv (NULL-terminated), stdout and stderr captured. */
static void run_airlock(struct run *r, const char *const *args)
{
	int o[2], e[2];
	assert_int_equal(pipe(o), 0);
	assert_int_equal(pipe(e), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		const char *argv[16] = {AIRLOCK_BIN};
		for (int i = 0; args[i] && i < 14; i++)
			argv[i + 1] = args[i];
		execv(AIRLOCK_BIN, (char *const *)argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	/* stderr is small; read stdout fully first, then stderr. */
	drain(o[0], r->out, sizeof r->out);
	drain(e[0], r->err, sizeof r->err);
	close(o[0]);
	close(e[0]);
	int st;
	waitpid(pid, &st, 0);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static struct run R;

static void test_help_version(void **state)
{
	(void)state;
	run_airlock(&R, (const char *[]){"--help", NULL});
	assert_int_equal(R.status, 0);
	assert_non_null(strstr(R.out, "usage: airlock"));
	assert_non_null(strstr(R.out, "check"));
	run_airlock(&R, (const char *[]){"--version", NULL});
	assert_int_equal(R.status, 0);
	assert_non_null(strstr(R.out, "airlock 0."));
	run_airlock(&R, (const char *[]){"help", "check", NULL});
	assert_int_equal(R.status, 0);
	assert_non_null(strstr(R.out, "usage: airlock check"));
	run_airlock(&R, (const char *[]){"check", "--help", NULL});
	assert_int_equal(R.status, 0);
	assert_non_null(strstr(R.out, "usage: airlock check"));
}

static void test_usage_errors(void **state)
{
	(void)state;
	run_airlock(&R, (const char *[]){NULL});
	assert_int_equal(R.status, 2);
	run_airlock(&R, (const char *[]){"frobnicate", NULL});
	assert_int_equal(R.status, 2);
	assert_non_null(strstr(R.err, "unknown command 'frobnicate'"));
	assert_non_null(strstr(R.err, "usage:"));
	run_airlock(&R, (const char *[]){"--bogus", NULL});
	assert_int_equal(R.status, 2);
	assert_non_null(strstr(R.err, "unknown option '--bogus'"));
	run_airlock(&R, (const char *[]){"help", "nope", NULL});
	assert_int_equal(R.status, 2);
	run_airlock(&R, (const char *[]){"check", "--frob", NULL});
	assert_int_equal(R.status, 2);
	assert_non_null(strstr(R.err, "--frob"));
	run_airlock(&R, (const char *[]){"check", "extra", NULL});
	assert_int_equal(R.status, 2);
}

static void test_check_json(void **state)
{
	(void)state;
	run_airlock(&R, (const char *[]){"check", "--json", NULL});
	/* This machine has what the defaults require; CI runs here. */
	assert_int_equal(R.status, 0);
	json_error_t jerr;
	json_t *j = json_loads(R.out, 0, &jerr);
	if (!j)
		fail_msg("check --json is not JSON: %s at line %d", jerr.text, jerr.line);
	assert_int_equal(json_integer_value(json_object_get(j, "schema")), 1);
	json_t *items = json_object_get(j, "items");
	assert_true(json_array_size(items) > 30);
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it) {
		const char *st = json_string_value(json_object_get(it, "state"));
		assert_non_null(st);
		assert_true(!strcmp(st, "present") || !strcmp(st, "partial") || !strcmp(st, "absent"));
		assert_true(json_string_length(json_object_get(it, "evidence")) > 0);
	}
	assert_true(json_array_size(json_object_get(j, "required")) > 0);
	json_decref(j);
}

static void test_check_fails_closed(void **state)
{
	(void)state;
	/* A root with no cgroup mounts: the required cgroup controllers are missing. */
	char dir[] = "/tmp/al_cli_root_XXXXXX";
	assert_non_null(mkdtemp(dir));
	run_airlock(&R, (const char *[]){"check", "--root", dir, NULL});
	rmdir(dir);
	assert_int_equal(R.status, 1);
	assert_non_null(strstr(R.err, "kernel.cgroup_memory"));
	assert_non_null(strstr(R.err, "refuse to start"));
	assert_non_null(strstr(R.out, "Kernel features"));
}

static void test_check_config_requirements(void **state)
{
	(void)state;
	/* This VM has no resctrl: a config that requires it fails closed and names it. */
	char path[] = "/tmp/al_cli_conf_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *conf = "[required]\nresctrl = yes\n";
	assert_int_equal(write(fd, conf, strlen(conf)), (ssize_t)strlen(conf));
	close(fd);
	run_airlock(&R, (const char *[]){"check", "--config", path, NULL});
	bool has_resctrl = access("/sys/fs/resctrl/info", F_OK) == 0;
	if (!has_resctrl) {
		assert_int_equal(R.status, 1);
		assert_non_null(strstr(R.err, "kernel.resctrl"));
	}
	/* A broken config is an error naming the file and line. */
	fd = open(path, O_WRONLY | O_TRUNC);
	const char *bad = "[required]\nresctrl = perhaps\n";
	assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
	close(fd);
	run_airlock(&R, (const char *[]){"check", "--config", path, NULL});
	unlink(path);
	assert_int_equal(R.status, 1);
	assert_non_null(strstr(R.err, ":2:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_check_json),
		cmocka_unit_test(test_check_fails_closed),
		cmocka_unit_test(test_check_config_requirements),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
