/* tl_codec: TL binary serialization primitives (little-endian, 4-byte aligned). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_TL_TL_CODEC_H
#define COCOON_TL_TL_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* Hard maximum of one TL bytes/string field (the frame limit is 16 MiB). */
#define TL_MAX_BYTES (((size_t)16 << 20) - 1) /* the 3-byte length's ceiling */
/* Maximum number of elements accepted in any vector. */
#define TL_MAX_VECTOR 65536u

#define TL_ID_VECTOR 0x1cb5c415u
#define TL_ID_BOOL_TRUE 0x997275b5u
#define TL_ID_BOOL_FALSE 0xbc799737u

/* Writer appends to a buf; the first failure sticks in `err` and later writes are no-ops. */
struct tl_writer {
  struct buf *out;
  int err;
};

void tl_writer_init(struct tl_writer *w, struct buf *out);
void tl_put_u32(struct tl_writer *w, uint32_t v);
void tl_put_i32(struct tl_writer *w, int32_t v);
void tl_put_i64(struct tl_writer *w, int64_t v);
void tl_put_double(struct tl_writer *w, double v);
void tl_put_bool(struct tl_writer *w, int v);
void tl_put_int256(struct tl_writer *w, const uint8_t v[32]);
void tl_put_raw(struct tl_writer *w, const void *p, size_t n);
/* TL bytes/string: 1-byte length (<254) or 0xFE + 3-byte length, then data, padded to 4. */
void tl_put_bytes(struct tl_writer *w, const void *p, size_t n);
void tl_put_str(struct tl_writer *w, const char *s);

/* Reader: a bounded cursor. Any failure sets `err` (sticky); getters then return zeros. */
struct tl_reader {
  const uint8_t *p;
  size_t len;
  int err;
};

void tl_reader_init(struct tl_reader *r, const void *p, size_t len);
uint32_t tl_get_u32(struct tl_reader *r);
int32_t tl_get_i32(struct tl_reader *r);
int64_t tl_get_i64(struct tl_reader *r);
double tl_get_double(struct tl_reader *r);
/* Boxed Bool; any other constructor sets ERR_PARSE. */
int tl_get_bool(struct tl_reader *r);
void tl_get_int256(struct tl_reader *r, uint8_t out[32]);
/* Borrows: *p points into the reader's input. */
void tl_get_bytes(struct tl_reader *r, const uint8_t **p, size_t *n);
/* Copies into a NUL-terminated malloc'd string (caller frees); rejects embedded NULs. */
char *tl_get_str(struct tl_reader *r);
/* Reads a BOXED vector header (0x1cb5c415 + count) and returns the count (bounded by
 * TL_MAX_VECTOR and by the remaining input at min_elem_size bytes per element). Note: every
 * `(vector t)` field of COCOON's schema is bare (count only); tl_schema.c reads those. */
uint32_t tl_get_vector_len(struct tl_reader *r, size_t min_elem_size);
/* Returns 0 if no error and all input consumed, else the sticky error (ERR_PARSE, ERR_LIMIT...). */
CC_NODISCARD int tl_reader_finish(struct tl_reader *r);

#endif
