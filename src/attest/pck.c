/* pck: the Intel SGX extension of a PCK certificate (FMSPC, PCE id, TCB component SVNs). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "attest/pck.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

/* DER: single-byte tags only (all this extension uses), definite lengths up to 4 bytes. */
enum {
  DER_INTEGER = 0x02,
  DER_OCTET_STRING = 0x04,
  DER_OID = 0x06,
  DER_ENUMERATED = 0x0a,
  DER_SEQUENCE = 0x30,
};

struct der {
  const uint8_t *p;
  size_t n;
};

/* Reads one TLV from d into (tag, val) and advances d. -1 on truncation or a bad length. */
static int der_next(struct der *d, unsigned *tag, struct der *val) {
  if (d->n < 2) return -1;
  unsigned t = d->p[0];
  if ((t & 0x1f) == 0x1f) return -1; /* multi-byte tags are not used here */
  size_t len = d->p[1], hdr = 2;
  if (len & 0x80) {
    size_t nb = len & 0x7f;
    if (nb == 0 || nb > 4 || d->n < 2 + nb) return -1;
    len = 0;
    for (size_t i = 0; i < nb; i++) len = (len << 8) | d->p[2 + i];
    if (len < 0x80) return -1; /* not minimal */
    hdr += nb;
  }
  if (len > d->n - hdr) return -1;
  *tag = t;
  val->p = d->p + hdr;
  val->n = len;
  d->p += hdr + len;
  d->n -= hdr + len;
  return 0;
}

/* DER of 1.2.840.113741.1.13.1 (without tag and length). */
static const uint8_t sgx_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};

/* Matches oid == sgx_oid.a (b == 0) or sgx_oid.a.b. */
static int oid_is(const struct der *oid, unsigned a, unsigned b) {
  size_t want = sizeof(sgx_oid) + 1 + (b ? 1 : 0);
  if (oid->n != want || memcmp(oid->p, sgx_oid, sizeof(sgx_oid)) != 0) return 0;
  if (oid->p[sizeof(sgx_oid)] != a) return 0;
  return b == 0 || oid->p[sizeof(sgx_oid) + 1] == b;
}

/* A non-negative INTEGER of at most 16 bits. */
static int der_uint16(const struct der *v, uint16_t *out) {
  if (v->n == 0 || v->n > 3) return -1;
  if (v->p[0] & 0x80) return -1; /* negative */
  uint32_t x = 0;
  for (size_t i = 0; i < v->n; i++) x = (x << 8) | v->p[i];
  if (x > 0xffff) return -1;
  *out = (uint16_t)x;
  return 0;
}

static int parse_tcb(struct der seq, struct attest_pck_info *out, uint32_t *seen, struct err *e) {
  while (seq.n) {
    unsigned tag;
    struct der item, oid, val;
    if (der_next(&seq, &tag, &item) != 0 || tag != DER_SEQUENCE)
      return err_set(e, ERR_PARSE, "pck: TCB entry is not a SEQUENCE");
    if (der_next(&item, &tag, &oid) != 0 || tag != DER_OID)
      return err_set(e, ERR_PARSE, "pck: TCB entry has no OID");
    unsigned vt;
    if (der_next(&item, &vt, &val) != 0 || item.n != 0)
      return err_set(e, ERR_PARSE, "pck: TCB entry value is malformed");
    if (oid.n != sizeof(sgx_oid) + 2 || !oid_is(&oid, 2, oid.p[sizeof(sgx_oid) + 1])) continue;
    unsigned k = oid.p[sizeof(sgx_oid) + 1];
    if (k >= 1 && k <= ATTEST_TCB_COMPONENTS) {
      uint16_t svn;
      if (vt != DER_INTEGER || der_uint16(&val, &svn) != 0 || svn > 255)
        return err_set(e, ERR_PARSE, "pck: sgxtcbcomp%02u is not an integer 0..255", k);
      out->comp_svn[k - 1] = (uint8_t)svn;
      *seen |= 1u << (k - 1);
    } else if (k == 17) {
      if (vt != DER_INTEGER || der_uint16(&val, &out->pcesvn) != 0)
        return err_set(e, ERR_PARSE, "pck: pcesvn is not an integer 0..65535");
      *seen |= 1u << 16;
    } else if (k == 18) {
      if (vt != DER_OCTET_STRING || val.n != sizeof(out->cpusvn))
        return err_set(e, ERR_PARSE, "pck: cpusvn is not a 16-byte OCTET STRING");
      memcpy(out->cpusvn, val.p, val.n);
      *seen |= 1u << 17;
    }
  }
  return 0;
}

int attest_pck_ext_parse(const uint8_t *der, size_t len, struct attest_pck_info *out, struct err *e) {
  memset(out, 0, sizeof(*out));
  struct der d = {der, len}, top;
  unsigned tag;
  if (!der || der_next(&d, &tag, &top) != 0 || tag != DER_SEQUENCE || d.n != 0)
    return err_set(e, ERR_PARSE, "pck: SGX extension is not one DER SEQUENCE");
  uint32_t tcb_seen = 0;
  int have_fmspc = 0, have_pceid = 0, have_tcb = 0;
  while (top.n) {
    struct der item, oid, val;
    unsigned vt;
    if (der_next(&top, &tag, &item) != 0 || tag != DER_SEQUENCE)
      return err_set(e, ERR_PARSE, "pck: SGX extension entry is not a SEQUENCE");
    if (der_next(&item, &tag, &oid) != 0 || tag != DER_OID)
      return err_set(e, ERR_PARSE, "pck: SGX extension entry has no OID");
    if (der_next(&item, &vt, &val) != 0 || item.n != 0)
      return err_set(e, ERR_PARSE, "pck: SGX extension entry value is malformed");
    if (oid_is(&oid, 2, 0)) {
      if (vt != DER_SEQUENCE || have_tcb) return err_set(e, ERR_PARSE, "pck: bad or repeated TCB");
      have_tcb = 1;
      if (parse_tcb(val, out, &tcb_seen, e) != 0) return -1;
    } else if (oid_is(&oid, 3, 0)) {
      if (vt != DER_OCTET_STRING || val.n != ATTEST_PCE_ID_LEN || have_pceid)
        return err_set(e, ERR_PARSE, "pck: PCE-ID is not one 2-byte OCTET STRING");
      memcpy(out->pce_id, val.p, val.n);
      have_pceid = 1;
    } else if (oid_is(&oid, 4, 0)) {
      if (vt != DER_OCTET_STRING || val.n != ATTEST_FMSPC_LEN || have_fmspc)
        return err_set(e, ERR_PARSE, "pck: FMSPC is not one 6-byte OCTET STRING");
      memcpy(out->fmspc, val.p, val.n);
      have_fmspc = 1;
    }
    /* PPID (.1), SGX type (.5) and the platform entries (.6, .7) are not needed. */
  }
  if (!have_tcb) return err_set(e, ERR_PARSE, "pck: SGX extension has no TCB entry");
  for (unsigned k = 0; k < 17; k++)
    if (!(tcb_seen & (1u << k))) {
      if (k < 16) return err_set(e, ERR_PARSE, "pck: TCB lacks sgxtcbcomp%02u", k + 1);
      return err_set(e, ERR_PARSE, "pck: TCB lacks pcesvn");
    }
  if (!have_pceid) return err_set(e, ERR_PARSE, "pck: SGX extension has no PCE-ID");
  if (!have_fmspc) return err_set(e, ERR_PARSE, "pck: SGX extension has no FMSPC");
  return 0;
}

int attest_pck_info_from_cert(X509 *cert, struct attest_pck_info *out, struct err *e) {
  ASN1_OBJECT *obj = OBJ_txt2obj(ATTEST_PCK_SGX_EXT_OID, 1);
  if (!obj) return err_set(e, ERR_NOMEM, "pck: out of memory");
  int idx = X509_get_ext_by_OBJ(cert, obj, -1);
  int dup = idx >= 0 ? X509_get_ext_by_OBJ(cert, obj, idx) : -1;
  ASN1_OBJECT_free(obj);
  ERR_clear_error();
  if (idx < 0) return err_set(e, ERR_PARSE, "pck: the PCK certificate has no SGX extension");
  if (dup >= 0) return err_set(e, ERR_PARSE, "pck: the PCK certificate has two SGX extensions");
  X509_EXTENSION *ext = X509_get_ext(cert, idx);
  const ASN1_OCTET_STRING *v = ext ? X509_EXTENSION_get_data(ext) : NULL;
  if (!v) return err_set(e, ERR_PARSE, "pck: unreadable SGX extension");
  return attest_pck_ext_parse(ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v), out, e);
}
