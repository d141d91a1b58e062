/*
 * Runs a subcommand that is its own executable (struct al_cmd.helper): the
 * build tree's when `airlock` runs from the build tree, else the installed one.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "al_config.h"
#include "cli/cli.h"

static bool in_build_tree(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return false;
	self[n] = '\0';
	return strncmp(self, AL_BUILD_ROOT "/", strlen(AL_BUILD_ROOT) + 1) == 0;
}

int al_cli_helper_path(const char *build_dir, const char *name, char *path, size_t len)
{
	int n = in_build_tree() ? snprintf(path, len, "%s/%s/%s", AL_BUILD_ROOT, build_dir, name)
				: snprintf(path, len, "%s/%s", AL_LIBEXECDIR, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int al_cli_exec_helper(const struct al_cmd *cmd, int argc, char **argv)
{
	char path[PATH_MAX];
	if (al_cli_helper_path(cmd->helper_build_dir, cmd->helper, path, sizeof path) < 0) {
		fprintf(stderr, "airlock %s: the path of %s is too long\n", cmd->name, cmd->helper);
		return AL_EXIT_FAIL;
	}
	(void)argc;
	argv[0] = (char *)cmd->helper;
	fflush(NULL);
	execv(path, argv);
	int e = errno;
	fprintf(stderr, "airlock %s: cannot run %s: %s%s\n", cmd->name, path, strerror(e),
		e == ENOENT ? " (airlock is not completely built or installed)" : "");
	return AL_EXIT_FAIL;
}
