/* openai_request: checks and rewrites OpenAI-style request bodies on the client and the worker. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_OPENAI_REQUEST_H
#define COCOON_OPENAI_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Hard limits, stated once for the module. */
#define OPENAI_MAX_REQUEST_BYTES ((size_t)8 << 20) /* request body accepted by either side */
#define OPENAI_MAX_MODELS_BYTES ((size_t)4 << 20)  /* a backend's /v1/models answer */
#define OPENAI_MAX_MODEL_NAME 256                  /* bytes of a model name, without NUL */
#define OPENAI_MAX_GUID 256                        /* bytes of request_guid, without NUL */

/* Client-side defaults (COCOON's ClientRunningRequest). */
#define OPENAI_DEFAULT_MAX_COEFFICIENT 4000 /* 4.0x the base price */
#define OPENAI_DEFAULT_TIMEOUT_S 120.0
#define OPENAI_MAX_TIMEOUT_S 3600.0 /* larger values are clamped to this */
#define OPENAI_DEFAULT_MAX_TOKENS 1000

enum openai_endpoint {
  OPENAI_EP_UNKNOWN = 0,
  OPENAI_EP_CHAT,        /* /v1/chat/completions */
  OPENAI_EP_COMPLETIONS, /* /v1/completions */
};

/* Maps a request path to an endpoint. Like COCOON, the path starts at the first '/', so
 * "http://h/v1/completions" is not recognised; a query string is not accepted either. */
enum openai_endpoint openai_endpoint_from_path(const char *path, size_t len);

/* Length of the base name of a full model name: the bytes before the first '@'
 * ("Qwen/Qwen3-8B@sha" -> 13), or strlen(full) when there is no '@'. */
size_t openai_model_base_len(const char *full);

/* Result of openai_client_prepare. Owns every pointer; release with openai_client_req_free. */
/* Most choices (`n`) a request may ask for. */
#define OPENAI_MAX_CHOICES 128

struct openai_client_req {
  char *body;              /* compact JSON to forward, NUL-terminated (body_len excludes it) */
  size_t body_len;
  char *model;             /* value of "model" */
  char *request_guid;      /* NULL when absent */
  uint32_t max_coefficient; /* <= INT32_MAX; default OPENAI_DEFAULT_MAX_COEFFICIENT */
  double timeout_s;        /* in (0, OPENAI_MAX_TIMEOUT_S]; default OPENAI_DEFAULT_TIMEOUT_S */
  int32_t max_tokens;      /* reservation size: max_tokens x n; default OPENAI_DEFAULT_MAX_TOKENS
                            * (not injected) */
  bool enable_debug;
  enum openai_endpoint endpoint; /* OPENAI_EP_UNKNOWN for other paths (forwarded anyway) */
};

/* Client side: parses the app's body (borrowed), strips the client-only fields max_coefficient,
 * timeout, request_guid and enable_debug, and picks the reservation size from
 * max_completion_tokens (which then drops max_tokens from the body) or max_tokens.
 * `path` (borrowed, may be NULL) only fills out->endpoint: like COCOON the client forwards any
 * path and leaves the verdict to the worker. On failure returns ERR_PARSE (or ERR_LIMIT,
 * ERR_NOMEM), fills e with a message meant for an HTTP 400 answer, and leaves *out zeroed. */
CC_NODISCARD int openai_client_prepare(const char *path, const uint8_t *body, size_t len,
                                       struct openai_client_req *out, struct err *e);
/* Frees what *r owns and zeroes it. NULL-safe. */
void openai_client_req_free(struct openai_client_req *r);

/* Result of openai_worker_validate. Owns body; release with openai_worker_req_free. */
struct openai_worker_req {
  char *body;       /* rewritten compact JSON, NUL-terminated (body_len excludes it) */
  size_t body_len;
  bool stream;      /* the backend will answer with SSE */
  int64_t max_tokens; /* max_completion_tokens or max_tokens from the body; -1 when absent */
  enum openai_endpoint endpoint;
};

/* Worker side, COCOON's ValidateRequest: path must be /v1/chat/completions or /v1/completions,
 * the body (borrowed) a JSON object with no duplicate or unknown keys, each key of the right
 * type, and "model" equal to the base name of `worker_model` (full name, borrowed; may carry
 * "@..."). Rewrites: stream_options without stream sets stream=true; a streamed request always
 * gets stream_options.include_usage=true (we bill from the usage it makes the backend send).
 * Returns 0, or ERR_NOTFOUND (unsupported path), ERR_PARSE (bad body), ERR_REFUSED (model
 * mismatch), ERR_LIMIT or ERR_NOMEM, with a message in e; *out is zeroed on failure. */
CC_NODISCARD int openai_worker_validate(const char *path, size_t path_len, const uint8_t *body,
                                        size_t len, const char *worker_model,
                                        struct openai_worker_req *out, struct err *e);
/* Frees what *r owns and zeroes it. NULL-safe. */
void openai_worker_req_free(struct openai_worker_req *r);

/* Health check: parses a backend's /v1/models answer ({"data":[{"id":...},...]}, borrowed) and
 * sets *found when an entry's "id" equals `model` (borrowed). Returns ERR_PARSE when the
 * answer is not of that shape. */
CC_NODISCARD int openai_models_contains(const uint8_t *body, size_t len, const char *model,
                                        bool *found, struct err *e);

#endif
