/*
 * AI engine, step 2: the BPE tokenizer (llama2.c tokenizer.bin layout).
 *
 *   struct al_ai_tokenizer t;
 *   al_ai_tokenizer_build_fd(&t, fd, model.cfg.vocab_size);
 *   al_ai_tokenizer_encode(&t, "text", true, false, ids, cap, &n);
 *   al_ai_tokenizer_decode(&t, prev, id, &piece, &len);
 *   al_ai_tokenizer_free(&t);
 *
 * File: int32 max_token_length, then vocab_size records {float32 score,
 * int32 len, len bytes}; the file must end right after the last record.
 * The whole file is copied into private memory once, then validated.
 */
#ifndef AL_AI_TOKENIZER_H
#define AL_AI_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AL_AI_TOK_MAX_LEN 256            /* longest token, bytes */
#define AL_AI_TOK_MAX_FILE (64u << 20)   /* largest tokenizer file accepted */
#define AL_AI_TOK_BOS 1
#define AL_AI_TOK_EOS 2

struct al_ai_token {
	const char *str; /* into the private copy, NUL-terminated */
	uint32_t len;
	int id;
};

struct al_ai_tokenizer {
	int vocab_size;
	uint32_t max_token_length;
	char *blob;                   /* all strings, each NUL-terminated */
	struct al_ai_token *vocab;    /* by id */
	struct al_ai_token *sorted;   /* by bytes, for lookup */
	float *scores;                /* by id */
	char *scratch;                /* 2 * max_token_length + 8 */
	unsigned char byte_pieces[512]; /* single-byte strings for <0xHH> tokens */
	int byte_id[256];             /* the <0xHH> token of each byte (byte fallback), or unk 0 */
	int bos, eos;                 /* AL_AI_TOK_BOS/EOS, or a GGUF file's ids */
	char err[160];
};

/* buf is copied. 0, -EINVAL (t->err names the field) or -ENOMEM. */
int al_ai_tokenizer_build_mem(struct al_ai_tokenizer *t, const void *buf, size_t len, int vocab_size);
int al_ai_tokenizer_build_fd(struct al_ai_tokenizer *t, int fd, int vocab_size);
void al_ai_tokenizer_free(struct al_ai_tokenizer *t);

/* Upper bound of the tokens text can encode to (bos, dummy prefix, one per byte, eos). */
size_t al_ai_tokenizer_max_tokens(size_t text_len);

/* Encodes NUL-terminated UTF-8 text; cap must be at least al_ai_tokenizer_max_tokens().
 * 0, -EINVAL (cap too small) or -ENOMEM. Time O(n log n) in the text's length. */
int al_ai_tokenizer_encode(struct al_ai_tokenizer *t, const char *text, bool bos, bool eos,
			   int *tokens, size_t cap, size_t *n_tokens);

/* The bytes token prints as after prev (leading space dropped after BOS,
 * <0xHH> turned into its byte). Points into t; valid until free. */
void al_ai_tokenizer_decode(const struct al_ai_tokenizer *t, int prev, int token,
			    const char **piece, size_t *len);

/* Looks up a piece by its exact bytes: id, or -1. */
int al_ai_tokenizer_lookup(const struct al_ai_tokenizer *t, const char *s, size_t len);

#endif
