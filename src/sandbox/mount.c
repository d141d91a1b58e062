/*
 * The domain's filesystem: a fresh tmpfs root holding only the listed paths,
 * each bound at the same place (read-only unless asked), a fresh /proc that
 * shows only the domain's own processes, a minimal /dev and no /sys.
 *
 * Paths are checked twice: by al_path_check() when the spec is built (clear
 * error for the user) and again in the child, which opens each one with
 * RESOLVE_NO_SYMLINKS just before binding it, so a path swapped for a symlink
 * in between is refused, not followed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/util.h"
#include "sandbox/sandbox_int.h"

static int open_nofollow(const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
	return fd < 0 ? -errno : fd;
}

/* Absolute, no ".", "..", empty component or trailing slash (callers strip it). */
static bool path_normal(const char *p)
{
	if (p[0] != '/' || p[1] == '\0')
		return false;
	for (const char *c = p; *c; c++) {
		if (*c != '/')
			continue;
		const char *n = c + 1;
		if (*n == '/' || *n == '\0')
			return false;
		if (n[0] == '.' && (n[1] == '/' || n[1] == '\0'))
			return false;
		if (n[0] == '.' && n[1] == '.' && (n[2] == '/' || n[2] == '\0'))
			return false;
	}
	return true;
}

int al_path_check(const char *path, bool *is_dir)
{
	if (!path_normal(path))
		return -EINVAL;
	int fd = open_nofollow(path, O_PATH);
	if (fd < 0)
		return fd;
	struct stat st;
	int rc = fstat(fd, &st) < 0 ? -errno : 0;
	close(fd);
	if (rc < 0)
		return rc;
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return -EINVAL; /* devices, sockets, fifos are never bound by path */
	*is_dir = S_ISDIR(st.st_mode);
	return 0;
}

/* A detached copy of the tree at path (opened without following symlinks). */
static int clone_tree(const char *path, uint64_t attrs)
{
	int fd = open_nofollow(path, O_PATH);
	if (fd < 0)
		return fd;
	int t = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
					  AT_RECURSIVE);
	int e = errno;
	close(fd);
	if (t < 0)
		return -e;
	struct mount_attr ma = { .attr_set = attrs };
	if (mount_setattr(t, "", AT_EMPTY_PATH | AT_RECURSIVE, &ma, sizeof ma) < 0) {
		e = errno;
		close(t);
		return -e;
	}
	return t;
}

static int new_fs(const char *type, const char *const *opts, uint64_t attrs)
{
	int fs = fsopen(type, FSOPEN_CLOEXEC);
	if (fs < 0)
		return -errno;
	for (; opts && opts[0]; opts += 2)
		if (fsconfig(fs, FSCONFIG_SET_STRING, opts[0], opts[1], 0) < 0)
			goto fail;
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		goto fail;
	int m = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned)attrs);
	if (m < 0)
		goto fail;
	close(fs);
	return m;
fail:;
	int e = errno;
	close(fs);
	return -e;
}

/* mkdir -p of rel (no leading '/') below dirfd; the last one a file if !dir. */
static int make_point(int dirfd, const char *rel, bool dir)
{
	char buf[PATH_MAX];
	size_t n = strlen(rel);
	if (n >= sizeof buf)
		return -ENAMETOOLONG;
	memcpy(buf, rel, n + 1);
	for (char *s = buf; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdirat(dirfd, buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (dir) {
		if (mkdirat(dirfd, buf, 0755) < 0 && errno != EEXIST)
			return -errno;
	} else {
		int fd = openat(dirfd, buf, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 && errno != EEXIST && errno != EROFS && errno != EISDIR)
			return -errno;
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

static int attach(int tree, int rootfd, const char *rel, bool dir)
{
	int rc = make_point(rootfd, rel, dir);
	if (rc < 0)
		return rc;
	if (move_mount(tree, "", rootfd, rel, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

static const char *const dev_nodes[] = { "null", "zero", "urandom", "full" };

int al_mount_apply(const struct al_spec *spec)
{
	int trees[AL_SANDBOX_MAX_PATHS];
	int devs[AL_ARRAY_LEN(dev_nodes)];
	size_t order[AL_SANDBOX_MAX_PATHS];
	int rootfd = -1, rc = 0;
	size_t n = spec->n_paths;

	for (size_t i = 0; i < AL_SANDBOX_MAX_PATHS; i++)
		trees[i] = -1;
	for (size_t i = 0; i < AL_ARRAY_LEN(dev_nodes); i++)
		devs[i] = -1;

	/* nothing we do below may propagate back to the runner's namespace */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;

	/* open every source before the staging tmpfs can hide any of them */
	for (size_t i = 0; i < n; i++) {
		uint64_t a = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
		if (spec->paths[i].link)
			continue;
		if (!spec->paths[i].rw)
			a |= MOUNT_ATTR_RDONLY;
		else
			a |= MOUNT_ATTR_NOEXEC;
		if ((trees[i] = clone_tree(spec->paths[i].path, a)) < 0) {
			rc = trees[i];
			goto out;
		}
	}
	if (spec->dev) {
		for (size_t i = 0; i < AL_ARRAY_LEN(dev_nodes); i++) {
			char p[32] = "/dev/";
			strcat(p, dev_nodes[i]);
			devs[i] = clone_tree(p, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
			if (devs[i] < 0) {
				rc = devs[i];
				goto out;
			}
		}
	}

	const char *const root_opts[] = { "mode", "0755", "size", "1m", NULL, NULL };
	if ((rootfd = new_fs("tmpfs", root_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)) < 0) {
		rc = rootfd;
		goto out;
	}
	/* attach it so that mounts can be placed below it, then pivot into it */
	if (move_mount(rootfd, "", AT_FDCWD, "/tmp", MOVE_MOUNT_F_EMPTY_PATH) < 0 &&
	    move_mount(rootfd, "", AT_FDCWD, "/mnt", MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		rc = -errno;
		goto out;
	}

	/* before the listed paths, so one below /tmp lands on top of it */
	if (spec->tmp) {
		const char *const o[] = { "mode", "01777", "size", "64m", NULL, NULL };
		int tfd = new_fs("tmpfs", o, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
						     MOUNT_ATTR_NOEXEC);
		if (tfd < 0) {
			rc = tfd;
			goto out;
		}
		rc = attach(tfd, rootfd, "tmp", true);
		close(tfd);
		if (rc < 0)
			goto out;
	}

	/* parents before children, so a nested path lands inside its parent's bind */
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		order[i] = i;
		while (j > 0 && strlen(spec->paths[order[j - 1]].path) >
					strlen(spec->paths[order[j]].path)) {
			size_t t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
			j--;
		}
	}
	for (size_t k = 0; k < n; k++) {
		const struct al_path *p = &spec->paths[order[k]];
		if (p->link) {
			if (symlinkat(p->link, rootfd, p->path + 1) < 0) {
				rc = -errno;
				goto out;
			}
			continue;
		}
		if ((rc = attach(trees[order[k]], rootfd, p->path + 1, p->is_dir)) < 0)
			goto out;
	}

	if (spec->proc) {
		/* only the domain's own pids, and none of /proc's global files */
		const char *const o[] = { "hidepid", "invisible", "subset", "pid", NULL, NULL };
		int pfd = new_fs("proc", o, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
						    MOUNT_ATTR_NOEXEC);
		if (pfd < 0) {
			rc = pfd;
			goto out;
		}
		rc = attach(pfd, rootfd, "proc", true);
		close(pfd);
		if (rc < 0)
			goto out;
	}
	if (spec->dev) {
		const char *const o[] = { "mode", "0755", "size", "64k", NULL, NULL };
		int dfd = new_fs("tmpfs", o, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
		if (dfd < 0) {
			rc = dfd;
			goto out;
		}
		rc = attach(dfd, rootfd, "dev", true);
		close(dfd);
		if (rc < 0)
			goto out;
		for (size_t i = 0; i < AL_ARRAY_LEN(dev_nodes); i++) {
			char rel[32] = "dev/";
			strcat(rel, dev_nodes[i]);
			if ((rc = attach(devs[i], rootfd, rel, false)) < 0)
				goto out;
		}
		struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
		if (mount_setattr(rootfd, "dev", 0, &ro, sizeof ro) < 0) {
			rc = -errno;
			goto out;
		}
	}
	/* pivot_root(".", "."): the old root ends up on top, then is detached */
	if (fchdir(rootfd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
		rc = -errno;
		goto out;
	}
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
	if (mount_setattr(AT_FDCWD, "/", 0, &ro, sizeof ro) < 0)
		rc = -errno;
out:
	for (size_t i = 0; i < n; i++)
		if (trees[i] >= 0)
			close(trees[i]);
	for (size_t i = 0; i < AL_ARRAY_LEN(dev_nodes); i++)
		if (devs[i] >= 0)
			close(devs[i]);
	if (rootfd >= 0)
		close(rootfd);
	return rc;
}
