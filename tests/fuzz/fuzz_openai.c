/* fuzz_openai: runs the client and worker request checks and the /v1/models parser on fuzz input. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "openai/openai_request.h"

/* The first byte picks the path (low 2 bits) and the worker's model name (next bit); the rest
 * is the body. An accepted body must come out as a body that is accepted again unchanged. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const paths[] = {"/v1/chat/completions", "/v1/completions", "/v1/models",
                                      "POST /v1/completions"};
  if (size < 1) return 0;
  const char *path = paths[data[0] & 3];
  const char *wmodel = (data[0] & 4) ? "m@1" : "m";
  const uint8_t *body = data + 1;
  size_t len = size - 1;
  struct err e;

  struct openai_client_req c;
  if (openai_client_prepare(path, body, len, &c, &e) == 0) {
    struct openai_client_req c2;
    if (openai_client_prepare(path, (const uint8_t *)c.body, c.body_len, &c2, &e) != 0) abort();
    if (strcmp(c.model, c2.model) != 0) abort();
    openai_client_req_free(&c2);
    openai_client_req_free(&c);
  }

  struct openai_worker_req w;
  if (openai_worker_validate(path, strlen(path), body, len, wmodel, &w, &e) == 0) {
    struct openai_worker_req w2;
    if (openai_worker_validate(path, strlen(path), (const uint8_t *)w.body, w.body_len, wmodel, &w2, &e) != 0)
      abort();
    if (w2.body_len != w.body_len || memcmp(w.body, w2.body, w.body_len) != 0 || w.stream != w2.stream) abort();
    openai_worker_req_free(&w2);
    openai_worker_req_free(&w);
  }

  bool found;
  if (openai_models_contains(body, len, "m", &found, &e) != 0 && found) abort();
  return 0;
}
