/* Network: TCP connect to loopback and to a link-local address, netlink,
 * packet and vsock sockets, abstract unix sockets. Nothing is ever sent off
 * the machine: the loopback port is closed, the link-local connect is made
 * in TCP repair mode where allowed (no SYN is sent) and otherwise never
 * waited for. */
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef TCP_REPAIR
#define TCP_REPAIR 19
#endif

static int tcp_connect(const char *ip, int port, int no_wait)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	atk_reached("socket");
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int repair = 0;

	if (fd < 0)
		return atk_failed(errno, "socket(AF_INET, SOCK_STREAM)");
	inet_pton(AF_INET, ip, &sa.sin_addr);
	if (no_wait) {
		int one = 1;
		/* In repair mode connect() does all its checks and sends nothing. */
		repair = setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &one, sizeof(one)) == 0;
		fcntl(fd, F_SETFL, O_NONBLOCK);
	} else {
		struct timeval tv = { 2, 0 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	atk_reached("connect");
	int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	close(fd);
	if (r == 0)
		return atk_escaped("connect %s:%d succeeded%s", ip, port, repair ? " (repair mode, no packet sent)" : "");
	if (e == ECONNREFUSED)
		return atk_escaped("connect %s:%d reached a TCP stack (ECONNREFUSED)", ip, port);
	if (e == EINPROGRESS)
		return atk_escaped("connect %s:%d was allowed and routed (EINPROGRESS, not waited for)", ip, port);
	return atk_failed(e, "connect");
}

int atk_tcp_loopback(int argc, char **argv)
{
	long port = atk_arg_long(argc, argv, 1, 1);

	return tcp_connect("127.0.0.1", port > 0 && port < 65536 ? (int)port : 1, 0);
}

int atk_tcp_linklocal(int argc, char **argv)
{
	return tcp_connect("169.254.0.1", 9, 1);
}

static int make_socket(int domain, int type, int proto, const char *label)
{
	atk_reached("socket");
	int fd = socket(domain, type | SOCK_CLOEXEC, proto);

	if (fd < 0)
		return atk_failed(errno, label);
	close(fd);
	return atk_escaped("%s created", label);
}

int atk_netlink(int argc, char **argv)
{
	return make_socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, "socket(AF_NETLINK, NETLINK_ROUTE)");
}

int atk_packet(int argc, char **argv)
{
	return make_socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL), "socket(AF_PACKET, SOCK_RAW)");
}

int atk_vsock(int argc, char **argv)
{
	/* vsock is not namespaced: a socket here could reach the hypervisor. */
	return make_socket(AF_VSOCK, SOCK_STREAM, 0, "socket(AF_VSOCK)");
}

static socklen_t abstract_addr(struct sockaddr_un *sa, const char *name)
{
	size_t n = strlen(name);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n > sizeof(sa->sun_path) - 1)
		n = sizeof(sa->sun_path) - 1;
	memcpy(sa->sun_path + 1, name, n); /* sun_path[0] = 0: abstract */
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

int atk_abstract_bind(int argc, char **argv)
{
	struct sockaddr_un sa;
	char name[64];
	atk_reached("socket");
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return atk_failed(errno, "socket(AF_UNIX)");
	snprintf(name, sizeof(name), "airlock-attack-bind-%d", (int)getpid());
	socklen_t len = abstract_addr(&sa, name);
	atk_reached("bind");
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		int e = errno;
		close(fd);
		return atk_failed(e, "bind abstract");
	}
	close(fd);
	return atk_escaped("bound abstract socket @%s", name);
}

/* Connects to an abstract socket that the runner listens on outside. */
int atk_abstract_connect(int argc, char **argv)
{
	struct sockaddr_un sa;
	const char *name = argc > 1 ? argv[1] : "airlock-attack-abstract";
	atk_reached("socket");
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return atk_failed(errno, "socket(AF_UNIX)");
	socklen_t len = abstract_addr(&sa, name);
	atk_reached("connect");
	if (connect(fd, (struct sockaddr *)&sa, len) < 0) {
		int e = errno;
		close(fd);
		return atk_failed(e, "connect abstract");
	}
	close(fd);
	return atk_escaped("connected to abstract socket @%s", name);
}

/* UDP is outside Landlock's network rules (TCP only): one datagram to the
 * discard port on loopback. It never leaves the machine. */
int atk_udp_loopback(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9) };
	atk_reached("socket");
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return atk_failed(errno, "socket(AF_INET, SOCK_DGRAM)");
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	atk_reached("sendto");
	ssize_t n = sendto(fd, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	close(fd);
	if (n == 1)
		return atk_escaped("sent a UDP datagram to 127.0.0.1:9");
	return atk_failed(e, "sendto");
}
