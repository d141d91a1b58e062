#include "ai_check.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "emulated.h"
#include "workers/ai/model.h"

void run_worker(char *const argv[], char *out, size_t cap, size_t *outlen, int *status)
{
	int pipefd[2];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	/* LeakSanitizer's exit-time scan needs ptrace, which the filter forbids. */
	char *envp[] = { "ASAN_OPTIONS=detect_leaks=0", NULL };
	/* the worker is another program of this build, run with its seccomp filter */
	if (t_emulated()) {
		print_message("skipped: %s\n", t_emulated());
		skip();
	}
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	size_t got = 0;
	ssize_t n;
	while ((n = read(pipefd[0], out + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, status, 0), pid);
	*outlen = got;
}

void expect_model_refused(const uint8_t *buf, size_t len, const char *what)
{
	struct al_ai_model m;
	int rc = al_ai_model_build_mem(&m, buf, len);
	if (rc == 0) {
		al_ai_model_free(&m);
		fail_msg("malformed model accepted (expected \"%s\")", what);
	}
	assert_int_equal(rc, -EINVAL);
	if (!strstr(m.err, what))
		fail_msg("model error \"%s\" does not name \"%s\"", m.err, what);
}
