/*
 * Namespaces: which ones a domain gets, and the uid/gid maps the runner writes
 * for it. The cgroup namespace is entered by the child itself, after the
 * runner has moved it into its cgroup, so that the namespace root is the
 * domain's own cgroup and not the runner's.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <grp.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox_int.h"

uint64_t al_ns_clone_flags(const struct al_spec *spec)
{
	/* AL_NET_HOST: the runner's network namespace, as the spec says */
	return CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS |
	       (spec->net == AL_NET_HOST ? 0 : CLONE_NEWNET);
}

static int write_proc(pid_t pid, const char *file, const char *text)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = al_write_all(fd, text, strlen(text));
	close(fd);
	return rc;
}

/*
 * Root inside maps to one unprivileged id outside: to outside_uid/gid when the
 * runner is root (never to root itself), else to the runner's own ids, the
 * only ones an unprivileged user may map.
 */
int al_ns_write_maps(pid_t pid, uid_t uid, gid_t gid)
{
	char map[64];
	int rc;
	if (geteuid() != 0) {
		uid = geteuid();
		gid = getegid();
	}
	if (uid == 0 || gid == 0) {
		al_log_warnx("sandbox: refusing to map a domain to real root");
		return -EPERM;
	}
	/* an unprivileged gid_map write needs setgroups denied; as root we keep
	 * setgroups so the child can drop the supplementary groups it inherited */
	rc = geteuid() == 0 ? 0 : write_proc(pid, "setgroups", "deny");
	if (rc < 0 && rc != -ENOENT) {
		al_log_warnx("sandbox: setgroups deny: %s", strerror(-rc));
		return rc;
	}
	snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
	if ((rc = write_proc(pid, "uid_map", map)) < 0) {
		al_log_warnx("sandbox: uid_map: %s", strerror(-rc));
		return rc;
	}
	snprintf(map, sizeof map, "0 %u 1\n", (unsigned)gid);
	if ((rc = write_proc(pid, "gid_map", map)) < 0) {
		al_log_warnx("sandbox: gid_map: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

/*
 * Child, once its maps are written: take the mapped ids. Until then the child
 * still carries the runner's kernel ids (root, when the runner is root), and
 * its supplementary groups, which a domain must never keep.
 */
int al_ns_become_root(void)
{
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		return -errno;
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return -errno;
	return 0;
}

int al_ns_unshare_cgroup(void)
{
	return unshare(CLONE_NEWCGROUP) < 0 ? -errno : 0;
}
