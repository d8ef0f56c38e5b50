/* billing: COCOON's per-request token pricing, reservation and usage sanity, in exact integers. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_LEDGER_BILLING_H
#define COCOON_LEDGER_BILLING_H

#include <stdint.h>

#include "base/err.h"

#define BILLING_MULT_ONE 10000u /* multipliers: 10000 = 1.0x */
#define BILLING_COEF_ONE 1000u  /* worker coefficient: 1000 = 1.0x */
/* Hard limits on what billing accepts; anything above is refused with ERR_LIMIT. */
#define BILLING_MAX_TOKENS ((int64_t)1 << 40)      /* per category, per request */
#define BILLING_MAX_REQUEST_BYTES ((int64_t)1 << 40)
/* Prompt tokens may exceed the request's byte count by this much (chat template tokens). */
#define BILLING_PROMPT_SLACK_TOKENS 4096

/* Prices from the root contract; amounts in nano-TON per adjusted token. */
struct billing_prices {
  int64_t price_per_token;      /* paid by the client */
  int64_t worker_fee_per_token; /* paid to the worker, <= price_per_token; proxy keeps the rest */
  uint32_t prompt_mult;         /* prompt tokens that were not cached */
  uint32_t cached_mult;
  uint32_t completion_mult; /* completion tokens that were not reasoning */
  uint32_t reasoning_mult;
};

/* Token usage as the worker reports it (OpenAI usage fields). cached is part of prompt,
 * reasoning is part of completion. */
struct billing_usage {
  int64_t prompt_tokens;
  int64_t cached_tokens;
  int64_t completion_tokens;
  int64_t reasoning_tokens;
};

struct billing_amounts {
  int64_t prompt_adj, cached_adj, completion_adj, reasoning_adj; /* adjusted tokens per category */
  int64_t total_adj;
  int64_t client_charge;    /* total_adj * price_per_token */
  int64_t worker_earning;   /* total_adj * worker_fee_per_token */
  int64_t proxy_commission; /* client_charge - worker_earning */
};

/* Default prices: every multiplier 1.0x, price and fee as given. */
void billing_prices_init(struct billing_prices *p, int64_t price_per_token, int64_t worker_fee_per_token);
/* Refuses negative prices and a worker fee above the price (ERR_INVALID). */
CC_NODISCARD int billing_prices_check(const struct billing_prices *p, struct err *e);

/* floor(tokens * coef/1000 * mult/10000), exactly (128-bit intermediate). tokens >= 0.
 * ERR_INVALID for negative tokens, ERR_LIMIT when the result does not fit int64. */
CC_NODISCARD int billing_adjust(int64_t tokens, uint32_t coef, uint32_t mult, int64_t *out,
                                struct err *e);

/* Adjusted tokens per category and the nano-TON amounts. The usage must pass
 * billing_usage_check(u, 0, 0) (structure only); prices must pass billing_prices_check. */
CC_NODISCARD int billing_compute(const struct billing_prices *p, uint32_t coef,
                                 const struct billing_usage *u, struct billing_amounts *out,
                                 struct err *e);

/* What to reserve before a request runs: (max_tokens + request_bytes) * max_coef/1000 tokens
 * (multipliers ignored, as in COCOON), times price_per_token for nano-TON. Either out may be NULL. */
CC_NODISCARD int billing_reservation(int64_t max_tokens, int64_t request_bytes, uint32_t max_coef,
                                     int64_t price_per_token, int64_t *tokens_out,
                                     int64_t *nanoton_out, struct err *e);

/* The same with every token priced at multiplier `mult` (billing_prices_max_mult): an upper
 * bound of the charge of any usage within (max_tokens, request_bytes). COCOON reserves at 1.0x;
 * with multipliers above 1.0x that reservation could be overrun. */
CC_NODISCARD int billing_reservation_mult(int64_t max_tokens, int64_t request_bytes, uint32_t max_coef,
                                          uint32_t mult, int64_t price_per_token, int64_t *tokens_out,
                                          int64_t *nanoton_out, struct err *e);
/* The highest of the four multipliers and 1.0x. */
uint32_t billing_prices_max_mult(const struct billing_prices *p);

/* Sanity of a worker's usage report: no negative count, cached <= prompt,
 * reasoning <= completion, every count <= BILLING_MAX_TOKENS; with max_tokens > 0,
 * completion <= max_tokens; with request_bytes > 0, prompt <= request_bytes +
 * BILLING_PROMPT_SLACK_TOKENS. Returns ERR_PROTO with the reason in e. */
CC_NODISCARD int billing_usage_check(const struct billing_usage *u, int64_t max_tokens,
                                     int64_t request_bytes, struct err *e);

#endif
