/* kern_avx2: AVX2/FMA/F16C kernels (x86-64-v3), compiled per function, chosen at run time. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <string.h>

#include "engine/kern.h"
#include "engine/ops.h"
#include "engine/quant.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma,f16c")))
#define TGT_INLINE static inline __attribute__((always_inline, target("avx2,fma,f16c")))

TGT_INLINE float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

TGT_INLINE float f16_at(const uint8_t *p) {
  uint16_t h;
  memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

/* Signed bytes times signed bytes, summed in pairs then fours: 8 int32 as floats. */
TGT_INLINE __m256 mul_sum_i8(__m256i w, __m256i a) {
  __m256i ax = _mm256_sign_epi8(w, w);
  __m256i sy = _mm256_sign_epi8(a, w);
  __m256i d16 = _mm256_maddubs_epi16(ax, sy);
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(d16, _mm256_set1_epi16(1)));
}

/* The 32 weights of a Q4_0 block (nibble - 8) in element order. */
TGT_INLINE __m256i q4_0_bytes(const uint8_t *qs) {
  __m128i x = _mm_loadu_si128((const __m128i *)qs);
  __m256i v = _mm256_set_m128i(_mm_srli_epi16(x, 4), x);
  return _mm256_sub_epi8(_mm256_and_si256(v, _mm256_set1_epi8(15)), _mm256_set1_epi8(8));
}

/* R rows of Q8_0 or Q4_0 (q4 = 1) against one activation; R independent accumulators keep the
 * FMA pipes busy and the activation block is loaded once for all rows. */
TGT_INLINE void dot_q8_rows(const uint8_t *row, size_t rb, const struct kern_q8_0 *a, uint32_t nb, float *out,
                            const int R, const int q4) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  const size_t bb = q4 ? 18 : 34;
  for (uint32_t b = 0; b < nb; b++) {
    __m256i av = _mm256_loadu_si256((const __m256i *)a[b].q);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
      const uint8_t *p = row + (size_t)r * rb + b * bb;
      __m256i wv = q4 ? q4_0_bytes(p + 2) : _mm256_loadu_si256((const __m256i *)(p + 2));
      __m256 s = _mm256_set1_ps(f16_at(p) * a[b].d);
      /* One row alternates two accumulators to keep the FMA chain short. */
      int k = R == 1 ? (int)(b & 1) : r;
      acc[k] = _mm256_fmadd_ps(s, mul_sum_i8(wv, av), acc[k]);
    }
  }
  if (R == 1) acc[0] = _mm256_add_ps(acc[0], acc[1]);
  for (int r = 0; r < R; r++) out[r] = hsum8(acc[r]);
}

/* Q4_K: w = d*sc*q - dmin*m per sub-block of 32; see kern_scalar.c. */
TGT static float dot_q4_k(const uint8_t *row, const struct kern_q8_k *a, uint32_t nb) {
  __m256 acc = _mm256_setzero_ps();
  float macc = 0;
  for (uint32_t b = 0; b < nb; b++, row += 144) {
    const uint8_t *sc6 = row + 4, *qs = row + 16;
    int sc[8], m[8];
    for (int j = 0; j < 4; j++) {
      sc[j] = sc6[j] & 63;
      m[j] = sc6[j + 4] & 63;
      sc[j + 4] = (sc6[j + 8] & 15) | ((sc6[j] >> 6) << 4);
      m[j + 4] = (sc6[j + 8] >> 4) | ((sc6[j + 4] >> 6) << 4);
    }
    __m256i sumi = _mm256_setzero_si256();
    const __m256i m4 = _mm256_set1_epi8(15);
    for (int k = 0; k < 4; k++) {
      __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * k));
      __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(a[b].q + 64 * k)));
      __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(a[b].q + 64 * k + 32)));
      plo = _mm256_madd_epi16(plo, _mm256_set1_epi16((short)sc[2 * k]));
      phi = _mm256_madd_epi16(phi, _mm256_set1_epi16((short)sc[2 * k + 1]));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(plo, phi));
    }
    int32_t msum = 0;
    for (int j = 0; j < 8; j++) msum += m[j] * (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]);
    float d = f16_at(row) * a[b].d, dmin = f16_at(row + 2) * a[b].d;
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    macc += dmin * (float)msum;
  }
  return hsum8(acc) - macc;
}

/* Q4_K, one row against 4 tokens: the scales and the unpacked nibbles of each block serve all
 * four (a prompt), the arithmetic per token is dot_q4_k's. act_stride is in bytes. */
TGT static void dot_q4_k_t4(const uint8_t *row, const void *act, size_t act_stride, uint32_t nb, float *y,
                            size_t y_stride) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  float macc[4] = {0, 0, 0, 0};
  const __m256i m4 = _mm256_set1_epi8(15);
  for (uint32_t b = 0; b < nb; b++, row += 144) {
    const uint8_t *sc6 = row + 4, *qs = row + 16;
    int sc[8], m[8];
    for (int j = 0; j < 4; j++) {
      sc[j] = sc6[j] & 63;
      m[j] = sc6[j + 4] & 63;
      sc[j + 4] = (sc6[j + 8] & 15) | ((sc6[j] >> 6) << 4);
      m[j + 4] = (sc6[j + 8] >> 4) | ((sc6[j + 4] >> 6) << 4);
    }
    __m256i lo[4], hi[4];
    for (int k = 0; k < 4; k++) {
      __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * k));
      lo[k] = _mm256_and_si256(q, m4);
      hi[k] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
    }
    float dw = f16_at(row), dmw = f16_at(row + 2);
    for (int t = 0; t < 4; t++) {
      const struct kern_q8_k *a = (const struct kern_q8_k *)(const void *)((const uint8_t *)act + t * act_stride) + b;
      __m256i sumi = _mm256_setzero_si256();
      for (int k = 0; k < 4; k++) {
        __m256i plo = _mm256_maddubs_epi16(lo[k], _mm256_loadu_si256((const __m256i *)(a->q + 64 * k)));
        __m256i phi = _mm256_maddubs_epi16(hi[k], _mm256_loadu_si256((const __m256i *)(a->q + 64 * k + 32)));
        plo = _mm256_madd_epi16(plo, _mm256_set1_epi16((short)sc[2 * k]));
        phi = _mm256_madd_epi16(phi, _mm256_set1_epi16((short)sc[2 * k + 1]));
        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(plo, phi));
      }
      int32_t msum = 0;
      for (int j = 0; j < 8; j++) msum += m[j] * (a->bsums[2 * j] + a->bsums[2 * j + 1]);
      float d = dw * a->d, dmin = dmw * a->d;
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc[t]);
      macc[t] += dmin * (float)msum;
    }
  }
  for (int t = 0; t < 4; t++) y[(size_t)t * y_stride] = hsum8(acc[t]) - macc[t];
}

/* Q6_K: w = d * scale_{e/16} * (q - 32); the -32 is applied through the activation's sums of
 * 16 (bsums), so the bytes multiply as unsigned 0..63. */
TGT static float dot_q6_k(const uint8_t *row, const struct kern_q8_k *a, uint32_t nb) {
  __m256 acc = _mm256_setzero_ps();
  float cacc = 0;
  const __m256i m4 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30);
  for (uint32_t b = 0; b < nb; b++, row += 210) {
    const uint8_t *ql = row, *qh = row + 128;
    const int8_t *scales = (const int8_t *)(row + 192);
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
      __m256i q0 = _mm256_loadu_si256((const __m256i *)(ql + 64 * h));
      __m256i q1 = _mm256_loadu_si256((const __m256i *)(ql + 64 * h + 32));
      __m256i hb = _mm256_loadu_si256((const __m256i *)(qh + 32 * h));
      __m256i g[4];
      g[0] = _mm256_or_si256(_mm256_and_si256(q0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30));
      g[1] = _mm256_or_si256(_mm256_and_si256(q1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30));
      g[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q0, 4), m4), _mm256_and_si256(hb, m30));
      g[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q1, 4), m4),
                             _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30));
      for (int k = 0; k < 4; k++) {
        int j = 8 * h + 2 * k;
        __m256i p = _mm256_maddubs_epi16(g[k], _mm256_loadu_si256((const __m256i *)(a[b].q + 128 * h + 32 * k)));
        __m256i s = _mm256_set_m128i(_mm_set1_epi16(scales[j + 1]), _mm_set1_epi16(scales[j]));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s));
      }
    }
    int32_t corr = 0;
    for (int j = 0; j < 16; j++) corr += scales[j] * a[b].bsums[j];
    float d = f16_at(row + 208) * a[b].d;
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    cacc += d * (float)(32 * corr);
  }
  return hsum8(acc) - cacc;
}

/* The float types against the F32 (rounded) activation; four accumulators of 8. */
TGT static float dot_floats(uint32_t type, const uint8_t *row, const float *x, uint32_t n) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  uint32_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; k++) {
      uint32_t e = i + 8 * (uint32_t)k;
      __m256 wv;
      if (type == QUANT_F32) wv = _mm256_loadu_ps((const float *)(const void *)(row + 4 * (size_t)e));
      else if (type == QUANT_F16) wv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 2 * (size_t)e)));
      else
        wv = _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(row + 2 * (size_t)e))), 16));
      acc[k] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + e), acc[k]);
    }
  float s = hsum8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; i++) {
    float wv;
    if (type == QUANT_F32) memcpy(&wv, row + 4 * (size_t)i, 4);
    else if (type == QUANT_F16) wv = f16_at(row + 2 * (size_t)i);
    else wv = quant_bf16_to_f32((uint16_t)(row[2 * i] | (row[2 * i + 1] << 8)));
    s += wv * x[i];
  }
  return s;
}

TGT static float dot_one(const struct ops_mat *w, const uint8_t *row, const void *act) {
  float y;
  switch (w->type) {
  case QUANT_Q8_0: dot_q8_rows(row, w->row_bytes, act, w->n_in / 32, &y, 1, 0); return y;
  case QUANT_Q4_0: dot_q8_rows(row, w->row_bytes, act, w->n_in / 32, &y, 1, 1); return y;
  case QUANT_Q4_K: return dot_q4_k(row, act, w->n_in / 256);
  case QUANT_Q6_K: return dot_q6_k(row, act, w->n_in / 256);
  case QUANT_F32:
  case QUANT_F16:
  case QUANT_BF16: return dot_floats(w->type, row, act, w->n_in);
  default: return kern_scalar_dot(w, row, act);
  }
}

/* Rows in chunks small enough to stay in L1/L2 while every token of the batch passes over
 * them, so a prompt reads each weight from memory once; 4 rows at a time for Q8_0/Q4_0 when
 * the rows are reused (a prompt). A single token goes row by row: one sequential stream of
 * weights is what the hardware prefetcher follows best (4 interleaved rows measured 2x slower). */
#define ROW_CHUNK 16u

TGT void kern_avx2_matmul(const struct ops_mat *w, const void *act, size_t act_stride, uint32_t n_tok, float *y,
                          size_t y_stride, uint32_t r0, uint32_t r1) {
  const uint8_t *base = w->data;
  int q8 = w->type == QUANT_Q8_0 || w->type == QUANT_Q4_0, q4 = w->type == QUANT_Q4_0;
  for (uint32_t c0 = r0; c0 < r1; c0 += ROW_CHUNK) {
    uint32_t c1 = r1 - c0 < ROW_CHUNK ? r1 : c0 + ROW_CHUNK;
    uint32_t t0 = 0;
    if (w->type == QUANT_Q4_K)
      for (; t0 + 4 <= n_tok; t0 += 4)
        for (uint32_t r = c0; r < c1; r++)
          dot_q4_k_t4(base + (size_t)r * w->row_bytes, (const uint8_t *)act + (size_t)t0 * act_stride, act_stride,
                      w->n_in / 256, y + (size_t)t0 * y_stride + r, y_stride);
    for (uint32_t t = t0; t < n_tok; t++) {
      const void *a = (const uint8_t *)act + (size_t)t * act_stride;
      float *yt = y + (size_t)t * y_stride;
      uint32_t r = c0;
      if (q8 && n_tok > 1)
        for (; r + 4 <= c1; r += 4) {
          if (q4) dot_q8_rows(base + (size_t)r * w->row_bytes, w->row_bytes, a, w->n_in / 32, yt + r, 4, 1);
          else dot_q8_rows(base + (size_t)r * w->row_bytes, w->row_bytes, a, w->n_in / 32, yt + r, 4, 0);
        }
      for (; r < c1; r++) yt[r] = dot_one(w, base + (size_t)r * w->row_bytes, a);
    }
  }
}

/* Q8_0 preparation, bit-identical to the scalar one: the same amax, the same f16 scale, the
 * same x * (127 / amax) rounded to nearest even (the vector rounding is the IEEE one). */
TGT_INLINE int32_t hsum8i(__m256i v) {
  __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1));
  return _mm_cvtsi128_si32(x);
}

TGT void kern_avx2_prep_q8_0(const float *x, void *act, uint32_t n) {
  struct kern_q8_0 *a = act;
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (uint32_t b = 0; b < n / 32; b++, x += 32) {
    __m256 v[4], mx = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      mx = _mm256_max_ps(mx, _mm256_and_ps(v[k], absmask));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    float amax = _mm_cvtss_f32(m);
    float id = amax != 0 ? 127.0f / amax : 0.0f;
    a[b].d = quant_f16_to_f32(quant_f32_to_f16(amax / 127.0f));
    __m256 idv = _mm256_set1_ps(id);
    __m256i i[4];
    for (int k = 0; k < 4; k++)
      i[k] = _mm256_cvtps_epi32(
          _mm256_round_ps(_mm256_mul_ps(v[k], idv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)a[b].q, p);
    /* -128 * sum: the four int32 lane sums of each 8 values (sum of 32 fits easily). */
    __m256i s16 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), p), _mm256_set1_epi16(1));
    a[b].c = -128 * hsum8i(s16);
  }
}


/* Q8_K preparation, bit-identical to the scalar one: the first value of largest magnitude
 * sets the scale, the rest round to nearest even and cap at 127. */
TGT void kern_avx2_prep_q8_k(const float *x, void *act, uint32_t n) {
  struct kern_q8_k *a = act;
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (uint32_t b = 0; b < n / 256; b++, x += 256) {
    __m256 mx = _mm256_setzero_ps();
    for (int k = 0; k < 32; k++) mx = _mm256_max_ps(mx, _mm256_and_ps(_mm256_loadu_ps(x + 8 * k), absmask));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    float amax = _mm_cvtss_f32(m);
    memset(&a[b], 0, sizeof(a[b]));
    if (amax == 0) continue;
    float vmax = 0;
    for (int i = 0; i < 256; i++)
      if (fabsf(x[i]) == amax) {
        vmax = x[i];
        break;
      }
    float iscale = -127.0f / vmax;
    __m256 isv = _mm256_set1_ps(iscale), cap = _mm256_set1_ps(127.0f);
    for (int k = 0; k < 8; k++) { /* 32 values: 2 sums of 16 */
      __m256i i[4];
      for (int j = 0; j < 4; j++)
        i[j] = _mm256_cvtps_epi32(_mm256_min_ps(
            _mm256_round_ps(_mm256_mul_ps(isv, _mm256_loadu_ps(x + 32 * k + 8 * j)),
                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
            cap));
      a[b].bsums[2 * k] = (int16_t)hsum8i(_mm256_add_epi32(i[0], i[1]));
      a[b].bsums[2 * k + 1] = (int16_t)hsum8i(_mm256_add_epi32(i[2], i[3]));
      __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
      p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      _mm256_storeu_si256((__m256i *)(a[b].q + 32 * k), p);
    }
    a[b].d = 1.0f / iscale;
  }
}

TGT static float dot_f32(const float *a, const float *b, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  float s = hsum8(_mm256_add_ps(acc0, acc1));
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

TGT static void axpy_f32(float *y, float a, const float *x, size_t n) {
  __m256 av = _mm256_set1_ps(a);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += a * x[i];
}

TGT static void scale_f32(float *y, float a, size_t n) {
  __m256 av = _mm256_set1_ps(a);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(av, _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] *= a;
}

const struct kern kern_avx2 = {
    .name = "avx2",
    .matmul = kern_avx2_matmul,
    .prep_q8_0 = kern_avx2_prep_q8_0,
    .prep_q8_k = kern_avx2_prep_q8_k,
    .dot_f32 = dot_f32,
    .axpy_f32 = axpy_f32,
    .scale_f32 = scale_f32,
    .swiglu = kern_scalar_swiglu,
};

#else /* not x86-64: the table exists but kern_by_name never returns it */
const struct kern kern_avx2 = {"avx2", kern_scalar_matmul, kern_scalar_prep_q8_0, kern_scalar_prep_q8_k,
                               NULL, NULL, NULL, kern_scalar_swiglu, NULL, NULL};
#endif
