/* toncenter: a toncenter v2 HTTP API client on the event loop (sendBoc, runGetMethod,
 * getAddressInformation, getTransactions) and resending of external messages until applied. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "chain/toncenter.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "chain/b64.h"
#include "http/http_client.h"
#include "loop/loop.h"
#include "ton/boc.h"

enum req_kind { REQ_SEND_BOC, REQ_GET_METHOD, REQ_ACCOUNT, REQ_TXS };

union tc_cb {
  toncenter_done_cb done;
  toncenter_stack_cb stack;
  toncenter_account_cb account;
  toncenter_txs_cb txs;
};

struct tc_req {
  struct toncenter *t;
  enum req_kind kind;
  struct http_client_req *hr;
  struct buf resp;
  int status;
  union tc_cb cb;
  void *arg;
  struct tc_req *prev, *next;
};

struct toncenter_send {
  struct toncenter *t;
  struct ton_addr dest;
  uint8_t *boc;
  size_t len;
  uint8_t body_hash[32];
  struct toncenter_send_opts o;
  toncenter_sent_cb cb;
  void *arg;
  struct loop_timer poll, resend;
  int polling;        /* a getTransactions request is in flight */
  int expired_checks; /* polls done after valid_until */
  uint64_t sends;
  struct toncenter_send *prev, *next;
};

struct toncenter {
  struct loop *loop;
  struct http_client *hc;
  char *endpoint;
  char *key_header; /* "X-API-Key: ..." or NULL */
  uint32_t timeout_ms;
  struct tc_req *reqs;
  struct toncenter_send *sends;
};

int toncenter_new(struct loop *l, struct http_client *hc, const struct toncenter_config *cfg, struct toncenter **out,
                  struct err *e) {
  if (!cfg->endpoint || strncmp(cfg->endpoint, "http", 4) != 0)
    return err_set(e, ERR_INVALID, "toncenter: the endpoint must be an http:// or https:// URL");
  size_t n = strlen(cfg->endpoint);
  if (n > TONCENTER_MAX_URL / 2) return err_set(e, ERR_INVALID, "toncenter: the endpoint URL is too long");
  if (cfg->api_key && strpbrk(cfg->api_key, "\r\n"))
    return err_set(e, ERR_INVALID, "toncenter: the API key contains a line break");
  struct toncenter *t = calloc(1, sizeof(*t));
  if (!t) return err_set(e, ERR_NOMEM, "toncenter: out of memory");
  t->loop = l;
  t->hc = hc;
  t->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : TONCENTER_DEFAULT_TIMEOUT_MS;
  while (n > 0 && cfg->endpoint[n - 1] == '/') n--;
  t->endpoint = util_strndup(cfg->endpoint, n);
  if (cfg->api_key && cfg->api_key[0]) {
    size_t kl = strlen(cfg->api_key) + sizeof("X-API-Key: ");
    t->key_header = malloc(kl);
    if (t->key_header) snprintf(t->key_header, kl, "X-API-Key: %s", cfg->api_key);
  }
  if (!t->endpoint || (cfg->api_key && cfg->api_key[0] && !t->key_header)) {
    toncenter_free(t);
    return err_set(e, ERR_NOMEM, "toncenter: out of memory");
  }
  *out = t;
  return 0;
}

static void req_unlink(struct tc_req *r) {
  struct toncenter *t = r->t;
  if (r->prev)
    r->prev->next = r->next;
  else if (t->reqs == r)
    t->reqs = r->next;
  if (r->next) r->next->prev = r->prev;
  r->prev = r->next = NULL;
}

static void req_destroy(struct tc_req *r) {
  buf_free(&r->resp);
  free(r);
}

static void req_free(struct tc_req *r) {
  req_unlink(r);
  req_destroy(r);
}

static void send_free(struct toncenter_send *s);

void toncenter_free(struct toncenter *t) {
  if (!t) return;
  while (t->sends) send_free(t->sends);
  while (t->reqs) {
    struct tc_req *r = t->reqs;
    if (r->hr) http_client_cancel(r->hr);
    req_free(r);
  }
  if (t->key_header) OPENSSL_cleanse(t->key_header, strlen(t->key_header));
  free(t->key_header);
  free(t->endpoint);
  free(t);
}

/* ---- requests ---- */

static int on_data(struct http_client_req *hr, const uint8_t *p, size_t n, void *arg) {
  struct tc_req *r = arg;
  (void)hr;
  if (r->resp.len + n > TONCENTER_MAX_RESPONSE) return 0; /* dropped; on_done reports the size */
  if (buf_append(&r->resp, p, n)) r->resp.len = TONCENTER_MAX_RESPONSE + 1;
  return 0;
}

static void on_start(struct http_client_req *hr, int status, void *arg) {
  (void)hr;
  ((struct tc_req *)arg)->status = status;
}

static void deliver(struct tc_req *r, int rc, const char *msg, json_t *result);

static void on_done(struct http_client_req *hr, int result, const char *errmsg, void *arg) {
  struct tc_req *r = arg;
  struct err e = {0};
  json_t *root = NULL, *result_json = NULL;
  (void)hr;
  r->hr = NULL;
  /* Off the list while its callback runs: the callback may cancel or free other work of t
   * (toncenter_send_cancel walks the list), and this request is finished anyway. */
  req_unlink(r);
  if (result) {
    err_set(&e, result, "toncenter: %s", errmsg && errmsg[0] ? errmsg : err_name(result));
    goto fail;
  }
  if (r->resp.len > TONCENTER_MAX_RESPONSE) {
    err_set(&e, ERR_LIMIT, "toncenter: answer larger than %zu bytes", TONCENTER_MAX_RESPONSE);
    goto fail;
  }
  if (toncenter_envelope((const char *)buf_ptr(&r->resp), r->resp.len, r->status, &root, &result_json, &e)) goto fail;
  deliver(r, 0, "", result_json);
  json_decref(root);
  req_destroy(r);
  return;
fail:
  deliver(r, e.code, e.msg, NULL);
  json_decref(root);
  req_destroy(r);
}

static int start(struct toncenter *t, enum req_kind kind, const char *method, const char *query, const char *body,
                 union tc_cb cb, void *arg, struct err *e) {
  char url[TONCENTER_MAX_URL];
  int n = snprintf(url, sizeof(url), "%s/%s%s%s", t->endpoint, method, query ? "?" : "", query ? query : "");
  if (n < 0 || (size_t)n >= sizeof(url)) return err_set(e, ERR_LIMIT, "toncenter: URL too long");
  struct tc_req *r = calloc(1, sizeof(*r));
  if (!r) return err_set(e, ERR_NOMEM, "toncenter: out of memory");
  r->t = t;
  r->kind = kind;
  r->cb = cb;
  r->arg = arg;
  buf_init(&r->resp, TONCENTER_MAX_RESPONSE + 1);
  const char *headers[4];
  size_t h = 0;
  if (body) headers[h++] = "Content-Type: application/json";
  headers[h++] = "Accept: application/json";
  if (t->key_header) headers[h++] = t->key_header;
  headers[h] = NULL;
  struct http_client_opts o = {
      .method = body ? "POST" : "GET",
      .url = url,
      .headers = headers,
      .body = body,
      .body_len = body ? strlen(body) : 0,
      .timeout_ms = t->timeout_ms,
      .on_start = on_start,
      .on_data = on_data,
      .on_done = on_done,
      .arg = r,
  };
  r->next = t->reqs;
  if (t->reqs) t->reqs->prev = r;
  t->reqs = r;
  int rc = http_client_request(t->hc, &o, &r->hr);
  if (rc) {
    req_free(r);
    return err_set(e, rc, "toncenter: cannot start the request");
  }
  return 0;
}

/* addr=RAW with ':' escaped */
static void addr_query(const struct ton_addr *a, const char *prefix, char *out, size_t outsz) {
  char raw[TON_ADDR_RAW_MAX];
  ton_addr_to_raw(a, raw, sizeof(raw));
  char *colon = strchr(raw, ':');
  if (colon) *colon = '\0';
  snprintf(out, outsz, "%saddress=%s%%3A%s", prefix, raw, colon ? colon + 1 : "");
}

int toncenter_send_boc(struct toncenter *t, const uint8_t *boc, size_t len, toncenter_done_cb cb, void *arg,
                       struct err *e) {
  struct buf b;
  buf_init(&b, 0);
  int rc = buf_append_str(&b, "{\"boc\":\"");
  if (!rc) rc = chain_b64_encode(boc, len, &b);
  if (!rc) rc = buf_append(&b, "\"}", 3);
  if (rc) {
    buf_free(&b);
    return err_set(e, rc, "toncenter: cannot encode the BoC");
  }
  rc = start(t, REQ_SEND_BOC, "sendBoc", NULL, (const char *)buf_ptr(&b), (union tc_cb){.done = cb}, arg, e);
  buf_free(&b);
  return rc;
}

int toncenter_run_get_method(struct toncenter *t, const struct ton_addr *a, const char *method, const char *stack_json,
                             toncenter_stack_cb cb, void *arg, struct err *e) {
  char raw[TON_ADDR_RAW_MAX];
  ton_addr_to_raw(a, raw, sizeof(raw));
  json_error_t je;
  json_t *stack = json_loads(stack_json ? stack_json : "[]", 0, &je);
  if (!json_is_array(stack)) {
    json_decref(stack);
    return err_set(e, ERR_INVALID, "toncenter: the get-method stack must be a JSON array");
  }
  json_t *req = json_pack("{s:s, s:s, s:o}", "address", raw, "method", method, "stack", stack);
  char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
  json_decref(req);
  if (!body) return err_set(e, ERR_NOMEM, "toncenter: out of memory");
  int rc = start(t, REQ_GET_METHOD, "runGetMethod", NULL, body, (union tc_cb){.stack = cb}, arg, e);
  free(body);
  return rc;
}

int toncenter_get_account(struct toncenter *t, const struct ton_addr *a, toncenter_account_cb cb, void *arg,
                          struct err *e) {
  char q[128];
  addr_query(a, "", q, sizeof(q));
  return start(t, REQ_ACCOUNT, "getAddressInformation", q, NULL, (union tc_cb){.account = cb}, arg, e);
}

int toncenter_get_transactions(struct toncenter *t, const struct ton_addr *a, unsigned limit, uint64_t from_lt,
                               const uint8_t *from_hash, uint64_t to_lt, toncenter_txs_cb cb, void *arg,
                               struct err *e) {
  char q[512], addr[128];
  if (limit == 0 || limit > TONCENTER_MAX_TXS) limit = TONCENTER_MAX_TXS;
  addr_query(a, "", addr, sizeof(addr));
  int n = snprintf(q, sizeof(q), "%s&limit=%u&archival=true", addr, limit);
  if (from_lt) {
    /* The hash as @ton/ton's TonClient sends it: base64, percent-encoded. */
    char enc[100] = "";
    if (from_hash) {
      struct buf b;
      buf_init(&b, 0);
      if (chain_b64_encode(from_hash, 32, &b) == 0) {
        size_t k = 0;
        for (size_t i = 0; i < b.len && k + 4 < sizeof(enc); i++) {
          char ch = (char)buf_ptr(&b)[i];
          if (ch == '+' || ch == '/' || ch == '=')
            k += (size_t)snprintf(enc + k, sizeof(enc) - k, "%%%02X", (unsigned char)ch);
          else
            enc[k++] = ch;
        }
        enc[k] = '\0';
      }
      buf_free(&b);
    }
    n += snprintf(q + n, sizeof(q) - (size_t)n, "&lt=%llu%s%s", (unsigned long long)from_lt, from_hash ? "&hash=" : "",
                  enc);
  }
  if (to_lt) snprintf(q + n, sizeof(q) - (size_t)n, "&to_lt=%llu", (unsigned long long)to_lt);
  return start(t, REQ_TXS, "getTransactions", q, NULL, (union tc_cb){.txs = cb}, arg, e);
}

/* ---- answers ---- */

int toncenter_envelope(const char *body, size_t len, int http_status, json_t **root, json_t **result, struct err *e) {
  json_error_t je;
  *result = NULL;
  *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
  if (!*root || !json_is_object(*root))
    return err_set(e, ERR_PROTO, "toncenter: HTTP %d with a non-JSON answer", http_status);
  json_t *ok = json_object_get(*root, "ok");
  if (!json_is_true(ok)) {
    const char *m = json_string_value(json_object_get(*root, "error"));
    if (!m) m = json_string_value(json_object_get(*root, "result"));
    return err_set(e, json_is_false(ok) ? ERR_REFUSED : ERR_PROTO, "toncenter: HTTP %d: %.180s", http_status,
                   m ? m : "ok is not true");
  }
  if (http_status != 200) return err_set(e, ERR_PROTO, "toncenter: HTTP %d with ok:true", http_status);
  *result = json_object_get(*root, "result");
  if (!*result) return err_set(e, ERR_PROTO, "toncenter: an answer without a result");
  return 0;
}

static int json_u64(json_t *v, uint64_t *out) {
  if (json_is_integer(v) && json_integer_value(v) >= 0) {
    *out = (uint64_t)json_integer_value(v);
    return 0;
  }
  const char *s = json_string_value(v);
  int64_t x;
  if (!s || util_parse_i64(s, 0, INT64_MAX, &x)) return -1;
  *out = (uint64_t)x;
  return 0;
}

static int b64_hash(json_t *v, uint8_t out[32]) {
  const char *s = json_string_value(v);
  struct buf b;
  if (!s) return -1;
  buf_init(&b, 64);
  int ok = chain_b64_decode(s, strlen(s), &b) == 0 && b.len == 32;
  if (ok) memcpy(out, buf_ptr(&b), 32);
  buf_free(&b);
  return ok ? 0 : -1;
}

/* "" or absent: *out NULL. */
static int b64_cell(json_t *v, struct ton_cell **out, struct err *e) {
  const char *s = json_string_value(v);
  *out = NULL;
  if (!s || !s[0]) return 0;
  struct buf b;
  buf_init(&b, TON_BOC_MAX_BYTES);
  int rc = chain_b64_decode(s, strlen(s), &b);
  if (rc) {
    buf_free(&b);
    return err_set(e, ERR_PROTO, "toncenter: bad base64 BoC");
  }
  struct err be = {0};
  rc = ton_boc_parse_one(buf_ptr(&b), b.len, out, &be);
  buf_free(&b);
  return rc ? err_set(e, ERR_PROTO, "toncenter: %s", be.msg) : 0;
}

int toncenter_account_from_json(json_t *r, struct toncenter_account *a, struct err *e) {
  memset(a, 0, sizeof(*a));
  const char *st = json_string_value(json_object_get(r, "state"));
  if (!json_is_object(r) || !st || json_u64(json_object_get(r, "balance"), &a->balance))
    return err_set(e, ERR_PROTO, "toncenter: getAddressInformation: no state or balance");
  if (!strcmp(st, "active"))
    a->state = TONCENTER_ACTIVE;
  else if (!strcmp(st, "frozen"))
    a->state = TONCENTER_FROZEN;
  else if (!strcmp(st, "uninitialized") || !strcmp(st, "uninit") || !strcmp(st, "nonexist"))
    a->state = TONCENTER_UNINIT;
  else
    return err_set(e, ERR_PROTO, "toncenter: unknown account state '%.32s'", st);
  json_t *last = json_object_get(r, "last_transaction_id");
  if (last && (json_u64(json_object_get(last, "lt"), &a->last_lt) || b64_hash(json_object_get(last, "hash"), a->last_hash)))
    return err_set(e, ERR_PROTO, "toncenter: bad last_transaction_id");
  uint64_t su = 0;
  if (!json_u64(json_object_get(r, "sync_utime"), &su) && su <= UINT32_MAX) a->sync_utime = (uint32_t)su;
  if (a->state == TONCENTER_ACTIVE) {
    int rc = b64_cell(json_object_get(r, "code"), &a->code, e);
    if (!rc) rc = b64_cell(json_object_get(r, "data"), &a->data, e);
    if (rc) return rc;
  }
  return 0;
}

static int parse_tx(json_t *j, struct toncenter_tx *tx, struct err *e) {
  json_t *id = json_object_get(j, "transaction_id");
  uint64_t ut = 0;
  memset(tx, 0, sizeof(*tx));
  if (!json_is_object(j) || json_u64(json_object_get(id, "lt"), &tx->lt) || b64_hash(json_object_get(id, "hash"), tx->hash) ||
      json_u64(json_object_get(j, "utime"), &ut) || ut > UINT32_MAX)
    return err_set(e, ERR_PROTO, "toncenter: a transaction without a valid id or time");
  tx->utime = (uint32_t)ut;
  if (json_u64(json_object_get(j, "fee"), &tx->fee)) tx->fee = 0;
  json_t *in = json_object_get(j, "in_msg");
  if (json_is_object(in)) {
    const char *src = json_string_value(json_object_get(in, "source"));
    tx->has_in_msg = 1;
    tx->in_external = !src || !src[0];
    snprintf(tx->in_source, sizeof(tx->in_source), "%s", src ? src : "");
    if (json_u64(json_object_get(in, "value"), &tx->in_value)) tx->in_value = 0;
    if (b64_hash(json_object_get(in, "body_hash"), tx->in_body_hash))
      return err_set(e, ERR_PROTO, "toncenter: a transaction's in_msg has no body_hash");
    int rc = b64_cell(json_object_get(json_object_get(in, "msg_data"), "body"), &tx->in_body, e);
    if (rc) return rc;
  }
  tx->n_out = json_array_size(json_object_get(j, "out_msgs"));
  return 0;
}

void toncenter_account_clear(struct toncenter_account *a) {
  ton_cell_unref(a->code);
  ton_cell_unref(a->data);
  a->code = a->data = NULL;
}

int toncenter_txs_from_json(json_t *result, struct toncenter_tx **out, size_t *nout, struct err *e) {
  size_t n = 0, total = json_array_size(result);
  struct toncenter_tx *txs = NULL;
  int rc = 0;
  *out = NULL;
  *nout = 0;
  if (!json_is_array(result)) return err_set(e, ERR_PROTO, "toncenter: getTransactions: not an array");
  if (total > TONCENTER_MAX_TXS)
    return err_set(e, ERR_PROTO, "toncenter: getTransactions: more than %d transactions", TONCENTER_MAX_TXS);
  if (total && !(txs = calloc(total, sizeof(*txs)))) return err_set(e, ERR_NOMEM, "toncenter: out of memory");
  while (!rc && n < total) {
    rc = parse_tx(json_array_get(result, n), &txs[n], e);
    n++; /* parse_tx leaves nothing owned on failure, but count the entry so it is released */
  }
  *out = txs;
  *nout = rc ? n : total;
  return rc;
}

void toncenter_txs_free(struct toncenter_tx *txs, size_t n) {
  for (size_t i = 0; txs && i < n; i++) ton_cell_unref(txs[i].in_body);
  free(txs);
}

static void deliver(struct tc_req *r, int rc, const char *msg, json_t *result) {
  struct err e = {0};
  switch (r->kind) {
    case REQ_SEND_BOC:
      r->cb.done(rc, msg, r->arg);
      return;
    case REQ_GET_METHOD: {
      struct chain_tvm_stack *s = calloc(1, sizeof(*s));
      if (!rc && !s) rc = err_set(&e, ERR_NOMEM, "toncenter: out of memory");
      else if (!rc) rc = chain_tvm_stack_from_json(result, s, &e);
      r->cb.stack(rc, rc ? (e.msg[0] ? e.msg : msg) : "", rc ? NULL : s, r->arg);
      if (s) chain_tvm_stack_clear(s);
      free(s);
      return;
    }
    case REQ_ACCOUNT: {
      struct toncenter_account a = {0};
      if (!rc) rc = toncenter_account_from_json(result, &a, &e);
      r->cb.account(rc, rc ? (e.msg[0] ? e.msg : msg) : "", rc ? NULL : &a, r->arg);
      toncenter_account_clear(&a);
      return;
    }
    case REQ_TXS: {
      size_t n = 0;
      struct toncenter_tx *txs = NULL;
      if (!rc) rc = toncenter_txs_from_json(result, &txs, &n, &e);
      r->cb.txs(rc, rc ? (e.msg[0] ? e.msg : msg) : "", rc ? NULL : txs, rc ? 0 : n, r->arg);
      toncenter_txs_free(txs, n);
      return;
    }
  }
}

/* ---- resend with expiry ---- */

static void send_free(struct toncenter_send *s) {
  struct toncenter *t = s->t;
  loop_timer_stop(t->loop, &s->poll);
  loop_timer_stop(t->loop, &s->resend);
  if (s->prev)
    s->prev->next = s->next;
  else
    t->sends = s->next;
  if (s->next) s->next->prev = s->prev;
  free(s->boc);
  free(s);
}

void toncenter_send_cancel(struct toncenter_send *s) {
  if (!s) return;
  /* A getTransactions in flight still points at s: detach it by cancelling all requests whose
   * arg is s. */
  struct toncenter *t = s->t;
  for (struct tc_req *r = t->reqs, *next; r; r = next) {
    next = r->next;
    if (r->arg == s) {
      if (r->hr) http_client_cancel(r->hr);
      req_free(r);
    }
  }
  send_free(s);
}

static void finish_send(struct toncenter_send *s, int rc, const char *msg, const struct toncenter_tx *tx) {
  toncenter_sent_cb cb = s->cb;
  void *arg = s->arg;
  toncenter_send_cancel(s);
  cb(rc, msg, tx, arg);
}

static void sent_cb(int rc, const char *errmsg, void *arg) {
  struct toncenter_send *s = arg;
  if (rc) log_info("ton_send_refused", "try=%llu reason=\"%s\"", (unsigned long long)s->sends, errmsg);
}

static void do_send(struct toncenter_send *s) {
  struct err e = {0};
  s->sends++;
  if (toncenter_send_boc(s->t, s->boc, s->len, sent_cb, s, &e)) log_warn("ton_send_error", "reason=\"%s\"", e.msg);
}

static void txs_cb(int rc, const char *errmsg, const struct toncenter_tx *txs, size_t n, void *arg) {
  struct toncenter_send *s = arg;
  s->polling = 0;
  if (rc) {
    log_info("ton_poll_failed", "reason=\"%s\"", errmsg);
  } else {
    for (size_t i = 0; i < n; i++)
      if (txs[i].has_in_msg && txs[i].in_external && !memcmp(txs[i].in_body_hash, s->body_hash, 32)) {
        finish_send(s, 0, "", &txs[i]);
        return;
      }
  }
  if (rc && (uint64_t)util_wall_time() > (uint64_t)s->o.valid_until + TONCENTER_CONFIRM_GRACE_S) {
    char msg[200];
    snprintf(msg, sizeof(msg), "toncenter: cannot tell whether the message was applied: %.120s", errmsg);
    finish_send(s, ERR_TIMEOUT, msg, NULL);
    return;
  }
  if (!rc && (uint64_t)util_wall_time() > s->o.valid_until) {
    /* One more successful look after expiry (the message may have landed just before
     * valid_until); a failed poll proves nothing either way. */
    if (++s->expired_checks >= 2) {
      char msg[128];
      snprintf(msg, sizeof(msg), "toncenter: the message expired (valid_until %u) without being applied after %llu sends",
               s->o.valid_until, (unsigned long long)s->sends);
      finish_send(s, ERR_TIMEOUT, msg, NULL);
      return;
    }
  }
  loop_timer_start(s->t->loop, &s->poll, s->o.poll_ms);
}

static void poll_timer(struct loop_timer *tm) {
  struct toncenter_send *s = tm->data;
  struct err e = {0};
  if (s->polling) return;
  if (toncenter_get_transactions(s->t, &s->dest, 16, 0, NULL, 0, txs_cb, s, &e)) {
    log_warn("ton_poll_error", "reason=\"%s\"", e.msg);
    loop_timer_start(s->t->loop, &s->poll, s->o.poll_ms);
    return;
  }
  s->polling = 1;
}

static void resend_timer(struct loop_timer *tm) {
  struct toncenter_send *s = tm->data;
  if ((uint64_t)util_wall_time() <= s->o.valid_until) {
    do_send(s);
    loop_timer_start(s->t->loop, &s->resend, s->o.resend_ms);
  }
}

int toncenter_send_external(struct toncenter *t, const struct ton_addr *dest, const uint8_t *boc, size_t len,
                            const uint8_t body_hash[32], const struct toncenter_send_opts *o, toncenter_sent_cb cb,
                            void *arg, struct toncenter_send **out, struct err *e) {
  if ((uint64_t)util_wall_time() > o->valid_until)
    return err_set(e, ERR_INVALID, "toncenter: valid_until %u has already passed", o->valid_until);
  if (len == 0 || len > TON_BOC_MAX_BYTES) return err_set(e, ERR_INVALID, "toncenter: bad BoC length");
  struct toncenter_send *s = calloc(1, sizeof(*s));
  if (!s || !(s->boc = malloc(len))) {
    free(s);
    return err_set(e, ERR_NOMEM, "toncenter: out of memory");
  }
  memcpy(s->boc, boc, len);
  s->len = len;
  s->t = t;
  s->dest = *dest;
  memcpy(s->body_hash, body_hash, 32);
  s->o = *o;
  if (!s->o.poll_ms) s->o.poll_ms = 1000;
  if (!s->o.resend_ms) s->o.resend_ms = 30000;
  s->cb = cb;
  s->arg = arg;
  loop_timer_init(&s->poll, poll_timer, s);
  loop_timer_init(&s->resend, resend_timer, s);
  s->next = t->sends;
  if (t->sends) t->sends->prev = s;
  t->sends = s;
  do_send(s);
  loop_timer_start(t->loop, &s->poll, s->o.poll_ms);
  loop_timer_start(t->loop, &s->resend, s->o.resend_ms);
  if (out) *out = s;
  return 0;
}

/* ---- helpers ---- */

int toncenter_ext_body(const struct ton_cell *m, struct ton_cell **out, struct err *e) {
  struct ton_slice s;
  uint64_t tag, fee;
  struct ton_addr dest, src;
  int none = 0, bit;
  ton_slice_init(&s, m);
  if (ton_slice_load_uint(&s, 2, &tag) || tag != 2 || ton_slice_load_addr(&s, &src, &none) || !none ||
      ton_slice_load_addr(&s, &dest, NULL) || ton_slice_load_coins(&s, &fee) || ton_slice_load_bit(&s, &bit))
    return err_set(e, ERR_PARSE, "toncenter: not an external-in message");
  if (bit) { /* init: Either StateInit ^StateInit */
    int in_ref;
    if (ton_slice_load_bit(&s, &in_ref)) return err_set(e, ERR_PARSE, "toncenter: bad init");
    if (in_ref) {
      const struct ton_cell *c;
      if (ton_slice_load_ref(&s, &c)) return err_set(e, ERR_PARSE, "toncenter: bad init");
    } else {
      uint64_t v;
      const struct ton_cell *c;
      int b;
      if (ton_slice_load_bit(&s, &b) || (b && ton_slice_load_uint(&s, 5, &v)) || ton_slice_load_bit(&s, &b) ||
          (b && ton_slice_load_uint(&s, 2, &v)) || ton_slice_load_maybe_ref(&s, &c) ||
          ton_slice_load_maybe_ref(&s, &c) || ton_slice_load_maybe_ref(&s, &c))
        return err_set(e, ERR_PARSE, "toncenter: bad inline StateInit");
    }
  }
  if (ton_slice_load_bit(&s, &bit)) return err_set(e, ERR_PARSE, "toncenter: no body");
  if (bit) {
    const struct ton_cell *c;
    if (ton_slice_load_ref(&s, &c) || ton_slice_end(&s)) return err_set(e, ERR_PARSE, "toncenter: bad body ref");
    *out = ton_cell_ref((struct ton_cell *)c);
    return 0;
  }
  struct ton_builder b;
  uint8_t data[TON_CELL_MAX_BYTES];
  unsigned nbits = ton_slice_bits_left(&s);
  ton_builder_init(&b);
  int rc = ton_slice_load_bits(&s, nbits, data);
  if (!rc) rc = ton_builder_store_bits(&b, data, nbits);
  while (!rc && ton_slice_refs_left(&s)) {
    const struct ton_cell *c;
    rc = ton_slice_load_ref(&s, &c);
    if (!rc) rc = ton_builder_store_ref(&b, (struct ton_cell *)c);
  }
  if (rc) {
    ton_builder_clear(&b);
    return err_set(e, ERR_PARSE, "toncenter: bad inline body");
  }
  return ton_builder_end(&b, out, e);
}
