/*
 * airlock channel: the only path between the protocol domain and the AI domain.
 *
 * One sealed memfd holds a header and two single-producer/single-consumer rings,
 * one per direction. Authority to use a channel is possession of its fd.
 *
 * Recipe:
 *   1. supervisor:  int fd; al_chan_create(NULL, &fd);          sized + sealed memfd
 *                   hand fd to both domains at spawn (and keep it: al_chan_shutdown(fd))
 *   2. each domain: struct al_chan *ch;
 *                   al_chan_attach(fd, AL_CHAN_SIDE_PROTO, &ch);  (or AL_CHAN_SIDE_AI)
 *                   al_chan_set_report_fd(ch, evfd);  eventfd the supervisor polls
 *                   al_chan_set_spin(ch, 50000);      spin 50 us before sleeping
 *   3. protocol:    al_chan_send_gen_request(ch, &req);
 *                   while (al_chan_recv(ch, &msg, 1000) == 0 && msg.type != AL_MSG_DONE) ...
 *      AI:          al_chan_recv(ch, &msg, -1);  then al_chan_send_token(), al_chan_send_done()
 *      streams: al_chan_set_batch(ch, 32) publishes every 32 records (al_chan_flush()
 *      for the rest); the default publishes each record at once, for latency.
 *   4. al_chan_close(ch);  the peer's next al_chan_recv() returns -EPIPE once drained.
 *
 * Every function returns 0 or a negative value: -errno for local conditions
 * (-EAGAIN nothing yet, -ETIMEDOUT, -EPIPE closed, -EINVAL misuse, -EMSGSIZE), or
 * -AL_CHAN_E_* (enum al_chan_err) when the peer broke a rule. A peer violation
 * marks the channel broken for good: every later call returns the same code, the
 * peer sees the channel closed, the report fd's counter grows by the code and the
 * violation callback runs once.
 *
 * Everything al_chan_recv() returns was copied once out of shared memory and
 * validated on the copy; strings in a struct al_msg point into the channel's
 * private receive buffer, are NUL-terminated, and stay valid until the next
 * al_chan_recv() or al_chan_close().
 *
 * A struct al_chan is used by one thread at a time. Each side attaches once to a
 * fresh channel (indices start at zero): a restarted domain gets a new channel.
 *
 * Syscalls after attach: none on the fast path; futex (shared, not private)
 * to sleep and wake, clock_gettime once a wait outlasts 64 polls, write on the
 * report fd, munmap at close. A peer dying without al_chan_close() is seen
 * when the supervisor calls al_chan_shutdown() (or at the timeout).
 */
#ifndef AIRLOCK_CHANNEL_H
#define AIRLOCK_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AL_CHAN_MAGIC 0x4b4c5241u /* "ARLK" little-endian */
#define AL_CHAN_VERSION 4u /* 2: records on 64-byte boundaries; 3: prompt truncation, limit in hello; 4: gen_request names its client */

/* Limits of the message contents (bytes unless said otherwise). */
#define AL_MSG_MAX_PROMPT 65536u
#define AL_MSG_MAX_TEXT 4096u     /* one token chunk */
#define AL_MSG_MAX_ERROR 1024u    /* error message */
#define AL_MSG_MAX_TOKENS 65536u  /* max_tokens of one request */
#define AL_MSG_MAX_TEMPERATURE 4.0f
/* Generation requests in flight: the AI domain's queue holds them all (its
 * slots generate together, the rest wait their turn), so the protocol domain
 * can hand it every generate call it admits ([proto] concurrency). */
#define AL_CHAN_MAX_OUTSTANDING 256u

/* Ring sizing: capacity is a power of two; a record never exceeds half of it. */
#define AL_CHAN_DEFAULT_RING (1u << 20)
#define AL_CHAN_MIN_RING (1u << 12)
#define AL_CHAN_MAX_RING (1u << 26)
#define AL_CHAN_DEFAULT_MAX_PAYLOAD (AL_MSG_MAX_PROMPT + 64u)

/* Record header: fixed size, fixed-width fields only, little-endian. */
struct al_chan_rec_hdr {
	uint32_t len;      /* payload bytes after the header */
	uint32_t type;     /* enum al_msg_type */
	uint32_t flags;    /* none defined: must be 0 */
	uint32_t sender;   /* enum al_chan_side of the producer */
	uint64_t seq;      /* 1, 2, 3, ... per direction; 0 on padding records */
	uint64_t reserved; /* must be 0 */
};
#define AL_CHAN_REC_ALIGN 64u /* records start on 64-byte boundaries */

enum al_chan_side {
	AL_CHAN_SIDE_PROTO = 1, /* sends generation requests */
	AL_CHAN_SIDE_AI = 2,    /* answers them */
};

enum al_msg_type {
	AL_MSG_PAD = 1,         /* framing only: fills the ring's tail end, never delivered */
	AL_MSG_GEN_REQUEST = 2, /* proto -> AI */
	AL_MSG_TOKEN = 3,       /* AI -> proto */
	AL_MSG_DONE = 4,        /* AI -> proto, ends a request */
	AL_MSG_ERROR = 5,       /* AI -> proto, ends a request (req_id 0: not tied to one) */
	AL_MSG_CANCEL = 6,      /* proto -> AI */
	AL_MSG_PING = 7,        /* either way */
	AL_MSG_PONG = 8,        /* answers the peer's last ping */
	AL_MSG_STATS = 9,       /* either way, informational */
	AL_MSG_HELLO = 10,      /* AI -> proto, once, first: what model is loaded */
	AL_MSG_TYPE_END,
};

/* Peer violations. Returned negated; distinct from errno values. */
enum al_chan_err {
	AL_CHAN_E_BASE = 1000,
	AL_CHAN_E_INDEX,     /* ring index out of range, backwards or misaligned */
	AL_CHAN_E_LENGTH,    /* record length beyond what was committed or the maximum */
	AL_CHAN_E_WRAP,      /* record crosses the end of the ring / bad padding */
	AL_CHAN_E_HEADER,    /* flags or reserved field not zero */
	AL_CHAN_E_SENDER,    /* sender is not the peer */
	AL_CHAN_E_SEQ,       /* sequence number not exactly previous + 1 */
	AL_CHAN_E_TYPE,      /* unknown type */
	AL_CHAN_E_DIRECTION, /* type the peer may not send */
	AL_CHAN_E_SIZE,      /* payload size outside the type's bounds */
	AL_CHAN_E_TRUNCATED, /* payload shorter than its fields say */
	AL_CHAN_E_TRAILING,  /* bytes after the last field */
	AL_CHAN_E_UTF8,      /* text is not strict UTF-8 */
	AL_CHAN_E_CONTROL,   /* control character other than \n and \t */
	AL_CHAN_E_RANGE,     /* field value outside its range */
	AL_CHAN_E_REQID,     /* response without outstanding request, replayed or reused id */
	AL_CHAN_E_LIMIT,     /* too many requests in flight / more tokens than asked */
	AL_CHAN_E_END,
};

/* Channel parameters chosen by the creator; NULL means the defaults. */
struct al_chan_params {
	uint32_t ring_bytes;  /* per direction, power of two */
	uint32_t max_payload; /* largest payload, <= ring_bytes / 2 - header */
};

enum al_finish {
	AL_FINISH_LENGTH = 0, /* max_tokens reached */
	AL_FINISH_STOP = 1,   /* end of sequence */
	AL_FINISH_CANCELLED = 2,
	AL_FINISH_DEADLINE = 3, /* the request's deadline passed while it was generating */
	AL_FINISH_END,
};

/* What the AI domain does with a prompt longer than the model takes. */
enum al_truncate {
	AL_TRUNCATE_NONE = 0, /* refuse it: an error naming both figures */
	AL_TRUNCATE_LEFT = 1, /* drop its oldest tokens (BOS stays) */
	AL_TRUNCATE_END,
};

struct al_msg_gen_request {
	uint64_t req_id;      /* non-zero, strictly increasing per channel */
	uint64_t seed;
	uint32_t max_tokens;  /* 1 .. AL_MSG_MAX_TOKENS */
	float temperature;    /* 0 .. AL_MSG_MAX_TEMPERATURE */
	float top_p;          /* (0, 1] */
	uint32_t truncate;    /* enum al_truncate */
	uint64_t client;      /* who asks (a session or a peer), for a fair share; 0: not known */
	const char *prompt;   /* strict UTF-8, no controls but \n \t, <= AL_MSG_MAX_PROMPT */
	size_t prompt_len;
};

struct al_msg_token {
	uint64_t req_id;
	uint32_t n_tokens;    /* tokens in this chunk, >= 1 */
	const char *text;     /* strict UTF-8, no controls but \n \t, <= AL_MSG_MAX_TEXT */
	size_t text_len;
};

/* Prompt tokens are the tokens of the prompt's text; BOS is not counted. */
#define AL_MSG_MAX_PROMPT_TOKENS (AL_MSG_MAX_PROMPT + 1u) /* one per byte, and a leading space */

struct al_msg_done {
	uint64_t req_id;
	uint32_t prompt_tokens;  /* prompt tokens the model ran */
	uint32_t prompt_dropped; /* oldest prompt tokens dropped; 0 unless AL_TRUNCATE_LEFT */
	uint32_t gen_tokens;  /* must equal the sum of the request's token chunks */
	uint32_t finish;      /* enum al_finish */
	uint64_t prefill_ns;
	uint64_t decode_ns;
};

struct al_msg_error {
	uint64_t req_id;      /* 0: not tied to a request */
	uint32_t code;        /* an errno value; E2BIG: the prompt does not fit the model */
	const char *text;     /* strict UTF-8, no controls but \n \t, <= AL_MSG_MAX_ERROR */
	size_t text_len;
};

struct al_msg_stats {
	uint64_t uptime_ns;
	uint64_t requests;
	uint64_t tokens;
	uint64_t violations;
};

#define AL_MSG_MAX_NAME 64u

/* Sent once by the AI domain before anything else: the loaded model, so the
 * protocol domain can describe it without ever reading the model file. */
struct al_msg_hello {
	uint32_t vocab_size;     /* 1 .. 1<<20 */
	uint32_t context_length; /* 1 .. 1<<20 */
	uint32_t n_layers;       /* 1 .. 1024 */
	uint32_t dim;            /* 1 .. 1<<16 */
	uint32_t n_heads;        /* 1 .. dim */
	uint32_t n_kv_heads;     /* 1 .. n_heads */
	uint32_t max_prompt_tokens; /* 0 .. context_length - 1: the longest prompt it takes */
	const char *name;        /* format and size, e.g. "llama2.c legacy fp32" */
	size_t name_len;         /* <= AL_MSG_MAX_NAME */
};

/* A received, validated message (see al_chan_recv). */
struct al_msg {
	enum al_msg_type type;
	uint64_t seq;
	union {
		struct al_msg_gen_request gen;
		struct al_msg_token token;
		struct al_msg_done done;
		struct al_msg_error error;
		uint64_t cancel_id; /* AL_MSG_CANCEL */
		uint64_t nonce;     /* AL_MSG_PING, AL_MSG_PONG */
		struct al_msg_stats stats;
		struct al_msg_hello hello;
	} u;
};

struct al_chan;

/* Creates a sized, sealed memfd holding an empty channel; *fd_out is O_CLOEXEC. */
int al_chan_create(const struct al_chan_params *params, int *fd_out)
	__attribute__((nonnull(2)));

/* Checks seals, size, magic and version of fd, then maps it as one side.
 * fd stays the caller's; it may be closed after attaching. */
int al_chan_attach(int fd, enum al_chan_side side, struct al_chan **out)
	__attribute__((nonnull(3)));

/* Third-party close (supervisor): both sides see -EPIPE once drained. */
int al_chan_shutdown(int fd);

/* Closes this side (the peer sees it) and frees everything. NULL is fine. */
void al_chan_close(struct al_chan *ch);

/* Spin budget before sleeping on the futex, in ns (0: sleep at once; default
 * 20 us). Adaptive below this bound: halves (down to 1/16) while spins end in
 * sleep, doubles back while they succeed. The sending thread and the thread in
 * al_chan_wait adapt separately, each to what it waits for. */
void al_chan_set_spin(struct al_chan *ch, uint32_t spin_ns) __attribute__((nonnull));
/* How long a send waits for ring space: -1 forever, 0 not at all. Default 1000 ms. */
void al_chan_set_send_timeout(struct al_chan *ch, int timeout_ms) __attribute__((nonnull));
/*
 * Send batching, for streams where throughput matters more than the latency
 * of each record: sends publish to the peer only every `records` records
 * (0 or 1, the default: every send is visible at once). Held records are
 * published by al_chan_flush(), by al_chan_recv() when it finds nothing to
 * receive, by a send that has to wait for ring space, and by al_chan_close().
 * A thread other than the sender (al_chan_wait) never publishes: the sender
 * flushes before it stops sending.
 */
void al_chan_set_batch(struct al_chan *ch, uint32_t records) __attribute__((nonnull));
/* Publishes every record sent so far; 0 or the channel's error. */
int al_chan_flush(struct al_chan *ch) __attribute__((nonnull));
/* On a violation, writes the uint64 code to fd (an eventfd the supervisor polls). */
void al_chan_set_report_fd(struct al_chan *ch, int fd) __attribute__((nonnull));
/* Called once, on the violation that breaks the channel; what names the field. */
void al_chan_set_violation_cb(struct al_chan *ch,
			      void (*fn)(void *arg, enum al_chan_err err, const char *what), void *arg)
	__attribute__((nonnull(1)));

/*
 * For the supervisor's detector: a number that changes whenever records are
 * committed in either direction (the producers' indices, read at their fixed
 * offsets with pread, never mapped). Untrusted: only ever compared with its
 * previous value. 0 or -errno.
 */
int al_chan_activity(int fd, uint64_t *count) __attribute__((nonnull));

/* 0, or the violation code (positive enum al_chan_err) that broke the channel. */
int al_chan_error(const struct al_chan *ch) __attribute__((nonnull));
bool al_chan_is_violation(int rc);
const char *al_chan_strerror(int rc);
const char *al_msg_type_name(uint32_t type);

/* Sending. Text is sanitised on the way in (invalid UTF-8 and control characters
 * other than \n \t are dropped, text beyond its limit is cut) and numbers are
 * clamped into range, so an honest sender never trips the receiver's validator.
 * Each copies straight into the ring. Misuse is refused locally with -EINVAL
 * (wrong direction, response to no outstanding request, reused request id, more
 * tokens than max_tokens, done whose gen_tokens differs from the tokens sent
 * or that drops prompt tokens of a request that did not ask for it,
 * pong to no ping) or -EBUSY (AL_CHAN_MAX_OUTSTANDING requests in flight). */
int al_chan_send_gen_request(struct al_chan *ch, const struct al_msg_gen_request *req)
	__attribute__((nonnull));
int al_chan_send_token(struct al_chan *ch, uint64_t req_id, uint32_t n_tokens,
		       const char *text, size_t text_len) __attribute__((nonnull(1)));
int al_chan_send_done(struct al_chan *ch, const struct al_msg_done *done)
	__attribute__((nonnull));
int al_chan_send_error(struct al_chan *ch, uint64_t req_id, uint32_t code, const char *text)
	__attribute__((nonnull(1)));
int al_chan_send_cancel(struct al_chan *ch, uint64_t req_id) __attribute__((nonnull));
int al_chan_send_ping(struct al_chan *ch, uint64_t nonce) __attribute__((nonnull));
int al_chan_send_pong(struct al_chan *ch, uint64_t nonce) __attribute__((nonnull));
int al_chan_send_stats(struct al_chan *ch, const struct al_msg_stats *stats)
	__attribute__((nonnull));
/* AI side, once, before any other message; a second hello is a violation. */
int al_chan_send_hello(struct al_chan *ch, const struct al_msg_hello *hello)
	__attribute__((nonnull));

/*
 * Waits until a record can be received or the channel is closed, without
 * receiving it: 0 (then call al_chan_recv with timeout 0), -ETIMEDOUT, or a
 * channel error. The one exception to "one thread at a time": a receiving
 * thread may wait here, holding no lock, while another thread sends; every
 * other call, al_chan_recv included, must still be serialised by the caller.
 * One thread at a time waits here: it keeps its own adaptive spin budget.
 */
int al_chan_wait(struct al_chan *ch, int timeout_ms) __attribute__((nonnull));

/*
 * True when al_chan_recv(ch, ..., 0) would not return -EAGAIN: a record is
 * waiting, or the channel has ended. Unlike that call, it publishes nothing
 * this side holds back (al_chan_set_batch): a batching sender that polls for
 * input between sends keeps the choice of when to publish.
 */
bool al_chan_poll(struct al_chan *ch) __attribute__((nonnull));

/* Receives one validated message. timeout_ms: -1 forever, 0 poll. */
int al_chan_recv(struct al_chan *ch, struct al_msg *out, int timeout_ms)
	__attribute__((nonnull));

/* Drops invalid UTF-8 and control characters other than \n \t; dst may equal
 * src; returns the bytes written (<= len). */
size_t al_chan_sanitise_text(char *dst, const char *src, size_t len);
/* Length of the longest prefix of s that does not end inside a UTF-8 sequence:
 * a token stream sends that much and keeps the rest for the next chunk. */
size_t al_chan_utf8_complete(const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
