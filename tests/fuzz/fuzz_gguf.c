/* fuzz_gguf: parses any bytes as a GGUF file and reads every value and tensor it accepts. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gguf.h"
#include "engine/quant.h"

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_gguf: %s\n", what);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct gguf *g = NULL;
  struct err e = {0};
  if (gguf_open_mem(data, size, &g, &e) != 0) {
    check(g == NULL && e.msg[0] != 0, "failure without a message");
    return 0;
  }
  volatile uint64_t sink = 0;
  for (size_t i = 0; i < gguf_kv_count(g); i++) {
    const struct gguf_kv *kv = gguf_kv_at(g, i);
    check(gguf_find_kv(g, kv->key) == kv, "key lookup");
    if (kv->type == GGUF_STRING && kv->str.len) sink += (uint8_t)kv->str.p[kv->str.len - 1];
    if (kv->type != GGUF_ARRAY) continue;
    for (uint64_t j = 0; j < kv->arr_n; j++) {
      struct gguf_str s = gguf_arr_str(kv, j);
      if (s.len) sink += (uint8_t)s.p[0] + (uint8_t)s.p[s.len - 1];
      sink += (uint64_t)gguf_arr_int(kv, j);
      sink += (uint64_t)(gguf_arr_f32(kv, j) != 0);
    }
    uint32_t u;
    float f;
    struct gguf_str s;
    if (gguf_get_u32(g, kv->key, &u, NULL) == 0) sink += u;
    if (gguf_get_f32(g, kv->key, &f, NULL) == 0) sink += f != 0;
    if (gguf_get_str(g, kv->key, &s, NULL) == 0) sink += s.len;
  }
  float block[256];
  for (size_t i = 0; i < gguf_tensor_count(g); i++) {
    const struct gguf_tensor *t = gguf_tensor_at(g, i);
    check(gguf_find_tensor(g, t->name) == t, "tensor lookup");
    const struct quant_type_info *ti = quant_type_info(t->type);
    check(ti != NULL && t->nbytes >= ti->block_bytes, "tensor size");
    const uint8_t *d = t->data;
    sink += d[0] + d[t->nbytes - 1];
    /* Decode the first and last block of every supported type. */
    if (ti->supported) {
      check(quant_dequantize(t->type, d, block, ti->block_elems) == 0, "dequantize");
      check(quant_dequantize(t->type, d + t->nbytes - ti->block_bytes, block, ti->block_elems) == 0, "dequantize");
    }
  }
  (void)sink;
  gguf_free(g);
  return 0;
}
