/* verify: signature and PCK-chain verification of parsed TDX quotes against a pinned root key. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "attest/verify.h"

#include "attest/collateral.h"
#include "attest/pkix.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Intel SGX Root CA (CN=Intel SGX Root CA, serial 22650cd6..ac, valid 2018-05-21..2049-12-31),
 * public key x || y. SHA-256 of its SubjectPublicKeyInfo DER:
 * a0af031289f5d5d4132f9186068a7fc13628633ba235777472e29b6b6c67a49e. */
const uint8_t attest_intel_sgx_root_key[ATTEST_ECDSA_KEY_LEN] = {
    0x0b, 0xa9, 0xc4, 0xc0, 0xc0, 0xc8, 0x61, 0x93, 0xa3, 0xfe, 0x23, 0xd6, 0xb0, 0x2c, 0xda, 0x10,
    0xa8, 0xbb, 0xd4, 0xe8, 0x8e, 0x48, 0xb4, 0x45, 0x85, 0x61, 0xa3, 0x6e, 0x70, 0x55, 0x25, 0xf5,
    0x67, 0x91, 0x8e, 0x2e, 0xdc, 0x88, 0xe4, 0x0d, 0x86, 0x0b, 0xd0, 0xcc, 0x4e, 0xe2, 0x6a, 0xac,
    0xc9, 0x88, 0xe5, 0x05, 0xa9, 0x53, 0x55, 0x8c, 0x45, 0x3f, 0x6b, 0x09, 0x04, 0xae, 0x73, 0x94,
};

const char *attest_check_name(enum attest_check c) {
  switch (c) {
  case ATTEST_CHECK_QUOTE_SIG: return "quote_signature";
  case ATTEST_CHECK_QE_REPORT_SIG: return "qe_report_signature";
  case ATTEST_CHECK_QE_BINDING: return "qe_report_binding";
  case ATTEST_CHECK_PCK_CHAIN: return "pck_chain";
  case ATTEST_CHECK_CERT_DATES: return "cert_validity";
  case ATTEST_CHECK_COLLATERAL: return "collateral";
  case ATTEST_CHECK_COUNT: break;
  }
  return "unknown";
}

static void fail(struct attest_verify_result *r, enum attest_check c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct attest_verify_result *r, enum attest_check c, const char *fmt, ...) {
  r->passed[c] = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->detail[c], sizeof(r->detail[c]), fmt, ap);
  va_end(ap);
}

static void check_quote_sig(const struct attest_quote *q, struct attest_verify_result *r) {
  EVP_PKEY *key = attest_pkix_p256_from_raw(q->attest_key);
  if (!key) {
    fail(r, ATTEST_CHECK_QUOTE_SIG, "attestation key is not a P-256 point");
    return;
  }
  if (attest_pkix_ecdsa_verify_raw(key, q->signed_data, q->signed_len, q->signature))
    r->passed[ATTEST_CHECK_QUOTE_SIG] = 1;
  else
    fail(r, ATTEST_CHECK_QUOTE_SIG, "signature over header and TD report does not verify with "
                                    "the attestation key");
  EVP_PKEY_free(key);
}

static void check_qe_sig(const struct attest_quote *q, X509 *leaf,
                         struct attest_verify_result *r) {
  EVP_PKEY *key = leaf ? X509_get0_pubkey(leaf) : NULL;
  uint8_t xy[ATTEST_ECDSA_KEY_LEN];
  if (!key) {
    fail(r, ATTEST_CHECK_QE_REPORT_SIG, "no readable PCK certificate");
  } else if (attest_pkix_p256_raw_of(key, xy) != 0) {
    fail(r, ATTEST_CHECK_QE_REPORT_SIG, "PCK certificate key is not P-256");
  } else if (!attest_pkix_ecdsa_verify_raw(key, q->qe_report_raw, ATTEST_QE_REPORT_LEN, q->qe_report_sig)) {
    fail(r, ATTEST_CHECK_QE_REPORT_SIG, "QE report signature does not verify with the PCK "
                                        "certificate key");
  } else {
    r->passed[ATTEST_CHECK_QE_REPORT_SIG] = 1;
  }
  ERR_clear_error();
}

static void check_binding(const struct attest_quote *q, struct attest_verify_result *r) {
  uint8_t want[32];
  unsigned int wlen = 0;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
           EVP_DigestUpdate(md, q->attest_key, ATTEST_ECDSA_KEY_LEN) == 1 &&
           (q->qe_auth_len == 0 || EVP_DigestUpdate(md, q->qe_auth_data, q->qe_auth_len) == 1) &&
           EVP_DigestFinal_ex(md, want, &wlen) == 1 && wlen == sizeof(want);
  EVP_MD_CTX_free(md);
  if (!ok) {
    fail(r, ATTEST_CHECK_QE_BINDING, "SHA-256 failed");
    return;
  }
  const uint8_t *rd = q->qe_report.report_data;
  uint8_t nz = 0;
  for (size_t i = 32; i < 64; i++) nz |= rd[i];
  if (memcmp(rd, want, sizeof(want)) != 0)
    fail(r, ATTEST_CHECK_QE_BINDING, "QE report data is not SHA-256(attestation key || QE auth "
                                     "data)");
  else if (nz)
    fail(r, ATTEST_CHECK_QE_BINDING, "QE report data bytes 32..63 are not zero");
  else
    r->passed[ATTEST_CHECK_QE_BINDING] = 1;
}

static void root_hash(const uint8_t root[ATTEST_ECDSA_KEY_LEN],
                      uint8_t out[ATTEST_COLLATERAL_ROOT_HASH_LEN]) {
  uint8_t point[1 + ATTEST_ECDSA_KEY_LEN];
  point[0] = 0x04;
  memcpy(point + 1, root, ATTEST_ECDSA_KEY_LEN);
  SHA384(point, sizeof(point), out);
}

/* Evaluated only when collateral is given and the chain itself verified: the TCB status of
 * a platform whose PCK chain is not genuine means nothing. */
static void check_collateral(const struct attest_quote *q, X509 **certs, int n,
                             const uint8_t *root, const struct attest_verify_opts *opts,
                             struct attest_verify_result *r) {
  if (!opts->collateral) {
    r->passed[ATTEST_CHECK_COLLATERAL] = 1; /* not given: r->collateral_given says so */
    return;
  }
  r->collateral_given = 1;
  if (n < 2 || !r->passed[ATTEST_CHECK_PCK_CHAIN]) {
    fail(r, ATTEST_CHECK_COLLATERAL, "not evaluated: the PCK chain did not verify");
    return;
  }
  struct attest_collateral_result cr;
  struct err ce = {0};
  if (attest_collateral_evaluate(q, certs, n, opts->collateral, root, opts->now, &cr, &ce) != 0) {
    fail(r, ATTEST_CHECK_COLLATERAL, "%s", ce.msg);
    return;
  }
  r->passed[ATTEST_CHECK_COLLATERAL] = 1;
  r->tcb_status = cr.status;
  r->collateral_expires = cr.expires;
}

int attest_quote_verify(const struct attest_quote *q, const struct attest_verify_opts *opts,
                        struct attest_verify_result *r, struct err *e) {
  memset(r, 0, sizeof(*r));
  r->tcb_status = ATTEST_TCB_NOT_EVALUATED;
  if (!q || !opts || !q->signed_data || !q->pck_chain_pem)
    return err_set(e, ERR_INVALID, "attest: verify needs a parsed quote and options");
  const uint8_t *root = opts->root_key ? opts->root_key : attest_intel_sgx_root_key;

  X509 *certs[ATTEST_PCK_CHAIN_MAX] = {0};
  char why[200] = "";
  int n = attest_pkix_read_pem(q->pck_chain_pem, q->pck_chain_len, certs, ATTEST_PCK_CHAIN_MAX,
                               why, sizeof(why));
  root_hash(root, r->collateral_root_hash);

  check_quote_sig(q, r);
  check_qe_sig(q, n > 0 ? certs[0] : NULL, r);
  check_binding(q, r);
  if (n > 0) {
    r->chain_certs = (size_t)n;
    if (attest_pkix_verify_path(certs, n, root, why, sizeof(why)) == 0)
      r->passed[ATTEST_CHECK_PCK_CHAIN] = 1;
    else
      fail(r, ATTEST_CHECK_PCK_CHAIN, "%s", why);
    if (attest_pkix_check_dates(certs, n, opts->now, &r->certs_not_before, &r->certs_not_after, why,
                                sizeof(why)) == 0)
      r->passed[ATTEST_CHECK_CERT_DATES] = 1;
    else
      fail(r, ATTEST_CHECK_CERT_DATES, "%s", why);
  } else {
    fail(r, ATTEST_CHECK_PCK_CHAIN, "%s", why);
    fail(r, ATTEST_CHECK_CERT_DATES, "%s", why);
  }
  check_collateral(q, certs, n, root, opts, r);
  for (int i = 0; i < n; i++) X509_free(certs[i]);

  for (int c = 0; c < ATTEST_CHECK_COUNT; c++) {
    if (!r->passed[c])
      return err_set(e, ERR_REFUSED, "%s: %s", attest_check_name((enum attest_check)c),
                     r->detail[c]);
  }
  return 0;
}
