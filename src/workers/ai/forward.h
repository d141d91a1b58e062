/*
 * AI engine, step 4: the forward pass. One token at one position in, logits
 * out, with the key/value cache in the state; or a prompt's tokens together
 * (al_ai_prefill), with the same bits.
 *
 *   struct al_ai_state s;
 *   al_ai_state_build(&s, &model.cfg);
 *   float *logits = al_ai_forward(&model, &s, token, pos);   (pos < seq_len)
 *   al_ai_state_free(&s);
 */
#ifndef AL_AI_FORWARD_H
#define AL_AI_FORWARD_H

#include <stdint.h>

#include "workers/ai/model.h"
#include "workers/ai/pool.h"

/* Default parallel_min: below ~64k multiply-adds (a few µs) handing parts to a thread costs more than it saves. */
#define AL_AI_PARALLEL_MIN (1u << 16)

/* Positions a prefill runs together: each weight is read once per block. */
#define AL_AI_BATCH 32

/* Largest run state (activations plus kv cache) built, bytes. */
#define AL_AI_MAX_STATE (2ull << 30)

struct al_ai_state {
	float *x;      /* (dim) residual stream */
	float *xb;     /* (dim) inside a residual branch */
	float *xb2;    /* (dim) */
	float *hb;     /* (hidden_dim) */
	float *hb2;    /* (hidden_dim) */
	float *q;      /* (dim) */
	float *att;    /* (n_heads, seq_len) scores */
	float *logits; /* (vocab_size) */
	float *rope;   /* (head_size / 2, 2) cos, sin for the current position */
	float *k;      /* (kv_dim) this position's key, before it is scattered */
	/* Keys are stored transposed, (n_layers, n_kv_heads, head_size, seq_len):
	 * the scores of consecutive positions are then independent SIMD lanes. */
	float *key_cache;
	float *value_cache; /* (n_layers, seq_len, kv_dim) */
	int8_t *xq;    /* (max(dim, hidden_dim)) quantised activations, Q8 only */
	float *xs;     /* (max(dim, hidden_dim) / group_size) their scales */
	/* Prefill, AL_AI_BATCH positions at a time (row p of each is position p of the block). */
	float *bx, *bxb, *bq; /* (AL_AI_BATCH, dim) */
	float *bk;            /* (AL_AI_BATCH, kv_dim) */
	float *bhb, *bhb2;    /* (AL_AI_BATCH, hidden_dim) */
	float *brope;         /* (AL_AI_BATCH, head_size) */
	float *bxs;           /* (AL_AI_BATCH, max(dim, hidden_dim) / group_size), Q8 only */
	int8_t *bxq;          /* (AL_AI_BATCH, max(dim, hidden_dim)), Q8 only */
	void *arena;   /* one allocation holding all of the above */
	struct al_ai_pool *pool; /* threads for the products, NULL = this thread only; not owned */
	size_t parallel_min;     /* multiply-adds below which a product stays on this thread */
};

/* 0, -EINVAL (state would exceed AL_AI_MAX_STATE) or -ENOMEM. */
int al_ai_state_build(struct al_ai_state *s, const struct al_ai_config *c);
void al_ai_state_free(struct al_ai_state *s);

/* Runs token (0 <= token < vocab_size) at pos (0 <= pos < seq_len); the caller
 * checks both. Returns s->logits. */
float *al_ai_forward(const struct al_ai_model *m, struct al_ai_state *s, int token, int pos);

/* Runs tokens[0..n) at positions pos0.. (n >= 1, pos0 + n <= seq_len, every
 * token in range; the caller checks), AL_AI_BATCH positions at a time, and
 * returns the logits of the last one. The cache and the logits are bit for
 * bit those of n calls of al_ai_forward(). */
float *al_ai_prefill(const struct al_ai_model *m, struct al_ai_state *s, const int *tokens, int n, int pos0);

#endif
