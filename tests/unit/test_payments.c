/* test_payments: a client's or worker's held signed payments: refusals (lower total, wrong target,
 * bad signature, wrong op), the committed-total check, persistence across a restart, payments
 * signed for the contract a COCOON proxy announced. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "core/payments.h"
#include "ton/payment.h"

#define OWNER "0:0101010101010101010101010101010101010101010101010101010101010101"
#define OTHER "0:0202020202020202020202020202020202020202020202020202020202020202"

static void keypair(uint8_t seed[32], uint8_t pub[32], uint8_t fill) {
  memset(seed, fill, 32);
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
  size_t n = 32;
  assert_non_null(k);
  assert_int_equal(EVP_PKEY_get_raw_public_key(k, pub, &n), 1);
  EVP_PKEY_free(k);
}

/* A signed payment for `tokens` to `target`, as the proxy sends it. */
static void sign(struct buf *out, const uint8_t seed[32], uint32_t op, uint64_t tokens, const char *target) {
  struct ton_payment p = {.op = op, .qid = tokens * 7 + 1, .tokens = tokens};
  struct err e = {0};
  assert_int_equal(ton_addr_parse(target, &p.target, NULL, &e), 0);
  buf_reset(out);
  assert_int_equal(ton_payment_sign(&p, NULL, seed, out, &e), 0);
}

static struct tl_signed_payment sp_of(const struct buf *b) {
  struct tl_signed_payment sp = {.id = TL_ID_PROXY_SIGNED_PAYMENT};
  sp.data.p = buf_ptr(b);
  sp.data.n = b->len;
  return sp;
}

static void test_refusals(void **state) {
  uint8_t seed[32], pub[32], seed2[32], pub2[32];
  keypair(seed, pub, 3);
  keypair(seed2, pub2, 4);
  struct payments_held h;
  payments_held_init(&h);
  struct buf b;
  buf_init(&b, 4096);
  struct err e = {0};
  const uint32_t op = TON_OP_WORKER_PAYOUT_SIGNED;

  sign(&b, seed, op, 100, OWNER);
  struct tl_signed_payment sp = sp_of(&b);
  assert_int_equal(payments_accept(&h, &sp, op, OWNER, pub, &e), 0);
  assert_int_equal(h.tokens, 100);

  /* A lower total: refused, the held one stays. */
  sign(&b, seed, op, 99, OWNER);
  sp = sp_of(&b);
  assert_int_equal(payments_accept(&h, &sp, op, OWNER, pub, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "below the 100"));
  assert_int_equal(h.tokens, 100);

  /* Another target address. */
  sign(&b, seed, op, 200, OTHER);
  sp = sp_of(&b);
  assert_int_not_equal(payments_accept(&h, &sp, op, OWNER, pub, &e), 0);
  assert_int_equal(h.tokens, 100);

  /* Signed by another key. */
  sign(&b, seed2, op, 200, OWNER);
  sp = sp_of(&b);
  assert_int_not_equal(payments_accept(&h, &sp, op, OWNER, pub, &e), 0);
  assert_int_equal(h.tokens, 100);

  /* A client charge handed to a worker. */
  sign(&b, seed, TON_OP_CLIENT_CHARGE_SIGNED, 200, OWNER);
  sp = sp_of(&b);
  assert_int_not_equal(payments_accept(&h, &sp, op, OWNER, pub, &e), 0);

  /* Every single bit flipped in a good message is refused. */
  sign(&b, seed, op, 300, OWNER);
  for (size_t i = 0; i < b.len * 8; i++) {
    uint8_t *p = (uint8_t *)buf_ptr(&b);
    p[i / 8] ^= (uint8_t)(1u << (i % 8));
    sp = sp_of(&b);
    int rc = payments_accept(&h, &sp, op, OWNER, pub, &e);
    p[i / 8] ^= (uint8_t)(1u << (i % 8));
    assert_int_not_equal(rc, 0);
  }
  assert_int_equal(h.tokens, 100);
  sp = sp_of(&b);
  assert_int_equal(payments_accept(&h, &sp, op, OWNER, pub, &e), 0);
  assert_int_equal(h.tokens, 300);

  /* The committed total of the handshake / payment status may not be below what is held. */
  assert_int_equal(payments_check_status(&h, &sp, 299, op, OWNER, pub, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "tokens_committed_to_db is too low"));
  assert_int_equal(payments_check_status(&h, &sp, 300, op, OWNER, pub, &e), 0);
  struct tl_signed_payment empty = {.id = TL_ID_PROXY_SIGNED_PAYMENT_EMPTY};
  assert_int_equal(payments_check_status(&h, &empty, 0, op, OWNER, pub, &e), ERR_REFUSED);
  buf_free(&b);
  payments_held_free(&h);
}

static void test_persistence(void **state) {
  uint8_t seed[32], pub[32], seed2[32], pub2[32];
  keypair(seed, pub, 5);
  keypair(seed2, pub2, 6);
  char dir[] = "/tmp/cocoon-payments-XXXXXX";
  assert_non_null(mkdtemp(dir));
  const uint32_t op = TON_OP_CLIENT_CHARGE_SIGNED;
  struct err e = {0};
  struct buf b;
  buf_init(&b, 4096);

  struct payments_held h;
  payments_held_init(&h);
  assert_int_equal(payments_held_bind(&h, dir, pub, op, OWNER, &e), 0);
  assert_int_equal(h.tokens, 0);
  sign(&b, seed, op, 500, OWNER);
  struct tl_signed_payment sp = sp_of(&b);
  assert_int_equal(payments_accept(&h, &sp, op, OWNER, pub, &e), 0);
  assert_int_equal(h.saves, 1);
  struct stat st;
  assert_int_equal(stat(h.path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  char path[PAYMENTS_PATH_MAX];
  snprintf(path, sizeof(path), "%s", h.path);
  payments_held_free(&h);

  /* "Restart": a fresh holder bound to the same proxy loads 500 and refuses 400. */
  payments_held_init(&h);
  assert_int_equal(payments_held_bind(&h, dir, pub, op, OWNER, &e), 0);
  assert_int_equal(h.tokens, 500);
  sign(&b, seed, op, 400, OWNER);
  sp = sp_of(&b);
  assert_int_equal(payments_accept(&h, &sp, op, OWNER, pub, &e), ERR_REFUSED);
  struct tl_signed_payment none = {.id = TL_ID_PROXY_SIGNED_PAYMENT_EMPTY};
  assert_int_equal(payments_check_status(&h, &none, 400, op, OWNER, pub, &e), ERR_REFUSED);
  /* Another proxy key starts from nothing (its own file). */
  assert_int_equal(payments_held_bind(&h, dir, pub2, op, OWNER, &e), 0);
  assert_int_equal(h.tokens, 0);
  payments_held_free(&h);

  /* A file that does not verify (changed total bits) is reported, not trusted. */
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  assert_int_equal(fseek(f, -20, SEEK_END), 0);
  int ch = fgetc(f);
  assert_int_equal(fseek(f, -20, SEEK_END), 0);
  fputc(ch ^ 0x40, f);
  fclose(f);
  payments_held_init(&h);
  assert_int_not_equal(payments_held_bind(&h, dir, pub, op, OWNER, &e), 0);
  assert_int_equal(h.tokens, 0);
  payments_held_free(&h);

  unlink(path);
  rmdir(dir);
  buf_free(&b);
}

/* A COCOON proxy signs for our contract (the client_sc_address / worker_sc_address it announced
 * in connectedToProxy), not for our owner address; seen in the interop run against COCOON's
 * proxy-runner (docs/interop.md, check 2). The proxy's key here is its signing key
 * (proxy.params), which behind COCOON's router differs from the TLS certificate's key. */
#define CONTRACT "0:0303030303030303030303030303030303030303030303030303030303030303"
static void test_contract_target(void **state) {
  (void)state;
  uint8_t seed[32], pub[32], tls_seed[32], tls_pub[32];
  keypair(seed, pub, 5);
  keypair(tls_seed, tls_pub, 6);
  struct payments_held h;
  payments_held_init(&h);
  struct buf b;
  buf_init(&b, 4096);
  struct err e = {0};
  const uint32_t op = TON_OP_CLIENT_CHARGE_SIGNED;

  sign(&b, seed, op, 40, CONTRACT);
  struct tl_signed_payment sp = sp_of(&b);
  /* Without the announced contract: another target, refused. */
  assert_int_equal(payments_accept(&h, &sp, op, OWNER, pub, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "another contract address"));
  /* Not an address: refused, nothing set. */
  assert_int_equal(payments_held_set_contract(&h, (const uint8_t *)"nonsense", 8, &e), ERR_PARSE);
  assert_int_equal(h.has_contract, 0);
  /* Announced: accepted, with the signing key; the TLS key does not verify it. */
  assert_int_equal(payments_held_set_contract(&h, (const uint8_t *)CONTRACT, strlen(CONTRACT), &e), 0);
  assert_int_equal(payments_accept(&h, &sp, op, OWNER, tls_pub, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "bad signature"));
  assert_int_equal(payments_accept(&h, &sp, op, OWNER, pub, &e), 0);
  assert_int_equal(h.tokens, 40);
  /* Our owner address still works (our own proxies sign for it); a third address does not. */
  sign(&b, seed, op, 50, OWNER);
  sp = sp_of(&b);
  assert_int_equal(payments_accept(&h, &sp, op, OWNER, pub, &e), 0);
  sign(&b, seed, op, 60, OTHER);
  sp = sp_of(&b);
  assert_int_equal(payments_accept(&h, &sp, op, OWNER, pub, &e), ERR_REFUSED);
  assert_int_equal(h.tokens, 50);
  /* The handshake check takes the contract target too; the wrong op is still refused. */
  sign(&b, seed, op, 70, CONTRACT);
  sp = sp_of(&b);
  assert_int_equal(payments_check_status(&h, &sp, 70, op, OWNER, pub, &e), 0);
  assert_int_equal(h.tokens, 70);
  sign(&b, seed, TON_OP_WORKER_PAYOUT_SIGNED, 80, CONTRACT);
  sp = sp_of(&b);
  assert_int_not_equal(payments_accept(&h, &sp, op, OWNER, pub, &e), 0);
  /* Cleared: the contract target is refused again. */
  assert_int_equal(payments_held_set_contract(&h, NULL, 0, &e), 0);
  sign(&b, seed, op, 90, CONTRACT);
  sp = sp_of(&b);
  assert_int_equal(payments_accept(&h, &sp, op, OWNER, pub, &e), ERR_REFUSED);
  buf_free(&b);
  payments_held_free(&h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_persistence),
      cmocka_unit_test(test_contract_target),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
