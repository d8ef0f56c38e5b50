/* ledger: the proxy's durable money record (SQLite), written by group commit off the event loop. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_LEDGER_LEDGER_H
#define COCOON_LEDGER_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ledger/billing.h"

struct loop;

/* Limits, stated once. Strings longer than these are refused with ERR_LIMIT. */
#define LEDGER_ADDR_MAX 80        /* account owner / payment peer: [A-Za-z0-9:_+/=-] */
#define LEDGER_ID_MAX 64          /* request id: lowercase hex */
#define LEDGER_MODEL_MAX 128      /* model name: printable ASCII */
#define LEDGER_PAY_KIND_MAX 32    /* payment kind: [a-z_] */
#define LEDGER_SIG_MAX 1024       /* signed payment message (BoC) bytes */
#define LEDGER_QUEUE_DEFAULT 16384 /* queued-but-unwritten operations */
#define LEDGER_QUEUE_MAX 1048576
#define LEDGER_MAX_ACCOUNTS 1048576
#define LEDGER_KEY_SIZE 32

enum ledger_kind { LEDGER_CLIENT = 1, LEDGER_WORKER = 2 };

/* An account as the loop thread sees it: committed state plus everything queued since
 * (`reserved` is in memory only, never written). Amounts in nano-TON, tokens adjusted. */
struct ledger_account {
  enum ledger_kind kind;
  char owner[LEDGER_ADDR_MAX + 1];
  int64_t balance;  /* client: deposits - withdrawals - charges; worker: earnings + transfers */
  int64_t stake;
  int64_t tokens;   /* client: adjusted tokens used; worker: adjusted tokens earned */
  int64_t amount;   /* client: total charged; worker: total earned */
  int64_t requests; /* requests recorded */
  int64_t reserved; /* client: nano-TON held by running requests */
};

/* One finished request. Strings are borrowed for the duration of the call. */
struct ledger_request {
  const char *request_id; /* hex: the client's label, not a key (a reused one is billed again) */
  const char *client;
  const char *worker;
  const char *model;
  struct billing_usage usage;   /* already sanity-checked by the caller (billing_usage_check) */
  uint32_t coefficient;         /* worker coefficient, 1000 = 1.0x */
  struct billing_prices prices; /* prices in force for this request; stored with it */
  int64_t started_at_ms;        /* unix ms; 0: now */
  int64_t ended_at_ms;          /* unix ms; 0: now */
  int failed;                   /* nonzero: status "failed" (usage is still billed as given) */
  int64_t release;              /* nano-TON the client had reserved for it, released now */
};

enum ledger_op_type { LEDGER_OP_REQUEST = 1, LEDGER_OP_TRANSFER = 2, LEDGER_OP_PAYMENT = 3 };
enum ledger_item_status {
  LEDGER_ITEM_OK = 0,
  LEDGER_ITEM_STALE = 2,     /* payment not above the stored high-water mark: nothing written */
};

struct ledger_item {
  enum ledger_op_type type;
  enum ledger_item_status status;
  uint64_t cookie;         /* as given when queued */
  const char *request_id;  /* requests: the id; others: "" */
};

/* A batch written in one transaction. rc == 0: every item is durable (fsync'd). rc < 0: the
 * transaction failed and nothing of it is written; `error` says why and the ledger is failed
 * (every later call returns ERR_IO). Borrowed during the callback only. */
struct ledger_batch {
  int rc;
  const char *error;
  uint64_t seq; /* commit sequence number */
  size_t n;
  const struct ledger_item *items;
  uint64_t write_us; /* time spent in the transaction, fsync included */
};

/* Runs on the loop thread that opened the ledger, in commit order. It may queue more work but
 * must not call ledger_close. */
typedef void (*ledger_committed_cb)(void *arg, const struct ledger_batch *b);

struct ledger_opts {
  size_t queue_max;    /* 0: LEDGER_QUEUE_DEFAULT */
  ledger_committed_cb committed_cb; /* may be NULL */
  void *cb_arg;
};

struct ledger;

/* Opens (creating or migrating) the ledger at path, checks every row's MAC and every invariant
 * (refuses with ERR_CRYPTO / ERR_INVALID naming the table and row), loads the accounts and starts
 * the writer thread. Blocking: call at startup. seed = the proxy's 32-byte Ed25519 machine key;
 * the MAC key is derived from it (HKDF-SHA256, info "cocoon-ledger-mac"); borrowed. loop
 * borrowed, must outlive the ledger. Caller frees with ledger_close. */
CC_NODISCARD int ledger_open(const char *path, const uint8_t seed[LEDGER_KEY_SIZE], struct loop *loop,
                             const struct ledger_opts *opts, struct ledger **out, struct err *e);
/* Writes everything queued, delivers the remaining committed callbacks, stops the writer and
 * frees. Returns the first write error seen (0 when all was durable). NULL-safe. */
int ledger_close(struct ledger *l, struct err *e);

/* Loop thread only, no I/O: each queues one operation for the next group commit and updates the
 * in-memory accounts at once. ERR_AGAIN when the queue is full (retry after a committed
 * callback), ERR_IO once the ledger has failed, ERR_INVALID/ERR_LIMIT for bad input.
 * Accounts named but absent are created with zero balance. */
CC_NODISCARD int ledger_record_request(struct ledger *l, const struct ledger_request *r,
                                       uint64_t cookie, struct billing_amounts *amounts_out,
                                       struct err *e);
/* Top-up (positive) or withdrawal/payout (negative) of an account's balance and stake. A client's
 * balance may not drop below its reservations, nor a stake below zero (ERR_REFUSED). */
CC_NODISCARD int ledger_record_transfer(struct ledger *l, enum ledger_kind kind, const char *owner,
                                        int64_t balance_delta, int64_t stake_delta, uint64_t cookie,
                                        struct err *e);
/* Signed-payment high-water mark for (kind, peer), e.g. ("client_charge", client address). A
 * lower total than the one known is refused (ERR_REFUSED); sig (<= LEDGER_SIG_MAX) copied. */
CC_NODISCARD int ledger_record_payment(struct ledger *l, const char *kind, const char *peer,
                                       int64_t tokens, const uint8_t *sig, size_t sig_len,
                                       uint64_t cookie, struct err *e);

/* Reservations (loop thread, memory only): ERR_REFUSED when balance - reserved < amount. */
CC_NODISCARD int ledger_reserve(struct ledger *l, const char *client, int64_t amount, struct err *e);
void ledger_release(struct ledger *l, const char *client, int64_t amount);

/* Copies the account into out; ERR_NOTFOUND when absent. */
CC_NODISCARD int ledger_account_get(struct ledger *l, enum ledger_kind kind, const char *owner,
                                    struct ledger_account *out);
/* Highest payment total recorded or queued for (kind, peer); ERR_NOTFOUND when none. */
CC_NODISCARD int ledger_payment_get(struct ledger *l, const char *kind, const char *peer,
                                    int64_t *tokens_out);
/* Calls cb for every account of `kind` (loop thread; cb may queue payments and transfers but must
 * not create accounts). Returns the number visited. */
size_t ledger_accounts_foreach(struct ledger *l, enum ledger_kind kind,
                               void (*cb)(void *arg, const struct ledger_account *a), void *arg);
/* Operations queued and not yet reported committed. */
size_t ledger_pending(const struct ledger *l);

/* ---- offline checks (no ledger open needed; blocking) ---- */

/* Called once per violation with a one-line description naming the table and row. */
typedef void (*ledger_report_cb)(void *arg, const char *violation);

struct ledger_verify_stats {
  int64_t accounts, requests, transfers, payments, commits;
  int64_t charge_total, earning_total, commission_total;
  int64_t violations;
};

/* Checks the key, every row's MAC and the invariants of the ledger at path (read-only):
 * sum(charges) == sum(earnings) + sum(commissions); each request's amounts recomputed from its
 * stored usage, coefficient and prices; account totals and balances == the sums of their rows;
 * the commit chain and its totals. Returns 0 when all hold, ERR_INVALID after reporting each
 * violation (at most `max_reports` reported, 0: unlimited), other codes when the file cannot be
 * read. stats may be NULL. */
CC_NODISCARD int ledger_verify(const char *path, const uint8_t seed[LEDGER_KEY_SIZE],
                               ledger_report_cb cb, void *arg, size_t max_reports,
                               struct ledger_verify_stats *stats, struct err *e);

/* ledger_verify plus the proxy's credit invariant: replaying each client's transfers and
 * charges commit by commit, its balance never goes negative (no client spent beyond its credit).
 * The ledger library itself records what it is given; the proxy's reservations guarantee this. */
CC_NODISCARD int ledger_verify_credit(const char *path, const uint8_t seed[LEDGER_KEY_SIZE],
                                      ledger_report_cb cb, void *arg, size_t max_reports,
                                      struct ledger_verify_stats *stats, struct err *e);

/* Reads the proxy's machine key: a PEM Ed25519 private key (as `cocoon keygen` writes), or a
 * file holding exactly 64 hex digits (base/keyfile.h; mode 0600). Wipe seed after use. */
CC_NODISCARD int ledger_key_load(const char *path, uint8_t seed[LEDGER_KEY_SIZE], struct err *e);

#endif
