/* fuzz_getmethod: toncenter runGetMethod answers (JSON stack: also as get_cocoon_client_data),
 * root contract data cells (and their conversion to a registry and back), and proxy contract data
 * cells (with a client contract address derived from them). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/cocoon_sc.h"
#include "chain/root.h"
#include "chain/root_registry.h"
#include "chain/tvm_stack.h"
#include "ton/boc.h"
#include "ton/cocoon_notify.h"
#include "ton/dict.h"

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_getmethod: %s\n", what);
    abort();
  }
}

static int count_cb(const uint8_t *key, unsigned keybits, struct ton_slice *v, void *arg) {
  (void)key;
  (void)keybits;
  (void)v;
  (*(unsigned *)arg)++;
  return 0;
}

/* A root state the registry accepts survives registry -> data cell -> root -> registry. */
static void registry_round_trip(const struct chain_root *r) {
  static struct registry a, b;
  static struct chain_root again;
  struct err e = {0};
  if (chain_root_to_registry(r, &a, &e)) {
    check(e.msg[0] != '\0', "registry conversion refusal without a message");
    return;
  }
  check(a.version == r->version && a.n_proxy_addrs == r->n_proxies, "registry conversion");
  struct chain_root_build_opts o;
  chain_root_build_opts_init(&o, &r->owner);
  o.params_version = r->params.params_version;
  o.unique_id = r->params.unique_id;
  o.is_test = r->params.is_test;
  struct ton_cell *c = NULL;
  if (chain_root_data_from_registry(&a, &o, &c, &e)) {
    /* Only a proxy address too long for its leaf cell may fail here. */
    check(e.code == ERR_LIMIT && e.msg[0] != '\0', "rebuilding the root data failed");
    return;
  }
  check(chain_root_parse_data(c, &again, &e) == 0, "rebuilt root data does not parse");
  check(chain_root_to_registry(&again, &b, &e) == 0, "rebuilt root data does not convert");
  check(b.version == a.version && !memcmp(&b.params, &a.params, sizeof(a.params)), "round trip: params");
  for (int l = 0; l < REGISTRY_LISTS; l++)
    check(b.n_hashes[l] == a.n_hashes[l] && !memcmp(b.hashes[l], a.hashes[l], a.n_hashes[l] * 32), "round trip: lists");
  check(b.n_proxy_addrs == a.n_proxy_addrs, "round trip: proxies");
  for (size_t i = 0; i < a.n_proxy_addrs; i++) check(!strcmp(a.proxy_addrs[i], b.proxy_addrs[i]), "round trip: proxy");
  ton_cell_unref(c);
}

/* Everything that reads a cell: the root data layout, params, and dictionaries of both key
 * sizes. Refusals must carry a message. */
static void cell_parsers(const struct ton_cell *c, struct chain_root *r) {
  struct err e = {0};
  if (chain_root_parse_data(c, r, &e) == 0) {
    check(r->n_proxy_hashes <= CHAIN_ROOT_MAX_HASHES && r->n_proxies <= CHAIN_ROOT_MAX_PROXIES, "root counts");
    for (size_t i = 1; i < r->n_worker_hashes; i++)
      check(memcmp(r->worker_hashes[i - 1], r->worker_hashes[i], 32) < 0, "hash list not sorted");
    for (size_t i = 0; i < r->n_proxies; i++) check(strlen(r->proxies[i].addr) <= CHAIN_ROOT_MAX_PROXY_ADDR, "proxy");
    if (r->has_owner) registry_round_trip(r);
  } else {
    check(e.msg[0] != '\0', "root data refusal without a message");
  }
  struct chain_proxy_sc psc;
  memset(&e, 0, sizeof(e));
  if (chain_proxy_sc_parse(c, &psc, &e) == 0) {
    check(psc.params_nocode != NULL && psc.state < 4, "proxy contract data");
    struct ton_addr a;
    if (chain_client_sc_address(&psc, &psc.root, &psc.owner, &a, &e) == 0) check(a.wc == 0, "derived workchain");
    else check(e.msg[0] != '\0', "derivation refusal without a message");
    chain_proxy_sc_clear(&psc);
  } else {
    check(e.msg[0] != '\0' && psc.params_nocode == NULL && psc.client_code == NULL, "proxy data refusal");
  }
  struct chain_worker_sc wsc;
  memset(&e, 0, sizeof(e));
  if (chain_worker_sc_parse(c, &wsc, &e) == 0) check(wsc.state < 4 && wsc.tokens >= 0, "worker contract data");
  else check(e.msg[0] != '\0', "worker data refusal without a message");
  struct chain_root_params p;
  memset(&e, 0, sizeof(e));
  if (chain_root_params_parse(c, &p, &e)) check(e.msg[0] != '\0', "params refusal without a message");
  struct ton_cocoon_notify note;
  memset(&e, 0, sizeof(e));
  if (ton_cocoon_notify_parse(c, &note, &e)) check(e.msg[0] != '\0', "notification refusal without a message");
  else check(note.state < 4, "2-bit state");
  unsigned n = 0;
  memset(&e, 0, sizeof(e));
  if (ton_dict_foreach(c, 256, count_cb, &n, &e)) check(e.msg[0] != '\0', "dict refusal without a message");
  n = 0;
  if (ton_dict_foreach(c, 32, count_cb, &n, &e)) check(e.msg[0] != '\0', "dict refusal without a message");
  n = 0;
  if (ton_dict_foreach(c, 1, count_cb, &n, &e) == 0) check(n <= 2, "a 1-bit dict with more than 2 entries");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct chain_root root; /* large: not on the stack */
  struct err e = {0};
  if (size >= 4 && data[0] == 0xb5 && data[1] == 0xee) {
    struct ton_cell *c = NULL;
    if (ton_boc_parse_one(data, size, &c, &e) == 0) {
      cell_parsers(c, &root);
      ton_cell_unref(c);
    }
    return 0;
  }
  struct chain_tvm_stack s;
  int rc = chain_tvm_stack_parse((const char *)data, size, &s, &e);
  if (rc) {
    check(e.msg[0] != '\0', "stack refusal without a message");
    chain_tvm_stack_clear(&s);
    return 0;
  }
  check(s.n <= CHAIN_TVM_MAX_ENTRIES, "stack size");
  for (size_t i = 0; i < s.n; i++) {
    uint64_t u;
    int64_t x;
    uint8_t h[32];
    int b, none;
    struct ton_addr a;
    const struct ton_cell *c;
    memset(&e, 0, sizeof(e));
    if (chain_tvm_get_u64(&s, i, &u, &e)) check(e.msg[0] != '\0', "u64 refusal without a message");
    if (chain_tvm_get_i64(&s, i, &x, &e) == 0 && chain_tvm_get_u64(&s, i, &u, NULL) == 0)
      check(x >= 0 && (uint64_t)x == u, "i64 and u64 disagree");
    if (chain_tvm_get_u256(&s, i, h, NULL) == 0) check(s.v[i].type == CHAIN_TVM_NUM, "u256 of a non-number");
    if (chain_tvm_get_bool(&s, i, &b, NULL) == 0) check(b == 0 || b == 1, "bool");
    if (chain_tvm_get_addr(&s, i, &a, &none, NULL) == 0) check(none || (a.wc >= -128 && a.wc <= 127), "address");
    if (chain_tvm_get_cell(&s, i, &c, NULL) == 0) {
      check(c != NULL, "cell entry without a cell");
      cell_parsers(c, &root);
    }
  }
  if (chain_root_from_get_cocoon_data(&s, &root, NULL) == 0) check(s.n == 10, "get_cocoon_data arity");
  struct chain_client_sc csc;
  memset(&e, 0, sizeof(e));
  if (chain_client_sc_from_stack(&s, &csc, &e) == 0)
    check(s.n == 9 && csc.state <= 2 && csc.balance >= 0 && csc.stake >= 0 && csc.tokens_used >= 0, "client data");
  else
    check(e.msg[0] != '\0', "client data refusal without a message");
  chain_tvm_stack_clear(&s);
  return 0;
}
