/*
 * llama.cpp as a peer of bench_ai: loads a prebuilt libllama (the npm
 * package @node-llama-cpp/linux-x64, as shipped) with dlopen and calls it
 * through the function types of its own llama.h, so this file is compiled
 * by bench_ai at run time against headers from outside the tree:
 *
 *   cc -O2 -I<llama.cpp>/include -I<llama.cpp>/ggml/include llama_peer.c -ldl
 *
 * Usage: llama_peer LIBDIR MODEL.gguf PROMPT STEPS THREADS RUNS FA [PROBE A B]
 * (LIBDIR as bench/ai/get-llama-cpp lays it out: libllama.so, libggml.so
 * and the CPU backend variants; FA "auto", llama.cpp's default, or "off")
 *
 * Per run, two measurements on the same context (cleared in between):
 * prefill, PROMPT tokens (BOS, then ids (i * 7919) % vocab, as bench_ai's
 * own prefill) in one llama_decode() call; decode, greedy from BOS for STEPS
 * positions, timed from the end of the first one (as run.c times itself).
 * Prints "run PREFILL DECODE" (tok/s) per run, then the greedy ids of the
 * last run on a line "tokens ...", with PROBE the logits of tokens A and B
 * at greedy step PROBE ("probe LA LB MAX MIN", MAX and MIN over the
 * vocabulary), the flash attention setting ("fa ..."), and llama.cpp's
 * system info.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml-backend.h"
#include "llama.h"
#include "peak_rss.h"

#define FN(name) static __typeof__(name) *p_##name

FN(ggml_backend_load_all_from_path);
FN(llama_backend_init);
FN(llama_log_set);
FN(llama_model_default_params);
FN(llama_context_default_params);
FN(llama_model_load_from_file);
FN(llama_init_from_model);
FN(llama_model_get_vocab);
FN(llama_vocab_n_tokens);
FN(llama_batch_get_one);
FN(llama_decode);
FN(llama_get_logits_ith);
FN(llama_get_memory);
FN(llama_memory_clear);
FN(llama_print_system_info);
FN(llama_flash_attn_type_name);
FN(llama_free);
FN(llama_model_free);

static void *sym(void *h, const char *name)
{
	void *p = dlsym(h, name);
	if (!p) {
		fprintf(stderr, "llama_peer: %s: %s\n", name, dlerror());
		exit(1);
	}
	return p;
}

#define LOAD(h, name) p_##name = (__typeof__(p_##name))sym(h, #name)

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void quiet(enum ggml_log_level level, const char *text, void *ud)
{
	(void)ud;
	if (level == GGML_LOG_LEVEL_ERROR)
		fputs(text, stderr);
}

static int argmax(const float *v, int n)
{
	int best = 0;
	for (int i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return best;
}

int main(int argc, char **argv)
{
	char path[4096];
	if (argc != 8 && argc != 11) {
		fprintf(stderr, "usage: llama_peer LIBDIR MODEL.gguf PROMPT STEPS THREADS RUNS auto|off [PROBE A B]\n");
		return 2;
	}
	const char *dir = argv[1], *model_path = argv[2];
	int prompt = atoi(argv[3]), steps = atoi(argv[4]), threads = atoi(argv[5]), runs = atoi(argv[6]);
	int probe = argc == 11 ? atoi(argv[8]) : -1, pa = argc == 11 ? atoi(argv[9]) : 0;
	int pb = argc == 11 ? atoi(argv[10]) : 0;
	bool fa_off = strcmp(argv[7], "off") == 0;
	if (prompt < 1 || steps < 2 || threads < 1 || runs < 1 || (!fa_off && strcmp(argv[7], "auto")) ||
	    probe >= steps)
		return 2;

	snprintf(path, sizeof(path), "%s/libggml.so", dir);
	void *ggml = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	snprintf(path, sizeof(path), "%s/libllama.so", dir);
	void *llama = ggml ? dlopen(path, RTLD_NOW | RTLD_GLOBAL) : NULL;
	if (!llama) {
		fprintf(stderr, "llama_peer: %s\n", dlerror());
		return 1;
	}
	LOAD(ggml, ggml_backend_load_all_from_path);
	LOAD(llama, llama_backend_init);
	LOAD(llama, llama_log_set);
	LOAD(llama, llama_model_default_params);
	LOAD(llama, llama_context_default_params);
	LOAD(llama, llama_model_load_from_file);
	LOAD(llama, llama_init_from_model);
	LOAD(llama, llama_model_get_vocab);
	LOAD(llama, llama_vocab_n_tokens);
	LOAD(llama, llama_batch_get_one);
	LOAD(llama, llama_decode);
	LOAD(llama, llama_get_logits_ith);
	LOAD(llama, llama_get_memory);
	LOAD(llama, llama_memory_clear);
	LOAD(llama, llama_print_system_info);
	LOAD(llama, llama_flash_attn_type_name);
	LOAD(llama, llama_free);
	LOAD(llama, llama_model_free);

	p_llama_log_set(quiet, NULL);
	/* The CPU backend variants ship as separate libraries; the best one for this CPU is picked. */
	p_ggml_backend_load_all_from_path(dir);
	p_llama_backend_init();
	struct llama_model_params mp = p_llama_model_default_params();
	double t_start = now(), t_ready = 0.0, t_first = 0.0;
	struct llama_model *model = p_llama_model_load_from_file(model_path, mp);
	if (!model) {
		fprintf(stderr, "llama_peer: %s: not loaded\n", model_path);
		return 1;
	}
	int vocab = p_llama_vocab_n_tokens(p_llama_model_get_vocab(model));
	if (pa < 0 || pa >= vocab || pb < 0 || pb >= vocab)
		return 2;
	struct llama_context_params cp = p_llama_context_default_params();
	cp.n_ctx = (uint32_t)(prompt > steps ? prompt : steps);
	cp.n_batch = cp.n_ubatch = (uint32_t)prompt;
	cp.n_threads = cp.n_threads_batch = threads;
	if (fa_off)
		cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
	struct llama_context *ctx = p_llama_init_from_model(model, cp);
	if (!ctx) {
		fprintf(stderr, "llama_peer: no context\n");
		return 1;
	}
	t_ready = now();
	llama_token *ids = calloc((size_t)(prompt > steps ? prompt : steps), sizeof(*ids));
	for (int r = 0; r < runs; r++) {
		for (int i = 0; i < prompt; i++)
			ids[i] = i ? (llama_token)((unsigned)i * 7919u % (unsigned)vocab) : 1;
		p_llama_memory_clear(p_llama_get_memory(ctx), true);
		double t0 = now();
		if (p_llama_decode(ctx, p_llama_batch_get_one(ids, prompt)))
			return 1;
		(void)p_llama_get_logits_ith(ctx, -1);
		double pre = prompt / (now() - t0);
		if (r == 0)
			t_first = now();

		p_llama_memory_clear(p_llama_get_memory(ctx), true);
		llama_token tok = 1;
		double t1 = 0.0;
		for (int pos = 0; pos < steps; pos++) {
			ids[pos] = tok;
			if (p_llama_decode(ctx, p_llama_batch_get_one(&tok, 1)))
				return 1;
			tok = argmax(p_llama_get_logits_ith(ctx, -1), vocab);
			if (pos == 0)
				t1 = now();
		}
		printf("run %.1f %.1f\n", pre, (steps - 1) / (now() - t1));
	}
	/* Start-up (load to a ready context; to the first prompt's logits), ms, and the peak RSS, KiB. */
	printf("start %.2f %.2f %ld\n", 1e3 * (t_ready - t_start), 1e3 * (t_first - t_start), vm_hwm_kib());
	printf("tokens");
	for (int i = 1; i < steps; i++)
		printf(" %d", ids[i]);
	printf("\n");
	if (probe >= 0) {
		/* The same greedy steps again, up to the one asked about. */
		p_llama_memory_clear(p_llama_get_memory(ctx), true);
		llama_token tok = 1;
		for (int pos = 0; pos <= probe; pos++) {
			if (p_llama_decode(ctx, p_llama_batch_get_one(&tok, 1)))
				return 1;
			const float *l = p_llama_get_logits_ith(ctx, -1);
			if (pos == probe) {
				float mx = l[0], mn = l[0];
				for (int i = 1; i < vocab; i++) {
					mx = l[i] > mx ? l[i] : mx;
					mn = l[i] < mn ? l[i] : mn;
				}
				printf("probe %.9g %.9g %.9g %.9g\n", l[pa], l[pb], mx, mn);
			}
			tok = argmax(l, vocab);
		}
	}
	printf("fa %s\n", p_llama_flash_attn_type_name(cp.flash_attn_type));
	printf("system %s\n", p_llama_print_system_info());
	free(ids);
	p_llama_free(ctx);
	p_llama_model_free(model);
	return 0;
}
