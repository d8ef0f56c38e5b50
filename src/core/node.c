/* node: what every daemon shares: its RA-TLS identity, TLS contexts and connection options. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "core/node.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"

/* A stored certificate closer than this to its end is reissued (same key) at start. */
#define NODE_CERT_MIN_LEFT_S (6 * 3600)

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

/* Loads key_dir/{cert,key}.pem, creating them (or reissuing a stale certificate with the
 * same key) as needed. An empty key_dir gives a fresh in-memory identity. */
static int load_identity(const char *dir, struct ratls_identity **out, struct err *e) {
  struct ratls_cert_opts opts = {.user_claims = 1};
  if (!dir[0]) return ratls_identity_generate(&opts, out, e);
  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    return err_set(e, ERR_IO, "cannot create key_dir %s: %s", dir, strerror(errno));
  char cert[4200], key[4200];
  snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
  snprintf(key, sizeof(key), "%s/key.pem", dir);
  struct stat st;
  if (stat(key, &st) != 0) {
    int rc = ratls_identity_generate(&opts, out, e);
    if (!rc) rc = ratls_identity_save(*out, cert, key, e);
    if (!rc) log_info("key_created", "dir=%s", dir);
    return rc;
  }
  if (st.st_mode & 077)
    return err_set(e, ERR_REFUSED, "%s is readable by others (mode %03o); chmod 600 it", key,
                   (unsigned)(st.st_mode & 0777));
  int rc = ratls_identity_load(cert, key, out, e);
  if (rc) return rc;
  if (cert_fresh(ratls_identity_cert(*out))) return 0;
  /* Reissue the certificate for the same key. */
  uint8_t seed[32];
  size_t slen = sizeof(seed);
  if (EVP_PKEY_get_raw_private_key(ratls_identity_key(*out), seed, &slen) != 1 || slen != 32) {
    ratls_identity_free(*out);
    *out = NULL;
    return err_set(e, ERR_CRYPTO, "cannot read the Ed25519 key in %s", key);
  }
  ratls_identity_free(*out);
  *out = NULL;
  opts.seed = seed;
  rc = ratls_identity_generate(&opts, out, e);
  OPENSSL_cleanse(seed, sizeof(seed));
  if (!rc) rc = ratls_identity_save(*out, cert, key, e);
  if (!rc) log_info("cert_reissued", "dir=%s", dir);
  return rc;
}

int node_init(struct node *n, const struct config *cfg, const char *role, struct err *e) {
  memset(n, 0, sizeof(*n));
  log_set_component(role);
  int rc = apply_log_level(config_get_str(cfg, "log_level"), e);
  if (rc) return rc;
  const char *policy = config_get_str(cfg, "policy");
  if (strcmp(policy, "any") != 0)
    return err_set(e, ERR_INVALID, "policy '%s' is not available in this build (only 'any')", policy);
  rc = load_identity(config_get_str(cfg, "key_dir"), &n->id, e);
  if (rc) return rc;
  rc = tls_ctx_new(TLS_SERVER, n->id, ratls_policy_any(), &n->tls_server, e);
  if (!rc) rc = tls_ctx_new(TLS_CLIENT, n->id, ratls_policy_any(), &n->tls_client, e);
  if (rc) {
    node_cleanup(n);
    return rc;
  }
  net_conn_opts_init(&n->conn_opts);
  n->conn_opts.pow_difficulty = (int32_t)config_get_int(cfg, "pow_difficulty");
  n->conn_opts.pow_max_difficulty = (int32_t)config_get_int(cfg, "pow_max_difficulty");
  n->is_test = config_get_bool(cfg, "is_test");
  char hex[65];
  util_hex(ratls_identity_public_key(n->id), 32, hex);
  log_info("node_identity", "role=%s public_key=%s policy=%s", role, hex, policy);
  return 0;
}

void node_cleanup(struct node *n) {
  tls_ctx_unref(n->tls_server);
  tls_ctx_unref(n->tls_client);
  ratls_identity_free(n->id);
  memset(n, 0, sizeof(*n));
}

int node_parse_addr(const char *s, char *host, size_t hostsz, int *port, struct err *e) {
  if (util_split_hostport(s, host, hostsz, port))
    return err_set(e, ERR_INVALID, "'%s' is not a host:port address", s);
  return 0;
}
