/* gguf_write: streaming GGUF v3 writer (metadata of every type, tensors quantized from float). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_GGUF_WRITE_H
#define COCOON_ENGINE_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "engine/gguf.h"

/* Use: declare metadata and tensors (gguf_writer_kv*, gguf_writer_tensor), then
 * gguf_writer_begin writes the header, and the tensors' data follow in declaration order
 * (gguf_writer_data / gguf_writer_data_f32, any number of calls per tensor, whole blocks),
 * then gguf_writer_finish. Tensor data is streamed, so a model need not fit in memory.
 * Setting "general.alignment" (a u32 power of two) before declaring tensors changes the
 * alignment from the default 32. */
struct gguf_writer;

/* Returns NULL on allocation failure. Caller frees with gguf_writer_free. */
struct gguf_writer *gguf_writer_new(void);
void gguf_writer_free(struct gguf_writer *w);

/* Scalar of type `type` (GGUF_U8..GGUF_F64, not string/array); `value` points at the native
 * C value (uint8_t, int8_t, ..., float, double; bool as uint8_t). Keys are copied and must be
 * unique. */
CC_NODISCARD int gguf_writer_kv(struct gguf_writer *w, const char *key, uint32_t type, const void *value,
                                struct err *e);
CC_NODISCARD int gguf_writer_kv_u32(struct gguf_writer *w, const char *key, uint32_t v, struct err *e);
CC_NODISCARD int gguf_writer_kv_i32(struct gguf_writer *w, const char *key, int32_t v, struct err *e);
CC_NODISCARD int gguf_writer_kv_f32(struct gguf_writer *w, const char *key, float v, struct err *e);
CC_NODISCARD int gguf_writer_kv_bool(struct gguf_writer *w, const char *key, int v, struct err *e);
CC_NODISCARD int gguf_writer_kv_str(struct gguf_writer *w, const char *key, const char *s, struct err *e);
CC_NODISCARD int gguf_writer_kv_strn(struct gguf_writer *w, const char *key, const char *s, size_t len,
                                     struct err *e);
/* Array of n native values of a fixed-size `elem_type`. */
CC_NODISCARD int gguf_writer_kv_arr(struct gguf_writer *w, const char *key, uint32_t elem_type,
                                    const void *elems, uint64_t n, struct err *e);
/* Array of n strings; lens may be NULL (NUL-terminated strings). */
CC_NODISCARD int gguf_writer_kv_arr_str(struct gguf_writer *w, const char *key, const char *const *strs,
                                        const size_t *lens, uint64_t n, struct err *e);

/* Declares a tensor of n_dims (1..4) dimensions ne[] (ne[0] contiguous) and ggml type. */
CC_NODISCARD int gguf_writer_tensor(struct gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                    const uint64_t *ne, struct err *e);

/* Writes header, metadata and tensor infos to f (borrowed, positioned at its start). */
CC_NODISCARD int gguf_writer_begin(struct gguf_writer *w, FILE *f, struct err *e);
/* Raw bytes of the current tensor, in its own layout. */
CC_NODISCARD int gguf_writer_data(struct gguf_writer *w, const void *bytes, size_t n, struct err *e);
/* n floats (whole blocks) converted to the current tensor's type (a supported type). */
CC_NODISCARD int gguf_writer_data_f32(struct gguf_writer *w, const float *x, uint64_t n, struct err *e);
/* Checks that every tensor was written in full and flushes f. */
CC_NODISCARD int gguf_writer_finish(struct gguf_writer *w, struct err *e);

/* Number of tensors declared so far, and total bytes the file will have. */
size_t gguf_writer_tensor_count(const struct gguf_writer *w);
uint64_t gguf_writer_file_size(const struct gguf_writer *w);

#endif
