/*
 * The egress domain's name service for the tool domain: a DNS responder on
 * port 53 of the tool domain's network namespace (every address there is
 * local, so whatever nameserver a resolver is configured with, and glibc's
 * default 127.0.0.1, lands here). It answers a name the allowlist names
 * with an address of its own from 198.18.0.0/15 (RFC 2544's range, never a
 * real host), and every other name with NXDOMAIN. A connection to such an
 * address reaches a direct listener, which maps it back to the name; the
 * egress domain then resolves the name itself. The tool domain never learns
 * a real address.
 *
 * A strict reader of one kind of message, untrusted bytes from the tool
 * domain: a standard query (QR 0, opcode 0), one question, no answer or
 * authority records, at most one additional (EDNS), the name in plain
 * labels (no compression) of letters, digits, '-' and '_', class IN.
 */
#ifndef AL_EGRESS_DNS_H
#define AL_EGRESS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/egress/rule.h"

#define AL_DNS_MAX 512       /* a query over UDP, and our answer */
#define AL_DNS_TYPE_A 1
#define AL_DNS_TYPE_AAAA 28
#define AL_DNS_NOERROR 0
#define AL_DNS_FORMERR 1
#define AL_DNS_SERVFAIL 2
#define AL_DNS_NXDOMAIN 3
#define AL_DNS_NOTIMP 4
#define AL_DNS_REFUSED 5

struct al_dns_query {
	uint16_t id;
	uint16_t qtype;
	bool rd;                           /* recursion desired: echoed */
	char name[AL_EGRESS_HOST_MAX + 1]; /* lower case, no trailing dot */
	size_t question_end;               /* where the question ends in the query */
};

/*
 *  0        a query we answer; *q filled
 * -EBADMSG  too short to answer at all (no header): dropped
 * -EPROTO   a header, but not a query we read: answer FORMERR (or NOTIMP
 *           for another opcode: q->qtype is then 0 and -ENOTSUP is returned)
 */
int al_dns_parse(const uint8_t *buf, size_t len, struct al_dns_query *q);

/* The answer to the query in buf (its header and question copied), with
 * rcode and, for rcode NOERROR and a non-NULL a4, one A record of a4
 * (TTL ttl). Its length, at most AL_DNS_MAX; 0 if out is too small. */
size_t al_dns_answer(const uint8_t *buf, const struct al_dns_query *q, int rcode, const uint8_t a4[4],
		     uint32_t ttl, uint8_t *out, size_t cap);

#endif
