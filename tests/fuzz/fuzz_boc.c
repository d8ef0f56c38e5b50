/* fuzz_boc: the BoC parser on arbitrary bytes; accepted BoCs must survive a re-encoding. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "ton/boc.h"
#include "ton/cell.h"

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_boc: %s\n", what);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ton_cell *roots[TON_BOC_MAX_ROOTS];
  size_t nroots = 0;
  struct err e = {0};
  if (ton_boc_parse(data, size, roots, TON_BOC_MAX_ROOTS, &nroots, &e) != 0) {
    check(e.msg[0] != '\0', "a refusal without a message");
    return 0;
  }
  check(nroots >= 1 && nroots <= TON_BOC_MAX_ROOTS, "root count");
  /* Every accepted root re-encodes in all four variants and parses back to the same hash,
   * and the canonical encoding is a fixed point. */
  for (size_t i = 0; i < nroots; i++) {
    for (unsigned flags = 0; flags < 4; flags++) {
      struct buf b;
      buf_init(&b, 0);
      check(ton_boc_serialize(roots[i], flags, &b, &e) == 0, "re-serialize");
      struct ton_cell *back = NULL;
      check(ton_boc_parse_one(buf_ptr(&b), b.len, &back, &e) == 0, "re-parse");
      check(memcmp(back->hash, roots[i]->hash, TON_HASH_LEN) == 0, "root hash changed");
      check(back->depth == roots[i]->depth, "depth changed");
      struct buf again;
      buf_init(&again, 0);
      check(ton_boc_serialize(back, flags, &again, &e) == 0, "second serialize");
      check(again.len == b.len && memcmp(buf_ptr(&again), buf_ptr(&b), b.len) == 0, "not a fixed point");
      buf_free(&again);
      ton_cell_unref(back);
      buf_free(&b);
    }
    ton_cell_unref(roots[i]);
  }
  return 0;
}
