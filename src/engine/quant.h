/* quant: ggml tensor types: block geometry, f16/bf16 conversion, scalar quantize/dequantize. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_QUANT_H
#define COCOON_ENGINE_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* ggml type ids as stored in GGUF tensor infos (ids 4, 5, 31-33 and 36-38 are retired). */
enum {
  QUANT_F32 = 0,
  QUANT_F16 = 1,
  QUANT_Q4_0 = 2,
  QUANT_Q4_1 = 3,
  QUANT_Q5_0 = 6,
  QUANT_Q5_1 = 7,
  QUANT_Q8_0 = 8,
  QUANT_Q8_1 = 9,
  QUANT_Q2_K = 10,
  QUANT_Q3_K = 11,
  QUANT_Q4_K = 12,
  QUANT_Q5_K = 13,
  QUANT_Q6_K = 14,
  QUANT_Q8_K = 15,
  QUANT_IQ2_XXS = 16,
  QUANT_IQ2_XS = 17,
  QUANT_IQ3_XXS = 18,
  QUANT_IQ1_S = 19,
  QUANT_IQ4_NL = 20,
  QUANT_IQ3_S = 21,
  QUANT_IQ2_S = 22,
  QUANT_IQ4_XS = 23,
  QUANT_I8 = 24,
  QUANT_I16 = 25,
  QUANT_I32 = 26,
  QUANT_I64 = 27,
  QUANT_F64 = 28,
  QUANT_IQ1_M = 29,
  QUANT_BF16 = 30,
  QUANT_TQ1_0 = 34,
  QUANT_TQ2_0 = 35,
  QUANT_MXFP4 = 39,
  QUANT_TYPE_END = 40,
};

/* Block geometry of one type. `supported` is 1 for the types this engine computes with
 * (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K); other known types load but cannot run. */
struct quant_type_info {
  const char *name;
  uint32_t block_elems; /* elements per block */
  uint32_t block_bytes; /* bytes per block */
  int supported;
};

/* NULL for an unknown or retired type id. */
const struct quant_type_info *quant_type_info(uint32_t type);
/* Case-insensitive lookup by name ("q8_0", "F16"); returns the id or -1. */
int quant_type_from_name(const char *name);

/* Bytes of a row of n elements; ERR_INVALID when n is not a whole number of blocks or the
 * type is unknown, ERR_LIMIT on overflow. */
CC_NODISCARD int quant_row_bytes(uint32_t type, uint64_t n, uint64_t *bytes);

uint16_t quant_f32_to_f16(float f);
float quant_f16_to_f32(uint16_t h);
uint16_t quant_f32_to_bf16(float f);
float quant_bf16_to_f32(uint16_t h);

/* Converts n floats (a whole number of blocks) into `type`'s layout at dst (which must hold
 * quant_row_bytes(type, n) bytes). Supported types only; ERR_INVALID otherwise. */
CC_NODISCARD int quant_quantize(uint32_t type, const float *src, void *dst, uint64_t n);
/* The inverse: decodes n elements (whole blocks) of `type` from src into floats. */
CC_NODISCARD int quant_dequantize(uint32_t type, const void *src, float *dst, uint64_t n);

#endif
