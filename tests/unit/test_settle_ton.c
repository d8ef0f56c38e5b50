/* test_settle_ton: the ton settlement backend's state machine against a fake toncenter (a thread
 * answering the four API calls from a small model of one wallet and one client contract): the
 * threshold policy, refusals, a total already on chain (nothing sent), a wallet below its minimum
 * (nothing sent, a clear error), and the full path: look, wallet, seqno, sendBoc, the wallet's
 * transaction found by its body hash, the contract read again, the ledger mark recorded. Client
 * deposits read from a client contract (credited once, a top-up, closing, a contract naming
 * another key or owner refused); the deposit, top-up and worker payout decisions alone. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "chain/b64.h"
#include "chain/cocoon_sc.h"
#include "chain/toncenter.h"
#include "client/client_ton.h"
#include "worker/worker_ton.h"
#include "ledger/ledger.h"
#include "loop/loop.h"
#include "settle/ton_backend.h"
#include "ton/boc.h"
#include "ton/payment.h"
#include "ton/sign.h"

#define CLIENT "0:0303030303030303030303030303030303030303030303030303030303030303"

static const uint8_t ledger_seed[32] = {1, 2, 3};
static const uint8_t proxy_seed[32] = {9, 8, 7, 6, 5};
static const uint8_t wallet_seed[32] = {4, 4, 4, 4};

/* ---- the fake toncenter ---- */
struct fake {
  pthread_mutex_t mu;
  int fd, port, stop;
  pthread_t th;
  uint64_t wallet_balance;
  int wallet_active;
  int64_t seqno, tokens, tokens_after_send;
  int sends, looks;
  char body_hash_b64[64]; /* of the last external sent; "" none */
  /* Client deposits: the proxy contract's data and a client contract's get-method answer,
   * given for the accounts whose address hash (hex) appears in the request. */
  char proxy_hex[65], proxy_data_b64[2048];
  char client_hex[65], client_stack[2048];
  int client_reads;
};

static void answer(int c, const char *json) {
  char head[256];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                   strlen(json));
  if (write(c, head, (size_t)n) < 0 || write(c, json, strlen(json)) < 0) return;
}

static const char *CELL_B64 = "te6cckEBAQEAAgAAAEysuc0="; /* the empty cell */

static void serve(struct fake *f, int c) {
  char req[16384];
  size_t n = 0;
  for (;;) { /* headers, then Content-Length bytes of body */
    ssize_t r = read(c, req + n, sizeof(req) - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
    req[n] = 0;
    char *end = strstr(req, "\r\n\r\n");
    if (!end) continue;
    char *cl = strcasestr(req, "Content-Length:");
    size_t want = cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
    if (n >= (size_t)(end + 4 - req) + want) break;
  }
  req[n] = 0;
  char out[8192];
  pthread_mutex_lock(&f->mu);
  if (strstr(req, "/getAddressInformation") && f->proxy_hex[0] && strstr(req, f->proxy_hex)) {
    snprintf(out, sizeof(out),
             "{\"ok\":true,\"result\":{\"balance\":\"1\",\"state\":\"active\",\"code\":\"%s\",\"data\":\"%s\","
             "\"last_transaction_id\":{\"lt\":\"0\",\"hash\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"},"
             "\"sync_utime\":1}}",
             CELL_B64, f->proxy_data_b64);
  } else if (strstr(req, "/runGetMethod") && f->client_hex[0] && strstr(req, f->client_hex)) {
    f->client_reads++;
    snprintf(out, sizeof(out), "%s", f->client_stack);
  } else if (strstr(req, "/getAddressInformation")) {
    snprintf(out, sizeof(out),
             "{\"ok\":true,\"result\":{\"balance\":\"%" PRIu64 "\",\"state\":\"%s\",\"code\":\"%s\",\"data\":\"%s\","
             "\"last_transaction_id\":{\"lt\":\"0\",\"hash\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"},"
             "\"sync_utime\":1}}",
             f->wallet_balance, f->wallet_active ? "active" : "uninitialized", CELL_B64, CELL_B64);
  } else if (strstr(req, "/runGetMethod") && strstr(req, "\"seqno\"")) {
    snprintf(out, sizeof(out), "{\"ok\":true,\"result\":{\"gas_used\":1,\"exit_code\":0,\"stack\":[[\"num\",\"0x%" PRIx64 "\"]]}}",
             (uint64_t)f->seqno);
  } else if (strstr(req, "/runGetMethod")) {
    f->looks++;
    snprintf(out, sizeof(out),
             "{\"ok\":true,\"result\":{\"gas_used\":1,\"exit_code\":0,\"stack\":[[\"num\",\"0x0\"],[\"num\",\"0x0\"],"
             "[\"num\",\"0x0\"],[\"num\",\"0x0\"],[\"num\",\"0x0\"],[\"num\",\"0x0\"],[\"num\",\"0x%" PRIx64 "\"],"
             "[\"num\",\"0x0\"],[\"num\",\"0x0\"]]}}",
             (uint64_t)f->tokens);
  } else if (strstr(req, "/sendBoc")) {
    /* {"boc":"..."}: the external's body hash is what the backend watches for. */
    char *b = strstr(req, "\"boc\":\""), *q = b ? strchr(b + 7, '"') : NULL;
    struct buf raw;
    buf_init(&raw, 1 << 16);
    struct ton_cell *ext = NULL, *body = NULL;
    struct err e = {0};
    if (b && q && !chain_b64_decode(b + 7, (size_t)(q - b - 7), &raw) &&
        !ton_boc_parse_one(buf_ptr(&raw), raw.len, &ext, &e) && !toncenter_ext_body(ext, &body, &e)) {
      struct buf h;
      buf_init(&h, 128);
      if (!chain_b64_encode(body->hash, 32, &h) && h.len < sizeof(f->body_hash_b64)) {
        memcpy(f->body_hash_b64, buf_ptr(&h), h.len);
        f->body_hash_b64[h.len] = 0;
      }
      buf_free(&h);
      f->sends++;
      f->seqno++;
      f->wallet_active = 1;
      f->tokens = f->tokens_after_send;
      snprintf(out, sizeof(out), "{\"ok\":true,\"result\":{\"@type\":\"ok\"}}");
    } else {
      snprintf(out, sizeof(out), "{\"ok\":false,\"error\":\"bad boc\",\"code\":400}");
    }
    ton_cell_unref(body);
    ton_cell_unref(ext);
    buf_free(&raw);
  } else if (strstr(req, "/getTransactions")) {
    if (f->body_hash_b64[0])
      snprintf(out, sizeof(out),
               "{\"ok\":true,\"result\":[{\"utime\":5,\"transaction_id\":{\"lt\":\"9\",\"hash\":\"%s\"},"
               "\"fee\":\"1\",\"in_msg\":{\"source\":\"\",\"value\":\"0\",\"body_hash\":\"%s\"},\"out_msgs\":[{}]}]}",
               f->body_hash_b64, f->body_hash_b64);
    else
      snprintf(out, sizeof(out), "{\"ok\":true,\"result\":[]}");
  } else {
    snprintf(out, sizeof(out), "{\"ok\":false,\"error\":\"unknown\",\"code\":404}");
  }
  pthread_mutex_unlock(&f->mu);
  answer(c, out);
}

static void *fake_main(void *arg) {
  struct fake *f = arg;
  for (;;) {
    int c = accept(f->fd, NULL, NULL);
    if (c < 0) break;
    pthread_mutex_lock(&f->mu);
    int stop = f->stop;
    pthread_mutex_unlock(&f->mu);
    if (stop) {
      close(c);
      break;
    }
    serve(f, c);
    close(c);
  }
  return NULL;
}

static void fake_start(struct fake *f) {
  memset(f, 0, sizeof(*f));
  pthread_mutex_init(&f->mu, NULL);
  f->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(f->fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof(a);
  assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(f->fd, 16), 0);
  assert_int_equal(getsockname(f->fd, (struct sockaddr *)&a, &al), 0);
  f->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f) {
  pthread_mutex_lock(&f->mu);
  f->stop = 1;
  pthread_mutex_unlock(&f->mu);
  int c = socket(AF_INET, SOCK_STREAM, 0); /* wake accept() */
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons((uint16_t)f->port)};
  (void)connect(c, (struct sockaddr *)&a, sizeof(a));
  close(c);
  pthread_join(f->th, NULL);
  close(f->fd);
  pthread_mutex_destroy(&f->mu);
}

/* ---- the backend under test ---- */
struct fx {
  char dir[64], path[128], url[64];
  struct loop *loop;
  struct ledger *l;
  struct settle *s;
  struct fake f;
  int done;
  struct settle_result last;
  char last_error[256];
};

static void done_cb(void *arg, const struct settle_result *r) {
  struct fx *x = arg;
  x->done++;
  x->last = *r;
  snprintf(x->last_error, sizeof(x->last_error), "%s", r->error ? r->error : "");
}

static void setup_fx2(struct fx *x, int64_t charge_threshold, const char *proxy_contract) {
  memset(x, 0, sizeof(*x));
  fake_start(&x->f);
  snprintf(x->url, sizeof(x->url), "http://127.0.0.1:%d/api/v2", x->f.port);
  snprintf(x->dir, sizeof(x->dir), "/tmp/cocoon-settle-ton.XXXXXX");
  assert_non_null(mkdtemp(x->dir));
  snprintf(x->path, sizeof(x->path), "%s/ledger.db", x->dir);
  assert_int_equal(loop_new(&x->loop), 0);
  struct err e = {0};
  struct ledger_opts lo = {0};
  assert_int_equal(ledger_open(x->path, ledger_seed, x->loop, &lo, &x->l, &e), 0);
  struct settle_ton_params p = {.toncenter_url = x->url, .wallet_kind = TON_WALLET_V4R2, .price_per_token = 20,
                                .worker_fee_per_token = 19, .charge_threshold = charge_threshold,
                                .payout_threshold = -1, .scan_ms = 100, .poll_ms = 50,
                                .proxy_contract = proxy_contract, .client_poll_ms = 100};
  memcpy(p.wallet_seed, wallet_seed, 32);
  memcpy(p.proxy_seed, proxy_seed, 32);
  assert_int_equal(settle_ton_new(x->loop, x->l, &p, &x->s, &e), 0);
}

static void setup_fx(struct fx *x, int64_t charge_threshold) { setup_fx2(x, charge_threshold, NULL); }

static void teardown_fx(struct fx *x) {
  struct err e = {0};
  settle_free(x->s);
  assert_int_equal(ledger_close(x->l, &e), 0);
  loop_free(x->loop);
  fake_stop(&x->f);
  char p[160];
  snprintf(p, sizeof(p), "%s-wal", x->path);
  unlink(p);
  snprintf(p, sizeof(p), "%s-shm", x->path);
  unlink(p);
  unlink(x->path);
  rmdir(x->dir);
}

static void run_until(struct fx *x, int *flag, int want) {
  for (int i = 0; i < 400 && *flag < want; i++) assert_int_equal(loop_run_once(x->loop, 25), 0);
}

static void sign_charge(struct buf *b, uint64_t tokens, const uint8_t *key) {
  struct ton_payment p = {.op = TON_OP_CLIENT_CHARGE_SIGNED, .qid = tokens, .tokens = tokens};
  struct err e = {0};
  assert_int_equal(ton_addr_parse(CLIENT, &p.target, NULL, &e), 0);
  buf_reset(b);
  assert_int_equal(ton_payment_sign(&p, NULL, key, b, &e), 0);
}

static int64_t chain_mark(struct fx *x) {
  int64_t v = 0;
  if (ledger_payment_get(x->l, SETTLE_TON_MARK_CHARGED, CLIENT, &v)) v = 0;
  return v;
}

static void test_due(void **st) {
  (void)st;
  int64_t owed;
  assert_false(settle_ton_due(10, 10, 20, 0, &owed));
  assert_int_equal(owed, 0);
  assert_false(settle_ton_due(14, 10, 20, 100, &owed)); /* 80 < 100 */
  assert_int_equal(owed, 80);
  assert_true(settle_ton_due(15, 10, 20, 100, &owed));
  assert_int_equal(owed, 100);
  assert_false(settle_ton_due(1000, 0, 20, -1, &owed)); /* automatic submission off */
  assert_true(settle_ton_due(INT64_MAX, 0, 20, 1, &owed)); /* no overflow */
  assert_int_equal(owed, INT64_MAX);
}

/* The ledger change that matches a client account to its contract: deposits, charges landing,
 * refunds, idempotence, overflow. */
static void test_deposit_delta(void **st) {
  (void)st;
  int64_t db, ds;
  /* First sight: the whole deposit and the stake. */
  assert_int_equal(settle_ton_deposit_delta(NULL, 400000000, 1000000000, 0, 20, &db, &ds), 0);
  assert_int_equal(db, 400000000);
  assert_int_equal(ds, 1000000000);
  /* The account after it, 16 tokens served (320 charged in the ledger), none on chain yet. */
  struct ledger_account a = {.balance = 400000000 - 320, .stake = 1000000000, .amount = 320, .tokens = 16};
  assert_int_equal(settle_ton_deposit_delta(&a, 400000000, 1000000000, 0, 20, &db, &ds), 0);
  assert_true(db == 0 && ds == 0); /* net deposit: ledger 0.4 TON - 320 + 320, contract 0.4 TON + 0 x 20 */
  /* The charge landed: balance lowered, tokens raised, the sum the same: nothing to do. */
  assert_int_equal(settle_ton_deposit_delta(&a, 400000000 - 320, 1000000000, 16, 20, &db, &ds), 0);
  assert_true(db == 0 && ds == 0);
  /* A top-up of 1 TON. */
  assert_int_equal(settle_ton_deposit_delta(&a, 1400000000 - 320, 1000000000, 16, 20, &db, &ds), 0);
  assert_true(db == 1000000000 && ds == 0);
  /* Closing: everything above the stake refunded. */
  a.balance = 1400000000 - 320;
  assert_int_equal(settle_ton_deposit_delta(&a, 1000000000, 1000000000, 16, 20, &db, &ds), 0);
  assert_true(db == -(400000000 - 320) && ds == 0);
  /* Closed: the stake refunded too. */
  a.balance = 1000000000;
  assert_int_equal(settle_ton_deposit_delta(&a, 0, 0, 16, 20, &db, &ds), 0);
  assert_true(db == -1000000000 && ds == -1000000000);
  /* Out of range. */
  assert_int_equal(settle_ton_deposit_delta(&a, 1, 0, INT64_MAX, 20, &db, &ds), ERR_LIMIT);
  assert_int_equal(settle_ton_deposit_delta(&a, -1, 0, 0, 20, &db, &ds), ERR_LIMIT);
  a.balance = INT64_MIN;
  a.amount = 0;
  assert_int_equal(settle_ton_deposit_delta(&a, INT64_MAX, 0, 0, 20, &db, &ds), ERR_LIMIT);
  assert_true(db == 0 && ds == 0);
}

/* The client's automatic top-up decision. */
static void test_topup_due(void **st) {
  (void)st;
  int64_t amt;
  struct client_ton_contract c = {.state = 0, .balance = 400000000, .stake = 1000000000};
  assert_true(client_ton_topup_due(&c, 0, 0, &amt)); /* below half the stake: one stake */
  assert_int_equal(amt, 1000000000);
  c.balance = 500000000;
  assert_false(client_ton_topup_due(&c, 0, 0, &amt)); /* exactly half: not below */
  assert_true(client_ton_topup_due(&c, 500000001, 7, &amt)); /* a configured threshold and amount */
  assert_int_equal(amt, 7);
  c.balance = 0;
  c.state = 1;
  assert_false(client_ton_topup_due(&c, 0, 0, &amt)); /* closing: never */
  c.state = 0;
  c.stake = 0;
  assert_false(client_ton_topup_due(&c, 0, 0, &amt)); /* no stake, no amount: nothing to send */
  assert_true(client_ton_topup_due(&c, 10, 5, &amt));
}

/* The worker's own payout decision. */
static void test_worker_payout_due(void **st) {
  (void)st;
  assert_true(worker_ton_payout_due(16, 0, 19, 1));
  assert_false(worker_ton_payout_due(16, 16, 19, 0)); /* nothing owed */
  assert_false(worker_ton_payout_due(16, 20, 19, 0)); /* the contract holds more */
  assert_false(worker_ton_payout_due(16, 10, 19, 115)); /* 6 x 19 = 114 */
  assert_true(worker_ton_payout_due(16, 10, 19, 114));
  assert_false(worker_ton_payout_due(1000, 0, 19, -1)); /* off */
  assert_true(worker_ton_payout_due(INT64_MAX, 0, 19, INT64_MAX)); /* overflow: owed is huge */
}

static void test_refusals_and_already_on_chain(void **st) {
  (void)st;
  struct fx x;
  setup_fx(&x, -1);
  struct err e = {0};
  struct settle_status ss;
  assert_int_equal(settle_status(x.s, CLIENT, &ss, &e), ERR_NOTFOUND);
  assert_int_equal(settle_topup(x.s, CLIENT, 0, done_cb, &x, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "client's own wallet"));
  assert_int_equal(settle_close(x.s, CLIENT, done_cb, &x, &e), ERR_REFUSED);
  assert_int_equal(settle_withdraw(x.s, CLIENT, done_cb, &x, &e), ERR_REFUSED);
  struct buf b;
  buf_init(&b, 2048);
  static const uint8_t other[32] = {7};
  sign_charge(&b, 50, other); /* not the proxy's key */
  assert_int_not_equal(settle_charge(x.s, CLIENT, buf_ptr(&b), b.len, done_cb, &x, &e), 0);
  assert_int_equal(x.done, 0);
  /* The contract already holds 60 tokens: a charge of 50 completes without a message. */
  pthread_mutex_lock(&x.f.mu);
  x.f.tokens = 60;
  pthread_mutex_unlock(&x.f.mu);
  sign_charge(&b, 50, proxy_seed);
  assert_int_equal(settle_charge(x.s, CLIENT, buf_ptr(&b), b.len, done_cb, &x, &e), 0);
  run_until(&x, &x.done, 1);
  assert_int_equal(x.done, 1);
  assert_int_equal(x.last.rc, 0);
  assert_int_equal(x.f.sends, 0);
  assert_int_equal(chain_mark(&x), 60);
  /* Below what the chain holds: refused at once. */
  assert_int_equal(settle_charge(x.s, CLIENT, buf_ptr(&b), b.len, done_cb, &x, &e), ERR_REFUSED);
  buf_free(&b);
  teardown_fx(&x);
}

static void test_low_wallet(void **st) {
  (void)st;
  struct fx x;
  setup_fx(&x, -1);
  x.f.wallet_balance = 1200000000; /* < 1 TON minimum + 0.5 TON message */
  x.f.wallet_active = 1;
  struct err e = {0};
  struct buf b;
  buf_init(&b, 2048);
  sign_charge(&b, 50, proxy_seed);
  assert_int_equal(settle_charge(x.s, CLIENT, buf_ptr(&b), b.len, done_cb, &x, &e), 0);
  run_until(&x, &x.done, 1);
  assert_int_equal(x.done, 1);
  assert_int_equal(x.last.rc, ERR_REFUSED);
  assert_non_null(strstr(x.last_error, "fund it"));
  assert_non_null(strstr(x.last_error, "1200000000"));
  assert_int_equal(x.f.sends, 0);
  struct settle_ton_stats ts;
  settle_ton_get_stats(x.s, &ts);
  assert_int_equal(ts.failed, 1);
  assert_int_equal(ts.wallet_balance, 1200000000);
  buf_free(&b);
  teardown_fx(&x);
}

/* The policy: signed marks in the ledger above the threshold go on chain by themselves. */
static void test_policy_submits(void **st) {
  (void)st;
  struct fx x;
  setup_fx(&x, 100);
  x.f.wallet_balance = 5000000000;
  x.f.seqno = 7;
  x.f.wallet_active = 1;
  x.f.tokens_after_send = 40;
  struct err e = {0};
  /* An account with a signed total of 40 tokens (800 nanoTON >= 100). */
  assert_int_equal(ledger_record_transfer(x.l, LEDGER_CLIENT, CLIENT, 100000, 0, 0, &e), 0);
  assert_int_equal(ledger_record_payment(x.l, "client_charge", CLIENT, 40, NULL, 0, 0, &e), 0);
  int64_t m = 0;
  for (int i = 0; i < 400 && m < 40; i++) {
    assert_int_equal(loop_run_once(x.loop, 25), 0);
    m = chain_mark(&x);
  }
  assert_int_equal(m, 40);
  assert_int_equal(x.f.sends, 1);
  assert_int_equal(x.f.seqno, 8);
  struct settle_status ss;
  assert_int_equal(settle_status(x.s, CLIENT, &ss, &e), 0);
  assert_int_equal(ss.tokens_charged, 40);
  struct settle_ton_stats ts;
  settle_ton_get_stats(x.s, &ts);
  assert_int_equal(ts.submitted, 1);
  assert_int_equal(ts.landed, 1);
  assert_int_equal(ts.failed, 0);
  /* Nothing more is due: no second message. */
  for (int i = 0; i < 10; i++) assert_int_equal(loop_run_once(x.loop, 25), 0);
  assert_int_equal(x.f.sends, 1);
  teardown_fx(&x);
}

/* The wallet's message lands but the contract keeps a lower total: an error, not a success. */
static void test_contract_refuses(void **st) {
  (void)st;
  struct fx x;
  setup_fx(&x, -1);
  x.f.wallet_balance = 5000000000;
  x.f.wallet_active = 0; /* the first message deploys the wallet (seqno 0) */
  x.f.tokens_after_send = 0;
  struct err e = {0};
  struct buf b;
  buf_init(&b, 2048);
  sign_charge(&b, 50, proxy_seed);
  assert_int_equal(settle_charge(x.s, CLIENT, buf_ptr(&b), b.len, done_cb, &x, &e), 0);
  run_until(&x, &x.done, 1);
  assert_int_equal(x.done, 1);
  assert_int_equal(x.last.rc, ERR_IO);
  assert_non_null(strstr(x.last_error, "did not take"));
  assert_int_equal(x.f.sends, 1);
  assert_int_equal(chain_mark(&x), 0);
  buf_free(&b);
  teardown_fx(&x);
}

/* ---- client deposits read from the chain ---- */

static char *b64_of(struct ton_cell *c) {
  struct buf boc, b;
  buf_init(&boc, 0);
  buf_init(&b, 0);
  assert_int_equal(ton_boc_serialize(c, TON_BOC_CRC, &boc, NULL), 0);
  assert_int_equal(chain_b64_encode(buf_ptr(&boc), boc.len, &b), 0);
  char *r = strdup((const char *)buf_ptr(&b));
  buf_free(&boc);
  buf_free(&b);
  return r;
}

static struct ton_cell *addr_cell(const struct ton_addr *a) {
  struct ton_builder b;
  struct ton_cell *c = NULL;
  ton_builder_init(&b);
  assert_int_equal(ton_builder_store_addr(&b, a), 0);
  assert_int_equal(ton_builder_end(&b, &c, NULL), 0);
  return c;
}

/* The client contract's answer: owner, proxy, key, state, balance, stake, tokens, unlock, secret. */
static void client_says(struct fx *x, const struct ton_addr *owner, const struct ton_addr *proxy, const uint8_t *key,
                        int state, int64_t balance, int64_t stake, int64_t tokens) {
  struct ton_cell *oc = addr_cell(owner), *pc = addr_cell(proxy);
  char *ob = b64_of(oc), *pb = b64_of(pc), kh[65];
  for (int i = 0; i < 32; i++) snprintf(kh + 2 * i, 3, "%02x", key[i]);
  pthread_mutex_lock(&x->f.mu);
  snprintf(x->f.client_stack, sizeof(x->f.client_stack),
           "{\"ok\":true,\"result\":{\"gas_used\":1,\"exit_code\":0,\"stack\":[[\"slice\",{\"bytes\":\"%s\"}],"
           "[\"slice\",{\"bytes\":\"%s\"}],[\"num\",\"0x%s\"],[\"num\",\"0x%x\"],[\"num\",\"0x%" PRIx64 "\"],"
           "[\"num\",\"0x%" PRIx64 "\"],[\"num\",\"0x%" PRIx64 "\"],[\"num\",\"0x65\"],[\"num\",\"0x0\"]]}}",
           ob, pb, kh, state, (uint64_t)balance, (uint64_t)stake, (uint64_t)tokens);
  int reads = x->f.client_reads;
  pthread_mutex_unlock(&x->f.mu);
  /* Two more reads: the answer has been seen and applied. */
  for (int i = 0; i < 400; i++) {
    pthread_mutex_lock(&x->f.mu);
    int now = x->f.client_reads;
    pthread_mutex_unlock(&x->f.mu);
    if (now >= reads + 2) break;
    assert_int_equal(loop_run_once(x->loop, 25), 0);
  }
  free(ob);
  free(pb);
  ton_cell_unref(oc);
  ton_cell_unref(pc);
}

static void test_deposits_from_chain(void **st) {
  (void)st;
  struct err e = {0};
  /* A proxy contract (key = the proxy's) whose params carry a client code; the client contract's
   * address derived from it, as the proxy contract derives it. */
  uint8_t pub[32];
  assert_int_equal(ton_sign_pubkey(proxy_seed, pub), 0);
  struct ton_addr proxy = {.wc = 0}, owner = {.wc = 0}, root = {.wc = -1}, client;
  memset(proxy.hash, 0x22, 32);
  memset(owner.hash, 0x11, 32);
  memset(root.hash, 0x33, 32);
  struct ton_builder b;
  struct ton_cell *code = NULL, *params = NULL, *data = NULL;
  ton_builder_init(&b);
  assert_int_equal(ton_builder_store_uint(&b, 0xc0de, 16), 0);
  assert_int_equal(ton_builder_end(&b, &code, NULL), 0);
  ton_builder_init(&b);
  assert_int_equal(ton_builder_store_uint(&b, 3, 8) || ton_builder_store_uint(&b, 1, 32) ||
                       ton_builder_store_uint(&b, 1, 32) || ton_builder_store_bit(&b, 1) ||
                       ton_builder_store_coins(&b, 20) || ton_builder_store_coins(&b, 19),
                   0);
  for (int i = 0; i < 4; i++) assert_int_equal(ton_builder_store_uint(&b, 10000, 32), 0);
  assert_int_equal(ton_builder_store_uint(&b, 600, 32) || ton_builder_store_uint(&b, 300, 32) ||
                       ton_builder_store_coins(&b, 2000000000) || ton_builder_store_coins(&b, 1000000000) ||
                       ton_builder_store_bit(&b, 0) || ton_builder_store_bit(&b, 0) ||
                       ton_builder_store_maybe_ref(&b, code),
                   0);
  assert_int_equal(ton_builder_end(&b, &params, NULL), 0);
  ton_builder_init(&b);
  assert_int_equal(ton_builder_store_addr(&b, &owner) || ton_builder_store_bytes(&b, pub, 32) ||
                       ton_builder_store_addr(&b, &root) || ton_builder_store_uint(&b, 0, 2) ||
                       ton_builder_store_coins(&b, 0) || ton_builder_store_coins(&b, 2000000000) ||
                       ton_builder_store_uint(&b, 0, 32) || ton_builder_store_ref(&b, params),
                   0);
  assert_int_equal(ton_builder_end(&b, &data, NULL), 0);
  struct chain_proxy_sc psc;
  assert_int_equal(chain_proxy_sc_parse(data, &psc, &e), 0);
  assert_int_equal(chain_client_sc_address(&psc, &proxy, &owner, &client, &e), 0);
  chain_proxy_sc_clear(&psc);
  char praw[TON_ADDR_RAW_MAX], craw[TON_ADDR_RAW_MAX];
  ton_addr_to_raw(&proxy, praw, sizeof(praw));
  ton_addr_to_raw(&client, craw, sizeof(craw));

  struct fx x;
  setup_fx2(&x, -1, praw);
  char *db = b64_of(data);
  pthread_mutex_lock(&x.f.mu);
  snprintf(x.f.proxy_hex, sizeof(x.f.proxy_hex), "%.64s", praw + 2);
  snprintf(x.f.proxy_data_b64, sizeof(x.f.proxy_data_b64), "%s", db);
  snprintf(x.f.client_hex, sizeof(x.f.client_hex), "%.64s", craw + 2);
  pthread_mutex_unlock(&x.f.mu);
  free(db);

  /* The handshake: the first deposit (0.4 TON) and the stake are credited. */
  settle_ton_client_seen(x.s, craw);
  client_says(&x, &owner, &proxy, pub, 0, 400000000, 1000000000, 0);
  struct ledger_account a;
  assert_int_equal(ledger_account_get(x.l, LEDGER_CLIENT, craw, &a), 0);
  assert_int_equal(a.balance, 400000000);
  assert_int_equal(a.stake, 1000000000);
  /* A top-up of 1 TON and a charge of 16 tokens landed: only the top-up is new. */
  client_says(&x, &owner, &proxy, pub, 0, 1400000000 - 16 * 20, 1000000000, 16);
  assert_int_equal(ledger_account_get(x.l, LEDGER_CLIENT, craw, &a), 0);
  assert_int_equal(a.balance, 1400000000);
  int64_t charged = 0;
  assert_int_equal(ledger_payment_get(x.l, SETTLE_TON_MARK_CHARGED, craw, &charged), 0);
  assert_int_equal(charged, 16);
  struct settle_ton_stats ts;
  settle_ton_get_stats(x.s, &ts);
  assert_int_equal(ts.deposits, 2);
  assert_int_equal(ts.deposited, 1400000000);
  assert_true(settle_can_run(x.s, craw));
  /* Closing: the excess over the stake refunded; no new requests. Read again: nothing moves. (This
   * ledger served none of the 16 tokens the contract was charged, so its net deposit keeps them.) */
  client_says(&x, &owner, &proxy, pub, 1, 1000000000, 1000000000, 16);
  client_says(&x, &owner, &proxy, pub, 1, 1000000000, 1000000000, 16);
  assert_int_equal(ledger_account_get(x.l, LEDGER_CLIENT, craw, &a), 0);
  assert_int_equal(a.balance, 1000000000 + 16 * 20);
  assert_false(settle_can_run(x.s, craw));
  struct settle_status ss;
  assert_int_equal(settle_status(x.s, craw, &ss, &e), 0);
  assert_int_equal(ss.state, SETTLE_CLOSING);
  assert_int_equal(ss.unlock_at_ms, 101000);
  settle_ton_get_stats(x.s, &ts);
  assert_int_equal(ts.clients_closing, 1);
  assert_int_equal(ts.refunds, 1);
  assert_int_equal(ts.refunded, 400000000 - 16 * 20);
  assert_int_equal(ts.contracts_refused, 0);
  /* The same contract claiming another proxy key, or another owner (so another address): refused,
   * the account unchanged. */
  uint8_t other[32];
  memset(other, 0x5a, 32);
  client_says(&x, &owner, &proxy, other, 0, 50000000000, 1000000000, 16);
  struct ton_addr owner2 = owner;
  owner2.hash[0] ^= 1;
  client_says(&x, &owner2, &proxy, pub, 0, 50000000000, 1000000000, 16);
  assert_int_equal(ledger_account_get(x.l, LEDGER_CLIENT, craw, &a), 0);
  assert_int_equal(a.balance, 1000000000 + 16 * 20);
  settle_ton_get_stats(x.s, &ts);
  assert_true(ts.contracts_refused >= 1);
  assert_non_null(strstr(ts.last_contract_error, "not the client contract address"));
  teardown_fx(&x);
  ton_cell_unref(code);
  ton_cell_unref(params);
  ton_cell_unref(data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_due),
      cmocka_unit_test(test_deposit_delta),
      cmocka_unit_test(test_topup_due),
      cmocka_unit_test(test_worker_payout_due),
      cmocka_unit_test(test_deposits_from_chain),
      cmocka_unit_test(test_refusals_and_already_on_chain),
      cmocka_unit_test(test_low_wallet),
      cmocka_unit_test(test_policy_submits),
      cmocka_unit_test(test_contract_refuses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
