/*
 * Tamper-evident audit log (see audit.h for the construction and the files).
 *
 * The writer and the verifier share one rule for what a record is: the exact
 * bytes jansson produces with JSON_SORT_KEYS | JSON_COMPACT. The verifier
 * re-serialises every parsed line and refuses any that differ, so even an edit
 * that keeps the JSON meaning (spacing, key order, escapes) is found.
 */
#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define STATE_MAX 4096
#define KEYFILE_MAX 256
#define TIME_LEN 27 /* YYYY-MM-DDTHH:MM:SS.uuuuuuZ */

struct al_audit {
	int fd;
	char *path;
	char *statepath;
	unsigned char *key; /* sodium_malloc'd: guard pages, locked, never swapped */
	unsigned char mac[AL_AUDIT_MAC_LEN];
	uint64_t seq;    /* next record's seq */
	uint64_t offset; /* bytes of complete records in the log */
	bool dirty;      /* appended since the last fdatasync of the log */
	bool state_lazy; /* state renamed into place but not yet fsynced */
	bool failed;     /* a write failed: the tail may be torn, refuse more */
};

struct al_audit_verifier {
	unsigned char key[AL_AUDIT_KEY_LEN];
	unsigned char mac[AL_AUDIT_MAC_LEN];
	uint64_t seq;
	uint64_t line;
	bool sealed;
	bool failed;
	/* Chain position a state file attests: compared when the walk reaches check_seq. */
	bool have_check, check_done;
	uint64_t check_seq;
	unsigned char check_key[AL_AUDIT_KEY_LEN];
	unsigned char check_mac[AL_AUDIT_MAC_LEN];
};

/* ---- shared crypto ---- */

/* key_{i+1} = BLAKE2b-256(key_i), computed in place so key_i is gone afterwards. */
static void key_evolve(unsigned char key[AL_AUDIT_KEY_LEN])
{
	unsigned char next[AL_AUDIT_KEY_LEN];
	crypto_generichash(next, sizeof next, key, AL_AUDIT_KEY_LEN, NULL, 0);
	memcpy(key, next, sizeof next);
	sodium_memzero(next, sizeof next);
}

static void record_mac(const unsigned char key[AL_AUDIT_KEY_LEN],
		       const unsigned char prev[AL_AUDIT_MAC_LEN], const char *canon,
		       size_t len, unsigned char out[AL_AUDIT_MAC_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, AL_AUDIT_KEY_LEN, AL_AUDIT_MAC_LEN);
	crypto_generichash_update(&st, prev, AL_AUDIT_MAC_LEN);
	crypto_generichash_update(&st, (const unsigned char *)canon, len);
	crypto_generichash_final(&st, out, AL_AUDIT_MAC_LEN);
	sodium_memzero(&st, sizeof st);
}

static int hex_decode(const char *hex, size_t hexlen, unsigned char *out, size_t outlen)
{
	size_t bin_len = 0;
	const char *end = NULL;
	if (hexlen != outlen * 2)
		return -EINVAL;
	if (sodium_hex2bin(out, outlen, hex, hexlen, NULL, &bin_len, &end) != 0 ||
	    bin_len != outlen || end != hex + hexlen)
		return -EINVAL;
	return 0;
}

static bool event_name_ok(const char *e, size_t len)
{
	return al_name_ok(e, len, AL_AUDIT_MAX_EVENT);
}

static bool time_ok(const char *t, size_t len)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	if (len != TIME_LEN)
		return false;
	for (size_t i = 0; i < TIME_LEN; i++) {
		if (pat[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != pat[i])
			return false;
	}
	return true;
}

/* ---- small file helpers ---- */

static int fsync_parent(const char *path)
{
	AL_AUTOFREE char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	AL_AUTOCLOSE int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		return -errno;
	return 0;
}

static char *path_with_suffix(const char *path, const char *suffix)
{
	size_t n;
	if (!al_add_size(strlen(path), strlen(suffix), &n) || !al_add_size(n, 1, &n))
		return NULL;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s", path, suffix);
	return s;
}

int al_audit_key_load(const char *keypath, unsigned char key[AL_AUDIT_KEY_LEN])
{
	char *buf = NULL;
	size_t len = 0;
	int rc = al_read_file_at(AT_FDCWD, keypath, KEYFILE_MAX, &buf, &len);
	if (rc < 0)
		return rc;
	size_t hexlen = len;
	if (hexlen && buf[hexlen - 1] == '\n')
		hexlen--;
	rc = hex_decode(buf, hexlen, key, AL_AUDIT_KEY_LEN);
	sodium_memzero(buf, len);
	free(buf);
	return rc;
}

/* Creates the key file once: O_EXCL, 0600. The key must never serve two chains. */
static int key_create(const char *keypath, const unsigned char key[AL_AUDIT_KEY_LEN])
{
	char hex[AL_AUDIT_KEY_LEN * 2 + 2];
	int fd = open(keypath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	sodium_bin2hex(hex, sizeof hex - 1, key, AL_AUDIT_KEY_LEN);
	hex[AL_AUDIT_KEY_LEN * 2] = '\n';
	hex[AL_AUDIT_KEY_LEN * 2 + 1] = '\0';
	int rc = al_write_all(fd, hex, AL_AUDIT_KEY_LEN * 2 + 1);
	sodium_memzero(hex, sizeof hex);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0)
		rc = fsync_parent(keypath);
	if (rc < 0)
		unlink(keypath);
	return rc;
}

/* ---- state file ---- */

struct state {
	uint64_t seq;
	uint64_t offset;
	unsigned char key[AL_AUDIT_KEY_LEN];
	unsigned char mac[AL_AUDIT_MAC_LEN];
};

/* Parses a state file's text (untrusted: the verifier reads it too). */
static int state_parse(const char *text, size_t len, struct state *st, char *why, size_t whylen)
{
	json_error_t err;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	int rc = -EBADMSG;
	if (!j) {
		snprintf(why, whylen, "state: line %d: %.100s", err.line, err.text);
		return rc;
	}
	json_t *ver = json_object_get(j, "version"), *seq = json_object_get(j, "seq"),
	       *off = json_object_get(j, "offset"), *key = json_object_get(j, "key"),
	       *mac = json_object_get(j, "mac");
	if (!json_is_object(j) || json_object_size(j) != 5 || !json_is_integer(ver) ||
	    json_integer_value(ver) != 1) {
		snprintf(why, whylen, "state: not a version 1 state object");
	} else if (!json_is_integer(seq) || json_integer_value(seq) < 0) {
		snprintf(why, whylen, "state: bad \"seq\"");
	} else if (!json_is_integer(off) || json_integer_value(off) < 0) {
		snprintf(why, whylen, "state: bad \"offset\"");
	} else if (!json_is_string(key) ||
		   hex_decode(json_string_value(key), json_string_length(key), st->key,
			      sizeof st->key) < 0) {
		snprintf(why, whylen, "state: bad \"key\"");
	} else if (!json_is_string(mac) ||
		   hex_decode(json_string_value(mac), json_string_length(mac), st->mac,
			      sizeof st->mac) < 0) {
		snprintf(why, whylen, "state: bad \"mac\"");
	} else {
		st->seq = (uint64_t)json_integer_value(seq);
		st->offset = (uint64_t)json_integer_value(off);
		rc = 0;
	}
	if (json_is_string(key)) /* jansson frees without wiping: wipe the key copy first */
		sodium_memzero((char *)json_string_value(key), json_string_length(key));
	json_decref(j);
	return rc;
}

/*
 * Atomic rewrite: tmp, rename; with durable, fsync of both file and directory.
 * Caller has fsynced the log first, so the state is never ahead of the log on
 * disk. Without durable the new state is only visible (page cache): enough to
 * stop a live intruder from cutting the records it attests, at a third of the
 * cost; the next tick makes it durable.
 */
static int state_write(struct al_audit *log, bool durable)
{
	char keyhex[AL_AUDIT_KEY_LEN * 2 + 1], machex[AL_AUDIT_MAC_LEN * 2 + 1];
	sodium_bin2hex(keyhex, sizeof keyhex, log->key, AL_AUDIT_KEY_LEN);
	sodium_bin2hex(machex, sizeof machex, log->mac, AL_AUDIT_MAC_LEN);
	json_t *j = json_pack("{s:i, s:I, s:I, s:s, s:s}", "version", 1, "seq",
			      (json_int_t)log->seq, "offset", (json_int_t)log->offset, "key",
			      keyhex, "mac", machex);
	sodium_memzero(keyhex, sizeof keyhex);
	if (!j)
		return -ENOMEM;
	json_t *k = json_object_get(j, "key");
	char *text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	sodium_memzero((char *)json_string_value(k), json_string_length(k));
	json_decref(j);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text);
	int rc = 0;
	AL_AUTOFREE char *tmp = path_with_suffix(log->statepath, ".tmp");
	if (!tmp) {
		rc = -ENOMEM;
		goto out;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = al_write_all(fd, text, len);
	if (rc == 0 && durable && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, log->statepath) < 0)
		rc = -errno;
	if (rc == 0 && durable)
		rc = fsync_parent(log->statepath);
	if (rc < 0)
		unlink(tmp);
out:
	sodium_memzero(text, len);
	free(text);
	return rc;
}

/* ---- line reader over an fd: bounded, never allocates more than one line ---- */

struct linereader {
	int fd;
	char *buf;
	size_t cap, start, end;
	bool eof;
};

/* 1: a line (complete tells whether a newline ended it); 0: end; -E2BIG: line too long. */
static int lr_next(struct linereader *lr, const char **line, size_t *len, bool *complete)
{
	for (;;) {
		char *nl = memchr(lr->buf + lr->start, '\n', lr->end - lr->start);
		if (nl) {
			*line = lr->buf + lr->start;
			*len = (size_t)(nl - *line);
			*complete = true;
			lr->start += *len + 1;
			return 1;
		}
		if (lr->end - lr->start > AL_AUDIT_MAX_LINE)
			return -E2BIG;
		if (lr->eof) {
			if (lr->end == lr->start)
				return 0;
			*line = lr->buf + lr->start;
			*len = lr->end - lr->start;
			*complete = false;
			lr->start = lr->end;
			return 1;
		}
		if (lr->start) {
			memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
			lr->end -= lr->start;
			lr->start = 0;
		}
		ssize_t n = read(lr->fd, lr->buf + lr->end, lr->cap - lr->end);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			lr->eof = true;
		else
			lr->end += (size_t)n;
	}
}

/* ---- verifier ---- */

const char *al_audit_verdict_name(enum al_audit_verdict v)
{
	switch (v) {
	case AL_AUDIT_OK: return "ok";
	case AL_AUDIT_BAD_RECORD: return "malformed record";
	case AL_AUDIT_BAD_SEQ: return "sequence broken (record removed, reordered or inserted)";
	case AL_AUDIT_BAD_MAC: return "MAC mismatch (record edited or forged)";
	case AL_AUDIT_TRUNCATED: return "truncated";
	case AL_AUDIT_BAD_STATE: return "state does not match the log";
	}
	return "?";
}

static void verifier_init(struct al_audit_verifier *v, const unsigned char key[AL_AUDIT_KEY_LEN],
			  const unsigned char mac[AL_AUDIT_MAC_LEN], uint64_t seq)
{
	memset(v, 0, sizeof *v);
	memcpy(v->key, key, AL_AUDIT_KEY_LEN);
	if (mac)
		memcpy(v->mac, mac, AL_AUDIT_MAC_LEN);
	v->seq = seq;
}

struct al_audit_verifier *al_audit_verifier_new(const unsigned char key0[AL_AUDIT_KEY_LEN])
{
	if (sodium_init() < 0)
		return NULL;
	struct al_audit_verifier *v = malloc(sizeof *v);
	if (v)
		verifier_init(v, key0, NULL, 0);
	return v;
}

void al_audit_verifier_free(struct al_audit_verifier *v)
{
	if (!v)
		return;
	sodium_memzero(v, sizeof *v);
	free(v);
}

static int fail(struct al_audit_verifier *v, struct al_audit_result *res,
		enum al_audit_verdict verdict, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct al_audit_verifier *v, struct al_audit_result *res,
		enum al_audit_verdict verdict, const char *fmt, ...)
{
	va_list ap;
	v->failed = true;
	res->verdict = verdict;
	/* A state that does not match names no record: the chain itself may be fine. */
	res->bad_line = verdict == AL_AUDIT_BAD_STATE ? 0 : v->line;
	res->bad_seq = v->seq;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof res->reason, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* Compares the walk's position with the state's, once the walk reaches it. */
static int check_state_here(struct al_audit_verifier *v, struct al_audit_result *res)
{
	if (!v->have_check || v->check_done || v->seq != v->check_seq)
		return 0;
	v->check_done = true;
	if (sodium_memcmp(v->key, v->check_key, AL_AUDIT_KEY_LEN) != 0 ||
	    sodium_memcmp(v->mac, v->check_mac, AL_AUDIT_MAC_LEN) != 0)
		return fail(v, res, AL_AUDIT_BAD_STATE,
			    "the state's key or MAC at seq %" PRIu64 " is not this log's", v->seq);
	return 0;
}

int al_audit_verifier_line(struct al_audit_verifier *v, const char *line, size_t len,
			   struct al_audit_result *res)
{
	if (v->failed)
		return -EBADMSG;
	v->line++;
	res->bad_line = 0;
	if (check_state_here(v, res) < 0)
		return -EBADMSG;
	if (len > AL_AUDIT_MAX_LINE)
		return fail(v, res, AL_AUDIT_BAD_RECORD, "line longer than %d bytes",
			    AL_AUDIT_MAX_LINE);

	json_error_t err;
	json_t *rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
	if (!rec)
		return fail(v, res, AL_AUDIT_BAD_RECORD, "not JSON: %.100s (column %d)", err.text,
			    err.column);
	int rc = -EBADMSG;
	char *full = NULL, *canon = NULL;
	json_t *seq = json_object_get(rec, "seq"), *tm = json_object_get(rec, "time"),
	       *ev = json_object_get(rec, "event"), *fields = json_object_get(rec, "fields"),
	       *mac = json_object_get(rec, "mac");
	unsigned char want[AL_AUDIT_MAC_LEN], got[AL_AUDIT_MAC_LEN];

	if (!json_is_object(rec) || json_object_size(rec) != 5) {
		fail(v, res, AL_AUDIT_BAD_RECORD, "not an object of seq, time, event, fields, mac");
		goto out;
	}
	if (!json_is_integer(seq) || json_integer_value(seq) < 0) {
		fail(v, res, AL_AUDIT_BAD_RECORD, "\"seq\" is not a non-negative integer");
		goto out;
	}
	if (!json_is_string(tm) || !time_ok(json_string_value(tm), json_string_length(tm))) {
		fail(v, res, AL_AUDIT_BAD_RECORD, "\"time\" is not an RFC 3339 UTC time");
		goto out;
	}
	if (!json_is_string(ev) || !event_name_ok(json_string_value(ev), json_string_length(ev))) {
		fail(v, res, AL_AUDIT_BAD_RECORD, "\"event\" is not a valid event name");
		goto out;
	}
	if (!json_is_object(fields)) {
		fail(v, res, AL_AUDIT_BAD_RECORD, "\"fields\" is not an object");
		goto out;
	}
	if (!json_is_string(mac) ||
	    hex_decode(json_string_value(mac), json_string_length(mac), got, sizeof got) < 0) {
		fail(v, res, AL_AUDIT_BAD_RECORD, "\"mac\" is not %d hex digits",
		     AL_AUDIT_MAC_LEN * 2);
		goto out;
	}
	if ((uint64_t)json_integer_value(seq) != v->seq) {
		fail(v, res, AL_AUDIT_BAD_SEQ, "expected seq %" PRIu64 ", found %" JSON_INTEGER_FORMAT,
		     v->seq, json_integer_value(seq));
		goto out;
	}
	full = json_dumps(rec, JSON_SORT_KEYS | JSON_COMPACT);
	if (!full || strlen(full) != len || memcmp(full, line, len) != 0) {
		fail(v, res, AL_AUDIT_BAD_RECORD, "record is not in canonical form");
		goto out;
	}
	bool seal = strcmp(json_string_value(ev), AL_AUDIT_EVENT_SEAL) == 0;
	json_object_del(rec, "mac");
	canon = json_dumps(rec, JSON_SORT_KEYS | JSON_COMPACT);
	if (!canon) {
		fail(v, res, AL_AUDIT_BAD_RECORD, "out of memory");
		goto out;
	}
	record_mac(v->key, v->mac, canon, strlen(canon), want);
	if (sodium_memcmp(want, got, sizeof want) != 0) {
		fail(v, res, AL_AUDIT_BAD_MAC, "computed MAC differs from the stored one");
		goto out;
	}
	memcpy(v->mac, got, sizeof got);
	key_evolve(v->key);
	v->seq++;
	v->sealed = seal;
	res->records = v->seq;
	res->sealed = seal;
	rc = 0;
out:
	free(full);
	free(canon);
	json_decref(rec);
	return rc;
}

static int verifier_set_state(struct al_audit_verifier *v, const char *state, size_t statelen,
			      struct al_audit_result *res)
{
	struct state st;
	if (state_parse(state, statelen, &st, res->reason, sizeof res->reason) < 0) {
		v->failed = true;
		res->verdict = AL_AUDIT_BAD_STATE;
		return -EBADMSG;
	}
	v->have_check = true;
	v->check_seq = st.seq;
	memcpy(v->check_key, st.key, sizeof st.key);
	memcpy(v->check_mac, st.mac, sizeof st.mac);
	sodium_memzero(&st, sizeof st);
	return 0;
}

/* End of input: a torn last line, a state ahead of the log, a state never reached. */
static int verifier_finish(struct al_audit_verifier *v, bool torn, struct al_audit_result *res)
{
	if (v->failed)
		return -EBADMSG;
	if (torn) {
		v->line++;
		return fail(v, res, AL_AUDIT_TRUNCATED, "last line is incomplete (no newline)");
	}
	if (check_state_here(v, res) < 0)
		return -EBADMSG;
	if (v->have_check && !v->check_done) {
		v->line++;
		return fail(v, res, AL_AUDIT_TRUNCATED,
			    "log ends after %" PRIu64 " records but its state attests %" PRIu64,
			    v->seq, v->check_seq);
	}
	res->state_checked = v->have_check;
	res->verdict = AL_AUDIT_OK;
	return 0;
}

int al_audit_verify_buf(const unsigned char key0[AL_AUDIT_KEY_LEN], const char *data,
			size_t len, const char *state, size_t statelen,
			struct al_audit_result *res)
{
	memset(res, 0, sizeof *res);
	struct al_audit_verifier *v = al_audit_verifier_new(key0);
	if (!v)
		return -ENOMEM;
	int rc = 0;
	if (state && (rc = verifier_set_state(v, state, statelen, res)) < 0)
		goto out;
	size_t pos = 0;
	bool torn = false;
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		if (!nl) {
			torn = true;
			break;
		}
		size_t l = (size_t)(nl - (data + pos));
		if ((rc = al_audit_verifier_line(v, data + pos, l, res)) < 0)
			goto out;
		pos += l + 1;
	}
	rc = verifier_finish(v, torn, res);
out:
	al_audit_verifier_free(v);
	return rc;
}

int al_audit_verify_file(const char *path, const char *keypath, const char *statepath,
			 struct al_audit_result *res)
{
	memset(res, 0, sizeof *res);
	unsigned char key[AL_AUDIT_KEY_LEN];
	int rc = al_audit_key_load(keypath, key);
	if (rc < 0) {
		snprintf(res->reason, sizeof res->reason, "%s: %s", keypath, strerror(-rc));
		return rc;
	}
	struct al_audit_verifier *v = al_audit_verifier_new(key);
	sodium_memzero(key, sizeof key);
	if (!v)
		return -ENOMEM;
	struct linereader lr = { .fd = -1, .cap = AL_AUDIT_MAX_LINE + 2 };
	if (statepath) {
		char *st = NULL;
		size_t stlen = 0;
		rc = al_read_file_at(AT_FDCWD, statepath, STATE_MAX, &st, &stlen);
		if (rc < 0) {
			snprintf(res->reason, sizeof res->reason, "%s: %s", statepath, strerror(-rc));
			goto out;
		}
		rc = verifier_set_state(v, st, stlen, res);
		sodium_memzero(st, stlen);
		free(st);
		if (rc < 0)
			goto out;
	}
	lr.fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (lr.fd < 0) {
		rc = -errno;
		snprintf(res->reason, sizeof res->reason, "%s: %s", path, strerror(errno));
		goto out;
	}
	lr.buf = malloc(lr.cap);
	if (!lr.buf) {
		rc = -ENOMEM;
		goto out;
	}
	bool torn = false;
	for (;;) {
		const char *line;
		size_t len;
		bool complete;
		rc = lr_next(&lr, &line, &len, &complete);
		if (rc == -E2BIG) {
			v->line++;
			rc = fail(v, res, AL_AUDIT_BAD_RECORD, "line longer than %d bytes",
				  AL_AUDIT_MAX_LINE);
			goto out;
		}
		if (rc < 0) {
			snprintf(res->reason, sizeof res->reason, "%s: %s", path, strerror(-rc));
			goto out;
		}
		if (rc == 0)
			break;
		if (!complete) {
			torn = true;
			break;
		}
		if ((rc = al_audit_verifier_line(v, line, len, res)) < 0)
			goto out;
	}
	rc = verifier_finish(v, torn, res);
out:
	if (lr.fd >= 0)
		close(lr.fd);
	free(lr.buf);
	al_audit_verifier_free(v);
	return rc;
}

/* ---- writer ---- */

static int audit_sync(struct al_audit *log, bool durable);

static void audit_free(struct al_audit *log)
{
	if (log->fd >= 0)
		close(log->fd);
	if (log->key)
		sodium_free(log->key); /* wipes before unmapping */
	free(log->path);
	free(log->statepath);
	sodium_memzero(log, sizeof *log);
	free(log);
}

static int format_time(char out[48])
{
	struct timespec ts;
	struct tm tm;
	char date[24];
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || !gmtime_r(&ts.tv_sec, &tm))
		return -errno;
	if (strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) != 19)
		return -ERANGE;
	snprintf(out, 48, "%.19s.%06uZ", date, (unsigned)(ts.tv_nsec / 1000) % 1000000u);
	return 0;
}

/*
 * Continues an existing log: checks the records written after the state's
 * position with the state's key, cuts a torn last line, and leaves the writer
 * at the end of the chain. *torn_bytes tells the caller what was cut.
 */
static int audit_resume(struct al_audit *log, const struct state *st, uint64_t size,
			uint64_t *torn_bytes)
{
	if (st->offset > size) {
		al_log_warnx("audit: %s is shorter (%" PRIu64 " bytes) than its state attests "
			     "(%" PRIu64 "): tail lost or cut; rotate the log",
			     log->path, size, st->offset);
		return -EBADMSG;
	}
	struct al_audit_verifier v;
	struct al_audit_result res = { 0 };
	verifier_init(&v, st->key, st->mac, st->seq);
	struct linereader lr = { .fd = log->fd, .cap = AL_AUDIT_MAX_LINE + 2 };
	int rc = 0;
	uint64_t good = st->offset;
	if (lseek(log->fd, (off_t)st->offset, SEEK_SET) < 0)
		return -errno;
	lr.buf = malloc(lr.cap);
	if (!lr.buf)
		return -ENOMEM;
	for (;;) {
		const char *line;
		size_t len;
		bool complete;
		rc = lr_next(&lr, &line, &len, &complete);
		if (rc <= 0)
			break;
		if (!complete) {
			*torn_bytes = len;
			break;
		}
		if (al_audit_verifier_line(&v, line, len, &res) < 0) {
			al_log_warnx("audit: %s: record seq %" PRIu64 " after the last state does not "
				     "chain: %s", log->path, v.seq, res.reason);
			rc = -EBADMSG;
			break;
		}
		good += len + 1;
	}
	free(lr.buf);
	if (rc == -E2BIG)
		al_log_warnx("audit: %s: line after seq %" PRIu64 " too long", log->path, v.seq);
	if (rc < 0)
		goto out;
	if (*torn_bytes && ftruncate(log->fd, (off_t)good) < 0) {
		rc = -errno;
		goto out;
	}
	memcpy(log->key, v.key, AL_AUDIT_KEY_LEN);
	memcpy(log->mac, v.mac, AL_AUDIT_MAC_LEN);
	log->seq = v.seq;
	log->offset = good;
	rc = 0;
out:
	sodium_memzero(&v, sizeof v);
	return rc;
}

int al_audit_open(struct al_audit **out, const char *path, const char *keypath,
		  const char *statepath)
{
	if (sodium_init() < 0)
		return -ENOSYS;
	struct al_audit *log = calloc(1, sizeof *log);
	AL_AUTOFREE char *defkey = NULL;
	char *stext = NULL;
	size_t stlen = 0;
	uint64_t torn = 0;
	struct state st;
	int rc;
	if (!log)
		return -ENOMEM;
	log->fd = -1;
	log->path = strdup(path);
	log->statepath = statepath ? strdup(statepath) : path_with_suffix(path, ".state");
	if (!keypath)
		keypath = defkey = path_with_suffix(path, ".key");
	log->key = sodium_malloc(AL_AUDIT_KEY_LEN);
	if (!log->path || !log->statepath || !keypath || !log->key) {
		rc = -ENOMEM;
		goto fail;
	}
	log->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct stat sb;
	if (log->fd < 0 || fstat(log->fd, &sb) < 0) {
		rc = -errno;
		al_log_warn("audit: %s", path);
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = -EINVAL;
		al_log_warnx("audit: %s is not a regular file", path);
		goto fail;
	}
	rc = al_read_file_at(AT_FDCWD, log->statepath, STATE_MAX, &stext, &stlen);
	if (rc == -ENOENT && sb.st_size == 0) {
		/* A new chain. */
		randombytes_buf(log->key, AL_AUDIT_KEY_LEN);
		if ((rc = key_create(keypath, log->key)) < 0) {
			al_log_warnx("audit: cannot create key file %s: %s%s", keypath,
				     strerror(-rc),
				     rc == -EEXIST ? " (a key is never reused: move it away)" : "");
			goto fail;
		}
		if ((rc = state_write(log, true)) < 0) {
			al_log_warnx("audit: %s: %s", log->statepath, strerror(-rc));
			goto fail;
		}
		*out = log;
		return 0;
	}
	if (rc < 0) {
		al_log_warnx("audit: cannot continue %s: state %s: %s", path, log->statepath,
			     strerror(-rc));
		goto fail;
	}
	char why[160];
	rc = state_parse(stext, stlen, &st, why, sizeof why);
	sodium_memzero(stext, stlen);
	free(stext);
	if (rc < 0) {
		al_log_warnx("audit: %s: %s", log->statepath, why);
		goto fail;
	}
	rc = audit_resume(log, &st, (uint64_t)sb.st_size, &torn);
	sodium_memzero(&st, sizeof st);
	if (rc < 0)
		goto fail;
	if (torn) {
		al_log_warnx("audit: %s: cut a torn last line of %" PRIu64 " bytes", path, torn);
		rc = al_audit_pack(log, AL_AUDIT_EVENT_RECOVERED, true, "{s:I}", "torn_bytes",
				   (json_int_t)torn);
		if (rc < 0)
			goto fail;
	}
	*out = log;
	return 0;
fail:
	audit_free(log);
	return rc;
}

int al_audit_append(struct al_audit *log, const char *event, json_t *fields, bool urgent)
{
	char ts[48];
	unsigned char mac[AL_AUDIT_MAC_LEN];
	char machex[AL_AUDIT_MAC_LEN * 2 + 1];
	int rc;
	if (log->failed)
		return -EIO;
	if (!event || !event_name_ok(event, strlen(event))) {
		al_log_warnx("audit: invalid event name");
		return -EINVAL;
	}
	if (fields && !json_is_object(fields))
		return -EINVAL;
	if ((rc = format_time(ts)) < 0)
		return rc;
	json_t *rec = fields ? json_pack("{s:I, s:s, s:s, s:O}", "seq", (json_int_t)log->seq,
					  "time", ts, "event", event, "fields", fields)
			     : json_pack("{s:I, s:s, s:s, s:{}}", "seq", (json_int_t)log->seq,
					  "time", ts, "event", event, "fields");
	if (!rec)
		return -ENOMEM;
	char *canon = json_dumps(rec, JSON_SORT_KEYS | JSON_COMPACT);
	char *line = NULL;
	if (!canon) {
		rc = -ENOMEM;
		goto out;
	}
	record_mac(log->key, log->mac, canon, strlen(canon), mac);
	sodium_bin2hex(machex, sizeof machex, mac, sizeof mac);
	if (json_object_set_new(rec, "mac", json_string(machex)) < 0 ||
	    !(line = json_dumps(rec, JSON_SORT_KEYS | JSON_COMPACT))) {
		rc = -ENOMEM;
		goto out;
	}
	size_t len = strlen(line);
	if (len > AL_AUDIT_MAX_LINE) {
		al_log_warnx("audit: record %s of %zu bytes exceeds %d", event, len,
			     AL_AUDIT_MAX_LINE);
		rc = -E2BIG;
		goto out;
	}
	line[len] = '\n'; /* json_dumps' terminator becomes the newline: one write per record */
	if ((rc = al_write_all(log->fd, line, len + 1)) < 0) {
		log->failed = true;
		al_log_warnx("audit: %s: write: %s", log->path, strerror(-rc));
		goto out;
	}
	memcpy(log->mac, mac, sizeof mac);
	key_evolve(log->key);
	log->seq++;
	log->offset += len + 1;
	log->dirty = true;
	rc = urgent ? audit_sync(log, false) : 0;
out:
	free(canon);
	free(line);
	json_decref(rec);
	return rc;
}

int al_audit_pack(struct al_audit *log, const char *event, bool urgent, const char *fmt, ...)
{
	va_list ap;
	json_error_t err;
	va_start(ap, fmt);
	json_t *fields = json_vpack_ex(&err, 0, fmt, ap);
	va_end(ap);
	if (!fields) {
		al_log_warnx("audit: %s: cannot build fields: %s", event, err.text);
		return -EINVAL;
	}
	int rc = al_audit_append(log, event, fields, urgent);
	json_decref(fields);
	return rc;
}

/* Log first, then state: the state is never ahead of what is on disk. */
static int audit_sync(struct al_audit *log, bool durable)
{
	if (log->failed)
		return -EIO;
	if (!log->dirty && !(durable && log->state_lazy))
		return 0;
	if (log->dirty && fdatasync(log->fd) < 0) {
		int rc = -errno;
		al_log_warn("audit: %s: fdatasync", log->path);
		return rc;
	}
	log->dirty = false;
	int rc = state_write(log, durable);
	if (rc < 0) {
		al_log_warnx("audit: %s: %s", log->statepath, strerror(-rc));
		return rc;
	}
	log->state_lazy = !durable;
	return 0;
}

int al_audit_flush(struct al_audit *log)
{
	return audit_sync(log, true);
}

int al_audit_tick(struct al_audit *log)
{
	return al_audit_flush(log);
}

uint64_t al_audit_next_seq(const struct al_audit *log)
{
	return log->seq;
}

void al_audit_abandon(struct al_audit *log)
{
	if (log)
		audit_free(log);
}

int al_audit_close(struct al_audit *log)
{
	if (!log)
		return 0;
	int rc = 0;
	if (!log->failed)
		rc = al_audit_pack(log, AL_AUDIT_EVENT_SEAL, true, "{s:I}", "records",
				   (json_int_t)log->seq);
	audit_free(log);
	return rc;
}
