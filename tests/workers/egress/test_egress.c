/*
 * The egress domain's parsers, without domains: the allowlist's rules
 * (rule.c), the CONNECT head (connect.c) and the DNS query (dns.c). The supervisor's side (records,
 * policy keys, learn mode) is in tests/supervisor/test_gate_egress.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "workers/egress/connect.h"
#include "workers/egress/dns.h"
#include "workers/egress/rule.h"

static void test_rules(void **state)
{
	(void)state;
	struct al_egress_rule r;
	assert_int_equal(al_egress_rule_parse("API.GitHub.com:443", &r), 0);
	assert_string_equal(r.host, "api.github.com");
	assert_int_equal(r.port, 443);
	assert_true(al_egress_rule_name_match(&r, "api.github.COM", 443));
	assert_false(al_egress_rule_name_match(&r, "api.github.com", 80));
	assert_false(al_egress_rule_name_match(&r, "evil-api.github.com", 443));
	assert_false(al_egress_rule_name_match(&r, "github.com", 443));

	assert_int_equal(al_egress_rule_parse("*.npmjs.org:443", &r), 0);
	assert_true(r.wildcard);
	assert_true(al_egress_rule_name_match(&r, "registry.npmjs.org", 443));
	assert_true(al_egress_rule_name_match(&r, "a.b.npmjs.org", 443));
	assert_false(al_egress_rule_name_match(&r, "npmjs.org", 443));
	assert_false(al_egress_rule_name_match(&r, "evilnpmjs.org", 443));

	uint8_t a[16];
	assert_int_equal(al_egress_rule_parse("127.0.0.1:8080", &r), 0);
	assert_int_equal(r.family, AF_INET);
	inet_pton(AF_INET, "127.0.0.1", a);
	assert_true(al_egress_rule_addr_match(&r, AF_INET, a, 8080));
	assert_false(al_egress_rule_addr_match(&r, AF_INET, a, 8081));
	assert_false(al_egress_rule_name_match(&r, "127.0.0.1", 8080));

	assert_int_equal(al_egress_rule_parse("[2001:db8::1]:443", &r), 0);
	assert_int_equal(r.family, AF_INET6);
	assert_string_equal(r.host, "2001:db8::1");
	/* a v4-mapped address is the IPv4 address */
	assert_int_equal(al_egress_rule_parse("[::ffff:10.0.0.1]:22", &r), 0);
	assert_int_equal(r.family, AF_INET);
	assert_string_equal(r.host, "10.0.0.1");

	static const char *const bad[] = {
		"", "host", "host:", ":443", "host:0", "host:65536", "host:080", "host:+1", "host:44a",
		"2001:db8::1:443", "[2001:db8::1]", "[nonsense]:1", "*.com:443", "*:443", "a*.b.com:1",
		"-bad.com:1", "bad-.com:1", "a..b:1", "256.1.1.1:1", "1.2.3:1", "white space:1", "ex_ample.com:1",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com:1", /* a 64-byte label */
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (al_egress_rule_parse(bad[i], &r) == 0)
			fail_msg("accepted: '%s'", bad[i]);
	}
	/* the longest name fits; a wildcard over it does not */
	char longest[300] = "*.";
	for (int i = 0; i < 3; i++)
		strcat(longest, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."); /* 63 + dot */
	strcat(longest, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1"); /* 61: 253 in all */
	assert_int_equal(al_egress_rule_parse(longest + 2, &r), 0);
	assert_int_equal(strlen(r.host), AL_EGRESS_HOST_MAX);
	assert_int_equal(al_egress_rule_parse(longest, &r), -EINVAL);
}

static ssize_t parse(const char *s, struct al_connect_req *q)
{
	return al_connect_parse(s, strlen(s), q);
}

static void test_connect(void **state)
{
	(void)state;
	struct al_connect_req q;
	const char *ok = "CONNECT api.github.com:443 HTTP/1.1\r\nHost: api.github.com:443\r\n"
			 "User-Agent: curl/8.0\r\nProxy-Connection: Keep-Alive\r\n\r\n\x16\x03\x01";
	ssize_t n = parse(ok, &q);
	assert_int_equal(n, (ssize_t)strlen(ok) - 3); /* the TLS bytes after the head are not its */
	assert_string_equal(q.host, "api.github.com");
	assert_int_equal(q.port, 443);
	assert_int_equal(q.family, 0);

	assert_true(parse("CONNECT 127.0.0.1:8080 HTTP/1.0\r\n\r\n", &q) > 0);
	assert_int_equal(q.family, AF_INET);
	assert_true(parse("CONNECT [::1]:8080 HTTP/1.1\r\n\r\n", &q) > 0);
	assert_int_equal(q.family, AF_INET6);
	assert_string_equal(q.host, "::1");

	/* not whole yet: wait */
	assert_int_equal(parse("CONNECT a.b:1 HTTP/1.1\r\nHost: a", &q), 0);
	assert_int_equal(parse("CONNECT a.b:1 HTTP/1.1\r\n\r", &q), 0);
	assert_int_equal(parse("CONN", &q), 0);
	assert_int_equal(parse("", &q), 0);

	/* another method: 405 */
	assert_int_equal(parse("GET http://a.b/ HTTP/1.1\r\n\r\n", &q), -ENOTSUP);

	static const char *const bad[] = {
		"CONNECT a.b:1 HTTP/1.1\n\n",              /* bare LF */
		"CONNECT a.b:1 HTTP/1.1\r\r\n\r\n",        /* bare CR */
		"CONNECT a.b:1 HTTP/2\r\n\r\n",
		"CONNECT a.b:1 HTTP/1.1 \r\n\r\n",
		"CONNECT  a.b:1 HTTP/1.1\r\n\r\n",
		"CONNECT a.b HTTP/1.1\r\n\r\n",            /* no port */
		"CONNECT a.b:0 HTTP/1.1\r\n\r\n",
		"CONNECT a.b:99999 HTTP/1.1\r\n\r\n",
		"CONNECT a.b:1x HTTP/1.1\r\n\r\n",
		"CONNECT :443 HTTP/1.1\r\n\r\n",
		"CONNECT a_b.c:1 HTTP/1.1\r\n\r\n",
		"CONNECT ::1:443 HTTP/1.1\r\n\r\n",        /* IPv6 without brackets */
		"CONNECT [::1:443 HTTP/1.1\r\n\r\n",
		"CONNECT 1.2.3.999:443 HTTP/1.1\r\n\r\n",  /* all digits: not a name */
		"CONNECT a.b:1 HTTP/1.1\r\nNo colon\r\n\r\n",
		"CONNECT a.b:1 HTTP/1.1\r\n: empty name\r\n\r\n",
		"CONNECT a.b:1 HTTP/1.1\r\nHo st: x\r\n\r\n",
		"CONNECT a.b:1 HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
		"CONNECT a.b:1 HTTP/1.1\r\nHost: \x01\r\n\r\n",
		"connect a.b:1 HTTP/1.1\r\n\r\n",
		"\r\n\r\n",
		"CONNECT a.b:1 HTTP/1.1\r\nX: \x80\r\n",   /* partial, but already wrong */
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ssize_t r = parse(bad[i], &q);
		if (r != -EBADMSG)
			fail_msg("bad[%zu] gave %zd", i, r);
	}
	/* a head that never ends is refused at the cap */
	size_t big = AL_CONNECT_MAX_HEAD + 10;
	char *b = malloc(big);
	assert_non_null(b);
	strcpy(b, "CONNECT a.b:1 HTTP/1.1\r\nX: ");
	memset(b + strlen(b), 'a', big - strlen(b));
	assert_int_equal(al_connect_parse(b, big, &q), -EBADMSG);
	/* as are more than AL_CONNECT_MAX_FIELDS fields */
	strcpy(b, "CONNECT a.b:1 HTTP/1.1\r\n");
	for (int i = 0; i <= AL_CONNECT_MAX_FIELDS + 1; i++)
		strcat(b, "X: y\r\n");
	strcat(b, "\r\n");
	assert_int_equal(parse(b, &q), -EBADMSG);
	free(b);
}

/* A query for name (dotted) of type, as glibc sends it. */
static size_t query(uint8_t *b, const char *name, uint16_t type)
{
	static const uint8_t head[12] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
	memcpy(b, head, sizeof head);
	size_t n = 12;
	while (*name) {
		size_t l = strcspn(name, ".");
		b[n++] = (uint8_t)l;
		memcpy(b + n, name, l);
		n += l;
		name += l + (name[l] == '.');
	}
	b[n++] = 0;
	b[n++] = (uint8_t)(type >> 8);
	b[n++] = (uint8_t)type;
	b[n++] = 0;
	b[n++] = 1;
	return n;
}

static void test_dns(void **state)
{
	(void)state;
	uint8_t b[600], out[AL_DNS_MAX];
	struct al_dns_query q;
	size_t n = query(b, "API.GitHub.com", AL_DNS_TYPE_A);
	assert_int_equal(al_dns_parse(b, n, &q), 0);
	assert_string_equal(q.name, "api.github.com");
	assert_int_equal(q.qtype, AL_DNS_TYPE_A);
	assert_int_equal(q.id, 0x1234);
	assert_true(q.rd);
	assert_int_equal(q.question_end, n);
	/* the answer: header, the question, one A record */
	static const uint8_t a4[4] = { 198, 18, 0, 1 };
	size_t m = al_dns_answer(b, &q, AL_DNS_NOERROR, a4, 60, out, sizeof out);
	assert_int_equal(m, n + 16);
	assert_int_equal(out[0], 0x12);
	assert_int_equal(out[2], 0x81);
	assert_int_equal(out[3], 0x80);
	assert_int_equal(out[7], 1); /* ancount */
	assert_memory_equal(out + 12, b + 12, n - 12);
	assert_memory_equal(out + n, "\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04", 12);
	assert_memory_equal(out + n + 12, a4, 4);
	/* NXDOMAIN: no answer */
	m = al_dns_answer(b, &q, AL_DNS_NXDOMAIN, NULL, 60, out, sizeof out);
	assert_int_equal(m, n);
	assert_int_equal(out[3], 0x83);
	assert_int_equal(out[7], 0);
	/* an EDNS additional record is allowed (and not read) */
	b[11] = 1;
	assert_int_equal(al_dns_parse(b, n, &q), 0);
	b[11] = 0;

	/* what is not a query we answer */
	assert_int_equal(al_dns_parse(b, 11, &q), -EBADMSG);
	b[2] |= 0x80; /* a response */
	assert_int_equal(al_dns_parse(b, n, &q), -EBADMSG);
	b[2] = 0x01 | (2 << 3); /* opcode STATUS */
	assert_int_equal(al_dns_parse(b, n, &q), -ENOTSUP);
	b[2] = 0x01;
	static const struct { size_t at; uint8_t v; } breaks[] = {
		{ 5, 2 },   /* two questions */
		{ 7, 1 },   /* an answer */
		{ 9, 1 },   /* an authority record */
		{ 11, 2 },  /* two additional */
		{ 12, 0xc0 }, /* a compression pointer */
		{ 12, 64 }, /* a label over 63 */
		{ 13, ' ' },  /* a character outside letters, digits, '-', '_' */
		{ 13, 0 },    /* a NUL in a label */
	};
	for (size_t i = 0; i < sizeof breaks / sizeof *breaks; i++) {
		uint8_t c[600];
		memcpy(c, b, n);
		c[breaks[i].at] = breaks[i].v;
		if (al_dns_parse(c, n, &q) != -EPROTO)
			fail_msg("break %zu was read", i);
	}
	assert_int_equal(al_dns_parse(b, n - 1, &q), -EPROTO);  /* no class */
	n = query(b, "a.b", AL_DNS_TYPE_A);
	b[n - 1] = 3; /* class CHAOS */
	assert_int_equal(al_dns_parse(b, n, &q), -EPROTO);
	n = query(b, "", AL_DNS_TYPE_A); /* the root */
	assert_int_equal(al_dns_parse(b, n, &q), -EPROTO);
	/* a name of 254 characters */
	char longname[300] = "";
	for (int i = 0; i < 4; i++)
		strcat(longname, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."); /* 64 */
	longname[254] = '\0';
	n = query(b, longname, AL_DNS_TYPE_A);
	assert_int_equal(al_dns_parse(b, n, &q), -EPROTO);
	longname[253] = '\0';
	n = query(b, longname, AL_DNS_TYPE_A);
	assert_int_equal(al_dns_parse(b, n, &q), 0);
	/* FORMERR to a readable header: the header only */
	memset(&q, 0, sizeof q);
	q.id = 0x1234;
	m = al_dns_answer(b, &q, AL_DNS_FORMERR, NULL, 0, out, sizeof out);
	assert_int_equal(m, 12);
	assert_int_equal(out[3], 0x81);
	assert_int_equal(out[5], 0);
	/* too small a buffer: nothing */
	assert_int_equal(al_dns_answer(b, &q, AL_DNS_FORMERR, NULL, 0, out, 11), 0);
}

int main(void)
{
	al_log_init("test_egress", AL_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_dns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
