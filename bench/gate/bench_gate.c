/*
 * bench_gate: `airlock gate` against the same stdio MCP server run directly,
 * in one run: start-up to the first tools/list answer, the tools/call round
 * trip (p50, p99) and the gate domain's memory. Both peers are spoken to the
 * same way, JSON-RPC lines on pipes, from this process; the round trips of
 * the two are taken in alternating blocks so that load changes hit both.
 * Servers: tests/gate/hostile_server.py's echo (python3) and, when
 * tests/gate/servers is installed, @modelcontextprotocol/server-everything's
 * echo (node). Usage: bench_gate [ROUND_TRIPS] [STARTS]
 */
#include "al_config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define AIRLOCK AL_BUILD_ROOT "/src/cli/airlock"
#define HOSTILE AL_SOURCE_ROOT "/tests/gate/hostile_server.py"
#define EVERYTHING AL_SOURCE_ROOT "/tests/gate/servers/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
#define BLOCK 100
#define READ_TIMEOUT_MS 20000

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- a stdio peer: a server, or airlock gate in front of one ---- */

struct peer {
	pid_t pid;
	int to, from;          /* its stdin (we write), its stdout (we read) */
	char buf[1 << 20];
	size_t len;
	json_int_t next_id;
	double cpu_ms;         /* user + system time of it and what it waited for, once stopped */
};

static pid_t live[8];      /* what the watchdog kills */
/* What the gate puts in the tool domain's NODE_OPTIONS; node before 20.15
 * refuses it, and the policies then pass an empty one (docs/gate.md). */
static char node_options[64] = "NODE_OPTIONS=--disable-wasm-trap-handler";
static const char *node_policy = "";

static void watchdog(int sig)
{
	(void)sig;
	for (size_t i = 0; i < sizeof live / sizeof *live; i++)
		if (live[i] > 0)
			kill(live[i], SIGKILL);
	static const char msg[] = "bench_gate: watchdog: the run took too long; stopped\n";
	(void)!write(2, msg, sizeof msg - 1);
	_exit(1);
}

static void track(pid_t pid, bool add)
{
	for (size_t i = 0; i < sizeof live / sizeof *live; i++)
		if (add ? live[i] == 0 : live[i] == pid) {
			live[i] = add ? pid : 0;
			return;
		}
}

static int peer_start(struct peer *p, char *const argv[])
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	p->pid = fork();
	if (p->pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(null, 2); /* the servers' and airlock's own log lines */
		/* the environment airlock gives the tool domain, for both peers: the
		 * caller's (NODE_EXTRA_CA_CERTS, say) would cost the direct one only */
		char *env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "TMPDIR=/tmp", "LANG=C.UTF-8",
				node_options, NULL };
		execve(argv[0], argv, env);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (p->pid < 0)
		return -errno;
	track(p->pid, true);
	p->to = in[1];
	p->from = out[0];
	p->len = 0;
	p->next_id = 1;
	return 0;
}

static void peer_stop(struct peer *p)
{
	if (p->pid <= 0)
		return;
	close(p->to);
	struct rusage ru = { 0 };
	pid_t got = 0;
	for (int i = 0; i < 500 && (got = wait4(p->pid, NULL, WNOHANG, &ru)) == 0; i++)
		usleep(10000);
	if (got == 0) {
		kill(p->pid, SIGKILL);
		wait4(p->pid, NULL, 0, &ru);
	}
	p->cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	close(p->from);
	track(p->pid, false);
	p->pid = -1;
}

static int send_msg(struct peer *p, json_t *m)
{
	char *s = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	if (!s)
		return -ENOMEM;
	size_t n = strlen(s);
	int rc = write(p->to, s, n) == (ssize_t)n && write(p->to, "\n", 1) == 1 ? 0 : -EIO;
	free(s);
	return rc;
}

/* The answer to id; notifications and anything else are skipped. */
static json_t *recv_id(struct peer *p, json_int_t id)
{
	for (;;) {
		char *nl = memchr(p->buf, '\n', p->len);
		if (nl) {
			size_t n = (size_t)(nl - p->buf);
			json_t *m = json_loadb(p->buf, n, 0, NULL);
			memmove(p->buf, nl + 1, p->len - n - 1);
			p->len -= n + 1;
			json_t *mid = m ? json_object_get(m, "id") : NULL;
			if (mid && json_is_integer(mid) && json_integer_value(mid) == id)
				return m;
			json_decref(m);
			continue;
		}
		struct pollfd pf = { .fd = p->from, .events = POLLIN };
		if (p->len == sizeof p->buf || poll(&pf, 1, READ_TIMEOUT_MS) <= 0)
			return NULL;
		ssize_t r = read(p->from, p->buf + p->len, sizeof p->buf - p->len);
		if (r <= 0)
			return NULL;
		p->len += (size_t)r;
	}
}

static json_t *call(struct peer *p, const char *method, json_t *params)
{
	json_int_t id = p->next_id++;
	if (send_msg(p, json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", id, "method", method, "params",
				  params)) < 0)
		return NULL;
	return recv_id(p, id);
}

/* initialize, initialized, tools/list: what a client does before its first call. */
static int handshake(struct peer *p)
{
	json_t *r = call(p, "initialize", json_pack("{s:s, s:{}, s:{s:s, s:s}}", "protocolVersion", "2025-06-18",
						    "capabilities", "clientInfo", "name", "bench_gate", "version", "1"));
	bool ok = r && json_object_get(r, "result");
	json_decref(r);
	if (!ok || send_msg(p, json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", "notifications/initialized")) < 0)
		return -EPROTO;
	r = call(p, "tools/list", json_object());
	ok = r && json_is_array(json_object_get(json_object_get(r, "result"), "tools"));
	json_decref(r);
	return ok ? 0 : -EPROTO;
}

/* ---- figures ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, size_t n, double q)
{
	qsort(v, n, sizeof *v, cmp_u64);
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);
	return (double)v[i];
}

static void loadavg(const char *when)
{
	char b[128] = "?";
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (!fgets(b, sizeof b, f))
			snprintf(b, sizeof b, "?\n");
		fclose(f);
	}
	printf("load average %s: %s", when, b);
}

/* VmRSS and VmHWM of pid, KiB. */
static void rss(pid_t pid, long *now, long *peak)
{
	char path[64], line[256];
	*now = *peak = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f)) {
		sscanf(line, "VmRSS: %ld", now);
		sscanf(line, "VmHWM: %ld", peak);
	}
	if (f)
		fclose(f);
}

static pid_t ppid_of(pid_t pid)
{
	char path[64];
	int pp = -1;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f) {
		/* pid (comm) state ppid: comm may hold spaces and parentheses */
		char b[512];
		size_t n = fread(b, 1, sizeof b - 1, f);
		b[n] = '\0';
		char *e = strrchr(b, ')');
		if (!e || sscanf(e + 1, " %*c %d", &pp) != 1)
			pp = -1;
		fclose(f);
	}
	return pp;
}

/* The gate worker under airlock (argv[0] "airlock-gate"), and its domain's init. */
static pid_t find_gate(pid_t airlock, pid_t *init)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = -1;
	while (d && (e = readdir(d)) && found < 0) {
		pid_t pid = (pid_t)atoi(e->d_name), pp;
		if (pid <= 0 || (pp = ppid_of(pid)) <= 0 || ppid_of(pp) != airlock)
			continue;
		char path[64], argv0[64] = "";
		snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(argv0, 1, sizeof argv0 - 1, f);
			argv0[n] = '\0';
			fclose(f);
		}
		if (!strcmp(argv0, "airlock-gate")) {
			found = pid;
			*init = pp;
		}
	}
	if (d)
		closedir(d);
	return found;
}

/* ---- one server ---- */

#define MAX_PEERS 5

struct server {
	const char *label, *version_cmd, *tool, *arg;
	const char *peer[MAX_PEERS];       /* the first is the server run directly */
	char *argv[MAX_PEERS][24];
	size_t n_peers;
};

/* A start to the first tools/list answer (ms); the CPU time of the whole
 * session, start to stop, with every process it waited for (cpu_ms). */
static int startup(char *const argv[], double *ms, double *cpu_ms)
{
	struct peer *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	uint64_t t0 = now_ns();
	int rc = peer_start(p, argv);
	if (rc == 0)
		rc = handshake(p);
	*ms = (double)(now_ns() - t0) / 1e6;
	peer_stop(p);
	*cpu_ms = p->cpu_ms;
	free(p);
	return rc;
}

static int round_trip(struct peer *p, const struct server *s, uint64_t *ns)
{
	json_t *args = json_pack("{s:s}", s->arg, "hello");
	uint64_t t0 = now_ns();
	json_t *r = call(p, "tools/call", json_pack("{s:s, s:o}", "name", s->tool, "arguments", args));
	*ns = now_ns() - t0;
	bool ok = r && json_object_get(r, "result") && !json_is_true(json_object_get(json_object_get(r, "result"), "isError"));
	json_decref(r);
	return ok ? 0 : -EPROTO;
}

static void memory(pid_t airlock)
{
	long wr = -1, wp = -1, ir = -1, ip = -1, sr = -1, sp = -1;
	pid_t init = -1, worker = find_gate(airlock, &init);
	if (worker < 0) {
		printf("    gate domain memory: the airlock-gate process was not found\n");
		return;
	}
	rss(worker, &wr, &wp);
	rss(init, &ir, &ip);
	rss(airlock, &sr, &sp);
	printf("    gate domain memory: airlock-gate RSS %ld KiB (peak %ld), its init %ld KiB: domain %.1f MiB  "
	       "[goal: at most 16 MiB]; the supervisor (airlock gate) %ld KiB\n",
	       wr, wp, ir, (double)(wr + ir) / 1024, sr);
}

static int bench(const struct server *s, size_t n, size_t starts)
{
	size_t np = s->n_peers;
	printf("\n== %s\n", s->label);
	fflush(stdout);
	if (s->version_cmd && system(s->version_cmd) != 0)
		printf("(version unknown)\n");
	double warm, warm_cpu;
	for (size_t k = 1; k < np; k++)
		if (startup((char *const *)s->argv[k], &warm, &warm_cpu) < 0) { /* pins the tools */
			printf("bench_gate: %s: %s did not answer\n", s->label, s->peer[k]);
			return -1;
		}
	uint64_t *st[MAX_PEERS] = { 0 }, *rt[MAX_PEERS] = { 0 }, *ct[MAX_PEERS] = { 0 };
	struct peer *pp[MAX_PEERS] = { 0 };
	int rc = 0;
	for (size_t k = 0; k < np; k++)
		if (!(st[k] = calloc(starts, sizeof(uint64_t))) || !(rt[k] = calloc(n, sizeof(uint64_t))) ||
		    !(ct[k] = calloc(starts, sizeof(uint64_t))) ||
		    !(pp[k] = calloc(1, sizeof(struct peer))))
			rc = -ENOMEM;
	/* start-ups in turn, so that a change of load meets every peer */
	for (size_t i = 0; rc == 0 && i < starts; i++)
		for (size_t k = 0; rc == 0 && k < np; k++) {
			double ms, cpu;
			if ((rc = startup((char *const *)s->argv[k], &ms, &cpu)) == 0) {
				st[k][i] = (uint64_t)(ms * 1000);
				ct[k][i] = (uint64_t)(cpu * 1000);
			}
		}
	for (size_t k = 0; rc == 0 && k < np; k++)
		if ((rc = peer_start(pp[k], s->argv[k])) < 0 || (rc = handshake(pp[k])) < 0)
			printf("bench_gate: %s: %s: the session did not start\n", s->label, s->peer[k]);
	uint64_t t;
	for (size_t i = 0; rc == 0 && i < BLOCK; i++) /* warm every peer */
		for (size_t k = 0; rc == 0 && k < np; k++)
			rc = round_trip(pp[k], s, &t);
	/* round trips in blocks of BLOCK, the peers in turn */
	for (size_t done = 0; rc == 0 && done < n; done += BLOCK)
		for (size_t k = 0; rc == 0 && k < np; k++)
			for (size_t i = done; rc == 0 && i < done + BLOCK; i++)
				rc = round_trip(pp[k], s, &rt[k][i]);
	if (rc == 0) {
		double d50 = pct(st[0], starts, 0.5) / 1000, d0 = pct(st[0], starts, 0) / 1000, dc = pct(ct[0], starts, 0.5) / 1000;
		double r50 = pct(rt[0], n, 0.5) / 1000, r99 = pct(rt[0], n, 0.99) / 1000;
		printf("  %-28s start-up %7.1f ms (min %6.1f, CPU %5.1f ms); round trip p50 %6.0f us, p99 %6.0f us\n",
		       s->peer[0], d50, d0, dc, r50, r99);
		for (size_t k = 1; k < np; k++) {
			double g50 = pct(st[k], starts, 0.5) / 1000, g0 = pct(st[k], starts, 0) / 1000,
			       gc = pct(ct[k], starts, 0.5) / 1000;
			double q50 = pct(rt[k], n, 0.5) / 1000, q99 = pct(rt[k], n, 0.99) / 1000;
			printf("  %-28s start-up %7.1f ms (min %6.1f, CPU %5.1f ms); round trip p50 %6.0f us, p99 %6.0f us\n",
			       s->peer[k], g50, g0, gc, q50, q99);
			printf("    over direct: start-up %+.1f ms median, %+.1f ms min, %+.1f ms CPU (%.2fx) [goal: at most +50 ms]; "
			       "round trip %+.0f us p50 (%.2fx), %+.0f us p99 [goal: at most +1000 us p99]\n",
			       g50 - d50, g0 - d0, gc - dc, g50 / d50, q50 - r50, q50 / r50, q99 - r99);
			memory(pp[k]->pid);
		}
		printf("  (start-up: %zu starts each, the peers in turn, to the first tools/list answer, median; CPU: user +\n"
		       "  system time of the session with all it waited for; round trips: %zu each, in blocks of %d, the\n"
		       "  peers in turn)\n", starts, n, BLOCK);
	} else {
		printf("bench_gate: %s: failed\n", s->label);
	}
	for (size_t k = 0; k < np; k++) {
		if (pp[k])
			peer_stop(pp[k]);
		free(pp[k]);
		free(st[k]);
		free(rt[k]);
		free(ct[k]);
	}
	return rc;
}

/* The gated argv for peer k: airlock gate (as uid 65534 when user) POLICY -- cmd... */
static void gated(struct server *s, size_t k, const char *label, bool user, const char *policy, const char *state,
		  const char *cache, char *const cmd[])
{
	size_t i = 0;
	static char reuid[] = "--reuid=65534", regid[] = "--regid=65534";
	if (user) {
		s->argv[k][i++] = "/usr/bin/setpriv";
		s->argv[k][i++] = reuid;
		s->argv[k][i++] = regid;
		s->argv[k][i++] = "--clear-groups";
	}
	char *const head[] = { AIRLOCK, "gate", "--policy", (char *)policy, "--state-dir", (char *)state };
	for (size_t j = 0; j < sizeof head / sizeof *head; j++)
		s->argv[k][i++] = head[j];
	if (cache) {
		s->argv[k][i++] = "--cache-dir";
		s->argv[k][i++] = (char *)cache;
	}
	s->argv[k][i++] = "--";
	for (size_t j = 0; cmd[j]; j++)
		s->argv[k][i++] = cmd[j];
	s->argv[k][i] = NULL;
	s->peer[k] = label;
}

static void write_policy(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/*
 * server-everything as `airlock gate install` would leave it, without the
 * network: tests/gate/servers copied into CACHE/npm/HASH and pinned in
 * STATE/NAME/tree (docs/gate.md, "Install"). The hash is the one airlock
 * finds: a first run against a wrong pin refuses and audits what it found.
 */
static int fake_install(const char *dir, const char *state, const char *ustate, bool user)
{
	char cmd[1024], path[256], line[256];
	static const char spec[] = "@modelcontextprotocol/server-everything@2026.8.31";
	const char *zero = "0000000000000000000000000000000000000000000000000000000000000000";
	snprintf(cmd, sizeof cmd, "mkdir -p '%s/cache/npm' '%s/bench-installed' && cp -a '%s/tests/gate/servers' '%s/cache/npm/%s'",
		 dir, state, AL_SOURCE_ROOT, dir, zero);
	if (system(cmd) != 0)
		return -1;
	snprintf(path, sizeof path, "%s/bench-installed/tree", state);
	snprintf(line, sizeof line, "%s npm %s\n", zero, spec);
	write_policy(path, line);
	snprintf(cmd, sizeof cmd, AIRLOCK " gate --policy '%s/installed.ini' --state-dir '%s' --cache-dir '%s/cache' "
		 "</dev/null >/dev/null 2>&1", dir, state, dir);
	if (system(cmd) == 0)
		return -1; /* it must have refused the wrong pin */
	snprintf(path, sizeof path, "%s/bench-installed/audit.log", state);
	json_t *found = NULL;
	FILE *f = fopen(path, "r");
	char rec[4096];
	while (f && fgets(rec, sizeof rec, f)) {
		json_t *r = json_loads(rec, 0, NULL);
		const char *ev = r ? json_string_value(json_object_get(r, "event")) : NULL;
		if (ev && !strcmp(ev, "gate.tree_changed")) {
			json_decref(found);
			found = json_incref(json_object_get(json_object_get(r, "fields"), "found"));
		}
		json_decref(r);
	}
	if (f)
		fclose(f);
	const char *hex = json_string_value(found);
	int rc = hex && strlen(hex) == 64 ? 0 : -1;
	char from[256], to[256];
	snprintf(from, sizeof from, "%s/cache/npm/%s", dir, zero);
	snprintf(to, sizeof to, "%s/cache/npm/%s", dir, hex ? hex : zero);
	if (rc == 0 && rename(from, to) < 0)
		rc = -1;
	snprintf(line, sizeof line, "%s npm %s\n", hex ? hex : zero, spec);
	snprintf(path, sizeof path, "%s/bench-installed/tree", state);
	write_policy(path, line);
	if (rc == 0 && user) {
		snprintf(cmd, sizeof cmd, "mkdir -p '%s/bench-installed' && cp '%s' '%s/bench-installed/tree' && "
			 "chown -R 65534:65534 '%s/bench-installed'", ustate, path, ustate, ustate);
		rc = system(cmd) == 0 ? 0 : -1;
	}
	json_decref(found);
	return rc;
}

/* Root, setpriv, and a uid 65534 that can run the build: the ordinary user's case too. */
static bool user_peer(void)
{
	return geteuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0 &&
	       system("/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups " AIRLOCK " --version >/dev/null 2>&1") == 0;
}

/* ---- the installed tree's check ---- */

/* CPU time (user + system, ms) of airlock ARGS, which must be refused (exit 1). */
static double timed_refusal(char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	int st = 0;
	struct rusage ru = { 0 };
	if (pid < 0 || wait4(pid, &st, 0, &ru) < 0)
		return -1;
	double ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	return WIFEXITED(st) && WEXITSTATUS(st) == 1 ? ms : -1;
}

/*
 * What the check of an installed tree costs at a start, through airlock
 * itself: a policy naming a program the tree does not have is refused right
 * after the check, before any domain; one naming another version is
 * refused before it. The difference is the check: with the stat lines of
 * the last check (the usual start), and with tree.stat removed first (every
 * file read: the first start after an install).
 */
static void tree_check(const char *dir, const char *state, size_t runs)
{
	char pol[2][96], cache[96], stat_file[160];
	snprintf(pol[0], sizeof pol[0], "%s/nobin.ini", dir);
	snprintf(pol[1], sizeof pol[1], "%s/otherversion.ini", dir);
	write_policy(pol[0], "[gate]\nname = bench-installed\n[install]\nnpm = @modelcontextprotocol/server-everything@2026.8.31\n"
			     "bin = no-such-program\n");
	write_policy(pol[1], "[gate]\nname = bench-installed\n[install]\nnpm = @modelcontextprotocol/server-everything@2026.8.30\n");
	snprintf(cache, sizeof cache, "%s/cache", dir);
	char *cmd[2][9];
	for (int i = 0; i < 2; i++) {
		char *const a[] = { AIRLOCK, "gate", "--policy", pol[i], "--state-dir", (char *)state, "--cache-dir", cache, NULL };
		memcpy(cmd[i], a, sizeof a);
	}
	snprintf(stat_file, sizeof stat_file, "%s/bench-installed/tree.stat", state);
	uint64_t *t[3];
	int ok = 1;
	for (int k = 0; k < 3; k++)
		ok &= (t[k] = calloc(runs, sizeof(uint64_t))) != NULL;
	timed_refusal(cmd[0]); /* tree.stat as a check leaves it */
	for (size_t i = 0; ok && i < runs; i++) {
		double a = timed_refusal(cmd[1]), b = timed_refusal(cmd[0]), c;
		unlink(stat_file);
		c = timed_refusal(cmd[0]); /* reads everything, and writes tree.stat again */
		ok = a >= 0 && b >= 0 && c >= 0;
		t[0][i] = (uint64_t)(a * 1000);
		t[1][i] = (uint64_t)(b * 1000);
		t[2][i] = (uint64_t)(c * 1000);
	}
	if (ok) {
		double base = pct(t[0], runs, 0.5) / 1000, fast = pct(t[1], runs, 0.5) / 1000, full = pct(t[2], runs, 0.5) / 1000;
		printf("\n== the installed tree's check at a start, CPU time (tests/gate/servers as installed: server-everything\n"
		       "   and the other two servers, about 5,000 entries, 26 MiB; median of %zu refused starts each)\n"
		       "  refused before the check %.1f ms; after it, with tree.stat %.1f ms (check %+.1f ms); "
		       "every file read %.1f ms (check %+.1f ms)\n", runs, base, fast, fast - base, full, full - base);
	} else {
		printf("\ninstalled tree's check: a start was not refused as expected\n");
	}
	for (int k = 0; k < 3; k++)
		free(t[k]);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000, starts = argc > 2 ? strtoul(argv[2], NULL, 10) : 10;
	if (n < BLOCK || starts < 1) {
		fprintf(stderr, "usage: bench_gate [ROUND_TRIPS >= %d] [STARTS]\n", BLOCK);
		return 2;
	}
	n -= n % BLOCK;
	signal(SIGALRM, watchdog);
	signal(SIGPIPE, SIG_IGN);
	alarm(900);
	if (system("/usr/bin/node --disable-wasm-trap-handler -e 0 >/dev/null 2>&1") != 0) {
		snprintf(node_options, sizeof node_options, "NODE_OPTIONS=");
		node_policy = "env = NODE_OPTIONS\n";
	}
	char dir[] = "/tmp/al-bench-gate-XXXXXX", state[64], ustate[64], echo_pol[64], ev_pol[64], inst_pol[64], text[1024];
	if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
		return 1;
	snprintf(state, sizeof state, "%s/state", dir);
	snprintf(ustate, sizeof ustate, "%s/user-state", dir);
	snprintf(echo_pol, sizeof echo_pol, "%s/echo.ini", dir);
	snprintf(ev_pol, sizeof ev_pol, "%s/everything.ini", dir);
	snprintf(text, sizeof text, "[gate]\nname = bench-echo\n[tool]\nprofile = tool\nro = %s/tests/gate\nunenforced = accept\n",
		 AL_SOURCE_ROOT);
	write_policy(echo_pol, text);
	snprintf(text, sizeof text, "[gate]\nname = bench-everything\n[tool]\nro = %s/tests/gate/servers\nunenforced = accept\n%s",
		 AL_SOURCE_ROOT, node_policy);
	write_policy(ev_pol, text);
	snprintf(inst_pol, sizeof inst_pol, "%s/installed.ini", dir);
	snprintf(text, sizeof text, "[gate]\nname = bench-installed\n[install]\nnpm = @modelcontextprotocol/server-everything@2026.8.31\n"
				     "bin = mcp-server-everything\n[tool]\nunenforced = accept\n%s", node_policy);
	write_policy(inst_pol, text);
	bool user = user_peer();
	if (user && (mkdir(ustate, 0700) < 0 || chown(ustate, 65534, 65534) < 0))
		user = false;

	printf("bench_gate: airlock gate against the same stdio MCP server run directly, one run\n");
	printf("airlock: %s, build %s (meson buildtype %s)\n", AIRLOCK, AL_VERSION, AL_BENCH_BUILDTYPE);
	if (!user)
		printf("(gate as uid 65534 skipped: %s)\n",
		       geteuid() ? "not root" : "no setpriv, or uid 65534 cannot run the build");
	loadavg("at start");
	struct server echo = {
		.label = "tests/gate/hostile_server.py's echo tool (python3; tool domain profile tool)",
		.version_cmd = "/usr/bin/python3 --version",
		.tool = "echo", .arg = "text",
		.peer = { "direct" },
		.argv = { { "/usr/bin/python3", HOSTILE, NULL } },
		.n_peers = user ? 3 : 2,
	};
	char *const echo_cmd[] = { "/usr/bin/python3", HOSTILE, NULL };
	gated(&echo, 1, geteuid() ? "airlock gate" : "airlock gate (root, cgroups)", false, echo_pol, state, NULL, echo_cmd);
	if (user)
		gated(&echo, 2, "airlock gate (uid 65534)", true, echo_pol, ustate, NULL, echo_cmd);
	int rc = bench(&echo, n, starts);
	if (access(EVERYTHING, R_OK) == 0 && access("/usr/bin/node", X_OK) == 0) {
		struct server ev = {
			.label = "@modelcontextprotocol/server-everything's echo tool (node; profile runtime)",
			.version_cmd = "printf 'node '; /usr/bin/node --version",
			.tool = "echo", .arg = "message",
			.peer = { "direct" },
			.argv = { { "/usr/bin/node", EVERYTHING, "stdio", NULL } },
			.n_peers = user ? 3 : 2,
		};
		char *const ev_cmd[] = { "/usr/bin/node", EVERYTHING, "stdio", NULL };
		gated(&ev, 1, geteuid() ? "airlock gate" : "airlock gate (root, cgroups)", false, ev_pol, state, NULL, ev_cmd);
		if (user)
			gated(&ev, 2, "airlock gate (uid 65534)", true, ev_pol, ustate, NULL, ev_cmd);
		/* the same from a tree installed and pinned: its check at each start */
		char cache[64], *const inst_cmd[] = { "stdio", NULL };
		snprintf(cache, sizeof cache, "%s/cache", dir);
		bool installed = fake_install(dir, state, ustate, user) == 0;
		if (installed) {
			gated(&ev, ev.n_peers++, "installed (root)", false, inst_pol, state, cache, inst_cmd);
			if (user)
				gated(&ev, ev.n_peers++, "installed (uid 65534)", true, inst_pol, ustate, cache, inst_cmd);
		} else {
			printf("(the installed tree's peers skipped: the tree could not be set up in %s)\n", dir);
		}
		rc |= bench(&ev, n, starts);
		if (installed)
			tree_check(dir, state, starts);
	} else {
		printf("\nserver-everything skipped: tests/gate/servers is not installed (npm ci there) or no /usr/bin/node\n");
	}
	loadavg("at end");
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc ? 1 : 0;
}
