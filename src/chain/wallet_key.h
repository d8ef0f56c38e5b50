/* wallet_key: a node's TON wallet private key in a 0600 file (hex seed or Ed25519 PEM). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CHAIN_WALLET_KEY_H
#define COCOON_CHAIN_WALLET_KEY_H

#include <stdint.h>

#include "base/err.h"

/* keyfile_load (base/keyfile.h) with errors naming the "wallet key": 64 hex digits, as
 * chain_wallet_key_create writes, or a PKCS#8 PEM Ed25519 private key (such as a node's key.pem);
 * a file group or others may read is refused. Wipe the seed after use (OPENSSL_cleanse). */
CC_NODISCARD int chain_wallet_key_load(const char *path, uint8_t seed[32], struct err *e);
/* keyfile_create: path (which must not exist) with mode 0600 holding a fresh random seed in hex. */
CC_NODISCARD int chain_wallet_key_create(const char *path, uint8_t seed[32], struct err *e);

#endif
