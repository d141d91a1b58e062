/*
 * `airlock gate install` and the run's check of what it installed
 * (gate_install.h). npm runs in its own domain; everything it wrote is
 * hostile until walked and hashed here.
 */
#include "supervisor/gate_install.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox.h"
#include "supervisor/gate_int.h"

#define NPM_TIMEOUT_S 600
#define DEFAULT_REGISTRY "https://registry.npmjs.org/"

int al_gate_cache_dir(char *buf, size_t len)
{
	int n;
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	if (geteuid() == 0)
		n = snprintf(buf, len, "/var/cache/airlock/gate");
	else if (xdg && xdg[0] == '/')
		n = snprintf(buf, len, "%s/airlock/gate", xdg);
	else if (home && home[0] == '/')
		n = snprintf(buf, len, "%s/.cache/airlock/gate", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * CACHE/npm, made as needed. As root the domains run as another user, which
 * must pass through it to reach a tree bound into them: 0711 (no listing).
 */
static int cache_npm_dir(const char *cache, char *out, size_t len)
{
	mode_t mode = geteuid() == 0 ? 0711 : 0700;
	if (snprintf(out, len, "%s/npm", cache) >= (int)len)
		return -ENAMETOOLONG;
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", out);
	for (char *s = tmp + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = '\0';
		bool ours = strlen(tmp) >= strlen(cache); /* CACHE and CACHE/npm: ours to set */
		if (mkdir(tmp, ours ? mode : 0755) < 0 && errno != EEXIST)
			return -errno;
		if (ours && chmod(tmp, mode) < 0)
			return -errno;
		if (!(*s = c))
			break;
	}
	return 0;
}

/* rm -r of name under dirfd, following no link. */
static int remove_tree(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) == 0 || (errno != EISDIR && errno != EPERM))
		return errno == ENOENT ? 0 : -errno;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int dfd = fd >= 0 ? dup(fd) : -1;
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			remove_tree(fd, e->d_name);
	closedir(d);
	close(fd);
	return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

/* What an install killed before it could clean up left: .tmp-* directories
 * older than any install may last. */
static void remove_stale(int npm_dirfd)
{
	int fd = dup(npm_dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *e;
	struct stat st;
	time_t old = time(NULL) - 2 * NPM_TIMEOUT_S;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, ".tmp-", 5) && fstatat(npm_dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode) && st.st_mtime < old)
			remove_tree(npm_dirfd, e->d_name);
	closedir(d);
}

/* ---- the tree ---- */

/* npm names the tree after its directory unless a package.json names it:
 * one fixed name, so that the same package gives the same tree. */
static int seed_package(const char *staging)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/package.json", staging);
	json_t *pkg = json_pack("{s:s, s:b}", "name", "airlock-gate-install", "private", 1);
	int rc = pkg && json_dump_file(pkg, path, JSON_INDENT(2)) == 0 ? 0 : -1;
	json_decref(pkg);
	if (rc == 0 && geteuid() == 0 && chown(path, AL_SANDBOX_NOBODY, AL_SANDBOX_NOBODY) < 0)
		rc = -1;
	return rc;
}

/* The package's name in "name@1.2.3" or "@scope/name@1.2.3". */
static void package_name(const char *spec, char *out, size_t len)
{
	const char *at = strrchr(spec, '@');
	snprintf(out, len, "%.*s", (int)(at - spec), spec);
}

/*
 * The staging tree, npm gone: root's (as root), hashed, checked to hold the
 * package, moved to CACHE/npm/HASH. *t describes the tree that is there.
 */
static int settle(const struct al_gate_policy *p, int npm_dirfd, const char *npm_dir, const char *staging,
		  struct al_gate_tree *t)
{
	const char *leaf = strrchr(staging, '/') + 1;
	bool root = geteuid() == 0;
	int fd = openat(npm_dirfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (root && (fchown(fd, 0, 0) < 0 || fchmod(fd, 0700) < 0))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	*t = (struct al_gate_tree){ .fix = AL_GATE_TREE_MODES | (root ? AL_GATE_TREE_CHOWN : 0) };
	int rc = al_gate_tree_walk(fd, t);
	char name[256], pj[300];
	struct stat st;
	package_name(p->npm, name, sizeof name);
	snprintf(pj, sizeof pj, "node_modules/%s/package.json", name);
	if (rc == 0 && (fstatat(fd, pj, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))) {
		al_log_warnx("gate install: npm did not install %s (no %s)", p->npm, pj);
		rc = -ENOENT;
	}
	if (rc == 0 && fchmod(fd, 0755) < 0)
		rc = -errno;
	close(fd);
	if (rc < 0)
		return rc;
	/* content-addressed: a tree already there under this name is kept if it
	 * still is what its name says, replaced otherwise */
	if (renameat(npm_dirfd, leaf, npm_dirfd, t->hex) == 0)
		return 0;
	if (errno != EEXIST && errno != ENOTEMPTY)
		return -errno;
	struct al_gate_tree old = { 0 };
	int ofd = openat(npm_dirfd, t->hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ofd >= 0 && al_gate_tree_walk(ofd, &old) == 0 && !strcmp(old.hex, t->hex)) {
		close(ofd);
		al_gate_tree_free(t);
		*t = old; /* its files' stat lines, not the staged copy's */
		return remove_tree(npm_dirfd, leaf);
	}
	if (ofd >= 0)
		close(ofd);
	al_gate_tree_free(&old);
	al_log_warnx("gate install: %s/%s did not match its name: replaced", npm_dir, t->hex);
	if ((rc = remove_tree(npm_dirfd, t->hex)) < 0)
		return rc;
	return renameat(npm_dirfd, leaf, npm_dirfd, t->hex) < 0 ? -errno : 0;
}

int al_gate_install(const struct al_gate_policy *p, const char *state_dir, const char *cache_dir,
		    const char *gate_worker)
{
	if (!p->npm) {
		fprintf(stderr, "airlock gate install: the policy has no [install] npm = PACKAGE@VERSION\n");
		return 1;
	}
	struct al_gate_state st = { 0 };
	char npm_dir[PATH_MAX], staging[PATH_MAX + 16], line[512];
	struct al_gate_tree t = { 0 };
	int rc, dirfd = -1;
	const char *registry = p->registry ? p->registry : DEFAULT_REGISTRY;
	if ((rc = al_gate_state_open(&st, p->name, state_dir)) < 0)
		return 1;
	/* absolute and without symlinks: the sandbox binds nothing else */
	char real[PATH_MAX];
	if ((rc = cache_npm_dir(cache_dir, npm_dir, sizeof npm_dir)) < 0 || !realpath(npm_dir, real) ||
	    (size_t)snprintf(npm_dir, sizeof npm_dir, "%s", real) >= sizeof npm_dir ||
	    (dirfd = open(npm_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		al_log_warnx("gate install: cache %s: %s", npm_dir, strerror(rc < 0 ? -rc : errno));
		return 1;
	}
	remove_stale(dirfd);
	snprintf(staging, sizeof staging, "%s/.tmp-XXXXXX", npm_dir);
	if (!mkdtemp(staging) || (geteuid() == 0 && chown(staging, AL_SANDBOX_NOBODY, AL_SANDBOX_NOBODY) < 0)) {
		al_log_warn("gate install: %s", staging);
		close(dirfd);
		return 1;
	}
	if (seed_package(staging) < 0) {
		al_log_warn("gate install: %s/package.json", staging);
		remove_tree(dirfd, strrchr(staging, '/') + 1);
		close(dirfd);
		return 1;
	}
	struct al_audit *audit = NULL;
	if (al_gate_audit_open(&st, &audit) < 0) {
		remove_tree(dirfd, strrchr(staging, '/') + 1);
		close(dirfd);
		return 1;
	}
	fprintf(stderr, "airlock gate install: %s: npm install %s from %s (no scripts; its network: the registry "
		"alone, through an egress domain)\n", p->name, p->npm, registry);
	if ((rc = al_gate_npm_install(p, staging, registry, audit, gate_worker)) == 0)
		rc = settle(p, dirfd, npm_dir, staging, &t);
	if (rc < 0) {
		remove_tree(dirfd, strrchr(staging, '/') + 1);
		close(dirfd);
		al_gate_tree_free(&t);
		al_audit_pack(audit, "gate.install_failed", true, "{s:s, s:s}", "server", p->name, "npm", p->npm);
		al_audit_close(audit);
		fprintf(stderr, "airlock gate install: %s: %s not installed\n", p->name, p->npm);
		return 1;
	}
	close(dirfd);
	snprintf(line, sizeof line, "%s npm %s\n", t.hex, p->npm);
	if (al_gate_put(&st, "tree.manifest", t.manifest, t.mlen) < 0 || al_gate_put(&st, "tree.stat", t.stats, t.slen) < 0 ||
	    al_gate_put(&st, "tree", line, strlen(line)) < 0) {
		al_log_warnx("gate install: cannot record the tree in %s", st.dir);
		al_audit_close(audit);
		al_gate_tree_free(&t);
		return 1;
	}
	al_audit_pack(audit, "gate.installed", true, "{s:s, s:s, s:s, s:s}", "server", p->name, "npm", p->npm,
		      "registry", registry, "tree", t.hex);
	al_audit_close(audit);
	printf("%s: %s installed in %s/%s\n  sha256 %s (pinned in %s/tree)\n", p->name, p->npm, npm_dir, t.hex, t.hex,
	       st.dir);
	al_gate_tree_free(&t);
	return 0;
}

/* ---- the run's check ---- */

/* The first entry where the tree (have) and its manifest (want) differ: both
 * are in the same walk order, so a line by line comparison finds it. */
static void first_change(const char *want, const char *have, char *out, size_t len)
{
	if (!want) {
		snprintf(out, len, "no manifest to compare with");
		return;
	}
	while (*want || *have) {
		size_t m = strcspn(want, "\n"), n = strcspn(have, "\n");
		if (m != n || memcmp(want, have, n)) {
			if (n)
				snprintf(out, len, "now %.*s", (int)(n < 300 ? n : 300), have);
			else
				snprintf(out, len, "missing %.*s", (int)(m < 300 ? m : 300), want);
			return;
		}
		want += m + (want[m] == '\n');
		have += n + (have[n] == '\n');
	}
	snprintf(out, len, "the manifest itself differs");
}

/* The package's program: node_modules/.bin/BIN, BIN from the policy or the
 * only link there into the package's own directory. */
static int find_program(const struct al_gate_policy *p, const char *tree, char *prog, size_t plen)
{
	char bin_dir[PATH_MAX], name[256], prefix[300], target[PATH_MAX];
	snprintf(bin_dir, sizeof bin_dir, "%s/node_modules/.bin", tree);
	package_name(p->npm, name, sizeof name);
	snprintf(prefix, sizeof prefix, "../%s/", name);
	const char *bin = p->bin;
	DIR *d = bin ? NULL : opendir(bin_dir);
	char found[256] = "";
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		ssize_t k = readlinkat(dirfd(d), e->d_name, target, sizeof target - 1);
		if (k < 0)
			continue;
		target[k] = '\0';
		if (!strncmp(target, prefix, strlen(prefix)) && n++ == 0)
			snprintf(found, sizeof found, "%s", e->d_name);
	}
	if (d)
		closedir(d);
	if (!bin && n != 1) {
		al_log_warnx("gate: %s has %s program in node_modules/.bin: name one with [install] bin", p->npm,
			     n ? "more than one" : "no");
		return -ENOENT;
	}
	if (!bin)
		bin = found;
	struct stat st;
	if (snprintf(prog, plen, "%s/%s", bin_dir, bin) >= (int)plen || stat(prog, &st) < 0 || !S_ISREG(st.st_mode)) {
		al_log_warnx("gate: %s: no program %s in node_modules/.bin", p->npm, bin);
		return -ENOENT;
	}
	return 0;
}

int al_gate_installed(const struct al_gate_policy *p, const char *state_dir, const char *cache_dir, char *tree,
		      size_t tlen, char *prog, size_t plen)
{
	struct al_gate_state st = { 0 };
	struct al_gate_tree t = { 0 };
	char path[PATH_MAX], why[320];
	char *pin = NULL, *want = NULL, *known = NULL;
	size_t len = 0;
	int rc = al_gate_state_open(&st, p->name, state_dir);
	if (rc == 0 && (al_gate_file(&st, "tree", path, sizeof path) < 0 ||
			al_read_file_at(AT_FDCWD, path, 1024, &pin, &len) < 0)) {
		al_log_warnx("gate: %s: %s is not installed (run `airlock gate install --policy FILE`)", p->name, p->npm);
		rc = -ENOENT;
	}
	/* "HASH npm SPEC\n", as install wrote it */
	if (rc == 0 && (len < 70 || strspn(pin, "0123456789abcdef") != 64 || strncmp(pin + 64, " npm ", 5) ||
			strcspn(pin + 69, "\n") != strlen(p->npm) || strncmp(pin + 69, p->npm, strlen(p->npm)))) {
		al_log_warnx("gate: %s: the installed package is not %s (run `airlock gate install --policy FILE`)",
			     p->name, p->npm);
		rc = -ESTALE;
	}
	int fd = -1;
	char real[PATH_MAX];
	/* absolute and without symlinks: the sandbox binds nothing else */
	if (rc == 0 && (snprintf(tree, tlen, "%s/npm/%.64s", cache_dir, pin) >= (int)tlen ||
			(fd = open(tree, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 || !realpath(tree, real) ||
			(size_t)snprintf(tree, tlen, "%s", real) >= tlen)) {
		al_log_warnx("gate: %s: the installed tree %s is gone (run `airlock gate install --policy FILE`)", p->name,
			     tree);
		rc = -ENOENT;
	}
	/* the files' stat lines of the last walk spare reading what was not written since */
	if (rc == 0 && al_gate_file(&st, "tree.stat", path, sizeof path) == 0 &&
	    al_read_file_at(AT_FDCWD, path, 64u << 20, &known, &len) == 0 && strlen(known) == len)
		t.known = known;
	if (rc == 0 && (rc = al_gate_tree_walk(fd, &t)) == 0 && memcmp(t.hex, pin, 64)) {
		if (al_gate_file(&st, "tree.manifest", path, sizeof path) == 0)
			al_read_file_at(AT_FDCWD, path, 64u << 20, &want, &len);
		first_change(want, t.manifest, why, sizeof why);
		al_log_warnx("gate: %s: the installed tree %s changed since it was installed (%s): refused", p->name, tree,
			     why);
		struct al_audit *audit = NULL;
		if (al_gate_audit_open(&st, &audit) == 0) {
			char pinned[65];
			snprintf(pinned, sizeof pinned, "%.64s", pin);
			al_audit_pack(audit, "gate.tree_changed", true, "{s:s, s:s, s:s, s:s}", "server", p->name,
				      "pinned", pinned, "found", t.hex, "first", why);
			al_audit_close(audit);
		}
		rc = -EPERM;
	} else if (rc == 0 && t.read) {
		al_gate_put(&st, "tree.stat", t.stats, t.slen); /* read and found the same: the next start reads less */
	}
	if (fd >= 0)
		close(fd);
	if (rc == 0)
		rc = find_program(p, tree, prog, plen);
	al_gate_tree_free(&t);
	free(pin);
	free(want);
	free(known);
	return rc;
}
