/* test_node: node identity: key_dir creation, reuse, permission check, certificate reissue;
 * configuration measurement; registry source keys. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "core/node.h"

static const struct config_key schema[] = {NODE_CONFIG_KEYS, {NULL, 0, 0, 0, NULL, NULL, 0}};

static struct config *make_cfg(const char *dir) {
  struct err e = {0};
  struct config *c = config_new(schema, &e);
  assert_non_null(c);
  assert_int_equal(config_set_override(c, "key_dir", dir, &e), 0);
  assert_int_equal(config_set_override(c, "log_level", "error", &e), 0);
  return c;
}

static void serial_of(const struct node *n, char *out, size_t outsz) {
  const ASN1_INTEGER *s = X509_get0_serialNumber(ratls_identity_cert(n->id));
  BIGNUM *bn = ASN1_INTEGER_to_BN(s, NULL);
  char *hex = BN_bn2hex(bn);
  snprintf(out, outsz, "%s", hex);
  OPENSSL_free(hex);
  BN_free(bn);
}

static void test_identity_lifecycle(void **state) {
  char dir[] = "/tmp/cocoon-node.XXXXXX";
  assert_non_null(mkdtemp(dir));
  char kd[128], key[160], cert[160];
  snprintf(kd, sizeof(kd), "%s/keys", dir);
  snprintf(key, sizeof(key), "%s/key.pem", kd);
  snprintf(cert, sizeof(cert), "%s/cert.pem", kd);
  struct config *cfg = make_cfg(kd);
  struct node n;
  struct err e = {0};
  assert_int_equal(node_init(&n, cfg, "test", &e), 0);
  struct stat st;
  assert_int_equal(stat(key, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  uint8_t pub[32];
  memcpy(pub, ratls_identity_public_key(n.id), 32);
  char s1[128], s2[128], s3[128];
  serial_of(&n, s1, sizeof(s1));
  node_cleanup(&n);

  /* Restart: same key and the stored certificate is reused while fresh. */
  assert_int_equal(node_init(&n, cfg, "test", &e), 0);
  assert_memory_equal(pub, ratls_identity_public_key(n.id), 32);
  serial_of(&n, s2, sizeof(s2));
  assert_string_equal(s1, s2);

  /* Reissue: same key, new certificate, new contexts, saved to key_dir. */
  struct tls_ctx *old_srv = n.tls_server;
  assert_int_equal(node_reissue(&n, &e), 0);
  assert_memory_equal(pub, ratls_identity_public_key(n.id), 32);
  serial_of(&n, s3, sizeof(s3));
  assert_string_not_equal(s1, s3);
  assert_ptr_not_equal(old_srv, n.tls_server);
  node_cleanup(&n);
  assert_int_equal(node_init(&n, cfg, "test", &e), 0);
  serial_of(&n, s2, sizeof(s2));
  assert_string_equal(s2, s3);
  node_cleanup(&n);

  /* A key readable by others is refused with a message saying what to do. */
  assert_int_equal(chmod(key, 0644), 0);
  assert_int_not_equal(node_init(&n, cfg, "test", &e), 0);
  assert_non_null(strstr(e.msg, "chmod 600"));
  config_free(cfg);
  unlink(key);
  unlink(cert);
  rmdir(kd);
  rmdir(dir);
}

static void test_bad_policy(void **state) {
  struct config *cfg = make_cfg("");
  struct err e = {0};
  assert_int_equal(config_set_override(cfg, "policy", "bogus", &e), 0);
  struct node n;
  assert_int_not_equal(node_init(&n, cfg, "test", &e), 0);
  assert_non_null(strstr(e.msg, "bogus"));
  config_free(cfg);
}

/* A string key without a default that is unset is measured as empty, not dereferenced. */
static void test_measure_unset_key(void **state) {
  (void)state;
  static const struct config_key with_unset[] = {
      NODE_CONFIG_KEYS,
      {"model_path", CONFIG_STRING, 1, 4096, NULL, "no default", 0},
      {NULL, 0, 0, 0, NULL, NULL, 0}};
  struct err e = {0};
  struct config *c = config_new(with_unset, &e);
  assert_non_null(c);
  uint8_t m1[48], m2[48];
  assert_int_equal(node_config_measure(c, "worker", m1), 0);
  assert_int_equal(node_config_measure(c, "worker", m2), 0);
  assert_memory_equal(m1, m2, 48);
  assert_int_equal(config_set_override(c, "model_path", "/m.gguf", &e), 0);
  assert_int_equal(node_config_measure(c, "worker", m2), 0);
  assert_memory_not_equal(m1, m2, 48);
  config_free(c);
}

/* The registry comes from a file or from the root contract, never both; each named. */
static void test_registry_source_config(void **state) {
  (void)state;
  static const struct {
    const char *keys[4][2];
    const char *want;
  } cases[] = {
      {{{"registry", "/x"}, {"registry_ton_root", "0:1111111111111111111111111111111111111111111111111111111111111111"}},
       "both set"},
      {{{"registry_ton_root", "0:1111111111111111111111111111111111111111111111111111111111111111"}},
       "needs toncenter_url"},
      {{{"registry_ton_root", "0:1111111111111111111111111111111111111111111111111111111111111111"},
        {"toncenter_url", "http://127.0.0.1:1/api/v2"},
        {"registry_owner", "1111111111111111111111111111111111111111111111111111111111111111"}},
       "registry_owner is for a registry file"},
      {{{"registry_ton_root", "not-an-address"}, {"toncenter_url", "http://127.0.0.1:1/api/v2"}},
       "root contract address"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct err e = {0};
    struct config *c = config_new(schema, &e);
    assert_non_null(c);
    assert_int_equal(config_set_override(c, "log_level", "error", &e), 0);
    for (size_t k = 0; k < 4 && cases[i].keys[k][0]; k++)
      assert_int_equal(config_set_override(c, cases[i].keys[k][0], cases[i].keys[k][1], &e), 0);
    struct node n;
    assert_int_equal(node_init(&n, c, "test", &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, cases[i].want));
    config_free(c);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_identity_lifecycle),
      cmocka_unit_test(test_bad_policy),
      cmocka_unit_test(test_measure_unset_key),
      cmocka_unit_test(test_registry_source_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
