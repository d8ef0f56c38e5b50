/* test_model: forward-pass kernels, model loading, KV cache, sampling, generation, thread pool. */
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

#include "engine/generate.h"
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/kv.h"
#include "engine/model.h"
#include "engine/ops.h"
#include "engine/quant.h"
#include "engine/sample.h"
#include "engine/testmodel.h"
#include "engine/threadpool.h"

static const uint32_t all_types[] = {QUANT_F32, QUANT_F16, QUANT_BF16, QUANT_Q8_0,
                                     QUANT_Q4_0, QUANT_Q4_K, QUANT_Q6_K};
static const char *const archs[] = {"llama", "qwen2", "qwen3"};

static uint64_t rng_state = 12345;
static float frand(void) { /* uniform in [-1, 1) */
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((rng_state >> 40) & 0xffffff) / (float)(1 << 23) - 1.0f;
}

/* A model in memory: the buffer must outlive the gguf. */
struct loaded {
  char *buf;
  size_t len;
  struct gguf *g;
  struct model *m;
};

static void load(struct loaded *l, const char *arch, uint32_t type, int tied) {
  struct testmodel_opts o = {.arch = arch, .preset = "tiny", .type = type, .seed = 7, .tied = tied};
  FILE *f = open_memstream(&l->buf, &l->len);
  assert_non_null(f);
  struct err e = {0};
  if (testmodel_write(&o, f, &e) != 0) fail_msg("testmodel_write: %s", e.msg);
  assert_int_equal(fclose(f), 0);
  if (gguf_open_mem(l->buf, l->len, &l->g, &e) != 0) fail_msg("gguf_open_mem: %s", e.msg);
  if (model_from_gguf(l->g, &l->m, &e) != 0) fail_msg("model_from_gguf %s/%u: %s", arch, type, e.msg);
}

static void unload(struct loaded *l) {
  model_free(l->m);
  gguf_free(l->g);
  free(l->buf);
}

/* ---- kernels ---- */

static void test_rmsnorm_softmax_silu(void **state) {
  (void)state;
  float x[4] = {1, -2, 3, -4}, y[4], w[4] = {1, 2, 1, 1};
  ops_rmsnorm(y, x, w, 4, 0);
  float rms = sqrtf((1 + 4 + 9 + 16) / 4.0f);
  for (int i = 0; i < 4; i++) assert_float_equal(y[i], x[i] / rms * w[i], 1e-6);
  float s[3] = {1000, 1001, 999};
  ops_softmax(s, 3);
  assert_float_equal(s[0] + s[1] + s[2], 1, 1e-6);
  assert_true(s[1] > s[0] && s[0] > s[2]);
  assert_float_equal(ops_silu(0), 0, 0);
  assert_float_equal(ops_silu(10), 10 / (1 + expf(-10)), 1e-6);
}

static void test_rope(void **state) {
  (void)state;
  float x[8], y[8];
  for (int i = 0; i < 8; i++) x[i] = y[i] = (float)(i + 1);
  struct ops_rope r = {OPS_ROPE_NORM, 8, 10000.0f, 1.0f, NULL};
  ops_rope_apply(&r, y, 1, 8, 0); /* position 0: identity */
  for (int i = 0; i < 8; i++) assert_float_equal(y[i], x[i], 0);
  /* Pair 0 rotates by exactly pos radians in both pairings; norms of pairs are kept. */
  ops_rope_apply(&r, y, 1, 8, 1);
  assert_float_equal(y[0], cosf(1) * 1 - sinf(1) * 2, 1e-6);
  assert_float_equal(y[1], sinf(1) * 1 + cosf(1) * 2, 1e-6);
  memcpy(y, x, sizeof(y));
  r.kind = OPS_ROPE_NEOX;
  ops_rope_apply(&r, y, 1, 8, 1);
  assert_float_equal(y[0], cosf(1) * 1 - sinf(1) * 5, 1e-6);
  assert_float_equal(y[4], sinf(1) * 1 + cosf(1) * 5, 1e-6);
  for (int i = 0; i < 4; i++)
    assert_float_equal(y[i] * y[i] + y[i + 4] * y[i + 4], x[i] * x[i] + x[i + 4] * x[i + 4], 1e-4);
  /* Linear scaling by 2 at position 2 equals no scaling at position 1. */
  float a[8], b[8];
  memcpy(a, x, sizeof(a));
  memcpy(b, x, sizeof(b));
  struct ops_rope s2 = r;
  s2.freq_scale = 0.5f;
  ops_rope_apply(&s2, a, 1, 8, 2);
  ops_rope_apply(&r, b, 1, 8, 1);
  for (int i = 0; i < 8; i++) assert_float_equal(a[i], b[i], 1e-5);
}

/* Each type: the product of a quantized row with a prepared activation equals the float dot of
 * the dequantized row with the dequantized activation, and the activation rounding is small. */
static void test_dot_types(void **state) {
  (void)state;
  enum { N = 512 };
  float x[N], row[N], xa[N], wr[N];
  uint8_t wq[N * 4], act[N * 4];
  for (size_t t = 0; t < sizeof(all_types) / sizeof(all_types[0]); t++) {
    uint32_t type = all_types[t];
    for (int i = 0; i < N; i++) {
      x[i] = frand() * 3;
      row[i] = frand();
    }
    assert_int_equal(quant_quantize(type, row, wq, N), 0);
    uint64_t rb;
    assert_int_equal(quant_row_bytes(type, N, &rb), 0);
    struct ops_mat m = {wq, type, N, 1, (size_t)rb, NULL, 0};
    assert_true(ops_act_size(type, N) <= sizeof(act));
    ops_act_prepare(type, x, act, N);
    ops_act_to_float(type, act, xa, N);
    double amax = 0;
    for (int i = 0; i < N; i++) {
      double err = fabs(xa[i] - x[i]);
      if (err > amax) amax = err;
    }
    /* 8-bit blocks: half a step of amax/127 (3/127/2 ~ 0.012); f16/bf16 relative rounding. */
    assert_true(amax <= (type == QUANT_F32 ? 0 : 0.013));
    ops_mat_row(&m, 0, wr);
    double ref = 0;
    for (int i = 0; i < N; i++) ref += (double)wr[i] * xa[i];
    float got = ops_dot_row(&m, 0, act);
    if (fabs(got - ref) > 1e-4 * (1 + fabs(ref))) fail_msg("type %u: dot %g, reference %g", type, got, ref);
  }
}

/* ---- model loading ---- */

static void test_load_all(void **state) {
  (void)state;
  for (size_t a = 0; a < 3; a++)
    for (size_t t = 0; t < sizeof(all_types) / sizeof(all_types[0]); t++) {
      struct loaded l;
      load(&l, archs[a], all_types[t], -1);
      const struct model_hparams *hp = &l.m->hp;
      assert_string_equal(hp->arch_name, archs[a]);
      assert_true(hp->n_layer == 2 && hp->n_head == 4 && hp->n_head_kv == 2);
      assert_int_equal(hp->rope.kind, a == 0 ? OPS_ROPE_NORM : OPS_ROPE_NEOX);
      assert_int_equal(l.m->tok_embd.type, all_types[t]);
      assert_true(l.m->hp.n_vocab > 256);
      assert_int_equal(l.m->layers[0].bq != NULL, a == 1);
      assert_int_equal(l.m->layers[0].q_norm != NULL, a == 2);
      assert_true(l.m->n_eog >= 1 && model_is_eog(l.m, l.m->eos_id));
      unload(&l);
    }
}

static void expect_load_error(const char *buf, size_t len, const char *needle) {
  struct gguf *g = NULL;
  struct model *m = NULL;
  struct err e = {0};
  if (gguf_open_mem(buf, len, &g, &e) != 0) fail_msg("gguf_open_mem: %s", e.msg);
  int rc = model_from_gguf(g, &m, &e);
  assert_true(rc < 0);
  assert_null(m);
  if (!strstr(e.msg, needle)) fail_msg("error '%s' does not mention '%s'", e.msg, needle);
  gguf_free(g);
}

static void test_load_errors(void **state) {
  (void)state;
  /* An unsupported architecture is refused by name. */
  struct gguf_writer *w = gguf_writer_new();
  assert_non_null(w);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  struct err e = {0};
  assert_int_equal(gguf_writer_kv_str(w, "general.architecture", "gpt2", &e), 0);
  assert_int_equal(gguf_writer_begin(w, f, &e), 0);
  assert_int_equal(gguf_writer_finish(w, &e), 0);
  gguf_writer_free(w);
  fclose(f);
  expect_load_error(buf, len, "architecture \"gpt2\" is not supported");
  free(buf);

  /* A tensor of the wrong shape or a missing key names the culprit: corrupt a copy in place
   * by renaming things (same length, so the file stays valid). */
  struct loaded l;
  load(&l, "qwen3", QUANT_F32, -1);
  char *c = malloc(l.len);
  assert_non_null(c);
  const struct {
    const char *from, *to, *needle;
  } cases[] = {
      {"blk.1.ffn_up.weight", "blk.1.ffn_up.weighx", "tensor \"blk.1.ffn_up.weight\" is missing"},
      {"qwen3.attention.layer_norm_rms_epsilon", "qwen3.attention.layer_norm_rms_epsilox",
       "qwen3.attention.layer_norm_rms_epsilon"},
      {"blk.0.attn_k_norm.weight", "blk.0.attn_k_norm.weighx", "attn_k_norm"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    memcpy(c, l.buf, l.len);
    size_t n = strlen(cases[i].from);
    char *p = memmem(c, l.len, cases[i].from, n);
    assert_non_null(p);
    memcpy(p, cases[i].to, n);
    expect_load_error(c, l.len, cases[i].needle);
  }
  free(c);
  unload(&l);
}

/* ---- forward pass ---- */

static void run_logits(const struct model *m, struct threadpool *pool, uint32_t batch, const int32_t *toks, uint32_t n,
                       float *logits) {
  struct model_work *w = NULL;
  struct kv_cache *kv = NULL;
  struct err e = {0};
  assert_int_equal(model_work_new(m, batch, pool, &w, &e), 0);
  assert_int_equal(model_kv_new(m, 64, &kv, &e), 0);
  if (model_forward(m, w, kv, toks, n, logits, &e) != 0) fail_msg("forward: %s", e.msg);
  assert_int_equal(kv->n_pos, n);
  kv_free(kv);
  model_work_free(w);
}

/* The prompt in one batch, in batches of 3 and token by token, with 1 or 3 threads: the same
 * logits (the same arithmetic per token, so equal to float rounding of the batch order). */
static void test_batch_consistency(void **state) {
  (void)state;
  const int32_t toks[] = {5, 100, 200, 300, 17, 42, 7};
  for (size_t a = 0; a < 3; a++) {
    uint32_t types[] = {QUANT_F32, QUANT_Q8_0, QUANT_Q4_K};
    for (size_t t = 0; t < 3; t++) {
      struct loaded l;
      load(&l, archs[a], types[t], 0);
      uint32_t V = l.m->hp.n_vocab;
      float *l1 = malloc(V * sizeof(float)), *l2 = malloc(V * sizeof(float)), *l3 = malloc(V * sizeof(float));
      assert_true(l1 && l2 && l3);
      struct threadpool *pool = NULL;
      struct err e = {0};
      assert_int_equal(threadpool_new(3, &pool, &e), 0);
      run_logits(l.m, NULL, 64, toks, 7, l1);
      run_logits(l.m, NULL, 3, toks, 7, l2);
      run_logits(l.m, pool, 1, toks, 7, l3);
      for (uint32_t i = 0; i < V; i++) {
        assert_true(isfinite(l1[i]));
        assert_float_equal(l1[i], l2[i], 1e-5);
        assert_float_equal(l1[i], l3[i], 1e-5);
      }
      threadpool_free(pool);
      free(l1);
      free(l2);
      free(l3);
      unload(&l);
    }
  }
}

static void test_forward_errors(void **state) {
  (void)state;
  struct loaded l;
  load(&l, "llama", QUANT_F32, -1);
  struct model_work *w = NULL;
  struct kv_cache *kv = NULL;
  struct err e = {0};
  assert_int_equal(model_work_new(l.m, 4, NULL, &w, &e), 0);
  assert_int_equal(model_kv_new(l.m, 4, &kv, &e), 0);
  int32_t bad = (int32_t)l.m->hp.n_vocab, ok[5] = {1, 2, 3, 4, 5};
  assert_int_equal(model_forward(l.m, w, kv, &bad, 1, NULL, &e), ERR_INVALID);
  assert_non_null(strstr(e.msg, "outside the vocabulary"));
  assert_int_equal(model_forward(l.m, w, kv, ok, 5, NULL, &e), ERR_LIMIT);
  assert_int_equal(kv->n_pos, 0);
  assert_int_equal(model_forward(l.m, w, kv, ok, 4, NULL, &e), 0);
  assert_int_equal(model_forward(l.m, w, kv, ok, 1, NULL, &e), ERR_LIMIT);
  kv_clear(kv);
  assert_int_equal(model_forward(l.m, w, kv, ok, 1, NULL, &e), 0);
  struct kv_cache *big = NULL;
  assert_int_equal(kv_new(1u << 20, 1u << 20, 1024, 1024, &big, &e), ERR_LIMIT);
  kv_free(kv);
  model_work_free(w);
  unload(&l);
}

/* ---- sampling and generation ---- */

static void test_sampler(void **state) {
  (void)state;
  enum { V = 50 };
  float logits[V];
  for (int i = 0; i < V; i++) logits[i] = frand();
  logits[17] = 3;
  logits[23] = 2.9f;
  struct sample_params p;
  sample_params_default(&p);
  struct sampler *s = NULL;
  struct err e = {0};
  assert_int_equal(sampler_new(&p, V, &s, &e), 0);
  assert_int_equal(sampler_next(s, logits), 17);
  sampler_free(s);
  /* top-k 1 and min-p 1 are greedy whatever the temperature. */
  p.temperature = 5;
  p.top_k = 1;
  assert_int_equal(sampler_new(&p, V, &s, &e), 0);
  for (int i = 0; i < 20; i++) assert_int_equal(sampler_next(s, logits), 17);
  sampler_free(s);
  p.top_k = 0;
  p.min_p = 1;
  assert_int_equal(sampler_new(&p, V, &s, &e), 0);
  for (int i = 0; i < 20; i++) assert_int_equal(sampler_next(s, logits), 17);
  sampler_free(s);
  /* top-k 2: only the two best appear, both do; the same seed gives the same draws. */
  p.min_p = 0;
  p.top_k = 2;
  p.temperature = 1;
  p.seed = 99;
  int32_t draws[2][200];
  for (int r = 0; r < 2; r++) {
    assert_int_equal(sampler_new(&p, V, &s, &e), 0);
    for (int i = 0; i < 200; i++) draws[r][i] = sampler_next(s, logits);
    sampler_free(s);
  }
  int seen17 = 0, seen23 = 0;
  for (int i = 0; i < 200; i++) {
    assert_int_equal(draws[0][i], draws[1][i]);
    assert_true(draws[0][i] == 17 || draws[0][i] == 23);
    seen17 += draws[0][i] == 17;
    seen23 += draws[0][i] == 23;
  }
  assert_true(seen17 > 60 && seen23 > 60);
  /* top-p small keeps only the best. */
  p.top_k = 0;
  p.top_p = 0.01f;
  assert_int_equal(sampler_new(&p, V, &s, &e), 0);
  for (int i = 0; i < 20; i++) assert_int_equal(sampler_next(s, logits), 17);
  sampler_free(s);
  /* Bad parameters. */
  p.top_p = 0;
  assert_int_equal(sampler_new(&p, V, &s, &e), ERR_INVALID);
  p.top_p = 1;
  p.temperature = NAN;
  assert_int_equal(sampler_new(&p, V, &s, &e), ERR_INVALID);
  /* log-softmax sums to 1. */
  float lp[V];
  sample_log_softmax(logits, lp, V);
  double sum = 0;
  for (int i = 0; i < V; i++) sum += exp(lp[i]);
  assert_float_equal(sum, 1, 1e-6);
}

/* The first index of the largest value, NaN never winning unless it is first: the one-pass
 * definition, against sample_argmax's eight lanes, on lengths around the lane count, with ties
 * (few distinct values) and NaNs. */
static int32_t argmax_ref(const float *x, uint32_t n) {
  uint32_t best = 0;
  for (uint32_t i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return (int32_t)best;
}

static void test_argmax(void **state) {
  (void)state;
  float x[300];
  uint64_t r = 12345;
  for (uint32_t n = 1; n <= 300; n++)
    for (int rep = 0; rep < 6; rep++) {
      for (uint32_t i = 0; i < n; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t v = (uint32_t)(r >> 33);
        x[i] = rep < 3 ? (float)(v % 7) : (float)v / 4294967296.0f - 0.5f;
        if (rep % 3 == 2 && v % 11 == 0) x[i] = NAN;
      }
      assert_int_equal(sample_argmax(x, n), argmax_ref(x, n));
    }
  x[0] = NAN;
  x[1] = 3;
  assert_int_equal(sample_argmax(x, 40), 0);
}

struct collect {
  int32_t ids[64];
  uint32_t n;
  uint32_t stop_after;
};

static int collect_cb(void *arg, int32_t tok, const float *logits, uint32_t n_vocab) {
  struct collect *c = arg;
  assert_int_equal(tok, sample_argmax(logits, n_vocab));
  c->ids[c->n++] = tok;
  return c->stop_after && c->n == c->stop_after ? 1 : 0;
}

static void test_generate(void **state) {
  (void)state;
  struct loaded l;
  load(&l, "qwen2", QUANT_Q8_0, 0);
  struct model_work *w = NULL;
  struct kv_cache *kv = NULL;
  struct sampler *s = NULL;
  struct err e = {0};
  struct sample_params sp;
  sample_params_default(&sp);
  assert_int_equal(model_work_new(l.m, 8, NULL, &w, &e), 0);
  assert_int_equal(model_kv_new(l.m, 32, &kv, &e), 0);
  assert_int_equal(sampler_new(&sp, l.m->hp.n_vocab, &s, &e), 0);
  const int32_t prompt[] = {5, 100, 200};
  struct generate_params gp = {.max_tokens = 10, .ignore_eog = 1};
  struct generate_result res;
  struct collect c1 = {.n = 0};
  assert_int_equal(generate_run(l.m, w, kv, s, prompt, 3, &gp, collect_cb, &c1, &res, &e), 0);
  assert_int_equal(res.n_generated, 10);
  assert_int_equal(c1.n, 10);
  assert_int_equal(res.finish, GENERATE_FINISH_LENGTH);
  assert_int_equal(kv->n_pos, 3 + 9); /* the last token is not evaluated */
  /* Greedy continuation is reproducible, and stopping early gives a prefix. */
  kv_clear(kv);
  struct collect c2 = {.n = 0, .stop_after = 4};
  assert_int_equal(generate_run(l.m, w, kv, s, prompt, 3, &gp, collect_cb, &c2, &res, &e), 0);
  assert_int_equal(res.finish, GENERATE_FINISH_STOP);
  assert_int_equal(c2.n, 4);
  assert_memory_equal(c1.ids, c2.ids, 4 * sizeof(int32_t));
  /* The context fills up: generation ends there without an error. */
  kv_clear(kv);
  gp.max_tokens = 100;
  struct collect c3 = {.n = 0};
  assert_int_equal(generate_run(l.m, w, kv, s, prompt, 3, &gp, collect_cb, &c3, &res, &e), 0);
  assert_int_equal(res.finish, GENERATE_FINISH_LENGTH);
  assert_int_equal(kv->n_pos, 32);
  assert_int_equal(c3.n, 30);
  assert_memory_equal(c1.ids, c3.ids, 10 * sizeof(int32_t));
  sampler_free(s);
  kv_free(kv);
  model_work_free(w);
  unload(&l);
}

static void sum_share(void *arg, uint32_t ith, uint32_t nth) {
  uint64_t *slots = arg;
  slots[ith] += (uint64_t)nth * 1000 + ith + 1;
}

static void test_threadpool(void **state) {
  (void)state;
  struct threadpool *p = NULL;
  struct err e = {0};
  assert_int_equal(threadpool_new(0, &p, &e), ERR_INVALID);
  assert_int_equal(threadpool_new(4, &p, &e), 0);
  assert_int_equal(threadpool_size(p), 4);
  uint64_t slots[4] = {0};
  for (int r = 0; r < 1000; r++) threadpool_run(p, sum_share, slots);
  for (uint32_t i = 0; i < 4; i++) assert_int_equal(slots[i], 1000 * (4000 + i + 1));
  threadpool_free(p);
  uint64_t one[1] = {0};
  threadpool_run(NULL, sum_share, one);
  assert_int_equal(one[0], 1001);
  threadpool_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rmsnorm_softmax_silu),
      cmocka_unit_test(test_rope),
      cmocka_unit_test(test_dot_types),
      cmocka_unit_test(test_load_all),
      cmocka_unit_test(test_load_errors),
      cmocka_unit_test(test_batch_consistency),
      cmocka_unit_test(test_forward_errors),
      cmocka_unit_test(test_sampler),
      cmocka_unit_test(test_argmax),
      cmocka_unit_test(test_generate),
      cmocka_unit_test(test_threadpool),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
