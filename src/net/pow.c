/* pow: COCOON's pre-TLS proof of work (challenge, answer, solve, check). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "net/pow.h"

#include <string.h>

#include <openssl/evp.h>

#include "base/util.h"

static void put_u32le(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u64le(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64le(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

void pow_challenge_make(struct pow_challenge *c, int32_t difficulty) {
  if (difficulty < 0) difficulty = 0;
  if (difficulty > POW_MAX_DIFFICULTY) difficulty = POW_MAX_DIFFICULTY;
  c->difficulty = difficulty;
  util_random(c->salt, sizeof(c->salt));
}

void pow_challenge_encode(const struct pow_challenge *c, uint8_t out[POW_CHALLENGE_SIZE]) {
  put_u32le(out, POW_CHALLENGE_MAGIC);
  put_u32le(out + 4, (uint32_t)c->difficulty);
  memcpy(out + 8, c->salt, POW_SALT_SIZE);
}

int pow_challenge_parse(const uint8_t *p, size_t n, int32_t max_difficulty,
                        struct pow_challenge *out, struct err *e) {
  if (n != POW_CHALLENGE_SIZE) return err_set(e, ERR_PROTO, "pow challenge: %zu bytes", n);
  if (get_u32le(p) != POW_CHALLENGE_MAGIC) return err_set(e, ERR_PROTO, "pow challenge: bad magic");
  int32_t d = (int32_t)get_u32le(p + 4);
  if (d < 0) return err_set(e, ERR_PROTO, "pow challenge: negative difficulty %d", (int)d);
  if (d > max_difficulty)
    return err_set(e, ERR_REFUSED, "pow difficulty %d exceeds max %d", (int)d, (int)max_difficulty);
  out->difficulty = d;
  memcpy(out->salt, p + 8, POW_SALT_SIZE);
  return 0;
}

void pow_answer_encode(int64_t nonce, uint8_t out[POW_ANSWER_SIZE]) {
  put_u32le(out, POW_ANSWER_MAGIC);
  put_u64le(out + 4, (uint64_t)nonce);
}

int pow_answer_parse(const uint8_t *p, size_t n, int64_t *nonce, struct err *e) {
  if (n != POW_ANSWER_SIZE) return err_set(e, ERR_PROTO, "pow answer: %zu bytes", n);
  if (get_u32le(p) != POW_ANSWER_MAGIC) return err_set(e, ERR_PROTO, "pow answer: bad magic");
  *nonce = (int64_t)get_u64le(p + 4);
  return 0;
}

int pow_leading_zero_bits(const uint8_t hash[32]) {
  uint64_t w = get_u64le(hash);
  return w == 0 ? 64 : __builtin_clzll(w);
}

/* One SHA-256 over salt || nonce_le8 with a reusable context. */
static int pow_hash(EVP_MD_CTX *ctx, const EVP_MD *md, const uint8_t salt[POW_SALT_SIZE],
                    uint64_t nonce, uint8_t out[32]) {
  uint8_t msg[POW_SALT_SIZE + 8];
  memcpy(msg, salt, POW_SALT_SIZE);
  put_u64le(msg + POW_SALT_SIZE, nonce);
  unsigned int olen = 0;
  if (EVP_DigestInit_ex(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, msg, sizeof(msg)) != 1 ||
      EVP_DigestFinal_ex(ctx, out, &olen) != 1 || olen != 32)
    return ERR_CRYPTO;
  return 0;
}

int pow_check(const struct pow_challenge *c, int64_t nonce) {
  if (c->difficulty < 0 || c->difficulty > POW_MAX_DIFFICULTY) return 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx) return 0;
  uint8_t h[32];
  int ok = pow_hash(ctx, EVP_sha256(), c->salt, (uint64_t)nonce, h) == 0 &&
           pow_leading_zero_bits(h) >= c->difficulty;
  EVP_MD_CTX_free(ctx);
  return ok;
}

int pow_solve(const struct pow_challenge *c, int64_t *nonce, uint64_t max_iters) {
  if (c->difficulty < 0 || c->difficulty > POW_MAX_DIFFICULTY) return ERR_INVALID;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx) return ERR_NOMEM;
  const EVP_MD *md = EVP_sha256();
  uint64_t n = (uint64_t)*nonce;
  int rc = ERR_AGAIN;
  for (uint64_t i = 0; i < max_iters; i++, n++) {
    uint8_t h[32];
    if (pow_hash(ctx, md, c->salt, n, h) != 0) {
      rc = ERR_CRYPTO;
      break;
    }
    if (pow_leading_zero_bits(h) >= c->difficulty) {
      rc = 0;
      break;
    }
  }
  *nonce = (int64_t)n;
  EVP_MD_CTX_free(ctx);
  return rc;
}
