/* sample: next-token choice from logits: greedy, or temperature with top-k, top-p, min-p; seeded. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_SAMPLE_H
#define COCOON_ENGINE_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Temperature <= 0 means greedy (the first token of highest logit). Otherwise the logits are
 * divided by the temperature, then filtered in this order: top-k (0 = off), top-p (1 = off:
 * the smallest set of most likely tokens whose probability reaches p), min-p (0 = off: drop
 * tokens below min_p times the top probability); one token is drawn from what is left. */
struct sample_params {
  float temperature;
  uint32_t top_k;
  float top_p;
  float min_p;
  uint64_t seed;
};

/* Default parameters: greedy, filters off, seed 0. */
void sample_params_default(struct sample_params *p);

struct sampler;

/* A sampler for a vocabulary of n_vocab tokens (owns its scratch); ERR_INVALID for parameters
 * out of range (temperature not finite, top_p outside (0,1], min_p outside [0,1]). */
CC_NODISCARD int sampler_new(const struct sample_params *p, uint32_t n_vocab, struct sampler **out, struct err *e);
void sampler_free(struct sampler *s);

/* Chooses the next token from logits[0..n_vocab) (not modified). */
int32_t sampler_next(struct sampler *s, const float *logits);

/* Index of the largest value (the first one on ties). */
int32_t sample_argmax(const float *logits, uint32_t n);

/* Writes log-softmax of logits[0..n) into out. */
void sample_log_softmax(const float *logits, float *out, uint32_t n);

/* The seeded generator used by the sampler (xoshiro256**, seeded through splitmix64). */
struct sample_rng {
  uint64_t s[4];
};
void sample_rng_seed(struct sample_rng *r, uint64_t seed);
uint64_t sample_rng_next(struct sample_rng *r);
/* Uniform in [0, 1). */
double sample_rng_uniform(struct sample_rng *r);

#endif
