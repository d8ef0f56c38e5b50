/* node: what every daemon shares: its RA-TLS identity, TLS contexts and connection options. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CORE_NODE_H
#define COCOON_CORE_NODE_H

#include "base/err.h"
#include "loop/loop.h"
#include "net/conn.h"
#include "net/ratls.h"
#include "net/tls.h"

struct config;
struct config_key;

/* Config keys every role has (merged into each role's schema by the role). */
#define NODE_CONFIG_KEYS                                                                      \
  {"log_level", CONFIG_STRING, 0, 16, "info", "debug, info, warn or error", 0},               \
      {"key_dir", CONFIG_STRING, 0, 4096, "",                                                 \
       "directory holding this node's RA-TLS key and certificate (created if missing; empty: " \
       "a fresh key each start)",                                                             \
       0},                                                                                    \
      {"ready_file", CONFIG_STRING, 0, 4096, "",                                              \
       "file to write the bound addresses to once listening (for scripts)", 0},               \
      {"is_test", CONFIG_BOOL, 0, 0, "true",                                                  \
       "test network (COCOON's is_test): must match on both sides of every link", 0},         \
      {"pow_difficulty", CONFIG_INT, 0, 40, "20",                                             \
       "proof-of-work bits this node asks of connecting peers", 0},                           \
      {"pow_max_difficulty", CONFIG_INT, 0, 40, "28",                                         \
       "most proof-of-work bits this node agrees to solve when connecting", 0},               \
      {"policy", CONFIG_STRING, 0, 32, "any",                                                 \
       "attestation policy for peers: any (no quote required)", 0}

struct node {
  struct loop *loop;
  char key_dir[4096];
  struct loop_timer refresh;
  void (*refreshed_cb)(void *arg); /* new tls_server/tls_client are in place */
  void *refreshed_arg;
  struct ratls_identity *id;
  struct tls_ctx *tls_server;
  struct tls_ctx *tls_client;
  struct net_conn_opts conn_opts;
  int is_test;
};

/* Applies log_level, loads or creates the identity in key_dir, builds both TLS contexts with
 * the configured policy, and fills conn_opts. */
CC_NODISCARD int node_init(struct node *n, const struct config *cfg, const char *role,
                           struct err *e);
void node_cleanup(struct node *n);

/* Keeps the one-day certificate fresh while the daemon runs: checks every
 * NODE_REFRESH_CHECK_MS and, when less than NODE_CERT_MIN_LEFT_S remains, reissues it for the
 * same key, swaps in new TLS contexts (open connections keep theirs) and calls cb(arg) so the
 * role can hand the new server context to its listeners. */
#define NODE_REFRESH_CHECK_MS (10u * 60u * 1000u)
#define NODE_CERT_MIN_LEFT_S (12 * 3600)
void node_start_refresh(struct node *n, struct loop *loop, void (*cb)(void *arg), void *arg);
/* Reissues now (what the timer does when due); for tests and operators. */
CC_NODISCARD int node_reissue(struct node *n, struct err *e);

/* Parses "host:port" lists for listeners ("127.0.0.1:0"); host stays numeric. */
CC_NODISCARD int node_parse_addr(const char *s, char *host, size_t hostsz, int *port,
                                 struct err *e);

#endif
