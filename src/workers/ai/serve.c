#include "workers/ai/serve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

/*
 * Tokens are published to the protocol domain at most every PUBLISH_NS while
 * requests run, or every SEND_BATCH records, whichever comes first; the end
 * of a request (done or error) and every answer to a message go out with the
 * step that made them. Each publication can wake the protocol domain's
 * receiver on another CPU, and a step takes tens of microseconds: publishing
 * every step woke it about ten thousand times a second under two generations.
 */
#define SEND_BATCH 64
#define PUBLISH_NS 1000000u

/* A piece callback's value when the channel failed under it: the loop ends. */
#define STOP_CHANNEL 1

enum req_state { REQ_FREE, REQ_WAITING, REQ_RUNNING };

/* A request held by the server, waiting for a slot or generating in one. */
struct req {
	enum req_state state;
	struct al_ai_server *srv;
	uint64_t id, client, seed;
	uint32_t max_tokens;
	float temperature, top_p;
	bool truncate_left;    /* a prompt over the limit loses its oldest tokens */
	char *prompt;          /* copied out of the channel's buffer; freed once prefilled */
	uint64_t deadline_ns;  /* al_now_ns() past which it ends; 0: none */
	uint64_t arrived_ns;
	uint64_t round, order; /* fair share: the waiting request with the least (round, order) goes next */
	/* While running: */
	int slot;
	struct al_ai_seq seq;
	struct al_ai_sampler smp; /* its own settings and random stream; the scratch is shared */
	uint64_t started_ns, prefill_ns;
	uint32_t seen;         /* seq.stats.tokens at the last piece */
	uint32_t sent;         /* tokens accounted in chunks so far */
	uint32_t held_tokens;  /* tokens whose bytes wait for a complete UTF-8 sequence */
	size_t held_len;
	char held[64];
	int chan_rc;           /* a channel failure seen in the piece callback */
};

struct al_ai_server {
	struct al_ai_engine *engine;
	struct al_chan *ch;
	struct al_ai_sampler smp;  /* owns the probability scratch every request's sampler uses */
	struct req *reqs;          /* AL_CHAN_MAX_OUTSTANDING entries */
	struct req **slot_req;     /* per slot: the request running there, or NULL */
	struct al_ai_seq **step;   /* per slot: scratch for the sequences of one step */
	int slots;
	unsigned held, waiting, running, queue_max;
	uint64_t deadline_ns;
	uint64_t round;            /* the round of the request started last */
	uint64_t order;            /* arrivals so far */
	uint64_t requests, tokens;
	uint64_t started_ns;
	uint64_t published_ns;     /* the last publication */
	bool urgent;               /* something besides tokens waits to be published */
};

int al_ai_server_new(struct al_ai_engine *e, struct al_chan *ch, struct al_ai_server **out)
{
	struct al_ai_server *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->engine = e;
	s->ch = ch;
	s->slots = e->state.slots;
	s->reqs = calloc(AL_CHAN_MAX_OUTSTANDING, sizeof *s->reqs);
	s->slot_req = calloc((size_t)s->slots, sizeof *s->slot_req);
	s->step = calloc((size_t)s->slots, sizeof *s->step);
	int rc = s->reqs && s->slot_req && s->step
			 ? al_ai_sampler_build(&s->smp, e->model->cfg.vocab_size, 0.0f, 0.9f, 1)
			 : -ENOMEM;
	if (rc < 0) {
		free(s->reqs);
		free(s->slot_req);
		free(s->step);
		free(s);
		return rc;
	}
	for (unsigned i = 0; i < AL_CHAN_MAX_OUTSTANDING; i++)
		s->reqs[i].srv = s;
	s->queue_max = AL_CHAN_MAX_OUTSTANDING;
	s->deadline_ns = e->max_ns ? e->max_ns : AL_AI_DEADLINE_NS;
	s->started_ns = al_now_ns();
	al_chan_set_batch(ch, SEND_BATCH);
	*out = s;
	return 0;
}

void al_ai_server_set_limits(struct al_ai_server *s, unsigned queue, uint64_t deadline_ns)
{
	s->queue_max = queue < 1 ? 1 : queue > AL_CHAN_MAX_OUTSTANDING ? AL_CHAN_MAX_OUTSTANDING : queue;
	s->deadline_ns = deadline_ns;
}

void al_ai_server_free(struct al_ai_server *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < AL_CHAN_MAX_OUTSTANDING; i++)
		free(s->reqs[i].prompt);
	al_ai_sampler_free(&s->smp);
	free(s->reqs);
	free(s->slot_req);
	free(s->step);
	free(s);
}

static void req_release(struct al_ai_server *s, struct req *r)
{
	if (r->state == REQ_WAITING) {
		s->waiting--;
	} else if (r->state == REQ_RUNNING) {
		s->running--;
		s->slot_req[r->slot] = NULL;
	}
	s->held--;
	free(r->prompt);
	r->prompt = NULL;
	r->state = REQ_FREE;
	s->urgent = true; /* its done or error */
}

static struct req *req_find(struct al_ai_server *s, uint64_t id)
{
	for (unsigned i = 0; i < AL_CHAN_MAX_OUTSTANDING; i++)
		if (s->reqs[i].state != REQ_FREE && s->reqs[i].id == id)
			return &s->reqs[i];
	return NULL;
}

/* Ends r with an error message (no done follows). */
static int req_fail(struct al_ai_server *s, struct req *r, int code, const char *why)
{
	int rc = al_chan_send_error(s->ch, r->id, (uint32_t)code, why);
	req_release(s, r);
	return rc;
}

/*
 * A new request: refused at once when the queue is full, else queued with
 * a round one past the last of its client's waiting requests (and past the
 * round being served), so that clients take turns whatever their numbers.
 */
static int enqueue(struct al_ai_server *s, const struct al_msg_gen_request *g)
{
	struct req *r = NULL;
	uint64_t last = s->round;
	for (unsigned i = 0; i < AL_CHAN_MAX_OUTSTANDING; i++) {
		struct req *q = &s->reqs[i];
		if (q->state == REQ_FREE && !r)
			r = q;
		else if (q->state == REQ_WAITING && q->client == g->client && q->round > last)
			last = q->round;
	}
	/* There is always a free entry below queue_max: the channel lets no more
	 * requests in flight than there are entries. */
	if (s->held >= s->queue_max || !r) {
		char why[160];
		snprintf(why, sizeof why,
			 "the AI domain is busy: its queue is full (%u requests waiting or generating); try again later",
			 s->held);
		return al_chan_send_error(s->ch, g->req_id, EBUSY, why);
	}
	char *prompt = malloc(g->prompt_len + 1);
	if (!prompt)
		return al_chan_send_error(s->ch, g->req_id, ENOMEM, "the AI domain is out of memory for the prompt");
	memcpy(prompt, g->prompt, g->prompt_len);
	prompt[g->prompt_len] = '\0';
	uint64_t now = al_now_ns();
	*r = (struct req){
		.state = REQ_WAITING, .srv = s, .id = g->req_id, .client = g->client, .seed = g->seed,
		.max_tokens = g->max_tokens, .temperature = g->temperature, .top_p = g->top_p,
		.truncate_left = g->truncate == AL_TRUNCATE_LEFT, .prompt = prompt,
		.deadline_ns = s->deadline_ns ? now + s->deadline_ns : 0, .arrived_ns = now,
		.round = last + 1, .order = ++s->order,
	};
	s->held++;
	s->waiting++;
	return 0;
}

static int flush_held(struct req *r, bool all)
{
	size_t n = all ? r->held_len : al_chan_utf8_complete(r->held, r->held_len);
	if (n == 0 && !(all && r->held_tokens))
		return 0;
	int rc = al_chan_send_token(r->srv->ch, r->id, r->held_tokens, r->held, n);
	if (rc < 0)
		return rc;
	r->sent += r->held_tokens;
	r->held_tokens = 0;
	memmove(r->held, r->held + n, r->held_len - n);
	r->held_len -= n;
	return 0;
}

/* Called by the engine for each printable piece: forward sampled text, on UTF-8 boundaries. */
static int on_piece(void *ctx, const char *piece, size_t len, int token)
{
	struct req *r = ctx;
	(void)token;
	uint32_t now = r->seq.stats.tokens;
	if (now == r->seen)
		return 0; /* a forced prompt token: the client sent it, it is not sent back */
	r->held_tokens += now - r->seen;
	r->seen = now;
	/* A piece is at most a few bytes (the tokenizer bounds it); keep what is incomplete. */
	if (r->held_len + len > sizeof r->held) {
		if ((r->chan_rc = flush_held(r, true)) < 0)
			return STOP_CHANNEL;
		if (len > sizeof r->held)
			len = sizeof r->held;
	}
	memcpy(r->held + r->held_len, piece, len);
	r->held_len += len;
	if ((r->chan_rc = flush_held(r, false)) < 0)
		return STOP_CHANNEL;
	return 0;
}

/* Ends a running request with done: the rest of its text, then its figures. */
static int end_running(struct al_ai_server *s, struct req *r, uint32_t finish)
{
	int rc = flush_held(r, true);
	if (rc < 0)
		return rc;
	struct al_msg_done d = {
		.req_id = r->id,
		.prompt_tokens = r->seq.stats.fit.text_tokens - r->seq.stats.fit.dropped,
		.prompt_dropped = r->seq.stats.fit.dropped,
		.gen_tokens = r->sent,
		.finish = finish,
		.prefill_ns = r->prefill_ns,
		.decode_ns = al_now_ns() - r->started_ns,
	};
	s->requests++;
	s->tokens += r->sent;
	rc = al_chan_send_done(s->ch, &d);
	req_release(s, r);
	return rc;
}

/* A sequence the engine finished: why it stopped becomes done's finish. */
static int seq_ended(struct al_ai_server *s, struct req *r)
{
	if (r->seq.rc == STOP_CHANNEL)
		return r->chan_rc;
	uint32_t finish = r->seq.rc == -ETIMEDOUT ? AL_FINISH_DEADLINE
			  : r->seq.stats.tokens >= r->max_tokens ? AL_FINISH_LENGTH
								 : AL_FINISH_STOP;
	return end_running(s, r, finish);
}

/* Starts r in slot: its prefill, and its first token. */
static int start(struct al_ai_server *s, struct req *r, int slot)
{
	s->waiting--;
	s->running++;
	r->state = REQ_RUNNING;
	r->slot = slot;
	s->slot_req[slot] = r;
	if (r->round > s->round)
		s->round = r->round;
	r->smp = s->smp;
	r->smp.temperature = r->temperature;
	r->smp.topp = r->top_p;
	r->smp.rng = r->seed ? r->seed : 1; /* xorshift needs a non-zero state */
	r->seq = (struct al_ai_seq){ .slot = slot, .smp = &r->smp, .fn = on_piece, .ctx = r,
				     .deadline_ns = r->deadline_ns, .max_tokens = r->max_tokens,
				     .truncate_left = r->truncate_left };
	uint64_t t0 = al_now_ns();
	int rc = al_ai_seq_begin(s->engine, &r->seq, r->prompt, 0);
	r->started_ns = al_now_ns();
	r->prefill_ns = r->started_ns - t0;
	free(r->prompt);
	r->prompt = NULL;
	if (rc < 0) {
		char why[128];
		if (rc == -E2BIG)
			al_ai_prompt_fit_message(&r->seq.stats.fit, why, sizeof why);
		else
			al_strlcpy(why, strerror(-rc), sizeof why);
		return req_fail(s, r, -rc, why);
	}
	return r->seq.done ? seq_ended(s, r) : 0;
}

/* The waiting request that goes next: the least round, then the earliest. */
static struct req *next_waiting(struct al_ai_server *s)
{
	struct req *best = NULL;
	for (unsigned i = 0; i < AL_CHAN_MAX_OUTSTANDING; i++) {
		struct req *q = &s->reqs[i];
		if (q->state == REQ_WAITING &&
		    (!best || q->round < best->round || (q->round == best->round && q->order < best->order)))
			best = q;
	}
	return best;
}

/* Free slots go to waiting requests, in turn. */
static int admit(struct al_ai_server *s)
{
	for (int slot = 0; slot < s->slots && s->waiting; slot++) {
		if (s->slot_req[slot])
			continue;
		int rc = start(s, next_waiting(s), slot);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Waiting requests past their deadline end with an error saying so. */
static int expire(struct al_ai_server *s)
{
	if (!s->waiting)
		return 0;
	uint64_t now = al_now_ns();
	for (unsigned i = 0; i < AL_CHAN_MAX_OUTSTANDING; i++) {
		struct req *r = &s->reqs[i];
		if (r->state != REQ_WAITING || !r->deadline_ns || now < r->deadline_ns)
			continue;
		char why[200];
		snprintf(why, sizeof why,
			 "the request's deadline passed after %.1f s waiting for one of the AI domain's %d slots "
			 "(%u requests held)",
			 (double)(now - r->arrived_ns) / 1e9, s->slots, s->held);
		int rc = req_fail(s, r, ETIMEDOUT, why);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* One token more for every running request, all in one forward step. */
static int step(struct al_ai_server *s)
{
	int n = 0;
	for (int slot = 0; slot < s->slots; slot++)
		if (s->slot_req[slot])
			s->step[n++] = &s->slot_req[slot]->seq;
	if (!n)
		return 0;
	al_ai_step(s->engine, s->step, n);
	for (int slot = 0; slot < s->slots; slot++) {
		struct req *r = s->slot_req[slot];
		int rc;
		if (r && r->seq.done && (rc = seq_ended(s, r)) < 0)
			return rc;
	}
	return 0;
}

static int cancel(struct al_ai_server *s, uint64_t id)
{
	struct req *r = req_find(s, id);
	if (!r)
		return 0; /* already finished: nothing to do */
	if (r->state == REQ_RUNNING)
		return end_running(s, r, AL_FINISH_CANCELLED); /* the slot is free for the next step */
	struct al_msg_done d = {.req_id = id, .finish = AL_FINISH_CANCELLED};
	req_release(s, r);
	return al_chan_send_done(s->ch, &d);
}

static int handle(struct al_ai_server *s, const struct al_msg *m)
{
	switch (m->type) {
	case AL_MSG_GEN_REQUEST:
		return enqueue(s, &m->u.gen);
	case AL_MSG_CANCEL:
		return cancel(s, m->u.cancel_id);
	case AL_MSG_PING:
		return al_chan_send_pong(s->ch, m->u.nonce);
	case AL_MSG_STATS: {
		struct al_msg_stats st = {.uptime_ns = al_now_ns() - s->started_ns, .requests = s->requests,
					  .tokens = s->tokens};
		return al_chan_send_stats(s->ch, &st);
	}
	default:
		return 0; /* the channel only delivers types this side may receive */
	}
}

/* Takes every message that arrived; waits for one only when there is no work. */
static int drain(struct al_ai_server *s)
{
	for (;;) {
		/* With work on hand, only what has arrived: al_chan_poll, unlike a
		 * receive that finds nothing, leaves the held tokens unpublished. */
		if (s->held && !al_chan_poll(s->ch))
			return 0;
		struct al_msg m;
		int rc = al_chan_recv(s->ch, &m, s->held ? 0 : -1);
		if (rc == -EAGAIN && s->held)
			return 0;
		if (rc == -EINTR || rc == -ETIMEDOUT || rc == -EAGAIN)
			continue;
		if (rc < 0 || (rc = handle(s, &m)) < 0)
			return rc;
		s->urgent = true; /* whatever it answered */
	}
}

/* The step's records go out if they must, or if the last publication is PUBLISH_NS old. */
static int publish(struct al_ai_server *s)
{
	uint64_t now = al_now_ns();
	if (!s->urgent && now - s->published_ns < PUBLISH_NS)
		return 0;
	s->urgent = false;
	s->published_ns = now;
	return al_chan_flush(s->ch);
}

int al_ai_serve(struct al_ai_server *s)
{
	for (;;) {
		int rc = drain(s);
		if (rc >= 0)
			rc = expire(s);
		if (rc >= 0)
			rc = admit(s);
		if (rc >= 0)
			rc = step(s);
		if (rc >= 0)
			rc = publish(s);
		if (rc < 0)
			return rc == -EPIPE ? 0 : rc;
	}
}
