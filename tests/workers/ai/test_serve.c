/*
 * The AI worker's service loop with the real engine and model over a real
 * channel: each request gets its own prompt's text, alone or generated
 * together with others in several slots; cancellation of a queued or running
 * request; max_tokens honoured; the done statistics consistent; the
 * scheduler's fair share between clients, its deadline and its full queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "al_config.h"
#include "airlock/channel.h"
#include "workers/ai/generate.h"
#include "workers/ai/model.h"
#include "workers/ai/serve.h"
#include "workers/ai/tokenizer.h"

#define MAX_REQ 16

struct rig {
	struct al_ai_model model;
	struct al_ai_tokenizer tok;
	struct al_ai_engine engine;
	struct al_ai_server *srv;
	struct al_chan *ai, *proto;
	pthread_t thread;
	int serve_rc;
	/* what the protocol side collected, per request id */
	char text[MAX_REQ + 1][8192];
	size_t len[MAX_REQ + 1];
	uint32_t tokens[MAX_REQ + 1];
	struct al_msg_done done[MAX_REQ + 1];
	bool finished[MAX_REQ + 1], failed[MAX_REQ + 1];
	char error[MAX_REQ + 1][AL_MSG_MAX_ERROR + 1];
	uint32_t error_code[MAX_REQ + 1];
	uint64_t ended[MAX_REQ + 1]; /* the order in which requests ended, from 0 */
	int n_ended;
};

static void *serve_thread(void *arg)
{
	struct rig *r = arg;
	r->serve_rc = al_ai_serve(r->srv);
	return NULL;
}

/* slots generate together; queue and deadline_ns as al_ai_server_set_limits (0: the defaults). */
static struct rig *rig_up_with(int slots, unsigned queue, uint64_t deadline_ns)
{
	struct rig *r = calloc(1, sizeof *r);
	assert_non_null(r);
	int mfd = open(AL_SOURCE_ROOT "/models/stories260K.bin", O_RDONLY | O_CLOEXEC);
	int tfd = open(AL_SOURCE_ROOT "/models/tok512.bin", O_RDONLY | O_CLOEXEC);
	assert_true(mfd >= 0 && tfd >= 0);
	assert_int_equal(al_ai_model_build_fd(&r->model, mfd), 0);
	assert_int_equal(al_ai_tokenizer_build_fd(&r->tok, tfd, r->model.cfg.vocab_size), 0);
	close(mfd);
	close(tfd);
	assert_int_equal(al_ai_engine_build_slots(&r->engine, &r->model, &r->tok, slots), 0);
	int fd;
	assert_int_equal(al_chan_create(NULL, &fd), 0);
	assert_int_equal(al_chan_attach(fd, AL_CHAN_SIDE_AI, &r->ai), 0);
	assert_int_equal(al_chan_attach(fd, AL_CHAN_SIDE_PROTO, &r->proto), 0);
	close(fd);
	assert_int_equal(al_ai_server_new(&r->engine, r->ai, &r->srv), 0);
	if (queue)
		al_ai_server_set_limits(r->srv, queue, deadline_ns);
	assert_int_equal(pthread_create(&r->thread, NULL, serve_thread, r), 0);
	return r;
}

static struct rig *rig_up(void)
{
	return rig_up_with(1, 0, 0);
}

static void rig_down(struct rig *r)
{
	al_chan_close(r->proto); /* the loop sees the channel closed and returns 0 */
	pthread_join(r->thread, NULL);
	assert_int_equal(r->serve_rc, 0);
	al_ai_server_free(r->srv);
	al_chan_close(r->ai);
	al_ai_engine_free(&r->engine);
	al_ai_tokenizer_free(&r->tok);
	al_ai_model_free(&r->model);
	free(r);
}

static void send_full(struct rig *r, uint64_t id, const char *prompt, uint32_t max_tokens, float temperature,
		      uint64_t seed, uint64_t client)
{
	struct al_msg_gen_request q = {.req_id = id, .seed = seed, .max_tokens = max_tokens,
				       .temperature = temperature, .top_p = 0.9f, .client = client,
				       .prompt = prompt, .prompt_len = strlen(prompt)};
	assert_int_equal(al_chan_send_gen_request(r->proto, &q), 0);
}

static void send_req(struct rig *r, uint64_t id, const char *prompt, uint32_t max_tokens)
{
	send_full(r, id, prompt, max_tokens, 0, 7, 0);
}

/* Collects messages until `count` requests have ended. */
static void collect(struct rig *r, int count)
{
	int ended = 0;
	while (ended < count) {
		struct al_msg m;
		int rc = al_chan_recv(r->proto, &m, 30000);
		if (rc != 0)
			fail_msg("receive: %s", al_chan_strerror(rc));
		uint64_t id;
		switch (m.type) {
		case AL_MSG_TOKEN:
			id = m.u.token.req_id;
			assert_true(id <= MAX_REQ);
			assert_true(r->len[id] + m.u.token.text_len < sizeof r->text[id]);
			memcpy(r->text[id] + r->len[id], m.u.token.text, m.u.token.text_len);
			r->len[id] += m.u.token.text_len;
			r->tokens[id] += m.u.token.n_tokens;
			break;
		case AL_MSG_DONE:
			id = m.u.done.req_id;
			assert_true(id <= MAX_REQ);
			r->done[id] = m.u.done;
			r->finished[id] = true;
			/* gen_tokens counts exactly the tokens streamed (the channel checks it too). */
			assert_int_equal(m.u.done.gen_tokens, r->tokens[id]);
			r->ended[r->n_ended++] = id;
			ended++;
			break;
		case AL_MSG_ERROR:
			id = m.u.error.req_id;
			assert_true(id >= 1 && id <= MAX_REQ);
			r->failed[id] = true;
			r->error_code[id] = m.u.error.code;
			memcpy(r->error[id], m.u.error.text, m.u.error.text_len);
			r->error[id][m.u.error.text_len] = '\0';
			r->ended[r->n_ended++] = id;
			ended++;
			break;
		default:
			break;
		}
	}
}

/* The text one request gets when it is alone, in an engine of one slot. */
static void alone_full(const char *prompt, uint32_t max_tokens, float temperature, uint64_t seed, char *out,
		       size_t *len)
{
	struct rig *r = rig_up();
	send_full(r, 1, prompt, max_tokens, temperature, seed, 0);
	collect(r, 1);
	assert_true(r->finished[1]);
	memcpy(out, r->text[1], r->len[1]);
	*len = r->len[1];
	rig_down(r);
}

static void alone(const char *prompt, uint32_t max_tokens, char *out, size_t *len)
{
	alone_full(prompt, max_tokens, 0, 7, out, len);
}

static void test_greedy_continuation(void **state)
{
	(void)state;
	struct rig *r = rig_up();
	send_req(r, 1, "Once upon a time", 30);
	collect(r, 1);
	r->text[1][r->len[1]] = '\0';
	/* The prompt is not echoed; greedy stories260K continues as the reference does. */
	assert_non_null(strstr(r->text[1], ", there was a little girl named Lily"));
	assert_int_equal(r->text[1], strstr(r->text[1], ", there was"));
	assert_int_equal(r->done[1].gen_tokens, 30);
	assert_int_equal(r->tokens[1], 30);
	assert_int_equal(r->done[1].finish, AL_FINISH_LENGTH);
	assert_int_equal(r->done[1].prompt_tokens, 4); /* BOS is not a prompt token */
	assert_int_equal(r->done[1].prompt_dropped, 0);
	rig_down(r);
}

/*
 * Requests queue behind a long one; one of the queued is cancelled before it
 * starts. Every other request must get exactly the text it gets alone: a
 * queue slot must never lend its prompt to another request.
 */
static void test_queue_cancel_keeps_prompts(void **state)
{
	(void)state;
	const char *p3 = "The cat sat on the mat", *p4 = "Lily went to the park and saw a bird";
	char want3[8192], want4[8192];
	size_t l3, l4;
	alone(p3, 40, want3, &l3);
	alone(p4, 40, want4, &l4);
	assert_true(l3 != l4 || memcmp(want3, want4, l3) != 0);

	struct rig *r = rig_up();
	send_req(r, 1, "Once upon a time there was a big dog", 300);
	send_req(r, 2, "A little girl", 40);
	send_req(r, 3, p3, 40);
	assert_int_equal(al_chan_send_cancel(r->proto, 2), 0);
	send_req(r, 4, p4, 40);
	collect(r, 4);
	assert_true(r->finished[2]);
	assert_int_equal(r->done[2].finish, AL_FINISH_CANCELLED);
	assert_int_equal(r->done[2].gen_tokens, 0);
	assert_int_equal(r->len[3], l3);
	assert_memory_equal(r->text[3], want3, l3);
	assert_int_equal(r->len[4], l4);
	assert_memory_equal(r->text[4], want4, l4);
	rig_down(r);
}

static void test_cancel_running(void **state)
{
	(void)state;
	struct rig *r = rig_up();
	send_req(r, 1, "Once upon a time", 400);
	/* Wait for the first token so the request is running, then cancel it. */
	struct al_msg m;
	do
		assert_int_equal(al_chan_recv(r->proto, &m, 30000), 0);
	while (m.type != AL_MSG_TOKEN);
	r->tokens[1] = m.u.token.n_tokens;
	assert_int_equal(al_chan_send_cancel(r->proto, 1), 0);
	collect(r, 1);
	assert_int_equal(r->done[1].finish, AL_FINISH_CANCELLED);
	assert_true(r->done[1].gen_tokens < 400);
	assert_int_equal(r->done[1].gen_tokens, r->tokens[1]);
	/* The loop serves the next request as usual. */
	send_req(r, 2, "Once upon a time", 5);
	collect(r, 1);
	assert_int_equal(r->done[2].gen_tokens, 5);
	rig_down(r);
}

/* 600 digits are 601 tokens (a leading space, then one per digit): over
 * stories260K's 511, refused with both figures, or cut from the left. */
static void test_prompt_too_long(void **state)
{
	(void)state;
	struct rig *r = rig_up();
	char big[601];
	for (int i = 0; i < 600; i++)
		big[i] = (char)('0' + i % 10);
	big[600] = '\0';
	send_req(r, 1, big, 10);
	collect(r, 1);
	assert_true(r->failed[1]);
	assert_int_equal(r->error_code[1], E2BIG);
	assert_string_equal(r->error[1], "the prompt is 601 tokens; this model takes at most 511 prompt tokens");
	struct al_msg_gen_request q = {.req_id = 2, .max_tokens = 10, .top_p = 1, .truncate = AL_TRUNCATE_LEFT,
				       .prompt = big, .prompt_len = 600};
	assert_int_equal(al_chan_send_gen_request(r->proto, &q), 0);
	collect(r, 1);
	assert_true(r->finished[2]);
	assert_int_equal(r->done[2].prompt_tokens, 511);
	assert_int_equal(r->done[2].prompt_dropped, 90);
	assert_int_equal(r->done[2].gen_tokens, 1); /* the context's last position */
	send_req(r, 3, "Once", 3);
	collect(r, 1);
	assert_true(r->finished[3]);
	assert_int_equal(r->done[3].prompt_dropped, 0);
	rig_down(r);
}

/*
 * Requests generated together (four slots, more requests than slots, so
 * some join while others run, in slots others used) each get exactly the
 * text they get alone, greedy or sampled; one cancelled while running gives
 * its slot to the next one waiting.
 */
static void test_batched_same_text(void **state)
{
	(void)state;
	static const struct {
		const char *prompt;
		uint32_t max_tokens;
		float temperature;
		uint64_t seed;
	} q[] = {
		{ "Once upon a time", 60, 0, 7 },
		{ "The cat sat on the mat", 25, 1.0f, 133742 },
		{ "", 40, 0.8f, 99 },
		{ "Lily went to the park and saw a bird", 80, 0, 7 },
		{ "Tom had a red ball", 10, 1.0f, 5 },
		{ "One day", 45, 0.5f, 1234 },
		{ "The sun", 30, 0, 3 },
	};
	enum { N = sizeof q / sizeof q[0] };
	static char want[N][8192];
	size_t wlen[N];
	for (int i = 0; i < N; i++)
		alone_full(q[i].prompt, q[i].max_tokens, q[i].temperature, q[i].seed, want[i], &wlen[i]);

	struct rig *r = rig_up_with(4, 0, 0);
	for (int i = 0; i < N; i++)
		send_full(r, (uint64_t)i + 1, q[i].prompt, q[i].max_tokens, q[i].temperature, q[i].seed, (uint64_t)i);
	/* A long one, cancelled once it runs: its slot goes to the others. */
	send_req(r, N + 1, "Once upon a time there was a big dog", 400);
	assert_int_equal(al_chan_send_cancel(r->proto, N + 1), 0);
	collect(r, N + 1);
	for (int i = 0; i < N; i++) {
		if (!r->finished[i + 1])
			fail_msg("request %d failed: %s", i + 1, r->error[i + 1]);
		if (r->len[i + 1] != wlen[i] || memcmp(r->text[i + 1], want[i], wlen[i]))
			fail_msg("request %d: generated together, its text differs from its text alone", i + 1);
		/* the prompt's text tokens (BOS is not counted): none for the empty one */
		assert_true((r->done[i + 1].prompt_tokens >= 1) == (q[i].prompt[0] != '\0'));
	}
	assert_true(r->finished[N + 1]);
	assert_int_equal(r->done[N + 1].finish, AL_FINISH_CANCELLED);
	rig_down(r);
}

/*
 * Fair share: with one slot, a client that queued six requests does not
 * make another client's single request wait behind all six; it is served
 * within the first three (in arrival order it would be seventh).
 */
static void test_fair_share(void **state)
{
	(void)state;
	struct rig *r = rig_up_with(1, 0, 0);
	for (uint64_t id = 1; id <= 6; id++)
		send_full(r, id, "Once upon a time", 20, 0, 7, 0xa);
	send_full(r, 7, "The cat", 20, 0, 7, 0xb);
	collect(r, 7);
	int at = -1;
	for (int k = 0; k < r->n_ended; k++)
		if (r->ended[k] == 7)
			at = k;
	if (at < 0 || at > 2)
		fail_msg("the other client's request ended %d of 7: the queue did not alternate between clients", at + 1);
	/* The busy client's requests keep their own order. */
	for (int k = 0, last = 0; k < r->n_ended; k++)
		if (r->ended[k] != 7) {
			assert_true((int)r->ended[k] > last);
			last = (int)r->ended[k];
		}
	for (uint64_t id = 1; id <= 7; id++)
		assert_true(r->finished[id] && r->done[id].finish == AL_FINISH_LENGTH);
	rig_down(r);
}

/*
 * Deadline (2 ms from arrival, waiting plus generating), one slot: the
 * running request ends with the deadline finish and the text it had; those
 * that waited past theirs end with an error saying so. None is dropped.
 */
static void test_deadline(void **state)
{
	(void)state;
	struct rig *r = rig_up_with(1, AL_CHAN_MAX_OUTSTANDING, 2000000);
	for (uint64_t id = 1; id <= 5; id++)
		send_full(r, id, "Once upon a time", 500, 0.8f, id, id);
	collect(r, 5);
	assert_true(r->finished[1]);
	assert_int_equal(r->done[1].finish, AL_FINISH_DEADLINE);
	assert_true(r->done[1].gen_tokens < 500);
	int waited = 0;
	for (uint64_t id = 2; id <= 5; id++) {
		if (r->finished[id]) {
			assert_int_equal(r->done[id].finish, AL_FINISH_DEADLINE);
			continue;
		}
		assert_true(r->failed[id]);
		assert_int_equal(r->error_code[id], ETIMEDOUT);
		if (!strstr(r->error[id], "deadline passed") || !strstr(r->error[id], "waiting"))
			fail_msg("request %d: unclear error \"%s\"", (int)id, r->error[id]);
		waited++;
	}
	/* The last ones to arrive waited behind at least one whole deadline. */
	assert_true(waited >= 1);
	assert_true(r->failed[5]);
	rig_down(r);
}

/*
 * A full queue (3 requests held, one slot): the requests beyond it are
 * refused at once with an error that says so, before the running one ends;
 * the held ones are served in full.
 */
static void test_queue_full(void **state)
{
	(void)state;
	struct rig *r = rig_up_with(1, 3, 0);
	send_req(r, 1, "Once upon a time there was a big dog", 300);
	for (uint64_t id = 2; id <= 5; id++)
		send_req(r, id, "Once upon a time", 10);
	collect(r, 5);
	for (uint64_t id = 4; id <= 5; id++) {
		assert_true(r->failed[id]);
		assert_int_equal(r->error_code[id], EBUSY);
		if (!strstr(r->error[id], "queue is full"))
			fail_msg("request %d: unclear error \"%s\"", (int)id, r->error[id]);
	}
	/* Refused at once: before the long request ended. */
	assert_true(r->ended[0] == 4 || r->ended[0] == 5);
	assert_true(r->ended[1] == 4 || r->ended[1] == 5);
	for (uint64_t id = 1; id <= 3; id++)
		assert_true(r->finished[id] && r->done[id].gen_tokens > 0);
	/* The queue takes requests again once it has room. */
	send_req(r, 6, "Once", 3);
	collect(r, 1);
	assert_true(r->finished[6]);
	rig_down(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greedy_continuation),
		cmocka_unit_test(test_queue_cancel_keeps_prompts),
		cmocka_unit_test(test_cancel_running),
		cmocka_unit_test(test_prompt_too_long),
		cmocka_unit_test(test_batched_same_text),
		cmocka_unit_test(test_fair_share),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_queue_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
