/* generate: prompt token ids in, continuation out: prefill, then sample/decode until a stop. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/generate.h"

#include <stdlib.h>

int generate_run(const struct model *m, struct model_work *w, struct kv_cache *kv, struct sampler *s,
                 const int32_t *prompt, uint32_t n_prompt, const struct generate_params *p, generate_token_cb cb,
                 void *arg, struct generate_result *res, struct err *e) {
  res->n_prompt = n_prompt;
  res->n_generated = 0;
  res->finish = GENERATE_FINISH_LENGTH;
  if (n_prompt == 0) return err_set(e, ERR_INVALID, "generate: the prompt is empty");
  uint32_t V = m->hp.n_vocab;
  float *logits = malloc((size_t)V * sizeof(float));
  if (!logits) return err_set(e, ERR_NOMEM, "generate: out of memory");
  int rc = model_forward(m, w, kv, prompt, n_prompt, logits, e);
  while (rc == 0 && res->n_generated < p->max_tokens) {
    int32_t tok = sampler_next(s, logits);
    res->n_generated++;
    int r = cb ? cb(arg, tok, logits, V) : 0;
    if (r < 0) {
      rc = err_set(e, r, "generate: stopped by the caller");
      break;
    }
    if (r > 0) {
      res->finish = GENERATE_FINISH_STOP;
      break;
    }
    if (!p->ignore_eog && model_is_eog(m, tok)) {
      res->finish = GENERATE_FINISH_EOG;
      break;
    }
    if (res->n_generated == p->max_tokens || kv->n_pos >= kv->n_ctx) break;
    rc = model_forward(m, w, kv, &tok, 1, logits, e);
  }
  free(logits);
  return rc;
}
