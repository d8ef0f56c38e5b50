/* root_registry: the registry (registry/registry.h) as the COCOON root contract's data cell, and
 * the root contract's state back as a registry. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CHAIN_ROOT_REGISTRY_H
#define COCOON_CHAIN_ROOT_REGISTRY_H

#include <stdint.h>

#include "base/err.h"
#include "chain/root.h"
#include "registry/registry.h"
#include "ton/address.h"
#include "ton/cell.h"

/* What the root's data holds that a registry file does not. */
struct chain_root_build_opts {
  struct ton_addr owner;   /* the only address whose messages change the root */
  uint32_t params_version; /* contracts/build.cjs defaults: 1 */
  uint32_t unique_id;      /* 1 */
  int is_test;             /* 1 */
  /* The child contracts' code kept in the params (borrowed; NULL: none). */
  struct ton_cell *proxy_code, *worker_code, *client_code;
};

/* contracts/build.cjs's defaults: version 1 params, unique id 1, test network, no code. */
void chain_root_build_opts_init(struct chain_root_build_opts *o, const struct ton_addr *owner);

/* The root contract's initial data (layout in chain/root.h; params struct_version 3): the
 * registry's version (it must fit 32 bits), parameters and three hash lists; its proxy_addr
 * entries become registered proxies 1..n (last_proxy_seqno n). The registry's owner key and
 * signature are not part of it: on chain, o->owner's messages are the authority. ERR_LIMIT names
 * what does not fit (a version above 2^32-1, a proxy address too long for its cell). Caller
 * unrefs *out. */
CC_NODISCARD int chain_root_data_from_registry(const struct registry *r, const struct chain_root_build_opts *o,
                                               struct ton_cell **out, struct err *e);

/* The registry a root contract's state stands for: its version, parameters, lists and
 * registered proxies (in seqno order). The owner key and signature are zero (the chain, not a
 * signature, vouches for it). Refused (ERR_LIMIT / ERR_INVALID, naming the part) when a list is
 * longer than the registry allows, a parameter is out of the registry's ranges, or a proxy
 * address is not "host:port[ host:port]". */
CC_NODISCARD int chain_root_to_registry(const struct chain_root *c, struct registry *out, struct err *e);

#endif
