#include "workers/ai/generate.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

int al_ai_engine_build(struct al_ai_engine *e, struct al_ai_model *model, struct al_ai_tokenizer *tok)
{
	return al_ai_engine_build_slots(e, model, tok, 1);
}

int al_ai_engine_build_slots(struct al_ai_engine *e, struct al_ai_model *model, struct al_ai_tokenizer *tok,
			     int slots)
{
	int rc;
	memset(e, 0, sizeof(*e));
	/* Generation starts from BOS and stops at it: the ids must exist. */
	if (tok->vocab_size != model->cfg.vocab_size || tok->bos < 0 || tok->bos >= tok->vocab_size ||
	    tok->eos < 0 || tok->eos >= tok->vocab_size)
		return -EINVAL;
	e->model = model;
	e->tok = tok;
	if ((rc = al_ai_state_build_slots(&e->state, &model->cfg, slots)))
		return rc;
	e->tokens = calloc((size_t)model->cfg.seq_len + 3, sizeof(int));
	if (!e->tokens) {
		al_ai_state_free(&e->state);
		return -ENOMEM;
	}
	return 0;
}

int al_ai_engine_set_threads(struct al_ai_engine *e, int n)
{
	struct al_ai_pool *p = NULL;
	int rc;
	if (n < 1 || n > AL_AI_MAX_THREADS)
		return -EINVAL;
	if (n > 1 && (rc = al_ai_pool_new(&p, n)))
		return rc;
	al_ai_pool_free(e->pool);
	e->pool = p;
	e->state.pool = p;
	return 0;
}

void al_ai_engine_free(struct al_ai_engine *e)
{
	al_ai_pool_free(e->pool);
	e->pool = NULL;
	al_ai_state_free(&e->state);
	free(e->tokens);
	e->tokens = NULL;
}

bool al_ai_piece_printable(const char *piece, size_t len)
{
	if (len == 0)
		return false;
	if (len == 1) {
		unsigned char b = (unsigned char)piece[0];
		return isprint(b) || isspace(b);
	}
	return true;
}

uint32_t al_ai_max_prompt_tokens(const struct al_ai_config *c)
{
	return c->seq_len > 1 ? (uint32_t)c->seq_len - 1 : 0;
}

int al_ai_prompt_fit(struct al_ai_engine *e, const char *prompt, bool truncate_left, int *tokens,
		     size_t *n_tokens, struct al_ai_prompt_fit *fit)
{
	size_t seq = (size_t)e->model->cfg.seq_len;
	size_t cap = al_ai_tokenizer_max_tokens(strlen(prompt)), n = 0;
	/* The whole prompt is encoded, so that it is counted and cut exactly
	 * (the encoder is O(n log n)); a long one in a buffer of its own. */
	int *buf = cap <= seq + 3 ? tokens : malloc(cap * sizeof(int));
	int rc;

	memset(fit, 0, sizeof(*fit));
	fit->max_tokens = al_ai_max_prompt_tokens(&e->model->cfg);
	if (!buf)
		return -ENOMEM;
	if ((rc = al_ai_tokenizer_encode(e->tok, prompt, true, false, buf, cap, &n)))
		goto out;
	fit->text_tokens = n > 1 ? (uint32_t)(n - 1) : 0;
	if (fit->text_tokens > fit->max_tokens) {
		if (!truncate_left) {
			rc = -E2BIG;
			goto out;
		}
		/* Keep BOS, then the newest max_tokens tokens. */
		fit->dropped = fit->text_tokens - fit->max_tokens;
		memmove(buf + 1, buf + 1 + fit->dropped, fit->max_tokens * sizeof(int));
		n = 1 + (size_t)fit->max_tokens;
	}
	if (buf != tokens)
		memcpy(tokens, buf, n * sizeof(int));
	*n_tokens = n;
out:
	if (buf != tokens)
		free(buf);
	return rc;
}

void al_ai_prompt_fit_message(const struct al_ai_prompt_fit *fit, char *buf, size_t len)
{
	snprintf(buf, len, "the prompt is %" PRIu32 " tokens; this model takes at most %" PRIu32 " prompt tokens",
		 fit->text_tokens, fit->max_tokens);
}

static void seq_finish(struct al_ai_seq *q, int rc)
{
	q->done = true;
	q->rc = rc;
	q->stats.elapsed_ns = al_now_ns() - q->t0;
}

/*
 * The rest of one position once its logits exist: the next token (forced
 * while still inside the prompt, whose tokens are then in prompt, else
 * sampled), its piece to the callback, and the checks between two tokens.
 */
static void seq_advance(struct al_ai_engine *e, struct al_ai_seq *q, float *logits, const int *prompt,
			size_t n_prompt)
{
	int next;
	if ((size_t)q->pos + 1 < n_prompt) {
		next = prompt[q->pos + 1]; /* still inside the prompt: forced */
	} else {
		next = al_ai_sample(q->smp, logits);
		q->stats.tokens++;
	}
	q->pos++;
	/* BOS starts a new sequence: the reference stops there. */
	if (next == e->tok->bos) {
		seq_finish(q, 0);
		return;
	}
	const char *piece;
	size_t len;
	int rc;
	al_ai_tokenizer_decode(e->tok, q->token, next, &piece, &len);
	if (al_ai_piece_printable(piece, len) && (rc = q->fn(q->ctx, piece, len, next))) {
		seq_finish(q, rc);
		return;
	}
	q->token = next;
	if (q->pos >= q->steps || (q->max_tokens && q->stats.tokens >= q->max_tokens))
		seq_finish(q, 0);
	else if (q->deadline_ns && al_now_ns() >= q->deadline_ns)
		seq_finish(q, -ETIMEDOUT);
}

int al_ai_seq_begin(struct al_ai_engine *e, struct al_ai_seq *q, const char *prompt, int steps)
{
	const struct al_ai_config *c = &e->model->cfg;
	size_t n_prompt = 0;
	int rc = 0;

	memset(&q->stats, 0, sizeof(q->stats));
	q->done = false;
	q->rc = 0;
	q->pos = 0;
	q->t0 = al_now_ns();
	if (steps <= 0 || steps > c->seq_len)
		steps = c->seq_len;
	q->steps = steps;
	if ((rc = al_ai_prompt_fit(e, prompt, q->truncate_left, e->tokens, &n_prompt, &q->stats.fit)))
		return rc;
	q->stats.prompt_tokens = (uint32_t)n_prompt;
	q->token = e->tokens[0];
	al_ai_state_select(&e->state, q->slot);
	/* The prompt's positions run together (prefill); their pieces are then
	 * delivered as if each had been run on its own. */
	int np = n_prompt < (size_t)steps ? (int)n_prompt : steps;
	float *logits = np > 1 ? al_ai_prefill(e->model, &e->state, e->tokens, np, 0) : NULL;
	for (; logits && q->pos + 1 < np; q->pos++) {
		int next = e->tokens[q->pos + 1];
		if (next == e->tok->bos) {
			q->pos++;
			seq_finish(q, 0);
			return 0;
		}
		const char *piece;
		size_t len;
		al_ai_tokenizer_decode(e->tok, q->token, next, &piece, &len);
		if (al_ai_piece_printable(piece, len) && (rc = q->fn(q->ctx, piece, len, next))) {
			seq_finish(q, rc);
			return 0;
		}
		q->token = next;
	}
	/* The first position after the prompt, while its tokens are at hand: from
	 * here on each position's input is the token sampled before it. */
	if (!logits)
		logits = al_ai_forward(e->model, &e->state, q->token, q->pos);
	seq_advance(e, q, logits, e->tokens, n_prompt);
	return 0;
}

void al_ai_step(struct al_ai_engine *e, struct al_ai_seq *const *seqs, int n)
{
	const struct al_ai_config *c = &e->model->cfg;
	if (n == 1) {
		/* One sequence: the one-position pass, whose kernels suit a single vector. */
		al_ai_state_select(&e->state, seqs[0]->slot);
		seq_advance(e, seqs[0], al_ai_forward(e->model, &e->state, seqs[0]->token, seqs[0]->pos), NULL, 0);
		return;
	}
	int slots[AL_AI_MAX_SLOTS] = { 0 }, tokens[AL_AI_MAX_SLOTS] = { 0 }, pos[AL_AI_MAX_SLOTS] = { 0 };
	for (int i = 0; i < n; i++) {
		slots[i] = seqs[i]->slot;
		tokens[i] = seqs[i]->token;
		pos[i] = seqs[i]->pos;
	}
	float *rows = al_ai_forward_batch(e->model, &e->state, slots, tokens, pos, n);
	for (int i = 0; i < n; i++)
		seq_advance(e, seqs[i], rows + (size_t)i * (size_t)c->vocab_size, NULL, 0);
}

int al_ai_generate(struct al_ai_engine *e, struct al_ai_sampler *smp, const char *prompt, int steps,
		   al_ai_piece_fn fn, void *ctx, struct al_ai_gen_stats *stats)
{
	struct al_ai_seq q = { .slot = 0, .smp = smp, .fn = fn, .ctx = ctx, .truncate_left = e->truncate_left };
	if (e->max_ns)
		q.deadline_ns = al_now_ns() + e->max_ns;
	int rc = al_ai_seq_begin(e, &q, prompt, steps);
	if (rc == 0) {
		struct al_ai_seq *one = &q;
		while (!q.done)
			al_ai_step(e, &one, 1);
		rc = q.rc;
	}
	*stats = q.stats;
	return rc;
}
