/* cocoon_msg: bodies of the messages COCOON's client, proxy and worker contracts accept. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_TON_COCOON_MSG_H
#define COCOON_TON_COCOON_MSG_H

#include <stdint.h>

#include "base/err.h"
#include "ton/address.h"
#include "ton/cell.h"

/* Opcodes (COCOON runners/smartcontracts/Opcodes.hpp; tonkeeper/tongo abi/schemas/cocoon.xml). */
#define TON_OP_EXCESSES 0x2565934cu
#define TON_OP_PAYOUT 0xc59a7cd3u
#define TON_OP_DO_NOT_PROCESS 0x9a1247c0u
#define TON_OP_PROXY_SAVE_STATE 0x53109c0fu
#define TON_OP_CLIENT_TOP_UP 0xf172e6c2u              /* qid coins excess */
#define TON_OP_CLIENT_REGISTER 0xc45f9f3bu            /* qid nonce:64 excess */
#define TON_OP_CLIENT_CHANGE_SECRET 0xa9357034u       /* qid secret:256 excess */
#define TON_OP_CLIENT_CHANGE_SECRET_TOP_UP 0x8473b408u /* qid coins secret:256 excess */
#define TON_OP_CLIENT_INCREASE_STAKE 0x6a1f6a60u      /* qid coins excess */
#define TON_OP_CLIENT_WITHDRAW 0xda068e78u            /* qid excess */
#define TON_OP_CLIENT_REQUEST_REFUND 0xfafa6cc1u      /* qid excess */
#define TON_OP_PROXY_PAYOUT_REQUEST 0x7610e6ebu       /* qid excess */
#define TON_OP_PROXY_INCREASE_STAKE 0x9713f187u       /* qid coins excess */
#define TON_OP_OWNER_PROXY_CLOSE 0xb51d5a01u          /* qid excess */
#define TON_OP_PROXY_CLOSE_SIGNED 0x636a4391u
#define TON_OP_PROXY_CLOSE_COMPLETE_SIGNED 0xe511abc7u
/* The four signed payment ops are in ton/payment.h (TON_OP_CLIENT_CHARGE_SIGNED, ...). */

/* An owner (unsigned) message. Which fields are used depends on op, see the list above. */
struct ton_cocoon_msg {
  uint32_t op;
  uint64_t qid;
  uint64_t coins;     /* top-up amount, new stake, stake increase (nano-TON) */
  uint64_t nonce;     /* register */
  uint8_t secret[32]; /* secret hash */
  int has_excess;     /* 0: addr_none */
  struct ton_addr excess;
};

/* Builds the body of an owner message; ERR_INVALID for an op not listed above. */
CC_NODISCARD int ton_cocoon_msg_cell(const struct ton_cocoon_msg *m, struct ton_cell **out, struct err *e);

/* The proxy's rollback anchor, sent from its own wallet to its contract (which ignores it):
 *   do_not_process#9a1247c0 qid | proxy_save_state#53109c0f | seqno:int32 | unique_hash:256 */
CC_NODISCARD int ton_cocoon_save_state_cell(uint64_t qid, int32_t seqno, const uint8_t unique_hash[32],
                                            struct ton_cell **out, struct err *e);

/* A proxy-signed message:
 *   op:32 qid:64 send_excess_to:MsgAddress signature:512 ^payload
 *   payload = op:32 qid:64 [tokens:64] expected_address:MsgAddress
 * tokens is present for the charge, grant-refund and payout ops, absent for the two proxy close
 * ops. signature = Ed25519(seed, hash(payload)). excess NULL writes addr_none. */
struct ton_cocoon_signed {
  uint32_t op;
  uint64_t qid;
  uint64_t tokens;
  struct ton_addr target;
};
CC_NODISCARD int ton_cocoon_signed_cell(const struct ton_cocoon_signed *s, const struct ton_addr *excess,
                                        const uint8_t seed[32], struct ton_cell **out, struct err *e);

/* Rewraps a signed message with another send_excess_to (what a client or worker does before
 * submitting the proxy's message from its own wallet): the signature covers only the payload,
 * so it stays valid. signed_msg is borrowed; caller unrefs *out. */
CC_NODISCARD int ton_cocoon_signed_rewrap(const struct ton_cell *signed_msg, const struct ton_addr *excess,
                                          struct ton_cell **out, struct err *e);

#endif
