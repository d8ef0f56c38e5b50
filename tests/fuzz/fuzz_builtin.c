/* fuzz_builtin: request bodies through the worker's checks into the built-in engine backend. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "engine/quant.h"
#include "engine/testmodel.h"
#include "loop/loop.h"
#include "openai/openai_request.h"
#include "worker/backend_builtin.h"

/* One engine on a micro qwen3 model (ChatML with the thinking switch, context 128) for the
 * whole run; each input is a request: the first byte picks the endpoint, the rest is the body.
 * What the worker accepts must be answered exactly once: status first, then a 200 body that is
 * one JSON object or an SSE stream ending in [DONE], or a 400 with an error object. */
static struct loop *g_loop;
static struct builtin *g_b;

struct outcome {
  int status, started, done, result;
  struct buf body;
};

static void start_cb(void *arg, int status, const char *ct) {
  struct outcome *o = arg;
  if (o->started || o->done) abort();
  o->started = 1;
  o->status = status;
  (void)ct;
}
static int data_cb(void *arg, const uint8_t *d, size_t n) {
  struct outcome *o = arg;
  if (!o->started || o->done) abort();
  return buf_append(&o->body, d, n) ? 1 : 0;
}
static void done_cb(void *arg, int result, const char *msg, int64_t p, int64_t c) {
  struct outcome *o = arg;
  if (o->done) abort();
  o->done = 1;
  o->result = result;
  (void)msg;
  if (result == 0 && o->status == 200 && (p < 1 || c < 1)) abort();
}

static void setup(void) {
  char path[] = "/tmp/fuzz_builtin.XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) {
    perror("fuzz_builtin: mkstemp");
    abort();
  }
  close(fd);
  struct testmodel_opts mo = {.arch = "qwen3", .preset = "micro", .type = QUANT_F32, .seed = 1, .tied = -1};
  struct err e = {0};
  if (testmodel_write_file(&mo, path, &e) != 0) {
    fprintf(stderr, "fuzz_builtin: %s\n", e.msg);
    abort();
  }
  if (loop_new(&g_loop) != 0) abort();
  struct builtin_opts o = {.model_path = path, .threads = 1, .max_seqs = 4, .n_ctx = 0, .max_batch = 32};
  if (builtin_new(g_loop, &o, &g_b, &e) != 0) abort();
  unlink(path); /* the mapping stays valid */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_b) setup();
  if (size < 1) return 0;
  const char *path = (data[0] & 1) ? "/v1/completions" : "/v1/chat/completions";
  struct openai_worker_req vr;
  struct err e = {0};
  if (openai_worker_validate(path, strlen(path), data + 1, size - 1, "m", &vr, &e) != 0) return 0;
  struct outcome o;
  memset(&o, 0, sizeof(o));
  buf_init(&o.body, 0);
  static const struct builtin_cbs cbs = {start_cb, data_cb, done_cb};
  struct builtin_req *r = NULL;
  if (builtin_start(g_b, vr.endpoint, vr.body, vr.body_len, 0, &cbs, &o, &r) != 0) abort();
  int stream = vr.stream;
  openai_worker_req_free(&vr);
  /* Cancelling before the start must be clean too (every 4th input). */
  if ((data[0] & 6) == 6) {
    builtin_cancel(r);
    (void)loop_run_once(g_loop, 0);
    buf_free(&o.body);
    return 0;
  }
  while (!o.done)
    if (loop_run_once(g_loop, 1000) < 0) abort();
  if (o.result == 0) {
    const char *b = o.body.len ? (const char *)buf_ptr(&o.body) : "";
    if (o.status == 200 && stream) {
      if (o.body.len < 14 || memcmp(b + o.body.len - 14, "data: [DONE]\n\n", 14) != 0) abort();
    } else {
      json_error_t je;
      json_t *j = json_loadb(b, o.body.len, JSON_ALLOW_NUL, &je); /* a model may emit a NUL byte */
      if (!json_is_object(j)) {
        fprintf(stderr, "fuzz_builtin: not JSON (%s): %.*s\n", je.text, (int)o.body.len, b);
        abort();
      }
      if (o.status == 200 && !json_is_object(json_object_get(j, "usage"))) abort();
      if (o.status != 200 && !json_is_object(json_object_get(j, "error"))) abort();
      json_decref(j);
    }
  }
  buf_free(&o.body);
  return 0;
}
