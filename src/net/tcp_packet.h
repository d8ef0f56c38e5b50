/* tcp_packet: the boxed tcp.* TL objects carried in each frame (ping, query, answer, ...). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_NET_TCP_PACKET_H
#define COCOON_NET_TCP_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* Constructor ids (cocoon_api.tl). */
#define TCP_ID_PING 0xbbe9627cu
#define TCP_ID_PONG 0x0bd4302cu
#define TCP_ID_PACKET 0x9c17baf8u
#define TCP_ID_QUERY 0x3af51908u
#define TCP_ID_QUERY_ANSWER 0xc048c311u
#define TCP_ID_QUERY_ERROR 0x4cd2f602u
#define TCP_ID_CONNECT 0xa57c4261u
#define TCP_ID_CONNECTED 0x636d41d6u

enum tcp_packet_kind {
  TCP_PING = 1,     /* id */
  TCP_PONG,         /* id */
  TCP_PACKET,       /* data */
  TCP_QUERY,        /* id, data */
  TCP_QUERY_ANSWER, /* id, data */
  TCP_QUERY_ERROR,  /* id, code, message */
  TCP_CONNECT,      /* id */
  TCP_CONNECTED,    /* id */
};

/* One tcp.* object. For decoding, data and message borrow from the input (message is not
 * NUL-terminated: use message_len). Unused fields are zero. */
struct tcp_packet {
  enum tcp_packet_kind kind;
  int64_t id;
  int32_t code;
  const uint8_t *data;
  size_t data_len;
  const char *message;
  size_t message_len;
};

/* Appends the boxed object to out (tl_codec). Returns 0, ERR_INVALID for an unknown kind, or
 * the buffer's ERR_NOMEM/ERR_LIMIT (out may then hold a partial object: callers framing it
 * drop it, see frame_finish). */
CC_NODISCARD int tcp_packet_encode(struct buf *out, const struct tcp_packet *pkt);
/* Decodes exactly one boxed object filling the whole input; ERR_PARSE otherwise. */
CC_NODISCARD int tcp_packet_decode(const uint8_t *p, size_t n, struct tcp_packet *out);
/* "tcp.ping" etc., for logs. */
const char *tcp_packet_kind_name(enum tcp_packet_kind kind);

#endif
