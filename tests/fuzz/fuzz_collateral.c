/* fuzz_collateral: TCB info and QE identity JSON, the PCK SGX extension (DER) and CRL decoding. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/collateral.h"
#include "attest/pck.h"

/* The first byte picks the parser; the rest is its input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const uint8_t *p = data + 1;
  size_t n = size - 1;
  struct err e = {0};
  switch (data[0] % 4) {
  case 0: {
    struct attest_tcb_info *t = malloc(sizeof(*t));
    if (!t) return 0;
    if (attest_tcb_info_parse((const char *)p, n, t, &e) == 0) {
      /* The signed part lies inside the input and the levels within their bounds. */
      if ((const uint8_t *)t->signed_part < p || (const uint8_t *)t->signed_part + t->signed_len > p + n ||
          t->n_levels == 0 || t->n_levels > ATTEST_TCB_LEVELS_MAX || t->n_modules > ATTEST_MODULE_IDS_MAX)
        __builtin_trap();
    } else if (e.msg[0] == '\0') {
      __builtin_trap();
    }
    free(t);
    break;
  }
  case 1: {
    struct attest_qe_identity *q = malloc(sizeof(*q));
    if (!q) return 0;
    if (attest_qe_identity_parse((const char *)p, n, q, &e) == 0) {
      if ((const uint8_t *)q->signed_part < p || (const uint8_t *)q->signed_part + q->signed_len > p + n ||
          q->n_levels == 0 || q->n_levels > ATTEST_TCB_LEVELS_MAX)
        __builtin_trap();
    } else if (e.msg[0] == '\0') {
      __builtin_trap();
    }
    free(q);
    break;
  }
  case 2: {
    struct attest_pck_info info;
    if (attest_pck_ext_parse(p, n, &info, &e) != 0 && e.msg[0] == '\0') __builtin_trap();
    break;
  }
  default: {
    uint8_t *der = NULL;
    size_t dl = 0;
    if (attest_crl_to_der(p, n, &der, &dl, &e) == 0) {
      if (dl > n) __builtin_trap();
      free(der);
    } else if (e.msg[0] == '\0') {
      __builtin_trap();
    }
    break;
  }
  }
  return 0;
}
