/*
 * Tests driven by the configuration key table itself, so that a new key is
 * covered as soon as it is in the table: each key sets the field the table
 * names and no other, the defaults are what the table says, and the
 * documentation (docs/config.md, etc/airlock.conf) shows every key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "al_config.h"
#include "common/util.h"
#include "supervisor/config.h"
#include "testdir.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	if (t_mkdtemp(dir, sizeof dir, "al_keys") < 0)
		return -1;
	assert_int_equal(t_put(dir, "file", "x\n", 0644), 0);
	assert_int_equal(t_put(dir, "prog", "#!/bin/sh\n", 0755), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return t_rmtree(dir) == 0 ? 0 : -1;
}

static int load(const char *text, struct al_config **cfg, char **errors)
{
	char path[128];
	snprintf(path, sizeof path, "%s/airlock.conf", dir);
	return al_config_load_buf(text, strlen(text), path, 0, cfg, errors);
}

/* One key's value as the file would spell it (caller frees). */
static char *value(const struct al_config *cfg, const struct al_config_key *k)
{
	char *v = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&v, &n);
	assert_non_null(m);
	al_config_print_value(cfg, k, m);
	fclose(m);
	return v;
}

/*
 * A valid value other than the default, as written in the file (text) and as
 * printed back once loaded (want), chosen from the key's kind alone.
 */
static void sample(const struct al_config_key *k, const struct al_config *def, char *text,
		   char *want, size_t n)
{
	char *d = value(def, k);
	switch (k->kind) {
	case AL_CONFIG_BOOL:
		snprintf(text, n, "%s", strcmp(d, "yes") == 0 ? "no" : "yes");
		break;
	case AL_CONFIG_U32:
	case AL_CONFIG_U64:
	case AL_CONFIG_SIZE: {
		uint64_t x = strtoull(d, NULL, 10) == k->max ? k->min : k->max;
		snprintf(text, n, "%llu", (unsigned long long)x);
		break;
	}
	case AL_CONFIG_ENUM: {
		const struct al_config_enum *e = k->names;
		while (e->name && strcmp(e->name, d) == 0)
			e++;
		assert_non_null(e->name);
		snprintf(text, n, "%s", e->name);
		break;
	}
	case AL_CONFIG_PATH:
		snprintf(text, n, "%s", k->flags & AL_CONFIG_EXEC ? "prog" : "file");
		break;
	case AL_CONFIG_SOCKET:
		snprintf(text, n, "s.sock");
		break;
	case AL_CONFIG_CPU:
		snprintf(text, n, "%s", strcmp(d, "0.500") == 0 ? "2.000" : "0.500");
		break;
	case AL_CONFIG_CPUS:
		snprintf(text, n, "%s", strcmp(d, "1") == 0 ? "0" : "1");
		break;
	case AL_CONFIG_LISTEN:
		snprintf(text, n, "[::1]:9");
		break;
	case AL_CONFIG_ORIGINS:
		snprintf(text, n, "https://x.example, http://y:1");
		break;
	case AL_CONFIG_HOSTS:
		snprintf(text, n, "x.example, [fd00::1]:8377");
		break;
	}
	/* Relative paths come back absolute. */
	if (k->kind == AL_CONFIG_PATH || k->kind == AL_CONFIG_SOCKET)
		assert_true((size_t)snprintf(want, n, "%s/%s", dir, text) < n);
	else
		snprintf(want, n, "%s", text);
	assert_string_not_equal(want, d);
	free(d);
}

/* Setting a key to a non-default value changes its field, and no other key's. */
static void test_each_key_sets_its_field(void **state)
{
	(void)state;
	size_t n;
	const struct al_config_key *keys = al_config_keys(&n);
	struct al_config *def;
	char *errors = NULL;
	if (load("", &def, &errors))
		fail_msg("%s", errors);
	for (size_t i = 0; i < n; i++) {
		const struct al_config_key *k = &keys[i];
		char text[256], want[256], conf[600];
		sample(k, def, text, want, sizeof text);
		snprintf(conf, sizeof conf, "[%s]\n%s = %s\n", k->section, k->key, text);
		struct al_config *cfg;
		if (load(conf, &cfg, &errors))
			fail_msg("[%s] %s = %s: %s", k->section, k->key, text, errors);
		char *got = value(cfg, k);
		if (strcmp(got, want) != 0)
			fail_msg("[%s] %s = %s reads back as '%s'", k->section, k->key, text, got);
		free(got);
		for (size_t j = 0; j < n; j++) {
			/* The defaults computed from state_dir follow it. */
			if (j == i || (keys[j].derive && strcmp(k->key, "state_dir") == 0))
				continue;
			char *a = value(cfg, &keys[j]), *b = value(def, &keys[j]);
			if (strcmp(a, b) != 0)
				fail_msg("[%s] %s = %s also changed [%s] %s: '%s' -> '%s'", k->section,
					 k->key, text, keys[j].section, keys[j].key, b, a);
			free(a);
			free(b);
		}
		al_config_free(cfg);
	}
	al_config_free(def);
}

/* The table itself: unique names, fields inside their struct, [required] by feature. */
static void test_table(void **state)
{
	(void)state;
	size_t n;
	const struct al_config_key *keys = al_config_keys(&n);
	for (size_t i = 0; i < n; i++) {
		const struct al_config_key *k = &keys[i];
		bool domain = strncmp(k->section, "domain.", 7) == 0;
		if (domain) {
			bool known = false;
			for (int d = 0; d < AL_DOMAIN_COUNT; d++)
				known |= strcmp(k->section + 7, al_domain_name((enum al_domain_id)d)) == 0;
			if (!known)
				fail_msg("[%s]: no such domain", k->section);
		}
		assert_true(k->offset < (domain ? sizeof(struct al_domain_config)
						 : sizeof(struct al_config)));
		assert_non_null(k->help);
		assert_non_null(k->def);
		if (k->kind == AL_CONFIG_ENUM)
			assert_non_null(k->names);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(keys[j].section, k->section) == 0 && strcmp(keys[j].key, k->key) == 0)
				fail_msg("[%s] %s twice", k->section, k->key);
			if (strcmp(keys[j].section, k->section) == 0 && keys[j].offset == k->offset)
				fail_msg("[%s] %s and %s share a field", k->section, keys[j].key, k->key);
		}
		if (strcmp(k->section, "required") == 0) {
			int f = 0;
			while (f < AL_FEAT_COUNT && strcmp(al_feature_name((enum al_feature)f), k->key))
				f++;
			if (f == AL_FEAT_COUNT || k->offset != offsetof(struct al_config, required[f]))
				fail_msg("[required] %s is not the feature of that name", k->key);
		}
	}
	/* Every feature can be required. */
	for (int f = 0; f < AL_FEAT_COUNT; f++) {
		size_t i = 0;
		while (i < n && !(strcmp(keys[i].section, "required") == 0 &&
				  strcmp(keys[i].key, al_feature_name((enum al_feature)f)) == 0))
			i++;
		if (i == n)
			fail_msg("[required] %s missing", al_feature_name((enum al_feature)f));
	}
}

/*
 * The member each key names, written out independently of the table: an
 * entry whose offset points at another member (a key that would set the
 * wrong field) fails here, and a new key must be added here too.
 */
#define C(S, K, F) { S, K, offsetof(struct al_config, F) }
#define D(K, F) { "domain.ai", K, offsetof(struct al_domain_config, F) }, \
		{ "domain.proto", K, offsetof(struct al_domain_config, F) }
static const struct {
	const char *section, *key;
	size_t offset;
} members[] = {
	C("airlock", "level", level), C("airlock", "state_dir", state_dir),
	C("airlock", "audit_log", audit_log), C("airlock", "control_socket", control_socket),
	C("proto", "listen", proto.stdio), C("proto", "allowed_origins", proto.allowed_origins),
	C("proto", "allowed_hosts", proto.allowed_hosts),
	C("proto", "token_file", proto.token_file), C("proto", "body_limit", proto.body_limit),
	C("proto", "concurrency", proto.concurrency),
	C("proto", "max_connections", proto.max_connections),
	C("ai", "model", ai.model), C("ai", "tokenizer", ai.tokenizer),
	C("ai", "threads", ai.threads), C("ai", "max_tokens", ai.max_tokens), C("ai", "slots", ai.slots),
	D("memory", memory), D("pids", pids), D("cpu", cpu_milli), D("cpus", cpus),
	D("seccomp", seccomp), D("sched", sched), D("command", command), D("profile", profile),
	C("respond", "alert_command", respond.alert_command),
	C("respond", "dump_dir", respond.dump_dir),
	C("respond", "quiet_period", respond.quiet_period_s),
	C("respond", "integrity_interval", respond.integrity_interval_s),
	C("respond", "integrity_budget", respond.integrity_budget_pct),
	/* [required] keys are checked against the feature names in test_table. */
};

static void test_members(void **state)
{
	(void)state;
	size_t n;
	const struct al_config_key *keys = al_config_keys(&n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(keys[i].section, "required") == 0)
			continue;
		size_t j = 0;
		while (j < AL_ARRAY_LEN(members) && (strcmp(members[j].section, keys[i].section) ||
						     strcmp(members[j].key, keys[i].key)))
			j++;
		if (j == AL_ARRAY_LEN(members))
			fail_msg("[%s] %s: not in this test's list", keys[i].section, keys[i].key);
		if (members[j].offset != keys[i].offset)
			fail_msg("[%s] %s: sets the wrong field", keys[i].section, keys[i].key);
	}
}

__attribute__((noinline)) static char *read_text(const char *path)
{
	char *text = NULL;
	size_t len;
	if (al_read_file_at(AT_FDCWD, path, 1 << 20, &text, &len) < 0)
		fail_msg("cannot read %s", path);
	return text;
}

/* docs/config.md is the generator's output (regenerate: airlock config reference > docs/config.md). */
static void test_reference_current(void **state)
{
	(void)state;
	char *ref = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&ref, &len);
	assert_non_null(m);
	al_config_reference(m);
	fclose(m);
	char *doc = read_text(AL_SOURCE_ROOT "/docs/config.md");
	if (strcmp(ref, doc) != 0)
		fail_msg("docs/config.md is stale: airlock config reference > docs/config.md");
	/* ... and it names every key. */
	size_t n;
	const struct al_config_key *keys = al_config_keys(&n);
	for (size_t i = 0; i < n; i++) {
		char h[120];
		snprintf(h, sizeof h, "\n### %s\n", keys[i].key);
		assert_non_null(strstr(ref, h));
	}
	free(ref);
	free(doc);
}

/* etc/airlock.conf shows every key of the table in its section, set or commented out. */
static void test_sample_config_shows_every_key(void **state)
{
	(void)state;
	char *text = read_text(AL_SOURCE_ROOT "/etc/airlock.conf");
	size_t n;
	const struct al_config_key *keys = al_config_keys(&n);
	for (size_t i = 0; i < n; i++) {
		char sec[64], a[80], b[80];
		snprintf(sec, sizeof sec, "\n[%s]\n", keys[i].section);
		const char *s = strstr(text, sec);
		if (!s)
			fail_msg("etc/airlock.conf has no [%s]", keys[i].section);
		s += strlen(sec);
		const char *end = strstr(s, "\n[");
		size_t len = end ? (size_t)(end - s) : strlen(s);
		snprintf(a, sizeof a, "\n%s =", keys[i].key);
		snprintf(b, sizeof b, "\n;%s =", keys[i].key);
		char *part = strndup(s - 1, len + 1);
		if (!strstr(part, a) && !strstr(part, b))
			fail_msg("etc/airlock.conf: [%s] does not show %s", keys[i].section,
				 keys[i].key);
		free(part);
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_each_key_sets_its_field),
		cmocka_unit_test(test_reference_current),
		cmocka_unit_test(test_sample_config_shows_every_key),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
