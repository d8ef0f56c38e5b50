/* sim: the simulated TEE's quote format and its platform key (development and CI only). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ATTEST_SIM_H
#define COCOON_ATTEST_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "attest/quote.h"
#include "base/err.h"

/* A sim quote, version 1, is exactly ATTEST_SIM_QUOTE_LEN bytes (integers little-endian):
 *   magic "COCOSIMQ" (8) | version u16 = 1 | reserved u16 = 0 | platform public key (32) |
 *   MRTD | MRCONFIGID | MROWNER | MROWNERCONFIG | RTMR0 | RTMR1 | RTMR2 | RTMR3 (8 x 48) |
 *   report data (64) | Ed25519 signature of every byte before it by the platform key (64).
 * The magic cannot start a TDX quote (whose first u16 is its version, 4 or 5), so a sim quote
 * never parses as TDX and the other way round. The embedded key only lets a verifier say which
 * platform signed; trust comes from the key the verifier pins. */
#define ATTEST_SIM_MAGIC "COCOSIMQ"
#define ATTEST_SIM_MAGIC_LEN 8
#define ATTEST_SIM_VERSION 1
#define ATTEST_SIM_KEY_LEN 32
#define ATTEST_SIM_SIG_LEN 64
#define ATTEST_SIM_SIGNED_LEN (ATTEST_SIM_MAGIC_LEN + 2 + 2 + ATTEST_SIM_KEY_LEN + 8 * ATTEST_MR_LEN + \
                               ATTEST_REPORT_DATA_LEN)
#define ATTEST_SIM_QUOTE_LEN (ATTEST_SIM_SIGNED_LEN + ATTEST_SIM_SIG_LEN)

/* A parsed sim quote. Only the measurement fields and report data of td are set. */
struct attest_sim_quote {
  uint16_t version;
  uint8_t platform_key[ATTEST_SIM_KEY_LEN];
  struct attest_td_report td;
  uint8_t signature[ATTEST_SIM_SIG_LEN];
};

/* The simulated platform's Ed25519 signing key. */
struct attest_sim_platform;

/* Loads the key file at path (base/keyfile.h: PEM or 64 hex digits, mode 0600); when the file
 * is missing and create is nonzero, generates one and writes it as PEM with mode 0600
 * (atomically: concurrent starters end up with the same key). Caller frees. */
CC_NODISCARD int attest_sim_platform_load(const char *path, int create,
                                          struct attest_sim_platform **out, struct err *e);
/* A fresh in-memory platform (tests). Caller frees. */
CC_NODISCARD int attest_sim_platform_generate(struct attest_sim_platform **out, struct err *e);
void attest_sim_platform_free(struct attest_sim_platform *p); /* NULL-safe */
/* The 32-byte public key verifiers pin (borrowed from p). */
const uint8_t *attest_sim_platform_pubkey(const struct attest_sim_platform *p);

/* Builds and signs a quote over td's measurement fields and report data. */
CC_NODISCARD int attest_sim_quote_build(const struct attest_sim_platform *p,
                                        const struct attest_td_report *td,
                                        uint8_t out[ATTEST_SIM_QUOTE_LEN], struct err *e);
/* Parses (exact length, magic, version, reserved zero) without checking the signature. */
CC_NODISCARD int attest_sim_quote_parse(const uint8_t *p, size_t n, struct attest_sim_quote *q,
                                        struct err *e);
/* Parses and checks the signature with the pinned platform key (32 bytes). ERR_PARSE for a
 * malformed quote, ERR_REFUSED for another platform's quote or a bad signature. */
CC_NODISCARD int attest_sim_quote_verify(const uint8_t *p, size_t n,
                                         const uint8_t pinned_key[ATTEST_SIM_KEY_LEN],
                                         struct attest_sim_quote *q, struct err *e);

#endif
