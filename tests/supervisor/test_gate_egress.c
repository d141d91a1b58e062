/*
 * `airlock gate`'s egress and learn mode on the supervisor's side, without
 * domains: the egress records as the supervisor reads them (hostile bytes),
 * the policy's [egress] and learn keys, and learn mode's proposal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/gate_egress.h"
#include "supervisor/gate_int.h"
#include "testdir.h"

static void count(void *ctx, const struct al_egress_record *r)
{
	(void)r;
	(*(int *)ctx)++;
}

static void test_records(void **state)
{
	(void)state;
	struct al_egress_record r[3];
	memset(r, 0, sizeof r);
	for (int i = 0; i < 3; i++) {
		r[i] = (struct al_egress_record){ .magic = AL_EGRESS_RECORD_MAGIC, .verdict = AL_EGRESS_ALLOWED,
						  .port = 443, .via = AL_EGRESS_VIA_PROXY, .bytes_out = 5 };
		strcpy(r[i].host, "api.github.com");
	}
	bool lied;
	int seen = 0;
	/* whole records only */
	assert_int_equal(al_gate_egress_scan((void *)r, sizeof r - 1, &lied, count, &seen), 2 * sizeof r[0]);
	assert_false(lied);
	assert_int_equal(seen, 2);
	/* a lie stops the reading there */
	seen = 0;
	r[1].host[5] = '\x1b';
	assert_int_equal(al_gate_egress_scan((void *)r, sizeof r, &lied, count, &seen), sizeof r[0]);
	assert_true(lied);
	assert_int_equal(seen, 1);
	r[1].host[5] = 'x';
	memset(r[1].addr, 'a', sizeof r[1].addr); /* unterminated */
	assert_int_equal(al_gate_egress_scan((void *)r, sizeof r, &lied, count, &seen), sizeof r[0]);
	assert_true(lied);
	r[1].addr[0] = '\0';
	r[1].reason = AL_EGRESS_WHY_MAX;
	al_gate_egress_scan((void *)r, sizeof r, &lied, count, &seen);
	assert_true(lied);
	r[1].reason = 0;
	r[1].verdict = 0;
	al_gate_egress_scan((void *)r, sizeof r, &lied, count, &seen);
	assert_true(lied);
}

static int load(struct al_gate_policy *p, const char *text)
{
	al_gate_policy_init(p, "t");
	return al_gate_policy_load_mem(p, text, strlen(text), "test.ini");
}

static void test_policy_keys(void **state)
{
	(void)state;
	struct al_gate_policy p;
	assert_int_equal(load(&p, "[gate]\nlearn = true\n[egress]\nallow = api.github.com:443, *.npmjs.org:443\n"
				  "allow = [::1]:8080 api.github.com:443\n"),
			 0);
	assert_true(p.learn);
	assert_int_equal(p.n_egress, 3); /* once each */
	assert_string_equal(p.egress[2], "[::1]:8080");
	al_gate_policy_free(&p);
	assert_int_equal(load(&p, "[tool]\nprofile = tool\n"), 0);
	assert_int_equal(p.n_egress, 0);
	assert_false(p.learn);
	al_gate_policy_free(&p);
	/* more ports than the egress domain holds listeners for: refused when the run starts */
	char many[2048] = "[egress]\n";
	for (int i = 0; i < AL_GATE_EGRESS_MAX_PORTS + 1; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "allow = a.b:%d\n", 1000 + i);
	assert_int_equal(load(&p, many), 0);
	struct al_gate_egress *e = (void *)1;
	assert_int_equal(al_gate_egress_new(&e, &p, NULL, NULL), -E2BIG);
	assert_null(e);
	al_gate_policy_free(&p);
	assert_int_equal(load(&p, "[egress]\nallow = a.b:1, c.d:1, e.f:2\n"), 0);
	assert_int_equal(al_gate_egress_new(&e, &p, NULL, NULL), 0);
	assert_non_null(e);
	struct al_spec s;
	al_spec_init(&s);
	assert_int_equal(al_gate_egress_tool_spec(e, &s), 0);
	/* the proxy, one direct listener per port, DNS; connect to the TCP ones only */
	assert_int_equal(s.net, AL_NET_LOOPBACK);
	assert_true(s.inet);
	assert_int_equal(s.n_listen, 4);
	assert_int_equal(s.listen[0].port, AL_GATE_EGRESS_PROXY_PORT);
	assert_int_equal(s.listen[1].port, 1);
	assert_int_equal(s.listen[2].port, 2);
	assert_true(s.listen[3].udp && s.listen[3].port == 53);
	assert_int_equal(s.n_tcp_connect, 3);
	char *env[8] = { 0 };
	assert_int_equal(al_gate_egress_env(e, env, 8), 4);
	assert_string_equal(env[0], "HTTPS_PROXY=http://127.0.0.1:3128");
	for (int i = 0; env[i]; i++)
		free(env[i]);
	al_spec_free(&s);
	al_gate_egress_free(e);
	al_gate_policy_free(&p);
	static const char *const bad[] = { "[egress]\nallow = api.github.com\n", "[egress]\nallow = *:443\n",
					   "[egress]\ndeny = a.b:1\n", "[gate]\nlearn = maybe\n" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(load(&p, bad[i]), -EINVAL);
		al_gate_policy_free(&p);
	}
}

static void test_learn(void **state)
{
	(void)state;
	char dir[64];
	assert_int_equal(t_mkdtemp(dir, sizeof dir, "al_learn"), 0);
	struct al_gate_policy p;
	assert_int_equal(load(&p, "[tools]\nallow = echo\n"), 0);
	struct al_gate_learn *l = NULL;
	assert_int_equal(al_gate_learn_new(&l, &p), 0);
	assert_null(l); /* not learning: nothing to do */
	p.learn = true;
	assert_int_equal(al_gate_learn_new(&l, &p), 0);
	assert_non_null(l);
	struct al_gate_record g = { .magic = AL_GATE_RECORD_MAGIC, .event = AL_GATE_EV_REFUSED,
				    .reason = AL_GATE_WHY_TOOL, .from_client = 1 };
	strcpy(g.method, "tools/call");
	strcpy(g.name, "leak");
	al_gate_learn_record(l, &g);
	al_gate_learn_record(l, &g);
	g.reason = AL_GATE_WHY_SERVER_REQUEST;
	strcpy(g.method, "roots/list");
	al_gate_learn_record(l, &g);
	/* the per-tool rules: comments naming the key */
	strcpy(g.method, "tools/call");
	strcpy(g.name, "echo");
	g.reason = AL_GATE_WHY_RATE;
	strcpy(g.rule, "rate 3/min burst 3");
	al_gate_learn_record(l, &g);
	g.reason = AL_GATE_WHY_CONSTRAINT;
	strcpy(g.arg, "paths[1]");
	strcpy(g.rule, "prefix");
	al_gate_learn_record(l, &g);
	g.event = AL_GATE_EV_TIMEOUT;
	g.reason = AL_GATE_WHY_TIMEOUT;
	strcpy(g.rule, "timeout 1000 ms");
	al_gate_learn_record(l, &g);
	g.event = AL_GATE_EV_DROPPED; /* the server's fault, not the policy's */
	g.reason = AL_GATE_WHY_LATE;
	al_gate_learn_record(l, &g);
	g.event = AL_GATE_EV_FORWARDED; /* not a denial */
	g.reason = AL_GATE_WHY_NONE;
	al_gate_learn_record(l, &g);
	al_gate_learn_syscall(l, "execve");
	al_gate_learn_syscall(l, "socket");
	al_gate_learn_syscall(l, "ptrace");
	al_gate_learn_egress(l, "api.github.com", 443);
	al_gate_learn_egress(l, "2001:db8::1", 443);
	struct al_gate_state st = { 0 };
	assert_int_equal(al_gate_state_open(&st, "t", dir), 0);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	al_gate_learn_finish(l, &st, f);
	fclose(f);
	al_gate_learn_free(l);
	fprintf(stderr, "%s", out);
	static const char *const want[] = {
		"--- /dev/null\n+++ t.ini (proposed)\n@@ -0,0 +1,", "\n+[tools]\n",
		"\n+; tools/call of leak refused: not in [tools] allow (2 times)\n+allow = leak\n",
		"\n+[server_requests]\n+; the server's roots/list was denied (1 time)\n+roots = pass\n",
		"\n+[tool]\n", "\n+exec = true\n", "ptrace", "\n+[egress]\n", "\n+allow = api.github.com:443\n",
		"\n+allow = [2001:db8::1]:443\n", "the server opened a network socket",
		"\n+; tools/call of echo over its rate 3/min burst 3 was refused: raise rate or burst in [tools.echo] (1 time)\n",
		"\n+; argument paths[1] of echo refused by the prefix rule of [tools.echo] (1 time)\n",
		"\n+; echo did not answer within its timeout 1000 ms: raise timeout in [tools.echo] (1 time)\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++)
		if (!strstr(out, want[i]))
			fail_msg("missing: %s", want[i]);
	/* saved beside the pins, exactly as printed */
	char path[4200];
	snprintf(path, sizeof path, "%s/t/learned.diff", dir);
	FILE *saved = fopen(path, "r");
	assert_non_null(saved);
	char buf[4096];
	size_t n = fread(buf, 1, sizeof buf - 1, saved);
	buf[n] = '\0';
	fclose(saved);
	assert_non_null(strstr(out, buf));
	free(out);
	al_gate_policy_free(&p);
	t_rmtree(dir);
}

int main(void)
{
	al_log_init("test_gate_egress", AL_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_policy_keys),
		cmocka_unit_test(test_learn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
