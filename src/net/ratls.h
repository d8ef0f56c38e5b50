/* ratls: COCOON's RA-TLS certificates (self-signed Ed25519 + quote extension) and their check. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_NET_RATLS_H
#define COCOON_NET_RATLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "base/buf.h"
#include "base/err.h"

/* Certificate layout follows tee/cocoon/tdx.cpp generate_self_signed_cert: X.509 v3,
 * self-signed Ed25519, 128-bit random serial, subject = issuer
 * C=AE, ST=DUBAI, O=TDLib Development, OU=Security, CN=localhost, SAN DNS:localhost,
 * DNS:127.0.0.1, IP:::1, critical BasicConstraints CA:FALSE, critical KeyUsage
 * digitalSignature, critical EKU serverAuth+clientAuth, SKI, and optionally the two critical
 * OCTET STRING extensions below. */
#define RATLS_OID_QUOTE "1.3.6.1.4.1.12345.1"       /* raw TDX quote */
#define RATLS_OID_USER_CLAIMS "1.3.6.1.4.1.12345.2" /* raw 32-byte Ed25519 public key */
#define RATLS_MAX_EXT_SIZE ((size_t)32 << 10)        /* cap on either extension's bytes */
#define RATLS_PUBKEY_SIZE 32
#define RATLS_SEED_SIZE 32
#define RATLS_DEFAULT_VALIDITY_S 86400u
#define RATLS_MAX_VALIDITY_S (1u << 30)

/* ---- identity: our key + certificate ---- */

struct ratls_identity; /* opaque: EVP_PKEY + X509 */

struct ratls_cert_opts {
  const uint8_t *seed;    /* Ed25519 private key (RATLS_SEED_SIZE bytes); NULL: random. Borrowed. */
  const uint8_t *quote;   /* adds RATLS_OID_QUOTE when quote_len > 0. Borrowed. */
  size_t quote_len;
  int user_claims;        /* nonzero: adds RATLS_OID_USER_CLAIMS = our public key */
  uint32_t validity_s;    /* 0: RATLS_DEFAULT_VALIDITY_S */
  int64_t not_before;     /* unix seconds; 0: now */
};

/* Generates a key (or uses opts->seed) and a certificate. opts may be NULL. Caller frees. */
CC_NODISCARD int ratls_identity_generate(const struct ratls_cert_opts *opts,
                                         struct ratls_identity **out, struct err *e);
/* Writes PEM files: the key with mode 0600 (written to a temporary file, then renamed). */
CC_NODISCARD int ratls_identity_save(const struct ratls_identity *id, const char *cert_path,
                                     const char *key_path, struct err *e);
/* Loads the PEM certificate and the key file (base/keyfile.h: mode 0600, PEM or hex); the key must
 * be Ed25519 and match the certificate. Caller frees. */
CC_NODISCARD int ratls_identity_load(const char *cert_path, const char *key_path,
                                     struct ratls_identity **out, struct err *e);
void ratls_identity_free(struct ratls_identity *id);
/* Borrowed views, valid while id lives. */
X509 *ratls_identity_cert(const struct ratls_identity *id);
EVP_PKEY *ratls_identity_key(const struct ratls_identity *id);
const uint8_t *ratls_identity_public_key(const struct ratls_identity *id); /* 32 bytes */
/* Appends the certificate as PEM. */
CC_NODISCARD int ratls_identity_cert_pem(const struct ratls_identity *id, struct buf *out);

/* ---- verification ---- */

/* TDX measurements a policy may fill (all zero for `any`). */
struct ratls_measurements {
  uint8_t mr_td[48];
  uint8_t mr_config_id[48];
  uint8_t mr_owner[48];
  uint8_t mr_owner_config[48];
  uint8_t rtmr[4][48];
  uint8_t reportdata[64];
  uint8_t collateral_root_hash[48];
};

/* What the peer's certificate says. quote and user_claims borrow from the certificate and are
 * valid only during validate_cb (they are NULL afterwards); everything else is kept. */
struct ratls_peer {
  uint8_t public_key[RATLS_PUBKEY_SIZE];
  const uint8_t *quote; /* NULL when the certificate has no quote */
  size_t quote_len;
  const uint8_t *user_claims; /* read but, as upstream, not trusted: the key comes from the cert */
  size_t user_claims_len;
  /* Filled by attestation policies: */
  int attested;          /* 1 when a quote was verified */
  uint8_t image_hash[32];
  struct ratls_measurements m;
};

/* The policy seam. validate_cb sees the checked certificate facts and returns 0 to accept or a
 * negative code with e filled to refuse; it may fill the attestation fields of peer. The
 * policy is borrowed by every TLS context using it and must outlive them. */
struct ratls_policy {
  const char *name;
  int (*validate_cb)(struct ratls_policy *policy, struct ratls_peer *peer, struct err *e);
  void *data;
};

/* `any`: no quote required, no measurement checked (upstream DefaultPolicy without TDX). */
struct ratls_policy *ratls_policy_any(void);

/* Outcome of a peer check; ok is 1 only after a certificate passed OpenSSL's checks, ours and
 * the policy. */
struct ratls_result {
  int ok;
  const char *policy_name; /* borrowed from the policy */
  struct ratls_peer peer;
  struct err err; /* why it failed, when it did */
};

/* Our checks on one certificate (no chain or time checks; see ratls_verify_x509): critical
 * extensions other than standard ones and the two OIDs refused, either OID present at most
 * once and at most RATLS_MAX_EXT_SIZE bytes, Ed25519 key, signature by its own key; then the
 * policy. Fills peer (quote pointers cleared before return). */
CC_NODISCARD int ratls_verify_cert(X509 *cert, struct ratls_policy *policy,
                                   struct ratls_peer *peer, struct err *e);

/* OpenSSL verify callback: accepts only X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT and
 * X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION at depth 0, then runs ratls_verify_cert on the leaf
 * and records the outcome in the result attached to the SSL (ratls_ssl_attach). Refuses when
 * nothing is attached. */
int ratls_verify_cb(int preverify_ok, X509_STORE_CTX *ctx);
/* Binds policy and result (both borrowed for the SSL's life) to ssl; zeroes result. */
CC_NODISCARD int ratls_ssl_attach(SSL *ssl, struct ratls_policy *policy,
                                  struct ratls_result *result);
/* Runs OpenSSL's own verification of a lone certificate through ratls_verify_cb, as the TLS
 * handshake would (validity period, self-signature, critical extensions). For tools and tests.
 * Returns 0 when accepted. */
CC_NODISCARD int ratls_verify_x509(X509 *cert, struct ratls_policy *policy,
                                   struct ratls_result *result);

#endif
