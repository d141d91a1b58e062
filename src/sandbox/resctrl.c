/*
 * resctrl: a domain's own cache-allocation (CAT) and memory-bandwidth (MBA)
 * group. The runner makes the group before the domain runs a single
 * instruction of its own: a directory under /sys/fs/resctrl, its schemata
 * lines (which L3 ways, what share of bandwidth), then the child's pid in its
 * tasks file. Threads and children the domain makes later stay in the group.
 * Removing the directory hands the tasks back to the default group.
 *
 * The root prefix (spec->resctrl_root) lets tests run all of this against a
 * fake tree; on a real mount the kernel checks each schemata line and
 * refuses a bad one with EINVAL, which fails the spawn.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox_int.h"

/* Opened the way `echo x > file` does: on kernfs O_CREAT finds the file the
 * kernel made with the group; in a fake tree it makes it. */
static int write_file(const char *dir, const char *file, const char *text)
{
	char path[4200];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
		return -ENAMETOOLONG;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int rc = al_write_all(fd, text, strlen(text));
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int al_resctrl_create(const struct al_spec *spec, const char *name, struct al_resctrl_group *g)
{
	memset(g, 0, sizeof *g);
	if (!spec->resctrl_l3[0] && !spec->resctrl_mb[0])
		return 0;
	const char *root = spec->resctrl_root ? spec->resctrl_root : "/";
	if (strchr(name, '/') || !*name || name[0] == '.')
		return -EINVAL;
	if ((size_t)snprintf(g->dir, sizeof g->dir, "%s/sys/fs/resctrl/%s", root, name) >= sizeof g->dir)
		return -ENAMETOOLONG;
	if (mkdir(g->dir, 0755) < 0) {
		int rc = -errno;
		/* ENOSPC: the hardware has no class of service left for another group */
		al_log_warn("resctrl: %s", g->dir);
		return rc;
	}
	g->used = true;
	/* Both lines in one write: the kernel applies the resources a write
	 * names and leaves the others as the new group's defaults. */
	char text[2 * AL_RESCTRL_LINE + 4];
	snprintf(text, sizeof text, "%s%s%s%s", spec->resctrl_l3, spec->resctrl_l3[0] ? "\n" : "",
		 spec->resctrl_mb, spec->resctrl_mb[0] ? "\n" : "");
	int rc = write_file(g->dir, "schemata", text);
	if (rc < 0)
		al_log_warnx("resctrl: %s/schemata: %s", g->dir, strerror(-rc));
	if (rc < 0) {
		al_resctrl_destroy(g);
		return rc;
	}
	return 0;
}

int al_resctrl_attach(const struct al_resctrl_group *g, pid_t pid)
{
	if (!g->used)
		return 0;
	char text[24];
	snprintf(text, sizeof text, "%d\n", (int)pid);
	int rc = write_file(g->dir, "tasks", text);
	if (rc < 0)
		al_log_warnx("resctrl: %s/tasks: %s", g->dir, strerror(-rc));
	return rc;
}

int al_resctrl_destroy(struct al_resctrl_group *g)
{
	if (!g->used)
		return 0;
	g->used = false;
	if (rmdir(g->dir) == 0)
		return 0;
	int rc = -errno;
	if (rc == -ENOTEMPTY || rc == -EEXIST) {
		/* a fake tree: the files are ours, not the kernel's */
		static const char *const files[] = { "schemata", "tasks" };
		for (size_t i = 0; i < AL_ARRAY_LEN(files); i++) {
			char path[4200];
			snprintf(path, sizeof path, "%s/%s", g->dir, files[i]);
			unlink(path);
		}
		if (rmdir(g->dir) == 0)
			return 0;
		rc = -errno;
	}
	al_log_warnx("resctrl: removing %s: %s", g->dir, strerror(-rc));
	return rc;
}
