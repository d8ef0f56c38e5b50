/* ton_backend: the `ton` settlement backend. One submission at a time goes through the proxy's
 * wallet (its seqno orders them): look at the contract (maybe the total already landed), check
 * the wallet's balance, read its seqno, send the signed total with resending until the wallet's
 * transaction is seen or the message expired, then read the contract again to learn what it
 * took, and record that in the ledger. Every step is a toncenter call on the event loop. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "settle/ton_backend.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "chain/cocoon_sc.h"
#include "chain/toncenter.h"
#include "http/http_client.h"
#include "loop/loop.h"
#include "ton/boc.h"
#include "ton/cocoon_msg.h"
#include "ton/message.h"
#include "ton/payment.h"
#include "ton/sign.h"
#include "ton/wallet_transfer.h"

enum job_kind { JOB_CHARGE = 0, JOB_PAYOUT = 1 };

static const struct {
  const char *signed_mark; /* the proxy's signed total (proxy.c) */
  const char *chain_mark;  /* what the contract holds */
  const char *getter;
  size_t tokens_idx; /* position of the token total in the getter's result */
  uint32_t op;
  const char *name;
} KIND[2] = {
    {"client_charge", SETTLE_TON_MARK_CHARGED, "get_cocoon_client_data", 6, TON_OP_CLIENT_CHARGE_SIGNED, "charge"},
    {"worker_payout", SETTLE_TON_MARK_PAID, "get_cocoon_worker_data", 4, TON_OP_WORKER_PAYOUT_SIGNED, "payout"},
};

struct waiter {
  struct waiter *next;
  settle_done_cb cb;
  void *arg;
};

struct job {
  struct job *next;
  enum job_kind kind;
  char owner[LEDGER_ADDR_MAX + 1];
  struct ton_addr target;
  int64_t total;
  int attempts;
  struct waiter *waiters;
};

/* An account whose last submission failed is left alone this long by the policy (a contract not
 * deployed, a wallet to fund): one warning per period, not one per scan. */
#define COOLDOWN_MS 30000u
#define MAX_COOLING 64

struct cooling {
  enum job_kind kind;
  uint64_t until_ms;
  char owner[LEDGER_ADDR_MAX + 1];
};

enum step { STEP_IDLE = 0, STEP_LOOK_BEFORE, STEP_WALLET, STEP_SEQNO, STEP_SENDING, STEP_LOOK_AFTER };

struct tonb {
  struct settle base;
  struct loop *loop;
  struct ledger *l;
  struct settle_ton_params p;
  uint8_t proxy_pub[32];
  struct http_client *hc;
  struct toncenter *tc;
  struct ton_wallet w;
  struct ton_addr waddr;
  char waddr_s[80];
  struct job *head, *tail;
  size_t nq;
  struct job *cur;
  enum step step;
  int looks;
  struct toncenter_send *send;
  struct loop_timer scan, retry;
  struct settle_ton_stats st;
  struct cooling cool[MAX_COOLING];
  size_t ncool;
  int wallet_checked;
  /* Client contracts: the proxy contract (read once, again after a failed derivation), the
   * clients watched, the reads waiting and the one in flight. */
  int deposits_on;
  struct ton_addr psc_addr;
  struct chain_proxy_sc psc;
  int psc_ok, psc_reading;
  struct loop_timer watch;
  char (*watched)[LEDGER_ADDR_MAX + 1];
  size_t nwatched;
  char (*pending)[LEDGER_ADDR_MAX + 1]; /* FIFO of clients to read, no duplicates */
  size_t npending;
  char reading[LEDGER_ADDR_MAX + 1];    /* "" when no read is in flight */
  struct ton_addr reading_addr;
};

int settle_ton_due(int64_t signed_tokens, int64_t chain_tokens, int64_t per_token, int64_t threshold,
                   int64_t *owed_out) {
  int64_t owed = 0;
  if (signed_tokens <= chain_tokens || per_token < 0 ||
      __builtin_mul_overflow(signed_tokens - chain_tokens, per_token, &owed))
    owed = signed_tokens > chain_tokens ? INT64_MAX : 0;
  if (owed_out) *owed_out = owed;
  return threshold >= 0 && signed_tokens > chain_tokens && owed >= threshold;
}

static int64_t mark_get(struct tonb *s, const char *kind, const char *owner) {
  int64_t v = 0;
  if (ledger_payment_get(s->l, kind, owner, &v) != 0) v = 0;
  return v;
}

static void kick(struct tonb *s);

static int status_fill(struct tonb *s, const char *client, struct settle_status *out, struct err *e) {
  struct ledger_account a;
  memset(out, 0, sizeof(*out));
  if (!client || ledger_account_get(s->l, LEDGER_CLIENT, client, &a) != 0)
    return err_set(e, ERR_NOTFOUND, "no account for this client at this proxy");
  int64_t st = mark_get(s, SETTLE_TON_MARK_STATE, client);
  out->state = st == 1 ? SETTLE_CLOSING : st == 2 ? SETTLE_CLOSED : SETTLE_RUNNING;
  out->unlock_at_ms = st == 1 ? mark_get(s, SETTLE_TON_MARK_UNLOCK, client) * 1000 : 0;
  out->balance = a.balance;
  out->stake = a.stake;
  out->reserved = a.reserved;
  out->tokens_used = a.tokens;
  out->tokens_charged = mark_get(s, SETTLE_TON_MARK_CHARGED, client);
  return 0;
}

/* Ends the current job: every waiter learns the outcome. */
static void job_end(struct tonb *s, int rc, const char *why) {
  struct job *j = s->cur;
  s->cur = NULL;
  s->step = STEP_IDLE;
  if (!j) return;
  if (rc) {
    /* Remember the account for the policy; when full, the oldest entry goes. */
    if (s->ncool == MAX_COOLING) {
      memmove(&s->cool[0], &s->cool[1], sizeof(s->cool[0]) * (MAX_COOLING - 1));
      s->ncool--;
    }
    struct cooling *k = &s->cool[s->ncool++];
    k->kind = j->kind;
    k->until_ms = loop_now_ms(s->loop) + COOLDOWN_MS;
    memcpy(k->owner, j->owner, sizeof(j->owner));
    s->st.failed++;
    snprintf(s->st.last_error, sizeof(s->st.last_error), "%.190s", why ? why : "failed");
    log_warn("ton_settle_failed", "kind=%s owner=%s total=%" PRId64 " error=\"%s\"", KIND[j->kind].name, j->owner,
             j->total, s->st.last_error);
  }
  while (j->waiters) {
    struct waiter *w = j->waiters;
    j->waiters = w->next;
    struct settle_result r;
    memset(&r, 0, sizeof(r));
    r.rc = rc;
    r.error = rc ? s->st.last_error : NULL;
    if (j->kind == JOB_CHARGE) (void)status_fill(s, j->owner, &r.status, NULL);
    w->cb(w->arg, &r);
    free(w);
  }
  free(j);
  kick(s);
}

static void fail(struct tonb *s, const char *what, const char *detail) {
  char msg[200];
  snprintf(msg, sizeof(msg), "%.60s: %.130s", what, detail ? detail : "");
  job_end(s, ERR_IO, msg);
}

static void look(struct tonb *s);

/* The contract's token total: record it when it is new, and finish when it covers the job. */
static void look_cb(int rc, const char *errmsg, const struct chain_tvm_stack *stk, void *arg) {
  struct tonb *s = arg;
  struct job *j = s->cur;
  struct err e = {0};
  int64_t tokens = 0;
  if (!j) return;
  if (rc || chain_tvm_get_i64(stk, KIND[j->kind].tokens_idx, &tokens, &e)) {
    if (s->step == STEP_LOOK_AFTER && ++s->looks < SETTLE_TON_MAX_CONFIRM_LOOKS) {
      loop_timer_start(s->loop, &s->retry, s->p.poll_ms);
      return;
    }
    fail(s, "cannot read the contract's total", rc ? errmsg : e.msg);
    return;
  }
  int64_t known = mark_get(s, KIND[j->kind].chain_mark, j->owner);
  if (tokens > known) {
    if (ledger_record_payment(s->l, KIND[j->kind].chain_mark, j->owner, tokens, NULL, 0, 0, &e)) {
      fail(s, "the ledger refused the on-chain total", e.msg);
      return;
    }
    log_info("ton_settled", "kind=%s owner=%s chain_tokens=%" PRId64, KIND[j->kind].name, j->owner, tokens);
  }
  if (tokens >= j->total) {
    /* Landed: what this backend sent (the contract reads of the deposit watch may have recorded
     * the mark first), or found on chain before sending. */
    s->st.landed++;
    job_end(s, 0, NULL);
    return;
  }
  if (s->step == STEP_LOOK_AFTER) {
    /* The wallet sent it; the contract's transaction may come a block later. */
    if (++s->looks < SETTLE_TON_MAX_CONFIRM_LOOKS) {
      loop_timer_start(s->loop, &s->retry, s->p.poll_ms);
      return;
    }
    char a[96];
    snprintf(a, sizeof(a), "it holds %" PRId64 ", sent %" PRId64, tokens, j->total);
    fail(s, "the contract did not take the signed total", a);
    return;
  }
  s->step = STEP_WALLET;
  kick(s);
}

static void look(struct tonb *s) {
  struct err e = {0};
  if (toncenter_run_get_method(s->tc, &s->cur->target, KIND[s->cur->kind].getter, NULL, look_cb, s, &e))
    fail(s, "get-method", e.msg);
}

static void retry_cb(struct loop_timer *t) {
  struct tonb *s = t->data;
  if (s->cur && (s->step == STEP_LOOK_AFTER || s->step == STEP_LOOK_BEFORE)) look(s);
}

static void sent_cb(int rc, const char *errmsg, const struct toncenter_tx *tx, void *arg) {
  struct tonb *s = arg;
  (void)tx;
  s->send = NULL;
  if (!s->cur) return;
  if (rc) {
    if (++s->cur->attempts < 3) {
      log_warn("ton_submit_retry", "kind=%s owner=%s error=\"%s\"", KIND[s->cur->kind].name, s->cur->owner,
               errmsg ? errmsg : "");
      s->step = STEP_LOOK_BEFORE; /* it may have landed after all */
      look(s);
      return;
    }
    fail(s, "the wallet's message did not land", errmsg);
    return;
  }
  s->step = STEP_LOOK_AFTER;
  s->looks = 0;
  look(s);
}

static void send_with_seqno(struct tonb *s, uint32_t seqno, int deploy) {
  struct job *j = s->cur;
  struct err e = {0};
  struct ton_cell *body = NULL, *msg = NULL, *tbody = NULL, *init = NULL, *ext = NULL;
  struct buf boc;
  buf_init(&boc, 4096);
  uint8_t seed[32];
  memcpy(seed, s->p.proxy_seed, 32);
  struct ton_cocoon_signed sg = {.op = KIND[j->kind].op, .qid = util_random_u64(), .tokens = (uint64_t)j->total,
                                 .target = j->target};
  int rc = ton_cocoon_signed_cell(&sg, &s->waddr, seed, &body, &e);
  OPENSSL_cleanse(seed, sizeof(seed));
  struct ton_int_msg im = {.bounce = 1, .dest = j->target, .value = (uint64_t)s->p.msg_value, .body = body};
  if (!rc) rc = ton_int_msg_cell(&im, 0, &msg, &e);
  uint32_t valid_until = (uint32_t)time(NULL) + SETTLE_TON_VALID_S;
  struct ton_wallet_out out = {.mode = TON_SEND_MODE_PAY_FEES_SEPARATELY, .msg = msg};
  struct ton_wallet_transfer t = {.seqno = seqno, .valid_until = valid_until, .msgs = &out, .nmsgs = 1};
  memcpy(seed, s->p.wallet_seed, 32);
  if (!rc) rc = ton_wallet_transfer_body(&s->w, &t, seed, &tbody, &e);
  OPENSSL_cleanse(seed, sizeof(seed));
  if (!rc && deploy) rc = ton_wallet_state_init(&s->w, &init, &e);
  if (!rc) rc = ton_ext_in_msg_cell(&s->waddr, init, tbody, 0, &ext, &e);
  if (!rc) rc = ton_boc_serialize(ext, 0, &boc, &e);
  struct toncenter_send_opts so = {.valid_until = valid_until, .poll_ms = s->p.poll_ms, .resend_ms = 5000};
  if (!rc) rc = toncenter_send_external(s->tc, &s->waddr, buf_ptr(&boc), boc.len, tbody->hash, &so, sent_cb, s,
                                        &s->send, &e);
  if (!rc) {
    s->step = STEP_SENDING;
    s->st.submitted++;
    log_info("ton_submit", "kind=%s owner=%s total=%" PRId64 " seqno=%u value=%" PRId64, KIND[j->kind].name,
             j->owner, j->total, seqno, s->p.msg_value);
  }
  ton_cell_unref(body);
  ton_cell_unref(msg);
  ton_cell_unref(tbody);
  ton_cell_unref(init);
  ton_cell_unref(ext);
  buf_free(&boc);
  if (rc) fail(s, "cannot build the wallet message", e.msg);
}

static void seqno_cb(int rc, const char *errmsg, const struct chain_tvm_stack *stk, void *arg) {
  struct tonb *s = arg;
  struct err e = {0};
  uint64_t seqno = 0;
  if (!s->cur) return;
  if (rc || chain_tvm_get_u64(stk, 0, &seqno, &e) || seqno > UINT32_MAX) {
    fail(s, "cannot read the wallet's seqno", rc ? errmsg : e.msg);
    return;
  }
  send_with_seqno(s, (uint32_t)seqno, 0);
}

static void wallet_cb(int rc, const char *errmsg, const struct toncenter_account *a, void *arg) {
  struct tonb *s = arg;
  struct err e = {0};
  if (!s->cur) return;
  if (rc) {
    fail(s, "cannot read the proxy wallet", errmsg);
    return;
  }
  s->st.wallet_balance = (int64_t)a->balance;
  int64_t need = 0;
  if (__builtin_add_overflow(s->p.min_wallet, s->p.msg_value, &need)) need = INT64_MAX;
  if ((int64_t)a->balance < need) {
    char msg[200];
    snprintf(msg, sizeof(msg),
             "the proxy wallet %s holds %" PRIu64 " nanoTON, below ton_min_wallet_nanoton + one message (%" PRId64
             "): fund it",
             s->waddr_s, a->balance, need);
    log_error("ton_wallet_low", "wallet=%s balance=%" PRIu64 " need=%" PRId64, s->waddr_s, a->balance, need);
    job_end(s, ERR_REFUSED, msg);
    return;
  }
  if (a->state != TONCENTER_ACTIVE) {
    send_with_seqno(s, 0, 1); /* the first message deploys the wallet */
    return;
  }
  s->step = STEP_SEQNO;
  if (toncenter_run_get_method(s->tc, &s->waddr, "seqno", NULL, seqno_cb, s, &e))
    fail(s, "seqno", e.msg);
}

static void kick(struct tonb *s) {
  struct err e = {0};
  if (s->cur) {
    if (s->step == STEP_WALLET && toncenter_get_account(s->tc, &s->waddr, wallet_cb, s, &e))
      fail(s, "wallet", e.msg);
    return;
  }
  if (!s->head) return;
  s->cur = s->head;
  s->head = s->head->next;
  if (!s->head) s->tail = NULL;
  s->nq--;
  s->cur->next = NULL;
  s->step = STEP_LOOK_BEFORE;
  s->looks = 0;
  look(s);
}

/* Queues (kind, owner) up to total; a waiter (optional) learns when the contract holds it. */
static int enqueue(struct tonb *s, enum job_kind kind, const char *owner, int64_t total, settle_done_cb cb, void *arg,
                   struct err *e) {
  struct ton_addr target;
  if (ton_addr_parse(owner, &target, NULL, e)) return ERR_INVALID;
  struct waiter *w = NULL;
  if (cb) {
    if (!(w = calloc(1, sizeof(*w)))) return err_set(e, ERR_NOMEM, "out of memory");
    w->cb = cb;
    w->arg = arg;
  }
  struct job *j = NULL;
  if (s->cur && s->cur->kind == kind && !strcmp(s->cur->owner, owner) && s->cur->total >= total) j = s->cur;
  for (struct job *q = s->head; !j && q; q = q->next)
    if (q->kind == kind && !strcmp(q->owner, owner)) j = q;
  if (!j) {
    if (s->nq >= SETTLE_TON_MAX_QUEUE || strlen(owner) > LEDGER_ADDR_MAX) {
      free(w);
      return err_set(e, ERR_LIMIT, "too many settlements waiting for the wallet");
    }
    if (!(j = calloc(1, sizeof(*j)))) {
      free(w);
      return err_set(e, ERR_NOMEM, "out of memory");
    }
    j->kind = kind;
    memcpy(j->owner, owner, strlen(owner) + 1);
    j->target = target;
    if (s->tail) s->tail->next = j;
    else s->head = j;
    s->tail = j;
    s->nq++;
    s->st.queued++;
  }
  if (total > j->total) j->total = total;
  if (w) {
    w->next = j->waiters;
    j->waiters = w;
  }
  return 0;
}

struct scan_ctx {
  struct tonb *s;
  enum job_kind kind;
};

static void scan_account_cb(void *arg, const struct ledger_account *a) {
  struct scan_ctx *c = arg;
  struct tonb *s = c->s;
  int64_t sig = mark_get(s, KIND[c->kind].signed_mark, a->owner);
  int64_t chain = mark_get(s, KIND[c->kind].chain_mark, a->owner);
  int64_t per = c->kind == JOB_CHARGE ? s->p.price_per_token : s->p.worker_fee_per_token;
  int64_t thr = c->kind == JOB_CHARGE ? s->p.charge_threshold : s->p.payout_threshold;
  int64_t owed;
  if (!settle_ton_due(sig, chain, per, thr, &owed)) return;
  uint64_t now = loop_now_ms(s->loop);
  for (size_t i = 0; i < s->ncool; i++)
    if (s->cool[i].kind == c->kind && s->cool[i].until_ms > now && !strcmp(s->cool[i].owner, a->owner)) return;
  if (s->cur && s->cur->kind == c->kind && !strcmp(s->cur->owner, a->owner) && s->cur->total >= sig) return;
  for (struct job *q = s->head; q; q = q->next)
    if (q->kind == c->kind && !strcmp(q->owner, a->owner) && q->total >= sig) return; /* queued already */
  struct err e = {0};
  if (enqueue(s, c->kind, a->owner, sig, NULL, NULL, &e) == 0)
    log_info("ton_settle_due", "kind=%s owner=%s signed=%" PRId64 " chain=%" PRId64 " owed=%" PRId64,
             KIND[c->kind].name, a->owner, sig, chain, owed);
}

/* The wallet's balance, read once at start-up (and after each submission by wallet_cb): an operator
 * learns at once that the wallet needs funding, not at the first charge. */
static void wallet_check_cb(int rc, const char *errmsg, const struct toncenter_account *a, void *arg) {
  struct tonb *s = arg;
  if (rc) {
    log_warn("ton_wallet_unreadable", "wallet=%s error=\"%s\"", s->waddr_s, errmsg ? errmsg : "");
    return;
  }
  s->st.wallet_balance = (int64_t)a->balance;
  int64_t need = 0;
  if (__builtin_add_overflow(s->p.min_wallet, s->p.msg_value, &need)) need = INT64_MAX;
  if ((int64_t)a->balance < need)
    log_error("ton_wallet_low", "wallet=%s balance=%" PRIu64 " need=%" PRId64
              " msg=\"below ton_min_wallet_nanoton + one message: fund it\"",
              s->waddr_s, a->balance, need);
  else
    log_info("ton_wallet", "wallet=%s balance=%" PRIu64 " state=%s", s->waddr_s, a->balance,
             a->state == TONCENTER_ACTIVE ? "active" : "not deployed (the first submission deploys it)");
}

static void scan_cb(struct loop_timer *t) {
  struct tonb *s = t->data;
  if (!s->wallet_checked) {
    struct err e = {0};
    s->wallet_checked = 1;
    if (toncenter_get_account(s->tc, &s->waddr, wallet_check_cb, s, &e))
      log_warn("ton_wallet_unreadable", "wallet=%s error=\"%s\"", s->waddr_s, e.msg);
  }
  loop_timer_start(s->loop, &s->scan, s->p.scan_ms);
  uint64_t now = loop_now_ms(s->loop);
  size_t keep = 0;
  for (size_t i = 0; i < s->ncool; i++)
    if (s->cool[i].until_ms > now) s->cool[keep++] = s->cool[i];
  s->ncool = keep;
  struct scan_ctx c = {.s = s, .kind = JOB_CHARGE};
  ledger_accounts_foreach(s->l, LEDGER_CLIENT, scan_account_cb, &c);
  c.kind = JOB_PAYOUT;
  ledger_accounts_foreach(s->l, LEDGER_WORKER, scan_account_cb, &c);
  kick(s);
}

/* ---------------------------------------------------------------- client contracts */

int settle_ton_deposit_delta(const struct ledger_account *a, int64_t chain_balance, int64_t chain_stake,
                             int64_t chain_tokens, int64_t price_per_token, int64_t *dbal, int64_t *dstake) {
  int64_t charged_chain = 0, chain_net = 0, ledger_net = 0;
  *dbal = *dstake = 0;
  if (chain_balance < 0 || chain_stake < 0 || chain_tokens < 0 || price_per_token < 0 ||
      __builtin_mul_overflow(chain_tokens, price_per_token, &charged_chain) ||
      __builtin_add_overflow(chain_balance, charged_chain, &chain_net))
    return ERR_LIMIT;
  if (a && __builtin_add_overflow(a->balance, a->amount, &ledger_net)) return ERR_LIMIT;
  if (__builtin_sub_overflow(chain_net, ledger_net, dbal) ||
      __builtin_sub_overflow(chain_stake, a ? a->stake : 0, dstake)) {
    *dbal = *dstake = 0;
    return ERR_LIMIT;
  }
  return 0;
}

static void watch_kick(struct tonb *s);

static void contract_error(struct tonb *s, const char *owner, const char *why) {
  snprintf(s->st.last_contract_error, sizeof(s->st.last_contract_error), "%.70s: %.120s", owner, why);
}

static int pending_has(struct tonb *s, const char *owner) {
  if (!strcmp(s->reading, owner)) return 1;
  for (size_t i = 0; i < s->npending; i++)
    if (!strcmp(s->pending[i], owner)) return 1;
  return 0;
}

/* Queues a read of owner's contract; front = before the others (a handshake). */
static void pending_add(struct tonb *s, const char *owner, int front) {
  size_t n = strlen(owner);
  if (n == 0 || n > LEDGER_ADDR_MAX || s->npending >= SETTLE_TON_MAX_WATCH + 64 || pending_has(s, owner)) return;
  if (front) {
    memmove(&s->pending[1], &s->pending[0], sizeof(s->pending[0]) * s->npending);
    memcpy(s->pending[0], owner, n + 1);
  } else {
    memcpy(s->pending[s->npending], owner, n + 1);
  }
  s->npending++;
}

static void watched_drop(struct tonb *s, const char *owner) {
  for (size_t i = 0; i < s->nwatched; i++)
    if (!strcmp(s->watched[i], owner)) {
      memmove(&s->watched[i], &s->watched[i + 1], sizeof(s->watched[0]) * (s->nwatched - i - 1));
      s->nwatched--;
      return;
    }
}

/* The contract's figures into the ledger: the deposit (or refund) as a transfer, the stake, the
 * charged total, the state. Every change is computed from the ledger's own figures, so a second
 * read of the same contract changes nothing, also after a restart. */
static void contract_apply(struct tonb *s, const char *owner, const struct chain_client_sc *c) {
  struct ledger_account a;
  int have = ledger_account_get(s->l, LEDGER_CLIENT, owner, &a) == 0;
  struct err e = {0};
  int64_t known = mark_get(s, SETTLE_TON_MARK_CHARGED, owner);
  if (c->tokens_used > known) {
    if (ledger_record_payment(s->l, SETTLE_TON_MARK_CHARGED, owner, c->tokens_used, NULL, 0, 0, &e))
      log_warn("ton_contract_mark", "owner=%s error=\"%s\"", owner, e.msg);
  }
  int64_t dbal = 0, dstake = 0;
  if (settle_ton_deposit_delta(have ? &a : NULL, c->balance, c->stake, c->tokens_used, s->p.price_per_token, &dbal,
                               &dstake)) {
    contract_error(s, owner, "amounts out of range");
    return;
  }
  if (dbal || dstake) {
    memset(&e, 0, sizeof(e));
    if (ledger_record_transfer(s->l, LEDGER_CLIENT, owner, dbal, dstake, 0, &e)) {
      /* Retried at every read (a refund beyond the reservations waits for them to end); said
       * once while the reason stays the same. */
      char prev[sizeof(s->st.last_contract_error)];
      memcpy(prev, s->st.last_contract_error, sizeof(prev));
      contract_error(s, owner, e.msg);
      if (strcmp(prev, s->st.last_contract_error))
        log_warn("ton_client_credit_failed", "owner=%s delta=%" PRId64 " stake_delta=%" PRId64 " error=\"%s\"", owner, dbal,
                 dstake, e.msg);
    } else if (dbal > 0) {
      s->st.deposits++;
      s->st.deposited += dbal;
      log_info("ton_client_credited", "owner=%s deposit=%" PRId64 " chain_balance=%" PRId64 " stake=%" PRId64
               " chain_tokens=%" PRId64, owner, dbal, c->balance, c->stake, c->tokens_used);
    } else {
      if (dbal < 0) {
        s->st.refunds++;
        s->st.refunded -= dbal;
      }
      log_info("ton_client_debited", "owner=%s refund=%" PRId64 " stake_delta=%" PRId64 " chain_balance=%" PRId64
               " chain_state=%d", owner, -dbal, dstake, c->balance, c->state);
    }
  }
  int64_t st = mark_get(s, SETTLE_TON_MARK_STATE, owner);
  if (c->state > st) {
    memset(&e, 0, sizeof(e));
    if (c->state == 1 && ledger_record_payment(s->l, SETTLE_TON_MARK_UNLOCK, owner, c->unlock_ts, NULL, 0, 0, &e))
      log_warn("ton_contract_mark", "owner=%s error=\"%s\"", owner, e.msg);
    if (ledger_record_payment(s->l, SETTLE_TON_MARK_STATE, owner, c->state, NULL, 0, 0, &e)) {
      log_warn("ton_contract_mark", "owner=%s error=\"%s\"", owner, e.msg);
    } else {
      if (c->state == 1) s->st.clients_closing++;
      else s->st.clients_closed++;
      if (c->state == 2 && st == 1) s->st.clients_closing--;
      log_warn(c->state == 1 ? "ton_client_closing" : "ton_client_closed",
               "owner=%s unlock_ts=%" PRId64 " balance=%" PRId64 " msg=\"the client contract is %s: no new requests\"",
               owner, c->unlock_ts, c->balance, c->state == 1 ? "closing" : "closed");
    }
  }
}

static void contract_cb(int rc, const char *errmsg, const struct chain_tvm_stack *stk, void *arg) {
  struct tonb *s = arg;
  struct err e = {0};
  struct chain_client_sc c;
  char owner[LEDGER_ADDR_MAX + 1];
  memcpy(owner, s->reading, sizeof(owner));
  s->reading[0] = '\0';
  s->st.contract_reads++;
  if (rc) {
    /* Not deployed yet (the get-method cannot run), or toncenter is away: the next poll. */
    log_debug("ton_client_unread", "owner=%s error=\"%s\"", owner, errmsg ? errmsg : "");
    contract_error(s, owner, errmsg ? errmsg : "unreadable");
    goto next;
  }
  if (chain_client_sc_from_stack(stk, &c, &e)) {
    contract_error(s, owner, e.msg);
    goto next;
  }
  /* Genuine: it names this proxy contract and key, and its address is the one the proxy contract
   * derives for its owner (so its code is the client code and it started from a zero balance). */
  struct ton_addr want;
  const char *why = NULL;
  if (!ton_addr_equal(&c.proxy, &s->psc_addr)) why = "it names another proxy contract";
  else if (memcmp(c.proxy_key, s->proxy_pub, 32)) why = "it names another proxy key";
  else if (chain_client_sc_address(&s->psc, &s->psc_addr, &c.owner, &want, &e)) why = e.msg;
  else if (!ton_addr_equal(&want, &s->reading_addr)) why = "its address is not the client contract address of its owner";
  if (why) {
    char prev[sizeof(s->st.last_contract_error)];
    memcpy(prev, s->st.last_contract_error, sizeof(prev));
    s->st.contracts_refused++;
    contract_error(s, owner, why);
    if (strcmp(prev, s->st.last_contract_error)) /* said once while it stays the same */
      log_warn("ton_client_refused", "owner=%s reason=\"not a client contract of this proxy: %s\"", owner, why);
    watched_drop(s, owner);
    s->psc_ok = 0; /* the proxy contract's params may have changed: read them again */
    goto next;
  }
  contract_apply(s, owner, &c);
next:
  watch_kick(s);
}

static void psc_cb(int rc, const char *errmsg, const struct toncenter_account *a, void *arg) {
  struct tonb *s = arg;
  struct err e = {0};
  s->psc_reading = 0;
  chain_proxy_sc_clear(&s->psc);
  if (rc || !a->data) {
    log_warn("ton_proxy_contract_unread", "error=\"%s\"", rc ? (errmsg ? errmsg : "") : "not deployed");
    snprintf(s->st.last_contract_error, sizeof(s->st.last_contract_error), "proxy contract: %.180s",
             rc ? (errmsg ? errmsg : "") : "not deployed");
    return; /* the next poll tries again */
  }
  if (chain_proxy_sc_parse(a->data, &s->psc, &e) || !s->psc.client_code || memcmp(s->psc.proxy_key, s->proxy_pub, 32)) {
    const char *why = e.msg[0] ? e.msg : !s->psc.client_code ? "its params carry no client code"
                                                                : "it holds another proxy key";
    log_error("ton_proxy_contract_bad", "reason=\"%s\"", why);
    snprintf(s->st.last_contract_error, sizeof(s->st.last_contract_error), "proxy contract: %.180s", why);
    chain_proxy_sc_clear(&s->psc);
    return;
  }
  s->psc_ok = 1;
  log_info("ton_proxy_contract", "state=%d stake=%" PRIu64 " min_client_stake=%" PRIu64, s->psc.state, s->psc.stake,
           s->psc.min_client_stake);
  watch_kick(s);
}

static void watch_kick(struct tonb *s) {
  struct err e = {0};
  if (!s->deposits_on || s->reading[0] || s->psc_reading || !s->npending) return;
  if (!s->psc_ok) {
    s->psc_reading = 1;
    if (toncenter_get_account(s->tc, &s->psc_addr, psc_cb, s, &e)) {
      s->psc_reading = 0;
      log_warn("ton_proxy_contract_unread", "error=\"%s\"", e.msg);
    }
    return;
  }
  while (s->npending) {
    memcpy(s->reading, s->pending[0], sizeof(s->reading));
    memmove(&s->pending[0], &s->pending[1], sizeof(s->pending[0]) * (s->npending - 1));
    s->npending--;
    if (ton_addr_parse(s->reading, &s->reading_addr, NULL, NULL)) {
      s->reading[0] = '\0'; /* an account that is not a TON address has no contract */
      continue;
    }
    if (toncenter_run_get_method(s->tc, &s->reading_addr, "get_cocoon_client_data", NULL, contract_cb, s, &e)) {
      s->reading[0] = '\0';
      log_warn("ton_client_unread", "error=\"%s\"", e.msg);
    }
    return;
  }
}

static void watch_account_cb(void *arg, const struct ledger_account *a) {
  struct tonb *s = arg;
  /* A closed contract changes no more. */
  if (mark_get(s, SETTLE_TON_MARK_STATE, a->owner) < 2) pending_add(s, a->owner, 0);
}

static void watch_cb(struct loop_timer *t) {
  struct tonb *s = t->data;
  loop_timer_start(s->loop, &s->watch, s->p.client_poll_ms);
  ledger_accounts_foreach(s->l, LEDGER_CLIENT, watch_account_cb, s);
  for (size_t i = 0; i < s->nwatched; i++)
    if (mark_get(s, SETTLE_TON_MARK_STATE, s->watched[i]) < 2) pending_add(s, s->watched[i], 0);
  watch_kick(s);
}

void settle_ton_client_seen(struct settle *base, const char *client) {
  if (!base || strcmp(base->vt->name, "ton") || !client) return;
  struct tonb *s = (struct tonb *)base;
  size_t n = strlen(client);
  if (!s->deposits_on || n == 0 || n > LEDGER_ADDR_MAX) return;
  int known = 0;
  for (size_t i = 0; i < s->nwatched && !known; i++) known = !strcmp(s->watched[i], client);
  if (!known && s->nwatched < SETTLE_TON_MAX_WATCH) memcpy(s->watched[s->nwatched++], client, n + 1);
  pending_add(s, client, 1);
  watch_kick(s);
}

/* ---------------------------------------------------------------- the vtable */

static int ton_wallet_op(struct settle *base, const char *what, struct err *e) {
  (void)base;
  return err_set(e, ERR_REFUSED,
                 "%s: with ton settlement the client's own wallet sends it to its client contract "
                 "(the client daemon's /request/%s with ton_wallet_key, or cocoon ton wallet-send)",
                 what, what);
}
static int ton_topup(struct settle *base, const char *client, int64_t amount, settle_done_cb cb, void *arg,
                     struct err *e) {
  (void)client, (void)amount, (void)cb, (void)arg;
  return ton_wallet_op(base, "topup", e);
}
static int ton_withdraw(struct settle *base, const char *client, settle_done_cb cb, void *arg, struct err *e) {
  (void)client, (void)cb, (void)arg;
  return ton_wallet_op(base, "withdraw", e);
}
static int ton_close(struct settle *base, const char *client, settle_done_cb cb, void *arg, struct err *e) {
  (void)client, (void)cb, (void)arg;
  return ton_wallet_op(base, "close", e);
}

/* A client asks for its signed total to be committed now: the proxy's wallet submits it. */
static int ton_charge(struct settle *base, const char *client, const uint8_t *boc, size_t len, settle_done_cb cb,
                      void *arg, struct err *e) {
  struct tonb *s = (struct tonb *)base;
  struct ton_payment expect = {.op = TON_OP_CLIENT_CHARGE_SIGNED}, got;
  if (!client || ton_addr_parse(client, &expect.target, NULL, e))
    return err_set(e, ERR_INVALID, "this client's account is not a TON address: nothing to charge on chain");
  int rc = ton_payment_verify(boc, len, s->proxy_pub, &expect, &got, e);
  if (rc) return rc;
  int64_t total = (int64_t)got.tokens;
  if (total < 0) return err_set(e, ERR_INVALID, "signed total out of range");
  if (total <= mark_get(s, SETTLE_TON_MARK_CHARGED, client))
    return err_set(e, ERR_REFUSED, "the contract already holds a total of at least %" PRId64 " tokens", total);
  if ((rc = enqueue(s, JOB_CHARGE, client, total, cb, arg, e))) return rc;
  kick(s);
  return 0;
}

static int ton_status(struct settle *base, const char *client, struct settle_status *out, struct err *e) {
  return status_fill((struct tonb *)base, client, out, e);
}

static void free_jobs(struct job *j) {
  while (j) {
    struct job *n = j->next;
    while (j->waiters) {
      struct waiter *w = j->waiters;
      j->waiters = w->next;
      free(w);
    }
    free(j);
    j = n;
  }
}

static void ton_free(struct settle *base) {
  struct tonb *s = (struct tonb *)base;
  loop_timer_stop(s->loop, &s->scan);
  loop_timer_stop(s->loop, &s->retry);
  loop_timer_stop(s->loop, &s->watch);
  toncenter_free(s->tc); /* cancels s->send and every call: no callback runs afterwards */
  http_client_free(s->hc);
  free_jobs(s->cur);
  free_jobs(s->head);
  chain_proxy_sc_clear(&s->psc);
  free(s->watched);
  free(s->pending);
  OPENSSL_cleanse(&s->p, sizeof(s->p));
  free(s);
}

static const struct settle_vtable TON_VT = {
    .name = "ton",
    .topup = ton_topup,
    .withdraw = ton_withdraw,
    .charge = ton_charge,
    .close = ton_close,
    .status = ton_status,
    .free = ton_free,
};

void settle_ton_get_stats(struct settle *base, struct settle_ton_stats *out) {
  struct tonb *s = (struct tonb *)base;
  *out = s->st;
  out->queued = (int64_t)s->nq + (s->cur ? 1 : 0);
}

int settle_ton_new(struct loop *loop, struct ledger *l, const struct settle_ton_params *p, struct settle **out,
                   struct err *e) {
  int rc;
  if (!p->toncenter_url || !p->toncenter_url[0]) return err_set(e, ERR_INVALID, "ton settlement needs toncenter_url");
  if (p->price_per_token < 0 || p->worker_fee_per_token < 0 || p->msg_value < 0 || p->min_wallet < 0)
    return err_set(e, ERR_INVALID, "ton settlement: negative price, fee or amount");
  struct tonb *s = calloc(1, sizeof(*s));
  if (!s) return err_set(e, ERR_NOMEM, "out of memory");
  s->base.vt = &TON_VT;
  s->loop = loop;
  s->l = l;
  s->p = *p;
  s->p.toncenter_url = s->p.toncenter_api_key = NULL; /* toncenter copies them */
  if (!s->p.msg_value) s->p.msg_value = SETTLE_TON_DEFAULT_MSG_VALUE;
  if (!s->p.min_wallet) s->p.min_wallet = SETTLE_TON_DEFAULT_MIN_WALLET;
  if (!s->p.scan_ms) s->p.scan_ms = SETTLE_TON_DEFAULT_SCAN_MS;
  if (!s->p.poll_ms) s->p.poll_ms = 500;
  if (!s->p.client_poll_ms) s->p.client_poll_ms = SETTLE_TON_DEFAULT_CLIENT_POLL_MS;
  s->p.proxy_contract = NULL;
  if (p->proxy_contract && p->proxy_contract[0]) {
    if ((rc = ton_addr_parse(p->proxy_contract, &s->psc_addr, NULL, e))) {
      rc = err_set(e, ERR_INVALID, "ton_proxy_contract: %s", e->msg);
      goto fail;
    }
    s->watched = calloc(SETTLE_TON_MAX_WATCH, sizeof(*s->watched));
    s->pending = calloc(SETTLE_TON_MAX_WATCH + 64, sizeof(*s->pending));
    if (!s->watched || !s->pending) {
      rc = err_set(e, ERR_NOMEM, "out of memory");
      goto fail;
    }
    s->deposits_on = 1;
  }
  s->st.wallet_balance = -1;
  uint8_t wpub[32];
  if (ton_sign_pubkey(p->proxy_seed, s->proxy_pub) || ton_sign_pubkey(p->wallet_seed, wpub)) {
    rc = err_set(e, ERR_CRYPTO, "ton settlement: bad key");
    goto fail;
  }
  if (ton_wallet_init(&s->w, p->wallet_kind, 0, wpub, p->testnet)) {
    rc = err_set(e, ERR_INVALID, "ton settlement: bad wallet kind");
    goto fail;
  }
  if ((rc = ton_wallet_address(&s->w, &s->waddr, e))) goto fail;
  if (ton_addr_to_friendly(&s->waddr, 0, p->testnet, 1, s->waddr_s, sizeof(s->waddr_s)))
    ton_addr_to_raw(&s->waddr, s->waddr_s, sizeof(s->waddr_s));
  struct http_client_config hcfg = {0};
  if ((rc = http_client_new(loop, &hcfg, &s->hc))) {
    rc = err_set(e, rc, "ton settlement: http client");
    goto fail;
  }
  struct toncenter_config tcfg = {.endpoint = p->toncenter_url, .api_key = p->toncenter_api_key};
  if ((rc = toncenter_new(loop, s->hc, &tcfg, &s->tc, e))) goto fail;
  loop_timer_init(&s->scan, scan_cb, s);
  loop_timer_init(&s->retry, retry_cb, s);
  loop_timer_init(&s->watch, watch_cb, s);
  loop_timer_start(loop, &s->scan, s->p.scan_ms);
  if (s->deposits_on) loop_timer_start(loop, &s->watch, CC_MIN(s->p.scan_ms, s->p.client_poll_ms));
  log_info("ton_settle_start", "wallet=%s charge_threshold=%" PRId64 " payout_threshold=%" PRId64 " deposits=%s",
           s->waddr_s, s->p.charge_threshold, s->p.payout_threshold,
           s->deposits_on ? "from the client contracts" : "not read (no ton_proxy_contract)");
  *out = &s->base;
  return 0;
fail:
  http_client_free(s->hc);
  free(s->watched);
  free(s->pending);
  OPENSSL_cleanse(&s->p, sizeof(s->p));
  free(s);
  return rc;
}
