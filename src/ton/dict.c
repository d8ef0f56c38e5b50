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
