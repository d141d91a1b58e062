/*
 * The egress proxy's loop (egress.h): one poll over the listeners, the
 * resolver's answers and two sockets per connection. Names are resolved by
 * one thread with getaddrinfo, so a slow resolver delays only the
 * connections waiting for it.
 *
 * A connection goes HEAD (proxy only: the CONNECT head) -> RESOLVE (a name,
 * or a direct address checked against the names of its port) -> CONNECT
 * (each address in turn) -> RELAY (bytes both ways, each half closed when
 * its side ends), or -> REPLY (an error status for a proxy client) -> the
 * end. The end writes the record.
 */
#include "workers/egress/egress.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "workers/egress/connect.h"
#include "workers/egress/dns.h"

#define BUF 16384
#define MAX_ADDRS 8
#define MAX_NAMES 16
#define RESOLVE_TIMEOUT_MS 15000
/* the names dns answered, by index: 198.18.0.0/15 + 1 + index */
#define FAKE_MAX 4096
#define FAKE_NET 0xc6120000u /* 198.18.0.0 */
#define FAKE_MASK 0xfffe0000u
#define REFUSED_NAMES 256

enum state { S_FREE = 0, S_HEAD, S_RESOLVE, S_CONNECT, S_RELAY, S_REPLY };

struct job;

struct half {
	char b[BUF];
	size_t off, len;
	bool eof;   /* its source ended */
	bool shut;  /* and its destination was told (SHUT_WR) */
};

struct conn {
	enum state st;
	int cfd, ufd;
	bool proxy;
	struct al_connect_req req;
	uint64_t t0, deadline;
	uint64_t out, in;
	uint64_t ours;        /* of in: the 200 line we sent, not the host's bytes */
	struct sockaddr_storage addrs[MAX_ADDRS];
	socklen_t alen[MAX_ADDRS];
	size_t n_addrs, next_addr;
	struct job *job;
	uint16_t verdict, reason;
	char addr[48];
	/* the buffers last: a new connection clears what is above them */
	size_t head_len;
	char head[AL_CONNECT_MAX_HEAD];
	struct half up, down; /* up: tool to host; down: host to tool */
};

/* One resolution, owned by the thread while queued, then by the loop. */
struct job {
	struct conn *c;        /* NULL once the connection is gone */
	char names[MAX_NAMES][AL_EGRESS_HOST_MAX + 1];
	size_t n_names;
	uint16_t port;
	bool want;             /* find the name that has want_addr among its addresses */
	int want_family;
	uint8_t want_addr[16];
	int matched;           /* want: the name's index, or -1 */
	struct sockaddr_storage addrs[MAX_ADDRS];
	socklen_t alen[MAX_ADDRS];
	size_t n_addrs;
};

static int job_req[2] = { -1, -1 }, job_done[2] = { -1, -1 };
static char fake[FAKE_MAX][AL_EGRESS_HOST_MAX + 1];
static size_t n_fake;
static char refused_names[REFUSED_NAMES][AL_EGRESS_HOST_MAX + 1]; /* reported once each */
static size_t n_refused;
static volatile sig_atomic_t stopping;
static struct conn conns[AL_EGRESS_MAX_CONNS];
static const struct al_egress_config *cfg;

static uint64_t now_ms(void)
{
	return al_now_ns() / 1000000u;
}

/* ---- the resolver thread ---- */

static bool same_addr(const struct sockaddr *sa, int family, const uint8_t *addr)
{
	uint8_t a[16] = { 0 };
	int f = sa->sa_family;
	if (f == AF_INET)
		memcpy(a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (f == AF_INET6)
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	else
		return false;
	al_egress_unmap(&f, a);
	return f == family && memcmp(a, addr, f == AF_INET ? 4 : 16) == 0;
}

static void resolve(struct job *j)
{
	char port[8];
	snprintf(port, sizeof port, "%u", j->port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	j->matched = -1;
	for (size_t i = 0; i < j->n_names && (j->want ? j->matched < 0 : i == 0); i++) {
		struct addrinfo *res = NULL;
		if (getaddrinfo(j->names[i], port, &hints, &res) != 0)
			continue;
		for (struct addrinfo *a = res; a; a = a->ai_next) {
			if (j->want) {
				if (same_addr(a->ai_addr, j->want_family, j->want_addr))
					j->matched = (int)i;
			} else if (j->n_addrs < MAX_ADDRS && a->ai_addrlen <= sizeof j->addrs[0]) {
				memcpy(&j->addrs[j->n_addrs], a->ai_addr, a->ai_addrlen);
				j->alen[j->n_addrs++] = a->ai_addrlen;
			}
		}
		freeaddrinfo(res);
	}
}

static void *resolver(void *arg)
{
	(void)arg;
	struct job *j;
	while (read(job_req[0], &j, sizeof j) == (ssize_t)sizeof j) {
		resolve(j);
		if (al_write_all(job_done[1], &j, sizeof j) < 0)
			break;
	}
	return NULL;
}

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

int al_egress_init(void)
{
	/* SIGTERM: the session is over; each open connection still gets its record */
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (pipe2(job_req, O_CLOEXEC) < 0 || pipe2(job_done, O_CLOEXEC) < 0)
		return -errno;
	pthread_t t;
	int rc = pthread_create(&t, NULL, resolver, NULL);
	if (rc != 0)
		return -rc;
	pthread_detach(t);
	return 0;
}

/* ---- one connection ---- */

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void addr_text(const struct sockaddr *sa, char *out, size_t len)
{
	const void *a = sa->sa_family == AF_INET ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
						 : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (!inet_ntop(sa->sa_family, a, out, (socklen_t)len))
		snprintf(out, len, "?");
}

static void report(struct conn *c)
{
	struct al_egress_record r = {
		.magic = AL_EGRESS_RECORD_MAGIC, .verdict = c->verdict, .reason = c->reason, .port = c->req.port,
		.via = c->proxy ? AL_EGRESS_VIA_PROXY : AL_EGRESS_VIA_DIRECT,
		.duration_ms = (uint32_t)(now_ms() - c->t0), .bytes_out = c->out, .bytes_in = c->in - (c->in < c->ours ? c->in : c->ours),
	};
	/* the host as asked, printable by construction (connect.c, inet_ntop) */
	snprintf(r.host, sizeof r.host, "%s", c->req.host[0] ? c->req.host : "?");
	snprintf(r.addr, sizeof r.addr, "%s", c->addr);
	if (al_write_all(cfg->report_fd, &r, sizeof r) < 0) {
		al_log_warnx("egress: the report pipe is gone: stopping");
		_exit(AL_WORKER_EXIT_OK);
	}
}

static void finish(struct conn *c)
{
	if (c->job) {
		c->job->c = NULL; /* the thread's answer will find nobody */
		c->job = NULL;
	}
	if (c->cfd >= 0)
		close(c->cfd);
	if (c->ufd >= 0)
		close(c->ufd);
	report(c);
	c->st = S_FREE;
}

/* Refuses (or fails) c: an HTTP status to a proxy client that is still
 * waiting for one, a reset to a direct one. */
static void refuse(struct conn *c, uint16_t verdict, uint16_t reason)
{
	c->verdict = verdict;
	c->reason = reason;
	if (!c->proxy || c->st == S_RELAY) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(c->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		finish(c);
		return;
	}
	const char *status = reason == AL_EGRESS_WHY_NOT_ALLOWED ? "403 Forbidden"
			     : reason == AL_EGRESS_WHY_METHOD	  ? "405 Method Not Allowed"
			     : reason == AL_EGRESS_WHY_MALFORMED  ? "400 Bad Request"
			     : reason == AL_EGRESS_WHY_BUSY	  ? "503 Service Unavailable"
			     : reason == AL_EGRESS_WHY_TIMEOUT	  ? (c->st == S_HEAD ? "408 Request Timeout"
										     : "504 Gateway Timeout")
										  : "502 Bad Gateway";
	const char *why = reason == AL_EGRESS_WHY_NOT_ALLOWED ? "not in the gate's [egress] allowlist"
			  : reason == AL_EGRESS_WHY_METHOD	 ? "only CONNECT is served"
			  : reason == AL_EGRESS_WHY_MALFORMED	 ? "malformed CONNECT request"
			  : reason == AL_EGRESS_WHY_UNRESOLVED	 ? "the name did not resolve"
			  : reason == AL_EGRESS_WHY_BUSY	 ? "too many connections"
			  : reason == AL_EGRESS_WHY_TIMEOUT	 ? "timed out"
								 : "the host did not accept the connection";
	char body[384];
	int bl = snprintf(body, sizeof body, "airlock egress: %s:%u: %s\n", c->req.host[0] ? c->req.host : "?",
			  c->req.port, why);
	if (bl < 0 || (size_t)bl >= sizeof body)
		bl = 0;
	int n = snprintf(c->down.b, sizeof c->down.b,
			 "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n%s",
			 status, bl, reason == AL_EGRESS_WHY_METHOD ? "Allow: CONNECT\r\n" : "", body);
	c->down.off = 0;
	c->down.len = n > 0 && (size_t)n < sizeof c->down.b ? (size_t)n : 0;
	c->st = S_REPLY;
	c->deadline = now_ms() + 2000;
	if (c->ufd >= 0) {
		close(c->ufd);
		c->ufd = -1;
	}
}

static void try_connect(struct conn *c);

/* The one address to try: the one the tool asked for (c->req). */
static void set_target(struct conn *c)
{
	struct sockaddr_storage *ss = &c->addrs[0];
	memset(ss, 0, sizeof *ss);
	if (c->req.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(c->req.port);
		memcpy(&s4->sin_addr, c->req.addr, 4);
		c->alen[0] = sizeof *s4;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(c->req.port);
		memcpy(&s6->sin6_addr, c->req.addr, 16);
		c->alen[0] = sizeof *s6;
	}
	c->n_addrs = 1;
	c->next_addr = 0;
}

static void submit(struct conn *c, struct job *j)
{
	j->c = c;
	c->job = j;
	c->st = S_RESOLVE;
	c->deadline = now_ms() + RESOLVE_TIMEOUT_MS;
	if (al_write_all(job_req[1], &j, sizeof j) < 0) {
		c->job = NULL;
		free(j);
		refuse(c, AL_EGRESS_ALLOWED, AL_EGRESS_WHY_UNRESOLVED);
	}
}

/* An address dns gave: the name it stands for, or NULL (not one of ours). */
static const char *fake_name(int family, const uint8_t *addr, bool *ours)
{
	uint32_t a = (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 | (uint32_t)addr[2] << 8 | addr[3];
	*ours = family == AF_INET && (a & FAKE_MASK) == FAKE_NET;
	uint32_t i = a - FAKE_NET - 1;
	return *ours && a > FAKE_NET && i < n_fake ? fake[i] : NULL;
}

/* What the allowlist says of c->req: connect, resolve first, or refuse. */
static void decide(struct conn *c)
{
	struct al_connect_req *q = &c->req;
	struct job *j = NULL;
	bool ours = false;
	const char *name = q->family ? fake_name(q->family, q->addr, &ours) : NULL;
	if (ours && !name) {
		refuse(c, AL_EGRESS_REFUSED, AL_EGRESS_WHY_NOT_ALLOWED);
		return;
	}
	if (name) {
		/* an address dns gave: the name it stands for, checked as a name */
		snprintf(q->host, sizeof q->host, "%s", name);
		q->family = 0;
	}
	if (q->family) {
		for (size_t i = 0; i < cfg->n_rules; i++)
			if (al_egress_rule_addr_match(&cfg->rules[i], q->family, q->addr, q->port)) {
				set_target(c);
				try_connect(c);
				return;
			}
		/* an address: allowed if a name of this port resolves to it */
		for (size_t i = 0; i < cfg->n_rules; i++) {
			const struct al_egress_rule *r = &cfg->rules[i];
			if (r->family || r->wildcard || r->port != q->port)
				continue;
			if (!j && !(j = calloc(1, sizeof *j)))
				break;
			if (j->n_names < MAX_NAMES)
				snprintf(j->names[j->n_names++], sizeof j->names[0], "%s", r->host);
		}
		if (!j) {
			refuse(c, AL_EGRESS_REFUSED, AL_EGRESS_WHY_NOT_ALLOWED);
			return;
		}
		j->want = true;
		j->want_family = q->family;
		memcpy(j->want_addr, q->addr, 16);
	} else {
		bool ok = false;
		for (size_t i = 0; i < cfg->n_rules && !ok; i++)
			ok = al_egress_rule_name_match(&cfg->rules[i], q->host, q->port);
		if (!ok) {
			refuse(c, AL_EGRESS_REFUSED, AL_EGRESS_WHY_NOT_ALLOWED);
			return;
		}
		if (!(j = calloc(1, sizeof *j))) {
			refuse(c, AL_EGRESS_ALLOWED, AL_EGRESS_WHY_UNRESOLVED);
			return;
		}
		snprintf(j->names[0], sizeof j->names[0], "%s", q->host);
		j->n_names = 1;
	}
	j->port = q->port;
	submit(c, j);
}

static void resolved(struct job *j)
{
	struct conn *c = j->c;
	if (!c) {
		free(j);
		return;
	}
	c->job = NULL;
	if (j->want) {
		if (j->matched < 0) {
			refuse(c, AL_EGRESS_REFUSED, AL_EGRESS_WHY_NOT_ALLOWED);
			free(j);
			return;
		}
		free(j);
		/* the address the tool asked for, now known to be an allowed name's */
		set_target(c);
	} else {
		if (!j->n_addrs) {
			refuse(c, AL_EGRESS_ALLOWED, AL_EGRESS_WHY_UNRESOLVED);
			free(j);
			return;
		}
		memcpy(c->addrs, j->addrs, sizeof c->addrs);
		memcpy(c->alen, j->alen, sizeof c->alen);
		c->n_addrs = j->n_addrs;
		free(j);
	}
	c->next_addr = 0;
	try_connect(c);
}

/* The next address of c, or the end of the list. */
static void try_connect(struct conn *c)
{
	c->st = S_CONNECT;
	while (c->next_addr < c->n_addrs) {
		const struct sockaddr *sa = (const struct sockaddr *)&c->addrs[c->next_addr++];
		addr_text(sa, c->addr, sizeof c->addr);
		int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, sa, c->alen[c->next_addr - 1]) == 0 || errno == EINPROGRESS) {
			c->ufd = fd;
			c->deadline = now_ms() + cfg->connect_timeout_ms;
			return;
		}
		close(fd);
	}
	refuse(c, AL_EGRESS_ALLOWED, AL_EGRESS_WHY_UNREACHABLE);
}

static void connected(struct conn *c)
{
	int err = 0;
	socklen_t el = sizeof err;
	if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
		close(c->ufd);
		c->ufd = -1;
		try_connect(c);
		return;
	}
	c->st = S_RELAY;
	c->verdict = AL_EGRESS_ALLOWED;
	c->reason = AL_EGRESS_WHY_NONE;
	c->deadline = 0;
	if (c->proxy) {
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
		memcpy(c->down.b, ok, sizeof ok - 1);
		c->down.off = 0;
		c->down.len = sizeof ok - 1;
		c->ours = sizeof ok - 1; /* counted when sent, but it is ours */
	}
}

/* ---- the loop ---- */

static struct conn *new_conn(int fd, bool proxy);

/* A refused name, reported once (a flood of lookups is one record each). */
static void report_name(const char *name)
{
	for (size_t i = 0; i < n_refused; i++)
		if (!strcmp(refused_names[i], name))
			return;
	if (n_refused == REFUSED_NAMES)
		return;
	snprintf(refused_names[n_refused++], sizeof refused_names[0], "%s", name);
	struct al_egress_record r = { .magic = AL_EGRESS_RECORD_MAGIC, .verdict = AL_EGRESS_REFUSED,
				      .reason = AL_EGRESS_WHY_NOT_ALLOWED, .port = 53, .via = AL_EGRESS_VIA_DNS };
	snprintf(r.host, sizeof r.host, "%s", name);
	if (al_write_all(cfg->report_fd, &r, sizeof r) < 0)
		_exit(AL_WORKER_EXIT_OK);
}

/* Whether some rule names this name, on any port. */
static bool name_allowed(const char *name)
{
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct al_egress_rule *r = &cfg->rules[i];
		if (al_egress_rule_name_match(r, name, r->port))
			return true;
	}
	return false;
}

/* Queries on the DNS socket: a bounded number each wakeup. */
static void on_dns(const struct al_egress_listener *l)
{
	for (int k = 0; k < 32; k++) {
		uint8_t buf[AL_DNS_MAX + 1], out[AL_DNS_MAX];
		struct sockaddr_storage from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(l->fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		struct al_dns_query q;
		int rc = al_dns_parse(buf, (size_t)n, &q), rcode = AL_DNS_NOERROR;
		const uint8_t *a4 = NULL;
		uint8_t addr[4];
		if (rc == -EBADMSG)
			continue;
		if (rc == -ENOTSUP)
			rcode = AL_DNS_NOTIMP;
		else if (rc < 0)
			rcode = AL_DNS_FORMERR;
		else if (!name_allowed(q.name)) {
			rcode = AL_DNS_NXDOMAIN;
			report_name(q.name);
		} else if (q.qtype == AL_DNS_TYPE_A) {
			size_t i = 0;
			while (i < n_fake && strcmp(fake[i], q.name) != 0)
				i++;
			if (i == n_fake && n_fake < FAKE_MAX)
				snprintf(fake[n_fake++], sizeof fake[0], "%s", q.name);
			if (i < n_fake) {
				uint32_t a = FAKE_NET + 1 + (uint32_t)i;
				addr[0] = (uint8_t)(a >> 24);
				addr[1] = (uint8_t)(a >> 16);
				addr[2] = (uint8_t)(a >> 8);
				addr[3] = (uint8_t)a;
				a4 = addr;
			} else {
				rcode = AL_DNS_SERVFAIL; /* more names than addresses: none is reused */
			}
		} /* an allowed name, another type (AAAA, HTTPS): no data, so IPv4 is used */
		size_t m = al_dns_answer(buf, &q, rcode, a4, 60, out, sizeof out);
		if (m)
			sendto(l->fd, out, m, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&from, fl);
	}
}

static struct conn *new_conn(int fd, bool proxy)
{
	for (size_t i = 0; i < AL_EGRESS_MAX_CONNS; i++) {
		struct conn *c = &conns[i];
		if (c->st != S_FREE)
			continue;
		memset(c, 0, offsetof(struct conn, head_len));
		c->head_len = 0;
		c->up.off = c->up.len = c->down.off = c->down.len = 0;
		c->up.eof = c->up.shut = c->down.eof = c->down.shut = false;
		c->cfd = fd;
		c->ufd = -1;
		c->proxy = proxy;
		c->t0 = now_ms();
		c->verdict = AL_EGRESS_REFUSED;
		return c;
	}
	return NULL;
}

static void on_accept(const struct al_egress_listener *l)
{
	int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	bool proxy = l->kind == AL_EGRESS_PROXY;
	struct conn *c = new_conn(fd, proxy);
	if (!c) {
		struct conn busy = { .cfd = fd, .ufd = -1, .proxy = false, .t0 = now_ms() };
		busy.req.port = l->port;
		al_log_warnx("egress: %d connections at once: refusing one", AL_EGRESS_MAX_CONNS);
		refuse(&busy, AL_EGRESS_REFUSED, AL_EGRESS_WHY_BUSY);
		return;
	}
	if (proxy) {
		c->st = S_HEAD;
		c->req.port = l->port;
		c->deadline = c->t0 + cfg->head_timeout_ms;
		return;
	}
	/* direct: the address the tool meant is this socket's own */
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
		refuse(c, AL_EGRESS_REFUSED, AL_EGRESS_WHY_MALFORMED);
		return;
	}
	struct al_connect_req *q = &c->req;
	q->family = ss.ss_family;
	if (q->family == AF_INET) {
		memcpy(q->addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		q->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else {
		memcpy(q->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
		q->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	al_egress_unmap(&q->family, q->addr);
	inet_ntop(q->family, q->addr, q->host, sizeof q->host);
	decide(c);
}

static void on_head(struct conn *c)
{
	ssize_t n = recv(c->cfd, c->head + c->head_len, sizeof c->head - c->head_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		refuse(c, AL_EGRESS_REFUSED, AL_EGRESS_WHY_MALFORMED);
		return;
	}
	c->head_len += (size_t)n;
	uint16_t listen_port = c->req.port;
	ssize_t h = al_connect_parse(c->head, c->head_len, &c->req);
	if (h == 0) {
		c->req.port = listen_port;
		return;
	}
	if (h < 0) {
		if (h == -ENOTSUP || !c->req.port)
			c->req.port = listen_port;
		refuse(c, AL_EGRESS_REFUSED, h == -ENOTSUP ? AL_EGRESS_WHY_METHOD : AL_EGRESS_WHY_MALFORMED);
		return;
	}
	/* bytes after the head are the tunnel's first */
	size_t rest = c->head_len - (size_t)h;
	memcpy(c->up.b, c->head + h, rest);
	c->up.off = 0;
	c->up.len = rest;
	decide(c);
}

/* Moves what src has for dst through h; false when the connection is over. */
static bool pump_in(struct conn *c, int src, struct half *h)
{
	ssize_t n = recv(src, h->b, sizeof h->b, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		h->eof = true;
	h->off = 0;
	h->len = (size_t)n;
	return true;
}

static bool pump_out(struct conn *c, int dst, struct half *h, uint64_t *count)
{
	ssize_t n = send(dst, h->b + h->off, h->len - h->off, MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	h->off += (size_t)n;
	*count += (uint64_t)n;
	if (h->off == h->len)
		h->off = h->len = 0;
	return true;
}

/* A half whose source ended and whose bytes are out: tell its destination. */
static void maybe_shut(struct half *h, int dst)
{
	if (h->eof && !h->len && !h->shut) {
		shutdown(dst, SHUT_WR);
		h->shut = true;
	}
}

static void on_relay(struct conn *c, short cev, short uev)
{
	bool ok = true;
	if ((cev & (POLLIN | POLLHUP | POLLERR)) && !c->up.len && !c->up.eof)
		ok = pump_in(c, c->cfd, &c->up);
	if (ok && (uev & (POLLIN | POLLHUP | POLLERR)) && !c->down.len && !c->down.eof)
		ok = pump_in(c, c->ufd, &c->down);
	if (ok && c->up.len)
		ok = pump_out(c, c->ufd, &c->up, &c->out);
	if (ok && c->down.len)
		ok = pump_out(c, c->cfd, &c->down, &c->in);
	maybe_shut(&c->up, c->ufd);
	maybe_shut(&c->down, c->cfd);
	if (!ok || (c->up.shut && c->down.shut))
		finish(c);
}

static void on_reply(struct conn *c)
{
	uint64_t sent = 0;
	if (!pump_out(c, c->cfd, &c->down, &sent) || !c->down.len) {
		shutdown(c->cfd, SHUT_WR);
		finish(c);
	}
}

int al_egress_serve(const struct al_egress_config *config)
{
	cfg = config;
	for (size_t i = 0; i < cfg->n_listen; i++)
		set_nonblock(cfg->listen[i].fd);
	enum { MAXP = AL_EGRESS_MAX_LISTEN + 1 + 2 * AL_EGRESS_MAX_CONNS };
	static struct pollfd p[MAXP];
	static struct conn *owner[MAXP];
	for (;;) {
		size_t n = 0;
		uint64_t now = now_ms(), next = UINT64_MAX;
		for (size_t i = 0; i < cfg->n_listen; i++)
			p[n++] = (struct pollfd){ .fd = cfg->listen[i].fd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = job_done[0], .events = POLLIN };
		for (size_t i = 0; i < AL_EGRESS_MAX_CONNS; i++) {
			struct conn *c = &conns[i];
			if (c->st == S_FREE)
				continue;
			if (c->deadline && c->deadline < next)
				next = c->deadline;
			short ce = 0, ue = 0;
			switch (c->st) {
			case S_HEAD:
				ce = POLLIN;
				break;
			case S_CONNECT:
				ue = c->ufd >= 0 ? POLLOUT : 0;
				break;
			case S_RELAY:
				ce = (short)((!c->up.len && !c->up.eof ? POLLIN : 0) | (c->down.len ? POLLOUT : 0));
				ue = (short)((!c->down.len && !c->down.eof ? POLLIN : 0) | (c->up.len ? POLLOUT : 0));
				break;
			case S_REPLY:
				ce = POLLOUT;
				break;
			default:
				break;
			}
			owner[n] = c;
			p[n++] = (struct pollfd){ .fd = ce ? c->cfd : -1, .events = ce };
			owner[n] = c;
			p[n++] = (struct pollfd){ .fd = ue ? c->ufd : -1, .events = ue };
		}
		int timeout = next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now);
		int pr = poll(p, n, timeout);
		if (stopping) {
			for (size_t i = 0; i < AL_EGRESS_MAX_CONNS; i++)
				if (conns[i].st != S_FREE)
					finish(&conns[i]);
			return 0;
		}
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		now = now_ms();
		for (size_t i = 0; i < cfg->n_listen; i++)
			if (p[i].revents & POLLIN) {
				if (cfg->listen[i].kind == AL_EGRESS_DNS)
					on_dns(&cfg->listen[i]);
				else
					on_accept(&cfg->listen[i]);
			}
		if (p[cfg->n_listen].revents & POLLIN) {
			struct job *j;
			if (read(job_done[0], &j, sizeof j) == (ssize_t)sizeof j)
				resolved(j);
		}
		for (size_t k = cfg->n_listen + 1; k + 1 < n; k += 2) {
			struct conn *c = owner[k];
			short ce = p[k].revents, ue = p[k + 1].revents;
			if (c->st == S_FREE || (p[k].fd < 0 && p[k + 1].fd < 0 && !(c->deadline && c->deadline <= now)))
				continue;
			if (c->deadline && c->deadline <= now && c->st != S_RELAY) {
				if (c->st == S_REPLY)
					finish(c);
				else
					refuse(c, c->st == S_HEAD ? AL_EGRESS_REFUSED : AL_EGRESS_ALLOWED,
					       AL_EGRESS_WHY_TIMEOUT);
				continue;
			}
			if (c->st == S_HEAD && ce)
				on_head(c);
			else if (c->st == S_CONNECT && ue)
				connected(c);
			else if (c->st == S_RELAY && (ce || ue))
				on_relay(c, ce, ue);
			else if (c->st == S_REPLY && ce)
				on_reply(c);
		}
	}
}
