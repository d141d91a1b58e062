/*
 * Fuzz target: the checkpoint loader (header, tensor walk, size checks).
 * An accepted input has every tensor's first and last value read, so a
 * pointer past the input is caught by ASan, and runs one forward pass when
 * its run state is small.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "workers/ai/forward.h"
#include "workers/ai/model.h"

static volatile float sink;

static void touch_f(const float *p, size_t n)
{
	if (p && n)
		sink += p[0] + p[n - 1];
}

static void touch_mat(const struct al_ai_config *c, const struct al_ai_mat *m, size_t rows, size_t cols)
{
	size_t n = rows * cols;
	if (m->f) {
		touch_f(m->f, n);
	} else {
		sink += (float)(m->q[0] + m->q[n - 1]);
		touch_f(m->s, n / (size_t)c->group_size);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_ai_model m;
	if (al_ai_model_build_mem(&m, data, size))
		return 0;
	const struct al_ai_config *c = &m.cfg;
	size_t dim = (size_t)c->dim, hid = (size_t)c->hidden_dim, kv = (size_t)c->kv_dim;
	touch_mat(c, &m.w.tokens, (size_t)c->vocab_size, dim);
	touch_mat(c, &m.w.wcls, (size_t)c->vocab_size, dim);
	touch_f(m.w.rms_final, dim);
	for (int l = 0; l < c->n_layers; l++) {
		const struct al_ai_layer *L = &m.w.layers[l];
		touch_f(L->rms_att, dim);
		touch_f(L->rms_ffn, dim);
		touch_mat(c, &L->wq, dim, dim);
		touch_mat(c, &L->wk, kv, dim);
		touch_mat(c, &L->wv, kv, dim);
		touch_mat(c, &L->wo, dim, dim);
		touch_mat(c, &L->w1, hid, dim);
		touch_mat(c, &L->w2, dim, hid);
		touch_mat(c, &L->w3, hid, dim);
	}
	/* Hostile weights (NaN, inf) through the whole forward pass, twice. */
	size_t cache = (size_t)c->n_layers * (size_t)c->seq_len * kv;
	struct al_ai_state s;
	if (cache <= (1u << 20) && al_ai_state_build(&s, c) == 0) {
		al_ai_forward(&m, &s, c->vocab_size - 1, 0);
		if (c->seq_len > 1)
			al_ai_forward(&m, &s, 0, 1);
		sink += s.logits[0];
		al_ai_state_free(&s);
	}
	al_ai_model_free(&m);
	return 0;
}
