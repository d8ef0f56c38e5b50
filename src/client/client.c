/* client: serves the OpenAI HTTP API on localhost and sends each request through a proxy. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "client/client.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "core/daemon.h"
#include "core/errcode.h"
#include "core/node.h"
#include "core/readyfile.h"
#include "core/rpc.h"
#include "core/stats.h"
#include "core/payments.h"
#include "core/statsweb.h"
#include "core/uplink.h"
#include "http/http_server.h"
#include "loop/loop.h"
#include "net/conn.h"
#include "openai/openai_request.h"
#include "tl/tl_schema.h"
#include "client/client_ton.h"
#include "ton/payment.h"

#define CLIENT_MAX_PROXIES 64
#define CLIENT_HANDSHAKE_TIMEOUT_MS 30000u
#define CLIENT_MODELS_TIMEOUT_MS 10000u
#define CLIENT_MAX_PATH 256
/* A request goes to at most this many proxies (the first one plus retry_other_proxies). */
#define CLIENT_MAX_ATTEMPTS 9
/* Below this much of its time budget left, a failed request is not sent again. */
#define CLIENT_RETRY_MIN_LEFT_MS 100u

const struct config_key client_config_schema[] = {
    NODE_CONFIG_KEYS,
    {"proxy", CONFIG_LIST, 0, CLIENT_MAX_PROXIES, NULL,
     "proxies to use, comma-separated host:port of their client ports; empty: the registry's proxy_addr "
     "entries", 0},
    {"http_listen", CONFIG_HOSTPORT, 0, 65535, "127.0.0.1:10000",
     "address of the OpenAI API (/v1/...) and /stats, /jsonstats, /metrics", 0},
    {"secret", CONFIG_STRING, 0, 1024, "",
     "secret for the proxy's short authorization (local settlement; COCOON fake-TON: empty)",
     CONFIG_F_SECRET},
    {"owner_address", CONFIG_STRING, 0, 128,
     "0:0000000000000000000000000000000000000000000000000000000000000000",
     "TON address this client pays from (announced to proxies)", 0},
    {"max_requests", CONFIG_INT, 1, 100000, "10000", "requests in flight at most", 0},
    {"retry_other_proxies", CONFIG_INT, 0, CLIENT_MAX_ATTEMPTS - 1, "2",
     "a request that fails before its first answer byte (link lost, or a 502/503/504-class or "
     "no-worker error from the proxy) is sent again to up to this many other ready proxies; 0: never",
     0},
    {"ton_wallet_key", CONFIG_STRING, 0, 4096, "",
     "ton settlement: file (mode 0600) with the client wallet's key; /request/topup, withdraw and close then "
     "go from this wallet to the client contract at owner_address instead of through the proxy", 0},
    {"ton_wallet", CONFIG_STRING, 0, 8, "v4r2", "ton settlement: the client wallet's contract (v4r2 or v5r1)", 0},
    {"ton_testnet", CONFIG_BOOL, 0, 1, "false", "ton settlement: testnet addresses and wallet ids", 0},
    {"ton_msg_value_nanoton", CONFIG_INT, 1, INT64_MAX / 4, "300000000",
     "ton settlement: nano-TON sent with withdraw and close for the contracts' gas (the excess comes back)", 0},
    {"ton_message_ttl_s", CONFIG_INT, 10, 86400, "60", "ton settlement: validity of a wallet message", 0},
    {"ton_auto_topup", CONFIG_BOOL, 0, 1, "true",
     "ton settlement (with ton_wallet_key): top the client contract up from the wallet when its balance falls "
     "below ton_topup_threshold_nanoton", 0},
    {"ton_topup_threshold_nanoton", CONFIG_INT, 0, INT64_MAX / 4, "0",
     "ton settlement: automatic top-up below this contract balance (0: half the contract's stake)", 0},
    {"ton_topup_amount_nanoton", CONFIG_INT, 0, INT64_MAX / 4, "0",
     "ton settlement: nano-TON per automatic top-up (0: one stake)", 0},
    {"ton_topup_check_ms", CONFIG_INT, 200, 86400000, "10000",
     "ton settlement: how often the client contract's balance is read for the automatic top-up", 0},
    {NULL, 0, 0, 0, NULL, NULL, 0},
};

struct creq;

struct cproxy {
  struct uplink up; /* host, port, conn, state, reconnects */
  struct client *cl;
  int64_t running;
  struct payments_held charge; /* best signed charge from this proxy */
  int64_t db_tokens;           /* the proxy's committed total, as last reported */
  char sc_address[130];
  /* The account at this proxy as last read (cocoonx.clientSettle, our extension): have_account
   * 1 once read, -1 when the proxy does not speak the extension (a COCOON proxy). */
  int have_account;
  int status_inflight;
  int pay_status_inflight; /* client.updatePaymentStatus sent, not answered */
  struct tl_cocoonx_client_account account;        /* proxy_sc_address from the handshake (a name for the proxy= parameter of /request/...) */
};

struct creq {
  struct client *cl;
  struct cproxy *px;
  struct creq *next, *prev;
  struct http_request *req;
  uint8_t id[32];
  struct loop_timer timer;
  uint64_t started_us;
  int started;   /* HTTP response begun (streaming) */
  int sse;       /* the answer is an event stream */
  int64_t bytes;
  /* What a resend to another proxy needs (q borrows model and query); freed once the answer
   * head arrived, since from then on the request is never sent again. */
  struct tl_client_run_query q;
  char *model;
  uint8_t *query;
  double timeout_s;                         /* the app's whole budget */
  struct cproxy *tried[CLIENT_MAX_ATTEMPTS]; /* proxies this request was sent to, in order */
  int ntried;
};

/* An outstanding /v1/models query; survives the app leaving. */
struct cmodels {
  struct client *cl;
  struct http_request *req; /* NULL once the app went away */
};

struct client {
  struct loop *loop;
  const struct config *cfg;
  struct node node;
  struct http_server *http;
  struct stats stats;
  struct statsweb web;
  struct cproxy *proxies;
  size_t nproxies;
  struct creq *reqs;
  int64_t nreqs, max_reqs;
  int retry_max;     /* retry_other_proxies */
  uint64_t retries;  /* requests sent again to another proxy */
  uint64_t retried_ok; /* of those, finished with a complete answer */
  const char *secret;
  const char *owner;
  struct loop_timer account_timer; /* refreshes each ready proxy's account for /jsonstats */
  struct client_ton *ton;          /* the client's wallet (ton settlement), or NULL */
  struct cton_wait *ton_wait;      /* its operation in flight */
  uint64_t account_ticks;
};

static const struct net_conn_handler px_handler;

/* ---------------------------------------------------------------- HTTP answers */

static const char cors[] =
    "Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
    "Access-Control-Allow-Headers: Content-Type, Authorization\r\n";

static void respond_error(struct http_request *req, int status, const char *msg) {
  const char *type = status == 400 || status == 404 ? "invalid_request_error"
                     : status == 504               ? "timeout_error"
                     : status == 503               ? "service_unavailable"
                                                   : "upstream_error";
  struct buf b;
  buf_init(&b, 1 << 16);
  int rc = buf_append_str(&b, "{\"error\":{\"message\":\"");
  if (!rc) rc = buf_append_json_str(&b, msg, strlen(msg));
  if (!rc) rc = buf_appendf(&b, "\",\"type\":\"%s\",\"param\":null,\"code\":%d}}\n", type, status);
  if (rc)
    http_respond_ex(req, 500, "application/json", cors, "{\"error\":{\"message\":\"internal error\"}}\n", 39);
  else
    http_respond_ex(req, status, "application/json", cors, buf_ptr(&b), b.len);
  buf_free(&b);
}

/* ---------------------------------------------------------------- requests */

static void creq_free(struct creq *r, int ok) {
  struct client *cl = r->cl;
  if (r->prev) r->prev->next = r->next;
  else cl->reqs = r->next;
  if (r->next) r->next->prev = r->prev;
  if (r->px) r->px->running--;
  loop_timer_stop(cl->loop, &r->timer);
  cl->nreqs--;
  cl->stats.active--;
  if (ok) cl->stats.success++;
  else cl->stats.failed++;
  stats_observe_latency(&cl->stats, (double)(util_mono_us() - r->started_us) / 1e6);
  if (ok && r->ntried > 1) cl->retried_ok++;
  free(r->model);
  free(r->query);
  free(r);
}

static void creq_drop_resend(struct creq *r) {
  free(r->model);
  free(r->query);
  r->model = NULL;
  r->query = NULL;
}

/* Ends a request with an error: an HTTP error if nothing was sent yet, else an SSE error event
 * (for event streams) and a cut connection, so the app sees a failure and never a hang. */
static void creq_fail(struct creq *r, int status, const char *msg) {
  char hex[17];
  util_hex(r->id, 8, hex);
  log_info("request_failed", "req=%s status=%d started=%d reason=\"%s\"", hex, status, r->started, msg);
  if (r->req) {
    if (!r->started) {
      respond_error(r->req, status, msg);
    } else {
      if (r->sse) {
        struct buf b;
        buf_init(&b, 1 << 16);
        if (!buf_append_str(&b, "data: {\"error\":{\"message\":\"") && !buf_append_json_str(&b, msg, strlen(msg)) &&
            !buf_appendf(&b, "\",\"type\":\"upstream_error\",\"code\":%d}}\n\n", status) &&
            http_stream_write(r->req, buf_ptr(&b), b.len) != 0)
          log_debug("error_event_lost", "req=%s", hex);
        buf_free(&b);
      }
      http_request_release(r->req);
    }
    r->req = NULL;
  }
  creq_free(r, 0);
}

static void creq_abort_cb(struct http_request *req, void *arg) {
  struct creq *r = arg;
  char hex[17];
  util_hex(r->id, 8, hex);
  log_info("request_abandoned", "req=%s", hex);
  http_request_release(req);
  r->req = NULL;
  creq_free(r, 0);
}

static void creq_timeout_cb(struct loop_timer *t) {
  struct creq *r = t->data;
  creq_fail(r, 504, "request timed out");
}

static struct creq *find_req(struct cproxy *px, const uint8_t id[32]) {
  for (struct creq *r = px->cl->reqs; r; r = r->next)
    if (r->px == px && !memcmp(r->id, id, 32)) return r;
  return NULL;
}

static int creq_tried(const struct creq *r, const struct cproxy *px) {
  for (int i = 0; r && i < r->ntried; i++)
    if (r->tried[i] == px) return 1;
  return 0;
}

/* The least-loaded ready proxy, leaving out those r (may be NULL) was already sent to. */
static struct cproxy *pick_proxy(struct client *cl, const struct creq *r) {
  struct cproxy *best = NULL;
  for (size_t i = 0; i < cl->nproxies; i++) {
    struct cproxy *px = &cl->proxies[i];
    if (px->up.state != UPLINK_READY || creq_tried(r, px)) continue;
    if (!best || px->running < best->running) best = px;
  }
  return best;
}

static void no_proxy(struct client *cl, struct http_request *req) {
  char msg[600] = "no connection to a proxy is ready";
  for (size_t i = 0; i < cl->nproxies; i++)
    if (cl->proxies[i].up.last_error[0]) {
      snprintf(msg, sizeof(msg), "no connection to a proxy is ready (%s:%d: %.200s)", cl->proxies[i].up.host,
               cl->proxies[i].up.port, cl->proxies[i].up.last_error);
      break;
    }
  respond_error(req, 503, msg);
}

/* Sends r's query to px with the given timeout and makes px its proxy. */
static int creq_send(struct creq *r, struct cproxy *px, double timeout_s) {
  if (r->ntried >= CLIENT_MAX_ATTEMPTS) return -1;
  r->q.timeout = timeout_s;
  int rc = rpc_send(px->up.c, px->up.proto > 0 ? TL_ID_CLIENT_RUN_QUERY_EX : TL_ID_CLIENT_RUN_QUERY, &r->q);
  r->tried[r->ntried++] = px; /* even when the send failed: that link is no use to r */
  if (rc) return rc;
  if (r->px) r->px->running--;
  r->px = px;
  px->running++;
  return 0;
}

/* Errors another proxy may not have: the proxy or its worker failed, is busy, timed out or has
 * no worker for the model. 4xx codes other than that last one are the request's own fault. */
static int retryable_code(int32_t code) {
  return code < 400 || code > 499 || code == COCOON_ERR_UNKNOWN_MODEL;
}

/* A failure before any answer byte reached the app: sends r again, same id, to another ready
 * proxy it was not sent to yet, within what is left of its time budget (its timer keeps
 * running). Returns 1 when r lives on there, 0 when the caller must fail it. */
static int creq_retry(struct creq *r, const char *why) {
  struct client *cl = r->cl;
  if (r->started || !r->req || !r->query) return 0;
  char hex[17];
  util_hex(r->id, 8, hex);
  while (r->ntried <= cl->retry_max) {
    double left_ms = r->timeout_s * 1000.0 - (double)(util_mono_us() - r->started_us) / 1000.0;
    if (left_ms < CLIENT_RETRY_MIN_LEFT_MS) return 0;
    struct cproxy *to = pick_proxy(cl, r), *from = r->px;
    if (!to) return 0;
    if (creq_send(r, to, left_ms * 0.95 / 1000.0)) {
      log_warn("request_retry_failed", "req=%s to=%s:%d", hex, to->up.host, to->up.port);
      continue;
    }
    cl->retries++;
    log_info("request_retry", "req=%s from=%s:%d to=%s:%d attempt=%d reason=\"%s\"", hex, from ? from->up.host : "",
             from ? from->up.port : 0, to->up.host, to->up.port, r->ntried, why);
    return 1;
  }
  return 0;
}

static void start_query(struct client *cl, struct http_request *req) {
  cl->stats.requests++;
  size_t blen;
  const uint8_t *body = http_request_body(req, &blen);
  cl->stats.bytes_in += blen;
  struct openai_client_req pr;
  struct err e = {0};
  if (openai_client_prepare(http_request_path(req), body, blen, &pr, &e)) {
    cl->stats.rejected++;
    respond_error(req, 400, e.msg);
    return;
  }
  struct cproxy *px = pick_proxy(cl, NULL);
  if (!px || cl->nreqs >= cl->max_reqs) {
    cl->stats.rejected++;
    openai_client_req_free(&pr);
    if (!px) no_proxy(cl, req);
    else respond_error(req, 503, "client is at its request limit");
    return;
  }
  struct creq *r = calloc(1, sizeof(*r));
  if (!r) {
    openai_client_req_free(&pr);
    respond_error(req, 500, "out of memory");
    return;
  }
  r->cl = cl;
  r->req = req;
  r->started_us = util_mono_us();
  r->timeout_s = pr.timeout_s;
  util_random(r->id, 32);
  const char *path = http_request_path(req);
  char clen[32];
  snprintf(clen, sizeof(clen), "%zu", pr.body_len);
  struct tl_http_header h[2] = {
      {{(const uint8_t *)"Content-Type", 12}, {(const uint8_t *)"application/json", 16}},
      {{(const uint8_t *)"Content-Length", 14}, {(const uint8_t *)clen, strlen(clen)}},
  };
  struct tl_http_request hr = {
      .method = {(const uint8_t *)"POST", 4},
      .url = {(const uint8_t *)path, strlen(path)},
      .http_version = {(const uint8_t *)"HTTP/1.1", 8},
      .headers = h,
      .n_headers = 2,
      .payload = {(const uint8_t *)pr.body, pr.body_len},
  };
  struct buf qb;
  buf_init(&qb, (size_t)16 << 20);
  int rc = rpc_encode(&qb, TL_ID_HTTP_REQUEST, &hr);
  /* Kept until the answer head arrives, so that the request can go to another proxy. */
  size_t mlen = strlen(pr.model);
  if (!rc) {
    r->model = malloc(mlen + 1);
    r->query = malloc(qb.len ? qb.len : 1);
    if (!r->model || !r->query) rc = -1;
  }
  if (!rc) {
    memcpy(r->model, pr.model, mlen + 1);
    memcpy(r->query, buf_ptr(&qb), qb.len);
    r->q.model_name.p = (const uint8_t *)r->model;
    r->q.model_name.n = mlen;
    r->q.query.p = r->query;
    r->q.query.n = qb.len;
    r->q.max_coefficient = (int32_t)pr.max_coefficient;
    r->q.max_tokens = pr.max_tokens;
    memcpy(r->q.request_id, r->id, 32);
    r->q.min_config_version = 0;
    r->q.flags = pr.enable_debug ? TL_RUN_QUERY_F_DEBUG : 0;
    r->q.enable_debug = pr.enable_debug;
    rc = creq_send(r, px, pr.timeout_s * 0.95);
  }
  buf_free(&qb);
  openai_client_req_free(&pr);
  if (rc) {
    free(r->model);
    free(r->query);
    free(r);
    respond_error(req, 502, "cannot send the request to the proxy");
    return;
  }
  r->next = cl->reqs;
  if (cl->reqs) cl->reqs->prev = r;
  cl->reqs = r;
  cl->nreqs++;
  cl->stats.active++;
  loop_timer_init(&r->timer, creq_timeout_cb, r);
  loop_timer_start(cl->loop, &r->timer, (uint64_t)(r->timeout_s * 1000));
  http_request_set_abort_cb(req, creq_abort_cb, r);
  char hex[17];
  util_hex(r->id, 8, hex);
  log_debug("request_sent", "req=%s proxy=%s:%d", hex, px->up.host, px->up.port);
}

/* First answer: the worker's http.response with status, headers and the first body bytes. */
/* Returns 0, or -1 when it failed the request (r is freed then). */
static int on_first(struct creq *r, const struct tl_query_answer_ex *a, int final) {
  /* The worker ran it: from here on the request is never sent again. */
  creq_drop_resend(r);
  struct tl_http_response hr;
  if (tl_http_response_decode(a->answer.p, a->answer.n, &hr)) {
    creq_fail(r, 502, "malformed answer from the worker");
    return -1;
  }
  int status = hr.status_code;
  if (status < 100 || status > 599) status = 502;
  char ctype[128] = "application/json";
  char extra[1024];
  /* The request's id as the proxy's ledger records it: the app's receipt for what it paid. */
  char rid[65];
  util_hex(r->id, 32, rid);
  size_t el = (size_t)snprintf(extra, sizeof(extra), "%sX-Cocoon-Request-Id: %s\r\n", cors, rid);
  for (uint32_t i = 0; i < hr.n_headers; i++) {
    const struct tl_http_header *h = &hr.headers[i];
    int safe = h->value.n < 100;
    for (size_t k = 0; safe && k < h->value.n; k++) safe = h->value.p[k] >= 0x20 && h->value.p[k] < 0x7f;
    if (!safe) continue;
    if (h->name.n == 12 && !strncasecmp((const char *)h->name.p, "content-type", 12)) {
      snprintf(ctype, sizeof(ctype), "%.*s", (int)h->value.n, (const char *)h->value.p);
    } else if ((h->name.n == 21 && !strncasecmp((const char *)h->name.p, "x-cocoon-worker-start", 21)) ||
               (h->name.n == 19 && !strncasecmp((const char *)h->name.p, "x-cocoon-worker-end", 19))) {
      if (el + h->name.n + h->value.n + 4 < sizeof(extra))
        el += (size_t)snprintf(extra + el, sizeof(extra) - el, "%.*s: %.*s\r\n", (int)h->name.n,
                               (const char *)h->name.p, (int)h->value.n, (const char *)h->value.p);
    }
  }
  r->sse = strstr(ctype, "event-stream") != NULL;
  r->bytes += (int64_t)hr.payload.n;
  r->cl->stats.bytes_out += hr.payload.n;
  if (final) {
    http_respond_ex(r->req, status, ctype, extra, hr.payload.p, hr.payload.n);
    r->req = NULL;
  } else {
    int rc = http_stream_begin(r->req, status, ctype, extra);
    if (!rc && hr.payload.n) rc = http_stream_write(r->req, hr.payload.p, hr.payload.n);
    r->started = 1;
    if (rc) {
      tl_http_response_clear(&hr);
      creq_fail(r, 502, "cannot stream the answer to the app");
      return -1;
    }
  }
  tl_http_response_clear(&hr);
  return 0;
}

static void on_answer(struct cproxy *px, uint32_t id, const uint8_t *data, size_t len) {
  struct client *cl = px->cl;
  if (id == TL_ID_CLIENT_QUERY_ANSWER_ERROR || id == TL_ID_CLIENT_QUERY_ANSWER_PART_ERROR) {
    /* COCOON's proxy sends its own failures in the plain forms even on protocol 1+. */
    struct tl_query_answer_error e;
    int rc = id == TL_ID_CLIENT_QUERY_ANSWER_ERROR ? tl_client_query_answer_error_decode(data, len, &e)
                                                   : tl_client_query_answer_part_error_decode(data, len, &e);
    if (rc) {
      net_conn_close(px->up.c, "malformed queryAnswerError");
      return;
    }
    struct creq *r = find_req(px, e.request_id);
    if (!r) return;
    char msg[600];
    snprintf(msg, sizeof(msg), "%.*s", (int)CC_MIN(e.error.n, 500), (const char *)e.error.p);
    if (!retryable_code(e.error_code) || !creq_retry(r, msg)) creq_fail(r, cocoon_err_http_status(e.error_code), msg);
    return;
  }
  if (id == TL_ID_CLIENT_QUERY_ANSWER_ERROR_EX) {
    struct tl_query_answer_error_ex e;
    if (tl_client_query_answer_error_ex_decode(data, len, &e)) {
      net_conn_close(px->up.c, "malformed queryAnswerErrorEx");
      return;
    }
    struct creq *r = find_req(px, e.request_id);
    if (!r) return;
    char msg[600];
    snprintf(msg, sizeof(msg), "%.*s", (int)CC_MIN(e.error.n, 500), (const char *)e.error.p);
    if (!retryable_code(e.error_code) || !creq_retry(r, msg)) creq_fail(r, cocoon_err_http_status(e.error_code), msg);
    return;
  }
  struct tl_query_answer_ex a;
  int rc = id == TL_ID_CLIENT_QUERY_ANSWER_EX ? tl_client_query_answer_ex_decode(data, len, &a)
                                              : tl_client_query_answer_part_ex_decode(data, len, &a);
  if (rc) {
    net_conn_close(px->up.c, "malformed answer");
    return;
  }
  struct creq *r = find_req(px, a.request_id);
  if (!r) return; /* timed out or abandoned */
  int final = (a.flags & TL_ANSWER_EX_F_FINAL) != 0;
  if (id == TL_ID_CLIENT_QUERY_ANSWER_EX) {
    if (r->started) {
      creq_fail(r, 502, "proxy sent a second answer head");
      return;
    }
    if (on_first(r, &a, final)) return;
  } else {
    if (!r->started) {
      creq_fail(r, 502, "proxy sent an answer part before the answer head");
      return;
    }
    r->bytes += (int64_t)a.answer.n;
    cl->stats.bytes_out += a.answer.n;
    if (a.answer.n && http_stream_write(r->req, a.answer.p, a.answer.n)) {
      creq_fail(r, 502, "cannot stream the answer to the app");
      return;
    }
    if (final) {
      http_stream_end(r->req);
      r->req = NULL;
    }
  }
  if (final) {
    const struct tl_tokens_used *t = &a.final_info.tokens_used;
    if (t->prompt_tokens_used > 0) cl->stats.tokens_prompt += (uint64_t)t->prompt_tokens_used;
    if (t->cached_tokens_used > 0) cl->stats.tokens_cached += (uint64_t)t->cached_tokens_used;
    if (t->completion_tokens_used > 0) cl->stats.tokens_completion += (uint64_t)t->completion_tokens_used;
    if (t->reasoning_tokens_used > 0) cl->stats.tokens_reasoning += (uint64_t)t->reasoning_tokens_used;
    char hex[17];
    util_hex(r->id, 8, hex);
    log_info("request_done", "req=%s bytes=%" PRId64 " ms=%.1f prompt=%" PRId64 " completion=%" PRId64, hex,
             r->bytes, (double)(util_mono_us() - r->started_us) / 1000.0, t->prompt_tokens_used,
             t->completion_tokens_used);
    creq_free(r, 1);
  }
}

/* ---------------------------------------------------------------- /v1/models */

static void models_abort_cb(struct http_request *req, void *arg) {
  struct cmodels *m = arg;
  http_request_release(req);
  m->req = NULL;
}

static void models_cb(struct net_conn *c, void *arg, const struct net_answer *a) {
  struct cmodels *m = arg;
  struct http_request *req = m->req;
  free(m);
  if (!req) return;
  http_request_set_abort_cb(req, NULL, NULL);
  if (a->kind != NET_ANSWER_OK) {
    respond_error(req, a->kind == NET_ANSWER_TIMEOUT ? 504 : 502,
                  a->kind == NET_ANSWER_ERROR ? a->message : "proxy did not answer the model list query");
    return;
  }
  struct tl_client_worker_types_v2 t;
  if (tl_client_worker_types_v2_decode(a->data, a->len, &t)) {
    respond_error(req, 502, "malformed model list from the proxy");
    return;
  }
  struct buf b;
  buf_init(&b, (size_t)4 << 20);
  int rc = buf_append_str(&b, "{\"object\":\"list\",\"data\":[");
  for (uint32_t i = 0; i < t.n_types && !rc; i++) {
    rc = buf_appendf(&b, "%s{\"id\":\"", i ? "," : "");
    if (!rc) rc = buf_append_json_str(&b, (const char *)t.types[i].name.p, t.types[i].name.n);
    if (!rc) rc = buf_append_str(&b, "\",\"object\":\"model\",\"created\":0,\"owned_by\":\"cocoon\",\"workers\":[");
    for (uint32_t k = 0; k < t.types[i].n_workers && !rc; k++) {
      const struct tl_client_worker_instance_v2 *w = &t.types[i].workers[k];
      rc = buf_appendf(&b, "%s{\"coefficient\":%d,\"running_requests\":%d,\"max_running_requests\":%d}",
                       k ? "," : "", w->coefficient, w->active_requests, w->max_active_requests);
    }
    if (!rc) rc = buf_append_str(&b, "]}");
  }
  if (!rc) rc = buf_append_str(&b, "]}\n");
  tl_client_worker_types_v2_clear(&t);
  if (rc) respond_error(req, 500, "cannot build the model list");
  else http_respond_ex(req, 200, "application/json", cors, buf_ptr(&b), b.len);
  buf_free(&b);
}

static void list_models(struct client *cl, struct http_request *req) {
  struct cproxy *px = pick_proxy(cl, NULL);
  if (!px) {
    no_proxy(cl, req);
    return;
  }
  struct cmodels *m = calloc(1, sizeof(*m));
  if (!m) {
    respond_error(req, 500, "out of memory");
    return;
  }
  m->cl = cl;
  m->req = req;
  http_request_set_abort_cb(req, models_abort_cb, m);
  uint32_t id = px->up.proto > 0 ? TL_ID_CLIENT_GET_WORKER_TYPES_V2 : TL_ID_CLIENT_GET_WORKER_TYPES;
  if (rpc_query(px->up.c, id, NULL, CLIENT_MODELS_TIMEOUT_MS, models_cb, m)) {
    http_request_set_abort_cb(req, NULL, NULL);
    free(m);
    respond_error(req, 502, "cannot query the proxy");
  }
}

/* ---------------------------------------------------------------- account operations */

#define CLIENT_SETTLE_TIMEOUT_MS 30000u
#define CLIENT_ACCOUNT_REFRESH_MS 2000u

static void proxy_fail(struct cproxy *px, const char *why);
static const char *const settle_ops[] = {"status", "topup", "withdraw", "charge", "close"};

/* An outstanding /request/... call; survives the app leaving. */
struct csettle {
  struct cproxy *px;
  struct http_request *req; /* NULL once the app went away */
  int op;
};

static void settle_abort_cb(struct http_request *req, void *arg) {
  struct csettle *m = arg;
  http_request_release(req);
  m->req = NULL;
}

static const char *state_name(int32_t st) { return st == 0 ? "running" : st == 1 ? "closing" : st == 2 ? "closed" : "unknown"; }

static int account_json(struct buf *b, const struct cproxy *px) {
  const struct tl_cocoonx_client_account *a = &px->account;
  return buf_appendf(b,
                     "{\"state\":\"%s\",\"balance\":%" PRId64 ",\"stake\":%" PRId64 ",\"reserved\":%" PRId64
                     ",\"tokens_used\":%" PRId64 ",\"charged_tokens\":%" PRId64 ",\"signed_total\":%" PRId64
                     ",\"db_tokens\":%" PRId64 ",\"unlock_at_ms\":%" PRId64 "}",
                     state_name(a->state), a->balance, a->stake, a->reserved, a->tokens_used, a->tokens_charged,
                     px->charge.tokens, a->db_tokens, a->unlock_at);
}

/* The answer carries the latest signed charge too: keep it like any other (verified). */
static int account_take(struct cproxy *px, struct net_conn *c, const struct tl_cocoonx_client_account *a) {
  struct err e = {0};
  if (payments_accept(&px->charge, &a->signed_payment, TON_OP_CLIENT_CHARGE_SIGNED, px->cl->owner, px->charge.proxy_key,
                      &e)) {
    log_warn("payment_refused", "proxy=%s:%d reason=\"%s\"", px->up.host, px->up.port, e.msg);
    proxy_fail(px, e.msg);
    return -1;
  }
  px->account = *a;
  px->account.signed_payment.data.p = NULL; /* borrowed from the answer: not kept */
  px->account.signed_payment.data.n = 0;
  px->have_account = 1;
  return 0;
}

static void settle_cb(struct net_conn *c, void *arg, const struct net_answer *a) {
  struct csettle *m = arg;
  struct http_request *req = m->req;
  struct cproxy *px = m->px;
  int op = m->op;
  free(m);
  if (op == 0) px->status_inflight = 0;
  struct tl_cocoonx_client_account acc;
  int ok = a->kind == NET_ANSWER_OK && tl_cocoonx_client_account_decode(a->data, a->len, &acc) == 0;
  if (ok && account_take(px, c, &acc)) ok = 0;
  if (op == 0 && !req) {
    if (a->kind == NET_ANSWER_ERROR && !px->have_account && strstr(a->message, "unknown query")) px->have_account = -1;
    return;
  }
  if (!req) return;
  http_request_set_abort_cb(req, NULL, NULL);
  if (!ok) {
    const char *msg = a->kind == NET_ANSWER_ERROR ? a->message
                      : a->kind == NET_ANSWER_OK  ? "malformed or refused account answer from the proxy"
                                                  : "proxy did not answer the account operation";
    int status = a->kind == NET_ANSWER_TIMEOUT ? 504 : a->kind == NET_ANSWER_ERROR ? 409 : 502;
    struct buf b;
    buf_init(&b, 1 << 16);
    int rc = buf_appendf(&b, "{\"ok\":false,\"op\":\"%s\",\"proxy\":\"%s:%d\",\"error\":\"", settle_ops[op], px->up.host,
                         px->up.port);
    if (!rc) rc = buf_append_json_str(&b, msg, strlen(msg));
    if (!rc) rc = buf_append_str(&b, "\"}\n");
    if (rc) respond_error(req, 500, "cannot build the answer");
    else http_respond_ex(req, status, "application/json", cors, buf_ptr(&b), b.len);
    buf_free(&b);
    return;
  }
  struct buf b;
  buf_init(&b, 1 << 16);
  int rc = buf_appendf(&b, "{\"ok\":true,\"op\":\"%s\",\"proxy\":\"%s:%d\",\"moved\":%" PRId64 ",\"account\":",
                       settle_ops[op], px->up.host, px->up.port, acc.moved);
  if (!rc) rc = account_json(&b, px);
  if (!rc) rc = buf_append_str(&b, "}\n");
  if (rc) respond_error(req, 500, "cannot build the answer");
  else http_respond_ex(req, 200, "application/json", cors, buf_ptr(&b), b.len);
  buf_free(&b);
}

static int settle_send(struct cproxy *px, int op, int64_t amount, struct http_request *req) {
  struct csettle *m = calloc(1, sizeof(*m));
  if (!m) return ERR_NOMEM;
  m->px = px;
  m->req = req;
  m->op = op;
  struct tl_cocoonx_client_settle q;
  memset(&q, 0, sizeof(q));
  q.op = op;
  q.amount = amount;
  q.signed_payment.id = TL_ID_PROXY_SIGNED_PAYMENT_EMPTY;
  if (op == 3 && px->charge.boc.len) {
    /* COCOON submits the latest signed charge it holds; so do we. */
    q.signed_payment.id = TL_ID_PROXY_SIGNED_PAYMENT;
    q.signed_payment.data.p = buf_ptr(&px->charge.boc);
    q.signed_payment.data.n = px->charge.boc.len;
  }
  if (req) http_request_set_abort_cb(req, settle_abort_cb, m);
  if (rpc_query(px->up.c, TL_ID_COCOONX_CLIENT_SETTLE, &q, CLIENT_SETTLE_TIMEOUT_MS, settle_cb, m)) {
    if (req) http_request_set_abort_cb(req, NULL, NULL);
    free(m);
    return ERR_IO;
  }
  if (op == 0) px->status_inflight = 1;
  return 0;
}

/* A /request/topup|withdraw|close sent by the client's own wallet to its client contract. */
struct cton_wait {
  struct client *cl;
  struct http_request *req; /* NULL once the app went away */
  int op;
};

static void ton_abort_cb(struct http_request *req, void *arg) {
  struct cton_wait *w = arg;
  http_request_release(req);
  w->req = NULL;
}

static void wallet_done_cb(void *arg, int rc, const char *error, const struct client_ton_contract *c) {
  struct cton_wait *w = arg;
  struct http_request *req = w->req;
  w->cl->ton_wait = NULL;
  int op = w->op;
  free(w);
  if (!req) return;
  http_request_set_abort_cb(req, NULL, NULL);
  struct buf b;
  buf_init(&b, 1 << 14);
  int brc;
  if (rc) {
    brc = buf_appendf(&b, "{\"ok\":false,\"op\":\"%s\",\"via\":\"wallet\",\"error\":\"", settle_ops[op]);
    if (!brc) brc = buf_append_json_str(&b, error ? error : "failed", strlen(error ? error : "failed"));
    if (!brc) brc = buf_append_str(&b, "\"}\n");
  } else {
    brc = buf_appendf(&b,
                      "{\"ok\":true,\"op\":\"%s\",\"via\":\"wallet\",\"contract\":{\"state\":\"%s\",\"balance\":%" PRId64
                      ",\"stake\":%" PRId64 ",\"tokens_used\":%" PRId64 ",\"unlock_ts\":%" PRId64 "}}\n",
                      settle_ops[op], state_name(c->state), c->balance, c->stake, c->tokens_used, c->unlock_ts);
  }
  if (brc) respond_error(req, 500, "cannot build the answer");
  else http_respond_ex(req, rc ? (rc == ERR_REFUSED ? 409 : 502) : 200, "application/json", cors, buf_ptr(&b), b.len);
  buf_free(&b);
}

static void wallet_request(struct client *cl, struct http_request *req, int op, int64_t amount) {
  struct cton_wait *w = calloc(1, sizeof(*w));
  struct err e = {0};
  if (!w) {
    respond_error(req, 500, "out of memory");
    return;
  }
  *w = (struct cton_wait){.cl = cl, .req = req, .op = op};
  enum client_ton_op top = op == 1 ? CLIENT_TON_TOPUP : op == 2 ? CLIENT_TON_WITHDRAW : CLIENT_TON_CLOSE;
  if (client_ton_op(cl->ton, top, amount, wallet_done_cb, w, &e)) {
    free(w);
    respond_error(req, e.code == ERR_AGAIN ? 409 : 400, e.msg);
    return;
  }
  cl->ton_wait = w;
  http_request_set_abort_cb(req, ton_abort_cb, w);
}

/* GET /request/{topup,withdraw,charge,close,status}?proxy=<proxy address or host:port>[&amount=N] */
static void account_request(struct client *cl, struct http_request *req, const char *what) {
  int op = -1;
  for (int i = 0; i < (int)CC_ARRAY_LEN(settle_ops); i++)
    if (!strcmp(what, settle_ops[i])) op = i;
  if (op < 0) {
    respond_error(req, 404, "unknown operation: use /request/topup, withdraw, charge, close or status");
    return;
  }
  char name[160];
  int n = http_request_query_param(req, "proxy", name, sizeof(name));
  if (n < 0 && !(n == ERR_NOTFOUND && cl->nproxies == 1)) {
    respond_error(req, 400, "proxy= names the proxy (its address from /jsonstats or host:port)");
    return;
  }
  struct cproxy *px = NULL;
  for (size_t i = 0; i < cl->nproxies && !px; i++) {
    struct cproxy *c = &cl->proxies[i];
    char hp[300];
    snprintf(hp, sizeof(hp), "%s:%d", c->up.host, c->up.port);
    if (n < 0 || !strcmp(name, hp) || (c->sc_address[0] && !strcmp(name, c->sc_address))) px = c;
  }
  if (!px) {
    respond_error(req, 404, "no such proxy among this client's proxies");
    return;
  }
  int64_t amount = 0;
  char num[32];
  int an = http_request_query_param(req, "amount", num, sizeof(num));
  if (an >= 0) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(num, &end, 10);
    if (an == 0 || errno || !end || *end || v <= 0) {
      respond_error(req, 400, "amount must be a positive number of nano-TON");
      return;
    }
    amount = v;
  } else if (an != ERR_NOTFOUND) {
    respond_error(req, 400, "amount is too long");
    return;
  }
  if (op != 1 && an >= 0) {
    respond_error(req, 400, "amount applies to topup only (withdraw and close move what the rules allow)");
    return;
  }
  if (cl->ton && (op == 1 || op == 2 || op == 4)) {
    wallet_request(cl, req, op, amount);
    return;
  }
  if (px->up.state != UPLINK_READY || !px->up.c) {
    respond_error(req, 503, "the proxy is not connected");
    return;
  }
  if (settle_send(px, op, amount, req)) respond_error(req, 502, "cannot send the operation to the proxy");
}

/* COCOON's client polls client.updatePaymentStatus every 10-20 s; a proxy below what we hold is
 * dropped. */
#define CLIENT_PAYMENT_STATUS_TICKS 7 /* x CLIENT_ACCOUNT_REFRESH_MS = 14 s */

static void pay_status_cb(struct net_conn *c, void *arg, const struct net_answer *a) {
  struct cproxy *px = arg;
  px->pay_status_inflight = 0;
  struct tl_payment_status s;
  if (a->kind != NET_ANSWER_OK || tl_client_payment_status_decode(a->data, a->len, &s)) return;
  struct err e = {0};
  if (payments_check_status(&px->charge, &s.signed_payment, s.db_tokens, TON_OP_CLIENT_CHARGE_SIGNED, px->cl->owner,
                            px->charge.proxy_key, &e)) {
    log_error("proxy_behind", "proxy=%s:%d reason=\"%s\"", px->up.host, px->up.port, e.msg);
    proxy_fail(px, e.msg);
    return;
  }
  if (s.db_tokens > px->db_tokens) px->db_tokens = s.db_tokens;
}

static void account_timer_cb(struct loop_timer *t) {
  struct client *cl = t->data;
  loop_timer_start(cl->loop, &cl->account_timer, CLIENT_ACCOUNT_REFRESH_MS);
  if (++cl->account_ticks % CLIENT_PAYMENT_STATUS_TICKS == 0) {
    for (size_t i = 0; i < cl->nproxies; i++) {
      struct cproxy *px = &cl->proxies[i];
      if (px->up.state != UPLINK_READY || !px->up.c || px->pay_status_inflight) continue;
      if (rpc_query(px->up.c, TL_ID_CLIENT_UPDATE_PAYMENT_STATUS, NULL, CLIENT_SETTLE_TIMEOUT_MS, pay_status_cb, px) == 0)
        px->pay_status_inflight = 1;
    }
  }
  for (size_t i = 0; i < cl->nproxies; i++) {
    struct cproxy *px = &cl->proxies[i];
    if (px->up.state == UPLINK_READY && px->up.c && px->have_account >= 0 && !px->status_inflight)
      (void)settle_send(px, 0, 0, NULL);
  }
}

/* ---------------------------------------------------------------- HTTP entry */

static void http_cb(struct http_request *req, void *arg) {
  struct client *cl = arg;
  const char *method = http_request_method(req);
  const char *path = http_request_path(req);
  if (!strcmp(method, "OPTIONS")) {
    http_respond_ex(req, 200, "text/html", cors, "<http><body>OK</body></http>", 28);
    return;
  }
  if (statsweb_handle(&cl->web, req)) return;
  if (!strcmp(path, "/v1/models")) {
    list_models(cl, req);
    return;
  }
  if (!strncmp(path, "/request/", 9)) {
    account_request(cl, req, path + 9);
    return;
  }
  if (!strcmp(path, "/v1/chat/completions") || !strcmp(path, "/v1/completions")) {
    if (strcmp(method, "POST") != 0) {
      respond_error(req, 405, "use POST for this endpoint");
      return;
    }
    start_query(cl, req);
    return;
  }
  char msg[CLIENT_MAX_PATH + 64];
  snprintf(msg, sizeof(msg), "unknown endpoint %.*s", CLIENT_MAX_PATH, path);
  respond_error(req, 404, msg);
}

/* ---------------------------------------------------------------- proxy links */

static void proxy_fail(struct cproxy *px, const char *why) { uplink_fail(&px->up, why); }

static void auth_cb(struct net_conn *c, void *arg, const struct net_answer *a) {
  struct cproxy *px = arg;
  uint32_t id = 0;
  if (a->kind != NET_ANSWER_OK || tl_peek_id(a->data, a->len, &id)) {
    if (a->kind != NET_ANSWER_CLOSED) proxy_fail(px, a->kind == NET_ANSWER_ERROR ? a->message : "no authorization answer");
    return;
  }
  if (id == TL_ID_CLIENT_AUTHORIZATION_WITH_PROXY_FAILED) {
    struct tl_client_authorization_with_proxy_failed f;
    char msg[300] = "authorization failed";
    if (!tl_client_authorization_with_proxy_failed_decode(a->data, a->len, &f))
      snprintf(msg, sizeof(msg), "authorization failed: %.*s", (int)CC_MIN(f.error.n, 200), (const char *)f.error.p);
    log_warn("proxy_auth_failed", "proxy=%s:%d reason=\"%s\"", px->up.host, px->up.port, msg);
    proxy_fail(px, msg);
    return;
  }
  struct tl_client_authorization_with_proxy_success s;
  if (tl_client_authorization_with_proxy_success_decode(a->data, a->len, &s)) {
    proxy_fail(px, "malformed authorization answer");
    return;
  }
  /* COCOON's client checks the proxy's signed charge and committed total against what it holds. */
  struct err e = {0};
  if (payments_check_status(&px->charge, &s.signed_payment, s.tokens_committed_to_db, TON_OP_CLIENT_CHARGE_SIGNED,
                            px->cl->owner, px->charge.proxy_key, &e)) {
    log_error("proxy_behind", "proxy=%s:%d reason=\"%s\"", px->up.host, px->up.port, e.msg);
    proxy_fail(px, e.msg);
    return;
  }
  px->db_tokens = s.tokens_committed_to_db;
  uplink_ready(&px->up);
  if (px->have_account >= 0 && !px->status_inflight) (void)settle_send(px, 0, 0, NULL);
  px->cl->stats.conns_opened++;
  px->cl->stats.conns_active++;
  log_info("proxy_ready", "proxy=%s:%d proto=%d", px->up.host, px->up.port, px->up.proto);
}

static void connected_cb(struct net_conn *c, void *arg, const struct net_answer *a) {
  struct cproxy *px = arg;
  struct client *cl = px->cl;
  struct tl_client_connected_to_proxy res;
  if (a->kind != NET_ANSWER_OK || tl_client_connected_to_proxy_decode(a->data, a->len, &res)) {
    if (a->kind == NET_ANSWER_ERROR) log_warn("proxy_refused", "proxy=%s:%d reason=\"%s\"", px->up.host, px->up.port, a->message);
    if (a->kind != NET_ANSWER_CLOSED) proxy_fail(px, a->kind == NET_ANSWER_ERROR ? a->message : "bad connect answer");
    return;
  }
  if (!(res.params.flags & TL_PROXY_PARAMS_F_IS_TEST)) {
    proxy_fail(px, "too old proxy");
    return;
  }
  if (!!res.params.is_test != !!cl->node.is_test) {
    proxy_fail(px, "test mode mismatch");
    return;
  }
  /* The proxy's signing key is proxy_public_key, not the TLS key: a COCOON proxy sits behind its
   * router, which terminates TLS with a certificate of its own (docs/interop.md, check 2). The
   * attested endpoint vouches for the key; payments are verified against it from here on. */
  (void)uplink_set_proxy_key(&px->up, res.params.proxy_public_key, net_conn_peer_key(c));
  px->up.proto = (res.params.flags & TL_PROXY_PARAMS_F_PROTO) ? res.params.proto_version : 0;
  if (res.auth.id != TL_ID_CLIENT_PROXY_CONNECTION_AUTH_SHORT) {
    proxy_fail(px, "proxy asks for on-chain registration (long authorization), which needs TON settlement");
    return;
  }
  uint8_t h[32];
  SHA256((const uint8_t *)cl->secret, strlen(cl->secret), h);
  if (!util_ct_eq(h, res.auth.secret_hash, 32)) {
    proxy_fail(px, "our secret does not match the proxy's secret hash (check the client's secret and the "
                   "proxy's client_secret)");
    return;
  }
  struct err e = {0};
  if (payments_held_set_contract(&px->charge, res.client_sc_address.p, res.client_sc_address.n, &e))
    log_warn("contract_address_ignored", "proxy=%s:%d reason=\"%s\"", px->up.host, px->up.port, e.msg);
  e = (struct err){0};
  if (payments_held_bind(&px->charge, cl->node.key_dir, res.params.proxy_public_key, TON_OP_CLIENT_CHARGE_SIGNED, cl->owner,
                         &e))
    log_error("payment_load_failed", "proxy=%s:%d error=\"%s\"", px->up.host, px->up.port, e.msg);
  snprintf(px->sc_address, sizeof(px->sc_address), "%.*s", (int)CC_MIN(res.params.proxy_sc_address.n, sizeof(px->sc_address) - 1),
           (const char *)res.params.proxy_sc_address.p);
  struct tl_client_authorize_with_proxy_short q = {.data = {(const uint8_t *)cl->secret, strlen(cl->secret)}};
  if (rpc_query(c, TL_ID_CLIENT_AUTHORIZE_WITH_PROXY_SHORT, &q, CLIENT_HANDSHAKE_TIMEOUT_MS, auth_cb, px))
    proxy_fail(px, "cannot send authorization");
}

static void px_ready_cb(struct net_conn *c) {
  struct cproxy *px = net_conn_user(c);
  struct client *cl = px->cl;
  uplink_handshake(&px->up);
  struct tl_client_connect_to_proxy q;
  memset(&q, 0, sizeof(q));
  q.params.flags = TL_CLIENT_PARAMS_F_IS_TEST | TL_CLIENT_PARAMS_F_PROTO;
  q.params.client_owner_address.p = (const uint8_t *)cl->owner;
  q.params.client_owner_address.n = strlen(cl->owner);
  q.params.is_test = cl->node.is_test;
  q.params.min_proto_version = 1;
  q.params.max_proto_version = 2;
  q.min_config_version = 0;
  if (rpc_query(c, TL_ID_CLIENT_CONNECT_TO_PROXY, &q, CLIENT_HANDSHAKE_TIMEOUT_MS, connected_cb, px))
    proxy_fail(px, "cannot send handshake");
}

static void px_packet_cb(struct net_conn *c, const uint8_t *data, size_t len) {
  struct cproxy *px = net_conn_user(c);
  uint32_t id;
  if (tl_peek_id(data, len, &id)) {
    proxy_fail(px, "packet too short");
    return;
  }
  switch (id) {
  case TL_ID_CLIENT_QUERY_ANSWER_EX:
  case TL_ID_CLIENT_QUERY_ANSWER_PART_EX:
  case TL_ID_CLIENT_QUERY_ANSWER_ERROR_EX:
  case TL_ID_CLIENT_QUERY_ANSWER_ERROR:
  case TL_ID_CLIENT_QUERY_ANSWER_PART_ERROR: on_answer(px, id, data, len); break;
  case TL_ID_PROXY_CLIENT_REQUEST_PAYMENT: {
    struct tl_request_payment m;
    struct err e = {0};
    if (tl_proxy_client_request_payment_decode(data, len, &m)) {
      proxy_fail(px, "malformed clientRequestPayment");
      return;
    }
    if (payments_accept(&px->charge, &m.signed_payment, TON_OP_CLIENT_CHARGE_SIGNED, px->cl->owner,
                        px->charge.proxy_key, &e)) {
      log_warn("payment_refused", "proxy=%s:%d reason=\"%s\"", px->up.host, px->up.port, e.msg);
      proxy_fail(px, e.msg);
    } else if (m.db_tokens > px->db_tokens) {
      px->db_tokens = m.db_tokens;
    }
    break;
  }
  default: log_warn("unknown_packet", "proxy=%s:%d id=%08x", px->up.host, px->up.port, id); break;
  }
}

static void px_close_cb(struct net_conn *c, int code, const char *reason) {
  struct cproxy *px = net_conn_user(c);
  struct client *cl = px->cl;
  if (px->up.state == UPLINK_READY) {
    cl->stats.conns_closed++;
    cl->stats.conns_active--;
  }
  px->up.c = NULL;
  px->up.state = UPLINK_IDLE;
  for (struct creq *r = cl->reqs, *n; r; r = n) {
    n = r->next;
    if (r->px == px && !creq_retry(r, "connection to the proxy was lost"))
      creq_fail(r, 502, "connection to the proxy was lost");
  }
  uplink_closed(&px->up, reason);
}

static const struct net_conn_handler px_handler = {
    .ready_cb = px_ready_cb,
    .packet_cb = px_packet_cb,
    .close_cb = px_close_cb,
};

/* ---------------------------------------------------------------- stats */

static int json_extra(void *arg, struct buf *out) {
  struct client *cl = arg;
  int rc = buf_appendf(out, ",\"retry\":{\"max_other_proxies\":%d,\"retries\":%" PRIu64 ",\"retried_ok\":%" PRIu64 "}",
                       cl->retry_max, cl->retries, cl->retried_ok);
  if (!rc && cl->ton) {
    struct client_ton_stats ts;
    client_ton_get_stats(cl->ton, &ts);
    rc = buf_appendf(out,
                     ",\"ton\":{\"wallet\":\"%s\",\"wallet_balance\":%" PRId64 ",\"contract_balance\":%" PRId64
                     ",\"contract_stake\":%" PRId64 ",\"auto_topups\":%" PRId64 ",\"auto_topped_up\":%" PRId64
                     ",\"auto_failed\":%" PRId64 ",\"last_error\":\"",
                     client_ton_wallet(cl->ton), ts.wallet_balance, ts.contract_balance, ts.contract_stake,
                     ts.auto_topups, ts.auto_topped_up, ts.auto_failed);
    if (!rc) rc = buf_append_json_str(out, ts.last_error, strlen(ts.last_error));
    if (!rc) rc = buf_append_str(out, "\"}");
  }
  if (!rc) rc = buf_append_str(out, ",\"proxies\":[");
  for (size_t i = 0; i < cl->nproxies && !rc; i++) {
    struct cproxy *px = &cl->proxies[i];
    char key[65] = "";
    if (px->up.c && px->up.state == UPLINK_READY) util_hex(net_conn_peer_key(px->up.c), 32, key);
    rc = buf_appendf(out,
                     "%s{\"address\":\"%s:%d\",\"state\":\"%s\",\"proto\":%d,\"running\":%" PRId64
                     ",\"connects\":%" PRIu64 ",\"peer_key\":\"%s\",\"policy\":\"%s\",\"last_error\":\"",
                     i ? "," : "", px->up.host, px->up.port, uplink_state_name(px->up.state), px->up.proto, px->running, px->up.connects, key,
                     px->up.c && px->up.state == UPLINK_READY ? net_conn_peer(px->up.c)->policy_name : "");
    if (!rc) rc = buf_append_json_str(out, px->up.last_error, strlen(px->up.last_error));
    if (!rc)
      rc = buf_appendf(out, "\",\"proxy_address\":\"%s\",\"signed_charge_tokens\":%" PRId64 ",\"signed_payments\":%" PRIu64
                            ",\"payment_saves\":%" PRIu64 ",\"payment_save_failures\":%" PRIu64 ",\"account\":",
                       px->sc_address, px->charge.tokens, px->charge.received, px->charge.saves, px->charge.save_failures);
    if (!rc) rc = px->have_account > 0 ? account_json(out, px) : buf_append_str(out, "null");
    if (!rc && px->up.c && px->up.state == UPLINK_READY) rc = node_peer_json(net_conn_peer(px->up.c), out);
    if (!rc) rc = buf_append_str(out, "}");
  }
  if (!rc) rc = buf_append_str(out, "]");
  return rc;
}

static int metrics_extra(void *arg, struct buf *out) {
  struct client *cl = arg;
  return buf_appendf(out,
                     "# HELP cocoon_client_retries_total Requests sent again to another proxy after a failure "
                     "before their first answer byte\n# TYPE cocoon_client_retries_total counter\n"
                     "cocoon_client_retries_total{role=\"client\"} %" PRIu64 "\n"
                     "# HELP cocoon_client_retried_ok_total Retried requests that then finished with a complete "
                     "answer\n# TYPE cocoon_client_retried_ok_total counter\n"
                     "cocoon_client_retried_ok_total{role=\"client\"} %" PRIu64 "\n",
                     cl->retries, cl->retried_ok);
}

static int html_extra(void *arg, struct buf *out) {
  struct client *cl = arg;
  int rc = buf_append_str(out, "<h2>Proxies</h2><table><tr><th>address</th><th>state</th><th>requests</th>"
                               "<th>image hash</th><th>MRTD</th><th>policy</th></tr>\n");
  for (size_t i = 0; i < cl->nproxies && !rc; i++) {
    struct uplink *u = &cl->proxies[i].up;
    rc = buf_appendf(out, "<tr><td>%s:%d</td><td>%s</td><td>%" PRId64 " running</td>", u->host, u->port,
                     uplink_state_name(u->state), cl->proxies[i].running);
    if (!rc) rc = node_peer_html(u->c && u->state == UPLINK_READY ? net_conn_peer(u->c) : NULL, out);
    if (!rc) rc = buf_append_str(out, "</tr>\n");
  }
  if (!rc) rc = buf_append_str(out, "</table>\n");
  return rc;
}

/* A newer registry: links to proxies whose image it no longer lists are dropped (and refused
 * by the policy when they reconnect). */
static void registry_changed_cb(void *arg) {
  struct client *cl = arg;
  char why[200];
  for (size_t i = 0; i < cl->nproxies; i++) {
    struct uplink *u = &cl->proxies[i].up;
    if (!u->c || (u->state != UPLINK_HANDSHAKE && u->state != UPLINK_READY)) continue;
    if (!node_peer_allowed(&cl->node, NODE_PEER_PROXY, net_conn_peer(u->c), NULL, 0, why, sizeof(why))) continue;
    log_warn("proxy_dropped", "proxy=%s:%d reason=\"%s\"", u->host, u->port, why);
    uplink_fail(u, why);
  }
}

/* ---------------------------------------------------------------- lifecycle */

int client_new(struct loop *loop, const struct config *cfg, struct client **out, struct err *e) {
  struct client *cl = calloc(1, sizeof(*cl));
  if (!cl) return err_set(e, ERR_NOMEM, "out of memory");
  cl->loop = loop;
  cl->cfg = cfg;
  stats_init(&cl->stats, "client");
  cl->web = (struct statsweb){.stats = &cl->stats, .json_cb = json_extra, .html_cb = html_extra,
                           .metrics_cb = metrics_extra, .arg = cl, .node = &cl->node};
  int rc = node_init(&cl->node, cfg, "client", e);
  if (rc) {
    free(cl);
    return rc;
  }
  node_on_registry_change(&cl->node, registry_changed_cb, cl);
  cl->secret = config_get_str(cfg, "secret");
  cl->owner = config_get_str(cfg, "owner_address");
  cl->max_reqs = config_get_int(cfg, "max_requests");
  cl->retry_max = (int)config_get_int(cfg, "retry_other_proxies");
  size_t nproxies = CC_MIN(node_proxy_count(&cl->node, cfg), (size_t)CLIENT_MAX_PROXIES);
  if (nproxies == 0) {
    rc = err_set(e, ERR_INVALID, "proxy: no proxy given (and no registry with proxy_addr entries)");
    goto fail;
  }
  cl->nproxies = nproxies;
  cl->proxies = calloc(cl->nproxies, sizeof(*cl->proxies));
  if (!cl->proxies) {
    rc = err_set(e, ERR_NOMEM, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < cl->nproxies; i++) {
    char addr[UPLINK_MAX_HOST + 16];
    struct cproxy *px = &cl->proxies[i];
    px->cl = cl;
    payments_held_init(&px->charge);
    const char *a = node_proxy_addr(&cl->node, cfg, NODE_PEER_CLIENT, i, addr, sizeof(addr));
    if ((rc = uplink_init(&px->up, loop, &cl->node, a, &px_handler, px, e))) goto fail;
  }
  if (config_get_str(cfg, "ton_wallet_key")[0]) {
    const char *key = config_get_str(cfg, "toncenter_api_key");
    struct client_ton_config tc = {.toncenter_url = config_get_str(cfg, "toncenter_url"),
                                   .api_key = key[0] ? key : NULL,
                                   .key_path = config_get_str(cfg, "ton_wallet_key"),
                                   .wallet_kind = config_get_str(cfg, "ton_wallet"),
                                   .testnet = config_get_bool(cfg, "ton_testnet"),
                                   .contract = cl->owner,
                                   .msg_value = config_get_int(cfg, "ton_msg_value_nanoton"),
                                   .ttl_s = (uint32_t)config_get_int(cfg, "ton_message_ttl_s")};
    if (!tc.toncenter_url[0]) {
      rc = err_set(e, ERR_INVALID, "ton_wallet_key needs toncenter_url");
      goto fail;
    }
    if ((rc = client_ton_new(loop, &tc, &cl->ton, e))) goto fail;
    log_info("client_wallet", "wallet=%s contract=%s", client_ton_wallet(cl->ton), cl->owner);
    if (config_get_bool(cfg, "ton_auto_topup")) {
      struct client_ton_auto au = {.threshold = config_get_int(cfg, "ton_topup_threshold_nanoton"),
                                   .amount = config_get_int(cfg, "ton_topup_amount_nanoton"),
                                   .check_ms = (uint32_t)config_get_int(cfg, "ton_topup_check_ms")};
      client_ton_auto_start(cl->ton, &au);
    }
    client_ton_check_wallet(cl->ton);
  }
  int hport;
  const char *hhost = config_get_host(cfg, "http_listen", &hport);
  struct http_server_config hc = {.host = hhost, .port = hport, .handler = http_cb, .arg = cl};
  if ((rc = http_server_new(loop, &hc, &cl->http, e))) goto fail;
  for (size_t i = 0; i < cl->nproxies; i++) uplink_connect(&cl->proxies[i].up);
  loop_timer_init(&cl->account_timer, account_timer_cb, cl);
  loop_timer_start(loop, &cl->account_timer, CLIENT_ACCOUNT_REFRESH_MS);
  char ready[256];
  snprintf(ready, sizeof(ready), "http_url=http://%s:%d\n", hhost, http_server_port(cl->http));
  log_info("listening", "http=%s:%d proxies=%zu", hhost, http_server_port(cl->http), cl->nproxies);
  node_start_refresh(&cl->node, loop, NULL, NULL);
  const char *rf = config_get_str(cfg, "ready_file");
  if (rf[0] && readyfile_write(rf, ready)) {
    rc = err_set(e, ERR_IO, "cannot write ready_file %s", rf);
    goto fail;
  }
  *out = cl;
  return 0;
fail:
  client_free(cl);
  return rc;
}

void client_free(struct client *cl) {
  if (!cl) return;
  if (cl->account_timer.cb) loop_timer_stop(cl->loop, &cl->account_timer);
  while (cl->reqs) creq_fail(cl->reqs, 503, "client is stopping");
  for (size_t i = 0; cl->proxies && i < cl->nproxies; i++) {
    if (cl->proxies[i].up.loop) uplink_stop(&cl->proxies[i].up);
    payments_held_free(&cl->proxies[i].charge);
  }
  free(cl->proxies);
  client_ton_free(cl->ton); /* its callback does not run: answer what waits */
  if (cl->ton_wait) {
    if (cl->ton_wait->req) {
      http_request_set_abort_cb(cl->ton_wait->req, NULL, NULL);
      respond_error(cl->ton_wait->req, 503, "client is stopping");
    }
    free(cl->ton_wait);
  }
  http_server_free(cl->http);
  node_cleanup(&cl->node);
  free(cl);
}

static int start_cb(struct loop *l, const struct config *cfg, void **obj, struct err *e) {
  struct client *cl;
  int rc = client_new(l, cfg, &cl, e);
  if (!rc) *obj = cl;
  return rc;
}

static void stop_cb(void *obj) { client_free(obj); }

int client_main(int argc, char **argv) {
  static const struct daemon_role role = {
      .name = "client",
      .summary = "Serves the OpenAI API on localhost and sends each request through a proxy.",
      .schema = client_config_schema,
      .start_cb = start_cb,
      .stop_cb = stop_cb,
  };
  return daemon_main(&role, argc, argv);
}
