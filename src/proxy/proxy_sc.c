/* proxy_sc: announced contract addresses (COCOON BaseRunner::generate_*_sc_address). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "proxy/proxy_sc.h"

#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "chain/cocoon_sc.h"

/* COCOON announces addresses with rserialize(true): friendly and URL-safe. It derives them
 * non-bounceable on mainnet (TonScWrapper::generate_address) and compares the flags too, so that
 * is the form it must read back. */
static int to_text(const struct ton_addr *a, char *out, struct err *e) {
  if (ton_addr_to_friendly(a, 0, 0, 1, out, PROXY_SC_ADDR_MAX + 1))
    return err_set(e, ERR_INVALID, "address has no friendly form");
  return 0;
}

int proxy_sc_init(struct proxy_sc *s, const char *fake_ton_path, const char *root_addr, const char *owner,
                  const uint8_t key[32], struct err *e) {
  memset(s, 0, sizeof(*s));
  memcpy(s->key, key, 32);
  if (!fake_ton_path || !fake_ton_path[0]) {
    if (strlen(owner) > PROXY_SC_ADDR_MAX) return err_set(e, ERR_LIMIT, "owner_address is too long");
    snprintf(s->self_str, sizeof(s->self_str), "%s", owner);
    return 0;
  }
  struct err ae = {0};
  if (!root_addr || !root_addr[0])
    return err_set(e, ERR_INVALID,
                   "fake_ton_config needs root_contract_address (the root address COCOON's runners are given)");
  if (ton_addr_parse(root_addr, &s->root, NULL, &ae))
    return err_set(e, ERR_INVALID, "root_contract_address: %s", ae.msg);
  if (ton_addr_parse(owner, &s->owner, NULL, &ae))
    return err_set(e, ERR_INVALID, "owner_address: %s (fake_ton_config derives contracts from it)", ae.msg);
  int rc = chain_fake_ton_load(fake_ton_path, &s->fake, e);
  if (!rc) rc = chain_proxy_sc_address_of(&s->fake.sc, &s->root, s->key, &s->owner, &s->self, e);
  if (!rc) rc = to_text(&s->self, s->self_str, e);
  if (rc) {
    proxy_sc_clear(s);
    return rc;
  }
  s->derive = 1;
  return 0;
}

void proxy_sc_clear(struct proxy_sc *s) {
  if (!s) return;
  chain_fake_ton_clear(&s->fake);
  memset(s, 0, sizeof(*s));
}

static int derive(const struct proxy_sc *s, int worker, const struct ton_addr *owner, struct ton_addr *out,
                  struct err *e) {
  return worker ? chain_worker_sc_address_of(&s->fake.sc, &s->self, s->key, owner, out, e)
                : chain_client_sc_address_of(&s->fake.sc, &s->self, s->key, owner, out, e);
}

int proxy_sc_peer(const struct proxy_sc *s, int worker, const uint8_t *owner, size_t n, char *out, struct err *e) {
  if (n > PROXY_SC_ADDR_MAX) return err_set(e, ERR_LIMIT, "owner address longer than %d bytes", PROXY_SC_ADDR_MAX);
  char text[PROXY_SC_ADDR_MAX + 1];
  memcpy(text, owner, n);
  text[n] = 0;
  if (!s->derive) {
    memcpy(out, text, n + 1);
    return 0;
  }
  struct ton_addr sc;
  int rc = proxy_sc_target(s, worker, text, &sc, e);
  if (!rc) rc = to_text(&sc, out, e);
  return rc;
}

int proxy_sc_target(const struct proxy_sc *s, int worker, const char *owner, struct ton_addr *out, struct err *e) {
  struct ton_addr o;
  struct err ae = {0};
  if (ton_addr_parse(owner, s->derive ? &o : out, NULL, &ae))
    return err_set(e, ERR_INVALID, "owner address: %s", ae.msg);
  return s->derive ? derive(s, worker, &o, out, e) : 0;
}
