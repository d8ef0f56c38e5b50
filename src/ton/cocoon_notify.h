/* cocoon_notify: messages COCOON contracts send (to the proxy contract, to owners), parsed from
 * transactions a node watches. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_TON_COCOON_NOTIFY_H
#define COCOON_TON_COCOON_NOTIFY_H

#include <stdint.h>

#include "base/err.h"
#include "ton/address.h"
#include "ton/cell.h"

#define TON_OP_WORKER_PROXY_REQUEST 0x4d725d2cu
#define TON_OP_WORKER_PROXY_PAYOUT 0x08e7d036u
#define TON_OP_CLIENT_PROXY_REQUEST 0x65448ff4u
#define TON_OP_CLIENT_PROXY_TOP_UP 0x5cfc6b87u
#define TON_OP_CLIENT_PROXY_REGISTER 0xa35cb580u
#define TON_OP_CLIENT_PROXY_REFUND_GRANTED 0xc68ebc7bu
#define TON_OP_CLIENT_PROXY_REFUND_FORCE 0xf4c354c9u

/* One of:
 *   excesses#2565934c qid | payout#c59a7cd3 qid
 *   worker_proxy_request#4d725d2c qid worker_owner:MsgAddress state:uint2 tokens:uint64
 *     payload:(Maybe ^(worker_proxy_payout_request#08e7d036 coins_to_pay:Coins
 *                      coins_to_save:Coins send_excess_to:MsgAddress))
 *   client_proxy_request#65448ff4 qid client_owner:MsgAddress
 *     ^[state:uint2 balance:Coins stake:Coins tokens_used:uint64 secret_hash:uint256]
 *     payload:(Maybe ^(top_up#5cfc6b87 coins send_excess_to | register#a35cb580 nonce:uint64 |
 *                      refund_granted#c68ebc7b coins send_excess_to |
 *                      refund_force#f4c354c9 coins send_excess_to))
 * (ton.md §2.3, after COCOON's ClientContract/WorkerContract; tonkeeper's cocoon.xml lists the
 * client state without stake and register without a nonce: we follow COCOON's code.) */
struct ton_cocoon_notify {
  uint32_t op;
  uint64_t qid;
  int has_owner; /* worker/client owner (addr_none: 0) */
  struct ton_addr owner;
  unsigned state;
  uint64_t tokens;       /* worker tokens / client tokens_used */
  uint64_t balance;      /* client */
  uint64_t stake;        /* client */
  uint8_t secret[32];    /* client secret hash */
  uint32_t payload_op;   /* 0: no payload */
  uint64_t coins;        /* top_up / refund coins; worker coins_to_pay */
  uint64_t coins_to_save; /* worker */
  uint64_t nonce;        /* register */
  int has_excess;
  struct ton_addr excess;
};

/* Parses a message body; ERR_PARSE naming the part that is wrong, ERR_NOTFOUND for another op
 * (not one of these notifications). Coins beyond 64 bits are refused (ERR_LIMIT). */
CC_NODISCARD int ton_cocoon_notify_parse(const struct ton_cell *body, struct ton_cocoon_notify *out, struct err *e);

#endif
