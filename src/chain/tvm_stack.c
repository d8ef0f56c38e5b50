/* tvm_stack: toncenter runGetMethod results (the JSON `stack`) as typed values. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "chain/tvm_stack.h"

#include <string.h>

#include "base/buf.h"
#include "chain/b64.h"
#include "ton/boc.h"

void chain_tvm_stack_clear(struct chain_tvm_stack *s) {
  for (size_t i = 0; i < s->n; i++) ton_cell_unref(s->v[i].cell);
  memset(s, 0, sizeof(*s));
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* "0x1f", "-0x1f" (toncenter), or a decimal string (some gateways). int257 range. */
static int parse_num(const char *s, struct chain_tvm_entry *v) {
  size_t n = strlen(s);
  v->neg = 0;
  memset(v->mag, 0, sizeof(v->mag));
  if (n && s[0] == '-') {
    v->neg = 1;
    s++;
    n--;
  }
  if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s += 2;
    n -= 2;
    if (n == 0) return ERR_PARSE;
    while (n > 1 && s[0] == '0') {
      s++;
      n--;
    }
    if (n > 66) return ERR_PARSE;
    for (size_t i = 0; i < n; i++) {
      int d = hexval((unsigned char)s[n - 1 - i]);
      if (d < 0) return ERR_PARSE;
      v->mag[32 - i / 2] |= (uint8_t)(i % 2 ? d << 4 : d);
    }
  } else {
    if (n == 0 || n > 80) return ERR_PARSE;
    for (size_t i = 0; i < n; i++) { /* mag = mag * 10 + digit */
      if (s[i] < '0' || s[i] > '9') return ERR_PARSE;
      unsigned carry = (unsigned)(s[i] - '0');
      for (int k = 32; k >= 0; k--) {
        unsigned x = v->mag[k] * 10u + carry;
        v->mag[k] = (uint8_t)x;
        carry = x >> 8;
      }
      if (carry) return ERR_PARSE;
    }
  }
  /* int257: -2^256 .. 2^256-1 */
  if (v->mag[0] > 1) return ERR_PARSE;
  if (v->mag[0] == 1) {
    int rest_zero = 1;
    for (int k = 1; k < 33; k++) rest_zero &= v->mag[k] == 0;
    if (!v->neg || !rest_zero) return ERR_PARSE;
  }
  int zero = 1;
  for (int k = 0; k < 33; k++) zero &= v->mag[k] == 0;
  if (zero) v->neg = 0;
  return 0;
}

static int parse_boc_entry(json_t *obj, struct chain_tvm_entry *v, size_t i, struct err *e) {
  /* {"bytes": b64, "object": ...} or a bare base64 string */
  const char *b64 = json_is_string(obj) ? json_string_value(obj) : json_string_value(json_object_get(obj, "bytes"));
  if (!b64) return err_set(e, ERR_PARSE, "get method: stack entry %zu: no BoC bytes", i);
  size_t len = strlen(b64);
  if (len / 4 * 3 > CHAIN_TVM_MAX_BOC) return err_set(e, ERR_LIMIT, "get method: stack entry %zu: BoC too large", i);
  struct buf b;
  buf_init(&b, CHAIN_TVM_MAX_BOC + 4);
  int rc = chain_b64_decode(b64, len, &b);
  if (rc) {
    buf_free(&b);
    return err_set(e, ERR_PARSE, "get method: stack entry %zu: bad base64", i);
  }
  struct err be = {0};
  rc = ton_boc_parse_one(buf_ptr(&b), b.len, &v->cell, &be);
  buf_free(&b);
  if (rc) return err_set(e, rc, "get method: stack entry %zu: %s", i, be.msg);
  return 0;
}

int chain_tvm_stack_from_json(json_t *result, struct chain_tvm_stack *out, struct err *e) {
  memset(out, 0, sizeof(*out));
  if (!json_is_object(result)) return err_set(e, ERR_PARSE, "get method: the result is not an object");
  json_t *ec = json_object_get(result, "exit_code");
  if (!json_is_integer(ec)) return err_set(e, ERR_PARSE, "get method: no exit_code");
  json_int_t code = json_integer_value(ec);
  if (code < -(1LL << 31) || code > (1LL << 31)) return err_set(e, ERR_PARSE, "get method: bad exit_code");
  out->exit_code = (int)code;
  json_t *gas = json_object_get(result, "gas_used");
  if (json_is_integer(gas) && json_integer_value(gas) >= 0) out->gas_used = (uint64_t)json_integer_value(gas);
  if (code != 0 && code != 1)
    return err_set(e, ERR_REFUSED, "get method failed with exit code %d", out->exit_code);
  json_t *st = json_object_get(result, "stack");
  if (!json_is_array(st)) return err_set(e, ERR_PARSE, "get method: no stack array");
  if (json_array_size(st) > CHAIN_TVM_MAX_ENTRIES)
    return err_set(e, ERR_LIMIT, "get method: %zu stack entries (at most %d)", json_array_size(st),
                   CHAIN_TVM_MAX_ENTRIES);
  for (size_t i = 0; i < json_array_size(st); i++) {
    json_t *ent = json_array_get(st, i);
    const char *type = json_string_value(json_array_get(ent, 0));
    struct chain_tvm_entry *v = &out->v[i];
    if (!json_is_array(ent) || !type) return err_set(e, ERR_PARSE, "get method: stack entry %zu is malformed", i);
    out->n = i + 1; /* so that clear() releases what this entry holds */
    if (!strcmp(type, "num") || !strcmp(type, "int")) {
      const char *s = json_string_value(json_array_get(ent, 1));
      v->type = CHAIN_TVM_NUM;
      if (json_array_size(ent) != 2 || !s || parse_num(s, v))
        return err_set(e, ERR_PARSE, "get method: stack entry %zu: bad number", i);
    } else if (!strcmp(type, "cell") || !strcmp(type, "tvm.Cell") || !strcmp(type, "builder")) {
      v->type = CHAIN_TVM_CELL;
      int rc = json_array_size(ent) == 2 ? parse_boc_entry(json_array_get(ent, 1), v, i, e)
                                         : err_set(e, ERR_PARSE, "get method: stack entry %zu: bad cell", i);
      if (rc) return rc;
    } else if (!strcmp(type, "slice") || !strcmp(type, "tvm.Slice")) {
      v->type = CHAIN_TVM_SLICE;
      int rc = json_array_size(ent) == 2 ? parse_boc_entry(json_array_get(ent, 1), v, i, e)
                                         : err_set(e, ERR_PARSE, "get method: stack entry %zu: bad slice", i);
      if (rc) return rc;
    } else if (!strcmp(type, "null")) {
      v->type = CHAIN_TVM_NULL;
    } else {
      return err_set(e, ERR_PARSE, "get method: stack entry %zu: type '%.32s' is not supported", i, type);
    }
  }
  return 0;
}

int chain_tvm_stack_parse(const char *json, size_t len, struct chain_tvm_stack *out, struct err *e) {
  memset(out, 0, sizeof(*out));
  if (len > CHAIN_TVM_MAX_JSON) return err_set(e, ERR_LIMIT, "get method: answer of %zu bytes is too large", len);
  json_error_t je;
  json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) return err_set(e, ERR_PARSE, "get method: bad JSON: %s", je.text);
  json_t *result = root;
  int rc = 0;
  json_t *ok = json_object_get(root, "ok");
  if (ok) {
    if (!json_is_true(ok)) {
      const char *msg = json_string_value(json_object_get(root, "error"));
      rc = err_set(e, ERR_REFUSED, "toncenter: %.200s", msg ? msg : "ok:false without an error text");
      goto out;
    }
    result = json_object_get(root, "result");
  }
  rc = chain_tvm_stack_from_json(result, out, e);
out:
  json_decref(root);
  return rc;
}

static int want(const struct chain_tvm_stack *s, size_t i, enum chain_tvm_type t, struct err *e) {
  static const char *const names[] = {"null", "number", "cell", "slice"};
  if (i >= s->n) return err_set(e, ERR_PARSE, "get method: %zu stack entries, entry %zu missing", s->n, i);
  if (s->v[i].type == t || (t == CHAIN_TVM_CELL && s->v[i].type == CHAIN_TVM_SLICE) ||
      (t == CHAIN_TVM_SLICE && s->v[i].type == CHAIN_TVM_CELL))
    return 0;
  return err_set(e, ERR_PARSE, "get method: entry %zu is a %s, expected a %s", i, names[s->v[i].type], names[t]);
}

int chain_tvm_get_u64(const struct chain_tvm_stack *s, size_t i, uint64_t *out, struct err *e) {
  int rc = want(s, i, CHAIN_TVM_NUM, e);
  if (rc) return rc;
  const struct chain_tvm_entry *v = &s->v[i];
  for (int k = 0; k < 25; k++)
    if (v->mag[k]) return err_set(e, ERR_LIMIT, "get method: entry %zu does not fit 64 bits", i);
  if (v->neg) return err_set(e, ERR_PARSE, "get method: entry %zu is negative", i);
  uint64_t x = 0;
  for (int k = 25; k < 33; k++) x = (x << 8) | v->mag[k];
  *out = x;
  return 0;
}

int chain_tvm_get_i64(const struct chain_tvm_stack *s, size_t i, int64_t *out, struct err *e) {
  int rc = want(s, i, CHAIN_TVM_NUM, e);
  if (rc) return rc;
  const struct chain_tvm_entry *v = &s->v[i];
  for (int k = 0; k < 25; k++)
    if (v->mag[k]) return err_set(e, ERR_LIMIT, "get method: entry %zu does not fit 64 bits", i);
  uint64_t x = 0;
  for (int k = 25; k < 33; k++) x = (x << 8) | v->mag[k];
  if (!v->neg && x > (uint64_t)INT64_MAX) return err_set(e, ERR_LIMIT, "get method: entry %zu does not fit 64 bits", i);
  if (v->neg && x > (uint64_t)INT64_MAX + 1) return err_set(e, ERR_LIMIT, "get method: entry %zu does not fit 64 bits", i);
  *out = v->neg ? (int64_t)(0 - x) : (int64_t)x;
  return 0;
}

int chain_tvm_get_u256(const struct chain_tvm_stack *s, size_t i, uint8_t out[32], struct err *e) {
  int rc = want(s, i, CHAIN_TVM_NUM, e);
  if (rc) return rc;
  if (s->v[i].neg || s->v[i].mag[0]) return err_set(e, ERR_PARSE, "get method: entry %zu is not a 256-bit unsigned", i);
  memcpy(out, s->v[i].mag + 1, 32);
  return 0;
}

int chain_tvm_get_bool(const struct chain_tvm_stack *s, size_t i, int *out, struct err *e) {
  int rc = want(s, i, CHAIN_TVM_NUM, e);
  if (rc) return rc;
  int nz = 0;
  for (int k = 0; k < 33; k++) nz |= s->v[i].mag[k];
  *out = nz != 0;
  return 0;
}

int chain_tvm_get_cell(const struct chain_tvm_stack *s, size_t i, const struct ton_cell **out, struct err *e) {
  int rc = want(s, i, CHAIN_TVM_CELL, e);
  if (rc) return rc;
  *out = s->v[i].cell;
  return 0;
}

int chain_tvm_get_addr(const struct chain_tvm_stack *s, size_t i, struct ton_addr *out, int *is_none, struct err *e) {
  const struct ton_cell *c;
  int rc = chain_tvm_get_cell(s, i, &c, e);
  if (rc) return rc;
  struct ton_slice sl;
  ton_slice_init(&sl, c);
  int none = 0;
  if (ton_slice_load_addr(&sl, out, &none) || ton_slice_end(&sl) || (none && !is_none))
    return err_set(e, ERR_PARSE, "get method: entry %zu is not an address", i);
  if (is_none) *is_none = none;
  return 0;
}
