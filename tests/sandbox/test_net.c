/*
 * A domain's network (src/sandbox/net.c) on the real kernel: python3 in a
 * tool-profile domain connects, and the runner sees where it arrived.
 *
 *   loopback  lo up and every address local: a connection to a documentation
 *             address (203.0.113.7, 2001:db8::7) reaches the listener the
 *             child made and handed over, with that address as its local
 *             one; a port without a listener or outside the connect ports
 *             goes nowhere;
 *   none      (the default) socket(AF_INET) is refused;
 *   host      the runner's own namespace, attested as shared: a listener of
 *             the runner's on 127.0.0.1 is reached on an allowed port only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "sandbox/sandbox.h"

#define PYTHON "/usr/bin/python3"

/* A client in python: for each "host port" argument pair, connect, send
 * "hi", print what came back or the error's name. */
static const char client_py[] =
	"import socket, sys\n"
	"a = sys.argv[1:]\n"
	"for h, p in zip(a[::2], a[1::2]):\n"
	"    try:\n"
	"        s = socket.create_connection((h, int(p)), timeout=5)\n"
	"        s.sendall(b'hi')\n"
	"        print(h, p, 'got', s.recv(64).decode() or 'eof', flush=True)\n"
	"    except Exception as e:\n"
	"        print(h, p, type(e).__name__, flush=True)\n";

static bool have_python(void)
{
	if (access(PYTHON, X_OK) == 0)
		return true;
	fprintf(stderr, "skipped: no %s for the client in the domain\n", PYTHON);
	return false;
}

struct run {
	struct al_spec s;
	struct al_domain *d;
	int out;
};

static void start(struct run *r, enum al_net_mode net, bool inet, const uint16_t *listen, size_t nl,
		  const uint16_t *conn, size_t nc, char **args)
{
	static char *argv[16];
	size_t k = 0;
	argv[k++] = "python3";
	argv[k++] = "-c";
	argv[k++] = (char *)client_py;
	for (; *args && k < 15; args++)
		argv[k++] = *args;
	argv[k] = NULL;
	al_spec_init(&r->s);
	assert_int_equal(al_profile_load(&r->s, "tool"), 0);
	r->s.accept_unenforced = true;
	r->s.cg_required = false;
	r->s.net = net;
	r->s.inet = inet;
	/* what a TCP client asks of its sockets besides the profile's calls */
	static const char *const sock_calls[] = { "setsockopt", "getsockname", "getpeername" };
	for (size_t i = 0; inet && i < sizeof sock_calls / sizeof *sock_calls; i++)
		assert_int_equal(al_spec_allow_syscall(&r->s, sock_calls[i]), 0);
	for (size_t i = 0; i < nl; i++)
		r->s.listen[r->s.n_listen++] = (struct al_net_listen){ .port = listen[i] };
	for (size_t i = 0; i < nc; i++)
		r->s.tcp_connect[r->s.n_tcp_connect++] = conn[i];
	r->s.exec_fd = open(PYTHON, O_RDONLY | O_CLOEXEC);
	assert_true(r->s.exec_fd >= 0);
	r->s.argv = argv;
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(al_spec_add_fd(&r->s, p[1], 1), 0);
	assert_int_equal(al_seccomp_prepare(&r->s), 0);
	assert_int_equal(al_domain_spawn(&r->s, &r->d), 0);
	const char *failed = NULL;
	int ar = al_domain_attest(r->d, &r->s, NULL, &failed);
	assert_int_equal(ar, 0);
	close(p[1]);
	r->out = p[0];
	assert_int_equal(al_domain_start(r->d), 0);
}

/* Reads the client's output to its end; returns its exit status. */
static int finish(struct run *r, char *out, size_t len)
{
	size_t n = 0;
	ssize_t got;
	while (n < len - 1 && (got = read(r->out, out + n, len - 1 - n)) > 0)
		n += (size_t)got;
	out[n] = '\0';
	close(r->out);
	int st;
	assert_int_equal(al_domain_wait(r->d, &st), 0);
	al_domain_free(r->d);
	close(r->s.exec_fd);
	al_spec_free(&r->s);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* One connection on l: reads "hi", answers with the address it was meant for. */
static void serve_one(int l)
{
	struct pollfd p = { .fd = l, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 10000), 1);
	int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(c >= 0);
	char buf[8] = "";
	assert_int_equal(read(c, buf, 2), 2);
	assert_string_equal(buf, "hi");
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	assert_int_equal(getsockname(c, (struct sockaddr *)&ss, &sl), 0);
	char host[INET6_ADDRSTRLEN] = "", reply[80];
	uint16_t port = 0;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		port = ntohs(s6->sin6_port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		port = ntohs(s4->sin_port);
	}
	snprintf(reply, sizeof reply, "%s/%u", host, port);
	assert_true(write(c, reply, strlen(reply)) > 0);
	close(c);
}

static void test_loopback_anyip(void **state)
{
	(void)state;
	if (!have_python())
		return;
	const uint16_t listen[] = { 443, 8080 }, conn[] = { 443, 8080 };
	char *args[] = { "203.0.113.7", "443", "2001:db8::7", "8080", "203.0.113.7", "22", NULL };
	struct run r;
	start(&r, AL_NET_LOOPBACK, true, listen, 2, conn, 2, args);
	assert_true(al_domain_net_fd(r.d, 0) >= 0);
	assert_true(al_domain_net_fd(r.d, 1) >= 0);
	assert_int_equal(al_domain_net_fd(r.d, 2), -1);
	serve_one(al_domain_net_fd(r.d, 0));
	serve_one(al_domain_net_fd(r.d, 1));
	char out[1024];
	assert_int_equal(finish(&r, out, sizeof out), 0);
	fprintf(stderr, "%s", out);
	/* the address the client meant, v4-mapped on the dual-stack listener */
	assert_non_null(strstr(out, "203.0.113.7 443 got ::ffff:203.0.113.7/443\n"));
	assert_non_null(strstr(out, "2001:db8::7 8080 got 2001:db8::7/8080\n"));
	/* no listener there, and Landlock refuses the port (ABI >= 4) */
	assert_true(strstr(out, "203.0.113.7 22 PermissionError\n") ||
		    strstr(out, "203.0.113.7 22 ConnectionRefusedError\n"));
}

static void test_none_refuses_inet(void **state)
{
	(void)state;
	if (!have_python())
		return;
	char *args[] = { "127.0.0.1", "22", NULL };
	struct run r;
	start(&r, AL_NET_NONE, false, NULL, 0, NULL, 0, args);
	char out[512];
	int st = finish(&r, out, sizeof out);
	/* the tool profile kills on a refused call: socket(AF_INET) is one */
	assert_int_equal(st, 128 + SIGSYS);
}

static void test_host(void **state)
{
	(void)state;
	if (!have_python())
		return;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
	uint16_t port = ntohs(sa.sin_port), other = port == 65535 ? 65534 : port + 1;
	char p1[8], p2[8];
	snprintf(p1, sizeof p1, "%u", port);
	snprintf(p2, sizeof p2, "%u", other);
	char *args[] = { "127.0.0.1", p1, "127.0.0.1", p2, NULL };
	struct run r;
	start(&r, AL_NET_HOST, true, NULL, 0, &port, 1, args);
	serve_one(l);
	char out[512];
	assert_int_equal(finish(&r, out, sizeof out), 0);
	fprintf(stderr, "%s", out);
	char want[64];
	snprintf(want, sizeof want, "127.0.0.1 %u got 127.0.0.1/%u\n", port, port);
	assert_non_null(strstr(out, want));
	/* Landlock (ABI >= 4) refuses the other port; without it, nobody listens */
	snprintf(want, sizeof want, "127.0.0.1 %u PermissionError\n", other);
	char alt[64];
	snprintf(alt, sizeof alt, "127.0.0.1 %u ConnectionRefusedError\n", other);
	assert_true(strstr(out, want) || strstr(out, alt));
	close(l);
}

int main(void)
{
	al_log_init("test_net", AL_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback_anyip),
		cmocka_unit_test(test_none_refuses_inet),
		cmocka_unit_test(test_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
