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
struct attest_provider;
struct attest_policy;
struct attest_sim_platform;
struct registry;
struct registry_watch;

/* Who is on the other end of a link; the proxy checks workers and clients with their own
 * policies (worker_policy, client_policy), clients and workers check proxies with `policy`. */
enum node_peer_kind { NODE_PEER_PROXY = 0, NODE_PEER_WORKER, NODE_PEER_CLIENT, NODE_PEER_KINDS };

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
       "attestation policy for peers: any (no quote required), fake_tdx (COCOON's test "      \
       "format), tdx (DCAP-verified TDX quote) or sim (simulated TEE quote)",                 \
       0},                                                                                    \
      {"quote_provider", CONFIG_STRING, 0, 32, "none",                                        \
       "where this node's own quote comes from: none, fake_tdx, sim or tdx (configfs-tsm)",   \
       0},                                                                                    \
      {"allowed_image_hashes", CONFIG_LIST, 0, 256, "",                                       \
       "peer image hashes (64 hex) the policy accepts; empty: any", 0},                       \
      {"allowed_mrtd", CONFIG_LIST, 0, 256, "",                                               \
       "peer MRTDs (96 hex) the policy accepts; empty: any", 0},                              \
      {"allowed_rtmr", CONFIG_LIST, 0, 256, "",                                               \
       "peer RTMR sets the policy accepts, each RTMR0..3 concatenated (384 hex); empty: any",  \
       0},                                                                                    \
      {"allowed_collateral_root_hashes", CONFIG_LIST, 0, 256, "",                             \
       "policy tdx: DCAP collateral root key ids (96 hex, SHA-384 of the root key) peers' "   \
       "chains may end in; empty: any", 0},                                                   \
      {"sim_platform_key", CONFIG_STRING, 0, 4096, "",                                        \
       "sim TEE platform key file (created 0600 if missing): signs our sim quotes and, "      \
       "without sim_platform_pubkey, is the key sim peers must be signed by",                 \
       0},                                                                                    \
      {"sim_platform_pubkey", CONFIG_STRING, 0, 64, "",                                       \
       "trusted sim platform public key (64 hex) for policy sim", 0},                         \
      {"tdx_collateral_dir", CONFIG_STRING, 0, 4096, "",                                      \
       "policy tdx: Intel collateral directory (cocoon attest fetch-collateral); peers' TCB "  \
       "status must be UpToDate or in tdx_allow_tcb; empty: TCB status not evaluated",        \
       0},                                                                                    \
      {"tdx_allow_tcb", CONFIG_LIST, 0, 8, "",                                                \
       "policy tdx with collateral: TCB statuses accepted besides UpToDate (e.g. "            \
       "SWHardeningNeeded); Revoked is never accepted",                                       \
       0},                                                                                    \
      {"registry", CONFIG_STRING, 0, 4096, "",                                                \
       "signed root configuration file (cocoon registry; docs/registry.md), re-read when it "  \
       "changes; empty: none. Peers' image hashes (and workers' models) must be on its lists", \
       0},                                                                                    \
      {"registry_owner", CONFIG_STRING, 0, 64, "",                                            \
       "the registry owner's Ed25519 public key (64 hex) the registry must be signed by", 0},  \
      {"registry_ton_root", CONFIG_STRING, 0, 128, "",                                        \
       "the registry from the TON root contract at this address (docs/registry.md), polled "   \
       "every second through toncenter_url; instead of registry",                             \
       0},                                                                                    \
      {"toncenter_url", CONFIG_STRING, 0, 1024, "",                                           \
       "toncenter v2 API base URL (registry_ton_root, settlement ton)",                         \
       0},                                                                                    \
      {"toncenter_api_key", CONFIG_STRING, 0, 256, "", "toncenter API key (optional)",          \
       CONFIG_F_SECRET}

/* Keys only the proxy has: it checks two kinds of peers. */
#define NODE_PROXY_CONFIG_KEYS                                                                \
  {"worker_policy", CONFIG_STRING, 0, 32, "",                                                 \
   "attestation policy for workers (any, fake_tdx, tdx, sim); empty: policy", 0},             \
      {"client_policy", CONFIG_STRING, 0, 32, "",                                             \
       "attestation policy for clients (any, fake_tdx, tdx, sim); empty: policy", 0}

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
  /* Attestation: our quote's source and the policy our peers must pass. */
  struct attest_sim_platform *sim_platform; /* when a sim key file is used */
  struct attest_provider *provider;
  struct attest_policy *policy;
  struct ratls_policy *ratls_policy; /* attest_policy_ratls(policy) */
  int have_image_hash;
  uint8_t image_hash[32]; /* ours, when the provider knows its measurements */
  int is_proxy;
  /* Proxy only: the policy and server context per peer kind (owned; NULL for other kinds). */
  struct attest_policy *kind_policy[NODE_PEER_KINDS];
  struct tls_ctx *kind_tls_server[NODE_PEER_KINDS];
  struct registry_watch *registry; /* NULL without a registry */
  void (*registry_cb)(void *arg);  /* node_on_registry_change */
  void *registry_arg;
};

/* The server context for listeners of peers of kind k (the proxy's worker and client ports). */
struct tls_ctx *node_tls_server(const struct node *n, enum node_peer_kind k);

/* The registry in force (NULL without one); borrowed until the next reload, on the loop
 * thread. Its params carry the prices and multipliers (struct registry_params). */
const struct registry *node_registry(const struct node *n);
/* The proxies a client or worker connects to: the config's `proxy` list when set, else the
 * registry's proxy_addr entries at start (their first address for workers, the second, when
 * there is one, for clients). node_proxy_addr copies entry i into buf (NULL if out of range). */
size_t node_proxy_count(const struct node *n, const struct config *cfg);
const char *node_proxy_addr(const struct node *n, const struct config *cfg, enum node_peer_kind me, size_t i,
                            char *buf, size_t bufsz);

/* The version of the registry in force; 0 without one. */
uint64_t node_registry_version(const struct node *n);

/* Whether the registry allows a worker announcing `model` (COCOON's model hash: SHA-256 of the
 * full name). 0 when allowed or without a registry; ERR_REFUSED with why filled otherwise. */
CC_NODISCARD int node_registry_check_model(const struct node *n, const char *model, size_t len, char *why,
                                           size_t whysz);

/* Whether the registry in force still allows a connected peer of kind k: its image hash (proxies
 * for clients and workers, workers for the proxy) and, when model is given, the worker's model.
 * 0 when allowed or without a registry; ERR_REFUSED with why filled otherwise. */
CC_NODISCARD int node_peer_allowed(const struct node *n, enum node_peer_kind k, const struct ratls_result *peer,
                                   const char *model, size_t model_len, char *why, size_t whysz);
/* cb(arg) runs on the loop thread after a newer registry is in force, so the role can close
 * links node_peer_allowed no longer allows (new handshakes are checked by the policies). */
void node_on_registry_change(struct node *n, void (*cb)(void *arg), void *arg);

/* Appends ,"node":{own key, image hash, policies},"registry":{...} or null (for /jsonstats). */
CC_NODISCARD int node_stats_json(const struct node *n, struct buf *out);
/* Appends an HTML section with the same (for /stats). */
CC_NODISCARD int node_stats_html(const struct node *n, struct buf *out);
/* Appends one peer's identity as HTML table cells: image hash, MRTD, policy (for /stats). */
CC_NODISCARD int node_peer_html(const struct ratls_result *peer, struct buf *out);

/* Applies log_level, builds the quote provider and the peer policy, loads or creates the key
 * in key_dir and (re)issues its certificate with a fresh quote when there is a provider,
 * builds both TLS contexts with the policy, and fills conn_opts. */
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

/* The node's static configuration as the sim TEE measures it into RTMR0: SHA-384 over
 * "cocoon-config-v1\nrole=ROLE\n" and "key=value\n" for every key of the schema in order,
 * except instance-local ones (key_dir, ready_file, log_level, sim_platform_key) and secrets. */
CC_NODISCARD int node_config_measure(const struct config *cfg, const char *role, uint8_t out[48]);

/* Appends the peer's attestation as JSON members: ,"attested":BOOL,"image_hash":"HEX",
 * "mrtd":"HEX","rtmr0".."rtmr3","mrconfigid","mrowner","mrownerconfig" (empty strings when not
 * attested; nothing on a NULL peer). */
CC_NODISCARD int node_peer_json(const struct ratls_result *peer, struct buf *out);

/* Parses "host:port" lists for listeners ("127.0.0.1:0"); host stays numeric. */
CC_NODISCARD int node_parse_addr(const char *s, char *host, size_t hostsz, int *port,
                                 struct err *e);

#endif
