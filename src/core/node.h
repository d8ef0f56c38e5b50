/* node: what every daemon shares: its RA-TLS identity, TLS contexts and connection options. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CORE_NODE_H
#define COCOON_CORE_NODE_H

#include "base/err.h"
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

/* Parses "host:port" lists for listeners ("127.0.0.1:0"); host stays numeric. */
CC_NODISCARD int node_parse_addr(const char *s, char *host, size_t hostsz, int *port,
                                 struct err *e);

#endif
