/*
 * llama.cpp's tokenizer as a reference for airlock's: loads a prebuilt
 * libllama (bench/ai/get-llama-cpp lays it out) with dlopen, reads a GGUF
 * file's vocabulary only, and tokenizes each line of standard input (the
 * text as hexadecimal bytes, so any byte can be given) as llama.cpp's own
 * tools do (add_special: BOS; parse_special off). Prints one line per
 * input line: the ids, separated by spaces. Compiled at run time by
 * bench/ai/gen-tokenizer-cases against llama.cpp's headers:
 *
 *   cc -O2 -I<llama.cpp>/include llama_tokenize.c -ldl
 *
 * Usage: llama_tokenize LIBDIR VOCAB.gguf < texts
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml-backend.h"
#include "llama.h"

#define FN(name) static __typeof__(name) *p_##name

FN(ggml_backend_load_all_from_path);
FN(llama_backend_init);
FN(llama_log_set);
FN(llama_model_default_params);
FN(llama_model_load_from_file);
FN(llama_model_get_vocab);
FN(llama_tokenize);
FN(llama_model_free);

static void *sym(void *h, const char *name)
{
	void *p = dlsym(h, name);
	if (!p) {
		fprintf(stderr, "llama_tokenize: %s: %s\n", name, dlerror());
		exit(1);
	}
	return p;
}

#define LOAD(h, name) p_##name = (__typeof__(p_##name))sym(h, #name)

static void quiet(enum ggml_log_level level, const char *text, void *ud)
{
	(void)ud;
	if (level == GGML_LOG_LEVEL_ERROR)
		fputs(text, stderr);
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int main(int argc, char **argv)
{
	char path[4096], line[8192], text[4096];
	llama_token ids[16384];
	if (argc != 3) {
		fprintf(stderr, "usage: llama_tokenize LIBDIR VOCAB.gguf < texts\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/libggml.so", argv[1]);
	void *ggml = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	snprintf(path, sizeof(path), "%s/libllama.so", argv[1]);
	void *llama = ggml ? dlopen(path, RTLD_NOW | RTLD_GLOBAL) : NULL;
	if (!llama) {
		fprintf(stderr, "llama_tokenize: %s\n", dlerror());
		return 1;
	}
	LOAD(ggml, ggml_backend_load_all_from_path);
	LOAD(llama, llama_backend_init);
	LOAD(llama, llama_log_set);
	LOAD(llama, llama_model_default_params);
	LOAD(llama, llama_model_load_from_file);
	LOAD(llama, llama_model_get_vocab);
	LOAD(llama, llama_tokenize);
	LOAD(llama, llama_model_free);
	p_llama_log_set(quiet, NULL);
	p_ggml_backend_load_all_from_path(argv[1]);
	p_llama_backend_init();
	struct llama_model_params mp = p_llama_model_default_params();
	mp.vocab_only = true;
	struct llama_model *model = p_llama_model_load_from_file(argv[2], mp);
	if (!model) {
		fprintf(stderr, "llama_tokenize: %s: not loaded\n", argv[2]);
		return 1;
	}
	const struct llama_vocab *vocab = p_llama_model_get_vocab(model);
	while (fgets(line, sizeof(line), stdin)) {
		size_t n = 0;
		for (size_t i = 0; hexval(line[i]) >= 0 && hexval(line[i + 1]) >= 0 && n < sizeof(text); i += 2)
			text[n++] = (char)(hexval(line[i]) * 16 + hexval(line[i + 1]));
		int k = p_llama_tokenize(vocab, text, (int32_t)n, ids, (int32_t)(sizeof(ids) / sizeof(ids[0])), true, false);
		if (k < 0) {
			fprintf(stderr, "llama_tokenize: a text of %zu bytes did not tokenize (%d)\n", n, k);
			return 1;
		}
		for (int i = 0; i < k; i++)
			printf(i ? " %d" : "%d", ids[i]);
		printf("\n");
	}
	p_llama_model_free(model);
	return 0;
}
