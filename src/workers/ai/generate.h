/*
 * AI engine, step 5: generation. Encodes the prompt, runs its positions
 * together (prefill), then the forward pass position by position on sampled
 * tokens, and hands each decoded piece to a callback as soon as it exists.
 *
 * One generation: al_ai_generate(). Several at once (continuous batching):
 * each is a struct al_ai_seq in its own cache slot, started with
 * al_ai_seq_begin() (its prefill) whenever a slot is free, and al_ai_step()
 * advances every running one by a token in one forward step. Each sequence
 * gets the text it would get alone.
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
	struct al_ai_state state; /* state.slots sequences at once */
	int *tokens; /* (seq_len + 3) prompt buffer */
	struct al_ai_pool *pool; /* owned; NULL with one thread */
	uint64_t max_ns;   /* per-request time limit, checked between tokens; 0 = none */
	bool truncate_left; /* per request: a prompt over the limit loses its oldest tokens */
};

/*
 * How a prompt met the context (al_ai_prompt_fit). Prompt tokens are the
 * tokens of the prompt's text; BOS, which every sequence starts with, is not
 * counted.
 */
struct al_ai_prompt_fit {
	uint32_t text_tokens; /* the prompt's tokens as encoded */
	uint32_t max_tokens;  /* the most this model takes (al_ai_max_prompt_tokens) */
	uint32_t dropped;     /* the oldest ones dropped by left truncation */
};

struct al_ai_gen_stats {
	uint32_t prompt_tokens; /* positions the prompt took, BOS included */
	struct al_ai_prompt_fit fit;
	uint32_t tokens;     /* generated (sampled) tokens */
	uint64_t elapsed_ns;
};

/* Receives each printable piece (len > 0). Returning non-zero stops the
 * generation between two tokens (cancel), and al_ai_generate returns it. */
typedef int (*al_ai_piece_fn)(void *ctx, const char *piece, size_t len, int token);

/* The tokenizer must have been built for model->cfg.vocab_size. One slot. */
int al_ai_engine_build(struct al_ai_engine *e, struct al_ai_model *model, struct al_ai_tokenizer *tok);
/* The same with slots cache slots (1 .. AL_AI_MAX_SLOTS): that many sequences
 * generate together. -EINVAL also when their state exceeds AL_AI_MAX_STATE. */
int al_ai_engine_build_slots(struct al_ai_engine *e, struct al_ai_model *model, struct al_ai_tokenizer *tok,
			     int slots);
void al_ai_engine_free(struct al_ai_engine *e);

/* Splits the matrix products over n threads (1 = none), started now: call it
 * during setup, before the lockdown. Output does not depend on n. */
int al_ai_engine_set_threads(struct al_ai_engine *e, int n);

/* Runs steps positions (0 or more than seq_len means seq_len) from prompt
 * (NUL-terminated, may be empty), fitted by al_ai_prompt_fit() with
 * e->truncate_left. Stops early at BOS, like llama2.c. 0, -E2BIG (the
 * prompt does not fit: stats->fit says by how much), -ENOMEM, -ETIMEDOUT
 * (e->max_ns spent; the pieces so far were delivered), or the callback's
 * value. */
int al_ai_generate(struct al_ai_engine *e, struct al_ai_sampler *smp, const char *prompt, int steps,
		   al_ai_piece_fn fn, void *ctx, struct al_ai_gen_stats *stats);

/*
 * The most prompt tokens a model takes: its context less the position BOS
 * takes. A prompt of that many still gets one generated token, sampled from
 * the logits of its last position.
 */
uint32_t al_ai_max_prompt_tokens(const struct al_ai_config *c);

/*
 * Encodes prompt (BOS first) into tokens, which has room for seq_len + 3,
 * and fits it into the context: a prompt over al_ai_max_prompt_tokens() is
 * refused (-E2BIG), or with truncate_left loses its oldest tokens (BOS
 * stays first). *fit says what happened either way. 0, -E2BIG or -ENOMEM.
 */
int al_ai_prompt_fit(struct al_ai_engine *e, const char *prompt, bool truncate_left, int *tokens,
		     size_t *n_tokens, struct al_ai_prompt_fit *fit);

/* The refusal, naming both figures: "the prompt is 598 tokens; this model
 * takes at most 511 prompt tokens". */
void al_ai_prompt_fit_message(const struct al_ai_prompt_fit *fit, char *buf, size_t len);

/*
 * One generation among several. The caller sets slot (0 <= slot <
 * e->state.slots, one running sequence per slot), smp (its own random
 * stream; the probability scratch may be shared), fn, ctx and deadline_ns;
 * the engine keeps the rest.
 */
struct al_ai_seq {
	int slot;
	struct al_ai_sampler *smp;
	al_ai_piece_fn fn;
	void *ctx;
	uint64_t deadline_ns;  /* al_now_ns() value past which it stops (-ETIMEDOUT); 0: none */
	uint32_t max_tokens;   /* stops (rc 0) once it generated that many; 0: no limit but steps */
	bool truncate_left;    /* a prompt over the limit loses its oldest tokens (al_ai_prompt_fit) */
	struct al_ai_gen_stats stats;
	bool done;             /* finished: rc says how */
	int rc;                /* 0 (steps or BOS reached), -ETIMEDOUT, or the callback's value */
	/* The engine's: */
	int steps, pos, token; /* token runs at pos next */
	uint64_t t0;
};

/*
 * Starts q: encodes prompt, runs it in q's slot (prefill), delivers the
 * prompt's pieces and the first generated one, as al_ai_generate() does.
 * 0 (q->done tells whether it already finished), or -E2BIG (the prompt
 * does not fit the context: q->stats.fit says by how much), -ENOMEM and
 * the like: then it never started.
 */
int al_ai_seq_begin(struct al_ai_engine *e, struct al_ai_seq *q, const char *prompt, int steps);

/* One token more for each of seqs[0..n) (1 <= n <= e->state.slots; begun,
 * not done, distinct slots), in one forward step of all of them; each
 * piece goes to its sequence's callback. */
void al_ai_step(struct al_ai_engine *e, struct al_ai_seq *const *seqs, int n);

/* Whether a piece is worth printing: single raw bytes that are control
 * characters are dropped (they could drive a terminal). */
bool al_ai_piece_printable(const char *piece, size_t len);

#endif
