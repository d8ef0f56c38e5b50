/* worker_ton: a worker submits its own payouts: the proxy-signed cumulative total it holds goes
 * from the worker's wallet to its worker contract once enough nano-TON is owed. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_WORKER_WORKER_TON_H
#define COCOON_WORKER_WORKER_TON_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct loop;
struct worker_ton;

#define WORKER_TON_CHECK_MS 10000u
#define WORKER_TON_BACKOFF_MS 60000u
#define WORKER_TON_FEE_RESERVE 50000000LL /* nano-TON the wallet keeps for its own fees */
#define WORKER_TON_CONFIRM_LOOKS 10

struct worker_ton_config {
  const char *toncenter_url; /* copied */
  const char *api_key;       /* NULL: none; copied, never logged */
  const char *key_path;      /* the worker wallet's key file (mode 0600) */
  const char *wallet_kind;   /* v4r2 or v5r1 */
  int testnet;
  const char *contract;      /* the worker contract (the worker's owner_address) */
  int64_t threshold;         /* nano-TON owed before a submission; < 0: never */
  int64_t msg_value;         /* nano-TON sent with the payout for gas (the excess comes back) */
  uint32_t check_ms;         /* 0: WORKER_TON_CHECK_MS */
  uint32_t ttl_s;            /* 0: 60 */
};

/* The best signed payout the worker holds (the highest total over its proxies): 0 and the
 * message (borrowed until the next loop iteration), or nonzero when none. */
typedef int (*worker_ton_best_cb)(void *arg, int64_t *tokens, const uint8_t **boc, size_t *len);

CC_NODISCARD int worker_ton_new(struct loop *loop, const struct worker_ton_config *cfg, worker_ton_best_cb best,
                                void *arg, struct worker_ton **out, struct err *e);
void worker_ton_free(struct worker_ton *t); /* NULL-safe */

struct worker_ton_stats {
  int64_t submitted, landed, failed;
  int64_t chain_tokens;   /* the contract's total, last seen; -1 unknown */
  int64_t wallet_balance; /* last seen; -1 unknown */
  char last_error[240];
};
void worker_ton_get_stats(const struct worker_ton *t, struct worker_ton_stats *out);
const char *worker_ton_wallet(const struct worker_ton *t);

/* The decision, alone (unit-tested): (held - chain) x fee >= threshold, threshold >= 0. */
int worker_ton_payout_due(int64_t held, int64_t chain, int64_t fee, int64_t threshold);

#endif
