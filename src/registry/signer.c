/* signer: the registry owner's Ed25519 key file (PEM, mode 0600) and signing a registry. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "registry/signer.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "base/keyfile.h"
#include "base/util.h"

struct registry_signer {
  EVP_PKEY *key;
  uint8_t pub[REGISTRY_KEY_LEN];
};

static int from_key(EVP_PKEY *key, struct registry_signer **out, struct err *e) {
  size_t n = REGISTRY_KEY_LEN;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return err_set(e, ERR_PARSE, "the owner key is not Ed25519");
  }
  struct registry_signer *s = calloc(1, sizeof(*s));
  if (!s) {
    EVP_PKEY_free(key);
    return err_set(e, ERR_NOMEM, "out of memory");
  }
  s->key = key;
  if (EVP_PKEY_get_raw_public_key(key, s->pub, &n) != 1 || n != REGISTRY_KEY_LEN) {
    registry_signer_free(s);
    ERR_clear_error();
    return err_set(e, ERR_CRYPTO, "cannot read the owner public key");
  }
  *out = s;
  return 0;
}

void registry_signer_free(struct registry_signer *s) {
  if (!s) return;
  EVP_PKEY_free(s->key);
  OPENSSL_cleanse(s, sizeof(*s));
  free(s);
}

const uint8_t *registry_signer_pubkey(const struct registry_signer *s) { return s->pub; }

static int from_seed(const uint8_t seed[KEYFILE_SEED_LEN], struct registry_signer **out, struct err *e) {
  EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, KEYFILE_SEED_LEN);
  if (!key) {
    ERR_clear_error();
    return err_set(e, ERR_CRYPTO, "cannot use the owner key");
  }
  return from_key(key, out, e);
}

int registry_signer_create(const char *path, struct registry_signer **out, struct err *e) {
  *out = NULL;
  uint8_t seed[KEYFILE_SEED_LEN];
  int rc = keyfile_create(path, "owner key", KEYFILE_PEM, seed, e);
  if (!rc) rc = from_seed(seed, out, e);
  OPENSSL_cleanse(seed, sizeof(seed));
  return rc;
}

int registry_signer_load(const char *path, struct registry_signer **out, struct err *e) {
  *out = NULL;
  uint8_t seed[KEYFILE_SEED_LEN];
  int rc = keyfile_load(path, "owner key", seed, e);
  if (!rc) rc = from_seed(seed, out, e);
  OPENSSL_cleanse(seed, sizeof(seed));
  return rc;
}

int registry_sign(struct registry *r, const struct registry_signer *s, struct err *e) {
  if (memcmp(r->owner, s->pub, REGISTRY_KEY_LEN) != 0)
    return err_set(e, ERR_INVALID, "this key is not the registry's owner (the file names another owner)");
  int was_signed = r->is_signed;
  r->is_signed = 0; /* serialize the body only */
  struct buf body;
  buf_init(&body, REGISTRY_MAX_FILE);
  int rc = registry_serialize(r, &body);
  r->is_signed = was_signed;
  if (rc) {
    buf_free(&body);
    return err_set(e, ERR_NOMEM, "out of memory");
  }
  size_t sl = REGISTRY_SIG_LEN;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, s->key) == 1 &&
           EVP_DigestSign(md, r->signature, &sl, buf_ptr(&body), body.len) == 1 && sl == REGISTRY_SIG_LEN;
  size_t body_len = body.len;
  EVP_MD_CTX_free(md);
  ERR_clear_error();
  buf_free(&body);
  if (!ok) return err_set(e, ERR_CRYPTO, "cannot sign the registry");
  r->is_signed = 1;
  r->body_len = body_len;
  return 0;
}
