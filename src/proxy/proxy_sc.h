/* proxy_sc: the contract addresses a proxy announces in its handshakes: its own proxy contract
 * and each worker's and client's contract. With COCOON's fake-TON root configuration they are
 * derived as COCOON's runners derive (and check) them; without one, owner addresses stand in. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_PROXY_PROXY_SC_H
#define COCOON_PROXY_PROXY_SC_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "chain/fake_ton.h"
#include "ton/address.h"

#define PROXY_SC_ADDR_MAX 128 /* an announced address, as text */

struct proxy_sc {
  int derive; /* 1: addresses derived from `fake` */
  struct chain_fake_ton fake;
  struct ton_addr root, owner, self;
  uint8_t key[32];
  char self_str[PROXY_SC_ADDR_MAX + 1]; /* this proxy's contract address, as announced */
};

/* fake_ton_path "" : no derivation; self_str is the owner address as configured. Otherwise loads
 * the file (chain/fake_ton) and derives this proxy's contract from its owner, its key and the
 * root address, all three required (errors name the missing or malformed one). */
CC_NODISCARD int proxy_sc_init(struct proxy_sc *s, const char *fake_ton_path, const char *root_addr,
                               const char *owner, const uint8_t key[32], struct err *e);
void proxy_sc_clear(struct proxy_sc *s);

/* A worker's (worker != 0) or client's contract address for the handshake answer, NUL-terminated
 * in out (PROXY_SC_ADDR_MAX + 1 bytes): derived from its owner address, or the owner as given.
 * ERR_INVALID (message says why) when deriving and the owner is not a TON address. */
CC_NODISCARD int proxy_sc_peer(const struct proxy_sc *s, int worker, const uint8_t *owner, size_t n, char *out,
                               struct err *e);

/* The address a signed payment for that owner's account targets: its contract when deriving, else
 * the owner itself. ERR_INVALID when the owner is not a TON address. */
CC_NODISCARD int proxy_sc_target(const struct proxy_sc *s, int worker, const char *owner, struct ton_addr *out,
                                 struct err *e);

#endif
