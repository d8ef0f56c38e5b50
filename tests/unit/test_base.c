/* test_base: unit tests for buf, err, util. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"

static void test_buf_append_consume(void **state) {
  struct buf b;
  buf_init(&b, 1024);
  assert_int_equal(buf_append(&b, "hello", 5), 0);
  assert_int_equal(buf_appendf(&b, " %d", 42), 0);
  assert_int_equal(b.len, 8);
  assert_memory_equal(buf_ptr(&b), "hello 42", 8);
  buf_consume(&b, 6);
  assert_memory_equal(buf_ptr(&b), "42", 2);
  /* Front space is reclaimed before growing. */
  for (int i = 0; i < 100; i++) assert_int_equal(buf_append(&b, "0123456789", 10), 0);
  assert_int_equal(b.len, 1002);
  assert_int_equal(buf_append(&b, "0123456789012345678901234", 25), ERR_LIMIT);
  assert_int_equal(b.len, 1002);
  buf_free(&b);
  buf_free(&b);
}

static void test_buf_appendf_long(void **state) {
  struct buf b;
  buf_init(&b, 0);
  char big[2000];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = 0;
  assert_int_equal(buf_appendf(&b, "<%s>", big), 0);
  assert_int_equal(b.len, 2001);
  size_t n;
  uint8_t *p = buf_steal(&b, &n);
  assert_int_equal(n, 2001);
  assert_int_equal(p[0], '<');
  free(p);
}

static void test_hex(void **state) {
  uint8_t in[3] = {0x00, 0xab, 0xff}, out[3];
  char s[7];
  util_hex(in, 3, s);
  assert_string_equal(s, "00abff");
  assert_int_equal(util_unhex("00ABff", 6, out, 3), 0);
  assert_memory_equal(in, out, 3);
  assert_int_equal(util_unhex("00ABf", 5, out, 3), ERR_PARSE);
  assert_int_equal(util_unhex("00ABfg", 6, out, 3), ERR_PARSE);
}

static void test_parse(void **state) {
  int64_t v;
  assert_int_equal(util_parse_i64("123", 0, 1000, &v), 0);
  assert_int_equal(v, 123);
  assert_int_equal(util_parse_i64("1234", 0, 1000, &v), ERR_PARSE);
  assert_int_equal(util_parse_i64("12x", 0, 1000, &v), ERR_PARSE);
  assert_int_equal(util_parse_i64("", 0, 1000, &v), ERR_PARSE);
  assert_int_equal(util_parse_i64("99999999999999999999999", INT64_MIN, INT64_MAX, &v), ERR_PARSE);
  char host[64];
  int port;
  assert_int_equal(util_split_hostport("127.0.0.1:8080", host, sizeof(host), &port), 0);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(port, 8080);
  assert_int_equal(util_split_hostport("[::1]:80", host, sizeof(host), &port), 0);
  assert_string_equal(host, "::1");
  assert_int_equal(util_split_hostport("nohost", host, sizeof(host), &port), ERR_PARSE);
  assert_int_equal(util_split_hostport("h:70000", host, sizeof(host), &port), ERR_PARSE);
}

static void test_ct_eq(void **state) {
  assert_true(util_ct_eq("abc", "abc", 3));
  assert_false(util_ct_eq("abc", "abd", 3));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buf_append_consume), cmocka_unit_test(test_buf_appendf_long),
      cmocka_unit_test(test_hex),                cmocka_unit_test(test_parse),
      cmocka_unit_test(test_ct_eq),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
