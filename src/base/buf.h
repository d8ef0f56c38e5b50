/* buf: growable byte buffer with a hard maximum size. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_BASE_BUF_H
#define COCOON_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* A byte buffer owning its memory. Bytes live in data[off, off+len); consumed bytes
 * at the front are reclaimed lazily. `max` bounds len (0 means the default cap). */
struct buf {
  uint8_t *data;
  size_t off;
  size_t len;
  size_t cap;
  size_t max;
};

#define BUF_DEFAULT_MAX ((size_t)64 << 20)

void buf_init(struct buf *b, size_t max);
/* Releases the memory; the buffer may be reused after buf_init. NULL-safe. */
void buf_free(struct buf *b);
/* NULL (never NULL + 0, which UBSan flags) while nothing was ever allocated. */
static inline uint8_t *buf_ptr(const struct buf *b) { return b->data ? b->data + b->off : NULL; }
/* Ensures room for `extra` more bytes; returns ERR_NOMEM or ERR_LIMIT. */
CC_NODISCARD int buf_reserve(struct buf *b, size_t extra);
CC_NODISCARD int buf_append(struct buf *b, const void *p, size_t n);
CC_NODISCARD int buf_append_str(struct buf *b, const char *s);
CC_NODISCARD int buf_appendf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s[0..n) as the inside of a JSON string (quotes, backslashes and control bytes
 * escaped; other bytes copied as they are). */
CC_NODISCARD int buf_append_json_str(struct buf *b, const char *s, size_t n);
/* Pointer to free tail space of at least `n` bytes (after buf_reserve); commit with buf_added. */
static inline uint8_t *buf_tail(struct buf *b) { return b->data ? b->data + b->off + b->len : NULL; }
static inline void buf_added(struct buf *b, size_t n) { b->len += n; }
/* Drops n bytes from the front. */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
/* Moves the contents out: returns a malloc'd block (caller frees), buffer becomes empty. */
uint8_t *buf_steal(struct buf *b, size_t *len_out);

/* Appends the whole of the regular file at path (at most max bytes) to out. Errors name the
 * path: ERR_IO (cannot open, not a regular file, read error), ERR_LIMIT (larger than max). */
CC_NODISCARD int buf_read_file(struct buf *out, const char *path, size_t max, struct err *e);

#endif
