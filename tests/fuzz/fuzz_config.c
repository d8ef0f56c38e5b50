/* fuzz_config: parses fuzz input as a config file, and as a CLI override, against a fixed schema. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

static const struct config_key schema[] = {
    {.name = "port", .type = CONFIG_INT, .min = 1, .max = 65535, .default_value = "1", .help = "p"},
    {.name = "name", .type = CONFIG_STRING, .max = 32, .help = "n"},
    {.name = "flag", .type = CONFIG_BOOL, .help = "f"},
    {.name = "ratio", .type = CONFIG_DOUBLE, .help = "r"},
    {.name = "addr", .type = CONFIG_HOSTPORT, .help = "a"},
    {.name = "list", .type = CONFIG_LIST, .help = "l"},
    {.name = "s.key", .type = CONFIG_STRING, .help = "k"},
    {.name = NULL},
};

/* Reads every key back, so a value stored half-way would show under ASan. */
static void read_all(const struct config *c) {
  int port;
  const char *s = config_get_str(c, "name");
  if (s && strlen(s) > 32) abort();
  (void)config_get_int(c, "port");
  (void)config_get_bool(c, "flag");
  (void)config_get_double(c, "ratio");
  s = config_get_host(c, "addr", &port);
  if (s && (port < 1 || port > 65535)) abort();
  for (size_t i = 0; i < config_get_list_len(c, "list"); i++)
    if (!config_get_list_item(c, "list", i)[0]) abort();
  (void)config_get_str(c, "s.key");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct err e;
  struct config *c = config_new(schema, &e);
  if (!c) abort();
  if (config_parse_buf(c, "fuzz", (const char *)data, size, &e) == 0) read_all(c);

  /* The same bytes as "key\0value" for an override. */
  const uint8_t *nul = memchr(data, 0, size);
  if (nul && size < 4096) {
    char *copy = malloc(size + 1);
    if (!copy) abort();
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *key = copy, *val = copy + (nul - data) + 1;
    if (config_set_override(c, key, val, &e) == 0) read_all(c);
    free(copy);
  }
  if (config_check_required(c, &e) != 0) e.code = 0; /* either answer is fine */
  config_free(c);
  return 0;
}
