/* ops: the forward pass's kernels (products on the run-time chosen path, see kern.h): products with quantized weights, norms, RoPE. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_OPS_H
#define COCOON_ENGINE_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* A weight matrix borrowed from the model file: n_out rows of n_in elements of `type` (a
 * supported QUANT_* type), row r at data + r * row_bytes. Computes y[r] = row_r . x. */
struct ops_mat {
  const void *data;
  uint32_t type;
  uint32_t n_in;
  uint32_t n_out;
  size_t row_bytes;
  /* The same rows repacked for the active kernel path (ops_mat_pack), or NULL. Borrowed from
   * the memory ops_mat_pack wrote it to; `data` stays valid either way. */
  const void *packed;
  size_t packed_bytes;
};

/* Bytes of w's repacked copy on the active kernel path (a multiple of 64: copies can follow
 * one another in one allocation), or 0 when that path keeps w's layout (for the AVX-512 path,
 * all but Q8_0, see kern_avx512.c "Q8_0 x 16"). */
size_t ops_mat_pack_size(const struct ops_mat *w);
/* Repacks w into dst (ops_mat_pack_size(w) bytes, 64-byte aligned, borrowed: it must outlive
 * every product with w) and points w->packed at it; a no-op when the size is 0. When
 * `drop_source` is set, the pages of w->data the copy replaces are given back to the kernel as
 * the copy is written (madvise), so resident memory stays about the size of the file: w->data
 * must then be a read-only file mapping, which faults the pages back in if read again. */
void ops_mat_pack(struct ops_mat *w, void *dst, int drop_source);

/* Memory for repacked matrices: anonymous, 2 MB aligned and on huge pages where the system
 * allows them (decode streams every copy once per token: a TLB miss per 4 KB page cost ~5 %).
 * ops_pack_mem_free(p, bytes) takes the same `bytes`; NULL is a no-op. */
CC_NODISCARD int ops_pack_mem_new(size_t bytes, void **out, struct err *e);
void ops_pack_mem_free(void *p, size_t bytes);

/* Products take the activation vector "prepared" for the weight type, the way llama.cpp's CPU
 * backend presents it: F32 stays F32, F16 / BF16 weights see it rounded to F16 / BF16, Q8_0 and
 * Q4_0 weights see it quantized to 8-bit blocks of 32 with an f16 scale, Q4_K and Q6_K weights
 * to 8-bit blocks of 256 with an f32 scale (and sums of 16). Quantized products are then
 * computed on the integers, with the per-block scale arithmetic in llama.cpp's order, so our
 * log-probabilities follow the oracle's closely. n must be a whole number of the weight's
 * blocks (the model loader checks it). */

/* Bytes of a prepared vector of n elements for weights of `wtype` (at most 4 * n). */
size_t ops_act_size(uint32_t wtype, uint32_t n);
/* Prepares x[0..n) into act (ops_act_size bytes, 4-byte aligned). */
void ops_act_prepare(uint32_t wtype, const float *x, void *act, uint32_t n);
/* The prepared vector back as floats (what the product effectively multiplies with). */
void ops_act_to_float(uint32_t wtype, const void *act, float *out, uint32_t n);

/* Decodes row `row` of w into out[0..n_in). */
void ops_mat_row(const struct ops_mat *w, uint32_t row, float *out);

/* row_r . act for one prepared vector. */
float ops_dot_row(const struct ops_mat *w, uint32_t row, const void *act);

/* Y[t][r] = row_r . act_t for the rows r in [r0, r1) and tokens t < n_tok; act holds n_tok
 * prepared vectors, ops_act_size(w->type, w->n_in) bytes apart; Y rows are y_stride floats
 * apart. */
void ops_matmul_rows(const struct ops_mat *w, const void *act, uint32_t n_tok, float *y, size_t y_stride,
                     uint32_t r0, uint32_t r1);

/* F32 vector helpers for the attention, on the active kernel path (ops_kernels_name). The
 * scalar path sums dot products in double; SIMD paths in float vectors. */
float ops_dot_f32(const float *a, const float *b, size_t n);
/* y[i] += a * x[i] */
void ops_axpy_f32(float *y, float a, const float *x, size_t n);
/* y[i] *= a */
void ops_scale_f32(float *y, float a, size_t n);

/* The kernel path the products run on: "scalar", "avx2" or "avx512" (see kern.h). */
const char *ops_kernels_name(void);

struct threadpool;
/* The whole product Y[t][r] (r < n_out, t < n_tok; act as for ops_matmul_rows, Y rows y_stride
 * floats apart) on the pool (NULL: this thread): rows in chunks taken dynamically by each
 * participant, the caller included; one barrier. */
void ops_matmul(struct threadpool *pool, const struct ops_mat *w, const void *act, uint32_t n_tok, float *y,
                size_t y_stride);

/* Several products over one prepared activation in one barrier (q/k/v, gate/up): Y_i = W_i . act
 * for i < n_mat <= OPS_MATMUL_MAX; every W_i has the same type and n_in. */
#define OPS_MATMUL_MAX 3u
void ops_matmul_multi(struct threadpool *pool, uint32_t n_mat, const struct ops_mat *const *w, const void *act,
                      uint32_t n_tok, float *const *y, const size_t *y_stride);

/* out = x / sqrt(mean(x^2) + eps) * w (w may be NULL: no gain). out may equal x. */
void ops_rmsnorm(float *out, const float *x, const float *w, size_t n, float eps);

/* In-place softmax over x[0..n); n >= 1. */
void ops_softmax(float *x, size_t n);

/* gate[i] = silu(gate[i]) * up[i]. */
void ops_swiglu(float *gate, const float *up, size_t n);

float ops_silu(float x);

/* RoPE pairing: NORM rotates (2i, 2i+1) (llama), NEOX rotates (i, i + n_rot/2) (qwen2, qwen3). */
enum ops_rope_kind { OPS_ROPE_NORM = 0, OPS_ROPE_NEOX = 1 };

struct ops_rope {
  enum ops_rope_kind kind;
  uint32_t n_rot;            /* rotated dimensions of each head (even, <= head_dim) */
  float freq_base;           /* theta_i = pos * freq_scale * base^(-2i/n_rot) / factors[i] */
  float freq_scale;          /* 1 / linear scaling factor; 1 without scaling */
  const float *freq_factors; /* n_rot/2 divisors (rope_freqs.weight), or NULL */
};

/* Rotates n_head heads of head_dim floats (x[h*head_dim...]) for position pos. */
void ops_rope_apply(const struct ops_rope *r, float *x, uint32_t n_head, uint32_t head_dim, uint32_t pos);

#endif
