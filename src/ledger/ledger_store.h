/* ledger_store: the ledger's SQLite schema, row MACs, account map and the full-file check (internal). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_LEDGER_LEDGER_STORE_H
#define COCOON_LEDGER_LEDGER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>
#include <sqlite3.h>

#include "base/err.h"
#include "ledger/billing.h"
#include "ledger/ledger.h"

#define LEDGER_SCHEMA_VERSION 2
#define LEDGER_MAC_SIZE 32
#define LEDGER_PAYKEY_MAX (LEDGER_PAY_KIND_MAX + 1 + LEDGER_ADDR_MAX)

/* ---- input validation ---- */
CC_NODISCARD int ledger_check_addr(const char *what, const char *s, struct err *e);
CC_NODISCARD int ledger_check_id(const char *s, struct err *e);
CC_NODISCARD int ledger_check_model(const char *s, struct err *e);
CC_NODISCARD int ledger_check_pay_kind(const char *s, struct err *e);
const char *ledger_kind_name(enum ledger_kind k);

/* ---- MAC: HMAC-SHA256 under a key derived from the machine key ---- */
struct ledger_mac {
  EVP_MAC *mac;
  EVP_MAC_CTX *ctx;
  uint8_t key[LEDGER_MAC_SIZE];
};
CC_NODISCARD int ledger_mac_init(struct ledger_mac *m, const uint8_t seed[LEDGER_KEY_SIZE], struct err *e);
void ledger_mac_free(struct ledger_mac *m); /* wipes the key; NULL-safe */

/* Rows as stored. Each *_mac() computes the row's MAC over its canonical serialization:
 * a table tag, then every column in order, integers as 8 bytes big-endian, text and blobs as
 * a 4-byte big-endian length and the bytes. */
struct ledger_acct_row {
  enum ledger_kind kind;
  char owner[LEDGER_ADDR_MAX + 1];
  int64_t balance, stake, tokens, amount, requests, commit_seq;
};
struct ledger_req_row {
  int64_t id;
  char request_id[LEDGER_ID_MAX + 1];
  char client[LEDGER_ADDR_MAX + 1];
  char worker[LEDGER_ADDR_MAX + 1];
  char model[LEDGER_MODEL_MAX + 1];
  struct billing_usage usage;
  uint32_t coefficient;
  struct billing_prices prices;
  int64_t adjusted_tokens, client_charge, worker_earning, proxy_commission;
  int64_t started_at, ended_at;
  int failed;
  int64_t commit_seq;
};
struct ledger_xfer_row {
  int64_t id;
  enum ledger_kind kind;
  char owner[LEDGER_ADDR_MAX + 1];
  int64_t balance_delta, stake_delta, at, commit_seq;
};
struct ledger_pay_row {
  char kind[LEDGER_PAY_KIND_MAX + 1];
  char peer[LEDGER_ADDR_MAX + 1];
  int64_t tokens;
  const uint8_t *sig; /* borrowed */
  size_t sig_len;
  int64_t updated_at, commit_seq;
};
struct ledger_commit_row {
  int64_t seq, committed_at, ops;
  int64_t requests_total, transfers_total, charge_total, earning_total, commission_total;
  uint8_t prev_mac[LEDGER_MAC_SIZE]; /* not a column: chains each commit to the one before */
};
CC_NODISCARD int ledger_mac_acct(struct ledger_mac *m, const struct ledger_acct_row *r, uint8_t out[LEDGER_MAC_SIZE]);
CC_NODISCARD int ledger_mac_req(struct ledger_mac *m, const struct ledger_req_row *r, uint8_t out[LEDGER_MAC_SIZE]);
CC_NODISCARD int ledger_mac_xfer(struct ledger_mac *m, const struct ledger_xfer_row *r, uint8_t out[LEDGER_MAC_SIZE]);
CC_NODISCARD int ledger_mac_pay(struct ledger_mac *m, const struct ledger_pay_row *r, uint8_t out[LEDGER_MAC_SIZE]);
CC_NODISCARD int ledger_mac_commit(struct ledger_mac *m, const struct ledger_commit_row *r, uint8_t out[LEDGER_MAC_SIZE]);

/* ---- map of accounts (or payment marks) with stable entries ---- */
struct ledger_entry {
  uint8_t kind;                       /* enum ledger_kind; 0 for payment marks */
  char key[LEDGER_PAYKEY_MAX + 1];    /* owner, or "paykind/peer" */
  struct ledger_account acct;         /* accounts */
  int64_t pay_tokens;                 /* payment marks */
  int64_t commit_seq;
  struct ledger_entry *next_touched;  /* writer: accounts changed in the current batch */
  int touched;
};
struct ledger_map {
  struct ledger_entry **slots;
  size_t cap, n;
};
struct ledger_entry *ledger_map_find(const struct ledger_map *m, uint8_t kind, const char *key);
/* Finds or adds (zeroed, key set); ERR_LIMIT past LEDGER_MAX_ACCOUNTS, ERR_NOMEM. */
CC_NODISCARD int ledger_map_get(struct ledger_map *m, uint8_t kind, const char *key,
                                struct ledger_entry **out, struct err *e);
CC_NODISCARD int ledger_map_copy(struct ledger_map *dst, const struct ledger_map *src, struct err *e);
void ledger_map_free(struct ledger_map *m);
/* "kind/peer" into out (size LEDGER_PAYKEY_MAX + 1). */
void ledger_pay_key(const char *kind, const char *peer, char *out);

/* ---- file ---- */
/* Opens the SQLite file (WAL, synchronous=FULL). readonly: the file must exist. */
CC_NODISCARD int ledger_store_open(const char *path, int readonly, sqlite3 **out, struct err *e);
/* Creates or migrates the schema and records/checks the key check value. */
CC_NODISCARD int ledger_store_migrate(sqlite3 *db, const char *path, struct ledger_mac *m, struct err *e);

/* What a full scan of the file finds. */
struct ledger_scan {
  ledger_report_cb cb; /* may be NULL */
  void *arg;
  size_t max_reports;
  int check_credit; /* also replay each client's balance commit by commit (never negative) */
  struct ledger_verify_stats stats;
  int64_t mac_violations;
  char first[256];          /* first violation */
  struct ledger_map accts;  /* accounts as stored */
  struct ledger_map pays;   /* payment marks as stored */
  int64_t last_req_id, last_xfer_id;
  struct ledger_commit_row last_commit; /* seq 0 when none */
  uint8_t last_mac[LEDGER_MAC_SIZE];
};
/* Checks the key, every MAC and invariant; violations go to sc (counted, reported). Returns 0
 * when the scan ran (look at sc->stats.violations), negative when the file could not be read.
 * Caller frees sc with ledger_scan_free. */
CC_NODISCARD int ledger_store_scan(sqlite3 *db, struct ledger_mac *m, struct ledger_scan *sc, struct err *e);
void ledger_scan_free(struct ledger_scan *sc);

#endif
