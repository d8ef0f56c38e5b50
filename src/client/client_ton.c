/* client_ton: the client's wallet sends top-up, withdraw and request_refund to its client
 * contract (through chain/wallet_send), then reads the contract; and the automatic top-up. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "client/client_ton.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "chain/toncenter.h"
#include "chain/wallet_send.h"
#include "http/http_client.h"
#include "loop/loop.h"
#include "ton/cocoon_msg.h"
#include "ton/wallet.h"

struct client_ton {
  struct loop *loop;
  struct http_client *hc;
  struct toncenter *tc;
  struct chain_wallet_send *ws;
  struct ton_addr contract;
  int64_t msg_value;
  uint32_t ttl_s;
  /* the operation in flight */
  int busy;
  enum client_ton_op op;
  int64_t amount;
  client_ton_done_cb cb;
  void *arg;
  /* automatic top-up */
  struct client_ton_auto au;
  int auto_on;
  struct loop_timer auto_timer;
  int64_t auto_amount; /* the top-up in flight */
  int auto_reading;
  struct client_ton_stats st;
};

void client_ton_get_stats(const struct client_ton *t, struct client_ton_stats *out) {
  *out = t->st;
  out->wallet_balance = chain_wallet_send_balance(t->ws);
}

int client_ton_topup_due(const struct client_ton_contract *c, int64_t threshold, int64_t amount, int64_t *amount_out) {
  int64_t thr = threshold > 0 ? threshold : c->stake / 2;
  int64_t amt = amount > 0 ? amount : c->stake;
  if (amount_out) *amount_out = amt;
  return c->state == 0 && amt > 0 && c->balance < thr;
}

const char *client_ton_wallet(const struct client_ton *t) { return chain_wallet_send_address(t->ws); }

static void finish(struct client_ton *t, int rc, const char *error, const struct client_ton_contract *c) {
  t->busy = 0;
  if (rc) {
    log_warn("client_ton_failed", "op=%d error=\"%s\"", (int)t->op, error ? error : "");
    snprintf(t->st.last_error, sizeof(t->st.last_error), "%.239s", error ? error : "failed");
  }
  if (c) {
    t->st.contract_balance = c->balance;
    t->st.contract_stake = c->stake;
  }
  t->cb(t->arg, rc, error, c);
}

static int parse_contract(const struct chain_tvm_stack *s, struct client_ton_contract *c, struct err *e) {
  int64_t st = 0;
  memset(c, 0, sizeof(*c));
  if (chain_tvm_get_i64(s, 3, &st, e) || chain_tvm_get_i64(s, 4, &c->balance, e) ||
      chain_tvm_get_i64(s, 5, &c->stake, e) || chain_tvm_get_i64(s, 6, &c->tokens_used, e) ||
      chain_tvm_get_i64(s, 7, &c->unlock_ts, e))
    return ERR_PROTO;
  c->state = (int)st;
  return 0;
}

static void contract_cb(int rc, const char *errmsg, const struct chain_tvm_stack *s, void *arg) {
  struct client_ton *t = arg;
  struct err e = {0};
  struct client_ton_contract c;
  if (rc) {
    finish(t, rc, errmsg, NULL);
    return;
  }
  if (parse_contract(s, &c, &e)) {
    finish(t, ERR_PROTO, e.msg, NULL);
    return;
  }
  finish(t, 0, NULL, &c);
}

static void read_contract(struct client_ton *t) {
  struct err e = {0};
  if (toncenter_run_get_method(t->tc, &t->contract, "get_cocoon_client_data", NULL, contract_cb, t, &e))
    finish(t, ERR_IO, e.msg, NULL);
}

static void sent_cb(void *arg, int rc, const char *error) {
  struct client_ton *t = arg;
  if (rc) {
    finish(t, rc, error, NULL);
    return;
  }
  read_contract(t);
}

/* The operation's message, from the wallet (chain/wallet_send: balance checked with "fund it",
 * seqno, deployment, resending). */
static int send_op(struct client_ton *t, struct err *e) {
  struct ton_cell *body = NULL;
  uint32_t op = t->op == CLIENT_TON_TOPUP      ? TON_OP_CLIENT_TOP_UP
                : t->op == CLIENT_TON_WITHDRAW ? TON_OP_CLIENT_WITHDRAW
                                               : TON_OP_CLIENT_REQUEST_REFUND;
  struct ton_cocoon_msg m = {.op = op, .qid = util_random_u64(), .coins = (uint64_t)t->amount, .has_excess = 1,
                             .excess = *chain_wallet_send_addr(t->ws)};
  int64_t value = t->op == CLIENT_TON_TOPUP ? t->amount + t->msg_value : t->msg_value;
  int rc = ton_cocoon_msg_cell(&m, &body, e);
  if (!rc) rc = chain_wallet_send_msg(t->ws, &t->contract, (uint64_t)value, body, sent_cb, t, e);
  if (!rc) log_info("client_ton_send", "op=%d value=%" PRId64, (int)t->op, value);
  ton_cell_unref(body);
  return rc;
}

int client_ton_op(struct client_ton *t, enum client_ton_op op, int64_t amount, client_ton_done_cb cb, void *arg,
                  struct err *e) {
  if (t->busy) return err_set(e, ERR_AGAIN, "another wallet operation is in flight");
  if (op == CLIENT_TON_TOPUP && amount <= 0) return err_set(e, ERR_INVALID, "a top-up needs amount= (nano-TON)");
  t->busy = 1;
  t->op = op;
  t->amount = amount;
  t->cb = cb;
  t->arg = arg;
  int rc = op == CLIENT_TON_STATUS
               ? toncenter_run_get_method(t->tc, &t->contract, "get_cocoon_client_data", NULL, contract_cb, t, e)
               : send_op(t, e);
  if (rc) t->busy = 0;
  return rc;
}

int client_ton_new(struct loop *loop, const struct client_ton_config *cfg, struct client_ton **out, struct err *e) {
  struct client_ton *t = calloc(1, sizeof(*t));
  if (!t) return err_set(e, ERR_NOMEM, "out of memory");
  t->loop = loop;
  t->msg_value = cfg->msg_value > 0 ? cfg->msg_value : 300000000;
  t->ttl_s = cfg->ttl_s ? cfg->ttl_s : 60;
  t->st.wallet_balance = t->st.contract_balance = t->st.contract_stake = -1;
  enum ton_wallet_kind k;
  int rc;
  if (ton_wallet_kind_parse(cfg->wallet_kind, &k)) {
    rc = err_set(e, ERR_INVALID, "ton_wallet must be v4r2 or v5r1");
    goto fail;
  }
  if (ton_addr_parse(cfg->contract, &t->contract, NULL, e)) {
    rc = err_set(e, ERR_INVALID, "owner_address must be the client contract's TON address for ton settlement");
    goto fail;
  }
  struct chain_wallet_open_config wc = {.toncenter_url = cfg->toncenter_url, .api_key = cfg->api_key,
                                        .key_path = cfg->key_path, .kind = k, .testnet = cfg->testnet,
                                        .ttl_s = t->ttl_s, .fee_reserve = CLIENT_TON_FEE_RESERVE, .who = "client"};
  if ((rc = chain_wallet_send_open(loop, &wc, &t->hc, &t->tc, &t->ws, e))) goto fail;
  *out = t;
  return 0;
fail:
  client_ton_free(t);
  return rc;
}

/* ---- automatic top-up */

static void auto_topup_cb(void *arg, int rc, const char *error, const struct client_ton_contract *c) {
  struct client_ton *t = arg;
  if (rc) {
    t->st.auto_failed++;
    log_warn("client_auto_topup_failed", "amount=%" PRId64 " error=\"%s\" retry_in_ms=%u", t->auto_amount,
             error ? error : "", CLIENT_TON_AUTO_BACKOFF_MS);
    loop_timer_start(t->loop, &t->auto_timer, CLIENT_TON_AUTO_BACKOFF_MS);
    return;
  }
  t->st.auto_topups++;
  t->st.auto_topped_up += t->auto_amount;
  log_info("client_auto_topup_done", "amount=%" PRId64 " balance=%" PRId64 " stake=%" PRId64, t->auto_amount,
           c ? c->balance : -1, c ? c->stake : -1);
}

/* The contract, read beside any operation (a read takes no turn of the wallet). */
static void auto_read_cb(int rc, const char *errmsg, const struct chain_tvm_stack *stk, void *arg) {
  struct client_ton *t = arg;
  struct err e = {0};
  struct client_ton_contract c;
  int64_t amount = 0;
  t->auto_reading = 0;
  if (rc || parse_contract(stk, &c, &e)) {
    log_debug("client_auto_topup_unread", "error=\"%s\"", rc ? (errmsg ? errmsg : "") : e.msg);
    return;
  }
  t->st.contract_balance = c.balance;
  t->st.contract_stake = c.stake;
  if (t->busy || !client_ton_topup_due(&c, t->au.threshold, t->au.amount, &amount)) return;
  int64_t thr = t->au.threshold > 0 ? t->au.threshold : c.stake / 2;
  t->auto_amount = amount;
  log_info("client_auto_topup", "balance=%" PRId64 " stake=%" PRId64 " threshold=%" PRId64 " amount=%" PRId64
           " msg=\"the client contract's balance is below the threshold: topping up from the wallet\"",
           c.balance, c.stake, thr, amount);
  if (client_ton_op(t, CLIENT_TON_TOPUP, amount, auto_topup_cb, t, &e)) {
    t->st.auto_failed++;
    log_warn("client_auto_topup_failed", "amount=%" PRId64 " error=\"%s\"", amount, e.msg);
  }
}

static void auto_timer_cb(struct loop_timer *tm) {
  struct client_ton *t = tm->data;
  struct err e = {0};
  loop_timer_start(t->loop, &t->auto_timer, t->au.check_ms);
  if (t->busy || t->auto_reading) return; /* a top-up or the user's operation runs: the next tick */
  t->auto_reading = 1;
  if (toncenter_run_get_method(t->tc, &t->contract, "get_cocoon_client_data", NULL, auto_read_cb, t, &e)) {
    t->auto_reading = 0;
    log_debug("client_auto_topup_unread", "error=\"%s\"", e.msg);
  }
}

/* The wallet's balance at start-up: an operator learns at once that it needs funding. */
void client_ton_check_wallet(struct client_ton *t) {
  chain_wallet_send_check(t->ws, t->msg_value + CLIENT_TON_FEE_RESERVE + (t->auto_on ? t->au.amount : 0));
}

void client_ton_auto_start(struct client_ton *t, const struct client_ton_auto *a) {
  t->au = *a;
  if (!t->au.check_ms) t->au.check_ms = CLIENT_TON_AUTO_CHECK_MS;
  t->auto_on = 1;
  loop_timer_init(&t->auto_timer, auto_timer_cb, t);
  loop_timer_start(t->loop, &t->auto_timer, t->au.check_ms);
  log_info("client_auto_topup_on", "threshold=%" PRId64 " amount=%" PRId64 " check_ms=%u", a->threshold, a->amount,
           t->au.check_ms);
}

void client_ton_free(struct client_ton *t) {
  if (!t) return;
  if (t->auto_on) loop_timer_stop(t->loop, &t->auto_timer);
  toncenter_free(t->tc); /* no callback runs afterwards */
  chain_wallet_send_free(t->ws);
  http_client_free(t->hc);
  free(t);
}
