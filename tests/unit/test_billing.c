/* test_billing: COCOON's billing formula against hand-computed cases, reservation, usage sanity. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ledger/billing.h"

static struct billing_amounts compute_ok(const struct billing_prices *p, uint32_t coef, int64_t prompt,
                                         int64_t cached, int64_t completion, int64_t reasoning) {
  struct billing_usage u = {prompt, cached, completion, reasoning};
  struct billing_amounts a;
  struct err e;
  int rc = billing_compute(p, coef, &u, &a, &e);
  if (rc) fail_msg("billing_compute: %s", e.msg);
  assert_int_equal(a.client_charge, a.worker_earning + a.proxy_commission);
  assert_int_equal(a.total_adj, a.prompt_adj + a.cached_adj + a.completion_adj + a.reasoning_adj);
  return a;
}

static void test_zero(void **state) {
  struct billing_prices p;
  billing_prices_init(&p, 20, 19);
  struct billing_amounts a = compute_ok(&p, 1000, 0, 0, 0, 0);
  assert_int_equal(a.total_adj, 0);
  assert_int_equal(a.client_charge, 0);
  assert_int_equal(a.worker_earning, 0);
  assert_int_equal(a.proxy_commission, 0);
  /* Zero prices, zero coefficient, zero multipliers: nothing charged. */
  billing_prices_init(&p, 0, 0);
  a = compute_ok(&p, 1000, 100, 0, 100, 0);
  assert_int_equal(a.total_adj, 200);
  assert_int_equal(a.client_charge, 0);
  billing_prices_init(&p, 20, 19);
  a = compute_ok(&p, 0, 100, 10, 100, 10);
  assert_int_equal(a.total_adj, 0);
  p.prompt_mult = p.cached_mult = p.completion_mult = p.reasoning_mult = 0;
  a = compute_ok(&p, 1000, 100, 10, 100, 10);
  assert_int_equal(a.total_adj, 0);
}

static void test_mainnet_prices(void **state) {
  /* Mainnet (inventory 5.1): price 20, worker fee 19, multipliers 1.0x, coefficient 1.0x. */
  struct billing_prices p;
  billing_prices_init(&p, 20, 19);
  struct billing_amounts a = compute_ok(&p, 1000, 100, 0, 50, 0);
  assert_int_equal(a.prompt_adj, 100);
  assert_int_equal(a.completion_adj, 50);
  assert_int_equal(a.total_adj, 150);
  assert_int_equal(a.client_charge, 3000);
  assert_int_equal(a.worker_earning, 2850);
  assert_int_equal(a.proxy_commission, 150);
}

static void test_each_multiplier(void **state) {
  struct billing_prices p;
  struct billing_amounts a;
  /* prompt (non-cached part only): 7 tokens x 1.5 = 10.5 -> 10 */
  billing_prices_init(&p, 1, 1);
  p.prompt_mult = 15000;
  a = compute_ok(&p, 1000, 9, 2, 0, 0);
  assert_int_equal(a.prompt_adj, 10);
  assert_int_equal(a.cached_adj, 2);
  assert_int_equal(a.total_adj, 12);
  /* cached: 40 of 100 prompt tokens at 0.5x -> 60 + 20 */
  billing_prices_init(&p, 1, 1);
  p.cached_mult = 5000;
  a = compute_ok(&p, 1000, 100, 40, 0, 0);
  assert_int_equal(a.prompt_adj, 60);
  assert_int_equal(a.cached_adj, 20);
  /* cached at 0.1x: 9 tokens -> 0.9 -> 0 */
  p.cached_mult = 1000;
  a = compute_ok(&p, 1000, 9, 9, 0, 0);
  assert_int_equal(a.prompt_adj, 0);
  assert_int_equal(a.cached_adj, 0);
  /* completion (non-reasoning part): 30 x 3.3333 = 99.999 -> 99 */
  billing_prices_init(&p, 1, 1);
  p.completion_mult = 33333;
  a = compute_ok(&p, 1000, 0, 0, 50, 20);
  assert_int_equal(a.completion_adj, 99);
  assert_int_equal(a.reasoning_adj, 20);
  /* reasoning at 2.0x: 20 -> 40 */
  billing_prices_init(&p, 1, 1);
  p.reasoning_mult = 20000;
  a = compute_ok(&p, 1000, 0, 0, 50, 20);
  assert_int_equal(a.completion_adj, 30);
  assert_int_equal(a.reasoning_adj, 40);
  assert_int_equal(a.total_adj, 70);
}

static void test_coefficient(void **state) {
  struct billing_prices p;
  struct billing_amounts a;
  billing_prices_init(&p, 3, 2);
  a = compute_ok(&p, 1500, 3, 0, 0, 0); /* 4.5 -> 4 */
  assert_int_equal(a.total_adj, 4);
  assert_int_equal(a.client_charge, 12);
  assert_int_equal(a.worker_earning, 8);
  assert_int_equal(a.proxy_commission, 4);
  a = compute_ok(&p, 999, 1000, 0, 0, 0);
  assert_int_equal(a.total_adj, 999);
  a = compute_ok(&p, 1, 999, 0, 0, 0); /* 0.999 -> 0 */
  assert_int_equal(a.total_adj, 0);
  a = compute_ok(&p, 2000, 0, 0, 21, 0);
  assert_int_equal(a.total_adj, 42);
  /* Coefficient and multiplier together: 5 x 1.2 x 1.5 = 9 exactly. */
  p.completion_mult = 15000;
  a = compute_ok(&p, 1200, 0, 0, 5, 0);
  assert_int_equal(a.total_adj, 9);
}

static void test_rounding(void **state) {
  struct billing_prices p;
  billing_prices_init(&p, 1, 1);
  /* Each category is floored on its own: 1.5 + 1.5 -> 1 + 1, not floor(3). */
  struct billing_amounts a = compute_ok(&p, 1500, 1, 0, 1, 0);
  assert_int_equal(a.total_adj, 2);
  /* Where COCOON's double arithmetic gives 5552, the exact value is 3600*1234*12500/1e7 = 5553. */
  int64_t v;
  struct err e;
  assert_int_equal(billing_adjust(3600, 1234, 12500, &v, &e), 0);
  assert_int_equal(v, 5553);
  assert_int_equal(billing_adjust(18400, 999, 12500, &v, &e), 0);
  assert_int_equal(v, 22977);
  /* Just below an integer: 9999999 / 1e7 -> 0. */
  assert_int_equal(billing_adjust(1, 999, 10009, &v, &e), 0);
  assert_int_equal(v, 0);
  assert_int_equal(billing_adjust(1, 1000, 10000, &v, &e), 0);
  assert_int_equal(v, 1);
}

static void test_maximal_and_overflow(void **state) {
  int64_t v;
  struct err e;
  struct billing_prices p;
  struct billing_usage u;
  struct billing_amounts a;
  assert_int_equal(billing_adjust(INT64_MAX, 1000, 10000, &v, &e), 0);
  assert_int_equal(v, INT64_MAX);
  assert_int_equal(billing_adjust(INT64_MAX, 1001, 10000, &v, &e), ERR_LIMIT);
  assert_int_equal(billing_adjust(INT64_MAX, UINT32_MAX, UINT32_MAX, &v, &e), ERR_LIMIT);
  assert_int_equal(billing_adjust(INT64_MAX, 0, UINT32_MAX, &v, &e), 0);
  assert_int_equal(v, 0);
  /* Largest multipliers with a small count: 1 * (2^32-1)^2 / 1e7 = 1844674406511 (exact floor). */
  assert_int_equal(billing_adjust(1, UINT32_MAX, UINT32_MAX, &v, &e), 0);
  assert_int_equal(v, 1844674406511LL);
  assert_int_equal(billing_adjust(-1, 1000, 10000, &v, &e), ERR_INVALID);

  /* Category sum overflow. */
  billing_prices_init(&p, 0, 0);
  u = (struct billing_usage){INT64_MAX, 0, INT64_MAX, 0};
  assert_int_equal(billing_compute(&p, 1000, &u, &a, &e), ERR_LIMIT);
  /* Charge overflow: 2^62 adjusted tokens x 2 nano-TON. */
  billing_prices_init(&p, 2, 1);
  u = (struct billing_usage){(int64_t)1 << 62, 0, 0, 0};
  assert_int_equal(billing_compute(&p, 1000, &u, &a, &e), ERR_LIMIT);
  /* The largest charge that fits: INT64_MAX tokens x 1. */
  billing_prices_init(&p, 1, 1);
  u = (struct billing_usage){INT64_MAX, 0, 0, 0};
  assert_int_equal(billing_compute(&p, 1000, &u, &a, &e), 0);
  assert_int_equal(a.client_charge, INT64_MAX);
  assert_int_equal(a.proxy_commission, 0);
  /* Large but fitting: 10^9 tokens x 10^9 nano-TON = 10^18. */
  billing_prices_init(&p, 1000000000, 999999999);
  u = (struct billing_usage){1000000000, 0, 0, 0};
  assert_int_equal(billing_compute(&p, 1000, &u, &a, &e), 0);
  assert_int_equal(a.client_charge, 1000000000000000000LL);
  assert_int_equal(a.proxy_commission, 1000000000LL);
}

static void test_bad_input(void **state) {
  struct billing_prices p;
  struct billing_usage u = {10, 0, 10, 0};
  struct billing_amounts a;
  struct err e;
  billing_prices_init(&p, 19, 20);
  assert_int_equal(billing_compute(&p, 1000, &u, &a, &e), ERR_INVALID);
  billing_prices_init(&p, -1, 0);
  assert_int_equal(billing_prices_check(&p, &e), ERR_INVALID);
  billing_prices_init(&p, 20, 19);
  u = (struct billing_usage){10, 11, 0, 0};
  assert_int_equal(billing_compute(&p, 1000, &u, &a, &e), ERR_INVALID);
  u = (struct billing_usage){10, 0, 5, 6};
  assert_int_equal(billing_compute(&p, 1000, &u, &a, &e), ERR_INVALID);
  u = (struct billing_usage){-1, 0, 5, 0};
  assert_int_equal(billing_compute(&p, 1000, &u, &a, &e), ERR_INVALID);
}

static void test_reservation(void **state) {
  int64_t tokens, nano;
  struct err e;
  assert_int_equal(billing_reservation(1000, 200, 1500, 20, &tokens, &nano, &e), 0);
  assert_int_equal(tokens, 1800);
  assert_int_equal(nano, 36000);
  assert_int_equal(billing_reservation(7, 0, 1500, 1, &tokens, &nano, &e), 0); /* 10.5 -> 10 */
  assert_int_equal(tokens, 10);
  assert_int_equal(billing_reservation(0, 0, 1000, 20, &tokens, NULL, &e), 0);
  assert_int_equal(tokens, 0);
  assert_int_equal(billing_reservation(INT64_MAX, 1, 1000, 1, &tokens, &nano, &e), ERR_LIMIT);
  assert_int_equal(billing_reservation(INT64_MAX / 2, 0, 1000, 3, &tokens, &nano, &e), ERR_LIMIT);
  assert_int_equal(billing_reservation(INT64_MAX / 2, 0, 3000, 1, &tokens, &nano, &e), ERR_LIMIT);
  assert_int_equal(billing_reservation(-1, 0, 1000, 1, &tokens, &nano, &e), ERR_INVALID);
}

static void test_usage_check(void **state) {
  struct err e;
  struct billing_usage u = {100, 20, 50, 10};
  assert_int_equal(billing_usage_check(&u, 50, 100, &e), 0);
  assert_int_equal(billing_usage_check(&u, 49, 100, &e), ERR_PROTO);
  assert_non_null(strstr(e.msg, "max_tokens"));
  assert_int_equal(billing_usage_check(&u, 0, 0, &e), 0);
  u.prompt_tokens = 100 + 1 + BILLING_PROMPT_SLACK_TOKENS;
  assert_int_equal(billing_usage_check(&u, 0, 100, &e), ERR_PROTO);
  u.prompt_tokens = 100 + BILLING_PROMPT_SLACK_TOKENS;
  assert_int_equal(billing_usage_check(&u, 0, 100, &e), 0);
  u = (struct billing_usage){10, 11, 0, 0};
  assert_int_equal(billing_usage_check(&u, 0, 0, &e), ERR_PROTO);
  u = (struct billing_usage){10, 0, 1, 2};
  assert_int_equal(billing_usage_check(&u, 0, 0, &e), ERR_PROTO);
  u = (struct billing_usage){0, 0, -1, 0};
  assert_int_equal(billing_usage_check(&u, 0, 0, &e), ERR_PROTO);
  assert_non_null(strstr(e.msg, "negative completion"));
  u = (struct billing_usage){BILLING_MAX_TOKENS + 1, 0, 0, 0};
  assert_int_equal(billing_usage_check(&u, 0, 0, &e), ERR_PROTO);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_zero),          cmocka_unit_test(test_mainnet_prices),
      cmocka_unit_test(test_each_multiplier), cmocka_unit_test(test_coefficient),
      cmocka_unit_test(test_rounding),      cmocka_unit_test(test_maximal_and_overflow),
      cmocka_unit_test(test_bad_input),     cmocka_unit_test(test_reservation),
      cmocka_unit_test(test_usage_check),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
