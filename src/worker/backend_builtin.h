/* backend_builtin: the worker's in-process backend: OpenAI chat/completions on the engine. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_WORKER_BACKEND_BUILTIN_H
#define COCOON_WORKER_BACKEND_BUILTIN_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "openai/openai_request.h"

#define BUILTIN_MAX_N 16u /* choices of one request ("n") */

struct loop;
struct builtin;
struct builtin_req;

struct builtin_opts {
  const char *model_path; /* GGUF file */
  uint32_t threads;       /* matrix-product threads, the engine thread included */
  uint32_t max_seqs;      /* sequences decoded together (continuous batching) */
  uint32_t n_ctx;         /* context of each sequence; 0: the model's, at most 8192 */
  uint32_t max_batch;     /* tokens per forward pass; 0: 512 */
};

/* Loads the model and starts the engine thread; its events come back on `loop` (borrowed). */
CC_NODISCARD int builtin_new(struct loop *loop, const struct builtin_opts *o, struct builtin **out,
                             struct err *e);
void builtin_free(struct builtin *b);

/* general.name of the model, else the file name without its directory and ".gguf". */
const char *builtin_model_name(const struct builtin *b);
/* One line for logs and /jsonstats: architecture, shape, chat template. */
const char *builtin_describe(const struct builtin *b);

struct buf;
/* Appends `,"engine":{...}` (model, scheduler counters) to a /jsonstats object. */
CC_NODISCARD int builtin_stats_json(struct builtin *b, struct buf *out);

/* What a request reports, always on the loop thread and never from inside builtin_start.
 * on_start comes once, before any data; on_data returns 0, or nonzero when the caller gave
 * the request up (nothing more is called then and the request frees itself); on_done comes
 * last, with result 0 and the exact token counts, or an error. A request the engine refuses
 * (bad field, prompt too long) is an answer: status 400 and an OpenAI error object. */
struct builtin_cbs {
  void (*on_start)(void *arg, int status, const char *content_type);
  int (*on_data)(void *arg, const uint8_t *data, size_t len);
  void (*on_done)(void *arg, int result, const char *errmsg, int64_t prompt_tokens, int64_t completion_tokens);
};

/* Starts a validated request (body borrowed: the worker's rewritten JSON). After timeout_ms
 * (0: none) it ends with on_done(ERR_TIMEOUT) and its sequences stop. ERR_NOMEM only. */
CC_NODISCARD int builtin_start(struct builtin *b, enum openai_endpoint ep, const char *body, size_t len,
                               uint32_t timeout_ms, const struct builtin_cbs *cbs, void *arg,
                               struct builtin_req **out);
/* Stops a request; no callback comes after this. NULL-safe. */
void builtin_cancel(struct builtin_req *r);

#endif
