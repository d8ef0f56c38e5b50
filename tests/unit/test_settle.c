/* test_settle: the local settlement backend applies the client contract's rules to the ledger:
 * top-up (stake raised to the minimum), withdraw keeps stake and reservations, charge needs a
 * valid higher signed total, close refunds above the stake and the rest only after the delay;
 * completions arrive after the ledger commit and the ledger verifies afterwards. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "ledger/settle.h"
#include "loop/loop.h"
#include "ton/payment.h"

#define CLIENT "0:0303030303030303030303030303030303030303030303030303030303030303"
#define WORKER "0:0404040404040404040404040404040404040404040404040404040404040404"

static const uint8_t seed[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 9, 8, 7, 6, 5, 4, 3,
                                 2, 1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 9, 8, 7, 6, 5};
static int64_t fake_now = 1000000;
static int64_t clock_cb(void) { return fake_now; }

struct fx {
  char dir[64], path[128];
  struct loop *loop;
  struct ledger *l;
  struct settle *s;
  int done;
  struct settle_result last;
};

static void committed(void *arg, const struct ledger_batch *b) {
  struct fx *f = arg;
  for (size_t i = 0; i < b->n; i++)
    if (b->items[i].cookie & SETTLE_COOKIE_TAG) settle_local_committed(f->s, &b->items[i], b);
}

static void done_cb(void *arg, const struct settle_result *r) {
  struct fx *f = arg;
  f->done++;
  f->last = *r;
}

static void wait_done(struct fx *f, int n) {
  for (int i = 0; i < 2000 && f->done < n; i++) assert_int_equal(loop_run_once(f->loop, 50), 0);
  assert_int_equal(f->done, n);
  assert_int_equal(f->last.rc, 0);
}

static void pubkey(uint8_t pub[32]) {
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
  size_t n = 32;
  assert_non_null(k);
  assert_int_equal(EVP_PKEY_get_raw_public_key(k, pub, &n), 1);
  EVP_PKEY_free(k);
}

static void sign_charge(struct buf *b, uint64_t tokens, const uint8_t *key) {
  struct ton_payment p = {.op = TON_OP_CLIENT_CHARGE_SIGNED, .qid = tokens, .tokens = tokens};
  struct err e = {0};
  assert_int_equal(ton_addr_parse(CLIENT, &p.target, NULL, &e), 0);
  buf_reset(b);
  assert_int_equal(ton_payment_sign(&p, NULL, key, b, &e), 0);
}

static void test_local_rules(void **state) {
  struct fx f;
  memset(&f, 0, sizeof(f));
  snprintf(f.dir, sizeof(f.dir), "/tmp/cocoon-settle-test.XXXXXX");
  assert_non_null(mkdtemp(f.dir));
  snprintf(f.path, sizeof(f.path), "%s/ledger.db", f.dir);
  assert_int_equal(loop_new(&f.loop), 0);
  struct err e = {0};
  struct ledger_opts lo = {.committed_cb = committed, .cb_arg = &f};
  assert_int_equal(ledger_open(f.path, seed, f.loop, &lo, &f.l, &e), 0);
  struct settle_local_params sp = {.min_client_stake = 1000, .client_delay_close_ms = 300000};
  pubkey(sp.proxy_pubkey);
  assert_int_equal(settle_local_new(f.l, &sp, &f.s, &e), 0);
  settle_local_set_clock(f.s, clock_cb);
  struct settle_status st;
  assert_int_equal(settle_status(f.s, CLIENT, &st, &e), ERR_NOTFOUND);
  /* Nothing to withdraw or close without an account. */
  assert_int_not_equal(settle_withdraw(f.s, CLIENT, done_cb, &f, &e), 0);

  /* Top-up by default = one stake; the stake becomes the minimum. */
  assert_int_equal(settle_topup(f.s, CLIENT, 0, done_cb, &f, &e), 0);
  assert_int_equal(f.done, 0); /* completion waits for the commit */
  wait_done(&f, 1);
  assert_int_equal(f.last.moved, 1000);
  assert_int_equal(f.last.status.balance, 1000);
  assert_int_equal(f.last.status.stake, 1000);
  assert_int_equal(settle_topup(f.s, CLIENT, 5000, done_cb, &f, &e), 0);
  wait_done(&f, 2);
  assert_int_equal(f.last.status.balance, 6000);
  assert_int_equal(f.last.status.stake, 1000);

  /* A request uses 100 tokens at price 2 = 200; 300 reserved by another running one. */
  struct billing_prices pr;
  billing_prices_init(&pr, 2, 1);
  struct ledger_request rq = {.request_id = "aa01", .client = CLIENT, .worker = WORKER, .model = "m",
                              .usage = {.prompt_tokens = 60, .completion_tokens = 40}, .coefficient = 1000,
                              .prices = pr};
  struct billing_amounts am;
  assert_int_equal(ledger_record_request(f.l, &rq, 0, &am, &e), 0);
  assert_int_equal(ledger_reserve(f.l, CLIENT, 300, &e), 0);
  /* Withdraw leaves the stake and the reservation: 6000 - 200 - 300 - 1000 = 4500. */
  assert_int_equal(settle_withdraw(f.s, CLIENT, done_cb, &f, &e), 0);
  wait_done(&f, 3);
  assert_int_equal(f.last.moved, -4500);
  assert_int_equal(f.last.status.balance, 1300);
  assert_int_not_equal(settle_withdraw(f.s, CLIENT, done_cb, &f, &e), 0);
  assert_non_null(strstr(e.msg, "nothing to withdraw"));
  ledger_release(f.l, CLIENT, 300);

  /* Charge: a valid signed total up to what was used; not twice, not forged, not above usage. */
  struct buf b;
  buf_init(&b, 4096);
  uint8_t other[32];
  memset(other, 0x55, 32);
  sign_charge(&b, 60, other);
  assert_int_not_equal(settle_charge(f.s, CLIENT, buf_ptr(&b), b.len, done_cb, &f, &e), 0);
  sign_charge(&b, 101, seed);
  assert_int_not_equal(settle_charge(f.s, CLIENT, buf_ptr(&b), b.len, done_cb, &f, &e), 0);
  assert_non_null(strstr(e.msg, "exceeds"));
  sign_charge(&b, 60, seed);
  assert_int_equal(settle_charge(f.s, CLIENT, buf_ptr(&b), b.len, done_cb, &f, &e), 0);
  wait_done(&f, 4);
  assert_int_equal(f.last.status.tokens_charged, 60);
  assert_int_equal(f.last.status.balance, 1300); /* already taken per request */
  assert_int_not_equal(settle_charge(f.s, CLIENT, buf_ptr(&b), b.len, done_cb, &f, &e), 0);
  assert_non_null(strstr(e.msg, "1000"));

  /* Close: closing, above-stake refunded (1300 - 1000), unlock after the delay. */
  assert_int_equal(settle_close(f.s, CLIENT, done_cb, &f, &e), 0);
  wait_done(&f, 5);
  assert_int_equal(f.last.moved, -300);
  assert_int_equal(f.last.status.state, SETTLE_CLOSING);
  assert_int_equal(f.last.status.unlock_at_ms, fake_now + 300000);
  assert_int_equal(settle_can_run(f.s, CLIENT), 0);
  assert_int_not_equal(settle_topup(f.s, CLIENT, 10, done_cb, &f, &e), 0);
  assert_int_not_equal(settle_withdraw(f.s, CLIENT, done_cb, &f, &e), 0);
  assert_int_equal(settle_close(f.s, CLIENT, done_cb, &f, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "1011"));
  fake_now += 300000;
  assert_int_equal(settle_close(f.s, CLIENT, done_cb, &f, &e), 0);
  wait_done(&f, 6);
  assert_int_equal(f.last.moved, -1000);
  assert_int_equal(f.last.status.state, SETTLE_CLOSED);
  assert_int_equal(f.last.status.balance, 0);
  assert_int_equal(f.last.status.stake, 0);
  assert_int_not_equal(settle_close(f.s, CLIENT, done_cb, &f, &e), 0);

  /* The state survives a reopen, and the ledger verifies. */
  settle_free(f.s);
  assert_int_equal(ledger_close(f.l, &e), 0);
  assert_int_equal(ledger_open(f.path, seed, f.loop, &lo, &f.l, &e), 0);
  assert_int_equal(settle_local_new(f.l, &sp, &f.s, &e), 0);
  assert_int_equal(settle_status(f.s, CLIENT, &st, &e), 0);
  assert_int_equal(st.state, SETTLE_CLOSED);
  assert_int_equal(st.tokens_charged, 60);
  settle_free(f.s);
  assert_int_equal(ledger_close(f.l, &e), 0);
  struct ledger_verify_stats vs;
  assert_int_equal(ledger_verify_credit(f.path, seed, NULL, NULL, 0, &vs, &e), 0);
  assert_int_equal(vs.violations, 0);

  /* A charge beyond the client's balance (the ledger records it; the proxy never would) is
   * found by the credit check. */
  assert_int_equal(ledger_open(f.path, seed, f.loop, &lo, &f.l, &e), 0);
  struct ledger_request over = rq;
  over.request_id = "aa02";
  f.done = 0;
  assert_int_equal(ledger_record_request(f.l, &over, 0, &am, &e), 0);
  assert_int_equal(ledger_close(f.l, &e), 0);
  assert_int_equal(ledger_verify(f.path, seed, NULL, NULL, 0, &vs, &e), 0);
  assert_int_equal(ledger_verify_credit(f.path, seed, NULL, NULL, 0, &vs, &e), ERR_INVALID);
  assert_non_null(strstr(e.msg, "beyond its credit"));

  buf_free(&b);
  const char *suffix[] = {"", "-wal", "-shm"};
  char p[160];
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof(p), "%s%s", f.path, suffix[i]);
    unlink(p);
  }
  rmdir(f.dir);
  loop_free(f.loop);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_local_rules)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
