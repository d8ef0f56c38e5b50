/* sign: Ed25519 over TON cell hashes (a TON private key is the 32-byte seed). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_TON_SIGN_H
#define COCOON_TON_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* The public key of a seed. ERR_CRYPTO on failure. */
CC_NODISCARD int ton_sign_pubkey(const uint8_t seed[32], uint8_t pub[32]);
/* sig = Ed25519(seed, msg); TON signs the 32-byte cell hash itself (no pre-hashing). */
CC_NODISCARD int ton_sign(const uint8_t seed[32], const uint8_t *msg, size_t n, uint8_t sig[64]);
/* 1 when sig is a valid signature of msg by pub, else 0. */
int ton_sign_verify(const uint8_t pub[32], const uint8_t *msg, size_t n, const uint8_t sig[64]);

#endif
