/* frame: COCOON packet framing (len u32 LE | seqno i32 LE | payload): pure decoder, encoder. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "net/frame.h"

#include <string.h>

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t clamp_max(uint32_t max_len) {
  return (max_len == 0 || max_len > FRAME_MAX_LEN) ? FRAME_MAX_LEN : max_len;
}

void frame_decoder_init(struct frame_decoder *d, uint32_t max_len) {
  d->next_seqno = 0;
  d->max_len = clamp_max(max_len);
}

int frame_decode(struct frame_decoder *d, const uint8_t *p, size_t n, struct frame *out,
                 size_t *consumed, struct err *e) {
  *consumed = 0;
  if (n < 4) return 0;
  uint32_t len = rd32(p);
  if (len < FRAME_MIN_LEN) return err_set(e, ERR_PROTO, "frame too short: %u bytes", len);
  if (len > d->max_len) return err_set(e, ERR_LIMIT, "frame too big: %u > %u bytes", len, d->max_len);
  if (n - 4 < 4 || n - FRAME_HEADER_SIZE < len) return 0;
  uint32_t seqno = rd32(p + 4);
  if (seqno != d->next_seqno)
    return err_set(e, ERR_PROTO, "bad seqno: expected %d got %d", (int32_t)d->next_seqno,
                   (int32_t)seqno);
  d->next_seqno++;
  out->seqno = (int32_t)seqno;
  out->payload = p + FRAME_HEADER_SIZE;
  out->len = len;
  *consumed = FRAME_HEADER_SIZE + (size_t)len;
  return 1;
}

void frame_encoder_init(struct frame_encoder *enc, uint32_t max_len) {
  enc->next_seqno = 0;
  enc->max_len = clamp_max(max_len);
}

int frame_encode(struct frame_encoder *enc, struct buf *out, const void *payload, size_t len) {
  if (len < FRAME_MIN_LEN || len > enc->max_len) return ERR_LIMIT;
  int rc = buf_reserve(out, FRAME_HEADER_SIZE + len);
  if (rc) return rc;
  uint8_t *t = buf_tail(out);
  wr32(t, (uint32_t)len);
  wr32(t + 4, enc->next_seqno);
  memcpy(t + FRAME_HEADER_SIZE, payload, len);
  buf_added(out, FRAME_HEADER_SIZE + len);
  enc->next_seqno++;
  return 0;
}

int frame_begin(struct buf *out, size_t *mark) {
  int rc = buf_reserve(out, FRAME_HEADER_SIZE);
  if (rc) return rc;
  *mark = out->len;
  memset(buf_tail(out), 0, FRAME_HEADER_SIZE);
  buf_added(out, FRAME_HEADER_SIZE);
  return 0;
}

int frame_finish(struct frame_encoder *enc, struct buf *out, size_t mark, int status) {
  if (mark > out->len || out->len - mark < FRAME_HEADER_SIZE) return ERR_INVALID;
  size_t len = out->len - mark - FRAME_HEADER_SIZE;
  if (status == 0 && (len < FRAME_MIN_LEN || len > enc->max_len)) status = ERR_LIMIT;
  if (status != 0) {
    out->len = mark; /* drop the partial frame */
    return status;
  }
  uint8_t *h = buf_ptr(out) + mark;
  wr32(h, (uint32_t)len);
  wr32(h + 4, enc->next_seqno);
  enc->next_seqno++;
  return 0;
}
