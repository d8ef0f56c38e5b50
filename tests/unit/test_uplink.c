/* test_uplink: the proxy identity an uplink keeps (proxy.params key vs the TLS peer's key). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "core/uplink.h"

/* Our proxies do TLS themselves: proxy_public_key is the certificate's key. */
static void test_proxy_key_same_as_tls(void **state) {
  (void)state;
  struct uplink u;
  memset(&u, 0, sizeof(u));
  uint8_t k[32];
  memset(k, 7, sizeof(k));
  assert_int_equal(uplink_set_proxy_key(&u, k, k), 0);
  assert_int_equal(u.has_proxy_key, 1);
  assert_memory_equal(u.proxy_key, k, 32);
}

/* A COCOON proxy-runner sits behind its router: the TLS key is the router's certificate key, the
 * signing key is proxy_public_key (seen in the interop run, docs/interop.md check 2). The link is
 * kept and the signing key, not the TLS key, is what payments are checked against. */
static void test_proxy_key_behind_router(void **state) {
  (void)state;
  struct uplink u;
  memset(&u, 0, sizeof(u));
  snprintf(u.host, sizeof(u.host), "127.0.0.1");
  u.port = 11002;
  uint8_t signing[32], tls[32], other[32];
  memset(signing, 1, sizeof(signing));
  memset(tls, 2, sizeof(tls));
  memset(other, 3, sizeof(other));
  assert_int_equal(uplink_set_proxy_key(&u, signing, tls), 1);
  assert_memory_equal(u.proxy_key, signing, 32);
  /* The same again (a reconnect): still differs, key unchanged. */
  assert_int_equal(uplink_set_proxy_key(&u, signing, tls), 1);
  assert_memory_equal(u.proxy_key, signing, 32);
  /* The proxy restarted with another key: the new one replaces it. */
  assert_int_equal(uplink_set_proxy_key(&u, other, tls), 1);
  assert_memory_equal(u.proxy_key, other, 32);
}

int main(void) {
  log_set_level(LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_proxy_key_same_as_tls),
      cmocka_unit_test(test_proxy_key_behind_router),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
