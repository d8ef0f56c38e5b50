/* ton_backend: the `ton` settlement backend: the proxy's wallet submits the proxy-signed
 * cumulative totals (clients' charges, workers' payouts) to their contracts on TON, from the
 * event loop, and the ledger records what the contracts hold. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_SETTLE_TON_BACKEND_H
#define COCOON_SETTLE_TON_BACKEND_H

#include <stdint.h>

#include "base/err.h"
#include "ledger/ledger.h"
#include "ledger/settle.h"
#include "ton/wallet.h"

struct loop;

/* Ledger payment marks the backend keeps: the token totals the contracts hold (read back from
 * their get-methods after a submission, or at the first look). */
#define SETTLE_TON_MARK_CHARGED "client_charge_chain"
#define SETTLE_TON_MARK_PAID "worker_payout_chain"
/* What the backend learns of a client contract (read by its get-method): its state (0 running,
 * 1 closing, 2 closed; states only go up) and the unlock time of a closing contract (unix s). */
#define SETTLE_TON_MARK_STATE "client_state_chain"
#define SETTLE_TON_MARK_UNLOCK "client_unlock_chain"

#define SETTLE_TON_DEFAULT_MSG_VALUE 500000000LL   /* 0.5 TON carried with each signed message */
#define SETTLE_TON_DEFAULT_MIN_WALLET 1000000000LL /* 1 TON */
#define SETTLE_TON_DEFAULT_SCAN_MS 2000u
#define SETTLE_TON_MAX_CONFIRM_LOOKS 10 /* get-method looks after the wallet's transaction */
#define SETTLE_TON_MAX_QUEUE 4096       /* submissions waiting for the wallet */
#define SETTLE_TON_VALID_S 60           /* a wallet message's validity */
#define SETTLE_TON_DEFAULT_CLIENT_POLL_MS 10000u
#define SETTLE_TON_MAX_WATCH 4096       /* clients seen at a handshake, watched before they have an account */

struct settle_ton_params {
  const char *toncenter_url; /* e.g. http://127.0.0.1:8081/api/v2 (copied) */
  const char *toncenter_api_key; /* NULL: none (copied, never logged) */
  uint8_t wallet_seed[32];   /* the proxy's wallet key (copied, wiped on free) */
  enum ton_wallet_kind wallet_kind;
  int testnet;
  uint8_t proxy_seed[32];    /* the proxy's signing key, to sign the totals it submits (copied, wiped) */
  int64_t price_per_token;      /* nano-TON per adjusted token charged to clients (contract params) */
  int64_t worker_fee_per_token; /* nano-TON per adjusted token paid to workers */
  int64_t charge_threshold;  /* nano-TON: submit a client's charge once this much is signed but not on chain; < 0: never automatically */
  int64_t payout_threshold;  /* nano-TON: the same for a worker's payout */
  int64_t msg_value;         /* 0: SETTLE_TON_DEFAULT_MSG_VALUE */
  int64_t min_wallet;        /* refuse to send below this wallet balance (plus msg_value); 0: default */
  uint32_t scan_ms;          /* policy period; 0: SETTLE_TON_DEFAULT_SCAN_MS */
  uint32_t poll_ms;          /* toncenter polls; 0: 500 */
  /* Client deposits from the chain: the proxy contract's address (raw or friendly). Its data gives
   * the client code and params, from which a genuine client contract's address is derived. NULL
   * or "": the backend reads no deposits (clients need another source of credit). */
  const char *proxy_contract;
  uint32_t client_poll_ms;   /* how often every client contract is read; 0: default */
};

/* The loop and the ledger are borrowed and must outlive the backend. Nothing goes to the network
 * until the first scan (one scan_ms after creation). */
CC_NODISCARD int settle_ton_new(struct loop *loop, struct ledger *l, const struct settle_ton_params *p,
                                struct settle **out, struct err *e);

/* Counters for /stats and tests. */
struct settle_ton_stats {
  int64_t submitted, landed, failed, queued;
  int64_t wallet_balance; /* last seen; -1 unknown */
  char last_error[200];
  /* Client contracts read from the chain. */
  int64_t contract_reads, deposits, deposited, refunds, refunded; /* counts and nano-TON */
  int64_t clients_closing, clients_closed, contracts_refused;
  char last_contract_error[200];
};
void settle_ton_get_stats(struct settle *s, struct settle_ton_stats *out);

/* A client finished its handshake: read its contract now (and watch it from then on, at most
 * SETTLE_TON_MAX_WATCH clients without an account). No-op when s is not the ton backend or it
 * reads no deposits. */
void settle_ton_client_seen(struct settle *s, const char *client);

/* The ledger change that makes a client account match its contract, alone (unit-tested). The
 * contract's net deposit is balance + tokens_used x price (a charge moves nano-TON from balance
 * to tokens, the sum stays); the ledger's is balance + charged. *dbal is what to credit (> 0, a
 * top-up) or take back (< 0, a withdrawal or refund), *dstake the stake change. a NULL: no
 * account yet. ERR_LIMIT on overflow. */
CC_NODISCARD int settle_ton_deposit_delta(const struct ledger_account *a, int64_t chain_balance, int64_t chain_stake,
                                          int64_t chain_tokens, int64_t price_per_token, int64_t *dbal,
                                          int64_t *dstake);

/* The policy's decision, alone (unit-tested): nano-TON worth of tokens signed but not on chain,
 * and whether it reaches the threshold. */
int settle_ton_due(int64_t signed_tokens, int64_t chain_tokens, int64_t per_token, int64_t threshold,
                   int64_t *owed_out);

#endif
