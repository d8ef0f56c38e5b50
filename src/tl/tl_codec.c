/* tl_codec: TL binary serialization primitives over a growable buf and a bounded cursor. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "tl/tl_codec.h"

#include <stdlib.h>
#include <string.h>

/* The long bytes form carries a 3-byte length, so nothing longer fits on the wire even
 * though TL_MAX_BYTES is 16 MiB. */
#define TL_LEN3_MAX ((size_t)0xFFFFFF)

static size_t bytes_max(void) { return TL_MAX_BYTES < TL_LEN3_MAX ? TL_MAX_BYTES : TL_LEN3_MAX; }

void tl_writer_init(struct tl_writer *w, struct buf *out) {
  w->out = out;
  w->err = 0;
}

void tl_put_raw(struct tl_writer *w, const void *p, size_t n) {
  if (w->err || n == 0) return;
  int rc = buf_append(w->out, p, n);
  if (rc < 0) w->err = rc;
}

void tl_put_u32(struct tl_writer *w, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  tl_put_raw(w, b, sizeof b);
}

void tl_put_i32(struct tl_writer *w, int32_t v) { tl_put_u32(w, (uint32_t)v); }

void tl_put_i64(struct tl_writer *w, int64_t v) {
  uint64_t u = (uint64_t)v;
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(u >> (8 * i));
  tl_put_raw(w, b, sizeof b);
}

void tl_put_double(struct tl_writer *w, double v) {
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  tl_put_i64(w, (int64_t)u);
}

void tl_put_bool(struct tl_writer *w, int v) {
  tl_put_u32(w, v ? TL_ID_BOOL_TRUE : TL_ID_BOOL_FALSE);
}

void tl_put_int256(struct tl_writer *w, const uint8_t v[32]) { tl_put_raw(w, v, 32); }

void tl_put_bytes(struct tl_writer *w, const void *p, size_t n) {
  static const uint8_t zeros[4] = {0, 0, 0, 0};
  if (w->err) return;
  if (n > bytes_max()) {
    w->err = ERR_LIMIT;
    return;
  }
  size_t hdr;
  if (n < 254) {
    uint8_t b = (uint8_t)n;
    tl_put_raw(w, &b, 1);
    hdr = 1;
  } else {
    uint8_t b[4] = {0xFE, (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16)};
    tl_put_raw(w, b, 4);
    hdr = 4;
  }
  tl_put_raw(w, p, n);
  size_t pad = (4 - ((hdr + n) & 3)) & 3;
  tl_put_raw(w, zeros, pad);
}

void tl_put_str(struct tl_writer *w, const char *s) {
  if (s == NULL) s = "";
  tl_put_bytes(w, s, strlen(s));
}

void tl_reader_init(struct tl_reader *r, const void *p, size_t len) {
  r->p = p;
  r->len = p ? len : 0;
  r->err = 0;
}

/* Returns a pointer to the next n bytes and advances, or NULL (with err set) if short. */
static const uint8_t *take(struct tl_reader *r, size_t n) {
  if (r->err) return NULL;
  if (n > r->len) {
    r->err = ERR_PARSE;
    return NULL;
  }
  const uint8_t *q = r->p;
  r->p += n;
  r->len -= n;
  return q;
}

uint32_t tl_get_u32(struct tl_reader *r) {
  const uint8_t *q = take(r, 4);
  if (!q) return 0;
  return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}

int32_t tl_get_i32(struct tl_reader *r) { return (int32_t)tl_get_u32(r); }

int64_t tl_get_i64(struct tl_reader *r) {
  const uint8_t *q = take(r, 8);
  if (!q) return 0;
  uint64_t u = 0;
  for (int i = 7; i >= 0; i--) u = (u << 8) | q[i];
  return (int64_t)u;
}

double tl_get_double(struct tl_reader *r) {
  uint64_t u = (uint64_t)tl_get_i64(r);
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

int tl_get_bool(struct tl_reader *r) {
  uint32_t id = tl_get_u32(r);
  if (r->err) return 0;
  if (id == TL_ID_BOOL_TRUE) return 1;
  if (id != TL_ID_BOOL_FALSE) r->err = ERR_PARSE;
  return 0;
}

void tl_get_int256(struct tl_reader *r, uint8_t out[32]) {
  const uint8_t *q = take(r, 32);
  if (q)
    memcpy(out, q, 32);
  else
    memset(out, 0, 32);
}

void tl_get_bytes(struct tl_reader *r, const uint8_t **p, size_t *n) {
  *p = NULL;
  *n = 0;
  const uint8_t *h = take(r, 1);
  if (!h) return;
  size_t len, hdr;
  if (h[0] < 254) {
    len = h[0];
    hdr = 1;
  } else if (h[0] == 254) {
    const uint8_t *l = take(r, 3);
    if (!l) return;
    len = (size_t)l[0] | (size_t)l[1] << 8 | (size_t)l[2] << 16;
    hdr = 4;
  } else {
    r->err = ERR_PARSE; /* 0xFF is not a valid length prefix */
    return;
  }
  if (len > bytes_max()) {
    r->err = ERR_LIMIT;
    return;
  }
  /* Padding bytes are skipped without checking that they are zero, as TDLib does. */
  size_t pad = (4 - ((hdr + len) & 3)) & 3;
  if (len > r->len || pad > r->len - len) {
    r->err = ERR_PARSE;
    return;
  }
  const uint8_t *d = take(r, len);
  (void)take(r, pad);
  *p = d;
  *n = len;
}

char *tl_get_str(struct tl_reader *r) {
  const uint8_t *p;
  size_t n;
  tl_get_bytes(r, &p, &n);
  if (r->err) return NULL;
  if (n > 0 && memchr(p, 0, n) != NULL) {
    r->err = ERR_PARSE;
    return NULL;
  }
  char *s = malloc(n + 1);
  if (!s) {
    r->err = ERR_NOMEM;
    return NULL;
  }
  if (n) memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

uint32_t tl_get_vector_len(struct tl_reader *r, size_t min_elem_size) {
  uint32_t id = tl_get_u32(r);
  if (r->err) return 0;
  if (id != TL_ID_VECTOR) {
    r->err = ERR_PARSE;
    return 0;
  }
  uint32_t n = tl_get_u32(r);
  if (r->err) return 0;
  if (n > TL_MAX_VECTOR) {
    r->err = ERR_LIMIT;
    return 0;
  }
  if (min_elem_size > 0 && n > r->len / min_elem_size) {
    r->err = ERR_PARSE;
    return 0;
  }
  return n;
}

int tl_reader_finish(struct tl_reader *r) {
  if (r->err) return r->err;
  return r->len == 0 ? 0 : ERR_PARSE;
}
