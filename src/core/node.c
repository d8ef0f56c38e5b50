/* node: what every daemon shares: its RA-TLS identity, TLS contexts and connection options. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "core/node.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "attest/policy.h"
#include "attest/provider.h"
#include "attest/sim.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config.h"

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
  static const char *const local[] = {"key_dir", "ready_file", "log_level", "sim_platform_key"};
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
      case CONFIG_STRING: rc = buf_append_str(&b, config_get_str(cfg, k->name)); break;
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

/* Builds provider and policy from the config. */
static int setup_attestation(struct node *n, const struct config *cfg, const char *role, struct err *e) {
  enum attest_provider_kind pk;
  enum attest_policy_kind polk;
  int rc = attest_provider_kind_parse(config_get_str(cfg, "quote_provider"), &pk, e);
  if (!rc) rc = attest_policy_kind_parse(config_get_str(cfg, "policy"), &polk, e);
  if (rc) return rc;
  const char *key_path = config_get_str(cfg, "sim_platform_key");
  int need_key_file = pk == ATTEST_PROVIDER_SIM ||
                      (polk == ATTEST_POLICY_SIM && !config_get_str(cfg, "sim_platform_pubkey")[0]);
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

  struct attest_policy_opts o = {.kind = polk};
  uint8_t *hashes = NULL, *mrtds = NULL, sim_key[32];
  if ((rc = parse_hex_list(cfg, "allowed_image_hashes", ATTEST_IMAGE_HASH_LEN, &hashes, &o.n_image_hashes, e)))
    return rc;
  if ((rc = parse_hex_list(cfg, "allowed_mrtd", ATTEST_MR_LEN, &mrtds, &o.n_mrtds, e))) goto out;
  o.image_hashes = (const uint8_t(*)[ATTEST_IMAGE_HASH_LEN])hashes;
  o.mrtds = (const uint8_t(*)[ATTEST_MR_LEN])mrtds;
  if (polk == ATTEST_POLICY_SIM) {
    if ((rc = sim_trusted_key(n, cfg, sim_key, e))) goto out;
    o.sim_platform_key = sim_key;
  }
  if ((rc = attest_policy_new(&o, &n->policy, e))) goto out;
  n->ratls_policy = attest_policy_ratls(n->policy);
out:
  free(hashes);
  free(mrtds);
  return rc;
}

int node_init(struct node *n, const struct config *cfg, const char *role, struct err *e) {
  memset(n, 0, sizeof(*n));
  log_set_component(role);
  int rc = apply_log_level(config_get_str(cfg, "log_level"), e);
  if (rc) return rc;
  const char *policy = config_get_str(cfg, "policy");
  snprintf(n->key_dir, sizeof(n->key_dir), "%s", config_get_str(cfg, "key_dir"));
  rc = setup_attestation(n, cfg, role, e);
  if (!rc) rc = load_identity(n, &n->id, e);
  if (!rc) rc = tls_ctx_new(TLS_SERVER, n->id, n->ratls_policy, &n->tls_server, e);
  if (!rc) rc = tls_ctx_new(TLS_CLIENT, n->id, n->ratls_policy, &n->tls_client, e);
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
  return 0;
}

int node_reissue(struct node *n, struct err *e) {
  struct ratls_identity *fresh = NULL;
  struct tls_ctx *srv = NULL, *cli = NULL;
  int rc = reissue_identity(n, n->id, &fresh, e);
  if (!rc) rc = tls_ctx_new(TLS_SERVER, fresh, n->ratls_policy, &srv, e);
  if (!rc) rc = tls_ctx_new(TLS_CLIENT, fresh, n->ratls_policy, &cli, e);
  if (rc) {
    tls_ctx_unref(srv);
    tls_ctx_unref(cli);
    ratls_identity_free(fresh);
    return rc;
  }
  /* Connections hold their own context references, so swapping never drops a link. */
  tls_ctx_unref(n->tls_server);
  tls_ctx_unref(n->tls_client);
  ratls_identity_free(n->id);
  n->id = fresh;
  n->tls_server = srv;
  n->tls_client = cli;
  if (n->refreshed_cb) n->refreshed_cb(n->refreshed_arg);
  return 0;
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
}

void node_cleanup(struct node *n) {
  if (n->loop) loop_timer_stop(n->loop, &n->refresh);
  tls_ctx_unref(n->tls_server);
  tls_ctx_unref(n->tls_client);
  ratls_identity_free(n->id);
  attest_policy_free(n->policy);
  attest_provider_free(n->provider);
  attest_sim_platform_free(n->sim_platform);
  memset(n, 0, sizeof(*n));
}

int node_peer_json(const struct ratls_result *r, struct buf *out) {
  if (!r) return 0;
  char ih[65] = "", mrtd[97] = "", rtmr0[97] = "";
  if (r->peer.attested) {
    util_hex(r->peer.image_hash, 32, ih);
    util_hex(r->peer.m.mr_td, 48, mrtd);
    util_hex(r->peer.m.rtmr[0], 48, rtmr0);
  }
  return buf_appendf(out, ",\"attested\":%s,\"image_hash\":\"%s\",\"mrtd\":\"%s\",\"rtmr0\":\"%s\"",
                     r->peer.attested ? "true" : "false", ih, mrtd, rtmr0);
}

int node_parse_addr(const char *s, char *host, size_t hostsz, int *port, struct err *e) {
  if (util_split_hostport(s, host, hostsz, port))
    return err_set(e, ERR_INVALID, "'%s' is not a host:port address", s);
  return 0;
}
