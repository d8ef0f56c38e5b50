/* source: where a node's root configuration comes from (a signed file, or the TON root contract:
 * chain/registry_ton.h), behind one interface. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_REGISTRY_SOURCE_H
#define COCOON_REGISTRY_SOURCE_H

#include "base/err.h"
#include "registry/registry.h"

struct loop;
struct registry_source;

/* What a source implements. poll_cb fills *out with a verified registry and returns 1 when the
 * source may hold a new one (force: always read it), 0 when nothing changed since the last
 * poll, or a negative code with e saying why the changed source is unusable. Sources check the
 * owner's signature; the version order is the watcher's business (registry/watch.h). */
struct registry_source_ops {
  const char *kind; /* "file", "ton" */
  int (*poll_cb)(struct registry_source *s, int force, struct registry *out, struct err *e);
  void (*free_cb)(struct registry_source *s);
  /* Optional: the loop the watcher polls from (registry_watch_start), for sources that fetch
   * asynchronously (the TON root contract). Polls before it (the first load) may block. */
  int (*attach_cb)(struct registry_source *s, struct loop *loop, struct err *e);
};

struct registry_source {
  const struct registry_source_ops *ops;
  char where[300]; /* for logs and stats: "file /etc/cocoon/registry" */
  uint8_t owner[REGISTRY_KEY_LEN];
};

CC_NODISCARD int registry_source_poll(struct registry_source *s, int force, struct registry *out,
                                      struct err *e);
void registry_source_free(struct registry_source *s); /* NULL-safe */

/* A signed registry file, re-read when its size, mtime, ctime or inode change. Borrowed
 * strings are copied. Caller frees. */
CC_NODISCARD int registry_file_source_new(const char *path, const uint8_t owner[REGISTRY_KEY_LEN],
                                          struct registry_source **out, struct err *e);

/* Reads a whole file of at most REGISTRY_MAX_FILE bytes into out (for the CLI as well). */
CC_NODISCARD int registry_read_file(const char *path, struct buf *out, struct err *e);

#endif
