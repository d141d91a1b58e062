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
	int rc;
	memset(e, 0, sizeof(*e));
	/* Generation starts from BOS and stops at it: the ids must exist. */
	if (tok->vocab_size != model->cfg.vocab_size || tok->bos < 0 || tok->bos >= tok->vocab_size ||
	    tok->eos < 0 || tok->eos >= tok->vocab_size)
		return -EINVAL;
	e->model = model;
	e->tok = tok;
	if ((rc = al_ai_state_build(&e->state, &model->cfg)))
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

int al_ai_generate(struct al_ai_engine *e, struct al_ai_sampler *smp, const char *prompt, int steps,
		   al_ai_piece_fn fn, void *ctx, struct al_ai_gen_stats *stats)
{
	const struct al_ai_config *c = &e->model->cfg;
	size_t n_prompt = 0;
	uint64_t t0 = al_now_ns();
	int token, pos = 0, rc = 0;

	memset(stats, 0, sizeof(*stats));
	if (steps <= 0 || steps > c->seq_len)
		steps = c->seq_len;
	if ((rc = al_ai_prompt_fit(e, prompt, e->truncate_left, e->tokens, &n_prompt, &stats->fit)))
		return rc;
	stats->prompt_tokens = (uint32_t)n_prompt;
	token = e->tokens[0];
	/* The prompt's positions run together (prefill); their pieces are then
	 * delivered as if each had been run on its own. */
	int np = n_prompt < (size_t)steps ? (int)n_prompt : steps;
	float *logits = np > 1 ? al_ai_prefill(e->model, &e->state, e->tokens, np, 0) : NULL;
	for (; logits && pos + 1 < np; pos++) {
		int next = e->tokens[pos + 1];
		if (next == e->tok->bos) {
			pos++;
			goto out;
		}
		const char *piece;
		size_t len;
		al_ai_tokenizer_decode(e->tok, token, next, &piece, &len);
		if (al_ai_piece_printable(piece, len) && (rc = fn(ctx, piece, len, next)))
			goto out;
		token = next;
	}
	while (pos < steps) {
		int next;
		if (!logits)
			logits = al_ai_forward(e->model, &e->state, token, pos);
		if ((size_t)pos + 1 < n_prompt) {
			next = e->tokens[pos + 1]; /* still inside the prompt: forced */
		} else {
			next = al_ai_sample(smp, logits);
			stats->tokens++;
		}
		logits = NULL;
		pos++;
		/* BOS starts a new sequence: the reference stops there. */
		if (next == e->tok->bos)
			break;
		const char *piece;
		size_t len;
		al_ai_tokenizer_decode(e->tok, token, next, &piece, &len);
		if (al_ai_piece_printable(piece, len) && (rc = fn(ctx, piece, len, next)))
			break;
		token = next;
		if (e->max_ns && al_now_ns() - t0 >= e->max_ns && pos < steps) {
			rc = -ETIMEDOUT;
			break;
		}
	}
out:
	stats->elapsed_ns = al_now_ns() - t0;
	return rc;
}
