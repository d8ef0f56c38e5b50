/* testquote: a self-made PCK chain and correctly signed synthetic TDX quotes, for tests only. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Header-only so any test or benchmark can include it without build changes. Nothing here is
 * Intel's: the root, PCK CA and PCK leaf are fresh P-256 keys made per run, and a quote built
 * here verifies only when the test passes tq_pki.root_xy as the trusted root key.
 */
#ifndef COCOON_TESTS_ATTEST_TESTQUOTE_H
#define COCOON_TESTS_ATTEST_TESTQUOTE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/sha.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "attest/quote.h"

#define TQ_UNUSED __attribute__((unused))

struct tq_pki {
  EVP_PKEY *root_key, *ca_key, *leaf_key;
  X509 *root, *ca, *leaf;
  uint8_t root_xy[64];
};

/* Where the parts of a built quote lie, for tests that flip bytes. */
struct tq_layout {
  size_t body, sig, akey, qe_report, qe_sig, auth, pem, pem_len, end;
};

TQ_UNUSED static int tq_raw_xy(const EVP_PKEY *k, uint8_t xy[64]) {
  BIGNUM *x = NULL, *y = NULL;
  int ok = EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
           EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1 &&
           BN_bn2binpad(x, xy, 32) == 32 && BN_bn2binpad(y, xy + 32, 32) == 32;
  BN_free(x);
  BN_free(y);
  return ok ? 0 : -1;
}

/* ECDSA-SHA256 signature as raw r || s. */
TQ_UNUSED static int tq_sign_raw(EVP_PKEY *k, const uint8_t *msg, size_t len, uint8_t out[64]) {
  uint8_t der[80];
  size_t dlen = sizeof(der);
  int ok = 0;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  ECDSA_SIG *s = NULL;
  if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
      EVP_DigestSign(md, der, &dlen, msg, len) != 1)
    goto out;
  const unsigned char *p = der;
  s = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
  if (!s) goto out;
  ok = BN_bn2binpad(ECDSA_SIG_get0_r(s), out, 32) == 32 &&
       BN_bn2binpad(ECDSA_SIG_get0_s(s), out + 32, 32) == 32;
out:
  ECDSA_SIG_free(s);
  EVP_MD_CTX_free(md);
  return ok ? 0 : -1;
}

TQ_UNUSED static int tq_add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (!ext) return -1;
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? 0 : -1;
}

/* A certificate for `key`, signed by issuer_key (issuer NULL = self-signed CA). */
TQ_UNUSED static X509 *tq_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                               int is_ca, int64_t not_before, int64_t not_after, long serial) {
  X509 *c = X509_new();
  X509_NAME *name = X509_NAME_new();
  int ok = c && name && X509_set_version(c, 2) == 1 &&
           ASN1_INTEGER_set(X509_get_serialNumber(c), serial) == 1 &&
           X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"cocoon test",
                                      -1, -1, 0) == 1 &&
           X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                      0) == 1 &&
           X509_set_subject_name(c, name) == 1 &&
           X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name) == 1 &&
           X509_set_pubkey(c, key) == 1;
  if (ok) {
    ASN1_TIME *nb = ASN1_TIME_set(NULL, (time_t)not_before);
    ASN1_TIME *na = ASN1_TIME_set(NULL, (time_t)not_after);
    ok = nb && na && X509_set1_notBefore(c, nb) == 1 && X509_set1_notAfter(c, na) == 1;
    ASN1_TIME_free(nb);
    ASN1_TIME_free(na);
  }
  X509 *iss = issuer ? issuer : c;
  if (ok)
    ok = tq_add_ext(c, iss, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE") == 0 &&
         tq_add_ext(c, iss, NID_key_usage,
                    is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,nonRepudiation") == 0 &&
         tq_add_ext(c, iss, NID_subject_key_identifier, "hash") == 0 &&
         tq_add_ext(c, iss, NID_authority_key_identifier, "keyid:always") == 0 &&
         X509_sign(c, issuer_key, EVP_sha256()) > 0;
  X509_NAME_free(name);
  if (!ok) {
    X509_free(c);
    return NULL;
  }
  return c;
}

TQ_UNUSED static void tq_pki_free(struct tq_pki *p) {
  X509_free(p->root);
  X509_free(p->ca);
  X509_free(p->leaf);
  EVP_PKEY_free(p->root_key);
  EVP_PKEY_free(p->ca_key);
  EVP_PKEY_free(p->leaf_key);
  memset(p, 0, sizeof(*p));
}

/* Root and PCK CA valid [t0 - 1 year, t0 + 20 years]; the leaf [leaf_nb, leaf_na]. */
TQ_UNUSED static int tq_pki_make(struct tq_pki *p, int64_t t0, int64_t leaf_nb, int64_t leaf_na) {
  memset(p, 0, sizeof(*p));
  const int64_t year = 365 * 86400;
  p->root_key = EVP_EC_gen("P-256");
  p->ca_key = EVP_EC_gen("P-256");
  p->leaf_key = EVP_EC_gen("P-256");
  if (!p->root_key || !p->ca_key || !p->leaf_key) goto fail;
  p->root = tq_cert("Test SGX Root CA", p->root_key, NULL, p->root_key, 1, t0 - year, t0 + 20 * year, 1);
  if (!p->root) goto fail;
  p->ca = tq_cert("Test SGX PCK Platform CA", p->ca_key, p->root, p->root_key, 1, t0 - year,
                  t0 + 20 * year, 2);
  if (!p->ca) goto fail;
  p->leaf = tq_cert("Test SGX PCK Certificate", p->leaf_key, p->ca, p->ca_key, 0, leaf_nb, leaf_na, 3);
  if (!p->leaf || tq_raw_xy(p->root_key, p->root_xy) != 0) goto fail;
  return 0;
fail:
  tq_pki_free(p);
  return -1;
}

/* PEM of the given certificates, NUL-terminated like Intel's (caller frees). */
TQ_UNUSED static char *tq_pem(X509 *const *certs, int n, size_t *len) {
  BIO *b = BIO_new(BIO_s_mem());
  char *out = NULL;
  if (!b) return NULL;
  for (int i = 0; i < n; i++)
    if (PEM_write_bio_X509(b, certs[i]) != 1) goto out;
  char *p;
  long l = BIO_get_mem_data(b, &p);
  if (l <= 0) goto out;
  out = malloc((size_t)l + 1);
  if (!out) goto out;
  memcpy(out, p, (size_t)l);
  out[l] = '\0';
  *len = (size_t)l + 1;
out:
  BIO_free(b);
  return out;
}

TQ_UNUSED static void tq_put16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

TQ_UNUSED static void tq_put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Builds a quote signed by a fresh attestation key whose QE report is signed by the PCK leaf.
 * version 4 (TD 1.0) or 5 with body_type 2/3. The chain is certs[0..ncerts) (leaf first);
 * `trailing` zero bytes follow. Measurements are a deterministic pattern; report_data may be
 * NULL. Returns a malloc'd quote (caller frees) and fills *len and, if given, *lay. */
TQ_UNUSED static uint8_t *tq_build_chain(EVP_PKEY *pck_key, X509 *const *certs, int ncerts,
                                         int version, int body_type, const uint8_t *report_data,
                                         size_t trailing, size_t *len, struct tq_layout *lay) {
  struct tq_layout l;
  size_t pem_len = 0;
  char *pem = tq_pem(certs, ncerts, &pem_len);
  EVP_PKEY *ak = EVP_EC_gen("P-256");
  uint8_t *q = NULL;
  if (!pem || !ak) goto out;
  size_t body_len = body_type == ATTEST_BODY_TD15 ? ATTEST_TD15_BODY_LEN : ATTEST_TD10_BODY_LEN;
  const size_t auth_len = 32;
  l.body = ATTEST_HEADER_LEN + (version == 5 ? 6 : 0);
  size_t sig_data = l.body + body_len; /* u32 signature data length */
  l.sig = sig_data + 4;
  l.akey = l.sig + 64;
  size_t cert6 = l.akey + 64; /* u16 type, u32 size */
  l.qe_report = cert6 + 6;
  l.qe_sig = l.qe_report + ATTEST_QE_REPORT_LEN;
  l.auth = l.qe_sig + 64 + 2;
  size_t cert5 = l.auth + auth_len;
  l.pem = cert5 + 6;
  l.pem_len = pem_len;
  l.end = l.pem + pem_len;
  q = calloc(1, l.end + trailing);
  if (!q) goto out;
  /* Header. */
  tq_put16(q, (unsigned)version);
  tq_put16(q + 2, ATTEST_ATT_KEY_ECDSA_P256);
  tq_put32(q + 4, ATTEST_TEE_TYPE_TDX);
  static const uint8_t intel_qe_vendor[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                               0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};
  memcpy(q + 12, intel_qe_vendor, 16);
  memset(q + 28, 0xee, 20); /* user data */
  if (version == 5) {
    tq_put16(q + ATTEST_HEADER_LEN, (unsigned)body_type);
    tq_put32(q + ATTEST_HEADER_LEN + 2, (uint32_t)body_len);
  }
  /* Body: byte i of the body = i * 7 + 1, then report data. */
  for (size_t i = 0; i < body_len; i++) q[l.body + i] = (uint8_t)(i * 7 + 1);
  if (report_data) memcpy(q + l.body + 520, report_data, 64);
  tq_put32(q + sig_data, (uint32_t)(l.end - l.sig));
  if (tq_raw_xy(ak, q + l.akey) != 0 || tq_sign_raw(ak, q, sig_data, q + l.sig) != 0) goto fail;
  tq_put16(q + cert6, ATTEST_CERT_QE_REPORT);
  tq_put32(q + cert6 + 2, (uint32_t)(l.end - l.qe_report));
  /* QE report: a pattern, then report data = SHA-256(attestation key || auth data) || 0^32. */
  for (size_t i = 0; i < 320; i++) q[l.qe_report + i] = (uint8_t)(i * 13 + 5);
  tq_put16(q + l.qe_sig + 64, (unsigned)auth_len);
  for (size_t i = 0; i < auth_len; i++) q[l.auth + i] = (uint8_t)i;
  unsigned int hl = 0;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int hok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
            EVP_DigestUpdate(md, q + l.akey, 64) == 1 &&
            EVP_DigestUpdate(md, q + l.auth, auth_len) == 1 &&
            EVP_DigestFinal_ex(md, q + l.qe_report + 320, &hl) == 1;
  EVP_MD_CTX_free(md);
  if (!hok || tq_sign_raw(pck_key, q + l.qe_report, ATTEST_QE_REPORT_LEN, q + l.qe_sig) != 0)
    goto fail;
  tq_put16(q + cert5, ATTEST_CERT_PCK_CHAIN);
  tq_put32(q + cert5 + 2, (uint32_t)pem_len);
  memcpy(q + l.pem, pem, pem_len);
  *len = l.end + trailing;
  if (lay) *lay = l;
  goto out;
fail:
  free(q);
  q = NULL;
out:
  free(pem);
  EVP_PKEY_free(ak);
  return q;
}

/* The usual case: the chain leaf, PCK CA, root of p. */
TQ_UNUSED static uint8_t *tq_build(const struct tq_pki *p, int version, int body_type,
                                   const uint8_t *report_data, size_t trailing, size_t *len,
                                   struct tq_layout *lay) {
  X509 *chain[3] = {p->leaf, p->ca, p->root};
  return tq_build_chain(p->leaf_key, chain, 3, version, body_type, report_data, trailing, len, lay);
}

#endif
