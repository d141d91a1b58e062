/*
 * Smoke test of `airlock bench --quick --rounds 2 --json`: the command runs every
 * measurement once over, exits 0, prints JSON on stdout, saves the same to
 * --out, and the result has the documented shape (bench/lib/README.md).
 * Figures are never compared with anything: only their presence and type.
 * A row that could not be measured here (a sanitizer build cannot run the
 * static workers in a domain) must say why in "error".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static json_t *result, *saved;

static int run_bench(void **state)
{
	const char *airlock = getenv("AL_AIRLOCK");
	char dir[] = "/tmp/al_test_bench.XXXXXX", out[128], svg[128], cmd[1024];
	if (!airlock || !mkdtemp(dir))
		return -1;
	snprintf(out, sizeof out, "%s/r.json", dir);
	snprintf(svg, sizeof svg, "%s/r.svg", dir);
	snprintf(cmd, sizeof cmd, "'%s' bench --quick --rounds 2 --json --quiet --out '%s' --svg '%s'", airlock, out, svg);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	json_error_t err;
	result = json_loadf(p, 0, &err);
	int st = pclose(p);
	if (!result || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "airlock bench: status %d, json: %s\n", st, result ? "ok" : err.text);
		return -1;
	}
	saved = json_load_file(out, 0, &err);
	FILE *s = fopen(svg, "r");
	char head[8] = "";
	if (s) {
		if (!fgets(head, sizeof head, s))
			head[0] = '\0';
		fclose(s);
	}
	unlink(out);
	unlink(svg);
	rmdir(dir);
	return saved && strncmp(head, "<svg", 4) == 0 ? 0 : -1;
}

static int drop(void **state)
{
	json_decref(result);
	json_decref(saved);
	return 0;
}

static void assert_stat(json_t *s)
{
	assert_true(json_is_object(s));
	const char *keys[] = { "median", "p25", "p75", "p99", "p999", "min", "max" };
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		assert_true(json_is_number(json_object_get(s, keys[i])));
	assert_true(json_integer_value(json_object_get(s, "n")) > 0);
	assert_true(json_number_value(json_object_get(s, "p25")) <= json_number_value(json_object_get(s, "p75")));
}

static void test_top_level(void **unused)
{
	assert_true(json_equal(result, saved));
	assert_int_equal(json_integer_value(json_object_get(result, "schema")), 1);
	assert_true(json_is_true(json_object_get(result, "quick")));
	json_t *m = json_object_get(result, "machine");
	assert_true(json_integer_value(json_object_get(m, "cpus")) >= 1);
	assert_true(json_is_string(json_object_get(m, "kernel")));
	json_t *levels = json_object_get(result, "levels");
	assert_int_equal(json_array_size(levels), 4);
	assert_string_equal(json_string_value(json_array_get(levels, 1)), "standard");
	assert_true(json_is_array(json_object_get(result, "warnings")));
	assert_true(json_number_value(json_object_get(result, "duration_s")) > 0);
	/* what each level planned, for both domains, every item with a state */
	json_t *part = json_object_get(result, "partitioning");
	size_t i;
	json_t *lv;
	json_array_foreach(levels, i, lv) {
		json_t *ai = json_object_get(json_object_get(part, json_string_value(lv)), "ai");
		assert_int_equal(json_array_size(ai), 8);
		const char *st = json_string_value(json_object_get(json_array_get(ai, 0), "state"));
		assert_non_null(st);
		assert_true(!strcmp(st, "on") || !strcmp(st, "off") || !strcmp(st, "absent"));
	}
}

static void test_sections(void **unused)
{
	const char *want[] = { "ai", "ai_sandbox", "protocol", "load", "channel", "switch", "spawn", "total" };
	json_t *sections = json_object_get(result, "sections"), *levels = json_object_get(result, "levels");
	assert_int_equal(json_array_size(sections), 8);
	for (size_t k = 0; k < 8; k++) {
		json_t *sec = json_array_get(sections, k);
		assert_string_equal(json_string_value(json_object_get(sec, "id")), want[k]);
		assert_true(strlen(json_string_value(json_object_get(sec, "method"))) > 40);
		json_t *rows = json_object_get(sec, "rows"), *row;
		assert_true(json_array_size(rows) >= 1);
		size_t i;
		json_array_foreach(rows, i, row) {
			assert_true(json_is_string(json_object_get(row, "id")));
			assert_true(json_is_string(json_object_get(row, "unit")));
			if (json_object_get(row, "error")) {
				assert_true(strlen(json_string_value(json_object_get(row, "error"))) > 0);
				continue;
			}
			json_t *values = json_object_get(row, "values"), *cost = json_object_get(row, "cost");
			assert_stat(json_object_get(values, "baseline"));
			size_t j;
			json_t *lv;
			json_array_foreach(levels, j, lv) {
				assert_stat(json_object_get(values, json_string_value(lv)));
				json_t *c = json_object_get(cost, json_string_value(lv));
				assert_true(json_is_number(json_object_get(c, "value")));
				assert_true(json_is_boolean(json_object_get(c, "noisy")));
			}
			/* a verdict for every claim at every level it names */
			json_t *cl;
			json_array_foreach(json_object_get(row, "claims"), j, cl) {
				const char *who = json_string_value(json_object_get(cl, "who"));
				size_t n;
				json_t *l;
				json_array_foreach(json_object_get(cl, "levels"), n, l) {
					json_t *v = json_object_get(json_object_get(json_object_get(row, "verdict"),
										json_string_value(l)), who);
					assert_true(!strcmp(json_string_value(v), "pass") || !strcmp(json_string_value(v), "fail"));
				}
			}
		}
	}
}

/* Protocol under generation: tools/list p50/p99/p99.9 at 0, 1, 2 and 4
 * generations, tok/s where there are any, cost as a ratio, and the goals
 * with a figure per endpoint. */
static void test_load(void **unused)
{
	json_t *sec = json_array_get(json_object_get(result, "sections"), 3), *levels = json_object_get(result, "levels");
	json_t *rows = json_object_get(sec, "rows");
	if (json_object_get(json_array_get(rows, 0), "error")) {
		fprintf(stderr, "load: not measured here: %s\n",
			json_string_value(json_object_get(json_array_get(rows, 0), "error")));
		return;
	}
	assert_int_equal(json_array_size(rows), 4 * 3 + 3);
	const char *ids[] = { "load.0.tools_list_median", "load.0.tools_list_p99", "load.0.tools_list_p999",
			      "load.1.tools_list_median" };
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(json_string_value(json_object_get(json_array_get(rows, i), "id")), ids[i]);
	json_t *row = json_array_get(rows, 6);
	assert_string_equal(json_string_value(json_object_get(row, "id")), "load.1.tokens_per_s");
	assert_true(json_number_value(json_object_get(json_object_get(json_object_get(row, "values"), "baseline"),
						      "median")) > 0);
	row = json_array_get(rows, 1);
	assert_string_equal(json_string_value(json_object_get(row, "cost_unit")), "x");
	json_t *goals = json_object_get(sec, "goals"), *g;
	assert_int_equal(json_array_size(goals), 4);
	size_t i, j;
	json_array_foreach(goals, i, g) {
		json_t *values = json_object_get(g, "values"), *lv;
		json_array_foreach(levels, j, lv)
			assert_true(json_is_number(json_object_get(values, json_string_value(lv))));
	}
	/* the other tasks' CPU time: per load, a share and the names that ran most */
	json_t *others = json_object_get(sec, "others"), *ld;
	assert_non_null(others);
	if (!json_object_get(others, "error")) {
		assert_int_equal(json_array_size(json_object_get(others, "loads")), 4);
		json_array_foreach(json_object_get(others, "loads"), i, ld) {
			assert_true(json_is_integer(json_object_get(ld, "generations")));
			assert_true(json_number_value(json_object_get(ld, "cpu_pct")) >= 0);
			assert_true(json_is_array(json_object_get(ld, "top")));
		}
	}
	const char *ps = json_string_value(json_object_get(sec, "probe_sched"));
	/* the default probe: nice -20 where permitted (root), else as it is */
	assert_true(!strcmp(ps, "nice -20") || !strcmp(ps, "default"));
	/* --rounds 2 over --quick's 1, and the method says so */
	assert_int_equal(json_integer_value(json_object_get(sec, "rounds")), 2);
	assert_non_null(strstr(json_string_value(json_object_get(sec, "method")), "; 2 rounds,"));
}

/* --rounds takes a whole number from 1 to 1000, and says so otherwise, before measuring anything. */
static void test_rounds_refused(void **unused)
{
	const char *bad[] = { "0", "1001", "-1", "x", "2.5", "", "99999999999999999999999" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char cmd[512], msg[256] = "";
		snprintf(cmd, sizeof cmd, "'%s' bench --only load --rounds '%s' --out /dev/null 2>&1", getenv("AL_AIRLOCK"),
			 bad[i]);
		FILE *p = popen(cmd, "r");
		assert_non_null(p);
		if (!fgets(msg, sizeof msg, p))
			msg[0] = '\0';
		while (fgetc(p) != EOF)
			;
		int st = pclose(p);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 2);
		assert_non_null(strstr(msg, "--rounds: expected a whole number from 1 to 1000"));
	}
}

static void test_budgets(void **unused)
{
	json_t *b = json_object_get(result, "budgets"), *row;
	assert_int_equal(json_array_size(b), 4);
	size_t i;
	json_array_foreach(b, i, row) {
		if (json_object_get(row, "error"))
			continue;
		assert_true(json_is_number(json_object_get(row, "overhead_pct")));
		if (i == 0) {
			assert_null(json_object_get(row, "budget_pct")); /* minimal has none */
			continue;
		}
		double want[] = { 0, 1, 3, 8 }, seed[] = { 0, 3, 8, 15 };
		assert_true(json_number_value(json_object_get(row, "budget_pct")) == want[i]);
		assert_true(json_number_value(json_object_get(row, "seed_budget_pct")) == seed[i]);
		assert_true(json_is_boolean(json_object_get(row, "pass")));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_top_level),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_budgets),
		cmocka_unit_test(test_rounds_refused),
	};
	return cmocka_run_group_tests(tests, run_bench, drop);
}
