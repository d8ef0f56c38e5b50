/* fuzz_faketon: parses fuzz input as COCOON's fake-TON root configuration (chain/fake_ton); a
 * refusal must say why, and what parses must give derivable contract addresses. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chain/cocoon_sc.h"
#include "chain/fake_ton.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct chain_fake_ton f;
  struct err e = {0};
  if (size > CHAIN_FAKE_TON_MAX_FILE) return 0;
  if (chain_fake_ton_parse((const char *)data, size, &f, &e) != 0) {
    if (!e.msg[0] || f.sc.proxy_code) abort(); /* every refusal says why and keeps nothing */
    return 0;
  }
  if (!f.sc.proxy_code || !f.sc.worker_code || !f.sc.client_code || !f.sc.proxy_params || !f.sc.params_nocode) abort();
  uint8_t key[32];
  memset(key, 7, sizeof(key));
  struct ton_addr owner = {.wc = 0}, proxy, peer;
  memset(owner.hash, 1, sizeof(owner.hash));
  if (chain_proxy_sc_address_of(&f.sc, &owner, key, &owner, &proxy, &e) ||
      chain_worker_sc_address_of(&f.sc, &proxy, key, &owner, &peer, &e) ||
      chain_client_sc_address_of(&f.sc, &proxy, key, &owner, &peer, &e))
    abort();
  chain_fake_ton_clear(&f);
  return 0;
}
