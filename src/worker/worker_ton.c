/* worker_ton: every check_ms the worker contract's data is read (its token total and the fee per
 * token in its params); when the held signed total is owed enough, it is rewrapped with the
 * worker's wallet as send_excess_to, sent from that wallet, and the contract read again until it
 * holds the total. One submission at a time; a failure waits WORKER_TON_BACKOFF_MS. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "worker/worker_ton.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "chain/cocoon_sc.h"
#include "chain/toncenter.h"
#include "chain/wallet_send.h"
#include "http/http_client.h"
#include "loop/loop.h"
#include "ton/boc.h"
#include "ton/cocoon_msg.h"

enum phase { IDLE = 0, READING, SENDING, CONFIRMING };

struct worker_ton {
  struct loop *loop;
  struct http_client *hc;
  struct toncenter *tc;
  struct chain_wallet_send *ws;
  struct ton_addr contract;
  int64_t threshold, msg_value;
  uint32_t check_ms;
  worker_ton_best_cb best;
  void *arg;
  struct loop_timer timer, retry;
  enum phase phase;
  int64_t sent_total;
  int looks;
  struct worker_ton_stats st;
};

int worker_ton_payout_due(int64_t held, int64_t chain, int64_t fee, int64_t threshold) {
  int64_t owed = 0;
  if (threshold < 0 || held <= chain || fee < 0) return 0;
  if (__builtin_mul_overflow(held - chain, fee, &owed)) return 1;
  return owed >= threshold;
}

void worker_ton_get_stats(const struct worker_ton *t, struct worker_ton_stats *out) {
  *out = t->st;
  out->wallet_balance = chain_wallet_send_balance(t->ws);
}
const char *worker_ton_wallet(const struct worker_ton *t) { return chain_wallet_send_address(t->ws); }

static void fail(struct worker_ton *t, const char *why) {
  t->phase = IDLE;
  t->st.failed++;
  snprintf(t->st.last_error, sizeof(t->st.last_error), "%.230s", why ? why : "failed");
  log_warn("worker_payout_failed", "total=%" PRId64 " error=\"%s\" retry_in_ms=%u", t->sent_total, t->st.last_error,
           WORKER_TON_BACKOFF_MS);
  loop_timer_start(t->loop, &t->timer, WORKER_TON_BACKOFF_MS);
}

static void read_contract(struct worker_ton *t);

static void sent_cb(void *arg, int rc, const char *error) {
  struct worker_ton *t = arg;
  if (rc) {
    fail(t, error);
    return;
  }
  t->phase = CONFIRMING;
  t->looks = 0;
  read_contract(t);
}

static void submit(struct worker_ton *t, int64_t held, const uint8_t *boc, size_t len, int64_t chain, uint64_t fee) {
  struct err e = {0};
  struct ton_cell *signed_msg = NULL, *body = NULL;
  int rc = ton_boc_parse_one(boc, len, &signed_msg, &e);
  if (!rc) rc = ton_cocoon_signed_rewrap(signed_msg, chain_wallet_send_addr(t->ws), &body, &e);
  t->sent_total = held;
  if (!rc) rc = chain_wallet_send_msg(t->ws, &t->contract, (uint64_t)t->msg_value, body, sent_cb, t, &e);
  ton_cell_unref(signed_msg);
  ton_cell_unref(body);
  if (rc) {
    fail(t, e.msg);
    return;
  }
  t->phase = SENDING;
  t->st.submitted++;
  log_info("worker_payout_submit", "total=%" PRId64 " chain=%" PRId64 " fee_per_token=%" PRIu64 " owed=%" PRId64
           " value=%" PRId64, held, chain, fee, (held - chain) * (int64_t)fee, t->msg_value);
}

static void contract_cb(int rc, const char *errmsg, const struct toncenter_account *a, void *arg) {
  struct worker_ton *t = arg;
  struct err e = {0};
  struct chain_worker_sc w;
  if (rc || !a->data || chain_worker_sc_parse(a->data, &w, &e)) {
    const char *why = rc ? errmsg : !a->data ? "the worker contract is not deployed" : e.msg;
    if (t->phase == CONFIRMING && ++t->looks < WORKER_TON_CONFIRM_LOOKS) {
      loop_timer_start(t->loop, &t->retry, 500);
      return;
    }
    if (t->phase == CONFIRMING) {
      fail(t, why);
      return;
    }
    t->phase = IDLE;
    snprintf(t->st.last_error, sizeof(t->st.last_error), "%.230s", why ? why : "unreadable");
    log_debug("worker_contract_unread", "error=\"%s\"", t->st.last_error);
    return;
  }
  t->st.chain_tokens = w.tokens;
  if (t->phase == CONFIRMING) {
    if (w.tokens >= t->sent_total) {
      t->phase = IDLE;
      t->st.landed++;
      log_info("worker_payout_landed", "chain_tokens=%" PRId64 " paid_nanoton=%" PRIu64, w.tokens,
               (uint64_t)w.tokens * w.worker_fee_per_token);
      return;
    }
    if (++t->looks < WORKER_TON_CONFIRM_LOOKS) {
      loop_timer_start(t->loop, &t->retry, 500);
      return;
    }
    char msg[120];
    snprintf(msg, sizeof(msg), "the worker contract did not take the total: it holds %" PRId64 ", sent %" PRId64,
             w.tokens, t->sent_total);
    fail(t, msg);
    return;
  }
  t->phase = IDLE;
  int64_t held = 0;
  const uint8_t *boc = NULL;
  size_t len = 0;
  if (w.state == 2 || t->best(t->arg, &held, &boc, &len) || !boc) return;
  if (w.worker_fee_per_token > INT64_MAX ||
      !worker_ton_payout_due(held, w.tokens, (int64_t)w.worker_fee_per_token, t->threshold))
    return;
  submit(t, held, boc, len, w.tokens, w.worker_fee_per_token);
}

static void read_contract(struct worker_ton *t) {
  struct err e = {0};
  if (toncenter_get_account(t->tc, &t->contract, contract_cb, t, &e)) {
    if (t->phase == CONFIRMING) fail(t, e.msg);
    else t->phase = IDLE;
  }
}

static void retry_cb(struct loop_timer *tm) {
  struct worker_ton *t = tm->data;
  if (t->phase == CONFIRMING) read_contract(t);
}

static void timer_cb(struct loop_timer *tm) {
  struct worker_ton *t = tm->data;
  loop_timer_start(t->loop, &t->timer, t->check_ms);
  if (t->phase != IDLE) return;
  t->phase = READING;
  read_contract(t);
}

int worker_ton_new(struct loop *loop, const struct worker_ton_config *cfg, worker_ton_best_cb best, void *arg,
                   struct worker_ton **out, struct err *e) {
  struct worker_ton *t = calloc(1, sizeof(*t));
  int rc;
  if (!t) return err_set(e, ERR_NOMEM, "out of memory");
  t->loop = loop;
  t->best = best;
  t->arg = arg;
  t->threshold = cfg->threshold;
  t->msg_value = cfg->msg_value > 0 ? cfg->msg_value : 300000000;
  t->check_ms = cfg->check_ms ? cfg->check_ms : WORKER_TON_CHECK_MS;
  t->st.chain_tokens = -1;
  if (!cfg->toncenter_url || !cfg->toncenter_url[0]) {
    rc = err_set(e, ERR_INVALID, "ton_wallet_key needs toncenter_url");
    goto fail;
  }
  if (ton_addr_parse(cfg->contract, &t->contract, NULL, e)) {
    rc = err_set(e, ERR_INVALID, "owner_address must be the worker contract's TON address to submit payouts");
    goto fail;
  }
  enum ton_wallet_kind k;
  if (ton_wallet_kind_parse(cfg->wallet_kind, &k)) {
    rc = err_set(e, ERR_INVALID, "ton_wallet must be v4r2 or v5r1");
    goto fail;
  }
  struct chain_wallet_open_config wc = {.toncenter_url = cfg->toncenter_url, .api_key = cfg->api_key,
                                        .key_path = cfg->key_path, .kind = k, .testnet = cfg->testnet,
                                        .ttl_s = cfg->ttl_s, .fee_reserve = WORKER_TON_FEE_RESERVE, .who = "worker"};
  if ((rc = chain_wallet_send_open(loop, &wc, &t->hc, &t->tc, &t->ws, e))) goto fail;
  loop_timer_init(&t->timer, timer_cb, t);
  loop_timer_init(&t->retry, retry_cb, t);
  loop_timer_start(loop, &t->timer, t->check_ms);
  chain_wallet_send_check(t->ws, t->msg_value + WORKER_TON_FEE_RESERVE);
  log_info("worker_payouts_own", "wallet=%s threshold=%" PRId64 " check_ms=%u", chain_wallet_send_address(t->ws),
           t->threshold, t->check_ms);
  *out = t;
  return 0;
fail:
  worker_ton_free(t);
  return rc;
}

void worker_ton_free(struct worker_ton *t) {
  if (!t) return;
  if (t->timer.data) loop_timer_stop(t->loop, &t->timer);
  if (t->retry.data) loop_timer_stop(t->loop, &t->retry);
  toncenter_free(t->tc); /* no callback runs afterwards */
  chain_wallet_send_free(t->ws);
  http_client_free(t->hc);
  free(t);
}
