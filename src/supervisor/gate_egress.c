/*
 * `airlock gate`'s egress (gate_egress.h): the tool domain's network
 * namespace holds only loopback, where every address is local, and the
 * listeners of the egress domain; the egress domain, in our own network
 * namespace, connects out to the allowlist only.
 *
 *   tool domain                                 egress domain (airlock-egress)
 *   HTTPS_PROXY=http://127.0.0.1:3128  ---->    proxy listener: CONNECT host:port
 *   connect(any address, allowed port) ---->    direct listener of that port
 *   a DNS query (any nameserver)       ---->    UDP port 53: an allowed name gets an
 *                                               address of 198.18.0.0/15 standing for it
 *                                               getaddrinfo, connect, relay
 *
 * The listeners are made by the tool domain's sandbox before it drops its
 * capabilities (src/sandbox/net.c) and handed to us; the tool domain keeps
 * none and cannot make one (Landlock: no TCP bind). Nothing here needs a
 * privilege an ordinary user lacks: no veth, no tap, no route outside.
 */
#include "supervisor/gate_egress.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/audit.h"
#include "common/log.h"
#include "common/util.h"
#include "supervisor/domlog.h"
#include "workers/egress/rule.h"

struct al_gate_egress {
	const struct al_gate_policy *p;
	struct al_audit *audit;
	struct al_gate_learn *learn;
	uint16_t proxy_port;
	uint16_t ports[AL_GATE_POLICY_MAX]; /* the rules' ports, once each */
	size_t n_ports;
	struct al_domain *d;
	struct al_domlog log;
	int report_fd;
	unsigned char rbuf[sizeof(struct al_egress_record)];
	size_t rlen;
	bool lied, ended;
};

static const char *const reasons[AL_EGRESS_WHY_MAX] = {
	[AL_EGRESS_WHY_NONE] = "",
	[AL_EGRESS_WHY_NOT_ALLOWED] = "not in the allowlist",
	[AL_EGRESS_WHY_MALFORMED] = "malformed request",
	[AL_EGRESS_WHY_METHOD] = "not CONNECT",
	[AL_EGRESS_WHY_UNRESOLVED] = "name not resolved",
	[AL_EGRESS_WHY_UNREACHABLE] = "unreachable",
	[AL_EGRESS_WHY_BUSY] = "too many connections",
	[AL_EGRESS_WHY_TIMEOUT] = "timed out",
};

int al_gate_egress_new(struct al_gate_egress **out, const struct al_gate_policy *p, struct al_audit *audit,
		       struct al_gate_learn *learn)
{
	*out = NULL;
	if (!p->n_egress)
		return 0; /* no [egress]: no network at all */
	struct al_gate_egress *e = calloc(1, sizeof *e);
	if (!e)
		return -ENOMEM;
	e->p = p;
	e->audit = audit;
	e->learn = learn;
	e->report_fd = -1;
	al_domlog_init(&e->log, "egress", stderr);
	for (size_t i = 0; i < p->n_egress; i++) {
		struct al_egress_rule r;
		if (al_egress_rule_parse(p->egress[i], &r) < 0) {
			free(e);
			return -EINVAL; /* checked when the policy was read */
		}
		bool seen = false;
		for (size_t k = 0; k < e->n_ports; k++)
			seen |= e->ports[k] == r.port;
		if (!seen)
			e->ports[e->n_ports++] = r.port;
	}
	/* each port is one listener passed to the egress domain, beside its other fds */
	if (e->n_ports > AL_GATE_EGRESS_MAX_PORTS) {
		al_log_warnx("gate: [egress] allow names %zu ports: at most %d", e->n_ports, AL_GATE_EGRESS_MAX_PORTS);
		free(e);
		return -E2BIG;
	}
	e->proxy_port = AL_GATE_EGRESS_PROXY_PORT;
	for (bool clash = true; clash;) {
		clash = false;
		for (size_t k = 0; k < e->n_ports; k++)
			if (e->ports[k] == e->proxy_port) {
				clash = true;
				e->proxy_port++;
			}
	}
	*out = e;
	return 0;
}

int al_gate_egress_tool_spec(const struct al_gate_egress *e, struct al_spec *s)
{
	if (!e)
		return 0; /* the profile's empty network namespace */
	/* listener 0: the proxy; then one direct listener per allowed port; last, DNS */
	s->net = AL_NET_LOOPBACK;
	s->inet = true;
	s->n_listen = s->n_tcp_connect = 0;
	s->listen[s->n_listen++] = (struct al_net_listen){ .port = e->proxy_port };
	s->tcp_connect[s->n_tcp_connect++] = e->proxy_port;
	for (size_t i = 0; i < e->n_ports; i++) {
		s->listen[s->n_listen++] = (struct al_net_listen){ .port = e->ports[i] };
		s->tcp_connect[s->n_tcp_connect++] = e->ports[i];
	}
	s->listen[s->n_listen++] = (struct al_net_listen){ .port = 53, .udp = true };
	/* what a TCP client asks of its sockets, and glibc's resolver (sendmmsg),
	 * besides the profile's calls */
	static const char *const calls[] = { "setsockopt", "getsockname", "getpeername", "sendmmsg" };
	for (size_t i = 0; i < AL_ARRAY_LEN(calls); i++) {
		int rc = al_spec_allow_syscall(s, calls[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

size_t al_gate_egress_env(const struct al_gate_egress *e, char **env, size_t room)
{
	if (!e)
		return 0;
	/* HTTPS only: a plain-HTTP proxy request would need an HTTP parser here;
	 * a client that goes direct to port 80 is served by its direct listener */
	static const char *const names[] = { "HTTPS_PROXY", "https_proxy", "npm_config_https_proxy" };
	size_t k = 0;
	for (size_t i = 0; i < AL_ARRAY_LEN(names) && k < room; i++)
		if (asprintf(&env[k], "%s=http://127.0.0.1:%u", names[i], e->proxy_port) >= 0)
			k++;
	/* Node.js 24 and later honour the variables above only when asked to */
	if (k < room && (env[k] = strdup("NODE_USE_ENV_PROXY=1")))
		k++;
	return k;
}

/* airlock-egress lies beside airlock-gate: in the same directory when
 * installed, in src/workers/egress/ beside src/workers/gate/ in a build tree. */
static int egress_worker(const char *gate_worker, char *buf, size_t len)
{
	static const char tree[] = "/src/workers/gate/airlock-gate";
	size_t n = strlen(gate_worker), t = sizeof tree - 1;
	int w;
	if (n > t && !strcmp(gate_worker + n - t, tree))
		w = snprintf(buf, len, "%.*s/src/workers/egress/airlock-egress", (int)(n - t), gate_worker);
	else {
		const char *slash = strrchr(gate_worker, '/');
		w = snprintf(buf, len, "%.*s/airlock-egress", slash ? (int)(slash - gate_worker) : 1,
			     slash ? gate_worker : ".");
	}
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

/* The resolver's files, where they are plain files (a symlink is not bound:
 * the domain then resolves from what remains, /etc/hosts at least). */
static void resolver_files(struct al_spec *s)
{
	static const char *const files[] = { "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf",
					     "/etc/gai.conf", "/etc/host.conf" };
	for (size_t i = 0; i < AL_ARRAY_LEN(files); i++) {
		struct stat st;
		if (lstat(files[i], &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			al_log_warnx("gate: egress: %s is a symlink: not in the egress domain (names it would "
				     "resolve through it do not resolve)", files[i]);
			continue;
		}
		if (S_ISREG(st.st_mode))
			al_spec_add_path(s, files[i], false);
	}
}

int al_gate_egress_spawn(struct al_gate_egress *e, struct al_domain *tool, const char *gate_worker)
{
	if (!e)
		return 0;
	int report[2] = { -1, -1 };
	char worker[PATH_MAX];
	char *argv[4 + 2 * AL_GATE_POLICY_MAX + 2 * (AL_GATE_POLICY_MAX + 2)] = { "airlock-egress" };
	char listen_arg[AL_GATE_POLICY_MAX + 2][32];
	size_t n = 1;
	struct al_spec s;
	al_spec_init(&s);
	int rc = egress_worker(gate_worker, worker, sizeof worker);
	if (rc == 0 && (rc = al_profile_load(&s, "egress")) < 0)
		al_log_warnx("gate: the egress profile: %s", strerror(-rc));
	if (rc == 0 && (pipe2(report, O_CLOEXEC) < 0 || al_domlog_open(&e->log) < 0)) {
		rc = -errno;
		al_log_warn("gate: egress pipes");
	}
	s.net = AL_NET_HOST;
	s.inet = true;
	s.accept_unenforced = e->p->accept_unenforced; /* its CPU share too, for an ordinary user */
	for (size_t i = 0; i < e->n_ports; i++)
		s.tcp_connect[s.n_tcp_connect++] = e->ports[i];
	s.tcp_connect[s.n_tcp_connect++] = 53; /* a DNS answer too long for UDP */
	resolver_files(&s);
	for (size_t i = 0; i < e->p->n_egress; i++) {
		argv[n++] = "--allow";
		argv[n++] = e->p->egress[i];
	}
	/* in the order al_gate_egress_tool_spec made them */
	for (size_t i = 0; rc == 0 && i <= e->n_ports + 1; i++) {
		int fd = al_domain_net_fd(tool, i), dst = AL_EGRESS_FD_LISTEN0 + (int)i;
		bool dns = i == e->n_ports + 1;
		snprintf(listen_arg[i], sizeof listen_arg[i], "%d:%u:%s", dst,
			 dns ? 53 : i ? e->ports[i - 1] : e->proxy_port, dns ? "dns" : i ? "direct" : "proxy");
		argv[n++] = "--listen";
		argv[n++] = listen_arg[i];
		if (fd < 0 || (rc = al_spec_add_fd(&s, fd, dst)) < 0)
			rc = rc < 0 ? rc : -EBADF;
	}
	if (rc == 0 && ((rc = al_spec_add_fd(&s, e->log.wfd, 2)) < 0 ||
			(rc = al_spec_add_fd(&s, report[1], AL_WORKER_FD_REPORT)) < 0))
		al_log_warnx("gate: the egress domain's fds: %s", strerror(-rc));
	s.argv = argv;
	s.exec_fd = rc == 0 ? open(worker, O_RDONLY | O_CLOEXEC) : -1;
	if (rc == 0 && s.exec_fd < 0) {
		rc = -errno;
		al_log_warnx("gate: %s: %s", worker, strerror(-rc));
	}
	if (rc == 0 && (rc = al_seccomp_prepare(&s)) == 0 && (rc = al_domain_spawn(&s, &e->d)) < 0)
		al_log_warnx("gate: cannot build the egress domain: %s", strerror(-rc));
	const char *failed = NULL;
	if (rc == 0 && (rc = al_domain_attest(e->d, &s, NULL, &failed)) < 0)
		al_log_warnx("gate: the egress domain's attestation failed: %s", failed ? failed : "?");
	if (rc == 0 && (rc = al_domain_start(e->d)) < 0)
		al_log_warnx("gate: %s: %s", worker, strerror(-rc));
	if (s.exec_fd >= 0)
		close(s.exec_fd);
	al_spec_free(&s);
	if (report[1] >= 0)
		close(report[1]);
	if (e->log.wfd >= 0) {
		close(e->log.wfd);
		e->log.wfd = -1;
	}
	if (rc < 0) {
		if (report[0] >= 0)
			close(report[0]);
		return rc;
	}
	e->report_fd = report[0];
	fcntl(e->report_fd, F_SETFL, O_NONBLOCK);
	al_audit_pack(e->audit, "egress.start", false, "{s:s, s:i, s:i}", "server", e->p->name, "proxy_port",
		      (int)e->proxy_port, "rules", (int)e->p->n_egress);
	return 0;
}

/* ---- the records ---- */

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

size_t al_gate_egress_scan(const unsigned char *buf, size_t len, bool *lied,
			   void (*fn)(void *ctx, const struct al_egress_record *r), void *ctx)
{
	size_t off = 0;
	*lied = false;
	while (len - off >= sizeof(struct al_egress_record)) {
		struct al_egress_record r;
		memcpy(&r, buf + off, sizeof r);
		if (r.magic != AL_EGRESS_RECORD_MAGIC || !r.verdict || r.verdict >= AL_EGRESS_VERDICT_MAX ||
		    r.reason >= AL_EGRESS_WHY_MAX || !r.via || r.via >= AL_EGRESS_VIA_MAX || !r.port ||
		    !text_ok(r.host, sizeof r.host) || !r.host[0] || !text_ok(r.addr, sizeof r.addr)) {
			*lied = true;
			break;
		}
		fn(ctx, &r);
		off += sizeof r;
	}
	return off;
}

static void on_record(void *ctx, const struct al_egress_record *r)
{
	struct al_gate_egress *e = ctx;
	bool allowed = r->verdict == AL_EGRESS_ALLOWED;
	al_audit_pack(e->audit, "egress.connection", !allowed,
		      "{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:i}", "server", e->p->name, "host", r->host,
		      "port", (int)r->port, "verdict", allowed ? "allowed" : "refused", "reason", reasons[r->reason],
		      "via", r->via == AL_EGRESS_VIA_PROXY ? "proxy" : r->via == AL_EGRESS_VIA_DNS ? "dns" : "direct",
		      "address", r->addr, "bytes_out",
		      (json_int_t)r->bytes_out, "bytes_in", (json_int_t)r->bytes_in, "ms", (int)r->duration_ms);
	if (!allowed && r->via == AL_EGRESS_VIA_DNS)
		al_log_warnx("gate: %s: egress: the name %s was looked up: refused (%s)", e->p->name, r->host,
			     reasons[r->reason]);
	else if (!allowed)
		al_log_warnx("gate: %s: egress to %s:%u refused (%s)", e->p->name, r->host, r->port,
			     reasons[r->reason]);
	else if (r->reason)
		al_log_warnx("gate: %s: egress to %s:%u failed (%s)", e->p->name, r->host, r->port,
			     reasons[r->reason]);
	else
		al_log_info("gate: %s: egress %s:%u (%s): %llu bytes out, %llu in", e->p->name, r->host, r->port,
			    r->addr, (unsigned long long)r->bytes_out, (unsigned long long)r->bytes_in);
	if (!allowed && r->reason == AL_EGRESS_WHY_NOT_ALLOWED && e->learn)
		al_gate_learn_egress(e->learn, r->host, r->via == AL_EGRESS_VIA_DNS ? 0 : r->port);
}

/* Reads what the egress domain reported; false when its pipe is done or it lied. */
static bool drain(struct al_gate_egress *e)
{
	for (;;) {
		ssize_t n = read(e->report_fd, e->rbuf + e->rlen, sizeof e->rbuf - e->rlen);
		if (n < 0)
			return errno == EINTR || errno == EAGAIN;
		if (n == 0)
			return false;
		e->rlen += (size_t)n;
		size_t used = al_gate_egress_scan(e->rbuf, e->rlen, &e->lied, on_record, e);
		memmove(e->rbuf, e->rbuf + used, e->rlen - used);
		e->rlen -= used;
		if (e->lied) {
			al_audit_pack(e->audit, "egress.malformed_report", true, "{s:s}", "server", e->p->name);
			al_log_warnx("gate: the egress domain wrote a malformed record: stopping it");
			al_domain_kill(e->d, SIGKILL);
			return false;
		}
	}
}

void al_gate_egress_poll(const struct al_gate_egress *e, struct pollfd *p)
{
	for (int i = 0; i < AL_GATE_EGRESS_NPOLL; i++)
		p[i] = (struct pollfd){ .fd = -1, .events = POLLIN };
	if (!e || !e->d)
		return;
	p[0].fd = e->ended ? -1 : al_domain_pidfd(e->d);
	p[1].fd = e->report_fd;
	p[2].fd = e->log.rfd;
}

void al_gate_egress_handle(struct al_gate_egress *e, const struct pollfd *p)
{
	if (!e || !e->d)
		return;
	if (p[2].fd >= 0 && p[2].revents)
		al_domlog_drain(&e->log, al_now_ns());
	if (p[1].fd >= 0 && p[1].revents && !drain(e)) {
		close(e->report_fd);
		e->report_fd = -1;
	}
	if (p[0].fd >= 0 && (p[0].revents & (POLLIN | POLLHUP))) {
		int st = 0;
		al_domain_wait(e->d, &st);
		e->ended = true;
		/* the tool domain keeps running, with no way out */
		al_log_warnx("gate: %s: the egress domain ended (%s %d): no more connections", e->p->name,
			     WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		al_audit_pack(e->audit, "egress.domain_ended", true, "{s:s, s:i}", "server", e->p->name, "status", st);
	}
}

bool al_gate_egress_ended(const struct al_gate_egress *e)
{
	return e && e->ended;
}

void al_gate_egress_free(struct al_gate_egress *e)
{
	if (!e)
		return;
	if (e->d) {
		if (!e->ended) {
			al_domain_kill(e->d, SIGTERM);
			struct pollfd pf = { .fd = al_domain_pidfd(e->d), .events = POLLIN };
			if (poll(&pf, 1, 1000) <= 0)
				al_domain_kill(e->d, SIGKILL);
			int st;
			al_domain_wait(e->d, &st);
		}
		/* the records of connections it ended on its way out (it is gone:
		 * its pipe ends, and a few reads at most reach the end) */
		for (int i = 0; i < 64 && e->report_fd >= 0 && drain(e); i++)
			;
		al_domain_free(e->d);
	}
	if (e->report_fd >= 0)
		close(e->report_fd);
	al_domlog_drain(&e->log, al_now_ns());
	al_domlog_close(&e->log);
	free(e);
}
