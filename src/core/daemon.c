/* daemon: the shared `cocoon <role>` runner: options, config file, loop, signals, shutdown. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "core/daemon.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "config/config.h"
#include "loop/loop.h"

static void usage(const struct daemon_role *r, FILE *f) {
  fprintf(f,
          "usage: cocoon %s [--config FILE] [--option value ...]\n%s\n\n"
          "Every option may be given in the config file (`option = value`, one per line, '#'\n"
          "comments) or as a flag (`--option value`, '-' or '_' alike); flags win.\n\noptions:\n",
          r->name, r->summary);
  fprintf(f, "  --config FILE\n      config file to read first\n");
  config_print_help(f, r->schema);
}

int daemon_load_config(const struct daemon_role *r, int argc, char **argv, struct config **out,
                       struct err *e) {
  struct config *c = config_new(r->schema, e);
  if (!c) return e ? e->code : ERR_INVALID;
  int rc = 0;
  /* The config file first, so flags override it whatever their order. */
  for (int i = 1; i < argc; i++) {
    const char *file = NULL;
    if (!strcmp(argv[i], "--config")) {
      if (i + 1 >= argc) {
        rc = err_set(e, ERR_INVALID, "--config needs a file name");
        goto out;
      }
      file = argv[i + 1];
    } else if (!strncmp(argv[i], "--config=", 9)) {
      file = argv[i] + 9;
    }
    if (file && (rc = config_parse_file(c, file, e))) goto out;
  }
  for (int i = 1; i < argc;) {
    if (!strcmp(argv[i], "--config")) {
      i += 2;
      continue;
    }
    if (!strncmp(argv[i], "--config=", 9)) {
      i++;
      continue;
    }
    if (strncmp(argv[i], "--", 2) != 0) {
      rc = err_set(e, ERR_INVALID, "unexpected argument '%s'", argv[i]);
      goto out;
    }
    /* `--key value` (any type, booleans included) or `--key=value` or a bare `--flag`. */
    if (!strchr(argv[i], '=') && i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
      rc = config_set_override(c, argv[i], argv[i + 1], e);
      i += 2;
    } else {
      int next = 0;
      rc = config_apply_args(c, 1, argv + i, &next, e);
      i++;
    }
    if (rc) goto out;
  }
  rc = config_check_required(c, e);
out:
  if (rc) {
    config_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

int daemon_main(const struct daemon_role *r, int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(r, stdout);
      return 0;
    }
  struct err e = {0};
  struct config *cfg = NULL;
  struct loop *loop = NULL;
  void *obj = NULL;
  int code = 1;
  /* Each request allocates and frees buffers of tens of KiB (libcurl's among them); with glibc's
   * default 128 KiB trim threshold the heap top shrank and grew again with a brk (and fresh page
   * faults) about every fourth request. Keep up to 16 MiB of freed heap instead, and give blocks
   * below 4 MiB from the heap rather than a mmap each. */
  (void)mallopt(M_TRIM_THRESHOLD, 16 << 20);
  (void)mallopt(M_MMAP_THRESHOLD, 4 << 20);
  if (daemon_load_config(r, argc, argv, &cfg, &e)) {
    fprintf(stderr, "cocoon %s: %s\n(see cocoon %s --help)\n", r->name, e.msg, r->name);
    return 2;
  }
  if (loop_new(&loop) || loop_handle_signals(loop, NULL, NULL)) {
    fprintf(stderr, "cocoon %s: cannot create the event loop\n", r->name);
    goto out;
  }
  if (r->start_cb(loop, cfg, &obj, &e)) {
    fprintf(stderr, "cocoon %s: %s\n", r->name, e.msg);
    goto out;
  }
  log_info("started", "role=%s", r->name);
  loop_run(loop);
  log_info("stopping", "role=%s", r->name);
  code = 0;
out:
  if (obj) r->stop_cb(obj);
  /* Let deferred frees of connections run. */
  if (loop) {
    for (int i = 0; i < 5; i++) loop_run_once(loop, 0);
  }
  loop_free(loop);
  config_free(cfg);
  return code;
}
