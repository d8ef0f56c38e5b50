/* test_ledger: group commit, reopen and verify, tampering, randomized invariants, backpressure, WAL-batching VFS. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <signal.h>
#include <sys/wait.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sqlite3.h>

#include "cli/ledger_cmd.h"
#include "ledger/billing.h"
#include "ledger/ledger.h"
#include "ledger/ledger_vfs.h"
#include "loop/loop.h"

static const uint8_t seed[LEDGER_KEY_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                              17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

struct fixture {
  char dir[64];
  char path[128];
  struct loop *loop;
  /* committed callback tallies */
  size_t items, batches, stale, failed_batches;
  uint64_t last_seq;
  int order_ok;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof(*f));
  snprintf(f->dir, sizeof(f->dir), "/tmp/cocoon-ledger-test.XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  snprintf(f->path, sizeof(f->path), "%s/ledger.db", f->dir);
  if (loop_new(&f->loop) != 0) return -1;
  f->order_ok = 1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  const char *suffix[] = {"", "-wal", "-shm", "-journal"};
  char p[160];
  for (size_t i = 0; i < 4; i++) {
    snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
    unlink(p);
  }
  snprintf(p, sizeof(p), "%s/key.hex", f->dir);
  unlink(p);
  rmdir(f->dir);
  loop_free(f->loop);
  free(f);
  return 0;
}

static void committed_cb(void *arg, const struct ledger_batch *b) {
  struct fixture *f = arg;
  if (b->rc) {
    f->failed_batches++;
    return;
  }
  if (b->seq <= f->last_seq) f->order_ok = 0;
  f->last_seq = b->seq;
  f->batches++;
  f->items += b->n;
  for (size_t i = 0; i < b->n; i++) {
    if (b->items[i].status == LEDGER_ITEM_STALE) f->stale++;
  }
}

static struct ledger *open_ok(struct fixture *f, size_t queue_max) {
  struct ledger_opts o = {.queue_max = queue_max, .committed_cb = committed_cb, .cb_arg = f};
  struct ledger *l = NULL;
  struct err e = {0};
  int rc = ledger_open(f->path, seed, f->loop, &o, &l, &e);
  if (rc) fail_msg("ledger_open: %s", e.msg);
  return l;
}

static void wait_items(struct fixture *f, size_t n) {
  for (int i = 0; i < 20000 && f->items < n; i++) assert_int_equal(loop_run_once(f->loop, 100), 0);
  assert_int_equal(f->items, n);
}

static void close_ok(struct ledger *l) {
  struct err e = {0};
  int rc = ledger_close(l, &e);
  if (rc) fail_msg("ledger_close: %s", e.msg);
}

static struct ledger_request mkreq(const char *id, const char *client, const char *worker, int64_t p, int64_t c) {
  struct ledger_request r = {.request_id = id, .client = client, .worker = worker, .model = "test-model",
                             .usage = {p, 0, c, 0}, .coefficient = 1000};
  billing_prices_init(&r.prices, 20, 19);
  return r;
}

static void topup(struct ledger *l, enum ledger_kind k, const char *owner, int64_t bal, int64_t stake) {
  struct err e;
  int rc = ledger_record_transfer(l, k, owner, bal, stake, 0, &e);
  if (rc) fail_msg("transfer: %s", e.msg);
}

static void verify_ok(struct fixture *f, struct ledger_verify_stats *st) {
  struct err e = {0};
  int rc = ledger_verify(f->path, seed, NULL, NULL, 0, st, &e);
  if (rc) fail_msg("ledger_verify: %s", e.msg);
}

/* N requests through group commit; reopen; verify. */
static void test_group_commit(void **state) {
  struct fixture *f = *state;
  enum { N = 3000 };
  struct ledger *l = open_ok(f, 0);
  struct err e;
  char id[32];
  topup(l, LEDGER_CLIENT, "client-a", 1000000000, 1000000);
  topup(l, LEDGER_CLIENT, "client-b", 1000000000, 0);
  for (int i = 0; i < N; i++) {
    snprintf(id, sizeof(id), "%08x", (unsigned)i);
    struct ledger_request r = mkreq(id, i % 2 ? "client-a" : "client-b", i % 3 ? "worker-1" : "worker-2", 10 + i % 7, 5);
    struct billing_amounts a;
    assert_int_equal(ledger_record_request(l, &r, (uint64_t)i, &a, &e), 0);
    assert_int_equal(a.client_charge, (15 + i % 7) * 20);
  }
  wait_items(f, N + 2);
  assert_true(f->order_ok);
  assert_int_equal(f->failed_batches, 0);
  assert_true(f->batches >= 1);
  assert_int_equal(ledger_pending(l), 0);
  struct ledger_account acct_a;
  assert_int_equal(ledger_account_get(l, LEDGER_CLIENT, "client-a", &acct_a), 0);
  close_ok(l);

  /* Reopen: everything verified and the same accounts loaded. */
  l = open_ok(f, 0);
  struct ledger_account a2, w1, w2, cb;
  assert_int_equal(ledger_account_get(l, LEDGER_CLIENT, "client-a", &a2), 0);
  assert_memory_equal(&acct_a, &a2, sizeof(a2));
  assert_int_equal(a2.requests, N / 2);
  assert_int_equal(a2.stake, 1000000);
  assert_int_equal(ledger_account_get(l, LEDGER_CLIENT, "client-b", &cb), 0);
  assert_int_equal(ledger_account_get(l, LEDGER_WORKER, "worker-1", &w1), 0);
  assert_int_equal(ledger_account_get(l, LEDGER_WORKER, "worker-2", &w2), 0);
  assert_int_equal(a2.amount + cb.amount - w1.amount - w2.amount, (a2.tokens + cb.tokens) * 1);
  assert_int_equal(a2.balance, 1000000000 - a2.amount);
  assert_int_equal(ledger_account_get(l, LEDGER_WORKER, "nobody", &w1), ERR_NOTFOUND);
  close_ok(l);

  struct ledger_verify_stats st;
  verify_ok(f, &st);
  assert_int_equal(st.requests, N);
  assert_int_equal(st.transfers, 2);
  assert_int_equal(st.accounts, 4);
  assert_int_equal(st.charge_total, st.earning_total + st.commission_total);
  assert_int_equal(st.violations, 0);
}

static void test_reused_id_and_payments(void **state) {
  struct fixture *f = *state;
  struct ledger *l = open_ok(f, 0);
  struct err e;
  struct ledger_request r = mkreq("abcd", "c1", "w1", 100, 50);
  assert_int_equal(ledger_record_request(l, &r, 1, NULL, &e), 0);
  wait_items(f, 1);
  /* The request id is the client's label, not a key: a client reusing it pays for both. */
  assert_int_equal(ledger_record_request(l, &r, 2, NULL, &e), 0);
  const uint8_t sig[3] = {9, 8, 7};
  assert_int_equal(ledger_record_payment(l, "client_charge", "c1", 100, sig, sizeof(sig), 3, &e), 0);
  assert_int_equal(ledger_record_payment(l, "client_charge", "c1", 200, sig, sizeof(sig), 4, &e), 0);
  assert_int_equal(ledger_record_payment(l, "client_charge", "c1", 150, sig, sizeof(sig), 5, &e), ERR_REFUSED);
  assert_int_equal(ledger_record_payment(l, "client_charge", "c1", 200, NULL, 0, 6, &e), 0); /* equal: stale */
  wait_items(f, 5);
  assert_int_equal(f->stale, 1);
  struct ledger_account c;
  assert_int_equal(ledger_account_get(l, LEDGER_CLIENT, "c1", &c), 0);
  assert_int_equal(c.requests, 2);
  assert_int_equal(c.amount, 6000);
  assert_int_equal(c.balance, -6000);
  /* Bad input is refused before queuing. */
  struct ledger_request bad = mkreq("XYZ", "c1", "w1", 1, 1);
  assert_int_equal(ledger_record_request(l, &bad, 0, NULL, &e), ERR_INVALID);
  bad = mkreq("ab", "c 1", "w1", 1, 1);
  assert_int_equal(ledger_record_request(l, &bad, 0, NULL, &e), ERR_INVALID);
  bad = mkreq("ab", "c1", "w1", 1, 1);
  bad.usage.cached_tokens = 2;
  assert_int_equal(ledger_record_request(l, &bad, 0, NULL, &e), ERR_PROTO);
  close_ok(l);

  l = open_ok(f, 0);
  int64_t t = 0;
  assert_int_equal(ledger_payment_get(l, "client_charge", "c1", &t), 0);
  assert_int_equal(t, 200);
  assert_int_equal(ledger_account_get(l, LEDGER_CLIENT, "c1", &c), 0);
  assert_int_equal(c.requests, 2);
  assert_int_equal(c.amount, 6000);
  close_ok(l);
  verify_ok(f, NULL);
}

struct reports {
  int n;
  char first[256];
  char all[4096];
};
static void report_cb(void *arg, const char *v) {
  struct reports *r = arg;
  if (!r->n) snprintf(r->first, sizeof(r->first), "%s", v);
  size_t len = strlen(r->all);
  snprintf(r->all + len, sizeof(r->all) - len, "%s\n", v);
  r->n++;
}

static void raw_sql(struct fixture *f, const char *sql) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) fail_msg("sql: %s", msg);
  sqlite3_close(db);
}

/* A version-1 ledger (request_id UNIQUE) is rebuilt to version 2 on open: every row, its MAC and
 * the totals survive, and a reused request id is then billed like any other request. */
static void test_migrate_v1(void **state) {
  struct fixture *f = *state;
  struct ledger *l = open_ok(f, 0);
  struct err e;
  struct ledger_request r1 = mkreq("aa01", "c1", "w1", 100, 50), r2 = mkreq("aa02", "c1", "w1", 10, 5);
  assert_int_equal(ledger_record_request(l, &r1, 1, NULL, &e), 0);
  assert_int_equal(ledger_record_request(l, &r2, 2, NULL, &e), 0);
  wait_items(f, 2);
  close_ok(l);
  /* Back to version 1's layout, as a build before the migration left it: today's table with
   * request_id UNIQUE again. */
  sqlite3 *db;
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE name='requests'", -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  char v1[2048], sql[4096];
  const char *now = (const char *)sqlite3_column_text(q, 0), *col = strstr(now, "request_id TEXT NOT NULL");
  assert_non_null(col);
  col += strlen("request_id TEXT NOT NULL");
  snprintf(v1, sizeof(v1), "%.*s UNIQUE%s", (int)(col - now), now, col);
  sqlite3_finalize(q);
  sqlite3_close(db);
  snprintf(sql, sizeof(sql),
           "BEGIN; CREATE TABLE r1 AS SELECT * FROM requests; DROP TABLE requests; %s;"
           "INSERT INTO requests SELECT * FROM r1; DROP TABLE r1;"
           "CREATE INDEX requests_by_client ON requests(client, id);"
           "CREATE INDEX requests_by_worker ON requests(worker, id);"
           "UPDATE schema_version SET version=1; COMMIT;",
           v1);
  raw_sql(f, sql);
  assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK); /* the UNIQUE index is back */
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'sqlite_autoindex_requests%'",
                                      -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), 1);
  sqlite3_finalize(q);
  sqlite3_close(db);
  assert_int_not_equal(ledger_verify(f->path, seed, NULL, NULL, 0, NULL, &e), 0);
  assert_non_null(strstr(e.msg, "schema version 1, expected 2"));
  l = open_ok(f, 0);
  struct ledger_account c;
  assert_int_equal(ledger_account_get(l, LEDGER_CLIENT, "c1", &c), 0);
  assert_int_equal(c.requests, 2);
  assert_int_equal(ledger_record_request(l, &r1, 3, NULL, &e), 0); /* "aa01" again */
  wait_items(f, 3);
  assert_int_equal(ledger_account_get(l, LEDGER_CLIENT, "c1", &c), 0);
  assert_int_equal(c.requests, 3);
  close_ok(l);
  struct ledger_verify_stats st;
  verify_ok(f, &st);
  assert_int_equal(st.requests, 3);
  assert_int_equal(st.violations, 0);
  assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT version FROM schema_version),"
                                          " (SELECT count(*) FROM requests WHERE request_id='aa01'),"
                                          " (SELECT count(*) FROM sqlite_master WHERE name LIKE 'requests_by_%')",
                                      -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), 2);
  assert_int_equal(sqlite3_column_int(q, 1), 2);
  assert_int_equal(sqlite3_column_int(q, 2), 2);
  sqlite3_finalize(q);
  sqlite3_close(db);
}


static void write_three(struct fixture *f) {
  struct ledger *l = open_ok(f, 0);
  struct err e;
  const char *ids[] = {"01", "02", "03"};
  topup(l, LEDGER_CLIENT, "c1", 1000000, 0);
  for (int i = 0; i < 3; i++) {
    struct ledger_request r = mkreq(ids[i], "c1", "w1", 10, 10);
    assert_int_equal(ledger_record_request(l, &r, 0, NULL, &e), 0);
  }
  wait_items(f, 4);
  close_ok(l);
}

static void test_tamper_request(void **state) {
  struct fixture *f = *state;
  write_three(f);
  raw_sql(f, "UPDATE requests SET client_charge = client_charge - 20 WHERE request_id = '02'");
  struct ledger *l = NULL;
  struct err e = {0};
  assert_int_equal(ledger_open(f->path, seed, f->loop, NULL, &l, &e), ERR_CRYPTO);
  assert_null(l);
  assert_non_null(strstr(e.msg, "requests row id=2 (request_id=02): MAC mismatch"));
  struct reports rep = {0};
  assert_int_equal(ledger_verify(f->path, seed, report_cb, &rep, 0, NULL, &e), ERR_INVALID);
  assert_non_null(strstr(rep.first, "requests row id=2"));
  assert_non_null(strstr(rep.all, "recomputed")); /* the charge no longer matches its usage */

  /* The CLI says the same and exits nonzero. */
  char kf[160];
  snprintf(kf, sizeof(kf), "%s/key.hex", f->dir);
  FILE *fp = fopen(kf, "w");
  assert_non_null(fp);
  for (size_t i = 0; i < LEDGER_KEY_SIZE; i++) fprintf(fp, "%02x", seed[i]);
  fprintf(fp, "\n");
  fclose(fp);
  char *argv[] = {"ledger", "verify", f->path, "--key-file", kf, NULL};
  assert_int_equal(ledger_cmd_main(5, argv), 1);
}

static void test_tamper_account_and_delete(void **state) {
  struct fixture *f = *state;
  write_three(f);
  raw_sql(f, "UPDATE accounts SET balance = balance + 1000000 WHERE owner = 'c1'");
  struct reports rep = {0};
  struct err e;
  assert_int_equal(ledger_verify(f->path, seed, report_cb, &rep, 0, NULL, &e), ERR_INVALID);
  assert_non_null(strstr(rep.all, "accounts row (client c1): MAC mismatch"));
  raw_sql(f, "UPDATE accounts SET balance = balance - 1000000 WHERE owner = 'c1'");
  verify_ok(f, NULL);

  /* A deleted request row: MACs of the rest are fine, the sums are not. */
  raw_sql(f, "DELETE FROM requests WHERE request_id = '03'");
  memset(&rep, 0, sizeof(rep));
  assert_int_equal(ledger_verify(f->path, seed, report_cb, &rep, 0, NULL, &e), ERR_INVALID);
  assert_non_null(strstr(rep.all, "accounts row (client c1)"));
  assert_non_null(strstr(rep.all, "rows added or removed"));
  struct ledger *l = NULL;
  assert_int_equal(ledger_open(f->path, seed, f->loop, NULL, &l, &e), ERR_INVALID);

  /* A different key is named as such. */
  uint8_t other[LEDGER_KEY_SIZE] = {0};
  assert_int_equal(ledger_verify(f->path, other, NULL, NULL, 0, NULL, &e), ERR_CRYPTO);
  assert_non_null(strstr(e.msg, "different machine key"));
}

/* Randomized: many clients and workers, random prices and usage, reservations, failures, top-ups
 * and withdrawals; afterwards the invariants hold exactly and no client went below zero. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static int64_t rnd_in(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }

static void test_randomized(void **state) {
  struct fixture *f = *state;
  enum { CLIENTS = 40, WORKERS = 12, STEPS = 6000 };
  struct ledger *l = open_ok(f, 0);
  struct err e;
  char clients[CLIENTS][16], workers[WORKERS][16], id[32];
  int64_t want_charge = 0, want_earn = 0, want_comm = 0, nreq = 0, queued = 0;
  for (int i = 0; i < CLIENTS; i++) {
    snprintf(clients[i], sizeof(clients[i]), "0:c%02d", i);
    topup(l, LEDGER_CLIENT, clients[i], rnd_in(0, 3000000), 1000);
    queued++;
  }
  for (int i = 0; i < WORKERS; i++) snprintf(workers[i], sizeof(workers[i]), "0:w%02d", i);
  for (int s = 0; s < STEPS; s++) {
    int64_t kind = rnd_in(0, 9);
    const char *c = clients[rnd_in(0, CLIENTS - 1)];
    if (kind == 0) {
      topup(l, LEDGER_CLIENT, c, rnd_in(1, 500000), 0);
      queued++;
      continue;
    }
    if (kind == 1) { /* withdrawal: refused when above the available credit */
      struct ledger_account a;
      assert_int_equal(ledger_account_get(l, LEDGER_CLIENT, c, &a), 0);
      int64_t amt = rnd_in(1, 400000);
      int rc = ledger_record_transfer(l, LEDGER_CLIENT, c, -amt, 0, 0, &e);
      assert_int_equal(rc, amt <= a.balance - a.reserved ? 0 : ERR_REFUSED);
      if (!rc) queued++;
      continue;
    }
    struct billing_prices p;
    billing_prices_init(&p, rnd_in(1, 40), 0);
    p.worker_fee_per_token = rnd_in(0, p.price_per_token);
    p.prompt_mult = (uint32_t)rnd_in(0, 10000);
    p.cached_mult = (uint32_t)rnd_in(0, 10000);
    p.completion_mult = (uint32_t)rnd_in(0, 10000);
    p.reasoning_mult = (uint32_t)rnd_in(0, 10000);
    int64_t max_tokens = rnd_in(1, 4000), bytes = rnd_in(10, 8000);
    uint32_t max_coef = (uint32_t)rnd_in(1000, 3000), coef = (uint32_t)rnd_in(0, max_coef);
    int64_t reserve;
    assert_int_equal(billing_reservation(max_tokens, bytes, max_coef, p.price_per_token, NULL, &reserve, &e), 0);
    if (ledger_reserve(l, c, reserve, &e) != 0) continue; /* not enough credit: request refused */
    struct ledger_request r = {.client = c, .worker = workers[rnd_in(0, WORKERS - 1)], .model = "m",
                               .coefficient = coef, .prices = p, .release = reserve};
    int failed_early = rnd_in(0, 19) == 0;
    if (failed_early) { /* failed before any output: the reservation is released, nothing billed */
      ledger_release(l, c, reserve);
      continue;
    }
    r.usage.prompt_tokens = rnd_in(0, bytes);
    r.usage.cached_tokens = rnd_in(0, r.usage.prompt_tokens);
    r.usage.completion_tokens = rnd_in(0, max_tokens);
    r.usage.reasoning_tokens = rnd_in(0, r.usage.completion_tokens);
    r.failed = rnd_in(0, 15) == 0; /* failed mid-stream: billed for what it produced */
    snprintf(id, sizeof(id), "%x", (unsigned)s);
    r.request_id = id;
    assert_int_equal(billing_usage_check(&r.usage, max_tokens, bytes, &e), 0);
    struct billing_amounts a;
    assert_int_equal(ledger_record_request(l, &r, (uint64_t)s, &a, &e), 0);
    assert_true(a.client_charge <= reserve);
    want_charge += a.client_charge;
    want_earn += a.worker_earning;
    want_comm += a.proxy_commission;
    nreq++;
    queued++;
    struct ledger_account ca;
    assert_int_equal(ledger_account_get(l, LEDGER_CLIENT, c, &ca), 0);
    assert_true(ca.balance >= 0);
    assert_true(ca.balance - ca.reserved >= 0);
    if (s % 100 == 0) assert_int_equal(loop_run_once(f->loop, 0), 0);
  }
  wait_items(f, (size_t)queued);
  for (int i = 0; i < CLIENTS; i++) {
    struct ledger_account a;
    assert_int_equal(ledger_account_get(l, LEDGER_CLIENT, clients[i], &a), 0);
    assert_int_equal(a.reserved, 0);
    assert_true(a.balance >= 0);
  }
  close_ok(l);
  struct ledger_verify_stats st;
  verify_ok(f, &st);
  assert_int_equal(st.requests, nreq);
  assert_int_equal(st.charge_total, want_charge);
  assert_int_equal(st.earning_total, want_earn);
  assert_int_equal(st.commission_total, want_comm);
  assert_int_equal(want_charge, want_earn + want_comm);
  l = open_ok(f, 0); /* load-time check passes too */
  close_ok(l);
}

static void test_queue_limit(void **state) {
  struct fixture *f = *state;
  struct ledger *l = open_ok(f, 8);
  struct err e;
  char id[16];
  for (int i = 0; i < 8; i++) {
    snprintf(id, sizeof(id), "%x", (unsigned)i);
    struct ledger_request r = mkreq(id, "c", "w", 1, 1);
    assert_int_equal(ledger_record_request(l, &r, 0, NULL, &e), 0);
  }
  struct ledger_request r = mkreq("ff", "c", "w", 1, 1);
  assert_int_equal(ledger_record_request(l, &r, 0, NULL, &e), ERR_AGAIN);
  assert_int_equal(ledger_record_transfer(l, LEDGER_CLIENT, "c", 1, 0, 0, &e), ERR_AGAIN);
  wait_items(f, 8); /* committed callbacks free the queue */
  assert_int_equal(ledger_record_request(l, &r, 0, NULL, &e), 0);
  close_ok(l); /* close flushes and delivers */
  assert_int_equal(f->items, 9);
  struct ledger_verify_stats st;
  verify_ok(f, &st);
  assert_int_equal(st.requests, 9);
}

static void test_cli_show(void **state) {
  struct fixture *f = *state;
  write_three(f);
  char *a1[] = {"ledger", "show", f->path, NULL};
  assert_int_equal(ledger_cmd_main(3, a1), 0);
  char *a2[] = {"ledger", "show", f->path, "--client", "c1", "--limit", "2", NULL};
  assert_int_equal(ledger_cmd_main(7, a2), 0);
  char *a3[] = {"ledger", "show", f->path, "--worker", "w1", NULL};
  assert_int_equal(ledger_cmd_main(5, a3), 0);
  char *a4[] = {"ledger", "bogus", NULL};
  assert_int_equal(ledger_cmd_main(2, a4), 2);
  char kf[160];
  snprintf(kf, sizeof(kf), "%s/key.hex", f->dir);
  FILE *fp = fopen(kf, "w");
  assert_non_null(fp);
  for (size_t i = 0; i < LEDGER_KEY_SIZE; i++) fprintf(fp, "%02x", seed[i]);
  fclose(fp);
  assert_int_equal(chmod(kf, 0600), 0);
  char *a5[] = {"ledger", "verify", f->path, "--key-file", kf, NULL};
  assert_int_equal(ledger_cmd_main(5, a5), 0);
}

/* SIGKILL under load: every request reported committed before the kill is in the ledger, the
 * file passes its check and can be written again. */
static int kill_pipe = -1;
static uint64_t kill_committed;
static void kill_cb(void *arg, const struct ledger_batch *b) {
  if (b->rc) _exit(3);
  kill_committed += b->n;
  if (write(kill_pipe, &kill_committed, sizeof(kill_committed)) != (ssize_t)sizeof(kill_committed)) _exit(4);
}

static void test_kill9(void **state) {
  struct fixture *f = *state;
  for (int round = 0; round < 3; round++) {
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(pfd[0]);
      kill_pipe = pfd[1];
      struct loop *lp;
      struct ledger *l;
      struct err e;
      struct ledger_opts o = {.queue_max = 512, .committed_cb = kill_cb};
      if (loop_new(&lp) != 0 || ledger_open(f->path, seed, lp, &o, &l, &e) != 0) _exit(2);
      char id[32];
      for (uint64_t i = 0;;) {
        snprintf(id, sizeof(id), "%02x%08llx", round, (unsigned long long)i);
        struct ledger_request r = mkreq(id, "c1", "w1", 3, 4);
        if (ledger_record_request(l, &r, i, NULL, &e) == 0) i++;
        else if (loop_run_once(lp, 100) != 0) _exit(5);
      }
    }
    close(pfd[1]);
    uint64_t v, last = 0;
    while (last < 1500 && read(pfd[0], &v, sizeof(v)) == (ssize_t)sizeof(v)) last = v;
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    while (read(pfd[0], &v, sizeof(v)) == (ssize_t)sizeof(v)) last = v; /* reports written before death */
    close(pfd[0]);
    assert_true(last >= 1500);
    /* Committed batches are a prefix of what was queued: the last acknowledged id must exist. */
    char want[64], sql[160];
    snprintf(want, sizeof(want), "%02x%08llx", round, (unsigned long long)(last - 1));
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM requests WHERE request_id LIKE '%02x%%'", round);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_true((uint64_t)sqlite3_column_int64(st, 0) >= last);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT 1 FROM requests WHERE request_id = ?", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, want, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    sqlite3_finalize(st);
    sqlite3_close(db);
    verify_ok(f, NULL);
  }
  struct ledger *l = open_ok(f, 0); /* and it goes on */
  struct ledger_request r = mkreq("ffffffff", "c1", "w1", 1, 1);
  struct err e;
  assert_int_equal(ledger_record_request(l, &r, 0, NULL, &e), 0);
  wait_items(f, 1);
  close_ok(l);
  verify_ok(f, NULL);
}

static void test_key_file(void **state) {
  struct fixture *f = *state;
  char kf[160];
  snprintf(kf, sizeof(kf), "%s/key.hex", f->dir);
  EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  assert_non_null(pk);
  FILE *fp = fopen(kf, "w");
  assert_non_null(fp);
  assert_int_equal(PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL), 1);
  fclose(fp);
  assert_int_equal(chmod(kf, 0600), 0);
  uint8_t want[32], got[32];
  size_t len = sizeof(want);
  assert_int_equal(EVP_PKEY_get_raw_private_key(pk, want, &len), 1);
  EVP_PKEY_free(pk);
  struct err e;
  assert_int_equal(ledger_key_load(kf, got, &e), 0);
  assert_memory_equal(want, got, 32);
  fp = fopen(kf, "w");
  fprintf(fp, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n");
  fclose(fp);
  assert_int_equal(ledger_key_load(kf, got, &e), 0);
  assert_int_equal(got[0], 0x01);
  assert_int_equal(got[31], 0xef);
  fp = fopen(kf, "w");
  fprintf(fp, "0123\n");
  fclose(fp);
  assert_int_equal(ledger_key_load(kf, got, &e), ERR_PARSE);
  assert_int_equal(chmod(kf, 0644), 0); /* a key others can read is refused */
  assert_int_equal(ledger_key_load(kf, got, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "chmod 600 it"));
}

static int count_rows(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), sum(length(v)) FROM t", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return n;
}

/* The WAL-batching VFS: transactions far above its 120 KiB write (several flushes, a page-cache
 * spill), with and without a sync per commit; a reader on the default VFS sees every committed
 * row at once, and the file passes integrity_check after a reopen. */
static void test_vfs_wal_batch(void **state) {
  struct fixture *f = *state;
  const char *vfs = ledger_vfs_name();
  assert_non_null(vfs);
  sqlite3 *w = NULL, *r = NULL;
  assert_int_equal(sqlite3_open_v2(f->path, &w, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
  assert_int_equal(sqlite3_exec(w, "PRAGMA journal_mode=WAL; PRAGMA cache_size=50;"
                                   " CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB NOT NULL);"
                                   " CREATE INDEX t_v ON t(v);", NULL, NULL, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_open_v2(f->path, &r, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  const char *sync[] = {"PRAGMA synchronous=FULL", "PRAGMA synchronous=OFF"};
  int total = 0;
  for (int round = 0; round < 4; round++) {
    assert_int_equal(sqlite3_exec(w, sync[round % 2], NULL, NULL, NULL), SQLITE_OK);
    int n = round < 2 ? 3000 : 7; /* big transactions, then small ones */
    assert_int_equal(sqlite3_exec(w, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(w, "INSERT INTO t(v) VALUES(randomblob(300))", -1, &st, NULL), SQLITE_OK);
    for (int i = 0; i < n; i++) {
      assert_int_equal(sqlite3_step(st), SQLITE_DONE);
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    assert_int_equal(count_rows(r), total); /* not committed yet */
    assert_int_equal(sqlite3_exec(w, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    total += n;
    assert_int_equal(count_rows(r), total);
  }
  assert_int_equal(sqlite3_exec(w, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(r);
  sqlite3_close(w);
  assert_int_equal(sqlite3_open_v2(f->path, &r, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(count_rows(r), total);
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(r, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
  sqlite3_finalize(st);
  sqlite3_close(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reused_id_and_payments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tamper_request, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tamper_account_and_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_randomized, setup, teardown),
      cmocka_unit_test_setup_teardown(test_queue_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cli_show, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kill9, setup, teardown),
      cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_vfs_wal_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_migrate_v1, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
