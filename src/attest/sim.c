/* sim: the simulated TEE's quote format and its platform key (development and CI only). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "attest/sim.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "base/keyfile.h"
#include "base/util.h"

struct attest_sim_platform {
  EVP_PKEY *key;
  uint8_t pub[ATTEST_SIM_KEY_LEN];
};

static int platform_from_key(EVP_PKEY *key, struct attest_sim_platform **out, struct err *e) {
  size_t n = ATTEST_SIM_KEY_LEN;
  struct attest_sim_platform *p = NULL;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return err_set(e, ERR_PARSE, "sim platform key is not Ed25519");
  }
  p = calloc(1, sizeof(*p));
  if (!p) {
    EVP_PKEY_free(key);
    return err_set(e, ERR_NOMEM, "out of memory");
  }
  p->key = key;
  if (EVP_PKEY_get_raw_public_key(key, p->pub, &n) != 1 || n != ATTEST_SIM_KEY_LEN) {
    attest_sim_platform_free(p);
    ERR_clear_error();
    return err_set(e, ERR_CRYPTO, "cannot read the sim platform public key");
  }
  *out = p;
  return 0;
}

int attest_sim_platform_generate(struct attest_sim_platform **out, struct err *e) {
  *out = NULL;
  EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  if (!key) {
    ERR_clear_error();
    return err_set(e, ERR_CRYPTO, "cannot generate a sim platform key");
  }
  return platform_from_key(key, out, e);
}

void attest_sim_platform_free(struct attest_sim_platform *p) {
  if (!p) return;
  EVP_PKEY_free(p->key);
  OPENSSL_cleanse(p, sizeof(*p));
  free(p);
}

const uint8_t *attest_sim_platform_pubkey(const struct attest_sim_platform *p) { return p->pub; }

/* The platform for a key file's seed. */
static int platform_from_seed(const uint8_t seed[KEYFILE_SEED_LEN], struct attest_sim_platform **out, struct err *e) {
  EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, KEYFILE_SEED_LEN);
  if (!key) {
    ERR_clear_error();
    return err_set(e, ERR_CRYPTO, "cannot use the sim platform key");
  }
  return platform_from_key(key, out, e);
}

int attest_sim_platform_load(const char *path, int create, struct attest_sim_platform **out,
                             struct err *e) {
  *out = NULL;
  if (!path || !path[0]) return err_set(e, ERR_INVALID, "no sim platform key file given");
  uint8_t seed[KEYFILE_SEED_LEN];
  int rc = create ? keyfile_load_or_create(path, "sim platform key", seed, e)
                  : keyfile_load(path, "sim platform key", seed, e);
  if (!rc) rc = platform_from_seed(seed, out, e);
  OPENSSL_cleanse(seed, sizeof(seed));
  return rc;
}

/* ---------------- quote format ---------------- */

/* Field order of the measurements, as in the layout comment of sim.h. */
static uint8_t *mr_field(struct attest_td_report *td, int i) {
  switch (i) {
    case 0: return td->mrtd;
    case 1: return td->mrconfigid;
    case 2: return td->mrowner;
    case 3: return td->mrownerconfig;
    default: return td->rtmr[i - 4];
  }
}

int attest_sim_quote_build(const struct attest_sim_platform *p, const struct attest_td_report *td,
                           uint8_t out[ATTEST_SIM_QUOTE_LEN], struct err *e) {
  struct attest_td_report copy = *td;
  size_t off = 0;
  memcpy(out, ATTEST_SIM_MAGIC, ATTEST_SIM_MAGIC_LEN);
  off += ATTEST_SIM_MAGIC_LEN;
  out[off++] = ATTEST_SIM_VERSION & 0xff;
  out[off++] = ATTEST_SIM_VERSION >> 8;
  out[off++] = 0;
  out[off++] = 0;
  memcpy(out + off, p->pub, ATTEST_SIM_KEY_LEN);
  off += ATTEST_SIM_KEY_LEN;
  for (int i = 0; i < 8; i++, off += ATTEST_MR_LEN) memcpy(out + off, mr_field(&copy, i), ATTEST_MR_LEN);
  memcpy(out + off, td->report_data, ATTEST_REPORT_DATA_LEN);
  off += ATTEST_REPORT_DATA_LEN;
  size_t siglen = ATTEST_SIM_SIG_LEN;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, p->key) == 1 &&
           EVP_DigestSign(md, out + off, &siglen, out, ATTEST_SIM_SIGNED_LEN) == 1 &&
           siglen == ATTEST_SIM_SIG_LEN;
  EVP_MD_CTX_free(md);
  ERR_clear_error();
  if (!ok) return err_set(e, ERR_CRYPTO, "cannot sign the sim quote");
  return 0;
}

int attest_sim_quote_parse(const uint8_t *p, size_t n, struct attest_sim_quote *q, struct err *e) {
  memset(q, 0, sizeof(*q));
  if (n < ATTEST_SIM_MAGIC_LEN || memcmp(p, ATTEST_SIM_MAGIC, ATTEST_SIM_MAGIC_LEN) != 0)
    return err_set(e, ERR_PARSE, "not a sim quote (no %s magic)", ATTEST_SIM_MAGIC);
  if (n != ATTEST_SIM_QUOTE_LEN)
    return err_set(e, ERR_PARSE, "sim quote is %zu bytes, expected %d", n, ATTEST_SIM_QUOTE_LEN);
  size_t off = ATTEST_SIM_MAGIC_LEN;
  q->version = (uint16_t)(p[off] | p[off + 1] << 8);
  if (q->version != ATTEST_SIM_VERSION)
    return err_set(e, ERR_PARSE, "sim quote version %u is not supported (only %d)", q->version,
                   ATTEST_SIM_VERSION);
  if (p[off + 2] != 0 || p[off + 3] != 0) return err_set(e, ERR_PARSE, "sim quote reserved bytes not zero");
  off += 4;
  memcpy(q->platform_key, p + off, ATTEST_SIM_KEY_LEN);
  off += ATTEST_SIM_KEY_LEN;
  for (int i = 0; i < 8; i++, off += ATTEST_MR_LEN) memcpy(mr_field(&q->td, i), p + off, ATTEST_MR_LEN);
  memcpy(q->td.report_data, p + off, ATTEST_REPORT_DATA_LEN);
  off += ATTEST_REPORT_DATA_LEN;
  memcpy(q->signature, p + off, ATTEST_SIM_SIG_LEN);
  return 0;
}

int attest_sim_quote_verify(const uint8_t *p, size_t n, const uint8_t pinned_key[ATTEST_SIM_KEY_LEN],
                            struct attest_sim_quote *q, struct err *e) {
  int rc = attest_sim_quote_parse(p, n, q, e);
  if (rc) return rc;
  if (!util_ct_eq(q->platform_key, pinned_key, ATTEST_SIM_KEY_LEN)) {
    char got[17], want[17];
    util_hex(q->platform_key, 8, got);
    util_hex(pinned_key, 8, want);
    return err_set(e, ERR_REFUSED, "sim quote signed by another platform key (%s..., trusted %s...)",
                   got, want);
  }
  EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pinned_key, ATTEST_SIM_KEY_LEN);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int ok = key && md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) == 1 &&
           EVP_DigestVerify(md, q->signature, ATTEST_SIM_SIG_LEN, p, ATTEST_SIM_SIGNED_LEN) == 1;
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(key);
  ERR_clear_error();
  if (!ok) return err_set(e, ERR_REFUSED, "sim quote signature does not verify with the platform key");
  return 0;
}
