/* ledger_store: the ledger's SQLite schema, row MACs, account map and the full-file check (internal). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ledger/ledger_store.h"
#include "ledger/ledger_vfs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "base/util.h"

/* ---------------------------------------------------------------- validation */

static int in_set(char c, const char *extra) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != '\0' && strchr(extra, c) != NULL);
}

int ledger_check_addr(const char *what, const char *s, struct err *e) {
  if (!s || !*s) return err_set(e, ERR_INVALID, "%s: empty address", what);
  size_t n = strnlen(s, LEDGER_ADDR_MAX + 1);
  if (n > LEDGER_ADDR_MAX) return err_set(e, ERR_LIMIT, "%s: address longer than %d", what, LEDGER_ADDR_MAX);
  for (size_t i = 0; i < n; i++)
    if (!in_set(s[i], ":_+/=-")) return err_set(e, ERR_INVALID, "%s: bad character in address", what);
  return 0;
}

int ledger_check_id(const char *s, struct err *e) {
  if (!s || !*s) return err_set(e, ERR_INVALID, "empty request id");
  size_t n = strnlen(s, LEDGER_ID_MAX + 1);
  if (n > LEDGER_ID_MAX) return err_set(e, ERR_LIMIT, "request id longer than %d", LEDGER_ID_MAX);
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return err_set(e, ERR_INVALID, "request id is not lowercase hex");
  return 0;
}

int ledger_check_model(const char *s, struct err *e) {
  if (!s || !*s) return err_set(e, ERR_INVALID, "empty model name");
  size_t n = strnlen(s, LEDGER_MODEL_MAX + 1);
  if (n > LEDGER_MODEL_MAX) return err_set(e, ERR_LIMIT, "model name longer than %d", LEDGER_MODEL_MAX);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
      return err_set(e, ERR_INVALID, "model name has a non-printable byte");
  return 0;
}

int ledger_check_pay_kind(const char *s, struct err *e) {
  if (!s || !*s) return err_set(e, ERR_INVALID, "empty payment kind");
  size_t n = strnlen(s, LEDGER_PAY_KIND_MAX + 1);
  if (n > LEDGER_PAY_KIND_MAX) return err_set(e, ERR_LIMIT, "payment kind longer than %d", LEDGER_PAY_KIND_MAX);
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
      return err_set(e, ERR_INVALID, "payment kind must be [a-z_]");
  return 0;
}

const char *ledger_kind_name(enum ledger_kind k) {
  return k == LEDGER_CLIENT ? "client" : k == LEDGER_WORKER ? "worker" : "?";
}

static int kind_parse(const char *s, enum ledger_kind *out) {
  if (strcmp(s, "client") == 0) *out = LEDGER_CLIENT;
  else if (strcmp(s, "worker") == 0) *out = LEDGER_WORKER;
  else return -1;
  return 0;
}

/* ---------------------------------------------------------------- MAC */

int ledger_mac_init(struct ledger_mac *m, const uint8_t seed[LEDGER_KEY_SIZE], struct err *e) {
  int rc = 0;
  memset(m, 0, sizeof(*m));
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  static const char info[] = "cocoon-ledger-mac";
  uint8_t salt[1] = {0};
  OSSL_PARAM p[5];
  p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
  p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)seed, LEDGER_KEY_SIZE);
  /* An empty salt passed as NULL fails silently in OpenSSL 3.0: pass a zero-length buffer. */
  p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, 0);
  p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, sizeof(info) - 1);
  p[4] = OSSL_PARAM_construct_end();
  if (!kctx || EVP_KDF_derive(kctx, m->key, sizeof(m->key), p) != 1) {
    rc = err_set(e, ERR_CRYPTO, "ledger: HKDF failed");
    goto out;
  }
  m->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  m->ctx = m->mac ? EVP_MAC_CTX_new(m->mac) : NULL;
  if (!m->ctx) {
    rc = err_set(e, ERR_CRYPTO, "ledger: HMAC unavailable");
    goto out;
  }
  OSSL_PARAM mp[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(m->ctx, mp) != 1) rc = err_set(e, ERR_CRYPTO, "ledger: HMAC-SHA256 unavailable");
out:
  EVP_KDF_CTX_free(kctx);
  EVP_KDF_free(kdf);
  if (rc) ledger_mac_free(m);
  return rc;
}

void ledger_mac_free(struct ledger_mac *m) {
  if (!m) return;
  EVP_MAC_CTX_free(m->ctx);
  EVP_MAC_free(m->mac);
  m->ctx = NULL;
  m->mac = NULL;
  OPENSSL_cleanse(m->key, sizeof(m->key));
}

/* Canonical serialization: bounded, since every field is. */
struct ser {
  uint8_t b[2048];
  size_t n;
  int over;
};

static void put_raw(struct ser *s, const void *p, size_t n) {
  if (s->over || n > sizeof(s->b) - s->n) {
    s->over = 1;
    return;
  }
  if (n) memcpy(s->b + s->n, p, n);
  s->n += n;
}
static void put_i64(struct ser *s, int64_t v) {
  uint8_t b[8];
  uint64_t u = (uint64_t)v;
  for (int i = 7; i >= 0; i--, u >>= 8) b[i] = (uint8_t)u;
  put_raw(s, b, 8);
}
static void put_bytes(struct ser *s, const void *p, size_t n) {
  uint8_t b[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
  put_raw(s, b, 4);
  put_raw(s, p, n);
}
static void put_str(struct ser *s, const char *str) { put_bytes(s, str, strlen(str)); }

static int mac_ser(struct ledger_mac *m, const struct ser *s, uint8_t out[LEDGER_MAC_SIZE]) {
  size_t outl = 0;
  if (s->over) return ERR_LIMIT;
  if (EVP_MAC_init(m->ctx, m->key, sizeof(m->key), NULL) != 1 || EVP_MAC_update(m->ctx, s->b, s->n) != 1 ||
      EVP_MAC_final(m->ctx, out, &outl, LEDGER_MAC_SIZE) != 1 || outl != LEDGER_MAC_SIZE)
    return ERR_CRYPTO;
  return 0;
}

int ledger_mac_acct(struct ledger_mac *m, const struct ledger_acct_row *r, uint8_t out[LEDGER_MAC_SIZE]) {
  struct ser s = {.n = 0};
  put_str(&s, "cocoon-ledger/v1/accounts");
  put_str(&s, ledger_kind_name(r->kind));
  put_str(&s, r->owner);
  put_i64(&s, r->balance);
  put_i64(&s, r->stake);
  put_i64(&s, r->tokens);
  put_i64(&s, r->amount);
  put_i64(&s, r->requests);
  put_i64(&s, r->commit_seq);
  return mac_ser(m, &s, out);
}

int ledger_mac_req(struct ledger_mac *m, const struct ledger_req_row *r, uint8_t out[LEDGER_MAC_SIZE]) {
  struct ser s = {.n = 0};
  put_str(&s, "cocoon-ledger/v1/requests");
  put_i64(&s, r->id);
  put_str(&s, r->request_id);
  put_str(&s, r->client);
  put_str(&s, r->worker);
  put_str(&s, r->model);
  put_i64(&s, r->usage.prompt_tokens);
  put_i64(&s, r->usage.cached_tokens);
  put_i64(&s, r->usage.completion_tokens);
  put_i64(&s, r->usage.reasoning_tokens);
  put_i64(&s, r->coefficient);
  put_i64(&s, r->prices.price_per_token);
  put_i64(&s, r->prices.worker_fee_per_token);
  put_i64(&s, r->prices.prompt_mult);
  put_i64(&s, r->prices.cached_mult);
  put_i64(&s, r->prices.completion_mult);
  put_i64(&s, r->prices.reasoning_mult);
  put_i64(&s, r->adjusted_tokens);
  put_i64(&s, r->client_charge);
  put_i64(&s, r->worker_earning);
  put_i64(&s, r->proxy_commission);
  put_i64(&s, r->started_at);
  put_i64(&s, r->ended_at);
  put_str(&s, r->failed ? "failed" : "ok");
  put_i64(&s, r->commit_seq);
  return mac_ser(m, &s, out);
}

int ledger_mac_xfer(struct ledger_mac *m, const struct ledger_xfer_row *r, uint8_t out[LEDGER_MAC_SIZE]) {
  struct ser s = {.n = 0};
  put_str(&s, "cocoon-ledger/v1/transfers");
  put_i64(&s, r->id);
  put_str(&s, ledger_kind_name(r->kind));
  put_str(&s, r->owner);
  put_i64(&s, r->balance_delta);
  put_i64(&s, r->stake_delta);
  put_i64(&s, r->at);
  put_i64(&s, r->commit_seq);
  return mac_ser(m, &s, out);
}

int ledger_mac_pay(struct ledger_mac *m, const struct ledger_pay_row *r, uint8_t out[LEDGER_MAC_SIZE]) {
  struct ser s = {.n = 0};
  put_str(&s, "cocoon-ledger/v1/payments");
  put_str(&s, r->kind);
  put_str(&s, r->peer);
  put_i64(&s, r->tokens);
  put_bytes(&s, r->sig, r->sig_len);
  put_i64(&s, r->updated_at);
  put_i64(&s, r->commit_seq);
  return mac_ser(m, &s, out);
}

int ledger_mac_commit(struct ledger_mac *m, const struct ledger_commit_row *r, uint8_t out[LEDGER_MAC_SIZE]) {
  struct ser s = {.n = 0};
  put_str(&s, "cocoon-ledger/v1/commits");
  put_i64(&s, r->seq);
  put_i64(&s, r->committed_at);
  put_i64(&s, r->ops);
  put_i64(&s, r->requests_total);
  put_i64(&s, r->transfers_total);
  put_i64(&s, r->charge_total);
  put_i64(&s, r->earning_total);
  put_i64(&s, r->commission_total);
  put_bytes(&s, r->prev_mac, LEDGER_MAC_SIZE);
  return mac_ser(m, &s, out);
}

static int mac_keycheck(struct ledger_mac *m, uint8_t out[LEDGER_MAC_SIZE]) {
  struct ser s = {.n = 0};
  put_str(&s, "cocoon-ledger/v1/keycheck");
  return mac_ser(m, &s, out);
}

/* ---------------------------------------------------------------- map */

static uint64_t map_hash(uint8_t kind, const char *key) {
  uint64_t h = 1469598103934665603ull ^ kind;
  for (const unsigned char *p = (const unsigned char *)key; *p; p++) h = (h ^ *p) * 1099511628211ull;
  return h ^ (h >> 29);
}

struct ledger_entry *ledger_map_find(const struct ledger_map *m, uint8_t kind, const char *key) {
  if (!m->cap) return NULL;
  for (size_t i = map_hash(kind, key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    struct ledger_entry *en = m->slots[i];
    if (!en) return NULL;
    if (en->kind == kind && strcmp(en->key, key) == 0) return en;
  }
}

static int map_grow(struct ledger_map *m, struct err *e) {
  size_t ncap = m->cap ? m->cap * 2 : 64;
  struct ledger_entry **ns = calloc(ncap, sizeof(*ns));
  if (!ns) return err_set(e, ERR_NOMEM, "ledger: out of memory");
  for (size_t i = 0; i < m->cap; i++) {
    struct ledger_entry *en = m->slots[i];
    if (!en) continue;
    size_t j = map_hash(en->kind, en->key) & (ncap - 1);
    while (ns[j]) j = (j + 1) & (ncap - 1);
    ns[j] = en;
  }
  free(m->slots);
  m->slots = ns;
  m->cap = ncap;
  return 0;
}

int ledger_map_get(struct ledger_map *m, uint8_t kind, const char *key, struct ledger_entry **out,
                   struct err *e) {
  int rc;
  struct ledger_entry *en = ledger_map_find(m, kind, key);
  if (en) {
    *out = en;
    return 0;
  }
  size_t klen = strnlen(key, LEDGER_PAYKEY_MAX + 1);
  if (klen > LEDGER_PAYKEY_MAX) return err_set(e, ERR_LIMIT, "ledger: key too long");
  if (m->n >= LEDGER_MAX_ACCOUNTS)
    return err_set(e, ERR_LIMIT, "ledger: more than %d accounts", LEDGER_MAX_ACCOUNTS);
  if ((m->n + 1) * 10 > m->cap * 7 && (rc = map_grow(m, e)) != 0) return rc;
  if (!(en = calloc(1, sizeof(*en)))) return err_set(e, ERR_NOMEM, "ledger: out of memory");
  en->kind = kind;
  memcpy(en->key, key, klen + 1);
  if (kind) {
    en->acct.kind = (enum ledger_kind)kind;
    memcpy(en->acct.owner, key, CC_MIN(klen, (size_t)LEDGER_ADDR_MAX));
  }
  size_t i = map_hash(kind, key) & (m->cap - 1);
  while (m->slots[i]) i = (i + 1) & (m->cap - 1);
  m->slots[i] = en;
  m->n++;
  *out = en;
  return 0;
}

int ledger_map_copy(struct ledger_map *dst, const struct ledger_map *src, struct err *e) {
  int rc;
  for (size_t i = 0; i < src->cap; i++) {
    const struct ledger_entry *s = src->slots[i];
    struct ledger_entry *d;
    if (!s) continue;
    if ((rc = ledger_map_get(dst, s->kind, s->key, &d, e)) != 0) return rc;
    *d = *s;
    d->next_touched = NULL;
    d->touched = 0;
  }
  return 0;
}

void ledger_map_free(struct ledger_map *m) {
  if (!m) return;
  for (size_t i = 0; i < m->cap; i++) free(m->slots[i]);
  free(m->slots);
  memset(m, 0, sizeof(*m));
}

void ledger_pay_key(const char *kind, const char *peer, char *out) {
  snprintf(out, LEDGER_PAYKEY_MAX + 1, "%s/%s", kind, peer);
}

/* ---------------------------------------------------------------- file and schema */

static int exec(sqlite3 *db, const char *sql, struct err *e) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    int rc = err_set(e, ERR_IO, "ledger: %s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return rc;
  }
  return 0;
}

int ledger_store_open(const char *path, int readonly, sqlite3 **out, struct err *e) {
  sqlite3 *db = NULL;
  int rc = 0;
  int flags = readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, ledger_vfs_name()) != SQLITE_OK) {
    rc = err_set(e, ERR_IO, "ledger %s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
    goto out;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  /* Checkpoint every 8000 WAL pages (~32 MB) rather than SQLite's 1000: the pages every commit
   * touches (accounts, the commit log, the tails of the tables and indexes) are copied into the
   * database once per checkpoint, not once per 1000 pages. */
  if (!readonly && (rc = exec(db,
                              "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-32768;"
                              " PRAGMA wal_autocheckpoint=8000;",
                              e)) != 0)
    goto out;
out:
  if (rc) {
    sqlite3_close(db);
    db = NULL;
  }
  *out = db;
  return rc;
}

/* migrations[i] takes the schema from version i to i+1. Never edit a released entry. */
static const char *const migrations[LEDGER_SCHEMA_VERSION] = {
    "CREATE TABLE meta(name TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;"
    "CREATE TABLE accounts(kind TEXT NOT NULL CHECK(kind IN ('client','worker')), owner TEXT NOT NULL,"
    " balance INTEGER NOT NULL, stake INTEGER NOT NULL, tokens INTEGER NOT NULL, amount INTEGER NOT NULL,"
    " requests INTEGER NOT NULL, commit_seq INTEGER NOT NULL, mac BLOB NOT NULL,"
    " PRIMARY KEY(kind, owner)) STRICT;"
    "CREATE TABLE requests(id INTEGER PRIMARY KEY, request_id TEXT NOT NULL UNIQUE, client TEXT NOT NULL,"
    " worker TEXT NOT NULL, model TEXT NOT NULL, prompt_tokens INTEGER NOT NULL,"
    " cached_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,"
    " reasoning_tokens INTEGER NOT NULL, coefficient INTEGER NOT NULL, price_per_token INTEGER NOT NULL,"
    " worker_fee_per_token INTEGER NOT NULL, prompt_mult INTEGER NOT NULL, cached_mult INTEGER NOT NULL,"
    " completion_mult INTEGER NOT NULL, reasoning_mult INTEGER NOT NULL,"
    " adjusted_tokens INTEGER NOT NULL, client_charge INTEGER NOT NULL, worker_earning INTEGER NOT NULL,"
    " proxy_commission INTEGER NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER NOT NULL,"
    " status TEXT NOT NULL CHECK(status IN ('ok','failed')), commit_seq INTEGER NOT NULL,"
    " mac BLOB NOT NULL) STRICT;"
    "CREATE INDEX requests_by_client ON requests(client, id);"
    "CREATE INDEX requests_by_worker ON requests(worker, id);"
    "CREATE TABLE transfers(id INTEGER PRIMARY KEY, kind TEXT NOT NULL CHECK(kind IN ('client','worker')),"
    " owner TEXT NOT NULL, balance_delta INTEGER NOT NULL, stake_delta INTEGER NOT NULL,"
    " at INTEGER NOT NULL, commit_seq INTEGER NOT NULL, mac BLOB NOT NULL) STRICT;"
    "CREATE TABLE payments(kind TEXT NOT NULL, peer TEXT NOT NULL, tokens INTEGER NOT NULL,"
    " signature BLOB NOT NULL, updated_at INTEGER NOT NULL, commit_seq INTEGER NOT NULL,"
    " mac BLOB NOT NULL, PRIMARY KEY(kind, peer)) STRICT;"
    "CREATE TABLE commits(seq INTEGER PRIMARY KEY, committed_at INTEGER NOT NULL, ops INTEGER NOT NULL,"
    " requests_total INTEGER NOT NULL, transfers_total INTEGER NOT NULL, charge_total INTEGER NOT NULL,"
    " earning_total INTEGER NOT NULL, commission_total INTEGER NOT NULL, mac BLOB NOT NULL) STRICT;",
    /* 1 -> 2: request_id loses UNIQUE. It is the client's own label: a client reusing one was
     * reported DUPLICATE and not billed (a free request), and the random-keyed index dirtied one
     * page per request in every commit. Every record is a billed request now; `id` is the key. */
    "CREATE TABLE requests_v2(id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, client TEXT NOT NULL,"
    " worker TEXT NOT NULL, model TEXT NOT NULL, prompt_tokens INTEGER NOT NULL,"
    " cached_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,"
    " reasoning_tokens INTEGER NOT NULL, coefficient INTEGER NOT NULL, price_per_token INTEGER NOT NULL,"
    " worker_fee_per_token INTEGER NOT NULL, prompt_mult INTEGER NOT NULL, cached_mult INTEGER NOT NULL,"
    " completion_mult INTEGER NOT NULL, reasoning_mult INTEGER NOT NULL,"
    " adjusted_tokens INTEGER NOT NULL, client_charge INTEGER NOT NULL, worker_earning INTEGER NOT NULL,"
    " proxy_commission INTEGER NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER NOT NULL,"
    " status TEXT NOT NULL CHECK(status IN ('ok','failed')), commit_seq INTEGER NOT NULL,"
    " mac BLOB NOT NULL) STRICT;"
    "INSERT INTO requests_v2 SELECT * FROM requests ORDER BY id;"
    "DROP TABLE requests;"
    "ALTER TABLE requests_v2 RENAME TO requests;"
    "CREATE INDEX requests_by_client ON requests(client, id);"
    "CREATE INDEX requests_by_worker ON requests(worker, id);",
};

static int read_version(sqlite3 *db, int64_t *v, struct err *e) {
  sqlite3_stmt *st = NULL;
  int rc = 0, r;
  *v = 0;
  if (sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &st, NULL) != SQLITE_OK)
    return err_set(e, ERR_PARSE, "not a cocoon ledger (%s)", sqlite3_errmsg(db));
  if ((r = sqlite3_step(st)) == SQLITE_ROW) *v = sqlite3_column_int64(st, 0);
  else if (r != SQLITE_DONE) rc = err_set(e, ERR_IO, "ledger: %s", sqlite3_errmsg(db));
  else *v = -1;
  sqlite3_finalize(st);
  return rc;
}

int ledger_store_migrate(sqlite3 *db, const char *path, struct ledger_mac *m, struct err *e) {
  int rc;
  int64_t v;
  sqlite3_stmt *st = NULL;
  uint8_t kc[LEDGER_MAC_SIZE];
  if ((rc = exec(db, "BEGIN IMMEDIATE", e)) != 0) return rc;
  if ((rc = exec(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL) STRICT", e)) ||
      (rc = read_version(db, &v, e)))
    goto out;
  if (v < 0) {
    if ((rc = exec(db, "INSERT INTO schema_version VALUES(0)", e)) != 0) goto out;
    v = 0;
  }
  if (v > LEDGER_SCHEMA_VERSION) {
    rc = err_set(e, ERR_INVALID, "ledger %s has schema version %lld; this build knows up to %d", path,
                 (long long)v, LEDGER_SCHEMA_VERSION);
    goto out;
  }
  int fresh = v == 0;
  for (; v < LEDGER_SCHEMA_VERSION; v++) {
    char sql[64];
    if ((rc = exec(db, migrations[v], e)) != 0) goto out;
    snprintf(sql, sizeof(sql), "UPDATE schema_version SET version=%lld", (long long)v + 1);
    if ((rc = exec(db, sql, e)) != 0) goto out;
  }
  if ((rc = mac_keycheck(m, kc)) != 0) {
    rc = err_set(e, rc, "ledger: MAC failed");
    goto out;
  }
  if (fresh) {
    if (sqlite3_prepare_v2(db, "INSERT INTO meta VALUES('key_check', ?)", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_blob(st, 1, kc, sizeof(kc), SQLITE_STATIC) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
      rc = err_set(e, ERR_IO, "ledger: %s", sqlite3_errmsg(db));
      goto out;
    }
  }
  rc = exec(db, "COMMIT", e);
out:
  sqlite3_finalize(st);
  if (rc) {
    struct err ig;
    (void)exec(db, "ROLLBACK", &ig);
  }
  return rc;
}

/* ---------------------------------------------------------------- scan */

__attribute__((format(printf, 3, 4))) static void violation(struct ledger_scan *sc, int is_mac, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (sc->stats.violations == 0) snprintf(sc->first, sizeof(sc->first), "%s", msg);
  sc->stats.violations++;
  if (is_mac) sc->mac_violations++;
  if (sc->cb && (sc->max_reports == 0 || (uint64_t)sc->stats.violations <= sc->max_reports)) sc->cb(sc->arg, msg);
}

/* Copies a text column into buf (cap bytes incl. NUL); -1 when NULL, too long or holding a NUL. */
static int col_text(sqlite3_stmt *st, int i, char *buf, size_t cap) {
  const unsigned char *t = sqlite3_column_text(st, i);
  int n = sqlite3_column_bytes(st, i);
  buf[0] = '\0';
  if (!t || n < 0 || (size_t)n >= cap || memchr(t, 0, (size_t)n)) return -1;
  memcpy(buf, t, (size_t)n);
  buf[n] = '\0';
  return 0;
}

static int col_mac_ok(sqlite3_stmt *st, int i, const uint8_t want[LEDGER_MAC_SIZE]) {
  const void *b = sqlite3_column_blob(st, i);
  return b && sqlite3_column_bytes(st, i) == LEDGER_MAC_SIZE && util_ct_eq(b, want, LEDGER_MAC_SIZE);
}

static int add_ok(int64_t *acc, int64_t v) { return !__builtin_add_overflow(*acc, v, acc); }

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct err *e) {
  if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
    return err_set(e, ERR_PARSE, "ledger: %s", sqlite3_errmsg(db));
  return 0;
}

static int step_err(sqlite3 *db, int r, struct err *e) {
  return r == SQLITE_DONE ? 0 : err_set(e, ERR_IO, "ledger: %s", sqlite3_errmsg(db));
}

static int scan_keycheck(sqlite3 *db, struct ledger_mac *m, struct err *e) {
  sqlite3_stmt *st = NULL;
  uint8_t kc[LEDGER_MAC_SIZE];
  int rc, r;
  int64_t v;
  if ((rc = read_version(db, &v, e)) != 0) return rc;
  if (v != LEDGER_SCHEMA_VERSION)
    return err_set(e, ERR_INVALID, "ledger schema version %lld, expected %d (open it once to migrate)",
                   (long long)v, LEDGER_SCHEMA_VERSION);
  if ((rc = mac_keycheck(m, kc)) != 0) return err_set(e, rc, "ledger: MAC failed");
  if ((rc = prepare(db, "SELECT value FROM meta WHERE name='key_check'", &st, e)) != 0) return rc;
  if ((r = sqlite3_step(st)) != SQLITE_ROW) rc = err_set(e, ERR_CRYPTO, "ledger: key check value missing");
  else if (!col_mac_ok(st, 0, kc))
    rc = err_set(e, ERR_CRYPTO, "ledger was written with a different machine key (key check mismatch)");
  sqlite3_finalize(st);
  return rc;
}

static int scan_commits(sqlite3 *db, struct ledger_mac *m, struct ledger_scan *sc, struct err *e) {
  sqlite3_stmt *st = NULL;
  int rc, r;
  uint8_t mac[LEDGER_MAC_SIZE];
  if ((rc = prepare(db, "SELECT seq, committed_at, ops, requests_total, transfers_total, charge_total,"
                        " earning_total, commission_total, mac FROM commits ORDER BY seq", &st, e)) != 0)
    return rc;
  memset(sc->last_mac, 0, sizeof(sc->last_mac));
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    struct ledger_commit_row c = {0};
    c.seq = sqlite3_column_int64(st, 0);
    c.committed_at = sqlite3_column_int64(st, 1);
    c.ops = sqlite3_column_int64(st, 2);
    c.requests_total = sqlite3_column_int64(st, 3);
    c.transfers_total = sqlite3_column_int64(st, 4);
    c.charge_total = sqlite3_column_int64(st, 5);
    c.earning_total = sqlite3_column_int64(st, 6);
    c.commission_total = sqlite3_column_int64(st, 7);
    memcpy(c.prev_mac, sc->last_mac, LEDGER_MAC_SIZE);
    sc->stats.commits++;
    if (c.seq != sc->last_commit.seq + 1)
      violation(sc, 0, "commits: seq %lld follows %lld (a commit is missing)", (long long)c.seq,
                (long long)sc->last_commit.seq);
    if ((rc = ledger_mac_commit(m, &c, mac)) != 0) goto out;
    if (!col_mac_ok(st, 8, mac)) {
      violation(sc, 1, "commits row seq=%lld: MAC mismatch (tampered or out of chain)", (long long)c.seq);
    }
    const void *stored = sqlite3_column_blob(st, 8);
    if (stored && sqlite3_column_bytes(st, 8) == LEDGER_MAC_SIZE) memcpy(sc->last_mac, stored, LEDGER_MAC_SIZE);
    sc->last_commit = c;
  }
  rc = step_err(db, r, e);
out:
  sqlite3_finalize(st);
  return rc;
}

static int scan_accounts(sqlite3 *db, struct ledger_mac *m, struct ledger_scan *sc, struct err *e) {
  sqlite3_stmt *st = NULL;
  int rc, r;
  uint8_t mac[LEDGER_MAC_SIZE];
  char kind[16];
  if ((rc = prepare(db, "SELECT kind, owner, balance, stake, tokens, amount, requests, commit_seq, mac"
                        " FROM accounts ORDER BY kind, owner", &st, e)) != 0)
    return rc;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    struct ledger_acct_row a = {0};
    struct ledger_entry *en;
    sc->stats.accounts++;
    if (col_text(st, 0, kind, sizeof(kind)) || kind_parse(kind, &a.kind) ||
        col_text(st, 1, a.owner, sizeof(a.owner)) || ledger_check_addr("owner", a.owner, NULL)) {
      violation(sc, 0, "accounts row %lld: malformed kind or owner", (long long)sc->stats.accounts);
      continue;
    }
    a.balance = sqlite3_column_int64(st, 2);
    a.stake = sqlite3_column_int64(st, 3);
    a.tokens = sqlite3_column_int64(st, 4);
    a.amount = sqlite3_column_int64(st, 5);
    a.requests = sqlite3_column_int64(st, 6);
    a.commit_seq = sqlite3_column_int64(st, 7);
    if ((rc = ledger_mac_acct(m, &a, mac)) != 0) goto out;
    if (!col_mac_ok(st, 8, mac))
      violation(sc, 1, "accounts row (%s %s): MAC mismatch (tampered)", kind, a.owner);
    if (a.commit_seq < 1 || a.commit_seq > sc->last_commit.seq)
      violation(sc, 0, "accounts row (%s %s): commit_seq %lld outside the commit log", kind, a.owner,
                (long long)a.commit_seq);
    if ((rc = ledger_map_get(&sc->accts, (uint8_t)a.kind, a.owner, &en, e)) != 0) goto out;
    en->acct.balance = a.balance;
    en->acct.stake = a.stake;
    en->acct.tokens = a.tokens;
    en->acct.amount = a.amount;
    en->acct.requests = a.requests;
    en->commit_seq = a.commit_seq;
  }
  rc = step_err(db, r, e);
out:
  sqlite3_finalize(st);
  return rc;
}

/* Per-account sums of the request and transfer rows, compared with the account rows later:
 * acct.tokens/amount/requests from requests, balance/stake from transfers. */
static int scan_requests(sqlite3 *db, struct ledger_mac *m, struct ledger_scan *sc, struct ledger_map *sums,
                         struct err *e) {
  sqlite3_stmt *st = NULL;
  int rc, r;
  uint8_t mac[LEDGER_MAC_SIZE];
  char status[16];
  if ((rc = prepare(db, "SELECT id, request_id, client, worker, model, prompt_tokens, cached_tokens,"
                        " completion_tokens, reasoning_tokens, coefficient, price_per_token,"
                        " worker_fee_per_token, prompt_mult, cached_mult, completion_mult, reasoning_mult,"
                        " adjusted_tokens, client_charge, worker_earning, proxy_commission, started_at,"
                        " ended_at, status, commit_seq, mac FROM requests ORDER BY id", &st, e)) != 0)
    return rc;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    struct ledger_req_row q = {0};
    struct ledger_entry *ce, *we;
    struct billing_amounts a;
    struct err be;
    q.id = sqlite3_column_int64(st, 0);
    sc->stats.requests++;
    sc->last_req_id = CC_MAX(sc->last_req_id, q.id);
    if (col_text(st, 1, q.request_id, sizeof(q.request_id)) || col_text(st, 2, q.client, sizeof(q.client)) ||
        col_text(st, 3, q.worker, sizeof(q.worker)) || col_text(st, 4, q.model, sizeof(q.model)) ||
        col_text(st, 22, status, sizeof(status)) || ledger_check_addr("client", q.client, NULL) ||
        ledger_check_addr("worker", q.worker, NULL)) {
      violation(sc, 0, "requests row id=%lld: malformed text column", (long long)q.id);
      continue;
    }
    q.usage.prompt_tokens = sqlite3_column_int64(st, 5);
    q.usage.cached_tokens = sqlite3_column_int64(st, 6);
    q.usage.completion_tokens = sqlite3_column_int64(st, 7);
    q.usage.reasoning_tokens = sqlite3_column_int64(st, 8);
    int64_t coef = sqlite3_column_int64(st, 9);
    q.prices.price_per_token = sqlite3_column_int64(st, 10);
    q.prices.worker_fee_per_token = sqlite3_column_int64(st, 11);
    int64_t mults[4];
    for (int i = 0; i < 4; i++) mults[i] = sqlite3_column_int64(st, 12 + i);
    q.adjusted_tokens = sqlite3_column_int64(st, 16);
    q.client_charge = sqlite3_column_int64(st, 17);
    q.worker_earning = sqlite3_column_int64(st, 18);
    q.proxy_commission = sqlite3_column_int64(st, 19);
    q.started_at = sqlite3_column_int64(st, 20);
    q.ended_at = sqlite3_column_int64(st, 21);
    q.failed = strcmp(status, "failed") == 0;
    q.commit_seq = sqlite3_column_int64(st, 23);
    int range_ok = coef >= 0 && coef <= UINT32_MAX;
    for (int i = 0; i < 4; i++) range_ok = range_ok && mults[i] >= 0 && mults[i] <= UINT32_MAX;
    if (!range_ok) {
      violation(sc, 0, "requests row id=%lld (request_id=%s): coefficient or multiplier out of range",
                (long long)q.id, q.request_id);
      continue;
    }
    q.coefficient = (uint32_t)coef;
    q.prices.prompt_mult = (uint32_t)mults[0];
    q.prices.cached_mult = (uint32_t)mults[1];
    q.prices.completion_mult = (uint32_t)mults[2];
    q.prices.reasoning_mult = (uint32_t)mults[3];
    if ((rc = ledger_mac_req(m, &q, mac)) != 0) goto out;
    if (!col_mac_ok(st, 24, mac))
      violation(sc, 1, "requests row id=%lld (request_id=%s): MAC mismatch (tampered)", (long long)q.id,
                q.request_id);
    if (q.commit_seq < 1 || q.commit_seq > sc->last_commit.seq)
      violation(sc, 0, "requests row id=%lld (request_id=%s): commit_seq %lld outside the commit log",
                (long long)q.id, q.request_id, (long long)q.commit_seq);
    if (billing_compute(&q.prices, q.coefficient, &q.usage, &a, &be) != 0) {
      violation(sc, 0, "requests row id=%lld (request_id=%s): charge cannot be recomputed: %s",
                (long long)q.id, q.request_id, be.msg);
      continue;
    }
    if (a.total_adj != q.adjusted_tokens || a.client_charge != q.client_charge ||
        a.worker_earning != q.worker_earning || a.proxy_commission != q.proxy_commission)
      violation(sc, 0,
                "requests row id=%lld (request_id=%s): stored adjusted/charge/earning/commission "
                "%lld/%lld/%lld/%lld, recomputed %lld/%lld/%lld/%lld",
                (long long)q.id, q.request_id, (long long)q.adjusted_tokens, (long long)q.client_charge,
                (long long)q.worker_earning, (long long)q.proxy_commission, (long long)a.total_adj,
                (long long)a.client_charge, (long long)a.worker_earning, (long long)a.proxy_commission);
    if (!add_ok(&sc->stats.charge_total, q.client_charge) || !add_ok(&sc->stats.earning_total, q.worker_earning) ||
        !add_ok(&sc->stats.commission_total, q.proxy_commission))
      violation(sc, 0, "requests row id=%lld: running totals overflow", (long long)q.id);
    if ((rc = ledger_map_get(sums, LEDGER_CLIENT, q.client, &ce, e)) ||
        (rc = ledger_map_get(sums, LEDGER_WORKER, q.worker, &we, e)))
      goto out;
    if (!add_ok(&ce->acct.tokens, q.adjusted_tokens) || !add_ok(&ce->acct.amount, q.client_charge) ||
        !add_ok(&we->acct.tokens, q.adjusted_tokens) || !add_ok(&we->acct.amount, q.worker_earning))
      violation(sc, 0, "requests row id=%lld: account sums overflow", (long long)q.id);
    ce->acct.requests++;
    we->acct.requests++;
  }
  rc = step_err(db, r, e);
out:
  sqlite3_finalize(st);
  return rc;
}

static int scan_transfers(sqlite3 *db, struct ledger_mac *m, struct ledger_scan *sc, struct ledger_map *sums,
                          struct err *e) {
  sqlite3_stmt *st = NULL;
  int rc, r;
  uint8_t mac[LEDGER_MAC_SIZE];
  char kind[16];
  if ((rc = prepare(db, "SELECT id, kind, owner, balance_delta, stake_delta, at, commit_seq, mac"
                        " FROM transfers ORDER BY id", &st, e)) != 0)
    return rc;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    struct ledger_xfer_row x = {0};
    struct ledger_entry *en;
    x.id = sqlite3_column_int64(st, 0);
    sc->stats.transfers++;
    sc->last_xfer_id = CC_MAX(sc->last_xfer_id, x.id);
    if (col_text(st, 1, kind, sizeof(kind)) || kind_parse(kind, &x.kind) ||
        col_text(st, 2, x.owner, sizeof(x.owner)) || ledger_check_addr("owner", x.owner, NULL)) {
      violation(sc, 0, "transfers row id=%lld: malformed kind or owner", (long long)x.id);
      continue;
    }
    x.balance_delta = sqlite3_column_int64(st, 3);
    x.stake_delta = sqlite3_column_int64(st, 4);
    x.at = sqlite3_column_int64(st, 5);
    x.commit_seq = sqlite3_column_int64(st, 6);
    if ((rc = ledger_mac_xfer(m, &x, mac)) != 0) goto out;
    if (!col_mac_ok(st, 7, mac))
      violation(sc, 1, "transfers row id=%lld (%s %s): MAC mismatch (tampered)", (long long)x.id, kind, x.owner);
    if (x.commit_seq < 1 || x.commit_seq > sc->last_commit.seq)
      violation(sc, 0, "transfers row id=%lld: commit_seq %lld outside the commit log", (long long)x.id,
                (long long)x.commit_seq);
    if ((rc = ledger_map_get(sums, (uint8_t)x.kind, x.owner, &en, e)) != 0) goto out;
    if (!add_ok(&en->acct.balance, x.balance_delta) || !add_ok(&en->acct.stake, x.stake_delta))
      violation(sc, 0, "transfers row id=%lld: account sums overflow", (long long)x.id);
  }
  rc = step_err(db, r, e);
out:
  sqlite3_finalize(st);
  return rc;
}

static int scan_payments(sqlite3 *db, struct ledger_mac *m, struct ledger_scan *sc, struct err *e) {
  sqlite3_stmt *st = NULL;
  int rc, r;
  uint8_t mac[LEDGER_MAC_SIZE];
  char key[LEDGER_PAYKEY_MAX + 1];
  if ((rc = prepare(db, "SELECT kind, peer, tokens, signature, updated_at, commit_seq, mac FROM payments"
                        " ORDER BY kind, peer", &st, e)) != 0)
    return rc;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    struct ledger_pay_row p = {0};
    struct ledger_entry *en;
    sc->stats.payments++;
    if (col_text(st, 0, p.kind, sizeof(p.kind)) || ledger_check_pay_kind(p.kind, NULL) ||
        col_text(st, 1, p.peer, sizeof(p.peer)) || ledger_check_addr("peer", p.peer, NULL) ||
        sqlite3_column_bytes(st, 3) > LEDGER_SIG_MAX) {
      violation(sc, 0, "payments row %lld: malformed kind, peer or signature", (long long)sc->stats.payments);
      continue;
    }
    p.tokens = sqlite3_column_int64(st, 2);
    p.sig = sqlite3_column_blob(st, 3);
    p.sig_len = (size_t)sqlite3_column_bytes(st, 3);
    p.updated_at = sqlite3_column_int64(st, 4);
    p.commit_seq = sqlite3_column_int64(st, 5);
    if ((rc = ledger_mac_pay(m, &p, mac)) != 0) goto out;
    if (!col_mac_ok(st, 6, mac)) violation(sc, 1, "payments row (%s %s): MAC mismatch (tampered)", p.kind, p.peer);
    if (p.commit_seq < 1 || p.commit_seq > sc->last_commit.seq)
      violation(sc, 0, "payments row (%s %s): commit_seq outside the commit log", p.kind, p.peer);
    ledger_pay_key(p.kind, p.peer, key);
    if ((rc = ledger_map_get(&sc->pays, 0, key, &en, e)) != 0) goto out;
    en->pay_tokens = p.tokens;
    en->commit_seq = p.commit_seq;
  }
  rc = step_err(db, r, e);
out:
  sqlite3_finalize(st);
  return rc;
}

static void compare_accounts(struct ledger_scan *sc, const struct ledger_map *sums) {
  for (size_t i = 0; i < sums->cap; i++) {
    const struct ledger_entry *s = sums->slots[i];
    if (!s) continue;
    const char *kn = ledger_kind_name((enum ledger_kind)s->kind);
    const struct ledger_entry *a = ledger_map_find(&sc->accts, s->kind, s->key);
    if (!a) {
      violation(sc, 0, "accounts: %s %s has request or transfer rows but no account row", kn, s->key);
      continue;
    }
    int64_t want_balance;
    int ovf = s->kind == LEDGER_CLIENT ? __builtin_sub_overflow(s->acct.balance, s->acct.amount, &want_balance)
                                       : __builtin_add_overflow(s->acct.balance, s->acct.amount, &want_balance);
    if (a->acct.tokens != s->acct.tokens || a->acct.amount != s->acct.amount ||
        a->acct.requests != s->acct.requests)
      violation(sc, 0,
                "accounts row (%s %s): tokens/amount/requests %lld/%lld/%lld, its requests sum to "
                "%lld/%lld/%lld",
                kn, s->key, (long long)a->acct.tokens, (long long)a->acct.amount, (long long)a->acct.requests,
                (long long)s->acct.tokens, (long long)s->acct.amount, (long long)s->acct.requests);
    if (ovf || a->acct.balance != want_balance || a->acct.stake != s->acct.stake)
      violation(sc, 0, "accounts row (%s %s): balance/stake %lld/%lld, its transfers and requests give %lld/%lld",
                kn, s->key, (long long)a->acct.balance, (long long)a->acct.stake, (long long)want_balance,
                (long long)s->acct.stake);
  }
  for (size_t i = 0; i < sc->accts.cap; i++) {
    const struct ledger_entry *a = sc->accts.slots[i];
    if (!a || ledger_map_find(sums, a->kind, a->key)) continue;
    if (a->acct.tokens || a->acct.amount || a->acct.requests || a->acct.balance || a->acct.stake)
      violation(sc, 0, "accounts row (%s %s): nonzero totals but no request or transfer rows",
                ledger_kind_name((enum ledger_kind)a->kind), a->key);
  }
}

/* No client ever spent beyond its credit: replaying its transfers and charges commit by commit,
 * its balance is never negative after a commit (the loop thread checks the same at every
 * operation: reservations cover charges, withdrawals leave reservations). Rows are MAC-checked by
 * the scans above; this only adds up what they hold. */
static int scan_credit(sqlite3 *db, struct ledger_scan *sc, struct err *e) {
  static const char sql[] =
      "SELECT owner, commit_seq, SUM(d) FROM ("
      " SELECT client AS owner, commit_seq, -client_charge AS d FROM requests"
      " UNION ALL SELECT owner, commit_seq, balance_delta AS d FROM transfers WHERE kind = 'client')"
      " GROUP BY owner, commit_seq ORDER BY owner, commit_seq";
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return err_set(e, ERR_IO, "ledger: %s", sqlite3_errmsg(db));
  char owner[LEDGER_ADDR_MAX + 1] = "";
  int64_t bal = 0;
  int reported = 0, r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char *o = sqlite3_column_text(st, 0);
    if (!o) continue;
    if (strcmp((const char *)o, owner) != 0) {
      snprintf(owner, sizeof(owner), "%s", (const char *)o);
      bal = 0;
      reported = 0;
    }
    int64_t d = sqlite3_column_int64(st, 2);
    if (__builtin_add_overflow(bal, d, &bal)) {
      violation(sc, 0, "client %s: balance overflows when replayed", owner);
      reported = 1;
      bal = 0;
    }
    if (bal < 0 && !reported) {
      violation(sc, 0, "client %s: balance %lld after commit %lld: it spent beyond its credit", owner, (long long)bal,
                (long long)sqlite3_column_int64(st, 1));
      reported = 1;
    }
  }
  int rc = r == SQLITE_DONE ? 0 : err_set(e, ERR_IO, "ledger: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return rc;
}

int ledger_store_scan(sqlite3 *db, struct ledger_mac *m, struct ledger_scan *sc, struct err *e) {
  int rc;
  struct ledger_map sums = {0};
  if ((rc = exec(db, "BEGIN", e)) != 0) return rc; /* one consistent snapshot */
  if ((rc = scan_keycheck(db, m, e)) || (rc = scan_commits(db, m, sc, e)) || (rc = scan_accounts(db, m, sc, e)) ||
      (rc = scan_requests(db, m, sc, &sums, e)) || (rc = scan_transfers(db, m, sc, &sums, e)) ||
      (rc = scan_payments(db, m, sc, e)) || (sc->check_credit && (rc = scan_credit(db, sc, e))))
    goto out;
  compare_accounts(sc, &sums);
  int64_t sum;
  if (__builtin_add_overflow(sc->stats.earning_total, sc->stats.commission_total, &sum) ||
      sum != sc->stats.charge_total)
    violation(sc, 0, "totals: client charges %lld != worker earnings %lld + proxy commissions %lld",
              (long long)sc->stats.charge_total, (long long)sc->stats.earning_total,
              (long long)sc->stats.commission_total);
  const struct ledger_commit_row *c = &sc->last_commit;
  if (c->requests_total != sc->stats.requests || c->transfers_total != sc->stats.transfers ||
      c->charge_total != sc->stats.charge_total || c->earning_total != sc->stats.earning_total ||
      c->commission_total != sc->stats.commission_total)
    violation(sc, 0,
              "commits row seq=%lld: totals (requests %lld, transfers %lld, charges %lld, earnings %lld, "
              "commissions %lld) differ from the tables (%lld, %lld, %lld, %lld, %lld): rows added or removed",
              (long long)c->seq, (long long)c->requests_total, (long long)c->transfers_total,
              (long long)c->charge_total, (long long)c->earning_total, (long long)c->commission_total,
              (long long)sc->stats.requests, (long long)sc->stats.transfers, (long long)sc->stats.charge_total,
              (long long)sc->stats.earning_total, (long long)sc->stats.commission_total);
out:
  {
    struct err ig;
    (void)exec(db, "COMMIT", &ig);
  }
  ledger_map_free(&sums);
  return rc;
}

void ledger_scan_free(struct ledger_scan *sc) {
  if (!sc) return;
  ledger_map_free(&sc->accts);
  ledger_map_free(&sc->pays);
}
