/* root_registry: the registry (registry/registry.h) as the COCOON root contract's data cell, and
 * the root contract's state back as a registry. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "chain/root_registry.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ton/dict.h"

_Static_assert(REGISTRY_MAX_HASHES <= CHAIN_ROOT_MAX_HASHES, "a registry list must fit the root's");
_Static_assert(REGISTRY_MAX_PROXIES <= CHAIN_ROOT_MAX_PROXIES, "the registry's proxies must fit the root's");

void chain_root_build_opts_init(struct chain_root_build_opts *o, const struct ton_addr *owner) {
  memset(o, 0, sizeof(*o));
  o->owner = *owner;
  o->params_version = 1;
  o->unique_id = 1;
  o->is_test = 1;
}

/* struct_version 3 params (chain/root.c reads them back; contracts/build.cjs paramsCell). */
static int params_cell(const struct registry_params *p, const struct chain_root_build_opts *o, struct ton_cell **out,
                       struct err *e) {
  struct ton_builder b;
  ton_builder_init(&b);
  int rc = ton_builder_store_uint(&b, 3, 8);
  if (!rc) rc = ton_builder_store_uint(&b, o->params_version, 32);
  if (!rc) rc = ton_builder_store_uint(&b, o->unique_id, 32);
  if (!rc) rc = ton_builder_store_bit(&b, o->is_test ? 1 : 0);
  if (!rc) rc = ton_builder_store_coins(&b, (uint64_t)p->price_per_token);
  if (!rc) rc = ton_builder_store_coins(&b, (uint64_t)p->worker_fee_per_token);
  const uint32_t u32[6] = {p->prompt_mult, p->cached_mult, p->completion_mult, p->reasoning_mult,
                           p->proxy_delay_before_close, p->client_delay_before_close};
  for (size_t i = 0; i < 6 && !rc; i++) rc = ton_builder_store_uint(&b, u32[i], 32);
  if (!rc) rc = ton_builder_store_coins(&b, (uint64_t)p->min_proxy_stake);
  if (!rc) rc = ton_builder_store_coins(&b, (uint64_t)p->min_client_stake);
  if (!rc) rc = ton_builder_store_maybe_ref(&b, o->proxy_code);
  if (!rc) rc = ton_builder_store_maybe_ref(&b, o->worker_code);
  if (!rc) rc = ton_builder_store_maybe_ref(&b, o->client_code);
  if (rc) {
    ton_builder_clear(&b);
    return err_set(e, rc, "root params: the parameters do not fit a cell");
  }
  return ton_builder_end(&b, out, e);
}

static int empty_value(size_t i, struct ton_builder *b, void *arg) {
  (void)i, (void)b, (void)arg;
  return 0;
}

static int proxy_value(size_t i, struct ton_builder *b, void *arg) {
  const struct registry *r = arg;
  const char *a = r->proxy_addrs[i];
  size_t n = strlen(a);
  if (n > CHAIN_ROOT_MAX_PROXY_ADDR) return ERR_LIMIT;
  int rc = ton_builder_store_uint(b, 0, 1);
  if (!rc) rc = ton_builder_store_uint(b, n, 7);
  if (!rc) rc = ton_builder_store_bytes(b, a, n);
  return rc;
}

static int hash_dict(const struct registry *r, enum registry_list l, struct ton_cell **out, struct err *e) {
  return ton_dict_build(&r->hashes[l][0][0], REGISTRY_HASH_LEN, r->n_hashes[l], 256, empty_value, NULL, out, e);
}

int chain_root_data_from_registry(const struct registry *r, const struct chain_root_build_opts *o,
                                  struct ton_cell **out, struct err *e) {
  struct ton_cell *ph = NULL, *wh = NULL, *mh = NULL, *px = NULL, *data = NULL, *params = NULL;
  struct ton_builder b;
  ton_builder_init(&b);
  *out = NULL;
  int rc = 0;
  if (r->version > UINT32_MAX) {
    rc = err_set(e, ERR_LIMIT, "registry version %" PRIu64 " does not fit the root's 32-bit version", r->version);
    goto out;
  }
  if ((rc = registry_params_check(&r->params, e))) goto out;
  for (size_t l = 0; l < REGISTRY_LISTS; l++)
    if (r->n_hashes[l] > REGISTRY_MAX_HASHES) {
      rc = err_set(e, ERR_LIMIT, "registry: more than %d %s hashes", REGISTRY_MAX_HASHES,
                   registry_list_name((enum registry_list)l));
      goto out;
    }
  if (r->n_proxy_addrs > REGISTRY_MAX_PROXIES) {
    rc = err_set(e, ERR_LIMIT, "registry: more than %d proxy addresses", REGISTRY_MAX_PROXIES);
    goto out;
  }
  for (size_t i = 0; i < r->n_proxy_addrs; i++)
    if (strnlen(r->proxy_addrs[i], REGISTRY_MAX_ADDR + 1) > CHAIN_ROOT_MAX_PROXY_ADDR) {
      rc = err_set(e, ERR_LIMIT, "proxy address %zu is longer than the root's %d bytes", i + 1,
                   CHAIN_ROOT_MAX_PROXY_ADDR);
      goto out;
    }
  /* Registered proxies are numbered 1..n in the registry's order (big-endian 32-bit keys). */
  uint8_t keys[REGISTRY_MAX_PROXIES][4];
  for (size_t i = 0; i < r->n_proxy_addrs; i++) {
    uint32_t k = (uint32_t)i + 1;
    keys[i][0] = (uint8_t)(k >> 24), keys[i][1] = (uint8_t)(k >> 16), keys[i][2] = (uint8_t)(k >> 8),
    keys[i][3] = (uint8_t)k;
  }
  if ((rc = hash_dict(r, REGISTRY_PROXY_IMAGE, &ph, e)) || (rc = hash_dict(r, REGISTRY_WORKER_IMAGE, &wh, e)) ||
      (rc = hash_dict(r, REGISTRY_MODEL, &mh, e)))
    goto out;
  if ((rc = ton_dict_build(&keys[0][0], 4, r->n_proxy_addrs, 32, proxy_value, (void *)r, &px, e))) {
    if (rc == ERR_LIMIT) rc = err_set(e, rc, "registered proxies: an address does not fit its cell");
    goto out;
  }
  if ((rc = ton_builder_store_dict(&b, ph)) || (rc = ton_builder_store_dict(&b, px)) ||
      (rc = ton_builder_store_uint(&b, r->n_proxy_addrs, 32)) || (rc = ton_builder_store_dict(&b, wh)) ||
      (rc = ton_builder_store_dict(&b, mh))) {
    rc = err_set(e, rc, "root data: the lists do not fit a cell");
    goto out;
  }
  if ((rc = ton_builder_end(&b, &data, e))) goto out;
  if ((rc = params_cell(&r->params, o, &params, e))) goto out;
  if ((rc = ton_builder_store_addr(&b, &o->owner)) || (rc = ton_builder_store_ref(&b, data)) ||
      (rc = ton_builder_store_ref(&b, params)) || (rc = ton_builder_store_uint(&b, r->version, 32))) {
    rc = err_set(e, rc, "root data: owner, lists, params and version do not fit a cell");
    goto out;
  }
  rc = ton_builder_end(&b, out, e);
out:
  ton_builder_clear(&b);
  ton_cell_unref(ph);
  ton_cell_unref(wh);
  ton_cell_unref(mh);
  ton_cell_unref(px);
  ton_cell_unref(data);
  ton_cell_unref(params);
  return rc;
}

static int copy_list(struct registry *r, enum registry_list l, const uint8_t (*v)[32], size_t n, struct err *e) {
  if (n > REGISTRY_MAX_HASHES)
    return err_set(e, ERR_LIMIT, "root contract: %zu %s hashes, the registry holds at most %d", n,
                   registry_list_name(l), REGISTRY_MAX_HASHES);
  for (size_t i = 1; i < n; i++)
    if (memcmp(v[i - 1], v[i], 32) >= 0)
      return err_set(e, ERR_INVALID, "root contract: %s hashes are not strictly ascending", registry_list_name(l));
  memcpy(r->hashes[l], v, n * 32);
  r->n_hashes[l] = n;
  return 0;
}

int chain_root_to_registry(const struct chain_root *c, struct registry *r, struct err *e) {
  static const uint8_t zero[REGISTRY_KEY_LEN];
  const struct chain_root_params *cp = &c->params;
  registry_init(r, zero);
  r->version = c->version;
  const uint64_t prices[4] = {cp->price_per_token, cp->worker_fee_per_token, cp->min_proxy_stake,
                              cp->min_client_stake};
  static const char *const names[4] = {"price_per_token", "worker_fee_per_token", "min_proxy_stake",
                                       "min_client_stake"};
  for (size_t i = 0; i < 4; i++)
    if (prices[i] > (uint64_t)REGISTRY_MAX_PRICE)
      return err_set(e, ERR_INVALID, "root contract: %s %" PRIu64 " is above the registry's maximum %" PRId64,
                     names[i], prices[i], (int64_t)REGISTRY_MAX_PRICE);
  struct registry_params *p = &r->params;
  p->price_per_token = (int64_t)cp->price_per_token;
  p->worker_fee_per_token = (int64_t)cp->worker_fee_per_token;
  p->min_proxy_stake = (int64_t)cp->min_proxy_stake;
  p->min_client_stake = (int64_t)cp->min_client_stake;
  p->prompt_mult = cp->prompt_mult;
  p->cached_mult = cp->cached_mult;
  p->completion_mult = cp->completion_mult;
  p->reasoning_mult = cp->reasoning_mult;
  p->proxy_delay_before_close = cp->proxy_delay_before_close;
  p->client_delay_before_close = cp->client_delay_before_close;
  struct err pe = {0};
  if (registry_params_check(p, &pe)) return err_set(e, ERR_INVALID, "root contract: %s", pe.msg);
  int rc;
  if ((rc = copy_list(r, REGISTRY_PROXY_IMAGE, c->proxy_hashes, c->n_proxy_hashes, e)) ||
      (rc = copy_list(r, REGISTRY_WORKER_IMAGE, c->worker_hashes, c->n_worker_hashes, e)) ||
      (rc = copy_list(r, REGISTRY_MODEL, c->model_hashes, c->n_model_hashes, e)))
    return rc;
  if (c->n_proxies > REGISTRY_MAX_PROXIES)
    return err_set(e, ERR_LIMIT, "root contract: %zu registered proxies, the registry holds at most %d", c->n_proxies,
                   REGISTRY_MAX_PROXIES);
  for (size_t i = 0; i < c->n_proxies; i++) {
    struct err ae = {0};
    if (registry_add_proxy(r, c->proxies[i].addr, &ae))
      return err_set(e, ae.code, "root contract: registered proxy %u: %s", c->proxies[i].seqno, ae.msg);
  }
  return 0;
}
