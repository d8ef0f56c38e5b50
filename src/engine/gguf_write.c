/* gguf_write: streaming GGUF v3 writer (metadata of every type, tensors quantized from float). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/gguf_write.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"

#define WRITER_MAX_HEADER ((size_t)1 << 30) /* metadata + tensor infos */
#define CONVERT_CHUNK 65536u                /* floats converted per step (a multiple of 256) */

struct wtensor {
  char *name;
  uint32_t type;
  uint64_t offset;
  uint64_t nbytes;
};

struct gguf_writer {
  struct buf kvs;  /* encoded metadata pairs */
  struct buf tis;  /* encoded tensor infos */
  uint64_t n_kv;
  char **keys;
  size_t keys_cap;
  struct wtensor *ts;
  size_t n_ts, ts_cap;
  uint32_t alignment;
  uint64_t data_size; /* padded */
  /* streaming state */
  FILE *f;
  size_t cur;          /* tensor being written */
  uint64_t cur_done;   /* bytes of it written */
  uint64_t written;    /* bytes of the data section written */
  uint8_t *scratch;
};

struct gguf_writer *gguf_writer_new(void) {
  struct gguf_writer *w = calloc(1, sizeof(*w));
  if (!w) return NULL;
  buf_init(&w->kvs, WRITER_MAX_HEADER);
  buf_init(&w->tis, WRITER_MAX_HEADER);
  w->alignment = GGUF_DEFAULT_ALIGNMENT;
  return w;
}

void gguf_writer_free(struct gguf_writer *w) {
  if (!w) return;
  buf_free(&w->kvs);
  buf_free(&w->tis);
  for (uint64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
  free(w->keys);
  for (size_t i = 0; i < w->n_ts; i++) free(w->ts[i].name);
  free(w->ts);
  free(w->scratch);
  free(w);
}

static int put(struct buf *b, const void *p, size_t n, struct err *e) {
  int rc = buf_append(b, p, n);
  return rc ? err_set(e, rc, "gguf writer: metadata too large") : 0;
}

static int put_u32(struct buf *b, uint32_t v, struct err *e) {
  uint8_t p[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  return put(b, p, 4, e);
}

static int put_u64(struct buf *b, uint64_t v, struct err *e) {
  uint8_t p[8];
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
  return put(b, p, 8, e);
}

static int put_str(struct buf *b, const char *s, size_t n, struct err *e) {
  int rc = put_u64(b, n, e);
  return rc ? rc : put(b, s, n, e);
}

static size_t scalar_size(uint32_t t) {
  switch (t) {
  case GGUF_U8: case GGUF_I8: case GGUF_BOOL: return 1;
  case GGUF_U16: case GGUF_I16: return 2;
  case GGUF_U32: case GGUF_I32: case GGUF_F32: return 4;
  case GGUF_U64: case GGUF_I64: case GGUF_F64: return 8;
  default: return 0;
  }
}

/* Little-endian encoding of a native scalar (this code runs on little-endian hosts only, but
 * the shifts keep it explicit). */
static int put_scalar(struct buf *b, uint32_t t, const void *v, struct err *e) {
  uint64_t u = 0;
  size_t n = scalar_size(t);
  switch (n) {
  case 1: { uint8_t x; memcpy(&x, v, 1); u = x; break; }
  case 2: { uint16_t x; memcpy(&x, v, 2); u = x; break; }
  case 4: { uint32_t x; memcpy(&x, v, 4); u = x; break; }
  case 8: memcpy(&u, v, 8); break;
  default: return err_set(e, ERR_INVALID, "gguf writer: type %" PRIu32 " is not a scalar", t);
  }
  uint8_t p[8];
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(u >> (8 * i));
  return put(b, p, n, e);
}

static int name_ok(const char *name, const char *what, struct err *e) {
  size_t n = strlen(name);
  if (n == 0 || n > GGUF_MAX_NAME)
    return err_set(e, ERR_INVALID, "gguf writer: %s name length %zu not in 1..%u", what, n, GGUF_MAX_NAME);
  return 0;
}

static int add_key(struct gguf_writer *w, const char *key, uint32_t type, struct err *e) {
  int rc = name_ok(key, "key", e);
  if (rc) return rc;
  if (w->f) return err_set(e, ERR_INVALID, "gguf writer: metadata added after begin");
  for (uint64_t i = 0; i < w->n_kv; i++)
    if (strcmp(w->keys[i], key) == 0) return err_set(e, ERR_INVALID, "gguf writer: duplicate key \"%s\"", key);
  if (w->n_kv == w->keys_cap) {
    size_t nc = w->keys_cap ? w->keys_cap * 2 : 32;
    char **nk = realloc(w->keys, nc * sizeof(*nk));
    if (!nk) return err_set(e, ERR_NOMEM, "out of memory");
    w->keys = nk;
    w->keys_cap = nc;
  }
  char *k = util_strndup(key, strlen(key));
  if (!k) return err_set(e, ERR_NOMEM, "out of memory");
  w->keys[w->n_kv++] = k;
  if ((rc = put_str(&w->kvs, key, strlen(key), e)) != 0) return rc;
  return put_u32(&w->kvs, type, e);
}

int gguf_writer_kv(struct gguf_writer *w, const char *key, uint32_t type, const void *value, struct err *e) {
  if (scalar_size(type) == 0) return err_set(e, ERR_INVALID, "gguf writer: \"%s\": not a scalar type", key);
  if (strcmp(key, "general.alignment") == 0) {
    uint32_t a;
    if (type != GGUF_U32) return err_set(e, ERR_INVALID, "gguf writer: general.alignment must be a u32");
    memcpy(&a, value, 4);
    if (a == 0 || (a & (a - 1)) || a > GGUF_MAX_ALIGNMENT || w->n_ts)
      return err_set(e, ERR_INVALID, "gguf writer: bad or late general.alignment %" PRIu32, a);
    w->alignment = a;
  }
  int rc = add_key(w, key, type, e);
  return rc ? rc : put_scalar(&w->kvs, type, value, e);
}

int gguf_writer_kv_u32(struct gguf_writer *w, const char *key, uint32_t v, struct err *e) {
  return gguf_writer_kv(w, key, GGUF_U32, &v, e);
}
int gguf_writer_kv_i32(struct gguf_writer *w, const char *key, int32_t v, struct err *e) {
  return gguf_writer_kv(w, key, GGUF_I32, &v, e);
}
int gguf_writer_kv_f32(struct gguf_writer *w, const char *key, float v, struct err *e) {
  return gguf_writer_kv(w, key, GGUF_F32, &v, e);
}
int gguf_writer_kv_bool(struct gguf_writer *w, const char *key, int v, struct err *e) {
  uint8_t b = v ? 1 : 0;
  return gguf_writer_kv(w, key, GGUF_BOOL, &b, e);
}

int gguf_writer_kv_strn(struct gguf_writer *w, const char *key, const char *s, size_t len, struct err *e) {
  if (len > GGUF_MAX_STRING) return err_set(e, ERR_INVALID, "gguf writer: \"%s\": string too long", key);
  int rc = add_key(w, key, GGUF_STRING, e);
  return rc ? rc : put_str(&w->kvs, s, len, e);
}

int gguf_writer_kv_str(struct gguf_writer *w, const char *key, const char *s, struct err *e) {
  return gguf_writer_kv_strn(w, key, s, strlen(s), e);
}

int gguf_writer_kv_arr(struct gguf_writer *w, const char *key, uint32_t elem_type, const void *elems,
                       uint64_t n, struct err *e) {
  size_t sz = scalar_size(elem_type);
  if (sz == 0 || n > GGUF_MAX_ARRAY)
    return err_set(e, ERR_INVALID, "gguf writer: \"%s\": bad array type or length", key);
  int rc = add_key(w, key, GGUF_ARRAY, e);
  if (!rc) rc = put_u32(&w->kvs, elem_type, e);
  if (!rc) rc = put_u64(&w->kvs, n, e);
  const uint8_t *p = elems;
  for (uint64_t i = 0; !rc && i < n; i++) rc = put_scalar(&w->kvs, elem_type, p + i * sz, e);
  return rc;
}

int gguf_writer_kv_arr_str(struct gguf_writer *w, const char *key, const char *const *strs, const size_t *lens,
                           uint64_t n, struct err *e) {
  if (n > GGUF_MAX_ARRAY) return err_set(e, ERR_INVALID, "gguf writer: \"%s\": array too long", key);
  int rc = add_key(w, key, GGUF_ARRAY, e);
  if (!rc) rc = put_u32(&w->kvs, GGUF_STRING, e);
  if (!rc) rc = put_u64(&w->kvs, n, e);
  for (uint64_t i = 0; !rc && i < n; i++) {
    size_t l = lens ? lens[i] : strlen(strs[i]);
    if (l > GGUF_MAX_STRING) return err_set(e, ERR_INVALID, "gguf writer: \"%s\": string too long", key);
    rc = put_str(&w->kvs, strs[i], l, e);
  }
  return rc;
}

static uint64_t pad_to(uint64_t v, uint32_t a) { return (v + a - 1) & ~((uint64_t)a - 1); }

int gguf_writer_tensor(struct gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                       const uint64_t *ne, struct err *e) {
  int rc = name_ok(name, "tensor", e);
  if (rc) return rc;
  if (w->f) return err_set(e, ERR_INVALID, "gguf writer: tensor declared after begin");
  const struct quant_type_info *ti = quant_type_info(type);
  if (!ti) return err_set(e, ERR_INVALID, "gguf writer: \"%s\": unknown type %" PRIu32, name, type);
  if (n_dims == 0 || n_dims > GGUF_MAX_DIMS)
    return err_set(e, ERR_INVALID, "gguf writer: \"%s\": %" PRIu32 " dims", name, n_dims);
  uint64_t n = 1, nbytes;
  for (uint32_t d = 0; d < n_dims; d++)
    if (ne[d] == 0 || __builtin_mul_overflow(n, ne[d], &n))
      return err_set(e, ERR_INVALID, "gguf writer: \"%s\": bad dimension", name);
  if (ne[0] % ti->block_elems || quant_row_bytes(type, n, &nbytes))
    return err_set(e, ERR_INVALID, "gguf writer: \"%s\": rows of %" PRIu64 " are not whole %s blocks", name, ne[0],
                   ti->name);
  for (size_t i = 0; i < w->n_ts; i++)
    if (strcmp(w->ts[i].name, name) == 0)
      return err_set(e, ERR_INVALID, "gguf writer: duplicate tensor \"%s\"", name);
  if (w->n_ts == w->ts_cap) {
    size_t nc = w->ts_cap ? w->ts_cap * 2 : 64;
    struct wtensor *nt = realloc(w->ts, nc * sizeof(*nt));
    if (!nt) return err_set(e, ERR_NOMEM, "out of memory");
    w->ts = nt;
    w->ts_cap = nc;
  }
  struct wtensor *t = &w->ts[w->n_ts];
  t->name = util_strndup(name, strlen(name));
  if (!t->name) return err_set(e, ERR_NOMEM, "out of memory");
  t->type = type;
  t->offset = w->data_size;
  t->nbytes = nbytes;
  w->n_ts++;
  if (__builtin_add_overflow(w->data_size, nbytes, &w->data_size) || w->data_size > UINT64_MAX / 2)
    return err_set(e, ERR_LIMIT, "gguf writer: data too large");
  w->data_size = pad_to(w->data_size, w->alignment);
  if ((rc = put_str(&w->tis, name, strlen(name), e)) != 0) return rc;
  if ((rc = put_u32(&w->tis, n_dims, e)) != 0) return rc;
  for (uint32_t d = 0; d < n_dims; d++)
    if ((rc = put_u64(&w->tis, ne[d], e)) != 0) return rc;
  if ((rc = put_u32(&w->tis, type, e)) != 0) return rc;
  return put_u64(&w->tis, t->offset, e);
}

size_t gguf_writer_tensor_count(const struct gguf_writer *w) { return w->n_ts; }

static uint64_t header_size(const struct gguf_writer *w) { return 24 + w->kvs.len + w->tis.len; }

uint64_t gguf_writer_file_size(const struct gguf_writer *w) {
  return pad_to(header_size(w), w->alignment) + w->data_size;
}

static int out(struct gguf_writer *w, const void *p, size_t n, struct err *e) {
  if (n && fwrite(p, 1, n, w->f) != n) return err_set(e, ERR_IO, "gguf writer: write failed: %s", strerror(errno));
  return 0;
}

static int out_zeros(struct gguf_writer *w, uint64_t n, struct err *e) {
  static const uint8_t z[64];
  while (n) {
    size_t k = n < sizeof(z) ? (size_t)n : sizeof(z);
    int rc = out(w, z, k, e);
    if (rc) return rc;
    n -= k;
  }
  return 0;
}

int gguf_writer_begin(struct gguf_writer *w, FILE *f, struct err *e) {
  if (w->f) return err_set(e, ERR_INVALID, "gguf writer: begin called twice");
  w->f = f;
  struct buf h;
  buf_init(&h, 64);
  int rc = put(&h, "GGUF", 4, e);
  if (!rc) rc = put_u32(&h, 3, e);
  if (!rc) rc = put_u64(&h, w->n_ts, e);
  if (!rc) rc = put_u64(&h, w->n_kv, e);
  if (!rc) rc = out(w, buf_ptr(&h), h.len, e);
  buf_free(&h);
  if (!rc) rc = out(w, buf_ptr(&w->kvs), w->kvs.len, e);
  if (!rc) rc = out(w, buf_ptr(&w->tis), w->tis.len, e);
  if (!rc) rc = out_zeros(w, pad_to(header_size(w), w->alignment) - header_size(w), e);
  w->cur = 0;
  w->cur_done = 0;
  return rc;
}

/* Moves past finished tensors, writing their padding. */
static int advance(struct gguf_writer *w, struct err *e) {
  while (w->cur < w->n_ts && w->cur_done == w->ts[w->cur].nbytes) {
    uint64_t end = w->ts[w->cur].offset + w->ts[w->cur].nbytes;
    int rc = out_zeros(w, pad_to(end, w->alignment) - end, e);
    if (rc) return rc;
    w->cur++;
    w->cur_done = 0;
  }
  return 0;
}

int gguf_writer_data(struct gguf_writer *w, const void *bytes, size_t n, struct err *e) {
  if (!w->f) return err_set(e, ERR_INVALID, "gguf writer: data before begin");
  int rc = advance(w, e);
  if (rc) return rc;
  if (w->cur >= w->n_ts) return err_set(e, ERR_INVALID, "gguf writer: more data than tensors");
  const struct wtensor *t = &w->ts[w->cur];
  if (n > t->nbytes - w->cur_done)
    return err_set(e, ERR_INVALID, "gguf writer: \"%s\": %zu bytes exceed the tensor's size", t->name, n);
  if ((rc = out(w, bytes, n, e)) != 0) return rc;
  w->cur_done += n;
  return advance(w, e);
}

int gguf_writer_data_f32(struct gguf_writer *w, const float *x, uint64_t n, struct err *e) {
  if (!w->f) return err_set(e, ERR_INVALID, "gguf writer: data before begin");
  int rc = advance(w, e);
  if (rc) return rc;
  if (w->cur >= w->n_ts) return err_set(e, ERR_INVALID, "gguf writer: more data than tensors");
  uint32_t type = w->ts[w->cur].type;
  const struct quant_type_info *ti = quant_type_info(type);
  if (!ti->supported || n % ti->block_elems)
    return err_set(e, ERR_INVALID, "gguf writer: \"%s\": cannot convert %" PRIu64 " floats to %s", w->ts[w->cur].name,
                   n, ti->name);
  if (!w->scratch) {
    /* Largest block ratio is F32's 4 bytes per element. */
    w->scratch = malloc((size_t)CONVERT_CHUNK * 4);
    if (!w->scratch) return err_set(e, ERR_NOMEM, "out of memory");
  }
  while (n) {
    uint64_t k = n < CONVERT_CHUNK ? n : CONVERT_CHUNK, nb;
    if (quant_row_bytes(type, k, &nb) || quant_quantize(type, x, w->scratch, k))
      return err_set(e, ERR_INVALID, "gguf writer: conversion to %s failed", ti->name);
    if ((rc = gguf_writer_data(w, w->scratch, (size_t)nb, e)) != 0) return rc;
    x += k;
    n -= k;
  }
  return 0;
}

int gguf_writer_finish(struct gguf_writer *w, struct err *e) {
  if (!w->f) return err_set(e, ERR_INVALID, "gguf writer: finish before begin");
  int rc = advance(w, e);
  if (rc) return rc;
  if (w->cur < w->n_ts)
    return err_set(e, ERR_INVALID, "gguf writer: tensor \"%s\" was not written in full", w->ts[w->cur].name);
  if (fflush(w->f) != 0) return err_set(e, ERR_IO, "gguf writer: write failed: %s", strerror(errno));
  return 0;
}
