/* pow: COCOON's pre-TLS proof of work (challenge, answer, solve, check). Pure functions. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_NET_POW_H
#define COCOON_NET_POW_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Wire format (all little-endian), see tee/cocoon/pow.h upstream:
 *   challenge (server -> client, 24 bytes): magic u32 | difficulty_bits i32 | salt[16]
 *   answer    (client -> server, 12 bytes): magic u32 | nonce i64
 * The answer is valid iff SHA256(salt || nonce_le8) has >= difficulty_bits leading zero bits,
 * counted on the first 8 hash bytes read as a little-endian u64 (byte 7 most significant). */
#define POW_CHALLENGE_MAGIC 0x418e1291u
#define POW_ANSWER_MAGIC 0x01827319u
#define POW_CHALLENGE_SIZE 24
#define POW_ANSWER_SIZE 12
#define POW_SALT_SIZE 16

#define POW_DEFAULT_DIFFICULTY 20     /* what a server asks by default */
#define POW_DEFAULT_MAX_DIFFICULTY 28 /* the most a client agrees to solve by default */
#define POW_MAX_DIFFICULTY 64         /* bits are counted on a 64-bit word */
/* Hashes tried per pow_solve call upstream; callers slice the work so a loop stays live. */
#define POW_SOLVE_SLICE 100000u

struct pow_challenge {
  int32_t difficulty;
  uint8_t salt[POW_SALT_SIZE];
};

/* Fills c with a random salt and the given difficulty (clamped to [0, POW_MAX_DIFFICULTY]). */
void pow_challenge_make(struct pow_challenge *c, int32_t difficulty);
void pow_challenge_encode(const struct pow_challenge *c, uint8_t out[POW_CHALLENGE_SIZE]);
/* Parses exactly POW_CHALLENGE_SIZE bytes. Refuses a bad magic (ERR_PROTO), a negative
 * difficulty (ERR_PROTO) and a difficulty above max_difficulty (ERR_REFUSED). */
CC_NODISCARD int pow_challenge_parse(const uint8_t *p, size_t n, int32_t max_difficulty,
                                     struct pow_challenge *out, struct err *e);

void pow_answer_encode(int64_t nonce, uint8_t out[POW_ANSWER_SIZE]);
/* Parses exactly POW_ANSWER_SIZE bytes; ERR_PROTO on bad magic or size. */
CC_NODISCARD int pow_answer_parse(const uint8_t *p, size_t n, int64_t *nonce, struct err *e);

/* Leading zero bits of hash[0..8) read as a little-endian u64 (64 when all zero). */
int pow_leading_zero_bits(const uint8_t hash[32]);
/* 1 when nonce solves c, else 0. */
int pow_check(const struct pow_challenge *c, int64_t nonce);
/* Tries at most max_iters nonces starting at *nonce. Returns 0 with *nonce = the solution,
 * ERR_AGAIN with *nonce advanced past the tried ones (call again), or ERR_CRYPTO. */
CC_NODISCARD int pow_solve(const struct pow_challenge *c, int64_t *nonce, uint64_t max_iters);

#endif
