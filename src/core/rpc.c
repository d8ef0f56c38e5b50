/* rpc: encodes TL objects and sends them as packets, queries or answers on a net_conn. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "core/rpc.h"

#include "tl/tl_codec.h"
#include "tl/tl_schema.h"

int rpc_encode(struct buf *out, uint32_t id, const void *obj) {
  struct tl_writer w;
  tl_writer_init(&w, out);
  if (obj && tl_any_size(id) > 0)
    tl_any_write(&w, id, obj);
  else
    tl_empty_write(&w, id);
  return w.err;
}

#define RPC_MAX_MESSAGE ((size_t)16 << 20)
/* Scratch kept between messages (one per thread) so a streamed answer does not pay a malloc and
 * free per part; a buffer grown past this is released after use. */
#define RPC_SCRATCH_KEEP ((size_t)256 << 10)

static _Thread_local struct buf scratch = {.max = RPC_MAX_MESSAGE};

static void scratch_done(void) {
  if (scratch.cap > RPC_SCRATCH_KEEP) {
    buf_free(&scratch);
    scratch.max = RPC_MAX_MESSAGE;
  } else {
    buf_reset(&scratch);
  }
}

int rpc_send(struct net_conn *c, uint32_t id, const void *obj) {
  buf_reset(&scratch);
  int rc = rpc_encode(&scratch, id, obj);
  if (!rc) rc = net_conn_send_packet(c, buf_ptr(&scratch), scratch.len);
  scratch_done();
  return rc;
}

int rpc_answer(struct net_conn *c, int64_t qid, uint32_t id, const void *obj) {
  struct buf b;
  buf_init(&b, RPC_MAX_MESSAGE);
  int rc = rpc_encode(&b, id, obj);
  if (!rc) rc = net_conn_answer(c, qid, buf_ptr(&b), b.len);
  buf_free(&b);
  return rc;
}

int rpc_query(struct net_conn *c, uint32_t id, const void *obj, uint32_t timeout_ms,
              net_query_cb cb, void *cb_arg) {
  struct buf b;
  buf_init(&b, RPC_MAX_MESSAGE);
  int64_t qid;
  int rc = rpc_encode(&b, id, obj);
  if (!rc) rc = net_conn_query(c, buf_ptr(&b), b.len, timeout_ms, cb, cb_arg, &qid);
  buf_free(&b);
  return rc;
}
