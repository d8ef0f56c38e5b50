/* sign: Ed25519 over TON cell hashes (a TON private key is the 32-byte seed). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ton/sign.h"

#include <openssl/evp.h>

int ton_sign_pubkey(const uint8_t seed[32], uint8_t pub[32]) {
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
  size_t n = 32;
  int rc = (k && EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == 32) ? 0 : ERR_CRYPTO;
  EVP_PKEY_free(k);
  return rc;
}

int ton_sign(const uint8_t seed[32], const uint8_t *msg, size_t n, uint8_t sig[64]) {
  int rc = ERR_CRYPTO;
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  size_t sl = 64;
  if (k && ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
      EVP_DigestSign(ctx, sig, &sl, msg, n) == 1 && sl == 64)
    rc = 0;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(k); /* frees (and wipes) OpenSSL's copy of the key */
  return rc;
}

int ton_sign_verify(const uint8_t pub[32], const uint8_t *msg, size_t n, const uint8_t sig[64]) {
  int ok = 0;
  EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (k && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1 &&
      EVP_DigestVerify(ctx, sig, 64, msg, n) == 1)
    ok = 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(k);
  return ok;
}
