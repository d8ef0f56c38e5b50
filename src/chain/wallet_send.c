/* wallet_send: one internal message at a time from a node's wallet: read the wallet (balance,
 * deployed?), its seqno, build and sign the external message, send it with resending until the
 * wallet's transaction with that body hash is seen or the message expired. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "chain/wallet_send.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "chain/toncenter.h"
#include "chain/wallet_key.h"
#include "http/http_client.h"
#include "ton/boc.h"
#include "ton/message.h"
#include "ton/sign.h"
#include "ton/wallet_transfer.h"

struct chain_wallet_send {
  struct loop *loop;
  struct toncenter *tc;
  struct ton_wallet w;
  struct ton_addr waddr;
  char waddr_s[80];
  uint8_t seed[32];
  uint32_t ttl_s, poll_ms;
  int64_t fee_reserve;
  const char *who;
  int64_t balance;
  int checking;
  int64_t check_need;
  /* the message in flight */
  int busy;
  struct ton_addr dest;
  uint64_t value;
  struct ton_cell *body;
  chain_wallet_sent_cb cb;
  void *arg;
};

const char *chain_wallet_send_address(const struct chain_wallet_send *s) { return s->waddr_s; }
const struct ton_addr *chain_wallet_send_addr(const struct chain_wallet_send *s) { return &s->waddr; }
int64_t chain_wallet_send_balance(const struct chain_wallet_send *s) { return s->balance; }
int chain_wallet_send_busy(const struct chain_wallet_send *s) { return s->busy; }

static void finish(struct chain_wallet_send *s, int rc, const char *error) {
  s->busy = 0;
  ton_cell_unref(s->body);
  s->body = NULL;
  s->cb(s->arg, rc, error);
}

static void sent_cb(int rc, const char *errmsg, const struct toncenter_tx *tx, void *arg) {
  (void)tx;
  finish(arg, rc, rc ? (errmsg ? errmsg : "the wallet's message did not land") : NULL);
}

static void send_with_seqno(struct chain_wallet_send *s, uint32_t seqno, int deploy) {
  struct err e = {0};
  struct ton_cell *msg = NULL, *tbody = NULL, *init = NULL, *ext = NULL;
  struct buf boc;
  buf_init(&boc, 1 << 16);
  struct ton_int_msg im = {.bounce = 1, .dest = s->dest, .value = s->value, .body = s->body};
  int rc = ton_int_msg_cell(&im, 0, &msg, &e);
  uint32_t valid_until = (uint32_t)time(NULL) + s->ttl_s;
  struct ton_wallet_out out = {.mode = TON_SEND_MODE_PAY_FEES_SEPARATELY, .msg = msg};
  struct ton_wallet_transfer tr = {.seqno = seqno, .valid_until = valid_until, .msgs = &out, .nmsgs = 1};
  if (!rc) rc = ton_wallet_transfer_body(&s->w, &tr, s->seed, &tbody, &e);
  if (!rc && deploy) rc = ton_wallet_state_init(&s->w, &init, &e);
  if (!rc) rc = ton_ext_in_msg_cell(&s->waddr, init, tbody, 0, &ext, &e);
  if (!rc) rc = ton_boc_serialize(ext, 0, &boc, &e);
  struct toncenter_send_opts so = {.valid_until = valid_until, .poll_ms = s->poll_ms, .resend_ms = 5000};
  if (!rc)
    rc = toncenter_send_external(s->tc, &s->waddr, buf_ptr(&boc), boc.len, tbody->hash, &so, sent_cb, s, NULL, &e);
  if (!rc) log_info("ton_wallet_send", "who=%s seqno=%u value=%" PRIu64, s->who, seqno, s->value);
  ton_cell_unref(msg);
  ton_cell_unref(tbody);
  ton_cell_unref(init);
  ton_cell_unref(ext);
  buf_free(&boc);
  if (rc) finish(s, rc, e.msg[0] ? e.msg : "cannot build the wallet's message");
}

static void seqno_cb(int rc, const char *errmsg, const struct chain_tvm_stack *stk, void *arg) {
  struct chain_wallet_send *s = arg;
  struct err e = {0};
  uint64_t seqno = 0;
  if (rc) {
    finish(s, rc, errmsg);
    return;
  }
  if (chain_tvm_get_u64(stk, 0, &seqno, &e) || seqno > UINT32_MAX) {
    finish(s, ERR_PROTO, e.msg[0] ? e.msg : "seqno out of range");
    return;
  }
  send_with_seqno(s, (uint32_t)seqno, 0);
}

static int64_t need_for(const struct chain_wallet_send *s, uint64_t value) {
  int64_t need = 0;
  if (value > INT64_MAX || __builtin_add_overflow((int64_t)value, s->fee_reserve, &need)) need = INT64_MAX;
  return need;
}

static void account_cb(int rc, const char *errmsg, const struct toncenter_account *a, void *arg) {
  struct chain_wallet_send *s = arg;
  struct err e = {0};
  if (rc) {
    finish(s, rc, errmsg);
    return;
  }
  s->balance = a->balance > INT64_MAX ? INT64_MAX : (int64_t)a->balance;
  int64_t need = need_for(s, s->value);
  if (s->balance < need) {
    char msg[240];
    snprintf(msg, sizeof(msg), "the %s wallet %s holds %" PRIu64 " nanoTON, this needs %" PRId64 ": fund it", s->who,
             s->waddr_s, a->balance, need);
    log_error("ton_wallet_low", "who=%s wallet=%s balance=%" PRIu64 " need=%" PRId64 " msg=\"fund it\"", s->who,
              s->waddr_s, a->balance, need);
    finish(s, ERR_REFUSED, msg);
    return;
  }
  if (a->state != TONCENTER_ACTIVE) {
    send_with_seqno(s, 0, 1); /* the first message deploys the wallet */
    return;
  }
  if (toncenter_run_get_method(s->tc, &s->waddr, "seqno", NULL, seqno_cb, s, &e)) finish(s, ERR_IO, e.msg);
}

int chain_wallet_send_msg(struct chain_wallet_send *s, const struct ton_addr *dest, uint64_t value,
                          struct ton_cell *body, chain_wallet_sent_cb cb, void *arg, struct err *e) {
  if (s->busy) return err_set(e, ERR_AGAIN, "another wallet operation is in flight");
  s->busy = 1;
  s->dest = *dest;
  s->value = value;
  s->body = body ? ton_cell_ref(body) : NULL;
  s->cb = cb;
  s->arg = arg;
  int rc = toncenter_get_account(s->tc, &s->waddr, account_cb, s, e);
  if (rc) {
    s->busy = 0;
    ton_cell_unref(s->body);
    s->body = NULL;
  }
  return rc;
}

static void check_cb(int rc, const char *errmsg, const struct toncenter_account *a, void *arg) {
  struct chain_wallet_send *s = arg;
  s->checking = 0;
  if (rc) {
    log_warn("ton_wallet_unreadable", "who=%s wallet=%s error=\"%s\"", s->who, s->waddr_s, errmsg ? errmsg : "");
    return;
  }
  s->balance = a->balance > INT64_MAX ? INT64_MAX : (int64_t)a->balance;
  if (s->balance < s->check_need)
    log_error("ton_wallet_low", "who=%s wallet=%s balance=%" PRIu64 " need=%" PRId64
              " msg=\"below what one message needs: fund it\"", s->who, s->waddr_s, a->balance, s->check_need);
  else
    log_info("ton_wallet", "who=%s wallet=%s balance=%" PRIu64 " state=%s", s->who, s->waddr_s, a->balance,
             a->state == TONCENTER_ACTIVE ? "active" : "not deployed (the first message deploys it)");
}

void chain_wallet_send_check(struct chain_wallet_send *s, int64_t need) {
  struct err e = {0};
  if (s->checking) return;
  s->checking = 1;
  s->check_need = need;
  if (toncenter_get_account(s->tc, &s->waddr, check_cb, s, &e)) {
    s->checking = 0;
    log_warn("ton_wallet_unreadable", "who=%s wallet=%s error=\"%s\"", s->who, s->waddr_s, e.msg);
  }
}

int chain_wallet_send_new(struct loop *loop, const struct chain_wallet_send_config *cfg,
                          struct chain_wallet_send **out, struct err *e) {
  struct chain_wallet_send *s = calloc(1, sizeof(*s));
  uint8_t pub[32];
  if (!s) return err_set(e, ERR_NOMEM, "out of memory");
  s->loop = loop;
  s->tc = cfg->tc;
  memcpy(s->seed, cfg->seed, 32);
  s->ttl_s = cfg->ttl_s ? cfg->ttl_s : 60;
  s->poll_ms = cfg->poll_ms ? cfg->poll_ms : 300;
  s->fee_reserve = cfg->fee_reserve > 0 ? cfg->fee_reserve : 0;
  s->who = cfg->who ? cfg->who : "node";
  s->balance = -1;
  int rc = 0;
  if (ton_sign_pubkey(s->seed, pub) || ton_wallet_init(&s->w, cfg->kind, 0, pub, cfg->testnet)) {
    rc = err_set(e, ERR_CRYPTO, "bad wallet key");
    goto fail;
  }
  if ((rc = ton_wallet_address(&s->w, &s->waddr, e))) goto fail;
  if (ton_addr_to_friendly(&s->waddr, 0, cfg->testnet, 1, s->waddr_s, sizeof(s->waddr_s)))
    ton_addr_to_raw(&s->waddr, s->waddr_s, sizeof(s->waddr_s));
  *out = s;
  return 0;
fail:
  chain_wallet_send_free(s);
  return rc;
}

void chain_wallet_send_free(struct chain_wallet_send *s) {
  if (!s) return;
  ton_cell_unref(s->body);
  OPENSSL_cleanse(s->seed, sizeof(s->seed));
  free(s);
}

int chain_wallet_send_open(struct loop *loop, const struct chain_wallet_open_config *cfg, struct http_client **hc,
                           struct toncenter **tc, struct chain_wallet_send **ws, struct err *e) {
  *hc = NULL;
  *tc = NULL;
  *ws = NULL;
  uint8_t seed[32];
  struct http_client_config hcfg = {0};
  int rc = http_client_new(loop, &hcfg, hc);
  if (rc) return err_set(e, rc, "http client");
  struct toncenter_config tcfg = {.endpoint = cfg->toncenter_url, .api_key = cfg->api_key};
  if ((rc = toncenter_new(loop, *hc, &tcfg, tc, e)) || (rc = chain_wallet_key_load(cfg->key_path, seed, e))) {
    toncenter_free(*tc);
    http_client_free(*hc);
    *tc = NULL;
    *hc = NULL;
    return rc;
  }
  struct chain_wallet_send_config wc = {.tc = *tc, .seed = seed, .kind = cfg->kind, .testnet = cfg->testnet,
                                        .ttl_s = cfg->ttl_s, .fee_reserve = cfg->fee_reserve, .who = cfg->who};
  rc = chain_wallet_send_new(loop, &wc, ws, e);
  OPENSSL_cleanse(seed, sizeof(seed));
  if (rc) {
    toncenter_free(*tc);
    http_client_free(*hc);
    *tc = NULL;
    *hc = NULL;
    *ws = NULL;
  }
  return rc;
}
