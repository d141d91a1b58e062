/*
 * The public message API: encodes straight into the ring on send, and on
 * receive checks each validated message against the conversation so far
 * (responses only for outstanding requests, request ids never reused, token
 * counts within what was asked). Local misuse returns -EINVAL and leaves the
 * channel usable; anything wrong that came from the peer breaks it.
 */
#include <errno.h>
#include <string.h>

#include "channel/channel_int.h"
#include "common/util.h"

/* A request's entry is looked for from index id % AL_CHAN_MAX_OUTSTANDING
 * on, where it is put when that entry is free: with ids given in order,
 * almost every lookup ends at its first probe. */
static struct al_req_slot *req_find(struct al_chan *ch, uint64_t id)
{
	size_t h = (size_t)(id % AL_CHAN_MAX_OUTSTANDING);
	for (size_t k = 0; k < AL_CHAN_MAX_OUTSTANDING; k++) {
		struct al_req_slot *s = &ch->req[(h + k) % AL_CHAN_MAX_OUTSTANDING];
		if (s->used && s->id == id)
			return s;
	}
	return NULL;
}

static struct al_req_slot *req_free_slot(struct al_chan *ch, uint64_t id)
{
	size_t h = (size_t)(id % AL_CHAN_MAX_OUTSTANDING);
	for (size_t k = 0; k < AL_CHAN_MAX_OUTSTANDING; k++) {
		struct al_req_slot *s = &ch->req[(h + k) % AL_CHAN_MAX_OUTSTANDING];
		if (!s->used)
			return s;
	}
	return NULL;
}

static void req_add(struct al_req_slot *s, const struct al_msg_gen_request *g)
{
	*s = (struct al_req_slot){ .id = g->req_id, .max_tokens = g->max_tokens,
				   .truncate = g->truncate == AL_TRUNCATE_LEFT, .used = true };
}

/* Reserve, encode in place, commit: the payload is written once, into the ring. */
static int send_msg(struct al_chan *ch, const struct al_msg *m)
{
	const struct al_msg_desc *d = al_msg_desc(m->type);
	if (!d || !(d->senders & (1u << ch->side)))
		return -EINVAL;
	size_t max = al_msg_encoded_max(m);
	if (max > UINT32_MAX)
		return -EMSGSIZE;
	void *p;
	int rc = al_ring_reserve(ch, m->type, (uint32_t)max, &p);
	if (rc < 0)
		return rc;
	size_t n = al_msg_encode(m, p, max);
	return al_ring_commit(ch, (uint32_t)n);
}

int al_chan_send_gen_request(struct al_chan *ch, const struct al_msg_gen_request *req)
{
	struct al_msg m = { .type = AL_MSG_GEN_REQUEST, .u.gen = *req };
	if (req->req_id == 0 || req->req_id <= ch->last_req_id || (!req->prompt && req->prompt_len))
		return -EINVAL;
	struct al_req_slot *s = req_free_slot(ch, req->req_id);
	if (!s)
		return -EBUSY;
	al_msg_desc(AL_MSG_GEN_REQUEST)->sanitise(&m);
	int rc = send_msg(ch, &m);
	if (rc < 0)
		return rc;
	ch->last_req_id = req->req_id;
	req_add(s, &m.u.gen);
	return 0;
}

int al_chan_send_token(struct al_chan *ch, uint64_t req_id, uint32_t n_tokens,
		       const char *text, size_t text_len)
{
	struct al_req_slot *s = req_find(ch, req_id);
	if (!s || n_tokens == 0 || n_tokens > s->max_tokens - s->tokens || (!text && text_len))
		return -EINVAL;
	struct al_msg m = { .type = AL_MSG_TOKEN,
			    .u.token = { .req_id = req_id, .n_tokens = n_tokens,
					 .text = text, .text_len = text_len } };
	int rc = send_msg(ch, &m);
	if (rc == 0)
		s->tokens += n_tokens;
	return rc;
}

int al_chan_send_done(struct al_chan *ch, const struct al_msg_done *done)
{
	struct al_req_slot *s = req_find(ch, done->req_id);
	if (!s || done->gen_tokens != s->tokens || (done->prompt_dropped && !s->truncate))
		return -EINVAL;
	struct al_msg m = { .type = AL_MSG_DONE, .u.done = *done };
	int rc = send_msg(ch, &m);
	if (rc == 0)
		s->used = false;
	return rc;
}

int al_chan_send_error(struct al_chan *ch, uint64_t req_id, uint32_t code, const char *text)
{
	struct al_req_slot *s = NULL;
	if (req_id && !(s = req_find(ch, req_id)))
		return -EINVAL;
	struct al_msg m = { .type = AL_MSG_ERROR,
			    .u.error = { .req_id = req_id, .code = code, .text = text,
					 .text_len = text ? strlen(text) : 0 } };
	int rc = send_msg(ch, &m);
	if (rc == 0 && s)
		s->used = false;
	return rc;
}

int al_chan_send_cancel(struct al_chan *ch, uint64_t req_id)
{
	if (req_id == 0 || req_id > ch->last_req_id)
		return -EINVAL;
	struct al_msg m = { .type = AL_MSG_CANCEL, .u.cancel_id = req_id };
	return send_msg(ch, &m);
}

int al_chan_send_ping(struct al_chan *ch, uint64_t nonce)
{
	if (nonce == 0)
		return -EINVAL;
	struct al_msg m = { .type = AL_MSG_PING, .u.nonce = nonce };
	int rc = send_msg(ch, &m);
	if (rc == 0)
		ch->ping_out = nonce;
	return rc;
}

int al_chan_send_pong(struct al_chan *ch, uint64_t nonce)
{
	if (nonce == 0 || nonce != ch->ping_in)
		return -EINVAL;
	struct al_msg m = { .type = AL_MSG_PONG, .u.nonce = nonce };
	int rc = send_msg(ch, &m);
	if (rc == 0)
		ch->ping_in = 0;
	return rc;
}

int al_chan_send_stats(struct al_chan *ch, const struct al_msg_stats *stats)
{
	struct al_msg m = { .type = AL_MSG_STATS, .u.stats = *stats };
	return send_msg(ch, &m);
}

int al_chan_send_hello(struct al_chan *ch, const struct al_msg_hello *hello)
{
	if (ch->hello_done || ch->side != AL_CHAN_SIDE_AI)
		return -EINVAL;
	struct al_msg m = { .type = AL_MSG_HELLO, .u.hello = *hello };
	int rc = send_msg(ch, &m);
	if (rc == 0)
		ch->hello_done = true;
	return rc;
}

/* Checks a validated message against the conversation and updates it. */
static int track(struct al_chan *ch, const struct al_msg *m)
{
	struct al_req_slot *s;
	switch (m->type) {
	case AL_MSG_GEN_REQUEST:
		if (m->u.gen.req_id <= ch->last_req_id)
			return al_chan_violation(ch, AL_CHAN_E_REQID, "request id reused");
		if (!(s = req_free_slot(ch, m->u.gen.req_id)))
			return al_chan_violation(ch, AL_CHAN_E_LIMIT, "too many requests in flight");
		ch->last_req_id = m->u.gen.req_id;
		req_add(s, &m->u.gen);
		return 0;
	case AL_MSG_CANCEL:
		/* A cancel may cross the request's done/error on the way, so an id
		 * that is no longer outstanding is fine; one never issued is not. */
		if (m->u.cancel_id > ch->last_req_id)
			return al_chan_violation(ch, AL_CHAN_E_REQID, "cancel of a request never made");
		return 0;
	case AL_MSG_TOKEN:
		if (!(s = req_find(ch, m->u.token.req_id)))
			return al_chan_violation(ch, AL_CHAN_E_REQID, "token for no outstanding request");
		if (m->u.token.n_tokens > s->max_tokens - s->tokens)
			return al_chan_violation(ch, AL_CHAN_E_LIMIT, "more tokens than max_tokens");
		s->tokens += m->u.token.n_tokens;
		return 0;
	case AL_MSG_DONE:
		if (!(s = req_find(ch, m->u.done.req_id)))
			return al_chan_violation(ch, AL_CHAN_E_REQID, "done for no outstanding request");
		if (m->u.done.gen_tokens != s->tokens)
			return al_chan_violation(ch, AL_CHAN_E_RANGE, "gen_tokens differs from tokens sent");
		if (m->u.done.prompt_dropped && !s->truncate)
			return al_chan_violation(ch, AL_CHAN_E_RANGE, "prompt tokens dropped unasked");
		s->used = false;
		return 0;
	case AL_MSG_ERROR:
		if (m->u.error.req_id == 0)
			return 0;
		if (!(s = req_find(ch, m->u.error.req_id)))
			return al_chan_violation(ch, AL_CHAN_E_REQID, "error for no outstanding request");
		s->used = false;
		return 0;
	case AL_MSG_PING:
		ch->ping_in = m->u.nonce;
		return 0;
	case AL_MSG_PONG:
		if (m->u.nonce != ch->ping_out)
			return al_chan_violation(ch, AL_CHAN_E_REQID, "pong without our ping");
		ch->ping_out = 0;
		return 0;
	case AL_MSG_STATS:
		return 0;
	case AL_MSG_HELLO:
		if (ch->hello_done)
			return al_chan_violation(ch, AL_CHAN_E_REQID, "a second hello");
		ch->hello_done = true;
		return 0;
	default:
		return al_chan_violation(ch, AL_CHAN_E_TYPE, "type");
	}
}

int al_chan_wait(struct al_chan *ch, int timeout_ms)
{
	int rc = al_ring_wait_data_shared(ch, timeout_ms);
	if (rc == -EPIPE)
		return 0; /* closed: the next al_chan_recv() says so (after what was committed) */
	return rc;
}

bool al_chan_poll(struct al_chan *ch)
{
	return al_ring_readable(ch) || al_chan_state(ch) != 0;
}

int al_chan_recv(struct al_chan *ch, struct al_msg *out, int timeout_ms)
{
	uint64_t deadline = 0;
	struct al_chan_rec_hdr h;
	for (;;) {
		int rc = al_ring_read(ch, &h);
		if (rc == 0)
			break;
		if (rc != -EAGAIN)
			return rc;
		/* Nothing to read: whatever we hold back may be what the peer waits for. */
		al_ring_flush(ch);
		if (timeout_ms == 0)
			return al_chan_state(ch) ? -EPIPE : -EAGAIN;
		rc = al_ring_wait_data(ch, timeout_ms, &deadline);
		if (rc == -EPIPE) {
			/* Closed: deliver what was committed before the close. */
			rc = al_ring_read(ch, &h);
			if (rc == 0)
				break;
			return rc == -EAGAIN ? -EPIPE : rc;
		}
		if (rc < 0)
			return rc;
	}
	const char *what = NULL;
	int rc = al_msg_decode(h.type, ch->peer, ch->rxbuf, h.len, out, &what);
	if (rc < 0)
		return al_chan_violation(ch, -rc, what);
	out->seq = h.seq;
	return track(ch, out);
}
