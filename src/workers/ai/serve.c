#include "workers/ai/serve.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

/* A request waiting its turn; its prompt copied out of the channel's buffer. */
struct pending_req {
	struct al_msg_gen_request req;
	char prompt[AL_MSG_MAX_PROMPT + 1];
};

/* The request being generated, as the piece callback sees it. */
struct active_req {
	struct al_ai_server *srv;
	const struct al_msg_gen_request *req;
	struct al_ai_gen_stats *stats;
	uint32_t seen;          /* stats->tokens at the last callback */
	uint32_t sent;          /* tokens accounted in chunks so far */
	uint32_t held_tokens;   /* tokens whose bytes wait for a complete UTF-8 sequence */
	size_t held_len;
	char held[64];
	bool cancelled;
	int chan_rc;            /* a channel failure seen in the callback */
};

struct al_ai_server {
	struct al_ai_engine *engine;
	struct al_chan *ch;
	struct al_ai_sampler smp;
	struct pending_req *queue; /* ring of AL_CHAN_MAX_OUTSTANDING */
	unsigned head, count;
	uint64_t requests, tokens;
	uint64_t started_ns;
};

/* Generation stops between tokens with these callback values. */
enum { STOP_CANCELLED = 1, STOP_LENGTH = 2, STOP_CHANNEL = 3 };

int al_ai_server_new(struct al_ai_engine *e, struct al_chan *ch, struct al_ai_server **out)
{
	struct al_ai_server *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->engine = e;
	s->ch = ch;
	s->queue = calloc(AL_CHAN_MAX_OUTSTANDING, sizeof *s->queue);
	int rc = s->queue ? al_ai_sampler_build(&s->smp, e->model->cfg.vocab_size, 0.0f, 0.9f, 1) : -ENOMEM;
	if (rc < 0) {
		free(s->queue);
		free(s);
		return rc;
	}
	s->started_ns = al_now_ns();
	*out = s;
	return 0;
}

void al_ai_server_free(struct al_ai_server *s)
{
	if (!s)
		return;
	al_ai_sampler_free(&s->smp);
	free(s->queue);
	free(s);
}

static int enqueue(struct al_ai_server *s, const struct al_msg_gen_request *r)
{
	if (s->count == AL_CHAN_MAX_OUTSTANDING)
		return al_chan_send_error(s->ch, r->req_id, EBUSY, "too many requests queued");
	struct pending_req *p = &s->queue[(s->head + s->count) % AL_CHAN_MAX_OUTSTANDING];
	p->req = *r;
	memcpy(p->prompt, r->prompt, r->prompt_len);
	p->prompt[r->prompt_len] = '\0';
	p->req.prompt = p->prompt;
	s->count++;
	return 0;
}

/* A queued request that is cancelled before it starts ends with an empty done. */
static int cancel_queued(struct al_ai_server *s, uint64_t id)
{
	for (unsigned i = 0; i < s->count; i++) {
		struct pending_req *p = &s->queue[(s->head + i) % AL_CHAN_MAX_OUTSTANDING];
		if (p->req.req_id != id)
			continue;
		struct al_msg_done d = {.req_id = id, .finish = AL_FINISH_CANCELLED};
		/* Close the gap: later entries move one place forward. Each entry's
		 * prompt pointer must follow it to its new slot. */
		for (unsigned k = i; k + 1 < s->count; k++) {
			struct pending_req *dst = &s->queue[(s->head + k) % AL_CHAN_MAX_OUTSTANDING];
			*dst = s->queue[(s->head + k + 1) % AL_CHAN_MAX_OUTSTANDING];
			dst->req.prompt = dst->prompt;
		}
		s->count--;
		return al_chan_send_done(s->ch, &d);
	}
	return 0; /* already finished: nothing to do */
}

/* Handles one message that is not part of the running generation. */
static int handle(struct al_ai_server *s, const struct al_msg *m, struct active_req *a)
{
	switch (m->type) {
	case AL_MSG_GEN_REQUEST:
		return enqueue(s, &m->u.gen);
	case AL_MSG_CANCEL:
		if (a && a->req->req_id == m->u.cancel_id) {
			a->cancelled = true;
			return 0;
		}
		return cancel_queued(s, m->u.cancel_id);
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

static int flush_held(struct active_req *a, bool all)
{
	size_t n = all ? a->held_len : al_chan_utf8_complete(a->held, a->held_len);
	if (n == 0 && !(all && a->held_tokens))
		return 0;
	int rc = al_chan_send_token(a->srv->ch, a->req->req_id, a->held_tokens, a->held, n);
	if (rc < 0)
		return rc;
	a->sent += a->held_tokens;
	a->held_tokens = 0;
	memmove(a->held, a->held + n, a->held_len - n);
	a->held_len -= n;
	return 0;
}

/* Called by the engine for each printable piece: forward sampled text, watch for cancel. */
static int on_piece(void *ctx, const char *piece, size_t len, int token)
{
	struct active_req *a = ctx;
	(void)token;
	uint32_t now = a->stats->tokens;
	if (now == a->seen)
		return 0; /* a forced prompt token: the client sent it, it is not sent back */
	a->held_tokens += now - a->seen;
	a->seen = now;
	/* A piece is at most a few bytes (the tokenizer bounds it); keep what is incomplete. */
	if (a->held_len + len > sizeof a->held) {
		if ((a->chan_rc = flush_held(a, true)) < 0)
			return STOP_CHANNEL;
		if (len > sizeof a->held)
			len = sizeof a->held;
	}
	memcpy(a->held + a->held_len, piece, len);
	a->held_len += len;
	if ((a->chan_rc = flush_held(a, false)) < 0)
		return STOP_CHANNEL;
	/* Between two tokens: take whatever arrived (cancel, ping, new requests). */
	struct al_msg m;
	int rc;
	while ((rc = al_chan_recv(a->srv->ch, &m, 0)) == 0)
		if ((rc = handle(a->srv, &m, a)) < 0)
			break;
	if (rc < 0 && rc != -EAGAIN) {
		a->chan_rc = rc;
		return STOP_CHANNEL;
	}
	if (a->cancelled)
		return STOP_CANCELLED;
	if (a->sent + a->held_tokens >= a->req->max_tokens)
		return STOP_LENGTH;
	return 0;
}

static int run_one(struct al_ai_server *s, const struct al_msg_gen_request *r)
{
	s->smp.temperature = r->temperature;
	s->smp.topp = r->top_p;
	s->smp.rng = r->seed ? r->seed : 1; /* xorshift needs a non-zero state */
	struct al_ai_gen_stats st;
	struct active_req a = {.srv = s, .req = r, .stats = &st};
	uint64_t t0 = al_now_ns();
	s->engine->truncate_left = r->truncate == AL_TRUNCATE_LEFT;
	int rc = al_ai_generate(s->engine, &s->smp, r->prompt, 0, on_piece, &a, &st);
	s->requests++;
	if (rc == STOP_CHANNEL)
		return a.chan_rc;
	if (rc < 0 && rc != -ETIMEDOUT) {
		char why[128];
		if (rc == -E2BIG)
			al_ai_prompt_fit_message(&st.fit, why, sizeof why);
		else
			al_strlcpy(why, strerror(-rc), sizeof why);
		return al_chan_send_error(s->ch, r->req_id, (uint32_t)-rc, why);
	}
	int frc = flush_held(&a, true);
	if (frc < 0)
		return frc;
	s->tokens += a.sent;
	struct al_msg_done d = {
		.req_id = r->req_id,
		.prompt_tokens = st.fit.text_tokens - st.fit.dropped,
		.prompt_dropped = st.fit.dropped,
		.gen_tokens = a.sent,
		.finish = rc == STOP_CANCELLED ? AL_FINISH_CANCELLED : rc == STOP_LENGTH ? AL_FINISH_LENGTH
			  : rc == -ETIMEDOUT ? AL_FINISH_LENGTH : AL_FINISH_STOP,
		.prefill_ns = 0,
		.decode_ns = al_now_ns() - t0,
	};
	return al_chan_send_done(s->ch, &d);
}

int al_ai_serve(struct al_ai_server *s)
{
	for (;;) {
		while (s->count) {
			struct pending_req *p = &s->queue[s->head];
			/* run_one may enqueue more; this entry stays put until it is done. */
			int rc = run_one(s, &p->req);
			s->head = (s->head + 1) % AL_CHAN_MAX_OUTSTANDING;
			s->count--;
			if (rc < 0)
				return rc == -EPIPE ? 0 : rc;
		}
		struct al_msg m;
		int rc = al_chan_recv(s->ch, &m, -1);
		if (rc == -EPIPE)
			return 0;
		if (rc == -EINTR || rc == -ETIMEDOUT || rc == -EAGAIN)
			continue;
		if (rc < 0)
			return rc;
		if ((rc = handle(s, &m, NULL)) < 0)
			return rc == -EPIPE ? 0 : rc;
	}
}
