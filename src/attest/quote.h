/* quote: bounds-checked parser for Intel TDX DCAP quotes (v4, v5) and COCOON's image hash. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ATTEST_QUOTE_H
#define COCOON_ATTEST_QUOTE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Hard limits, stated once. COCOON's verifier caps a quote at 32 KiB; real quotes are ~5 KB
 * (some publishers pad them into 8000-byte buffers). */
#define ATTEST_QUOTE_MAX 32768
#define ATTEST_MR_LEN 48           /* SHA-384 measurement registers */
#define ATTEST_REPORT_DATA_LEN 64
#define ATTEST_QE_REPORT_LEN 384   /* SGX enclave report of the Quoting Enclave */
#define ATTEST_ECDSA_SIG_LEN 64    /* raw r || s, P-256 */
#define ATTEST_ECDSA_KEY_LEN 64    /* raw x || y, P-256 */
#define ATTEST_IMAGE_HASH_LEN 32

#define ATTEST_HEADER_LEN 48
#define ATTEST_TD10_BODY_LEN 584
#define ATTEST_TD15_BODY_LEN 648

/* Header constants. */
#define ATTEST_ATT_KEY_ECDSA_P256 2
#define ATTEST_TEE_TYPE_TDX 0x81u
/* Quote v5 body types (v4 TDX quotes always carry a TD report 1.0). */
#define ATTEST_BODY_TD10 2
#define ATTEST_BODY_TD15 3
/* Certification data types used by TDX quotes. */
#define ATTEST_CERT_PCK_CHAIN 5     /* PEM: PCK leaf, PCK CA, root */
#define ATTEST_CERT_QE_REPORT 6     /* QE report certification data, nesting a type 5 */

/* TD report (TDX module's TDREPORT body). Fields are bytes as stored in the quote. */
struct attest_td_report {
  uint8_t tee_tcb_svn[16];
  uint8_t mrseam[ATTEST_MR_LEN];
  uint8_t mrsignerseam[ATTEST_MR_LEN];
  uint8_t seam_attributes[8];
  uint8_t td_attributes[8];
  uint8_t xfam[8];
  uint8_t mrtd[ATTEST_MR_LEN];
  uint8_t mrconfigid[ATTEST_MR_LEN];
  uint8_t mrowner[ATTEST_MR_LEN];
  uint8_t mrownerconfig[ATTEST_MR_LEN];
  uint8_t rtmr[4][ATTEST_MR_LEN];
  uint8_t report_data[ATTEST_REPORT_DATA_LEN];
  /* TD report 1.5 only; all zero for a 1.0 body. */
  uint8_t tee_tcb_svn2[16];
  uint8_t mrservicetd[ATTEST_MR_LEN];
};

/* The fields of the QE's SGX report that later collateral checks (QE identity) need. */
struct attest_qe_report {
  uint8_t cpusvn[16];
  uint32_t miscselect;
  uint8_t attributes[16];
  uint8_t mrenclave[32];
  uint8_t mrsigner[32];
  uint16_t isv_prod_id;
  uint16_t isv_svn;
  uint8_t report_data[64];
};

/* A parsed quote. Fixed-size fields are copied; the pointer fields BORROW the input buffer
 * given to attest_quote_parse and are valid only while it lives. */
struct attest_quote {
  uint16_t version;              /* 4 or 5 */
  uint16_t att_key_type;         /* always ATTEST_ATT_KEY_ECDSA_P256 */
  uint32_t tee_type;             /* always ATTEST_TEE_TYPE_TDX */
  uint8_t qe_vendor_id[16];
  uint8_t user_data[20];
  uint16_t body_type;            /* ATTEST_BODY_TD10 or _TD15 (v4: TD10) */
  uint32_t body_size;            /* 584 or 648 */
  struct attest_td_report td;

  const uint8_t *signed_data;    /* header .. end of body: what the attestation key signed */
  size_t signed_len;

  uint8_t signature[ATTEST_ECDSA_SIG_LEN];  /* quote signature, raw r || s */
  uint8_t attest_key[ATTEST_ECDSA_KEY_LEN]; /* attestation public key, raw x || y */

  uint8_t qe_report_raw[ATTEST_QE_REPORT_LEN]; /* signed by the PCK key */
  struct attest_qe_report qe_report;
  uint8_t qe_report_sig[ATTEST_ECDSA_SIG_LEN];
  const uint8_t *qe_auth_data;
  size_t qe_auth_len;
  const uint8_t *pck_chain_pem;  /* type 5 certification data: PEM text, maybe NUL-padded */
  size_t pck_chain_len;

  size_t quote_len;              /* bytes the quote structure occupies */
  size_t trailing_len;           /* bytes after it in the input (ignored, not signed) */
};

/* Parses a TDX quote from p[0..n). Every length is checked against what remains; nested
 * structures must fill their declared sizes exactly. Bytes after the signature data are
 * allowed (real quotes ship with padding) and counted in trailing_len. On failure returns
 * ERR_PARSE or ERR_LIMIT and names the offending field in e. q borrows p (see above). */
CC_NODISCARD int attest_quote_parse(const uint8_t *p, size_t n, struct attest_quote *q,
                                    struct err *e);

/* COCOON's image hash: SHA-256(MRTD || MRCONFIGID || MROWNER || MROWNERCONFIG ||
 * RTMR0 || RTMR1 || RTMR2 || RTMR3 || 64 zero bytes). Returns ERR_CRYPTO only if OpenSSL fails. */
CC_NODISCARD int attest_image_hash(const struct attest_td_report *td, uint8_t out[ATTEST_IMAGE_HASH_LEN]);

#endif
