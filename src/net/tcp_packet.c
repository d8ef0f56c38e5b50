/* tcp_packet: the boxed tcp.* TL objects carried in each frame (ping, query, answer, ...). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "net/tcp_packet.h"

#include <string.h>

#include "tl/tl_codec.h"

int tcp_packet_encode(struct buf *out, const struct tcp_packet *pkt) {
  /* Empty fields may come as NULL; memcpy(NULL, 0) is still undefined behaviour. */
  const uint8_t *data = pkt->data ? pkt->data : (const uint8_t *)"";
  const char *message = pkt->message ? pkt->message : "";
  struct tl_writer w;
  tl_writer_init(&w, out);
  switch (pkt->kind) {
    case TCP_PING:
      tl_put_u32(&w, TCP_ID_PING);
      tl_put_i64(&w, pkt->id);
      break;
    case TCP_PONG:
      tl_put_u32(&w, TCP_ID_PONG);
      tl_put_i64(&w, pkt->id);
      break;
    case TCP_PACKET:
      tl_put_u32(&w, TCP_ID_PACKET);
      tl_put_bytes(&w, data, pkt->data_len);
      break;
    case TCP_QUERY:
      tl_put_u32(&w, TCP_ID_QUERY);
      tl_put_i64(&w, pkt->id);
      tl_put_bytes(&w, data, pkt->data_len);
      break;
    case TCP_QUERY_ANSWER:
      tl_put_u32(&w, TCP_ID_QUERY_ANSWER);
      tl_put_i64(&w, pkt->id);
      tl_put_bytes(&w, data, pkt->data_len);
      break;
    case TCP_QUERY_ERROR:
      tl_put_u32(&w, TCP_ID_QUERY_ERROR);
      tl_put_i64(&w, pkt->id);
      tl_put_i32(&w, pkt->code);
      tl_put_bytes(&w, message, pkt->message_len);
      break;
    case TCP_CONNECT:
      tl_put_u32(&w, TCP_ID_CONNECT);
      tl_put_i64(&w, pkt->id);
      break;
    case TCP_CONNECTED:
      tl_put_u32(&w, TCP_ID_CONNECTED);
      tl_put_i64(&w, pkt->id);
      break;
    default:
      return ERR_INVALID;
  }
  return w.err;
}

int tcp_packet_decode(const uint8_t *p, size_t n, struct tcp_packet *out) {
  memset(out, 0, sizeof(*out));
  struct tl_reader r;
  tl_reader_init(&r, p, n);
  uint32_t id = tl_get_u32(&r);
  const uint8_t *msg = NULL;
  switch (id) {
    case TCP_ID_PING: out->kind = TCP_PING; out->id = tl_get_i64(&r); break;
    case TCP_ID_PONG: out->kind = TCP_PONG; out->id = tl_get_i64(&r); break;
    case TCP_ID_CONNECT: out->kind = TCP_CONNECT; out->id = tl_get_i64(&r); break;
    case TCP_ID_CONNECTED: out->kind = TCP_CONNECTED; out->id = tl_get_i64(&r); break;
    case TCP_ID_PACKET:
      out->kind = TCP_PACKET;
      tl_get_bytes(&r, &out->data, &out->data_len);
      break;
    case TCP_ID_QUERY:
      out->kind = TCP_QUERY;
      out->id = tl_get_i64(&r);
      tl_get_bytes(&r, &out->data, &out->data_len);
      break;
    case TCP_ID_QUERY_ANSWER:
      out->kind = TCP_QUERY_ANSWER;
      out->id = tl_get_i64(&r);
      tl_get_bytes(&r, &out->data, &out->data_len);
      break;
    case TCP_ID_QUERY_ERROR:
      out->kind = TCP_QUERY_ERROR;
      out->id = tl_get_i64(&r);
      out->code = tl_get_i32(&r);
      tl_get_bytes(&r, &msg, &out->message_len);
      out->message = (const char *)msg;
      break;
    default:
      return ERR_PARSE;
  }
  if (tl_reader_finish(&r) != 0) {
    memset(out, 0, sizeof(*out));
    return ERR_PARSE;
  }
  return 0;
}

const char *tcp_packet_kind_name(enum tcp_packet_kind kind) {
  switch (kind) {
    case TCP_PING: return "tcp.ping";
    case TCP_PONG: return "tcp.pong";
    case TCP_PACKET: return "tcp.packet";
    case TCP_QUERY: return "tcp.query";
    case TCP_QUERY_ANSWER: return "tcp.queryAnswer";
    case TCP_QUERY_ERROR: return "tcp.queryError";
    case TCP_CONNECT: return "tcp.connect";
    case TCP_CONNECTED: return "tcp.connected";
  }
  return "tcp.unknown";
}
