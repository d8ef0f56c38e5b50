/* verify: signature and PCK-chain verification of parsed TDX quotes against a pinned root key. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ATTEST_VERIFY_H
#define COCOON_ATTEST_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "attest/quote.h"
#include "base/err.h"

/* Most certificates accepted in the PEM PCK chain (Intel ships 3: PCK leaf, PCK CA, root). */
#define ATTEST_PCK_CHAIN_MAX 4

/* The Intel SGX Root CA public key (P-256, raw x || y), pinned by key rather than by name:
 * Intel's test roots share its subject name. The default trust anchor. */
extern const uint8_t attest_intel_sgx_root_key[ATTEST_ECDSA_KEY_LEN];

/* The checks, in the order they are reported. Each is evaluated independently, so a result
 * shows every failure, not only the first. */
enum attest_check {
  ATTEST_CHECK_QUOTE_SIG,     /* quote signature over header||body, attestation key */
  ATTEST_CHECK_QE_REPORT_SIG, /* QE report signature, PCK leaf certificate key */
  ATTEST_CHECK_QE_BINDING,    /* QE report data = SHA-256(attestation key||QE auth data)||0^32 */
  ATTEST_CHECK_PCK_CHAIN,     /* PCK chain signatures up to the pinned root key */
  ATTEST_CHECK_CERT_DATES,    /* every chain certificate valid at opts->now */
  ATTEST_CHECK_COLLATERAL,    /* collateral authentic, current and for this platform (when given) */
  ATTEST_CHECK_COUNT
};

/* Stable check name for output and errors, e.g. "quote_signature". */
const char *attest_check_name(enum attest_check c);

/* Collateral for the TCB-status step: Intel's signed TCB info and QE identity (JSON, as PCS
 * or a PCCS serves them), the issuer chain of their signing certificate (PEM), and the CRLs of
 * the root CA and the PCK CA (DER). All borrowed. See attest/collateral.h. */
struct attest_collateral {
  const char *tcb_info_json;
  size_t tcb_info_len;
  const char *qe_identity_json;
  size_t qe_identity_len;
  const char *tcb_signing_chain_pem;
  size_t tcb_signing_chain_len;
  const uint8_t *root_ca_crl_der;
  size_t root_ca_crl_len;
  const uint8_t *pck_crl_der;
  size_t pck_crl_len;
};

/* The platform's TCB status, as Intel names them. */
enum attest_tcb_status {
  ATTEST_TCB_NOT_EVALUATED = 0, /* no collateral given: platform TCB level unknown */
  ATTEST_TCB_UP_TO_DATE,
  ATTEST_TCB_SW_HARDENING_NEEDED,
  ATTEST_TCB_CONFIGURATION_NEEDED,
  ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
  ATTEST_TCB_OUT_OF_DATE,
  ATTEST_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
  ATTEST_TCB_REVOKED,
};

/* SHA-384 of the root key as an uncompressed point (0x04 || x || y): DCAP's root_key_id,
 * which COCOON calls the collateral root hash. */
#define ATTEST_COLLATERAL_ROOT_HASH_LEN 48

struct attest_verify_opts {
  int64_t now;                   /* Unix seconds at which certificate dates are checked */
  const uint8_t *root_key;       /* trusted root P-256 key (x||y, 64 bytes, borrowed);
                                  * NULL = attest_intel_sgx_root_key. Tests pass their own. */
  const struct attest_collateral *collateral; /* NULL: TCB status not evaluated */
};

struct attest_verify_result {
  int passed[ATTEST_CHECK_COUNT];   /* 1 when the check passed */
  char detail[ATTEST_CHECK_COUNT][200]; /* why it failed ("" when it passed) */
  size_t chain_certs;               /* certificates read from the PEM chain */
  int64_t certs_not_before;         /* latest notBefore over the chain (Unix seconds) */
  int64_t certs_not_after;          /* earliest notAfter: the verdict's natural expiry */
  enum attest_tcb_status tcb_status;  /* with collateral: the converged status */
  int collateral_given;
  int64_t collateral_expires;         /* earliest nextUpdate over the collateral */
  uint8_t collateral_root_hash[ATTEST_COLLATERAL_ROOT_HASH_LEN]; /* of the root the chain ends in */
};

/* Runs every check on q and fills r. Returns 0 only when all checks pass; otherwise
 * ERR_REFUSED, with e naming the first failed check ("pck_chain: ..."); ERR_INVALID for bad
 * options. Borrows q, opts. */
CC_NODISCARD int attest_quote_verify(const struct attest_quote *q,
                                     const struct attest_verify_opts *opts,
                                     struct attest_verify_result *r, struct err *e);

#endif
