/* worker: connects out to proxies, runs their queries on an OpenAI-compatible backend. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "worker/worker.h"

#include <inttypes.h>
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
#include "http/http_client.h"
#include "http/http_server.h"
#include "loop/loop.h"
#include "net/conn.h"
#include "openai/openai_request.h"
#include "openai/openai_usage.h"
#include "tl/tl_schema.h"
#include "ton/payment.h"
#include "worker/backend_builtin.h"
#include "worker/worker_ton.h"

#define WORKER_MAX_PROXIES 64
#define WORKER_HANDSHAKE_TIMEOUT_MS 30000u
#define WORKER_MAX_URL 4096
/* Body bytes the backend hands over during one loop iteration leave as one answer part when the
 * iteration ends (libcurl calls back once per HTTP chunk, an SSE stream would otherwise cost a
 * TL frame per event on every hop); more than this is sent at once. */
#define WORKER_PART_MAX ((size_t)64 << 10)

const struct config_key worker_config_schema[] = {
    NODE_CONFIG_KEYS,
    {"proxy", CONFIG_LIST, 0, WORKER_MAX_PROXIES, NULL,
     "proxies to serve, comma-separated host:port of their worker ports; empty: the registry's proxy_addr "
     "entries", 0},
    {"backend", CONFIG_STRING, 1, 1024, "http://127.0.0.1:8000",
     "base URL of the OpenAI-compatible server that runs the model (vLLM, SGLang, llama.cpp), or "
     "'builtin' to run model_path on the built-in engine",
     0},
    {"model", CONFIG_STRING, 1, 256, NULL,
     "model name announced to proxies (COCOON form Name@commit:hash; the part before '@' must be "
     "the backend's model id). Required with an HTTP backend; with the built-in engine it defaults "
     "to the file's general.name (or its file name). A value ending in .gguf is taken as model_path "
     "and selects the built-in engine",
     0},
    {"model_path", CONFIG_STRING, 1, 4096, NULL, "GGUF file the built-in engine serves (backend = builtin)", 0},
    {"engine_threads", CONFIG_INT, 1, 256, "1", "built-in engine: threads for the matrix products", 0},
    {"engine_max_seqs", CONFIG_INT, 1, 256, "8",
     "built-in engine: requests (choices) decoded together in each forward pass; more wait", 0},
    {"engine_ctx", CONFIG_INT, 0, 1048576, "0",
     "built-in engine: context (prompt + completion) of each request; 0: the model's, at most 8192", 0},
    {"engine_batch", CONFIG_INT, 1, 65536, "512", "built-in engine: tokens in one forward pass", 0},
    {"coefficient", CONFIG_INT, 0, 999999999, "1000", "price coefficient (1000 = 1.0x the base price)", 0},
    {"max_active_requests", CONFIG_INT, 1, 100000, "200", "requests run at once, over all proxies", 0},
    {"owner_address", CONFIG_STRING, 0, 128,
     "0:0000000000000000000000000000000000000000000000000000000000000000",
     "TON address that receives this worker's earnings", 0},
    {"http_listen", CONFIG_HOSTPORT, 0, 65535, "127.0.0.1:12000",
     "address of /stats, /jsonstats and /metrics", 0},
    {"health_interval_ms", CONFIG_INT, 100, 600000, "1000",
     "how often the backend's /v1/models is checked", 0},
    {"ton_wallet_key", CONFIG_STRING, 0, 4096, "",
     "ton settlement: file (mode 0600) with the worker wallet's key; with it the worker submits the signed "
     "payout it holds to its worker contract (owner_address) itself", 0},
    {"ton_wallet", CONFIG_STRING, 0, 8, "v4r2", "ton settlement: the worker wallet's contract (v4r2 or v5r1)", 0},
    {"ton_testnet", CONFIG_BOOL, 0, 1, "false", "ton settlement: testnet addresses and wallet ids", 0},
    {"ton_payout_threshold_nanoton", CONFIG_INT, -1, INT64_MAX / 4, "1000000000",
     "ton settlement: submit the held payout once this much nano-TON is owed (tokens x the contract's worker fee; "
     "-1: never)", 0},
    {"ton_msg_value_nanoton", CONFIG_INT, 1, INT64_MAX / 4, "300000000",
     "ton settlement: nano-TON sent with a payout for the contracts' gas (the excess comes back)", 0},
    {"ton_payout_check_ms", CONFIG_INT, 200, 86400000, "10000",
     "ton settlement: how often the worker contract is read to decide a payout", 0},
    {NULL, 0, 0, 0, NULL, NULL, 0},
};

struct wreq;

struct wproxy {
  struct uplink up; /* host, port, conn, state, reconnects */
  struct worker *w;
  struct payments_held payout; /* best signed payout from this proxy */
  int announced_disabled;      /* what the handshake told the proxy */
  int status_inflight;         /* worker.updatePaymentStatus sent, not answered */
};

struct wreq {
  struct worker *w;
  struct wproxy *px;
  struct wreq *next, *prev;
  uint8_t id[32];
  struct http_client_req *hreq;
  struct builtin_req *breq; /* the built-in engine's request instead of hreq */
  struct openai_usage usage;
  int status;
  int sent_first;
  int paused;
  double start_wall;
  uint64_t started_us;
  int64_t bytes;
  char content_type[128];
  struct buf part;         /* body bytes taken this iteration, not sent yet (<= WORKER_PART_MAX) */
  struct buf tail;         /* the SSE "data: [DONE]" event and anything after it: sent with the final part */
  int done_looked;         /* hold_done ran (once, when the usage reader saw [DONE]) */
  struct loop_timer flush; /* zero-delay: sends `part` at the end of the iteration */
};

struct worker {
  struct loop *loop;
  const struct config *cfg;
  struct node node;
  struct http_server *http;
  struct http_client *hc;
  struct stats stats;
  struct statsweb web;
  const char *model;
  size_t base_len;
  char base[OPENAI_MAX_MODEL_NAME + 1];
  const char *backend;
  struct builtin *engine; /* backend = builtin */
  char model_name[OPENAI_MAX_MODEL_NAME + 1];
  int32_t coefficient;
  int32_t max_active;
  const char *owner;
  struct wproxy *proxies;
  size_t nproxies;
  struct wreq *reqs;
  int32_t active;
  int backend_ok;
  int health_inflight;
  uint32_t health_interval_ms;
  struct loop_timer health;
  struct buf health_body;
  uint64_t health_checks, health_failures;
  struct loop_timer pay_status; /* COCOON's periodic worker.updatePaymentStatus */
  struct worker_ton *ton;       /* own payouts (ton_wallet_key), or NULL */
};

static const struct net_conn_handler px_handler;

/* ---------------------------------------------------------------- answers to the proxy */

static void fill_final(struct wreq *r, struct tl_query_final_info *f) {
  memset(f, 0, sizeof(f[0]));
  f->tokens_used.prompt_tokens_used = r->usage.prompt_tokens;
  f->tokens_used.cached_tokens_used = r->usage.cached_tokens;
  f->tokens_used.completion_tokens_used = r->usage.completion_tokens;
  f->tokens_used.reasoning_tokens_used = r->usage.reasoning_tokens;
  f->tokens_used.total_tokens_used = r->usage.prompt_tokens + r->usage.completion_tokens;
  if (r->px->up.proto >= 2) {
    f->flags |= TL_FINAL_INFO_F_TIMES;
    f->worker_start_time = r->start_wall;
    f->worker_end_time = util_wall_time();
  }
}

static void send_error_raw(struct wproxy *px, const uint8_t id[32], int32_t code, const char *msg) {
  if (!px->up.c || px->up.state != UPLINK_READY) return;
  int rc;
  if (px->up.proto > 0) {
    struct tl_query_answer_error_ex a;
    memset(&a, 0, sizeof(a));
    memcpy(a.request_id, id, 32);
    a.error_code = code;
    a.error.p = (const uint8_t *)msg;
    a.error.n = strlen(msg);
    a.flags = TL_ANSWER_EX_F_FINAL;
    rc = rpc_send(px->up.c, TL_ID_PROXY_QUERY_ANSWER_ERROR_EX, &a);
  } else {
    struct tl_query_answer_error a;
    memset(&a, 0, sizeof(a));
    memcpy(a.request_id, id, 32);
    a.error_code = code;
    a.error.p = (const uint8_t *)msg;
    a.error.n = strlen(msg);
    rc = rpc_send(px->up.c, TL_ID_PROXY_QUERY_ANSWER_ERROR, &a);
  }
  if (rc) net_conn_close(px->up.c, "cannot queue an error answer");
}

/* Sends body bytes: the first message carries the serialized http.response. */
static int send_answer(struct wreq *r, const uint8_t *data, size_t len, int final) {
  struct wproxy *px = r->px;
  struct buf resp;
  buf_init(&resp, (size_t)17 << 20);
  struct tl_query_answer_ex a;
  memset(&a, 0, sizeof(a));
  memcpy(a.request_id, r->id, 32);
  uint32_t id;
  int rc = 0;
  if (!r->sent_first) {
    struct tl_http_header h[5];
    char start[32], end[32], clen[32];
    snprintf(start, sizeof(start), "%.6f", r->start_wall);
    snprintf(end, sizeof(end), "%.6f", util_wall_time());
    size_t nh = 0;
#define HDR(n, v) h[nh++] = (struct tl_http_header){{(const uint8_t *)(n), strlen(n)}, {(const uint8_t *)(v), strlen(v)}}
    if (r->content_type[0]) HDR("Content-Type", r->content_type);
    HDR("X-Cocoon-Worker-Start", start);
    HDR("X-Cocoon-Worker-End", end);
    if (final) {
      snprintf(clen, sizeof(clen), "%zu", len);
      HDR("Content-Length", clen);
    } else {
      HDR("Transfer-Encoding", "chunked");
    }
#undef HDR
    const char *reason = http_status_reason(r->status);
    struct tl_http_response hr = {
        .http_version = {(const uint8_t *)"HTTP/1.1", 8},
        .status_code = r->status,
        .reason = {(const uint8_t *)reason, strlen(reason)},
        .headers = h,
        .n_headers = (uint32_t)nh,
        .payload = {data, len},
    };
    rc = rpc_encode(&resp, TL_ID_HTTP_RESPONSE, &hr);
    a.answer.p = buf_ptr(&resp);
    a.answer.n = resp.len;
    id = px->up.proto > 0 ? TL_ID_PROXY_QUERY_ANSWER_EX : TL_ID_PROXY_QUERY_ANSWER;
    r->sent_first = 1;
  } else {
    a.answer.p = data;
    a.answer.n = len;
    id = px->up.proto > 0 ? TL_ID_PROXY_QUERY_ANSWER_PART_EX : TL_ID_PROXY_QUERY_ANSWER_PART;
  }
  r->bytes += (int64_t)len;
  r->w->stats.bytes_out += len;
  if (!rc) {
    if (px->up.proto > 0) {
      if (final) {
        a.flags = TL_ANSWER_EX_F_FINAL;
        fill_final(r, &a.final_info);
      }
      rc = rpc_send(px->up.c, id, &a);
    } else {
      struct tl_query_answer q;
      memset(&q, 0, sizeof(q));
      q.answer = a.answer;
      q.is_completed = final;
      memcpy(q.request_id, r->id, 32);
      struct tl_query_final_info f;
      fill_final(r, &f);
      q.tokens_used = f.tokens_used;
      rc = rpc_send(px->up.c, id, &q);
    }
  }
  buf_free(&resp);
  return rc;
}

/* ---------------------------------------------------------------- requests */

static void req_free(struct wreq *r, int ok) {
  struct worker *w = r->w;
  if (r->prev) r->prev->next = r->next;
  else w->reqs = r->next;
  if (r->next) r->next->prev = r->prev;
  w->active--;
  w->stats.active--;
  if (ok) w->stats.success++;
  else w->stats.failed++;
  stats_observe_latency(&w->stats, (double)(util_mono_us() - r->started_us) / 1e6);
  loop_timer_stop(w->loop, &r->flush);
  buf_free(&r->part);
  buf_free(&r->tail);
  openai_usage_free(&r->usage);
  free(r);
}

/* The backend's answer, whichever backend gives it: status and Content-Type first. */
static void answer_start(struct wreq *r, int status, const char *ct) {
  r->status = status;
  if (ct) {
    /* Header values go back over the wire: keep printable ASCII only. */
    size_t k = 0;
    for (size_t i = 0; ct[i] && k + 1 < sizeof(r->content_type); i++)
      if (ct[i] >= 0x20 && ct[i] < 0x7f) r->content_type[k++] = ct[i];
    r->content_type[k] = 0;
  }
}

/* Sends the body bytes gathered so far as one answer part. */
static int part_send(struct wreq *r) {
  if (r->part.len == 0) return 0;
  int rc = send_answer(r, buf_ptr(&r->part), r->part.len, 0);
  buf_reset(&r->part);
  return rc;
}

static void part_flush_cb(struct loop_timer *t) {
  struct wreq *r = t->data;
  struct net_conn *c = r->px->up.c;
  /* A link that went down frees r in its close_cb; until then sending fails harmlessly. */
  if (c && part_send(r)) net_conn_close(c, "cannot queue answer");
}

/* The stream's "data: [DONE]" event, still in r->part, moves to r->tail and leaves with the
 * final part, which the proxy holds until the request's ledger commit: an app that takes [DONE]
 * for the end (the OpenAI SDKs do) never has it for a request the ledger could lose. Runs once,
 * in the call where the usage reader dispatched the event; if a flush fell inside the event,
 * its start is gone already and it simply goes as it is. */
static void hold_done(struct wreq *r) {
  const uint8_t *p = buf_ptr(&r->part);
  size_t n = r->part.len, at = n;
  for (size_t i = n; i-- > 0;) {
    if (p[i] != 'd' || (i > 0 && p[i - 1] != '\n' && p[i - 1] != '\r')) continue;
    if (n - i >= 5 && memcmp(p + i, "data:", 5) == 0) {
      size_t j = i + 5;
      if (j < n && p[j] == ' ') j++;
      if (n - j >= 6 && memcmp(p + j, "[DONE]", 6) == 0) at = i;
    }
    break; /* only the last line start that begins with 'd' can be the event */
  }
  if (at == n || buf_append(&r->tail, p + at, n - at) != 0) return;
  r->part.len = at;
}

enum { ANSWER_OK = 0, ANSWER_GONE = 1, ANSWER_PAUSE = 2, ANSWER_FAILED = 3 };

/* Body bytes. GONE: the proxy link is down and r was freed; PAUSE: nothing was taken, come
 * back after drain_cb; FAILED: the link is being closed (its close frees r). Taken bytes join
 * r->part and leave when the loop iteration ends, so nothing waits for a later event. */
static int answer_data(struct wreq *r, const uint8_t *data, size_t len, int can_pause) {
  struct wproxy *px = r->px;
  if (!px->up.c || px->up.state != UPLINK_READY) {
    req_free(r, 0);
    return ANSWER_GONE;
  }
  if (can_pause && !net_conn_writable(px->up.c)) {
    /* The proxy is not reading fast enough: hold the backend until drain_cb. */
    r->paused = 1;
    return ANSWER_PAUSE;
  }
  openai_usage_feed(&r->usage, data, len);
  if (r->tail.len) { /* after [DONE]: keep the order */
    if (buf_append(&r->tail, data, len) == 0) return ANSWER_OK;
    net_conn_close(px->up.c, "cannot queue answer");
    return ANSWER_FAILED;
  }
  int rc = 0;
  if (r->part.len + len > WORKER_PART_MAX) rc = part_send(r);
  if (!rc && (len > WORKER_PART_MAX || buf_append(&r->part, data, len) != 0))
    rc = send_answer(r, data, len, 0); /* too big to gather (or no memory): as it is */
  if (rc) {
    net_conn_close(px->up.c, "cannot queue answer");
    return ANSWER_FAILED;
  }
  if (!rc && r->usage.done && !r->done_looked) {
    r->done_looked = 1;
    hold_done(r);
  }
  if (r->part.len && !loop_timer_armed(&r->flush)) loop_timer_start(r->w->loop, &r->flush, 0);
  return ANSWER_OK;
}

static void answer_done(struct wreq *r, int result, const char *errmsg) {
  struct worker *w = r->w;
  struct net_conn *c = r->px->up.state == UPLINK_READY ? r->px->up.c : NULL;
  char hex[17];
  util_hex(r->id, 8, hex);
  if (result != 0) {
    char msg[300];
    snprintf(msg, sizeof(msg), "worker: backend request failed: %s", errmsg ? errmsg : err_name(result));
    log_warn("backend_failed", "req=%s error=\"%s\"", hex, errmsg ? errmsg : err_name(result));
    /* The bytes taken before the failure go first, as they would have without gathering. */
    if (c && (part_send(r) || (r->tail.len && send_answer(r, buf_ptr(&r->tail), r->tail.len, 0))))
      net_conn_close(c, "cannot queue answer");
    send_error_raw(r->px, r->id, result == ERR_TIMEOUT ? COCOON_ERR_TIMEOUT : COCOON_ERR_ERROR, msg);
    req_free(r, 0);
    return;
  }
  openai_usage_finish(&r->usage);
  w->stats.tokens_prompt += (uint64_t)r->usage.prompt_tokens;
  w->stats.tokens_cached += (uint64_t)r->usage.cached_tokens;
  w->stats.tokens_completion += (uint64_t)r->usage.completion_tokens;
  w->stats.tokens_reasoning += (uint64_t)r->usage.reasoning_tokens;
  /* The last gathered bytes go as a part of their own: the proxy holds the final part until its
   * ledger commits, and body bytes must not wait for that. Only a held [DONE] rides with it. */
  if (c && (part_send(r) || send_answer(r, r->tail.len ? buf_ptr(&r->tail) : NULL, r->tail.len, 1)))
    net_conn_close(c, "cannot queue answer");
  log_info("request_done", "req=%s status=%d bytes=%" PRId64 " ms=%.1f prompt=%" PRId64 " completion=%" PRId64
           " usage_seen=%d",
           hex, r->status, r->bytes, (double)(util_mono_us() - r->started_us) / 1000.0, r->usage.prompt_tokens,
           r->usage.completion_tokens, r->usage.seen);
  req_free(r, r->status >= 200 && r->status < 300);
}

static void backend_start_cb(struct http_client_req *hr, int status, void *arg) {
  char ct[128];
  answer_start(arg, status, http_client_req_header(hr, "Content-Type", ct, sizeof(ct)) > 0 ? ct : NULL);
}

static int backend_data_cb(struct http_client_req *hr, const uint8_t *data, size_t len, void *arg) {
  switch (answer_data(arg, data, len, 1)) {
  case ANSWER_GONE:
    http_client_cancel(hr);
    return 0;
  case ANSWER_PAUSE:
  case ANSWER_FAILED:
    return HTTP_CLIENT_PAUSE;
  default:
    return 0;
  }
}

static void backend_done_cb(struct http_client_req *hr, int result, const char *errmsg, void *arg) {
  (void)hr;
  answer_done(arg, result, errmsg);
}

/* The built-in engine: it cannot be paused mid-step, so its bytes queue on the link (an
 * answer is bounded by max_tokens); the usage it reports is exact, not parsed. */
static void builtin_start_cb(void *arg, int status, const char *ct) { answer_start(arg, status, ct); }

static int builtin_data_cb(void *arg, const uint8_t *data, size_t len) {
  struct wreq *r = arg;
  int rc = answer_data(r, data, len, 0);
  if (rc == ANSWER_FAILED) req_free(r, 0); /* its link closes: stop generating now */
  return rc != ANSWER_OK;
}

static void builtin_done_cb(void *arg, int result, const char *errmsg, int64_t prompt, int64_t completion) {
  struct wreq *r = arg;
  r->breq = NULL; /* it frees itself after this call */
  if (result == 0 && r->status >= 200 && r->status < 300) {
    r->usage.prompt_tokens = prompt;
    r->usage.completion_tokens = completion;
    r->usage.seen = true;
  }
  answer_done(r, result, errmsg);
}

static const struct builtin_cbs builtin_cbs = {builtin_start_cb, builtin_data_cb, builtin_done_cb};

static void backend_cancel(struct wreq *r) {
  if (r->breq) builtin_cancel(r->breq);
  else http_client_cancel(r->hreq);
}

static void run_query(struct wproxy *px, const struct tl_proxy_run_query *q) {
  struct worker *w = px->w;
  w->stats.requests++;
  w->stats.bytes_in += q->query.n;
  char hex[17];
  util_hex(q->request_id, 8, hex);
  if (w->active >= w->max_active) {
    w->stats.rejected++;
    send_error_raw(px, q->request_id, COCOON_ERR_NOTREADY, "too many active queries");
    return;
  }
  if (!w->backend_ok) {
    w->stats.rejected++;
    send_error_raw(px, q->request_id, COCOON_ERR_NOTREADY, "worker: backend is down");
    return;
  }
  struct tl_http_request hreq;
  if (tl_http_request_decode(q->query.p, q->query.n, &hreq)) {
    w->stats.rejected++;
    send_error_raw(px, q->request_id, COCOON_ERR_BAD_REQUEST, "worker: invalid http request: malformed http.request");
    return;
  }
  struct openai_worker_req vr;
  struct err e = {0};
  char path[WORKER_MAX_URL];
  int rc = 0;
  if (hreq.url.n >= sizeof(path) || memchr(hreq.url.p, 0, hreq.url.n)) {
    rc = err_set(&e, ERR_PARSE, "url too long");
  } else {
    memcpy(path, hreq.url.p, hreq.url.n);
    path[hreq.url.n] = 0;
    rc = openai_worker_validate(path, hreq.url.n, hreq.payload.p, hreq.payload.n, w->model, &vr, &e);
  }
  tl_http_request_clear(&hreq);
  if (rc) {
    w->stats.rejected++;
    char msg[400];
    snprintf(msg, sizeof(msg), "worker: invalid http request: %s", e.msg);
    log_info("request_invalid", "req=%s reason=\"%s\"", hex, e.msg);
    send_error_raw(px, q->request_id, rc == ERR_REFUSED ? COCOON_ERR_UNKNOWN_MODEL : COCOON_ERR_BAD_REQUEST, msg);
    return;
  }
  struct wreq *r = calloc(1, sizeof(*r));
  if (!r) {
    openai_worker_req_free(&vr);
    send_error_raw(px, q->request_id, COCOON_ERR_ERROR, "worker: out of memory");
    return;
  }
  r->w = w;
  r->px = px;
  memcpy(r->id, q->request_id, 32);
  r->status = 0;
  r->start_wall = util_wall_time();
  r->started_us = util_mono_us();
  buf_init(&r->part, WORKER_PART_MAX);
  buf_init(&r->tail, WORKER_PART_MAX);
  loop_timer_init(&r->flush, part_flush_cb, r);
  openai_usage_init(&r->usage, 0);
  double t = q->timeout > 0 ? q->timeout * 0.95 : 120;
  uint32_t timeout_ms = (uint32_t)(t * 1000 > 4e9 ? 4e9 : t * 1000);
  if (w->engine) {
    rc = builtin_start(w->engine, vr.endpoint, vr.body, vr.body_len, timeout_ms, &builtin_cbs, r, &r->breq);
    openai_worker_req_free(&vr);
    if (rc) {
      openai_usage_free(&r->usage);
      free(r);
      send_error_raw(px, q->request_id, COCOON_ERR_ERROR, "worker: cannot start the request on the engine");
      return;
    }
    goto started;
  }
  char url[WORKER_MAX_URL + 1100];
  snprintf(url, sizeof(url), "%s%s", w->backend, path);
  static const char *const headers[] = {"Content-Type: application/json", "Accept: application/json, text/event-stream",
                                        NULL};
  struct http_client_opts o = {
      .method = "POST",
      .url = url,
      .headers = headers,
      .body = vr.body,
      .body_len = vr.body_len,
      .timeout_ms = timeout_ms,
      .on_start = backend_start_cb,
      .on_data = backend_data_cb,
      .on_done = backend_done_cb,
      .arg = r,
  };
  rc = http_client_request(w->hc, &o, &r->hreq);
  openai_worker_req_free(&vr);
  if (rc) {
    openai_usage_free(&r->usage);
    free(r);
    send_error_raw(px, q->request_id, COCOON_ERR_ERROR, "worker: cannot start the backend request");
    return;
  }
started:
  r->next = w->reqs;
  if (w->reqs) w->reqs->prev = r;
  w->reqs = r;
  w->active++;
  w->stats.active++;
  log_debug("request_start", "req=%s", hex);
}

/* ---------------------------------------------------------------- proxy links */

static void proxy_fail(struct wproxy *px, const char *why) { uplink_fail(&px->up, why); }

static void cancel_requests_of(struct wproxy *px) {
  struct worker *w = px->w;
  for (struct wreq *r = w->reqs, *n; r; r = n) {
    n = r->next;
    if (r->px != px) continue;
    backend_cancel(r);
    req_free(r, 0);
  }
}

static void handshake_done_cb(struct net_conn *c, void *arg, const struct net_answer *a) {
  struct wproxy *px = arg;
  if (a->kind != NET_ANSWER_OK || tl_empty_decode(a->data, a->len, TL_ID_WORKER_PROXY_HANDSHAKE_COMPLETED)) {
    if (a->kind != NET_ANSWER_CLOSED) proxy_fail(px, a->kind == NET_ANSWER_ERROR ? a->message : "bad handshake answer");
    return;
  }
  uplink_ready(&px->up);
  px->w->stats.conns_opened++;
  px->w->stats.conns_active++;
  /* The backend may have come up (or gone down) while the handshake was in flight. */
  if (px->announced_disabled != !px->w->backend_ok) {
    struct tl_worker_enabled_disabled m = {.disabled = !px->w->backend_ok};
    if (rpc_send(c, TL_ID_WORKER_ENABLED_DISABLED, &m)) proxy_fail(px, "cannot send state");
  }
  log_info("proxy_ready", "proxy=%s:%d proto=%d enabled=%d", px->up.host, px->up.port, px->up.proto, px->w->backend_ok);
}

static void compare_cb(struct net_conn *c, void *arg, const struct net_answer *a) {
  struct wproxy *px = arg;
  struct tl_worker_compare_balance_with_proxy_result res;
  if (a->kind != NET_ANSWER_OK || tl_worker_compare_balance_with_proxy_result_decode(a->data, a->len, &res)) {
    if (a->kind == NET_ANSWER_ERROR) log_warn("proxy_refused", "proxy=%s:%d reason=\"%s\"", px->up.host, px->up.port, a->message);
    if (a->kind != NET_ANSWER_CLOSED) proxy_fail(px, a->kind == NET_ANSWER_ERROR ? a->message : "bad balance answer");
    return;
  }
  /* COCOON: the proxy's signed payout and committed total may not be below what we hold. */
  struct err e = {0};
  if (payments_check_status(&px->payout, &res.signed_payment, res.tokens_committed_to_db, TON_OP_WORKER_PAYOUT_SIGNED,
                            px->w->owner, px->payout.proxy_key, &e)) {
    log_error("proxy_behind", "proxy=%s:%d reason=\"%s\"", px->up.host, px->up.port, e.msg);
    proxy_fail(px, e.msg);
    return;
  }
  struct tl_worker_proxy_handshake_complete hc = {.is_disabled = !px->w->backend_ok};
  px->announced_disabled = hc.is_disabled;
  if (rpc_query(c, TL_ID_WORKER_PROXY_HANDSHAKE_COMPLETE, &hc, WORKER_HANDSHAKE_TIMEOUT_MS, handshake_done_cb, px))
    proxy_fail(px, "cannot send handshake");
}

static void connected_cb(struct net_conn *c, void *arg, const struct net_answer *a) {
  struct wproxy *px = arg;
  struct tl_worker_connected_to_proxy res;
  if (a->kind != NET_ANSWER_OK || tl_worker_connected_to_proxy_decode(a->data, a->len, &res)) {
    if (a->kind == NET_ANSWER_ERROR) log_warn("proxy_refused", "proxy=%s:%d reason=\"%s\"", px->up.host, px->up.port, a->message);
    if (a->kind != NET_ANSWER_CLOSED) proxy_fail(px, a->kind == NET_ANSWER_ERROR ? a->message : "bad connect answer");
    return;
  }
  if (!!res.params.is_test != !!px->w->node.is_test) {
    proxy_fail(px, "test mode mismatch");
    return;
  }
  /* The proxy's signing key is proxy_public_key, not the TLS key: a COCOON proxy sits behind its
   * router, which terminates TLS with a certificate of its own (docs/interop.md, check 2). The
   * attested endpoint vouches for the key; payouts are verified against it from here on. */
  (void)uplink_set_proxy_key(&px->up, res.params.proxy_public_key, net_conn_peer_key(c));
  px->up.proto = (res.params.flags & TL_PROXY_PARAMS_F_PROTO) ? res.params.proto_version : 0;
  /* The payout we hold from this proxy (from disk after a restart) is what we tell it. */
  struct err e = {0};
  if (payments_held_set_contract(&px->payout, res.worker_sc_address.p, res.worker_sc_address.n, &e))
    log_warn("contract_address_ignored", "proxy=%s:%d reason=\"%s\"", px->up.host, px->up.port, e.msg);
  e = (struct err){0};
  if (payments_held_bind(&px->payout, px->w->node.key_dir, res.params.proxy_public_key, TON_OP_WORKER_PAYOUT_SIGNED,
                         px->w->owner, &e))
    log_error("payment_load_failed", "proxy=%s:%d error=\"%s\"", px->up.host, px->up.port, e.msg);
  /* No chain in local settlement: the held signed total stands for both of COCOON's values. */
  struct tl_worker_compare_balance_with_proxy q = {0, px->payout.tokens, px->payout.tokens};
  if (rpc_query(c, TL_ID_WORKER_COMPARE_BALANCE_WITH_PROXY, &q, WORKER_HANDSHAKE_TIMEOUT_MS, compare_cb, px))
    proxy_fail(px, "cannot send handshake");
}

/* COCOON polls every 10-20 s; a proxy whose status is below what we hold is dropped. */
#define WORKER_PAYMENT_STATUS_MS 15000u

static void pay_status_cb(struct net_conn *c, void *arg, const struct net_answer *a) {
  struct wproxy *px = arg;
  px->status_inflight = 0;
  struct tl_payment_status s;
  if (a->kind != NET_ANSWER_OK || tl_worker_payment_status_decode(a->data, a->len, &s)) return;
  struct err e = {0};
  if (payments_check_status(&px->payout, &s.signed_payment, s.db_tokens, TON_OP_WORKER_PAYOUT_SIGNED, px->w->owner,
                            px->payout.proxy_key, &e)) {
    log_error("proxy_behind", "proxy=%s:%d reason=\"%s\"", px->up.host, px->up.port, e.msg);
    proxy_fail(px, e.msg);
  }
}

static void pay_status_timer_cb(struct loop_timer *t) {
  struct worker *w = t->data;
  loop_timer_start(w->loop, &w->pay_status, WORKER_PAYMENT_STATUS_MS);
  for (size_t i = 0; i < w->nproxies; i++) {
    struct wproxy *px = &w->proxies[i];
    if (px->up.state != UPLINK_READY || !px->up.c || px->status_inflight) continue;
    if (rpc_query(px->up.c, TL_ID_WORKER_UPDATE_PAYMENT_STATUS, NULL, WORKER_HANDSHAKE_TIMEOUT_MS, pay_status_cb, px) == 0)
      px->status_inflight = 1;
  }
}

static void px_ready_cb(struct net_conn *c) {
  struct wproxy *px = net_conn_user(c);
  struct worker *w = px->w;
  uplink_handshake(&px->up);
  struct tl_worker_connect_to_proxy q;
  memset(&q, 0, sizeof(q));
  struct tl_worker_params *p = &q.params;
  p->flags = TL_WORKER_PARAMS_F_LIMITS | TL_WORKER_PARAMS_F_PROTO;
  p->worker_owner_address.p = (const uint8_t *)w->owner;
  p->worker_owner_address.n = strlen(w->owner);
  p->model.p = (const uint8_t *)w->model;
  p->model.n = strlen(w->model);
  p->coefficient = w->coefficient;
  p->is_test = w->node.is_test;
  p->proxy_cnt = (int32_t)w->nproxies;
  p->max_active_requests = w->max_active;
  p->min_proto_version = 1;
  p->max_proto_version = 2;
  if (rpc_query(c, TL_ID_WORKER_CONNECT_TO_PROXY, &q, WORKER_HANDSHAKE_TIMEOUT_MS, connected_cb, px))
    proxy_fail(px, "cannot send handshake");
}

static void px_packet_cb(struct net_conn *c, const uint8_t *data, size_t len) {
  struct wproxy *px = net_conn_user(c);
  uint32_t id;
  if (tl_peek_id(data, len, &id)) {
    proxy_fail(px, "packet too short");
    return;
  }
  if (id == TL_ID_PROXY_RUN_QUERY_EX || id == TL_ID_PROXY_RUN_QUERY) {
    struct tl_proxy_run_query q;
    int rc = id == TL_ID_PROXY_RUN_QUERY_EX ? tl_proxy_run_query_ex_decode(data, len, &q)
                                            : tl_proxy_run_query_decode(data, len, &q);
    if (rc) {
      proxy_fail(px, "malformed runQuery");
      return;
    }
    if (px->up.state != UPLINK_READY) {
      proxy_fail(px, "query before handshake completed");
      return;
    }
    run_query(px, &q);
    return;
  }
  if (id == TL_ID_PROXY_WORKER_REQUEST_PAYMENT) {
    struct tl_request_payment m;
    struct err e = {0};
    if (tl_proxy_worker_request_payment_decode(data, len, &m)) {
      proxy_fail(px, "malformed workerRequestPayment");
      return;
    }
    if (payments_accept(&px->payout, &m.signed_payment, TON_OP_WORKER_PAYOUT_SIGNED, px->w->owner,
                        px->payout.proxy_key, &e)) {
      log_warn("payment_refused", "proxy=%s:%d reason=\"%s\"", px->up.host, px->up.port, e.msg);
      proxy_fail(px, e.msg);
    }
    return;
  }
  log_warn("unknown_packet", "proxy=%s:%d id=%08x", px->up.host, px->up.port, id);
}

static void px_drain_cb(struct net_conn *c) {
  struct wproxy *px = net_conn_user(c);
  for (struct wreq *r = px->w->reqs, *n; r; r = n) {
    n = r->next;
    if (r->px == px && r->paused) {
      r->paused = 0;
      http_client_resume(r->hreq);
    }
  }
}

static void px_close_cb(struct net_conn *c, int code, const char *reason) {
  struct wproxy *px = net_conn_user(c);
  struct worker *w = px->w;
  if (px->up.state == UPLINK_READY) {
    w->stats.conns_closed++;
    w->stats.conns_active--;
  }
  px->up.c = NULL;
  px->up.state = UPLINK_IDLE;
  cancel_requests_of(px);
  uplink_closed(&px->up, reason);
}

static const struct net_conn_handler px_handler = {
    .ready_cb = px_ready_cb,
    .packet_cb = px_packet_cb,
    .drain_cb = px_drain_cb,
    .close_cb = px_close_cb,
};

/* ---------------------------------------------------------------- backend health */

static void set_backend_ok(struct worker *w, int ok) {
  if (ok == w->backend_ok) return;
  w->backend_ok = ok;
  log_info(ok ? "backend_up" : "backend_down", "backend=%s", w->backend);
  struct tl_worker_enabled_disabled m = {.disabled = !ok};
  for (size_t i = 0; i < w->nproxies; i++) {
    struct wproxy *px = &w->proxies[i];
    if (px->up.state == UPLINK_READY && rpc_send(px->up.c, TL_ID_WORKER_ENABLED_DISABLED, &m))
      proxy_fail(px, "cannot send state");
  }
}

static int health_data_cb(struct http_client_req *r, const uint8_t *data, size_t len, void *arg) {
  struct worker *w = arg;
  if (buf_append(&w->health_body, data, len)) http_client_cancel(r);
  return 0;
}

static void health_done_cb(struct http_client_req *r, int result, const char *errmsg, void *arg) {
  struct worker *w = arg;
  w->health_inflight = 0;
  w->health_checks++;
  bool found = false;
  struct err e = {0};
  int ok = result == 0 && http_client_req_status(r) == 200 &&
           openai_models_contains(buf_ptr(&w->health_body), w->health_body.len, w->base, &found, &e) == 0 && found;
  if (!ok) {
    w->health_failures++;
    if (w->backend_ok)
      log_warn("health_check_failed", "backend=%s error=\"%s\"",
               w->backend, result ? (errmsg ? errmsg : err_name(result)) : (found || e.msg[0] ? e.msg : "model not listed"));
  }
  buf_reset(&w->health_body);
  set_backend_ok(w, ok);
}

static void health_cb(struct loop_timer *t) {
  struct worker *w = t->data;
  loop_timer_start(w->loop, &w->health, w->health_interval_ms);
  if (w->health_inflight) return;
  char url[1200];
  snprintf(url, sizeof(url), "%s/v1/models", w->backend);
  struct http_client_opts o = {
      .method = "GET",
      .url = url,
      .timeout_ms = CC_MAX(w->health_interval_ms * 2, 2000u),
      .on_data = health_data_cb,
      .on_done = health_done_cb,
      .arg = w,
  };
  struct http_client_req *r;
  if (http_client_request(w->hc, &o, &r) == 0) w->health_inflight = 1;
}

/* ---------------------------------------------------------------- own payouts */

/* The highest signed payout held over the proxies (all name this worker's owner_address). */
static int best_payout_cb(void *arg, int64_t *tokens, const uint8_t **boc, size_t *len) {
  struct worker *w = arg;
  struct payments_held *best = NULL;
  for (size_t i = 0; i < w->nproxies; i++)
    if (w->proxies[i].payout.boc.len && (!best || w->proxies[i].payout.tokens > best->tokens))
      best = &w->proxies[i].payout;
  if (!best) return ERR_NOTFOUND;
  *tokens = best->tokens;
  *boc = buf_ptr(&best->boc);
  *len = best->boc.len;
  return 0;
}

/* ---------------------------------------------------------------- HTTP stats */

static int json_extra(void *arg, struct buf *out) {
  struct worker *w = arg;
  int rc = buf_appendf(out,
                       ",\"model\":\"%s\",\"coefficient\":%d,\"max_active_requests\":%d,\"backend_ok\":%s,"
                       "\"health_checks\":%" PRIu64 ",\"health_failures\":%" PRIu64,
                       w->base, w->coefficient, w->max_active, w->backend_ok ? "true" : "false", w->health_checks,
                       w->health_failures);
  if (!rc && w->ton) {
    struct worker_ton_stats ts;
    worker_ton_get_stats(w->ton, &ts);
    rc = buf_appendf(out,
                     ",\"ton\":{\"wallet\":\"%s\",\"wallet_balance\":%" PRId64 ",\"chain_tokens\":%" PRId64
                     ",\"submitted\":%" PRId64 ",\"landed\":%" PRId64 ",\"failed\":%" PRId64 ",\"last_error\":\"",
                     worker_ton_wallet(w->ton), ts.wallet_balance, ts.chain_tokens, ts.submitted, ts.landed, ts.failed);
    if (!rc) rc = buf_append_json_str(out, ts.last_error, strlen(ts.last_error));
    if (!rc) rc = buf_append_str(out, "\"}");
  }
  if (!rc) rc = buf_append_str(out, ",\"proxies\":[");
  for (size_t i = 0; i < w->nproxies && !rc; i++) {
    struct wproxy *px = &w->proxies[i];
    char key[65] = "";
    if (px->up.c && px->up.state == UPLINK_READY) util_hex(net_conn_peer_key(px->up.c), 32, key);
    rc = buf_appendf(out, "%s{\"address\":\"%s:%d\",\"state\":\"%s\",\"proto\":%d,\"connects\":%" PRIu64
                          ",\"peer_key\":\"%s\",\"policy\":\"%s\"",
                     i ? "," : "", px->up.host, px->up.port, uplink_state_name(px->up.state), px->up.proto, px->up.connects, key,
                     px->up.c && px->up.state == UPLINK_READY ? net_conn_peer(px->up.c)->policy_name : "");
    if (!rc)
      rc = buf_appendf(out,
                       ",\"signed_payout_tokens\":%" PRId64 ",\"signed_payments\":%" PRIu64
                       ",\"payment_saves\":%" PRIu64 ",\"payment_save_failures\":%" PRIu64 ",\"last_error\":\"",
                       px->payout.tokens, px->payout.received, px->payout.saves, px->payout.save_failures);
    if (!rc) rc = buf_append_json_str(out, px->up.last_error, strlen(px->up.last_error));
    if (!rc) rc = buf_append_str(out, "\"");
    if (!rc && px->up.c && px->up.state == UPLINK_READY) rc = node_peer_json(net_conn_peer(px->up.c), out);
    if (!rc) rc = buf_append_str(out, "}");
  }
  if (!rc) rc = buf_append_str(out, "]");
  if (!rc && w->engine) rc = builtin_stats_json(w->engine, out);
  return rc;
}

static int html_extra(void *arg, struct buf *out) {
  struct worker *w = arg;
  int rc = buf_appendf(out, "<h2>Worker</h2><p>model %s, coefficient %d, backend %s</p><h2>Proxies</h2><table>"
                       "<tr><th>address</th><th>state</th><th>image hash</th><th>MRTD</th><th>policy</th></tr>\n",
                       w->base, w->coefficient, w->backend_ok ? "up" : "DOWN");
  for (size_t i = 0; i < w->nproxies && !rc; i++) {
    struct uplink *u = &w->proxies[i].up;
    rc = buf_appendf(out, "<tr><td>%s:%d</td><td>%s</td>", u->host, u->port, uplink_state_name(u->state));
    if (!rc) rc = node_peer_html(u->c && u->state == UPLINK_READY ? net_conn_peer(u->c) : NULL, out);
    if (!rc) rc = buf_append_str(out, "</tr>\n");
  }
  if (!rc) rc = buf_append_str(out, "</table>\n");
  return rc;
}

static void http_cb(struct http_request *req, void *arg) {
  struct worker *w = arg;
  if (statsweb_handle(&w->web, req)) return;
  http_respond(req, 404, "application/json", "{\"error\":{\"message\":\"not found\"}}\n", 35);
}

/* A newer registry: links to proxies whose image it no longer lists are dropped (and refused
 * by the policy when they reconnect). */
static void registry_changed_cb(void *arg) {
  struct worker *w = arg;
  char why[200];
  for (size_t i = 0; i < w->nproxies; i++) {
    struct uplink *u = &w->proxies[i].up;
    if (!u->c || (u->state != UPLINK_HANDSHAKE && u->state != UPLINK_READY)) continue;
    if (!node_peer_allowed(&w->node, NODE_PEER_PROXY, net_conn_peer(u->c), NULL, 0, why, sizeof(why))) continue;
    log_warn("proxy_dropped", "proxy=%s:%d reason=\"%s\"", u->host, u->port, why);
    uplink_fail(u, why);
  }
}

/* ---------------------------------------------------------------- lifecycle */

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* backend = builtin (or model = FILE.gguf): loads the model; the announced name defaults to
 * the model's own. */
static int start_engine(struct worker *w, const struct config *cfg, struct err *e) {
  const char *path = config_get_str(cfg, "model_path");
  int by_model = w->model && ends_with(w->model, ".gguf");
  if (by_model) {
    path = w->model;
    w->model = NULL;
  } else if (strcmp(w->backend, "builtin") != 0) {
    return 0;
  }
  if (!path || !path[0]) return err_set(e, ERR_INVALID, "backend = builtin needs model_path (a GGUF file)");
  struct builtin_opts o = {
      .model_path = path,
      .threads = (uint32_t)config_get_int(cfg, "engine_threads"),
      .max_seqs = (uint32_t)config_get_int(cfg, "engine_max_seqs"),
      .n_ctx = (uint32_t)config_get_int(cfg, "engine_ctx"),
      .max_batch = (uint32_t)config_get_int(cfg, "engine_batch"),
  };
  int rc = builtin_new(w->loop, &o, &w->engine, e);
  if (rc) return rc;
  w->backend = "builtin";
  if (!w->model || !w->model[0]) {
    snprintf(w->model_name, sizeof(w->model_name), "%s", builtin_model_name(w->engine));
    w->model = w->model_name;
  }
  log_info("engine_ready", "model=%s path=%s %s", w->model, path, builtin_describe(w->engine));
  return 0;
}

int worker_new(struct loop *loop, const struct config *cfg, struct worker **out, struct err *e) {
  struct worker *w = calloc(1, sizeof(*w));
  if (!w) return err_set(e, ERR_NOMEM, "out of memory");
  w->loop = loop;
  w->cfg = cfg;
  stats_init(&w->stats, "worker");
  w->web = (struct statsweb){.stats = &w->stats, .json_cb = json_extra, .html_cb = html_extra, .arg = w, .node = &w->node};
  buf_init(&w->health_body, OPENAI_MAX_MODELS_BYTES);
  loop_timer_init(&w->health, health_cb, w);
  int rc = node_init(&w->node, cfg, "worker", e);
  if (rc) {
    buf_free(&w->health_body);
    free(w);
    return rc;
  }
  node_on_registry_change(&w->node, registry_changed_cb, w);
  w->model = config_get_str(cfg, "model");
  w->backend = config_get_str(cfg, "backend");
  if ((rc = start_engine(w, cfg, e))) goto fail;
  if (!w->model || !w->model[0]) {
    rc = err_set(e, ERR_INVALID, "model is required with an HTTP backend (the name the backend serves)");
    goto fail;
  }
  w->base_len = openai_model_base_len(w->model);
  if (w->base_len == 0 || w->base_len > OPENAI_MAX_MODEL_NAME) {
    rc = err_set(e, ERR_INVALID, "model '%s' has no usable base name", w->model);
    goto fail;
  }
  memcpy(w->base, w->model, w->base_len);
  w->base[w->base_len] = 0;
  if (!w->engine && strncmp(w->backend, "http://", 7) != 0 && strncmp(w->backend, "https://", 8) != 0) {
    rc = err_set(e, ERR_INVALID, "backend must be an http:// or https:// URL, not '%s'", w->backend);
    goto fail;
  }
  w->coefficient = (int32_t)config_get_int(cfg, "coefficient");
  w->max_active = (int32_t)config_get_int(cfg, "max_active_requests");
  w->owner = config_get_str(cfg, "owner_address");
  w->health_interval_ms = (uint32_t)config_get_int(cfg, "health_interval_ms");
  rc = http_client_new(loop, NULL, &w->hc);
  if (rc) {
    err_set(e, rc, "cannot start the HTTP client");
    goto fail;
  }
  size_t nproxies = CC_MIN(node_proxy_count(&w->node, cfg), (size_t)WORKER_MAX_PROXIES);
  if (nproxies == 0) {
    rc = err_set(e, ERR_INVALID, "proxy: no proxy given (and no registry with proxy_addr entries)");
    goto fail;
  }
  w->nproxies = nproxies;
  w->proxies = calloc(w->nproxies, sizeof(*w->proxies));
  if (!w->proxies) {
    rc = err_set(e, ERR_NOMEM, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < w->nproxies; i++) {
    char addr[UPLINK_MAX_HOST + 16];
    struct wproxy *px = &w->proxies[i];
    px->w = w;
    payments_held_init(&px->payout);
    const char *a = node_proxy_addr(&w->node, cfg, NODE_PEER_WORKER, i, addr, sizeof(addr));
    if ((rc = uplink_init(&px->up, loop, &w->node, a, &px_handler, px, e))) goto fail;
  }
  int hport;
  const char *hhost = config_get_host(cfg, "http_listen", &hport);
  struct http_server_config hc = {.host = hhost, .port = hport, .handler = http_cb, .arg = w};
  if ((rc = http_server_new(loop, &hc, &w->http, e))) goto fail;
  /* Check the backend right away so the first handshake reports the real state. The built-in
   * engine is up once loaded. */
  if (w->engine) w->backend_ok = 1;
  else health_cb(&w->health);
  for (size_t i = 0; i < w->nproxies; i++) uplink_connect(&w->proxies[i].up);
  loop_timer_init(&w->pay_status, pay_status_timer_cb, w);
  loop_timer_start(loop, &w->pay_status, WORKER_PAYMENT_STATUS_MS);
  if (config_get_str(cfg, "ton_wallet_key")[0]) {
    const char *key = config_get_str(cfg, "toncenter_api_key");
    struct worker_ton_config tc = {.toncenter_url = config_get_str(cfg, "toncenter_url"),
                                   .api_key = key[0] ? key : NULL,
                                   .key_path = config_get_str(cfg, "ton_wallet_key"),
                                   .wallet_kind = config_get_str(cfg, "ton_wallet"),
                                   .testnet = config_get_bool(cfg, "ton_testnet"),
                                   .contract = w->owner,
                                   .threshold = config_get_int(cfg, "ton_payout_threshold_nanoton"),
                                   .msg_value = config_get_int(cfg, "ton_msg_value_nanoton"),
                                   .check_ms = (uint32_t)config_get_int(cfg, "ton_payout_check_ms")};
    if ((rc = worker_ton_new(loop, &tc, best_payout_cb, w, &w->ton, e))) goto fail;
  }
  char ready[256];
  snprintf(ready, sizeof(ready), "http_url=http://%s:%d\n", hhost, http_server_port(w->http));
  log_info("listening", "http=%s:%d model=%s proxies=%zu", hhost, http_server_port(w->http), w->model, w->nproxies);
  node_start_refresh(&w->node, loop, NULL, NULL);
  const char *rf = config_get_str(cfg, "ready_file");
  if (rf[0] && readyfile_write(rf, ready)) {
    rc = err_set(e, ERR_IO, "cannot write ready_file %s", rf);
    goto fail;
  }
  *out = w;
  return 0;
fail:
  worker_free(w);
  return rc;
}

void worker_free(struct worker *w) {
  if (!w) return;
  loop_timer_stop(w->loop, &w->health);
  if (w->pay_status.cb) loop_timer_stop(w->loop, &w->pay_status);
  worker_ton_free(w->ton);
  while (w->reqs) {
    backend_cancel(w->reqs);
    req_free(w->reqs, 0);
  }
  for (size_t i = 0; w->proxies && i < w->nproxies; i++) {
    if (w->proxies[i].up.loop) uplink_stop(&w->proxies[i].up);
    payments_held_free(&w->proxies[i].payout);
  }
  free(w->proxies);
  http_client_free(w->hc);
  builtin_free(w->engine);
  http_server_free(w->http);
  buf_free(&w->health_body);
  node_cleanup(&w->node);
  free(w);
}

static int start_cb(struct loop *l, const struct config *cfg, void **obj, struct err *e) {
  struct worker *w;
  int rc = worker_new(l, cfg, &w, e);
  if (!rc) *obj = w;
  return rc;
}

static void stop_cb(void *obj) { worker_free(obj); }

int worker_main(int argc, char **argv) {
  static const struct daemon_role role = {
      .name = "worker",
      .summary = "Connects to proxies and serves their requests with an OpenAI-compatible backend or the "
                 "built-in engine (--model FILE.gguf).",
      .schema = worker_config_schema,
      .start_cb = start_cb,
      .stop_cb = stop_cb,
  };
  return daemon_main(&role, argc, argv);
}
