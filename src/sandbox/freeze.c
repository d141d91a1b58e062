/*
 * Freezing a domain in place, in its own cgroup (cgroup.c made it).
 *
 * cgroup v2: the domain's one directory, which also holds its limits, has
 * cgroup.freeze; cgroup.events reads "frozen 1" once every task is stopped.
 * cgroup v1: the domain's directory in the freezer hierarchy; freezer.state
 * reads FROZEN when done. Either way the tasks stay where they are: a v2
 * process belongs to exactly one cgroup, so moving it into another one to
 * freeze it would take it out of its limits.
 *
 * Neither (no cgroup for this domain, or no freezer hierarchy): SIGSTOP to
 * the domain's init and every task below it, parents first so that none can
 * fork past the listing. A task can escape only by being born between the
 * listing and the signal; the kill that follows an incident ends it anyway.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox_int.h"

/* Tasks the SIGSTOP fallback follows below a domain's init. */
#define MAX_TASKS 256

const char *al_freeze_method_name(enum al_freeze_method m)
{
	switch (m) {
	case AL_FREEZE_CGROUP_V1: return "cgroup-v1-freezer";
	case AL_FREEZE_CGROUP_V2: return "cgroup-v2-freeze";
	case AL_FREEZE_SIGSTOP: return "sigstop";
	default: return "none";
	}
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
		for (char *save = NULL, *t = strtok_r(buf, " \n", &save); t && n < max;
		     t = strtok_r(NULL, " \n", &save)) {
			if (al_parse_pid(t, &out[n]) == 0)
				n++;
		}
	}
	closedir(d);
	return n;
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

static bool has_file(const char *dir, const char *file)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	return access(path, W_OK) == 0;
}

enum al_freeze_method al_cgroup_freeze_method(const struct al_cgroup *cg)
{
	if (cg->used && cg->v2 && cg->dir[0][0] && has_file(cg->dir[0], "cgroup.freeze"))
		return AL_FREEZE_CGROUP_V2;
	if (cg->used && !cg->v2 && cg->dir[AL_CG_FREEZER][0] && has_file(cg->dir[AL_CG_FREEZER], "freezer.state"))
		return AL_FREEZE_CGROUP_V1;
	return AL_FREEZE_SIGSTOP;
}

/* pid and every task below it, parents before their children; returns how many. */
static size_t list_tasks(pid_t pid, pid_t *out, size_t max, int sig)
{
	size_t n = 0;
	if (max)
		out[n++] = pid;
	for (size_t i = 0; i < n; i++) {
		/* a stopped parent cannot fork past the listing of its children */
		if (sig)
			kill(out[i], sig);
		n += al_proc_children(out[i], out + n, max - n);
	}
	return n;
}

size_t al_proc_tree(pid_t pid, pid_t *out, size_t max)
{
	return list_tasks(pid, out, max, 0);
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

bool al_tasks_frozen(const struct al_cgroup *cg, pid_t pid, enum al_freeze_method method)
{
	switch (method) {
	case AL_FREEZE_CGROUP_V1: return read_has(cg->dir[AL_CG_FREEZER], "freezer.state", "FROZEN");
	case AL_FREEZE_CGROUP_V2: return read_has(cg->dir[0], "cgroup.events", "frozen 1");
	case AL_FREEZE_SIGSTOP: {
		pid_t all[MAX_TASKS];
		size_t n = list_tasks(pid, all, AL_ARRAY_LEN(all), 0);
		for (size_t k = 0; k < n; k++)
			if (!task_stopped(all[k]))
				return false;
		return n > 0;
	}
	default: return false;
	}
}

int al_freeze_tasks(const struct al_cgroup *cg, pid_t pid, enum al_freeze_method method, bool on)
{
	int rc = 0;
	pid_t all[MAX_TASKS];
	/* No stop signal alongside a cgroup freeze: a task the signal stops between
	 * the freezer's visit and its own return to user space is never marked
	 * frozen by the v1 freezer, which then reads FREEZING for ever. */
	switch (method) {
	case AL_FREEZE_CGROUP_V1:
		rc = al_cgroup_write(cg->dir[AL_CG_FREEZER], "freezer.state", on ? "FROZEN" : "THAWED");
		break;
	case AL_FREEZE_CGROUP_V2:
		rc = al_cgroup_write(cg->dir[0], "cgroup.freeze", on ? "1" : "0");
		break;
	case AL_FREEZE_SIGSTOP:
		if (pid <= 0)
			return -ESRCH;
		list_tasks(pid, all, AL_ARRAY_LEN(all), on ? SIGSTOP : SIGCONT);
		break;
	default:
		return -ENOTSUP;
	}
	if (rc < 0 || !on)
		return rc;
	/* Bounded wait: polling for 2 ms (freezing takes µs to a few hundred), then short sleeps. */
	uint64_t start = al_now_ns();
	while (!al_tasks_frozen(cg, pid, method)) {
		uint64_t now = al_now_ns();
		if (now - start > 100000000ULL)
			return -ETIMEDOUT;
		if (now - start > 2000000ULL)
			nanosleep(&(struct timespec){ 0, 100000 }, NULL);
		else
			sched_yield();
	}
	return 0;
}

enum al_freeze_method al_domain_freeze_method(const struct al_domain *d)
{
	return d->frozen_by != AL_FREEZE_NONE ? d->frozen_by : al_cgroup_freeze_method(&d->cg);
}

int al_domain_freeze_by(struct al_domain *d, enum al_freeze_method method)
{
	if (d->reaped || d->pid <= 0)
		return -ESRCH;
	if (d->frozen_by != AL_FREEZE_NONE && d->frozen_by != method)
		return -EBUSY;
	if (method != AL_FREEZE_SIGSTOP && method != al_cgroup_freeze_method(&d->cg))
		return -ENOTSUP;
	/* marked first: even a freeze that timed out must be thawed */
	d->frozen_by = method;
	int rc = al_freeze_tasks(&d->cg, d->pid, method, true);
	if (rc < 0)
		al_log_warnx("sandbox: freezing domain %d (%s): %s", (int)d->pid, al_freeze_method_name(method),
			     strerror(-rc));
	return rc;
}

int al_domain_freeze(struct al_domain *d)
{
	return al_domain_freeze_by(d, al_cgroup_freeze_method(&d->cg));
}

int al_domain_thaw(struct al_domain *d)
{
	if (d->frozen_by == AL_FREEZE_NONE)
		return 0;
	if (d->reaped && d->frozen_by == AL_FREEZE_SIGSTOP) {
		d->frozen_by = AL_FREEZE_NONE; /* its pid may be another process's by now */
		return 0;
	}
	int rc = al_freeze_tasks(&d->cg, d->pid, d->frozen_by, false);
	if (rc == 0 || d->reaped)
		d->frozen_by = AL_FREEZE_NONE;
	return rc;
}

bool al_domain_frozen(const struct al_domain *d)
{
	return d->frozen_by != AL_FREEZE_NONE && !d->reaped && al_tasks_frozen(&d->cg, d->pid, d->frozen_by);
}
