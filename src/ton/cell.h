/* cell: TON ordinary cells, a builder, a bounds-checked slice reader, representation hashes. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_TON_CELL_H
#define COCOON_TON_CELL_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Hard limits of the cell model (TVM's own). */
#define TON_CELL_MAX_BITS 1023
#define TON_CELL_MAX_BYTES 128 /* ceil(1023 / 8) */
#define TON_CELL_MAX_REFS 4
#define TON_CELL_MAX_DEPTH 1024 /* TVM refuses deeper cells */
#define TON_HASH_LEN 32

/* An immutable ordinary (level 0) cell, reference counted. Bits beyond `bits` in data are
 * zero. `hash` and `depth` are computed once, when the cell is created. */
struct ton_cell {
  unsigned refcnt;
  uint16_t bits;
  uint8_t nrefs;
  uint16_t depth;
  uint8_t data[TON_CELL_MAX_BYTES];
  uint8_t hash[TON_HASH_LEN];
  struct ton_cell *refs[TON_CELL_MAX_REFS]; /* owned references */
};

/* Takes one more reference; returns c. NULL-safe. */
struct ton_cell *ton_cell_ref(struct ton_cell *c);
/* Drops one reference, freeing the cell (and its children's references) at zero. NULL-safe. */
void ton_cell_unref(struct ton_cell *c);

/* Creates a cell from `bits` data bits (MSB first; bits past `bits` are ignored) and `nrefs`
 * children (borrowed; the cell takes its own references). Fails with ERR_LIMIT past the
 * limits above, ERR_NOMEM. */
CC_NODISCARD int ton_cell_new(const uint8_t *data, unsigned bits, struct ton_cell *const *refs,
                              unsigned nrefs, struct ton_cell **out, struct err *e);

/* The empty cell (0 bits, 0 refs); caller unrefs. NULL only on out-of-memory. */
struct ton_cell *ton_cell_empty(void);

/* d1 and d2 descriptor bytes of an ordinary cell, and its data padded with the completion tag
 * (a 1 bit then zeros when bits % 8 != 0). out needs TON_CELL_MAX_BYTES; returns its length. */
uint8_t ton_cell_d1(const struct ton_cell *c);
uint8_t ton_cell_d2(const struct ton_cell *c);
size_t ton_cell_padded_data(const struct ton_cell *c, uint8_t *out);

/* Number of bytes in a hex dump of a cell's data: "x{...}" style is left to callers;
 * this writes the data in TON's hex notation (hex digits, then "_" when the last nibble is
 * padded with a completion tag). out needs 2*TON_CELL_MAX_BYTES+2 bytes. */
void ton_cell_data_hex(const struct ton_cell *c, char *out, size_t outsz);

/* ---- builder ---- */

/* Accumulates bits and refs for one cell. Each store fails (ERR_LIMIT or ERR_INVALID) without
 * changing the builder when the value does not fit. Stored refs are owned by the builder until
 * ton_builder_end hands them to the cell; ton_builder_clear drops them. */
struct ton_builder {
  uint16_t bits;
  uint8_t nrefs;
  uint8_t data[TON_CELL_MAX_BYTES];
  struct ton_cell *refs[TON_CELL_MAX_REFS];
};

void ton_builder_init(struct ton_builder *b);
/* Drops the refs held and resets the builder. */
void ton_builder_clear(struct ton_builder *b);
unsigned ton_builder_bits_left(const struct ton_builder *b);
unsigned ton_builder_refs_left(const struct ton_builder *b);

/* Unsigned v in nbits (0..64); v must fit. */
CC_NODISCARD int ton_builder_store_uint(struct ton_builder *b, uint64_t v, unsigned nbits);
/* Two's-complement v in nbits (1..64); v must fit. */
CC_NODISCARD int ton_builder_store_int(struct ton_builder *b, int64_t v, unsigned nbits);
CC_NODISCARD int ton_builder_store_bit(struct ton_builder *b, int bit);
/* nbits bits of src starting at bit 0 (MSB of src[0]). */
CC_NODISCARD int ton_builder_store_bits(struct ton_builder *b, const uint8_t *src, unsigned nbits);
CC_NODISCARD int ton_builder_store_bytes(struct ton_builder *b, const void *src, size_t n);
/* Borrows c; the builder takes its own reference. */
CC_NODISCARD int ton_builder_store_ref(struct ton_builder *b, struct ton_cell *c);
/* Maybe ^Cell: a 0 bit for NULL, else a 1 bit and the ref. */
CC_NODISCARD int ton_builder_store_maybe_ref(struct ton_builder *b, struct ton_cell *c);
/* VarUInteger n (n = 16 for Coins, 32 for VarUInteger 32): a length field of
 * ceil(log2(n)) bits holding the byte length, then the big-endian value without leading
 * zero bytes. be/len is the big-endian value (leading zeros allowed). */
CC_NODISCARD int ton_builder_store_varuint(struct ton_builder *b, unsigned n, const uint8_t *be,
                                           size_t len);
/* Coins (VarUInteger 16) from a 64-bit amount of nano-TON. */
CC_NODISCARD int ton_builder_store_coins(struct ton_builder *b, uint64_t nano);
/* All bits and refs of another cell (borrowed). */
CC_NODISCARD int ton_builder_store_cell_contents(struct ton_builder *b, const struct ton_cell *c);
/* Finishes the cell: computes its hash and depth; the builder is reset and owns nothing. On
 * failure the builder is cleared too. */
CC_NODISCARD int ton_builder_end(struct ton_builder *b, struct ton_cell **out, struct err *e);

/* ---- slice ---- */

/* A read cursor over one cell (borrowed: the cell must outlive the slice). Loads fail with
 * ERR_PARSE, leaving the cursor unchanged, when the cell has too few bits or refs left. */
struct ton_slice {
  const struct ton_cell *cell;
  uint16_t pos;
  uint8_t ref_pos;
};

void ton_slice_init(struct ton_slice *s, const struct ton_cell *c);
unsigned ton_slice_bits_left(const struct ton_slice *s);
unsigned ton_slice_refs_left(const struct ton_slice *s);
/* 0 when every bit and ref was read, else ERR_PARSE. */
CC_NODISCARD int ton_slice_end(const struct ton_slice *s);
CC_NODISCARD int ton_slice_load_uint(struct ton_slice *s, unsigned nbits, uint64_t *out);
CC_NODISCARD int ton_slice_load_int(struct ton_slice *s, unsigned nbits, int64_t *out);
CC_NODISCARD int ton_slice_load_bit(struct ton_slice *s, int *out);
/* nbits into out (MSB first, the rest of the last byte zeroed); out holds ceil(nbits/8). */
CC_NODISCARD int ton_slice_load_bits(struct ton_slice *s, unsigned nbits, uint8_t *out);
/* The next ref, borrowed from the cell. */
CC_NODISCARD int ton_slice_load_ref(struct ton_slice *s, const struct ton_cell **out);
/* Maybe ^Cell: *out is NULL for the 0 bit. */
CC_NODISCARD int ton_slice_load_maybe_ref(struct ton_slice *s, const struct ton_cell **out);
/* VarUInteger n into be[0..cap) right-aligned as a big-endian number of *len bytes. */
CC_NODISCARD int ton_slice_load_varuint(struct ton_slice *s, unsigned n, uint8_t *be, size_t cap,
                                        size_t *len);
/* Coins that fit 64 bits (ERR_LIMIT for larger amounts). */
CC_NODISCARD int ton_slice_load_coins(struct ton_slice *s, uint64_t *out);

#endif
