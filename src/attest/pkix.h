/* pkix: P-256 keys, raw ECDSA signatures, PEM chains and X.509 path checks for attestation. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ATTEST_PKIX_H
#define COCOON_ATTEST_PKIX_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest/quote.h"

/* A P-256 public key from raw x || y; NULL when the bytes are not a point on the curve. */
EVP_PKEY *attest_pkix_p256_from_raw(const uint8_t xy[ATTEST_ECDSA_KEY_LEN]);

/* Raw x || y of a P-256 key; -1 when the key is not P-256. */
int attest_pkix_p256_raw_of(const EVP_PKEY *key, uint8_t xy[ATTEST_ECDSA_KEY_LEN]);

/* ECDSA-P256-SHA256 verification of a raw r || s signature: 1 valid, 0 not. */
int attest_pkix_ecdsa_verify_raw(EVP_PKEY *key, const uint8_t *msg, size_t len,
                                 const uint8_t sig[ATTEST_ECDSA_SIG_LEN]);

/* Reads up to `max` PEM certificates (at most `len` bytes, ATTEST_QUOTE_MAX) into certs.
 * Returns the count, or -1 with why set and nothing left to free. */
int attest_pkix_read_pem(const uint8_t *pem, size_t len, X509 **certs, int max, char *why,
                         size_t whysz);

/* Verifies that certs[0] (not a CA) chains to the certificate of `chain` whose key is
 * root_key (x||y), the only trust anchor, under X.509 strict rules; dates are not checked.
 * 0 on success, -1 with why set. */
int attest_pkix_verify_path(X509 **certs, int n, const uint8_t root_key[ATTEST_ECDSA_KEY_LEN],
                            char *why, size_t whysz);

/* Every certificate valid at `now`; fills the latest notBefore and earliest notAfter.
 * 0 on success, -1 with why set. */
int attest_pkix_check_dates(X509 **certs, int n, int64_t now, int64_t *not_before,
                            int64_t *not_after, char *why, size_t whysz);

/* ASN.1 time -> Unix seconds; -1 on failure. */
int attest_pkix_asn1_time(const ASN1_TIME *t, int64_t *out);

/* "CN=..." of a certificate's subject, for messages. */
void attest_pkix_cn(X509 *c, char *out, size_t outsz);

/* "YYYY-MM-DD HH:MM:SS UTC" */
void attest_pkix_fmt_time(int64_t t, char *out, size_t outsz);

#endif
