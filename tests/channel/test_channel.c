/*
 * Channel tests: region checks, every message type both ways, wrap-around,
 * back-pressure, every framing/payload/conversation rule broken once, broken
 * for good, close/shutdown/timeouts, and a forked hostile peer scribbling on
 * the shared region while the honest side reads and writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <sys/wait.h>
#include <unistd.h>

#include "airlock/channel.h"
#include "channel/channel_int.h"
#include "common/log.h"
#include "common/util.h"

struct pair {
	int fd;
	struct al_chan *p; /* protocol side */
	struct al_chan *a; /* AI side */
	int evp, eva;      /* report eventfds */
	int cb_calls;
	enum al_chan_err cb_err;
};

static void on_violation(void *arg, enum al_chan_err err, const char *what)
{
	struct pair *pr = arg;
	pr->cb_calls++;
	pr->cb_err = err;
}

static int make_pair(struct pair *pr, uint32_t ring)
{
	memset(pr, 0, sizeof *pr);
	struct al_chan_params prm = { ring, ring / 2 - AL_CHAN_REC_HDR };
	if (ring > 2 * AL_CHAN_DEFAULT_MAX_PAYLOAD)
		prm.max_payload = AL_CHAN_DEFAULT_MAX_PAYLOAD;
	assert_int_equal(al_chan_create(&prm, &pr->fd), 0);
	assert_int_equal(al_chan_attach(pr->fd, AL_CHAN_SIDE_PROTO, &pr->p), 0);
	assert_int_equal(al_chan_attach(pr->fd, AL_CHAN_SIDE_AI, &pr->a), 0);
	pr->evp = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pr->eva = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	al_chan_set_report_fd(pr->p, pr->evp);
	al_chan_set_report_fd(pr->a, pr->eva);
	al_chan_set_violation_cb(pr->p, on_violation, pr);
	al_chan_set_violation_cb(pr->a, on_violation, pr);
	al_chan_set_spin(pr->p, 1000);
	al_chan_set_spin(pr->a, 1000);
	return 0;
}

static int setup(void **state)
{
	struct pair *pr = malloc(sizeof *pr);
	make_pair(pr, 1u << 16);
	*state = pr;
	return 0;
}

static int setup_small(void **state)
{
	struct pair *pr = malloc(sizeof *pr);
	make_pair(pr, AL_CHAN_MIN_RING);
	*state = pr;
	return 0;
}

static int setup_big(void **state)
{
	struct pair *pr = malloc(sizeof *pr);
	make_pair(pr, 1u << 20);
	*state = pr;
	return 0;
}

static int teardown(void **state)
{
	struct pair *pr = *state;
	al_chan_close(pr->p);
	al_chan_close(pr->a);
	close(pr->fd);
	close(pr->evp);
	close(pr->eva);
	free(pr);
	return 0;
}

static uint64_t ev_read(int fd)
{
	uint64_t v = 0;
	if (read(fd, &v, sizeof v) != (ssize_t)sizeof v)
		return 0;
	return v;
}

/* ---- payload builder for hand-made (malformed) records ---- */

struct buf {
	uint8_t b[AL_MSG_MAX_PROMPT + 256];
	size_t n;
};

static void b_u32(struct buf *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b->b[b->n++] = (uint8_t)(v >> (8 * i));
}

static void b_u64(struct buf *b, uint64_t v)
{
	b_u32(b, (uint32_t)v);
	b_u32(b, (uint32_t)(v >> 32));
}

static void b_f32(struct buf *b, float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	b_u32(b, u);
}

static void b_bytes(struct buf *b, const void *p, size_t n)
{
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void b_text(struct buf *b, const char *s, size_t n)
{
	b_u32(b, (uint32_t)n);
	b_bytes(b, s, n);
}

static void gen_payload(struct buf *b, uint64_t id, uint32_t max_tokens, float temp, float top_p,
			const char *prompt, size_t plen)
{
	b->n = 0;
	b_u64(b, id);
	b_u64(b, 42);
	b_u32(b, max_tokens);
	b_f32(b, temp);
	b_f32(b, top_p);
	b_u32(b, AL_TRUNCATE_NONE);
	b_u64(b, 77); /* client */
	b_text(b, prompt, plen);
}

static void token_payload(struct buf *b, uint64_t id, uint32_t n, const char *text, size_t tlen)
{
	b->n = 0;
	b_u64(b, id);
	b_u32(b, n);
	b_text(b, text, tlen);
}

/* Sends a raw record through the framing layer, bypassing encoders and tracking. */
static int raw_send(struct al_chan *ch, uint32_t type, const void *p, size_t n)
{
	void *dst;
	int rc = al_ring_reserve(ch, type, (uint32_t)n, &dst);
	if (rc < 0)
		return rc;
	memcpy(dst, p, n);
	return al_ring_commit(ch, (uint32_t)n);
}

/* Expects ch to refuse the next record with err, report it once and stay broken. */
static void expect_violation(struct pair *pr, struct al_chan *rx, enum al_chan_err err)
{
	struct al_msg m;
	int rc = al_chan_recv(rx, &m, 0);
	assert_int_equal(rc, -(int)err);
	assert_true(al_chan_is_violation(rc));
	assert_int_equal(al_chan_error(rx), (int)err);
	assert_int_equal(ev_read(rx == pr->p ? pr->evp : pr->eva), (uint64_t)err);
	assert_int_equal(pr->cb_calls, 1);
	assert_int_equal(pr->cb_err, err);
	/* Broken for good: same answer again, sending refused, the peer sees a close. */
	assert_int_equal(al_chan_recv(rx, &m, 0), -(int)err);
	assert_int_equal(al_chan_send_stats(rx, &(struct al_msg_stats){ 0 }), -(int)err);
	struct al_chan *peer = rx == pr->p ? pr->a : pr->p;
	assert_int_equal(al_chan_recv(peer, &m, 0), -EPIPE);
	assert_int_equal(al_chan_send_ping(peer, 9), -EPIPE);
	assert_int_equal(pr->cb_calls, 1);
}

/* ---- region ---- */

static void test_create_attach_checks(void **state)
{
	struct al_chan *ch;
	int fd;
	assert_int_equal(al_chan_create(&(struct al_chan_params){ 1000, 100 }, &fd), -EINVAL);
	assert_int_equal(al_chan_create(&(struct al_chan_params){ 4096, 4096 }, &fd), -EINVAL);
	assert_int_equal(al_chan_create(&(struct al_chan_params){ 1u << 27, 100 }, &fd), -EINVAL);

	/* Not a memfd: no seals. */
	char path[] = "/tmp/al_chan_XXXXXX";
	int tf = mkstemp(path);
	assert_true(tf >= 0);
	unlink(path);
	assert_true(ftruncate(tf, 4096 * 3) == 0);
	assert_true(al_chan_attach(tf, AL_CHAN_SIDE_AI, &ch) < 0);
	close(tf);

	/* memfd without seals: refused. */
	int mf = memfd_create("x", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(mf >= 0);
	assert_true(ftruncate(mf, AL_CHAN_HDR_BYTES + 2 * 4096) == 0);
	assert_int_equal(al_chan_attach(mf, AL_CHAN_SIDE_AI, &ch), -EPERM);

	/* Sealed but wrong magic, then wrong version, then header/size mismatch. */
	struct al_chan_shm h = { .magic = 0x1234, .version = AL_CHAN_VERSION,
				 .hdr_bytes = AL_CHAN_HDR_BYTES, .ring_bytes = 4096,
				 .max_payload = 1000, .total_bytes = AL_CHAN_HDR_BYTES + 2 * 4096 };
	assert_true(pwrite(mf, &h, sizeof h, 0) == (ssize_t)sizeof h);
	assert_int_equal(fcntl(mf, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), 0);
	assert_int_equal(al_chan_attach(mf, AL_CHAN_SIDE_AI, &ch), -EPROTO);
	h.magic = AL_CHAN_MAGIC;
	h.version = AL_CHAN_VERSION + 1;
	assert_true(pwrite(mf, &h, sizeof h, 0) == (ssize_t)sizeof h);
	assert_int_equal(al_chan_attach(mf, AL_CHAN_SIDE_AI, &ch), -EPROTO);
	h.version = AL_CHAN_VERSION;
	h.ring_bytes = 8192; /* claims more than the file holds */
	h.total_bytes = AL_CHAN_HDR_BYTES + 2 * 8192;
	assert_true(pwrite(mf, &h, sizeof h, 0) == (ssize_t)sizeof h);
	assert_int_equal(al_chan_attach(mf, AL_CHAN_SIDE_AI, &ch), -EPROTO);
	h.ring_bytes = 4096;
	h.total_bytes = AL_CHAN_HDR_BYTES + 2 * 4096;
	h.max_payload = 4096; /* a record could never fit */
	assert_true(pwrite(mf, &h, sizeof h, 0) == (ssize_t)sizeof h);
	assert_int_equal(al_chan_attach(mf, AL_CHAN_SIDE_AI, &ch), -EPROTO);
	h.max_payload = 1000;
	assert_true(pwrite(mf, &h, sizeof h, 0) == (ssize_t)sizeof h);
	assert_int_equal(al_chan_attach(mf, 7, &ch), -EINVAL);
	assert_int_equal(al_chan_attach(mf, AL_CHAN_SIDE_AI, &ch), 0);
	al_chan_close(ch);
	close(mf);

	/* The real thing: sealed, and the seals cannot be undone or the size changed. */
	assert_int_equal(al_chan_create(NULL, &fd), 0);
	int seals = fcntl(fd, F_GET_SEALS);
	assert_int_equal(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
			 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	assert_true(ftruncate(fd, 4096) < 0 && errno == EPERM);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(al_chan_attach(fd, AL_CHAN_SIDE_PROTO, &ch), 0);
	/* Mapped shared, read-write, never executable. */
	FILE *maps = fopen("/proc/self/maps", "re");
	assert_non_null(maps);
	char ln[512];
	int found = 0;
	while (fgets(ln, sizeof ln, maps)) {
		if (!strstr(ln, "memfd:airlock-channel"))
			continue;
		char perms[8] = "";
		assert_int_equal(sscanf(ln, "%*s %7s", perms), 1);
		assert_string_equal(perms, "rw-s");
		found++;
	}
	fclose(maps);
	assert_int_equal(found, 1);
	al_chan_close(ch);
	close(fd);
}

/* ---- every message type ---- */

static void test_roundtrip_all_types(void **state)
{
	struct pair *pr = *state;
	struct al_msg m;
	const char prompt[] = "Once upon a time\n\tthere was a caf\xc3\xa9 \xf0\x9f\x98\x80";
	struct al_msg_gen_request req = { .req_id = 7, .seed = 99, .max_tokens = 10,
					  .temperature = 0.8f, .top_p = 0.9f, .client = 0xfeedfacecafe0001ull,
					  .prompt = prompt, .prompt_len = strlen(prompt) };
	assert_int_equal(al_chan_recv(pr->a, &m, 0), -EAGAIN);
	assert_int_equal(al_chan_send_gen_request(pr->p, &req), 0);
	assert_int_equal(al_chan_recv(pr->a, &m, 1000), 0);
	assert_int_equal(m.type, AL_MSG_GEN_REQUEST);
	assert_int_equal(m.seq, 1);
	assert_int_equal(m.u.gen.req_id, 7);
	assert_int_equal(m.u.gen.seed, 99);
	assert_int_equal(m.u.gen.max_tokens, 10);
	assert_int_equal(m.u.gen.client, 0xfeedfacecafe0001ull);
	assert_true(m.u.gen.temperature == 0.8f && m.u.gen.top_p == 0.9f);
	assert_int_equal(m.u.gen.prompt_len, strlen(prompt));
	assert_string_equal(m.u.gen.prompt, prompt);

	assert_int_equal(al_chan_send_token(pr->a, 7, 2, "Hello", 5), 0);
	assert_int_equal(al_chan_send_token(pr->a, 7, 1, " world", 6), 0);
	assert_int_equal(al_chan_recv(pr->p, &m, 1000), 0);
	assert_int_equal(m.type, AL_MSG_TOKEN);
	assert_string_equal(m.u.token.text, "Hello");
	assert_int_equal(m.u.token.n_tokens, 2);
	assert_int_equal(al_chan_recv(pr->p, &m, 1000), 0);
	assert_string_equal(m.u.token.text, " world");
	assert_int_equal(m.seq, 2);

	struct al_msg_done done = { .req_id = 7, .prompt_tokens = 5, .gen_tokens = 3,
				    .finish = AL_FINISH_STOP, .prefill_ns = 1000, .decode_ns = 2000 };
	assert_int_equal(al_chan_send_done(pr->a, &done), 0);
	assert_int_equal(al_chan_recv(pr->p, &m, 1000), 0);
	assert_int_equal(m.type, AL_MSG_DONE);
	assert_int_equal(m.u.done.gen_tokens, 3);
	assert_int_equal(m.u.done.prompt_tokens, 5);
	assert_int_equal(m.u.done.finish, AL_FINISH_STOP);
	assert_int_equal(m.u.done.decode_ns, 2000);
	/* The request is over: a further token is refused locally. */
	assert_int_equal(al_chan_send_token(pr->a, 7, 1, "x", 1), -EINVAL);

	req.req_id = 8;
	assert_int_equal(al_chan_send_gen_request(pr->p, &req), 0);
	assert_int_equal(al_chan_recv(pr->a, &m, 1000), 0);
	assert_int_equal(al_chan_send_cancel(pr->p, 8), 0);
	assert_int_equal(al_chan_recv(pr->a, &m, 1000), 0);
	assert_int_equal(m.type, AL_MSG_CANCEL);
	assert_int_equal(m.u.cancel_id, 8);
	assert_int_equal(al_chan_send_error(pr->a, 8, 3, "cancelled"), 0);
	assert_int_equal(al_chan_recv(pr->p, &m, 1000), 0);
	assert_int_equal(m.type, AL_MSG_ERROR);
	assert_int_equal(m.u.error.code, 3);
	assert_string_equal(m.u.error.text, "cancelled");
	assert_int_equal(al_chan_send_error(pr->a, 0, 9, "engine warming up"), 0);
	assert_int_equal(al_chan_recv(pr->p, &m, 1000), 0);
	assert_int_equal(m.u.error.req_id, 0);

	assert_int_equal(al_chan_send_ping(pr->p, 0x1234), 0);
	assert_int_equal(al_chan_send_pong(pr->a, 0x1234), -EINVAL); /* not seen yet */
	assert_int_equal(al_chan_recv(pr->a, &m, 1000), 0);
	assert_int_equal(m.type, AL_MSG_PING);
	assert_int_equal(al_chan_send_pong(pr->a, 0x1234), 0);
	assert_int_equal(al_chan_recv(pr->p, &m, 1000), 0);
	assert_int_equal(m.type, AL_MSG_PONG);
	assert_int_equal(m.u.nonce, 0x1234);

	struct al_msg_stats st = { 1, 2, 3, 4 };
	assert_int_equal(al_chan_send_stats(pr->a, &st), 0);
	assert_int_equal(al_chan_recv(pr->p, &m, 1000), 0);
	assert_int_equal(m.type, AL_MSG_STATS);
	assert_int_equal(m.u.stats.violations, 4);
	assert_int_equal(pr->cb_calls, 0);
}

static void test_local_misuse(void **state)
{
	struct pair *pr = *state;
	struct al_msg_gen_request req = { .req_id = 5, .max_tokens = 1, .top_p = 1, .prompt = "a", .prompt_len = 1 };
	/* Wrong direction, unknown request, id reuse: refused locally, channel fine. */
	assert_int_equal(al_chan_send_gen_request(pr->a, &req), -EINVAL);
	assert_int_equal(al_chan_send_token(pr->p, 5, 1, "a", 1), -EINVAL);
	assert_int_equal(al_chan_send_done(pr->a, &(struct al_msg_done){ .req_id = 5 }), -EINVAL);
	assert_int_equal(al_chan_send_error(pr->a, 5, 1, "x"), -EINVAL);
	assert_int_equal(al_chan_send_cancel(pr->p, 5), -EINVAL);
	assert_int_equal(al_chan_send_ping(pr->p, 0), -EINVAL);
	assert_int_equal(al_chan_send_gen_request(pr->p, &req), 0);
	assert_int_equal(al_chan_send_gen_request(pr->p, &req), -EINVAL);
	req.req_id = 0;
	assert_int_equal(al_chan_send_gen_request(pr->p, &req), -EINVAL);
	for (uint64_t id = 6; id < 6 + AL_CHAN_MAX_OUTSTANDING - 1; id++) {
		req.req_id = id;
		assert_int_equal(al_chan_send_gen_request(pr->p, &req), 0);
	}
	req.req_id = 6 + AL_CHAN_MAX_OUTSTANDING + 100;
	assert_int_equal(al_chan_send_gen_request(pr->p, &req), -EBUSY);
	/* AI side: done must account for every token sent; no more than max_tokens. */
	struct al_msg m;
	assert_int_equal(al_chan_recv(pr->a, &m, 0), 0);
	assert_int_equal(al_chan_send_token(pr->a, 5, 2, "ab", 2), -EINVAL);
	assert_int_equal(al_chan_send_token(pr->a, 5, 1, "ab", 2), 0);
	assert_int_equal(al_chan_send_done(pr->a, &(struct al_msg_done){ .req_id = 5, .gen_tokens = 0 }), -EINVAL);
	assert_int_equal(al_chan_error(pr->a), 0);
	assert_int_equal(al_chan_error(pr->p), 0);
}

static void test_sanitise_on_send(void **state)
{
	struct pair *pr = *state;
	/* Control characters, a stray continuation byte, an overlong and a cut sequence. */
	const char dirty[] = "a\rb\x01" "c\x7f\xc2\x85" "d\x80" "e\xc0\xaf" "f\n\tg\xe2\x82";
	struct al_msg_gen_request req = { .req_id = 1, .max_tokens = 0, .temperature = NAN,
					  .top_p = 7.0f, .prompt = dirty, .prompt_len = sizeof dirty - 1 };
	assert_int_equal(al_chan_send_gen_request(pr->p, &req), 0);
	struct al_msg m;
	assert_int_equal(al_chan_recv(pr->a, &m, 1000), 0);
	assert_string_equal(m.u.gen.prompt, "abcdef\n\tg");
	assert_int_equal(m.u.gen.max_tokens, 1);
	assert_true(m.u.gen.temperature == 0.0f);
	assert_true(m.u.gen.top_p == 1.0f);

	char buf[16];
	assert_int_equal(al_chan_sanitise_text(buf, "ok\x1b[0m", 7), 5);
	assert_memory_equal(buf, "ok[0m", 5);
	/* A token stream holds back a cut multibyte sequence. */
	assert_int_equal(al_chan_utf8_complete("ab\xe2\x82", 4), 2);
	assert_int_equal(al_chan_utf8_complete("ab\xe2\x82\xac", 5), 5);
	assert_int_equal(al_chan_utf8_complete("\xf0\x9f\x98", 3), 0);
	assert_int_equal(al_chan_utf8_complete("abc", 3), 3);
}

/* ---- ring mechanics ---- */

static void test_wraparound(void **state)
{
	struct pair *pr = *state;
	/* Sizes chosen so records land at every offset and need padding often. */
	char text[AL_MSG_MAX_TEXT];
	for (size_t i = 0; i < sizeof text; i++)
		text[i] = (char)('a' + i % 26);
	struct al_msg_gen_request req = { .req_id = 1, .max_tokens = AL_MSG_MAX_TOKENS, .top_p = 1,
					  .prompt = "p", .prompt_len = 1 };
	assert_int_equal(al_chan_send_gen_request(pr->p, &req), 0);
	struct al_msg m;
	assert_int_equal(al_chan_recv(pr->a, &m, 1000), 0);
	uint64_t sent = 0, got = 0;
	for (unsigned i = 0; i < 3000; i++) {
		size_t len = (i * 37) % 1000;
		assert_int_equal(al_chan_send_token(pr->a, 1, 1, text, len), 0);
		sent++;
		if (i % 3 == 0)
			continue; /* let the ring fill up a bit */
		while (got < sent) {
			assert_int_equal(al_chan_recv(pr->p, &m, 1000), 0);
			size_t want = ((got) * 37) % 1000;
			assert_int_equal(m.u.token.text_len, want);
			assert_memory_equal(m.u.token.text, text, want);
			got++;
		}
	}
	assert_true(pr->a->tx.head > 100u * AL_CHAN_MIN_RING); /* wrapped many times */
	assert_int_equal(pr->cb_calls, 0);
}

static void test_backpressure(void **state)
{
	struct pair *pr = *state;
	al_chan_set_send_timeout(pr->p, 0);
	int n = 0, rc;
	while ((rc = al_chan_send_ping(pr->p, (uint64_t)n + 1)) == 0)
		n++;
	assert_int_equal(rc, -EAGAIN);
	assert_int_equal(n, AL_CHAN_MIN_RING / 64); /* 32-byte header + 8 bytes -> 64 */
	al_chan_set_send_timeout(pr->p, 20);
	assert_int_equal(al_chan_send_ping(pr->p, 1000), -ETIMEDOUT);
	/* Space comes back in batches of an eighth of the ring (8 records here). */
	struct al_msg m;
	for (int i = 0; i < 8; i++)
		assert_int_equal(al_chan_recv(pr->a, &m, 0), 0);
	assert_int_equal(al_chan_send_ping(pr->p, 1001), 0);
	/* Too big for this channel at all. */
	char big[AL_CHAN_MIN_RING];
	memset(big, 'x', sizeof big);
	struct al_msg_gen_request req = { .req_id = 1, .max_tokens = 1, .top_p = 1, .prompt = big,
					  .prompt_len = sizeof big };
	assert_int_equal(al_chan_send_gen_request(pr->p, &req), -EMSGSIZE);
	assert_int_equal(al_chan_recv(pr->a, &m, 0), 0);
	assert_int_equal(m.u.nonce, 9);
}

/* ---- framing violations ---- */

/* Batched sends reach the peer only at the batch size, an explicit flush, a
 * receive that finds nothing (never a poll), or close; the shared head never
 * runs ahead. */
static void test_batch_publication(void **state)
{
	struct pair *pr = *state;
	struct al_msg m;
	al_chan_set_batch(pr->p, 4);
	for (uint64_t i = 1; i <= 3; i++)
		assert_int_equal(al_chan_send_ping(pr->p, i), 0);
	assert_int_equal(atomic_load(&pr->p->tx.ctl->head), 0);
	assert_int_equal(al_chan_recv(pr->a, &m, 0), -EAGAIN);
	assert_int_equal(al_chan_send_ping(pr->p, 4), 0); /* fills the batch */
	for (uint64_t i = 1; i <= 4; i++) {
		assert_int_equal(al_chan_recv(pr->a, &m, 0), 0);
		assert_int_equal(m.u.nonce, i);
	}
	assert_int_equal(al_chan_recv(pr->a, &m, 0), -EAGAIN);

	assert_int_equal(al_chan_send_ping(pr->p, 5), 0);
	assert_int_equal(al_chan_recv(pr->a, &m, 0), -EAGAIN);
	assert_int_equal(al_chan_flush(pr->p), 0);
	assert_int_equal(al_chan_recv(pr->a, &m, 0), 0);
	assert_int_equal(m.u.nonce, 5);

	/* Polling for input publishes nothing; a receive that finds nothing does:
	 * the sender looking for an answer publishes what it holds. */
	assert_int_equal(al_chan_send_ping(pr->p, 6), 0);
	assert_false(al_chan_poll(pr->p));
	assert_false(al_chan_poll(pr->a));
	assert_int_equal(al_chan_recv(pr->a, &m, 0), -EAGAIN);
	assert_int_equal(al_chan_recv(pr->p, &m, 0), -EAGAIN);
	assert_true(al_chan_poll(pr->a));
	assert_int_equal(al_chan_recv(pr->a, &m, 0), 0);
	assert_int_equal(m.u.nonce, 6);
	assert_false(al_chan_poll(pr->a));

	/* Back to one record per publication. */
	assert_int_equal(al_chan_send_ping(pr->p, 7), 0);
	al_chan_set_batch(pr->p, 1);
	assert_int_equal(al_chan_recv(pr->a, &m, 0), 0);
	assert_int_equal(m.u.nonce, 7);
	assert_int_equal(al_chan_send_ping(pr->p, 8), 0);
	assert_int_equal(al_chan_recv(pr->a, &m, 0), 0);
	assert_int_equal(m.u.nonce, 8);

	/* Held records are delivered before the close is seen. */
	al_chan_set_batch(pr->p, 100);
	assert_int_equal(al_chan_send_ping(pr->p, 9), 0);
	al_chan_close(pr->p);
	pr->p = NULL;
	assert_int_equal(al_chan_recv(pr->a, &m, 0), 0);
	assert_int_equal(m.u.nonce, 9);
	assert_true(al_chan_poll(pr->a)); /* the end is something to receive */
	assert_int_equal(al_chan_recv(pr->a, &m, 0), -EPIPE);
	assert_int_equal(pr->cb_calls, 0);
}

/* A batch larger than the ring: a send that runs out of space publishes
 * first, so the reader can drain and the writer go on. */
static void test_batch_full_ring(void **state)
{
	struct pair *pr = *state;
	al_chan_set_batch(pr->p, 1000000);
	al_chan_set_send_timeout(pr->p, 0);
	int n = 0, rc;
	while ((rc = al_chan_send_ping(pr->p, (uint64_t)n + 1)) == 0)
		n++;
	assert_int_equal(rc, -EAGAIN);
	assert_int_equal(n, AL_CHAN_MIN_RING / 64);
	struct al_msg m;
	for (int i = 0; i < n; i++) {
		assert_int_equal(al_chan_recv(pr->a, &m, 0), 0);
		assert_int_equal(m.u.nonce, (uint64_t)i + 1);
	}
	assert_int_equal(al_chan_recv(pr->a, &m, 0), -EAGAIN);
	assert_int_equal(al_chan_send_ping(pr->p, 5000), 0);
	assert_int_equal(pr->cb_calls, 0);
}

/* Byte-at-a-time reference for the text rules: keep each valid UTF-8
 * sequence that is not a control character (but \n \t), drop the rest. */
static size_t ref_sanitise(uint8_t *dst, const uint8_t *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		uint8_t c = s[i];
		size_t n = c < 0x80 ? 1 : (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3 :
			  (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
		uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1fu : n == 3 ? c & 0x0fu : c & 0x07u;
		bool ok = n > 0 && n <= len - i;
		for (size_t k = 1; ok && k < n; k++) {
			ok = (s[i + k] & 0xc0) == 0x80;
			cp = cp << 6 | (s[i + k] & 0x3fu);
		}
		static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
		if (ok && (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)))
			ok = false;
		if (!ok) {
			i++;
			continue;
		}
		bool ctl = (cp < 0x20 && cp != '\n' && cp != '\t') || (cp >= 0x7f && cp <= 0x9f);
		if (!ctl)
			memcpy(dst + o, s + i, n), o += n;
		i += n;
	}
	return o;
}

/* The block scans (16 and 8 bytes at a time) against the reference, with
 * each kind of byte at every position around the block edges. */
static void test_text_scan_blocks(void **state)
{
	(void)state;
	static const char *const odd[] = { "\x01", "\x1f", "\x7f", "\x80", "\xff", "\n", "\t",
					   "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
					   "\xc2\x85", "\xe2\x82", "\xed\xa0\x80", " ", "~" };
	uint8_t in[80], out[80], ref[80];
	for (size_t k = 0; k < sizeof odd / sizeof odd[0]; k++) {
		size_t olen = strlen(odd[k]);
		for (size_t len = 0; len <= 70; len++) {
			for (size_t at = 0; at + olen <= len; at++) {
				for (size_t i = 0; i < len; i++)
					in[i] = (uint8_t)('a' + i % 26);
				memcpy(in + at, odd[k], olen);
				size_t r = ref_sanitise(ref, in, len);
				size_t n = al_chan_sanitise_text((char *)out, (const char *)in, len);
				assert_int_equal(n, r);
				assert_memory_equal(out, ref, r);
				int err = 0;
				assert_int_equal(al_utf8_check(in, len, &err), r == len);
				assert_true(al_utf8_check(out, n, &err));
				/* In place, as the API allows. */
				n = al_chan_sanitise_text((char *)in, (const char *)in, len);
				assert_int_equal(n, r);
				assert_memory_equal(in, ref, r);
			}
		}
	}
}

/* Each side publishes its CPU (a hint for cache placement); whatever the
 * peer writes there changes nothing but speed. */
static void test_cpu_hint(void **state)
{
	struct pair *pr = *state;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	uint32_t p = atomic_load(&pr->p->shm->cpu[AL_CHAN_SIDE_PROTO - 1]);
	uint32_t a = atomic_load(&pr->p->shm->cpu[AL_CHAN_SIDE_AI - 1]);
	if (__rseq_size == 0) { /* no rseq area (glibc.pthread.rseq=0): not known */
		assert_int_equal(p, 0);
		assert_int_equal(a, 0);
	} else {
		assert_true(p >= 1 && p <= (uint32_t)ncpu);
		assert_true(a >= 1 && a <= (uint32_t)ncpu);
	}
	struct al_msg m;
	for (uint32_t v = 0; v < 3; v++) {
		atomic_store(&pr->p->shm->cpu[AL_CHAN_SIDE_AI - 1], v == 0 ? 0 : v == 1 ? UINT32_MAX : p);
		assert_int_equal(al_chan_send_ping(pr->p, v + 1), 0);
		assert_int_equal(al_chan_recv(pr->a, &m, 0), 0);
		assert_int_equal(m.u.nonce, v + 1);
	}
	assert_int_equal(pr->cb_calls, 0);
}

static void test_head_out_of_range(void **state)
{
	struct pair *pr = *state;
	atomic_store(&pr->a->tx.ctl->head, (uint64_t)pr->a->ring_bytes + 32);
	expect_violation(pr, pr->p, AL_CHAN_E_INDEX);
}

static void test_head_misaligned(void **state)
{
	struct pair *pr = *state;
	atomic_store(&pr->a->tx.ctl->head, 8);
	expect_violation(pr, pr->p, AL_CHAN_E_INDEX);
}

static void test_head_backwards(void **state)
{
	struct pair *pr = *state;
	for (uint64_t i = 1; i <= 3; i++)
		assert_int_equal(al_chan_send_ping(pr->a, i), 0);
	struct al_msg m;
	assert_int_equal(al_chan_recv(pr->p, &m, 0), 0);
	/* Head pulled back below what was already seen: the records known to be
	 * committed are still delivered, the next look at the index trips. */
	atomic_store(&pr->a->tx.ctl->head, 128);
	assert_int_equal(al_chan_recv(pr->p, &m, 0), 0);
	assert_int_equal(al_chan_recv(pr->p, &m, 0), 0);
	assert_int_equal(m.u.nonce, 3);
	expect_violation(pr, pr->p, AL_CHAN_E_INDEX);
}

static void test_head_before_tail(void **state)
{
	struct pair *pr = *state;
	assert_int_equal(al_chan_send_ping(pr->a, 1), 0);
	struct al_msg m;
	assert_int_equal(al_chan_recv(pr->p, &m, 0), 0);
	atomic_store(&pr->a->tx.ctl->head, 0); /* head - tail wraps to 2^64 - 64 */
	expect_violation(pr, pr->p, AL_CHAN_E_INDEX);
}

static void test_tail_out_of_range(void **state)
{
	struct pair *pr = *state;
	al_chan_set_send_timeout(pr->p, 0);
	/* The producer checks the consumer's index when it needs space. */
	atomic_store(&pr->p->tx.ctl->tail, 1u << 20);
	int rc = 0;
	for (int i = 0; i < 200; i++)
		if ((rc = al_chan_send_ping(pr->p, (uint64_t)i + 1)) != 0)
			break;
	assert_int_equal(rc, -AL_CHAN_E_INDEX);
	assert_int_equal(ev_read(pr->evp), AL_CHAN_E_INDEX);
}

static void test_len_over_max(void **state)
{
	struct pair *pr = *state;
	assert_int_equal(al_chan_send_ping(pr->a, 1), 0);
	struct al_chan_rec_hdr *h = (void *)pr->a->tx.data;
	h->len = pr->a->max_payload + 1;
	expect_violation(pr, pr->p, AL_CHAN_E_LENGTH);
}

static void test_len_over_committed(void **state)
{
	struct pair *pr = *state;
	assert_int_equal(al_chan_send_ping(pr->a, 1), 0);
	struct al_chan_rec_hdr *h = (void *)pr->a->tx.data;
	h->len = 100; /* only 64 bytes committed */
	expect_violation(pr, pr->p, AL_CHAN_E_LENGTH);
}

static void test_record_crosses_end(void **state)
{
	struct pair *pr = *state;
	/* Move both sides near the end, then hand-write a record that spans it. */
	uint64_t at = pr->a->ring_bytes - 64;
	pr->a->tx.head = pr->a->tx.tail_seen = at;
	pr->p->rx.tail = pr->p->rx.head_seen = at;
	struct al_chan_rec_hdr h = { .len = 100, .type = AL_MSG_STATS, .sender = AL_CHAN_SIDE_AI, .seq = 1 };
	memcpy(pr->a->tx.data + at, &h, sizeof h);
	atomic_store(&pr->a->tx.ctl->head, at + 192);
	expect_violation(pr, pr->p, AL_CHAN_E_WRAP);
}

static void test_bad_padding(void **state)
{
	struct pair *pr = *state;
	uint64_t at = pr->a->ring_bytes - 64;
	pr->p->rx.tail = pr->p->rx.head_seen = at;
	struct al_chan_rec_hdr h = { .len = 0, .type = AL_MSG_PAD, .sender = AL_CHAN_SIDE_AI };
	memcpy(pr->a->tx.data + at, &h, sizeof h); /* must say 32, the rest of the ring */
	atomic_store(&pr->a->tx.ctl->head, at + 64);
	expect_violation(pr, pr->p, AL_CHAN_E_WRAP);
}

static void test_padding_mid_ring(void **state)
{
	struct pair *pr = *state;
	struct al_chan_rec_hdr h = { .len = 32, .type = AL_MSG_PAD, .sender = AL_CHAN_SIDE_AI };
	memcpy(pr->a->tx.data, &h, sizeof h);
	atomic_store(&pr->a->tx.ctl->head, 64);
	expect_violation(pr, pr->p, AL_CHAN_E_WRAP);
}

static void corrupt_header(struct pair *pr, size_t field_off, uint32_t v32, uint64_t v64, bool wide)
{
	uint8_t *h = pr->a->tx.data;
	if (wide)
		memcpy(h + field_off, &v64, 8);
	else
		memcpy(h + field_off, &v32, 4);
}

static void test_header_flags(void **state)
{
	struct pair *pr = *state;
	assert_int_equal(al_chan_send_ping(pr->a, 1), 0);
	corrupt_header(pr, offsetof(struct al_chan_rec_hdr, flags), 1, 0, false);
	expect_violation(pr, pr->p, AL_CHAN_E_HEADER);
}

static void test_header_reserved(void **state)
{
	struct pair *pr = *state;
	assert_int_equal(al_chan_send_ping(pr->a, 1), 0);
	corrupt_header(pr, offsetof(struct al_chan_rec_hdr, reserved), 0, 1, true);
	expect_violation(pr, pr->p, AL_CHAN_E_HEADER);
}

static void test_header_sender(void **state)
{
	struct pair *pr = *state;
	assert_int_equal(al_chan_send_ping(pr->a, 1), 0);
	corrupt_header(pr, offsetof(struct al_chan_rec_hdr, sender), AL_CHAN_SIDE_PROTO, 0, false);
	expect_violation(pr, pr->p, AL_CHAN_E_SENDER);
}

static void test_seq_replay(void **state)
{
	struct pair *pr = *state;
	assert_int_equal(al_chan_send_ping(pr->a, 1), 0);
	struct al_msg m;
	assert_int_equal(al_chan_recv(pr->p, &m, 0), 0);
	/* Replay: the same record bytes again with the same sequence number. */
	memcpy(pr->a->tx.data + 64, pr->a->tx.data, 64);
	atomic_store(&pr->a->tx.ctl->head, 128);
	expect_violation(pr, pr->p, AL_CHAN_E_SEQ);
}

static void test_seq_skip(void **state)
{
	struct pair *pr = *state;
	pr->a->tx.seq = 5;
	assert_int_equal(al_chan_send_ping(pr->a, 1), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_SEQ);
}

static void test_unknown_type(void **state)
{
	struct pair *pr = *state;
	uint64_t v = 1;
	assert_int_equal(raw_send(pr->a, 77, &v, 8), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_TYPE);
}

static void test_type_zero(void **state)
{
	struct pair *pr = *state;
	uint64_t v = 1;
	assert_int_equal(raw_send(pr->a, 0, &v, 8), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_TYPE);
}

static void test_wrong_direction(void **state)
{
	struct pair *pr = *state;
	struct buf b;
	gen_payload(&b, 1, 1, 0.5f, 0.5f, "hi", 2);
	assert_int_equal(raw_send(pr->a, AL_MSG_GEN_REQUEST, b.b, b.n), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_DIRECTION);
}

static void test_ai_may_not_cancel(void **state)
{
	struct pair *pr = *state;
	uint64_t v = 1;
	assert_int_equal(raw_send(pr->a, AL_MSG_CANCEL, &v, 8), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_DIRECTION);
}

/* ---- payload violations ---- */

static void gen_case(struct pair *pr, struct buf *b, enum al_chan_err err)
{
	assert_int_equal(raw_send(pr->p, AL_MSG_GEN_REQUEST, b->b, b->n), 0);
	expect_violation(pr, pr->a, err);
}

static void test_gen_short(void **state)
{
	struct buf b;
	gen_payload(&b, 1, 1, 0.5f, 0.5f, "", 0);
	b.n -= 1;
	gen_case(*state, &b, AL_CHAN_E_SIZE);
}

static void test_gen_text_truncated(void **state)
{
	struct buf b;
	gen_payload(&b, 1, 1, 0.5f, 0.5f, "hello", 5);
	b.n -= 1; /* prompt says 5 bytes, 4 present */
	gen_case(*state, &b, AL_CHAN_E_TRUNCATED);
}

static void test_gen_trailing(void **state)
{
	struct buf b;
	gen_payload(&b, 1, 1, 0.5f, 0.5f, "hello", 5);
	b_u32(&b, 0);
	gen_case(*state, &b, AL_CHAN_E_TRAILING);
}

static void test_gen_oversize(void **state)
{
	struct pair *pr = *state;
	static struct buf b;
	static char big[AL_MSG_MAX_PROMPT + 1];
	memset(big, 'x', sizeof big);
	gen_payload(&b, 1, 1, 0.5f, 0.5f, big, sizeof big);
	assert_int_equal(raw_send(pr->p, AL_MSG_GEN_REQUEST, b.b, b.n), 0);
	expect_violation(pr, pr->a, AL_CHAN_E_SIZE);
}

#define GEN_RANGE_TEST(name, id, maxtok, temp, topp)                    \
	static void name(void **state)                                    \
	{                                                                 \
		struct buf b;                                             \
		gen_payload(&b, id, maxtok, temp, topp, "hi", 2);         \
		gen_case(*state, &b, AL_CHAN_E_RANGE);                    \
	}
GEN_RANGE_TEST(test_gen_reqid_zero, 0, 1, 0.5f, 0.5f)
GEN_RANGE_TEST(test_gen_max_tokens_zero, 1, 0, 0.5f, 0.5f)
GEN_RANGE_TEST(test_gen_max_tokens_big, 1, AL_MSG_MAX_TOKENS + 1, 0.5f, 0.5f)
GEN_RANGE_TEST(test_gen_temp_nan, 1, 1, NAN, 0.5f)
GEN_RANGE_TEST(test_gen_temp_inf, 1, 1, INFINITY, 0.5f)
GEN_RANGE_TEST(test_gen_temp_negative, 1, 1, -0.1f, 0.5f)
GEN_RANGE_TEST(test_gen_temp_big, 1, 1, 4.5f, 0.5f)
GEN_RANGE_TEST(test_gen_top_p_zero, 1, 1, 0.5f, 0.0f)
GEN_RANGE_TEST(test_gen_top_p_big, 1, 1, 0.5f, 1.01f)

static void text_case(void **state, const char *s, size_t n, enum al_chan_err err)
{
	struct buf b;
	gen_payload(&b, 1, 1, 0.5f, 0.5f, s, n);
	gen_case(*state, &b, err);
}

#define TEXT_TEST(name, str, err) \
	static void name(void **state) { text_case(state, str, sizeof(str) - 1, err); }
TEXT_TEST(test_utf8_overlong, "a\xc0\xaf", AL_CHAN_E_UTF8)
TEXT_TEST(test_utf8_overlong3, "\xe0\x80\xaf", AL_CHAN_E_UTF8)
TEXT_TEST(test_utf8_surrogate, "\xed\xa0\x80", AL_CHAN_E_UTF8)
TEXT_TEST(test_utf8_too_big, "\xf4\x90\x80\x80", AL_CHAN_E_UTF8)
TEXT_TEST(test_utf8_f5, "\xf5\x80\x80\x80", AL_CHAN_E_UTF8)
TEXT_TEST(test_utf8_lone_continuation, "abcdefgh\x80", AL_CHAN_E_UTF8)
TEXT_TEST(test_utf8_cut, "abc\xe2\x82", AL_CHAN_E_UTF8)
TEXT_TEST(test_utf8_bad_continuation, "\xe2\x28\xa1", AL_CHAN_E_UTF8)
TEXT_TEST(test_ctrl_cr, "line\r\n", AL_CHAN_E_CONTROL)
TEXT_TEST(test_ctrl_esc_in_fast_path, "abcdefg\x1b[31mhijklmnop", AL_CHAN_E_CONTROL)
TEXT_TEST(test_ctrl_del, "abcdefghijklmn\x7f", AL_CHAN_E_CONTROL)
TEXT_TEST(test_ctrl_c1, "\xc2\x85", AL_CHAN_E_CONTROL)

static void test_ctrl_nul(void **state)
{
	text_case(state, "ab\0cd", 5, AL_CHAN_E_CONTROL);
}

static void test_token_bad_text(void **state)
{
	struct pair *pr = *state;
	struct buf b;
	token_payload(&b, 1, 1, "\x1b]0;pwned\x07", 10);
	assert_int_equal(raw_send(pr->a, AL_MSG_TOKEN, b.b, b.n), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_CONTROL);
}

static void test_token_zero_tokens(void **state)
{
	struct pair *pr = *state;
	struct buf b;
	token_payload(&b, 1, 0, "x", 1);
	assert_int_equal(raw_send(pr->a, AL_MSG_TOKEN, b.b, b.n), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_RANGE);
}

static void test_token_text_over_limit(void **state)
{
	struct pair *pr = *state;
	struct buf b;
	b.n = 0;
	b_u64(&b, 1);
	b_u32(&b, 1);
	b_u32(&b, AL_MSG_MAX_TEXT + 1); /* claims more than allowed; payload too big anyway */
	assert_int_equal(raw_send(pr->a, AL_MSG_TOKEN, b.b, b.n), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_TRUNCATED);
}

static void test_done_bad_finish(void **state)
{
	struct pair *pr = *state;
	struct buf b = { .n = 0 };
	b_u64(&b, 1);
	b_u32(&b, 1);
	b_u32(&b, 1);
	b_u32(&b, AL_FINISH_END);
	b_u32(&b, 0);
	b_u64(&b, 1);
	b_u64(&b, 1);
	assert_int_equal(raw_send(pr->a, AL_MSG_DONE, b.b, b.n), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_RANGE);
}

static void test_ping_wrong_size(void **state)
{
	struct pair *pr = *state;
	uint32_t v = 1;
	assert_int_equal(raw_send(pr->a, AL_MSG_PING, &v, 4), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_SIZE);
}

static void test_stats_trailing(void **state)
{
	struct pair *pr = *state;
	uint8_t z[40] = { 0 };
	assert_int_equal(raw_send(pr->a, AL_MSG_STATS, z, sizeof z), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_SIZE);
}

static void test_hello(void **state)
{
	struct pair *pr = *state;
	struct al_msg_hello h = { .vocab_size = 512, .context_length = 512, .n_layers = 5, .dim = 64,
				  .n_heads = 8, .n_kv_heads = 4, .name = "tiny", .name_len = 4 };
	/* Only the AI side says hello, and only once. */
	assert_int_equal(al_chan_send_hello(pr->p, &h), -EINVAL);
	assert_int_equal(al_chan_send_hello(pr->a, &h), 0);
	assert_int_equal(al_chan_send_hello(pr->a, &h), -EINVAL);
	struct al_msg m;
	assert_int_equal(al_chan_recv(pr->p, &m, 0), 0);
	assert_int_equal(m.type, AL_MSG_HELLO);
	assert_int_equal(m.u.hello.vocab_size, 512);
	assert_int_equal(m.u.hello.n_kv_heads, 4);
	assert_int_equal(m.u.hello.name_len, 4);
	assert_string_equal(m.u.hello.name, "tiny");
	assert_int_equal(m.u.hello.max_prompt_tokens, 0);
	/* A forged second hello breaks the channel. */
	uint8_t raw[32] = { 0 };
	for (int i = 0; i < 6; i++)
		raw[i * 4] = 1;
	assert_int_equal(raw_send(pr->a, AL_MSG_HELLO, raw, sizeof raw), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_REQID);
}

static void test_hello_out_of_range(void **state)
{
	struct pair *pr = *state;
	uint8_t raw[32] = { 0 };
	for (int i = 0; i < 6; i++)
		raw[i * 4] = 1;
	raw[5 * 4] = 2; /* n_kv_heads 2 > n_heads 1 */
	assert_int_equal(raw_send(pr->a, AL_MSG_HELLO, raw, sizeof raw), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_RANGE);
}

/* The prompt limit comes with the model: a prompt of the whole context leaves
 * no position for BOS, so an AI domain claiming it breaks the channel. */
static void test_hello_prompt_limit(void **state)
{
	struct pair *pr = *state;
	struct al_msg_hello h = { .vocab_size = 512, .context_length = 512, .n_layers = 5, .dim = 64,
				  .n_heads = 8, .n_kv_heads = 4, .max_prompt_tokens = 511,
				  .name = "tiny", .name_len = 4 };
	assert_int_equal(al_chan_send_hello(pr->a, &h), 0);
	struct al_msg m;
	assert_int_equal(al_chan_recv(pr->p, &m, 0), 0);
	assert_int_equal(m.u.hello.context_length, 512);
	assert_int_equal(m.u.hello.max_prompt_tokens, 511);
}

static void test_hello_prompt_limit_too_big(void **state)
{
	struct pair *pr = *state;
	uint8_t raw[32] = { 0 };
	for (int i = 0; i < 6; i++)
		raw[i * 4] = 1;
	raw[1 * 4] = 8;  /* context_length 8 */
	raw[6 * 4] = 8;  /* max_prompt_tokens 8: the whole context */
	assert_int_equal(raw_send(pr->a, AL_MSG_HELLO, raw, sizeof raw), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_RANGE);
}

static void test_gen_truncate_out_of_range(void **state)
{
	struct pair *pr = *state;
	struct buf b;
	gen_payload(&b, 1, 1, 0.5f, 0.5f, "hi", 2);
	uint32_t bad = AL_TRUNCATE_END;
	memcpy(b.b + 28, &bad, 4); /* after req_id, seed, max_tokens, temperature, top_p */
	assert_int_equal(raw_send(pr->p, AL_MSG_GEN_REQUEST, b.b, b.n), 0);
	expect_violation(pr, pr->a, AL_CHAN_E_RANGE);
}

/* ---- conversation violations ---- */

static void send_req(struct pair *pr, uint64_t id, uint32_t max_tokens)
{
	struct al_msg_gen_request req = { .req_id = id, .max_tokens = max_tokens, .top_p = 1,
					  .prompt = "p", .prompt_len = 1 };
	assert_int_equal(al_chan_send_gen_request(pr->p, &req), 0);
	struct al_msg m;
	assert_int_equal(al_chan_recv(pr->a, &m, 0), 0);
}

static void test_unsolicited_token(void **state)
{
	struct pair *pr = *state;
	struct buf b;
	token_payload(&b, 3, 1, "x", 1);
	assert_int_equal(raw_send(pr->a, AL_MSG_TOKEN, b.b, b.n), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_REQID);
}

static void test_token_after_done(void **state)
{
	struct pair *pr = *state;
	send_req(pr, 3, 5);
	assert_int_equal(al_chan_send_done(pr->a, &(struct al_msg_done){ .req_id = 3 }), 0);
	struct al_msg m;
	assert_int_equal(al_chan_recv(pr->p, &m, 0), 0);
	struct buf b;
	token_payload(&b, 3, 1, "x", 1);
	assert_int_equal(raw_send(pr->a, AL_MSG_TOKEN, b.b, b.n), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_REQID);
}

static void test_too_many_tokens(void **state)
{
	struct pair *pr = *state;
	send_req(pr, 3, 2);
	struct buf b;
	token_payload(&b, 3, 3, "xyz", 3);
	assert_int_equal(raw_send(pr->a, AL_MSG_TOKEN, b.b, b.n), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_LIMIT);
}

static void test_done_count_mismatch(void **state)
{
	struct pair *pr = *state;
	send_req(pr, 3, 10);
	assert_int_equal(al_chan_send_token(pr->a, 3, 1, "x", 1), 0);
	struct al_msg m;
	assert_int_equal(al_chan_recv(pr->p, &m, 0), 0);
	struct buf b = { .n = 0 };
	b_u64(&b, 3);
	b_u32(&b, 1);
	b_u32(&b, 4); /* claims 4 tokens, sent 1 */
	b_u32(&b, 0);
	b_u32(&b, 0);
	b_u64(&b, 1);
	b_u64(&b, 1);
	assert_int_equal(raw_send(pr->a, AL_MSG_DONE, b.b, b.n), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_RANGE);
}

/* Dropped prompt tokens are reported only for a request that allowed it. */
static void test_done_dropped_unasked(void **state)
{
	struct pair *pr = *state;
	send_req(pr, 3, 10);
	struct al_msg_done d = { .req_id = 3, .prompt_tokens = 511, .prompt_dropped = 87,
				 .finish = AL_FINISH_LENGTH };
	assert_int_equal(al_chan_send_done(pr->a, &d), -EINVAL);
	struct buf b = { .n = 0 };
	b_u64(&b, 3);
	b_u32(&b, 511);
	b_u32(&b, 0);
	b_u32(&b, AL_FINISH_LENGTH);
	b_u32(&b, 87); /* prompt_dropped */
	b_u64(&b, 1);
	b_u64(&b, 1);
	assert_int_equal(raw_send(pr->a, AL_MSG_DONE, b.b, b.n), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_RANGE);
}

static void test_done_dropped_asked(void **state)
{
	struct pair *pr = *state;
	struct al_msg_gen_request req = { .req_id = 4, .max_tokens = 1, .top_p = 1,
					  .truncate = AL_TRUNCATE_LEFT, .prompt = "p", .prompt_len = 1 };
	assert_int_equal(al_chan_send_gen_request(pr->p, &req), 0);
	struct al_msg m;
	assert_int_equal(al_chan_recv(pr->a, &m, 0), 0);
	assert_int_equal(m.u.gen.truncate, AL_TRUNCATE_LEFT);
	struct al_msg_done d = { .req_id = 4, .prompt_tokens = 511, .prompt_dropped = 87,
				 .finish = AL_FINISH_STOP };
	assert_int_equal(al_chan_send_done(pr->a, &d), 0);
	assert_int_equal(al_chan_recv(pr->p, &m, 0), 0);
	assert_int_equal(m.u.done.prompt_tokens, 511);
	assert_int_equal(m.u.done.prompt_dropped, 87);
}

/* More prompt tokens than any prompt the channel carries can have. */
static void test_done_prompt_tokens_range(void **state)
{
	struct pair *pr = *state;
	struct buf b = { .n = 0 };
	b_u64(&b, 1);
	b_u32(&b, AL_MSG_MAX_PROMPT_TOKENS);
	b_u32(&b, 0);
	b_u32(&b, AL_FINISH_STOP);
	b_u32(&b, 1); /* one more than can exist */
	b_u64(&b, 1);
	b_u64(&b, 1);
	assert_int_equal(raw_send(pr->a, AL_MSG_DONE, b.b, b.n), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_RANGE);
}

static void test_unsolicited_error(void **state)
{
	struct pair *pr = *state;
	struct buf b = { .n = 0 };
	b_u64(&b, 12);
	b_u32(&b, 1);
	b_text(&b, "no", 2);
	assert_int_equal(raw_send(pr->a, AL_MSG_ERROR, b.b, b.n), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_REQID);
}

static void test_unsolicited_pong(void **state)
{
	struct pair *pr = *state;
	uint64_t v = 77;
	assert_int_equal(raw_send(pr->a, AL_MSG_PONG, &v, 8), 0);
	expect_violation(pr, pr->p, AL_CHAN_E_REQID);
}

static void test_request_id_replay(void **state)
{
	struct pair *pr = *state;
	send_req(pr, 10, 1);
	struct buf b;
	gen_payload(&b, 10, 1, 0.5f, 0.5f, "again", 5);
	assert_int_equal(raw_send(pr->p, AL_MSG_GEN_REQUEST, b.b, b.n), 0);
	expect_violation(pr, pr->a, AL_CHAN_E_REQID);
}

static void test_request_id_backwards(void **state)
{
	struct pair *pr = *state;
	send_req(pr, 10, 1);
	struct buf b;
	gen_payload(&b, 9, 1, 0.5f, 0.5f, "older", 5);
	assert_int_equal(raw_send(pr->p, AL_MSG_GEN_REQUEST, b.b, b.n), 0);
	expect_violation(pr, pr->a, AL_CHAN_E_REQID);
}

static void test_cancel_never_made(void **state)
{
	struct pair *pr = *state;
	uint64_t v = 5;
	assert_int_equal(raw_send(pr->p, AL_MSG_CANCEL, &v, 8), 0);
	expect_violation(pr, pr->a, AL_CHAN_E_REQID);
}

/* Ids that share an entry of the request table (equal modulo its size)
 * are all tracked, each with its own token count, in any order of ending. */
static void test_request_ids_share_an_entry(void **state)
{
	struct pair *pr = *state;
	const uint64_t n = AL_CHAN_MAX_OUTSTANDING;
	uint64_t ids[] = { 1, 1 + n, 1 + 2 * n };
	struct al_msg m;
	for (size_t i = 0; i < 3; i++)
		send_req(pr, ids[i], 2);
	assert_int_equal(al_chan_send_token(pr->a, ids[2], 2, "ab", 2), 0);
	assert_int_equal(al_chan_send_token(pr->a, ids[1], 1, "c", 1), 0);
	assert_int_equal(al_chan_send_done(pr->a, &(struct al_msg_done){ .req_id = ids[1], .gen_tokens = 1 }), 0);
	assert_int_equal(al_chan_send_token(pr->a, ids[0], 1, "d", 1), 0);
	/* The ended one is gone; the others keep their own counts. */
	assert_int_equal(al_chan_send_token(pr->a, ids[1], 1, "e", 1), -EINVAL);
	assert_int_equal(al_chan_send_token(pr->a, ids[2], 1, "f", 1), -EINVAL);
	assert_int_equal(al_chan_send_done(pr->a, &(struct al_msg_done){ .req_id = ids[2], .gen_tokens = 2 }), 0);
	assert_int_equal(al_chan_send_done(pr->a, &(struct al_msg_done){ .req_id = ids[0], .gen_tokens = 1 }), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(al_chan_recv(pr->p, &m, 0), 0);
	assert_int_equal(m.type, AL_MSG_DONE);
	assert_int_equal(m.u.done.req_id, ids[0]);
	/* A new id in the same entry is tracked again. */
	send_req(pr, 1 + 3 * n, 1);
	assert_int_equal(al_chan_send_token(pr->a, 1 + 3 * n, 1, "g", 1), 0);
	assert_int_equal(al_chan_recv(pr->p, &m, 0), 0);
	assert_int_equal(m.type, AL_MSG_TOKEN);
	assert_int_equal(al_chan_error(pr->p), 0);
	assert_int_equal(pr->cb_calls, 0);
}

static void test_too_many_requests(void **state)
{
	struct pair *pr = *state;
	struct buf b;
	for (uint64_t id = 1; id <= AL_CHAN_MAX_OUTSTANDING; id++) {
		gen_payload(&b, id, 1, 0.5f, 0.5f, "p", 1);
		assert_int_equal(raw_send(pr->p, AL_MSG_GEN_REQUEST, b.b, b.n), 0);
		struct al_msg m;
		assert_int_equal(al_chan_recv(pr->a, &m, 0), 0);
	}
	gen_payload(&b, AL_CHAN_MAX_OUTSTANDING + 100, 1, 0.5f, 0.5f, "p", 1);
	assert_int_equal(raw_send(pr->p, AL_MSG_GEN_REQUEST, b.b, b.n), 0);
	expect_violation(pr, pr->a, AL_CHAN_E_LIMIT);
}

/* ---- close, shutdown, timeouts, wakeups ---- */

static void test_close_seen_after_drain(void **state)
{
	struct pair *pr = *state;
	assert_int_equal(al_chan_send_ping(pr->a, 1), 0);
	assert_int_equal(al_chan_send_ping(pr->a, 2), 0);
	al_chan_close(pr->a);
	struct al_msg m;
	assert_int_equal(al_chan_recv(pr->p, &m, 100), 0);
	assert_int_equal(al_chan_recv(pr->p, &m, 100), 0);
	assert_int_equal(m.u.nonce, 2);
	assert_int_equal(al_chan_recv(pr->p, &m, 100), -EPIPE);
	assert_int_equal(al_chan_recv(pr->p, &m, 0), -EPIPE);
	assert_int_equal(al_chan_send_ping(pr->p, 3), -EPIPE);
	pr->a = NULL;
}

static void test_timeout(void **state)
{
	struct pair *pr = *state;
	struct al_msg m;
	al_chan_set_spin(pr->p, 0);
	assert_int_equal(al_chan_recv(pr->p, &m, 10), -ETIMEDOUT);
	al_chan_set_spin(pr->p, 100000);
	assert_int_equal(al_chan_recv(pr->p, &m, 1), -ETIMEDOUT);
	assert_int_equal(al_chan_error(pr->p), 0);
}

/* A child in another process wakes us from the futex, then closes or the
 * supervisor shuts the channel down: both are seen by a sleeping reader. */
static void run_wake_child(int fd, int mode)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct al_chan *c;
		if (al_chan_attach(fd, AL_CHAN_SIDE_AI, &c) < 0)
			_exit(1);
		usleep(20000);
		if (mode == 0) {
			al_chan_send_ping(c, 5);
			usleep(20000);
			al_chan_close(c);
		} else {
			usleep(20000);
			al_chan_shutdown(fd);
		}
		_exit(0);
	}
}

/* A peer that wrecked the header (magic, sizes) cannot keep the supervisor's
 * shutdown from reaching the other side. */
static void test_shutdown_despite_scribbled_header(void **state)
{
	struct pair *pr = *state;
	struct al_msg m;
	uint32_t junk[4] = { 0xdeadbeef, 99, 1, 2 };
	assert_int_equal(pwrite(pr->fd, junk, sizeof junk, 0), (ssize_t)sizeof junk);
	assert_int_equal(al_chan_shutdown(pr->fd), 0);
	assert_int_equal(al_chan_recv(pr->p, &m, 1000), -EPIPE);
	assert_int_equal(al_chan_recv(pr->a, &m, 1000), -EPIPE);
}

static void test_futex_wake_and_close(void **state)
{
	struct pair *pr = *state;
	struct al_msg m;
	al_chan_close(pr->a);
	pr->a = NULL;
	/* A fresh pair where only the protocol side lives here. */
	al_chan_close(pr->p);
	close(pr->fd);
	assert_int_equal(al_chan_create(NULL, &pr->fd), 0);
	assert_int_equal(al_chan_attach(pr->fd, AL_CHAN_SIDE_PROTO, &pr->p), 0);
	al_chan_set_spin(pr->p, 0); /* straight to the futex */
	run_wake_child(pr->fd, 0);
	assert_int_equal(al_chan_recv(pr->p, &m, 10000), 0);
	assert_int_equal(m.type, AL_MSG_PING);
	assert_int_equal(al_chan_recv(pr->p, &m, 10000), -EPIPE);
	int st;
	assert_true(wait(&st) > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	al_chan_close(pr->p);
	close(pr->fd);
	assert_int_equal(al_chan_create(NULL, &pr->fd), 0);
	assert_int_equal(al_chan_attach(pr->fd, AL_CHAN_SIDE_PROTO, &pr->p), 0);
	al_chan_set_spin(pr->p, 0);
	run_wake_child(pr->fd, 1);
	assert_int_equal(al_chan_recv(pr->p, &m, 10000), -EPIPE);
	assert_true(wait(&st) > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(al_chan_error(pr->p), 0);
}

static void test_adaptive_spin_shrinks(void **state)
{
	struct pair *pr = *state;
	struct al_msg m;
	al_chan_set_spin(pr->p, 1000000);
	/* Each wait that ends asleep halves the budget, down to 1/16 of it. */
	assert_int_equal(al_chan_recv(pr->p, &m, 3), -ETIMEDOUT);
	assert_int_equal(pr->p->spin_ns, 500000);
	for (int i = 0; i < 6; i++)
		assert_int_equal(al_chan_recv(pr->p, &m, 1), -ETIMEDOUT);
	assert_int_equal(pr->p->spin_ns, 1000000 / 16);
	al_chan_set_spin(pr->p, 0);
	assert_int_equal(al_chan_recv(pr->p, &m, 1), -ETIMEDOUT);
	assert_int_equal(pr->p->spin_ns, 0);
}

/* al_chan_wait keeps a budget of its own: a waiting thread that sleeps through
 * a sparse stream stops spinning without touching the sender's, and a record
 * already there on its first look changes neither. */
static void test_wait_spin_own_budget(void **state)
{
	struct pair *pr = *state;
	struct al_msg m;
	al_chan_set_spin(pr->p, 1000000);
	for (int i = 0; i < 6; i++)
		assert_int_equal(al_chan_wait(pr->p, 1), -ETIMEDOUT);
	assert_int_equal(pr->p->wait_spin_ns, 1000000 / 16);
	assert_int_equal(pr->p->spin_ns, 1000000);
	struct al_msg_hello h = { .vocab_size = 512, .context_length = 512, .n_layers = 5, .dim = 64,
				  .n_heads = 8, .n_kv_heads = 4, .name = "tiny", .name_len = 4 };
	assert_int_equal(al_chan_send_hello(pr->a, &h), 0);
	assert_int_equal(al_chan_wait(pr->p, 1), 0);
	assert_int_equal(pr->p->wait_spin_ns, 1000000 / 16);
	assert_int_equal(al_chan_recv(pr->p, &m, 0), 0);
	assert_int_equal(m.type, AL_MSG_HELLO);
	assert_int_equal(pr->p->spin_ns, 1000000);
}

/* A producer asleep on a full ring is woken by a consumer in another process. */
static void test_space_wakeup(void **state)
{
	struct pair *pr = *state;
	/* Keep the AI side unattached here: it lives in the child. */
	al_chan_close(pr->a);
	pr->a = NULL;
	al_chan_close(pr->p);
	close(pr->fd);
	assert_int_equal(al_chan_create(&(struct al_chan_params){ AL_CHAN_MIN_RING, 1024 }, &pr->fd), 0);
	assert_int_equal(al_chan_attach(pr->fd, AL_CHAN_SIDE_PROTO, &pr->p), 0);
	al_chan_set_spin(pr->p, 0);
	al_chan_set_send_timeout(pr->p, 0);
	int n = 0;
	while (al_chan_send_ping(pr->p, (uint64_t)n + 1) == 0)
		n++;
	assert_true(n > 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct al_chan *c;
		struct al_msg m;
		if (al_chan_attach(pr->fd, AL_CHAN_SIDE_AI, &c) < 0)
			_exit(1);
		usleep(20000);
		for (int i = 0; i <= n; i++)
			if (al_chan_recv(c, &m, 10000) < 0 || m.u.nonce != (uint64_t)i + 1)
				_exit(2);
		_exit(0);
	}
	al_chan_set_send_timeout(pr->p, 10000);
	assert_int_equal(al_chan_send_ping(pr->p, (uint64_t)n + 1), 0);
	int st;
	assert_true(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- hostile peer ---- */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

enum scribble { SCR_INDICES, SCR_LENGTHS, SCR_HEADERS, SCR_PAYLOADS, SCR_MIXED, SCR_END };

/* The hostile peer: maps the region itself and writes whatever it likes. */
static _Noreturn void hostile(int fd, enum scribble mode, uint64_t seed)
{
	off_t size = lseek(fd, 0, SEEK_END);
	uint8_t *base = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		_exit(1);
	struct al_chan_shm *shm = (void *)base;
	uint32_t ring = shm->ring_bytes;
	struct al_ring_ctl *to_proto = &shm->ring[1], *from_proto = &shm->ring[0];
	uint8_t *data = base + AL_CHAN_HDR_BYTES + ring;
	uint64_t head = 0, seq = 0;
	const enum scribble chosen = mode;
	for (;;) {
		uint64_t r = rnd(&seed);
		uint32_t off = (uint32_t)(head & (ring - 1));
		if (chosen == SCR_MIXED) /* mostly records, now and then an index */
			mode = (r >> 40) % 64 == 0 ? SCR_INDICES : SCR_LENGTHS + (enum scribble)((r >> 48) % 3);
		switch (mode) {
		case SCR_INDICES:
			if (r & 1)
				atomic_store(&to_proto->head, rnd(&seed) % (4ull * ring));
			else
				atomic_store(&from_proto->tail, rnd(&seed) % (4ull * ring));
			break;
		case SCR_LENGTHS:
		case SCR_HEADERS:
		case SCR_PAYLOADS: {
			/* A plausible record, then damage to one part of it, possibly
			 * while the reader is copying it. Waits for room so that it is
			 * the record checks, not the index check, that trip. */
			while (head + 192 - atomic_load(&to_proto->tail) > ring)
				usleep(10);
			if (ring - off < 128) {
				struct al_chan_rec_hdr ph = { .len = ring - off - 32, .type = AL_MSG_PAD,
							      .sender = AL_CHAN_SIDE_AI };
				memcpy(data + off, &ph, sizeof ph);
				head += ring - off;
				off = 0;
			}
			struct al_chan_rec_hdr h = { .len = 16 + 8, .type = AL_MSG_TOKEN,
						     .sender = AL_CHAN_SIDE_AI, .seq = ++seq };
			uint8_t pl[24] = { 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0,
					   't', 'o', 'k', 'e', 'n', '!', ' ', 'x' };
			memcpy(data + off, &h, sizeof h);
			memcpy(data + off + 32, pl, sizeof pl);
			head += 64;
			atomic_store_explicit(&to_proto->head, head, memory_order_release);
			/* One record in 16 is damaged: honest traffic flows around it. */
			for (int k = 0; k < ((r >> 20) % 16 == 0 ? 4 : 0); k++) {
				uint64_t x = rnd(&seed);
				if (mode == SCR_LENGTHS)
					memcpy(data + off, &x, 4);
				else if (mode == SCR_HEADERS)
					memcpy(data + off + 4 * (x % 8), &x, 4);
				else
					data[off + 32 + x % 24] = (uint8_t)(x >> 8);
			}
			if ((head & (ring - 1)) == 0 || (r & 255) == 0)
				usleep(100);
			break;
		}
		default:
			_exit(2);
		}
	}
}

static void test_hostile_peer(void **state)
{
	/* Rounds with a fresh channel and a fresh hostile child, cycling through
	 * the kinds of damage, for 0.5 s in all (each mode at least once). */
	uint64_t budget_end = al_now_ns() + 500000000ull;
	unsigned rounds = 0, by_code[AL_CHAN_E_END - AL_CHAN_E_BASE] = { 0 };
	for (unsigned r = 0; r < SCR_END || al_now_ns() < budget_end; r++, rounds++) {
		enum scribble mode = (enum scribble)(r % SCR_END);
		int fd;
		struct al_chan *p;
		assert_int_equal(al_chan_create(&(struct al_chan_params){ 1u << 14, 4096 }, &fd), 0);
		assert_int_equal(al_chan_attach(fd, AL_CHAN_SIDE_PROTO, &p), 0);
		int ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		al_chan_set_report_fd(p, ev);
		al_chan_set_spin(p, 2000);
		al_chan_set_send_timeout(p, 1);
		/* An outstanding request, so well-formed tokens are acceptable. */
		struct al_msg_gen_request req = { .req_id = 1, .max_tokens = AL_MSG_MAX_TOKENS,
						  .top_p = 1, .prompt = "p", .prompt_len = 1 };
		assert_int_equal(al_chan_send_gen_request(p, &req), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			hostile(fd, mode, 0x9e3779b97f4a7c15ull * (uint64_t)(r + 1));
		/* Ends at the first violation, normally within milliseconds; the
		 * 5 s bound only matters on a machine too busy to run the child. */
		uint64_t end = al_now_ns() + 5000000000ull;
		int rc = 0;
		unsigned n = 0;
		while (al_now_ns() < end) {
			struct al_msg m;
			rc = al_chan_recv(p, &m, 5);
			if (al_chan_is_violation(rc))
				break;
			if ((++n & 7) == 0) {
				rc = al_chan_send_ping(p, n);
				if (al_chan_is_violation(rc))
					break;
			}
		}
		assert_true(al_chan_is_violation(rc));
		/* Broken for good, while the peer keeps scribbling. */
		for (int k = 0; k < 100; k++) {
			struct al_msg m;
			assert_int_equal(al_chan_recv(p, &m, 0), rc);
		}
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		by_code[-rc - AL_CHAN_E_BASE]++;
		assert_int_equal(ev_read(ev), (uint64_t)al_chan_error(p));
		assert_int_equal(-rc, al_chan_error(p));
		al_chan_close(p);
		close(ev);
		close(fd);
	}
	print_message("hostile peer: %u rounds, each ended in a reported violation:\n", rounds);
	for (int c = AL_CHAN_E_BASE + 1; c < AL_CHAN_E_END; c++)
		if (by_code[c - AL_CHAN_E_BASE])
			print_message("  %4u  %s\n", by_code[c - AL_CHAN_E_BASE], al_chan_strerror(-c));
}

int main(void)
{
	al_log_init("test_channel", AL_LOG_ERROR);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TS(f) cmocka_unit_test_setup_teardown(f, setup_small, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_attach_checks),
		T(test_roundtrip_all_types),
		T(test_local_misuse),
		T(test_sanitise_on_send),
		TS(test_wraparound),
		TS(test_backpressure),
		T(test_batch_publication),
		TS(test_batch_full_ring),
		cmocka_unit_test(test_text_scan_blocks),
		T(test_cpu_hint),
		T(test_head_out_of_range),
		T(test_head_misaligned),
		T(test_head_backwards),
		T(test_head_before_tail),
		TS(test_tail_out_of_range),
		T(test_len_over_max),
		T(test_len_over_committed),
		T(test_record_crosses_end),
		T(test_bad_padding),
		T(test_padding_mid_ring),
		T(test_header_flags),
		T(test_header_reserved),
		T(test_header_sender),
		T(test_seq_replay),
		T(test_seq_skip),
		T(test_unknown_type),
		T(test_type_zero),
		T(test_wrong_direction),
		T(test_ai_may_not_cancel),
		T(test_gen_short),
		T(test_gen_text_truncated),
		T(test_gen_trailing),
		cmocka_unit_test_setup_teardown(test_gen_oversize, setup_big, teardown),
		T(test_gen_reqid_zero),
		T(test_gen_max_tokens_zero),
		T(test_gen_max_tokens_big),
		T(test_gen_temp_nan),
		T(test_gen_temp_inf),
		T(test_gen_temp_negative),
		T(test_gen_temp_big),
		T(test_gen_top_p_zero),
		T(test_gen_top_p_big),
		T(test_utf8_overlong),
		T(test_utf8_overlong3),
		T(test_utf8_surrogate),
		T(test_utf8_too_big),
		T(test_utf8_f5),
		T(test_utf8_lone_continuation),
		T(test_utf8_cut),
		T(test_utf8_bad_continuation),
		T(test_ctrl_cr),
		T(test_ctrl_esc_in_fast_path),
		T(test_ctrl_del),
		T(test_ctrl_c1),
		T(test_ctrl_nul),
		T(test_token_bad_text),
		T(test_token_zero_tokens),
		T(test_token_text_over_limit),
		T(test_done_bad_finish),
		T(test_ping_wrong_size),
		T(test_stats_trailing),
		T(test_hello),
		T(test_hello_out_of_range),
		T(test_hello_prompt_limit),
		T(test_hello_prompt_limit_too_big),
		T(test_gen_truncate_out_of_range),
		T(test_done_dropped_unasked),
		T(test_done_dropped_asked),
		T(test_done_prompt_tokens_range),
		T(test_unsolicited_token),
		T(test_token_after_done),
		T(test_too_many_tokens),
		T(test_done_count_mismatch),
		T(test_unsolicited_error),
		T(test_unsolicited_pong),
		T(test_request_id_replay),
		T(test_request_id_backwards),
		T(test_cancel_never_made),
		T(test_request_ids_share_an_entry),
		T(test_too_many_requests),
		T(test_close_seen_after_drain),
		T(test_timeout),
		T(test_shutdown_despite_scribbled_header),
		T(test_futex_wake_and_close),
		T(test_adaptive_spin_shrinks),
		T(test_wait_spin_own_budget),
		TS(test_space_wakeup),
		cmocka_unit_test(test_hostile_peer),
	};
	return cmocka_run_group_tests_name("channel", tests, NULL, NULL);
}
