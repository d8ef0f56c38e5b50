/* test_config: unit tests for the INI config parser, schema checks, overrides and help. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

static const struct config_key schema[] = {
    {.name = "http_port", .type = CONFIG_INT, .min = 1, .max = 65535, .default_value = "10000",
     .help = "Port of the HTTP API."},
    {.name = "name", .type = CONFIG_STRING, .min = 1, .max = 16, .help = "Instance name."},
    {.name = "verbose", .type = CONFIG_BOOL, .default_value = "false", .help = "Log more."},
    {.name = "ratio", .type = CONFIG_DOUBLE, .min = 0, .max = 10, .default_value = "1.5", .help = "A ratio."},
    {.name = "listen", .type = CONFIG_HOSTPORT, .default_value = "127.0.0.1:8080", .help = "Listen address."},
    {.name = "peers", .type = CONFIG_LIST, .max = 4, .help = "Peer addresses."},
    {.name = "offset", .type = CONFIG_INT, .help = "Any int."},
    {.name = "ton.wallet_key", .type = CONFIG_STRING, .default_value = "s3cr3t", .help = "Key file.",
     .flags = CONFIG_F_SECRET},
    {.name = "ton.config_url", .type = CONFIG_STRING, .help = "URL.", .flags = CONFIG_F_REQUIRED},
    {.name = NULL},
};

static struct config *mk(void) {
  struct err e = {0};
  struct config *c = config_new(schema, &e);
  assert_non_null(c);
  return c;
}

static int parse(struct config *c, const char *s, struct err *e) {
  return config_parse_buf(c, "t.conf", s, strlen(s), e);
}

static void parse_fails(const char *s, const char *msg) {
  struct config *c = mk();
  struct err e = {0};
  int rc = parse(c, s, &e);
  if (rc == 0) fail_msg("accepted: %s", s);
  if (strcmp(e.msg, msg) != 0) fail_msg("for [%s]: got '%s', want '%s'", s, e.msg, msg);
  config_free(c);
}

static void test_defaults(void **state) {
  struct config *c = mk();
  assert_int_equal(config_get_int(c, "http_port"), 10000);
  assert_true(config_is_set(c, "http_port"));
  assert_false(config_is_set(c, "name"));
  assert_null(config_get_str(c, "name"));
  assert_false(config_get_bool(c, "verbose"));
  assert_true(config_get_double(c, "ratio") == 1.5);
  int port = 0;
  assert_string_equal(config_get_host(c, "listen", &port), "127.0.0.1");
  assert_int_equal(port, 8080);
  assert_int_equal(config_get_list_len(c, "peers"), 0);
  assert_null(config_get_list_item(c, "peers", 0));
  config_free(c);
  config_free(NULL);
}

static void test_parse(void **state) {
  struct config *c = mk();
  struct err e = {0};
  const char *s = "# comment\n"
                  "; another\n"
                  "\n"
                  "  http_port   =  443  \r\n"
                  "name = \"a \\\"b\\\" \\\\c\"   # trailing comment\n"
                  "verbose=YES\n"
                  "ratio = -0\n"
                  "listen = [::1]:9000\n"
                  "peers = a:1 , b:2,c:3\n"
                  "offset = -9223372036854775808\n"
                  "[ton]\n"
                  "wallet-key = key#1\n"
                  "[ ton ]\n"
                  "config_url=\n";
  assert_int_equal(parse(c, s, &e), 0);
  assert_int_equal(config_get_int(c, "http_port"), 443);
  assert_string_equal(config_get_str(c, "name"), "a \"b\" \\c");
  assert_true(config_get_bool(c, "verbose"));
  assert_true(config_get_double(c, "ratio") == 0.0);
  int port = 0;
  assert_string_equal(config_get_host(c, "listen", &port), "::1");
  assert_int_equal(port, 9000);
  assert_int_equal(config_get_list_len(c, "peers"), 3);
  assert_string_equal(config_get_list_item(c, "peers", 0), "a:1");
  assert_string_equal(config_get_list_item(c, "peers", 1), "b:2");
  assert_string_equal(config_get_list_item(c, "peers", 2), "c:3");
  assert_int_equal(config_get_int(c, "offset"), INT64_MIN);
  assert_string_equal(config_get_str(c, "ton.wallet_key"), "key#1");
  assert_string_equal(config_get_str(c, "ton.config_url"), "");
  assert_int_equal(config_check_required(c, &e), 0);
  /* A second file may set the same keys again. */
  assert_int_equal(parse(c, "http_port = 1\nverbose = off", &e), 0);
  assert_int_equal(config_get_int(c, "http_port"), 1);
  assert_false(config_get_bool(c, "verbose"));
  config_free(c);
}

static void test_parse_errors(void **state) {
  parse_fails("a=1\n", "t.conf:1: unknown key 'a'");
  parse_fails("\n\nhttp_port 5\n", "t.conf:3: expected 'key = value'");
  parse_fails("http_port=1\n# x\nhttp_port=2\n", "t.conf:3: duplicate key 'http_port' (first set on line 1)");
  parse_fails("[ton]\nwallet_key=a\n[ton]\nwallet-key=b\n", "t.conf:4: duplicate key 'ton.wallet_key' (first set on line 2)");
  parse_fails("http_port=0\n", "t.conf:1: key 'http_port': must be between 1 and 65535");
  parse_fails("http_port=65536\n", "t.conf:1: key 'http_port': must be between 1 and 65535");
  parse_fails("http_port=12a\n", "t.conf:1: key 'http_port': expected an integer");
  parse_fails("http_port=\n", "t.conf:1: key 'http_port': expected an integer");
  parse_fails("http_port= 80 # web\n", "t.conf:1: key 'http_port': expected an integer");
  parse_fails("offset=9223372036854775808\n", "t.conf:1: key 'offset': expected an integer");
  parse_fails("offset=-9223372036854775809\n", "t.conf:1: key 'offset': expected an integer");
  parse_fails("verbose=maybe\n", "t.conf:1: key 'verbose': expected true or false");
  parse_fails("ratio=nan\n", "t.conf:1: key 'ratio': expected a number");
  parse_fails("ratio=1e999\n", "t.conf:1: key 'ratio': expected a number");
  parse_fails("ratio=0x10\n", "t.conf:1: key 'ratio': expected a number");
  parse_fails("ratio=10.5\n", "t.conf:1: key 'ratio': must be between 0 and 10");
  parse_fails("listen=localhost\n", "t.conf:1: key 'listen': expected host:port");
  parse_fails("listen=:80\n", "t.conf:1: key 'listen': expected host:port");
  parse_fails("listen=h:\n", "t.conf:1: key 'listen': expected host:port");
  parse_fails("listen=h:-1\n", "t.conf:1: key 'listen': expected host:port");
  parse_fails("listen=h:0\n", "t.conf:1: key 'listen': port must be between 1 and 65535");
  parse_fails("listen=::1:80\n", "t.conf:1: key 'listen': expected host:port (write IPv6 addresses as [addr]:port)");
  parse_fails("listen=a b:80\n", "t.conf:1: key 'listen': blank in host name");
  parse_fails("peers=a,,b\n", "t.conf:1: key 'peers': empty item 2 in list");
  parse_fails("peers=a,b,c,d,e\n", "t.conf:1: key 'peers': must have 0 to 4 items");
  parse_fails("name=\n", "t.conf:1: key 'name': too short (at least 1 bytes)");
  parse_fails("name=12345678901234567\n", "t.conf:1: key 'name': too long (at most 16 bytes)");
  parse_fails("name=\"abc\n", "t.conf:1: unterminated quoted value");
  parse_fails("name=\"a\\nb\"\n", "t.conf:1: bad escape in quoted value (only \\\" and \\\\ are allowed)");
  parse_fails("name=\"ab\" x\n", "t.conf:1: text after closing quote");
  parse_fails("[ton\n", "t.conf:1: expected ']' to close the section");
  parse_fails("[]\n", "t.conf:1: bad section name (letters, digits, '_', '-', '.')");
  parse_fails("[a b]\n", "t.conf:1: bad section name (letters, digits, '_', '-', '.')");
  parse_fails("ht tp=1\n", "t.conf:1: bad key name (letters, digits, '_', '-', '.')");
  parse_fails("=1\n", "t.conf:1: bad key name (letters, digits, '_', '-', '.')");
  parse_fails("name=a\x01\n", "t.conf:1: control character 0x01");
  parse_fails("name=a\rb\n", "t.conf:1: control character 0x0d");
  parse_fails("verbose=1\n\nname=\xff\x7f", "t.conf:3: control character 0x7f");
  parse_fails("[x]\nhttp_port=1\n", "t.conf:2: unknown key 'x.http_port'");

  /* NUL byte inside the buffer. */
  struct config *c = mk();
  struct err e = {0};
  assert_int_equal(config_parse_buf(c, "t.conf", "name=a\0b\n", 9, &e), ERR_PARSE);
  assert_string_equal(e.msg, "t.conf:1: control character 0x00");

  /* Long line and big file. */
  size_t n = CONFIG_MAX_FILE + 1;
  char *big = malloc(n);
  assert_non_null(big);
  memset(big, '#', n);
  assert_int_equal(config_parse_buf(c, "t.conf", big, n, &e), ERR_LIMIT);
  assert_string_equal(e.msg, "t.conf: file too large (at most 1048576 bytes)");
  memcpy(big, "\nname=", 6);
  assert_int_equal(config_parse_buf(c, "t.conf", big, CONFIG_MAX_LINE + 10, &e), ERR_LIMIT);
  assert_string_equal(e.msg, "t.conf:2: line too long (at most 4096 bytes)");
  free(big);

  /* A failed parse leaves earlier values alone. */
  assert_int_equal(config_get_int(c, "http_port"), 10000);
  assert_int_equal(config_check_required(c, &e), ERR_INVALID);
  assert_string_equal(e.msg, "missing required setting 'ton.config_url' (or --ton.config-url)");
  config_free(c);
}

static void test_file(void **state) {
  char path[] = "/tmp/cocoon-test-config-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *s = "http_port = 7\nverbose = true\n";
  assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
  close(fd);
  struct config *c = mk();
  struct err e = {0};
  assert_int_equal(config_parse_file(c, path, &e), 0);
  assert_int_equal(config_get_int(c, "http_port"), 7);
  unlink(path);
  assert_int_equal(config_parse_file(c, path, &e), ERR_IO);
  assert_non_null(strstr(e.msg, "cannot open"));
  assert_int_equal(config_parse_file(c, "/tmp", &e), ERR_IO);
  config_free(c);
}

static void test_overrides(void **state) {
  struct config *c = mk();
  struct err e = {0};
  assert_int_equal(parse(c, "http_port = 7\n", &e), 0);
  assert_int_equal(config_set_override(c, "http_port", "8", &e), 0);
  assert_int_equal(config_get_int(c, "http_port"), 8);
  assert_int_equal(config_set_override(c, "--http-port", "9", &e), 0);
  assert_int_equal(config_get_int(c, "http_port"), 9);
  assert_int_equal(config_set_override(c, "ton.wallet-key", "k", &e), 0);
  assert_string_equal(config_get_str(c, "ton.wallet_key"), "k");

  assert_int_equal(config_set_override(c, "http-port", "x", &e), ERR_PARSE);
  assert_string_equal(e.msg, "--http-port: expected an integer");
  assert_int_equal(config_get_int(c, "http_port"), 9);
  assert_int_equal(config_set_override(c, "--bogus", "1", &e), ERR_PARSE);
  assert_string_equal(e.msg, "--bogus: unknown option");
  assert_int_equal(config_set_override(c, "--a b", "1", &e), ERR_PARSE);
  assert_string_equal(e.msg, "--a b: bad option name");
  assert_int_equal(config_set_override(c, "listen", "x:70000", &e), ERR_PARSE);
  assert_string_equal(e.msg, "--listen: port must be between 1 and 65535");

  char *argv[] = {"--verbose", "--ratio=2.5", "--name", "n1", "--peers=x,y", "--", "rest", NULL};
  int next = -1;
  assert_int_equal(config_apply_args(c, 7, argv, &next, &e), 0);
  assert_int_equal(next, 6);
  assert_true(config_get_bool(c, "verbose"));
  assert_true(config_get_double(c, "ratio") == 2.5);
  assert_string_equal(config_get_str(c, "name"), "n1");
  assert_int_equal(config_get_list_len(c, "peers"), 2);

  char *argv2[] = {"--verbose=no", "positional", "--name", "zz", NULL};
  assert_int_equal(config_apply_args(c, 4, argv2, &next, &e), 0);
  assert_int_equal(next, 1);
  assert_false(config_get_bool(c, "verbose"));
  assert_string_equal(config_get_str(c, "name"), "n1");

  char *argv3[] = {"--name", NULL};
  assert_int_equal(config_apply_args(c, 1, argv3, &next, &e), ERR_PARSE);
  assert_string_equal(e.msg, "--name: missing value");
  assert_int_equal(next, 0);
  char *argv4[] = {"--nope", "1", NULL};
  assert_int_equal(config_apply_args(c, 2, argv4, &next, &e), ERR_PARSE);
  assert_string_equal(e.msg, "--nope: unknown option");
  char *argv5[] = {"--http_port=0", NULL};
  assert_int_equal(config_apply_args(c, 1, argv5, &next, &e), ERR_PARSE);
  assert_string_equal(e.msg, "--http-port: must be between 1 and 65535");

  assert_int_equal(config_check_required(c, &e), ERR_INVALID);
  assert_int_equal(config_set_override(c, "ton.config_url", "http://x", &e), 0);
  assert_int_equal(config_check_required(c, &e), 0);
  config_free(c);
}

static void test_bad_schema(void **state) {
  struct err e = {0};
  static const struct config_key bad_default[] = {
      {.name = "p", .type = CONFIG_INT, .min = 1, .max = 2, .default_value = "3"}, {.name = NULL}};
  assert_null(config_new(bad_default, &e));
  assert_string_equal(e.msg, "schema: default of 'p': must be between 1 and 2");
  static const struct config_key dup[] = {
      {.name = "p", .type = CONFIG_INT}, {.name = "p", .type = CONFIG_BOOL}, {.name = NULL}};
  assert_null(config_new(dup, &e));
  assert_string_equal(e.msg, "schema: duplicate key 'p'");
}

static void test_help(void **state) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  assert_non_null(f);
  config_print_help(f, schema);
  fclose(f);
  for (const struct config_key *k = schema; k->name; k++) assert_non_null(strstr(text, k->help));
  assert_non_null(strstr(text, "  --http-port=<int>\n      Port of the HTTP API.\n"
                               "      config key: http_port; default: 10000; range 1..65535\n"));
  assert_non_null(strstr(text, "--listen=<host:port>"));
  assert_non_null(strstr(text, "--peers=<list>"));
  assert_non_null(strstr(text, "items 0..4"));
  assert_non_null(strstr(text, "--ton.config-url=<string> (required)"));
  assert_non_null(strstr(text, "default: (hidden)"));
  assert_null(strstr(text, "s3cr3t"));
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),     cmocka_unit_test(test_parse),
      cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_file),
      cmocka_unit_test(test_overrides),    cmocka_unit_test(test_bad_schema),
      cmocka_unit_test(test_help),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
