/* fuzz_frame: feeds bytes to the frame decoder and decodes every frame as a tcp.* packet. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "net/frame.h"
#include "net/tcp_packet.h"

/* Re-encodes a decoded packet and checks it decodes to the same fields. */
static void roundtrip(const struct tcp_packet *p) {
  struct buf b;
  buf_init(&b, (size_t)FRAME_MAX_LEN + 64);
  if (tcp_packet_encode(&b, p) == 0) {
    struct tcp_packet q;
    if (tcp_packet_decode(buf_ptr(&b), b.len, &q) != 0 || q.kind != p->kind || q.id != p->id ||
        q.code != p->code || q.data_len != p->data_len || q.message_len != p->message_len ||
        (p->data_len && memcmp(q.data, p->data, p->data_len) != 0) ||
        (p->message_len && memcmp(q.message, p->message, p->message_len) != 0))
      __builtin_trap();
  }
  buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The first byte picks how the stream is cut into reads, like a socket would. */
  if (size < 1) return 0;
  size_t step = (size_t)data[0] % 17 + 1;
  data++;
  size--;
  struct frame_decoder d;
  frame_decoder_init(&d, (uint32_t)1 << 16);
  struct buf in;
  buf_init(&in, (size_t)1 << 20);
  size_t fed = 0;
  int dead = 0;
  while (fed < size && !dead) {
    size_t n = size - fed < step ? size - fed : step;
    if (buf_append(&in, data + fed, n) != 0) break;
    fed += n;
    for (;;) {
      struct frame f;
      size_t used = 0;
      int r = frame_decode(&d, buf_ptr(&in), in.len, &f, &used, NULL);
      if (r < 0) {
        dead = 1;
        break;
      }
      if (r == 0) break;
      if (used != FRAME_HEADER_SIZE + f.len || used > in.len) __builtin_trap();
      struct tcp_packet p;
      if (tcp_packet_decode(f.payload, f.len, &p) == 0) roundtrip(&p);
      buf_consume(&in, used);
    }
  }
  buf_free(&in);
  return 0;
}
