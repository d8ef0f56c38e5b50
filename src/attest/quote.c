/* quote: bounds-checked parser for Intel TDX DCAP quotes (v4, v5) and COCOON's image hash. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "attest/quote.h"

#include <string.h>

#include <openssl/evp.h>

/* A read cursor over untrusted bytes: every read checks what remains, and a failed read
 * leaves the cursor failed so the caller reports the first field that did not fit. */
struct cursor {
  const uint8_t *p;
  size_t len;
  size_t pos;
};

static int cur_take(struct cursor *c, size_t n, const uint8_t **out) {
  if (n > c->len - c->pos) return -1;
  *out = c->p + c->pos;
  c->pos += n;
  return 0;
}

static int cur_bytes(struct cursor *c, void *dst, size_t n) {
  const uint8_t *s;
  if (cur_take(c, n, &s) != 0) return -1;
  memcpy(dst, s, n);
  return 0;
}

static int cur_u16(struct cursor *c, uint16_t *v) {
  const uint8_t *s;
  if (cur_take(c, 2, &s) != 0) return -1;
  *v = (uint16_t)(s[0] | (unsigned)s[1] << 8);
  return 0;
}

static int cur_u32(struct cursor *c, uint32_t *v) {
  const uint8_t *s;
  if (cur_take(c, 4, &s) != 0) return -1;
  *v = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
  return 0;
}

static size_t cur_left(const struct cursor *c) { return c->len - c->pos; }

/* A sub-cursor over the next n bytes, which the parent skips. */
static int cur_sub(struct cursor *c, size_t n, struct cursor *sub) {
  const uint8_t *s;
  if (cur_take(c, n, &s) != 0) return -1;
  sub->p = s;
  sub->len = n;
  sub->pos = 0;
  return 0;
}

static int short_field(struct err *e, const char *field, size_t need, const struct cursor *c) {
  return err_set(e, ERR_PARSE, "quote: truncated at %s (needs %zu bytes, %zu left)", field,
                 need, cur_left(c));
}

#define TAKE(c, dst, n, field)                                                                 \
  do {                                                                                         \
    if (cur_bytes((c), (dst), (n)) != 0) return short_field(e, (field), (n), (c));             \
  } while (0)

static int parse_td_report(struct cursor *c, int v15, struct attest_td_report *td,
                           struct err *e) {
  TAKE(c, td->tee_tcb_svn, sizeof(td->tee_tcb_svn), "body.tee_tcb_svn");
  TAKE(c, td->mrseam, ATTEST_MR_LEN, "body.mrseam");
  TAKE(c, td->mrsignerseam, ATTEST_MR_LEN, "body.mrsignerseam");
  TAKE(c, td->seam_attributes, sizeof(td->seam_attributes), "body.seam_attributes");
  TAKE(c, td->td_attributes, sizeof(td->td_attributes), "body.td_attributes");
  TAKE(c, td->xfam, sizeof(td->xfam), "body.xfam");
  TAKE(c, td->mrtd, ATTEST_MR_LEN, "body.mrtd");
  TAKE(c, td->mrconfigid, ATTEST_MR_LEN, "body.mrconfigid");
  TAKE(c, td->mrowner, ATTEST_MR_LEN, "body.mrowner");
  TAKE(c, td->mrownerconfig, ATTEST_MR_LEN, "body.mrownerconfig");
  TAKE(c, td->rtmr[0], ATTEST_MR_LEN, "body.rtmr0");
  TAKE(c, td->rtmr[1], ATTEST_MR_LEN, "body.rtmr1");
  TAKE(c, td->rtmr[2], ATTEST_MR_LEN, "body.rtmr2");
  TAKE(c, td->rtmr[3], ATTEST_MR_LEN, "body.rtmr3");
  TAKE(c, td->report_data, ATTEST_REPORT_DATA_LEN, "body.report_data");
  if (v15) {
    TAKE(c, td->tee_tcb_svn2, sizeof(td->tee_tcb_svn2), "body.tee_tcb_svn2");
    TAKE(c, td->mrservicetd, ATTEST_MR_LEN, "body.mrservicetd");
  }
  return 0;
}

static uint16_t le16(const uint8_t *s) { return (uint16_t)(s[0] | (unsigned)s[1] << 8); }

static void decode_qe_report(const uint8_t *r, struct attest_qe_report *qr) {
  /* SGX REPORT body layout: cpusvn 0, miscselect 16, attributes 48, mrenclave 64,
   * mrsigner 128, isvprodid 256, isvsvn 258, reportdata 320. */
  memcpy(qr->cpusvn, r, 16);
  qr->miscselect = (uint32_t)r[16] | (uint32_t)r[17] << 8 | (uint32_t)r[18] << 16 |
                   (uint32_t)r[19] << 24;
  memcpy(qr->attributes, r + 48, 16);
  memcpy(qr->mrenclave, r + 64, 32);
  memcpy(qr->mrsigner, r + 128, 32);
  qr->isv_prod_id = le16(r + 256);
  qr->isv_svn = le16(r + 258);
  memcpy(qr->report_data, r + 320, 64);
}

/* QE report certification data (type 6): QE report, its signature, QE auth data, and a
 * nested certification data which must be the PEM PCK chain (type 5). */
static int parse_qe_cert_data(struct cursor *c, struct attest_quote *q, struct err *e) {
  TAKE(c, q->qe_report_raw, ATTEST_QE_REPORT_LEN, "qe_cert_data.qe_report");
  decode_qe_report(q->qe_report_raw, &q->qe_report);
  TAKE(c, q->qe_report_sig, ATTEST_ECDSA_SIG_LEN, "qe_cert_data.qe_report_signature");
  uint16_t auth_len;
  if (cur_u16(c, &auth_len) != 0) return short_field(e, "qe_cert_data.qe_auth_data.size", 2, c);
  if (cur_take(c, auth_len, &q->qe_auth_data) != 0)
    return short_field(e, "qe_cert_data.qe_auth_data", auth_len, c);
  q->qe_auth_len = auth_len;
  uint16_t type;
  uint32_t size;
  if (cur_u16(c, &type) != 0) return short_field(e, "qe_cert_data.cert_data.type", 2, c);
  if (cur_u32(c, &size) != 0) return short_field(e, "qe_cert_data.cert_data.size", 4, c);
  if (type != ATTEST_CERT_PCK_CHAIN)
    return err_set(e, ERR_PARSE,
                   "quote: qe_cert_data.cert_data.type is %u, only 5 (PEM PCK chain) is supported",
                   (unsigned)type);
  if (size == 0) return err_set(e, ERR_PARSE, "quote: qe_cert_data.cert_data is empty");
  if (cur_take(c, size, &q->pck_chain_pem) != 0)
    return short_field(e, "qe_cert_data.cert_data.pck_chain", size, c);
  q->pck_chain_len = size;
  if (cur_left(c) != 0)
    return err_set(e, ERR_PARSE, "quote: qe_cert_data has %zu unexplained bytes after the PCK chain",
                   cur_left(c));
  return 0;
}

int attest_quote_parse(const uint8_t *p, size_t n, struct attest_quote *q, struct err *e) {
  memset(q, 0, sizeof(*q));
  if (n > ATTEST_QUOTE_MAX)
    return err_set(e, ERR_LIMIT, "quote: %zu bytes is over the %d-byte limit", n, ATTEST_QUOTE_MAX);
  if (n > 0 && p == NULL) return err_set(e, ERR_INVALID, "quote: no input");
  struct cursor c = {p ? p : (const uint8_t *)"", n, 0};

  /* Header (48 bytes). */
  uint8_t reserved[4];
  if (cur_u16(&c, &q->version) != 0) return short_field(e, "header.version", 2, &c);
  if (q->version != 4 && q->version != 5)
    return err_set(e, ERR_PARSE, "quote: header.version %u is not supported (4 or 5)",
                   (unsigned)q->version);
  if (cur_u16(&c, &q->att_key_type) != 0) return short_field(e, "header.att_key_type", 2, &c);
  if (q->att_key_type != ATTEST_ATT_KEY_ECDSA_P256)
    return err_set(e, ERR_PARSE, "quote: header.att_key_type %u is not ECDSA-P256 (2)",
                   (unsigned)q->att_key_type);
  if (cur_u32(&c, &q->tee_type) != 0) return short_field(e, "header.tee_type", 4, &c);
  if (q->tee_type != ATTEST_TEE_TYPE_TDX)
    return err_set(e, ERR_PARSE, "quote: header.tee_type 0x%x is not TDX (0x81)",
                   (unsigned)q->tee_type);
  TAKE(&c, reserved, sizeof(reserved), "header.reserved");
  TAKE(&c, q->qe_vendor_id, sizeof(q->qe_vendor_id), "header.qe_vendor_id");
  TAKE(&c, q->user_data, sizeof(q->user_data), "header.user_data");

  /* Body: v4 is a bare TD report 1.0; v5 prefixes a type and a size. */
  if (q->version == 4) {
    q->body_type = ATTEST_BODY_TD10;
    q->body_size = ATTEST_TD10_BODY_LEN;
  } else {
    if (cur_u16(&c, &q->body_type) != 0) return short_field(e, "body.type", 2, &c);
    if (cur_u32(&c, &q->body_size) != 0) return short_field(e, "body.size", 4, &c);
    if (q->body_type != ATTEST_BODY_TD10 && q->body_type != ATTEST_BODY_TD15)
      return err_set(e, ERR_PARSE, "quote: body.type %u is not a TD report (2 or 3)",
                     (unsigned)q->body_type);
    uint32_t want = q->body_type == ATTEST_BODY_TD15 ? ATTEST_TD15_BODY_LEN : ATTEST_TD10_BODY_LEN;
    if (q->body_size != want)
      return err_set(e, ERR_PARSE, "quote: body.size %u does not match body type %u (%u)",
                     (unsigned)q->body_size, (unsigned)q->body_type, (unsigned)want);
  }
  struct cursor body;
  if (cur_sub(&c, q->body_size, &body) != 0) return short_field(e, "body", q->body_size, &c);
  int rc = parse_td_report(&body, q->body_type == ATTEST_BODY_TD15, &q->td, e);
  if (rc != 0) return rc; /* cannot happen: body was sized for its type */
  q->signed_data = c.p;
  q->signed_len = c.pos;

  /* Signature data: signature, attestation key, certification data. */
  uint32_t sig_len;
  if (cur_u32(&c, &sig_len) != 0) return short_field(e, "signature_data.size", 4, &c);
  struct cursor sig;
  if (cur_sub(&c, sig_len, &sig) != 0) return short_field(e, "signature_data", sig_len, &c);
  TAKE(&sig, q->signature, ATTEST_ECDSA_SIG_LEN, "signature_data.quote_signature");
  TAKE(&sig, q->attest_key, ATTEST_ECDSA_KEY_LEN, "signature_data.attestation_key");
  uint16_t cert_type;
  uint32_t cert_size;
  if (cur_u16(&sig, &cert_type) != 0) return short_field(e, "signature_data.cert_data.type", 2, &sig);
  if (cur_u32(&sig, &cert_size) != 0) return short_field(e, "signature_data.cert_data.size", 4, &sig);
  if (cert_type != ATTEST_CERT_QE_REPORT)
    return err_set(e, ERR_PARSE,
                   "quote: signature_data.cert_data.type is %u, TDX quotes carry 6 (QE report)",
                   (unsigned)cert_type);
  struct cursor qe;
  if (cur_sub(&sig, cert_size, &qe) != 0)
    return short_field(e, "signature_data.cert_data", cert_size, &sig);
  rc = parse_qe_cert_data(&qe, q, e);
  if (rc != 0) return rc;
  if (cur_left(&sig) != 0)
    return err_set(e, ERR_PARSE, "quote: signature_data has %zu unexplained bytes", cur_left(&sig));

  q->quote_len = c.pos;
  q->trailing_len = cur_left(&c);
  return 0;
}

int attest_image_hash(const struct attest_td_report *td, uint8_t out[ATTEST_IMAGE_HASH_LEN]) {
  /* 8 registers of 48 bytes then 64 zero bytes: 448 bytes, as COCOON serializes them. */
  uint8_t in[8 * ATTEST_MR_LEN + 64];
  memset(in, 0, sizeof(in));
  memcpy(in, td->mrtd, ATTEST_MR_LEN);
  memcpy(in + 1 * ATTEST_MR_LEN, td->mrconfigid, ATTEST_MR_LEN);
  memcpy(in + 2 * ATTEST_MR_LEN, td->mrowner, ATTEST_MR_LEN);
  memcpy(in + 3 * ATTEST_MR_LEN, td->mrownerconfig, ATTEST_MR_LEN);
  for (int i = 0; i < 4; i++) memcpy(in + (size_t)(4 + i) * ATTEST_MR_LEN, td->rtmr[i], ATTEST_MR_LEN);
  unsigned int len = 0;
  if (EVP_Digest(in, sizeof(in), out, &len, EVP_sha256(), NULL) != 1 || len != ATTEST_IMAGE_HASH_LEN)
    return ERR_CRYPTO;
  return 0;
}
