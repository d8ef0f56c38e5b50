/* fuzz_simquote: the simulated-TEE quote parser and verifier on arbitrary bytes. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "attest/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct attest_sim_quote q;
  struct err e;
  int parsed = attest_sim_quote_parse(data, size, &q, &e);
  /* Anything but the exact quote size must be refused. */
  if (parsed == 0 && size != ATTEST_SIM_QUOTE_LEN) __builtin_trap();
  /* A fixed pinned key: verification must fail cleanly (never crash) for any input. */
  uint8_t key[ATTEST_SIM_KEY_LEN];
  memset(key, 0x5a, sizeof(key));
  if (attest_sim_quote_verify(data, size, key, &q, &e) == 0) __builtin_trap();
  return 0;
}
