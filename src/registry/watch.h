/* watch: a node's current root configuration: first load, periodic reload of newer versions,
 * and a persisted version floor against rollbacks. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_REGISTRY_WATCH_H
#define COCOON_REGISTRY_WATCH_H

#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "loop/loop.h"
#include "registry/registry.h"
#include "registry/source.h"

#define REGISTRY_POLL_MS 1000u

/* Owned by one loop thread. */
struct registry_watch {
  struct registry_source *src; /* owned */
  struct registry *cur;        /* the accepted configuration; never NULL after open */
  struct registry *scratch;    /* a candidate being read */
  char state_path[4200];       /* "" or a file remembering the highest accepted version */
  uint64_t floor;              /* version read from state_path at open (0: none) */
  uint64_t reloads, rejected;
  int64_t loaded_at;           /* unix seconds of the last accepted version */
  char last_error[256];
  struct loop *loop;
  struct loop_timer timer;
  uint32_t interval_ms;
  void (*changed_cb)(void *arg, const struct registry *r);
  void *arg;
};

/* Takes ownership of src (freed on failure too) and loads the first configuration: refused when
 * the source is unusable (bad signature, parse error, missing file) or when its version is
 * below the one recorded in state_path (NULL or "": no record kept). */
CC_NODISCARD int registry_watch_open(struct registry_watch *w, struct registry_source *src,
                                     const char *state_path, struct err *e);
/* Polls every interval_ms (0: REGISTRY_POLL_MS) and calls cb(arg, new) after accepting a newer
 * version (new is w->cur, borrowed until the next change). */
void registry_watch_start(struct registry_watch *w, struct loop *loop, uint32_t interval_ms,
                          void (*cb)(void *arg, const struct registry *r), void *arg);
/* One poll (what the timer does): 1 when a newer version was accepted (cb called), 0 when
 * nothing changed, a negative code when a changed source was refused (logged, kept current). */
int registry_watch_poll(struct registry_watch *w);
void registry_watch_cleanup(struct registry_watch *w); /* safe on a zeroed or closed watch */

/* Appends "source":"...","version":N,"owner":"HEX","loaded_at":T,"reloads":N,"rejected":N,
 * "last_error":"..." (no braces). */
CC_NODISCARD int registry_watch_json(const struct registry_watch *w, struct buf *out);

#endif
