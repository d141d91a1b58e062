#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "integrity/manifest.h"
#include "integrity/procstate.h"
#include "testdir.h"

struct fx {
	char dir[64];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	if (t_mkdtemp(f->dir, sizeof f->dir, "al_integ") < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (t_rmtree(f->dir) != 0)
		return -1;
	free(f);
	return 0;
}

static void put(const char *dir, const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void pathof(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* ---- manifest ---- */

static void make_manifest(struct fx *f, struct al_manifest_key *key)
{
	char model[256], exe[256], mpath[256];
	assert_int_equal(al_manifest_key_load(f->dir, true, key), 0);
	put(f->dir, "model.bin", "weights weights weights");
	put(f->dir, "worker", "#!/bin/sh\nexit 0\n");
	pathof(model, sizeof model, f->dir, "model.bin");
	pathof(exe, sizeof exe, f->dir, "worker");
	pathof(mpath, sizeof mpath, f->dir, AL_MANIFEST_FILE);
	struct al_manifest *m = al_manifest_new(key);
	assert_non_null(m);
	assert_int_equal(al_manifest_add_path(m, "ai.model", model), 0);
	assert_int_equal(al_manifest_add_path(m, "ai.exe", exe), 0);
	assert_int_equal(al_manifest_save(m, mpath), 0);
	al_manifest_free(m);
}

static void test_key_created_once(void **state)
{
	struct fx *f = *state;
	struct al_manifest_key a, b;
	assert_int_equal(al_manifest_key_load(f->dir, false, &a), -ENOENT);
	assert_int_equal(al_manifest_key_load(f->dir, true, &a), 0);
	assert_int_equal(al_manifest_key_load(f->dir, false, &b), 0);
	assert_memory_equal(a.bytes, b.bytes, sizeof a.bytes);
	char kp[256];
	pathof(kp, sizeof kp, f->dir, AL_MANIFEST_KEY_FILE);
	struct stat st;
	assert_int_equal(stat(kp, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, AL_MANIFEST_KEY_LEN);
	/* A key others can read is refused. */
	assert_int_equal(chmod(kp, 0644), 0);
	assert_int_equal(al_manifest_key_load(f->dir, true, &b), -EPERM);
	/* So is a symlink in its place. */
	assert_int_equal(unlink(kp), 0);
	assert_int_equal(symlink("/etc/passwd", kp), 0);
	assert_int_equal(al_manifest_key_load(f->dir, true, &b), -ELOOP);
}

static void test_verify_ok(void **state)
{
	struct fx *f = *state;
	struct al_manifest_key key;
	make_manifest(f, &key);
	char mpath[256];
	pathof(mpath, sizeof mpath, f->dir, AL_MANIFEST_FILE);
	struct al_manifest *m;
	assert_int_equal(al_manifest_load(mpath, &key, &m), 0);
	assert_int_equal(al_manifest_count(m), 2);
	const struct al_manifest_entry *e = al_manifest_find(m, "ai.model");
	assert_non_null(e);
	assert_int_equal(e->size, strlen("weights weights weights"));
	int fd = -1;
	assert_int_equal(al_manifest_open_verified(m, "ai.model", &fd), 0);
	assert_true(fd >= 0);
	/* The digest is the keyed one: the plain hash differs. */
	unsigned char d[32];
	struct al_manifest_key zero = { { 0 } };
	assert_int_equal(al_manifest_hash_fd(&zero, fd, d), 0);
	assert_memory_not_equal(d, e->digest, 32);
	close(fd);
	assert_int_equal(al_manifest_open_verified(m, "ai.exe", &fd), 0);
	close(fd);
	assert_int_equal(al_manifest_open_verified(m, "nope", &fd), -ENOENT);
	al_manifest_free(m);
}

static void test_one_byte_change(void **state)
{
	struct fx *f = *state;
	struct al_manifest_key key;
	make_manifest(f, &key);
	char mpath[256], model[256];
	pathof(mpath, sizeof mpath, f->dir, AL_MANIFEST_FILE);
	pathof(model, sizeof model, f->dir, "model.bin");
	struct al_manifest *m;
	assert_int_equal(al_manifest_load(mpath, &key, &m), 0);
	int fd = open(model, O_RDWR);
	assert_int_equal(pwrite(fd, "W", 1, 8), 1); /* same size, one byte */
	assert_int_equal(al_manifest_verify_fd(m, "ai.model", fd), -EBADMSG);
	assert_int_equal(pwrite(fd, "w", 1, 8), 1);
	assert_int_equal(al_manifest_verify_fd(m, "ai.model", fd), 0);
	assert_int_equal(write(fd, "x", 1), 1); /* appended: size differs */
	assert_int_equal(al_manifest_verify_fd(m, "ai.model", fd), -EBADMSG);
	close(fd);
	int vfd;
	assert_int_equal(al_manifest_open_verified(m, "ai.model", &vfd), -EBADMSG);
	al_manifest_free(m);
}

/* The verified fd keeps the verified inode: swapping the path afterwards changes nothing. */
static void test_fd_survives_swap(void **state)
{
	struct fx *f = *state;
	struct al_manifest_key key;
	make_manifest(f, &key);
	char mpath[256], model[256], evil[256];
	pathof(mpath, sizeof mpath, f->dir, AL_MANIFEST_FILE);
	pathof(model, sizeof model, f->dir, "model.bin");
	pathof(evil, sizeof evil, f->dir, "evil.bin");
	struct al_manifest *m;
	assert_int_equal(al_manifest_load(mpath, &key, &m), 0);
	int fd;
	assert_int_equal(al_manifest_open_verified(m, "ai.model", &fd), 0);
	put(f->dir, "evil.bin", "WEIGHTS WEIGHTS WEIGHTS");
	assert_int_equal(rename(evil, model), 0);
	char buf[64] = { 0 };
	assert_int_equal(pread(fd, buf, sizeof buf - 1, 0), 23);
	assert_string_equal(buf, "weights weights weights");
	assert_int_equal(al_manifest_verify_fd(m, "ai.model", fd), 0);
	close(fd);
	assert_int_equal(al_manifest_open_verified(m, "ai.model", &fd), -EBADMSG);
	/* A symlink planted at the path is not followed. */
	assert_int_equal(unlink(model), 0);
	assert_int_equal(symlink(mpath, model), 0);
	assert_int_equal(al_manifest_open_verified(m, "ai.model", &fd), -ELOOP);
	al_manifest_free(m);
}

static void test_wrong_key(void **state)
{
	struct fx *f = *state;
	struct al_manifest_key key, other;
	make_manifest(f, &key);
	char mpath[256], model[256];
	pathof(mpath, sizeof mpath, f->dir, AL_MANIFEST_FILE);
	pathof(model, sizeof model, f->dir, "model.bin");
	memcpy(&other, &key, sizeof key);
	other.bytes[0] ^= 1;
	struct al_manifest *m = NULL;
	assert_int_equal(al_manifest_load(mpath, &other, &m), -EKEYREJECTED);
	assert_null(m);
	/* A manifest made under another key does not accept our file. */
	struct al_manifest *mo = al_manifest_new(&other);
	assert_int_equal(al_manifest_add_path(mo, "ai.model", model), 0);
	assert_int_equal(al_manifest_load(mpath, &key, &m), 0);
	assert_memory_not_equal(al_manifest_find(mo, "ai.model")->digest,
				al_manifest_find(m, "ai.model")->digest, 32);
	al_manifest_free(mo);
	al_manifest_free(m);
}

static void test_edited_manifest(void **state)
{
	struct fx *f = *state;
	struct al_manifest_key key;
	make_manifest(f, &key);
	char mpath[256];
	pathof(mpath, sizeof mpath, f->dir, AL_MANIFEST_FILE);
	char *text;
	size_t len;
	assert_int_equal(al_read_file_at(AT_FDCWD, mpath, 1 << 20, &text, &len), 0);
	/* Point an entry at another file: structure fine, MAC not. */
	char *p = strstr(text, "worker");
	assert_non_null(p);
	memcpy(p, "WORKER", 6);
	struct al_manifest *m = NULL;
	assert_int_equal(al_manifest_load_buf(text, len, "edited", &key, &m), -EKEYREJECTED);
	free(text);
}

static void test_malformed_manifest(void **state)
{
	(void)state;
	struct al_manifest_key key = { { 7 } };
	char good_kid[40];
	/* Learn the key id from a real save, then break one field at a time. */
	struct al_manifest *m0 = al_manifest_new(&key);
	char tmpl[] = "/tmp/al_mf_XXXXXX";
	int tfd = mkstemp(tmpl);
	assert_true(tfd >= 0);
	assert_int_equal(al_manifest_save(m0, tmpl), 0);
	al_manifest_free(m0);
	char *text;
	assert_int_equal(al_read_file_at(AT_FDCWD, tmpl, 4096, &text, NULL), 0);
	unlink(tmpl);
	close(tfd);
	char *k = strstr(text, "\"key_id\": \"");
	assert_non_null(k);
	memcpy(good_kid, k + 11, 32);
	good_kid[32] = '\0';
	free(text);

	char buf[1024];
	const char *cases[] = {
		"",
		"not json",
		"[]",
		"{\"version\":1}",
		"{\"version\":2,\"key_id\":\"%s\",\"entries\":[],\"mac\":\"%s\"}",
		"{\"version\":1,\"key_id\":\"%s\",\"entries\":{},\"mac\":\"%s\"}",
		"{\"version\":1,\"key_id\":\"%s\",\"entries\":[1],\"mac\":\"%s\"}",
		"{\"version\":1,\"key_id\":\"%s\",\"entries\":[{\"name\":\"A B\",\"path\":\"/x\",\"size\":1,\"digest\":\"" "%s" "\"}],\"mac\":\"%s\"}",
		"{\"version\":1,\"key_id\":\"%s\",\"entries\":[{\"name\":\"a\",\"path\":\"rel/x\",\"size\":1,\"digest\":\"%s\"}],\"mac\":\"%s\"}",
		"{\"version\":1,\"key_id\":\"%s\",\"entries\":[{\"name\":\"a\",\"path\":\"/x\",\"size\":-1,\"digest\":\"%s\"}],\"mac\":\"%s\"}",
		"{\"version\":1,\"key_id\":\"%s\",\"entries\":[{\"name\":\"a\",\"path\":\"/x\",\"size\":1,\"digest\":\"zz%s\"}],\"mac\":\"%s\"}",
		"{\"version\":1,\"key_id\":\"%s\",\"entries\":[{\"name\":\"a\",\"path\":\"/x\",\"size\":1,\"digest\":\"%s\"},{\"name\":\"a\",\"path\":\"/y\",\"size\":1,\"digest\":\"%s\"}],\"mac\":\"%s\"}",
		"{\"version\":1,\"version\":1,\"key_id\":\"%s\",\"entries\":[],\"mac\":\"%s\"}",
		"{\"version\":1,\"key_id\":\"%s\",\"entries\":[],\"mac\":\"%s\",\"extra\":0}",
	};
	const char *hex64 = "0000000000000000000000000000000000000000000000000000000000000000";
	for (size_t i = 0; i < AL_ARRAY_LEN(cases); i++) {
		/* Fill every %s: first the key id, then 64-hex values. */
		char fmt[1024];
		al_strlcpy(fmt, cases[i], sizeof fmt);
		buf[0] = '\0';
		const char *args[4] = { good_kid, hex64, hex64, hex64 };
		size_t used = 0, a = 0;
		for (const char *p = fmt; *p && used < sizeof buf - 80; p++) {
			if (p[0] == '%' && p[1] == 's') {
				used += (size_t)snprintf(buf + used, sizeof buf - used, "%s", args[a++]);
				p++;
			} else {
				buf[used++] = *p;
				buf[used] = '\0';
			}
		}
		struct al_manifest *m = NULL;
		int rc = al_manifest_load_buf(buf, strlen(buf), "case", &key, &m);
		if (rc != -EBADMSG)
			fail_msg("case %zu: rc %d, want -EBADMSG: %s", i, rc, buf);
		assert_null(m);
	}
	/* Too many entries. */
	size_t used = (size_t)snprintf(buf, sizeof buf, "{\"version\":1,\"key_id\":\"%s\",\"entries\":[",
				       good_kid);
	(void)used;
	char *big = malloc(65536);
	int n = snprintf(big, 65536, "%s", buf);
	for (int i = 0; i <= AL_MANIFEST_MAX_ENTRIES; i++)
		n += snprintf(big + n, 65536 - (size_t)n,
			      "%s{\"name\":\"e%d\",\"path\":\"/x\",\"size\":1,\"digest\":\"%s\"}",
			      i ? "," : "", i, hex64);
	snprintf(big + n, 65536 - (size_t)n, "],\"mac\":\"%s\"}", hex64);
	struct al_manifest *m = NULL;
	assert_int_equal(al_manifest_load_buf(big, strlen(big), "big", &key, &m), -EBADMSG);
	free(big);
}

/* ---- procstate: fake trees ---- */

static const char good_status[] =
	"Name:\tairlock-ai\nUmask:\t0022\nState:\tS (sleeping)\nPid:\t123\n"
	"CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"
	"CapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n"
	"Seccomp:\t2\nSeccomp_filters:\t2\n"
	"Speculation_Store_Bypass:\tthread force mitigated\n"
	"SpeculationIndirectBranch:\tconditional force disabled\n";

static const char good_maps[] =
	"55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1234  /usr/libexec/airlock/airlock-ai\n"
	"55d0c0a01000-55d0c0a05000 r-xp 00001000 08:01 1234  /usr/libexec/airlock/airlock-ai\n"
	"55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0     [heap]\n"
	"7f0000000000-7f0000100000 r--s 00000000 00:05 99    /model (deleted)\n"
	"7f1000000000-7f1000021000 rw-p 00000000 00:00 0 \n"
	"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0     [stack]\n"
	"7ffd00100000-7ffd00102000 r-xp 00000000 00:00 0     [vdso]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]\n";

static void fake_proc(const char *root, int pid, const char *status, const char *maps,
		      const char *exe_target)
{
	char p[256];
	snprintf(p, sizeof p, "%s/proc", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/proc/%d", root, pid);
	assert_int_equal(mkdir(p, 0755), 0);
	put(p, "status", status);
	put(p, "maps", maps);
	if (exe_target) {
		char l[300];
		snprintf(l, sizeof l, "%s/exe", p);
		assert_int_equal(symlink(exe_target, l), 0);
	}
}

static char *replace(const char *text, const char *from, const char *to)
{
	const char *p = strstr(text, from);
	assert_non_null(p);
	size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
	char *s = malloc(n);
	snprintf(s, n, "%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
	return s;
}

static void test_fake_good(void **state)
{
	struct fx *f = *state;
	fake_proc(f->dir, 123, good_status, good_maps, "/bin/sh");
	struct al_procstate ps;
	char why[256];
	assert_int_equal(al_procstate_read(f->dir, 123, &ps), 0);
	assert_int_equal(ps.seccomp, 2);
	assert_int_equal(ps.no_new_privs, 1);
	assert_string_equal(ps.spec_store_bypass, "thread force mitigated");
	assert_string_equal(ps.spec_indirect_branch, "conditional force disabled");
	assert_int_equal(ps.anon_exec, 0);
	assert_true(al_procstate_confined(&ps, why, sizeof why));
	int fd = open("/bin/sh", O_RDONLY);
	assert_int_equal(al_procstate_exe_matches(f->dir, 123, fd), 0);
	close(fd);
	fd = open("/proc/self/exe", O_RDONLY);
	assert_int_equal(al_procstate_exe_matches(f->dir, 123, fd), -ESTALE);
	close(fd);
}

static void test_fake_bad(void **state)
{
	struct fx *f = *state;
	struct {
		const char *from, *to; /* status edit, or maps line appended when from is NULL */
		const char *why;
	} cases[] = {
		{ "Seccomp:\t2", "Seccomp:\t0", "Seccomp is 0" },
		{ "NoNewPrivs:\t1", "NoNewPrivs:\t0", "NoNewPrivs is 0" },
		{ "CapEff:\t0000000000000000", "CapEff:\t0000000000200000", "capabilities" },
		{ "CapBnd:\t0000000000000000", "CapBnd:\t000001ffffffffff", "capabilities" },
		{ "CapAmb:\t0000000000000000", "CapAmb:\t0000000000000001", "capabilities" },
		{ NULL, "7f2000000000-7f2000001000 rwxp 00000000 00:00 0 \n", "anonymous executable" },
		{ NULL, "7f2000000000-7f2000001000 r-xp 00000000 00:01 7 /memfd:jit (deleted)\n",
		  "anonymous executable" },
		{ NULL, "55d0c1000000-55d0c1021000 rwxp 00000000 00:00 0 [heap]\n",
		  "anonymous executable" },
		{ NULL, "7f2000000000-7f2000001000 r-xp 00000000 08:01 55 /lib/evil.so (deleted)\n",
		  "deleted file" },
	};
	for (size_t i = 0; i < AL_ARRAY_LEN(cases); i++) {
		char *status = cases[i].from ? replace(good_status, cases[i].from, cases[i].to)
					     : strdup(good_status);
		size_t ml = strlen(good_maps) + strlen(cases[i].to) + 1;
		char *maps = malloc(ml);
		snprintf(maps, ml, "%s%s", good_maps, cases[i].from ? "" : cases[i].to);
		fake_proc(f->dir, 200 + (int)i, status, maps, NULL);
		struct al_procstate ps;
		char why[256];
		assert_int_equal(al_procstate_read(f->dir, 200 + (int)i, &ps), 0);
		assert_false(al_procstate_confined(&ps, why, sizeof why));
		if (!strstr(why, cases[i].why))
			fail_msg("case %zu: '%s' lacks '%s'", i, why, cases[i].why);
		free(status);
		free(maps);
	}
	/* A status without the fields is an error, not "confined". */
	fake_proc(f->dir, 300, "Name:\tx\nSeccomp:\t2\n", "", NULL);
	struct al_procstate ps;
	assert_int_equal(al_procstate_read(f->dir, 300, &ps), -EBADMSG);
	fake_proc(f->dir, 301, "Name:\tx\nSeccomp:\tlots\nNoNewPrivs:\t1\n", "", NULL);
	assert_int_equal(al_procstate_read(f->dir, 301, &ps), -EBADMSG);
	assert_int_equal(al_procstate_read(f->dir, 999, &ps), -ENOENT);
}

/* ---- procstate: a real process ---- */

static void drop_everything(void)
{
	for (int c = 0; c < 64; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno == EINVAL)
			break;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	if (syscall(SYS_capset, &hdr, data) < 0)
		_exit(10);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		_exit(11);
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx || seccomp_load(ctx) < 0)
		_exit(12);
	seccomp_release(ctx);
}

/* Forks a child that confines itself (and maps anonymous executable memory if jit). */
static pid_t spawn_child(bool jit, int *release_fd)
{
	int ready[2], release[2];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(release), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(release[1]);
		drop_everything();
		if (jit) {
			void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
				       -1, 0);
			if (p == MAP_FAILED)
				_exit(13);
		}
		char c = 1;
		if (write(ready[1], &c, 1) != 1 || read(release[0], &c, 1) < 0)
			_exit(14);
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	*release_fd = release[1];
	return pid;
}

static void reap(pid_t pid, int release_fd)
{
	int status;
	close(release_fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_real_child(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip(); /* dropping the bounding set needs CAP_SETPCAP */
	int rel;
	pid_t pid = spawn_child(false, &rel);
	struct al_procstate ps;
	char why[256] = "";
	assert_int_equal(al_procstate_read(NULL, pid, &ps), 0);
	bool ok = al_procstate_confined(&ps, why, sizeof why);
	if (!ok)
		fail_msg("child not confined: %s", why);
	int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	assert_int_equal(al_procstate_exe_matches(NULL, pid, self), 0);
	int sh = open("/bin/sh", O_RDONLY | O_CLOEXEC);
	assert_int_equal(al_procstate_exe_matches(NULL, pid, sh), -ESTALE);
	close(self);
	close(sh);
	reap(pid, rel);

	pid = spawn_child(true, &rel);
	assert_int_equal(al_procstate_read(NULL, pid, &ps), 0);
	assert_false(al_procstate_confined(&ps, why, sizeof why));
	assert_true(ps.anon_exec >= 1);
	assert_non_null(strstr(why, "anonymous executable"));
	reap(pid, rel);

	/* This test process itself is not confined. */
	assert_int_equal(al_procstate_read(NULL, getpid(), &ps), 0);
	assert_false(al_procstate_confined(&ps, why, sizeof why));
}

static void test_namespaces(void **state)
{
	struct fx *f = *state;
	struct al_procstate_ns self, child, fake;
	const char *which = NULL;
	assert_int_equal(al_procstate_read_ns(NULL, getpid(), &self), 0);
	int go[2], done[2];
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;
		close(go[1]);
		close(done[0]);
		if (read(go[0], &c, 1) != 1 || unshare(CLONE_NEWUTS | CLONE_NEWNET) < 0)
			_exit(1);
		if (write(done[1], &c, 1) != 1 || read(go[0], &c, 1) < 0)
			_exit(2);
		_exit(0);
	}
	close(go[0]);
	close(done[1]);
	/* Same namespaces as ours until it moves. */
	assert_int_equal(al_procstate_read_ns(NULL, pid, &child), 0);
	assert_int_equal(al_procstate_ns_same(&self, &child, &which), 0);
	char c = 1;
	assert_int_equal(write(go[1], &c, 1), 1);
	if (read(done[0], &c, 1) != 1) {
		waitpid(pid, NULL, 0);
		skip(); /* unshare refused: no namespaces to move into */
	}
	assert_int_equal(al_procstate_read_ns(NULL, pid, &child), 0);
	assert_int_equal(al_procstate_ns_same(&self, &child, &which), -ESTALE);
	assert_string_equal(which, "net");
	close(go[1]);
	close(done[0]);
	waitpid(pid, NULL, 0);

	/* A fake tree: links to files stand for the nsfs inodes. */
	fake_proc(f->dir, 77, good_status, good_maps, NULL);
	char p[256], t[256];
	snprintf(p, sizeof p, "%s/proc/77/ns", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	const char *names[] = { "user", "pid", "mnt", "net", "ipc", "uts", "cgroup" };
	for (size_t i = 0; i < AL_ARRAY_LEN(names); i++) {
		snprintf(p, sizeof p, "%s/proc/77/ns/%s", f->dir, names[i]);
		snprintf(t, sizeof t, "%s/proc/77/status", f->dir);
		assert_int_equal(symlink(i == 5 ? "/bin/sh" : t, p), 0);
	}
	assert_int_equal(al_procstate_read_ns(f->dir, 77, &fake), 0);
	assert_int_equal(al_procstate_ns_same(&fake, &self, &which), -ESTALE);
	assert_string_equal(which, "user");
	struct al_procstate_ns copy = fake;
	assert_int_equal(al_procstate_ns_same(&fake, &copy, NULL), 0);
	copy.ino[AL_NS_CGROUP]++;
	assert_int_equal(al_procstate_ns_same(&fake, &copy, &which), -ESTALE);
	assert_string_equal(which, "cgroup");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_key_created_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_byte_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_survives_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edited_manifest, setup, teardown),
		cmocka_unit_test(test_malformed_manifest),
		cmocka_unit_test_setup_teardown(test_fake_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fake_bad, setup, teardown),
		cmocka_unit_test(test_real_child),
		cmocka_unit_test_setup_teardown(test_namespaces, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
