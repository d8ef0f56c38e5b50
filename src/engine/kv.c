/* kv: the key/value cache of one sequence: F32 keys and values per layer and position. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/kv.h"

#include <stdlib.h>
#include <string.h>

int kv_new(uint32_t n_layer, uint32_t n_ctx, uint32_t k_dim, uint32_t v_dim, struct kv_cache **out,
           struct err *e) {
  *out = NULL;
  uint64_t nk, nv, total;
  if (!n_layer || !n_ctx || !k_dim || !v_dim)
    return err_set(e, ERR_INVALID, "kv cache: zero dimension (layers %u, context %u, k %u, v %u)", n_layer, n_ctx,
                   k_dim, v_dim);
  if (__builtin_mul_overflow((uint64_t)n_layer * n_ctx, (uint64_t)k_dim * sizeof(float), &nk) ||
      __builtin_mul_overflow((uint64_t)n_layer * n_ctx, (uint64_t)v_dim * sizeof(float), &nv) ||
      __builtin_add_overflow(nk, nv, &total) || total > KV_MAX_BYTES)
    return err_set(e, ERR_LIMIT, "kv cache for %u positions x %u layers is larger than %llu bytes", n_ctx, n_layer,
                   (unsigned long long)KV_MAX_BYTES);
  struct kv_cache *c = calloc(1, sizeof(*c));
  if (!c) return err_set(e, ERR_NOMEM, "kv cache: out of memory");
  c->n_layer = n_layer;
  c->n_ctx = n_ctx;
  c->k_dim = k_dim;
  c->v_dim = v_dim;
  c->k = malloc((size_t)nk);
  c->v = malloc((size_t)nv);
  if (!c->k || !c->v) {
    kv_free(c);
    return err_set(e, ERR_NOMEM, "kv cache: out of memory (%llu bytes)", (unsigned long long)total);
  }
  *out = c;
  return 0;
}

void kv_free(struct kv_cache *c) {
  if (!c) return;
  free(c->k);
  free(c->v);
  free(c);
}

int kv_reserve(struct kv_cache *c, uint32_t n_ctx, uint32_t max_ctx, struct err *e) {
  if (n_ctx <= c->n_ctx) return 0;
  if (n_ctx > max_ctx)
    return err_set(e, ERR_LIMIT, "kv cache: %u positions are more than the limit %u", n_ctx, max_ctx);
  uint64_t want = (uint64_t)c->n_ctx * 2;
  if (want < n_ctx) want = n_ctx;
  if (want > max_ctx) want = max_ctx;
  struct kv_cache *n = NULL;
  int rc = kv_new(c->n_layer, (uint32_t)want, c->k_dim, c->v_dim, &n, e);
  if (rc) return rc;
  for (uint32_t l = 0; l < c->n_layer && c->n_pos; l++) {
    memcpy(kv_k(n, l, 0), kv_k(c, l, 0), (size_t)c->n_pos * c->k_dim * sizeof(float));
    memcpy(kv_v(n, l, 0), kv_v(c, l, 0), (size_t)c->n_pos * c->v_dim * sizeof(float));
  }
  free(c->k);
  free(c->v);
  c->k = n->k;
  c->v = n->v;
  c->n_ctx = n->n_ctx;
  free(n);
  return 0;
}

void kv_clear(struct kv_cache *c) { c->n_pos = 0; }

void kv_truncate(struct kv_cache *c, uint32_t n_pos) {
  if (n_pos < c->n_pos) c->n_pos = n_pos;
}
