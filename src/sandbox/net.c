/*
 * A domain's network (sandbox.h, enum al_net_mode), in the child, with the
 * capabilities it still has in its own user namespace: no privilege outside
 * it is needed, so an ordinary user gets the same.
 *
 * AL_NET_LOOPBACK: lo up, then a local route for every address (AnyIP,
 * `ip route add local 0.0.0.0/0 dev lo table local` and the same for ::/0):
 * a connection to any address stays in the namespace and reaches whatever
 * listens there on its port, with the address it was meant for as its local
 * address (getsockname). Then the spec's listeners, handed to the runner
 * over the sync socket: the domain keeps none.
 *
 * No allocation and no logging here (spawn.c names the step).
 */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox/sandbox_int.h"

#define LOOPBACK_IFINDEX 1 /* lo is always the namespace's first interface */

static int lo_up(void)
{
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, "lo", 3);
	int rc = ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ? -errno : 0;
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			rc = -errno;
	}
	close(s);
	return rc;
}

/* One RTM_NEWROUTE: local route for every address of family via lo. */
static int anyip(int family)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[RTA_SPACE(sizeof(int))];
	} req;
	memset(&req, 0, sizeof req);
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.rt);
	req.nh.nlmsg_type = RTM_NEWROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	req.nh.nlmsg_seq = 1;
	req.rt.rtm_family = (unsigned char)family;
	req.rt.rtm_dst_len = 0;
	req.rt.rtm_table = RT_TABLE_LOCAL;
	req.rt.rtm_protocol = RTPROT_BOOT;
	req.rt.rtm_scope = RT_SCOPE_HOST;
	req.rt.rtm_type = RTN_LOCAL;
	struct rtattr *a = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
	int oif = LOOPBACK_IFINDEX;
	a->rta_type = RTA_OIF;
	a->rta_len = RTA_LENGTH(sizeof oif);
	memcpy(RTA_DATA(a), &oif, sizeof oif);
	req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(a->rta_len);

	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int rc = 0;
	if (sendto(s, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
		rc = -errno;
	} else {
		union {
			struct nlmsghdr nh;
			char buf[1024];
		} ack;
		ssize_t n = recv(s, &ack, sizeof ack, 0);
		if (n < 0)
			rc = -errno;
		else if ((size_t)n < NLMSG_LENGTH(sizeof(struct nlmsgerr)) || ack.nh.nlmsg_type != NLMSG_ERROR)
			rc = -EPROTO;
		else {
			struct nlmsgerr e;
			memcpy(&e, NLMSG_DATA(&ack.nh), sizeof e);
			rc = e.error; /* 0 or -errno */
		}
	}
	close(s);
	return rc;
}

/* A listener on every address at port: dual-stack where IPv6 is, else IPv4. */
static int make_listener(const struct al_net_listen *l, bool v6)
{
	int type = (l->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC;
	int s = socket(v6 ? AF_INET6 : AF_INET, type, 0);
	if (s < 0)
		return -errno;
	int on = 1, off = 0, rc = 0;
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
	    (v6 && setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) < 0))
		rc = -errno;
	if (rc == 0 && v6) {
		struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(l->port),
					   .sin6_addr = IN6ADDR_ANY_INIT };
		if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0)
			rc = -errno;
	} else if (rc == 0) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(l->port),
					  .sin_addr.s_addr = htonl(INADDR_ANY) };
		if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0)
			rc = -errno;
	}
	if (rc == 0 && !l->udp && listen(s, 64) < 0)
		rc = -errno;
	if (rc < 0) {
		close(s);
		return rc;
	}
	return s;
}

int al_net_apply(const struct al_spec *spec, int sync_fd)
{
	if (spec->net != AL_NET_LOOPBACK)
		return 0;
	int rc = lo_up();
	if (rc == 0)
		rc = anyip(AF_INET);
	if (rc < 0)
		return rc;
	/* IPv6 may be off in this kernel: then the domain is IPv4 only */
	bool v6 = anyip(AF_INET6) == 0;
	if (!spec->n_listen)
		return 0;
	int fds[AL_SANDBOX_MAX_PORTS];
	size_t n = 0;
	for (; n < spec->n_listen && n < AL_SANDBOX_MAX_PORTS; n++) {
		if ((fds[n] = make_listener(&spec->listen[n], v6)) < 0) {
			rc = fds[n];
			break;
		}
	}
	if (rc == 0) {
		struct al_sync_msg m = { .kind = AL_SYNC_NET_FDS, .value = (int32_t)n };
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int) * AL_SANDBOX_MAX_PORTS)];
		} ctl;
		memset(&ctl, 0, sizeof ctl);
		struct iovec iov = { .iov_base = &m, .iov_len = sizeof m };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
				     .msg_controllen = CMSG_SPACE(sizeof(int) * n) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
		ssize_t w = sendmsg(sync_fd, &mh, MSG_NOSIGNAL);
		if (w < 0)
			rc = -errno;
		else if (w != (ssize_t)sizeof m)
			rc = -EPROTO;
	}
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	return rc;
}
