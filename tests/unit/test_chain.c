/* test_chain: toncenter stack parsing, base64, root state, dictionaries, messages and wallets
 * (the parts the oracle test cannot reach: refusals and limits). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "chain/b64.h"
#include "chain/root.h"
#include "chain/toncenter.h"
#include "chain/tvm_stack.h"
#include "ton/boc.h"
#include "ton/cocoon_msg.h"
#include "ton/dict.h"
#include "ton/message.h"
#include "ton/payment.h"
#include "ton/sign.h"
#include "ton/wallet_transfer.h"

static int parse(const char *json, struct chain_tvm_stack *s, struct err *e) {
  memset(e, 0, sizeof(*e));
  return chain_tvm_stack_parse(json, strlen(json), s, e);
}

static void test_b64(void **st) {
  (void)st;
  struct buf b;
  for (size_t n = 0; n < 40; n++) {
    uint8_t in[40];
    for (size_t i = 0; i < n; i++) in[i] = (uint8_t)(i * 37 + n);
    buf_init(&b, 0);
    assert_int_equal(chain_b64_encode(in, n, &b), 0);
    char *enc = strdup((const char *)buf_ptr(&b) ? (const char *)buf_ptr(&b) : "");
    buf_free(&b);
    buf_init(&b, 0);
    assert_int_equal(chain_b64_decode(enc, strlen(enc), &b), 0);
    assert_int_equal(b.len, n);
    if (n) assert_memory_equal(buf_ptr(&b), in, n);
    buf_free(&b);
    free(enc);
  }
  const char *bad[] = {"A", "AB=C", "A*==", "AB===", "AAB=" /* trailing bits set */};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    buf_init(&b, 0);
    assert_int_not_equal(chain_b64_decode(bad[i], strlen(bad[i]), &b), 0);
    buf_free(&b);
  }
  buf_init(&b, 0);
  assert_int_equal(chain_b64_decode("-_8", 3, &b), 0); /* URL-safe, no padding */
  assert_int_equal(b.len, 2);
  assert_int_equal(buf_ptr(&b)[0], 0xfb);
  assert_int_equal(buf_ptr(&b)[1], 0xff);
  buf_free(&b);
}

static void test_stack_numbers(void **st) {
  (void)st;
  struct chain_tvm_stack s;
  struct err e;
  uint64_t u;
  int64_t x;
  uint8_t h[32];
  int b;
  assert_int_equal(parse("{\"ok\":true,\"result\":{\"gas_used\":5,\"exit_code\":0,\"stack\":[[\"num\",\"0x2a\"],"
                         "[\"num\",\"-0x1\"],[\"num\",\"0xffffffffffffffff\"],[\"num\",\"0x10000000000000000\"],"
                         "[\"num\",\"-9223372036854775808\"],[\"num\",\"0x0\"],[\"num\",\"-0x0\"]]}}",
                         &s, &e),
                   0);
  assert_int_equal(s.n, 7);
  assert_int_equal(s.gas_used, 5);
  assert_int_equal(chain_tvm_get_u64(&s, 0, &u, &e), 0);
  assert_int_equal(u, 42);
  assert_int_equal(chain_tvm_get_i64(&s, 1, &x, &e), 0);
  assert_int_equal(x, -1);
  assert_int_not_equal(chain_tvm_get_u64(&s, 1, &u, &e), 0); /* negative */
  assert_int_equal(chain_tvm_get_bool(&s, 1, &b, &e), 0);
  assert_int_equal(b, 1);
  assert_int_equal(chain_tvm_get_u64(&s, 2, &u, &e), 0);
  assert_true(u == UINT64_MAX);
  assert_int_not_equal(chain_tvm_get_i64(&s, 2, &x, &e), 0);
  assert_int_not_equal(chain_tvm_get_u64(&s, 3, &u, &e), 0);
  assert_non_null(strstr(e.msg, "64 bits"));
  assert_int_equal(chain_tvm_get_u256(&s, 3, h, &e), 0);
  assert_int_equal(h[23], 1);
  assert_int_equal(chain_tvm_get_i64(&s, 4, &x, &e), 0);
  assert_true(x == INT64_MIN);
  assert_int_equal(chain_tvm_get_bool(&s, 6, &b, &e), 0);
  assert_int_equal(b, 0);
  assert_int_equal(s.v[6].neg, 0); /* -0 is 0 */
  assert_int_not_equal(chain_tvm_get_u64(&s, 7, &u, &e), 0);
  assert_non_null(strstr(e.msg, "missing"));
  chain_tvm_stack_clear(&s);
  /* int257 bounds: -2^256 is fine, 2^256 is not; junk digits are refused. */
  const char *bad[] = {"0x10000000000000000000000000000000000000000000000000000000000000000", "0x", "12a", "--1",
                       "0xg", ""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char json[256];
    snprintf(json, sizeof(json), "{\"exit_code\":0,\"stack\":[[\"num\",\"%s\"]]}", bad[i]);
    assert_int_equal(parse(json, &s, &e), ERR_PARSE);
    assert_non_null(strstr(e.msg, "bad number"));
    chain_tvm_stack_clear(&s);
  }
  assert_int_equal(
      parse("{\"exit_code\":0,\"stack\":[[\"num\",\"-0x10000000000000000000000000000000000000000000000000000000000000000\"]]}",
            &s, &e),
      0);
  chain_tvm_stack_clear(&s);
}

static void test_stack_errors(void **st) {
  (void)st;
  struct chain_tvm_stack s;
  struct err e;
  assert_int_equal(parse("{\"ok\":false,\"error\":\"LITE_SERVER_UNKNOWN: no such account\",\"code\":500}", &s, &e),
                   ERR_REFUSED);
  assert_non_null(strstr(e.msg, "LITE_SERVER_UNKNOWN"));
  chain_tvm_stack_clear(&s);
  assert_int_equal(parse("{\"ok\":true,\"result\":{\"exit_code\":11,\"stack\":[]}}", &s, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "exit code 11"));
  chain_tvm_stack_clear(&s);
  assert_int_equal(parse("{\"exit_code\":0,\"stack\":[[\"tuple\",{}]]}", &s, &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "not supported"));
  chain_tvm_stack_clear(&s);
  assert_int_equal(parse("{\"exit_code\":0,\"stack\":[[\"cell\",{\"bytes\":\"te6c\"}]]}", &s, &e), ERR_PARSE);
  chain_tvm_stack_clear(&s);
  assert_int_equal(parse("{\"exit_code\":0,\"stack\":[[\"num\",\"0x1\"],[\"num\",\"0x1\"]],\"stack\":[]}", &s, &e),
                   ERR_PARSE); /* duplicate keys */
  chain_tvm_stack_clear(&s);
  assert_int_equal(parse("[1,2", &s, &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "bad JSON"));
  chain_tvm_stack_clear(&s);
  /* Too many entries. */
  struct buf b;
  buf_init(&b, 0);
  assert_int_equal(buf_append_str(&b, "{\"exit_code\":0,\"stack\":["), 0);
  for (int i = 0; i < CHAIN_TVM_MAX_ENTRIES + 1; i++) assert_int_equal(buf_append_str(&b, i ? ",[\"null\"]" : "[\"null\"]"), 0);
  assert_int_equal(buf_append_str(&b, "]}"), 0);
  assert_int_equal(chain_tvm_stack_parse((const char *)buf_ptr(&b), b.len, &s, &e), ERR_LIMIT);
  chain_tvm_stack_clear(&s);
  buf_free(&b);
}

/* A BoC of one cell, as base64, for JSON stacks. */
static char *cell_b64(struct ton_cell *c) {
  struct buf boc, b64;
  buf_init(&boc, 0);
  buf_init(&b64, 0);
  assert_int_equal(ton_boc_serialize(c, TON_BOC_CRC, &boc, NULL), 0);
  assert_int_equal(chain_b64_encode(buf_ptr(&boc), boc.len, &b64), 0);
  char *s = strdup((const char *)buf_ptr(&b64));
  buf_free(&boc);
  buf_free(&b64);
  return s;
}

static void test_get_cocoon_data(void **st) {
  (void)st;
  struct ton_addr owner = {.wc = 0};
  memset(owner.hash, 0x5a, 32);
  struct ton_builder bl;
  struct ton_cell *c = NULL;
  ton_builder_init(&bl);
  assert_int_equal(ton_builder_store_addr(&bl, &owner), 0);
  assert_int_equal(ton_builder_end(&bl, &c, NULL), 0);
  char *b64 = cell_b64(c);
  char json[1024];
  snprintf(json, sizeof(json),
           "{\"ok\":true,\"result\":{\"exit_code\":0,\"stack\":[[\"num\",\"0x3\"],[\"num\",\"0x2\"],[\"num\",\"0x7\"],"
           "[\"num\",\"0xef\"],[\"num\",\"-0x1\"],[\"num\",\"0x14\"],[\"num\",\"0x13\"],[\"num\",\"0x3b9aca00\"],"
           "[\"num\",\"0x77359400\"],[\"slice\",{\"bytes\":\"%s\"}]]}}",
           b64);
  struct chain_tvm_stack s;
  struct err e;
  struct chain_root *r = calloc(1, sizeof(*r));
  assert_int_equal(parse(json, &s, &e), 0);
  assert_int_equal(chain_root_from_get_cocoon_data(&s, r, &e), 0);
  assert_int_equal(r->version, 3);
  assert_int_equal(r->last_proxy_seqno, 2);
  assert_int_equal(r->params.params_version, 7);
  assert_int_equal(r->params.unique_id, 239);
  assert_int_equal(r->params.is_test, 1);
  assert_int_equal(r->params.price_per_token, 20);
  assert_int_equal(r->params.worker_fee_per_token, 19);
  assert_int_equal(r->params.min_proxy_stake, 1000000000);
  assert_int_equal(r->params.min_client_stake, 2000000000);
  assert_true(r->has_owner && ton_addr_equal(&r->owner, &owner));
  chain_tvm_stack_clear(&s);
  /* One result short. */
  char *cut = strstr(json, ",[\"slice\"");
  memcpy(cut, "]}}", 4);
  assert_int_equal(parse(json, &s, &e), 0);
  assert_int_not_equal(chain_root_from_get_cocoon_data(&s, r, &e), 0);
  assert_non_null(strstr(e.msg, "expected 10"));
  chain_tvm_stack_clear(&s);
  free(r);
  free(b64);
  ton_cell_unref(c);
}

static int count_cb(const uint8_t *key, unsigned keybits, struct ton_slice *v, void *arg) {
  (void)key;
  (void)keybits;
  (void)v;
  (*(int *)arg)++;
  return 0;
}

static void test_dict_malformed(void **st) {
  (void)st;
  struct ton_builder b;
  struct ton_cell *c = NULL;
  struct err e = {0};
  int n = 0;
  /* hml_long with a length beyond the key: n = 9 > m = 8 (4 bits for #<= 8). */
  ton_builder_init(&b);
  assert_int_equal(ton_builder_store_uint(&b, 2, 2), 0);
  assert_int_equal(ton_builder_store_uint(&b, 9, 4), 0);
  assert_int_equal(ton_builder_end(&b, &c, NULL), 0);
  assert_int_equal(ton_dict_foreach(c, 8, count_cb, &n, &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "bad label"));
  ton_cell_unref(c);
  /* A fork (label of 0 bits, 7 key bits left) without refs. */
  ton_builder_init(&b);
  assert_int_equal(ton_builder_store_uint(&b, 0, 2), 0);
  assert_int_equal(ton_builder_end(&b, &c, NULL), 0);
  assert_int_equal(ton_dict_foreach(c, 8, count_cb, &n, &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "two refs"));
  ton_cell_unref(c);
  /* hml_same: all 8 key bits are 1, a leaf. */
  ton_builder_init(&b);
  assert_int_equal(ton_builder_store_uint(&b, 3, 2), 0);
  assert_int_equal(ton_builder_store_bit(&b, 1), 0);
  assert_int_equal(ton_builder_store_uint(&b, 8, 4), 0);
  assert_int_equal(ton_builder_end(&b, &c, NULL), 0);
  n = 0;
  assert_int_equal(ton_dict_foreach(c, 8, count_cb, &n, &e), 0);
  assert_int_equal(n, 1);
  assert_int_equal(ton_dict_foreach(c, 0, count_cb, &n, &e), ERR_INVALID);
  ton_cell_unref(c);
}

static void test_wallet_transfer_refusals(void **st) {
  (void)st;
  uint8_t seed[32], other[32], pub[32];
  memset(seed, 1, 32);
  memset(other, 2, 32);
  assert_int_equal(ton_sign_pubkey(seed, pub), 0);
  struct ton_wallet w;
  assert_int_equal(ton_wallet_init(&w, TON_WALLET_V4R2, 0, pub, 0), 0);
  struct ton_int_msg m = {.bounce = 1, .value = 1000};
  struct ton_cell *msg = NULL, *body = NULL;
  struct err e = {0};
  assert_int_equal(ton_int_msg_cell(&m, 0, &msg, &e), 0);
  struct ton_wallet_out outs[5] = {{3, msg}, {3, msg}, {3, msg}, {3, msg}, {3, msg}};
  struct ton_wallet_transfer t = {.seqno = 1, .valid_until = 2000000000, .msgs = outs, .nmsgs = 5};
  assert_int_equal(ton_wallet_transfer_body(&w, &t, seed, &body, &e), ERR_LIMIT);
  assert_non_null(strstr(e.msg, "at most 4"));
  t.nmsgs = 1;
  assert_int_equal(ton_wallet_transfer_body(&w, &t, other, &body, &e), ERR_INVALID);
  assert_non_null(strstr(e.msg, "does not belong"));
  /* The signature verifies over the hash of the rest of the body. */
  assert_int_equal(ton_wallet_transfer_body(&w, &t, seed, &body, &e), 0);
  struct ton_slice s;
  uint8_t sig[64];
  ton_slice_init(&s, body);
  assert_int_equal(ton_slice_load_bits(&s, 512, sig), 0);
  struct ton_builder b;
  struct ton_cell *rest = NULL;
  ton_builder_init(&b);
  uint8_t data[TON_CELL_MAX_BYTES];
  unsigned nbits = ton_slice_bits_left(&s);
  assert_int_equal(ton_slice_load_bits(&s, nbits, data), 0);
  assert_int_equal(ton_builder_store_bits(&b, data, nbits), 0);
  const struct ton_cell *r;
  assert_int_equal(ton_slice_load_ref(&s, &r), 0);
  assert_int_equal(ton_builder_store_ref(&b, (struct ton_cell *)r), 0);
  assert_int_equal(ton_builder_end(&b, &rest, NULL), 0);
  assert_int_equal(ton_sign_verify(pub, rest->hash, 32, sig), 1);
  sig[3] ^= 1;
  assert_int_equal(ton_sign_verify(pub, rest->hash, 32, sig), 0);
  ton_cell_unref(rest);
  ton_cell_unref(body);
  ton_cell_unref(msg);
}

static void test_cocoon_msgs(void **st) {
  (void)st;
  struct ton_cell *c = NULL;
  struct err e = {0};
  struct ton_cocoon_msg m = {.op = 0x12345678};
  assert_int_equal(ton_cocoon_msg_cell(&m, &c, &e), ERR_INVALID);
  struct ton_cocoon_signed s = {.op = TON_OP_CLIENT_TOP_UP};
  uint8_t seed[32] = {9}, pub[32];
  assert_int_equal(ton_cocoon_signed_cell(&s, NULL, seed, &c, &e), ERR_INVALID);
  /* A charge signed here verifies with ton_payment_verify; a rewrapped one too. */
  assert_int_equal(ton_sign_pubkey(seed, pub), 0);
  s.op = TON_OP_CLIENT_CHARGE_SIGNED;
  s.qid = 7;
  s.tokens = 123456;
  s.target.wc = 0;
  memset(s.target.hash, 0xcd, 32);
  struct ton_addr excess = {.wc = -1};
  assert_int_equal(ton_cocoon_signed_cell(&s, NULL, seed, &c, &e), 0);
  struct ton_cell *c2 = NULL;
  assert_int_equal(ton_cocoon_signed_rewrap(c, &excess, &c2, &e), 0);
  struct ton_cell *pair[2] = {c, c2};
  for (int i = 0; i < 2; i++) {
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(ton_boc_serialize(pair[i], TON_BOC_CRC, &b, NULL), 0);
    struct ton_payment got, want = {.op = s.op, .target = s.target};
    assert_int_equal(ton_payment_verify(buf_ptr(&b), b.len, pub, &want, &got, &e), 0);
    assert_int_equal(got.tokens, 123456);
    buf_free(&b);
  }
  ton_cell_unref(c2);
  ton_cell_unref(c);
  /* Comments: long text chains into refs. */
  char text[300];
  memset(text, 'a', sizeof(text) - 1);
  text[sizeof(text) - 1] = '\0';
  assert_int_equal(ton_comment_cell(text, &c, &e), 0);
  assert_int_equal(c->bits, 32 + 123 * 8);
  assert_int_equal(c->nrefs, 1);
  assert_int_equal(c->refs[0]->bits, 127 * 8);
  assert_int_equal(c->refs[0]->refs[0]->bits, (299 - 123 - 127) * 8);
  ton_cell_unref(c);
}

static void test_toncenter_answers(void **st) {
  (void)st;
  struct ton_builder b;
  struct ton_cell *c = NULL;
  ton_builder_init(&b);
  assert_int_equal(ton_builder_store_uint(&b, 0xabcdef, 24), 0);
  assert_int_equal(ton_builder_end(&b, &c, NULL), 0);
  char *cb64 = cell_b64(c);
  char hash_b64[45] = "q83vq83vq83vq83vq83vq83vq83vq83vq83vq83vq80=";
  char json[2048];
  json_t *root, *result;
  struct err e = {0};
  /* getAddressInformation of an active account */
  snprintf(json, sizeof(json),
           "{\"ok\":true,\"result\":{\"balance\":\"2494597599\",\"code\":\"%s\",\"data\":\"%s\","
           "\"last_transaction_id\":{\"lt\":\"7000000\",\"hash\":\"%s\"},\"sync_utime\":1795624146,"
           "\"state\":\"active\"}}",
           cb64, cb64, hash_b64);
  assert_int_equal(toncenter_envelope(json, strlen(json), 200, &root, &result, &e), 0);
  struct toncenter_account a;
  assert_int_equal(toncenter_account_from_json(result, &a, &e), 0);
  assert_int_equal(a.balance, 2494597599ull);
  assert_int_equal(a.state, TONCENTER_ACTIVE);
  assert_non_null(a.code);
  assert_memory_equal(a.data->hash, c->hash, 32);
  assert_int_equal(a.last_lt, 7000000);
  assert_int_equal(a.last_hash[0], 0xab);
  assert_int_equal(a.sync_utime, 1795624146u);
  toncenter_account_clear(&a);
  json_decref(root);
  /* A state toncenter does not have is refused; so is a non-JSON body and ok:false. */
  snprintf(json, sizeof(json), "{\"ok\":true,\"result\":{\"balance\":\"1\",\"state\":\"zombie\"}}");
  assert_int_equal(toncenter_envelope(json, strlen(json), 200, &root, &result, &e), 0);
  assert_int_equal(toncenter_account_from_json(result, &a, &e), ERR_PROTO);
  assert_non_null(strstr(e.msg, "zombie"));
  toncenter_account_clear(&a);
  json_decref(root);
  assert_int_equal(toncenter_envelope("<html>", 6, 502, &root, &result, &e), ERR_PROTO);
  assert_non_null(strstr(e.msg, "HTTP 502"));
  json_decref(root);
  snprintf(json, sizeof(json), "{\"ok\":false,\"error\":\"Ratelimit exceed\",\"code\":429}");
  assert_int_equal(toncenter_envelope(json, strlen(json), 429, &root, &result, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "HTTP 429: Ratelimit exceed"));
  json_decref(root);
  /* getTransactions: an external in-message (no source) with its body hash and body. */
  snprintf(json, sizeof(json),
           "{\"ok\":true,\"result\":[{\"utime\":5,\"transaction_id\":{\"lt\":\"9\",\"hash\":\"%s\"},"
           "\"fee\":\"2091736\",\"in_msg\":{\"source\":\"\",\"value\":\"0\",\"body_hash\":\"%s\","
           "\"msg_data\":{\"body\":\"%s\"}},\"out_msgs\":[{},{}]},"
           "{\"utime\":4,\"transaction_id\":{\"lt\":\"8\",\"hash\":\"%s\"},\"fee\":\"1\","
           "\"in_msg\":{\"source\":\"EQCrq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq8Uk\",\"value\":\"5\","
           "\"body_hash\":\"%s\"},\"out_msgs\":[]}]}",
           hash_b64, hash_b64, cb64, hash_b64, hash_b64);
  assert_int_equal(toncenter_envelope(json, strlen(json), 200, &root, &result, &e), 0);
  struct toncenter_tx *txs = NULL;
  size_t n = 0;
  assert_int_equal(toncenter_txs_from_json(result, &txs, &n, &e), 0);
  assert_int_equal(n, 2);
  assert_int_equal(txs[0].lt, 9);
  assert_int_equal(txs[0].fee, 2091736);
  assert_true(txs[0].has_in_msg && txs[0].in_external);
  assert_int_equal(txs[0].n_out, 2);
  assert_memory_equal(txs[0].in_body->hash, c->hash, 32);
  assert_false(txs[1].in_external);
  assert_int_equal(txs[1].in_value, 5);
  assert_null(txs[1].in_body);
  toncenter_txs_free(txs, n);
  json_decref(root);
  /* A transaction without an id is refused. */
  snprintf(json, sizeof(json), "{\"ok\":true,\"result\":[{\"utime\":5}]}");
  assert_int_equal(toncenter_envelope(json, strlen(json), 200, &root, &result, &e), 0);
  assert_int_equal(toncenter_txs_from_json(result, &txs, &n, &e), ERR_PROTO);
  toncenter_txs_free(txs, n);
  json_decref(root);
  free(cb64);
  ton_cell_unref(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_b64),
      cmocka_unit_test(test_stack_numbers),
      cmocka_unit_test(test_stack_errors),
      cmocka_unit_test(test_get_cocoon_data),
      cmocka_unit_test(test_dict_malformed),
      cmocka_unit_test(test_wallet_transfer_refusals),
      cmocka_unit_test(test_cocoon_msgs),
      cmocka_unit_test(test_toncenter_answers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
