/* pck: the Intel SGX extension of a PCK certificate (FMSPC, PCE id, TCB component SVNs). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ATTEST_PCK_H
#define COCOON_ATTEST_PCK_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "base/err.h"

#define ATTEST_FMSPC_LEN 6
#define ATTEST_PCE_ID_LEN 2
#define ATTEST_TCB_COMPONENTS 16

/* What the TCB-status evaluation needs from the PCK certificate's extension
 * 1.2.840.113741.1.13.1 (the SGX extension). */
struct attest_pck_info {
  uint8_t fmspc[ATTEST_FMSPC_LEN];
  uint8_t pce_id[ATTEST_PCE_ID_LEN];
  uint8_t cpusvn[16];
  uint8_t comp_svn[ATTEST_TCB_COMPONENTS]; /* sgxtcbcomp01..16 */
  uint16_t pcesvn;
};

/* Parses the DER value of the SGX extension (a SEQUENCE of {OID, value}). Every length is
 * bounds-checked; FMSPC, PCE id, the 16 component SVNs and PCESVN are required.
 * ERR_PARSE naming the field on failure. */
CC_NODISCARD int attest_pck_ext_parse(const uint8_t *der, size_t len, struct attest_pck_info *out,
                                      struct err *e);

/* Finds the SGX extension in a PCK certificate and parses it. */
CC_NODISCARD int attest_pck_info_from_cert(X509 *cert, struct attest_pck_info *out, struct err *e);

/* The SGX extension's OID in dotted form. */
#define ATTEST_PCK_SGX_EXT_OID "1.2.840.113741.1.13.1"

#endif
