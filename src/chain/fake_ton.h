/* fake_ton: COCOON's fake-TON root configuration, the JSON file its runners take with
 * --disable-ton (rootConfig.pseudo), and the contract addresses its test mode derives from it. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CHAIN_FAKE_TON_H
#define COCOON_CHAIN_FAKE_TON_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "chain/cocoon_sc.h"
#include "chain/root.h"
#include "ton/address.h"

#define CHAIN_FAKE_TON_MAX_FILE ((size_t)4 << 20) /* the three code BoCs are hex: a few hundred KB */

struct chain_fake_ton {
  int32_t version; /* the root configuration's version (clients may require a minimum) */
  /* What RootContractConfig::load_from_tl makes of the file: struct_version 1, unique_id 13,
   * is_test, delays 600/300 s, stakes 1 TON; price, fee and params_version from the file. */
  struct chain_root_params params;
  int has_root_owner;
  struct ton_addr root_owner;
  size_t n_models; /* model_types / model_names entries */
  /* The contracts' code (an empty string stands for an empty cell, as in COCOON) and the params
   * cells built from them; every cell owned. */
  struct chain_sc_code sc;
};

/* Parses the file's bytes. Every field COCOON's TL reads is checked for its type and range (int
 * fields are TL ints: 32-bit; price and fee not negative; codes even-length hex of one BoC root);
 * an error names the field. Other keys are ignored, as COCOON ignores them. On success the
 * caller clears out. */
CC_NODISCARD int chain_fake_ton_parse(const char *json, size_t len, struct chain_fake_ton *out, struct err *e);
/* Reads path (a regular file of at most CHAIN_FAKE_TON_MAX_FILE bytes) and parses it; errors
 * start with the path. */
CC_NODISCARD int chain_fake_ton_load(const char *path, struct chain_fake_ton *out, struct err *e);
void chain_fake_ton_clear(struct chain_fake_ton *f);

#endif
