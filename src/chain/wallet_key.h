/* wallet_key: a node's TON wallet private key in a 0600 file (hex seed or Ed25519 PEM). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CHAIN_WALLET_KEY_H
#define COCOON_CHAIN_WALLET_KEY_H

#include <stdint.h>

#include "base/err.h"

/* Reads the 32-byte Ed25519 seed from path: either 64 hex digits (optionally followed by a
 * newline), as chain_wallet_key_create writes, or a PKCS#8 PEM Ed25519 private key (such as a
 * node's key.pem). Refuses a file that group or others may read or write. Errors never contain
 * key material. Wipe the seed after use (OPENSSL_cleanse). */
CC_NODISCARD int chain_wallet_key_load(const char *path, uint8_t seed[32], struct err *e);
/* Creates path (which must not exist) with mode 0600 holding a fresh random seed in hex. */
CC_NODISCARD int chain_wallet_key_create(const char *path, uint8_t seed[32], struct err *e);

#endif
