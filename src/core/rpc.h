/* rpc: encodes TL objects and sends them as packets, queries or answers on a net_conn. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CORE_RPC_H
#define COCOON_CORE_RPC_H

#include <stdint.h>

#include "base/buf.h"
#include "net/conn.h"

/* Encodes the boxed object `obj` of constructor `id` (obj may be NULL for field-less ids)
 * into out (appending). Returns 0 or ERR_LIMIT/ERR_NOMEM. */
CC_NODISCARD int rpc_encode(struct buf *out, uint32_t id, const void *obj);
/* tcp.packet carrying the object. */
CC_NODISCARD int rpc_send(struct net_conn *c, uint32_t id, const void *obj);
/* tcp.queryAnswer carrying the object. */
CC_NODISCARD int rpc_answer(struct net_conn *c, int64_t qid, uint32_t id, const void *obj);
/* tcp.query carrying the object. */
CC_NODISCARD int rpc_query(struct net_conn *c, uint32_t id, const void *obj, uint32_t timeout_ms,
                           net_query_cb cb, void *cb_arg);

#endif
