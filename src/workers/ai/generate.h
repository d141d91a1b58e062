/*
 * AI engine, step 5: generation. Encodes the prompt, runs its positions
 * together (prefill), then the forward pass position by position on sampled
 * tokens, and hands each decoded piece to a callback as soon as it exists.
 */
#ifndef AL_AI_GENERATE_H
#define AL_AI_GENERATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/ai/forward.h"
#include "workers/ai/model.h"
#include "workers/ai/sampler.h"
#include "workers/ai/tokenizer.h"

/* Everything one generation needs; built once, reused across requests. */
struct al_ai_engine {
	struct al_ai_model *model;
	struct al_ai_tokenizer *tok;
	struct al_ai_state state;
	int *tokens; /* (seq_len + 3) prompt buffer */
	struct al_ai_pool *pool; /* owned; NULL with one thread */
	uint64_t max_ns;   /* per-request time limit, checked between tokens; 0 = none */
};

struct al_ai_gen_stats {
	uint32_t prompt_tokens;
	uint32_t tokens;     /* generated (sampled) tokens */
	uint64_t elapsed_ns;
};

/* Receives each printable piece (len > 0). Returning non-zero stops the
 * generation between two tokens (cancel), and al_ai_generate returns it. */
typedef int (*al_ai_piece_fn)(void *ctx, const char *piece, size_t len, int token);

/* The tokenizer must have been built for model->cfg.vocab_size. */
int al_ai_engine_build(struct al_ai_engine *e, struct al_ai_model *model, struct al_ai_tokenizer *tok);
void al_ai_engine_free(struct al_ai_engine *e);

/* Splits the matrix products over n threads (1 = none), started now: call it
 * during setup, before the lockdown. Output does not depend on n. */
int al_ai_engine_set_threads(struct al_ai_engine *e, int n);

/* Runs steps positions (0 or more than seq_len means seq_len) from prompt
 * (NUL-terminated, may be empty). Stops early at BOS, like llama2.c.
 * 0, -EINVAL (prompt longer than the context), -ETIMEDOUT (e->max_ns spent;
 * the pieces so far were delivered), or the callback's value. */
int al_ai_generate(struct al_ai_engine *e, struct al_ai_sampler *smp, const char *prompt, int steps,
		   al_ai_piece_fn fn, void *ctx, struct al_ai_gen_stats *stats);

/* Whether a piece is worth printing: single raw bytes that are control
 * characters are dropped (they could drive a terminal). */
bool al_ai_piece_printable(const char *piece, size_t len);

#endif
