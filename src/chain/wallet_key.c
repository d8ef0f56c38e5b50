/* wallet_key: a node's TON wallet private key in a 0600 file (hex seed or Ed25519 PEM). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "chain/wallet_key.h"

#include "base/keyfile.h"

int chain_wallet_key_load(const char *path, uint8_t seed[32], struct err *e) {
  return keyfile_load(path, "wallet key", seed, e);
}

int chain_wallet_key_create(const char *path, uint8_t seed[32], struct err *e) {
  return keyfile_create(path, "wallet key", KEYFILE_HEX, seed, e);
}
