/* The tool domain's DNS queries (dns.h): every byte checked before use. */
#include "workers/egress/dns.h"

#include <errno.h>
#include <string.h>

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int al_dns_parse(const uint8_t *buf, size_t len, struct al_dns_query *q)
{
	memset(q, 0, sizeof *q);
	if (len < 12)
		return -EBADMSG;
	q->id = get16(buf);
	uint8_t f1 = buf[2];
	q->rd = f1 & 1;
	if (f1 & 0x80)
		return -EBADMSG; /* a response: never answered, or two resolvers could ping-pong */
	if (len > AL_DNS_MAX)
		return -EPROTO;
	if ((f1 >> 3 & 0xf) != 0)
		return -ENOTSUP;
	if (get16(buf + 4) != 1 || get16(buf + 6) != 0 || get16(buf + 8) != 0 || get16(buf + 10) > 1)
		return -EPROTO;
	size_t off = 12, n = 0;
	for (;;) {
		if (off >= len)
			return -EPROTO;
		uint8_t l = buf[off++];
		if (l == 0)
			break;
		if (l > 63 || off + l > len || n + l + (n ? 1 : 0) > AL_EGRESS_HOST_MAX)
			return -EPROTO; /* 0xc0 and up (compression) is over 63 too */
		if (n)
			q->name[n++] = '.';
		for (uint8_t i = 0; i < l; i++) {
			char c = (char)buf[off + i];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c + 32);
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
				return -EPROTO;
			q->name[n++] = c;
		}
		off += l;
	}
	if (n == 0 || off + 4 > len)
		return -EPROTO; /* the root, or no type and class */
	q->name[n] = '\0';
	q->qtype = get16(buf + off);
	if (get16(buf + off + 2) != 1)
		return -EPROTO; /* class IN only */
	q->question_end = off + 4;
	return 0;
}

size_t al_dns_answer(const uint8_t *buf, const struct al_dns_query *q, int rcode, const uint8_t a4[4],
		     uint32_t ttl, uint8_t *out, size_t cap)
{
	size_t qlen = q->question_end > 12 ? q->question_end : 12;
	bool answer = rcode == AL_DNS_NOERROR && a4 && q->question_end > 12;
	size_t total = qlen + (answer ? 16 : 0);
	if (cap < total || total > AL_DNS_MAX)
		return 0;
	memcpy(out, buf, qlen);
	out[2] = (uint8_t)(0x80 | (q->rd ? 1 : 0)); /* QR, opcode 0, not authoritative, RD echoed */
	out[3] = (uint8_t)(0x80 | (rcode & 0xf));   /* RA */
	put16(out + 4, q->question_end > 12 ? 1 : 0);
	put16(out + 6, answer ? 1 : 0);
	put16(out + 8, 0);
	put16(out + 10, 0);
	if (answer) {
		uint8_t *a = out + qlen;
		put16(a, 0xc00c); /* the question's name */
		put16(a + 2, AL_DNS_TYPE_A);
		put16(a + 4, 1);
		put16(a + 6, (uint16_t)(ttl >> 16));
		put16(a + 8, (uint16_t)ttl);
		put16(a + 10, 4);
		memcpy(a + 12, a4, 4);
	}
	return total;
}
