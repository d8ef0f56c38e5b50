/* root: the COCOON root contract's state (allowlists, proxies, prices, parameters, version)
 * read from its data cell or from its get methods. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CHAIN_ROOT_H
#define COCOON_CHAIN_ROOT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "chain/tvm_stack.h"
#include "ton/address.h"
#include "ton/cell.h"

#define CHAIN_ROOT_MAX_HASHES 1024 /* per allowlist */
#define CHAIN_ROOT_MAX_PROXIES 256
#define CHAIN_ROOT_MAX_PROXY_ADDR 127 /* "ip:port[ ip:port]" is a 7-bit length */

/* The params cell (COCOON RootContractConfig): fields of newer struct versions are 0 when the
 * cell is older; multipliers are in 1/10000 (10000 = 1.0x). */
struct chain_root_params {
  uint8_t struct_version;
  uint32_t params_version;
  uint32_t unique_id;
  int is_test;
  uint64_t price_per_token;      /* nano-TON */
  uint64_t worker_fee_per_token; /* nano-TON */
  uint32_t prompt_mult, cached_mult, completion_mult, reasoning_mult;
  uint32_t proxy_delay_before_close, client_delay_before_close; /* seconds */
  uint64_t min_proxy_stake, min_client_stake;                   /* nano-TON */
  int has_proxy_code, has_worker_code, has_client_code;
  uint8_t proxy_code_hash[32], worker_code_hash[32], client_code_hash[32];
};

struct chain_root_proxy {
  uint32_t seqno;
  char addr[CHAIN_ROOT_MAX_PROXY_ADDR + 1]; /* NUL-terminated */
};

/* Large (about 140 KiB): allocate it. */
struct chain_root {
  int has_owner;
  struct ton_addr owner;
  uint32_t version;
  uint32_t last_proxy_seqno;
  struct chain_root_params params;
  size_t n_proxy_hashes, n_worker_hashes, n_model_hashes, n_proxies;
  uint8_t proxy_hashes[CHAIN_ROOT_MAX_HASHES][32]; /* allowed proxy image hashes, sorted */
  uint8_t worker_hashes[CHAIN_ROOT_MAX_HASHES][32];
  uint8_t model_hashes[CHAIN_ROOT_MAX_HASHES][32];
  struct chain_root_proxy proxies[CHAIN_ROOT_MAX_PROXIES]; /* sorted by seqno */
};

/* Parses the params cell (struct_version 0..3; newer versions are refused). */
CC_NODISCARD int chain_root_params_parse(const struct ton_cell *c, struct chain_root_params *out, struct err *e);

/* The params cell as COCOON's runners write it (RootContractConfig::serialize_params_cell): the
 * fields p->struct_version has, then the three code refs (each NULL: none; borrowed). The root
 * holds all three codes, a proxy contract the worker and client code, the others none. Caller
 * unrefs *out. */
CC_NODISCARD int chain_root_params_cell(const struct chain_root_params *p, struct ton_cell *proxy_code,
                                        struct ton_cell *worker_code, struct ton_cell *client_code,
                                        struct ton_cell **out, struct err *e);
/* Parses the root contract's data cell (getAddressInformation's `data`):
 *   owner:MsgAddress ^[proxy_hashes:HashmapE 256 registered_proxies:HashmapE 32
 *   last_proxy_seqno:uint32 worker_hashes:HashmapE 256 model_hashes:HashmapE 256]
 *   ^params version:uint32
 * A registered proxy's value is `type:1 len:7 bytes(len)`. Errors say which part is wrong. */
CC_NODISCARD int chain_root_parse_data(const struct ton_cell *data, struct chain_root *out, struct err *e);

/* Fills the scalar fields from the get method get_cocoon_data:
 *   version last_proxy_seqno params_version unique_id is_test price_per_token
 *   worker_fee_per_token min_proxy_stake min_client_stake owner_address
 * (the allowlists and proxies are not returned by get methods; read the data cell for them). */
CC_NODISCARD int chain_root_from_get_cocoon_data(const struct chain_tvm_stack *s, struct chain_root *out,
                                                 struct err *e);

/* Appends a one-line, NUL-terminated summary of every field (the format tests/ton/gen.cjs
 * writes for the oracle): v=..;seq=..;owner=..;sv=..;...;ph=h1,h2;wh=..;mh=..;px=seqno@addr,... */
CC_NODISCARD int chain_root_summary(const struct chain_root *r, struct buf *out);

enum chain_root_list { CHAIN_ROOT_PROXY_HASHES, CHAIN_ROOT_WORKER_HASHES, CHAIN_ROOT_MODEL_HASHES };
/* 1 when hash is in that allowlist (binary search; the lists are sorted). */
int chain_root_has_hash(const struct chain_root *r, enum chain_root_list which, const uint8_t hash[32]);

#endif
