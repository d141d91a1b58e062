/*
 * AI engine, step 1 for GGUF files (the llama.cpp format): parse, validate,
 * and point the engine's model at the tensors.
 *
 *   struct al_ai_model m;
 *   al_ai_model_build_fd(&m, fd);          detects "GGUF" and calls the below
 *   al_ai_tokenizer_build_gguf(&t, &m);    the vocabulary embedded in the metadata
 *
 * Layout (little-endian, versions 2 and 3):
 *   "GGUF", uint32 version, uint64 tensor_count, uint64 kv_count,
 *   kv_count x {string key, uint32 type, value}, where a string is uint64
 *   length + bytes and an array is uint32 element type, uint64 count, elements;
 *   tensor_count x {string name, uint32 n_dims, n_dims x uint64 ne,
 *   uint32 ggml type, uint64 offset}; padding to general.alignment (default
 *   32); the data section, each tensor at its offset from the section start.
 * ne[0] is the innermost (contiguous) dimension: a matrix of `rows` outputs
 * over `cols` inputs is ne = {cols, rows}.
 *
 * Nothing is trusted: every count, length, dimension, offset and type is
 * checked against the bytes that remain and against the limits below, with
 * overflow-safe arithmetic, before it is used; tensors must lie inside the
 * data section without overlapping, names and keys must be unique.
 *
 * RoPE: GGUF "llama" tensors are in the original interleaved layout (the
 * engine rotates adjacent pairs, as llama.cpp's "norm" rope does for this
 * architecture). The Hugging Face converter permutes wq/wk only to undo the
 * rotate-half layout of HF checkpoints; llama2.c checkpoints are already
 * interleaved, so tools/gguf_export.py writes them unpermuted and this loader
 * reads them as they are.
 */
#ifndef AL_AI_GGUF_H
#define AL_AI_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/ai/model.h"
#include "workers/ai/tokenizer.h"

#define AL_GGUF_MAGIC 0x46554747u /* "GGUF" */
#define AL_GGUF_MAX_TENSORS 65536
#define AL_GGUF_MAX_KV 65536
#define AL_GGUF_MAX_KEY 256          /* bytes of a key */
#define AL_GGUF_MAX_NAME 64          /* bytes of a tensor name (ggml's limit) */
#define AL_GGUF_MAX_STRING (1u << 20) /* bytes of a string value */
#define AL_GGUF_MAX_ARRAY (1u << 24) /* elements of an array */
#define AL_GGUF_MAX_DEPTH 2          /* arrays of arrays, no deeper */
#define AL_GGUF_MAX_DIMS 4
#define AL_GGUF_MAX_ALIGN 65536
#define AL_GGUF_DEFAULT_ALIGN 32
#define AL_GGUF_QK 32                /* values per Q8_0 / Q4_0 block */

/* Metadata value types. */
enum al_gguf_vtype {
	AL_GGUF_U8 = 0, AL_GGUF_I8 = 1, AL_GGUF_U16 = 2, AL_GGUF_I16 = 3, AL_GGUF_U32 = 4,
	AL_GGUF_I32 = 5, AL_GGUF_F32 = 6, AL_GGUF_BOOL = 7, AL_GGUF_STRING = 8, AL_GGUF_ARRAY = 9,
	AL_GGUF_U64 = 10, AL_GGUF_I64 = 11, AL_GGUF_F64 = 12,
	AL_GGUF_VTYPE_COUNT = 13,
};

/* ggml tensor types this engine computes with; any other is refused. */
enum al_gguf_ttype {
	AL_GGML_F32 = 0, AL_GGML_F16 = 1, AL_GGML_Q4_0 = 2, AL_GGML_Q8_0 = 8,
	AL_GGML_TYPE_COUNT = 40, /* ids at or above are out of range */
};

struct al_gguf_kv {
	const uint8_t *key;  /* into the mapping, key_len bytes, not NUL-terminated */
	uint32_t key_len;
	uint32_t type;       /* enum al_gguf_vtype */
	uint32_t arr_type;   /* element type of an array */
	uint64_t n;          /* array count, or string length */
	size_t val_off;      /* file offset of the string bytes or first array element */
	union {
		uint64_t u;
		int64_t i;
		double f;
	} num;               /* a scalar's value, widened */
};

struct al_gguf_tensor {
	const uint8_t *name;
	uint32_t name_len;
	uint32_t n_dims;
	uint64_t ne[AL_GGUF_MAX_DIMS]; /* unused dimensions are 1 */
	uint32_t type;       /* enum al_gguf_ttype */
	uint64_t off;        /* from the start of the data section */
	size_t size;         /* bytes */
	const uint8_t *data;
};

struct al_gguf {
	uint32_t version;
	uint32_t alignment;
	size_t n_kv, n_tensors;
	struct al_gguf_kv *kv;
	struct al_gguf_tensor *t;
	struct al_gguf_tensor **by_name; /* sorted, for lookup */
	const uint8_t *map;
	size_t len;
	size_t data_off;     /* start of the data section */
};

/* Parses and validates the container (not the architecture). 0, -EINVAL
 * (err, of errlen bytes, names the field) or -ENOMEM. buf must outlive g. */
int al_gguf_parse(struct al_gguf *g, const void *buf, size_t len, char *err, size_t errlen);
void al_gguf_free(struct al_gguf *g);

const struct al_gguf_kv *al_gguf_find(const struct al_gguf *g, const char *key);
const struct al_gguf_tensor *al_gguf_tensor(const struct al_gguf *g, const char *name);

/* Bytes of n values of a tensor type, or 0 for an unknown type or a count
 * that is not a whole number of blocks. */
size_t al_gguf_type_size(uint32_t type, uint64_t n, bool *ok);
const char *al_gguf_type_name(uint32_t type);

/* Whether buf (len bytes: the file's first 4 suffice) starts with "GGUF". */
bool al_gguf_is(const void *buf, size_t len);

/* Called by al_ai_model_build_mem() for a buffer that starts with "GGUF":
 * the "llama" architecture, its hyperparameters and every tensor it needs. */
int al_ai_model_build_gguf(struct al_ai_model *m, const void *buf, size_t len);

/* The tokenizer embedded in a GGUF model's metadata (tokenizer.ggml.*),
 * validated like tokenizer.bin: one token per vocabulary entry, bounded lengths. */
int al_ai_tokenizer_build_gguf(struct al_ai_tokenizer *t, const struct al_ai_model *m);

/* IEEE half to float (exact). */
float al_gguf_half(uint16_t h);

#endif
