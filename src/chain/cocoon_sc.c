/* cocoon_sc: the proxy contract's data, a client contract's get-method, and client contract
 * address derivation (the check that a client contract is genuine: same code, initial data with
 * a zero balance, this proxy contract and key). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "chain/cocoon_sc.h"

#include <string.h>

#include "chain/root.h"

int chain_client_sc_from_stack(const struct chain_tvm_stack *s, struct chain_client_sc *out, struct err *e) {
  memset(out, 0, sizeof(*out));
  if (s->n != 9)
    return err_set(e, ERR_PROTO, "get_cocoon_client_data: %zu results, a client contract gives 9", s->n);
  int none = 0;
  int64_t st = 0;
  struct err ae = {0};
  if (chain_tvm_get_addr(s, 0, &out->owner, &none, &ae) || none ||
      chain_tvm_get_addr(s, 1, &out->proxy, &none, &ae) || none)
    return err_set(e, ERR_PROTO, "get_cocoon_client_data: owner and proxy must be addresses%s%.150s",
                   ae.msg[0] ? ": " : "", ae.msg);
  if (chain_tvm_get_u256(s, 2, out->proxy_key, e) || chain_tvm_get_i64(s, 3, &st, e) ||
      chain_tvm_get_i64(s, 4, &out->balance, e) || chain_tvm_get_i64(s, 5, &out->stake, e) ||
      chain_tvm_get_i64(s, 6, &out->tokens_used, e) || chain_tvm_get_i64(s, 7, &out->unlock_ts, e))
    return ERR_PROTO;
  if (st < 0 || st > 2) return err_set(e, ERR_PROTO, "get_cocoon_client_data: state %lld is not 0, 1 or 2", (long long)st);
  if (out->balance < 0 || out->stake < 0 || out->tokens_used < 0 || out->unlock_ts < 0 || out->unlock_ts > UINT32_MAX)
    return err_set(e, ERR_PROTO, "get_cocoon_client_data: a negative or out-of-range amount");
  out->state = (int)st;
  return 0;
}

int chain_worker_sc_parse(const struct ton_cell *data, struct chain_worker_sc *out, struct err *e) {
  struct ton_slice s;
  uint64_t st = 0, tokens = 0;
  int none = 0;
  const struct ton_cell *params = NULL;
  struct chain_root_params p;
  memset(out, 0, sizeof(*out));
  ton_slice_init(&s, data);
  if (ton_slice_load_addr(&s, &out->owner, &none) || none || ton_slice_load_addr(&s, &out->proxy, &none) || none ||
      ton_slice_load_bits(&s, 256, out->proxy_key) || ton_slice_load_uint(&s, 2, &st) ||
      ton_slice_load_uint(&s, 64, &tokens) || ton_slice_load_ref(&s, &params) || ton_slice_end(&s))
    return err_set(e, ERR_PARSE, "worker contract data: owner, proxy, key, state, tokens and ^params expected, nothing more");
  if (tokens > INT64_MAX) return err_set(e, ERR_PARSE, "worker contract data: tokens out of range");
  int rc = chain_root_params_parse(params, &p, e);
  if (rc) return rc;
  out->state = (int)st;
  out->tokens = (int64_t)tokens;
  out->worker_fee_per_token = p.worker_fee_per_token;
  out->price_per_token = p.price_per_token;
  return 0;
}

void chain_proxy_sc_clear(struct chain_proxy_sc *p) {
  if (!p) return;
  ton_cell_unref(p->params_nocode);
  ton_cell_unref(p->client_code);
  memset(p, 0, sizeof(*p));
}

/* The params (contracts/common.tolk `Params`, every field whatever struct_version says) read and
 * written again without the three code refs, as Params.withoutCode().toCell() does: each field
 * re-encoded canonically, so a non-canonical Coins in the stored cell cannot change the result. */
static int params_without_code(const struct ton_cell *c, struct chain_proxy_sc *p, struct err *e) {
  struct ton_slice s;
  struct ton_builder b;
  uint64_t v[16];
  int test = 0;
  const struct ton_cell *code[3];
  ton_slice_init(&s, c);
  /* struct_version:8 params_version:32 unique_id:32 is_test:1 price:Coins fee:Coins 4x mult:32
   * proxy_delay:32 client_delay:32 min_proxy_stake:Coins min_client_stake:Coins (maybe ^code)x3 */
  if (ton_slice_load_uint(&s, 8, &v[0]) || ton_slice_load_uint(&s, 32, &v[1]) || ton_slice_load_uint(&s, 32, &v[2]) ||
      ton_slice_load_bit(&s, &test) || ton_slice_load_coins(&s, &v[3]) || ton_slice_load_coins(&s, &v[4]))
    return err_set(e, ERR_PARSE, "proxy contract params: too short");
  for (int i = 5; i < 11; i++)
    if (ton_slice_load_uint(&s, 32, &v[i])) return err_set(e, ERR_PARSE, "proxy contract params: too short");
  if (ton_slice_load_coins(&s, &v[11]) || ton_slice_load_coins(&s, &v[12]))
    return err_set(e, ERR_PARSE, "proxy contract params: too short");
  for (int i = 0; i < 3; i++)
    if (ton_slice_load_maybe_ref(&s, &code[i])) return err_set(e, ERR_PARSE, "proxy contract params: code refs");
  if (ton_slice_end(&s)) return err_set(e, ERR_PARSE, "proxy contract params: bits or refs after the fields");
  ton_builder_init(&b);
  int rc = ton_builder_store_uint(&b, v[0], 8) || ton_builder_store_uint(&b, v[1], 32) ||
           ton_builder_store_uint(&b, v[2], 32) || ton_builder_store_bit(&b, test) ||
           ton_builder_store_coins(&b, v[3]) || ton_builder_store_coins(&b, v[4]);
  for (int i = 5; i < 11 && !rc; i++) rc = ton_builder_store_uint(&b, v[i], 32);
  if (!rc)
    rc = ton_builder_store_coins(&b, v[11]) || ton_builder_store_coins(&b, v[12]) || ton_builder_store_bit(&b, 0) ||
         ton_builder_store_bit(&b, 0) || ton_builder_store_bit(&b, 0);
  if (rc) {
    ton_builder_clear(&b);
    return err_set(e, ERR_PARSE, "proxy contract params: cannot rebuild");
  }
  if ((rc = ton_builder_end(&b, &p->params_nocode, e))) return rc;
  p->min_client_stake = v[12];
  p->client_code = code[2] ? ton_cell_ref((struct ton_cell *)code[2]) : NULL;
  return 0;
}

int chain_proxy_sc_parse(const struct ton_cell *data, struct chain_proxy_sc *out, struct err *e) {
  struct ton_slice s;
  uint64_t v = 0;
  int none = 0;
  const struct ton_cell *params = NULL;
  memset(out, 0, sizeof(*out));
  ton_slice_init(&s, data);
  if (ton_slice_load_addr(&s, &out->owner, &none) || none || ton_slice_load_bits(&s, 256, out->proxy_key) ||
      ton_slice_load_addr(&s, &out->root, &none) || none || ton_slice_load_uint(&s, 2, &v))
    return err_set(e, ERR_PARSE, "proxy contract data: owner, key, root and state expected");
  out->state = (int)v;
  if (ton_slice_load_coins(&s, &out->balance) || ton_slice_load_coins(&s, &out->stake) ||
      ton_slice_load_uint(&s, 32, &v) || ton_slice_load_ref(&s, &params) || ton_slice_end(&s))
    return err_set(e, ERR_PARSE, "proxy contract data: balance, stake, unlock_ts and ^params expected, nothing more");
  out->unlock_ts = (uint32_t)v;
  int rc = params_without_code(params, out, e);
  if (rc) chain_proxy_sc_clear(out);
  return rc;
}

/* The contract address of code + data on the basechain; unrefs data (may be NULL after a failed
 * build, then rc is returned). */
static int address_of(int rc, struct ton_cell *code, struct ton_cell *data, struct ton_addr *out, const char *what,
                      struct err *e) {
  if (!rc) {
    struct ton_state_init si = {.code = code, .data = data};
    rc = ton_state_init_address(0, &si, out, e);
  }
  if (rc && !(e && e->msg[0])) rc = err_set(e, ERR_INVALID, "cannot build the %s contract's initial data", what);
  ton_cell_unref(data);
  return rc;
}

int chain_client_sc_address_of(const struct chain_sc_code *c, const struct ton_addr *proxy_addr,
                               const uint8_t proxy_key[32], const struct ton_addr *owner, struct ton_addr *out,
                               struct err *e) {
  if (!c->client_code || !c->params_nocode) return err_set(e, ERR_NOTFOUND, "no client contract code is known");
  struct ton_builder b;
  struct ton_cell *cst = NULL, *data = NULL;
  ton_builder_init(&b);
  int rc = ton_builder_store_addr(&b, owner) || ton_builder_store_addr(&b, proxy_addr) ||
           ton_builder_store_bytes(&b, proxy_key, 32);
  if (rc) rc = ERR_INVALID;
  if (!rc) rc = ton_builder_end(&b, &cst, e);
  static const uint8_t zero[32];
  if (!rc) {
    rc = ton_builder_store_uint(&b, 0, 2) || ton_builder_store_coins(&b, 0) ||
         ton_builder_store_coins(&b, c->min_client_stake) || ton_builder_store_uint(&b, 0, 64) ||
         ton_builder_store_uint(&b, 0, 32) || ton_builder_store_bytes(&b, zero, 32) || ton_builder_store_ref(&b, cst) ||
         ton_builder_store_ref(&b, c->params_nocode);
    if (rc) rc = ERR_INVALID;
    if (!rc) rc = ton_builder_end(&b, &data, e);
  }
  ton_builder_clear(&b);
  ton_cell_unref(cst);
  return address_of(rc, c->client_code, data, out, "client", e);
}

int chain_worker_sc_address_of(const struct chain_sc_code *c, const struct ton_addr *proxy_addr,
                               const uint8_t proxy_key[32], const struct ton_addr *owner, struct ton_addr *out,
                               struct err *e) {
  if (!c->worker_code || !c->params_nocode) return err_set(e, ERR_NOTFOUND, "no worker contract code is known");
  struct ton_builder b;
  struct ton_cell *data = NULL;
  ton_builder_init(&b);
  int rc = ton_builder_store_addr(&b, owner) || ton_builder_store_addr(&b, proxy_addr) ||
           ton_builder_store_bytes(&b, proxy_key, 32) || ton_builder_store_uint(&b, 0, 2) ||
           ton_builder_store_uint(&b, 0, 64) || ton_builder_store_ref(&b, c->params_nocode);
  if (rc) rc = ERR_INVALID;
  if (!rc) rc = ton_builder_end(&b, &data, e);
  ton_builder_clear(&b);
  return address_of(rc, c->worker_code, data, out, "worker", e);
}

int chain_proxy_sc_address_of(const struct chain_sc_code *c, const struct ton_addr *root, const uint8_t proxy_key[32],
                              const struct ton_addr *owner, struct ton_addr *out, struct err *e) {
  if (!c->proxy_code || !c->proxy_params) return err_set(e, ERR_NOTFOUND, "no proxy contract code is known");
  struct ton_builder b;
  struct ton_cell *data = NULL;
  ton_builder_init(&b);
  int rc = ton_builder_store_addr(&b, owner) || ton_builder_store_bytes(&b, proxy_key, 32) ||
           ton_builder_store_addr(&b, root) || ton_builder_store_uint(&b, 0, 2) || ton_builder_store_coins(&b, 0) ||
           ton_builder_store_coins(&b, 0) || ton_builder_store_uint(&b, 0, 32) ||
           ton_builder_store_ref(&b, c->proxy_params);
  if (rc) rc = ERR_INVALID;
  if (!rc) rc = ton_builder_end(&b, &data, e);
  ton_builder_clear(&b);
  return address_of(rc, c->proxy_code, data, out, "proxy", e);
}

int chain_client_sc_address(const struct chain_proxy_sc *p, const struct ton_addr *proxy_addr,
                            const struct ton_addr *owner, struct ton_addr *out, struct err *e) {
  if (!p->client_code || !p->params_nocode)
    return err_set(e, ERR_NOTFOUND, "the proxy contract's params carry no client code");
  struct chain_sc_code c = {.client_code = p->client_code, .params_nocode = p->params_nocode,
                            .min_client_stake = p->min_client_stake};
  return chain_client_sc_address_of(&c, proxy_addr, p->proxy_key, owner, out, e);
}
