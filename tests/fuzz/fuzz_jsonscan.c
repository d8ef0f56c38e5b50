/* fuzz_jsonscan: json_scan and the usage reader against jansson, the parser they stand in for. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_scan.h"
#include "openai/openai_usage.h"

struct balance {
  size_t open, tokens;
  int bad;
};

static void count_cb(void *arg, const struct json_scan_tok *t) {
  struct balance *b = arg;
  b->tokens++;
  if (t->ev == JSON_SCAN_OBJ_BEGIN || t->ev == JSON_SCAN_ARR_BEGIN) {
    if (t->depth != b->open) b->bad = 1;
    b->open++;
  } else if (t->ev == JSON_SCAN_OBJ_END || t->ev == JSON_SCAN_ARR_END) {
    if (b->open == 0 || t->depth != --b->open) b->bad = 1;
  } else if (t->depth != b->open) {
    b->bad = 1;
  } else if (t->ev == JSON_SCAN_KEY && (t->key_len > JSON_SCAN_KEY_MAX || t->depth == 0)) {
    b->bad = 1;
  }
}

/* What the worker read with jansson before json_scan: the oracle. */
static int64_t int_or_0(const json_t *v) {
  return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : 0;
}

static void oracle(const json_t *root, struct openai_usage_counts *c) {
  memset(c, 0, sizeof(*c));
  json_t *usage = json_object_get(root, "usage");
  if (!json_is_object(usage)) return;
  c->seen = true;
  c->prompt_tokens = int_or_0(json_object_get(usage, "prompt_tokens"));
  c->cached_tokens = int_or_0(json_object_get(json_object_get(usage, "prompt_tokens_details"), "cached_tokens"));
  c->completion_tokens = int_or_0(json_object_get(usage, "completion_tokens"));
  int64_t a = int_or_0(json_object_get(json_object_get(usage, "completion_tokens_details"), "reasoning_tokens"));
  int64_t b = int_or_0(json_object_get(usage, "reasoning_tokens"));
  c->reasoning_tokens = a > b ? a : b;
}

/* The input is one JSON text: valid for json_scan exactly when jansson accepts it, with
 * balanced token depths, and the same usage figures. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  struct balance b = {0};
  int rc = json_scan(text, size, count_cb, &b);
  if (memchr(data, 0, size)) {
    /* A raw NUL is never JSON. jansson drops one that follows a number or a literal (its
     * reader takes NUL for "buffer empty" after an unget): the one place the two differ. */
    if (rc == 0) abort();
    return 0;
  }
  json_error_t je;
  json_t *root = json_loadb(text, size, JSON_DECODE_ANY, &je);
  if ((rc == 0) != (root != NULL)) abort();
  if (rc == 0 && (b.bad || b.open != 0 || b.tokens == 0)) abort();
  struct openai_usage_counts got, want;
  int urc = openai_usage_parse(text, size, &got);
  if (urc != rc) abort();
  if (root) {
    oracle(root, &want);
    if (got.seen != want.seen || got.prompt_tokens != want.prompt_tokens ||
        got.cached_tokens != want.cached_tokens || got.completion_tokens != want.completion_tokens ||
        got.reasoning_tokens != want.reasoning_tokens)
      abort();
  }
  json_decref(root);
  return 0;
}
