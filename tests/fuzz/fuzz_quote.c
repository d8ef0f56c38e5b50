/* fuzz_quote: parses bytes as a TDX quote and, when they parse, runs every verification check. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "attest/quote.h"
#include "attest/verify.h"

/* 2026-11-25 00:00:00 UTC, fixed so runs are reproducible. */
#define FUZZ_NOW 1795564800

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct attest_quote q;
  struct err e = {0};
  if (attest_quote_parse(data, size, &q, &e) != 0) {
    if (e.msg[0] == '\0') __builtin_trap(); /* every refusal names its field */
    return 0;
  }
  /* What parsed must lie inside the input. */
  if (q.quote_len + q.trailing_len != size || q.signed_len > q.quote_len ||
      q.pck_chain_pem < data || q.pck_chain_pem + q.pck_chain_len > data + q.quote_len ||
      (q.qe_auth_len && (q.qe_auth_data < data || q.qe_auth_data + q.qe_auth_len > data + size)))
    __builtin_trap();
  uint8_t image[ATTEST_IMAGE_HASH_LEN];
  if (attest_image_hash(&q.td, image) != 0) return 0;
  struct attest_verify_opts opts = {.now = FUZZ_NOW, .root_key = NULL, .collateral = NULL};
  struct attest_verify_result r;
  int rc = attest_quote_verify(&q, &opts, &r, &e);
  /* A pass needs every check; a refusal names a check. */
  int all = 1;
  for (int c = 0; c < ATTEST_CHECK_COUNT; c++) all &= r.passed[c];
  if ((rc == 0) != all) __builtin_trap();
  if (rc != 0 && e.msg[0] == '\0') __builtin_trap();
  return 0;
}
