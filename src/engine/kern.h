/* kern: the engine's compute kernels in several instruction sets, one chosen at run time. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_KERN_H
#define COCOON_ENGINE_KERN_H

#include <stddef.h>
#include <stdint.h>

struct ops_mat;

/* One set of kernels. Every path computes the same products as the scalar one (the reference):
 * the same integer sums per block and the same per-block scale arithmetic, but the blocks are
 * summed in float vectors in another order, so results differ from the reference by float
 * rounding only. Activation preparation gives bit-identical results on every path. */
struct kern {
  const char *name; /* "scalar", "avx2", "avx512" */
  /* Y[t * y_stride + r] = row_r . act_t for r in [r0, r1), t < n_tok; act_t at
   * act + t * act_stride (ops_act_prepare layout for w->type). */
  void (*matmul)(const struct ops_mat *w, const void *act, size_t act_stride, uint32_t n_tok, float *y,
                 size_t y_stride, uint32_t r0, uint32_t r1);
  /* ops_act_prepare for the 8-bit formats (Q8_0: wtype Q8_0/Q4_0, Q8_K: Q4_K/Q6_K). */
  void (*prep_q8_0)(const float *x, void *act, uint32_t n);
  void (*prep_q8_k)(const float *x, void *act, uint32_t n);
  float (*dot_f32)(const float *a, const float *b, size_t n);
  void (*axpy_f32)(float *y, float a, const float *x, size_t n);
  void (*scale_f32)(float *y, float a, size_t n);
  /* gate[i] = silu(gate[i]) * up[i] (scalar: libm's expf; SIMD: a polynomial exp within ~2 ulp). */
  void (*swiglu)(float *gate, const float *up, size_t n);
  /* Optional repacked weight layout (NULL on paths without one). pack_size: bytes of w's
   * repacked copy, 0 when this path keeps w as it is in the file. pack: writes rows [r0, r1)
   * of w (r0 a multiple of KERN_PACK_ROWS; r1 one too, or w->n_out) into dst, a buffer of
   * pack_size bytes, 64-byte aligned, at the rows' place. matmul uses w->packed when set. */
  size_t (*pack_size)(const struct ops_mat *w);
  void (*pack)(const struct ops_mat *w, void *dst, uint32_t r0, uint32_t r1);
};

/* Rows of a repacked group: see kern_avx512.c ("Q8_0 x 16"). */
#define KERN_PACK_ROWS 16u

/* The path in use: chosen once (first call) from the CPU's features, or forced by the
 * environment variable COCOON_ENGINE_KERNELS=scalar|avx2|avx512 (a forced path the CPU lacks
 * falls back to the best one it has, with a note on stderr). Thread-safe. */
const struct kern *kern_active(void);

/* The named path if this CPU can run it, else NULL (tests compare every available path). */
const struct kern *kern_by_name(const char *name);

/* The individual paths (kern_scalar.c, kern_avx2.c, kern_avx512.c). Only call the SIMD ones
 * after kern_by_name said the CPU has them. */
extern const struct kern kern_scalar;
extern const struct kern kern_avx2;
extern const struct kern kern_avx512;

/* Prepared activation blocks (our in-memory layout; only the values follow ggml). */
struct kern_q8_0 {
  float d;   /* the f16 scale, widened */
  int32_t c; /* -128 * sum(q): the offset correction of unsigned-weight (VNNI) products */
  int8_t q[32];
};

struct kern_q8_k {
  float d;
  int8_t q[256];
  int16_t bsums[16]; /* sums of each 16 values */
};

/* Scalar helpers the SIMD paths share for row tails and rarely used types. */
float kern_scalar_dot(const struct ops_mat *w, const uint8_t *row, const void *act);
void kern_scalar_matmul(const struct ops_mat *w, const void *act, size_t act_stride, uint32_t n_tok, float *y,
                        size_t y_stride, uint32_t r0, uint32_t r1);
void kern_scalar_prep_q8_0(const float *x, void *act, uint32_t n);
void kern_scalar_prep_q8_k(const float *x, void *act, uint32_t n);
void kern_scalar_swiglu(float *gate, const float *up, size_t n);
/* AVX2 pieces the AVX-512 path reuses for the types where 512 bits do not help. */
void kern_avx2_matmul(const struct ops_mat *w, const void *act, size_t act_stride, uint32_t n_tok, float *y,
                      size_t y_stride, uint32_t r0, uint32_t r1);
void kern_avx2_prep_q8_0(const float *x, void *act, uint32_t n);
void kern_avx2_prep_q8_k(const float *x, void *act, uint32_t n);

#endif
