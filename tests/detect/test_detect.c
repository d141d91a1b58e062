/*
 * The detector on recorded metric series (tests/detect/data, made with
 * record.py from real domains, see README there): no incident on normal load,
 * the right incident, once, on each anomalous series.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "detect/detect.h"

#define MAX_SAMPLES 256

struct series {
	struct al_metrics m[MAX_SAMPLES];
	size_t n;
};

static void load(const char *name, struct series *s)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", DETECT_DATA, name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[512];
	s->n = 0;
	while (fgets(line, sizeof line, f) && s->n < MAX_SAMPLES) {
		if (line[0] == '#')
			continue;
		struct al_metrics *m = &s->m[s->n];
		memset(m, 0, sizeof *m);
		unsigned long long v[6];
		assert_int_equal(sscanf(line, "%llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]), 6);
		m->cpu_ns = v[0];
		m->rss_kib = v[1];
		m->minflt = v[2];
		m->majflt = v[3];
		m->vcsw = v[4];
		m->nvcsw = v[5];
		s->n++;
	}
	fclose(f);
	assert_true(s->n >= 20);
}

struct seen {
	size_t n;
	enum al_incident_type type[32];
	const char *rule[32];
	size_t at[32];
};

static void replay(const struct series *s, enum al_detect_role role, struct seen *out)
{
	struct al_detector d;
	al_detector_init(&d, role, NULL);
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < s->n; i++) {
		struct al_incident inc[AL_DETECT_MAX_INCIDENTS];
		size_t k = al_detector_observe(&d, &s->m[i], 1000000000ULL, inc);
		for (size_t j = 0; j < k; j++) {
			assert_non_null(inc[j].evidence);
			if (out->n < 32) {
				out->type[out->n] = inc[j].type;
				out->rule[out->n] = inc[j].rule;
				out->at[out->n++] = i;
			}
			al_incident_clear(&inc[j]);
		}
	}
}

static void test_normal_series_quiet(void **state)
{
	struct series s;
	struct seen seen;
	load("normal_ai.tsv", &s);
	replay(&s, AL_DETECT_ROLE_COMPUTE, &seen);
	assert_int_equal(seen.n, 0);
	load("normal_proto.tsv", &s);
	replay(&s, AL_DETECT_ROLE_SERVICE, &seen);
	assert_int_equal(seen.n, 0);
}

/* A timing loop started after 15 quiet seconds: side channel, once. */
static void test_spin_is_side_channel(void **state)
{
	struct series s;
	struct seen seen;
	load("spin_ai.tsv", &s);
	replay(&s, AL_DETECT_ROLE_COMPUTE, &seen);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.type[0], AL_INC_SIDE_CHANNEL);
	assert_string_equal(seen.rule[0], "cpu-sustained");
	assert_true(seen.at[0] > 13); /* not before the spin began */
}

/*
 * The same spin while the channel moves (requests served) is the domain's
 * work: no incident; and once it stops moving, the spin is judged against the
 * idle baseline, which the busy ticks did not move.
 */
static void test_work_is_not_a_timing_loop(void **state)
{
	struct series s;
	load("spin_ai.tsv", &s);
	struct al_detector d;
	al_detector_init(&d, AL_DETECT_ROLE_COMPUTE, NULL);
	size_t fired = 0, fired_at = 0;
	for (size_t i = 0; i < s.n; i++) {
		s.m[i].work = i < s.n / 2 ? i : s.n / 2; /* records flow for the first half only */
		struct al_incident inc[AL_DETECT_MAX_INCIDENTS];
		size_t k = al_detector_observe(&d, &s.m[i], 1000000000ULL, inc);
		for (size_t j = 0; j < k; j++) {
			if (!fired++)
				fired_at = i;
			al_incident_clear(&inc[j]);
		}
	}
	/* the spin of the second half, without work, is still caught */
	assert_true(fired >= 1);
	assert_true(fired_at >= s.n / 2);
	/* and with work throughout, nothing */
	al_detector_init(&d, AL_DETECT_ROLE_COMPUTE, NULL);
	fired = 0;
	for (size_t i = 0; i < s.n; i++) {
		s.m[i].work = i;
		struct al_incident inc[AL_DETECT_MAX_INCIDENTS];
		size_t k = al_detector_observe(&d, &s.m[i], 1000000000ULL, inc);
		for (size_t j = 0; j < k; j++) {
			fired += inc[j].type == AL_INC_SIDE_CHANNEL;
			al_incident_clear(&inc[j]);
		}
	}
	assert_int_equal(fired, 0);
}

static void test_leak_is_memory_corruption(void **state)
{
	struct series s;
	struct seen seen;
	load("leak_ai.tsv", &s);
	replay(&s, AL_DETECT_ROLE_COMPUTE, &seen);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.type[0], AL_INC_MEMORY_CORRUPTION);
	assert_string_equal(seen.rule[0], "memory-growth");
}

static void test_flood_is_protocol_abuse(void **state)
{
	struct series s;
	struct seen seen;
	load("flood_proto.tsv", &s);
	replay(&s, AL_DETECT_ROLE_SERVICE, &seen);
	assert_true(seen.n >= 1);
	for (size_t i = 0; i < seen.n; i++) {
		assert_int_equal(seen.type[i], AL_INC_PROTOCOL_ABUSE);
		assert_true(seen.at[i] >= 19);
	}
}

/*
 * The protocol domain's load while the channel moves (clients' generate calls
 * after an idle period, 64 of them at once) is its work: no incident. The
 * same load with the channel still is a flood, and caught as before.
 */
static void test_service_work_is_not_a_flood(void **state)
{
	struct series s;
	load("flood_proto.tsv", &s);
	struct al_detector d;
	al_detector_init(&d, AL_DETECT_ROLE_SERVICE, NULL);
	size_t fired = 0;
	for (size_t i = 0; i < s.n; i++) {
		s.m[i].work = i; /* records flow all along */
		struct al_incident inc[AL_DETECT_MAX_INCIDENTS];
		size_t k = al_detector_observe(&d, &s.m[i], 1000000000ULL, inc);
		for (size_t j = 0; j < k; j++) {
			fired++;
			al_incident_clear(&inc[j]);
		}
	}
	assert_int_equal(fired, 0);
	/* records flowing only while the service was idle: the flood is judged */
	struct seen seen;
	for (size_t i = 0; i < s.n; i++)
		s.m[i].work = i < 15 ? i : 15;
	replay(&s, AL_DETECT_ROLE_SERVICE, &seen);
	assert_true(seen.n >= 1);
	assert_int_equal(seen.type[0], AL_INC_PROTOCOL_ABUSE);
}

/* The same metric judged by the role: a spinning service is serving a flood. */
static void test_role_decides(void **state)
{
	struct series s;
	struct seen seen;
	load("spin_ai.tsv", &s);
	replay(&s, AL_DETECT_ROLE_SERVICE, &seen);
	assert_true(seen.n >= 1);
	assert_int_equal(seen.type[0], AL_INC_PROTOCOL_ABUSE);
}

/* During warm-up nothing is judged, however odd. */
static void test_warmup(void **state)
{
	struct series s;
	struct seen seen;
	load("spin_ai.tsv", &s);
	/* Start the replay at the spin: the detector learns it as the normal. */
	struct series tail = {.n = 0};
	for (size_t i = 14; i < s.n; i++)
		tail.m[tail.n++] = s.m[i];
	replay(&tail, AL_DETECT_ROLE_COMPUTE, &seen);
	assert_int_equal(seen.n, 0);
}

/* Hysteresis: a persisting anomaly fires once; after it clears, a new one fires again. */
static void test_hysteresis_rearms(void **state)
{
	struct series normal, spin, mix = {.n = 0};
	load("normal_ai.tsv", &normal);
	load("spin_ai.tsv", &spin);
	uint64_t cpu = 0;
	/* 20 normal, 8 spinning, 20 normal, 8 spinning: counters kept cumulative. */
	const struct series *parts[] = {&normal, &spin, &normal, &spin};
	size_t from[] = {1, 16, 21, 16}, len[] = {20, 8, 20, 8};
	for (int p = 0; p < 4; p++)
		for (size_t i = 0; i < len[p]; i++) {
			const struct al_metrics *a = &parts[p]->m[from[p] + i], *b = &parts[p]->m[from[p] + i - 1];
			cpu += a->cpu_ns - b->cpu_ns;
			mix.m[mix.n] = *a;
			mix.m[mix.n].cpu_ns = cpu;
			mix.m[mix.n].minflt = mix.m[mix.n].majflt = mix.m[mix.n].vcsw = mix.m[mix.n].nvcsw = 0;
			mix.n++;
		}
	struct seen seen;
	replay(&mix, AL_DETECT_ROLE_COMPUTE, &seen);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.type[0], AL_INC_SIDE_CHANNEL);
	assert_int_equal(seen.type[1], AL_INC_SIDE_CHANNEL);
	assert_true(seen.at[0] >= 20 && seen.at[0] < 28);
	assert_true(seen.at[1] >= 48);
}

/* Counter rules fire at once, even in warm-up, and only on an increase. */
static void test_counters(void **state)
{
	struct al_detector d;
	al_detector_init(&d, AL_DETECT_ROLE_COMPUTE, NULL);
	struct al_metrics m = {0};
	struct al_incident inc[AL_DETECT_MAX_INCIDENTS];
	assert_int_equal(al_detector_observe(&d, &m, 1000000000ULL, inc), 0);
	m.seccomp_violations = 1;
	assert_int_equal(al_detector_counters(&d, &m, inc), 1);
	assert_int_equal(inc[0].type, AL_INC_PRIV_ESCALATION);
	assert_int_equal(inc[0].severity, AL_SEV_HIGH);
	assert_string_equal(inc[0].rule, "seccomp-violation");
	al_incident_clear(&inc[0]);
	/* reported already: the tick does not repeat it */
	assert_int_equal(al_detector_observe(&d, &m, 1000000000ULL, inc), 0);
	m.chan_violations = 2;
	size_t n = al_detector_observe(&d, &m, 1000000000ULL, inc);
	assert_int_equal(n, 1);
	assert_int_equal(inc[0].type, AL_INC_MEMORY_CORRUPTION);
	json_t *j = al_incident_json(&inc[0], "ai");
	assert_string_equal(json_string_value(json_object_get(j, "type")), "memory-corruption");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "evidence"), "new")), 2);
	json_decref(j);
	al_incident_clear(&inc[0]);

	struct al_detector p;
	al_detector_init(&p, AL_DETECT_ROLE_SERVICE, NULL);
	struct al_metrics pm = {.chan_violations = 1};
	assert_int_equal(al_detector_counters(&p, &pm, inc), 1);
	assert_int_equal(inc[0].type, AL_INC_PROTOCOL_ABUSE);
	al_incident_clear(&inc[0]);
}

static void test_baseline(void **state)
{
	struct al_baseline b = {0};
	double xs[] = {10, 12, 11, 13, 9, 10, 11, 100};
	for (size_t i = 0; i < 7; i++)
		al_baseline_add(&b, xs[i], 0.1);
	double mad, med = al_baseline_median(&b, &mad);
	assert_true(med == 11);
	assert_true(mad == 1);
	assert_false(al_baseline_anomalous(&b, 14, 6, 0));
	assert_true(al_baseline_anomalous(&b, 100, 6, 0));
	assert_false(al_baseline_anomalous(&b, 100, 6, 1000)); /* under the floor */
	/* the window forgets: 40 samples of 50 move the median there */
	for (int i = 0; i < 40; i++)
		al_baseline_add(&b, 50, 0.1);
	assert_true(al_baseline_median(&b, NULL) == 50);
}

static void test_metrics_parse(void **state)
{
	const char *stat = "123 (a) b) (c) S 1 123 123 0 -1 4194560 7 0 3 0 250 50 0 0 20 0 1 0 99 1000 10";
	const char *status = "Name:\ta) b\nVmRSS:\t  2048 kB\nvoluntary_ctxt_switches:\t5\nnonvoluntary_ctxt_switches:\t6\n";
	struct al_metrics m = {0};
	assert_int_equal(al_metrics_parse(stat, status, 100, &m), 0);
	assert_int_equal(m.minflt, 7);
	assert_int_equal(m.majflt, 3);
	assert_int_equal(m.cpu_ns, 3000000000ULL);
	assert_int_equal(m.rss_kib, 2048);
	assert_int_equal(m.vcsw, 5);
	assert_int_equal(m.nvcsw, 6);
	/* added, for a domain's several processes */
	assert_int_equal(al_metrics_parse(stat, status, 100, &m), 0);
	assert_int_equal(m.minflt, 14);
	/* hostile or truncated texts */
	assert_int_equal(al_metrics_parse("123 (a S 1", status, 100, &m), -EBADMSG);
	assert_int_equal(al_metrics_parse("123 (a) S 1 2", status, 100, &m), -EBADMSG);
	assert_int_equal(al_metrics_parse(stat, "VmRSS: x kB\n", 100, &m), -EBADMSG);
	assert_int_equal(al_metrics_parse(stat, "Name: x\n", 100, &m), -EBADMSG);
	assert_int_equal(al_metrics_parse(stat, status, 0, &m), -EBADMSG);
}

/* The real /proc: this process burns CPU and it shows. */
static void test_metrics_read_self(void **state)
{
	struct al_metrics a = {0}, b = {0};
	assert_int_equal(al_metrics_read(NULL, getpid(), &a), 0);
	volatile double x = 1;
	for (long i = 0; i < 60000000; i++)
		x *= 1.0000001;
	assert_int_equal(al_metrics_read(NULL, getpid(), &b), 0);
	assert_true(b.cpu_ns > a.cpu_ns);
	assert_true(b.rss_kib > 0);
	assert_int_equal(al_metrics_read(NULL, 0x3fffff, &b), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normal_series_quiet),
		cmocka_unit_test(test_spin_is_side_channel),
		cmocka_unit_test(test_work_is_not_a_timing_loop),
		cmocka_unit_test(test_service_work_is_not_a_flood),
		cmocka_unit_test(test_leak_is_memory_corruption),
		cmocka_unit_test(test_flood_is_protocol_abuse),
		cmocka_unit_test(test_role_decides),
		cmocka_unit_test(test_warmup),
		cmocka_unit_test(test_hysteresis_rearms),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_baseline),
		cmocka_unit_test(test_metrics_parse),
		cmocka_unit_test(test_metrics_read_self),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
