/* fuzz_ratls: DER bytes as a peer's RA-TLS certificate: X.509 decoding, our extension checks
 * (critical OIDs, quote and user-claims extensions, Ed25519 key, self-signature) and the
 * fake_tdx policy on whatever quote it carries. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "attest/policy.h"
#include "base/log.h"
#include "net/ratls.h"

static struct attest_policy *fake_tdx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!fake_tdx) {
    log_set_level(LOG_ERROR); /* refusals are logged as warnings: noise at fuzzing speed */
    struct attest_policy_opts o = {.kind = ATTEST_POLICY_FAKE_TDX};
    struct err e = {0};
    if (attest_policy_new(&o, &fake_tdx, &e) != 0) __builtin_trap();
  }
  const unsigned char *p = data;
  X509 *cert = d2i_X509(NULL, &p, (long)size);
  if (!cert) {
    ERR_clear_error();
    return 0;
  }
  struct ratls_peer peer;
  struct err e = {0};
  memset(&peer, 0, sizeof(peer));
  if (ratls_verify_cert(cert, ratls_policy_any(), &peer, &e) != 0) {
    if (e.msg[0] == '\0') __builtin_trap(); /* every refusal says why */
  } else if (peer.quote || peer.user_claims) {
    __builtin_trap(); /* borrowed pointers must not outlive the call */
  }
  memset(&peer, 0, sizeof(peer));
  e = (struct err){0};
  if (ratls_verify_cert(cert, attest_policy_ratls(fake_tdx), &peer, &e) == 0) {
    if (!peer.attested) __builtin_trap(); /* fake_tdx accepts only a bound quote */
  } else if (e.msg[0] == '\0') {
    __builtin_trap();
  }
  X509_free(cert);
  ERR_clear_error();
  return 0;
}
