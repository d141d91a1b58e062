/*
 * cgroups: memory, pids and cpu limits for one domain, and the cgroup that
 * freezes it (freeze.c).
 *
 * cgroup v2 is used where the runner's own v2 cgroup offers all three
 * controllers (its cgroup.freeze freezes the domain); otherwise (hybrid
 * hosts) one v1 directory per controller, plus one in the v1 freezer
 * hierarchy where that is mounted and writable. In
 * both cases the domain's cgroup is created below the cgroup the runner is
 * in, never elsewhere, and named airlock-<runner pid>-<n>.
 *
 * Delegation (an ordinary user): the same code runs where the runner's
 * cgroup is delegated to it (systemd's Delegate=yes, or an administrator's
 * chown of the directory and its control files): a new cgroup and its files
 * belong to whoever made it, so the domain's limits are written as root
 * writes them. A v2 cgroup cannot both hold processes and give controllers
 * to children, and a delegated one holds the runner: there the runner moves
 * itself into a leaf of its own, airlock-<pid>-runner, and makes the
 * domains' cgroups beside it (v2_enable). The attestation says "delegated"
 * where the parent directory is not root's (al_cgroup_describe). Where no
 * cgroup is delegated, delegate.c may ask systemd for one.
 *
 * Cleanup: the runner removes the directories when it reaps the domain
 * (al_domain_wait/free). If the runner is killed instead, the domain dies with
 * it (PDEATHSIG on its pid 1 takes the whole pid namespace down), which leaves
 * empty directories behind; al_cgroup_sweep(), run before every spawn, removes
 * those whose runner pid is gone. A reaper process per domain would cost a
 * fork on every spawn and could itself be killed; sweeping costs one
 * directory scan and needs nothing alive.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox_int.h"

static const char *const ctrl_name[AL_CG_N] = { "memory", "pids", "cpu", "freezer" };
static atomic_uint cg_counter;

/* The runner's own cgroup directory for a v1 controller, or v2 when ctrl is NULL. */
static int own_dir(const char *ctrl, char *out, size_t len)
{
	AL_AUTOFREE char *text = NULL;
	int rc = al_read_file_at(AT_FDCWD, "/proc/self/cgroup", 65536, &text, NULL);
	if (rc < 0)
		return rc;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = *c2 = '\0'; /* line: the hierarchy id alone */
		const char *list = c1 + 1, *path = c2 + 1;
		if (!ctrl) {
			if (strcmp(line, "0") != 0 || *list)
				continue;
			const char *mnts[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
			for (size_t i = 0; i < 2; i++) {
				char probe[PATH_MAX];
				snprintf(probe, sizeof probe, "%s%s/cgroup.controllers", mnts[i],
					 path);
				if (access(probe, R_OK) == 0) {
					snprintf(out, len, "%s%s", mnts[i], strcmp(path, "/") ? path : "");
					return 0;
				}
			}
			return -ENOENT;
		}
		/* "memory" or "cpu,cpuacct": the hierarchy that holds ctrl */
		char names[256];
		al_strlcpy(names, list, sizeof names);
		bool found = false;
		for (char *s2 = NULL, *n = strtok_r(names, ",", &s2); n; n = strtok_r(NULL, ",", &s2))
			if (strcmp(n, ctrl) == 0)
				found = true;
		if (!found)
			continue;
		const char *cands[] = { ctrl, list };
		int err = -ENOENT; /* -EACCES where it is there but not ours */
		for (size_t i = 0; i < 2; i++) {
			char base[PATH_MAX];
			snprintf(base, sizeof base, "/sys/fs/cgroup/%s%s", cands[i],
				 strcmp(path, "/") ? path : "");
			char probe[PATH_MAX + 16];
			snprintf(probe, sizeof probe, "%s/cgroup.procs", base);
			if (access(probe, W_OK) == 0) {
				al_strlcpy(out, base, len);
				return 0;
			}
			if (errno != ENOENT)
				err = -errno;
		}
		return err;
	}
	return -ENOENT;
}

int al_cgroup_write(const char *dir, const char *file, const char *val)
{
	char p[PATH_MAX + 64];
	snprintf(p, sizeof p, "%s/%s", dir, file);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = al_write_all(fd, val, strlen(val));
	close(fd);
	return rc;
}

static int read_u64(const char *dir, const char *file, uint64_t *v)
{
	char p[PATH_MAX + 64];
	AL_AUTOFREE char *text = NULL;
	snprintf(p, sizeof p, "%s/%s", dir, file);
	int rc = al_read_file_at(AT_FDCWD, p, 4096, &text, NULL);
	if (rc < 0)
		return rc;
	text[strcspn(text, " \n")] = '\0';
	if (strcmp(text, "max") == 0) {
		*v = UINT64_MAX;
		return 0;
	}
	return al_parse_u64(text, v);
}

/* NAME is airlock-<pid>-runner: a runner's own leaf (v2_enable). */
static bool runner_leaf(const char *name, int *pid)
{
	int n = 0;
	return sscanf(name, "airlock-%d-runner%n", pid, &n) == 1 && n > 0 && name[n] == '\0';
}

/* The runner's v2 cgroup, or its parent when the runner sits in its leaf
 * there: the domains' cgroups go beside the leaf, never below it. */
static int v2_dir(char *dir, size_t len)
{
	int rc = own_dir(NULL, dir, len), pid;
	char *slash = rc == 0 ? strrchr(dir, '/') : NULL;
	if (slash && runner_leaf(slash + 1, &pid))
		*slash = '\0';
	return rc;
}

/*
 * Delegated to this runner: the directory belongs to a user other than root
 * (whoever it was given to: the runner's own uid for an ordinary user), or
 * systemd marked it delegated (the user.delegate or trusted.delegate
 * attribute, systemd 251 and later, on a unit with Delegate=yes). *owner is
 * the directory's owner.
 */
static bool delegated(const char *dir, uid_t *owner)
{
	struct stat st;
	char v[8];
	if (stat(dir, &st) < 0)
		return false;
	*owner = st.st_uid;
	if (st.st_uid != 0)
		return true;
	static const char *const attrs[] = { "user.delegate", "trusted.delegate" };
	for (size_t i = 0; i < 2; i++) {
		ssize_t n = getxattr(dir, attrs[i], v, sizeof v - 1);
		if (n == 1 && v[0] == '1')
			return true;
	}
	return false;
}

/*
 * Gives the domain controllers to the children of base. A v2 cgroup that
 * holds processes cannot (EBUSY: the no-internal-process rule); where base is
 * delegated to the runner and holds only the runner, the runner moves itself
 * into base/airlock-<pid>-runner first, which is what systemd's delegation
 * documentation asks of a delegated unit. Not in a cgroup that is not
 * delegated: its manager placed the runner there and the move would be its
 * own. Where the controllers are still refused (other processes in base),
 * the runner goes back.
 */
static int v2_enable(const char *base)
{
	static const char ctrls[] = "+memory +pids +cpu";
	int rc = al_cgroup_write(base, "cgroup.subtree_control", ctrls);
	uid_t owner;
	if (rc != -EBUSY || !delegated(base, &owner))
		return rc;
	char leaf[PATH_MAX + 64], me[24];
	snprintf(leaf, sizeof leaf, "%s/airlock-%d-runner", base, (int)getpid());
	snprintf(me, sizeof me, "%d", (int)getpid());
	if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
		return -errno;
	if ((rc = al_cgroup_write(leaf, "cgroup.procs", me)) < 0) {
		rmdir(leaf);
		return rc;
	}
	if ((rc = al_cgroup_write(base, "cgroup.subtree_control", ctrls)) < 0) {
		(void)al_cgroup_write(base, "cgroup.procs", me);
		rmdir(leaf);
		return rc;
	}
	al_log_info("cgroup: in the delegated %s, the runner moved to its leaf airlock-%d-runner", base,
		    (int)getpid());
	return 0;
}

static bool v2_usable(char *dir, size_t len)
{
	AL_AUTOFREE char *ctrls = NULL;
	char p[PATH_MAX + 32];
	if (v2_dir(dir, len) < 0)
		return false;
	snprintf(p, sizeof p, "%s/cgroup.controllers", dir);
	if (al_read_file_at(AT_FDCWD, p, 4096, &ctrls, NULL) < 0)
		return false;
	return strstr(ctrls, "memory") && strstr(ctrls, "pids") && strstr(ctrls, "cpu");
}

static bool wants(const struct al_spec *spec, enum al_cg_ctrl c)
{
	switch (c) {
	case AL_CG_MEMORY:
		return spec->cg_memory != 0;
	case AL_CG_PIDS:
		return spec->cg_pids != 0;
	case AL_CG_CPU:
		return spec->cg_cpu_percent != 0 || spec->sched.cpu_weight != 0 || spec->sched.cpu_idle;
	default:
		return false;
	}
}

/* The scheduling class's share of the group: its weight, then the idle flag
 * (the kernel refuses a weight for a group once it is idle). A kernel without
 * cpu.idle (before 5.15) leaves it off; the attestation reports it absent. */
static int set_sched(const struct al_spec *spec, const char *dir, bool v2)
{
	char v[32];
	int rc;
	if (spec->sched.cpu_weight) {
		snprintf(v, sizeof v, "%llu", v2 ? (unsigned long long)spec->sched.cpu_weight
						 : (unsigned long long)al_sched_v1_shares(spec->sched.cpu_weight));
		if ((rc = al_cgroup_write(dir, v2 ? "cpu.weight" : "cpu.shares", v)) < 0)
			return rc;
	}
	if (spec->sched.cpu_idle && (rc = al_cgroup_write(dir, "cpu.idle", "1")) < 0 && rc != -ENOENT)
		return rc;
	return 0;
}

static int set_limits(const struct al_spec *spec, const struct al_cgroup *cg)
{
	char v[64];
	int rc = 0;
	if (cg->v2) {
		const char *d = cg->dir[0];
		snprintf(v, sizeof v, "%llu", (unsigned long long)spec->cg_memory);
		if (spec->cg_memory && (rc = al_cgroup_write(d, "memory.max", v)) < 0)
			return rc;
		if (spec->cg_memory)
			(void)al_cgroup_write(d, "memory.swap.max", "0");
		snprintf(v, sizeof v, "%llu", (unsigned long long)spec->cg_pids);
		if (spec->cg_pids && (rc = al_cgroup_write(d, "pids.max", v)) < 0)
			return rc;
		snprintf(v, sizeof v, "%u 100000", spec->cg_cpu_percent * 1000u);
		if (spec->cg_cpu_percent && (rc = al_cgroup_write(d, "cpu.max", v)) < 0)
			return rc;
		return set_sched(spec, d, true);
	}
	if (spec->cg_memory) {
		snprintf(v, sizeof v, "%llu", (unsigned long long)spec->cg_memory);
		if ((rc = al_cgroup_write(cg->dir[AL_CG_MEMORY], "memory.limit_in_bytes", v)) < 0)
			return rc;
		/* no swap beyond the limit, where swap accounting exists */
		(void)al_cgroup_write(cg->dir[AL_CG_MEMORY], "memory.memsw.limit_in_bytes", v);
	}
	if (spec->cg_pids) {
		snprintf(v, sizeof v, "%llu", (unsigned long long)spec->cg_pids);
		if ((rc = al_cgroup_write(cg->dir[AL_CG_PIDS], "pids.max", v)) < 0)
			return rc;
	}
	if (spec->cg_cpu_percent) {
		snprintf(v, sizeof v, "%u", spec->cg_cpu_percent * 1000u);
		if ((rc = al_cgroup_write(cg->dir[AL_CG_CPU], "cpu.cfs_period_us", "100000")) < 0 ||
		    (rc = al_cgroup_write(cg->dir[AL_CG_CPU], "cpu.cfs_quota_us", v)) < 0)
			return rc;
	}
	return cg->dir[AL_CG_CPU][0] ? set_sched(spec, cg->dir[AL_CG_CPU], false) : 0;
}

/*
 * The real-time group (cgroup v1 with RT group scheduling): a v1 cpu group of
 * its own below the runner's, NAME-io, with the budget. A new group has no
 * budget, and a real-time thread cannot even be placed in one without. The
 * budget is optional: where the parent has none left (other groups hold it)
 * the group is not made and cg->rt_err says why, and the I/O threads then
 * stay SCHED_OTHER (sched.c); where there is no v1 cpu hierarchy (cgroup v2
 * has no real-time budget) rt_err is ENOTSUP, and RLIMIT_RTTIME with the
 * kernel's global sched_rt_runtime_us bound them. The attestation says which.
 */
static void make_rt_group(const struct al_spec *spec, struct al_cgroup *cg, const char *name)
{
	char base[PATH_MAX - 80], v[32];
	int rc;
	if (cg->v2 || own_dir("cpu", base, sizeof base) < 0) {
		cg->rt_err = ENOTSUP;
		return;
	}
	snprintf(cg->rt_dir, sizeof cg->rt_dir, "%s/%s-io", base, name);
	if (mkdir(cg->rt_dir, 0755) < 0) {
		cg->rt_err = errno;
		cg->rt_dir[0] = '\0';
		return;
	}
	snprintf(v, sizeof v, "%u", spec->sched.rt_period_us);
	if ((rc = al_cgroup_write(cg->rt_dir, "cpu.rt_period_us", v)) == 0) {
		snprintf(v, sizeof v, "%u", spec->sched.rt_runtime_us);
		rc = al_cgroup_write(cg->rt_dir, "cpu.rt_runtime_us", v);
	}
	if (rc < 0) {
		cg->rt_err = rc == -ENOENT ? ENOTSUP : -rc;
		al_log_info("cgroup: real-time budget %u/%u us not given: %s", spec->sched.rt_runtime_us,
			    spec->sched.rt_period_us, strerror(-rc));
		rmdir(cg->rt_dir);
		cg->rt_dir[0] = '\0';
	}
}

static int create_limits(const struct al_spec *spec, struct al_cgroup *cg, const char *name);

int al_cgroup_create(const struct al_spec *spec, struct al_cgroup *cg)
{
	memset(cg, 0, sizeof *cg);
	bool any = false;
	for (int c = 0; c < AL_CG_LIMITS; c++)
		any |= wants(spec, (enum al_cg_ctrl)c);
	char name[64];
	snprintf(name, sizeof name, "airlock-%d-%u", (int)getpid(),
		 atomic_fetch_add(&cg_counter, 1));
	int rc = any ? create_limits(spec, cg, name) : 0;
	if (rc == 0 && spec->sched.rt_runtime_us)
		make_rt_group(spec, cg, name);
	return rc;
}

/* The domain's own groups, with its limits. */
static int create_limits(const struct al_spec *spec, struct al_cgroup *cg, const char *name)
{
	char base[PATH_MAX - 80];
	int rc;
	if (v2_usable(base, sizeof base)) {
		/* may be refused (a cgroup with processes cannot delegate): then v1 */
		(void)v2_enable(base);
		cg->v2 = true;
		snprintf(cg->dir[0], sizeof cg->dir[0], "%s/%s", base, name);
		if (mkdir(cg->dir[0], 0755) < 0)
			return -errno;
		cg->used = true;
		if ((rc = set_limits(spec, cg)) == 0)
			return 0;
		al_cgroup_destroy(cg);
		memset(cg, 0, sizeof *cg);
		al_log_debug("cgroup: v2 limits refused (%s), trying v1", strerror(-rc));
	}
	for (int c = 0; c < AL_CG_N; c++) {
		if (c == AL_CG_FREEZER) {
			/* optional: without it, freezing falls back to SIGSTOP */
			if (own_dir(ctrl_name[c], base, sizeof base) < 0)
				continue;
		} else if (!wants(spec, (enum al_cg_ctrl)c)) {
			continue;
		} else if ((rc = own_dir(ctrl_name[c], base, sizeof base)) < 0) {
			/* an ordinary user: spawn.c says in one line what carries the limits */
			if (geteuid() == 0)
				al_log_warnx("cgroup: no writable %s controller for the runner", ctrl_name[c]);
			else
				al_log_info("cgroup: no writable %s controller for the runner", ctrl_name[c]);
			goto fail;
		}
		snprintf(cg->dir[c], sizeof cg->dir[c], "%s/%s", base, name);
		if (mkdir(cg->dir[c], 0755) < 0) {
			rc = -errno;
			cg->dir[c][0] = '\0';
			al_log_warn("cgroup: mkdir %s/%s", base, name);
			goto fail;
		}
		cg->used = true;
	}
	if ((rc = set_limits(spec, cg)) < 0) {
		al_log_warnx("cgroup: setting limits: %s", strerror(-rc));
		goto fail;
	}
	return 0;
fail:
	al_cgroup_destroy(cg);
	return rc;
}

int al_cgroup_attach(const struct al_cgroup *cg, pid_t pid)
{
	char v[32];
	snprintf(v, sizeof v, "%d", (int)pid);
	/* v1: the first write waits for an RCU grace period (the global
	 * threadgroup rwsem), ~13 ms on the development VM; the others are cheap */
	for (int c = 0; c < AL_CG_N; c++) {
		if (!cg->dir[c][0])
			continue;
		int rc = al_cgroup_write(cg->dir[c], "cgroup.procs", v);
		if (rc < 0) {
			al_log_warnx("cgroup: joining %s: %s", cg->dir[c], strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int al_cgroup_destroy(struct al_cgroup *cg)
{
	int ret = 0;
	if (cg->rt_dir[0]) {
		int rc = -EBUSY;
		for (int tries = 0; tries < 200 && rc == -EBUSY; tries++) {
			rc = rmdir(cg->rt_dir) < 0 ? -errno : 0;
			if (rc == -ENOENT)
				rc = 0;
			if (rc == -EBUSY)
				nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
		}
		if (rc < 0) {
			al_log_warnx("cgroup: cannot remove %s: %s", cg->rt_dir, strerror(-rc));
			ret = rc;
		} else {
			cg->rt_dir[0] = '\0';
		}
	}
	for (int c = 0; c < AL_CG_N; c++) {
		if (!cg->dir[c][0])
			continue;
		/* the last tasks of a dead pid namespace may take a moment to leave */
		int rc = -EBUSY;
		for (int tries = 0; tries < 200 && rc == -EBUSY; tries++) {
			rc = rmdir(cg->dir[c]) < 0 ? -errno : 0;
			if (rc == -ENOENT)
				rc = 0;
			if (rc == -EBUSY)
				nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
		}
		if (rc < 0) {
			al_log_warnx("cgroup: cannot remove %s: %s", cg->dir[c], strerror(-rc));
			ret = rc;
		} else {
			cg->dir[c][0] = '\0';
		}
	}
	cg->used = false;
	return ret;
}

int al_cgroup_read(const struct al_cgroup *cg, enum al_cg_ctrl c, uint64_t *val)
{
	if (cg->v2) {
		const char *d = cg->dir[0];
		if (!d[0])
			return -ENOENT;
		if (c == AL_CG_MEMORY)
			return read_u64(d, "memory.max", val);
		if (c == AL_CG_PIDS)
			return read_u64(d, "pids.max", val);
		uint64_t q;
		int rc = read_u64(d, "cpu.max", &q);
		if (rc == 0)
			*val = q == UINT64_MAX ? 0 : q / 1000;
		return rc;
	}
	if (!cg->dir[c][0])
		return -ENOENT;
	if (c == AL_CG_MEMORY)
		return read_u64(cg->dir[c], "memory.limit_in_bytes", val);
	if (c == AL_CG_PIDS)
		return read_u64(cg->dir[c], "pids.max", val);
	AL_AUTOFREE char *t = NULL;
	char p[PATH_MAX + 32];
	snprintf(p, sizeof p, "%s/cpu.cfs_quota_us", cg->dir[c]);
	int rc = al_read_file_at(AT_FDCWD, p, 64, &t, NULL);
	if (rc < 0)
		return rc;
	long long q = strtoll(t, NULL, 10);
	*val = q < 0 ? 0 : (uint64_t)q / 1000;
	return 0;
}

int al_cgroup_read_sched(const struct al_cgroup *cg, uint64_t *weight, int *idle)
{
	const char *d = cg->v2 ? cg->dir[0] : cg->dir[AL_CG_CPU];
	if (!d[0])
		return -ENOENT;
	uint64_t v = 0;
	int rc = read_u64(d, cg->v2 ? "cpu.weight" : "cpu.shares", &v);
	if (rc < 0)
		return rc;
	*weight = v;
	*idle = read_u64(d, "cpu.idle", &v) == 0 ? (int)v : -1;
	return 0;
}

int al_cgroup_read_rt(const struct al_cgroup *cg, uint64_t *runtime_us, uint64_t *period_us)
{
	if (!cg->rt_dir[0])
		return -ENOENT;
	int rc = read_u64(cg->rt_dir, "cpu.rt_runtime_us", runtime_us);
	return rc < 0 ? rc : read_u64(cg->rt_dir, "cpu.rt_period_us", period_us);
}

int al_cgroup_rt_join(const struct al_cgroup *cg, pid_t tid)
{
	char v[32];
	if (!cg->rt_dir[0])
		return -ENOENT;
	snprintf(v, sizeof v, "%d", (int)tid);
	return al_cgroup_write(cg->rt_dir, "tasks", v);
}

static void sweep_dir(const char *base)
{
	DIR *d = opendir(base);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		int pid;
		unsigned n;
		if ((sscanf(e->d_name, "airlock-%d-%u", &pid, &n) != 2 && !runner_leaf(e->d_name, &pid)) ||
		    pid <= 0 || pid == getpid())
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue; /* its runner is alive: not ours to remove */
		char p[PATH_MAX + 300];
		snprintf(p, sizeof p, "%s/%s", base, e->d_name);
		if (rmdir(p) == 0)
			al_log_info("cgroup: removed stale %s", p);
	}
	closedir(d);
}

void al_cgroup_sweep(void)
{
	char base[PATH_MAX];
	if (v2_dir(base, sizeof base) == 0)
		sweep_dir(base);
	for (int c = 0; c < AL_CG_N; c++)
		if (own_dir(ctrl_name[c], base, sizeof base) == 0)
			sweep_dir(base);
}

/* Whether a domain's cgroup can be made here: v2 with the three controllers,
 * or a v1 directory for each, below the runner's cgroup and writable. */
bool al_cgroup_own_writable(void)
{
	char base[PATH_MAX];
	if (v2_usable(base, sizeof base) && access(base, W_OK) == 0)
		return true;
	for (int c = 0; c < AL_CG_LIMITS; c++)
		if (own_dir(ctrl_name[c], base, sizeof base) < 0 || access(base, W_OK) < 0)
			return false;
	return true;
}

/*
 * "v1 memory pids cpu freezer, delegated to uid 1000": the hierarchy, the
 * controllers, and whether the runner's cgroup (the parent directory) is
 * delegated; a controller whose parent differs from the others says so.
 */
void al_cgroup_describe(const struct al_cgroup *cg, char *buf, size_t len)
{
	bool deleg[AL_CG_N] = { false };
	uid_t owner[AL_CG_N] = { 0 };
	int n = 0, n_deleg = 0, last = -1;
	for (int c = 0; c < AL_CG_N; c++) {
		if (!cg->dir[c][0])
			continue;
		char parent[PATH_MAX];
		al_strlcpy(parent, cg->dir[c], sizeof parent);
		char *slash = strrchr(parent, '/');
		if (slash)
			*slash = '\0';
		deleg[c] = delegated(parent, &owner[c]);
		n++;
		n_deleg += deleg[c];
		/* one owner for all of them, or the mixed form below */
		if (last >= 0 && (deleg[c] != deleg[last] || owner[c] != owner[last]))
			n_deleg = -AL_CG_N;
		last = c;
	}
	size_t at = (size_t)snprintf(buf, len, "%s", cg->v2 ? "v2" : "v1");
	for (int c = 0; c < AL_CG_N && !cg->v2 && at < len; c++)
		if (cg->dir[c][0]) {
			at += (size_t)snprintf(buf + at, len - at, " %s", ctrl_name[c]);
			if (n_deleg < 0 && deleg[c] && at < len)
				at += (size_t)snprintf(buf + at, len - at, " (delegated to uid %u)",
						       (unsigned)owner[c]);
		}
	if (at >= len || n == 0 || n_deleg <= 0)
		return;
	if (owner[last] != 0)
		snprintf(buf + at, len - at, ", delegated to uid %u", (unsigned)owner[last]);
	else
		snprintf(buf + at, len - at, ", delegated");
}
