/*
 * Writes llama2.c checkpoints in memory, for tests, fuzz seeds and the
 * benchmark: a random legacy model of any shape, and any loaded fp32 model
 * re-exported as legacy, v1 or v2 (Q8_0), following the exporter's layouts.
 */
#ifndef AL_TEST_MODEL_WRITER_H
#define AL_TEST_MODEL_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/ai/model.h"
#include "workers/ai/tokenizer.h"

/* Bytes in memory; with fd > 0 streamed to fd, at most 64 MiB held (flushed:
 * bytes already written; mw_flush() writes the rest). */
struct mw_buf {
	uint8_t *p;
	size_t len, cap, flushed;
	int fd;
	bool failed; /* a write to fd failed */
};

struct mw_shape {
	int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

void mw_free(struct mw_buf *b);
/* Writes what is held to fd: 0, or -1 if any write failed. */
int mw_flush(struct mw_buf *b);

/* Random weights (xorshift from seed), legacy layout; shared = classifier is the embedding. */
void mw_random_legacy(struct mw_buf *b, const struct mw_shape *s, bool shared, uint64_t seed);

/* Re-exports a loaded fp32 model (legacy or v1). gs is the Q8_0 group for AL_AI_FORMAT_Q8. */
void mw_export(struct mw_buf *b, const struct al_ai_model *src, enum al_ai_format fmt, bool shared, int gs);

/* A tokenizer file of vocab_size tokens: <unk>, BOS, EOS, 256 byte tokens, then
 * printable pieces; max_token_length 16. */
void mw_tokenizer(struct mw_buf *b, int vocab_size);

/* A loaded tokenizer written back as a tokenizer file, the piece of id
 * replace (if >= 0) replaced by `with`. */
void mw_tokenizer_from(struct mw_buf *b, const struct al_ai_tokenizer *t, int replace, const char *with);

/*
 * The vocabulary tests compare with llama.cpp: stories260K's weights (F32)
 * and tok512's vocabulary as GGUF, with its standalone space piece (U+2581
 * in GGUF) or, with_space false, that piece renamed "<unused>". model and
 * tokenizer are the files' paths. 0, or -1 with the reason on stderr.
 */
int mw_vocab_gguf(struct mw_buf *b, const char *model, const char *tokenizer, bool with_space);

/* Re-exports a loaded fp32 model with its tokenizer as GGUF v3 (llama), the
 * matrices in ggml type `type` (0 F32, 1 F16, 2 Q4_0, 8 Q8_0) where their rows
 * divide into 32-value blocks, F32 otherwise; as tools/gguf_export.py does. */
void mw_export_gguf(struct mw_buf *b, const struct al_ai_model *src, const struct al_ai_tokenizer *tok,
		    uint32_t type);

#endif
