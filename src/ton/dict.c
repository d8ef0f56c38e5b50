/* dict: reading TON dictionaries (HashmapE n X, Patricia trees over cells), bounded. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ton/dict.h"

#include <string.h>

struct walk {
  unsigned keybits;
  unsigned count;
  ton_dict_entry_cb cb;
  void *arg;
  struct err *e;
  uint8_t key[(TON_DICT_MAX_KEY_BITS + 7) / 8];
};

static void set_bit(uint8_t *key, unsigned pos, int v) {
  if (v)
    key[pos / 8] |= (uint8_t)(0x80u >> (pos % 8));
  else
    key[pos / 8] &= (uint8_t)~(0x80u >> (pos % 8));
}

/* Bits needed for a number 0..m: ceil(log2(m + 1)). */
static unsigned len_bits(unsigned m) {
  unsigned n = 0;
  while ((1u << n) <= m) n++;
  return n;
}

/* Reads the label of a node whose remaining key length is m; writes its bits at key[pos...]. */
static int load_label(struct walk *w, struct ton_slice *s, unsigned m, unsigned pos, unsigned *len) {
  int b0, b1;
  uint64_t n = 0;
  if (ton_slice_load_bit(s, &b0)) return ERR_PARSE;
  if (!b0) { /* hml_short$0 len:(Unary ~n) s:(n * Bit) */
    int one;
    for (;;) {
      if (ton_slice_load_bit(s, &one)) return ERR_PARSE;
      if (!one) break;
      if (++n > m) return ERR_PARSE;
    }
    for (uint64_t i = 0; i < n; i++) {
      int v;
      if (ton_slice_load_bit(s, &v)) return ERR_PARSE;
      set_bit(w->key, pos + (unsigned)i, v);
    }
  } else {
    if (ton_slice_load_bit(s, &b1)) return ERR_PARSE;
    unsigned nb = len_bits(m);
    if (!b1) { /* hml_long$10 n:(#<= m) s:(n * Bit) */
      if (ton_slice_load_uint(s, nb, &n) || n > m) return ERR_PARSE;
      for (uint64_t i = 0; i < n; i++) {
        int v;
        if (ton_slice_load_bit(s, &v)) return ERR_PARSE;
        set_bit(w->key, pos + (unsigned)i, v);
      }
    } else { /* hml_same$11 v:Bit n:(#<= m) */
      int v;
      if (ton_slice_load_bit(s, &v) || ton_slice_load_uint(s, nb, &n) || n > m) return ERR_PARSE;
      for (uint64_t i = 0; i < n; i++) set_bit(w->key, pos + (unsigned)i, v);
    }
  }
  *len = (unsigned)n;
  return 0;
}

/* m: key bits still to read below this node; pos: key bits read so far. */
static int walk_node(struct walk *w, const struct ton_cell *c, unsigned m, unsigned pos) {
  struct ton_slice s;
  unsigned l;
  ton_slice_init(&s, c);
  if (load_label(w, &s, m, pos, &l))
    return err_set(w->e, ERR_PARSE, "dict: bad label at key bit %u", pos);
  m -= l;
  pos += l;
  if (m == 0) {
    if (++w->count > TON_DICT_MAX_ENTRIES)
      return err_set(w->e, ERR_LIMIT, "dict: more than %u entries", TON_DICT_MAX_ENTRIES);
    int rc = w->cb(w->key, w->keybits, &s, w->arg);
    if (rc && w->e && w->e->code != rc) err_set(w->e, rc, "dict: entry refused");
    return rc;
  }
  const struct ton_cell *left, *right;
  if (ton_slice_load_ref(&s, &left) || ton_slice_load_ref(&s, &right) || ton_slice_end(&s))
    return err_set(w->e, ERR_PARSE, "dict: a fork at key bit %u needs exactly two refs and no data", pos);
  set_bit(w->key, pos, 0);
  int rc = walk_node(w, left, m - 1, pos + 1);
  if (rc) return rc;
  set_bit(w->key, pos, 1);
  return walk_node(w, right, m - 1, pos + 1);
}

int ton_dict_foreach(const struct ton_cell *root, unsigned keybits, ton_dict_entry_cb cb, void *arg, struct err *e) {
  if (keybits == 0 || keybits > TON_DICT_MAX_KEY_BITS)
    return err_set(e, ERR_INVALID, "dict: key length %u is out of range", keybits);
  if (!root) return 0;
  struct walk w = {.keybits = keybits, .cb = cb, .arg = arg, .e = e};
  if (e) e->code = 0;
  return walk_node(&w, root, keybits, 0);
}

int ton_slice_load_dict(struct ton_slice *s, const struct ton_cell **root) {
  struct ton_slice save = *s;
  int bit;
  *root = NULL;
  if (ton_slice_load_bit(s, &bit)) return ERR_PARSE;
  if (bit && ton_slice_load_ref(s, root)) {
    *s = save;
    return ERR_PARSE;
  }
  return 0;
}

/* ---------------------------------------------------------------- building */

struct build {
  const uint8_t *keys;
  size_t stride;
  ton_dict_value_cb cb;
  void *arg;
  struct err *e;
};

static int key_bit(const struct build *b, size_t i, unsigned pos) {
  return (b->keys[i * b->stride + pos / 8] >> (7 - pos % 8)) & 1;
}

/* The label of entries [lo, hi) at bits [pos, pos + l) of their keys, m bits of key left. */
static int store_label(const struct build *b, struct ton_builder *bd, size_t lo, unsigned pos, unsigned l,
                       unsigned m) {
  unsigned lb = len_bits(m);
  unsigned short_len = 2 + 2 * l, long_len = 2 + lb + l, same_len = 3 + lb;
  int same = 1;
  for (unsigned i = 1; i < l && same; i++) same = key_bit(b, lo, pos + i) == key_bit(b, lo, pos);
  int rc = 0;
  if (same && same_len < short_len && same_len < long_len) {
    rc = ton_builder_store_uint(bd, 3, 2);
    if (!rc) rc = ton_builder_store_bit(bd, l ? key_bit(b, lo, pos) : 0);
    if (!rc) rc = ton_builder_store_uint(bd, l, lb);
    return rc;
  }
  if (long_len < short_len) {
    rc = ton_builder_store_uint(bd, 2, 2);
    if (!rc) rc = ton_builder_store_uint(bd, l, lb);
  } else {
    rc = ton_builder_store_bit(bd, 0);
    for (unsigned i = 0; i < l && !rc; i++) rc = ton_builder_store_bit(bd, 1);
    if (!rc) rc = ton_builder_store_bit(bd, 0);
  }
  for (unsigned i = 0; i < l && !rc; i++) rc = ton_builder_store_bit(bd, key_bit(b, lo, pos + i));
  return rc;
}

/* The edge for entries [lo, hi) (hi > lo), which agree on key bits before pos; m bits remain. */
static int build_edge(const struct build *b, size_t lo, size_t hi, unsigned pos, unsigned m, struct ton_cell **out) {
  unsigned l = 0;
  while (l < m && key_bit(b, lo, pos + l) == key_bit(b, hi - 1, pos + l)) l++; /* sorted: first vs last */
  struct ton_builder bd;
  ton_builder_init(&bd);
  int rc = store_label(b, &bd, lo, pos, l, m);
  if (rc) {
    ton_builder_clear(&bd);
    return err_set(b->e, ERR_LIMIT, "dict: a label does not fit its cell");
  }
  if (l == m) {
    if (hi - lo != 1) {
      ton_builder_clear(&bd);
      return err_set(b->e, ERR_INVALID, "dict: keys %zu and %zu are equal", lo, lo + 1);
    }
    if ((rc = b->cb(lo, &bd, b->arg))) {
      ton_builder_clear(&bd);
      if (!b->e || !b->e->msg[0]) return err_set(b->e, rc, "dict: entry %zu does not fit its leaf cell", lo);
      return rc;
    }
  } else {
    size_t mid = lo;
    while (mid < hi && key_bit(b, mid, pos + l) == 0) mid++;
    struct ton_cell *left = NULL, *right = NULL;
    rc = build_edge(b, lo, mid, pos + l + 1, m - l - 1, &left);
    if (!rc) rc = build_edge(b, mid, hi, pos + l + 1, m - l - 1, &right);
    if (!rc && (ton_builder_store_ref(&bd, left) || ton_builder_store_ref(&bd, right)))
      rc = err_set(b->e, ERR_LIMIT, "dict: a fork does not fit its cell");
    ton_cell_unref(left);
    ton_cell_unref(right);
    if (rc) {
      ton_builder_clear(&bd);
      return rc;
    }
  }
  return ton_builder_end(&bd, out, b->e);
}

int ton_dict_build(const uint8_t *keys, size_t stride, size_t n, unsigned keybits, ton_dict_value_cb cb, void *arg,
                   struct ton_cell **root, struct err *e) {
  *root = NULL;
  if (keybits == 0 || keybits > TON_DICT_MAX_KEY_BITS || stride * 8 < keybits)
    return err_set(e, ERR_INVALID, "dict: key length %u is out of range", keybits);
  if (n > TON_DICT_MAX_ENTRIES) return err_set(e, ERR_LIMIT, "dict: more than %u entries", TON_DICT_MAX_ENTRIES);
  if (n == 0) return 0;
  struct build b = {.keys = keys, .stride = stride, .cb = cb, .arg = arg, .e = e};
  /* Strictly ascending keys: compare bit by bit (keybits need not be a multiple of 8). */
  for (size_t i = 1; i < n; i++) {
    int cmp = 0;
    for (unsigned p = 0; p < keybits && !cmp; p++) cmp = key_bit(&b, i, p) - key_bit(&b, i - 1, p);
    if (cmp <= 0) return err_set(e, ERR_INVALID, "dict: key %zu is not above key %zu", i, i - 1);
  }
  if (e) e->msg[0] = 0;
  return build_edge(&b, 0, n, 0, keybits, root);
}

int ton_builder_store_dict(struct ton_builder *b, struct ton_cell *root) {
  return ton_builder_store_maybe_ref(b, root);
}
