/*
 * Fuzz target: the tokenizer loader. Input: int32 vocab_size (as the model
 * header would give it), then the tokenizer file. An accepted tokenizer
 * encodes a fixed text and the input's own bytes, and decodes every id.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "workers/ai/tokenizer.h"

static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_ai_tokenizer t;
	int32_t vocab;
	if (size < 4)
		return 0;
	memcpy(&vocab, data, 4);
	if (al_ai_tokenizer_build_mem(&t, data + 4, size - 4, vocab))
		return 0;

	char text[257];
	size_t tl = size - 4 < 256 ? size - 4 : 256;
	memcpy(text, data + 4, tl);
	text[tl] = '\0';
	const char *texts[] = { "Once upon a time", text, "\xd0\xb6\xf0\x9f\x98\x80 \x80\x80\x80\x80\x80" };
	int ids[300];
	size_t n;
	for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
		if (al_ai_tokenizer_encode(&t, texts[k], true, true, ids, 300, &n) == 0) {
			for (size_t i = 0; i < n; i++)
				if (ids[i] < 0 || ids[i] >= (vocab > 2 ? vocab : 3))
					abort();
			sink += n;
		}
	}
	for (int i = 0; i < t.vocab_size; i++) {
		const char *p;
		size_t l;
		al_ai_tokenizer_decode(&t, i ? i - 1 : 1, i, &p, &l);
		if (l)
			sink += (unsigned char)p[l - 1];
	}
	al_ai_tokenizer_free(&t);
	return 0;
}
