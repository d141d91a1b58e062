/*
 * Fuzz target: the GGUF loader (container, llama architecture, embedded
 * tokenizer). An accepted model has the first and last byte of every matrix
 * and norm read, so a pointer past the input is caught by ASan; its
 * tokenizer encodes and decodes; a small one runs two forward passes with
 * whatever weights the input holds (NaN, inf).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "workers/ai/forward.h"
#include "workers/ai/gguf.h"
#include "workers/ai/quant.h"

static volatile float sink;

static void touch_vec(const float *p, size_t n)
{
	sink += p[0] + p[n - 1];
}

static void touch_mat(const struct al_ai_mat *m, size_t rows, size_t cols)
{
	if (m->f) {
		touch_vec(m->f, rows * cols);
		return;
	}
	size_t bytes = rows * al_ai_row_bytes(m->type, (int)cols);
	sink += (float)(m->b[0] + m->b[bytes - 1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_ai_model m;
	/* The container alone (any architecture). */
	struct al_gguf g;
	char err[160];
	if (al_gguf_parse(&g, data, size, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < g.n_tensors; i++)
			if (g.t[i].size)
				sink += (float)(g.t[i].data[0] + g.t[i].data[g.t[i].size - 1]);
		al_gguf_free(&g);
	}
	if (size < 4 || memcmp(data, "GGUF", 4) || al_ai_model_build_mem(&m, data, size))
		return 0;
	const struct al_ai_config *c = &m.cfg;
	size_t dim = (size_t)c->dim, hid = (size_t)c->hidden_dim, kv = (size_t)c->kv_dim;
	touch_mat(&m.w.tokens, (size_t)c->vocab_size, dim);
	touch_mat(&m.w.wcls, (size_t)c->vocab_size, dim);
	touch_vec(m.w.rms_final, dim);
	for (int l = 0; l < c->n_layers; l++) {
		const struct al_ai_layer *L = &m.w.layers[l];
		touch_vec(L->rms_att, dim);
		touch_vec(L->rms_ffn, dim);
		touch_mat(&L->wq, dim, dim);
		touch_mat(&L->wk, kv, dim);
		touch_mat(&L->wv, kv, dim);
		touch_mat(&L->wo, dim, dim);
		touch_mat(&L->w1, hid, dim);
		touch_mat(&L->w2, dim, hid);
		touch_mat(&L->w3, hid, dim);
	}
	struct al_ai_tokenizer t;
	if (al_ai_tokenizer_build_gguf(&t, &m) == 0) {
		int ids[64];
		size_t n;
		if (t.bos < 0 || t.bos >= t.vocab_size || t.eos < 0 || t.eos >= t.vocab_size)
			abort();
		if (al_ai_tokenizer_encode(&t, "Once upon a time \xd0\xb6", true, true, ids, 64, &n) == 0)
			for (size_t i = 0; i < n; i++) {
				const char *p;
				size_t l;
				if (ids[i] < 0 || ids[i] >= t.vocab_size)
					abort();
				al_ai_tokenizer_decode(&t, i ? ids[i - 1] : t.bos, ids[i], &p, &l);
				sink += (float)l;
			}
		al_ai_tokenizer_free(&t);
	}
	size_t cache = (size_t)c->n_layers * (size_t)c->seq_len * kv;
	struct al_ai_state s;
	if (cache <= (1u << 20) && dim * (size_t)c->vocab_size <= (1u << 22) && al_ai_state_build(&s, c) == 0) {
		al_ai_forward(&m, &s, c->vocab_size - 1, 0);
		if (c->seq_len > 1)
			al_ai_forward(&m, &s, 0, 1);
		sink += s.logits[0];
		al_ai_state_free(&s);
	}
	al_ai_model_free(&m);
	return 0;
}
