/* kern_scalar: the reference kernels: plain C, in llama.cpp's order of arithmetic. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <string.h>

#include "engine/kern.h"
#include "engine/ops.h"
#include "engine/quant.h"

/* Q8_0 (for Q8_0 / Q4_0 weights): scale amax/127 stored as f16, values x * (127/amax) rounded
 * to nearest even, as ggml's x86 path computes them (1/d rounds a few values differently). */
void kern_scalar_prep_q8_0(const float *x, void *act, uint32_t n) {
  struct kern_q8_0 *a = act;
  for (uint32_t b = 0; b < n / 32; b++, x += 32) {
    float amax = 0;
    for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
    float id = amax != 0 ? 127.0f / amax : 0.0f;
    a[b].d = quant_f16_to_f32(quant_f32_to_f16(amax / 127.0f));
    int32_t sum = 0;
    for (int i = 0; i < 32; i++) {
      a[b].q[i] = (int8_t)nearbyintf(x[i] * id);
      sum += a[b].q[i];
    }
    a[b].c = -128 * sum;
  }
}

/* Q8_K (for K-quant weights): f32 scale chosen so that the value of largest magnitude maps to
 * -127; others rounded to nearest even and capped at 127. */
void kern_scalar_prep_q8_k(const float *x, void *act, uint32_t n) {
  struct kern_q8_k *a = act;
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
static double dot_q8_0(const uint8_t *row, const struct kern_q8_0 *a, uint32_t nb) {
  double s = 0;
  for (uint32_t b = 0; b < nb; b++, row += 34) {
    int32_t isum = 0;
    for (int i = 0; i < 32; i++) isum += (int32_t)(int8_t)row[2 + i] * a[b].q[i];
    s += (double)((float)isum * (le_f16(row) * a[b].d));
  }
  return s;
}

static double dot_q4_0(const uint8_t *row, const struct kern_q8_0 *a, uint32_t nb) {
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
static double dot_q4_k(const uint8_t *row, const struct kern_q8_k *a, uint32_t nb) {
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
static double dot_q6_k(const uint8_t *row, const struct kern_q8_k *a, uint32_t nb) {
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

float kern_scalar_dot(const struct ops_mat *w, const uint8_t *p, const void *act) {
  switch (w->type) {
  case QUANT_Q8_0: return (float)dot_q8_0(p, act, w->n_in / 32);
  case QUANT_Q4_0: return (float)dot_q4_0(p, act, w->n_in / 32);
  case QUANT_Q4_K: return (float)dot_q4_k(p, act, w->n_in / 256);
  case QUANT_Q6_K: return (float)dot_q6_k(p, act, w->n_in / 256);
  default: return (float)dot_float(w->type, p, act, w->n_in);
  }
}

void kern_scalar_matmul(const struct ops_mat *w, const void *act, size_t act_stride, uint32_t n_tok, float *y,
                        size_t y_stride, uint32_t r0, uint32_t r1) {
  for (uint32_t r = r0; r < r1; r++) {
    const uint8_t *p = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
    for (uint32_t t = 0; t < n_tok; t++)
      y[(size_t)t * y_stride + r] = kern_scalar_dot(w, p, (const uint8_t *)act + (size_t)t * act_stride);
  }
}

/* Sums in double, as the attention of the reference forward pass did. */
static float dot_f32(const float *a, const float *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return (float)s;
}

static void axpy_f32(float *y, float a, const float *x, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

static void scale_f32(float *y, float a, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] *= a;
}

void kern_scalar_swiglu(float *gate, const float *up, size_t n) {
  for (size_t i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

const struct kern kern_scalar = {
    .name = "scalar",
    .matmul = kern_scalar_matmul,
    .prep_q8_0 = kern_scalar_prep_q8_0,
    .prep_q8_k = kern_scalar_prep_q8_k,
    .dot_f32 = dot_f32,
    .axpy_f32 = axpy_f32,
    .scale_f32 = scale_f32,
    .swiglu = kern_scalar_swiglu,
};
