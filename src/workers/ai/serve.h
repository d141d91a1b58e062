/*
 * The AI worker's service loop over the channel: receives generation
 * requests, runs them one at a time in arrival order, streams the text back
 * as token chunks, ends each with done or error. Cancel and ping are answered
 * between two tokens.
 */
#ifndef AL_AI_SERVE_H
#define AL_AI_SERVE_H

#include "airlock/channel.h"
#include "workers/ai/generate.h"

struct al_ai_server;

/* Allocates everything the loop needs (queue, sampler) before the lockdown. */
int al_ai_server_new(struct al_ai_engine *e, struct al_chan *ch, struct al_ai_server **out);
void al_ai_server_free(struct al_ai_server *s);

/*
 * Serves until the channel closes (returns 0) or breaks (the negative
 * channel error: the peer broke the protocol and the worker must end).
 */
int al_ai_serve(struct al_ai_server *s);

#endif
