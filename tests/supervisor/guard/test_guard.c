/*
 * The guard end to end: `airlock run` with a misbehaving program in the AI
 * domain's place, driven and observed only from outside (control socket,
 * audit log, files on disk), as an operator would.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "al_config.h"
#include "audit/audit.h"
#include "sandbox/sandbox.h"
#include "supervisor/control.h"
#include "cpus.h"
#include "testdir.h"

struct run {
	int port;
	char dir[64];
	char conf[128];
	char sock[128];
	char audit[128];
	char model[128];
	char exe[128];     /* the AI domain's program: a copy the test may replace */
	char log[128];     /* the supervisor's stderr */
	pid_t pid;
	int in, out;       /* under --stdio: the client's ends of its stdin and stdout, else -1 */
};

/*
 * The supervisors a test started and has not stopped yet. A failed assertion
 * leaves its test at once, past its run_stop(); the teardown then stops what
 * is left and removes its directory. Copies, not pointers: the test's frame
 * is gone by then.
 */
struct live_run {
	pid_t pid;
	char sock[128];
	char dir[64];
};
static struct live_run live[4];

static void live_add(const struct run *r)
{
	for (size_t i = 0; i < sizeof live / sizeof *live; i++)
		if (!live[i].pid) {
			live[i].pid = r->pid;
			memcpy(live[i].sock, r->sock, sizeof live[i].sock);
			memcpy(live[i].dir, r->dir, sizeof live[i].dir);
			return;
		}
}

static void live_remove(pid_t pid)
{
	for (size_t i = 0; i < sizeof live / sizeof *live; i++)
		if (live[i].pid == pid)
			live[i].pid = 0;
}

/* The configuration's security level for the next run_start. */
static const char *run_level = "standard";

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return 18399;
	close(fd);
	return ntohs(sa.sin_port);
}

static void copy_file(const char *from, const char *to)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
	assert_int_equal(system(cmd), 0);
}

/*
 * Starts airlock run with the program MODE in the AI domain and waits for it
 * to be ready. model: the text of the model file (NULL: the real model);
 * stdio: serve MCP over the run's stdin and stdout (r->in, r->out).
 */
static void run_start_with(struct run *r, const char *mode, const char *model, bool stdio, const char *ai_extra)
{
	memset(r, 0, sizeof *r);
	r->in = r->out = -1;
	strcpy(r->dir, "/tmp/al-guard.XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->conf, sizeof r->conf, "%s/airlock.conf", r->dir);
	snprintf(r->sock, sizeof r->sock, "%s/state/control.sock", r->dir);
	snprintf(r->audit, sizeof r->audit, "%s/state/audit.log", r->dir);
	snprintf(r->model, sizeof r->model, "%s/model.bin", r->dir);
	r->port = free_port();
	/* The alert hook: keeps every incident document it is given. */
	char hook[128];
	snprintf(hook, sizeof hook, "%s/alert-hook", r->dir);
	FILE *h = fopen(hook, "w");
	assert_non_null(h);
	fprintf(h, "#!/bin/sh\nf=$(mktemp '%s/alert.XXXXXX')\ncat > \"$f\"\nmv \"$f\" \"$f.json\"\n", r->dir);
	fclose(h);
	chmod(hook, 0700);
	char tok[128];
	snprintf(tok, sizeof tok, "%s/tok.bin", r->dir);
	if (model) {
		FILE *m = fopen(r->model, "w");
		assert_non_null(m);
		fputs(model, m);
		fclose(m);
	} else {
		copy_file(AL_SOURCE_ROOT "/models/stories260K.bin", r->model);
	}
	copy_file(AL_SOURCE_ROOT "/models/tok512.bin", tok);
	char src[256];
	snprintf(src, sizeof src, "%s/misbehave_%s", getenv("AL_MISBEHAVE_DIR"), mode);
	snprintf(r->exe, sizeof r->exe, "%s/ai-program", r->dir);
	copy_file(src, r->exe);
	char listen[32] = "stdio";
	if (!stdio)
		snprintf(listen, sizeof listen, "127.0.0.1:%d", r->port);
	FILE *f = fopen(r->conf, "w");
	assert_non_null(f);
	fprintf(f, "[airlock]\nlevel = %s\nstate_dir = %s/state\n"
		   "[proto]\nlisten = %s\n"
		   "[ai]\nmodel = %s\ntokenizer = %s\n"
		   "[domain.ai]\nseccomp = level\ncommand = %s\n%s"
		   "[respond]\nquiet_period = 2\nintegrity_interval = 1\nalert_command = %s\n",
		run_level, r->dir, listen, r->model, tok, r->exe, ai_extra ? ai_extra : "", hook);
	fclose(f);
	snprintf(r->log, sizeof r->log, "%s/run.log", r->dir);
	int pin[2] = {-1, -1}, pout[2] = {-1, -1};
	if (stdio)
		assert_true(pipe(pin) == 0 && pipe(pout) == 0);
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid > 0)
		live_add(r);
	if (r->pid == 0) {
		int fd = open(r->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(stdio ? pout[1] : fd, 1);
		dup2(fd, 2);
		if (stdio) {
			dup2(pin[0], 0);
			close(pin[1]);
			close(pout[0]);
		}
		execl(getenv("AL_AIRLOCK"), "airlock", "run", "--config", r->conf, (char *)NULL);
		_exit(127);
	}
	if (stdio) {
		close(pin[0]);
		close(pout[1]);
		r->in = pin[1];
		r->out = pout[0];
		/* a --stdio instance keeps its own files under STATE_DIR/stdio/PID/ */
		snprintf(r->sock, sizeof r->sock, "%s/state/stdio/%d/control.sock", r->dir, (int)r->pid);
		snprintf(r->audit, sizeof r->audit, "%s/state/stdio/%d/audit.log", r->dir, (int)r->pid);
	}
	for (int i = 0; i < 300; i++) {
		json_t *rep = NULL;
		if (al_control_call(r->sock, AL_CONTROL_STATUS, 0, &rep) == 0) {
			json_decref(rep);
			return;
		}
		int st;
		if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
			char cmd[256];
			snprintf(cmd, sizeof cmd, "cat %s/run.log", r->dir);
			(void)!system(cmd);
			fail_msg("airlock run exited during start");
		}
		nap_ms(50);
	}
	fail_msg("airlock run did not become ready");
}

static void run_start(struct run *r, const char *mode)
{
	run_start_with(r, mode, NULL, false, NULL);
}

/* Stops a supervisor: asked first, killed after 10 s. */
static void stop_supervisor(pid_t pid, const char *sock)
{
	json_t *rep = NULL;
	if (al_control_call(sock, AL_CONTROL_STOP, 0, &rep) == 0)
		json_decref(rep);
	int st = 0;
	for (int i = 0; i < 200 && waitpid(pid, &st, WNOHANG) == 0; i++)
		nap_ms(50);
	if (kill(pid, 0) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
}

/* Every test's teardown: whatever a failed test left running is stopped. */
static int stop_leftovers(void **state)
{
	for (size_t i = 0; i < sizeof live / sizeof *live; i++)
		if (live[i].pid) {
			printf("# stopping the supervisor the failed test left (pid %d)\n", (int)live[i].pid);
			stop_supervisor(live[i].pid, live[i].sock);
			t_rmtree(live[i].dir);
			live[i].pid = 0;
		}
	return 0;
}

static void run_stop(struct run *r)
{
	live_remove(r->pid);
	if (r->in >= 0)
		close(r->in);
	if (r->out >= 0)
		close(r->out);
	stop_supervisor(r->pid, r->sock);
	/* A clean stop leaves an audit log that verifies. */
	char key[160], state[160];
	snprintf(key, sizeof key, "%s.key", r->audit);
	snprintf(state, sizeof state, "%s.state", r->audit);
	struct al_audit_result res;
	assert_int_equal(al_audit_verify_file(r->audit, key, state, &res), 0);
	assert_true(res.sealed);
	t_rmtree(r->dir);
}

static json_t *call(struct run *r, enum al_control_op op)
{
	json_t *rep = NULL;
	assert_int_equal(al_control_call(r->sock, op, 0, &rep), 0);
	return rep;
}

static const char *level_now(struct run *r, char *buf, size_t len)
{
	json_t *l = call(r, AL_CONTROL_LEVEL_GET);
	snprintf(buf, len, "%s", json_string_value(json_object_get(l, "level")) ?: "?");
	json_decref(l);
	return buf;
}

/* Waits (bounded) until pred holds; the bound is generous, never asserted as a time. */
static bool wait_for(struct run *r, bool (*pred)(struct run *, const void *), const void *arg, int seconds)
{
	for (int i = 0; i < seconds * 10; i++) {
		if (pred(r, arg))
			return true;
		nap_ms(100);
	}
	return false;
}

static bool level_is(struct run *r, const void *name)
{
	char buf[32];
	return strcmp(level_now(r, buf, sizeof buf), name) == 0;
}

/* Every audit record whose event is EVENT and whose text holds each of the needles. */
static int audit_count(struct run *r, const char *event, ...)
{
	FILE *f = fopen(r->audit, "r");
	if (!f)
		return 0;
	char line[AL_AUDIT_MAX_LINE + 2], ev[96];
	snprintf(ev, sizeof ev, "\"event\":\"%s\"", event);
	int n = 0;
	while (fgets(line, sizeof line, f)) {
		if (!strstr(line, ev))
			continue;
		va_list ap;
		va_start(ap, event);
		bool all = true;
		for (const char *needle; (needle = va_arg(ap, const char *));)
			if (!strstr(line, needle))
				all = false;
		va_end(ap);
		n += all;
	}
	fclose(f);
	return n;
}

static bool has_incident(struct run *r, const void *type)
{
	return audit_count(r, "incident", (const char *)type, NULL) > 0;
}

static bool has_violation_record(struct run *r, const void *unused)
{
	return audit_count(r, "seccomp-violation", NULL) > 0;
}

static bool has_respawn(struct run *r, const void *unused)
{
	return audit_count(r, "respawn", NULL) > 0;
}

/* The first document the alert hook kept, or NULL. */
static json_t *load_alert(struct run *r)
{
	char cmd[160], path[160] = "";
	snprintf(cmd, sizeof cmd, "ls %s/alert.*.json 2>/dev/null | head -1", r->dir);
	FILE *p = popen(cmd, "r");
	if (!p)
		return NULL;
	if (!fgets(path, sizeof path, p))
		path[0] = '\0';
	pclose(p);
	path[strcspn(path, "\n")] = '\0';
	return path[0] ? json_load_file(path, 0, NULL) : NULL;
}

static json_t *domain(json_t *status, const char *name)
{
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(status, "domains"), i, d)
		if (strcmp(json_string_value(json_object_get(d, "name")), name) == 0)
			return d;
	return NULL;
}

static bool ai_running_again(struct run *r, const void *unused)
{
	json_t *st = call(r, AL_CONTROL_STATUS);
	json_t *ai = domain(st, "ai");
	bool ok = ai && strcmp(json_string_value(json_object_get(ai, "state")), "running") == 0 &&
		  json_integer_value(json_object_get(ai, "restarts")) >= 1;
	json_decref(st);
	return ok;
}

/*
 * A forbidden system call in the AI domain: it is frozen at once, the
 * incident is audited with its evidence, the domain restarts clean, the level
 * goes up (respawning on the kill filter) and comes back after the quiet period.
 */
static void test_forbidden_syscall(void **state)
{
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip(); /* the test program recognises the raised level by being pinned to one CPU of several */
	struct run r;
	run_start(&r, "syscall");
	assert_true(wait_for(&r, has_incident, "\"type\":\"privilege-escalation\"", 30));
	assert_int_equal(audit_count(&r, "incident", "\"rule\":\"seccomp-violation\"", "\"syscall\":\"socket\"",
				     "\"result\":\"frozen\"", "\"restart\"", NULL), 1);
	/* recorded right after the response */
	assert_true(wait_for(&r, has_violation_record, NULL, 10));
	assert_int_equal(audit_count(&r, "seccomp-violation", "\"domain\":\"ai\"", NULL), 1);
	assert_true(audit_count(&r, "level-change", "\"to\":\"high\"", "\"from\":\"standard\"", NULL) >= 1);
	assert_true(wait_for(&r, ai_running_again, NULL, 30));
	/* The clean restart happened on the raised level's spec. */
	assert_true(audit_count(&r, "restart", "\"result\":\"ok\"", NULL) >= 1);
	/* Quiet: back to the base level. */
	assert_true(wait_for(&r, level_is, "standard", 30));
	assert_true(audit_count(&r, "level-change", "\"to\":\"standard\"", "\"why\":\"quiet period\"", NULL) >= 1);
	assert_int_equal(audit_count(&r, "incident", NULL), 1);
	/* The alert hook got the incident as JSON on its stdin. */
	json_t *alert = NULL;
	for (int i = 0; i < 100 && !(alert = load_alert(&r)); i++)
		nap_ms(50);
	assert_non_null(alert);
	assert_string_equal(json_string_value(json_object_get(alert, "type")), "privilege-escalation");
	assert_string_equal(json_string_value(json_object_get(json_object_get(alert, "evidence"), "syscall")), "socket");
	json_decref(alert);
	run_stop(&r);
}

static json_t *domain(json_t *status, const char *name);

/* Locked down and settled: the AI domain ended, the protocol domain back alone
 * (the lockdown ends both, then starts the protocol domain again). */
static bool locked(struct run *r, const void *unused)
{
	json_t *l = call(r, AL_CONTROL_LEVEL_GET);
	bool v = json_is_true(json_object_get(l, "locked"));
	json_decref(l);
	if (!v)
		return false;
	json_t *st = call(r, AL_CONTROL_STATUS);
	const char *ai = json_string_value(json_object_get(domain(st, "ai"), "state"));
	const char *proto = json_string_value(json_object_get(domain(st, "proto"), "state"));
	v = ai && proto && strcmp(ai, "locked down (airlock unlock)") == 0 && strcmp(proto, "running") == 0;
	json_decref(st);
	return v;
}

static void patch_byte(const char *path, off_t off, unsigned char *old, unsigned char val)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	if (old)
		assert_int_equal(pread(fd, old, 1, off), 1);
	assert_int_equal(pwrite(fd, &val, 1, off), 1);
	close(fd);
}

/*
 * The model changed on disk while running: lockdown (AI domain stopped,
 * level up); unlock is refused while the file is wrong, accepted once it is
 * restored, and the AI domain runs again from the re-verified file.
 */
static void test_model_tampered(void **state)
{
	struct run r;
	run_start(&r, "idle");
	unsigned char orig;
	patch_byte(r.model, 4096, &orig, (unsigned char)(orig ^ 0x5a));
	assert_true(wait_for(&r, locked, NULL, 30));
	assert_int_equal(audit_count(&r, "incident", "\"type\":\"integrity-violation\"", "model.bin", NULL), 1);
	assert_int_equal(audit_count(&r, "lockdown", NULL), 1);
	json_t *st = call(&r, AL_CONTROL_STATUS);
	assert_string_equal(json_string_value(json_object_get(domain(st, "ai"), "state")),
			    "locked down (airlock unlock)");
	assert_int_equal(json_integer_value(json_object_get(domain(st, "ai"), "pid")), 0);
	assert_string_equal(json_string_value(json_object_get(domain(st, "proto"), "state")), "running");
	json_decref(st);
	char buf[32];
	assert_string_equal(level_now(&r, buf, sizeof buf), "maximum");

	json_t *u = call(&r, AL_CONTROL_UNLOCK);
	assert_false(json_is_true(json_object_get(u, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(u, "reason")), "ai.model"));
	json_decref(u);
	assert_true(locked(&r, NULL));
	assert_int_equal(audit_count(&r, "unlock-refused", "ai.model", NULL), 1);

	patch_byte(r.model, 4096, NULL, orig);
	u = call(&r, AL_CONTROL_UNLOCK);
	assert_true(json_is_true(json_object_get(u, "ok")));
	json_decref(u);
	assert_false(locked(&r, NULL));
	st = call(&r, AL_CONTROL_STATUS);
	assert_string_equal(json_string_value(json_object_get(domain(st, "ai"), "state")), "running");
	json_decref(st);
	assert_int_equal(audit_count(&r, "unlock", NULL), 1);
	run_stop(&r);
}

/*
 * The AI domain's seccomp profile edited on disk while running: the profile
 * is a file of the manifest, re-hashed like the others, so the change is an
 * integrity incident (lockdown), and the running domains keep the bytes that
 * were verified at start.
 */
static void test_profile_tampered(void **state)
{
	struct run r;
	char prof[128], extra[200], cmd[400];
	snprintf(prof, sizeof prof, "/tmp/al-guard-profile.%d.conf", (int)getpid());
	copy_file(AL_SOURCE_ROOT "/etc/profiles/compute.conf", prof);
	snprintf(extra, sizeof extra, "profile = %s\n", prof);
	run_start_with(&r, "idle", NULL, false, extra);
	/* the manifest covers it */
	char mf[160];
	snprintf(mf, sizeof mf, "%s/state/manifest.json", r.dir);
	snprintf(cmd, sizeof cmd, "grep -q '\"ai.profile\"' '%s'", mf);
	assert_int_equal(system(cmd), 0);
	/* a widened allowlist, written in place */
	snprintf(cmd, sizeof cmd, "printf 'allow = socket connect\\n' >> '%s'", prof);
	assert_int_equal(system(cmd), 0);
	assert_true(wait_for(&r, locked, NULL, 30));
	assert_int_equal(audit_count(&r, "incident", "\"type\":\"integrity-violation\"", "\"file\":\"ai.profile\"",
				     NULL), 1);
	run_stop(&r);
	unlink(prof);
}

/*
 * The AI domain's executable replaced on disk (a running executable cannot be
 * written in place): lockdown; unlock verifies the new file's content, which
 * here is the same, and accepts.
 */
static void test_exe_replaced(void **state)
{
	struct run r;
	run_start(&r, "idle");
	char cmd[600];
	snprintf(cmd, sizeof cmd, "cp '%s' '%s.new' && mv '%s.new' '%s'", r.exe, r.exe, r.exe, r.exe);
	assert_int_equal(system(cmd), 0);
	assert_true(wait_for(&r, locked, NULL, 30));
	assert_int_equal(audit_count(&r, "incident", "\"type\":\"integrity-violation\"", "\"file\":\"ai.exe\"",
				     "replaced on disk", NULL), 1);
	json_t *u = call(&r, AL_CONTROL_UNLOCK);
	assert_true(json_is_true(json_object_get(u, "ok")));
	json_decref(u);
	json_t *st = call(&r, AL_CONTROL_STATUS);
	assert_string_equal(json_string_value(json_object_get(domain(st, "ai"), "state")), "running");
	json_decref(st);
	run_stop(&r);
}

/* Operator control of the level: set, the stricter filter respawns the domains, shown back. */
static void test_level_set(void **state)
{
	struct run r;
	run_start(&r, "idle");
	char buf[32];
	assert_string_equal(level_now(&r, buf, sizeof buf), "standard");
	json_t *rep = NULL;
	assert_int_equal(al_control_call(r.sock, AL_CONTROL_LEVEL_SET, 2 /* high */, &rep), 0);
	assert_true(json_is_true(json_object_get(rep, "ok")));
	assert_string_equal(json_string_value(json_object_get(rep, "base")), "high");
	json_decref(rep);
	assert_int_equal(audit_count(&r, "respawn", "\"level\":\"high\"", "\"result\":\"ok\"", NULL), 1);
	assert_int_equal(al_control_call(r.sock, AL_CONTROL_LEVEL_SET, 7, &rep), 0);
	assert_false(json_is_true(json_object_get(rep, "ok")));
	json_decref(rep);
	/* Looser: no respawn needed. */
	assert_int_equal(al_control_call(r.sock, AL_CONTROL_LEVEL_SET, 1, &rep), 0);
	json_decref(rep);
	assert_int_equal(audit_count(&r, "respawn", NULL), 1);
	assert_string_equal(level_now(&r, buf, sizeof buf), "standard");
	run_stop(&r);
}

/*
 * A timing loop in the AI domain after a quiet start: side channel. The
 * domains are respawned tightened (pinned apart, speculation mitigations
 * forced) and the level goes up.
 */
static void test_side_channel(void **state)
{
	struct run r;
	run_start(&r, "spin");
	assert_true(wait_for(&r, has_incident, "\"type\":\"side-channel\"", 60));
	assert_true(wait_for(&r, has_respawn, NULL, 30)); /* stopping the domains takes a moment */
	/* cpu-sustained, or on a busy machine fault-storm first: both mean a timing loop here */
	assert_true(audit_count(&r, "incident", "\"type\":\"side-channel\"", "\"tighten\"", NULL) >= 1);
	assert_true(audit_count(&r, "level-change", "\"to\":\"high\"", "\"tighten\":true", "\"respawn\":true", NULL) >= 1);
	assert_int_equal(audit_count(&r, "respawn", "\"result\":\"ok\"", NULL), 1);
	/* The tightening ends with the threat: back at the base level after the quiet period. */
	assert_true(wait_for(&r, level_is, "standard", 30));
	assert_true(audit_count(&r, "level-change", "\"to\":\"standard\"", "\"tighten\":false", NULL) >= 1);
	run_stop(&r);
}

/* Memory growing without bound: frozen, dumped for forensics, restarted clean. */
static void test_memory_corruption(void **state)
{
	struct run r;
	run_start(&r, "leak");
	assert_true(wait_for(&r, has_incident, "\"type\":\"memory-corruption\"", 60));
	assert_int_equal(audit_count(&r, "incident", "\"rule\":\"memory-growth\"", "\"result\":\"frozen\"",
				     "\"dump\":", NULL), 1);
	/* The dump holds the domain's maps and status. */
	char cmd[512];
	snprintf(cmd, sizeof cmd, "test -s \"$(ls -d %s/state/dumps/ai-* | head -1)\"/incident.json && "
		 "ls %s/state/dumps/ai-*/*.maps >/dev/null && ls %s/state/dumps/ai-*/*.status >/dev/null",
		 r.dir, r.dir, r.dir);
	assert_int_equal(system(cmd), 0);
	assert_true(wait_for(&r, ai_running_again, NULL, 30));
	run_stop(&r);
}

/*
 * A corrupted AI domain breaks the channel: the protocol domain refuses it
 * and reports it on its report pipe; the incident is the AI domain's, and
 * the audit record says who reported it.
 */
static void test_channel_violation(void **state)
{
	struct run r;
	run_start(&r, "scribble");
	assert_true(wait_for(&r, has_incident, "\"rule\":\"channel-violation\"", 30));
	assert_true(audit_count(&r, "report", "\"reported_by\":\"proto\"", "\"about\":\"ai\"",
				"\"kind\":\"peer-violation\"", NULL) >= 1);
	/* frozen and dumped before the protocol domain's exit ends the pair */
	assert_true(audit_count(&r, "incident", "\"type\":\"memory-corruption\"", "\"domain\":\"ai\"",
				"\"rule\":\"channel-violation\"", "\"reported_by\":\"proto\"",
				"\"result\":\"frozen\"", "\"dump\":\"", NULL) >= 1);
	/* the protocol domain's exit is its own report's consequence, never an incident of its own */
	assert_int_equal(audit_count(&r, "incident", "\"domain\":\"proto\"", NULL), 0);
	run_stop(&r);
}

/* Whether the supervisor's own log (its stderr) holds needle. */
static bool log_has(struct run *r, const void *needle)
{
	FILE *f = fopen(r->log, "r");
	if (!f)
		return false;
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, (const char *)needle) != NULL;
}

/* Reads what the client's stdout receives for up to ms, into buf. */
static size_t read_for(int fd, char *buf, size_t len, int ms)
{
	size_t n = 0;
	for (int waited = 0; waited < ms && n < len - 1; waited += 100) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) == 1) {
			ssize_t k = read(fd, buf + n, len - 1 - n);
			if (k <= 0)
				break;
			n += (size_t)k;
		}
	}
	buf[n] = '\0';
	return n;
}

/*
 * A compromised AI domain under --stdio: it writes a forged JSON-RPC response
 * to its fd 1 and a forged supervisor line to its fd 2, and reads fd 0. The
 * client sees only the protocol domain's answers; the forged text lands in
 * the supervisor's log, prefixed and escaped; fd 0 is not there; the fd
 * table is exactly the contract's.
 */
static void test_hostile_stdio(void **state)
{
	struct run r;
	run_start_with(&r, "hostile", "idle\n", true, NULL);
	/* It reached each of its attacks (announced before each). */
	assert_true(wait_for(&r, log_has, "airlock: ai: hostile: fds", 20));
	assert_true(log_has(&r, "airlock: ai: hostile: reached stdio attack"));
	assert_true(log_has(&r, "airlock: ai: hostile: wrote fd 1: "));
	assert_true(log_has(&r, "airlock: ai: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"forged\":true}}"));
	assert_true(log_has(&r, "airlock: ai: hostile: read fd 0: -1 errno 9\n"));
	assert_true(log_has(&r, "airlock: ai: hostile: fds 1 2 3 4 5 6\n"));
	/* The forged supervisor line arrives escaped, as the AI domain's. */
	assert_true(log_has(&r, "airlock: ai: \\x0dairlock: ready on http://forged.invalid/mcp \\x1b[2J\n"));
	assert_false(log_has(&r, "\nairlock: ready on http://forged"));
	assert_false(log_has(&r, "\033"));
	static const char req[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
		"\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n"
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}\n";
	assert_int_equal(write(r.in, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
	static char out[1 << 16];
	read_for(r.out, out, sizeof out, 3000);
	/* Exactly the protocol domain's two answers, one per line. */
	assert_non_null(strstr(out, "\"id\":1,\"result\""));
	assert_non_null(strstr(out, "\"tools\""));
	assert_null(strstr(out, "forged"));
	int lines = 0;
	for (char *p = out; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, 2);
	run_stop(&r);
}

static bool ai_exited(struct run *r, const void *unused)
{
	return audit_count(r, "exit", "\"domain\":\"ai\"", NULL) > 0;
}

/*
 * A compromised AI domain exits with codes of its choice, among them the
 * protocol worker's own codes, and kills itself with signals. Each is
 * evidence about the AI domain only: no incident, report or record holds
 * the protocol domain responsible.
 */
static void test_hostile_exits(void **state)
{
	static const char *const orders[] = {
		"exit 0\n", "exit 1\n", "exit 2\n", "exit 3\n", "exit 4\n", "exit 5\n", "exit 6\n",
		"exit 127\n", "exit 139\n", "exit 159\n", "exit 255\n", "signal 6\n", "signal 9\n",
		"signal 11\n", "signal 15\n", "signal 31\n",
	};
	for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++) {
		struct run r;
		run_start_with(&r, "hostile", orders[i], false, NULL);
		/* It reached its exit (announced just before it). */
		assert_true(wait_for(&r, log_has, "airlock: ai: hostile: ", 20));
		assert_true(wait_for(&r, ai_exited, NULL, 20));
		nap_ms(300); /* the response to the exit, if any, is written */
		if (audit_count(&r, "incident", "\"domain\":\"proto\"", NULL) != 0 ||
		    audit_count(&r, "report", NULL) != 0 || audit_count(&r, "exit", "\"domain\":\"proto\"",
									"\"expected\":false", NULL) != 0)
			fail_msg("AI domain order '%.*s' was held against the protocol domain", (int)strlen(orders[i]) - 1,
				 orders[i]);
		run_stop(&r);
	}
}

/*
 * A second airlock run on the same state directory refuses before it writes
 * a byte: the running instance's audit log is untouched and still verifies.
 */
static void test_second_instance(void **state)
{
	struct run r;
	run_start(&r, "idle");
	struct stat before, after;
	assert_int_equal(stat(r.audit, &before), 0);
	char cmd[512], second[160], expect[96];
	snprintf(second, sizeof second, "%s/second.log", r.dir);
	snprintf(cmd, sizeof cmd, "'%s' run --config '%s' >'%s' 2>&1", getenv("AL_AIRLOCK"), r.conf, second);
	int st = system(cmd);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	snprintf(expect, sizeof expect, "already running (pid %d)", (int)r.pid);
	char text[1024] = "";
	FILE *f = fopen(second, "r");
	assert_non_null(f);
	text[fread(text, 1, sizeof text - 1, f)] = '\0';
	fclose(f);
	if (!strstr(text, expect))
		fail_msg("second instance said: %s", text);
	assert_int_equal(stat(r.audit, &after), 0);
	assert_int_equal(before.st_size, after.st_size);
	assert_true(before.st_mtim.tv_sec == after.st_mtim.tv_sec && before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
	/* the first still answers on its control socket */
	json_decref(call(&r, AL_CONTROL_STATUS));
	run_stop(&r);
}

/* A request flood at the protocol domain: protocol abuse, audit verbosity up. */
static void test_protocol_abuse(void **state)
{
	struct run r;
	run_start(&r, "idle");
	nap_ms(12000); /* the detector's warm-up on a quiet domain */
	char cmd[256];
	snprintf(cmd, sizeof cmd, "python3 %s/tests/detect/flood.py 127.0.0.1 %d 10 6 2>/dev/null", AL_SOURCE_ROOT, r.port);
	assert_int_equal(system(cmd), 0);
	assert_true(wait_for(&r, has_incident, "\"type\":\"protocol-abuse\"", 20));
	assert_true(audit_count(&r, "incident", "\"domain\":\"proto\"", "\"audit_verbosity\":2", NULL) >= 1);
	json_t *l = call(&r, AL_CONTROL_LEVEL_GET);
	assert_true(json_integer_value(json_object_get(l, "audit_verbosity")) >= 2);
	json_decref(l);
	run_stop(&r);
}


/* ---- scheduling ------------------------------------------------------------- */

static json_t *sched_of(json_t *status, const char *name)
{
	return json_object_get(domain(status, name), "sched");
}

static bool io_threads_set(struct run *r, const void *want)
{
	json_t *st = call(r, AL_CONTROL_STATUS);
	json_t *io = json_object_get(sched_of(st, "proto"), "io_threads");
	bool ok = io && json_integer_value(json_object_get(io, "set")) >= *(const int *)want;
	json_decref(st);
	return ok;
}

/* The real-time budget the protocol domain was given, or NULL (then printed why not). */
static const char *rt_budget(struct run *r, char *buf, size_t len)
{
	json_t *st = call(r, AL_CONTROL_STATUS);
	snprintf(buf, len, "%s", json_string_value(json_object_get(sched_of(st, "proto"), "rt_budget")) ?: "(none)");
	json_decref(st);
	if (strncmp(buf, "not given", 9) == 0) {
		printf("# skipped: the protocol domain got no real-time budget here: %s\n", buf);
		return NULL;
	}
	return buf;
}

static const char *attested(json_t *dom, const char *item)
{
	size_t i;
	json_t *it;
	json_array_foreach(json_object_get(json_object_get(dom, "attested"), "items"), i, it)
		if (strcmp(json_string_value(json_object_get(it, "item")), item) == 0)
			return json_string_value(json_object_get(it, "actual"));
	return NULL;
}

/* A supervisor whose protocol domain is real-time, once its two I/O threads
 * are; skips (the supervisor stopped) where no real-time budget is given. */
static void run_start_realtime(struct run *r, char *budget, size_t len)
{
	run_start_with(r, "idle", NULL, false, "[domain.proto]\nsched = realtime\n");
	if (!rt_budget(r, budget, len)) {
		run_stop(r);
		skip();
	}
	int two = 2;
	assert_true(wait_for(r, io_threads_set, &two, 15));
}

/* The adaptive class's state as status reads it back: how many I/O threads
 * are real-time and whether the supervisor holds them calm. */
struct adaptive_want {
	int set;
	bool calm;
};

static bool adaptive_is(struct run *r, const void *arg)
{
	const struct adaptive_want *w = arg;
	json_t *st = call(r, AL_CONTROL_STATUS), *sc = sched_of(st, "proto");
	json_t *io = json_object_get(sc, "io_threads");
	bool ok = io && json_integer_value(json_object_get(io, "set")) == w->set &&
		  json_is_true(json_object_get(io, "calm")) == w->calm &&
		  json_is_true(json_object_get(json_object_get(sc, "pressure"), "contended")) == !w->calm;
	json_decref(st);
	return ok;
}

/* CPU-bound children that make tasks wait for a CPU: one more than there are CPUs. */
static pid_t burners[64];

static void burn_start(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN) + 1;
	for (long i = 0; i < n && i < (long)(sizeof burners / sizeof *burners); i++) {
		burners[i] = fork();
		assert_true(burners[i] >= 0);
		if (burners[i] == 0)
			for (;;)
				__asm__ volatile("" ::: "memory");
	}
}

static void burn_stop(void)
{
	for (size_t i = 0; i < sizeof burners / sizeof *burners; i++)
		if (burners[i] > 0) {
			kill(burners[i], SIGKILL);
			waitpid(burners[i], NULL, 0);
			burners[i] = 0;
		}
}

static int stop_burners(void **state)
{
	burn_stop();
	return stop_leftovers(state);
}

/*
 * The adaptive class (standard's for the protocol domain): its I/O threads
 * stay in the default class while no task waits for a CPU, become SCHED_RR 1
 * within a few looks (every 100 ms) once CPU-bound processes make tasks wait,
 * and return when those end. Where the kernel keeps no CPU pressure they are
 * real-time throughout, and status says why.
 */
static void test_sched_adaptive(void **state)
{
	struct run r;
	char budget[256];
	uint64_t total;
	int psi = al_psi_cpu_read(&total);
	run_start_with(&r, "idle", NULL, false, "[domain.proto]\nsched = adaptive\n");
	if (!rt_budget(&r, budget, sizeof budget)) {
		run_stop(&r);
		skip();
	}
	json_t *st = call(&r, AL_CONTROL_STATUS), *sc = sched_of(st, "proto");
	assert_string_equal(json_string_value(json_object_get(sc, "class")), "adaptive");
	assert_true(json_is_true(json_object_get(sc, "follow_client")));
	json_decref(st);
	if (psi < 0) {
		printf("# skipped the switching: this kernel keeps no CPU pressure (%s); real-time throughout\n",
		       strerror(-psi));
		int two = 2;
		assert_true(wait_for(&r, io_threads_set, &two, 15));
		st = call(&r, AL_CONTROL_STATUS);
		assert_true(json_is_string(json_object_get(json_object_get(sched_of(st, "proto"), "pressure"), "error")));
		json_decref(st);
		run_stop(&r);
		return;
	}
	const struct adaptive_want calm = { 0, true }, contended = { 2, false };
	bool was_calm = wait_for(&r, adaptive_is, &calm, 10);
	if (!was_calm)
		printf("# the CPUs were never calm for a second here: only the turn to real-time is checked\n");
	burn_start();
	assert_true(wait_for(&r, adaptive_is, &contended, 5));
	st = call(&r, AL_CONTROL_STATUS);
	sc = sched_of(st, "proto");
	size_t i, io = 0;
	json_t *t;
	json_array_foreach(json_object_get(sc, "threads"), i, t)
		if (strcmp(json_string_value(json_object_get(t, "name")), "MHD-worker") == 0) {
			assert_string_equal(json_string_value(json_object_get(t, "policy")), "SCHED_RR");
			io++;
		}
	assert_int_equal(io, 2);
	json_t *pr = json_object_get(sc, "pressure");
	printf("# contended: %.0f %% of the last 100 ms with a task waiting, %lld switches\n",
	       json_number_value(json_object_get(pr, "pct")),
	       (long long)json_integer_value(json_object_get(pr, "switches")));
	assert_true(json_integer_value(json_object_get(pr, "switches")) >= 1);
	json_decref(st);
	burn_stop();
	if (was_calm) {
		assert_true(wait_for(&r, adaptive_is, &calm, 10));
		st = call(&r, AL_CONTROL_STATUS);
		json_array_foreach(json_object_get(sched_of(st, "proto"), "threads"), i, t)
			assert_string_equal(json_string_value(json_object_get(t, "policy")), "SCHED_OTHER");
		json_decref(st);
	}
	run_stop(&r);
}

/*
 * The real-time class on the protocol domain: the supervisor gives its two
 * I/O threads SCHED_RR 1 from outside once they exist, every other thread
 * stays SCHED_OTHER at the kernel's slice; status reads each thread back with
 * the cgroup's budget and RLIMIT_RTTIME, which the attestation checked
 * before the domain ran.
 */
static void test_sched_realtime(void **state)
{
	struct run r;
	char budget[256];
	run_start_realtime(&r, budget, sizeof budget);
	json_t *st = call(&r, AL_CONTROL_STATUS), *sc = sched_of(st, "proto"), *t;
	assert_string_equal(json_string_value(json_object_get(sc, "class")), "realtime");
	/* at standard the domain keeps the supervisor's CPUs: every thread reads them back */
	cpu_set_t own;
	char own_list[64];
	assert_int_equal(sched_getaffinity(0, sizeof own, &own), 0);
	al_cpu_format_list(&own, own_list, sizeof own_list);
	size_t i, io = 0, other = 0;
	uint32_t own_slice;
	bool slices = al_sched_slice_read(0, &own_slice) == 0;
	json_array_foreach(json_object_get(sc, "threads"), i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));
		const char *pol = json_string_value(json_object_get(t, "policy"));
		assert_string_equal(json_string_value(json_object_get(t, "cpus")), own_list);
		if (strcmp(name, "MHD-worker") == 0) {
			assert_string_equal(pol, "SCHED_RR");
			assert_int_equal(json_integer_value(json_object_get(t, "priority")), 1);
			assert_true(json_is_null(json_object_get(t, "slice_us"))); /* real-time: none */
			io++;
		} else {
			assert_string_equal(pol, "SCHED_OTHER");
			/* the rest as the supervisor's children are: the kernel's slice */
			if (slices)
				assert_int_equal(json_integer_value(json_object_get(t, "slice_us")), own_slice);
			other++;
		}
	}
	assert_int_equal(io, 2);
	assert_true(other >= 1);
	assert_true(json_is_true(json_object_get(sc, "follow_client"))); /* unpinned: they follow */
	assert_string_equal(json_string_value(json_object_get(sc, "rlimit_rttime_us")), "500000");
	assert_string_equal(attested(domain(st, "proto"), "limit.rttime"), "500000");
	printf("# real-time budget: %s\n", budget);
	if (strncmp(budget, "absent", 6) != 0)
		assert_string_equal(budget, "40000 us of every 100000 us per CPU, for the I/O threads alone");
	/* the AI domain has no real-time thread */
	json_array_foreach(json_object_get(sched_of(st, "ai"), "threads"), i, t)
		assert_string_not_equal(json_string_value(json_object_get(t, "policy")), "SCHED_RR");
	json_decref(st);
	assert_true(audit_count(&r, "sched", "\"domain\":\"proto\"", NULL) >= 1);
	run_stop(&r);
}

/*
 * The latency class, configured: every thread of the protocol domain reads
 * back at nice -5 (0 where this runner may not raise a priority, and the
 * attestation says so) with a 100 us slice (where the kernel keeps one per
 * task), its cpu cgroup has four times the weight, none of its
 * threads is real-time, and none follows its client: that is the real-time
 * class's alone.
 */
static void test_sched_latency(void **state)
{
	struct run r;
	run_start_with(&r, "idle", NULL, false, "[domain.proto]\nsched = latency\n");
	json_t *st = call(&r, AL_CONTROL_STATUS), *sc = sched_of(st, "proto"), *t;
	assert_string_equal(json_string_value(json_object_get(sc, "class")), "latency");
	const char *nice = attested(domain(st, "proto"), "sched.nice");
	assert_non_null(nice);
	bool raised = strcmp(nice, "-5") == 0;
	if (!raised)
		printf("# this runner may not raise a priority: the protocol domain runs at %s\n", nice);
	/* the slice, where this kernel keeps one per task (6.12 and later) */
	uint32_t own;
	bool slices = al_sched_slice_read(0, &own) == 0;
	const char *slice = attested(domain(st, "proto"), "sched.slice");
	assert_non_null(slice);
	if (slices)
		assert_string_equal(slice, "100 us");
	else
		printf("# skipped: the slice: %s\n", slice);
	size_t i, n = 0;
	json_array_foreach(json_object_get(sc, "threads"), i, t) {
		assert_string_equal(json_string_value(json_object_get(t, "policy")), "SCHED_OTHER");
		assert_int_equal(json_integer_value(json_object_get(t, "nice")), raised ? -5 : 0);
		if (slices)
			assert_int_equal(json_integer_value(json_object_get(t, "slice_us")), 100);
		n++;
	}
	assert_true(n >= 3); /* main, receiver, the I/O threads */
	assert_null(json_object_get(sc, "io_threads"));
	assert_false(json_is_true(json_object_get(sc, "follow_client")));
	const char *weight = attested(domain(st, "proto"), "cgroup.cpu_weight");
	assert_non_null(weight);
	printf("# cpu weight: %s\n", weight);
	assert_true(strcmp(weight, "shares 4096") == 0 || strcmp(weight, "weight 400") == 0 ||
		    strcmp(weight, "unavailable to this runner") == 0);
	/* the AI domain: the level's class, default, nice 0 */
	assert_string_equal(json_string_value(json_object_get(sched_of(st, "ai"), "class")), "default");
	json_array_foreach(json_object_get(sched_of(st, "ai"), "threads"), i, t)
		assert_int_equal(json_integer_value(json_object_get(t, "nice")), 0);
	json_decref(st);
	run_stop(&r);
}

/* A thread's voluntary context switches and the CPU it last ran on; false if gone. */
static bool thread_state(long tid, long *switches, int *cpu)
{
	char path[64], buf[2048];
	snprintf(path, sizeof path, "/proc/%ld/stat", tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	/* after the name: field 3 is the state; the CPU is field 39 */
	for (int field = 2; p && field < 39; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return false;
	*cpu = atoi(p + 1);
	snprintf(path, sizeof path, "/proc/%ld/status", tid);
	if (!(f = fopen(path, "re")))
		return false;
	*switches = -1;
	while (fgets(buf, sizeof buf, f))
		if (!strncmp(buf, "voluntary_ctxt_switches:", 24))
			*switches = atol(buf + 24);
	fclose(f);
	return *switches >= 0;
}

struct pinned_client {
	CURL *c;
	int cpu;
	CURLcode rc;
};

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
	return sz * n;
}

/* A keep-alive tools/list client of port; NULL if curl fails. */
static CURL *list_client(int port, struct curl_slist **hdrs)
{
	CURL *c = curl_easy_init();
	if (!c)
		return NULL;
	char url[64]; /* curl keeps its own copy */
	snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", port);
	struct curl_slist *h = NULL;
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Accept: application/json, text/event-stream");
	h = curl_slist_append(h, "MCP-Protocol-Version: 2026-07-28");
	h = curl_slist_append(h, "Mcp-Method: tools/list");
	*hdrs = h;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS,
			 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
			 "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
			 "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	return c;
}

/* Eight requests on the client's connection, from a thread pinned to cpu. */
static void *pinned_requests(void *arg)
{
	struct pinned_client *pc = arg;
	pc->rc = CURLE_FAILED_INIT;
	if (t_pin_self(pc->cpu) < 0)
		return NULL;
	for (int i = 0; i < 8; i++) {
		long code = 0;
		if ((pc->rc = curl_easy_perform(pc->c)) != CURLE_OK)
			break;
		curl_easy_getinfo(pc->c, CURLINFO_RESPONSE_CODE, &code);
		if (code != 200) {
			pc->rc = CURLE_HTTP_RETURNED_ERROR;
			break;
		}
		usleep(2000);
	}
	return NULL;
}

/*
 * The real-time I/O threads follow their client's CPU: one keep-alive
 * connection, its client pinned to one CPU, then to the other, and so on.
 * After each turn, the I/O thread that answered (the one whose voluntary
 * context switches grew) is found on the client's CPU. The same thread serves
 * the connection throughout; had it not followed, it would stay on the CPU it
 * last ran on and be found on the wrong one every other turn.
 */
static void test_follow_client(void **state)
{
	int cpus[2];
	if (!t_two_cpus(&cpus[0], &cpus[1])) {
		printf("# skipped: one CPU here, nothing to follow\n");
		skip();
	}
	struct run r;
	char budget[256];
	run_start_realtime(&r, budget, sizeof budget);
	json_t *st = call(&r, AL_CONTROL_STATUS), *t;
	json_t *sc = sched_of(st, "proto");
	assert_true(json_is_true(json_object_get(sc, "follow_client")));
	long tids[2];
	size_t i, n = 0;
	json_array_foreach(json_object_get(sc, "threads"), i, t)
		if (n < 2 && !strcmp(json_string_value(json_object_get(t, "name")), "MHD-worker"))
			tids[n++] = (long)json_integer_value(json_object_get(t, "tid"));
	json_decref(st);
	assert_int_equal(n, 2);
	struct curl_slist *hdrs = NULL;
	CURL *c = list_client(r.port, &hdrs);
	assert_non_null(c);
	for (int turn = 0; turn < 6; turn++) {
		struct pinned_client pc = { c, cpus[turn % 2], CURLE_OK };
		long before[2], after[2];
		int cpu[2];
		for (size_t k = 0; k < 2; k++)
			assert_true(thread_state(tids[k], &before[k], &cpu[k]));
		pthread_t th;
		assert_int_equal(pthread_create(&th, NULL, pinned_requests, &pc), 0);
		assert_int_equal(pthread_join(th, NULL), 0);
		assert_int_equal(pc.rc, CURLE_OK);
		int found = -1;
		for (size_t k = 0; k < 2; k++) {
			assert_true(thread_state(tids[k], &after[k], &cpu[k]));
			if (after[k] - before[k] >= 8) /* it answered the eight */
				found = (int)k;
		}
		assert_true(found >= 0);
		printf("# turn %d: client on CPU %d, its I/O thread %ld on CPU %d\n", turn, pc.cpu, tids[found],
		       cpu[found]);
		assert_int_equal(cpu[found], pc.cpu);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	run_stop(&r);
}

/* The CPUs the attestation read back for a domain ("status.Cpus_allowed_list"); false: none. */
static bool domain_cpus(json_t *st, const char *name, cpu_set_t *set)
{
	const char *list = attested(domain(st, name), "status.Cpus_allowed_list");
	return list && al_cpu_parse_list(list, set) == 0;
}

/*
 * HIGH pins the two domains to disjoint CPUs, each split from all the CPUs
 * the supervisor was given, even though the supervisor has already placed
 * itself on the protocol domain's: the attestation reads each domain's CPUs
 * back, and every thread of each runs only there.
 */
static void test_partition_high(void **state)
{
	cpu_set_t own;
	assert_int_equal(sched_getaffinity(0, sizeof own, &own), 0);
	if (CPU_COUNT(&own) < 2) {
		printf("# skipped: %d CPU here, nothing to split\n", CPU_COUNT(&own));
		skip();
	}
	struct run r;
	run_level = "high";
	run_start(&r, "idle");
	run_level = "standard";
	json_t *st = call(&r, AL_CONTROL_STATUS);
	cpu_set_t ai, proto, both;
	assert_true(domain_cpus(st, "ai", &ai));
	assert_true(domain_cpus(st, "proto", &proto));
	CPU_AND(&both, &ai, &proto);
	assert_int_equal(CPU_COUNT(&both), 0);
	static const char *const names[] = { "ai", "proto" };
	for (int d = 0; d < 2; d++) {
		char want[64];
		al_cpu_format_list(d ? &proto : &ai, want, sizeof want);
		size_t i;
		json_t *t;
		json_array_foreach(json_object_get(sched_of(st, names[d]), "threads"), i, t)
			assert_string_equal(json_string_value(json_object_get(t, "cpus")), want);
		printf("# %s domain on CPUs %s\n", names[d], want);
	}
	/* a pinned domain's I/O threads do not move themselves (no sched_setaffinity) */
	assert_false(json_is_true(json_object_get(sched_of(st, "proto"), "follow_client")));
	json_decref(st);
	run_stop(&r);
}

static bool ai_raise_said(struct run *r, const void *unused)
{
	return log_has(r, "raise: setpriority -10: ");
}

/*
 * A domain cannot raise its own priority: at STANDARD the attempt is refused
 * and reported (a seccomp violation, its incident), at MINIMAL refused with
 * EPERM, and the domain's class is what the supervisor gave it.
 */
static void test_raise_refused(void **state)
{
	struct run r;
	run_start(&r, "raise");
	assert_true(wait_for(&r, has_violation_record, NULL, 20));
	assert_int_equal(audit_count(&r, "seccomp-violation", "\"domain\":\"ai\"", "\"syscall\":\"sched_setscheduler\"",
				     NULL), 1);
	assert_true(wait_for(&r, has_incident, "\"type\":\"privilege-escalation\"", 20));
	assert_false(log_has(&r, "raise: sched_setscheduler SCHED_FIFO 50: granted"));
	run_stop(&r);

	run_level = "minimal";
	run_start(&r, "raise");
	run_level = "standard";
	assert_true(wait_for(&r, ai_raise_said, NULL, 20));
	assert_true(log_has(&r, "raise: sched_setscheduler SCHED_FIFO 50: Operation not permitted"));
	assert_true(log_has(&r, "raise: setpriority -10: Operation not permitted"));
	assert_int_equal(audit_count(&r, "seccomp-violation", NULL), 0);
	json_t *st = call(&r, AL_CONTROL_STATUS), *t;
	size_t i;
	json_array_foreach(json_object_get(sched_of(st, "ai"), "threads"), i, t) {
		assert_string_equal(json_string_value(json_object_get(t, "policy")), "SCHED_OTHER");
		assert_int_equal(json_integer_value(json_object_get(t, "nice")), 0);
	}
	json_decref(st);
	run_stop(&r);
}

/*
 * A protocol domain spinning in its I/O threads after the supervisor gave
 * them the real-time class (a compromised domain) cannot starve the
 * supervisor: `airlock status` keeps answering within a second, and
 * RLIMIT_RTTIME ends the spinners (SIGKILL), after which the pair restarts.
 */
static void test_spinning_proto(void **state)
{
	if (sysconf(_SC_NPROCESSORS_ONLN) > 8)
		printf("# %ld CPUs: two spinning threads leave most of them free\n", sysconf(_SC_NPROCESSORS_ONLN));
	char extra[512];
	snprintf(extra, sizeof extra, "[domain.proto]\nsched = realtime\ncommand = %s/misbehave_spinio\n",
		 getenv("AL_MISBEHAVE_DIR"));
	struct run r;
	run_start_with(&r, "idle", NULL, false, extra);
	char budget[256];
	if (!rt_budget(&r, budget, sizeof budget)) {
		run_stop(&r);
		skip();
	}
	double worst = 0;
	int spun = 0;
	for (int i = 0; i < 60; i++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		json_t *st = call(&r, AL_CONTROL_STATUS);
		clock_gettime(CLOCK_MONOTONIC, &b);
		double dt = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		worst = dt > worst ? dt : worst;
		json_t *io = json_object_get(sched_of(st, "proto"), "io_threads");
		spun += json_integer_value(json_object_get(io, "set")) > 0;
		json_decref(st);
		nap_ms(100);
	}
	printf("# budget %s; status answered within %.0f ms at worst; real-time spinners seen in %d of 60 answers\n",
	       budget, worst * 1e3, spun);
	assert_true(worst < 1.0);
	/* the test proves something only if the spinners did run real-time */
	assert_true(audit_count(&r, "sched", "\"domain\":\"proto\"", NULL) >= 1);
	assert_true(audit_count(&r, "exit", "\"domain\":\"proto\"", "\"exit_code\":137", NULL) >= 1);
	run_stop(&r);
}

int main(void)
{
	if (!getenv("AL_AIRLOCK") || !getenv("AL_MISBEHAVE_DIR")) {
		fprintf(stderr, "AL_AIRLOCK and AL_MISBEHAVE_DIR must be set (meson test sets them)\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	/* AL_TEST_FILTER=test_sched*: only those (cmocka's pattern) */
	if (getenv("AL_TEST_FILTER"))
		cmocka_set_test_filter(getenv("AL_TEST_FILTER"));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_level_set, stop_leftovers),
		cmocka_unit_test_teardown(test_forbidden_syscall, stop_leftovers),
		cmocka_unit_test_teardown(test_model_tampered, stop_leftovers),
		cmocka_unit_test_teardown(test_exe_replaced, stop_leftovers),
		cmocka_unit_test_teardown(test_profile_tampered, stop_leftovers),
		cmocka_unit_test_teardown(test_side_channel, stop_leftovers),
		cmocka_unit_test_teardown(test_memory_corruption, stop_leftovers),
		cmocka_unit_test_teardown(test_channel_violation, stop_leftovers),
		cmocka_unit_test_teardown(test_protocol_abuse, stop_leftovers),
		cmocka_unit_test_teardown(test_hostile_stdio, stop_leftovers),
		cmocka_unit_test_teardown(test_hostile_exits, stop_leftovers),
		cmocka_unit_test_teardown(test_second_instance, stop_leftovers),
		cmocka_unit_test_teardown(test_sched_latency, stop_leftovers),
		cmocka_unit_test_teardown(test_sched_realtime, stop_leftovers),
		cmocka_unit_test_teardown(test_sched_adaptive, stop_burners),
		cmocka_unit_test_teardown(test_follow_client, stop_leftovers),
		cmocka_unit_test_teardown(test_partition_high, stop_leftovers),
		cmocka_unit_test_teardown(test_raise_refused, stop_leftovers),
		cmocka_unit_test_teardown(test_spinning_proto, stop_leftovers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
