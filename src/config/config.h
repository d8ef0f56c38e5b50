/* config: INI-style role configuration checked against a per-role schema, plus CLI overrides. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CONFIG_H
#define COCOON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"

/* Hard limits, stated once for the module. */
#define CONFIG_MAX_FILE ((size_t)1 << 20) /* bytes of one config file */
#define CONFIG_MAX_LINE 4096              /* bytes of one line, without its end */
#define CONFIG_MAX_KEYS 512               /* entries of one schema */
#define CONFIG_MAX_NAME 128               /* bytes of "section.key" */
#define CONFIG_MAX_LIST 256               /* items of one LIST value */
#define CONFIG_MAX_STRING 4095            /* bytes of a value unless the key says less */

enum config_type {
  CONFIG_STRING,
  CONFIG_INT,      /* decimal int64 */
  CONFIG_BOOL,     /* true/false, yes/no, on/off, 1/0 (any case) */
  CONFIG_DOUBLE,   /* finite decimal number */
  CONFIG_HOSTPORT, /* host:port or [v6]:port */
  CONFIG_LIST,     /* comma-separated items, each trimmed and non-empty; "" is the empty list */
};

/* Flags of a key. */
#define CONFIG_F_REQUIRED 0x1 /* config_check_required fails while unset */
#define CONFIG_F_SECRET 0x2   /* value never echoed in errors or help */

/* One schema entry; a schema is an array ended by an entry whose name is NULL.
 * min/max (both 0 = no bound):
 *   INT, DOUBLE: value range (inclusive);
 *   STRING: length in bytes (max also capped at CONFIG_MAX_STRING);
 *   LIST: number of items;
 *   HOSTPORT: port range (default 1..65535).
 * default_value is text parsed like a file value (NULL: unset until given). Names use '_' and
 * '.' ("section.key"); files and flags may spell '_' as '-'. */
struct config_key {
  const char *name;
  enum config_type type;
  int64_t min, max;
  const char *default_value;
  const char *help;
  unsigned flags;
};

struct config_value;

struct config {
  const struct config_key *schema; /* borrowed; must outlive the config */
  size_t nkeys;
  struct config_value *values; /* one per schema entry */
};

/* Builds a config holding the schema's defaults (the schema is borrowed). Returns NULL with a
 * message in e when the schema itself is bad (a default that does not validate, a duplicate
 * name, too many keys) or on OOM. Caller frees with config_free. */
struct config *config_new(const struct config_key *schema, struct err *e);
void config_free(struct config *c); /* NULL-safe */

/* Parses a file (at most CONFIG_MAX_FILE bytes) into c. Errors read "path:line: reason". */
CC_NODISCARD int config_parse_file(struct config *c, const char *path, struct err *e);
/* Same from memory (borrowed; need not be NUL-terminated); `name` labels errors. */
CC_NODISCARD int config_parse_buf(struct config *c, const char *name, const char *data, size_t len,
                                  struct err *e);
/* Sets one key from the command line, replacing a file value or an earlier override. `key` may
 * carry leading "--" and use '-' for '_'. Errors read "--flag: reason". */
CC_NODISCARD int config_set_override(struct config *c, const char *key, const char *value,
                                     struct err *e);
/* Applies "--key value", "--key=value" and, for BOOL keys, a bare "--key" (true) from argv[0..argc).
 * Stops at "--" (skipped) or at the first argument not starting with "--"; *next gets the index of
 * the first argument it did not use. "--help" is not handled here. */
CC_NODISCARD int config_apply_args(struct config *c, int argc, char *const *argv, int *next,
                                   struct err *e);
/* Fails naming the first CONFIG_F_REQUIRED key that is still unset. */
CC_NODISCARD int config_check_required(const struct config *c, struct err *e);

/* Typed getters. `key` must be in the schema with that type (a programming error otherwise:
 * it aborts). Unset values read as 0 / false / NULL / empty. Returned strings are borrowed
 * from c and valid until the key is set again or c is freed. */
bool config_is_set(const struct config *c, const char *key);
const char *config_get_str(const struct config *c, const char *key);
int64_t config_get_int(const struct config *c, const char *key);
bool config_get_bool(const struct config *c, const char *key);
double config_get_double(const struct config *c, const char *key);
/* Host (borrowed) and port; host NULL when unset. */
const char *config_get_host(const struct config *c, const char *key, int *port);
size_t config_get_list_len(const struct config *c, const char *key);
const char *config_get_list_item(const struct config *c, const char *key, size_t i);

/* Documents every key of the schema: flag, type, bounds, default, help. */
void config_print_help(FILE *out, const struct config_key *schema);

#endif
