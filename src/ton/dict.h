/* dict: reading and building TON dictionaries (HashmapE n X, Patricia trees over cells), bounded. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_TON_DICT_H
#define COCOON_TON_DICT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ton/cell.h"

#define TON_DICT_MAX_KEY_BITS 1023
#define TON_DICT_MAX_ENTRIES 65536u /* a dictionary with more entries is refused */

/* Called for each entry in key order: key holds keybits bits (MSB first, the rest of the last
 * byte zero); value is a slice over the leaf's remaining bits and refs (borrowed for the call).
 * Return 0 to go on, or a negative error to stop and return it. */
typedef int (*ton_dict_entry_cb)(const uint8_t *key, unsigned keybits, struct ton_slice *value, void *arg);

/* Walks the Hashmap rooted at `root` (the cell a hme_root$1 refers to; NULL: empty) with keys
 * of keybits bits. ERR_PARSE with a message for a malformed tree (bad labels, a label longer
 * than the key, a fork without two refs), ERR_LIMIT past TON_DICT_MAX_ENTRIES. */
CC_NODISCARD int ton_dict_foreach(const struct ton_cell *root, unsigned keybits, ton_dict_entry_cb cb, void *arg,
                                  struct err *e);

/* HashmapE in a slice: a 0 bit (empty, *root = NULL) or a 1 bit and a ref (*root borrowed). */
CC_NODISCARD int ton_slice_load_dict(struct ton_slice *s, const struct ton_cell **root);

/* Writes one entry's value (entry `index` of the keys given to ton_dict_build) into the leaf's
 * builder, after its label. Return 0 or a negative error. */
typedef int (*ton_dict_value_cb)(size_t index, struct ton_builder *b, void *arg);

/* Builds the Hashmap of n entries with keybits-bit keys: entry i's key is the keybits bits (MSB
 * first) at keys + i * stride, and keys are strictly ascending. Each label takes the shortest of
 * the three forms, ties going to short, then long (what @ton/core writes), so equal inputs give
 * equal cell hashes. *root is NULL for n == 0 (caller unrefs otherwise). ERR_INVALID for keys out
 * of order or a bad key length, ERR_LIMIT when a value does not fit its leaf or n is above
 * TON_DICT_MAX_ENTRIES. */
CC_NODISCARD int ton_dict_build(const uint8_t *keys, size_t stride, size_t n, unsigned keybits, ton_dict_value_cb cb,
                                void *arg, struct ton_cell **root, struct err *e);

/* HashmapE: a 0 bit for root == NULL, else a 1 bit and the ref (borrowed). */
CC_NODISCARD int ton_builder_store_dict(struct ton_builder *b, struct ton_cell *root);

#endif
