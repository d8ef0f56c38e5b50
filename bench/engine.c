/* bench engine: prompt-processing and decode speed of the built-in engine on one GGUF file. */
/* SPDX-License-Identifier: Apache-2.0 */
/* Usage: cocoon-bench-engine MODEL.gguf THREADS [PROMPT_TOKENS=128] [DECODE_TOKENS=64] [REPS=3]
 * Prints one line: kernels=, threads=, pp= (tok/s, best of REPS), tg= (tok/s, best of REPS),
 * kv_bytes=, vmhwm_kb= (peak resident memory). Same measurement as llama-bench: a fresh context,
 * one batch of PROMPT_TOKENS tokens; then DECODE_TOKENS single-token steps from an empty one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "engine/kv.h"
#include "engine/model.h"
#include "engine/ops.h"
#include "engine/threadpool.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long vmhwm_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  if (!f) return -1;
  while (fgets(line, sizeof(line), f))
    if (!strncmp(line, "VmHWM:", 6)) kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

static int arg_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out) {
  int64_t v;
  if (util_parse_i64(s, lo, hi, &v) != 0) return -1;
  *out = (uint32_t)v;
  return 0;
}

int main(int argc, char **argv) {
  uint32_t threads = 1, n_pp = 128, n_tg = 64, reps = 3;
  if (argc < 3 || arg_u32(argv[2], 1, THREADPOOL_MAX_THREADS, &threads) ||
      (argc > 3 && arg_u32(argv[3], 1, 4096, &n_pp)) || (argc > 4 && arg_u32(argv[4], 1, 4096, &n_tg)) ||
      (argc > 5 && arg_u32(argv[5], 1, 100, &reps))) {
    fprintf(stderr, "usage: cocoon-bench-engine MODEL.gguf THREADS [PROMPT_TOKENS] [DECODE_TOKENS] [REPS]\n");
    return 2;
  }
  struct err e = {0};
  struct model *m = NULL;
  struct threadpool *pool = NULL;
  struct model_work *w = NULL;
  struct kv_cache *kv = NULL;
  int32_t *tok = NULL;
  float *logits = NULL;
  int rc = 1;
  uint32_t ctx = n_pp > n_tg ? n_pp : n_tg;
  if (model_load(argv[1], &m, &e) != 0 || threadpool_new(threads, &pool, &e) != 0 ||
      model_work_new(m, n_pp, pool, &w, &e) != 0 || model_kv_new(m, ctx, &kv, &e) != 0) {
    fprintf(stderr, "bench engine: %s\n", e.msg);
    goto out;
  }
  tok = malloc(n_pp * sizeof(*tok));
  logits = malloc((size_t)m->hp.n_vocab * sizeof(float));
  if (!tok || !logits) {
    fprintf(stderr, "bench engine: out of memory\n");
    goto out;
  }
  for (uint32_t i = 0; i < n_pp; i++) tok[i] = (int32_t)((i * 7919u + 13u) % m->hp.n_vocab);
  double best_pp = 0, best_tg = 0;
  /* One warm-up pass of each (page faults of the mapped file, caches), then REPS timed. */
  for (uint32_t r = 0; r <= reps; r++) {
    kv_clear(kv);
    double t0 = now();
    if (model_forward(m, w, kv, tok, n_pp, logits, &e) != 0) goto fail;
    double pp = n_pp / (now() - t0);
    kv_clear(kv);
    t0 = now();
    int32_t next = tok[0];
    for (uint32_t i = 0; i < n_tg; i++) {
      if (model_forward(m, w, kv, &next, 1, logits, &e) != 0) goto fail;
      next = (int32_t)((uint32_t)(next + 1) % m->hp.n_vocab);
    }
    double tg = n_tg / (now() - t0);
    if (r == 0) continue;
    if (pp > best_pp) best_pp = pp;
    if (tg > best_tg) best_tg = tg;
  }
  printf("kernels=%s threads=%u pp%u=%.1f tg%u=%.1f kv_bytes=%zu vmhwm_kb=%ld\n", ops_kernels_name(), threads, n_pp,
         best_pp, n_tg, best_tg, (size_t)kv->n_layer * kv->n_ctx * (kv->k_dim + kv->v_dim) * sizeof(float),
         vmhwm_kb());
  rc = 0;
  goto out;
fail:
  fprintf(stderr, "bench engine: %s\n", e.msg);
out:
  free(tok);
  free(logits);
  kv_free(kv);
  model_work_free(w);
  threadpool_free(pool);
  model_free(m);
  return rc;
}
