/* sample: next-token choice from logits: greedy, or temperature with top-k, top-p, min-p; seeded. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/sample.h"

#include <math.h>
#include <stdlib.h>

struct cand {
  float logit;
  int32_t id;
};

struct sampler {
  struct sample_params p;
  uint32_t n_vocab;
  struct cand *c;
  double *prob;
  struct sample_rng rng;
};

void sample_params_default(struct sample_params *p) {
  p->temperature = 0;
  p->top_k = 0;
  p->top_p = 1.0f;
  p->min_p = 0;
  p->seed = 0;
}

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void sample_rng_seed(struct sample_rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sample_rng_next(struct sample_rng *r) {
  uint64_t *s = r->s;
  uint64_t out = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return out;
}

double sample_rng_uniform(struct sample_rng *r) { return (double)(sample_rng_next(r) >> 11) * 0x1p-53; }

int sampler_new(const struct sample_params *p, uint32_t n_vocab, struct sampler **out, struct err *e) {
  *out = NULL;
  if (n_vocab == 0) return err_set(e, ERR_INVALID, "sampler: empty vocabulary");
  if (!isfinite(p->temperature) || p->temperature > 1000)
    return err_set(e, ERR_INVALID, "sampler: temperature %g is not a number in [0, 1000]", (double)p->temperature);
  if (!(p->top_p > 0 && p->top_p <= 1))
    return err_set(e, ERR_INVALID, "sampler: top_p %g is outside (0, 1]", (double)p->top_p);
  if (!(p->min_p >= 0 && p->min_p <= 1))
    return err_set(e, ERR_INVALID, "sampler: min_p %g is outside [0, 1]", (double)p->min_p);
  struct sampler *s = calloc(1, sizeof(*s));
  if (!s) return err_set(e, ERR_NOMEM, "sampler: out of memory");
  s->p = *p;
  s->n_vocab = n_vocab;
  s->c = malloc((size_t)n_vocab * sizeof(*s->c));
  s->prob = malloc((size_t)n_vocab * sizeof(*s->prob));
  if (!s->c || !s->prob) {
    sampler_free(s);
    return err_set(e, ERR_NOMEM, "sampler: out of memory");
  }
  sample_rng_seed(&s->rng, p->seed);
  *out = s;
  return 0;
}

void sampler_free(struct sampler *s) {
  if (!s) return;
  free(s->c);
  free(s->prob);
  free(s);
}

/* The first index of the largest logit (NaN never wins, unless logits[0] is NaN: then 0).
 * Eight independent lanes (i = j mod 8), each keeping its first maximum, then the largest of
 * them, ties to the lower index: the same answer as one pass, without one long chain of
 * dependent compares. Greedy sampling runs it on the engine thread over the whole vocabulary
 * (151,936 logits) for every sequence of a step, while the pool's other threads wait. */
#define ARGMAX_LANES 8u
int32_t sample_argmax(const float *logits, uint32_t n) {
  float bv[ARGMAX_LANES];
  uint32_t bi[ARGMAX_LANES];
  for (uint32_t j = 0; j < ARGMAX_LANES; j++) {
    bv[j] = logits[0];
    bi[j] = 0;
  }
  uint32_t i = 1;
  for (; i + ARGMAX_LANES <= n; i += ARGMAX_LANES)
    for (uint32_t j = 0; j < ARGMAX_LANES; j++)
      if (logits[i + j] > bv[j]) {
        bv[j] = logits[i + j];
        bi[j] = i + j;
      }
  for (; i < n; i++)
    if (logits[i] > bv[0]) {
      bv[0] = logits[i];
      bi[0] = i;
    }
  uint32_t best = 0;
  for (uint32_t j = 1; j < ARGMAX_LANES; j++)
    if (bv[j] > bv[best] || (bv[j] == bv[best] && bi[j] < bi[best])) best = j;
  return (int32_t)bi[best];
}

void sample_log_softmax(const float *logits, float *out, uint32_t n) {
  float mx = logits[0];
  for (uint32_t i = 1; i < n; i++) mx = fmaxf(mx, logits[i]);
  double sum = 0;
  for (uint32_t i = 0; i < n; i++) sum += exp((double)logits[i] - mx);
  double lse = mx + log(sum);
  for (uint32_t i = 0; i < n; i++) out[i] = (float)((double)logits[i] - lse);
}

/* Descending by logit, then ascending by id, so the order (and the draw) is deterministic. */
static int cand_cmp(const void *a, const void *b) {
  const struct cand *x = a, *y = b;
  if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

int32_t sampler_next(struct sampler *s, const float *logits) {
  uint32_t n = s->n_vocab;
  if (s->p.temperature <= 0) return sample_argmax(logits, n);
  for (uint32_t i = 0; i < n; i++) {
    /* NaN logits never win: they sort last with the lowest value. */
    float l = logits[i] / s->p.temperature;
    s->c[i].logit = isnan(l) ? -INFINITY : l;
    s->c[i].id = (int32_t)i;
  }
  qsort(s->c, n, sizeof(*s->c), cand_cmp);
  uint32_t keep = n;
  if (s->p.top_k > 0 && s->p.top_k < keep) keep = s->p.top_k;
  double sum = 0, mx = s->c[0].logit;
  if (!isfinite(mx)) return s->c[0].id;
  for (uint32_t i = 0; i < keep; i++) sum += s->prob[i] = exp((double)s->c[i].logit - mx);
  if (s->p.top_p < 1) {
    double acc = 0;
    for (uint32_t i = 0; i < keep; i++) {
      acc += s->prob[i];
      if (acc >= (double)s->p.top_p * sum) {
        keep = i + 1;
        break;
      }
    }
  }
  if (s->p.min_p > 0) {
    /* prob[0] is the top probability (unnormalized: exp(0) = 1). */
    uint32_t k = 1;
    while (k < keep && s->prob[k] >= (double)s->p.min_p * s->prob[0]) k++;
    keep = k;
  }
  sum = 0;
  for (uint32_t i = 0; i < keep; i++) sum += s->prob[i];
  double r = sample_rng_uniform(&s->rng) * sum;
  for (uint32_t i = 0; i < keep; i++) {
    r -= s->prob[i];
    if (r < 0) return s->c[i].id;
  }
  return s->c[keep - 1].id;
}
