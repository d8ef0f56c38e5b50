/* kern: picks the kernel path once, from the CPU's features or COCOON_ENGINE_KERNELS. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/kern.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cpu_has_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  /* F16C is not a feature name clang 14 knows here; every AVX2 CPU has it (it came first). */
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return 0;
#endif
}

/* The AVX-512 path uses F, BW, DQ, VL and VNNI (512-bit integer dot products). */
static int cpu_has_avx512(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#else
  return 0;
#endif
}

const struct kern *kern_by_name(const char *name) {
  if (!strcmp(name, "scalar")) return &kern_scalar;
  if (!strcmp(name, "avx2")) return cpu_has_avx2() ? &kern_avx2 : NULL;
  if (!strcmp(name, "avx512")) return cpu_has_avx512() ? &kern_avx512 : NULL;
  return NULL;
}

static const struct kern *active;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void choose(void) {
  const struct kern *best = cpu_has_avx512() ? &kern_avx512 : cpu_has_avx2() ? &kern_avx2 : &kern_scalar;
  const char *want = getenv("COCOON_ENGINE_KERNELS");
  if (want && *want) {
    const struct kern *k = kern_by_name(want);
    if (k) best = k;
    else
      fprintf(stderr, "cocoon: COCOON_ENGINE_KERNELS=%s is not available here (scalar, avx2, avx512); using %s\n",
              want, best->name);
  }
  active = best;
}

const struct kern *kern_active(void) {
  pthread_once(&once, choose);
  return active;
}
