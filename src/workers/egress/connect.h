/*
 * The one request airlock-egress understands: the head of an HTTP/1.1
 * CONNECT (RFC 9110 9.3.6), as a proxy client sends it before tunnelling.
 * A strict reader of untrusted bytes, no more than that head:
 *
 *   CONNECT host:port HTTP/1.1 CRLF       (or HTTP/1.0; host a name, an IPv4
 *   Name: value CRLF                       address or [IPv6]; port 1..65535)
 *   ... (at most 64 fields)
 *   CRLF
 *
 * Every line ends in CRLF; a bare CR or LF, a control byte, a folded line, a
 * field name outside the token characters or a head over 8 KiB is refused.
 * Fields are checked for shape and otherwise ignored (no body is ever read:
 * what follows the head is the tunnel's first bytes).
 */
#ifndef AL_EGRESS_CONNECT_H
#define AL_EGRESS_CONNECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "workers/egress/rule.h"

#define AL_CONNECT_MAX_HEAD 8192
#define AL_CONNECT_MAX_FIELDS 64

struct al_connect_req {
	char host[AL_EGRESS_HOST_MAX + 1]; /* a name as sent, or an address without brackets */
	uint16_t port;
	int family;                        /* AF_INET/AF_INET6 when host is an address, else 0 */
	uint8_t addr[16];
};

/*
 * The head at the start of buf[0..len):
 *   > 0        its length, through the blank line; *req filled
 *   0          not whole yet (and len < AL_CONNECT_MAX_HEAD)
 *   -EBADMSG   malformed, or over AL_CONNECT_MAX_HEAD
 *   -ENOTSUP   a well-formed request line of another method (answer 405)
 */
ssize_t al_connect_parse(const char *buf, size_t len, struct al_connect_req *req);

#endif
