/* tl_schema: table-driven encode/decode of the COCOON TL constructors declared in tl_schema.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "tl/tl_schema.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/*
 * Each constructor is described once by a field table (type + offset into its C struct); one
 * generic reader, writer and clearer walk the tables. This keeps the ~60 constructors from
 * becoming ~240 hand-written functions whose bounds checks could drift apart.
 */

enum ftype {
  FT_I32,
  FT_I64,
  FT_DOUBLE,
  FT_BOOL,   /* boxed Bool stored as int */
  FT_INT256, /* uint8_t[32] */
  FT_BYTES,  /* struct tl_bytes */
  FT_FLAGS,  /* uint32_t; later conditional fields test its bits */
  FT_BARE,   /* nested object without id: sub */
  FT_BOXED,  /* polymorphic boxed object: poly; the C struct starts with uint32_t id */
  FT_VEC,    /* bare vector of bare `sub` elements: pointer at off, uint32_t count at cnt_off */
};

struct desc;

struct poly {
  const char *type_name;
  const struct desc *const *alts;
  size_t nalts;
  const struct desc *dflt; /* written when the id field is 0; NULL: id 0 is an error */
};

struct field {
  enum ftype type;
  int bit; /* -1: unconditional; else flags.bit? */
  size_t off;
  size_t cnt_off;
  const struct desc *sub;
  const struct poly *poly;
};

struct desc {
  uint32_t id;
  const char *name;
  size_t size; /* sizeof the C struct; 0 for field-less constructors without one */
  const struct field *f;
  size_t nf;
  int has_id; /* alternative of a polymorphic type: store the id at offset 0 on read */
};

/* ---- generic walkers ---- */

static size_t min_wire_size(const struct desc *d) {
  size_t n = 0;
  for (size_t i = 0; i < d->nf; i++) {
    const struct field *f = &d->f[i];
    if (f->bit >= 0) continue;
    switch (f->type) {
      case FT_I64:
      case FT_DOUBLE: n += 8; break;
      case FT_INT256: n += 32; break;
      case FT_BARE: n += min_wire_size(f->sub); break;
      default: n += 4; break; /* i32, Bool, bytes, flags, boxed id, vector count */
    }
  }
  return n;
}

static const struct desc *poly_find(const struct poly *p, uint32_t id) {
  for (size_t i = 0; i < p->nalts; i++)
    if (p->alts[i]->id == id) return p->alts[i];
  return NULL;
}

static uint32_t load_u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static void *load_ptr(const uint8_t *p) {
  void *v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* Bare vector count: i32, bounded by TL_SCHEMA_MAX_VECTOR and by what the remaining input
 * could hold at min_elem bytes per element, so a forged count cannot drive a huge calloc. */
static uint32_t read_count(struct tl_reader *r, size_t min_elem) {
  int32_t raw = tl_get_i32(r);
  if (r->err) return 0;
  if (raw < 0) {
    r->err = ERR_PARSE;
    return 0;
  }
  uint32_t n = (uint32_t)raw;
  if (n > TL_SCHEMA_MAX_VECTOR) {
    r->err = ERR_LIMIT;
    return 0;
  }
  if (min_elem == 0) min_elem = 1;
  if (n > r->len / min_elem) {
    r->err = ERR_PARSE;
    return 0;
  }
  return n;
}

static void clear_fields(const struct desc *d, uint8_t *base) {
  for (size_t i = 0; i < d->nf; i++) {
    const struct field *f = &d->f[i];
    uint8_t *m = base + f->off;
    if (f->type == FT_BARE) {
      clear_fields(f->sub, m);
    } else if (f->type == FT_VEC) {
      uint8_t *arr = load_ptr(m);
      uint32_t n = load_u32(base + f->cnt_off);
      if (arr) {
        for (uint32_t k = 0; k < n; k++) clear_fields(f->sub, arr + (size_t)k * f->sub->size);
        free(arr);
      }
      void *null = NULL;
      memcpy(m, &null, sizeof null);
      memset(base + f->cnt_off, 0, sizeof(uint32_t));
    }
    /* Boxed alternatives hold no vectors. */
  }
}

static int read_fields(struct tl_reader *r, const struct desc *d, uint8_t *base) {
  uint32_t flags = 0;
  if (d->has_id) memcpy(base, &d->id, sizeof d->id);
  for (size_t i = 0; i < d->nf && !r->err; i++) {
    const struct field *f = &d->f[i];
    uint8_t *m = base + f->off;
    if (f->bit >= 0 && !((flags >> f->bit) & 1u)) continue;
    switch (f->type) {
      case FT_I32: {
        int32_t v = tl_get_i32(r);
        memcpy(m, &v, sizeof v);
        break;
      }
      case FT_I64: {
        int64_t v = tl_get_i64(r);
        memcpy(m, &v, sizeof v);
        break;
      }
      case FT_DOUBLE: {
        double v = tl_get_double(r);
        memcpy(m, &v, sizeof v);
        break;
      }
      case FT_BOOL: {
        int v = tl_get_bool(r);
        memcpy(m, &v, sizeof v);
        break;
      }
      case FT_INT256: tl_get_int256(r, m); break;
      case FT_BYTES: {
        struct tl_bytes b;
        tl_get_bytes(r, &b.p, &b.n);
        memcpy(m, &b, sizeof b);
        break;
      }
      case FT_FLAGS:
        flags = tl_get_u32(r);
        memcpy(m, &flags, sizeof flags);
        break;
      case FT_BARE: read_fields(r, f->sub, m); break;
      case FT_BOXED: {
        uint32_t id = tl_get_u32(r);
        if (r->err) break;
        const struct desc *alt = poly_find(f->poly, id);
        if (!alt) {
          r->err = ERR_PARSE;
          break;
        }
        read_fields(r, alt, m);
        break;
      }
      case FT_VEC: {
        uint32_t n = read_count(r, min_wire_size(f->sub));
        if (r->err || n == 0) break;
        uint8_t *arr = calloc(n, f->sub->size);
        if (!arr) {
          r->err = ERR_NOMEM;
          break;
        }
        /* Publish pointer and count first so a failure below is freed by clear_fields. */
        memcpy(m, &arr, sizeof arr);
        memcpy(base + f->cnt_off, &n, sizeof n);
        for (uint32_t k = 0; k < n && !r->err; k++)
          read_fields(r, f->sub, arr + (size_t)k * f->sub->size);
        break;
      }
    }
  }
  return r->err;
}

static void write_fields(struct tl_writer *w, const struct desc *d, const uint8_t *base) {
  uint32_t flags = 0;
  for (size_t i = 0; i < d->nf && !w->err; i++) {
    const struct field *f = &d->f[i];
    const uint8_t *m = base + f->off;
    if (f->bit >= 0 && !((flags >> f->bit) & 1u)) continue;
    switch (f->type) {
      case FT_I32: {
        int32_t v;
        memcpy(&v, m, sizeof v);
        tl_put_i32(w, v);
        break;
      }
      case FT_I64: {
        int64_t v;
        memcpy(&v, m, sizeof v);
        tl_put_i64(w, v);
        break;
      }
      case FT_DOUBLE: {
        double v;
        memcpy(&v, m, sizeof v);
        tl_put_double(w, v);
        break;
      }
      case FT_BOOL: {
        int v;
        memcpy(&v, m, sizeof v);
        tl_put_bool(w, v);
        break;
      }
      case FT_INT256: tl_put_int256(w, m); break;
      case FT_BYTES: {
        struct tl_bytes b;
        memcpy(&b, m, sizeof b);
        if (b.n > 0 && b.p == NULL) {
          w->err = ERR_INVALID;
          break;
        }
        tl_put_bytes(w, b.p, b.n);
        break;
      }
      case FT_FLAGS:
        flags = load_u32(m);
        tl_put_u32(w, flags);
        break;
      case FT_BARE: write_fields(w, f->sub, m); break;
      case FT_BOXED: {
        uint32_t id = load_u32(m);
        const struct desc *alt = id == 0 ? f->poly->dflt : poly_find(f->poly, id);
        if (!alt) {
          w->err = ERR_INVALID;
          break;
        }
        tl_put_u32(w, alt->id);
        write_fields(w, alt, m);
        break;
      }
      case FT_VEC: {
        const uint8_t *arr = load_ptr(m);
        uint32_t n = load_u32(base + f->cnt_off);
        if (n > TL_SCHEMA_MAX_VECTOR || n > INT32_MAX) {
          w->err = ERR_LIMIT;
          break;
        }
        if (n > 0 && arr == NULL) {
          w->err = ERR_INVALID;
          break;
        }
        tl_put_u32(w, n);
        for (uint32_t k = 0; k < n && !w->err; k++)
          write_fields(w, f->sub, arr + (size_t)k * f->sub->size);
        break;
      }
    }
  }
}

/* ---- whole-object entry points ---- */

static void obj_write(struct tl_writer *w, const struct desc *d, const void *v) {
  tl_put_u32(w, d->id);
  if (d->nf > 0) {
    if (v == NULL) {
      if (!w->err) w->err = ERR_INVALID;
      return;
    }
    write_fields(w, d, v);
  }
}

static void obj_clear(const struct desc *d, void *v) {
  if (v == NULL || d->size == 0) return;
  clear_fields(d, v);
  memset(v, 0, d->size);
}

static int obj_read(struct tl_reader *r, const struct desc *d, void *out) {
  if (d->size > 0) {
    if (out == NULL) {
      if (!r->err) r->err = ERR_INVALID;
      return r->err;
    }
    memset(out, 0, d->size);
  }
  if (r->err) return r->err;
  if (d->size == 0) return 0;
  int rc = read_fields(r, d, out);
  if (rc < 0) obj_clear(d, out);
  return rc;
}

static int obj_decode(const void *p, size_t n, const struct desc *d, void *out) {
  struct tl_reader r;
  tl_reader_init(&r, p, n);
  if (d->size > 0 && out != NULL) memset(out, 0, d->size);
  uint32_t id = tl_get_u32(&r);
  if (r.err) return ERR_PARSE;
  if (id != d->id) return ERR_PARSE;
  int rc = obj_read(&r, d, out);
  if (rc < 0) return rc;
  rc = tl_reader_finish(&r);
  if (rc < 0) obj_clear(d, out);
  return rc;
}

/* ---- the schema ---- */

#define FLD(S, m, t) {.type = (t), .bit = -1, .off = offsetof(struct S, m)}
#define OPT(S, m, t, b) {.type = (t), .bit = (b), .off = offsetof(struct S, m)}
#define BARE(S, m, d) {.type = FT_BARE, .bit = -1, .off = offsetof(struct S, m), .sub = &(d)}
#define OPT_BARE(S, m, d, b) {.type = FT_BARE, .bit = (b), .off = offsetof(struct S, m), .sub = &(d)}
#define BOXED(S, m, p) {.type = FT_BOXED, .bit = -1, .off = offsetof(struct S, m), .poly = &(p)}
#define VEC(S, m, cnt, d)                                                                      \
  {.type = FT_VEC, .bit = -1, .off = offsetof(struct S, m), .cnt_off = offsetof(struct S, cnt), \
   .sub = &(d)}
#define DESC(var, idv, nm, S, fields) \
  static const struct desc var = {(idv), (nm), sizeof(struct S), (fields), CC_ARRAY_LEN(fields), 0}
#define DESC_ALT(var, idv, nm, S, fields) \
  static const struct desc var = {(idv), (nm), sizeof(struct S), (fields), CC_ARRAY_LEN(fields), 1}
#define DESC_EMPTY(var, idv, nm) static const struct desc var = {(idv), (nm), 0, NULL, 0, 0}

static const struct field f_tokens_used[] = {
    FLD(tl_tokens_used, prompt_tokens_used, FT_I64),
    FLD(tl_tokens_used, cached_tokens_used, FT_I64),
    FLD(tl_tokens_used, completion_tokens_used, FT_I64),
    FLD(tl_tokens_used, reasoning_tokens_used, FT_I64),
    FLD(tl_tokens_used, total_tokens_used, FT_I64),
};
DESC(d_tokens_used, TL_ID_TOKENS_USED, "tokensUsed", tl_tokens_used, f_tokens_used);

static const struct field f_http_header[] = {
    FLD(tl_http_header, name, FT_BYTES),
    FLD(tl_http_header, value, FT_BYTES),
};
DESC(d_http_header, TL_ID_HTTP_HEADER, "http.header", tl_http_header, f_http_header);

static const struct field f_http_response[] = {
    FLD(tl_http_response, http_version, FT_BYTES),
    FLD(tl_http_response, status_code, FT_I32),
    FLD(tl_http_response, reason, FT_BYTES),
    VEC(tl_http_response, headers, n_headers, d_http_header),
    FLD(tl_http_response, payload, FT_BYTES),
};
DESC(d_http_response, TL_ID_HTTP_RESPONSE, "http.response", tl_http_response, f_http_response);

static const struct field f_http_request[] = {
    FLD(tl_http_request, method, FT_BYTES),
    FLD(tl_http_request, url, FT_BYTES),
    FLD(tl_http_request, http_version, FT_BYTES),
    VEC(tl_http_request, headers, n_headers, d_http_header),
    FLD(tl_http_request, payload, FT_BYTES),
};
DESC(d_http_request, TL_ID_HTTP_REQUEST, "http.request", tl_http_request, f_http_request);

static const struct field f_worker_params[] = {
    FLD(tl_worker_params, flags, FT_FLAGS),
    FLD(tl_worker_params, worker_owner_address, FT_BYTES),
    FLD(tl_worker_params, model, FT_BYTES),
    FLD(tl_worker_params, coefficient, FT_I32),
    OPT(tl_worker_params, is_test, FT_BOOL, 0),
    OPT(tl_worker_params, proxy_cnt, FT_I32, 0),
    OPT(tl_worker_params, max_active_requests, FT_I32, 0),
    OPT(tl_worker_params, min_proto_version, FT_I32, 1),
    OPT(tl_worker_params, max_proto_version, FT_I32, 1),
};
DESC(d_worker_params, TL_ID_WORKER_PARAMS, "worker.params", tl_worker_params, f_worker_params);

static const struct field f_proxy_params[] = {
    FLD(tl_proxy_params, flags, FT_FLAGS),
    FLD(tl_proxy_params, proxy_public_key, FT_INT256),
    FLD(tl_proxy_params, proxy_owner_address, FT_BYTES),
    FLD(tl_proxy_params, proxy_sc_address, FT_BYTES),
    OPT(tl_proxy_params, is_test, FT_BOOL, 0),
    OPT(tl_proxy_params, proto_version, FT_I32, 1),
};
DESC(d_proxy_params, TL_ID_PROXY_PARAMS, "proxy.params", tl_proxy_params, f_proxy_params);

static const struct field f_client_params[] = {
    FLD(tl_client_params, flags, FT_FLAGS),
    FLD(tl_client_params, client_owner_address, FT_BYTES),
    OPT(tl_client_params, is_test, FT_BOOL, 0),
    OPT(tl_client_params, min_proto_version, FT_I32, 1),
    OPT(tl_client_params, max_proto_version, FT_I32, 1),
};
DESC(d_client_params, TL_ID_CLIENT_PARAMS, "client.params", tl_client_params, f_client_params);

/* proxy.SignedPayment */
static const struct field f_signed_payment[] = {
    FLD(tl_signed_payment, data, FT_BYTES),
};
DESC_ALT(d_signed_payment, TL_ID_PROXY_SIGNED_PAYMENT, "proxy.signedPayment", tl_signed_payment,
         f_signed_payment);
static const struct desc d_signed_payment_empty = {
    TL_ID_PROXY_SIGNED_PAYMENT_EMPTY, "proxy.signedPaymentEmpty", sizeof(struct tl_signed_payment),
    NULL, 0, 1};
static const struct desc *const signed_payment_alts[] = {&d_signed_payment,
                                                         &d_signed_payment_empty};
static const struct poly p_signed_payment = {"proxy.SignedPayment", signed_payment_alts,
                                             CC_ARRAY_LEN(signed_payment_alts),
                                             &d_signed_payment_empty};

/* client.ProxyConnectionAuth */
static const struct field f_auth_short[] = {
    FLD(tl_proxy_connection_auth, secret_hash, FT_INT256),
    FLD(tl_proxy_connection_auth, nonce, FT_I64),
};
DESC_ALT(d_auth_short, TL_ID_CLIENT_PROXY_CONNECTION_AUTH_SHORT, "client.proxyConnectionAuthShort",
         tl_proxy_connection_auth, f_auth_short);
static const struct field f_auth_long[] = {
    FLD(tl_proxy_connection_auth, nonce, FT_I64),
};
DESC_ALT(d_auth_long, TL_ID_CLIENT_PROXY_CONNECTION_AUTH_LONG, "client.proxyConnectionAuthLong",
         tl_proxy_connection_auth, f_auth_long);
static const struct desc *const auth_alts[] = {&d_auth_short, &d_auth_long};
static const struct poly p_auth = {"client.ProxyConnectionAuth", auth_alts,
                                   CC_ARRAY_LEN(auth_alts), NULL};

static const struct field f_client_connect_to_proxy[] = {
    BARE(tl_client_connect_to_proxy, params, d_client_params),
    FLD(tl_client_connect_to_proxy, min_config_version, FT_I32),
};
DESC(d_client_connect_to_proxy, TL_ID_CLIENT_CONNECT_TO_PROXY, "client.connectToProxy",
     tl_client_connect_to_proxy, f_client_connect_to_proxy);

static const struct field f_client_connected_to_proxy[] = {
    BARE(tl_client_connected_to_proxy, params, d_proxy_params),
    FLD(tl_client_connected_to_proxy, client_sc_address, FT_BYTES),
    BOXED(tl_client_connected_to_proxy, auth, p_auth),
    BOXED(tl_client_connected_to_proxy, signed_payment, p_signed_payment),
};
DESC(d_client_connected_to_proxy, TL_ID_CLIENT_CONNECTED_TO_PROXY, "client.connectedToProxy",
     tl_client_connected_to_proxy, f_client_connected_to_proxy);

static const struct field f_client_authorize_short[] = {
    FLD(tl_client_authorize_with_proxy_short, data, FT_BYTES),
};
DESC(d_client_authorize_short, TL_ID_CLIENT_AUTHORIZE_WITH_PROXY_SHORT,
     "client.authorizeWithProxyShort", tl_client_authorize_with_proxy_short,
     f_client_authorize_short);
DESC_EMPTY(d_client_authorize_long, TL_ID_CLIENT_AUTHORIZE_WITH_PROXY_LONG,
           "client.authorizeWithProxyLong");

static const struct field f_auth_success[] = {
    BOXED(tl_client_authorization_with_proxy_success, signed_payment, p_signed_payment),
    FLD(tl_client_authorization_with_proxy_success, tokens_committed_to_db, FT_I64),
    FLD(tl_client_authorization_with_proxy_success, max_tokens, FT_I64),
};
DESC(d_auth_success, TL_ID_CLIENT_AUTHORIZATION_WITH_PROXY_SUCCESS,
     "client.authorizationWithProxySuccess", tl_client_authorization_with_proxy_success,
     f_auth_success);

static const struct field f_auth_failed[] = {
    FLD(tl_client_authorization_with_proxy_failed, error_code, FT_I32),
    FLD(tl_client_authorization_with_proxy_failed, error, FT_BYTES),
};
DESC(d_auth_failed, TL_ID_CLIENT_AUTHORIZATION_WITH_PROXY_FAILED,
     "client.authorizationWithProxyFailed", tl_client_authorization_with_proxy_failed,
     f_auth_failed);

#define CLIENT_RUN_QUERY_FIELDS                                 \
  FLD(tl_client_run_query, model_name, FT_BYTES),               \
      FLD(tl_client_run_query, query, FT_BYTES),                \
      FLD(tl_client_run_query, max_coefficient, FT_I32),        \
      FLD(tl_client_run_query, max_tokens, FT_I32),             \
      FLD(tl_client_run_query, timeout, FT_DOUBLE),             \
      FLD(tl_client_run_query, request_id, FT_INT256),          \
      FLD(tl_client_run_query, min_config_version, FT_I32)
static const struct field f_client_run_query[] = {CLIENT_RUN_QUERY_FIELDS};
DESC(d_client_run_query, TL_ID_CLIENT_RUN_QUERY, "client.runQuery", tl_client_run_query,
     f_client_run_query);
static const struct field f_client_run_query_ex[] = {
    CLIENT_RUN_QUERY_FIELDS,
    FLD(tl_client_run_query, flags, FT_FLAGS),
    OPT(tl_client_run_query, enable_debug, FT_BOOL, 0),
};
DESC(d_client_run_query_ex, TL_ID_CLIENT_RUN_QUERY_EX, "client.runQueryEx", tl_client_run_query,
     f_client_run_query_ex);

static const struct field f_query_answer[] = {
    FLD(tl_query_answer, answer, FT_BYTES),
    FLD(tl_query_answer, is_completed, FT_BOOL),
    FLD(tl_query_answer, request_id, FT_INT256),
    BARE(tl_query_answer, tokens_used, d_tokens_used),
};
static const struct field f_query_answer_error[] = {
    FLD(tl_query_answer_error, error_code, FT_I32),
    FLD(tl_query_answer_error, error, FT_BYTES),
    FLD(tl_query_answer_error, request_id, FT_INT256),
    BARE(tl_query_answer_error, tokens_used, d_tokens_used),
};
DESC(d_client_query_answer, TL_ID_CLIENT_QUERY_ANSWER, "client.queryAnswer", tl_query_answer,
     f_query_answer);
DESC(d_client_query_answer_part, TL_ID_CLIENT_QUERY_ANSWER_PART, "client.queryAnswerPart",
     tl_query_answer, f_query_answer);
DESC(d_client_query_answer_error, TL_ID_CLIENT_QUERY_ANSWER_ERROR, "client.queryAnswerError",
     tl_query_answer_error, f_query_answer_error);
DESC(d_client_query_answer_part_error, TL_ID_CLIENT_QUERY_ANSWER_PART_ERROR,
     "client.queryAnswerPartError", tl_query_answer_error, f_query_answer_error);
DESC(d_proxy_query_answer, TL_ID_PROXY_QUERY_ANSWER, "proxy.queryAnswer", tl_query_answer,
     f_query_answer);
DESC(d_proxy_query_answer_part, TL_ID_PROXY_QUERY_ANSWER_PART, "proxy.queryAnswerPart",
     tl_query_answer, f_query_answer);
DESC(d_proxy_query_answer_error, TL_ID_PROXY_QUERY_ANSWER_ERROR, "proxy.queryAnswerError",
     tl_query_answer_error, f_query_answer_error);
DESC(d_proxy_query_answer_part_error, TL_ID_PROXY_QUERY_ANSWER_PART_ERROR,
     "proxy.queryAnswerPartError", tl_query_answer_error, f_query_answer_error);

static const struct field f_client_final_info[] = {
    FLD(tl_query_final_info, flags, FT_FLAGS),
    BARE(tl_query_final_info, tokens_used, d_tokens_used),
    OPT(tl_query_final_info, worker_debug, FT_BYTES, 0),
    OPT(tl_query_final_info, proxy_debug, FT_BYTES, 0),
    OPT(tl_query_final_info, proxy_start_time, FT_DOUBLE, 1),
    OPT(tl_query_final_info, proxy_end_time, FT_DOUBLE, 1),
    OPT(tl_query_final_info, worker_start_time, FT_DOUBLE, 1),
    OPT(tl_query_final_info, worker_end_time, FT_DOUBLE, 1),
};
DESC(d_client_final_info, TL_ID_CLIENT_QUERY_FINAL_INFO, "client.queryFinalInfo",
     tl_query_final_info, f_client_final_info);
static const struct field f_proxy_final_info[] = {
    FLD(tl_query_final_info, flags, FT_FLAGS),
    BARE(tl_query_final_info, tokens_used, d_tokens_used),
    OPT(tl_query_final_info, worker_debug, FT_BYTES, 0),
    OPT(tl_query_final_info, worker_start_time, FT_DOUBLE, 1),
    OPT(tl_query_final_info, worker_end_time, FT_DOUBLE, 1),
};
DESC(d_proxy_final_info, TL_ID_PROXY_QUERY_FINAL_INFO, "proxy.queryFinalInfo",
     tl_query_final_info, f_proxy_final_info);

#define ANSWER_EX_FIELDS(final)                               \
  FLD(tl_query_answer_ex, request_id, FT_INT256),             \
      FLD(tl_query_answer_ex, answer, FT_BYTES),              \
      FLD(tl_query_answer_ex, flags, FT_FLAGS),               \
      OPT_BARE(tl_query_answer_ex, final_info, final, 0)
#define ANSWER_ERROR_EX_FIELDS(final)                         \
  FLD(tl_query_answer_error_ex, request_id, FT_INT256),       \
      FLD(tl_query_answer_error_ex, error_code, FT_I32),      \
      FLD(tl_query_answer_error_ex, error, FT_BYTES),         \
      FLD(tl_query_answer_error_ex, flags, FT_FLAGS),         \
      OPT_BARE(tl_query_answer_error_ex, final_info, final, 0)
static const struct field f_client_answer_ex[] = {ANSWER_EX_FIELDS(d_client_final_info)};
static const struct field f_proxy_answer_ex[] = {ANSWER_EX_FIELDS(d_proxy_final_info)};
static const struct field f_client_answer_error_ex[] = {
    ANSWER_ERROR_EX_FIELDS(d_client_final_info)};
static const struct field f_proxy_answer_error_ex[] = {ANSWER_ERROR_EX_FIELDS(d_proxy_final_info)};
DESC(d_client_query_answer_ex, TL_ID_CLIENT_QUERY_ANSWER_EX, "client.queryAnswerEx",
     tl_query_answer_ex, f_client_answer_ex);
DESC(d_client_query_answer_part_ex, TL_ID_CLIENT_QUERY_ANSWER_PART_EX, "client.queryAnswerPartEx",
     tl_query_answer_ex, f_client_answer_ex);
DESC(d_client_query_answer_error_ex, TL_ID_CLIENT_QUERY_ANSWER_ERROR_EX,
     "client.queryAnswerErrorEx", tl_query_answer_error_ex, f_client_answer_error_ex);
DESC(d_proxy_query_answer_ex, TL_ID_PROXY_QUERY_ANSWER_EX, "proxy.queryAnswerEx",
     tl_query_answer_ex, f_proxy_answer_ex);
DESC(d_proxy_query_answer_part_ex, TL_ID_PROXY_QUERY_ANSWER_PART_EX, "proxy.queryAnswerPartEx",
     tl_query_answer_ex, f_proxy_answer_ex);
DESC(d_proxy_query_answer_error_ex, TL_ID_PROXY_QUERY_ANSWER_ERROR_EX, "proxy.queryAnswerErrorEx",
     tl_query_answer_error_ex, f_proxy_answer_error_ex);

static const struct field f_payment_status[] = {
    BOXED(tl_payment_status, signed_payment, p_signed_payment),
    FLD(tl_payment_status, db_tokens, FT_I64),
    FLD(tl_payment_status, max_tokens, FT_I64),
};
DESC(d_client_payment_status, TL_ID_CLIENT_PAYMENT_STATUS, "client.paymentStatus",
     tl_payment_status, f_payment_status);
DESC(d_worker_payment_status, TL_ID_WORKER_PAYMENT_STATUS, "worker.paymentStatus",
     tl_payment_status, f_payment_status);
DESC_EMPTY(d_client_update_payment_status, TL_ID_CLIENT_UPDATE_PAYMENT_STATUS,
           "client.updatePaymentStatus");
DESC_EMPTY(d_worker_update_payment_status, TL_ID_WORKER_UPDATE_PAYMENT_STATUS,
           "worker.updatePaymentStatus");

static const struct field f_worker_type[] = {
    FLD(tl_client_worker_type, name, FT_BYTES),
    FLD(tl_client_worker_type, active_workers, FT_I32),
    FLD(tl_client_worker_type, coefficient_min, FT_I32),
    FLD(tl_client_worker_type, coefficient_bucket50, FT_I32),
    FLD(tl_client_worker_type, coefficient_max, FT_I32),
};
DESC(d_worker_type, TL_ID_CLIENT_WORKER_TYPE, "client.workerType", tl_client_worker_type,
     f_worker_type);
static const struct field f_worker_types[] = {
    VEC(tl_client_worker_types, types, n_types, d_worker_type),
};
DESC(d_worker_types, TL_ID_CLIENT_WORKER_TYPES, "client.workerTypes", tl_client_worker_types,
     f_worker_types);
static const struct field f_worker_instance_v2[] = {
    FLD(tl_client_worker_instance_v2, flags, FT_FLAGS),
    FLD(tl_client_worker_instance_v2, coefficient, FT_I32),
    FLD(tl_client_worker_instance_v2, active_requests, FT_I32),
    FLD(tl_client_worker_instance_v2, max_active_requests, FT_I32),
};
DESC(d_worker_instance_v2, TL_ID_CLIENT_WORKER_INSTANCE_V2, "client.workerInstanceV2",
     tl_client_worker_instance_v2, f_worker_instance_v2);
static const struct field f_worker_type_v2[] = {
    FLD(tl_client_worker_type_v2, name, FT_BYTES),
    VEC(tl_client_worker_type_v2, workers, n_workers, d_worker_instance_v2),
};
DESC(d_worker_type_v2, TL_ID_CLIENT_WORKER_TYPE_V2, "client.workerTypeV2",
     tl_client_worker_type_v2, f_worker_type_v2);
static const struct field f_worker_types_v2[] = {
    VEC(tl_client_worker_types_v2, types, n_types, d_worker_type_v2),
};
DESC(d_worker_types_v2, TL_ID_CLIENT_WORKER_TYPES_V2, "client.workerTypesV2",
     tl_client_worker_types_v2, f_worker_types_v2);
DESC_EMPTY(d_get_worker_types, TL_ID_CLIENT_GET_WORKER_TYPES, "client.getWorkerTypes");
DESC_EMPTY(d_get_worker_types_v2, TL_ID_CLIENT_GET_WORKER_TYPES_V2, "client.getWorkerTypesV2");

#define PROXY_RUN_QUERY_FIELDS                                      \
  FLD(tl_proxy_run_query, query, FT_BYTES),                         \
      BOXED(tl_proxy_run_query, signed_payment, p_signed_payment),  \
      FLD(tl_proxy_run_query, coefficient, FT_I64),                 \
      FLD(tl_proxy_run_query, timeout, FT_DOUBLE),                  \
      FLD(tl_proxy_run_query, request_id, FT_INT256)
static const struct field f_proxy_run_query[] = {PROXY_RUN_QUERY_FIELDS};
DESC(d_proxy_run_query, TL_ID_PROXY_RUN_QUERY, "proxy.runQuery", tl_proxy_run_query,
     f_proxy_run_query);
static const struct field f_proxy_run_query_ex[] = {
    PROXY_RUN_QUERY_FIELDS,
    FLD(tl_proxy_run_query, flags, FT_FLAGS),
    OPT(tl_proxy_run_query, enable_debug, FT_BOOL, 0),
};
DESC(d_proxy_run_query_ex, TL_ID_PROXY_RUN_QUERY_EX, "proxy.runQueryEx", tl_proxy_run_query,
     f_proxy_run_query_ex);

#define REQUEST_PAYMENT_FIELDS                                     \
  FLD(tl_request_payment, request_id, FT_INT256),                  \
      BOXED(tl_request_payment, signed_payment, p_signed_payment), \
      FLD(tl_request_payment, db_tokens, FT_I64),                  \
      FLD(tl_request_payment, max_tokens, FT_I64),                 \
      FLD(tl_request_payment, request_tokens, FT_I64)
static const struct field f_client_request_payment[] = {REQUEST_PAYMENT_FIELDS};
DESC(d_client_request_payment, TL_ID_PROXY_CLIENT_REQUEST_PAYMENT, "proxy.clientRequestPayment",
     tl_request_payment, f_client_request_payment);
static const struct field f_worker_request_payment[] = {
    REQUEST_PAYMENT_FIELDS,
    FLD(tl_request_payment, request_client_owner, FT_BYTES),
};
DESC(d_worker_request_payment, TL_ID_PROXY_WORKER_REQUEST_PAYMENT, "proxy.workerRequestPayment",
     tl_request_payment, f_worker_request_payment);

static const struct field f_worker_connect_to_proxy[] = {
    BARE(tl_worker_connect_to_proxy, params, d_worker_params),
};
DESC(d_worker_connect_to_proxy, TL_ID_WORKER_CONNECT_TO_PROXY, "worker.connectToProxy",
     tl_worker_connect_to_proxy, f_worker_connect_to_proxy);
static const struct field f_worker_connected_to_proxy[] = {
    BARE(tl_worker_connected_to_proxy, params, d_proxy_params),
    FLD(tl_worker_connected_to_proxy, worker_sc_address, FT_BYTES),
};
DESC(d_worker_connected_to_proxy, TL_ID_WORKER_CONNECTED_TO_PROXY, "worker.connectedToProxy",
     tl_worker_connected_to_proxy, f_worker_connected_to_proxy);

static const struct field f_cmp_balance[] = {
    FLD(tl_worker_compare_balance_with_proxy, tokens_committed_to_blockchain, FT_I64),
    FLD(tl_worker_compare_balance_with_proxy, tokens_committed_to_db, FT_I64),
    FLD(tl_worker_compare_balance_with_proxy, max_tokens, FT_I64),
};
DESC(d_cmp_balance, TL_ID_WORKER_COMPARE_BALANCE_WITH_PROXY, "worker.compareBalanceWithProxy",
     tl_worker_compare_balance_with_proxy, f_cmp_balance);
static const struct field f_cmp_balance_result[] = {
    BOXED(tl_worker_compare_balance_with_proxy_result, signed_payment, p_signed_payment),
    FLD(tl_worker_compare_balance_with_proxy_result, tokens_committed_to_db, FT_I64),
    FLD(tl_worker_compare_balance_with_proxy_result, max_tokens, FT_I64),
    FLD(tl_worker_compare_balance_with_proxy_result, error_code, FT_I32),
};
DESC(d_cmp_balance_result, TL_ID_WORKER_COMPARE_BALANCE_WITH_PROXY_RESULT,
     "worker.compareBalanceWithProxyResult", tl_worker_compare_balance_with_proxy_result,
     f_cmp_balance_result);
static const struct field f_ext_cmp[] = {
    FLD(tl_worker_extended_compare_balance_with_proxy, tokens_committed_to_db, FT_I64),
    FLD(tl_worker_extended_compare_balance_with_proxy, other, FT_BYTES),
};
DESC(d_ext_cmp, TL_ID_WORKER_EXTENDED_COMPARE_BALANCE_WITH_PROXY,
     "worker.extendedCompareBalanceWithProxy", tl_worker_extended_compare_balance_with_proxy,
     f_ext_cmp);
static const struct field f_ext_cmp_result[] = {
    FLD(tl_worker_extended_compare_balance_with_proxy_result, error_code, FT_I32),
};
DESC(d_ext_cmp_result, TL_ID_WORKER_EXTENDED_COMPARE_BALANCE_WITH_PROXY_RESULT,
     "worker.extendedCompareBalanceWithProxyResult",
     tl_worker_extended_compare_balance_with_proxy_result, f_ext_cmp_result);

static const struct field f_handshake_complete[] = {
    FLD(tl_worker_proxy_handshake_complete, is_disabled, FT_BOOL),
};
DESC(d_handshake_complete, TL_ID_WORKER_PROXY_HANDSHAKE_COMPLETE, "worker.proxyHandshakeComplete",
     tl_worker_proxy_handshake_complete, f_handshake_complete);
DESC_EMPTY(d_handshake_completed, TL_ID_WORKER_PROXY_HANDSHAKE_COMPLETED,
           "worker.proxyHandshakeCompleted");

static const struct field f_enabled_disabled[] = {
    FLD(tl_worker_enabled_disabled, disabled, FT_I32),
};
DESC(d_enabled_disabled, TL_ID_WORKER_ENABLED_DISABLED, "worker.enabledDisabled",
     tl_worker_enabled_disabled, f_enabled_disabled);
static const struct field f_new_coefficient[] = {
    FLD(tl_worker_new_coefficient, new_coefficient, FT_I32),
};
DESC(d_new_coefficient, TL_ID_WORKER_NEW_COEFFICIENT, "worker.newCoefficient",
     tl_worker_new_coefficient, f_new_coefficient);

static const struct field f_cx_settle[] = {
    FLD(tl_cocoonx_client_settle, op, FT_I32),
    FLD(tl_cocoonx_client_settle, amount, FT_I64),
    BOXED(tl_cocoonx_client_settle, signed_payment, p_signed_payment),
};
DESC(d_cx_settle, TL_ID_COCOONX_CLIENT_SETTLE, "cocoonx.clientSettle", tl_cocoonx_client_settle, f_cx_settle);
static const struct field f_cx_account[] = {
    FLD(tl_cocoonx_client_account, state, FT_I32),
    FLD(tl_cocoonx_client_account, balance, FT_I64),
    FLD(tl_cocoonx_client_account, stake, FT_I64),
    FLD(tl_cocoonx_client_account, reserved, FT_I64),
    FLD(tl_cocoonx_client_account, tokens_used, FT_I64),
    FLD(tl_cocoonx_client_account, tokens_charged, FT_I64),
    FLD(tl_cocoonx_client_account, unlock_at, FT_I64),
    FLD(tl_cocoonx_client_account, moved, FT_I64),
    BOXED(tl_cocoonx_client_account, signed_payment, p_signed_payment),
    FLD(tl_cocoonx_client_account, db_tokens, FT_I64),
};
DESC(d_cx_account, TL_ID_COCOONX_CLIENT_ACCOUNT, "cocoonx.clientAccount", tl_cocoonx_client_account,
     f_cx_account);

/* ---- typed entry points ---- */

#define TL_SCHEMA_DEFINE(x, T, D)                                                  \
  void tl_##x##_write(struct tl_writer *w, const struct T *v) { obj_write(w, &(D), v); } \
  int tl_##x##_read(struct tl_reader *r, struct T *out) { return obj_read(r, &(D), out); } \
  int tl_##x##_decode(const void *p, size_t n, struct T *out) {                     \
    return obj_decode(p, n, &(D), out);                                             \
  }                                                                                 \
  void tl_##x##_clear(struct T *v) { obj_clear(&(D), v); }

TL_SCHEMA_DEFINE(tokens_used, tl_tokens_used, d_tokens_used)
TL_SCHEMA_DEFINE(http_header, tl_http_header, d_http_header)
TL_SCHEMA_DEFINE(http_response, tl_http_response, d_http_response)
TL_SCHEMA_DEFINE(http_request, tl_http_request, d_http_request)
TL_SCHEMA_DEFINE(worker_params, tl_worker_params, d_worker_params)
TL_SCHEMA_DEFINE(proxy_params, tl_proxy_params, d_proxy_params)
TL_SCHEMA_DEFINE(client_params, tl_client_params, d_client_params)
TL_SCHEMA_DEFINE(client_connect_to_proxy, tl_client_connect_to_proxy, d_client_connect_to_proxy)
TL_SCHEMA_DEFINE(client_connected_to_proxy, tl_client_connected_to_proxy,
                 d_client_connected_to_proxy)
TL_SCHEMA_DEFINE(client_authorize_with_proxy_short, tl_client_authorize_with_proxy_short,
                 d_client_authorize_short)
TL_SCHEMA_DEFINE(client_authorization_with_proxy_success,
                 tl_client_authorization_with_proxy_success, d_auth_success)
TL_SCHEMA_DEFINE(client_authorization_with_proxy_failed, tl_client_authorization_with_proxy_failed,
                 d_auth_failed)
TL_SCHEMA_DEFINE(client_run_query, tl_client_run_query, d_client_run_query)
TL_SCHEMA_DEFINE(client_run_query_ex, tl_client_run_query, d_client_run_query_ex)
TL_SCHEMA_DEFINE(client_query_answer, tl_query_answer, d_client_query_answer)
TL_SCHEMA_DEFINE(client_query_answer_part, tl_query_answer, d_client_query_answer_part)
TL_SCHEMA_DEFINE(client_query_answer_error, tl_query_answer_error, d_client_query_answer_error)
TL_SCHEMA_DEFINE(client_query_answer_part_error, tl_query_answer_error,
                 d_client_query_answer_part_error)
TL_SCHEMA_DEFINE(client_query_answer_ex, tl_query_answer_ex, d_client_query_answer_ex)
TL_SCHEMA_DEFINE(client_query_answer_part_ex, tl_query_answer_ex, d_client_query_answer_part_ex)
TL_SCHEMA_DEFINE(client_query_answer_error_ex, tl_query_answer_error_ex,
                 d_client_query_answer_error_ex)
TL_SCHEMA_DEFINE(client_query_final_info, tl_query_final_info, d_client_final_info)
TL_SCHEMA_DEFINE(client_payment_status, tl_payment_status, d_client_payment_status)
TL_SCHEMA_DEFINE(client_worker_type, tl_client_worker_type, d_worker_type)
TL_SCHEMA_DEFINE(client_worker_types, tl_client_worker_types, d_worker_types)
TL_SCHEMA_DEFINE(client_worker_instance_v2, tl_client_worker_instance_v2, d_worker_instance_v2)
TL_SCHEMA_DEFINE(client_worker_type_v2, tl_client_worker_type_v2, d_worker_type_v2)
TL_SCHEMA_DEFINE(client_worker_types_v2, tl_client_worker_types_v2, d_worker_types_v2)
TL_SCHEMA_DEFINE(proxy_run_query, tl_proxy_run_query, d_proxy_run_query)
TL_SCHEMA_DEFINE(proxy_run_query_ex, tl_proxy_run_query, d_proxy_run_query_ex)
TL_SCHEMA_DEFINE(proxy_query_answer, tl_query_answer, d_proxy_query_answer)
TL_SCHEMA_DEFINE(proxy_query_answer_part, tl_query_answer, d_proxy_query_answer_part)
TL_SCHEMA_DEFINE(proxy_query_answer_error, tl_query_answer_error, d_proxy_query_answer_error)
TL_SCHEMA_DEFINE(proxy_query_answer_part_error, tl_query_answer_error,
                 d_proxy_query_answer_part_error)
TL_SCHEMA_DEFINE(proxy_query_answer_ex, tl_query_answer_ex, d_proxy_query_answer_ex)
TL_SCHEMA_DEFINE(proxy_query_answer_part_ex, tl_query_answer_ex, d_proxy_query_answer_part_ex)
TL_SCHEMA_DEFINE(proxy_query_answer_error_ex, tl_query_answer_error_ex,
                 d_proxy_query_answer_error_ex)
TL_SCHEMA_DEFINE(proxy_query_final_info, tl_query_final_info, d_proxy_final_info)
TL_SCHEMA_DEFINE(proxy_client_request_payment, tl_request_payment, d_client_request_payment)
TL_SCHEMA_DEFINE(proxy_worker_request_payment, tl_request_payment, d_worker_request_payment)
TL_SCHEMA_DEFINE(worker_connect_to_proxy, tl_worker_connect_to_proxy, d_worker_connect_to_proxy)
TL_SCHEMA_DEFINE(worker_connected_to_proxy, tl_worker_connected_to_proxy,
                 d_worker_connected_to_proxy)
TL_SCHEMA_DEFINE(worker_compare_balance_with_proxy, tl_worker_compare_balance_with_proxy,
                 d_cmp_balance)
TL_SCHEMA_DEFINE(worker_compare_balance_with_proxy_result,
                 tl_worker_compare_balance_with_proxy_result, d_cmp_balance_result)
TL_SCHEMA_DEFINE(worker_extended_compare_balance_with_proxy,
                 tl_worker_extended_compare_balance_with_proxy, d_ext_cmp)
TL_SCHEMA_DEFINE(worker_extended_compare_balance_with_proxy_result,
                 tl_worker_extended_compare_balance_with_proxy_result, d_ext_cmp_result)
TL_SCHEMA_DEFINE(worker_proxy_handshake_complete, tl_worker_proxy_handshake_complete,
                 d_handshake_complete)
TL_SCHEMA_DEFINE(worker_payment_status, tl_payment_status, d_worker_payment_status)
TL_SCHEMA_DEFINE(worker_enabled_disabled, tl_worker_enabled_disabled, d_enabled_disabled)
TL_SCHEMA_DEFINE(worker_new_coefficient, tl_worker_new_coefficient, d_new_coefficient)
TL_SCHEMA_DEFINE(cocoonx_client_settle, tl_cocoonx_client_settle, d_cx_settle)
TL_SCHEMA_DEFINE(cocoonx_client_account, tl_cocoonx_client_account, d_cx_account)

/* A polymorphic value standing alone: id first, then the alternative's fields. */
static void poly_write(struct tl_writer *w, const struct poly *p, const void *v) {
  uint32_t id;
  if (v == NULL) {
    if (!w->err) w->err = ERR_INVALID;
    return;
  }
  memcpy(&id, v, sizeof id);
  const struct desc *alt = id == 0 ? p->dflt : poly_find(p, id);
  if (!alt) {
    if (!w->err) w->err = ERR_INVALID;
    return;
  }
  tl_put_u32(w, alt->id);
  write_fields(w, alt, v);
}

static int poly_read(struct tl_reader *r, const struct poly *p, void *out, size_t size) {
  memset(out, 0, size);
  uint32_t id = tl_get_u32(r);
  if (r->err) return r->err;
  const struct desc *alt = poly_find(p, id);
  if (!alt) {
    r->err = ERR_PARSE;
    return r->err;
  }
  int rc = read_fields(r, alt, out);
  if (rc < 0) memset(out, 0, size);
  return rc;
}

void tl_signed_payment_write(struct tl_writer *w, const struct tl_signed_payment *v) {
  poly_write(w, &p_signed_payment, v);
}

int tl_signed_payment_read(struct tl_reader *r, struct tl_signed_payment *out) {
  return poly_read(r, &p_signed_payment, out, sizeof *out);
}

void tl_proxy_connection_auth_write(struct tl_writer *w,
                                    const struct tl_proxy_connection_auth *v) {
  poly_write(w, &p_auth, v);
}

int tl_proxy_connection_auth_read(struct tl_reader *r, struct tl_proxy_connection_auth *out) {
  return poly_read(r, &p_auth, out, sizeof *out);
}

void tl_empty_write(struct tl_writer *w, uint32_t id) { tl_put_u32(w, id); }

int tl_empty_decode(const void *p, size_t n, uint32_t id) {
  uint32_t got;
  if (n != 4 || tl_peek_id(p, n, &got) < 0 || got != id) return ERR_PARSE;
  return 0;
}

int tl_peek_id(const void *p, size_t n, uint32_t *id) {
  if (p == NULL || n < 4) return ERR_PARSE;
  struct tl_reader r;
  tl_reader_init(&r, p, 4);
  *id = tl_get_u32(&r);
  return 0;
}

/* ---- registry by id ---- */

static const struct desc *const registry[] = {
    &d_tokens_used,
    &d_http_header,
    &d_http_response,
    &d_http_request,
    &d_worker_params,
    &d_proxy_params,
    &d_client_params,
    &d_client_connect_to_proxy,
    &d_client_connected_to_proxy,
    &d_auth_short,
    &d_auth_long,
    &d_client_authorize_short,
    &d_client_authorize_long,
    &d_auth_success,
    &d_auth_failed,
    &d_client_run_query,
    &d_client_run_query_ex,
    &d_client_query_answer,
    &d_client_query_answer_error,
    &d_client_query_answer_part,
    &d_client_query_answer_part_error,
    &d_client_query_answer_ex,
    &d_client_query_answer_error_ex,
    &d_client_query_answer_part_ex,
    &d_client_final_info,
    &d_client_update_payment_status,
    &d_client_payment_status,
    &d_get_worker_types,
    &d_worker_types,
    &d_worker_type,
    &d_get_worker_types_v2,
    &d_worker_types_v2,
    &d_worker_type_v2,
    &d_worker_instance_v2,
    &d_proxy_run_query,
    &d_proxy_run_query_ex,
    &d_signed_payment,
    &d_signed_payment_empty,
    &d_proxy_query_answer,
    &d_proxy_query_answer_error,
    &d_proxy_query_answer_part,
    &d_proxy_query_answer_part_error,
    &d_proxy_query_answer_ex,
    &d_proxy_query_answer_error_ex,
    &d_proxy_query_answer_part_ex,
    &d_proxy_final_info,
    &d_client_request_payment,
    &d_worker_request_payment,
    &d_worker_connect_to_proxy,
    &d_worker_connected_to_proxy,
    &d_cmp_balance,
    &d_cmp_balance_result,
    &d_ext_cmp,
    &d_ext_cmp_result,
    &d_handshake_complete,
    &d_handshake_completed,
    &d_worker_update_payment_status,
    &d_worker_payment_status,
    &d_enabled_disabled,
    &d_new_coefficient,
    &d_cx_settle,
    &d_cx_account,
};

static const struct desc *find_desc(uint32_t id) {
  for (size_t i = 0; i < CC_ARRAY_LEN(registry); i++)
    if (registry[i]->id == id) return registry[i];
  return NULL;
}

/* Ids this module does not decode but that show up in logs (net layer, storage, configs). */
static const struct {
  uint32_t id;
  const char *name;
} other_names[] = {
    {0xbbe9627cu, "tcp.ping"},
    {0x0bd4302cu, "tcp.pong"},
    {0x9c17baf8u, "tcp.packet"},
    {0x3af51908u, "tcp.query"},
    {0xc048c311u, "tcp.queryAnswer"},
    {0x4cd2f602u, "tcp.queryError"},
    {0xa57c4261u, "tcp.connect"},
    {0x636d41d6u, "tcp.connected"},
    {0x238d863du, "client.requestRefund"},
    {0x83aabeadu, "client.refund"},
    {0xcf9d9957u, "client.refundRejected"},
    {0x47a9c2deu, "keyManager.getProxyPrivateKeys"},
    {0x2a26eff5u, "keyManager.getWorkerPrivateKeys"},
    {0x0ed66ce5u, "keyManager.privateKeys"},
    {0x60f4f8e7u, "keyManager.privateKey"},
    {0x87a976ccu, "rootConfig.pseudo"},
    {0x5e84869bu, "rootConfig.configV5"},
    {0x9f4e446au, "rootConfig.registeredProxy"},
    {0x43dc40b4u, "proxyDb.configEmpty"},
    {0xbde43703u, "proxyDb.configV4"},
    {0xad2cfb4au, "proxyDb.configV4Disabled"},
    {0x6cfeaa21u, "proxyDb.clientInfo"},
    {0x3078c9bfu, "proxyDb.clientInfoV2"},
    {0x2517b38fu, "proxyDb.workerInfo"},
    {0x525b14a9u, "proxyDb.pendingBlockchainSeqnoCommit"},
    {0x2fae7b42u, "proxyDb.oldClient"},
    {0xf04156a0u, "proxyDb.oldWorker"},
    {0xa8c9e178u, "proxyDb.oldInstance"},
    {0xd3fc2385u, "keyManagerDb.configEmpty"},
    {0x6d2817acu, "keyManagerDb.configV1"},
    {0x4d0a1e17u, "keyManagerDb.key"},
    {0xbc3f6da5u, "ton.blockIdExt"},
    {0xaf0bd51fu, "clientRunner.config"},
    {0x5bf5e272u, "proxyRunner.config"},
    {0x870db56du, "workerRunner.config"},
    {0xd7874e40u, "keyStorageRunner.config"},
    {TL_ID_BOOL_TRUE, "boolTrue"},
    {TL_ID_BOOL_FALSE, "boolFalse"},
    {TL_ID_VECTOR, "vector"},
};

const char *tl_id_name(uint32_t id) {
  const struct desc *d = find_desc(id);
  if (d) return d->name;
  for (size_t i = 0; i < CC_ARRAY_LEN(other_names); i++)
    if (other_names[i].id == id) return other_names[i].name;
  return "unknown";
}

int tl_any_known(uint32_t id) { return find_desc(id) != NULL; }

size_t tl_any_size(uint32_t id) {
  const struct desc *d = find_desc(id);
  return d ? d->size : 0;
}

void tl_any_write(struct tl_writer *w, uint32_t id, const void *v) {
  const struct desc *d = find_desc(id);
  if (!d) {
    if (!w->err) w->err = ERR_INVALID;
    return;
  }
  obj_write(w, d, v);
}

int tl_any_read(struct tl_reader *r, uint32_t id, void *out) {
  const struct desc *d = find_desc(id);
  if (!d) {
    if (!r->err) r->err = ERR_PARSE;
    return r->err;
  }
  return obj_read(r, d, out);
}

int tl_any_decode(const void *p, size_t n, uint32_t *id, void *out, size_t out_size) {
  uint32_t got;
  if (tl_peek_id(p, n, &got) < 0) return ERR_PARSE;
  if (id) *id = got;
  const struct desc *d = find_desc(got);
  if (!d) return ERR_PARSE;
  if (out_size < d->size) return ERR_INVALID;
  return obj_decode(p, n, d, out);
}

void tl_any_clear(uint32_t id, void *v) {
  const struct desc *d = find_desc(id);
  if (d) obj_clear(d, v);
}
