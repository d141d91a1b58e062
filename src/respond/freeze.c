/*
 * Freezing a domain. The v1 freezer stops tasks where they stand (a task
 * inside a system call is frozen on its way back); writing FROZEN returns
 * once the kernel has started, freezer.state reads FROZEN when done.
 */
#include "respond/respond.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

const char *al_freezer_kind_name(enum al_freezer_kind k)
{
	switch (k) {
	case AL_FREEZER_V1: return "cgroup-v1-freezer";
	case AL_FREEZER_V2: return "cgroup-v2-freeze";
	case AL_FREEZER_SIGSTOP: return "sigstop";
	default: return "none";
	}
}

static int write_str(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = al_write_all(fd, val, strlen(val));
	close(fd);
	return rc < 0 ? rc : 0;
}

static bool read_has(const char *dir, const char *file, const char *needle)
{
	char path[PATH_MAX + 32];
	AL_AUTOFREE char *buf = NULL;
	snprintf(path, sizeof path, "%s/%s", dir, file);
	if (al_read_file_at(AT_FDCWD, path, 4096, &buf, NULL) < 0)
		return false;
	return strstr(buf, needle) != NULL;
}

/* This process's path in hierarchy id (0 for v2) or controller name, from /proc/self/cgroup. */
static int own_cgroup(const char *ctrl, char *out, size_t len)
{
	AL_AUTOFREE char *buf = NULL;
	if (al_read_file_at(AT_FDCWD, "/proc/self/cgroup", 65536, &buf, NULL) < 0)
		return -ENOENT;
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		bool match = ctrl ? strstr(c1 + 1, ctrl) != NULL : (c1[1] == '\0' && l[0] == '0');
		if (match) {
			al_strlcpy(out, c2 + 1, len);
			return 0;
		}
	}
	return -ENOENT;
}

static int try_dir(struct al_freezer *fz, const char *mount, const char *own, const char *name,
		   const char *probe)
{
	char parent[PATH_MAX];
	snprintf(parent, sizeof parent, "%s%s", mount, strcmp(own, "/") ? own : "");
	if (snprintf(fz->dir, sizeof fz->dir, "%s/airlock.%d.%s", parent, (int)getpid(), name) >=
	    (int)sizeof fz->dir)
		return -ENAMETOOLONG;
	if (mkdir(fz->dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	char p[PATH_MAX + 32];
	snprintf(p, sizeof p, "%s/%s", fz->dir, probe);
	if (access(p, W_OK) < 0) {
		int e = -errno;
		rmdir(fz->dir);
		return e;
	}
	return 0;
}

int al_freezer_create(struct al_freezer *fz, const char *root, const char *name)
{
	char own[PATH_MAX], mount[PATH_MAX];
	memset(fz, 0, sizeof *fz);
	root = root ? root : "/sys/fs/cgroup";
	snprintf(mount, sizeof mount, "%s/freezer", root);
	if (access(mount, F_OK) == 0 && own_cgroup("freezer", own, sizeof own) == 0 &&
	    try_dir(fz, mount, own, name, "freezer.state") == 0) {
		fz->kind = AL_FREEZER_V1;
		return 0;
	}
	/* v2: the unified mount of a hybrid host, or the root of a pure v2 host. */
	snprintf(mount, sizeof mount, "%s/unified", root);
	if (access(mount, F_OK) < 0)
		al_strlcpy(mount, root, sizeof mount);
	if (own_cgroup(NULL, own, sizeof own) == 0 && try_dir(fz, mount, own, name, "cgroup.freeze") == 0) {
		fz->kind = AL_FREEZER_V2;
		return 0;
	}
	fz->dir[0] = '\0';
	fz->kind = AL_FREEZER_SIGSTOP;
	return 0;
}

int al_freezer_attach(struct al_freezer *fz, pid_t pid)
{
	char buf[24];
	snprintf(buf, sizeof buf, "%d\n", (int)pid);
	if (fz->n_pids < AL_ARRAY_LEN(fz->pids))
		fz->pids[fz->n_pids++] = pid;
	int rc = 0;
	if (fz->kind == AL_FREEZER_V1)
		rc = write_str(fz->dir, "cgroup.procs", buf);
	else if (fz->kind == AL_FREEZER_V2)
		/* Refused (EBUSY, EOPNOTSUPP) when the sandbox keeps the domain in a
		 * threaded or controller-bearing v2 cgroup: then signals are the way. */
		rc = write_str(fz->dir, "cgroup.procs", buf);
	if (rc < 0) {
		al_log_warnx("freezer: %d not attached (%s): SIGSTOP will be used", (int)pid, strerror(-rc));
		rmdir(fz->dir);
		fz->dir[0] = '\0';
		fz->kind = AL_FREEZER_SIGSTOP;
	}
	return 0;
}

size_t al_proc_children(pid_t pid, pid_t *out, size_t max)
{
	char path[64];
	size_t n = 0;
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		if (e->d_name[0] == '.')
			continue;
		char cpath[128];
		AL_AUTOFREE char *buf = NULL;
		snprintf(cpath, sizeof cpath, "%s/%.20s/children", path, e->d_name);
		if (al_read_file_at(AT_FDCWD, cpath, 65536, &buf, NULL) < 0)
			continue;
		for (char *t = strtok(buf, " \n"); t && n < max; t = strtok(NULL, " \n")) {
			uint64_t v;
			if (al_parse_u64(t, &v) == 0 && v > 0 && v < (1u << 22))
				out[n++] = (pid_t)v;
		}
	}
	closedir(d);
	return n;
}

static void sigstop_all(struct al_freezer *fz, int sig)
{
	for (size_t i = 0; i < fz->n_pids; i++) {
		pid_t kids[16];
		/* Stop the parent first so it cannot fork past the listing. */
		kill(fz->pids[i], sig);
		size_t k = al_proc_children(fz->pids[i], kids, AL_ARRAY_LEN(kids));
		for (size_t j = 0; j < k; j++)
			kill(kids[j], sig);
	}
}

static bool task_stopped(pid_t pid)
{
	char path[64];
	AL_AUTOFREE char *buf = NULL;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (al_read_file_at(AT_FDCWD, path, 4096, &buf, NULL) < 0)
		return true; /* gone */
	char *p = strrchr(buf, ')');
	return p && (p[2] == 'T' || p[2] == 't' || p[2] == 'Z');
}

bool al_freezer_frozen(const struct al_freezer *fz)
{
	switch (fz->kind) {
	case AL_FREEZER_V1: return read_has(fz->dir, "freezer.state", "FROZEN");
	case AL_FREEZER_V2: return read_has(fz->dir, "cgroup.events", "frozen 1");
	case AL_FREEZER_SIGSTOP: {
		for (size_t i = 0; i < fz->n_pids; i++) {
			pid_t all[17] = {fz->pids[i]};
			size_t n = 1 + al_proc_children(fz->pids[i], all + 1, 16);
			for (size_t k = 0; k < n; k++)
				if (!task_stopped(all[k]))
					return false;
		}
		return true;
	}
	default: return false;
	}
}

int al_freezer_freeze(struct al_freezer *fz)
{
	int rc;
	/* No stop signal alongside: a task the signal stops between the freezer's
	 * visit and its own return to user space is never marked frozen by the v1
	 * freezer, which then reads FREEZING for ever. */
	switch (fz->kind) {
	case AL_FREEZER_V1: rc = write_str(fz->dir, "freezer.state", "FROZEN"); break;
	case AL_FREEZER_V2: rc = write_str(fz->dir, "cgroup.freeze", "1"); break;
	case AL_FREEZER_SIGSTOP: sigstop_all(fz, SIGSTOP); rc = 0; break;
	default: return -ENOTSUP;
	}
	if (rc < 0)
		return rc;
	/* Bounded wait: polling for 2 ms (freezing takes µs to a few hundred), then short sleeps. */
	uint64_t start = al_now_ns();
	while (!al_freezer_frozen(fz)) {
		uint64_t now = al_now_ns();
		if (now - start > 100000000ULL)
			return -ETIMEDOUT;
		if (now - start > 2000000ULL)
			nanosleep(&(struct timespec){0, 100000}, NULL);
		else
			sched_yield();
	}
	return 0;
}

int al_freezer_thaw(struct al_freezer *fz)
{
	switch (fz->kind) {
	case AL_FREEZER_V1: return write_str(fz->dir, "freezer.state", "THAWED");
	case AL_FREEZER_V2: return write_str(fz->dir, "cgroup.freeze", "0");
	case AL_FREEZER_SIGSTOP: sigstop_all(fz, SIGCONT); return 0;
	default: return -ENOTSUP;
	}
}

void al_freezer_destroy(struct al_freezer *fz)
{
	if ((fz->kind == AL_FREEZER_V1 || fz->kind == AL_FREEZER_V2) && fz->dir[0]) {
		/* A frozen cgroup whose tasks were killed still needs thawing for them to exit. */
		al_freezer_thaw(fz);
		/* The last tasks of a killed pid namespace leave it a moment after its init was reaped. */
		int rc = 0;
		for (int i = 0; i < 100 && (rc = rmdir(fz->dir)) < 0 && errno == EBUSY; i++)
			nanosleep(&(struct timespec){0, 1000000}, NULL);
		if (rc < 0 && errno != ENOENT)
			al_log_warn("freezer: rmdir %s", fz->dir);
	}
	fz->kind = AL_FREEZER_NONE;
	fz->n_pids = 0;
	fz->dir[0] = '\0';
}
