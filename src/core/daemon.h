/* daemon: the shared `cocoon <role>` runner: options, config file, loop, signals, shutdown. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CORE_DAEMON_H
#define COCOON_CORE_DAEMON_H

#include "base/err.h"

struct loop;
struct config;
struct config_key;

struct daemon_role {
  const char *name;    /* "proxy" */
  const char *summary; /* one line for --help */
  const struct config_key *schema;
  int (*start_cb)(struct loop *l, const struct config *cfg, void **obj, struct err *e);
  void (*stop_cb)(void *obj);
};

/* argv[0] is the role name; then `--config FILE` and `--key value` overrides (flags win over
 * the file), or `--help`. Returns the process exit code. */
int daemon_main(const struct daemon_role *r, int argc, char **argv);

/* Builds the config from argv as daemon_main does (for `cocoon demo`). Caller frees. */
CC_NODISCARD int daemon_load_config(const struct daemon_role *r, int argc, char **argv,
                                    struct config **out, struct err *e);

#endif
