/* testmodel: deterministic synthetic GGUF models (llama, qwen2, qwen3) for tests and benchmarks. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_TESTMODEL_H
#define COCOON_ENGINE_TESTMODEL_H

#include <stdint.h>
#include <stdio.h>

#include "base/err.h"

struct testmodel_opts {
  const char *arch;      /* "llama", "qwen2", "qwen3"; NULL: the preset's (tiny: qwen2) */
  const char *preset;    /* "micro", "tiny", "qwen2.5-0.5b", "qwen3-0.6b"; NULL: "tiny" */
  uint32_t type;         /* QUANT_* type of the matrices (norms and biases stay F32) */
  uint64_t seed;         /* same seed => same float weights whatever the type */
  const char *tokenizer; /* "gpt2" (byte-level BPE) or "llama" (SentencePiece); NULL: gpt2 */
  int tied;              /* -1: the preset's choice; 0: separate output.weight; 1: tied */
};

/* The shape a set of options produces. */
struct testmodel_shape {
  const char *arch;
  uint32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx;
  float rope_base, rms_eps;
  int tied;
};

/* Validates the options and fills the shape (tiny and micro presets grow to a 256-wide model
 * for K-quant types so every row is whole blocks). */
CC_NODISCARD int testmodel_shape(const struct testmodel_opts *o, struct testmodel_shape *s, struct err *e);
/* Streams the model to f (borrowed). */
CC_NODISCARD int testmodel_write(const struct testmodel_opts *o, FILE *f, struct err *e);
/* Writes to path (replaced atomically through path.tmp). */
CC_NODISCARD int testmodel_write_file(const struct testmodel_opts *o, const char *path, struct err *e);

#endif
