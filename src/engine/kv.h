/* kv: the key/value cache of one sequence: F32 keys and values per layer and position. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_KV_H
#define COCOON_ENGINE_KV_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Upper bound on the bytes one cache may take (keys and values together). */
#define KV_MAX_BYTES (16ull << 30)

/* Layout: k[layer][pos][k_dim], v[layer][pos][v_dim]; positions [0, n_pos) are filled. */
struct kv_cache {
  uint32_t n_layer, n_ctx, k_dim, v_dim;
  uint32_t n_pos;
  float *k, *v;
};

/* Allocates a cache for n_ctx positions (k_dim = n_head_kv * head_dim_k, v_dim likewise);
 * ERR_LIMIT when it would exceed KV_MAX_BYTES. Caller frees with kv_free. */
CC_NODISCARD int kv_new(uint32_t n_layer, uint32_t n_ctx, uint32_t k_dim, uint32_t v_dim, struct kv_cache **out,
                        struct err *e);
void kv_free(struct kv_cache *c);
/* Makes room for at least n_ctx positions (keeping those filled), growing to
 * max(n_ctx, 2 x the current size) but not beyond max_ctx; a no-op when there is room.
 * ERR_LIMIT beyond max_ctx or KV_MAX_BYTES, ERR_NOMEM (the cache is unchanged then). */
CC_NODISCARD int kv_reserve(struct kv_cache *c, uint32_t n_ctx, uint32_t max_ctx, struct err *e);
/* Forgets every position (the memory is kept). */
void kv_clear(struct kv_cache *c);
/* Drops positions >= n_pos (n_pos <= the current count). */
void kv_truncate(struct kv_cache *c, uint32_t n_pos);

/* Row of layer `layer` at position `pos` (pos < n_ctx). */
static inline float *kv_k(const struct kv_cache *c, uint32_t layer, uint32_t pos) {
  return c->k + ((size_t)layer * c->n_ctx + pos) * c->k_dim;
}
static inline float *kv_v(const struct kv_cache *c, uint32_t layer, uint32_t pos) {
  return c->v + ((size_t)layer * c->n_ctx + pos) * c->v_dim;
}

#endif
