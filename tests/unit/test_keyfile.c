/* Tests for base/keyfile: both file forms, the refusals, and creation that never overwrites. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/keyfile.h"

static char g_dir[64];

static void path_of(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", g_dir, name); }

static void write_text(const char *path, const char *text, mode_t mode) {
  unlink(path);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  assert_int_equal(chmod(path, mode), 0);
}

static void test_load_forms(void **state) {
  (void)state;
  char p[128];
  uint8_t seed[32];
  struct err e = {0};
  path_of(p, sizeof(p), "hex");
  write_text(p, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\r\n", 0600);
  assert_int_equal(keyfile_load(p, "test key", seed, &e), 0);
  for (int i = 0; i < 32; i++) assert_int_equal(seed[i], i);

  /* A PEM key gives the seed OpenSSL holds. */
  EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  assert_non_null(k);
  uint8_t want[32];
  size_t wl = sizeof(want);
  assert_int_equal(EVP_PKEY_get_raw_private_key(k, want, &wl), 1);
  path_of(p, sizeof(p), "pem");
  unlink(p);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
  fclose(f);
  EVP_PKEY_free(k);
  assert_int_equal(chmod(p, 0600), 0);
  assert_int_equal(keyfile_load(p, "test key", seed, &e), 0);
  assert_memory_equal(seed, want, 32);

  /* A P-256 PEM key is not an Ed25519 one. */
  k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  assert_non_null(k);
  f = fopen(p, "w");
  assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
  fclose(f);
  EVP_PKEY_free(k);
  e = (struct err){0};
  assert_int_equal(keyfile_load(p, "test key", seed, &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "test key"));
  assert_non_null(strstr(e.msg, "neither 64 hex digits nor an Ed25519 PEM private key"));
}

static void test_refusals(void **state) {
  (void)state;
  char p[128], link_p[128];
  uint8_t seed[32];
  struct err e = {0};
  path_of(p, sizeof(p), "r");
  const char *hex = "1111111111111111111111111111111111111111111111111111111111111111\n";
  write_text(p, hex, 0640);
  assert_int_equal(keyfile_load(p, "wallet key", seed, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "mode 640 lets others read it; chmod 600 it"));
  /* The refusal names no key material and wipes the output. */
  assert_null(strstr(e.msg, "1111"));
  for (int i = 0; i < 32; i++) assert_int_equal(seed[i], 0);

  write_text(p, "0123\n", 0600);
  assert_int_equal(keyfile_load(p, "wallet key", seed, &e), ERR_PARSE);
  write_text(p, "", 0600);
  assert_int_equal(keyfile_load(p, "wallet key", seed, &e), ERR_PARSE);

  char *big = malloc(KEYFILE_MAX + 2);
  assert_non_null(big);
  memset(big, 'a', KEYFILE_MAX + 1);
  big[KEYFILE_MAX + 1] = 0;
  write_text(p, big, 0600);
  free(big);
  assert_int_equal(keyfile_load(p, "wallet key", seed, &e), ERR_LIMIT);

  write_text(p, hex, 0600);
  path_of(link_p, sizeof(link_p), "link");
  unlink(link_p);
  assert_int_equal(symlink(p, link_p), 0);
  assert_int_equal(keyfile_load(link_p, "wallet key", seed, &e), ERR_INVALID);
  assert_non_null(strstr(e.msg, "symbolic link"));
  assert_int_equal(keyfile_load(g_dir, "wallet key", seed, &e), ERR_INVALID); /* a directory */
  path_of(p, sizeof(p), "missing");
  assert_int_equal(keyfile_load(p, "wallet key", seed, &e), ERR_IO);
  assert_int_equal(keyfile_load("", "wallet key", seed, &e), ERR_INVALID);
}

static void test_create(void **state) {
  (void)state;
  char p[128];
  uint8_t a[32], b[32], c[32];
  struct err e = {0};
  for (int fmt = KEYFILE_HEX; fmt <= KEYFILE_PEM; fmt++) {
    path_of(p, sizeof(p), fmt == KEYFILE_HEX ? "new.hex" : "new.pem");
    unlink(p);
    assert_int_equal(keyfile_create(p, "owner key", (enum keyfile_format)fmt, a, &e), 0);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(keyfile_load(p, "owner key", b, &e), 0);
    assert_memory_equal(a, b, 32);
    /* Never overwritten. */
    e = (struct err){0};
    assert_int_equal(keyfile_create(p, "owner key", (enum keyfile_format)fmt, c, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "exists; not overwritten"));
    assert_int_equal(keyfile_load(p, "owner key", b, &e), 0);
    assert_memory_equal(a, b, 32);
    /* load_or_create loads what is there. */
    assert_int_equal(keyfile_load_or_create(p, "owner key", c, &e), 0);
    assert_memory_equal(a, c, 32);
  }
  path_of(p, sizeof(p), "fresh");
  unlink(p);
  assert_int_equal(keyfile_load_or_create(p, "sim platform key", a, &e), 0);
  assert_int_equal(keyfile_load_or_create(p, "sim platform key", b, &e), 0);
  assert_memory_equal(a, b, 32);
  /* No temporary file is left beside the key. */
  char cmd[200];
  snprintf(cmd, sizeof(cmd), "ls %s | grep -c tmp >/dev/null", g_dir);
  assert_int_not_equal(system(cmd), 0);
}

static int setup(void **state) {
  (void)state;
  snprintf(g_dir, sizeof(g_dir), "/tmp/cocoon-keyfile.XXXXXX");
  return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_load_forms),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_create),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
