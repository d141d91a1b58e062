/*
 * /proc state checks (see procstate.h). The files are written by the kernel,
 * but a domain chooses its own comm (the Name: line) and mapping names; the
 * kernel escapes newlines in both, so a line is always one field.
 */
#include "integrity/procstate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/util.h"

#define STATUS_MAX (64 * 1024)
#define MAPS_MAX (16 * 1024 * 1024)

static int proc_path(char *buf, size_t len, const char *root, pid_t pid, const char *file)
{
	int n = snprintf(buf, len, "%s/proc/%d/%s", root ? root : "", (int)pid, file);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Value of "Key:\t..." at the start of a line, or NULL. */
static const char *field(const char *text, const char *key, size_t *vlen)
{
	size_t klen = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			const char *v = p + klen + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			const char *e = strchr(v, '\n');
			*vlen = e ? (size_t)(e - v) : strlen(v);
			return v;
		}
	}
	return NULL;
}

static int field_int(const char *text, const char *key, int *out)
{
	size_t len;
	const char *v = field(text, key, &len);
	char buf[24];
	uint64_t x;
	if (!v || len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	if (al_parse_u64(buf, &x) < 0 || x > INT_MAX)
		return -1;
	*out = (int)x;
	return 0;
}

static int field_hex(const char *text, const char *key, uint64_t *out)
{
	size_t len;
	const char *v = field(text, key, &len);
	uint64_t x = 0;
	if (!v || len == 0 || len > 16)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		int d = c >= '0' && c <= '9' ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		x = x << 4 | (uint64_t)d;
	}
	*out = x;
	return 0;
}

static void field_str(const char *text, const char *key, char *out, size_t outlen)
{
	size_t len;
	const char *v = field(text, key, &len);
	out[0] = '\0';
	if (v) {
		if (len >= outlen)
			len = outlen - 1;
		memcpy(out, v, len);
		out[len] = '\0';
	}
}

int al_procstate_parse_status(const char *text, struct al_procstate *ps)
{
	ps->seccomp = -1;
	ps->no_new_privs = -1;
	if (field_int(text, "Seccomp", &ps->seccomp) < 0)
		ps->seccomp = -1;
	if (field_int(text, "NoNewPrivs", &ps->no_new_privs) < 0)
		ps->no_new_privs = -1;
	ps->caps_known = field_hex(text, "CapInh", &ps->cap_inh) == 0 &&
			 field_hex(text, "CapPrm", &ps->cap_prm) == 0 &&
			 field_hex(text, "CapEff", &ps->cap_eff) == 0 &&
			 field_hex(text, "CapBnd", &ps->cap_bnd) == 0 &&
			 field_hex(text, "CapAmb", &ps->cap_amb) == 0;
	field_str(text, "Speculation_Store_Bypass", ps->spec_store_bypass,
		  sizeof ps->spec_store_bypass);
	field_str(text, "SpeculationIndirectBranch", ps->spec_indirect_branch,
		  sizeof ps->spec_indirect_branch);
	return ps->seccomp < 0 || ps->no_new_privs < 0 || !ps->caps_known ? -EBADMSG : 0;
}

static bool suffix(const char *s, size_t len, const char *suf)
{
	size_t n = strlen(suf);
	return len >= n && memcmp(s + len - n, suf, n) == 0;
}

void al_procstate_parse_maps(const char *text, struct al_procstate *ps)
{
	ps->anon_exec = 0;
	ps->deleted_exec = 0;
	ps->first_bad_map[0] = '\0';
	for (const char *p = text; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		const char *line = p;
		p = eol ? eol + 1 : NULL;
		/* start-end perms offset dev inode [path]: walk five fields. */
		const char *q = line, *end = line + len, *perms = NULL;
		for (int f = 0; f < 5 && q < end; f++) {
			while (q < end && *q == ' ')
				q++;
			if (f == 1)
				perms = q;
			while (q < end && *q != ' ')
				q++;
		}
		if (!perms || end - perms < 4 || perms[2] != 'x')
			continue;
		while (q < end && *q == ' ')
			q++;
		const char *path = q;
		size_t plen = (size_t)(end - q);
		bool anon = plen == 0 || strncmp(path, "/memfd:", 7) == 0 ||
			    (path[0] == '[' && !(plen == 6 && strncmp(path, "[vdso]", 6) == 0) &&
			     !(plen == 10 && strncmp(path, "[vsyscall]", 10) == 0) &&
			     !(plen == 9 && strncmp(path, "[uprobes]", 9) == 0));
		bool deleted = !anon && suffix(path, plen, " (deleted)");
		if (!anon && !deleted)
			continue;
		if (anon)
			ps->anon_exec++;
		else
			ps->deleted_exec++;
		if (!ps->first_bad_map[0]) {
			size_t n = len < sizeof ps->first_bad_map - 1 ? len
								     : sizeof ps->first_bad_map - 1;
			memcpy(ps->first_bad_map, line, n);
			ps->first_bad_map[n] = '\0';
		}
	}
}

int al_procstate_read(const char *root, pid_t pid, struct al_procstate *ps)
{
	char path[PATH_MAX];
	char *text = NULL;
	int rc;
	memset(ps, 0, sizeof *ps);
	if ((rc = proc_path(path, sizeof path, root, pid, "status")) < 0)
		return rc;
	if ((rc = al_read_file_at(AT_FDCWD, path, STATUS_MAX, &text, NULL)) < 0)
		return rc;
	rc = al_procstate_parse_status(text, ps);
	free(text);
	if (rc < 0) {
		al_log_warnx("procstate: %s lacks Seccomp, NoNewPrivs or Cap* fields", path);
		return rc;
	}
	if ((rc = proc_path(path, sizeof path, root, pid, "maps")) < 0)
		return rc;
	if ((rc = al_read_file_at(AT_FDCWD, path, MAPS_MAX, &text, NULL)) < 0)
		return rc;
	al_procstate_parse_maps(text, ps);
	free(text);
	return 0;
}

bool al_procstate_confined(const struct al_procstate *ps, char *why, size_t whylen)
{
	if (ps->seccomp != 2)
		snprintf(why, whylen, "Seccomp is %d, not 2 (filter)", ps->seccomp);
	else if (ps->no_new_privs != 1)
		snprintf(why, whylen, "NoNewPrivs is %d, not 1", ps->no_new_privs);
	else if (!ps->caps_known || ps->cap_inh || ps->cap_prm || ps->cap_eff || ps->cap_bnd ||
		 ps->cap_amb)
		snprintf(why, whylen,
			 "capabilities not empty (inh %016" PRIx64 " prm %016" PRIx64
			 " eff %016" PRIx64 " bnd %016" PRIx64 " amb %016" PRIx64 ")",
			 ps->cap_inh, ps->cap_prm, ps->cap_eff, ps->cap_bnd, ps->cap_amb);
	else if (ps->anon_exec)
		snprintf(why, whylen, "%u anonymous executable mapping(s): %s", ps->anon_exec,
			 ps->first_bad_map);
	else if (ps->deleted_exec)
		snprintf(why, whylen, "%u executable mapping(s) of a deleted file: %s",
			 ps->deleted_exec, ps->first_bad_map);
	else
		return true;
	return false;
}

int al_procstate_exe_matches(const char *root, pid_t pid, int expected_fd)
{
	char path[PATH_MAX];
	struct stat a, b;
	int rc = proc_path(path, sizeof path, root, pid, "exe");
	if (rc < 0)
		return rc;
	/* stat() follows the magic link to the inode that was executed, even if renamed. */
	if (stat(path, &a) < 0 || fstat(expected_fd, &b) < 0)
		return -errno;
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		al_log_warnx("procstate: pid %d runs %u:%lu, not the verified file %u:%lu", (int)pid,
			     (unsigned)a.st_dev, (unsigned long)a.st_ino, (unsigned)b.st_dev,
			     (unsigned long)b.st_ino);
		return -ESTALE;
	}
	return 0;
}

static const char *const ns_names[AL_NS_COUNT] = { "user", "pid", "mnt", "net", "ipc", "uts",
						   "cgroup" };

int al_procstate_read_ns(const char *root, pid_t pid, struct al_procstate_ns *ns)
{
	char path[PATH_MAX], rel[16];
	struct stat st;
	for (int i = 0; i < AL_NS_COUNT; i++) {
		snprintf(rel, sizeof rel, "ns/%s", ns_names[i]);
		int rc = proc_path(path, sizeof path, root, pid, rel);
		if (rc < 0)
			return rc;
		/* stat() follows the magic link to the namespace's nsfs inode. */
		if (stat(path, &st) < 0)
			return -errno;
		ns->dev[i] = (uint64_t)st.st_dev;
		ns->ino[i] = (uint64_t)st.st_ino;
	}
	return 0;
}

int al_procstate_ns_same(const struct al_procstate_ns *a, const struct al_procstate_ns *b,
			 const char **which)
{
	for (int i = 0; i < AL_NS_COUNT; i++) {
		if (a->dev[i] != b->dev[i] || a->ino[i] != b->ino[i]) {
			if (which)
				*which = ns_names[i];
			return -ESTALE;
		}
	}
	return 0;
}
