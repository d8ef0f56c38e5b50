/* fuzz_toncenter: toncenter v2 answers (envelope, getAddressInformation, getTransactions,
 * runGetMethod) as the chain client parses them. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/toncenter.h"
#include "chain/tvm_stack.h"

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_toncenter: %s\n", what);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *root = NULL, *result = NULL;
  struct err e = {0};
  if (size > TONCENTER_MAX_RESPONSE) return 0;
  if (toncenter_envelope((const char *)data, size, 200, &root, &result, &e)) {
    check(e.msg[0] != '\0', "envelope refusal without a message");
    json_decref(root);
    return 0;
  }
  check(result != NULL, "accepted envelope without a result");
  struct toncenter_account a;
  memset(&e, 0, sizeof(e));
  if (toncenter_account_from_json(result, &a, &e) == 0) {
    check(a.state == TONCENTER_ACTIVE || (!a.code && !a.data), "cells of an inactive account");
  } else {
    check(e.msg[0] != '\0', "account refusal without a message");
  }
  toncenter_account_clear(&a);
  struct toncenter_tx *txs = NULL;
  size_t n = 0;
  memset(&e, 0, sizeof(e));
  if (toncenter_txs_from_json(result, &txs, &n, &e) == 0) {
    check(n <= TONCENTER_MAX_TXS, "too many transactions");
    for (size_t i = 0; i < n; i++) check(!txs[i].in_external || txs[i].in_source[0] == '\0', "external with a source");
  } else {
    check(e.msg[0] != '\0', "transactions refusal without a message");
  }
  toncenter_txs_free(txs, n);
  struct chain_tvm_stack *s = calloc(1, sizeof(*s));
  if (s) {
    if (chain_tvm_stack_from_json(result, s, &e) == 0) check(s->n <= CHAIN_TVM_MAX_ENTRIES, "stack size");
    chain_tvm_stack_clear(s);
    free(s);
  }
  json_decref(root);
  return 0;
}
