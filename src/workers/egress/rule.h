/*
 * The egress allowlist: one rule per `host:port` of the policy's [egress]
 * allow, and the strict syntax of the hosts in it and in CONNECT requests.
 * Shared by the supervisor (which checks the policy) and airlock-egress
 * (which enforces it).
 *
 *   struct al_egress_rule r;
 *   al_egress_rule_parse("api.github.com:443", &r);   // 0 or -EINVAL
 *   al_egress_rule_name_match(&r, "api.github.com", 443);
 *
 * A host is a DNS name (letters, digits, '-' and '.', labels of 1 to 63,
 * at most 253 in all, compared without case), "*.suffix" (any name ending
 * in .suffix, not suffix itself), an IPv4 address, or an IPv6 address in
 * brackets ("[::1]:8080").
 */
#ifndef AL_EGRESS_RULE_H
#define AL_EGRESS_RULE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define AL_EGRESS_HOST_MAX 253

struct al_egress_rule {
	char host[AL_EGRESS_HOST_MAX + 1]; /* lower case; an address without brackets; "*.x" kept whole */
	uint16_t port;
	bool wildcard;                     /* "*.suffix" */
	int family;                        /* AF_INET or AF_INET6 for an address, 0 for a name */
	uint8_t addr[16];                  /* the address, network order */
};

int al_egress_rule_parse(const char *s, struct al_egress_rule *r);

/* A DNS name as the rules take it (no wildcard, no address). */
bool al_egress_name_ok(const char *host);

/* host (a name as asked, any case) and port match r, a name rule. */
bool al_egress_rule_name_match(const struct al_egress_rule *r, const char *host, uint16_t port);

/* The address (family, 4 or 16 bytes) and port match r, an address rule. */
bool al_egress_rule_addr_match(const struct al_egress_rule *r, int family, const void *addr, uint16_t port);

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as IPv4, in place. */
void al_egress_unmap(int *family, uint8_t addr[16]);

#endif
