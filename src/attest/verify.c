/* verify: signature and PCK-chain verification of parsed TDX quotes against a pinned root key. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "attest/verify.h"

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

/* A P-256 public key from raw x || y. EC point decoding rejects points off the curve.
 * Returns NULL when the bytes are not a valid point (or OpenSSL is out of memory). */
static EVP_PKEY *p256_from_raw(const uint8_t xy[ATTEST_ECDSA_KEY_LEN]) {
  uint8_t point[1 + ATTEST_ECDSA_KEY_LEN];
  char group[] = "prime256v1";
  point[0] = 0x04; /* uncompressed */
  memcpy(point + 1, xy, ATTEST_ECDSA_KEY_LEN);
  OSSL_PARAM params[] = {
      OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)),
      OSSL_PARAM_END,
  };
  EVP_PKEY *key = NULL;
  EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
  if (!pc || EVP_PKEY_fromdata_init(pc) != 1 ||
      EVP_PKEY_fromdata(pc, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    EVP_PKEY_free(key);
    key = NULL;
  }
  EVP_PKEY_CTX_free(pc);
  ERR_clear_error();
  return key;
}

/* Raw x || y of a P-256 key; -1 if the key is not P-256. */
static int p256_raw_of(const EVP_PKEY *key, uint8_t xy[ATTEST_ECDSA_KEY_LEN]) {
  char group[64];
  size_t glen = 0;
  BIGNUM *x = NULL, *y = NULL;
  int rc = -1;
  if (!EVP_PKEY_is_a(key, "EC")) goto out;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     &glen) != 1 ||
      strcmp(group, "prime256v1") != 0)
    goto out;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
      EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1)
    goto out;
  if (BN_bn2binpad(x, xy, 32) != 32 || BN_bn2binpad(y, xy + 32, 32) != 32) goto out;
  rc = 0;
out:
  BN_free(x);
  BN_free(y);
  ERR_clear_error();
  return rc;
}

/* ECDSA-P256-SHA256 verification of a raw r || s signature. 1 valid, 0 not. */
static int ecdsa_raw_verify(EVP_PKEY *key, const uint8_t *msg, size_t len,
                            const uint8_t sig[ATTEST_ECDSA_SIG_LEN]) {
  int ok = 0;
  unsigned char *der = NULL;
  EVP_MD_CTX *md = NULL;
  ECDSA_SIG *s = ECDSA_SIG_new();
  BIGNUM *br = BN_bin2bn(sig, 32, NULL);
  BIGNUM *bs = BN_bin2bn(sig + 32, 32, NULL);
  if (!s || !br || !bs || ECDSA_SIG_set0(s, br, bs) != 1) {
    BN_free(br);
    BN_free(bs);
    goto out;
  }
  int dlen = i2d_ECDSA_SIG(s, &der);
  if (dlen <= 0) goto out;
  md = EVP_MD_CTX_new();
  if (!md || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1) goto out;
  ok = EVP_DigestVerify(md, der, (size_t)dlen, msg, len) == 1;
out:
  EVP_MD_CTX_free(md);
  OPENSSL_free(der);
  ECDSA_SIG_free(s);
  ERR_clear_error();
  return ok;
}

static void cert_cn(X509 *c, char *out, size_t outsz) {
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, out, (int)outsz) < 0)
    snprintf(out, outsz, "(no CN)");
}

/* ASN1 time -> Unix seconds; -1 on failure. */
static int asn1_to_unix(const ASN1_TIME *t, int64_t *out) {
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  if (ASN1_TIME_to_tm(t, &tm) != 1) return -1;
  *out = (int64_t)timegm(&tm);
  return 0;
}

static void fmt_time(int64_t t, char *out, size_t outsz) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm) || strftime(out, outsz, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
    snprintf(out, outsz, "%lld", (long long)t);
}

/* Reads up to ATTEST_PCK_CHAIN_MAX PEM certificates into certs (caller frees them). Returns
 * the count, or -1 with why set and nothing left to free. */
static int read_chain(const uint8_t *pem, size_t len, X509 **certs, char *why, size_t whysz) {
  int n = 0, rc = -1;
  if (len > ATTEST_QUOTE_MAX) {
    snprintf(why, whysz, "PEM chain too long");
    return -1;
  }
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  if (!bio) {
    snprintf(why, whysz, "out of memory");
    return -1;
  }
  ERR_clear_error();
  for (;;) {
    X509 *c = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (!c) break;
    if (n == ATTEST_PCK_CHAIN_MAX) {
      X509_free(c);
      snprintf(why, whysz, "PEM chain has more than %d certificates", ATTEST_PCK_CHAIN_MAX);
      goto out;
    }
    certs[n++] = c;
  }
  /* The loop ends at "no more PEM blocks"; anything else is a block that did not decode. */
  unsigned long err = ERR_peek_last_error();
  if (err != 0 && !(ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE)) {
    snprintf(why, whysz, "certificate %d of the PEM chain does not decode", n);
    goto out;
  }
  if (n == 0) {
    snprintf(why, whysz, "PEM chain holds no certificate");
    goto out;
  }
  rc = n;
out:
  if (rc < 0) {
    for (int i = 0; i < n; i++) {
      X509_free(certs[i]);
      certs[i] = NULL;
    }
  }
  ERR_clear_error();
  BIO_free(bio);
  return rc;
}

static void check_quote_sig(const struct attest_quote *q, struct attest_verify_result *r) {
  EVP_PKEY *key = p256_from_raw(q->attest_key);
  if (!key) {
    fail(r, ATTEST_CHECK_QUOTE_SIG, "attestation key is not a P-256 point");
    return;
  }
  if (ecdsa_raw_verify(key, q->signed_data, q->signed_len, q->signature))
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
  } else if (p256_raw_of(key, xy) != 0) {
    fail(r, ATTEST_CHECK_QE_REPORT_SIG, "PCK certificate key is not P-256");
  } else if (!ecdsa_raw_verify(key, q->qe_report_raw, ATTEST_QE_REPORT_LEN, q->qe_report_sig)) {
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

/* The chain check: the certificate holding the trusted root key is the only trust anchor; the
 * leaf (first certificate) must chain to it with valid signatures under X.509 strict rules.
 * Dates are checked separately, so an expired but genuine chain is reported as such. */
static void check_chain(X509 **certs, int n, const uint8_t *root_key,
                        struct attest_verify_result *r) {
  X509 *anchor = NULL;
  X509_STORE *store = NULL;
  X509_STORE_CTX *ctx = NULL;
  STACK_OF(X509) *untrusted = NULL;
  for (int i = 0; i < n && !anchor; i++) {
    uint8_t xy[ATTEST_ECDSA_KEY_LEN];
    EVP_PKEY *k = X509_get0_pubkey(certs[i]);
    if (k && p256_raw_of(k, xy) == 0 && memcmp(xy, root_key, sizeof(xy)) == 0) anchor = certs[i];
  }
  if (!anchor) {
    fail(r, ATTEST_CHECK_PCK_CHAIN, "no certificate in the chain carries the pinned root key");
    goto out;
  }
  if (anchor == certs[0]) {
    fail(r, ATTEST_CHECK_PCK_CHAIN, "the PCK certificate is the root itself");
    goto out;
  }
  if (X509_check_issued(anchor, anchor) != X509_V_OK ||
      X509_verify(anchor, X509_get0_pubkey(anchor)) != 1) {
    fail(r, ATTEST_CHECK_PCK_CHAIN, "root certificate is not validly self-signed");
    goto out;
  }
  if (X509_check_ca(certs[0]) != 0) {
    fail(r, ATTEST_CHECK_PCK_CHAIN, "the PCK certificate is a CA certificate");
    goto out;
  }
  store = X509_STORE_new();
  untrusted = sk_X509_new_null();
  ctx = X509_STORE_CTX_new();
  if (!store || !untrusted || !ctx || X509_STORE_add_cert(store, anchor) != 1) {
    fail(r, ATTEST_CHECK_PCK_CHAIN, "out of memory");
    goto out;
  }
  for (int i = 1; i < n; i++) {
    if (certs[i] == anchor) continue;
    if (!sk_X509_push(untrusted, certs[i])) {
      fail(r, ATTEST_CHECK_PCK_CHAIN, "out of memory");
      goto out;
    }
  }
  if (X509_STORE_CTX_init(ctx, store, certs[0], untrusted) != 1) {
    fail(r, ATTEST_CHECK_PCK_CHAIN, "out of memory");
    goto out;
  }
  X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT | X509_V_FLAG_NO_CHECK_TIME |
                                         X509_V_FLAG_CHECK_SS_SIGNATURE);
  X509_VERIFY_PARAM_set_depth(param, ATTEST_PCK_CHAIN_MAX);
  if (X509_verify_cert(ctx) == 1) {
    r->passed[ATTEST_CHECK_PCK_CHAIN] = 1;
  } else {
    int code = X509_STORE_CTX_get_error(ctx);
    char cn[96] = "?";
    X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
    if (bad) cert_cn(bad, cn, sizeof(cn));
    fail(r, ATTEST_CHECK_PCK_CHAIN, "%s (at depth %d, CN=%s)", X509_verify_cert_error_string(code),
         X509_STORE_CTX_get_error_depth(ctx), cn);
  }
out:
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  X509_STORE_free(store);
  ERR_clear_error();
}

static void check_dates(X509 **certs, int n, int64_t now, struct attest_verify_result *r) {
  int64_t lo = INT64_MIN, hi = INT64_MAX;
  time_t t = (time_t)now;
  for (int i = 0; i < n; i++) {
    int64_t nb, na;
    char cn[96], when[40];
    cert_cn(certs[i], cn, sizeof(cn));
    if (asn1_to_unix(X509_get0_notBefore(certs[i]), &nb) != 0 ||
        asn1_to_unix(X509_get0_notAfter(certs[i]), &na) != 0) {
      fail(r, ATTEST_CHECK_CERT_DATES, "certificate %d (CN=%s) has unreadable dates", i, cn);
      return;
    }
    if (nb > lo) lo = nb;
    if (na < hi) hi = na;
    if (X509_cmp_time(X509_get0_notBefore(certs[i]), &t) > 0) {
      fmt_time(nb, when, sizeof(when));
      fail(r, ATTEST_CHECK_CERT_DATES, "certificate %d (CN=%s) not valid before %s", i, cn, when);
      return;
    }
    if (X509_cmp_time(X509_get0_notAfter(certs[i]), &t) < 0) {
      fmt_time(na, when, sizeof(when));
      fail(r, ATTEST_CHECK_CERT_DATES, "certificate %d (CN=%s) expired at %s", i, cn, when);
      return;
    }
  }
  r->certs_not_before = lo;
  r->certs_not_after = hi;
  r->passed[ATTEST_CHECK_CERT_DATES] = 1;
}

int attest_quote_verify(const struct attest_quote *q, const struct attest_verify_opts *opts,
                        struct attest_verify_result *r, struct err *e) {
  memset(r, 0, sizeof(*r));
  r->tcb_status = ATTEST_TCB_NOT_EVALUATED;
  if (!q || !opts || !q->signed_data || !q->pck_chain_pem)
    return err_set(e, ERR_INVALID, "attest: verify needs a parsed quote and options");
  if (opts->collateral)
    return err_set(e, ERR_INVALID, "attest: collateral (TCB info, QE identity, CRLs) is not "
                                   "evaluated yet; refusing rather than ignoring it");
  const uint8_t *root = opts->root_key ? opts->root_key : attest_intel_sgx_root_key;

  X509 *certs[ATTEST_PCK_CHAIN_MAX] = {0};
  char why[160] = "";
  int n = read_chain(q->pck_chain_pem, q->pck_chain_len, certs, why, sizeof(why));

  check_quote_sig(q, r);
  check_qe_sig(q, n > 0 ? certs[0] : NULL, r);
  check_binding(q, r);
  if (n > 0) {
    r->chain_certs = (size_t)n;
    check_chain(certs, n, root, r);
    check_dates(certs, n, opts->now, r);
  } else {
    fail(r, ATTEST_CHECK_PCK_CHAIN, "%s", why);
    fail(r, ATTEST_CHECK_CERT_DATES, "%s", why);
  }
  for (int i = 0; i < n; i++) X509_free(certs[i]);

  for (int c = 0; c < ATTEST_CHECK_COUNT; c++) {
    if (!r->passed[c])
      return err_set(e, ERR_REFUSED, "%s: %s", attest_check_name((enum attest_check)c),
                     r->detail[c]);
  }
  return 0;
}
