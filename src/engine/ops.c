/* ops: kernels of the forward pass: products with quantized weights (dispatched, see kern.h), norms, RoPE. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/ops.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/kern.h"
#include "engine/threadpool.h"
#include "engine/quant.h"

size_t ops_act_size(uint32_t wtype, uint32_t n) {
  switch (wtype) {
  case QUANT_Q8_0:
  case QUANT_Q4_0: return (size_t)(n / 32) * sizeof(struct kern_q8_0);
  case QUANT_Q4_K:
  case QUANT_Q6_K: return (size_t)(n / 256) * sizeof(struct kern_q8_k);
  default: return (size_t)n * sizeof(float);
  }
}

void ops_act_prepare(uint32_t wtype, const float *x, void *act, uint32_t n) {
  float *f = act;
  switch (wtype) {
  case QUANT_F16:
    for (uint32_t i = 0; i < n; i++) f[i] = quant_f16_to_f32(quant_f32_to_f16(x[i]));
    break;
  case QUANT_BF16:
    for (uint32_t i = 0; i < n; i++) f[i] = quant_bf16_to_f32(quant_f32_to_bf16(x[i]));
    break;
  case QUANT_Q8_0:
  case QUANT_Q4_0: kern_active()->prep_q8_0(x, act, n); break;
  case QUANT_Q4_K:
  case QUANT_Q6_K: kern_active()->prep_q8_k(x, act, n); break;
  default: memmove(f, x, (size_t)n * sizeof(float)); break;
  }
}

void ops_act_to_float(uint32_t wtype, const void *act, float *out, uint32_t n) {
  switch (wtype) {
  case QUANT_Q8_0:
  case QUANT_Q4_0: {
    const struct kern_q8_0 *a = act;
    for (uint32_t i = 0; i < n; i++) out[i] = a[i / 32].d * (float)a[i / 32].q[i % 32];
    break;
  }
  case QUANT_Q4_K:
  case QUANT_Q6_K: {
    const struct kern_q8_k *a = act;
    for (uint32_t i = 0; i < n; i++) out[i] = a[i / 256].d * (float)a[i / 256].q[i % 256];
    break;
  }
  default: memmove(out, act, (size_t)n * sizeof(float)); break;
  }
}

size_t ops_mat_pack_size(const struct ops_mat *w) {
  const struct kern *k = kern_active();
  if (!k->pack_size) return 0;
  return (k->pack_size(w) + 63) & ~(size_t)63;
}

#define PACK_ALIGN ((size_t)2 << 20)

int ops_pack_mem_new(size_t bytes, void **out, struct err *e) {
  *out = NULL;
  /* Over-allocate by 2 MB and trim both ends, so the copy starts on a huge-page boundary. No
   * MAP_POPULATE: it would fault every page in as 4 KB before madvise asks for 2 MB ones (with
   * THP in "madvise" mode the copy then got no huge page at all); packing touches every page. */
  size_t len = (bytes + PACK_ALIGN - 1) & ~(PACK_ALIGN - 1);
  if (len < bytes || len + PACK_ALIGN < len)
    return err_set(e, ERR_NOMEM, "model: repacked weights of %zu bytes are too large", bytes);
  uint8_t *raw = mmap(NULL, len + PACK_ALIGN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return err_set(e, ERR_NOMEM, "model: out of memory for %zu bytes of repacked weights", bytes);
  uint8_t *p = (uint8_t *)(((uintptr_t)raw + PACK_ALIGN - 1) & ~(uintptr_t)(PACK_ALIGN - 1));
  if (p > raw) munmap(raw, (size_t)(p - raw));
  if (p + len < raw + len + PACK_ALIGN) munmap(p + len, (size_t)(raw + len + PACK_ALIGN - (p + len)));
#ifdef MADV_HUGEPAGE
  (void)madvise(p, len, MADV_HUGEPAGE);
#endif
  *out = p;
  return 0;
}

void ops_pack_mem_free(void *p, size_t bytes) {
  if (p) munmap(p, (bytes + PACK_ALIGN - 1) & ~(PACK_ALIGN - 1));
}

void ops_mat_pack(struct ops_mat *w, void *dst, int drop_source) {
  const struct kern *k = kern_active();
  size_t bytes = ops_mat_pack_size(w);
  if (bytes == 0) return;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  uintptr_t src = (uintptr_t)w->data, dropped = (src + page - 1) & ~(uintptr_t)(page - 1);
  /* Slices of 1024 rows: the source pages of a slice are dropped before the next is read. */
  for (uint32_t r0 = 0; r0 < w->n_out; r0 += 1024) {
    uint32_t r1 = w->n_out - r0 < 1024 ? w->n_out : r0 + 1024;
    k->pack(w, dst, r0, r1);
    if (drop_source) {
      uintptr_t end = (src + (uintptr_t)r1 * w->row_bytes) & ~(uintptr_t)(page - 1);
      if (end > dropped) (void)madvise((void *)dropped, end - dropped, MADV_DONTNEED);
      if (end > dropped) dropped = end;
    }
  }
  w->packed = dst;
  w->packed_bytes = bytes;
}

void ops_mat_row(const struct ops_mat *w, uint32_t row, float *out) {
  const uint8_t *p = (const uint8_t *)w->data + (size_t)row * w->row_bytes;
  if (w->type == QUANT_F32) {
    memcpy(out, p, (size_t)w->n_in * sizeof(float));
    return;
  }
  /* The model loader admits only supported types with whole-block rows, so this cannot fail. */
  if (quant_dequantize(w->type, p, out, w->n_in) != 0) memset(out, 0, (size_t)w->n_in * sizeof(float));
}

float ops_dot_row(const struct ops_mat *w, uint32_t row, const void *act) {
  /* A one-row matrix made of that row, so the product lands in y[0]. */
  struct ops_mat one = *w;
  one.data = (const uint8_t *)w->data + (size_t)row * w->row_bytes;
  one.n_out = 1;
  one.packed = NULL; /* the copy's layout is by groups of rows */
  one.packed_bytes = 0;
  float y;
  kern_active()->matmul(&one, act, 0, 1, &y, 0, 0, 1);
  return y;
}

void ops_matmul_rows(const struct ops_mat *w, const void *act, uint32_t n_tok, float *y, size_t y_stride,
                     uint32_t r0, uint32_t r1) {
  kern_active()->matmul(w, act, ops_act_size(w->type, w->n_in), n_tok, y, y_stride, r0, r1);
}

#define OPS_DECODE_TOKENS 8u

/* Products of up to OPS_MATMUL_MAX matrices that share one prepared activation (q/k/v,
 * gate/up), their rows cut into chunks numbered across the matrices. */
struct matmul_job {
  const struct kern *k;
  uint32_t n_mat;
  const struct ops_mat *w[OPS_MATMUL_MAX];
  float *y[OPS_MATMUL_MAX];
  size_t y_stride[OPS_MATMUL_MAX];
  uint32_t chunk[OPS_MATMUL_MAX], n_chunks[OPS_MATMUL_MAX];
  const void *act;
  size_t act_stride;
  uint32_t n_tok;
  _Atomic uint32_t next;
};

/* Each participant takes chunks of rows until none is left: a thread the OS delays (the
 * machine is shared) takes fewer, instead of holding everyone at the barrier. */
static void matmul_share(void *arg, uint32_t ith, uint32_t nth) {
  (void)ith;
  (void)nth;
  struct matmul_job *j = arg;
  for (;;) {
    uint32_t c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed), i = 0;
    while (i < j->n_mat && c >= j->n_chunks[i]) c -= j->n_chunks[i++];
    if (i == j->n_mat) break;
    uint32_t n = j->w[i]->n_out, r0 = c * j->chunk[i], r1 = n - r0 < j->chunk[i] ? n : r0 + j->chunk[i];
    j->k->matmul(j->w[i], j->act, j->act_stride, j->n_tok, j->y[i], j->y_stride[i], r0, r1);
  }
}

void ops_matmul_multi(struct threadpool *pool, uint32_t n_mat, const struct ops_mat *const *w, const void *act,
                      uint32_t n_tok, float *const *y, const size_t *y_stride) {
  uint32_t nth = threadpool_size(pool);
  struct matmul_job j = {.k = kern_active(), .n_mat = n_mat, .act = act, .n_tok = n_tok};
  j.act_stride = ops_act_size(w[0]->type, w[0]->n_in);
  for (uint32_t i = 0; i < n_mat; i++) {
    uint32_t n = w[i]->n_out;
    /* A prompt: chunks of 64 rows (the kernels' cache tile); a decode step (one token per
     * sequence, up to OPS_DECODE_TOKENS): about 8 chunks per thread for one token, 4 for
     * several, multiples of 16 rows (KERN_PACK_ROWS), long enough for the kernels' prefetch
     * stream to pay off (an 8-token step in 64-row chunks scaled 1.3x from 1 to 2 threads;
     * its products took ~15.3 ms in 8 chunks per thread, ~14.6 in 4, ~18.7 in 32); no one to
     * share with: one call keeps the kernel's own order. */
    uint32_t chunk = 64;
    if (nth == 1) chunk = n;
    else if (n_tok <= OPS_DECODE_TOKENS) {
      uint32_t per = n_tok == 1 ? 8u : 4u;
      chunk = (uint32_t)(((uint64_t)n + per * nth - 1) / (per * nth));
      /* At most ~1 MB of weights a chunk: the output (151,936 rows, 145 MB for Qwen2.5-0.5B
       * Q8_0) in 16 chunks of 9 MB left one thread ~0.1 ms alone at its end. */
      uint64_t cap = ((uint64_t)1 << 20) / (w[i]->row_bytes ? w[i]->row_bytes : 1);
      if (chunk > cap) chunk = (uint32_t)cap;
      chunk = chunk < 16 ? 16 : (chunk + 15) & ~15u;
    }
    j.w[i] = w[i];
    j.y[i] = y[i];
    j.y_stride[i] = y_stride[i];
    j.chunk[i] = chunk;
    j.n_chunks[i] = (n + chunk - 1) / chunk;
  }
  atomic_init(&j.next, 0);
  threadpool_run(pool, matmul_share, &j);
}

void ops_matmul(struct threadpool *pool, const struct ops_mat *w, const void *act, uint32_t n_tok, float *y,
                size_t y_stride) {
  ops_matmul_multi(pool, 1, &w, act, n_tok, &y, &y_stride);
}

float ops_dot_f32(const float *a, const float *b, size_t n) { return kern_active()->dot_f32(a, b, n); }

void ops_axpy_f32(float *y, float a, const float *x, size_t n) { kern_active()->axpy_f32(y, a, x, n); }

void ops_scale_f32(float *y, float a, size_t n) { kern_active()->scale_f32(y, a, n); }

const char *ops_kernels_name(void) { return kern_active()->name; }

void ops_rmsnorm(float *out, const float *x, const float *w, size_t n, float eps) {
  /* Float squares summed in double, a float mean and scale, then (x * scale) * w: llama.cpp's
   * order. A value 1 ulp off can round differently when the result is quantized to 8 bits
   * for the next product, which shows as a jump in the logits, so the order matters. */
  double ss = 0;
  for (size_t i = 0; i < n; i++) ss += (double)(x[i] * x[i]);
  float mean = (float)(ss / (double)n);
  float scale = 1.0f / sqrtf(mean + eps);
  for (size_t i = 0; i < n; i++) {
    float v = x[i] * scale;
    out[i] = w ? v * w[i] : v;
  }
}

void ops_softmax(float *x, size_t n) {
  float mx = x[0];
  for (size_t i = 1; i < n; i++) mx = fmaxf(mx, x[i]);
  double sum = 0;
  for (size_t i = 0; i < n; i++) {
    x[i] = expf(x[i] - mx);
    sum += x[i];
  }
  float inv = (float)(1.0 / sum);
  for (size_t i = 0; i < n; i++) x[i] *= inv;
}

float ops_silu(float x) { return x / (1.0f + expf(-x)); }

void ops_swiglu(float *gate, const float *up, size_t n) { kern_active()->swiglu(gate, up, n); }

void ops_rope_apply(const struct ops_rope *r, float *x, uint32_t n_head, uint32_t head_dim, uint32_t pos) {
  uint32_t half = r->n_rot / 2;
  /* theta_i = pos * base^(-2i/n_rot), computed as llama.cpp does it: a float power once, then
   * one float multiplication per pair. The exact float value matters: a last-bit difference
   * in q or k can round an 8-bit activation the other way further on. */
  float theta_scale = powf(r->freq_base, -2.0f / (float)r->n_rot);
  float theta = (float)pos;
  for (uint32_t i = 0; i < half; i++, theta *= theta_scale) {
    float t = theta;
    if (r->freq_factors) t /= r->freq_factors[i];
    t *= r->freq_scale;
    float c = cosf(t), s = sinf(t);
    for (uint32_t h = 0; h < n_head; h++) {
      float *v = x + (size_t)h * head_dim;
      uint32_t a = r->kind == OPS_ROPE_NEOX ? i : 2 * i;
      uint32_t b = r->kind == OPS_ROPE_NEOX ? i + half : 2 * i + 1;
      float v0 = v[a], v1 = v[b];
      v[a] = v0 * c - v1 * s;
      v[b] = v0 * s + v1 * c;
    }
  }
}
