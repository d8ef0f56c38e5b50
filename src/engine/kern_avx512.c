/* kern_avx512: AVX-512 (F/BW/VL) + VNNI kernels, compiled per function, chosen at run time. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "engine/kern.h"
#include "engine/ops.h"
#include "engine/quant.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c")))
#define TGT_INLINE static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c")))

/* Q8_0 and Q4_0 products work on pairs of blocks (64 values, one zmm). The weights go in as
 * unsigned bytes (Q8_0: q + 128, by flipping the sign bit; Q4_0: the nibble, i.e. q + 8) so one
 * VPDPBUSD multiplies them with the signed activation; the offset times the activation's sum
 * is taken off by starting the integer accumulator at -offset * sum(a). The activation side of
 * that (bytes, the offset sums, the scales spread over each block's 8 lanes) is "packed" once
 * per token and reused by every row. */
struct pack {
  int8_t q[64];
  int32_t corr[16]; /* -offset * (partial sums of a), per lane */
  float d[16];      /* activation scale of the block each lane belongs to */
};

#define TILE_T 4u      /* tokens per tile */
#define TILE_R 4u      /* rows per tile */
#define PAIR_CHUNK 32u /* pairs packed at a time: 2048 values of the reduction */

TGT_INLINE float f16_at(const uint8_t *p) {
  uint16_t h;
  memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

/* Packs pairs [p0, p0 + pn) of one token; `off` is 128 (Q8_0) or 8 (Q4_0). A pair past the
 * last block (odd block count) is half zeros: its products and corrections are zero. */
TGT static void pack_token(const struct kern_q8_0 *a, uint32_t nb, uint32_t p0, uint32_t pn, int off,
                           struct pack *out) {
  const __m512i ones = _mm512_set1_epi8(1);
  for (uint32_t i = 0; i < pn; i++) {
    uint32_t b = 2 * (p0 + i);
    __m256i lo = _mm256_loadu_si256((const __m256i *)a[b].q);
    __m256i hi = b + 1 < nb ? _mm256_loadu_si256((const __m256i *)a[b + 1].q) : _mm256_setzero_si256();
    __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    _mm512_store_si512(out[i].q, q);
    __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, q);
    __m512i c = _mm512_sub_epi32(_mm512_setzero_si512(), off == 128 ? _mm512_slli_epi32(s, 7) : _mm512_slli_epi32(s, 3));
    _mm512_store_si512(out[i].corr, c);
    __m512 d = _mm512_insertf32x8(_mm512_set1_ps(a[b].d), _mm256_set1_ps(b + 1 < nb ? a[b + 1].d : 0.0f), 1);
    _mm512_store_ps(out[i].d, d);
  }
}

/* The 64 weights of pair `pair` of a row as unsigned bytes, and the two blocks' scales spread
 * over their lanes. `half` means only the first block exists. */
TGT_INLINE __m512i load_w(const uint8_t *row, uint32_t pair, int q4, int half, __m512 *dw) {
  if (!q4) {
    const uint8_t *p = row + (size_t)pair * 68;
    __m256i lo = _mm256_loadu_si256((const __m256i *)(p + 2));
    __m256i hi = half ? _mm256_setzero_si256() : _mm256_loadu_si256((const __m256i *)(p + 36));
    uint16_t h0, h1;
    memcpy(&h0, p, 2);
    if (half) h1 = h0;
    else memcpy(&h1, p + 34, 2);
    *dw = _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)h0)),
                                                  _mm_set1_epi16((short)h1), 1));
    return _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), _mm512_set1_epi8((char)0x80));
  }
  const uint8_t *p = row + (size_t)pair * 36;
  __m128i x0 = _mm_loadu_si128((const __m128i *)(p + 2));
  __m128i x1 = half ? _mm_setzero_si128() : _mm_loadu_si128((const __m128i *)(p + 20));
  uint16_t h0, h1;
  memcpy(&h0, p, 2);
  if (half) h1 = h0;
  else memcpy(&h1, p + 18, 2);
  *dw = _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)h0)),
                                                _mm_set1_epi16((short)h1), 1));
  /* [x0, x0, x1, x1]; the second and fourth 128-bit lanes take the high nibbles. */
  __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_broadcastsi128_si256(x0)),
                                 _mm256_broadcastsi128_si256(x1), 1);
  v = _mm512_mask_srli_epi16(v, (__mmask32)0xFF00FF00u, v, 4);
  return _mm512_and_si512(v, _mm512_set1_epi8(15));
}

TGT_INLINE float hsum16(__m512 v) {
  __m256 s = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

/* R rows x T tokens over pairs [p0, p0 + pn); pk holds T packed tokens, PAIR_CHUNK apart.
 * Adds into y when `add`, else stores. */
TGT_INLINE void tile(const uint8_t *w, size_t rb, const struct pack *pk, uint32_t p0, uint32_t pn, uint32_t nb,
                     float *y, size_t ys, int add, const int q4, const int R, const int T) {
  __m512 acc[TILE_R][TILE_T];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
  for (uint32_t i = 0; i < pn; i++) {
    uint32_t pair = p0 + i;
    int half = 2 * pair + 1 >= nb;
    __m512i wv[TILE_R];
    __m512 dw[TILE_R];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) wv[r] = load_w(w + (size_t)r * rb, pair, q4, half, &dw[r]);
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) {
      const struct pack *pt = pk + (size_t)t * PAIR_CHUNK + i;
      __m512i av = _mm512_load_si512(pt->q);
      __m512i c = _mm512_load_si512(pt->corr);
      __m512 da = _mm512_load_ps(pt->d);
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) {
        __m512i is = _mm512_dpbusd_epi32(c, wv[r], av);
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(dw[r], da), acc[r][t]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) {
      float v = hsum16(acc[r][t]);
      float *o = y + (size_t)t * ys + r;
      *o = add ? *o + v : v;
    }
}

/* One row, one token, two accumulators (even and odd pairs) to keep the FMA chain short. */
TGT static void row_1x1(const uint8_t *w, const struct pack *pk, uint32_t p0, uint32_t pn, uint32_t nb, float *y,
                        int add, int q4) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  uint32_t i = 0;
  for (; i + 2 <= pn; i += 2) {
    __m512 dw0, dw1;
    int half1 = 2 * (p0 + i + 1) + 1 >= nb;
    __m512i w0 = q4 ? load_w(w, p0 + i, 1, 0, &dw0) : load_w(w, p0 + i, 0, 0, &dw0);
    __m512i w1 = q4 ? load_w(w, p0 + i + 1, 1, half1, &dw1) : load_w(w, p0 + i + 1, 0, half1, &dw1);
    __m512i i0 = _mm512_dpbusd_epi32(_mm512_load_si512(pk[i].corr), w0, _mm512_load_si512(pk[i].q));
    __m512i i1 = _mm512_dpbusd_epi32(_mm512_load_si512(pk[i + 1].corr), w1, _mm512_load_si512(pk[i + 1].q));
    acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0), _mm512_mul_ps(dw0, _mm512_load_ps(pk[i].d)), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1), _mm512_mul_ps(dw1, _mm512_load_ps(pk[i + 1].d)), acc1);
  }
  if (i < pn) {
    __m512 dw0;
    int half = 2 * (p0 + i) + 1 >= nb;
    __m512i w0 = q4 ? load_w(w, p0 + i, 1, half, &dw0) : load_w(w, p0 + i, 0, half, &dw0);
    __m512i i0 = _mm512_dpbusd_epi32(_mm512_load_si512(pk[i].corr), w0, _mm512_load_si512(pk[i].q));
    acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0), _mm512_mul_ps(dw0, _mm512_load_ps(pk[i].d)), acc0);
  }
  float v = hsum16(_mm512_add_ps(acc0, acc1));
  *y = add ? *y + v : v;
}

TGT static void tiles_q8(const struct ops_mat *w, const void *act, size_t act_stride, uint32_t n_tok, float *y,
                         size_t y_stride, uint32_t r0, uint32_t r1, const int q4) {
  _Alignas(64) struct pack pk[TILE_T * PAIR_CHUNK];
  uint32_t nb = w->n_in / 32, np = (nb + 1) / 2;
  const uint8_t *base = w->data;
  size_t rb = w->row_bytes;
  /* A prompt: chunks of 64 rows stay in L2 while all tokens pass; decode: one chunk. */
  uint32_t chunk = n_tok == 1 ? r1 - r0 : 64;
  for (uint32_t c0 = r0; c0 < r1; c0 += chunk) {
    uint32_t c1 = r1 - c0 < chunk ? r1 : c0 + chunk;
    for (uint32_t p0 = 0; p0 < np; p0 += PAIR_CHUNK) {
      uint32_t pn = np - p0 < PAIR_CHUNK ? np - p0 : PAIR_CHUNK;
      int add = p0 > 0;
      for (uint32_t t0 = 0; t0 < n_tok; t0 += TILE_T) {
        uint32_t tn = n_tok - t0 < TILE_T ? n_tok - t0 : TILE_T;
        for (uint32_t t = 0; t < tn; t++)
          pack_token((const void *)((const uint8_t *)act + (size_t)(t0 + t) * act_stride), nb, p0, pn,
                     q4 ? 8 : 128, pk + (size_t)t * PAIR_CHUNK);
        float *yt = y + (size_t)t0 * y_stride;
        uint32_t r = c0;
        if (tn == TILE_T) {
          for (; r + TILE_R <= c1; r += TILE_R)
            if (q4) tile(base + r * rb, rb, pk, p0, pn, nb, yt + r, y_stride, add, 1, 4, 4);
            else tile(base + r * rb, rb, pk, p0, pn, nb, yt + r, y_stride, add, 0, 4, 4);
          for (; r < c1; r++)
            if (q4) tile(base + r * rb, rb, pk, p0, pn, nb, yt + r, y_stride, add, 1, 1, 4);
            else tile(base + r * rb, rb, pk, p0, pn, nb, yt + r, y_stride, add, 0, 1, 4);
        } else {
          /* Single tokens (decode) go row by row: one sequential stream of weights is what the
           * hardware prefetcher follows best; interleaving 4 rows measured 2x slower here. */
          for (uint32_t t = 0; t < tn; t++)
            for (r = c0; r < c1; r++)
              row_1x1(base + r * rb, pk + (size_t)t * PAIR_CHUNK, p0, pn, nb, yt + (size_t)t * y_stride + r, add, q4);
        }
      }
    }
  }
}

/* Q4_K and Q6_K: a tile of R rows x T tokens, block by block (256 values). The weights of a
 * block go in as unsigned bytes of 64 (Q4_K: the 32 packed bytes of two sub-blocks and their
 * high nibbles; Q6_K: the 6-bit values of four sub-blocks of 16, without the -32), multiplied
 * with the signed activation by VPMADDUBSW (at most 2 * 63 * 127, no saturation) and summed
 * with each sub-block's scale by VPDPWSSD, so the integer sums are exactly the scalar path's.
 * The per-block offsets (Q4_K's dmin * m, Q6_K's -32) come from the activation's sums of 16
 * (bsums). The row-side unpacking and scales are done once per block and serve all T tokens,
 * which is what a prompt gains: 1 row x 8 tokens (the row's preparation spread over more
 * tokens) measured ~15 % faster than 2 x 4 and than 4 x 4. */
struct kblock {
  __m512i sv[4];  /* int16 scale of each pair of bytes of the k-th 64 values */
  __m256i mv;     /* int16 factors of the 16 bsums for the offset term */
  float dw, dmw;  /* d of the block; the offset's factor (Q4_K: dmin, Q6_K: 32 * d) */
};

/* Permutation indexes: the first 16 int16 lanes take element lo, the last 16 element hi. */
TGT_INLINE __m512i lanes_by_half(int lo, int hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16((short)lo)), _mm256_set1_epi16((short)hi), 1);
}

TGT_INLINE void kblock_q4k(const uint8_t *blk, struct kblock *kb) {
  /* The 12 bytes of 6-bit scales and mins, four at a time: bytes 0-3 hold sc 0-3 (low 6 bits)
   * and the top 2 bits of sc 4-7, bytes 4-7 the same for the mins, bytes 8-11 the low 4 bits of
   * sc 4-7 (low nibble) and of m 4-7 (high nibble). */
  uint32_t u0, u1, u2;
  memcpy(&u0, blk + 4, 4);
  memcpy(&u1, blk + 8, 4);
  memcpy(&u2, blk + 12, 4);
  uint64_t sc = (uint64_t)(u0 & 0x3f3f3f3fu) |
                (uint64_t)((u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4)) << 32;
  uint64_t mn = (uint64_t)(u1 & 0x3f3f3f3fu) |
                (uint64_t)(((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4)) << 32;
  __m512i sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)sc)));
  for (int k = 0; k < 4; k++) kb->sv[k] = _mm512_permutexvar_epi16(lanes_by_half(2 * k, 2 * k + 1), sc16);
  __m256i m16 = _mm256_castsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)mn)));
  kb->mv = _mm256_permutexvar_epi16(_mm256_setr_epi16(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7), m16);
  kb->dw = f16_at(blk);
  kb->dmw = f16_at(blk + 2);
}

TGT_INLINE void kblock_q6k(const uint8_t *blk, struct kblock *kb) {
  __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(blk + 192)));
  __m512i s = _mm512_castsi256_si512(s16);
  /* Value group k covers sub-blocks 4k..4k+3, one per 128-bit lane (8 int16). */
  for (int k = 0; k < 4; k++) {
    __m512i idx = _mm512_add_epi16(_mm512_srli_epi16(_mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20,
                                                                        19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8,
                                                                        7, 6, 5, 4, 3, 2, 1, 0),
                                                       3),
                                   _mm512_set1_epi16((short)(4 * k)));
    kb->sv[k] = _mm512_permutexvar_epi16(idx, s);
  }
  kb->mv = s16;
  kb->dw = f16_at(blk + 208);
  kb->dmw = 32.0f * kb->dw;
}

/* The k-th 64 weights of a block (activation bytes 64k..64k+63) as unsigned bytes. */
TGT_INLINE __m512i kweights(const uint8_t *blk, int k, const int q6) {
  if (!q6) {
    __m256i q = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * k));
    return _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1),
                            _mm512_set1_epi8(15));
  }
  /* Q6_K: half h = k/2 has low bits ql[64h..64h+63] and high bits qh[32h..32h+31]; k even takes
   * the low nibbles (values 128h + 0..63), k odd the high ones (128h + 64..127). The two 32-byte
   * halves take their 2 high bits from qh shifted by (4, 2) (k even) or (0, -2) (k odd). */
  int h = k / 2;
  __m512i q = _mm512_loadu_si512((const void *)(blk + 64 * h));
  __m256i hb0 = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h));
  __m512i hb = _mm512_inserti64x4(_mm512_castsi256_si512(hb0), hb0, 1);
  const __m512i m4 = _mm512_set1_epi8(15), m30 = _mm512_set1_epi8(0x30);
  __m512i lo, hi;
  if (k % 2 == 0) {
    lo = _mm512_and_si512(q, m4);
    hi = _mm512_mask_blend_epi64(0xF0, _mm512_slli_epi16(hb, 4), _mm512_slli_epi16(hb, 2));
  } else {
    lo = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
    hi = _mm512_mask_blend_epi64(0xF0, hb, _mm512_srli_epi16(hb, 2));
  }
  return _mm512_or_si512(lo, _mm512_and_si512(hi, m30));
}

#define KT_R 1u /* rows per K-quant tile */
#define KT_T 8u /* tokens per K-quant tile */

TGT_INLINE void ktile(const uint8_t *w, size_t rb, const uint8_t *act, size_t as, uint32_t nb, float *y, size_t ys,
                      const int q6, const int R, const int T) {
  __m512 acc[KT_R][KT_T];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
  const size_t bb = q6 ? 210 : 144;
  for (uint32_t b = 0; b < nb; b++) {
    struct kblock kb[KT_R];
    __m512i isum[KT_R][KT_T];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      if (q6) kblock_q6k(w + (size_t)r * rb + b * bb, &kb[r]);
      else kblock_q4k(w + (size_t)r * rb + b * bb, &kb[r]);
#pragma GCC unroll 8
      for (int t = 0; t < T; t++) isum[r][t] = _mm512_setzero_si512();
    }
#pragma GCC unroll 8
    for (int k = 0; k < 4; k++) {
      __m512i wv[KT_R];
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) wv[r] = kweights(w + (size_t)r * rb + b * bb, k, q6);
#pragma GCC unroll 8
      for (int t = 0; t < T; t++) {
        const struct kern_q8_k *a = (const struct kern_q8_k *)(const void *)(act + (size_t)t * as) + b;
        __m512i av = _mm512_loadu_si512((const void *)(a->q + 64 * k));
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
          isum[r][t] = _mm512_dpwssd_epi32(isum[r][t], _mm512_maddubs_epi16(wv[r], av), kb[r].sv[k]);
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) {
      const struct kern_q8_k *a = (const struct kern_q8_k *)(const void *)(act + (size_t)t * as) + b;
      __m256i bs = _mm256_loadu_si256((const __m256i *)a->bsums);
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) {
        __m512 off = _mm512_zextps256_ps512(_mm256_cvtepi32_ps(_mm256_madd_epi16(bs, kb[r].mv)));
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][t]), _mm512_set1_ps(kb[r].dw * a->d), acc[r][t]);
        acc[r][t] = _mm512_fnmadd_ps(off, _mm512_set1_ps(kb[r].dmw * a->d), acc[r][t]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) y[(size_t)t * ys + r] = hsum16(acc[r][t]);
}

TGT static void matmul_k(const struct ops_mat *w, const void *act, size_t as, uint32_t n_tok, float *y, size_t ys,
                         uint32_t r0, uint32_t r1, const int q6) {
  const uint8_t *base = w->data, *ab = act;
  size_t rb = w->row_bytes;
  uint32_t nb = w->n_in / 256;
  /* A prompt: chunks of 32 rows stay in L2 while all tokens pass; decode: row by row. */
  uint32_t chunk = n_tok == 1 ? r1 - r0 : 32;
  for (uint32_t c0 = r0; c0 < r1; c0 += chunk) {
    uint32_t c1 = r1 - c0 < chunk ? r1 : c0 + chunk;
    uint32_t t0 = 0;
    for (; t0 + 8 <= n_tok; t0 += 8)
      for (uint32_t r = c0; r < c1; r++)
        if (q6) ktile(base + r * rb, rb, ab + (size_t)t0 * as, as, nb, y + (size_t)t0 * ys + r, ys, 1, 1, 8);
        else ktile(base + r * rb, rb, ab + (size_t)t0 * as, as, nb, y + (size_t)t0 * ys + r, ys, 0, 1, 8);
    for (; t0 + 4 <= n_tok; t0 += 4)
      for (uint32_t r = c0; r < c1; r++)
        if (q6) ktile(base + r * rb, rb, ab + (size_t)t0 * as, as, nb, y + (size_t)t0 * ys + r, ys, 1, 1, 4);
        else ktile(base + r * rb, rb, ab + (size_t)t0 * as, as, nb, y + (size_t)t0 * ys + r, ys, 0, 1, 4);
    for (; t0 < n_tok; t0++)
      for (uint32_t r = c0; r < c1; r++)
        if (q6) ktile(base + r * rb, rb, ab + (size_t)t0 * as, as, nb, y + (size_t)t0 * ys + r, ys, 1, 1, 1);
        else ktile(base + r * rb, rb, ab + (size_t)t0 * as, as, nb, y + (size_t)t0 * ys + r, ys, 0, 1, 1);
  }
}

/* ---- Q8_0 x 16: the repacked layout (model load, ops_mat_pack) --------------------------
 * Rows go in groups of 16 (the last one padded with zero rows). For each block b of 32 values a
 * group holds the 16 rows' f16 scales (32 bytes) and 8 vectors of 64 bytes: vector k has in its
 * 4-byte lane j the values 4k..4k+3 of row 16g+j's block b, as unsigned bytes (q + 128). Blocks
 * go in pairs, [scales b, scales b+1, vectors b, vectors b+1] (1088 bytes, an odd last block
 * 576 with 32 bytes of padding), so a group is one forward stream of whole cache lines: with
 * the scales in a second stream the hardware prefetcher kept the products at ~70 % of the
 * machine's read bandwidth, with one stream at ~100 %. A group takes q8x16_gstride(nb) bytes.
 * A VPDPBUSD of vector k with the activation's bytes 4k..4k+3 broadcast adds 4 products to each
 * of the 16 rows, so 8 of them make the block's integer dot for 16 rows at once, started at
 * the activation's -128 * sum (struct kern_q8_0 .c) to undo the +128. Then one conversion and one FMA
 * with the 16 rows' scales (one vector) times the activation's: no horizontal sums, no
 * per-pair scale shuffling, and the 8 weight vectors serve every token of a tile. The
 * integer sums are the scalar path's, and each row's blocks are added in order in float. */
#define Q8X16_T 8u     /* tokens per tile */
#define Q8X16_PF 13056u /* prefetch distance of a tile of several tokens, bytes (24 blocks) */
#define Q8X16_PF1 16384u /* of the sparse prefetch (one line in 4 blocks), bytes */

static size_t q8x16_gstride(uint32_t nb) { return (size_t)(nb / 2) * 1088 + (nb & 1) * 576; }
/* Block b of a group: its scales and its 8 vectors, in one forward stream. */
static inline size_t q8x16_doff(uint32_t b) { return (size_t)(b / 2) * 1088 + 32 * (b & 1); }
static inline size_t q8x16_qoff(uint32_t b) { return (size_t)(b / 2) * 1088 + 64 + 512 * (b & 1); }

static size_t pack_size(const struct ops_mat *w) {
  if (w->type != QUANT_Q8_0 || w->n_in % 32) return 0;
  return (size_t)((w->n_out + 15) / 16) * q8x16_gstride(w->n_in / 32);
}

/* Gathers transpose a group's 16 rows block by block (rows past n_out: zero weights and scales). */
TGT static void pack(const struct ops_mat *w, void *dst, uint32_t r0, uint32_t r1) {
  uint32_t nb = w->n_in / 32;
  size_t gs = q8x16_gstride(nb);
  const __m512i flip = _mm512_set1_epi8((char)0x80);
  for (uint32_t g0 = r0 / 16; g0 < (r1 + 15) / 16; g0++) {
    uint8_t *g = (uint8_t *)dst + (size_t)g0 * gs;
    const uint8_t *src = (const uint8_t *)w->data + (size_t)g0 * 16 * w->row_bytes;
    uint32_t n = w->n_out - 16 * g0 < 16 ? w->n_out - 16 * g0 : 16;
    __mmask16 m = (__mmask16)((1u << n) - 1);
    /* Row offsets fit 32 bits: the loader caps rows at 2^20 elements (~1.1 MB of Q8_0). */
    __m512i rows = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                      _mm512_set1_epi32((int)w->row_bytes));
    for (uint32_t b = 0; b < nb; b++) {
      const uint8_t *blk = src + (size_t)b * 34;
      __m512i d = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, rows, (const void *)blk, 1);
      _mm256_store_si256((__m256i *)(void *)(g + q8x16_doff(b)), _mm512_cvtepi32_epi16(d));
      for (int k = 0; k < 8; k++) {
        __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, rows, (const void *)(blk + 2 + 4 * k), 1);
        _mm512_store_si512((void *)(g + q8x16_qoff(b) + 64 * (size_t)k), _mm512_xor_si512(v, flip));
      }
    }
    if (nb & 1) memset(g + q8x16_doff(nb - 1) + 32, 0, 32); /* the odd last block's padding */
  }
}

TGT_INLINE __m512i bcast4(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

/* One group (16 rows) against T tokens; rows outside `m` are not stored. */
TGT_INLINE void q8x16_group(const uint8_t *g, uint32_t nb, const uint8_t *act, size_t as, float *y, size_t ys,
                            __mmask16 m, int sparse_pf, const int T) {
  __m512 acc[Q8X16_T];
#pragma GCC unroll 8
  for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
  for (uint32_t b = 0; b < nb; b++) {
    const __m512i *wq = (const __m512i *)(const void *)(g + q8x16_qoff(b));
    __m512 dw = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(const void *)(g + q8x16_doff(b))));
    if (T == 1) {
      /* One token: two chains of four keep VPDPBUSD's latency hidden. */
      const struct kern_q8_0 *a = (const struct kern_q8_0 *)(const void *)act + b;
      /* One line in every 4 blocks (~2 KB), 16 KB ahead, past the group's end into the next
       * group or matrix (the copies lie in the order they are used): measured ~20 % faster
       * decode than the hardware prefetcher alone (51 -> 62 tok/s), which a prefetch of every
       * line ahead made slower instead (the extra loads cost more than they gained). */
      if (b % 4 == 0) _mm_prefetch((const char *)(g + q8x16_doff(b)) + Q8X16_PF1, _MM_HINT_T0);
      __m512i i0 = _mm512_set1_epi32(a->c), i1 = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int k = 0; k < 8; k += 2) {
        i0 = _mm512_dpbusd_epi32(i0, _mm512_load_si512(wq + k), bcast4(a->q + 4 * k));
        i1 = _mm512_dpbusd_epi32(i1, _mm512_load_si512(wq + k + 1), bcast4(a->q + 4 * k + 4));
      }
      acc[0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(i0, i1)), _mm512_mul_ps(dw, _mm512_set1_ps(a->d)),
                               acc[0]);
    } else {
      __m512i wv[8];
      /* Several tokens: the block's work is long enough that the weights must be asked for
       * well ahead (into L2): measured 8 tokens in ~35 ms a step against ~50 ms without at
       * 4 KB ahead, and the products of an 8-token step in 21-27 ms against 31-34 at 12.75 KB
       * ahead (8.5 KB was about as good, 17 KB a little worse). */
#pragma GCC unroll 8
      for (int k = 0; k < 8; k++) _mm_prefetch((const char *)(wq + k) + Q8X16_PF, _MM_HINT_T1);
      /* And in a decode step (each group passed once) the single token's sparse prefetch on
       * top: an 8-token step's products went from ~27 to ~16.5 ms at 1 thread (~15 to ~12.7
       * ms at 2), any distance from 16 to 48 KB. A prompt's tiles pass over groups in L2. */
      if (sparse_pf && b % 4 == 0) _mm_prefetch((const char *)wq + Q8X16_PF1, _MM_HINT_T0);
#pragma GCC unroll 8
      for (int k = 0; k < 8; k++) wv[k] = _mm512_load_si512(wq + k);
#pragma GCC unroll 8
      for (int t = 0; t < T; t++) {
        const struct kern_q8_0 *a = (const struct kern_q8_0 *)(const void *)(act + (size_t)t * as) + b;
        __m512i is = _mm512_set1_epi32(a->c);
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) is = _mm512_dpbusd_epi32(is, wv[k], bcast4(a->q + 4 * k));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(dw, _mm512_set1_ps(a->d)), acc[t]);
      }
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; t++) _mm512_mask_storeu_ps(y + (size_t)t * ys, m, acc[t]);
}

TGT static void q8x16_tile(const uint8_t *g, uint32_t nb, const uint8_t *act, size_t as, float *y, size_t ys,
                           __mmask16 m, int sparse_pf, uint32_t T) {
  switch (T) {
  case 1: q8x16_group(g, nb, act, as, y, ys, m, sparse_pf, 1); break;
  case 2: q8x16_group(g, nb, act, as, y, ys, m, sparse_pf, 2); break;
  case 3: q8x16_group(g, nb, act, as, y, ys, m, sparse_pf, 3); break;
  case 4: q8x16_group(g, nb, act, as, y, ys, m, sparse_pf, 4); break;
  case 5: q8x16_group(g, nb, act, as, y, ys, m, sparse_pf, 5); break;
  case 6: q8x16_group(g, nb, act, as, y, ys, m, sparse_pf, 6); break;
  case 7: q8x16_group(g, nb, act, as, y, ys, m, sparse_pf, 7); break;
  default: q8x16_group(g, nb, act, as, y, ys, m, sparse_pf, 8); break;
  }
}

TGT static void q8x16_matmul(const struct ops_mat *w, const void *act, size_t as, uint32_t n_tok, float *y,
                             size_t ys, uint32_t r0, uint32_t r1) {
  uint32_t nb = w->n_in / 32;
  size_t gs = q8x16_gstride(nb);
  const uint8_t *base = w->packed, *ab = act;
  /* Several token tiles: 4 groups (64 rows) at a time stay in L2 while the tiles pass. */
  uint32_t g0 = r0 / 16, g1 = (r1 + 15) / 16, chunk = n_tok <= Q8X16_T ? g1 - g0 : 4;
  for (uint32_t c0 = g0; c0 < g1; c0 += chunk) {
    uint32_t c1 = g1 - c0 < chunk ? g1 : c0 + chunk;
    for (uint32_t t0 = 0; t0 < n_tok; t0 += Q8X16_T) {
      uint32_t T = n_tok - t0 < Q8X16_T ? n_tok - t0 : Q8X16_T;
      for (uint32_t g = c0; g < c1; g++) {
        uint32_t lo = 16 * g < r0 ? r0 - 16 * g : 0, hi = 16 * g + 16 > r1 ? r1 - 16 * g : 16;
        __mmask16 m = (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
        q8x16_tile(base + g * gs, nb, ab + (size_t)t0 * as, as, y + (size_t)t0 * ys + 16 * g, ys, m, n_tok <= Q8X16_T,
                   T);
      }
    }
  }
}

/* The float types against the F32 (rounded) activation; four accumulators of 16. */
TGT static float dot_floats(uint32_t type, const uint8_t *row, const float *x, uint32_t n) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  uint32_t i = 0;
  for (; i + 64 <= n; i += 64)
#pragma GCC unroll 8
    for (int k = 0; k < 4; k++) {
      uint32_t e = i + 16 * (uint32_t)k;
      __m512 wv;
      if (type == QUANT_F32) wv = _mm512_loadu_ps((const float *)(const void *)(row + 4 * (size_t)e));
      else if (type == QUANT_F16) wv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + 2 * (size_t)e)));
      else
        wv = _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(row + 2 * (size_t)e))), 16));
      acc[k] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x + e), acc[k]);
    }
  float s = hsum16(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
  for (; i < n; i++) {
    float wv;
    if (type == QUANT_F32) memcpy(&wv, row + 4 * (size_t)i, 4);
    else if (type == QUANT_F16) wv = f16_at(row + 2 * (size_t)i);
    else wv = quant_bf16_to_f32((uint16_t)(row[2 * i] | (row[2 * i + 1] << 8)));
    s += wv * x[i];
  }
  return s;
}

TGT static void matmul(const struct ops_mat *w, const void *act, size_t act_stride, uint32_t n_tok, float *y,
                       size_t y_stride, uint32_t r0, uint32_t r1) {
  switch (w->type) {
  case QUANT_Q8_0:
    if (w->packed) q8x16_matmul(w, act, act_stride, n_tok, y, y_stride, r0, r1);
    else tiles_q8(w, act, act_stride, n_tok, y, y_stride, r0, r1, 0);
    return;
  case QUANT_Q4_0: tiles_q8(w, act, act_stride, n_tok, y, y_stride, r0, r1, 1); return;
  case QUANT_Q4_K: matmul_k(w, act, act_stride, n_tok, y, y_stride, r0, r1, 0); return;
  case QUANT_Q6_K: matmul_k(w, act, act_stride, n_tok, y, y_stride, r0, r1, 1); return;
  case QUANT_F32:
  case QUANT_F16:
  case QUANT_BF16:
    for (uint32_t r = r0; r < r1; r++) {
      const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
      for (uint32_t t = 0; t < n_tok; t++)
        y[(size_t)t * y_stride + r] =
            dot_floats(w->type, row, (const float *)(const void *)((const uint8_t *)act + t * act_stride), w->n_in);
    }
    return;
  default: kern_avx2_matmul(w, act, act_stride, n_tok, y, y_stride, r0, r1); return;
  }
}

TGT static float dot_f32(const float *a, const float *b, size_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  if (i + 16 <= n) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    i += 16;
  }
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc1);
  }
  return hsum16(_mm512_add_ps(acc0, acc1));
}

TGT static void axpy_f32(float *y, float a, const float *x, size_t n) {
  __m512 av = _mm512_set1_ps(a);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

TGT static void scale_f32(float *y, float a, size_t n) {
  __m512 av = _mm512_set1_ps(a);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(av, _mm512_loadu_ps(y + i)));
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(av, _mm512_maskz_loadu_ps(m, y + i)));
  }
}

/* expf by range reduction (x = n ln2 + r, |r| <= ln2/2) and Cephes' degree-6 polynomial, scaled
 * by 2^n with VSCALEFPS (which gives inf and 0 past the ends, like expf): within ~2 ulp. */
TGT_INLINE __m512 exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(89.0f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

/* The FFN's gate: per token 4864 expf calls in libm were ~10 % of an 8-token step, done by the
 * calling thread alone. */
TGT static void swiglu(float *gate, const float *up, size_t n) {
  size_t i = 0;
  const __m512 one = _mm512_set1_ps(1.0f);
  for (; i + 16 <= n; i += 16) {
    __m512 g = _mm512_loadu_ps(gate + i);
    __m512 s = _mm512_div_ps(g, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), g))));
    _mm512_storeu_ps(gate + i, _mm512_mul_ps(s, _mm512_loadu_ps(up + i)));
  }
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
    __m512 s = _mm512_div_ps(g, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), g))));
    _mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, up + i)));
  }
}

const struct kern kern_avx512 = {
    .name = "avx512",
    .matmul = matmul,
    .prep_q8_0 = kern_avx2_prep_q8_0,
    .prep_q8_k = kern_avx2_prep_q8_k,
    .dot_f32 = dot_f32,
    .axpy_f32 = axpy_f32,
    .scale_f32 = scale_f32,
    .swiglu = swiglu,
    .pack_size = pack_size,
    .pack = pack,
};

#else
const struct kern kern_avx512 = {"avx512", kern_scalar_matmul, kern_scalar_prep_q8_0, kern_scalar_prep_q8_k,
                                 NULL, NULL, NULL, kern_scalar_swiglu, NULL, NULL};
#endif
