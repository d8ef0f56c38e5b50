/* settle: the settlement interface and its `local` backend (the ledger alone, with the client
 * contract's rules: stake kept on withdraw, close delay before the full refund). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ledger/settle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ton/address.h"
#include "ton/payment.h"

int settle_topup(struct settle *s, const char *client, int64_t amount, settle_done_cb cb, void *arg, struct err *e) {
  return s->vt->topup(s, client, amount, cb, arg, e);
}
int settle_withdraw(struct settle *s, const char *client, settle_done_cb cb, void *arg, struct err *e) {
  return s->vt->withdraw(s, client, cb, arg, e);
}
int settle_charge(struct settle *s, const char *client, const uint8_t *boc, size_t len, settle_done_cb cb, void *arg,
                  struct err *e) {
  return s->vt->charge(s, client, boc, len, cb, arg, e);
}
int settle_close(struct settle *s, const char *client, settle_done_cb cb, void *arg, struct err *e) {
  return s->vt->close(s, client, cb, arg, e);
}
int settle_status(struct settle *s, const char *client, struct settle_status *out, struct err *e) {
  return s->vt->status(s, client, out, e);
}
int settle_can_run(struct settle *s, const char *client) {
  struct settle_status st;
  if (settle_status(s, client, &st, NULL) != 0) return 1; /* no account: the reservation decides */
  return st.state == SETTLE_RUNNING;
}
void settle_free(struct settle *s) {
  if (s) s->vt->free(s);
}
const char *settle_state_name(enum settle_state st) {
  switch (st) {
  case SETTLE_RUNNING: return "running";
  case SETTLE_CLOSING: return "closing";
  case SETTLE_CLOSED: return "closed";
  }
  return "unknown";
}

/* ---------------------------------------------------------------- local backend */

#define MARK_CHARGED "client_charged"
#define MARK_CLOSING "client_closing"
#define MARK_CLOSED "client_closed"

/* An accepted operation waiting for its ledger commit; the cookie is its address | TAG. */
struct pending_op {
  struct local *s;
  struct pending_op *next, *prev;
  settle_done_cb cb;
  void *arg;
  int64_t moved;
  char client[LEDGER_ADDR_MAX + 1];
};

struct local {
  struct settle base;
  struct ledger *l;
  struct settle_local_params p;
  int64_t (*now_ms)(void);
  struct pending_op *ops;
};

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mark(struct local *s, const char *kind, const char *client) {
  int64_t v = 0;
  if (ledger_payment_get(s->l, kind, client, &v) != 0) v = 0;
  return v;
}

static int local_status(struct settle *base, const char *client, struct settle_status *out, struct err *e) {
  struct local *s = (struct local *)base;
  struct ledger_account a;
  memset(out, 0, sizeof(*out));
  if (!client || ledger_account_get(s->l, LEDGER_CLIENT, client, &a) != 0)
    return err_set(e, ERR_NOTFOUND, "no account for this client at this proxy");
  out->balance = a.balance;
  out->stake = a.stake;
  out->reserved = a.reserved;
  out->tokens_used = a.tokens;
  out->tokens_charged = mark(s, MARK_CHARGED, client);
  int64_t unlock = mark(s, MARK_CLOSING, client);
  if (mark(s, MARK_CLOSED, client) > 0) out->state = SETTLE_CLOSED;
  else if (unlock > 0) {
    out->state = SETTLE_CLOSING;
    out->unlock_at_ms = unlock;
  }
  return 0;
}

static struct pending_op *op_new(struct local *s, const char *client, settle_done_cb cb, void *arg, struct err *e) {
  struct pending_op *op = calloc(1, sizeof(*op));
  if (!op) {
    err_set(e, ERR_NOMEM, "out of memory");
    return NULL;
  }
  op->s = s;
  op->cb = cb;
  op->arg = arg;
  snprintf(op->client, sizeof(op->client), "%s", client);
  return op;
}

static void op_link(struct local *s, struct pending_op *op) {
  op->next = s->ops;
  if (s->ops) s->ops->prev = op;
  s->ops = op;
}

static uint64_t cookie_of(struct pending_op *op) { return (uint64_t)(uintptr_t)op | SETTLE_COOKIE_TAG; }

/* Queues a balance/stake transfer whose commit completes op (cookie) or nothing (0). */
static int xfer(struct local *s, const char *client, int64_t balance_delta, int64_t stake_delta, uint64_t cookie,
                struct err *e) {
  return ledger_record_transfer(s->l, LEDGER_CLIENT, client, balance_delta, stake_delta, cookie, e);
}

static int running_or_refuse(struct local *s, const char *client, struct settle_status *st, struct err *e) {
  int rc = local_status(&s->base, client, st, e);
  if (rc) return rc;
  if (st->state != SETTLE_RUNNING)
    return err_set(e, ERR_REFUSED, "the client account is %s (contract error 1006: closed)",
                   settle_state_name(st->state));
  return 0;
}

static int local_topup(struct settle *base, const char *client, int64_t amount, settle_done_cb cb, void *arg,
                       struct err *e) {
  struct local *s = (struct local *)base;
  struct settle_status st;
  int rc = local_status(base, client, &st, NULL);
  if (rc == 0 && st.state != SETTLE_RUNNING)
    return err_set(e, ERR_REFUSED, "the client account is %s: top-ups are refused (contract error 1006)",
                   settle_state_name(st.state));
  if (amount <= 0) amount = s->p.min_client_stake;
  if (amount <= 0) return err_set(e, ERR_INVALID, "top-up amount must be positive");
  /* The client contract starts with stake = min_client_stake; it only ever goes up. */
  int64_t stake_delta = st.stake < s->p.min_client_stake ? s->p.min_client_stake - st.stake : 0;
  struct pending_op *op = op_new(s, client, cb, arg, e);
  if (!op) return ERR_NOMEM;
  op->moved = amount;
  if ((rc = xfer(s, client, amount, stake_delta, cookie_of(op), e)) != 0) {
    free(op);
    return rc;
  }
  op_link(s, op);
  return 0;
}

static int local_withdraw(struct settle *base, const char *client, settle_done_cb cb, void *arg, struct err *e) {
  struct local *s = (struct local *)base;
  struct settle_status st;
  int rc = running_or_refuse(s, client, &st, e);
  if (rc) return rc;
  int64_t amount = st.balance - st.reserved - st.stake;
  if (amount <= 0)
    return err_set(e, ERR_REFUSED, "nothing to withdraw: balance %lld, reserved %lld, stake %lld (the stake stays)",
                   (long long)st.balance, (long long)st.reserved, (long long)st.stake);
  struct pending_op *op = op_new(s, client, cb, arg, e);
  if (!op) return ERR_NOMEM;
  op->moved = -amount;
  if ((rc = xfer(s, client, -amount, 0, cookie_of(op), e)) != 0) {
    free(op);
    return rc;
  }
  op_link(s, op);
  return 0;
}

static int local_charge(struct settle *base, const char *client, const uint8_t *boc, size_t len, settle_done_cb cb,
                        void *arg, struct err *e) {
  struct local *s = (struct local *)base;
  struct settle_status st;
  int rc = local_status(base, client, &st, e);
  if (rc) return rc;
  if (st.state == SETTLE_CLOSED) return err_set(e, ERR_REFUSED, "the client account is closed (contract error 1006)");
  struct ton_payment expect = {.op = TON_OP_CLIENT_CHARGE_SIGNED}, got;
  if (ton_addr_parse(client, &expect.target, NULL, e))
    return err_set(e, ERR_INVALID, "the client's address is not a TON address: nothing can be charged");
  if (!boc || len == 0) return err_set(e, ERR_INVALID, "no signed charge to commit");
  if ((rc = ton_payment_verify(boc, len, s->p.proxy_pubkey, &expect, &got, e)) != 0) return rc;
  if (got.tokens > (uint64_t)INT64_MAX) return err_set(e, ERR_INVALID, "signed total out of range");
  if ((int64_t)got.tokens <= st.tokens_charged)
    return err_set(e, ERR_REFUSED, "signed total %llu is not above the %lld already charged (contract error 1000: old message)",
                   (unsigned long long)got.tokens, (long long)st.tokens_charged);
  if ((int64_t)got.tokens > st.tokens_used)
    return err_set(e, ERR_INVALID, "signed total %llu exceeds the %lld tokens this ledger recorded",
                   (unsigned long long)got.tokens, (long long)st.tokens_used);
  struct pending_op *op = op_new(s, client, cb, arg, e);
  if (!op) return ERR_NOMEM;
  /* Locally each request already took its price from the balance; the charge only commits the
   * total, as the contract's tokens_used. */
  if ((rc = ledger_record_payment(s->l, MARK_CHARGED, client, (int64_t)got.tokens, boc, len, cookie_of(op), e)) != 0) {
    free(op);
    return rc;
  }
  op_link(s, op);
  return 0;
}

static int local_close(struct settle *base, const char *client, settle_done_cb cb, void *arg, struct err *e) {
  struct local *s = (struct local *)base;
  struct settle_status st;
  int rc = local_status(base, client, &st, e);
  if (rc) return rc;
  int64_t now = s->now_ms();
  int64_t refund, stake_delta = 0;
  const char *kind;
  int64_t value;
  if (st.state == SETTLE_CLOSED) return err_set(e, ERR_REFUSED, "the client account is already closed");
  if (st.state == SETTLE_RUNNING) {
    /* First request_refund: closing; what is above the stake comes back at once. */
    refund = st.balance - st.reserved - st.stake;
    kind = MARK_CLOSING;
    value = now + s->p.client_delay_close_ms;
    if (value <= 0) value = 1;
  } else {
    if (now < st.unlock_at_ms)
      return err_set(e, ERR_REFUSED, "closing: the rest is refunded after %lld ms more (contract error 1011: not unlocked yet)",
                     (long long)(st.unlock_at_ms - now));
    if (st.reserved > 0)
      return err_set(e, ERR_AGAIN, "requests of this client are still running; retry when they end");
    refund = st.balance;
    stake_delta = -st.stake;
    kind = MARK_CLOSED;
    value = now > 0 ? now : 1;
  }
  if (refund < 0) refund = 0;
  struct pending_op *op = op_new(s, client, cb, arg, e);
  if (!op) return ERR_NOMEM;
  op->moved = -refund;
  if ((refund > 0 || stake_delta != 0) && (rc = xfer(s, client, -refund, stake_delta, 0, e)) != 0) {
    free(op);
    return rc;
  }
  if ((rc = ledger_record_payment(s->l, kind, client, value, NULL, 0, cookie_of(op), e)) != 0) {
    free(op);
    return rc;
  }
  op_link(s, op);
  return 0;
}

void settle_local_committed(struct settle *base, const struct ledger_item *it, const struct ledger_batch *b) {
  struct pending_op *op = (struct pending_op *)(uintptr_t)(it->cookie & ~(uint64_t)SETTLE_COOKIE_TAG);
  if (!op || !base) return;
  struct local *s = (struct local *)base;
  if (op->prev) op->prev->next = op->next;
  else s->ops = op->next;
  if (op->next) op->next->prev = op->prev;
  struct settle_result r = {.rc = b->rc < 0 ? b->rc : 0, .moved = op->moved};
  if (b->rc < 0) r.error = b->error ? b->error : "ledger write failed";
  else if (it->status == LEDGER_ITEM_STALE) {
    r.rc = ERR_REFUSED;
    r.error = "a higher total was committed first";
  }
  (void)local_status(base, op->client, &r.status, NULL);
  if (op->cb) op->cb(op->arg, &r);
  free(op);
}

static void local_free(struct settle *base) {
  struct local *s = (struct local *)base;
  while (s->ops) {
    struct pending_op *op = s->ops;
    s->ops = op->next;
    free(op);
  }
  free(s);
}

static const struct settle_vtable local_vt = {
    .name = "local",
    .topup = local_topup,
    .withdraw = local_withdraw,
    .charge = local_charge,
    .close = local_close,
    .status = local_status,
    .free = local_free,
};

int settle_local_new(struct ledger *l, const struct settle_local_params *p, struct settle **out, struct err *e) {
  if (p->min_client_stake < 0 || p->client_delay_close_ms < 0)
    return err_set(e, ERR_INVALID, "stake and close delay may not be negative");
  struct local *s = calloc(1, sizeof(*s));
  if (!s) return err_set(e, ERR_NOMEM, "out of memory");
  s->base.vt = &local_vt;
  s->l = l;
  s->p = *p;
  s->now_ms = wall_ms;
  *out = &s->base;
  return 0;
}

int settle_local_set_terms(struct settle *base, int64_t min_client_stake, int64_t client_delay_close_ms) {
  if (!base || base->vt != &local_vt || min_client_stake < 0 || client_delay_close_ms < 0) return ERR_INVALID;
  struct local *s = (struct local *)base;
  s->p.min_client_stake = min_client_stake;
  s->p.client_delay_close_ms = client_delay_close_ms;
  return 0;
}

void settle_local_set_clock(struct settle *base, int64_t (*now_ms)(void)) {
  struct local *s = (struct local *)base;
  s->now_ms = now_ms ? now_ms : wall_ms;
}
