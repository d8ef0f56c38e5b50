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
/* Automatic top-up: every check_ms the contract is read; while it runs and its balance is below
 * the threshold, the wallet sends one top-up (one operation at a time, shared with
 * client_ton_op: a tick finding the wallet busy waits for the next). After a failure (a wallet
 * short of TON says "fund it") the policy waits CLIENT_TON_AUTO_BACKOFF_MS. */
struct client_ton_auto {
  int64_t threshold; /* nano-TON; 0: half the stake */
  int64_t amount;    /* nano-TON per top-up; 0: one stake */
  uint32_t check_ms; /* 0: CLIENT_TON_AUTO_CHECK_MS */
};
#define CLIENT_TON_AUTO_CHECK_MS 10000u
#define CLIENT_TON_AUTO_BACKOFF_MS 60000u
void client_ton_auto_start(struct client_ton *t, const struct client_ton_auto *a);
/* Reads the wallet once and logs its balance, or ton_wallet_low with "fund it" when it cannot pay
 * for one message (and one automatic top-up when that is on). */
void client_ton_check_wallet(struct client_ton *t);

/* The policy's decision, alone (unit-tested): 1 with *amount_out when the contract needs a
 * top-up (running, balance < threshold or, threshold 0, < stake / 2). */
int client_ton_topup_due(const struct client_ton_contract *c, int64_t threshold, int64_t amount, int64_t *amount_out);

struct client_ton_stats {
  int64_t auto_topups, auto_topped_up; /* top-ups landed, nano-TON */
  int64_t auto_failed;
  int64_t wallet_balance; /* last seen; -1 unknown */
  int64_t contract_balance, contract_stake; /* last seen; -1 unknown */
  char last_error[240];
};
void client_ton_get_stats(const struct client_ton *t, struct client_ton_stats *out);

/* Drops an operation in flight without its callback. NULL-safe. */
void client_ton_free(struct client_ton *t);
/* The wallet's address (friendly, non-bounceable) for messages and /jsonstats. */
const char *client_ton_wallet(const struct client_ton *t);

#endif
