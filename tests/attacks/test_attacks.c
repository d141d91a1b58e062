/* Runs every attack probe (tests/attacks/attacks NAME) and checks what it
 * observed.
 *
 * host/NAME      the probe runs unsandboxed (root on the test machine) and
 *                must report ESCAPED: this proves it can see a success.
 *                Where the host lacks the feature it says so and the test
 *                is skipped with the probe's reason.
 * PROFILE/NAME   the same probe, target and arguments run unsandboxed (the
 *                baseline must escape, or the case is skipped with the
 *                reason), then under AL_ATTACK_LAUNCHER for the profile
 *                with {seccomp}=kill (an accepted outcome, after the
 *                probe's AL-REACHED marker) and {seccomp}=notify (which
 *                must name a reached call for a seccomp refusal). Each
 *                case states the layer that refused; the run ends with a
 *                summary. See README.md.
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
#include <stdnoreturn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

/* Outcome tokens, '|'-separated: ESCAPED, a signal (SIGSYS), an errno name
 * or pseudo name the probe printed with BLOCKED (EPERM, ZEROADDR, ...), or
 * "*" for "not asserted". UNAVAILABLE, SIGKILL and TIMEOUT are never
 * accepted from a sandboxed run: a feature this machine lacks is a skip
 * (decided by the baseline run), and a kill proves nothing by itself. */
#define DENY "SIGSYS|EPERM|EACCES|ENOSYS"
#define NS_DENY "SIGSYS|EPERM|EACCES|ENOSYS|ENOSPC|EUSERS"
#define PROC_DENY "SIGSYS|EPERM|EACCES|ENOSYS|ESRCH"
#define TTY_DENY "SIGSYS|EPERM|EACCES"
#define EXEC_DENY "SIGSYS|EPERM|EACCES|ENOSYS|ENOENT"
#define WX_DENY "SIGSYS|EPERM|EACCES"
#define SPEC_DENY "SIGSYS|EPERM"
#define NET_DENY "SIGSYS|EPERM|EACCES|ENETUNREACH|EHOSTUNREACH|EAFNOSUPPORT"
#define SOCK_DENY "SIGSYS|EPERM|EACCES|EAFNOSUPPORT|EPROTONOSUPPORT"
#define FS_DENY "ENOENT|EACCES|EPERM|EROFS"
/* compute has no filesystem at all: its filter refuses open itself. */
#define COMPUTE_FS(x) x "|SIGSYS", SAME(x)

struct probe_case {
	const char *name;
	const char *args;       /* arguments, the same for the baseline and the sandbox */
	const char *host_lacks; /* baseline outcomes meaning "feature absent here" (skip) */
	const char *compute, *service, *tool;
	/* EPERM/EACCES/ENOSYS accepted although no seccomp notification named
	 * the call, and the layer that gives them; NULL: seccomp only. */
	const char *other, *other_why;
};

#define ALL(x) x, x, x
#define SAME(a) a, a

static const struct probe_case cases[] = {
	/* x32 is compiled out of many kernels (this one too): skipped then. */
	{ "x32", "", "UNAVAILABLE", ALL("SIGSYS|EPERM"), NULL, NULL },
	/* no notification: the filter's architecture check kills any i386 call
	 * in every mode, and only seccomp raises SIGSYS on x86 */
	{ "int80", "", "UNAVAILABLE", ALL("SIGSYS|EPERM|ENOSYS"), "SIGSYS",
	  "seccomp's architecture check (SIGSYS after the i386 call in kill and notify mode alike)" },
	{ "io_uring", "", NULL, ALL(DENY), NULL, NULL },
	{ "tiocsti", "", "UNAVAILABLE", ALL(TTY_DENY), NULL, NULL },
	{ "tiocsti_high", "", "UNAVAILABLE", ALL(TTY_DENY), NULL, NULL },
	{ "tioclinux", "", "UNAVAILABLE", ALL(TTY_DENY), NULL, NULL },
	{ "tioclinux_high", "", "UNAVAILABLE", ALL(TTY_DENY), NULL, NULL },
	{ "ptrace", "{victim}", NULL, ALL(PROC_DENY), NULL, NULL },
	{ "process_vm_readv", "{victim}", NULL, ALL(PROC_DENY), NULL, NULL },
	{ "kill", "{victim}", NULL, ALL(PROC_DENY), NULL, NULL },
	{ "kcmp", "{victim}", NULL, ALL(PROC_DENY), NULL, NULL },
	{ "userns", "", NULL, ALL(NS_DENY), NULL, NULL },
	/* the filter answers clone3 with ENOSYS (libc then falls back to clone) */
	{ "clone3_ns", "", NULL, ALL(NS_DENY), "ENOSYS",
	  "seccomp's ENOSYS rule for clone3 (the baseline ran clone3 on this kernel)" },
	{ "clone_ns", "", NULL, ALL(NS_DENY), NULL, NULL },
	{ "setns", "{victim}", NULL, ALL(NS_DENY "|ENOENT"), NULL, NULL },
	{ "mount", "{workdir}", NULL, ALL(DENY), NULL, NULL },
	{ "setuid", "", NULL, ALL("SIGSYS|EPERM|EINVAL|NOCAPS"), NULL, NULL },
	{ "capset", "", NULL, ALL("SIGSYS|EPERM|NOCAPS"), NULL, NULL },
	{ "spec_ssb", "", "UNAVAILABLE", ALL(SPEC_DENY), "EPERM", "speculation control force-disabled" },
	{ "spec_ib", "", "UNAVAILABLE", ALL(SPEC_DENY), "EPERM", "speculation control force-disabled" },
	{ "mdwe_clear", "", "UNAVAILABLE", ALL("SIGSYS|EPERM"), "EPERM",
	  "MDWE is set and sticky (the baseline cleared it)" },
	/* The filter's W^X rules refuse these on every kernel (src/sandbox/wx.c),
	 * before MDWE would look: notify mode names the call. The last two get
	 * past MDWE itself. */
	{ "mprotect_exec", "", NULL, ALL(WX_DENY), NULL, NULL },
	{ "mmap_exec", "", NULL, ALL(WX_DENY), NULL, NULL },
	{ "memfd_mmap_exec", "", NULL, ALL(WX_DENY), NULL, NULL },
	{ "shared_alias_exec", "", NULL, ALL(WX_DENY), NULL, NULL },
	{ "memfd_exec", "", NULL, ALL(EXEC_DENY), NULL, NULL },
	/* Exec is forbidden only in compute; service and tool may run programs. */
	{ "exec_sh", "", NULL, EXEC_DENY, SAME("*"), NULL, NULL },
	{ "personality", "", NULL, ALL("SIGSYS|EPERM|NOCHANGE"), NULL, NULL },
	{ "tcp_loopback", "", NULL, ALL(NET_DENY), NULL, NULL },
	{ "tcp_linklocal", "", "ENETUNREACH|EHOSTUNREACH", ALL(NET_DENY), NULL, NULL },
	{ "udp_loopback", "", NULL, ALL(NET_DENY), NULL, NULL },
	{ "netlink", "", NULL, ALL(SOCK_DENY), NULL, NULL },
	{ "packet", "", NULL, ALL(SOCK_DENY), NULL, NULL },
	{ "vsock", "", "EAFNOSUPPORT", ALL(SOCK_DENY), NULL, NULL },
	/* Binding a name in the domain's own empty network namespace harms no one;
	 * only compute and service promise no sockets at all. */
	{ "abstract_bind", "", NULL, SAME(SOCK_DENY), "*", NULL, NULL },
	{ "abstract_connect", "{abstract}", NULL, ALL(SOCK_DENY "|ECONNREFUSED"), NULL, NULL },
	{ "read_shadow", "", NULL, COMPUTE_FS(FS_DENY), "EACCES",
	  "the domain's unprivileged uid (DAC) or Landlock: the baseline read it as root" },
	{ "write_sysdir", "", "UNAVAILABLE", COMPUTE_FS(FS_DENY), "EACCES",
	  "the domain's unprivileged uid (DAC) or Landlock: the baseline wrote there as root" },
	{ "chroot", "{workdir}", NULL, ALL(DENY "|CONFINED"), NULL, NULL },
	{ "write_self_exe", "", NULL, COMPUTE_FS(FS_DENY), "EACCES",
	  "the domain's unprivileged uid (DAC) or Landlock: the baseline opened it as root" },
	/* The same target in both runs: the victim the baseline reached. */
	{ "write_proc_exe", "{victim}", NULL, COMPUTE_FS(FS_DENY), "EACCES",
	  "the domain's unprivileged uid (DAC) or Landlock: the baseline opened it as root" },
	{ "openat_dotdot", "{workdir} {marker}", NULL, COMPUTE_FS(FS_DENY "|SAMEDIR"), NULL, NULL },
	{ "kallsyms", "", "ZEROADDR", COMPUTE_FS(FS_DENY "|ZEROADDR|EMPTY"), NULL, NULL },
	{ "sysfs", "", NULL, COMPUTE_FS(FS_DENY), NULL, NULL },
	{ "perf_event_open", "", NULL, ALL(DENY), NULL, NULL },
	{ "userfaultfd", "", NULL, ALL(DENY), NULL, NULL },
	{ "bpf", "", NULL, ALL(DENY), NULL, NULL },
	{ "keyctl", "", NULL, ALL(DENY), NULL, NULL },
	{ "open_by_handle_at", "", NULL, ALL(DENY), NULL, NULL },
	/* The same bounds for the baseline and the sandbox, each above every
	 * built-in profile's limit and within this machine's: 512 processes
	 * (pids <= 128), {memhog} MiB (memory <= 4 GiB; at most half of the free
	 * memory), {nofile} descriptors (nofile <= 512; below the hard limit). */
	{ "fork_bomb", "512", NULL, ALL("EAGAIN|SIGSYS|EPERM"), NULL, NULL },
	{ "memory_hog", "{memhog}", NULL, ALL("ENOMEM|OOMKILL"), NULL, NULL },
	{ "fd_exhaust", "{nofile}", NULL, ALL("EMFILE|ENFILE"), NULL, NULL },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))
/* A probe still running after this long is killed and fails (TIMEOUT):
 * the runner's own kill is never taken for a limit's. */
#define PROBE_TIMEOUT_S 60
#define MAX_ARGS 64

struct outcome {
	int signal;         /* terminating signal, or 0 */
	int code;           /* exit status when signal == 0 */
	bool timed_out;     /* the runner killed it */
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
	char memhog[24]; /* {memhog}: MiB for memory_hog */
	char nofile[24]; /* {nofile}: descriptors for fd_exhaust */
	/* the run's summary */
	unsigned ran, proved, skipped;
	char skips[4096];
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
				o->timed_out = true;
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
static const char *seccomp_word = "kill"; /* {seccomp} in launcher words */

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
		{ "{memhog}", env.memhog },
		{ "{nofile}", env.nofile },
		{ "{seccomp}", seccomp_word },
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
	if (o->timed_out) {
		snprintf(buf, len, "TIMEOUT");
	} else if (o->signal) {
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

/* ---- proofs ---------------------------------------------------------------- */

/* The probe's own "AL-REACHED name=... call=CALL" lines: it got as far as
 * its attack call. */
static bool reached_any(const char *out)
{
	return strstr(out, "AL-REACHED ") != NULL;
}

/* In notify mode `airlock exec` logs "seccomp: pid N called NAME(...)" for
 * every refused call. Finds the first such line naming a call the probe
 * announced (AL-REACHED ... call=NAME) before it. */
static bool notified_call(const char *out, char *name, size_t len)
{
	char calls[16][40];
	size_t ncalls = 0;

	for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *eol = strchr(l, '\n');
		size_t ll = eol ? (size_t)(eol - l) : strlen(l);
		char line[512];
		snprintf(line, sizeof(line), "%.*s", (int)(ll < sizeof(line) ? ll : sizeof(line) - 1), l);
		const char *c = strstr(line, "AL-REACHED ");
		if (c && (c = strstr(c, " call=")) && ncalls < 16) {
			snprintf(calls[ncalls++], sizeof(calls[0]), "%s", c + 6);
			continue;
		}
		const char *n = strstr(line, "seccomp: pid ");
		if (!n || !(n = strstr(n, " called ")))
			continue;
		n += 8;
		const char *paren = strchr(n, '(');
		if (!paren)
			continue;
		for (size_t i = 0; i < ncalls; i++) {
			if (strlen(calls[i]) == (size_t)(paren - n) && strncmp(calls[i], n, (size_t)(paren - n)) == 0) {
				snprintf(name, len, "%s", calls[i]);
				return true;
			}
		}
	}
	return false;
}

/* The machine's count of OOM kills (memory cgroups' included). */
static long vmstat_oom_kills(void)
{
	FILE *f = fopen("/proc/vmstat", "re");
	char line[128];
	long n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "oom_kill %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Which layer a refusal other than seccomp's comes from. */
static const char *layer_of(const char *tok)
{
	static const struct {
		const char *tok, *why;
	} layers[] = {
		{ "ENOENT", "mount or pid namespace: the target is not visible in the domain" },
		{ "EROFS", "read-only mount in the domain" },
		{ "ESRCH", "pid namespace: the outside pid is not visible" },
		{ "ECONNREFUSED", "network namespace: the outside listener is out of reach" },
		{ "ENETUNREACH", "network namespace: no route (lo down, no interface)" },
		{ "EHOSTUNREACH", "network namespace: no route" },
		{ "EAFNOSUPPORT", "the family is absent in the domain's network namespace" },
		{ "EPROTONOSUPPORT", "the protocol is absent in the domain's network namespace" },
		{ "SAMEDIR", "mount namespace: \"..\" of the root is the root" },
		{ "CONFINED", "mount namespace: the chroot climb stayed inside" },
		{ "ZEROADDR", "kallsyms hides addresses from the domain's credentials" },
		{ "EMPTY", "kallsyms is empty to the domain" },
		{ "NOCAPS", "user namespace: uid 0 there brings no capability outside" },
		{ "NOCHANGE", "the kernel kept the old state" },
		{ "EINVAL", "user namespace: uid 0 is not mapped" },
		{ "ENOSPC", "user namespace limit of the domain" },
		{ "EUSERS", "user namespace nesting limit" },
		{ "EAGAIN", "pids cgroup limit: fork refused before the bound the baseline reached" },
		{ "ENOMEM", "memory limit: allocation refused before the bound the baseline reached" },
		{ "EMFILE", "RLIMIT_NOFILE: refused before the count the baseline reached" },
		{ "ENFILE", "file table limit" },
	};

	for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++)
		if (strcmp(tok, layers[i].tok) == 0)
			return layers[i].why;
	return NULL;
}

static const char *result_line(const char *out, char *buf, size_t len)
{
	const char *l = NULL;

	for (const char *s = strstr(out, "AL-ATTACK "); s; s = strstr(s + 1, "AL-ATTACK "))
		l = s;
	if (!l)
		return "(no result line)";
	const char *eol = strchr(l, '\n');
	snprintf(buf, len, "%.*s", (int)(eol ? (size_t)(eol - l) : strlen(l)), l);
	return buf;
}

/* ---- tests ---------------------------------------------------------------- */

static void run_probe(const struct probe_case *pc, const char *profile, const char *seccomp, pid_t victim,
		      struct outcome *o)
{
	char *argv[MAX_ARGS] = { 0 };
	int argc = 0;

	seccomp_word = seccomp;
	if (profile)
		argc = split_into(argv, argc, env.launcher, profile, victim);
	argv[argc++] = strdup(env.bin);
	argv[argc++] = strdup(pc->name);
	argc = split_into(argv, argc, pc->args, profile, victim);
	argv[argc] = NULL;
	run_argv(argv, profile != NULL, o);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	/* Drop connections abstract_connect queued, so the backlog never fills. */
	for (int fd; (fd = accept4(env.abstract_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;)
		close(fd);
}

static noreturn void skip_because(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static noreturn void skip_because(const char *name, const char *fmt, ...)
{
	char why[512];
	va_list ap;
	size_t used = strlen(env.skips);

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	print_message("%s: SKIPPED: %s\n", name, why);
	snprintf(env.skips + used, sizeof(env.skips) - used, "  skipped %s: %s\n", name, why);
	env.skipped++;
	skip();
	abort(); /* skip() does not return */
}

static void run_case(void **state)
{
	const struct run *r = *state;
	const struct probe_case *pc = r->pc;
	const char *expect = r->profile ? expected_for(pc, r->profile) : "ESCAPED";
	/* static: skip() and fail() leave by longjmp, nothing to free then */
	static struct outcome outs[3];
	struct outcome *base = &outs[0], *o = &outs[1], *on = &outs[2];
	char tok[128], btok[128], ntok[128], line[512];

	env.ran++;
	if (!expect) {
		print_message("no expectation for profile '%s': add a column to the table\n", r->profile);
		fail();
	}
	if (strcmp(expect, "*") == 0) {
		skip_because(r->test_name, "not asserted under profile %s (see README.md)", r->profile);
	}
	pid_t victim = strstr(pc->args, "{victim}") ? start_victim() : 0;

	/* 1. the baseline: the same probe, target and arguments, unsandboxed */
	run_probe(pc, NULL, "kill", victim, base);
	outcome_token(base, btok, sizeof(btok));
	long oom0 = -1, oom1 = -1;
	if (r->profile && strcmp(btok, "ESCAPED") == 0) {
		/* 2. in the domain (the profile's seccomp action: kill) */
		oom0 = vmstat_oom_kills();
		run_probe(pc, r->profile, "kill", victim, o);
		oom1 = vmstat_oom_kills();
		/* 3. again with seccomp notification, which names refused calls */
		run_probe(pc, r->profile, "notify", victim, on);
	}
	if (victim)
		stop_victim(victim);
	int leftovers = count_leftovers();
	if (leftovers) {
		print_error("%s: left %d process(es) running after it ended\n", r->test_name, leftovers);
		fail();
	}
	print_message("%s: baseline %s\n", r->test_name, btok);
	if (strcmp(btok, "ESCAPED") != 0) {
		if (strcmp(btok, "UNAVAILABLE") == 0 || (pc->host_lacks && token_in(btok, pc->host_lacks)))
			skip_because(r->test_name, "this machine lacks the feature, the baseline cannot escape: %s",
				     result_line(base->output, line, sizeof(line)));
		print_error("%s: the baseline (unsandboxed) run did not escape: %s\n--- output ---\n%s---\n",
			    r->test_name, btok, base->output);
		fail();
	}
	if (!r->profile) {
		env.proved++;
		return;
	}

	outcome_token(o, tok, sizeof(tok));
	outcome_token(on, ntok, sizeof(ntok));
	print_message("%s: %s (notify mode: %s)\n", r->test_name, tok, ntok);
	if (!token_in(tok, expect)) {
		print_error("%s: got %s, expected one of %s\n--- probe output ---\n%s---\n", r->test_name, tok,
			    expect, o->output);
		fail();
	}
	if (!reached_any(o->output)) {
		print_error("%s: %s before the probe reached its attack call: the refusal proves nothing\n"
			    "--- probe output ---\n%s---\n", r->test_name, tok, o->output);
		fail();
	}
	if (strcmp(ntok, "ESCAPED") == 0 || strcmp(ntok, "TIMEOUT") == 0) {
		print_error("%s: in notify mode: %s\n--- output ---\n%s---\n", r->test_name, ntok, on->output);
		fail();
	}
	char call[40] = "", proof[512];
	bool named = notified_call(on->output, call, sizeof(call));
	if (strcmp(tok, "SIGSYS") == 0 || strcmp(tok, "EPERM") == 0 || strcmp(tok, "EACCES") == 0 ||
	    strcmp(tok, "ENOSYS") == 0) {
		if (named)
			snprintf(proof, sizeof(proof), "seccomp: notify mode named %s() after the probe reached it", call);
		else if (pc->other && token_in(tok, pc->other) &&
			 (strcmp(tok, "SIGSYS") != 0 || strcmp(ntok, "SIGSYS") == 0))
			snprintf(proof, sizeof(proof), "%s", pc->other_why);
		else {
			print_error("%s: %s, but in notify mode no seccomp notification named a call the probe "
				    "reached: not shown to be the filter's refusal\n--- notify-mode output ---\n%s---\n",
				    r->test_name, tok, on->output);
			fail();
		}
	} else if (strcmp(tok, "OOMKILL") == 0) {
		if (oom0 < 0 || oom1 <= oom0) {
			print_error("%s: the hog was SIGKILLed but /proc/vmstat oom_kill did not grow (%ld -> %ld)\n",
				    r->test_name, oom0, oom1);
			fail();
		}
		snprintf(proof, sizeof(proof), "memory cgroup: the OOM killer (vmstat oom_kill %ld -> %ld)", oom0, oom1);
	} else if (layer_of(tok)) {
		snprintf(proof, sizeof(proof), "%s", layer_of(tok));
	} else {
		print_error("%s: %s is accepted but no layer is known for it\n", r->test_name, tok);
		fail();
	}
	print_message("%s: BLOCKED (proved): %s: %s\n", r->test_name, tok, proof);
	env.proved++;
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

	/* memory_hog: above the largest built-in memory limit (4 GiB), never
	 * more than half of what this machine has free. */
	long avail_mib = -1;
	f = fopen("/proc/meminfo", "re");
	if (f) {
		char line[128];
		long kib;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "MemAvailable: %ld kB", &kib) == 1)
				avail_mib = kib / 1024;
		fclose(f);
	}
	long hog = 4096 + 256;
	if (avail_mib > 0 && hog > avail_mib / 2)
		hog = avail_mib / 2;
	snprintf(env.memhog, sizeof(env.memhog), "%ld", hog);
	/* fd_exhaust: above the largest built-in nofile (512) and below this
	 * machine's hard limit, which the probe never raises. */
	struct rlimit rl;
	long nofile = 4096;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY && (long)rl.rlim_max - 32 < nofile)
		nofile = (long)rl.rlim_max - 32;
	snprintf(env.nofile, sizeof(env.nofile), "%ld", nofile);
	print_message("bounds: memory_hog %s MiB, fd_exhaust %s descriptors, fork_bomb 512\n", env.memhog, env.nofile);
	return 0;
}

static int group_teardown(void **state)
{
	char path[160];

	(void)state;
	print_message("attacks summary: %u blocked (proved)%s, %u skipped, %u failed\n%s", env.proved,
		      env.launcher && *env.launcher ? "" : " [unsandboxed: escaped as expected]", env.skipped,
		      env.ran - env.proved - env.skipped, env.skips);
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
