/*
 * AI engine, step 4: the forward pass. One token at one position in, logits
 * out, with the key/value cache in the state; or a prompt's tokens together
 * (al_ai_prefill), with the same bits; or one token of each of several
 * sequences, each in its own cache slot at its own position, in one step
 * (al_ai_forward_batch), again with the bits each would get alone.
 *
 *   struct al_ai_state s;
 *   al_ai_state_build(&s, &model.cfg);
 *   float *logits = al_ai_forward(&model, &s, token, pos);   (pos < seq_len)
 *   al_ai_state_free(&s);
 *
 * Several sequences (continuous batching):
 *   al_ai_state_build_slots(&s, &model.cfg, 8);    8 key/value caches
 *   al_ai_state_select(&s, 3);                     al_ai_forward/prefill use slot 3
 *   al_ai_prefill(&model, &s, prompt, n, 0);
 *   float *rows = al_ai_forward_batch(&model, &s, slots, tokens, pos, k);
 *                                                  row i: logits of sequence i
 */
#ifndef AL_AI_FORWARD_H
#define AL_AI_FORWARD_H

#include <stdint.h>

#include "workers/ai/model.h"
#include "workers/ai/pool.h"

/* Default parallel_min: below ~64k multiply-adds (a few µs) handing parts to a thread costs more than it saves. */
#define AL_AI_PARALLEL_MIN (1u << 16)

/* Positions a prefill runs together: each weight is read once per block
 * (per thread: the threads split the positions), and each layer's products
 * and attention take turns once per block. */
#define AL_AI_BATCH 128

/* Largest run state (activations plus every slot's kv cache) built, bytes. */
#define AL_AI_MAX_STATE (2ull << 30)

/* Key/value cache slots a state holds at most, and at most when the count
 * is chosen from a memory budget (al_ai_slots_fit): the batched products
 * gain little beyond that many sequences. */
#define AL_AI_MAX_SLOTS 256
#define AL_AI_AUTO_SLOTS 64

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
	/* The selected slot's cache (al_ai_state_select; slot 0 at first).
	 * Keys are stored transposed, (n_layers, n_kv_heads, head_size, seq_len):
	 * the scores of consecutive positions are then independent SIMD lanes. */
	float *key_cache;
	float *value_cache; /* (n_layers, seq_len, kv_dim) */
	float *caches;      /* slots pairs (keys, values) of cache_floats each; mapped apart */
	size_t cache_floats, cache_bytes;
	int slots;          /* kv caches held, >= 1 */
	int rows;           /* rows of the b* buffers: max(AL_AI_BATCH, slots) */
	int8_t *xq;    /* (max(dim, hidden_dim)) quantised activations, Q8 only */
	float *xs;     /* (max(dim, hidden_dim) / group_size) their scales */
	/* Prefill, AL_AI_BATCH positions at a time (row p of each is position p
	 * of the block), and decode steps of several sequences (row p: sequence p). */
	float *bx, *bxb, *bq; /* (rows, dim) */
	float *bk, *bv;       /* (rows, kv_dim) */
	float *bhb, *bhb2;    /* (rows, hidden_dim) */
	float *brope;         /* (rows, head_size) */
	float *bxs;           /* (rows, max(dim, hidden_dim) / group_size), Q8 only */
	int8_t *bxq;          /* (rows, max(dim, hidden_dim)), Q8 only */
	float *blogits;       /* (slots, vocab_size) logits of a decode step */
	void *arena;   /* one allocation holding all of the above */
	struct al_ai_pool *pool; /* threads for the products, NULL = this thread only; not owned */
	size_t parallel_min;     /* multiply-adds below which a product stays on this thread */
};

/* One slot. 0, -EINVAL (state would exceed AL_AI_MAX_STATE) or -ENOMEM. */
int al_ai_state_build(struct al_ai_state *s, const struct al_ai_config *c);
/* slots (1 .. AL_AI_MAX_SLOTS) key/value caches and a decode step's buffers
 * for as many sequences. The working arrays are allocated and touched here;
 * the caches are mapped zero pages that take memory as sequences fill them,
 * so many slots cost no time at start. Same errors. */
int al_ai_state_build_slots(struct al_ai_state *s, const struct al_ai_config *c, int slots);
void al_ai_state_free(struct al_ai_state *s);

/* Bytes al_ai_state_build_slots() allocates, or SIZE_MAX when that would
 * exceed AL_AI_MAX_STATE (or slots is out of range). */
size_t al_ai_state_bytes(const struct al_ai_config *c, int slots);
/* The most slots (up to max, at most AL_AI_MAX_SLOTS) whose state fits in
 * budget bytes; 0 when not even one does. */
int al_ai_slots_fit(const struct al_ai_config *c, size_t budget, int max);

/* Points key_cache/value_cache at slot's cache (0 <= slot < s->slots):
 * al_ai_forward() and al_ai_prefill() then run in that sequence. */
void al_ai_state_select(struct al_ai_state *s, int slot);

/* Runs token (0 <= token < vocab_size) at pos (0 <= pos < seq_len); the caller
 * checks both. Returns s->logits. */
float *al_ai_forward(const struct al_ai_model *m, struct al_ai_state *s, int token, int pos);

/* Runs tokens[0..n) at positions pos0.. (n >= 1, pos0 + n <= seq_len, every
 * token in range; the caller checks), AL_AI_BATCH positions at a time, and
 * returns the logits of the last one. The cache and the logits are bit for
 * bit those of n calls of al_ai_forward(). */
float *al_ai_prefill(const struct al_ai_model *m, struct al_ai_state *s, const int *tokens, int n, int pos0);

/* One decode step of n sequences (1 <= n <= s->slots): sequence i runs
 * tokens[i] at pos[i] in cache slot slots[i] (distinct slots; the caller
 * checks every value). Every matrix product reads each weight row once for
 * all n; attention runs per sequence against its own cache. Returns
 * s->blogits: row i (vocab_size floats) holds sequence i's logits, and each
 * row and each cache are bit for bit what al_ai_forward() gives that
 * sequence alone. The selected slot is left as it was. */
float *al_ai_forward_batch(const struct al_ai_model *m, struct al_ai_state *s, const int *slots, const int *tokens,
			   const int *pos, int n);

#endif
