/* generate: prompt token ids in, continuation out: prefill, then sample/decode until a stop. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_GENERATE_H
#define COCOON_ENGINE_GENERATE_H

#include <stdint.h>

#include "base/err.h"
#include "engine/kv.h"
#include "engine/model.h"
#include "engine/sample.h"

/* Called for each generated token with the logits it was chosen from (n_vocab floats, valid
 * during the call). Return 0 to go on, 1 to stop after this token, or a negative ERR_* to
 * abort generate_run with that code. */
typedef int (*generate_token_cb)(void *arg, int32_t token, const float *logits, uint32_t n_vocab);

enum generate_finish {
  GENERATE_FINISH_LENGTH = 0, /* max_tokens reached or the context is full */
  GENERATE_FINISH_EOG = 1,    /* the model produced an end-of-generation token */
  GENERATE_FINISH_STOP = 2,   /* the callback asked to stop */
};

struct generate_params {
  uint32_t max_tokens; /* tokens to generate at most */
  int ignore_eog;      /* 1: keep going through end-of-generation tokens (tests) */
};

struct generate_result {
  uint32_t n_prompt;
  uint32_t n_generated; /* tokens passed to the callback, an end-of-generation token included */
  enum generate_finish finish;
};

/* Evaluates prompt[0..n_prompt) (n_prompt >= 1) after what kv holds and generates up to
 * max_tokens, choosing each with `s`. An end-of-generation token is reported to the callback
 * (it may want to know) and then ends the run unless ignore_eog. Borrows everything. */
CC_NODISCARD int generate_run(const struct model *m, struct model_work *w, struct kv_cache *kv, struct sampler *s,
                              const int32_t *prompt, uint32_t n_prompt, const struct generate_params *p,
                              generate_token_cb cb, void *arg, struct generate_result *res, struct err *e);

#endif
