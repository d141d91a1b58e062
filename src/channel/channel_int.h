/*
 * Channel internals shared by shm.c (region), ring.c (records, wakeups),
 * msg.c (registry, codecs) and chan.c (request tracking, public send/recv).
 * Benchmarks and fuzz targets use the ring layer directly through this header.
 */
#ifndef AL_CHANNEL_INT_H
#define AL_CHANNEL_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlock/channel.h"

#define AL_CHAN_LINE 128u /* two cache lines: adjacent-line prefetch pairs them */
#define AL_CHAN_HDR_BYTES 4096u
#define AL_CHAN_REC_HDR ((uint32_t)sizeof(struct al_chan_rec_hdr))

_Static_assert(sizeof(struct al_chan_rec_hdr) == 32, "record header is 32 bytes");
/* Records own whole cache lines: a producer filling the next record never
 * takes a line the consumer is still reading the previous one from. */
_Static_assert(AL_CHAN_REC_ALIGN == 64, "records are cache-line aligned");
/* The consumer copies payloads in whole 32-byte blocks (never past the
 * record's aligned end): the private buffer has this much slack. */
#define AL_CHAN_COPY_BLOCK 32u


/* State bits in the shared header (set only, never cleared). */
#define AL_CHAN_ST_PROTO_CLOSED 0x1u
#define AL_CHAN_ST_AI_CLOSED 0x2u
#define AL_CHAN_ST_SHUTDOWN 0x4u
#define AL_CHAN_ST_BROKEN 0x8u

/*
 * One direction. Producer-written, consumer-written and wait words live on
 * separate lines so the two cores never false-share. A waiter flag is set by a
 * side about to sleep, so the other side only calls futex_wake when needed.
 */
struct al_ring_ctl {
	_Alignas(AL_CHAN_LINE) _Atomic uint64_t head; /* bytes committed, written by producer */
	_Alignas(AL_CHAN_LINE) _Atomic uint64_t tail; /* bytes consumed, written by consumer */
	_Alignas(AL_CHAN_LINE) _Atomic uint32_t data_futex; /* consumer sleeps here */
	_Atomic uint32_t data_waiters;
	_Alignas(AL_CHAN_LINE) _Atomic uint32_t space_futex; /* producer sleeps here */
	_Atomic uint32_t space_waiters;
};

/* The shared header. Everything here is writable by the peer: the static part
 * is read once at attach (before mmap, with pread) and never again. */
struct al_chan_shm {
	uint32_t magic;
	uint32_t version;
	uint32_t hdr_bytes;
	uint32_t ring_bytes;
	uint32_t max_payload;
	uint32_t reserved;
	uint64_t total_bytes;
	_Alignas(AL_CHAN_LINE) _Atomic uint32_t state;
	struct al_ring_ctl ring[2]; /* [0]: proto -> AI, [1]: AI -> proto */
	/* CPU each side last ran on, plus one (0: not known), indexed by side - 1.
	 * A performance hint only: a lying peer can make us slower, nothing else. */
	_Alignas(AL_CHAN_LINE) _Atomic uint32_t cpu[2];
};
_Static_assert(sizeof(struct al_chan_shm) <= AL_CHAN_HDR_BYTES, "header fits its page");

struct al_req_slot {
	uint64_t id;
	uint32_t max_tokens;
	uint32_t tokens;
	bool truncate; /* the request allowed dropping prompt tokens */
	bool used;
};

struct al_chan_tx {
	struct al_ring_ctl *ctl;
	uint8_t *data;
	uint64_t head;       /* private truth; the shared copy is only published */
	uint64_t head_pub;   /* last head published to the consumer */
	uint64_t tail_seen;  /* last consumer index read, checked monotonic */
	uint32_t batch;      /* publish head every this many records (<= 1: each) */
	uint32_t unpub;      /* records committed since the last publication */
	uint8_t *demote_at;  /* last record, to demote when we turn to wait (demote_last) */
	uint32_t demote_bytes;
	uint64_t seq;
	uint64_t res_at;     /* start of the reserved record (after padding) */
	uint32_t res_pad;    /* padding bytes in front of it */
	uint32_t res_len;    /* payload bytes reserved */
	uint32_t res_type;
	bool reserved;
};

struct al_chan_rx {
	struct al_ring_ctl *ctl;
	uint8_t *data;
	uint64_t tail;
	uint64_t tail_pub;   /* last tail published to the producer */
	uint64_t tail_checked; /* last published tail followed by the sleeper check */
	uint64_t head_seen;  /* last producer index read and checked */
	uint64_t seq;
};

struct al_chan {
	uint8_t *base;
	size_t map_bytes;
	bool mapped;      /* base came from mmap (else a caller's buffer) */
	struct al_chan_shm *shm;
	enum al_chan_side side, peer;
	uint32_t ring_bytes, max_payload; /* private copies, validated at attach */
	struct al_chan_tx tx;
	struct al_chan_rx rx;
	uint8_t *rxbuf;                   /* max_payload + COPY_BLOCK: the one private copy */
	uint32_t spin_max_ns, spin_ns;    /* spin_ns: the sending thread's adaptive budget */
	uint32_t wait_spin_ns;            /* al_chan_wait's: the one waiting thread's own */
	uint32_t my_cpu;                  /* what we last published in shm->cpu, plus one */
	int send_timeout_ms;
	int broken;                       /* 0 or enum al_chan_err */
	int report_fd;
	void (*cb)(void *arg, enum al_chan_err err, const char *what);
	void *cb_arg;
	/* proto: requests sent awaiting an answer; AI: requests received not yet ended */
	struct al_req_slot req[AL_CHAN_MAX_OUTSTANDING];
	uint64_t last_req_id;
	uint64_t ping_out;   /* nonce of our unanswered ping, 0 none */
	uint64_t ping_in;    /* nonce of the peer's ping we have not answered, 0 none */
	bool hello_done;     /* the AI side's one hello: sent (AI) or received (proto) */
};

/* shm.c */
int al_chan_violation(struct al_chan *ch, int err, const char *what);
uint32_t al_chan_state(const struct al_chan *ch);
void al_chan_wake_all(struct al_chan_shm *shm);
/* Publishes the CPU this thread runs on (cheap; stores only on a change). */
void al_chan_note_cpu(struct al_chan *ch);
/* Builds an endpoint over a region already checked (attach) or private (fuzzing). */
int al_chan_map_region(uint8_t *base, size_t bytes, enum al_chan_side side, uint32_t max_payload,
		       struct al_chan **out);

/* ring.c: reserve space for a payload of len bytes, fill it, commit used <= len. */
int al_ring_reserve(struct al_chan *ch, uint32_t type, uint32_t len, void **payload);
int al_ring_commit(struct al_chan *ch, uint32_t used);
/* Publishes records committed but held back by batching (no-op if none). */
void al_ring_flush(struct al_chan *ch);
/* A record is published and not yet read (a peek: the read checks it). */
bool al_ring_readable(const struct al_chan *ch);
/* Copies the next record into ch->rxbuf: 0, -EAGAIN if empty, or a violation. */
int al_ring_read(struct al_chan *ch, struct al_chan_rec_hdr *hdr);
/* Waits for data (consumer): 0, -ETIMEDOUT, -EPIPE. timeout_ms < 0: forever;
 * *deadline_ns starts at 0 and is fixed on the first clock read, so a caller
 * looping over spurious wakeups keeps one deadline. */
int al_ring_wait_data(struct al_chan *ch, int timeout_ms, uint64_t *deadline_ns);
/* The same for a thread other than the sender's: leaves the adaptive spin budget alone. */
int al_ring_wait_data_shared(struct al_chan *ch, int timeout_ms);
void al_futex_wake(_Atomic uint32_t *word);

/* msg.c */
struct al_msg_desc {
	const char *name;
	uint32_t min_len, max_len;
	uint32_t senders; /* bit (1 << side) for each side allowed to send it */
	/* Decodes and checks the private copy p[0..len) into out: 0 or -AL_CHAN_E_*. */
	int (*validate)(const uint8_t *p, size_t len, struct al_msg *out, const char **what);
	/* Brings an outgoing message into range before encoding (text is sanitised
	 * while it is copied into the ring). */
	void (*sanitise)(struct al_msg *m);
};
const struct al_msg_desc *al_msg_desc(uint32_t type);
bool al_utf8_check(const uint8_t *s, size_t len, int *err);
/* Encodes m (already sanitised) into dst of room bytes; returns bytes written. */
size_t al_msg_encode(const struct al_msg *m, uint8_t *dst, size_t room);
size_t al_msg_encoded_max(const struct al_msg *m);
/* Full decode of a payload for type from sender: size, direction, fields. */
int al_msg_decode(uint32_t type, enum al_chan_side sender, const uint8_t *p, size_t len,
		  struct al_msg *out, const char **what);

#endif
