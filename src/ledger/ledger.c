/* ledger: the proxy's durable money record (SQLite), written by group commit off the event loop. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ledger/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/keyfile.h"
#include "base/util.h"
#include "ledger/ledger_store.h"
#include "loop/loop.h"

/* One queued operation. Requests carry their amounts, computed on the loop thread. */
struct op {
  enum ledger_op_type type;
  enum ledger_item_status status;
  uint64_t cookie;
  union {
    struct ledger_req_row req;
    struct ledger_xfer_row xfer;
    struct ledger_pay_row pay; /* pay.sig is owned (malloc'd) while queued */
  } u;
};

struct opvec {
  struct op *v;
  size_t n, cap;
};

/* A group of operations the writer took at once, and what became of it. */
struct batch {
  struct batch *next;
  struct opvec ops;
  struct ledger_item *items;
  int rc;
  char error[256];
  uint64_t seq;
  uint64_t write_us;
};

/* State only the writer thread touches once it runs. */
struct writer {
  sqlite3 *db;
  struct ledger_mac mac;
  struct ledger_map accts; /* committed account state */
  sqlite3_stmt *begin, *commit, *rollback, *ins_req, *ins_xfer, *up_pay, *up_acct, *ins_commit;
  int64_t next_req_id, next_xfer_id;
  struct ledger_commit_row last; /* last commit written (seq, cumulative totals) */
  uint8_t last_mac[LEDGER_MAC_SIZE];
  int failed;
  char fail_msg[200];
};

struct ledger {
  /* loop thread */
  struct loop *loop;
  struct loop_io io;
  int efd;
  ledger_committed_cb cb;
  void *cb_arg;
  size_t queue_max;
  size_t pending; /* queued and not yet reported */
  struct ledger_map accts; /* committed + queued state, reservations */
  struct ledger_map pays;  /* highest payment total per (kind, peer) */
  int failed;
  struct err first_err;
  /* shared, under mu */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct opvec queue;
  struct batch *done_head, *done_tail;
  int stop;
  int thread_started;
  pthread_t thread;
  /* writer thread */
  struct writer w;
};

static int64_t now_ms(void) { return (int64_t)(util_wall_time() * 1000.0); }

static void op_clear(struct op *o) {
  if (o->type == LEDGER_OP_PAYMENT) free((void *)o->u.pay.sig);
}

static void opvec_free(struct opvec *q) {
  for (size_t i = 0; i < q->n; i++) op_clear(&q->v[i]);
  free(q->v);
  memset(q, 0, sizeof(*q));
}

static int opvec_reserve(struct opvec *q, size_t extra) {
  if (q->n + extra <= q->cap) return 0;
  size_t ncap = q->cap ? q->cap * 2 : 256;
  while (ncap < q->n + extra) ncap *= 2;
  struct op *nv = realloc(q->v, ncap * sizeof(*nv));
  if (!nv) return ERR_NOMEM;
  q->v = nv;
  q->cap = ncap;
  return 0;
}

static void batch_free(struct batch *b) {
  if (!b) return;
  opvec_free(&b->ops);
  free(b->items);
  free(b);
}

/* ---------------------------------------------------------------- account arithmetic */

struct delta {
  int64_t tokens, amount, requests, balance, stake;
};

/* a + d into out, refusing any overflow. */
static int delta_apply(const struct ledger_account *a, const struct delta *d, struct ledger_account *out) {
  *out = *a;
  if (__builtin_add_overflow(a->tokens, d->tokens, &out->tokens) ||
      __builtin_add_overflow(a->amount, d->amount, &out->amount) ||
      __builtin_add_overflow(a->requests, d->requests, &out->requests) ||
      __builtin_add_overflow(a->balance, d->balance, &out->balance) ||
      __builtin_add_overflow(a->stake, d->stake, &out->stake))
    return ERR_LIMIT;
  return 0;
}

static void request_deltas(const struct ledger_req_row *q, struct delta *c, struct delta *w) {
  *c = (struct delta){q->adjusted_tokens, q->client_charge, 1, -q->client_charge, 0};
  *w = (struct delta){q->adjusted_tokens, q->worker_earning, 1, q->worker_earning, 0};
}

/* ---------------------------------------------------------------- writer thread */

static int wfail(struct writer *w, struct batch *b, int code, const char *what) {
  b->rc = code;
  snprintf(b->error, sizeof(b->error), "ledger write failed (%s): %s", what, sqlite3_errmsg(w->db));
  return code;
}

static int wstep(struct writer *w, struct batch *b, sqlite3_stmt *st, const char *what) {
  int r = sqlite3_step(st);
  sqlite3_reset(st);
  if (r != SQLITE_DONE && r != SQLITE_ROW) return wfail(w, b, ERR_IO, what);
  return 0;
}

static int wtouch(struct writer *w, enum ledger_kind kind, const char *owner, const struct delta *d,
                  struct ledger_entry **touched, struct batch *b) {
  struct ledger_entry *en;
  struct err e;
  struct ledger_account na;
  if (ledger_map_get(&w->accts, (uint8_t)kind, owner, &en, &e) != 0 || delta_apply(&en->acct, d, &na) != 0) {
    b->rc = ERR_LIMIT;
    snprintf(b->error, sizeof(b->error), "ledger write failed: account %s %s limit or overflow",
             ledger_kind_name(kind), owner);
    return ERR_LIMIT;
  }
  en->acct = na;
  if (!en->touched) {
    en->touched = 1;
    en->next_touched = *touched;
    *touched = en;
  }
  return 0;
}

static int bind_mac(sqlite3_stmt *st, int i, const uint8_t *mac) {
  return sqlite3_bind_blob(st, i, mac, LEDGER_MAC_SIZE, SQLITE_TRANSIENT);
}

static int write_request(struct writer *w, struct batch *b, struct op *o, struct ledger_commit_row *c,
                         struct ledger_entry **touched) {
  struct ledger_req_row *q = &o->u.req;
  uint8_t mac[LEDGER_MAC_SIZE];
  sqlite3_stmt *st = w->ins_req;
  q->id = w->next_req_id;
  q->commit_seq = c->seq;
  if (ledger_mac_req(&w->mac, q, mac) != 0) return wfail(w, b, ERR_CRYPTO, "MAC");
  int i = 1;
  sqlite3_bind_int64(st, i++, q->id);
  sqlite3_bind_text(st, i++, q->request_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, i++, q->client, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, i++, q->worker, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, i++, q->model, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, i++, q->usage.prompt_tokens);
  sqlite3_bind_int64(st, i++, q->usage.cached_tokens);
  sqlite3_bind_int64(st, i++, q->usage.completion_tokens);
  sqlite3_bind_int64(st, i++, q->usage.reasoning_tokens);
  sqlite3_bind_int64(st, i++, q->coefficient);
  sqlite3_bind_int64(st, i++, q->prices.price_per_token);
  sqlite3_bind_int64(st, i++, q->prices.worker_fee_per_token);
  sqlite3_bind_int64(st, i++, q->prices.prompt_mult);
  sqlite3_bind_int64(st, i++, q->prices.cached_mult);
  sqlite3_bind_int64(st, i++, q->prices.completion_mult);
  sqlite3_bind_int64(st, i++, q->prices.reasoning_mult);
  sqlite3_bind_int64(st, i++, q->adjusted_tokens);
  sqlite3_bind_int64(st, i++, q->client_charge);
  sqlite3_bind_int64(st, i++, q->worker_earning);
  sqlite3_bind_int64(st, i++, q->proxy_commission);
  sqlite3_bind_int64(st, i++, q->started_at);
  sqlite3_bind_int64(st, i++, q->ended_at);
  sqlite3_bind_text(st, i++, q->failed ? "failed" : "ok", -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, i++, q->commit_seq);
  bind_mac(st, i++, mac);
  int rc = wstep(w, b, st, "insert request");
  sqlite3_clear_bindings(st);
  if (rc) return rc;
  w->next_req_id++;
  struct delta dc, dw;
  request_deltas(q, &dc, &dw);
  if (__builtin_add_overflow(c->requests_total, 1, &c->requests_total) ||
      __builtin_add_overflow(c->charge_total, q->client_charge, &c->charge_total) ||
      __builtin_add_overflow(c->earning_total, q->worker_earning, &c->earning_total) ||
      __builtin_add_overflow(c->commission_total, q->proxy_commission, &c->commission_total)) {
    b->rc = ERR_LIMIT;
    snprintf(b->error, sizeof(b->error), "ledger write failed: ledger totals overflow");
    return ERR_LIMIT;
  }
  int r;
  if ((r = wtouch(w, LEDGER_CLIENT, q->client, &dc, touched, b)) != 0) return r;
  return wtouch(w, LEDGER_WORKER, q->worker, &dw, touched, b);
}

static int write_transfer(struct writer *w, struct batch *b, struct op *o, struct ledger_commit_row *c,
                          struct ledger_entry **touched) {
  struct ledger_xfer_row *x = &o->u.xfer;
  uint8_t mac[LEDGER_MAC_SIZE];
  sqlite3_stmt *st = w->ins_xfer;
  x->id = w->next_xfer_id++;
  x->commit_seq = c->seq;
  if (ledger_mac_xfer(&w->mac, x, mac) != 0) return wfail(w, b, ERR_CRYPTO, "MAC");
  sqlite3_bind_int64(st, 1, x->id);
  sqlite3_bind_text(st, 2, ledger_kind_name(x->kind), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, x->owner, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, x->balance_delta);
  sqlite3_bind_int64(st, 5, x->stake_delta);
  sqlite3_bind_int64(st, 6, x->at);
  sqlite3_bind_int64(st, 7, x->commit_seq);
  bind_mac(st, 8, mac);
  int rc = wstep(w, b, st, "insert transfer");
  if (rc) return rc;
  c->transfers_total++;
  struct delta d = {0, 0, 0, x->balance_delta, x->stake_delta};
  return wtouch(w, x->kind, x->owner, &d, touched, b);
}

static int write_payment(struct writer *w, struct batch *b, struct op *o, const struct ledger_commit_row *c) {
  struct ledger_pay_row *p = &o->u.pay;
  uint8_t mac[LEDGER_MAC_SIZE];
  sqlite3_stmt *st = w->up_pay;
  p->commit_seq = c->seq;
  if (ledger_mac_pay(&w->mac, p, mac) != 0) return wfail(w, b, ERR_CRYPTO, "MAC");
  sqlite3_bind_text(st, 1, p->kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, p->peer, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, p->tokens);
  sqlite3_bind_blob(st, 4, p->sig ? (const void *)p->sig : (const void *)"", (int)p->sig_len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, p->updated_at);
  sqlite3_bind_int64(st, 6, p->commit_seq);
  bind_mac(st, 7, mac);
  int rc = wstep(w, b, st, "upsert payment");
  if (rc) return rc;
  if (sqlite3_changes(w->db) == 0) o->status = LEDGER_ITEM_STALE;
  return 0;
}

static int write_account(struct writer *w, struct batch *b, struct ledger_entry *en, int64_t seq) {
  struct ledger_acct_row a = {.kind = (enum ledger_kind)en->kind};
  uint8_t mac[LEDGER_MAC_SIZE];
  sqlite3_stmt *st = w->up_acct;
  memcpy(a.owner, en->acct.owner, sizeof(a.owner)); /* accounts: key == owner, NUL-terminated */
  a.balance = en->acct.balance;
  a.stake = en->acct.stake;
  a.tokens = en->acct.tokens;
  a.amount = en->acct.amount;
  a.requests = en->acct.requests;
  a.commit_seq = seq;
  en->commit_seq = seq;
  if (ledger_mac_acct(&w->mac, &a, mac) != 0) return wfail(w, b, ERR_CRYPTO, "MAC");
  sqlite3_bind_text(st, 1, ledger_kind_name(a.kind), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, a.owner, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 3, a.balance);
  sqlite3_bind_int64(st, 4, a.stake);
  sqlite3_bind_int64(st, 5, a.tokens);
  sqlite3_bind_int64(st, 6, a.amount);
  sqlite3_bind_int64(st, 7, a.requests);
  sqlite3_bind_int64(st, 8, a.commit_seq);
  bind_mac(st, 9, mac);
  return wstep(w, b, st, "upsert account");
}

/* Writes the whole batch in one transaction: rows, touched accounts, the commit record. */
static void write_batch(struct writer *w, struct batch *b) {
  uint64_t t0 = util_mono_us();
  struct ledger_entry *touched = NULL;
  struct ledger_commit_row c = w->last;
  int rc = 0;
  if (w->failed) {
    b->rc = ERR_IO;
    snprintf(b->error, sizeof(b->error), "%s", w->fail_msg);
    return;
  }
  c.seq = w->last.seq + 1;
  c.committed_at = now_ms();
  c.ops = (int64_t)b->ops.n;
  memcpy(c.prev_mac, w->last_mac, LEDGER_MAC_SIZE);
  b->seq = (uint64_t)c.seq;
  if ((rc = wstep(w, b, w->begin, "begin")) != 0) goto out;
  for (size_t i = 0; i < b->ops.n && !rc; i++) {
    struct op *o = &b->ops.v[i];
    switch (o->type) {
    case LEDGER_OP_REQUEST: rc = write_request(w, b, o, &c, &touched); break;
    case LEDGER_OP_TRANSFER: rc = write_transfer(w, b, o, &c, &touched); break;
    case LEDGER_OP_PAYMENT: rc = write_payment(w, b, o, &c); break;
    }
  }
  for (struct ledger_entry *en = touched; en && !rc; en = en->next_touched) rc = write_account(w, b, en, c.seq);
  if (rc) goto out;
  uint8_t mac[LEDGER_MAC_SIZE];
  if (ledger_mac_commit(&w->mac, &c, mac) != 0) {
    rc = wfail(w, b, ERR_CRYPTO, "MAC");
    goto out;
  }
  sqlite3_stmt *st = w->ins_commit;
  sqlite3_bind_int64(st, 1, c.seq);
  sqlite3_bind_int64(st, 2, c.committed_at);
  sqlite3_bind_int64(st, 3, c.ops);
  sqlite3_bind_int64(st, 4, c.requests_total);
  sqlite3_bind_int64(st, 5, c.transfers_total);
  sqlite3_bind_int64(st, 6, c.charge_total);
  sqlite3_bind_int64(st, 7, c.earning_total);
  sqlite3_bind_int64(st, 8, c.commission_total);
  bind_mac(st, 9, mac);
  if ((rc = wstep(w, b, st, "insert commit")) != 0) goto out;
  if ((rc = wstep(w, b, w->commit, "commit")) != 0) goto out;
  w->last = c;
  memcpy(w->last_mac, mac, LEDGER_MAC_SIZE);
out:
  for (struct ledger_entry *en = touched, *nx; en; en = nx) {
    nx = en->next_touched;
    en->touched = 0;
    en->next_touched = NULL;
  }
  if (rc) {
    /* The in-memory committed state no longer matches the file: stop writing for good. */
    sqlite3_step(w->rollback);
    sqlite3_reset(w->rollback);
    w->failed = 1;
    snprintf(w->fail_msg, sizeof(w->fail_msg), "ledger failed earlier: %.150s", b->error);
  }
  b->write_us = util_mono_us() - t0;
}

/* Group-commit gathering (see writer_main). */
#define LEDGER_GATHER_MIN 64
#define LEDGER_GATHER_NS 1000000L /* 1 ms */

static void *writer_main(void *arg) {
  struct ledger *l = arg;
  size_t last_batch = 0;
  for (;;) {
    struct batch *b = calloc(1, sizeof(*b));
    pthread_mutex_lock(&l->mu);
    while (!l->queue.n && !l->stop) pthread_cond_wait(&l->cv, &l->mu);
    /* Under concurrent load, gather a little longer so one fsync covers more requests (the commit
     * costs the same for 1 row or 100). A lone request (last batch of one) is written at once, so
     * a single client never waits for the gathering. */
    if (l->queue.n && l->queue.n < LEDGER_GATHER_MIN && last_batch > 1 && !l->stop) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_nsec += LEDGER_GATHER_NS;
      if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
      }
      while (l->queue.n < LEDGER_GATHER_MIN && !l->stop &&
             pthread_cond_timedwait(&l->cv, &l->mu, &until) == 0) {
      }
    }
    if (!l->queue.n) { /* stopping and drained */
      pthread_mutex_unlock(&l->mu);
      free(b);
      break;
    }
    if (!b) { /* keep the queue; retry shortly */
      pthread_mutex_unlock(&l->mu);
      usleep(1000);
      continue;
    }
    b->ops = l->queue;
    last_batch = b->ops.n;
    memset(&l->queue, 0, sizeof(l->queue));
    pthread_mutex_unlock(&l->mu);

    b->items = calloc(b->ops.n, sizeof(*b->items));
    if (!b->items) {
      b->rc = ERR_NOMEM;
      snprintf(b->error, sizeof(b->error), "ledger: out of memory reporting a batch");
      l->w.failed = 1;
      snprintf(l->w.fail_msg, sizeof(l->w.fail_msg), "ledger failed earlier: out of memory");
    } else {
      write_batch(&l->w, b);
    }
    pthread_mutex_lock(&l->mu);
    if (l->done_tail) l->done_tail->next = b;
    else l->done_head = b;
    l->done_tail = b;
    pthread_mutex_unlock(&l->mu);
    uint64_t one = 1;
    ssize_t wr = write(l->efd, &one, sizeof(one));
    (void)wr; /* EAGAIN only when the counter is saturated: the loop will read anyway */
  }
  return NULL;
}

/* ---------------------------------------------------------------- loop thread: delivery */

static void deliver(struct ledger *l) {
  pthread_mutex_lock(&l->mu);
  struct batch *b = l->done_head;
  l->done_head = l->done_tail = NULL;
  pthread_mutex_unlock(&l->mu);
  while (b) {
    struct batch *next = b->next;
    for (size_t i = 0; b->items && i < b->ops.n; i++) {
      struct op *o = &b->ops.v[i];
      struct ledger_item *it = &b->items[i];
      it->type = o->type;
      it->status = b->rc ? LEDGER_ITEM_OK : o->status;
      it->cookie = o->cookie;
      it->request_id = o->type == LEDGER_OP_REQUEST ? o->u.req.request_id : "";
    }
    if (b->rc && !l->failed) {
      l->failed = 1;
      err_set(&l->first_err, b->rc, "%s", b->error);
    }
    l->pending -= CC_MIN(l->pending, b->ops.n);
    if (l->cb) {
      struct ledger_batch lb = {.rc = b->rc, .error = b->rc ? b->error : NULL, .seq = b->seq,
                                .n = b->items ? b->ops.n : 0, .items = b->items, .write_us = b->write_us};
      l->cb(l->cb_arg, &lb);
    }
    batch_free(b);
    b = next;
  }
}

static void on_event(struct loop_io *io, uint32_t events) {
  struct ledger *l = io->data;
  uint64_t v;
  ssize_t r = read(l->efd, &v, sizeof(v));
  (void)r;
  (void)events;
  deliver(l);
}

/* ---------------------------------------------------------------- open / close */

static int prep(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct err *e) {
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
    return err_set(e, ERR_IO, "ledger: %s", sqlite3_errmsg(db));
  return 0;
}

static int prepare_writer(struct writer *w, struct err *e) {
  int rc;
  if ((rc = prep(w->db, "BEGIN IMMEDIATE", &w->begin, e)) || (rc = prep(w->db, "COMMIT", &w->commit, e)) ||
      (rc = prep(w->db, "ROLLBACK", &w->rollback, e)) ||
      (rc = prep(w->db,
                 "INSERT INTO requests(id, request_id, client, worker, model, prompt_tokens,"
                 " cached_tokens, completion_tokens, reasoning_tokens, coefficient, price_per_token,"
                 " worker_fee_per_token, prompt_mult, cached_mult, completion_mult, reasoning_mult,"
                 " adjusted_tokens, client_charge, worker_earning, proxy_commission, started_at, ended_at,"
                 " status, commit_seq, mac) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                 &w->ins_req, e)) ||
      (rc = prep(w->db,
                 "INSERT INTO transfers(id, kind, owner, balance_delta, stake_delta, at, commit_seq, mac)"
                 " VALUES(?,?,?,?,?,?,?,?)",
                 &w->ins_xfer, e)) ||
      (rc = prep(w->db,
                 "INSERT INTO payments(kind, peer, tokens, signature, updated_at, commit_seq, mac)"
                 " VALUES(?,?,?,?,?,?,?) ON CONFLICT(kind, peer) DO UPDATE SET tokens=excluded.tokens,"
                 " signature=excluded.signature, updated_at=excluded.updated_at,"
                 " commit_seq=excluded.commit_seq, mac=excluded.mac WHERE excluded.tokens > payments.tokens",
                 &w->up_pay, e)) ||
      (rc = prep(w->db,
                 "INSERT INTO accounts(kind, owner, balance, stake, tokens, amount, requests, commit_seq, mac)"
                 " VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT(kind, owner) DO UPDATE SET"
                 " balance=excluded.balance, stake=excluded.stake, tokens=excluded.tokens,"
                 " amount=excluded.amount, requests=excluded.requests, commit_seq=excluded.commit_seq,"
                 " mac=excluded.mac",
                 &w->up_acct, e)) ||
      (rc = prep(w->db,
                 "INSERT INTO commits(seq, committed_at, ops, requests_total, transfers_total, charge_total,"
                 " earning_total, commission_total, mac) VALUES(?,?,?,?,?,?,?,?,?)",
                 &w->ins_commit, e)))
    return rc;
  return 0;
}

static void writer_close(struct writer *w) {
  sqlite3_stmt *sts[] = {w->begin, w->commit, w->rollback, w->ins_req, w->ins_xfer, w->up_pay, w->up_acct,
                         w->ins_commit};
  for (size_t i = 0; i < CC_ARRAY_LEN(sts); i++) sqlite3_finalize(sts[i]);
  if (w->db && !w->failed) sqlite3_exec(w->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
  sqlite3_close(w->db);
  ledger_map_free(&w->accts);
  ledger_mac_free(&w->mac);
  memset(w, 0, sizeof(*w));
}

static void ledger_free(struct ledger *l) {
  if (l->efd >= 0) {
    if (l->io.active) loop_io_del(l->loop, &l->io);
    close(l->efd);
  }
  writer_close(&l->w);
  opvec_free(&l->queue);
  while (l->done_head) {
    struct batch *b = l->done_head;
    l->done_head = b->next;
    batch_free(b);
  }
  ledger_map_free(&l->accts);
  ledger_map_free(&l->pays);
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->cv);
  free(l);
}

int ledger_open(const char *path, const uint8_t seed[LEDGER_KEY_SIZE], struct loop *loop,
                const struct ledger_opts *opts, struct ledger **out, struct err *e) {
  int rc;
  struct ledger_scan sc = {0};
  *out = NULL;
  if (!path || !seed || !loop) return err_set(e, ERR_INVALID, "ledger_open: missing argument");
  struct ledger *l = calloc(1, sizeof(*l));
  if (!l) return err_set(e, ERR_NOMEM, "ledger: out of memory");
  l->efd = -1;
  l->loop = loop;
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  l->queue_max = opts && opts->queue_max ? opts->queue_max : LEDGER_QUEUE_DEFAULT;
  if (l->queue_max > LEDGER_QUEUE_MAX) {
    rc = err_set(e, ERR_LIMIT, "ledger: queue_max above %d", LEDGER_QUEUE_MAX);
    goto out;
  }
  if (opts) {
    l->cb = opts->committed_cb;
    l->cb_arg = opts->cb_arg;
  }
  struct writer *w = &l->w;
  if ((rc = ledger_mac_init(&w->mac, seed, e)) || (rc = ledger_store_open(path, 0, &w->db, e)) ||
      (rc = ledger_store_migrate(w->db, path, &w->mac, e)) || (rc = ledger_store_scan(w->db, &w->mac, &sc, e)))
    goto out;
  if (sc.stats.violations) {
    rc = err_set(e, sc.mac_violations ? ERR_CRYPTO : ERR_INVALID,
                 "ledger %s refused: %lld violation(s); first: %s", path, (long long)sc.stats.violations, sc.first);
    goto out;
  }
  l->accts = sc.accts;
  l->pays = sc.pays;
  memset(&sc.accts, 0, sizeof(sc.accts));
  memset(&sc.pays, 0, sizeof(sc.pays));
  if ((rc = ledger_map_copy(&w->accts, &l->accts, e)) != 0) goto out;
  w->next_req_id = sc.last_req_id + 1;
  w->next_xfer_id = sc.last_xfer_id + 1;
  w->last = sc.last_commit;
  memcpy(w->last_mac, sc.last_mac, LEDGER_MAC_SIZE);
  if ((rc = prepare_writer(w, e)) != 0) goto out;
  if ((l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
    rc = err_set(e, ERR_IO, "ledger: eventfd: %s", strerror(errno));
    goto out;
  }
  if ((rc = loop_io_add(loop, &l->io, l->efd, LOOP_READ, on_event, l)) != 0) {
    rc = err_set(e, rc, "ledger: cannot watch eventfd");
    goto out;
  }
  if (pthread_create(&l->thread, NULL, writer_main, l) != 0) {
    rc = err_set(e, ERR_NOMEM, "ledger: cannot start the writer thread");
    goto out;
  }
  l->thread_started = 1;
  *out = l;
out:
  ledger_scan_free(&sc);
  if (rc) ledger_free(l);
  return rc;
}

int ledger_close(struct ledger *l, struct err *e) {
  if (!l) return 0;
  if (l->thread_started) {
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
  }
  deliver(l);
  int rc = 0;
  if (l->failed) rc = err_set(e, l->first_err.code, "%s", l->first_err.msg);
  ledger_free(l);
  return rc;
}

/* ---------------------------------------------------------------- loop thread: queueing */

static int can_queue(struct ledger *l, struct err *e) {
  if (l->failed) return err_set(e, ERR_IO, "%s", l->first_err.msg);
  if (l->pending >= l->queue_max)
    return err_set(e, ERR_AGAIN, "ledger queue full (%zu operations waiting for disk)", l->pending);
  return 0;
}

/* Appends o to the writer's queue; after this the op belongs to the ledger. */
static int push(struct ledger *l, const struct op *o, struct err *e) {
  pthread_mutex_lock(&l->mu);
  if (opvec_reserve(&l->queue, 1) != 0) {
    pthread_mutex_unlock(&l->mu);
    return err_set(e, ERR_NOMEM, "ledger: out of memory");
  }
  l->queue.v[l->queue.n++] = *o;
  /* The writer waits for a first operation, or while gathering for LEDGER_GATHER_MIN of them
   * (or its timeout): waking it for each one in between only costs two futex calls and a
   * context switch per request. A writer busy writing finds the queue when it comes back. */
  if (l->queue.n == 1 || l->queue.n == LEDGER_GATHER_MIN) pthread_cond_signal(&l->cv);
  pthread_mutex_unlock(&l->mu);
  l->pending++;
  return 0;
}

int ledger_record_request(struct ledger *l, const struct ledger_request *r, uint64_t cookie,
                          struct billing_amounts *amounts_out, struct err *e) {
  int rc;
  struct op o = {.type = LEDGER_OP_REQUEST, .cookie = cookie};
  struct ledger_req_row *q = &o.u.req;
  struct billing_amounts a;
  struct ledger_entry *ce, *we;
  struct ledger_account nc, nw;
  struct delta dc, dw;
  if ((rc = can_queue(l, e)) || (rc = ledger_check_id(r->request_id, e)) ||
      (rc = ledger_check_addr("client", r->client, e)) || (rc = ledger_check_addr("worker", r->worker, e)) ||
      (rc = ledger_check_model(r->model, e)) || (rc = billing_usage_check(&r->usage, 0, 0, e)) ||
      (rc = billing_compute(&r->prices, r->coefficient, &r->usage, &a, e)))
    return rc;
  if (r->release < 0) return err_set(e, ERR_INVALID, "negative release");
  snprintf(q->request_id, sizeof(q->request_id), "%s", r->request_id);
  snprintf(q->client, sizeof(q->client), "%s", r->client);
  snprintf(q->worker, sizeof(q->worker), "%s", r->worker);
  snprintf(q->model, sizeof(q->model), "%s", r->model);
  q->usage = r->usage;
  q->coefficient = r->coefficient;
  q->prices = r->prices;
  q->adjusted_tokens = a.total_adj;
  q->client_charge = a.client_charge;
  q->worker_earning = a.worker_earning;
  q->proxy_commission = a.proxy_commission;
  q->started_at = r->started_at_ms ? r->started_at_ms : now_ms();
  q->ended_at = r->ended_at_ms ? r->ended_at_ms : now_ms();
  q->failed = r->failed != 0;
  if ((rc = ledger_map_get(&l->accts, LEDGER_CLIENT, q->client, &ce, e)) ||
      (rc = ledger_map_get(&l->accts, LEDGER_WORKER, q->worker, &we, e)))
    return rc;
  request_deltas(q, &dc, &dw);
  if (delta_apply(&ce->acct, &dc, &nc) || delta_apply(&we->acct, &dw, &nw))
    return err_set(e, ERR_LIMIT, "ledger: account totals would overflow");
  if ((rc = push(l, &o, e)) != 0) return rc;
  nc.reserved -= CC_MIN(nc.reserved, r->release);
  ce->acct = nc;
  we->acct = nw;
  if (amounts_out) *amounts_out = a;
  return 0;
}

int ledger_record_transfer(struct ledger *l, enum ledger_kind kind, const char *owner, int64_t balance_delta,
                           int64_t stake_delta, uint64_t cookie, struct err *e) {
  int rc;
  struct op o = {.type = LEDGER_OP_TRANSFER, .cookie = cookie};
  struct ledger_entry *en;
  struct ledger_account na;
  if ((rc = can_queue(l, e)) != 0) return rc;
  if (kind != LEDGER_CLIENT && kind != LEDGER_WORKER) return err_set(e, ERR_INVALID, "bad account kind");
  if ((rc = ledger_check_addr("owner", owner, e)) != 0) return rc;
  if ((rc = ledger_map_get(&l->accts, (uint8_t)kind, owner, &en, e)) != 0) return rc;
  struct delta d = {0, 0, 0, balance_delta, stake_delta};
  if (delta_apply(&en->acct, &d, &na)) return err_set(e, ERR_LIMIT, "ledger: balance would overflow");
  int64_t avail;
  if (balance_delta < 0 && (__builtin_sub_overflow(na.balance, na.reserved, &avail) || avail < 0))
    return err_set(e, ERR_REFUSED, "%s %s: withdrawal of %lld exceeds the available %lld", ledger_kind_name(kind),
                   owner, (long long)-balance_delta, (long long)(en->acct.balance - en->acct.reserved));
  if (stake_delta < 0 && na.stake < 0)
    return err_set(e, ERR_REFUSED, "%s %s: stake would go negative", ledger_kind_name(kind), owner);
  o.u.xfer.kind = kind;
  snprintf(o.u.xfer.owner, sizeof(o.u.xfer.owner), "%s", owner);
  o.u.xfer.balance_delta = balance_delta;
  o.u.xfer.stake_delta = stake_delta;
  o.u.xfer.at = now_ms();
  if ((rc = push(l, &o, e)) != 0) return rc;
  en->acct = na;
  return 0;
}

int ledger_record_payment(struct ledger *l, const char *kind, const char *peer, int64_t tokens,
                          const uint8_t *sig, size_t sig_len, uint64_t cookie, struct err *e) {
  int rc;
  struct op o = {.type = LEDGER_OP_PAYMENT, .cookie = cookie};
  struct ledger_entry *en;
  char key[LEDGER_PAYKEY_MAX + 1];
  if ((rc = can_queue(l, e)) || (rc = ledger_check_pay_kind(kind, e)) || (rc = ledger_check_addr("peer", peer, e)))
    return rc;
  if (tokens < 0) return err_set(e, ERR_INVALID, "negative payment total");
  if (sig_len > LEDGER_SIG_MAX) return err_set(e, ERR_LIMIT, "signed payment larger than %d bytes", LEDGER_SIG_MAX);
  if (sig_len && !sig) return err_set(e, ERR_INVALID, "missing signature bytes");
  ledger_pay_key(kind, peer, key);
  if ((rc = ledger_map_get(&l->pays, 0, key, &en, e)) != 0) return rc;
  if (tokens < en->pay_tokens)
    return err_set(e, ERR_REFUSED, "payment %s for %s goes backwards: %lld < %lld", kind, peer, (long long)tokens,
                   (long long)en->pay_tokens);
  struct ledger_pay_row *p = &o.u.pay;
  snprintf(p->kind, sizeof(p->kind), "%s", kind);
  snprintf(p->peer, sizeof(p->peer), "%s", peer);
  p->tokens = tokens;
  p->updated_at = now_ms();
  p->sig_len = sig_len;
  if (sig_len) {
    uint8_t *copy = malloc(sig_len);
    if (!copy) return err_set(e, ERR_NOMEM, "ledger: out of memory");
    memcpy(copy, sig, sig_len);
    p->sig = copy;
  }
  if ((rc = push(l, &o, e)) != 0) {
    free((void *)p->sig);
    return rc;
  }
  en->pay_tokens = tokens;
  return 0;
}

int ledger_reserve(struct ledger *l, const char *client, int64_t amount, struct err *e) {
  struct ledger_entry *en = ledger_map_find(&l->accts, LEDGER_CLIENT, client ? client : "");
  int64_t avail, nr;
  if (amount < 0) return err_set(e, ERR_INVALID, "negative reservation");
  if (!en) return err_set(e, ERR_REFUSED, "client %s has no account", client ? client : "");
  if (__builtin_sub_overflow(en->acct.balance, en->acct.reserved, &avail) || avail < amount ||
      __builtin_add_overflow(en->acct.reserved, amount, &nr))
    return err_set(e, ERR_REFUSED, "client %s: credit %lld below the %lld this request may cost", client,
                   (long long)(avail > 0 ? avail : 0), (long long)amount);
  en->acct.reserved = nr;
  return 0;
}

void ledger_release(struct ledger *l, const char *client, int64_t amount) {
  struct ledger_entry *en = ledger_map_find(&l->accts, LEDGER_CLIENT, client ? client : "");
  if (en && amount > 0) en->acct.reserved -= CC_MIN(en->acct.reserved, amount);
}

int ledger_account_get(struct ledger *l, enum ledger_kind kind, const char *owner, struct ledger_account *out) {
  const struct ledger_entry *en = ledger_map_find(&l->accts, (uint8_t)kind, owner ? owner : "");
  if (!en) return ERR_NOTFOUND;
  *out = en->acct;
  return 0;
}

int ledger_payment_get(struct ledger *l, const char *kind, const char *peer, int64_t *tokens_out) {
  char key[LEDGER_PAYKEY_MAX + 1];
  if (ledger_check_pay_kind(kind, NULL) || ledger_check_addr("peer", peer, NULL)) return ERR_NOTFOUND;
  ledger_pay_key(kind, peer, key);
  const struct ledger_entry *en = ledger_map_find(&l->pays, 0, key);
  if (!en) return ERR_NOTFOUND;
  *tokens_out = en->pay_tokens;
  return 0;
}

size_t ledger_pending(const struct ledger *l) { return l->pending; }

size_t ledger_accounts_foreach(struct ledger *l, enum ledger_kind kind,
                               void (*cb)(void *arg, const struct ledger_account *a), void *arg) {
  size_t n = 0;
  for (size_t i = 0; i < l->accts.cap; i++) {
    const struct ledger_entry *en = l->accts.slots ? l->accts.slots[i] : NULL;
    if (!en || en->kind != (uint8_t)kind) continue;
    struct ledger_account a = en->acct;
    cb(arg, &a);
    n++;
  }
  return n;
}

/* ---------------------------------------------------------------- offline */

static int verify(const char *path, const uint8_t seed[LEDGER_KEY_SIZE], int credit, ledger_report_cb cb, void *arg,
                  size_t max_reports, struct ledger_verify_stats *stats, struct err *e) {
  struct ledger_mac m;
  struct ledger_scan sc = {.cb = cb, .arg = arg, .max_reports = max_reports, .check_credit = credit};
  sqlite3 *db = NULL;
  int rc;
  struct stat sb;
  if (stat(path, &sb) != 0) return err_set(e, ERR_NOTFOUND, "ledger %s: %s", path, strerror(errno));
  if ((rc = ledger_mac_init(&m, seed, e)) != 0) return rc;
  if ((rc = ledger_store_open(path, 1, &db, e)) || (rc = ledger_store_scan(db, &m, &sc, e))) goto out;
  if (stats) *stats = sc.stats;
  if (sc.stats.violations)
    rc = err_set(e, ERR_INVALID, "ledger %s: %lld violation(s); first: %s", path, (long long)sc.stats.violations,
                 sc.first);
out:
  sqlite3_close(db);
  ledger_scan_free(&sc);
  ledger_mac_free(&m);
  return rc;
}

int ledger_verify(const char *path, const uint8_t seed[LEDGER_KEY_SIZE], ledger_report_cb cb, void *arg,
                  size_t max_reports, struct ledger_verify_stats *stats, struct err *e) {
  return verify(path, seed, 0, cb, arg, max_reports, stats, e);
}

int ledger_verify_credit(const char *path, const uint8_t seed[LEDGER_KEY_SIZE], ledger_report_cb cb, void *arg,
                         size_t max_reports, struct ledger_verify_stats *stats, struct err *e) {
  return verify(path, seed, 1, cb, arg, max_reports, stats, e);
}

int ledger_key_load(const char *path, uint8_t seed[LEDGER_KEY_SIZE], struct err *e) {
  return keyfile_load(path, "key file", seed, e);
}
