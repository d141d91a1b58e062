/*
 * The control socket: requests answered, malformed records refused, a
 * stranger's connection refused by its credentials, the socket created 0600.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/control.h"

static char sock_path[108];

/* A server child that answers `count` connections, each with {"ok":true,"op":N}. */
static pid_t serve(int count)
{
	int lfd = al_control_listen(sock_path);
	assert_true(lfd >= 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (int i = 0; i < count; i++) {
			struct pollfd p = {.fd = lfd, .events = POLLIN};
			if (poll(&p, 1, 5000) != 1)
				_exit(3);
			int cfd = al_control_accept(lfd);
			if (cfd == -EPERM)
				continue;
			if (cfd < 0)
				_exit(4);
			struct al_control_req req;
			int rc = al_control_read_request(cfd, &req);
			json_t *r = rc < 0 ? json_pack("{s:b, s:s}", "ok", 0, "error", "malformed request")
					   : json_pack("{s:b, s:i}", "ok", 1, "op", (int)req.op);
			al_control_reply(cfd, r);
			json_decref(r);
			close(cfd);
		}
		_exit(0);
	}
	close(lfd);
	return pid;
}

static int reap(pid_t pid)
{
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static void test_call_roundtrip(void **state)
{
	(void)state;
	pid_t srv = serve(2);
	struct stat st;
	assert_int_equal(stat(sock_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	json_t *r = NULL;
	assert_int_equal(al_control_call(sock_path, AL_CONTROL_STATUS, 0, &r), 0);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(json_integer_value(json_object_get(r, "op")), AL_CONTROL_STATUS);
	json_decref(r);
	assert_int_equal(al_control_call(sock_path, AL_CONTROL_STOP, 0, &r), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "op")), AL_CONTROL_STOP);
	json_decref(r);
	assert_int_equal(reap(srv), 0);
}

static void send_raw_expect_refusal(const void *msg, size_t len)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, sock_path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(send(fd, msg, len, 0), (ssize_t)len);
	char buf[512];
	ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "malformed request"));
	close(fd);
}

static void test_malformed_requests(void **state)
{
	(void)state;
	pid_t srv = serve(5);
	struct al_control_req good = {AL_CONTROL_MAGIC, AL_CONTROL_VERSION, AL_CONTROL_STATUS, 0};
	struct al_control_req bad = good;
	bad.magic = 0x12345678;
	send_raw_expect_refusal(&bad, sizeof bad);
	bad = good;
	bad.version = 99;
	send_raw_expect_refusal(&bad, sizeof bad);
	bad = good;
	bad.op = 0xffffffffu;
	send_raw_expect_refusal(&bad, sizeof bad);
	send_raw_expect_refusal(&good, sizeof good - 1);       /* short */
	char longer[sizeof good + 8] = {0};
	memcpy(longer, &good, sizeof good);
	send_raw_expect_refusal(longer, sizeof longer);          /* trailing bytes */
	assert_int_equal(reap(srv), 0);
}

static void test_stranger_refused(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	pid_t srv = serve(2);
	/* The socket is 0600: another uid cannot even connect... */
	pid_t c = fork();
	if (c == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(9);
		json_t *r;
		int rc = al_control_call(sock_path, AL_CONTROL_STATUS, 0, &r);
		_exit(rc == -EACCES ? 0 : 1);
	}
	assert_int_equal(reap(c), 0);
	/* ...and with the mode opened up, the credential check still refuses it. */
	chmod(sock_path, 0666);
	c = fork();
	if (c == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(9);
		json_t *r = NULL;
		int rc = al_control_call(sock_path, AL_CONTROL_STOP, 0, &r);
		_exit(rc == 0 ? 1 : 0);
	}
	assert_int_equal(reap(c), 0);
	/* The owner is still served afterwards. */
	json_t *r = NULL;
	assert_int_equal(al_control_call(sock_path, AL_CONTROL_STATUS, 0, &r), 0);
	json_decref(r);
	assert_int_equal(reap(srv), 0);
}

static void test_live_socket_not_stolen(void **state)
{
	(void)state;
	int lfd = al_control_listen(sock_path);
	assert_true(lfd >= 0);
	/* A second supervisor must not replace a socket that answers. */
	assert_int_equal(al_control_listen(sock_path), -EADDRINUSE);
	close(lfd);
	/* Once nobody listens, the stale socket is replaced. */
	lfd = al_control_listen(sock_path);
	assert_true(lfd >= 0);
	close(lfd);
}

static int setup(void **state)
{
	(void)state;
	snprintf(sock_path, sizeof sock_path, "/tmp/al_ctl_test_%d.sock", (int)getpid());
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(sock_path);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_call_roundtrip),
		cmocka_unit_test(test_malformed_requests),
		cmocka_unit_test(test_stranger_refused),
		cmocka_unit_test(test_live_socket_not_stolen),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
