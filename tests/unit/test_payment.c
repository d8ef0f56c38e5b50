/* test_payment: COCOON's signed payment messages: layout, signature, tampering, expectations. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "ton/boc.h"
#include "ton/cell.h"
#include "ton/payment.h"

static void keypair(uint8_t seed[32], uint8_t pub[32], uint8_t fill) {
  memset(seed, fill, 32);
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
  size_t n = 32;
  assert_non_null(k);
  assert_int_equal(EVP_PKEY_get_raw_public_key(k, pub, &n), 1);
  EVP_PKEY_free(k);
}

static struct ton_payment sample(void) {
  struct ton_payment p = {.op = TON_OP_CLIENT_CHARGE_SIGNED, .qid = 0x1122334455667788ull, .tokens = 123456};
  p.target.wc = 0;
  for (int i = 0; i < 32; i++) p.target.hash[i] = (uint8_t)i;
  return p;
}

static void test_layout_and_roundtrip(void **state) {
  uint8_t seed[32], pub[32];
  keypair(seed, pub, 7);
  struct ton_payment p = sample();
  struct buf b;
  buf_init(&b, 4096);
  struct err e = {0};
  assert_int_equal(ton_payment_sign(&p, NULL, seed, &b, &e), 0);
  /* Outer: op 32 + qid 64 + addr_none 2 + signature 512 bits, one ref; payload: 32+64+64+267. */
  struct ton_cell *root = NULL;
  assert_int_equal(ton_boc_parse_one(buf_ptr(&b), b.len, &root, &e), 0);
  assert_int_equal(root->bits, 610);
  assert_int_equal(root->nrefs, 1);
  assert_int_equal(root->refs[0]->bits, 427);
  ton_cell_unref(root);
  struct ton_payment got;
  assert_int_equal(ton_payment_verify(buf_ptr(&b), b.len, pub, &p, &got, &e), 0);
  assert_int_equal(got.tokens, 123456);
  assert_int_equal(got.qid, p.qid);
  assert_int_equal(got.op, TON_OP_CLIENT_CHARGE_SIGNED);
  buf_free(&b);
}

static void test_refusals(void **state) {
  uint8_t seed[32], pub[32], seed2[32], pub2[32];
  keypair(seed, pub, 7);
  keypair(seed2, pub2, 9);
  struct ton_payment p = sample();
  struct buf b;
  buf_init(&b, 4096);
  struct err e = {0};
  assert_int_equal(ton_payment_sign(&p, NULL, seed, &b, &e), 0);
  /* Another proxy's key. */
  assert_int_equal(ton_payment_verify(buf_ptr(&b), b.len, pub2, NULL, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "signature"));
  /* Expected another contract or op. */
  struct ton_payment other = p;
  other.target.hash[0] ^= 1;
  assert_int_equal(ton_payment_verify(buf_ptr(&b), b.len, pub, &other, NULL, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "another contract"));
  other = p;
  other.op = TON_OP_WORKER_PAYOUT_SIGNED;
  assert_int_equal(ton_payment_verify(buf_ptr(&b), b.len, pub, &other, NULL, &e), ERR_REFUSED);
  /* Every single-bit change of the message is refused (CRC, structure or signature). */
  for (size_t i = 0; i < b.len; i++) {
    for (int bit = 0; bit < 8; bit++) {
      uint8_t *m = malloc(b.len);
      assert_non_null(m);
      memcpy(m, buf_ptr(&b), b.len);
      m[i] ^= (uint8_t)(1u << bit);
      assert_int_not_equal(ton_payment_verify(m, b.len, pub, NULL, NULL, &e), 0);
      free(m);
    }
  }
  /* Every truncation is refused. */
  for (size_t n = 0; n < b.len; n++) assert_int_not_equal(ton_payment_verify(buf_ptr(&b), n, pub, NULL, NULL, &e), 0);
  buf_free(&b);
}

static void test_signature_covers_tokens(void **state) {
  /* Two totals give different payload hashes, so a signature cannot be moved between them. */
  uint8_t seed[32], pub[32];
  keypair(seed, pub, 3);
  struct ton_payment a = sample(), c = sample();
  c.tokens = a.tokens + 1;
  struct buf ba, bc;
  buf_init(&ba, 4096);
  buf_init(&bc, 4096);
  struct err e = {0};
  assert_int_equal(ton_payment_sign(&a, NULL, seed, &ba, &e), 0);
  assert_int_equal(ton_payment_sign(&c, NULL, seed, &bc, &e), 0);
  struct ton_cell *ra = NULL, *rc = NULL;
  assert_int_equal(ton_boc_parse_one(buf_ptr(&ba), ba.len, &ra, &e), 0);
  assert_int_equal(ton_boc_parse_one(buf_ptr(&bc), bc.len, &rc, &e), 0);
  assert_memory_not_equal(ra->refs[0]->hash, rc->refs[0]->hash, 32);
  ton_cell_unref(ra);
  ton_cell_unref(rc);
  buf_free(&ba);
  buf_free(&bc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_layout_and_roundtrip),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_signature_covers_tokens),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
