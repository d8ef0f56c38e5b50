/* cocoon_sc: what a proxy reads of its own proxy contract and of its clients' contracts: the
 * proxy contract's stored data (params, the client code), a client contract's
 * get_cocoon_client_data, and the address a genuine client contract of this proxy must have. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CHAIN_COCOON_SC_H
#define COCOON_CHAIN_COCOON_SC_H

#include <stdint.h>

#include "base/err.h"
#include "chain/tvm_stack.h"
#include "ton/address.h"
#include "ton/cell.h"

/* A client contract as get_cocoon_client_data reports it (contracts/client.tolk). */
struct chain_client_sc {
  struct ton_addr owner, proxy;
  uint8_t proxy_key[32];
  int state; /* 0 running, 1 closing, 2 closed */
  int64_t balance, stake, tokens_used;
  int64_t unlock_ts;
};

/* The 9 results owner, proxy, key, state, balance, stake, tokens_used, unlock_ts, secret_hash.
 * Refuses another arity, a state above 2 and amounts beyond int64. */
CC_NODISCARD int chain_client_sc_from_stack(const struct chain_tvm_stack *s, struct chain_client_sc *out,
                                            struct err *e);

/* A worker contract's data (contracts/worker.tolk): owner proxy proxy_key:256 state:2 tokens:64
 * ^params; what a worker reads of its own contract before submitting a payout. */
struct chain_worker_sc {
  struct ton_addr owner, proxy;
  uint8_t proxy_key[32];
  int state;
  int64_t tokens;
  uint64_t worker_fee_per_token, price_per_token;
};
CC_NODISCARD int chain_worker_sc_parse(const struct ton_cell *data, struct chain_worker_sc *out, struct err *e);

/* The proxy contract's data: owner key:256 root state:2 balance:Coins stake:Coins unlock_ts:32
 * ^params, the params holding the worker and client code. */
struct chain_proxy_sc {
  struct ton_addr owner, root;
  uint8_t proxy_key[32];
  int state;
  uint64_t balance, stake;
  uint32_t unlock_ts;
  uint64_t min_client_stake;
  struct ton_cell *params_nocode; /* the params as children hold them (no code); owned */
  struct ton_cell *client_code;   /* owned; NULL when the params carry none */
};

/* Parses the data cell (borrowed). On success the caller clears out with chain_proxy_sc_clear. */
CC_NODISCARD int chain_proxy_sc_parse(const struct ton_cell *data, struct chain_proxy_sc *out, struct err *e);
void chain_proxy_sc_clear(struct chain_proxy_sc *p);

/* The address of the client contract of `owner` under the proxy contract at proxy_addr, as the
 * proxy contract itself derives it (clientAddress in contracts/messages.tolk): the client code,
 * initial data state 0, balance 0, stake = min_client_stake, tokens 0, unlock 0, secret 0,
 * ^[owner proxy key] ^params without code, on the basechain. ERR_NOTFOUND without client code. */
CC_NODISCARD int chain_client_sc_address(const struct chain_proxy_sc *p, const struct ton_addr *proxy_addr,
                                         const struct ton_addr *owner, struct ton_addr *out, struct err *e);

/* What COCOON's runners derive contract addresses from (BaseRunner::generate_*_sc_address): the
 * three contracts' code and the params cells the root configuration gives them. Cells borrowed;
 * any may be NULL (that contract's address is then ERR_NOTFOUND). */
struct chain_sc_code {
  struct ton_cell *proxy_code, *worker_code, *client_code;
  struct ton_cell *proxy_params;  /* params with the worker and client code (mask 6) */
  struct ton_cell *params_nocode; /* params without code, as worker and client contracts hold them */
  uint64_t min_client_stake;      /* a new client contract's initial stake */
};

/* Each address is the hash of StateInit(code, initial data) on the basechain, the initial data
 * being what COCOON's ProxyContract / WorkerContract / ClientContract::init_data_cell build:
 *   proxy:  owner key:256 root state:2=0 balance:Coins=0 stake:Coins=0 unlock_ts:32=0 ^proxy_params
 *   worker: owner proxy key:256 state:2=0 tokens:64=0 ^params_nocode
 *   client: state:2=0 balance=0 stake=min_client_stake tokens:64=0 unlock:32=0 secret:256=0
 *           ^[owner proxy key] ^params_nocode */
CC_NODISCARD int chain_proxy_sc_address_of(const struct chain_sc_code *c, const struct ton_addr *root,
                                           const uint8_t proxy_key[32], const struct ton_addr *owner,
                                           struct ton_addr *out, struct err *e);
CC_NODISCARD int chain_worker_sc_address_of(const struct chain_sc_code *c, const struct ton_addr *proxy_addr,
                                            const uint8_t proxy_key[32], const struct ton_addr *owner,
                                            struct ton_addr *out, struct err *e);
CC_NODISCARD int chain_client_sc_address_of(const struct chain_sc_code *c, const struct ton_addr *proxy_addr,
                                            const uint8_t proxy_key[32], const struct ton_addr *owner,
                                            struct ton_addr *out, struct err *e);

#endif
