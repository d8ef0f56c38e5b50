/* root: the COCOON root contract's state (allowlists, proxies, prices, parameters, version)
 * read from its data cell or from its get methods. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "chain/root.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#include "ton/dict.h"

int chain_root_params_parse(const struct ton_cell *c, struct chain_root_params *p, struct err *e) {
  struct ton_slice s;
  uint64_t v;
  int bit;
  memset(p, 0, sizeof(*p));
  ton_slice_init(&s, c);
  if (ton_slice_load_uint(&s, 8, &v)) goto bad;
  if (v > 3) return err_set(e, ERR_PARSE, "root params: struct_version %u is newer than 3", (unsigned)v);
  p->struct_version = (uint8_t)v;
  if (ton_slice_load_uint(&s, 32, &v)) goto bad;
  p->params_version = (uint32_t)v;
  if (ton_slice_load_uint(&s, 32, &v)) goto bad;
  p->unique_id = (uint32_t)v;
  if (ton_slice_load_bit(&s, &bit)) goto bad;
  p->is_test = bit;
  if (ton_slice_load_coins(&s, &p->price_per_token) || ton_slice_load_coins(&s, &p->worker_fee_per_token)) goto bad;
  uint32_t *mults[4] = {&p->prompt_mult, &p->cached_mult, &p->completion_mult, &p->reasoning_mult};
  const unsigned since[4] = {3, 2, 3, 2};
  for (int i = 0; i < 4; i++) {
    if (p->struct_version < since[i]) continue;
    if (ton_slice_load_uint(&s, 32, &v)) goto bad;
    *mults[i] = (uint32_t)v;
  }
  if (ton_slice_load_uint(&s, 32, &v)) goto bad;
  p->proxy_delay_before_close = (uint32_t)v;
  if (ton_slice_load_uint(&s, 32, &v)) goto bad;
  p->client_delay_before_close = (uint32_t)v;
  if (p->struct_version >= 1 &&
      (ton_slice_load_coins(&s, &p->min_proxy_stake) || ton_slice_load_coins(&s, &p->min_client_stake)))
    goto bad;
  const struct ton_cell *code[3];
  for (int i = 0; i < 3; i++)
    if (ton_slice_load_maybe_ref(&s, &code[i])) goto bad;
  if (ton_slice_end(&s)) return err_set(e, ERR_PARSE, "root params: unexpected bits or refs after the fields");
  int *has[3] = {&p->has_proxy_code, &p->has_worker_code, &p->has_client_code};
  uint8_t *hash[3] = {p->proxy_code_hash, p->worker_code_hash, p->client_code_hash};
  for (int i = 0; i < 3; i++)
    if (code[i]) {
      *has[i] = 1;
      memcpy(hash[i], code[i]->hash, 32);
    }
  return 0;
bad:
  return err_set(e, ERR_PARSE, "root params: the cell is too short for struct_version %u", p->struct_version);
}

struct hash_list {
  uint8_t (*v)[32];
  size_t n;
  const char *what;
};

static int add_hash(const uint8_t *key, unsigned keybits, struct ton_slice *value, void *arg) {
  struct hash_list *l = arg;
  (void)keybits;
  (void)value; /* the value is a marker; only the key matters */
  if (l->n >= CHAIN_ROOT_MAX_HASHES) return ERR_LIMIT;
  memcpy(l->v[l->n++], key, 32);
  return 0;
}

static int load_hashes(struct ton_slice *s, uint8_t (*v)[32], size_t *n, const char *what, struct err *e) {
  const struct ton_cell *root;
  struct hash_list l = {v, 0, what};
  struct err de = {0};
  if (ton_slice_load_dict(s, &root)) return err_set(e, ERR_PARSE, "root data: %s: missing", what);
  int rc = ton_dict_foreach(root, 256, add_hash, &l, &de);
  if (rc == ERR_LIMIT && !de.msg[0])
    return err_set(e, rc, "root data: %s: more than %d hashes", what, CHAIN_ROOT_MAX_HASHES);
  if (rc) return err_set(e, rc, "root data: %s: %s", what, de.msg);
  *n = l.n; /* key order is ascending, so the list is sorted */
  return 0;
}

static int add_proxy(const uint8_t *key, unsigned keybits, struct ton_slice *value, void *arg) {
  struct chain_root *r = arg;
  uint64_t type, len;
  (void)keybits;
  if (r->n_proxies >= CHAIN_ROOT_MAX_PROXIES) return ERR_LIMIT;
  struct chain_root_proxy *p = &r->proxies[r->n_proxies];
  p->seqno = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
  if (ton_slice_load_uint(value, 1, &type) || type != 0 || ton_slice_load_uint(value, 7, &len) ||
      ton_slice_load_bits(value, (unsigned)len * 8, (uint8_t *)p->addr) || ton_slice_end(value))
    return ERR_PARSE;
  p->addr[len] = '\0';
  for (uint64_t i = 0; i < len; i++)
    if ((unsigned char)p->addr[i] < 0x20 || (unsigned char)p->addr[i] > 0x7e) return ERR_PARSE;
  r->n_proxies++;
  return 0;
}

int chain_root_parse_data(const struct ton_cell *data, struct chain_root *r, struct err *e) {
  struct ton_slice s, d;
  const struct ton_cell *dcell, *pcell, *proxies;
  uint64_t v;
  int none = 0;
  memset(r, 0, sizeof(*r));
  ton_slice_init(&s, data);
  if (ton_slice_load_addr(&s, &r->owner, &none)) return err_set(e, ERR_PARSE, "root data: bad owner address");
  r->has_owner = !none;
  if (ton_slice_load_ref(&s, &dcell) || ton_slice_load_ref(&s, &pcell) || ton_slice_load_uint(&s, 32, &v) ||
      ton_slice_end(&s))
    return err_set(e, ERR_PARSE, "root data: expected owner ^data ^params version:uint32");
  r->version = (uint32_t)v;
  int rc = chain_root_params_parse(pcell, &r->params, e);
  if (rc) return rc;
  ton_slice_init(&d, dcell);
  if ((rc = load_hashes(&d, r->proxy_hashes, &r->n_proxy_hashes, "proxy_hashes", e))) return rc;
  if (ton_slice_load_dict(&d, &proxies)) return err_set(e, ERR_PARSE, "root data: registered_proxies: missing");
  struct err de = {0};
  rc = ton_dict_foreach(proxies, 32, add_proxy, r, &de);
  if (rc == ERR_LIMIT) return err_set(e, rc, "root data: more than %d registered proxies", CHAIN_ROOT_MAX_PROXIES);
  if (rc) return err_set(e, rc, "root data: registered_proxies: %s", de.msg[0] ? de.msg : "bad entry");
  if (ton_slice_load_uint(&d, 32, &v)) return err_set(e, ERR_PARSE, "root data: last_proxy_seqno missing");
  r->last_proxy_seqno = (uint32_t)v;
  if ((rc = load_hashes(&d, r->worker_hashes, &r->n_worker_hashes, "worker_hashes", e))) return rc;
  if ((rc = load_hashes(&d, r->model_hashes, &r->n_model_hashes, "model_hashes", e))) return rc;
  if (ton_slice_end(&d)) return err_set(e, ERR_PARSE, "root data: unexpected bits or refs after model_hashes");
  return 0;
}

int chain_root_from_get_cocoon_data(const struct chain_tvm_stack *s, struct chain_root *r, struct err *e) {
  uint64_t v[9];
  int none = 0, rc;
  if (s->n != 10) return err_set(e, ERR_PARSE, "get_cocoon_data: %zu results, expected 10", s->n);
  for (size_t i = 0; i < 9; i++) {
    if (i == 4) {
      int b;
      if ((rc = chain_tvm_get_bool(s, i, &b, e))) return rc;
      v[i] = (uint64_t)b;
    } else if ((rc = chain_tvm_get_u64(s, i, &v[i], e))) {
      return rc;
    }
  }
  for (size_t i = 0; i < 4; i++)
    if (v[i] > UINT32_MAX) return err_set(e, ERR_PARSE, "get_cocoon_data: entry %zu does not fit 32 bits", i);
  if ((rc = chain_tvm_get_addr(s, 9, &r->owner, &none, e))) return rc;
  r->has_owner = !none;
  r->version = (uint32_t)v[0];
  r->last_proxy_seqno = (uint32_t)v[1];
  r->params.params_version = (uint32_t)v[2];
  r->params.unique_id = (uint32_t)v[3];
  r->params.is_test = (int)v[4];
  r->params.price_per_token = v[5];
  r->params.worker_fee_per_token = v[6];
  r->params.min_proxy_stake = v[7];
  r->params.min_client_stake = v[8];
  return 0;
}

int chain_root_has_hash(const struct chain_root *r, enum chain_root_list which, const uint8_t hash[32]) {
  const uint8_t(*list)[32] = which == CHAIN_ROOT_PROXY_HASHES    ? r->proxy_hashes
                             : which == CHAIN_ROOT_WORKER_HASHES ? r->worker_hashes
                                                                 : r->model_hashes;
  size_t n = which == CHAIN_ROOT_PROXY_HASHES    ? r->n_proxy_hashes
             : which == CHAIN_ROOT_WORKER_HASHES ? r->n_worker_hashes
                                                 : r->n_model_hashes;
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = memcmp(list[mid], hash, 32);
    if (c == 0) return 1;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return 0;
}

static int summary_hashes(struct buf *b, const char *tag, const uint8_t (*v)[32], size_t n) {
  int rc = buf_appendf(b, ";%s=", tag);
  for (size_t i = 0; !rc && i < n; i++) {
    char h[65];
    util_hex(v[i], 32, h);
    rc = buf_appendf(b, "%s%s", i ? "," : "", h);
  }
  return rc;
}

int chain_root_summary(const struct chain_root *r, struct buf *b) {
  const struct chain_root_params *p = &r->params;
  char owner[TON_ADDR_RAW_MAX] = "none", code[3][65];
  if (r->has_owner) ton_addr_to_raw(&r->owner, owner, sizeof(owner));
  const int has[3] = {p->has_proxy_code, p->has_worker_code, p->has_client_code};
  const uint8_t *hash[3] = {p->proxy_code_hash, p->worker_code_hash, p->client_code_hash};
  for (int i = 0; i < 3; i++) {
    if (has[i])
      util_hex(hash[i], 32, code[i]);
    else
      snprintf(code[i], sizeof(code[i]), "-");
  }
  int rc = buf_appendf(b,
                       "v=%u;seq=%u;owner=%s;sv=%u;pv=%u;uid=%u;test=%d;price=%llu;fee=%llu;mult=%u,%u,%u,%u;"
                       "delay=%u,%u;stake=%llu,%llu;code=%s,%s,%s",
                       r->version, r->last_proxy_seqno, owner, p->struct_version, p->params_version, p->unique_id,
                       p->is_test, (unsigned long long)p->price_per_token, (unsigned long long)p->worker_fee_per_token,
                       p->prompt_mult, p->cached_mult, p->completion_mult, p->reasoning_mult,
                       p->proxy_delay_before_close, p->client_delay_before_close,
                       (unsigned long long)p->min_proxy_stake, (unsigned long long)p->min_client_stake, code[0],
                       code[1], code[2]);
  if (!rc) rc = summary_hashes(b, "ph", r->proxy_hashes, r->n_proxy_hashes);
  if (!rc) rc = summary_hashes(b, "wh", r->worker_hashes, r->n_worker_hashes);
  if (!rc) rc = summary_hashes(b, "mh", r->model_hashes, r->n_model_hashes);
  if (!rc) rc = buf_append_str(b, ";px=");
  for (size_t i = 0; !rc && i < r->n_proxies; i++)
    rc = buf_appendf(b, "%s%u@%s", i ? "," : "", r->proxies[i].seqno, r->proxies[i].addr);
  if (!rc) rc = buf_append(b, "", 1);
  return rc;
}

int chain_root_params_cell(const struct chain_root_params *p, struct ton_cell *proxy_code, struct ton_cell *worker_code,
                           struct ton_cell *client_code, struct ton_cell **out, struct err *e) {
  if (p->struct_version > 3)
    return err_set(e, ERR_INVALID, "root params: struct_version %u is newer than 3", (unsigned)p->struct_version);
  struct ton_builder b;
  ton_builder_init(&b);
  int rc = ton_builder_store_uint(&b, p->struct_version, 8) || ton_builder_store_uint(&b, p->params_version, 32) ||
           ton_builder_store_uint(&b, p->unique_id, 32) || ton_builder_store_bit(&b, p->is_test ? 1 : 0) ||
           ton_builder_store_coins(&b, p->price_per_token) || ton_builder_store_coins(&b, p->worker_fee_per_token);
  const uint32_t mults[4] = {p->prompt_mult, p->cached_mult, p->completion_mult, p->reasoning_mult};
  const unsigned since[4] = {3, 2, 3, 2};
  for (int i = 0; i < 4 && !rc; i++)
    if (p->struct_version >= since[i]) rc = ton_builder_store_uint(&b, mults[i], 32);
  if (!rc)
    rc = ton_builder_store_uint(&b, p->proxy_delay_before_close, 32) ||
         ton_builder_store_uint(&b, p->client_delay_before_close, 32);
  if (!rc && p->struct_version >= 1)
    rc = ton_builder_store_coins(&b, p->min_proxy_stake) || ton_builder_store_coins(&b, p->min_client_stake);
  if (!rc)
    rc = ton_builder_store_maybe_ref(&b, proxy_code) || ton_builder_store_maybe_ref(&b, worker_code) ||
         ton_builder_store_maybe_ref(&b, client_code);
  if (rc) {
    ton_builder_clear(&b);
    return err_set(e, ERR_INVALID, "root params: the parameters do not fit a cell");
  }
  return ton_builder_end(&b, out, e);
}
