/* collateral: Intel's TCB info, QE identity and CRLs, and the TDX TCB-status evaluation. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ATTEST_COLLATERAL_H
#define COCOON_ATTEST_COLLATERAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "attest/pck.h"
#include "attest/quote.h"
#include "attest/verify.h"
#include "base/err.h"

#define ATTEST_COLLATERAL_JSON_MAX (256 * 1024) /* a TCB info is ~8 KB; QE identity ~1 KB */
#define ATTEST_TCB_LEVELS_MAX 64
#define ATTEST_MODULE_IDS_MAX 8

/* One tcbLevels entry of a TDX TCB info. */
struct attest_tcb_level {
  uint8_t sgx_svn[ATTEST_TCB_COMPONENTS];
  uint8_t tdx_svn[ATTEST_TCB_COMPONENTS];
  uint16_t pcesvn;
  enum attest_tcb_status status;
  int64_t tcb_date;
};

/* An isvsvn-keyed level (QE identity, TDX module identity). */
struct attest_isv_level {
  uint16_t isvsvn;
  enum attest_tcb_status status;
};

struct attest_module_identity {
  uint8_t major; /* from the id "TDX_XX" */
  uint8_t mrsigner[ATTEST_MR_LEN];
  uint8_t attributes[8], attributes_mask[8];
  struct attest_isv_level levels[ATTEST_TCB_LEVELS_MAX];
  size_t n_levels;
};

/* The signed content of a TCB info (id "TDX", version 3). */
struct attest_tcb_info {
  int64_t issue_date, next_update;
  uint32_t eval_number;
  uint8_t fmspc[ATTEST_FMSPC_LEN];
  uint8_t pce_id[ATTEST_PCE_ID_LEN];
  int has_module;
  uint8_t module_mrsigner[ATTEST_MR_LEN];
  uint8_t module_attributes[8], module_attributes_mask[8];
  struct attest_module_identity modules[ATTEST_MODULE_IDS_MAX];
  size_t n_modules;
  struct attest_tcb_level levels[ATTEST_TCB_LEVELS_MAX];
  size_t n_levels;
  uint8_t signature[ATTEST_ECDSA_SIG_LEN];
  const char *signed_part; /* borrowed: the exact bytes of the "tcbInfo" value */
  size_t signed_len;
};

/* The signed content of a QE identity (id "TD_QE", version 2). */
struct attest_qe_identity {
  int64_t issue_date, next_update;
  uint32_t eval_number;
  uint32_t miscselect, miscselect_mask;
  uint8_t attributes[16], attributes_mask[16];
  uint8_t mrsigner[32];
  uint16_t isvprodid;
  struct attest_isv_level levels[ATTEST_TCB_LEVELS_MAX];
  size_t n_levels;
  uint8_t signature[ATTEST_ECDSA_SIG_LEN];
  const char *signed_part;
  size_t signed_len;
};

/* Parse Intel's JSON documents ({"tcbInfo":{...},"signature":"hex"} and
 * {"enclaveIdentity":{...},"signature":"hex"}). The signature is not checked here; the signed
 * part is located byte-exactly. ERR_PARSE naming the field on failure. */
CC_NODISCARD int attest_tcb_info_parse(const char *json, size_t len, struct attest_tcb_info *out,
                                       struct err *e);
CC_NODISCARD int attest_qe_identity_parse(const char *json, size_t len,
                                          struct attest_qe_identity *out, struct err *e);

/* "UpToDate", "SWHardeningNeeded", ... <-> enum; names as Intel spells them. */
const char *attest_tcb_status_name(enum attest_tcb_status s);
CC_NODISCARD int attest_tcb_status_parse(const char *s, enum attest_tcb_status *out);

/* What the evaluation found. */
struct attest_collateral_result {
  enum attest_tcb_status status;       /* converged platform + QE + TDX module status */
  enum attest_tcb_status platform_status, qe_status, module_status;
  int64_t tcb_date;                    /* of the matched platform level */
  int64_t expires;                     /* earliest nextUpdate over the collateral */
  uint32_t eval_number;
};

/* Verifies the collateral and evaluates the platform's TCB status for quote q whose PCK chain
 * is certs[0..n) (leaf, PCK CA, root; already verified to root_key):
 *   - TCB info and QE identity signatures by the TCB signing certificate, which chains to
 *     root_key; their issue/next-update dates at `now`; FMSPC and PCE id equal the PCK's;
 *   - root CA CRL signed by the root, PCK CRL signed by the PCK CA, both current; neither the
 *     PCK CA, the PCK leaf nor the TCB signing certificate revoked (status REVOKED);
 *   - QE identity matches the QE report (MRSIGNER, ISVPRODID, masked MISCSELECT/attributes);
 *   - TDX module identity matches MRSIGNERSEAM and SEAM attributes;
 *   - the platform's TCB level: the first level whose SGX components and PCESVN (from the PCK
 *     certificate) and TDX components (TEE_TCB_SVN) are all at least the level's.
 * Returns 0 with r filled (the status may be anything, REVOKED included: the policy decides);
 * ERR_REFUSED with e naming the failed step when the collateral is not authentic, not current,
 * not for this platform, or no level matches. */
CC_NODISCARD int attest_collateral_evaluate(const struct attest_quote *q, X509 **certs, int n,
                                            const struct attest_collateral *c,
                                            const uint8_t root_key[ATTEST_ECDSA_KEY_LEN],
                                            int64_t now, struct attest_collateral_result *r,
                                            struct err *e);

#endif

/* ---- collateral on disk -------------------------------------------------------------------- */

/* The file names inside a collateral directory (what `cocoon attest fetch-collateral` writes). */
#define ATTEST_COLLATERAL_TCB_INFO "tcb_info.json"
#define ATTEST_COLLATERAL_QE_IDENTITY "qe_identity.json"
#define ATTEST_COLLATERAL_SIGNING_CHAIN "tcb_signing_chain.pem"
#define ATTEST_COLLATERAL_ROOT_CRL "root_ca_crl.der"
#define ATTEST_COLLATERAL_PCK_CRL "pck_crl.der"

/* Owned buffers of a loaded collateral directory; `c` points into them. */
struct attest_collateral_files {
  struct attest_collateral c;
  char *bufs[5];
};

/* Loads the five files of `dir`. CRLs may be DER, PEM or hex text (PCCS serves hex); they are
 * stored as DER. Each file at most ATTEST_COLLATERAL_JSON_MAX bytes. Errors name the file. */
CC_NODISCARD int attest_collateral_load_dir(const char *dir, struct attest_collateral_files *out,
                                            struct err *e);

/* The same for one platform: `tcb_info_<fmspc hex>.json` when present (a directory may hold
 * the TCB infos of several platforms), else `tcb_info.json`. fmspc may be NULL. */
CC_NODISCARD int attest_collateral_load_for(const char *dir, const uint8_t *fmspc,
                                            struct attest_collateral_files *out, struct err *e);

/* FMSPC, PCE id and SVNs from the PCK leaf certificate of a parsed quote's chain. */
CC_NODISCARD int attest_quote_pck_info(const struct attest_quote *q, struct attest_pck_info *out,
                                       struct err *e);
void attest_collateral_files_free(struct attest_collateral_files *f);

/* CRL bytes in any of DER, PEM ("-----BEGIN X509 CRL-----") or hex text -> malloc'd DER. */
CC_NODISCARD int attest_crl_to_der(const uint8_t *in, size_t len, uint8_t **der, size_t *der_len,
                                   struct err *e);
