/*
 * The install phase's pieces that need no network (src/supervisor/
 * gate_install.h, gate_policy.h): the [install] keys, the tree manifest and
 * hash over real directories (links, special files, hostile names), and the
 * run's check refusing a tree that changed or is not the policy's package.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervisor/gate_install.h"
#include "supervisor/gate_policy.h"

static int load(struct al_gate_policy *p, const char *text)
{
	al_gate_policy_init(p, "t");
	return al_gate_policy_load_mem(p, text, strlen(text), "test.ini");
}

static void test_install_keys(void **state)
{
	struct al_gate_policy p;
	assert_int_equal(load(&p, "[install]\nnpm = @modelcontextprotocol/server-memory@2026.8.31\nbin = mcp-server-memory\n"
				  "registry = https://registry.example.org:8443/npm/\n"), 0);
	assert_string_equal(p.npm, "@modelcontextprotocol/server-memory@2026.8.31");
	assert_string_equal(p.bin, "mcp-server-memory");
	assert_string_equal(p.registry, "https://registry.example.org:8443/npm/");
	assert_false(p.named);
	al_gate_policy_free(&p);
	assert_int_equal(load(&p, "[install]\nnpm = left-pad@1.3.0-rc.1+build.5\n"), 0);
	al_gate_policy_free(&p);
	/* ranges, tags, no version, bad names, other schemes: refused */
	static const char *const bad[] = {
		"npm = left-pad", "npm = left-pad@^1.3.0", "npm = left-pad@latest", "npm = left-pad@1.3",
		"npm = left-pad@1..3", "npm = Left-Pad@1.3.0", "npm = @scope@1.0.0", "npm = a/b@1.0.0",
		"npm = @/b@1.0.0", "npm = .hidden@1.0.0", "npm = @1.0.0", "npm = x@1.0.0 -rf",
		"registry = http://registry.npmjs.org/", "registry = https://", "registry = https://a:0/",
		"registry = https://a:99999/", "registry = https://a b/", "bin = ../x", "bin = .x", "where = x",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char text[256];
		snprintf(text, sizeof text, "[install]\n%s\n", bad[i]);
		assert_int_equal(load(&p, text), -EINVAL);
		al_gate_policy_free(&p);
	}
	/* a policy name is a directory: never hidden, never ".." */
	assert_int_equal(load(&p, "[gate]\nname = ..\n"), -EINVAL);
	al_gate_policy_free(&p);
	assert_int_equal(load(&p, "[gate]\nname = srv\n"), 0);
	assert_true(p.named);
	al_gate_policy_free(&p);
}

static char root[64];

static void put(const char *rel, const char *text, mode_t mode)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	chmod(path, mode);
}

static void sub(const char *rel)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void lnk(const char *target, const char *rel)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	assert_int_equal(symlink(target, path), 0);
}

/* A package tree as npm lays it out. */
static int setup_tree(void **state)
{
	snprintf(root, sizeof root, "/tmp/al-gate-tree-XXXXXX");
	assert_non_null(mkdtemp(root));
	sub("node_modules");
	sub("node_modules/.bin");
	sub("node_modules/@s");
	sub("node_modules/@s/pkg");
	sub("node_modules/@s/pkg/dist");
	put("node_modules/@s/pkg/package.json", "{\"name\":\"@s/pkg\"}", 0644);
	put("node_modules/@s/pkg/dist/index.js", "#!/usr/bin/env node\nconsole.log(1)\n", 0755);
	lnk("../@s/pkg/dist/index.js", "node_modules/.bin/pkg");
	put("package.json", "{}", 0644);
	return 0;
}

static int teardown_tree(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static unsigned fix; /* what the walks of a test may change */

static void hash(char hex[65], char **manifest, int want)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	struct al_gate_tree t = { .fix = fix };
	assert_int_equal(al_gate_tree_walk(fd, &t), want);
	close(fd);
	if (want == 0) {
		memcpy(hex, t.hex, 65);
		if (manifest)
			*manifest = strdup(t.manifest);
	}
	al_gate_tree_free(&t);
}

static void test_tree_manifest(void **state)
{
	char a[65], b[65], *m = NULL;
	hash(a, &m, 0);
	assert_string_equal(m,
		"d - node_modules\n"
		"d - node_modules/.bin\n"
		"l 17e83638d6bd48ebb391d25a2f646ec7df94e0054e151224166beaca28455ce8 node_modules/.bin/pkg\n"
		"d - node_modules/@s\n"
		"d - node_modules/@s/pkg\n"
		"d - node_modules/@s/pkg/dist\n"
		"x 515b0d58e5bdae1544d089375d2d903d9fab55773cae8f81f2a8dd0808d548f9 node_modules/@s/pkg/dist/index.js\n"
		"f f80f91dc124888bf51daae093b910c236c7f901834d5a530bdfa37581cf6333b node_modules/@s/pkg/package.json\n"
		"f 44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a package.json\n");
	free(m);
	/* the same tree, the same hash; any change of content, mode or link, another */
	hash(b, NULL, 0);
	assert_string_equal(a, b);
	put("package.json", "{ }", 0644);
	hash(b, NULL, 0);
	assert_string_not_equal(a, b);
	put("package.json", "{}", 0644);
	hash(b, NULL, 0);
	assert_string_equal(a, b);
	put("node_modules/@s/pkg/package.json", "{\"name\":\"@s/pkg\"}", 0755);
	hash(b, NULL, 0);
	assert_string_not_equal(a, b);
}

/* A walk given the stat lines of the last reads only what was written since. */
static void test_tree_stats(void **state)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	/* just written: too recent to vouch for by stat, read again */
	struct al_gate_tree a = { 0 }, b = { 0 }, c = { 0 };
	assert_int_equal(al_gate_tree_walk(fd, &a), 0);
	assert_int_equal(a.read, 3);
	assert_int_equal(a.reused, 0);
	b.known = a.stats;
	assert_int_equal(al_gate_tree_walk(fd, &b), 0);
	assert_int_equal(b.read, 3);
	al_gate_tree_free(&a);
	al_gate_tree_free(&b);
	/* as if written long ago */
	a = (struct al_gate_tree){ .racy_s = -1 };
	assert_int_equal(al_gate_tree_walk(fd, &a), 0);
	b = (struct al_gate_tree){ .known = a.stats, .racy_s = -1 };
	assert_int_equal(al_gate_tree_walk(fd, &b), 0);
	assert_int_equal(b.read, 0);
	assert_int_equal(b.reused, 3);
	assert_string_equal(a.hex, b.hex);
	/* the same size, the mtime put back: the ctime still tells */
	char p[256];
	snprintf(p, sizeof p, "%s/package.json", root);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	put("package.json", "[]", 0644);
	struct timespec ts[2] = { st.st_atim, st.st_mtim };
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	c = (struct al_gate_tree){ .known = a.stats, .racy_s = -1 };
	assert_int_equal(al_gate_tree_walk(fd, &c), 0);
	assert_int_equal(c.read, 1);
	assert_int_equal(c.reused, 2);
	assert_string_not_equal(a.hex, c.hex);
	/* stat lines of another tree, or garbage: every file is read */
	al_gate_tree_free(&b);
	b = (struct al_gate_tree){ .known = "1 2 3 4.5 6.7 zz package.json\n" };
	assert_int_equal(al_gate_tree_walk(fd, &b), 0);
	assert_int_equal(b.read, 3);
	assert_string_equal(b.hex, c.hex);
	close(fd);
	al_gate_tree_free(&a);
	al_gate_tree_free(&b);
	al_gate_tree_free(&c);
}

static void test_tree_refuses(void **state)
{
	char h[65];
	/* a link out of the tree, absolute or by "..": refused */
	lnk("../../../etc/passwd", "node_modules/.bin/out");
	hash(h, NULL, -EXDEV);
	char p[256];
	snprintf(p, sizeof p, "%s/node_modules/.bin/out", root);
	unlink(p);
	lnk("/etc/passwd", "node_modules/.bin/abs");
	hash(h, NULL, -EXDEV);
	snprintf(p, sizeof p, "%s/node_modules/.bin/abs", root);
	unlink(p);
	hash(h, NULL, 0);
	/* a pipe, a name with a newline (the manifest is line-based) */
	snprintf(p, sizeof p, "%s/fifo", root);
	assert_int_equal(mkfifo(p, 0644), 0);
	hash(h, NULL, -EINVAL);
	unlink(p);
	put("bad\nname", "x", 0644);
	hash(h, NULL, -EINVAL);
	snprintf(p, sizeof p, "%s/bad\nname", root);
	unlink(p);
	/* setuid and group-writable bits: refused by a check, taken away at install */
	put("suid", "x", 04775);
	fix = 0;
	hash(h, NULL, -EPERM);
	fix = AL_GATE_TREE_MODES;
	hash(h, NULL, 0);
	fix = 0;
	struct stat st;
	snprintf(p, sizeof p, "%s/suid", root);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
}

/* The run's check: state and cache as install leaves them, then changed. */
static void test_installed_check(void **state)
{
	char dir[128], cache[128], tree[PATH_MAX], prog[PATH_MAX], hex[65], *m = NULL, cmd[1024];
	hash(hex, &m, 0);
	snprintf(dir, sizeof dir, "%s.state", root);
	snprintf(cache, sizeof cache, "%s.cache", root);
	snprintf(cmd, sizeof cmd, "mkdir -p '%s/t' '%s/npm' && cp -a '%s' '%s/npm/%s'", dir, cache, root, cache, hex);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof cmd, "%s/t/tree", dir);
	FILE *f = fopen(cmd, "w");
	assert_non_null(f);
	fprintf(f, "%s npm @s/pkg@1.0.0\n", hex);
	fclose(f);
	snprintf(cmd, sizeof cmd, "%s/t/tree.manifest", dir);
	f = fopen(cmd, "w");
	assert_non_null(f);
	fputs(m, f);
	fclose(f);
	free(m);

	struct al_gate_policy p;
	assert_int_equal(load(&p, "[install]\nnpm = @s/pkg@1.0.0\n"), 0);
	assert_int_equal(al_gate_installed(&p, dir, cache, tree, sizeof tree, prog, sizeof prog), 0);
	assert_non_null(strstr(prog, "/node_modules/.bin/pkg"));
	al_gate_policy_free(&p);
	/* another version than the one installed */
	assert_int_equal(load(&p, "[install]\nnpm = @s/pkg@1.0.1\n"), 0);
	assert_int_equal(al_gate_installed(&p, dir, cache, tree, sizeof tree, prog, sizeof prog), -ESTALE);
	al_gate_policy_free(&p);
	/* one byte changed in the installed tree: refused, and audited */
	assert_int_equal(load(&p, "[install]\nnpm = @s/pkg@1.0.0\n"), 0);
	snprintf(cmd, sizeof cmd, "echo '//' >> '%s/npm/%s/node_modules/@s/pkg/dist/index.js'", cache, hex);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(al_gate_installed(&p, dir, cache, tree, sizeof tree, prog, sizeof prog), -EPERM);
	snprintf(cmd, sizeof cmd, "grep -q gate.tree_changed '%s/t/audit.log'", dir);
	assert_int_equal(system(cmd), 0);
	al_gate_policy_free(&p);
	snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, cache);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_install_keys),
		cmocka_unit_test_setup_teardown(test_tree_manifest, setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(test_tree_stats, setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(test_tree_refuses, setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(test_installed_check, setup_tree, teardown_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
