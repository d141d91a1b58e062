/* Runs every attack probe (tests/attacks/attacks NAME) and checks what it
 * observed.
 *
 * host/NAME      the probe runs unsandboxed (root on the test machine) and
 *                must report ESCAPED: this proves it can see a success.
 *                Where the host lacks the feature it says so and the test
 *                is skipped with the probe's reason.
 * PROFILE/NAME   the probe runs under AL_ATTACK_LAUNCHER (or the build's
 *                default launcher, set once `airlock exec` exists) for each
 *                profile in AL_ATTACK_PROFILES (default: compute service
 *                tool) and must end in one of the outcomes the table below
 *                accepts for that profile.
 *
 * Launcher words may hold {profile} and {workdir}; probe arguments may hold
 * {victim} (pid of an `attacks victim` started outside, unsandboxed, for
 * this test), {abstract} (an abstract unix socket this runner listens on),
 * {workdir} and {marker} (a directory, and a file name beside it in its
 * parent). See README.md for the exit-code protocol and the table. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

/* Outcome tokens, '|'-separated: ESCAPED, UNAVAILABLE, a signal (SIGSYS,
 * SIGKILL), an errno name or pseudo name the probe printed with BLOCKED
 * (EPERM, ZEROADDR, ...), or "*" for "not asserted". */
#define DENY "SIGSYS|EPERM|EACCES|ENOSYS"
#define NS_DENY "SIGSYS|EPERM|EACCES|ENOSYS|ENOSPC|EUSERS"
#define PROC_DENY "SIGSYS|EPERM|EACCES|ENOSYS|ESRCH"
#define TTY_DENY "SIGSYS|EPERM|EACCES"
#define EXEC_DENY "SIGSYS|EPERM|EACCES|ENOSYS|ENOENT"
#define WX_DENY "SIGSYS|EPERM|EACCES"
#define SPEC_DENY "SIGSYS|EPERM|UNAVAILABLE"
#define NET_DENY "SIGSYS|EPERM|EACCES|ENETUNREACH|EHOSTUNREACH|EAFNOSUPPORT"
#define SOCK_DENY "SIGSYS|EPERM|EACCES|EAFNOSUPPORT|EPROTONOSUPPORT"
#define FS_DENY "ENOENT|EACCES|EPERM|EROFS"
/* compute has no filesystem at all: its filter refuses open itself, so a
 * probe that opens a file dies of SIGSYS before it can try the attack. */
#define COMPUTE_FS(x) x "|SIGSYS", SAME(x)

struct probe_case {
	const char *name;
	const char *host_args;  /* arguments unsandboxed */
	const char *args;       /* arguments under a sandbox */
	const char *host_lacks; /* host outcomes meaning "feature absent here" (skip) */
	const char *compute, *service, *tool;
};

#define ALL(x) x, x, x
#define SAME(a) a, a

static const struct probe_case cases[] = {
	/* x32 is compiled out of many kernels (this one too): ENOSYS either way. */
	{ "x32", "", "", "UNAVAILABLE", ALL("SIGSYS|EPERM|UNAVAILABLE") },
	{ "int80", "", "", "UNAVAILABLE", ALL("SIGSYS|EPERM|ENOSYS|UNAVAILABLE") },
	{ "io_uring", "", "", NULL, ALL(DENY) },
	{ "tiocsti", "", "", "UNAVAILABLE", ALL(TTY_DENY) },
	{ "tiocsti_high", "", "", "UNAVAILABLE", ALL(TTY_DENY) },
	{ "tioclinux", "", "", "UNAVAILABLE", ALL(TTY_DENY) },
	{ "tioclinux_high", "", "", "UNAVAILABLE", ALL(TTY_DENY) },
	{ "ptrace", "{victim}", "{victim}", NULL, ALL(PROC_DENY) },
	{ "process_vm_readv", "{victim}", "{victim}", NULL, ALL(PROC_DENY) },
	{ "kill", "{victim}", "{victim}", NULL, ALL(PROC_DENY) },
	{ "kcmp", "{victim}", "{victim}", NULL, ALL(PROC_DENY) },
	{ "userns", "", "", NULL, ALL(NS_DENY) },
	{ "clone3_ns", "", "", NULL, ALL(NS_DENY) },
	{ "clone_ns", "", "", NULL, ALL(NS_DENY) },
	{ "setns", "{victim}", "{victim}", NULL, ALL(NS_DENY "|ENOENT") },
	{ "mount", "", "", NULL, ALL(DENY) },
	{ "setuid", "", "", NULL, ALL("SIGSYS|EPERM|EINVAL|NOCAPS") },
	{ "capset", "", "", NULL, ALL("SIGSYS|EPERM|NOCAPS") },
	{ "spec_ssb", "", "", "UNAVAILABLE", ALL(SPEC_DENY) },
	{ "spec_ib", "", "", "UNAVAILABLE", ALL(SPEC_DENY) },
	{ "mdwe_clear", "", "", "UNAVAILABLE", ALL("SIGSYS|EPERM") },
	{ "mprotect_exec", "", "", NULL, ALL(WX_DENY) },
	{ "mmap_exec", "", "", NULL, ALL(WX_DENY) },
	{ "memfd_exec", "", "", NULL, ALL(EXEC_DENY) },
	/* The issue forbids exec only in compute; service and tool may run programs. */
	{ "exec_sh", "", "", NULL, EXEC_DENY, SAME("*") },
	{ "personality", "", "", NULL, ALL("SIGSYS|EPERM|NOCHANGE") },
	{ "tcp_loopback", "", "", NULL, ALL(NET_DENY) },
	{ "tcp_linklocal", "", "", "ENETUNREACH|EHOSTUNREACH", ALL(NET_DENY) },
	{ "udp_loopback", "", "", NULL, ALL(NET_DENY) },
	{ "netlink", "", "", NULL, ALL(SOCK_DENY) },
	{ "packet", "", "", NULL, ALL(SOCK_DENY) },
	{ "vsock", "", "", "EAFNOSUPPORT", ALL(SOCK_DENY) },
	/* Binding a name in the domain's own empty network namespace harms no one;
	 * only compute and service promise no sockets at all. */
	{ "abstract_bind", "", "", NULL, SAME(SOCK_DENY), "*" },
	{ "abstract_connect", "{abstract}", "{abstract}", NULL, ALL(SOCK_DENY "|ECONNREFUSED") },
	{ "read_shadow", "", "", NULL, COMPUTE_FS(FS_DENY) },
	{ "write_sysdir", "", "", "UNAVAILABLE", COMPUTE_FS(FS_DENY) },
	{ "chroot", "", "", NULL, ALL(DENY "|CONFINED") },
	{ "write_self_exe", "", "", NULL, COMPUTE_FS(FS_DENY) },
	/* Unsandboxed, pid 1 belongs to the machine: aim at the victim instead. */
	{ "write_proc_exe", "{victim}", "1", NULL, COMPUTE_FS(FS_DENY) },
	{ "openat_dotdot", "{workdir} {marker}", "{workdir} {marker}", NULL, COMPUTE_FS(FS_DENY "|SAMEDIR") },
	{ "kallsyms", "", "", "ZEROADDR", COMPUTE_FS(FS_DENY "|ZEROADDR|EMPTY") },
	{ "sysfs", "", "", NULL, COMPUTE_FS(FS_DENY) },
	{ "perf_event_open", "", "", NULL, ALL(DENY) },
	{ "userfaultfd", "", "", NULL, ALL(DENY) },
	{ "bpf", "", "", NULL, ALL(DENY) },
	{ "keyctl", "", "", NULL, ALL(DENY) },
	{ "open_by_handle_at", "", "", NULL, ALL(DENY) },
	/* Bounded small unsandboxed; under a sandbox the defaults (2000 forks,
	 * 4 GiB capped at half the free memory, 65536 fds) must hit a limit. */
	{ "fork_bomb", "64", "", NULL, ALL("EAGAIN|ENOMEM|SIGSYS|EPERM|SIGKILL") },
	{ "memory_hog", "64", "", NULL, COMPUTE_FS("ENOMEM|OOMKILL|SIGKILL") },
	{ "fd_exhaust", "4096", "", NULL, COMPUTE_FS("EMFILE|ENFILE") },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))
#define PROBE_TIMEOUT_S 120
#define MAX_ARGS 64

struct outcome {
	int signal;         /* terminating signal, or 0 */
	int code;           /* exit status when signal == 0 */
	char verdict[16];   /* from the AL-ATTACK line ("" when none) */
	char err[48];
	char output[8192];  /* everything the probe wrote, for failure reports */
};

struct run {
	const struct probe_case *pc;
	const char *profile; /* NULL = unsandboxed */
	char test_name[96];
};

static struct {
	const char *bin;
	const char *launcher;
	char workroot[64];
	char workdir[96];
	char abstract[64];
	int abstract_fd;
} env;

/* ---- processes ---------------------------------------------------------- */

static void child_exec(char **argv, int out_fd)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	setpgid(0, 0);
	if (null >= 0)
		dup2(null, 0);
	dup2(out_fd, 1);
	dup2(out_fd, 2);
	close_range(3, ~0U, 0);
	execvp(argv[0], argv);
	dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static void parse_result(struct outcome *o)
{
	const char *line = NULL;

	/* The last result line wins (a probe that execs prints from the new image). */
	for (const char *s = strstr(o->output, "AL-ATTACK "); s; s = strstr(s + 1, "AL-ATTACK "))
		line = s;
	if (!line)
		return;
	const char *v = strstr(line, " verdict=");
	const char *e = strstr(line, " errno=");
	if (v)
		sscanf(v, " verdict=%15s", o->verdict);
	if (e)
		sscanf(e, " errno=%47s", o->err);
}

static void run_argv(char **argv, bool translate_signals, struct outcome *o)
{
	int p[2];
	size_t len = 0;
	int st = 0;

	memset(o, 0, sizeof(*o));
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_exec(argv, p[1]);
	close(p[1]);
	time_t deadline = time(NULL) + PROBE_TIMEOUT_S;
	for (;;) {
		struct pollfd pfd = { p[0], POLLIN, 0 };
		int r = poll(&pfd, 1, 1000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			if (time(NULL) > deadline) {
				kill(-pid, SIGKILL);
				kill(pid, SIGKILL);
				snprintf(o->output + len, sizeof(o->output) - len, "\n[runner: timed out]\n");
				break;
			}
			continue;
		}
		char buf[1024];
		ssize_t n = read(p[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		size_t room = sizeof(o->output) - 1 - len;
		size_t take = (size_t)n < room ? (size_t)n : room;
		memcpy(o->output + len, buf, take);
		len += take;
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st))
		o->signal = WTERMSIG(st);
	else
		o->code = WEXITSTATUS(st);
	parse_result(o);
	/* Launchers (airlock exec too) report a child killed by signal N as
	 * exit status 128+N; probes themselves only use codes below 128. */
	if (translate_signals && !o->signal && o->code > 128 && o->code < 128 + 65 && !o->verdict[0])
		o->signal = o->code - 128;
}

/* Starts `attacks victim`, returns its pid once it is ready. */
static pid_t start_victim(void)
{
	char *argv[] = { (char *)env.bin, "victim", NULL };
	char line[64] = "";
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_exec(argv, p[1]);
	close(p[1]);
	ssize_t n = read(p[0], line, sizeof(line) - 1);
	close(p[0]);
	assert_true(n > 0);
	assert_true(strncmp(line, "ready ", 6) == 0);
	return pid;
}

static void stop_victim(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Kills every child of ours still alive (found through /proc). */
static int kill_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[300], buf[512];
		int ppid = 0;
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = 0;
		const char *rp = strrchr(buf, ')'); /* after "pid (comm)" */
		if (rp && sscanf(rp + 1, " %*c %d", &ppid) == 1 && ppid == (int)getpid()) {
			print_error("leftover process %s still running: %.*s\n", e->d_name,
				    (int)(rp + 1 - buf), buf);
			kill(atoi(e->d_name), SIGKILL);
			n++;
		}
	}
	closedir(d);
	return n;
}

/* The runner is a child subreaper: whatever a probe (or a launcher) left
 * behind has become our child. An orphan that ends within half a second (a
 * launcher that did not wait for its last child) is noted; one still
 * running then is killed, reaped and counted as a failure. */
static int count_leftovers(void)
{
	int st;

	for (int i = 0; i < 10; i++) {
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p < 0)
			return 0; /* ECHILD: nothing left */
		if (p > 0) {
			print_message("note: orphan %d ended after its parent (status 0x%x)\n", (int)p, st);
			i--;
			continue;
		}
		nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
	}
	int found = kill_children();
	while (waitpid(-1, &st, 0) > 0)
		;
	return found;
}

/* ---- argument building ------------------------------------------------------ */

/* Copies word replacing {key} placeholders. */
static char *expand(const char *word, const char *profile, pid_t victim)
{
	char pidbuf[16];
	const struct {
		const char *key, *val;
	} keys[] = {
		{ "{profile}", profile ? profile : "" },
		{ "{workdir}", env.workdir },
		{ "{marker}", "marker" },
		{ "{abstract}", env.abstract },
		{ "{victim}", pidbuf },
	};
	char out[512];
	size_t o = 0;

	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)victim);
	for (const char *s = word; *s && o < sizeof(out) - 1;) {
		size_t k = 0;
		while (k < sizeof(keys) / sizeof(keys[0]) && strncmp(s, keys[k].key, strlen(keys[k].key)) != 0)
			k++;
		if (k == sizeof(keys) / sizeof(keys[0])) {
			out[o++] = *s++;
			continue;
		}
		size_t n = strlen(keys[k].val);
		if (n > sizeof(out) - 1 - o)
			n = sizeof(out) - 1 - o;
		memcpy(out + o, keys[k].val, n);
		o += n;
		s += strlen(keys[k].key);
	}
	out[o] = 0;
	char *r = strdup(out);
	assert_non_null(r);
	return r;
}

static int split_into(char **argv, int argc, const char *words, const char *profile, pid_t victim)
{
	char *copy = strdup(words ? words : "");
	char *save = NULL;

	assert_non_null(copy);
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		assert_true(argc < MAX_ARGS - 1);
		argv[argc++] = expand(w, profile, victim);
	}
	free(copy);
	return argc;
}

/* ---- outcomes ------------------------------------------------------------- */

static const char *outcome_token(const struct outcome *o, char *buf, size_t len)
{
	if (o->signal) {
		const char *abbrev = sigabbrev_np(o->signal);
		snprintf(buf, len, "SIG%s", abbrev ? abbrev : "?");
	} else if (o->code == 0 && strcmp(o->verdict, "ESCAPED") == 0) {
		snprintf(buf, len, "ESCAPED");
	} else if (o->code == 12 && strcmp(o->verdict, "UNAVAILABLE") == 0) {
		snprintf(buf, len, "UNAVAILABLE");
	} else if (o->code == 10 && strcmp(o->verdict, "BLOCKED") == 0) {
		snprintf(buf, len, "%s", o->err);
	} else {
		/* UNEXPECTED, a missing result line, or exit code and verdict
		 * disagreeing: never an accepted outcome. */
		snprintf(buf, len, "exit %d verdict '%s' errno %s", o->code, o->verdict, o->err[0] ? o->err : "-");
	}
	return buf;
}

static bool token_in(const char *tok, const char *set)
{
	size_t n = strlen(tok);

	if (!set)
		return false;
	if (strcmp(set, "*") == 0)
		return true;
	for (const char *s = set; *s;) {
		const char *bar = strchr(s, '|');
		size_t len = bar ? (size_t)(bar - s) : strlen(s);
		if (len == n && strncmp(s, tok, n) == 0)
			return true;
		s += len + (bar ? 1 : 0);
	}
	return false;
}

static const char *expected_for(const struct probe_case *pc, const char *profile)
{
	if (strcmp(profile, "compute") == 0)
		return pc->compute;
	if (strcmp(profile, "service") == 0)
		return pc->service;
	if (strcmp(profile, "tool") == 0)
		return pc->tool;
	return NULL;
}

/* ---- tests ---------------------------------------------------------------- */

static void run_case(void **state)
{
	const struct run *r = *state;
	const struct probe_case *pc = r->pc;
	const char *expect = r->profile ? expected_for(pc, r->profile) : "ESCAPED";
	const char *args = r->profile ? pc->args : pc->host_args;
	char *argv[MAX_ARGS] = { 0 };
	struct outcome o;
	char tok[128];
	int argc = 0;

	if (!expect) {
		print_message("no expectation for profile '%s': add a column to the table\n", r->profile);
		fail();
	}
	if (strcmp(expect, "*") == 0) {
		print_message("%s: not asserted under profile %s (see README.md)\n", pc->name, r->profile);
		skip();
	}
	pid_t victim = strstr(args, "{victim}") ? start_victim() : 0;
	if (r->profile)
		argc = split_into(argv, argc, env.launcher, r->profile, victim);
	argv[argc++] = strdup(env.bin);
	argv[argc++] = strdup(pc->name);
	argc = split_into(argv, argc, args, r->profile, victim);
	argv[argc] = NULL;
	run_argv(argv, r->profile != NULL, &o);
	if (victim)
		stop_victim(victim);
	for (int i = 0; i < argc; i++)
		free(argv[i]);

	/* Drop connections abstract_connect queued, so the backlog never fills. */
	for (int fd; (fd = accept4(env.abstract_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;)
		close(fd);
	int leftovers = count_leftovers();
	outcome_token(&o, tok, sizeof(tok));
	print_message("%s: %s\n", r->test_name, tok);
	if (leftovers) {
		print_error("%s: left %d process(es) running after it ended\n", r->test_name, leftovers);
		fail();
	}
	if (!r->profile && pc->host_lacks && token_in(tok, pc->host_lacks)) {
		print_message("%s: this host lacks the feature (%s): %s", pc->name, tok, o.output);
		skip();
	}
	if (!token_in(tok, expect)) {
		print_error("%s: got %s, expected one of %s\n--- probe output ---\n%s---\n",
			    r->test_name, tok, expect, o.output);
		fail();
	}
}

/* Every probe the binary knows has a row in the table, and the other way round. */
static void table_matches_binary(void **state)
{
	char *argv[] = { (char *)env.bin, "list", NULL };
	struct outcome o;
	size_t listed = 0;

	(void)state;
	run_argv(argv, false, &o);
	assert_int_equal(o.signal, 0);
	assert_int_equal(o.code, 0);
	char *save = NULL;
	for (char *l = strtok_r(o.output, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		bool found = false;
		for (size_t i = 0; i < NCASES; i++)
			found = found || strcmp(cases[i].name, l) == 0;
		if (!found)
			fail_msg("probe '%s' has no row in the expectation table", l);
		listed++;
	}
	assert_int_equal(listed, NCASES);
	assert_true(listed >= 30);
}

/* A probe that fails to reach its target must not be mistaken for an escape:
 * the abstract socket probe without our listener, and the cross-process
 * probes aimed at a pid that does not exist, report BLOCKED. */
static void probes_report_blocked_when_refused(void **state)
{
	char *a1[] = { (char *)env.bin, "abstract_connect", "airlock-attack-nobody-listens", NULL };
	char *a2[] = { (char *)env.bin, "kill", "2147483646", NULL };
	char *a3[] = { (char *)env.bin, "openat_dotdot", "/", NULL };
	struct outcome o;

	(void)state;
	run_argv(a1, false, &o);
	assert_int_equal(o.code, 10);
	assert_string_equal(o.err, "ECONNREFUSED");
	run_argv(a2, false, &o);
	assert_int_equal(o.code, 10);
	assert_string_equal(o.err, "ESRCH");
	run_argv(a3, false, &o);
	assert_int_equal(o.code, 10);
	assert_string_equal(o.err, "SAMEDIR");
}

/* Runs last: no child and no probe mount may remain. */
static void nothing_left_behind(void **state)
{
	char line[512];

	(void)state;
	assert_int_equal(count_leftovers(), 0);
	FILE *f = fopen("/proc/self/mountinfo", "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "airlock-attack"))
			fail_msg("a probe mount is left: %s", line);
	fclose(f);
}

static int group_setup(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *tmp = getenv("TMPDIR");
	char path[160];

	(void)state;
	snprintf(env.workroot, sizeof(env.workroot), "%s/airlock-attacks-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(env.workroot))
		return -1;
	snprintf(env.workdir, sizeof(env.workdir), "%s/work", env.workroot);
	snprintf(path, sizeof(path), "%s/marker", env.workroot);
	if (mkdir(env.workdir, 0755) < 0)
		return -1;
	FILE *f = fopen(path, "we");
	if (!f)
		return -1;
	fputs("outside the work dir\n", f);
	fclose(f);

	snprintf(env.abstract, sizeof(env.abstract), "airlock-attack-runner-%d", (int)getpid());
	env.abstract_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (env.abstract_fd < 0)
		return -1;
	memcpy(sa.sun_path + 1, env.abstract, strlen(env.abstract));
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(env.abstract));
	if (bind(env.abstract_fd, (struct sockaddr *)&sa, len) < 0 || listen(env.abstract_fd, 64) < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	char path[160];

	(void)state;
	if (env.abstract_fd > 0)
		close(env.abstract_fd);
	snprintf(path, sizeof(path), "%s/marker", env.workroot);
	unlink(path);
	rmdir(env.workdir);
	rmdir(env.workroot);
	return 0;
}

int main(void)
{
	const char *profiles_env = getenv("AL_ATTACK_PROFILES");
	char *profiles[8];
	size_t nprofiles = 0;

	/* Orphans of the probes become our children: see nothing_left_behind. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	env.bin = getenv("AL_ATTACK_BIN");
	if (!env.bin || access(env.bin, X_OK) != 0) {
		fprintf(stderr, "test_attacks: AL_ATTACK_BIN must name the attacks binary\n");
		return 1;
	}
	env.launcher = getenv("AL_ATTACK_LAUNCHER");
	if (!env.launcher || !*env.launcher)
		env.launcher = getenv("AL_ATTACK_DEFAULT_LAUNCHER");
	char *copy = NULL; /* profiles[] point into it */
	if (env.launcher && *env.launcher) {
		copy = strdup(profiles_env && *profiles_env ? profiles_env : "compute service tool");
		char *save = NULL;
		for (char *w = strtok_r(copy, " ,", &save); w && nprofiles < 8; w = strtok_r(NULL, " ,", &save))
			profiles[nprofiles++] = w;
	} else {
		fprintf(stderr, "test_attacks: no launcher (AL_ATTACK_LAUNCHER): probes run unsandboxed only\n");
	}

	size_t ntests = 3 + NCASES * (1 + nprofiles);
	struct CMUnitTest *tests = calloc(ntests, sizeof(*tests));
	struct run *runs = calloc(NCASES * (1 + nprofiles), sizeof(*runs));
	size_t t = 0, r = 0;
	if (!tests || !runs)
		return 1;
	tests[t++] = (struct CMUnitTest){ "table_matches_binary", table_matches_binary, NULL, NULL, NULL };
	tests[t++] = (struct CMUnitTest){ "probes_report_blocked_when_refused", probes_report_blocked_when_refused,
					  NULL, NULL, NULL };
	/* AL_ATTACK_SKIP_HOST: a per-profile test; the unsandboxed runs are another test. */
	const char *skip_host = getenv("AL_ATTACK_SKIP_HOST");
	for (size_t p = skip_host && *skip_host == '1' ? 1 : 0; p <= nprofiles; p++) {
		for (size_t i = 0; i < NCASES; i++, r++) {
			runs[r].pc = &cases[i];
			runs[r].profile = p == 0 ? NULL : profiles[p - 1];
			snprintf(runs[r].test_name, sizeof(runs[r].test_name), "%s/%s",
				 p == 0 ? "host" : profiles[p - 1], cases[i].name);
			tests[t++] = (struct CMUnitTest){ runs[r].test_name, run_case, NULL, NULL, &runs[r] };
		}
	}
	tests[t++] = (struct CMUnitTest){ "nothing_left_behind", nothing_left_behind, NULL, NULL, NULL };
	int rc = _cmocka_run_group_tests("attacks", tests, t, group_setup, group_teardown);
	free(tests);
	free(runs);
	free(copy);
	return rc;
}
