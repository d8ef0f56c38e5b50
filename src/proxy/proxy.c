/* proxy: accepts workers and clients, routes each query to a worker and relays the answer. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "proxy/proxy.h"
#include "proxy/proxy_sc.h"

#include <inttypes.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "core/daemon.h"
#include "core/errcode.h"
#include "core/node.h"
#include "core/readyfile.h"
#include "core/rpc.h"
#include "core/stats.h"
#include "core/statsweb.h"
#include "http/http_server.h"
#include "ledger/billing.h"
#include "ledger/ledger.h"
#include "chain/wallet_key.h"
#include "ledger/settle.h"
#include "settle/ton_backend.h"
#include "loop/loop.h"
#include "net/conn.h"
#include "openai/openai_request.h"
#include "registry/registry.h"
#include "tl/tl_schema.h"
#include "ton/address.h"
#include "ton/payment.h"

#define PROXY_PROTO_MAX 2             /* we speak protocol versions 0..2, like COCOON */
#define PROXY_MAX_MODEL_LEN 512
#define PROXY_MAX_COEFFICIENT 1000000000 /* worker coefficients are in [0, 1e9) */
#define PROXY_MAX_REQUESTS 100000     /* in-flight requests over all clients */
#define PROXY_AVG_DECAY 0.9           /* weight of history in a worker's average query time */

const struct config_key proxy_config_schema[] = {
    NODE_CONFIG_KEYS,
    NODE_PROXY_CONFIG_KEYS,
    {"worker_listen", CONFIG_HOSTPORT, 0, 65535, "127.0.0.1:11101",
     "address workers connect to (port 0: any free port)", 0},
    {"client_listen", CONFIG_HOSTPORT, 0, 65535, "127.0.0.1:11102",
     "address clients connect to (port 0: any free port)", 0},
    {"http_listen", CONFIG_HOSTPORT, 0, 65535, "127.0.0.1:11000",
     "address of /stats, /jsonstats and /metrics", 0},
    {"owner_address", CONFIG_STRING, 0, 128,
     "0:0000000000000000000000000000000000000000000000000000000000000000",
     "TON address of the proxy's owner (announced to peers)", 0},
    {"settlement", CONFIG_STRING, 0, 16, "local",
     "settlement backend: local (no chain; clients authorized by the shared secret) or ton (the proxy's "
     "wallet submits the signed charges and payouts to the contracts on TON)", 0},
    /* toncenter_url and toncenter_api_key are node keys (NODE_CONFIG_KEYS), shared with the
     * registry's TON source. */
    {"ton_wallet_key", CONFIG_STRING, 0, 4096, "",
     "ton settlement: file (mode 0600) with the proxy wallet's private key (cocoon ton wallet-key)", 0},
    {"ton_wallet", CONFIG_STRING, 0, 8, "v4r2", "ton settlement: the proxy wallet's contract (v4r2 or v5r1)", 0},
    {"ton_testnet", CONFIG_BOOL, 0, 1, "false", "ton settlement: testnet addresses and wallet ids", 0},
    {"ton_charge_threshold_nanoton", CONFIG_INT, -1, INT64_MAX / 4, "1000000000",
     "ton settlement: submit a client's signed charge once this much nano-TON is signed but not on chain "
     "(-1: only when the client asks)", 0},
    {"ton_payout_threshold_nanoton", CONFIG_INT, -1, INT64_MAX / 4, "1000000000",
     "ton settlement: submit a worker's signed payout once this much nano-TON is owed (-1: never automatically)", 0},
    {"ton_msg_value_nanoton", CONFIG_INT, 0, INT64_MAX / 4, "500000000",
     "ton settlement: nano-TON sent with each signed message for the contracts' gas (the rest returns)", 0},
    {"ton_min_wallet_nanoton", CONFIG_INT, 0, INT64_MAX / 4, "1000000000",
     "ton settlement: the wallet must keep this much beyond one message, else submissions stop with an error", 0},
    {"ton_scan_ms", CONFIG_INT, 100, 3600000, "2000", "ton settlement: how often the thresholds are checked", 0},
    {"ton_proxy_contract", CONFIG_STRING, 0, 128, "",
     "ton settlement: the proxy contract's address; client deposits, stakes and close states are read from the "
     "client contracts it derives (required with settlement ton)", 0},
    {"ton_client_poll_ms", CONFIG_INT, 500, 86400000, "10000",
     "ton settlement: how often every client contract is read (also at each client's handshake)", 0},
    {"fake_ton_config", CONFIG_STRING, 0, 4096, "",
     "local settlement: COCOON's fake-TON root configuration (the JSON file its runners take with "
     "--disable-ton). The proxy then announces the proxy, worker and client contract addresses COCOON "
     "derives from it (its runners check them) and takes the version, prices and client stake from it", 0},
    {"root_contract_address", CONFIG_STRING, 0, 128, "",
     "the root contract's address (with fake_ton_config: the root_contract_address COCOON's runners have)", 0},
    {"client_secret", CONFIG_STRING, 0, 1024, "",
     "secret clients prove with the short authorization (COCOON fake-TON: empty)", CONFIG_F_SECRET},
    {"price_per_token", CONFIG_INT, 0, INT64_MAX / 4, "2",
     "nano-TON per adjusted token charged to clients (COCOON fake-TON: 2)", 0},
    {"worker_fee_per_token", CONFIG_INT, 0, INT64_MAX / 4, "1",
     "nano-TON per adjusted token paid to workers; the proxy keeps the difference", 0},
    {"prompt_multiplier", CONFIG_INT, 0, 4294967295LL, "10000", "price multiplier of uncached prompt tokens (10000 = 1.0x)", 0},
    {"cached_multiplier", CONFIG_INT, 0, 4294967295LL, "10000", "price multiplier of cached prompt tokens", 0},
    {"completion_multiplier", CONFIG_INT, 0, 4294967295LL, "10000", "price multiplier of completion tokens", 0},
    {"reasoning_multiplier", CONFIG_INT, 0, 4294967295LL, "10000", "price multiplier of reasoning tokens", 0},
    {"ledger_path", CONFIG_STRING, 0, 4096, "",
     "SQLite ledger file (default: key_dir/ledger.db); every request is recorded there durably", 0},
    {"local_client_credit", CONFIG_INT, 0, INT64_MAX / 4, "1000000000000000",
     "local settlement: nano-TON credited to a client account the first time it authorizes "
     "(COCOON fake-TON: 1e6 TON); not used with ton settlement, where the client contract's deposit counts", 0},
    {"min_client_stake", CONFIG_INT, 0, INT64_MAX / 4, "1000000000",
     "nano-TON a client keeps staked: withdrawals leave it, a top-up raises the stake to it "
     "(COCOON root parameter; fake-TON: 1 TON)", 0},
    {"client_delay_before_close", CONFIG_INT, 0, 4294967295LL, "300",
     "seconds between a client's close request and the refund of its stake (COCOON root parameter; "
     "fake-TON: 300)", 0},
    {"config_version", CONFIG_INT, 0, INT32_MAX, "1",
     "version of the root configuration this proxy runs (clients may require a minimum); with a "
     "registry, the registry's version", 0},
    {"max_requests", CONFIG_INT, 1, PROXY_MAX_REQUESTS, "10000", "requests in flight at most", 0},
    {"payment_interval_ms", CONFIG_INT, 0, 3600000, "1000",
     "a peer's signed payment total is renewed at most this often (0: after every request)", 0},
    {NULL, 0, 0, 0, NULL, NULL, 0},
};

struct preq;

/* Signed-payment state of one peer link. */
struct paystate {
  int64_t pending;       /* committed adjusted tokens not yet in a signed total */
  int64_t signed_total;  /* total of the cached signed message */
  uint64_t last_sign_ms;
  struct buf boc;        /* the latest signed message for this link's account */
  uint8_t last_req[32];  /* request the next update refers to */
};

struct pworker {
  struct proxy *p;
  struct net_conn *c;
  struct pworker *next, *prev;
  char *owner;
  char sc[PROXY_SC_ADDR_MAX + 1]; /* its contract address, as announced */
  char *model;     /* full model name as announced */
  size_t base_len; /* bytes of the base name (before '@') */
  int32_t coefficient;
  int32_t max_active;
  int32_t running;
  int32_t proto;
  int handshake_done;
  int disabled;
  double avg_time_s; /* decayed average of query time, for least-loaded routing */
  uint64_t queries, success, failed;
  struct preq *reqs; /* requests running on this worker */
  struct paystate pay;
};

struct pclient {
  struct proxy *p;
  struct net_conn *c;
  struct pclient *next, *prev;
  char *owner;
  char sc[PROXY_SC_ADDR_MAX + 1]; /* its contract address, as announced */
  int32_t proto;
  int connected;  /* connectToProxy answered */
  int authorized; /* short authorization passed */
  int64_t running;
  struct preq *reqs;
  struct paystate pay;
};

struct preq {
  struct proxy *p;
  struct pclient *cl;
  struct pworker *w;
  struct preq *cnext, *cprev; /* in client's list */
  struct preq *wnext, *wprev; /* in worker's list */
  uint8_t client_id[32];
  uint8_t worker_id[32];
  struct loop_timer timer;
  uint64_t started_us;
  int64_t started_ms; /* unix ms, for the ledger */
  int sent_first;
  int64_t bytes;
  int64_t reserved;    /* nano-TON held for this request */
  int32_t max_tokens;
  int64_t request_bytes;
  uint32_t coefficient;
  char model[LEDGER_MODEL_MAX + 1];
  char client_owner[LEDGER_ADDR_MAX + 1];
  char worker_owner[LEDGER_ADDR_MAX + 1];
};

static void pay_flush(struct proxy *p, struct paystate *ps, const char *kind, uint32_t op, const char *owner);

struct proxy {
  struct loop *loop;
  const struct config *cfg;
  struct node node;
  struct net_listener *wl, *cl;
  struct http_server *http;
  struct stats stats;
  struct statsweb web;
  struct pworker *workers;
  struct pclient *clients;
  int64_t nreqs;
  int64_t max_reqs;
  int32_t config_version;
  uint8_t secret_hash[32];
  const char *owner;
  struct proxy_sc sc; /* announced contract addresses */
  struct ledger *ledger;
  struct settle *settle; /* settlement backend (local: the ledger) */
  int64_t settle_ops, settle_refused;
  struct billing_prices prices;
  int64_t local_credit;
  int64_t min_client_stake;
  /* Totals since start, for /jsonstats and the demo. */
  int64_t billed_requests, charged_total, earned_total, commission_total, committed_requests;
  int64_t ledger_commits, ledger_write_us; /* transactions written, and their time fsync included */
  int64_t usage_rejected;
  int64_t held_finals; /* final messages waiting for their ledger commit */
  uint32_t payment_interval_ms;
  struct loop_timer payment_timer;
  int64_t payments_signed;
  /* Alarm: a peer held a signed total above this ledger's (a lost or rolled-back ledger). The
   * proxy refuses that peer and keeps serving the others; operators see it in /stats. */
  int64_t ledger_behind;
  char ledger_behind_msg[300];
};

/* ---------------------------------------------------------------- helpers */

static void id_hex(const uint8_t id[32], char out[17]) { util_hex(id, 8, out); }

static void final_info_zero(struct tl_query_final_info *f) { memset(f, 0, sizeof(*f)); }

static void client_send_error(struct pclient *cl, const uint8_t client_id[32], int32_t code,
                              const char *msg, const struct tl_tokens_used *used) {
  if (!cl || !cl->c) return;
  struct tl_query_answer_error_ex a;
  memset(&a, 0, sizeof(a));
  memcpy(a.request_id, client_id, 32);
  a.error_code = code;
  a.error.p = (const uint8_t *)msg;
  a.error.n = strlen(msg);
  a.flags = TL_ANSWER_EX_F_FINAL;
  final_info_zero(&a.final_info);
  if (used) a.final_info.tokens_used = *used;
  if (rpc_send(cl->c, TL_ID_CLIENT_QUERY_ANSWER_ERROR_EX, &a))
    net_conn_close(cl->c, "cannot queue an error answer");
}

static void req_unlink(struct preq *r) {
  if (r->cl) {
    if (r->cprev) r->cprev->cnext = r->cnext;
    else r->cl->reqs = r->cnext;
    if (r->cnext) r->cnext->cprev = r->cprev;
    r->cl->running--;
    r->cl = NULL;
  }
  if (r->w) {
    if (r->wprev) r->wprev->wnext = r->wnext;
    else r->w->reqs = r->wnext;
    if (r->wnext) r->wnext->wprev = r->wprev;
    r->w->running--;
    r->w = NULL;
  }
}

/* Copies s into an account/model field, keeping only characters the ledger accepts. */
static void ledger_name(char *dst, size_t dstsz, const char *s, size_t n, int model) {
  size_t k = 0;
  for (size_t i = 0; i < n && k + 1 < dstsz; i++) {
    char ch = s[i];
    int ok = model ? (ch >= 0x20 && ch < 0x7f)
                   : ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                      ch == ':' || ch == '_' || ch == '+' || ch == '/' || ch == '=' || ch == '-');
    dst[k++] = ok ? ch : '_';
  }
  if (k == 0 && dstsz > 1) dst[k++] = '_';
  dst[k] = 0;
}

/* The last message of a request, held back until the ledger has committed its record: a client
 * that received a complete answer can rely on it being billed exactly once, even if the proxy is
 * killed right after (the committed callback sends it). */
struct held_final {
  uint64_t client_conn; /* net_conn_id of the client link; looked up again when sent */
  uint64_t worker_conn; /* the worker's, for its payment update */
  uint8_t request_id[32];
  int64_t adj_tokens; /* this request's adjusted tokens, added to both signed totals */
  char client_owner[LEDGER_ADDR_MAX + 1];
  char worker_owner[LEDGER_ADDR_MAX + 1];
  size_t len;
  uint8_t data[];
};

/* Records the request in the ledger with the usage the worker reported (zero when none), which
 * also releases its reservation. cookie (0: none) comes back in the committed callback. Returns
 * 0 when queued. */
static int req_bill(struct preq *r, const struct tl_tokens_used *t, int failed, uint64_t cookie,
                    int64_t *adj_out) {
  struct proxy *p = r->p;
  struct billing_usage u = {0};
  if (t) {
    u.prompt_tokens = t->prompt_tokens_used;
    u.cached_tokens = t->cached_tokens_used;
    u.completion_tokens = t->completion_tokens_used;
    u.reasoning_tokens = t->reasoning_tokens_used;
  }
  struct err e = {0};
  char hex[65];
  util_hex(r->client_id, 32, hex);
  struct billing_amounts est;
  int bad = billing_usage_check(&u, r->max_tokens, r->request_bytes, &e);
  if (!bad && billing_compute(&p->prices, r->coefficient, &u, &est, &e) == 0 &&
      est.client_charge > r->reserved)
    /* Prompt tokens beyond the request's bytes (the check's slack) or max_tokens <= 0: the
     * client agreed to at most its reservation. */
    bad = err_set(&e, ERR_PROTO, "usage costs %lld nano-TON, above the %lld reserved", (long long)est.client_charge,
                  (long long)r->reserved);
  if (bad) {
    /* A worker reporting impossible usage is not believed: the client pays nothing for it. */
    p->usage_rejected++;
    log_warn("usage_rejected", "req=%.16s reason=\"%s\"", hex, e.msg);
    memset(&u, 0, sizeof(u));
    failed = 1;
  }
  struct ledger_request lr = {
      .request_id = hex,
      .client = r->client_owner,
      .worker = r->worker_owner,
      .model = r->model,
      .usage = u,
      .coefficient = r->coefficient,
      .prices = p->prices,
      .started_at_ms = r->started_ms,
      .failed = failed,
      .release = r->reserved,
  };
  struct billing_amounts a;
  int rc = ledger_record_request(p->ledger, &lr, cookie, &a, &e);
  if (rc) {
    /* The in-memory reservation must not leak even when the record could not be queued. */
    ledger_release(p->ledger, r->client_owner, r->reserved);
    log_error("ledger_record_failed", "req=%.16s error=\"%s\"", hex, e.msg);
  } else {
    if (adj_out) *adj_out = a.total_adj;
    p->billed_requests++;
    p->charged_total += a.client_charge;
    p->earned_total += a.worker_earning;
    p->commission_total += a.proxy_commission;
  }
  r->reserved = 0;
  return rc;
}

/* Sends the final message now, or holds it until the ledger commit of the request's record. */
static void send_final(struct preq *r, uint32_t id, const void *msg, const struct tl_tokens_used *t, int failed) {
  struct proxy *p = r->p;
  struct pclient *cl = r->cl;
  struct buf b;
  buf_init(&b, (size_t)17 << 20);
  struct held_final *h = NULL;
  if (cl && cl->c && rpc_encode(&b, id, msg) == 0 && (h = calloc(1, sizeof(*h) + b.len)) != NULL) {
    h->client_conn = net_conn_id(cl->c);
    h->worker_conn = r->w ? net_conn_id(r->w->c) : 0;
    memcpy(h->request_id, r->client_id, 32);
    memcpy(h->client_owner, r->client_owner, sizeof(h->client_owner));
    memcpy(h->worker_owner, r->worker_owner, sizeof(h->worker_owner));
    h->len = b.len;
    memcpy(h->data, buf_ptr(&b), b.len);
  }
  if (req_bill(r, t, failed, (uint64_t)(uintptr_t)h, h ? &h->adj_tokens : NULL) != 0 && h) {
    /* Not queued: answer now rather than never. */
    if (net_conn_send_packet(cl->c, h->data, h->len)) net_conn_close(cl->c, "client cannot keep up");
    free(h);
  } else if (h) {
    p->held_finals++;
  }
  buf_free(&b);
}

/* Ends a request: stats, unlink, free. ok: 1 success, 0 failure. */
static void req_finish(struct preq *r, int ok) {
  struct proxy *p = r->p;
  if (r->reserved) (void)req_bill(r, NULL, 1, 0, NULL); /* ended without a final usage report */
  double secs = (double)(util_mono_us() - r->started_us) / 1e6;
  if (r->w) {
    struct pworker *w = r->w;
    if (ok) w->success++;
    else w->failed++;
    w->avg_time_s = w->avg_time_s == 0 ? secs : PROXY_AVG_DECAY * w->avg_time_s + (1 - PROXY_AVG_DECAY) * secs;
  }
  if (ok) p->stats.success++;
  else p->stats.failed++;
  p->stats.active--;
  stats_observe_latency(&p->stats, secs);
  loop_timer_stop(p->loop, &r->timer);
  req_unlink(r);
  p->nreqs--;
  free(r);
}

static struct preq *worker_find_req(struct pworker *w, const uint8_t id[32]) {
  for (struct preq *r = w->reqs; r; r = r->wnext)
    if (!memcmp(r->worker_id, id, 32)) return r;
  return NULL;
}

static int model_matches(const struct pworker *w, const uint8_t *name, size_t n) {
  /* Requests name the base model; a worker announces "base@commit:hash". */
  size_t bl = n;
  for (size_t i = 0; i < n; i++)
    if (name[i] == '@') {
      bl = i;
      break;
    }
  return bl == w->base_len && !memcmp(w->model, name, bl);
}

/* ---------------------------------------------------------------- routing */

static void req_timeout_cb(struct loop_timer *t) {
  struct preq *r = t->data;
  char hex[17];
  id_hex(r->client_id, hex);
  log_warn("request_timeout", "req=%s", hex);
  client_send_error(r->cl, r->client_id, COCOON_ERR_TIMEOUT, "timeout in proxy", NULL);
  req_finish(r, 0);
}

static void route_query(struct pclient *cl, const struct tl_client_run_query *q, int ex) {
  struct proxy *p = cl->p;
  p->stats.requests++;
  p->stats.bytes_in += q->query.n;
  char hex[17];
  id_hex(q->request_id, hex);
  if (!cl->authorized) {
    p->stats.rejected++;
    client_send_error(cl, q->request_id, COCOON_ERR_PROTOVIOLATION, "client is not authorized", NULL);
    return;
  }
  if (q->min_config_version > p->config_version) {
    p->stats.rejected++;
    client_send_error(cl, q->request_id, COCOON_ERR_NOTREADY,
                      "proxy runs an older root configuration than the client requires", NULL);
    return;
  }
  if (p->nreqs >= p->max_reqs) {
    p->stats.rejected++;
    client_send_error(cl, q->request_id, COCOON_ERR_NOTREADY, "proxy is at its request limit", NULL);
    return;
  }
  if (!settle_can_run(p->settle, cl->owner)) {
    p->stats.rejected++;
    client_send_error(cl, q->request_id, COCOON_ERR_PAYMENT, "client account is closing; no new requests", NULL);
    return;
  }
  if (q->timeout <= 0 || !isfinite(q->timeout)) {
    p->stats.rejected++;
    client_send_error(cl, q->request_id, COCOON_ERR_BAD_REQUEST, "timeout must be positive", NULL);
    return;
  }
  /* COCOON's choose_connection: filter, then lowest running x average time; ties keep the
   * oldest connection. */
  struct pworker *best = NULL;
  double best_score = 0;
  int any_model = 0, any_cheap = 0;
  int32_t min_coef = INT32_MAX;
  for (struct pworker *w = p->workers; w; w = w->next) {
    if (!w->handshake_done || !model_matches(w, q->model_name.p, q->model_name.n)) continue;
    any_model = 1;
    if (w->disabled) continue;
    if (w->coefficient > q->max_coefficient) {
      if (w->coefficient < min_coef) min_coef = w->coefficient;
      continue;
    }
    any_cheap = 1;
    if (w->running >= w->max_active) continue;
    double score = (double)w->running * (w->avg_time_s > 0 ? w->avg_time_s : 1e-3);
    /* Ties go to the oldest connection, as in COCOON's map order. */
    if (!best || score < best_score || (score == best_score && net_conn_id(w->c) < net_conn_id(best->c))) {
      best = w;
      best_score = score;
    }
  }
  if (!best) {
    p->stats.rejected++;
    char msg[512];
    int code = COCOON_ERR_NOTREADY;
    if (!any_model) {
      snprintf(msg, sizeof(msg), "no worker serves model '%.*s'", (int)CC_MIN(q->model_name.n, 256),
               (const char *)q->model_name.p);
      code = COCOON_ERR_UNKNOWN_MODEL;
    } else if (!any_cheap && min_coef != INT32_MAX) {
      snprintf(msg, sizeof(msg), "can run this query with coefficient=%" PRId32 " (max_coefficient is %" PRId32 ")",
               min_coef, q->max_coefficient);
    } else {
      snprintf(msg, sizeof(msg), "all workers for this model are busy or disabled");
    }
    log_info("request_rejected", "req=%s reason=\"%s\"", hex, msg);
    client_send_error(cl, q->request_id, code, msg, NULL);
    return;
  }
  if (ledger_pending(p->ledger) > LEDGER_QUEUE_DEFAULT / 2) {
    p->stats.rejected++;
    client_send_error(cl, q->request_id, COCOON_ERR_NOTREADY, "proxy ledger is busy; retry shortly", NULL);
    return;
  }
  /* COCOON's reservation: (max_tokens + request bytes) x max_coefficient, at the client price. */
  int64_t res_tokens = 0, res_nano = 0;
  struct err e = {0};
  /* At the highest multiplier (1.0x, like COCOON, unless one is higher): no usage the proxy
   * accepts can cost more than this, so a client never spends beyond its credit. */
  if (billing_reservation_mult(q->max_tokens < 0 ? 0 : q->max_tokens, (int64_t)q->query.n,
                               (uint32_t)(q->max_coefficient < 0 ? 0 : q->max_coefficient),
                               billing_prices_max_mult(&p->prices), p->prices.price_per_token, &res_tokens, &res_nano,
                               &e) ||
      ledger_reserve(p->ledger, cl->owner, res_nano, &e)) {
    p->stats.rejected++;
    char msg[400];
    snprintf(msg, sizeof(msg), "balance is too low: %s", e.msg);
    log_info("request_rejected", "req=%s reason=\"%s\"", hex, msg);
    client_send_error(cl, q->request_id, COCOON_ERR_PAYMENT, msg, NULL);
    return;
  }
  struct preq *r = calloc(1, sizeof(*r));
  if (!r) {
    ledger_release(p->ledger, cl->owner, res_nano);
    client_send_error(cl, q->request_id, COCOON_ERR_ERROR, "proxy out of memory", NULL);
    return;
  }
  r->p = p;
  r->reserved = res_nano;
  r->max_tokens = q->max_tokens;
  r->request_bytes = (int64_t)q->query.n;
  r->coefficient = (uint32_t)best->coefficient;
  r->started_ms = (int64_t)(util_wall_time() * 1000.0);
  ledger_name(r->model, sizeof(r->model), (const char *)q->model_name.p, q->model_name.n, 1);
  ledger_name(r->client_owner, sizeof(r->client_owner), cl->owner, strlen(cl->owner), 0);
  ledger_name(r->worker_owner, sizeof(r->worker_owner), best->owner, strlen(best->owner), 0);
  memcpy(r->client_id, q->request_id, 32);
  util_random(r->worker_id, 32);
  r->started_us = util_mono_us();
  r->cl = cl;
  r->cnext = cl->reqs;
  if (cl->reqs) cl->reqs->cprev = r;
  cl->reqs = r;
  cl->running++;
  r->w = best;
  r->wnext = best->reqs;
  if (best->reqs) best->reqs->wprev = r;
  best->reqs = r;
  best->running++;
  best->queries++;
  p->nreqs++;
  p->stats.active++;
  loop_timer_init(&r->timer, req_timeout_cb, r);
  loop_timer_start(p->loop, &r->timer, (uint64_t)(q->timeout * 1000.0));

  struct tl_proxy_run_query pq;
  memset(&pq, 0, sizeof(pq));
  pq.query = q->query;
  pq.signed_payment.id = TL_ID_PROXY_SIGNED_PAYMENT_EMPTY;
  pq.coefficient = best->coefficient;
  pq.timeout = q->timeout * 0.95;
  memcpy(pq.request_id, r->worker_id, 32);
  pq.flags = ex && q->enable_debug ? TL_RUN_QUERY_F_DEBUG : 0;
  pq.enable_debug = ex && q->enable_debug;
  uint32_t id = best->proto > 0 ? TL_ID_PROXY_RUN_QUERY_EX : TL_ID_PROXY_RUN_QUERY;
  char whex[17];
  id_hex(r->worker_id, whex);
  log_debug("request_routed", "req=%s wreq=%s worker=%" PRIu64 " running=%d", hex, whex,
            net_conn_id(best->c), best->running);
  if (rpc_send(best->c, id, &pq)) {
    client_send_error(cl, q->request_id, COCOON_ERR_ERROR, "cannot forward the query to the worker", NULL);
    req_finish(r, 0);
  }
}

/* ---------------------------------------------------------------- answers from workers */

static void add_tokens(struct proxy *p, const struct tl_tokens_used *t) {
  if (t->prompt_tokens_used > 0) p->stats.tokens_prompt += (uint64_t)t->prompt_tokens_used;
  if (t->cached_tokens_used > 0) p->stats.tokens_cached += (uint64_t)t->cached_tokens_used;
  if (t->completion_tokens_used > 0) p->stats.tokens_completion += (uint64_t)t->completion_tokens_used;
  if (t->reasoning_tokens_used > 0) p->stats.tokens_reasoning += (uint64_t)t->reasoning_tokens_used;
}

static void relay_answer(struct pworker *w, uint32_t id, const uint8_t *data, size_t len) {
  struct proxy *p = w->p;
  union {
    struct tl_query_answer_ex ex;
    struct tl_query_answer_error_ex err;
    struct tl_query_answer plain;
    struct tl_query_answer_error plain_err;
  } u;
  uint32_t got;
  if (tl_any_decode(data, len, &got, &u, sizeof(u))) {
    net_conn_close(w->c, "malformed answer from worker");
    return;
  }
  const uint8_t *rid;
  switch (id) {
  case TL_ID_PROXY_QUERY_ANSWER_EX:
  case TL_ID_PROXY_QUERY_ANSWER_PART_EX: rid = u.ex.request_id; break;
  case TL_ID_PROXY_QUERY_ANSWER_ERROR_EX: rid = u.err.request_id; break;
  case TL_ID_PROXY_QUERY_ANSWER:
  case TL_ID_PROXY_QUERY_ANSWER_PART: rid = u.plain.request_id; break;
  default: rid = u.plain_err.request_id; break;
  }
  struct preq *r = worker_find_req(w, rid);
  if (!r) {
    /* Late answer for a request that timed out or whose client left. */
    log_debug("answer_dropped", "worker=%" PRIu64, net_conn_id(w->c));
    return;
  }
  struct pclient *cl = r->cl;
  int done = 0, ok = 1;
  struct tl_query_answer_ex out;
  memset(&out, 0, sizeof(out));
  memcpy(out.request_id, r->client_id, 32);
  uint32_t out_id;
  if (id == TL_ID_PROXY_QUERY_ANSWER_EX || id == TL_ID_PROXY_QUERY_ANSWER_PART_EX ||
      id == TL_ID_PROXY_QUERY_ANSWER || id == TL_ID_PROXY_QUERY_ANSWER_PART) {
    int first = id == TL_ID_PROXY_QUERY_ANSWER_EX || id == TL_ID_PROXY_QUERY_ANSWER;
    if (first == r->sent_first) {
      /* COCOON fails a request whose parts come out of order. */
      client_send_error(cl, r->client_id, COCOON_ERR_PROTOVIOLATION, "worker sent answer parts out of order", NULL);
      req_finish(r, 0);
      return;
    }
    r->sent_first = 1;
    out_id = first ? TL_ID_CLIENT_QUERY_ANSWER_EX : TL_ID_CLIENT_QUERY_ANSWER_PART_EX;
    if (id == TL_ID_PROXY_QUERY_ANSWER_EX || id == TL_ID_PROXY_QUERY_ANSWER_PART_EX) {
      out.answer = u.ex.answer;
      if (u.ex.flags & TL_ANSWER_EX_F_FINAL) {
        done = 1;
        out.flags = TL_ANSWER_EX_F_FINAL;
        out.final_info = u.ex.final_info;
        /* The client variant has proxy fields; we add no debug, keep the worker's times. */
        out.final_info.flags &= TL_FINAL_INFO_F_TIMES | TL_FINAL_INFO_F_DEBUG;
        if (out.final_info.flags & TL_FINAL_INFO_F_DEBUG) out.final_info.proxy_debug.n = 0;
        if (out.final_info.flags & TL_FINAL_INFO_F_TIMES) {
          out.final_info.proxy_start_time = 0;
          out.final_info.proxy_end_time = util_wall_time();
        }
      }
    } else {
      out.answer = u.plain.answer;
      if (u.plain.is_completed) {
        done = 1;
        out.flags = TL_ANSWER_EX_F_FINAL;
        out.final_info.tokens_used = u.plain.tokens_used;
      }
    }
    r->bytes += (int64_t)out.answer.n;
    p->stats.bytes_out += out.answer.n;
    if (done) {
      add_tokens(p, &out.final_info.tokens_used);
      send_final(r, out_id, &out, &out.final_info.tokens_used, 0);
    } else if (cl && cl->c && rpc_send(cl->c, out_id, &out)) {
      net_conn_close(cl->c, "client cannot keep up");
    }
  } else {
    done = 1;
    ok = 0;
    struct tl_query_answer_error_ex e;
    memset(&e, 0, sizeof(e));
    memcpy(e.request_id, r->client_id, 32);
    e.flags = TL_ANSWER_EX_F_FINAL;
    if (id == TL_ID_PROXY_QUERY_ANSWER_ERROR_EX) {
      e.error_code = u.err.error_code;
      e.error = u.err.error;
      if (u.err.flags & TL_ANSWER_EX_F_FINAL) e.final_info.tokens_used = u.err.final_info.tokens_used;
    } else {
      e.error_code = u.plain_err.error_code;
      e.error = u.plain_err.error;
      e.final_info.tokens_used = u.plain_err.tokens_used;
    }
    add_tokens(p, &e.final_info.tokens_used);
    out.final_info.tokens_used = e.final_info.tokens_used;
    send_final(r, TL_ID_CLIENT_QUERY_ANSWER_ERROR_EX, &e, &e.final_info.tokens_used, 1);
  }
  if (done) {
    char hex[17];
    id_hex(r->client_id, hex);
    log_info("request_done", "req=%s ok=%d bytes=%" PRId64 " ms=%.1f prompt=%" PRId64 " completion=%" PRId64,
             hex, ok, r->bytes, (double)(util_mono_us() - r->started_us) / 1000.0,
             out.final_info.tokens_used.prompt_tokens_used, out.final_info.tokens_used.completion_tokens_used);
    req_finish(r, ok);
  }
}

/* ---------------------------------------------------------------- handshake payments */

static int pay_sign(struct proxy *p, struct paystate *ps, const char *kind, uint32_t op, const char *owner,
                    int64_t total, int record);

/* What the ledger knows for a peer account: `have` = the highest of its signed mark and its
 * account's token total (a peer holding more than that proves the ledger lost rows). Renews the
 * link's signed message for the mark, which the start-up catch-up brought up to every token
 * committed before (catch_up_marks). */
static void pay_handshake(struct proxy *p, struct paystate *ps, enum ledger_kind lk, const char *kind, uint32_t op,
                          const char *owner, int64_t *have) {
  int64_t mark = 0;
  struct ledger_account acc;
  if (ledger_payment_get(p->ledger, kind, owner, &mark) != 0) mark = 0;
  int64_t tokens = ledger_account_get(p->ledger, lk, owner, &acc) == 0 ? acc.tokens : 0;
  *have = mark > tokens ? mark : tokens;
  ps->pending = 0;
  ps->signed_total = 0;
  buf_reset(&ps->boc);
  /* Even a zero total is signed: COCOON's worker refuses a proxy whose compareBalance answer has
   * no signed payment (it cannot check tokens_committed_to_blockchain without one). */
  (void)pay_sign(p, ps, kind, op, owner, mark, 0);
}

/* At start-up everything in the ledger is committed. A proxy killed between a commit and the next
 * signing left those tokens unsigned: sign them now, so every account's mark equals its committed
 * total and is never below what a peer holds (signed totals only ever cover committed tokens). */
struct catch_up {
  struct proxy *p;
  const char *kind;
  uint32_t op;
  int64_t n;
};

static void catch_up_cb(void *arg, const struct ledger_account *a) {
  struct catch_up *cu = arg;
  int64_t mark = 0;
  if (ledger_payment_get(cu->p->ledger, cu->kind, a->owner, &mark) != 0) mark = 0;
  if (a->tokens <= mark) return;
  struct paystate ps;
  memset(&ps, 0, sizeof(ps));
  buf_init(&ps.boc, TON_PAYMENT_MAX_BOC * 2);
  if (pay_sign(cu->p, &ps, cu->kind, cu->op, a->owner, a->tokens, 1) == 0 && ps.boc.len) cu->n++;
  buf_free(&ps.boc);
}

static void catch_up_marks(struct proxy *p) {
  struct catch_up cu = {.p = p, .kind = "client_charge", .op = TON_OP_CLIENT_CHARGE_SIGNED};
  ledger_accounts_foreach(p->ledger, LEDGER_CLIENT, catch_up_cb, &cu);
  cu.kind = "worker_payout";
  cu.op = TON_OP_WORKER_PAYOUT_SIGNED;
  ledger_accounts_foreach(p->ledger, LEDGER_WORKER, catch_up_cb, &cu);
  if (cu.n) log_info("payments_caught_up", "accounts=%" PRId64, cu.n);
}

static void ledger_behind_alarm(struct proxy *p, const char *role, uint64_t conn, int64_t peer, int64_t have) {
  p->ledger_behind++;
  snprintf(p->ledger_behind_msg, sizeof(p->ledger_behind_msg),
           "a %s holds a signed total of %" PRId64 " tokens but the ledger has %" PRId64
           " for it: the ledger was lost or rolled back; that peer is refused",
           role, peer, have);
  log_error("ledger_behind_peer", "role=%s conn=%" PRIu64 " peer_total=%" PRId64 " ledger_total=%" PRId64, role, conn,
            peer, have);
}

static void fill_signed(struct tl_signed_payment *sp, const struct paystate *ps) {
  if (ps->boc.len) {
    sp->id = TL_ID_PROXY_SIGNED_PAYMENT;
    sp->data.p = buf_ptr(&ps->boc);
    sp->data.n = ps->boc.len;
  } else {
    sp->id = TL_ID_PROXY_SIGNED_PAYMENT_EMPTY;
  }
}

/* ---------------------------------------------------------------- worker connections */

static void worker_ready_cb(struct net_conn *c);
static void worker_packet_cb(struct net_conn *c, const uint8_t *data, size_t len);
static void worker_query_cb(struct net_conn *c, int64_t qid, const uint8_t *data, size_t len);
static void worker_close_cb(struct net_conn *c, int code, const char *reason);

static const struct net_conn_handler worker_handler = {
    .ready_cb = worker_ready_cb,
    .packet_cb = worker_packet_cb,
    .query_cb = worker_query_cb,
    .close_cb = worker_close_cb,
};

static void worker_ready_cb(struct net_conn *c) {
  struct proxy *p = net_conn_user(c);
  struct pworker *w = calloc(1, sizeof(*w));
  if (!w) {
    net_conn_close(c, "out of memory");
    return;
  }
  w->p = p;
  w->c = c;
  w->disabled = 1;
  buf_init(&w->pay.boc, TON_PAYMENT_MAX_BOC * 2);
  w->next = p->workers;
  if (p->workers) p->workers->prev = w;
  p->workers = w;
  net_conn_set_user(c, w);
  p->stats.conns_opened++;
  p->stats.conns_active++;
  log_info("worker_connected", "conn=%" PRIu64 " remote=%s", net_conn_id(c), net_conn_remote(c));
}

static void worker_close_cb(struct net_conn *c, int code, const char *reason) {
  struct pworker *w = net_conn_user(c);
  if (!w || w->c != c) return;
  struct proxy *p = w->p;
  log_info("worker_disconnected", "conn=%" PRIu64 " reason=\"%s\" running=%d", net_conn_id(c), reason,
           w->running);
  while (w->reqs) {
    struct preq *r = w->reqs;
    client_send_error(r->cl, r->client_id, COCOON_ERR_ERROR, "worker connection lost", NULL);
    req_finish(r, 0);
  }
  if (w->prev) w->prev->next = w->next;
  else p->workers = w->next;
  if (w->next) w->next->prev = w->prev;
  p->stats.conns_closed++;
  p->stats.conns_active--;
  if (w->owner) pay_flush(p, &w->pay, "worker_payout", TON_OP_WORKER_PAYOUT_SIGNED, w->owner);
  buf_free(&w->pay.boc);
  free(w->owner);
  free(w->model);
  free(w);
}

static void proxy_params_fill(struct proxy *p, struct tl_proxy_params *pp, int32_t proto) {
  memset(pp, 0, sizeof(*pp));
  pp->flags = TL_PROXY_PARAMS_F_IS_TEST | (proto > 0 ? TL_PROXY_PARAMS_F_PROTO : 0);
  memcpy(pp->proxy_public_key, ratls_identity_public_key(p->node.id), 32);
  pp->proxy_owner_address.p = (const uint8_t *)p->owner;
  pp->proxy_owner_address.n = strlen(p->owner);
  pp->proxy_sc_address.p = (const uint8_t *)p->sc.self_str;
  pp->proxy_sc_address.n = strlen(p->sc.self_str);
  pp->is_test = p->node.is_test;
  pp->proto_version = proto;
}

static int worker_connect(struct pworker *w, int64_t qid, const uint8_t *data, size_t len) {
  struct proxy *p = w->p;
  struct tl_worker_connect_to_proxy q;
  if (tl_worker_connect_to_proxy_decode(data, len, &q))
    return net_conn_answer_error(w->c, qid, COCOON_ERR_PROTOVIOLATION, "malformed worker.connectToProxy");
  const struct tl_worker_params *wp = &q.params;
  const char *why = NULL;
  char buf[160];
  if (w->handshake_done || w->model) why = "handshake already done";
  else if (!(wp->flags & TL_WORKER_PARAMS_F_LIMITS)) why = "too old worker";
  else if (!!wp->is_test != !!p->node.is_test) why = "test mode mismatch";
  else if (wp->model.n == 0 || wp->model.n > PROXY_MAX_MODEL_LEN || memchr(wp->model.p, 0, wp->model.n))
    why = "bad model name";
  else if (wp->coefficient < 0 || wp->coefficient >= PROXY_MAX_COEFFICIENT) why = "coefficient out of range";
  else if (wp->max_active_requests < 1) why = "max_active_requests must be at least 1";
  else if (wp->proxy_cnt < 1) why = "proxy_cnt must be at least 1";
  else if (node_registry_check_model(&p->node, (const char *)wp->model.p, wp->model.n, buf, sizeof(buf)) != 0)
    why = buf;
  int32_t proto = 0;
  if (!why && (wp->flags & TL_WORKER_PARAMS_F_PROTO)) {
    if (wp->min_proto_version > PROXY_PROTO_MAX || wp->max_proto_version < wp->min_proto_version) {
      snprintf(buf, sizeof(buf), "no common protocol version (proxy speaks 0..%d)", PROXY_PROTO_MAX);
      why = buf;
    } else {
      proto = CC_MIN(wp->max_proto_version, PROXY_PROTO_MAX);
    }
  }
  if (why) {
    log_warn("worker_refused", "conn=%" PRIu64 " reason=\"%s\"", net_conn_id(w->c), why);
    int rc = net_conn_answer_error(w->c, qid, COCOON_ERR_PROTOVIOLATION, why);
    net_conn_close(w->c, why);
    return rc;
  }
  char *sc = w->sc;
  struct err se = {0};
  if (!why && proxy_sc_peer(&p->sc, 1, wp->worker_owner_address.p, wp->worker_owner_address.n, sc, &se)) {
    snprintf(buf, sizeof(buf), "worker contract: %.120s", se.msg);
    why = buf;
  }
  if (why) {
    log_warn("worker_refused", "conn=%" PRIu64 " reason=\"%s\"", net_conn_id(w->c), why);
    int rc = net_conn_answer_error(w->c, qid, COCOON_ERR_PROTOVIOLATION, why);
    net_conn_close(w->c, why);
    return rc;
  }
  w->model = util_strndup((const char *)wp->model.p, wp->model.n);
  char owner[LEDGER_ADDR_MAX + 1];
  ledger_name(owner, sizeof(owner), (const char *)wp->worker_owner_address.p, wp->worker_owner_address.n, 0);
  w->owner = util_strndup(owner, strlen(owner));
  if (!w->model || !w->owner) return ERR_NOMEM;
  w->base_len = openai_model_base_len(w->model);
  w->coefficient = wp->coefficient;
  /* COCOON splits a worker's capacity over the proxies it connects to. */
  w->max_active = (wp->max_active_requests + wp->proxy_cnt - 1) / wp->proxy_cnt;
  w->proto = proto;
  struct tl_worker_connected_to_proxy a;
  memset(&a, 0, sizeof(a));
  proxy_params_fill(p, &a.params, proto);
  a.worker_sc_address.p = (const uint8_t *)sc;
  a.worker_sc_address.n = strlen(sc);
  log_info("worker_hello", "conn=%" PRIu64 " model=%s coefficient=%d max_active=%d proto=%d", net_conn_id(w->c),
           w->model, w->coefficient, w->max_active, proto);
  return rpc_answer(w->c, qid, TL_ID_WORKER_CONNECTED_TO_PROXY, &a);
}

static void worker_query_cb(struct net_conn *c, int64_t qid, const uint8_t *data, size_t len) {
  struct pworker *w = net_conn_user(c);
  struct proxy *p = w->p;
  uint32_t id = 0;
  int rc = 0;
  if (tl_peek_id(data, len, &id)) {
    net_conn_close(c, "query too short");
    return;
  }
  switch (id) {
  case TL_ID_WORKER_CONNECT_TO_PROXY: rc = worker_connect(w, qid, data, len); break;
  case TL_ID_WORKER_COMPARE_BALANCE_WITH_PROXY: {
    struct tl_worker_compare_balance_with_proxy q;
    if (!w->model || tl_worker_compare_balance_with_proxy_decode(data, len, &q)) {
      rc = net_conn_answer_error(c, qid, COCOON_ERR_PROTOVIOLATION, "unexpected compareBalanceWithProxy");
      break;
    }
    /* COCOON's DB-rollback check. COCOON aborts the whole proxy when a worker holds more than
     * its database; we refuse that worker with the reason and raise the alarm. */
    int64_t have = 0;
    pay_handshake(p, &w->pay, LEDGER_WORKER, "worker_payout", TON_OP_WORKER_PAYOUT_SIGNED, w->owner, &have);
    int64_t peer = q.tokens_committed_to_db > q.tokens_committed_to_blockchain ? q.tokens_committed_to_db
                                                                                : q.tokens_committed_to_blockchain;
    if (peer > have) {
      ledger_behind_alarm(p, "worker", net_conn_id(c), peer, have);
      char msg[300];
      snprintf(msg, sizeof(msg),
               "proxy ledger is behind this worker: the worker holds a signed total of %" PRId64
               " tokens, the proxy's ledger has %" PRId64 " (lost or rolled back); refusing this worker",
               peer, have);
      rc = net_conn_answer_error(c, qid, COCOON_ERR_PROTOVIOLATION, msg);
      net_conn_close(c, "ledger behind worker");
      break;
    }
    struct tl_worker_compare_balance_with_proxy_result a;
    memset(&a, 0, sizeof(a));
    fill_signed(&a.signed_payment, &w->pay);
    a.tokens_committed_to_db = w->pay.signed_total;
    a.max_tokens = w->pay.signed_total;
    a.error_code = q.max_tokens > a.max_tokens ? 1 : 0;
    rc = rpc_answer(c, qid, TL_ID_WORKER_COMPARE_BALANCE_WITH_PROXY_RESULT, &a);
    break;
  }
  case TL_ID_WORKER_EXTENDED_COMPARE_BALANCE_WITH_PROXY: {
    struct tl_worker_extended_compare_balance_with_proxy_result a = {.error_code = 0};
    rc = rpc_answer(c, qid, TL_ID_WORKER_EXTENDED_COMPARE_BALANCE_WITH_PROXY_RESULT, &a);
    break;
  }
  case TL_ID_WORKER_PROXY_HANDSHAKE_COMPLETE: {
    struct tl_worker_proxy_handshake_complete q;
    if (!w->model || tl_worker_proxy_handshake_complete_decode(data, len, &q)) {
      rc = net_conn_answer_error(c, qid, COCOON_ERR_PROTOVIOLATION, "unexpected proxyHandshakeComplete");
      break;
    }
    w->handshake_done = 1;
    w->disabled = q.is_disabled;
    log_info("worker_ready", "conn=%" PRIu64 " model=%s disabled=%d", net_conn_id(c), w->model, w->disabled);
    rc = rpc_answer(c, qid, TL_ID_WORKER_PROXY_HANDSHAKE_COMPLETED, NULL);
    break;
  }
  case TL_ID_WORKER_UPDATE_PAYMENT_STATUS: {
    struct tl_payment_status a;
    memset(&a, 0, sizeof(a));
    fill_signed(&a.signed_payment, &w->pay);
    a.db_tokens = w->pay.signed_total + w->pay.pending;
    a.max_tokens = a.db_tokens;
    rc = rpc_answer(c, qid, TL_ID_WORKER_PAYMENT_STATUS, &a);
    break;
  }
  default:
    rc = net_conn_answer_error(c, qid, COCOON_ERR_PROTOVIOLATION, "unknown query");
    break;
  }
  if (rc) net_conn_close(c, "cannot answer worker query");
}

static void worker_packet_cb(struct net_conn *c, const uint8_t *data, size_t len) {
  struct pworker *w = net_conn_user(c);
  uint32_t id = 0;
  if (tl_peek_id(data, len, &id)) {
    net_conn_close(c, "packet too short");
    return;
  }
  switch (id) {
  case TL_ID_PROXY_QUERY_ANSWER_EX:
  case TL_ID_PROXY_QUERY_ANSWER_PART_EX:
  case TL_ID_PROXY_QUERY_ANSWER_ERROR_EX:
  case TL_ID_PROXY_QUERY_ANSWER:
  case TL_ID_PROXY_QUERY_ANSWER_PART:
  case TL_ID_PROXY_QUERY_ANSWER_ERROR:
  case TL_ID_PROXY_QUERY_ANSWER_PART_ERROR: relay_answer(w, id, data, len); break;
  case TL_ID_WORKER_ENABLED_DISABLED: {
    struct tl_worker_enabled_disabled m;
    if (tl_worker_enabled_disabled_decode(data, len, &m)) {
      net_conn_close(c, "malformed worker.enabledDisabled");
      return;
    }
    w->disabled = m.disabled != 0;
    log_info("worker_state", "conn=%" PRIu64 " disabled=%d", net_conn_id(c), w->disabled);
    break;
  }
  case TL_ID_WORKER_NEW_COEFFICIENT: {
    struct tl_worker_new_coefficient m;
    if (tl_worker_new_coefficient_decode(data, len, &m)) {
      net_conn_close(c, "malformed worker.newCoefficient");
      return;
    }
    if (m.new_coefficient < 0 || m.new_coefficient >= PROXY_MAX_COEFFICIENT) {
      net_conn_close(c, "worker asked to leave (negative coefficient)");
      return;
    }
    w->coefficient = m.new_coefficient;
    log_info("worker_coefficient", "conn=%" PRIu64 " coefficient=%d", net_conn_id(c), w->coefficient);
    break;
  }
  default:
    log_warn("unknown_packet", "conn=%" PRIu64 " id=%08x", net_conn_id(c), id);
    break;
  }
}

/* ---------------------------------------------------------------- client connections */

static void client_ready_cb(struct net_conn *c);
static void client_packet_cb(struct net_conn *c, const uint8_t *data, size_t len);
static void client_query_cb(struct net_conn *c, int64_t qid, const uint8_t *data, size_t len);
static void client_close_cb(struct net_conn *c, int code, const char *reason);

static const struct net_conn_handler client_handler = {
    .ready_cb = client_ready_cb,
    .packet_cb = client_packet_cb,
    .query_cb = client_query_cb,
    .close_cb = client_close_cb,
};

static void client_ready_cb(struct net_conn *c) {
  struct proxy *p = net_conn_user(c);
  struct pclient *cl = calloc(1, sizeof(*cl));
  if (!cl) {
    net_conn_close(c, "out of memory");
    return;
  }
  cl->p = p;
  cl->c = c;
  buf_init(&cl->pay.boc, TON_PAYMENT_MAX_BOC * 2);
  cl->next = p->clients;
  if (p->clients) p->clients->prev = cl;
  p->clients = cl;
  net_conn_set_user(c, cl);
  p->stats.conns_opened++;
  p->stats.conns_active++;
  log_info("client_connected", "conn=%" PRIu64 " remote=%s", net_conn_id(c), net_conn_remote(c));
}

static void client_close_cb(struct net_conn *c, int code, const char *reason) {
  struct pclient *cl = net_conn_user(c);
  if (!cl || cl->c != c) return;
  struct proxy *p = cl->p;
  log_info("client_disconnected", "conn=%" PRIu64 " reason=\"%s\" running=%" PRId64, net_conn_id(c), reason,
           cl->running);
  /* Requests of a departed client are dropped; the worker's late answers are ignored. */
  while (cl->reqs) {
    struct preq *r = cl->reqs;
    cl->c = NULL;
    req_finish(r, 0);
  }
  if (cl->prev) cl->prev->next = cl->next;
  else p->clients = cl->next;
  if (cl->next) cl->next->prev = cl->prev;
  p->stats.conns_closed++;
  p->stats.conns_active--;
  if (cl->owner) pay_flush(p, &cl->pay, "client_charge", TON_OP_CLIENT_CHARGE_SIGNED, cl->owner);
  buf_free(&cl->pay.boc);
  free(cl->owner);
  free(cl);
}

static int client_connect(struct pclient *cl, int64_t qid, const uint8_t *data, size_t len) {
  struct proxy *p = cl->p;
  struct tl_client_connect_to_proxy q;
  if (tl_client_connect_to_proxy_decode(data, len, &q))
    return net_conn_answer_error(cl->c, qid, COCOON_ERR_PROTOVIOLATION, "malformed client.connectToProxy");
  const char *why = NULL;
  char buf[160];
  int32_t proto = 0;
  if (cl->connected) why = "handshake already done";
  else if (!(q.params.flags & TL_CLIENT_PARAMS_F_IS_TEST)) why = "too old client";
  else if (!!q.params.is_test != !!p->node.is_test) why = "test mode mismatch";
  else if (q.params.client_owner_address.n == 0 || q.params.client_owner_address.n > 128) why = "bad owner address";
  else if (q.min_config_version > p->config_version) {
    snprintf(buf, sizeof(buf), "client requires root config version %d, proxy has %d", q.min_config_version,
             p->config_version);
    why = buf;
  } else if (q.params.flags & TL_CLIENT_PARAMS_F_PROTO) {
    if (q.params.min_proto_version > PROXY_PROTO_MAX || q.params.max_proto_version < q.params.min_proto_version) {
      snprintf(buf, sizeof(buf), "no common protocol version (proxy speaks 0..%d)", PROXY_PROTO_MAX);
      why = buf;
    } else {
      proto = CC_MIN(q.params.max_proto_version, PROXY_PROTO_MAX);
    }
  }
  if (why) {
    log_warn("client_refused", "conn=%" PRIu64 " reason=\"%s\"", net_conn_id(cl->c), why);
    int rc = net_conn_answer_error(cl->c, qid, COCOON_ERR_PROTOVIOLATION, why);
    net_conn_close(cl->c, why);
    return rc;
  }
  char *sc = cl->sc;
  struct err se = {0};
  if (proxy_sc_peer(&p->sc, 0, q.params.client_owner_address.p, q.params.client_owner_address.n, sc, &se)) {
    snprintf(buf, sizeof(buf), "client contract: %.120s", se.msg);
    log_warn("client_refused", "conn=%" PRIu64 " reason=\"%s\"", net_conn_id(cl->c), buf);
    int rc = net_conn_answer_error(cl->c, qid, COCOON_ERR_PROTOVIOLATION, buf);
    net_conn_close(cl->c, buf);
    return rc;
  }
  cl->owner = util_strndup((const char *)q.params.client_owner_address.p, q.params.client_owner_address.n);
  if (!cl->owner) return ERR_NOMEM;
  cl->proto = proto;
  cl->connected = 1;
  struct tl_client_connected_to_proxy a;
  memset(&a, 0, sizeof(a));
  proxy_params_fill(p, &a.params, proto);
  a.client_sc_address.p = (const uint8_t *)sc;
  a.client_sc_address.n = strlen(sc);
  /* Local settlement, like COCOON's fake-TON: every client is known, short auth, nonce 0. */
  a.auth.id = TL_ID_CLIENT_PROXY_CONNECTION_AUTH_SHORT;
  memcpy(a.auth.secret_hash, p->secret_hash, 32);
  a.auth.nonce = 0;
  a.signed_payment.id = TL_ID_PROXY_SIGNED_PAYMENT_EMPTY;
  log_info("client_hello", "conn=%" PRIu64 " proto=%d", net_conn_id(cl->c), proto);
  return rpc_answer(cl->c, qid, TL_ID_CLIENT_CONNECTED_TO_PROXY, &a);
}

static int client_authorize(struct pclient *cl, int64_t qid, const uint8_t *data, size_t len) {
  struct proxy *p = cl->p;
  struct tl_client_authorize_with_proxy_short q;
  if (!cl->connected || tl_client_authorize_with_proxy_short_decode(data, len, &q))
    return net_conn_answer_error(cl->c, qid, COCOON_ERR_PROTOVIOLATION, "unexpected authorizeWithProxyShort");
  uint8_t h[32];
  SHA256(q.data.p, q.data.n, h);
  if (!util_ct_eq(h, p->secret_hash, 32)) {
    log_warn("client_auth_failed", "conn=%" PRIu64, net_conn_id(cl->c));
    struct tl_client_authorization_with_proxy_failed f;
    memset(&f, 0, sizeof(f));
    f.error_code = COCOON_ERR_PROTOVIOLATION;
    f.error.p = (const uint8_t *)"sha256 mismatch";
    f.error.n = 15;
    int rc = rpc_answer(cl->c, qid, TL_ID_CLIENT_AUTHORIZATION_WITH_PROXY_FAILED, &f);
    net_conn_close(cl->c, "authorization failed");
    return rc;
  }
  /* Local settlement, like COCOON's fake-TON: a client is credited once, on first sight. */
  char owner[LEDGER_ADDR_MAX + 1];
  ledger_name(owner, sizeof(owner), cl->owner, strlen(cl->owner), 0);
  free(cl->owner);
  cl->owner = util_strndup(owner, strlen(owner));
  if (!cl->owner) return ERR_NOMEM;
  struct ledger_account acc;
  if (!strcmp(p->settle->vt->name, "ton")) {
    settle_ton_client_seen(p->settle, cl->owner); /* its contract is read now, without waiting for it */
  } else if (ledger_account_get(p->ledger, LEDGER_CLIENT, cl->owner, &acc) != 0 && p->local_credit > 0) {
    struct err e = {0};
    int64_t stake = p->local_credit < p->min_client_stake ? p->local_credit : p->min_client_stake;
    if (ledger_record_transfer(p->ledger, LEDGER_CLIENT, cl->owner, p->local_credit, stake, 0, &e))
      log_error("ledger_credit_failed", "error=\"%s\"", e.msg);
    else
      log_info("client_credited", "conn=%" PRIu64 " nanoton=%" PRId64, net_conn_id(cl->c), p->local_credit);
  }
  cl->authorized = 1;
  /* The client compares this with the charge it holds (COCOON): a client holding more refuses us. */
  int64_t have = 0;
  pay_handshake(p, &cl->pay, LEDGER_CLIENT, "client_charge", TON_OP_CLIENT_CHARGE_SIGNED, cl->owner, &have);
  struct tl_client_authorization_with_proxy_success a;
  memset(&a, 0, sizeof(a));
  fill_signed(&a.signed_payment, &cl->pay);
  a.tokens_committed_to_db = cl->pay.signed_total;
  a.max_tokens = cl->pay.signed_total;
  log_info("client_authorized", "conn=%" PRIu64, net_conn_id(cl->c));
  return rpc_answer(cl->c, qid, TL_ID_CLIENT_AUTHORIZATION_WITH_PROXY_SUCCESS, &a);
}

/* client.getWorkerTypesV2: enabled workers grouped by base model, sorted by coefficient. */
static int answer_worker_types(struct pclient *cl, int64_t qid, int v2) {
  struct proxy *p = cl->p;
  size_t nw = 0;
  for (struct pworker *w = p->workers; w; w = w->next)
    if (w->handshake_done && !w->disabled) nw++;
  struct tl_client_worker_type_v2 *types = calloc(nw ? nw : 1, sizeof(*types));
  struct tl_client_worker_type *types1 = calloc(nw ? nw : 1, sizeof(*types1));
  struct tl_client_worker_instance_v2 *inst = calloc(nw ? nw : 1, sizeof(*inst));
  struct pworker **order = calloc(nw ? nw : 1, sizeof(*order));
  int rc = ERR_NOMEM;
  if (!types || !types1 || !inst || !order) goto out;
  size_t k = 0;
  for (struct pworker *w = p->workers; w; w = w->next)
    if (w->handshake_done && !w->disabled) order[k++] = w;
  /* Sort by (model, coefficient): insertion sort, worker counts are small. */
  for (size_t i = 1; i < nw; i++) {
    struct pworker *x = order[i];
    size_t j = i;
    while (j > 0) {
      struct pworker *y = order[j - 1];
      size_t ml = CC_MIN(x->base_len, y->base_len);
      int cmp = memcmp(y->model, x->model, ml);
      if (!cmp) cmp = (y->base_len > x->base_len) - (y->base_len < x->base_len);
      if (!cmp) cmp = (y->coefficient > x->coefficient) - (y->coefficient < x->coefficient);
      if (cmp <= 0) break;
      order[j] = y;
      j--;
    }
    order[j] = x;
  }
  size_t nt = 0;
  for (size_t i = 0; i < nw; i++) {
    struct pworker *w = order[i];
    inst[i].flags = 0;
    inst[i].coefficient = w->coefficient;
    inst[i].active_requests = w->running;
    inst[i].max_active_requests = w->max_active;
    if (nt == 0 || types[nt - 1].name.n != w->base_len || memcmp(types[nt - 1].name.p, w->model, w->base_len)) {
      types[nt].name.p = (const uint8_t *)w->model;
      types[nt].name.n = w->base_len;
      types[nt].workers = &inst[i];
      types1[nt].name = types[nt].name;
      types1[nt].coefficient_min = w->coefficient;
      nt++;
    }
    types[nt - 1].n_workers++;
    types1[nt - 1].active_workers++;
    types1[nt - 1].coefficient_max = w->coefficient;
  }
  for (size_t i = 0; i < nt; i++) {
    /* Median of the sorted coefficients of this model. */
    types1[i].coefficient_bucket50 = types[i].workers[types[i].n_workers / 2].coefficient;
  }
  if (v2) {
    struct tl_client_worker_types_v2 a = {.types = types, .n_types = (uint32_t)nt};
    rc = rpc_answer(cl->c, qid, TL_ID_CLIENT_WORKER_TYPES_V2, &a);
  } else {
    struct tl_client_worker_types a = {.types = types1, .n_types = (uint32_t)nt};
    rc = rpc_answer(cl->c, qid, TL_ID_CLIENT_WORKER_TYPES, &a);
  }
out:
  free(types);
  free(types1);
  free(inst);
  free(order);
  return rc;
}

/* ---------------------------------------------------------------- client account operations */

/* An accepted settlement operation: answered when the backend completes it. */
struct settle_wait {
  struct proxy *p;
  uint64_t conn;
  int64_t qid;
};

static void account_fill(struct pclient *cl, const struct settle_status *st, int64_t moved,
                         struct tl_cocoonx_client_account *a) {
  memset(a, 0, sizeof(*a));
  a->state = (int32_t)st->state;
  a->balance = st->balance;
  a->stake = st->stake;
  a->reserved = st->reserved;
  a->tokens_used = st->tokens_used;
  a->tokens_charged = st->tokens_charged;
  a->unlock_at = st->unlock_at_ms;
  a->moved = moved;
  fill_signed(&a->signed_payment, &cl->pay);
  a->db_tokens = cl->pay.signed_total + cl->pay.pending;
}

static void settle_done_cb_(void *arg, const struct settle_result *r) {
  struct settle_wait *w = arg;
  struct proxy *p = w->p;
  for (struct pclient *cl = p->clients; cl; cl = cl->next) {
    if (!cl->c || net_conn_id(cl->c) != w->conn) continue;
    int rc;
    if (r->rc) {
      rc = net_conn_answer_error(cl->c, w->qid, COCOON_ERR_ERROR, r->error ? r->error : "settlement failed");
    } else {
      struct tl_cocoonx_client_account a;
      account_fill(cl, &r->status, r->moved, &a);
      rc = rpc_answer(cl->c, w->qid, TL_ID_COCOONX_CLIENT_ACCOUNT, &a);
    }
    if (rc) net_conn_close(cl->c, "cannot answer client query");
    break;
  }
  if (!r->rc) log_info("client_settled", "conn=%" PRIu64 " moved=%" PRId64 " state=%s", w->conn, r->moved,
                       settle_state_name(r->status.state));
  free(w);
}

static const char *const settle_op_names[] = {"status", "topup", "withdraw", "charge", "close"};

/* cocoonx.clientSettle: the client's /request/{topup,withdraw,charge,close} (and a status read),
 * applied by the settlement backend to this client's account. */
static int client_settle(struct pclient *cl, int64_t qid, const uint8_t *data, size_t len) {
  struct proxy *p = cl->p;
  struct tl_cocoonx_client_settle q;
  if (tl_cocoonx_client_settle_decode(data, len, &q))
    return net_conn_answer_error(cl->c, qid, COCOON_ERR_PROTOVIOLATION, "malformed cocoonx.clientSettle");
  struct err e = {0};
  int rc;
  if (q.op == 0) {
    struct settle_status st;
    if ((rc = settle_status(p->settle, cl->owner, &st, &e)) != 0) return net_conn_answer_error(cl->c, qid, COCOON_ERR_ERROR, e.msg);
    struct tl_cocoonx_client_account a;
    account_fill(cl, &st, 0, &a);
    return rpc_answer(cl->c, qid, TL_ID_COCOONX_CLIENT_ACCOUNT, &a);
  }
  if (q.op < 1 || q.op > 4) return net_conn_answer_error(cl->c, qid, COCOON_ERR_BAD_REQUEST, "unknown settlement operation");
  struct settle_wait *w = calloc(1, sizeof(*w));
  if (!w) return net_conn_answer_error(cl->c, qid, COCOON_ERR_ERROR, "proxy out of memory");
  *w = (struct settle_wait){.p = p, .conn = net_conn_id(cl->c), .qid = qid};
  switch (q.op) {
  case 1:
    if (q.amount < 0) rc = err_set(&e, ERR_INVALID, "negative top-up amount");
    else rc = settle_topup(p->settle, cl->owner, q.amount, settle_done_cb_, w, &e);
    break;
  case 2: rc = settle_withdraw(p->settle, cl->owner, settle_done_cb_, w, &e); break;
  case 3:
    if (q.signed_payment.id == TL_ID_PROXY_SIGNED_PAYMENT && q.signed_payment.data.n)
      rc = settle_charge(p->settle, cl->owner, q.signed_payment.data.p, q.signed_payment.data.n, settle_done_cb_, w, &e);
    else if (cl->pay.boc.len)
      /* COCOON's client submits the latest signed charge it holds; ours is the same message. */
      rc = settle_charge(p->settle, cl->owner, buf_ptr(&cl->pay.boc), cl->pay.boc.len, settle_done_cb_, w, &e);
    else
      rc = err_set(&e, ERR_REFUSED, "no signed charge yet: nothing to charge");
    break;
  default: rc = settle_close(p->settle, cl->owner, settle_done_cb_, w, &e); break;
  }
  p->settle_ops++;
  if (rc) {
    free(w);
    p->settle_refused++;
    log_info("client_settle_refused", "conn=%" PRIu64 " op=%s reason=\"%s\"", net_conn_id(cl->c), settle_op_names[q.op],
             e.msg);
    return net_conn_answer_error(cl->c, qid, rc == ERR_AGAIN ? COCOON_ERR_NOTREADY : COCOON_ERR_ERROR, e.msg);
  }
  return 0;
}

static void client_query_cb(struct net_conn *c, int64_t qid, const uint8_t *data, size_t len) {
  struct pclient *cl = net_conn_user(c);
  uint32_t id = 0;
  int rc;
  if (tl_peek_id(data, len, &id)) {
    net_conn_close(c, "query too short");
    return;
  }
  if (id != TL_ID_CLIENT_CONNECT_TO_PROXY && id != TL_ID_CLIENT_AUTHORIZE_WITH_PROXY_SHORT && !cl->authorized) {
    rc = net_conn_answer_error(c, qid, COCOON_ERR_PROTOVIOLATION, "client is not authorized");
    if (rc) net_conn_close(c, "cannot answer");
    return;
  }
  switch (id) {
  case TL_ID_CLIENT_CONNECT_TO_PROXY: rc = client_connect(cl, qid, data, len); break;
  case TL_ID_CLIENT_AUTHORIZE_WITH_PROXY_SHORT: rc = client_authorize(cl, qid, data, len); break;
  case TL_ID_CLIENT_AUTHORIZE_WITH_PROXY_LONG:
    rc = net_conn_answer_error(c, qid, COCOON_ERR_ERROR,
                               "long authorization needs TON settlement; this proxy runs local settlement");
    break;
  case TL_ID_CLIENT_GET_WORKER_TYPES: rc = answer_worker_types(cl, qid, 0); break;
  case TL_ID_CLIENT_GET_WORKER_TYPES_V2: rc = answer_worker_types(cl, qid, 1); break;
  case TL_ID_COCOONX_CLIENT_SETTLE: rc = client_settle(cl, qid, data, len); break;
  case TL_ID_CLIENT_UPDATE_PAYMENT_STATUS: {
    struct tl_payment_status a;
    memset(&a, 0, sizeof(a));
    fill_signed(&a.signed_payment, &cl->pay);
    a.db_tokens = cl->pay.signed_total + cl->pay.pending;
    a.max_tokens = a.db_tokens;
    rc = rpc_answer(c, qid, TL_ID_CLIENT_PAYMENT_STATUS, &a);
    break;
  }
  default: rc = net_conn_answer_error(c, qid, COCOON_ERR_PROTOVIOLATION, "unknown query"); break;
  }
  if (rc) net_conn_close(c, "cannot answer client query");
}

static void client_packet_cb(struct net_conn *c, const uint8_t *data, size_t len) {
  struct pclient *cl = net_conn_user(c);
  uint32_t id = 0;
  if (tl_peek_id(data, len, &id)) {
    net_conn_close(c, "packet too short");
    return;
  }
  if (id == TL_ID_CLIENT_RUN_QUERY_EX || id == TL_ID_CLIENT_RUN_QUERY) {
    struct tl_client_run_query q;
    int rc = id == TL_ID_CLIENT_RUN_QUERY_EX ? tl_client_run_query_ex_decode(data, len, &q)
                                             : tl_client_run_query_decode(data, len, &q);
    if (rc) {
      net_conn_close(c, "malformed runQuery");
      return;
    }
    route_query(cl, &q, id == TL_ID_CLIENT_RUN_QUERY_EX);
    return;
  }
  log_warn("unknown_packet", "conn=%" PRIu64 " id=%08x", net_conn_id(c), id);
}

/* With a registry, the root configuration version clients compare against is its version. */
/* With a registry, its version is the config version and its prices are the billing prices
 * (COCOON takes both from the root contract); a reload applies to requests that end after it.
 * Prices the billing check refuses are logged and the current ones kept. */
static void registry_version_apply(struct proxy *p) {
  uint64_t v = node_registry_version(&p->node);
  if (v) p->config_version = (int32_t)CC_MIN(v, (uint64_t)INT32_MAX);
  const struct registry *r = node_registry(&p->node);
  if (!r) return;
  struct billing_prices np;
  struct err e = {0};
  billing_prices_init(&np, r->params.price_per_token, r->params.worker_fee_per_token);
  np.prompt_mult = r->params.prompt_mult;
  np.cached_mult = r->params.cached_mult;
  np.completion_mult = r->params.completion_mult;
  np.reasoning_mult = r->params.reasoning_mult;
  if (billing_prices_check(&np, &e) != 0) {
    log_warn("registry_prices_refused", "version=%" PRIu64 " reason=\"%s\"", v, e.msg);
    return;
  }
  /* The contract terms of local settlement: the registry's client stake and close delay. */
  if (p->settle && settle_local_set_terms(p->settle, r->params.min_client_stake,
                                          (int64_t)r->params.client_delay_before_close * 1000) == 0)
    p->min_client_stake = r->params.min_client_stake;
  if (memcmp(&np, &p->prices, sizeof(np)) != 0)
    log_info("registry_prices", "version=%" PRIu64 " price_per_token=%" PRId64 " worker_fee_per_token=%" PRId64
             " multipliers=%u/%u/%u/%u",
             v, np.price_per_token, np.worker_fee_per_token, np.prompt_mult, np.cached_mult, np.completion_mult,
             np.reasoning_mult);
  p->prices = np;
}

/* A newer registry: workers whose image or model it no longer lists are disconnected. */
static void registry_changed_cb(void *arg) {
  struct proxy *p = arg;
  char why[200];
  registry_version_apply(p);
  for (struct pworker *w = p->workers; w; w = w->next) {
    if (!node_peer_allowed(&p->node, NODE_PEER_WORKER, net_conn_peer(w->c), w->model, w->model ? strlen(w->model) : 0,
                           why, sizeof(why)))
      continue;
    log_warn("worker_dropped", "conn=%" PRIu64 " reason=\"%s\"", net_conn_id(w->c), why);
    net_conn_close(w->c, why); /* the close callback runs after this iteration */
  }
}

/* ---------------------------------------------------------------- HTTP stats */

static int json_extra(void *arg, struct buf *out) {
  struct proxy *p = arg;
  int rc = buf_appendf(out,
                       ",\"config_version\":%d,\"settlement\":\"%s\",\"price_per_token\":%" PRId64
                       ",\"worker_fee_per_token\":%" PRId64 ",\"multipliers\":[%u,%u,%u,%u],",
                       p->config_version, p->settle->vt->name, p->prices.price_per_token,
                       p->prices.worker_fee_per_token, p->prices.prompt_mult, p->prices.cached_mult,
                       p->prices.completion_mult, p->prices.reasoning_mult);
  if (!rc)
    rc = buf_appendf(out,
                     "\"billing\":{\"requests\":%" PRId64 ",\"committed\":%" PRId64 ",\"pending\":%zu,"
                     "\"client_charged\":%" PRId64 ",\"worker_earned\":%" PRId64 ",\"proxy_commission\":%" PRId64
                     ",\"usage_rejected\":%" PRId64 ",\"answers_waiting_commit\":%" PRId64 ",\"payments_signed\":%" PRId64
                     ",\"settle_ops\":%" PRId64 ",\"settle_refused\":%" PRId64 ",\"ledger_commits\":%" PRId64
                     ",\"ledger_write_us\":%" PRId64 "},",
                     p->billed_requests, p->committed_requests, ledger_pending(p->ledger), p->charged_total,
                     p->earned_total, p->commission_total, p->usage_rejected, p->held_finals, p->payments_signed,
                     p->settle_ops, p->settle_refused, p->ledger_commits, p->ledger_write_us);
  if (!rc && !strcmp(p->settle->vt->name, "ton")) {
    struct settle_ton_stats ts;
    settle_ton_get_stats(p->settle, &ts);
    rc = buf_appendf(out,
                     "\"ton\":{\"submitted\":%" PRId64 ",\"landed\":%" PRId64 ",\"failed\":%" PRId64
                     ",\"queued\":%" PRId64 ",\"wallet_balance\":%" PRId64 ",\"contract_reads\":%" PRId64
                     ",\"deposits\":%" PRId64 ",\"deposited\":%" PRId64 ",\"refunds\":%" PRId64 ",\"refunded\":%" PRId64
                     ",\"clients_closing\":%" PRId64 ",\"clients_closed\":%" PRId64 ",\"contracts_refused\":%" PRId64
                     ",\"last_error\":\"",
                     ts.submitted, ts.landed, ts.failed, ts.queued, ts.wallet_balance, ts.contract_reads, ts.deposits,
                     ts.deposited, ts.refunds, ts.refunded, ts.clients_closing, ts.clients_closed,
                     ts.contracts_refused);
    if (!rc) rc = buf_append_json_str(out, ts.last_error, strlen(ts.last_error));
    if (!rc) rc = buf_append_str(out, "\",\"last_contract_error\":\"");
    if (!rc) rc = buf_append_json_str(out, ts.last_contract_error, strlen(ts.last_contract_error));
    if (!rc) rc = buf_append_str(out, "\"},");
  }
  if (!rc) rc = buf_append_str(out, "\"proxy_contract\":\"");
  if (!rc) rc = buf_append_json_str(out, p->sc.self_str, strlen(p->sc.self_str));
  if (!rc) rc = buf_append_str(out, "\",");
  /* Alarms come first in /jsonstats so that monitoring finds them without walking the lists. */
  if (!rc) rc = buf_appendf(out, "\"alarms\":{\"ledger_behind\":%" PRId64 ",\"ledger_behind_last\":\"", p->ledger_behind);
  if (!rc) rc = buf_append_json_str(out, p->ledger_behind_msg, strlen(p->ledger_behind_msg));
  if (!rc) rc = buf_append_str(out, "\"},\"workers\":[");
  int first = 1;
  for (struct pworker *w = p->workers; w && !rc; w = w->next) {
    rc = buf_appendf(out,
                     "%s{\"conn\":%" PRIu64 ",\"model\":\"", first ? "" : ",", net_conn_id(w->c));
    if (!rc && w->model) rc = buf_append_json_str(out, w->model, w->base_len);
    if (!rc)
      rc = buf_appendf(out,
                     "\",\"coefficient\":%d,\"running\":%d,"
                     "\"max_active\":%d,\"enabled\":%s,\"ready\":%s,\"queries\":%" PRIu64
                     ",\"success\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"avg_time_s\":%.4f,\"contract\":\"",
                     w->coefficient, w->running, w->max_active,
                     w->disabled ? "false" : "true", w->handshake_done ? "true" : "false", w->queries, w->success,
                     w->failed, w->avg_time_s);
    if (!rc) rc = buf_append_json_str(out, w->sc, strlen(w->sc)); /* as the peer gave it, without fake_ton_config */
    char hex[65];
    util_hex(net_conn_peer_key(w->c), 32, hex);
    if (!rc) rc = buf_appendf(out, "\",\"peer_key\":\"%s\",\"policy\":\"%s\"", hex, net_conn_peer(w->c)->policy_name);
    if (!rc) rc = node_peer_json(net_conn_peer(w->c), out);
    if (!rc) rc = buf_append_str(out, "}");
    first = 0;
  }
  if (!rc) rc = buf_append_str(out, "],\"clients\":[");
  first = 1;
  for (struct pclient *cl = p->clients; cl && !rc; cl = cl->next) {
    struct ledger_account acc;
    memset(&acc, 0, sizeof(acc));
    if (cl->owner && ledger_account_get(p->ledger, LEDGER_CLIENT, cl->owner, &acc) != 0) memset(&acc, 0, sizeof(acc));
    struct settle_status sst;
    memset(&sst, 0, sizeof(sst));
    if (!cl->owner || settle_status(p->settle, cl->owner, &sst, NULL) != 0) sst.state = SETTLE_RUNNING;
    rc = buf_appendf(out,
                     "%s{\"conn\":%" PRIu64 ",\"authorized\":%s,\"running\":%" PRId64 ",\"balance\":%" PRId64
                     ",\"stake\":%" PRId64 ",\"reserved\":%" PRId64 ",\"charged\":%" PRId64 ",\"tokens\":%" PRId64
                     ",\"state\":\"%s\",\"contract\":\"",
                     first ? "" : ",", net_conn_id(cl->c), cl->authorized ? "true" : "false", cl->running,
                     acc.balance, acc.stake, acc.reserved, acc.amount, acc.tokens, settle_state_name(sst.state));
    if (!rc) rc = buf_append_json_str(out, cl->sc, strlen(cl->sc));
    if (!rc) rc = buf_append_str(out, "\"}");
    first = 0;
  }
  if (!rc) rc = buf_append_str(out, "]");
  return rc;
}

static int metrics_extra(void *arg, struct buf *out) {
  struct proxy *p = arg;
  return buf_appendf(out,
                     "# HELP cocoon_ledger_behind_total Peers refused because they held a signed total above the "
                     "ledger (lost or rolled-back ledger)\n# TYPE cocoon_ledger_behind_total counter\n"
                     "cocoon_ledger_behind_total{role=\"proxy\"} %" PRId64 "\n"
                     "# HELP cocoon_alarm Nonzero while an alarm is raised\n# TYPE cocoon_alarm gauge\n"
                     "cocoon_alarm{role=\"proxy\",alarm=\"ledger_behind\"} %d\n",
                     p->ledger_behind, p->ledger_behind ? 1 : 0);
}

static int html_extra(void *arg, struct buf *out) {
  struct proxy *p = arg;
  if (p->ledger_behind) {
    /* The message is built from numbers only; nothing to escape. */
    int rc = buf_appendf(out, "<h2 style=\"color:#b00\">ALARM: ledger behind peers</h2><p>%" PRId64 " refusal(s). %s</p>\n",
                         p->ledger_behind, p->ledger_behind_msg);
    if (rc) return rc;
  }
  int rc = buf_append_str(out, "<h2>Workers</h2><table><tr><th>conn</th><th>model</th><th>coefficient</th>"
                               "<th>running</th><th>max</th><th>enabled</th><th>queries</th><th>failed</th>"
                               "<th>image hash</th><th>MRTD</th><th>policy</th></tr>\n");
  for (struct pworker *w = p->workers; w && !rc; w = w->next) {
    /* Model names come from peers: print only safe characters. */
    char model[128];
    size_t k = 0;
    for (size_t i = 0; w->model && w->model[i] && k + 1 < sizeof(model); i++) {
      char ch = w->model[i];
      model[k++] = (ch == '<' || ch == '>' || ch == '&' || ch == '"') ? '_' : ch;
    }
    model[k] = 0;
    rc = buf_appendf(out,
                     "<tr><td>%" PRIu64 "</td><td>%s</td><td>%d</td><td>%d</td><td>%d</td><td>%s</td><td>%" PRIu64
                     "</td><td>%" PRIu64 "</td>",
                     net_conn_id(w->c), model, w->coefficient, w->running, w->max_active, w->disabled ? "no" : "yes",
                     w->queries, w->failed);
    if (!rc) rc = node_peer_html(net_conn_peer(w->c), out);
    if (!rc) rc = buf_append_str(out, "</tr>\n");
  }
  if (!rc) rc = buf_append_str(out, "</table>\n");
  return rc;
}

static void http_cb(struct http_request *req, void *arg) {
  struct proxy *p = arg;
  if (statsweb_handle(&p->web, req)) return;
  http_respond(req, 404, "application/json", "{\"error\":{\"message\":\"not found\"}}\n", 35);
}

/* ---------------------------------------------------------------- lifecycle */

static void tls_refreshed_cb(void *arg);

/* Signs the link's committed-but-unsigned tokens into a new cumulative total for (kind, owner),
 * stores it as the high-water mark and caches the message. Signing costs two Ed25519 operations
 * and ledger rows per account, so it happens at most every payment_interval_ms per link (COCOON
 * signs even more rarely: once per on-chain anchor). Owners that are not TON addresses get no
 * signed payment. */
static void pay_flush(struct proxy *p, struct paystate *ps, const char *kind, uint32_t op, const char *owner) {
  if (ps->pending == 0) return;
  int64_t add = ps->pending;
  ps->pending = 0;
  ps->last_sign_ms = loop_now_ms(p->loop);
  int64_t prev = 0, total;
  if (ledger_payment_get(p->ledger, kind, owner, &prev) != 0) prev = 0;
  if (__builtin_add_overflow(prev, add, &total)) return;
  if (pay_sign(p, ps, kind, op, owner, total, 1)) ps->pending = add; /* try again at the next flush */
}

/* Signs `total` for (kind, owner) into the link's cached message; with record, stores it as the
 * ledger's high-water mark first. Owners that are not TON addresses get no signed payment. */
static int pay_sign(struct proxy *p, struct paystate *ps, const char *kind, uint32_t op, const char *owner,
                    int64_t total, int record) {
  struct ton_addr target;
  struct err e = {0};
  if (proxy_sc_target(&p->sc, strcmp(kind, "worker_payout") == 0, owner, &target, &e))
    return 0; /* not addressable: nothing to sign */
  struct ton_payment pay = {.op = op, .qid = util_random_u64(), .tokens = (uint64_t)total, .target = target};
  uint8_t seed[32];
  size_t slen = sizeof(seed);
  struct buf out;
  buf_init(&out, TON_PAYMENT_MAX_BOC * 2);
  int rc = EVP_PKEY_get_raw_private_key(ratls_identity_key(p->node.id), seed, &slen) == 1 && slen == 32 ? 0 : ERR_CRYPTO;
  /* COCOON's contracts and runners need a standard return_excesses_to address (its proxy puts
   * its wallet there). In fake-TON mode nothing is sent, and the proxy's owner stands in; with
   * settlement ton it stays addr_none, which our contracts (contracts/) read as "back to the sender". */
  if (!rc) rc = ton_payment_sign(&pay, p->sc.derive ? &p->sc.owner : NULL, seed, &out, &e);
  OPENSSL_cleanse(seed, sizeof(seed));
  if (!rc && record) rc = ledger_record_payment(p->ledger, kind, owner, total, buf_ptr(&out), out.len, 0, &e);
  if (rc) {
    log_warn("payment_sign_failed", "kind=%s error=\"%s\"", kind, e.msg);
  } else {
    buf_reset(&ps->boc);
    if (buf_append(&ps->boc, buf_ptr(&out), out.len)) buf_reset(&ps->boc);
    ps->signed_total = total;
    p->payments_signed++;
  }
  buf_free(&out);
  return rc;
}

/* proxy.{client,worker}RequestPayment for the link's last request: the latest signed payment (may
 * cover fewer tokens than db_tokens until the next flush), the committed total, this request's. */
static void pay_send(struct net_conn *c, struct paystate *ps, uint32_t id, int64_t request_tokens,
                     const char *client_owner) {
  struct tl_request_payment m;
  memset(&m, 0, sizeof(m));
  memcpy(m.request_id, ps->last_req, 32);
  if (ps->boc.len) {
    m.signed_payment.id = TL_ID_PROXY_SIGNED_PAYMENT;
    m.signed_payment.data.p = buf_ptr(&ps->boc);
    m.signed_payment.data.n = ps->boc.len;
  } else {
    m.signed_payment.id = TL_ID_PROXY_SIGNED_PAYMENT_EMPTY;
  }
  m.db_tokens = ps->signed_total + ps->pending;
  m.max_tokens = m.db_tokens;
  m.request_tokens = request_tokens;
  if (client_owner) {
    m.request_client_owner.p = (const uint8_t *)client_owner;
    m.request_client_owner.n = strlen(client_owner);
  }
  if (rpc_send(c, id, &m)) net_conn_close(c, "peer cannot keep up");
}

/* After a request's record is durable: its tokens join the client's and the worker's totals, which
 * are signed when their interval is up, and both learn the state. */
static void send_payments(struct proxy *p, const struct held_final *h) {
  uint64_t now = loop_now_ms(p->loop);
  for (struct pclient *cl = p->clients; cl; cl = cl->next) {
    if (!cl->c || net_conn_id(cl->c) != h->client_conn) continue;
    cl->pay.pending += h->adj_tokens;
    memcpy(cl->pay.last_req, h->request_id, 32);
    if (now - cl->pay.last_sign_ms >= p->payment_interval_ms)
      pay_flush(p, &cl->pay, "client_charge", TON_OP_CLIENT_CHARGE_SIGNED, h->client_owner);
    pay_send(cl->c, &cl->pay, TL_ID_PROXY_CLIENT_REQUEST_PAYMENT, h->adj_tokens, NULL);
    break;
  }
  for (struct pworker *w = p->workers; w; w = w->next) {
    if (!w->c || net_conn_id(w->c) != h->worker_conn) continue;
    w->pay.pending += h->adj_tokens;
    memcpy(w->pay.last_req, h->request_id, 32);
    if (now - w->pay.last_sign_ms >= p->payment_interval_ms)
      pay_flush(p, &w->pay, "worker_payout", TON_OP_WORKER_PAYOUT_SIGNED, h->worker_owner);
    pay_send(w->c, &w->pay, TL_ID_PROXY_WORKER_REQUEST_PAYMENT, h->adj_tokens, h->client_owner);
    break;
  }
}

/* Signs what is pending on every link and tells the peer (the tail of a burst). */
static void payment_timer_cb(struct loop_timer *t) {
  struct proxy *p = t->data;
  /* Interval 0 signs after every request; the timer then only sweeps leftovers once a second
   * (re-arming it at 0 ms would spin the loop). */
  loop_timer_start(p->loop, &p->payment_timer, p->payment_interval_ms ? p->payment_interval_ms : 1000);
  for (struct pclient *cl = p->clients; cl; cl = cl->next)
    if (cl->pay.pending && cl->c && cl->owner) {
      pay_flush(p, &cl->pay, "client_charge", TON_OP_CLIENT_CHARGE_SIGNED, cl->owner);
      pay_send(cl->c, &cl->pay, TL_ID_PROXY_CLIENT_REQUEST_PAYMENT, 0, NULL);
    }
  for (struct pworker *w = p->workers; w; w = w->next)
    if (w->pay.pending && w->c && w->owner) {
      pay_flush(p, &w->pay, "worker_payout", TON_OP_WORKER_PAYOUT_SIGNED, w->owner);
      pay_send(w->c, &w->pay, TL_ID_PROXY_WORKER_REQUEST_PAYMENT, 0, "");
    }
}

static void on_ledger_committed(void *arg, const struct ledger_batch *b) {
  struct proxy *p = arg;
  if (b->rc < 0)
    /* The answers still go out (the work was done); the ledger refuses further writes, so the
     * proxy stops taking requests (ledger_record_request fails, requests get an error). */
    log_error("ledger_commit_failed", "error=\"%s\"", b->error ? b->error : "unknown");
  p->ledger_commits++;
  p->ledger_write_us += (int64_t)b->write_us;
  for (size_t i = 0; i < b->n; i++) {
    const struct ledger_item *it = &b->items[i];
    if (b->rc >= 0 && it->type == LEDGER_OP_REQUEST && it->status == LEDGER_ITEM_OK) p->committed_requests++;
    if (it->cookie & SETTLE_COOKIE_TAG) {
      settle_local_committed(p->settle, it, b);
      continue;
    }
    struct held_final *h = (struct held_final *)(uintptr_t)it->cookie;
    if (!h) continue;
    p->held_finals--;
    for (struct pclient *cl = p->clients; cl; cl = cl->next) {
      if (cl->c && net_conn_id(cl->c) == h->client_conn) {
        if (net_conn_send_packet(cl->c, h->data, h->len)) net_conn_close(cl->c, "client cannot keep up");
        break;
      }
    }
    if (b->rc >= 0 && it->status == LEDGER_ITEM_OK && h->adj_tokens > 0) send_payments(p, h);
    free(h);
  }
}

/* The ledger's MAC key derives from the node's Ed25519 key, so only this proxy can write rows
 * that verify. */
static int open_ledger(struct proxy *p, const struct config *cfg, struct err *e) {
  char path[4200];
  const char *lp = config_get_str(cfg, "ledger_path");
  const char *kd = config_get_str(cfg, "key_dir");
  if (lp[0])
    snprintf(path, sizeof(path), "%s", lp);
  else if (kd[0])
    snprintf(path, sizeof(path), "%s/ledger.db", kd);
  else
    return err_set(e, ERR_INVALID, "the proxy needs a ledger: set ledger_path or key_dir");
  uint8_t seed[32];
  size_t slen = sizeof(seed);
  if (EVP_PKEY_get_raw_private_key(ratls_identity_key(p->node.id), seed, &slen) != 1 || slen != 32)
    return err_set(e, ERR_CRYPTO, "cannot read the node key for the ledger");
  struct ledger_opts lo = {.committed_cb = on_ledger_committed, .cb_arg = p};
  int rc = ledger_open(path, seed, p->loop, &lo, &p->ledger, e);
  OPENSSL_cleanse(seed, sizeof(seed));
  if (!rc) log_info("ledger_open", "path=%s", path);
  return rc;
}

/* The ton backend: the proxy's wallet (key file 0600) submits what the proxy signed. */
static int open_ton_settle(struct proxy *p, const struct config *cfg, struct err *e) {
  struct settle_ton_params tp;
  memset(&tp, 0, sizeof(tp));
  int rc = 0;
  tp.toncenter_url = config_get_str(cfg, "toncenter_url");
  const char *key = config_get_str(cfg, "toncenter_api_key");
  tp.toncenter_api_key = key[0] ? key : NULL;
  const char *wkey = config_get_str(cfg, "ton_wallet_key");
  if (!tp.toncenter_url[0]) return err_set(e, ERR_INVALID, "settlement ton needs toncenter_url");
  if (!wkey[0]) return err_set(e, ERR_INVALID, "settlement ton needs ton_wallet_key (create one: cocoon ton wallet-key)");
  if ((rc = chain_wallet_key_load(wkey, tp.wallet_seed, e))) return rc;
  if (ton_wallet_kind_parse(config_get_str(cfg, "ton_wallet"), &tp.wallet_kind)) {
    rc = err_set(e, ERR_INVALID, "ton_wallet must be v4r2 or v5r1");
    goto out;
  }
  tp.testnet = config_get_bool(cfg, "ton_testnet");
  size_t slen = sizeof(tp.proxy_seed);
  if (EVP_PKEY_get_raw_private_key(ratls_identity_key(p->node.id), tp.proxy_seed, &slen) != 1 || slen != 32) {
    rc = err_set(e, ERR_CRYPTO, "cannot read the proxy's signing key");
    goto out;
  }
  tp.price_per_token = config_get_int(cfg, "price_per_token");
  tp.worker_fee_per_token = config_get_int(cfg, "worker_fee_per_token");
  tp.charge_threshold = config_get_int(cfg, "ton_charge_threshold_nanoton");
  tp.payout_threshold = config_get_int(cfg, "ton_payout_threshold_nanoton");
  tp.msg_value = config_get_int(cfg, "ton_msg_value_nanoton");
  tp.min_wallet = config_get_int(cfg, "ton_min_wallet_nanoton");
  tp.scan_ms = (uint32_t)config_get_int(cfg, "ton_scan_ms");
  tp.proxy_contract = config_get_str(cfg, "ton_proxy_contract");
  tp.client_poll_ms = (uint32_t)config_get_int(cfg, "ton_client_poll_ms");
  if (!tp.proxy_contract[0]) {
    rc = err_set(e, ERR_INVALID,
                 "settlement ton needs ton_proxy_contract (the proxy contract's address): client deposits are read "
                 "from the chain");
    goto out;
  }
  rc = settle_ton_new(p->loop, p->ledger, &tp, &p->settle, e);
out:
  OPENSSL_cleanse(&tp, sizeof(tp));
  return rc;
}

int proxy_new(struct loop *loop, const struct config *cfg, struct proxy **out, struct err *e) {
  struct proxy *p = calloc(1, sizeof(*p));
  if (!p) return err_set(e, ERR_NOMEM, "out of memory");
  p->loop = loop;
  p->cfg = cfg;
  stats_init(&p->stats, "proxy");
  p->web = (struct statsweb){.stats = &p->stats, .json_cb = json_extra, .html_cb = html_extra,
                           .metrics_cb = metrics_extra, .arg = p, .node = &p->node};
  int rc = node_init(&p->node, cfg, "proxy", e);
  if (rc) {
    free(p);
    return rc;
  }
  node_on_registry_change(&p->node, registry_changed_cb, p);
  const char *settlement = config_get_str(cfg, "settlement");
  if (strcmp(settlement, "local") != 0 && strcmp(settlement, "ton") != 0) {
    rc = err_set(e, ERR_INVALID, "settlement '%s' is unknown (local or ton)", settlement);
    goto fail;
  }
  p->owner = config_get_str(cfg, "owner_address");
  if ((rc = proxy_sc_init(&p->sc, config_get_str(cfg, "fake_ton_config"), config_get_str(cfg, "root_contract_address"),
                          p->owner, ratls_identity_public_key(p->node.id), e)))
    goto fail;
  if (p->sc.derive && (config_get_str(cfg, "registry")[0] || config_get_str(cfg, "registry_ton_root")[0])) {
    rc = err_set(e, ERR_INVALID, "fake_ton_config and a registry both give the root configuration: use one");
    goto fail;
  }
  if (p->sc.derive && strcmp(settlement, "local") != 0) {
    rc = err_set(e, ERR_INVALID, "fake_ton_config is COCOON's test mode without a chain: use it with settlement local");
    goto fail;
  }
  billing_prices_init(&p->prices, config_get_int(cfg, "price_per_token"), config_get_int(cfg, "worker_fee_per_token"));
  if (p->sc.derive) /* COCOON's fake-TON prices */
    billing_prices_init(&p->prices, (int64_t)p->sc.fake.params.price_per_token,
                        (int64_t)p->sc.fake.params.worker_fee_per_token);
  p->prices.prompt_mult = (uint32_t)config_get_int(cfg, "prompt_multiplier");
  p->prices.cached_mult = (uint32_t)config_get_int(cfg, "cached_multiplier");
  p->prices.completion_mult = (uint32_t)config_get_int(cfg, "completion_multiplier");
  p->prices.reasoning_mult = (uint32_t)config_get_int(cfg, "reasoning_multiplier");
  if ((rc = billing_prices_check(&p->prices, e))) goto fail;
  p->local_credit = config_get_int(cfg, "local_client_credit");
  p->payment_interval_ms = (uint32_t)config_get_int(cfg, "payment_interval_ms");
  loop_timer_init(&p->payment_timer, payment_timer_cb, p);
  if ((rc = open_ledger(p, cfg, e))) goto fail;
  p->min_client_stake = p->sc.derive ? (int64_t)p->sc.fake.params.min_client_stake
                                     : config_get_int(cfg, "min_client_stake");
  struct settle_local_params sp = {.min_client_stake = p->min_client_stake,
                                   .client_delay_close_ms = config_get_int(cfg, "client_delay_before_close") * 1000};
  memcpy(sp.proxy_pubkey, ratls_identity_public_key(p->node.id), 32);
  if (!strcmp(settlement, "ton")) rc = open_ton_settle(p, cfg, e);
  else rc = settle_local_new(p->ledger, &sp, &p->settle, e);
  if (rc) goto fail;
  catch_up_marks(p);
  p->max_reqs = config_get_int(cfg, "max_requests");
  p->config_version = (int32_t)config_get_int(cfg, "config_version");
  registry_version_apply(p);
  if (p->sc.derive) {
    p->config_version = p->sc.fake.version;
    log_info("fake_ton_config", "version=%d price_per_token=%" PRId64 " worker_fee_per_token=%" PRId64
             " proxy_sc=%s", p->config_version, p->prices.price_per_token, p->prices.worker_fee_per_token,
             p->sc.self_str);
  }
  const char *secret = config_get_str(cfg, "client_secret");
  SHA256((const uint8_t *)secret, strlen(secret), p->secret_hash);
  int wport, cport, hport;
  const char *whost = config_get_host(cfg, "worker_listen", &wport);
  const char *chost = config_get_host(cfg, "client_listen", &cport);
  const char *hhost = config_get_host(cfg, "http_listen", &hport);
  rc = net_listener_new(loop, node_tls_server(&p->node, NODE_PEER_WORKER), whost, wport, &p->node.conn_opts,
                        &worker_handler, p, &p->wl, e);
  if (!rc)
    rc = net_listener_new(loop, node_tls_server(&p->node, NODE_PEER_CLIENT), chost, cport, &p->node.conn_opts,
                          &client_handler, p, &p->cl, e);
  if (rc) goto fail;
  struct http_server_config hc = {.host = hhost, .port = hport, .handler = http_cb, .arg = p};
  rc = http_server_new(loop, &hc, &p->http, e);
  if (rc) goto fail;
  char ready[1024];
  snprintf(ready, sizeof(ready),
           "worker_addr=%s:%d\nclient_addr=%s:%d\nhttp_url=http://%s:%d\n", whost, net_listener_port(p->wl), chost,
           net_listener_port(p->cl), hhost, http_server_port(p->http));
  log_info("listening", "workers=%s:%d clients=%s:%d http=%s:%d", whost, net_listener_port(p->wl), chost,
           net_listener_port(p->cl), hhost, http_server_port(p->http));
  node_start_refresh(&p->node, loop, tls_refreshed_cb, p);
  loop_timer_start(loop, &p->payment_timer, p->payment_interval_ms ? p->payment_interval_ms : 1000);
  const char *rf = config_get_str(cfg, "ready_file");
  if (rf[0] && readyfile_write(rf, ready)) {
    rc = err_set(e, ERR_IO, "cannot write ready_file %s", rf);
    goto fail;
  }
  *out = p;
  return 0;
fail:
  proxy_free(p);
  return rc;
}

static const struct net_conn_handler detached_handler;
static void tls_refreshed_cb(void *arg);

void proxy_free(struct proxy *p) {
  if (!p) return;
  if (p->payment_timer.cb) loop_timer_stop(p->loop, &p->payment_timer);
  net_listener_free(p->wl);
  net_listener_free(p->cl);
  while (p->workers) {
    struct pworker *w = p->workers;
    net_conn_set_handler(w->c, &detached_handler);
    while (w->reqs) req_finish(w->reqs, 0);
    p->workers = w->next;
    net_conn_close(w->c, "proxy stopping");
    if (w->owner && p->ledger) pay_flush(p, &w->pay, "worker_payout", TON_OP_WORKER_PAYOUT_SIGNED, w->owner);
    buf_free(&w->pay.boc);
    free(w->owner);
    free(w->model);
    free(w);
  }
  while (p->clients) {
    struct pclient *cl = p->clients;
    net_conn_set_handler(cl->c, &detached_handler);
    while (cl->reqs) req_finish(cl->reqs, 0);
    p->clients = cl->next;
    net_conn_close(cl->c, "proxy stopping");
    if (cl->owner && p->ledger) pay_flush(p, &cl->pay, "client_charge", TON_OP_CLIENT_CHARGE_SIGNED, cl->owner);
    buf_free(&cl->pay.boc);
    free(cl->owner);
    free(cl);
  }
  http_server_free(p->http);
  if (p->ledger) {
    struct err e = {0};
    if (ledger_close(p->ledger, &e)) log_error("ledger_close_failed", "error=\"%s\"", e.msg);
  }
  settle_free(p->settle); /* after the ledger delivered its last completions */
  node_cleanup(&p->node);
  proxy_sc_clear(&p->sc);
  free(p);
}

static void tls_refreshed_cb(void *arg) {
  struct proxy *p = arg;
  net_listener_set_tls(p->wl, node_tls_server(&p->node, NODE_PEER_WORKER));
  net_listener_set_tls(p->cl, node_tls_server(&p->node, NODE_PEER_CLIENT));
}

static int start_cb(struct loop *l, const struct config *cfg, void **obj, struct err *e) {
  struct proxy *p;
  int rc = proxy_new(l, cfg, &p, e);
  if (!rc) *obj = p;
  return rc;
}

static void stop_cb(void *obj) { proxy_free(obj); }

int proxy_main(int argc, char **argv) {
  static const struct daemon_role role = {
      .name = "proxy",
      .summary = "Accepts workers and clients over RA-TLS and routes each request to a worker.",
      .schema = proxy_config_schema,
      .start_cb = start_cb,
      .stop_cb = stop_cb,
  };
  return daemon_main(&role, argc, argv);
}
