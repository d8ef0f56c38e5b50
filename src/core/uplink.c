/* uplink: an outbound link to one proxy that reconnects with backoff (client and worker). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "core/uplink.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"

static const struct net_conn_handler detached_handler;

static void schedule(struct uplink *u) {
  u->state = UPLINK_IDLE;
  loop_timer_start(u->loop, &u->reconnect, u->backoff_ms);
  u->backoff_ms = CC_MIN(u->backoff_ms * 2, UPLINK_BACKOFF_MAX_MS);
}

static void reconnect_cb(struct loop_timer *t) { uplink_connect(t->data); }

int uplink_init(struct uplink *u, struct loop *loop, struct node *node, const char *addr,
                const struct net_conn_handler *handler, void *user, struct err *e) {
  memset(u, 0, sizeof(*u));
  u->loop = loop;
  u->node = node;
  u->handler = handler;
  u->user = user;
  u->backoff_ms = UPLINK_BACKOFF_MIN_MS;
  loop_timer_init(&u->reconnect, reconnect_cb, u);
  return node_parse_addr(addr, u->host, sizeof(u->host), &u->port, e);
}

void uplink_connect(struct uplink *u) {
  struct err e = {0};
  u->state = UPLINK_CONNECTING;
  if (net_conn_connect(u->loop, u->node->tls_client, u->host, u->port, &u->node->conn_opts, u->handler, u->user,
                       &u->c, &e)) {
    log_warn("proxy_connect_failed", "proxy=%s:%d error=\"%s\"", u->host, u->port, e.msg);
    snprintf(u->last_error, sizeof(u->last_error), "%s", e.msg);
    u->c = NULL;
    schedule(u);
  }
}

void uplink_handshake(struct uplink *u) {
  u->state = UPLINK_HANDSHAKE;
  u->connects++;
}

void uplink_ready(struct uplink *u) {
  u->state = UPLINK_READY;
  u->backoff_ms = UPLINK_BACKOFF_MIN_MS;
  u->last_error[0] = 0;
}

void uplink_fail(struct uplink *u, const char *why) {
  snprintf(u->last_error, sizeof(u->last_error), "%s", why);
  if (u->c) net_conn_close(u->c, why);
}

void uplink_closed(struct uplink *u, const char *reason) {
  log_info("proxy_lost", "proxy=%s:%d reason=\"%s\" retry_ms=%u", u->host, u->port, reason, u->backoff_ms);
  if (!u->last_error[0]) snprintf(u->last_error, sizeof(u->last_error), "%s", reason);
  u->c = NULL;
  schedule(u);
}

void uplink_stop(struct uplink *u) {
  loop_timer_stop(u->loop, &u->reconnect);
  if (u->c) {
    net_conn_set_handler(u->c, &detached_handler);
    net_conn_close(u->c, "stopping");
    u->c = NULL;
  }
  u->state = UPLINK_IDLE;
}

const char *uplink_state_name(enum uplink_state s) {
  static const char *names[] = {"idle", "connecting", "handshake", "ready"};
  return (unsigned)s < 4 ? names[s] : "?";
}

int uplink_set_proxy_key(struct uplink *u, const uint8_t proxy_key[32], const uint8_t tls_key[32]) {
  int differs = !util_ct_eq(proxy_key, tls_key, 32);
  int is_new = !u->has_proxy_key || !util_ct_eq(u->proxy_key, proxy_key, 32);
  memcpy(u->proxy_key, proxy_key, 32);
  u->has_proxy_key = 1;
  if (differs && is_new) {
    char pk[65], tk[65];
    util_hex(proxy_key, 32, pk);
    util_hex(tls_key, 32, tk);
    log_info("proxy_key", "proxy=%s:%d proxy_key=%s tls_key=%s note=\"TLS terminated by another key (a router)\"",
             u->host, u->port, pk, tk);
  }
  return differs;
}
