/* wallet: the standard wallet contracts v4r2 and v5r1: code, initial data, StateInit, address. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_TON_WALLET_H
#define COCOON_TON_WALLET_H

#include <stdint.h>

#include "base/err.h"
#include "ton/address.h"
#include "ton/cell.h"

enum ton_wallet_kind { TON_WALLET_V4R2 = 1, TON_WALLET_V5R1 = 2 };

/* Code cell hashes of the published contracts (checked by the unit tests). */
#define TON_WALLET_V4R2_CODE_HASH "feb5ff6820e2ff0d9483e7e0d62c817d846789fb4ae580c878866d959dabd5c0"
#define TON_WALLET_V5R1_CODE_HASH "20834b7b72b112147e1b2fb457b84e74d1a30f04f737d4f62a668e9552d2b72f"

#define TON_GLOBAL_ID_MAINNET (-239)
#define TON_GLOBAL_ID_TESTNET (-3)

struct ton_wallet {
  enum ton_wallet_kind kind;
  int wc;                /* -128..127 */
  uint8_t pubkey[32];    /* Ed25519 public key */
  uint32_t wallet_id;    /* v4r2 subwallet id or v5r1 wallet_id, see ton_wallet_default_id */
};

/* "v4r2" / "v5r1" (also "v4", "v5"); ERR_INVALID otherwise. */
CC_NODISCARD int ton_wallet_kind_parse(const char *s, enum ton_wallet_kind *out);
const char *ton_wallet_kind_name(enum ton_wallet_kind k);
/* The id @ton/ton uses by default: v4r2 698983191 + wc; v5r1 global_id XOR the client context
 * (1<<31 | (uint8)wc<<23 | version 0<<15 | subwallet 0), with global_id -239 on mainnet and -3
 * on testnet (testnet v5r1 wallets therefore have other addresses). */
uint32_t ton_wallet_default_id(enum ton_wallet_kind k, int wc, int testnet);
/* Fills w with the default id; ERR_INVALID for a bad workchain. */
CC_NODISCARD int ton_wallet_init(struct ton_wallet *w, enum ton_wallet_kind k, int wc,
                                 const uint8_t pubkey[32], int testnet);
/* The contract code, parsed from the embedded BoC on each call; caller unrefs. */
CC_NODISCARD int ton_wallet_code(enum ton_wallet_kind k, struct ton_cell **out, struct err *e);
/* Initial data cell (seqno 0, no plugins/extensions); caller unrefs. */
CC_NODISCARD int ton_wallet_data(const struct ton_wallet *w, struct ton_cell **out, struct err *e);
/* StateInit cell (code and data refs); caller unrefs. */
CC_NODISCARD int ton_wallet_state_init(const struct ton_wallet *w, struct ton_cell **out,
                                       struct err *e);
CC_NODISCARD int ton_wallet_address(const struct ton_wallet *w, struct ton_addr *out,
                                    struct err *e);

#endif
