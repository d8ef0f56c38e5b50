/* test_kernels: every SIMD kernel path this CPU has gives the scalar reference's results. */
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

#include "engine/kern.h"
#include "engine/ops.h"
#include "engine/quant.h"

static uint64_t rng_state = 987654321;
static float frand(void) { /* uniform in [-1, 1) */
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((rng_state >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}

static const char *const simd_paths[] = {"avx2", "avx512"};

/* The paths to check against scalar on this machine (none when it has no SIMD path). */
static size_t available(const struct kern **out) {
  size_t n = 0;
  for (size_t i = 0; i < sizeof(simd_paths) / sizeof(simd_paths[0]); i++) {
    const struct kern *k = kern_by_name(simd_paths[i]);
    if (k) out[n++] = k;
  }
  return n;
}

static void test_names(void **state) {
  (void)state;
  assert_ptr_equal(kern_by_name("scalar"), &kern_scalar);
  assert_null(kern_by_name("avx1024"));
  const struct kern *a = kern_active();
  assert_non_null(a);
  assert_string_equal(ops_kernels_name(), a->name);
  assert_ptr_equal(kern_by_name(a->name), a);
  const struct kern *k[2];
  size_t n = available(k);
  printf("kernel paths here: scalar");
  for (size_t i = 0; i < n; i++) printf(" %s", k[i]->name);
  printf(" (active: %s)\n", a->name);
}

/* Activation preparation is bit-identical on every path (the products depend on it). */
static void test_prepare_identical(void **state) {
  (void)state;
  const struct kern *k[2];
  size_t nk = available(k);
  const uint32_t sizes[] = {32, 256, 512, 4864};
  for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
    uint32_t n = sizes[s];
    float *x = malloc(n * sizeof(float));
    size_t bytes = ops_act_size(QUANT_Q8_0, n) > ops_act_size(QUANT_Q4_K, n) ? ops_act_size(QUANT_Q8_0, n)
                                                                              : ops_act_size(QUANT_Q4_K, n);
    uint8_t *ref = calloc(1, bytes), *got = calloc(1, bytes);
    assert_non_null(x);
    assert_non_null(ref);
    assert_non_null(got);
    for (uint32_t i = 0; i < n; i++) x[i] = frand() * (i % 7 == 0 ? 20.0f : 1.0f);
    x[3] = 0.5f; /* ties: x * 127/amax lands on .5 for some values */
    if (n >= 64)
      for (uint32_t i = 32; i < 64; i++) x[i] = 0; /* an all-zero block */
    if (n >= 256) { /* Q8_K: of two values of largest magnitude, the first sets the sign */
      x[100] = -25.0f;
      x[200] = 25.0f;
    }
    for (size_t i = 0; i < nk; i++) {
      if (n % 32 == 0) {
        kern_scalar.prep_q8_0(x, ref, n);
        k[i]->prep_q8_0(x, got, n);
        assert_memory_equal(ref, got, ops_act_size(QUANT_Q8_0, n));
      }
      if (n % 256 == 0) {
        kern_scalar.prep_q8_k(x, ref, n);
        k[i]->prep_q8_k(x, got, n);
        assert_memory_equal(ref, got, ops_act_size(QUANT_Q4_K, n));
      }
    }
    free(x);
    free(ref);
    free(got);
  }
}

/* One product W (n_out x n_in of `type`) times n_tok random vectors, rows [r0, r1) into a Y
 * with a wider stride, on the scalar path and on `k`. Each result must be within 2e-5 of the
 * magnitude sum |w_i a_i| (float rounding of ~n additions), and entries outside the rows
 * must stay untouched. */
static void check_product(const struct kern *k, uint32_t type, uint32_t n_in, uint32_t n_out, uint32_t n_tok,
                          uint32_t r0, uint32_t r1, int packed_layout) {
  uint64_t rb64;
  assert_int_equal(quant_row_bytes(type, n_in, &rb64), 0);
  size_t rb = (size_t)rb64;
  uint8_t *wdata = malloc(rb * n_out);
  float *row = malloc(n_in * sizeof(float));
  assert_non_null(wdata);
  assert_non_null(row);
  for (uint32_t r = 0; r < n_out; r++) {
    float gain = r % 3 == 0 ? 4.0f : 0.25f;
    for (uint32_t i = 0; i < n_in; i++) row[i] = frand() * gain + (r % 5 == 0 ? 0.3f : 0.0f);
    assert_int_equal(quant_quantize(type, row, wdata + r * rb, n_in), 0);
  }
  if (type == QUANT_Q8_0) /* -128 does not come out of the quantizer but may be in a file */
    for (uint32_t r = 0; r < n_out; r++) wdata[r * rb + 2 + (r % 32)] = 0x80;
  struct ops_mat w = {wdata, type, n_in, n_out, rb, NULL, 0};
  size_t as = ops_act_size(type, n_in);
  uint8_t *act = malloc(as * n_tok);
  float *x = malloc(n_in * sizeof(float)), *xf = malloc(n_in * sizeof(float));
  assert_non_null(act);
  assert_non_null(x);
  assert_non_null(xf);
  for (uint32_t t = 0; t < n_tok; t++) {
    for (uint32_t i = 0; i < n_in; i++) x[i] = frand() * (t % 2 ? 3.0f : 1.0f);
    ops_act_prepare(type, x, act + t * as, n_in);
  }
  size_t ys = n_out + 3;
  float *ref = malloc(ys * n_tok * sizeof(float)), *got = malloc(ys * n_tok * sizeof(float));
  assert_non_null(ref);
  assert_non_null(got);
  for (size_t i = 0; i < ys * n_tok; i++) ref[i] = got[i] = -12345.0f;
  kern_scalar.matmul(&w, act, as, n_tok, ref, ys, r0, r1);
  void *packed = NULL;
  size_t pbytes = packed_layout && k->pack_size ? k->pack_size(&w) : 0;
  if (packed_layout && !pbytes) goto out; /* this path keeps the file's layout for this type */
  if (pbytes) {
    packed = aligned_alloc(64, (pbytes + 63) & ~(size_t)63);
    assert_non_null(packed);
    memset(packed, 0xA5, pbytes); /* padding rows must be written too */
    /* In slices, as ops_mat_pack does it, the last one ragged. */
    for (uint32_t p0 = 0; p0 < n_out; p0 += 2 * KERN_PACK_ROWS)
      k->pack(&w, packed, p0, n_out - p0 < 2 * KERN_PACK_ROWS ? n_out : p0 + 2 * KERN_PACK_ROWS);
    w.packed = packed;
  }
  k->matmul(&w, act, as, n_tok, got, ys, r0, r1);
  for (uint32_t t = 0; t < n_tok; t++) {
    ops_act_to_float(type, act + t * as, xf, n_in);
    for (uint32_t r = 0; r < n_out + 3; r++) {
      float a = ref[t * ys + r], b = got[t * ys + r];
      if (r < r0 || r >= r1) {
        assert_true(a == -12345.0f && b == -12345.0f);
        continue;
      }
      ops_mat_row(&w, r, row);
      double mag = 0;
      for (uint32_t i = 0; i < n_in; i++) mag += fabs((double)row[i] * xf[i]);
      double tol = 2e-5 * mag + 1e-6;
      if (!(fabs((double)a - b) <= tol)) {
        printf("%s%s %s n_in=%u n_out=%u n_tok=%u rows %u..%u row %u token %u: scalar %.9g, %s %.9g (tolerance %.3g)\n",
               k->name, packed ? " (repacked)" : "", quant_type_info(type)->name, n_in, n_out, n_tok, r0, r1, r, t, a,
               k->name, b, tol);
        fail();
      }
    }
  }
  free(packed);
out:
  free(wdata);
  free(row);
  free(act);
  free(x);
  free(xf);
  free(ref);
  free(got);
}

static void test_products(void **state) {
  (void)state;
  const struct kern *k[2];
  size_t nk = available(k);
  /* Reduction sizes: one block, an odd number of blocks (a half pair for the 512-bit path),
   * and more than one chunk of 2048 values with an odd tail. */
  const uint32_t n32[] = {32, 96, 896, 2144, 4864};
  const uint32_t n256[] = {256, 768, 2304};
  const uint32_t nf[] = {1, 7, 16, 33, 100, 129, 896};
  const uint32_t outs[] = {1, 5, 13, 70};
  const uint32_t toks[] = {1, 3, 4, 9, 13}; /* 13: tiles of 8 and 4 tokens and a single one */
  const uint32_t types[] = {QUANT_Q8_0, QUANT_Q4_0, QUANT_Q4_K, QUANT_Q6_K, QUANT_F32, QUANT_F16, QUANT_BF16};
  for (size_t ki = 0; ki < nk; ki++)
    for (size_t ti = 0; ti < sizeof(types) / sizeof(types[0]); ti++) {
      uint32_t type = types[ti];
      const uint32_t *ns = quant_type_info(type)->block_elems == 32 ? n32 : quant_type_info(type)->block_elems == 256 ? n256 : nf;
      size_t nn = ns == n32 ? 5 : ns == n256 ? 3 : 7;
      for (size_t a = 0; a < nn; a++)
        for (size_t o = 0; o < sizeof(outs) / sizeof(outs[0]); o++)
          for (size_t t = 0; t < sizeof(toks) / sizeof(toks[0]); t++) {
            if ((ns[a] > 1000 || toks[t] > 9) && toks[t] > 4 && outs[o] > 13) continue; /* keep the run short */
            check_product(k[ki], type, ns[a], outs[o], toks[t], 0, outs[o], 0);
            if (outs[o] > 2) check_product(k[ki], type, ns[a], outs[o], toks[t], 1, outs[o] - 1, 0);
          }
    }
}

/* Repacked layouts (a path's pack_size/pack, used when the model loads): whole groups of
 * KERN_PACK_ROWS rows, a padded last group, and row ranges that start and end inside groups,
 * as the thread pool's chunks may. */
static void test_products_packed(void **state) {
  (void)state;
  const struct kern *k[2];
  size_t nk = available(k);
  const uint32_t n32[] = {32, 96, 896, 4864};
  const uint32_t outs[] = {1, 16, 33, 70};
  const uint32_t toks[] = {1, 2, 3, 8, 9, 13, 20};
  const uint32_t types[] = {QUANT_Q8_0, QUANT_Q4_0, QUANT_Q4_K, QUANT_F32};
  for (size_t ki = 0; ki < nk; ki++)
    for (size_t ti = 0; ti < sizeof(types) / sizeof(types[0]); ti++)
      for (size_t a = 0; a < sizeof(n32) / sizeof(n32[0]); a++)
        for (size_t o = 0; o < sizeof(outs) / sizeof(outs[0]); o++)
          for (size_t t = 0; t < sizeof(toks) / sizeof(toks[0]); t++) {
            uint32_t type = types[ti], n_in = type == QUANT_Q4_K ? 256 * (uint32_t)(a + 1) : n32[a], n = outs[o];
            if (n_in > 1000 && toks[t] > 9) continue; /* keep the run short */
            check_product(k[ki], type, n_in, n, toks[t], 0, n, 1);
            if (n > 2) check_product(k[ki], type, n_in, n, toks[t], 1, n - 1, 1);
            if (n > 32) check_product(k[ki], type, n_in, n, toks[t], 16, 32, 1);
            if (n > 40) check_product(k[ki], type, n_in, n, toks[t], 5, 37, 1);
          }
}

/* The attention's F32 helpers. */
static void test_f32_helpers(void **state) {
  (void)state;
  const struct kern *k[2];
  size_t nk = available(k);
  float a[130], b[130], y0[130], y1[130];
  for (size_t ki = 0; ki < nk; ki++)
    for (size_t n = 0; n <= 130; n++) {
      double mag = 0;
      for (size_t i = 0; i < n; i++) {
        a[i] = frand();
        b[i] = frand() * 2;
        y0[i] = y1[i] = frand();
        mag += fabs((double)a[i] * b[i]);
      }
      float r = kern_scalar.dot_f32(a, b, n), g = k[ki]->dot_f32(a, b, n);
      assert_true(fabs((double)r - g) <= 1e-6 * mag + 1e-7);
      kern_scalar.axpy_f32(y0, 0.75f, a, n);
      k[ki]->axpy_f32(y1, 0.75f, a, n);
      for (size_t i = 0; i < n; i++) assert_true(fabsf(y0[i] - y1[i]) <= 1e-6f * (fabsf(y0[i]) + 1.0f));
      kern_scalar.scale_f32(y0, -1.5f, n);
      k[ki]->scale_f32(y1, -1.5f, n);
      for (size_t i = 0; i < n; i++) assert_true(fabsf(y0[i] - y1[i]) <= 1e-6f * (fabsf(y0[i]) + 1.0f));
    }
  /* And through ops_*, on the active path. */
  for (size_t i = 0; i < 37; i++) {
    a[i] = (float)i;
    b[i] = 1.0f;
  }
  assert_true(ops_dot_f32(a, b, 37) == 666.0f);
  ops_axpy_f32(b, 2.0f, a, 37);
  assert_true(b[36] == 73.0f);
  ops_scale_f32(b, 0.5f, 37);
  assert_true(b[36] == 36.5f);
}

/* The FFN's swiglu: a SIMD exp within a few ulp of libm's over the whole range (tails, extremes,
 * overflow of exp(-x) for very negative x). */
static void test_swiglu(void **state) {
  (void)state;
  const struct kern *k[2];
  size_t nk = available(k);
  enum { N = 4099 };
  static float g0[N], up[N], ref[N], got[N];
  for (size_t i = 0; i < N; i++) {
    g0[i] = i < 2000 ? frand() * 8.0f : frand() * 120.0f;
    up[i] = frand() * 2.0f;
  }
  g0[0] = 0;
  g0[1] = -0.0f;
  g0[2] = 88.0f;
  g0[3] = -88.0f;
  g0[4] = -100.0f;
  g0[5] = 1e-20f;
  for (size_t ki = 0; ki < nk; ki++)
    for (size_t n = 0; n <= N; n += n < 40 ? 1 : 1000) {
      memcpy(ref, g0, sizeof(ref));
      memcpy(got, g0, sizeof(got));
      kern_scalar.swiglu(ref, up, n);
      k[ki]->swiglu(got, up, n);
      for (size_t i = 0; i < N; i++) {
        if (i >= n) {
          assert_true(got[i] == g0[i]);
          continue;
        }
        double tol = 1e-6 * fabs((double)ref[i]) + 1e-37;
        if (!(fabs((double)ref[i] - got[i]) <= tol)) {
          printf("%s swiglu(%.9g) * %.9g: scalar %.9g, got %.9g\n", k[ki]->name, g0[i], up[i], ref[i], got[i]);
          fail();
        }
      }
    }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_prepare_identical),
      cmocka_unit_test(test_products),
      cmocka_unit_test(test_products_packed),
      cmocka_unit_test(test_f32_helpers),
      cmocka_unit_test(test_swiglu),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
