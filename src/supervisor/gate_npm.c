/*
 * npm in its domain, for `airlock gate install` (gate_int.h): the runtime
 * profile, one writable directory, no package scripts, one exec, and a
 * network of loopback alone, where the egress domain (gate_egress.h) holds
 * the only way out: to the registry's host and port, its name resolved
 * there, each connection audited.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "sandbox/sandbox.h"
#include "supervisor/domlog.h"
#include "supervisor/gate_egress.h"
#include "supervisor/gate_int.h"

#define NPM_TIMEOUT_S 600

/* A program's install prefix for the domain when not under /usr (which the
 * profile holds): two levels up from the resolved file (PREFIX/bin/node,
 * PREFIX/lib/node_modules/npm/bin/npm-cli.js: that package's directory). */
static int add_prefix(struct al_spec *s, const char *real, int up)
{
	if (!strncmp(real, "/usr/", 5))
		return 0;
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", real);
	for (int i = 0; i < up; i++) {
		char *sl = strrchr(dir, '/');
		if (!sl || sl == dir)
			return -EINVAL;
		*sl = '\0';
	}
	int rc = al_spec_add_path(s, dir, false);
	return rc == -EEXIST ? 0 : rc;
}

/* The registry as an [egress] rule: HOST:PORT of https://HOST[:PORT]/... */
static int registry_rule(const char *reg, char *out, size_t len)
{
	const char *h = reg + strlen("https://");
	size_t hn = strcspn(h, ":/");
	unsigned port = h[hn] == ':' ? (unsigned)strtoul(h + hn + 1, NULL, 10) : 443;
	int n = snprintf(out, len, "%.*s:%u", (int)hn, h, port);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

struct npm_run {
	struct al_domain *d;
	struct al_gate_egress *egress;
	struct al_domlog log;
	const char *name;
	char refused[16][32];     /* calls refused so far: each is logged once */
};

static void on_refused(struct npm_run *r, const struct al_violation *v)
{
	size_t i = 0;
	for (; i < AL_ARRAY_LEN(r->refused) && r->refused[i][0]; i++)
		if (!strcmp(r->refused[i], v->name))
			return;
	if (i < AL_ARRAY_LEN(r->refused))
		snprintf(r->refused[i], sizeof r->refused[i], "%s", v->name);
	/* glibc asks netlink which address families exist, and copes without */
	al_log_warnx("gate install: %s: npm called %s%s: refused (logged once)", r->name, v->name,
		     !strcmp(v->name, "socket") && v->args[0] == 16 ? " (netlink)" : "");
}

/* Waits for npm (bounded), draining its output, answering refused calls and
 * serving the egress domain's records. */
static int wait_npm(struct npm_run *r, int *status)
{
	uint64_t deadline = al_now_ns() + (uint64_t)NPM_TIMEOUT_S * 1000000000u;
	for (;;) {
		struct pollfd p[3 + AL_GATE_EGRESS_NPOLL] = {
			{ .fd = al_domain_pidfd(r->d), .events = POLLIN },
			{ .fd = r->log.rfd, .events = POLLIN },
			{ .fd = al_domain_notify_fd(r->d), .events = POLLIN },
		};
		al_gate_egress_poll(r->egress, p + 3);
		uint64_t now = al_now_ns();
		if (now >= deadline) {
			al_log_warnx("gate install: npm took more than %d s: stopped", NPM_TIMEOUT_S);
			al_domain_kill(r->d, SIGKILL);
			al_domain_wait(r->d, status);
			return -ETIMEDOUT;
		}
		if (poll(p, AL_ARRAY_LEN(p), (int)((deadline - now) / 1000000u) + 1) < 0 && errno != EINTR)
			return -errno;
		al_gate_egress_handle(r->egress, p + 3);
		if (al_gate_egress_ended(r->egress) && !(p[0].revents & (POLLIN | POLLHUP))) {
			/* npm has no way out left: it would retry until the deadline */
			al_log_warnx("gate install: npm stopped: its egress domain ended");
			al_domain_kill(r->d, SIGKILL);
			al_domain_wait(r->d, status);
			return -EPIPE;
		}
		if (p[1].revents)
			al_domlog_drain(&r->log, al_now_ns());
		struct al_violation v;
		if ((p[2].revents & POLLIN) && al_domain_notify_handle(r->d, &v) == 0)
			on_refused(r, &v);
		if (p[0].revents & (POLLIN | POLLHUP)) {
			al_domain_wait(r->d, status);
			al_domlog_drain(&r->log, al_now_ns());
			al_domlog_flush(&r->log);
			return 0;
		}
	}
}

/* The npm domain's spec: paths, network through the egress domain, calls. */
static int npm_spec(struct al_spec *s, const struct al_gate_policy *p, struct al_gate_egress *eg, const char *staging,
		    char *node, char *cli)
{
	char npm[PATH_MAX], real_node[PATH_MAX];
	int rc = al_profile_load(s, "runtime");
	if (rc == 0 && (s->exec_fd = al_command_open("node", node, PATH_MAX)) < 0) {
		rc = -errno;
		al_log_warnx("gate install: node is not in PATH (%s)", strerror(-rc));
	}
	int npm_fd = rc == 0 ? al_command_open("npm", npm, sizeof npm) : -1;
	if (rc == 0 && npm_fd < 0) {
		rc = -errno;
		al_log_warnx("gate install: npm is not in PATH (%s)", strerror(-rc));
	}
	if (npm_fd >= 0)
		close(npm_fd);
	/* npm is a script of node's: node runs its file (one exec, no `env node`) */
	if (rc == 0 && (!realpath(node, real_node) || !realpath(npm, cli))) {
		rc = -errno;
		al_log_warnx("gate install: %s: %s", npm, strerror(-rc));
	}
	if (rc == 0 && ((rc = add_prefix(s, real_node, 2)) < 0 || (rc = add_prefix(s, cli, 2)) < 0 ||
			(rc = al_spec_add_path(s, staging, true)) < 0))
		al_log_warnx("gate install: the npm domain's paths: %s", strerror(-rc));
	if (rc == 0 && (rc = al_gate_egress_tool_spec(eg, s)) < 0)
		al_log_warnx("gate install: the npm domain's network: %s", strerror(-rc));
	s->exec_once = true;
	s->seccomp_mode = AL_SECCOMP_NOTIFY;
	s->accept_unenforced = p->accept_unenforced;
	if (p->memory)
		s->cg_memory = p->memory;
	if (p->pids)
		s->cg_pids = p->pids;
	return rc;
}

int al_gate_npm_install(const struct al_gate_policy *p, const char *staging, const char *registry,
			struct al_audit *audit, const char *gate_worker)
{
	/* the egress domain's policy: the registry's host and port, nothing else */
	struct al_gate_policy q;
	al_gate_policy_init(&q, p->name);
	q.accept_unenforced = p->accept_unenforced;
	char rule[600];
	int rc = registry_rule(registry, rule, sizeof rule);
	if (rc == 0 && !(q.egress[q.n_egress++] = strdup(rule)))
		rc = -ENOMEM;
	struct al_spec s;
	al_spec_init(&s);
	struct npm_run r = { .name = p->name };
	al_domlog_init(&r.log, "npm", stderr);
	if (rc == 0 && (rc = al_gate_egress_new(&r.egress, &q, audit, NULL)) < 0)
		al_log_warnx("gate install: the egress domain for %s: %s", rule, strerror(-rc));
	char node[PATH_MAX], cli[PATH_MAX];
	if (rc == 0)
		rc = npm_spec(&s, p, r.egress, staging, node, cli);
	/* TLS is npm's, end to end through the egress domain: it needs the CA
	 * bundle the host's clients use (NODE_EXTRA_CA_CERTS, else Debian's) */
	const char *ca = getenv("NODE_EXTRA_CA_CERTS");
	if (!ca || ca[0] != '/')
		ca = access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0 ? "/etc/ssl/certs/ca-certificates.crt" : NULL;
	if (rc == 0 && ca && al_spec_add_path(&s, ca, false) < 0) {
		al_log_warnx("gate install: %s is not in the npm domain (not a plain file)", ca);
		ca = NULL;
	}
	char ca_env[PATH_MAX + 32], reg_arg[600];
	snprintf(ca_env, sizeof ca_env, "NODE_EXTRA_CA_CERTS=%s", ca ? ca : "");
	snprintf(reg_arg, sizeof reg_arg, "--registry=%s", registry);
	char *env[16] = { "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "TMPDIR=/tmp", "LANG=C.UTF-8",
			  "npm_config_cache=/tmp/.npm", "NO_UPDATE_NOTIFIER=1" };
	size_t ne = 6, fixed;
	if (ca)
		env[ne++] = ca_env;
	fixed = ne; /* the proxy variables after these are allocated */
	ne += al_gate_egress_env(r.egress, env + ne, AL_ARRAY_LEN(env) - 1 - ne);
	char *argv[] = { "node", cli, "install", "--prefix", (char *)staging, "--ignore-scripts", "--no-audit",
			 "--no-fund", "--save-exact", "--no-update-notifier", "--loglevel=warn", reg_arg, p->npm, NULL };
	s.argv = argv;
	s.envp = env;
	int nfd = rc == 0 ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
	if (rc == 0 && nfd < 0)
		rc = -errno;
	if (rc == 0 && (rc = al_domlog_open(&r.log)) == 0 &&
	    ((rc = al_spec_add_fd(&s, nfd, 0)) < 0 || (rc = al_spec_add_fd(&s, r.log.wfd, 1)) < 0 ||
	     (rc = al_spec_add_fd(&s, r.log.wfd, 2)) < 0))
		al_log_warnx("gate install: the npm domain's fds: %s", strerror(-rc));
	if (rc == 0 && (rc = al_seccomp_prepare(&s)) == 0 && (rc = al_domain_spawn(&s, &r.d)) < 0)
		al_log_warnx("gate install: cannot build the npm domain: %s", strerror(-rc));
	const char *failed = NULL;
	if (rc == 0 && (rc = al_domain_attest(r.d, &s, NULL, &failed)) < 0)
		al_log_warnx("gate install: the npm domain's attestation failed: %s", failed ? failed : "?");
	/* the egress domain takes the listeners npm's namespace made */
	if (rc == 0 && (rc = al_gate_egress_spawn(r.egress, r.d, gate_worker)) < 0)
		al_log_warnx("gate install: the egress domain: %s", strerror(-rc));
	if (rc == 0 && (rc = al_domain_start(r.d)) < 0)
		al_log_warnx("gate install: %s: %s", node, strerror(-rc));
	close(r.log.wfd);
	r.log.wfd = -1;
	int st = 0;
	if (rc == 0 && (rc = wait_npm(&r, &st)) == 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
		al_log_warnx("gate install: npm install %s failed (%s %d)", p->npm, WIFEXITED(st) ? "exit" : "signal",
			     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		rc = -EIO;
	}
	if (r.d)
		al_domain_free(r.d);
	al_gate_egress_free(r.egress); /* stops it, and audits its last connections */
	al_domlog_close(&r.log);
	for (size_t i = fixed; i < ne; i++)
		free(env[i]);
	if (nfd >= 0)
		close(nfd);
	if (s.exec_fd >= 0)
		close(s.exec_fd);
	al_spec_free(&s);
	al_gate_policy_free(&q);
	return rc;
}
