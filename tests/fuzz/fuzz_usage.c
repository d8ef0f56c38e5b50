/* fuzz_usage: feeds fuzz input to the usage counter in input-chosen chunks and checks split-invariance. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "openai/openai_usage.h"

static void run(struct openai_usage *u, const uint8_t *p, size_t n, size_t max_event, uint32_t seed) {
  openai_usage_init(u, max_event);
  size_t i = 0;
  while (i < n) {
    size_t chunk = 1;
    if (seed) {
      seed = seed * 1103515245u + 12345u; /* chunk sizes from the input's first bytes */
      chunk = 1 + (seed >> 16) % 97;
    } else {
      chunk = n - i;
    }
    if (chunk > n - i) chunk = n - i;
    openai_usage_feed(u, p + i, chunk);
    i += chunk;
  }
  openai_usage_finish(u);
}

static int same(const struct openai_usage *a, const struct openai_usage *b) {
  return a->prompt_tokens == b->prompt_tokens && a->cached_tokens == b->cached_tokens &&
         a->completion_tokens == b->completion_tokens && a->reasoning_tokens == b->reasoning_tokens &&
         a->seen == b->seen && a->done == b->done && a->events == b->events && a->skipped == b->skipped &&
         a->bad == b->bad && a->format == b->format;
}

/* Bytes 0-3 seed the chunk sizes, byte 4 picks a small or the default event cap; the rest is
 * the answer body. Whatever the split, the results must be the same as in one piece. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 5) return 0;
  uint32_t seed;
  memcpy(&seed, data, 4);
  seed |= 1;
  size_t max_event = (data[4] & 1) ? 64 : 0;
  const uint8_t *p = data + 5;
  size_t n = size - 5;
  struct openai_usage whole, split;
  run(&whole, p, n, max_event, 0);
  run(&split, p, n, max_event, seed);
  if (!same(&whole, &split)) abort();
  if (whole.prompt_tokens < 0 || whole.completion_tokens < 0) abort();
  openai_usage_free(&whole);
  openai_usage_free(&split);
  return 0;
}
