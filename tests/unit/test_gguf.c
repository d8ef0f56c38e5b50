/* test_gguf: GGUF reader/writer round trips, quantization bounds, test models, damaged files. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/quant.h"
#include "engine/testmodel.h"

static const uint32_t all_types[] = {QUANT_F32, QUANT_F16, QUANT_BF16, QUANT_Q8_0,
                                     QUANT_Q4_0, QUANT_Q4_K, QUANT_Q6_K};
static const char *const archs[] = {"llama", "qwen2", "qwen3"};

/* ---- helpers ---- */

struct mem {
  uint8_t *p;
  size_t n;
};

static struct mem model_mem(const struct testmodel_opts *o) {
  char *p = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&p, &n);
  assert_non_null(f);
  struct err e = {0};
  int rc = testmodel_write(o, f, &e);
  if (rc) fail_msg("testmodel_write: %s", e.msg);
  assert_int_equal(fclose(f), 0);
  struct mem m = {(uint8_t *)p, n};
  return m;
}

/* Parses an exact-size copy so ASan sees any read past the end. */
static int open_copy(const uint8_t *p, size_t n, struct err *e) {
  uint8_t *c = malloc(n ? n : 1);
  assert_non_null(c);
  if (n) memcpy(c, p, n);
  struct gguf *g = NULL;
  int rc = gguf_open_mem(c, n, &g, e);
  if (rc == 0) {
    assert_non_null(g);
    /* Touch every tensor's first and last byte and every string. */
    for (size_t i = 0; i < gguf_tensor_count(g); i++) {
      const struct gguf_tensor *t = gguf_tensor_at(g, i);
      const uint8_t *d = t->data;
      volatile uint8_t x = d[0];
      x = d[t->nbytes - 1];
      (void)x;
    }
    gguf_free(g);
  } else {
    assert_null(g);
    assert_true(rc < 0);
    assert_true(e->msg[0] != 0);
  }
  free(c);
  return rc;
}

static void expect_fail(const uint8_t *p, size_t n, const char *needle) {
  struct err e = {0};
  int rc = open_copy(p, n, &e);
  if (rc == 0) fail_msg("accepted a damaged file (expected '%s')", needle ? needle : "any error");
  if (needle && !strstr(e.msg, needle)) fail_msg("error '%s' does not mention '%s'", e.msg, needle);
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

/* Offsets of every field of a well-formed file, found by an independent walk. */
struct kvpos {
  size_t keylen, type, value;
  uint32_t t;
};
struct tpos {
  size_t namelen, ndims, dims, type, offset;
};
struct layout {
  size_t nkv, nt;
  struct kvpos kv[64];
  struct tpos t[64];
};

static size_t skip_value(const uint8_t *p, size_t off, uint32_t t) {
  static const size_t sz[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  if (t == GGUF_STRING) return off + 8 + get64(p + off);
  if (t == GGUF_ARRAY) {
    uint32_t et = get32(p + off);
    uint64_t n = get64(p + off + 4);
    off += 12;
    for (uint64_t i = 0; i < n; i++) off = skip_value(p, off, et);
    return off;
  }
  return off + sz[t];
}

static void walk(const uint8_t *p, struct layout *l) {
  size_t off = 24;
  l->nt = get64(p + 8);
  l->nkv = get64(p + 16);
  assert_true(l->nkv <= 64 && l->nt <= 64);
  for (size_t i = 0; i < l->nkv; i++) {
    l->kv[i].keylen = off;
    off += 8 + get64(p + off);
    l->kv[i].type = off;
    l->kv[i].t = get32(p + off);
    off += 4;
    l->kv[i].value = off;
    off = skip_value(p, off, l->kv[i].t);
  }
  for (size_t i = 0; i < l->nt; i++) {
    l->t[i].namelen = off;
    off += 8 + get64(p + off);
    l->t[i].ndims = off;
    uint32_t nd = get32(p + off);
    off += 4;
    l->t[i].dims = off;
    off += 8 * nd;
    l->t[i].type = off;
    off += 4;
    l->t[i].offset = off;
    off += 8;
  }
}

/* A small file with metadata of every kind and three tensors. */
static struct mem small_file(uint32_t alignment) {
  struct err e = {0};
  struct gguf_writer *w = gguf_writer_new();
  assert_non_null(w);
  if (alignment != 32) assert_int_equal(gguf_writer_kv_u32(w, "general.alignment", alignment, &e), 0);
  assert_int_equal(gguf_writer_kv_str(w, "general.architecture", "qwen3", &e), 0);
  assert_int_equal(gguf_writer_kv_u32(w, "qwen3.block_count", 2, &e), 0);
  const char *toks[] = {"a", "bc", ""};
  assert_int_equal(gguf_writer_kv_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 3, &e), 0);
  int32_t tt[] = {1, -3, 6};
  assert_int_equal(gguf_writer_kv_arr(w, "tokenizer.ggml.token_type", GGUF_I32, tt, 3, &e), 0);
  assert_int_equal(gguf_writer_kv_bool(w, "flag", 1, &e), 0);
  uint64_t ne1[1] = {64}, ne2[2] = {32, 3}, ne3[2] = {256, 2};
  assert_int_equal(gguf_writer_tensor(w, "a.weight", QUANT_F32, 1, ne1, &e), 0);
  assert_int_equal(gguf_writer_tensor(w, "b.weight", QUANT_Q8_0, 2, ne2, &e), 0);
  assert_int_equal(gguf_writer_tensor(w, "c.weight", QUANT_Q4_K, 2, ne3, &e), 0);
  char *p = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&p, &n);
  assert_int_equal(gguf_writer_begin(w, f, &e), 0);
  float x[512];
  for (int i = 0; i < 512; i++) x[i] = sinf((float)i * 0.37f);
  assert_int_equal(gguf_writer_data_f32(w, x, 64, &e), 0);
  assert_int_equal(gguf_writer_data_f32(w, x, 96, &e), 0);
  assert_int_equal(gguf_writer_data_f32(w, x, 512, &e), 0);
  assert_int_equal(gguf_writer_finish(w, &e), 0);
  uint64_t expect = gguf_writer_file_size(w);
  gguf_writer_free(w);
  fclose(f);
  assert_int_equal(n, expect);
  struct mem m = {(uint8_t *)p, n};
  return m;
}

/* ---- conversions and quantization ---- */

static void test_f16(void **state) {
  assert_int_equal(quant_f32_to_f16(1.0f), 0x3c00);
  assert_int_equal(quant_f32_to_f16(-2.0f), 0xc000);
  assert_int_equal(quant_f32_to_f16(65504.0f), 0x7bff);
  assert_int_equal(quant_f32_to_f16(65519.0f), 0x7bff);
  assert_int_equal(quant_f32_to_f16(65520.0f), 0x7c00);
  assert_int_equal(quant_f32_to_f16(1e-8f), 0);
  assert_int_equal(quant_f32_to_f16(0x1p-24f), 1);
  assert_int_equal(quant_f32_to_f16(0x1p-25f), 0);       /* tie to even */
  assert_int_equal(quant_f32_to_f16(0x1.8p-24f), 2);     /* tie to even */
  assert_int_equal(quant_f32_to_f16(INFINITY), 0x7c00);
  assert_true((quant_f32_to_f16(NAN) & 0x7c00) == 0x7c00 && (quant_f32_to_f16(NAN) & 0x3ff));
  for (uint32_t h = 0; h < 65536; h++) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaN */
    float f = quant_f16_to_f32((uint16_t)h);
    if (quant_f32_to_f16(f) != h) fail_msg("f16 0x%04x does not round-trip", h);
  }
  assert_true(quant_bf16_to_f32(quant_f32_to_bf16(1.5f)) == 1.5f);
  assert_int_equal(quant_f32_to_bf16(1.0f), 0x3f80);
  assert_true(isnan(quant_bf16_to_f32(quant_f32_to_bf16(NAN))));
  for (uint32_t h = 0; h < 65536; h++) {
    float f = quant_bf16_to_f32((uint16_t)h);
    if (isnan(f)) continue;
    assert_int_equal(quant_f32_to_bf16(f), h);
  }
}

static void test_type_table(void **state) {
  assert_int_equal(quant_type_info(QUANT_Q8_0)->block_bytes, 34);
  assert_int_equal(quant_type_info(QUANT_Q4_K)->block_bytes, 144);
  assert_int_equal(quant_type_info(QUANT_Q6_K)->block_bytes, 210);
  assert_true(quant_type_info(QUANT_Q5_K) && !quant_type_info(QUANT_Q5_K)->supported);
  assert_null(quant_type_info(4));
  assert_null(quant_type_info(31));
  assert_null(quant_type_info(1000));
  assert_int_equal(quant_type_from_name("q4_k"), QUANT_Q4_K);
  assert_int_equal(quant_type_from_name("nope"), -1);
  uint64_t b;
  assert_int_equal(quant_row_bytes(QUANT_Q4_0, 64, &b), 0);
  assert_int_equal(b, 36);
  assert_int_equal(quant_row_bytes(QUANT_Q4_0, 33, &b), ERR_INVALID);
  assert_int_equal(quant_row_bytes(QUANT_F32, UINT64_MAX / 2, &b), ERR_LIMIT);
}

static uint64_t rng_state = 12345;
static float frand(void) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((double)(rng_state >> 40) * 0x1p-23 - 1.0);
}

static void test_quant_bounds(void **state) {
  enum { N = 4096 };
  float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
  uint8_t *q = malloc(N * 4);
  for (int i = 0; i < N; i++) x[i] = frand() * (i % 512 < 256 ? 1.0f : 30.0f);
  x[5] = 0;
  for (int i = 64; i < 96; i++) x[i] = 0; /* an all-zero block */
  for (size_t k = 0; k < sizeof(all_types) / sizeof(all_types[0]); k++) {
    uint32_t t = all_types[k];
    const struct quant_type_info *ti = quant_type_info(t);
    assert_int_equal(quant_quantize(t, x, q, N), 0);
    assert_int_equal(quant_dequantize(t, q, y, N), 0);
    double worst = 0;
    for (int b = 0; b < N; b += 256) {
      float amax = 0;
      for (int i = 0; i < 256; i++) amax = fmaxf(amax, fabsf(x[b + i]));
      for (int i = 0; i < 256; i++) {
        /* Bounds per type, relative to the largest magnitude around the element. */
        float bamax = 0;
        int bs = (int)ti->block_elems, b0 = (b + i) / bs * bs;
        for (int j = 0; j < bs; j++) bamax = fmaxf(bamax, fabsf(x[b0 + j]));
        float err = fabsf(x[b + i] - y[b + i]), lim;
        switch (t) {
        case QUANT_F32: lim = 0; break;
        case QUANT_F16: lim = fabsf(x[b + i]) * 0x1p-11f + 0x1p-24f; break;
        case QUANT_BF16: lim = fabsf(x[b + i]) * 0x1p-8f; break;
        case QUANT_Q8_0: lim = bamax / 127.0f * 0.5f + bamax * 0x1p-10f; break;
        case QUANT_Q4_0: lim = bamax / 8.0f * 1.01f; break;
        case QUANT_Q4_K: lim = amax * 0.09f; break;
        default: lim = amax * 0.035f; break; /* Q6_K */
        }
        if (err > lim) fail_msg("%s: element %d: |%g - %g| > %g", ti->name, b + i, (double)x[b + i], (double)y[b + i], (double)lim);
        if (amax > 0) worst = fmax(worst, err / amax);
      }
    }
    print_message("  %-5s max error %.4f of the block's magnitude\n", ti->name, worst);
    for (int i = 64; i < 96; i++) assert_true(y[i] == 0.0f);
  }
  assert_int_equal(quant_quantize(QUANT_Q5_K, x, q, 256), ERR_INVALID);
  assert_int_equal(quant_quantize(QUANT_Q8_0, x, q, 31), ERR_INVALID);
  free(x);
  free(y);
  free(q);
}

/* ---- writer/reader round trips ---- */

static void test_metadata_roundtrip(void **state) {
  struct err e = {0};
  struct gguf_writer *w = gguf_writer_new();
  uint8_t u8 = 200;
  int8_t i8 = -100;
  uint16_t u16 = 60000;
  int16_t i16 = -30000;
  uint64_t u64 = 0xfedcba9876543210ull;
  int64_t i64 = -5;
  double f64 = 3.25;
  assert_int_equal(gguf_writer_kv(w, "u8", GGUF_U8, &u8, &e), 0);
  assert_int_equal(gguf_writer_kv(w, "i8", GGUF_I8, &i8, &e), 0);
  assert_int_equal(gguf_writer_kv(w, "u16", GGUF_U16, &u16, &e), 0);
  assert_int_equal(gguf_writer_kv(w, "i16", GGUF_I16, &i16, &e), 0);
  assert_int_equal(gguf_writer_kv_u32(w, "u32", 4000000000u, &e), 0);
  assert_int_equal(gguf_writer_kv_i32(w, "i32", -7, &e), 0);
  assert_int_equal(gguf_writer_kv_f32(w, "f32", 1.5f, &e), 0);
  assert_int_equal(gguf_writer_kv_bool(w, "bool", 1, &e), 0);
  assert_int_equal(gguf_writer_kv_str(w, "str", "h\xc3\xa9llo", &e), 0);
  assert_int_equal(gguf_writer_kv_str(w, "empty", "", &e), 0);
  assert_int_equal(gguf_writer_kv(w, "u64", GGUF_U64, &u64, &e), 0);
  assert_int_equal(gguf_writer_kv(w, "i64", GGUF_I64, &i64, &e), 0);
  assert_int_equal(gguf_writer_kv(w, "f64", GGUF_F64, &f64, &e), 0);
  float fa[3] = {1, -2, 0.5f};
  uint16_t ua[2] = {1, 65535};
  double da[2] = {1e300, -1};
  uint8_t ba[3] = {0, 1, 1};
  assert_int_equal(gguf_writer_kv_arr(w, "arr.f32", GGUF_F32, fa, 3, &e), 0);
  assert_int_equal(gguf_writer_kv_arr(w, "arr.u16", GGUF_U16, ua, 2, &e), 0);
  assert_int_equal(gguf_writer_kv_arr(w, "arr.f64", GGUF_F64, da, 2, &e), 0);
  assert_int_equal(gguf_writer_kv_arr(w, "arr.bool", GGUF_BOOL, ba, 3, &e), 0);
  assert_int_equal(gguf_writer_kv_arr(w, "arr.empty", GGUF_I32, NULL, 0, &e), 0);
  const char *ss[] = {"x", "", "with space"};
  assert_int_equal(gguf_writer_kv_arr_str(w, "arr.str", ss, NULL, 3, &e), 0);
  /* misuse */
  assert_int_equal(gguf_writer_kv_u32(w, "u32", 1, &e), ERR_INVALID);
  assert_int_equal(gguf_writer_kv_u32(w, "", 1, &e), ERR_INVALID);
  assert_int_equal(gguf_writer_kv(w, "s", GGUF_STRING, "x", &e), ERR_INVALID);

  char *p = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&p, &n);
  assert_int_equal(gguf_writer_begin(w, f, &e), 0);
  assert_int_equal(gguf_writer_finish(w, &e), 0);
  gguf_writer_free(w);
  fclose(f);

  struct gguf *g = NULL;
  if (gguf_open_mem(p, n, &g, &e)) fail_msg("%s", e.msg);
  assert_int_equal(gguf_version(g), 3);
  assert_int_equal(gguf_kv_count(g), 19);
  assert_int_equal(gguf_tensor_count(g), 0);
  uint32_t u;
  int32_t i;
  uint64_t uu;
  float fl;
  int b;
  struct gguf_str s;
  assert_int_equal(gguf_get_u32(g, "u8", &u, &e), 0);
  assert_int_equal(u, 200);
  assert_int_equal(gguf_get_i32(g, "i8", &i, &e), 0);
  assert_int_equal(i, -100);
  assert_int_equal(gguf_get_u32(g, "u16", &u, &e), 0);
  assert_int_equal(u, 60000);
  assert_int_equal(gguf_get_i32(g, "i16", &i, &e), 0);
  assert_int_equal(i, -30000);
  assert_int_equal(gguf_get_u32(g, "u32", &u, &e), 0);
  assert_int_equal(u, 4000000000u);
  assert_int_equal(gguf_get_i32(g, "u32", &i, &e), ERR_PARSE); /* out of range */
  assert_non_null(strstr(e.msg, "u32"));
  assert_int_equal(gguf_get_i32(g, "i32", &i, &e), 0);
  assert_int_equal(i, -7);
  assert_int_equal(gguf_get_u32(g, "i32", &u, &e), ERR_PARSE); /* negative */
  assert_int_equal(gguf_get_f32(g, "f32", &fl, &e), 0);
  assert_true(fl == 1.5f);
  assert_int_equal(gguf_get_f32(g, "f64", &fl, &e), 0);
  assert_true(fl == 3.25f);
  assert_int_equal(gguf_get_bool(g, "bool", &b, &e), 0);
  assert_int_equal(b, 1);
  assert_int_equal(gguf_get_str(g, "str", &s, &e), 0);
  assert_true(gguf_str_eq(s, "h\xc3\xa9llo"));
  assert_int_equal(gguf_get_str(g, "empty", &s, &e), 0);
  assert_int_equal(s.len, 0);
  assert_int_equal(gguf_get_u64(g, "u64", &uu, &e), 0);
  assert_true(uu == 0xfedcba9876543210ull);
  assert_int_equal(gguf_get_u32(g, "u64", &u, &e), ERR_PARSE);
  assert_int_equal(gguf_get_i32(g, "i64", &i, &e), 0);
  assert_int_equal(i, -5);
  assert_int_equal(gguf_get_u32(g, "str", &u, &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "string"));
  assert_int_equal(gguf_get_u32(g, "missing", &u, &e), ERR_NOTFOUND);
  assert_non_null(strstr(e.msg, "missing"));
  assert_int_equal(gguf_get_str(g, "u8", &s, &e), ERR_PARSE);
  assert_int_equal(gguf_get_bool(g, "u8", &b, &e), ERR_PARSE);
  assert_int_equal(gguf_get_f32(g, "u8", &fl, &e), ERR_PARSE);

  const struct gguf_kv *kv;
  assert_int_equal(gguf_get_arr(g, "arr.f32", GGUF_F32, &kv, &e), 0);
  assert_int_equal(kv->arr_n, 3);
  assert_true(gguf_arr_f32(kv, 1) == -2.0f && gguf_arr_f32(kv, 2) == 0.5f);
  assert_true(gguf_arr_f32(kv, 3) == 0.0f); /* out of range reads as 0 */
  assert_int_equal(gguf_get_arr(g, "arr.u16", GGUF_I64, &kv, &e), 0);
  assert_int_equal(gguf_arr_int(kv, 1), 65535);
  assert_int_equal(gguf_get_arr(g, "arr.f64", GGUF_F32, &kv, &e), 0);
  assert_true(isinf(gguf_arr_f32(kv, 0)) && gguf_arr_f32(kv, 1) == -1.0f);
  assert_int_equal(gguf_get_arr(g, "arr.bool", GGUF_BOOL, &kv, &e), 0);
  assert_int_equal(gguf_arr_int(kv, 0), 0); /* bool is not an integer type */
  assert_int_equal(gguf_get_arr(g, "arr.empty", GGUF_I32, &kv, &e), 0);
  assert_int_equal(kv->arr_n, 0);
  assert_int_equal(gguf_get_arr(g, "arr.str", GGUF_STRING, &kv, &e), 0);
  assert_true(gguf_str_eq(gguf_arr_str(kv, 0), "x"));
  assert_true(gguf_str_eq(gguf_arr_str(kv, 1), ""));
  assert_true(gguf_str_eq(gguf_arr_str(kv, 2), "with space"));
  assert_true(gguf_str_eq(gguf_arr_str(kv, 3), ""));
  assert_int_equal(gguf_get_arr(g, "arr.str", GGUF_I64, &kv, &e), ERR_PARSE);
  assert_int_equal(gguf_get_arr(g, "u8", GGUF_U8, &kv, &e), ERR_PARSE);
  assert_null(gguf_find_kv(g, "nope"));
  gguf_free(g);
  free(p);
}

static void test_tensor_roundtrip(void **state) {
  enum { N = 512 };
  float x[N], y[N];
  for (int i = 0; i < N; i++) x[i] = frand();
  for (uint32_t align = 32; align <= 128; align *= 4) {
    struct err e = {0};
    struct gguf_writer *w = gguf_writer_new();
    if (align != 32) assert_int_equal(gguf_writer_kv_u32(w, "general.alignment", align, &e), 0);
    size_t nt = sizeof(all_types) / sizeof(all_types[0]);
    for (size_t k = 0; k < nt; k++) {
      char name[32];
      snprintf(name, sizeof(name), "t%zu.weight", k);
      uint64_t ne[3] = {256, 1, 2};
      assert_int_equal(gguf_writer_tensor(w, name, all_types[k], 3, ne, &e), 0);
    }
    uint64_t ner[1] = {5};
    assert_int_equal(gguf_writer_tensor(w, "raw", QUANT_I8, 1, ner, &e), 0);
    /* misuse */
    uint64_t bad[2] = {33, 2};
    assert_int_equal(gguf_writer_tensor(w, "bad", QUANT_Q8_0, 2, bad, &e), ERR_INVALID);
    assert_int_equal(gguf_writer_tensor(w, "raw", QUANT_I8, 1, ner, &e), ERR_INVALID);
    assert_int_equal(gguf_writer_kv_u32(w, "general.alignment", 64, &e), ERR_INVALID); /* too late */
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    assert_int_equal(gguf_writer_begin(w, f, &e), 0);
    for (size_t k = 0; k < nt; k++) {
      assert_int_equal(gguf_writer_data_f32(w, x, 256, &e), 0); /* in two calls */
      assert_int_equal(gguf_writer_data_f32(w, x + 256, 256, &e), 0);
    }
    assert_int_equal(gguf_writer_finish(w, &e), ERR_INVALID); /* "raw" missing */
    assert_non_null(strstr(e.msg, "raw"));
    assert_int_equal(gguf_writer_data(w, "abcdefg", 7, &e), ERR_INVALID); /* too many bytes */
    assert_int_equal(gguf_writer_data(w, "abcde", 5, &e), 0);
    assert_int_equal(gguf_writer_data(w, "x", 1, &e), ERR_INVALID);
    assert_int_equal(gguf_writer_finish(w, &e), 0);
    gguf_writer_free(w);
    fclose(f);

    struct gguf *g = NULL;
    if (gguf_open_mem(p, n, &g, &e)) fail_msg("%s", e.msg);
    assert_int_equal(gguf_alignment(g), align);
    assert_int_equal(gguf_data_offset(g) % align, 0);
    assert_int_equal(gguf_tensor_count(g), nt + 1);
    for (size_t k = 0; k < nt; k++) {
      char name[32];
      snprintf(name, sizeof(name), "t%zu.weight", k);
      const struct gguf_tensor *t = gguf_find_tensor(g, name);
      assert_non_null(t);
      assert_int_equal(t->type, all_types[k]);
      assert_int_equal(t->n_dims, 3);
      assert_int_equal(t->ne[0], 256);
      assert_int_equal(t->ne[2], 2);
      assert_int_equal(t->ne[3], 1);
      assert_int_equal(t->n_elems, N);
      assert_int_equal(t->offset % align, 0);
      uint64_t nb;
      assert_int_equal(quant_row_bytes(t->type, N, &nb), 0);
      assert_int_equal(t->nbytes, nb);
      uint8_t q[N * 4];
      assert_int_equal(quant_quantize(t->type, x, q, N), 0);
      assert_memory_equal(t->data, q, nb);
      assert_int_equal(quant_dequantize(t->type, t->data, y, N), 0);
      if (t->type == QUANT_F32) assert_memory_equal(x, y, sizeof(x));
    }
    const struct gguf_tensor *r = gguf_find_tensor(g, "raw");
    assert_non_null(r);
    assert_memory_equal(r->data, "abcde", 5);
    assert_null(gguf_find_tensor(g, "t9.weight"));
    gguf_free(g);
    free(p);
  }
}

static void test_models(void **state) {
  for (size_t a = 0; a < 3; a++) {
    for (size_t k = 0; k < sizeof(all_types) / sizeof(all_types[0]); k++) {
      for (int spm = 0; spm < 2; spm++) {
        struct testmodel_opts o = {.arch = archs[a], .preset = "micro", .type = all_types[k], .seed = 7,
                                   .tokenizer = spm ? "llama" : "gpt2", .tied = -1};
        struct testmodel_shape s;
        struct err e = {0};
        assert_int_equal(testmodel_shape(&o, &s, &e), 0);
        struct mem m = model_mem(&o);
        struct gguf *g = NULL;
        if (gguf_open_mem(m.p, m.n, &g, &e)) fail_msg("%s/%s: %s", archs[a], quant_type_info(all_types[k])->name, e.msg);
        struct gguf_str str;
        uint32_t u;
        float f;
        char key[64];
        assert_int_equal(gguf_get_str(g, "general.architecture", &str, &e), 0);
        assert_true(gguf_str_eq(str, archs[a]));
        snprintf(key, sizeof(key), "%s.embedding_length", archs[a]);
        assert_int_equal(gguf_get_u32(g, key, &u, &e), 0);
        assert_int_equal(u, s.n_embd);
        snprintf(key, sizeof(key), "%s.block_count", archs[a]);
        assert_int_equal(gguf_get_u32(g, key, &u, &e), 0);
        assert_int_equal(u, s.n_layer);
        snprintf(key, sizeof(key), "%s.attention.head_count_kv", archs[a]);
        assert_int_equal(gguf_get_u32(g, key, &u, &e), 0);
        assert_int_equal(u, s.n_head_kv);
        snprintf(key, sizeof(key), "%s.rope.freq_base", archs[a]);
        assert_int_equal(gguf_get_f32(g, key, &f, &e), 0);
        snprintf(key, sizeof(key), "%s.attention.layer_norm_rms_epsilon", archs[a]);
        assert_int_equal(gguf_get_f32(g, key, &f, &e), 0);
        assert_int_equal(gguf_get_str(g, "tokenizer.ggml.model", &str, &e), 0);
        assert_true(gguf_str_eq(str, spm ? "llama" : "gpt2"));
        const struct gguf_kv *toks, *kv;
        assert_int_equal(gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_STRING, &toks, &e), 0);
        assert_int_equal(toks->arr_n, s.n_vocab);
        assert_int_equal(gguf_get_arr(g, "tokenizer.ggml.scores", GGUF_F32, &kv, &e), 0);
        assert_int_equal(kv->arr_n, s.n_vocab);
        assert_int_equal(gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_I32, &kv, &e), 0);
        assert_int_equal(kv->arr_n, s.n_vocab);
        assert_int_equal(gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_STRING, &kv, &e), spm ? ERR_NOTFOUND : 0);
        if (!spm) {
          /* Every merge "a b" names two tokens whose concatenation is a token. */
          for (uint64_t i = 0; i < kv->arr_n; i++) {
            struct gguf_str ms = gguf_arr_str(kv, i);
            const char *sp = memchr(ms.p, ' ', ms.len);
            assert_non_null(sp);
            int found = 0;
            for (uint64_t t = 0; t < toks->arr_n && !found; t++) {
              struct gguf_str ts = gguf_arr_str(toks, t);
              size_t ll = (size_t)(sp - ms.p), rl = ms.len - ll - 1;
              found = ts.len == ll + rl && !memcmp(ts.p, ms.p, ll) && !memcmp(ts.p + ll, sp + 1, rl);
            }
            assert_true(found);
          }
        }
        assert_int_equal(gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &u, &e), 0);
        assert_true(u < s.n_vocab);
        const struct gguf_tensor *t = gguf_find_tensor(g, "token_embd.weight");
        assert_non_null(t);
        assert_int_equal(t->ne[0], s.n_embd);
        assert_int_equal(t->ne[1], s.n_vocab);
        assert_int_equal(t->type, all_types[k]);
        assert_true((gguf_find_tensor(g, "output.weight") != NULL) == !s.tied);
        assert_non_null(gguf_find_tensor(g, "output_norm.weight"));
        for (uint32_t l = 0; l < s.n_layer; l++) {
          static const char *const names[] = {"attn_norm.weight", "attn_q.weight", "attn_k.weight",
                                              "attn_v.weight", "attn_output.weight", "ffn_norm.weight",
                                              "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"};
          for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
            snprintf(key, sizeof(key), "blk.%u.%s", l, names[j]);
            assert_non_null(gguf_find_tensor(g, key));
          }
          snprintf(key, sizeof(key), "blk.%u.attn_q.bias", l);
          assert_true((gguf_find_tensor(g, key) != NULL) == (a == 1));
          snprintf(key, sizeof(key), "blk.%u.attn_k_norm.weight", l);
          t = gguf_find_tensor(g, key);
          assert_true((t != NULL) == (a == 2));
          if (t) assert_int_equal(t->ne[0], s.head_dim);
          snprintf(key, sizeof(key), "blk.%u.attn_k.weight", l);
          t = gguf_find_tensor(g, key);
          assert_int_equal(t->ne[1], (uint64_t)s.n_head_kv * s.head_dim);
        }
        gguf_free(g);
        free(m.p);
      }
    }
  }
}

static void test_model_determinism(void **state) {
  struct testmodel_opts o = {.arch = "qwen3", .preset = "micro", .type = QUANT_F32, .seed = 3, .tied = -1};
  struct mem a = model_mem(&o), b = model_mem(&o);
  assert_int_equal(a.n, b.n);
  assert_memory_equal(a.p, b.p, a.n);
  o.seed = 4;
  struct mem c = model_mem(&o);
  assert_true(c.n != a.n || memcmp(a.p, c.p, a.n) != 0);
  /* Same seed, another type: the same floats, quantized. */
  o.seed = 3;
  o.type = QUANT_Q8_0;
  struct mem d = model_mem(&o);
  struct gguf *ga = NULL, *gd = NULL;
  struct err e = {0};
  assert_int_equal(gguf_open_mem(a.p, a.n, &ga, &e), 0);
  assert_int_equal(gguf_open_mem(d.p, d.n, &gd, &e), 0);
  const struct gguf_tensor *ta = gguf_find_tensor(ga, "blk.0.ffn_up.weight");
  const struct gguf_tensor *td = gguf_find_tensor(gd, "blk.0.ffn_up.weight");
  assert_int_equal(td->type, QUANT_Q8_0);
  float *y = malloc(td->n_elems * sizeof(float));
  assert_int_equal(quant_dequantize(QUANT_Q8_0, td->data, y, td->n_elems), 0);
  const float *x = ta->data; /* the mapping is 32-byte aligned within this buffer */
  for (uint64_t i = 0; i < td->n_elems; i++) assert_true(fabsf(x[i] - y[i]) < 0.01f);
  free(y);
  gguf_free(ga);
  gguf_free(gd);
  free(a.p);
  free(b.p);
  free(c.p);
  free(d.p);
  /* Option errors. */
  struct testmodel_shape s;
  struct testmodel_opts bad = {.arch = "gpt9", .type = QUANT_F32, .tied = -1};
  assert_int_equal(testmodel_shape(&bad, &s, &e), ERR_INVALID);
  bad.arch = "llama";
  bad.preset = "qwen3-0.6b";
  assert_int_equal(testmodel_shape(&bad, &s, &e), ERR_INVALID);
  bad.arch = NULL;
  bad.type = QUANT_Q5_K;
  assert_int_equal(testmodel_shape(&bad, &s, &e), ERR_INVALID);
  bad.type = QUANT_Q8_0;
  assert_int_equal(testmodel_shape(&bad, &s, &e), 0);
  assert_int_equal(s.n_vocab, 151936);
  assert_int_equal(s.n_embd, 1024);
  assert_int_equal(s.head_dim, 128);
  assert_true(s.tied);
  bad.preset = "qwen2.5-0.5b";
  assert_int_equal(testmodel_shape(&bad, &s, &e), 0);
  assert_string_equal(s.arch, "qwen2");
  assert_int_equal(s.n_layer, 24);
}

static void test_open_file(void **state) {
  char path[] = "/tmp/test_gguf_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  struct err e = {0};
  struct gguf *g = NULL;
  assert_int_equal(gguf_open(path, &g, &e), ERR_PARSE); /* empty */
  assert_non_null(strstr(e.msg, "empty"));
  struct testmodel_opts o = {.arch = "llama", .preset = "tiny", .type = QUANT_Q4_0, .seed = 1, .tied = -1};
  assert_int_equal(testmodel_write_file(&o, path, &e), 0);
  if (gguf_open(path, &g, &e)) fail_msg("%s", e.msg);
  const struct gguf_tensor *t = gguf_find_tensor(g, "output.weight");
  assert_non_null(t);
  assert_int_equal((uintptr_t)t->data % 32, 0);
  gguf_free(g);
  /* A damaged file: the error names the file. */
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  assert_int_equal(fseek(f, 4, SEEK_SET), 0);
  fputc(9, f);
  fclose(f);
  assert_int_equal(gguf_open(path, &g, &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, path));
  assert_non_null(strstr(e.msg, "version 9"));
  unlink(path);
  assert_int_equal(gguf_open(path, &g, &e), ERR_IO);
  assert_int_equal(gguf_open("/tmp", &g, &e), ERR_IO);
  gguf_free(NULL);
}

/* ---- damage ---- */

static void test_truncation(void **state) {
  struct testmodel_opts o = {.arch = "qwen2", .preset = "micro", .type = QUANT_Q4_0, .seed = 2, .tied = -1};
  struct mem m = model_mem(&o);
  struct err e = {0};
  assert_int_equal(open_copy(m.p, m.n, &e), 0);
  for (size_t n = 0; n < m.n; n++) {
    /* Dropping only trailing padding is fine; anything else must fail. */
    int rc = open_copy(m.p, n, &e);
    if (rc == 0 && n < m.n - 31) fail_msg("truncated to %zu of %zu bytes was accepted", n, m.n);
  }
  /* A trailing byte beyond the padding is rejected. */
  uint8_t *big = calloc(1, m.n + 64);
  memcpy(big, m.p, m.n);
  expect_fail(big, m.n + 64, "trailing");
  free(big);
  free(m.p);
}

static void test_header_fields(void **state) {
  struct mem m = small_file(32);
  uint8_t *p = malloc(m.n);
  struct layout l;
  walk(m.p, &l);
  assert_int_equal(l.nkv, 5);
  assert_int_equal(l.nt, 3);
#define RESET() memcpy(p, m.p, m.n)
  RESET();
  p[0] = 'X';
  expect_fail(p, m.n, "magic");
  RESET();
  put32(p + 4, 1);
  expect_fail(p, m.n, "version 1");
  RESET();
  put32(p + 4, 4);
  expect_fail(p, m.n, "version 4");
  RESET();
  put32(p + 4, 0x03000000);
  expect_fail(p, m.n, "big-endian");
  RESET();
  put32(p + 4, 2); /* v2 has the same layout */
  struct err e = {0};
  assert_int_equal(open_copy(p, m.n, &e), 0);
  RESET();
  put64(p + 8, 4);
  expect_fail(p, m.n, NULL);
  RESET();
  put64(p + 8, 2);
  expect_fail(p, m.n, NULL);
  RESET();
  put64(p + 8, UINT64_MAX);
  expect_fail(p, m.n, "tensor count");
  RESET();
  put64(p + 8, 60000);
  expect_fail(p, m.n, "cannot fit");
  RESET();
  put64(p + 16, 6);
  expect_fail(p, m.n, NULL);
  RESET();
  put64(p + 16, 1ull << 40);
  expect_fail(p, m.n, "metadata count");
  RESET();
  put64(p + 16, 4);
  expect_fail(p, m.n, NULL);

  /* Each metadata pair. */
  for (size_t i = 0; i < l.nkv; i++) {
    RESET();
    put64(p + l.kv[i].keylen, 0);
    expect_fail(p, m.n, "empty name");
    RESET();
    put64(p + l.kv[i].keylen, 100000);
    expect_fail(p, m.n, "name length");
    RESET();
    put64(p + l.kv[i].keylen, 250);
    expect_fail(p, m.n, NULL);
    RESET();
    p[l.kv[i].keylen + 8] = 0x01;
    expect_fail(p, m.n, "control byte");
    RESET();
    put32(p + l.kv[i].type, 13);
    expect_fail(p, m.n, "unknown value type");
    RESET();
    put32(p + l.kv[i].type, 0xffffffffu);
    expect_fail(p, m.n, "unknown value type");
    uint32_t t = l.kv[i].t;
    if (t == GGUF_STRING) {
      RESET();
      put64(p + l.kv[i].value, 1ull << 62);
      expect_fail(p, m.n, "string length");
      RESET();
      put64(p + l.kv[i].value, m.n);
      expect_fail(p, m.n, "past the end");
    }
    if (t == GGUF_ARRAY) {
      RESET();
      put32(p + l.kv[i].value, GGUF_ARRAY);
      expect_fail(p, m.n, "nested");
      RESET();
      put32(p + l.kv[i].value, 77);
      expect_fail(p, m.n, "element type");
      RESET();
      put64(p + l.kv[i].value + 4, UINT64_MAX);
      expect_fail(p, m.n, "exceeds");
      RESET();
      put64(p + l.kv[i].value + 4, 1u << 23);
      expect_fail(p, m.n, "past the end");
    }
    if (t == GGUF_BOOL) {
      RESET();
      p[l.kv[i].value] = 2;
      expect_fail(p, m.n, "bool");
    }
  }
  /* Each tensor info. */
  for (size_t i = 0; i < l.nt; i++) {
    RESET();
    put64(p + l.t[i].namelen, 0);
    expect_fail(p, m.n, "empty name");
    RESET();
    put64(p + l.t[i].namelen, 1ull << 50);
    expect_fail(p, m.n, "name length");
    RESET();
    put32(p + l.t[i].ndims, 0);
    expect_fail(p, m.n, "n_dims 0");
    RESET();
    put32(p + l.t[i].ndims, 5);
    expect_fail(p, m.n, "n_dims 5");
    RESET();
    put64(p + l.t[i].dims, 0);
    expect_fail(p, m.n, "dimension 0 is 0");
    RESET();
    put64(p + l.t[i].dims, 1ull << 63);
    expect_fail(p, m.n, "dimension 0");
    RESET();
    put64(p + l.t[i].dims, get64(p + l.t[i].dims) * 2);
    expect_fail(p, m.n, NULL);
    RESET();
    put64(p + l.t[i].dims, get64(p + l.t[i].dims) + 1);
    expect_fail(p, m.n, NULL);
    RESET();
    put32(p + l.t[i].type, 4);
    expect_fail(p, m.n, "unknown ggml type 4");
    RESET();
    put32(p + l.t[i].type, 1000);
    expect_fail(p, m.n, "unknown ggml type 1000");
    RESET();
    put32(p + l.t[i].type, QUANT_Q5_K); /* known, different size */
    expect_fail(p, m.n, NULL);
    RESET();
    put64(p + l.t[i].offset, get64(p + l.t[i].offset) + 1);
    expect_fail(p, m.n, "alignment");
    RESET();
    put64(p + l.t[i].offset, get64(p + l.t[i].offset) + 32);
    expect_fail(p, m.n, NULL);
    RESET();
    put64(p + l.t[i].offset, UINT64_MAX - 31);
    expect_fail(p, m.n, "past the end");
    if (i > 0) {
      RESET();
      put64(p + l.t[i].offset, get64(p + l.t[i - 1].offset));
      expect_fail(p, m.n, "overlaps");
      /* duplicate names: "b.weight" / "c.weight" differ in one byte */
      RESET();
      p[l.t[i].namelen + 8] = p[l.t[i - 1].namelen + 8];
      expect_fail(p, m.n, "duplicate tensor name");
    }
  }
  free(p);
  free(m.p);

  /* Alignment values. */
  m = small_file(64);
  p = malloc(m.n);
  walk(m.p, &l);
  assert_int_equal(l.kv[0].t, GGUF_U32);
  RESET();
  assert_int_equal(open_copy(p, m.n, &e), 0);
  RESET();
  put32(p + l.kv[0].value, 48);
  expect_fail(p, m.n, "general.alignment 48");
  RESET();
  put32(p + l.kv[0].value, 0);
  expect_fail(p, m.n, "general.alignment 0");
  RESET();
  put32(p + l.kv[0].value, 1u << 20);
  expect_fail(p, m.n, "general.alignment");
  RESET();
  put32(p + l.kv[0].value, 32); /* data then starts at the wrong place */
  expect_fail(p, m.n, NULL);
  RESET();
  put32(p + l.kv[0].type, GGUF_I32);
  expect_fail(p, m.n, "must be a u32");
  free(p);
  free(m.p);
#undef RESET
}

static void test_duplicates(void **state) {
  /* Hand-build: two identical keys. */
  uint8_t f[256];
  size_t n = 0;
  memcpy(f, "GGUF", 4);
  put32(f + 4, 3);
  put64(f + 8, 0);
  put64(f + 16, 2);
  n = 24;
  for (int k = 0; k < 2; k++) {
    put64(f + n, 3);
    memcpy(f + n + 8, "key", 3);
    put32(f + n + 11, GGUF_U8);
    f[n + 15] = 1;
    n += 16;
  }
  expect_fail(f, n, "duplicate key \"key\"");
  /* Same with distinct keys parses (no tensors, no padding needed). */
  f[24 + 16 + 10] = 'z';
  struct err e = {0};
  assert_int_equal(open_copy(f, n, &e), 0);
  /* A bad value byte deep inside: the error names the key. */
  f[24 + 11] = 99;
  expect_fail(f, n, "kv \"key\"");
}

static void test_mutations(void **state) {
  struct testmodel_opts o = {.arch = "qwen3", .preset = "micro", .type = QUANT_Q8_0, .seed = 5, .tied = -1};
  struct mem m = model_mem(&o);
  uint8_t *p = malloc(m.n);
  uint64_t r = 99;
  size_t header = 0;
  {
    struct gguf *g = NULL;
    struct err e = {0};
    assert_int_equal(gguf_open_mem(m.p, m.n, &g, &e), 0);
    header = (size_t)gguf_data_offset(g);
    gguf_free(g);
  }
  int rejected = 0;
  for (int it = 0; it < 3000; it++) {
    memcpy(p, m.p, m.n);
    int k = 1 + it % 4;
    for (int j = 0; j < k; j++) {
      r = r * 6364136223846793005ull + 1442695040888963407ull;
      size_t pos = (size_t)((r >> 33) % header);
      uint8_t v = (uint8_t)(r >> 20);
      p[pos] = (it & 1) ? v : (uint8_t)(p[pos] ^ (1u << (v & 7)));
    }
    struct err e = {0};
    if (open_copy(p, m.n, &e) != 0) rejected++;
  }
  print_message("  %d of 3000 mutated headers rejected (the rest changed only values)\n", rejected);
  assert_true(rejected > 500);
  free(p);
  free(m.p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_f16),
      cmocka_unit_test(test_type_table),
      cmocka_unit_test(test_quant_bounds),
      cmocka_unit_test(test_metadata_roundtrip),
      cmocka_unit_test(test_tensor_roundtrip),
      cmocka_unit_test(test_models),
      cmocka_unit_test(test_model_determinism),
      cmocka_unit_test(test_open_file),
      cmocka_unit_test(test_truncation),
      cmocka_unit_test(test_header_fields),
      cmocka_unit_test(test_duplicates),
      cmocka_unit_test(test_mutations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
