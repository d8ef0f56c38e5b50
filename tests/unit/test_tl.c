/* test_tl: TL codec primitives and COCOON schema encode/decode (ids, exact bytes, bounds). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"
#include "tl/tl_codec.h"
#include "tl/tl_schema.h"

#define B(s) {(const uint8_t *)(s), sizeof(s) - 1}

/* ---- helpers ---- */

struct enc {
  struct buf b;
  struct tl_writer w;
};

static void enc_init(struct enc *e) {
  buf_init(&e->b, 0);
  tl_writer_init(&e->w, &e->b);
}

static const uint8_t *enc_p(const struct enc *e) { return buf_ptr(&e->b); }

static void assert_bytes(const struct enc *e, const uint8_t *want, size_t n) {
  assert_int_equal(e->w.err, 0);
  assert_int_equal(e->b.len, n);
  assert_memory_equal(enc_p(e), want, n);
}

/* ---- CRC32 id recomputation ---- */

static uint32_t crc32_ieee(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

/* The normalization that reproduces the .tlo ids: drop '(' and ')' (so `(vector t)` becomes
 * `vector t`), collapse every whitespace run to one space, trim, drop a trailing ';'.
 * `flags:#` and `name:flags.N?Type` stay as written. Returns the CRC32, or the explicit
 * `#hex` id when the line has one. */
static uint32_t schema_line_id(const char *line) {
  char out[1024];
  size_t n = 0;
  int space = 0;
  for (const char *s = line; *s; s++) {
    char c = *s;
    if (c == '(' || c == ')' || c == ';') continue;
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = 1;
      continue;
    }
    if (space && n > 0) out[n++] = ' ';
    space = 0;
    assert_true(n < sizeof out - 2);
    out[n++] = c;
  }
  out[n] = '\0';
  const char *hash = strchr(out, '#');
  const char *sp = strchr(out, ' ');
  if (hash && (!sp || hash < sp) && hash[1] != '\0' && hash[1] != ' ') {
    uint8_t b[4];
    assert_int_equal(util_unhex(hash + 1, 8, b, 4), 0);
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
  }
  return crc32_ieee((const uint8_t *)out, n);
}

/* Lines as they appear in cocoon_api.tl (line breaks and runs of spaces included). */
static const struct {
  uint32_t id;
  const char *line;
} schema_lines[] = {
    {0xbbe9627cu, "tcp.ping id:long = tcp.Packet;"},
    {TL_ID_TOKENS_USED,
     "tokensUsed prompt_tokens_used:long cached_tokens_used:long completion_tokens_used:long "
     "reasoning_tokens_used:long \n           total_tokens_used:long = TokensUsed;"},
    {TL_ID_HTTP_HEADER, "http.header name:string value:string = http.Header;"},
    {TL_ID_HTTP_RESPONSE,
     "http.response http_version:string status_code:int reason:string headers:(vector "
     "http.header) payload:bytes = http.Response;"},
    {TL_ID_HTTP_REQUEST,
     "http.request method:string url:string http_version:string headers:(vector http.header) "
     "payload:bytes = http.Response;"},
    {TL_ID_WORKER_PARAMS,
     "worker.params#869c73ed flags:# \n  worker_owner_address:string \n  model:string \n  "
     "coefficient:int\n  is_test:flags.0?Bool\n  proxy_cnt:flags.0?int\n  "
     "max_active_requests:flags.0?int\n  min_proto_version:flags.1?int\n  "
     "max_proto_version:flags.1?int\n  = worker.Params;"},
    {TL_ID_PROXY_PARAMS,
     "proxy.params#d5c5609f flags:# \n  proxy_public_key:int256 \n  proxy_owner_address:string \n"
     "  proxy_sc_address:string\n  is_test:flags.0?Bool\n  proto_version:flags.1?int\n  = "
     "proxy.Params;"},
    {TL_ID_CLIENT_PARAMS,
     "client.params#40fdca64 flags:# \n  client_owner_address:string \n  is_test:flags.0?Bool \n"
     "  min_proto_version:flags.1?int\n  max_proto_version:flags.1?int\n  = client.Params;"},
    {TL_ID_CLIENT_PROXY_CONNECTION_AUTH_SHORT,
     "client.proxyConnectionAuthShort secret_hash:int256 nonce:long = "
     "client.ProxyConnectionAuth;"},
    {TL_ID_CLIENT_PROXY_CONNECTION_AUTH_LONG,
     "client.proxyConnectionAuthLong  nonce:long = client.ProxyConnectionAuth;"},
    {TL_ID_CLIENT_AUTHORIZATION_WITH_PROXY_SUCCESS,
     "client.authorizationWithProxySuccess signed_payment:proxy.SignedPayment "
     "tokens_committed_to_db:long max_tokens:long = client.AuthorizationWithProxy;"},
    {TL_ID_CLIENT_AUTHORIZATION_WITH_PROXY_FAILED,
     "client.authorizationWithProxyFailed error_code:int error:string = "
     "client.AuthorizationWithProxy;"},
    {TL_ID_CLIENT_CONNECTED_TO_PROXY,
     "client.connectedToProxy params:proxy.params client_sc_address:string "
     "auth:client.ProxyConnectionAuth\n                        "
     "signed_payment:proxy.SignedPayment = client.ConnectedToProxy;"},
    {TL_ID_CLIENT_QUERY_ANSWER,
     "client.queryAnswer answer:bytes is_completed:Bool request_id:int256 "
     "request_tokens_used:tokensUsed = client.QueryAnswer;"},
    {TL_ID_CLIENT_QUERY_ANSWER_ERROR,
     "client.queryAnswerError error_code:int error:string request_id:int256 "
     "request_tokens_used:tokensUsed = client.QueryAnswer;"},
    {TL_ID_CLIENT_QUERY_ANSWER_PART,
     "client.queryAnswerPart answer:bytes is_completed:Bool request_id:int256 "
     "request_tokens_used:tokensUsed = client.QueryAnswerPart;"},
    {TL_ID_CLIENT_QUERY_ANSWER_PART_ERROR,
     "client.queryAnswerPartError error_code:int error:string request_id:int256 "
     "request_tokens_used:tokensUsed = client.QueryAnswerPart;"},
    {TL_ID_CLIENT_QUERY_FINAL_INFO,
     "client.queryFinalInfo flags:# tokens_used:tokensUsed worker_debug:flags.0?string "
     "proxy_debug:flags.0?string \n                              "
     "proxy_start_time:flags.1?double proxy_end_time:flags.1?double \n                     "
     "         worker_start_time:flags.1?double worker_end_time:flags.1?double = "
     "client.QueryFinalInfo;"},
    {TL_ID_CLIENT_QUERY_ANSWER_EX,
     "client.queryAnswerEx request_id:int256 answer:bytes flags:# "
     "final_info:flags.0?client.queryFinalInfo = client.QueryAnswerEx;"},
    {TL_ID_CLIENT_QUERY_ANSWER_ERROR_EX,
     "client.queryAnswerErrorEx request_id:int256 error_code:int error:string flags:# "
     "final_info:flags.0?client.queryFinalInfo = client.QueryAnswerEx;"},
    {TL_ID_CLIENT_QUERY_ANSWER_PART_EX,
     "client.queryAnswerPartEx request_id:int256 answer:bytes flags:# "
     "final_info:flags.0?client.queryFinalInfo = client.QueryAnswerEx;"},
    {TL_ID_CLIENT_WORKER_TYPE,
     "client.workerType name:string active_workers:int coefficient_min:int "
     "coefficient_bucket50:int coefficient_max:int = client.WorkerType;"},
    {TL_ID_CLIENT_WORKER_TYPES,
     "client.workerTypes types:(vector client.workerType) = client.WorkerTypes;"},
    {TL_ID_CLIENT_WORKER_INSTANCE_V2,
     "client.workerInstanceV2#3ea93d00 flags:# coefficient:int active_requests:int "
     "max_active_requests:int = client.WorkerInstanceV2;"},
    {TL_ID_CLIENT_WORKER_TYPE_V2,
     "client.workerTypeV2 name:string workers:(vector client.workerInstanceV2) = "
     "client.WorkerTypeV2;"},
    {TL_ID_CLIENT_WORKER_TYPES_V2,
     "client.workerTypesV2 types:(vector client.workerTypeV2) = client.WorkerTypesV2;"},
    {TL_ID_CLIENT_PAYMENT_STATUS,
     "client.paymentStatus signed_payment:proxy.SignedPayment db_tokens:long max_tokens:long = "
     "client.PaymentStatus;"},
    {TL_ID_PROXY_CLIENT_REQUEST_PAYMENT,
     "proxy.clientRequestPayment request_id:int256 signed_payment:proxy.SignedPayment "
     "db_tokens:long max_tokens:long request_tokens:long = proxy.WorkerRequestPayment;"},
    {TL_ID_CLIENT_CONNECT_TO_PROXY,
     "client.connectToProxy params:client.params min_config_version:int = "
     "client.ConnectedToProxy;"},
    {TL_ID_CLIENT_AUTHORIZE_WITH_PROXY_SHORT,
     "client.authorizeWithProxyShort data:bytes = client.AuthorizationWithProxy;"},
    {TL_ID_CLIENT_AUTHORIZE_WITH_PROXY_LONG,
     "client.authorizeWithProxyLong = client.AuthorizationWithProxy;"},
    {TL_ID_CLIENT_RUN_QUERY,
     "client.runQuery model_name:string query:bytes max_coefficient:int max_tokens:int "
     "timeout:double request_id:int256 min_config_version:int = client.QueryAnswer;"},
    {TL_ID_CLIENT_RUN_QUERY_EX,
     "client.runQueryEx model_name:string query:bytes max_coefficient:int max_tokens:int "
     "timeout:double request_id:int256 min_config_version:int \n       flags:# "
     "enable_debug:flags.0?Bool = client.QueryAnswerEx;"},
    {TL_ID_CLIENT_UPDATE_PAYMENT_STATUS, "client.updatePaymentStatus = client.PaymentStatus;"},
    {TL_ID_CLIENT_GET_WORKER_TYPES, "client.getWorkerTypes = client.WorkerTypes;"},
    {TL_ID_CLIENT_GET_WORKER_TYPES_V2, "client.getWorkerTypesV2 = client.WorkerTypesV2;"},
    {TL_ID_PROXY_SIGNED_PAYMENT, "proxy.signedPayment data:bytes = proxy.SignedPayment;"},
    {TL_ID_PROXY_SIGNED_PAYMENT_EMPTY, "proxy.signedPaymentEmpty = proxy.SignedPayment;"},
    {TL_ID_PROXY_QUERY_ANSWER,
     "proxy.queryAnswer answer:bytes is_completed:Bool request_id:int256 tokens_used:tokensUsed "
     "= proxy.QueryAnswer;"},
    {TL_ID_PROXY_QUERY_ANSWER_ERROR,
     "proxy.queryAnswerError error_code:int error:string request_id:int256 "
     "tokens_used:tokensUsed = proxy.QueryAnswer;"},
    {TL_ID_PROXY_QUERY_ANSWER_PART,
     "proxy.queryAnswerPart answer:bytes is_completed:Bool request_id:int256 "
     "tokens_used:tokensUsed = proxy.QueryAnswerPart;"},
    {TL_ID_PROXY_QUERY_ANSWER_PART_ERROR,
     "proxy.queryAnswerPartError error_code:int error:string request_id:int256 "
     "tokens_used:tokensUsed = proxy.QueryAnswerPart;"},
    {TL_ID_PROXY_QUERY_FINAL_INFO,
     "proxy.queryFinalInfo flags:# tokens_used:tokensUsed worker_debug:flags.0?string \n      "
     "                       worker_start_time:flags.1?double worker_end_time:flags.1?double = "
     "proxy.QueryFinalInfo;"},
    {TL_ID_PROXY_QUERY_ANSWER_EX,
     "proxy.queryAnswerEx request_id:int256 answer:bytes flags:# "
     "final_info:flags.0?proxy.queryFinalInfo = proxy.QueryAnswerEx;"},
    {TL_ID_PROXY_QUERY_ANSWER_ERROR_EX,
     "proxy.queryAnswerErrorEx request_id:int256 error_code:int error:string flags:# "
     "final_info:flags.0?proxy.queryFinalInfo = proxy.QueryAnswerEx;"},
    {TL_ID_PROXY_QUERY_ANSWER_PART_EX,
     "proxy.queryAnswerPartEx request_id:int256 answer:bytes flags:# "
     "final_info:flags.0?proxy.queryFinalInfo = proxy.QueryAnswerEx;"},
    {TL_ID_PROXY_WORKER_REQUEST_PAYMENT,
     "proxy.workerRequestPayment request_id:int256 signed_payment:proxy.SignedPayment "
     "db_tokens:long max_tokens:long request_tokens:long request_client_owner:string = "
     "proxy.WorkerRequestPayment;"},
    {TL_ID_PROXY_RUN_QUERY,
     "proxy.runQuery query:bytes signed_payment:proxy.SignedPayment coefficient:long "
     "timeout:double request_id:int256 = proxy.QueryAnswer;"},
    {TL_ID_PROXY_RUN_QUERY_EX,
     "proxy.runQueryEx query:bytes signed_payment:proxy.SignedPayment coefficient:long "
     "timeout:double request_id:int256 \n        flags:# enable_debug:flags.0?Bool = "
     "proxy.QueryAnswer;"},
    {TL_ID_WORKER_ENABLED_DISABLED,
     "worker.enabledDisabled disabled:int = worker.EnabledDisabled;"},
    {TL_ID_WORKER_NEW_COEFFICIENT,
     "worker.newCoefficient new_coefficient:int = worker.NewCoefficient;"},
    {TL_ID_WORKER_CONNECTED_TO_PROXY,
     "worker.connectedToProxy params:proxy.params worker_sc_address:string = "
     "worker.ConnectedToProxy;"},
    {TL_ID_WORKER_COMPARE_BALANCE_WITH_PROXY_RESULT,
     "worker.compareBalanceWithProxyResult signed_payment:proxy.SignedPayment "
     "tokens_committed_to_db:long max_tokens:long error_code:int = "
     "worker.CompareBalanceWithProxyResult;"},
    {TL_ID_WORKER_EXTENDED_COMPARE_BALANCE_WITH_PROXY_RESULT,
     "worker.extendedCompareBalanceWithProxyResult error_code:int = "
     "worker.ExtendedCompareBalanceWithProxyResult;"},
    {TL_ID_WORKER_PROXY_HANDSHAKE_COMPLETED,
     "worker.proxyHandshakeCompleted = worker.HandshakeCompleted;"},
    {TL_ID_WORKER_PAYMENT_STATUS,
     "worker.paymentStatus signed_payment:proxy.SignedPayment db_tokens:long max_tokens:long = "
     "worker.PaymentStatus;"},
    {TL_ID_WORKER_CONNECT_TO_PROXY,
     "worker.connectToProxy params:worker.params = worker.ConnectedToProxy;"},
    {TL_ID_WORKER_COMPARE_BALANCE_WITH_PROXY,
     "worker.compareBalanceWithProxy tokens_committed_to_blockchain:long "
     "tokens_committed_to_db:long max_tokens:long = worker.CompareBalanceWithProxyResult;"},
    {TL_ID_WORKER_EXTENDED_COMPARE_BALANCE_WITH_PROXY,
     "worker.extendedCompareBalanceWithProxy tokens_committed_to_db:long other:bytes = "
     "worker.ExtendedCompareBalanceWithProxyResult;"},
    {TL_ID_WORKER_PROXY_HANDSHAKE_COMPLETE,
     "worker.proxyHandshakeComplete is_disabled:Bool = worker.HandshakeCompleted;"},
    {TL_ID_WORKER_UPDATE_PAYMENT_STATUS, "worker.updatePaymentStatus = worker.PaymentStatus;"},
    /* Our extension constructors (docs/protocol.md), ids derived the same way. */
    {TL_ID_COCOONX_CLIENT_SETTLE,
     "cocoonx.clientSettle op:int amount:long signed_payment:proxy.SignedPayment = "
     "cocoonx.ClientAccount;"},
    {TL_ID_COCOONX_CLIENT_ACCOUNT,
     "cocoonx.clientAccount state:int balance:long stake:long reserved:long tokens_used:long "
     "tokens_charged:long unlock_at:long moved:long signed_payment:proxy.SignedPayment "
     "db_tokens:long = cocoonx.ClientAccount;"},
    {TL_ID_BOOL_TRUE, "boolTrue = Bool;"},
    {TL_ID_BOOL_FALSE, "boolFalse = Bool;"},
};

static void test_ids_recomputed(void **state) {
  (void)state;
  for (size_t i = 0; i < CC_ARRAY_LEN(schema_lines); i++) {
    uint32_t got = schema_line_id(schema_lines[i].line);
    if (got != schema_lines[i].id)
      fail_msg("id mismatch for \"%s\": computed %08x, table %08x", schema_lines[i].line, got,
               schema_lines[i].id);
    /* Every non-tcp, non-Bool line is a constructor this module knows by that id. */
    if (strncmp(schema_lines[i].line, "tcp.", 4) != 0 && strncmp(schema_lines[i].line, "bool", 4))
      assert_true(tl_any_known(schema_lines[i].id));
  }
  /* The explicit ids differ from the CRC of their line, so the #id must win. */
  static const char wp[] =
      "worker.params flags:# worker_owner_address:string model:string coefficient:int "
      "is_test:flags.0?Bool proxy_cnt:flags.0?int max_active_requests:flags.0?int "
      "min_proto_version:flags.1?int max_proto_version:flags.1?int = worker.Params";
  assert_int_not_equal(crc32_ieee((const uint8_t *)wp, sizeof wp - 1), TL_ID_WORKER_PARAMS);
}

static void test_id_names(void **state) {
  (void)state;
  assert_string_equal(tl_id_name(TL_ID_CLIENT_RUN_QUERY_EX), "client.runQueryEx");
  assert_string_equal(tl_id_name(TL_ID_PROXY_QUERY_ANSWER_PART_EX), "proxy.queryAnswerPartEx");
  assert_string_equal(tl_id_name(0xbbe9627cu), "tcp.ping");
  assert_string_equal(tl_id_name(0xdeadbeefu), "unknown");
  for (size_t i = 0; i < CC_ARRAY_LEN(schema_lines); i++) {
    const char *n = tl_id_name(schema_lines[i].id);
    assert_string_not_equal(n, "unknown");
    /* The name is the first word of the schema line (before any '#'). */
    size_t k = strlen(n);
    assert_memory_equal(schema_lines[i].line, n, k);
    assert_true(schema_lines[i].line[k] == ' ' || schema_lines[i].line[k] == '#');
  }
}

/* ---- codec primitives ---- */

static void test_codec_bytes_lengths(void **state) {
  (void)state;
  static uint8_t data[70000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7 + 1);
  const size_t lens[] = {0, 1, 2, 3, 4, 5, 252, 253, 254, 255, 256, 300, 301, 302, 303, 65535,
                         65536, 69999};
  for (size_t i = 0; i < CC_ARRAY_LEN(lens); i++) {
    size_t n = lens[i];
    struct enc e;
    enc_init(&e);
    tl_put_bytes(&e.w, data, n);
    assert_int_equal(e.w.err, 0);
    size_t hdr = n < 254 ? 1 : 4;
    assert_int_equal(e.b.len % 4, 0);
    assert_true(e.b.len >= hdr + n && e.b.len < hdr + n + 4);
    if (n < 254) {
      assert_int_equal(enc_p(&e)[0], n);
    } else {
      assert_int_equal(enc_p(&e)[0], 0xFE);
      assert_int_equal(enc_p(&e)[1] | enc_p(&e)[2] << 8 | enc_p(&e)[3] << 16, n);
    }
    for (size_t k = hdr + n; k < e.b.len; k++) assert_int_equal(enc_p(&e)[k], 0);
    struct tl_reader r;
    tl_reader_init(&r, enc_p(&e), e.b.len);
    const uint8_t *p;
    size_t got;
    tl_get_bytes(&r, &p, &got);
    assert_int_equal(tl_reader_finish(&r), 0);
    assert_int_equal(got, n);
    if (n) assert_memory_equal(p, data, n);
    /* Every truncation fails and reports nothing. */
    for (size_t cut = 0; cut < e.b.len; cut++) {
      tl_reader_init(&r, enc_p(&e), cut);
      tl_get_bytes(&r, &p, &got);
      assert_int_not_equal(r.err, 0);
      assert_null(p);
      assert_int_equal(got, 0);
    }
    buf_free(&e.b);
  }
}

static void test_codec_bytes_bad(void **state) {
  (void)state;
  const uint8_t *p;
  size_t n;
  struct tl_reader r;
  /* 0xFF is not a length prefix. */
  static const uint8_t ff[8] = {0xFF, 1, 0, 0, 0, 0, 0, 0};
  tl_reader_init(&r, ff, sizeof ff);
  tl_get_bytes(&r, &p, &n);
  assert_int_equal(r.err, ERR_PARSE);
  /* Long form claiming 16 MiB - 1 with 4 bytes of input. */
  static const uint8_t big[8] = {0xFE, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4};
  tl_reader_init(&r, big, sizeof big);
  tl_get_bytes(&r, &p, &n);
  assert_int_equal(r.err, ERR_PARSE);
  /* Short form whose padding is missing. */
  static const uint8_t nopad[2] = {1, 'a'};
  tl_reader_init(&r, nopad, sizeof nopad);
  tl_get_bytes(&r, &p, &n);
  assert_int_equal(r.err, ERR_PARSE);
  /* The long form for a short string is accepted (TDLib does too). */
  static const uint8_t longshort[8] = {0xFE, 3, 0, 0, 'a', 'b', 'c', 0};
  tl_reader_init(&r, longshort, sizeof longshort);
  tl_get_bytes(&r, &p, &n);
  assert_int_equal(tl_reader_finish(&r), 0);
  assert_int_equal(n, 3);
  /* A writer refuses what a 3-byte length cannot carry, before touching the data. */
  struct enc e;
  enc_init(&e);
  tl_put_bytes(&e.w, ff, (size_t)1 << 24);
  assert_int_equal(e.w.err, ERR_LIMIT);
  assert_int_equal(e.b.len, 0);
  tl_put_u32(&e.w, 1); /* sticky */
  assert_int_equal(e.b.len, 0);
  buf_free(&e.b);
}

static void test_codec_str(void **state) {
  (void)state;
  struct enc e;
  enc_init(&e);
  tl_put_str(&e.w, "hello");
  tl_put_bytes(&e.w, "a\0b", 3);
  tl_put_str(&e.w, NULL);
  assert_int_equal(e.w.err, 0);
  struct tl_reader r;
  tl_reader_init(&r, enc_p(&e), e.b.len);
  char *s = tl_get_str(&r);
  assert_non_null(s);
  assert_string_equal(s, "hello");
  free(s);
  s = tl_get_str(&r);
  assert_null(s);
  assert_int_equal(r.err, ERR_PARSE);
  buf_free(&e.b);
}

static void test_codec_scalars(void **state) {
  (void)state;
  struct enc e;
  enc_init(&e);
  uint8_t h[32];
  for (int i = 0; i < 32; i++) h[i] = (uint8_t)i;
  tl_put_u32(&e.w, 0x01020304u);
  tl_put_i32(&e.w, -2);
  tl_put_i64(&e.w, -3);
  tl_put_double(&e.w, 1.5);
  tl_put_bool(&e.w, 1);
  tl_put_bool(&e.w, 0);
  tl_put_int256(&e.w, h);
  static const uint8_t want[] = {
      0x04, 0x03, 0x02, 0x01, 0xfe, 0xff, 0xff, 0xff, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0,    0,    0,    0,    0,    0,    0xf8, 0x3f, 0xb5, 0x75, 0x72, 0x99,
      0x37, 0x97, 0x79, 0xbc, 0,    1,    2,    3,    4,    5,    6,    7,    8,    9,
      10,   11,   12,   13,   14,   15,   16,   17,   18,   19,   20,   21,   22,   23,
      24,   25,   26,   27,   28,   29,   30,   31};
  assert_bytes(&e, want, sizeof want);
  struct tl_reader r;
  tl_reader_init(&r, want, sizeof want);
  assert_int_equal(tl_get_u32(&r), 0x01020304u);
  assert_int_equal(tl_get_i32(&r), -2);
  assert_true(tl_get_i64(&r) == -3);
  assert_true(tl_get_double(&r) == 1.5);
  assert_int_equal(tl_get_bool(&r), 1);
  assert_int_equal(tl_get_bool(&r), 0);
  uint8_t g[32];
  tl_get_int256(&r, g);
  assert_memory_equal(g, h, 32);
  assert_int_equal(tl_reader_finish(&r), 0);
  /* Sticky error: past the end, getters return zeros. */
  assert_int_equal(tl_get_u32(&r), 0);
  assert_int_equal(r.err, ERR_PARSE);
  assert_true(tl_get_i64(&r) == 0);
  assert_int_not_equal(tl_reader_finish(&r), 0);
  /* Bool with another constructor. */
  tl_reader_init(&r, want, 4);
  (void)tl_get_bool(&r);
  assert_int_equal(r.err, ERR_PARSE);
  /* Trailing input fails finish. */
  tl_reader_init(&r, want, 8);
  (void)tl_get_u32(&r);
  assert_int_equal(tl_reader_finish(&r), ERR_PARSE);
  buf_free(&e.b);
}

static void test_codec_vector_len(void **state) {
  (void)state;
  struct tl_reader r;
  static const uint8_t ok[16] = {0x15, 0xc4, 0xb5, 0x1c, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0};
  tl_reader_init(&r, ok, sizeof ok);
  assert_int_equal(tl_get_vector_len(&r, 4), 2);
  assert_int_equal(r.err, 0);
  tl_reader_init(&r, ok, sizeof ok);
  (void)tl_get_vector_len(&r, 8); /* 2 elements of 8 bytes do not fit in 8 */
  assert_int_not_equal(r.err, 0);
  static const uint8_t badid[8] = {0x16, 0xc4, 0xb5, 0x1c, 0, 0, 0, 0};
  tl_reader_init(&r, badid, sizeof badid);
  (void)tl_get_vector_len(&r, 4);
  assert_int_equal(r.err, ERR_PARSE);
  static const uint8_t huge[8] = {0x15, 0xc4, 0xb5, 0x1c, 0xff, 0xff, 0xff, 0x7f};
  tl_reader_init(&r, huge, sizeof huge);
  (void)tl_get_vector_len(&r, 1);
  assert_int_not_equal(r.err, 0);
}

/* ---- sample objects ---- */

static const uint8_t RID[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static struct tl_http_header s_headers[3] = {
    {B("Content-Type"), B("application/json")},
    {B("X-Empty"), B("")},
    {B("Accept"), B("*/*")},
};
static struct tl_tokens_used s_tokens = {1, 2, 3, 4, 5};
static struct tl_http_response s_http_response = {B("HTTP/1.1"), 200, B("OK"), s_headers, 3,
                                                  B("{\"a\":1}")};
static struct tl_http_request s_http_request = {B("POST"), B("/v1/chat/completions"),
                                                B("HTTP/1.1"), s_headers, 2, B("{}")};
static struct tl_worker_params s_worker_params = {3, B("EQowner"), B("Qwen@abc:def"), 1000, 1, 2,
                                                  8, 1, 2};
static struct tl_proxy_params s_proxy_params = {3, {9, 9, 9}, B("EQproxyowner"), B("EQproxysc"),
                                                1, 2};
static struct tl_client_params s_client_params = {3, B("EQclient"), 1, 1, 2};
static struct tl_signed_payment s_sp = {TL_ID_PROXY_SIGNED_PAYMENT, B("signature-bytes")};
static struct tl_signed_payment s_sp_empty = {TL_ID_PROXY_SIGNED_PAYMENT_EMPTY, {NULL, 0}};
static struct tl_proxy_connection_auth s_auth_short = {TL_ID_CLIENT_PROXY_CONNECTION_AUTH_SHORT,
                                                       {7, 7}, 42};
static struct tl_proxy_connection_auth s_auth_long = {TL_ID_CLIENT_PROXY_CONNECTION_AUTH_LONG,
                                                      {0}, 43};
static struct tl_client_connect_to_proxy s_connect = {{3, B("EQclient"), 1, 1, 2}, 5};
static struct tl_client_connected_to_proxy s_connected = {
    {3, {9}, B("o"), B("s"), 0, 2},
    B("EQclientsc"),
    {TL_ID_CLIENT_PROXY_CONNECTION_AUTH_SHORT, {1}, 44},
    {TL_ID_PROXY_SIGNED_PAYMENT, B("sig")}};
static struct tl_client_authorize_with_proxy_short s_auth_req = {B("my secret")};
static struct tl_client_authorization_with_proxy_success s_auth_ok = {
    {TL_ID_PROXY_SIGNED_PAYMENT_EMPTY, {NULL, 0}}, 100, 200};
static struct tl_client_authorization_with_proxy_failed s_auth_fail = {3, B("sha256 mismatch")};
static struct tl_client_run_query s_run_query = {
    B("Qwen"), B("query-bytes"), 4000, 1000, 114.0, {5, 5}, 7, 1, 1};
static struct tl_query_final_info s_final = {3, {1, 2, 3, 4, 5}, B("{\"w\":1}"), B("{\"p\":1}"),
                                             1.25, 2.5, 3.75, 5.0};
static struct tl_query_answer s_answer = {B("partial"), 1, {3}, {6, 7, 8, 9, 10}};
static struct tl_query_answer_error s_answer_error = {504, B("timeout in proxy"), {4},
                                                      {0, 0, 0, 0, 1}};
static struct tl_query_answer_ex s_answer_ex = {
    {6}, B("HTTP/1.1 200 OK"), 1, {3, {1, 2, 3, 4, 5}, B("wd"), B("pd"), 1, 2, 3, 4}};
static struct tl_query_answer_error_ex s_answer_error_ex = {
    {7}, 429, B("too many active queries"), 1, {2, {0}, {NULL, 0}, {NULL, 0}, 0, 0, 8.5, 9.5}};
static struct tl_payment_status s_payment_status = {{TL_ID_PROXY_SIGNED_PAYMENT, B("p")}, 10, 20};
static struct tl_client_worker_type s_wtypes[2] = {{B("Qwen"), 3, 1000, 1500, 2000},
                                                   {B("Llama"), 0, 0, 0, 0}};
static struct tl_client_worker_types s_worker_types = {s_wtypes, 2};
static struct tl_client_worker_instance_v2 s_instances[2] = {{0, 1000, 1, 8}, {0, 1200, 0, 4}};
static struct tl_client_worker_type_v2 s_wtypes_v2[2] = {{B("Qwen"), s_instances, 2},
                                                         {B("Empty"), NULL, 0}};
static struct tl_client_worker_types_v2 s_worker_types_v2 = {s_wtypes_v2, 2};
static struct tl_proxy_run_query s_proxy_run_query = {
    B("http.request bytes"), {TL_ID_PROXY_SIGNED_PAYMENT, B("sp")}, 1500, 108.3, {8}, 1, 0};
static struct tl_request_payment s_request_payment = {
    {9}, {TL_ID_PROXY_SIGNED_PAYMENT, B("pay")}, 11, 22, 33, B("EQclientowner")};
static struct tl_worker_connect_to_proxy s_wconnect = {
    {3, B("EQowner"), B("Qwen@abc:def"), 1000, 0, 1, 16, 1, 2}};
static struct tl_worker_connected_to_proxy s_wconnected = {{1, {4}, B("o"), B("s"), 1, 0},
                                                           B("EQworkersc")};
static struct tl_worker_compare_balance_with_proxy s_cmp = {1, 2, 3};
static struct tl_worker_compare_balance_with_proxy_result s_cmp_result = {
    {TL_ID_PROXY_SIGNED_PAYMENT, B("x")}, 4, 5, 1};
static struct tl_worker_extended_compare_balance_with_proxy s_ext = {6, {NULL, 0}};
static struct tl_worker_extended_compare_balance_with_proxy_result s_ext_result = {0};
static struct tl_worker_proxy_handshake_complete s_handshake = {1};
static struct tl_worker_enabled_disabled s_enabled = {1};
static struct tl_worker_new_coefficient s_newcoef = {-1};
static struct tl_cocoonx_client_settle s_cx_settle = {3, 1000, {TL_ID_PROXY_SIGNED_PAYMENT, B("boc")}};
static struct tl_cocoonx_client_account s_cx_account = {1, 10, 20, 30, 40, 50, 60, -70, {TL_ID_PROXY_SIGNED_PAYMENT_EMPTY, {0}}, 80};

static const struct {
  uint32_t id;
  const void *v;
} samples[] = {
    {TL_ID_TOKENS_USED, &s_tokens},
    {TL_ID_HTTP_HEADER, &s_headers[0]},
    {TL_ID_HTTP_RESPONSE, &s_http_response},
    {TL_ID_HTTP_REQUEST, &s_http_request},
    {TL_ID_WORKER_PARAMS, &s_worker_params},
    {TL_ID_PROXY_PARAMS, &s_proxy_params},
    {TL_ID_CLIENT_PARAMS, &s_client_params},
    {TL_ID_CLIENT_CONNECT_TO_PROXY, &s_connect},
    {TL_ID_CLIENT_CONNECTED_TO_PROXY, &s_connected},
    {TL_ID_CLIENT_PROXY_CONNECTION_AUTH_SHORT, &s_auth_short},
    {TL_ID_CLIENT_PROXY_CONNECTION_AUTH_LONG, &s_auth_long},
    {TL_ID_CLIENT_AUTHORIZE_WITH_PROXY_SHORT, &s_auth_req},
    {TL_ID_CLIENT_AUTHORIZE_WITH_PROXY_LONG, NULL},
    {TL_ID_CLIENT_AUTHORIZATION_WITH_PROXY_SUCCESS, &s_auth_ok},
    {TL_ID_CLIENT_AUTHORIZATION_WITH_PROXY_FAILED, &s_auth_fail},
    {TL_ID_CLIENT_RUN_QUERY, &s_run_query},
    {TL_ID_CLIENT_RUN_QUERY_EX, &s_run_query},
    {TL_ID_CLIENT_QUERY_ANSWER, &s_answer},
    {TL_ID_CLIENT_QUERY_ANSWER_ERROR, &s_answer_error},
    {TL_ID_CLIENT_QUERY_ANSWER_PART, &s_answer},
    {TL_ID_CLIENT_QUERY_ANSWER_PART_ERROR, &s_answer_error},
    {TL_ID_CLIENT_QUERY_ANSWER_EX, &s_answer_ex},
    {TL_ID_CLIENT_QUERY_ANSWER_ERROR_EX, &s_answer_error_ex},
    {TL_ID_CLIENT_QUERY_ANSWER_PART_EX, &s_answer_ex},
    {TL_ID_CLIENT_QUERY_FINAL_INFO, &s_final},
    {TL_ID_CLIENT_UPDATE_PAYMENT_STATUS, NULL},
    {TL_ID_CLIENT_PAYMENT_STATUS, &s_payment_status},
    {TL_ID_CLIENT_GET_WORKER_TYPES, NULL},
    {TL_ID_CLIENT_WORKER_TYPES, &s_worker_types},
    {TL_ID_CLIENT_WORKER_TYPE, &s_wtypes[0]},
    {TL_ID_CLIENT_GET_WORKER_TYPES_V2, NULL},
    {TL_ID_CLIENT_WORKER_TYPES_V2, &s_worker_types_v2},
    {TL_ID_CLIENT_WORKER_TYPE_V2, &s_wtypes_v2[0]},
    {TL_ID_CLIENT_WORKER_INSTANCE_V2, &s_instances[0]},
    {TL_ID_PROXY_RUN_QUERY, &s_proxy_run_query},
    {TL_ID_PROXY_RUN_QUERY_EX, &s_proxy_run_query},
    {TL_ID_PROXY_SIGNED_PAYMENT, &s_sp},
    {TL_ID_PROXY_SIGNED_PAYMENT_EMPTY, &s_sp_empty},
    {TL_ID_PROXY_QUERY_ANSWER, &s_answer},
    {TL_ID_PROXY_QUERY_ANSWER_ERROR, &s_answer_error},
    {TL_ID_PROXY_QUERY_ANSWER_PART, &s_answer},
    {TL_ID_PROXY_QUERY_ANSWER_PART_ERROR, &s_answer_error},
    {TL_ID_PROXY_QUERY_ANSWER_EX, &s_answer_ex},
    {TL_ID_PROXY_QUERY_ANSWER_ERROR_EX, &s_answer_error_ex},
    {TL_ID_PROXY_QUERY_ANSWER_PART_EX, &s_answer_ex},
    {TL_ID_PROXY_QUERY_FINAL_INFO, &s_final},
    {TL_ID_PROXY_CLIENT_REQUEST_PAYMENT, &s_request_payment},
    {TL_ID_PROXY_WORKER_REQUEST_PAYMENT, &s_request_payment},
    {TL_ID_WORKER_CONNECT_TO_PROXY, &s_wconnect},
    {TL_ID_WORKER_CONNECTED_TO_PROXY, &s_wconnected},
    {TL_ID_WORKER_COMPARE_BALANCE_WITH_PROXY, &s_cmp},
    {TL_ID_WORKER_COMPARE_BALANCE_WITH_PROXY_RESULT, &s_cmp_result},
    {TL_ID_WORKER_EXTENDED_COMPARE_BALANCE_WITH_PROXY, &s_ext},
    {TL_ID_WORKER_EXTENDED_COMPARE_BALANCE_WITH_PROXY_RESULT, &s_ext_result},
    {TL_ID_WORKER_PROXY_HANDSHAKE_COMPLETE, &s_handshake},
    {TL_ID_WORKER_PROXY_HANDSHAKE_COMPLETED, NULL},
    {TL_ID_WORKER_UPDATE_PAYMENT_STATUS, NULL},
    {TL_ID_WORKER_PAYMENT_STATUS, &s_payment_status},
    {TL_ID_WORKER_ENABLED_DISABLED, &s_enabled},
    {TL_ID_WORKER_NEW_COEFFICIENT, &s_newcoef},
    {TL_ID_COCOONX_CLIENT_SETTLE, &s_cx_settle},
    {TL_ID_COCOONX_CLIENT_ACCOUNT, &s_cx_account},
};

static void encode_sample(size_t i, struct enc *e) {
  enc_init(e);
  tl_any_write(&e->w, samples[i].id, samples[i].v);
  assert_int_equal(e->w.err, 0);
}

/* Encode, decode, re-encode: the bytes must match; every known id is covered. */
static void test_roundtrip_all(void **state) {
  (void)state;
  size_t known = 0;
  for (size_t i = 0; i < CC_ARRAY_LEN(schema_lines); i++)
    if (tl_any_known(schema_lines[i].id)) known++;
  assert_int_equal(known, CC_ARRAY_LEN(samples));
  for (size_t i = 0; i < CC_ARRAY_LEN(samples); i++) {
    struct enc e1, e2;
    encode_sample(i, &e1);
    uint32_t id = 0;
    size_t sz = tl_any_size(samples[i].id);
    void *obj = calloc(1, sz ? sz : 1);
    assert_non_null(obj);
    int rc = tl_any_decode(enc_p(&e1), e1.b.len, &id, obj, sz);
    if (rc != 0) fail_msg("decode of %s failed: %d", tl_id_name(samples[i].id), rc);
    assert_int_equal(id, samples[i].id);
    enc_init(&e2);
    tl_any_write(&e2.w, id, obj);
    assert_bytes(&e2, enc_p(&e1), e1.b.len);
    /* Reading after a peeked id gives the same object. */
    struct tl_reader r;
    tl_reader_init(&r, enc_p(&e1) + 4, e1.b.len - 4);
    void *obj2 = calloc(1, sz ? sz : 1);
    assert_non_null(obj2);
    assert_int_equal(tl_any_read(&r, id, obj2), 0);
    assert_int_equal(tl_reader_finish(&r), 0);
    tl_any_clear(id, obj);
    tl_any_clear(id, obj2);
    free(obj);
    free(obj2);
    buf_free(&e1.b);
    buf_free(&e2.b);
  }
}

/* Every strict prefix and every one-byte extension of every sample fails cleanly. */
static void test_truncated_and_trailing(void **state) {
  (void)state;
  for (size_t i = 0; i < CC_ARRAY_LEN(samples); i++) {
    struct enc e;
    encode_sample(i, &e);
    size_t sz = tl_any_size(samples[i].id);
    void *obj = calloc(1, sz ? sz : 1);
    assert_non_null(obj);
    for (size_t cut = 0; cut < e.b.len; cut++) {
      uint8_t *copy = malloc(cut ? cut : 1); /* exact size so ASan sees over-reads */
      assert_non_null(copy);
      memcpy(copy, enc_p(&e), cut);
      uint32_t id;
      int rc = tl_any_decode(copy, cut, &id, obj, sz);
      if (rc == 0) fail_msg("%s decoded from %zu of %zu bytes", tl_id_name(samples[i].id), cut,
                            e.b.len);
      free(copy);
    }
    uint8_t *longer = malloc(e.b.len + 4);
    assert_non_null(longer);
    memcpy(longer, enc_p(&e), e.b.len);
    memset(longer + e.b.len, 0, 4);
    uint32_t id;
    assert_int_equal(tl_any_decode(longer, e.b.len + 4, &id, obj, sz), ERR_PARSE);
    free(longer);
    free(obj);
    buf_free(&e.b);
  }
}

/* Single-byte corruptions either fail or decode to something that re-encodes stably. */
static void test_corruption(void **state) {
  (void)state;
  static const uint8_t vals[] = {0x00, 0xFF, 0xFE, 0x80, 0x01};
  for (size_t i = 0; i < CC_ARRAY_LEN(samples); i++) {
    struct enc e;
    encode_sample(i, &e);
    size_t sz = tl_any_size(samples[i].id);
    void *obj = calloc(1, sz ? sz : 1);
    uint8_t *copy = malloc(e.b.len);
    assert_non_null(obj);
    assert_non_null(copy);
    for (size_t pos = 0; pos < e.b.len; pos++) {
      for (size_t v = 0; v < CC_ARRAY_LEN(vals); v++) {
        memcpy(copy, enc_p(&e), e.b.len);
        copy[pos] = vals[v];
        uint32_t id;
        if (tl_any_decode(copy, e.b.len, &id, obj, sz) != 0) continue;
        struct enc e2;
        enc_init(&e2);
        tl_any_write(&e2.w, id, obj);
        assert_int_equal(e2.w.err, 0);
        tl_any_clear(id, obj);
        buf_free(&e2.b);
      }
    }
    free(copy);
    free(obj);
    buf_free(&e.b);
  }
}

/* ---- exact encodings derived by hand from the schema ---- */

static void test_exact_tokens_used(void **state) {
  (void)state;
  static const uint8_t want[] = {
      0x5c, 0xb1, 0xc5, 0x70, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0,
      0,    0,    0,    0,    0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0};
  struct enc e;
  enc_init(&e);
  tl_tokens_used_write(&e.w, &s_tokens);
  assert_int_equal(sizeof want, 44);
  assert_bytes(&e, want, sizeof want);
  struct tl_tokens_used t;
  assert_int_equal(tl_tokens_used_decode(want, sizeof want, &t), 0);
  assert_true(t.prompt_tokens_used == 1 && t.total_tokens_used == 5);
  assert_int_equal(tl_tokens_used_decode(want, sizeof want - 1, &t), ERR_PARSE);
  buf_free(&e.b);
}

static void test_exact_worker_params(void **state) {
  (void)state;
  struct tl_worker_params p = {3, B("EQA"), B("m1"), 1000, 1, 2, 8, 1, 2};
  static const uint8_t want3[] = {
      0xed, 0x73, 0x9c, 0x86,                   /* worker.params#869c73ed */
      3,    0,    0,    0,                      /* flags */
      3,    'E',  'Q',  'A',                    /* worker_owner_address */
      2,    'm',  '1',  0,                      /* model */
      0xe8, 0x03, 0,    0,                      /* coefficient 1000 */
      0xb5, 0x75, 0x72, 0x99,                   /* is_test: boolTrue */
      2,    0,    0,    0,                      /* proxy_cnt */
      8,    0,    0,    0,                      /* max_active_requests */
      1,    0,    0,    0,                      /* min_proto_version */
      2,    0,    0,    0};                     /* max_proto_version */
  struct enc e;
  enc_init(&e);
  tl_worker_params_write(&e.w, &p);
  assert_bytes(&e, want3, sizeof want3);
  struct tl_worker_params d;
  assert_int_equal(tl_worker_params_decode(want3, sizeof want3, &d), 0);
  assert_int_equal(d.flags, 3);
  assert_int_equal(d.is_test, 1);
  assert_int_equal(d.proxy_cnt, 2);
  assert_int_equal(d.max_proto_version, 2);
  assert_int_equal(d.model.n, 2);
  assert_memory_equal(d.model.p, "m1", 2);
  buf_free(&e.b);

  /* flags=0: the conditional fields are neither written nor read, whatever the struct holds. */
  p.flags = 0;
  static const uint8_t want0[] = {0xed, 0x73, 0x9c, 0x86, 0, 0, 0, 0, 3, 'E',
                                  'Q',  'A',  2,    'm',  '1', 0, 0xe8, 0x03, 0, 0};
  enc_init(&e);
  tl_worker_params_write(&e.w, &p);
  assert_bytes(&e, want0, sizeof want0);
  assert_int_equal(tl_worker_params_decode(want0, sizeof want0, &d), 0);
  assert_int_equal(d.flags, 0);
  assert_int_equal(d.coefficient, 1000);
  assert_int_equal(d.is_test, 0);
  assert_int_equal(d.proxy_cnt, 0);
  assert_int_equal(d.min_proto_version, 0);
  buf_free(&e.b);

  /* flags=2 only: just the proto versions. */
  p.flags = 2;
  enc_init(&e);
  tl_worker_params_write(&e.w, &p);
  assert_int_equal(e.b.len, sizeof want0 + 8);
  buf_free(&e.b);
}

static void test_exact_http_request(void **state) {
  (void)state;
  struct tl_http_header h[2] = {{B("Host"), B("a")}, {B("X-A"), B("")}};
  struct tl_http_request q = {B("GET"), B("/v1/models"), B("HTTP/1.1"), h, 2, B("{}")};
  static const uint8_t want[] = {
      0xe5, 0x2d, 0x49, 0x47,                                           /* http.request */
      3,    'G',  'E',  'T',                                            /* method */
      10,   '/',  'v',  '1',  '/', 'm', 'o', 'd', 'e', 'l', 's', 0,     /* url, 1 pad */
      8,    'H',  'T',  'T',  'P', '/', '1', '.', '1', 0,   0,   0,     /* version, 3 pad */
      2,    0,    0,    0,    /* bare vector: count only, elements without ids */
      4,    'H',  'o',  's',  't', 0,   0,   0,   1,   'a', 0,   0,     /* Host: a */
      3,    'X',  '-',  'A',  0,   0,   0,   0,                         /* X-A: "" */
      2,    '{',  '}',  0};                                             /* payload */
  struct enc e;
  enc_init(&e);
  tl_http_request_write(&e.w, &q);
  assert_bytes(&e, want, sizeof want);
  struct tl_http_request d;
  assert_int_equal(tl_http_request_decode(want, sizeof want, &d), 0);
  assert_int_equal(d.n_headers, 2);
  assert_int_equal(d.headers[0].name.n, 4);
  assert_memory_equal(d.headers[0].name.p, "Host", 4);
  assert_int_equal(d.headers[1].value.n, 0);
  assert_int_equal(d.payload.n, 2);
  tl_http_request_clear(&d);
  assert_null(d.headers);
  assert_int_equal(d.n_headers, 0);
  tl_http_request_clear(&d); /* twice is fine */
  buf_free(&e.b);
}

static void test_exact_run_query_ex(void **state) {
  (void)state;
  static uint8_t want[4 + 8 + 4 + 4 + 4 + 8 + 32 + 4 + 4 + 4];
  static const uint8_t head[] = {0x4b, 0xb7, 0x4c, 0xf5, 5, 'l', 'l', 'a', 'm', 'a', 0, 0};
  static const uint8_t mid[] = {0xa0, 0x0f, 0, 0, 0xe8, 0x03, 0, 0, /* 4000, 1000 */
                                0,    0,    0, 0, 0,    0x80, 0x5c, 0x40}; /* 114.0 */
  static const uint8_t tail[] = {7, 0, 0, 0, 1, 0, 0, 0, 0xb5, 0x75, 0x72, 0x99};
  struct tl_client_run_query q = {B("llama"), B("hi"), 4000, 1000, 114.0, {0}, 7, 1, 1};
  memcpy(q.request_id, RID, 32);

  /* Short query: 1-byte length, 1 pad byte. */
  size_t n = 0;
  memcpy(want + n, head, sizeof head);
  n += sizeof head;
  static const uint8_t qshort[] = {2, 'h', 'i', 0};
  memcpy(want + n, qshort, sizeof qshort);
  n += sizeof qshort;
  memcpy(want + n, mid, sizeof mid);
  n += sizeof mid;
  memcpy(want + n, RID, 32);
  n += 32;
  memcpy(want + n, tail, sizeof tail);
  n += sizeof tail;
  assert_int_equal(n, sizeof want);
  struct enc e;
  enc_init(&e);
  tl_client_run_query_ex_write(&e.w, &q);
  assert_bytes(&e, want, n);
  struct tl_client_run_query d;
  assert_int_equal(tl_client_run_query_ex_decode(want, n, &d), 0);
  assert_true(d.timeout == 114.0);
  assert_int_equal(d.enable_debug, 1);
  assert_memory_equal(d.request_id, RID, 32);
  /* The same bytes under client.runQuery's id are not a runQuery (trailing flags). */
  uint8_t *other = malloc(n);
  assert_non_null(other);
  memcpy(other, want, n);
  other[0] = 0x32, other[1] = 0x8f, other[2] = 0x74, other[3] = 0xbc;
  assert_int_equal(tl_client_run_query_decode(other, n, &d), ERR_PARSE);
  assert_int_equal(tl_client_run_query_decode(other, n - 8, &d), 0);
  assert_int_equal(d.flags, 0);
  free(other);
  buf_free(&e.b);

  /* 300-byte query: 0xFE + 3-byte length, 4 + 300 = 304, no padding. */
  uint8_t big[301];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i ^ 0x5a);
  for (size_t qlen = 300; qlen <= 301; qlen++) {
    size_t pad = qlen == 300 ? 0 : 3;
    size_t total = sizeof head + 4 + qlen + pad + sizeof mid + 32 + sizeof tail;
    uint8_t *w = calloc(1, total);
    assert_non_null(w);
    n = 0;
    memcpy(w + n, head, sizeof head);
    n += sizeof head;
    w[n++] = 0xFE;
    w[n++] = (uint8_t)(qlen & 0xff); /* 300 = 0x12c */
    w[n++] = (uint8_t)(qlen >> 8);
    w[n++] = 0;
    memcpy(w + n, big, qlen);
    n += qlen + pad;
    memcpy(w + n, mid, sizeof mid);
    n += sizeof mid;
    memcpy(w + n, RID, 32);
    n += 32;
    memcpy(w + n, tail, sizeof tail);
    n += sizeof tail;
    assert_int_equal(n, total);
    q.query.p = big;
    q.query.n = qlen;
    enc_init(&e);
    tl_client_run_query_ex_write(&e.w, &q);
    assert_bytes(&e, w, total);
    assert_int_equal(tl_client_run_query_ex_decode(w, total, &d), 0);
    assert_int_equal(d.query.n, qlen);
    assert_memory_equal(d.query.p, big, qlen);
    free(w);
    buf_free(&e.b);
  }
}

static void test_exact_connected_to_proxy(void **state) {
  (void)state;
  struct tl_client_connected_to_proxy c;
  memset(&c, 0, sizeof c);
  c.params.flags = 3;
  memset(c.params.proxy_public_key, 0x11, 32);
  c.params.proxy_owner_address = (struct tl_bytes)B("o");
  c.params.proxy_sc_address = (struct tl_bytes)B("s");
  c.params.is_test = 0;
  c.params.proto_version = 2;
  c.client_sc_address = (struct tl_bytes)B("c");
  c.auth.id = TL_ID_CLIENT_PROXY_CONNECTION_AUTH_SHORT;
  memset(c.auth.secret_hash, 0x22, 32);
  c.auth.nonce = 5;
  c.signed_payment.id = 0; /* 0 means signedPaymentEmpty */
  uint8_t want[4 + 4 + 32 + 4 + 4 + 4 + 4 + 4 + 4 + 32 + 8 + 4];
  size_t n = 0;
  static const uint8_t a[] = {0xd1, 0x7a, 0x31, 0x95, 3, 0, 0, 0};
  memcpy(want + n, a, sizeof a); /* connectedToProxy, then bare proxy.params: flags */
  n += sizeof a;
  memset(want + n, 0x11, 32);
  n += 32;
  static const uint8_t b[] = {1,    'o',  0,    0,    1, 's', 0, 0, /* owner, sc */
                              0x37, 0x97, 0x79, 0xbc, 2, 0,   0, 0, /* boolFalse, proto 2 */
                              1,    'c',  0,    0,                  /* client_sc_address */
                              0xaf, 0xc5, 0xff, 0xd6};              /* boxed auth short */
  memcpy(want + n, b, sizeof b);
  n += sizeof b;
  memset(want + n, 0x22, 32);
  n += 32;
  static const uint8_t t[] = {5, 0, 0, 0, 0, 0, 0, 0, 0x64, 0xce, 0x47, 0xb3};
  memcpy(want + n, t, sizeof t);
  n += sizeof t;
  assert_int_equal(n, sizeof want);
  struct enc e;
  enc_init(&e);
  tl_client_connected_to_proxy_write(&e.w, &c);
  assert_bytes(&e, want, n);
  struct tl_client_connected_to_proxy d;
  assert_int_equal(tl_client_connected_to_proxy_decode(want, n, &d), 0);
  assert_int_equal(d.auth.id, TL_ID_CLIENT_PROXY_CONNECTION_AUTH_SHORT);
  assert_int_equal(d.signed_payment.id, TL_ID_PROXY_SIGNED_PAYMENT_EMPTY);
  assert_true(d.auth.nonce == 5);
  assert_int_equal(d.params.proto_version, 2);
  buf_free(&e.b);

  /* An auth id of 0 has no default: the writer refuses. */
  c.auth.id = 0;
  enc_init(&e);
  tl_client_connected_to_proxy_write(&e.w, &c);
  assert_int_equal(e.w.err, ERR_INVALID);
  buf_free(&e.b);
  /* A garbage id in the boxed field is rejected. */
  uint8_t bad[sizeof want];
  memcpy(bad, want, n);
  bad[n - 4] ^= 1;
  assert_int_equal(tl_client_connected_to_proxy_decode(bad, n, &d), ERR_PARSE);
}

static void test_exact_answer_part_ex(void **state) {
  (void)state;
  struct tl_query_answer_ex a;
  memset(&a, 0, sizeof a);
  memset(a.request_id, 0xAA, 32);
  a.answer = (struct tl_bytes)B("ok");
  a.flags = 1;
  a.final_info.flags = 1;
  a.final_info.tokens_used = s_tokens;
  a.final_info.worker_debug = (struct tl_bytes)B("d");
  a.final_info.proxy_debug = (struct tl_bytes)B("ignored in the proxy variant");
  uint8_t want[4 + 32 + 4 + 4 + 4 + 40 + 4];
  size_t n = 0;
  static const uint8_t id[] = {0x0f, 0xb5, 0x85, 0x6d};
  memcpy(want, id, 4);
  n += 4;
  memset(want + n, 0xAA, 32);
  n += 32;
  static const uint8_t m[] = {2, 'o', 'k', 0, 1, 0, 0, 0, 1, 0, 0, 0};
  memcpy(want + n, m, sizeof m);
  n += sizeof m;
  for (int k = 1; k <= 5; k++) { /* bare tokensUsed: no id */
    uint8_t l[8] = {(uint8_t)k, 0, 0, 0, 0, 0, 0, 0};
    memcpy(want + n, l, 8);
    n += 8;
  }
  static const uint8_t dbg[] = {1, 'd', 0, 0};
  memcpy(want + n, dbg, 4);
  n += 4;
  assert_int_equal(n, sizeof want);
  struct enc e;
  enc_init(&e);
  tl_proxy_query_answer_part_ex_write(&e.w, &a);
  assert_bytes(&e, want, n);
  struct tl_query_answer_ex d;
  assert_int_equal(tl_proxy_query_answer_part_ex_decode(want, n, &d), 0);
  assert_int_equal(d.flags & TL_ANSWER_EX_F_FINAL, 1);
  assert_true(d.final_info.tokens_used.total_tokens_used == 5);
  assert_int_equal(d.final_info.proxy_debug.n, 0);
  assert_int_equal(d.final_info.worker_debug.n, 1);
  /* The same object under proxy.queryAnswerEx's id is a different constructor. */
  assert_int_equal(tl_proxy_query_answer_ex_decode(want, n, &d), ERR_PARSE);
  buf_free(&e.b);

  /* Relaying into the client variant writes proxy_debug as well. */
  enc_init(&e);
  tl_client_query_answer_part_ex_write(&e.w, &a);
  assert_int_equal(e.w.err, 0);
  assert_int_equal(e.b.len, n + 32); /* + proxy_debug: 1 + 28 bytes, padded to 32 */
  assert_int_equal(tl_client_query_answer_part_ex_decode(enc_p(&e), e.b.len, &d), 0);
  assert_int_equal(d.final_info.proxy_debug.n, 28);
  buf_free(&e.b);
}

static void test_nested_vectors(void **state) {
  (void)state;
  struct enc e;
  enc_init(&e);
  tl_client_worker_types_v2_write(&e.w, &s_worker_types_v2);
  assert_int_equal(e.w.err, 0);
  struct tl_client_worker_types_v2 d;
  assert_int_equal(tl_client_worker_types_v2_decode(enc_p(&e), e.b.len, &d), 0);
  assert_int_equal(d.n_types, 2);
  assert_int_equal(d.types[0].n_workers, 2);
  assert_int_equal(d.types[0].workers[1].coefficient, 1200);
  assert_int_equal(d.types[1].n_workers, 0);
  assert_null(d.types[1].workers);
  tl_client_worker_types_v2_clear(&d);
  assert_null(d.types);
  buf_free(&e.b);
}

/* ---- hostile inputs ---- */

static void test_garbage_ids(void **state) {
  (void)state;
  static const uint8_t junk[8] = {0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0};
  uint32_t id = 0;
  uint8_t obj[512];
  assert_int_equal(tl_any_decode(junk, sizeof junk, &id, obj, sizeof obj), ERR_PARSE);
  assert_int_equal(id, 0xdeadbeefu);
  assert_false(tl_any_known(0xdeadbeefu));
  assert_int_equal(tl_any_size(0xdeadbeefu), 0);
  assert_int_equal(tl_peek_id(junk, 3, &id), ERR_PARSE);
  assert_int_equal(tl_peek_id(junk, 4, &id), 0);
  /* A typed decoder refuses another constructor's id. */
  struct tl_worker_new_coefficient c;
  static const uint8_t en[8] = {0x39, 0x10, 0xb7, 0xb3, 1, 0, 0, 0}; /* enabledDisabled */
  assert_int_equal(tl_worker_new_coefficient_decode(en, sizeof en, &c), ERR_PARSE);
  struct tl_worker_enabled_disabled ed;
  assert_int_equal(tl_worker_enabled_disabled_decode(en, sizeof en, &ed), 0);
  assert_int_equal(ed.disabled, 1);
  /* Bool field holding neither boolTrue nor boolFalse. */
  static const uint8_t hb[8] = {0x66, 0xb0, 0x43, 0xf8, 1, 0, 0, 0};
  struct tl_worker_proxy_handshake_complete h;
  assert_int_equal(tl_worker_proxy_handshake_complete_decode(hb, sizeof hb, &h), ERR_PARSE);
  /* Empty constructors. */
  static const uint8_t upd[4] = {0x97, 0xc6, 0xd1, 0x9e};
  assert_int_equal(tl_empty_decode(upd, 4, TL_ID_CLIENT_UPDATE_PAYMENT_STATUS), 0);
  assert_int_equal(tl_empty_decode(upd, 4, TL_ID_WORKER_UPDATE_PAYMENT_STATUS), ERR_PARSE);
  assert_int_equal(tl_empty_decode(hb, 8, TL_ID_WORKER_PROXY_HANDSHAKE_COMPLETE), ERR_PARSE);
  /* Output buffer too small for the object. */
  struct enc e;
  enc_init(&e);
  tl_worker_new_coefficient_write(&e.w, &s_newcoef);
  assert_int_equal(tl_any_decode(enc_p(&e), e.b.len, &id, obj, 2), ERR_INVALID);
  buf_free(&e.b);
  /* Standalone polymorphic values. */
  enc_init(&e);
  tl_signed_payment_write(&e.w, &s_sp);
  tl_proxy_connection_auth_write(&e.w, &s_auth_long);
  struct tl_reader r;
  tl_reader_init(&r, enc_p(&e), e.b.len);
  struct tl_signed_payment sp;
  struct tl_proxy_connection_auth au;
  assert_int_equal(tl_signed_payment_read(&r, &sp), 0);
  assert_int_equal(sp.id, TL_ID_PROXY_SIGNED_PAYMENT);
  assert_int_equal(sp.data.n, s_sp.data.n);
  assert_int_equal(tl_proxy_connection_auth_read(&r, &au), 0);
  assert_int_equal(au.id, TL_ID_CLIENT_PROXY_CONNECTION_AUTH_LONG);
  assert_true(au.nonce == 43);
  assert_int_equal(tl_reader_finish(&r), 0);
  tl_reader_init(&r, enc_p(&e), e.b.len);
  assert_int_equal(tl_proxy_connection_auth_read(&r, &au), ERR_PARSE);
  buf_free(&e.b);
}

/* http.response whose header count field is replaced by `count`, followed by `extra` bytes. */
static int decode_response_with_count(uint32_t count, size_t extra) {
  static const uint8_t head[] = {0x2b, 0xc4, 0xd0, 0x1c, 0, 0, 0, 0, /* id, "" */
                                 200,  0,    0,    0,    0, 0, 0, 0}; /* 200, "" */
  size_t n = sizeof head + 4 + extra;
  uint8_t *p = calloc(1, n);
  assert_non_null(p);
  memcpy(p, head, sizeof head);
  p[sizeof head] = (uint8_t)count;
  p[sizeof head + 1] = (uint8_t)(count >> 8);
  p[sizeof head + 2] = (uint8_t)(count >> 16);
  p[sizeof head + 3] = (uint8_t)(count >> 24);
  struct tl_http_response d;
  int rc = tl_http_response_decode(p, n, &d);
  if (rc == 0) tl_http_response_clear(&d);
  assert_null(d.headers);
  free(p);
  return rc;
}

static void test_oversize_vectors(void **state) {
  (void)state;
  /* Control: 2 empty headers (8 bytes each) + empty payload (4). */
  assert_int_equal(decode_response_with_count(2, 2 * 8 + 4), 0);
  assert_int_equal(decode_response_with_count(3, 2 * 8 + 4), ERR_PARSE);
  assert_int_equal(decode_response_with_count(0x7fffffffu, 64), ERR_LIMIT);
  assert_int_equal(decode_response_with_count(TL_MAX_VECTOR + 1, 64), ERR_LIMIT);
  assert_int_equal(decode_response_with_count(0xffffffffu, 64), ERR_PARSE);
  assert_int_equal(decode_response_with_count(TL_MAX_VECTOR, 64), ERR_PARSE);
  /* A boxed-vector prefix (0x1cb5c415) is not what this schema sends: it reads as a count. */
  assert_int_not_equal(decode_response_with_count(TL_ID_VECTOR, 64), 0);

  /* Writer side limits. */
  struct tl_http_response r = s_http_response;
  struct enc e;
  enc_init(&e);
  r.n_headers = TL_MAX_VECTOR + 1;
  tl_http_response_write(&e.w, &r);
  assert_int_equal(e.w.err, ERR_LIMIT);
  buf_free(&e.b);
  enc_init(&e);
  r.headers = NULL;
  r.n_headers = 1;
  tl_http_response_write(&e.w, &r);
  assert_int_equal(e.w.err, ERR_INVALID);
  buf_free(&e.b);
  enc_init(&e);
  r = s_http_response;
  r.payload.p = NULL;
  r.payload.n = 5;
  tl_http_response_write(&e.w, &r);
  assert_int_equal(e.w.err, ERR_INVALID);
  buf_free(&e.b);
}

/* A failure after a vector was allocated frees it (ASan/LSan check the leak). */
static void test_partial_failure_frees(void **state) {
  (void)state;
  struct enc e;
  enc_init(&e);
  tl_client_worker_types_v2_write(&e.w, &s_worker_types_v2);
  assert_int_equal(e.w.err, 0);
  struct tl_client_worker_types_v2 d;
  for (size_t cut = 4; cut < e.b.len; cut++) {
    assert_int_not_equal(tl_client_worker_types_v2_decode(enc_p(&e), cut, &d), 0);
    assert_null(d.types);
    assert_int_equal(d.n_types, 0);
  }
  /* tl_x_read on a reader that already failed does nothing. */
  struct tl_reader r;
  tl_reader_init(&r, enc_p(&e), 2);
  (void)tl_get_u32(&r);
  assert_int_equal(tl_client_worker_types_v2_read(&r, &d), ERR_PARSE);
  assert_null(d.types);
  buf_free(&e.b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ids_recomputed),
      cmocka_unit_test(test_id_names),
      cmocka_unit_test(test_codec_bytes_lengths),
      cmocka_unit_test(test_codec_bytes_bad),
      cmocka_unit_test(test_codec_str),
      cmocka_unit_test(test_codec_scalars),
      cmocka_unit_test(test_codec_vector_len),
      cmocka_unit_test(test_roundtrip_all),
      cmocka_unit_test(test_truncated_and_trailing),
      cmocka_unit_test(test_corruption),
      cmocka_unit_test(test_exact_tokens_used),
      cmocka_unit_test(test_exact_worker_params),
      cmocka_unit_test(test_exact_http_request),
      cmocka_unit_test(test_exact_run_query_ex),
      cmocka_unit_test(test_exact_connected_to_proxy),
      cmocka_unit_test(test_exact_answer_part_ex),
      cmocka_unit_test(test_nested_vectors),
      cmocka_unit_test(test_garbage_ids),
      cmocka_unit_test(test_oversize_vectors),
      cmocka_unit_test(test_partial_failure_frees),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
