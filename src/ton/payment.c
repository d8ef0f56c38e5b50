/* payment: COCOON's proxy-signed cumulative payment messages (charge, payout) as TON cells. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ton/payment.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "ton/boc.h"
#include "ton/cell.h"

static int ed25519_sign(const uint8_t seed[32], const uint8_t *msg, size_t n, uint8_t sig[64]) {
  int rc = ERR_CRYPTO;
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  size_t sl = 64;
  if (k && ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 && EVP_DigestSign(ctx, sig, &sl, msg, n) == 1 &&
      sl == 64)
    rc = 0;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(k);
  return rc;
}

static int ed25519_verify(const uint8_t pub[32], const uint8_t *msg, size_t n, const uint8_t sig[64]) {
  int ok = 0;
  EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (k && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1 && EVP_DigestVerify(ctx, sig, 64, msg, n) == 1)
    ok = 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(k);
  return ok;
}

static int build_payload(const struct ton_payment *p, struct ton_cell **out, struct err *e) {
  struct ton_builder b;
  ton_builder_init(&b);
  int rc = ton_builder_store_uint(&b, p->op, 32);
  if (!rc) rc = ton_builder_store_uint(&b, p->qid, 64);
  if (!rc) rc = ton_builder_store_uint(&b, p->tokens, 64);
  if (!rc) rc = ton_builder_store_addr(&b, &p->target);
  if (rc) {
    ton_builder_clear(&b);
    return err_set(e, rc, "payment: cannot build the payload cell");
  }
  return ton_builder_end(&b, out, e);
}

int ton_payment_sign(const struct ton_payment *p, const struct ton_addr *excess, const uint8_t seed[32],
                     struct buf *out, struct err *e) {
  struct ton_cell *payload = NULL, *outer = NULL;
  int rc = build_payload(p, &payload, e);
  if (rc) return rc;
  uint8_t sig[64];
  if (ed25519_sign(seed, payload->hash, TON_HASH_LEN, sig)) {
    ton_cell_unref(payload);
    return err_set(e, ERR_CRYPTO, "payment: signing failed");
  }
  struct ton_builder b;
  ton_builder_init(&b);
  rc = ton_builder_store_uint(&b, p->op, 32);
  if (!rc) rc = ton_builder_store_uint(&b, p->qid, 64);
  if (!rc) rc = ton_builder_store_addr(&b, excess);
  if (!rc) rc = ton_builder_store_bytes(&b, sig, sizeof(sig));
  if (!rc) rc = ton_builder_store_ref(&b, payload);
  if (rc) {
    ton_builder_clear(&b);
    ton_cell_unref(payload);
    return err_set(e, rc, "payment: cannot build the message cell");
  }
  rc = ton_builder_end(&b, &outer, e);
  if (!rc) rc = ton_boc_serialize(outer, TON_BOC_CRC, out, e);
  ton_cell_unref(outer);
  ton_cell_unref(payload);
  return rc;
}

int ton_payment_verify(const uint8_t *boc, size_t len, const uint8_t pubkey[32], const struct ton_payment *expect,
                       struct ton_payment *out, struct err *e) {
  if (len > TON_PAYMENT_MAX_BOC) return err_set(e, ERR_LIMIT, "payment: %zu bytes is too large", len);
  struct ton_cell *root = NULL;
  int rc = ton_boc_parse_one(boc, len, &root, e);
  if (rc) return rc;
  struct ton_slice s, ps;
  uint64_t op, qid, pop, pqid, tokens;
  struct ton_addr excess, target;
  int none = 0;
  uint8_t sig[64];
  const struct ton_cell *payload = NULL;
  ton_slice_init(&s, root);
  if (ton_slice_load_uint(&s, 32, &op) || ton_slice_load_uint(&s, 64, &qid) ||
      ton_slice_load_addr(&s, &excess, &none) || ton_slice_load_bits(&s, 512, sig) ||
      ton_slice_load_ref(&s, &payload) || ton_slice_end(&s)) {
    rc = err_set(e, ERR_PARSE, "payment: malformed message cell");
    goto out;
  }
  ton_slice_init(&ps, payload);
  if (ton_slice_load_uint(&ps, 32, &pop) || ton_slice_load_uint(&ps, 64, &pqid) ||
      ton_slice_load_uint(&ps, 64, &tokens) || ton_slice_load_addr(&ps, &target, &none) || none ||
      ton_slice_end(&ps)) {
    rc = err_set(e, ERR_PARSE, "payment: malformed payload cell");
    goto out;
  }
  if (pop != op || pqid != qid) {
    rc = err_set(e, ERR_REFUSED, "payment: op/query id outside and inside the signature differ");
    goto out;
  }
  if (!ed25519_verify(pubkey, payload->hash, TON_HASH_LEN, sig)) {
    rc = err_set(e, ERR_REFUSED, "payment: bad signature");
    goto out;
  }
  if (expect && expect->op != (uint32_t)op) {
    rc = err_set(e, ERR_REFUSED, "payment: op %08x, expected %08x", (unsigned)op, expect->op);
    goto out;
  }
  if (expect && !ton_addr_equal(&expect->target, &target)) {
    rc = err_set(e, ERR_REFUSED, "payment: signed for another contract address");
    goto out;
  }
  if (out) {
    out->op = (uint32_t)op;
    out->qid = qid;
    out->tokens = tokens;
    out->target = target;
  }
out:
  ton_cell_unref(root);
  return rc;
}
