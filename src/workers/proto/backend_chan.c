/*
 * The protocol domain's generation backend: the channel to the AI domain.
 *
 * HTTP threads call start/cancel and never wait: a generation that finds
 * every channel slot taken is queued here and sent by the receiver thread
 * when a slot frees. One receiver thread owns the receive side.
 * Every channel call except the receiver's al_chan_wait() is made under one
 * mutex (a struct al_chan is used by one thread at a time). Callbacks into
 * the MCP layer run without that mutex held, so the two layers' locks never
 * nest. Text handed to on_text points into the channel's private receive
 * buffer, which only this receiver thread overwrites, at its next receive.
 */
#include "workers/proto/proto.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "airlock/channel.h"
#include "common/log.h"
#include "common/util.h"

/* After a broken channel, without a handoff socket, the worker keeps
 * answering errors this long, then exits for a clean restart. */
#define DEAD_GRACE_US 500000
/* A generation that finds every channel slot taken (AL_CHAN_MAX_OUTSTANDING,
 * all queued in the AI domain) waits this long for one before it is refused
 * as busy. With [proto] concurrency at most that many, none ever waits. */
#define SLOT_WAIT_MS 30000
/* The receiver wakes at least this often to expire or cancel queued calls. */
#define RX_TICK_MS 200

/* A generation waiting for a channel slot. */
struct queued {
	struct al_msg_gen_request req;
	char *prompt;
	struct al_mcp_gen_cb cb;
	uint64_t until_ns;
	bool cancelled;
	struct queued *next;
};

struct chan_call {
	bool used;
	uint64_t id;
	struct al_mcp_gen_cb cb;
};

struct chan_backend {
	struct al_chan *ch;
	int chan_fd;      /* the channel's fd number, kept across handoffs */
	int report_fd;    /* -1: none */
	int handoff_fd;   /* -1: none (a broken channel ends the worker) */
	pthread_mutex_t lock;
	struct queued *q_head, *q_tail; /* FIFO of generations waiting for a slot */
	pthread_t rx;
	bool rx_started;
	uint64_t next_id;
	uint32_t max_tokens;
	struct chan_call calls[AL_CHAN_MAX_OUTSTANDING];
	bool have_hello;
	struct al_mcp_model_info info;
	const char *dead; /* why the AI domain is unreachable; NULL while it is */
	char dead_buf[160];
};

static struct chan_call *call_find(struct chan_backend *b, uint64_t id)
{
	for (size_t i = 0; i < AL_ARRAY_LEN(b->calls); i++)
		if (b->calls[i].used && b->calls[i].id == id)
			return &b->calls[i];
	return NULL;
}

static struct chan_call *free_slot_locked(struct chan_backend *b)
{
	for (size_t i = 0; i < AL_ARRAY_LEN(b->calls); i++)
		if (!b->calls[i].used)
			return &b->calls[i];
	return NULL;
}

/* Sends req into slot; NULL, or why it failed. Lock held. */
static const char *send_locked(struct chan_backend *b, struct chan_call *slot,
			       const struct al_msg_gen_request *req, const struct al_mcp_gen_cb *cb)
{
	int rc = al_chan_send_gen_request(b->ch, req);
	if (rc < 0)
		return rc == -EBUSY ? "the AI domain is busy" : "the AI domain is unreachable";
	*slot = (struct chan_call){.used = true, .id = req->req_id, .cb = *cb};
	return NULL;
}

static int chan_start(void *ctx, const struct al_mcp_gen_params *p, const struct al_mcp_gen_cb *cb,
		      uint64_t *handle)
{
	struct chan_backend *b = ctx;
	const char *fail = NULL;
	struct al_msg_gen_request req = {
		.seed = p->has_seed ? p->seed : al_now_ns(),
		.max_tokens = p->max_tokens ? p->max_tokens : 1,
		.temperature = (float)p->temperature,
		/* top_p 0 and 1 both mean the whole distribution, as in llama2.c. */
		.top_p = p->top_p > 0 && p->top_p <= 1 ? (float)p->top_p : 1.0f,
		.truncate = p->truncate_left ? AL_TRUNCATE_LEFT : AL_TRUNCATE_NONE,
		.client = p->client,
		.prompt = p->prompt,
		.prompt_len = strlen(p->prompt),
	};
	if (req.prompt_len > AL_MSG_MAX_PROMPT) {
		/* The channel would cut it; a prompt is never sent in part. */
		char why[96];
		snprintf(why, sizeof why, "the prompt is %zu bytes; the channel carries at most %u",
			 req.prompt_len, AL_MSG_MAX_PROMPT);
		*handle = 0;
		cb->on_done(cb->ud, AL_MCP_GEN_FAILED, why);
		return 0;
	}
	if (b->max_tokens && req.max_tokens > b->max_tokens)
		req.max_tokens = b->max_tokens;
	pthread_mutex_lock(&b->lock);
	req.req_id = ++b->next_id;
	struct chan_call *slot = b->q_head ? NULL : free_slot_locked(b);
	if (b->dead) {
		fail = b->dead;
	} else if (slot) {
		fail = send_locked(b, slot, &req, cb);
	} else {
		/* Every slot taken (the AI domain holds as many as it queues): queue it;
		 * the caller's transport bounds how many can wait (its request slots). */
		struct queued *w = calloc(1, sizeof(*w));
		char *pr = w ? strdup(p->prompt) : NULL;
		if (!pr) {
			free(w);
			fail = "out of memory";
		} else {
			w->req = req;
			w->req.prompt = pr;
			w->prompt = pr;
			w->cb = *cb;
			w->until_ns = al_now_ns() + SLOT_WAIT_MS * 1000000ull;
			if (b->q_tail)
				b->q_tail->next = w;
			else
				b->q_head = w;
			b->q_tail = w;
		}
	}
	if (!fail)
		*handle = req.req_id;
	pthread_mutex_unlock(&b->lock);
	if (fail) {
		*handle = 0;
		cb->on_done(cb->ud, AL_MCP_GEN_FAILED, fail);
	}
	return 0;
}

static void chan_cancel(void *ctx, uint64_t handle)
{
	struct chan_backend *b = ctx;
	pthread_mutex_lock(&b->lock);
	/* A finished call is not cancelled: its done may already be on the way.
	 * A queued one is marked; the receiver ends it (never on_done from here). */
	if (!b->dead && call_find(b, handle))
		(void)al_chan_send_cancel(b->ch, handle);
	for (struct queued *w = b->q_head; w; w = w->next)
		if (w->req.req_id == handle)
			w->cancelled = true;
	pthread_mutex_unlock(&b->lock);
}

/*
 * Receiver thread, lock held: sends queued generations into free slots, and
 * takes out the cancelled and the expired ones. Those are returned in *done
 * (a list) with their status, for on_done after the lock is dropped.
 */
static void pump_locked(struct chan_backend *b, struct queued **done)
{
	uint64_t now = al_now_ns();
	struct queued **pp = &b->q_head, *last = NULL;
	while (*pp) {
		struct queued *w = *pp;
		const char *fail = NULL;
		bool take = w->cancelled || b->dead || now >= w->until_ns;
		if (!take) {
			struct chan_call *slot = free_slot_locked(b);
			if (slot) {
				fail = send_locked(b, slot, &w->req, &w->cb);
				take = true;
				if (!fail) {
					*pp = w->next;
					free(w->prompt);
					free(w);
					continue;
				}
			}
		}
		if (!take) {
			last = w;
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		/* Reuse req.prompt for the reason: the prompt is no longer needed. */
		w->req.prompt = w->cancelled ? NULL : b->dead ? b->dead : fail ? fail :
			"the AI domain is busy: too many generations in flight";
		w->next = *done;
		*done = w;
	}
	b->q_tail = last;
}

static void finish_queued(struct queued *done)
{
	for (struct queued *w = done, *nx; w; w = nx) {
		nx = w->next;
		if (w->req.prompt)
			w->cb.on_done(w->cb.ud, AL_MCP_GEN_FAILED, w->req.prompt);
		else
			w->cb.on_done(w->cb.ud, AL_MCP_GEN_CANCELLED, NULL);
		free(w->prompt);
		free(w);
	}
}

static int chan_model_info(void *ctx, struct al_mcp_model_info *out)
{
	struct chan_backend *b = ctx;
	pthread_mutex_lock(&b->lock);
	int rc = b->dead ? -ENOTCONN : b->have_hello ? 0 : -EAGAIN;
	if (rc == 0)
		*out = b->info;
	pthread_mutex_unlock(&b->lock);
	return rc;
}

/* Fails every call in flight; called with the lock held, callbacks made after it is dropped. */
static void fail_all(struct chan_backend *b, int rc)
{
	struct al_mcp_gen_cb cbs[AL_CHAN_MAX_OUTSTANDING];
	size_t n = 0;
	snprintf(b->dead_buf, sizeof b->dead_buf, "the AI domain is unavailable (%s); it is being restarted",
		 rc == -EPIPE ? "channel closed" : al_chan_strerror(rc));
	b->dead = b->dead_buf;
	for (size_t i = 0; i < AL_ARRAY_LEN(b->calls); i++)
		if (b->calls[i].used) {
			cbs[n++] = b->calls[i].cb;
			b->calls[i].used = false;
		}
	struct queued *done = NULL;
	pump_locked(b, &done);
	pthread_mutex_unlock(&b->lock);
	for (size_t i = 0; i < n; i++)
		cbs[i].on_done(cbs[i].ud, AL_MCP_GEN_FAILED, b->dead);
	finish_queued(done);
	pthread_mutex_lock(&b->lock);
}

/* One channel fd from the handoff socket: the fd, or -1 (the supervisor is gone, or sent no fd). */
static int recv_channel(int sock)
{
	char byte;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
	ssize_t n;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)) ||
	    (mh.msg_flags & MSG_CTRUNC))
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

/*
 * Waits for the channel to the AI domain's next incarnation and attaches it
 * at the same fd number. Ends the worker when the supervisor is gone or the
 * new channel is unusable (reported as the peer's, as at the first attach).
 */
static void next_channel(struct chan_backend *b)
{
	int fd = recv_channel(b->handoff_fd);
	if (fd < 0)
		_exit(AL_WORKER_EXIT_OK); /* the supervisor is gone: nothing to serve with */
	if (fd != b->chan_fd && (dup3(fd, b->chan_fd, O_CLOEXEC) < 0 || close(fd) < 0))
		_exit(AL_WORKER_EXIT_FAIL);
	struct al_chan *nch = NULL;
	int rc = al_chan_attach(b->chan_fd, AL_CHAN_SIDE_PROTO, &nch);
	if (rc < 0) {
		al_log_warnx("proto: the next channel: %s", al_chan_strerror(rc));
		if (rc == -EPROTO && b->report_fd >= 0) {
			al_worker_report r = AL_WORKER_REPORT_ATTACH;
			(void)!write(b->report_fd, &r, sizeof r);
		}
		_exit(AL_WORKER_EXIT_PEER);
	}
	if (b->report_fd >= 0)
		al_chan_set_report_fd(nch, b->report_fd);
	pthread_mutex_lock(&b->lock);
	struct al_chan *old = b->ch;
	b->ch = nch;
	b->dead = NULL;
	b->have_hello = false;
	pthread_mutex_unlock(&b->lock);
	al_chan_close(old);
	al_log_info("proto: attached the AI domain's next channel");
}

static void *chan_rx(void *arg)
{
	struct chan_backend *b = arg;
	for (;;) {
		int rc = al_chan_wait(b->ch, RX_TICK_MS);
		if (rc == -ETIMEDOUT || rc == -EINTR) {
			struct queued *done = NULL;
			pthread_mutex_lock(&b->lock);
			pump_locked(b, &done);
			pthread_mutex_unlock(&b->lock);
			finish_queued(done);
			continue;
		}
		pthread_mutex_lock(&b->lock);
		struct al_msg m;
		if (rc == 0)
			rc = al_chan_recv(b->ch, &m, 0);
		if (rc == -EAGAIN) {
			pthread_mutex_unlock(&b->lock);
			continue;
		}
		if (rc < 0) {
			if (al_chan_is_violation(rc))
				al_log_warnx("proto: the AI domain broke the channel: %s", al_chan_strerror(rc));
			fail_all(b, rc);
			pthread_mutex_unlock(&b->lock);
			if (b->handoff_fd >= 0) {
				/* Connections and sessions stay; the next channel comes. */
				next_channel(b);
				continue;
			}
			/* Give the failed calls time to reach their clients, then end: the
			 * supervisor restarts both domains on a fresh channel. */
			usleep(DEAD_GRACE_US);
			_exit(rc == -EPIPE ? AL_WORKER_EXIT_OK : AL_WORKER_EXIT_PEER);
		}
		struct chan_call *c = NULL;
		struct al_mcp_gen_cb cb = {0};
		switch (m.type) {
		case AL_MSG_HELLO:
			b->have_hello = true;
			memset(&b->info, 0, sizeof b->info);
			/* The name is peer text: cut it on a character boundary, never inside one. */
			size_t nl = m.u.hello.name_len < sizeof b->info.name - 1 ? m.u.hello.name_len
										   : sizeof b->info.name - 1;
			nl = al_chan_utf8_complete(m.u.hello.name, nl);
			memcpy(b->info.name, m.u.hello.name, nl);
			b->info.name[nl] = '\0';
			b->info.vocab_size = m.u.hello.vocab_size;
			b->info.context_length = m.u.hello.context_length;
			b->info.max_prompt_tokens = m.u.hello.max_prompt_tokens;
			b->info.n_layers = m.u.hello.n_layers;
			b->info.dim = m.u.hello.dim;
			pthread_mutex_unlock(&b->lock);
			continue;
		case AL_MSG_PING:
			(void)al_chan_send_pong(b->ch, m.u.nonce);
			pthread_mutex_unlock(&b->lock);
			continue;
		case AL_MSG_TOKEN:
			c = call_find(b, m.u.token.req_id);
			if (c)
				cb = c->cb;
			pthread_mutex_unlock(&b->lock);
			if (c && m.u.token.text_len)
				cb.on_text(cb.ud, m.u.token.text, m.u.token.text_len);
			continue;
		case AL_MSG_DONE:
		case AL_MSG_ERROR: {
			bool done = m.type == AL_MSG_DONE;
			c = call_find(b, done ? m.u.done.req_id : m.u.error.req_id);
			struct queued *qd = NULL;
			if (c) {
				cb = c->cb;
				c->used = false;
				pump_locked(b, &qd); /* the slot goes to the next one waiting */
			}
			pthread_mutex_unlock(&b->lock);
			finish_queued(qd);
			if (!c)
				continue;
			if (!done) {
				cb.on_done(cb.ud, m.u.error.code == E2BIG ? AL_MCP_GEN_TOO_LONG : AL_MCP_GEN_FAILED,
					   m.u.error.text);
				continue;
			}
			if (cb.on_usage) {
				struct al_mcp_gen_usage u = {.prompt_tokens = m.u.done.prompt_tokens,
							     .prompt_dropped = m.u.done.prompt_dropped,
							     .gen_tokens = m.u.done.gen_tokens};
				cb.on_usage(cb.ud, &u);
			}
			if (m.u.done.finish == AL_FINISH_DEADLINE) {
				char why[128];
				snprintf(why, sizeof why, "the generation's deadline passed after %u tokens",
					 m.u.done.gen_tokens);
				cb.on_done(cb.ud, AL_MCP_GEN_FAILED, why);
			} else {
				cb.on_done(cb.ud, m.u.done.finish == AL_FINISH_CANCELLED ? AL_MCP_GEN_CANCELLED
											  : AL_MCP_GEN_DONE, NULL);
			}
			continue;
		}
		default:
			pthread_mutex_unlock(&b->lock);
			continue;
		}
	}
	return NULL;
}

int al_proto_backend_chan_new(int fd, uint32_t max_tokens, struct al_mcp_backend *out)
{
	struct chan_backend *b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	int rc = al_chan_attach(fd, AL_CHAN_SIDE_PROTO, &b->ch);
	if (rc < 0) {
		al_log_warnx("proto: channel on fd %d: %s", fd, al_chan_strerror(rc));
		free(b);
		return rc;
	}
	pthread_mutex_init(&b->lock, NULL);
	b->max_tokens = max_tokens;
	b->chan_fd = fd;
	b->report_fd = b->handoff_fd = -1;
	*out = (struct al_mcp_backend){.ctx = b, .start = chan_start, .cancel = chan_cancel,
				       .model_info = chan_model_info};
	return 0;
}

void al_proto_backend_chan_report_to(struct al_mcp_backend *be, int fd)
{
	struct chan_backend *b = be->ctx;
	b->report_fd = fd;
	al_chan_set_report_fd(b->ch, fd);
}

void al_proto_backend_chan_handoff(struct al_mcp_backend *be, int fd)
{
	struct chan_backend *b = be->ctx;
	b->handoff_fd = fd;
}

int al_proto_backend_chan_run(struct al_mcp_backend *be)
{
	struct chan_backend *b = be->ctx;
	int rc = pthread_create(&b->rx, NULL, chan_rx, b);
	if (rc)
		return -rc;
	b->rx_started = true;
	return 0;
}
