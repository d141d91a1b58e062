/*
 * `airlock gate` (gate_run.h): build the tool and gate domains, then watch:
 * the gate's decision records become audit records and pins, the tool's
 * refused system calls are answered and audited, both domains' output goes
 * to our log, and when either domain ends the other is stopped.
 */
#include "supervisor/gate_run.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "airlock/worker.h"
#include "audit/audit.h"
#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox.h"
#include "supervisor/domlog.h"
#include "supervisor/gate_egress.h"
#include "supervisor/gate_int.h"
#include "supervisor/gate_tools.h"

static const char *const event_names[AL_GATE_EV_MAX] = {
	[AL_GATE_EV_FORWARDED] = "gate.forwarded", [AL_GATE_EV_REFUSED] = "gate.refused",
	[AL_GATE_EV_DROPPED] = "gate.dropped",     [AL_GATE_EV_REDACTED] = "gate.redacted",
	[AL_GATE_EV_PIN_NEW] = "gate.pin_new",     [AL_GATE_EV_QUARANTINED] = "gate.quarantined",
	[AL_GATE_EV_TOOLS] = "gate.tools",	   [AL_GATE_EV_TIMEOUT] = "gate.timeout",
	[AL_GATE_EV_CANCELLED] = "gate.cancelled",
};
static const char *const reason_names[AL_GATE_WHY_MAX] = {
	[AL_GATE_WHY_NONE] = "",
	[AL_GATE_WHY_MALFORMED] = "malformed",
	[AL_GATE_WHY_OVERSIZED] = "oversized",
	[AL_GATE_WHY_METHOD] = "method not allowed",
	[AL_GATE_WHY_TOOL] = "tool not allowed",
	[AL_GATE_WHY_UNPINNED] = "tool not approved",
	[AL_GATE_WHY_ARGUMENTS] = "arguments invalid",
	[AL_GATE_WHY_QUARANTINE] = "quarantined",
	[AL_GATE_WHY_UNSOLICITED] = "unsolicited response",
	[AL_GATE_WHY_SERVER_REQUEST] = "server request denied",
	[AL_GATE_WHY_FLOOD] = "notification flood",
	[AL_GATE_WHY_OUTPUT] = "output schema",
	[AL_GATE_WHY_BUSY] = "too many in flight",
	[AL_GATE_WHY_RATE] = "rate limit",
	[AL_GATE_WHY_CONSTRAINT] = "argument rule",
	[AL_GATE_WHY_TIMEOUT] = "timeout",
	[AL_GATE_WHY_LATE] = "late response",
	[AL_GATE_WHY_UNKNOWN_ID] = "unknown request id",
};

struct gate_run {
	struct al_gate_state st;   /* first: the state functions take it */
	const struct al_gate_policy *p;
	struct al_audit *audit;
	struct al_domain *tool, *gate;
	struct al_domlog tool_log, gate_log;
	int report_fd;
	unsigned char *rbuf;       /* report bytes not yet a whole record */
	size_t rlen;
	bool gate_lied;            /* a malformed record: the gate is stopped */
	struct al_gate_egress *egress; /* NULL without [egress] (gate_egress.h) */
	struct al_gate_learn *learn;   /* NULL unless learning */
};

static int open_audit(struct gate_run *r)
{
	return al_gate_audit_open(&r->st, &r->audit);
}

/* ---- the two domains ---- */

/*
 * node's WebAssembly bounds checks by trap handler reserve a 10 GiB address
 * space cage per memory, over the RLIMIT_AS that carries the memory limit
 * where no cgroup does: undici (fetch) instantiates one and node dies of
 * "Cannot allocate Wasm memory". Explicit bounds checks need no cage. node
 * before 20.15 does not know the flag and refuses to start with it: a
 * NODE_OPTIONS the policy passes (env = NODE_OPTIONS) replaces it.
 */
#define NODE_WASM "NODE_OPTIONS=--disable-wasm-trap-handler"

/* The tool's environment: a fixed base, the policy's names from ours, its secrets. */
static char **tool_env(const struct al_gate_policy *p, const struct al_gate_egress *eg)
{
	static const char *const base[] = {
		"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "TMPDIR=/tmp", "LANG=C.UTF-8",
		"XDG_CACHE_HOME=/tmp/.cache", "XDG_CONFIG_HOME=/tmp/.config", "XDG_DATA_HOME=/tmp/.local/share",
		"npm_config_cache=/tmp/.npm", "UV_CACHE_DIR=/tmp/.cache/uv", "NO_UPDATE_NOTIFIER=1",
	};
	size_t n = AL_ARRAY_LEN(base) + 1 + p->n_env + p->n_secrets + 8 + 1, k = 0;
	char **env = calloc(n, sizeof *env);
	if (!env)
		return NULL;
	for (size_t i = 0; i < AL_ARRAY_LEN(base); i++)
		env[k++] = strdup(base[i]);
	bool node_opts = false;
	for (size_t i = 0; i < p->n_env; i++) {
		const char *v = getenv(p->env[i]);
		node_opts |= !strcmp(p->env[i], "NODE_OPTIONS");
		if (v && asprintf(&env[k], "%s=%s", p->env[i], v) >= 0)
			k++;
	}
	if (!node_opts)
		env[k++] = strdup(NODE_WASM);
	for (size_t i = 0; i < p->n_secrets; i++) {
		char *val = NULL;
		size_t len = 0;
		if (al_read_file_at(AT_FDCWD, p->secret_file[i], 64 * 1024, &val, &len) < 0 || strlen(val) != len) {
			al_log_warnx("gate: secret %s: cannot read %s (or it holds a NUL byte)", p->secret_name[i],
				     p->secret_file[i]);
			free(val);
			continue;
		}
		while (len && (val[len - 1] == '\n' || val[len - 1] == '\r'))
			val[--len] = '\0';
		if (asprintf(&env[k], "%s=%s", p->secret_name[i], val) >= 0)
			k++;
		sodium_memzero(val, len);
		free(val);
	}
	k += al_gate_egress_env(eg, env + k, 8);
	return env;
}

static void free_env(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

struct pipes {
	int to_tool[2];   /* gate writes [1], the tool reads [0] (its stdin) */
	int from_tool[2]; /* the tool writes [1] (its stdout), the gate reads [0] */
	int report[2];    /* the gate writes [1], we read [0] */
};

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0) {
			close(p[i]);
			p[i] = -1;
		}
}

/* Spawns and attests one domain; the name is for messages. */
static int build(struct al_spec *s, const char *name, struct al_domain **out)
{
	int rc = al_seccomp_prepare(s);
	if (rc == 0 && (rc = al_domain_spawn(s, out)) < 0)
		al_log_warnx("gate: cannot build the %s domain: %s", name, strerror(-rc));
	if (rc < 0)
		return rc;
	const char *failed = NULL;
	if ((rc = al_domain_attest(*out, s, NULL, &failed)) < 0)
		al_log_warnx("gate: the %s domain's attestation failed: %s", name, failed ? failed : "?");
	return rc;
}

static int spawn_tool(struct gate_run *r, char *const *cmd, const struct pipes *pp, char **env)
{
	const struct al_gate_policy *p = r->p;
	struct al_spec s;
	al_spec_init(&s);
	int rc = al_profile_load(&s, p->profile ? p->profile : "runtime");
	for (size_t i = 0; rc == 0 && i < p->n_ro; i++)
		if ((rc = al_spec_add_path(&s, p->ro[i], false)) < 0)
			al_log_warnx("gate: [tool] ro = %s: %s", p->ro[i], strerror(-rc));
	for (size_t i = 0; rc == 0 && i < p->n_rw; i++)
		if ((rc = al_spec_add_path(&s, p->rw[i], true)) < 0)
			al_log_warnx("gate: [tool] rw = %s: %s", p->rw[i], strerror(-rc));
	if (p->memory)
		s.cg_memory = p->memory;
	if (p->pids)
		s.cg_pids = p->pids;
	s.accept_unenforced = p->accept_unenforced;
	s.exec_once = !p->exec;
	/* a refused call is answered EPERM, logged and audited: the server may go on */
	s.seccomp_mode = AL_SECCOMP_NOTIFY;
	char where[PATH_MAX];
	s.exec_fd = rc == 0 ? al_command_open(cmd[0], where, sizeof where) : -1;
	if (rc == 0 && s.exec_fd < 0) {
		rc = -errno;
		al_log_warnx("gate: %s: %s", cmd[0], strerror(-rc));
	}
	s.argv = cmd;
	s.envp = env;
	if (rc == 0 && ((rc = al_spec_add_fd(&s, pp->to_tool[0], 0)) < 0 ||
			(rc = al_spec_add_fd(&s, pp->from_tool[1], 1)) < 0 ||
			(rc = al_spec_add_fd(&s, r->tool_log.wfd, 2)) < 0))
		al_log_warnx("gate: the tool domain's fds: %s", strerror(-rc));
	if (rc == 0 && (rc = al_gate_egress_tool_spec(r->egress, &s)) < 0)
		al_log_warnx("gate: the tool domain's network: %s", strerror(-rc));
	if (rc == 0)
		rc = build(&s, "tool", &r->tool);
	if (rc == 0 && (rc = al_domain_start(r->tool)) < 0)
		al_log_warnx("gate: %s: %s%s", where, strerror(-rc),
			     rc == -ENOENT ? " (its interpreter or libraries are not in the tool domain: "
					     "add them with [tool] ro)" : "");
	if (s.exec_fd >= 0)
		close(s.exec_fd);
	al_spec_free(&s);
	return rc;
}

static int spawn_gate(struct gate_run *r, const struct pipes *pp, const char *worker)
{
	const struct al_gate_policy *p = r->p;
	char line[32], result[32], rate[16];
	snprintf(line, sizeof line, "%llu", (unsigned long long)p->max_line);
	snprintf(result, sizeof result, "%llu", (unsigned long long)p->max_result);
	snprintf(rate, sizeof rate, "%u", p->notify_rate);
	char *argv[32 + 2 * AL_GATE_POLICY_MAX] = { "airlock-gate", "--max-line", line, "--max-result", result,
						      "--notify-rate", rate,
						      "--sampling", p->sampling ? "pass" : "deny",
						      "--elicitation", p->elicitation ? "pass" : "deny",
						      "--roots", p->roots ? "pass" : "deny" };
	size_t n = 13;
	if (p->all_tools)
		argv[n++] = "--all-tools";
	for (size_t i = 0; i < p->n_tools; i++) {
		argv[n++] = "--tool";
		argv[n++] = p->tools[i];
	}
	if (r->st.pin[0]) {
		argv[n++] = "--pin";
		argv[n++] = r->st.pin;
	}
	char *rules = al_gate_tools_encode(p); /* its size was checked with the policy */
	argv[n++] = "--rules";
	argv[n++] = rules;
	struct al_spec s;
	al_spec_init(&s);
	int rc = rules ? al_profile_load(&s, "gate") : -ENOMEM;
	s.accept_unenforced = p->accept_unenforced; /* its CPU share too, for an ordinary user */
	s.exec_fd = rc == 0 ? open(worker, O_RDONLY | O_CLOEXEC) : -1;
	if (rc == 0 && s.exec_fd < 0) {
		rc = -errno;
		al_log_warnx("gate: %s: %s", worker, strerror(-rc));
	}
	s.argv = argv;
	if (rc == 0 && ((rc = al_spec_add_fd(&s, STDIN_FILENO, AL_GATE_FD_CLIENT_IN)) < 0 ||
			(rc = al_spec_add_fd(&s, STDOUT_FILENO, AL_GATE_FD_CLIENT_OUT)) < 0 ||
			(rc = al_spec_add_fd(&s, r->gate_log.wfd, 2)) < 0 ||
			(rc = al_spec_add_fd(&s, pp->to_tool[1], AL_GATE_FD_TOOL_IN)) < 0 ||
			(rc = al_spec_add_fd(&s, pp->from_tool[0], AL_GATE_FD_TOOL_OUT)) < 0 ||
			(rc = al_spec_add_fd(&s, pp->report[1], AL_WORKER_FD_REPORT)) < 0))
		al_log_warnx("gate: the gate domain's fds: %s", strerror(-rc));
	if (rc == 0)
		rc = build(&s, "gate", &r->gate);
	if (rc == 0 && (rc = al_domain_start(r->gate)) < 0)
		al_log_warnx("gate: %s: %s", worker, strerror(-rc));
	if (s.exec_fd >= 0)
		close(s.exec_fd);
	al_spec_free(&s);
	free(rules);
	return rc;
}

/* ---- the gate's records ---- */

static bool text_ok(const char *s, size_t cap)
{
	const char *nul = memchr(s, '\0', cap);
	if (!nul)
		return false;
	for (; s < nul; s++)
		if (*s < 0x20 || *s >= 0x7f)
			return false;
	return true;
}

/* A record is whole and well-formed, or the gate lied. */
static bool record_ok(const struct al_gate_record *g)
{
	return g->magic == AL_GATE_RECORD_MAGIC && g->event > 0 && g->event < AL_GATE_EV_MAX &&
	       g->reason < AL_GATE_WHY_MAX && g->from_client <= 1 && text_ok(g->method, sizeof g->method) &&
	       text_ok(g->name, sizeof g->name) && text_ok(g->arg, sizeof g->arg) && text_ok(g->rule, sizeof g->rule) &&
	       (g->event == AL_GATE_EV_TOOLS ? g->blob_len <= AL_GATE_MAX_BLOB : g->blob_len == 0);
}

static void on_record(struct gate_run *r, const struct al_gate_record *g, const unsigned char *blob)
{
	char h[65];
	al_gate_hex(g->hash, h);
	bool urgent = g->event == AL_GATE_EV_QUARANTINED || g->event == AL_GATE_EV_PIN_NEW;
	al_gate_learn_record(r->learn, g);
	if (g->event != AL_GATE_EV_TOOLS && !g->rule[0])
		al_audit_pack(r->audit, event_names[g->event], urgent, "{s:s, s:s, s:s, s:s, s:s, s:s}", "server",
			      r->p->name, "reason", reason_names[g->reason], "from", g->from_client ? "client" : "server",
			      "method", g->method, "tool", g->name, "hash", h);
	else if (g->event != AL_GATE_EV_TOOLS) /* a per-tool rule: which (and which argument) */
		al_audit_pack(r->audit, event_names[g->event], urgent, "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
			      "server", r->p->name, "reason", reason_names[g->reason], "from",
			      g->from_client ? "client" : "server", "method", g->method, "tool", g->name, "hash", h,
			      "argument", g->arg, "rule", g->rule);
	switch (g->event) {
	case AL_GATE_EV_PIN_NEW:
		if (!r->st.pin[0]) {
			memcpy(r->st.pin, h, sizeof r->st.pin);
			if (al_gate_put(&r->st, "pin", h, 64) == 0)
				al_log_warnx("gate: %s: tools pinned on first use (sha256 %.16s...)", r->p->name, h);
		}
		break;
	case AL_GATE_EV_QUARANTINED:
		memcpy(r->st.pending, h, sizeof r->st.pending);
		al_gate_put(&r->st, "pending.pin", h, 64);
		al_log_warnx("gate: %s: the server's tools changed since they were approved: quarantined "
			     "(review with `airlock gate approve`)", r->p->name);
		break;
	case AL_GATE_EV_TOOLS:
		if (!strcmp(h, r->st.pin)) {
			char path[PATH_MAX];
			if (al_gate_file(&r->st, "tools.json", path, sizeof path) == 0 && access(path, F_OK) < 0)
				al_gate_put(&r->st, "tools.json", blob, g->blob_len);
		} else if (!strcmp(h, r->st.pending))
			al_gate_put(&r->st, "pending.json", blob, g->blob_len);
		break;
	case AL_GATE_EV_REFUSED:
	case AL_GATE_EV_DROPPED:
		al_log_info("gate: %s: %s %s%s%s (%s%s%s%s%s)", r->p->name,
			    g->event == AL_GATE_EV_REFUSED ? "refused" : "dropped",
			    g->from_client ? "from the client" : "from the server", g->name[0] ? ": " : "", g->name,
			    reason_names[g->reason], g->arg[0] ? ": " : "", g->arg, g->rule[0] ? ": " : "", g->rule);
		break;
	case AL_GATE_EV_TIMEOUT:
		al_log_warnx("gate: %s: %s did not answer within its %s: cancelled", r->p->name, g->name, g->rule);
		break;
	default:
		break;
	}
}

size_t al_gate_report_scan(const unsigned char *buf, size_t len, bool *lied,
			   void (*fn)(void *ctx, const struct al_gate_record *r, const unsigned char *blob), void *ctx)
{
	size_t off = 0;
	*lied = false;
	while (len - off >= sizeof(struct al_gate_record)) {
		struct al_gate_record g;
		memcpy(&g, buf + off, sizeof g);
		if (!record_ok(&g)) {
			*lied = true;
			break;
		}
		if (len - off - sizeof g < g.blob_len)
			break; /* the blob is still coming */
		fn(ctx, &g, buf + off + sizeof g);
		off += sizeof g + g.blob_len;
	}
	return off;
}

static void on_record_cb(void *ctx, const struct al_gate_record *g, const unsigned char *blob)
{
	on_record(ctx, g, blob);
}

/* Reads what the gate reported; false when its pipe is closed or it lied. */
static bool drain_reports(struct gate_run *r)
{
	size_t cap = sizeof(struct al_gate_record) + AL_GATE_MAX_BLOB;
	ssize_t n = read(r->report_fd, r->rbuf + r->rlen, cap - r->rlen);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	r->rlen += (size_t)n;
	size_t off = al_gate_report_scan(r->rbuf, r->rlen, &r->gate_lied, on_record_cb, r);
	memmove(r->rbuf, r->rbuf + off, r->rlen - off);
	r->rlen -= off;
	if (r->gate_lied) {
		al_audit_pack(r->audit, "gate.malformed_report", true, "{s:s}", "server", r->p->name);
		al_log_warnx("gate: the gate domain wrote a malformed record: stopping");
		return false;
	}
	return true;
}

static void on_violation(struct gate_run *r)
{
	struct al_violation v;
	int rc = al_domain_notify_handle(r->tool, &v);
	if (rc < 0 && rc != -EINTR && rc != -ENOENT) {
		al_log_warnx("gate: seccomp notification lost (%s): stopping the tool domain", strerror(-rc));
		al_domain_kill(r->tool, SIGKILL);
		return;
	}
	if (rc == 0) {
		al_log_warnx("gate: %s: the server called %s: refused", r->p->name, v.name);
		al_gate_learn_syscall(r->learn, v.name);
		al_audit_pack(r->audit, "gate.seccomp", true, "{s:s, s:s, s:i}", "server", r->p->name, "syscall", v.name,
			      "pid", (int)v.pid);
	}
}

/* ---- the run ---- */

/* Stops a domain: SIGTERM, then SIGKILL after grace_ms. */
static void stop_domain(struct al_domain *d, int grace_ms)
{
	if (!d)
		return;
	struct pollfd pf = { .fd = al_domain_pidfd(d), .events = POLLIN };
	al_domain_kill(d, SIGTERM);
	if (poll(&pf, 1, grace_ms) <= 0)
		al_domain_kill(d, SIGKILL);
	int st;
	al_domain_wait(d, &st);
}

static int watch(struct gate_run *r, int sfd)
{
	bool tool_done = false, gate_done = false, reports = true, tool_out = true, gate_out = true;
	int tool_status = 0;
	while (!gate_done) {
		struct pollfd p[6 + AL_GATE_EGRESS_NPOLL] = {
			{ .fd = al_domain_pidfd(r->gate), .events = POLLIN },
			{ .fd = tool_done ? -1 : al_domain_pidfd(r->tool), .events = POLLIN },
			{ .fd = reports ? r->report_fd : -1, .events = POLLIN },
			{ .fd = tool_out ? r->tool_log.rfd : -1, .events = POLLIN },
			{ .fd = gate_out ? r->gate_log.rfd : -1, .events = POLLIN },
			{ .fd = tool_done ? -1 : al_domain_notify_fd(r->tool), .events = POLLIN },
		};
		struct pollfd sp = { .fd = sfd, .events = POLLIN };
		(void)sp;
		al_gate_egress_poll(r->egress, p + 6);
		if (poll(p, AL_ARRAY_LEN(p), -1) < 0) {
			if (errno == EINTR)
				continue;
			return AL_WORKER_EXIT_FAIL;
		}
		uint64_t now = al_now_ns();
		al_gate_egress_handle(r->egress, p + 6);
		/* a log pipe at its end (POLLHUP, nothing left to read) is polled no more */
		if (p[3].revents)
			al_domlog_drain(&r->tool_log, now);
		if (p[4].revents)
			al_domlog_drain(&r->gate_log, now);
		tool_out &= p[3].revents != POLLHUP;
		gate_out &= p[4].revents != POLLHUP;
		if (p[5].fd >= 0 && (p[5].revents & POLLIN))
			on_violation(r);
		if (p[2].fd >= 0 && p[2].revents && !(reports = drain_reports(r)) && r->gate_lied)
			al_domain_kill(r->gate, SIGKILL);
		if (p[1].fd >= 0 && (p[1].revents & (POLLIN | POLLHUP))) {
			al_domain_wait(r->tool, &tool_status);
			tool_done = true;
			if (WIFSIGNALED(tool_status))
				al_log_warnx("gate: %s: the server was killed by signal %d", r->p->name,
					     WTERMSIG(tool_status));
		}
		if (p[0].revents & (POLLIN | POLLHUP)) {
			int st;
			al_domain_wait(r->gate, &st);
			gate_done = true;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				al_log_warnx("gate: the gate domain ended (%s %d)", WIFEXITED(st) ? "exit" : "signal",
					     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
				al_audit_pack(r->audit, "gate.domain_ended", true, "{s:s, s:i}", "server", r->p->name,
					      "status", st);
			}
		}
	}
	while (reports && drain_reports(r))
		; /* what the gate wrote before it ended */
	al_domlog_drain(&r->tool_log, al_now_ns());
	al_domlog_drain(&r->gate_log, al_now_ns());
	if (!tool_done) {
		stop_domain(r->tool, 2000);
		tool_done = true;
	}
	return r->gate_lied ? AL_WORKER_EXIT_PEER : 0;
}

int al_gate_run(const struct al_gate_policy *p, char *const *cmd, const char *state_dir, const char *worker)
{
	struct gate_run r = { .report_fd = -1 };
	struct pipes pp = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	char **env = NULL;
	int rc, ret = AL_WORKER_EXIT_FAIL, sfd = -1;
	al_domlog_init(&r.tool_log, "tool", stderr);
	al_domlog_init(&r.gate_log, "gate", stderr);
	r.p = p;
	if ((rc = al_gate_state_open(&r.st, p->name, state_dir)) < 0 || (rc = open_audit(&r)) < 0)
		goto out;
	if (al_gate_learn_new(&r.learn, p) < 0 || al_gate_egress_new(&r.egress, p, r.audit, r.learn) < 0)
		goto out;
	if (!(r.rbuf = malloc(sizeof(struct al_gate_record) + AL_GATE_MAX_BLOB)) || !(env = tool_env(p, r.egress)))
		goto out;
	if (pipe2(pp.to_tool, O_CLOEXEC) < 0 || pipe2(pp.from_tool, O_CLOEXEC) < 0 ||
	    pipe2(pp.report, O_CLOEXEC) < 0 || al_domlog_open(&r.tool_log) < 0 || al_domlog_open(&r.gate_log) < 0) {
		al_log_warn("gate: pipes");
		goto out;
	}
	/* signals end the run through the domains: the gate sees its stdin close */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, NULL);
	al_audit_pack(r.audit, "gate.start", false, "{s:s, s:s, s:s}", "server", p->name, "command", cmd[0], "pin",
		      r.st.pin[0] ? r.st.pin : "none");
	if (spawn_tool(&r, cmd, &pp, env) < 0 || al_gate_egress_spawn(r.egress, r.tool, worker) < 0 ||
	    spawn_gate(&r, &pp, worker) < 0)
		goto out;
	/* ours no more: each end lives in its domain now */
	close_pair(pp.to_tool);
	close_pair(pp.from_tool);
	close(pp.report[1]);
	pp.report[1] = -1;
	r.report_fd = pp.report[0];
	pp.report[0] = -1;
	close(r.tool_log.wfd);
	r.tool_log.wfd = -1;
	close(r.gate_log.wfd);
	r.gate_log.wfd = -1;
	ret = watch(&r, sfd);
	al_audit_pack(r.audit, "gate.stop", false, "{s:s, s:i}", "server", p->name, "status", ret);
out:
	if (r.gate) {
		stop_domain(r.gate, 0);
		al_domain_free(r.gate);
	}
	if (r.tool) {
		stop_domain(r.tool, 0);
		al_domain_free(r.tool);
	}
	al_gate_egress_free(r.egress);
	if (ret != AL_WORKER_EXIT_FAIL)
		al_gate_learn_finish(r.learn, &r.st, stderr);
	al_gate_learn_free(r.learn);
	close_pair(pp.to_tool);
	close_pair(pp.from_tool);
	close_pair(pp.report);
	if (r.report_fd >= 0)
		close(r.report_fd);
	al_domlog_close(&r.tool_log);
	al_domlog_close(&r.gate_log);
	if (r.audit)
		al_audit_close(r.audit);
	free(r.rbuf);
	free_env(env);
	return ret;
}

