/* The egress domain's DNS queries (workers/egress/dns.h) over hostile bytes,
 * and the answers made to them. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "workers/egress/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_dns_query q;
	uint8_t out[AL_DNS_MAX];
	static const uint8_t a4[4] = { 198, 18, 0, 1 };
	int rc = al_dns_parse(data, size, &q);
	if (rc == -EBADMSG)
		return 0;
	if (rc != 0 && rc != -EPROTO && rc != -ENOTSUP)
		__builtin_trap();
	if (rc == 0) {
		if (q.question_end > size || q.question_end < 17 || !q.name[0] ||
		    !memchr(q.name, '\0', sizeof q.name))
			__builtin_trap();
		for (const char *c = q.name; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' ||
			      *c == '.'))
				__builtin_trap();
	}
	size_t m = al_dns_answer(data, &q, rc == 0 ? AL_DNS_NOERROR : AL_DNS_FORMERR, rc == 0 ? a4 : NULL, 60, out,
				 sizeof out);
	/* an answer to what was asked: its id, marked a response, within a UDP message */
	if (m < 12 || m > AL_DNS_MAX || memcmp(out, data, 2) != 0 || !(out[2] & 0x80))
		__builtin_trap();
	return 0;
}
