/* fake_ton: COCOON's --disable-ton root configuration (RootContractConfig::load_from_json). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "chain/fake_ton.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"
#include "ton/boc.h"
#include "ton/cell.h"

void chain_fake_ton_clear(struct chain_fake_ton *f) {
  if (!f) return;
  ton_cell_unref(f->sc.proxy_code);
  ton_cell_unref(f->sc.worker_code);
  ton_cell_unref(f->sc.client_code);
  ton_cell_unref(f->sc.proxy_params);
  ton_cell_unref(f->sc.params_nocode);
  memset(f, 0, sizeof(*f));
}

/* A TL int field: absent is 0 (TL's JSON reader fills defaults); present must be an integer
 * within [min, INT32_MAX]. */
static int get_int(json_t *root, const char *key, int64_t min, int64_t *out, struct err *e) {
  json_t *v = json_object_get(root, key);
  *out = 0;
  if (!v) return 0;
  if (!json_is_integer(v)) return err_set(e, ERR_PARSE, "fake-TON config: %s must be an integer", key);
  json_int_t x = json_integer_value(v);
  if (x < min || x > INT32_MAX)
    return err_set(e, ERR_PARSE, "fake-TON config: %s = %lld is outside %lld..%d", key, (long long)x,
                   (long long)min, INT32_MAX);
  *out = (int64_t)x;
  return 0;
}

/* A TL vector field: absent is empty; present must be an array. */
static int get_array(json_t *root, const char *key, size_t *n, struct err *e) {
  json_t *v = json_object_get(root, key);
  *n = 0;
  if (!v) return 0;
  if (!json_is_array(v)) return err_set(e, ERR_PARSE, "fake-TON config: %s must be a list", key);
  *n = json_array_size(v);
  return 0;
}

/* A code field: hex of a one-root BoC; absent or "" is an empty cell (COCOON's deserialize_boc). */
static int get_code(json_t *root, const char *key, struct ton_cell **out, struct err *e) {
  json_t *v = json_object_get(root, key);
  *out = NULL;
  if (v && !json_is_string(v)) return err_set(e, ERR_PARSE, "fake-TON config: %s must be a hex string", key);
  size_t n = v ? json_string_length(v) : 0;
  if (n == 0) {
    *out = ton_cell_empty();
    return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
  }
  if (n % 2) return err_set(e, ERR_PARSE, "fake-TON config: %s: odd number of hex digits", key);
  uint8_t *bin = malloc(n / 2);
  if (!bin) return err_set(e, ERR_NOMEM, "out of memory");
  int rc = 0;
  if (util_unhex(json_string_value(v), n, bin, n / 2)) {
    rc = err_set(e, ERR_PARSE, "fake-TON config: %s is not hex", key);
  } else {
    struct err be = {0};
    if (ton_boc_parse_one(bin, n / 2, out, &be))
      rc = err_set(e, ERR_PARSE, "fake-TON config: %s: %s", key, be.msg);
  }
  free(bin);
  return rc;
}

int chain_fake_ton_parse(const char *json, size_t len, struct chain_fake_ton *out, struct err *e) {
  memset(out, 0, sizeof(*out));
  json_error_t je;
  json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) return err_set(e, ERR_PARSE, "fake-TON config: line %d: %s", je.line, je.text);
  int rc = 0;
  int64_t price = 0, fee = 0, version = 0, pversion = 0, seqno = 0;
  size_t n = 0, n_types = 0, n_names = 0;
  static const char *const lists[] = {"proxy_hashes", "worker_hashes", "model_hashes", "registered_proxies"};
  if (!json_is_object(root)) {
    rc = err_set(e, ERR_PARSE, "fake-TON config: the top level must be an object");
    goto out;
  }
  for (size_t i = 0; i < CC_ARRAY_LEN(lists) && !rc; i++) rc = get_array(root, lists[i], &n, e);
  if (rc || (rc = get_array(root, "model_types", &n_types, e)) || (rc = get_array(root, "model_names", &n_names, e)))
    goto out;
  if ((rc = get_int(root, "price_per_token", 0, &price, e)) || (rc = get_int(root, "worker_fee_per_token", 0, &fee, e)) ||
      (rc = get_int(root, "version", INT32_MIN, &version, e)) ||
      (rc = get_int(root, "params_version", INT32_MIN, &pversion, e)) ||
      (rc = get_int(root, "last_proxy_seqno", INT32_MIN, &seqno, e)))
    goto out;
  if ((rc = get_code(root, "proxy_sc_code", &out->sc.proxy_code, e)) ||
      (rc = get_code(root, "worker_sc_code", &out->sc.worker_code, e)) ||
      (rc = get_code(root, "client_sc_code", &out->sc.client_code, e)))
    goto out;
  json_t *owner = json_object_get(root, "root_owner_address");
  if (owner && (!json_is_string(owner) || !json_string_length(owner))) {
    rc = err_set(e, ERR_PARSE, "fake-TON config: root_owner_address must be a TON address");
    goto out;
  }
  if (owner) {
    struct err ae = {0};
    if (ton_addr_parse(json_string_value(owner), &out->root_owner, NULL, &ae)) {
      rc = err_set(e, ERR_PARSE, "fake-TON config: root_owner_address: %s", ae.msg);
      goto out;
    }
    out->has_root_owner = 1;
  }
  out->version = (int32_t)version;
  out->n_models = n_types + n_names;
  struct chain_root_params *p = &out->params;
  p->struct_version = 1;
  p->params_version = (uint32_t)(int32_t)pversion; /* TL int stored as u32, as COCOON's cast does */
  p->unique_id = 13;
  p->is_test = 1;
  p->price_per_token = (uint64_t)price;
  p->worker_fee_per_token = (uint64_t)fee;
  p->proxy_delay_before_close = 600;
  p->client_delay_before_close = 300;
  p->min_proxy_stake = 1000000000;
  p->min_client_stake = 1000000000;
  out->sc.min_client_stake = p->min_client_stake;
  if ((rc = chain_root_params_cell(p, NULL, out->sc.worker_code, out->sc.client_code, &out->sc.proxy_params, e)) ||
      (rc = chain_root_params_cell(p, NULL, NULL, NULL, &out->sc.params_nocode, e)))
    goto out;
out:
  json_decref(root);
  if (rc) chain_fake_ton_clear(out);
  return rc;
}

int chain_fake_ton_load(const char *path, struct chain_fake_ton *out, struct err *e) {
  memset(out, 0, sizeof(*out));
  struct buf b;
  buf_init(&b, 0);
  int rc = buf_read_file(&b, path, CHAIN_FAKE_TON_MAX_FILE, e);
  if (!rc) {
    struct err pe = {0};
    if ((rc = chain_fake_ton_parse((const char *)buf_ptr(&b), b.len, out, &pe))) err_set(e, rc, "%s: %s", path, pe.msg);
  }
  buf_free(&b);
  return rc;
}
