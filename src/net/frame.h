/* frame: COCOON packet framing (len u32 LE | seqno i32 LE | payload): pure decoder, encoder. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_NET_FRAME_H
#define COCOON_NET_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* `len` counts the payload only and must lie in [FRAME_MIN_LEN, max_len]; max_len itself is at
 * most FRAME_MAX_LEN (upstream net/TcpConnection.cpp). Each direction numbers its frames from
 * 0; a gap or repeat is a protocol violation. */
#define FRAME_HEADER_SIZE 8
#define FRAME_MIN_LEN 4u
#define FRAME_MAX_LEN (1u << 24)

struct frame_decoder {
  uint32_t next_seqno; /* expected seqno of the next frame (wraps like the i32 on the wire) */
  uint32_t max_len;
};

/* A decoded frame; payload borrows from the decoder's input. */
struct frame {
  int32_t seqno;
  const uint8_t *payload;
  size_t len;
};

/* max_len 0 or above FRAME_MAX_LEN means FRAME_MAX_LEN. */
void frame_decoder_init(struct frame_decoder *d, uint32_t max_len);
/* Looks at the bytes p[0..n) buffered so far. Returns 1 with *out and *consumed (header +
 * payload) when a whole frame is there, 0 when more bytes are needed (a bad length is reported
 * as soon as the 4 length bytes are in), or ERR_PROTO / ERR_LIMIT (fill e). After an error the
 * stream is unusable. */
CC_NODISCARD int frame_decode(struct frame_decoder *d, const uint8_t *p, size_t n,
                              struct frame *out, size_t *consumed, struct err *e);

struct frame_encoder {
  uint32_t next_seqno;
  uint32_t max_len;
};

void frame_encoder_init(struct frame_encoder *enc, uint32_t max_len);
/* Appends one whole frame to out. ERR_LIMIT when len is out of range (nothing appended),
 * ERR_NOMEM/ERR_LIMIT from the buffer (nothing appended). */
CC_NODISCARD int frame_encode(struct frame_encoder *enc, struct buf *out, const void *payload,
                              size_t len);
/* Zero-copy form: frame_begin reserves a header and returns its position in *mark; the caller
 * appends the payload to out; frame_finish patches the header, or drops everything since
 * frame_begin and returns the error when `status` is nonzero or the length is out of range.
 * Nothing else may consume from `out` in between. */
CC_NODISCARD int frame_begin(struct buf *out, size_t *mark);
CC_NODISCARD int frame_finish(struct frame_encoder *enc, struct buf *out, size_t mark, int status);

#endif
