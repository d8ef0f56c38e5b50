/* wallet_transfer: signed external transfers for wallets v4r2 and v5r1. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_TON_WALLET_TRANSFER_H
#define COCOON_TON_WALLET_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ton/cell.h"
#include "ton/wallet.h"

#define TON_WALLET_V4R2_MAX_MSGS 4
#define TON_WALLET_V5R1_MAX_MSGS 255
#define TON_WALLET_V5R1_OP_SIGNED_EXTERNAL 0x7369676eu /* "sign" */
#define TON_OUT_ACTION_SEND_MSG 0x0ec3c86du
#define TON_SEND_MODE_PAY_FEES_SEPARATELY 1u
#define TON_SEND_MODE_IGNORE_ERRORS 2u

/* One outgoing message: a MessageRelaxed cell (see ton_int_msg_cell), borrowed. */
struct ton_wallet_out {
  uint8_t mode;
  struct ton_cell *msg;
};

struct ton_wallet_transfer {
  uint32_t seqno;
  uint32_t valid_until; /* unix time; the wallet refuses the message afterwards */
  const struct ton_wallet_out *msgs;
  size_t nmsgs; /* v4r2: at most 4; v5r1: at most 255 */
};

/* The signed external body.
 * v4r2: sig:512 | subwallet:32 | valid_until:32 | seqno:32 | op:8 = 0 | (mode:8 ^msg)*
 *       the signature covers the hash of the cell after the signature.
 * v5r1: "sign":32 | wallet_id:32 | valid_until:32 | seqno:32 | out_list:(Maybe ^OutList) |
 *       has_other_actions:1 = 0 | sig:512; the signature covers the cell before it, and each
 *       mode gets +2 (IGNORE_ERRORS), as @ton/ton forces for externally signed sends.
 * seed is the wallet's 32-byte Ed25519 private key (it must match w->pubkey). Caller unrefs. */
CC_NODISCARD int ton_wallet_transfer_body(const struct ton_wallet *w, const struct ton_wallet_transfer *t,
                                          const uint8_t seed[32], struct ton_cell **out, struct err *e);

/* The external-in message to the wallet; with_init attaches the StateInit (needed while the
 * wallet is not deployed, i.e. for seqno 0). Caller unrefs *out. */
CC_NODISCARD int ton_wallet_transfer_external(const struct ton_wallet *w, const struct ton_wallet_transfer *t,
                                              const uint8_t seed[32], int with_init, struct ton_cell **out,
                                              struct err *e);

#endif
