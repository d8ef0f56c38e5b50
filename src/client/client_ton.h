/* client_ton: the client's own wallet talking to its client contract on TON (top-up, withdraw,
 * close/refund), from the event loop: what a client does itself under `ton` settlement. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CLIENT_CLIENT_TON_H
#define COCOON_CLIENT_CLIENT_TON_H

#include <stdint.h>

#include "base/err.h"

struct loop;
struct client_ton;

#define CLIENT_TON_FEE_RESERVE 50000000LL /* nano-TON the wallet keeps for its own fees */

struct client_ton_config {
  const char *toncenter_url;  /* copied */
  const char *api_key;        /* NULL: none; copied, never logged */
  const char *key_path;       /* the wallet's key file (mode 0600) */
  const char *wallet_kind;    /* v4r2 or v5r1 */
  int testnet;
  const char *contract;       /* the client contract's address (the client's owner_address) */
  int64_t msg_value;          /* nano-TON sent with withdraw and close for gas (excess comes back) */
  uint32_t ttl_s;             /* validity of a wallet message */
};

/* The client contract as its get-method reports it. */
struct client_ton_contract {
  int state; /* 0 running, 1 closing, 2 closed */
  int64_t balance, stake, tokens_used, unlock_ts;
};

enum client_ton_op { CLIENT_TON_STATUS = 0, CLIENT_TON_TOPUP = 1, CLIENT_TON_WITHDRAW = 2, CLIENT_TON_CLOSE = 4 };

/* rc 0: the wallet's message landed (or, for STATUS, nothing was sent) and c is the contract
 * afterwards. Borrowed for the call. */
typedef void (*client_ton_done_cb)(void *arg, int rc, const char *error, const struct client_ton_contract *c);

CC_NODISCARD int client_ton_new(struct loop *loop, const struct client_ton_config *cfg, struct client_ton **out,
                                struct err *e);
/* One operation at a time (ERR_AGAIN while one runs). amount: nano-TON for TOPUP (> 0). */
CC_NODISCARD int client_ton_op(struct client_ton *t, enum client_ton_op op, int64_t amount, client_ton_done_cb cb,
                               void *arg, struct err *e);
/* Drops an operation in flight without its callback. NULL-safe. */
void client_ton_free(struct client_ton *t);
/* The wallet's address (friendly, non-bounceable) for messages and /jsonstats. */
const char *client_ton_wallet(const struct client_ton *t);

#endif
