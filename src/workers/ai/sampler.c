#include "workers/ai/sampler.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int al_ai_sampler_build(struct al_ai_sampler *s, int vocab_size, float temperature, float topp, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	/* !(x >= 0) also refuses NaN. */
	if (vocab_size < 1 || !(temperature >= 0.0f) || !(topp >= 0.0f && topp <= 1.0f) || seed == 0)
		return -EINVAL;
	s->probindex = calloc((size_t)vocab_size, sizeof(*s->probindex));
	if (!s->probindex)
		return -ENOMEM;
	s->vocab_size = vocab_size;
	s->temperature = temperature;
	s->topp = topp;
	s->rng = seed;
	return 0;
}

void al_ai_sampler_free(struct al_ai_sampler *s)
{
	free(s->probindex);
	s->probindex = NULL;
}

/* xorshift64*: the same stream as llama2.c for the same seed. */
static uint32_t rand_u32(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return (uint32_t)((*state * 0x2545F4914F6CDD1Dull) >> 32);
}

/* Uniform in [0, 1) with 24 bits. */
static float rand_f32(uint64_t *state)
{
	return (float)(rand_u32(state) >> 8) / 16777216.0f;
}

/*
 * The maximum is taken in 16 lanes (max is exact in any order); the sum stays
 * sequential, in the reference order, so the probabilities are bit-identical.
 */
void al_ai_softmax(float *x, int n)
{
	float lane[16], max, sum = 0.0f;
	int nb = n - n % 16;

	for (int k = 0; k < 16; k++)
		lane[k] = x[0];
	for (int i = 0; i < nb; i += 16)
		for (int k = 0; k < 16; k++)
			lane[k] = x[i + k] > lane[k] ? x[i + k] : lane[k];
	max = lane[0];
	for (int k = 1; k < 16; k++)
		max = lane[k] > max ? lane[k] : max;
	for (int i = nb; i < n; i++)
		max = x[i] > max ? x[i] : max;
	for (int i = 0; i < n; i++)
		x[i] = expf(x[i] - max);
	for (int i = 0; i < n; i++)
		sum += x[i];
	for (int i = 0; i < n; i++)
		x[i] /= sum;
}

static int argmax(const float *p, int n)
{
	int best = 0;
	for (int i = 1; i < n; i++)
		if (p[i] > p[best])
			best = i;
	return best;
}

static int sample_mult(const float *p, int n, float coin)
{
	float cdf = 0.0f;
	for (int i = 0; i < n; i++) {
		cdf += p[i];
		if (coin < cdf)
			return i;
	}
	return n - 1; /* rounding */
}

static int cmp_prob_desc(const void *a, const void *b)
{
	const struct al_ai_prob *x = a, *y = b;
	if (x->prob > y->prob)
		return -1;
	if (x->prob < y->prob)
		return 1;
	return 0;
}

/* Nucleus sampling: the smallest set of most likely tokens whose mass
 * exceeds topp. Tokens below (1 - topp) / (n - 1) can never be in it, so
 * they are dropped before the sort. */
static int sample_topp(struct al_ai_sampler *s, const float *p, float coin)
{
	int n = s->vocab_size, n0 = 0, last;
	float cutoff = n > 1 ? (1.0f - s->topp) / (float)(n - 1) : 0.0f;
	float cum = 0.0f, r, cdf = 0.0f;

	for (int i = 0; i < n; i++)
		if (p[i] >= cutoff)
			s->probindex[n0++] = (struct al_ai_prob){ .prob = p[i], .index = i };
	if (n0 == 0)
		return argmax(p, n);
	qsort(s->probindex, (size_t)n0, sizeof(*s->probindex), cmp_prob_desc);
	last = n0 - 1;
	for (int i = 0; i < n0; i++) {
		cum += s->probindex[i].prob;
		if (cum > s->topp) {
			last = i;
			break;
		}
	}
	r = coin * cum;
	for (int i = 0; i <= last; i++) {
		cdf += s->probindex[i].prob;
		if (r < cdf)
			return s->probindex[i].index;
	}
	return s->probindex[last].index;
}

int al_ai_sample(struct al_ai_sampler *s, float *logits)
{
	if (s->temperature == 0.0f)
		return argmax(logits, s->vocab_size);
	for (int i = 0; i < s->vocab_size; i++)
		logits[i] /= s->temperature;
	al_ai_softmax(logits, s->vocab_size);
	float coin = rand_f32(&s->rng);
	if (s->topp <= 0.0f || s->topp >= 1.0f)
		return sample_mult(logits, s->vocab_size, coin);
	return sample_topp(s, logits, coin);
}
