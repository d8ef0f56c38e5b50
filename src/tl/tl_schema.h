/* tl_schema: C types and boxed encode/decode for the COCOON TL constructors the roles use. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_TL_TL_SCHEMA_H
#define COCOON_TL_TL_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "tl/tl_codec.h"

/*
 * Wire rules taken from cocoon_api.tl / .tlo (checked by tests/unit/test_tl.c):
 *  - Field types written in lower case in the schema (tokensUsed, proxy.params, client.params,
 *    worker.params, client.queryFinalInfo, http.header, ...) are BARE: no constructor id.
 *  - `(vector t)` is a bare vector: i32 count, then the elements, with NO 0x1cb5c415 prefix
 *    (unlike tl_get_vector_len in tl_codec.h, which expects the boxed form).
 *  - Upper-case field types (Bool, proxy.SignedPayment, client.ProxyConnectionAuth) are boxed.
 *  - A conditional field `flags.N?T` is written/read only when bit N of the struct's own
 *    `flags` is set; otherwise it is left zero on decode and ignored on encode.
 *
 * Memory: decoded `struct tl_bytes` fields BORROW from the decoded input, which must outlive the
 * struct. Vectors are allocated by decode and freed by the matching `_clear` (safe on a zeroed
 * or already cleared struct; every struct has one, it is a no-op for those without vectors).
 * Encoding only reads the struct.
 */

/* Most elements any decoded vector may hold (also bounded by the remaining input). */
#define TL_SCHEMA_MAX_VECTOR TL_MAX_VECTOR

/* ---- constructor ids (CRC32 of the normalized schema line, or the explicit #id) ---- */
#define TL_ID_TOKENS_USED 0x70c5b15cu
#define TL_ID_HTTP_HEADER 0x8e9be511u
#define TL_ID_HTTP_RESPONSE 0x1cd0c42bu
#define TL_ID_HTTP_REQUEST 0x47492de5u /* function */
#define TL_ID_WORKER_PARAMS 0x869c73edu
#define TL_ID_PROXY_PARAMS 0xd5c5609fu
#define TL_ID_CLIENT_PARAMS 0x40fdca64u
#define TL_ID_CLIENT_CONNECT_TO_PROXY 0xff5fa0f4u /* function */
#define TL_ID_CLIENT_CONNECTED_TO_PROXY 0x95317ad1u
#define TL_ID_CLIENT_PROXY_CONNECTION_AUTH_SHORT 0xd6ffc5afu
#define TL_ID_CLIENT_PROXY_CONNECTION_AUTH_LONG 0x417bf016u
#define TL_ID_CLIENT_AUTHORIZE_WITH_PROXY_SHORT 0x6c276723u /* function */
#define TL_ID_CLIENT_AUTHORIZE_WITH_PROXY_LONG 0xd3474303u  /* function, no fields */
#define TL_ID_CLIENT_AUTHORIZATION_WITH_PROXY_SUCCESS 0x75d5ac34u
#define TL_ID_CLIENT_AUTHORIZATION_WITH_PROXY_FAILED 0x60551c96u
#define TL_ID_CLIENT_RUN_QUERY 0xbc748f32u    /* function */
#define TL_ID_CLIENT_RUN_QUERY_EX 0xf54cb74bu /* function */
#define TL_ID_CLIENT_QUERY_ANSWER 0x9b943922u
#define TL_ID_CLIENT_QUERY_ANSWER_ERROR 0x6d60569au
#define TL_ID_CLIENT_QUERY_ANSWER_PART 0xb765de4cu
#define TL_ID_CLIENT_QUERY_ANSWER_PART_ERROR 0xd790a022u
#define TL_ID_CLIENT_QUERY_ANSWER_EX 0xcd524720u
#define TL_ID_CLIENT_QUERY_ANSWER_ERROR_EX 0x072562a8u
#define TL_ID_CLIENT_QUERY_ANSWER_PART_EX 0xc07bfaecu
#define TL_ID_CLIENT_QUERY_FINAL_INFO 0x69a452f0u
#define TL_ID_CLIENT_UPDATE_PAYMENT_STATUS 0x9ed1c697u /* function, no fields */
#define TL_ID_CLIENT_PAYMENT_STATUS 0xaa8a0eccu
#define TL_ID_CLIENT_GET_WORKER_TYPES 0x7f062bdbu /* function, no fields */
#define TL_ID_CLIENT_WORKER_TYPES 0xf64e0e01u
#define TL_ID_CLIENT_WORKER_TYPE 0x8210e21cu
#define TL_ID_CLIENT_GET_WORKER_TYPES_V2 0xb2133d72u /* function, no fields */
#define TL_ID_CLIENT_WORKER_TYPES_V2 0x0cf0dc67u
#define TL_ID_CLIENT_WORKER_TYPE_V2 0xb27d8197u
#define TL_ID_CLIENT_WORKER_INSTANCE_V2 0x3ea93d00u
#define TL_ID_PROXY_RUN_QUERY 0x47182416u    /* function */
#define TL_ID_PROXY_RUN_QUERY_EX 0xc805e7e2u /* function */
#define TL_ID_PROXY_SIGNED_PAYMENT 0x02998182u
#define TL_ID_PROXY_SIGNED_PAYMENT_EMPTY 0xb347ce64u /* no fields */
#define TL_ID_PROXY_QUERY_ANSWER 0x37e5f725u
#define TL_ID_PROXY_QUERY_ANSWER_ERROR 0x669d014eu
#define TL_ID_PROXY_QUERY_ANSWER_PART 0x72eb00eeu
#define TL_ID_PROXY_QUERY_ANSWER_PART_ERROR 0x940e1168u
#define TL_ID_PROXY_QUERY_ANSWER_EX 0x1ce574e8u
#define TL_ID_PROXY_QUERY_ANSWER_ERROR_EX 0x8f7fb0a7u
#define TL_ID_PROXY_QUERY_ANSWER_PART_EX 0x6d85b50fu
#define TL_ID_PROXY_QUERY_FINAL_INFO 0xe794e6fcu
#define TL_ID_PROXY_CLIENT_REQUEST_PAYMENT 0xc6bcf127u
#define TL_ID_PROXY_WORKER_REQUEST_PAYMENT 0x1436c0d5u
#define TL_ID_WORKER_CONNECT_TO_PROXY 0xcc484c5du /* function */
#define TL_ID_WORKER_CONNECTED_TO_PROXY 0x66bc82eeu
#define TL_ID_WORKER_COMPARE_BALANCE_WITH_PROXY 0xdb386501u /* function */
#define TL_ID_WORKER_COMPARE_BALANCE_WITH_PROXY_RESULT 0x9054c411u
#define TL_ID_WORKER_EXTENDED_COMPARE_BALANCE_WITH_PROXY 0xf8dd9914u /* function */
#define TL_ID_WORKER_EXTENDED_COMPARE_BALANCE_WITH_PROXY_RESULT 0x0c10973eu
#define TL_ID_WORKER_PROXY_HANDSHAKE_COMPLETE 0xf843b066u /* function */
#define TL_ID_WORKER_PROXY_HANDSHAKE_COMPLETED 0x3ad9b886u /* no fields */
#define TL_ID_WORKER_UPDATE_PAYMENT_STATUS 0xdc70a524u     /* function, no fields */
#define TL_ID_WORKER_PAYMENT_STATUS 0xa88bd701u
#define TL_ID_WORKER_ENABLED_DISABLED 0xb3b71039u
#define TL_ID_WORKER_NEW_COEFFICIENT 0x6af092b0u
/* Extension (not in COCOON's schema; docs/protocol.md): client account operations against the
 * proxy's settlement backend, ids = CRC32 of their lines like every TL id. */
#define TL_ID_COCOONX_CLIENT_SETTLE 0x86e4fda9u
#define TL_ID_COCOONX_CLIENT_ACCOUNT 0x7bc85bfau

/* ---- flag bits ---- */
#define TL_WORKER_PARAMS_F_LIMITS 1u   /* is_test, proxy_cnt, max_active_requests */
#define TL_WORKER_PARAMS_F_PROTO 2u    /* min_proto_version, max_proto_version */
#define TL_PROXY_PARAMS_F_IS_TEST 1u   /* is_test */
#define TL_PROXY_PARAMS_F_PROTO 2u     /* proto_version */
#define TL_CLIENT_PARAMS_F_IS_TEST 1u  /* is_test */
#define TL_CLIENT_PARAMS_F_PROTO 2u    /* min_proto_version, max_proto_version */
#define TL_RUN_QUERY_F_DEBUG 1u        /* enable_debug (runQueryEx only) */
#define TL_FINAL_INFO_F_DEBUG 1u       /* worker_debug (+ proxy_debug in the client variant) */
#define TL_FINAL_INFO_F_TIMES 2u       /* start/end times */
#define TL_ANSWER_EX_F_FINAL 1u        /* final_info present: the answer is complete */

/* A TL string/bytes value. Decoded values borrow from the input; not NUL-terminated. */
struct tl_bytes {
  const uint8_t *p;
  size_t n;
};

/* tokensUsed (bare inside other objects). */
struct tl_tokens_used {
  int64_t prompt_tokens_used;
  int64_t cached_tokens_used;
  int64_t completion_tokens_used;
  int64_t reasoning_tokens_used;
  int64_t total_tokens_used;
};

/* http.header (bare inside http.request/http.response). */
struct tl_http_header {
  struct tl_bytes name;
  struct tl_bytes value;
};

/* http.response */
struct tl_http_response {
  struct tl_bytes http_version;
  int32_t status_code;
  struct tl_bytes reason;
  struct tl_http_header *headers; /* decode allocates: free with tl_http_response_clear */
  uint32_t n_headers;
  struct tl_bytes payload;
};

/* http.request (function; its answer is http.response) */
struct tl_http_request {
  struct tl_bytes method;
  struct tl_bytes url;
  struct tl_bytes http_version;
  struct tl_http_header *headers; /* decode allocates: free with tl_http_request_clear */
  uint32_t n_headers;
  struct tl_bytes payload;
};

/* worker.params#869c73ed */
struct tl_worker_params {
  uint32_t flags;
  struct tl_bytes worker_owner_address;
  struct tl_bytes model;
  int32_t coefficient;
  int is_test;                 /* flags.0 */
  int32_t proxy_cnt;           /* flags.0 */
  int32_t max_active_requests; /* flags.0 */
  int32_t min_proto_version;   /* flags.1 */
  int32_t max_proto_version;   /* flags.1 */
};

/* proxy.params#d5c5609f */
struct tl_proxy_params {
  uint32_t flags;
  uint8_t proxy_public_key[32];
  struct tl_bytes proxy_owner_address;
  struct tl_bytes proxy_sc_address;
  int is_test;           /* flags.0 */
  int32_t proto_version; /* flags.1 */
};

/* client.params#40fdca64 */
struct tl_client_params {
  uint32_t flags;
  struct tl_bytes client_owner_address;
  int is_test;               /* flags.0 */
  int32_t min_proto_version; /* flags.1 */
  int32_t max_proto_version; /* flags.1 */
};

/* proxy.SignedPayment (boxed): id is TL_ID_PROXY_SIGNED_PAYMENT (data used) or
 * TL_ID_PROXY_SIGNED_PAYMENT_EMPTY. An id of 0 is written as signedPaymentEmpty. */
struct tl_signed_payment {
  uint32_t id;
  struct tl_bytes data;
};

/* client.ProxyConnectionAuth (boxed): id is TL_ID_CLIENT_PROXY_CONNECTION_AUTH_SHORT
 * (secret_hash + nonce) or TL_ID_CLIENT_PROXY_CONNECTION_AUTH_LONG (nonce only). */
struct tl_proxy_connection_auth {
  uint32_t id;
  uint8_t secret_hash[32];
  int64_t nonce;
};

/* client.connectToProxy (function) */
struct tl_client_connect_to_proxy {
  struct tl_client_params params;
  int32_t min_config_version;
};

/* client.connectedToProxy */
struct tl_client_connected_to_proxy {
  struct tl_proxy_params params;
  struct tl_bytes client_sc_address;
  struct tl_proxy_connection_auth auth;
  struct tl_signed_payment signed_payment;
};

/* client.authorizeWithProxyShort (function) */
struct tl_client_authorize_with_proxy_short {
  struct tl_bytes data;
};

/* client.authorizationWithProxySuccess */
struct tl_client_authorization_with_proxy_success {
  struct tl_signed_payment signed_payment;
  int64_t tokens_committed_to_db;
  int64_t max_tokens;
};

/* client.authorizationWithProxyFailed */
struct tl_client_authorization_with_proxy_failed {
  int32_t error_code;
  struct tl_bytes error;
};

/* client.runQuery and client.runQueryEx (functions). runQuery has no flags/enable_debug:
 * its writer ignores them and its reader leaves them zero. */
struct tl_client_run_query {
  struct tl_bytes model_name;
  struct tl_bytes query;
  int32_t max_coefficient;
  int32_t max_tokens;
  double timeout;
  uint8_t request_id[32];
  int32_t min_config_version;
  uint32_t flags;   /* Ex only */
  int enable_debug; /* Ex only, flags.0 */
};

/* client.queryFinalInfo and proxy.queryFinalInfo. The proxy variant has no proxy_debug,
 * proxy_start_time or proxy_end_time: its writer ignores them, its reader leaves them zero. */
struct tl_query_final_info {
  uint32_t flags;
  struct tl_tokens_used tokens_used;
  struct tl_bytes worker_debug; /* flags.0 */
  struct tl_bytes proxy_debug;  /* flags.0, client variant only */
  double proxy_start_time;      /* flags.1, client variant only */
  double proxy_end_time;        /* flags.1, client variant only */
  double worker_start_time;     /* flags.1 */
  double worker_end_time;       /* flags.1 */
};

/* {client,proxy}.queryAnswer and {client,proxy}.queryAnswerPart (same layout; the schema
 * calls the last field request_tokens_used in the client variants). */
struct tl_query_answer {
  struct tl_bytes answer;
  int is_completed;
  uint8_t request_id[32];
  struct tl_tokens_used tokens_used;
};

/* {client,proxy}.queryAnswerError and {client,proxy}.queryAnswerPartError */
struct tl_query_answer_error {
  int32_t error_code;
  struct tl_bytes error;
  uint8_t request_id[32];
  struct tl_tokens_used tokens_used;
};

/* {client,proxy}.queryAnswerEx and {client,proxy}.queryAnswerPartEx. final_info is the
 * client or proxy variant according to the constructor. */
struct tl_query_answer_ex {
  uint8_t request_id[32];
  struct tl_bytes answer;
  uint32_t flags;
  struct tl_query_final_info final_info; /* flags.0 */
};

/* {client,proxy}.queryAnswerErrorEx */
struct tl_query_answer_error_ex {
  uint8_t request_id[32];
  int32_t error_code;
  struct tl_bytes error;
  uint32_t flags;
  struct tl_query_final_info final_info; /* flags.0 */
};

/* client.paymentStatus and worker.paymentStatus */
struct tl_payment_status {
  struct tl_signed_payment signed_payment;
  int64_t db_tokens;
  int64_t max_tokens;
};

/* client.workerType (bare inside client.workerTypes) */
struct tl_client_worker_type {
  struct tl_bytes name;
  int32_t active_workers;
  int32_t coefficient_min;
  int32_t coefficient_bucket50;
  int32_t coefficient_max;
};

/* client.workerTypes */
struct tl_client_worker_types {
  struct tl_client_worker_type *types; /* decode allocates: tl_client_worker_types_clear */
  uint32_t n_types;
};

/* client.workerInstanceV2#3ea93d00 (bare inside client.workerTypeV2) */
struct tl_client_worker_instance_v2 {
  uint32_t flags;
  int32_t coefficient;
  int32_t active_requests;
  int32_t max_active_requests;
};

/* client.workerTypeV2 (bare inside client.workerTypesV2) */
struct tl_client_worker_type_v2 {
  struct tl_bytes name;
  struct tl_client_worker_instance_v2 *workers; /* decode allocates */
  uint32_t n_workers;
};

/* client.workerTypesV2 */
struct tl_client_worker_types_v2 {
  struct tl_client_worker_type_v2 *types; /* decode allocates: tl_client_worker_types_v2_clear */
  uint32_t n_types;
};

/* proxy.runQuery and proxy.runQueryEx (functions); flags/enable_debug as in
 * struct tl_client_run_query. */
struct tl_proxy_run_query {
  struct tl_bytes query;
  struct tl_signed_payment signed_payment;
  int64_t coefficient;
  double timeout;
  uint8_t request_id[32];
  uint32_t flags;   /* Ex only */
  int enable_debug; /* Ex only, flags.0 */
};

/* proxy.clientRequestPayment and proxy.workerRequestPayment; request_client_owner exists
 * only in the worker variant. */
struct tl_request_payment {
  uint8_t request_id[32];
  struct tl_signed_payment signed_payment;
  int64_t db_tokens;
  int64_t max_tokens;
  int64_t request_tokens;
  struct tl_bytes request_client_owner; /* workerRequestPayment only */
};

/* worker.connectToProxy (function) */
struct tl_worker_connect_to_proxy {
  struct tl_worker_params params;
};

/* worker.connectedToProxy */
struct tl_worker_connected_to_proxy {
  struct tl_proxy_params params;
  struct tl_bytes worker_sc_address;
};

/* worker.compareBalanceWithProxy (function) */
struct tl_worker_compare_balance_with_proxy {
  int64_t tokens_committed_to_blockchain;
  int64_t tokens_committed_to_db;
  int64_t max_tokens;
};

/* worker.compareBalanceWithProxyResult */
struct tl_worker_compare_balance_with_proxy_result {
  struct tl_signed_payment signed_payment;
  int64_t tokens_committed_to_db;
  int64_t max_tokens;
  int32_t error_code;
};

/* worker.extendedCompareBalanceWithProxy (function) */
struct tl_worker_extended_compare_balance_with_proxy {
  int64_t tokens_committed_to_db;
  struct tl_bytes other;
};

/* worker.extendedCompareBalanceWithProxyResult */
struct tl_worker_extended_compare_balance_with_proxy_result {
  int32_t error_code;
};

/* worker.proxyHandshakeComplete (function) */
struct tl_worker_proxy_handshake_complete {
  int is_disabled;
};

/* worker.enabledDisabled */
struct tl_worker_enabled_disabled {
  int32_t disabled;
};

/* worker.newCoefficient */
struct tl_worker_new_coefficient {
  int32_t new_coefficient;
};

/* cocoonx.clientSettle (function, extension): op 0 status, 1 top-up (amount nano-TON, 0: the
 * stake), 2 withdraw, 3 charge (signed_payment: the proxy's signed charge the client holds),
 * 4 close. */
struct tl_cocoonx_client_settle {
  int32_t op;
  int64_t amount;
  struct tl_signed_payment signed_payment;
};

/* cocoonx.clientAccount (extension): the client's account after the operation. */
struct tl_cocoonx_client_account {
  int32_t state; /* 0 running, 1 closing, 2 closed (the client contract's states) */
  int64_t balance;
  int64_t stake;
  int64_t reserved;
  int64_t tokens_used;
  int64_t tokens_charged;
  int64_t unlock_at; /* unix ms when a closing account may be refunded in full; 0 */
  int64_t moved;     /* nano-TON credited (> 0) or refunded (< 0) by this operation */
  struct tl_signed_payment signed_payment; /* the latest signed charge */
  int64_t db_tokens;
};

/*
 * Per constructor `x` with struct T, TL_SCHEMA_DECLARE(x, T) declares:
 *   void tl_x_write(struct tl_writer *w, const struct T *v);   boxed: id, then the fields
 *   int  tl_x_read(struct tl_reader *r, struct T *out);         fields AFTER the id (the caller
 *        peeked/consumed it); zeroes *out first; on failure frees what it allocated, sets r->err
 *        and returns it. Does not require the input to end.
 *   int  tl_x_decode(const void *p, size_t n, struct T *out);   whole buffer: id must be x's,
 *        all input consumed (ERR_PARSE otherwise). *out borrows from p.
 *   void tl_x_clear(struct T *v);                               frees decoded vectors, zeroes v.
 */
#define TL_SCHEMA_DECLARE(x, T)                                                   \
  void tl_##x##_write(struct tl_writer *w, const struct T *v);                    \
  CC_NODISCARD int tl_##x##_read(struct tl_reader *r, struct T *out);             \
  CC_NODISCARD int tl_##x##_decode(const void *p, size_t n, struct T *out);       \
  void tl_##x##_clear(struct T *v);

TL_SCHEMA_DECLARE(tokens_used, tl_tokens_used)
TL_SCHEMA_DECLARE(http_header, tl_http_header)
TL_SCHEMA_DECLARE(http_response, tl_http_response)
TL_SCHEMA_DECLARE(http_request, tl_http_request)
TL_SCHEMA_DECLARE(worker_params, tl_worker_params)
TL_SCHEMA_DECLARE(proxy_params, tl_proxy_params)
TL_SCHEMA_DECLARE(client_params, tl_client_params)
TL_SCHEMA_DECLARE(client_connect_to_proxy, tl_client_connect_to_proxy)
TL_SCHEMA_DECLARE(client_connected_to_proxy, tl_client_connected_to_proxy)
TL_SCHEMA_DECLARE(client_authorize_with_proxy_short, tl_client_authorize_with_proxy_short)
TL_SCHEMA_DECLARE(client_authorization_with_proxy_success,
                  tl_client_authorization_with_proxy_success)
TL_SCHEMA_DECLARE(client_authorization_with_proxy_failed,
                  tl_client_authorization_with_proxy_failed)
TL_SCHEMA_DECLARE(client_run_query, tl_client_run_query)
TL_SCHEMA_DECLARE(client_run_query_ex, tl_client_run_query)
TL_SCHEMA_DECLARE(client_query_answer, tl_query_answer)
TL_SCHEMA_DECLARE(client_query_answer_part, tl_query_answer)
TL_SCHEMA_DECLARE(client_query_answer_error, tl_query_answer_error)
TL_SCHEMA_DECLARE(client_query_answer_part_error, tl_query_answer_error)
TL_SCHEMA_DECLARE(client_query_answer_ex, tl_query_answer_ex)
TL_SCHEMA_DECLARE(client_query_answer_part_ex, tl_query_answer_ex)
TL_SCHEMA_DECLARE(client_query_answer_error_ex, tl_query_answer_error_ex)
TL_SCHEMA_DECLARE(client_query_final_info, tl_query_final_info)
TL_SCHEMA_DECLARE(client_payment_status, tl_payment_status)
TL_SCHEMA_DECLARE(client_worker_type, tl_client_worker_type)
TL_SCHEMA_DECLARE(client_worker_types, tl_client_worker_types)
TL_SCHEMA_DECLARE(client_worker_instance_v2, tl_client_worker_instance_v2)
TL_SCHEMA_DECLARE(client_worker_type_v2, tl_client_worker_type_v2)
TL_SCHEMA_DECLARE(client_worker_types_v2, tl_client_worker_types_v2)
TL_SCHEMA_DECLARE(proxy_run_query, tl_proxy_run_query)
TL_SCHEMA_DECLARE(proxy_run_query_ex, tl_proxy_run_query)
TL_SCHEMA_DECLARE(proxy_query_answer, tl_query_answer)
TL_SCHEMA_DECLARE(proxy_query_answer_part, tl_query_answer)
TL_SCHEMA_DECLARE(proxy_query_answer_error, tl_query_answer_error)
TL_SCHEMA_DECLARE(proxy_query_answer_part_error, tl_query_answer_error)
TL_SCHEMA_DECLARE(proxy_query_answer_ex, tl_query_answer_ex)
TL_SCHEMA_DECLARE(proxy_query_answer_part_ex, tl_query_answer_ex)
TL_SCHEMA_DECLARE(proxy_query_answer_error_ex, tl_query_answer_error_ex)
TL_SCHEMA_DECLARE(proxy_query_final_info, tl_query_final_info)
TL_SCHEMA_DECLARE(proxy_client_request_payment, tl_request_payment)
TL_SCHEMA_DECLARE(proxy_worker_request_payment, tl_request_payment)
TL_SCHEMA_DECLARE(worker_connect_to_proxy, tl_worker_connect_to_proxy)
TL_SCHEMA_DECLARE(worker_connected_to_proxy, tl_worker_connected_to_proxy)
TL_SCHEMA_DECLARE(worker_compare_balance_with_proxy, tl_worker_compare_balance_with_proxy)
TL_SCHEMA_DECLARE(worker_compare_balance_with_proxy_result,
                  tl_worker_compare_balance_with_proxy_result)
TL_SCHEMA_DECLARE(worker_extended_compare_balance_with_proxy,
                  tl_worker_extended_compare_balance_with_proxy)
TL_SCHEMA_DECLARE(worker_extended_compare_balance_with_proxy_result,
                  tl_worker_extended_compare_balance_with_proxy_result)
TL_SCHEMA_DECLARE(worker_proxy_handshake_complete, tl_worker_proxy_handshake_complete)
TL_SCHEMA_DECLARE(worker_payment_status, tl_payment_status)
TL_SCHEMA_DECLARE(worker_enabled_disabled, tl_worker_enabled_disabled)
TL_SCHEMA_DECLARE(worker_new_coefficient, tl_worker_new_coefficient)
TL_SCHEMA_DECLARE(cocoonx_client_settle, tl_cocoonx_client_settle)
TL_SCHEMA_DECLARE(cocoonx_client_account, tl_cocoonx_client_account)

/* Polymorphic values standing alone (e.g. a payment stored by the ledger): writes v->id and
 * the matching fields; reads the id itself and fails on an id outside the type. */
void tl_signed_payment_write(struct tl_writer *w, const struct tl_signed_payment *v);
CC_NODISCARD int tl_signed_payment_read(struct tl_reader *r, struct tl_signed_payment *out);
void tl_proxy_connection_auth_write(struct tl_writer *w,
                                    const struct tl_proxy_connection_auth *v);
CC_NODISCARD int tl_proxy_connection_auth_read(struct tl_reader *r,
                                               struct tl_proxy_connection_auth *out);

/* Constructors without fields (client.authorizeWithProxyLong, client.updatePaymentStatus,
 * client.getWorkerTypes[V2], worker.updatePaymentStatus, worker.proxyHandshakeCompleted,
 * proxy.signedPaymentEmpty): the encoding is just the id. */
void tl_empty_write(struct tl_writer *w, uint32_t id);
/* 0 iff p is exactly the 4-byte encoding of `id`, else ERR_PARSE. */
CC_NODISCARD int tl_empty_decode(const void *p, size_t n, uint32_t id);

/* Reads the leading constructor id of p (n >= 4) without consuming anything. */
CC_NODISCARD int tl_peek_id(const void *p, size_t n, uint32_t *id);

/* Schema name of a constructor id ("client.runQueryEx"), "tcp.*" and the other COCOON ids
 * included; "unknown" otherwise. Never NULL. */
const char *tl_id_name(uint32_t id);

/*
 * Generic access by id, for dispatch tables, logs and the fuzzer. Covers every constructor
 * declared above plus the field-less ones (size 0). `out`/`v` point to the struct that the
 * id's functions above take (tl_any_size bytes; may be NULL when the size is 0).
 */
/* 1 if id is a constructor this module can decode, else 0. */
int tl_any_known(uint32_t id);
/* sizeof the C struct id decodes into (tl_signed_payment for proxy.signedPaymentEmpty, the
 * auth struct for the two auth ids); 0 for the other field-less ids and unknown ids. */
size_t tl_any_size(uint32_t id);
void tl_any_write(struct tl_writer *w, uint32_t id, const void *v);
/* Reads fields after the id; same contract as tl_x_read. Unknown id: ERR_PARSE. */
CC_NODISCARD int tl_any_read(struct tl_reader *r, uint32_t id, void *out);
/* Whole buffer: peeks the id, decodes into out (out_size must be >= tl_any_size(id)). */
CC_NODISCARD int tl_any_decode(const void *p, size_t n, uint32_t *id, void *out,
                               size_t out_size);
void tl_any_clear(uint32_t id, void *v);

#endif
