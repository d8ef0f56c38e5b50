/* payment: COCOON's proxy-signed cumulative payment messages (charge, payout) as TON cells. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_TON_PAYMENT_H
#define COCOON_TON_PAYMENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "ton/address.h"

/* Outer ops (COCOON runners/smartcontracts/Opcodes.hpp). */
#define TON_OP_CLIENT_CHARGE_SIGNED 0xbb63ff93u
#define TON_OP_CLIENT_GRANT_REFUND_SIGNED 0xefd711e1u
#define TON_OP_WORKER_PAYOUT_SIGNED 0xa040ad28u
#define TON_OP_WORKER_LAST_PAYOUT_SIGNED 0xf5f26a36u

#define TON_PAYMENT_MAX_BOC 1024 /* a signed payment is two small cells */

/* What a signed payment says: `tokens` (cumulative total) may be paid for `op` to the contract
 * at `target`. */
struct ton_payment {
  uint32_t op;
  uint64_t qid;
  uint64_t tokens;
  struct ton_addr target;
};

/* Builds the message:
 *   outer:   op:32 | qid:64 | return_excesses_to:MsgAddress | signature:512 | ^payload
 *   payload: op:32 | qid:64 | tokens:64 | expected_contract_address:MsgAddress
 * signature = Ed25519(seed, hash(payload cell)); excess NULL writes addr_none. The BoC (no
 * index, with CRC32C) is appended to out. seed is the proxy's 32-byte Ed25519 private key. */
CC_NODISCARD int ton_payment_sign(const struct ton_payment *p, const struct ton_addr *excess,
                                  const uint8_t seed[32], struct buf *out, struct err *e);
/* Parses and checks a signed payment BoC: structure, the op and qid repeated inside, the
 * Ed25519 signature with pubkey, and (when expect is non-NULL) the op and target address.
 * Fills *out. Errors name the failed check. */
CC_NODISCARD int ton_payment_verify(const uint8_t *boc, size_t len, const uint8_t pubkey[32],
                                    const struct ton_payment *expect, struct ton_payment *out,
                                    struct err *e);

#endif
