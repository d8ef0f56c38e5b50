/* tvm_stack: toncenter runGetMethod results (the JSON `stack`) as typed values. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CHAIN_TVM_STACK_H
#define COCOON_CHAIN_TVM_STACK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ton/address.h"
#include "ton/cell.h"

#define CHAIN_TVM_MAX_ENTRIES 64
#define CHAIN_TVM_MAX_BOC ((size_t)1 << 20) /* one cell or slice entry, decoded */
#define CHAIN_TVM_MAX_JSON ((size_t)4 << 20) /* a whole runGetMethod answer */

enum chain_tvm_type { CHAIN_TVM_NULL = 0, CHAIN_TVM_NUM, CHAIN_TVM_CELL, CHAIN_TVM_SLICE };

/* One stack entry. Numbers are TVM int257: a sign and a 33-byte big-endian magnitude. */
struct chain_tvm_entry {
  enum chain_tvm_type type;
  int neg;
  uint8_t mag[33];
  struct ton_cell *cell; /* owned; CELL and SLICE (a slice is given as the BoC of its cell) */
};

struct chain_tvm_stack {
  int exit_code;
  uint64_t gas_used;
  size_t n;
  struct chain_tvm_entry v[CHAIN_TVM_MAX_ENTRIES]; /* v[0] is the first (deepest) entry */
};

/* Parses a runGetMethod answer: either the envelope {"ok":true,"result":{...}} or the result
 * object itself ({"gas_used","exit_code","stack":[["num","0x1f"],["cell",{"bytes":b64}],
 * ["slice",{"bytes":b64}],["null"]...]}). An envelope with ok:false gives ERR_REFUSED with
 * toncenter's error text; a non-zero exit code (other than 1, TVM's alternative success) gives
 * ERR_REFUSED "get method failed with exit code N". Tuples and lists are refused (ERR_PARSE).
 * Fills *out (clear it with chain_tvm_stack_clear, also after a failure). */
CC_NODISCARD int chain_tvm_stack_parse(const char *json, size_t len, struct chain_tvm_stack *out, struct err *e);
/* The same from an already parsed result object (borrowed). */
CC_NODISCARD int chain_tvm_stack_from_json(json_t *result, struct chain_tvm_stack *out, struct err *e);
void chain_tvm_stack_clear(struct chain_tvm_stack *s);

/* Typed accessors for entry i; the errors name the index and what was found. */
CC_NODISCARD int chain_tvm_get_u64(const struct chain_tvm_stack *s, size_t i, uint64_t *out, struct err *e);
CC_NODISCARD int chain_tvm_get_i64(const struct chain_tvm_stack *s, size_t i, int64_t *out, struct err *e);
/* A number 0..2^256-1 as 32 big-endian bytes (hashes and public keys come back this way). */
CC_NODISCARD int chain_tvm_get_u256(const struct chain_tvm_stack *s, size_t i, uint8_t out[32], struct err *e);
/* TVM booleans are 0 and -1; any non-zero number is true. */
CC_NODISCARD int chain_tvm_get_bool(const struct chain_tvm_stack *s, size_t i, int *out, struct err *e);
/* A cell or slice entry (borrowed from the stack). */
CC_NODISCARD int chain_tvm_get_cell(const struct chain_tvm_stack *s, size_t i, const struct ton_cell **out,
                                    struct err *e);
/* A slice holding exactly one MsgAddress (addr_std or addr_none: *is_none = 1). */
CC_NODISCARD int chain_tvm_get_addr(const struct chain_tvm_stack *s, size_t i, struct ton_addr *out, int *is_none,
                                    struct err *e);

#endif
