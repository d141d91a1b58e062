/*
 * AI engine, step 1 of the data flow: the model (llama2.c checkpoint).
 *
 *   struct al_ai_model m;
 *   al_ai_model_build_fd(&m, fd);     maps fd read-only, validates, points into it
 *   ... al_ai_state_build(), al_ai_forward() (forward.h) ...
 *   al_ai_model_free(&m);
 *
 * Three file layouts are read (all little-endian):
 *   legacy  7 int32 header {dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 *           vocab_size, seq_len}, fp32 weights; a negative vocab_size means an
 *           unshared classifier follows the weights.
 *   v1      256-byte header: uint32 magic "ak42", int32 version 1, the 7 int32,
 *           uint8 shared_classifier; fp32 weights.
 *   v2      as v1 plus int32 group_size at byte 37; rms weights fp32, every
 *           matrix Q8_0: int8 values then one fp32 scale per group.
 * Every header field is range-checked and every tensor's offset and size is
 * checked against the real file length (overflow-safe) before any pointer into
 * the mapping is made. The file must end exactly after the last tensor.
 */
#ifndef AL_AI_MODEL_H
#define AL_AI_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AL_AI_MAGIC 0x616b3432u /* "ak42" */
#define AL_AI_V1_HEADER 256
#define AL_AI_LEGACY_HEADER 28

/* Upper bounds: far above any model this engine is meant for, low enough
 * that every size product below fits in 64 bits. */
#define AL_AI_MAX_DIM 16384
#define AL_AI_MAX_HIDDEN 65536
#define AL_AI_MAX_LAYERS 256
#define AL_AI_MAX_HEADS 256
#define AL_AI_MAX_VOCAB 262144
#define AL_AI_MAX_SEQ 32768
#define AL_AI_MAX_GROUP 4096

enum al_ai_format {
	AL_AI_FORMAT_LEGACY = 0,
	AL_AI_FORMAT_V1 = 1, /* fp32 */
	AL_AI_FORMAT_Q8 = 2, /* v2, int8 Q8_0 */
	AL_AI_FORMAT_GGUF = 3, /* GGUF v2/v3, llama architecture (gguf.h) */
};

/* How a matrix's values are stored. */
enum al_ai_wtype {
	AL_AI_W_F32 = 0,  /* f */
	AL_AI_W_Q8G,      /* q + s: llama2.c v2, int8 plus one fp32 scale per group_size */
	AL_AI_W_F16,      /* b: IEEE half */
	AL_AI_W_Q8_0,     /* b: ggml blocks of 32, {half d; int8 q[32]} */
	AL_AI_W_Q4_0,     /* b: ggml blocks of 32, {half d; uint8 q[16]}: low nibbles are
			   * values 0..15, high nibbles 16..31, each minus 8 */
};

/* The hyperparameters (checkpoint header), validated. */
struct al_ai_config {
	int dim;          /* transformer width */
	int hidden_dim;   /* ffn width */
	int n_layers;
	int n_heads;      /* query heads */
	int n_kv_heads;   /* key/value heads, divides n_heads (grouped-query attention) */
	int vocab_size;   /* always positive here */
	int seq_len;      /* max positions */
	int head_size;    /* dim / n_heads, even */
	int kv_dim;       /* n_kv_heads * head_size */
	int group_size;   /* activation quantisation group, 0 when no matrix is quantised */
	float rms_eps;    /* RMSNorm epsilon (1e-5 for llama2.c) */
	float rope_base;  /* RoPE theta (10000 for llama2.c) */
	bool shared_classifier;
	enum al_ai_format format;
};

/* One weight matrix (rows, cols) in the mapping, row-major: fp32, or Q8_0
 * values plus one scale per group_size values, or ggml blocks (GGUF). */
struct al_ai_mat {
	const float *f;
	const int8_t *q;
	const float *s;
	const uint8_t *b;
	enum al_ai_wtype type;
};

struct al_ai_layer {
	const float *rms_att; /* (dim) */
	const float *rms_ffn; /* (dim) */
	struct al_ai_mat wq;  /* (n_heads * head_size, dim) */
	struct al_ai_mat wk;  /* (kv_dim, dim) */
	struct al_ai_mat wv;  /* (kv_dim, dim) */
	struct al_ai_mat wo;  /* (dim, n_heads * head_size) */
	struct al_ai_mat w1;  /* (hidden_dim, dim) */
	struct al_ai_mat w2;  /* (dim, hidden_dim) */
	struct al_ai_mat w3;  /* (hidden_dim, dim) */
};

struct al_ai_weights {
	struct al_ai_mat tokens;  /* (vocab_size, dim) embedding table */
	struct al_ai_layer *layers; /* n_layers, allocated */
	const float *rms_final;   /* (dim) */
	struct al_ai_mat wcls;    /* (vocab_size, dim), == tokens when shared */
};

struct al_gguf;

struct al_ai_model {
	struct al_ai_config cfg;
	struct al_ai_weights w;
	const uint8_t *map;  /* the read-only mapping, or the caller's buffer */
	size_t map_len;
	bool mapped;         /* map is ours to munmap */
	struct al_gguf *gguf; /* the parsed container of a GGUF model, owned */
	char err[160];       /* why the last build failed, names the field */
};

/* Validates a checkpoint held in memory (not copied: buf must outlive m).
 * 0 or -EINVAL (m->err says why) / -ENOMEM. */
int al_ai_model_build_mem(struct al_ai_model *m, const void *buf, size_t len);

/* Maps fd read-only (MAP_PRIVATE) and validates it as above. fd is not kept. */
int al_ai_model_build_fd(struct al_ai_model *m, int fd);

void al_ai_model_free(struct al_ai_model *m);

const char *al_ai_format_name(enum al_ai_format f);

#endif
