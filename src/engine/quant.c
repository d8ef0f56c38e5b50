/* quant: ggml tensor types: block geometry, f16/bf16 conversion, scalar quantize/dequantize. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/quant.h"

#include <math.h>
#include <string.h>
#include <strings.h>

/* Geometry from the GGUF/ggml format description; ids not listed are retired or unknown. */
static const struct quant_type_info types[QUANT_TYPE_END] = {
    [QUANT_F32] = {"F32", 1, 4, 1},
    [QUANT_F16] = {"F16", 1, 2, 1},
    [QUANT_Q4_0] = {"Q4_0", 32, 18, 1},
    [QUANT_Q4_1] = {"Q4_1", 32, 20, 0},
    [QUANT_Q5_0] = {"Q5_0", 32, 22, 0},
    [QUANT_Q5_1] = {"Q5_1", 32, 24, 0},
    [QUANT_Q8_0] = {"Q8_0", 32, 34, 1},
    [QUANT_Q8_1] = {"Q8_1", 32, 36, 0},
    [QUANT_Q2_K] = {"Q2_K", 256, 84, 0},
    [QUANT_Q3_K] = {"Q3_K", 256, 110, 0},
    [QUANT_Q4_K] = {"Q4_K", 256, 144, 1},
    [QUANT_Q5_K] = {"Q5_K", 256, 176, 0},
    [QUANT_Q6_K] = {"Q6_K", 256, 210, 1},
    [QUANT_Q8_K] = {"Q8_K", 256, 292, 0},
    [QUANT_IQ2_XXS] = {"IQ2_XXS", 256, 66, 0},
    [QUANT_IQ2_XS] = {"IQ2_XS", 256, 74, 0},
    [QUANT_IQ3_XXS] = {"IQ3_XXS", 256, 98, 0},
    [QUANT_IQ1_S] = {"IQ1_S", 256, 50, 0},
    [QUANT_IQ4_NL] = {"IQ4_NL", 32, 18, 0},
    [QUANT_IQ3_S] = {"IQ3_S", 256, 110, 0},
    [QUANT_IQ2_S] = {"IQ2_S", 256, 82, 0},
    [QUANT_IQ4_XS] = {"IQ4_XS", 256, 136, 0},
    [QUANT_I8] = {"I8", 1, 1, 0},
    [QUANT_I16] = {"I16", 1, 2, 0},
    [QUANT_I32] = {"I32", 1, 4, 0},
    [QUANT_I64] = {"I64", 1, 8, 0},
    [QUANT_F64] = {"F64", 1, 8, 0},
    [QUANT_IQ1_M] = {"IQ1_M", 256, 56, 0},
    [QUANT_BF16] = {"BF16", 1, 2, 1},
    [QUANT_TQ1_0] = {"TQ1_0", 256, 54, 0},
    [QUANT_TQ2_0] = {"TQ2_0", 256, 66, 0},
    [QUANT_MXFP4] = {"MXFP4", 32, 17, 0},
};

const struct quant_type_info *quant_type_info(uint32_t type) {
  if (type >= QUANT_TYPE_END || types[type].name == NULL) return NULL;
  return &types[type];
}

int quant_type_from_name(const char *name) {
  for (int i = 0; i < QUANT_TYPE_END; i++)
    if (types[i].name && strcasecmp(types[i].name, name) == 0) return i;
  return -1;
}

int quant_row_bytes(uint32_t type, uint64_t n, uint64_t *bytes) {
  const struct quant_type_info *ti = quant_type_info(type);
  if (!ti || n % ti->block_elems != 0) return ERR_INVALID;
  if (__builtin_mul_overflow(n / ti->block_elems, (uint64_t)ti->block_bytes, bytes)) return ERR_LIMIT;
  return 0;
}

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float bits_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* Round to nearest, ties to even, with subnormals, infinities and NaN. */
uint16_t quant_f32_to_f16(float f) {
  uint32_t x = f32_bits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return (uint16_t)(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to infinity */
  if (ax < 0x38800000u) {                                    /* below 2^-14: f16 subnormal */
    if (ax < 0x33000000u) return (uint16_t)sign;             /* below 2^-25: zero */
    uint32_t e = ax >> 23;
    uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e; /* 14..24 */
    uint32_t h = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = (ax - 0x38000000u) >> 13;
  uint32_t rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++; /* a carry into the exponent is right */
  return (uint16_t)(sign | h);
}

float quant_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t e = (h >> 10) & 31u;
  uint32_t m = h & 0x3ffu;
  if (e == 0) {
    float v = (float)m * 0x1p-24f;
    return sign ? -v : v;
  }
  if (e == 31) return bits_f32(sign | 0x7f800000u | (m << 13));
  return bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

uint16_t quant_f32_to_bf16(float f) {
  uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* quiet NaN */
  return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

float quant_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

static void put_f16(uint8_t *p, float f) {
  uint16_t h = quant_f32_to_f16(f);
  p[0] = (uint8_t)h;
  p[1] = (uint8_t)(h >> 8);
}

static float get_f16(const uint8_t *p) { return quant_f16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Nearest integer of a finite value, bounded so the int conversion is always defined. */
static int rnd(float v) {
  if (!(v > -1e6f)) return -1000000;
  if (v > 1e6f) return 1000000;
  return (int)lrintf(v);
}

/* Q8_0: f16 d, then 32 int8; w = d*q. */
static void q8_0_block(const float *x, uint8_t *b) {
  float amax = 0;
  for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
  put_f16(b, amax / 127.0f);
  float d = get_f16(b);
  for (int i = 0; i < 32; i++) {
    int q = d > 0 ? clampi(rnd(x[i] / d), -127, 127) : 0;
    b[2 + i] = (uint8_t)(int8_t)q;
  }
}

static void dq8_0_block(const uint8_t *b, float *y) {
  float d = get_f16(b);
  for (int i = 0; i < 32; i++) y[i] = d * (float)(int8_t)b[2 + i];
}

/* Q4_0: f16 d, then 16 bytes: element j in the low nibble of byte j, j+16 in the high one;
 * w = d*(nibble-8). d = (signed value of largest magnitude)/-8 so that value maps to 0. */
static void q4_0_block(const float *x, uint8_t *b) {
  float amax = 0, vmax = 0;
  for (int i = 0; i < 32; i++)
    if (fabsf(x[i]) > amax) {
      amax = fabsf(x[i]);
      vmax = x[i];
    }
  put_f16(b, vmax / -8.0f);
  float d = get_f16(b);
  for (int j = 0; j < 16; j++) {
    int lo = d != 0 ? clampi(rnd(x[j] / d) + 8, 0, 15) : 8;
    int hi = d != 0 ? clampi(rnd(x[j + 16] / d) + 8, 0, 15) : 8;
    b[2 + j] = (uint8_t)(lo | (hi << 4));
  }
}

static void dq4_0_block(const uint8_t *b, float *y) {
  float d = get_f16(b);
  for (int j = 0; j < 16; j++) {
    y[j] = d * (float)((b[2 + j] & 15) - 8);
    y[j + 16] = d * (float)((b[2 + j] >> 4) - 8);
  }
}

/* Q4_K: f16 d, f16 dmin, 12 bytes of packed 6-bit scales/mins for 8 sub-blocks of 32, then
 * 128 bytes of nibbles (32-byte chunk k: sub-block 2k low nibbles, 2k+1 high nibbles);
 * w = d*sc*q - dmin*m. A plain min/max fit: good enough for test models. */
static void q4_k_block(const float *x, uint8_t *b) {
  float sc[8], mn[8], smax = 0, mmax = 0;
  for (int j = 0; j < 8; j++) {
    float lo = 0, hi = 0;
    for (int i = 0; i < 32; i++) {
      lo = fminf(lo, x[32 * j + i]);
      hi = fmaxf(hi, x[32 * j + i]);
    }
    sc[j] = (hi - lo) / 15.0f;
    mn[j] = -lo;
    smax = fmaxf(smax, sc[j]);
    mmax = fmaxf(mmax, mn[j]);
  }
  put_f16(b, smax / 63.0f);
  put_f16(b + 2, mmax / 63.0f);
  float d = get_f16(b), dmin = get_f16(b + 2);
  int isc[8], imn[8];
  for (int j = 0; j < 8; j++) {
    isc[j] = d > 0 ? clampi(rnd(sc[j] / d), 0, 63) : 0;
    imn[j] = dmin > 0 ? clampi(rnd(mn[j] / dmin), 0, 63) : 0;
  }
  uint8_t *s = b + 4;
  for (int j = 0; j < 4; j++) {
    s[j] = (uint8_t)(isc[j] | ((isc[j + 4] >> 4) << 6));
    s[j + 4] = (uint8_t)(imn[j] | ((imn[j + 4] >> 4) << 6));
    s[j + 8] = (uint8_t)((isc[j + 4] & 15) | ((imn[j + 4] & 15) << 4));
  }
  uint8_t *qs = b + 16;
  memset(qs, 0, 128);
  for (int j = 0; j < 8; j++) {
    float es = d * (float)isc[j], em = dmin * (float)imn[j];
    for (int i = 0; i < 32; i++) {
      int q = es > 0 ? clampi(rnd((x[32 * j + i] + em) / es), 0, 15) : 0;
      qs[32 * (j / 2) + i] |= (uint8_t)(j & 1 ? q << 4 : q);
    }
  }
}

static void q4_k_scale(const uint8_t *s, int j, int *sc, int *m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

static void dq4_k_block(const uint8_t *b, float *y) {
  float d = get_f16(b), dmin = get_f16(b + 2);
  const uint8_t *qs = b + 16;
  for (int j = 0; j < 8; j++) {
    int sc, m;
    q4_k_scale(b + 4, j, &sc, &m);
    float es = d * (float)sc, em = dmin * (float)m;
    for (int i = 0; i < 32; i++) {
      uint8_t v = qs[32 * (j / 2) + i];
      int q = j & 1 ? v >> 4 : v & 15;
      y[32 * j + i] = es * (float)q - em;
    }
  }
}

/* Q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16] (one per 16 elements),
 * f16 d; w = d*scale*(q-32). Within each half of 128 elements, element e = 32g + l has its
 * low bits in ql[64h + l + 32(g&1)] (low nibble for g<2, high for g>=2) and its high bits in
 * qh[32h + l] at bit 2g. */
static void q6_k_block(const float *x, uint8_t *b) {
  float ss[16], smax = 0, sabs = 0;
  for (int j = 0; j < 16; j++) {
    float amax = 0, vmax = 0;
    for (int i = 0; i < 16; i++)
      if (fabsf(x[16 * j + i]) > amax) {
        amax = fabsf(x[16 * j + i]);
        vmax = x[16 * j + i];
      }
    ss[j] = vmax / -32.0f;
    if (fabsf(ss[j]) > sabs) {
      sabs = fabsf(ss[j]);
      smax = ss[j];
    }
  }
  uint8_t *ql = b, *qh = b + 128, *scales = b + 192;
  put_f16(b + 208, smax / -128.0f);
  float d = get_f16(b + 208);
  memset(b, 0, 192);
  for (int j = 0; j < 16; j++) {
    int s = d != 0 ? clampi(rnd(ss[j] / d), -128, 127) : 0;
    scales[j] = (uint8_t)(int8_t)s;
  }
  for (int e = 0; e < 256; e++) {
    float es = d * (float)(int8_t)scales[e / 16];
    int q = es != 0 ? clampi(rnd(x[e] / es), -32, 31) + 32 : 32;
    int h = e / 128, g = (e % 128) / 32, l = e % 32;
    uint8_t *lp = &ql[64 * h + l + 32 * (g & 1)];
    *lp |= (uint8_t)(g < 2 ? (q & 15) : (q & 15) << 4);
    qh[32 * h + l] |= (uint8_t)((q >> 4) << (2 * g));
  }
}

static void dq6_k_block(const uint8_t *b, float *y) {
  const uint8_t *ql = b, *qh = b + 128, *scales = b + 192;
  float d = get_f16(b + 208);
  for (int e = 0; e < 256; e++) {
    int h = e / 128, g = (e % 128) / 32, l = e % 32;
    uint8_t lv = ql[64 * h + l + 32 * (g & 1)];
    int lo = g < 2 ? lv & 15 : lv >> 4;
    int hi = (qh[32 * h + l] >> (2 * g)) & 3;
    y[e] = d * (float)(int8_t)scales[e / 16] * (float)((lo | (hi << 4)) - 32);
  }
}

int quant_quantize(uint32_t type, const float *src, void *dst, uint64_t n) {
  const struct quant_type_info *ti = quant_type_info(type);
  if (!ti || !ti->supported || n % ti->block_elems) return ERR_INVALID;
  uint8_t *o = dst;
  uint64_t nb = n / ti->block_elems;
  for (uint64_t i = 0; i < nb; i++) {
    const float *x = src + i * ti->block_elems;
    uint8_t *b = o + i * ti->block_bytes;
    switch (type) {
    case QUANT_F32: memcpy(b, x, 4); break;
    case QUANT_F16: put_f16(b, x[0]); break;
    case QUANT_BF16: {
      uint16_t h = quant_f32_to_bf16(x[0]);
      b[0] = (uint8_t)h;
      b[1] = (uint8_t)(h >> 8);
      break;
    }
    case QUANT_Q8_0: q8_0_block(x, b); break;
    case QUANT_Q4_0: q4_0_block(x, b); break;
    case QUANT_Q4_K: q4_k_block(x, b); break;
    case QUANT_Q6_K: q6_k_block(x, b); break;
    default: return ERR_INVALID;
    }
  }
  return 0;
}

int quant_dequantize(uint32_t type, const void *src, float *dst, uint64_t n) {
  const struct quant_type_info *ti = quant_type_info(type);
  if (!ti || !ti->supported || n % ti->block_elems) return ERR_INVALID;
  const uint8_t *in = src;
  uint64_t nb = n / ti->block_elems;
  for (uint64_t i = 0; i < nb; i++) {
    const uint8_t *b = in + i * ti->block_bytes;
    float *y = dst + i * ti->block_elems;
    switch (type) {
    case QUANT_F32: memcpy(y, b, 4); break;
    case QUANT_F16: y[0] = get_f16(b); break;
    case QUANT_BF16: y[0] = quant_bf16_to_f32((uint16_t)(b[0] | (b[1] << 8))); break;
    case QUANT_Q8_0: dq8_0_block(b, y); break;
    case QUANT_Q4_0: dq4_0_block(b, y); break;
    case QUANT_Q4_K: dq4_k_block(b, y); break;
    case QUANT_Q6_K: dq6_k_block(b, y); break;
    default: return ERR_INVALID;
    }
  }
  return 0;
}
