/* settle: the settlement interface (top-up, withdraw, charge, close/refund, status of a client
 * account) and its `local` backend, which applies the operations to the proxy's ledger with the
 * rules COCOON's client contract enforces. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_LEDGER_SETTLE_H
#define COCOON_LEDGER_SETTLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ledger/ledger.h"

struct loop;

/* The client contract's states (COCOON: 0 running, 1 closing, 2 closed). */
enum settle_state { SETTLE_RUNNING = 0, SETTLE_CLOSING = 1, SETTLE_CLOSED = 2 };

/* One client account as the settlement backend sees it. Amounts in nano-TON. */
struct settle_status {
  enum settle_state state;
  int64_t balance;        /* deposits - refunds - charges for every recorded request */
  int64_t stake;          /* part of the balance a withdrawal leaves in place */
  int64_t reserved;       /* held by running requests */
  int64_t tokens_used;    /* adjusted tokens of every recorded request */
  int64_t tokens_charged; /* highest signed charge committed (on chain, or in the ledger locally) */
  int64_t unlock_at_ms;   /* closing: when the rest may be refunded; else 0 */
};

struct settle_result {
  int rc;            /* 0, or the error of a write that failed after the operation was accepted */
  const char *error; /* rc != 0: why */
  int64_t moved;     /* nano-TON credited (> 0) or refunded (< 0) */
  struct settle_status status; /* the account after the operation */
};

/* Completion of an accepted operation, on the loop thread, once it is durable (local: the
 * ledger commit; ton: the transaction seen on chain). `r` is borrowed for the call. */
typedef void (*settle_done_cb)(void *arg, const struct settle_result *r);

struct settle;

/* A backend. Each operation either refuses at once (returns < 0 with the reason in e; cb is
 * never called) or accepts (returns 0) and calls cb exactly once later; none blocks. */
struct settle_vtable {
  const char *name;
  /* amount <= 0: the configured stake (COCOON tops up by one stake). Refused unless running. */
  int (*topup)(struct settle *s, const char *client, int64_t amount, settle_done_cb cb, void *arg, struct err *e);
  /* Refunds the balance above stake and reservations. Refused unless running. */
  int (*withdraw)(struct settle *s, const char *client, settle_done_cb cb, void *arg, struct err *e);
  /* Commits a proxy-signed charge (BoC) for the client: its total must exceed the one charged. */
  int (*charge)(struct settle *s, const char *client, const uint8_t *boc, size_t len, settle_done_cb cb, void *arg,
                struct err *e);
  /* First call: closing, the balance above the stake refunded, unlock after the close delay.
   * Call after the unlock: closed, the rest refunded. */
  int (*close)(struct settle *s, const char *client, settle_done_cb cb, void *arg, struct err *e);
  /* Synchronous: the account as known now. ERR_NOTFOUND when the client has none. */
  int (*status)(struct settle *s, const char *client, struct settle_status *out, struct err *e);
  void (*free)(struct settle *s);
};

struct settle {
  const struct settle_vtable *vt;
};

CC_NODISCARD int settle_topup(struct settle *s, const char *client, int64_t amount, settle_done_cb cb, void *arg,
                              struct err *e);
CC_NODISCARD int settle_withdraw(struct settle *s, const char *client, settle_done_cb cb, void *arg, struct err *e);
CC_NODISCARD int settle_charge(struct settle *s, const char *client, const uint8_t *boc, size_t len,
                               settle_done_cb cb, void *arg, struct err *e);
CC_NODISCARD int settle_close(struct settle *s, const char *client, settle_done_cb cb, void *arg, struct err *e);
CC_NODISCARD int settle_status(struct settle *s, const char *client, struct settle_status *out, struct err *e);
/* May a client in this state start requests? (COCOON: not once closing.) */
int settle_can_run(struct settle *s, const char *client);
void settle_free(struct settle *s); /* NULL-safe; operations still waiting are dropped silently */
const char *settle_state_name(enum settle_state st);

/* ---- the local backend ---- */

struct settle_local_params {
  int64_t min_client_stake;     /* nano-TON; a client's stake is raised to it on top-up */
  int64_t client_delay_close_ms; /* closing -> refundable */
  uint8_t proxy_pubkey[32];     /* signed charges must verify against it */
};

/* The ledger (borrowed; must outlive the backend) keeps the state: transfers for money, the
 * payment marks "client_charged" (total), "client_closing" (unlock time, ms) and "client_closed"
 * (time, ms) for the contract's fields. Completions ride on ledger commits: the ledger's owner
 * passes every committed item whose cookie has SETTLE_COOKIE_TAG set to settle_local_committed. */
CC_NODISCARD int settle_local_new(struct ledger *l, const struct settle_local_params *p, struct settle **out,
                                  struct err *e);
#define SETTLE_COOKIE_TAG 1u
void settle_local_committed(struct settle *s, const struct ledger_item *it, const struct ledger_batch *b);

/* New contract terms (a newer registry) for operations that start after the call. ERR_INVALID
 * when s is not the local backend or a value is negative. */
CC_NODISCARD int settle_local_set_terms(struct settle *s, int64_t min_client_stake, int64_t client_delay_close_ms);

/* Wall clock the local backend uses (unix ms); tests move it to pass the close delay. */
void settle_local_set_clock(struct settle *s, int64_t (*now_ms)(void));

#endif
