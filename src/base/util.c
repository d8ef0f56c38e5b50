/* util: small helpers: hex, time, random bytes, constant-time compare. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "base/util.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void util_hex(const void *p, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  out[2 * n] = '\0';
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int util_unhex(const char *s, size_t slen, uint8_t *out, size_t n) {
  if (slen != 2 * n) return ERR_PARSE;
  for (size_t i = 0; i < n; i++) {
    int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return ERR_PARSE;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

uint64_t util_mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t util_mono_ms(void) { return util_mono_us() / 1000u; }

double util_wall_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Request ids, salts and nonces are drawn from a per-thread pool refilled from OpenSSL's DRBG
 * 4 KiB at a time: RAND_bytes costs a getpid() syscall per call (fork detection), which showed
 * up once per request. A forked child drops the pool so it never repeats its parent's bytes. */
#define UTIL_RANDOM_POOL 4096
static _Thread_local uint8_t rpool[UTIL_RANDOM_POOL];
static _Thread_local size_t rpool_left;
static int rpool_atfork_set;

static void rpool_child(void) { rpool_left = 0; }

static void rand_or_die(void *p, size_t n) {
  if (RAND_bytes(p, (int)n) != 1) {
    fprintf(stderr, "fatal: random number generator failed\n");
    abort();
  }
}

void util_random(void *p, size_t n) {
  if (!rpool_atfork_set) {
    rpool_atfork_set = 1;
    pthread_atfork(NULL, NULL, rpool_child);
  }
  if (n > UTIL_RANDOM_POOL / 4) {
    rand_or_die(p, n);
    return;
  }
  uint8_t *out = p;
  while (n > 0) {
    if (rpool_left == 0) {
      rand_or_die(rpool, sizeof(rpool));
      rpool_left = sizeof(rpool);
    }
    size_t take = n < rpool_left ? n : rpool_left;
    uint8_t *src = rpool + sizeof(rpool) - rpool_left;
    memcpy(out, src, take);
    OPENSSL_cleanse(src, take); /* drawn bytes never stay behind */
    rpool_left -= take;
    out += take;
    n -= take;
  }
}

uint64_t util_random_u64(void) {
  uint64_t v;
  util_random(&v, sizeof(v));
  return v;
}

int util_ct_eq(const void *a, const void *b, size_t n) { return CRYPTO_memcmp(a, b, n) == 0; }

int util_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out) {
  if (!s || !*s) return ERR_PARSE;
  errno = 0;
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end != '\0' || v < min || v > max) return ERR_PARSE;
  *out = v;
  return 0;
}

int util_parse_double(const char *s, double *out) {
  if (!s || !*s) return ERR_PARSE;
  errno = 0;
  char *end = NULL;
  double v = strtod(s, &end);
  if (errno || end == s || *end != '\0') return ERR_PARSE;
  *out = v;
  return 0;
}

int util_split_hostport(const char *s, char *host, size_t hostsz, int *port) {
  const char *colon = strrchr(s, ':');
  if (!colon || colon == s) return ERR_PARSE;
  size_t hl = (size_t)(colon - s);
  const char *h = s;
  if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
    h++;
    hl -= 2;
  }
  if (hl + 1 > hostsz) return ERR_LIMIT;
  int64_t p;
  if (util_parse_i64(colon + 1, 0, 65535, &p)) return ERR_PARSE;
  memcpy(host, h, hl);
  host[hl] = '\0';
  *port = (int)p;
  return 0;
}

char *util_strndup(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}
