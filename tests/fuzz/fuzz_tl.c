/* fuzz_tl: decodes any known COCOON TL constructor and checks that re-encoding is stable. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "tl/tl_codec.h"
#include "tl/tl_schema.h"

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_tl: %s\n", what);
    abort();
  }
}

/* Decode p as `id`, or return NULL. The object borrows from p. */
static void *decode(uint32_t id, const uint8_t *p, size_t n) {
  size_t sz = tl_any_size(id);
  void *obj = calloc(1, sz ? sz : 1);
  check(obj != NULL, "oom");
  uint32_t got;
  if (tl_any_decode(p, n, &got, obj, sz) != 0) {
    free(obj);
    return NULL;
  }
  check(got == id, "id changed");
  return obj;
}

static int encode(uint32_t id, const void *obj, struct buf *out) {
  struct tl_writer w;
  buf_init(out, 0);
  tl_writer_init(&w, out);
  tl_any_write(&w, id, obj);
  return w.err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint32_t id;
  if (tl_peek_id(data, size, &id) != 0) return 0;
  (void)tl_id_name(id);

  /* The standalone polymorphic readers and the codec primitives see the same bytes. */
  struct tl_reader r;
  struct tl_signed_payment sp;
  struct tl_proxy_connection_auth au;
  tl_reader_init(&r, data, size);
  if (tl_signed_payment_read(&r, &sp) == 0)
    check(sp.id == TL_ID_PROXY_SIGNED_PAYMENT || sp.id == TL_ID_PROXY_SIGNED_PAYMENT_EMPTY,
          "signed payment id");
  tl_reader_init(&r, data, size);
  if (tl_proxy_connection_auth_read(&r, &au) == 0)
    check(au.id == TL_ID_CLIENT_PROXY_CONNECTION_AUTH_SHORT ||
              au.id == TL_ID_CLIENT_PROXY_CONNECTION_AUTH_LONG,
          "auth id");
  tl_reader_init(&r, data, size);
  char *s = tl_get_str(&r);
  free(s);
  tl_reader_init(&r, data, size);
  (void)tl_get_vector_len(&r, 4);

  if (!tl_any_known(id)) return 0;
  void *obj = decode(id, data, size);
  if (!obj) return 0;

  /* Decoding accepts non-canonical input (long length form, non-zero padding), so compare
   * the first re-encoding with the encoding of its own decode, not with the input. */
  struct buf e1, e2;
  check(encode(id, obj, &e1) == 0, "re-encoding failed");
  check(e1.len <= size, "re-encoding grew");
  void *obj2 = decode(id, buf_ptr(&e1), e1.len);
  check(obj2 != NULL, "re-encoding does not decode");
  check(encode(id, obj2, &e2) == 0, "second re-encoding failed");
  check(e1.len == e2.len && memcmp(buf_ptr(&e1), buf_ptr(&e2), e1.len) == 0,
        "re-encoding is not stable");

  tl_any_clear(id, obj);
  tl_any_clear(id, obj2);
  free(obj);
  free(obj2);
  buf_free(&e1);
  buf_free(&e2);
  return 0;
}
