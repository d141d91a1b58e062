/*
 * Checkpoint loader. Nothing in the file is trusted: the header is copied out
 * with memcpy (no unaligned loads), each field is range-checked, then one
 * cursor walks the tensors in file order and refuses any tensor that would
 * end past the mapping, before a pointer to it exists.
 */
#include "workers/ai/model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common/util.h"
#include "workers/ai/gguf.h"

static int model_fail(struct al_ai_model *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int model_fail(struct al_ai_model *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->err, sizeof(m->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const char *al_ai_format_name(enum al_ai_format f)
{
	switch (f) {
	case AL_AI_FORMAT_LEGACY:
		return "legacy fp32";
	case AL_AI_FORMAT_V1:
		return "v1 fp32";
	case AL_AI_FORMAT_Q8:
		return "v2 int8 Q8_0";
	case AL_AI_FORMAT_GGUF:
		return "GGUF";
	}
	return "unknown";
}

static int32_t rd_i32(const uint8_t *p)
{
	int32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static int check_range(struct al_ai_model *m, const char *field, int32_t v, int32_t lo, int32_t hi)
{
	if (v < lo || v > hi)
		return model_fail(m, "model header: %s %d out of range [%d, %d]", field, v, lo, hi);
	return 0;
}

/* Fills m->cfg from the header; the file length is checked later, tensor by tensor. */
static int parse_header(struct al_ai_model *m, const uint8_t *p, size_t len, size_t *body)
{
	struct al_ai_config *c = &m->cfg;
	const uint8_t *h;
	int32_t vocab;
	int rc;

	if (len >= 8 && rd_i32(p) == (int32_t)AL_AI_MAGIC) {
		int32_t version = rd_i32(p + 4);
		if (version != 1 && version != 2)
			return model_fail(m, "model header: version %d unsupported (1 or 2)", version);
		if (len < AL_AI_V1_HEADER)
			return model_fail(m, "model header: file of %zu bytes shorter than the %d-byte header",
					  len, AL_AI_V1_HEADER);
		c->format = version == 1 ? AL_AI_FORMAT_V1 : AL_AI_FORMAT_Q8;
		h = p + 8;
		if (p[36] > 1)
			return model_fail(m, "model header: shared_classifier %u is not 0 or 1", p[36]);
		c->shared_classifier = p[36] == 1;
		*body = AL_AI_V1_HEADER;
	} else {
		if (len < AL_AI_LEGACY_HEADER)
			return model_fail(m, "model header: file of %zu bytes shorter than the %d-byte header",
					  len, AL_AI_LEGACY_HEADER);
		c->format = AL_AI_FORMAT_LEGACY;
		h = p;
		*body = AL_AI_LEGACY_HEADER;
	}
	c->dim = rd_i32(h);
	c->hidden_dim = rd_i32(h + 4);
	c->n_layers = rd_i32(h + 8);
	c->n_heads = rd_i32(h + 12);
	c->n_kv_heads = rd_i32(h + 16);
	vocab = rd_i32(h + 20);
	c->seq_len = rd_i32(h + 24);

	if (c->format == AL_AI_FORMAT_LEGACY) {
		/* The legacy format's only flag: a negative vocab_size means unshared. */
		c->shared_classifier = vocab > 0;
		if (vocab < 0 && vocab != INT32_MIN)
			vocab = -vocab;
	}
	if ((rc = check_range(m, "dim", c->dim, 1, AL_AI_MAX_DIM)) ||
	    (rc = check_range(m, "hidden_dim", c->hidden_dim, 1, AL_AI_MAX_HIDDEN)) ||
	    (rc = check_range(m, "n_layers", c->n_layers, 1, AL_AI_MAX_LAYERS)) ||
	    (rc = check_range(m, "n_heads", c->n_heads, 1, AL_AI_MAX_HEADS)) ||
	    (rc = check_range(m, "n_kv_heads", c->n_kv_heads, 1, AL_AI_MAX_HEADS)) ||
	    (rc = check_range(m, "vocab_size", vocab, 1, AL_AI_MAX_VOCAB)) ||
	    (rc = check_range(m, "seq_len", c->seq_len, 1, AL_AI_MAX_SEQ)))
		return rc;
	c->vocab_size = vocab;
	if (c->dim % c->n_heads)
		return model_fail(m, "model header: dim %d not divisible by n_heads %d", c->dim, c->n_heads);
	if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads)
		return model_fail(m, "model header: n_kv_heads %d does not divide n_heads %d",
				  c->n_kv_heads, c->n_heads);
	c->head_size = c->dim / c->n_heads;
	/* RoPE rotates pairs of values within a head. */
	if (c->head_size % 2)
		return model_fail(m, "model header: head_size %d (dim / n_heads) is odd", c->head_size);
	c->kv_dim = c->n_kv_heads * c->head_size;
	c->group_size = 0;
	c->rms_eps = 1e-5f;
	c->rope_base = 10000.0f;
	if (c->format == AL_AI_FORMAT_Q8) {
		int32_t gs = rd_i32(p + 37);
		if ((rc = check_range(m, "group_size", gs, 1, AL_AI_MAX_GROUP)))
			return rc;
		/* Activations are quantised in groups along dim and hidden_dim. */
		if (c->dim % gs || c->hidden_dim % gs)
			return model_fail(m, "model header: group_size %d does not divide dim %d and hidden_dim %d",
					  gs, c->dim, c->hidden_dim);
		c->group_size = gs;
	}
	return 0;
}

/* Walks the tensors in file order; each take checks before pointing. */
struct cursor {
	struct al_ai_model *m;
	size_t off;
};

static const void *take(struct cursor *cur, size_t count, size_t elem, const char *name, int layer)
{
	size_t bytes, end;
	if (!al_mul_size(count, elem, &bytes) || !al_add_size(cur->off, bytes, &end) ||
	    end > cur->m->map_len) {
		if (layer >= 0)
			model_fail(cur->m, "model: tensor %s of layer %d (%zu x %zu bytes at offset %zu) runs past the end of the %zu-byte file",
				   name, layer, count, elem, cur->off, cur->m->map_len);
		else
			model_fail(cur->m, "model: tensor %s (%zu x %zu bytes at offset %zu) runs past the end of the %zu-byte file",
				   name, count, elem, cur->off, cur->m->map_len);
		return NULL;
	}
	/* fp32 values must be naturally aligned; a Q8 group size that misaligns
	 * the scale arrays is refused here rather than read unaligned. */
	if (elem > 1 && cur->off % elem) {
		model_fail(cur->m, "model: tensor %s at offset %zu is not %zu-byte aligned", name, cur->off, elem);
		return NULL;
	}
	const void *p = cur->m->map + cur->off;
	cur->off = end;
	return p;
}

/* A stack of n fp32 tensors of numel values each; *out gets the first. */
static int take_f32(struct cursor *cur, size_t n, size_t numel, const char *name, const float **out)
{
	size_t count;
	if (!al_mul_size(n, numel, &count))
		return model_fail(cur->m, "model: tensor %s size overflows", name);
	*out = take(cur, count, sizeof(float), name, -1);
	return *out ? 0 : -EINVAL;
}

static int take_mat(struct cursor *cur, struct al_ai_mat *mat, size_t rows, size_t cols,
		    const char *name, int layer)
{
	const struct al_ai_config *c = &cur->m->cfg;
	size_t numel;
	if (!al_mul_size(rows, cols, &numel))
		return model_fail(cur->m, "model: tensor %s size overflows", name);
	memset(mat, 0, sizeof(*mat));
	if (c->format != AL_AI_FORMAT_Q8) {
		mat->f = take(cur, numel, sizeof(float), name, layer);
		return mat->f ? 0 : -EINVAL;
	}
	/* cols is dim or hidden_dim, both multiples of group_size: groups never span rows. */
	mat->type = AL_AI_W_Q8G;
	mat->q = take(cur, numel, 1, name, layer);
	if (!mat->q)
		return -EINVAL;
	mat->s = take(cur, numel / (size_t)c->group_size, sizeof(float), name, layer);
	return mat->s ? 0 : -EINVAL;
}

/* Same for each layer, in the order the exporter writes: all layers of one kind together. */
#define TAKE_LAYERS(field, rows, cols)                                                        \
	do {                                                                                  \
		for (int l_ = 0; l_ < c->n_layers; l_++)                                      \
			if ((rc = take_mat(&cur, &w->layers[l_].field, (rows), (cols), #field, l_))) \
				return rc;                                                    \
	} while (0)

static int map_weights(struct al_ai_model *m, size_t body)
{
	const struct al_ai_config *c = &m->cfg;
	struct al_ai_weights *w = &m->w;
	struct cursor cur = { .m = m, .off = body };
	size_t L = (size_t)c->n_layers, dim = (size_t)c->dim, hid = (size_t)c->hidden_dim;
	size_t vocab = (size_t)c->vocab_size, kv = (size_t)c->kv_dim;
	const float *rms_att, *rms_ffn;
	int rc;

	if (c->format == AL_AI_FORMAT_LEGACY) {
		const float *freq;
		if ((rc = take_mat(&cur, &w->tokens, vocab, dim, "token_embedding", -1)) ||
		    (rc = take_f32(&cur, L, dim, "rms_att", &rms_att)))
			return rc;
		TAKE_LAYERS(wq, dim, dim);
		TAKE_LAYERS(wk, kv, dim);
		TAKE_LAYERS(wv, kv, dim);
		TAKE_LAYERS(wo, dim, dim);
		if ((rc = take_f32(&cur, L, dim, "rms_ffn", &rms_ffn)))
			return rc;
		TAKE_LAYERS(w1, hid, dim);
		TAKE_LAYERS(w2, dim, hid);
		TAKE_LAYERS(w3, hid, dim);
		/* Legacy RoPE tables (seq_len x head_size/2, twice): recomputed, skipped. */
		if ((rc = take_f32(&cur, 1, dim, "rms_final", &w->rms_final)) ||
		    (rc = take_f32(&cur, (size_t)c->seq_len, (size_t)c->head_size / 2, "freq_cis_real", &freq)) ||
		    (rc = take_f32(&cur, (size_t)c->seq_len, (size_t)c->head_size / 2, "freq_cis_imag", &freq)))
			return rc;
	} else {
		if ((rc = take_f32(&cur, L, dim, "rms_att", &rms_att)) ||
		    (rc = take_f32(&cur, L, dim, "rms_ffn", &rms_ffn)) ||
		    (rc = take_f32(&cur, 1, dim, "rms_final", &w->rms_final)) ||
		    (rc = take_mat(&cur, &w->tokens, vocab, dim, "token_embedding", -1)))
			return rc;
		TAKE_LAYERS(wq, dim, dim);
		TAKE_LAYERS(wk, kv, dim);
		TAKE_LAYERS(wv, kv, dim);
		TAKE_LAYERS(wo, dim, dim);
		TAKE_LAYERS(w1, hid, dim);
		TAKE_LAYERS(w2, dim, hid);
		TAKE_LAYERS(w3, hid, dim);
	}
	if (c->shared_classifier)
		w->wcls = w->tokens;
	else if ((rc = take_mat(&cur, &w->wcls, vocab, dim, "wcls", -1)))
		return rc;
	if (cur.off != m->map_len)
		return model_fail(m, "model: file is %zu bytes but the header describes %zu (trailing bytes)",
				  m->map_len, cur.off);
	for (size_t l = 0; l < L; l++) {
		w->layers[l].rms_att = rms_att + l * dim;
		w->layers[l].rms_ffn = rms_ffn + l * dim;
	}
	return 0;
}

int al_ai_model_build_mem(struct al_ai_model *m, const void *buf, size_t len)
{
	size_t body = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	if (al_gguf_is(buf, len))
		return al_ai_model_build_gguf(m, buf, len);
	m->map = buf;
	m->map_len = len;
	if ((rc = parse_header(m, buf, len, &body)))
		return rc;
	m->w.layers = calloc((size_t)m->cfg.n_layers, sizeof(*m->w.layers));
	if (!m->w.layers) {
		snprintf(m->err, sizeof(m->err), "model: out of memory");
		return -ENOMEM;
	}
	if ((rc = map_weights(m, body))) {
		free(m->w.layers);
		m->w.layers = NULL;
		return rc;
	}
	return 0;
}

int al_ai_model_build_fd(struct al_ai_model *m, int fd)
{
	struct stat st;
	void *p;
	int rc;

	memset(m, 0, sizeof(*m));
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(m->err, sizeof(m->err), "model: fstat: %s", strerror(errno));
		return rc;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
		snprintf(m->err, sizeof(m->err), "model: not a non-empty regular file");
		return -EINVAL;
	}
	/* Read-only private mapping: the engine can never write the weights, and
	 * no PROT_EXEC, so the file's bytes never become code. */
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		rc = -errno;
		snprintf(m->err, sizeof(m->err), "model: mmap: %s", strerror(errno));
		return rc;
	}
	char err[sizeof(m->err)];
	if ((rc = al_ai_model_build_mem(m, p, (size_t)st.st_size))) {
		memcpy(err, m->err, sizeof(err));
		munmap(p, (size_t)st.st_size);
		memset(m, 0, sizeof(*m));
		memcpy(m->err, err, sizeof(err));
		return rc;
	}
	m->mapped = true;
	return 0;
}

void al_ai_model_free(struct al_ai_model *m)
{
	if (m->gguf) {
		al_gguf_free(m->gguf);
		free(m->gguf);
	}
	free(m->w.layers);
	if (m->mapped)
		munmap((void *)m->map, m->map_len);
	memset(m, 0, sizeof(*m));
}
