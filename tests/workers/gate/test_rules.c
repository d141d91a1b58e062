/*
 * The per-tool rules in the gate domain (workers/gate/argrule.h, rules.h):
 * argument paths, the lexical path check, patterns, the strict decoding of
 * --rules and the argument walk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/gate/rules.h"

static void test_argpath(void **state)
{
	(void)state;
	struct al_gate_argpath p;
	assert_int_equal(al_gate_argpath_parse("path", &p), 0);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.c[0].name, "path");
	assert_int_equal(p.c[0].arrays, 0);
	assert_int_equal(al_gate_argpath_parse("edits[].old-path", &p), 0);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.c[0].arrays, 1);
	assert_string_equal(p.c[1].name, "old-path");
	assert_int_equal(al_gate_argpath_parse("grid[][]", &p), 0);
	assert_int_equal(p.c[0].arrays, 2);
	static const char *const bad[] = { "", ".", "a.", ".a", "a..b", "a[", "a[0]", "a]", "[]", "a b", "a/b",
					   "a.b.c.d.e.f.g.h.i", "a[][][][][]", "a.$ref" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(al_gate_argpath_parse(bad[i], &p), -EINVAL);
	char longname[80];
	memset(longname, 'a', 64);
	longname[64] = '\0';
	assert_int_equal(al_gate_argpath_parse(longname, &p), -EINVAL); /* 63 at most */
	longname[63] = '\0';
	assert_int_equal(al_gate_argpath_parse(longname, &p), 0);
}

static enum al_gate_path_fault norm(const char *s, char *out)
{
	return al_gate_path_normalise(s, strlen(s), out);
}

static void test_paths(void **state)
{
	(void)state;
	char out[64];
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "/", "/" },		  { "//", "/" },	     { "/srv/data", "/srv/data" }, { "/srv//data/", "/srv/data" },
		{ "/srv/./data/.", "/srv/data" }, { "/./", "/" }, { "/srv/.data", "/srv/.data" }, { "/srv/...", "/srv/..." },
		{ "/srv/..x", "/srv/..x" },
	};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		assert_int_equal(norm(ok[i].in, out), AL_GATE_PATH_OK);
		assert_string_equal(out, ok[i].out);
	}
	assert_int_equal(norm("srv/data", out), AL_GATE_PATH_RELATIVE);
	assert_int_equal(norm("", out), AL_GATE_PATH_RELATIVE);
	assert_int_equal(norm("~/x", out), AL_GATE_PATH_RELATIVE);
	assert_int_equal(norm("/srv/data/../../etc", out), AL_GATE_PATH_DOTDOT);
	assert_int_equal(norm("/..", out), AL_GATE_PATH_DOTDOT);
	assert_int_equal(norm("/srv/data/..", out), AL_GATE_PATH_DOTDOT);
	assert_int_equal(al_gate_path_normalise("/srv/data\0/../etc", 17, out), AL_GATE_PATH_NUL);
	assert_true(al_gate_path_under("/srv/data", "/srv/data"));
	assert_true(al_gate_path_under("/srv/data/a/b", "/srv/data"));
	assert_false(al_gate_path_under("/srv/database", "/srv/data"));
	assert_false(al_gate_path_under("/srv", "/srv/data"));
	assert_true(al_gate_path_under("/etc", "/"));
}

static void test_patterns(void **state)
{
	(void)state;
	regex_t re;
	char why[200];
	assert_int_equal(al_gate_pattern_compile("[a-z]+", &re, why, sizeof why), 0);
	assert_true(al_gate_pattern_match(&re, "hello"));
	assert_false(al_gate_pattern_match(&re, "hello world")); /* the whole value */
	assert_false(al_gate_pattern_match(&re, "Hello"));
	assert_false(al_gate_pattern_match(&re, ""));
	regfree(&re);
	assert_int_equal(al_gate_pattern_compile("a|b", &re, why, sizeof why), 0);
	assert_true(al_gate_pattern_match(&re, "b"));
	assert_false(al_gate_pattern_match(&re, "ab")); /* the alternation is anchored as a whole */
	regfree(&re);
	assert_int_equal(al_gate_pattern_compile("^v[0-9]+$", &re, why, sizeof why), 0);
	assert_true(al_gate_pattern_match(&re, "v12"));
	regfree(&re);
	/* invalid alone, though wrapping it in ^( )$ would balance it */
	assert_int_equal(al_gate_pattern_compile("a)(b", &re, why, sizeof why), -EINVAL);
	assert_non_null(strstr(why, "not a POSIX extended regular expression"));
	assert_int_equal(al_gate_pattern_compile("(a", &re, why, sizeof why), -EINVAL);
	assert_int_equal(al_gate_pattern_compile("(a)\\1", &re, why, sizeof why), -EINVAL);
	assert_non_null(strstr(why, "back-references"));
	assert_int_equal(al_gate_pattern_compile("caf\xc3\xa9", &re, why, sizeof why), -EINVAL);
	assert_int_equal(al_gate_pattern_compile("", &re, why, sizeof why), -EINVAL);
	char big[AL_GATE_PATTERN_MAX + 2];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(al_gate_pattern_compile(big, &re, why, sizeof why), -EINVAL);
}

#define RULES(tools) "{\"default\":{\"rate\":0,\"period_ms\":0,\"burst\":0,\"timeout_ms\":0},\"tools\":[" tools "]}"
#define TOOL(name, rest) "{\"name\":\"" name "\",\"rate\":2,\"period_ms\":1000,\"burst\":3,\"timeout_ms\":500" rest "}"

static struct al_gate_rules *parse(const char *s, int want)
{
	struct al_gate_rules *r = NULL;
	char why[256] = "";
	int rc = al_gate_rules_parse(s, strlen(s), &r, why, sizeof why);
	if (rc != want)
		fail_msg("%s: %d (%s), wanted %d", s, rc, why, want);
	if (want < 0) {
		assert_null(r);
		assert_true(why[0] != '\0');
	}
	return r;
}

static void test_decode(void **state)
{
	(void)state;
	struct al_gate_rules *r = parse(RULES(TOOL("read", ",\"args\":[{\"path\":\"paths[]\",\"prefix\":[\"/srv//data/\"],"
							     "\"max_length\":100,\"pattern\":\"/[a-z/]+\"}]")),
					0);
	const struct al_gate_toolrule *t = al_gate_rules_find(r, "read");
	assert_string_equal(t->name, "read");
	assert_int_equal(t->rate, 2);
	assert_int_equal(t->burst, 3);
	assert_int_equal(t->timeout_ms, 500);
	assert_int_equal(t->n_args, 1);
	assert_string_equal(t->args[0].prefix[0], "/srv/data"); /* normalised */
	assert_ptr_equal(al_gate_rules_find(r, "other"), &r->def);
	assert_null(al_gate_rules_find(NULL, "read"));
	char text[96];
	al_gate_rate_text(t, text, sizeof text);
	assert_string_equal(text, "2 calls a second (burst 3)");
	al_gate_rules_free(r);
	static const char *const bad[] = {
		"",
		"[]",
		"{\"default\":{\"rate\":0,\"period_ms\":0,\"burst\":0,\"timeout_ms\":0}}",
		"{\"default\":{\"rate\":0,\"period_ms\":0,\"burst\":0,\"timeout_ms\":0},\"tools\":[],\"x\":1}",
		"{\"default\":{\"rate\":1,\"period_ms\":999,\"burst\":1,\"timeout_ms\":0},\"tools\":[]}",
		"{\"default\":{\"rate\":1,\"period_ms\":1000,\"burst\":0,\"timeout_ms\":0},\"tools\":[]}",
		"{\"default\":{\"rate\":0,\"period_ms\":1000,\"burst\":0,\"timeout_ms\":0},\"tools\":[]}",
		"{\"default\":{\"rate\":0,\"period_ms\":0,\"burst\":0,\"timeout_ms\":5},\"tools\":[]}",
		"{\"default\":{\"rate\":-1,\"period_ms\":0,\"burst\":0,\"timeout_ms\":0},\"tools\":[]}",
		"{\"default\":{\"rate\":\"1\",\"period_ms\":0,\"burst\":0,\"timeout_ms\":0},\"tools\":[]}",
		RULES(TOOL("a", "") "," TOOL("a", "")),
		RULES(TOOL("", "")),
		RULES(TOOL("a b", "")),
		RULES(TOOL("a", ",\"extra\":1")),
		RULES(TOOL("a", ",\"args\":{}")),
		RULES(TOOL("a", ",\"args\":[{\"path\":\"p\"}]")),
		RULES(TOOL("a", ",\"args\":[{\"path\":\"p[0]\",\"max_length\":3}]")),
		RULES(TOOL("a", ",\"args\":[{\"path\":\"p\",\"prefix\":[\"rel\"]}]")),
		RULES(TOOL("a", ",\"args\":[{\"path\":\"p\",\"prefix\":[\"/a/../b\"]}]")),
		RULES(TOOL("a", ",\"args\":[{\"path\":\"p\",\"prefix\":[]}]")),
		RULES(TOOL("a", ",\"args\":[{\"path\":\"p\",\"prefix\":\"/a\"}]")),
		RULES(TOOL("a", ",\"args\":[{\"path\":\"p\",\"pattern\":\"(\"}]")),
		RULES(TOOL("a", ",\"args\":[{\"path\":\"p\",\"max_length\":-4}]")),
		RULES(TOOL("a", ",\"args\":[{\"path\":\"p\",\"max_length\":3,\"max_length\":4}]")),
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		parse(bad[i], -EINVAL);
	/* over the bound before parsing */
	size_t n = AL_GATE_RULES_MAX + 2;
	char *huge = malloc(n);
	memset(huge, ' ', n - 1);
	huge[n - 1] = '\0';
	parse(huge, -EINVAL);
	free(huge);
}

static json_t *J(const char *s)
{
	json_t *v = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	assert_non_null(v);
	return v;
}

/* args against the rules of tool "t": 0, or -1 with the fault's argument and rule */
static int check(const char *rules, const char *args, const char *arg, const char *rule)
{
	struct al_gate_rules *r = parse(rules, 0);
	json_t *a = J(args);
	struct al_gate_arg_fault f = { .rule = NULL };
	int rc = al_gate_rules_check(al_gate_rules_find(r, "t"), a, &f);
	if (rc < 0 && (!arg || strcmp(f.arg, arg) || strcmp(f.rule, rule)))
		fail_msg("%s: refused at %s by %s (%s)", args, f.arg, f.rule, f.why);
	if (rc == 0 && arg)
		fail_msg("%s: passed, wanted %s refused by %s", args, arg, rule);
	json_decref(a);
	al_gate_rules_free(r);
	return rc;
}

static void test_walk(void **state)
{
	(void)state;
	const char *prefix = RULES(TOOL("t", ",\"args\":[{\"path\":\"path\",\"prefix\":[\"/srv/data\",\"/tmp/x\"]},"
						   "{\"path\":\"paths[]\",\"prefix\":[\"/srv/data\"]},"
						   "{\"path\":\"opts.cwd\",\"prefix\":[\"/srv\"]},"
						   "{\"path\":\"edits[].file\",\"prefix\":[\"/srv\"]},"
						   "{\"path\":\"grid[][]\",\"max_length\":2}]"));
	assert_int_equal(check(prefix, "{}", NULL, NULL), 0);
	assert_int_equal(check(prefix, "{\"path\":\"/srv/data/a\",\"other\":\"/etc\"}", NULL, NULL), 0);
	assert_int_equal(check(prefix, "{\"path\":\"/tmp/x\"}", NULL, NULL), 0);
	assert_int_equal(check(prefix, "{\"path\":\"//srv/./data//a/\"}", NULL, NULL), 0);
	check(prefix, "{\"path\":\"/srv/database\"}", "path", "prefix");
	check(prefix, "{\"path\":\"/srv/data/../../etc/passwd\"}", "path", "prefix");
	check(prefix, "{\"path\":\"srv/data/a\"}", "path", "prefix");
	check(prefix, "{\"path\":\"/srv/data/a\\u0000/x\"}", "path", "nul");
	check(prefix, "{\"path\":7}", "path", "type");
	check(prefix, "{\"path\":null}", "path", "type");
	assert_int_equal(check(prefix, "{\"paths\":[\"/srv/data/a\",\"/srv/data\"]}", NULL, NULL), 0);
	assert_int_equal(check(prefix, "{\"paths\":[]}", NULL, NULL), 0);
	check(prefix, "{\"paths\":[\"/srv/data/a\",\"/etc/shadow\"]}", "paths[1]", "prefix");
	check(prefix, "{\"paths\":\"/srv/data/a\"}", "paths", "type");
	assert_int_equal(check(prefix, "{\"opts\":{\"cwd\":\"/srv/a\"}}", NULL, NULL), 0);
	assert_int_equal(check(prefix, "{\"opts\":{}}", NULL, NULL), 0);
	check(prefix, "{\"opts\":{\"cwd\":\"/root\"}}", "opts.cwd", "prefix");
	check(prefix, "{\"opts\":[\"/srv\"]}", "opts", "type");
	assert_int_equal(check(prefix, "{\"edits\":[{\"file\":\"/srv/a\"},{\"text\":\"x\"}]}", NULL, NULL), 0);
	check(prefix, "{\"edits\":[{\"file\":\"/srv/a\"},{\"file\":\"/etc/a\"}]}", "edits[1].file", "prefix");
	assert_int_equal(check(prefix, "{\"grid\":[[\"ab\"],[\"c\",\"d\"]]}", NULL, NULL), 0);
	check(prefix, "{\"grid\":[[\"ab\"],[\"c\",\"abc\"]]}", "grid[1][1]", "max_length");
	check(prefix, "[\"/srv\"]", "arguments", "type");
	/* a pattern must be ASCII: refused by the decoder */
	parse(RULES(TOOL("t", ",\"args\":[{\"path\":\"q\",\"pattern\":\"[a-z\\u00e9]*\"}]")), -EINVAL);
	const char *q = RULES(TOOL("t", ",\"args\":[{\"path\":\"q\",\"max_length\":3,\"pattern\":\"[a-z]*\"}]"));
	assert_int_equal(check(q, "{\"q\":\"abc\"}", NULL, NULL), 0);
	/* three characters of six bytes: within max_length (characters, as JSON Schema's maxLength
	 * counts), then not [a-z] (the pattern matches bytes) */
	check(q, "{\"q\":\"\\u00e9\\u00e9\\u00e9\"}", "q", "pattern");
	check(q, "{\"q\":\"abcd\"}", "q", "max_length");
	check(q, "{\"q\":\"ab1\"}", "q", "pattern");
	/* a NUL would end the string regexec sees: refused before the pattern */
	check(q, "{\"q\":\"a\\u0000;\"}", "q", "nul");
	/* a tool without rules of its own: the default's (no arguments rules) */
	struct al_gate_rules *r = parse(q, 0);
	json_t *a = J("{\"q\":\"ABCDEFG\"}");
	struct al_gate_arg_fault f;
	assert_int_equal(al_gate_rules_check(al_gate_rules_find(r, "other"), a, &f), 0);
	json_decref(a);
	al_gate_rules_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argpath), cmocka_unit_test(test_paths), cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_decode),	cmocka_unit_test(test_walk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
