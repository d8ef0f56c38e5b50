/* pkix: P-256 keys, raw ECDSA signatures, PEM chains and X.509 path checks for attestation. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "attest/pkix.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* A P-256 public key from raw x || y. EC point decoding rejects points off the curve.
 * Returns NULL when the bytes are not a valid point (or OpenSSL is out of memory). */
EVP_PKEY *attest_pkix_p256_from_raw(const uint8_t xy[ATTEST_ECDSA_KEY_LEN]) {
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
int attest_pkix_p256_raw_of(const EVP_PKEY *key, uint8_t xy[ATTEST_ECDSA_KEY_LEN]) {
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
int attest_pkix_ecdsa_verify_raw(EVP_PKEY *key, const uint8_t *msg, size_t len,
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

void attest_pkix_cn(X509 *c, char *out, size_t outsz) {
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, out, (int)outsz) < 0)
    snprintf(out, outsz, "(no CN)");
}

/* ASN1 time -> Unix seconds; -1 on failure. */
int attest_pkix_asn1_time(const ASN1_TIME *t, int64_t *out) {
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  if (ASN1_TIME_to_tm(t, &tm) != 1) return -1;
  *out = (int64_t)timegm(&tm);
  return 0;
}

void attest_pkix_fmt_time(int64_t t, char *out, size_t outsz) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm) || strftime(out, outsz, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
    snprintf(out, outsz, "%lld", (long long)t);
}

int attest_pkix_read_pem(const uint8_t *pem, size_t len, X509 **certs, int max, char *why,
                         size_t whysz) {
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
    if (n == max) {
      X509_free(c);
      snprintf(why, whysz, "PEM chain has more than %d certificates", max);
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

int attest_pkix_verify_path(X509 **certs, int n, const uint8_t root_key[ATTEST_ECDSA_KEY_LEN],
                            char *why, size_t whysz) {
  X509 *anchor = NULL;
  X509_STORE *store = NULL;
  X509_STORE_CTX *ctx = NULL;
  STACK_OF(X509) *untrusted = NULL;
  int rc = -1;
  for (int i = 0; i < n && !anchor; i++) {
    uint8_t xy[ATTEST_ECDSA_KEY_LEN];
    EVP_PKEY *k = X509_get0_pubkey(certs[i]);
    if (k && attest_pkix_p256_raw_of(k, xy) == 0 && memcmp(xy, root_key, sizeof(xy)) == 0)
      anchor = certs[i];
  }
  if (!anchor) {
    snprintf(why, whysz, "no certificate in the chain carries the pinned root key");
    goto out;
  }
  if (anchor == certs[0]) {
    snprintf(why, whysz, "the leaf certificate is the root itself");
    goto out;
  }
  if (X509_check_issued(anchor, anchor) != X509_V_OK ||
      X509_verify(anchor, X509_get0_pubkey(anchor)) != 1) {
    snprintf(why, whysz, "root certificate is not validly self-signed");
    goto out;
  }
  if (X509_check_ca(certs[0]) != 0) {
    snprintf(why, whysz, "the leaf certificate is a CA certificate");
    goto out;
  }
  store = X509_STORE_new();
  untrusted = sk_X509_new_null();
  ctx = X509_STORE_CTX_new();
  if (!store || !untrusted || !ctx || X509_STORE_add_cert(store, anchor) != 1) {
    snprintf(why, whysz, "out of memory");
    goto out;
  }
  for (int i = 1; i < n; i++) {
    if (certs[i] == anchor) continue;
    if (!sk_X509_push(untrusted, certs[i])) {
      snprintf(why, whysz, "out of memory");
      goto out;
    }
  }
  if (X509_STORE_CTX_init(ctx, store, certs[0], untrusted) != 1) {
    snprintf(why, whysz, "out of memory");
    goto out;
  }
  X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT | X509_V_FLAG_NO_CHECK_TIME |
                                         X509_V_FLAG_CHECK_SS_SIGNATURE);
  X509_VERIFY_PARAM_set_depth(param, n);
  if (X509_verify_cert(ctx) == 1) {
    rc = 0;
  } else {
    int code = X509_STORE_CTX_get_error(ctx);
    char cn[96] = "?";
    X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
    if (bad) attest_pkix_cn(bad, cn, sizeof(cn));
    snprintf(why, whysz, "%s (at depth %d, CN=%s)", X509_verify_cert_error_string(code),
             X509_STORE_CTX_get_error_depth(ctx), cn);
  }
out:
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  X509_STORE_free(store);
  ERR_clear_error();
  return rc;
}

int attest_pkix_check_dates(X509 **certs, int n, int64_t now, int64_t *not_before,
                            int64_t *not_after, char *why, size_t whysz) {
  int64_t lo = INT64_MIN, hi = INT64_MAX;
  time_t t = (time_t)now;
  for (int i = 0; i < n; i++) {
    int64_t nb, na;
    char cn[96], when[40];
    attest_pkix_cn(certs[i], cn, sizeof(cn));
    if (attest_pkix_asn1_time(X509_get0_notBefore(certs[i]), &nb) != 0 ||
        attest_pkix_asn1_time(X509_get0_notAfter(certs[i]), &na) != 0) {
      snprintf(why, whysz, "certificate %d (CN=%s) has unreadable dates", i, cn);
      return -1;
    }
    if (nb > lo) lo = nb;
    if (na < hi) hi = na;
    if (X509_cmp_time(X509_get0_notBefore(certs[i]), &t) > 0) {
      attest_pkix_fmt_time(nb, when, sizeof(when));
      snprintf(why, whysz, "certificate %d (CN=%s) not valid before %s", i, cn, when);
      return -1;
    }
    if (X509_cmp_time(X509_get0_notAfter(certs[i]), &t) < 0) {
      attest_pkix_fmt_time(na, when, sizeof(when));
      snprintf(why, whysz, "certificate %d (CN=%s) expired at %s", i, cn, when);
      return -1;
    }
  }
  if (not_before) *not_before = lo;
  if (not_after) *not_after = hi;
  return 0;
}
