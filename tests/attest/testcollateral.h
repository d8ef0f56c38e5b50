/* testcollateral: self-made Intel-style collateral (TCB info, QE identity, CRLs) for tests. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Header-only, like testquote.h. The collateral is signed by a TCB signing certificate issued
 * by the test root of a struct tq_pki, so it verifies only against that root, never Intel's.
 */
#ifndef COCOON_TESTS_ATTEST_TESTCOLLATERAL_H
#define COCOON_TESTS_ATTEST_TESTCOLLATERAL_H

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include <openssl/objects.h>

#include "attest/testquote.h"

struct tc_level {
  uint8_t sgx[16], tdx[16];
  uint16_t pcesvn;
  const char *status;
};

struct tc_tcb {
  int64_t issue, next;
  uint8_t fmspc[6], pce_id[2];
  uint8_t module_major, module_mrsigner[48], module_attributes[8];
  uint16_t module_isvsvn;       /* the module identity's single UpToDate level */
  struct tc_level levels[4];
  int n_levels;
};

struct tc_qe {
  int64_t issue, next;
  uint8_t mrsigner[32], attributes[16];
  uint32_t miscselect;
  uint16_t isvprodid;
  uint16_t isvsvn_uptodate;      /* level 0: UpToDate from this ISVSVN */
};

/* DER of the SGX extension value: FMSPC, PCE id, the 16 component SVNs, PCESVN and CPUSVN. */
TQ_UNUSED static size_t tc_sgx_ext(const uint8_t fmspc[6], const uint8_t pce_id[2],
                                   const uint8_t comps[16], uint16_t pcesvn, uint8_t *out) {
  static const uint8_t oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};
  uint8_t tcb[400];
  size_t t = 0;
  for (int k = 1; k <= 18; k++) {
    uint8_t val[20];
    size_t vl;
    if (k <= 16) {
      val[0] = 0x02, val[1] = 2, val[2] = 0, val[3] = comps[k - 1], vl = 4;
    } else if (k == 17) {
      val[0] = 0x02, val[1] = 3, val[2] = 0, val[3] = (uint8_t)(pcesvn >> 8), val[4] = (uint8_t)pcesvn, vl = 5;
    } else {
      val[0] = 0x04, val[1] = 16, vl = 18;
      for (int i = 0; i < 16; i++) val[2 + i] = comps[i];
    }
    tcb[t++] = 0x30;
    tcb[t++] = (uint8_t)(2 + sizeof(oid) + 2 + vl);
    tcb[t++] = 0x06;
    tcb[t++] = (uint8_t)(sizeof(oid) + 2);
    memcpy(tcb + t, oid, sizeof(oid));
    t += sizeof(oid);
    tcb[t++] = 2;
    tcb[t++] = (uint8_t)k;
    memcpy(tcb + t, val, vl);
    t += vl;
  }
  uint8_t body[600];
  size_t b = 0;
  /* PPID */
  body[b++] = 0x30, body[b++] = (uint8_t)(2 + sizeof(oid) + 1 + 2 + 16);
  body[b++] = 0x06, body[b++] = sizeof(oid) + 1;
  memcpy(body + b, oid, sizeof(oid)), b += sizeof(oid), body[b++] = 1;
  body[b++] = 0x04, body[b++] = 16;
  memset(body + b, 0xab, 16), b += 16;
  /* TCB: SEQUENCE { OID .2, SEQUENCE { ... } } with a two-byte length for the inner one. */
  size_t inner = 4 + t;
  size_t tcb_len = 2 + sizeof(oid) + 1 + inner;
  body[b++] = 0x30, body[b++] = 0x82, body[b++] = (uint8_t)(tcb_len >> 8), body[b++] = (uint8_t)tcb_len;
  body[b++] = 0x06, body[b++] = sizeof(oid) + 1;
  memcpy(body + b, oid, sizeof(oid)), b += sizeof(oid), body[b++] = 2;
  body[b++] = 0x30, body[b++] = 0x82, body[b++] = (uint8_t)(t >> 8), body[b++] = (uint8_t)t;
  memcpy(body + b, tcb, t), b += t;
  /* PCE-ID */
  body[b++] = 0x30, body[b++] = (uint8_t)(2 + sizeof(oid) + 1 + 2 + 2);
  body[b++] = 0x06, body[b++] = sizeof(oid) + 1;
  memcpy(body + b, oid, sizeof(oid)), b += sizeof(oid), body[b++] = 3;
  body[b++] = 0x04, body[b++] = 2, body[b++] = pce_id[0], body[b++] = pce_id[1];
  /* FMSPC */
  body[b++] = 0x30, body[b++] = (uint8_t)(2 + sizeof(oid) + 1 + 2 + 6);
  body[b++] = 0x06, body[b++] = sizeof(oid) + 1;
  memcpy(body + b, oid, sizeof(oid)), b += sizeof(oid), body[b++] = 4;
  body[b++] = 0x04, body[b++] = 6;
  memcpy(body + b, fmspc, 6), b += 6;
  out[0] = 0x30, out[1] = 0x82, out[2] = (uint8_t)(b >> 8), out[3] = (uint8_t)b;
  memcpy(out + 4, body, b);
  return 4 + b;
}

/* Adds the SGX extension to p->leaf and re-signs it with the PCK CA key. */
TQ_UNUSED static int tc_pck_add_sgx(struct tq_pki *p, const uint8_t fmspc[6], const uint8_t pce_id[2],
                                    const uint8_t comps[16], uint16_t pcesvn) {
  uint8_t der[1024];
  size_t n = tc_sgx_ext(fmspc, pce_id, comps, pcesvn, der);
  ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
  ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
  X509_EXTENSION *ext = NULL;
  int ok = obj && os && ASN1_OCTET_STRING_set(os, der, (int)n) == 1 &&
           (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) != NULL &&
           X509_add_ext(p->leaf, ext, -1) == 1 && X509_sign(p->leaf, p->ca_key, EVP_sha256()) > 0;
  X509_EXTENSION_free(ext);
  ASN1_OCTET_STRING_free(os);
  ASN1_OBJECT_free(obj);
  return ok ? 0 : -1;
}

TQ_UNUSED static void tc_hex(const uint8_t *p, size_t n, char *out) {
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) out[2 * i] = d[p[i] >> 4], out[2 * i + 1] = d[p[i] & 15];
  out[2 * n] = 0;
}

TQ_UNUSED static void tc_date(int64_t t, char *out, size_t n) {
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Appends to a growing buffer (tests only; aborts the test through NULL on overflow). */
struct tc_buf {
  char s[16384];
  size_t n;
};
TQ_UNUSED __attribute__((format(printf, 2, 3))) static void tc_put(struct tc_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(b->s + b->n, sizeof(b->s) - b->n, fmt, ap);
  va_end(ap);
  if (w > 0 && (size_t)w < sizeof(b->s) - b->n) b->n += (size_t)w;
}

TQ_UNUSED static void tc_svns(struct tc_buf *b, const char *key, const uint8_t *svn) {
  tc_put(b, "\"%s\":[", key);
  for (int i = 0; i < 16; i++) tc_put(b, "%s{\"svn\":%u,\"category\":\"c%d\"}", i ? "," : "", svn[i], i);
  tc_put(b, "]");
}

/* Wraps a signed body: {"<key>":<body>,"signature":"<hex>"} into out (malloc'd). */
TQ_UNUSED static char *tc_sign_doc(const char *key, const struct tc_buf *body, EVP_PKEY *signer,
                                   size_t *len) {
  uint8_t sig[64];
  char hex[129];
  if (tq_sign_raw(signer, (const uint8_t *)body->s, body->n, sig) != 0) return NULL;
  tc_hex(sig, 64, hex);
  size_t cap = body->n + 256;
  char *out = malloc(cap);
  if (!out) return NULL;
  int w = snprintf(out, cap, "{\"%s\":%s,\"signature\":\"%s\"}", key, body->s, hex);
  *len = (size_t)w;
  return out;
}

TQ_UNUSED static char *tc_tcb_info(const struct tc_tcb *t, EVP_PKEY *signer, size_t *len) {
  struct tc_buf *b = calloc(1, sizeof(*b));
  char d1[32], d2[32], h[200];
  if (!b) return NULL;
  tc_date(t->issue, d1, sizeof(d1));
  tc_date(t->next, d2, sizeof(d2));
  tc_put(b, "{\"id\":\"TDX\",\"version\":3,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\",", d1, d2);
  tc_hex(t->fmspc, 6, h);
  tc_put(b, "\"fmspc\":\"%s\",", h);
  tc_hex(t->pce_id, 2, h);
  tc_put(b, "\"pceId\":\"%s\",\"tcbType\":0,\"tcbEvaluationDataNumber\":17,", h);
  tc_hex(t->module_mrsigner, 48, h);
  tc_put(b, "\"tdxModule\":{\"mrsigner\":\"%s\",\"attributes\":\"0000000000000000\","
            "\"attributesMask\":\"0000000000000000\"},", h);
  tc_put(b, "\"tdxModuleIdentities\":[{\"id\":\"TDX_%02X\",\"mrsigner\":\"%s\",", t->module_major, h);
  tc_hex(t->module_attributes, 8, h);
  tc_put(b, "\"attributes\":\"%s\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\",\"tcbLevels\":[{\"tcb\":"
            "{\"isvsvn\":%u},\"tcbDate\":\"2026-01-01T00:00:00Z\",\"tcbStatus\":\"UpToDate\"}]}],",
         h, t->module_isvsvn);
  tc_put(b, "\"tcbLevels\":[");
  for (int i = 0; i < t->n_levels; i++) {
    const struct tc_level *l = &t->levels[i];
    tc_put(b, "%s{\"tcb\":{", i ? "," : "");
    tc_svns(b, "sgxtcbcomponents", l->sgx);
    tc_put(b, ",\"pcesvn\":%u,", l->pcesvn);
    tc_svns(b, "tdxtcbcomponents", l->tdx);
    tc_put(b, "},\"tcbDate\":\"2026-0%d-01T00:00:00Z\",\"tcbStatus\":\"%s\"}", 1 + i, l->status);
  }
  tc_put(b, "]}");
  char *out = tc_sign_doc("tcbInfo", b, signer, len);
  free(b);
  return out;
}

TQ_UNUSED static char *tc_qe_identity(const struct tc_qe *q, EVP_PKEY *signer, size_t *len) {
  struct tc_buf *b = calloc(1, sizeof(*b));
  char d1[32], d2[32], h[100], a[40];
  if (!b) return NULL;
  tc_date(q->issue, d1, sizeof(d1));
  tc_date(q->next, d2, sizeof(d2));
  tc_hex(q->mrsigner, 32, h);
  tc_hex(q->attributes, 16, a);
  tc_put(b, "{\"id\":\"TD_QE\",\"version\":2,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
            "\"tcbEvaluationDataNumber\":17,\"miscselect\":\"%08X\",\"miscselectMask\":\"FFFFFFFF\","
            "\"attributes\":\"%s\",\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\","
            "\"mrsigner\":\"%s\",\"isvprodid\":%u,\"tcbLevels\":["
            "{\"tcb\":{\"isvsvn\":%u},\"tcbDate\":\"2026-01-01T00:00:00Z\",\"tcbStatus\":\"UpToDate\"},"
            "{\"tcb\":{\"isvsvn\":0},\"tcbDate\":\"2025-01-01T00:00:00Z\",\"tcbStatus\":\"OutOfDate\"}]}",
         d1, d2, q->miscselect, a, h, q->isvprodid, q->isvsvn_uptodate);
  char *out = tc_sign_doc("enclaveIdentity", b, signer, len);
  free(b);
  return out;
}

/* A DER CRL issued by `issuer` (signed with key) revoking the given certificates. */
TQ_UNUSED static uint8_t *tc_crl(X509 *issuer, EVP_PKEY *key, int64_t this_up, int64_t next_up,
                                 X509 *const *revoked, int n_revoked, size_t *len) {
  X509_CRL *crl = X509_CRL_new();
  ASN1_TIME *t1 = ASN1_TIME_set(NULL, (time_t)this_up), *t2 = ASN1_TIME_set(NULL, (time_t)next_up);
  uint8_t *out = NULL;
  int ok = crl && t1 && t2 && X509_CRL_set_version(crl, 1) == 1 &&
           X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) == 1 &&
           X509_CRL_set1_lastUpdate(crl, t1) == 1 && X509_CRL_set1_nextUpdate(crl, t2) == 1;
  for (int i = 0; ok && i < n_revoked; i++) {
    X509_REVOKED *r = X509_REVOKED_new();
    ok = r && X509_REVOKED_set_serialNumber(r, (ASN1_INTEGER *)X509_get0_serialNumber(revoked[i])) == 1 &&
         X509_REVOKED_set_revocationDate(r, t1) == 1 && X509_CRL_add0_revoked(crl, r) == 1;
    if (!ok) X509_REVOKED_free(r);
  }
  if (ok) ok = X509_CRL_sort(crl) == 1 && X509_CRL_sign(crl, key, EVP_sha256()) > 0;
  if (ok) {
    int l = i2d_X509_CRL(crl, &out);
    if (l > 0) *len = (size_t)l;
    else out = NULL;
  }
  ASN1_TIME_free(t1);
  ASN1_TIME_free(t2);
  X509_CRL_free(crl);
  return out;
}

#endif
