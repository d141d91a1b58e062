/*
 * The domain specification: defaults, and building it up from a profile file
 * (INI, parsed by inih) and from command-line additions. Everything here is
 * decided before anything runs; spawn.c only carries it out.
 */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "al_config.h"
#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox_int.h"

void al_spec_init(struct al_spec *spec)
{
	memset(spec, 0, sizeof *spec);
	spec->outside_uid = AL_SANDBOX_NOBODY;
	spec->outside_gid = AL_SANDBOX_NOBODY;
	spec->rl_as = spec->rl_cpu = spec->rl_nofile = UINT64_MAX;
	spec->rl_nproc = spec->rl_fsize = spec->rl_memlock = UINT64_MAX;
	spec->spec_store_bypass = spec->spec_indirect_branch = spec->spec_l1d_flush = true;
	spec->mdwe = spec->memfd_noexec = spec->core_sched = true;
	spec->drop_caps = spec->no_new_privs = true;
	spec->landlock = AL_LANDLOCK_BEST_EFFORT;
	spec->seccomp = true;
	spec->seccomp_mode = AL_SECCOMP_KILL;
	spec->keep_stdio = true;
	/* an unprivileged runner rarely has a delegated cgroup */
	spec->cg_required = geteuid() == 0;
	spec->exec_fd = -1;
}

void al_spec_free(struct al_spec *spec)
{
	for (size_t i = 0; i < spec->n_paths; i++) {
		free(spec->paths[i].path);
		free(spec->paths[i].link);
	}
	for (size_t i = 0; i < spec->n_allow; i++)
		free(spec->allow[i]);
	free(spec->name);
	al_seccomp_free(spec);
	spec->n_paths = spec->n_allow = 0;
	spec->name = NULL;
}

int al_spec_add_path(struct al_spec *spec, const char *path, bool rw)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof buf)
		return -EINVAL;
	memcpy(buf, path, n + 1);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	bool is_dir = false;
	int rc = al_path_check(buf, &is_dir);
	if (rc < 0) {
		al_log_warnx("sandbox: path %s refused: %s", path,
			     rc == -ELOOP ? "a component is a symlink"
			     : rc == -EINVAL ? "not absolute and normalised, or not a file or directory"
					     : strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < spec->n_paths; i++)
		if (strcmp(spec->paths[i].path, buf) == 0)
			return -EEXIST;
	if (spec->n_paths == AL_SANDBOX_MAX_PATHS)
		return -E2BIG;
	char *p = strdup(buf);
	if (!p)
		return -ENOMEM;
	spec->paths[spec->n_paths++] = (struct al_path){ .path = p, .rw = rw, .is_dir = is_dir };
	return 0;
}

int al_spec_add_system_path(struct al_spec *spec, const char *path)
{
	char target[PATH_MAX];
	struct stat st;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISLNK(st.st_mode))
		return al_spec_add_path(spec, path, false);
	/* "/x" only, and a plain relative target like "usr/bin" */
	if (path[0] != '/' || strchr(path + 1, '/') || !path[1])
		return -ELOOP;
	ssize_t n = readlink(path, target, sizeof target - 1);
	if (n <= 0)
		return n < 0 ? -errno : -EINVAL;
	target[n] = '\0';
	char abs[PATH_MAX + 1];
	snprintf(abs, sizeof abs, "/%s", target);
	bool dir;
	if (target[0] == '/' || al_path_check(abs, &dir) < 0)
		return -ELOOP;
	for (size_t i = 0; i < spec->n_paths; i++)
		if (strcmp(spec->paths[i].path, path) == 0)
			return -EEXIST;
	if (spec->n_paths == AL_SANDBOX_MAX_PATHS)
		return -E2BIG;
	char *p = strdup(path), *l = strdup(target);
	if (!p || !l) {
		free(p);
		free(l);
		return -ENOMEM;
	}
	spec->paths[spec->n_paths++] = (struct al_path){ .path = p, .link = l };
	return 0;
}

int al_spec_add_fd(struct al_spec *spec, int src, int dst)
{
	/* sources above 899 would collide with the child's temporaries */
	if (src < 0 || src >= 900 || dst < 0 || dst > AL_SANDBOX_MAX_FD_NUM)
		return -EBADF;
	if (spec->n_fds == AL_SANDBOX_MAX_FDS)
		return -E2BIG;
	for (size_t i = 0; i < spec->n_fds; i++)
		if (spec->fds[i].dst == dst)
			return -EEXIST;
	spec->fds[spec->n_fds++] = (struct al_passfd){ .src = src, .dst = dst };
	return 0;
}

int al_spec_allow_syscall(struct al_spec *spec, const char *name)
{
	if (al_seccomp_always_denied(name)) {
		al_log_warnx("sandbox: %s is always denied; a profile cannot allow it", name);
		return -EPERM;
	}
	for (size_t i = 0; i < spec->n_allow; i++)
		if (strcmp(spec->allow[i], name) == 0)
			return 0;
	if (spec->n_allow == AL_SANDBOX_MAX_SYSCALLS)
		return -E2BIG;
	if (!(spec->allow[spec->n_allow] = strdup(name)))
		return -ENOMEM;
	spec->n_allow++;
	return 0;
}

/* ------------------------------------------------------------- profiles -- */

struct parse_ctx {
	struct al_spec *spec;
	const char *origin;
	int err;
};

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* a size, a count or "unlimited" */
static int parse_limit(const char *v, uint64_t *out)
{
	if (!strcmp(v, "unlimited")) {
		*out = UINT64_MAX;
		return 0;
	}
	return al_parse_size(v, out);
}

static int set_key(struct al_spec *s, const char *sec, const char *k, const char *v)
{
	uint64_t u;
	int rc;
#define IS(a, b) (!strcmp(sec, a) && !strcmp(k, b))
	if (IS("profile", "name")) {
		free(s->name);
		return (s->name = strdup(v)) ? 0 : -ENOMEM;
	}
	if (IS("profile", "description"))
		return 0;
	if (IS("filesystem", "ro") || IS("filesystem", "rw")) {
		rc = al_spec_add_path(s, v, k[1] == 'w');
		return rc == -ENOENT ? 0 : rc; /* system dirs differ across hosts */
	}
	if (IS("filesystem", "system")) {
		rc = al_spec_add_system_path(s, v);
		return rc == -ENOENT ? 0 : rc;
	}
	if (IS("filesystem", "proc"))
		return parse_bool(v, &s->proc);
	if (IS("filesystem", "dev"))
		return parse_bool(v, &s->dev);
	if (IS("filesystem", "tmp"))
		return parse_bool(v, &s->tmp);
	struct {
		const char *key;
		uint64_t *dst;
	} limits[] = {
		{ "as", &s->rl_as },         { "cpu_time", &s->rl_cpu },
		{ "nofile", &s->rl_nofile }, { "nproc", &s->rl_nproc },
		{ "fsize", &s->rl_fsize },   { "memlock", &s->rl_memlock },
		{ "memory", &s->cg_memory }, { "pids", &s->cg_pids },
	};
	for (size_t i = 0; i < AL_ARRAY_LEN(limits); i++) {
		if (!IS("limits", limits[i].key))
			continue;
		if ((rc = parse_limit(v, limits[i].dst)) < 0)
			return rc;
		/* keeps the exec fd number impossible to re-create: a larger limit is
		 * lowered to it (what the runner's own hard limit allows) */
		if (limits[i].dst == &s->rl_nofile && s->rl_nofile > (uint64_t)AL_SANDBOX_EXEC_FD) {
			al_log_info("profile: nofile %llu lowered to %d (the open-files limit here)",
				    (unsigned long long)s->rl_nofile, AL_SANDBOX_EXEC_FD);
			s->rl_nofile = (uint64_t)AL_SANDBOX_EXEC_FD;
		}
		if ((limits[i].dst == &s->cg_memory || limits[i].dst == &s->cg_pids) &&
		    *limits[i].dst == UINT64_MAX)
			*limits[i].dst = 0;
		return 0;
	}
	if (IS("limits", "cpu_percent")) {
		if ((rc = al_parse_u64(v, &u)) < 0 || u > 100000)
			return rc < 0 ? rc : -ERANGE;
		s->cg_cpu_percent = (uint32_t)u;
		return 0;
	}
	if (IS("cpu", "core_sched"))
		return parse_bool(v, &s->core_sched);
	if (IS("cpu", "sched")) {
		enum al_sched_class c;
		if (al_sched_class_parse(v, &c) < 0)
			return -EINVAL;
		s->sched = al_sched_of_class(c);
		return 0;
	}
	if (IS("cpu", "cpus")) {
		s->has_cpus = true;
		return al_cpu_parse_list(v, &s->cpus);
	}
	if (IS("protect", "store_bypass"))
		return parse_bool(v, &s->spec_store_bypass);
	if (IS("protect", "indirect_branch"))
		return parse_bool(v, &s->spec_indirect_branch);
	if (IS("protect", "l1d_flush"))
		return parse_bool(v, &s->spec_l1d_flush);
	if (IS("protect", "tsc_sigsegv"))
		return parse_bool(v, &s->tsc_sigsegv);
	if (IS("protect", "mdwe"))
		return parse_bool(v, &s->mdwe);
	if (IS("protect", "memfd_noexec"))
		return parse_bool(v, &s->memfd_noexec);
	if (IS("protect", "landlock")) {
		if (!strcmp(v, "off"))
			s->landlock = AL_LANDLOCK_OFF;
		else if (!strcmp(v, "best-effort"))
			s->landlock = AL_LANDLOCK_BEST_EFFORT;
		else if (!strcmp(v, "required"))
			s->landlock = AL_LANDLOCK_REQUIRED;
		else
			return -EINVAL;
		return 0;
	}
	if (IS("seccomp", "mode")) {
		if (!strcmp(v, "kill"))
			s->seccomp_mode = AL_SECCOMP_KILL;
		else if (!strcmp(v, "errno"))
			s->seccomp_mode = AL_SECCOMP_ERRNO;
		else if (!strcmp(v, "notify"))
			s->seccomp_mode = AL_SECCOMP_NOTIFY;
		else
			return -EINVAL;
		return 0;
	}
	if (IS("seccomp", "exec_once"))
		return parse_bool(v, &s->exec_once);
	if (IS("seccomp", "allow")) {
		/* a whitespace-separated list; the key may repeat or continue on indented lines */
		char buf[4096];
		if (al_strlcpy(buf, v, sizeof buf) >= sizeof buf)
			return -E2BIG;
		for (char *save = NULL, *w = strtok_r(buf, " \t", &save); w;
		     w = strtok_r(NULL, " \t", &save))
			if ((rc = al_spec_allow_syscall(s, w)) < 0)
				return rc;
		return 0;
	}
#undef IS
	return -ENOENT;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *c = user;
	int rc = set_key(c->spec, section, name, value);
	if (rc < 0) {
		al_log_warnx("profile %s: [%s] %s = %s: %s", c->origin, section, name, value,
			     rc == -ENOENT ? "unknown key" : strerror(-rc));
		c->err = rc;
		return 0;
	}
	return 1;
}

static int finish(struct parse_ctx *c, int line)
{
	if (line > 0 && c->err == 0) {
		al_log_warnx("profile %s: syntax error on line %d", c->origin, line);
		return -EINVAL;
	}
	if (line < 0)
		return -EIO;
	return c->err ? c->err : 0;
}

int al_profile_load_mem(struct al_spec *spec, const char *buf, size_t len, const char *origin)
{
	if (len > 1 << 20)
		return -EFBIG;
	char *copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	copy[len] = '\0';
	if (strlen(copy) != len) {
		free(copy);
		al_log_warnx("profile %s: NUL byte in text", origin);
		return -EINVAL;
	}
	struct parse_ctx c = { .spec = spec, .origin = origin };
	int line = ini_parse_string(copy, on_key, &c);
	free(copy);
	return finish(&c, line);
}

int al_profile_path(const char *name, char *buf, size_t len)
{
	if (strchr(name, '/')) {
		if (al_strlcpy(buf, name, len) >= len)
			return -ENAMETOOLONG;
		return 0;
	}
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
		      *c == '_'))
			return -EINVAL;
	/* run from the build tree: the source tree's profiles; installed: sysconfdir */
	const char *dirs[] = { AL_SOURCE_ROOT "/etc/profiles", AL_SYSCONFDIR "/profiles" };
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	bool in_build = n > 0 && (size_t)n > strlen(AL_BUILD_ROOT) &&
			strncmp(self, AL_BUILD_ROOT "/", strlen(AL_BUILD_ROOT) + 1) == 0;
	for (int i = in_build ? 0 : 1; i < 2; i++) {
		if ((size_t)snprintf(buf, len, "%s/%s.conf", dirs[i], name) >= len)
			return -ENAMETOOLONG;
		if (access(buf, R_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

int al_profile_load(struct al_spec *spec, const char *name_or_path)
{
	char path[PATH_MAX];
	int rc = al_profile_path(name_or_path, path, sizeof path);
	if (rc < 0) {
		al_log_warnx("profile %s: not found", name_or_path);
		return rc;
	}
	AL_AUTOFREE char *text = NULL;
	size_t len;
	if ((rc = al_read_file_at(AT_FDCWD, path, 1 << 20, &text, &len)) < 0) {
		al_log_warnx("profile %s: %s", path, strerror(-rc));
		return rc;
	}
	return al_profile_load_mem(spec, text, len, path);
}

int al_command_open(const char *cmd, char *where, size_t len)
{
	snprintf(where, len, "%s", cmd);
	if (strchr(cmd, '/'))
		return open(cmd, O_RDONLY | O_CLOEXEC);
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	char buf[4096];
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");
		if (n && (size_t)snprintf(buf, sizeof buf, "%.*s/%s", (int)n, p, cmd) < sizeof buf &&
		    access(buf, X_OK) == 0) {
			snprintf(where, len, "%s", buf);
			return open(buf, O_RDONLY | O_CLOEXEC);
		}
		p += n;
		if (*p == ':')
			p++;
	}
	errno = ENOENT;
	return -1;
}
