/* policy: RA-TLS peer policies (any, fake_tdx, tdx, sim) with allowlists and a verdict cache. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ATTEST_POLICY_H
#define COCOON_ATTEST_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "attest/quote.h"
#include "attest/sim.h"
#include "attest/verify.h"
#include "base/err.h"
#include "net/ratls.h" /* struct ratls_policy / ratls_peer: types only, attest does not link net */

#define ATTEST_RTMR_SET_LEN (4 * ATTEST_MR_LEN) /* RTMR0..3, one allowlist entry */
#define ATTEST_ALLOWLIST_MAX 256             /* entries of each allowlist */
#define ATTEST_CACHE_DEFAULT_TTL_S 600u      /* a verified quote is trusted this long */
#define ATTEST_CACHE_DEFAULT_MAX 1024u       /* cached verdicts (tdx, sim) */
#define ATTEST_CACHE_MAX 65536u

enum attest_policy_kind {
  ATTEST_POLICY_ANY = 0, /* no quote needed (allowlists refused, as in COCOON) */
  ATTEST_POLICY_FAKE_TDX, /* quote = SHA-512(peer key), measurements zero */
  ATTEST_POLICY_TDX,      /* DCAP-verified TDX quote (pinned Intel root) */
  ATTEST_POLICY_SIM,      /* sim quote signed by the pinned sim platform key */
};

/* "any", "fake_tdx", "tdx", "sim" <-> kind. */
CC_NODISCARD int attest_policy_kind_parse(const char *s, enum attest_policy_kind *out, struct err *e);
const char *attest_policy_kind_name(enum attest_policy_kind k);

struct attest_policy_opts {
  enum attest_policy_kind kind;
  /* Allowlists (copied); empty = any. At most ATTEST_ALLOWLIST_MAX entries each. */
  const uint8_t (*image_hashes)[ATTEST_IMAGE_HASH_LEN];
  size_t n_image_hashes;
  const uint8_t (*mrtds)[ATTEST_MR_LEN];
  size_t n_mrtds;
  /* RTMR sets: RTMR0..3 concatenated (COCOON's allowed_rtmr: all four must match one entry). */
  const uint8_t (*rtmr_sets)[ATTEST_RTMR_SET_LEN];
  size_t n_rtmr_sets;
  /* Collateral roots (DCAP root key ids, SHA-384 of the root key): a tdx peer's chain must end in
   * one of them. Only policy tdx has a collateral root; other kinds refuse a non-empty list. */
  const uint8_t (*collateral_roots)[ATTEST_COLLATERAL_ROOT_HASH_LEN];
  size_t n_collateral_roots;
  const uint8_t *sim_platform_key; /* sim: the trusted platform public key (32 bytes, copied) */
  const uint8_t *tdx_root_key;     /* tdx: root P-256 x||y (copied); NULL: Intel's (tests only) */
  /* tdx: a collateral directory (attest/collateral.h; copied). When set, every uncached quote
   * is checked against it and its TCB status must be UpToDate or in tdx_allow_tcb; NULL: the
   * TCB status is not evaluated. */
  const char *tdx_collateral_dir;
  uint32_t tdx_allow_tcb; /* bit (1u << status) per enum attest_tcb_status accepted besides
                           * UpToDate; Revoked is never accepted */
  uint32_t cache_ttl_s;            /* 0: ATTEST_CACHE_DEFAULT_TTL_S */
  size_t cache_max;                /* 0: ATTEST_CACHE_DEFAULT_MAX */
  /* Unix seconds for certificate dates and cache expiry; NULL: the wall clock (tests set it). */
  int64_t (*clock_cb)(void *arg);
  void *clock_arg;
};

struct attest_policy_stats {
  uint64_t accepted, refused;
  uint64_t cache_hits, cache_misses;
  size_t cache_entries;
};

/* Owns a struct ratls_policy (attest_policy_ratls) whose validate_cb runs attest_policy_check
 * on the peer's quote and key; it is thread-safe (the cache has a lock). Caller frees, after
 * every TLS context using it. */
struct attest_policy;

CC_NODISCARD int attest_policy_new(const struct attest_policy_opts *opts, struct attest_policy **out,
                                   struct err *e);
void attest_policy_free(struct attest_policy *p); /* NULL-safe */
struct ratls_policy *attest_policy_ratls(struct attest_policy *p); /* borrowed from p */
enum attest_policy_kind attest_policy_kind(const struct attest_policy *p);
void attest_policy_get_stats(struct attest_policy *p, struct attest_policy_stats *s);

/* Replaces the registry's allowlist of image hashes for the peers this policy checks (copied;
 * thread-safe, takes effect on the next handshake). While set, a peer's image hash must be in
 * it even when the list is empty; label names it in refusals ("registry v3 worker images").
 * ERR_INVALID for policy any (it sees no image hash), ERR_LIMIT above ATTEST_ALLOWLIST_MAX. */
CC_NODISCARD int attest_policy_set_registry(struct attest_policy *p, const uint8_t (*hashes)[ATTEST_IMAGE_HASH_LEN],
                                            size_t n, const char *label, struct err *e);

/* The whole check for one peer: quote (NULL/0 when the certificate has none) and the peer's
 * raw Ed25519 key. On success fills peer->attested, image_hash and m (the rest of peer is left
 * alone). Refusals are ERR_REFUSED (or ERR_PARSE for a malformed quote) with e saying why:
 * "no quote", "report data does not match the certificate key", "image hash <hex> not in
 * allowlist", "MRTD <hex> not in allowlist", "image hash <hex> not in <registry label>", or the verifier's message. */
CC_NODISCARD int attest_policy_check(struct attest_policy *p, const uint8_t *quote, size_t quote_len,
                                     const uint8_t pubkey[32], struct ratls_peer *peer, struct err *e);

#endif
