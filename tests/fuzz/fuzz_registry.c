/* fuzz_registry: parses fuzz input as a registry file; whatever parses must be canonical
 * (serializing it gives back the input) and verifying it must not crash. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct registry r;
  struct err e = {0};
  if (registry_parse(data, size, &r, &e) != 0) {
    if (!e.msg[0]) abort(); /* every refusal says why */
    return 0;
  }
  struct buf b;
  buf_init(&b, REGISTRY_MAX_FILE * 2);
  if (registry_serialize(&r, &b) != 0 || b.len != size || memcmp(buf_ptr(&b), data, size) != 0) abort();
  buf_free(&b);
  if (r.body_len > size) abort();
  if (registry_verify(&r, r.owner, &e) == 0 && !r.is_signed) abort();
  return 0;
}
