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

/* A new certificate (validity from now) for the key of `old`; saved in dir when dir is set. */
static int reissue_identity(const struct ratls_identity *old, const char *dir, struct ratls_identity **out,
                            struct err *e) {
  uint8_t seed[32];
  size_t slen = sizeof(seed);
  if (EVP_PKEY_get_raw_private_key(ratls_identity_key(old), seed, &slen) != 1 || slen != 32)
    return err_set(e, ERR_CRYPTO, "cannot read the node's Ed25519 key");
  struct ratls_cert_opts opts = {.user_claims = 1, .seed = seed};
  int rc = ratls_identity_generate(&opts, out, e);
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
  struct ratls_identity *fresh = NULL;
  rc = reissue_identity(*out, dir, &fresh, e);
  ratls_identity_free(*out);
  *out = fresh;
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
  snprintf(n->key_dir, sizeof(n->key_dir), "%s", config_get_str(cfg, "key_dir"));
  rc = load_identity(n->key_dir, &n->id, e);
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

int node_reissue(struct node *n, struct err *e) {
  struct ratls_identity *fresh = NULL;
  struct tls_ctx *srv = NULL, *cli = NULL;
  int rc = reissue_identity(n->id, n->key_dir, &fresh, e);
  if (!rc) rc = tls_ctx_new(TLS_SERVER, fresh, ratls_policy_any(), &srv, e);
  if (!rc) rc = tls_ctx_new(TLS_CLIENT, fresh, ratls_policy_any(), &cli, e);
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
  memset(n, 0, sizeof(*n));
}

int node_parse_addr(const char *s, char *host, size_t hostsz, int *port, struct err *e) {
  if (util_split_hostport(s, host, hostsz, port))
    return err_set(e, ERR_INVALID, "'%s' is not a host:port address", s);
  return 0;
}
