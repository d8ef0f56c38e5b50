/* gguf: validating GGUF v2/v3 reader over a read-only mapping or a caller's buffer. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"

/* Smallest possible encodings, used to reject counts that cannot fit before allocating. */
#define MIN_KV_BYTES 14u     /* u64 key length, 1-byte key, u32 type, 1-byte value */
#define MIN_TENSOR_BYTES 33u /* u64 name length, 1-byte name, u32 n_dims, u64 ne[0], u32 type, u64 offset */

struct name_ix {
  const char *name;
  uint32_t ix;
};

struct gguf {
  const uint8_t *base;
  size_t size;
  void *map; /* non-NULL when gguf_open mapped the file */
  uint32_t version;
  uint32_t alignment;
  uint64_t data_off;
  uint64_t n_kv;
  struct gguf_kv *kvs;
  struct name_ix *kv_sorted;
  uint64_t n_tensors;
  struct gguf_tensor *tensors;
  struct name_ix *t_sorted;
};

/* A bounded cursor: reads fail (return -1) rather than pass `len`. */
struct cur {
  const uint8_t *p;
  size_t len;
  size_t off;
};

static size_t cur_left(const struct cur *c) { return c->len - c->off; }

static int cur_bytes(struct cur *c, size_t n, const uint8_t **out) {
  if (n > cur_left(c)) return -1;
  *out = c->p + c->off;
  c->off += n;
  return 0;
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static int cur_u32(struct cur *c, uint32_t *v) {
  const uint8_t *p;
  if (cur_bytes(c, 4, &p)) return -1;
  *v = le32(p);
  return 0;
}

static int cur_u64(struct cur *c, uint64_t *v) {
  const uint8_t *p;
  if (cur_bytes(c, 8, &p)) return -1;
  *v = le64(p);
  return 0;
}

/* Bytes of a fixed-size value type; 0 for string/array/unknown. */
static size_t vtype_size(uint32_t t) {
  switch (t) {
  case GGUF_U8: case GGUF_I8: case GGUF_BOOL: return 1;
  case GGUF_U16: case GGUF_I16: return 2;
  case GGUF_U32: case GGUF_I32: case GGUF_F32: return 4;
  case GGUF_U64: case GGUF_I64: case GGUF_F64: return 8;
  default: return 0;
  }
}

const char *gguf_vtype_name(uint32_t t) {
  static const char *const names[GGUF_VTYPE_END] = {"u8",  "i8",  "u16",   "i16",   "u32",
                                                    "i32", "f32", "bool",  "string", "array",
                                                    "u64", "i64", "f64"};
  return t < GGUF_VTYPE_END ? names[t] : "unknown";
}

static int is_int_type(uint32_t t) {
  return t == GGUF_U8 || t == GGUF_I8 || t == GGUF_U16 || t == GGUF_I16 || t == GGUF_U32 ||
         t == GGUF_I32 || t == GGUF_U64 || t == GGUF_I64;
}

/* An integer value of any width: neg selects s, else u holds it. */
struct ival {
  int neg;
  uint64_t u;
  int64_t s;
};

static struct ival read_int(uint32_t t, const uint8_t *p) {
  struct ival v = {0, 0, 0};
  int64_t s = 0;
  switch (t) {
  case GGUF_U8: v.u = p[0]; return v;
  case GGUF_U16: v.u = (uint64_t)p[0] | (uint64_t)p[1] << 8; return v;
  case GGUF_U32: v.u = le32(p); return v;
  case GGUF_U64: v.u = le64(p); return v;
  case GGUF_I8: s = (int8_t)p[0]; break;
  case GGUF_I16: s = (int16_t)(uint16_t)(p[0] | p[1] << 8); break;
  case GGUF_I32: s = (int32_t)le32(p); break;
  case GGUF_I64: s = (int64_t)le64(p); break;
  default: return v;
  }
  if (s < 0) {
    v.neg = 1;
    v.s = s;
  } else {
    v.u = (uint64_t)s;
  }
  return v;
}

static double read_float(uint32_t t, const uint8_t *p) {
  if (t == GGUF_F32) {
    uint32_t u = le32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  uint64_t u = le64(p);
  double d;
  memcpy(&d, &u, 8);
  return d;
}

/* f64 values beyond float's range become infinities rather than an undefined conversion. */
static float to_f32(double d) {
  if (d > FLT_MAX) return INFINITY;
  if (d < -FLT_MAX) return -INFINITY;
  return (float)d;
}

/* Names are copied out; they must be non-empty, bounded and free of control bytes so that
 * they print safely and compare as C strings. */
static int read_name(struct cur *c, const char *what, uint64_t idx, char **out, struct err *e) {
  uint64_t len;
  const uint8_t *p;
  size_t at = c->off;
  if (cur_u64(c, &len))
    return err_set(e, ERR_PARSE, "%s %" PRIu64 ": name length runs past the end of the file (offset %zu)",
                   what, idx, at);
  if (len == 0) return err_set(e, ERR_PARSE, "%s %" PRIu64 ": empty name (offset %zu)", what, idx, at);
  if (len > GGUF_MAX_NAME)
    return err_set(e, ERR_LIMIT, "%s %" PRIu64 ": name length %" PRIu64 " exceeds %u (offset %zu)", what,
                   idx, len, GGUF_MAX_NAME, at);
  if (cur_bytes(c, (size_t)len, &p))
    return err_set(e, ERR_PARSE, "%s %" PRIu64 ": name runs past the end of the file (offset %zu)", what,
                   idx, at);
  for (uint64_t i = 0; i < len; i++)
    if (p[i] < 0x20 || p[i] == 0x7f)
      return err_set(e, ERR_PARSE, "%s %" PRIu64 ": name contains control byte 0x%02x (offset %zu)", what,
                     idx, p[i], at);
  *out = util_strndup((const char *)p, (size_t)len);
  if (!*out) return err_set(e, ERR_NOMEM, "out of memory");
  return 0;
}

static int read_str(struct cur *c, const char *key, struct gguf_str *s, struct err *e) {
  uint64_t len;
  const uint8_t *p;
  size_t at = c->off;
  if (cur_u64(c, &len))
    return err_set(e, ERR_PARSE, "kv \"%.64s\": string length runs past the end of the file (offset %zu)",
                   key, at);
  if (len > GGUF_MAX_STRING)
    return err_set(e, ERR_LIMIT, "kv \"%.64s\": string length %" PRIu64 " exceeds %u (offset %zu)", key, len,
                   GGUF_MAX_STRING, at);
  if (cur_bytes(c, (size_t)len, &p))
    return err_set(e, ERR_PARSE,
                   "kv \"%.64s\": string of %" PRIu64 " bytes runs past the end of the file (offset %zu)", key,
                   len, at);
  s->p = (const char *)p;
  s->len = len;
  return 0;
}

static int check_bools(const char *key, const uint8_t *p, uint64_t n, struct err *e) {
  for (uint64_t i = 0; i < n; i++)
    if (p[i] > 1) return err_set(e, ERR_PARSE, "kv \"%.64s\": bool value %u is not 0 or 1", key, p[i]);
  return 0;
}

static int parse_kv(struct cur *c, uint64_t idx, struct gguf_kv *kv, struct err *e) {
  char *key = NULL;
  int rc = read_name(c, "kv", idx, &key, e);
  if (rc) return rc;
  kv->key = key;
  size_t at = c->off;
  if (cur_u32(c, &kv->type))
    return err_set(e, ERR_PARSE, "kv \"%.64s\": value type runs past the end of the file (offset %zu)", key,
                   at);
  if (kv->type >= GGUF_VTYPE_END)
    return err_set(e, ERR_PARSE, "kv \"%.64s\": unknown value type %" PRIu32 " (offset %zu)", key, kv->type,
                   at);
  at = c->off;
  if (kv->type == GGUF_STRING) {
    rc = read_str(c, key, &kv->str, e);
    kv->data = (const uint8_t *)kv->str.p;
    return rc;
  }
  if (kv->type != GGUF_ARRAY) {
    if (cur_bytes(c, vtype_size(kv->type), &kv->data))
      return err_set(e, ERR_PARSE, "kv \"%.64s\": %s value runs past the end of the file (offset %zu)", key,
                     gguf_vtype_name(kv->type), at);
    return kv->type == GGUF_BOOL ? check_bools(key, kv->data, 1, e) : 0;
  }
  if (cur_u32(c, &kv->arr_type) || cur_u64(c, &kv->arr_n))
    return err_set(e, ERR_PARSE, "kv \"%.64s\": array header runs past the end of the file (offset %zu)", key,
                   at);
  if (kv->arr_type == GGUF_ARRAY)
    return err_set(e, ERR_PARSE, "kv \"%.64s\": nested arrays are not supported", key);
  if (kv->arr_type >= GGUF_VTYPE_END)
    return err_set(e, ERR_PARSE, "kv \"%.64s\": unknown array element type %" PRIu32, key, kv->arr_type);
  if (kv->arr_n > GGUF_MAX_ARRAY)
    return err_set(e, ERR_LIMIT, "kv \"%.64s\": array of %" PRIu64 " elements exceeds %u", key, kv->arr_n,
                   GGUF_MAX_ARRAY);
  kv->data = c->p + c->off;
  if (kv->arr_type != GGUF_STRING) {
    uint64_t bytes;
    const uint8_t *p;
    if (__builtin_mul_overflow(kv->arr_n, (uint64_t)vtype_size(kv->arr_type), &bytes) ||
        bytes > cur_left(c) || cur_bytes(c, (size_t)bytes, &p))
      return err_set(e, ERR_PARSE,
                     "kv \"%.64s\": array of %" PRIu64 " %s runs past the end of the file (offset %zu)", key,
                     kv->arr_n, gguf_vtype_name(kv->arr_type), at);
    return kv->arr_type == GGUF_BOOL ? check_bools(key, p, kv->arr_n, e) : 0;
  }
  /* Each string takes at least its 8-byte length: bound the count before allocating. */
  if (kv->arr_n > cur_left(c) / 8)
    return err_set(e, ERR_PARSE,
                   "kv \"%.64s\": array of %" PRIu64 " strings runs past the end of the file (offset %zu)", key,
                   kv->arr_n, at);
  struct gguf_str *strs = calloc(kv->arr_n ? (size_t)kv->arr_n : 1, sizeof(*strs));
  if (!strs) return err_set(e, ERR_NOMEM, "out of memory");
  kv->strs = strs;
  for (uint64_t i = 0; i < kv->arr_n; i++)
    if ((rc = read_str(c, key, &strs[i], e)) != 0) return rc;
  return 0;
}

static int parse_tensor_info(struct cur *c, uint64_t idx, struct gguf_tensor *t, struct err *e) {
  char *name = NULL;
  int rc = read_name(c, "tensor", idx, &name, e);
  if (rc) return rc;
  t->name = name;
  size_t at = c->off;
  if (cur_u32(c, &t->n_dims))
    return err_set(e, ERR_PARSE, "tensor \"%.64s\": n_dims runs past the end of the file (offset %zu)", name,
                   at);
  if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
    return err_set(e, ERR_PARSE, "tensor \"%.64s\": n_dims %" PRIu32 " is not in 1..%u (offset %zu)", name,
                   t->n_dims, GGUF_MAX_DIMS, at);
  t->n_elems = 1;
  for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
    t->ne[d] = 1;
    if (d >= t->n_dims) continue;
    at = c->off;
    if (cur_u64(c, &t->ne[d]))
      return err_set(e, ERR_PARSE, "tensor \"%.64s\": dimension %" PRIu32 " runs past the end of the file",
                     name, d);
    if (t->ne[d] == 0 || t->ne[d] > INT64_MAX)
      return err_set(e, ERR_PARSE, "tensor \"%.64s\": dimension %" PRIu32 " is %" PRIu64 " (offset %zu)", name,
                     d, t->ne[d], at);
    if (__builtin_mul_overflow(t->n_elems, t->ne[d], &t->n_elems) || t->n_elems > INT64_MAX)
      return err_set(e, ERR_PARSE, "tensor \"%.64s\": element count overflows", name);
  }
  at = c->off;
  if (cur_u32(c, &t->type) || cur_u64(c, &t->offset))
    return err_set(e, ERR_PARSE, "tensor \"%.64s\": type/offset runs past the end of the file (offset %zu)",
                   name, at);
  const struct quant_type_info *ti = quant_type_info(t->type);
  if (!ti)
    return err_set(e, ERR_PARSE, "tensor \"%.64s\": unknown ggml type %" PRIu32 " (offset %zu)", name, t->type,
                   at);
  if (t->ne[0] % ti->block_elems)
    return err_set(e, ERR_PARSE,
                   "tensor \"%.64s\": row of %" PRIu64 " elements is not a whole number of %s blocks (%u)",
                   name, t->ne[0], ti->name, ti->block_elems);
  if (quant_row_bytes(t->type, t->n_elems, &t->nbytes) != 0)
    return err_set(e, ERR_PARSE, "tensor \"%.64s\": byte size overflows", name);
  return 0;
}

static int cmp_name_ix(const void *a, const void *b) {
  return strcmp(((const struct name_ix *)a)->name, ((const struct name_ix *)b)->name);
}

static int cmp_tensor_off(const void *a, const void *b, void *ctx) {
  const struct gguf_tensor *ts = ctx;
  uint64_t x = ts[*(const uint32_t *)a].offset, y = ts[*(const uint32_t *)b].offset;
  return x < y ? -1 : x > y;
}

/* Sorted name index for lookups; rejects duplicates. */
static int build_index(const char *what, size_t n, const char *(*name_of)(const struct gguf *, size_t),
                       const struct gguf *g, struct name_ix **out, struct err *e) {
  struct name_ix *ix = calloc(n ? n : 1, sizeof(*ix));
  if (!ix) return err_set(e, ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    ix[i].name = name_of(g, i);
    ix[i].ix = (uint32_t)i;
  }
  qsort(ix, n, sizeof(*ix), cmp_name_ix);
  *out = ix;
  for (size_t i = 1; i < n; i++)
    if (strcmp(ix[i - 1].name, ix[i].name) == 0)
      return err_set(e, ERR_PARSE, "duplicate %s \"%.64s\"", what, ix[i].name);
  return 0;
}

static const char *kv_name(const struct gguf *g, size_t i) { return g->kvs[i].key; }
static const char *tensor_name(const struct gguf *g, size_t i) { return g->tensors[i].name; }

static int set_alignment(struct gguf *g, struct err *e) {
  g->alignment = GGUF_DEFAULT_ALIGNMENT;
  const struct gguf_kv *kv = gguf_find_kv(g, "general.alignment");
  if (!kv) return 0;
  if (kv->type != GGUF_U32)
    return err_set(e, ERR_PARSE, "general.alignment must be a u32, not %s", gguf_vtype_name(kv->type));
  uint32_t a = le32(kv->data);
  if (a == 0 || (a & (a - 1)) != 0 || a > GGUF_MAX_ALIGNMENT)
    return err_set(e, ERR_PARSE, "general.alignment %" PRIu32 " is not a power of two up to %u", a,
                   GGUF_MAX_ALIGNMENT);
  g->alignment = a;
  return 0;
}

static uint64_t align_up(uint64_t v, uint32_t a, int *ovf) {
  uint64_t r;
  if (__builtin_add_overflow(v, (uint64_t)a - 1, &r)) {
    *ovf = 1;
    return 0;
  }
  return r & ~((uint64_t)a - 1);
}

/* Tensor data must be packed: sorted by offset, each tensor starts where the previous one's
 * aligned end is, with no overlap, no gap and nothing after the last one but its padding. */
static int check_layout(struct gguf *g, struct err *e) {
  uint64_t data_len = g->size - g->data_off;
  int rc = 0;
  uint32_t *ord = calloc(g->n_tensors ? (size_t)g->n_tensors : 1, sizeof(*ord));
  if (!ord) return err_set(e, ERR_NOMEM, "out of memory");
  for (uint64_t i = 0; i < g->n_tensors; i++) {
    struct gguf_tensor *t = &g->tensors[i];
    uint64_t end;
    ord[i] = (uint32_t)i;
    if (t->offset % g->alignment) {
      rc = err_set(e, ERR_PARSE, "tensor \"%.64s\": offset %" PRIu64 " is not a multiple of the alignment %" PRIu32,
                   t->name, t->offset, g->alignment);
      goto out;
    }
    if (__builtin_add_overflow(t->offset, t->nbytes, &end) || end > data_len) {
      rc = err_set(e, ERR_PARSE,
                   "tensor \"%.64s\": data at offset %" PRIu64 " (%" PRIu64 " bytes) runs past the end of the "
                   "file (data section is %" PRIu64 " bytes)",
                   t->name, t->offset, t->nbytes, data_len);
      goto out;
    }
    t->data = g->base + g->data_off + t->offset;
  }
  qsort_r(ord, (size_t)g->n_tensors, sizeof(*ord), cmp_tensor_off, g->tensors);
  uint64_t expect = 0, last_end = 0;
  for (uint64_t i = 0; i < g->n_tensors; i++) {
    const struct gguf_tensor *t = &g->tensors[ord[i]];
    if (t->offset < expect) {
      rc = err_set(e, ERR_PARSE, "tensor \"%.64s\" overlaps tensor \"%.64s\"", t->name,
                   g->tensors[ord[i - 1]].name);
      goto out;
    }
    if (t->offset > expect) {
      rc = err_set(e, ERR_PARSE, "gap of %" PRIu64 " bytes before tensor \"%.64s\"", t->offset - expect,
                   t->name);
      goto out;
    }
    int ovf = 0;
    last_end = t->offset + t->nbytes; /* checked above */
    expect = align_up(last_end, g->alignment, &ovf);
    if (ovf) {
      rc = err_set(e, ERR_PARSE, "tensor \"%.64s\": padded end overflows", t->name);
      goto out;
    }
  }
  if (g->n_tensors > 0 && data_len > expect) {
    rc = err_set(e, ERR_PARSE, "%" PRIu64 " trailing bytes after the tensor data", data_len - expect);
    goto out;
  }
  (void)last_end;
out:
  free(ord);
  return rc;
}

static int parse(struct gguf *g, struct err *e) {
  struct cur c = {g->base, g->size, 0};
  const uint8_t *p;
  uint64_t nt, nkv;
  if (g->size < 24)
    return err_set(e, ERR_PARSE, "file of %zu bytes is too short for a GGUF header (24 bytes)", g->size);
  if (cur_bytes(&c, 4, &p) || memcmp(p, "GGUF", 4) != 0)
    return err_set(e, ERR_PARSE, "bad magic: not a GGUF file");
  if (cur_u32(&c, &g->version)) return err_set(e, ERR_PARSE, "truncated header");
  if (g->version == 0x03000000u || g->version == 0x02000000u)
    return err_set(e, ERR_PARSE, "big-endian GGUF files are not supported");
  if (g->version == 1) return err_set(e, ERR_PARSE, "GGUF version 1 is not supported (need 2 or 3)");
  if (g->version != 2 && g->version != 3)
    return err_set(e, ERR_PARSE, "unsupported GGUF version %" PRIu32 " (need 2 or 3)", g->version);
  if (cur_u64(&c, &nt) || cur_u64(&c, &nkv)) return err_set(e, ERR_PARSE, "truncated header");
  if (nt > GGUF_MAX_TENSORS)
    return err_set(e, ERR_LIMIT, "tensor count %" PRIu64 " exceeds %u", nt, GGUF_MAX_TENSORS);
  if (nkv > GGUF_MAX_KV) return err_set(e, ERR_LIMIT, "metadata count %" PRIu64 " exceeds %u", nkv, GGUF_MAX_KV);
  if (nkv > cur_left(&c) / MIN_KV_BYTES)
    return err_set(e, ERR_PARSE, "metadata count %" PRIu64 " cannot fit in a file of %zu bytes", nkv, g->size);
  if (nt > cur_left(&c) / MIN_TENSOR_BYTES)
    return err_set(e, ERR_PARSE, "tensor count %" PRIu64 " cannot fit in a file of %zu bytes", nt, g->size);

  g->kvs = calloc(nkv ? (size_t)nkv : 1, sizeof(*g->kvs));
  g->tensors = calloc(nt ? (size_t)nt : 1, sizeof(*g->tensors));
  if (!g->kvs || !g->tensors) return err_set(e, ERR_NOMEM, "out of memory");
  int rc;
  for (uint64_t i = 0; i < nkv; i++) {
    g->n_kv = i + 1; /* so gguf_free releases what this entry allocated */
    if ((rc = parse_kv(&c, i, &g->kvs[i], e)) != 0) return rc;
  }
  if ((rc = build_index("key", (size_t)nkv, kv_name, g, &g->kv_sorted, e)) != 0) return rc;
  if ((rc = set_alignment(g, e)) != 0) return rc;
  for (uint64_t i = 0; i < nt; i++) {
    g->n_tensors = i + 1;
    if ((rc = parse_tensor_info(&c, i, &g->tensors[i], e)) != 0) return rc;
  }
  if ((rc = build_index("tensor name", (size_t)nt, tensor_name, g, &g->t_sorted, e)) != 0) return rc;

  int ovf = 0;
  g->data_off = align_up(c.off, g->alignment, &ovf);
  if (nt == 0) {
    /* Nothing follows the infos but (possibly omitted) padding. */
    if (!ovf && g->size > g->data_off)
      return err_set(e, ERR_PARSE, "%" PRIu64 " trailing bytes after the metadata of a file without tensors",
                     (uint64_t)(g->size - g->data_off));
    if (g->data_off > g->size) g->data_off = g->size;
    return 0;
  }
  if (ovf || g->data_off > g->size)
    return err_set(e, ERR_PARSE, "tensor data would start at offset %" PRIu64 ", past the end of the file (%zu bytes)",
                   g->data_off, g->size);
  return check_layout(g, e);
}

static int open_common(struct gguf *g, struct gguf **out, struct err *e) {
  int rc = parse(g, e);
  if (rc) {
    gguf_free(g);
    return rc;
  }
  *out = g;
  return 0;
}

int gguf_open_mem(const void *buf, size_t len, struct gguf **out, struct err *e) {
  *out = NULL;
  struct gguf *g = calloc(1, sizeof(*g));
  if (!g) return err_set(e, ERR_NOMEM, "out of memory");
  /* Never NULL + 0: an empty input still gets a valid base pointer. */
  g->base = buf ? buf : (const uint8_t *)"";
  g->size = buf ? len : 0;
  return open_common(g, out, e);
}

int gguf_open(const char *path, struct gguf **out, struct err *e) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return err_set(e, ERR_IO, "cannot open %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return err_set(e, ERR_IO, "%s is not a regular file", path);
  }
  if (st.st_size == 0) {
    close(fd);
    return err_set(e, ERR_PARSE, "%s is empty", path);
  }
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int saved = errno;
  close(fd);
  if (m == MAP_FAILED) return err_set(e, ERR_IO, "cannot map %s: %s", path, strerror(saved));
  struct gguf *g = calloc(1, sizeof(*g));
  if (!g) {
    munmap(m, (size_t)st.st_size);
    return err_set(e, ERR_NOMEM, "out of memory");
  }
  g->map = m;
  g->base = m;
  g->size = (size_t)st.st_size;
  int rc = open_common(g, out, e);
  if (rc && e) {
    /* Prefix the file name, keeping the loader's message. */
    char msg[sizeof(e->msg)];
    int n = snprintf(msg, sizeof(msg), "%s: %s", path, e->msg);
    if (n > 0) memcpy(e->msg, msg, sizeof(msg)); /* a long path may cut the message short */
  }
  return rc;
}

void gguf_free(struct gguf *g) {
  if (!g) return;
  for (uint64_t i = 0; i < g->n_kv; i++) {
    free((char *)g->kvs[i].key);
    free((struct gguf_str *)g->kvs[i].strs);
  }
  for (uint64_t i = 0; i < g->n_tensors; i++) free((char *)g->tensors[i].name);
  free(g->kvs);
  free(g->tensors);
  free(g->kv_sorted);
  free(g->t_sorted);
  if (g->map) munmap(g->map, g->size);
  free(g);
}

uint32_t gguf_version(const struct gguf *g) { return g->version; }
uint32_t gguf_alignment(const struct gguf *g) { return g->alignment; }
size_t gguf_file_size(const struct gguf *g) { return g->size; }
int gguf_is_mapped(const struct gguf *g) { return g->map != NULL; }
uint64_t gguf_data_offset(const struct gguf *g) { return g->data_off; }
size_t gguf_kv_count(const struct gguf *g) { return (size_t)g->n_kv; }
size_t gguf_tensor_count(const struct gguf *g) { return (size_t)g->n_tensors; }

const struct gguf_kv *gguf_kv_at(const struct gguf *g, size_t i) { return i < g->n_kv ? &g->kvs[i] : NULL; }

const struct gguf_tensor *gguf_tensor_at(const struct gguf *g, size_t i) {
  return i < g->n_tensors ? &g->tensors[i] : NULL;
}

static const struct name_ix *lookup(const struct name_ix *ix, uint64_t n, const char *name) {
  if (!ix) return NULL;
  struct name_ix k = {name, 0};
  return bsearch(&k, ix, (size_t)n, sizeof(*ix), cmp_name_ix);
}

const struct gguf_kv *gguf_find_kv(const struct gguf *g, const char *key) {
  const struct name_ix *r = lookup(g->kv_sorted, g->n_kv, key);
  return r ? &g->kvs[r->ix] : NULL;
}

const struct gguf_tensor *gguf_find_tensor(const struct gguf *g, const char *name) {
  const struct name_ix *r = lookup(g->t_sorted, g->n_tensors, name);
  return r ? &g->tensors[r->ix] : NULL;
}

int gguf_str_eq(struct gguf_str s, const char *z) {
  size_t n = strlen(z);
  return s.len == n && (n == 0 || memcmp(s.p, z, n) == 0);
}

static int find(const struct gguf *g, const char *key, const struct gguf_kv **kv, struct err *e) {
  *kv = gguf_find_kv(g, key);
  if (!*kv) return err_set(e, ERR_NOTFOUND, "metadata key \"%.64s\" is missing", key);
  return 0;
}

static int get_int(const struct gguf *g, const char *key, int64_t lo, uint64_t hi, int64_t *sv, uint64_t *uv,
                   struct err *e) {
  const struct gguf_kv *kv;
  int rc = find(g, key, &kv, e);
  if (rc) return rc;
  if (!is_int_type(kv->type))
    return err_set(e, ERR_PARSE, "metadata \"%.64s\" is a %s, not an integer", key, gguf_vtype_name(kv->type));
  struct ival v = read_int(kv->type, kv->data);
  if ((v.neg && v.s < lo) || (!v.neg && v.u > hi))
    return err_set(e, ERR_PARSE, "metadata \"%.64s\" is out of range", key);
  if (sv) *sv = v.neg ? v.s : (int64_t)v.u;
  if (uv) *uv = v.u;
  return 0;
}

int gguf_get_u32(const struct gguf *g, const char *key, uint32_t *out, struct err *e) {
  uint64_t u;
  int rc = get_int(g, key, 0, UINT32_MAX, NULL, &u, e);
  if (rc == 0) *out = (uint32_t)u;
  return rc;
}

int gguf_get_i32(const struct gguf *g, const char *key, int32_t *out, struct err *e) {
  int64_t s;
  int rc = get_int(g, key, INT32_MIN, INT32_MAX, &s, NULL, e);
  if (rc == 0) *out = (int32_t)s;
  return rc;
}

int gguf_get_u64(const struct gguf *g, const char *key, uint64_t *out, struct err *e) {
  return get_int(g, key, 0, UINT64_MAX, NULL, out, e);
}

int gguf_get_f32(const struct gguf *g, const char *key, float *out, struct err *e) {
  const struct gguf_kv *kv;
  int rc = find(g, key, &kv, e);
  if (rc) return rc;
  if (kv->type != GGUF_F32 && kv->type != GGUF_F64)
    return err_set(e, ERR_PARSE, "metadata \"%.64s\" is a %s, not a float", key, gguf_vtype_name(kv->type));
  *out = to_f32(read_float(kv->type, kv->data));
  return 0;
}

int gguf_get_bool(const struct gguf *g, const char *key, int *out, struct err *e) {
  const struct gguf_kv *kv;
  int rc = find(g, key, &kv, e);
  if (rc) return rc;
  if (kv->type != GGUF_BOOL)
    return err_set(e, ERR_PARSE, "metadata \"%.64s\" is a %s, not a bool", key, gguf_vtype_name(kv->type));
  *out = kv->data[0];
  return 0;
}

int gguf_get_str(const struct gguf *g, const char *key, struct gguf_str *out, struct err *e) {
  const struct gguf_kv *kv;
  int rc = find(g, key, &kv, e);
  if (rc) return rc;
  if (kv->type != GGUF_STRING)
    return err_set(e, ERR_PARSE, "metadata \"%.64s\" is a %s, not a string", key, gguf_vtype_name(kv->type));
  *out = kv->str;
  return 0;
}

int gguf_get_arr(const struct gguf *g, const char *key, uint32_t elem_type, const struct gguf_kv **out,
                 struct err *e) {
  const struct gguf_kv *kv;
  int rc = find(g, key, &kv, e);
  if (rc) return rc;
  if (kv->type != GGUF_ARRAY)
    return err_set(e, ERR_PARSE, "metadata \"%.64s\" is a %s, not an array", key, gguf_vtype_name(kv->type));
  int ok = elem_type == GGUF_I64 ? is_int_type(kv->arr_type)
           : elem_type == GGUF_F32 ? (kv->arr_type == GGUF_F32 || kv->arr_type == GGUF_F64)
                                   : kv->arr_type == elem_type;
  if (!ok)
    return err_set(e, ERR_PARSE, "metadata \"%.64s\" is an array of %s, not of %s", key,
                   gguf_vtype_name(kv->arr_type), gguf_vtype_name(elem_type));
  *out = kv;
  return 0;
}

int64_t gguf_arr_int(const struct gguf_kv *kv, uint64_t i) {
  if (kv->type != GGUF_ARRAY || i >= kv->arr_n || !is_int_type(kv->arr_type)) return 0;
  struct ival v = read_int(kv->arr_type, kv->data + i * vtype_size(kv->arr_type));
  if (v.neg) return v.s;
  return v.u > INT64_MAX ? INT64_MAX : (int64_t)v.u;
}

float gguf_arr_f32(const struct gguf_kv *kv, uint64_t i) {
  if (kv->type != GGUF_ARRAY || i >= kv->arr_n || (kv->arr_type != GGUF_F32 && kv->arr_type != GGUF_F64))
    return 0;
  return to_f32(read_float(kv->arr_type, kv->data + i * vtype_size(kv->arr_type)));
}

struct gguf_str gguf_arr_str(const struct gguf_kv *kv, uint64_t i) {
  struct gguf_str none = {"", 0};
  if (kv->type != GGUF_ARRAY || kv->arr_type != GGUF_STRING || i >= kv->arr_n) return none;
  return kv->strs[i];
}
