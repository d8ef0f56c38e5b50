/* cell: TON ordinary cells, a builder, a bounds-checked slice reader, representation hashes. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ton/cell.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

struct ton_cell *ton_cell_ref(struct ton_cell *c) {
  if (c) c->refcnt++;
  return c;
}

void ton_cell_unref(struct ton_cell *c) {
  /* Recursion depth is bounded by TON_CELL_MAX_DEPTH. */
  if (!c || --c->refcnt > 0) return;
  for (unsigned i = 0; i < c->nrefs; i++) ton_cell_unref(c->refs[i]);
  free(c);
}

uint8_t ton_cell_d1(const struct ton_cell *c) { return c->nrefs; }

uint8_t ton_cell_d2(const struct ton_cell *c) {
  return (uint8_t)(c->bits / 8 + (c->bits + 7) / 8);
}

size_t ton_cell_padded_data(const struct ton_cell *c, uint8_t *out) {
  size_t n = ((size_t)c->bits + 7) / 8;
  memcpy(out, c->data, n);
  if (c->bits % 8) out[c->bits / 8] |= (uint8_t)(0x80u >> (c->bits % 8));
  return n;
}

/* Representation hash of a level-0 ordinary cell: SHA-256(d1 d2 data depths hashes). */
static void cell_finish(struct ton_cell *c) {
  uint8_t in[2 + TON_CELL_MAX_BYTES + TON_CELL_MAX_REFS * (2 + TON_HASH_LEN)];
  size_t n = 0;
  in[n++] = ton_cell_d1(c);
  in[n++] = ton_cell_d2(c);
  n += ton_cell_padded_data(c, in + n);
  unsigned depth = 0;
  for (unsigned i = 0; i < c->nrefs; i++) {
    unsigned d = c->refs[i]->depth;
    in[n++] = (uint8_t)(d >> 8);
    in[n++] = (uint8_t)d;
    if (d + 1 > depth) depth = d + 1;
  }
  for (unsigned i = 0; i < c->nrefs; i++) {
    memcpy(in + n, c->refs[i]->hash, TON_HASH_LEN);
    n += TON_HASH_LEN;
  }
  c->depth = (uint16_t)depth;
  SHA256(in, n, c->hash);
}

static unsigned max_child_depth(struct ton_cell *const *refs, unsigned nrefs) {
  unsigned d = 0;
  for (unsigned i = 0; i < nrefs; i++)
    if (refs[i]->depth + 1u > d) d = refs[i]->depth + 1u;
  return d;
}

int ton_cell_new(const uint8_t *data, unsigned bits, struct ton_cell *const *refs, unsigned nrefs,
                 struct ton_cell **out, struct err *e) {
  *out = NULL;
  if (bits > TON_CELL_MAX_BITS)
    return err_set(e, ERR_LIMIT, "cell has %u data bits (at most %d)", bits, TON_CELL_MAX_BITS);
  if (nrefs > TON_CELL_MAX_REFS)
    return err_set(e, ERR_LIMIT, "cell has %u refs (at most %d)", nrefs, TON_CELL_MAX_REFS);
  for (unsigned i = 0; i < nrefs; i++)
    if (!refs[i]) return err_set(e, ERR_INVALID, "cell ref %u is NULL", i);
  if (max_child_depth(refs, nrefs) > TON_CELL_MAX_DEPTH)
    return err_set(e, ERR_LIMIT, "cell depth exceeds %d", TON_CELL_MAX_DEPTH);
  struct ton_cell *c = calloc(1, sizeof(*c));
  if (!c) return err_set(e, ERR_NOMEM, "out of memory for a cell");
  c->refcnt = 1;
  c->bits = (uint16_t)bits;
  size_t nbytes = ((size_t)bits + 7) / 8;
  if (nbytes) memcpy(c->data, data, nbytes);
  if (bits % 8) c->data[bits / 8] &= (uint8_t)(0xFF00u >> (bits % 8));
  c->nrefs = (uint8_t)nrefs;
  for (unsigned i = 0; i < nrefs; i++) c->refs[i] = ton_cell_ref(refs[i]);
  cell_finish(c);
  *out = c;
  return 0;
}

struct ton_cell *ton_cell_empty(void) {
  struct ton_cell *c = NULL;
  if (ton_cell_new(NULL, 0, NULL, 0, &c, NULL) != 0) return NULL;
  return c;
}

void ton_cell_data_hex(const struct ton_cell *c, char *out, size_t outsz) {
  static const char hx[] = "0123456789abcdef";
  uint8_t pad[TON_CELL_MAX_BYTES];
  (void)ton_cell_padded_data(c, pad);
  /* With bits % 4 != 0 the last nibble carries the completion tag and is marked with "_". */
  unsigned nibbles = (c->bits + 3u) / 4u;
  size_t o = 0;
  for (unsigned i = 0; i < nibbles && o + 1 < outsz; i++) {
    uint8_t byte = pad[i / 2];
    out[o++] = hx[(i % 2) ? (byte & 0xF) : (byte >> 4)];
  }
  if (c->bits % 4 && o + 1 < outsz) out[o++] = '_';
  if (outsz) out[o < outsz ? o : outsz - 1] = '\0';
}

/* ---- builder ---- */

void ton_builder_init(struct ton_builder *b) { memset(b, 0, sizeof(*b)); }

void ton_builder_clear(struct ton_builder *b) {
  for (unsigned i = 0; i < b->nrefs; i++) ton_cell_unref(b->refs[i]);
  ton_builder_init(b);
}

unsigned ton_builder_bits_left(const struct ton_builder *b) { return TON_CELL_MAX_BITS - b->bits; }
unsigned ton_builder_refs_left(const struct ton_builder *b) { return TON_CELL_MAX_REFS - b->nrefs; }

/* Appends one bit; the caller checked room. */
static void put_bit(struct ton_builder *b, unsigned bit) {
  if (bit) b->data[b->bits / 8] |= (uint8_t)(0x80u >> (b->bits % 8));
  b->bits++;
}

int ton_builder_store_uint(struct ton_builder *b, uint64_t v, unsigned nbits) {
  if (nbits > 64) return ERR_INVALID;
  if (nbits < 64 && (v >> nbits) != 0) return ERR_INVALID;
  if (nbits > ton_builder_bits_left(b)) return ERR_LIMIT;
  for (unsigned i = nbits; i-- > 0;) put_bit(b, (unsigned)((v >> i) & 1u));
  return 0;
}

int ton_builder_store_int(struct ton_builder *b, int64_t v, unsigned nbits) {
  if (nbits == 0 || nbits > 64) return ERR_INVALID;
  if (nbits < 64) {
    int64_t lo = -((int64_t)1 << (nbits - 1)), hi = ((int64_t)1 << (nbits - 1)) - 1;
    if (v < lo || v > hi) return ERR_INVALID;
  }
  if (nbits > ton_builder_bits_left(b)) return ERR_LIMIT;
  uint64_t u = (uint64_t)v;
  for (unsigned i = nbits; i-- > 0;) put_bit(b, (unsigned)((u >> i) & 1u));
  return 0;
}

int ton_builder_store_bit(struct ton_builder *b, int bit) {
  return ton_builder_store_uint(b, bit ? 1u : 0u, 1);
}

int ton_builder_store_bits(struct ton_builder *b, const uint8_t *src, unsigned nbits) {
  if (nbits > ton_builder_bits_left(b)) return ERR_LIMIT;
  for (unsigned i = 0; i < nbits; i++) put_bit(b, (src[i / 8] >> (7 - i % 8)) & 1u);
  return 0;
}

int ton_builder_store_bytes(struct ton_builder *b, const void *src, size_t n) {
  if (n > TON_CELL_MAX_BYTES) return ERR_LIMIT;
  return ton_builder_store_bits(b, src, (unsigned)n * 8);
}

int ton_builder_store_ref(struct ton_builder *b, struct ton_cell *c) {
  if (!c) return ERR_INVALID;
  if (b->nrefs >= TON_CELL_MAX_REFS) return ERR_LIMIT;
  b->refs[b->nrefs++] = ton_cell_ref(c);
  return 0;
}

int ton_builder_store_maybe_ref(struct ton_builder *b, struct ton_cell *c) {
  if (!c) return ton_builder_store_bit(b, 0);
  if (b->nrefs >= TON_CELL_MAX_REFS || ton_builder_bits_left(b) < 1) return ERR_LIMIT;
  if (ton_builder_store_bit(b, 1) != 0) return ERR_LIMIT;
  return ton_builder_store_ref(b, c);
}

/* Width of VarUInteger n's length field: the number of bits to hold n - 1. */
static int varuint_len_bits(unsigned n, unsigned *out) {
  if (n < 2 || n > 128) return ERR_INVALID;
  unsigned w = 0;
  while ((1u << w) < n) w++;
  *out = w;
  return 0;
}

int ton_builder_store_varuint(struct ton_builder *b, unsigned n, const uint8_t *be, size_t len) {
  unsigned lb;
  if (varuint_len_bits(n, &lb) != 0) return ERR_INVALID;
  while (len > 0 && be[0] == 0) {
    be++;
    len--;
  }
  if (len >= n) return ERR_INVALID; /* the length field holds at most n - 1 bytes */
  if (lb + len * 8 > ton_builder_bits_left(b)) return ERR_LIMIT;
  int rc = ton_builder_store_uint(b, len, lb);
  if (rc == 0) rc = ton_builder_store_bits(b, be, (unsigned)len * 8);
  return rc;
}

int ton_builder_store_coins(struct ton_builder *b, uint64_t nano) {
  uint8_t be[8];
  for (unsigned i = 0; i < 8; i++) be[i] = (uint8_t)(nano >> (56 - 8 * i));
  return ton_builder_store_varuint(b, 16, be, sizeof(be));
}

int ton_builder_store_cell_contents(struct ton_builder *b, const struct ton_cell *c) {
  if (c->bits > ton_builder_bits_left(b) || c->nrefs > ton_builder_refs_left(b)) return ERR_LIMIT;
  if (ton_builder_store_bits(b, c->data, c->bits) != 0) return ERR_LIMIT;
  for (unsigned i = 0; i < c->nrefs; i++)
    if (ton_builder_store_ref(b, c->refs[i]) != 0) return ERR_LIMIT;
  return 0;
}

int ton_builder_end(struct ton_builder *b, struct ton_cell **out, struct err *e) {
  int rc = ton_cell_new(b->data, b->bits, b->refs, b->nrefs, out, e);
  ton_builder_clear(b);
  return rc;
}

/* ---- slice ---- */

void ton_slice_init(struct ton_slice *s, const struct ton_cell *c) {
  s->cell = c;
  s->pos = 0;
  s->ref_pos = 0;
}

unsigned ton_slice_bits_left(const struct ton_slice *s) { return s->cell->bits - s->pos; }
unsigned ton_slice_refs_left(const struct ton_slice *s) { return s->cell->nrefs - s->ref_pos; }

int ton_slice_end(const struct ton_slice *s) {
  return (ton_slice_bits_left(s) || ton_slice_refs_left(s)) ? ERR_PARSE : 0;
}

static unsigned get_bit(const struct ton_slice *s, unsigned at) {
  return (s->cell->data[at / 8] >> (7 - at % 8)) & 1u;
}

int ton_slice_load_uint(struct ton_slice *s, unsigned nbits, uint64_t *out) {
  if (nbits > 64) return ERR_INVALID;
  if (nbits > ton_slice_bits_left(s)) return ERR_PARSE;
  uint64_t v = 0;
  for (unsigned i = 0; i < nbits; i++) v = (v << 1) | get_bit(s, s->pos + i);
  s->pos = (uint16_t)(s->pos + nbits);
  *out = v;
  return 0;
}

int ton_slice_load_int(struct ton_slice *s, unsigned nbits, int64_t *out) {
  if (nbits == 0 || nbits > 64) return ERR_INVALID;
  uint64_t u;
  int rc = ton_slice_load_uint(s, nbits, &u);
  if (rc) return rc;
  if (nbits < 64 && (u >> (nbits - 1)) & 1u) u |= ~(uint64_t)0 << nbits; /* sign-extend */
  /* Two's-complement reinterpretation without implementation-defined conversion. */
  *out = (u > (uint64_t)INT64_MAX) ? -(int64_t)(~u) - 1 : (int64_t)u;
  return 0;
}

int ton_slice_load_bit(struct ton_slice *s, int *out) {
  uint64_t v;
  int rc = ton_slice_load_uint(s, 1, &v);
  if (rc == 0) *out = (int)v;
  return rc;
}

int ton_slice_load_bits(struct ton_slice *s, unsigned nbits, uint8_t *out) {
  if (nbits > ton_slice_bits_left(s)) return ERR_PARSE;
  memset(out, 0, ((size_t)nbits + 7) / 8);
  for (unsigned i = 0; i < nbits; i++)
    if (get_bit(s, s->pos + i)) out[i / 8] |= (uint8_t)(0x80u >> (i % 8));
  s->pos = (uint16_t)(s->pos + nbits);
  return 0;
}

int ton_slice_load_ref(struct ton_slice *s, const struct ton_cell **out) {
  if (!ton_slice_refs_left(s)) return ERR_PARSE;
  *out = s->cell->refs[s->ref_pos++];
  return 0;
}

int ton_slice_load_maybe_ref(struct ton_slice *s, const struct ton_cell **out) {
  struct ton_slice save = *s;
  int bit;
  int rc = ton_slice_load_bit(s, &bit);
  if (rc) return rc;
  if (!bit) {
    *out = NULL;
    return 0;
  }
  rc = ton_slice_load_ref(s, out);
  if (rc) *s = save;
  return rc;
}

int ton_slice_load_varuint(struct ton_slice *s, unsigned n, uint8_t *be, size_t cap, size_t *len) {
  unsigned lb;
  if (varuint_len_bits(n, &lb) != 0) return ERR_INVALID;
  struct ton_slice save = *s;
  uint64_t l;
  int rc = ton_slice_load_uint(s, lb, &l);
  if (rc) return rc;
  if (l > cap) {
    *s = save;
    return ERR_LIMIT;
  }
  rc = ton_slice_load_bits(s, (unsigned)l * 8, be);
  if (rc) {
    *s = save;
    return rc;
  }
  *len = (size_t)l;
  return 0;
}

int ton_slice_load_coins(struct ton_slice *s, uint64_t *out) {
  uint8_t be[15];
  size_t len = 0;
  struct ton_slice save = *s;
  int rc = ton_slice_load_varuint(s, 16, be, sizeof(be), &len);
  if (rc) return rc;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (v >> 56) {
      *s = save;
      return ERR_LIMIT;
    }
    v = (v << 8) | be[i];
  }
  *out = v;
  return 0;
}
