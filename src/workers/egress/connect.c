/* The CONNECT head (connect.h): every byte is checked before it is used. */
#include "workers/egress/connect.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

static bool tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A field value: visible ASCII, space and tab (no obs-text: nothing here needs it). */
static bool vchar_or_ws(char c)
{
	return (c >= 0x21 && c <= 0x7e) || c == ' ' || c == '\t';
}

/* host:port of the request target into req; false if malformed. */
static bool authority(const char *s, size_t n, struct al_connect_req *req)
{
	size_t colon = n;
	while (colon > 0 && s[colon - 1] != ':')
		colon--;
	if (colon == 0 || colon == n || n - colon > 5)
		return false;
	unsigned port = 0;
	for (size_t i = colon; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || (i == colon && s[i] == '0'))
			return false;
		port = port * 10 + (unsigned)(s[i] - '0');
	}
	if (port == 0 || port > 65535)
		return false;
	req->port = (uint16_t)port;
	const char *h = s;
	size_t hl = colon - 1;
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
		req->family = AF_INET6;
	}
	if (hl == 0 || hl > AL_EGRESS_HOST_MAX)
		return false;
	memcpy(req->host, h, hl);
	req->host[hl] = '\0';
	if (req->family == AF_INET6) {
		if (inet_pton(AF_INET6, req->host, req->addr) != 1)
			return false;
		al_egress_unmap(&req->family, req->addr);
		return true;
	}
	if (inet_pton(AF_INET, req->host, req->addr) == 1) {
		req->family = AF_INET;
		return true;
	}
	/* a name, and never something that only looks like an address */
	return al_egress_name_ok(req->host) && strspn(req->host, "0123456789.") != hl;
}

/* The request line (without CRLF). 0, -EBADMSG or -ENOTSUP. */
static int request_line(const char *s, size_t n, struct al_connect_req *req)
{
	size_t m = 0;
	while (m < n && m < 16 && s[m] >= 'A' && s[m] <= 'Z')
		m++;
	if (m == 0 || m >= n || s[m] != ' ')
		return -EBADMSG;
	const char *target = s + m + 1;
	const char *sp = memchr(target, ' ', n - m - 1);
	if (!sp)
		return -EBADMSG;
	size_t tl = (size_t)(sp - target), vl = n - m - 1 - tl - 1;
	if (tl == 0 || vl != 8 || (memcmp(sp + 1, "HTTP/1.1", 8) != 0 && memcmp(sp + 1, "HTTP/1.0", 8) != 0))
		return -EBADMSG;
	for (size_t i = 0; i < tl; i++)
		if (target[i] <= 0x20 || target[i] >= 0x7f)
			return -EBADMSG;
	if (m != 7 || memcmp(s, "CONNECT", 7) != 0)
		return -ENOTSUP;
	return authority(target, tl, req) ? 0 : -EBADMSG;
}

/* One field line (without CRLF): name ":" OWS value OWS. */
static bool field_line(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && i < 64 && tchar(s[i]))
		i++;
	if (i == 0 || i >= n || s[i] != ':')
		return false;
	for (i++; i < n; i++)
		if (!vchar_or_ws(s[i]))
			return false;
	return true;
}

ssize_t al_connect_parse(const char *buf, size_t len, struct al_connect_req *req)
{
	memset(req, 0, sizeof *req);
	size_t scan = len < AL_CONNECT_MAX_HEAD ? len : AL_CONNECT_MAX_HEAD;
	size_t start = 0, lines = 0;
	for (size_t i = 0; i < scan; i++) {
		if (buf[i] == '\n')
			return -EBADMSG; /* a bare LF: CRLF is handled below */
		if (buf[i] != '\r')
			continue;
		if (i + 1 >= scan)
			break; /* the LF may still come */
		if (buf[i + 1] != '\n')
			return -EBADMSG;
		size_t n = i - start;
		const char *line = buf + start;
		if (lines == 0) {
			int rc = request_line(line, n, req);
			if (rc < 0)
				return rc;
		} else if (n == 0) {
			return (ssize_t)(i + 2); /* the blank line: the head is whole */
		} else if (lines > AL_CONNECT_MAX_FIELDS || !field_line(line, n)) {
			return -EBADMSG;
		}
		lines++;
		i++;
		start = i + 1;
	}
	/* bytes seen so far are fine; only a head at the cap can no longer end */
	for (size_t i = start; i < scan; i++)
		if (buf[i] != '\r' && !vchar_or_ws(buf[i]))
			return -EBADMSG;
	return len >= AL_CONNECT_MAX_HEAD ? -EBADMSG : 0;
}
