#include "run.h"

#include <sys/wait.h>
#include <unistd.h>

void t_read_all(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;
	while (n < len - 1 && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fd);
}

int t_run(const char *path, char *const argv[], bool both, char *out, size_t len)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(p[1], 1);
		if (both)
			dup2(p[1], 2);
		execv(path, argv);
		_exit(127);
	}
	close(p[1]);
	t_read_all(p[0], out, len);
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
