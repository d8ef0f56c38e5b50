/* gguf: validating GGUF v2/v3 reader over a read-only mapping or a caller's buffer. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_GGUF_H
#define COCOON_ENGINE_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/quant.h"

/* Hard limits on what a file may declare; everything is also bounded by the file size. */
#define GGUF_MAX_KV 65536u             /* metadata key/value pairs */
#define GGUF_MAX_TENSORS 65536u        /* tensor infos */
#define GGUF_MAX_NAME 256u             /* bytes of a key or tensor name */
#define GGUF_MAX_STRING (16u << 20)    /* bytes of one string value */
#define GGUF_MAX_ARRAY (1u << 24)      /* elements of one array value */
#define GGUF_MAX_DIMS 4u               /* dimensions of a tensor */
#define GGUF_MAX_ALIGNMENT (1u << 16)  /* general.alignment */
#define GGUF_DEFAULT_ALIGNMENT 32u

/* Metadata value types. */
enum gguf_vtype {
  GGUF_U8 = 0,
  GGUF_I8 = 1,
  GGUF_U16 = 2,
  GGUF_I16 = 3,
  GGUF_U32 = 4,
  GGUF_I32 = 5,
  GGUF_F32 = 6,
  GGUF_BOOL = 7,
  GGUF_STRING = 8,
  GGUF_ARRAY = 9,
  GGUF_U64 = 10,
  GGUF_I64 = 11,
  GGUF_F64 = 12,
  GGUF_VTYPE_END = 13,
};

/* A string inside the file: not NUL-terminated, may hold any bytes. */
struct gguf_str {
  const char *p;
  uint64_t len;
};

/* One metadata pair. `key` is a NUL-terminated copy. For scalars `data` points at the
 * little-endian value in the file (unaligned); for arrays at the first element, and for
 * arrays of strings `strs` indexes every element. */
struct gguf_kv {
  const char *key;
  uint32_t type;
  uint32_t arr_type; /* element type when type == GGUF_ARRAY */
  uint64_t arr_n;    /* element count when type == GGUF_ARRAY */
  const uint8_t *data;
  struct gguf_str str;         /* the value when type == GGUF_STRING */
  const struct gguf_str *strs; /* arr_n entries when an array of strings */
};

struct gguf_tensor {
  const char *name; /* NUL-terminated copy */
  uint32_t type;    /* QUANT_* id */
  uint32_t n_dims;
  uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] is contiguous; unused dims are 1 */
  uint64_t n_elems;
  uint64_t offset; /* relative to the data section */
  uint64_t nbytes;
  const void *data; /* inside the mapping / buffer */
};

struct gguf;

/* Maps `path` read-only and validates it; *out owns the mapping (gguf_free). */
CC_NODISCARD int gguf_open(const char *path, struct gguf **out, struct err *e);
/* Validates buf[0..len); *out borrows buf, which must outlive it. */
CC_NODISCARD int gguf_open_mem(const void *buf, size_t len, struct gguf **out, struct err *e);
void gguf_free(struct gguf *g);

uint32_t gguf_version(const struct gguf *g);
uint32_t gguf_alignment(const struct gguf *g);
size_t gguf_file_size(const struct gguf *g);
/* 1 when gguf_open mapped the file (tensor data is then a read-only file mapping). */
int gguf_is_mapped(const struct gguf *g);
uint64_t gguf_data_offset(const struct gguf *g);

size_t gguf_kv_count(const struct gguf *g);
const struct gguf_kv *gguf_kv_at(const struct gguf *g, size_t i);
/* NULL when absent. */
const struct gguf_kv *gguf_find_kv(const struct gguf *g, const char *key);
const char *gguf_vtype_name(uint32_t type);

/* Typed getters: ERR_NOTFOUND when the key is absent, ERR_PARSE (with a message naming the
 * key) when its type does not fit. Integer getters accept any integer type whose value is in
 * range; f32 accepts f32 and f64. The string getter returns a view into the file. */
CC_NODISCARD int gguf_get_u32(const struct gguf *g, const char *key, uint32_t *out, struct err *e);
CC_NODISCARD int gguf_get_i32(const struct gguf *g, const char *key, int32_t *out, struct err *e);
CC_NODISCARD int gguf_get_u64(const struct gguf *g, const char *key, uint64_t *out, struct err *e);
CC_NODISCARD int gguf_get_f32(const struct gguf *g, const char *key, float *out, struct err *e);
CC_NODISCARD int gguf_get_bool(const struct gguf *g, const char *key, int *out, struct err *e);
CC_NODISCARD int gguf_get_str(const struct gguf *g, const char *key, struct gguf_str *out,
                              struct err *e);
/* An array whose elements have type `elem_type` (or any integer type when elem_type is
 * GGUF_I64, meaning "an integer array"). */
CC_NODISCARD int gguf_get_arr(const struct gguf *g, const char *key, uint32_t elem_type,
                              const struct gguf_kv **out, struct err *e);

/* Element i of an array kv (i < arr_n, not checked beyond an assert-free clamp to 0). */
int64_t gguf_arr_int(const struct gguf_kv *kv, uint64_t i); /* any integer element type */
float gguf_arr_f32(const struct gguf_kv *kv, uint64_t i);   /* f32 or f64 elements */
struct gguf_str gguf_arr_str(const struct gguf_kv *kv, uint64_t i);

size_t gguf_tensor_count(const struct gguf *g);
const struct gguf_tensor *gguf_tensor_at(const struct gguf *g, size_t i);
const struct gguf_tensor *gguf_find_tensor(const struct gguf *g, const char *name);

/* 1 when s equals the NUL-terminated z. */
int gguf_str_eq(struct gguf_str s, const char *z);

#endif
