/* billing: COCOON's per-request token pricing, reservation and usage sanity, in exact integers. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ledger/billing.h"

#include <stddef.h>

/* COCOON computes (int64)((double)n * (coef * 0.001) * mult * 0.0001) (runners/helpers/Ton.h
 * adjust_tokens). Doubles round 0.001 and 0.0001, so for some inputs (e.g. n=3600, coef=1234,
 * mult=12500, exactly 5553) it yields one token less, and above 2^53 it loses precision. We
 * compute the exact floor in 128-bit integers so every node and `ledger verify` agree. */
__extension__ typedef unsigned __int128 billing_u128;

void billing_prices_init(struct billing_prices *p, int64_t price_per_token, int64_t worker_fee_per_token) {
  p->price_per_token = price_per_token;
  p->worker_fee_per_token = worker_fee_per_token;
  p->prompt_mult = BILLING_MULT_ONE;
  p->cached_mult = BILLING_MULT_ONE;
  p->completion_mult = BILLING_MULT_ONE;
  p->reasoning_mult = BILLING_MULT_ONE;
}

int billing_prices_check(const struct billing_prices *p, struct err *e) {
  if (p->price_per_token < 0 || p->worker_fee_per_token < 0)
    return err_set(e, ERR_INVALID, "negative price (price_per_token=%lld worker_fee_per_token=%lld)",
                   (long long)p->price_per_token, (long long)p->worker_fee_per_token);
  if (p->worker_fee_per_token > p->price_per_token)
    return err_set(e, ERR_INVALID, "worker fee %lld exceeds price %lld per token",
                   (long long)p->worker_fee_per_token, (long long)p->price_per_token);
  return 0;
}

int billing_adjust(int64_t tokens, uint32_t coef, uint32_t mult, int64_t *out, struct err *e) {
  if (tokens < 0) return err_set(e, ERR_INVALID, "negative token count %lld", (long long)tokens);
  /* < 2^63 * 2^32 * 2^32 = 2^127: cannot overflow 128 bits. */
  billing_u128 v = (billing_u128)(uint64_t)tokens * coef * mult / 10000000u;
  if (v > (billing_u128)INT64_MAX)
    return err_set(e, ERR_LIMIT, "adjusted tokens overflow (%lld tokens, coefficient %u, multiplier %u)",
                   (long long)tokens, coef, mult);
  *out = (int64_t)v;
  return 0;
}

int billing_compute(const struct billing_prices *p, uint32_t coef, const struct billing_usage *u,
                    struct billing_amounts *out, struct err *e) {
  int rc;
  struct billing_amounts a = {0};
  if ((rc = billing_prices_check(p, e)) != 0) return rc;
  if (u->prompt_tokens < 0 || u->cached_tokens < 0 || u->completion_tokens < 0 || u->reasoning_tokens < 0)
    return err_set(e, ERR_INVALID, "negative token count in usage");
  if (u->cached_tokens > u->prompt_tokens)
    return err_set(e, ERR_INVALID, "cached tokens %lld exceed prompt tokens %lld",
                   (long long)u->cached_tokens, (long long)u->prompt_tokens);
  if (u->reasoning_tokens > u->completion_tokens)
    return err_set(e, ERR_INVALID, "reasoning tokens %lld exceed completion tokens %lld",
                   (long long)u->reasoning_tokens, (long long)u->completion_tokens);
  if ((rc = billing_adjust(u->prompt_tokens - u->cached_tokens, coef, p->prompt_mult, &a.prompt_adj, e)) ||
      (rc = billing_adjust(u->cached_tokens, coef, p->cached_mult, &a.cached_adj, e)) ||
      (rc = billing_adjust(u->completion_tokens - u->reasoning_tokens, coef, p->completion_mult,
                           &a.completion_adj, e)) ||
      (rc = billing_adjust(u->reasoning_tokens, coef, p->reasoning_mult, &a.reasoning_adj, e)))
    return rc;
  if (__builtin_add_overflow(a.prompt_adj, a.cached_adj, &a.total_adj) ||
      __builtin_add_overflow(a.total_adj, a.completion_adj, &a.total_adj) ||
      __builtin_add_overflow(a.total_adj, a.reasoning_adj, &a.total_adj))
    return err_set(e, ERR_LIMIT, "total adjusted tokens overflow");
  if (__builtin_mul_overflow(a.total_adj, p->price_per_token, &a.client_charge))
    return err_set(e, ERR_LIMIT, "client charge overflows (%lld adjusted tokens x %lld nano-TON)",
                   (long long)a.total_adj, (long long)p->price_per_token);
  /* fee <= price, so this cannot overflow once the charge did not; checked anyway. */
  if (__builtin_mul_overflow(a.total_adj, p->worker_fee_per_token, &a.worker_earning))
    return err_set(e, ERR_LIMIT, "worker earning overflows");
  if (__builtin_sub_overflow(a.client_charge, a.worker_earning, &a.proxy_commission))
    return err_set(e, ERR_LIMIT, "proxy commission overflows");
  *out = a;
  return 0;
}

int billing_reservation(int64_t max_tokens, int64_t request_bytes, uint32_t max_coef,
                        int64_t price_per_token, int64_t *tokens_out, int64_t *nanoton_out,
                        struct err *e) {
  return billing_reservation_mult(max_tokens, request_bytes, max_coef, BILLING_MULT_ONE, price_per_token,
                                  tokens_out, nanoton_out, e);
}

uint32_t billing_prices_max_mult(const struct billing_prices *p) {
  uint32_t m = BILLING_MULT_ONE;
  const uint32_t v[4] = {p->prompt_mult, p->cached_mult, p->completion_mult, p->reasoning_mult};
  for (int i = 0; i < 4; i++)
    if (v[i] > m) m = v[i];
  return m;
}

int billing_reservation_mult(int64_t max_tokens, int64_t request_bytes, uint32_t max_coef, uint32_t mult,
                             int64_t price_per_token, int64_t *tokens_out, int64_t *nanoton_out, struct err *e) {
  int64_t n, tokens = 0, amount;
  int rc;
  if (max_tokens < 0 || request_bytes < 0 || price_per_token < 0)
    return err_set(e, ERR_INVALID, "negative reservation input");
  if (__builtin_add_overflow(max_tokens, request_bytes, &n))
    return err_set(e, ERR_LIMIT, "reservation overflows (max_tokens %lld + %lld request bytes)",
                   (long long)max_tokens, (long long)request_bytes);
  if ((rc = billing_adjust(n, max_coef, mult, &tokens, e)) != 0) return rc;
  if (__builtin_mul_overflow(tokens, price_per_token, &amount))
    return err_set(e, ERR_LIMIT, "reservation overflows (%lld tokens x %lld nano-TON)",
                   (long long)tokens, (long long)price_per_token);
  if (tokens_out) *tokens_out = tokens;
  if (nanoton_out) *nanoton_out = amount;
  return 0;
}

int billing_usage_check(const struct billing_usage *u, int64_t max_tokens, int64_t request_bytes,
                        struct err *e) {
  static const char *const names[4] = {"prompt", "cached", "completion", "reasoning"};
  const int64_t v[4] = {u->prompt_tokens, u->cached_tokens, u->completion_tokens, u->reasoning_tokens};
  for (size_t i = 0; i < 4; i++) {
    if (v[i] < 0)
      return err_set(e, ERR_PROTO, "usage: negative %s token count %lld", names[i], (long long)v[i]);
    if (v[i] > BILLING_MAX_TOKENS)
      return err_set(e, ERR_PROTO, "usage: %s token count %lld above the limit %lld", names[i],
                     (long long)v[i], (long long)BILLING_MAX_TOKENS);
  }
  if (u->cached_tokens > u->prompt_tokens)
    return err_set(e, ERR_PROTO, "usage: cached tokens %lld exceed prompt tokens %lld",
                   (long long)u->cached_tokens, (long long)u->prompt_tokens);
  if (u->reasoning_tokens > u->completion_tokens)
    return err_set(e, ERR_PROTO, "usage: reasoning tokens %lld exceed completion tokens %lld",
                   (long long)u->reasoning_tokens, (long long)u->completion_tokens);
  if (max_tokens > 0 && u->completion_tokens > max_tokens)
    return err_set(e, ERR_PROTO, "usage: completion tokens %lld exceed max_tokens %lld",
                   (long long)u->completion_tokens, (long long)max_tokens);
  if (request_bytes > 0 && request_bytes <= BILLING_MAX_REQUEST_BYTES &&
      u->prompt_tokens > request_bytes + BILLING_PROMPT_SLACK_TOKENS)
    return err_set(e, ERR_PROTO, "usage: %lld prompt tokens for a request of %lld bytes",
                   (long long)u->prompt_tokens, (long long)request_bytes);
  return 0;
}
