/*
 * Tamper-evident audit log: JSON lines chained by a forward-evolving keyed MAC.
 *
 *   struct al_audit *log;
 *   al_audit_open(&log, "/var/lib/airlock/audit.log", NULL, NULL);  // key, state beside
 *   al_audit_append(log, "spawn", fields, false);   // fields borrowed, NULL = {}
 *   al_audit_append(log, "seccomp.violation", fields, true);  // urgent: fsynced now
 *   al_audit_tick(log);                             // from the supervisor's tick (<= 1 s)
 *   al_audit_close(log);                            // appends a seal record, fsyncs
 *
 * Each line is the canonical serialisation (jansson, sorted keys, compact) of
 *   {"event":E,"fields":{...},"mac":HEX,"seq":N,"time":"YYYY-MM-DDTHH:MM:SS.uuuuuuZ"}
 * with
 *   mac_i   = BLAKE2b-256 keyed with key_i over (mac_{i-1} || canonical record without "mac")
 *   mac_-1  = 32 zero bytes, seq starts at 0
 *   key_i+1 = BLAKE2b-256(key_i), key_i erased at once.
 *
 * Files (defaults derived from the log path):
 *   LOG.key    key_0, hex, mode 0600, created once with O_EXCL. It is the verifier's
 *              key and can recompute every later key: forward security holds only if
 *              it is moved off the machine (or to offline media) after creation. The
 *              writer never reads it again.
 *   LOG.state  {seq, offset, key, mac}: the current key and the chain position at the
 *              last flush, rewritten atomically (tmp + fsync + rename) after the log
 *              itself was fsynced, so it is never ahead of the durable log. It lets a
 *              restarted supervisor continue the chain. Trade-off: whoever reads it
 *              holds key_n and can forge records from seq n on (exactly what they could
 *              take from the running supervisor's memory), but cannot derive any
 *              earlier key, so records before the last flush stay unforgeable. Records
 *              appended since the last flush (< 1 s; none for urgent ones) are exposed
 *              too. The verifier uses it to detect a cut-off tail: the state's key must
 *              equal key_n recomputed from key_0 and the log must hold its n records,
 *              which a thief cannot fake for a shorter log without an earlier key.
 *
 * Not thread-safe: one owner (the supervisor's event loop).
 */
#ifndef AL_AUDIT_AUDIT_H
#define AL_AUDIT_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AL_AUDIT_KEY_LEN 32
#define AL_AUDIT_MAC_LEN 32
/* A record line, newline excluded, never exceeds this: the verifier refuses longer lines. */
#define AL_AUDIT_MAX_LINE 65536
#define AL_AUDIT_MAX_EVENT 64
/* Event of the record al_audit_close() appends last: the log was closed cleanly. */
#define AL_AUDIT_EVENT_SEAL "audit.seal"
/* Event appended at reopen when a torn (newline-less) tail had to be cut off. */
#define AL_AUDIT_EVENT_RECOVERED "audit.recovered"

struct al_audit;

/*
 * Opens or creates the log. keypath/statepath NULL: PATH.key / PATH.state.
 * A new (absent or empty) log gets a fresh key_0 written to keypath (fails with
 * -EEXIST if that file exists: a key is never reused for two chains). An existing
 * log is continued from its state file, replaying and checking the records written
 * after the last state (-EBADMSG if they do not chain, or the log is shorter than
 * its state; -ENOENT if the state file is missing). 0 or -errno.
 */
int al_audit_open(struct al_audit **out, const char *path, const char *keypath,
		  const char *statepath);

/*
 * Appends one record. event: 1..64 chars of [a-z0-9._-]; fields: a JSON object,
 * borrowed (NULL means {}). urgent — for violations and incidents: the record is
 * fdatasynced and the state moved past it before returning, so neither a crash
 * nor an intruder arriving later can remove it unnoticed (the state's own fsync
 * follows at the next tick). Otherwise flushed by the next al_audit_tick().
 * 0 or -errno; on a write error the log refuses further appends.
 */
int al_audit_append(struct al_audit *log, const char *event, json_t *fields, bool urgent);

/* Same, fields built by json_pack() from fmt (an object format such as "{s:i}"). */
int al_audit_pack(struct al_audit *log, const char *event, bool urgent, const char *fmt, ...);

/* Makes everything appended so far durable and rewrites the state. 0 or -errno. */
int al_audit_flush(struct al_audit *log);

/* Called from the supervisor's periodic tick (at least once a second): flushes pending records. */
int al_audit_tick(struct al_audit *log);

/* Sequence number the next record will get. */
uint64_t al_audit_next_seq(const struct al_audit *log);

/* Appends the seal record, flushes, erases the key, frees. NULL is a no-op. 0 or -errno. */
int al_audit_close(struct al_audit *log);

/*
 * Frees without the seal record or a flush, as a crash would leave the log (the key
 * is still erased). For a child after fork and for tests. NULL is a no-op.
 */
void al_audit_abandon(struct al_audit *log);

/* ---- Verifier: works on untrusted bytes ---- */

enum al_audit_verdict {
	AL_AUDIT_OK = 0,
	AL_AUDIT_BAD_RECORD,   /* a line that is not a well-formed canonical record */
	AL_AUDIT_BAD_SEQ,      /* removal, reordering or insertion */
	AL_AUDIT_BAD_MAC,      /* an edited or forged record */
	AL_AUDIT_TRUNCATED,    /* fewer records than the state file attests, or a torn last line */
	AL_AUDIT_BAD_STATE,    /* the state does not match the log's chain */
};

struct al_audit_result {
	enum al_audit_verdict verdict;
	uint64_t records;      /* records that verified */
	uint64_t bad_line;     /* 1-based line of the first bad record (0 if none) */
	uint64_t bad_seq;      /* seq that line should have carried */
	bool sealed;           /* last record is AL_AUDIT_EVENT_SEAL */
	bool state_checked;    /* a state was given and matched */
	char reason[160];
};

/* The incremental verifier behind the functions below; one line at a time. */
struct al_audit_verifier;
struct al_audit_verifier *al_audit_verifier_new(const unsigned char key0[AL_AUDIT_KEY_LEN]);
/* Checks the next line (without its newline). 0 if it chains, -EBADMSG otherwise (see result). */
int al_audit_verifier_line(struct al_audit_verifier *v, const char *line, size_t len,
			   struct al_audit_result *res);
void al_audit_verifier_free(struct al_audit_verifier *v);

/*
 * Verifies a whole log held in memory (untrusted). state: the state file's text
 * (NULL when not available: then a cut-off tail after a complete line cannot be
 * told from a log that simply ends there, unless it is sealed). Returns 0 if the
 * log verifies, -EBADMSG with res filled otherwise.
 */
int al_audit_verify_buf(const unsigned char key0[AL_AUDIT_KEY_LEN], const char *data,
			size_t len, const char *state, size_t statelen,
			struct al_audit_result *res);

/* Same over files; statepath NULL: no state check. Streams the log line by line. */
int al_audit_verify_file(const char *path, const char *keypath, const char *statepath,
			 struct al_audit_result *res);

/* Reads a key file (64 hex digits, optional newline). 0 or -errno. */
int al_audit_key_load(const char *keypath, unsigned char key[AL_AUDIT_KEY_LEN]);

const char *al_audit_verdict_name(enum al_audit_verdict v);

#endif
