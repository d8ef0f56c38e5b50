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
#include "base/util.h"
#include "chain/b64.h"
#include "chain/cocoon_sc.h"
#include "chain/fake_ton.h"
#include "chain/registry_ton.h"
#include "chain/root.h"
#include "chain/root_registry.h"
#include "chain/toncenter.h"
#include "chain/tvm_stack.h"
#include "http/http_server.h"
#include "loop/loop.h"
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

/* ---- dictionaries built in C read back by the walker ---- */

struct collected {
  uint8_t keys[300][32];
  uint32_t vals[300];
  size_t n;
};

static int collect(const uint8_t *key, unsigned keybits, struct ton_slice *v, void *arg) {
  struct collected *c = arg;
  uint64_t x;
  if (c->n >= 300 || ton_slice_load_uint(v, 32, &x) || ton_slice_end(v)) return ERR_PARSE;
  memcpy(c->keys[c->n], key, (keybits + 7) / 8);
  c->vals[c->n++] = (uint32_t)x;
  return 0;
}

static int put_index(size_t i, struct ton_builder *b, void *arg) {
  (void)arg;
  return ton_builder_store_uint(b, 1000 + i, 32);
}

static int put_too_much(size_t i, struct ton_builder *b, void *arg) {
  (void)i, (void)arg;
  uint8_t big[128] = {0};
  return ton_builder_store_bytes(b, big, sizeof(big));
}

static int cmp32(const void *a, const void *b) { return memcmp(a, b, 32); }

static void test_dict_build(void **st) {
  (void)st;
  static uint8_t keys[300][32];
  static struct collected got;
  struct err e = {0};
  uint32_t seed = 12345;
  const unsigned widths[] = {256, 32, 7, 1};
  const size_t counts[] = {1, 2, 3, 17, 300};
  for (size_t w = 0; w < 4; w++)
    for (size_t c = 0; c < 5; c++) {
      unsigned kb = widths[w];
      size_t n = counts[c];
      if (kb < 9 && n > (1u << kb)) n = 1u << kb;
      /* Random distinct keys (the unused low bits zero), sorted. */
      memset(keys, 0, sizeof(keys));
      size_t have = 0;
      while (have < n) {
        uint8_t k[32] = {0};
        for (unsigned b = 0; b < kb; b++) {
          seed = seed * 1103515245u + 12345u;
          if ((seed >> 16) & 1) k[b / 8] |= (uint8_t)(0x80 >> (b % 8));
        }
        int dup = 0;
        for (size_t i = 0; i < have && !dup; i++) dup = !memcmp(keys[i], k, 32);
        if (!dup) memcpy(keys[have++], k, 32);
      }
      qsort(keys, n, 32, cmp32);
      struct ton_cell *root = NULL;
      assert_int_equal(ton_dict_build(&keys[0][0], 32, n, kb, put_index, NULL, &root, &e), 0);
      assert_non_null(root);
      memset(&got, 0, sizeof(got));
      assert_int_equal(ton_dict_foreach(root, kb, collect, &got, &e), 0);
      assert_int_equal(got.n, n);
      for (size_t i = 0; i < n; i++) {
        assert_memory_equal(got.keys[i], keys[i], (kb + 7) / 8);
        assert_int_equal(got.vals[i], 1000 + i);
      }
      ton_cell_unref(root);
    }
  struct ton_cell *root = (struct ton_cell *)1;
  assert_int_equal(ton_dict_build(&keys[0][0], 32, 0, 256, put_index, NULL, &root, &e), 0);
  assert_null(root);
  /* Refusals: out of order, repeated, a value too big for its leaf, bad key lengths. */
  memset(keys, 0, sizeof(keys));
  keys[0][0] = 2, keys[1][0] = 1;
  assert_int_equal(ton_dict_build(&keys[0][0], 32, 2, 256, put_index, NULL, &root, &e), ERR_INVALID);
  assert_null(root);
  keys[1][0] = 2;
  assert_int_equal(ton_dict_build(&keys[0][0], 32, 2, 256, put_index, NULL, &root, &e), ERR_INVALID);
  assert_non_null(strstr(e.msg, "not above"));
  keys[1][0] = 3;
  assert_int_equal(ton_dict_build(&keys[0][0], 32, 2, 256, put_too_much, NULL, &root, &e), ERR_LIMIT);
  assert_null(root);
  assert_int_equal(ton_dict_build(&keys[0][0], 32, 2, 0, put_index, NULL, &root, &e), ERR_INVALID);
  assert_int_equal(ton_dict_build(&keys[0][0], 4, 2, 256, put_index, NULL, &root, &e), ERR_INVALID);
}

/* ---- the registry as root data and back ---- */

static void sample_registry(struct registry *r) {
  uint8_t owner[32] = {7};
  struct err e = {0};
  registry_init(r, owner);
  r->version = 42;
  r->params.price_per_token = 20;
  r->params.worker_fee_per_token = 7;
  r->params.cached_mult = 2500;
  r->params.client_delay_before_close = 86400;
  r->params.min_client_stake = 123456789;
  for (int l = 0; l < REGISTRY_LISTS; l++)
    for (int i = 0; i < 5 + l * 20; i++) {
      uint8_t h[32];
      for (int j = 0; j < 32; j++) h[j] = (uint8_t)(i * 31 + j * 7 + l);
      assert_int_equal(registry_add_hash(r, (enum registry_list)l, h, &e), 0);
    }
  assert_int_equal(registry_add_proxy(r, "10.0.0.1:8888 10.0.0.1:8889", &e), 0);
  assert_int_equal(registry_add_proxy(r, "proxy.example:443", &e), 0);
}

static void test_root_registry(void **st) {
  (void)st;
  struct registry *r = calloc(1, sizeof(*r)), *back = calloc(1, sizeof(*back));
  struct chain_root *c = calloc(1, sizeof(*c));
  assert_non_null(r), assert_non_null(back), assert_non_null(c);
  struct err e = {0};
  struct ton_addr owner = {.wc = 0};
  memset(owner.hash, 0x42, 32);
  struct chain_root_build_opts o;
  chain_root_build_opts_init(&o, &owner);
  o.unique_id = 239;
  sample_registry(r);

  /* Through a BoC, as the chain would hand it back. */
  struct ton_cell *data = NULL, *parsed = NULL;
  struct buf boc;
  buf_init(&boc, 1 << 20);
  assert_int_equal(chain_root_data_from_registry(r, &o, &data, &e), 0);
  assert_int_equal(ton_boc_serialize(data, TON_BOC_CRC, &boc, &e), 0);
  assert_int_equal(ton_boc_parse_one(buf_ptr(&boc), boc.len, &parsed, &e), 0);
  assert_memory_equal(parsed->hash, data->hash, 32);
  assert_int_equal(chain_root_parse_data(parsed, c, &e), 0);
  assert_int_equal(c->version, 42);
  assert_int_equal(c->has_owner, 1);
  assert_int_equal(ton_addr_equal(&c->owner, &owner), 1);
  assert_int_equal(c->params.struct_version, 3);
  assert_int_equal(c->params.unique_id, 239);
  assert_int_equal(c->params.is_test, 1);
  assert_int_equal(c->last_proxy_seqno, 2);
  assert_int_equal(c->proxies[1].seqno, 2);
  assert_string_equal(c->proxies[1].addr, "proxy.example:443");
  assert_int_equal(chain_root_to_registry(c, back, &e), 0);
  assert_int_equal(back->version, 42);
  assert_memory_equal(&back->params, &r->params, sizeof(r->params));
  for (int l = 0; l < REGISTRY_LISTS; l++) {
    assert_int_equal(back->n_hashes[l], r->n_hashes[l]);
    assert_memory_equal(back->hashes[l], r->hashes[l], r->n_hashes[l] * 32);
  }
  assert_int_equal(back->n_proxy_addrs, 2);
  assert_string_equal(back->proxy_addrs[0], r->proxy_addrs[0]);
  assert_int_equal(back->is_signed, 0);
  ton_cell_unref(parsed);
  ton_cell_unref(data);
  buf_free(&boc);

  /* Child code goes into the params as refs. */
  o.proxy_code = ton_cell_empty();
  assert_int_equal(chain_root_data_from_registry(r, &o, &data, &e), 0);
  assert_int_equal(chain_root_parse_data(data, c, &e), 0);
  assert_int_equal(c->params.has_proxy_code, 1);
  assert_int_equal(c->params.has_worker_code, 0);
  ton_cell_unref(data);
  ton_cell_unref(o.proxy_code);
  o.proxy_code = NULL;

  /* The builder's limits: a 33-bit version, an address too long for the root, bad params. */
  r->version = (uint64_t)UINT32_MAX + 1;
  assert_int_equal(chain_root_data_from_registry(r, &o, &data, &e), ERR_LIMIT);
  assert_null(data);
  assert_non_null(strstr(e.msg, "32-bit"));
  r->version = UINT32_MAX;
  assert_int_equal(chain_root_data_from_registry(r, &o, &data, &e), 0);
  ton_cell_unref(data);
  char addr[REGISTRY_MAX_ADDR + 1];
  memset(addr, 'a', sizeof(addr));
  memcpy(addr + REGISTRY_MAX_ADDR - 5, ":8080", 6);
  assert_int_equal(registry_add_proxy(r, addr, &e), 0);
  assert_int_equal(chain_root_data_from_registry(r, &o, &data, &e), ERR_LIMIT);
  assert_null(data);
  r->n_proxy_addrs--;
  r->params.min_proxy_stake = -1;
  assert_int_equal(chain_root_data_from_registry(r, &o, &data, &e), ERR_INVALID);
  assert_null(data);

  /* The conversion's refusals: lists too long or out of order, prices too high, bad proxies. */
  sample_registry(r);
  assert_int_equal(chain_root_data_from_registry(r, &o, &data, &e), 0);
  assert_int_equal(chain_root_parse_data(data, c, &e), 0);
  ton_cell_unref(data);
  c->n_worker_hashes = REGISTRY_MAX_HASHES + 1;
  assert_int_equal(chain_root_to_registry(c, back, &e), ERR_LIMIT);
  assert_non_null(strstr(e.msg, "worker_image"));
  c->n_worker_hashes = 3;
  memcpy(c->worker_hashes[2], c->worker_hashes[0], 32);
  assert_int_equal(chain_root_to_registry(c, back, &e), ERR_INVALID);
  memcpy(c->worker_hashes[2], c->worker_hashes[1], 32);
  c->worker_hashes[2][31] ^= 1;
  c->worker_hashes[2][0] = 0xff;
  assert_int_equal(chain_root_to_registry(c, back, &e), 0);
  c->params.min_client_stake = (uint64_t)REGISTRY_MAX_PRICE + 1;
  assert_int_equal(chain_root_to_registry(c, back, &e), ERR_INVALID);
  assert_non_null(strstr(e.msg, "min_client_stake"));
  c->params.min_client_stake = 1;
  snprintf(c->proxies[0].addr, sizeof(c->proxies[0].addr), "no port here");
  assert_int_equal(chain_root_to_registry(c, back, &e), ERR_INVALID);
  assert_non_null(strstr(e.msg, "registered proxy 1"));
  snprintf(c->proxies[0].addr, sizeof(c->proxies[0].addr), "proxy.example:443");
  assert_int_equal(chain_root_to_registry(c, back, &e), ERR_INVALID); /* a repeat */
  c->n_proxies = REGISTRY_MAX_PROXIES + 1;
  assert_int_equal(chain_root_to_registry(c, back, &e), ERR_LIMIT);
  free(r);
  free(back);
  free(c);
}

/* The TON source's own refusals, and an unreachable endpoint reported once. */
static void test_registry_ton_source(void **st) {
  (void)st;
  struct registry_source *s = NULL;
  struct err e = {0};
  static struct registry r;
  struct chain_registry_ton_config c = {.endpoint = "", .root = "0:00"};
  assert_int_equal(chain_registry_ton_new(&c, &s, &e), ERR_INVALID);
  c.endpoint = "http://127.0.0.1:1/api/v2?api_key=SECRET";
  assert_int_equal(chain_registry_ton_new(&c, &s, &e), ERR_INVALID);
  assert_non_null(strstr(e.msg, "root contract address"));
  assert_null(s);
  char root[80];
  snprintf(root, sizeof(root), "0:%064d", 5);
  c.root = root;
  c.api_key = "KEY123";
  c.timeout_ms = 2000;
  assert_int_equal(chain_registry_ton_new(&c, &s, &e), 0);
  assert_string_equal(s->ops->kind, "ton");
  assert_null(strstr(s->where, "SECRET"));
  assert_non_null(strstr(s->where, "ton root 0:0000"));
  int rc = registry_source_poll(s, 1, &r, &e);
  assert_true(rc < 0);
  assert_non_null(strstr(e.msg, "toncenter"));
  assert_null(strstr(e.msg, "KEY123"));
  /* The same failure again is not news, unless forced. */
  assert_int_equal(registry_source_poll(s, 0, &r, &e), 0);
  assert_true(registry_source_poll(s, 1, &r, &e) < 0);
  registry_source_free(s);
}

/* ---- the TON source on a loop, against canned toncenter answers ---- */

static struct {
  struct loop *loop;
  int requests;
  int status;
  char *answer; /* owned */
} TS;

static void ts_handler(struct http_request *req, void *arg) {
  (void)arg;
  TS.requests++;
  (void)http_respond(req, TS.status, "application/json", TS.answer, strlen(TS.answer));
}

static void ts_set(int status, const char *answer) {
  free(TS.answer);
  TS.answer = strdup(answer);
  assert_non_null(TS.answer);
  TS.status = status;
}

#define TS_LAST "\"last_transaction_id\":{\"lt\":\"%llu\",\"hash\":\"q83vq83vq83vq83vq83vq83vq83vq83vq83vq83vq80=\"}"

static void ts_active(const char *data_b64, uint64_t lt) {
  static char a[1 << 16];
  snprintf(a, sizeof(a),
           "{\"ok\":true,\"result\":{\"balance\":\"1000\",\"state\":\"active\",\"code\":\"%s\",\"data\":\"%s\"," TS_LAST
           "}}",
           data_b64, data_b64, (unsigned long long)lt);
  ts_set(200, a);
}

static void ts_uninit(uint64_t lt) {
  char a[512];
  snprintf(a, sizeof(a), "{\"ok\":true,\"result\":{\"balance\":\"0\",\"state\":\"uninitialized\"," TS_LAST "}}",
           (unsigned long long)lt);
  ts_set(200, a);
}

/* One watcher tick: the answer to the request started by the previous poll arrives, then a
 * poll hands it over (and starts the next request). */
static int ts_cycle(struct registry_source *src, struct registry *out, struct err *e) {
  int want = TS.requests + 1;
  uint64_t end = util_mono_ms() + 5000;
  while (TS.requests < want && util_mono_ms() < end) loop_run_once(TS.loop, 10);
  assert_int_equal(TS.requests, want);
  end = util_mono_ms() + 200;
  while (util_mono_ms() < end) loop_run_once(TS.loop, 10);
  memset(e, 0, sizeof(*e));
  return registry_source_poll(src, 0, out, e);
}

static void test_registry_ton_async(void **st) {
  (void)st;
  struct registry *r = calloc(1, sizeof(*r)), *out = calloc(1, sizeof(*out));
  assert_non_null(r), assert_non_null(out);
  struct err e = {0};
  struct ton_addr owner = {.wc = 0};
  struct chain_root_build_opts o;
  chain_root_build_opts_init(&o, &owner);
  sample_registry(r);
  r->version = 7;
  struct ton_cell *d7 = NULL, *d9 = NULL;
  assert_int_equal(chain_root_data_from_registry(r, &o, &d7, &e), 0);
  r->version = 9;
  assert_int_equal(chain_root_data_from_registry(r, &o, &d9, &e), 0);
  struct ton_cell *empty = ton_cell_empty();
  char *b7 = cell_b64(d7), *b9 = cell_b64(d9), *bad = cell_b64(empty);
  ton_cell_unref(empty);

  memset(&TS, 0, sizeof(TS));
  assert_int_equal(loop_new(&TS.loop), 0);
  struct http_server *srv = NULL;
  struct http_server_config cfg = {.host = "127.0.0.1", .port = 0, .handler = ts_handler};
  assert_int_equal(http_server_new(TS.loop, &cfg, &srv, &e), 0);
  char url[128], root[80];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v2", http_server_port(srv));
  snprintf(root, sizeof(root), "0:%064d", 3);
  struct chain_registry_ton_config c = {.endpoint = url, .root = root, .timeout_ms = 3000};
  struct registry_source *src = NULL;
  assert_int_equal(chain_registry_ton_new(&c, &src, &e), 0);
  assert_int_equal(src->ops->attach_cb(src, TS.loop, &e), 0);

  /* The first poll only starts a request; the next hands over version 7. */
  ts_active(b7, 100);
  assert_int_equal(registry_source_poll(src, 0, out, &e), 0);
  assert_int_equal(ts_cycle(src, out, &e), 1);
  assert_int_equal(out->version, 7);
  assert_int_equal(out->n_proxy_addrs, 2);
  /* The same last transaction: nothing new. A newer one: version 9. */
  assert_int_equal(ts_cycle(src, out, &e), 0);
  ts_active(b9, 200);
  assert_int_equal(ts_cycle(src, out, &e), 1);
  assert_int_equal(out->version, 9);
  /* Bad answers are reported once each: not JSON, HTTP errors, not deployed, not a root. */
  ts_set(502, "<html>bad gateway</html>");
  assert_true(ts_cycle(src, out, &e) < 0);
  assert_non_null(strstr(e.msg, "toncenter"));
  assert_int_equal(ts_cycle(src, out, &e), 0);
  ts_uninit(300);
  assert_int_equal(ts_cycle(src, out, &e), ERR_NOTFOUND);
  assert_non_null(strstr(e.msg, "not deployed"));
  ts_active(bad, 400);
  assert_int_equal(ts_cycle(src, out, &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "root data"));
  assert_int_equal(ts_cycle(src, out, &e), 0);
  /* Back to the state already handed over: nothing new; a change after it is news again. */
  ts_active(b9, 200);
  assert_int_equal(ts_cycle(src, out, &e), 0);
  ts_active(b7, 500);
  assert_int_equal(ts_cycle(src, out, &e), 1);
  assert_int_equal(out->version, 7); /* the order is the watcher's business */

  registry_source_free(src);
  http_server_free(srv);
  loop_run_once(TS.loop, 0);
  loop_free(TS.loop);
  free(TS.answer);
  free(b7), free(b9), free(bad);
  ton_cell_unref(d7), ton_cell_unref(d9);
  free(r), free(out);
}

/* The proxy contract's data and client contract address derivation against contracts/build.cjs:
 * proxyData-shaped data (owner 0:22.., key 44.., root -1:33.., balance 5, stake 2 TON, unlock 7,
 * params price 20 fee 19 cached 2500 delays 600/300 stakes 2/1 TON with worker code x{beef} and
 * client code x{c0de}); clientAddress(code, owner 0:11.., proxy 0:22.., key, params) computed by
 * @ton/core from build.clientData. */
static const char *PROXY_DATA_B64 =
    "te6cckEBBAEAqgAB2oAEREREREREREREREREREREREREREREREREREREREREREiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI"
    "iIiIk/zMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzBBUdzWUAAAAAAcBAlsDAAAAAQAAAAGIoImAABOIAAAE4gAAE4gA"
    "ABOIAAABLAAAAJYjuaygAh3NZQA4AgMABL7vAATA3u71OZA=";
static const char *CLIENT_SC_WANT = "0:00d93b0ebcdec27105a812119cfe06e56dff03230307e7d43a6e642ffa35440f";

static void test_cocoon_sc(void **st) {
  (void)st;
  struct buf b;
  struct err e = {0};
  struct ton_cell *data = NULL;
  buf_init(&b, 0);
  assert_int_equal(chain_b64_decode(PROXY_DATA_B64, strlen(PROXY_DATA_B64), &b), 0);
  assert_int_equal(ton_boc_parse_one(buf_ptr(&b), b.len, &data, &e), 0);
  struct chain_proxy_sc p;
  assert_int_equal(chain_proxy_sc_parse(data, &p, &e), 0);
  uint8_t key[32];
  memset(key, 0x44, 32);
  assert_memory_equal(p.proxy_key, key, 32);
  assert_int_equal(p.root.wc, -1);
  assert_int_equal(p.balance, 5);
  assert_int_equal(p.stake, 2000000000);
  assert_int_equal(p.unlock_ts, 7);
  assert_int_equal(p.min_client_stake, 1000000000);
  assert_non_null(p.client_code);
  struct ton_addr owner = {.wc = 0}, proxy = {.wc = 0}, got, want;
  memset(owner.hash, 0x11, 32);
  memset(proxy.hash, 0x22, 32);
  assert_int_equal(ton_addr_parse(CLIENT_SC_WANT, &want, NULL, &e), 0);
  assert_int_equal(chain_client_sc_address(&p, &proxy, &owner, &got, &e), 0);
  assert_true(ton_addr_equal(&got, &want));
  owner.hash[31] ^= 1; /* another owner, another contract */
  assert_int_equal(chain_client_sc_address(&p, &proxy, &owner, &got, &e), 0);
  assert_false(ton_addr_equal(&got, &want));
  chain_proxy_sc_clear(&p);
  chain_proxy_sc_clear(&p); /* twice is harmless */
  /* The same data with a bit more, or a bit less, is refused with a message. */
  struct ton_builder bl;
  struct ton_cell *more = NULL;
  ton_builder_init(&bl);
  assert_int_equal(ton_builder_store_cell_contents(&bl, data), 0);
  assert_int_equal(ton_builder_store_bit(&bl, 1), 0);
  assert_int_equal(ton_builder_end(&bl, &more, NULL), 0);
  memset(&e, 0, sizeof(e));
  assert_int_not_equal(chain_proxy_sc_parse(more, &p, &e), 0);
  assert_non_null(strstr(e.msg, "proxy contract data"));
  assert_null(p.params_nocode);
  ton_cell_unref(more);
  /* A params cell without client code: no derivation. */
  memset(&p, 0, sizeof(p));
  assert_int_equal(chain_client_sc_address(&p, &proxy, &owner, &got, &e), ERR_NOTFOUND);
  struct chain_proxy_sc p2;
  assert_int_equal(chain_proxy_sc_parse(data, &p2, &e), 0);
  ton_cell_unref(data);
  buf_free(&b);

  /* A worker contract's data: owner proxy key state tokens ^params (the params without code). */
  {
    struct ton_builder wb;
    struct ton_cell *wd = NULL;
    ton_builder_init(&wb);
    assert_int_equal(ton_builder_store_addr(&wb, &owner), 0);
    assert_int_equal(ton_builder_store_addr(&wb, &proxy), 0);
    assert_int_equal(ton_builder_store_bytes(&wb, key, 32), 0);
    assert_int_equal(ton_builder_store_uint(&wb, 0, 2), 0);
    assert_int_equal(ton_builder_store_uint(&wb, 16, 64), 0);
    assert_int_equal(ton_builder_store_ref(&wb, p2.params_nocode), 0);
    assert_int_equal(ton_builder_end(&wb, &wd, NULL), 0);
    struct chain_worker_sc w;
    assert_int_equal(chain_worker_sc_parse(wd, &w, &e), 0);
    assert_int_equal(w.tokens, 16);
    assert_int_equal(w.worker_fee_per_token, 19);
    assert_int_equal(w.price_per_token, 20);
    assert_true(ton_addr_equal(&w.proxy, &proxy));
    memset(&e, 0, sizeof(e));
    assert_int_not_equal(chain_worker_sc_parse(p2.params_nocode, &w, &e), 0); /* not worker data */
    assert_true(e.msg[0] != '\0');
    ton_cell_unref(wd);
  }
  chain_proxy_sc_clear(&p2);

  /* get_cocoon_client_data: 9 results. */
  struct ton_cell *oc = NULL, *pc = NULL;
  ton_builder_init(&bl);
  assert_int_equal(ton_builder_store_addr(&bl, &owner), 0);
  assert_int_equal(ton_builder_end(&bl, &oc, NULL), 0);
  ton_builder_init(&bl);
  assert_int_equal(ton_builder_store_addr(&bl, &proxy), 0);
  assert_int_equal(ton_builder_end(&bl, &pc, NULL), 0);
  char *ob = cell_b64(oc), *pb = cell_b64(pc);
  const char *cases[][2] = {
      {"0x1", "0x3b9aca00"}, /* closing, balance 1 TON: accepted */
      {"0x3", "0x1"},        /* state 3 */
      {"0x0", "-0x1"},       /* negative balance */
  };
  for (int i = 0; i < 3; i++) {
    char json[2048];
    snprintf(json, sizeof(json),
             "{\"ok\":true,\"result\":{\"exit_code\":0,\"stack\":[[\"slice\",{\"bytes\":\"%s\"}],[\"slice\",{\"bytes\":\"%s\"}],"
             "[\"num\",\"0x%s\"],[\"num\",\"%s\"],[\"num\",\"%s\"],[\"num\",\"0x3b9aca00\"],[\"num\",\"0x10\"],"
             "[\"num\",\"0x65\"],[\"num\",\"0x0\"]]}}",
             ob, pb, "4444444444444444444444444444444444444444444444444444444444444444", cases[i][0], cases[i][1]);
    struct chain_tvm_stack s;
    struct chain_client_sc c;
    assert_int_equal(parse(json, &s, &e), 0);
    memset(&e, 0, sizeof(e));
    int rc = chain_client_sc_from_stack(&s, &c, &e);
    if (i == 0) {
      assert_int_equal(rc, 0);
      assert_int_equal(c.state, 1);
      assert_int_equal(c.balance, 1000000000);
      assert_int_equal(c.stake, 1000000000);
      assert_int_equal(c.tokens_used, 16);
      assert_int_equal(c.unlock_ts, 101);
      assert_true(ton_addr_equal(&c.proxy, &proxy));
      assert_memory_equal(c.proxy_key, key, 32);
      /* One result short. */
      s.n--;
      assert_int_not_equal(chain_client_sc_from_stack(&s, &c, &e), 0);
      assert_non_null(strstr(e.msg, "gives 9"));
      s.n++;
    } else {
      assert_int_not_equal(rc, 0);
      assert_true(e.msg[0] != '\0');
    }
    chain_tvm_stack_clear(&s);
  }
  free(ob);
  free(pb);
  ton_cell_unref(oc);
  ton_cell_unref(pc);
}

/* A 16-bit code cell, as the known answers below use (x{f00d} proxy, x{beef} worker, x{c0de}
 * client). */
static struct ton_cell *code16(unsigned v) {
  struct ton_builder b;
  struct ton_cell *c = NULL;
  ton_builder_init(&b);
  assert_int_equal(ton_builder_store_uint(&b, v, 16), 0);
  assert_int_equal(ton_builder_end(&b, &c, NULL), 0);
  return c;
}

/* COCOON's derived contract addresses. Known answers computed by @ton/core with the layouts of
 * contracts/build.cjs (proxyData, workerData, clientData; struct_version 3 params price 20 fee
 * 19): proxy of owner 0:11.. key 44.. root -1:33..; worker and client of owner 0:55.. under it. */
static void test_sc_addresses(void **st) {
  (void)st;
  struct err e = {0};
  struct chain_root_params p = {.struct_version = 3, .params_version = 1, .unique_id = 1, .is_test = 1,
                                .price_per_token = 20, .worker_fee_per_token = 19, .prompt_mult = 10000,
                                .cached_mult = 10000, .completion_mult = 10000, .reasoning_mult = 10000,
                                .proxy_delay_before_close = 600, .client_delay_before_close = 300,
                                .min_proxy_stake = 1000000000, .min_client_stake = 1000000000};
  struct chain_sc_code c = {.proxy_code = code16(0xf00d), .worker_code = code16(0xbeef),
                            .client_code = code16(0xc0de), .min_client_stake = 1000000000};
  assert_int_equal(chain_root_params_cell(&p, NULL, c.worker_code, c.client_code, &c.proxy_params, &e), 0);
  assert_int_equal(chain_root_params_cell(&p, NULL, NULL, NULL, &c.params_nocode, &e), 0);
  uint8_t key[32];
  memset(key, 0x44, 32);
  struct ton_addr owner = {.wc = 0}, root = {.wc = -1}, wowner = {.wc = 0}, proxy, got, want;
  memset(owner.hash, 0x11, 32);
  memset(root.hash, 0x33, 32);
  memset(wowner.hash, 0x55, 32);
  assert_int_equal(chain_proxy_sc_address_of(&c, &root, key, &owner, &proxy, &e), 0);
  assert_int_equal(ton_addr_parse("0:1ebd030b172e16984df1597335daf8756c14ee99ad79b088c4c3e8d5b8495d9c", &want, NULL, &e), 0);
  assert_true(ton_addr_equal(&proxy, &want));
  assert_int_equal(chain_worker_sc_address_of(&c, &proxy, key, &wowner, &got, &e), 0);
  assert_int_equal(ton_addr_parse("0:d394dff7ba85ab0035c1b65f71694f277f906e6e2d625cf821d0c2b02424f09f", &want, NULL, &e), 0);
  assert_true(ton_addr_equal(&got, &want));
  assert_int_equal(chain_client_sc_address_of(&c, &proxy, key, &wowner, &got, &e), 0);
  assert_int_equal(ton_addr_parse("0:41a46fad0b41085fa578121daf1a826859f15b9c1f9b10f78b1e06ab891471b3", &want, NULL, &e), 0);
  assert_true(ton_addr_equal(&got, &want));
  /* Each input counts: another key, owner or root gives another proxy contract. */
  key[0] ^= 1;
  assert_int_equal(chain_proxy_sc_address_of(&c, &root, key, &owner, &got, &e), 0);
  assert_false(ton_addr_equal(&got, &proxy));
  key[0] ^= 1;
  root.wc = 0;
  assert_int_equal(chain_proxy_sc_address_of(&c, &root, key, &owner, &got, &e), 0);
  assert_false(ton_addr_equal(&got, &proxy));
  /* No code known: ERR_NOTFOUND, not an address. */
  struct chain_sc_code none = {0};
  assert_int_equal(chain_proxy_sc_address_of(&none, &root, key, &owner, &got, &e), ERR_NOTFOUND);
  assert_int_equal(chain_worker_sc_address_of(&none, &proxy, key, &wowner, &got, &e), ERR_NOTFOUND);
  assert_int_equal(chain_client_sc_address_of(&none, &proxy, key, &wowner, &got, &e), ERR_NOTFOUND);
  /* struct_version 1 params (COCOON's fake-TON) leave the multipliers out; @ton/core's hash. */
  struct ton_cell *sv1 = NULL;
  p.struct_version = 1;
  p.unique_id = 13;
  p.price_per_token = 2;
  p.worker_fee_per_token = 1;
  assert_int_equal(chain_root_params_cell(&p, NULL, c.worker_code, c.client_code, &sv1, &e), 0);
  char hex[65];
  util_hex(sv1->hash, 32, hex);
  assert_string_equal(hex, "1e9e2b119425608359a205e249f215ea9348fb89654bc9defe3d5bf0a75448b8");
  struct chain_root_params back;
  assert_int_equal(chain_root_params_parse(sv1, &back, &e), 0);
  assert_int_equal(back.struct_version, 1);
  assert_int_equal(back.unique_id, 13);
  assert_int_equal(back.cached_mult, 0);
  ton_cell_unref(sv1);
  p.struct_version = 4;
  assert_int_equal(chain_root_params_cell(&p, NULL, NULL, NULL, &sv1, &e), ERR_INVALID);
  ton_cell_unref(c.proxy_code), ton_cell_unref(c.worker_code), ton_cell_unref(c.client_code);
  ton_cell_unref(c.proxy_params), ton_cell_unref(c.params_nocode);
}

/* The hex of a one-cell BoC of code16(v). */
static void code_hex(unsigned v, char *out, size_t outsz) {
  struct ton_cell *c = code16(v);
  struct buf b;
  buf_init(&b, 0);
  assert_int_equal(ton_boc_serialize(c, TON_BOC_CRC, &b, NULL), 0);
  assert_true(2 * b.len + 1 <= outsz);
  util_hex(buf_ptr(&b), b.len, out);
  buf_free(&b);
  ton_cell_unref(c);
}

static int fake_parse(const char *json, struct chain_fake_ton *f, struct err *e) {
  memset(e, 0, sizeof(*e));
  return chain_fake_ton_parse(json, strlen(json), f, e);
}

/* COCOON's fake-TON root configuration (spec/fake-ton/fake-ton-config.json's fields). */
static void test_fake_ton(void **st) {
  (void)st;
  char w[128], c[128], json[1024];
  code_hex(0xbeef, w, sizeof(w));
  code_hex(0xc0de, c, sizeof(c));
  snprintf(json, sizeof(json),
           "{\"proxy_hashes\":[\"x\"],\"worker_hashes\":[],\"model_names\":[\"Qwen/Qwen3-8B\"],"
           "\"registered_proxies\":[{\"seqno\":1,\"address\":\"127.0.0.1:1 127.0.0.1:2\"}],"
           "\"price_per_token\":2,\"worker_fee_per_token\":1,\"last_proxy_seqno\":1,\"version\":3,"
           "\"params_version\":1,\"proxy_sc_code\":\"\",\"worker_sc_code\":\"%s\",\"client_sc_code\":\"%s\","
           "\"root_owner_address\":\"0QBgPMq7ye2WRcudRHK_-yjHwMXjeN-UCzAuoo06TR6hmgHV\"}",
           w, c);
  struct chain_fake_ton f;
  struct err e;
  assert_int_equal(fake_parse(json, &f, &e), 0);
  assert_int_equal(f.version, 3);
  assert_int_equal(f.n_models, 1);
  assert_true(f.has_root_owner);
  assert_int_equal(f.params.price_per_token, 2);
  assert_int_equal(f.sc.min_client_stake, 1000000000);
  assert_non_null(f.sc.proxy_code); /* "" is an empty cell, as in COCOON */
  char hex[65];
  util_hex(f.sc.proxy_params->hash, 32, hex);
  assert_string_equal(hex, "1e9e2b119425608359a205e249f215ea9348fb89654bc9defe3d5bf0a75448b8");
  chain_fake_ton_clear(&f);
  chain_fake_ton_clear(&f);
  /* Refusals name the field. */
  static const struct {
    const char *json, *want;
  } bad[] = {
      {"[]", "top level"},
      {"{", "line"},
      {"{\"version\":\"3\"}", "version must be an integer"},
      {"{\"version\":4294967296}", "version"},
      {"{\"price_per_token\":-1}", "price_per_token"},
      {"{\"proxy_hashes\":{}}", "proxy_hashes must be a list"},
      {"{\"proxy_sc_code\":\"abc\"}", "odd number"},
      {"{\"proxy_sc_code\":\"zz\"}", "not hex"},
      {"{\"proxy_sc_code\":\"00ff\"}", "proxy_sc_code"},
      {"{\"client_sc_code\":7}", "client_sc_code must be a hex string"},
      {"{\"root_owner_address\":\"nope\"}", "root_owner_address"},
      {"{\"version\":1,\"version\":2}", "line"},
  };
  for (size_t i = 0; i < CC_ARRAY_LEN(bad); i++) {
    int rc = fake_parse(bad[i].json, &f, &e);
    if (rc == 0 || !strstr(e.msg, bad[i].want)) fail_msg("case %zu: rc %d msg \"%s\"", i, rc, e.msg);
    assert_null(f.sc.proxy_code);
  }
  assert_int_equal(chain_fake_ton_load("/nonexistent/fake-ton.json", &f, &e), ERR_IO);
  assert_non_null(strstr(e.msg, "/nonexistent/fake-ton.json"));
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
      cmocka_unit_test(test_dict_build),
      cmocka_unit_test(test_root_registry),
      cmocka_unit_test(test_registry_ton_source),
      cmocka_unit_test(test_registry_ton_async),
      cmocka_unit_test(test_cocoon_sc),
      cmocka_unit_test(test_sc_addresses),
      cmocka_unit_test(test_fake_ton),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
