/* The egress allowlist's rules (rule.h). */
#include "workers/egress/rule.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool al_egress_name_ok(const char *h)
{
	size_t n = strlen(h), label = 0;
	if (n == 0 || n > AL_EGRESS_HOST_MAX)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = h[i];
		if (c == '.' || c == '\0') {
			/* labels of 1..63, neither starting nor ending with '-' */
			if (label == 0 || label > 63 || h[i - 1] == '-' || h[i - label] == '-')
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
			label++;
		} else {
			return false;
		}
	}
	return true;
}

static int parse_port(const char *s, uint16_t *out)
{
	size_t n = strlen(s);
	if (n == 0 || n > 5 || strspn(s, "0123456789") != n || (s[0] == '0'))
		return -EINVAL;
	unsigned long v = strtoul(s, NULL, 10);
	if (v == 0 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int al_egress_rule_parse(const char *s, struct al_egress_rule *r)
{
	memset(r, 0, sizeof *r);
	char buf[AL_EGRESS_HOST_MAX + 16];
	size_t n = strlen(s);
	if (n >= sizeof buf)
		return -EINVAL;
	memcpy(buf, s, n + 1);
	char *colon = strrchr(buf, ':');
	if (!colon || parse_port(colon + 1, &r->port) < 0)
		return -EINVAL;
	*colon = '\0';
	char *host = buf;
	size_t hl = strlen(host);
	if (hl > AL_EGRESS_HOST_MAX)
		return -EINVAL; /* r->host holds the whole of it, wildcard and all */
	if (host[0] == '[') {
		if (hl < 3 || host[hl - 1] != ']')
			return -EINVAL;
		host[hl - 1] = '\0';
		host++;
		if (inet_pton(AF_INET6, host, r->addr) != 1)
			return -EINVAL;
		r->family = AF_INET6;
		al_egress_unmap(&r->family, r->addr);
		inet_ntop(r->family, r->addr, r->host, sizeof r->host);
		return 0;
	}
	if (strchr(host, ':'))
		return -EINVAL; /* an IPv6 address needs its brackets */
	if (inet_pton(AF_INET, host, r->addr) == 1) {
		r->family = AF_INET;
		memcpy(r->host, host, hl + 1);
		return 0;
	}
	if (!strncmp(host, "*.", 2)) {
		if (!al_egress_name_ok(host + 2) || !strchr(host + 2, '.'))
			return -EINVAL; /* "*.com" would be most of the world */
		r->wildcard = true;
	} else if (!al_egress_name_ok(host) || strspn(host, "0123456789.") == strlen(host)) {
		return -EINVAL; /* all digits and dots: a malformed address, not a name */
	}
	for (size_t i = 0; host[i]; i++)
		r->host[i] = (char)(host[i] >= 'A' && host[i] <= 'Z' ? host[i] + 32 : host[i]);
	return 0;
}

bool al_egress_rule_name_match(const struct al_egress_rule *r, const char *host, uint16_t port)
{
	if (r->family || r->port != port)
		return false;
	if (!r->wildcard)
		return strcasecmp(r->host, host) == 0;
	size_t hl = strlen(host), sl = strlen(r->host + 1); /* ".suffix" */
	return hl > sl && strcasecmp(host + hl - sl, r->host + 1) == 0;
}

bool al_egress_rule_addr_match(const struct al_egress_rule *r, int family, const void *addr, uint16_t port)
{
	return r->family && r->family == family && r->port == port &&
	       memcmp(r->addr, addr, family == AF_INET ? 4 : 16) == 0;
}

void al_egress_unmap(int *family, uint8_t addr[16])
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (*family == AF_INET6 && memcmp(addr, prefix, sizeof prefix) == 0) {
		memmove(addr, addr + 12, 4);
		memset(addr + 4, 0, 12);
		*family = AF_INET;
	}
}
