/* ops: scalar reference kernels of the forward pass: products with quantized weights, norms, RoPE. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/ops.h"

#include <math.h>
#include <string.h>

#include "engine/quant.h"

/* Prepared activation blocks (our in-memory layout; only the values follow ggml). */
struct act_q8_0 {
  float d; /* the f16 scale, widened */
  int8_t q[32];
};

struct act_q8_k {
  float d;
  int8_t q[256];
  int16_t bsums[16]; /* sums of each 16 values */
};

/* Q8_0 (for Q8_0 / Q4_0 weights): scale amax/127 stored as f16, values x * (127/amax) rounded
 * to nearest even, as ggml's x86 path computes them (1/d rounds a few values differently). */
static void prep_q8_0(const float *x, struct act_q8_0 *a, uint32_t n) {
  for (uint32_t b = 0; b < n / 32; b++, x += 32) {
    float amax = 0;
    for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
    float id = amax != 0 ? 127.0f / amax : 0.0f;
    a[b].d = quant_f16_to_f32(quant_f32_to_f16(amax / 127.0f));
    for (int i = 0; i < 32; i++) a[b].q[i] = (int8_t)nearbyintf(x[i] * id);
  }
}

/* Q8_K (for K-quant weights): f32 scale chosen so that the value of largest magnitude maps to
 * -127; others rounded to nearest even and capped at 127. */
static void prep_q8_k(const float *x, struct act_q8_k *a, uint32_t n) {
  for (uint32_t b = 0; b < n / 256; b++, x += 256) {
    float amax = 0, vmax = 0;
    for (int i = 0; i < 256; i++)
      if (fabsf(x[i]) > amax) {
        amax = fabsf(x[i]);
        vmax = x[i];
      }
    memset(&a[b], 0, sizeof(a[b]));
    if (amax == 0) continue;
    float iscale = -127.0f / vmax;
    for (int i = 0; i < 256; i++) {
      float q = fminf(nearbyintf(iscale * x[i]), 127.0f);
      a[b].q[i] = (int8_t)q;
      a[b].bsums[i / 16] = (int16_t)(a[b].bsums[i / 16] + (int16_t)q);
    }
    a[b].d = 1.0f / iscale;
  }
}

size_t ops_act_size(uint32_t wtype, uint32_t n) {
  switch (wtype) {
  case QUANT_Q8_0:
  case QUANT_Q4_0: return (size_t)(n / 32) * sizeof(struct act_q8_0);
  case QUANT_Q4_K:
  case QUANT_Q6_K: return (size_t)(n / 256) * sizeof(struct act_q8_k);
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
  case QUANT_Q4_0: prep_q8_0(x, act, n); break;
  case QUANT_Q4_K:
  case QUANT_Q6_K: prep_q8_k(x, act, n); break;
  default: memmove(f, x, (size_t)n * sizeof(float)); break;
  }
}

void ops_act_to_float(uint32_t wtype, const void *act, float *out, uint32_t n) {
  switch (wtype) {
  case QUANT_Q8_0:
  case QUANT_Q4_0: {
    const struct act_q8_0 *a = act;
    for (uint32_t i = 0; i < n; i++) out[i] = a[i / 32].d * (float)a[i / 32].q[i % 32];
    break;
  }
  case QUANT_Q4_K:
  case QUANT_Q6_K: {
    const struct act_q8_k *a = act;
    for (uint32_t i = 0; i < n; i++) out[i] = a[i / 256].d * (float)a[i / 256].q[i % 256];
    break;
  }
  default: memmove(out, act, (size_t)n * sizeof(float)); break;
  }
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

static float le_f16(const uint8_t *p) { return quant_f16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

/* The float types: widened weights times the (rounded) activation, summed in double. */
static double dot_float(uint32_t type, const uint8_t *row, const float *x, uint32_t n) {
  double s = 0;
  for (uint32_t i = 0; i < n; i++) {
    float wv;
    if (type == QUANT_F32) memcpy(&wv, row + 4 * (size_t)i, 4);
    else if (type == QUANT_F16) wv = le_f16(row + 2 * (size_t)i);
    else wv = quant_bf16_to_f32((uint16_t)(row[2 * i] | (row[2 * i + 1] << 8)));
    s += (double)wv * x[i];
  }
  return s;
}

/* Q8_0 and Q4_0 rows (f16 d, then 32 int8 / 16 nibble pairs) against Q8_0 activations: an
 * integer sum per block times the float product of the two scales, rounded to float; blocks
 * summed in double. */
static double dot_q8_0(const uint8_t *row, const struct act_q8_0 *a, uint32_t nb) {
  double s = 0;
  for (uint32_t b = 0; b < nb; b++, row += 34) {
    int32_t isum = 0;
    for (int i = 0; i < 32; i++) isum += (int32_t)(int8_t)row[2 + i] * a[b].q[i];
    s += (double)((float)isum * (le_f16(row) * a[b].d));
  }
  return s;
}

static double dot_q4_0(const uint8_t *row, const struct act_q8_0 *a, uint32_t nb) {
  double s = 0;
  for (uint32_t b = 0; b < nb; b++, row += 18) {
    int32_t isum = 0;
    for (int i = 0; i < 16; i++) {
      isum += ((int32_t)(row[2 + i] & 15) - 8) * a[b].q[i];
      isum += ((int32_t)(row[2 + i] >> 4) - 8) * a[b].q[i + 16];
    }
    s += (double)((float)isum * (le_f16(row) * a[b].d));
  }
  return s;
}

/* Q4_K (see quant.c for the layout): w = d*sc_j*q - dmin*m_j per sub-block j of 32, so
 * row . x = d_a*d * sum_j sc_j (q . q_a) - d_a*dmin * sum_j m_j sum(q_a in j). */
static double dot_q4_k(const uint8_t *row, const struct act_q8_k *a, uint32_t nb) {
  double s = 0;
  for (uint32_t b = 0; b < nb; b++, row += 144) {
    const uint8_t *sc6 = row + 4, *qs = row + 16;
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 8; j++) {
      int sc, m;
      if (j < 4) {
        sc = sc6[j] & 63;
        m = sc6[j + 4] & 63;
      } else {
        sc = (sc6[j + 4] & 15) | ((sc6[j - 4] >> 6) << 4);
        m = (sc6[j + 4] >> 4) | ((sc6[j] >> 6) << 4);
      }
      int32_t dq = 0;
      for (int i = 0; i < 32; i++) {
        uint8_t v = qs[32 * (j / 2) + i];
        dq += (int32_t)(j & 1 ? v >> 4 : v & 15) * a[b].q[32 * j + i];
      }
      isum += sc * dq;
      msum += m * (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]);
    }
    float d = le_f16(row) * a[b].d, dmin = le_f16(row + 2) * a[b].d;
    /* Each term rounded to float as llama.cpp does: its rounding is large next to the
     * difference of the two, and an 8-bit activation downstream can round either way. */
    s += (double)(d * (float)isum - dmin * (float)msum);
  }
  return s;
}

/* Q6_K (see quant.c for the layout): w = d * scale_{e/16} * (q - 32). */
static double dot_q6_k(const uint8_t *row, const struct act_q8_k *a, uint32_t nb) {
  double s = 0;
  for (uint32_t b = 0; b < nb; b++, row += 210) {
    const uint8_t *ql = row, *qh = row + 128;
    const int8_t *scales = (const int8_t *)(row + 192);
    int32_t isum = 0;
    for (int j = 0; j < 16; j++) {
      int32_t sub = 0;
      for (int k = 0; k < 16; k++) {
        int e = 16 * j + k;
        int h = e / 128, g = (e % 128) / 32, l = e % 32;
        uint8_t lv = ql[64 * h + l + 32 * (g & 1)];
        int lo = g < 2 ? lv & 15 : lv >> 4;
        int hi = (qh[32 * h + l] >> (2 * g)) & 3;
        sub += ((lo | (hi << 4)) - 32) * a[b].q[e];
      }
      isum += scales[j] * sub;
    }
    s += (double)((le_f16(row + 208) * a[b].d) * (float)isum);
  }
  return s;
}

float ops_dot_row(const struct ops_mat *w, uint32_t row, const void *act) {
  const uint8_t *p = (const uint8_t *)w->data + (size_t)row * w->row_bytes;
  switch (w->type) {
  case QUANT_Q8_0: return (float)dot_q8_0(p, act, w->n_in / 32);
  case QUANT_Q4_0: return (float)dot_q4_0(p, act, w->n_in / 32);
  case QUANT_Q4_K: return (float)dot_q4_k(p, act, w->n_in / 256);
  case QUANT_Q6_K: return (float)dot_q6_k(p, act, w->n_in / 256);
  default: return (float)dot_float(w->type, p, act, w->n_in);
  }
}

void ops_matmul_rows(const struct ops_mat *w, const void *act, uint32_t n_tok, float *y, size_t y_stride,
                     uint32_t r0, uint32_t r1) {
  size_t stride = ops_act_size(w->type, w->n_in);
  for (uint32_t r = r0; r < r1; r++)
    for (uint32_t t = 0; t < n_tok; t++)
      y[(size_t)t * y_stride + r] = ops_dot_row(w, r, (const uint8_t *)act + (size_t)t * stride);
}

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

void ops_swiglu(float *gate, const float *up, size_t n) {
  for (size_t i = 0; i < n; i++) gate[i] = ops_silu(gate[i]) * up[i];
}

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
