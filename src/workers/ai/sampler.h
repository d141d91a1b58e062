/*
 * AI engine, step 3: the sampler. Picks the next token from the logits:
 * greedy (temperature 0), or softmax(logits / temperature) sampled whole or
 * restricted to the top-p nucleus. The random stream is xorshift64* from the
 * seed, so a seed always gives the same text (and the same text as llama2.c
 * for the same seed and settings).
 */
#ifndef AL_AI_SAMPLER_H
#define AL_AI_SAMPLER_H

#include <stdint.h>

struct al_ai_prob {
	float prob;
	int index;
};

struct al_ai_sampler {
	int vocab_size;
	float temperature;
	float topp;
	uint64_t rng;
	struct al_ai_prob *probindex; /* (vocab_size) scratch for top-p */
};

/* 0, -EINVAL (temperature < 0, topp outside [0, 1], seed 0) or -ENOMEM. */
int al_ai_sampler_build(struct al_ai_sampler *s, int vocab_size, float temperature, float topp, uint64_t seed);
void al_ai_sampler_free(struct al_ai_sampler *s);

/* Modifies logits in place (scaled and softmaxed when temperature > 0). */
int al_ai_sample(struct al_ai_sampler *s, float *logits);

/* Shared by forward.c: in-place softmax over n values. */
void al_ai_softmax(float *x, int n);

#endif
