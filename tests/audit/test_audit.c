#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "common/util.h"
#include "testdir.h"

struct fx {
	char dir[64];
	char log[128], key[128], state[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	if (t_mkdtemp(f->dir, sizeof f->dir, "al_audit") < 0)
		return -1;
	snprintf(f->log, sizeof f->log, "%s/audit.log", f->dir);
	snprintf(f->key, sizeof f->key, "%s/audit.log.key", f->dir);
	snprintf(f->state, sizeof f->state, "%s/audit.log.state", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (t_rmtree(f->dir) != 0)
		return -1;
	free(f);
	return 0;
}

/* Writes n records (seq 0..n-1); seal: close cleanly (seal record seq n), else only flush. */
static void write_log(struct fx *f, int n, bool seal)
{
	struct al_audit *log;
	assert_int_equal(al_audit_open(&log, f->log, NULL, NULL), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(al_audit_pack(log, i % 3 ? "spawn" : "seccomp.violation", i % 3 == 0,
					       "{s:i, s:s}", "i", i, "domain", "ai"), 0);
	assert_int_equal(al_audit_flush(log), 0);
	if (seal)
		assert_int_equal(al_audit_close(log), 0);
	else
		al_audit_abandon(log);
}

/* Lines of a file, each with its newline. */
struct lines {
	char *l[64];
	size_t n;
};

static void read_lines(const char *path, struct lines *ls)
{
	char *buf;
	size_t len;
	assert_int_equal(al_read_file_at(AT_FDCWD, path, 1 << 20, &buf, &len), 0);
	ls->n = 0;
	char *p = buf;
	while (*p) {
		char *nl = strchr(p, '\n');
		assert_non_null(nl);
		assert_true(ls->n < 64);
		ls->l[ls->n++] = strndup(p, (size_t)(nl - p + 1));
		p = nl + 1;
	}
	free(buf);
}

static void write_lines(const char *path, struct lines *ls)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	for (size_t i = 0; i < ls->n; i++)
		fputs(ls->l[i], fp);
	fclose(fp);
}

static void free_lines(struct lines *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free(ls->l[i]);
	ls->n = 0;
}

static void expect_bad(struct fx *f, const char *statepath, enum al_audit_verdict v,
		       uint64_t line, uint64_t seq)
{
	struct al_audit_result res;
	assert_int_equal(al_audit_verify_file(f->log, f->key, statepath, &res), -EBADMSG);
	if (res.verdict != v || res.bad_line != line || res.bad_seq != seq)
		fail_msg("got verdict %d line %lu seq %lu (%s), want %d line %lu seq %lu",
			 res.verdict, (unsigned long)res.bad_line, (unsigned long)res.bad_seq,
			 res.reason, v, (unsigned long)line, (unsigned long)seq);
}

static void test_clean_log_verifies(void **state)
{
	struct fx *f = *state;
	write_log(f, 10, true);
	struct al_audit_result res;
	assert_int_equal(al_audit_verify_file(f->log, f->key, f->state, &res), 0);
	assert_int_equal(res.verdict, AL_AUDIT_OK);
	assert_int_equal(res.records, 11);
	assert_true(res.sealed);
	assert_true(res.state_checked);
	/* Key and state are root-only. */
	struct stat st;
	assert_int_equal(stat(f->key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(f->state, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(f->log, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_record_format(void **state)
{
	struct fx *f = *state;
	write_log(f, 1, true);
	struct lines ls;
	read_lines(f->log, &ls);
	assert_int_equal(ls.n, 2);
	json_error_t err;
	json_t *j = json_loads(ls.l[0], 0, &err);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), 0);
	assert_string_equal(json_string_value(json_object_get(j, "event")), "seccomp.violation");
	const char *t = json_string_value(json_object_get(j, "time"));
	assert_int_equal(strlen(t), 27);
	assert_int_equal(t[10], 'T');
	assert_int_equal(t[26], 'Z');
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "fields"), "i")), 0);
	assert_int_equal(strlen(json_string_value(json_object_get(j, "mac"))), 64);
	json_decref(j);
	free_lines(&ls);
}

static void test_byte_edit(void **state)
{
	struct fx *f = *state;
	write_log(f, 6, true);
	struct lines ls;
	read_lines(f->log, &ls);
	char *p = strstr(ls.l[3], "\"ai\"");
	assert_non_null(p);
	p[1] = 'x'; /* "ai" -> "xi": still canonical JSON, only the MAC can tell */
	write_lines(f->log, &ls);
	free_lines(&ls);
	expect_bad(f, f->state, AL_AUDIT_BAD_MAC, 4, 3);
	expect_bad(f, NULL, AL_AUDIT_BAD_MAC, 4, 3);
}

static void test_mac_edit(void **state)
{
	struct fx *f = *state;
	write_log(f, 4, true);
	struct lines ls;
	read_lines(f->log, &ls);
	char *p = strstr(ls.l[1], "\"mac\":\"");
	assert_non_null(p);
	p += 7;
	*p = *p == '0' ? '1' : '0';
	write_lines(f->log, &ls);
	free_lines(&ls);
	expect_bad(f, f->state, AL_AUDIT_BAD_MAC, 2, 1);
}

static void test_noncanonical_edit(void **state)
{
	struct fx *f = *state;
	write_log(f, 3, true);
	struct lines ls;
	read_lines(f->log, &ls);
	/* Same JSON meaning, different bytes: a space after the first comma. */
	char *p = strchr(ls.l[2], ',');
	size_t len = strlen(ls.l[2]);
	char *n = malloc(len + 2);
	memcpy(n, ls.l[2], (size_t)(p - ls.l[2]) + 1);
	n[p - ls.l[2] + 1] = ' ';
	memcpy(n + (p - ls.l[2]) + 2, p + 1, len - (size_t)(p - ls.l[2]));
	free(ls.l[2]);
	ls.l[2] = n;
	write_lines(f->log, &ls);
	free_lines(&ls);
	expect_bad(f, f->state, AL_AUDIT_BAD_RECORD, 3, 2);
}

static void test_line_removed(void **state)
{
	struct fx *f = *state;
	write_log(f, 6, true);
	struct lines ls;
	read_lines(f->log, &ls);
	free(ls.l[2]);
	memmove(&ls.l[2], &ls.l[3], (ls.n - 3) * sizeof ls.l[0]);
	ls.n--;
	write_lines(f->log, &ls);
	free_lines(&ls);
	expect_bad(f, f->state, AL_AUDIT_BAD_SEQ, 3, 2);
}

static void test_lines_swapped(void **state)
{
	struct fx *f = *state;
	write_log(f, 6, true);
	struct lines ls;
	read_lines(f->log, &ls);
	char *t = ls.l[4];
	ls.l[4] = ls.l[5];
	ls.l[5] = t;
	write_lines(f->log, &ls);
	free_lines(&ls);
	expect_bad(f, f->state, AL_AUDIT_BAD_SEQ, 5, 4);
}

static void test_truncation(void **state)
{
	struct fx *f = *state;
	write_log(f, 6, true);
	struct lines ls;
	read_lines(f->log, &ls);
	/* Cut the last two records (seal included) at a line boundary. */
	free(ls.l[--ls.n]);
	free(ls.l[--ls.n]);
	write_lines(f->log, &ls);
	/* With the state: detected, named at the first missing record. */
	expect_bad(f, f->state, AL_AUDIT_TRUNCATED, 6, 5);
	/* Without it the chain itself is intact; only the missing seal tells. */
	struct al_audit_result res;
	assert_int_equal(al_audit_verify_file(f->log, f->key, NULL, &res), 0);
	assert_false(res.sealed);
	assert_int_equal(res.records, 5);

	/* A line cut short but ending in a newline is not a record. */
	strcpy(ls.l[ls.n - 1] + 10, "\n");
	write_lines(f->log, &ls);
	free_lines(&ls);
	expect_bad(f, NULL, AL_AUDIT_BAD_RECORD, 5, 4);
}

static void test_torn_tail(void **state)
{
	struct fx *f = *state;
	write_log(f, 3, true);
	struct lines ls;
	read_lines(f->log, &ls);
	ls.l[ls.n - 1][strlen(ls.l[ls.n - 1]) - 20] = '\0';
	write_lines(f->log, &ls);
	free_lines(&ls);
	expect_bad(f, NULL, AL_AUDIT_TRUNCATED, 4, 3);
}

/* Forges a record with the given seq under a key the forger picked. */
static char *forge(uint64_t seq)
{
	unsigned char mac[32];
	char hex[65];
	randombytes_buf(mac, sizeof mac);
	sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
	json_t *j = json_pack("{s:I, s:s, s:s, s:{}, s:s}", "seq", (json_int_t)seq, "time",
			      "2026-01-01T00:00:00.000000Z", "event", "stop", "fields", "mac", hex);
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	size_t n = strlen(s);
	s = realloc(s, n + 2);
	s[n] = '\n';
	s[n + 1] = '\0';
	return s;
}

static void test_forged_append(void **state)
{
	struct fx *f = *state;
	write_log(f, 4, true);
	struct lines ls;
	read_lines(f->log, &ls);
	ls.l[ls.n] = forge(ls.n);
	ls.n++;
	write_lines(f->log, &ls);
	free_lines(&ls);
	expect_bad(f, NULL, AL_AUDIT_BAD_MAC, 6, 5);
}

static void test_inserted_line(void **state)
{
	struct fx *f = *state;
	write_log(f, 4, true);
	struct lines ls;
	read_lines(f->log, &ls);
	memmove(&ls.l[3], &ls.l[2], (ls.n - 2) * sizeof ls.l[0]);
	ls.n++;
	ls.l[2] = forge(2);
	write_lines(f->log, &ls);
	free_lines(&ls);
	expect_bad(f, f->state, AL_AUDIT_BAD_MAC, 3, 2);
}

/* Whoever steals the state file holds the current key, and still cannot rewrite the past. */
static void test_stolen_state_cannot_rewrite_past(void **state)
{
	struct fx *f = *state;
	write_log(f, 5, false);
	char *st;
	size_t stlen;
	assert_int_equal(al_read_file_at(AT_FDCWD, f->state, 4096, &st, &stlen), 0);
	json_t *sj = json_loads(st, 0, NULL);
	free(st);
	unsigned char key[32], prev[32] = { 0 };
	assert_int_equal(sodium_hex2bin(key, 32, json_string_value(json_object_get(sj, "key")), 64,
					NULL, NULL, NULL), 0);
	json_decref(sj);

	/* Rewrite record 0 with the stolen key: canonical form, correct chain input. */
	struct lines ls;
	read_lines(f->log, &ls);
	json_t *r = json_loads(ls.l[0], 0, NULL);
	json_object_set_new(json_object_get(r, "fields"), "domain", json_string("proto"));
	json_object_del(r, "mac");
	char *canon = json_dumps(r, JSON_SORT_KEYS | JSON_COMPACT);
	unsigned char mac[32];
	char hex[65];
	crypto_generichash_state hs;
	crypto_generichash_init(&hs, key, 32, 32);
	crypto_generichash_update(&hs, prev, 32);
	crypto_generichash_update(&hs, (unsigned char *)canon, strlen(canon));
	crypto_generichash_final(&hs, mac, 32);
	free(canon);
	sodium_bin2hex(hex, sizeof hex, mac, 32);
	json_object_set_new(r, "mac", json_string(hex));
	char *line = json_dumps(r, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(r);
	free(ls.l[0]);
	ls.l[0] = malloc(strlen(line) + 2);
	sprintf(ls.l[0], "%s\n", line);
	free(line);
	write_lines(f->log, &ls);
	free_lines(&ls);
	expect_bad(f, f->state, AL_AUDIT_BAD_MAC, 1, 0);
}

/* An urgent record is covered by the state at once: cutting it off is found without a flush. */
static void test_urgent_record_cannot_be_cut(void **state)
{
	struct fx *f = *state;
	struct al_audit *log;
	assert_int_equal(al_audit_open(&log, f->log, NULL, NULL), 0);
	assert_int_equal(al_audit_append(log, "spawn", NULL, false), 0);
	assert_int_equal(al_audit_append(log, "seccomp.violation", NULL, true), 0);
	/* The intruder arrives now, before any tick, and removes the violation. */
	struct lines ls;
	read_lines(f->log, &ls);
	assert_int_equal(ls.n, 2);
	free(ls.l[--ls.n]);
	write_lines(f->log, &ls);
	free_lines(&ls);
	expect_bad(f, f->state, AL_AUDIT_TRUNCATED, 2, 1);
	al_audit_abandon(log);
}

static void test_reopen_continues_chain(void **state)
{
	struct fx *f = *state;
	write_log(f, 3, true);
	struct al_audit *log;
	assert_int_equal(al_audit_open(&log, f->log, NULL, NULL), 0);
	assert_int_equal(al_audit_next_seq(log), 4);
	assert_int_equal(al_audit_append(log, "start", NULL, false), 0);
	assert_int_equal(al_audit_tick(log), 0);
	assert_int_equal(al_audit_close(log), 0);
	struct al_audit_result res;
	assert_int_equal(al_audit_verify_file(f->log, f->key, f->state, &res), 0);
	assert_int_equal(res.records, 6);
	assert_true(res.sealed);
}

/* Records written after the last state (a crash before the flush) are replayed at reopen. */
static void test_reopen_after_stale_state(void **state)
{
	struct fx *f = *state;
	write_log(f, 2, true);
	char *old;
	size_t oldlen;
	assert_int_equal(al_read_file_at(AT_FDCWD, f->state, 4096, &old, &oldlen), 0);
	struct al_audit *log;
	assert_int_equal(al_audit_open(&log, f->log, NULL, NULL), 0);
	assert_int_equal(al_audit_append(log, "spawn", NULL, true), 0);
	assert_int_equal(al_audit_append(log, "exit", NULL, true), 0);
	assert_int_equal(al_audit_close(log), 0);
	/* Put the old state back: as if the process died before writing the new one. */
	FILE *fp = fopen(f->state, "w");
	fwrite(old, 1, oldlen, fp);
	fclose(fp);
	free(old);
	assert_int_equal(al_audit_open(&log, f->log, NULL, NULL), 0);
	assert_int_equal(al_audit_next_seq(log), 6);
	assert_int_equal(al_audit_close(log), 0);
	struct al_audit_result res;
	assert_int_equal(al_audit_verify_file(f->log, f->key, f->state, &res), 0);
	assert_int_equal(res.records, 7);
}

static void test_reopen_torn_tail_recovers(void **state)
{
	struct fx *f = *state;
	struct al_audit *log;
	assert_int_equal(al_audit_open(&log, f->log, NULL, NULL), 0);
	assert_int_equal(al_audit_append(log, "start", NULL, true), 0);
	assert_int_equal(al_audit_close(log), 0);
	FILE *fp = fopen(f->log, "a");
	fputs("{\"event\":\"sp", fp); /* a write cut by a power loss */
	fclose(fp);
	assert_int_equal(al_audit_open(&log, f->log, NULL, NULL), 0);
	assert_int_equal(al_audit_close(log), 0);
	struct al_audit_result res;
	assert_int_equal(al_audit_verify_file(f->log, f->key, f->state, &res), 0);
	assert_int_equal(res.records, 4); /* start, seal, recovered, seal */
	struct lines ls;
	read_lines(f->log, &ls);
	assert_non_null(strstr(ls.l[2], AL_AUDIT_EVENT_RECOVERED));
	free_lines(&ls);
}

static void test_reopen_refuses_edited_tail(void **state)
{
	struct fx *f = *state;
	write_log(f, 2, true);
	char *old;
	size_t oldlen;
	assert_int_equal(al_read_file_at(AT_FDCWD, f->state, 4096, &old, &oldlen), 0);
	struct al_audit *log;
	assert_int_equal(al_audit_open(&log, f->log, NULL, NULL), 0);
	assert_int_equal(al_audit_pack(log, "spawn", false, "{s:s}", "d", "ai"), 0);
	assert_int_equal(al_audit_close(log), 0);
	FILE *fp = fopen(f->state, "w");
	fwrite(old, 1, oldlen, fp);
	fclose(fp);
	free(old);
	struct lines ls;
	read_lines(f->log, &ls);
	strstr(ls.l[3], "\"ai\"")[1] = 'b';
	write_lines(f->log, &ls);
	free_lines(&ls);
	assert_int_equal(al_audit_open(&log, f->log, NULL, NULL), -EBADMSG);
}

static void test_reopen_needs_state(void **state)
{
	struct fx *f = *state;
	write_log(f, 1, true);
	assert_int_equal(unlink(f->state), 0);
	struct al_audit *log;
	assert_int_equal(al_audit_open(&log, f->log, NULL, NULL), -ENOENT);
}

static void test_key_never_reused(void **state)
{
	struct fx *f = *state;
	write_log(f, 1, true);
	assert_int_equal(unlink(f->log), 0);
	assert_int_equal(unlink(f->state), 0);
	struct al_audit *log;
	assert_int_equal(al_audit_open(&log, f->log, NULL, NULL), -EEXIST);
}

static void test_state_of_other_log(void **state)
{
	struct fx *f = *state;
	write_log(f, 3, true);
	char other[160];
	snprintf(other, sizeof other, "%s/other.log", f->dir);
	struct al_audit *log;
	assert_int_equal(al_audit_open(&log, other, NULL, NULL), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(al_audit_append(log, "x", NULL, false), 0);
	assert_int_equal(al_audit_close(log), 0);
	char otherstate[180];
	snprintf(otherstate, sizeof otherstate, "%s.state", other);
	expect_bad(f, otherstate, AL_AUDIT_BAD_STATE, 0, 4);
	/* A wrong key fails at the first record. */
	char otherkey[180];
	snprintf(otherkey, sizeof otherkey, "%s.key", other);
	struct al_audit_result res;
	assert_int_equal(al_audit_verify_file(f->log, otherkey, NULL, &res), -EBADMSG);
	assert_int_equal(res.verdict, AL_AUDIT_BAD_MAC);
	assert_int_equal(res.bad_line, 1);
}

static void test_bad_appends_refused(void **state)
{
	struct fx *f = *state;
	struct al_audit *log;
	assert_int_equal(al_audit_open(&log, f->log, NULL, NULL), 0);
	assert_int_equal(al_audit_append(log, "Bad Event", NULL, false), -EINVAL);
	assert_int_equal(al_audit_append(log, "", NULL, false), -EINVAL);
	json_t *arr = json_array();
	assert_int_equal(al_audit_append(log, "x", arr, false), -EINVAL);
	json_decref(arr);
	char *big = malloc(AL_AUDIT_MAX_LINE + 1);
	memset(big, 'a', AL_AUDIT_MAX_LINE);
	big[AL_AUDIT_MAX_LINE] = '\0';
	assert_int_equal(al_audit_pack(log, "x", false, "{s:s}", "big", big), -E2BIG);
	free(big);
	assert_int_equal(al_audit_next_seq(log), 0);
	assert_int_equal(al_audit_close(log), 0);
	struct al_audit_result res;
	assert_int_equal(al_audit_verify_file(f->log, f->key, f->state, &res), 0);
	assert_int_equal(res.records, 1);
}

static void test_verify_buf_hostile(void **state)
{
	(void)state;
	unsigned char key[32] = { 1 };
	struct al_audit_result res;
	static const char *bad[] = {
		"\n", "[]\n", "{}\n", "null\n", "{\"seq\":0}\n",
		"{\"event\":\"a\",\"fields\":{},\"mac\":\"zz\",\"seq\":0,\"time\":\"x\"}\n",
		"{\"seq\":0,\"seq\":0}\n", "\xff\xfe\n",
	};
	for (size_t i = 0; i < AL_ARRAY_LEN(bad); i++) {
		assert_int_equal(al_audit_verify_buf(key, bad[i], strlen(bad[i]), NULL, 0, &res),
				 -EBADMSG);
		assert_int_equal(res.bad_line, 1);
	}
	assert_int_equal(al_audit_verify_buf(key, "", 0, "{", 1, &res), -EBADMSG);
	assert_int_equal(res.verdict, AL_AUDIT_BAD_STATE);
	assert_int_equal(al_audit_verify_buf(key, "", 0, NULL, 0, &res), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clean_log_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_edit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mac_edit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_noncanonical_edit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_swapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inserted_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stolen_state_cannot_rewrite_past, setup, teardown),
		cmocka_unit_test_setup_teardown(test_urgent_record_cannot_be_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_continues_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_after_stale_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_torn_tail_recovers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_refuses_edited_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_needs_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_never_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_of_other_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_appends_refused, setup, teardown),
		cmocka_unit_test(test_verify_buf_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
