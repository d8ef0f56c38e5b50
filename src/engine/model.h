/* model: llama/qwen2/qwen3 hyperparameters and weight views from a GGUF file, and the forward pass. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_MODEL_H
#define COCOON_ENGINE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/gguf.h"
#include "engine/kv.h"
#include "engine/ops.h"

/* Hard limits on hyperparameters (well above any model the engine targets). */
#define MODEL_MAX_EMBD 65536u
#define MODEL_MAX_LAYERS 1024u
#define MODEL_MAX_HEADS 1024u
#define MODEL_MAX_HEAD_DIM 1024u
#define MODEL_MAX_FF (1u << 20)
#define MODEL_MAX_VOCAB (1u << 22)
#define MODEL_MAX_CTX (1u << 20)
#define MODEL_MAX_EOG 8u
#define MODEL_MAX_BATCH 65536u /* tokens in one forward pass */

enum model_arch { MODEL_ARCH_LLAMA = 0, MODEL_ARCH_QWEN2 = 1, MODEL_ARCH_QWEN3 = 2 };

struct model_hparams {
  enum model_arch arch;
  const char *arch_name; /* "llama", "qwen2", "qwen3" */
  uint32_t n_vocab;      /* rows of token_embd */
  uint32_t n_embd, n_layer, n_ff;
  uint32_t n_head, n_head_kv;
  uint32_t head_dim_k, head_dim_v; /* attention.key_length / value_length */
  uint32_t n_ctx_train;
  float rms_eps;
  struct ops_rope rope; /* kind from the architecture, base, linear scaling, factors */
};

/* One transformer block. Vectors (norms, biases) are F32 copies owned by the model; absent
 * optional ones are NULL. */
struct model_layer {
  float *attn_norm, *ffn_norm;
  struct ops_mat wq, wk, wv, wo;
  float *bq, *bk, *bv;       /* qwen2 (optional there, absent elsewhere) */
  float *q_norm, *k_norm;    /* qwen3: per-head RMSNorm gains of head_dim_k */
  struct ops_mat gate, up, down;
};

struct model {
  struct gguf *g;
  int owns_gguf;
  struct model_hparams hp;
  struct ops_mat tok_embd; /* n_vocab rows of n_embd */
  struct ops_mat output;   /* == tok_embd when tied */
  int tied;
  float *output_norm;
  float *rope_factors; /* rope_freqs.weight, or NULL */
  struct model_layer *layers;
  /* The repacked copies of the matrices (ops_mat_pack), one after the other in the order a
   * token uses them, so decode reads one forward stream; NULL when none is repacked. */
  void *packed;
  size_t packed_bytes;
  /* Token ids from the tokenizer metadata (-1 when absent) and the end-of-generation set. */
  int32_t bos_id, eos_id;
  int32_t eog[MODEL_MAX_EOG];
  uint32_t n_eog;
};

/* Opens and validates `path`; the model owns the mapping. Errors name the key or tensor at
 * fault, and architectures other than llama/qwen2/qwen3 are refused by name. */
CC_NODISCARD int model_load(const char *path, struct model **out, struct err *e);
/* The same over an open file; g is borrowed and must outlive the model. */
CC_NODISCARD int model_from_gguf(struct gguf *g, struct model **out, struct err *e);
void model_free(struct model *m);

/* 1 when tok ends generation (eos, eot, <|im_end|>, ...). */
int model_is_eog(const struct model *m, int32_t tok);

/* Allocates a KV cache for n_ctx positions of this model. */
CC_NODISCARD int model_kv_new(const struct model *m, uint32_t n_ctx, struct kv_cache **out, struct err *e);

struct threadpool;

/* Scratch of a forward pass for batches of up to max_batch tokens; `pool` (borrowed, may be
 * NULL: the calling thread does everything) runs the matrix products. */
struct model_work;
CC_NODISCARD int model_work_new(const struct model *m, uint32_t max_batch, struct threadpool *pool,
                                struct model_work **out, struct err *e);
void model_work_free(struct model_work *w);

/* Runs tokens[0..n) at positions kv->n_pos.. (appending them to the cache) and, when logits is
 * not NULL, writes the next-token logits after the last one (n_vocab floats). Batches larger
 * than the work's max_batch are split. ERR_LIMIT when the cache is full, ERR_INVALID for a
 * token id outside the vocabulary. */
CC_NODISCARD int model_forward(const struct model *m, struct model_work *w, struct kv_cache *kv,
                               const int32_t *tokens, uint32_t n, float *logits, struct err *e);

/* One forward pass over tokens of several sequences (continuous batching): token t is appended
 * to its own cache kv[t] (at kv[t]->n_pos, after the batch's earlier tokens of that cache);
 * attention runs per sequence, the matrix products once for the whole batch. Arrays are
 * borrowed and n long; a sequence's tokens must appear in order. */
struct model_batch {
  uint32_t n;
  const int32_t *tokens;
  struct kv_cache *const *kv;
  const uint8_t *want_logits; /* 1: write this token's next-token logits */
};

/* Runs b (n <= the work's max_batch) and writes the logits of the tokens that want them, in
 * batch order, n_vocab floats apart, to logits (may be NULL when none does). ERR_LIMIT when a
 * cache would overflow (nothing is appended then), ERR_INVALID for a bad token or cache. */
CC_NODISCARD int model_forward_batch(const struct model *m, struct model_work *w, const struct model_batch *b,
                                     float *logits, struct err *e);

uint32_t model_work_max_batch(const struct model_work *w);

#endif
