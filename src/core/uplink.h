/* uplink: an outbound link to one proxy that reconnects with backoff (client and worker). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CORE_UPLINK_H
#define COCOON_CORE_UPLINK_H

#include <stdint.h>

#include "base/err.h"
#include "core/node.h"
#include "loop/loop.h"
#include "net/conn.h"

#define UPLINK_BACKOFF_MIN_MS 200u
#define UPLINK_BACKOFF_MAX_MS 10000u /* COCOON reconnects a target at most every 10 s */
#define UPLINK_MAX_HOST 256

enum uplink_state { UPLINK_IDLE, UPLINK_CONNECTING, UPLINK_HANDSHAKE, UPLINK_READY };

/* Embedded in the role's per-proxy struct. The role's net_conn_handler runs the handshake and
 * calls uplink_ready / uplink_fail / uplink_closed; the uplink owns reconnecting. */
struct uplink {
  struct loop *loop;
  struct node *node;                       /* borrowed */
  const struct net_conn_handler *handler;  /* borrowed, static */
  void *user;                              /* passed as the conn's user pointer */
  char host[UPLINK_MAX_HOST];
  int port;
  struct net_conn *c; /* NULL while not connected */
  enum uplink_state state;
  int32_t proto;      /* negotiated protocol version */
  uint32_t backoff_ms;
  struct loop_timer reconnect;
  uint64_t connects;  /* links that reached the handshake */
  char last_error[300];
  uint8_t proxy_key[32]; /* the proxy's signing key (proxy.params), once connected */
  int has_proxy_key;
};

/* Parses addr ("host:port"); does not connect yet. */
CC_NODISCARD int uplink_init(struct uplink *u, struct loop *loop, struct node *node, const char *addr,
                             const struct net_conn_handler *handler, void *user, struct err *e);
/* Connects now (on failure a retry is scheduled). */
void uplink_connect(struct uplink *u);
/* The transport is ready: the role starts its handshake. Counts the attempt. */
void uplink_handshake(struct uplink *u);
/* The handshake completed: resets the backoff and the last error. */
void uplink_ready(struct uplink *u);
/* Records why and closes the link (the close callback follows). */
void uplink_fail(struct uplink *u, const char *why);
/* From the role's close_cb: forgets the conn and schedules the reconnect. */
void uplink_closed(struct uplink *u, const char *reason);
/* Stops reconnecting and closes without calling back into the role. */
void uplink_stop(struct uplink *u);
const char *uplink_state_name(enum uplink_state s);
/* Records the proxy's signing key from proxy.params (proxy_public_key): the key its signed
 * payments are checked against. It is not required to equal tls_key, the key of the TLS peer's
 * certificate: a COCOON proxy runs behind its router, which terminates TLS with a certificate of
 * its own, and COCOON's client and worker identify the proxy by proxy_public_key (bound through
 * the proxy's contract address), never by the TLS key. Logs ev=proxy_key when the two differ and
 * the key is new. Returns 1 when they differ, 0 when they are equal. */
int uplink_set_proxy_key(struct uplink *u, const uint8_t proxy_key[32], const uint8_t tls_key[32]);

#endif
