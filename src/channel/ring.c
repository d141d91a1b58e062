/*
 * The rings: reserve / fill in place / commit on the producer side, one checked
 * copy per record on the consumer side, and the spin-then-futex wakeups.
 *
 * Trust boundary: everything behind ch->rx.ctl, ch->rx.data and ch->tx.ctl is
 * writable by the peer at any moment. Each shared field is loaded once into a
 * local, checked there, and only the local is used afterwards.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "channel/channel_int.h"
#include "common/util.h"

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/*
 * Pushes a line just written out of this core's private caches into the
 * shared last-level cache, so the other core's read finds it there instead of
 * snooping it out of ours. A hint: a CPU without CLDEMOTE runs it as a NOP.
 */
static inline void demote_line(const void *p)
{
#if defined(__x86_64__)
	__asm__ __volatile__(".byte 0x0f, 0x1c, 0x07" : : "D"(p) : "memory"); /* cldemote (%rdi) */
#else
	(void)p;
#endif
}

static inline void demote_last(struct al_chan *ch)
{
	for (uint32_t i = 0; i < ch->tx.demote_bytes; i += 64)
		demote_line(ch->tx.demote_at + i);
	ch->tx.demote_bytes = 0;
}

static inline uint32_t rec_bytes(uint32_t len)
{
	return (AL_CHAN_REC_HDR + len + AL_CHAN_REC_ALIGN - 1) & ~(AL_CHAN_REC_ALIGN - 1);
}

/* Shared word: not FUTEX_PRIVATE, the two sides are different processes. */
static int futex_wait(_Atomic uint32_t *word, uint32_t val, uint64_t deadline_ns)
{
	struct timespec ts, *tsp = NULL;
	if (deadline_ns) {
		uint64_t now = al_now_ns();
		if (now >= deadline_ns)
			return -ETIMEDOUT;
		uint64_t left = deadline_ns - now;
		ts.tv_sec = (time_t)(left / 1000000000u);
		ts.tv_nsec = (long)(left % 1000000000u);
		tsp = &ts;
	}
	if (syscall(SYS_futex, word, FUTEX_WAIT, val, tsp, NULL, 0) < 0) {
		if (errno == ETIMEDOUT)
			return -ETIMEDOUT;
		return 0; /* EAGAIN (word moved) or EINTR: look again */
	}
	return 0;
}

void al_futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* After publishing an index: wake the other side only if it said it sleeps.
 * The seq_cst fence pairs with the one in wait(): either we see its flag or
 * it sees our index (no lost wakeup). */
static inline void wake_if_waiting(_Atomic uint32_t *futex, _Atomic uint32_t *waiters)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(waiters, memory_order_relaxed)) {
		atomic_store_explicit(waiters, 0, memory_order_relaxed);
		atomic_fetch_add_explicit(futex, 1, memory_order_seq_cst);
		al_futex_wake(futex);
	}
}

static inline bool closed(const struct al_chan *ch)
{
	return al_chan_state(ch) != 0;
}

/* The spin did not pay off: spin less next time, down to 1/16 of the maximum. */
static void spin_failed(const struct al_chan *ch, uint32_t *budget)
{
	if (*budget / 2 >= ch->spin_max_ns / 16)
		*budget /= 2;
}

/* It did: allow up to twice as long next time. */
static void spin_paid(const struct al_chan *ch, uint32_t *budget)
{
	uint32_t grown = *budget * 2;
	*budget = grown > ch->spin_max_ns || grown < *budget ? ch->spin_max_ns : grown;
}

/*
 * Bounded adaptive spin, then sleep on the futex. ready() only peeks (the real,
 * checked read happens afterwards); a peer can make it lie, which costs at
 * most a spurious return.
 *
 * The clock is first read after 64 polls, which most waits in a request/
 * response exchange never reach: *deadline_ns (0 = not yet fixed) is then set
 * from timeout_ms (< 0: none) and kept by the caller across calls.
 *
 * budget: the waiting thread's adaptive spin budget. The sending thread's
 * (ch->spin_ns) is for waits within its own exchanges; a thread that only
 * waits (al_chan_wait) keeps its own (ch->wait_spin_ns), which shrinks when
 * the peer publishes seldom (a token stream batched to every millisecond)
 * and grows back when answers come within the spin. sender: only the sending
 * thread's CPU is worth publishing for the peer's wake-ups.
 */
static inline __attribute__((always_inline)) int
wait_for(struct al_chan *ch, _Atomic uint32_t *futex, _Atomic uint32_t *waiters,
		    bool (*ready)(struct al_chan *, uint32_t), uint32_t arg, int timeout_ms,
		    uint64_t *deadline_ns, uint32_t *budget, bool sender)
{
	uint64_t spin_end = 0;
	uint32_t spin_ns = *budget;
	/* A thread may have moved since it last waited. */
	if (sender)
		al_chan_note_cpu(ch);
	for (unsigned i = 1;; i++) {
		if (ready(ch, arg)) {
			if (i > 1) /* found at the first look: no spin to judge */
				spin_paid(ch, budget);
			return 0;
		}
		if ((i & 63) == 0 || spin_ns == 0) {
			uint64_t now = al_now_ns();
			if (!*deadline_ns && timeout_ms >= 0)
				*deadline_ns = now + (uint64_t)timeout_ms * 1000000u;
			if (*deadline_ns && now >= *deadline_ns) {
				spin_failed(ch, budget);
				return -ETIMEDOUT;
			}
			if (closed(ch))
				return -EPIPE;
			if (!spin_end)
				spin_end = now + spin_ns;
			if (now >= spin_end)
				break;
		}
		cpu_relax();
	}
	spin_failed(ch, budget);
	for (;;) {
		uint32_t w = atomic_load_explicit(futex, memory_order_acquire);
		atomic_store_explicit(waiters, 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		if (ready(ch, arg) || closed(ch)) {
			/* Not sleeping after all: spare the other side a futex_wake. */
			atomic_store_explicit(waiters, 0, memory_order_relaxed);
			return ready(ch, arg) ? 0 : -EPIPE;
		}
		int rc = futex_wait(futex, w, *deadline_ns);
		if (rc < 0)
			return rc;
		if (ready(ch, arg))
			return 0;
	}
}

bool al_ring_readable(const struct al_chan *ch)
{
	return atomic_load_explicit(&ch->rx.ctl->head, memory_order_acquire) != ch->rx.tail;
}

/* wait_for's form of al_ring_readable */
static bool data_ready(struct al_chan *ch, uint32_t unused)
{
	return al_ring_readable(ch);
}

/* Reads the consumer index once and checks it against what we know. */
static int load_tail(struct al_chan *ch, uint64_t *tail_out)
{
	uint64_t t = atomic_load_explicit(&ch->tx.ctl->tail, memory_order_acquire);
	/* The consumer can only have consumed what was published. */
	if (t > ch->tx.head_pub || ch->tx.head - t > ch->ring_bytes || t < ch->tx.tail_seen ||
	    (t & (AL_CHAN_REC_ALIGN - 1)))
		return al_chan_violation(ch, AL_CHAN_E_INDEX, "consumer index");
	ch->tx.tail_seen = t;
	*tail_out = t;
	return 0;
}

static bool space_ready(struct al_chan *ch, uint32_t need)
{
	uint64_t t = atomic_load_explicit(&ch->tx.ctl->tail, memory_order_relaxed);
	/* Out-of-range values count as ready so that load_tail reports them. */
	return t > ch->tx.head || ch->ring_bytes - (ch->tx.head - t) >= need;
}

int al_ring_reserve(struct al_chan *ch, uint32_t type, uint32_t len, void **payload)
{
	if (ch->broken)
		return -ch->broken;
	if (ch->tx.reserved)
		return -EBUSY;
	if (len > ch->max_payload)
		return -EMSGSIZE;
	if (closed(ch))
		return -EPIPE;
	uint32_t need = rec_bytes(len);
	uint32_t off = (uint32_t)(ch->tx.head & (ch->ring_bytes - 1));
	/* A record never wraps: if it does not fit before the end, a padding
	 * record fills the rest and the record starts at offset 0. */
	uint32_t pad = ch->ring_bytes - off < need ? ch->ring_bytes - off : 0;
	uint32_t total = pad + need;
	uint64_t t = ch->tx.tail_seen;
	if (ch->ring_bytes - (ch->tx.head - t) < total) {
		int rc = load_tail(ch, &t);
		if (rc < 0)
			return rc;
		if (ch->ring_bytes - (ch->tx.head - t) < total) {
			/* The consumer frees space only from what it has seen. */
			al_ring_flush(ch);
			if (ch->send_timeout_ms == 0)
				return -EAGAIN;
			uint64_t deadline = 0;
			for (;;) {
				rc = wait_for(ch, &ch->tx.ctl->space_futex, &ch->tx.ctl->space_waiters,
					      space_ready, total, ch->send_timeout_ms, &deadline, &ch->spin_ns, true);
				if (rc < 0)
					return rc;
				rc = load_tail(ch, &t);
				if (rc < 0)
					return rc;
				if (ch->ring_bytes - (ch->tx.head - t) >= total)
					break;
			}
		}
	}
	if (pad) {
		struct al_chan_rec_hdr *ph = (void *)(ch->tx.data + off);
		ph->len = pad - AL_CHAN_REC_HDR;
		ph->type = AL_MSG_PAD;
		ph->flags = 0;
		ph->sender = (uint32_t)ch->side;
		ph->seq = 0;
		ph->reserved = 0;
	}
	ch->tx.res_pad = pad;
	ch->tx.res_at = ch->tx.head + pad;
	ch->tx.res_len = len;
	ch->tx.res_type = type;
	ch->tx.reserved = true;
	*payload = ch->tx.data + (ch->tx.res_at & (ch->ring_bytes - 1)) + AL_CHAN_REC_HDR;
	return 0;
}

int al_ring_commit(struct al_chan *ch, uint32_t used)
{
	if (!ch->tx.reserved || used > ch->tx.res_len)
		return -EINVAL;
	ch->tx.reserved = false;
	/* Field by field straight into the ring: a header assembled on the stack
	 * and copied as a block stalls on store forwarding. */
	struct al_chan_rec_hdr *h = (void *)(ch->tx.data + (ch->tx.res_at & (ch->ring_bytes - 1)));
	h->len = used;
	h->type = ch->tx.res_type;
	h->flags = 0;
	h->sender = (uint32_t)ch->side;
	h->seq = ++ch->tx.seq;
	h->reserved = 0;
	uint32_t bytes = rec_bytes(used);
	ch->tx.head = ch->tx.res_at + bytes;
	/* The last record before the sender turns to wait for an answer is
	 * latency-bound: demoted then (demote_last), when the reader first finds
	 * nothing. Streams never get there, and large, batched or same-CPU
	 * records would only pay for it. */
	ch->tx.demote_bytes = 0;
	if (ch->tx.batch <= 1 && bytes <= 256 &&
	    atomic_load_explicit(&ch->shm->cpu[ch->peer - 1], memory_order_relaxed) != ch->my_cpu) {
		ch->tx.demote_at = (uint8_t *)h;
		ch->tx.demote_bytes = bytes;
	}
	if (++ch->tx.unpub >= ch->tx.batch)
		al_ring_flush(ch);
	return 0;
}

void al_ring_flush(struct al_chan *ch)
{
	if (ch->tx.head == ch->tx.head_pub)
		return;
	ch->tx.unpub = 0;
	ch->tx.head_pub = ch->tx.head;
	/* Release: the records' bytes are visible before the index that covers them. */
	atomic_store_explicit(&ch->tx.ctl->head, ch->tx.head, memory_order_release);
	wake_if_waiting(&ch->tx.ctl->data_futex, &ch->tx.ctl->data_waiters);
}

/*
 * Small payloads move in whole 32-byte blocks of fixed size (inline vector
 * moves instead of a library call that dispatches on the length). The
 * record's payload area is a multiple of 32 bytes, so the last block stays
 * inside the checked record; rxbuf has AL_CHAN_COPY_BLOCK bytes of slack.
 */
static inline void copy_payload(uint8_t *dst, const uint8_t *src, uint32_t len)
{
	if (len > 256) {
		memcpy(dst, src, len);
		return;
	}
	for (uint32_t i = 0; i < len; i += AL_CHAN_COPY_BLOCK)
		memcpy(dst + i, src + i, AL_CHAN_COPY_BLOCK);
}

/* Gives consumed space back: the store, then (once per store) the fence and
 * the look at the producer's sleep flag. */
static void publish_tail(struct al_chan *ch)
{
	if (ch->rx.tail != ch->rx.tail_pub) {
		ch->rx.tail_pub = ch->rx.tail;
		atomic_store_explicit(&ch->rx.ctl->tail, ch->rx.tail, memory_order_release);
	}
	if (ch->rx.tail_checked != ch->rx.tail_pub) {
		ch->rx.tail_checked = ch->rx.tail_pub;
		wake_if_waiting(&ch->rx.ctl->space_futex, &ch->rx.ctl->space_waiters);
	}
}

/* Space goes back to the producer in batches (an eighth of the ring), and
 * whenever the reader catches up: then only the store, which a spinning
 * producer sees at once, while the fence and the look for a sleeping
 * producer wait until the reader finds nothing more or is about to wait
 * (publish_tail again) - they would delay the answer to this record. */
static void maybe_publish_tail(struct al_chan *ch)
{
	if (ch->rx.tail - ch->rx.tail_pub >= ch->ring_bytes / 8) {
		publish_tail(ch);
	} else if (ch->rx.tail == ch->rx.head_seen) {
		ch->rx.tail_pub = ch->rx.tail;
		atomic_store_explicit(&ch->rx.ctl->tail, ch->rx.tail, memory_order_release);
	}
}

int al_ring_read(struct al_chan *ch, struct al_chan_rec_hdr *hdr)
{
	if (ch->broken)
		return -ch->broken;
	uint64_t tail = ch->rx.tail;
	uint64_t head = ch->rx.head_seen;
	if (tail == head) {
		/* Caught up with what we know: read the producer index, once;
		 * every check below uses this copy. Records already known to be
		 * committed are read without touching the index's cache line. */
		head = atomic_load_explicit(&ch->rx.ctl->head, memory_order_acquire);
		if (head == tail) {
			publish_tail(ch);
			demote_last(ch);
			return -EAGAIN;
		}
		if (head - tail > ch->ring_bytes || head < ch->rx.head_seen ||
		    (head & (AL_CHAN_REC_ALIGN - 1)))
			return al_chan_violation(ch, AL_CHAN_E_INDEX, "producer index");
		ch->rx.head_seen = head;
	}
	for (;;) {
		uint64_t avail = head - tail;
		uint32_t off = (uint32_t)(tail & (ch->ring_bytes - 1));
		uint32_t to_end = ch->ring_bytes - off;
		struct al_chan_rec_hdr h;
		/* off is 32-aligned and the ring a multiple of 32: the header never wraps. */
		memcpy(&h, ch->rx.data + off, sizeof h);
		if (h.type == AL_MSG_PAD) {
			if (h.len != to_end - AL_CHAN_REC_HDR || avail < to_end || h.seq != 0 ||
			    h.flags != 0 || h.reserved != 0 || h.sender != (uint32_t)ch->peer)
				return al_chan_violation(ch, AL_CHAN_E_WRAP, "padding record");
			tail += to_end;
			ch->rx.tail = tail;
			if (tail == head) {
				publish_tail(ch);
				return -EAGAIN;
			}
			continue;
		}
		if (h.len > ch->max_payload)
			return al_chan_violation(ch, AL_CHAN_E_LENGTH, "record longer than the maximum");
		uint32_t need = rec_bytes(h.len);
		if (need > avail)
			return al_chan_violation(ch, AL_CHAN_E_LENGTH, "record longer than committed");
		if (need > to_end)
			return al_chan_violation(ch, AL_CHAN_E_WRAP, "record crosses the ring end");
		if (h.flags != 0 || h.reserved != 0)
			return al_chan_violation(ch, AL_CHAN_E_HEADER, "flags/reserved");
		if (h.sender != (uint32_t)ch->peer)
			return al_chan_violation(ch, AL_CHAN_E_SENDER, "sender");
		if (h.seq != ch->rx.seq + 1)
			return al_chan_violation(ch, AL_CHAN_E_SEQ, "sequence");
		if (!al_msg_desc(h.type))
			return al_chan_violation(ch, AL_CHAN_E_TYPE, "type");
		/* The one copy out of shared memory; only this copy is validated. */
		copy_payload(ch->rxbuf, ch->rx.data + off + AL_CHAN_REC_HDR, h.len);
		ch->rxbuf[h.len] = 0;
		ch->rx.seq = h.seq;
		ch->rx.tail = tail + need;
		maybe_publish_tail(ch);
		*hdr = h;
		return 0;
	}
}

int al_ring_wait_data(struct al_chan *ch, int timeout_ms, uint64_t *deadline_ns)
{
	publish_tail(ch);
	return wait_for(ch, &ch->rx.ctl->data_futex, &ch->rx.ctl->data_waiters, data_ready, 0,
			timeout_ms, deadline_ns, &ch->spin_ns, true);
}

int al_ring_wait_data_shared(struct al_chan *ch, int timeout_ms)
{
	uint64_t deadline = 0;
	/* The receiving thread's own state: space it freed goes back first. */
	publish_tail(ch);
	return wait_for(ch, &ch->rx.ctl->data_futex, &ch->rx.ctl->data_waiters, data_ready, 0,
			timeout_ms, &deadline, &ch->wait_spin_ns, false);
}
