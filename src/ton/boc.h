/* boc: TON bag-of-cells serialization (deduplicated, @ton/core's cell order) and strict parsing. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_TON_BOC_H
#define COCOON_TON_BOC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "ton/cell.h"

/* Hard limits for one BoC, parsed or built. */
#define TON_BOC_MAX_BYTES ((size_t)8 << 20)
#define TON_BOC_MAX_CELLS 65536u
#define TON_BOC_MAX_ROOTS 16u

#define TON_BOC_MAGIC 0xb5ee9c72u
#define TON_BOC_MAGIC_IDX 0x68ff65f3u     /* legacy, read only */
#define TON_BOC_MAGIC_IDX_CRC 0xacc3a728u /* legacy, read only */

/* Serialization flags. @ton/core's toBoc() default is TON_BOC_CRC. */
enum { TON_BOC_IDX = 1, TON_BOC_CRC = 2 };

/* Appends the BoC of one root to out (borrowed cells; identical cells stored once). The cell
 * order, size and offset widths are those @ton/core picks, so the bytes match its toBoc(). */
CC_NODISCARD int ton_boc_serialize(struct ton_cell *root, unsigned flags, struct buf *out,
                                   struct err *e);

/* Parses a BoC strictly: every count and offset bounded, refs only to later cells (so no
 * cycles), no absent cells, CRC32C checked when flagged, index checked when present, no bytes
 * left over; exotic cells and stored hashes are refused. Fills roots[0..*nroots) with owned
 * references (caller unrefs each). */
CC_NODISCARD int ton_boc_parse(const uint8_t *p, size_t n, struct ton_cell **roots,
                               size_t max_roots, size_t *nroots, struct err *e);
/* The same for a BoC that must hold exactly one root; caller unrefs *root. */
CC_NODISCARD int ton_boc_parse_one(const uint8_t *p, size_t n, struct ton_cell **root,
                                   struct err *e);

#endif
