/* ratls: COCOON's RA-TLS certificates (self-signed Ed25519 + quote extension) and their check. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "net/ratls.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/keyfile.h"
#include "base/util.h"

#define RATLS_MAX_PEM_FILE ((size_t)256 << 10)

struct ratls_identity {
  EVP_PKEY *key;
  X509 *cert;
  uint8_t public_key[RATLS_PUBKEY_SIZE];
};

/* ---------------- generation ---------------- */

static int add_ext_conf(X509 *cert, X509V3_CTX *v3, int nid, const char *value) {
  X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, v3, nid, value);
  if (!ext) return ERR_CRYPTO;
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? 0 : ERR_CRYPTO;
}

static int add_ext_octets(X509 *cert, const char *oid, const uint8_t *p, size_t n) {
  int rc = ERR_CRYPTO;
  ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
  ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
  X509_EXTENSION *ext = NULL;
  if (!obj || !os || n > RATLS_MAX_EXT_SIZE) goto out;
  if (ASN1_OCTET_STRING_set(os, p, (int)n) != 1) goto out;
  ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 1, os);
  if (!ext || X509_add_ext(cert, ext, -1) != 1) goto out;
  rc = 0;
out:
  X509_EXTENSION_free(ext);
  ASN1_OCTET_STRING_free(os);
  ASN1_OBJECT_free(obj);
  return rc;
}

static int raw_public_key(EVP_PKEY *key, uint8_t out[RATLS_PUBKEY_SIZE]) {
  size_t n = RATLS_PUBKEY_SIZE;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) return ERR_CRYPTO;
  if (EVP_PKEY_get_raw_public_key(key, out, &n) != 1 || n != RATLS_PUBKEY_SIZE) return ERR_CRYPTO;
  return 0;
}

static int set_subject(X509 *cert) {
  static const char *const fields[][2] = {
      {"C", "AE"}, {"ST", "DUBAI"}, {"O", "TDLib Development"}, {"OU", "Security"},
      {"CN", "localhost"},
  };
  X509_NAME *name = X509_get_subject_name(cert);
  if (!name) return ERR_CRYPTO;
  for (size_t i = 0; i < CC_ARRAY_LEN(fields); i++) {
    if (X509_NAME_add_entry_by_txt(name, fields[i][0], MBSTRING_ASC,
                                   (const unsigned char *)fields[i][1], -1, -1, 0) != 1)
      return ERR_CRYPTO;
  }
  return X509_set_issuer_name(cert, name) == 1 ? 0 : ERR_CRYPTO;
}

static int set_validity(X509 *cert, const struct ratls_cert_opts *o) {
  uint32_t validity = o->validity_s ? o->validity_s : RATLS_DEFAULT_VALIDITY_S;
  if (validity > RATLS_MAX_VALIDITY_S) return ERR_INVALID;
  if (o->not_before == 0) {
    if (!X509_gmtime_adj(X509_getm_notBefore(cert), 0)) return ERR_CRYPTO;
    if (!X509_gmtime_adj(X509_getm_notAfter(cert), (long)validity)) return ERR_CRYPTO;
    return 0;
  }
  int64_t nb = o->not_before, na;
  if (nb < 0 || __builtin_add_overflow(nb, (int64_t)validity, &na)) return ERR_INVALID;
  if (!ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)nb)) return ERR_CRYPTO;
  if (!ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)na)) return ERR_CRYPTO;
  return 0;
}

static int set_serial(X509 *cert) {
  uint8_t serial[16];
  util_random(serial, sizeof(serial));
  BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
  int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
  BN_free(bn);
  return ok ? 0 : ERR_CRYPTO;
}

int ratls_identity_generate(const struct ratls_cert_opts *opts, struct ratls_identity **out,
                            struct err *e) {
  static const struct ratls_cert_opts defaults = {0};
  const struct ratls_cert_opts *o = opts ? opts : &defaults;
  *out = NULL;
  if (o->quote_len > RATLS_MAX_EXT_SIZE)
    return err_set(e, ERR_LIMIT, "quote too large: %zu bytes", o->quote_len);
  int rc = ERR_CRYPTO;
  struct ratls_identity *id = calloc(1, sizeof(*id));
  if (!id) return err_set(e, ERR_NOMEM, "out of memory");
  if (o->seed)
    id->key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, o->seed, RATLS_SEED_SIZE);
  else
    id->key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  if (!id->key || raw_public_key(id->key, id->public_key) != 0) goto out;
  X509 *cert = id->cert = X509_new();
  if (!cert || X509_set_version(cert, 2) != 1) goto out;
  if (set_serial(cert) != 0) goto out;
  if ((rc = set_validity(cert, o)) != 0) goto out;
  rc = ERR_CRYPTO;
  /* Same order as upstream: custom extensions, key, standard extensions, names. */
  if (o->quote_len > 0 && add_ext_octets(cert, RATLS_OID_QUOTE, o->quote, o->quote_len) != 0)
    goto out;
  if (o->user_claims &&
      add_ext_octets(cert, RATLS_OID_USER_CLAIMS, id->public_key, RATLS_PUBKEY_SIZE) != 0)
    goto out;
  if (X509_set_pubkey(cert, id->key) != 1) goto out;
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
  if (add_ext_conf(cert, &v3, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
      add_ext_conf(cert, &v3, NID_key_usage, "critical,digitalSignature") != 0 ||
      add_ext_conf(cert, &v3, NID_ext_key_usage, "critical,serverAuth,clientAuth") != 0 ||
      add_ext_conf(cert, &v3, NID_subject_key_identifier, "hash") != 0 ||
      add_ext_conf(cert, &v3, NID_subject_alt_name, "DNS:localhost,DNS:127.0.0.1,IP:::1") != 0)
    goto out;
  if (set_subject(cert) != 0) goto out;
  if (X509_sign(cert, id->key, NULL) <= 0) goto out;
  rc = 0;
out:
  if (rc) {
    ERR_clear_error();
    ratls_identity_free(id);
    return err_set(e, rc, "cannot generate RA-TLS certificate");
  }
  *out = id;
  return 0;
}

void ratls_identity_free(struct ratls_identity *id) {
  if (!id) return;
  EVP_PKEY_free(id->key);
  X509_free(id->cert);
  OPENSSL_cleanse(id, sizeof(*id));
  free(id);
}

X509 *ratls_identity_cert(const struct ratls_identity *id) { return id->cert; }
EVP_PKEY *ratls_identity_key(const struct ratls_identity *id) { return id->key; }
const uint8_t *ratls_identity_public_key(const struct ratls_identity *id) { return id->public_key; }

static int bio_to_buf(BIO *bio, struct buf *out) {
  char *p = NULL;
  long n = BIO_get_mem_data(bio, &p);
  if (n <= 0 || !p) return ERR_CRYPTO;
  return buf_append(out, p, (size_t)n);
}

int ratls_identity_cert_pem(const struct ratls_identity *id, struct buf *out) {
  BIO *bio = BIO_new(BIO_s_mem());
  if (!bio) return ERR_NOMEM;
  int rc = PEM_write_bio_X509(bio, id->cert) == 1 ? bio_to_buf(bio, out) : ERR_CRYPTO;
  BIO_free(bio);
  return rc;
}

/* Writes p[0..n) to path via path.tmp + rename, the file created with `mode`. */
static int write_file_atomic(const char *path, const void *p, size_t n, mode_t mode,
                             struct err *e) {
  char tmp[4096];
  int k = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  if (k < 0 || (size_t)k >= sizeof(tmp)) return err_set(e, ERR_INVALID, "path too long");
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return err_set(e, ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
  int rc = 0;
  if (fchmod(fd, mode) != 0) rc = ERR_IO;
  const uint8_t *q = p;
  size_t left = n;
  while (rc == 0 && left > 0) {
    ssize_t w = write(fd, q, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      rc = ERR_IO;
      break;
    }
    q += w;
    left -= (size_t)w;
  }
  if (rc == 0 && fsync(fd) != 0) rc = ERR_IO;
  if (close(fd) != 0 && rc == 0) rc = ERR_IO;
  if (rc == 0 && rename(tmp, path) != 0) rc = ERR_IO;
  if (rc) {
    int saved = errno;
    unlink(tmp);
    return err_set(e, rc, "cannot write %s: %s", path, strerror(saved));
  }
  return 0;
}

int ratls_identity_save(const struct ratls_identity *id, const char *cert_path,
                        const char *key_path, struct err *e) {
  int rc;
  struct buf pem;
  buf_init(&pem, RATLS_MAX_PEM_FILE);
  BIO *bio = BIO_new(BIO_s_mem());
  if (!bio) {
    rc = err_set(e, ERR_NOMEM, "out of memory");
    goto out;
  }
  if (PEM_write_bio_PrivateKey(bio, id->key, NULL, NULL, 0, NULL, NULL) != 1 ||
      bio_to_buf(bio, &pem) != 0) {
    rc = err_set(e, ERR_CRYPTO, "cannot encode private key");
    goto out;
  }
  if ((rc = write_file_atomic(key_path, buf_ptr(&pem), pem.len, 0600, e)) != 0) goto out;
  OPENSSL_cleanse(pem.data, pem.cap);
  buf_reset(&pem);
  if (ratls_identity_cert_pem(id, &pem) != 0) {
    rc = err_set(e, ERR_CRYPTO, "cannot encode certificate");
    goto out;
  }
  rc = write_file_atomic(cert_path, buf_ptr(&pem), pem.len, 0644, e);
out:
  if (pem.data) OPENSSL_cleanse(pem.data, pem.cap);
  buf_free(&pem);
  BIO_free_all(bio);
  ERR_clear_error();
  return rc;
}

static BIO *open_pem(const char *path, struct err *e, int *rc) {
  BIO *bio = BIO_new_file(path, "rb");
  if (!bio) *rc = err_set(e, ERR_IO, "cannot open %s", path);
  return bio;
}

int ratls_identity_load(const char *cert_path, const char *key_path, struct ratls_identity **out,
                        struct err *e) {
  int rc = 0;
  *out = NULL;
  struct ratls_identity *id = calloc(1, sizeof(*id));
  if (!id) return err_set(e, ERR_NOMEM, "out of memory");
  BIO *cb = open_pem(cert_path, e, &rc);
  if (!cb) goto out;
  id->cert = PEM_read_bio_X509(cb, NULL, NULL, NULL);
  if (!id->cert) {
    rc = err_set(e, ERR_PARSE, "%s: not a PEM certificate", cert_path);
    goto out;
  }
  /* The node key: mode 0600, PEM or 64 hex digits (base/keyfile.h). */
  uint8_t seed[KEYFILE_SEED_LEN];
  if ((rc = keyfile_load(key_path, "node key", seed, e)) != 0) goto out;
  id->key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, KEYFILE_SEED_LEN);
  OPENSSL_cleanse(seed, sizeof(seed));
  if (!id->key || raw_public_key(id->key, id->public_key) != 0) {
    rc = err_set(e, ERR_PARSE, "%s: not a PEM Ed25519 private key", key_path);
    goto out;
  }
  if (X509_check_private_key(id->cert, id->key) != 1) {
    rc = err_set(e, ERR_INVALID, "%s does not match %s", key_path, cert_path);
    goto out;
  }
out:
  BIO_free(cb);
  ERR_clear_error();
  if (rc) {
    ratls_identity_free(id);
    return rc;
  }
  *out = id;
  return 0;
}

/* ---------------- verification ---------------- */

static int policy_any_validate(struct ratls_policy *policy, struct ratls_peer *peer,
                               struct err *e) {
  (void)policy;
  (void)peer;
  (void)e;
  return 0;
}

struct ratls_policy *ratls_policy_any(void) {
  static struct ratls_policy any = {.name = "any", .validate_cb = policy_any_validate};
  return &any;
}

/* The extension's bytes (borrowed from cert), NULL when absent. */
static int get_ext(X509 *cert, const char *oid, const uint8_t **p, size_t *n, struct err *e) {
  *p = NULL;
  *n = 0;
  ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
  if (!obj) return err_set(e, ERR_CRYPTO, "bad OID %s", oid);
  int pos = X509_get_ext_by_OBJ(cert, obj, -1);
  int dup = pos >= 0 ? X509_get_ext_by_OBJ(cert, obj, pos) : -1;
  ASN1_OBJECT_free(obj);
  if (pos < 0) return 0;
  if (dup >= 0) return err_set(e, ERR_PROTO, "duplicate extension %s", oid);
  ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(X509_get_ext(cert, pos));
  if (!data) return err_set(e, ERR_PROTO, "extension %s without data", oid);
  int len = ASN1_STRING_length(data);
  if (len < 0 || (size_t)len > RATLS_MAX_EXT_SIZE)
    return err_set(e, ERR_LIMIT, "extension %s too large: %d bytes", oid, len);
  *p = ASN1_STRING_get0_data(data);
  *n = (size_t)len;
  return 0;
}

int ratls_verify_cert(X509 *cert, struct ratls_policy *policy, struct ratls_peer *peer,
                      struct err *e) {
  memset(peer, 0, sizeof(*peer));
  if (!cert) return err_set(e, ERR_PROTO, "no certificate");
  if (!policy || !policy->validate_cb) return err_set(e, ERR_INVALID, "no RA-TLS policy");
  int count = X509_get_ext_count(cert);
  for (int i = 0; i < count; i++) {
    X509_EXTENSION *ex = X509_get_ext(cert, i);
    if (!X509_EXTENSION_get_critical(ex) || X509_supported_extension(ex)) continue;
    char oid[128];
    int k = OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(ex), 1);
    if (k <= 0 || (size_t)k >= sizeof(oid))
      return err_set(e, ERR_PROTO, "unreadable critical extension");
    if (strcmp(oid, RATLS_OID_QUOTE) != 0 && strcmp(oid, RATLS_OID_USER_CLAIMS) != 0)
      return err_set(e, ERR_PROTO, "unknown critical extension %s", oid);
  }
  int rc = get_ext(cert, RATLS_OID_QUOTE, &peer->quote, &peer->quote_len, e);
  if (rc == 0) rc = get_ext(cert, RATLS_OID_USER_CLAIMS, &peer->user_claims,
                            &peer->user_claims_len, e);
  if (rc) goto out;
  EVP_PKEY *key = X509_get0_pubkey(cert);
  if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    rc = err_set(e, ERR_PROTO, "certificate key is not Ed25519");
    goto out;
  }
  if (raw_public_key(key, peer->public_key) != 0) {
    rc = err_set(e, ERR_PROTO, "bad Ed25519 public key");
    goto out;
  }
  /* OpenSSL may skip the signature of a self-signed leaf; the extensions must be the key's. */
  if (X509_verify(cert, key) != 1) {
    rc = err_set(e, ERR_PROTO, "certificate is not signed by its own key");
    goto out;
  }
  rc = policy->validate_cb(policy, peer, e);
  if (rc > 0) rc = ERR_REFUSED;
  if (rc && e && e->code == 0) err_set(e, rc, "refused by policy %s", policy->name);
out:
  peer->quote = NULL;
  peer->user_claims = NULL;
  ERR_clear_error();
  return rc;
}

/* ex_data slots binding a policy and a result to an SSL or a bare X509_STORE_CTX. */
static int g_ssl_policy_idx = -1, g_ssl_result_idx = -1;
static int g_ctx_policy_idx = -1, g_ctx_result_idx = -1;
static pthread_once_t g_idx_once = PTHREAD_ONCE_INIT;

static void init_indices(void) {
  g_ssl_policy_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  g_ssl_result_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  g_ctx_policy_idx = X509_STORE_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  g_ctx_result_idx = X509_STORE_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int indices_ready(void) {
  pthread_once(&g_idx_once, init_indices);
  return g_ssl_policy_idx >= 0 && g_ssl_result_idx >= 0 && g_ctx_policy_idx >= 0 &&
         g_ctx_result_idx >= 0;
}

int ratls_ssl_attach(SSL *ssl, struct ratls_policy *policy, struct ratls_result *result) {
  if (!indices_ready() || !policy || !result) return ERR_INVALID;
  memset(result, 0, sizeof(*result));
  result->policy_name = policy->name;
  if (SSL_set_ex_data(ssl, g_ssl_policy_idx, policy) != 1 ||
      SSL_set_ex_data(ssl, g_ssl_result_idx, result) != 1)
    return ERR_CRYPTO;
  return 0;
}

int ratls_verify_cb(int preverify_ok, X509_STORE_CTX *ctx) {
  if (!indices_ready()) return 0;
  struct ratls_policy *policy = X509_STORE_CTX_get_ex_data(ctx, g_ctx_policy_idx);
  struct ratls_result *res = X509_STORE_CTX_get_ex_data(ctx, g_ctx_result_idx);
  if (!policy || !res) {
    SSL *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    if (!ssl) return 0;
    policy = SSL_get_ex_data(ssl, g_ssl_policy_idx);
    res = SSL_get_ex_data(ssl, g_ssl_result_idx);
    if (!policy || !res) return 0;
  }
  int depth = X509_STORE_CTX_get_error_depth(ctx);
  if (!preverify_ok) {
    int err = X509_STORE_CTX_get_error(ctx);
    if (depth == 0 && (err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
                       err == X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION))
      return 1;
    res->ok = 0;
    err_set(&res->err, ERR_PROTO, "certificate rejected: %s (depth %d)",
            X509_verify_cert_error_string(err), depth);
    return 0;
  }
  if (depth != 0) {
    res->ok = 0;
    err_set(&res->err, ERR_PROTO, "only a self-signed certificate (depth 0) is accepted");
    return 0;
  }
  res->policy_name = policy->name;
  if (ratls_verify_cert(X509_STORE_CTX_get_current_cert(ctx), policy, &res->peer, &res->err) != 0) {
    res->ok = 0;
    return 0;
  }
  res->ok = 1;
  return 1;
}

int ratls_verify_x509(X509 *cert, struct ratls_policy *policy, struct ratls_result *result) {
  if (!indices_ready() || !cert || !policy || !result) return ERR_INVALID;
  memset(result, 0, sizeof(*result));
  result->policy_name = policy->name;
  int rc = ERR_CRYPTO;
  X509_STORE *store = X509_STORE_new();
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  if (!store || !ctx || X509_STORE_CTX_init(ctx, store, cert, NULL) != 1) {
    err_set(&result->err, ERR_CRYPTO, "cannot set up certificate verification");
    goto out;
  }
  X509_STORE_CTX_set_verify_cb(ctx, ratls_verify_cb);
  X509_STORE_CTX_set_depth(ctx, 1);
  if (X509_STORE_CTX_set_ex_data(ctx, g_ctx_policy_idx, policy) != 1 ||
      X509_STORE_CTX_set_ex_data(ctx, g_ctx_result_idx, result) != 1)
    goto out;
  if (X509_verify_cert(ctx) == 1 && result->ok) {
    rc = 0;
  } else {
    result->ok = 0;
    rc = result->err.code ? result->err.code : ERR_PROTO;
    if (!result->err.code) err_set(&result->err, rc, "certificate rejected");
  }
out:
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  ERR_clear_error();
  return rc;
}
