/* node: what every daemon shares: its RA-TLS identity, TLS contexts and connection options. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "core/node.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "attest/collateral.h"
#include "attest/policy.h"
#include "attest/provider.h"
#include "attest/sim.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "chain/registry_ton.h"
#include "registry/registry.h"
#include "registry/source.h"
#include "registry/watch.h"

_Static_assert(REGISTRY_MAX_HASHES <= ATTEST_ALLOWLIST_MAX, "a registry list must fit a policy allowlist");

static int apply_log_level(const char *lvl, struct err *e) {
  if (!strcmp(lvl, "debug")) log_set_level(LOG_DEBUG);
  else if (!strcmp(lvl, "info")) log_set_level(LOG_INFO);
  else if (!strcmp(lvl, "warn")) log_set_level(LOG_WARN);
  else if (!strcmp(lvl, "error")) log_set_level(LOG_ERROR);
  else return err_set(e, ERR_INVALID, "log_level must be debug, info, warn or error, not '%s'", lvl);
  return 0;
}

static int cert_fresh(X509 *cert) {
  time_t limit = time(NULL) + NODE_CERT_MIN_LEFT_S;
  return X509_cmp_time(X509_get0_notAfter(cert), &limit) > 0 &&
         X509_cmp_current_time(X509_get0_notBefore(cert)) <= 0;
}

/* A certificate (validity from now) for the key `seed` (NULL: a new random key) carrying the
 * provider's quote for that key. */
static int issue_identity(struct node *n, const uint8_t *seed, struct ratls_identity **out, struct err *e) {
  uint8_t fresh[32], pub[32];
  size_t plen = sizeof(pub);
  int rc = 0;
  struct buf quote;
  buf_init(&quote, RATLS_MAX_EXT_SIZE);
  if (!seed) {
    util_random(fresh, sizeof(fresh));
    seed = fresh;
  }
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
  if (!k || EVP_PKEY_get_raw_public_key(k, pub, &plen) != 1 || plen != 32) {
    rc = err_set(e, ERR_CRYPTO, "cannot derive the node's Ed25519 public key");
    goto out;
  }
  if (n->provider && (rc = attest_provider_quote(n->provider, pub, &quote, e))) goto out;
  struct ratls_cert_opts opts = {.user_claims = 1, .seed = seed, .quote = buf_ptr(&quote), .quote_len = quote.len};
  rc = ratls_identity_generate(&opts, out, e);
out:
  EVP_PKEY_free(k);
  OPENSSL_cleanse(fresh, sizeof(fresh));
  buf_free(&quote);
  return rc;
}

/* A new certificate (validity from now, fresh quote) for the key of `old`; saved in n->key_dir
 * when set. */
static int reissue_identity(struct node *n, const struct ratls_identity *old, struct ratls_identity **out,
                            struct err *e) {
  const char *dir = n->key_dir;
  uint8_t seed[32];
  size_t slen = sizeof(seed);
  if (EVP_PKEY_get_raw_private_key(ratls_identity_key(old), seed, &slen) != 1 || slen != 32)
    return err_set(e, ERR_CRYPTO, "cannot read the node's Ed25519 key");
  int rc = issue_identity(n, seed, out, e);
  OPENSSL_cleanse(seed, sizeof(seed));
  if (!rc && dir[0]) {
    char cert[4200], key[4200];
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    rc = ratls_identity_save(*out, cert, key, e);
    if (rc) {
      ratls_identity_free(*out);
      *out = NULL;
    }
  }
  if (!rc) log_info("cert_reissued", "dir=%s", dir[0] ? dir : "(memory)");
  return rc;
}

static int cert_has_quote(X509 *cert) {
  ASN1_OBJECT *obj = OBJ_txt2obj(RATLS_OID_QUOTE, 1);
  int pos = obj ? X509_get_ext_by_OBJ(cert, obj, -1) : -1;
  ASN1_OBJECT_free(obj);
  return pos >= 0;
}

/* Loads key_dir/{cert,key}.pem, creating them (or reissuing the certificate for the same key)
 * as needed. A stored certificate is reused only while fresh and only without a provider
 * (a quote is always fresh from this start: binary, config or platform may have changed).
 * An empty key_dir gives a fresh in-memory identity. */
static int load_identity(struct node *n, struct ratls_identity **out, struct err *e) {
  const char *dir = n->key_dir;
  if (!dir[0]) return issue_identity(n, NULL, out, e);
  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    return err_set(e, ERR_IO, "cannot create key_dir %s: %s", dir, strerror(errno));
  char cert[4200], key[4200];
  snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
  snprintf(key, sizeof(key), "%s/key.pem", dir);
  struct stat st;
  if (stat(key, &st) != 0) {
    int rc = issue_identity(n, NULL, out, e);
    if (!rc) rc = ratls_identity_save(*out, cert, key, e);
    if (!rc) log_info("key_created", "dir=%s", dir);
    return rc;
  }
  if (st.st_mode & 077)
    return err_set(e, ERR_REFUSED, "%s is readable by others (mode %03o); chmod 600 it", key,
                   (unsigned)(st.st_mode & 0777));
  int rc = ratls_identity_load(cert, key, out, e);
  if (rc) return rc;
  int has_provider = n->provider && attest_provider_kind(n->provider) != ATTEST_PROVIDER_NONE;
  if (!has_provider && !cert_has_quote(ratls_identity_cert(*out)) && cert_fresh(ratls_identity_cert(*out)))
    return 0;
  struct ratls_identity *fresh = NULL;
  rc = reissue_identity(n, *out, &fresh, e);
  ratls_identity_free(*out);
  *out = fresh;
  return rc;
}

int node_config_measure(const struct config *cfg, const char *role, uint8_t out[48]) {
  /* The registry's path is where this machine keeps it; its owner key is measured. */
  static const char *const local[] = {"key_dir", "ready_file", "log_level", "sim_platform_key", "registry",
                                      "toncenter_url",
                                      "tdx_collateral_dir"};
  int rc = 0;
  struct buf b;
  buf_init(&b, CONFIG_MAX_FILE * 2);
  if (buf_appendf(&b, "cocoon-config-v1\nrole=%s\n", role) != 0) rc = ERR_NOMEM;
  for (size_t i = 0; i < cfg->nkeys && !rc; i++) {
    const struct config_key *k = &cfg->schema[i];
    int skip = (k->flags & CONFIG_F_SECRET) != 0;
    for (size_t j = 0; j < CC_ARRAY_LEN(local) && !skip; j++) skip = !strcmp(k->name, local[j]);
    if (skip) continue;
    if (buf_appendf(&b, "%s=", k->name) != 0) {
      rc = ERR_NOMEM;
      break;
    }
    switch (k->type) {
      case CONFIG_STRING: {
        const char *v = config_get_str(cfg, k->name); /* NULL: a key without default, unset */
        rc = buf_append_str(&b, v ? v : "");
        break;
      }
      case CONFIG_INT: rc = buf_appendf(&b, "%lld", (long long)config_get_int(cfg, k->name)); break;
      case CONFIG_BOOL: rc = buf_append_str(&b, config_get_bool(cfg, k->name) ? "true" : "false"); break;
      case CONFIG_DOUBLE: rc = buf_appendf(&b, "%.17g", config_get_double(cfg, k->name)); break;
      case CONFIG_HOSTPORT: {
        int port = 0;
        const char *host = config_get_host(cfg, k->name, &port);
        if (host) rc = buf_appendf(&b, "%s:%d", host, port);
        break;
      }
      case CONFIG_LIST:
        for (size_t j = 0; j < config_get_list_len(cfg, k->name) && !rc; j++)
          rc = buf_appendf(&b, "%s%s", j ? "," : "", config_get_list_item(cfg, k->name, j));
        break;
    }
    if (!rc) rc = buf_append_str(&b, "\n");
  }
  unsigned int len = 0;
  if (!rc && (EVP_Digest(buf_ptr(&b), b.len, out, &len, EVP_sha384(), NULL) != 1 || len != 48)) rc = ERR_CRYPTO;
  buf_free(&b);
  return rc;
}

/* Parses a LIST of fixed-width hex values into a malloc'd array (NULL when empty). */
static int parse_hex_list(const struct config *cfg, const char *key, size_t width, uint8_t **out, size_t *n,
                          struct err *e) {
  *out = NULL;
  *n = config_get_list_len(cfg, key);
  if (*n == 0) return 0;
  *out = calloc(*n, width);
  if (!*out) return err_set(e, ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < *n; i++) {
    const char *item = config_get_list_item(cfg, key, i);
    if (util_unhex(item, strlen(item), *out + i * width, width) != 0) {
      free(*out);
      *out = NULL;
      return err_set(e, ERR_INVALID, "%s: '%.100s' is not %zu hex digits", key, item, 2 * width);
    }
  }
  return 0;
}

/* The sim platform key the policy trusts: sim_platform_pubkey, else the key file's. */
static int sim_trusted_key(struct node *n, const struct config *cfg, uint8_t out[32], struct err *e) {
  const char *hex = config_get_str(cfg, "sim_platform_pubkey");
  if (hex[0]) {
    if (util_unhex(hex, strlen(hex), out, 32) != 0)
      return err_set(e, ERR_INVALID, "sim_platform_pubkey must be 64 hex digits");
    return 0;
  }
  if (!n->sim_platform)
    return err_set(e, ERR_INVALID, "policy sim needs sim_platform_pubkey or sim_platform_key");
  memcpy(out, attest_sim_platform_pubkey(n->sim_platform), 32);
  return 0;
}

/* A peer policy of kind `kind_str` with the configured allowlists and sim key. */
static int build_policy(struct node *n, const struct config *cfg, const char *kind_str, struct attest_policy **out,
                        struct err *e) {
  enum attest_policy_kind polk;
  int rc = attest_policy_kind_parse(kind_str, &polk, e);
  if (rc) return rc;
  struct attest_policy_opts o = {.kind = polk};
  uint8_t *hashes = NULL, *mrtds = NULL, *rtmrs = NULL, *croots = NULL, sim_key[32];
  if ((rc = parse_hex_list(cfg, "allowed_image_hashes", ATTEST_IMAGE_HASH_LEN, &hashes, &o.n_image_hashes, e)))
    return rc;
  if ((rc = parse_hex_list(cfg, "allowed_mrtd", ATTEST_MR_LEN, &mrtds, &o.n_mrtds, e))) goto out;
  if ((rc = parse_hex_list(cfg, "allowed_rtmr", ATTEST_RTMR_SET_LEN, &rtmrs, &o.n_rtmr_sets, e))) goto out;
  if ((rc = parse_hex_list(cfg, "allowed_collateral_root_hashes", ATTEST_COLLATERAL_ROOT_HASH_LEN, &croots,
                           &o.n_collateral_roots, e)))
    goto out;
  o.rtmr_sets = (const uint8_t(*)[ATTEST_RTMR_SET_LEN])rtmrs;
  o.collateral_roots = (const uint8_t(*)[ATTEST_COLLATERAL_ROOT_HASH_LEN])croots;
  if (polk != ATTEST_POLICY_TDX && o.n_collateral_roots) {
    /* Per-kind policies may mix tdx with sim or fake_tdx; only tdx peers have a collateral root. */
    log_warn("policy_option_ignored",
             "policy=%s key=allowed_collateral_root_hashes reason=\"only tdx peers have a collateral root\"", kind_str);
    o.n_collateral_roots = 0;
  }
  o.image_hashes = (const uint8_t(*)[ATTEST_IMAGE_HASH_LEN])hashes;
  o.mrtds = (const uint8_t(*)[ATTEST_MR_LEN])mrtds;
  if (polk == ATTEST_POLICY_SIM) {
    if ((rc = sim_trusted_key(n, cfg, sim_key, e))) goto out;
    o.sim_platform_key = sim_key;
  }
  o.tdx_collateral_dir = config_get_str(cfg, "tdx_collateral_dir");
  for (size_t i = 0; i < config_get_list_len(cfg, "tdx_allow_tcb"); i++) {
    const char *name = config_get_list_item(cfg, "tdx_allow_tcb", i);
    enum attest_tcb_status st;
    if (attest_tcb_status_parse(name, &st) != 0 || st == ATTEST_TCB_REVOKED) {
      rc = err_set(e, ERR_INVALID, "tdx_allow_tcb: '%.60s' is not a TCB status that can be allowed "
                                   "(SWHardeningNeeded, ConfigurationNeeded, "
                                   "ConfigurationAndSWHardeningNeeded, OutOfDate, "
                                   "OutOfDateConfigurationNeeded)", name);
      goto out;
    }
    o.tdx_allow_tcb |= 1u << st;
  }
  rc = attest_policy_new(&o, out, e);
out:
  free(hashes);
  free(mrtds);
  free(rtmrs);
  free(croots);
  return rc;
}

/* Builds provider and policies from the config. */
static int setup_attestation(struct node *n, const struct config *cfg, const char *role, struct err *e) {
  enum attest_provider_kind pk;
  enum attest_policy_kind polk;
  int rc = attest_provider_kind_parse(config_get_str(cfg, "quote_provider"), &pk, e);
  if (!rc) rc = attest_policy_kind_parse(config_get_str(cfg, "policy"), &polk, e);
  if (rc) return rc;
  const char *key_path = config_get_str(cfg, "sim_platform_key");
  int any_sim = polk == ATTEST_POLICY_SIM;
  if (n->is_proxy)
    any_sim = any_sim || !strcmp(config_get_str(cfg, "worker_policy"), "sim") ||
              !strcmp(config_get_str(cfg, "client_policy"), "sim");
  int need_key_file = pk == ATTEST_PROVIDER_SIM || (any_sim && !config_get_str(cfg, "sim_platform_pubkey")[0]);
  if (need_key_file && key_path[0] && (rc = attest_sim_platform_load(key_path, 1, &n->sim_platform, e)))
    return rc;
  uint8_t measure[48];
  if (pk == ATTEST_PROVIDER_SIM && node_config_measure(cfg, role, measure) != 0)
    return err_set(e, ERR_CRYPTO, "cannot measure the configuration");
  struct attest_provider_opts po = {.kind = pk, .sim_platform = n->sim_platform, .sim_config_measure = measure};
  if (pk == ATTEST_PROVIDER_SIM && !n->sim_platform)
    return err_set(e, ERR_INVALID, "quote_provider sim needs sim_platform_key (a key file path)");
  if ((rc = attest_provider_new(&po, &n->provider, e))) return rc;
  struct attest_td_report td;
  if (attest_provider_td(n->provider, &td) == 0 && attest_image_hash(&td, n->image_hash) == 0)
    n->have_image_hash = 1;

  if ((rc = build_policy(n, cfg, config_get_str(cfg, "policy"), &n->policy, e))) return rc;
  n->ratls_policy = attest_policy_ratls(n->policy);
  if (!n->is_proxy) return 0;
  /* The proxy checks workers and clients each with its own policy (default: `policy`). */
  static const char *const keys[NODE_PEER_KINDS] = {NULL, "worker_policy", "client_policy"};
  for (int k = NODE_PEER_WORKER; k < NODE_PEER_KINDS; k++) {
    const char *kind = config_get_str(cfg, keys[k]);
    if ((rc = build_policy(n, cfg, kind[0] ? kind : config_get_str(cfg, "policy"), &n->kind_policy[k], e))) {
      char why[sizeof(e->msg)];
      snprintf(why, sizeof(why), "%s", e ? e->msg : "");
      return err_set(e, rc, "%s: %.200s", keys[k], why);
    }
  }
  return 0;
}

/* Server and client contexts for identity id: the default pair and, on the proxy, one server
 * context per peer kind. Nothing is replaced on failure. */
static int build_tls(struct node *n, const struct ratls_identity *id, struct tls_ctx **srv, struct tls_ctx **cli,
                     struct tls_ctx *kind_srv[NODE_PEER_KINDS], struct err *e) {
  *srv = *cli = NULL;
  for (int k = 0; k < NODE_PEER_KINDS; k++) kind_srv[k] = NULL;
  int rc = tls_ctx_new(TLS_SERVER, id, n->ratls_policy, srv, e);
  if (!rc) rc = tls_ctx_new(TLS_CLIENT, id, n->ratls_policy, cli, e);
  for (int k = 0; k < NODE_PEER_KINDS && !rc; k++)
    if (n->kind_policy[k]) rc = tls_ctx_new(TLS_SERVER, id, attest_policy_ratls(n->kind_policy[k]), &kind_srv[k], e);
  if (rc) {
    tls_ctx_unref(*srv);
    tls_ctx_unref(*cli);
    for (int k = 0; k < NODE_PEER_KINDS; k++) tls_ctx_unref(kind_srv[k]);
    *srv = *cli = NULL;
  }
  return rc;
}

/* Pushes the registry's image lists into the policies of the peers it governs. */
static int apply_registry(struct node *n, const struct registry *r, struct err *e) {
  char label[64];
  if (n->is_proxy) {
    snprintf(label, sizeof(label), "registry v%" PRIu64 " worker images", r->version);
    return attest_policy_set_registry(n->kind_policy[NODE_PEER_WORKER], r->hashes[REGISTRY_WORKER_IMAGE],
                                      r->n_hashes[REGISTRY_WORKER_IMAGE], label, e);
  }
  snprintf(label, sizeof(label), "registry v%" PRIu64 " proxy images", r->version);
  return attest_policy_set_registry(n->policy, r->hashes[REGISTRY_PROXY_IMAGE], r->n_hashes[REGISTRY_PROXY_IMAGE],
                                    label, e);
}

static void registry_changed_cb(void *arg, const struct registry *r) {
  struct node *n = arg;
  struct err e = {0};
  if (apply_registry(n, r, &e)) {
    log_error("registry_apply_failed", "version=%" PRIu64 " error=\"%s\"", r->version, e.msg);
    return;
  }
  log_info("registry_applied", "version=%" PRIu64 " proxy_images=%zu worker_images=%zu models=%zu", r->version,
           r->n_hashes[REGISTRY_PROXY_IMAGE], r->n_hashes[REGISTRY_WORKER_IMAGE], r->n_hashes[REGISTRY_MODEL]);
  if (n->registry_cb) n->registry_cb(n->registry_arg);
}

void node_on_registry_change(struct node *n, void (*cb)(void *arg), void *arg) {
  n->registry_cb = cb;
  n->registry_arg = arg;
}

int node_peer_allowed(const struct node *n, enum node_peer_kind k, const struct ratls_result *peer, const char *model,
                      size_t model_len, char *why, size_t whysz) {
  if (!n->registry) return 0;
  const struct registry *r = n->registry->cur;
  enum registry_list l;
  if (k == NODE_PEER_PROXY && !n->is_proxy) l = REGISTRY_PROXY_IMAGE;
  else if (k == NODE_PEER_WORKER && n->is_proxy) l = REGISTRY_WORKER_IMAGE;
  else return 0; /* the registry does not govern this kind of peer */
  if (!peer || !peer->peer.attested) {
    snprintf(why, whysz, "peer not attested, registry v%" PRIu64 " requires a listed image", r->version);
    return ERR_REFUSED;
  }
  if (!registry_has_hash(r, l, peer->peer.image_hash)) {
    char hex[2 * REGISTRY_HASH_LEN + 1];
    util_hex(peer->peer.image_hash, REGISTRY_HASH_LEN, hex);
    snprintf(why, whysz, "image hash %s no longer in registry v%" PRIu64 " %s images", hex, r->version,
             l == REGISTRY_PROXY_IMAGE ? "proxy" : "worker");
    return ERR_REFUSED;
  }
  return model ? node_registry_check_model(n, model, model_len, why, whysz) : 0;
}

/* The registry's source from the config: the signed file (registry + registry_owner) or the TON
 * root contract (registry_ton_root + toncenter_url), never both. *src NULL: no registry. */
static int registry_source_from_config(const struct config *cfg, struct registry_source **src, const char **where,
                                       struct err *e) {
  const char *path = config_get_str(cfg, "registry");
  const char *owner_hex = config_get_str(cfg, "registry_owner");
  const char *root = config_get_str(cfg, "registry_ton_root");
  const char *url = config_get_str(cfg, "toncenter_url");
  *src = NULL;
  *where = path[0] ? path : root;
  if (path[0] && root[0])
    return err_set(e, ERR_INVALID, "registry (a file) and registry_ton_root (the chain) are both set; use one");
  if (root[0]) {
    if (owner_hex[0])
      return err_set(e, ERR_INVALID, "registry_owner is for a registry file; the root contract's owner is on chain");
    if (!url[0]) return err_set(e, ERR_INVALID, "registry_ton_root needs toncenter_url (a toncenter v2 API URL)");
    struct chain_registry_ton_config tc = {
        .endpoint = url, .api_key = config_get_str(cfg, "toncenter_api_key"), .root = root};
    return chain_registry_ton_new(&tc, src, e);
  }
  if (!path[0]) {
    if (owner_hex[0]) return err_set(e, ERR_INVALID, "registry_owner is set but registry (the file) is not");
    return 0;
  }
  uint8_t owner[REGISTRY_KEY_LEN];
  if (!owner_hex[0]) return err_set(e, ERR_INVALID, "registry needs registry_owner (the owner's public key, 64 hex)");
  if (strlen(owner_hex) != 64 || util_unhex(owner_hex, 64, owner, sizeof(owner)) != 0)
    return err_set(e, ERR_INVALID, "registry_owner must be 64 hex digits");
  return registry_file_source_new(path, owner, src, e);
}

/* Loads the registry named by the config (refusing a bad, unsigned or rolled-back one) and
 * makes the policies enforce it. */
static int setup_registry(struct node *n, const struct config *cfg, struct err *e) {
  struct registry_source *src = NULL;
  const char *path = "";
  int rc = registry_source_from_config(cfg, &src, &path, e);
  if (rc || !src) return rc;
  struct attest_policy *enforcing = n->is_proxy ? n->kind_policy[NODE_PEER_WORKER] : n->policy;
  if (attest_policy_kind(enforcing) == ATTEST_POLICY_ANY) {
    registry_source_free(src);
    return err_set(e, ERR_INVALID, "registry: %s is any, which checks no quote, so the registry's %s images "
                   "cannot be enforced; use fake_tdx, sim or tdx", n->is_proxy ? "worker_policy" : "policy",
                   n->is_proxy ? "worker" : "proxy");
  }
  n->registry = calloc(1, sizeof(*n->registry));
  if (!n->registry) {
    registry_source_free(src);
    return err_set(e, ERR_NOMEM, "out of memory");
  }
  char state[4200] = "";
  if (n->key_dir[0]) snprintf(state, sizeof(state), "%s/registry_version", n->key_dir);
  if ((rc = registry_watch_open(n->registry, src, state, e))) {
    free(n->registry);
    n->registry = NULL;
    char why[sizeof(e->msg)];
    snprintf(why, sizeof(why), "%s", e ? e->msg : "");
    return err_set(e, rc, "registry %.70s: %.170s", path, why);
  }
  return apply_registry(n, n->registry->cur, e);
}

int node_init(struct node *n, const struct config *cfg, const char *role, struct err *e) {
  memset(n, 0, sizeof(*n));
  log_set_component(role);
  int rc = apply_log_level(config_get_str(cfg, "log_level"), e);
  if (rc) return rc;
  const char *policy = config_get_str(cfg, "policy");
  n->is_proxy = !strcmp(role, "proxy");
  snprintf(n->key_dir, sizeof(n->key_dir), "%s", config_get_str(cfg, "key_dir"));
  rc = setup_attestation(n, cfg, role, e);
  /* The key directory first: the registry keeps its version floor there. */
  if (!rc && n->key_dir[0] && mkdir(n->key_dir, 0700) != 0 && errno != EEXIST)
    rc = err_set(e, ERR_IO, "cannot create key_dir %s: %s", n->key_dir, strerror(errno));
  if (!rc) rc = setup_registry(n, cfg, e);
  if (!rc) rc = load_identity(n, &n->id, e);
  if (!rc) rc = build_tls(n, n->id, &n->tls_server, &n->tls_client, n->kind_tls_server, e);
  if (rc) {
    node_cleanup(n);
    return rc;
  }
  net_conn_opts_init(&n->conn_opts);
  n->conn_opts.pow_difficulty = (int32_t)config_get_int(cfg, "pow_difficulty");
  n->conn_opts.pow_max_difficulty = (int32_t)config_get_int(cfg, "pow_max_difficulty");
  n->is_test = config_get_bool(cfg, "is_test");
  char hex[65], ih[65] = "", sp[65] = "";
  util_hex(ratls_identity_public_key(n->id), 32, hex);
  if (n->have_image_hash) util_hex(n->image_hash, 32, ih);
  if (n->sim_platform) util_hex(attest_sim_platform_pubkey(n->sim_platform), 32, sp);
  log_info("node_identity", "role=%s public_key=%s policy=%s quote_provider=%s image_hash=%s sim_platform_pubkey=%s",
           role, hex, policy, attest_provider_kind_name(attest_provider_kind(n->provider)), ih[0] ? ih : "-",
           sp[0] ? sp : "-");
  if (n->is_proxy)
    log_info("peer_policies", "worker_policy=%s client_policy=%s",
             attest_policy_kind_name(attest_policy_kind(n->kind_policy[NODE_PEER_WORKER])),
             attest_policy_kind_name(attest_policy_kind(n->kind_policy[NODE_PEER_CLIENT])));
  return 0;
}

int node_reissue(struct node *n, struct err *e) {
  struct ratls_identity *fresh = NULL;
  struct tls_ctx *srv = NULL, *cli = NULL, *ksrv[NODE_PEER_KINDS];
  int rc = reissue_identity(n, n->id, &fresh, e);
  if (!rc) rc = build_tls(n, fresh, &srv, &cli, ksrv, e);
  if (rc) {
    ratls_identity_free(fresh);
    return rc;
  }
  /* Connections hold their own context references, so swapping never drops a link. */
  tls_ctx_unref(n->tls_server);
  tls_ctx_unref(n->tls_client);
  for (int k = 0; k < NODE_PEER_KINDS; k++) {
    tls_ctx_unref(n->kind_tls_server[k]);
    n->kind_tls_server[k] = ksrv[k];
  }
  ratls_identity_free(n->id);
  n->id = fresh;
  n->tls_server = srv;
  n->tls_client = cli;
  if (n->refreshed_cb) n->refreshed_cb(n->refreshed_arg);
  return 0;
}

struct tls_ctx *node_tls_server(const struct node *n, enum node_peer_kind k) {
  return (unsigned)k < NODE_PEER_KINDS && n->kind_tls_server[k] ? n->kind_tls_server[k] : n->tls_server;
}

const struct registry *node_registry(const struct node *n) { return n->registry ? n->registry->cur : NULL; }
size_t node_proxy_count(const struct node *n, const struct config *cfg) {
  size_t k = config_get_list_len(cfg, "proxy");
  return k || !n->registry ? k : n->registry->cur->n_proxy_addrs;
}

const char *node_proxy_addr(const struct node *n, const struct config *cfg, enum node_peer_kind me, size_t i,
                            char *buf, size_t bufsz) {
  if (config_get_list_len(cfg, "proxy")) {
    if (i >= config_get_list_len(cfg, "proxy")) return NULL;
    snprintf(buf, bufsz, "%s", config_get_list_item(cfg, "proxy", i));
    return buf;
  }
  if (!n->registry || i >= n->registry->cur->n_proxy_addrs) return NULL;
  const char *a = n->registry->cur->proxy_addrs[i];
  const char *sp = strchr(a, ' '); /* "workers' clients'" */
  if (me == NODE_PEER_CLIENT && sp) snprintf(buf, bufsz, "%s", sp + 1);
  else snprintf(buf, bufsz, "%.*s", (int)(sp ? (size_t)(sp - a) : strlen(a)), a);
  return buf;
}

uint64_t node_registry_version(const struct node *n) { return n->registry ? n->registry->cur->version : 0; }

int node_registry_check_model(const struct node *n, const char *model, size_t len, char *why, size_t whysz) {
  if (!n->registry) return 0;
  const struct registry *r = n->registry->cur;
  uint8_t h[REGISTRY_HASH_LEN];
  if (registry_model_hash(model, len, h) != 0) {
    snprintf(why, whysz, "cannot hash the model name");
    return ERR_CRYPTO;
  }
  if (registry_has_hash(r, REGISTRY_MODEL, h)) return 0;
  /* The name comes from the peer: keep only plain characters for the log and the answer. */
  char safe[65], hex[2 * REGISTRY_HASH_LEN + 1];
  size_t k = 0;
  for (size_t i = 0; i < len && k + 1 < sizeof(safe); i++) {
    char ch = model[i];
    int plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                strchr("._-@:/+", ch) != NULL;
    safe[k++] = plain && ch ? ch : '?';
  }
  safe[k] = 0;
  util_hex(h, sizeof(h), hex);
  snprintf(why, whysz, "model %s%s (hash %.16s...) not in registry v%" PRIu64 " (%zu models allowed)", safe,
           k < len ? "..." : "", hex, r->version, r->n_hashes[REGISTRY_MODEL]);
  return ERR_REFUSED;
}

static void refresh_cb(struct loop_timer *t) {
  struct node *n = t->data;
  loop_timer_start(n->loop, &n->refresh, NODE_REFRESH_CHECK_MS);
  if (cert_fresh(ratls_identity_cert(n->id))) return;
  struct err e = {0};
  if (node_reissue(n, &e)) log_error("cert_reissue_failed", "error=\"%s\"", e.msg);
}

void node_start_refresh(struct node *n, struct loop *loop, void (*cb)(void *arg), void *arg) {
  n->loop = loop;
  n->refreshed_cb = cb;
  n->refreshed_arg = arg;
  loop_timer_init(&n->refresh, refresh_cb, n);
  loop_timer_start(loop, &n->refresh, NODE_REFRESH_CHECK_MS);
  if (n->registry) registry_watch_start(n->registry, loop, REGISTRY_POLL_MS, registry_changed_cb, n);
}

void node_cleanup(struct node *n) {
  if (n->loop) loop_timer_stop(n->loop, &n->refresh);
  tls_ctx_unref(n->tls_server);
  tls_ctx_unref(n->tls_client);
  for (int k = 0; k < NODE_PEER_KINDS; k++) {
    tls_ctx_unref(n->kind_tls_server[k]);
    attest_policy_free(n->kind_policy[k]);
  }
  if (n->registry) {
    registry_watch_cleanup(n->registry);
    free(n->registry);
  }
  ratls_identity_free(n->id);
  attest_policy_free(n->policy);
  attest_provider_free(n->provider);
  attest_sim_platform_free(n->sim_platform);
  memset(n, 0, sizeof(*n));
}

int node_peer_json(const struct ratls_result *r, struct buf *out) {
  if (!r) return 0;
  static const char *const names[] = {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mrconfigid", "mrowner",
                                      "mrownerconfig"};
  const struct ratls_measurements *m = &r->peer.m;
  const uint8_t *vals[] = {m->mr_td, m->rtmr[0], m->rtmr[1], m->rtmr[2], m->rtmr[3], m->mr_config_id, m->mr_owner,
                           m->mr_owner_config};
  char ih[65] = "", hex[97] = "";
  if (r->peer.attested) util_hex(r->peer.image_hash, 32, ih);
  int rc = buf_appendf(out, ",\"attested\":%s,\"image_hash\":\"%s\"", r->peer.attested ? "true" : "false", ih);
  for (size_t i = 0; i < CC_ARRAY_LEN(names) && !rc; i++) {
    if (r->peer.attested) util_hex(vals[i], 48, hex);
    rc = buf_appendf(out, ",\"%s\":\"%s\"", names[i], hex);
  }
  return rc;
}

int node_peer_html(const struct ratls_result *r, struct buf *out) {
  if (!r) return buf_append_str(out, "<td></td><td></td><td></td>");
  char ih[65] = "-", mrtd[97] = "-";
  if (r->peer.attested) {
    util_hex(r->peer.image_hash, 32, ih);
    util_hex(r->peer.m.mr_td, 48, mrtd);
  }
  return buf_appendf(out, "<td><code>%s</code></td><td><code>%.16s</code></td><td>%s</td>", ih, mrtd,
                     r->policy_name ? r->policy_name : "");
}

int node_stats_json(const struct node *n, struct buf *out) {
  char key[65] = "", ih[65] = "";
  if (n->id) util_hex(ratls_identity_public_key(n->id), 32, key);
  if (n->have_image_hash) util_hex(n->image_hash, 32, ih);
  int rc = buf_appendf(out,
                       ",\"node\":{\"public_key\":\"%s\",\"image_hash\":\"%s\",\"quote_provider\":\"%s\","
                       "\"policy\":\"%s\"",
                       key, ih, attest_provider_kind_name(attest_provider_kind(n->provider)),
                       n->policy ? attest_policy_kind_name(attest_policy_kind(n->policy)) : "");
  if (!rc && n->is_proxy)
    rc = buf_appendf(out, ",\"worker_policy\":\"%s\",\"client_policy\":\"%s\"",
                     attest_policy_kind_name(attest_policy_kind(n->kind_policy[NODE_PEER_WORKER])),
                     attest_policy_kind_name(attest_policy_kind(n->kind_policy[NODE_PEER_CLIENT])));
  if (!rc) rc = buf_append_str(out, "},\"registry\":");
  if (!rc && !n->registry) return buf_append_str(out, "null");
  if (!rc) rc = buf_append_str(out, "{");
  if (!rc) rc = registry_watch_json(n->registry, out);
  if (!rc) rc = buf_append_str(out, "}");
  return rc;
}

/* Copies s with the characters that mean something in HTML replaced by '_'. */
static void html_plain(const char *s, char *out, size_t outsz) {
  size_t k = 0;
  for (size_t i = 0; s[i] && k + 1 < outsz; i++) out[k++] = strchr("<>&\"'", s[i]) ? '_' : s[i];
  out[k] = 0;
}

int node_stats_html(const struct node *n, struct buf *out) {
  char ih[65] = "-";
  if (n->have_image_hash) util_hex(n->image_hash, 32, ih);
  int rc = buf_appendf(out, "<h2>Attestation</h2><p>image hash <code>%s</code>, quote provider %s, policy %s", ih,
                       attest_provider_kind_name(attest_provider_kind(n->provider)),
                       n->policy ? attest_policy_kind_name(attest_policy_kind(n->policy)) : "-");
  if (!rc && n->is_proxy)
    rc = buf_appendf(out, ", worker policy %s, client policy %s",
                     attest_policy_kind_name(attest_policy_kind(n->kind_policy[NODE_PEER_WORKER])),
                     attest_policy_kind_name(attest_policy_kind(n->kind_policy[NODE_PEER_CLIENT])));
  if (!rc) rc = buf_append_str(out, "</p>\n<h2>Registry</h2>");
  if (!rc && !n->registry) return buf_append_str(out, "<p>none</p>\n");
  if (rc) return rc;
  const struct registry_watch *w = n->registry;
  /* The last error may quote file contents, the source names a path: neutralize markup. */
  char err[sizeof(w->last_error)], where[sizeof(w->src->where)];
  html_plain(w->last_error, err, sizeof(err));
  html_plain(w->src->where, where, sizeof(where));
  return buf_appendf(out,
                     "<p>version %" PRIu64 " from %s; %zu proxy images, %zu worker images, %zu models, %zu proxies; "
                     "%" PRIu64 " reloads, %" PRIu64 " rejected%s%s</p>\n",
                     w->cur->version, where, w->cur->n_hashes[REGISTRY_PROXY_IMAGE],
                     w->cur->n_hashes[REGISTRY_WORKER_IMAGE], w->cur->n_hashes[REGISTRY_MODEL], w->cur->n_proxy_addrs,
                     w->reloads, w->rejected, err[0] ? "; last rejected: " : "", err);
}

int node_parse_addr(const char *s, char *host, size_t hostsz, int *port, struct err *e) {
  if (util_split_hostport(s, host, hostsz, port))
    return err_set(e, ERR_INVALID, "'%s' is not a host:port address", s);
  return 0;
}
