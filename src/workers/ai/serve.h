/*
 * The AI worker's service loop over the channel: a scheduler in front of the
 * engine's slots.
 *
 * Requests wait in a bounded queue; when a slot is free the next one is
 * chosen round robin over the clients that have requests waiting (the
 * client key each request carries), so a client with many requests cannot
 * hold back one with a single request. Every running request advances one
 * token per step, all of them in one forward pass (continuous batching); a
 * request joins between two steps, after its prompt's prefill. A full queue
 * is answered at once with an error, a request past its deadline (waiting
 * plus generating) ends with an error or a deadline finish, and a cancel
 * frees the request's slot before the next step. Each request's text goes
 * back as token chunks cut on UTF-8 boundaries, then done or error.
 */
#ifndef AL_AI_SERVE_H
#define AL_AI_SERVE_H

#include "airlock/channel.h"
#include "workers/ai/generate.h"

/* A request's deadline when the engine sets none (e->max_ns), from its arrival. */
#define AL_AI_DEADLINE_NS (120ull * 1000000000ull)

struct al_ai_server;

/* Allocates everything the loop needs (queue, samplers) before the
 * lockdown. The engine's slots (e->state.slots) generate together; the
 * queue holds AL_CHAN_MAX_OUTSTANDING requests, each with e->max_ns (or
 * AL_AI_DEADLINE_NS) to finish. */
int al_ai_server_new(struct al_ai_engine *e, struct al_chan *ch, struct al_ai_server **out);
void al_ai_server_free(struct al_ai_server *s);

/* Changes the bounds: requests held at once, waiting or running (1 ..
 * AL_CHAN_MAX_OUTSTANDING; more are refused at once), and each request's
 * deadline from its arrival (0: none). Before al_ai_serve(). */
void al_ai_server_set_limits(struct al_ai_server *s, unsigned queue, uint64_t deadline_ns);

/*
 * Serves until the channel closes (returns 0) or breaks (the negative
 * channel error: the peer broke the protocol and the worker must end).
 */
int al_ai_serve(struct al_ai_server *s);

#endif
