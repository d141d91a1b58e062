/*
 * A gate policy's per-tool rules (gate_policy.h, gate_tools.h): [tools]
 * rate, burst and timeout, [tools.NAME] sections, their errors (file, line,
 * section and key), the encoding the gate domain decodes
 * (workers/gate/rules.h): what the supervisor writes, the gate accepts; and
 * the gate's records of these rules as the supervisor reads them.
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
#include <unistd.h>

#include "supervisor/gate_policy.h"
#include "supervisor/gate_run.h"
#include "supervisor/gate_tools.h"
#include "workers/gate/rules.h"

static char logged[8192];

/* Loads text as test.ini; what the loader printed is in logged. */
static int load(struct al_gate_policy *p, const char *text)
{
	fflush(stderr);
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	al_gate_policy_init(p, "t");
	int rc = al_gate_policy_load_mem(p, text, strlen(text), "test.ini");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	size_t n = fread(logged, 1, sizeof logged - 1, tmp);
	logged[n] = '\0';
	fclose(tmp);
	return rc;
}

/* The policy's rules as the gate domain reads them. */
static struct al_gate_rules *decoded(const struct al_gate_policy *p)
{
	char *s = al_gate_tools_encode(p);
	assert_non_null(s);
	struct al_gate_rules *r;
	char why[256];
	if (al_gate_rules_parse(s, strlen(s), &r, why, sizeof why) < 0)
		fail_msg("%s: %s", s, why);
	free(s);
	return r;
}

#define LONG_NAME "a_tool_with_a_name_longer_than_the_49_bytes_inih_keeps_x"

static void test_keys(void **state)
{
	(void)state;
	struct al_gate_policy p;
	int rc = load(&p, "[tools]\n"
			  "allow = read_file, search, quiet, burst_only, " LONG_NAME "\n"
			  "rate = 10/s\n"
			  "burst = 20\n"
			  "timeout = 30\n"
			  "[tools.read_file]\n"
			  "rate = 2/min\n"
			  "timeout = 500ms\n"
			  "arg.path.prefix = /srv//data/\n"
			  "arg.paths[].prefix = /srv/data\n"
			  "arg.paths[].prefix = /tmp/scratch\n"
			  "arg.edits[].file.prefix = /srv\n"
			  "[tools.search]\n"
			  "arg.query.max_length = 100\n"
			  "arg.query.pattern = [a-z ]+ ; a comment, not the pattern's\n"
			  "[tools.quiet]\n"
			  "rate = none\n"
			  "timeout = none\n"
			  "[tools.burst_only]\n"
			  "burst = 3\n"
			  "[tools." LONG_NAME "]\n"
			  "timeout = 2min\n");
	if (rc != 0)
		fail_msg("%s", logged);
	assert_int_equal(p.n_tool_rules, 5);
	const struct al_gate_tool_policy *t = p.tool_rules[0];
	assert_string_equal(t->name, "read_file");
	assert_int_equal(t->line, 6);
	assert_int_equal(t->n_args, 3);
	assert_string_equal(t->args[0].path, "path");
	assert_string_equal(t->args[0].prefix[0], "/srv/data"); /* normalised */
	assert_int_equal(t->args[1].n_prefix, 2);
	assert_string_equal(p.tool_rules[1]->args[0].pattern, "[a-z ]+");
	assert_string_equal(p.tool_rules[4]->name, LONG_NAME); /* whole, though inih keeps 49 bytes */

	struct al_gate_rules *r = decoded(&p);
	/* the default: [tools] */
	assert_int_equal(r->def.rate, 10);
	assert_int_equal(r->def.period_ms, 1000);
	assert_int_equal(r->def.burst, 20);
	assert_int_equal(r->def.timeout_ms, 30000);
	/* a rate of its own brings its own burst (the rate) */
	const struct al_gate_toolrule *x = al_gate_rules_find(r, "read_file");
	assert_int_equal(x->rate, 2);
	assert_int_equal(x->period_ms, 60000);
	assert_int_equal(x->burst, 2);
	assert_int_equal(x->timeout_ms, 500);
	assert_int_equal(x->n_args, 3);
	/* only arguments: the default's rate and timeout */
	x = al_gate_rules_find(r, "search");
	assert_int_equal(x->rate, 10);
	assert_int_equal(x->burst, 20);
	assert_int_equal(x->timeout_ms, 30000);
	assert_int_equal(x->args[0].max_length, 100);
	x = al_gate_rules_find(r, "quiet");
	assert_int_equal(x->rate, 0);
	assert_int_equal(x->timeout_ms, 0);
	x = al_gate_rules_find(r, "burst_only");
	assert_int_equal(x->rate, 10);
	assert_int_equal(x->burst, 3);
	x = al_gate_rules_find(r, LONG_NAME);
	assert_string_equal(x->name, LONG_NAME);
	assert_int_equal(x->timeout_ms, 120000);
	al_gate_rules_free(r);
	al_gate_policy_free(&p);

	/* no rules at all: none in the gate either */
	assert_int_equal(load(&p, "[tools]\nallow = *\n"), 0);
	r = decoded(&p);
	assert_int_equal(r->def.rate, 0);
	assert_int_equal(r->def.timeout_ms, 0);
	assert_int_equal(r->n_tools, 0);
	al_gate_rules_free(r);
	al_gate_policy_free(&p);

	/* values in their units */
	static const struct {
		const char *text;
		uint32_t rate, period, timeout;
	} units[] = {
		{ "rate = 5\ntimeout = 10ms\n", 5, 1000, 10 },	     { "rate = 5/second\ntimeout = 1s\n", 5, 1000, 1000 },
		{ "rate = 7/m\ntimeout = 3m\n", 7, 60000, 180000 }, { "rate = 1/hour\ntimeout = 24h\n", 1, 3600000, 86400000 },
		{ "rate = 100000/h\ntimeout = 1h\n", 100000, 3600000, 3600000 },
	};
	for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
		char text[128];
		snprintf(text, sizeof text, "[tools]\n%s", units[i].text);
		if (load(&p, text) != 0)
			fail_msg("%s: %s", text, logged);
		assert_int_equal(p.tools_limits.rate, units[i].rate);
		assert_int_equal(p.tools_limits.period_ms, units[i].period);
		assert_int_equal(p.tools_limits.timeout_ms, units[i].timeout);
		al_gate_policy_free(&p);
	}
}

static void test_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text, *message;
	} bad[] = {
		{ "[tools]\nrate = fast\n", "test.ini:2: [tools] rate: calls per second" },
		{ "[tools]\nrate = 0\n", "test.ini:2: [tools] rate:" },
		{ "[tools]\nrate = 100001\n", "test.ini:2: [tools] rate:" },
		{ "[tools]\nrate = 10/day\n", "test.ini:2: [tools] rate:" },
		{ "[tools]\nrate = -1\n", "test.ini:2: [tools] rate:" },
		{ "[tools]\n\ntimeout = 5ms\n", "test.ini:3: [tools] timeout: seconds" },
		{ "[tools]\ntimeout = 25h\n", "test.ini:2: [tools] timeout:" },
		{ "[tools]\ntimeout = 1.5\n", "test.ini:2: [tools] timeout:" },
		{ "[tools]\nburst = 0\n", "test.ini:2: [tools] burst: calls at once" },
		{ "[tools]\nspeed = 1\n", "test.ini:2: [tools] speed: unknown key" },
		{ "[tools]\nburst = 3\n", "test.ini: [tools] burst without a rate" },
		{ "[tools.a]\nrate = 1\nspeed = 2\n", "test.ini:3: [tools.a] speed: unknown key" },
		{ "[tools.a]\narg.path.prefix = relative/dir\n", "test.ini:2: [tools.a] arg.path.prefix: an absolute path" },
		{ "[tools.a]\narg.path.prefix = /srv/../etc\n", "test.ini:2: [tools.a] arg.path.prefix: an absolute path" },
		{ "[tools.a]\narg.path.prefix = /srv/\xaf\n", "test.ini:2: [tools.a] arg.path.prefix: an absolute path" },
		{ "[tools.a]\narg.p[0].prefix = /srv\n", "test.ini:2: [tools.a] arg.p[0].prefix: an argument path" },
		{ "[tools.a]\narg..prefix = /srv\n", "test.ini:2: [tools.a] arg..prefix:" },
		{ "[tools.a]\narg.path = /srv\n", "test.ini:2: [tools.a] arg.path: arg.PATH.prefix" },
		{ "[tools.a]\narg.path.regex = x\n", "test.ini:2: [tools.a] arg.path.regex: unknown rule 'regex'" },
		{ "[tools.a]\n\n; a comment\narg.q.pattern = a)(b\n",
		  "test.ini:4: [tools.a] arg.q.pattern: not a POSIX extended regular expression" },
		{ "[tools.a]\narg.q.pattern = ([a-z]\n", "test.ini:2: [tools.a] arg.q.pattern: not a POSIX extended" },
		{ "[tools.a]\narg.q.pattern = (a)\\1\n", "test.ini:2: [tools.a] arg.q.pattern: back-references" },
		{ "[tools.a]\narg.q.pattern = caf\xc3\xa9\n", "test.ini:2: [tools.a] arg.q.pattern: a pattern of printable ASCII" },
		{ "[tools.a]\narg.q.max_length = 0\n", "test.ini:2: [tools.a] arg.q.max_length: characters" },
		{ "[tools.a]\narg.q.max_length = 10k\n", "test.ini:2: [tools.a] arg.q.max_length: characters" },
		{ "[tools]\nallow = read\n[tools.raed]\ntimeout = 1\n", "test.ini:3: [tools.raed]: not a tool that [tools] allow" },
		{ "[tools.a]\nburst = 3\n", "test.ini:1: [tools.a]: burst without a rate" },
		{ "[tools]\nrate = none\n[tools.a]\nburst = 3\n", "test.ini:3: [tools.a]: burst without a rate" },
		{ "[tools.a b]\nrate = 1\n", "test.ini:2: [tools.a b] rate: [tools.NAME]: a tool name" },
		{ "[tools.]\nrate = 1\n", "test.ini:2: [tools.] rate: [tools.NAME]: a tool name" },
		{ "[tools.x/y]\nrate = 1\n", "test.ini:2: [tools.x/y] rate:" },
		{ "[toolz.a]\nrate = 1\n", "test.ini:2: [toolz.a] rate: unknown section" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct al_gate_policy p;
		int rc = load(&p, bad[i].text);
		al_gate_policy_free(&p);
		if (rc != -EINVAL || !strstr(logged, bad[i].message))
			fail_msg("%s: %d, printed \"%s\", wanted \"%s\"", bad[i].text, rc, logged, bad[i].message);
	}
}

/* Counts past every bound: prefixes, argument rules, sections, the encoding's size. */
static void test_bounds(void **state)
{
	(void)state;
	static char text[1 << 20];
	struct al_gate_policy p;
	size_t n = (size_t)snprintf(text, sizeof text, "[tools.a]\n");
	for (int i = 0; i < AL_GATE_ARG_PREFIXES + 1; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "arg.path.prefix = /p%d\n", i);
	assert_int_equal(load(&p, text), -EINVAL);
	assert_non_null(strstr(logged, "test.ini:18: [tools.a] arg.path.prefix"));
	al_gate_policy_free(&p);

	n = (size_t)snprintf(text, sizeof text, "[tools.a]\n");
	for (int i = 0; i < AL_GATE_ARG_RULES + 1; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "arg.a%d.max_length = 5\n", i);
	assert_int_equal(load(&p, text), -EINVAL);
	assert_non_null(strstr(logged, "test.ini:18: [tools.a] arg.a16.max_length: rules for more than 16 arguments"));
	al_gate_policy_free(&p);

	n = 0;
	for (int i = 0; i < AL_GATE_RULES_TOOLS + 1; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "[tools.t%d]\nrate = 1\n", i);
	assert_int_equal(load(&p, text), -EINVAL);
	assert_non_null(strstr(logged, "more than 64 [tools.NAME] sections"));
	al_gate_policy_free(&p);

	/* within every count, over what the gate domain takes: refused at load, never at the run */
	n = 0;
	for (int i = 0; i < 20; i++) {
		n += (size_t)snprintf(text + n, sizeof text - n, "[tools.t%d]\n", i);
		for (int a = 0; a < AL_GATE_ARG_RULES; a++)
			for (int k = 0; k < 4; k++)
				n += (size_t)snprintf(text + n, sizeof text - n,
						      "arg.argument_%d.prefix = /a/rather/long/path/prefix/for/this/test/%d\n",
						      a, k);
	}
	assert_int_equal(load(&p, text), -EINVAL);
	assert_non_null(strstr(logged, "test.ini: [tools.*]: the rules take"));
	al_gate_policy_free(&p);
}

static void count(void *ctx, const struct al_gate_record *r, const unsigned char *blob)
{
	(void)r;
	(void)blob;
	++*(size_t *)ctx;
}

/* The records of the per-tool rules, as the supervisor reads them from a gate it does not trust. */
static void test_records(void **state)
{
	(void)state;
	struct al_gate_record r[2] = {
		{ .magic = AL_GATE_RECORD_MAGIC, .event = AL_GATE_EV_REFUSED, .reason = AL_GATE_WHY_CONSTRAINT,
		  .from_client = 1, .method = "tools/call", .name = "read", .arg = "paths[1]", .rule = "prefix" },
		{ .magic = AL_GATE_RECORD_MAGIC, .event = AL_GATE_EV_TIMEOUT, .reason = AL_GATE_WHY_TIMEOUT,
		  .method = "tools/call", .name = "slow", .rule = "timeout 1000 ms" },
	};
	bool lied;
	size_t n = 0;
	assert_int_equal(al_gate_report_scan((void *)r, sizeof r, &lied, count, &n), sizeof r);
	assert_false(lied);
	assert_int_equal(n, 2);
	/* a rule without its NUL, a control character in an argument: the gate lied */
	memset(r[1].rule, 'x', sizeof r[1].rule);
	n = 0;
	assert_int_equal(al_gate_report_scan((void *)r, sizeof r, &lied, count, &n), sizeof r[0]);
	assert_true(lied);
	assert_int_equal(n, 1);
	r[0].arg[0] = '\n';
	assert_int_equal(al_gate_report_scan((void *)r, sizeof r, &lied, count, &n), 0);
	assert_true(lied);
	r[0].arg[0] = 'p';
	r[0].reason = AL_GATE_WHY_MAX;
	assert_int_equal(al_gate_report_scan((void *)r, sizeof r[0], &lied, count, &n), 0);
	assert_true(lied);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
